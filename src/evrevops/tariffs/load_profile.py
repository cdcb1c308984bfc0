"""Site load profile: 15-minute average kW per site, in UTC and on the site's wall clock.

The bill engine needs the site's demand in 15-minute intervals (handbook §5).
Metered data is best: a port with OCPP ``Energy.Active.Import.Register``
readings is profiled from its meter over its register history (first to
last reading) — the energy between two consecutive readings (Wh, kWh
converted) spread evenly over the time between them, the steps across the
range's edges included (each port's last reading before the range and first
after it are read too), so a month's load is the same whatever range it is
built in. Sessions the register did not see (of ports without readings, or
wholly before a port's first reading or after its last) are profiled from
the sessions: each session's energy
spread over its charging time at constant power, capped at the port's rating;
a CDR whose ``charging_periods`` show more than one charging period has each
period's energy spread over that period's own charging time instead.

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

The SQL (:func:`from_sessions_sql`) is written once, in DuckDB's dialect, and runs on DuckDB
and, transpiled by :func:`evrevops.warehouse.sql.to_spark`, on Spark with the same rows
(``power_kw`` equal to float rounding: the engines add the spans in different orders).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa

from evrevops.core.sqltext import sql_in, ts_sql

STEP_S = 900

# The SQL is DuckDB's dialect and runs unchanged on Spark (transpiled by SQLGlot,
# :func:`evrevops.warehouse.sql.to_spark`): instants are epoch seconds from ``date_diff`` (exact to
# the microsecond on both), interval starts come back through ``make_timestamp`` and the wall clock
# through ``AT TIME ZONE`` (Spark: ``from_utc_timestamp``, which needs the session in UTC), and
# ``from_json`` / ``list_sum`` of the CDR periods are carried by the transforms of ``to_spark``.
SESSIONS_SQL = """
WITH coverage AS (
    -- each metered port's register history: its first and last reading ever, and its readings
    -- just outside the range, so a step across the range's edge is whole whatever range is asked
    SELECT m.port_id, min(m.observed_at) AS first_at, max(m.observed_at) AS last_at,
           max(CASE WHEN m.observed_at <= {meter_start} THEN m.observed_at END) AS before_at,
           min(CASE WHEN m.observed_at >= {meter_end} THEN m.observed_at END) AS after_at
    FROM {meter} m JOIN {ports} p ON p.port_id = m.port_id
    WHERE m.measurand = 'Energy.Active.Import.Register' AND m.phase IS NULL {meter_filter}
    GROUP BY m.port_id
),
readings AS (
    -- a reading's site: where the port was on the reading's local day (its membership, port_sites)
    SELECT ps.site_id, m.port_id, m.observed_at,
           m.value * CASE WHEN lower(m.unit) = 'kwh' THEN 1000 ELSE 1 END AS wh
    FROM {meter} m JOIN coverage c ON c.port_id = m.port_id
    JOIN {port_sites} ps ON ps.port_id = m.port_id
    LEFT JOIN {sites} pst ON pst.site_id = ps.site_id
    WHERE m.measurand = 'Energy.Active.Import.Register' AND m.phase IS NULL
      AND m.observed_at >= coalesce(c.before_at, {meter_start})
      AND m.observed_at <= coalesce(c.after_at, {meter_end})
      AND (ps.from_on IS NULL OR ps.from_on <= {reading_day}) AND (ps.to_on IS NULL OR ps.to_on > {reading_day})
),
steps AS (
    -- the register's steps over all its readings (wherever the port was); a step is the site's of its end
    SELECT site_id, port_id,
           {epoch_prev} AS a, {epoch_obs} AS b,
           wh - lag(wh) OVER (PARTITION BY port_id ORDER BY observed_at, wh, site_id) AS dwh
    FROM readings
),
meter_spans AS (
    SELECT site_id, dwh / 1000 * 3600 / (b - a) AS kw, a, b FROM steps WHERE dwh > 0 AND b > a {span_filter}
),
s AS (
    SELECT site_id, energy_kwh, rated_kw,
           {epoch_started} AS a,
           {epoch_charged} AS b0,
           {epoch_ended} AS e
    FROM {sel} sel WHERE NOT multi
),
cp AS (
    -- CDRs that charged in more than one charging period: each period's energy over its own TIME
    SELECT session_id, site_id, rated_kw, {epoch_ended} AS e,
           unnest(from_json(charging_periods,
               '[{{"start_date_time":"VARCHAR","dimensions":[{{"type":"VARCHAR","volume":"DOUBLE"}}]}}]')) AS p
    FROM {sel} sel WHERE multi
),
cq AS (
    SELECT session_id, site_id, rated_kw, e, {epoch_period} AS a,
           coalesce(list_sum(list_transform(list_filter(p.dimensions, lambda d: d.type = 'ENERGY'),
                                            lambda d: d.volume)), 0) AS kwh,
           coalesce(list_sum(list_transform(list_filter(p.dimensions, lambda d: d.type = 'TIME'),
                                            lambda d: d.volume)), 0) AS h
    FROM cp
),
cr AS (
    SELECT *, CASE WHEN h > 0 THEN least(a + h * 3600, nxt) ELSE nxt END AS b0
    FROM (SELECT *, least(coalesce(lead(a) OVER (PARTITION BY session_id ORDER BY a), e), e) AS nxt FROM cq) cn
),
period_spans AS (
    SELECT site_id, kwh * 3600 / (b - a) AS kw, a, b FROM (
        SELECT site_id, kwh, a,
               {period_end} AS b
        FROM cr WHERE kwh > 0 AND b0 > a) pe
),
c AS (
    SELECT site_id, energy_kwh, a, e,
           {session_end} AS b
    FROM s WHERE b0 > a
),
spans AS (
    SELECT site_id, 'sessions' AS source, energy_kwh * 3600 / (b - a) AS kw, a, b FROM c
    UNION ALL
    SELECT site_id, 'sessions' AS source, kw, a, b FROM period_spans
    UNION ALL
    SELECT site_id, 'meter' AS source, kw, a, b FROM meter_spans
),
k AS (
    SELECT site_id, source, kw, a, b,
           unnest(range(CAST(floor(a / {step}) AS BIGINT), CAST(ceil(b / {step}) AS BIGINT))) AS k
    FROM spans
),
w AS (
    -- an interval with any load placed from sessions is 'sessions'; 'meter' when all of it is metered
    SELECT site_id, k, max(source) AS source,
           -- an exact sum, the same in any order the rows are added in (evrevops.tariffs.billing.exact_sum_sql)
           {power_sum} AS power_kw
    FROM k GROUP BY site_id, k
)
SELECT w.site_id, w.source, {interval_at} AS interval_at, {local_at} AS local_at, w.power_kw
FROM w LEFT JOIN {sites} st ON st.site_id = w.site_id
WHERE w.k * {step} >= {epoch_start} AND w.k * {step} < {epoch_end}
"""

# The sessions a profile places: a subquery read twice (by the constant-power and the charging-period
# paths), written out at both rather than as a CTE, which DuckDB would compute once in full; each copy
# has its own filter pushed down (what `AS NOT MATERIALIZED` asked of DuckDB, which Spark cannot parse).
SELECTED_SQL = """(
    SELECT {sid_col} AS session_id, s.site_id, s.energy_kwh, p.rated_kw, s.started_at, s.ended_at,
           s.charging_ended_at, {multi} AS multi, {periods_col} AS charging_periods
    FROM {sessions} s LEFT JOIN {ports} p ON p.port_id = s.port_id
    LEFT JOIN coverage c ON c.port_id = s.port_id
    WHERE s.energy_kwh > 0 AND s.ended_at > {start} AND s.started_at < {end} {site_filter}
      -- the meter places what its register saw: a session of a metered port within its register
      -- history is in the meter's steps; one before the first reading or after the last is not
      AND (c.port_id IS NULL OR s.ended_at <= c.first_at OR s.started_at >= c.last_at)
)"""


NANO = 1_000_000_000  # kW as whole nano-kW: 10⁻⁹ kW, far below a cent


def exact_sum_sql(col: str) -> str:
    """SQL of Σ *col* [kW] over many rows, exact and the same in any order the engine adds them in.

    Each value is rounded to whole nano-kW and the integers are added (the cheapest exact sum),
    then read back as DOUBLE: a float sum depends on the order an engine's threads meet the rows,
    so the same load would not give the same bill to the last bit twice.
    """
    return f"CAST(sum(CAST(round({col} * {NANO}) AS BIGINT)) AS DOUBLE) / {NANO}"


def epoch_sql(ts: str) -> str:
    """SQL of a TIMESTAMP (UTC, no zone) as seconds since 1970-01-01 [s], a DOUBLE exact to the microsecond.

    The same text on DuckDB and (transpiled) on Spark; ``epoch()`` would truncate to whole
    seconds on Spark (``unix_timestamp``).
    """
    return f"(date_diff('microsecond', TIMESTAMP '1970-01-01', {ts}) / 1000000)"


def instant_sql(seconds: str) -> str:
    """SQL of the UTC TIMESTAMP (no zone) *seconds* [s, whole] after 1970-01-01."""
    return f"CAST(make_timestamp(CAST({seconds} AS BIGINT) * 1000000) AS TIMESTAMP)"


def wall_clock_sql(seconds: str, zone: str) -> str:
    """SQL of the instant *seconds* [s, whole] after 1970-01-01 UTC on the wall clock of IANA *zone* (a TIMESTAMP).

    DuckDB reads ``(… AT TIME ZONE 'UTC') AT TIME ZONE zone`` whatever its session time zone;
    on Spark it is ``from_utc_timestamp``, whose result is the wall clock only in a session in
    UTC (as :class:`evrevops.warehouse.spark.SparkWarehouse` opens it).
    """
    return (
        f"CAST((make_timestamp(CAST({seconds} AS BIGINT) * 1000000) AT TIME ZONE 'UTC') AT TIME ZONE {zone}"
        " AS TIMESTAMP)"
    )


def _epoch(t: dt.datetime) -> str:
    """Seconds since 1970-01-01 of a naive UTC instant, as a SQL number."""
    s = (t - dt.datetime(1970, 1, 1)).total_seconds()
    return str(int(s)) if s == int(s) else repr(s)


def capped_end_sql(kwh: str, a: str = "a", b0: str = "b0", e: str = "e", rated: str = "rated_kw") -> str:
    """SQL of the end of a charge of *kwh* from *a* [epoch s] that would end at *b0*, capped at the port rating.

    When the average power ``kwh / (b0 − a)`` exceeds *rated* [kW], the charge
    runs at the rating until ``a + kwh / rated``, if that is before plug-out
    *e*; otherwise (or with no rating) it ends at *b0*.
    """
    return (
        f"CASE WHEN {rated} > 0 AND {kwh} * 3600 / ({b0} - {a}) > {rated} AND {a} + {kwh} * 3600 / {rated} <= {e}"
        f" THEN {a} + {kwh} * 3600 / {rated} ELSE {b0} END"
    )


def from_sessions_sql(
    start: dt.datetime,
    end: dt.datetime,
    sessions: str = "sessions",
    ports: str = "ports",
    sites: str = "sites",
    site_ids: list[str] | None = None,
    meter: str | None = None,
    cdr_periods: bool = True,
    port_sites: str = "port_sites",
) -> str:
    """SQL of the 15-minute profile from sessions, for intervals starting in ``[start, end)`` (UTC).

    The relations need: *sessions* ``site_id, port_id, started_at, ended_at,
    charging_ended_at, energy_kwh``; *ports* ``port_id, rated_kw``; *sites*
    ``site_id, time_zone``; *meter* (optional, the ``meter_readings``
    table) ``port_id, observed_at, measurand, phase, value, unit``. Returns
    ``site_id, source`` (``meter`` or ``sessions``), ``interval_at``,
    ``local_at``, ``power_kw`` for intervals with load. With *cdr_periods*,
    *sessions* also has ``charging_periods`` (OCPI JSON text): a CDR with two
    or more charging periods has each period's energy spread over that
    period's ``TIME`` from its start (or to the next period when it states
    none), capped at the port rating: a capped period charges on past its
    own end, never past plug-out.

    A session's load is its own site's (``sessions.site_id``, the CDR's location). A meter
    reading's is the site the port was at on the reading's local day: *port_sites* (the
    warehouse's membership view, :mod:`evrevops.warehouse.port_sites`; ``port_id``,
    ``site_id``, ``from_on``, ``to_on``), read only with *meter*. The register's steps run over
    all its readings, wherever the port was; a step belongs to the site of the reading that ends it.
    """
    flt = sql_in("s.site_id", site_ids)
    if meter is None:
        meter = (
            "(SELECT NULL::VARCHAR AS port_id, NULL::TIMESTAMP AS observed_at, NULL::VARCHAR AS measurand,"
            " NULL::VARCHAR AS phase, NULL::DOUBLE AS value, NULL::VARCHAR AS unit WHERE FALSE)"
        )
        port_sites = (
            "(SELECT NULL::VARCHAR AS port_id, NULL::VARCHAR AS site_id, NULL::DATE AS from_on,"
            " NULL::DATE AS to_on WHERE FALSE)"
        )
    # the metered ports that were ever at a chosen site (all their readings make their steps)
    mflt = f"AND m.port_id IN (SELECT port_id FROM {port_sites} x WHERE TRUE {sql_in('x.site_id', site_ids)})"
    # Only a CDR with two charging periods or more changes the shape (one period from the session start
    # over its TIME is the constant-power case): a text test finds them without parsing every CDR.
    multi = 'coalesce(s.charging_periods LIKE \'%"ENERGY"%"ENERGY"%\', FALSE)' if cdr_periods else "FALSE"
    periods_col = "s.charging_periods" if cdr_periods else "CAST(NULL AS VARCHAR)"
    sel = SELECTED_SQL.format(
        multi=multi,
        periods_col=periods_col,
        sid_col="s.session_id" if cdr_periods else "CAST(NULL AS VARCHAR)",
        sessions=sessions,
        ports=ports,
        start=ts_sql(start),
        end=ts_sql(end),
        site_filter=flt,
    )
    day = dt.timedelta(days=1)
    return SESSIONS_SQL.format(
        power_sum=exact_sum_sql(f"kw * (least(b, (k + 1) * {STEP_S}) - greatest(a, k * {STEP_S})) / {STEP_S}"),
        period_end=capped_end_sql("kwh"),
        session_end=capped_end_sql("energy_kwh"),
        sel=sel,
        ports=ports,
        sites=sites,
        meter=meter,
        meter_start=ts_sql(start - day),
        meter_end=ts_sql(end + day),
        epoch_prev=epoch_sql("lag(observed_at) OVER (PARTITION BY port_id ORDER BY observed_at, wh, site_id)"),
        epoch_obs=epoch_sql("observed_at"),
        epoch_started=epoch_sql("started_at"),
        epoch_charged=epoch_sql("least(coalesce(charging_ended_at, ended_at), ended_at)"),
        epoch_ended=epoch_sql("ended_at"),
        epoch_period=epoch_sql("CAST(CAST(p.start_date_time AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP)"),
        interval_at=instant_sql(f"w.k * {STEP_S}"),
        local_at=wall_clock_sql(f"w.k * {STEP_S}", "coalesce(st.time_zone, 'UTC')"),
        step=STEP_S,
        epoch_start=_epoch(start),
        epoch_end=_epoch(end),
        meter_filter=mflt if site_ids is not None else "",
        span_filter=sql_in("site_id", site_ids),
        port_sites=port_sites,
        reading_day="CAST((m.observed_at AT TIME ZONE 'UTC') AT TIME ZONE coalesce(pst.time_zone, 'UTC') AS DATE)",
    )


def from_sessions(wh, start: dt.datetime, end: dt.datetime, **kw) -> pa.Table:
    """The 15-minute profile from sessions (see :func:`from_sessions_sql`), on either engine.

    *wh* is a :class:`~evrevops.warehouse.db.Warehouse` or a
    :class:`~evrevops.warehouse.spark.SparkWarehouse`; returns the rows as Arrow (``wh.fetch``).
    """
    return wh.fetch(from_sessions_sql(start, end, **kw))


def unplaced_sql(start: dt.datetime, end: dt.datetime, sessions: str = "sessions") -> str:
    """SQL of the sessions in the range with energy but no charging time: (sessions, kWh) per site."""
    return f"""SELECT site_id, count(*) AS sessions, sum(energy_kwh) AS energy_kwh FROM {sessions}
            WHERE energy_kwh > 0 AND ended_at > {ts_sql(start)} AND started_at < {ts_sql(end)}
              AND least(coalesce(charging_ended_at, ended_at), ended_at) <= started_at
            GROUP BY site_id"""


def unplaced(con: duckdb.DuckDBPyConnection, start: dt.datetime, end: dt.datetime, sessions: str = "sessions"):
    """Sessions in the range with energy but no charging time: (sessions, kWh) per site, on a DuckDB connection.

    On a warehouse of either engine: ``wh.fetch(unplaced_sql(start, end))``.
    """
    return con.sql(unplaced_sql(start, end, sessions))
