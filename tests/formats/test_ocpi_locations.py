"""OCPI 2.2.1 Locations reader: the spec's example, rated power, hours, status events, quarantine, and the loader."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from decimal import Decimal

import pytest

from evrevops.core.states import FAULT, NO_DATA, STATUS_STATE, UP
from evrevops.formats import detect, read
from evrevops.formats.base import FormatError
from evrevops.formats.json_records import canonical_json, read_json_records
from evrevops.formats.json_values import parse_instant
from evrevops.formats.ocpi_locations import STATUSES, read_locations
from evrevops.warehouse import port_sites
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file


def location(**overrides) -> dict:
    """One valid Location; override fields by keyword (``None`` removes a field)."""
    base = {
        "country_code": "US",
        "party_id": "EVR",
        "id": "L1",
        "publish": True,
        "address": "1 Main St",
        "city": "Denver",
        "country": "USA",
        "coordinates": {"latitude": "39.700000", "longitude": "-104.900000"},
        "time_zone": "America/Denver",
        "evses": [
            {
                "uid": "L1-P1",
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T1",
                        "format": "CABLE",
                        "power_type": "AC_1_PHASE",
                        "max_voltage": 240,
                        "max_amperage": 32,
                        "last_updated": "2025-01-01T00:00:00Z",
                    }
                ],
                "last_updated": "2025-01-01T00:00:00Z",
            }
        ],
        "last_updated": "2025-01-01T00:00:00Z",
    }
    for k, v in overrides.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return base


def connector(power_type: str, **kw) -> dict:
    return {"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": power_type, **kw}


def evse(uid: str, *connectors: dict, **kw) -> dict:
    return {"uid": uid, "status": "AVAILABLE", "connectors": list(connectors), **kw}


def qmap(batch) -> dict[tuple[int, str | None], str]:
    return {(r["source_record"], r["field"]): r["reason"] for r in batch.quarantine.to_pylist()}


# ---- the specification's example --------------------------------------------------------------


def test_spec_example_location(fixtures):
    p = fixtures / "ocpi" / "location_example.json"
    assert detect(p) == ("ocpi-locations", None)
    b = read(p)
    assert b.format == "ocpi-locations" and b.records_read == 1 and b.quarantine.num_rows == 0
    assert set(b.tables) == {"sites", "ports", "port_placements", "status_events"}  # no charger object in OCPI 2.2.1
    (site,) = b.tables["sites"].to_pylist()
    assert site == {
        "site_id": "LOC1",
        "name": "Gent Zuid",
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "postal_code": "9000",
        "country": "BEL",
        "latitude": 51.047599,
        "longitude": 3.729944,
        "time_zone": "Europe/Brussels",
        "operator_party": "BE*BEC",
        "last_updated_at": dt.datetime(2015, 6, 29, 20, 39, 9),
        "source_record": 1,
    }
    ports = b.tables["ports"].to_pylist()
    assert [p["port_id"] for p in ports] == ["3256", "3257"]
    assert [p["evse_id"] for p in ports] == ["BE*BEC*E041503001", "BE*BEC*E041503002"]
    # AC_3_PHASE: 220 V (line to neutral) × 16 A × 3 phases = 10.56 kW
    assert [p["rated_kw"] for p in ports] == [10.56, 10.56]
    assert {(p["power_type"], p["connector_standard"], p["site_id"]) for p in ports} == {
        ("AC_3_PHASE", "IEC_62196_T2", "LOC1")
    }
    events = b.tables["status_events"].to_pylist()
    assert [(e["port_id"], e["status"], e["observed_at"]) for e in events] == [
        ("3256", "AVAILABLE", dt.datetime(2015, 6, 28, 8, 12, 1)),
        ("3257", "RESERVED", dt.datetime(2015, 6, 29, 20, 39, 9)),
    ]


def test_only_columns_ocpi_carries(fixtures):
    b = read_locations(fixtures / "ocpi" / "location_example.json")
    sites, ports = b.tables["sites"].column_names, b.tables["ports"].column_names
    for col in ("segment", "customer_id", "revenue_model", "utility_tariff_id", "grid_capacity_kw"):
        assert col not in sites
    for col in ("charger_id", "connector_id", "commissioned_on", "decommissioned_on"):
        assert col not in ports
    # no Location of this file states opening hours or a state: those columns are left out too
    assert "operating_hours" not in sites and "state" not in sites


# ---- an OCPI response page ----------------------------------------------------------------------


def test_response_page(fixtures):
    p = fixtures / "ocpi" / "locations_page.json"
    assert detect(p) == ("ocpi-locations", None)
    b = read(p)
    assert b.records_read == 4
    sites = {s["site_id"]: s for s in b.tables["sites"].to_pylist()}
    assert set(sites) == {"DEN-1", "NYC-7"}
    assert sites["DEN-1"]["operating_hours"] == "Mo-Fr 06:00-22:00; Sa 22:00-24:00; Su 00:00-02:00"
    assert sites["NYC-7"]["operating_hours"] == "24/7"
    assert sites["DEN-1"]["state"] == "CO" and sites["NYC-7"]["state"] is None
    assert sites["NYC-7"]["last_updated_at"] == dt.datetime(2025, 1, 5, 12, 0)  # no designator: UTC
    ports = {p["port_id"]: p for p in b.tables["ports"].to_pylist()}
    assert set(ports) == {"DEN-1-P1", "DEN-1-P2", "NYC-7-P1"}
    # DC: max_electric_power (150 kW) caps 920 V × 400 A; the CHAdeMO connector is 500 V × 125 A = 62.5 kW
    assert ports["DEN-1-P1"]["rated_kw"] == 150.0 and ports["DEN-1-P1"]["connector_standard"] == "IEC_62196_T1_COMBO"
    # a REMOVED EVSE is kept; AC_1_PHASE 240 V × 30 A = 7.2 kW
    assert ports["DEN-1-P2"]["rated_kw"] == 7.2 and ports["DEN-1-P2"]["power_type"] == "AC_1_PHASE"
    assert ports["NYC-7-P1"]["rated_kw"] == 22.08 and ports["NYC-7-P1"]["evse_id"] is None  # 230 × 32 × 3
    assert {p["source_record"] for p in ports.values()} == {1, 2}
    q = qmap(b)
    assert q == {
        (3, "coordinates.latitude"): "not a latitude in decimal degrees: '139.7'",
        (3, "time_zone"): "not an IANA time zone: 'Mountain Time'",
        (3, "opening_times.regular_hours[0].weekday"): "not a weekday 1 (Monday) to 7 (Sunday): 8",
        (3, "evses[0].connectors[0].power_type"): "power_type must be one of AC_1_PHASE|AC_3_PHASE|DC, got 'AC'",
        (3, "evses[0].connectors[1].max_voltage"): "missing max_voltage (and no max_electric_power)",
        (3, "evses[0].connectors[1].max_amperage"): "missing max_amperage (and no max_electric_power)",
        (3, "evses[1].uid"): "missing EVSE uid",
        (3, "last_updated"): "not an ISO-8601 date-time: 'yesterday'",
        (4, "address"): "missing address (required by OCPI 2.2.1)",
        (4, "time_zone"): "missing time_zone (required by OCPI 2.2.1)",
        (4, "evses[0].connectors"): "an EVSE needs at least one connector",
    }
    assert all(r["raw"] and json.loads(r["raw"])["id"] in ("BAD-1", "BAD-2") for r in b.quarantine.to_pylist())


@pytest.mark.parametrize("container", ["array", "ndjson", "object", "page-object", "gz"])
def test_containers(tmp_path, container):
    locs = [location(id=f"L{i}", evses=[evse(f"L{i}-P1", connector("DC", max_electric_power=50000))]) for i in range(3)]
    if container == "ndjson":
        p = tmp_path / "locs.ndjson"
        p.write_text("\n".join(json.dumps(x) for x in locs) + "\n")
    elif container == "object":
        p, locs = tmp_path / "loc.json", locs[:1]
        p.write_text(json.dumps(locs[0], indent=2))
    elif container == "page-object":
        p, locs = tmp_path / "loc.json", locs[:1]
        p.write_text(json.dumps({"data": locs[0], "status_code": 1000}))
    elif container == "gz":
        p = tmp_path / "locs.json.gz"
        p.write_bytes(gzip.compress(json.dumps(locs).encode()))
    else:
        p = tmp_path / "locs.json"
        p.write_text(json.dumps(locs))
    b = read(p) if container != "gz" else read(p, "ocpi-locations")
    if container != "gz":
        assert detect(p) == ("ocpi-locations", None)
    assert b.records_read == len(locs)
    assert b.tables["sites"].column("site_id").to_pylist() == [x["id"] for x in locs]
    assert b.tables["ports"].column("rated_kw").to_pylist() == [50.0] * len(locs)
    assert b.tables["sites"].column("source_record").to_pylist() == list(range(1, len(locs) + 1))


@pytest.mark.parametrize(
    ("conns", "kw"),
    [
        ([connector("DC", max_voltage=920, max_amperage=400)], 368.0),  # DC: V × A
        ([connector("DC", max_voltage=920, max_amperage=400, max_electric_power=350000)], 350.0),
        ([connector("AC_3_PHASE", max_voltage=230, max_amperage=16)], 11.04),
        ([connector("AC_1_PHASE", voltage=230, amperage=32)], 7.36),  # pre-2.2 field names
        ([connector("AC_1_PHASE", max_voltage=230, max_amperage=16), connector("DC", max_electric_power=24000)], 24.0),
        ([connector("AC_1_PHASE", max_voltage=0, max_amperage=0)], None),
    ],
)
def test_rated_kw(tmp_path, conns, kw):
    p = tmp_path / "l.json"
    p.write_text(json.dumps([location(evses=[evse("E", *conns)]), location(id="L2", evses=[evse("E2", *conns)])]))
    b = read_locations(p)
    assert b.quarantine.num_rows == 0
    ports = b.tables["ports"]
    if kw is None:
        assert "rated_kw" not in ports.column_names  # stated by no EVSE: not written
    else:
        assert ports.column("rated_kw").to_pylist() == [kw, kw]
    assert ports.column("power_type").to_pylist() == [conns[0]["power_type"]] * 2


def test_evse_uid_in_two_locations_keeps_both_and_reports_the_conflict(tmp_path):
    """One EVSE under two Locations: neither Location is lost (their other EVSEs, their time zones);
    both placements are kept, the port row is the latest one's, and the conflict is reported."""
    p = tmp_path / "l.ndjson"
    recs = [
        location(
            id="A", evses=[evse("X", connector("DC", max_electric_power=50000), last_updated="2025-03-01T10:00:00Z")]
        ),
        location(id="B", evses=[evse("Y", connector("DC", max_electric_power=50000))]),
        location(
            id="C",
            time_zone="America/Chicago",
            evses=[
                evse("Z", connector("DC", max_electric_power=1000)),
                evse("X", connector("DC", max_electric_power=1000), last_updated="2025-03-01T09:00:00Z"),
            ],
        ),
    ]
    p.write_text("\n".join(json.dumps(r) for r in recs))
    b = read_locations(p)
    assert b.quarantine.num_rows == 0
    assert b.tables["sites"].column("site_id").to_pylist() == ["A", "B", "C"]
    ports = {r["port_id"]: r for r in b.tables["ports"].to_pylist()}
    assert sorted(ports) == ["X", "Y", "Z"]
    assert ports["X"]["site_id"] == "A" and ports["X"]["rated_kw"] == 50.0  # A placed it later that day
    placed = sorted(
        (r["port_id"], r["site_id"], str(r["observed_on"])) for r in b.tables["port_placements"].to_pylist()
    )
    assert ("X", "A", "2025-03-01") in placed and ("X", "C", "2025-03-01") in placed
    wh = open_warehouse(tmp_path / "w.duckdb")
    r = ingest_file(wh, p)
    assert (r.records_read, r.accepted, r.quarantined) == (3, 3, 0)
    assert wh.con.sql("SELECT time_zone FROM sites WHERE site_id = 'C'").fetchall() == [("America/Chicago",)]
    conflicts = wh.con.sql(
        f"SELECT port_id, site_id, other_site_id, evidence FROM ({port_sites.conflicts_sql()})"
    ).fetchall()
    assert conflicts == [("X", "A", "C", "ocpi-locations")]
    wh.close()


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"id": None}, "id", "missing Location id"),
        ({"id": 7}, "id", "not a text id: 7"),
        ({"coordinates": None}, "coordinates", "missing coordinates (required by OCPI 2.2.1)"),
        (
            {"coordinates": {"latitude": "39.7", "longitude": "east"}},
            "coordinates.longitude",
            "not a longitude in decimal degrees: 'east'",
        ),
        ({"time_zone": "EST5EDT-ish"}, "time_zone", "not an IANA time zone: 'EST5EDT-ish'"),
        ({"last_updated": None}, "last_updated", "missing last_updated"),
        ({"evses": {"uid": "x"}}, "evses", "not a list"),
        (
            {
                "evses": [
                    evse("E", connector("DC", max_electric_power=1)),
                    evse("E", connector("DC", max_electric_power=1)),
                ]
            },
            "evses[1].uid",
            "EVSE uid 'E' repeated (also evses[0])",
        ),
        (
            {"evses": [evse("E", connector("DC", max_electric_power="50 kW"))]},
            "evses[0].connectors[0].max_electric_power",
            "not a power in W >= 0: '50 kW'",
        ),
        (
            {"evses": [evse("E", {"id": "1", "power_type": "DC", "max_electric_power": 1000})]},
            "evses[0].connectors[0].standard",
            "missing connector standard: null",
        ),
        (
            {"opening_times": {"regular_hours": [{"weekday": 1, "period_begin": "8:00", "period_end": "18:00"}]}},
            "opening_times.regular_hours[0].period_begin",
            "not a time HH:MM: '8:00'",
        ),
    ],
)
def test_quarantine_reasons(tmp_path, overrides, field, reason):
    p = tmp_path / "l.json"
    p.write_text(json.dumps([location(id="OK"), location(**overrides)]))
    b = read_locations(p)
    assert b.records_read == 2
    assert (2, field) in qmap(b), qmap(b)
    assert qmap(b)[(2, field)] == reason
    assert b.tables["sites"].column("site_id").to_pylist() == ["OK"]
    assert set(b.tables["ports"].column("source_record").to_pylist()) == {1}


