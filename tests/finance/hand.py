"""The hand-built unit-economics network of tests/fixtures/finance, as a warehouse."""

from __future__ import annotations

import shutil
from pathlib import Path

from evrevops.warehouse.db import Warehouse, open_warehouse
from evrevops.warehouse.loader import ingest_file
from tests.helpers.warehouse import warehouse_of

FOLDER = Path(__file__).resolve().parents[1] / "fixtures" / "finance"


def warehouse(tmp: Path) -> Path:
    """A warehouse file in *tmp* holding the fixture (every file quarantine-free)."""
    return warehouse_of(FOLDER, tmp / "finance.duckdb")


def extended(db: Path, tmp: Path, **files: str) -> Warehouse:
    """A writable copy of the warehouse *db* in *tmp* with more files ingested (name → CSV text), each clean."""
    copy = tmp / "extended.duckdb"
    shutil.copy(db, copy)
    w = open_warehouse(copy)
    for name, text in files.items():
        path = tmp / f"{name}.csv"
        path.write_text(text)
        assert ingest_file(w, path).quarantined == 0, name
    return w
