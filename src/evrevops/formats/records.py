"""Bulk reading of JSON record files with DuckDB.

Turns an NDJSON file, a JSON array, or an OCPI/URDB-style envelope
(``{"data": [...]}``, ``{"items": [...]}``) into an in-memory DuckDB table
``raw(rec BIGINT, j VARCHAR)`` — one row per record, numbered from 1 in file
order (the line number for NDJSON) — without a Python loop over records.
Malformed NDJSON lines are returned for quarantine.
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
from evrevops.formats import limits
from evrevops.formats.base import FormatError, decode_line, file_facts, sniff_json

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
    con.execute(f"SET temp_directory = {_lit(os.path.join(tempfile.gettempdir(), 'evrevops-duckdb'))}")
    for m in _MACROS:
        con.execute(m)
    return con


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


# the white space DuckDB's NDJSON reader skips around a record (space, tab, vertical tab, form feed, CR)
_SPACE = "chr(32) || chr(9) || chr(11) || chr(12) || chr(13)"


def load_lines(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str = "lines",
    undecodable: list[tuple[int, str | None, str, str | None]] | None = None,
) -> int:
    """Load a text file's lines into ``table(rec, j)``; ``rec`` is the 1-based line number.

    Blank lines (nothing but white space) are kept out of the table but still numbered, so
    ``rec`` is the true line number; ``new_line='\\r\\n'`` takes both LF and CRLF as one line
    end, so a file with mixed line ends keeps its numbering (by default DuckDB settles on the
    first line's ending and counts a stray CR as a line of its own). A UTF-8 byte-order mark on
    line 1 is dropped. Lines up to the line limit in force
    (:attr:`~evrevops.formats.limits.Limits.max_line_bytes`) are read.

    DuckDB's CSV reader cannot be trusted with every byte: it refuses a whole file for one
    line that is not UTF-8, takes a lone CR for a line end (and loses the character after it)
    and cuts a line at the delimiter byte. A file with such bytes is split into lines in
    Python instead (:func:`_split_lines`, in batches): at LF only, each line decoded on its
    own; a line that is not UTF-8 is left out of the table and appended to *undecodable* as a
    quarantine row ``(line, None, reason, raw)`` (its bytes shown with U+FFFD). Returns the
    number of non-blank lines, undecodable ones included.

    Raises
    ------
    FormatError
        When DuckDB cannot read the file as lines of text for another reason.
    """
    bad: list[tuple[int, str | None, str, str | None]] = []
    if _awkward_bytes(path):
        bad = _split_lines(con, path, table)
    else:
        try:
            _load_lines_sql(con, path, table)
        except duckdb.Error as exc:
            msg = str(exc)
            if "unicode" not in msg.lower() and "utf-8" not in msg.lower():
                raise FormatError(path, f"cannot read the file as lines of text: {msg.splitlines()[0]}") from None
            bad = _split_lines(con, path, table)
    if undecodable is not None:
        undecodable.extend(bad)
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] + len(bad)


def _load_lines_sql(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> None:
    p = _sql_path(path)
    comp = ", compression='gzip'" if path.suffix == ".gz" else ""
    max_line = max(limits.current().max_line_bytes, 2 << 20)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT rec, CASE WHEN rec = 1 THEN ltrim(j, chr(65279)) ELSE j END AS j
            FROM (SELECT row_number() OVER () AS rec, line AS j
                  FROM read_csv('{p}', columns={{'line': 'VARCHAR'}}, delim='\\x01', quote='', escape='',
                                header=false, auto_detect=false, strict_mode=false, new_line='\\r\\n',
                                null_padding=false, allow_quoted_nulls=false,
                                max_line_size={max_line}, buffer_size={max(2 * max_line, 32 << 20)}{comp}))
            WHERE j IS NOT NULL AND trim(j, {_SPACE}) <> ''"""
    )


