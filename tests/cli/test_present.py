"""A number in a table reads as a person expects, by its column's declared unit."""

from decimal import Decimal

import pytest

from evrevops.cli.present import Currency, cell, header, short, table_currency

USD = Currency("USD")


@pytest.mark.parametrize(
    ("value", "unit", "currency", "text"),
    [
        (63957396, "minor units", "USD", "639,573.96"),  # cents -> dollars, separators, to the cent
        (-74219, "minor units", "USD", "-742.19"),
        (1500, "minor units", "JPY", "1,500"),  # no minor unit
        (12345, "minor units", "KWD", "12.345"),  # three decimals
        (15.0055, "minor units/kWh", "USD", "0.1501"),  # a price per kWh: two more places
        (119543, "minor units/port", "USD", "1,195.43"),
        (0.11324, "fraction", None, "11.3"),
        (1, "fraction", None, "100.0"),
        (0.22878334169847747, "fraction/year", None, "22.9"),
        (96.896, "%", None, "96.90"),
        (92925.123, "kWh", None, "92,925.1"),
        (2628, "count", None, "2,628"),
        (None, "minor units", "USD", "—"),  # said, not blank
        (float("nan"), "kWh", None, "—"),
        ("", None, None, "—"),
        ("2025-12", None, None, "2025-12"),
        (True, None, None, "yes"),
        (False, None, None, "no"),
    ],
)
def test_cell(value, unit, currency, text):
    assert cell(value, unit, currency) == text


def test_money_beside_each_amount_when_a_table_mixes_currencies():
    assert cell(123456, "minor units", "EUR", per_row=True) == "1,234.56 EUR"
    assert header("energy_revenue_minor", "minor units", Currency(None)) == "energy_revenue"


def test_money_cell_is_exact_for_large_amounts():
    assert cell(123456789012345678, "minor units", "USD") == f"{Decimal('1234567890123456.78'):,}"


@pytest.mark.parametrize(
    ("name", "unit", "text"),
    [
        ("energy_revenue_minor", "minor units", "energy_revenue (USD)"),
        ("sla_credit_minor_3m", "minor units", "sla_credit_3m (USD)"),
        ("mrr_start", "minor units", "mrr_start (USD)"),
        ("energy_margin_per_kwh", "minor units/kWh", "energy_margin_per_kwh (USD)"),
        ("revenue_per_port_minor", "minor units/port", "revenue_per_port (USD)"),
        ("utilization", "fraction", "utilization (%)"),
        ("uptime_pct", "%", "uptime (%)"),
        ("irr", "fraction/year", "irr (%/year)"),
        ("energy_kwh", "kWh", "energy (kWh)"),
        ("mttr_h", "h", "mttr (h)"),
        ("kwh_per_port_day", "kWh/port-day", "kwh_per_port_day"),
        ("sessions", "count", "sessions"),
        ("score", "score", "score"),
        ("site_id", None, "site_id"),
    ],
)
def test_header(name, unit, text):
    assert header(name, unit, USD) == text


def test_one_currency_for_the_table_or_per_row():
    assert table_currency([{"currency": "USD"}, {"currency": "USD"}, {"currency": None}]).single == "USD"
    assert table_currency([{"currency": "USD"}, {"currency": "EUR"}]).single is None
    assert table_currency([{}], fallback="GBP").single == "GBP"


def test_short_text():
    assert short("fine") == ("fine", False)
    text, cut = short("; ".join(f"reason number {i} that is long" for i in range(5)))
    assert cut and text == "reason number 0 that is long (+4 more)"
    text, cut = short("/tmp/" + "d" * 80 + "/customers.csv", 20)
    assert cut and text == "…" + "d" * 5 + "/customers.csv"
    text, cut = short("x" * 100, 20)
    assert cut and len(text) == 20 and text.endswith("…")
