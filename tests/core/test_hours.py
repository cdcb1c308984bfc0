"""Operating hours: the sites-CSV schedule syntax and OCPI opening_times."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evrevops.core.hours import (
    ALWAYS,
    OpeningTimesError,
    format_operating_hours,
    from_ocpi_opening_times,
    normalise_windows,
    parse_operating_hours,
)

H = 60


@pytest.mark.parametrize("text", [None, "", "   ", "24/7", "24x7", " 24/7 "])
def test_always_open(text):
    assert parse_operating_hours(text) == ALWAYS
    assert len(ALWAYS) == 7 and all(s == 0 and e == 1440 for _, s, e in ALWAYS)


def test_day_ranges_lists_and_groups():
    got = parse_operating_hours("Mo-Fr 06:00-22:00; Sa,Su 08:00-12:00,13:00-20:00")
    assert got == [(d, 6 * H, 22 * H) for d in range(5)] + [
        (5, 8 * H, 12 * H),
        (5, 13 * H, 20 * H),
        (6, 8 * H, 12 * H),
        (6, 13 * H, 20 * H),
    ]


def test_range_that_wraps_the_week_and_any_letter_case():
    assert [d for d, _, _ in parse_operating_hours("fr-MO 10:00-11:00")] == [0, 4, 5, 6]


def test_window_past_midnight_is_split_onto_the_next_day():
    assert parse_operating_hours("Mo 22:00-06:00") == [(0, 22 * H, 1440), (1, 0, 6 * H)]


def test_sunday_wraps_to_monday():
    assert parse_operating_hours("Su 23:30-00:30") == [(0, 0, 30), (6, 23 * H + 30, 1440)]


def test_end_at_midnight_is_not_a_wrap():
    assert parse_operating_hours("Mo 20:00-24:00") == [(0, 20 * H, 1440)]
    assert parse_operating_hours("Mo 20:00-00:00") == [(0, 20 * H, 1440)]  # 00:00 end: to midnight, nothing after
    assert parse_operating_hours("Mo 00:00-24:00") == [(0, 0, 1440)]


def test_equal_start_and_end_is_24_hours():
    assert parse_operating_hours("Mo 08:00-08:00") == [(0, 8 * H, 1440), (1, 0, 8 * H)]


def test_overlaps_and_touching_windows_merge():
    assert parse_operating_hours("Mo 08:00-12:00,11:00-14:00; Mo 14:00-15:00") == [(0, 8 * H, 15 * H)]
    # a Sunday-night wrap merges into Monday morning
    assert parse_operating_hours("Mo 00:00-06:00; Su 22:00-02:00") == [(0, 0, 6 * H), (6, 22 * H, 1440)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Mo-Fr 8-18", "not a time HH:MM in 'Mo-Fr 8-18': '8'"),
        ("Mo 25:00-26:00", "not a time HH:MM"),
        ("Mo 08:00-24:30", "not a time HH:MM"),
        ("Mo 08:60-09:00", "not a time HH:MM"),
        ("Xx 08:00-10:00", "unknown day in 'Xx 08:00-10:00': 'Xx'"),
        ("Mo-Xx 08:00-10:00", "unknown day"),
        ("Mo,,Tu 08:00-10:00", "empty day"),
        ("08:00-18:00", "expected 'DAYS HH:MM-HH:MM' in '08:00-18:00'"),
        ("Mo 08:00", "expected a window HH:MM-HH:MM"),
        ("Mo 24:00-02:00", "a window cannot start at 24:00"),
        ("always", "expected 'DAYS HH:MM-HH:MM'"),
        (";", "no opening window"),
    ],
)
def test_bad_syntax_says_what_is_wrong(text, message):
    with pytest.raises(ValueError) as exc:
        parse_operating_hours(text)
    assert message in str(exc.value)


def test_format_groups_days_and_round_trips():
    ws = parse_operating_hours("Mo-Fr 06:00-22:00; Sa 09:00-12:00,13:00-17:00; Su 10:00-11:00")
    text = format_operating_hours(ws)
    assert text == "Mo-Fr 06:00-22:00; Sa 09:00-12:00,13:00-17:00; Su 10:00-11:00"
    assert parse_operating_hours(text) == ws
    assert format_operating_hours(ALWAYS) == "24/7"
    assert format_operating_hours([(0, 0, 1440), (2, 0, 1440), (4, 0, 1440)]) == "Mo,We,Fr 00:00-24:00"
    assert format_operating_hours([(0, 60, 120), (1, 60, 120), (3, 60, 120)]) == "Mo,Tu,Th 01:00-02:00"


def test_format_writes_a_wrap_split_at_midnight():
    assert format_operating_hours(parse_operating_hours("Fr 22:00-02:00")) == "Fr 22:00-24:00; Sa 00:00-02:00"


@pytest.mark.parametrize("bad", [[], [(7, 0, 60)], [(0, 60, 60)], [(0, -1, 60)], [(0, 0, 1441)]])
def test_format_refuses_bad_windows(bad):
    with pytest.raises(ValueError):
        format_operating_hours(bad)


windows = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 1439), st.integers(1, 1440)).filter(lambda w: w[1] < w[2]),
    min_size=1,
    max_size=12,
)


@given(windows)
def test_format_then_parse_is_the_identity_on_normalised_windows(ws):
    assert parse_operating_hours(format_operating_hours(ws)) == normalise_windows(ws)


@given(windows)
def test_parsed_windows_are_sorted_disjoint_and_in_range(ws):
    got = parse_operating_hours(format_operating_hours(ws))
    assert got == sorted(got)
    assert all(0 <= d <= 6 and 0 <= s < e <= 1440 for d, s, e in got)
    for (d1, _, e1), (d2, s2, _) in zip(got, got[1:], strict=False):
        assert d1 < d2 or e1 < s2


# ---- OCPI opening_times -------------------------------------------------------------------


def test_ocpi_twentyfourseven():
    assert from_ocpi_opening_times({"twentyfourseven": True}) == "24/7"
    assert from_ocpi_opening_times({"twentyfourseven": True, "exceptional_closings": [{}]}) == "24/7"


def test_ocpi_regular_hours_of_the_spec_parking_garage_example():
    """OCPI 2.2.1 mod_locations "charge point in a parking garage with opening hours": 07:00-18:00 every day."""
    obj = {
        "twentyfourseven": False,
        "regular_hours": [{"weekday": d, "period_begin": "07:00", "period_end": "18:00"} for d in range(1, 8)],
    }
    assert from_ocpi_opening_times(obj) == "Mo-Su 07:00-18:00"


def test_ocpi_weekday_numbers_and_wrap():
    obj = {
        "twentyfourseven": False,
        "regular_hours": [
            {"weekday": 1, "period_begin": "08:00", "period_end": "20:00"},
            {"weekday": 6, "period_begin": "09:00", "period_end": "12:00"},
            {"weekday": 7, "period_begin": "22:00", "period_end": "02:00"},
        ],
        "exceptional_openings": [{"period_begin": "2014-06-21T09:00:00Z", "period_end": "2014-06-21T12:00:00Z"}],
    }
    text = from_ocpi_opening_times(obj)
    assert text == "Mo 00:00-02:00,08:00-20:00; Sa 09:00-12:00; Su 22:00-24:00"
    assert parse_operating_hours(text) == [(0, 0, 120), (0, 480, 1200), (5, 540, 720), (6, 1320, 1440)]


def test_ocpi_absent_or_empty():
    assert from_ocpi_opening_times(None) is None
    assert from_ocpi_opening_times({}) is None
    assert from_ocpi_opening_times({"twentyfourseven": False, "regular_hours": []}) is None


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({"twentyfourseven": "yes"}, "twentyfourseven"),
        ({"regular_hours": {"weekday": 1}}, "regular_hours"),
        (
            {"regular_hours": [{"weekday": 0, "period_begin": "08:00", "period_end": "09:00"}]},
            "regular_hours[0].weekday",
        ),
        (
            {"regular_hours": [{"weekday": "1", "period_begin": "08:00", "period_end": "09:00"}]},
            "regular_hours[0].weekday",
        ),
        (
            {
                "regular_hours": [
                    {"weekday": 1, "period_begin": "08:00", "period_end": "09:00"},
                    {"weekday": 2, "period_begin": "8:00", "period_end": "09:00"},
                ]
            },
            "regular_hours[1].period_begin",
        ),
        ({"regular_hours": [{"weekday": 2, "period_begin": "08:00"}]}, "regular_hours[0].period_end"),
        ({"regular_hours": ["Mo"]}, "regular_hours[0]"),
    ],
)
def test_ocpi_errors_name_the_field(obj, field):
    with pytest.raises(OpeningTimesError) as exc:
        from_ocpi_opening_times(obj)
    assert exc.value.field == field
    assert str(exc.value).startswith(field + ": ")
