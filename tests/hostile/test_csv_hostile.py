"""Hostile CSV-like inputs: session exports (and ACN-Data JSON), status logs, evrevops' own CSVs, CRM exports.

Each case states its exact outcome — the record (line), the field and the reason it is
quarantined with, or the error a whole unreadable file raises — and checks the record identity:
every record is counted once, and none is both quarantined and stored. Mapping names resolve only
inside the shipped folders. Property tests mutate real records (the fixtures and a generated
network) with random text, numbers and bytes and check that nothing escapes a reader.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import string
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evrevops.core.hours import parse_operating_hours
from evrevops.formats import FormatError, limits, read
from evrevops.formats.crm import load_mapping as load_crm_mapping
from evrevops.formats.session_mapping import load_mapping as load_session_mapping
from evrevops.formats.status_mapping import load_status_mapping, load_status_mapping_file
from evrevops.formats.status_snapshots import read_snapshots
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file

FIX = Path(__file__).resolve().parents[1] / "fixtures"
ESB_TOML = Path(__file__).resolve().parents[2] / "src/evrevops/formats/mappings/status/esb_ecars.toml"


# ---- helpers ----------------------------------------------------------------------------------------


def identity(batch, records: int | None = None) -> dict[str, set[int]]:
    """Every record counted once: quarantined ones have no rows; returns the records by fate."""
    rows = set().union(*(set(t.column("source_record").to_pylist()) for t in batch.tables.values()))
    absorbed = set(batch.absorbed.column("source_record").to_pylist()) if batch.absorbed is not None else set()
    quarantined = set(batch.quarantine.column("source_record").to_pylist())
    assert not rows & quarantined, rows & quarantined
    assert not absorbed & quarantined and not absorbed & rows
    if records is not None:
        assert batch.records_read == records
    assert len(quarantined) <= batch.records_read
    return {"rows": rows, "absorbed": absorbed, "quarantined": quarantined}


def reasons(batch) -> dict[tuple[int, str | None], str]:
    out: dict[tuple[int, str | None], str] = {}
    for r in batch.quarantine.to_pylist():
        out.setdefault((r["source_record"], r["field"]), r["reason"])
    return out


def only_bad(batch, bad: set[int], records: int | None = None) -> dict[tuple[int, str | None], str]:
    fates = identity(batch, records)
    assert fates["quarantined"] == bad, reasons(batch)
    return reasons(batch)


# ---- session CSV (ChargePoint layout) -------------------------------------------------------------------

CP_LINES = (FIX / "session_csv" / "chargepoint.csv").read_text().splitlines()
CP_HEADER = CP_LINES[0].split(",")
CP_GOOD = CP_LINES[1].split(",")


def cp_row(event: int, **cells: str) -> str:
    row = list(CP_GOOD)
    row[CP_HEADER.index("Plug In Event Id")] = str(event)
    for name, value in cells.items():
        row[CP_HEADER.index(name.replace("_", " "))] = value
    return ",".join(row)


def cp_file(tmp_path: Path, rows: list[str], name: str = "cp.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join([CP_LINES[0], *rows]) + "\n")
    return p


@pytest.mark.parametrize(
    ("column", "value", "field", "reason"),
    [
        ("Energy (kWh)", "NaN", "Energy (kWh)", "energy is not a finite number: 'NaN'"),
        ("Energy (kWh)", "inf", "Energy (kWh)", "energy is not a finite number: 'inf'"),
        ("Energy (kWh)", "-1e400", "Energy (kWh)", "energy is not a finite number: '-1e400'"),
        ("Energy (kWh)", "-3", "Energy (kWh)", "negative energy: '-3'"),
        ("Energy (kWh)", "1e308", "Energy (kWh)", "energy '1e308' is more than a port can deliver"),
        (
            "Energy (kWh)",
            "13500",
            "Energy (kWh)",
            "energy '13500' is more than a port can deliver in the plugged-in time (at most 13460.111 kWh",
        ),
        (
            "Total Duration (hh:mm:ss)",
            "99999999999999999:00:00",
            "Total Duration (hh:mm:ss)",
            "plugged-in time is not a duration (hms)",
        ),
        ("Fee", "10000000000", "Fee", "amount '10000000000' is not below the limit of 10,000,000,000 per record"),
        ("Fee", "99999999999999999999999.99", "Fee", "amount '99999999999999999999999.99' is not below the limit"),
        ("Fee", "NaN", "Fee", "amount is not a decimal number: 'NaN'"),
        ("Currency", "XAU", "Currency", "XAU is a precious metal, not a currency"),
        ("Currency", "ABC", "Currency", "not an ISO-4217 currency: 'ABC'"),
        ("Start Date", "1/1/1970 0:00", "Start Date", "start 1970-01-01 07:00:00 is before 2000-01-01"),
        ("Start Date", "1/1/2200 0:00", "Start Date", "start 2200-01-01 07:00:00 is after"),
        ("End Date", "12/31/9999 23:59", "End Date", "end 10000-01-01 06:59:00 is after"),
        ("MAC Address", "A" * 300, "MAC Address", "id longer than 255 characters: 'AAAA"),
    ],
)
def test_session_csv_refuses_at_the_door(tmp_path, column, value, field, reason):
    p = cp_file(tmp_path, [cp_row(1), cp_row(2, **{column.replace(" ", "_"): value}), cp_row(3)])
    b = read(p, "session-csv", "chargepoint")
    r = only_bad(b, {3}, 3)
    assert reason in r[(3, field)], r
    assert b.tables["sessions"].column("source_record").to_pylist() == [2, 4]


def test_session_longer_than_the_limit(tmp_path):
    long_row = cp_row(2, **{"End_Date": "9/1/2011 23:20", "Total_Duration_(hh:mm:ss)": "819:03:32"})
    p = cp_file(tmp_path, [cp_row(1), long_row])
    r = only_bad(read(p, "session-csv", "chargepoint"), {3}, 2)
    assert r[(3, "Total Duration (hh:mm:ss)")] == (
        "plugged-in time of 34.1 days is above the limit of 31 days per session (see Limits.max_session_s)"
    )
    with limits.using(max_session_s=40 * 86400):
        only_bad(read(p, "session-csv", "chargepoint"), set(), 2)


def test_session_limits_follow_the_limits_in_force(tmp_path):
    p = cp_file(tmp_path, [cp_row(1, **{"Energy_(kWh)": "400"})])  # 400 kWh in 3 h 03 min: 131 kW
    only_bad(read(p, "session-csv", "chargepoint"), set(), 1)
    with limits.using(max_power_kw=50.0):
        r = only_bad(read(p, "session-csv", "chargepoint"), {2}, 1)
        assert "at most 169.239 kWh: 50 kW for 3.059 h × 1.1 + 1 kWh" in r[(2, "Energy (kWh)")]


def test_session_csv_with_bytes_that_are_not_utf8(tmp_path):
    rows = [cp_row(1), cp_row(2).replace("Palo Alto", "Palo \xff\xfe Alto"), cp_row(3)]
    p = tmp_path / "cp.csv"
    p.write_bytes(("\n".join([CP_LINES[0], *rows]) + "\n").encode("latin-1"))
    b = read(p, "session-csv", "chargepoint")
    r = only_bad(b, {3}, 3)
    assert r[(3, None)] == "not valid UTF-8 (bytes replaced by U+FFFD)"
    assert "\ufffd" not in json.dumps(b.implied["sites"].to_pylist(), default=str)


def test_implied_coordinates_that_are_no_coordinates_are_left_empty(tmp_path):
    p = cp_file(tmp_path, [cp_row(1, Latitude="1e999", Longitude="-500")])
    b = read(p, "session-csv", "chargepoint")
    only_bad(b, set(), 1)
    (site,) = b.implied["sites"].to_pylist()
    assert (site["latitude"], site["longitude"]) == (None, None)


def test_session_mapping_names_stay_in_the_shipped_folder():
    known = "acn, boulder, chargepoint, dundee, perth_kinross"
    for name in (
        "../chargepoint",
        "mappings/chargepoint",
        "..\\chargepoint",
        "chargepoint.toml",
        "/etc/passwd",
        "",
        "crm",
    ):
        with pytest.raises(ValueError) as exc:
            load_session_mapping(name)
        assert str(exc.value) == f"unknown session mapping {name!r}; known: {known}"


def test_day_month_repair_survives_dates_outside_the_calendar_window(tmp_path):
    lines = (FIX / "session_csv" / "perth_kinross.csv").read_text().splitlines()
    header, first = lines[0], lines[1]
    cells = first.split(",")
    idx = header.split(",").index("Start Date")
    bad = list(cells)
    bad[idx] = "0001-01-01T00:00:00"
    p = tmp_path / "pk.csv"
    p.write_text("\n".join([header, first, ",".join(bad)]) + "\n")
    b = read(p, "session-csv", "perth_kinross")
    assert 3 in identity(b, 2)["quarantined"]


# ---- ACN-Data JSON --------------------------------------------------------------------------------------

ACN = json.loads((FIX / "session_csv" / "acn.json").read_text())


def acn_file(tmp_path: Path, items: list, raw: str | None = None) -> Path:
    p = tmp_path / "acn.json"
    text = json.dumps({"_meta": ACN["_meta"], "_items": items})
    p.write_text(raw if raw is not None else text)
    return p


def test_acn_json_refuses_at_the_door(tmp_path):
    good = ACN["_items"][0]
    items = [
        good,
        {**good, "_id": "n", "sessionID": "nan", "kWhDelivered": float("nan")},
        {**good, "_id": "d", "sessionID": "deep", "userInputs": json.loads("[" * 100 + "]" * 100)},
        {**good, "_id": "t", "sessionID": "old", "connectionTime": "Thu, 01 Jan 1970 00:00:00 GMT"},
        {**good, "_id": "c", "sessionID": "late", "doneChargingTime": "Fri, 01 Jan 2200 00:00:00 GMT"},
    ]
    b = read(acn_file(tmp_path, items), "acn-json")
    r = only_bad(b, {2, 3, 4, 5}, 5)
    assert r[(2, "kWhDelivered")] == "energy is not a finite number: 'NaN'"
    assert r[(3, None)] == "JSON nested 101 levels deep (more than the limit of 64; see Limits.max_json_depth)"
    assert r[(4, "connectionTime")].startswith("start 1970-01-01 00:00:00 is before 2000-01-01")
    assert r[(5, "doneChargingTime")].startswith("charging end 2200-01-01 00:00:00 is after")


def test_acn_json_duplicated_keys(tmp_path):
    good = ACN["_items"][0]
    text = json.dumps({"_meta": ACN["_meta"], "_items": [good, {**good, "sessionID": "two"}]})
    i = text.rfind('"kWhDelivered"')
    b = read(acn_file(tmp_path, [], raw=text[:i] + '"kWhDelivered": 99, ' + text[i:]), "acn-json")
    assert only_bad(b, {2}, 2)[(2, "kWhDelivered")] == "duplicated key 'kWhDelivered'"


def test_acn_json_with_bytes_that_are_not_utf8_and_a_deep_meta(tmp_path):
    good = ACN["_items"][0]
    items = json.dumps([good, {**good, "sessionID": "zz"}])
    text = '{"_meta": {"site": "x", "deep": ' + "[" * 5000 + "]" * 5000 + '}, "_items": ' + items + "}"
    p = tmp_path / "acn.json"
    p.write_bytes(text.replace('"zz"', '"z\\u00e9"').encode().replace(b"\\u00e9", b"\xe9"))
    b = read(p, "acn-json")
    assert only_bad(b, {2}, 2)[(2, None)] == "not valid UTF-8 (bytes replaced by U+FFFD)"


# ---- status logs ----------------------------------------------------------------------------------------

ESB_LINES = (FIX / "status" / "esb_day.tsv").read_bytes().split(b"\r\n")


def esb(tmp_path: Path, extra: list[bytes]) -> Path:
    p = tmp_path / "esb.tsv"
    p.write_bytes(b"\r\n".join([*ESB_LINES[:3], *extra]) + b"\r\n")
    return p


def esb_line(
    date: str = "20180701", time: str = "1010", cp: str = "CP:AAA01", status: str = "Occ", conn: str = "StandardType2"
) -> bytes:
    return f"{date}\t{time}\t{cp}\t{conn}\t{status}\t-6.9,52.8\tSomewhere\t-6.9\t52.8".encode()


def test_status_times_outside_the_window_and_unknown_codes(tmp_path):
    p = esb(
        tmp_path,
        [
            esb_line("19700101"),
            esb_line("22000101"),
            esb_line(status="Broken"),
            esb_line(cp="C" * 300),
            esb_line(time="1015"),
        ],
    )
    b = read_snapshots(p, "esb_ecars")
    r = only_bad(b, {4, 5, 6, 7}, 8)
    assert r[(4, "date, time")].startswith("1970-01-01 09:10:00 is before 2000-01-01")  # 10:10 Irish winter time
    assert r[(5, "date, time")].startswith("2200-01-01 10:10:00 is after")
    assert r[(6, "status")] == "unknown status code 'Broken' (expected OOC, OOS, Occ or Part)"
    assert r[(7, "cp_id")].startswith("charger id longer than 255 characters")


EVENT_MAPPING = """
description = "test: an event log"
mode = "event"

