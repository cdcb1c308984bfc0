"""query.finance on the hand-computed finance warehouse (tests/finance/hand.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.query import finance as qfinance
from evrevops.query.result import COUNT, MINOR, MONTHS


def test_unit_economics_ranked_per_site(finance_wh):
    r = qfinance.unit_economics(finance_wh, "segment")
    h = next(x for x in r.table.to_pylist() if x["site_id"] == "H")
    assert (h["payback_months"], h["net_capex_minor"], h["rank"]) == (63, 5_500_000, 1)
    assert (r.units["net_capex_minor"], r.units["payback_months"]) == (MINOR, MONTHS)
    assert "site_id" not in r.units and r.title == "unit economics by segment (120 months, 8 % a year)"


def test_unit_economics_summary_and_no_site(finance_wh):
    s = qfinance.unit_economics(finance_wh, "network", summary=True)
    assert s.num_rows >= 1 and s.units["sites"] == COUNT and s.units["npv_minor"] == MINOR
    assert sum(s.table.column("sites").to_pylist()) == qfinance.unit_economics(finance_wh, "network").num_rows
    with pytest.raises(ValueError, match="no commissioned sites to evaluate among NOPE"):
        qfinance.unit_economics(finance_wh, site_ids=["NOPE"])


def test_pnl_model_compare_and_incentives(finance_wh):
    feb = dt.date(2025, 2, 1)
    p = qfinance.pnl(finance_wh, feb, feb, by="network").table.to_pylist()
    assert (p[0]["revenue_minor"], p[0]["gross_margin_minor"]) == (221_200, 58_977)
    with pytest.raises(ValueError, match="no reference price for hardware_per_charger"):
        qfinance.model_compare(finance_wh, "H")
    awards = qfinance.incentives(finance_wh, ["H"]).table.to_pylist()
    assert {x["incentive_id"]: x["award_minor"] for x in awards} == {"I-1": 5_000_000, "I-2": 1_500_000}
