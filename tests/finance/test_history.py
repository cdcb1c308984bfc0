"""Site facts change over time: each month takes the facts in force on its last day (by hand).

On the hand-built network of tests/fixtures/finance (README there), a dated sites CSV moves E
(commercial CaaS with a 15 % energy share) to the public DC segment from 15 February 2025, and
turns W (a fleet hardware sale) into CaaS from 1 March 2025. January keeps what it was; February
is E's first public DC month (its facts on 28 February), March W's first CaaS month. An undated
restatement takes effect from the first day of the current month and changes no month of 2025.
"""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.contracts import revenue
from evrevops.finance import cashflow as cf
from evrevops.finance import pnl
from evrevops.finance import unit_economics as ue
from tests.finance import hand

JAN, FEB, MAR = dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)
DATED = (
    "site_id,segment,revenue_model,effective_on,time_zone,port_id\n"
    "E,public_dc,caas,2025-02-15,America/Chicago,E1\n"
    "W,fleet,caas,2025-03-01,America/Chicago,W1\n"
)
UNDATED = "site_id,segment,revenue_model,time_zone,port_id\nE,public_dc,caas,America/Chicago,E1\n"


@pytest.fixture(scope="module")
def changed(finance_db, tmp_path_factory):
    w = hand.extended(finance_db, tmp_path_factory.mktemp("dated"), sites=DATED)
    yield w
    w.close()


def _rev(wh, month, by="segment"):
    return {r[by]: r for r in revenue.by_stream(wh, month, by=by).to_pylist()}


def _pnl(wh, by="segment"):
    key = "scope" if by == "network" else by
    return {(r[key], r["month"]): r for r in pnl.pnl(wh, JAN, MAR, by=by).to_pylist()}


def test_revenue_takes_the_segment_of_each_month_end(changed):
    jan, feb = _rev(changed, JAN), _rev(changed, FEB)
    # January: E is commercial: its fee 15,000 × 21/31 = 10,161 and share 10,000 × 15 % × 21/31 = 1,016
    assert (jan["commercial"]["caas_minor"], jan["commercial"]["energy_share_minor"]) == (10_161, 1_016)
    assert jan["public_dc"]["caas_minor"] == 200_000  # H alone
    # February: E is public DC on the 28th: H 200,000 + E 15,000; E's share 8,000 × 15 % = 1,200
    assert "commercial" not in feb
    assert (feb["public_dc"]["caas_minor"], feb["public_dc"]["energy_share_minor"]) == (215_000, 1_200)


def test_cash_flow_bears_costs_by_each_months_model_and_segment(changed):
    m = {(r["site_id"], r["t"]): r for r in cf.site_months(changed).to_pylist()}
    e_jan, e_feb = m[("E", 0)], m[("E", 1)]
    assert (e_jan["segment"], e_feb["segment"]) == ("commercial", "public_dc")
    # January: the commercial network default $4; February on: the public DC defaults, network $15 and
    # maintenance $100 (borne under CaaS); no lease or processing, the host holding the energy position
    assert (e_jan["network_minor"], e_jan["maintenance_cost_minor"]) == (400, 0)
    assert (e_feb["network_minor"], e_feb["maintenance_cost_minor"], e_feb["site_lease_minor"]) == (1_500, 10_000, 0)
    assert e_feb["cash_flow_minor"] == 15_000 + 1_200 - 1_500 - 10_000  # 4,700
    # January's capex is still capex less the same incentives
    assert (e_jan["capex_minor"], e_jan["incentives_minor"], e_jan["cash_flow_minor"]) == (500_000, 500_000, 10_777)
    w_feb, w_mar, w_apr = m[("W", 1)], m[("W", 2)], m[("W", 3)]
    # W: a hardware sale in February (no maintenance line: no maintenance cost), CaaS from March: the fleet
    # maintenance default $18 is the operator's; software $30 still recognized, network $5
    assert (w_feb["revenue_model"], w_feb["maintenance_cost_minor"], w_feb["cash_flow_minor"]) == (
        "hardware_sale", 0, 2_500
    )  # fmt: skip
    assert (w_mar["revenue_model"], w_mar["energy_position"]) == ("caas", "operator")
    assert (w_mar["maintenance_cost_minor"], w_mar["cash_flow_minor"]) == (1_800, 3_000 - 500 - 1_800)
    assert (w_apr["basis"], w_apr["cash_flow_minor"]) == ("projected", 700)
    # what was sold in December and January stays cost of sales: W has no capex
    assert (m[("W", -1)]["cost_of_sales_minor"], sum(r["capex_minor"] for (s, _), r in m.items() if s == "W")) == (
        680_000, 0
    )  # fmt: skip


