"""core.sqltext: what goes into built SQL comes back out of DuckDB as it went in."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evrevops.core.sqltext import sql_identifier, sql_in, sql_literal, sql_literal_list, ts_sql

AWKWARD = [
    "",
    "plain",
    "it's",
    "''",
    "'; DROP TABLE t; --",
    "back\\slash",
    "a\\'b",
    "\\",
    'double "quoted"',
    "new\nline\ttab\rcr",
    "ünïcødé ✓ 日本語",
    "🚗⚡",
    "$$dollar$$",
    "-- comment",
    "/* block */",
]

# any text DuckDB can hold: no NUL, no lone surrogate
TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=40)


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    yield c
    c.close()


def test_sql_literal_doubles_single_quotes():
    assert sql_literal("it's") == "'it''s'"
    assert sql_literal("a\\b") == "'a\\b'"  # a backslash is itself in standard SQL


@pytest.mark.parametrize("text", AWKWARD)
def test_sql_literal_round_trips_through_duckdb(con, text):
    assert con.execute(f"SELECT {sql_literal(text)}").fetchone()[0] == text


@settings(deadline=None, max_examples=60)
@given(st.lists(TEXT, min_size=1, max_size=10))
def test_any_text_round_trips_as_a_literal(con, texts):
    sql = "SELECT " + ", ".join(sql_literal(t) for t in texts)
    assert list(con.execute(sql).fetchone()) == texts


@pytest.mark.parametrize("value", [3, None, b"bytes", 1.5])
def test_sql_literal_takes_text_only(value):
    with pytest.raises(TypeError, match="sql_literal takes text"):
        sql_literal(value)


def test_sql_identifier_doubles_double_quotes():
    assert sql_identifier('we"ird') == '"we""ird"'
    assert sql_identifier("select") == '"select"'


@pytest.mark.parametrize("name", [n for n in AWKWARD if n] + ["select", "Mixed Case", "x.y"])
def test_sql_identifier_round_trips_as_a_column_name(con, name):
    con.execute(f"CREATE OR REPLACE TEMP TABLE t ({sql_identifier(name)} INTEGER)")
    con.execute(f"INSERT INTO t ({sql_identifier(name)}) VALUES (7)")
    cur = con.execute(f"SELECT {sql_identifier(name)} FROM t")
    assert cur.description[0][0] == name and cur.fetchall() == [(7,)]


def test_sql_literal_list():
    assert sql_literal_list([]) == "(NULL)"
    assert sql_literal_list(["a", "b'c"]) == "('a', 'b''c')"
    assert sql_literal_list(x for x in ("z",)) == "('z')"


def test_sql_literal_list_in_duckdb(con):
    two = sql_literal_list(["a", "b'c"])
    assert con.execute(f"SELECT 'b''c' IN {two}").fetchone()[0] is True
    assert con.execute(f"SELECT 'x' IN {two}").fetchone()[0] is False
    assert con.execute(f"SELECT 'x' IN {sql_literal_list([])}").fetchone()[0] is None  # never true


def test_sql_in_text():
    assert sql_in("col", None) == ""
    assert sql_in("col", []) == "AND FALSE"
    assert sql_in("s.site_id", ["a", "o'k"]) == "AND s.site_id IN ('a', 'o''k')"


@pytest.mark.parametrize(
    ("ids", "kept"),
    [(None, ["a", "o'k", "z\\"]), ([], []), (["a", "o'k"], ["a", "o'k"]), (["z\\", "absent"], ["z\\"])],
)
def test_sql_in_filters_in_duckdb(con, ids, kept):
    sql = f"SELECT c FROM (VALUES ('a'), ('o''k'), ('z\\')) t(c) WHERE TRUE {sql_in('c', ids)} ORDER BY c"
    assert [c for (c,) in con.execute(sql).fetchall()] == kept


@pytest.mark.parametrize(
    ("instant", "text"),
    [
        (dt.datetime(2025, 3, 9, 2, 30), "TIMESTAMP '2025-03-09 02:30:00'"),
        (dt.datetime(2025, 1, 1, 0, 0, 0, 5), "TIMESTAMP '2025-01-01 00:00:00.000005'"),
        (dt.datetime(9999, 12, 31, 23, 59, 59), "TIMESTAMP '9999-12-31 23:59:59'"),
    ],
)
def test_ts_sql_round_trips(con, instant, text):
    assert ts_sql(instant) == text
    assert con.execute(f"SELECT {ts_sql(instant)}").fetchone()[0] == instant
