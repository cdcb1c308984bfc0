"""Measures summed at a grain, and the metric formulas over them (:mod:`evrevops.metrics.measures`)."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from evrevops.metrics import facts, measures
from evrevops.metrics.registry import MEASURES, METRICS
from evrevops.uptime.timeline import DEFAULT_OFFLINE_AFTER_S
from evrevops.warehouse.db import open_warehouse
from tests.helpers.warehouse import warehouse_of

MARCH = (dt.date(2024, 3, 1), dt.date(2024, 3, 31))


@pytest.fixture(scope="module")
def wh(tmp_path_factory, fixtures):
    w = open_warehouse(warehouse_of(fixtures / "metrics", tmp_path_factory.mktemp("m") / "w.duckdb"), read_only=True)
    yield w
    w.close()


def test_keys_name_the_grain_period_and_currency():
    assert measures.keys("site", "month") == ["site_id", "month", "currency"]
    assert measures.keys("network", "day") == ["local_date", "currency"]
    with pytest.raises(ValueError, match="unknown grain 'planet'"):
        measures.keys("planet", "month")
    with pytest.raises(ValueError, match="unknown period 'year'"):
        measures.keys("site", "year")


def _value(m, **cols):
    """Metric *m* over one row of measures *cols*; the measures saying whether it is known say it is, unless given."""
    gates = {g: 1 for g in [m.known_if] if g} | {g: 0 for g in [m.unknown_if] if g}
    t = ibis.memtable({k: [v] for k, v in (gates | cols).items()})
    return t.select(x=measures.metric_expr(m, t)).to_pyarrow().column("x")[0].as_py()


def test_a_money_ratio_is_rounded_to_whole_minor_units_and_null_over_nothing():
    m = next(m for m in METRICS.values() if m.kind == "ratio" and m.money)
    assert _value(m, **{m.numerator: 1001, m.denominator: 2}) == 501  # 500.5 half away from zero
    assert _value(m, **{m.numerator: 1001, m.denominator: 0}) is None


def test_a_metric_whose_source_has_no_data_is_null_not_its_formula():
    m = METRICS["utilization"]  # sessions: known where port-days lie inside the session data
    assert m.known_if == "observed_port_days"
    assert _value(m, **{m.numerator: 0.0, m.denominator: 1151.0}) == 0.0
    assert _value(m, **{m.numerator: 0.0, m.denominator: 1151.0, m.known_if: 0}) is None
    u = METRICS["uptime_pct"]  # telemetry: known where measured, unknown in a feed gap
    assert (u.known_if, u.unknown_if) == ("measured_s", "feed_gap_s")
    up = {u.numerator: 3600.0, u.denominator: 3600.0}
    assert _value(u, **up) == 100.0
    assert _value(u, **up, measured_s=0) is None and _value(u, **up, feed_gap_s=60) is None


def test_a_fraction_is_the_quotient_and_null_over_nothing():
    m = METRICS["utilization"]
    assert _value(m, **{m.numerator: 4.0, m.denominator: 1151.0}) == pytest.approx(4.0 / 1151)
    assert _value(m, **{m.numerator: 4.0, m.denominator: 0.0}) is None


def test_measures_by_site_hold_each_site_once_with_its_sums(wh):
    f = facts.build(wh, *MARCH)
    needed = {"sessions", "energy_kwh"}
    t = measures.measures(
        wh, f, measures.keys("site", "month"), needed, True, True, None, DEFAULT_OFFLINE_AFTER_S, False
    )
    rows = {r["site_id"]: r for r in t.to_pyarrow().to_pylist()}
    assert (rows["A"]["sessions"], rows["A"]["energy_kwh"], rows["A"]["ports"]) == (5, 220.0, 2)
    assert all(r["currency"] != measures.NULL_KEY for r in rows.values())


def test_a_measure_of_another_level_not_joined_is_null(wh):
    f = facts.build(wh, *MARCH)
    bill = next(n for n, m in MEASURES.items() if m.level == "site-month")
    by = measures.keys("port", "month")
    t = measures.measures(wh, f, by, {"sessions", bill}, False, True, None, DEFAULT_OFFLINE_AFTER_S, False)
    assert {r[bill] for r in t.to_pyarrow().to_pylist()} == {None}  # bills are a site's, not a port's


def test_a_metric_not_defined_at_the_grain_is_null_and_null_dimensions_are_restored():
    m = METRICS["utilization"]
    agg = ibis.memtable({"site_id": ["A"], "month": [dt.date(2024, 3, 1)], "currency": [""], m.numerator: [1.0], m.denominator: [2.0], m.known_if: [31]})  # fmt: skip
    out = measures.metric_table(agg, "site", "month", [m]).to_pyarrow().to_pylist()
    assert out == [{"site_id": "A", "month": dt.date(2024, 3, 1), "currency": None, "utilization": 0.5}]
