"""Unit economics and the P&L on a generated demo network: every model present, every total the sum of its parts."""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.contracts import revenue
from evrevops.finance import cashflow as cf
from evrevops.finance import compare, pnl
from evrevops.finance import unit_economics as ue
from evrevops.warehouse.db import open_warehouse


@pytest.fixture(scope="module")
def wh(demo_networks, tmp_path_factory):
    w = open_warehouse(demo_networks.get(ports=80, months=2, seed=5).copy(tmp_path_factory.mktemp("demo-finance")))
    yield w
    w.close()


@pytest.fixture(scope="module")
def months(wh):
    return cf.site_months(wh, horizon_months=84)


def test_every_revenue_model_and_its_economics(wh, months):
    s = ue.from_months(months).to_pylist()
    models = {r["revenue_model"] for r in s}
    assert models == {"hardware_sale", "caas", "software_only"}
    for r in s:
        assert r["net_capex_minor"] == r["capex_minor"] - r["incentives_minor"] >= 0
        if r["revenue_model"] == "caas":
            assert r["capex_minor"] > 0 and r["cost_of_sales_minor"] == 0
        else:
            assert r["capex_minor"] == r["incentives_minor"] == 0
        if r["revenue_model"] == "hardware_sale":
            # hardware sells above its cost: the sale pays back at once
            assert r["upfront_revenue_minor"] > r["cost_of_sales_minor"] > 0 and r["payback_months"] == 0
        if r["revenue_model"] == "software_only":
            assert r["cost_of_sales_minor"] == 0 and r["upfront_revenue_minor"] == 0
    caas = [r["payback_months"] for r in s if r["revenue_model"] == "caas" and r["payback_months"] is not None]
    assert caas and 6 <= sorted(caas)[len(caas) // 2] <= 84  # CaaS pays back over years, not at once


def test_cash_flows_are_the_sum_of_their_parts(months):
    for r in months.to_pylist():
        parts = sum(r[c] for c in cf.REVENUE_COLUMNS) - sum(r[c] for c in cf.COST_COLUMNS) + r["incentives_minor"]
        assert r["cash_flow_minor"] == parts


def test_actual_months_recognize_what_the_revenue_report_does(wh, months):
    d0, d1 = cf.data_months(wh)
    rep = revenue.lines(wh, d0, d1)
    wh.con.register("_rep", rep)
    want = dict(
        wh.con.sql(
            "SELECT stream, sum(amount_minor) FROM _rep WHERE site_id IN (SELECT site_id FROM ports "
            "WHERE commissioned_on IS NOT NULL) GROUP BY 1"
        ).fetchall()
    )
    wh.con.unregister("_rep")
    got = {s: 0 for s in want}
    for r in months.to_pylist():
        if r["basis"] == "actual":
            for s in want:
                col = "energy_revenue_minor" if s == "energy" else f"{s}_minor"
                got[s] += r[col]
    assert got == want


def test_pnl_reconciles_with_revenue_and_sums_over_segments(wh):
    d0, d1 = cf.data_months(wh)
    net = {r["month"]: r for r in pnl.pnl(wh, d0, d1, by="network").to_pylist()}
    seg = pnl.pnl(wh, d0, d1, by="segment").to_pylist()
    rep = {r["month"]: r for r in revenue.by_stream(wh, d0, d1, by="network").to_pylist()}
    for m, r in net.items():
        assert r["revenue_minor"] == rep[m]["total_minor"]
        for c in ("revenue_minor", "cost_of_revenue_minor", "gross_margin_minor", "depreciation_minor", "ports"):
            assert sum(x[c] for x in seg if x["month"] == m) == r[c], (m, c)
    assert all(r["ports"] > 0 and r["revenue_per_port_minor"] > 0 for r in net.values())


def test_model_compare_on_a_demo_site(wh):
    site = wh.con.sql(
        "SELECT s.site_id FROM sites s JOIN ports p USING (site_id) WHERE s.revenue_model = 'caas' "
        "AND s.segment = 'public_dc' GROUP BY 1 ORDER BY 1 LIMIT 1"
    ).fetchall()
    if not site:
        pytest.skip("no public DC CaaS site in this demo")
    rows = {r["revenue_model"]: r for r in compare.compare(wh, site[0][0], horizon_months=84).to_pylist()}
    assert rows["caas"]["actual"] and not rows["hardware_sale"]["actual"]
    assert rows["hardware_sale"]["capex_minor"] == 0 and rows["caas"]["capex_minor"] > 0
    assert rows["hardware_sale"]["upfront_revenue_minor"] > 0
    assert dt.date.fromisoformat(rows["caas"]["commissioned_month"] + "-01") <= cf.data_months(wh)[1]
