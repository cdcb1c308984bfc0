"""core.calendar month arithmetic: one month index, every helper checked against hand-computed dates."""

from __future__ import annotations

import datetime as dt
from datetime import date

import duckdb
import pytest

from evrevops.core.calendar import (
    add_months,
    days_in_month,
    from_month_index,
    month_bounds_sql,
    month_end,
    month_grid_sql,
    month_index,
    month_range,
    months_between,
    next_month,
)


def test_month_index_and_its_inverse():
    assert month_index(date(2025, 3, 15)) == 24302  # 2025 * 12 + 3 - 1
    assert month_index(date(1, 1, 1)) == 12
    assert from_month_index(24302) == date(2025, 3, 1)
    assert from_month_index(24299) == date(2024, 12, 1)


@pytest.mark.parametrize(
    ("month", "k", "expected"),
    [
        (date(2025, 3, 1), 0, date(2025, 3, 1)),
        (date(2025, 3, 20), 0, date(2025, 3, 1)),  # always a month's first day
        (date(2025, 11, 1), 2, date(2026, 1, 1)),  # across a year
        (date(2025, 1, 31), 1, date(2025, 2, 1)),  # no day-of-month overflow
        (date(2024, 2, 29), 12, date(2025, 2, 1)),
        (date(2025, 3, 1), -3, date(2024, 12, 1)),  # negative, across a year
        (date(2025, 3, 1), -15, date(2023, 12, 1)),
        (date(2025, 1, 1), -25, date(2022, 12, 1)),
        (date(2025, 1, 1), 120, date(2035, 1, 1)),
        (date(9999, 11, 5), 1, date(9999, 12, 1)),
        (date(1, 2, 1), -1, date(1, 1, 1)),
    ],
)
def test_add_months(month, k, expected):
    assert add_months(month, k) == expected


@pytest.mark.parametrize(("month", "k"), [(date(9999, 12, 1), 1), (date(1, 1, 1), -1)])
def test_add_months_past_the_calendar_is_refused(month, k):
    with pytest.raises(ValueError):
        add_months(month, k)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 12, 31), date(2026, 1, 1)),
        (date(2024, 2, 29), date(2024, 3, 1)),
        (date(2025, 6, 1), date(2025, 7, 1)),
    ],
)
def test_next_month(day, expected):
    assert next_month(day) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 1, 10), date(2025, 1, 31)),
        (date(2025, 4, 1), date(2025, 4, 30)),
        (date(2024, 2, 10), date(2024, 2, 29)),  # leap year
        (date(2025, 2, 10), date(2025, 2, 28)),
        (date(2000, 2, 1), date(2000, 2, 29)),  # divisible by 400: leap
        (date(1900, 2, 1), date(1900, 2, 28)),  # divisible by 100 only: not
        (date(2100, 2, 1), date(2100, 2, 28)),
        (date(9999, 12, 5), date(9999, 12, 31)),  # the last day a date can hold
        (date(2025, 12, 31), date(2025, 12, 31)),
    ],
)
def test_month_end(day, expected):
    assert month_end(day) == expected


@pytest.mark.parametrize(("year", "month", "days"), [(2024, 2, 29), (2023, 2, 28), (2025, 11, 30), (2025, 12, 31)])
def test_days_in_month(year, month, days):
    assert days_in_month(year, month) == days


@pytest.mark.parametrize(
    ("first", "last", "months"),
    [
        (date(2025, 1, 1), date(2025, 1, 31), 0),
        (date(2025, 1, 31), date(2025, 1, 1), 0),  # same month, whatever the days
        (date(2023, 12, 31), date(2024, 1, 1), 1),
        (date(2024, 11, 15), date(2025, 2, 1), 3),
        (date(2025, 3, 1), date(2024, 3, 31), -12),
    ],
)
def test_months_between(first, last, months):
    assert months_between(first, last) == months
    assert add_months(first, months) == last.replace(day=1)


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ("2025-03", (date(2025, 3, 1), date(2025, 3, 31))),
        ("2024-02", (date(2024, 2, 1), date(2024, 2, 29))),
        ("2023-02", (date(2023, 2, 1), date(2023, 2, 28))),
        ("9999-12", (date(9999, 12, 1), date(9999, 12, 31))),
    ],
)
def test_month_range(text, bounds):
    assert month_range(text) == bounds


@pytest.mark.parametrize(
    "text", ["2025-13", "2025-00", "2025", "2025-03-01", "2025--03", "March", "", "0000-01", None, 202503]
)
def test_month_range_refuses_what_is_not_a_month(text):
    with pytest.raises(ValueError) as info:
        month_range(text)
    assert str(info.value) == f"not a month (YYYY-MM): {text!r}"


def rows(sql: str) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(f"SELECT * FROM {sql} ORDER BY 1").fetchall()


def test_month_bounds_sql():
    assert rows(month_bounds_sql(date(2024, 11, 15), date(2025, 2, 3))) == [
        (date(2024, 11, 1), date(2024, 12, 1)),
        (date(2024, 12, 1), date(2025, 1, 1)),
        (date(2025, 1, 1), date(2025, 2, 1)),
        (date(2025, 2, 1), date(2025, 3, 1)),
    ]
    assert rows(month_bounds_sql(date(2025, 2, 15), date(2025, 2, 1))) == [(date(2025, 2, 1), date(2025, 3, 1))]


def test_month_bounds_sql_of_no_month_is_empty_with_its_columns():
    with duckdb.connect() as con:
        cur = con.execute(f"SELECT * FROM {month_bounds_sql(date(2025, 3, 1), date(2025, 2, 28))}")
        assert cur.fetchall() == [] and [d[0] for d in cur.description] == ["month_start", "month_end"]


def test_month_grid_sql_counts_each_months_days():
    assert rows(f"({month_grid_sql(date(2024, 1, 20), date(2024, 3, 5))})") == [
        (date(2024, 1, 1), date(2024, 2, 1), 31),
        (date(2024, 2, 1), date(2024, 3, 1), 29),
        (date(2024, 3, 1), date(2024, 4, 1), 31),
    ]
    assert rows(f"({month_grid_sql(date(2025, 12, 31), date(2026, 1, 1))})") == [
        (date(2025, 12, 1), date(2026, 1, 1), 31),
        (date(2026, 1, 1), date(2026, 2, 1), 31),
    ]


def test_a_datetime_counts_as_its_date():
    instant = dt.datetime(2025, 1, 31, 23, 59)
    assert month_index(instant) == month_index(date(2025, 1, 1))
    assert add_months(instant, 1) == date(2025, 2, 1)
