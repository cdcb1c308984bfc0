"""The regular expression the streaming CDR pass vouches for charging periods by: whole days of the window only."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from evrevops.formats.ocpi_cdr_periods import periods_regex


def _periods(day: dt.date) -> str:
    period = {"start_date_time": f"{day:%Y-%m-%d}T10:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 1.5}]}
    return json.dumps([period], separators=(",", ":"))


@pytest.mark.parametrize(
    ("earliest", "until"),
    [
        (dt.datetime(2023, 12, 30, 10, 0), dt.datetime(2025, 3, 2, 0, 0)),  # a leap February inside
        (dt.datetime(2024, 2, 1), dt.datetime(2024, 3, 1, 12, 0)),
        (dt.datetime(2019, 1, 1), dt.datetime(2021, 1, 1)),  # whole years
    ],
)
def test_periods_regex_takes_exactly_the_whole_days_of_the_window(earliest, until):
    rx = re.compile(periods_regex(earliest, until))
    first = earliest.date() if earliest.time() == dt.time(0) else earliest.date() + dt.timedelta(days=1)
    last = until.date() - dt.timedelta(days=1)
    day = first - dt.timedelta(days=3)
    while day <= last + dt.timedelta(days=3):
        assert (rx.search(_periods(day)) is not None) is (first <= day <= last), day
        day += dt.timedelta(days=1)


def test_periods_regex_declines_what_it_cannot_vouch_for():
    rx = re.compile(periods_regex(dt.datetime(2020, 1, 1), dt.datetime(2030, 1, 1)))
    good = _periods(dt.date(2025, 2, 28))
    assert rx.search(good)
    for bad in (
        good.replace('"ENERGY"', '"ENERGIE"'),  # a type outside the OCPI enum
        good.replace("1.5", "-1.5"),  # a negative volume
        good.replace("2025-02-28", "2025-02-29"),  # no such day
        good.replace('"dimensions":[', '"dimensions":[],"x":['),
        "[]",
    ):
        assert rx.search(bad) is None, bad
    assert periods_regex(dt.datetime(2025, 1, 1, 12), dt.datetime(2025, 1, 2, 6)) == "^$"  # no whole day
