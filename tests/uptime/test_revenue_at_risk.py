"""Revenue at risk by hand: a port's own revenue at the same hour of the week, over the 13 weeks before."""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.metrics.compute import compute
from evrevops.uptime import outages as uo
from tests.uptime.network import hourly, ingest, status, write_network

D = dt.datetime
SITES = ["S1,Depot,K1,public_dc,caas,UTC,24/7,C1,P1,1,DC,150,2024-12-01,"]


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rar")
    log = hourly("C1", D(2024, 12, 1), D(2025, 5, 1), skip=[]) + [
        # Monday 7 April 09:30-11:00: half an hour in Monday 9h (no revenue there), an hour in Monday 10h
        status("C1", D(2025, 4, 7, 9, 30), 1, "Faulted", "GroundFailure"),
        status("C1", D(2025, 4, 7, 11), 1, "Available"),
        # Monday 14 April 10:00-10:30: half an hour in Monday 10h
        status("C1", D(2025, 4, 14, 10), 1, "Faulted", "GroundFailure"),
        status("C1", D(2025, 4, 14, 10, 30), 1, "Available"),
    ]
    write_network(folder, SITES, log)
    w = ingest(folder, folder / "w.duckdb")
    # every Monday at 10:20 since December a $13.00 session; the 13 weeks before April hold 13 Mondays
    monday = D(2024, 12, 2, 10, 20)
    k = 0
    while monday < D(2025, 4, 1):
        w.con.execute(
            """INSERT INTO sessions (session_id, site_id, port_id, started_at, ended_at, energy_kwh, plugged_in_s,
                                     charging_s, idle_s, currency, total_cost_minor)
               VALUES (?, 'S1', 'P1', ?, ?, 20, 1800, 1800, 0, 'USD', 1300)""",
            [f"s{k}", monday, monday + dt.timedelta(minutes=30)],
        )
        monday += dt.timedelta(days=7)
        k += 1
    # a session in the baseline of another hour of the week, and one in another currency (never mixed in)
    w.con.execute(
        """INSERT INTO sessions (session_id, site_id, port_id, started_at, ended_at, energy_kwh, plugged_in_s,
                                 charging_s, idle_s, currency, total_cost_minor)
           VALUES ('x1', 'S1', 'P1', TIMESTAMP '2025-03-04 10:20', TIMESTAMP '2025-03-04 10:50', 20, 1800, 1800, 0, 'USD', 9999),
                  ('x2', 'S1', 'P1', TIMESTAMP '2025-03-10 10:40', TIMESTAMP '2025-03-10 10:50', 5, 600, 600, 0, 'EUR', 5000)"""
    )
    yield w
    w.close()


def test_revenue_at_risk_by_hand(wh):
    # Monday 10h earned 13 × $13.00 over the 13 Mondays of the baseline: $13.00 an hour
    led = [r for r in uo.ledger(wh, dt.date(2025, 4, 1)).to_pylist() if r["state"] == "outage"]
    assert [(r["started_at"], r["revenue_at_risk_minor"], r["currency"]) for r in led] == [
        (D(2025, 4, 7, 9, 30), 1300, "USD"),  # one hour of Monday 10h; the half hour of 9h earned nothing
        (D(2025, 4, 14, 10), 650, "USD"),  # half an hour
    ]
    # the same with and without the trailing-twelve-month timeline
    for names in (["revenue_at_risk_minor"], ["revenue_at_risk_minor", "uptime_t12m_pct"]):
        m = compute(wh, by="port", period="month", start=dt.date(2025, 4, 1), end=dt.date(2025, 4, 30), metrics=names)
        assert m.to_pylist()[0]["revenue_at_risk_minor"] == 1950, names
