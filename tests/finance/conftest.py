"""The hand-built unit-economics network (tests/fixtures/finance), shared by the finance tests."""

from __future__ import annotations

import pytest

from evrevops.finance import cashflow as cf
from evrevops.warehouse.db import open_warehouse
from tests.finance import hand


@pytest.fixture(scope="session")
def finance_db(tmp_path_factory):
    return hand.warehouse(tmp_path_factory.mktemp("finance"))


@pytest.fixture(scope="module")
def wh(finance_db):
    w = open_warehouse(finance_db, read_only=True)
    yield w
    w.close()


@pytest.fixture(scope="module")
def months(wh):
    """Every site's cash flow over the default ten years, by (site, t)."""
    t = cf.site_months(wh)
    return {(r["site_id"], r["t"]): r for r in t.to_pylist()}
