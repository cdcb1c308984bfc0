"""SLA credits: uptime commitments in contracts, and the credits they owe in a month (handbook §4).

A contract line with ``sla_uptime_pct`` commits its site's ports to that
uptime per month, per port (``sla_scope = port``) or for the site as a whole
(``site``). ``sla_credit_schedule`` maps the shortfall to a credit:
``97:5;95:10;90:25`` means uptime below 97 % credits 5 % of the line's
recurring fee for the month, below 95 % 10 %, below 90 % 25 % (the highest
tier reached applies).

Rules:

* **uptime** is the month's NEVI uptime (``uptime_pct``: excluded causes and
  closed hours do not count against the operator; time without telemetry
  does, since it cannot be shown to be up) of the port, or of the site's
  ports together (Σ up / Σ measured time);
* **fee**: each contract row in force during the month (``effective_on ≤
  day < end_on``; ``cancel`` rows never) is evaluated on its own: its
  ``ports × unit_price`` per month, prorated by the days it was in force,
  ``fee = ports × unit_price × days_in_force / days_in_month`` (an amendment
  row adding ports carries its own fee, so credits add up);
* **credit**: site scope ``fee × tier``; port scope each port carries
  ``fee / measured ports`` and ``credit = Σ_ports share × tier(port)``;
  computed in exact decimals, rounded half up once per line to minor units.
  The credit reduces the line's recurring revenue of that month.
* a breach is uptime below the commitment, whether or not the schedule has a
  tier for it; a port or site not measured in the month is not evaluated.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from evrevops.uptime import fact as _fact
from evrevops.uptime import timeline as T
from evrevops.warehouse.db import Warehouse

COLUMNS = (
    "contract_id", "line_id", "customer_id", "site_id", "month", "scope", "sla_uptime_pct", "uptime_pct",
    "ports_measured", "ports_breached", "breached", "credit_pct", "currency", "fee_minor", "credit_minor",
)  # fmt: skip


def credits_sql(month: dt.date) -> str:
    """SQL of the month's SLA evaluation, one row per SLA-bearing contract line (see :data:`COLUMNS`)."""
    m0 = month.replace(day=1)
    m1 = T.add_months(m0, 1)
    days = (m1 - m0).days
    return f"""
WITH lines AS (
    SELECT contract_id, line_id, customer_id, site_id, sla_scope AS scope, currency,
           CAST(sla_uptime_pct AS DECIMAL(18, 6)) AS sla_pct, sla_credit_schedule,
           CAST(ports AS DECIMAL(38, 10)) * CAST(unit_price_minor AS DECIMAL(38, 10))
               * (least(coalesce(end_on, DATE '{m1}'), DATE '{m1}') - greatest(effective_on, DATE '{m0}'))
               / {days} AS fee
    FROM contracts
    WHERE sla_uptime_pct IS NOT NULL AND event <> 'cancel' AND ports IS NOT NULL AND unit_price_minor IS NOT NULL
      AND effective_on < DATE '{m1}' AND (end_on IS NULL OR end_on > DATE '{m0}')
      AND greatest(effective_on, DATE '{m0}') < least(coalesce(end_on, DATE '{m1}'), DATE '{m1}')
), tiers AS (
    SELECT contract_id, line_id, CAST(split_part(t, ':', 1) AS DECIMAL(18, 6)) AS below_pct,
           CAST(split_part(t, ':', 2) AS DECIMAL(18, 6)) AS credit_pct
    FROM (SELECT contract_id, line_id, unnest(string_split(sla_credit_schedule, ';')) AS t FROM lines
          WHERE sla_credit_schedule IS NOT NULL AND sla_credit_schedule <> '')
), ports AS (
    SELECT site_id, port_id, nevi_up_s AS up_s, period_s FROM {_fact.FACT}
    WHERE month = DATE '{m0}' AND period_s > 0
), units AS (
    -- what is measured against the commitment: each port (port scope) or the site's ports together
    SELECT l.contract_id, l.line_id, p.port_id AS unit, p.up_s, p.period_s, 1 AS n_ports
    FROM lines l JOIN ports p ON p.site_id = l.site_id WHERE l.scope = 'port'
    UNION ALL
    SELECT l.contract_id, l.line_id, l.site_id, sum(p.up_s), sum(p.period_s), count(*)
    FROM lines l JOIN ports p ON p.site_id = l.site_id WHERE coalesce(l.scope, 'site') = 'site'
    GROUP BY l.contract_id, l.line_id, l.site_id
), graded AS (
    SELECT u.contract_id, u.line_id, u.unit, u.up_s, u.period_s, u.n_ports,
           coalesce(max(t.credit_pct), 0) AS credit_pct
    FROM units u LEFT JOIN tiers t ON t.contract_id = u.contract_id AND t.line_id = u.line_id
     AND u.up_s * 100 < t.below_pct * u.period_s
    GROUP BY u.contract_id, u.line_id, u.unit, u.up_s, u.period_s, u.n_ports
), per_line AS (
    SELECT g.contract_id, g.line_id, sum(g.n_ports) AS ports_measured,
           sum(CASE WHEN g.up_s * 100 < l.sla_pct * g.period_s THEN g.n_ports ELSE 0 END) AS ports_breached,
           100.0 * sum(g.up_s) / sum(g.period_s) AS uptime_pct,
           max(g.credit_pct) AS credit_pct,
           -- site scope: one unit holding every port (share 1); port scope: each port's share of the fee
           sum(CAST(g.n_ports AS DECIMAL(38, 10)) * g.credit_pct) AS weighted_pct
    FROM graded g JOIN lines l ON l.contract_id = g.contract_id AND l.line_id = g.line_id
    GROUP BY g.contract_id, g.line_id
)
SELECT l.contract_id, l.line_id, l.customer_id, l.site_id, DATE '{m0}' AS month, coalesce(l.scope, 'site') AS scope,
       CAST(l.sla_pct AS DOUBLE) AS sla_uptime_pct, p.uptime_pct,
       coalesce(p.ports_measured, 0) AS ports_measured, coalesce(p.ports_breached, 0) AS ports_breached,
       coalesce(p.ports_breached, 0) > 0 AS breached, CAST(coalesce(p.credit_pct, 0) AS DOUBLE) AS credit_pct,
       l.currency, CAST(round(l.fee, 0) AS BIGINT) AS fee_minor,
       CAST(coalesce(round(l.fee * p.weighted_pct / p.ports_measured / 100, 0), 0) AS BIGINT) AS credit_minor
FROM lines l LEFT JOIN per_line p ON p.contract_id = l.contract_id AND p.line_id = l.line_id
ORDER BY l.customer_id, l.contract_id, l.line_id
"""


def credits(
    wh: Warehouse,
    month: dt.date,
    as_of: dt.datetime | None = None,
    offline_after_s: int = T.DEFAULT_OFFLINE_AFTER_S,
) -> pa.Table:
    """The SLA evaluation and credit of every SLA-bearing contract line for local *month*.

    Returns
    -------
    pyarrow.Table
        :data:`COLUMNS`; ``fee_minor`` and ``credit_minor`` are integer minor
        units of ``currency`` (the credit reduces the line's recurring revenue
        of the month); ``uptime_pct`` is the measured units' uptime [%].
    """
    _fact.build(wh, month.replace(day=1), month.replace(day=1), as_of=as_of, offline_after_s=offline_after_s)
    return wh.con.sql(credits_sql(month)).to_arrow_table().select(list(COLUMNS))
