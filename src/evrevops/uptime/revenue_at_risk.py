"""Revenue at risk from downtime (handbook §4).

A port's outage time would have earned what the port usually earns at that
local hour of the week. For each reported month ``m`` and port::

    rate(h)  = revenue of the port's sessions starting in hour-of-week h in the
               13 weeks before m / the number of those hours the port existed
    at_risk  = Σ_h rate(h) × outage hours of m falling in hour-of-week h

Revenue is the CDR ``total_cost`` excl. VAT in the site's currency (the
currency of the metrics), attributed to the hour of the session's start as
the metrics attribute it to days. Outage time is all of T_outage (fault,
offline and no-data time, excluded or not: an excluded outage still earns
nothing). Hours are local: hour k of a local day starts k hours after local
midnight, so on the two days a year the clocks change one hour is labelled
by its distance from midnight. The result is rounded half up to whole minor
units per outage and month; the port-month fact and every roll-up add those integers, so every total is the sum
of its parts. All SQL runs on the tables :func:`evrevops.uptime.timeline.build`
left in the warehouse (DuckDB, or Spark through SQLGlot), in integers.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from evrevops.core.calendar import add_months
from evrevops.core.sqltext import ts_sql
from evrevops.uptime.timeline_tables import CAL, PIECES, PORTS, US_PER_S, Range, us_sql
from evrevops.warehouse.protocol import WarehouseLike

if TYPE_CHECKING:
    from evrevops.warehouse.spark import SparkWarehouse

BASELINE_DAYS = 91  # 13 weeks
RAR = "_uptime_revenue_at_risk"
DAY_US = 86_400 * US_PER_S
HOUR_US = 3_600 * US_PER_S
# A weekday occurs at most 13 times in the 91-day baseline: every hour's rate is an integer over
# lcm(1, …, 13), so revenue at risk is one exact ratio of integers, rounded once.
RATE_DEN = 360_360


def revenue_at_risk_sql(r: Range) -> str:
    """``_uptime_revenue_at_risk``: ``(port_id, month, island, currency, revenue_at_risk_minor)``.

    One row per outage (or no-data run, ``island`` of the timeline) and
    reported month it falls in, rounded there: the ledger's per-outage
    figures and the port-month metric are sums of the same integers.

    Exact on every engine: with ``n_h`` the occurrences of hour-of-week ``h``
    in the baseline and ``out_us_h`` the outage microseconds in it,
    ``at_risk = Σ_h revenue_h × out_us_h × (RATE_DEN / n_h) / (3.6e9 × RATE_DEN)``,
    summed in 128-bit integers (HUGEINT; DECIMAL(38, 0) on Spark) and rounded half up
    to minor units.
    """
    first, last = r.first_month.isoformat(), r.last_month.isoformat()
    # sessions that can fall in a baseline: from 13 weeks before the first month (a day's margin for
    # time zones) to the last month's end
    lo = ts_sql(dt.datetime.combine(r.first_month - dt.timedelta(days=BASELINE_DAYS + 2), dt.time()))
    hi = ts_sql(dt.datetime.combine(add_months(r.last_month, 1) + dt.timedelta(days=2), dt.time()))
    den = HOUR_US * RATE_DEN  # at_risk × den is an integer [minor × µs / h]
    num = "(r.num * 2 + " + str(den) + ")"  # round half up: floor((2 num + den) / (2 den))
    return f"""
