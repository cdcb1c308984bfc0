"""The open pipeline on a day, weighted by the CRM's probability and by the learned one (by hand)."""

from __future__ import annotations

import datetime as dt

from evrevops.pipeline import snapshot


def test_open_deals_and_both_weightings(wh):
    d = {r["deal_id"]: r for r in snapshot.deals(wh, dt.date(2025, 6, 30)).to_pylist()}
    assert set(d) == {"D6", "D7", "D8"}
    assert (d["D7"]["stage"], d["D7"]["total_minor"], d["D7"]["overdue"]) == ("negotiation", 25_624_000, True)
    # CRM: 60 % of $256,240; learned: public DC deals that reached negotiation all won (D4)
    assert (d["D7"]["crm_weighted_minor"], d["D7"]["learned_probability"], d["D7"]["learned_weighted_minor"]) == (
        15_374_400, 1.0, 25_624_000
    )  # fmt: skip
    # D6: no closed commercial deal ever entered qualified, so the network's 2 of 4
    assert (d["D6"]["learned_probability"], d["D6"]["learned_weighted_minor"], d["D6"]["crm_weighted_minor"]) == (
        0.5, 360_000, 144_000
    )  # fmt: skip
    # D8: fleet prospects won 1 of 2 (the network's 3 of 5 is not used)
    assert (d["D8"]["learned_probability"], d["D8"]["crm_weighted_minor"]) == (0.5, 300_000)


def test_the_pipeline_as_it_stood_and_by_stage(wh):
    past = {r["deal_id"]: r for r in snapshot.deals(wh, dt.date(2025, 3, 31)).to_pylist()}
    assert {k: v["stage"] for k, v in past.items()} == {"D6": "qualified", "D7": "qualified"}
    assert past["D7"]["learned_probability"] == 0.5  # public DC: D3 lost, D4 won after qualifying
    s = {r["stage"]: r for r in snapshot.summary(wh, dt.date(2025, 6, 30)).to_pylist()}
    assert (s["negotiation"]["deals"], s["negotiation"]["overdue"], s["prospect"]["caas_arr_minor"]) == (
        1,
        1,
        3_000_000,
    )
    total = snapshot.summary(wh, dt.date(2025, 6, 30), by="segment").to_pylist()
    assert sum(r["learned_weighted_minor"] for r in total) == 25_624_000 + 360_000 + 1_500_000
