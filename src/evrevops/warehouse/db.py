"""The warehouse: one embedded DuckDB file, reached through Ibis.

Open it with :func:`open_warehouse`; the schema is migrated to the current
version on open. Engines build Ibis expressions on :attr:`Warehouse.ibis`
(the same expressions can run on other Ibis backends, e.g. Spark); where Ibis
cannot express a step, engines use plain SQL that SQLGlot can transpile.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

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
        con.execute("BEGIN TRANSACTION")
        try:
            for stmt in statements:
                con.execute(stmt)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)",
                [version, description, datetime.now(UTC).replace(tzinfo=None)],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
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

    def count(self, table: str) -> int:
        return self.con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]

    def execute(self, statement: str) -> None:
        """Run one statement in DuckDB's dialect (the same text runs on Spark: :mod:`evrevops.warehouse.sql`)."""
        self.con.execute(statement)

    def sql(self, query: str, name: str | None = None) -> ibis.Table:
        """A SELECT in DuckDB's dialect as an Ibis table: a temporary view *name* (default: named by its text)."""
        name = name or _sql.view_name(query)
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {query}")
        return self.ibis.table(name)

    def fetch(self, query: str) -> pa.Table:
        """The rows of a SELECT in DuckDB's dialect, as Arrow."""
        return self.con.sql(query).to_arrow_table()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_warehouse(path: str | Path | None = None, read_only: bool = False) -> Warehouse:
    """Open (creating and migrating if needed) the warehouse at *path*."""
    return Warehouse(path, read_only=read_only)
