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
left on the connection.
"""

from __future__ import annotations

import datetime as dt

from evrevops.uptime import timeline as T
from evrevops.warehouse.db import Warehouse

BASELINE_DAYS = 91  # 13 weeks
RAR = "_uptime_revenue_at_risk"
DAY_S = 86_400


def revenue_at_risk_sql(r: T.Range) -> str:
    """``_uptime_revenue_at_risk``: ``(port_id, month, island, currency, revenue_at_risk_minor)``.

    One row per outage (or no-data run, ``island`` of the timeline) and
    reported month it falls in, rounded there: the ledger's per-outage
    figures and the port-month metric are sums of the same integers.
    """
    first, last = r.first_month.isoformat(), r.last_month.isoformat()
    # sessions that can fall in a baseline: from 13 weeks before the first month (a day's margin for
    # time zones) to the last month's end
    lo = T.ts_sql(dt.datetime.combine(r.first_month - dt.timedelta(days=BASELINE_DAYS + 2), dt.time()))
    hi = T.ts_sql(dt.datetime.combine(T.add_months(r.last_month, 1) + dt.timedelta(days=2), dt.time()))
    return f"""
CREATE OR REPLACE TEMP TABLE {RAR} AS
WITH cal AS (
    SELECT site_id, local_date, month, day_start_at, day_end_at, isodow(local_date) - 1 AS wd,
           unnest(range(CAST(floor(epoch(day_start_at) / {DAY_S}) AS BIGINT),
                        CAST(floor(epoch(day_end_at) / {DAY_S}) AS BIGINT) + 1)) AS utc_day
    FROM {T.CAL}
), months AS (
    SELECT site_id, month, min(local_date) AS first_day FROM {T.CAL}
    WHERE month BETWEEN DATE '{first}' AND DATE '{last}' GROUP BY site_id, month
), cur AS (
    SELECT site_id, currency FROM (
        SELECT site_id, currency, row_number() OVER (PARTITION BY site_id ORDER BY count(*) DESC, currency) AS rn
        FROM sessions WHERE currency IS NOT NULL GROUP BY site_id, currency) WHERE rn = 1
), ses AS (
    -- sessions by local day and hour of their start, in the site's currency
    SELECT s.port_id, c.local_date, c.wd * 24 + least(CAST(floor((epoch(s.started_at) - epoch(c.day_start_at)) / 3600) AS INTEGER), 23) AS how,
           s.total_cost_minor AS revenue
    FROM sessions s
    JOIN cur ON cur.site_id = s.site_id AND cur.currency = s.currency
    JOIN cal c ON c.site_id = s.site_id AND c.utc_day = CAST(floor(epoch(s.started_at) / {DAY_S}) AS BIGINT)
              AND c.day_start_at <= s.started_at AND c.day_end_at > s.started_at
    WHERE s.total_cost_minor IS NOT NULL AND s.port_id IN (SELECT port_id FROM {T.PORTS})
      AND s.started_at >= {lo} AND s.started_at < {hi}
), base_rev AS (
    SELECT m.month, ses.port_id, ses.how, sum(ses.revenue) AS revenue
    FROM ses JOIN {T.PORTS} p ON p.port_id = ses.port_id
    JOIN months m ON m.site_id = p.site_id
    WHERE ses.local_date >= m.first_day - INTERVAL {BASELINE_DAYS} DAY AND ses.local_date < m.first_day
    GROUP BY m.month, ses.port_id, ses.how
), base_hours AS (
    -- how many times each hour of week occurred in the baseline while the port existed
    SELECT m.month, p.port_id, d.wd, count(*) AS n
    FROM {T.PORTS} p JOIN months m ON m.site_id = p.site_id
    JOIN (SELECT DISTINCT site_id, local_date, day_start_at, wd FROM cal) d ON d.site_id = p.site_id
    WHERE d.local_date >= m.first_day - INTERVAL {BASELINE_DAYS} DAY AND d.local_date < m.first_day
      AND d.day_start_at >= p.life_start - INTERVAL 1 DAY
    GROUP BY m.month, p.port_id, d.wd
), out_days AS (
    SELECT pc.port_id, pc.month, pc.island, c.day_start_at, c.wd,
           greatest(pc.s, c.day_start_at) AS s, least(pc.e, c.day_end_at) AS e
    FROM {T.PIECES} pc
    JOIN {T.PORTS} p ON p.port_id = pc.port_id
    JOIN cal c ON c.site_id = pc.site_id AND c.month = pc.month
              AND c.utc_day BETWEEN CAST(floor(epoch(pc.s) / {DAY_S}) AS BIGINT) AND CAST(floor(epoch(pc.e) / {DAY_S}) AS BIGINT)
              AND c.day_start_at < pc.e AND c.day_end_at > pc.s
              AND CAST(floor(epoch(greatest(pc.s, c.day_start_at)) / {DAY_S}) AS BIGINT) = c.utc_day
    WHERE pc.cls <> 'up' AND pc.month BETWEEN DATE '{first}' AND DATE '{last}'
), out_hours AS (
    SELECT port_id, month, island, wd, day_start_at, s, e,
           unnest(range(CAST(floor((epoch(s) - epoch(day_start_at)) / 3600) AS INTEGER),
                        CAST(ceil((epoch(e) - epoch(day_start_at)) / 3600) AS INTEGER))) AS k
    FROM out_days
), out_how AS (
    SELECT port_id, month, island, wd, wd * 24 + least(k, 23) AS how,
           sum(epoch(least(e, day_start_at + (k + 1) * INTERVAL 1 HOUR))
               - epoch(greatest(s, day_start_at + k * INTERVAL 1 HOUR))) AS out_s
    FROM out_hours GROUP BY port_id, month, island, wd, wd * 24 + least(k, 23)
), risk AS (
    SELECT o.port_id, o.month, o.island, sum(b.revenue * o.out_s / 3600.0 / h.n) AS at_risk
    FROM out_how o
    JOIN base_rev b ON b.port_id = o.port_id AND b.month = o.month AND b.how = o.how
    JOIN base_hours h ON h.port_id = o.port_id AND h.month = o.month AND h.wd = o.wd
    GROUP BY o.port_id, o.month, o.island
)
SELECT r.port_id, r.month, r.island, cur.currency, CAST(floor(r.at_risk + 0.5) AS BIGINT) AS revenue_at_risk_minor
FROM risk r JOIN {T.PORTS} p ON p.port_id = r.port_id JOIN cur ON cur.site_id = p.site_id
"""


def build(wh: Warehouse, r: T.Range) -> None:
    """Compute :data:`RAR` on the warehouse connection (after :func:`evrevops.uptime.timeline.build`)."""
    wh.con.execute(revenue_at_risk_sql(r))
