"""A text file's lines into DuckDB: true line numbers, blank lines left out, lines that are not UTF-8 set apart."""

from __future__ import annotations

import duckdb
import pytest

from evrevops.formats.base import FormatError
from evrevops.formats.records import connect
from evrevops.formats.text_lines import load_lines, raise_unless_not_utf8, sql_path


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1}\n\n  \n{"a": 2}\n',  # DuckDB reads it
        b'{"a": 1}\r\n\r\n  \r\n{"a": 2}\r\n',
        b'{"a": 1}\n\n  \n{"a": 2}\n\x01\n',  # the delimiter byte: split in Python
    ],
)
def test_load_lines_numbers_lines_as_the_file_does(tmp_path, data):
    p = tmp_path / "f.ndjson"
    p.write_bytes(b"\xef\xbb\xbf" + data)
    con = connect()
    n = load_lines(con, p, "lines")
    rows = con.execute("SELECT rec, j FROM lines ORDER BY rec").fetchall()
    assert rows[:2] == [(1, '{"a": 1}'), (4, '{"a": 2}')]
    assert n == len(rows)


def test_load_lines_sets_apart_a_line_that_is_not_utf8(tmp_path):
    p = tmp_path / "f.ndjson"
    p.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n{"a": 3}\n')
    con = connect()
    bad: list = []
    assert load_lines(con, p, "lines", bad) == 3
    assert [r for r, _ in con.execute("SELECT rec, j FROM lines ORDER BY rec").fetchall()] == [1, 3]
    ((line, field, _, raw),) = bad
    assert (line, field, raw) == (2, None, '{"a": "\ufffd"}')


def test_raise_unless_not_utf8(tmp_path):
    p = tmp_path / "f.log"
    raise_unless_not_utf8(duckdb.Error("Invalid unicode (byte sequence mismatch) detected"), p, "the log")
    raise_unless_not_utf8(duckdb.Error("File is not UTF-8 encoded"), p, "the log")
    with pytest.raises(FormatError, match="cannot read the log as lines of text: line too long$"):
        raise_unless_not_utf8(duckdb.Error("line too long\nmore detail"), p, "the log")


def test_sql_path_doubles_quotes(tmp_path):
    assert sql_path(tmp_path / "it's.ndjson").endswith("it''s.ndjson")
