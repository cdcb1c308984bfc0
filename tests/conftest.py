"""Shared fixtures.

``shared`` is the folder beside the project that holds real public data and
peers' conformance cases (``../shared``); tests read it in place.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED}: tests need the shared data folder beside the project")
    return SHARED


@pytest.fixture(scope="session")
def real(shared: Path) -> Path:
    return shared / "data" / "real"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES
