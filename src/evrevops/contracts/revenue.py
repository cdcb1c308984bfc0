"""Revenue by stream per month, recognized as handbook §2 says.

Contract revenue is read from the priced intervals of the contract lines
(:mod:`evrevops.warehouse.contract_lines`, view ``contract_lines``):

* **hardware** at delivery: the start (``effective_on``) of the line's interval,
  ``quantity × unit_price``;
* **installation** at commissioning: likewise, ``quantity × unit_price`` (quantity 1 when empty);
* a one-time line's later interval (an ``amend`` or ``renew`` event of a line opened by ``new``)
  recognizes only the change of ``quantity × unit_price`` against the line's previous interval
  (a true-up, negative when the total falls); a legacy line's row (one row per interval under
  its own line id) is recognized whole;
* **recurring** (``software``, ``caas``, ``maintenance``) ratably: each interval in force
  ``[effective_on, end_on)`` earns ``ports × unit_price × days in force / days in the month``
  in every month it overlaps, however it is billed (an annual prepayment is recognized a
  month at a time);
* **SLA credits** reduce recurring revenue in the month they are owed
  (:func:`evrevops.uptime.sla.credits`), as negative amounts;
* **energy**: the metrics' ``energy_revenue_minor`` of the site's sessions (excl. VAT, in the
  local month of the session's start, as every other report attributes it), at the sites
  where the operator holds the energy position (:mod:`evrevops.contracts.energy_position`);
* **energy share**: where the customer holds it and its CaaS line carries an
  ``energy_share_pct``, that share of the site's energy revenue, prorated by the days the
  share is in force (:func:`evrevops.contracts.energy_position.share_sql`). It is part of the
  CaaS fee (recurring revenue, handbook §2) but not MRR, being variable.

Each line is rounded half away from zero to whole minor units once (per row and month, in
integer arithmetic), and every report adds those integers, so a total is the sum of its
parts to the cent. Amounts in different currencies are never added.

A row's **segment** is its site's, taken on the last day of the month the amount falls in
(site facts are dated: :mod:`evrevops.warehouse.site_history`), else its customer's; its
**revenue model** is the contract line's, else its site's on that day; whose the energy is is
read the same way (:mod:`evrevops.contracts.energy_position`). So a change of a site's facts
never rewrites the revenue of a month before it.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pyarrow as pa

from evrevops.contracts import energy_position as ep
from evrevops.core.calendar import add_months, month_grid_sql
from evrevops.core.choices import REVENUE_BY as BY
from evrevops.core.money import div_round_sql
from evrevops.core.vocabulary import RECURRING_STREAMS, STREAMS
from evrevops.metrics import compute as mc
from evrevops.uptime import sla as _sla
from evrevops.warehouse import contract_lines as cl
from evrevops.warehouse.protocol import WarehouseLike

_KEY = {"customer": "customer_id", "site": "site_id", "segment": "segment", "revenue_model": "revenue_model"}
_COUNTER = itertools.count()


def contract_lines_sql(first: dt.date, last: dt.date, contracts: str = cl.VIEW) -> str:
    """Recognized contract revenue of local months *first* … *last*: one row per contract interval and month.

    *contracts* names the relation of priced intervals (the ``contract_lines`` view, or rows
    priced for another revenue model by :mod:`evrevops.finance.compare`, with its columns).
    Segment and revenue model are the site's facts on the month's last day (module docstring).
    """
    once = "CAST(round(CAST(coalesce(c.quantity, 1) AS DECIMAL(18, 6)) * c.unit_price_minor, 0) AS BIGINT)"
    return f"""
WITH months AS (
    {month_grid_sql(first, last)}
), facts AS (
    {ep.site_months_sql(first, last, contracts)}
), rows AS (
    -- a one-time line: its first interval (or a legacy row) whole, a later one the change against the one before
    SELECT c.*, CASE WHEN c.legacy OR c.event = 'new' THEN {once}
                     ELSE {once} - coalesce(lag({once}) OVER (PARTITION BY c.contract_id, c.line_id
                                                               ORDER BY c.effective_on), 0) END AS once_minor
    FROM {contracts} c
), priced AS (
    SELECT r.*, m.ms, m.me, m.days, coalesce(f.segment, k.segment) AS seg,
           coalesce(r.revenue_model, f.revenue_model) AS model
    FROM rows r JOIN months m ON r.effective_on < m.me AND (r.end_on IS NULL OR r.end_on > m.ms)
                              AND (r.line_type NOT IN ('hardware', 'installation') OR r.effective_on >= m.ms)
    LEFT JOIN facts f ON f.site_id = r.site_id AND f.month = m.ms
    LEFT JOIN customers k ON k.customer_id = r.customer_id
    WHERE r.unit_price_minor IS NOT NULL
)
SELECT r.customer_id, r.site_id, r.seg AS segment, r.model AS revenue_model, r.currency, r.ms AS month,
       r.line_type AS stream, r.once_minor AS amount_minor
