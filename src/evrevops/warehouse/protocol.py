"""The warehouse interface engines program against, whichever engine computes.

Both :class:`evrevops.warehouse.db.Warehouse` (DuckDB, the warehouse file) and
:class:`evrevops.warehouse.spark.SparkWarehouse` (Spark, over a Parquet export) have it.
Engines (``contracts``, ``finance``, ``pipeline``, ``forecast``, ``tariffs``, ``uptime``,
``metrics``) call these methods, never a warehouse's connection: SQL text is DuckDB's dialect,
transpiled for Spark (:mod:`evrevops.warehouse.sql`), with ``?`` placeholders for *params*.
The few steps that need DuckDB's own API reach it through
:mod:`evrevops.warehouse.duckdb_only`, which lists them.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

import ibis
import pyarrow as pa


@runtime_checkable
class WarehouseLike(Protocol):
    """What an engine may ask of a warehouse.

    Attributes
    ----------
    engine : str
        ``"duckdb"`` or ``"spark"``.
    ibis : ibis.BaseBackend
        The Ibis backend the tables and expressions belong to.
    """

    engine: str
    ibis: Any

    def table(self, name: str) -> ibis.Table:
        """The table or view *name* as an Ibis table."""
        ...

    def register(self, name: str, table: pa.Table) -> ibis.Table:
        """Make the Arrow *table* visible to SQL and Ibis as *name* (until replaced or unregistered)."""
        ...

    def unregister(self, name: str) -> None:
        """Forget what :meth:`register` made visible as *name*."""
        ...

    def count(self, name: str) -> int:
        """The number of rows of table *name*."""
        ...

    def execute(self, statement: str, params: Sequence[Any] | None = None) -> None:
        """Run one statement (DuckDB's dialect); *params* bind its ``?`` placeholders, in order."""
        ...

    def fetch(self, query: str, params: Sequence[Any] | None = None) -> pa.Table:
        """The rows of a SELECT as Arrow (instants as naive UTC on every engine)."""
        ...

    def rows(self, query: str, params: Sequence[Any] | None = None) -> list[tuple]:
        """The rows of a SELECT as Python tuples."""
        ...

    def sql(self, query: str, name: str | None = None) -> ibis.Table:
        """A SELECT as an Ibis table: a temporary view *name* (default: named by its text)."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """A block whose writes are committed together or not at all (no nesting)."""
        ...
