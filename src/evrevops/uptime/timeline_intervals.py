"""Port lifetimes, charger liveness and each port's time cut into intervals of constant state.

The first two statements of the timeline (:mod:`evrevops.uptime.timeline`, where the rules
are): :func:`ports_sql` measures each port's lifetime, :func:`intervals_sql` combines the
port's status, its charger's connector-0 status and the charger's liveness (silence
inferred from :data:`MESSAGES_SQL`) into intervals of one state.
"""

from __future__ import annotations

from evrevops.core.sqltext import ts_sql
from evrevops.core.states import FAULT, NO_DATA, OFFLINE, RANK, STATUS_STATE, UP
from evrevops.uptime.timeline_tables import CAL, INTERVALS, PORTS, US_PER_S, Range, us_sql

_STATE_NAME = {v: k for k, v in RANK.items()}


def status_rank_sql(col: str = "status") -> str:
    """SQL ``CASE`` giving a status string's state rank (unknown statuses rank as ``fault``)."""
    whens = " ".join(f"WHEN '{s}' THEN {RANK[st]}" for s, st in STATUS_STATE.items())
    return f"CASE {col} {whens} ELSE {RANK[FAULT]} END"


def ports_sql(r: Range) -> str:
    """``_uptime_ports``: every port with a site, and its measured lifetime ``[life_start, life_end)``."""
    return f"""
CREATE OR REPLACE TEMP TABLE {PORTS} AS
WITH bounds AS (
    SELECT site_id, min(local_date) AS first_day, max(local_date) AS last_day,
           min(day_start_at) AS lo, max(day_end_at) AS hi
    FROM {CAL} GROUP BY site_id
), p AS (
    SELECT p.port_id, p.site_id, p.charger_id, p.connector_id,
           CASE WHEN p.commissioned_on IS NULL OR p.commissioned_on <= b.first_day THEN b.lo
                WHEN p.commissioned_on > b.last_day THEN b.hi
                ELSE cs.day_start_at END AS life_start,
           CASE WHEN p.decommissioned_on IS NULL OR p.decommissioned_on > b.last_day THEN b.hi
                WHEN p.decommissioned_on <= b.first_day THEN b.lo
                ELSE cd.day_start_at END AS life_end,
           b.lo AS range_start
    FROM ports p
    JOIN bounds b ON b.site_id = p.site_id
    LEFT JOIN {CAL} cs ON cs.site_id = p.site_id AND cs.local_date = p.commissioned_on
    LEFT JOIN {CAL} cd ON cd.site_id = p.site_id AND cd.local_date = p.decommissioned_on
)
SELECT port_id, site_id, charger_id, connector_id, greatest(life_start, {ts_sql(r.data_start)}) AS life_start,
       least(life_end, {ts_sql(r.as_of)}) AS life_end, greatest(range_start, {ts_sql(r.data_start)}) AS range_start
FROM p
WHERE least(life_end, {ts_sql(r.as_of)}) > greatest(life_start, {ts_sql(r.data_start)})
"""


# Every message of an OCPP charger, as ``(charger_id, t)``: the evidence of life silence is inferred from.
MESSAGES_SQL = """
    SELECT charger_id, observed_at AS t FROM status_events WHERE protocol LIKE 'ocpp%'
    UNION ALL SELECT charger_id, observed_at FROM heartbeats
    UNION ALL SELECT charger_id, observed_at FROM meter_readings
    UNION ALL SELECT charger_id, started_at FROM ocpp_transactions WHERE started_at IS NOT NULL
    UNION ALL SELECT charger_id, ended_at FROM ocpp_transactions WHERE ended_at IS NOT NULL
"""


# true while some OCPP charger's messages reach no port (its charger id is on no port row)
_UNLINKED_OCPP = f"""EXISTS (SELECT 1 FROM ({MESSAGES_SQL}) um
    WHERE um.charger_id NOT IN (SELECT charger_id FROM ports WHERE charger_id IS NOT NULL))"""


def _liveness_sql(r: Range) -> str:
    """Silence gaps of OCPP chargers: ``(charger_id, t, live)`` with live 1 = online, 2 = offline from t.

    Each charger's messages in time order: a message more than ``offline_after_s``
    after the one before puts the charger online again (the first one too); a
    message followed by none for longer (or by the horizon) makes it offline from
    that message.
    """
    w = r.offline_after_s * US_PER_S
    as_of = ts_sql(r.as_of)
    return f"""
msgs AS ({MESSAGES_SQL}), seq AS (
    SELECT charger_id, t,
           lag(t) OVER (PARTITION BY charger_id ORDER BY t) AS prev_t,
           lead(t) OVER (PARTITION BY charger_id ORDER BY t) AS next_t
    FROM msgs
    WHERE t <= {as_of} AND charger_id IN (SELECT charger_id FROM {PORTS})
), live AS (
    -- online from the first message, and again after every silence
    SELECT charger_id, t, 1 AS live FROM seq
    WHERE prev_t IS NULL OR {us_sql("t", "prev_t")} > {w}
    UNION ALL
    -- offline from the last message before a silence (or before the horizon)
    SELECT charger_id, t, 2 AS live FROM seq
    WHERE (next_t IS NULL AND {us_sql(as_of, "t")} > {w}) OR {us_sql("next_t", "t")} > {w}
)"""


