"""Installation projects: milestones, slippage, budget against actual, project margin (handbook §8).

A won deal becomes a project whose milestones run ``site_survey → make_ready → permits →
installation → commissioning``, each with a planned and an actual date and a budget and an
actual cost (``projects``, "Projects CSV"). On ``as_of`` (default: the end of the last full month of
session data):

* a milestone is **done** when its actual date is on or before ``as_of``; the project's
  ``status`` is its last done milestone (``not_started`` before the first);
* its **delay** is the larger of the last done milestone's slip (actual − planned) and, when the
  next milestone's planned date has passed, how far ``as_of`` is past it; every remaining
  milestone is **expected** at its planned date + the delay. Slips carry forward: a late
  make-ready moves the commissioning and with it the hardware and installation revenue;
* **estimate at completion** = the actual cost of the done milestones + the budget of the rest;
  **project margin** = the deal's installation price − the estimate at completion
  (``margin_at_budget`` uses the whole budget), for hardware sales: a CaaS or software deal
  sells no installation (its cost is the operator's capex), so it has no project margin.

Money is integer minor units of the project's currency.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from evrevops.pipeline import funnel
from evrevops.warehouse.protocol import WarehouseLike

MILESTONES = ("site_survey", "make_ready", "permits", "installation", "commissioning")


def _order(col: str) -> str:
    return "CASE " + col + " " + " ".join(f"WHEN '{m}' THEN {i}" for i, m in enumerate(MILESTONES, 1)) + " END"


def status_sql(as_of: dt.date) -> str:
    """SQL of every project's status on *as_of* (columns of :func:`status`)."""
    a = f"DATE '{as_of}'"
    return f"""
WITH m AS (
    SELECT p.*, {_order("p.milestone")} AS k, p.actual_on IS NOT NULL AND p.actual_on <= {a} AS done
    FROM projects p
), last_done AS (
    SELECT project_id, max(k) AS k FROM m WHERE done GROUP BY project_id
), proj AS (
    SELECT m.project_id, any_value(m.deal_id) AS deal_id, any_value(m.customer_id) AS customer_id,
           any_value(m.site_id) AS site_id, any_value(m.currency) AS currency,
           coalesce(max(d.k), 0) AS done_k,
           -- the last done milestone's slip, and how far as_of is past the next one's plan
           coalesce(max(date_diff('day', m.planned_on, m.actual_on)) FILTER (WHERE m.k = d.k), 0) AS slip_days,
           coalesce(greatest(0, max(date_diff('day', m.planned_on, {a})) FILTER (WHERE m.k = coalesce(d.k, 0) + 1)), 0)
               AS overdue_days,
           max(m.planned_on) FILTER (WHERE m.milestone = 'commissioning') AS planned_commissioning_on,
           max(m.actual_on) FILTER (WHERE m.milestone = 'commissioning' AND m.done) AS commissioned_on,
           CAST(sum(m.budget_minor) AS BIGINT) AS budget_minor,
           CAST(coalesce(sum(m.actual_cost_minor) FILTER (WHERE m.done), 0) AS BIGINT) AS actual_cost_minor,
           CAST(coalesce(sum(m.budget_minor) FILTER (WHERE m.done), 0) AS BIGINT) AS budget_done_minor,
           CAST(coalesce(sum(m.actual_cost_minor) FILTER (WHERE m.done), 0)
                + coalesce(sum(m.budget_minor) FILTER (WHERE NOT m.done), 0) AS BIGINT) AS estimate_at_completion_minor
    FROM m LEFT JOIN last_done d ON d.project_id = m.project_id
    GROUP BY m.project_id
)
SELECT p.project_id, p.deal_id, p.customer_id, coalesce(p.site_id, '') AS site_id, dl.segment,
       CASE p.done_k {" ".join(f"WHEN {i} THEN '{m}'" for i, m in enumerate(MILESTONES, 1))} ELSE 'not_started' END
           AS status,
       CASE p.done_k {" ".join(f"WHEN {i - 1} THEN '{m}'" for i, m in enumerate(MILESTONES, 1))} END AS next_milestone,
       greatest(p.slip_days, p.overdue_days) AS delay_days,
       p.planned_commissioning_on,
       coalesce(p.commissioned_on,
                CAST(p.planned_commissioning_on + to_days(CAST(greatest(p.slip_days, p.overdue_days) AS INTEGER)) AS DATE))
           AS expected_commissioning_on,
       p.currency, p.budget_minor, p.actual_cost_minor, p.budget_done_minor,
       p.actual_cost_minor - p.budget_done_minor AS cost_variance_minor,
       p.estimate_at_completion_minor,
       sold.price AS installation_price_minor,
       sold.price - p.budget_minor AS margin_at_budget_minor,
       sold.price - p.estimate_at_completion_minor AS expected_margin_minor
FROM proj p LEFT JOIN deals dl ON dl.deal_id = p.deal_id
-- a margin only where the installation is sold (a hardware sale); a CaaS installation is capex
LEFT JOIN (SELECT deal_id, installation_minor AS price FROM deals
           WHERE coalesce(revenue_model, 'hardware_sale') = 'hardware_sale') sold ON sold.deal_id = p.deal_id
ORDER BY p.project_id
"""


def status(wh: WarehouseLike, as_of: dt.date | None = None) -> pa.Table:
    """Every project on *as_of*: status, delay, expected commissioning, budget against actual, margin.

    Returns
    -------
    pyarrow.Table
        ``project_id``, ``deal_id``, ``customer_id``, ``site_id``, ``segment``, ``status``,
        ``next_milestone``, ``delay_days``, ``planned_commissioning_on``,
        ``expected_commissioning_on``, ``currency``, ``budget_minor``, ``actual_cost_minor``
        (done milestones), ``budget_done_minor``, ``cost_variance_minor``,
        ``estimate_at_completion_minor``, ``installation_price_minor``,
        ``margin_at_budget_minor``, ``expected_margin_minor``.
    """
    return wh.fetch(status_sql(funnel.default_day(wh, as_of)))


def slippage(wh: WarehouseLike, as_of: dt.date | None = None) -> pa.Table:
    """Per milestone, over the projects that reached it by *as_of*: how many slipped and by how much.

    Returns
    -------
    pyarrow.Table
        ``milestone``, ``done``, ``slipped`` (actual after planned), ``slipped_share``,
        ``median_slip_days``, ``mean_slip_days``, ``cost_overrun_share`` (done milestones whose
        actual cost passed their budget).
    """
    a = funnel.default_day(wh, as_of)
    return wh.fetch(
        f"""
SELECT milestone, count(*) AS done, count(*) FILTER (WHERE actual_on > planned_on) AS slipped,
       CAST(count(*) FILTER (WHERE actual_on > planned_on) AS DOUBLE) / count(*) AS slipped_share,
       median(date_diff('day', planned_on, actual_on)) AS median_slip_days,
       avg(date_diff('day', planned_on, actual_on)) AS mean_slip_days,
       CAST(count(*) FILTER (WHERE actual_cost_minor > budget_minor) AS DOUBLE) / count(*) AS cost_overrun_share
FROM projects WHERE actual_on IS NOT NULL AND actual_on <= DATE '{a}' AND planned_on IS NOT NULL
GROUP BY milestone ORDER BY {_order("milestone")}
"""
    )
