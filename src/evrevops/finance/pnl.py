"""Segment P&L by month: revenue by stream, cost of revenue, gross margin, revenue per port.

* **revenue**: every stream as recognized (:func:`evrevops.contracts.revenue.lines`), so the
  P&L's revenue is the revenue report's to the cent;
* **cost of revenue**: the utility bills of the sites where the operator holds the energy
  position; the cost of the hardware and installation it sells (``cost_of_sales``, in the
  month the cost book dates them); the operating costs it bears (network, maintenance,
  payment processing, site lease, other; :mod:`evrevops.finance.costs`); and the
  **depreciation** of the CaaS sites it owns: capex less incentives, straight line over
  ``useful_life_months`` from the month each falls in, month *k* of *L* carrying
  ``round(C·k/L) − round(C·(k−1)/L)`` so an asset's months add up to its cost exactly;
* ``gross_margin = revenue − cost_of_revenue`` and its share of revenue;
* ``ports`` in service at the month's end and ``revenue_per_port_minor = revenue / ports``
  (all streams, rounded half away from zero).

Months must lie within the session data (a P&L is of actual months only). Amounts are integer
minor units per currency; each row's cost of revenue is the sum of its cost columns and every
grain sums to the network.

A site's segment and revenue model are dated facts (:mod:`evrevops.warehouse.site_history`):
each month's costs and ports are grouped by the site's facts in force on the month's last day,
as its revenue is (:mod:`evrevops.contracts.revenue`), so a P&L of a past month stays what it
was when a site changes segment or model later.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from evrevops.contracts import energy_position as ep
from evrevops.contracts import revenue as crev
from evrevops.core import vocabulary
from evrevops.core.calendar import add_months
from evrevops.core.choices import DEFAULT_USEFUL_LIFE_MONTHS
from evrevops.core.choices import PNL_BY as BY
from evrevops.core.money import div_round_sql
from evrevops.core.suggest import did_you_mean
from evrevops.finance import cashflow as cf
from evrevops.warehouse.protocol import WarehouseLike

COSTS = (
    "energy_cost_minor", "cost_of_sales_minor", "network_minor", "maintenance_cost_minor",
    "payment_processing_minor", "site_lease_minor", "other_minor", "depreciation_minor",
)  # fmt: skip
_KEY = {"segment": "segment", "site": "site_id", "customer": "customer_id", "revenue_model": "revenue_model"}


def pnl(
    wh: WarehouseLike,
    first: dt.date,
    last: dt.date | None = None,
    by: str = "segment",
    useful_life_months: int = DEFAULT_USEFUL_LIFE_MONTHS,
) -> pa.Table:
    """P&L of local months *first* … *last* at grain *by* (module docstring).

    Returns
    -------
    pyarrow.Table
        The grain's key, ``month`` (``YYYY-MM``), ``currency``, ``<stream>_minor`` for every
        revenue stream, ``revenue_minor``, :data:`COSTS`, ``cost_of_revenue_minor``,
        ``gross_margin_minor``, ``gross_margin_share`` (fraction), ``ports``,
        ``revenue_per_port_minor``.
    """
    if by not in BY:
        raise ValueError(did_you_mean(by, BY, "grain", lead="use one of"))
    if useful_life_months < 1:
        raise ValueError("the useful life must be at least one month")
    last = (last or first).replace(day=1)
    first = first.replace(day=1)
    d0, d1 = cf.data_months(wh)
    if d0 is None or first < d0 or last > d1:
        span = f"{d0:%Y-%m} … {d1:%Y-%m}" if d0 else "none"
        raise ValueError(f"a P&L is of months with session data ({span}); asked {first:%Y-%m} … {last:%Y-%m}")
    revenue = crev.lines(wh, first, last)
    months = cf.site_months(wh, until=last, sla=False)
    wh.register("_pnl_rev", revenue)
    wh.register("_pnl_cf", months)
    L = useful_life_months
    k = "(date_diff('month', a.month, m.month) + 1)"
    dep = f"{div_round_sql(f'a.amount * {k}', str(L))} - {div_round_sql(f'a.amount * ({k} - 1)', str(L))}"
    key = f"{_KEY[by]}" if by != "network" else "'network'"
    name = by if by != "network" else "scope"
    streams = ", ".join(
        f"CAST(coalesce(sum(amount) FILTER (WHERE stream = '{s}'), 0) AS BIGINT) AS {s}_minor"
        for s in vocabulary.STREAMS
    )
    cost_cols = ", ".join(f"CAST(coalesce(sum({c}), 0) AS BIGINT) AS {c}" for c in COSTS)
    m1 = add_months(last, 1)
    try:
        out = wh.fetch(
            f"""