def _awkward_bytes(path: Path, chunk: int = 1 << 24) -> bool:
    """True when *path* holds a byte DuckDB's CSV line reader mishandles: a CR not followed by LF,
    the delimiter byte 0x01, or NUL.

    One pass over the bytes in blocks, each searched with ``memchr`` (``bytes.__contains__``);
    CRs are counted only in a block that has one, so a file with LF line ends costs about a read.
    """
    cr_at_end = False
    with _open_bytes(path) as f:
        while block := f.read(chunk):
            if cr_at_end and not block.startswith(b"\n"):
                return True
            if b"\x00" in block or b"\x01" in block:
                return True
            cr_at_end = block.endswith(b"\r")
            if b"\r" in block:
                body = block[:-1] if cr_at_end else block
                if body.count(b"\r") != body.count(b"\r\n"):
                    return True
    return cr_at_end


def _split_lines(
    con: duckdb.DuckDBPyConnection, path: Path, table: str
) -> list[tuple[int, str | None, str, str | None]]:
    """Load ``table(rec, j)`` from *path*'s lines split at LF in Python, in batches of Arrow
    arrays; return quarantine rows for the lines that are not UTF-8."""
    bad: list[tuple[int, str | None, str, str | None]] = []
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (rec BIGINT, j VARCHAR)")
    recs: list[int] = []
    texts: list[str] = []

    def flush() -> None:
        con.register("_batch", pa.table({"rec": pa.array(recs, pa.int64()), "j": pa.array(texts, pa.string())}))
        con.execute(f"INSERT INTO {table} SELECT rec, j FROM _batch")
        con.unregister("_batch")
        recs.clear()
        texts.clear()

    space = b" \t\x0b\x0c\r"
    with _open_bytes(path) as f:
        for i, raw in enumerate(f, start=1):
            raw = raw.removesuffix(b"\n").removesuffix(b"\r")
            if i == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip(space):
                continue
            text, why = decode_line(raw)
            if text is None:
                bad.append((i, None, why, raw.decode("utf-8", errors="replace")))
                continue
            recs.append(i)
            texts.append(text)
            if len(recs) >= 50_000:
                flush()
    flush()
    return bad


