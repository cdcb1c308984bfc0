"""The warehouse: one embedded DuckDB file, reached through Ibis.

Open it with :func:`open_warehouse`; the schema is migrated to the current
version on open. Engines build Ibis expressions on :attr:`Warehouse.ibis`
(the same expressions can run on other Ibis backends, e.g. Spark); where Ibis
cannot express a step, engines use plain SQL that SQLGlot can transpile.
Engines program against :class:`evrevops.warehouse.protocol.WarehouseLike`
(``execute``, ``fetch``, ``rows``, ``sql``, ``register``, ``transaction`` …),
never against :attr:`Warehouse.con`; what needs DuckDB's own API goes through
:mod:`evrevops.warehouse.duckdb_only`.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa

from evrevops.warehouse import contract_lines, port_sites, site_history
from evrevops.warehouse import sql as _sql
from evrevops.warehouse.schema import MIGRATIONS, SCHEMA_VERSION

DEFAULT_DB = "evrevops.duckdb"


class WarehouseError(RuntimeError):
    """The warehouse file cannot be used (newer schema, locked, corrupt)."""


def default_path() -> Path:
    """``$EVREVOPS_DB`` if set, else ``./evrevops.duckdb``."""
    return Path(os.environ.get("EVREVOPS_DB") or DEFAULT_DB)


class NestedTransactionError(RuntimeError):
    """A transaction was begun inside another on the same connection (DuckDB has no nesting)."""


_OPEN: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()  # connections inside transaction()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One DuckDB transaction on *con*: BEGIN; COMMIT when the block ends; ROLLBACK and re-raise on any exception.

    Any exception means every one, ``KeyboardInterrupt`` and ``SystemExit`` included: nothing the
    block wrote is left half-written. Nesting is refused: a block begun inside another on the same
    connection raises :class:`NestedTransactionError` before sending anything to DuckDB (a second
    ``BEGIN`` would abort the outer transaction), so the outer block still commits or rolls back
    what it wrote. A step that must join a caller's transaction is written without its own and
    says so in its docstring (:func:`evrevops.warehouse.derived.record`).

    Raises
    ------
    NestedTransactionError
        When this helper already has a transaction open on *con*.
    """
    if con in _OPEN:
        raise NestedTransactionError("a transaction is already open on this connection (transactions do not nest)")
    con.execute("BEGIN TRANSACTION")
    _OPEN.add(con)
    try:
        yield
    except BaseException:
        _OPEN.discard(con)
        con.execute("ROLLBACK")
        raise
    _OPEN.discard(con)
    con.execute("COMMIT")


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply the migrations this file has not seen, each in its own transaction.

    Returns the schema version after migrating.
    """
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version' AND table_schema = 'main'"
    ).fetchall()[0][0]
    current = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0] if exists else 0
    if current > SCHEMA_VERSION:
        raise WarehouseError(
            f"warehouse schema v{current} is newer than this evrevops (v{SCHEMA_VERSION}); upgrade evrevops"
        )
    for version, description, statements in MIGRATIONS:
        if version <= current:
            continue
        with transaction(con):
            for stmt in statements:
                con.execute(stmt)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)",
                [version, description, datetime.now(UTC).replace(tzinfo=None)],
            )
        current = version
    return current


class Warehouse:
    """An open warehouse file.

    Attributes
    ----------
    path : Path
        The DuckDB file (``":memory:"`` for a throw-away warehouse).
    con : duckdb.DuckDBPyConnection
        The connection, in UTC.
    ibis : ibis.BaseBackend
        Ibis backend over the same connection.
    """

    engine = "duckdb"

    def __init__(self, path: str | Path | None = None, read_only: bool = False):
        self.path = Path(path) if path is not None else default_path()
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open warehouse {self.path}: {exc}") from None
        self.con.execute("SET TimeZone = 'UTC'")
        if not read_only:
            self.version = migrate(self.con)
        else:
            self.version = self._stored_version()
            if self.version < SCHEMA_VERSION and str(self.path) != ":memory:":
                # an older file: bring its schema up to date once, then read as asked
                self.con.close()
                try:
                    with duckdb.connect(str(self.path)) as rw:
                        migrate(rw)
                    self.con = duckdb.connect(str(self.path), read_only=True)
                except duckdb.Error as exc:
                    raise WarehouseError(
                        f"warehouse {self.path} has schema v{self.version} and could not be upgraded to "
                        f"v{SCHEMA_VERSION}: {exc}"
                    ) from None
                self.con.execute("SET TimeZone = 'UTC'")
                self.version = self._stored_version()
        for view in (contract_lines, site_history, port_sites):  # derived from the facts at every read
            self.con.execute(view.view_sql())
        self.ibis = ibis.duckdb.from_connection(self.con)

    def _stored_version(self) -> int:
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version' AND table_schema = 'main'"
        ).fetchall()[0][0]
        return (
            self.con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0] if exists else 0
        )

    def table(self, name: str) -> ibis.Table:
        return self.ibis.table(name)

    def register(self, name: str, table: pa.Table) -> ibis.Table:
        """Make the Arrow *table* visible to SQL and Ibis as *name* (until replaced); return it."""
        self.con.register(name, table)
        return self.ibis.table(name)

    def unregister(self, name: str) -> None:
        """Forget the Arrow table registered as *name* (:meth:`register`)."""
        self.con.unregister(name)

    def count(self, name: str) -> int:
        """The number of rows of table *name*."""
        return self.con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]

    def execute(self, statement: str, params: Sequence[Any] | None = None) -> None:
        """Run one statement in DuckDB's dialect (the same text runs on Spark: :mod:`evrevops.warehouse.sql`).

        *params* bind the statement's ``?`` placeholders, in order.
        """
        self.con.execute(statement, params)

    def transaction(self) -> AbstractContextManager[None]:
        """A transaction over the block (:func:`transaction`: commit, or roll back and re-raise; no nesting)."""
        return transaction(self.con)

    def sql(self, query: str, name: str | None = None) -> ibis.Table:
        """A SELECT in DuckDB's dialect as an Ibis table: a temporary view *name* (default: named by its text)."""
        name = name or _sql.view_name(query)
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {query}")
        return self.ibis.table(name)

    def fetch(self, query: str, params: Sequence[Any] | None = None) -> pa.Table:
        """The rows of a SELECT in DuckDB's dialect, as Arrow (*params* bind its ``?`` placeholders, in order)."""
        return self.con.sql(query, params=params).to_arrow_table()

    def rows(self, query: str, params: Sequence[Any] | None = None) -> list[tuple]:
        """The rows of a SELECT in DuckDB's dialect, as Python tuples (*params* bind its ``?`` placeholders)."""
        return self.con.execute(query, params).fetchall()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_warehouse(path: str | Path | None = None, read_only: bool = False) -> Warehouse:
    """Open (creating and migrating if needed) the warehouse at *path*."""
    return Warehouse(path, read_only=read_only)
