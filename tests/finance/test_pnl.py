"""The P&L by hand: revenue by stream, cost of revenue, depreciation, gross margin, revenue per port."""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.contracts import revenue
from evrevops.core import vocabulary
from evrevops.finance import pnl
from evrevops.warehouse.db import open_warehouse
from tests.finance import hand

FEB = dt.date(2025, 2, 1)


def _rows(wh, month, by="segment", last=None):
    key = "scope" if by == "network" else by
    return {(r[key], r["month"]): r for r in pnl.pnl(wh, month, last, by=by).to_pylist()}


def test_network_month_by_hand(wh):
    net = _rows(wh, FEB, "network")[("network", "2025-02")]
    # H: fee 200,000 + energy 2,000; E: fee 15,000 + share 1,200; W: software 3,000
    assert net["revenue_minor"] == 221_200
    assert (net["caas_minor"], net["energy_share_minor"], net["energy_minor"], net["software_minor"]) == (
        215_000, 1_200, 2_000, 3_000
    )  # fmt: skip
    # H's bill; network 3,000 + 400 + 500; H's maintenance, processing and lease
    assert (net["energy_cost_minor"], net["network_minor"], net["maintenance_cost_minor"]) == (42_400, 3_900, 20_000)
    assert (net["payment_processing_minor"], net["site_lease_minor"], net["cost_of_sales_minor"]) == (90, 50_000, 0)
    # H's assets: 8,000,000 bought in December (month 3 of 120 in February: 200,000 − 133,333) and, in January,
    # installation 4,000,000 less 6,500,000 of incentives (month 2: −41,667 + 20,833); E's capex is covered
    assert net["depreciation_minor"] == 66_667 - 20_834
    assert net["cost_of_revenue_minor"] == 42_400 + 3_900 + 20_000 + 90 + 50_000 + 45_833
    assert net["gross_margin_minor"] == 221_200 - 162_223
    assert net["gross_margin_share"] == pytest.approx(58_977 / 221_200)
    assert (net["ports"], net["revenue_per_port_minor"]) == (4, 55_300)


def test_segments_by_hand_and_every_grain_sums_to_the_network(wh):
    jan = dt.date(2025, 1, 1)
    seg = _rows(wh, jan, last=dt.date(2025, 3, 1))
    fleet = seg[("fleet", "2025-01")]
    # W: installation 300,000 against its 250,000 cost; software 3,000; network 500
    assert (fleet["revenue_minor"], fleet["cost_of_sales_minor"], fleet["gross_margin_minor"]) == (
        303_000, 250_000, 52_500
    )  # fmt: skip
    dc = seg[("public_dc", "2025-01")]
    assert dc["depreciation_minor"] == (133_333 - 66_667) + (-20_833)
    net = _rows(wh, jan, "network", last=dt.date(2025, 3, 1))
    money = [c for c in next(iter(net.values())) if c.endswith("_minor") and c != "revenue_per_port_minor"]
    for by in ("segment", "site", "customer", "revenue_model"):
        rows = _rows(wh, jan, by, last=dt.date(2025, 3, 1))
        for m in ("2025-01", "2025-02", "2025-03"):
            part = [r for (_, mm), r in rows.items() if mm == m]
            for c in money + ["ports"]:
                assert sum(r[c] for r in part) == net[("network", m)][c], (by, m, c)
    for r in (*seg.values(), *net.values()):
        assert r["cost_of_revenue_minor"] == sum(r[c] for c in pnl.COSTS)
        assert r["revenue_minor"] == sum(r[f"{s}_minor"] for s in vocabulary.STREAMS)
        assert r["gross_margin_minor"] == r["revenue_minor"] - r["cost_of_revenue_minor"]


def test_pnl_revenue_is_the_revenue_report(wh):
    rep = {
        r["month"]: r for r in revenue.by_stream(wh, dt.date(2025, 1, 1), dt.date(2025, 3, 1), by="network").to_pylist()
    }
    for (_, m), r in _rows(wh, dt.date(2025, 1, 1), "network", last=dt.date(2025, 3, 1)).items():
        assert r["revenue_minor"] == rep[m]["total_minor"]
        assert all(r[f"{s}_minor"] == rep[m][f"{s}_minor"] for s in vocabulary.STREAMS)


def test_months_outside_the_data_and_bad_grains_fail(wh):
    with pytest.raises(ValueError, match="months with session data"):
        pnl.pnl(wh, dt.date(2024, 12, 1))
    with pytest.raises(ValueError, match="unknown grain"):
        pnl.pnl(wh, FEB, by="planet")


def test_hardware_delivered_before_a_later_commissioning_is_in_the_month_it_sells(finance_db, tmp_path):
    # N: one charger sold and delivered on 20 March ($4,000, cost $2,720), commissioned in April (after the data)
    w = hand.extended(
        finance_db,
        tmp_path,
        sites=(
            "site_id,customer_id,segment,revenue_model,time_zone,charger_id,port_id,power_type,rated_kw,commissioned_on\n"
            "N,CW,fleet,hardware_sale,America/Chicago,CN1,N1,AC_1_PHASE,19.2,2025-04-10\n"
        ),
        contracts=(
            "contract_id,line_id,customer_id,site_id,line_type,event,effective_on,quantity,unit_price,currency\n"
            "K-N,L1,CW,N,hardware,new,2025-03-20,1,4000.00,USD\n"
        ),
        costs=(
            "cost_id,site_id,cost_type,basis,amount,currency,incurred_on\nC-N1,N,hardware,one_time,2720.00,USD,2025-03-20\n"
        ),
    )
    mar = dt.date(2025, 3, 1)
    with open_warehouse(finance_db, read_only=True) as base:
        before = _rows(base, mar, "network")[("network", "2025-03")]
    after = _rows(w, mar, "network")[("network", "2025-03")]
    assert after["hardware_minor"] - before["hardware_minor"] == 400_000
    assert after["cost_of_sales_minor"] - before["cost_of_sales_minor"] == 272_000
    assert after["ports"] == before["ports"]  # N's port is not in service yet
    w.close()
