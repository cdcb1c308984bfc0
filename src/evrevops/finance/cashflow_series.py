"""The months of each site's cash-flow series: which sites, their facts month by month, the grid.

Steps of :func:`evrevops.finance.cashflow.site_months` (where the rules are). Each step makes
temporary tables through *temp* (``temp(name, sql)`` creates one and returns its name) and
returns the names of what it made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from evrevops.contracts import energy_position as ep
from evrevops.core.calendar import add_months
from evrevops.warehouse.protocol import WarehouseLike

Temp = Callable[[str, str], str]


def facts_sql(sites: str, first: dt.date, last: dt.date, contracts: str, models: str | None) -> str:
    """SQL of ``(site_id, month, segment, revenue_model, energy_position)`` of relation *sites* over the months.

    Each month's facts in force on its last day; with *models* (a relation ``(site_id,
    revenue_model, energy_position)``), the model and position are those in every month.
    """
    f = ep.site_months_sql(first, last, contracts, sites=sites)
    if models is None:
        return f
    return f"""SELECT f.site_id, f.month, f.segment, m.revenue_model, m.energy_position
               FROM ({f}) f JOIN {models} m ON m.site_id = f.site_id"""


def sites_table(temp: Temp, contracts: str, models: str | None, scope: str, until: dt.date | None) -> str:
    """The sites with a revenue model: ``site_id, customer_id, m0`` (commissioning month), ``start``.

    ``start`` is the month of the site's first revenue or cost (its commissioning month, or an
    earlier contract or one-time cost). *scope* is the ``AND`` clause choosing sites; with
    *until*, only the sites with something before the month after it.
    """
    # with *until*, every site with something in the months: revenue or a cost before commissioning counts
    until_scope = (
        f"AND least(c.commissioned_on, coalesce(k.first_on, c.commissioned_on), coalesce(o.first_on, c.commissioned_on))"
        f" < DATE '{add_months(until.replace(day=1), 1)}'"
        if until
        else ""
    )
    # the sites with a revenue model (their latest facts; each month takes its own below)
    models_sql = models or f"({ep.positions_sql(contracts)})"
    return temp(
        "site",
        f"""WITH k AS (SELECT site_id, min(effective_on) AS first_on FROM {contracts} GROUP BY site_id),
                 o AS (SELECT site_id, min(incurred_on) AS first_on FROM site_costs
                       WHERE basis = 'one_time' AND site_id IS NOT NULL GROUP BY site_id)
            SELECT s.site_id, s.customer_id,
                   CAST(date_trunc('month', c.commissioned_on) AS DATE) AS m0,
                   CAST(date_trunc('month', least(c.commissioned_on, coalesce(k.first_on, c.commissioned_on),
                                                  coalesce(o.first_on, c.commissioned_on))) AS DATE) AS start
            FROM sites s JOIN (SELECT site_id, min(commissioned_on) AS commissioned_on FROM ports
                               WHERE commissioned_on IS NOT NULL GROUP BY site_id) c ON c.site_id = s.site_id
            JOIN {models_sql} m ON m.site_id = s.site_id
            LEFT JOIN k ON k.site_id = s.site_id LEFT JOIN o ON o.site_id = s.site_id
            WHERE m.revenue_model IS NOT NULL {scope} {until_scope}""",
    )


def grid_tables(
    wh: WarehouseLike,
    temp: Temp,
    site: str,
    contracts: str,
    models: str | None,
    series: tuple[dt.date, dt.date, str],
    data: tuple[dt.date | None, dt.date],
) -> tuple[str, str]:
    """``(facts, grid)``: the sites' facts by month, and one row per site and month of its series.

    *series* is ``(lo, last_month, end_sql)``: the first month of any series, the last month and
    the SQL of each site's last month; *data* the months of session data (:func:`data_months`).
    The facts cover every month of the series and every month a one-time cost falls in; the grid
    has the month's facts, ``t`` (months since commissioning), ``month_next`` and ``basis``.
    """
    lo, last_month, end_sql = series
    d0, d1 = data
    d0s = f"DATE '{d0}'" if d0 else "NULL"
    # the sites' facts of every month of the series, and of every month a one-time cost falls in
    spans = wh.rows(
        f"""SELECT min(incurred_on), max(incurred_on) FROM site_costs
            WHERE basis = 'one_time' AND (site_id IS NULL OR site_id IN (SELECT site_id FROM {site}))"""
    )[0]
    f_lo = min(lo, spans[0].replace(day=1)) if spans[0] else lo
    f_hi = max(last_month, spans[1].replace(day=1)) if spans[1] else last_month
    facts = temp("facts", facts_sql(site, f_lo, f_hi, contracts, models))
    grid = temp(
        "grid",
        f"""WITH g AS (
                SELECT s.*, CAST(s.start + to_months(CAST(k AS INTEGER)) AS DATE) AS month
                FROM {site} s, range(0, date_diff('month', DATE '{lo}', DATE '{last_month}') + 1) r(k)
                WHERE s.start + to_months(CAST(k AS INTEGER)) <= {end_sql}
            )
            SELECT g.*, f.segment, f.revenue_model, f.energy_position,
                   CAST(date_diff('month', g.m0, g.month) AS INTEGER) AS t,
                   CAST(g.month + INTERVAL 1 MONTH AS DATE) AS month_next,
                   CASE WHEN {d0s} IS NOT NULL AND g.month BETWEEN {d0s} AND DATE '{d1}' THEN 'actual'
                        WHEN g.month > DATE '{d1}' THEN 'projected'
                        ELSE 'estimated' END AS basis
            FROM g LEFT JOIN {facts} f ON f.site_id = g.site_id AND f.month = g.month""",
    )
    return facts, grid
