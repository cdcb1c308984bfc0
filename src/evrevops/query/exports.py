"""Exports: the warehouse as Parquet for other engines, and a quarter's NEVI data; each returns what it wrote."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from evrevops.query.result import COUNT, TableResult, table_result
from evrevops.uptime import nevi_export
from evrevops.uptime.timeline import DEFAULT_OFFLINE_AFTER_S
from evrevops.warehouse.db import Warehouse
from evrevops.warehouse.export import export_parquet


def parquet(wh: Warehouse, out_dir: Path) -> TableResult:
    """Write every table of *wh* to ``out_dir/<table>.parquet`` with a ``manifest.json``: per table, its ``file``
    and ``rows``."""
    manifest = export_parquet(wh, out_dir)
    rows = [{"table": k, **v} for k, v in manifest["tables"].items()]
    return table_result(pa.Table.from_pylist(rows), f"exported to {out_dir}", {"rows": COUNT})


def quarter_first(quarter: str) -> dt.date:
    """The first day of quarter *quarter* (``YYYYQn``).

    Raises
    ------
    ValueError
        Text that is not a quarter.
    """
    return nevi_export.parse_quarter(quarter)[0]


def nevi(
    wh: Warehouse,
    quarter: str,
    out_dir: Path,
    fmt: str,
    *,
    as_of: dt.datetime | None = None,
    offline_after_s: int = DEFAULT_OFFLINE_AFTER_S,
) -> TableResult:
    """Write quarter *quarter*'s sessions, uptime and outages in EV Charging Use Data Specification fields (*fmt*
    ``csv`` or ``json``) into *out_dir*, each record validated first: per file, its kind (``file``), ``path`` and
    ``records``; the horizon *as_of* [UTC] and the silence after which a charger is offline *offline_after_s* [s].

    Raises
    ------
    ValueError
        A record the specification's schema refuses, or a bad quarter.
    """
    written = nevi_export.export_quarter(wh, quarter, out_dir, fmt, as_of=as_of, offline_after_s=offline_after_s)
    rows = [{"file": k, "path": str(p), "records": n} for k, (p, n) in written.items()]
    return table_result(pa.Table.from_pylist(rows), f"NEVI {quarter}", {"records": COUNT})