def _open_bytes(path: Path):
    import gzip

    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


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
    p = _sql_path(path)
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
    is_obj = f"left(ltrim(j, {_SPACE}), 1) = '{{'"  # white space before the object, as read_json skips it
    if structure is None:
        bad_sql = f"SELECT rec, j, json_valid(j) FROM raw WHERE NOT ({is_obj}) OR NOT json_valid(j)"
    else:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE parsed AS
                SELECT rec, c {derive}
                FROM (SELECT rec, j, try(from_json(j, '{structure}')) AS c
                      FROM (SELECT rec, trim(j, {_SPACE}) AS j FROM raw) WHERE {is_obj})
                WHERE c IS NOT NULL"""
        )
        bad_sql = "SELECT rec, j, json_valid(j) FROM raw WHERE rec NOT IN (SELECT rec FROM parsed)"
    bad = [(rec, None, bad_record_reason(j, ok), j) for rec, j, ok in con.execute(bad_sql + " ORDER BY rec").fetchall()]
    return n, sorted(undecodable + bad)


def _first_line_is_a_record(path: Path, envelope_keys: tuple[str, ...]) -> bool:
    """True when the first non-blank line of *path* is a whole JSON object that is no envelope."""
    with _open_bytes(path) as f:
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


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def load_csv(
    con: duckdb.DuckDBPyConnection, path: Path, header: list[str], delim: str = ",", encoding: str = "utf-8"
) -> tuple[int, list[tuple[int, None, str, str]]]:
    """Load a CSV into ``src(rec, c0, c1, ...)`` (all text) and the view ``raw(rec, j)``, in bulk.

    ``rec`` is the record's line number (header = line 1, blank lines counted):
    physical lines are read in a second light pass and matched to rows in
    order, which is exact unless a quoted field spans lines; then records are
    numbered consecutively and ``raw`` is the record re-joined as CSV. Rows
    whose number of fields differs from the header's are not loaded but
    returned for quarantine (DuckDB ``store_rejects``).

    Returns
    -------
    (records_read, malformed)
        ``malformed`` lists ``(line, None, reason, raw line)``.
    """
    p = str(path).replace("'", "''")
    comp = ", compression='gzip'" if path.suffix == ".gz" else ""
    cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
    args = (
        f"auto_detect=false, header=true, columns={cols}, delim={_lit(delim)}, quote='\"', escape='\"', "
        f"encoding={_lit(encoding)}, store_rejects=true, rejects_table='_rej', rejects_scan='_rej_scan'{comp}"
    )
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _rows AS SELECT row_number() OVER () AS k, * FROM read_csv('{p}', {args})"
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _lines AS
                SELECT row_number() OVER () AS ln, line
                FROM read_csv('{p}', columns={{'line': 'VARCHAR'}}, delim='\x01', quote='', escape='',
                              header=false, auto_detect=false, strict_mode=false, null_padding=false,
                              new_line='\\r\\n', allow_quoted_nulls=false, encoding={_lit(encoding)}{comp})"""
        )
    except duckdb.Error as exc:
        m = re.search(r"[Ll]ine:? (\d+)", str(exc))
        raise FormatError(
            path, f"not a readable CSV: {str(exc).splitlines()[0]}", record=int(m.group(1)) if m else None
        ) from None
    found = "TRY_CAST(regexp_extract(error_message, 'Found: (\\d+)', 1) AS INTEGER)"
    rejected = con.execute(
        f"""SELECT line,
                   CASE WHEN bool_and(error_type = 'MISSING COLUMNS')
                        THEN 'malformed CSV row: {len(header)} fields expected, ' || min({found}) || ' found'
                        WHEN bool_and(error_type = 'TOO MANY COLUMNS')
                        THEN 'malformed CSV row: {len(header)} fields expected, ' || max({found}) || ' found'
                        ELSE 'malformed CSV row: ' || min(error_message) END,
                   rtrim(ltrim(any_value(csv_line), chr(13) || chr(10)), chr(13) || chr(10))
            FROM _rej GROUP BY line ORDER BY line"""
    ).fetchall()
    n_rows = con.execute("SELECT count(*) FROM _rows").fetchall()[0][0]
    n = n_rows + len(rejected)
    nonblank = con.execute("SELECT count(*) FROM _lines WHERE ln > 1 AND trim(coalesce(line, '')) <> ''").fetchall()[0][
        0
    ]
    exact = nonblank == n  # one physical line per record: no quoted field spans lines
    candidates = (
        "SELECT ln FROM _lines WHERE ln > 1 AND trim(coalesce(line, '')) <> ''"
        if exact
        else f"SELECT range AS ln FROM range(2, {n + 2})"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rejected_lines AS SELECT UNNEST(?::BIGINT[]) AS ln", [[r[0] for r in rejected]]
    )
    sel = ", ".join(f"r.c{i}" for i in range(len(header)))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE src AS
            SELECT l.ln AS rec, {sel}
            FROM _rows r JOIN (SELECT ln, row_number() OVER (ORDER BY ln) AS k
                               FROM ({candidates}) WHERE ln NOT IN (SELECT ln FROM _rejected_lines)) l
              ON l.k = r.k
            ORDER BY rec"""
    )
    if exact:
        con.execute("CREATE OR REPLACE TEMP VIEW raw AS SELECT ln AS rec, line AS j FROM _lines")
    else:  # the record re-joined as CSV
        quoted = [
            f"""CASE WHEN c{i} IS NULL THEN '' WHEN regexp_matches(c{i}, '[{re.escape(delim)}"\\r\\n]')
                     THEN '"' || replace(c{i}, '"', '""') || '"' ELSE c{i} END"""
            for i in range(len(header))
        ]
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW raw AS SELECT rec, concat_ws({_lit(delim)}, {', '.join(quoted)}) AS j FROM src"
        )
    return n, [(int(line), None, reason, raw) for line, reason, raw in rejected]


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
    return "{" + ", ".join(f"{_lit(k)}: {_lit(sql_type(v))}" for k, v in fields.items()) + "}"


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
                            FROM read_json('{_sql_path(path)}', format='newline_delimited',
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
        f"CASE WHEN coalesce(({check[0]}), false) THEN {{'field': {check[3] if len(check) > 3 else _lit(check[1])}, "
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