FROM priced r
WHERE r.line_type IN ('hardware', 'installation')
UNION ALL
SELECT r.customer_id, r.site_id, r.seg, r.model, r.currency, r.ms, r.line_type,
       {div_round_sql("CAST(r.ports AS BIGINT) * r.unit_price_minor * date_diff('day', greatest(r.effective_on, r.ms), least(coalesce(r.end_on, r.me), r.me))", "r.days")}
FROM priced r
WHERE r.line_type IN ('software', 'caas', 'maintenance') AND r.ports IS NOT NULL
"""


def lines(wh: WarehouseLike, first: dt.date, last: dt.date) -> pa.Table:
    """Every recognized amount of the months, by stream: contract lines, SLA credits and energy.

    Returns
    -------
    pyarrow.Table
        ``customer_id``, ``site_id``, ``segment``, ``revenue_model``, ``currency``, ``month``,
        ``stream`` (:data:`STREAMS`), ``amount_minor`` (integer minor units; SLA credits
        negative).
    """
    # the intervals, replayed from the line events once for every part
    snap = f"_rev_lines{next(_COUNTER)}"
    wh.execute(f"CREATE OR REPLACE TEMP TABLE {snap} AS SELECT * FROM {cl.VIEW}")
    try:
        return _lines(wh, first, last, snap)
    finally:
        wh.execute(f"DROP TABLE IF EXISTS {snap}")


def _lines(wh: WarehouseLike, first: dt.date, last: dt.date, snap: str) -> pa.Table:
    """:func:`lines` from the priced intervals in relation *snap*."""
    parts = [wh.fetch(contract_lines_sql(first, last, snap))]
    schema = parts[0].schema
    parts.append(sla_credit_lines(wh, first, last, snap).cast(schema))
    end = add_months(last.replace(day=1), 1) - dt.timedelta(days=1)
    energy = mc.compute(wh, by="site", period="month", start=first.replace(day=1), end=end, metrics=["energy_revenue_minor"])  # fmt: skip
    wh.register("_energy_in", energy)
    share = div_round_sql("CAST(e.energy_revenue_minor AS BIGINT) * sh.share_num", "sh.share_den")
    parts.append(
        wh.fetch(
            f"""WITH e AS (SELECT *, CAST(strptime(month, '%Y-%m') AS DATE) AS ms FROM _energy_in),
                     pos AS ({ep.site_months_sql(first, last, snap)}), sh AS ({ep.share_sql(first, last, snap)})
                SELECT s.customer_id, e.site_id, pos.segment, pos.revenue_model, e.currency, e.ms AS month,
                       'energy' AS stream, CAST(e.energy_revenue_minor AS BIGINT) AS amount_minor
                FROM e JOIN sites s ON s.site_id = e.site_id JOIN pos ON pos.site_id = e.site_id AND pos.month = e.ms
                WHERE pos.energy_position = 'operator' AND e.energy_revenue_minor <> 0
                UNION ALL
                SELECT s.customer_id, e.site_id, pos.segment, pos.revenue_model, e.currency, e.ms, 'energy_share',
                       {share}
                FROM e JOIN sites s ON s.site_id = e.site_id JOIN pos ON pos.site_id = e.site_id AND pos.month = e.ms
                JOIN sh ON sh.site_id = e.site_id AND sh.month = e.ms
                WHERE pos.energy_position = 'customer' AND e.energy_revenue_minor <> 0"""
        ).cast(schema)
    )
    wh.unregister("_energy_in")
    return pa.concat_tables(parts)


def sla_credit_lines(wh: WarehouseLike, first: dt.date, last: dt.date, lines: str = cl.VIEW) -> pa.Table:
    """The SLA credits owed in local months *first* … *last*, as negative ``sla_credit`` amounts.

    Columns as :func:`lines`; one row per credited contract line and month. The line's revenue
    model is that of its latest interval started by the month's end (one per line and month,
    however many intervals the line has), else the site's on the month's last day. *lines* is
    the relation of the priced intervals (default: the ``contract_lines`` view).
    """
    parts = []
    credits = _sla.credits_range(wh, first, last)
    wh.register("_sla_in", credits)
    try:
        parts.append(
            wh.fetch(
                f"""WITH x AS (
                        SELECT c.contract_id, c.line_id, c.month, l.revenue_model
                        FROM (SELECT DISTINCT contract_id, line_id, month FROM _sla_in) c
                        JOIN {lines} l ON l.contract_id = c.contract_id AND l.line_id = c.line_id
                         AND l.effective_on < c.month + INTERVAL 1 MONTH
                        QUALIFY row_number() OVER (PARTITION BY c.contract_id, c.line_id, c.month
                                                   ORDER BY l.effective_on DESC) = 1
                    ), f AS ({ep.site_months_sql(first, last, lines)})
                    SELECT c.customer_id, c.site_id, coalesce(f.segment, k.segment) AS segment,
                           coalesce(x.revenue_model, f.revenue_model) AS revenue_model, c.currency, c.month,
                           'sla_credit' AS stream, CAST(-c.credit_minor AS BIGINT) AS amount_minor
                    FROM _sla_in c
                    LEFT JOIN x ON x.contract_id = c.contract_id AND x.line_id = c.line_id AND x.month = c.month
                    LEFT JOIN f ON f.site_id = c.site_id AND f.month = c.month
                    LEFT JOIN customers k ON k.customer_id = c.customer_id
                    WHERE c.credit_minor <> 0
                    ORDER BY c.month, c.contract_id, c.line_id"""
            )
        )
    finally:
        wh.unregister("_sla_in")
    schema = pa.schema([("customer_id", pa.string()), ("site_id", pa.string()), ("segment", pa.string()),
                        ("revenue_model", pa.string()), ("currency", pa.string()), ("month", pa.date32()),
                        ("stream", pa.string()), ("amount_minor", pa.int64())])  # fmt: skip
    return pa.concat_tables([p.cast(schema) for p in parts]) if parts else schema.empty_table()


def by_stream(
    wh: WarehouseLike,
    first: dt.date,
    last: dt.date | None = None,
    by: str = "customer",
    recognized: pa.Table | None = None,
) -> pa.Table:
    """Revenue by stream per month at grain *by* (customer, site, segment, revenue_model, network).

    Returns
    -------
    pyarrow.Table
        The grain's key, ``month`` (``YYYY-MM``), ``currency``, one ``<stream>_minor``
        column per stream, ``recurring_minor`` (software + caas + energy_share + maintenance +
        sla_credit) and ``total_minor`` (every stream), all integer minor units.

    *recognized* is the months' :func:`lines` when already at hand (one recognition, several
    grains).
    """
    if by not in BY:
        raise ValueError(f"unknown grain {by!r}; use one of {', '.join(BY)}")
    last = last or first
    t = recognized if recognized is not None else lines(wh, first, last)
    wh.register("_revenue_lines", t)
    key = f"{_KEY[by]} AS {by}, " if by != "network" else ""
    cols = ", ".join(
        f"CAST(coalesce(sum(amount_minor) FILTER (WHERE stream = '{s}'), 0) AS BIGINT) AS {s}_minor" for s in STREAMS
    )
    group = f"{_KEY[by]}, " if by != "network" else ""
    recurring = ", ".join(f"'{s}'" for s in RECURRING_STREAMS)
    sql = f"""SELECT {key}strftime(month, '%Y-%m') AS month, currency, {cols},
                     CAST(coalesce(sum(amount_minor) FILTER (WHERE stream IN ({recurring})), 0) AS BIGINT) AS recurring_minor,
                     CAST(sum(amount_minor) AS BIGINT) AS total_minor
              FROM _revenue_lines GROUP BY {group}month, currency ORDER BY {group}month, currency"""  # fmt: skip
    out = wh.fetch(sql)
    wh.unregister("_revenue_lines")
    return out