def test_the_pnl_groups_each_month_by_its_facts(changed, wh):
    net, base = _pnl(changed, "network"), _pnl(wh, "network")
    feb = net[("network", "2025-02")]
    # revenue is unchanged; E's public DC defaults add 1,100 of network and 10,000 of maintenance
    assert feb["revenue_minor"] == base[("network", "2025-02")]["revenue_minor"] == 221_200
    assert (feb["network_minor"], feb["maintenance_cost_minor"]) == (3_000 + 1_500 + 500, 20_000 + 10_000)
    assert feb["cost_of_revenue_minor"] == 42_400 + 5_000 + 30_000 + 90 + 50_000 + 45_833  # 173,323
    assert feb["gross_margin_minor"] == 221_200 - 173_323
    seg = _pnl(changed)
    assert (seg[("commercial", "2025-01")]["revenue_minor"], seg[("commercial", "2025-01")]["ports"]) == (11_177, 1)
    assert ("commercial", "2025-02") not in seg
    dc = seg[("public_dc", "2025-02")]
    assert (dc["revenue_minor"], dc["ports"], dc["network_minor"]) == (200_000 + 2_000 + 15_000 + 1_200, 3, 4_500)
    for m in ("2025-01", "2025-02", "2025-03"):
        for c in ("revenue_minor", "cost_of_revenue_minor", "ports"):
            assert sum(r[c] for (_, mm), r in seg.items() if mm == m) == net[("network", m)][c], (m, c)


def test_unit_economics_take_the_facts_at_the_end_of_the_data(changed):
    s = {r["site_id"]: r for r in ue.sites(changed).to_pylist()}
    # the data end in March 2025: E is public DC then, W CaaS
    assert (s["E"]["segment"], s["W"]["segment"], s["W"]["revenue_model"]) == ("public_dc", "fleet", "caas")


def test_an_undated_restatement_changes_no_earlier_month(finance_db, wh, tmp_path):
    w = hand.extended(finance_db, tmp_path, sites=UNDATED)
    try:
        assert _pnl(w) == _pnl(wh) and _pnl(w, "network") == _pnl(wh, "network")
        for month in (JAN, FEB, MAR):
            assert _rev(w, month) == _rev(wh, month)
        now = {(r["site_id"], r["t"]): r for r in cf.site_months(w).to_pylist()}
        before = {(r["site_id"], r["t"]): r for r in cf.site_months(wh).to_pylist()}
        assert {k: r for k, r in now.items() if r["basis"] != "projected"} == {
            k: r for k, r in before.items() if r["basis"] != "projected"
        }
        # it takes effect from the first day of this month: E's projected months from then are public DC's
        this_month = dt.date.today().replace(day=1)
        later = [r for (s, _), r in now.items() if s == "E" and r["month"] >= this_month]
        assert later and all(r["segment"] == "public_dc" for r in later)
        assert {r["segment"] for (s, _), r in now.items() if s == "E" and r["month"] < this_month} == {"commercial"}
        # a site's unit economics take its facts at the end of the data (March 2025): still commercial
        assert {r["site_id"]: r for r in ue.sites(w).to_pylist()}["E"]["segment"] == "commercial"
    finally:
        w.close()
