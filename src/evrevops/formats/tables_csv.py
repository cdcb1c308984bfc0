"""evrevops' own CSV formats (``docs/formats.md``): one declarative reader.

Each format is a :class:`CsvSpec`: its columns (name, type, whether required,
allowed values, bounds, warehouse column) and cross-column checks. One engine
turns a spec into DuckDB SQL over the whole file (``read_csv`` with every
column as text), so validation and typing run in bulk, not row by row:

1. the header is matched to the spec (names trimmed, any letter case; unknown
   columns ignored; a required column missing from the header makes the file
   unreadable);
2. each present column is typed and checked; every failure is a quarantine row
   naming the line (the header is line 1), the column and the reason, e.g.
   ``not a date: '2025-13-01'`` or
   ``segment must be one of fleet|commercial|public_dc|residential, got 'retail'``;
3. cross-column checks (a money amount needs a currency; an end before a
   start) add more;
4. rows with no quarantine row become typed Arrow tables.

Types (``docs/formats.md`` conventions): ``string``; ``date`` (``YYYY-MM-DD``);
``instant`` (ISO-8601 with ``Z`` or an offset; without one it is refused as
ambiguous; stored in UTC); ``money`` (decimal text in major units, stored in
``*_minor`` as integer minor units of the row's ``currency``, rounded half away
from zero with exact decimal arithmetic, as :func:`~evrevops.formats.base.to_minor`);
``int``; ``float``; ``decimal`` (exact decimal text, kept as text);
``bool`` (``true``/``false``, ``yes``/``no``, ``1``/``0``); ``enum`` (one of
listed values, any letter case, stored as listed); ``list`` (``;``-separated
enum values); ``currency`` (ISO 4217, stored upper case); ``zone`` (an IANA
name known to :func:`zoneinfo.available_timezones`); ``hours``
(:func:`~evrevops.core.hours.parse_operating_hours`); ``pattern`` (text
matching a regular expression).

A column absent from the header is not written, so the loader keeps what other
files stored in it. For the sites CSV, whose tables OCPI Locations and CDRs
also fill, a column that is empty on every row is treated as absent too.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from evrevops.core import iso4217
from evrevops.core.hours import parse_operating_hours
from evrevops.core.sqltext import sql_identifier
from evrevops.core.vocabulary import ENERGY_POSITIONS, LINE_EVENTS, LINE_TYPES, REVENUE_MODELS, SEGMENTS
from evrevops.formats import limits
from evrevops.formats.base import Batch, FormatError, quarantine_table
from evrevops.formats.ocpi_locations import iana_zones
from evrevops.formats.records import connect, load_csv

POWER_TYPES = ("AC_1_PHASE", "AC_3_PHASE", "DC")
BILLING_PERIODS = ("one_time", "monthly", "annual")
SLA_SCOPES = ("port", "site")
SLA_PERIODS = ("month", "quarter", "year")
DEAL_STAGES = ("prospect", "qualified", "proposal", "negotiation", "closed_won", "closed_lost")
INCENTIVE_STATUSES = ("none", "applied", "awarded", "denied")
MILESTONES = ("site_survey", "make_ready", "permits", "installation", "commissioning")
INCENTIVE_KINDS = ("grant", "tax_credit", "rebate")
ELIGIBLE_COSTS = ("hardware", "installation", "make_ready")
AWARD_STATUSES = ("applied", "awarded", "denied", "paid")
CAPEX_TYPES = ("hardware", "installation", "make_ready")
COST_TYPES = CAPEX_TYPES + ("network", "maintenance", "payment_processing", "site_lease", "other")
COST_BASES = ("one_time", "per_port_month", "per_month", "per_session", "pct_of_energy_revenue")
#: Outage causes outside the operator's control, excluded from NEVI uptime (23 CFR 680.116(b)).
NEVI_EXCLUDABLE_CAUSES = ("utility_interruption", "vehicle", "scheduled_maintenance", "vandalism", "natural_disaster")
#: Outage causes the operator answers for (not excludable).
OPERATOR_CAUSES = ("hardware_fault", "software_fault", "communication", "payment_system", "other")

_SQL_TYPES = {
    "string": "VARCHAR",
    "date": "DATE",
    "instant": "TIMESTAMP",
    "money": "BIGINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "DOUBLE",
    "decimal": "VARCHAR",
    "bool": "BOOLEAN",
    "enum": "VARCHAR",
    "list": "VARCHAR",
    "currency": "VARCHAR",
    "zone": "VARCHAR",
    "hours": "VARCHAR",
    "pattern": "VARCHAR",
}
_DECIMAL_RE = r"[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)"
_FLOAT_RE = r"[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?"
_INSTANT_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?"
_OFFSET_RE = r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)"
MAX_ID_CHARS = 255  # default longest text of a string column (ids, names)
FREE_TEXT_CHARS = 10_000  # longest text of a free-text column (notes, address)
PLANNED_YEARS = 30  # a planned date (expected close, planned milestone, contract or program end) may lie this far ahead
REPLACEMENT = "\ufffd"  # what a byte that is not UTF-8 becomes when the file is transcoded


def currency_reason_sql(code: str, shown: str) -> str:
    """SQL: why the text *code* is no currency an amount can be in (:func:`evrevops.core.iso4217.problem`).

    *shown* is the SQL of the value as the reason quotes it.
    """
    whens = " ".join(f"WHEN {_lit(k)} THEN {_lit(f'{k} is {why}')}" for k, why in sorted(iso4217.NOT_PAYABLE.items()))
    return f"CASE {code} {whens} ELSE 'not an ISO-4217 currency: ' || {shown} END"


def planned_until(lim: limits.Limits) -> dt.date:
    """Last plausible planned date: the window's last day plus :data:`PLANNED_YEARS` years (365.25 days each)."""
    return lim.until.date() + dt.timedelta(days=round(PLANNED_YEARS * 365.25))