def test_malformed_lines_and_non_objects(tmp_path):
    p = tmp_path / "l.ndjson"
    p.write_text(json.dumps(location()) + "\n\n{oops\n[1, 2]\n")
    b = read_locations(p)
    assert b.records_read == 3  # the blank line is not a record
    assert qmap(b) == {(3, None): "malformed JSON", (4, None): "record is not a JSON object"}


def test_unreadable_file(tmp_path):
    p = tmp_path / "l.json"
    p.write_text('[{"id": "L1",')
    with pytest.raises(FormatError, match="not valid JSON"):
        read_locations(p)


# ---- EVSE status → status_events ------------------------------------------------------------


def events_of(batch) -> dict[str, dict]:
    return {e["port_id"]: e for e in batch.tables["status_events"].to_pylist()}


def test_status_events_of_a_feed(fixtures):
    b = read_locations(fixtures / "ocpi" / "locations_status.json")
    assert b.records_read == 2 and b.quarantine.num_rows == 0
    tbl = b.tables["status_events"]
    assert tbl.column_names == [
        "charger_id", "port_id", "connector_id", "observed_at", "status", "error_code", "protocol", "source_record"
    ]  # fmt: skip
    assert str(tbl.schema.field("connector_id").type) == "int32"
    assert str(tbl.schema.field("observed_at").type) == "timestamp[us]"
    ev = events_of(b)
    t = dt.datetime
    assert {uid: (e["status"], e["observed_at"], e["source_record"]) for uid, e in ev.items()} == {
        "ST-1-P1": ("AVAILABLE", t(2025, 3, 1, 9, 0), 1),  # its status_schedule (INOPERATIVE later) is not an event
        "ST-1-P2": ("OUTOFORDER", t(2025, 3, 1, 10, 15), 1),  # 03:15-07:00 in UTC
        "ST-1-P5": ("CHARGING", t(2025, 3, 1, 8, 30), 1),
        "ST-2-P1": ("UNKNOWN", t(2025, 3, 1, 11, 30), 2),  # no EVSE last_updated: the Location's
        "ST-2-P2": ("BLOCKED", t(2025, 3, 1, 7, 0), 2),
        "ST-2-P3": ("INOPERATIVE", t(2025, 3, 1, 6, 0), 2),
        "ST-2-P4": ("RESERVED", t(2025, 3, 1, 5, 0), 2),
    }
    # PLANNED (ST-1-P3) and REMOVED (ST-1-P4) are lifecycle states, not observations: ports, no events
    ports = b.tables["ports"].column("port_id").to_pylist()
    assert {"ST-1-P3", "ST-1-P4"} <= set(ports) and not {"ST-1-P3", "ST-1-P4"} & set(ev)
    # every event is on the EVSE's port row, with the ids the port row has (OCPI names no charger)
    assert set(ev) <= set(ports)
    assert all(e["charger_id"] == e["port_id"] for e in ev.values())
    assert {(e["connector_id"], e["error_code"], e["protocol"]) for e in ev.values()} == {(None, None, "ocpi2.2.1")}
    # the uptime vocabulary knows every status the reader stores
    assert {uid: STATUS_STATE[e["status"]] for uid, e in ev.items() if uid.startswith("ST-2")} == {
        "ST-2-P1": NO_DATA, "ST-2-P2": UP, "ST-2-P3": FAULT, "ST-2-P4": UP,
    }  # fmt: skip


