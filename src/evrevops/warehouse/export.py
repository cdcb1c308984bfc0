"""Export a warehouse to Parquet files, one per table, for other engines (Spark) to read.

``export_parquet(wh, folder)`` writes ``<table>.parquet`` for every ingested table
(:data:`evrevops.warehouse.schema.TABLES`, the ledger and quarantine, the kept bills and the contract lines
replayed from their events) and a
``manifest.json`` naming the schema version, the tables and their row counts, so a reader can
check it got the whole warehouse. Instants stay UTC without an offset, as in the warehouse.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from evrevops.core.sqltext import sql_identifier
from evrevops.warehouse.db import Warehouse
from evrevops.warehouse.schema import SCHEMA_VERSION, TABLES

# besides the ingested tables: the ledger, the kept bills, and the contract lines replayed from their events
# (a recursive replay Spark cannot run; it reads them as they are when exported)
EXTRA = ("ingest_ledger", "quarantine", "site_month_bills", "derived_facts", "contract_lines")


def export_parquet(wh: Warehouse, folder: str | Path) -> dict:
    """Write every table of *wh* to ``folder/<table>.parquet`` and ``folder/manifest.json``; return the manifest."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tables = {}
    for name in (*TABLES, *EXTRA):
        path = out / f"{name}.parquet"
        # the path is a bound parameter: a folder name is data, never SQL (an apostrophe, a `'); ...`)
        wh.con.execute(
            f"COPY (SELECT * FROM {sql_identifier(name)}) TO ? (FORMAT PARQUET, COMPRESSION zstd)", [str(path)]
        )
        tables[name] = {"file": path.name, "rows": wh.count(name)}
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "exported_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "tables": tables,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