def utf8_copy(path: Path, folder: Path) -> Path | None:
    """A UTF-8 copy of *path* in *folder* with every byte that is not UTF-8 replaced by U+FFFD.

    None when *path* is valid UTF-8 (or cannot be decompressed: the reader then says why).
    One streaming pass of Python's C decoder over the bytes; a second, writing the copy, only
    for a file that needs it. Readers read the copy and quarantine the records holding U+FFFD,
    rather than refusing the whole file or storing replaced text silently.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        dec = codecs.getincrementaldecoder("utf-8")(errors="strict")
        with opener(path, "rb") as f:
            while block := f.read(1 << 22):
                dec.decode(block)
            dec.decode(b"", final=True)
        return None
    except UnicodeDecodeError:
        pass
    except (OSError, EOFError):
        return None
    out = folder / (path.stem if path.suffix == ".gz" else path.name)
    dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with opener(path, "rb") as fin, open(out, "w", encoding="utf-8", newline="") as fout:
        while block := fin.read(1 << 22):
            fout.write(dec.decode(block))
        fout.write(dec.decode(b"", final=True))
    return out


@dataclass(frozen=True)
class Col:
    """One CSV column of a spec.

    Attributes
    ----------
    name : str
        Header name (matched trimmed, in any letter case).
    kind : str
        Type, one of the keys of ``_SQL_TYPES`` (see the module docstring).
    required : bool
        The header must have it and every row a value.
    target : str or None
        Warehouse column; defaults to *name* (``{name}_minor`` for money).
    values : tuple of str
        Allowed values of ``enum``/``list`` columns.
    gt, ge, le : float or None
        Bounds of numbers (``>``, ``>=``, ``<=``); money defaults to ``>= 0``.
    pattern, hint : str
        Regular expression of a ``pattern`` column and how to describe it.
    planned : bool
        A ``date`` that may lie in the future (up to :data:`PLANNED_YEARS` years past the
        time window); other dates and instants must lie in the window.
    power : bool
        A power [kW] at one port: at most the power limit in force.
    max_chars : int or None
        Longest text of a ``string``/``pattern`` column (None: no limit).
    """

    name: str
    kind: str = "string"
    required: bool = False
    target: str | None = None
    values: tuple[str, ...] = ()
    gt: float | None = None
    ge: float | None = None
    le: float | None = None
    pattern: str = ""
    hint: str = ""
    planned: bool = False
    power: bool = False
    max_chars: int | None = MAX_ID_CHARS

    @property
    def out(self) -> str:
        if self.target:
            return self.target
        return f"{self.name}_minor" if self.kind == "money" else self.name


@dataclass(frozen=True)
class Check:
    """A cross-column check over typed columns (referenced by name, quoted).

    ``cond`` is true for a bad row; ``reason`` is a SQL text expression. Only
    run when every column of ``uses`` is in the header.
    """

    uses: tuple[str, ...]
    cond: str
    field: str
    reason: str


@dataclass(frozen=True)
class AnyOf:
    """At least one of *columns* must have a value on every row (and be in the header)."""

    columns: tuple[str, ...]

    def describe(self) -> str:
        return ", ".join(self.columns[:-1]) + " or " + self.columns[-1]


@dataclass(frozen=True)
class Derived:
    """A warehouse column computed from typed columns (all of ``uses`` in the header)."""

    target: str
    sql: str
    sql_type: str
    uses: tuple[str, ...]


@dataclass(frozen=True)
class CsvSpec:
    """A CSV format: its columns, checks, target table and derived columns."""

    format: str
    table: str
    columns: tuple[Col, ...]
    checks: tuple[Check, ...] = ()
    any_of: tuple[AnyOf, ...] = ()
    derived: tuple[Derived, ...] = ()
    keep_unstated: bool = False  # a column empty on every row is not written

    def column(self, name: str) -> Col:
        return next(c for c in self.columns if c.name == name)


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _shown(expr: str) -> str:
    """SQL for a value quoted in a reason: ``'2025-13-01'``."""
    return f"'''' || {expr} || ''''"


def _bound_checks(c: Col, typed: str, text: str) -> list[tuple[str, str, str]]:
    out = []
    for op, bound, word in (("<=", c.gt, ">"), ("<", c.ge, ">="), (">", c.le, "<=")):
        if bound is not None:
            out.append(
                (f"{typed} {op} {bound}", c.name, f"'{c.name} must be {word} {bound:g}, got ' || {_shown(text)}")
            )
    return out


def _column_sql(c: Col, text: str, lim: limits.Limits) -> tuple[str, list[tuple[str, str, str]]]:
    """Typed expression of one column over its trimmed text *text*, and its checks.

    Checks are ``(condition, field, reason)`` SQL over *text* where ``{v}``
    stands for the typed value. The limits of *lim* bound dates and instants (the time
    window; planned dates up to :func:`planned_until`), amounts (the money limit), powers (the
    power limit) and texts (``max_chars``); floats must be finite.
    """
    t = text
    checks: list[tuple[str, str, str]] = []
    bad = None  # reason when text is present but the typed value is NULL
    if c.kind in ("string",):
        expr = t
    elif c.kind == "date":
        expr = f"CASE WHEN regexp_full_match({t}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') THEN TRY_CAST({t} AS DATE) END"
        bad = f"'not a date: ' || {_shown(t)}"
        last = planned_until(lim) if c.planned else lim.until.date()
        note = f" (a planned date may lie up to {PLANNED_YEARS} years ahead)" if c.planned else ""
        checks.append(
            (
                f"{{v}} < DATE '{lim.earliest:%Y-%m-%d}' OR {{v}} > DATE '{last:%Y-%m-%d}'",
                c.name,
                f"'{c.name} ' || {_shown(t)} || ' is outside {lim.earliest:%Y-%m-%d} .. {last:%Y-%m-%d}{note};"
                " see --earliest/--latest'",
            )
        )
    elif c.kind == "instant":
        expr = f"CASE WHEN regexp_full_match({t}, '{_INSTANT_RE}{_OFFSET_RE}') THEN utc_ts({t}) END"
        bad = (
            f"CASE WHEN regexp_full_match({t}, '{_INSTANT_RE}') "
            f"THEN 'instant without a UTC offset (ambiguous): ' || {_shown(t)} "
            f"ELSE 'not an ISO-8601 instant with an offset: ' || {_shown(t)} END"
        )
        checks.append((lim.window_sql("{v}"), c.name, f"'{c.name} ' || {lim.window_reason_sql('{v}')}"))
    elif c.kind == "money":
        frac = f"length(regexp_extract({t}, '[.]([0-9]*)', 1))"
        whole = f"length(ltrim(regexp_extract({t}, '^[+-]?([0-9]*)', 1), '0'))"
        expr = f"""CASE WHEN regexp_full_match({t}, '{_DECIMAL_RE}') AND {frac} <= 18 AND {whole} <= 20
                    THEN TRY_CAST({t} AS DECIMAL(38, 18)) END"""
        bad = f"""CASE WHEN NOT regexp_full_match({t}, '{_DECIMAL_RE}') THEN 'not a decimal amount: ' || {_shown(t)}
                       WHEN {frac} > 18 THEN 'more than 18 decimal places: ' || {_shown(t)}
                       ELSE 'amount too large: ' || {_shown(t)} END"""
        checks += _bound_checks(c if c.ge is not None or c.gt is not None else Col(c.name, ge=0), "{v}", t)
        limit = f"CAST('{lim.max_money_major}' AS DECIMAL(38, 18))"
        checks.append(
            (
                f"abs({{v}}) >= {limit}",
                c.name,
                f"'amount ' || {_shown(t)} || ' is not below the limit of {lim.max_money_major:,} per record'",
            )
        )
    elif c.kind in ("int", "bigint"):
        expr = f"CASE WHEN regexp_full_match({t}, '[+-]?[0-9]+') THEN TRY_CAST({t} AS {_SQL_TYPES[c.kind]}) END"
        bad = f"'not an integer: ' || {_shown(t)}"
        checks += _bound_checks(c, "{v}", t)
    elif c.kind == "float":
        expr = (
            f"CASE WHEN regexp_full_match({t}, '{_FLOAT_RE}') AND isfinite(TRY_CAST({t} AS DOUBLE)) "
            f"THEN TRY_CAST({t} AS DOUBLE) END"
        )
        bad = (
            f"CASE WHEN regexp_full_match({t}, '{_FLOAT_RE}') THEN 'not a finite number: ' || {_shown(t)} "
            f"ELSE 'not a number: ' || {_shown(t)} END"
        )
        checks += _bound_checks(c, "{v}", t)
        if c.power:
            checks.append(
                (
                    f"{{v}} > {lim.max_power_kw!r}",
                    c.name,
                    f"'{c.name} ' || {_shown(t)} || ' is above the limit of {lim.max_power_kw:g} kW per port"
                    " (see --max-power-kw)'",
                )
            )
    elif c.kind == "decimal":
        # kept as text, but it must fit an exact DECIMAL(38, 18) (at most 20 digits before the point)
        expr = (
            f"CASE WHEN regexp_full_match({t}, '{_DECIMAL_RE}') AND TRY_CAST({t} AS DECIMAL(38, 18)) IS NOT NULL "
            f"THEN {t} END"
        )
        bad = (
            f"CASE WHEN regexp_full_match({t}, '{_DECIMAL_RE}') THEN 'decimal number too large: ' || {_shown(t)} "
            f"ELSE 'not a decimal number: ' || {_shown(t)} END"
        )
        checks += _bound_checks(c, "TRY_CAST({v} AS DECIMAL(38, 18))", t)
    elif c.kind == "bool":
        expr = f"""CASE WHEN lower({t}) IN ('true', 'yes', '1') THEN true
                        WHEN lower({t}) IN ('false', 'no', '0') THEN false END"""
        bad = f"'not a boolean (true/false, yes/no, 1/0): ' || {_shown(t)}"
    elif c.kind == "enum":
        whens = " ".join(f"WHEN {_lit(v.lower())} THEN {_lit(v)}" for v in c.values)
        expr = f"CASE lower({t}) {whens} END"
        bad = f"{_lit(f'{c.name} must be one of {chr(124).join(c.values)}, got ')} || {_shown(t)}"
    elif c.kind == "list":
        allowed = "[" + ", ".join(_lit(v) for v in c.values) + "]"
        parts = f"list_transform(string_split({t}, ';'), lambda x: lower(trim(x)))"
        expr = f"CASE WHEN list_bool_and(list_transform({parts}, lambda x: list_contains({allowed}, x))) THEN array_to_string({parts}, ';') END"
        bad = f"{_lit(f'{c.name} must be ;-separated values of {chr(124).join(c.values)}, got ')} || {_shown(t)}"
    elif c.kind == "currency":
        expr = f"CASE WHEN {iso4217.payable_sql(f'upper({t})')} THEN upper({t}) END"
        bad = currency_reason_sql(f"upper({t})", _shown(t))
    elif c.kind == "zone":
        expr = f"CASE WHEN {t} IN (SELECT name FROM _zones) THEN {t} END"
        bad = f"'not an IANA time zone: ' || {_shown(t)}"
    elif c.kind == "hours":
        expr = f"CASE WHEN _hours_error({t}) IS NULL THEN {t} END"
        bad = f"'not valid operating hours: ' || _hours_error({t})"
    elif c.kind == "pattern":
        expr = f"CASE WHEN regexp_full_match({t}, {_lit(c.pattern)}) THEN {t} END"
        bad = f"{_lit(f'{c.name} must look like {c.hint}, got ')} || {_shown(t)}"
    else:  # pragma: no cover - specs are static
        raise ValueError(f"unknown column kind {c.kind!r}")
    if c.kind in ("string", "pattern") and c.max_chars is not None:
        checks.append(
            (
                f"length({t}) > {c.max_chars}",
                c.name,
                f"'{c.name} longer than {c.max_chars} characters: ' || {_shown(f'left({t}, 80)')}",
            )
        )
    if bad is not None:
        checks.insert(0, (f"{t} IS NOT NULL AND {{v}} IS NULL", c.name, bad))
    if c.required:
        checks.insert(0, (f"{t} IS NULL", c.name, f"'missing {c.name}'"))
    return expr, checks


def _minor_sql(amount: str, currency: str) -> str:
    """Integer minor units of a DECIMAL amount in *currency*, rounded half away from zero."""
    return f"""CASE currency_exponent({currency})
                 WHEN 0 THEN TRY_CAST(round({amount}, 0) AS BIGINT)
                 WHEN 3 THEN TRY_CAST(round({amount}, 3) * 1000 AS BIGINT)
                 ELSE TRY_CAST(round({amount}, 2) * 100 AS BIGINT) END"""


# --------------------------------------------------------------------------------------------
# Loading the CSV
# --------------------------------------------------------------------------------------------


def _open_text(path: Path) -> io.TextIOWrapper:
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115 (closed by the wrapper)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")


def _load_csv(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[int, list[str], list[tuple[int, None, str, str]]]:
    """Load the CSV into ``src(rec, c0, c1, ...)`` (all text) and the view ``raw(rec, j)``.

    ``rec`` is the line number of the record (header = line 1, blank lines
    counted). Physical lines are read in a second light pass and matched to
    rows in order, which is exact unless a quoted field spans lines; then
    records are numbered consecutively. Rows whose number of fields differs from
    the header's are returned for quarantine.

    Returns (records read, header names, malformed rows).
    """
    with _open_text(path) as f:
        first = f.readline()
    delim = "\t" if first.count("\t") > first.count(",") else ","
    header = next(csv.reader([first], delimiter=delim), [])
    if not header or not any(h.strip() for h in header):
        raise FormatError(path, "empty file: no CSV header", record=1)
    n, bad = load_csv(con, path, header, delim)
    return n, header, bad


def _hours_error(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        parse_operating_hours(text)
    except ValueError as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


@dataclass
class Parsed:
    """A CSV typed by its spec: the connection holds ``typed`` (all rows) and ``q`` (quarantine)."""

    con: duckdb.DuckDBPyConnection
    records_read: int
    present: list[Col]  # spec columns in the header (and, with keep_unstated, stated on some row)
    bad: list[tuple[int, None, str, str]]


def parse_csv(path: str | Path, spec: CsvSpec) -> Parsed:
    """Load, type and check a CSV by *spec*.

    Creates ``typed(rec, <column>..., "_s_<column>"...)`` with every data row
    (typed value under the column's name, trimmed text under ``_s_<name>``;
    money also under its ``*_minor`` target) and ``q(rec, field, reason, raw)``.

    Raises
    ------
    FormatError
        When the file is not a CSV or its header lacks a required column.
    """
    path = Path(path)
    lim = limits.current()
    con = connect()
    try:
        return _parse_csv(con, path, spec, lim)
    except BaseException:
        con.close()
        raise


def _parse_csv(con: duckdb.DuckDBPyConnection, path: Path, spec: CsvSpec, lim: limits.Limits) -> Parsed:
    con.execute("CREATE TEMP TABLE _zones AS SELECT UNNEST(?::VARCHAR[]) AS name", [sorted(iana_zones())])
    con.create_function("_hours_error", _hours_error, ["VARCHAR"], "VARCHAR", null_handling="special")
    # bytes that are not UTF-8 would make DuckDB refuse the whole file: read a copy with them replaced,
    # and quarantine the records that had them
    with tempfile.TemporaryDirectory(prefix="evrevops-utf8-") as tmp:
        fixed = utf8_copy(path, Path(tmp))
        try:
            n, header, bad = _load_csv(con, fixed or path)
        except FormatError as exc:
            if fixed is None:
                raise
            raise FormatError(path, str(exc).split(": ", 1)[-1], exc.record, exc.field) from None
    index: dict[str, int] = {}
    for i, h in enumerate(header):
        key = h.strip().lower()
        if not key:
            continue
        if key in index:
            raise FormatError(path, f"column {h.strip()!r} appears twice in the header", record=1, field=h.strip())
        index[key] = i
    missing = [c.name for c in spec.columns if c.required and c.name.lower() not in index]
    missing += [a.describe() for a in spec.any_of if not any(n.lower() in index for n in a.columns)]
    if missing:
        raise FormatError(path, f"missing required column(s): {'; '.join(missing)}", record=1, field=missing[0])
    present = [c for c in spec.columns if c.name.lower() in index]
    text = {c.name: f"nullif(trim({sql_identifier('c' + str(index[c.name.lower()]))}), '')" for c in present}
    if spec.keep_unstated:
        stated = con.execute(
            "SELECT " + ", ".join(f"count({text[c.name]}) > 0" for c in present) + " FROM src"
        ).fetchall()[0]
        present = [c for c, s in zip(present, stated, strict=True) if s or c.required]
    names = {c.name for c in present}
    currency = "currency" in names
    sel = ["rec"]
    checks: list[tuple[str, str, str]] = []
    for c in present:
        expr, _ = _column_sql(c, text[c.name], lim)
        _, cks = _column_sql(c, sql_identifier("_s_" + c.name), lim)
        sel.append(f"{text[c.name]} AS {sql_identifier('_s_' + c.name)}")
        sel.append(f"{expr} AS {sql_identifier(c.name)}")
        for cond, fld, reason in cks:
            checks.append(
                (cond.replace("{v}", sql_identifier(c.name)), fld, reason.replace("{v}", sql_identifier(c.name)))
            )
    con.execute(f"CREATE OR REPLACE TEMP TABLE _typed0 AS SELECT {', '.join(sel)} FROM src")
    # money → minor units of the row's currency
    money = [c for c in present if c.kind == "money"]
    minor = [
        f"{_minor_sql(sql_identifier(c.name), sql_identifier('currency') if currency else 'NULL')} AS {sql_identifier(c.out)}"
        for c in money
    ]
    con.execute(f"CREATE OR REPLACE TEMP TABLE typed AS SELECT *{''.join(', ' + m for m in minor)} FROM _typed0")
    for c in money:
        if currency:
            checks.append(
                (
                    f"{sql_identifier(c.name)} IS NOT NULL AND {sql_identifier('_s_currency')} IS NULL",
                    "currency",
                    f"'{c.name} needs a currency'",
                )
            )
            checks.append(
                (
                    f"{sql_identifier(c.name)} IS NOT NULL AND {sql_identifier('currency')} IS NOT NULL AND {sql_identifier(c.out)} IS NULL",
                    c.name,
                    f"'amount too large: ' || {_shown(sql_identifier('_s_' + c.name))}",
                )
            )
        else:
            checks.append(
                (
                    f"{sql_identifier(c.name)} IS NOT NULL",
                    "currency",
                    f"'{c.name} needs a currency (no currency column)'",
                )
            )
    for ck in spec.checks:
        if all(u in names for u in ck.uses):
            checks.append((ck.cond, ck.field, ck.reason))
    for a in spec.any_of:
        have = [n for n in a.columns if n in names]
        cond = " AND ".join(f"{sql_identifier('_s_' + n)} IS NULL" for n in have) if have else "true"
        checks.append((cond, a.columns[0], f"'needs {a.describe()}'"))
    _quarantine(con, checks)
    if fixed is not None:  # the records that held bytes that are not UTF-8 (the header is no record)
        con.execute(
            f"""INSERT INTO q SELECT rec, NULL, 'not valid UTF-8 (bytes replaced by U+FFFD)', j FROM raw
                WHERE rec > 1 AND contains(j, '{REPLACEMENT}')"""
        )
    return Parsed(con, n, present, bad)


def _quarantine(con: duckdb.DuckDBPyConnection, checks: list[tuple[str, str, str]]) -> None:
    """``q(rec, field, reason, raw)`` from *checks* over ``typed`` (one row per failed check)."""
    if not checks:
        con.execute("CREATE OR REPLACE TEMP TABLE q (rec BIGINT, field VARCHAR, reason VARCHAR, raw VARCHAR)")
        return
    items = ", ".join(
        f"CASE WHEN coalesce(({cond}), false) THEN {{'field': {_lit(fld)}, 'reason': {reason}}} END"
        for cond, fld, reason in checks
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE q AS
            SELECT b.rec, b.e.field AS field, b.e.reason AS reason, r.j AS raw
            FROM (SELECT rec, unnest(list_filter([{items}], lambda x: x IS NOT NULL)) AS e FROM typed) b
            LEFT JOIN raw r ON r.rec = b.rec"""
    )