CREATE OR REPLACE TEMP TABLE {RAR} AS
WITH days AS (
    -- the calendar with Unix microseconds of its bounds and the weekday (0 = Monday; 1970-01-01 was a Thursday)
    SELECT site_id, local_date, day_num, month, {us_sql("day_start_at")} AS ds_us, {us_sql("day_end_at")} AS de_us,
           (day_num + 3) % 7 AS wd
    FROM {CAL}
), cal AS (
    -- each local day once per UTC day it touches (the join key of instants to local days)
    SELECT site_id, local_date, day_num, month, ds_us, de_us, wd,
           unnest(range(ds_us // {DAY_US}, de_us // {DAY_US} + 1)) AS utc_day
    FROM days
), months AS (
    SELECT site_id, month, min(day_num) AS first_day_num FROM {CAL}
    WHERE month BETWEEN DATE '{first}' AND DATE '{last}' GROUP BY site_id, month
), cur AS (
    SELECT site_id, currency FROM (
        SELECT site_id, currency, row_number() OVER (PARTITION BY site_id ORDER BY count(*) DESC, currency) AS rn
        FROM sessions WHERE currency IS NOT NULL GROUP BY site_id, currency) c WHERE rn = 1
), ses AS (
    -- sessions by local day and hour of their start, in the site's currency
    SELECT s.port_id, c.day_num, c.wd * 24 + least((s.t_us - c.ds_us) // {HOUR_US}, 23) AS how, s.revenue
    FROM (SELECT site_id, port_id, currency, {us_sql("started_at")} AS t_us, total_cost_minor AS revenue
          FROM sessions
          WHERE total_cost_minor IS NOT NULL AND port_id IN (SELECT port_id FROM {PORTS})
            AND started_at >= {lo} AND started_at < {hi}) s
    JOIN cur ON cur.site_id = s.site_id AND cur.currency = s.currency
    JOIN cal c ON c.site_id = s.site_id AND c.utc_day = s.t_us // {DAY_US} AND c.ds_us <= s.t_us AND c.de_us > s.t_us
), base_rev AS (
    SELECT m.month, ses.port_id, ses.how, sum(ses.revenue) AS revenue
    FROM ses JOIN {PORTS} p ON p.port_id = ses.port_id
    JOIN months m ON m.site_id = p.site_id
    WHERE ses.day_num >= m.first_day_num - {BASELINE_DAYS} AND ses.day_num < m.first_day_num
    GROUP BY m.month, ses.port_id, ses.how
), base_hours AS (
    -- how many times each hour of week occurred in the baseline while the port existed
    SELECT m.month, p.port_id, d.wd, count(*) AS n
    FROM {PORTS} p JOIN months m ON m.site_id = p.site_id
    JOIN days d ON d.site_id = p.site_id
    WHERE d.day_num >= m.first_day_num - {BASELINE_DAYS} AND d.day_num < m.first_day_num
      AND d.ds_us >= {us_sql("p.life_start")} - {DAY_US}
    GROUP BY m.month, p.port_id, d.wd
), out_days AS (
    SELECT pc.port_id, pc.month, pc.island, c.ds_us, c.wd,
           greatest(pc.s_us, c.ds_us) AS s_us, least(pc.e_us, c.de_us) AS e_us
    FROM (SELECT port_id, site_id, month, island, {us_sql("s")} AS s_us, {us_sql("e")} AS e_us FROM {PIECES}
          WHERE cls <> 'up' AND month BETWEEN DATE '{first}' AND DATE '{last}') pc
    JOIN cal c ON c.site_id = pc.site_id AND c.month = pc.month
              AND c.utc_day BETWEEN pc.s_us // {DAY_US} AND pc.e_us // {DAY_US}
              AND c.ds_us < pc.e_us AND c.de_us > pc.s_us
              AND greatest(pc.s_us, c.ds_us) // {DAY_US} = c.utc_day
), out_hours AS (
    -- the local hours k of the day the piece touches: [floor, ceil) of its offsets in hours
    SELECT port_id, month, island, wd, ds_us, s_us, e_us,
           unnest(range((s_us - ds_us) // {HOUR_US}, (e_us - ds_us + {HOUR_US - 1}) // {HOUR_US})) AS k
    FROM out_days
), out_how AS (
    SELECT port_id, month, island, wd, wd * 24 + least(k, 23) AS how,
           sum(least(e_us, ds_us + (k + 1) * {HOUR_US}) - greatest(s_us, ds_us + k * {HOUR_US})) AS out_us
    FROM out_hours GROUP BY port_id, month, island, wd, wd * 24 + least(k, 23)
), risk AS (
    SELECT o.port_id, o.month, o.island,
           sum(CAST(b.revenue AS HUGEINT) * o.out_us * ({RATE_DEN} // h.n)) AS num
    FROM out_how o
    JOIN base_rev b ON b.port_id = o.port_id AND b.month = o.month AND b.how = o.how
    JOIN base_hours h ON h.port_id = o.port_id AND h.month = o.month AND h.wd = o.wd
    GROUP BY o.port_id, o.month, o.island
)
SELECT r.port_id, r.month, r.island, cur.currency,
       CAST(CASE WHEN {num} >= 0 THEN {num} // {2 * den}
                 ELSE -((-{num} + {2 * den - 1}) // {2 * den}) END AS BIGINT) AS revenue_at_risk_minor
FROM risk r JOIN {PORTS} p ON p.port_id = r.port_id JOIN cur ON cur.site_id = p.site_id
"""


def build(wh: WarehouseLike | SparkWarehouse, r: Range) -> None:
    """Compute :data:`RAR` in the warehouse (after :func:`evrevops.uptime.timeline.build`)."""
    wh.execute(revenue_at_risk_sql(r))
