"""Revenue by stream per month, recognized as handbook §2 says.

* **hardware** at delivery: the hardware row's ``effective_on``, ``quantity × unit_price``;
* **installation** at commissioning: the installation row's ``effective_on``, ``quantity ×
  unit_price`` (quantity 1 when empty);
* **recurring** (``software``, ``caas``, ``maintenance``) ratably: each row in force
  ``[effective_on, end_on)`` earns ``ports × unit_price × days in force / days in the month``
  in every month it overlaps, however it is billed (an annual prepayment is recognized a
  month at a time);
* **SLA credits** reduce recurring revenue in the month they are owed
  (:func:`evrevops.uptime.sla.credits`), as negative amounts;
* **energy**: the metrics' ``energy_revenue_minor`` of the site's sessions (excl. VAT, in the
  local month of the session's start, as every other report attributes it).

Each line is rounded half up to whole minor units once (per row and month), and every
report adds those integers, so a total is the sum of its parts to the cent. Amounts in
different currencies are never added. A CaaS energy-revenue share is not recognized here
yet.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from evrevops.metrics import compute as mc
from evrevops.uptime import sla as _sla
from evrevops.uptime.timeline import add_months
from evrevops.warehouse.db import Warehouse

STREAMS = ("hardware", "installation", "software", "caas", "maintenance", "sla_credit", "energy")
BY = ("customer", "site", "segment", "revenue_model", "network")
_KEY = {"customer": "customer_id", "site": "site_id", "segment": "segment", "revenue_model": "revenue_model"}


def contract_lines_sql(first: dt.date, last: dt.date) -> str:
    """Recognized contract revenue of local months *first* … *last*: one row per contract row and month."""
    m0, m1 = first.replace(day=1), add_months(last.replace(day=1), 1)
    return f"""
WITH months AS (
    SELECT CAST(m AS DATE) AS ms, CAST(m + INTERVAL 1 MONTH AS DATE) AS me,
           date_diff('day', CAST(m AS DATE), CAST(m + INTERVAL 1 MONTH AS DATE)) AS days
    FROM range(DATE '{m0}', DATE '{m1}', INTERVAL 1 MONTH) t(m)
), rows AS (
    SELECT c.*, coalesce(s.segment, k.segment) AS seg, coalesce(c.revenue_model, s.revenue_model) AS model
    FROM contracts c LEFT JOIN sites s ON s.site_id = c.site_id LEFT JOIN customers k ON k.customer_id = c.customer_id
    WHERE c.event <> 'cancel' AND c.unit_price_minor IS NOT NULL
)
SELECT r.customer_id, r.site_id, r.seg AS segment, r.model AS revenue_model, r.currency, m.ms AS month,
       r.line_type AS stream,
       CAST(round(CAST(coalesce(r.quantity, 1) AS DECIMAL(18, 6)) * r.unit_price_minor, 0) AS BIGINT) AS amount_minor
FROM rows r JOIN months m ON r.effective_on >= m.ms AND r.effective_on < m.me
WHERE r.line_type IN ('hardware', 'installation')
UNION ALL
SELECT r.customer_id, r.site_id, r.seg, r.model, r.currency, m.ms, r.line_type,
       CAST(round(CAST(r.ports AS DECIMAL(38, 10)) * r.unit_price_minor
                  * date_diff('day', greatest(r.effective_on, m.ms), least(coalesce(r.end_on, m.me), m.me)) / m.days, 0)
            AS BIGINT)
