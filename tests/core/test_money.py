"""core.money: minor units per currency exponent, exact decimals, one rounding rule in Python and SQL."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evrevops.core.money import (
    currency_exponent,
    currency_exponent_sql,
    div_round_sql,
    exact_decimal,
    minor_sql,
    minor_to_decimal,
    round_half_away,
    to_minor,
)


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    yield c
    c.close()


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("12.345", "USD", 1235),  # 1234.5 cents: half up
        ("12.344", "USD", 1234),
        ("-12.345", "USD", -1235),  # half away from zero on the negative side
        ("0.005", "USD", 1),
        ("0.004", "USD", 0),
        (" 3.10 ", "EUR", 310),
        ("1e2", "USD", 10000),
        (12, "USD", 1200),
        (Decimal("0.125"), "EUR", 13),
        ("1234.5", "JPY", 1235),  # JPY has no minor unit: yen
        ("1234.4", "JPY", 1234),
        ("-0.5", "JPY", -1),
        ("7", "jpy", 7),  # the code is read case-blind
        ("1.0005", "KWD", 1001),  # KWD: three places (fils)
        ("1.0004", "KWD", 1000),
        ("12.3456", "BHD", 12346),
        ("-2.0005", "KWD", -2001),
        ("99.995", "XYZ", 10000),  # an unlisted code: two places
    ],
)
def test_to_minor_rounds_half_up_at_the_currency_exponent(amount, currency, minor):
    assert to_minor(amount, currency) == minor


def test_to_minor_refuses_a_float_and_text_that_is_no_amount():
    with pytest.raises(TypeError, match="must not be a float"):
        to_minor(0.1, "USD")
    with pytest.raises(ValueError, match="not a decimal amount: '12,50'"):
        to_minor("12,50", "EUR")


@pytest.mark.parametrize(
    ("currency", "exponent"), [("USD", 2), ("eur", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("XYZ", 2)]
)
def test_currency_exponent(currency, exponent):
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("minor", "currency", "amount"),
    [(1235, "USD", "12.35"), (-5, "USD", "-0.05"), (1235, "JPY", "1235"), (1001, "KWD", "1.001"), (0, "KWD", "0.000")],
)
def test_minor_to_decimal_is_exact(minor, currency, amount):
    got = minor_to_decimal(minor, currency)
    assert got == Decimal(amount) and str(got) == amount


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["USD", "JPY", "KWD", "BHD", "EUR"]))
def test_minor_to_decimal_and_back_is_the_identity(minor, currency):
    assert to_minor(str(minor_to_decimal(minor, currency)), currency) == minor
    assert to_minor(minor_to_decimal(minor, currency), currency) == minor


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, Decimal("0.1")),
        (1e-7, Decimal("1E-7")),
        (" 2.50 ", Decimal("2.50")),
        (3, Decimal(3)),
        ("-0", Decimal("-0")),
    ],
)
def test_exact_decimal_reads_a_float_by_its_shortest_repr(value, expected):
    got = exact_decimal(value)
    assert got == expected and str(got) == str(expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "not a finite number"),
        ("NaN", "not a finite number"),
        (float("inf"), "not a finite number"),
        ("-Infinity", "not a finite number"),
        (True, "not a number"),
        (False, "not a number"),
        (None, "not a number"),
        ("twelve", "not a number"),
        ("", "not a number"),
    ],
)
def test_exact_decimal_refuses_what_is_not_a_finite_number(value, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        exact_decimal(value)


HALVES = [
    (5, 2, 3),
    (-5, 2, -3),
    (3, 2, 2),
    (-3, 2, -2),
    (1, 2, 1),
    (-1, 2, -1),
    (25, 10, 3),
    (-25, 10, -3),
    (-24, 10, -2),
    (-26, 10, -3),
    (7, 3, 2),
    (-7, 3, -2),
    (8, 3, 3),
    (-8, 3, -3),
    (0, 7, 0),
    (-15, 30, -1),  # exactly -0.5
    (-14, 30, 0),
    (9_223_372_036_854_775_807, 1, 9_223_372_036_854_775_807),
    (-9_223_372_036_854_775_807, 2, -4_611_686_018_427_387_904),
]


@pytest.mark.parametrize(("num", "den", "expected"), HALVES)
def test_round_half_away_and_div_round_sql_agree_on_halves(con, num, den, expected):
    assert round_half_away(num, den) == expected
    assert con.execute(f"SELECT {div_round_sql(str(num), str(den))}").fetchone()[0] == expected


@settings(deadline=None, max_examples=60)
@given(st.lists(st.tuples(st.integers(-(10**15), 10**15), st.integers(1, 10**6)), min_size=1, max_size=40))
def test_div_round_sql_is_round_half_away_on_columns(con, pairs):
    rows = ", ".join(f"({i}, {n}, {d})" for i, (n, d) in enumerate(pairs))
    got = con.execute(f"SELECT {div_round_sql('n', 'd')} FROM (VALUES {rows}) t(i, n, d) ORDER BY i").fetchall()
    assert [g for (g,) in got] == [round_half_away(n, d) for n, d in pairs]


def test_round_half_away_refuses_a_denominator_that_is_not_positive():
    for den in (0, -2):
        with pytest.raises(ValueError, match="denominator must be positive"):
            round_half_away(5, den)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("12.345", "USD", 1235),
        ("-12.345", "USD", -1235),
        ("1234.5", "JPY", 1235),
        ("1.0005", "KWD", 1001),
        ("-0.5", "jpy", -1),
    ],
)
def test_minor_sql_rounds_as_to_minor(con, amount, currency, minor):
    sql = minor_sql(f"CAST('{amount}' AS DECIMAL(18, 9))", f"'{currency}'")
    assert con.execute(f"SELECT {sql}").fetchone()[0] == minor == to_minor(amount, currency)


@pytest.mark.parametrize("currency", ["USD", "usd", "JPY", "VND", "KWD", "TND", "XYZ", "JP", "JPYY", ""])
def test_currency_exponent_sql_is_currency_exponent(con, currency):
    expected = 2 if len(currency) != 3 else currency_exponent(currency)
    assert (
        con.execute(f"SELECT {currency_exponent_sql('c')} FROM (VALUES (?)) t(c)", [currency]).fetchone()[0] == expected
    )
