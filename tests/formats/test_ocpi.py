"""OCPI 2.2.1 CDR reader: containers, field mapping, exact money, quarantine reasons."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from evrevops.formats import detect, read
from evrevops.formats.base import FormatError
from evrevops.formats.ocpi import read_cdrs
from tests.helpers.cdrs import cdr, write_ndjson


def test_fields_and_exact_money(tmp_path):
    p = write_ndjson(tmp_path / "cdrs.ndjson", [cdr(total_cost={"excl_vat": "12.345", "incl_vat": 13.58})])
    b = read_cdrs(p)
    (s,) = b.tables["sessions"].to_pylist()
    assert s["session_id"] == "US*EVR*CDR1"
    assert (s["site_id"], s["port_id"]) == ("S1", "S1-P1")
    assert s["started_at"] == dt.datetime(2025, 3, 9, 6, 30)
    assert s["plugged_in_s"] == 7200.0 and s["idle_s"] == 1800.0 and s["charging_s"] == 5400.0
    assert s["charging_ended_at"] == dt.datetime(2025, 3, 9, 8, 0)
    assert s["total_cost_minor"] == 1235  # 12.345 rounds half up to 12.35
    assert s["total_cost_incl_vat_minor"] == 1358
    assert s["energy_cost_minor"] == 1000 and s["parking_cost_minor"] == 250
    assert json.loads(s["charging_periods"])[0]["dimensions"][0]["volume"] == 40.5
    assert b.implied["sites"].to_pylist()[0]["name"] == "Site 1"
    assert b.implied["ports"].to_pylist()[0]["power_type"] == "DC"


@pytest.mark.parametrize("container", ["array", "page", "ndjson"])
def test_containers(tmp_path, container):
    recs = [cdr(id=f"C{i}") for i in range(3)]
    p = tmp_path / f"x.{'ndjson' if container == 'ndjson' else 'json'}"
    if container == "ndjson":
        write_ndjson(p, recs)
    else:
        p.write_text(
            json.dumps(
                recs
                if container == "array"
                else {"data": recs, "status_code": 1000, "timestamp": "2025-01-01T00:00:00Z"}
            )
        )
    assert detect(p) == ("ocpi-cdrs", None)
    b = read(p)
    assert b.records_read == 3
    assert b.tables["sessions"].column("session_id").to_pylist() == ["US*EVR*C0", "US*EVR*C1", "US*EVR*C2"]
    assert b.tables["sessions"].column("source_record").to_pylist() == [1, 2, 3]


def test_numbers_as_strings_and_offsets(tmp_path):
    p = write_ndjson(
        tmp_path / "c.ndjson", [cdr(total_energy="40.5", total_time="2", start_date_time="2025-03-09T01:30:00-05:00")]
    )
    (s,) = read_cdrs(p).tables["sessions"].to_pylist()
    assert s["energy_kwh"] == 40.5 and s["plugged_in_s"] == 7200.0
    assert s["started_at"] == dt.datetime(2025, 3, 9, 6, 30)


def test_quarantine_reasons_name_line_and_field(tmp_path):
    lines = [
        cdr(id="ok"),
        "{not json",
        "",
        cdr(id="bad1", end_date_time="2025-03-09T05:00:00Z"),
        cdr(id="bad2", total_energy=-3),
        cdr(id="bad3", cdr_location={"id": "S1"}),
        cdr(id="bad4", currency="usd"),
        cdr(id="bad5", start_date_time="yesterday"),
        cdr(id="bad6", total_parking_time=3.0),
        cdr(id="bad7", total_time=None),
        "[1, 2]",
    ]
    b = read_cdrs(write_ndjson(tmp_path / "c.ndjson", lines))
    assert b.records_read == 10  # the blank line is not a record
    q = {(r["source_record"], r["field"]): r["reason"] for r in b.quarantine.to_pylist()}
    assert q[(2, None)] == "malformed JSON"
    assert "before start_date_time" in q[(4, "end_date_time")]
    assert q[(5, "total_energy")] == "negative energy: -3"
    assert q[(6, "cdr_location.evse_uid")].startswith("missing cdr_location.evse_uid")
    assert q[(7, "currency")] == "not an ISO-4217 currency: usd"
    assert q[(8, "start_date_time")] == "not an ISO-8601 date-time: yesterday"
    assert "exceeds total_time" in q[(9, "total_parking_time")]
    assert q[(10, "total_time")] == "missing total_time"
    assert q[(11, None)] == "record is not a JSON object"
    assert b.tables["sessions"].column("session_id").to_pylist() == ["US*EVR*ok"]
    quarantined = {r["source_record"] for r in b.quarantine.to_pylist()}
    assert len(quarantined) + b.tables["sessions"].num_rows == b.records_read


def test_unreadable_array_names_file(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('[{"id": "x", "cdr_location": {}}, {broken')
    with pytest.raises(FormatError, match="broken.json"):
        read(p, "ocpi-cdrs")
