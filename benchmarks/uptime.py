"""Uptime bench: 10,000 ports × 12 months of status events, heartbeats, incidents and sessions.

``python benchmarks/uptime.py generate PATH`` writes a warehouse (not timed; cached by
``make bench``), all in DuckDB SQL with hash-based pseudo-random draws (fixed, so every run sees
the same data):

* 1,000 sites in four US time zones (one in ten open Mo–Fr 06:00–22:00), 5,000 chargers,
  10,000 ports; one charger in ten commissioned during 2025 (a partial year);
* per port and month 0–2 faults (Faulted, then Available 30 min – 24 h later), per charger and
  quarter one charger-wide fault (connector 0), per charger and month one communication loss
  (1–10 h without any message);
* heartbeats every 4 h per charger outside its communication losses;
* an incident for every second outage, a third of them with a NEVI-excludable cause;
* one session a port-day with its revenue (for revenue at risk).

``python benchmarks/uptime.py uptime PATH`` times, best of 3, the timeline of the twelve months
to December 2025 with its ledger, port-month fact and revenue at risk
(:func:`evrevops.uptime.fact.build`), and ``evrevops uptime --by port`` (every uptime metric of
the registry by port for December, trailing twelve months included). Prints one JSON line.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

PORTS = 10_000
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
START = "2025-01-01"


def _h(expr: str, salt: int) -> str:
    """A pseudo-random number in [0, 1) from a hash of *expr* and *salt*."""
    return f"((hash({expr}, {salt}) % 1000003) / 1000003.0)"


def generate(path: Path) -> dict:
    from evrevops.warehouse.db import open_warehouse

    t0 = time.perf_counter()
    path.unlink(missing_ok=True)
    wh = open_warehouse(path)
    con = wh.con
    sites, chargers = PORTS // 10, PORTS // 2
    zones = "[" + ", ".join(f"'{z}'" for z in ZONES) + "]"
    con.execute(
        f"""INSERT INTO sites (site_id, name, customer_id, segment, revenue_model, time_zone, operating_hours)
            SELECT 'S' || lpad(i::VARCHAR, 5, '0'), 'Site ' || i, 'K' || lpad((i // 4)::VARCHAR, 5, '0'),
                   ['fleet', 'commercial', 'public_dc', 'residential'][i % 4 + 1], 'caas',
                   {zones}[i % 4 + 1], CASE WHEN i % 10 = 3 THEN 'Mo-Fr 06:00-22:00' ELSE '24/7' END
            FROM range({sites}) t(i)"""
    )
    # the same facts as the site's dated history, since always (what reports over time read)
    con.execute(
        "INSERT INTO site_facts (site_id, segment, revenue_model) SELECT site_id, segment, revenue_model FROM sites"
    )
    con.execute(
        """INSERT INTO customers (customer_id, name, segment, revenue_model, currency)
            SELECT customer_id, 'Customer ' || customer_id, min(segment), 'caas', 'USD' FROM sites GROUP BY customer_id"""
    )
    con.execute(
        f"""INSERT INTO chargers (charger_id, site_id, ocpp_version)
            SELECT 'C' || lpad(i::VARCHAR, 6, '0'), 'S' || lpad((i // 5)::VARCHAR, 5, '0'), 'ocpp1.6' FROM range({chargers}) t(i)"""
    )
    con.execute(
        f"""INSERT INTO ports (port_id, site_id, charger_id, connector_id, power_type, rated_kw, commissioned_on)
            SELECT c.charger_id || '-' || k, c.site_id, c.charger_id, k, 'DC', 150,
                   CASE WHEN hash(c.charger_id) % 10 = 0 THEN DATE '2025-01-01' + CAST(floor({_h("c.charger_id", 1)} * 330) AS INTEGER)
                        ELSE DATE '2024-06-01' END
            FROM chargers c, range(1, 3) r(k)"""
    )
    telemetry(con, START, 12)
    con.execute(
        f"""INSERT INTO sessions (session_id, source, site_id, port_id, charger_id, started_at, ended_at, charging_ended_at,
                                  energy_kwh, plugged_in_s, charging_s, idle_s, currency, total_cost_minor)
            SELECT p.port_id || '-' || d, 'bench', p.site_id, p.port_id, p.charger_id, t, t + INTERVAL 40 MINUTE,
                   t + INTERVAL 35 MINUTE, 30.0, 2400, 2100, 300, 'USD', 1500 + CAST({_h("p.port_id || d", 12)} * 1000 AS INTEGER)
            FROM (SELECT p.*, d, TIMESTAMP '{START}' + INTERVAL (d) DAY
                         + to_microseconds(CAST((6 + {_h("p.port_id || d", 11)} * 16) * 3600e6 AS BIGINT)) AS t
                  FROM ports p, range(365) r(d)) p"""
    )
    counts = {t: wh.count(t) for t in ("ports", "status_events", "heartbeats", "incidents", "sessions")}
    wh.close()
    return {"seconds": time.perf_counter() - t0, **counts}


def telemetry(con, start: str, months: int) -> None:
    """Insert the OCPP telemetry of the ``chargers`` and ``ports`` tables for *months* months from *start*.

    Per port and month 0–2 faults (Faulted, then Available 30 min – 24 h later); per charger and
    whole quarter one charger-wide fault (connector 0); per charger and month one communication
    loss (1–10 h without any message); heartbeats every 4 h per charger outside its
    communication losses; every port Available at the start; an incident for every second
    outage, a third of them with a NEVI-excludable cause. Hash-based draws: the same tables give
    the same telemetry.
    """
    first = dt.date.fromisoformat(start)
    end = dt.date(first.year + (first.month - 1 + months) // 12, (first.month - 1 + months) % 12 + 1, 1).isoformat()
    # communication losses: one per charger and month, 1-10 h
    con.execute(
        f"""CREATE TEMP TABLE comm AS
            SELECT charger_id, s, s + to_microseconds(CAST((1 + {_h("charger_id || m", 3)} * 9) * 3600e6 AS BIGINT)) AS e
            FROM (SELECT c.charger_id, m,
                         TIMESTAMP '{start}' + INTERVAL (m) MONTH + to_microseconds(CAST({_h("c.charger_id || m", 2)} * 27 * 86400e6 AS BIGINT)) AS s
                  FROM chargers c, range({months}) r(m))"""
    )
    con.execute(
        f"""INSERT INTO heartbeats (charger_id, observed_at, message)
            SELECT h.charger_id, h.t, 'Heartbeat' FROM (
                SELECT c.charger_id, unnest(range(TIMESTAMP '{start}' + to_microseconds(CAST({_h("c.charger_id", 4)} * 14400e6 AS BIGINT)),
                                                  TIMESTAMP '{end}', INTERVAL 4 HOUR)) AS t
                FROM chargers c) h
            ANTI JOIN comm x ON x.charger_id = h.charger_id AND h.t >= x.s AND h.t < x.e"""
    )
    # faults: 0-3 per port and month; and one charger-wide fault per charger and quarter
    con.execute(
        f"""CREATE TEMP TABLE faults AS
            SELECT port_id, charger_id, connector_id, s,
                   s + to_microseconds(CAST((0.5 + {_h("port_id || m || n", 6)} ^ 3 * 23.5) * 3600e6 AS BIGINT)) AS e,
                   ['GroundFailure', 'HighTemperature', 'InternalError', 'OverCurrentFailure'][n % 4 + 1] AS err
            FROM (SELECT p.port_id, p.charger_id, p.connector_id, m, n,
                         TIMESTAMP '{start}' + INTERVAL (m) MONTH + to_microseconds(CAST({_h("p.port_id || m || n", 5)} * 28 * 86400e6 AS BIGINT)) AS s
                  FROM ports p, range({months}) r(m), range(2) q(n)
                  WHERE n < CAST(floor({_h("p.port_id || m", 7)} * 3) AS INTEGER))
            UNION ALL
            SELECT NULL, charger_id, 0, s, s + to_microseconds(CAST((1 + {_h("charger_id || q", 9)} * 10) * 3600e6 AS BIGINT)), 'UnderVoltage'
            FROM (SELECT charger_id, q,
                         TIMESTAMP '{start}' + INTERVAL (3 * q) MONTH + to_microseconds(CAST({_h("charger_id || q", 8)} * 85 * 86400e6 AS BIGINT)) AS s
                  FROM chargers, range({months // 3}) r(q))"""
    )
    con.execute(
        f"""INSERT INTO status_events (charger_id, port_id, connector_id, observed_at, status, error_code, protocol)
           SELECT charger_id, port_id, connector_id, s, 'Faulted', err, 'ocpp1.6' FROM faults
           UNION ALL SELECT charger_id, port_id, connector_id, e, 'Available', 'NoError', 'ocpp1.6' FROM faults
           UNION ALL SELECT charger_id, port_id, connector_id, TIMESTAMP '{start}' + INTERVAL 1 SECOND, 'Available', 'NoError', 'ocpp1.6'
                     FROM ports"""
    )
    con.execute(
        f"""INSERT INTO incidents (incident_id, site_id, port_id, charger_id, started_at, ended_at, cause, nevi_excludable)
            SELECT 'I' || row_number() OVER (), NULL, port_id, charger_id, s, e,
                   ['utility_interruption', 'hardware_fault', 'software_fault'][CAST(floor({_h("charger_id || s", 10)} * 3) AS INTEGER) + 1],
                   NULL
            FROM faults WHERE hash(charger_id || s) % 2 = 0"""
    )
    con.execute("UPDATE incidents SET nevi_excludable = cause = 'utility_interruption'")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def uptime(path: Path) -> dict:
    from evrevops.metrics import compute as mc
    from evrevops.metrics.registry import UPTIME
    from evrevops.uptime import fact
    from evrevops.warehouse.db import open_warehouse

    wh = open_warehouse(path, read_only=True)
    dec = dt.date(2025, 12, 1)
    engine, metrics = [], []
    for _ in range(3):
        t = time.perf_counter()
        fact.build(wh, dec, dec)
        engine.append(time.perf_counter() - t)
        t = time.perf_counter()
        rows = mc.compute(wh, by="port", period="month", start=dec, end=dt.date(2025, 12, 31), metrics=list(UPTIME))
        metrics.append(time.perf_counter() - t)
    outages = wh.con.sql("SELECT count(*) FROM _uptime_ledger WHERE state = 'outage'").fetchall()[0][0]
    net = mc.compute(wh, by="network", period="month", start=dec, end=dt.date(2025, 12, 31), metrics=["uptime_t12m_pct", "ports_below_nevi"]).to_pylist()[0]  # fmt: skip
    wh.close()
    return {
        "engine_seconds": min(engine), "engine_runs_s": engine,
        "metrics_by_port_seconds": min(metrics), "metrics_runs_s": metrics,
        "rows": rows.num_rows, "outages_12m": outages, "uptime_t12m_pct": net["uptime_t12m_pct"],
        "ports_below_nevi": net["ports_below_nevi"], "peak_mib": _peak_mib(),
    }  # fmt: skip


if __name__ == "__main__":
    cmd, target = sys.argv[1], Path(sys.argv[2])
    print(json.dumps(generate(target) if cmd == "generate" else uptime(target)))