FROM rows r JOIN months m ON r.effective_on < m.me AND (r.end_on IS NULL OR r.end_on > m.ms)
WHERE r.line_type IN ('software', 'caas', 'maintenance') AND r.ports IS NOT NULL
"""


def lines(wh: Warehouse, first: dt.date, last: dt.date) -> pa.Table:
    """Every recognized amount of the months, by stream: contract lines, SLA credits and energy.

    Returns
    -------
    pyarrow.Table
        ``customer_id``, ``site_id``, ``segment``, ``revenue_model``, ``currency``, ``month``,
        ``stream`` (:data:`STREAMS`), ``amount_minor`` (integer minor units; SLA credits
        negative).
    """
    con = wh.con
    parts = [con.sql(contract_lines_sql(first, last)).to_arrow_table()]
    m = first.replace(day=1)
    schema = parts[0].schema
    while m <= last.replace(day=1):
        cr = _sla.credits(wh, m).to_pylist()
        rows = [r for r in cr if r["credit_minor"]]
        if rows:
            con.register("_sla_in", pa.Table.from_pylist(rows))
            parts.append(
                con.sql(
                    """SELECT c.customer_id, c.site_id, coalesce(s.segment, k.segment) AS segment,
                              coalesce(x.revenue_model, s.revenue_model) AS revenue_model, c.currency, c.month,
                              'sla_credit' AS stream, -c.credit_minor AS amount_minor
                       FROM _sla_in c JOIN contracts x ON x.contract_id = c.contract_id AND x.line_id = c.line_id
                       LEFT JOIN sites s ON s.site_id = c.site_id LEFT JOIN customers k ON k.customer_id = c.customer_id"""
                )
                .to_arrow_table()
                .cast(schema)
            )
            con.unregister("_sla_in")
        m = add_months(m, 1)
    end = add_months(last.replace(day=1), 1) - dt.timedelta(days=1)
    energy = mc.compute(wh, by="site", period="month", start=first.replace(day=1), end=end, metrics=["energy_revenue_minor"])  # fmt: skip
    con.register("_energy_in", energy)
    parts.append(
        con.sql(
            """SELECT s.customer_id, e.site_id, s.segment, s.revenue_model, e.currency,
                      CAST(strptime(e.month, '%Y-%m') AS DATE) AS month, 'energy' AS stream,
                      CAST(e.energy_revenue_minor AS BIGINT) AS amount_minor
               FROM _energy_in e LEFT JOIN sites s ON s.site_id = e.site_id
               WHERE e.energy_revenue_minor <> 0"""
        )
        .to_arrow_table()
        .cast(schema)
    )
    con.unregister("_energy_in")
    return pa.concat_tables(parts)


def by_stream(wh: Warehouse, first: dt.date, last: dt.date | None = None, by: str = "customer") -> pa.Table:
    """Revenue by stream per month at grain *by* (customer, site, segment, revenue_model, network).

    Returns
    -------
    pyarrow.Table
        The grain's key, ``month`` (``YYYY-MM``), ``currency``, one ``<stream>_minor``
        column per stream, ``recurring_minor`` (software + caas + maintenance + sla_credit)
        and ``total_minor`` (every stream), all integer minor units.
    """
    if by not in BY:
        raise ValueError(f"unknown grain {by!r}; use one of {', '.join(BY)}")
    last = last or first
    t = lines(wh, first, last)
    wh.con.register("_revenue_lines", t)
    key = f"{_KEY[by]} AS {by}, " if by != "network" else ""
    cols = ", ".join(
        f"CAST(coalesce(sum(amount_minor) FILTER (WHERE stream = '{s}'), 0) AS BIGINT) AS {s}_minor" for s in STREAMS
    )
    group = f"{_KEY[by]}, " if by != "network" else ""
    sql = f"""SELECT {key}strftime(month, '%Y-%m') AS month, currency, {cols},
                     CAST(coalesce(sum(amount_minor) FILTER (WHERE stream IN ('software', 'caas', 'maintenance', 'sla_credit')), 0) AS BIGINT) AS recurring_minor,
                     CAST(sum(amount_minor) AS BIGINT) AS total_minor
              FROM _revenue_lines GROUP BY {group}month, currency ORDER BY {group}month, currency"""  # fmt: skip
    out = wh.con.sql(sql).to_arrow_table()
    wh.con.unregister("_revenue_lines")
    return out
