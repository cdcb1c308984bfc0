"""Land and expand: first deployments, expansions, and the utilization ramp (handbook §8).

A **deployment** is a set of ports of one customer commissioned on one day (at one site or
several). A customer's first deployment day is its **land**; every later deployment day is an
**expansion**, whether it opens a new site or adds ports to an existing one. Counted on
``as_of`` (default: the end of the last full month of session data), from ``ports.commissioned_on``
and ``sites.customer_id``.

Per group (segment or network):

* ``conversion = expanded / landed``: customers with at least one expansion over customers
  landed; ``mature_conversion`` counts only customers landed at least ``mature_months`` before
  ``as_of`` (a customer landed last month has had no time to expand);
* **time to expand**: days from land to the first expansion (median, mean);
* **expansion ports**: per expanding customer and per landed customer.

The **utilization ramp** is utilization by months since commissioning: for every port-month of
the session data, ``k`` = months from the port's commissioning month (0 = the commissioning
month), and per segment and ``k``, ``Σ charging time / Σ open time`` (ratio of sums, as every
utilization in evrevops). New sites borrow their segment's ramp in the forecast.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from evrevops.core.calendar import add_months, days_in_month, month_range
from evrevops.core.choices import EXPANSION_BY as BY
from evrevops.core.suggest import did_you_mean
from evrevops.metrics import compute as mc
from evrevops.metrics import span
from evrevops.pipeline import funnel
from evrevops.warehouse import site_history
from evrevops.warehouse.protocol import WarehouseLike


def customers_sql(as_of: dt.date) -> str:
    """SQL of every landed customer's land and expansions on *as_of* (see :func:`customers`)."""
    return f"""
WITH dep AS (
    SELECT s.customer_id, p.commissioned_on AS on_day, count(*) AS ports
    FROM ports p JOIN sites s ON s.site_id = p.site_id
    WHERE p.commissioned_on IS NOT NULL AND p.commissioned_on <= DATE '{as_of}' AND s.customer_id IS NOT NULL
    GROUP BY ALL
), land AS (
    SELECT customer_id, min(on_day) AS landed_on FROM dep GROUP BY customer_id
)
SELECT l.customer_id,
       coalesce(any_value(c.segment), (SELECT min(s.segment) FROM sites s WHERE s.customer_id = l.customer_id))
           AS segment,
       l.landed_on,
       CAST(sum(d.ports) FILTER (WHERE d.on_day = l.landed_on) AS BIGINT) AS land_ports,
       count(*) FILTER (WHERE d.on_day > l.landed_on) AS expansions,
       min(d.on_day) FILTER (WHERE d.on_day > l.landed_on) AS first_expansion_on,
       date_diff('day', l.landed_on, min(d.on_day) FILTER (WHERE d.on_day > l.landed_on)) AS days_to_expand,
       CAST(coalesce(sum(d.ports) FILTER (WHERE d.on_day > l.landed_on), 0) AS BIGINT) AS expansion_ports
FROM land l JOIN dep d ON d.customer_id = l.customer_id
LEFT JOIN customers c ON c.customer_id = l.customer_id
GROUP BY l.customer_id, l.landed_on
ORDER BY l.customer_id
"""


def customers(wh: WarehouseLike, as_of: dt.date | None = None) -> pa.Table:
    """Each customer's land and expansions.

    Returns
    -------
    pyarrow.Table
        ``customer_id``, ``segment``, ``landed_on``, ``land_ports``, ``expansions`` (deployment
        days after the land), ``first_expansion_on``, ``days_to_expand``, ``expansion_ports``.
    """
    return wh.fetch(customers_sql(funnel.default_day(wh, as_of)))