def test_a_multi_connector_evse_is_one_port_and_one_event(fixtures):
    """An EVSE's connectors cannot be used at once (OCPI): it is one port, and its status one event."""
    b = read_locations(fixtures / "ocpi" / "locations_status.json")
    assert b.tables["ports"].column("port_id").to_pylist().count("ST-1-P5") == 1
    assert [e["port_id"] for e in b.tables["status_events"].to_pylist()].count("ST-1-P5") == 1
    assert events_of(b)["ST-1-P5"]["connector_id"] is None


def test_every_ocpi_status_is_in_the_uptime_vocabulary():
    assert set(STATUSES) - {"PLANNED", "REMOVED"} <= set(STATUS_STATE)


def test_a_file_without_observed_statuses_has_an_empty_status_events_table(tmp_path):
    p = tmp_path / "l.json"
    p.write_text(json.dumps([location(evses=[evse("E", connector("DC", max_electric_power=1000), status="PLANNED")])]))
    b = read_locations(p)
    assert b.tables["status_events"].num_rows == 0 and b.tables["ports"].num_rows == 1
    wh = open_warehouse(tmp_path / "w.duckdb")
    r = ingest_file(wh, p)
    assert (r.records_read, r.accepted, r.quarantined) == (1, 1, 0)
    assert wh.con.sql("SELECT count(*) FROM status_events").fetchall() == [(0,)]
    wh.close()


