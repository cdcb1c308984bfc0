"""Site cash flows, incentives, payback, NPV and IRR on the hand-built network, in exact cents.

Every expected figure is worked out in the comments from tests/fixtures/finance/README.md.
"""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.finance import cashflow as cf


def test_caas_site_with_operator_energy_and_demand_charges(months):
    dec, jan, feb, apr = (months[("H", t)] for t in (-1, 0, 1, 3))
    # hardware and make-ready bought in December, the month before commissioning
    assert (dec["basis"], dec["capex_minor"], dec["cash_flow_minor"]) == ("estimated", 8_000_000, -8_000_000)
    # January: 2 × $1,000 fee; $20.00 of energy against a $424.00 bill ($4.00 energy, $400 demand, $20 fixed);
    # network 2 × $15, maintenance 2 × $100, processing 3 % × $20.00 + $0.30, lease $500; installation $40,000;
    # incentives: grant min(80 % × $120,000, $50,000) + tax credit 30 % × ($100,000 − the $50,000 grant)
    assert (jan["caas_minor"], jan["energy_revenue_minor"], jan["energy_cost_minor"]) == (200_000, 2_000, 42_400)
    assert (jan["network_minor"], jan["maintenance_cost_minor"], jan["payment_processing_minor"]) == (3_000, 20_000, 90)
    assert (jan["site_lease_minor"], jan["capex_minor"], jan["incentives_minor"]) == (50_000, 4_000_000, 6_500_000)
    assert jan["cash_flow_minor"] == 200_000 + 2_000 - 42_400 - 3_000 - 20_000 - 90 - 50_000 - 4_000_000 + 6_500_000
    assert feb["cash_flow_minor"] == 86_510 and feb["basis"] == "actual"
    # after March: the fee at its MRR, energy at the run rate of February and March
    assert (apr["basis"], apr["caas_minor"], apr["energy_cost_minor"], apr["cash_flow_minor"]) == (
        "projected", 200_000, 42_400, 86_510
    )  # fmt: skip


def test_caas_energy_share_is_prorated_and_the_host_keeps_the_energy(months):
    jan, feb, mar, apr = (months[("E", t)] for t in range(4))
    # the fee and the 15 % share run from 11 January: 21 of 31 days
    assert jan["caas_minor"] == 10_161  # 15,000 × 21/31 = 10,161.3
    assert jan["energy_share_minor"] == 1_016  # 10,000 × 15 % × 21/31 = 1,016.1
    assert (feb["energy_share_minor"], mar["energy_share_minor"]) == (1_200, 0)  # $80.00 × 15 %; no sessions
    assert jan["energy_revenue_minor"] == jan["energy_cost_minor"] == jan["payment_processing_minor"] == 0
    # projected: 15 % of the run rate (8,000 + 0) / 2
    assert apr["energy_share_minor"] == 600
    # capex $5,000 less a 75 % grant ($3,750) and a $2,000 rebate that the stack cuts to $1,250
    assert (jan["capex_minor"], jan["incentives_minor"], jan["cash_flow_minor"]) == (500_000, 500_000, 10_777)


def test_hardware_sale_books_cost_of_sales_not_capex(months):
    dec, jan, feb = (months[("W", t)] for t in (-1, 0, 1))
    assert (dec["hardware_minor"], dec["cost_of_sales_minor"], dec["cash_flow_minor"]) == (1_000_000, 680_000, 320_000)
    # installation $3,000 against $2,500; software $30; network $5; no maintenance cost without a maintenance line
    assert (jan["installation_minor"], jan["cost_of_sales_minor"], jan["software_minor"]) == (300_000, 250_000, 3_000)
    assert (jan["maintenance_cost_minor"], jan["capex_minor"], jan["cash_flow_minor"]) == (0, 0, 52_500)
    assert feb["cash_flow_minor"] == 2_500


def test_every_cash_flow_is_the_sum_of_its_parts(months):
    for r in months.values():
        parts = sum(r[c] for c in cf.REVENUE_COLUMNS) - sum(r[c] for c in cf.COST_COLUMNS) + r["incentives_minor"]
        assert r["cash_flow_minor"] == parts


def test_horizon_and_until(wh):
    t = cf.site_months(wh, horizon_months=3, sites=["H"]).to_pylist()
    assert [r["t"] for r in t] == [-1, 0, 1, 2]
    u = cf.site_months(wh, until=dt.date(2025, 2, 1)).to_pylist()
    assert max(r["month"] for r in u) == dt.date(2025, 2, 1)
    with pytest.raises(ValueError, match="at least one month"):
        cf.site_months(wh, horizon_months=0)
