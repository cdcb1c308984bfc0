"""Validation of a bulk table of NEVI records against the specification's JSON Schema, every record checked at once.

The published schemas are flat: an object with ``required`` fields and, per property, only
``type``, ``format``, ``pattern``, ``minimum`` / ``maximum``, ``enum`` or a ``$ref`` to such a
definition. A record then satisfies its schema exactly when each of its values satisfies its
property's subschema, so :func:`validate_table` compiles every subschema into one SQL test run
over the whole table (a ``pattern`` is tested with Python's :mod:`re`, as ``jsonschema`` does,
once per distinct value). Each record that fails (or whose value the SQL cannot judge alone: a
date-time with characters outside ASCII) is then given, in order, to the per-record
:func:`~evrevops.uptime.nevi_export.validate`, which raises the same :class:`RecordError` it
would raise for the whole list. A schema using any other keyword is validated record by record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evrevops.uptime.nevi_bulk import schema
from evrevops.uptime.nevi_fields import NULLABLE, TYPES
from evrevops.uptime.nevi_write import table_records

_ANNOTATIONS = frozenset({"description", "$id", "$comment", "title", "examples", "default"})
_PROPERTY_KEYWORDS = frozenset({"type", "format", "pattern", "minimum", "maximum", "enum", "$ref"})
_TOP_KEYWORDS = frozenset({"type", "required", "properties"})
_JSON_TYPES = {"string": "string", "boolean": "boolean", "number": "number", "decimal": "number"}
# RFC 3339 date-time, as evrevops.uptime.nevi_export.is_rfc3339 reads it (ASCII digits only).
_RFC3339_SQL = r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$"


class Unsupported(Exception):
    """The schema uses a keyword the bulk validator does not compile."""


def _resolve(sub: dict[str, Any], base: Path) -> dict[str, Any]:
    """*sub* with its ``$ref`` followed (draft 7: a ``$ref`` replaces its siblings)."""
    seen = 0
    while "$ref" in sub:
        seen += 1
        if seen > 8:
            raise Unsupported("$ref chain")
        ref = sub["$ref"]
        name, _, pointer = ref.partition("#")
        doc = json.loads((base / Path(name).name).read_text(encoding="utf-8")) if name else None
        if doc is None:
            raise Unsupported("local $ref")
        for part in [p for p in pointer.split("/") if p]:
            doc = doc[part]
        sub = doc
    return sub


def _date_time_sql(col: str) -> str:
    """SQL: the string *col* is not an RFC 3339 date-time (or is not ASCII: judged per record)."""
    # once the pattern matches, every part sits at a fixed place (the offset at the end)
    y, mo, d, h, mi, sec = (f"try_cast(substr({col}, {a}, {n}) AS INTEGER)" for a, n in
                            ((1, 4), (6, 2), (9, 2), (12, 2), (15, 2), (18, 2)))  # fmt: skip
    off_h, off_m = f"try_cast(substr({col}, -5, 2) AS INTEGER)", f"try_cast(substr({col}, -2, 2) AS INTEGER)"
    valid_date = f"try_cast(printf('%04d-%02d-%02d', {y}, {mo}, {d}) AS DATE) IS NOT NULL"
    return (
        f"(NOT regexp_full_match({col}, '^[\\x00-\\x7f]*$') OR NOT regexp_full_match({col}, '{_RFC3339_SQL}') "
        f"OR {y} < 1 OR {mo} NOT BETWEEN 1 AND 12 OR {d} < 1 OR {d} > 31 OR NOT ({valid_date}) "
        f"OR {h} > 23 OR {mi} > 59 OR {sec} > 60 "
        f"OR (upper(right({col}, 1)) <> 'Z' AND ({off_h} > 23 OR {off_m} > 59)))"
    )


def _value(col: str, t: str) -> str:
    """SQL: the numeric value of *col* (money text as an exact DECIMAL)."""
    return f"CAST({col} AS DECIMAL(38, 12))" if t == "decimal" else col


def _property_sql(field: str, t: str, sub: dict[str, Any], nullable: bool, patterns: list[tuple[str, str]]) -> str:
    """SQL true for a value of *field* (of bulk type *t*) that fails *sub* (None failing unless *nullable*)."""
    col = f'"{field}"'
    bad = [] if nullable else [f"{col} IS NULL"]
    for k, v in sub.items():
        if k in _ANNOTATIONS:
            continue
        if k not in _PROPERTY_KEYWORDS - {"$ref"}:
            raise Unsupported(k)
        if k == "type":
            types = [v] if isinstance(v, str) else list(v)
            if {"integer", "null"} & set(types):
                raise Unsupported("type integer or null")
            if _JSON_TYPES[t] not in types:
                bad.append(f"{col} IS NOT NULL")
        elif k == "format":
            if v == "date-time" and t == "string":
                bad.append(f"({col} IS NOT NULL AND {_date_time_sql(col)})")
        elif k == "pattern":
            if t == "string":
                patterns.append((field, v))
                bad.append(f'({col} IS NOT NULL AND {col} IN (SELECT v FROM "_bad_{len(patterns) - 1}"))')
        elif k in ("minimum", "maximum") and t in ("number", "decimal"):
            op = "<" if k == "minimum" else ">"
            x = _value(col, t)
            nan = "" if t == "decimal" else f"NOT isnan({col}) AND "
            bad.append(f"({col} IS NOT NULL AND {nan}{x} {op} {float(v)!r})")
        elif k == "enum":
            allowed = [x for x in v if isinstance(x, str)] if t == "string" else None
            if allowed is None:
                raise Unsupported("enum of non-strings")
            listed = ", ".join("'" + x.replace("'", "''") + "'" for x in allowed) or "NULL"
            bad.append(f"({col} IS NOT NULL AND {col} NOT IN ({listed}))")
    return " OR ".join(bad) or "false"


def _compile(kind: str, schema_dir: Path, strict: bool) -> tuple[str, list[tuple[str, str]]]:
    """The SQL condition of a bad record of *kind*, and the ``(field, pattern)`` tests it reads."""
    schema = json.loads((schema_dir / f"{kind}.json").read_text(encoding="utf-8"))
    if set(schema) - _ANNOTATIONS - _TOP_KEYWORDS or schema.get("type", "object") != "object":
        raise Unsupported("top-level keyword")
    props = schema.get("properties", {})
    if set(schema.get("required", ())) - set(TYPES[kind]):
        raise Unsupported("a required field evrevops does not write")
    patterns: list[tuple[str, str]] = []
    tests = []
    for field, t in TYPES[kind].items():
        if field in props:
            nullable = not strict and field in NULLABLE[kind]
            tests.append(_property_sql(field, t, _resolve(props[field], schema_dir), nullable, patterns))
    return " OR ".join(f"({x})" for x in tests) or "false", patterns


def _bad_values(column: pa.ChunkedArray, pattern: str) -> pa.Table:
    """The distinct values of *column* that ``re.search(pattern, value)`` does not match."""
    rx = re.compile(pattern)
    distinct = pc.unique(column.drop_null()).to_pylist()
    return pa.table({"v": pa.array([v for v in distinct if not rx.search(v)], pa.string())})


def validate_table(
    table: pa.Table,
    kind: str,
    per_record: Callable[[list[dict[str, Any]], str], None],
    *,
    schema_dir: Path,
    strict: bool = False,
) -> None:
    """Validate every record of a bulk table; raise what ``per_record(records, kind)`` raises for the first bad one.

    Parameters
    ----------
    table : pyarrow.Table
        Records of *kind* (:func:`evrevops.uptime.nevi_bulk.schema`).
    kind : {"session", "uptime", "outage"}
        Which schema.
    per_record : callable
        The per-record validation (:func:`evrevops.uptime.nevi_export.validate` with its
        settings), given the suspect records one at a time with their index.
    schema_dir : Path
        Folder of the schemas.
    strict : bool
        As for :func:`~evrevops.uptime.nevi_export.validate`.
    """
    suspects = _suspects(table, kind, schema_dir, strict)
    if suspects is None:
        per_record(table_records(table, kind), kind)
        return
    for i in suspects:
        per_record_at(per_record, table_records(table.slice(i, 1), kind), kind, i)


def _suspects(table: pa.Table, kind: str, schema_dir: Path, strict: bool) -> list[int] | None:
    """The indexes of the records of *table* the schema's SQL test flags, in order (None: it does not compile)."""
    try:
        condition, patterns = _compile(kind, schema_dir, strict)
    except Unsupported:
        return None
    con = duckdb.connect()
    try:
        con.register("records", table.append_column("_i", pa.array(np.arange(table.num_rows, dtype=np.int64))))
        for i, (field, pattern) in enumerate(patterns):
            con.register(f"_bad_{i}", _bad_values(table.column(field), pattern))
        return [r[0] for r in con.execute(f"SELECT _i FROM records WHERE {condition} ORDER BY _i").fetchall()]
    finally:
        con.close()


