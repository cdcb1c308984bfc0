"""Where a port was, when (evrevops.warehouse.port_sites), and what the metrics make of it.

Hand-computed: a charger moves from site A to site B on 16 March 2025 (America/Denver, which
springs forward on 9 March: that local day has 23 hours). Its sessions count where their CDRs
say; its open hours count at A on 1–15 March and at B on 16–31 March (both ports commissioned
on 1 January: a port without a commissioning date is in service only from its first session).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.metrics.compute import compute
from evrevops.refresh import refresh_kept
from evrevops.warehouse import port_sites
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from tests.helpers.cdrs import cdr

MARCH = (dt.date(2025, 3, 1), dt.date(2025, 3, 31))
SITES = """site_id,segment,time_zone,charger_id,port_id,connector_id,rated_kw
A,fleet,America/Denver,CA,P1,1,10
B,commercial,America/Denver,CB,P2,1,10
"""
COMMISSIONED = SITES.replace("rated_kw\n", "rated_kw,commissioned_on\n").replace(",10\n", ",10,2025-01-01\n")


def _cdr(i: int, site: str, port: str, start_local: str, hours: int, kwh: float, cost: str) -> dict:
    """A CDR of *hours* charging from *start_local* (Denver wall clock) at *site*, port *port*."""
    zone = dt.timezone(dt.timedelta(hours=-7 if start_local < "2025-03-09T02" else -6))
    start = dt.datetime.fromisoformat(start_local).replace(tzinfo=zone).astimezone(dt.UTC)
    end = start + dt.timedelta(hours=hours)
    z = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    c = cdr(id=f"C{i}", start_date_time=z(start), end_date_time=z(end), total_energy=kwh, total_time=hours,
            total_parking_time=0, total_cost={"excl_vat": cost}, last_updated=z(end), charging_periods=None,
            total_energy_cost=None)  # fmt: skip
    c["cdr_location"] = {**c["cdr_location"], "id": site, "evse_uid": port, "evse_id": port}
    return c


@pytest.fixture(scope="module")
def moved(tmp_path_factory):
    d = tmp_path_factory.mktemp("moved")
    (d / "sites.csv").write_text(COMMISSIONED)
    cdrs = [
        _cdr(1, "A", "P1", "2025-03-03T10:00:00", 2, 20.0, "10.00"),
        _cdr(2, "A", "P1", "2025-03-10T10:00:00", 3, 30.0, "15.00"),
        _cdr(3, "B", "P1", "2025-03-16T10:00:00", 2, 20.0, "10.00"),
        _cdr(4, "B", "P1", "2025-03-20T10:00:00", 1, 10.0, "5.00"),
        _cdr(5, "B", "P2", "2025-03-05T10:00:00", 4, 40.0, "20.00"),
    ]
    (d / "cdrs.ndjson").write_text("\n".join(json.dumps(c) for c in cdrs) + "\n")
    wh = open_warehouse(d / "w.duckdb")
    for f in ("sites.csv", "cdrs.ndjson"):
        r = ingest_file(wh, d / f)
        assert r.quarantined == 0 and r.records_read == r.accepted, r
    yield wh, d
    wh.close()


def test_membership_follows_the_cdrs(moved):
    wh, _ = moved
    rows = wh.con.sql(
        f"SELECT port_id, site_id, from_on, to_on FROM {port_sites.VIEW} ORDER BY 1, 3 NULLS FIRST"
    ).fetchall()
    assert rows == [
        ("P1", "A", None, dt.date(2025, 3, 16)),
        ("P1", "B", dt.date(2025, 3, 16), None),
        ("P2", "B", None, None),
    ]
    # the port's row says where it is now
    assert wh.con.sql("SELECT site_id FROM ports WHERE port_id = 'P1'").fetchall() == [("B",)]


@pytest.mark.parametrize("kept", [False, True], ids=["live", "kept"])
def test_a_move_mid_month_splits_sessions_energy_revenue_and_open_hours(moved, kept):
    wh, _ = moved
    if kept:
        refresh_kept(wh)
    names = ["sessions", "energy_kwh", "energy_revenue_minor", "open_h", "charging_h", "utilization", "ports"]
    got = {r["site_id"]: r for r in compute(wh, by="site", period="month", start=MARCH[0], end=MARCH[1], metrics=names, kept=kept).to_pylist()}  # fmt: skip
    # A: C1 + C2; open 1–15 March, 9 March has 23 hours: 15 × 24 − 1 = 359 h
    assert {k: got["A"][k] for k in names[:5]} == {
        "sessions": 2, "energy_kwh": 50.0, "energy_revenue_minor": 2500, "open_h": 359.0, "charging_h": 5.0,
    }  # fmt: skip
    assert got["A"]["utilization"] == pytest.approx(5 / 359, rel=1e-12) and got["A"]["ports"] == 1
    # B: C3 + C4 (P1) and C5 (P2); P1 open 16–31 March (16 × 24 = 384 h), P2 all month (744 − 1 = 743 h)
    assert {k: got["B"][k] for k in names[:5]} == {
        "sessions": 3, "energy_kwh": 70.0, "energy_revenue_minor": 3500, "open_h": 1127.0, "charging_h": 7.0,
    }  # fmt: skip
    assert got["B"]["utilization"] == pytest.approx(7 / 1127, rel=1e-12) and got["B"]["ports"] == 2
    # the port over the month, and the network: every session and hour once
    port = compute(wh, by="port", period="month", start=MARCH[0], end=MARCH[1], metrics=names[:5], kept=kept)
    p1 = [r for r in port.to_pylist() if r["port_id"] == "P1"]
    assert sum(r["sessions"] for r in p1) == 4 and sum(r["open_h"] for r in p1) == 743.0
    net = compute(wh, by="network", period="month", start=MARCH[0], end=MARCH[1], metrics=names, kept=kept).to_pylist()
    assert (net[0]["sessions"], net[0]["open_h"], net[0]["ports"]) == (5, 1486.0, 2)
    # by segment: A is fleet, B commercial
    seg = {r["segment"]: r["sessions"] for r in compute(wh, by="segment", period="month", start=MARCH[0], end=MARCH[1], metrics=["sessions"], kept=kept).to_pylist()}  # fmt: skip
    assert seg == {"fleet": 2, "commercial": 3}


def test_history_names_each_site_with_its_dates_and_evidence(moved):
    wh, _ = moved
    rows = port_sites.history(wh, "P1").to_pylist()
    assert [(r["site_id"], r["from_on"], r["to_on"], r["sessions"], r["evidence"]) for r in rows] == [
        ("A", None, dt.date(2025, 3, 16), 2, "sessions, sites-csv"),
        ("B", dt.date(2025, 3, 16), None, 2, "sessions"),
    ]
    assert all(r["conflicts"] == 0 for r in rows)


def test_ports_history_command(moved, tmp_path):
    wh, d = moved
    wh.con.execute("CHECKPOINT")
    db = tmp_path / "copy.duckdb"  # the CLI opens its own connection: a copy, as the fixture holds the file
    shutil.copy(d / "w.duckdb", db)
    res = CliRunner().invoke(app, ["--db", str(db), "ports", "history", "P1", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [(r["site_id"], r["from_on"], r["to_on"]) for r in rows] == [
        ("A", None, "2025-03-16"),
        ("B", "2025-03-16", None),
    ]
    res = CliRunner().invoke(app, ["--db", str(db), "ports", "history", "NOPE"])
    assert res.exit_code == 2 and "unknown port 'NOPE'" in res.output
    res = CliRunner().invoke(app, ["--db", str(db), "ports", "conflicts"])
    assert res.exit_code == 0 and "no port is at two sites at once" in res.output


def test_overlapping_sessions_at_two_sites_are_reported(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    (tmp_path / "sites.csv").write_text(SITES)
    ingest_file(wh, tmp_path / "sites.csv")
    cdrs = [
        _cdr(1, "A", "P1", "2025-03-03T10:00:00", 3, 20.0, "10.00"),
        _cdr(2, "B", "P1", "2025-03-03T11:00:00", 1, 5.0, "2.00"),  # while C1 still charges at A
    ]
    (tmp_path / "c.ndjson").write_text("\n".join(json.dumps(c) for c in cdrs))
    ingest_file(wh, tmp_path / "c.ndjson")
    rows = port_sites.conflicts(wh).to_pylist()
    assert [(r["port_id"], r["site_id"], r["other_site_id"], r["evidence"]) for r in rows] == [
        ("P1", "A", "B", "sessions")
    ]
    assert rows[0]["detail"] == "session US*EVR*C1 at A overlaps session US*EVR*C2 at B"
    # the financial record still counts each session where it says; open hours go one way. P1 has no
    # commissioning date: in service from C1 (3 March), at B from that day (C2): never open at A, yet
    # the session there is data, not "no data"
    got = {r["site_id"]: (r["sessions"], r["open_h"]) for r in compute(wh, by="site", period="month", start=MARCH[0], end=MARCH[1], metrics=["sessions", "open_h"], kept=False).to_pylist()}  # fmt: skip
    assert got == {"A": (1, 0.0), "B": (1, 29 * 24.0 - 1)}  # 3–31 March at B; 9 March has 23 hours
    wh.close()


def test_sites_csv_windows_place_a_port_at_two_sites_with_a_gap(tmp_path):
    """A port decommissioned at A on 10 March and commissioned at B on 20 March is nowhere between.

    P2, commissioned on 1 January, is at B all month.
    """
    (tmp_path / "sites.csv").write_text(
        "site_id,segment,time_zone,port_id,rated_kw,commissioned_on,decommissioned_on\n"
        "A,fleet,UTC,P1,10,2025-01-01,2025-03-10\n"
        "B,commercial,UTC,P1,10,2025-03-20,\n"
        "B,commercial,UTC,P2,10,2025-01-01,\n"
    )
    wh = open_warehouse(tmp_path / "w.duckdb")
    r = ingest_file(wh, tmp_path / "sites.csv")
    assert (r.accepted, r.quarantined) == (3, 0)
    rows = wh.con.sql(
        f"SELECT port_id, site_id, from_on, to_on FROM {port_sites.VIEW} ORDER BY 1, 3 NULLS FIRST"
    ).fetchall()
    assert rows == [
        ("P1", "A", None, dt.date(2025, 3, 10)),
        ("P1", "B", dt.date(2025, 3, 20), None),
        ("P2", "B", None, None),
    ]
    assert wh.con.sql(
        "SELECT site_id, commissioned_on, decommissioned_on FROM ports WHERE port_id = 'P1'"
    ).fetchall() == [("B", dt.date(2025, 1, 1), None)]
    got = {r["site_id"]: r["open_h"] for r in compute(wh, by="site", period="month", start=MARCH[0], end=MARCH[1], metrics=["open_h"], kept=False).to_pylist()}  # fmt: skip
    assert got == {"A": 9 * 24.0, "B": 31 * 24.0 + 12 * 24.0}
    wh.close()


def test_sites_csv_windows_that_overlap_are_quarantined(tmp_path):
    (tmp_path / "sites.csv").write_text(
        "site_id,segment,time_zone,port_id,commissioned_on,decommissioned_on\n"
        "A,fleet,UTC,P1,2025-01-01,2025-03-10\n"
        "B,commercial,UTC,P1,2025-03-01,\n"
    )
    wh = open_warehouse(tmp_path / "w.duckdb")
    r = ingest_file(wh, tmp_path / "sites.csv")
    assert (r.records_read, r.accepted, r.quarantined) == (2, 0, 2)
    reasons = {x[0] for x in wh.con.sql("SELECT reason FROM quarantine").fetchall()}
    assert reasons == {
        "port 'P1' is at site 'A' (line 2) and at site 'B' (line 3) at once: their windows (commissioned_on to decommissioned_on) overlap",
        "port 'P1' is at site 'B' (line 3) and at site 'A' (line 2) at once: their windows (commissioned_on to decommissioned_on) overlap",
    }
    wh.close()