def _quarantine_rows(p: Parsed) -> list[tuple[int, str | None, str, str | None]]:
    rows = p.con.execute("SELECT rec, field, reason, raw FROM q ORDER BY rec, field, reason").fetchall()
    return sorted(p.bad + rows, key=lambda r: (r[0], r[1] or "", r[2]))


def _output(p: Parsed, cols: list[tuple[str, str]], source: str = "good") -> pa.Table:
    """Arrow table of ``(output column, SQL expression)`` over *source*, plus ``source_record``."""
    sel = ", ".join(f"{expr} AS {sql_identifier(name)}" for name, expr in cols)
    return p.con.sql(f"SELECT {sel}, rec AS source_record FROM {source} ORDER BY rec").to_arrow_table()


def _typed_out(c: Col) -> tuple[str, str]:
    """``(warehouse column, SQL)`` of a typed column cast to its warehouse type."""
    if c.kind == "money":
        return c.out, sql_identifier(c.out)
    return c.out, f"CAST({sql_identifier(c.name)} AS {_SQL_TYPES[c.kind]})"


def read_table(path: str | Path, spec: CsvSpec) -> Batch:
    """Read a one-table CSV format by *spec*."""
    p = parse_csv(path, spec)
    p.con.execute("CREATE OR REPLACE TEMP TABLE good AS SELECT * FROM typed WHERE rec NOT IN (SELECT rec FROM q)")
    cols = [_typed_out(c) for c in p.present]
    names = {c.name for c in p.present}
    cols += [(d.target, f"CAST(({d.sql}) AS {d.sql_type})") for d in spec.derived if set(d.uses) <= names]
    table = _output(p, cols)
    q = _quarantine_rows(p)
    p.con.close()
    return Batch(
        format=spec.format, records_read=p.records_read, tables={spec.table: table}, quarantine=quarantine_table(q)
    )


