"""Session CSV exports through declarative mappings, and ACN-Data JSON.

Hand-made fixtures in ``tests/fixtures/session_csv`` check exact values (seconds,
minor units, UTC instants, quarantine reasons at known lines); the real exports
(the in-repository samples of ``tests/data/real``, and the full files of ``$EVREVOPS_REAL_DATA``
when present) are read and every row must be accounted for.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from evrevops.formats import detect, read, session_mappings
from evrevops.formats.base import FormatError
from evrevops.formats.session_csv import read_acn, read_sessions
from evrevops.formats.session_mapping import load_mapping, mapping_names, match_mapping, normalise
from tests.helpers import real_data

D = dt.datetime
LONDON = ZoneInfo("Europe/London")


def _by_record(batch) -> dict[int, dict]:
    return {r["source_record"]: r for r in batch.tables["sessions"].to_pylist()}


def _reasons(batch) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    for r in batch.quarantine.to_pylist():
        out.setdefault(r["source_record"], {})[r["field"]] = r["reason"]
    return out


def _accounted(batch) -> None:
    """Every record is in sessions or in quarantine, never both."""
    rec_in = set(batch.tables["sessions"].column("source_record").to_pylist())
    rec_q = set(batch.quarantine.column("source_record").to_pylist())
    assert not rec_in & rec_q
    assert len(rec_in) == batch.tables["sessions"].num_rows
    assert batch.tables["sessions"].num_rows + len(rec_q) == batch.records_read


# ---------------------------------------------------------------------------------------------
# mappings and detection
# ---------------------------------------------------------------------------------------------


def test_shipped_mappings_load_and_are_listed():
    assert mapping_names() == ["acn", "boulder", "chargepoint", "dundee", "perth_kinross"]
    for name in mapping_names():
        m = load_mapping(name)
        assert m.description
    assert {n for n, _ in session_mappings()} == set(mapping_names())
    with pytest.raises(ValueError, match="unknown session mapping"):
        load_mapping("nope")
    with pytest.raises(ValueError, match="unknown session mapping"):
        load_mapping("../base")


def test_match_mapping_compares_normalised_names():
    assert normalise("Energy (kWh)") == normalise("Energy__kWh_") == "energy_kwh"
    dundee = "Charging event,CP ID,Connector,Start Date,Start Time,End Date,End Time,Total kWh,Cost,Site,Group,Model"
    assert match_mapping(dundee.split(","), None) == "dundee"
    assert match_mapping(dundee.lower().replace(" ", "_").split(","), None) == "dundee"
    perth16 = "_id,CP_ID,Connector,Start_Date,Start_Time,End_Date,End_Time,Total_kWh,Site,Model,OBJECTID"
    assert match_mapping(perth16.split(","), None) == "perth_kinross"
    assert match_mapping(["a", "b"], None) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("dundee.csv", ("session-csv", "dundee")),
        ("dundee_malformed.csv", ("session-csv", "dundee")),
        ("perth_kinross.csv", ("session-csv", "perth_kinross")),
        ("perth_kinross_2016.csv", ("session-csv", "perth_kinross")),
        ("boulder.csv", ("session-csv", "boulder")),
        ("chargepoint.csv", ("session-csv", "chargepoint")),
        ("acn.json", ("acn-json", None)),
    ],
)
def test_detect_fixtures(fixtures, name, expected):
    assert detect(fixtures / "session_csv" / name) == expected


def test_missing_column_is_a_format_error(fixtures):
    with pytest.raises(FormatError, match="record 1.*lacks columns \\['Charging event'"):
        read_sessions(fixtures / "session_csv" / "boulder.csv", mapping="dundee")
    with pytest.raises(FormatError, match="reads JSON"):
        read_sessions(fixtures / "session_csv" / "acn.json", mapping="acn")
    with pytest.raises(FormatError, match="reads CSV"):
        read_acn(fixtures / "session_csv" / "acn.json", mapping="dundee")


# ---------------------------------------------------------------------------------------------
# hand-made fixtures: exact values
# ---------------------------------------------------------------------------------------------


def test_dundee_fixture_values_money_and_dst(fixtures):
    b = read(fixtures / "session_csv" / "dundee.csv")
    assert (b.format, b.mapping, b.records_read) == ("session-csv", "dundee", 11)
    _accounted(b)
    s = _by_record(b)
    assert sorted(s) == [2, 8, 9, 10, 11]
    first = s[2]
    assert first["session_id"] == "dundee:1001" and first["source"] == "dundee"
    assert first["site_id"] == "dundee:gellatly-street-car-park"
    assert (first["port_id"], first["charger_id"], first["connector_id"]) == ("dundee:51356-1", "dundee:51356", "1")
    assert first["started_at"] == D(2018, 3, 2, 23, 50) and first["ended_at"] == D(2018, 3, 3, 14, 16)
    # no charging time in the export: charging is the whole plug-in
    assert first["plugged_in_s"] == first["charging_s"] == 51960.0 and first["idle_s"] == 0.0
    assert first["charging_ended_at"] == first["ended_at"]
    assert (first["currency"], first["total_cost_minor"]) == ("GBP", 250)
    assert "last_updated_at" not in first  # no version in exports: stored NULL
    # 25 Mar 2018 01:30 does not exist in London: read with the offset before the gap (GMT)
    assert s[8]["started_at"] == D(2018, 3, 25, 1, 30) and s[8]["ended_at"] == D(2018, 3, 25, 2, 0)
    assert s[8]["plugged_in_s"] == 1800.0 and s[8]["total_cost_minor"] == 13  # 0.125 rounds half up
    # 28 Oct 2018 01:30 happens twice: the second occurrence (GMT) is taken
    assert s[9]["started_at"] == D(2018, 10, 28, 1, 30) and s[9]["plugged_in_s"] == 900.0
    assert s[9]["total_cost_minor"] == 1235  # 12.345 GBP
    # "Trades Lane" and "Trades Lane, Dundee" are one site; an empty Cost gives no money
    assert s[10]["site_id"] == s[11]["site_id"] == "dundee:trades-lane"
    assert s[11]["currency"] is None and s[11]["total_cost_minor"] is None


def test_dundee_fixture_quarantine_lines_and_reasons(fixtures):
    b = read_sessions(fixtures / "session_csv" / "dundee.csv")
    q = _reasons(b)
    assert sorted(q) == [3, 4, 5, 6, 7, 12]
    assert q[3] == {
        "End Date": "missing end date/time (session still open at export?)",
        "Total kWh": "missing energy",
    }
    assert q[4] == {"Total kWh": "negative energy: '-5.5'"}
    assert q[5] == {"End Date": "end '02/01/2018 22:16' is before start '02/01/2018 22:47'"}
    assert q[6]["Start Date"].startswith("unparseable start date/time '31/02/2018 10:00'")
    assert q[7] == {
        "Site": "session at the operator's test site (charger not yet assigned to a real site): "
        "'***TEST SITE*** Charge Your Car HQ'"
    }
    assert "1970-01-01 (Unix epoch) placeholder" in q[12]["End Date"]
    raw = {r["source_record"]: r["raw"] for r in b.quarantine.to_pylist()}
    lines = (fixtures / "session_csv" / "dundee.csv").read_text().splitlines()
    for rec, text in raw.items():
        assert text == lines[rec - 1]  # the record's own line, header = line 1


def test_malformed_rows_and_blank_lines_keep_line_numbers(fixtures):
    """A blank line still counts as a line; rows with the wrong number of fields are quarantined."""
    b = read_sessions(fixtures / "session_csv" / "dundee_malformed.csv")
    assert b.records_read == 6  # 8 lines: the header, 6 rows and a blank line
    _accounted(b)
    assert b.tables["sessions"].column("source_record").to_pylist() == [2]
    q = _reasons(b)
    assert sorted(q) == [3, 5, 6, 7, 8]
    assert q[5] == {"Total kWh": "negative energy: '-5.5'"}  # after the blank line 4
    assert q[7] == {None: "malformed CSV row: 12 fields expected, 4 found"}
    assert q[8] == {None: "malformed CSV row: 12 fields expected, 13 found"}
    raw = {r["source_record"]: r["raw"] for r in b.quarantine.to_pylist()}
    assert raw[7] == "1099,1,2,3"


def test_quoted_newline_numbers_records_consecutively(fixtures, tmp_path):
    lines = (fixtures / "session_csv" / "dundee.csv").read_text().splitlines()
    lines[1] = lines[1].replace('"Gellatly Street Car Park, Dundee"', '"Gellatly Street\nCar Park, Dundee"')
    p = tmp_path / "multi.csv"
    p.write_text("\n".join(lines) + "\n")
    b = read_sessions(p)
    assert b.records_read == 11
    _accounted(b)
    s = _by_record(b)
    assert s[2]["site_id"] == "dundee:gellatly-street-car-park" and s[2]["total_cost_minor"] == 250
    assert sorted(_reasons(b)) == [3, 4, 5, 6, 7, 12]  # record numbers, not physical lines


def test_dundee_fixture_implied_rows(fixtures):
    b = read_sessions(fixtures / "session_csv" / "dundee.csv")
    sites = {r["site_id"]: r for r in b.implied["sites"].to_pylist()}
    assert sites["dundee:lochee-charging-hub"]["name"] == "Lochee Charging Hub, Dundee"
    assert sites["dundee:lochee-charging-hub"]["time_zone"] == "Europe/London"
    assert sites["dundee:trades-lane"]["name"] == "Trades Lane, Dundee"  # latest session's text
    assert "dundee:charge-your-car-hq" not in str(sites)  # test-site rows imply nothing
    ports = {r["port_id"]: r for r in b.implied["ports"].to_pylist()}
    assert ports["dundee:51549-2"]["rated_kw"] == 50.0  # "APT 50kW Raption"
    assert ports["dundee:50908-1"]["rated_kw"] == 22.0
    assert ports["dundee:51356-1"]["rated_kw"] == 7.0
    assert ports["dundee:51549-2"]["site_id"] == "dundee:lochee-charging-hub"
    assert ports["dundee:51549-2"]["connector_id"] == 2
    chargers = {r["charger_id"]: r for r in b.implied["chargers"].to_pylist()}
    assert chargers["dundee:51549"]["vendor"] == "APT" and chargers["dundee:51549"]["model"] == "APT 50kW Raption"


def test_perth_fixture_day_month_swap_uses_window_and_order(fixtures):
    b = read_sessions(fixtures / "session_csv" / "perth_kinross.csv")
    _accounted(b)
    s = _by_record(b)
    local = {
        rec: r["started_at"].replace(tzinfo=dt.UTC).astimezone(LONDON).replace(tzinfo=None) for rec, r in s.items()
    }
    assert local[2] == D(2019, 8, 31, 22, 48)
    # "2019-04-03" between 20 Apr and 25 Mar (file is newest first): 3 April as written
    assert local[4] == D(2019, 4, 3, 9, 0)
    # "2019-05-03" between 15 Mar and 20 Feb: 5 March, day and month swapped
    assert local[7] == D(2019, 3, 5, 12, 0)
    # start "2019-11-02" and end "2019-12-02": 11 Feb 18:22 to 12 Feb 05:21
    assert local[9] == D(2019, 2, 11, 18, 22)
    assert s[9]["plugged_in_s"] == (10 * 60 + 59) * 60.0
    # "2018-01-09" read as written is outside Sep 2018 - Aug 2019: 1 September 2018
    assert local[12] == D(2018, 9, 1, 7, 20)
    assert s[12]["started_at"] == D(2018, 9, 1, 6, 20)  # BST
    assert all(D(2018, 9, 1) <= t < D(2019, 9, 1) for t in local.values())
    order = [local[r] for r in sorted(local)]
    assert order == sorted(order, reverse=True)
    assert _reasons(b)[11] == {
        "End Date": "missing end date/time (session still open at export?)",
        "Total kWh": "missing energy",
    }
    assert s[2]["site_id"] == s[3]["site_id"] == "perth_kinross:broxden-park-ride"


def test_perth_session_ids_are_stable_across_files(fixtures, tmp_path):
    """``_id`` restarts in every file: the id is a hash of the session's content."""
    src = fixtures / "session_csv" / "perth_kinross.csv"
    lines = src.read_text().splitlines()
    # another export holding some of the same sessions, renumbered
    other = [lines[0]] + [",".join([str(i)] + ln.split(",", 1)[1:]) for i, ln in enumerate(lines[4:9], start=101)]
    p = tmp_path / "other.csv"
    p.write_text("\n".join(other) + "\n")
    a = {r["energy_kwh"]: r["session_id"] for r in read_sessions(src).tables["sessions"].to_pylist()}
    b = read_sessions(p).tables["sessions"].to_pylist()
    assert len(b) == 5
    for r in b:
        assert r["session_id"] == a[r["energy_kwh"]]
        assert r["session_id"].startswith("perth_kinross:") and len(r["session_id"]) == len("perth_kinross:") + 16


