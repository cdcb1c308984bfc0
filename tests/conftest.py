"""Shared fixtures.

Real public data: the in-repository samples (``tests/data``) are always there; the full datasets are
optional (``$EVREVOPS_REAL_DATA``, default ``../shared/data/real``), resolved in
:mod:`tests.helpers.real_data`. A test that needs them is skipped, saying so, where they are absent.

Demo networks: ``demo_network`` / ``demo_db`` are the default network (:data:`tests.helpers.demo.DEFAULT`),
generated and ingested once per session; ``demo_db_copy`` is a copy a test may write to; a test that needs
another size or seed asks ``demo_networks.get(...)``, which builds each distinct network once per session.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import real_data
from tests.helpers.demo import DEFAULT, DemoNetworks

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def real() -> Path:
    """The folder of the full real datasets; a test that needs it is skipped, saying why, without it."""
    return real_data.full()


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def demo_networks(tmp_path_factory) -> DemoNetworks:
    """Demo networks by their ``generate`` arguments, each built once per session (per xdist worker)."""
    return DemoNetworks(tmp_path_factory.mktemp("demo-networks"))


@pytest.fixture(scope="session")
def demo_network(demo_networks) -> Path:
    """The default demo network's generated folder (what ``evrevops demo`` writes); do not write to it."""
    return demo_networks.get(**DEFAULT).folder


@pytest.fixture(scope="session")
def demo_db(demo_networks) -> Path:
    """The default demo network ingested: a DuckDB file to open read-only (``demo_db_copy`` to write)."""
    return demo_networks.get(**DEFAULT).db


@pytest.fixture
def demo_db_copy(demo_networks, tmp_path) -> Path:
    """A copy of ``demo_db`` in the test's own folder, to write to."""
    return demo_networks.get(**DEFAULT).copy(tmp_path)


def pytest_terminal_summary(terminalreporter) -> None:
    """One line at the end when tests were skipped for want of the full real datasets."""
    skipped = terminalreporter.stats.get("skipped", [])
    n = sum(1 for r in skipped if real_data.SKIP_PREFIX in str(r.longrepr))
    if n:
        terminalreporter.write_line(
            f"{n} test(s) skipped: {real_data.SKIP_PREFIX} (set {real_data.ENV}=/path/to/shared/data/real to run them)"
        )
