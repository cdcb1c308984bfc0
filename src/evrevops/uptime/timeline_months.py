"""The port-month uptime table: each port's time, outage and exclusions by local month.

The last statement of the timeline (:mod:`evrevops.uptime.timeline`, where the rules are),
over its pieces and ledger, with the trailing-twelve-month sums NEVI uptime needs.
"""

from __future__ import annotations

from evrevops.core.states import FAULT, NO_DATA, OFFLINE
from evrevops.uptime.timeline_tables import LEDGER, MONTHS, PIECES, Range, seconds_sql


def months_sql(r: Range) -> str:
    """``_uptime_months``: the port-month uptime fact, with trailing-twelve-month sums.

    Columns (durations in seconds): ``port_id``, ``site_id``, ``charger_id``,
    ``month``, ``month_idx`` (year × 12 + month − 1), ``period_start_at``,
    ``period_end_at``, ``period_s`` (the port's measured time in the month),
    ``outage_s`` (T_outage: fault + offline + no data), ``fault_s``,
    ``offline_s``, ``no_data_s``, ``excluded_s`` (T_excluded),
    ``excluded_no_data_s``, ``outages`` (outage runs starting in the month),
    ``failures`` (those not wholly excluded), ``repair_s`` (their whole
    durations), and ``t12_period_s``, ``t12_outage_s``, ``t12_excluded_s``,
    ``t12_months`` over the twelve months ending with ``month``, and
    ``t12_period_start_at`` (the first measured instant of those months).
    """
    return f"""
CREATE OR REPLACE TEMP TABLE {MONTHS} AS
WITH agg_us AS (
    -- integer microseconds, so the trailing sums are exact whatever order an engine adds in
    SELECT port_id, min(site_id) AS site_id, min(charger_id) AS charger_id, month,
           min(s) AS period_start_at, max(e) AS period_end_at, sum(dur_us) AS period_us,
           sum(CASE WHEN cls <> 'up' THEN dur_us ELSE 0 END) AS outage_us,
           sum(CASE WHEN state = '{FAULT}' THEN dur_us ELSE 0 END) AS fault_us,
           sum(CASE WHEN state = '{OFFLINE}' THEN dur_us ELSE 0 END) AS offline_us,
           sum(CASE WHEN state = '{NO_DATA}' THEN dur_us ELSE 0 END) AS no_data_us,
           sum(excluded_us) AS excluded_us,
           sum(CASE WHEN state = '{NO_DATA}' THEN excluded_us ELSE 0 END) AS excluded_no_data_us
    FROM {PIECES} GROUP BY port_id, month
), agg AS (
    SELECT port_id, site_id, charger_id, month, period_start_at, period_end_at, period_us, outage_us, excluded_us,
           {seconds_sql("period_us")} AS period_s, {seconds_sql("outage_us")} AS outage_s,
           {seconds_sql("fault_us")} AS fault_s, {seconds_sql("offline_us")} AS offline_s,
           {seconds_sql("no_data_us")} AS no_data_s, {seconds_sql("excluded_us")} AS excluded_s,
           {seconds_sql("excluded_no_data_us")} AS excluded_no_data_s
    FROM agg_us
), starts AS (
    SELECT l.port_id, pc.month, count(*) AS outages,
           sum(CASE WHEN l.excluded_us < l.duration_us THEN 1 ELSE 0 END) AS failures,
           sum(CASE WHEN l.excluded_us < l.duration_us THEN l.duration_us ELSE 0 END) AS repair_us
    FROM {LEDGER} l
    JOIN {PIECES} pc ON pc.port_id = l.port_id AND pc.s = l.started_at
    WHERE l.state = 'outage'
    GROUP BY l.port_id, pc.month
), m AS (
    SELECT a.*, year(a.month) * 12 + month(a.month) - 1 AS month_idx,
           coalesce(s.outages, 0) AS outages, coalesce(s.failures, 0) AS failures,
           coalesce(s.repair_us, 0) AS repair_us
    FROM agg a LEFT JOIN starts s ON s.port_id = a.port_id AND s.month = a.month
)
SELECT port_id, site_id, charger_id, month, period_start_at, period_end_at, period_s, outage_s, fault_s,
       offline_s, no_data_s, excluded_s, excluded_no_data_s, month_idx, outages, failures,
       {seconds_sql("repair_us")} AS repair_s,
       {seconds_sql("sum(period_us) OVER t12")} AS t12_period_s,
       {seconds_sql("sum(outage_us) OVER t12")} AS t12_outage_s,
       {seconds_sql("sum(excluded_us) OVER t12")} AS t12_excluded_s,
       count(*) OVER t12 AS t12_months,
       min(period_start_at) OVER t12 AS t12_period_start_at
FROM m
WINDOW t12 AS (PARTITION BY port_id ORDER BY month_idx RANGE BETWEEN 11 PRECEDING AND CURRENT ROW)
"""