def test_perth_2016_header_variant(fixtures):
    b = read_sessions(fixtures / "session_csv" / "perth_kinross_2016.csv")
    s = _by_record(b)
    assert s[2]["started_at"] == D(2017, 8, 31, 21, 12) and s[2]["plugged_in_s"] == 3540.0
    assert s[3]["started_at"] == D(2016, 9, 1, 6, 21)  # "2016/01/09 07:21:00" is 1 Sep 2016
    assert s[3]["site_id"] == "perth_kinross:leslie-street-car-park"


def test_boulder_fixture_date_combination_and_aborted_rows(fixtures):
    b = read_sessions(fixtures / "session_csv" / "boulder.csv")
    _accounted(b)
    s = _by_record(b)
    first = s[2]
    # 2018/01/31 (Transaction_Date) at 17:43 (time of Transaction_Start_Time), Denver MST
    assert first["started_at"] == D(2018, 2, 1, 0, 43)
    assert first["charging_s"] == first["plugged_in_s"] == 7680.0 and first["idle_s"] == 0.0
    assert first["ended_at"] == D(2018, 2, 1, 2, 51) == first["charging_ended_at"]
    assert first["site_id"] == "boulder:comm-vitality-1104-spruce"
    assert s[6]["charging_s"] == 2418 * 60.0  # "2,418" minutes
    assert s[7]["started_at"] == D(2018, 7, 5, 5, 30)  # 23:30 MDT
    assert s[7]["charging_s"] == pytest.approx(6430.8, abs=1e-9)  # 107.18 min
    assert s[7]["ended_at"] == D(2018, 7, 5, 7, 17, 10, 800000)
    assert s[7]["site_id"] == "boulder:boulder-rec-center"  # ST1 and ST2 are one site
    q = _reasons(b)
    assert q[3] == {"Charging_Time__minutes_": "aborted session: charging time '-' and no energy: '-'"}
    assert q[4] == {"Charging_Time__minutes_": "charging time not recorded ('-') for a session with energy: '-'"}
    assert q[5] == {"Energy__kWh_": "missing energy"}
    sites = {r["site_id"]: r for r in b.implied["sites"].to_pylist()}
    assert sites["boulder:boulder-rec-center"]["time_zone"] == "America/Denver"
    assert sites["boulder:boulder-rec-center"]["address"] == "1360 Gillaspie Dr"


