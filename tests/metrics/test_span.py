"""The dates the session data spans (:mod:`evrevops.metrics.span`)."""

from __future__ import annotations

import datetime as dt

from evrevops.metrics import span
from evrevops.warehouse.db import open_warehouse


def _with_sessions(tmp_path, *starts: str):
    wh = open_warehouse(tmp_path / "s.duckdb")
    for i, s in enumerate(starts):
        wh.execute(
            "INSERT INTO sessions (session_id, site_id, started_at, ended_at, energy_kwh, plugged_in_s, charging_s, idle_s, "
            "currency, file_id, source_record) "
            "VALUES (?, 'S', ?, ?, 1.0, 3600, 3600, 0, 'USD', 1, ?)",
            [f"s{i}", dt.datetime.fromisoformat(s), dt.datetime.fromisoformat(s) + dt.timedelta(hours=1), i],
        )
    return wh


def test_an_empty_warehouse_spans_nothing(tmp_path):
    wh = _with_sessions(tmp_path)
    assert span.data_range(wh) is None
    assert span.last_full_month(wh) is None


def test_the_range_is_the_first_and_last_utc_start_date(tmp_path):
    wh = _with_sessions(tmp_path, "2024-02-03 23:30", "2024-03-15 00:10")
    assert span.data_range(wh) == (dt.date(2024, 2, 3), dt.date(2024, 3, 15))
    assert span.last_full_month(wh) == "2024-02"  # March is not over


def test_data_to_a_months_last_day_makes_it_the_last_full_month(tmp_path):
    wh = _with_sessions(tmp_path, "2023-12-01 08:00", "2023-12-31 22:00")
    assert span.last_full_month(wh) == "2023-12"
