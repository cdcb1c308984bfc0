"""Session exports read through declarative column mappings (``session-csv``, ``acn-json``).

Every operator exports sessions differently. Rather than one reader per export,
a *mapping* (a TOML file in ``formats/mappings/``) says declaratively how one
export's columns become evrevops ``sessions`` rows, and the engine here turns
the mapping into DuckDB SQL that reads the whole file in bulk (no per-row
Python). The mapping format is documented in ``docs/formats.md`` ("Session CSV
exports"); in short:

* ``[detect]``: header columns that identify the export (:func:`match_mapping`);
* ``[csv]`` / ``[source]``: encoding and delimiter, or a JSON envelope;
* ``[ids]``: templates for the session, site, charger, port and connector ids;
* ``[time]``, ``[start]``, ``[end]``: strptime formats over one column or a
  date column plus a time column, and the local time zone (fixed, from a
  column, or a UTC-offset/abbreviation column per timestamp);
* ``[energy]``, ``[plugged_in]``, ``[charging]``: quantities and durations;
* ``[money]``: the fee column and its currency (column or fixed);
* ``[site]``, ``[port]``, ``[charger]``: implied reference rows;
* ``[[reject]]`` rules and named defect handlers (``repair = "day_month_swap"``)
  for known defects of real exports.

Templates are text with ``{Column}`` placeholders (``{Column?}`` for a column
that some variants of the export lack), optionally piped through filters
(``{MAC Address|alnum|upper}``). Columns are matched by their normalised name
(case, spaces and punctuation ignored), so ``CP ID`` also finds ``CP_ID``.
A template is NULL when any column it uses is empty.

Quantities follow handbook §3 and the OCPI CDR conventions of
``docs/formats.md``: ``plugged_in_s`` is plug-in to plug-out, ``charging_s``
the part of it with energy flowing, ``idle_s = plugged_in_s − charging_s``,
and charging is assumed to come first
(``charging_ended_at = started_at + charging_s``) unless the export states
when charging ended (ACN-Data ``doneChargingTime``).

Local wall times are turned into UTC with DuckDB's ICU time zones, whose rule
for wall times that do not exist or happen twice is:

* a time in the spring-forward gap is read with the offset in force *before*
  the gap (01:30 on the day London springs forward is 01:30 GMT = 02:30 BST);
* a time in the autumn overlap is read as the *second* occurrence, in standard
  time (01:30 on the day London falls back is 01:30 GMT, not 00:30 GMT).

A record is line N of the file counting the header as line 1 (the N−1th data
row; the same as the physical line unless a quoted field spans lines). For
JSON, record N is the Nth element of the items array.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import gzip
import io
import json
import re
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from evrevops.core import iso4217
from evrevops.core.calendar import add_months
from evrevops.formats import limits
from evrevops.formats.base import Batch, FormatError, quarantine_table
from evrevops.formats.ocpp import json_depth_sql
from evrevops.formats.records import connect, json_records, load_csv, quarantine_from_checks
from evrevops.formats.tables_csv import currency_reason_sql, utf8_copy

MAPPINGS_DIR = Path(__file__).parent / "mappings"

_SECTIONS = {
    "description",
    "detect",
    "csv",
    "source",
    "ids",
    "session",
    "time",
    "start",
    "end",
    "energy",
    "plugged_in",
    "charging",
    "money",
    "site",
    "port",
    "charger",
    "reject",
    "repair",
    "checks",
}

# Filters usable in templates: ``{Column|filter|filter}``.
_FILTERS: dict[str, Callable[[str], str]] = {
    "upper": lambda x: f"upper({x})",
    "lower": lambda x: f"lower({x})",
    "trim": lambda x: f"trim({x})",
    "alnum": lambda x: f"regexp_replace({x}, '[^A-Za-z0-9]+', '', 'g')",
    "slug": lambda x: f"trim(regexp_replace(lower(trim({x})), '[^a-z0-9]+', '-', 'g'), '-')",
    "before_comma": lambda x: f"trim(split_part({x}, ',', 1))",
}

_UNITS_TO_S = {"s": "1", "min": "60", "h": "3600"}
MAX_ID_CHARS = 255  # a session, site, port or charger id longer than this is refused
REPLACEMENT = "\ufffd"  # what a byte that is not UTF-8 becomes when the file is transcoded


def normalise(name: str) -> str:
    """Column-name key used for matching: lower case, runs of non-alphanumerics as ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def _lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


# --------------------------------------------------------------------------------------------
# Mappings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mapping:
    """One declarative column mapping, loaded from ``mappings/<name>.toml``."""

    name: str
    spec: dict[str, Any]

    @property
    def description(self) -> str:
        return str(self.spec.get("description", ""))

    @property
    def kind(self) -> str:
        """``'csv'`` or ``'json'``."""
        return str(self.spec.get("source", {}).get("kind", "csv"))

    @property
    def detect_columns(self) -> list[str]:
        return list(self.spec.get("detect", {}).get("columns", []))

    @property
    def detect_absent(self) -> list[str]:
        return list(self.spec.get("detect", {}).get("absent", []))


def mapping_names() -> list[str]:
    """Names of the shipped mappings (file stems in ``formats/mappings``)."""
    return sorted(p.stem for p in MAPPINGS_DIR.glob("*.toml"))


@functools.cache
def load_mapping(name: str) -> Mapping:
    """Load and validate the shipped mapping called *name*.

    Only the stems of the TOML files in ``formats/mappings`` are names (a name with ``/``,
    ``\\`` or ``..`` is refused like any unknown one), so ``--mapping`` never reads a file
    outside the shipped folder.

    Raises
    ------
    ValueError
        ``unknown session mapping 'x'; known: ...``, or a mapping that fails its checks.
    """
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name) or name not in mapping_names():
        raise ValueError(f"unknown session mapping {name!r}; known: {', '.join(mapping_names())}")
    path = MAPPINGS_DIR / f"{name}.toml"
    with open(path, "rb") as f:
        spec = tomllib.load(f)
    unknown = set(spec) - _SECTIONS
    if unknown:
        raise ValueError(f"mapping {name}: unknown sections {sorted(unknown)}")
    for key in ("ids", "start", "energy"):
        if key not in spec:
            raise ValueError(f"mapping {name}: section [{key}] is required")
    for key in ("session", "site", "port"):
        if key not in spec["ids"]:
            raise ValueError(f"mapping {name}: [ids] needs {key!r}")
    plugged, charging = spec.get("plugged_in", {}), spec.get("charging", {})
    if (
        "end" not in spec
        and "value" not in plugged
        and (plugged.get("assume") != "charging" or "value" not in charging)
    ):
        raise ValueError(f"mapping {name}: without [end], give [plugged_in] value or assume = 'charging'")
    ways = ("value" in charging) + ("end" in charging) + (charging.get("assume") == "plugged_in")
    if ways != 1:
        raise ValueError(
            f"mapping {name}: [charging] needs exactly one of value (a duration), end (a timestamp) "
            "or assume = 'plugged_in'"
        )
    if charging.get("if_missing", "plugged_in") != "plugged_in":
        raise ValueError(f"mapping {name}: [charging] if_missing can only be 'plugged_in'")
    for rep in (spec["start"].get("repair"), spec.get("end", {}).get("repair")):
        if rep is not None and rep not in _REPAIRS:
            raise ValueError(f"mapping {name}: unknown repair {rep!r}; known: {sorted(_REPAIRS)}")
    return Mapping(name, spec)