# --------------------------------------------------------------------------------------------
# Specs
# --------------------------------------------------------------------------------------------


def _after(end: str, start: str, strict: bool = False) -> Check:
    """*end* is after (``strict``) or not before *start*."""
    op = "<=" if strict else "<"
    word = "not after" if strict else "before"
    return Check(
        (start, end),
        f"{sql_identifier(end)} {op} {sql_identifier(start)}",
        end,
        f"'{end} ' || CAST({sql_identifier(end)} AS VARCHAR) || ' is {word} {start} ' || CAST({sql_identifier(start)} AS VARCHAR)",
    )


SITE_COLUMNS = (
    Col("site_id", required=True),
    Col("site_name", target="name"),
    Col("customer_id"),
    Col("time_zone", "zone", required=True),
    Col("operating_hours", "hours"),
    Col("address", max_chars=FREE_TEXT_CHARS),
    Col("city"),
    Col("state"),
    Col("postal_code"),
    Col("country"),
    Col("latitude", "float", ge=-90, le=90),
    Col("longitude", "float", ge=-180, le=180),
)
#: The site's facts that change over time (``site_facts``), each from its row's ``effective_on``.
FACT_COLUMNS = (
    Col("segment", "enum", required=True, values=SEGMENTS),
    Col("revenue_model", "enum", values=REVENUE_MODELS),
    Col("energy_position", "enum", values=ENERGY_POSITIONS),
    Col("utility_tariff_id"),
    Col("grid_capacity_kw", "float", gt=0),
    Col("effective_on", "date"),
)
CHARGER_COLUMNS = (
    Col("charger_id"),
    Col("charger_vendor", target="vendor"),
    Col("charger_model", target="model"),
)
PORT_COLUMNS = (
    Col("port_id", required=True),
    Col("connector_id", "int", ge=1),
    Col("power_type", "enum", values=POWER_TYPES),
    Col("connector_standard"),
    Col("rated_kw", "float", gt=0, power=True),
    Col("commissioned_on", "date", planned=True),
    Col("decommissioned_on", "date", planned=True),
)