def summary(wh: WarehouseLike, by: str = "segment", as_of: dt.date | None = None, mature_months: int = 12) -> pa.Table:
    """Deployment-to-expansion conversion, time to expand and expansion ports per group (module docstring).

    Returns
    -------
    pyarrow.Table
        ``segment`` (or ``scope``), ``landed``, ``expanded``, ``conversion``, ``landed_mature``,
        ``expanded_mature``, ``mature_conversion``, ``median_days_to_expand``,
        ``mean_days_to_expand``, ``expansion_ports``, ``expansion_ports_per_expanded``,
        ``expansion_ports_per_landed``.
    """
    if by not in BY:
        raise ValueError(did_you_mean(by, BY, "grain", lead="use one of"))
    day = funnel.default_day(wh, as_of)
    m = add_months(day, -mature_months)
    mature = m.replace(day=min(day.day, days_in_month(m.year, m.month)))  # as_of less mature_months
    key = "segment" if by == "segment" else "'network'"
    name = "segment" if by == "segment" else "scope"
    return wh.fetch(
        f"""
WITH c AS ({customers_sql(day)}), m AS (SELECT *, landed_on <= DATE '{mature}' AS is_mature FROM c)
SELECT {key} AS {name}, count(*) AS landed, count(*) FILTER (WHERE expansions > 0) AS expanded,
       CAST(count(*) FILTER (WHERE expansions > 0) AS DOUBLE) / count(*) AS conversion,
       count(*) FILTER (WHERE is_mature) AS landed_mature,
       count(*) FILTER (WHERE is_mature AND expansions > 0) AS expanded_mature,
       CAST(count(*) FILTER (WHERE is_mature AND expansions > 0) AS DOUBLE)
           / nullif(count(*) FILTER (WHERE is_mature), 0) AS mature_conversion,
       median(days_to_expand) AS median_days_to_expand, avg(days_to_expand) AS mean_days_to_expand,
       CAST(sum(expansion_ports) AS BIGINT) AS expansion_ports,
       CAST(sum(expansion_ports) AS DOUBLE) / nullif(count(*) FILTER (WHERE expansions > 0), 0)
           AS expansion_ports_per_expanded,
       CAST(sum(expansion_ports) AS DOUBLE) / count(*) AS expansion_ports_per_landed
FROM m GROUP BY 1 ORDER BY 1
"""
    )


def ramp(wh: WarehouseLike, by: str = "segment", max_months: int | None = None) -> pa.Table:
    """Utilization by months since commissioning (``k``), per segment or for the network.

    Returns
    -------
    pyarrow.Table
        ``segment`` (or ``scope``), ``months_since_commissioning``, ``ports`` (port-months at
        that ``k``), ``charging_h``, ``open_h``, ``utilization`` (fraction).
    """
    if by not in BY:
        raise ValueError(did_you_mean(by, BY, "grain", lead="use one of"))
    r = span.data_range(wh)
    if r is None:
        raise ValueError("the warehouse has no sessions: the ramp needs session data")
    first = r[0].replace(day=1)
    last = span.last_full_month(wh)
    lo, hi = first, month_range(last)[1]
    t = mc.compute(wh, by="port", period="month", start=lo, end=hi, metrics=["charging_h", "open_h"])
    wh.register("_ramp_in", t)
    key = "h.segment" if by == "segment" else "'network'"
    name = "segment" if by == "segment" else "scope"
    cap = f"AND k <= {int(max_months)}" if max_months is not None else ""
    month_end = "CAST(CAST(strptime(x.month, '%Y-%m') AS DATE) + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE)"
    try:
        return wh.fetch(
            f"""
WITH pm AS (
    -- each port-month at the site it was at, in that site's segment at the month's end
    SELECT x.port_id, {key} AS g,
           date_diff('month', date_trunc('month', p.commissioned_on), CAST(strptime(x.month, '%Y-%m') AS DATE)) AS k,
           x.charging_h, x.open_h
    FROM _ramp_in x JOIN ports p ON p.port_id = x.port_id
    LEFT JOIN {site_history.VIEW} h ON {site_history.on_sql("x.site_id", month_end, "h")}
    WHERE p.commissioned_on IS NOT NULL AND x.open_h > 0
)
SELECT g AS {name}, CAST(k AS INTEGER) AS months_since_commissioning, count(*) AS ports,
       sum(charging_h) AS charging_h, sum(open_h) AS open_h, sum(charging_h) / sum(open_h) AS utilization
FROM pm WHERE k >= 0 {cap} GROUP BY 1, 2 ORDER BY 1, 2
"""
        )
    finally:
        wh.unregister("_ramp_in")