def test_chargepoint_fixture_offsets_durations_and_fee(fixtures):
    b = read_sessions(fixtures / "session_csv" / "chargepoint.csv")
    _accounted(b)
    s = _by_record(b)
    first = s[2]
    assert first["session_id"] == "chargepoint:000D6F0000000001:3"
    assert first["port_id"] == "chargepoint:000D6F0000000001:2"
    assert first["site_id"] == "chargepoint:test-city-main"
    # ended_at = start + Total Duration (the stated end, 6:20 UTC, is a cross-check to the minute)
    assert first["started_at"] == D(2011, 7, 30, 3, 17) and first["ended_at"] == D(2011, 7, 30, 6, 20, 32)
    assert (first["plugged_in_s"], first["charging_s"], first["idle_s"]) == (11012.0, 6843.0, 4169.0)
    assert first["charging_ended_at"] == D(2011, 7, 30, 5, 11, 3)
    assert (first["currency"], first["total_cost_minor"]) == ("USD", 235)  # 2.345 half up
    assert (first["token_uid"], first["stop_reason"]) == ("3284", "Plug Out at Vehicle")
    # charging 20 s longer than plugged-in (within tolerance): clamped; empty currency -> USD
    assert (s[3]["plugged_in_s"], s[3]["charging_s"], s[3]["idle_s"]) == (3630.0, 3630.0, 0.0)
    assert (s[3]["currency"], s[3]["total_cost_minor"]) == ("USD", 0)
    assert s[3]["started_at"] == D(2012, 1, 15, 17, 0)  # PST
    # across the spring-forward change: 1:30 PST to 3:30 PDT is one hour
    assert s[6]["started_at"] == D(2013, 3, 10, 9, 30) and s[6]["ended_at"] == D(2013, 3, 10, 10, 30)
    q = _reasons(b)
    assert sorted(q) == [4, 5, 7]
    assert "disagrees with start '1/16/2012 9:00' and end '1/16/2012 12:00'" in q[4]["Total Duration (hh:mm:ss)"]
    assert q[5] == {"Start Time Zone": "unknown UTC offset or time-zone abbreviation 'XYZ'"}
    assert q[7] == {"Fee": "amount is not a decimal number: 'abc'"}
    sites = b.implied["sites"].to_pylist()
    assert [(x["site_id"], x["name"], x["country"]) for x in sites] == [
        ("chargepoint:test-city-main", "TEST CITY / MAIN", "USA")
    ]
    ports = {r["port_id"]: r for r in b.implied["ports"].to_pylist()}
    assert ports["chargepoint:000D6F0000000002:1"]["charger_id"] == "chargepoint:000D6F0000000002"
    assert ports["chargepoint:000D6F0000000002:1"]["power_type"] == "AC_1_PHASE"


