"""Site load profile: 15-minute average kW per site, in UTC and on the site's wall clock.

The bill engine needs the site's demand in 15-minute intervals (handbook §5).
Metered data is best: a port with OCPP ``Energy.Active.Import.Register``
readings in the range is profiled from its meter — the energy between two
consecutive readings (Wh, kWh converted) spread evenly over the time between
them. Every other port is profiled from its sessions: each session's energy
spread over its charging time at constant power, capped at the port's rating.

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
WITH readings AS (
    SELECT p.site_id, m.port_id, m.observed_at,
           m.value * CASE WHEN lower(m.unit) = 'kwh' THEN 1000 ELSE 1 END AS wh
    FROM {meter} m JOIN {ports} p ON p.port_id = m.port_id
    WHERE m.measurand = 'Energy.Active.Import.Register' AND m.phase IS NULL
      AND m.observed_at > {start} - INTERVAL 1 DAY AND m.observed_at < {end} + INTERVAL 1 DAY {meter_filter}
),
steps AS (
    SELECT site_id, port_id,
           epoch(lag(observed_at) OVER w) AS a, epoch(observed_at) AS b, wh - lag(wh) OVER w AS dwh
    FROM readings WINDOW w AS (PARTITION BY port_id ORDER BY observed_at, wh)
),
meter_spans AS (
    SELECT site_id, dwh / 1000 * 3600 / (b - a) AS kw, a, b FROM steps WHERE dwh > 0 AND b > a
),
s AS (
    SELECT s.site_id, s.energy_kwh, p.rated_kw,
           epoch(s.started_at) AS a,
           epoch(least(coalesce(s.charging_ended_at, s.ended_at), s.ended_at)) AS b0,
           epoch(s.ended_at) AS e
    FROM {sessions} s LEFT JOIN {ports} p ON p.port_id = s.port_id
    WHERE s.energy_kwh > 0 AND s.ended_at > {start} AND s.started_at < {end} {site_filter}
      AND s.port_id NOT IN (SELECT DISTINCT port_id FROM readings WHERE port_id IS NOT NULL)
),
c AS (
    SELECT site_id, energy_kwh, a, e,
           CASE WHEN rated_kw > 0 AND energy_kwh * 3600 / (b0 - a) > rated_kw
                     AND a + energy_kwh * 3600 / rated_kw <= e
                THEN a + energy_kwh * 3600 / rated_kw ELSE b0 END AS b
    FROM s WHERE b0 > a
),
spans AS (
    SELECT site_id, 'sessions' AS source, energy_kwh * 3600 / (b - a) AS kw, a, b FROM c
    UNION ALL
    SELECT site_id, 'meter' AS source, kw, a, b FROM meter_spans
),
k AS (
    SELECT site_id, source, kw, a, b,
           unnest(range(CAST(floor(a / {step}) AS BIGINT), CAST(ceil(b / {step}) AS BIGINT))) AS k
    FROM spans
),
w AS (
    SELECT site_id, k, any_value(source) AS source,
           sum(kw * (least(b, (k + 1) * {step}) - greatest(a, k * {step})) / {step}) AS power_kw
    FROM k GROUP BY site_id, k
)
SELECT w.site_id, w.source, to_timestamp(w.k * {step})::TIMESTAMPTZ AT TIME ZONE 'UTC' AS interval_at,
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
    meter: str | None = None,
) -> str:
    """SQL of the 15-minute profile from sessions, for intervals starting in ``[start, end)`` (UTC).

    The relations need: *sessions* ``site_id, port_id, started_at, ended_at,
    charging_ended_at, energy_kwh``; *ports* ``port_id, rated_kw``; *sites*
    ``site_id, time_zone``; *meter* (optional, the ``meter_readings``
    table) ``port_id, observed_at, measurand, phase, value, unit``. Returns
    ``site_id, source`` (``meter`` or ``sessions``), ``interval_at``,
    ``local_at``, ``power_kw`` for intervals with load.
    """
    flt = mflt = ""
    if site_ids is not None:
        quoted = ", ".join("'" + s.replace("'", "''") + "'" for s in site_ids)
        flt = f"AND s.site_id IN ({quoted})" if site_ids else "AND FALSE"
        mflt = f"AND p.site_id IN ({quoted})" if site_ids else "AND FALSE"
    if meter is None:
        meter = (
            "(SELECT NULL::VARCHAR AS port_id, NULL::TIMESTAMP AS observed_at, NULL::VARCHAR AS measurand,"
            " NULL::VARCHAR AS phase, NULL::DOUBLE AS value, NULL::VARCHAR AS unit WHERE FALSE)"
        )
    return SESSIONS_SQL.format(
        sessions=sessions,
        ports=ports,
        sites=sites,
        meter=meter,
        start=_ts(start),
        end=_ts(end),
        step=STEP_S,
        site_filter=flt,
        meter_filter=mflt,
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