def intervals_sql(r: Range) -> str:
    """``_uptime_intervals``: each port's time cut into intervals of constant state.

    Columns: ``port_id``, ``site_id``, ``charger_id``, ``s``, ``e`` (UTC),
    ``state`` (up / no_data / fault / offline), ``label`` (the status that set
    it, or ``offline`` for an inferred silence), ``error_code``, ``island``
    (consecutive intervals of the same class — up, no_data, outage — share it)
    and ``cls``.
    """
    rank = status_rank_sql("e.status")
    names = " ".join(f"WHEN {v} THEN '{k}'" for v, k in _STATE_NAME.items())
    return f"""
CREATE OR REPLACE TEMP TABLE {INTERVALS} AS
WITH {_liveness_sql(r)},
ev AS (
    -- the port's own status events
    SELECT p.port_id, e.observed_at AS t, 1 AS comp, {rank} AS val, e.status, e.error_code
    FROM status_events e JOIN {PORTS} p ON p.port_id = e.port_id
    WHERE e.observed_at < p.life_end
      -- an OCPI Locations snapshot does not measure a port without a charger while OCPP telemetry links to no
      -- port: that log is what should cover it (evrevops.uptime.feed_gaps)
      AND NOT (coalesce(e.protocol, '') LIKE 'ocpi%' AND p.charger_id IS NULL AND {_UNLINKED_OCPP})
    UNION ALL
    -- the charger's connector-0 status, for each of its ports
    SELECT p.port_id, e.observed_at, 2, {rank}, e.status, e.error_code
    FROM status_events e JOIN {PORTS} p ON p.charger_id = e.charger_id
    WHERE e.connector_id = 0 AND e.port_id IS NULL AND e.observed_at < p.life_end
    UNION ALL
    SELECT p.port_id, l.t, 3, l.live, NULL, NULL
    FROM live l JOIN {PORTS} p ON p.charger_id = l.charger_id
    WHERE l.t < p.life_end
    UNION ALL
    -- a marker at the start of the lifetime, so an interval begins there
    SELECT port_id, life_start, 0, NULL, NULL, NULL FROM {PORTS}
), acc AS (
    SELECT port_id, t, comp, val,
           last_value(CASE WHEN comp = 1 THEN val END IGNORE NULLS) OVER w AS p_val,
           last_value(CASE WHEN comp = 1 THEN status END IGNORE NULLS) OVER w AS p_status,
           last_value(CASE WHEN comp = 1 THEN error_code END IGNORE NULLS) OVER w AS p_err,
           last_value(CASE WHEN comp = 2 THEN val END IGNORE NULLS) OVER w AS c_val,
           last_value(CASE WHEN comp = 2 THEN status END IGNORE NULLS) OVER w AS c_status,
           last_value(CASE WHEN comp = 2 THEN error_code END IGNORE NULLS) OVER w AS c_err,
           last_value(CASE WHEN comp = 3 THEN val END IGNORE NULLS) OVER w AS live,
           lead(t) OVER w2 AS next_t
    FROM ev
    -- at equal instants the worst status comes last (and so holds); equal ranks order by status and
    -- error code, so the result never depends on the order rows were read in
    WINDOW w AS (PARTITION BY port_id ORDER BY t, val NULLS FIRST, comp, status NULLS FIRST, error_code NULLS FIRST
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           w2 AS (PARTITION BY port_id ORDER BY t, val NULLS FIRST, comp, status NULLS FIRST, error_code NULLS FIRST)
), st AS (
    SELECT a.port_id, p.site_id, p.charger_id,
           greatest(a.t, p.life_start) AS s,
           least(coalesce(a.next_t, p.life_end), p.life_end) AS e,
           CASE WHEN a.live = 2 THEN {RANK[OFFLINE]}
                WHEN a.p_val IS NULL AND a.c_val IS NULL
                     THEN CASE WHEN a.live = 1 THEN {RANK[UP]} ELSE {RANK[NO_DATA]} END
                ELSE greatest(coalesce(a.p_val, 0), coalesce(a.c_val, 0)) END AS rk,
           CASE WHEN a.live = 2 THEN 'offline'
                WHEN coalesce(a.c_val, -1) > coalesce(a.p_val, -1) THEN a.c_status
                WHEN a.p_val IS NULL AND a.c_val IS NULL THEN CASE WHEN a.live = 1 THEN 'online' ELSE 'no data' END
                ELSE a.p_status END AS label,
           CASE WHEN a.live = 2 THEN NULL
                WHEN coalesce(a.c_val, -1) > coalesce(a.p_val, -1) THEN a.c_err ELSE a.p_err END AS error_code
    FROM acc a JOIN {PORTS} p ON p.port_id = a.port_id
), kept AS (
    SELECT port_id, site_id, charger_id, s, e,
           CASE rk {names} END AS state, label, error_code,
           CASE WHEN rk = {RANK[UP]} THEN 'up' WHEN rk = {RANK[NO_DATA]} THEN 'no_data' ELSE 'outage' END AS cls
    FROM st WHERE e > s
), marked AS (
    SELECT *, CASE WHEN cls = lag(cls) OVER (PARTITION BY port_id ORDER BY s) THEN 0 ELSE 1 END AS new_island
    FROM kept
)
SELECT port_id, site_id, charger_id, s, e, state, label, error_code, cls,
       sum(new_island) OVER (PARTITION BY port_id ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
           AS island
FROM marked
"""