SITES = CsvSpec(
    "sites-csv",
    "sites",
    SITE_COLUMNS + FACT_COLUMNS + CHARGER_COLUMNS + PORT_COLUMNS,
    checks=(_after("decommissioned_on", "commissioned_on", strict=True),),
    keep_unstated=True,
)

CUSTOMERS = CsvSpec(
    "customers-csv",
    "customers",
    (
        Col("customer_id", required=True),
        Col("name", required=True),
        Col("segment", "enum", required=True, values=SEGMENTS),
        Col("revenue_model", "enum", values=REVENUE_MODELS),
        Col("country"),
        Col("currency", "currency"),
        Col("billing_email", "pattern", pattern=r"[^@\s]+@[^@\s]+", hint="an e-mail address (name@domain)"),
        Col("created_on", "date"),
    ),
)

CONTRACTS = CsvSpec(
    "contracts-csv",
    "contract_events",
    (
        Col("contract_id", required=True),
        Col("line_id", required=True),
        Col("customer_id"),
        Col("site_id"),
        Col("revenue_model", "enum", values=REVENUE_MODELS),
        Col("line_type", "enum", required=True, values=LINE_TYPES),
        Col("event", "enum", required=True, values=LINE_EVENTS),
        Col("effective_on", "date", required=True),
        Col("end_on", "date", planned=True),
        Col("ports", "int", ge=0),
        Col("quantity", "float", ge=0),
        Col("unit_price", "money"),
        Col("currency", "currency"),
        Col("billing_period", "enum", values=BILLING_PERIODS),
        Col("term_months", "int", ge=0),
        Col("energy_share_pct", "decimal", ge=0, le=100),
        Col("sla_uptime_pct", "decimal", ge=0, le=100),
        Col("sla_scope", "enum", values=SLA_SCOPES),
        Col("sla_period", "enum", values=SLA_PERIODS),
        Col(
            "sla_credit_schedule",
            "pattern",
            pattern=r"\s*[0-9]+([.][0-9]+)?\s*:\s*[0-9]+([.][0-9]+)?\s*(;\s*[0-9]+([.][0-9]+)?\s*:\s*[0-9]+([.][0-9]+)?\s*)*;?\s*",
            hint="'97:5;95:10;90:25' (uptime_below:credit_pct pairs)",
        ),
    ),
    checks=(_after("end_on", "effective_on"),),
)

