"""SLA credits: uptime commitments in contracts, and the credits they owe in a month (handbook §4).

A contract line with ``sla_uptime_pct`` commits its site's ports to that
uptime over a measurement period (``sla_period``: ``month`` by default,
calendar ``quarter`` or ``year``), per port (``sla_scope = port``) or for the
site as a whole (``site``). A period is evaluated in its last month (a
quarter in March, June, September and December; a year in December), and the
credit falls in that month. ``sla_credit_schedule`` maps the shortfall to a credit:
``97:5;95:10;90:25`` means uptime below 97 % credits 5 % of the line's
recurring fee for the month, below 95 % 10 %, below 90 % 25 % (the highest
tier reached applies).

Rules:

* **uptime** is the period's NEVI uptime (as ``uptime_pct``: excluded causes
  and closed hours do not count against the operator; time without telemetry
  does, since it cannot be shown to be up) of the port, or of the site's
  ports together (Σ up / Σ measured time over the period's months);
* **lines**: the SLA-bearing lines are read from the priced intervals of the contract lines
  (view ``contract_lines``, :mod:`evrevops.warehouse.contract_lines`). A line with several
  intervals in the period (an amendment, a renewal) is one line, evaluated with the terms
  (commitment, scope, period, schedule, site) of its interval in force on the period's last
  day, or else of the latest one started in it; a legacy amendment row (under its own line id,
  adding ports) is a line of its own, with its own fee, so credits add up;
* **fee**: the line's ``ports × unit_price`` per month over every interval in force during the
  period (``effective_on ≤ day < end_on``), prorated by the days each was in force,
  ``fee = Σ_intervals Σ_months ports × unit_price × days_in_force / days_in_month``;
* **credit**: site scope ``fee × tier``; port scope each port carries
  ``fee / measured ports`` and ``credit = Σ_ports share × tier(port)``;
  computed exactly (integers over a common denominator of the month lengths), rounded half
  away from zero once per line to minor units.
  The credit reduces the line's recurring revenue of that month.
* a breach is uptime below the commitment, whether or not the schedule has a
  tier for it; a port or site not measured in the month is not evaluated.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from evrevops.core.calendar import add_months, months_between
from evrevops.core.money import div_round_sql
from evrevops.uptime import fact as _fact
from evrevops.warehouse.protocol import WarehouseLike

if TYPE_CHECKING:
    from evrevops.warehouse.spark import SparkWarehouse

COLUMNS = (
    "contract_id", "line_id", "customer_id", "site_id", "month", "scope", "period", "window_start",
    "sla_uptime_pct", "uptime_pct",
    "ports_measured", "ports_breached", "breached", "credit_pct", "currency", "fee_minor", "credit_minor",
)  # fmt: skip


LINES = "contract_lines"  # the priced intervals of the contract lines (evrevops.warehouse.contract_lines)
_COUNTER = itertools.count()
PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}
FEE_DEN = 377_580  # lcm(28, 29, 30, 31): every prorated fee is an integer over it


def evaluation_window(month: dt.date, period: str) -> dt.date | None:
    """First month of the *period* (``month``, calendar ``quarter`` or ``year``) ending with *month*.

    None when *month* does not end such a period: a quarterly SLA is evaluated in March, June,
    September and December, a yearly one in December.
    """
    k = PERIOD_MONTHS[period]
    m0 = month.replace(day=1)
    return add_months(m0, -(k - 1)) if m0.month % k == 0 else None


def credits_sql(month: dt.date, lines: str = LINES) -> str:
    """SQL of the month's SLA evaluation, one row per SLA-bearing contract line (see :data:`COLUMNS`).

    *lines* is the relation of priced contract intervals (default: the ``contract_lines`` view).
    """
    m0 = month.replace(day=1)
    m1 = add_months(m0, 1)
    starts = {p: evaluation_window(m0, p) for p in PERIOD_MONTHS}
    evaluated = [p for p, w in starts.items() if w is not None]
    window = " ".join(f"WHEN '{p}' THEN DATE '{w}'" for p, w in starts.items() if w is not None)
    earliest = min(w for w in starts.values() if w is not None)
    months = ", ".join(
        f"(DATE '{m}', DATE '{add_months(m, 1)}', {(add_months(m, 1) - m).days})"
        for m in (add_months(earliest, k) for k in range(months_between(earliest, m0) + 1))
    )
    periods = ", ".join(f"'{p}'" for p in evaluated)
    return f"""
