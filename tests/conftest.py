"""Shared fixtures.

``shared`` is the folder beside the project that holds real public data and
peers' conformance cases (``../shared``); tests read it in place.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared data folder; a test that needs it is skipped, saying so, in a clone without it (CI has it)."""
    if not SHARED.is_dir():
        message = f"../shared not found at {SHARED}: this test reads the shared real data folder beside the project"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED


@pytest.fixture(scope="session")
def real(shared: Path) -> Path:
    return shared / "data" / "real"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES
