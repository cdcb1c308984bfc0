"""The demo generator's small parts, each against numbers worked by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from evrevops.demo.catalog import grid_kw
from evrevops.demo.commercial import add_months, money_text
from evrevops.demo.ports import Q, floor_to_quantum, unit_service
from evrevops.demo.queueing import GAP_S, schedule


@pytest.mark.parametrize(
    ("load_kw", "service_kw"), [(0.0, 25), (25.0, 25), (25.1, 50), (4999.0, 5000), (5000.1, 5500), (7250.0, 7500)]
)
def test_grid_kw_is_the_smallest_service_that_covers_the_load(load_kw, service_kw):
    assert grid_kw(load_kw) == service_kw


@pytest.mark.parametrize(
    ("day", "months", "end"),
    [
        (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),  # a leap February
        (dt.date(2023, 1, 31), 1, dt.date(2023, 2, 28)),
        (dt.date(2024, 3, 15), 12, dt.date(2025, 3, 15)),
        (dt.date(2024, 11, 30), 3, dt.date(2025, 2, 28)),  # across a year, shortened
        (dt.date(2020, 5, 31), 60, dt.date(2025, 5, 31)),
    ],
)
def test_a_term_ends_on_the_same_day_or_the_last_of_a_shorter_month(day, months, end):
    assert add_months(day, months) == end


@pytest.mark.parametrize(("cents", "text"), [(0, "0.00"), (5, "0.05"), (12345, "123.45"), (100, "1.00")])
def test_money_text_is_dollars_with_two_decimals(cents, text):
    assert money_text(cents) == text


def test_floor_to_quantum_rounds_seconds_down_to_nine():
    got = floor_to_quantum(np.array([0.0, 8.99, 9.0, 17.99, 18.0, 3600.0]))
    assert got.tolist() == [0, 0, 9, 9, 18, 3600]
    assert got.dtype == np.int64
    assert Q == 9


def test_unit_service_spans_its_first_to_its_last_port():
    unit_of_port = np.array([0, 0, 1])
    frm, until = unit_service(unit_of_port, 3, np.array([100, 50, 7]), np.array([200, 300, 9]))
    assert frm[:2].tolist() == [50, 7] and until[:2].tolist() == [300, 9]
    assert frm[2] > until[2]  # a unit without ports is never in service


def test_schedule_serves_in_order_waits_or_balks():
    # one group of one port free from t=0; visits arrive at 0, 10 and 20, each 100 s long
    group = np.array([0, 0, 0])
    arr = np.array([0, 10, 20])
    total = np.array([100, 100, 100])
    free0 = np.array([[0]])
    # the second driver waits (up to 1000 s), the third leaves (may not wait)
    start, slot = schedule(group, arr, total, np.array([0, 1000, 0]), free0)
    assert start.tolist() == [0, 100 + GAP_S, -1]
    assert slot.tolist() == [0, 0, -1]


def test_schedule_takes_the_port_free_longest():
    group = np.array([0, 0])
    arr = np.array([50, 60])
    free0 = np.array([[40, 10]])  # the second port has been free longer
    start, slot = schedule(group, arr, np.array([30, 30]), np.array([0, 0]), free0)
    assert start.tolist() == [50, 60] and slot.tolist() == [1, 0]