WITH sites_at AS (
    -- each site's facts of each month, on the month's last day
    SELECT s.site_id, s.customer_id, f.month, f.segment, f.revenue_model
    FROM sites s JOIN ({ep.site_months_sql(first, last)}) f ON f.site_id = s.site_id
),
assets AS (
    -- what each CaaS site cost its operator, net of incentives, in the month it fell in
    SELECT site_id, currency, month, capex_minor - incentives_minor AS amount FROM _pnl_cf
    WHERE capex_minor <> 0 OR incentives_minor <> 0
),
months AS (SELECT CAST(m AS DATE) AS month FROM range(DATE '{first}', DATE '{m1}', INTERVAL 1 MONTH) t(m)),
depreciation AS (
    SELECT a.site_id, a.currency, m.month, sum({dep}) AS depreciation_minor
    FROM assets a JOIN months m ON m.month >= a.month AND m.month < a.month + to_months({L})
    GROUP BY ALL
),
site_costs AS (
    SELECT c.site_id, c.currency, c.month, c.energy_cost_minor, c.cost_of_sales_minor, c.network_minor,
           c.maintenance_cost_minor, c.payment_processing_minor, c.site_lease_minor, c.other_minor,
           0 AS depreciation_minor
    FROM _pnl_cf c WHERE c.month BETWEEN DATE '{first}' AND DATE '{last}'
    UNION ALL
    SELECT site_id, currency, month, 0, 0, 0, 0, 0, 0, 0, depreciation_minor FROM depreciation
),
ports_at AS (
    SELECT p.site_id, m.month, count(*) AS ports
    FROM ports p JOIN months m ON p.commissioned_on < m.month + INTERVAL 1 MONTH
     AND (p.decommissioned_on IS NULL OR p.decommissioned_on >= m.month + INTERVAL 1 MONTH)
    GROUP BY ALL
),
rev AS (
    SELECT {key} AS k, r.month, r.currency, {streams},
           CAST(sum(amount) AS BIGINT) AS revenue_minor
    FROM (SELECT *, amount_minor AS amount FROM _pnl_rev) r GROUP BY ALL
),
cost AS (
    SELECT {key if by == "network" else f"s.{_KEY[by]}"} AS k, c.month, c.currency, {cost_cols}
    FROM site_costs c JOIN sites_at s ON s.site_id = c.site_id AND s.month = c.month GROUP BY ALL
),
prt AS (
    SELECT {key if by == "network" else f"s.{_KEY[by]}"} AS k, p.month, CAST(sum(p.ports) AS BIGINT) AS ports
    FROM ports_at p JOIN sites_at s ON s.site_id = p.site_id AND s.month = p.month GROUP BY ALL
),
keys AS (SELECT k, month, currency FROM rev UNION SELECT k, month, currency FROM cost)
SELECT x.k AS {name}, strftime(x.month, '%Y-%m') AS month, x.currency,
       {", ".join(f"coalesce(r.{s}_minor, 0) AS {s}_minor" for s in vocabulary.STREAMS)},
       coalesce(r.revenue_minor, 0) AS revenue_minor,
       {", ".join(f"coalesce(c.{c}, 0) AS {c}" for c in COSTS)},
       CAST({" + ".join(f"coalesce(c.{c}, 0)" for c in COSTS)} AS BIGINT) AS cost_of_revenue_minor,
       CAST(coalesce(r.revenue_minor, 0) - ({" + ".join(f"coalesce(c.{c}, 0)" for c in COSTS)}) AS BIGINT)
           AS gross_margin_minor,
       CAST(coalesce(r.revenue_minor, 0) - ({" + ".join(f"coalesce(c.{c}, 0)" for c in COSTS)}) AS DOUBLE)
           / nullif(r.revenue_minor, 0) AS gross_margin_share,
       coalesce(p.ports, 0) AS ports,
       CASE WHEN coalesce(p.ports, 0) > 0 THEN {div_round_sql("coalesce(r.revenue_minor, 0)", "p.ports")} END
           AS revenue_per_port_minor
FROM keys x
LEFT JOIN rev r ON r.k IS NOT DISTINCT FROM x.k AND r.month = x.month AND r.currency IS NOT DISTINCT FROM x.currency
LEFT JOIN cost c ON c.k IS NOT DISTINCT FROM x.k AND c.month = x.month AND c.currency IS NOT DISTINCT FROM x.currency
LEFT JOIN prt p ON p.k IS NOT DISTINCT FROM x.k AND p.month = x.month
WHERE x.month BETWEEN DATE '{first}' AND DATE '{last}'
ORDER BY 1 NULLS LAST, 2, 3"""
        )
    finally:
        wh.unregister("_pnl_rev")
        wh.unregister("_pnl_cf")
    return out