def _ledger(wh) -> list[tuple]:
    return wh.con.sql(
        "SELECT records_read, accepted, duplicate, quarantined, replaced FROM ingest_ledger ORDER BY file_id"
    ).fetchall()


def _stored_events(wh) -> list[tuple]:
    return wh.con.sql("SELECT port_id, observed_at, status FROM status_events ORDER BY port_id, observed_at").fetchall()


def test_a_repulled_feed_adds_one_event_per_changed_evse(tmp_path, fixtures):
    """Pulled again, the unchanged EVSEs are duplicates by key; the one whose status changed is one new event."""
    src = fixtures / "ocpi" / "locations_status.json"
    first = tmp_path / "pull-1.json"
    first.write_bytes(src.read_bytes())
    locs = json.loads(src.read_text())
    # the same feed, re-serialised (another checksum, the same content): nothing new
    same = tmp_path / "pull-2.json"
    same.write_text(json.dumps(locs, indent=1))
    # then ST-1-P1 starts charging; OCPI moves its EVSE's and Location's last_updated
    locs[0]["evses"][0].update(status="CHARGING", last_updated="2025-03-01T12:00:00Z")
    locs[0]["evses"][0]["connectors"][0]["last_updated"] = "2025-03-01T12:00:00Z"
    locs[0]["last_updated"] = "2025-03-01T12:00:00Z"
    changed = tmp_path / "pull-3.json"
    changed.write_text(json.dumps(locs))
    wh = open_warehouse(tmp_path / "w.duckdb")
    r1 = ingest_file(wh, first)
    before = _stored_events(wh)
    assert len(before) == 7
    r2 = ingest_file(wh, same)
    assert _stored_events(wh) == before
    r3 = ingest_file(wh, changed)
    after = _stored_events(wh)
    assert set(after) - set(before) == {("ST-1-P1", dt.datetime(2025, 3, 1, 12, 0), "CHARGING")}
    assert len(after) == len(before) + 1 and set(before) <= set(after)
    r4 = ingest_file(wh, changed)  # the same file again: unchanged
    assert r4.status == "unchanged" and _stored_events(wh) == after
    assert (r1.accepted, r1.duplicate, r2.accepted, r2.duplicate) == (2, 0, 0, 2)
    # ST-1 changed (site replaced, one new event), ST-2 is a duplicate
    assert (r3.accepted, r3.duplicate, r3.quarantined, r3.replaced) == (1, 1, 0, 1)
    assert all(read == acc + dup + q for read, acc, dup, q, _ in _ledger(wh))
    # every event joins its port
    assert wh.con.sql(
        "SELECT count(*) FROM status_events e LEFT JOIN ports p USING (port_id) WHERE p.port_id IS NULL"
    ).fetchall() == [(0,)]
    wh.close()


