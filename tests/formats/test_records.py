"""Bulk-reading helpers: SQL money/time macros against Python oracles, file facts, read_json columns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evrevops.core.money import _CURRENCY_EXPONENT, currency_exponent, minor_sql, to_minor
from evrevops.formats.base import file_facts
from evrevops.formats.records import connect, structure_columns
from evrevops.formats.text_lines import _awkward_bytes

CON = connect()

amounts = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=9, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(amounts, st.sampled_from(["USD", "EUR", "JPY", "KWD", "usd"]))
def test_sql_to_minor_equals_python_decimal(amount, currency):
    """Both the 64-bit path (|x| < 1e9) and the 128-bit path round half away from zero, once."""
    text = format(amount, "f")
    (got,) = CON.execute("SELECT to_minor(?, ?)", [text, currency]).fetchone()
    assert got == to_minor(text, currency)


def test_sql_to_minor_edges():
    rows = CON.execute(
        """SELECT to_minor('12.345', 'USD'), to_minor('-12.345', 'USD'), to_minor('0.005', 'USD'),
                  to_minor('12.5', 'JPY'), to_minor('1.2345', 'KWD'), to_minor('999999999.995', 'USD'),
                  to_minor('1000000000.005', 'USD'), to_minor(NULL, 'USD'), to_minor('abc', 'USD'),
                  to_minor('1e3', 'USD')"""
    ).fetchone()
    assert rows == (1235, -1235, 1, 13, 1235, 100000000000, 100000000001, None, None, 100000)


instants = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2099, 12, 31))


@settings(max_examples=300, deadline=None)
@given(instants, st.integers(min_value=-14 * 60, max_value=14 * 60), st.booleans())
def test_utc_ts_equals_python(instant, offset_min, zulu):
    """Text in 'Z' takes a plain cast, text with an offset the zone-aware one; both give the UTC instant."""
    instant = instant.replace(microsecond=instant.microsecond // 1000 * 1000)
    if zulu:
        text, expected = instant.isoformat() + "Z", instant
    else:
        tz = dt.timezone(dt.timedelta(minutes=offset_min))
        text = instant.replace(tzinfo=tz).isoformat()
        expected = instant - dt.timedelta(minutes=offset_min)
    (got,) = CON.execute("SELECT utc_ts(?)", [text]).fetchone()
    assert got == expected


def test_utc_ts_rejects_what_is_not_a_date_time():
    assert CON.execute("SELECT utc_ts('yesterdayZ'), utc_ts('2025-13-01T00:00:00Z'), utc_ts(NULL)").fetchone() == (
        None,
        None,
        None,
    )


def test_file_facts_counts_physical_lines(tmp_path):
    cases = {"": 0, "a": 1, "a\n": 1, "a\nb": 2, "a\n\n": 2, "a\r\nb\r\n": 2, "\n": 1}
    for i, (text, lines) in enumerate(cases.items()):
        p = tmp_path / f"f{i}.txt"
        p.write_bytes(text.encode())
        facts = file_facts(p)
        assert facts.lines == lines, repr(text)
        assert facts.size_bytes == len(text.encode())
    p = tmp_path / "big.txt"
    p.write_bytes(b"x" * 3_000_000 + b"\n" + b"y\n" * 5)  # lines across read chunks
    assert file_facts(p, chunk=1 << 16).lines == 6


def test_file_facts_sees_a_changed_file(tmp_path):
    import hashlib
    import os

    p = tmp_path / "f.txt"
    p.write_bytes(b"one\n")
    first = file_facts(p)
    p.write_bytes(b"one\ntwo\n")
    os.utime(p, ns=(1, 2))  # a different modification time, whatever the clock's resolution
    second = file_facts(p)
    assert (first.lines, second.lines) == (1, 2)
    assert second.sha256 == hashlib.sha256(b"one\ntwo\n").hexdigest()


def test_structure_columns():
    got = structure_columns('{"a": "VARCHAR", "b": {"c": "DOUBLE"}, "d": [{"e": "VARCHAR"}], "f": "JSON"}')
    assert got == "{'a': 'VARCHAR', 'b': 'STRUCT(\"c\" DOUBLE)', 'd': 'STRUCT(\"e\" VARCHAR)[]', 'f': 'JSON'}"


def test_parsing_connections_bound_their_memory():
    """A reader's DuckDB keeps to a quarter of the machine, leaving room for the Arrow tables it hands over."""
    import os

    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    (limit,) = CON.execute("SELECT current_setting('memory_limit')").fetchone()
    value, unit = limit.split()
    limit_bytes = float(value) * {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
    assert limit_bytes <= max(1 << 30, total // 4) * 1.01


def test_sql_currency_exponent_and_minor_units_follow_the_python_table():
    """The SQL macro and minor_sql are built from the one table base.currency_exponent reads."""
    con = connect()
    for code in [*_CURRENCY_EXPONENT, "USD", "eur", "jpy", "kwd"]:
        macro = con.execute("SELECT currency_exponent(?)", [code]).fetchall()[0][0]
        minor = con.execute(
            f"SELECT {minor_sql('CAST($a AS DECIMAL(18, 9))', 'CAST($c AS VARCHAR)')}", {"a": "12.3455", "c": code}
        ).fetchall()[0][0]
        assert macro == currency_exponent(code), code
        assert minor == to_minor("12.3455", code), code
    assert con.execute("SELECT currency_exponent('XX')").fetchall()[0][0] == 2


@pytest.mark.parametrize(
    ("data", "awkward"),
    [
        (b'{"a": 1}\n{"a": 2}\n', False),
        (b'{"a": 1}\r\n{"a": 2}\r\n', False),
        (b'{"a": 1}\r{"a": 2}\n', True),  # a lone CR
        (b'{"a": 1}\n{"a": 2}\r', True),  # a CR at the very end
        (b'{"a": "x\x01y"}\n', True),
        (b'{"a": "x\x00y"}\n', True),
    ],
)
@pytest.mark.parametrize("chunk", [1, 2, 3, 9, 1 << 24])
def test_awkward_bytes_whatever_the_block_size(tmp_path, data, awkward, chunk):
    """A CRLF split between two blocks is no lone CR; a CR at the end of a block is checked against the next."""
    p = tmp_path / "f.ndjson"
    p.write_bytes(data)
    assert _awkward_bytes(p, chunk=chunk) is awkward