def test_acn_fixture(fixtures):
    b = read(fixtures / "session_csv" / "acn.json")
    assert (b.format, b.mapping, b.records_read) == ("acn-json", "acn", 6)
    _accounted(b)
    s = _by_record(b)
    first = s[1]
    assert first["session_id"] == "acn:2_39_131_30_2020-12-01 13:58:55.468429"
    assert (first["site_id"], first["port_id"]) == ("acn:0002", "acn:2-39-131-30")
    assert first["started_at"] == D(2020, 12, 1, 13, 59, 6) and first["ended_at"] == D(2020, 12, 1, 19, 33, 50)
    assert first["charging_ended_at"] == D(2020, 12, 1, 15, 20, 41)
    assert (first["plugged_in_s"], first["charging_s"], first["idle_s"]) == (20084.0, 4895.0, 15189.0)
    assert first["energy_kwh"] == 7.877 and first["token_uid"] == "000008677"
    # doneChargingTime null: charging assumed to last the whole plug-in
    assert s[2]["charging_s"] == s[2]["plugged_in_s"] == 1911.0 and s[2]["charging_ended_at"] == s[2]["ended_at"]
    # doneChargingTime 30 s after plug-out: clamped to plug-out
    assert s[3]["charging_ended_at"] == s[3]["ended_at"] and s[3]["idle_s"] == 0.0
    q = _reasons(b)
    assert "more than 60 s after plug-out" in q[4]["doneChargingTime"]
    assert q[5]["connectionTime"].startswith("unparseable start date/time 'yesterday'")
    assert q[6] == {None: "record is not a JSON object"}
    (site,) = b.implied["sites"].to_pylist()
    assert (site["site_id"], site["name"], site["time_zone"]) == ("acn:0002", "testsite", "America/Los_Angeles")
    ports = {r["port_id"]: r for r in b.implied["ports"].to_pylist()}
    assert ports["acn:2-39-131-30"]["evse_id"] == "CA-305"


