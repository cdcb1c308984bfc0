"""validate_records: uptime and outage records checked in one SQL pass, with the errors the per-record validation gives.

The export validated every uptime and outage record with jsonschema, one at a time (a third of
``nevi export``'s time on the demo quarter); these tests hold the bulk pass to the same verdicts.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from evrevops.uptime import nevi_check
from evrevops.uptime import nevi_export as nx
from tests.uptime.test_nevi_export import all_records


def _counting(calls: list[int]):
    def per_record(records, kind):
        calls.append(len(records))
        nx.validate(records, kind)

    return per_record


def _check(records, kind, calls=None):
    nevi_check.validate_records(records, kind, _counting([] if calls is None else calls), schema_dir=nx.SCHEMA_DIR)


@pytest.mark.parametrize("kind", ["uptime", "outage"])
def test_good_records_pass_without_the_per_record_validation(kind):
    records = all_records()[kind]
    assert records
    calls: list[int] = []
    _check(records, kind, calls)
    assert calls == []  # nothing suspect: jsonschema never ran
    _check([], kind, calls)
    assert calls == []


BROKEN = [
    ("uptime", "uptime_pct", 100.5),
    ("uptime", "uptime_pct", float("nan")),  # jsonschema lets NaN through: neither below nor above a bound
    ("uptime", "outage_total", -1),
    ("uptime", "report_yr_mon", "2025-06"),
    ("uptime", "uptime_period_end", "2025-07-01 07:00:00"),
    ("uptime", "uptime_period_end", "2025-07-01T07:00:00\u00a0Z"),
    ("uptime", "station_id", None),
    ("uptime", "uptime_pct", True),  # a bool is no JSON number (Arrow would read it as 1.0)
    ("uptime", "uptime_pct", "99.5"),
    ("uptime", "outage_total", 2**60),  # a valid number, past what a float column holds exactly
    ("uptime", "outage_total", Decimal("1.5")),  # a number to jsonschema, not a float: left to it
    ("outage", "outage_duration", "90 minutes"),
    ("outage", "exempted_outage", "false"),
    ("outage", "exempted_outage", 0),
    ("outage", "outage_end", "2025-02-30T00:00:00Z"),
    ("outage", "outage_start", dt.datetime(2025, 6, 1)),
    ("outage", "outage_cause", None),
]


def _verdict(check, records, kind):
    try:
        check(records, kind)
    except nx.RecordError as e:
        return e.index, e.field, str(e)
    return None


@pytest.mark.parametrize(("kind", "field", "value"), BROKEN)
def test_a_broken_record_fails_as_validate_says(kind, field, value):
    records = [dict(r) for r in all_records()[kind][:3]]
    records[2][field] = value
    ref = _verdict(nx.validate, records, kind)
    assert _verdict(_check, records, kind) == ref
    valid = value != value or isinstance(value, Decimal) or value == 2**60  # numbers to jsonschema; the rest fail
    assert (ref is None) == valid


def test_a_missing_field_or_a_non_mapping_fails_as_validate_says():
    records = [dict(r) for r in all_records()["outage"]]
    del records[1]["outage_cause"]
    with pytest.raises(nx.RecordError, match="outage record 1: field 'outage_cause': required field missing"):
        _check(records, "outage")
    with pytest.raises(nx.RecordError, match="outage record 0: .*not an object"):
        _check(["x"], "outage")


def test_a_schema_folder_without_the_schema_says_which_setting(tmp_path, monkeypatch):
    monkeypatch.setattr(nx, "SCHEMA_DIR", tmp_path)  # as export_quarter passes it: the setting, read at call time
    with pytest.raises(FileNotFoundError, match="SCHEMA_DIR"):
        nevi_check.validate_records(all_records()["uptime"], "uptime", nx.validate, schema_dir=tmp_path)
