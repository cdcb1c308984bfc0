"""Projects: status, slips carried forward to commissioning, budget against actual, margin (by hand)."""

from __future__ import annotations

import datetime as dt

from evrevops.pipeline import projects


def _by_id(wh, as_of=None):
    return {r["project_id"]: r for r in projects.status(wh, as_of).to_pylist()}


def test_a_stalled_project_moves_its_commissioning(wh):
    p4 = _by_id(wh)["P4"]  # on 30 June 2025, the last day of data
    assert (p4["status"], p4["next_milestone"], p4["segment"]) == ("make_ready", "permits", "public_dc")
    # permits were planned for 31 October 2024: 242 days overdue, more than make-ready's 45-day slip
    assert (p4["delay_days"], p4["expected_commissioning_on"]) == (242, dt.date(2025, 8, 14))
    # make-ready cost $16,800 against $14,000; the rest at budget: 1,200 + 16,800 + 1,600 + 20,000 + 3,200
    assert (p4["actual_cost_minor"], p4["budget_done_minor"], p4["cost_variance_minor"]) == (
        1_800_000,
        1_520_000,
        280_000,
    )
    assert (p4["estimate_at_completion_minor"], p4["installation_price_minor"]) == (4_280_000, 5_000_000)
    assert (p4["margin_at_budget_minor"], p4["expected_margin_minor"]) == (1_000_000, 720_000)
    early = _by_id(wh, dt.date(2024, 12, 1))["P4"]
    # on 1 December 2024 permits were 31 days overdue: the 45-day slip still rules
    assert (early["delay_days"], early["expected_commissioning_on"]) == (45, dt.date(2025, 1, 29))


def test_a_finished_project(wh):
    p5 = _by_id(wh)["P5"]
    assert (p5["status"], p5["next_milestone"], p5["delay_days"]) == ("commissioning", None, 5)
    assert p5["expected_commissioning_on"] == dt.date(2024, 9, 25)
    assert (p5["estimate_at_completion_minor"], p5["expected_margin_minor"], p5["margin_at_budget_minor"]) == (
        840_000, 60_000, 100_000
    )  # fmt: skip
    before = _by_id(wh, dt.date(2024, 7, 1))["P5"]
    assert (before["status"], before["next_milestone"]) == ("not_started", "site_survey")


def test_slippage_by_milestone(wh):
    s = {r["milestone"]: r for r in projects.slippage(wh).to_pylist()}
    assert (s["site_survey"]["done"], s["site_survey"]["slipped"]) == (2, 0)
    # make-ready: P4 45 days, P5 4 days; both over budget
    assert (s["make_ready"]["slipped_share"], s["make_ready"]["median_slip_days"]) == (1.0, 24.5)
    assert s["make_ready"]["cost_overrun_share"] == 1.0
    assert (s["commissioning"]["done"], s["commissioning"]["median_slip_days"]) == (1, 5)
