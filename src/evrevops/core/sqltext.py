"""Text that goes into built SQL: string literals, identifiers, ``IN`` lists and timestamps.

Prefer bound parameters (``con.execute(sql, [value])``) wherever DuckDB takes them (values in
``WHERE``, ``INSERT``, the target of ``COPY ... TO ?``). Where SQL must be built as text (a view, a
statement SQLGlot transpiles to Spark), every value that can come from a user or a file (an id, a
name, a path) goes through :func:`sql_literal`; identifiers go through
:func:`sql_identifier`.
"""

from __future__ import annotations

import datetime as dt
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


def sql_identifier(name: str) -> str:
    """*name* as a double-quoted SQL identifier (``"`` doubled), for column and table names in built SQL."""
    return '"' + name.replace('"', '""') + '"'


def sql_in(col: str, ids: list[str] | None) -> str:
    """``AND col IN ('a', 'b')`` for *ids* (quoted); nothing for None; never true for an empty list."""
    if ids is None:
        return ""
    return f"AND {col} IN (" + ", ".join(sql_literal(x) for x in ids) + ")" if ids else "AND FALSE"


def ts_sql(t: dt.datetime) -> str:
    """A naive UTC instant as a SQL TIMESTAMP literal."""
    return f"TIMESTAMP '{t.isoformat(sep=' ')}'"
