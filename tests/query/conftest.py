"""Warehouses of the hand-computed fixtures the query tests read (each opened read-only per test module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from evrevops.warehouse.db import Warehouse
from tests.conftest import FIXTURES
from tests.helpers.warehouse import warehouse_of


def _open(path: Path) -> Iterator[Warehouse]:
    wh = Warehouse(path, read_only=True)
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def metrics_wh(tmp_path_factory) -> Iterator[Warehouse]:
    """tests/fixtures/metrics: two sites, three ports, six CDRs in March 2024 (tests/metrics' hand figures)."""
    yield from _open(warehouse_of(FIXTURES / "metrics", tmp_path_factory.mktemp("q-metrics") / "w.duckdb"))


@pytest.fixture(scope="module")
def finance_wh(tmp_path_factory) -> Iterator[Warehouse]:
    """The hand-computed finance warehouse of tests/finance/hand.py."""
    from tests.finance import hand

    yield from _open(hand.warehouse(tmp_path_factory.mktemp("q-finance")))


@pytest.fixture(scope="module")
def pipeline_wh(tmp_path_factory) -> Iterator[Warehouse]:
    """tests/fixtures/pipeline: deals, stage history and projects."""
    from tests.pipeline.conftest import FOLDER

    yield from _open(warehouse_of(FOLDER, tmp_path_factory.mktemp("q-pipeline") / "w.duckdb"))


@pytest.fixture(scope="module")
def uptime_wh(tmp_path_factory) -> Iterator[Warehouse]:
    """The hand-computed telemetry year of tests/uptime/test_timeline.py (no sessions)."""
    from tests.uptime import test_timeline as hand
    from tests.uptime.network import ingest, write_network

    folder = tmp_path_factory.mktemp("q-uptime")
    write_network(folder, hand.SITES, hand._log(), hand.INCIDENTS)
    ingest(folder, folder / "w.duckdb").close()
    yield from _open(folder / "w.duckdb")


@pytest.fixture(scope="module")
def contracts_wh(tmp_path_factory) -> Iterator[Warehouse]:
    """The hand-built customers and contracts of tests/contracts/test_mrr.py."""
    from tests.contracts import test_mrr as hand

    folder = tmp_path_factory.mktemp("q-contracts")
    hand.write_files(folder)
    yield from _open(warehouse_of(folder, folder / "w.duckdb"))
