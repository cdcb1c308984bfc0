"""The open pipeline as it stood on a day, weighted two ways (handbook §8, §9).

On ``as_of``, a deal is **open** when it was created by then and had neither won nor lost
(:func:`evrevops.pipeline.funnel.deal_states_sql`); its stage is the last it had entered. Each
open deal carries its amounts per stream (hardware, installation, software ARR, CaaS ARR) and
two weights:

* ``crm_probability``: the CRM's own ``probability_pct`` (today's value: a CRM export keeps no
  history of it);
* ``learned_probability``: the win probability of its stage learned from the deals closed by
  ``as_of`` (:func:`evrevops.pipeline.funnel.stages`): its segment's when the segment has closed
  deals that entered the stage, else the network's.

``weighted = amount × probability``, rounded half away from zero to minor units per deal.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from evrevops.core.choices import SNAPSHOT_BY as BY
from evrevops.core.money import div_round_sql
from evrevops.core.suggest import did_you_mean
from evrevops.pipeline import funnel
from evrevops.warehouse.protocol import WarehouseLike

AMOUNTS = ("hardware_minor", "installation_minor", "software_arr_minor", "caas_arr_minor")


def deals(wh: WarehouseLike, as_of: dt.date) -> pa.Table:
    """Every open deal on *as_of* with its stage, amounts and both probabilities.

    Returns
    -------
    pyarrow.Table
        ``deal_id``, ``customer_id``, ``account_name``, ``segment``, ``revenue_model``, ``owner``,
        ``stage``, ``stage_since``, ``expected_close_on``, ``overdue`` (expected close before
        *as_of*), ``currency``, the :data:`AMOUNTS`, ``total_minor`` (their sum),
        ``crm_probability``, ``learned_probability`` (fractions), ``crm_weighted_minor``,
        ``learned_weighted_minor``.
    """
    net = funnel.stages(wh, as_of=as_of)
    seg = funnel.stages(wh, as_of=as_of, by="segment")
    wh.register("_snap_net", net)
    wh.register("_snap_seg", seg)
    total = " + ".join(f"coalesce(s.{a}, 0)" for a in AMOUNTS)
    try:
        return wh.fetch(
            f"""
WITH s AS ({funnel.deal_states_sql(as_of)}),
o AS (
    SELECT s.*, s.stage_at AS open_stage, {total} AS total_minor,
           CAST(s.probability_pct AS DECIMAL(9, 4)) / 100 AS crm_p,
           coalesce(g.win_probability, n.win_probability) AS learned_p
    FROM s LEFT JOIN _snap_seg g ON g.segment = s.segment AND g.stage = s.stage_at
    LEFT JOIN _snap_net n ON n.stage = s.stage_at
    WHERE s.outcome = 'open'
)
SELECT deal_id, customer_id, account_name, segment, revenue_model, owner, open_stage AS stage, stage_since,
       expected_close_on, coalesce(expected_close_on < DATE '{as_of}', FALSE) AS overdue, currency,
       {", ".join(f"CAST(coalesce({a}, 0) AS BIGINT) AS {a}" for a in AMOUNTS)},
       CAST(total_minor AS BIGINT) AS total_minor,
       CAST(crm_p AS DOUBLE) AS crm_probability, learned_p AS learned_probability,
       {div_round_sql("total_minor * CAST(probability_pct * 10000 AS BIGINT)", "1000000")} AS crm_weighted_minor,
       CAST(round(total_minor * learned_p) AS BIGINT) AS learned_weighted_minor
FROM o ORDER BY {funnel.order_sql("open_stage")} DESC, deal_id
"""
        )
    finally:
        wh.unregister("_snap_net")
        wh.unregister("_snap_seg")


def summary(wh: WarehouseLike, as_of: dt.date, by: str = "stage") -> pa.Table:
    """The open pipeline on *as_of* per stage, segment or owner: deals, amounts, both weightings.

    Returns
    -------
    pyarrow.Table
        ``by`` value, ``currency``, ``deals``, ``overdue``, the :data:`AMOUNTS`, ``total_minor``,
        ``crm_weighted_minor``, ``learned_weighted_minor`` (sums of the deals' rounded amounts).
    """
    if by not in BY:
        raise ValueError(did_you_mean(by, BY, "grain", lead="use one of"))
    t = deals(wh, as_of)
    if by == "deal":
        return t
    wh.register("_snap_deals", t)
    sums = ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in (*AMOUNTS, "total_minor", "crm_weighted_minor", "learned_weighted_minor"))  # fmt: skip
    order = funnel.order_sql(by) + " DESC" if by == "stage" else "1"
    try:
        return wh.fetch(
            f"""SELECT {by}, currency, count(*) AS deals, count(*) FILTER (WHERE overdue) AS overdue, {sums}
                FROM _snap_deals GROUP BY {by}, currency ORDER BY {order}, currency"""
        )
    finally:
        wh.unregister("_snap_deals")
