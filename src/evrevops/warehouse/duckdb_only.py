"""The one place engines reach DuckDB's own API, and why each use needs it.

Everything else an engine does goes through :class:`evrevops.warehouse.protocol.WarehouseLike`
and runs on Spark as well. The steps here need the DuckDB connection or DuckDB-only SQL, and fail
on another engine with :class:`DuckDBOnlyError`, naming the step:

* :func:`narrow_hugeint` (``metrics/kept.py``, ``metrics/close.py``): DuckDB sums integers into
  ``HUGEINT``, which Ibis reads as a decimal; the kept tables are narrowed to ``BIGINT``
  (``ALTER TABLE … ALTER … TYPE``, a DuckDB table's own type).
* :func:`connection` (the connection itself), for:

  - ``finance/compare.py``: the priced rows of a what-if model are inserted with
    ``executemany`` into a temporary table shaped like ``contract_lines``;
  - ``tariffs/repricing.py``: :func:`~evrevops.tariffs.repricing.reprice_sql` takes a DuckDB
    connection (its callers and tests build one without a warehouse) and registers the parsed
    driver tariffs on it.

Not listed because they never meet another engine, yet DuckDB-only all the same (a
``SparkWarehouse`` is never passed to them): everything kept after ingest — the kept facts and
uptime (``metrics/kept.py``), the kept bills (``tariffs/site_bills.refresh``), the month-close
measures and views (``metrics/close.py``), what changed since (``metrics/changes.py``: DuckDB SQL
such as ``arg_max``, ``FILTER``, ``information_schema``), the ledger and derived records
(``warehouse/*``) — and the engines outside the metric registry (contracts, finance, pipeline,
forecast, the what-ifs, repricing), whose SQL is DuckDB's and has not been checked on Spark.
``docs/scale-out.md`` lists what runs where.
"""

from __future__ import annotations

import duckdb

from evrevops.warehouse.protocol import WarehouseLike


class DuckDBOnlyError(NotImplementedError):
    """A DuckDB-only step was asked of another engine."""


def connection(wh: WarehouseLike, step: str) -> duckdb.DuckDBPyConnection:
    """The DuckDB connection of *wh*, for *step* (one of the uses listed above).

    Raises
    ------
    DuckDBOnlyError
        When *wh* is not a DuckDB warehouse.
    """
    if getattr(wh, "engine", None) != "duckdb":
        raise DuckDBOnlyError(f"{step} runs on DuckDB only (it needs the DuckDB connection), not on {wh.engine}")
    return wh.con  # type: ignore[attr-defined]


def narrow_hugeint(wh: WarehouseLike, table: str) -> None:
    """Every ``HUGEINT`` column of DuckDB table *table* as ``BIGINT``.

    DuckDB sums integers into ``HUGEINT``, which Ibis reads as a decimal (metrics would then come
    out as decimals); ``BIGINT`` is also half the bytes to scan.
    """
    con = connection(wh, f"narrowing the integer columns of {table}")
    cols = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND data_type = 'HUGEINT'",
        [table],
    ).fetchall()
    for (c,) in cols:
        con.execute(f'ALTER TABLE {table} ALTER "{c}" TYPE BIGINT')
