"""The engine of evrevops' own CSV formats: a :class:`CsvSpec` read into typed Arrow tables.

Each format (:mod:`evrevops.formats.tables_csv`) is a :class:`CsvSpec`: its columns
(:class:`~evrevops.formats.csv_columns.Col`: name, type, whether required, allowed values,
bounds, warehouse column) and cross-column checks. This engine turns a spec into DuckDB SQL
over the whole file (``read_csv`` with every column as text), so validation and typing run in
bulk, not row by row:

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

A column absent from the header is not written, so the loader keeps what other
files stored in it. With ``keep_unstated`` (the sites CSV, whose tables OCPI Locations and
CDRs also fill), a column that is empty on every row is treated as absent too.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from evrevops.core.sqltext import sql_identifier, sql_literal
from evrevops.formats import limits
from evrevops.formats.base import Batch, FormatError, quarantine_table
from evrevops.formats.csv_columns import SQL_TYPES, Col, ColumnCheck, column_sql, hours_error, minor_sql, shown_sql
from evrevops.formats.csv_records import load_csv
from evrevops.formats.json_values import iana_zones
from evrevops.formats.records import connect

REPLACEMENT = "\ufffd"  # what a byte that is not UTF-8 becomes when the file is transcoded


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


def after(end: str, start: str, strict: bool = False) -> Check:
    """*end* is after (``strict``) or not before *start*."""
    op = "<=" if strict else "<"
    word = "not after" if strict else "before"
    return Check(
        (start, end),
        f"{sql_identifier(end)} {op} {sql_identifier(start)}",
        end,
        f"'{end} ' || CAST({sql_identifier(end)} AS VARCHAR) || ' is {word} {start} ' "
        f"|| CAST({sql_identifier(start)} AS VARCHAR)",
    )


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


def _load(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[int, list[str], list[tuple[int, None, str, str]], bool]:
    """Load the CSV into ``src`` and ``raw``, with the zone table and operating-hours function the columns use.

    Bytes that are not UTF-8 would make DuckDB refuse the whole file: a copy with them replaced
    is read instead. Returns (records read, header names, malformed rows, whether a copy was read).
    """
    con.execute("CREATE TEMP TABLE _zones AS SELECT UNNEST(?::VARCHAR[]) AS name", [sorted(iana_zones())])
    con.create_function("_hours_error", hours_error, ["VARCHAR"], "VARCHAR", null_handling="special")
    with tempfile.TemporaryDirectory(prefix="evrevops-utf8-") as tmp:
        fixed = utf8_copy(path, Path(tmp))
        try:
            n, header, bad = _load_csv(con, fixed or path)
        except FormatError as exc:
            if fixed is None:
                raise
            raise FormatError(path, str(exc).split(": ", 1)[-1], exc.record, exc.field) from None
    return n, header, bad, fixed is not None


def _present_columns(
    con: duckdb.DuckDBPyConnection, path: Path, spec: CsvSpec, header: list[str]
) -> tuple[list[Col], dict[str, str]]:
    """The spec's columns in the header (stated on some row, with ``keep_unstated``) and their trimmed text SQL.

    Raises
    ------
    FormatError
        A column named twice in the header, or a required column (or all of an ``AnyOf``) missing.
    """
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
    return present, text


def _typed(
    con: duckdb.DuckDBPyConnection, present: list[Col], text: dict[str, str], lim: limits.Limits
) -> list[ColumnCheck]:
    """Create ``typed`` (see :func:`parse_csv`) and return the checks of its columns, money's included."""
    currency = "currency" in {c.name for c in present}
    sel = ["rec"]
    checks: list[ColumnCheck] = []
    for c in present:
        expr, _ = column_sql(c, text[c.name], lim)
        _, cks = column_sql(c, sql_identifier("_s_" + c.name), lim)
        sel.append(f"{text[c.name]} AS {sql_identifier('_s_' + c.name)}")
        sel.append(f"{expr} AS {sql_identifier(c.name)}")
        for cond, fld, reason in cks:
            checks.append(
                (cond.replace("{v}", sql_identifier(c.name)), fld, reason.replace("{v}", sql_identifier(c.name)))
            )
    con.execute(f"CREATE OR REPLACE TEMP TABLE typed_values AS SELECT {', '.join(sel)} FROM src")
    # money → minor units of the row's currency
    money = [c for c in present if c.kind == "money"]
    currency_sql = sql_identifier("currency") if currency else "NULL"
    minor = [f"{minor_sql(sql_identifier(c.name), currency_sql)} AS {sql_identifier(c.out)}" for c in money]
    con.execute(f"CREATE OR REPLACE TEMP TABLE typed AS SELECT *{''.join(', ' + m for m in minor)} FROM typed_values")
    return checks + _money_checks(money, currency)


