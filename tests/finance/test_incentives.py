"""Incentives: a grant capped at its maximum, the stack cut at the capex, dated programs and statuses."""

from __future__ import annotations

from evrevops.finance import cashflow as cf
from evrevops.finance import incentives as fi


def test_nominal_amount_and_stack_by_hand():
    assert fi.nominal_minor(12_000_000, "80", cap_minor=5_000_000) == 5_000_000  # 9,600,000 capped
    assert fi.nominal_minor(1_000_001, "12.5") == 125_000  # 125,000.125
    assert fi.nominal_minor(1_000_004, "12.5") == 125_001  # 125,000.5, half up
    assert fi.nominal_minor(500_000, "30", amount_minor=200_000, cap_minor=180_000) == 150_000  # 30 % of 500,000
    assert fi.nominal_minor(500_000, None, amount_minor=200_000, cap_minor=180_000) == 180_000
    assert fi.nominal_minor(500_000) == 0
    assert fi.stack([375_000, 200_000, 50_000], 500_000) == [375_000, 125_000, 0]
    assert fi.tax_basis_minor(10_000_000, 5_000_000) == 5_000_000 and fi.tax_basis_minor(500_000, 600_000) == 0


def test_incentive_awards_grant_capped_and_stack_cut(wh):
    a = {r["incentive_id"]: r for r in cf.awards(wh).to_pylist()}
    # denied (I-3), only applied for (I-4) and a program that ended before commissioning (I-5) do not count
    assert set(a) == {"I-1", "I-2", "I-6", "I-7", "I-8"}
    assert (a["I-1"]["eligible_minor"], a["I-1"]["nominal_minor"], a["I-1"]["award_minor"]) == (
        12_000_000, 5_000_000, 5_000_000
    )  # 80 % of $120,000 = $96,000, capped at $50,000  # fmt: skip
    # the 30 % credit is on hardware + installation ($100,000) less the $50,000 grant
    assert (a["I-2"]["eligible_minor"], a["I-2"]["basis_minor"], a["I-2"]["award_minor"]) == (
        10_000_000, 5_000_000, 1_500_000
    )  # fmt: skip
    # E: 75 % of $5,000, then a $2,000 rebate the stack cuts at the capex; nothing left for the credit
    assert (a["I-6"]["award_minor"], a["I-7"]["nominal_minor"], a["I-7"]["award_minor"]) == (375_000, 200_000, 125_000)
    assert (a["I-8"]["basis_minor"], a["I-8"]["award_minor"]) == (0, 0)
    applied = {r["incentive_id"]: r for r in cf.awards(wh, include_applied=True).to_pylist()}
    # the $5,000 rebate applied for, and the credit's basis shrinks by it: 30 % × (100,000 − 55,000)
    assert (applied["I-4"]["award_minor"], applied["I-2"]["award_minor"]) == (500_000, 1_350_000)
