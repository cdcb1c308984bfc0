"""The outage ledger: the timeline's intervals cut at month boundaries, and one row per outage.

The third and fourth statements of the timeline (:mod:`evrevops.uptime.timeline`, where the
rules are): :func:`pieces_sql` cuts each interval at site-local month boundaries and measures
the part of it excluded (NEVI causes, closed hours); :func:`ledger_sql` joins the runs of
outage (and of no data) into one row each, with their statuses, error codes and incident.
"""

from __future__ import annotations

from evrevops.core.sqltext import ts_sql
from evrevops.core.states import FAULT, OFFLINE
from evrevops.uptime.timeline_tables import (
    CAL,
    CLOSED,
    INTERVALS,
    LEDGER,
    PIECES,
    PORTS,
    Range,
    seconds_sql,
    us_sql,
)


def _exclusions_sql(r: Range) -> str:
    """``excl``: per port, the merged intervals of excludable evidence (NEVI causes, closed hours)."""
    as_of = ts_sql(r.as_of)
    return f"""
ev_x AS (
    SELECT p.port_id, i.started_at AS s, coalesce(i.ended_at, {as_of}) AS e
    FROM incidents i JOIN {PORTS} p ON p.port_id = i.port_id WHERE i.nevi_excludable
    UNION ALL
    SELECT p.port_id, i.started_at, coalesce(i.ended_at, {as_of})
    FROM incidents i JOIN {PORTS} p ON p.charger_id = i.charger_id
    WHERE i.nevi_excludable AND i.port_id IS NULL
    UNION ALL
    SELECT p.port_id, i.started_at, coalesce(i.ended_at, {as_of})
    FROM incidents i JOIN {PORTS} p ON p.site_id = i.site_id
    WHERE i.nevi_excludable AND i.port_id IS NULL AND i.charger_id IS NULL
    UNION ALL
    SELECT p.port_id, c.closed_start_at, c.closed_end_at
    FROM {CLOSED} c JOIN {PORTS} p ON p.site_id = c.site_id
), ev_xm AS (
    SELECT port_id, s, e,
           CASE WHEN s <= max(e) OVER (PARTITION BY port_id ORDER BY s, e
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                THEN 0 ELSE 1 END AS new_run
    FROM ev_x WHERE e > s
), ev_xr AS (
    SELECT port_id, s, e,
           sum(new_run) OVER (PARTITION BY port_id ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
               AS run
    FROM ev_xm
), excl AS (
    SELECT port_id, min(s) AS s, max(e) AS e FROM ev_xr GROUP BY port_id, run
)"""


def pieces_sql(r: Range) -> str:
    """``_uptime_pieces``: intervals cut at site-local month boundaries, with their excluded time.

    Columns: the interval's columns, ``month`` (first local day), ``dur_us``
    and ``excluded_us`` [µs] (integers; the overlap with the port's merged
    exclusion intervals; 0 for up time).
    """
    return f"""
CREATE OR REPLACE TEMP TABLE {PIECES} AS
WITH months AS (
    SELECT site_id, month, min(day_start_at) AS ms, max(day_end_at) AS me FROM {CAL} GROUP BY site_id, month
), {_exclusions_sql(r)},
pc AS (
    SELECT i.port_id, i.site_id, i.charger_id, i.state, i.label, i.error_code, i.cls, i.island, m.month,
           greatest(i.s, m.ms) AS s, least(i.e, m.me) AS e
    FROM {INTERVALS} i JOIN months m ON m.site_id = i.site_id AND m.ms < i.e AND m.me > i.s
), ex AS (
    SELECT pc.port_id, pc.s, sum({us_sql("least(pc.e, x.e)", "greatest(pc.s, x.s)")}) AS excluded_us
    FROM pc JOIN excl x ON x.port_id = pc.port_id AND x.s < pc.e AND x.e > pc.s
    WHERE pc.cls <> 'up'
    GROUP BY pc.port_id, pc.s
)
SELECT pc.*, {us_sql("pc.e", "pc.s")} AS dur_us, CAST(coalesce(ex.excluded_us, 0) AS BIGINT) AS excluded_us
FROM pc LEFT JOIN ex ON ex.port_id = pc.port_id AND ex.s = pc.s
"""


