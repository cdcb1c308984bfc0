"""OCPI 2.2.1 CDR reader: containers, field mapping, exact money, quarantine reasons."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pytest

from evrevops.formats import detect, ocpi, read
from evrevops.formats.base import FormatError
from evrevops.formats.ocpi import read_cdrs
from evrevops.formats.records import connect, ndjson_fast
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


@pytest.fixture(scope="module")
def demo_cdr_file(demo_network):
    """A month of CDRs from the demo generator (the default network's last): every segment, failed attempts,
    idle fees, remarks."""
    return sorted((demo_network / "cdrs").glob("*.ndjson"))[-1]


def _both(path):
    fast = ocpi._read_fast(connect(), path)
    checked = ocpi._read_checked(connect(), path)
    return fast, checked


def test_fast_and_checked_readers_agree_on_demo_cdrs(demo_cdr_file):
    fast, checked = _both(demo_cdr_file)
    assert fast is not None, "a clean NDJSON file takes the streaming path"
    assert fast.records_read == checked.records_read > 1000
    assert fast.tables["sessions"].equals(checked.tables["sessions"])
    for name in ("sites", "ports"):
        assert fast.implied[name].equals(checked.implied[name]), name
    assert fast.quarantine.num_rows == checked.quarantine.num_rows == 0
    # line numbers are the file's: record k is on line k
    ids = [json.loads(line)["id"] for line in demo_cdr_file.read_text().splitlines()]
    sess = fast.tables["sessions"]
    assert [s.split("*")[-1] for s in sess.column("session_id").to_pylist()] == ids
    assert sess.column("source_record").to_pylist() == list(range(1, len(ids) + 1))


@pytest.mark.parametrize(
    "case",
    ["blank line", "white-space line", "bad record", "malformed line", "not an object", "byte-order mark", "gzip"],
)
def test_fast_path_declines_what_it_cannot_vouch_for(tmp_path, case):
    lines = [json.dumps(cdr(id="A")), json.dumps(cdr(id="B")), json.dumps(cdr(id="C"))]
    if case == "blank line":
        lines.insert(1, "")
    elif case == "white-space line":
        lines.insert(1, "   ")
    elif case == "bad record":
        lines[1] = json.dumps(cdr(id="B", total_energy=-1))
    elif case == "malformed line":
        lines[1] = "{broken"
    elif case == "not an object":
        lines.append("null")
    elif case == "byte-order mark":
        lines[0] = "\ufeff" + lines[0]
    p = tmp_path / "c.ndjson"
    text = "\n".join(lines) + "\n"
    if case == "gzip":
        import gzip

        p = tmp_path / "c.ndjson.gz"
        p.write_bytes(gzip.compress(text.encode()))
    else:
        p.write_text(text, encoding="utf-8")
    assert ocpi._read_fast(connect(), p) is None
    if case == "gzip":
        return
    b = read_cdrs(p)  # the careful reader still names the true lines
    recs = dict(
        zip(
            b.tables["sessions"].column("session_id").to_pylist(),
            b.tables["sessions"].column("source_record").to_pylist(),
            strict=True,
        )
    )
    assert recs["US*EVR*A"] == 1 and recs["US*EVR*C"] == lines.index(json.dumps(cdr(id="C"))) + 1
    if case in ("bad record", "malformed line"):
        assert b.quarantine.column("source_record").to_pylist() == [2]
    if case == "not an object":
        assert b.quarantine.to_pylist()[0]["source_record"] == 4


def test_crlf_lines_take_the_fast_path(tmp_path):
    p = tmp_path / "c.ndjson"
    p.write_bytes(b"\r\n".join(json.dumps(cdr(id=i)).encode() for i in "XYZ") + b"\r\n")
    b = ocpi._read_fast(connect(), p)
    assert b is not None and b.tables["sessions"].column("source_record").to_pylist() == [1, 2, 3]


def test_fast_path_keeps_file_order_at_scale(tmp_path):
    """Parallel parsing must not shuffle rows: CDR T<k> is on line k + 1 and must be numbered so."""
    from tests.helpers.cdrs import write_cdrs

    p = write_cdrs(tmp_path / "big.ndjson", 120_000)
    b = ocpi._read_fast(connect(), p)
    assert b is not None
    s = b.tables["sessions"]
    ids = pa.compute.cast(pa.compute.utf8_slice_codeunits(s.column("session_id"), 8), pa.int64())
    assert pa.compute.all(pa.compute.equal(pa.compute.add(ids, 1), s.column("source_record"))).as_py()


def test_fast_path_refuses_a_select_that_could_reorder_rows(tmp_path):
    p = write_ndjson(tmp_path / "c.ndjson", [cdr(id=str(i)) for i in range(3)])
    codes = ", ".join(f"'C{i:02d}'" for i in range(30))  # a long IN list is planned as a join
    with pytest.raises(RuntimeError, match="join"):
        ndjson_fast(connect(), p, ocpi._STRUCTURE, ocpi._DERIVE, f"c.id, c.currency IN ({codes}) AS x", "false")


def test_mixed_line_ends_keep_true_line_numbers(tmp_path):
    """A file whose first line ends in LF and the rest in CRLF (files stitched together) is numbered by its lines."""
    lines = [
        json.dumps(cdr(id="A")),
        json.dumps(cdr(id="B")),
        json.dumps(cdr(id="C", total_energy=-1)),
        json.dumps(cdr(id="D")),
    ]
    p = tmp_path / "mixed.ndjson"
    p.write_bytes((lines[0] + "\n" + "\r\n".join(lines[1:]) + "\r\n").encode())
    b = read_cdrs(p)
    assert b.records_read == 4
    assert b.quarantine.column("source_record").to_pylist() == [3]
    recs = dict(
        zip(
            b.tables["sessions"].column("session_id").to_pylist(),
            b.tables["sessions"].column("source_record").to_pylist(),
            strict=True,
        )
    )
    assert recs == {"US*EVR*A": 1, "US*EVR*B": 2, "US*EVR*D": 4}


def test_tariff_id_is_the_driver_tariffs_key(tmp_path):
    recs = [
        cdr(id="1", tariffs=[{"country_code": "DE", "party_id": "ABC", "id": "T1", "currency": "EUR"}]),
        cdr(id="2", tariffs=[{"id": "T2"}]),  # no codes of its own: the CDR's
        cdr(id="3", tariffs=[]),
    ]
    b = read_cdrs(write_ndjson(tmp_path / "c.ndjson", recs))
    assert b.tables["sessions"].column("tariff_id").to_pylist() == ["DE*ABC*T1", "US*EVR*T2", None]


def test_demo_sessions_join_their_driver_tariffs(demo_cdr_file):
    from evrevops.formats.ocpi_tariffs import read_tariffs

    tariffs = read_tariffs(demo_cdr_file.parent.parent / "tariffs.json")
    known = set(tariffs.tables["driver_tariffs"].column("tariff_id").to_pylist())
    used = {t for t in read_cdrs(demo_cdr_file).tables["sessions"].column("tariff_id").to_pylist() if t}
    assert used and used <= known
