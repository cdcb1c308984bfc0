"""Bulk reading of JSON record files with DuckDB, and the parsing connection every reader uses.

:func:`connect` opens the in-memory DuckDB a reader parses in (UTC, the money and time SQL
macros, a bounded memory). :func:`json_records` turns an NDJSON file, a JSON array, or an
OCPI/URDB-style envelope (``{"data": [...]}``, ``{"items": [...]}``) into an in-memory DuckDB
table ``raw(rec BIGINT, j VARCHAR)`` — one row per record, numbered from 1 in file order (the
line number for NDJSON, read by :func:`evrevops.formats.text_lines.load_lines`) — without a
Python loop over records; malformed records are returned for quarantine. :func:`ndjson_fast`
reads a clean NDJSON file in one streaming pass instead, and :func:`quarantine_from_checks`
turns SQL checks into quarantine rows. CSV files are loaded by
:func:`evrevops.formats.csv_records.load_csv`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evrevops.core.money import currency_exponent_sql
from evrevops.core.sqltext import sql_literal
from evrevops.formats import limits
from evrevops.formats.base import FormatError, file_facts, sniff_json
from evrevops.formats.text_lines import SPACE_SQL, load_lines, open_bytes, sql_path

# Exact decimal text -> integer minor units, rounding half away from zero (as base.to_minor).
# Amounts that fit DECIMAL(18, 9) (|x| < 10^9, the common case) take 64-bit decimal arithmetic,
# about ten times faster than the 128-bit DECIMAL(38, 9) path that larger amounts take. Both cast
# the text to 9 decimal places first, then round once to the currency's minor unit.
_MACROS = [
    # substring tests, never a join (see base.currency_exponent_sql)
    f"CREATE OR REPLACE MACRO currency_exponent(cur) AS {currency_exponent_sql('cur')}",
    """CREATE OR REPLACE MACRO _scaled_minor(d, e) AS
        CASE e WHEN 0 THEN CAST(round(d, 0) AS BIGINT)
               WHEN 3 THEN CAST(round(d, 3) * 1000 AS BIGINT)
               ELSE CAST(round(d, 2) * 100 AS BIGINT) END""",
    # minor_units(amount, exponent): for callers that know the exponent once per row.
    """CREATE OR REPLACE MACRO minor_units(amount, e) AS
        coalesce(_scaled_minor(TRY_CAST(amount AS DECIMAL(18, 9)), e),
                 _scaled_minor(TRY_CAST(amount AS DECIMAL(38, 9)), e))""",
    """CREATE OR REPLACE MACRO to_minor(amount, cur) AS minor_units(amount, currency_exponent(cur))""",
    # Missing, empty or only white space; the first character settles most values without a trim.
    """CREATE OR REPLACE MACRO blank(txt) AS
        CASE WHEN txt IS NULL THEN true WHEN ascii(txt) > 32 THEN false ELSE trim(txt) = '' END""",
    # ISO-8601 text -> UTC naive timestamp; text without offset is taken as UTC (OCPI DateTime).
    # Text ending in 'Z' is already UTC and takes the plain (faster) TIMESTAMP cast.
    """CREATE OR REPLACE MACRO utc_ts(txt) AS
        CASE WHEN suffix(txt, 'Z') THEN TRY_CAST(txt AS TIMESTAMP)
             ELSE TRY_CAST(TRY_CAST(txt AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP) END""",
]


def parse_memory_limit() -> str:
    """DuckDB memory limit of a parsing connection: a quarter of physical memory (at least 1 GiB).

    DuckDB's own default (80 %) leaves nothing for the Arrow tables a reader
    hands over, and a reader that builds many temporary tables from a
    multi-GB log (OCPP) then grows past the machine; under a limit DuckDB
    reuses and, if it must, spills its buffers to the system temp folder.
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return f"{max(1 << 30, total // 4) >> 20}MB"


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for parsing, in UTC, with the money/time macros and a bounded memory."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{parse_memory_limit()}'")
    con.execute(f"SET temp_directory = {sql_literal(os.path.join(tempfile.gettempdir(), 'evrevops-duckdb'))}")
    for m in _MACROS:
        con.execute(m)
    return con


