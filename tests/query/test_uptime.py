"""query.uptime and the horizon month on the hand-computed telemetry year of tests/uptime/test_timeline.py."""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.query import metrics as qmetrics
from evrevops.query import period as qperiod
from evrevops.query import uptime as quptime


def test_a_telemetry_only_warehouse_defaults_to_its_last_full_month(uptime_wh):
    assert qperiod.last_full_month(uptime_wh) == (dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    assert qperiod.horizon_month(uptime_wh, None) == dt.date(2026, 1, 1)  # heartbeats to 2026-01-01 00:00
    assert qperiod.horizon_month(uptime_wh, dt.datetime(2025, 10, 3, 8)) == dt.date(2025, 10, 1)


def test_uptime_is_the_hand_computed_nevi_figure(uptime_wh):
    r = qmetrics.uptime(uptime_wh, "port", dt.date(2025, 12, 1))
    p1 = next(x for x in r.table.to_pylist() if x["port_id"] == "P1")
    assert p1["uptime_t12m_pct"] == pytest.approx((525_600 - 1_080) / 525_600 * 100)
    assert r.units["uptime_t12m_pct"] == "%" and r.title == "uptime by port, 2025-12"


def test_outages_and_stale_name_the_silent_charger(uptime_wh):
    oct_ = dt.date(2025, 10, 1)
    rows = [x for x in quptime.outages(uptime_wh, oct_, oct_).table.to_pylist() if x["port_id"] == "P1"]
    assert [(x["started_at"], x["duration_min"], x["statuses"]) for x in rows] == [
        (dt.datetime(2025, 10, 1), 600, "offline")
    ]
    s = quptime.stale(uptime_wh, as_of=dt.datetime(2025, 10, 1, 8)).table.to_pylist()
    assert [(x["charger_id"], x["state"], x["silent_h"]) for x in s] == [("C1", "offline", 8.0)]
    assert quptime.outages(uptime_wh, oct_, oct_).units["duration_min"] == "min"
