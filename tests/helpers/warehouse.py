"""A warehouse file holding a fixture folder, for tests that read it in process or through the CLI."""

from __future__ import annotations

from pathlib import Path

from evrevops.formats import input_files
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file


def warehouse_of(folder: Path, path: Path) -> Path:
    """Ingest every file of *folder* into a new warehouse at *path* (each must be quarantine-free)."""
    w = open_warehouse(path)
    for f in input_files([folder]):
        assert ingest_file(w, f).quarantined == 0, f
    w.close()
    return path