DEALS = CsvSpec(
    "deals-csv",
    "deals",
    (
        Col("deal_id", required=True),
        Col("stage", "enum", required=True, values=DEAL_STAGES),
        Col("expected_close_on", "date", required=True, planned=True),
        Col("name"),
        Col("customer_id"),
        Col("account_name"),
        Col("segment", "enum", values=SEGMENTS),
        Col("revenue_model", "enum", values=REVENUE_MODELS),
        Col("probability_pct", "float", ge=0, le=100),
        Col("currency", "currency"),
        Col("hardware_amount", "money", target="hardware_minor"),
        Col("installation_amount", "money", target="installation_minor"),
        Col("software_arr", "money", target="software_arr_minor"),
        Col("caas_arr", "money", target="caas_arr_minor"),
        Col("ports", "int", ge=0),
        Col("created_on", "date"),
        Col("closed_on", "date"),
        Col("owner"),
        Col("economic_buyer_engaged", "bool"),
        Col("utility_capacity_confirmed", "bool"),
        Col("incentive_status", "enum", values=INCENTIVE_STATUSES),
        Col("roi_case_delivered", "bool"),
    ),
    checks=(_after("closed_on", "created_on"),),
)

DEAL_STAGES_SPEC = CsvSpec(
    "deal-stages-csv",
    "deal_stage_history",
    (
        Col("deal_id", required=True),
        Col("stage", "enum", required=True, values=DEAL_STAGES),
        Col("entered_on", "date", required=True),
    ),
)

PROJECTS = CsvSpec(
    "projects-csv",
    "projects",
    (
        Col("project_id", required=True),
        Col("milestone", "enum", required=True, values=MILESTONES),
        Col("deal_id"),
        Col("customer_id"),
        Col("site_id"),
        Col("planned_on", "date", planned=True),
        Col("actual_on", "date"),
        Col("budget", "money"),
        Col("actual_cost", "money"),
        Col("currency", "currency"),
    ),
)

INCENTIVES = CsvSpec(
    "incentives-csv",
    "incentives",
    (
        Col("incentive_id", required=True),
        Col("program", required=True),
        Col("kind", "enum", required=True, values=INCENTIVE_KINDS),
        Col("site_id"),
        Col("segment", "enum", values=SEGMENTS),
        Col("pct_of_eligible", "decimal", ge=0, le=100),
        Col("cap", "money"),
        Col("amount", "money"),
        Col("currency", "currency"),
        Col("eligible_costs", "list", values=ELIGIBLE_COSTS),
        Col("start_on", "date", planned=True),
        Col("end_on", "date", planned=True),
        Col("status", "enum", values=AWARD_STATUSES),
        Col("awarded_on", "date"),
    ),
    checks=(_after("end_on", "start_on"),),
)

_CAPEX = "[" + ", ".join(_lit(c) for c in CAPEX_TYPES) + "]"
COSTS = CsvSpec(
    "costs-csv",
    "site_costs",
    (
        Col("cost_id", required=True),
        Col("cost_type", "enum", required=True, values=COST_TYPES),
        Col("basis", "enum", required=True, values=COST_BASES),
        Col("site_id"),
        Col("segment", "enum", values=SEGMENTS),
        Col("amount", "money"),
        Col("rate_pct", "decimal", ge=0, le=100),
        Col("currency", "currency"),
        Col("incurred_on", "date"),
        Col("start_on", "date", planned=True),
        Col("end_on", "date", planned=True),
        Col("notes", max_chars=FREE_TEXT_CHARS),
    ),
    checks=(
        _after("end_on", "start_on"),
        Check(
            ("basis", "amount"),
            '"basis" = \'pct_of_energy_revenue\' AND "amount" IS NOT NULL',
            "amount",
            "'basis pct_of_energy_revenue takes rate_pct, not amount'",
        ),
        Check(
            ("basis", "rate_pct"),
            '"basis" <> \'pct_of_energy_revenue\' AND "rate_pct" IS NOT NULL',
            "rate_pct",
            "'basis ' || \"basis\" || ' takes amount, not rate_pct'",
        ),
        Check(
            ("basis", "cost_type"),
            f'list_contains({_CAPEX}, "cost_type") AND "basis" <> \'one_time\'',
            "basis",
            "'capex (' || \"cost_type\" || ') is one_time, not ' || \"basis\"",
        ),
    ),
    any_of=(AnyOf(("site_id", "segment")), AnyOf(("amount", "rate_pct"))),
)

_EXCLUDABLE = "[" + ", ".join(_lit(c) for c in NEVI_EXCLUDABLE_CAUSES) + "]"
INCIDENTS = CsvSpec(
    "incidents-csv",
    "incidents",
    (
        Col("incident_id", required=True),
        Col("started_at", "instant", required=True),
        Col("cause", "enum", required=True, values=NEVI_EXCLUDABLE_CAUSES + OPERATOR_CAUSES),
        Col("ended_at", "instant"),
        Col("site_id"),
        Col("port_id"),
        Col("charger_id"),
        Col("ticket_ref"),
        Col("notes", max_chars=FREE_TEXT_CHARS),
    ),
    checks=(_after("ended_at", "started_at"),),
    any_of=(AnyOf(("port_id", "site_id", "charger_id")),),
    derived=(Derived("nevi_excludable", f'list_contains({_EXCLUDABLE}, "cause")', "BOOLEAN", ("cause",)),),
)