def test_an_evse_without_last_updated_is_observed_at_each_new_location_update(tmp_path, fixtures):
    """Its status is as of the Location's last_updated: a Location updated elsewhere restates it, a new event."""
    locs = json.loads((fixtures / "ocpi" / "locations_status.json").read_text())
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(locs))
    locs[1]["evses"][1].update(status="AVAILABLE", last_updated="2025-03-01T13:00:00Z")
    locs[1]["last_updated"] = "2025-03-01T13:00:00Z"
    b.write_text(json.dumps(locs))
    wh = open_warehouse(tmp_path / "w.duckdb")
    ingest_file(wh, a)
    before = set(_stored_events(wh))
    ingest_file(wh, b)
    assert set(_stored_events(wh)) - before == {
        ("ST-2-P1", dt.datetime(2025, 3, 1, 13, 0), "UNKNOWN"),
        ("ST-2-P2", dt.datetime(2025, 3, 1, 13, 0), "AVAILABLE"),
    }
    wh.close()


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("available", "got 'available'"),  # the enum is upper case; a lower-case value is not in it
        ("OFFLINE", "got 'OFFLINE'"),
        (3, "got 3"),
        (None, None),
    ],
)
def test_a_status_outside_the_enum_quarantines_its_location(tmp_path, status, reason):
    bad = evse("E2", connector("DC", max_electric_power=1000))
    if status is None:
        bad.pop("status")
    else:
        bad["status"] = status
    recs = [location(id="OK"), location(id="BAD", evses=[evse("E1", connector("DC", max_electric_power=1000)), bad])]
    p = tmp_path / "l.json"
    p.write_text(json.dumps(recs))
    b = read_locations(p)
    expected = (
        "missing status (required by OCPI 2.2.1)"
        if status is None
        else "status must be one of AVAILABLE|BLOCKED|CHARGING|INOPERATIVE|OUTOFORDER|PLANNED|REMOVED|RESERVED|"
        f"UNKNOWN, {reason}"
    )
    assert qmap(b) == {(2, "evses[1].status"): expected}
    # the whole Location is quarantined: no site, port or event of it
    for name in ("sites", "ports", "port_placements", "status_events"):
        assert set(b.tables[name].column("source_record").to_pylist()) == {1}, name
    wh = open_warehouse(tmp_path / "w.duckdb")
    r = ingest_file(wh, p)
    assert (r.records_read, r.accepted, r.duplicate, r.quarantined) == (2, 1, 0, 1)
    assert wh.con.sql("SELECT field FROM quarantine").fetchall() == [("evses[1].status",)]
    assert wh.con.sql("SELECT port_id FROM status_events").fetchall() == [("L1-P1",)]
    wh.close()


