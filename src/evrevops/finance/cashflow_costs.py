"""The cost side of each site's monthly cash flow: the costs the operator bears, capex and incentives.

Steps of :func:`evrevops.finance.cashflow.site_months` (where the rules are), over its grid of
site-months (:mod:`evrevops.finance.cashflow_series`): each cost of the cost book
(:mod:`evrevops.finance.costs`) spread over the months it falls in, by its basis, in the bucket
the month's facts give it; and the incentives (:mod:`evrevops.finance.incentives`) awarded on a
CaaS site's capex. Each step makes temporary tables through *temp* and returns their names.
"""

from __future__ import annotations

from evrevops.core.money import div_round_sql
from evrevops.finance import costs as fc
from evrevops.finance import incentives as fi
from evrevops.finance.cashflow_series import Temp


def capex_sql(site: str, facts: str) -> str:
    """SQL of the one-time capex the operator bears as owner of CaaS chargers: ``(site_id, cost_type, currency, amount_minor)``.

    *site* is a relation ``(site_id, m0)`` (``m0``: the commissioning month, where a cost
    without ``incurred_on`` lands); *facts* a relation ``(site_id, month, segment,
    revenue_model)`` covering the month of every cost: a cost is capex when the site is CaaS
    on the last day of the month it falls in (and, for a segment default, of that segment).
    """
    return f"""SELECT c.site_id, c.cost_type, c.currency, c.amount_minor
        FROM ({fc.resolved_sql()}) c JOIN {site} s ON s.site_id = c.site_id
        JOIN {facts} f ON f.site_id = c.site_id
         AND f.month = CAST(date_trunc('month', coalesce(c.incurred_on, s.m0)) AS DATE)
        WHERE c.basis = 'one_time' AND list_contains({list(fc.CAPEX_TYPES)}, c.cost_type)
          AND f.revenue_model = 'caas' AND (c.default_segment IS NULL OR c.default_segment = f.segment)"""


def cost_lines(temp: Temp, site: str, grid: str, base: str, contracts: str) -> str:
    """``clines``: every cost the operator bears in every site-month, ``(site_id, month, cost_type, bucket,
    amount)`` [minor units]; *base* is the months' energy and sessions (per-session and share-of-energy costs)."""
    costs_t = temp(
        "costs",
        f"""SELECT c.*, s.m0 FROM ({fc.resolved_sql()}) c JOIN {site} s ON s.site_id = c.site_id""",
    )
    # when a site's first maintenance line starts (from then it bears maintenance under a hardware sale)
    maint = temp(
        "maint",
        f"""SELECT site_id, min(effective_on) AS first_on FROM {contracts}
            WHERE line_type = 'maintenance' AND site_id IN (SELECT site_id FROM {site}) GROUP BY site_id""",
    )
    borne = fc.operator_bears_sql("c.cost_type", "g.revenue_model", "g.energy_position", "mt.first_on < g.month_next")
    port_days = temp(
        "pdays",
        f"""SELECT c.cost_id, g.site_id, g.month,
                   sum(greatest(0, date_diff('day',
                       greatest(g.month, p.commissioned_on, coalesce(c.start_on, g.month)),
                       least(g.month_next, coalesce(p.decommissioned_on, g.month_next), coalesce(c.end_on, g.month_next)))))
                       AS port_days
            FROM {costs_t} c JOIN {grid} g ON g.site_id = c.site_id
            JOIN ports p ON p.site_id = c.site_id AND p.commissioned_on IS NOT NULL
            WHERE c.basis = 'per_port_month'
            GROUP BY ALL""",
    )
    # days of the month the site had at least one port in service (for per-month costs)
    active = temp(
        "active",
        f"""WITH spans AS (
                SELECT site_id, commissioned_on AS a, coalesce(decommissioned_on, DATE '9999-12-31') AS b
                FROM ports WHERE commissioned_on IS NOT NULL AND site_id IN (SELECT site_id FROM {site})
            ), site_span AS (
                SELECT site_id, min(a) AS a, max(b) AS b FROM spans GROUP BY site_id
            )
            SELECT c.cost_id, g.site_id, g.month,
                   greatest(0, date_diff('day', greatest(g.month, x.a, coalesce(c.start_on, g.month)),
                                         least(g.month_next, x.b, coalesce(c.end_on, g.month_next)))) AS days
            FROM {costs_t} c JOIN {grid} g ON g.site_id = c.site_id JOIN site_span x ON x.site_id = c.site_id
            WHERE c.basis = 'per_month'""",
    )
    days = "date_diff('day', g.month, g.month_next)"
    in_window = "(c.start_on IS NULL OR g.month_next > c.start_on) AND (c.end_on IS NULL OR g.month < c.end_on)"
    cost_lines = temp(
        "clines",
        f"""SELECT g.site_id, g.month, c.cost_type,
                   CASE WHEN c.basis = 'one_time' AND list_contains({list(fc.CAPEX_TYPES)}, c.cost_type)
                             AND g.revenue_model = 'caas' THEN 'capex'
                        WHEN c.basis = 'one_time' AND list_contains({list(fc.CAPEX_TYPES)}, c.cost_type)
                             THEN 'cost_of_sales'
                        ELSE c.cost_type END AS bucket,
                   CASE c.basis
                       WHEN 'one_time' THEN c.amount_minor
                       WHEN 'per_port_month' THEN {div_round_sql("c.amount_minor * pd.port_days", days)}
                       WHEN 'per_month' THEN {div_round_sql("c.amount_minor * ad.days", days)}
                       WHEN 'per_session' THEN c.amount_minor * b.sessions
                       WHEN 'pct_of_energy_revenue' THEN {
            div_round_sql(
                "b.site_energy_revenue * CAST(CAST(c.rate_pct AS DECIMAL(18, 6)) * 10000 AS BIGINT)", "1000000"
            )
        }
                   END AS amount
            FROM {costs_t} c JOIN {grid} g ON g.site_id = c.site_id
            JOIN {base} b ON b.site_id = g.site_id AND b.month = g.month
            LEFT JOIN {port_days} pd ON pd.cost_id = c.cost_id AND pd.site_id = g.site_id AND pd.month = g.month
            LEFT JOIN {active} ad ON ad.cost_id = c.cost_id AND ad.site_id = g.site_id AND ad.month = g.month
            LEFT JOIN {maint} mt ON mt.site_id = g.site_id
            WHERE coalesce({borne}, FALSE) AND (c.default_segment IS NULL OR c.default_segment = g.segment) AND (
                (c.basis = 'one_time' AND CAST(date_trunc('month', coalesce(c.incurred_on, c.m0)) AS DATE) = g.month)
                OR (c.basis <> 'one_time' AND {in_window}))""",
    )
    return cost_lines


def incentive_awards(temp: Temp, site: str, facts: str, include_applied: bool) -> str:
    """``awards``: the incentives awarded on each CaaS site's capex (:func:`capex_sql`)."""
    capex = temp("capex", capex_sql(site, facts))
    # incentive programs are matched on the site's segment in its commissioning month
    seg_at = f"(SELECT s.site_id, f.segment FROM {site} s JOIN {facts} f ON f.site_id = s.site_id AND f.month = s.m0)"
    awards = temp("awards", fi.awards_sql(capex, sites=seg_at, include_applied=include_applied))
    return awards
