"""Bulk repricing: every session priced under an OCPI Tariff in SQL, and revenue leakage.

The same rules as the reference engine :mod:`evrevops.tariffs.pricing`
(which is checked against the OCPI peer conformance suite), written as set
operations so that a month of a network's CDRs is priced without a loop over
sessions: periods are exploded from each CDR's ``charging_periods`` (or, for
a session without them, one charging period then one parking period); each
period is joined to the tariff's elements whose restrictions hold at its
start; the first element per dimension prices it; ``step_size``, ``FLAT``
and ``min_price``/``max_price`` are applied once per session. Tests check
this engine against the reference engine, session by session.

``recut=True`` first cuts every period at the instants where the tariff's
restrictions can change (local midnights, time-of-day boundaries, duration
thresholds), prorating its volumes by time — needed when a session is
priced under a tariff other than the one its CDR was cut for (the ``price``
what-if). ``min_kwh``/``max_kwh`` thresholds are then evaluated at period
starts without a cut.

:func:`leakage` compares the repriced total with the CDR's billed
``total_cost`` and sums the differences by site and local month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pyarrow as pa

from evrevops.core.calendar import next_month
from evrevops.core.money import minor_sql
from evrevops.core.sqltext import sql_in, sql_literal
from evrevops.tariffs.ocpi_tariff import Tariff, parse_tariff
from evrevops.tariffs.tariff_tables import element_table
from evrevops.warehouse import duckdb_only
from evrevops.warehouse.protocol import WarehouseLike

LINE_COLUMNS = ("energy_excl", "time_excl", "parking_excl", "fixed_excl", "bounds_excl")


def register_tariffs(con: duckdb.DuckDBPyConnection, tariffs: Mapping[str, Tariff]) -> None:
    for name, table in element_table(tariffs).items():
        con.register(name, table)


# Sessions → periods: (session_id, idx, start_at, end_at, energy_kwh, charging_h, parking_h, power_kw, current_a)
# plus the session's tariff, time zone and start. {sessions} has the sessions table's columns.
_PERIODS_SQL = """
WITH ss AS (
    SELECT s.session_id, s.site_id, {tariff_expr} AS tariff_id, coalesce(st.time_zone, 'UTC') AS time_zone,
           s.started_at, s.ended_at, s.charging_ended_at, s.energy_kwh, s.charging_s, s.idle_s, s.charging_periods,
           s.total_cost_minor, s.currency
    FROM {sessions} s LEFT JOIN sites st ON st.site_id = s.site_id
    WHERE TRUE {where}
),
cdr AS (
    SELECT session_id, p, i FROM (
        SELECT session_id,
               unnest(from_json(charging_periods,
                   '[{{"start_date_time":"VARCHAR","dimensions":[{{"type":"VARCHAR","volume":"VARCHAR"}}]}}]')) AS p,
               generate_subscripts(from_json(charging_periods, '["JSON"]'), 1) AS i
        FROM ss WHERE charging_periods IS NOT NULL)
),
cp AS (
    SELECT session_id, i,
           CAST(CAST(p.start_date_time AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP) AS start_at,
           coalesce(list_sum(list_transform(list_filter(p.dimensions, lambda d: d.type = 'ENERGY'),
                                            lambda d: CAST(d.volume AS DECIMAL(18, 9)))), 0) AS energy_kwh,
           coalesce(list_sum(list_transform(list_filter(p.dimensions, lambda d: d.type = 'TIME'),
                                            lambda d: CAST(d.volume AS DECIMAL(18, 9)))), 0) AS charging_h,
           coalesce(list_sum(list_transform(list_filter(p.dimensions, lambda d: d.type = 'PARKING_TIME'),
                                            lambda d: CAST(d.volume AS DECIMAL(18, 9)))), 0) AS parking_h,
           coalesce(list_max(list_transform(list_filter(p.dimensions, lambda d: d.type = 'MAX_POWER'),
                                            lambda d: CAST(d.volume AS DECIMAL(18, 9)))),
                    list_max(list_transform(list_filter(p.dimensions, lambda d: d.type = 'POWER'),
                                            lambda d: CAST(d.volume AS DECIMAL(18, 9))))) AS power_kw,
           coalesce(list_max(list_transform(list_filter(p.dimensions, lambda d: d.type = 'MAX_CURRENT'),
                                            lambda d: CAST(d.volume AS DECIMAL(18, 9)))),
                    list_max(list_transform(list_filter(p.dimensions, lambda d: d.type = 'CURRENT'),
                                            lambda d: CAST(d.volume AS DECIMAL(18, 9))))) AS current_a
    FROM cdr
),
synthetic AS (
    -- a session without charging periods: it charges first, then parks
    SELECT session_id, 1 AS i, started_at AS start_at, CAST(energy_kwh AS DECIMAL(18, 9)) AS energy_kwh,
           CAST(charging_s / 3600 AS DECIMAL(18, 9)) AS charging_h, CAST(0 AS DECIMAL(18, 9)) AS parking_h,
           CAST(NULL AS DECIMAL(18, 9)) AS power_kw, CAST(NULL AS DECIMAL(18, 9)) AS current_a
    FROM ss WHERE charging_periods IS NULL
    UNION ALL
    SELECT session_id, 2, started_at + to_microseconds(CAST(charging_s * 1000000 AS BIGINT)),
           0, 0, CAST(idle_s / 3600 AS DECIMAL(18, 9)), NULL, NULL
    FROM ss WHERE charging_periods IS NULL AND idle_s > 0
),
allp AS (SELECT * FROM cp UNION ALL SELECT * FROM synthetic)
SELECT a.session_id, row_number() OVER (PARTITION BY a.session_id ORDER BY a.start_at, a.i) AS idx,
       a.start_at,
       coalesce(lead(a.start_at) OVER (PARTITION BY a.session_id ORDER BY a.start_at, a.i), ss.ended_at) AS end_at,
       a.energy_kwh, a.charging_h, a.parking_h, a.power_kw, a.current_a,
       ss.site_id, ss.tariff_id, ss.time_zone, ss.started_at AS session_start
FROM allp a JOIN ss USING (session_id)
"""

# Cut every period where the tariff can change price (local midnights, time boundaries, durations).
_RECUT_SQL = """
WITH p AS (SELECT * FROM _rp_periods),
sess AS (SELECT session_id, any_value(tariff_id) AS tariff_id, any_value(time_zone) AS tz,
                min(start_at) AS a, max(end_at) AS e, any_value(session_start) AS s0 FROM p GROUP BY session_id),
tod AS (
    SELECT DISTINCT tariff_id, x AS us FROM (
        SELECT tariff_id, start_us AS x FROM tariff_elements UNION ALL SELECT tariff_id, end_us FROM tariff_elements
        UNION ALL SELECT DISTINCT tariff_id, 0 FROM tariff_elements) WHERE x IS NOT NULL
),
days AS (
    SELECT session_id, tariff_id, tz, s0, a, e,
           unnest(range(CAST(timezone(tz, a::TIMESTAMPTZ) AS DATE) - 1, CAST(timezone(tz, e::TIMESTAMPTZ) AS DATE) + 2,
                        INTERVAL 1 DAY)) AS d
    FROM sess
),
cuts AS (
    SELECT DISTINCT session_id, c FROM (
        SELECT dy.session_id, CAST(timezone(dy.tz, CAST(dy.d AS TIMESTAMP) + to_microseconds(t.us)) AT TIME ZONE 'UTC'
                                   AS TIMESTAMP) AS c, dy.a, dy.e
        FROM days dy JOIN tod t ON t.tariff_id = dy.tariff_id
        UNION ALL
        SELECT s.session_id, s.s0 + to_seconds(x.s), s.a, s.e FROM sess s JOIN (
            SELECT tariff_id, min_dur_s AS s FROM tariff_elements WHERE min_dur_s IS NOT NULL
            UNION SELECT tariff_id, max_dur_s FROM tariff_elements WHERE max_dur_s IS NOT NULL) x
          ON x.tariff_id = s.tariff_id
    ) WHERE c > a AND c < e
),
pieces AS (
    SELECT p.*, pc.c FROM p LEFT JOIN cuts pc ON pc.session_id = p.session_id AND pc.c > p.start_at AND pc.c < p.end_at
),
edges AS (
    SELECT session_id, idx, any_value(start_at) AS ps, any_value(end_at) AS pe,
           coalesce(list_sort(list_distinct(list(c) FILTER (WHERE c IS NOT NULL))), []) AS cs
    FROM pieces GROUP BY session_id, idx
),
split AS (
    SELECT e.session_id, e.idx, u.k,
           CASE WHEN u.k = 1 THEN e.ps ELSE e.cs[u.k - 1] END AS start_at,
           CASE WHEN u.k = len(e.cs) + 1 THEN e.pe ELSE e.cs[u.k] END AS end_at, e.ps, e.pe
    FROM edges e, (SELECT unnest(range(1, 1000)) AS k) u WHERE u.k <= len(e.cs) + 1
)
SELECT s.session_id, row_number() OVER (PARTITION BY s.session_id ORDER BY s.start_at) AS idx, s.start_at, s.end_at,
       CAST(p.energy_kwh * f AS DECIMAL(18, 9)) AS energy_kwh, CAST(p.charging_h * f AS DECIMAL(18, 9)) AS charging_h,
       CAST(p.parking_h * f AS DECIMAL(18, 9)) AS parking_h, p.power_kw, p.current_a,
       p.site_id, p.tariff_id, p.time_zone, p.session_start
FROM (SELECT *, CASE WHEN pe > ps THEN CAST(epoch_us(end_at) - epoch_us(start_at) AS DOUBLE)
                                         / (epoch_us(pe) - epoch_us(ps)) ELSE 1 END AS f FROM split) s
JOIN p ON p.session_id = s.session_id AND p.idx = s.idx
"""

_PRICE_SQL = """
WITH p AS (
    SELECT *, timezone(time_zone, start_at::TIMESTAMPTZ) AS local_at,
           coalesce(sum(energy_kwh) OVER (PARTITION BY session_id ORDER BY idx
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS energy_before,
           (epoch_us(start_at) - epoch_us(session_start)) / 1000000.0 AS elapsed_s
    FROM {periods}
),
pl AS (
    SELECT *, epoch_us(local_at) - epoch_us(date_trunc('day', local_at)) AS tod_us,
           CAST(local_at AS DATE) AS local_date, CAST(EXTRACT(isodow FROM local_at) AS INTEGER) AS dow,
           coalesce(power_kw, CASE WHEN charging_h > 0 THEN energy_kwh / charging_h ELSE 0 END, 0) AS kw,
           coalesce(current_a, 0) AS amps
    FROM p
),
m AS (
    SELECT pl.session_id, pl.idx, e.dim, e.el, e.price, e.vat, e.step
    FROM pl JOIN tariff_elements e ON e.tariff_id = pl.tariff_id
    WHERE NOT e.reservation
      AND CASE WHEN e.start_us IS NULL AND e.end_us IS NULL THEN TRUE
               WHEN e.end_us IS NULL THEN pl.tod_us >= e.start_us
               WHEN coalesce(e.start_us, 0) < e.end_us THEN pl.tod_us >= coalesce(e.start_us, 0) AND pl.tod_us < e.end_us
               WHEN coalesce(e.start_us, 0) > e.end_us THEN pl.tod_us >= coalesce(e.start_us, 0) OR pl.tod_us < e.end_us
               ELSE TRUE END
      AND (e.start_date IS NULL OR pl.local_date >= e.start_date)
      AND (e.end_date IS NULL OR pl.local_date < e.end_date)
      AND (e.days_mask IS NULL OR (e.days_mask >> (pl.dow - 1)) % 2 = 1)
      AND (e.min_kwh IS NULL OR pl.energy_before >= e.min_kwh)
      AND (e.max_kwh IS NULL OR pl.energy_before < e.max_kwh)
      AND (e.min_dur_s IS NULL OR pl.elapsed_s >= e.min_dur_s)
      AND (e.max_dur_s IS NULL OR pl.elapsed_s < e.max_dur_s)
      AND (e.min_power IS NULL OR pl.kw >= e.min_power)
      AND (e.max_power IS NULL OR pl.kw < e.max_power)
      AND (e.min_current IS NULL OR pl.amps >= e.min_current)
      AND (e.max_current IS NULL OR pl.amps < e.max_current)
),
first_match AS (
    -- arg_min over a struct: a NULL vat must come with its element, not be skipped for another's
    SELECT session_id, idx, dim, c.price, c.vat, c.step
    FROM (SELECT session_id, idx, dim, arg_min({{'price': price, 'vat': vat, 'step': step}}, el) AS c
          FROM m GROUP BY session_id, idx, dim)
),
cost AS (
    SELECT pl.session_id, pl.idx, d.dim, d.vol, f.price, f.vat, f.step, f.price * d.vol AS excl
    FROM pl CROSS JOIN LATERAL (VALUES ('ENERGY', pl.energy_kwh), ('TIME', pl.charging_h),
                                       ('PARKING_TIME', pl.parking_h)) d(dim, vol)
    JOIN first_match f ON f.session_id = pl.session_id AND f.idx = pl.idx AND f.dim = d.dim
    WHERE d.vol <> 0
),
last_billed AS (
    SELECT session_id, dim, c.price, c.vat, c.step
    FROM (SELECT session_id, dim, arg_max({{'price': price, 'vat': vat, 'step': step}}, idx) AS c
          FROM cost GROUP BY session_id, dim)
),
totals AS (
    SELECT session_id, any_value(tariff_id) AS tariff_id, sum(energy_kwh) AS e, sum(charging_h) AS c,
           sum(parking_h) AS pk FROM pl GROUP BY session_id
),
steps AS (
    SELECT t.session_id, t.tariff_id, t.e, t.c, t.pk,
           le.price AS e_price, le.vat AS e_vat,
           CASE WHEN le.step > 0 THEN ceil(round(t.e * 1000, 3) / le.step) * le.step / 1000.0 END AS e_billed,
           lp.price AS p_price, lp.vat AS p_vat,
           CASE WHEN lp.step > 0 THEN ceil(round(t.pk * 3600, 3) / lp.step) * lp.step / 3600.0 END AS p_billed,
           CASE WHEN lp.session_id IS NULL THEN lt.price END AS t_price,
           CASE WHEN lp.session_id IS NULL THEN lt.vat END AS t_vat,
           CASE WHEN lp.session_id IS NULL AND lt.step > 0 THEN ceil(round(t.c * 3600, 3) / lt.step) * lt.step / 3600.0 END
               AS t_billed
    FROM totals t
    LEFT JOIN last_billed le ON le.session_id = t.session_id AND le.dim = 'ENERGY'
    LEFT JOIN last_billed lp ON lp.session_id = t.session_id AND lp.dim = 'PARKING_TIME'
    LEFT JOIN last_billed lt ON lt.session_id = t.session_id AND lt.dim = 'TIME'
),
extras AS (
    SELECT session_id, 'ENERGY' AS dim, e_price * CAST(e_billed - e AS DECIMAL(38, 12)) AS excl, e_vat AS vat
        FROM steps WHERE e_billed IS NOT NULL
    UNION ALL SELECT session_id, 'PARKING_TIME', p_price * CAST(p_billed - pk AS DECIMAL(38, 12)), p_vat
        FROM steps WHERE p_billed IS NOT NULL
    UNION ALL SELECT session_id, 'TIME', t_price * CAST(t_billed - c AS DECIMAL(38, 12)), t_vat
        FROM steps WHERE t_billed IS NOT NULL
),
flat AS (
    SELECT session_id, 'FLAT' AS dim, c.price AS excl, c.vat
    FROM (SELECT session_id, arg_min({{'price': price, 'vat': vat}}, idx) AS c
          FROM first_match WHERE dim = 'FLAT' GROUP BY session_id)
),
lines AS (
    SELECT session_id, dim, CAST(excl AS DECIMAL(38, 18)) AS excl,
           CAST(CASE WHEN vat IS NULL THEN excl ELSE excl * (100 + vat) * 0.01 END AS DECIMAL(38, 18)) AS incl
    FROM (SELECT session_id, dim, excl, vat FROM cost UNION ALL SELECT * FROM extras UNION ALL SELECT * FROM flat)
),
by_session AS (
    SELECT t.session_id, t.tariff_id,
           coalesce(sum(l.excl) FILTER (WHERE l.dim = 'ENERGY'), 0) AS energy_excl,
           coalesce(sum(l.excl) FILTER (WHERE l.dim = 'TIME'), 0) AS time_excl,
           coalesce(sum(l.excl) FILTER (WHERE l.dim = 'PARKING_TIME'), 0) AS parking_excl,
           coalesce(sum(l.excl) FILTER (WHERE l.dim = 'FLAT'), 0) AS fixed_excl,
           coalesce(sum(l.excl), 0) AS sub_excl, coalesce(sum(l.incl), 0) AS sub_incl
    FROM totals t LEFT JOIN lines l ON l.session_id = t.session_id GROUP BY t.session_id, t.tariff_id
)
SELECT b.session_id, b.tariff_id, tb.currency, b.energy_excl, b.time_excl, b.parking_excl, b.fixed_excl,
       CASE WHEN {bounds} AND tb.min_excl IS NOT NULL AND b.sub_excl < tb.min_excl THEN tb.min_excl - b.sub_excl
            WHEN {bounds} AND tb.max_excl IS NOT NULL AND b.sub_excl > tb.max_excl THEN tb.max_excl - b.sub_excl
            ELSE 0 END AS bounds_excl,
       b.sub_excl, b.sub_incl
FROM by_session b JOIN tariff_bounds tb ON tb.tariff_id = b.tariff_id
"""


def reprice_sql(
    con: duckdb.DuckDBPyConnection,
    where: str = "",
    tariff_id: str | None = None,
    recut: bool = False,
    apply_price_bounds: bool = True,
    sessions: str = "sessions",
) -> str:
    """Register what repricing needs and return the SQL pricing every selected session.

    Parameters
    ----------
    where : str
        Extra SQL conditions on ``sessions s`` (``AND …``).
    tariff_id : str, optional
        Price every session under this driver tariff instead of its own.
    recut : bool
        Cut periods at the tariff's boundaries first (see the module notes).

    Returns
    -------
    str
        SQL of ``session_id, tariff_id, currency, energy_excl, time_excl,
        parking_excl, fixed_excl, bounds_excl, sub_excl, sub_incl`` (exact
        DECIMAL; ``total_excl`` = ``sub_excl + bounds_excl``).
    """
    rows = con.sql(
        "SELECT tariff_id, tariff_json FROM driver_tariffs" + (" WHERE tariff_id = ?" if tariff_id is not None else ""),
        params=[tariff_id] if tariff_id is not None else None,
    ).fetchall()
    if tariff_id is not None and not rows:
        raise ValueError(f"unknown driver tariff {tariff_id!r}; ingest its OCPI Tariff first")
    register_tariffs(con, {tid: parse_tariff(text, tid) for tid, text in rows})
    expr = "s.tariff_id" if tariff_id is None else sql_literal(tariff_id)
    periods = _PERIODS_SQL.format(sessions=sessions, tariff_expr=expr, where=where)
    con.sql(f"CREATE OR REPLACE TEMP TABLE _rp_periods AS {periods}")
    if recut:
        con.sql(f"CREATE OR REPLACE TEMP TABLE _rp_cut AS {_RECUT_SQL}")
        source = "_rp_cut"
    else:
        source = "_rp_periods"
    return _PRICE_SQL.format(periods=source, bounds="TRUE" if apply_price_bounds else "FALSE")


def _window(first: dt.date, last: dt.date, site_ids: list[str] | None) -> str:
    """Sessions that started in local months first … last (a day of slack each side, then cut on local time)."""
    lo = dt.datetime.combine(first, dt.time()) - dt.timedelta(days=1)
    hi = dt.datetime.combine(next_month(last), dt.time()) + dt.timedelta(days=1)
    return f"AND s.started_at >= TIMESTAMP '{lo}' AND s.started_at < TIMESTAMP '{hi}' {sql_in('s.site_id', site_ids)}"


_MONTH = "CAST(date_trunc('month', timezone(coalesce(st.time_zone, 'UTC'), s.started_at::TIMESTAMPTZ)) AS DATE)"


def leakage(wh: WarehouseLike, first: dt.date, last: dt.date, site_ids: list[str] | None = None) -> pa.Table:
    """CDR billed totals against their tariff, by site and local month of the session start.

    Returns
    -------
    pyarrow.Table
        ``site_id``, ``month``, ``currency``, ``sessions`` (priced),
        ``billed_minor`` (Σ CDR ``total_cost``), ``expected_minor`` (Σ the
        tariff's total, each session rounded half up once),
        ``leakage_minor`` = Σ (expected − billed) over sessions whose billed
        total is neither the tariff's total rounded once nor the sum of its
        lines rounded one by one (positive: under-billed),
        ``rounding_minor`` = the same sum over the other sessions (what
        rounding policy alone explains), ``sessions_mismatched``,
        ``sessions_unpriced`` (no tariff, a tariff not ingested, another
        currency or no billed total). ``expected − billed = leakage +
        rounding`` exactly.
    """
    con = duckdb_only.connection(wh, "repricing sessions under driver tariffs")
    where = _window(first, last, site_ids)
    sql = reprice_sql(con, where=where + " AND s.tariff_id IS NOT NULL AND s.total_cost_minor IS NOT NULL")
    con.sql(f"CREATE OR REPLACE TEMP TABLE _rp_priced AS {sql}")
    out = con.sql(
        f"""WITH s AS (
                SELECT s.session_id, s.site_id, s.total_cost_minor, s.currency, {_MONTH} AS month
                FROM sessions s LEFT JOIN sites st ON st.site_id = s.site_id WHERE TRUE {where}
            ),
            j AS (
                SELECT s.*,
                       CASE WHEN p.session_id IS NULL OR p.currency <> s.currency THEN NULL
                            ELSE {minor_sql("p.sub_excl + p.bounds_excl", "p.currency")} END AS expected_minor,
                       {" + ".join(minor_sql(f"p.{c}", "p.currency") for c in LINE_COLUMNS)} AS lines_minor
                FROM s LEFT JOIN _rp_priced p USING (session_id)
            ),
            k AS (
                -- a CDR that matches the total rounded once, or the sum of its lines rounded one by one,
                -- differs from the tariff by rounding only
                SELECT *, expected_minor IS NOT NULL
                          AND total_cost_minor NOT IN (expected_minor, lines_minor) AS mismatched
                FROM j
            )
            SELECT site_id, strftime(month, '%Y-%m') AS month, currency,
                   count(expected_minor) AS sessions,
                   CAST(coalesce(sum(total_cost_minor) FILTER (WHERE expected_minor IS NOT NULL), 0) AS BIGINT)
                       AS billed_minor,
                   CAST(coalesce(sum(expected_minor), 0) AS BIGINT) AS expected_minor,
                   CAST(coalesce(sum(expected_minor - total_cost_minor) FILTER (WHERE mismatched), 0) AS BIGINT)
                       AS leakage_minor,
                   CAST(coalesce(sum(expected_minor - total_cost_minor) FILTER (WHERE NOT mismatched), 0) AS BIGINT)
                       AS rounding_minor,
                   count(*) FILTER (WHERE mismatched) AS sessions_mismatched,
                   count(*) FILTER (WHERE expected_minor IS NULL) AS sessions_unpriced
            FROM k WHERE month >= DATE '{first}' AND month <= DATE '{last}'
            GROUP BY ALL ORDER BY site_id, month, currency"""
    ).to_arrow_table()
    for name in ("_rp_priced", "_rp_periods", "_rp_cut"):
        con.sql(f"DROP TABLE IF EXISTS {name}")
    return out


def price_whatif(
    wh: WarehouseLike,
    first: dt.date,
    last: dt.date,
    site_ids: list[str],
    tariff_id: str,
    elasticity: float | None = None,
) -> pa.Table:
    """Energy revenue per site and month under another driver tariff, beside the revenue billed.

    Without *elasticity* no demand response is assumed: the same sessions,
    repriced. With it, the scenario's kWh and revenue are scaled by
    :math:`(p_1 / p_0)^{\\varepsilon}` where :math:`p_0`, :math:`p_1` are
    the site-month's average revenue per kWh before and after.
    """
    con = duckdb_only.connection(wh, "repricing sessions under driver tariffs")
    where = _window(first, last, site_ids)
    sql = reprice_sql(con, where=where, tariff_id=tariff_id, recut=True)
    con.sql(f"CREATE OR REPLACE TEMP TABLE _rp_priced AS {sql}")
    rows = (
        con.sql(
            f"""WITH s AS (
                SELECT s.session_id, s.site_id, s.energy_kwh, coalesce(s.total_cost_minor, 0) AS billed_minor,
                       s.currency, {_MONTH} AS month
                FROM sessions s LEFT JOIN sites st ON st.site_id = s.site_id WHERE TRUE {where}
            )
            SELECT s.site_id, strftime(s.month, '%Y-%m') AS month, s.currency, count(*) AS sessions,
                   sum(s.energy_kwh) AS energy_kwh, CAST(sum(s.billed_minor) AS BIGINT) AS baseline_revenue_minor,
                   CAST(sum({minor_sql("p.sub_excl + p.bounds_excl", "p.currency")}) AS BIGINT) AS scenario_revenue_minor
            FROM s JOIN _rp_priced p USING (session_id)
            WHERE s.month >= DATE '{first}' AND s.month <= DATE '{last}' AND p.currency = s.currency
            GROUP BY ALL ORDER BY 1, 2"""
        )
        .to_arrow_table()
        .to_pylist()
    )
    for name in ("_rp_priced", "_rp_periods", "_rp_cut"):
        con.sql(f"DROP TABLE IF EXISTS {name}")
    out = []
    for r in rows:
        r["scenario_tariff"] = tariff_id
        r["elasticity"] = elasticity
        if elasticity is not None and r["baseline_revenue_minor"] > 0 and r["scenario_revenue_minor"] > 0:
            ratio = (r["scenario_revenue_minor"] / r["baseline_revenue_minor"]) ** elasticity
            r["scenario_energy_kwh"] = r["energy_kwh"] * ratio
            scaled = Decimal(r["scenario_revenue_minor"]) * Decimal(repr(ratio))
            r["scenario_revenue_minor"] = int(scaled.quantize(Decimal(1), ROUND_HALF_UP))
            r["demand_response"] = f"kWh × (p1/p0)^{elasticity}"
        else:
            r["scenario_energy_kwh"] = r["energy_kwh"]
            r["demand_response"] = "none assumed (same sessions repriced)"
        r["revenue_change_minor"] = r["scenario_revenue_minor"] - r["baseline_revenue_minor"]
        out.append(r)
    return pa.Table.from_pylist(out) if out else pa.table({"site_id": pa.array([], pa.string())})
