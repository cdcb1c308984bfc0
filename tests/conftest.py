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


def need(path: Path) -> Path:
    """*path* in the shared data folder; the test is skipped, saying so, in a clone without it (CI has it)."""
    if not path.exists():
        message = f"{path} not found: this test reads the shared data folder beside the project (../shared)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared data folder; a test that needs it is skipped, saying so, in a clone without it (CI has it)."""
    return need(SHARED)


@pytest.fixture(scope="session")
def real(shared: Path) -> Path:
    return shared / "data" / "real"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES
