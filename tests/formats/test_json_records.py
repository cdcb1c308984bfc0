"""The JSON readers' shared reading: envelopes, deep documents split by the scanner, and mapping records to rows."""

from __future__ import annotations

import json

import pytest

from evrevops.formats.base import FormatError
from evrevops.formats.json_records import json_batch, map_records, read_json_records, unwrap_envelope, when_valid


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ([{"a": 1}], [{"a": 1}]),
        ({"data": [{"a": 1}, {"a": 2}]}, [{"a": 1}, {"a": 2}]),
        ({"data": {"a": 1}, "status_code": 1000}, [{"a": 1}]),
        ({"items": [1], "data": [2]}, [1]),  # the first envelope key that holds one wins
        ({"a": 1}, [{"a": 1}]),  # no envelope: the object is the one record
        ({"data": "x"}, [{"data": "x"}]),
    ],
)
def test_unwrap_envelope(doc, expected):
    assert unwrap_envelope(doc, ("items", "data")) == expected


def test_a_document_too_deep_to_parse_is_split_into_its_records(tmp_path):
    deep = "[" * 5000 + "]" * 5000
    p = tmp_path / "deep.json"
    p.write_text('{"data": [{"id": "A"}, ' + deep + ', {"id": "B"}], "status_code": 1000}')
    n, records, bad = read_json_records(p, ("data",))
    assert n == 3
    assert records == [(1, {"id": "A"}), (3, {"id": "B"})]
    assert [(rec, field) for rec, field, _, _ in bad] == [(2, None)]
    assert "deeper than the limit" in bad[0][2]


def test_a_deep_document_that_never_closes_is_refused(tmp_path):
    p = tmp_path / "open.json"
    p.write_text('{"data": [{"id": "A"}, ' + "[" * 5000)
    with pytest.raises(FormatError, match="ends inside an array or object"):
        read_json_records(p, ("data",))


def test_map_records_quarantines_a_record_per_error_with_its_canonical_json():
    def to_row(rec, obj):
        errors = [("x", "no x")] if "x" not in obj else []
        return {"rec": rec, "x": obj.get("x")}, errors

    bad = [(9, None, "malformed JSON", "{")]
    rows, qrows = map_records([(1, {"x": 1}), (2, {"b": 2, "a": 1})], bad, to_row)
    assert rows == [{"rec": 1, "x": 1}]
    assert qrows == [(9, None, "malformed JSON", "{"), (2, "x", "no x", '{"a":1,"b":2}')]


def test_when_valid_builds_a_row_only_for_a_record_without_errors():
    built = []

    def to_row(rec, obj):
        built.append(rec)
        return json.dumps(obj)

    mapped = when_valid(lambda obj: [("id", "missing")] if "id" not in obj else [], to_row)
    assert mapped(1, {"id": "A"}) == ('{"id": "A"}', [])
    assert mapped(2, {}) == (None, [("id", "missing")])
    assert built == [1]


def test_json_batch_sorts_the_quarantine_by_record_then_field():
    batch = json_batch("x", 3, {}, [(2, "b", "r", None), (1, None, "r", None), (2, "a", "r", None)])
    assert batch.records_read == 3
    assert [(r["source_record"], r["field"]) for r in batch.quarantine.to_pylist()] == [(1, None), (2, "a"), (2, "b")]