# --------------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------------


def read_customers(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a customers CSV (``docs/formats.md``, "Customers CSV") into ``customers``."""
    return read_table(path, CUSTOMERS)


def read_contracts(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a contract line-events CSV into ``contract_events`` (``unit_price`` → ``unit_price_minor``).

    Each row is one event of a line; the loader replays them with the line's stored events and
    quarantines those out of order (:mod:`evrevops.warehouse.contract_lines`).
    """
    return read_table(path, CONTRACTS)


def read_deals(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a deals CSV into ``deals`` (amounts → ``hardware_minor`` … ``caas_arr_minor``)."""
    return read_table(path, DEALS)


def read_deal_stages(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a deal stage-history CSV into ``deal_stage_history``."""
    return read_table(path, DEAL_STAGES_SPEC)


def read_projects(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a project-milestones CSV into ``projects`` (``budget``/``actual_cost`` → ``*_minor``)."""
    return read_table(path, PROJECTS)


def read_incentives(path: str | Path, mapping: str | None = None) -> Batch:
    """Read an incentives CSV into ``incentives`` (``cap``/``amount`` → ``*_minor``)."""
    return read_table(path, INCENTIVES)


def read_costs(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a cost book CSV into ``site_costs`` (``amount`` → ``amount_minor``).

    A row is one cost of one site (``site_id``) or a segment's default
    (``segment``, for every site of it without a row of that ``cost_type``);
    capex (hardware, installation, make-ready) is ``one_time``; a
    ``pct_of_energy_revenue`` cost has a ``rate_pct`` and every other an
    ``amount`` (``docs/formats.md``, "Costs CSV").
    """
    return read_table(path, COSTS)


def read_incidents(path: str | Path, mapping: str | None = None) -> Batch:
    """Read incident records into ``incidents``.

    ``nevi_excludable`` is true for the causes 23 CFR 680.116(b) lets an
    operator exclude from NEVI uptime (utility interruption, vehicle, scheduled
    maintenance, vandalism, natural disaster) and false for the operator's own
    (hardware/software fault, communication, payment system, other). An
    unknown cause is quarantined.
    """
    return read_table(path, INCIDENTS)


# --------------------------------------------------------------------------------------------
# Sites: one CSV, three tables
# --------------------------------------------------------------------------------------------


def _conflicts(key: str, noun: str, col: str, within: str | None = None) -> str:
    """Rows (of ``ok``) whose *key* has more than one stated value of *col*: all rows of that key.

    With *within* (a column), rows are compared only with the rows of the same *key* and
    *within* (a site's facts within one ``effective_on``; a port's window within one site).
    """
    k, c = sql_identifier(key), sql_identifier(col)
    w = f"coalesce(CAST({sql_identifier(within)} AS VARCHAR), '')" if within else "''"
    ow = f"coalesce(CAST(o.{sql_identifier(within)} AS VARCHAR), '')" if within else "''"
    at = f" || CASE WHEN {ow} <> '' THEN ' ({within} ' || {ow} || ')' ELSE '' END" if within else ""
    return f"""
        SELECT o.rec, {_lit(col)} AS field,
               'rows of {noun} ' || {_shown("o." + k)}{at} || ' disagree on {col}: ' || d.descr AS reason
        FROM ok o JOIN (
            SELECT k, w, string_agg(v, ', ' ORDER BY first_line) AS descr FROM (
                SELECT {k} AS k, {w} AS w, min(rec) AS first_line,
                       {_shown(f"CAST({c} AS VARCHAR)")} || ' (line' || CASE WHEN count(*) > 1 THEN 's ' ELSE ' ' END
                       || string_agg(CAST(rec AS VARCHAR), ', ' ORDER BY rec) || ')' AS v
                FROM ok WHERE {c} IS NOT NULL AND {k} IS NOT NULL GROUP BY {k}, {w}, {c})
            GROUP BY k, w HAVING count(*) > 1) d ON o.{k} = d.k AND {ow} = d.w"""


def _window_clash(names: set[str]) -> str:
    """Rows of a port at two sites whose windows (commissioning to decommissioning there) overlap."""
    lo = "coalesce(commissioned_on, DATE '0001-01-01')" if "commissioned_on" in names else "DATE '0001-01-01'"
    hi = "coalesce(decommissioned_on, DATE '9999-12-31')" if "decommissioned_on" in names else "DATE '9999-12-31'"
    span = f"SELECT port_id, site_id, min(rec) AS rec, min({lo}) AS lo, max({hi}) AS hi FROM ok GROUP BY ALL"
    return f"""
        SELECT o.rec, 'site_id' AS field,
               'port ' || {_shown("o.port_id")} || ' is at site ' || {_shown("a.site_id")} || ' (line '
               || CAST(a.rec AS VARCHAR) || ') and at site ' || {_shown("b.site_id")} || ' (line '
               || CAST(b.rec AS VARCHAR) || ') at once: their windows (commissioned_on to decommissioned_on) overlap'
               AS reason
        FROM ok o JOIN ({span}) a ON a.port_id = o.port_id AND a.site_id = o.site_id
        JOIN ({span}) b ON b.port_id = a.port_id AND b.site_id <> a.site_id AND b.lo < a.hi AND a.lo < b.hi"""


def _connector_clash() -> str:
    """Rows where one charger's connector is claimed by more than one port."""
    return """
        SELECT o.rec, 'connector_id' AS field,
               'connector ' || o.connector_id || ' of charger ''' || o.charger_id
               || ''' is claimed by more than one port: ' || d.descr AS reason
        FROM ok o JOIN (
            SELECT charger_id, connector_id,
                   string_agg('''' || port_id || ''' (line ' || rec || ')', ', ' ORDER BY rec) AS descr
            FROM (SELECT charger_id, connector_id, port_id, min(rec) AS rec FROM ok
                  WHERE charger_id IS NOT NULL AND connector_id IS NOT NULL GROUP BY ALL)
            GROUP BY ALL HAVING count(*) > 1) d
          ON o.charger_id = d.charger_id AND o.connector_id = d.connector_id"""


def read_sites(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a sites CSV (one row per port) into ``sites``, ``site_facts``, ``chargers``, ``ports`` and ``port_placements``.

    Parameters
    ----------
    path : str or Path
        The CSV (``docs/formats.md``, "Sites CSV").
    mapping : None
        Unused (session-CSV mappings only).

    Returns
    -------
    Batch
        ``sites``: one row per ``site_id`` (``site_name`` → ``name``), from the site's first
        line; ``site_facts``: one row per site and ``effective_on`` (segment, revenue model,
        energy position, utility tariff, grid capacity; an empty ``effective_on`` is undated:
        :mod:`evrevops.warehouse.site_history` says when it takes effect); ``chargers``: one
        row per ``charger_id`` (``charger_vendor`` → ``vendor``, ``charger_model`` →
        ``model``); ``ports``: one row per line, the port over all its lines (its first
        commissioning, and the site and decommissioning of its latest window);
        ``port_placements``: the port's window at the line's site (``commissioned_on`` →
        ``from_on``, ``decommissioned_on`` → ``to_on``). Besides the per-column checks
        (segment, revenue model, IANA time zone, operating hours, ``rated_kw > 0``,
        ``decommissioned_on`` after ``commissioned_on`` …), lines are quarantined when the
        rows of one site (its facts: of one site and ``effective_on``), charger or port (its
        window: at one site) state different values of one of its columns (every row of it:
        which is right cannot be told; an empty cell states nothing), when two ports claim
        the same charger connector, or when one port is at two sites whose windows overlap.
    """
    p = parse_csv(path, SITES)
    con = p.con
    names = {c.name for c in p.present}
    con.execute("CREATE OR REPLACE TEMP TABLE ok AS SELECT * FROM typed WHERE rec NOT IN (SELECT rec FROM q)")
    within = "effective_on" if "effective_on" in names else None
    parts = [_conflicts("site_id", "site", c.name) for c in SITE_COLUMNS if c.name in names and c.name != "site_id"]
    parts += [
        _conflicts("site_id", "site", c.name, within)
        for c in FACT_COLUMNS
        if c.name in names and c.name != "effective_on"
    ]
    if "charger_id" in names:
        parts += [
            # a charger moves with its ports: its site is that of its latest window (below), not a conflict
            _conflicts("charger_id", "charger", n)
            for n in ("charger_vendor", "charger_model")
            if n in names
        ]
        if "connector_id" in names:
            parts.append(_connector_clash())
    parts.append(_window_clash(names))
    parts += [
        _conflicts("port_id", "port", n, "site_id" if n in ("commissioned_on", "decommissioned_on") else None)
        for n in ["charger_id"] + [c.name for c in PORT_COLUMNS if c.name != "port_id"]
        if n in names
    ]
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE q2 AS
            SELECT c.rec, c.field, c.reason, r.j AS raw FROM ({" UNION ALL ".join(parts)}) c
            LEFT JOIN raw r ON r.rec = c.rec"""
    )
    con.execute("INSERT INTO q SELECT * FROM q2")
    con.execute("CREATE OR REPLACE TEMP TABLE good AS SELECT * FROM ok WHERE rec NOT IN (SELECT rec FROM q2)")

    def group(keys: list[str], cols: tuple[Col, ...], extra: list[tuple[str, str]] = ()) -> pa.Table:
        sel = [sql_identifier(k) for k in keys] + [f"{e} AS {sql_identifier(n)}" for n, e in extra]  # aggregates
        sel += [
            f"max({expr}) AS {sql_identifier(out)}"
            for out, expr in (_typed_out(c) for c in cols if c.name in names and c.name not in keys)
        ]
        by = ", ".join(sql_identifier(k) for k in keys)
        return con.sql(
            f"SELECT {', '.join(sel)}, min(rec) AS source_record FROM good WHERE {sql_identifier(keys[0])} IS NOT NULL "
            f"GROUP BY {by} ORDER BY source_record"
        ).to_arrow_table()

    tables = {"sites": group(["site_id"], SITE_COLUMNS)}
    facts = group(["site_id", "effective_on"] if within else ["site_id"], FACT_COLUMNS)
    if not within:
        facts = facts.append_column("effective_on", pa.array([None] * facts.num_rows, pa.date32()))
    tables["site_facts"] = facts
    if "charger_id" in names:
        since = "coalesce(commissioned_on, DATE '0001-01-01')" if "commissioned_on" in names else "rec"
        tables["chargers"] = group(["charger_id"], CHARGER_COLUMNS, [("site_id", f"arg_max(site_id, {since})")])
    # The port over all its lines (one port may be at several sites, a window at each): every line
    # carries the same port row, so a port on many lines is one row and the other lines duplicates.
    every = "OVER (PARTITION BY port_id)"
    newest = "commissioned_on NULLS FIRST, " if "commissioned_on" in names else ""
    latest = (
        f"OVER (PARTITION BY port_id ORDER BY {newest}rec ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
    )
    port_cols = [("port_id", "port_id"), ("site_id", f"last_value(site_id) {latest}")]
    if "charger_id" in names:
        port_cols.append(("charger_id", f"max(charger_id) {every}"))
    for c in PORT_COLUMNS:
        if c.name in names and c.name != "port_id":
            out, expr = _typed_out(c)
            if c.name == "commissioned_on":
                expr = f"CASE WHEN bool_or({expr} IS NULL) {every} THEN NULL ELSE min({expr}) {every} END"
            elif c.name == "decommissioned_on":
                expr = f"last_value({expr}) {latest}"
            else:
                expr = f"max({expr}) {every}"
            port_cols.append((out, expr))
    tables["ports"] = _output(p, port_cols)
    null_date = "CAST(NULL AS DATE)"
    tables["port_placements"] = _output(
        p,
        [
            ("port_id", "port_id"),
            ("site_id", "site_id"),
            ("source", "'sites-csv'"),
            ("observed_on", null_date),
            ("from_on", "CAST(commissioned_on AS DATE)" if "commissioned_on" in names else null_date),
            ("to_on", "CAST(decommissioned_on AS DATE)" if "decommissioned_on" in names else null_date),
        ],
    )
    q = _quarantine_rows(p)
    con.close()
    return Batch(format=SITES.format, records_read=p.records_read, tables=tables, quarantine=quarantine_table(q))