def test_sessions_load_into_the_warehouse(fixtures, tmp_path):
    from evrevops.warehouse.db import open_warehouse
    from evrevops.warehouse.loader import ingest_file

    src = fixtures / "session_csv" / "perth_kinross.csv"
    lines = src.read_text().splitlines()
    other = tmp_path / "other.csv"  # the same 5 sessions in another export, renumbered
    other.write_text("\n".join([lines[0]] + [f"{i}," + ln.split(",", 1)[1] for i, ln in enumerate(lines[4:9])]))
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        r = ingest_file(wh, fixtures / "session_csv" / "dundee.csv")
        assert (r.records_read, r.accepted, r.quarantined, r.mapping) == (11, 5, 6, "dundee")
        assert wh.count("sessions") == 5 and wh.count("chargers") == 3
        r = ingest_file(wh, fixtures / "session_csv" / "acn.json")
        assert (r.accepted, r.quarantined) == (3, 3)
        r = ingest_file(wh, src)
        assert (r.accepted, r.quarantined) == (10, 1)
        r = ingest_file(wh, other)
        assert (r.records_read, r.accepted, r.duplicate, r.replaced) == (5, 0, 5, 0)
        assert wh.count("sessions") == 5 + 3 + 10
        assert wh.con.execute("SELECT count(*) FROM sessions WHERE last_updated_at IS NULL").fetchall()[0][0] == 18


