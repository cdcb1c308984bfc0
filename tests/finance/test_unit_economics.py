"""Payback, NPV and IRR: pure functions by hand, and on the hand-built network."""

from __future__ import annotations

import numpy as np
import pytest

from evrevops.finance import unit_economics as ue


def test_pure_functions_by_hand():
    # −100 then +110 a month later: IRR 10 % a month = 1.1^12 − 1 a year
    assert ue.irr(np.array([-100.0, 110.0])) == pytest.approx(1.1**12 - 1, rel=1e-9)
    assert np.isnan(ue.irr(np.array([100.0, 10.0])))
    assert ue.npv(np.array([-100.0, 110.0]), 0.0) == pytest.approx(10.0)
    assert ue.npv(np.array([0.0, 1.08 ** (1 / 12)]), 0.08) == pytest.approx(1.0)
    assert ue.payback_month(np.array([-300, 100, 100, 100, 5])) == 3
    assert ue.payback_month(np.array([-300, 100, 100])) == -1
    # months before commissioning count in the cumulative, but payback is never before t = 0
    assert ue.payback_month(np.array([50, -10, 0]), t=np.array([-1, 0, 1])) == 0
    assert ue.payback_month(np.array([-50, 10, 60]), t=np.array([-1, 0, 1])) == 1


def test_payback_npv_and_irr(wh, months):
    s = {r["site_id"]: r for r in ue.sites(wh).to_pylist()}
    h = s["H"]
    assert (h["capex_minor"], h["incentives_minor"], h["net_capex_minor"]) == (12_000_000, 6_500_000, 5_500_000)
    # cumulative: −8,000,000 + 2,586,510 = −5,413,490 after January, + 86,510 a month: ≥ 0 after 63 more months
    assert (h["payback_months"], h["payback_month"], h["payback_basis"]) == (63, "2030-04", "projected")
    assert h["operating_cash_flow_minor"] == 86_510 and h["cash_to_date_minor"] == -5_240_470
    flows = [months[("H", t)]["cash_flow_minor"] for t in range(-1, 120)]
    i = 1.08 ** (1 / 12) - 1
    by_hand = sum(c / (1 + i) ** t for t, c in zip(range(-1, 120), flows, strict=True))
    assert h["npv_minor"] == round(by_hand)
    r = (1 + h["irr"]) ** (1 / 12) - 1
    assert abs(sum(c / (1 + r) ** t for t, c in zip(range(-1, 120), flows, strict=True))) < 1.0
    assert h["total_cash_flow_minor"] == sum(flows)
    # E and W are cash-positive from commissioning: payback 0, no IRR
    assert (s["E"]["payback_months"], s["E"]["irr"], s["W"]["payback_months"], s["W"]["irr"]) == (0, None, 0, None)
    assert s["W"]["cost_of_sales_minor"] == 930_000 and s["W"]["upfront_revenue_minor"] == 1_300_000


def test_ranking_and_summary(wh):
    t = ue.sites(wh)
    net = ue.ranked(t, "network").to_pylist()
    assert [r["site_id"] for r in net] == ["E", "W", "H"]  # payback 0, 0 (E has the higher NPV), then 63
    seg = ue.summary(t, "segment").to_pylist()
    assert {(r["segment"], r["revenue_model"], r["median_payback_months"]) for r in seg} == {
        ("commercial", "caas", 0), ("fleet", "hardware_sale", 0), ("public_dc", "caas", 63)
    }  # fmt: skip
    with pytest.raises(ValueError, match="unknown grain"):
        ue.ranked(t, "planet")
