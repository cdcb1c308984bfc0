"""Funnel analytics on the hand-built CRM history (tests/fixtures/pipeline/README.md), by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.pipeline import funnel
from evrevops.warehouse.db import open_warehouse
from tests.helpers.warehouse import warehouse_of
from tests.pipeline.conftest import FOLDER

AS_OF = dt.date(2025, 6, 30)


def _stages(wh, **kw):
    return {r["stage"]: r for r in funnel.stages(wh, **kw).to_pylist()}


def test_stage_conversion_win_probability_and_days(wh):
    s = _stages(wh, as_of=AS_OF)
    p, q, r, n = (s[k] for k in funnel.OPEN_STAGES)
    # prospect: all 8 entered; 7 moved on (D5 skipped to proposal); D8 is still there
    assert (p["entered"], p["advanced"], p["lost"], p["open"], p["conversion"]) == (8, 7, 0, 1, 1.0)
    # qualified: D1 D2 D3 D4 D6 D7 entered (not D5); D2 lost there, D6 still there: 4 / (4 + 1)
    assert (q["entered"], q["advanced"], q["lost"], q["open"], q["conversion"]) == (6, 4, 1, 1, 0.8)
    # proposal: D1 D3 D4 D5 D7; D3 lost there: 4 / 5
    assert (r["entered"], r["lost"], r["conversion"]) == (5, 1, 0.8)
    assert (n["entered"], n["advanced"], n["open"], n["conversion"]) == (3, 2, 1, 1.0)
    # won / closed among the deals that entered the stage: 3/5, 2/4, 3/4, 2/2
    assert [x["win_probability"] for x in (p, q, r, n)] == [0.6, 0.5, 0.75, 1.0]
    # days in prospect: 22, 29, 14, 30, 31, 31, 28 (D8 has not left)
    assert p["median_days"] == 29 and p["mean_days"] == pytest.approx(185 / 7)
    assert (q["median_days"], r["median_days"], n["median_days"]) == (31, 30, 30.5)


def test_the_funnel_as_it_stood_on_a_past_date(wh):
    s = _stages(wh, as_of=dt.date(2024, 4, 20))
    # on 20 April 2024: D1 in negotiation, D2 lost at qualified, D3 in proposal, D4 in prospect
    assert s["prospect"]["entered"] == 4 and s["prospect"]["open"] == 1
    assert (s["qualified"]["advanced"], s["qualified"]["lost"], s["qualified"]["conversion"]) == (2, 1, 2 / 3)
    assert s["prospect"]["win_probability"] == 0.0  # one closed deal, lost
    assert "negotiation" in s and s["negotiation"]["win_probability"] is None


def test_win_rates_cycle_time_and_slippage(wh):
    seg = {r["segment"]: r for r in funnel.win_rates(wh, "segment", as_of=AS_OF).to_pylist()}
    assert (seg["fleet"]["won"], seg["fleet"]["lost"], seg["fleet"]["win_rate"]) == (1, 1, 0.5)
    assert seg["commercial"]["win_rate"] == 1.0 and seg["public_dc"]["win_rate"] == 0.5
    net = funnel.win_rates(wh, "network", as_of=AS_OF).to_pylist()[0]
    # wins: D1 112 days (10 Jan → 1 May), D4 122, D5 61 (its close only in deals.csv)
    assert (net["won"], net["lost"], net["median_cycle_days"]) == (3, 2, 112)
    assert net["mean_cycle_days"] == pytest.approx((112 + 122 + 61) / 3)
    # D1 and D5 closed 16 days after their expected close; D7 is overdue on 30 June (expected 15 June)
    assert (net["slipped"], net["median_slip_days"], net["open"], net["overdue"]) == (2, 16, 3, 1)
    assert net["median_close_offset_days"] == 16  # D1 +16, D4 0, D5 +16
    util = {
        r["utility_capacity_confirmed"]: r
        for r in funnel.win_rates(wh, "utility_capacity_confirmed", as_of=AS_OF).to_pylist()
    }
    assert (util["true"]["win_rate"], util["false"]["win_rate"]) == (0.75, 0.0)
    with pytest.raises(ValueError, match="unknown grouping"):
        funnel.win_rates(wh, "planet")


def test_stages_by_segment(wh):
    rows = funnel.stages(wh, as_of=AS_OF, by="segment").to_pylist()
    got = {(r["segment"], r["stage"]): r for r in rows}
    assert got[("fleet", "qualified")]["conversion"] == 0.5  # D1 on, D2 lost
    assert sum(r["entered"] for r in rows if r["stage"] == "prospect") == 8


# Six wins and a late loss (closed − expected close, in days): commercial W1 −10, W2 −4, W3 0;
# fleet W4 +3, W5 +7, W6 +20; fleet L1 lost 60 days after its expected close (not a win).
SLIP_DEALS = [
    ("W1", "commercial", "closed_won", "2024-03-20", "2024-03-10"),
    ("W2", "commercial", "closed_won", "2024-04-05", "2024-04-01"),
    ("W3", "commercial", "closed_won", "2024-05-01", "2024-05-01"),
    ("W4", "fleet", "closed_won", "2024-06-01", "2024-06-04"),
    ("W5", "fleet", "closed_won", "2024-07-01", "2024-07-08"),
    ("W6", "fleet", "closed_won", "2024-08-01", "2024-08-21"),
    ("L1", "fleet", "closed_lost", "2024-03-01", "2024-04-30"),
]


@pytest.fixture(scope="module")
def slip_wh(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slip-deals")
    header = (FOLDER / "deals.csv").read_text().splitlines()[0]
    rows = [
        f"{d},,{d} Co,{seg},caas,{stage},{100 if stage == 'closed_won' else 0},USD,0,0,0,1200.00,2,"
        f"2024-01-01,{expected},{closed},Dana,true,true,none,true"
        for d, seg, stage, expected, closed in SLIP_DEALS
    ]
    (folder / "deals.csv").write_text("\n".join([header, *rows]) + "\n")
    w = open_warehouse(warehouse_of(folder, tmp_path_factory.mktemp("slip") / "s.duckdb"), read_only=True)
    yield w
    w.close()


def test_slip_is_over_late_wins_and_close_offset_over_all_wins(slip_wh):
    net = funnel.win_rates(slip_wh, "network", as_of=AS_OF).to_pylist()[0]
    # slipped: W4 W5 W6 (3, 7, 20 days) → median 7; offsets −10 −4 0 3 7 20 → (0 + 3) / 2 = 1.5
    assert (net["won"], net["lost"], net["slipped"]) == (6, 1, 3)
    assert (net["median_slip_days"], net["median_close_offset_days"]) == (7, 1.5)
    seg = {r["segment"]: r for r in funnel.win_rates(slip_wh, "segment", as_of=AS_OF).to_pylist()}
    # commercial: none slipped (−10, −4, 0) → no slip median; offset median −4
    com = seg["commercial"]
    assert (com["slipped"], com["median_slip_days"], com["median_close_offset_days"]) == (0, None, -4)
    # fleet: all three wins slipped (3, 7, 20); the late loss counts in neither figure
    fleet = seg["fleet"]
    assert (fleet["slipped"], fleet["median_slip_days"], fleet["median_close_offset_days"]) == (3, 7, 7)