def json_records(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    structure: str | None = None,
    derive: str = "",
    envelope_keys: tuple[str, ...] = ("data", "items"),
) -> tuple[int, list[tuple[int, str | None, str, str | None]]]:
    """Create ``raw(rec, j)`` with one row per JSON record of *path*.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection from :func:`connect`.
    path : Path
        NDJSON, JSON array, a single JSON object, or an envelope object whose
        first key found in *envelope_keys* holds the array of records.
    structure : str, optional
        A ``from_json`` structure. When given, also creates
        ``parsed(rec, c, <derive>)`` with ``c`` the record parsed into that
        structure, in a single pass; records that are not JSON objects are
        left out of ``parsed`` and reported in ``bad``.
    derive : str
        Extra select-list items over ``c`` for ``parsed`` (e.g.
        ``", TRY_CAST(c.x AS DOUBLE) AS x"``); they may also use ``j``, the
        record's text (e.g. ``json_keys(j)``).

    Returns
    -------
    (records_read, bad)
        ``bad`` lists ``(record, field, reason, raw)`` for malformed records:
        lines that are not UTF-8, text that is not JSON (``malformed JSON``), JSON
        nested deeper than the limit in force, and records that are not objects.

    Raises
    ------
    FormatError
        When the file is no JSON array, NDJSON or JSON object at all, or a JSON
        document (not NDJSON) is malformed or not UTF-8.
    """
    kind, _ = sniff_json(path)
    if kind == "object" and _first_line_is_a_record(path, envelope_keys):
        kind = "ndjson"  # a whole record on line 1: NDJSON, whatever the next lines hold (quarantined when bad)
    p = sql_path(path)
    undecodable: list[tuple[int, str | None, str, str | None]] = []
    if kind == "ndjson":
        n = load_lines(con, path, "raw", undecodable)
    else:
        try:
            if kind == "array":
                con.execute(
                    f"""CREATE OR REPLACE TEMP TABLE raw AS
                        SELECT row_number() OVER () AS rec, json::VARCHAR AS j
                        FROM read_json_objects('{p}', format='array', maximum_object_size=1073741824)"""
                )
            elif kind == "object":
                con.execute(
                    f"""CREATE OR REPLACE TEMP TABLE doc AS
                        SELECT json FROM read_json_objects('{p}', format='unstructured', maximum_object_size=1073741824)"""
                )
                if con.execute("SELECT count(*) FROM doc").fetchall()[0][0] != 1:
                    raise FormatError(path, "expected one JSON document")
                key = None
                for k in envelope_keys:
                    if con.execute(f"SELECT json_type(json, '$.{k}') = 'ARRAY' FROM doc").fetchall()[0][0]:
                        key = k
                        break
                if key is None:
                    con.execute(
                        "CREATE OR REPLACE TEMP TABLE raw AS SELECT 1::BIGINT AS rec, json::VARCHAR AS j FROM doc"
                    )
                else:
                    con.execute(
                        f"""CREATE OR REPLACE TEMP TABLE raw AS
                            SELECT generate_subscripts(arr, 1)::BIGINT AS rec, unnest(arr)::VARCHAR AS j
                            FROM (SELECT json_extract(json, '$.{key}[*]') AS arr FROM doc)"""
                    )
                con.execute("DROP TABLE doc")
            else:
                raise FormatError(path, "not a JSON array, NDJSON or JSON object")
        except duckdb.Error as exc:
            raise FormatError(path, f"not valid JSON: {str(exc).splitlines()[0]}") from None
        n = con.execute("SELECT count(*) FROM raw").fetchall()[0][0]
    is_obj = f"left(ltrim(j, {SPACE_SQL}), 1) = '{{'"  # white space before the object, as read_json skips it
    if structure is None:
        bad_sql = f"SELECT rec, j, json_valid(j) FROM raw WHERE NOT ({is_obj}) OR NOT json_valid(j)"
    else:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE parsed AS
                SELECT rec, c {derive}
                FROM (SELECT rec, j, try(from_json(j, '{structure}')) AS c
                      FROM (SELECT rec, trim(j, {SPACE_SQL}) AS j FROM raw) WHERE {is_obj})
                WHERE c IS NOT NULL"""
        )
        bad_sql = "SELECT rec, j, json_valid(j) FROM raw WHERE rec NOT IN (SELECT rec FROM parsed)"
    bad = [(rec, None, bad_record_reason(j, ok), j) for rec, j, ok in con.execute(bad_sql + " ORDER BY rec").fetchall()]
    return n, sorted(undecodable + bad)


def _first_line_is_a_record(path: Path, envelope_keys: tuple[str, ...]) -> bool:
    """True when the first non-blank line of *path* is a whole JSON object that is no envelope."""
    with open_bytes(path) as f:
        for raw in f:
            if raw.strip(b"\xef\xbb\xbf \t\r\n"):
                break
        else:
            return False
    try:
        obj = json.loads(raw.decode("utf-8").lstrip("\ufeff"))
    except (ValueError, RecursionError):
        return False
    return isinstance(obj, dict) and not any(isinstance(obj.get(k), list) for k in (*envelope_keys, "_items"))


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def json_depth(text: str) -> int:
    """Deepest nesting of arrays and objects in the JSON *text* (0 for a scalar), without parsing it.

    Strings are blanked first, so brackets inside them do not count; malformed text gets a
    best-effort answer. Vectorised (no recursion, no loop over characters): safe on a line of
    100,000 opening brackets.
    """
    octets = np.frombuffer(_JSON_STRING.sub('""', text).encode("utf-8", "surrogatepass"), np.uint8)
    step = np.zeros(octets.shape, np.int32)
    step[(octets == 0x5B) | (octets == 0x7B)] = 1  # [ {
    step[(octets == 0x5D) | (octets == 0x7D)] = -1  # ] }
    return int(np.cumsum(step).max(initial=0))


def bad_record_reason(text: str, valid: bool) -> str:
    """The quarantine reason of a record that did not parse into an object (*valid*: DuckDB's ``json_valid``)."""
    limit = limits.current().max_json_depth
    depth = json_depth(text)
    if depth > limit:
        return f"JSON nested {depth:,} levels deep, deeper than the limit of {limit}"
    return "malformed JSON" if not valid else "record is not a JSON object"


def structure_columns(structure: str) -> str:
    """The ``columns`` argument of ``read_json`` for a ``from_json`` *structure*.

    ``{"a": "VARCHAR", "b": {"c": "DOUBLE"}, "d": [{"e": "VARCHAR"}]}`` becomes
    ``{'a': 'VARCHAR', 'b': 'STRUCT("c" DOUBLE)', 'd': 'STRUCT("e" VARCHAR)[]'}``.
    """

    def sql_type(node: object) -> str:
        if isinstance(node, str):
            return node
        if isinstance(node, list):
            return sql_type(node[0]) + "[]"
        return "STRUCT(" + ", ".join(f'"{k}" {sql_type(v)}' for k, v in node.items()) + ")"

    fields = json.loads(structure)
    return "{" + ", ".join(f"{sql_literal(k)}: {sql_literal(sql_type(v))}" for k, v in fields.items()) + "}"


def checks_failed(checks: list[tuple[str, ...]]) -> str:
    """A SQL boolean that is true when any of *checks* (as for :func:`quarantine_from_checks`) fails."""
    return " OR ".join(f"coalesce(({check[0]}), false)" for check in checks)


def ndjson_fast(
    con: duckdb.DuckDBPyConnection, path: Path, structure: str, derive: str, select: str, failed: str
) -> pa.Table | None:
    """Read a clean NDJSON file in one streaming, parallel pass; None when it is not clean.

    DuckDB's ``read_json`` parses the file straight into *structure* (no table
    of raw lines, no window to number them), ``c`` being the record, and
    *select* (over ``c`` and the columns of *derive*) is returned as Arrow with
    ``source_record`` = line number. The numbering relies on DuckDB keeping the
    scan's order (``preserve_insertion_order``), which holds for scalar
    expressions but not through a join: a plan with a join raises RuntimeError.

    The pass vouches for nothing it cannot prove, so it returns None — and the
    caller reads the file the careful way (:func:`json_records`) — when

    * the file is compressed, or ``read_json`` rejects any line (malformed
      JSON, a record that is not an object, a value that does not fit the
      structure, a byte-order mark, a line over DuckDB's default 16 MB object
      size, which keeps its read buffers small and the pass about 20 % faster);
    * the rows do not match the file's physical lines one to one (a blank
      line, which ``read_json`` skips, would shift the line numbers);
    * any record fails a check (*failed* is true), so that rejected records
      are reported with their raw text by the careful reader;
    * a value comes back as bytes that are not UTF-8: ``read_json`` decodes a JSON escape of a
      surrogate pair (``"\\ud800\\udc00"``) into one 3-byte sequence per surrogate, which no
      UTF-8 decoder takes (the careful reader decodes it as the one character it names).
    """
    if path.suffix == ".gz":
        return None
    lines = file_facts(path).lines
    try:
        rel = con.sql(
            f"""SELECT {select}, ({failed}) AS _failed
                FROM (SELECT c, {derive}
                      FROM (SELECT struct_pack(*COLUMNS(*)) AS c
                            FROM read_json('{sql_path(path)}', format='newline_delimited',
                                           columns={structure_columns(structure)})))"""
        )
        reorders = re.search(r"\bjoin\b|cross_product", rel.explain(), re.IGNORECASE) is not None
        table = None if reorders else rel.to_arrow_table()
    except (duckdb.Error, UnicodeDecodeError):
        return None
    if table is None:
        raise RuntimeError(
            "ndjson_fast: the select has a join in its plan, and a join does not keep the file's row order "
            "that source_record is numbered by; use scalar expressions only (a long IN (...) or list_contains on a "
            "constant list is planned as a join: test a delimited string with contains() instead)"
        )
    if table.num_rows != lines or pc.any(table.column("_failed")).as_py():
        return None
    table = table.drop_columns(["_failed"])
    return table.append_column("source_record", pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64)))


def quarantine_from_checks(con: duckdb.DuckDBPyConnection, source: str, checks: list[tuple[str, ...]]) -> str:
    """Build ``q(rec, field, reason, raw)`` from SQL checks over *source* in one pass.

    Each check is ``(condition, field, reason_sql)`` where *condition* is true for
    a bad record and *reason_sql* is a SQL string expression (may quote the value);
    a fourth item, when given, is a SQL string expression for the field instead of
    the constant *field* (e.g. ``'evses[' || i || '].uid'``). Returns the table name ``q``.
    """
    items = ", ".join(
        f"CASE WHEN coalesce(({check[0]}), false) THEN {{'field': {check[3] if len(check) > 3 else sql_literal(check[1])}, "
        f"'reason': {check[2]}}} END"
        for check in checks
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE q AS
            SELECT b.rec, b.e.field AS field, b.e.reason AS reason, r.j AS raw
            FROM (SELECT rec, unnest(list_filter([{items}], lambda x: x IS NOT NULL)) AS e FROM {source}) b
            LEFT JOIN raw r ON r.rec = b.rec"""
    )
    return "q"
