"""Closed hours (outside stated operating hours) as UTC intervals, against a plain day-by-day reference."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from evrevops.core.calendar import _localize, closed_windows
from evrevops.core.hours import parse_operating_hours

HOURS = [
    "Mo-Fr 06:00-22:00; Sa,Su 08:00-20:00",
    "Mo-Fr 08:00-12:00,13:00-18:00",
    "Mo 22:00-06:00",
    "Su 23:30-00:30",
    "Sa 09:00-10:00,09:30-11:00",
    "24/7",
]


def reference(sites: pd.DataFrame, start: dt.date, end: dt.date) -> list[tuple]:
    """Each day: the gaps between its sorted open windows, and before and after them (one site at a time)."""
    out = []
    dates = pd.date_range(start, end, freq="D")
    for r in sites.itertuples(index=False):
        windows = parse_operating_hours(r.operating_hours)
        if windows == [(d, 0, 1440) for d in range(7)]:
            continue
        for d in dates:
            one = pd.DatetimeIndex([d])
            cursor = _localize(one, r.time_zone, True)[0]
            day_end = _localize(one + pd.Timedelta(days=1), r.time_zone, True)[0]
            opens = sorted(
                (
                    _localize(one + pd.Timedelta(minutes=s), r.time_zone, True)[0],
                    _localize(one + pd.Timedelta(minutes=e), r.time_zone, False)[0],
                )
                for wd, s, e in windows
                if wd == d.weekday()
            )
            for s, e in opens:
                if s > cursor:
                    out.append((r.site_id, cursor, s))
                cursor = max(cursor, e)
            if day_end > cursor:
                out.append((r.site_id, cursor, day_end))
    return sorted(out)


@pytest.mark.parametrize("tz", ["America/Chicago", "Europe/London", "America/Phoenix"])
def test_closed_windows_equal_the_day_by_day_reference(tz):
    sites = pd.DataFrame(
        {
            "site_id": [f"S{i}" for i in range(len(HOURS))] + ["T"],
            "time_zone": tz,
            "operating_hours": [*HOURS, HOURS[0]],
        }
    )
    # March and November: both DST changes in the US (and late March / October in London)
    for start, end in ((dt.date(2025, 3, 1), dt.date(2025, 4, 5)), (dt.date(2025, 10, 20), dt.date(2025, 11, 10))):
        got = closed_windows(sites, start, end)
        rows = sorted(
            zip(
                got["site_id"].to_pylist(),
                got["closed_start_at"].to_numpy().astype("datetime64[us]"),
                got["closed_end_at"].to_numpy().astype("datetime64[us]"),
                strict=True,
            )
        )
        want = reference(sites, start, end)
        assert [(a, np.datetime64(b, "us"), np.datetime64(c, "us")) for a, b, c in rows] == [
            (a, np.datetime64(b, "us"), np.datetime64(c, "us")) for a, b, c in want
        ]
        assert "S5" not in set(got["site_id"].to_pylist())  # 24/7: never closed


def test_no_sites_or_no_days():
    empty = pd.DataFrame({"site_id": [], "time_zone": [], "operating_hours": []})
    assert closed_windows(empty, dt.date(2025, 1, 1), dt.date(2025, 1, 31)).num_rows == 0
    one = pd.DataFrame({"site_id": ["S"], "time_zone": ["UTC"], "operating_hours": ["Mo 08:00-09:00"]})
    assert closed_windows(one, dt.date(2025, 1, 2), dt.date(2025, 1, 1)).num_rows == 0