def per_record_at(
    per_record: Callable[[list[dict[str, Any]], str], None], records: list[dict[str, Any]], kind: str, index: int
) -> None:
    """Run *per_record* on the one record at *index*, re-raising its error with that index."""
    from evrevops.uptime.nevi_export import RecordError

    try:
        per_record(records, kind)
    except RecordError as e:
        raise RecordError(e.kind, index, e.field, e.message) from None


_PY_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "boolean": (bool,), "number": (int, float)}


def _typed_table(records: Sequence[Any], kind: str) -> pa.Table | None:
    """*records* as a bulk table of *kind*, or None when one is not a mapping of exactly the types the table holds.

    A record lacking a field, or a value the Arrow column would hold differently from what the
    schema checks (a bool as a number, an integer past 2^53, a Decimal), leaves the list to the
    per-record validation.
    """
    types = TYPES[kind]
    for rec in records:
        if not isinstance(rec, Mapping) or not all(f in rec for f in types):
            return None
        for f, t in types.items():
            v = rec[f]
            if v is None:
                continue
            if t not in _PY_TYPES or not isinstance(v, _PY_TYPES[t]) or (t == "number" and isinstance(v, bool)):
                return None
            if t == "number" and isinstance(v, int) and abs(v) > 2**53:
                return None
    try:
        return pa.Table.from_pylist([{f: rec[f] for f in types} for rec in records], schema=schema(kind))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None


def validate_records(
    records: Sequence[Any],
    kind: str,
    per_record: Callable[[list[dict[str, Any]], str], None],
    *,
    schema_dir: Path,
    strict: bool = False,
) -> None:
    """Validate a list of records of *kind* as :func:`validate_table` does a bulk table (``per_record`` otherwise).

    The records go through the bulk test when they fit the bulk table of their kind
    (:func:`_typed_table`); the records it flags are then given, as they are and in order, to
    *per_record* with their index, so the error raised is the one ``per_record(records, kind)``
    raises for the whole list (the jsonschema pass over every uptime and outage record took a
    third of the export's time).
    """
    table = _typed_table(records, kind)
    try:
        suspects = None if table is None else _suspects(table, kind, schema_dir, strict)
    except FileNotFoundError:  # the per-record validation says which setting names the folder
        suspects = None
    if suspects is None:
        per_record(list(records), kind)
        return
    for i in suspects:
        per_record_at(per_record, [dict(records[i])], kind, i)
