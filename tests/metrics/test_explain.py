"""``metrics explain`` (:mod:`evrevops.metrics.explain`): the metric's SQL and the sources it reads."""

from __future__ import annotations

import pytest

from evrevops.metrics.explain import explain
from evrevops.metrics.sources import BILL_VIEW
from evrevops.uptime import fact as uptime_fact
from evrevops.warehouse.db import open_warehouse


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    w = open_warehouse(tmp_path_factory.mktemp("x") / "w.duckdb")
    yield w
    w.close()


def test_a_session_metric_is_its_own_sql(wh):
    sql = explain(wh, "utilization", by="site")
    assert sql.lstrip().startswith(("SELECT", "WITH")) and "_evrevops_calendar" in sql
    assert BILL_VIEW not in sql and uptime_fact.FACT not in sql


def test_a_bill_metric_shows_the_bill_sql_first(wh):
    sql = explain(wh, "demand_charge_minor", by="segment")
    assert sql.startswith(f"-- {BILL_VIEW}: the site-month bills") and "\n-- the metric\n" in sql


def test_an_uptime_metric_shows_the_statements_building_the_uptime_fact(wh):
    sql = explain(wh, "uptime_t12m_pct", by="site")
    assert sql.startswith(f"-- {uptime_fact.FACT}: the port-month uptime fact") and "\n-- the metric\n" in sql


def test_another_dialect_and_an_unknown_metric(wh):
    assert "`_evrevops_calendar`" in explain(wh, "utilization", by="site", dialect="pyspark")
    with pytest.raises(KeyError, match="unknown metric 'nope'"):
        explain(wh, "nope")


def test_a_dialect_whose_engine_is_not_installed_says_how_to_install_it(wh, monkeypatch):
    """A runtime-only install has no pyspark: `--dialect pyspark` says which extra to install."""
    import ibis

    from evrevops.metrics import explain as explain_module

    class NoPyspark:
        def __getattr__(self, name):
            if name == "pyspark":
                raise ImportError("No module named 'pyspark'")
            return getattr(ibis, name)

    monkeypatch.setattr(explain_module, "ibis", NoPyspark())
    with pytest.raises(ValueError, match=r"pyspark dialect needs pyspark: pip install 'evrevops\[spark\]'"):
        explain(wh, "utilization", by="site", dialect="pyspark")
