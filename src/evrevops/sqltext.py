"""Text that goes into built SQL: string literals.

Prefer bound parameters (``con.execute(sql, [value])``) wherever DuckDB takes them (values in
``WHERE``, ``INSERT``, the target of ``COPY ... TO ?``). Where SQL must be built as text (a view, a
statement SQLGlot transpiles to Spark), every value that can come from a user or a file (an id, a
name, a path) goes through :func:`sql_literal`; identifiers go through
:func:`evrevops.formats.base.sql_identifier`.
"""

from __future__ import annotations

from collections.abc import Iterable


def sql_literal(text: str) -> str:
    """*text* as a SQL string literal: in single quotes, each ``'`` doubled.

    Standard SQL (DuckDB): a backslash is itself, a NUL or newline is kept as it is; nothing
    in *text* can end the literal early.
    """
    if not isinstance(text, str):
        raise TypeError(f"sql_literal takes text, not {type(text).__name__}")
    return "'" + text.replace("'", "''") + "'"


def sql_literal_list(values: Iterable[str]) -> str:
    """``('a', 'b', ...)`` for ``x IN (...)``: each value a :func:`sql_literal`; ``(NULL)`` for none."""
    items = [sql_literal(v) for v in values]
    return "(" + (", ".join(items) if items else "NULL") + ")"
