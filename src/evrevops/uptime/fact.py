"""The port-month uptime fact the metric registry reads (measures of level ``port-month``).

:func:`build` runs the timeline (:mod:`evrevops.uptime.timeline`) and revenue
at risk (:mod:`evrevops.uptime.revenue_at_risk`) for the reported months and
leaves a view :data:`FACT` with one row per port and local month::

    nevi_up_s      = period_s − (outage_s − excluded_s)
    up_s           = period_s − outage_s
    measured_s     = period_s − no_data_s
    measured_up_s  = measured_s − ((outage_s − no_data_s) − (excluded_s − excluded_no_data_s))
    t12_nevi_up_s  = t12_period_s − (t12_outage_s − t12_excluded_s)
    ports_below_nevi   = 1 when t12_nevi_up_s / t12_period_s ≤ 0.97
    ports_partial_year = 1 when t12_period_s is less than the twelve local months ending with the month
    feed_gap_s     = no-data time inside the site's feed gaps (evrevops.uptime.feed_gaps); t12_feed_gap_s over 12 months
    ports_nevi_known   = 1 when the trailing twelve months have measured time and no feed gap

NEVI uptime is unknown where the telemetry cannot tell (a port never observed, a feed gap):
``ports_below_nevi`` counts only the ports whose trailing year is known (``ports_nevi_known``),
and the registry shows the uptime of a scope without telemetry or with a gap as no data.

Durations are seconds; the registry divides. The statements are DuckDB SQL that
SQLGlot transpiles, so the fact builds alike on a DuckDB warehouse and on a
:class:`~evrevops.warehouse.spark.SparkWarehouse` (read it with ``wh.table(FACT)``).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from evrevops.uptime import revenue_at_risk as _rar
from evrevops.uptime import timeline as T
from evrevops.uptime.feed_gaps import gaps_sql, port_month_gaps_sql
from evrevops.uptime.timeline_intervals import intervals_sql, ports_sql
from evrevops.uptime.timeline_ledger import ledger_sql, pieces_sql
from evrevops.uptime.timeline_months import months_sql
from evrevops.uptime.timeline_tables import CAL, MONTHS, PIECES, Range, seconds_sql, us_sql
from evrevops.warehouse.protocol import WarehouseLike

if TYPE_CHECKING:
    from evrevops.warehouse.spark import SparkWarehouse

FACT = "_uptime_fact"
# measures that need the eleven months before the first reported month
T12_MEASURES = frozenset(
    {"t12_period_s", "t12_nevi_up_s", "ports_below_nevi", "ports_partial_year", "t12_feed_gap_s", "ports_nevi_known"}
)
NEVI_THRESHOLD_PCT = 97


def fact_sql(r: Range) -> str:
    """The view :data:`FACT` over the timeline's port-month table and revenue at risk."""
    first, last = r.first_month.isoformat(), r.last_month.isoformat()
    return f"""
CREATE OR REPLACE TEMP VIEW {FACT} AS
WITH months AS (
    SELECT site_id, month, min(day_start_at) AS ms, max(day_end_at) AS me FROM {CAL} GROUP BY site_id, month
), span AS (
    -- the twelve local months ending with each month, per site
    SELECT a.site_id, a.month, {seconds_sql(us_sql("a.me", "b.ms"))} AS t12_full_s
    FROM months a JOIN months b ON b.site_id = a.site_id
     AND year(b.month) * 12 + month(b.month) = year(a.month) * 12 + month(a.month) - 11
), gap AS ({port_month_gaps_sql(PIECES)}
), mg AS (
    -- each port-month's feed-gap time, and over the twelve months ending with it (before the months are filtered)
    SELECT m.port_id, m.month, coalesce(g.feed_gap_us, 0) AS feed_gap_us,
           sum(coalesce(g.feed_gap_us, 0)) OVER (PARTITION BY m.port_id ORDER BY m.month_idx
                                                 RANGE BETWEEN 11 PRECEDING AND CURRENT ROW) AS t12_feed_gap_us
    FROM {MONTHS} m LEFT JOIN gap g ON g.port_id = m.port_id AND g.month = m.month
)
SELECT m.port_id, m.site_id, m.month, rar.currency AS rar_currency,
       m.period_s, m.outage_s, m.excluded_s, m.fault_s, m.offline_s, m.no_data_s,
       m.period_s - (m.outage_s - m.excluded_s) AS nevi_up_s,
       m.period_s - m.outage_s AS up_s,
       m.period_s - m.no_data_s AS measured_s,
       (m.period_s - m.no_data_s) - ((m.outage_s - m.no_data_s) - (m.excluded_s - m.excluded_no_data_s)) AS measured_up_s,
       CAST(m.outages AS BIGINT) AS outages, CAST(m.failures AS BIGINT) AS failures, m.repair_s,
       m.t12_period_s, m.t12_outage_s, m.t12_excluded_s,
       m.t12_period_s - (m.t12_outage_s - m.t12_excluded_s) AS t12_nevi_up_s,
       CASE WHEN m.t12_period_s > 0 AND mg.t12_feed_gap_us = 0
             AND (m.t12_period_s - (m.t12_outage_s - m.t12_excluded_s)) * 100 <= {NEVI_THRESHOLD_PCT} * m.t12_period_s
            THEN 1 ELSE 0 END AS ports_below_nevi,
       {seconds_sql("mg.feed_gap_us")} AS feed_gap_s, {seconds_sql("mg.t12_feed_gap_us")} AS t12_feed_gap_s,
       CASE WHEN m.t12_period_s > 0 AND mg.t12_feed_gap_us = 0 THEN 1 ELSE 0 END AS ports_nevi_known,
       CASE WHEN sp.t12_full_s IS NULL OR m.t12_period_s < sp.t12_full_s THEN 1 ELSE 0 END AS ports_partial_year,
       CAST(coalesce(rar.revenue_at_risk_minor, 0) AS BIGINT) AS revenue_at_risk_minor
FROM {MONTHS} m
LEFT JOIN span sp ON sp.site_id = m.site_id AND sp.month = m.month
JOIN mg ON mg.port_id = m.port_id AND mg.month = m.month
LEFT JOIN (SELECT port_id, month, min(currency) AS currency, sum(revenue_at_risk_minor) AS revenue_at_risk_minor
           FROM {_rar.RAR} GROUP BY port_id, month) rar ON rar.port_id = m.port_id AND rar.month = m.month
WHERE m.month BETWEEN DATE '{first}' AND DATE '{last}'
"""


def statements(r: Range) -> list[str]:
    """The SQL statements :func:`build` runs, in order (for ``evrevops metrics explain``)."""
    return [
        ports_sql(r), intervals_sql(r), pieces_sql(r), ledger_sql(r), months_sql(r),
        gaps_sql(r), _rar.revenue_at_risk_sql(r), fact_sql(r),
    ]  # fmt: skip


def build(
    wh: WarehouseLike | SparkWarehouse,
    first_month: dt.date,
    last_month: dt.date,
    as_of: dt.datetime | None = None,
    offline_after_s: int = T.DEFAULT_OFFLINE_AFTER_S,
    trailing: bool = True,
) -> Range:
    """Build the timeline, revenue at risk and the :data:`FACT` view for the months (DuckDB or Spark); return the range.

    ``trailing=False`` builds the timeline from three months before
    ``first_month`` only (what revenue at risk's baseline needs): the
    :data:`T12_MEASURES` are then not valid (faster when they are not read).
    """
    r = T.build(wh, first_month, last_month, as_of=as_of, offline_after_s=offline_after_s, trailing=trailing)
    for sql in statements(r)[5:]:
        wh.execute(sql)
    return r