def ledger_sql(r: Range) -> str:
    """``_uptime_ledger``: one row per outage (and per no-data run) of every port.

    Columns: ``outage_id`` (``port_id@start``), ``port_id``, ``site_id``,
    ``charger_id``, ``started_at``, ``ended_at`` (NULL while open at the
    horizon), ``duration_s``, ``state`` (``outage`` or ``no_data``),
    ``fault_s``, ``offline_s``, ``statuses`` (the distinct labels of its
    time) and ``error_codes`` (every error code other than ``NoError`` the port
    or its charger reported during it; comma-separated), ``excluded_s``, ``cause``,
    ``incident_id``, ``nevi_excludable`` (the incident overlapping it most,
    whatever its cause), ``open``, ``start_clipped`` (the run began before the
    timeline did), and ``duration_us``, ``excluded_us`` (the same durations in integer
    microseconds [µs], which sums add exactly). Durations in seconds [s] are DOUBLE.
    """
    as_of = ts_sql(r.as_of)
    return f"""
CREATE OR REPLACE TEMP TABLE {LEDGER} AS
WITH runs AS (
    SELECT port_id, min(site_id) AS site_id, min(charger_id) AS charger_id, island,
           min(cls) AS cls, min(s) AS started_at, max(e) AS run_end, sum(dur_us) AS duration_us,
           sum(CASE WHEN state = '{FAULT}' THEN dur_us ELSE 0 END) AS fault_us,
           sum(CASE WHEN state = '{OFFLINE}' THEN dur_us ELSE 0 END) AS offline_us,
           sum(excluded_us) AS excluded_us,
           string_agg(DISTINCT label, ',' ORDER BY label) AS statuses
    FROM {PIECES} WHERE cls <> 'up'
    GROUP BY port_id, island
), errs AS (
    -- every error code reported during the outage, by the port or its whole charger (connector 0)
    SELECT r.port_id, r.island, string_agg(DISTINCT x.error_code, ',' ORDER BY x.error_code) AS error_codes
    FROM runs r JOIN (
        SELECT p.port_id, e.observed_at, e.error_code FROM status_events e JOIN {PORTS} p ON p.port_id = e.port_id
        WHERE e.error_code IS NOT NULL AND e.error_code <> 'NoError'
        UNION ALL
        SELECT p.port_id, e.observed_at, e.error_code FROM status_events e JOIN {PORTS} p ON p.charger_id = e.charger_id
        WHERE e.connector_id = 0 AND e.port_id IS NULL AND e.error_code IS NOT NULL AND e.error_code <> 'NoError'
    ) x ON x.port_id = r.port_id AND x.observed_at >= r.started_at AND x.observed_at < r.run_end
    GROUP BY r.port_id, r.island
), inc AS (
    SELECT p.port_id, i.incident_id, i.cause, i.nevi_excludable, i.started_at AS s, coalesce(i.ended_at, {as_of}) AS e
    FROM incidents i JOIN {PORTS} p ON p.port_id = i.port_id
    UNION ALL
    SELECT p.port_id, i.incident_id, i.cause, i.nevi_excludable, i.started_at, coalesce(i.ended_at, {as_of})
    FROM incidents i JOIN {PORTS} p ON p.charger_id = i.charger_id WHERE i.port_id IS NULL
    UNION ALL
    SELECT p.port_id, i.incident_id, i.cause, i.nevi_excludable, i.started_at, coalesce(i.ended_at, {as_of})
    FROM incidents i JOIN {PORTS} p ON p.site_id = i.site_id WHERE i.port_id IS NULL AND i.charger_id IS NULL
), hit AS (
    SELECT r.port_id, r.island, i.incident_id, i.cause, i.nevi_excludable,
           row_number() OVER (PARTITION BY r.port_id, r.island
                              ORDER BY {us_sql("least(r.run_end, i.e)", "greatest(r.started_at, i.s)")} DESC,
                                       i.incident_id) AS rn
    FROM runs r JOIN inc i ON i.port_id = r.port_id AND i.s < r.run_end AND i.e > r.started_at
)
SELECT r.port_id || '@' || strftime(r.started_at, '%Y-%m-%d') || 'T' || strftime(r.started_at, '%H:%M:%S') || 'Z'
           AS outage_id,
       r.port_id, r.site_id, r.charger_id, r.started_at,
       CASE WHEN r.run_end >= p.life_end AND p.life_end >= {as_of} THEN NULL ELSE r.run_end END AS ended_at,
       {seconds_sql("r.duration_us")} AS duration_s, CASE WHEN r.cls = 'outage' THEN 'outage' ELSE 'no_data' END AS state,
       {seconds_sql("r.fault_us")} AS fault_s, {seconds_sql("r.offline_us")} AS offline_s, r.statuses, er.error_codes,
       {seconds_sql("r.excluded_us")} AS excluded_s,
       h.cause, h.incident_id, coalesce(h.nevi_excludable, FALSE) AS nevi_excludable,
       (r.run_end >= p.life_end AND p.life_end >= {as_of}) AS open,
       (r.started_at <= p.range_start) AS start_clipped,
       CAST(r.duration_us AS BIGINT) AS duration_us, CAST(r.excluded_us AS BIGINT) AS excluded_us
FROM runs r JOIN {PORTS} p ON p.port_id = r.port_id
LEFT JOIN hit h ON h.port_id = r.port_id AND h.island = r.island AND h.rn = 1
LEFT JOIN errs er ON er.port_id = r.port_id AND er.island = r.island
"""
