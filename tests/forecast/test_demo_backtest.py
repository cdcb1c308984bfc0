"""The hardware forecast backtested on a generated demo network against the naive CRM method."""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.forecast import hardware as hw
from evrevops.warehouse.db import open_warehouse


@pytest.fixture(scope="module")
def wh(demo_networks, tmp_path_factory):
    w = open_warehouse(demo_networks.get(ports=200, months=12, seed=42).copy(tmp_path_factory.mktemp("demo-forecast")))
    yield w
    w.close()


def test_the_learned_forecast_beats_the_naive_one(wh):
    origins = [dt.date(2025, m, 1) - dt.timedelta(days=1) for m in range(4, 11)]
    bt = hw.backtest(wh, origins, months=3, sims=500)
    rows = bt.to_pylist()
    assert len(rows) == 21 and all(r["actual_minor"] >= 0 for r in rows)
    for r in rows:
        assert r["error_minor"] == r["mean_minor"] - r["actual_minor"]
        assert r["p10_minor"] <= r["mean_minor"] or r["p10_minor"] <= r["p90_minor"]
    s = hw.backtest_summary(bt)
    assert s["actual_minor"] > 0
    # what the backtest must show: the learned forecast's error against the naive method's
    assert s["mae_minor"] < s["naive_mae_minor"]
    assert 0 <= s["coverage_p10_p90"] <= 1