def _money_checks(money: list[Col], currency: bool) -> list[ColumnCheck]:
    """An amount needs a currency (and a currency column), and must fit its minor units."""
    checks: list[ColumnCheck] = []
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
                    f"{sql_identifier(c.name)} IS NOT NULL AND {sql_identifier('currency')} IS NOT NULL "
                    f"AND {sql_identifier(c.out)} IS NULL",
                    c.name,
                    f"'amount too large: ' || {shown_sql(sql_identifier('_s_' + c.name))}",
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
    return checks


def _parse_csv(con: duckdb.DuckDBPyConnection, path: Path, spec: CsvSpec, lim: limits.Limits) -> Parsed:
    n, header, bad, transcoded = _load(con, path)
    present, text = _present_columns(con, path, spec, header)
    names = {c.name for c in present}
    checks = _typed(con, present, text, lim)
    for ck in spec.checks:
        if all(u in names for u in ck.uses):
            checks.append((ck.cond, ck.field, ck.reason))
    for a in spec.any_of:
        have = [n for n in a.columns if n in names]
        cond = " AND ".join(f"{sql_identifier('_s_' + n)} IS NULL" for n in have) if have else "true"
        checks.append((cond, a.columns[0], f"'needs {a.describe()}'"))
    _quarantine(con, checks)
    if transcoded:  # the records that held bytes that are not UTF-8 (the header is no record)
        con.execute(
            f"""INSERT INTO q SELECT rec, NULL, 'not valid UTF-8 (bytes replaced by U+FFFD)', j FROM raw
                WHERE rec > 1 AND contains(j, '{REPLACEMENT}')"""
        )
    return Parsed(con, n, present, bad)


def _quarantine(con: duckdb.DuckDBPyConnection, checks: list[ColumnCheck]) -> None:
    """``q(rec, field, reason, raw)`` from *checks* over ``typed`` (one row per failed check)."""
    if not checks:
        con.execute("CREATE OR REPLACE TEMP TABLE q (rec BIGINT, field VARCHAR, reason VARCHAR, raw VARCHAR)")
        return
    items = ", ".join(
        f"CASE WHEN coalesce(({cond}), false) THEN {{'field': {sql_literal(fld)}, 'reason': {reason}}} END"
        for cond, fld, reason in checks
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE q AS
            SELECT b.rec, b.e.field AS field, b.e.reason AS reason, r.j AS raw
            FROM (SELECT rec, unnest(list_filter([{items}], lambda x: x IS NOT NULL)) AS e FROM typed) b
            LEFT JOIN raw r ON r.rec = b.rec"""
    )


def quarantine_rows(p: Parsed) -> list[tuple[int, str | None, str, str | None]]:
    """Every quarantined record of *p* (malformed rows and failed checks), by line, field and reason."""
    rows = p.con.execute("SELECT rec, field, reason, raw FROM q ORDER BY rec, field, reason").fetchall()
    return sorted(p.bad + rows, key=lambda r: (r[0], r[1] or "", r[2]))


def output_table(p: Parsed, cols: list[tuple[str, str]], source: str = "accepted") -> pa.Table:
    """Arrow table of ``(output column, SQL expression)`` over *source*, plus ``source_record``."""
    sel = ", ".join(f"{expr} AS {sql_identifier(name)}" for name, expr in cols)
    return p.con.sql(f"SELECT {sel}, rec AS source_record FROM {source} ORDER BY rec").to_arrow_table()


def typed_out(c: Col) -> tuple[str, str]:
    """``(warehouse column, SQL)`` of a typed column cast to its warehouse type."""
    if c.kind == "money":
        return c.out, sql_identifier(c.out)
    return c.out, f"CAST({sql_identifier(c.name)} AS {SQL_TYPES[c.kind]})"


def read_table(path: str | Path, spec: CsvSpec) -> Batch:
    """Read a one-table CSV format by *spec*."""
    p = parse_csv(path, spec)
    p.con.execute("CREATE OR REPLACE TEMP TABLE accepted AS SELECT * FROM typed WHERE rec NOT IN (SELECT rec FROM q)")
    cols = [typed_out(c) for c in p.present]
    names = {c.name for c in p.present}
    cols += [(d.target, f"CAST(({d.sql}) AS {d.sql_type})") for d in spec.derived if set(d.uses) <= names]
    table = output_table(p, cols)
    q = quarantine_rows(p)
    p.con.close()
    return Batch(
        format=spec.format, records_read=p.records_read, tables={spec.table: table}, quarantine=quarantine_table(q)
    )
