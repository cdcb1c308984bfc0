"""The hand-built unit-economics network of tests/fixtures/finance, as a warehouse."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.warehouse import warehouse_of

FOLDER = Path(__file__).resolve().parents[1] / "fixtures" / "finance"


def warehouse(tmp: Path) -> Path:
    """A warehouse file in *tmp* holding the fixture (every file quarantine-free)."""
    return warehouse_of(FOLDER, tmp / "finance.duckdb")
