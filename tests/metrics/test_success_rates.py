"""Charge attempt, session and visit success by hand (handbook §4; ChargeX)."""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.metrics.compute import compute
from evrevops.warehouse.db import open_warehouse

D = dt.datetime
# (token, start, minutes plugged in, kWh)
ATTEMPTS = [
    ("A", D(2025, 3, 4, 10, 0), 1, 0.0),  # failed, then the same driver charges 9 min later: one visit, a success
    ("A", D(2025, 3, 4, 10, 10), 50, 20.0),
    ("B", D(2025, 3, 4, 12, 0), 1, 0.0),  # failed twice, 29 min apart: two visits, both failed
    ("B", D(2025, 3, 4, 12, 30), 1, 0.0),
    ("C", D(2025, 3, 4, 14, 0), 60, 10.0),  # one visit, a success
    ("A", D(2025, 3, 4, 16, 0), 1, 0.0),  # three attempts 4 and 9 min apart: one visit, a success
    ("A", D(2025, 3, 4, 16, 5), 1, 0.0),
    ("A", D(2025, 3, 4, 16, 15), 45, 5.0),
    (None, D(2025, 3, 4, 18, 0), 1, 0.0),  # no token: a visit of its own, failed
    ("D", D(2025, 3, 4, 20, 0), 20, 0.0),  # 20 min plugged without energy, next attempt 10 min after its end
    ("D", D(2025, 3, 4, 20, 30), 30, 8.0),  # (30 min after its start): one visit, a success
]
# (stop reason, ended)
TRANSACTIONS = [("EVDisconnected", True), ("Local", True), ("PowerLoss", True), ("Other", True), (None, False)]


@pytest.fixture(scope="module")
def wh():
    w = open_warehouse(":memory:")
    w.con.execute("INSERT INTO sites (site_id, time_zone) VALUES ('S', 'UTC')")
    w.con.execute("INSERT INTO ports (port_id, site_id, charger_id, connector_id) VALUES ('P1', 'S', 'C', 1), ('P2', 'S', 'C', 2)")  # fmt: skip
    for i, (tok, start, minutes, kwh) in enumerate(ATTEMPTS):
        end = start + dt.timedelta(minutes=minutes)
        w.con.execute(
            """INSERT INTO sessions (session_id, site_id, port_id, started_at, ended_at, energy_kwh, plugged_in_s,
                                     charging_s, idle_s, token_uid) VALUES (?, 'S', ?, ?, ?, ?, ?, ?, 0, ?)""",
            [f"s{i}", f"P{i % 2 + 1}", start, end, kwh, minutes * 60, minutes * 60 if kwh else 0, tok],
        )
    for i, (reason, ended) in enumerate(TRANSACTIONS):
        start = D(2025, 3, 5, 8 + i)
        w.con.execute(
            """INSERT INTO ocpp_transactions (charger_id, transaction_id, port_id, connector_id, started_at, ended_at,
                                              stop_reason) VALUES ('C', ?, 'P1', 1, ?, ?, ?)""",
            [str(i), start, start + dt.timedelta(minutes=30) if ended else None, reason],
        )
    yield w
    w.close()


def test_success_rates_by_hand(wh):
    names = ["charge_attempt_success_rate", "session_success_rate", "visit_success_rate", "sessions"]
    site = compute(wh, by="site", period="month", start=dt.date(2025, 3, 1), end=dt.date(2025, 3, 31), metrics=names)
    r = site.to_pylist()[0]
    assert r["sessions"] == 11
    assert r["charge_attempt_success_rate"] == pytest.approx(4 / 11)  # 4 of the 11 attempts delivered energy
    assert r["visit_success_rate"] == pytest.approx(4 / 7)  # A, C, A, D succeed; B, B and the tokenless one fail
    assert r["session_success_rate"] == pytest.approx(2 / 4)  # PowerLoss and Other are not normal ends
    day = compute(wh, by="site", period="day", start=dt.date(2025, 3, 4), end=dt.date(2025, 3, 5), metrics=names)
    by_day = {x["local_date"]: x for x in day.to_pylist()}
    assert by_day[dt.date(2025, 3, 4)]["visit_success_rate"] == pytest.approx(4 / 7)
    assert by_day[dt.date(2025, 3, 5)]["session_success_rate"] == pytest.approx(0.5)
    assert by_day[dt.date(2025, 3, 5)]["visit_success_rate"] is None  # no visits that day
