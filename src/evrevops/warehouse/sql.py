"""SQL the engines write once, in DuckDB's dialect, and run on DuckDB or (transpiled) on Spark.

Where Ibis cannot express a step (the load profile, the bill, the uptime timeline), the engines
write plain SQL in DuckDB's dialect. SQLGlot transpiles it to Spark SQL, so the same statement
runs on :class:`evrevops.warehouse.spark.SparkWarehouse` — one implementation, two engines.

The SQL must stay within what SQLGlot maps to Spark: no DuckDB-only functions (``epoch``,
``list_*`` lambdas, ``from_json`` with a DuckDB type string, ``AT TIME ZONE`` on a column…).
:func:`to_spark` fails loudly, naming the statement, when SQLGlot cannot transpile it.

One transform applies before writing Spark SQL: :func:`hugeint_as_decimal`.

Two more carry the CDR charging periods of the load profile (:mod:`evrevops.tariffs.load_profile`):
``from_json`` with a literal DuckDB JSON structure (:func:`json_structure_as_ddl`) and
``list_sum`` (:func:`list_sum_as_aggregate`); ``list_filter`` and ``list_transform`` with
``lambda`` SQLGlot maps itself (Spark's ``filter`` and ``transform``).

A statement ``CREATE [OR REPLACE] TEMP TABLE name AS SELECT …`` becomes, on Spark, a cached
temporary view of the transpiled SELECT; ``CREATE [OR REPLACE] TEMP VIEW`` an uncached one.
"""

from __future__ import annotations

import hashlib
import json
import re

import sqlglot
from sqlglot import exp

_CREATE = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?TEMP(?:ORARY)?\s+(TABLE|VIEW)\s+([A-Za-z_][A-Za-z_0-9]*)\s+AS\s+(.*)$",
    re.IGNORECASE | re.DOTALL,
)


class SqlPortError(ValueError):
    """A DuckDB statement SQLGlot cannot carry to another engine."""


def split_create(statement: str) -> tuple[str, str, str] | None:
    """``(kind, name, select)`` of a ``CREATE [OR REPLACE] TEMP TABLE|VIEW name AS select``; else None."""
    m = _CREATE.match(statement.strip().rstrip(";"))
    if m is None:
        return None
    return m.group(1).upper(), m.group(2), m.group(3)


def hugeint_as_decimal(node: exp.Expression) -> exp.Expression:
    """SQLGlot transform: DuckDB's 128-bit ``HUGEINT`` as Spark's ``DECIMAL(38, 0)``.

    Exact integer money (:func:`evrevops.core.money.div_round_sql`, revenue at risk) casts to
    ``HUGEINT`` so that DuckDB multiplies, adds and divides (``//``) in 128-bit integers;
    SQLGlot writes it as ``INT128``, which Spark does not have. ``DECIMAL(38, 0)`` holds the
    same integers there, and Spark's ``+``, ``*``, ``sum`` and ``DIV`` on it are exact
    (``DIV`` returns a BIGINT).
    """
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT128:
        return exp.DataType.build("DECIMAL(38, 0)")
    return node


def _spark_ddl(structure: object) -> str:
    """Spark DDL of a DuckDB JSON structure (``from_json``): objects are structs, one-item lists arrays."""
    if isinstance(structure, dict):
        return "STRUCT<" + ", ".join(f"`{k}`: {_spark_ddl(v)}" for k, v in structure.items()) + ">"
    if isinstance(structure, list) and len(structure) == 1:
        return f"ARRAY<{_spark_ddl(structure[0])}>"
    if isinstance(structure, str):
        if structure.upper() == "JSON":
            return "STRING"  # Spark's from_json keeps a value read as STRING as its JSON text
        return exp.DataType.build(structure, dialect="duckdb").sql(dialect="spark")
    raise ValueError(f"not a DuckDB JSON structure: {structure!r}")


def json_structure_as_ddl(node: exp.Expression) -> exp.Expression:
    """SQLGlot transform: ``from_json(x, '<DuckDB JSON structure>')`` with Spark's DDL schema.

    DuckDB describes the type to read as JSON (``'[{"start_date_time": "VARCHAR", "dimensions":
    [{"type": "VARCHAR", "volume": "DOUBLE"}]}]'``), Spark as DDL (``'ARRAY<STRUCT<…>>'``);
    SQLGlot passes the string through unchanged. Both ignore keys the structure does not name.
    Only a string literal is rewritten (a structure computed in SQL is left for Spark to reject).
    """
    if isinstance(node, exp.FromJson) and isinstance(node.expression, exp.Literal) and node.expression.is_string:
        try:
            ddl = _spark_ddl(json.loads(node.expression.this))
        except ValueError:
            return node  # a DDL string already (or no structure this knows: Spark will say so)
        return exp.FromJson(this=node.this, expression=exp.Literal.string(ddl))
    return node


_LIST_SUM = sqlglot.parse_one(
    "AGGREGATE(FILTER(_list, _v -> NOT _v IS NULL), CAST(NULL AS DOUBLE), (_acc, _v) -> COALESCE(_acc, 0) + _v)",
    read="spark",
)


def list_sum_as_aggregate(node: exp.Expression) -> exp.Expression:
    """SQLGlot transform: DuckDB's ``list_sum(x)`` as Spark's ``aggregate`` over the non-null elements.

    As DuckDB's: the sum of the elements that are not NULL, NULL when there are none (an empty
    list included), as a DOUBLE (the load profile sums DOUBLE volumes). SQLGlot leaves
    ``list_sum`` as it is, and writes ``array_sum`` with an INT zero that Spark refuses for
    DOUBLE elements.
    """
    if isinstance(node, exp.Anonymous) and str(node.this).upper() == "LIST_SUM" and len(node.expressions) == 1:
        arg = node.expressions[0].copy()
        return _LIST_SUM.copy().transform(
            lambda n: arg.copy() if isinstance(n, exp.Column) and n.name == "_list" else n
        )
    return node


def to_spark(sql: str) -> str:
    """Spark SQL of one DuckDB statement or query, transpiled by SQLGlot.

    Raises
    ------
    SqlPortError
        When SQLGlot cannot parse it or leaves a construct Spark cannot run
        (it names the first line of the statement).
    """
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
        tree = tree.transform(hugeint_as_decimal)
        tree = tree.transform(json_structure_as_ddl).transform(list_sum_as_aggregate)
        out = tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.SqlglotError as e:
        head = next((ln.strip() for ln in sql.strip().splitlines() if ln.strip()), "")
        raise SqlPortError(f"cannot transpile to Spark ({e}): {head[:120]}") from None
    return out


def view_name(query: str) -> str:
    """A temporary view name for *query*, the same for the same text."""
    return "_evrevops_q" + hashlib.sha1(query.encode()).hexdigest()[:12]