# ---------------------------------------------------------------------------------------------
# real exports: the in-repository samples always, the full files when present
# ---------------------------------------------------------------------------------------------

# (folder/file, mapping, rows, accepted, quarantined records, total kWh per SOURCE.md or None)
REAL = [
    ("palo_alto_2011_2013_first9999/ElectricVehicleChargingStation.csv", "chargepoint", 9999, 9965, 34, 65841.5),
    (
        "boulder_co_2018_2020/Electric_Vehicle_Charging_Station_Energy_Consumption.csv",
        "boulder",
        22580,
        20797,
        1783,
        None,
    ),
    ("dundee_2017_2018/cp-data-dec-mar-2018.csv", "dundee", 15610, 15540, 70, 132106),
    # one session of 34.9 days plugged in (2,220 kWh) is past the session-length limit
    ("dundee_2017_2018/cp-data-mar-may-2018.csv", "dundee", 16773, 16404, 369, 144138),
    ("dundee_2017_2018/charge-sessions-june-sept.csv", "dundee", 19227, 18925, 302, 184653),
    (
        "perth_kinross_2016_2019/EV_ChargeStation_Use_Sept_2016_to_Aug_2017.csv",
        "perth_kinross",
        13676,
        13619,
        57,
        139121,
    ),
    ("perth_kinross_2016_2019/EVChargeStationUseSept2017toAug2018.csv", "perth_kinross", 20277, 20233, 44, 221809),
    ("perth_kinross_2016_2019/EVChargeStationUseSept2018toAug2019.csv", "perth_kinross", 32711, 32593, 118, 354269),
    ("acn_caltech_2020_2021/acndata_sessions_caltech_2020-12_2021-09.json", "acn", 3235, 3235, 0, 39926.5),
    ("acn_office001_2019_2021/acndata_sessions_office001.json", "acn", 1683, 1683, 0, 29072.2),
]
# the samples: records and kWh as counted by tests/data/make_samples.py (accepted/quarantined not stated)
_MAPPINGS = {"dundee_2017_2018": "dundee", "perth_kinross_2016_2019": "perth_kinross"}
SAMPLE = [
    (rel, _MAPPINGS[rel.split("/")[0]], s["records"], None, None, s["kwh"])
    for rel, s in json.loads((real_data.SAMPLES / "samples.json").read_text()).items()
]
EXPORTS = [("sample", *r) for r in SAMPLE] + [("full", *r) for r in REAL]
KINDS = {"sample": SAMPLE, "full": REAL}