[csv]
delimiter = ","
columns = ["when", "station", "plug", "state"]

[time]
value = "{when}"
formats = ["%Y-%m-%dT%H:%M:%S"]
zone = "UTC"

[ids]
charger = "{station}"
port = "{station}/{plug}"
connector = "{plug}"

[status]
value = "{state}"
codes = [{ code = "down", status = "Faulted" }, { code = "up", status = "Available" }]
"""


def test_status_mapping_declares_its_statuses(tmp_path):
    m = tmp_path / "m.toml"
    m.write_text(EVENT_MAPPING.replace('status = "Faulted"', 'status = "Kaputt"'))
    with pytest.raises(ValueError, match=r"\[status\] code 'down': status 'Kaputt' is not one evrevops knows"):
        load_status_mapping_file(m)
    log = tmp_path / "log.csv"
    log.write_text("when,station,plug,state\n2025-01-01T00:00:00,A,1,up\n2025-01-01T01:00:00,A,1,sideways\n")
    m.write_text(EVENT_MAPPING)
    b = read_snapshots(log, load_status_mapping_file(m))
    assert only_bad(b, {3}, 2)[(3, "state")] == "unknown status code 'sideways' (expected down or up)"
    # unlisted codes are read only when the mapping says so, as a status it names
    m.write_text(EVENT_MAPPING.replace('value = "{state}"', 'value = "{state}"\nunlisted = "Unknown"'))
    b = read_snapshots(log, load_status_mapping_file(m))
    only_bad(b, set(), 2)
    assert [(e["status"], e["info"]) for e in b.tables["status_events"].to_pylist()] == [
        ("Available", None),
        ("Unknown", "status code not listed in the mapping"),
    ]


def test_status_mapping_rated_power_and_connector_ids(tmp_path):
    text = ESB_TOML.read_text()
    m = tmp_path / "m.toml"
    m.write_text(text.replace("StandardType2 = { id = 1, ", "StandardType2 = { id = 1, rated_kw = nan, "))
    with pytest.raises(ValueError, match="rated_kw must be a finite number above 0"):
        load_status_mapping_file(m)
    m.write_text(text.replace("StandardType2 = { id = 1, ", "StandardType2 = { id = -1, "))
    with pytest.raises(ValueError, match="id must be 0 or more"):
        load_status_mapping_file(m)
    m.write_text(text.replace("StandardType2 = { id = 1, ", "StandardType2 = { id = 1, rated_kw = 5000, "))
    with pytest.raises(FormatError, match="rated_kw 5000 is above the limit of 4000 kW"):
        read_snapshots(FIX / "status" / "esb_day.tsv", load_status_mapping_file(m))


@pytest.mark.parametrize(
    "name", ["../status/esb_ecars", "esb_ecars.toml", str(ESB_TOML), "..\\esb_ecars", "salesforce", "ESB_ECARS"]
)
def test_status_mapping_names_stay_in_the_shipped_folder(name):
    with pytest.raises(ValueError) as exc:
        load_status_mapping(name)
    assert str(exc.value) == f"unknown status mapping {name!r}; known: esb_ecars"
    with pytest.raises(FormatError, match="unknown status mapping"):
        read_snapshots(FIX / "status" / "esb_day.tsv", name)


def test_status_implied_coordinates(tmp_path):
    p = esb(tmp_path, [b"20180701\t1010\tCP:ZZZ09\tCHAdeMO\tOcc\tx\tSomewhere\tinf\t1e999"])
    b = read_snapshots(p, "esb_ecars")
    site = next(s for s in b.implied["sites"].to_pylist() if s["site_id"] == "CP:ZZZ09")
    assert (site["latitude"], site["longitude"]) == (None, None)


# ---- evrevops' own CSVs ---------------------------------------------------------------------------------


def csv_file(tmp_path: Path, name: str, header: str, rows: list[str]) -> Path:
    p = tmp_path / name
    p.write_text("\n".join([header, *rows]) + "\n")
    return p


SITES_H = "site_id,port_id,segment,time_zone,rated_kw,commissioned_on,decommissioned_on,latitude,operating_hours"


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ("S2,P2,fleet,UTC,5000,,,,", "rated_kw", "rated_kw '5000' is above the limit of 4000 kW per port"),
        ("S2,P2,fleet,UTC,1e999,,,,", "rated_kw", "not a finite number: '1e999'"),
        ("S2,P2,fleet,UTC,NaN,,,,", "rated_kw", "not a number: 'NaN'"),
        ("S2,P2,fleet,UTC,,1970-01-01,,,", "commissioned_on", "commissioned_on '1970-01-01' is outside 2000-01-01 .. "),
        (
            "S2,P2,fleet,UTC,,,2200-01-01,,",
            "decommissioned_on",
            "decommissioned_on '2200-01-01' is outside 2000-01-01 .. ",
        ),
        ("S2,P2,fleet,UTC,,,,1e999,", "latitude", "not a finite number: '1e999'"),
        (f"{'S' * 256},P2,fleet,UTC,,,,,", "site_id", "site_id longer than 255 characters"),
        (
            "S2,P2,fleet,UTC,,,,," + "Mo" + " " * 20000 + "x",
            "operating_hours",
            "not valid operating hours: a schedule of 20,003 characters",
        ),
    ],
)
def test_sites_csv_refuses_at_the_door(tmp_path, row, field, reason):
    p = csv_file(tmp_path, "sites.csv", SITES_H, ["S1,P1,fleet,UTC,50,2024-01-01,2040-01-01,45.5,24/7", row])
    b = read(p, "sites-csv")
    r = only_bad(b, {3}, 2)
    assert r[(3, field)].startswith(reason), r


def test_a_planned_date_may_lie_30_years_ahead_but_not_more(tmp_path):
    until = limits.current().until.date()
    soon, far = until.replace(year=until.year + 29), until.replace(year=until.year + 31)
    h = "contract_id,line_id,line_type,event,effective_on,end_on,unit_price,currency"
    rows = [f"K1,L1,software,new,2025-01-01,{soon},10,USD", f"K2,L1,software,new,2025-01-01,{far},10,USD",
            f"K3,L1,software,new,{soon},,10,USD", "K4,L1,software,new,1999-12-31,,10,USD"]  # fmt: skip
    r = only_bad(read(csv_file(tmp_path, "contracts.csv", h, rows), "contracts-csv"), {3, 4, 5}, 4)
    assert r[(3, "end_on")].startswith(f"end_on '{far}' is outside 2000-01-01 .. ")
    assert "(a planned date may lie up to 30 years ahead)" in r[(3, "end_on")]
    assert r[(4, "effective_on")] == f"effective_on '{soon}' is outside 2000-01-01 .. {until}; see --earliest/--latest"
    assert r[(5, "effective_on")].startswith("effective_on '1999-12-31' is outside")


@pytest.mark.parametrize(
    ("fmt", "header", "row", "field", "reason"),
    [
        (
            "customers-csv",
            "customer_id,name,segment,currency,created_on",
            "C2,Acme,fleet,XAU,2024-01-01",
            "currency",
            "XAU is a precious metal, not a currency",
        ),
        (
            "customers-csv",
            "customer_id,name,segment,currency,created_on",
            "C2,Acme,fleet,EUR,2200-01-01",
            "created_on",
            "created_on '2200-01-01' is outside",
        ),
        (
            "customers-csv",
            "customer_id,name,segment,currency,created_on",
            f"C2,{'N' * 256},fleet,EUR,",
            "name",
            "name longer than 255 characters",
        ),
        (
            "contracts-csv",
            "contract_id,line_id,line_type,event,effective_on,unit_price,currency",
            "K2,L1,software,new,2025-01-01,10000000000,USD",
            "unit_price",
            "amount '10000000000' is not below the limit of 10,000,000,000 per record",
        ),
        (
            "contracts-csv",
            "contract_id,line_id,line_type,event,effective_on,unit_price,currency",
            "K2,L1,software,new,2025-01-01,-5,USD",
            "unit_price",
            "unit_price must be >= 0, got '-5'",
        ),
        (
            "contracts-csv",
            "contract_id,line_id,line_type,event,effective_on,energy_share_pct",
            f"K2,L1,software,new,2025-01-01,1{'0' * 30}",
            "energy_share_pct",
            "decimal number too large: '1000",
        ),
        (
            "deals-csv",
            "deal_id,stage,expected_close_on,currency,hardware_amount",
            "D2,prospect,2025-01-01,USD,99999999999",
            "hardware_amount",
            "amount '99999999999' is not below the limit",
        ),
        (
            "deals-csv",
            "deal_id,stage,expected_close_on,probability_pct",
            "D2,prospect,2025-01-01,1e999",
            "probability_pct",
            "not a finite number: '1e999'",
        ),
        (
            "deals-csv",
            "deal_id,stage,expected_close_on",
            "D2,prospect,2100-01-01",
            "expected_close_on",
            "expected_close_on '2100-01-01' is outside",
        ),
        (
            "deal-stages-csv",
            "deal_id,stage,entered_on",
            "D2,prospect,1999-12-31",
            "entered_on",
            "entered_on '1999-12-31' is outside",
        ),
        (
            "projects-csv",
            "project_id,milestone,planned_on,actual_on",
            "P2,permits,2040-01-01,2040-01-01",
            "actual_on",
            "actual_on '2040-01-01' is outside",
        ),
        (
            "incentives-csv",
            "incentive_id,program,kind,site_id,pct_of_eligible",
            f"I2,X,grant,S1,{'9' * 25}",
            "pct_of_eligible",
            "decimal number too large",
        ),
        (
            "incidents-csv",
            "incident_id,port_id,started_at,cause",
            "I2,P1,2200-01-01T00:00:00Z,vehicle",
            "started_at",
            "started_at 2200-01-01 00:00:00 is after",
        ),
        (
            "incidents-csv",
            "incident_id,port_id,started_at,cause",
            "I2,P1,1969-12-31T23:00:00-05:00,vehicle",
            "started_at",
            "started_at 1970-01-01 04:00:00 is before 2000-01-01",
        ),
        (
            "costs-csv",
            "cost_id,cost_type,basis,site_id,amount,currency,incurred_on",
            "K2,network,per_month,S1,1e10,USD,2025-01-01",
            "amount",
            "not a decimal amount: '1e10'",
        ),
        (
            "costs-csv",
            "cost_id,cost_type,basis,site_id,amount,currency,incurred_on",
            "K2,network,per_month,S1,1,USD,1900-01-01",
            "incurred_on",
            "incurred_on '1900-01-01' is outside",
        ),
    ],
)
def test_own_csvs_refuse_at_the_door(tmp_path, fmt, header, row, field, reason):
    good = {
        "customers-csv": "C1,Acme,fleet,USD,2024-01-01",
        "contracts-csv": "K1,L1,software,new,2025-01-01"
        + ",10,USD" * ("unit_price" in header)
        + ",10" * ("energy_share_pct" in header),
        "deals-csv": "D1,prospect,2025-01-01"
        + ",USD,100" * ("hardware_amount" in header)
        + ",50" * ("probability_pct" in header),
        "deal-stages-csv": "D1,prospect,2025-01-01",
        "projects-csv": "P1,permits,2040-01-01,2025-01-01",
        "incentives-csv": "I1,X,grant,S1,30",
        "incidents-csv": "I1,P1,2025-01-01T00:00:00Z,vehicle",
        "costs-csv": "K1,network,per_month,S1,1,USD,2025-01-01",
    }[fmt]
    b = read(csv_file(tmp_path, "t.csv", header, [good, row]), fmt)
    r = only_bad(b, {3}, 2)
    assert r[(3, field)].startswith(reason), r


def test_own_csv_with_bytes_that_are_not_utf8(tmp_path):
    p = tmp_path / "customers.csv"
    p.write_bytes(b"customer_id,name,segment\nC1,Acme,fleet\nC2,Caf\xe9,fleet\nC3,Bolt,fleet\n")
    b = read(p, "customers-csv")
    assert only_bad(b, {3}, 3)[(3, None)] == "not valid UTF-8 (bytes replaced by U+FFFD)"
    assert b.tables["customers"].column("name").to_pylist() == ["Acme", "Bolt"]


def test_formula_like_text_is_stored_as_text(tmp_path):
    p = csv_file(
        tmp_path, "customers.csv", "customer_id,name,segment", ['C1,"=HYPERLINK(""http://x"")",fleet', "C2,+1-1,fleet"]
    )
    b = read(p, "customers-csv")
    only_bad(b, set(), 2)
    assert b.tables["customers"].column("name").to_pylist() == ['=HYPERLINK("http://x")', "+1-1"]


def test_long_schedules_are_refused_quickly():
    with pytest.raises(ValueError, match="longer than 1,000"):
        parse_operating_hours("Mo" + " " * 100_000 + "x")


# ---- CRM exports ----------------------------------------------------------------------------------------

SF_LINES = (FIX / "crm" / "salesforce_opportunities.csv").read_text().splitlines()


def sf_row(deal: str, **cells: str) -> str:
    header = [h.strip('"') for h in SF_LINES[0].split('","')]
    values = [v.strip('"') for v in SF_LINES[1].split('","')]
    row = dict(zip(header, values, strict=True))
    row["Opportunity ID"] = deal
    row.update({k.replace("_", " "): v for k, v in cells.items()})
    return ",".join('"' + v.replace('"', '""') + '"' for v in row.values())


@pytest.mark.parametrize(
    ("cells", "field", "reason"),
    [
        ({"CaaS_ARR": "$1e30"}, "CaaS ARR", "not a decimal amount: '1e30'"),
        ({"CaaS_ARR": "NaN"}, "CaaS ARR", "not a decimal amount: 'NaN'"),
        ({"CaaS_ARR": "(1,200.00)"}, "CaaS ARR", "not a decimal amount: '(1200.00)'"),
        ({"CaaS_ARR": "$99,999,999,999.00"}, "CaaS ARR", "amount '99999999999.00' is not below the limit"),
        ({"Close_Date": "1/1/2200", "Stage": "Prospecting"}, "Close Date", "expected_close_on '2200-01-01' is outside"),
        ({"Created_Date": "1/1/1970"}, "Created Date", "created_on '1970-01-01' is outside"),
        ({"Probability_(%)": "1e999%"}, "Probability (%)", "not a finite number: '1e999'"),
        ({"Opportunity_Name": "x" * 300}, "Opportunity Name", "name longer than 255 characters"),
    ],
)
def test_crm_export_refuses_at_the_door(tmp_path, cells, field, reason):
    p = tmp_path / "sf.csv"
    p.write_text("\n".join([SF_LINES[0], sf_row("A1"), sf_row("A2", **cells)]) + "\n")
    b = read(p, "crm-csv", "salesforce")
    r = only_bad(b, {3}, 2)
    assert r[(3, field)].startswith(reason), r


def test_crm_malformed_rows_and_bytes_that_are_not_utf8(tmp_path):
    p = tmp_path / "sf.csv"
    rows = [sf_row("A1"), sf_row("A2") + ',"extra"', sf_row("A3", Account_Name="Caf\xe9"), sf_row("A4")]
    p.write_bytes(("\n".join([SF_LINES[0], *rows]) + "\n").encode("latin-1"))
    b = read(p, "crm-csv", "salesforce")
    r = only_bad(b, {3, 4}, 4)
    assert r[(3, None)].startswith("malformed CSV row: 20 fields expected, 21 found")
    assert r[(4, None)] == "not valid UTF-8 (bytes replaced by U+FFFD)"
    assert b.tables["deals"].column("source_record").to_pylist() == [2, 5]


def test_crm_stage_history_dates_outside_the_window(tmp_path):
    lines = (FIX / "crm" / "hubspot_deals.csv").read_text().splitlines()
    p = tmp_path / "hs.csv"
    p.write_text(
        "\n".join([lines[0], lines[1].replace("2024-04-01 10:00,2024-05-01", "2024-04-01 10:00,1970-05-01")]) + "\n"
    )
    b = read(p, "crm-csv", "hubspot")
    r = only_bad(b, {2}, 1)
    assert r[(2, 'Date entered "Qualified To Buy (Sales Pipeline)"')].startswith(
        'Date entered "Qualified To Buy (Sales Pipeline)" 1970-05-01 12:00 is outside 2000-01-01 .. '
    )
    assert b.tables["deal_stage_history"].num_rows == 0


@pytest.mark.parametrize(
    "name", ["../crm/salesforce", "../../../../etc/x", "salesforce.toml", "..\\hubspot", "chargepoint"]
)
def test_crm_mapping_names_stay_in_the_shipped_folder(tmp_path, name):
    with pytest.raises(ValueError) as exc:
        load_crm_mapping(name)
    assert str(exc.value) == f"unknown CRM mapping {name!r}; known: hubspot, salesforce, salesforce_history"
    evil = tmp_path / "x.toml"
    evil.write_text('target = "deals"\n[columns]\ndeal_id = "Opportunity ID"\n')
    with pytest.raises(ValueError, match="unknown CRM mapping"):
        read(FIX / "crm" / "salesforce_opportunities.csv", "crm-csv", str(evil.with_suffix("")))


# ---- the warehouse keeps the identity ---------------------------------------------------------------


def test_hostile_csvs_through_the_warehouse_keep_the_ledger_identity(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    try:
        files = [
            csv_file(
                tmp_path, "sites.csv", SITES_H, ["S1,P1,fleet,UTC,50,2024-01-01,,45.5,24/7", "S1,P2,fleet,UTC,9000,,,,"]
            ),
            cp_file(
                tmp_path,
                [cp_row(1), cp_row(2, **{"Energy_(kWh)": "NaN"}), cp_row(3, Start_Date="1/1/1970 0:00")],
                "sessions.csv",
            ),
            csv_file(
                tmp_path,
                "deals.csv",
                "deal_id,stage,expected_close_on,currency,hardware_amount",
                ["D1,prospect,2025-01-01,USD,1", "D2,prospect,2300-01-01,USD,1"],
            ),
        ]
        got = [ingest_file(wh, f) for f in files]
        assert [(r.records_read, r.accepted, r.duplicate, r.quarantined) for r in got] == [
            (2, 1, 0, 1),
            (3, 1, 0, 2),
            (2, 1, 0, 1),
        ]
        for read_, acc, dup, q in wh.con.execute(
            "SELECT records_read, accepted, duplicate, quarantined FROM ingest_ledger"
        ).fetchall():
            assert read_ == acc + dup + q
    finally:
        wh.close()


# ---- properties: mutated real records never make a reader raise ----------------------------------------

NASTY = [
    "", " ", "NaN", "-inf", "Infinity", "1e400", "-1e400", "1e308", "-0", "9" * 40, "0x10", "1,5", "1/0",
    "2200-01-01", "1970-01-01T00:00:00Z", "9999-12-31 23:59", "0001-01-01", "12/31/9999 23:59", "1/1/1970 0:00",
    "99999999:59:59", "-1:00:00", "XAU", "usd", "ABCD", "=1+1", '"', '""', "\\", "\u0000", "é", "\ufffd", "\U0001f600",
    "a" * 300, "Mo-Fr 08:00-18:00", "Mo" + " " * 3000 + "x", "../../etc/passwd", "{", "[[[[", "null", "true",
]  # fmt: skip
CELL = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=string.printable, max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)


def _mutated(lines: list[str], rnd: random.Random, cells: list[str], raw_bytes: bool) -> bytes:
    """CSV lines with some cells replaced (quoted when needed), and optionally random bytes."""
    import csv
    import io

    rows = list(csv.reader(lines))
    for cell in cells:
        i = rnd.randrange(1, len(rows))
        if rows[i]:
            rows[i][rnd.randrange(len(rows[i]))] = cell
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    data = out.getvalue().encode("utf-8", "surrogatepass")
    if raw_bytes:
        b = bytearray(data)
        for _ in range(rnd.randint(1, 3)):
            pos = rnd.randrange(data.index(b"\n") + 1, len(b))
            b[pos] = rnd.choice([0xFF, 0xE9, 0x00, 0x22, 0x2C, 0x0A, rnd.randrange(256)])
        data = bytes(b)
    return data


def _check_read(p: Path, fmt: str, mapping: str | None = None) -> None:
    try:
        b = read(p, fmt, mapping)
    except FormatError:
        return  # a whole file that cannot be read (its message names the file)
    identity(b)
    for t in [*b.tables.values(), *b.implied.values()]:
        for name in t.column_names:
            vals = t.column(name).to_pylist()
            if t.schema.field(name).type in ("double", "float"):
                assert all(v is None or v == v and abs(v) != float("inf") for v in vals), name
            if name.endswith(("_at",)):
                assert all(v is None or limits.current().time_problem(v) is None for v in vals), name
            if name.endswith("_minor"):
                assert all(v is None or abs(v) < 10**13 for v in vals), name


@pytest.fixture(scope="module")
def network(demo_networks) -> Path:
    out = demo_networks.files(ports=8, months=2, seed=11)
    return out


OWN = [("sites.csv", "sites-csv"), ("customers.csv", "customers-csv"), ("contracts.csv", "contracts-csv"),
       ("deals.csv", "deals-csv"), ("deal_stages.csv", "deal-stages-csv"), ("projects.csv", "projects-csv"),
       ("incentives.csv", "incentives-csv"), ("incidents.csv", "incidents-csv"), ("costs.csv", "costs-csv")]  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(OWN),
    seed=st.integers(0, 2**32 - 1),
    cells=st.lists(CELL, min_size=1, max_size=8),
    raw=st.booleans(),
)
def test_mutated_own_csvs_never_raise(tmp_path, network, which, seed, cells, raw):
    name, fmt = which
    lines = (network / name).read_text().splitlines()[:30]
    p = tmp_path / f"{seed}-{name}"
    p.write_bytes(_mutated(lines, random.Random(seed), cells, raw))
    _check_read(p, fmt)


SESSION_FILES = [
    ("chargepoint.csv", "chargepoint"),
    ("dundee.csv", "dundee"),
    ("boulder.csv", "boulder"),
    ("perth_kinross.csv", "perth_kinross"),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(SESSION_FILES),
    seed=st.integers(0, 2**32 - 1),
    cells=st.lists(CELL, min_size=1, max_size=8),
    raw=st.booleans(),
)
def test_mutated_session_exports_never_raise(tmp_path, which, seed, cells, raw):
    name, mapping = which
    lines = (FIX / "session_csv" / name).read_text().splitlines()
    p = tmp_path / f"{seed}-{name}"
    p.write_bytes(_mutated(lines, random.Random(seed), cells, raw))
    _check_read(p, "session-csv", mapping)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    values=st.lists(st.one_of(CELL, st.floats(), st.integers(), st.none(), st.just([[[]]])), min_size=1, max_size=6),
)
def test_mutated_acn_json_never_raises(tmp_path, seed, values):
    rnd = random.Random(seed)
    items = json.loads(json.dumps(ACN["_items"]))
    for v in values:
        item = rnd.choice([x for x in items if isinstance(x, dict)])
        item[rnd.choice(sorted(item))] = v
    p = tmp_path / f"{seed}.json"
    p.write_text(json.dumps({"_meta": ACN["_meta"], "_items": items}, allow_nan=True))
    _check_read(p, "acn-json")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), cells=st.lists(CELL, min_size=1, max_size=8), raw=st.booleans())
def test_mutated_status_logs_never_raise(tmp_path, seed, cells, raw):
    rnd = random.Random(seed)
    lines = [line.split(b"\t") for line in ESB_LINES if line]
    for cell in cells:
        row = rnd.choice(lines)
        row[rnd.randrange(len(row))] = (
            cell.replace("\t", " ").replace("\n", " ").replace("\r", " ").encode("latin-1", "replace")
        )
    data = b"\r\n".join(b"\t".join(r) for r in lines) + b"\r\n"
    if raw:
        b = bytearray(data)
        b[rnd.randrange(len(b))] = rnd.randrange(256)
        data = bytes(b)
    p = tmp_path / f"{seed}.tsv"
    p.write_bytes(data)
    try:
        b = read_snapshots(p, "esb_ecars")
    except FormatError:
        return
    identity(b)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from([("salesforce_opportunities.csv", "salesforce"), ("hubspot_deals.csv", "hubspot"), ("salesforce_history.csv", "salesforce_history")]),
    seed=st.integers(0, 2**32 - 1), cells=st.lists(CELL, min_size=1, max_size=8), raw=st.booleans(),
)  # fmt: skip
def test_mutated_crm_exports_never_raise(tmp_path, which, seed, cells, raw):
    name, mapping = which
    lines = (FIX / "crm" / name).read_text().splitlines()
    p = tmp_path / f"{seed}-{name}"
    p.write_bytes(_mutated(lines, random.Random(seed), cells, raw))
    _check_read(p, "crm-csv", mapping)


def test_money_limit_is_the_limit_in_force(tmp_path):
    h = "deal_id,stage,expected_close_on,currency,hardware_amount"
    p = csv_file(tmp_path, "deals.csv", h, ["D1,prospect,2025-01-01,USD,92233720368547758.07"])
    only_bad(read(p, "deals-csv"), {2}, 1)
    with limits.using(max_money_major=Decimal(10) ** 18):
        (d,) = read(p, "deals-csv").tables["deals"].to_pylist()
        assert d["hardware_minor"] == 9223372036854775807
    assert dt.date(2000, 1, 1) == limits.current().earliest.date()


@pytest.mark.parametrize("bound", [Decimal(0), Decimal("-1"), Decimal("Infinity"), Decimal(10) ** 18 + 1])
def test_a_money_limit_the_readers_cannot_compare_is_refused(bound):
    with pytest.raises(ValueError, match="max_money_major must be above 0 and at most 10"):
        limits.Limits(max_money_major=bound)