def test_an_unreadable_evse_last_updated_is_quarantined(tmp_path):
    p = tmp_path / "l.json"
    p.write_text(
        json.dumps([location(evses=[evse("E", connector("DC", max_electric_power=1000), last_updated="today")])])
    )
    b = read_locations(p)
    assert qmap(b) == {(1, "evses[0].last_updated"): "not an ISO-8601 date-time: 'today'"}
    assert b.tables["status_events"].num_rows == 0


def test_demo_locations_ingest_with_their_status_events(tmp_path, demo_networks):
    """The demo's Locations: every record accepted, one AVAILABLE event per live port at the export, none for REMOVED."""
    out = demo_networks.files(ports=30, months=3, seed=2)
    locs = json.loads((out / "locations.json").read_text())
    statuses = [(e["uid"], e["status"]) for loc in locs for e in loc["evses"]]
    live = {uid for uid, s in statuses if s not in ("PLANNED", "REMOVED")}
    assert live and len(live) < len(statuses)  # the demo has REMOVED ports
    wh = open_warehouse(tmp_path / "w.duckdb")
    ingest_file(wh, out / "sites.csv")
    r = ingest_file(wh, out / "locations.json")
    assert (r.records_read, r.accepted, r.duplicate, r.quarantined) == (len(locs), len(locs), 0, 0)
    rows = wh.con.sql(
        "SELECT e.port_id, e.status, e.observed_at, p.port_id IS NOT NULL FROM status_events e"
        " LEFT JOIN ports p USING (port_id)"
    ).fetchall()
    export = parse_instant(locs[0]["last_updated"])
    assert {r[0] for r in rows} == live and len(rows) == len(live)
    assert {(s, at, joined) for _, s, at, joined in rows} == {("AVAILABLE", export, True)}
    wh.close()