def match_mapping(header: list[str], path: str | Path | None = None) -> str | None:
    """Pick the shipped CSV mapping whose ``[detect]`` columns are all in *header*.

    Names are compared normalised (see :func:`normalise`). When several match,
    the one naming the most columns wins. Returns None when none matches.
    """
    cols = {normalise(h) for h in header if h and h.strip()}
    best: tuple[int, str] | None = None
    for name in mapping_names():
        m = load_mapping(name)
        if m.kind != "csv" or not m.detect_columns:
            continue
        need = {normalise(c) for c in m.detect_columns}
        if need <= cols and not ({normalise(c) for c in m.detect_absent} & cols):
            score = len(need)
            if best is None or score > best[0]:
                best = (score, name)
    return best[1] if best else None


# --------------------------------------------------------------------------------------------
# Template compiler: mapping values -> SQL expressions over the source table
# --------------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_DERIVED = {
    "$start_local": "strftime(_start_local, '%Y-%m-%dT%H:%M:%S')",
    "$end_local": "strftime(_end_local, '%Y-%m-%dT%H:%M:%S')",
}


class _Compiler:
    """Compiles templates and value specs of one mapping against one file's columns.

    Source columns are stored as ``c0, c1, ...`` (safe identifiers); *columns*
    maps normalised header names to those. For JSON sources columns are
    created on demand (``is_json=True``) and listed in :attr:`json_fields`.
    *consts* are values known before reading (``$mapping``, JSON envelope
    metadata such as ``_meta.site``).
    """

    def __init__(
        self, mapping: Mapping, path: Path, columns: dict[str, str], consts: dict[str, str | None], is_json: bool
    ):
        self.mapping = mapping
        self.path = path
        self.columns = columns
        self.consts = consts
        self.json = is_json
        self.json_fields: dict[str, str] = {}

    def col(self, name: str) -> str:
        optional = name.endswith("?")
        name = name.rstrip("?").strip()
        if name in _DERIVED:
            return _DERIVED[name]
        if name in self.consts:
            return _lit(self.consts[name]) if self.consts[name] is not None else "NULL"
        if self.json:
            if name not in self.json_fields:
                self.json_fields[name] = f"c{len(self.json_fields)}"
            return f"nullif(trim({self.json_fields[name]}), '')"
        key = normalise(name)
        if key in self.columns:
            return f"nullif(trim({self.columns[key]}), '')"
        if optional:
            return "NULL::VARCHAR"
        raise FormatError(self.path, f"column {name!r} required by mapping {self.mapping.name!r} is not in the header")

    def template(self, text: str, empty_ok: bool = False) -> str:
        """SQL for a template: literal text and ``{Column|filter}`` placeholders.

        NULL if any placeholder is empty, unless *empty_ok* (then an empty
        placeholder contributes ``''``; used for hashed ids).
        """
        parts: list[str] = []
        pos = 0
        for m in _PLACEHOLDER.finditer(text):
            if m.start() > pos:
                parts.append(_lit(text[pos : m.start()]))
            name, *filters = m.group(1).split("|")
            expr = self.col(name)
            for f in filters:
                f = f.strip()
                if f not in _FILTERS:
                    raise ValueError(f"mapping {self.mapping.name}: unknown filter {f!r} in {text!r}")
                expr = _FILTERS[f](expr)
            parts.append(f"coalesce({expr}, '')" if empty_ok else expr)
            pos = m.end()
        if pos < len(text):
            parts.append(_lit(text[pos:]))
        if not parts:
            return "NULL::VARCHAR"
        return parts[0] if len(parts) == 1 else "(" + " || ".join(parts) + ")"

    def value(self, spec: Any, raw: bool = False) -> str:
        """SQL for a value spec: a template string, or ``{value, remove, extract, filters, map}``.

        Applied in that order: ``remove`` deletes every match of a regex;
        ``extract`` keeps the first group of a regex when it matches (else the
        text is kept); ``filters`` are template filters applied to the result;
        ``map`` looks the text up in a table (no entry → NULL). With *raw* the
        map is skipped.
        """
        if spec is None:
            return "NULL::VARCHAR"
        if isinstance(spec, (int, float)):
            return _lit(str(spec))
        if isinstance(spec, str):
            return f"nullif(trim({self.template(spec)}), '')"
        expr = self.template(str(spec["value"]))
        if "remove" in spec:
            expr = f"regexp_replace({expr}, {_lit(spec['remove'])}, '', 'g')"
        if "extract" in spec:
            pat = _lit(spec["extract"])
            expr = f"(CASE WHEN regexp_matches({expr}, {pat}) THEN regexp_extract({expr}, {pat}, 1) ELSE {expr} END)"
        for f in spec.get("filters", []):
            if f not in _FILTERS:
                raise ValueError(f"mapping {self.mapping.name}: unknown filter {f!r}")
            expr = _FILTERS[f](expr)
        expr = f"nullif(trim({expr}), '')"
        if "map" in spec and not raw:
            cases = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in spec["map"].items())
            expr = f"(CASE {expr} {cases} END)"
        return expr

    def condition(self, cond: dict[str, Any]) -> str:
        """SQL boolean for a reject condition ``{value, matches | empty | not_empty}``."""
        v = self.value(cond["value"])
        if "matches" in cond:
            return f"coalesce(regexp_matches({v}, {_lit(cond['matches'])}), false)"
        if cond.get("empty"):
            return f"({v} IS NULL)"
        if cond.get("not_empty"):
            return f"({v} IS NOT NULL)"
        raise ValueError(f"mapping {self.mapping.name}: reject condition needs matches/empty/not_empty: {cond}")


# --------------------------------------------------------------------------------------------
# Named defect handlers (repairs)
# --------------------------------------------------------------------------------------------


