"""Funnel analytics learned from deal stage history (handbook §8).

The open stages run ``prospect → qualified → proposal → negotiation``, then ``closed_won`` or
``closed_lost``. A deal's **events** are its stage-history rows (``deal_stage_history``), plus
its close (``deals.closed_on`` with a closed ``stage``) when the history lacks it. With
``as_of``, only what was known on that day counts: events dated on or before it, so the funnel
can be learned as it stood at any past date (for backtests).

For each open stage *S*, over the deals that entered *S*:

* **advanced**: later entered a stage beyond *S* other than ``closed_lost`` (skipping stages
  counts: a deal that went from prospect to proposal advanced from prospect);
* **lost**: closed lost without advancing; **open**: neither yet (censored: left out of rates);
* ``conversion = advanced / (advanced + lost)``;
* ``win_probability = won / (won + lost)`` of those deals that have closed: the learned chance
  that a deal in *S* is won, used by the hardware forecast instead of the CRM's own probability;
* **days in stage**: from entering *S* to the deal's next event, for deals that left *S*
  (median and mean).

Over closed deals: **win rate** ``won / (won + lost)`` by any deal attribute (segment, revenue
model, owner, or stakeholder readiness: economic buyer engaged, utility capacity confirmed,
incentive status, ROI case delivered); **cycle time** from ``created_on`` to the win [days];
**close offset** of a win: its close date less ``expected_close_on`` [days, signed: < 0 early,
0 on time, > 0 late]; a win **slipped** when that offset is > 0, and its **slip** is then the
offset [days, > 0]; an open deal is **overdue** when its expected close is before ``as_of``.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from evrevops.core.calendar import month_range
from evrevops.core.choices import WIN_RATE_BY
from evrevops.core.suggest import did_you_mean
from evrevops.metrics import span
from evrevops.warehouse.protocol import WarehouseLike

OPEN_STAGES = ("prospect", "qualified", "proposal", "negotiation")
STAGE_ORDER = {s: i for i, s in enumerate((*OPEN_STAGES, "closed_won"), start=1)} | {"closed_lost": 9}
STAGES_BY = ("segment", "revenue_model", "owner")  # deal columns the funnel groups by


def default_day(wh: WarehouseLike, as_of: dt.date | None = None) -> dt.date:
    """*as_of*, else the day reports are "as of" by default: the last day of the last full month of session data."""
    if as_of is not None:
        return as_of
    last = span.last_full_month(wh)
    return month_range(last)[1] if last else dt.date.today()


def order_sql(col: str) -> str:
    """SQL of a stage column's position in the funnel (prospect 1 … closed_won 5, closed_lost 9)."""
    return "CASE " + col + " " + " ".join(f"WHEN '{s}' THEN {i}" for s, i in STAGE_ORDER.items()) + " END"


def events_sql(as_of: dt.date | None = None) -> str:
    """SQL of every deal's stage events known on *as_of*: ``deal_id, stage, entered_on, stage_order``."""
    cut = f"AND entered_on <= DATE '{as_of}'" if as_of else ""
    cut_close = f"AND d.closed_on <= DATE '{as_of}'" if as_of else ""
    return f"""
SELECT deal_id, stage, entered_on, {order_sql("stage")} AS stage_order FROM (
    SELECT deal_id, stage, entered_on FROM deal_stage_history WHERE TRUE {cut}
    UNION
    SELECT d.deal_id, d.stage, d.closed_on FROM deals d
    WHERE d.stage IN ('closed_won', 'closed_lost') AND d.closed_on IS NOT NULL {cut_close}
      AND NOT EXISTS (SELECT 1 FROM deal_stage_history h WHERE h.deal_id = d.deal_id AND h.stage = d.stage)
) e WHERE deal_id IN (SELECT deal_id FROM deals)
"""


def deal_states_sql(as_of: dt.date | None = None) -> str:
    """SQL of each deal's state on *as_of*: outcome (won, lost, open), stage, and dates.

    Columns: the ``deals`` row, ``outcome``, ``stage_at`` (the last event's stage), ``stage_since``,
    ``won_on``, ``lost_on``. Deals created after *as_of* are left out.
    """
    created = f"WHERE d.created_on IS NULL OR d.created_on <= DATE '{as_of}'" if as_of else ""
    return f"""
WITH ev AS ({events_sql(as_of)}),
last AS (
    SELECT deal_id, arg_max(stage, (entered_on, stage_order)) AS stage_at, max(entered_on) AS stage_since,
           min(entered_on) FILTER (WHERE stage = 'closed_won') AS won_on,
           min(entered_on) FILTER (WHERE stage = 'closed_lost') AS lost_on
    FROM ev GROUP BY deal_id
)
SELECT d.*, l.stage_at, l.stage_since, l.won_on, l.lost_on,
       CASE WHEN l.won_on IS NOT NULL THEN 'won' WHEN l.lost_on IS NOT NULL THEN 'lost' ELSE 'open' END AS outcome
FROM deals d JOIN last l ON l.deal_id = d.deal_id
{created}
"""


