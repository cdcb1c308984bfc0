"""Who holds a site's energy position: sells its charging to drivers and pays its utility bill.

The site's **energy revenue** (its sessions' billed amounts) and **energy cost** (its utility
bill) are the operator's revenue and cost only where the operator holds the energy position.
Where the customer (the site host or fleet) holds it, they are the customer's, and the
operator earns from the site only what its contract says, which may include a **share of the
energy revenue** (a CaaS fee "plus a share of energy revenue", handbook §2).

The site's facts (``energy_position``: ``operator`` or ``customer``, sites CSV) state it; when
empty it follows the site's revenue model:

* ``caas``: the operator owns and operates the chargers (handbook §1) and holds the energy
  position, unless the site's CaaS line carries an energy share: then the customer sells the
  charging and pays the operator the fee plus the share;
* ``hardware_sale`` and ``software_only``: the customer owns the chargers and holds it.

**Over time.** Segment, revenue model and energy position are dated site facts
(:mod:`evrevops.warehouse.site_history`): a figure of a day takes the facts in force that day,
and a monthly figure those in force on the month's last day (as MRR is taken at the month's
end), so a change stated today never rewrites an earlier month. Before a site's first dated
statement its first statement holds. Whether the CaaS line carries a share is read the same
way from the contract intervals (:mod:`evrevops.warehouse.contract_lines`): of each CaaS line
of the site started by that day, its latest interval; a site none of whose CaaS lines has
started yet takes its first ones.
"""

from __future__ import annotations

import datetime as dt

from evrevops.core.calendar import month_grid_sql
from evrevops.warehouse import contract_lines as cl
from evrevops.warehouse import site_history as sh

#: The day standing for "the site's latest facts" (later than any stated date).
LATEST = dt.date(9999, 12, 30)


def facts_on_sql(days: str, lines: str = cl.VIEW) -> str:
    """SQL of the site facts in force on each ``(site_id, d)`` of relation *days* (rule in the module docstring).

    Returns ``site_id``, ``d``, ``segment``, ``revenue_model``, ``energy_position``,
    ``stated_position`` (the position the facts state, NULL when they follow the revenue model):
    one row per distinct ``(site_id, d)`` of a site with facts (every site of ``sites`` has them).
    *lines* is the relation of priced contract intervals whose CaaS lines say whether a share
    is in force.
    """
    in_force = sh.on_sql("x.site_id", "x.d", "h")
    return f"""
WITH days AS (SELECT DISTINCT site_id, CAST(d AS DATE) AS d FROM {days} WHERE site_id IS NOT NULL AND d IS NOT NULL),
facts AS (
    -- the interval in force on the day; before the site's first dated statement, its first
    SELECT x.site_id, x.d, h.segment, h.revenue_model, h.energy_position
    FROM days x JOIN {sh.VIEW} h ON h.site_id = x.site_id
    QUALIFY row_number() OVER (PARTITION BY x.site_id, x.d
                               ORDER BY CASE WHEN {in_force} THEN 0 ELSE 1 END, h.valid_from NULLS FIRST) = 1
),
cand AS (
    SELECT x.site_id, x.d, c.contract_id, c.line_id, c.effective_on, c.effective_on <= x.d AS started,
           coalesce(TRY_CAST(c.energy_share_pct AS DECIMAL(9, 4)) > 0, FALSE) AS has
    FROM days x JOIN {lines} c ON c.site_id = x.site_id AND c.line_type = 'caas'
),
ranked AS (
    SELECT *, bool_or(started) OVER (PARTITION BY site_id, d) AS any_started,
           max(CASE WHEN started THEN effective_on END) OVER (PARTITION BY site_id, d, contract_id, line_id) AS latest,
           min(effective_on) OVER (PARTITION BY site_id, d) AS site_first
    FROM cand
),
share AS (
    -- each CaaS line started by the day: its latest interval; none started: the site's first intervals
    SELECT site_id, d, bool_or(has) AS has_share FROM ranked
    WHERE CASE WHEN any_started THEN started AND effective_on = latest ELSE effective_on = site_first END
    GROUP BY site_id, d
)
SELECT f.site_id, f.d, f.segment, f.revenue_model,
       coalesce(f.energy_position,
                CASE WHEN f.revenue_model = 'caas' AND NOT coalesce(s.has_share, FALSE) THEN 'operator'
                     ELSE 'customer' END) AS energy_position, f.energy_position AS stated_position
FROM facts f LEFT JOIN share s ON s.site_id = f.site_id AND s.d = f.d
"""


def site_months_sql(first: dt.date, last: dt.date, lines: str = cl.VIEW, sites: str = "sites") -> str:
    """SQL of every site's facts of local months *first* … *last*, taken on each month's last day.

    Returns ``site_id``, ``month`` (its first day), ``segment``, ``revenue_model``,
    ``energy_position`` for every site of relation *sites* and month.
    """
    days = f"""(SELECT s.site_id, m.ms AS month, CAST(m.me - INTERVAL 1 DAY AS DATE) AS d
                FROM {sites} s, ({month_grid_sql(first.replace(day=1), last.replace(day=1))}) m)"""
    return f"""
SELECT x.site_id, x.month, f.segment, f.revenue_model, f.energy_position
FROM {days} x JOIN ({facts_on_sql(days, lines)}) f ON f.site_id = x.site_id AND f.d = x.d
"""


def positions_sql(contracts: str = cl.VIEW, sites: str = "sites", on: dt.date | None = None) -> str:
    """SQL of ``(site_id, segment, revenue_model, energy_position, stated_position)`` of every site on day *on*.

    Default: the site's latest facts (what it is now).
    """
    day = on or LATEST
    days = f"(SELECT site_id, DATE '{day}' AS d FROM {sites})"
    return f"""SELECT site_id, segment, revenue_model, energy_position, stated_position
               FROM ({facts_on_sql(days, contracts)}) p"""


def share_sql(first: dt.date, last: dt.date, contracts: str = cl.VIEW) -> str:
    """SQL of each site-month's energy share: ``(site_id, month, share_num, share_den)``.

    The share of a month is ``round(energy revenue × share_num / share_den)`` with
    ``share_num / share_den = Σ pct × days in force / (100 × days in the month)`` over the
    site's CaaS intervals with an ``energy_share_pct`` (the intervals of one line follow one
    another; a legacy ``amend`` row adds ports under its own line id, not a second share):
    prorated like the fee, in integers (``pct`` to four decimals).
    """
    return f"""
WITH months AS (
    {month_grid_sql(first, last)}
)
SELECT r.site_id, m.ms AS month,
       CAST(sum(CAST(CAST(r.energy_share_pct AS DECIMAL(9, 4)) * 10000 AS BIGINT)
                * date_diff('day', greatest(r.effective_on, m.ms), least(coalesce(r.end_on, m.me), m.me)))
            AS BIGINT) AS share_num,
       CAST(1000000 * any_value(m.days) AS BIGINT) AS share_den
FROM {contracts} r JOIN months m ON r.effective_on < m.me AND (r.end_on IS NULL OR r.end_on > m.ms)
WHERE r.line_type = 'caas' AND NOT (r.legacy AND r.event = 'amend')
  AND TRY_CAST(r.energy_share_pct AS DECIMAL(9, 4)) > 0
GROUP BY r.site_id, m.ms
"""
