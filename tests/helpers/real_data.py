"""Where the tests find real public data: in-repo samples always, the full datasets when present.

Three kinds of data, resolved here and nowhere else:

* **In the repository** (always there, a bare clone runs on them): ``tests/data/real/<dataset>/``
  holds small cuts of the real datasets whose licence allows redistribution, or the whole dataset
  where it is small (the URDB tariffs); ``tests/data/conformance/`` the peer implementation's OCPI
  pricing cases; ``tests/data/reference/`` the EV Charging Use Data Specification schemas. Each
  folder has a ``SOURCE.md`` (publisher, licence, how the cut was made by
  ``tests/data/make_samples.py``).
* **The full real datasets** (optional): the folder named by ``$EVREVOPS_REAL_DATA``, by default
  ``../shared/data/real`` beside the project when it exists. A test that needs a full dataset calls
  :func:`full`, which skips it with a reason naming the variable when the data is absent, and fails
  it when the variable names a folder that is not there (a misconfiguration is not a skip).
  ``EVREVOPS_REQUIRE_REAL_DATA=1`` turns every such skip into a failure (for a CI that has the data
  and must not lose it silently).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SAMPLES = DATA / "real"
CONFORMANCE = DATA / "conformance"
REFERENCE = DATA / "reference"
ENV = "EVREVOPS_REAL_DATA"
REQUIRE_ENV = "EVREVOPS_REQUIRE_REAL_DATA"
DEFAULT_FULL = ROOT.parent / "shared" / "data" / "real"
SKIP_PREFIX = "full real data not present"

URDB = SAMPLES / "tariffs_urdb"  # the whole dataset (17 records and the manifest), kept in the repository
TANDEMDRIVE = CONFORMANCE / "ocpi-tariffs-tandemdrive"
EV_CHARGING_USE_SPEC = REFERENCE / "ev-charging-use-spec"


def full_root() -> Path | None:
    """The folder of the full real datasets, or ``None`` when there is none.

    ``$EVREVOPS_REAL_DATA`` when set (a set variable naming a missing folder fails the calling
    test), else ``../shared/data/real`` beside the project when it exists.
    """
    named = os.environ.get(ENV, "").strip()
    if named:
        path = Path(named).expanduser()
        if not path.is_dir():
            pytest.fail(f"${ENV} names {path}, which is not a folder (unset it to skip the full-data tests)")
        return path
    return DEFAULT_FULL if DEFAULT_FULL.is_dir() else None


def full(rel: str = "") -> Path:
    """The path *rel* inside the full real datasets; the calling test is skipped, saying why, without it.

    Parameters
    ----------
    rel
        A dataset folder or file relative to the real-data folder, e.g.
        ``"dundee_2017_2018"`` or ``"boulder_co_2018_2020/Electric_..._Consumption.csv"``.
    """
    root = full_root()
    path = None if root is None else root / rel
    if path is None or not path.exists():
        where = f"{root / rel}" if root is not None else f"${ENV} unset and {DEFAULT_FULL} absent"
        message = f"{SKIP_PREFIX} ({rel or 'the real-data folder'}): {where}; set {ENV}=/path/to/shared/data/real"
        if os.environ.get(REQUIRE_ENV, "").strip() not in ("", "0"):
            pytest.fail(f"{message} ({REQUIRE_ENV} is set)")
        pytest.skip(message)
    return path


def sample(rel: str) -> Path:
    """The in-repository sample *rel* under ``tests/data/real`` (always present: a missing one is an error)."""
    path = SAMPLES / rel
    assert path.exists(), f"{path} is missing from the repository (tests/data/make_samples.py writes it)"
    return path
