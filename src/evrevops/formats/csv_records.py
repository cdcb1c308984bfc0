"""A CSV file into DuckDB tables in bulk, each record numbered by its line in the file.

:func:`load_csv` is the loading step of every CSV reader: evrevops' own formats
(:mod:`evrevops.formats.csv_engine`), session exports (:mod:`evrevops.formats.session_csv`) and
CRM exports (:mod:`evrevops.formats.crm`).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from evrevops.core.sqltext import sql_literal
from evrevops.formats.base import FormatError
from evrevops.formats.text_lines import sql_path


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
    p = sql_path(path)
    comp = ", compression='gzip'" if path.suffix == ".gz" else ""
    cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
    args = (
        f"auto_detect=false, header=true, columns={cols}, delim={sql_literal(delim)}, quote='\"', escape='\"', "
        f"encoding={sql_literal(encoding)}, store_rejects=true, rejects_table='_rej', rejects_scan='_rej_scan'{comp}"
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
                              new_line='\\r\\n', allow_quoted_nulls=false, encoding={sql_literal(encoding)}{comp})"""
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
            f"CREATE OR REPLACE TEMP VIEW raw AS SELECT rec, concat_ws({sql_literal(delim)}, {', '.join(quoted)}) AS j FROM src"
        )
    return n, [(int(line), None, reason, raw) for line, reason, raw in rejected]
