"""query.pipeline on tests/fixtures/pipeline: the day reports stand on, and each report."""

from __future__ import annotations

import datetime as dt

from evrevops.pipeline import funnel as pfunnel
from evrevops.query import pipeline as qpipeline

JUNE_END = dt.date(2025, 6, 30)


def test_the_default_day_is_the_engines(pipeline_wh):
    assert qpipeline.as_of_day(pipeline_wh) == pfunnel.default_day(pipeline_wh, None)
    assert qpipeline.as_of_day(pipeline_wh, JUNE_END) == JUNE_END


def test_open_pipeline_and_projects(pipeline_wh):
    r = qpipeline.open_pipeline(pipeline_wh, JUNE_END)
    neg = next(x for x in r.table.to_pylist() if x["stage"] == "negotiation")
    assert (neg["deals"], neg["learned_weighted_minor"]) == (1, 25_624_000)
    assert r.units["learned_weighted_minor"] == "minor units" and r.title == "open pipeline on 2025-06-30 by stage"
    p4 = next(x for x in qpipeline.projects(pipeline_wh).table.to_pylist() if x["project_id"] == "P4")
    assert p4["expected_commissioning_on"] == dt.date(2025, 8, 14)


def test_every_report_has_rows(pipeline_wh):
    day = qpipeline.as_of_day(pipeline_wh)
    assert qpipeline.funnel(pipeline_wh, by="segment").title == f"funnel on {day}"
    for r in (
        qpipeline.funnel(pipeline_wh),
        qpipeline.win_rates(pipeline_wh, "utility_capacity_confirmed"),
        qpipeline.slippage(pipeline_wh),
        qpipeline.expansion(pipeline_wh, "customer"),
        qpipeline.expansion(pipeline_wh, "network"),
        qpipeline.ramp(pipeline_wh, "network"),
    ):
        assert r.num_rows > 0, r.title
