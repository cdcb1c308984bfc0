"""Warehouses of every kind a user meets: empty, one source only, the full demo.

Each partial kind is the default demo network's files of one source, ingested as ``evrevops ingest``
does (each file through :func:`evrevops.warehouse.loader.ingest_file`, then the kept facts refreshed),
so a command sees what it would see on a warehouse that has only that source.
"""

from __future__ import annotations

from pathlib import Path

from evrevops import refresh as krefresh
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file

# the kinds, each with the demo files (relative to the generated folder, glob patterns) it is made of
PARTIAL: dict[str, tuple[str, ...]] = {
    "sessions": ("cdrs/*.ndjson",),
    "telemetry": ("ocpp/*.ndjson",),
    "contracts": ("customers.csv", "contracts.csv"),
    "crm": ("deals.csv", "deal_stages.csv", "projects.csv"),
}
KINDS = ("empty", *PARTIAL, "full")


def build_partial(net: Path, patterns: tuple[str, ...], db: Path) -> Path:
    """Ingest the files of *net* that match *patterns* into the new warehouse *db* and keep its facts; *db*."""
    files = sorted(f for pattern in patterns for f in net.glob(pattern))
    assert files, f"no demo file matches {patterns} in {net}"
    w = open_warehouse(db)
    try:
        for f in files:
            assert ingest_file(w, f).quarantined == 0, f
        krefresh.refresh_kept(w)
    finally:
        w.close()
    return db


def build_empty(db: Path) -> Path:
    """A warehouse with its tables and nothing in them; *db*."""
    open_warehouse(db).close()
    return db