EXPORT_IDS = [f"{e[0]}-{e[1].split('/')[-1][:40]}" for e in EXPORTS]


@pytest.fixture(scope="module")
def real_batch():
    """``get(kind, rel) -> (path, batch, seconds)``: *rel* read once per module, from the sample or the full data."""
    cache: dict[tuple[str, str], tuple] = {}

    def get(kind: str, rel: str):
        path = real_data.sample(rel) if kind == "sample" else real_data.full(rel)
        if (kind, rel) not in cache:
            t0 = time.perf_counter()
            batch = read(path)
            cache[(kind, rel)] = (path, batch, time.perf_counter() - t0)
        return cache[(kind, rel)]

    return get


@pytest.mark.parametrize(("kind", "rel", "mapping"), [e[:3] for e in EXPORTS], ids=EXPORT_IDS)
def test_detect_recognises_real_exports(kind, rel, mapping):
    fmt, m = detect(real_data.sample(rel) if kind == "sample" else real_data.full(rel))
    if mapping == "acn":
        assert (fmt, m) == ("acn-json", None)
    else:
        assert (fmt, m) == ("session-csv", mapping)


@pytest.mark.parametrize(("kind", "rel", "mapping", "rows", "accepted", "quarantined", "kwh"), EXPORTS, ids=EXPORT_IDS)
def test_real_export_every_row_accounted(real_batch, kind, rel, mapping, rows, accepted, quarantined, kwh):
    path, b, seconds = real_batch(kind, rel)
    assert b.mapping == mapping
    assert b.records_read == rows  # SOURCE.md row counts
    _accounted(b)
    s = b.tables["sessions"]
    if accepted is not None:
        assert s.num_rows == accepted
        assert len(set(b.quarantine.column("source_record").to_pylist())) == quarantined
    ids = s.column("session_id").to_pylist()
    assert len(set(ids)) == len(ids) and all(i.startswith(mapping + ":") for i in ids)
    assert set(s.column("source").to_pylist()) == {mapping}
    assert seconds < 3.0, f"{rel} took {seconds:.2f} s"  # ~0.1-0.6 s here; generous for parallel CI
    for r in s.to_pylist():
        assert r["ended_at"] >= r["started_at"]
        assert r["energy_kwh"] >= 0
        assert 0 <= r["charging_s"] <= r["plugged_in_s"]
        assert r["idle_s"] == pytest.approx(r["plugged_in_s"] - r["charging_s"])
        assert r["started_at"] <= r["charging_ended_at"] <= r["ended_at"]
    sites = set(b.implied["sites"].column("site_id").to_pylist())
    ports = b.implied["ports"].to_pylist()
    assert set(s.column("site_id").to_pylist()) <= sites
    assert set(s.column("port_id").to_pylist()) == {p["port_id"] for p in ports}
    assert all(p["site_id"] in sites for p in ports)
    if kwh is not None:
        # kWh in sessions + kWh of quarantined rows (looked up by line number) = SOURCE.md total
        total = sum(s.column("energy_kwh").to_pylist()) + _quarantined_kwh(path, b)
        assert total == pytest.approx(kwh, abs=1.0)


def _quarantined_kwh(path: Path, batch) -> float:
    recs = set(batch.quarantine.column("source_record").to_pylist())
    if path.suffix == ".json":
        items = json.loads(path.read_text())["_items"]
        return sum(float(items[r - 1].get("kWhDelivered") or 0) for r in recs)
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) - 1 == batch.records_read  # one line per record: line N = rows[N - 1]
    col = next(i for i, h in enumerate(rows[0]) if normalise(h) in ("total_kwh", "energy_kwh"))
    total = 0.0
    for r in recs:
        with contextlib.suppress(ValueError):
            total += float(rows[r - 1][col])
    return total


