"""A warehouse read by Spark through Ibis: the same expressions, another engine.

:class:`SparkWarehouse` opens a Parquet export (:mod:`evrevops.warehouse.export`) in a Spark
session, local (``local[N]``) or a cluster's (``spark://host:port``), and offers what the
engine-neutral parts of evrevops use, the interface of
:class:`evrevops.warehouse.protocol.WarehouseLike`: ``ibis`` (the Ibis PySpark backend),
``table(name)``, ``register(name, arrow_table)`` (a temporary view), ``execute``, ``fetch``,
``rows``, ``sql`` and ``transaction``. Code that still needs DuckDB's own API
(:mod:`evrevops.warehouse.duckdb_only`) fails loudly on it, naming what it needs (``con``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from evrevops.warehouse import port_sites, site_history
from evrevops.warehouse import sql as _sql
from evrevops.warehouse.schema import SCHEMA_VERSION


def spark_session(master: str = "local[2]", conf: dict[str, str] | None = None):
    """A Spark session on *master* for evrevops: UTC, no UI, few shuffle partitions (plus *conf*)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover (pyspark is in the spark extra)
        raise RuntimeError("Spark needs pyspark: pip install 'evrevops[spark]'") from None
    b = (
        SparkSession.builder.master(master)
        .appName("evrevops")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.showConsoleProgress", "false")
    )
    for k, v in (conf or {}).items():
        b = b.config(k, v)
    return b.getOrCreate()


def naive_utc(table: pa.Table) -> pa.Table:
    """*table* with every zone-aware timestamp column as UTC without an offset (as DuckDB returns them)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz is not None:
            table = table.set_column(
                i, pa.field(f.name, pa.timestamp(f.type.unit)), table.column(i).cast(pa.timestamp(f.type.unit))
            )
    return table


def _args(params: Sequence[Any] | None) -> list[Any] | None:
    """Spark's positional query arguments (``?`` markers) of *params*."""
    return None if params is None else list(params)


class SparkWarehouse:
    """A Parquet export of a warehouse, read in a Spark session."""

    engine = "spark"

    def __init__(self, folder: str | Path, master: str = "local[2]", session=None):
        """Open the export in *folder*: a new Spark session on *master*, or on *session* when given.

        A given session is used as it is (its session time zone set to UTC, which the
        warehouse's instants are in) and is not stopped by :meth:`close`; to keep the temporary
        views of two exports apart, pass each ``session.newSession()``.
        """
        self.path = Path(folder)
        manifest = self.path / "manifest.json"
        if not manifest.is_file():
            raise ValueError(f"{self.path} is not a warehouse export (no manifest.json): run `evrevops export`")
        self.manifest = json.loads(manifest.read_text())
        if self.manifest.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"{self.path}: export of schema v{self.manifest.get('schema_version')}, this evrevops reads v{SCHEMA_VERSION}"
            )
        self._owns_session = session is None
        self.spark = session if session is not None else spark_session(master)
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        self.spark.sparkContext.setLogLevel("ERROR")
        self.ibis = ibis.pyspark.connect(self.spark)
        self._cached: dict = {}
        for name, t in self.manifest["tables"].items():
            self.spark.read.parquet(str(self.path / t["file"])).createOrReplaceTempView(name)
        # the history views a DuckDB warehouse has (evrevops.warehouse.db), from the same SQL
        self.sql(site_history.history_sql(), name=site_history.VIEW)
        self.sql(port_sites.membership_sql(), name=port_sites.VIEW)

    @property
    def con(self):
        raise NotImplementedError("this step runs on DuckDB only (it needs the DuckDB connection)")

    def table(self, name: str) -> ibis.Table:
        return self.ibis.table(name)

    def register(self, name: str, table: pa.Table) -> ibis.Table:
        """Make *table* a temporary view called *name* and return it as an Ibis table.

        From Arrow directly, so that the view keeps the table's types and its nulls (through
        pandas, a null in a float or integer column would become NaN, and an all-null or empty
        column would have no type).
        """
        self.spark.createDataFrame(table).createOrReplaceTempView(name)
        return self.ibis.table(name)

    def unregister(self, name: str) -> None:
        """Drop the temporary view *name* (:meth:`register`)."""
        self.spark.catalog.dropTempView(name)

    def count(self, name: str) -> int:
        return int(self.spark.table(name).count())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The block as it is: Spark writes only this session's temporary views, never the export.

        There is nothing durable to commit or roll back (every kept table is written on DuckDB,
        :meth:`evrevops.warehouse.db.Warehouse.transaction`); the block runs and its exceptions
        propagate unchanged.
        """
        yield

    def execute(self, statement: str, params: Sequence[Any] | None = None) -> None:
        """Run one DuckDB-dialect statement, transpiled (:func:`evrevops.warehouse.sql.to_spark`).

        ``CREATE TEMP TABLE name AS …`` becomes a cached temporary view (materialized now, so
        later statements read it rather than recompute it); ``CREATE TEMP VIEW`` an uncached one.
        *params* bind the statement's ``?`` placeholders, in order.
        """
        created = _sql.split_create(statement)
        if created is None:
            self.spark.sql(_sql.to_spark(statement), args=_args(params))
            return
        kind, name, select = created
        df = self.spark.sql(_sql.to_spark(select), args=_args(params))
        if kind == "TABLE":
            old = self._cached.pop(name, None)
            df = df.localCheckpoint(eager=True)
            self._cached[name] = df
            if old is not None:
                old.unpersist()
        df.createOrReplaceTempView(name)

    def sql(self, query: str, name: str | None = None) -> ibis.Table:
        """A DuckDB-dialect SELECT, transpiled, as an Ibis table: a temporary view *name* (default: by its text)."""
        name = name or _sql.view_name(query)
        self.spark.sql(_sql.to_spark(query)).createOrReplaceTempView(name)
        return self.ibis.table(name)

    def fetch(self, query: str, params: Sequence[Any] | None = None) -> pa.Table:
        """The rows of a DuckDB-dialect SELECT, transpiled and run on Spark, as Arrow.

        Instants come back as the warehouse holds them, UTC without an offset (Spark's are
        zone-aware), so callers see the same types on either engine. *params* bind the query's
        ``?`` placeholders, in order.
        """
        return naive_utc(self.spark.sql(_sql.to_spark(query), args=_args(params)).toArrow())

    def rows(self, query: str, params: Sequence[Any] | None = None) -> list[tuple]:
        """The rows of a DuckDB-dialect SELECT, transpiled and run on Spark, as Python tuples."""
        return [tuple(r) for r in self.spark.sql(_sql.to_spark(query), args=_args(params)).collect()]

    def close(self) -> None:
        """Stop the Spark session, when this warehouse started it."""
        for df in self._cached.values():
            df.unpersist()
        self._cached.clear()
        if self._owns_session:
            self.spark.stop()
