"""A generated demo network ingested into a warehouse: the fixture of the demo-level tests."""

from __future__ import annotations

from pathlib import Path

from evrevops.demo.generator import generate
from evrevops.formats import input_files
from evrevops.warehouse.db import Warehouse, open_warehouse
from evrevops.warehouse.loader import ingest_file


def demo_warehouse(folder: Path, **generate_args) -> Warehouse:
    """Generate a demo network in *folder* (``generate`` arguments) and ingest it; every file must be clean."""
    generate(folder / "net", **generate_args)
    w = open_warehouse(folder / "w.duckdb")
    for f in input_files([folder / "net"]):
        assert ingest_file(w, f).quarantined == 0, f
    return w