WITH cal(ms, me, days) AS (VALUES {months}),
iv AS (
    SELECT * FROM {lines} WHERE effective_on < DATE '{m1}'
), deciding AS (
    -- each line's interval in force on the month's last day, else its latest started before: its terms
    SELECT * FROM (
        SELECT iv.*, row_number() OVER (PARTITION BY contract_id, line_id ORDER BY effective_on DESC) AS k FROM iv
    ) x WHERE k = 1
), rows AS (
    SELECT contract_id, line_id, customer_id, site_id, sla_scope AS scope, currency, sla_credit_schedule,
           coalesce(sla_period, 'month') AS period, CAST(sla_uptime_pct AS DECIMAL(18, 6)) AS sla_pct,
           CASE coalesce(sla_period, 'month') {window} END AS w0
    FROM deciding
    WHERE sla_uptime_pct IS NOT NULL AND ports IS NOT NULL AND unit_price_minor IS NOT NULL
      AND coalesce(sla_period, 'month') IN ({periods})
), lines AS (
    -- each line's fee over its measurement window: ports × unit price per month of every interval in force,
    -- prorated by days in force
    SELECT r.contract_id, r.line_id, r.customer_id, r.site_id, r.scope, r.currency, r.period, r.sla_pct,
           r.sla_credit_schedule, r.w0,
           -- exact: over a common denominator of every month length (FEE_DEN), in integers
           sum(CAST(i.ports AS HUGEINT) * i.unit_price_minor
               * date_diff('day', greatest(i.effective_on, c.ms), least(coalesce(i.end_on, c.me), c.me))
               * ({FEE_DEN} // c.days))
               AS fee_num
    FROM rows r JOIN iv i ON i.contract_id = r.contract_id AND i.line_id = r.line_id
     AND i.ports IS NOT NULL AND i.unit_price_minor IS NOT NULL
    JOIN cal c ON c.ms >= r.w0 AND c.ms < DATE '{m1}'
     AND i.effective_on < c.me AND (i.end_on IS NULL OR i.end_on > c.ms)
     AND greatest(i.effective_on, c.ms) < least(coalesce(i.end_on, c.me), c.me)
    GROUP BY r.contract_id, r.line_id, r.customer_id, r.site_id, r.scope, r.currency, r.period, r.sla_pct,
             r.sla_credit_schedule, r.w0
), tiers AS (
    SELECT contract_id, line_id, CAST(split_part(t, ':', 1) AS DECIMAL(18, 6)) AS below_pct,
           CAST(split_part(t, ':', 2) AS DECIMAL(18, 6)) AS credit_pct
    FROM (SELECT contract_id, line_id, unnest(string_split(sla_credit_schedule, ';')) AS t FROM lines
          WHERE sla_credit_schedule IS NOT NULL AND sla_credit_schedule <> '')
), ports AS (
    -- each port over each line's window
    SELECT l.contract_id, l.line_id, f.port_id, sum(f.nevi_up_s) AS up_s, sum(f.period_s) AS period_s
    FROM lines l JOIN {_fact.FACT} f ON f.site_id = l.site_id AND f.month >= l.w0 AND f.month <= DATE '{m0}'
    GROUP BY l.contract_id, l.line_id, f.port_id
    HAVING sum(f.period_s) > 0
), units AS (
    -- what is measured against the commitment: each port (port scope) or the site's ports together
    SELECT l.contract_id, l.line_id, p.port_id AS unit, p.up_s, p.period_s, 1 AS n_ports
    FROM lines l JOIN ports p ON p.contract_id = l.contract_id AND p.line_id = l.line_id WHERE l.scope = 'port'
    UNION ALL
    SELECT l.contract_id, l.line_id, l.site_id, sum(p.up_s), sum(p.period_s), count(*)
    FROM lines l JOIN ports p ON p.contract_id = l.contract_id AND p.line_id = l.line_id
    WHERE coalesce(l.scope, 'site') = 'site'
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
       l.period, l.w0 AS window_start,
       CAST(l.sla_pct AS DOUBLE) AS sla_uptime_pct, p.uptime_pct,
       coalesce(p.ports_measured, 0) AS ports_measured, coalesce(p.ports_breached, 0) AS ports_breached,
       coalesce(p.ports_breached, 0) > 0 AS breached, CAST(coalesce(p.credit_pct, 0) AS DOUBLE) AS credit_pct,
       l.currency, {div_round_sql("l.fee_num", str(FEE_DEN))} AS fee_minor,
       coalesce({
        div_round_sql(
            "l.fee_num * CAST(p.weighted_pct * 1000000 AS HUGEINT)",
            f"CAST(p.ports_measured AS HUGEINT) * {FEE_DEN * 100 * 1000000}",
        )
    }, 0)
           AS credit_minor
FROM lines l LEFT JOIN per_line p ON p.contract_id = l.contract_id AND p.line_id = l.line_id
ORDER BY l.customer_id, l.contract_id, l.line_id
"""


def credits(wh: WarehouseLike | SparkWarehouse, month: dt.date, **horizon: Any) -> pa.Table:
    """The SLA evaluation and credit of every SLA-bearing contract line for local *month*.

    :func:`credits_range` of that month alone; *horizon* is its ``as_of`` and ``offline_after_s``.
    """
    return credits_range(wh, month, month, **horizon)


def credits_range(wh: WarehouseLike | SparkWarehouse, first: dt.date, last: dt.date, **horizon: Any) -> pa.Table:
    """The SLA evaluation and credit of every SLA-bearing contract line for local months *first* … *last*.

    One build of the uptime fact serves every month.

    Parameters
    ----------
    horizon
        ``as_of`` (the data horizon, UTC) and ``offline_after_s`` (the silence window [s]) of
        :func:`evrevops.uptime.fact.build`, which measures the uptime.

    Returns
    -------
    pyarrow.Table
        :data:`COLUMNS`, the months one after another; ``fee_minor`` and ``credit_minor`` are
        integer minor units of ``currency`` (the credit reduces the line's recurring revenue of
        the month); ``uptime_pct`` is the measured units' uptime [%].
    """
    m0, m1 = first.replace(day=1), last.replace(day=1)
    months = [add_months(m0, k) for k in range(months_between(m0, m1) + 1)]
    # the earliest measurement window any of the months evaluates
    start = min(w for m in months for w in (evaluation_window(m, p) for p in PERIOD_MONTHS) if w is not None)
    _fact.build(wh, start, m1, trailing=False, **horizon)
    if wh.engine != "duckdb":  # another engine replays the contract lines in each month's query
        return pa.concat_tables([wh.fetch(credits_sql(m)).select(list(COLUMNS)) for m in months])
    # the intervals are replayed from the events once for all the months
    lines = f"_sla_lines{next(_COUNTER)}"
    wh.execute(f"CREATE OR REPLACE TEMP TABLE {lines} AS SELECT * FROM {LINES}")
    try:
        return pa.concat_tables([wh.fetch(credits_sql(m, lines)).select(list(COLUMNS)) for m in months])
    finally:
        wh.execute(f"DROP TABLE IF EXISTS {lines}")