def stages(wh: WarehouseLike, as_of: dt.date | None = None, by: str | None = None) -> pa.Table:
    """Per open stage (and *by* group, e.g. ``segment``): entered, advanced, lost, open, conversion,
    win probability and days in stage (module docstring).

    Returns
    -------
    pyarrow.Table
        ``[by,] stage, entered, advanced, lost, open, conversion, win_probability,
        median_days, mean_days`` (rates as fractions, null with nothing resolved).
    """
    if by is not None and by not in STAGES_BY:
        raise ValueError(did_you_mean(by, STAGES_BY, "grouping", lead="use one of"))
    key = f"s.{by}" if by else "'network'"
    name = by or "scope"
    stages_list = ", ".join(f"('{s}', {STAGE_ORDER[s]})" for s in OPEN_STAGES)
    return wh.fetch(
        f"""
WITH ev AS ({events_sql(as_of)}),
st AS ({deal_states_sql(as_of)}),
seq AS (
    SELECT e.*, lead(entered_on) OVER (PARTITION BY deal_id ORDER BY entered_on, stage_order) AS next_on
    FROM ev e
),
entered AS (
    SELECT q.deal_id, q.stage, q.stage_order, min(q.entered_on) AS entered_on, max(q.next_on) AS left_on
    FROM seq q WHERE q.stage IN ({", ".join(f"'{s}'" for s in OPEN_STAGES)}) GROUP BY ALL
),
per AS (
    SELECT n.deal_id, n.stage, n.stage_order, n.entered_on, n.left_on, s.outcome, {key} AS k,
           EXISTS (SELECT 1 FROM ev x WHERE x.deal_id = n.deal_id AND x.stage_order > n.stage_order
                   AND x.stage <> 'closed_lost') AS advanced
    FROM entered n JOIN st s ON s.deal_id = n.deal_id
)
SELECT p.k AS {name}, o.stage,
       count(*) AS entered,
       count(*) FILTER (WHERE advanced) AS advanced,
       count(*) FILTER (WHERE NOT advanced AND outcome = 'lost') AS lost,
       count(*) FILTER (WHERE NOT advanced AND outcome = 'open') AS open,
       CAST(count(*) FILTER (WHERE advanced) AS DOUBLE)
           / nullif(count(*) FILTER (WHERE advanced OR outcome = 'lost'), 0) AS conversion,
       CAST(count(*) FILTER (WHERE outcome = 'won') AS DOUBLE)
           / nullif(count(*) FILTER (WHERE outcome IN ('won', 'lost')), 0) AS win_probability,
       median(date_diff('day', p.entered_on, p.left_on)) AS median_days,
       avg(date_diff('day', p.entered_on, p.left_on)) AS mean_days
FROM (VALUES {stages_list}) o(stage, stage_order) JOIN per p ON p.stage = o.stage
GROUP BY p.k, o.stage, o.stage_order ORDER BY 1 NULLS LAST, o.stage_order
"""
    )


def win_rates(wh: WarehouseLike, by: str = "segment", as_of: dt.date | None = None) -> pa.Table:
    """Win rate, cycle time and slippage of closed deals, and the open and overdue deals, per *by* value.

    Returns
    -------
    pyarrow.Table
        ``by`` value, ``won``, ``lost``, ``win_rate``, ``median_cycle_days``, ``mean_cycle_days``,
        ``slipped`` (wins closed after their ``expected_close_on``), ``median_slip_days``,
        ``median_close_offset_days``, ``open``, ``overdue`` (open past their expected close on
        *as_of*).

        ``median_slip_days`` is the median, over the wins that slipped only, of the close date
        less ``expected_close_on`` in days (always > 0); null when no win slipped.
        ``median_close_offset_days`` is the median, over all wins, of the close date less
        ``expected_close_on`` in days, signed (an early win counts negative, on time 0).
    """
    if by not in WIN_RATE_BY:
        raise ValueError(did_you_mean(by, WIN_RATE_BY, "grouping", lead="use one of"))
    key = "'network'" if by == "network" else by
    name = "scope" if by == "network" else by
    today = f"DATE '{as_of}'" if as_of else "current_date"
    return wh.fetch(
        f"""
WITH st AS ({deal_states_sql(as_of)})
SELECT CAST({key} AS VARCHAR) AS {name},
       count(*) FILTER (WHERE outcome = 'won') AS won,
       count(*) FILTER (WHERE outcome = 'lost') AS lost,
       CAST(count(*) FILTER (WHERE outcome = 'won') AS DOUBLE)
           / nullif(count(*) FILTER (WHERE outcome IN ('won', 'lost')), 0) AS win_rate,
       median(date_diff('day', created_on, won_on)) FILTER (WHERE outcome = 'won') AS median_cycle_days,
       avg(date_diff('day', created_on, won_on)) FILTER (WHERE outcome = 'won') AS mean_cycle_days,
       count(*) FILTER (WHERE outcome = 'won' AND won_on > expected_close_on) AS slipped,
       median(date_diff('day', expected_close_on, won_on))
           FILTER (WHERE outcome = 'won' AND won_on > expected_close_on) AS median_slip_days,
       median(date_diff('day', expected_close_on, won_on)) FILTER (WHERE outcome = 'won') AS median_close_offset_days,
       count(*) FILTER (WHERE outcome = 'open') AS open,
       count(*) FILTER (WHERE outcome = 'open' AND expected_close_on < {today}) AS overdue
FROM st GROUP BY 1 ORDER BY 1 NULLS LAST
"""
    )
