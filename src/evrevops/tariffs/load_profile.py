"""Site load profile: 15-minute average kW per site, in UTC and on the site's wall clock.

The bill engine needs the site's demand in 15-minute intervals (handbook §5).
Metered interval data is best; without it, the profile comes from sessions:
each session's energy is spread over its charging time at constant power,
capped at the port's rating.

For a session with energy :math:`E` [kWh] charging from :math:`a` to
:math:`b` (``charging_ended_at``, else ``ended_at``) on a port rated
:math:`P_r` [kW]:

* the power is :math:`P = E / (b - a)`; when :math:`P > P_r` the session
  charges at :math:`P_r` from :math:`a` until :math:`a + E / P_r` (never past
  ``ended_at``: a session that could not have drawn its energy at the rated
  power within its plug-in time keeps its own average power);
* interval :math:`k` (``[900k, 900(k+1))`` epoch seconds) receives
  :math:`P \\cdot \\mathrm{overlap}_k / 900` kW.

Summed per site and interval this gives ``power_kw``; the interval's energy
is ``power_kw × 0.25`` kWh. ``local_at`` is the interval start on the site's
wall clock (IANA ``time_zone`` of the site, DST-correct: a spring-forward day
has 92 intervals, a fall-back day 100). Sessions with energy but no charging
time cannot be placed; :func:`unplaced` reports them.
"""

from __future__ import annotations

import datetime as dt

import duckdb

STEP_S = 900

SESSIONS_SQL = """
WITH s AS (
    SELECT s.site_id, s.energy_kwh, p.rated_kw,
           epoch(s.started_at) AS a,
           epoch(least(coalesce(s.charging_ended_at, s.ended_at), s.ended_at)) AS b0,
           epoch(s.ended_at) AS e
    FROM {sessions} s LEFT JOIN {ports} p ON p.port_id = s.port_id
    WHERE s.energy_kwh > 0 AND s.ended_at > {start} AND s.started_at < {end} {site_filter}
),
c AS (
    SELECT site_id, energy_kwh, a, e,
           CASE WHEN rated_kw > 0 AND energy_kwh * 3600 / (b0 - a) > rated_kw
                     AND a + energy_kwh * 3600 / rated_kw <= e
                THEN a + energy_kwh * 3600 / rated_kw ELSE b0 END AS b
    FROM s WHERE b0 > a
),
k AS (
    SELECT site_id, energy_kwh * 3600 / (b - a) AS kw, a, b,
           unnest(range(CAST(floor(a / {step}) AS BIGINT), CAST(ceil(b / {step}) AS BIGINT))) AS k
    FROM c
),
w AS (
    SELECT site_id, k, sum(kw * (least(b, (k + 1) * {step}) - greatest(a, k * {step})) / {step}) AS power_kw
    FROM k GROUP BY site_id, k
)
SELECT w.site_id, to_timestamp(w.k * {step})::TIMESTAMPTZ AT TIME ZONE 'UTC' AS interval_at,
       (to_timestamp(w.k * {step})::TIMESTAMPTZ AT TIME ZONE coalesce(st.time_zone, 'UTC')) AS local_at,
       w.power_kw
FROM w LEFT JOIN {sites} st ON st.site_id = w.site_id
WHERE w.k * {step} >= epoch({start}) AND w.k * {step} < epoch({end})
"""


def _ts(t: dt.datetime) -> str:
    return f"TIMESTAMP '{t.isoformat(sep=' ')}'"


def from_sessions_sql(
    start: dt.datetime,
    end: dt.datetime,
    sessions: str = "sessions",
    ports: str = "ports",
    sites: str = "sites",
    site_ids: list[str] | None = None,
) -> str:
    """SQL of the 15-minute profile from sessions, for intervals starting in ``[start, end)`` (UTC).

    The relations need: *sessions* ``site_id, port_id, started_at, ended_at,
    charging_ended_at, energy_kwh``; *ports* ``port_id, rated_kw``; *sites*
    ``site_id, time_zone``. Returns ``site_id, interval_at, local_at,
    power_kw`` for intervals with load.
    """
    flt = ""
    if site_ids is not None:
        quoted = ", ".join("'" + s.replace("'", "''") + "'" for s in site_ids)
        flt = f"AND s.site_id IN ({quoted})" if site_ids else "AND FALSE"
    return SESSIONS_SQL.format(
        sessions=sessions, ports=ports, sites=sites, start=_ts(start), end=_ts(end), step=STEP_S, site_filter=flt
    )


def from_sessions(
    con: duckdb.DuckDBPyConnection, start: dt.datetime, end: dt.datetime, **kw
) -> duckdb.DuckDBPyRelation:
    """The 15-minute profile from sessions (see :func:`from_sessions_sql`)."""
    return con.sql(from_sessions_sql(start, end, **kw))


def unplaced(con: duckdb.DuckDBPyConnection, start: dt.datetime, end: dt.datetime, sessions: str = "sessions"):
    """Sessions in the range with energy but no charging time: (sessions, kWh) per site."""
    return con.sql(
        f"""SELECT site_id, count(*) AS sessions, sum(energy_kwh) AS energy_kwh FROM {sessions}
            WHERE energy_kwh > 0 AND ended_at > {_ts(start)} AND started_at < {_ts(end)}
              AND least(coalesce(charging_ended_at, ended_at), ended_at) <= started_at
            GROUP BY site_id"""
    )
