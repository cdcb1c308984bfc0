"""Feed gaps and unlinked telemetry: where the telemetry cannot say whether a port was up (handbook §4).

**Feed gap.** A site's telemetry has a gap where *every* port of the site measured then is in
``no_data`` (its feed sent placeholders, said ``Unknown``, or nothing reached it) for longer than
the silence window ``offline_after_s``: a sweep over the timeline's intervals
(:data:`~evrevops.uptime.timeline_tables.INTERVALS`) counts, at every instant, the site's ports
alive and the ports observed, and keeps the runs with ports alive and none observed.
:func:`gaps_sql` leaves them in :data:`GAPS`; the uptime fact (:mod:`evrevops.uptime.fact`)
measures each port-month's time inside them (``feed_gap_s``), and the NEVI uptime of a
port-month or trailing year that has any is unknown rather than an outage of every charger.
A site that was never observed has one gap over its whole measured time: it has no telemetry.

**Unlinked telemetry.** An OCPP charge point and connector (or a status feed's charger) whose
messages name no port: no OCPI EVSE or sites-CSV row carries that ``charger_id`` and
``connector_id``. :data:`UNLINKED_SQL` lists them. While there is any, a port that has no charger
of its own (``ports.charger_id`` empty, as an OCPI Locations feed leaves it) is not measured
from the Locations' status snapshots alone: the live telemetry that should cover it is the
unlinked log, so it shows no telemetry (never 100 % uptime from one ``last_updated``) until the
sites CSV links it.
"""

from __future__ import annotations

from evrevops.uptime.timeline_tables import INTERVALS, US_PER_S, Range, seconds_sql, us_sql

GAPS = "_uptime_feed_gaps"

# Messages of an OCPP charge point, or status events of a feed, that reach no port: (charger_id, connector_id,
# source table, first and last instant, records). Connector 0 of a charger the ports know is the charger's own.
UNLINKED_SQL = """
WITH t AS (
    SELECT charger_id, connector_id, 'status_events' AS source, observed_at AS t FROM status_events
    WHERE port_id IS NULL AND coalesce(connector_id, 0) <> 0
    UNION ALL SELECT charger_id, connector_id, 'status_events', observed_at FROM status_events
    WHERE port_id IS NULL AND coalesce(connector_id, 0) = 0
      AND charger_id NOT IN (SELECT charger_id FROM ports WHERE charger_id IS NOT NULL)
    UNION ALL SELECT charger_id, NULL, 'heartbeats', observed_at FROM heartbeats
    WHERE charger_id NOT IN (SELECT charger_id FROM ports WHERE charger_id IS NOT NULL)
    UNION ALL SELECT charger_id, connector_id, 'meter_readings', observed_at FROM meter_readings
    WHERE charger_id NOT IN (SELECT charger_id FROM ports WHERE charger_id IS NOT NULL)
    UNION ALL SELECT charger_id, connector_id, 'ocpp_transactions', started_at FROM ocpp_transactions
    WHERE port_id IS NULL AND started_at IS NOT NULL
)
SELECT charger_id, CAST(connector_id AS BIGINT) AS connector_id, min(t) AS first_at, max(t) AS last_at,
       count(*) AS records, string_agg(DISTINCT source, ', ' ORDER BY source) AS sources
FROM t GROUP BY charger_id, connector_id
"""


def gaps_sql(r: Range) -> str:
    """``_uptime_feed_gaps``: each site's runs with every measured port in ``no_data`` for longer than the window.

    Columns: ``site_id``, ``started_at``, ``ended_at`` (UTC), ``duration_s`` [s], ``ports`` (the
    site's ports measured during it, at most).
    """
    w = r.offline_after_s * US_PER_S
    return f"""
CREATE OR REPLACE TEMP TABLE {GAPS} AS
WITH ev AS (
    SELECT site_id, s AS t, 1 AS d_alive, CASE WHEN cls <> 'no_data' THEN 1 ELSE 0 END AS d_obs FROM {INTERVALS}
    UNION ALL
    SELECT site_id, e, -1, CASE WHEN cls <> 'no_data' THEN -1 ELSE 0 END FROM {INTERVALS}
), pts AS (
    SELECT site_id, t, sum(d_alive) AS d_alive, sum(d_obs) AS d_obs FROM ev GROUP BY site_id, t
), run AS (
    SELECT site_id, t,
           sum(d_alive) OVER (PARTITION BY site_id ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS alive,
           sum(d_obs) OVER (PARTITION BY site_id ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS obs,
           lead(t) OVER (PARTITION BY site_id ORDER BY t) AS next_t
    FROM pts
), seg AS (
    SELECT site_id, t AS s, next_t AS e, alive, CASE WHEN alive > 0 AND obs = 0 THEN 1 ELSE 0 END AS gap
    FROM run WHERE next_t IS NOT NULL
), marked AS (
    SELECT *, CASE WHEN gap = lag(gap) OVER (PARTITION BY site_id ORDER BY s) THEN 0 ELSE 1 END AS new_run FROM seg
), runs AS (
    SELECT *, sum(new_run) OVER (PARTITION BY site_id ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
              AS run_no
    FROM marked
)
SELECT site_id, min(s) AS started_at, max(e) AS ended_at,
       {seconds_sql(us_sql("max(e)", "min(s)"))} AS duration_s, max(alive) AS ports
FROM runs WHERE gap = 1
GROUP BY site_id, run_no
HAVING {us_sql("max(e)", "min(s)")} > {w}
"""


def port_month_gaps_sql(pieces: str) -> str:
    """SQL of ``(port_id, month, feed_gap_us)``: each port-month's no-data time inside its site's feed gaps [µs].

    *pieces* is the timeline's month pieces table (:data:`~evrevops.uptime.timeline_tables.PIECES`).
    """
    return f"""
    SELECT pc.port_id, pc.month, sum({us_sql("least(pc.e, g.ended_at)", "greatest(pc.s, g.started_at)")}) AS feed_gap_us
    FROM {pieces} pc JOIN {GAPS} g ON g.site_id = pc.site_id AND g.started_at < pc.e AND g.ended_at > pc.s
    WHERE pc.state = 'no_data'
    GROUP BY pc.port_id, pc.month"""