def _swap_dm(fmt: str) -> str:
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _repair_day_month_swap(
    con: duckdb.DuckDBPyConnection, path: Path, opts: dict[str, Any], lim: limits.Limits
) -> dict[str, str]:
    """Repair dates whose day and month were swapped for days ≤ 12 (Perth & Kinross).

    Every start date is read both as written (``_start_a``) and with day and
    month exchanged (``_start_b``, NULL when the written day is > 12). The file
    covers ``window_months`` months from ``window_start`` (month-day) of the
    year of its earliest unambiguous date; a reading outside that window is
    impossible. When both readings fall inside it, the file's row order decides:
    rows are in ``order`` (``descending``: newest first) of start time, so the
    right reading lies between the nearest unambiguous rows before and after.
    If that still leaves both, the swapped reading (the documented defect) wins.
    End dates take the reading closest to, and not before, the repaired start.
    Start dates with no reading inside the window are left NULL (quarantined).

    Only readings inside the time window of *lim* can set the file's year (a row dated 0001 or
    9999 is refused later, by the window, and cannot move the file's window out of the calendar).

    Creates ``p2`` from ``p1`` and returns ``{"window": "[start, end)"}`` for the reasons.
    """
    month, day = (int(x) for x in str(opts.get("window_start", "01-01")).split("-"))
    months = int(opts.get("window_months", 12))
    descending = str(opts.get("order", "descending")).lower().startswith("desc")
    inside = f"BETWEEN TIMESTAMP '{lim.earliest:%Y-%m-%d %H:%M:%S}' AND TIMESTAMP '{lim.until:%Y-%m-%d %H:%M:%S}'"
    first = con.execute(
        "SELECT min(_start_a) FROM p1 WHERE _start_a IS NOT NULL AND (_start_b IS NULL OR _start_b = _start_a)"
        f" AND _start_a {inside}"
    ).fetchall()[0][0]
    if first is None:
        first = con.execute(
            f"SELECT min(coalesce(_start_b, _start_a)) FROM p1 WHERE coalesce(_start_b, _start_a) {inside}"
        ).fetchall()[0][0]
    if first is None:  # nothing parses: every row is quarantined as unparseable
        first = dt.datetime(2000, month, day)
    year = first.year if (first.month, first.day) >= (month, day) else first.year - 1
    year = min(max(year, 1), 9998 - months // 12)  # the window stays a calendar window
    ws = dt.date(year, month, day)
    we = add_months(ws, months).replace(day=day)
    inw = "({x} >= DATE '" + ws.isoformat() + "' AND {x} < DATE '" + we.isoformat() + "')"
    a_in = f"coalesce({inw.format(x='_start_a')}, false)"
    b_in = f"coalesce({inw.format(x='_start_b')}, false)"
    before = "last_value(_sure IGNORE NULLS) OVER (ORDER BY rec ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    after = "first_value(_sure IGNORE NULLS) OVER (ORDER BY rec ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)"
    upper, lower = (before, after) if descending else (after, before)

    def fits(x: str) -> str:
        return f"((_lower IS NULL OR {x} >= _lower) AND (_upper IS NULL OR {x} <= _upper))"

    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW p1s AS
            SELECT *, {a_in} AS _a_in, {b_in} AS _b_in,
                   CASE WHEN {a_in} AND NOT {b_in} THEN _start_a
                        WHEN {b_in} AND NOT {a_in} THEN _start_b
                        WHEN {a_in} AND _start_a = _start_b THEN _start_a END AS _sure
            FROM p1"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW p1w AS
            SELECT *, {upper} AS _upper, {lower} AS _lower FROM p1s"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE p2 AS
            SELECT * EXCLUDE (_a_in, _b_in, _sure, _upper, _lower, _start_local_c),
                   _start_local_c AS _start_local,
                   CASE WHEN _end_b IS NULL OR _end_a = _end_b THEN _end_a
                        WHEN _end_a IS NULL THEN _end_b
                        WHEN _end_a >= _start_local_c AND (_end_b < _start_local_c OR _end_a <= _end_b) THEN _end_a
                        WHEN _end_b >= _start_local_c THEN _end_b
                        ELSE _end_a END AS _end_local,
                   (_start_local_c IS DISTINCT FROM _start_a) AS _start_repaired
            FROM (SELECT *,
                    CASE WHEN _sure IS NOT NULL THEN _sure
                         WHEN _a_in AND _b_in THEN
                            CASE WHEN {fits("_start_a")} AND NOT {fits("_start_b")} THEN _start_a ELSE _start_b END
                    END AS _start_local_c
                  FROM p1w)"""
    )
    return {"window": f"[{ws.isoformat()}, {we.isoformat()})"}


_REPAIRS: dict[str, Callable[[duckdb.DuckDBPyConnection, Path, dict[str, Any]], dict[str, str]]] = {
    "day_month_swap": _repair_day_month_swap,
}


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _header(path: Path, encoding: str, delim: str) -> list[str]:
    """The CSV header's field names (a UTF-8 byte-order mark is dropped)."""
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115 (closed below)
    with io.TextIOWrapper(raw, encoding=enc, errors="replace", newline="") as f:
        return next(csv.reader(f, delimiter=delim), [])


def _load_csv(
    con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping
) -> tuple[int, dict[str, str], list[tuple[int, str | None, str, str | None]]]:
    """Load the CSV into ``src(rec, c0, c1, ...)`` and the view ``raw(rec, j)``.

    Rows whose number of fields differs from the header's are not loaded but
    returned for quarantine (DuckDB ``store_rejects``). ``rec`` is the
    record's line number (header = line 1, blank lines counted): physical lines
    are read in a second light pass and matched to rows in order, which is exact
    unless a quoted field spans lines; then records are numbered consecutively.

    Returns (records read, normalised header name → column, malformed rows).
    """
    opts = mapping.spec.get("csv", {})
    delim = str(opts.get("delimiter", ","))
    enc = str(opts.get("encoding", "utf-8"))
    header = _header(path, enc, delim)
    if not header:
        raise FormatError(path, "empty file: no CSV header", record=1)
    n, bad = load_csv(con, path, header, delim, enc)
    columns: dict[str, str] = {}
    for i, name in enumerate(header):
        if name.strip():
            columns.setdefault(normalise(name), f"c{i}")
    return n, columns, bad


def _json_consts(con: duckdb.DuckDBPyConnection, path: Path, meta_key: str | None) -> dict[str, str | None]:
    """Scalar fields of the envelope's metadata object, as ``{'_meta.site': 'caltech'}``."""
    if not meta_key:
        return {}
    try:
        rows = con.execute(
            f"""SELECT json_extract(json, '$.{meta_key}')::VARCHAR
                FROM read_json_objects('{_sql_path(path)}', format='unstructured', maximum_object_size=1073741824)"""
        ).fetchall()
    except duckdb.Error:
        return {}
    try:
        meta = json.loads(rows[0][0]) if rows and rows[0][0] else {}
    except (ValueError, RecursionError):  # metadata too deep for Python: the records do without it
        return {}
    if not isinstance(meta, dict):
        return {}
    return {
        f"{meta_key}.{k}": (None if v is None else str(v)) for k, v in meta.items() if not isinstance(v, (dict, list))
    }


def _timestamp(c: _Compiler, spec: dict[str, Any], swapped: bool = False) -> tuple[str, str]:
    """(text SQL, local timestamp SQL) for a ``[start]``-style spec."""
    # one column with the date and time, or a date column and a time-of-day column
    date_time = "({date} || ' ' || {time})"
    text = (
        c.value(spec["value"])
        if "value" in spec
        else date_time.format(date=c.value(spec["date"]), time=c.value(spec["time"]))
    )
    formats = spec.get("formats") or [spec["format"]]
    if swapped:
        formats = [_swap_dm(f) for f in formats]
    fl = "[" + ", ".join(_lit(f) for f in formats) + "]"
    return text, f"try_strptime({text}, {fl})"


def _to_utc(c: _Compiler, spec: dict[str, Any], local: str) -> str:
    """SQL for the UTC instant of the local wall time *local*.

    With an ``offset`` value (``-07:00``, or an abbreviation mapped to one) the
    offset is applied; when the offset column is empty the mapping's zone is
    used. Otherwise the wall time is local time in ``[time] zone`` (an IANA
    name or a template giving one per record).
    """
    zone_spec = c.mapping.spec.get("time", {}).get("zone")
    if "offset" in spec:
        off = c.value(spec["offset"])
        fallback = "NULL::TIMESTAMP"
        if zone_spec is not None:
            fallback = _zone_utc(c.value(zone_spec), local)
        utc = (
            f"CASE WHEN {off} IS NOT NULL THEN timezone('UTC', TRY_CAST(strftime({local}, '%Y-%m-%d %H:%M:%S.%f') || "
            f"{off} AS TIMESTAMPTZ)) WHEN {c.value(spec['offset'], raw=True)} IS NULL THEN {fallback} END"
        )
        return utc
    if zone_spec is None:
        raise ValueError(f"mapping {c.mapping.name}: no time zone: give [time] zone or an offset per timestamp")
    return _zone_utc(c.value(zone_spec), local)


def _zone_utc(zone: str, local: str) -> str:
    return f"timezone('UTC', CASE WHEN {zone} IN (SELECT name FROM _tz) THEN timezone({zone}, {local}) END)"


def _duration_s(c: _Compiler, spec: dict[str, Any]) -> str:
    """SQL seconds (DOUBLE) of a duration value, NULL when unparseable."""
    v = c.value(spec["value"])
    unit = spec.get("unit", "s")
    # exact decimal arithmetic that cannot overflow: at most 9 digits of hours; a value in s/min/h
    # widened before it is scaled (an absurd duration is refused later, by the session-length limit)
    if unit == "hms":
        return (
            f"CASE WHEN regexp_full_match({v}, '\\d{{1,9}}:[0-5]?\\d:[0-5]?\\d(\\.\\d+)?') THEN "
            f"(TRY_CAST(split_part({v}, ':', 1) AS DECIMAL(18, 0)) * 3600 "
            f"+ TRY_CAST(split_part({v}, ':', 2) AS DECIMAL(18, 0)) * 60 "
            f"+ TRY_CAST(split_part({v}, ':', 3) AS DECIMAL(18, 6)))::DOUBLE END"
        )
    if unit not in _UNITS_TO_S:
        raise ValueError(f"mapping {c.mapping.name}: unknown duration unit {unit!r} (hms, s, min, h)")
    return f"(CAST(TRY_CAST({v} AS DECIMAL(18, 6)) AS DECIMAL(38, 6)) * {_UNITS_TO_S[unit]})::DOUBLE"


def _read(path: Path, mapping: Mapping, fmt: str) -> Batch:
    con = connect()
    try:
        with tempfile.TemporaryDirectory(prefix="evrevops-utf8-") as tmp:
            return _read_in(con, path, mapping, fmt, Path(tmp))
    finally:
        con.close()


def _read_in(con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping, fmt: str, tmp: Path) -> Batch:
    spec = mapping.spec
    lim = limits.current()
    con.execute("CREATE TEMP TABLE _tz AS SELECT name FROM pg_timezone_names()")
    utf8 = str(spec.get("csv", {}).get("encoding", "utf-8")).lower().replace("_", "-") in ("utf-8", "utf8")
    # bytes that are not UTF-8 would make DuckDB refuse the whole file: read a copy with them
    # replaced instead, and quarantine the records that had them (below)
    fixed = utf8_copy(path, tmp) if utf8 or mapping.kind == "json" else None
    transcoded = fixed is not None
    path_read = fixed or path
    try:
        if mapping.kind == "json":
            src_opts = spec.get("source", {})
            key = src_opts.get("records", "_items")
            n, bad = json_records(con, path_read, envelope_keys=(key, "data", "items"))
            consts = _json_consts(con, path_read, src_opts.get("meta"))
        else:
            n, columns, bad = _load_csv(con, path_read, mapping)
    except FormatError as exc:  # name the file read, not the copy
        if fixed is None:
            raise
        where = len(exc.path) + len(f", record {exc.record}" if exc.record is not None else "")
        where += len(f", field {exc.field!r}" if exc.field else "") + 2
        raise FormatError(path, str(exc)[where:], exc.record, exc.field) from None
    if mapping.kind == "json":
        c = _Compiler(mapping, path, {}, {"$mapping": mapping.name, **consts}, is_json=True)
    else:
        missing = [col for col in mapping.detect_columns if normalise(col) not in columns]
        if missing:
            raise FormatError(path, f"header lacks columns {missing} of mapping {mapping.name!r}", record=1)
        c = _Compiler(mapping, path, columns, {"$mapping": mapping.name}, is_json=False)
    tol = float(spec.get("checks", {}).get("duration_tolerance_s", 120))

    # ---- stage 1: parse every field from text ------------------------------------------------
    start = spec["start"]
    end = spec.get("end")
    repair = start.get("repair")
    items: dict[str, str] = {}
    items["_start_text"], items["_start_a"] = _timestamp(c, start)
    if repair:
        items["_start_b"] = _timestamp(c, start, swapped=True)[1]
    if end:
        items["_end_text"], items["_end_a"] = _timestamp(c, end)
        items["_end_b"] = _timestamp(c, end, swapped=True)[1] if end.get("repair") else "NULL::TIMESTAMP"
    energy = spec["energy"]
    items["_energy_text"] = c.value(energy["value"])
    scale = {"kwh": "1", "wh": "0.001"}[str(energy.get("unit", "kWh")).lower()]
    items["_energy_kwh"] = f"TRY_CAST({items['_energy_text']} AS DOUBLE) * {scale}"  # NaN/inf: refused below
    plugged = spec.get("plugged_in", {})
    charging = spec.get("charging", {})
    if "value" in plugged:
        items["_plugged_text"] = c.value(plugged["value"])
        items["_plugged_raw_s"] = _duration_s(c, plugged)
    if "value" in charging:
        items["_charging_text"] = c.value(charging["value"])
        items["_charging_raw_s"] = _duration_s(c, charging)
    chend = charging.get("end")
    if chend:
        items["_chend_text"], items["_chend_local"] = _timestamp(c, chend)
    money = spec.get("money")
    if money:
        items["_amount_text"] = c.value(money["amount"])
        cur = c.value(money["currency"])
        if "currency_default" in money:
            cur = f"coalesce({cur}, {_lit(money['currency_default'])})"
        items["_currency"] = f"upper({cur})"
    rejects = spec.get("reject", [])
    conds: list[str] = []
    for i, r in enumerate(rejects):  # the first rule that matches a record rejects it
        conds.append("(" + " AND ".join(c.condition(x) for x in r["when"]) + ")")
        items[f"_reject{i}"] = " AND ".join([conds[i]] + [f"NOT {e}" for e in conds[:i]])
        items[f"_reject{i}_value"] = c.value(r["when"][0]["value"], raw=True)
    items["_rejected"] = " OR ".join(f"_reject{i}" for i in range(len(rejects))) if rejects else "false"
    # rejects reference columns defined in the same select: compute them in a second pass
    base_items = {k: v for k, v in items.items() if k != "_rejected"}

    # ids and reference values are compiled before the source table is built, so that the
    # JSON fields the mapping uses are all known
    ids = spec["ids"]
    if ids.get("hash"):
        id_sql = f"left(md5({c.template(str(ids['session']), empty_ok=True)}), 16)"
    else:
        id_sql = c.value(ids["session"])
    ref = {
        "site_id": c.value(ids["site"]),
        "port_id": c.value(ids["port"]),
        "charger_id": c.value(ids["charger"]) if "charger" in ids else "NULL::VARCHAR",
        "connector_id": c.value(ids["connector"]) if "connector" in ids else "NULL::VARCHAR",
    }
    sess_extra = {k: c.value(v) for k, v in spec.get("session", {}).items()}
    for k in sess_extra:
        if k not in ("token_uid", "stop_reason", "auth_method", "tariff_id"):
            raise ValueError(f"mapping {mapping.name}: [session] key {k!r} is not a sessions column")
    site = dict(spec.get("site", {}))
    site.setdefault("time_zone", spec.get("time", {}).get("zone"))
    site_sql = {k: c.value(v) for k, v in site.items()}
    port_sql = {k: c.value(v) for k, v in spec.get("port", {}).items()}
    charger_sql = {k: c.value(v) for k, v in spec.get("charger", {}).items()}
    start_utc = _to_utc(c, start, "_start_local")
    end_utc = _to_utc(c, end, "_end_local") if end else None
    chend_utc = _to_utc(c, chend, "_chend_local") if chend else None
    # zone validity, for the reasons
    zone_spec = spec.get("time", {}).get("zone")
    zone_sql = c.value(zone_spec) if zone_spec is not None else "NULL::VARCHAR"
    start_off = c.value(start["offset"]) if "offset" in start else None
    start_off_raw = c.value(start["offset"], raw=True) if "offset" in start else None
    end_off = c.value(end["offset"]) if end and "offset" in end else None
    end_off_raw = c.value(end["offset"], raw=True) if end and "offset" in end else None

    if c.json:
        cols = ", ".join(
            f"json_extract_string(j, {_lit('$.' + _json_path(f))}) AS {col}" for f, col in c.json_fields.items()
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE src AS
                SELECT rec{", " + cols if cols else ""} FROM raw
                WHERE rec NOT IN (SELECT UNNEST(?::BIGINT[]))""",
            [[b[0] for b in bad]],
        )

    sel = ",\n".join(f"{v} AS {k}" for k, v in base_items.items())
    no_end = "" if end else ", NULL::VARCHAR AS _end_text, NULL::TIMESTAMP AS _end_a, NULL::TIMESTAMP AS _end_b"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE p1 AS
            SELECT *, ({items["_rejected"]}) AS _rejected{no_end} FROM (SELECT *, {sel} FROM src)"""
    )

    # ---- stage 2: local wall times (with repairs) --------------------------------------------
    repair_info: dict[str, str] = {}
    if repair:
        repair_info = _REPAIRS[repair](con, path, dict(spec.get("repair", {}).get(repair, {})), lim)
    else:
        con.execute(
            """CREATE OR REPLACE TEMP TABLE p2 AS
               SELECT *, _start_a AS _start_local, _end_a AS _end_local, false AS _start_repaired FROM p1"""
        )

    # ---- stage 3: UTC instants and durations ---------------------------------------------------
    clamp = float(charging.get("clamp_to_end_s", 0))
    # An instant outside the time window is kept as ``_*_raw`` (for its reason) and is NULL in
    # everything computed from it, so no arithmetic on a year-9999 or 1970 instant can overflow.
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW p3r AS
            SELECT *, {start_utc} AS _started_raw,
                   {end_utc or "NULL::TIMESTAMP"} AS _end_raw,
                   {chend_utc or "NULL::TIMESTAMP"} AS _chend_raw
            FROM p2"""
    )
    in_window = {
        k: f"CASE WHEN NOT {lim.window_sql(k)} THEN {k} END" for k in ("_started_raw", "_end_raw", "_chend_raw")
    }
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW p3a AS
            SELECT *, {in_window["_started_raw"]} AS _started_at, {in_window["_end_raw"]} AS _end_at,
                   {in_window["_chend_raw"]} AS _chend_at
            FROM p3r"""
    )
    # plugged-in seconds and plug-out instant. With both an end and a plugged-in duration,
    # the duration wins (ended_at = start + duration) and the end is a cross-check: exports
    # state start/end to the minute but durations to the second. A duration beyond the
    # session-length limit gives no plug-out (it is refused below).
    after_plugged = (
        f"CASE WHEN abs(_plugged_s) <= {lim.max_session_s} "
        "THEN _started_at + to_microseconds(CAST(round(_plugged_s * 1e6) AS BIGINT)) END"
    )
    if end:
        span = "datediff('microsecond', _started_at, _end_at) / 1e6"
        plugged_s = "_plugged_raw_s" if "value" in plugged else span
        ended = after_plugged if "value" in plugged else "_end_at"
    else:
        span = None
        plugged_s = "_plugged_raw_s" if "value" in plugged else "_charging_raw_s"
        ended = after_plugged
    # charging seconds
    if "value" in charging:
        charging_s = "least(_charging_raw_s, _plugged_s)"
    elif chend:
        chend_eff = f"CASE WHEN _chend_at > _ended_at AND datediff('microsecond', _ended_at, _chend_at) <= {clamp * 1e6} THEN _ended_at ELSE _chend_at END"
        charging_s = f"datediff('microsecond', _started_at, {chend_eff}) / 1e6"
        if charging.get("if_missing") == "plugged_in":  # no charging end: charging lasts the plug-in
            charging_s = f"coalesce({charging_s}, _plugged_s)"
    else:
        charging_s = "_plugged_s"
    con.execute(f"CREATE OR REPLACE TEMP VIEW p3b AS SELECT *, ({plugged_s})::DOUBLE AS _plugged_s FROM p3a")
    con.execute(f"CREATE OR REPLACE TEMP VIEW p3c AS SELECT *, {ended} AS _ended_at FROM p3b")
    money_sql = ""
    if money:  # minor units only of an amount under the money limit (a larger one would overflow; refused below)
        amount = "TRY_CAST(_amount_text AS DECIMAL(38, 9))"
        money_sql = (
            f", CASE WHEN {amount} IS NOT NULL AND NOT {lim.money_sql(amount)} "
            "THEN to_minor(_amount_text, _currency) END AS _total_cost_minor"
        )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE p3 AS
            SELECT *, ({charging_s})::DOUBLE AS _charging_s,
                   {id_sql} AS _session_key,
                   {ref["site_id"]} AS _site_id, {ref["port_id"]} AS _port_id,
                   {ref["charger_id"]} AS _charger_id, {ref["connector_id"]} AS _connector_id
                   {money_sql}
            FROM p3c"""
    )

    # ---- stage 4: checks -> quarantine ----------------------------------------------------------
    checks = _checks(
        spec,
        tol=tol,
        clamp=clamp,
        span=span,
        zone_sql=zone_sql,
        offsets=[(start_off, start_off_raw, "start"), (end_off, end_off_raw, "end")],
        repair_info=repair_info,
        field_names=_field_names(spec),
        lim=lim,
    )
    q = quarantine_from_checks(con, "p3", checks)
    if c.json:  # JSON records with a key given twice (DuckDB would read one of them silently)
        con.execute(
            f"""INSERT INTO {q}
                SELECT rec, k[1], 'duplicated key ' || chr(39) || k[1] || chr(39), j
                FROM (SELECT rec, j, list_filter(ks, lambda x, i: list_position(ks, x) < i) AS k
                      FROM (SELECT rec, j, json_keys(j) AS ks FROM raw WHERE json_valid(j) AND json_type(j) = 'OBJECT'))
                WHERE len(k) > 0"""
        )
    if c.json:  # JSON records nested deeper than the limit
        con.execute(
            f"""INSERT INTO {q}
                SELECT d.rec, NULL, 'JSON nested ' || d.depth || ' levels deep (more than the limit of '
                       || {lim.max_json_depth} || '; see Limits.max_json_depth)', r.j
                FROM ({json_depth_sql("raw", str(lim.max_json_depth))}) d JOIN raw r USING (rec)"""
        )
    if transcoded:  # the records that held bytes that are not UTF-8 (the header is no record)
        con.execute(
            f"""INSERT INTO {q} SELECT rec, NULL, 'not valid UTF-8 (bytes replaced by U+FFFD)', j FROM raw
                WHERE contains(j, '{REPLACEMENT}') AND {"true" if c.json else "rec > 1"}"""
        )
    qrows = con.execute(f"SELECT rec, field, reason, raw FROM {q} ORDER BY rec, field").fetchall()
    con.execute(f"CREATE OR REPLACE TEMP TABLE good AS SELECT * FROM p3 WHERE rec NOT IN (SELECT rec FROM {q})")

    # ---- stage 5: output --------------------------------------------------------------------------
    prefix = _lit(mapping.name + ":")
    extra = "".join(f", {v} AS {k}" for k, v in sess_extra.items())
    money_cols = (
        ", CASE WHEN _total_cost_minor IS NOT NULL THEN _currency END AS currency, _total_cost_minor AS total_cost_minor"
        if money
        else ""
    )
    sessions = con.sql(
        f"""SELECT {prefix} || _session_key AS session_id,
               {_lit(mapping.name)} AS source,
               {prefix} || _site_id AS site_id,
               {prefix} || _port_id AS port_id,
               {prefix} || _charger_id AS charger_id,
               _connector_id AS connector_id,
               _started_at AS started_at,
               _ended_at AS ended_at,
               _started_at + to_microseconds(CAST(round(_charging_s * 1e6) AS BIGINT)) AS charging_ended_at,
               _energy_kwh AS energy_kwh,
               _plugged_s AS plugged_in_s,
               _charging_s AS charging_s,
               _plugged_s - _charging_s AS idle_s
               {money_cols}{extra},
               rec AS source_record
            FROM good ORDER BY rec"""
    ).to_arrow_table()
    implied = _implied(con, prefix, site_sql, port_sql, charger_sql)
    return Batch(
        format=fmt,
        records_read=n,
        tables={"sessions": sessions},
        implied=implied,
        quarantine=quarantine_table(bad + qrows),
        mapping=mapping.name,
    )


def _json_path(field: str) -> str:
    return ".".join('"' + p.replace('"', '\\"') + '"' for p in field.split("."))


def _field_names(spec: dict[str, Any]) -> dict[str, str]:
    """Source column names to cite in quarantine rows, per mapping part."""

    def first(v: Any) -> str | None:
        if v is None:
            return None
        text = v if isinstance(v, str) else str(v.get("value", ""))
        m = _PLACEHOLDER.search(text)
        return m.group(1).split("|")[0].rstrip("?") if m else None

    def ts(s: dict[str, Any] | None) -> str | None:
        if not s:
            return None
        return first(s.get("value")) or first(s.get("date"))

    ids = spec["ids"]
    out = {
        "session": first(ids["session"]) or "session id",
        "site": first(ids["site"]) or "site",
        "port": first(ids["port"]) or "port",
        "start": ts(spec["start"]) or "start",
        "end": ts(spec.get("end")) or "end",
        "energy": first(spec["energy"]["value"]) or "energy",
        "plugged_in": first(spec.get("plugged_in", {}).get("value")) or "plugged_in",
        "charger": first(ids.get("charger")) or "charger",
        "charging": first(spec.get("charging", {}).get("value"))
        or ts(spec.get("charging", {}).get("end"))
        or "charging",
        "amount": first(spec.get("money", {}).get("amount")) or "amount",
        "currency": first(spec.get("money", {}).get("currency")) or "currency",
        "zone": first(spec.get("time", {}).get("zone")) or "time zone",
    }
    for key in ("start", "end"):
        off = (spec.get(key) or {}).get("offset")
        out[key + "_offset"] = first(off) or key
    return out


def _checks(
    spec: dict[str, Any],
    *,
    tol: float,
    clamp: float,
    span: str | None,
    zone_sql: str,
    offsets: list[tuple[str | None, str | None, str]],
    repair_info: dict[str, str],
    field_names: dict[str, str],
    lim: limits.Limits,
) -> list[tuple[str, str, str]]:
    """``(condition, field, reason SQL)`` for every way a record can be rejected.

    Besides the mapping's own rules and the fields that cannot be read, the limits of *lim*:
    instants outside the time window, energy that is not finite, negative or more than the
    power limit can deliver in the plugged-in time (× margin + slack), a plugged-in time over
    the session-length limit, an amount not below the money limit, ids over 255 characters.
    """
    f = field_names
    out: list[tuple[str, str, str]] = []

    def add(cond: str, field: str, reason: str) -> None:
        out.append((f"NOT _rejected AND ({cond})", field.replace("'", "''"), reason))

    def q(expr: str) -> str:
        return f"coalesce('''' || {expr} || '''', 'empty')"

    for i, r in enumerate(spec.get("reject", [])):
        fld = str(r.get("field") or f.get("session")).replace("'", "''")
        out.append((f"_reject{i}", fld, f"{_lit(r['reason'] + ': ')} || {q(f'_reject{i}_value')}"))

    add(
        "_session_key IS NULL",
        f["session"],
        "'missing value for the session id (' || " + _lit(spec["ids"]["session"]) + " || ')'",
    )
    add(
        "_site_id IS NULL",
        f["site"],
        "'missing value for the site id (' || " + _lit(str(spec["ids"]["site"])) + " || ')'",
    )
    add(
        "_port_id IS NULL",
        f["port"],
        "'missing value for the port id (' || " + _lit(str(spec["ids"]["port"])) + " || ')'",
    )
    for key, col in (
        ("session", "_session_key"),
        ("site", "_site_id"),
        ("port", "_port_id"),
        ("charger", "_charger_id"),
    ):
        add(
            f"length({col}) > {MAX_ID_CHARS}",
            f[key],
            f"'{key} id longer than {MAX_ID_CHARS} characters: ' || {q(f'left({col}, 80)')}",
        )
    start = spec["start"]
    fmts = ", ".join(start.get("formats") or [start.get("format", "")])
    add("_start_text IS NULL", f["start"], "'missing start date/time'")
    if start.get("repair"):
        add(
            "_start_text IS NOT NULL AND _start_a IS NULL AND _start_b IS NULL",
            f["start"],
            f"'unparseable start date/time ' || {q('_start_text')} || ' (expected {fmts})'",
        )
        add(
            "(_start_a IS NOT NULL OR _start_b IS NOT NULL) AND _start_local IS NULL",
            f["start"],
            f"'start date ' || {q('_start_text')} || ' lies outside the file''s window {repair_info.get('window', '')} "
            "read either way (day/month)'",
        )
    else:
        add(
            "_start_text IS NOT NULL AND _start_a IS NULL",
            f["start"],
            f"'unparseable start date/time ' || {q('_start_text')} || ' (expected {fmts})'",
        )
    zone_spec = spec.get("time", {}).get("zone")
    for off, off_raw, key in offsets:
        if off is not None:
            add(
                f"{off_raw} IS NOT NULL AND {off} IS NULL",
                f[key + "_offset"],
                f"'unknown UTC offset or time-zone abbreviation ' || {q(off_raw)}",
            )
    if zone_spec is not None:
        add(
            f"_start_local IS NOT NULL AND _started_raw IS NULL AND ({zone_sql} IS NULL OR {zone_sql} NOT IN (SELECT name FROM _tz))",
            f["zone"],
            f"'unknown time zone ' || {q(zone_sql)}",
        )
    add(lim.window_sql("_started_raw"), f["start"], f"'start ' || {lim.window_reason_sql('_started_raw')}")
    end = spec.get("end")
    if end:
        efmts = ", ".join(end.get("formats") or [end.get("format", "")])
        add("_end_text IS NULL", f["end"], "'missing end date/time (session still open at export?)'")
        add(
            "_end_text IS NOT NULL AND _end_local IS NULL",
            f["end"],
            f"'unparseable end date/time ' || {q('_end_text')} || ' (expected {efmts})'",
        )
        add(
            "year(_end_local) = 1970 AND year(_start_local) > 1970",
            f["end"],
            f"'end ' || {q('_end_text')} || ' is the 1970-01-01 (Unix epoch) placeholder: no end recorded'",
        )
        add(
            f"{lim.window_sql('_end_raw')} AND NOT (year(_end_local) = 1970 AND year(_start_local) > 1970)",
            f["end"],
            f"'end ' || {lim.window_reason_sql('_end_raw')}",
        )
        add(
            "_end_at < _started_at AND year(_end_local) <> 1970",
            f["end"],
            f"'end ' || {q('_end_text')} || ' is before start ' || {q('_start_text')}"
            " || CASE WHEN _start_repaired OR _end_local IS DISTINCT FROM _end_a"
            " THEN ' (read as ' || strftime(_start_local, '%Y-%m-%d %H:%M') || ' and '"
            " || strftime(_end_local, '%Y-%m-%d %H:%M') || ')' ELSE '' END",
        )
    energy_f = f["energy"]
    add("_energy_text IS NULL", energy_f, "'missing energy'")
    add(
        "_energy_text IS NOT NULL AND _energy_kwh IS NULL",
        energy_f,
        f"'energy is not a number: ' || {q('_energy_text')}",
    )
    add(
        "_energy_kwh IS NOT NULL AND NOT isfinite(_energy_kwh)",
        energy_f,
        f"'energy is not a finite number: ' || {q('_energy_text')}",
    )
    add("isfinite(_energy_kwh) AND _energy_kwh < 0", energy_f, f"'negative energy: ' || {q('_energy_text')}")
    # the most a port can deliver while plugged in (the whole session-length limit when that time is
    # unknown; a negative plugged-in time has a reason of its own). A plugged-in time that is end
    # minus start is known only to the precision of those columns, often the minute: it may be up
    # to the duration tolerance longer.
    plugged_from_span = span is not None and "value" not in spec.get("plugged_in", {})
    longest = f"_plugged_s + {tol!r}" if plugged_from_span else "_plugged_s"
    hours = f"least(coalesce({longest}, {lim.max_session_s}), {lim.max_session_s}) / 3600"
    most = f"({lim.max_power_kw!r} * {hours} * {lim.energy_margin!r} + {lim.energy_slack_kwh!r})"
    add(
        f"isfinite(_energy_kwh) AND coalesce(_plugged_s, 0) >= 0 AND _energy_kwh > {most}",
        energy_f,
        f"'energy ' || {q('_energy_text')} || ' is more than a port can deliver in the plugged-in time (at most '"
        f" || CAST(round({most}, 3) AS VARCHAR) || ' kWh: {lim.max_power_kw:g} kW for '"
        f" || CAST(round({hours}, 3) AS VARCHAR) || ' h × {lim.energy_margin:g} + {lim.energy_slack_kwh:g} kWh;"
        " see --max-power-kw)'",
    )
    plugged = spec.get("plugged_in", {})
    charging = spec.get("charging", {})
    for key, text, secs, conf in (
        ("plugged_in", "_plugged_text", "_plugged_raw_s", plugged),
        ("charging", "_charging_text", "_charging_raw_s", charging),
    ):
        if "value" in conf:
            unit = conf.get("unit", "s")
            add(f"{text} IS NULL", f[key], f"'missing {key.replace('_', '-')} time'")
            add(
                f"{text} IS NOT NULL AND {secs} IS NULL",
                f[key],
                f"'{key.replace('_', '-')} time is not a duration ({unit}): ' || {q(text)}",
            )
            add(f"{secs} < 0", f[key], f"'negative {key.replace('_', '-')} time: ' || {q(text)}")
    session_f = f["plugged_in"] if "value" in plugged else f["end"] if end else f["charging"]
    add(
        f"_plugged_s > {lim.max_session_s}",
        session_f,
        f"'plugged-in time of ' || CAST(round(_plugged_s / 86400, 1) AS VARCHAR) || ' days is above the limit of "
        f"{lim.max_session_s / 86400:g} days per session (see Limits.max_session_s)'",
    )
    if "value" in plugged and span is not None:
        add(
            f"abs(({span}) - _plugged_raw_s) > {tol}",
            f["plugged_in"],
            f"'plugged-in time ' || {q('_plugged_text')} || ' disagrees with start ' || {q('_start_text')} "
            f"|| ' and end ' || {q('_end_text')} || ' by more than {tol:g} s'",
        )
    if "value" in charging and ("value" in plugged or span is not None):
        add(
            f"_charging_raw_s > _plugged_s + {tol}",
            f["charging"],
            f"'charging time ' || {q('_charging_text')} || ' exceeds the plugged-in time by more than {tol:g} s'",
        )
    if charging.get("end"):
        if charging.get("if_missing") != "plugged_in":
            add("_chend_text IS NULL", f["charging"], "'missing charging end'")
        add(
            "_chend_text IS NOT NULL AND _chend_local IS NULL",
            f["charging"],
            f"'unparseable charging end ' || {q('_chend_text')}",
        )
        add(lim.window_sql("_chend_raw"), f["charging"], f"'charging end ' || {lim.window_reason_sql('_chend_raw')}")
        add("_chend_at < _started_at", f["charging"], f"'charging ended ' || {q('_chend_text')} || ' before start'")
        add(
            f"_chend_at > _ended_at + to_microseconds(CAST({clamp * 1e6} AS BIGINT))",
            f["charging"],
            f"'charging ended ' || {q('_chend_text')} || ' more than {clamp:g} s after plug-out'",
        )
    money = spec.get("money")
    if money:
        amount = "TRY_CAST(_amount_text AS DECIMAL(38, 9))"
        add(
            f"_amount_text IS NOT NULL AND {amount} IS NULL",
            f["amount"],
            f"'amount is not a decimal number: ' || {q('_amount_text')}",
        )
        add(
            lim.money_sql(amount),
            f["amount"],
            f"'amount ' || {q('_amount_text')} || ' is not below the limit of {lim.max_money_major:,} per record'",
        )
        add(
            f"_amount_text IS NOT NULL AND (_currency IS NULL OR NOT {iso4217.payable_sql('_currency')})",
            f["currency"],
            currency_reason_sql("_currency", q("_currency")),
        )
    return out


def _implied(
    con: duckdb.DuckDBPyConnection,
    prefix: str,
    site_sql: dict[str, str],
    port_sql: dict[str, str],
    charger_sql: dict[str, str],
) -> dict[str, pa.Table]:
    """Sites, chargers and ports implied by the accepted sessions (latest session's values win).

    A coordinate or rated power that is not a finite number in its range (latitude ±90,
    longitude ±180, rated power above 0 and at most the power limit) is left empty: these rows
    are implied, so a bad value costs the value, not the session.
    """
    lim = limits.current()
    bounds = {
        "latitude": "abs({}) <= 90",
        "longitude": "abs({}) <= 180",
        "rated_kw": f"{{}} > 0 AND {{}} <= {lim.max_power_kw!r}",
    }

    def latest(expr: str, cast: str | None = None, name: str = "") -> str:
        e = f"TRY_CAST({expr} AS {cast})" if cast else expr
        if name in bounds:
            e = f"CASE WHEN {bounds[name].format(e, e)} THEN {e} END"
        return f"arg_max({e}, _started_at) FILTER (WHERE {e} IS NOT NULL)"

    site_cols = {
        "name": None,
        "time_zone": None,
        "address": None,
        "city": None,
        "state": None,
        "postal_code": None,
        "country": None,
        "latitude": "DOUBLE",
        "longitude": "DOUBLE",
    }
    unknown = set(site_sql) - set(site_cols)
    if unknown:
        raise ValueError(f"[site] keys {sorted(unknown)} are not sites columns")
    sel = "".join(f", {latest(site_sql[k], t, k)} AS {k}" for k, t in site_cols.items() if k in site_sql)
    sites = con.sql(
        f"""SELECT {prefix} || _site_id AS site_id{sel}, min(rec) AS source_record
            FROM good GROUP BY _site_id ORDER BY 1"""
    ).to_arrow_table()
    port_cols = {"evse_id": None, "power_type": None, "connector_standard": None, "rated_kw": "DOUBLE"}
    unknown = set(port_sql) - set(port_cols)
    if unknown:
        raise ValueError(f"[port] keys {sorted(unknown)} are not ports columns")
    sel = "".join(f", {latest(port_sql[k], t, k)} AS {k}" for k, t in port_cols.items() if k in port_sql)
    ports = con.sql(
        f"""SELECT {prefix} || _port_id AS port_id,
                   {prefix} || arg_max(_site_id, _started_at) AS site_id,
                   {prefix} || arg_max(_charger_id, _started_at) FILTER (WHERE _charger_id IS NOT NULL) AS charger_id,
                   {latest("_connector_id", "INTEGER")} AS connector_id{sel},
                   min(rec) AS source_record
            FROM good GROUP BY _port_id ORDER BY 1"""
    ).to_arrow_table()
    out = {"sites": sites, "ports": ports}
    charger_cols = {"vendor": None, "model": None}
    unknown = set(charger_sql) - set(charger_cols)
    if unknown:
        raise ValueError(f"[charger] keys {sorted(unknown)} are not chargers columns")
    if con.execute("SELECT count(*) FROM good WHERE _charger_id IS NOT NULL").fetchall()[0][0]:
        sel = "".join(f", {latest(charger_sql[k])} AS {k}" for k in charger_cols if k in charger_sql)
        out["chargers"] = con.sql(
            f"""SELECT {prefix} || _charger_id AS charger_id,
                       {prefix} || arg_max(_site_id, _started_at) AS site_id{sel},
                       min(rec) AS source_record
                FROM good WHERE _charger_id IS NOT NULL GROUP BY _charger_id ORDER BY 1"""
        ).to_arrow_table()
    return out


def read_sessions(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a session CSV export through a column mapping.

    Parameters
    ----------
    path : str or Path
        The CSV file (``.gz`` accepted).
    mapping : str, optional
        Mapping name (``formats/mappings/<name>.toml``); recognised from the
        header with :func:`match_mapping` when omitted.

    Returns
    -------
    Batch
        ``sessions`` rows (ids prefixed ``<mapping>:``, ``source`` = mapping),
        implied ``sites``, ``chargers`` and ``ports``, and quarantined records
        with reasons; ``records_read`` is the number of data rows. Exports carry
        no version, so ``last_updated_at`` is not provided (stored NULL): the
        loader then treats a session seen again in another export as a
        duplicate when identical and as a replacement when it differs.
    """
    path = Path(path)
    if mapping is None:
        from evrevops.formats import detect

        fmt, mapping = detect(path)
        if fmt != "session-csv" or mapping is None:
            raise FormatError(path, f"not a session CSV export (looks like {fmt}); pass a mapping")
    m = load_mapping(mapping)
    if m.kind != "csv":
        raise FormatError(path, f"mapping {mapping!r} reads {m.kind.upper()}, not CSV")
    return _read(path, m, "session-csv")


def read_acn(path: str | Path, mapping: str | None = None) -> Batch:
    """Read Caltech ACN-Data API sessions (``{"_meta": ..., "_items": [...]}``) via the ``acn`` mapping."""
    path = Path(path)
    m = load_mapping(mapping or "acn")
    if m.kind != "json":
        raise FormatError(path, f"mapping {m.name!r} reads CSV, not ACN-Data JSON")
    return _read(path, m, "acn-json")