@pytest.mark.parametrize("kind", KINDS)
def test_real_quarantine_raw_is_the_line(real_batch, kind):
    """Quarantined records carry their line number (header = 1) and their line's text."""
    for rel, mapping, *_ in KINDS[kind]:
        if mapping == "acn":
            continue
        path, b, _ = real_batch(kind, rel)
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        for r in b.quarantine.to_pylist():
            assert r["raw"] == lines[r["source_record"] - 1], (rel, r)


@pytest.mark.parametrize("kind", KINDS)
def test_real_perth_swap_repaired(real_batch, kind):
    """All Perth & Kinross dates fall in the file's Sep -> Aug window, newest first by ``_id``."""
    for rel, mapping, *_ in KINDS[kind]:
        if mapping != "perth_kinross":
            continue
        path, b, _ = real_batch(kind, rel)
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
        year = int(rel.split("Sept")[1].replace("_", "")[:4])
        lo, hi = D(year, 9, 1), D(year + 1, 9, 1)
        recs = b.tables["sessions"].to_pylist()
        local = []
        swapped = 0
        for r in recs:
            row = rows[r["source_record"] - 1]
            assert int(row[0]) == r["source_record"] - 1  # _id = line - 1: file order kept
            t = r["started_at"].replace(tzinfo=dt.UTC).astimezone(LONDON).replace(tzinfo=None)
            assert lo <= t < hi
            # the documented defect: a written day <= 12 is really the month
            y, m, d = (int(x) for x in row[3][:10].replace("/", "-").split("-"))
            if d <= 12:
                m, d = d, m
                swapped += m != d
            assert (t.year, t.month, t.day) == (y, m, d)
            local.append(t)
        assert local == sorted(local, reverse=True)
        assert 0.3 < swapped / len(recs) < 0.4  # "~38% of rows affected"


def test_real_boulder_date_and_quarantine_breakdown(real_batch):
    _, b, _ = real_batch("full", REAL[1][0])
    s = _by_record(b)
    # line 2: Transaction_Date 2018/01/31, Transaction_Start_Time 2021/01/21 17:43 -> 2018-01-31 17:43 MST
    assert s[2]["started_at"] == D(2018, 2, 1, 0, 43)
    reasons = [r["reason"].split(":")[0] for r in b.quarantine.to_pylist()]
    assert reasons.count("aborted session") == 1656
    assert reasons.count("charging time not recorded ('-') for a session with energy") == 87
    assert reasons.count("missing energy") == 40
    first, last = min(s[r]["started_at"] for r in s), max(s[r]["started_at"] for r in s)
    assert first >= D(2018, 1, 1, 7) and last < D(2021, 1, 1, 7)  # 2018-01-01 .. 2020-12-31 Denver


def test_real_dundee_defects(real_batch):
    reasons: dict[str, int] = {}
    for rel, mapping, *_ in REAL:
        if mapping != "dundee":
            continue
        _, b, _ = real_batch("full", rel)
        for r in b.quarantine.to_pylist():
            key = r["reason"].split(":")[0].split(" '")[0]
            reasons[key] = reasons.get(key, 0) + 1
    assert reasons["missing end date/time (session still open at export?)"] == 61 + 114 + 72  # SOURCE.md
    assert reasons["session at the operator's test site (charger not yet assigned to a real site)"] == 242 + 222
    assert reasons["negative energy"] == 7 + 12 + 8


def test_real_acn_charging_end(real_batch):
    _, b, _ = real_batch("full", REAL[-2][0])
    s = b.tables["sessions"].to_pylist()
    assert sum(1 for r in s if r["charging_ended_at"] == r["ended_at"]) == 1246 + 33  # null + clamped
    assert {r["site_id"] for r in s} == {"acn:0002"}
    assert b.implied["sites"].to_pylist()[0]["name"] == "caltech"
    assert len(b.implied["ports"]) == 45
