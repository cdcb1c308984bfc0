"""The hardware/project forecast on the hand-built CRM history (tests/fixtures/pipeline/README.md), by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.forecast import hardware as hw


def _by_month(t):
    return {r["month"]: r for r in t.to_pylist()}


def test_forecast_by_hand(wh):
    f = _by_month(hw.forecast(wh, dt.date(2025, 6, 30), months=6))
    assert list(f) == ["2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12"]
    # P4 (D4's project) stalled 242 days: expected 14 August; no finished project slipped more, so no further draw
    assert (f["2025-08"]["from_projects_minor"], f["2025-08"]["mean_minor"]) == (15_000_000, 15_000_000)
    # D7: negotiation, won for sure (public DC's D4 was); 60 days in it, longer than any past win from it
    # (30, 31 days), so 30 days more; then the only past win-to-commissioning lag, 86 days: 24 October
    assert (f["2025-10"]["from_pipeline_minor"], f["2025-10"]["p10_minor"], f["2025-10"]["p90_minor"]) == (
        25_000_000, 25_000_000, 25_000_000
    )  # fmt: skip
    assert sum(r["mean_minor"] for r in f.values()) == 40_000_000
    # naive: D7 at 60 % (the CRM's negotiation probability) and P4 at once, both on the overdue close: July
    assert f["2025-07"]["naive_minor"] == 15_000_000 + 15_000_000 and f["2025-08"]["naive_minor"] == 0


def test_forecast_as_it_stood_earlier(wh):
    f = _by_month(hw.forecast(wh, dt.date(2025, 5, 15), months=4))
    # on 15 May P4's permits were 196 days overdue: commissioning expected 29 June
    assert f["2025-06"]["from_projects_minor"] == 15_000_000
    # D7 had been in negotiation 14 days: 16 or 17 more (past wins took 30, 31), then 86: late August
    assert f["2025-08"]["from_pipeline_minor"] == 25_000_000 and f["2025-07"]["mean_minor"] == 0


def test_quantiles_are_ordered_and_parts_add_up(wh):
    for r in hw.forecast(wh, dt.date(2025, 3, 31), months=9, sims=500).to_pylist():
        assert r["p10_minor"] <= r["p50_minor"] <= r["p90_minor"]
        parts = r["from_projects_minor"] + r["from_won_minor"] + r["from_pipeline_minor"]
        assert abs(parts - r["mean_minor"]) <= 2
    with pytest.raises(ValueError, match="at least one month"):
        hw.forecast(wh, dt.date(2025, 6, 30), months=0)
