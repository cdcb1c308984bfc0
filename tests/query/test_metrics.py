"""query.metrics and query.period on tests/fixtures/metrics (six CDRs, March 2024; tests/metrics' hand figures)."""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.metrics import compute as mc
from evrevops.query import metrics as qmetrics
from evrevops.query import period as qperiod

MARCH = dt.date(2024, 3, 1), dt.date(2024, 3, 31)


def test_the_default_month_is_the_last_full_month_of_sessions(metrics_wh):
    assert qperiod.last_full_month(metrics_wh) == MARCH


def test_metrics_are_the_engines_with_registry_units(metrics_wh):
    r = qmetrics.metrics(metrics_wh, "site", "month", *MARCH, ["sessions", "energy_revenue_minor", "utilization"])
    want = mc.compute(metrics_wh, by="site", period="month", start=MARCH[0], end=MARCH[1],
                      metrics=["sessions", "energy_revenue_minor", "utilization"])  # fmt: skip
    assert r.table.equals(want)
    assert dict(r.units) == {"sessions": "count", "energy_revenue_minor": "minor units", "utilization": "fraction"}
    assert r.table.column("energy_revenue_minor").to_pylist() == [11_000, 1_200]
    assert r.title == "metrics by site, month: 2024-03-01 … 2024-03-31"


def test_an_unknown_metric_is_a_value_error(metrics_wh):
    with pytest.raises(ValueError):
        qmetrics.metrics(metrics_wh, "site", "month", *MARCH, ["nope"])


def test_headline_network_then_segments(metrics_wh):
    h = qmetrics.headline(metrics_wh, MARCH[0])
    net = h.network.table.to_pylist()
    assert len(net) == 1 and (net[0]["ports"], net[0]["energy_revenue_minor"]) == (3, 12_200)
    assert h.segments.table.column("segment").to_pylist() == ["commercial", "public_dc"]
    assert h.currencies == ["USD"] and h.metric_names == qmetrics.HEADLINE
    both = h.combined().table.to_pylist()
    assert [r["segment"] for r in both] == [None, "commercial", "public_dc"]
    assert sum(r["energy_revenue_minor"] for r in both[1:]) == both[0]["energy_revenue_minor"]
    assert h.network.units["energy_revenue_minor"] == "minor units" and h.network.units["energy_kwh"] == "kWh"
