"""Value checks shared by the JSON readers: ids, texts, numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from evrevops.formats.json_values import describe, id_problem, is_int, is_number, text_problem


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("L1", None),
        (None, "missing Location id"),
        ("", "missing Location id"),
        ("  ", "not a text id: '  '"),
        (7, "not a text id: 7"),
        ([], "not a text id: []"),
    ],
)
def test_id_problem(value, expected):
    assert id_problem(value, "Location", "id") == expected


def test_text_problem():
    assert text_problem(None, 3) is None
    assert text_problem("abc", 3) is None
    assert text_problem("abcd", 3) == "is 4 characters long, more than the 3 OCPI allows"
    assert text_problem(1, 3) == "must be a text, got 1"


def test_numbers():
    assert is_number(1) and is_number(Decimal("0.5")) and not is_number(True) and not is_number(Decimal("NaN"))
    assert is_int(1) and not is_int(Decimal("1.0")) and not is_int(False)
    assert describe({"b": Decimal("0.50"), "a": None}) == '{"a":null,"b":0.50}'