# ---- shared JSON helpers -------------------------------------------------------------------


def test_numbers_stay_exact_and_canonical_json_sorts_keys(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"items": [{"b": 0.50, "a": [1e2, 10, "x"], "c": {"z": null, "y": true}}]}')
    n, recs, bad = read_json_records(p, ("items",))
    assert n == 1 and not bad
    assert recs[0][1]["b"] == Decimal("0.50")
    assert canonical_json(recs[0][1]) == '{"a":[1E+2,10,"x"],"b":0.50,"c":{"y":true,"z":null}}'
    assert json.loads(canonical_json(recs[0][1])) == {"a": [100.0, 10, "x"], "b": 0.5, "c": {"y": True, "z": None}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-06-29T20:39:09Z", dt.datetime(2015, 6, 29, 20, 39, 9)),
        ("2015-06-29T20:39:09", dt.datetime(2015, 6, 29, 20, 39, 9)),
        ("2016-12-29T17:45:09.2Z", dt.datetime(2016, 12, 29, 17, 45, 9, 200000)),
        ("2018-01-01T01:08:01.123", dt.datetime(2018, 1, 1, 1, 8, 1, 123000)),
        ("2025-03-09T02:30:00-05:00", dt.datetime(2025, 3, 9, 7, 30)),
    ],
)
def test_parse_instant(text, expected):
    assert parse_instant(text) == expected


@pytest.mark.parametrize("bad", ["yesterday", "2015-06-29", 1435610349, None, "2015-13-29T20:39:09Z"])
def test_parse_instant_refuses(bad):
    with pytest.raises(ValueError):
        parse_instant(bad)


# ---- with the loader: Locations update what they carry, and keep what the sites CSV adds ------


def test_locations_do_not_wipe_sites_csv_columns(tmp_path, fixtures):
    csv_path = tmp_path / "sites.csv"
    csv_path.write_text(
        "site_id,site_name,segment,revenue_model,time_zone,utility_tariff_id,grid_capacity_kw,charger_id,port_id,"
        "connector_id,rated_kw,commissioned_on\n"
        "LOC1,Old name,public_dc,caas,Europe/Brussels,T-1,400,CP1,3256,1,22,2024-01-01\n"
    )
    loc_path = tmp_path / "location.json"
    loc_path.write_bytes((fixtures / "ocpi" / "location_example.json").read_bytes())
    wh = open_warehouse(tmp_path / "w.duckdb")
    r1 = ingest_file(wh, csv_path)
    r2 = ingest_file(wh, loc_path)
    assert (r1.accepted, r2.accepted, r2.quarantined) == (1, 1, 0)
    site = wh.con.execute(
        "SELECT name, segment, revenue_model, utility_tariff_id, grid_capacity_kw, address, latitude, operator_party"
        " FROM sites WHERE site_id = 'LOC1'"
    ).fetchall()[0]
    assert site == ("Gent Zuid", "public_dc", "caas", "T-1", 400.0, "F.Rooseveltlaan 3A", 51.047599, "BE*BEC")
    ports = wh.con.execute(
        "SELECT port_id, charger_id, connector_id, commissioned_on, rated_kw, evse_id FROM ports ORDER BY port_id"
    ).fetchall()
    assert ports == [
        ("3256", "CP1", 1, dt.date(2024, 1, 1), 10.56, "BE*BEC*E041503001"),
        ("3257", None, None, None, 10.56, "BE*BEC*E041503002"),
    ]
    wh.close()
