"""Uptime on a generated demo network: the ledger recovers the generator's own outages from the OCPP log.

The demo generator knows every outage it injected; its maintenance tickets (incidents.csv) carry the
true start and end of the ticketed ones, and its OCPP log reports them as a CSMS would (Faulted or
Unavailable at the start, Available 2 s after the end, heartbeats missing during communication
losses). The ledger, built from the log alone, must find them.
"""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.core.calendar import month_range
from evrevops.metrics.compute import compute
from evrevops.uptime import outages as uo
from evrevops.uptime import timeline as T
from evrevops.uptime.timeline_tables import LEDGER, PORTS
from evrevops.warehouse.db import open_warehouse

HEARTBEAT_S = 4 * 3600  # the demo's heartbeat interval
REPORTED = ("hardware_fault", "software_fault", "scheduled_maintenance", "vandalism", "utility_interruption")


@pytest.fixture(scope="module")
def wh(demo_networks, tmp_path_factory):
    w = open_warehouse(demo_networks.get(ports=60, months=3, seed=5).copy(tmp_path_factory.mktemp("demo-uptime")))
    T.build(w, dt.date(2025, 12, 1), dt.date(2025, 12, 1))
    yield w
    w.close()


def _matches(wh, causes: tuple[str, ...], min_s: float = 0, silent: bool = False):
    """Per closed incident and port it covers: (cause, incident start, end, the ledger outage containing it).

    ``silent``: only incidents during which the charger sent no message at all (a charger that lost
    only its modem keeps charging, and its meter values, delivered later, prove it was up).
    """
    causes_sql = ", ".join(f"'{c}'" for c in causes)
    quiet = (
        """AND NOT EXISTS (SELECT 1 FROM meter_readings m WHERE m.charger_id = p.charger_id
                              AND m.observed_at BETWEEN i.started_at AND i.ended_at)"""
        if silent
        else ""
    )
    return wh.con.sql(
        f"""WITH inc AS (
                SELECT i.incident_id, i.cause, p.port_id, i.started_at AS s, i.ended_at AS e
                FROM incidents i JOIN {PORTS} p
                  ON p.port_id = i.port_id OR (i.port_id IS NULL AND p.charger_id = i.charger_id)
                  OR (i.port_id IS NULL AND i.charger_id IS NULL AND p.site_id = i.site_id)
                WHERE i.ended_at IS NOT NULL AND i.cause IN ({causes_sql})
                  AND i.started_at > p.life_start + INTERVAL 6 HOUR AND i.ended_at < p.life_end
                  AND epoch(i.ended_at) - epoch(i.started_at) > {min_s} {quiet})
            SELECT inc.cause, inc.s, inc.e, l.started_at, l.started_at + to_microseconds(CAST(l.duration_s * 1e6 AS BIGINT))
            FROM inc LEFT JOIN {LEDGER} l ON l.port_id = inc.port_id AND l.state = 'outage'
             AND l.started_at <= inc.s AND l.started_at + to_microseconds(CAST(l.duration_s * 1e6 AS BIGINT)) >= inc.e"""
    ).fetchall()


def test_status_reported_outages_are_recovered_exactly(wh):
    rows = _matches(wh, REPORTED)
    assert len(rows) > 50
    assert all(r[3] is not None for r in rows), [r for r in rows if r[3] is None][:3]  # every one is in the ledger
    exact = [r for r in rows if r[3] == r[1] and r[4] == r[2] + dt.timedelta(seconds=2)]
    # the rest overlap another outage of the same port (then the ledger holds one longer outage)
    assert len(exact) >= 0.95 * len(rows)


def test_communication_losses_are_offline_from_the_last_message(wh):
    # a silence longer than the window plus one heartbeat interval must be found
    rows = _matches(wh, ("communication",), min_s=T.DEFAULT_OFFLINE_AFTER_S + HEARTBEAT_S, silent=True)
    assert len(rows) > 5
    assert all(r[3] is not None for r in rows)
    for _, s, e, start, end in rows:
        # offline from the last message: at most one heartbeat interval before the loss began
        assert s - dt.timedelta(seconds=HEARTBEAT_S) <= start <= s
        assert end >= e
    # where the charger kept charging through a modem loss, its meter values show it up: not one outage
    talking = [
        r for r in _matches(wh, ("communication",), min_s=T.DEFAULT_OFFLINE_AFTER_S + HEARTBEAT_S) if r[3] is None
    ]
    assert talking and len(talking) < len(rows)


def test_money_and_minutes_reconcile_across_grains(wh):
    lo, hi = month_range("2025-12")
    names = ["revenue_at_risk_minor", "t_outage_min", "outages", "ports_below_nevi", "measured_h"]
    net = compute(wh, by="network", period="month", start=lo, end=hi, metrics=names).to_pylist()[0]
    for by in ("segment", "site", "port", "customer"):
        every = compute(wh, by=by, period="month", start=lo, end=hi, metrics=names).to_pylist()
        # a scope without telemetry (nothing measured) has no data for them, not 0: it adds nothing to the network
        rows = [r for r in every if r["measured_h"] > 0]
        unmeasured = [r for r in every if r["measured_h"] == 0]
        assert all(r[n] is None for r in unmeasured for n in ("revenue_at_risk_minor", "t_outage_min", "outages")), by
        assert sum(r["revenue_at_risk_minor"] for r in rows) == net["revenue_at_risk_minor"], by
        assert sum(r["outages"] for r in rows) == net["outages"], by
        assert sum(r["t_outage_min"] for r in rows) == pytest.approx(net["t_outage_min"]), by
    led = uo.ledger(wh, lo).to_pylist()
    assert sum(r["revenue_at_risk_minor"] for r in led) == net["revenue_at_risk_minor"] > 0
    assert all(isinstance(r["revenue_at_risk_minor"], int) for r in led)
    assert net["t_outage_min"] > 0
