"""NEVI record files from a bulk table: the bytes :func:`~evrevops.uptime.nevi_files.write_records` writes, in SQL.

A bulk table (:func:`evrevops.uptime.nevi_bulk.schema`: the fields of one kind, strings,
floats, booleans, money as exact decimal text) is turned into its file's text in one DuckDB
query: a float as Python's ``repr`` (DuckDB's shortest round-trip text is the same), a
boolean ``true``/``false``, money as its text; a CSV cell quoted as :mod:`csv` quotes it
(RFC 4180), a JSON string quoted as :func:`json.dumps` quotes it. A table holding what needs
more care (a string with a control character, a quote or a backslash; a float that is not
finite, which is an error) is written by :func:`~evrevops.uptime.nevi_files.write_records`
itself, so the bytes and errors are always the same.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evrevops.uptime.nevi_fields import FIELDS, TYPES
from evrevops.uptime.nevi_files import write_records

_SPECIAL = r'[\x00-\x1f"\\]'  # characters csv or json would treat otherwise than the SQL below


def table_records(table: pa.Table, kind: str) -> list[dict[str, Any]]:
    """The records of a bulk table as :mod:`evrevops.uptime.nevi_records` gives them (money as Decimal)."""
    money = [f for f, t in TYPES[kind].items() if t == "decimal"]
    rows = table.to_pylist()
    for r in rows:
        for f in money:
            if r[f] is not None:
                r[f] = Decimal(r[f])
    return rows


def _needs_care(table: pa.Table, kind: str) -> bool:
    """Whether some value of *table* needs the per-record writer (special characters or a non-finite float)."""
    for f, t in TYPES[kind].items():
        col = table.column(f)
        if t == "string" and pc.any(pc.match_substring_regex(col, _SPECIAL)).as_py():
            return True
        if t == "number" and pc.any(pc.invert(pc.is_finite(col))).as_py():
            return True
    return False


def _csv_cell(f: str, t: str) -> str:
    col = f'"{f}"'
    if t == "boolean":
        return f"CASE WHEN {col} IS NULL THEN '' WHEN {col} THEN 'true' ELSE 'false' END"
    if t == "string":
        return f"""CASE WHEN {col} IS NULL THEN '' WHEN contains({col}, ',') THEN '"' || {col} || '"' ELSE {col} END"""
    return f"coalesce(CAST({col} AS VARCHAR), '')"


def _json_value(f: str, t: str) -> str:
    col = f'"{f}"'
    if t == "boolean":
        return f"CASE WHEN {col} IS NULL THEN 'null' WHEN {col} THEN 'true' ELSE 'false' END"
    if t == "string":
        return f"""coalesce('"' || {col} || '"', 'null')"""
    return f"coalesce(CAST({col} AS VARCHAR), 'null')"


def write_table(table: pa.Table, path: str | Path, fmt: str, kind: str) -> Path:
    """Write a bulk table of records of *kind* as :func:`~evrevops.uptime.nevi_files.write_records` would.

    Parameters
    ----------
    table : pyarrow.Table
        The records, with the fields of :data:`FIELDS` ``[kind]`` (:func:`evrevops.uptime.nevi_bulk.schema`).
    path : str or Path
        File to write (replaced).
    fmt : {"json", "csv"}
        Output format.
    kind : {"session", "uptime", "outage"}
        The records' kind.

    Returns
    -------
    Path
        The file written.
    """
    if fmt not in ("json", "csv") or _needs_care(table, kind):
        return write_records(table_records(table, kind), path, fmt, kind=kind)
    fields = FIELDS[kind]
    types = TYPES[kind]
    if fmt == "json":
        parts = " || ', ' || ".join(f"'{json.dumps(f)}: ' || {_json_value(f, types[f])}" for f in fields)
        line, sep, head, tail = f"'  {{' || {parts} || '}}'", ",\n", "[\n", "\n]\n"
    else:
        line = " || ',' || ".join(_csv_cell(f, types[f]) for f in fields)
        sep, head, tail = "\r\n", ",".join(fields) + "\r\n", "\r\n"
    con = duckdb.connect()
    try:
        con.register("records", table.append_column("_i", pa.array(np.arange(table.num_rows, dtype=np.int64))))
        row = con.execute(f"SELECT string_agg({line}, ? ORDER BY _i) FROM records", [sep]).fetchone()
    finally:
        con.close()
    body = row[0] if row else None
    text = head + body + tail if body is not None else ("[\n]\n" if fmt == "json" else head)
    path = Path(path)
    path.write_bytes(text.encode("utf-8"))
    return path
