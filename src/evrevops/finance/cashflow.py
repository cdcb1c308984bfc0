"""Monthly cash flow of each site to the operator under a revenue model (handbook §7).

Month ``t = 0`` is the site's commissioning month (its first port's ``commissioned_on``); the
series runs for ``horizon_months``. Each month is one of

* ``actual``: a month the session data covers (the first session's month to the last full month):
  contract revenue as recognized (:mod:`evrevops.contracts.revenue`), SLA credits as owed,
  the site's energy revenue, utility bill and sessions as measured;
* ``estimated``: a month before the data (the site was commissioned earlier): contract
  revenue as recognized from the contract rows, energy, sessions and SLA credits at the
  site's **run rate** (the mean of its last :data:`~evrevops.finance.cashflow_revenue.RUN_RATE_MONTHS` actual months since
  commissioning, zero months included, rounded to whole minor units);
* ``projected``: after the data: recurring fees at the MRR in force at the end of the last
  actual month (contracts are assumed renewed at their price unless cancelled), the energy
  share at that month's share, energy and SLA credits at the run rate.

Cash flow of a month [minor units]::

    cash_flow = hardware + installation + software + caas + energy_share + maintenance
              + sla_credit (≤ 0) + energy_revenue − energy_cost        (operator's energy position)
              − network − maintenance_cost − payment_processing − site_lease − other
              − cost_of_sales − capex + incentives

Costs come from the cost book, borne as :mod:`evrevops.finance.costs` says: a ``one_time``
cost lands in the month of its ``incurred_on`` (never before ``t = 0``); capex-type costs are
``capex`` when the model is ``caas`` and ``cost_of_sales`` when it is ``hardware_sale``;
incentives (:mod:`evrevops.finance.incentives`) reduce a CaaS site's capex at ``t = 0``.
Every amount is an integer, so a cash flow is exactly the sum of its parts.

**Site facts by month.** A site's segment, revenue model and energy position are dated facts
(:mod:`evrevops.warehouse.site_history`): each month takes those in force on its last day
(:func:`evrevops.contracts.energy_position.site_months_sql`), and so do who bears each cost,
whether a one-time capex cost is capex or cost of sales, and which segment defaults apply
(:mod:`evrevops.finance.costs`). Projected months take the site's latest facts. Incentive
programs are matched on the segment of the commissioning month. So a change stated today
never rewrites an earlier month's cash flow.

:func:`site_months` runs the steps in :mod:`~evrevops.finance.cashflow_series` (the sites and
their months), :mod:`~evrevops.finance.cashflow_revenue` (the revenue side) and
:mod:`~evrevops.finance.cashflow_costs` (the cost side, capex and incentives) as temporary
tables, and adds them up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools

import pyarrow as pa

from evrevops.contracts import energy_position as ep
from evrevops.core.calendar import add_months
from evrevops.core.choices import DEFAULT_HORIZON_MONTHS
from evrevops.core.money import div_round_sql
from evrevops.core.sqltext import sql_literal
from evrevops.finance import cashflow_costs as costs
from evrevops.finance import cashflow_revenue as revenue
from evrevops.finance import cashflow_series as series
from evrevops.finance import costs as fc
from evrevops.finance import incentives as fi
from evrevops.metrics import span
from evrevops.warehouse import contract_lines as cl
from evrevops.warehouse.protocol import WarehouseLike

REVENUE_COLUMNS = (
    "hardware_minor", "installation_minor", "software_minor", "caas_minor", "energy_share_minor",
    "maintenance_minor", "sla_credit_minor", "energy_revenue_minor",
)  # fmt: skip
COST_COLUMNS = (
    "energy_cost_minor", "network_minor", "maintenance_cost_minor", "payment_processing_minor",
    "site_lease_minor", "other_minor", "cost_of_sales_minor", "capex_minor",
)  # fmt: skip
COLUMNS = (
    ("site_id", "customer_id", "segment", "revenue_model", "energy_position", "currency", "t", "month", "basis")
    + REVENUE_COLUMNS
    + COST_COLUMNS
    + ("incentives_minor", "cash_flow_minor")
)
SCHEMA = pa.schema(
    [(c, pa.int32() if c == "t" else pa.date32() if c == "month" else pa.int64() if c.endswith("_minor") else pa.string())
     for c in COLUMNS]
)  # fmt: skip
"""The types of :data:`COLUMNS`, the same with rows or without (a site-less warehouse's empty table)."""
_COUNTER = itertools.count()


def data_months(wh: WarehouseLike) -> tuple[dt.date | None, dt.date]:
    """The months of session data: the first session's month and the last full month.

    ``(None, last month before today)`` when there are no sessions (or none before the last
    full month).
    """
    r = span.data_range(wh)
    if r is None:
        return None, add_months(dt.date.today().replace(day=1), -1)
    first = r[0].replace(day=1)
    last = dt.date.fromisoformat(span.last_full_month(wh) + "-01")
    return (first if first <= last else None), last


def _scope(sites: list[str] | None) -> str:
    """``AND s.site_id IN (…)`` for *sites* (quoted), or nothing."""
    if not sites:
        return ""
    return "AND s.site_id IN (" + ", ".join(sql_literal(x) for x in sites) + ")"


def actual_models_sql() -> str:
    """The sites' own latest facts (``site_id, segment, revenue_model, energy_position``).

    A cash flow takes them month by month (:func:`site_months`); the latest say which sites
    have a revenue model at all.
    """
    return ep.positions_sql()


def site_months(
    wh: WarehouseLike,
    *,
    contracts: str = cl.VIEW,
    models: str | None = None,
    sites: list[str] | None = None,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    include_applied: bool = False,
    sla: bool = True,
    until: dt.date | None = None,
) -> pa.Table:
    """Every site's monthly cash flow to the operator over *horizon_months* from commissioning.

    Parameters
    ----------
    wh : WarehouseLike
        The warehouse.
    contracts : str
        Relation of the priced contract intervals that price the sites (default: the
        ``contract_lines`` view; another relation needs its columns).
    models : str, optional
        Relation ``(site_id, revenue_model, energy_position)`` of the model each site is run
        under in every month; default: its own, month by month (the facts in force on each
        month's last day).
    sites : list of str, optional
        Only these sites.
    horizon_months : int
        Months from the commissioning month [months].
    include_applied : bool
        Count incentives still ``applied`` for (not only awarded or paid).
    sla : bool
        Net the SLA credits owed under the ``contract_lines`` (false for priced alternatives,
        which carry no SLA).
    until : date, optional
        End every series with this month instead of after *horizon_months*: the months of a
        P&L. Sites whose first revenue or cost comes after it are left out; a site delivered
        before it and commissioned after is in, with its months before commissioning.

    Returns
    -------
    pyarrow.Table
        :data:`COLUMNS`, one row per site and month; money in integer minor units of
        ``currency``; ``basis`` is ``actual``, ``estimated`` or ``projected``; ``segment``,
        ``revenue_model`` and ``energy_position`` are the month's (in force on its last day).
    """
    if horizon_months < 1:
        raise ValueError("the horizon must be at least one month")
    p = f"_cf{next(_COUNTER)}_"
    d0, d1 = data_months(wh)
    tables: list[str] = []

    def temp(name: str, sql: str) -> str:
        wh.execute(f"CREATE OR REPLACE TEMP TABLE {p}{name} AS {sql}")
        tables.append(p + name)
        return p + name

    own = contracts == cl.VIEW
    try:
        if own:  # the intervals, replayed from the line events once for every step
            contracts = temp("lines", f"SELECT * FROM {cl.VIEW}")
        site = series.sites_table(temp, contracts, models, _scope(sites), until)
        bounds = wh.rows(f"SELECT min(start), max(m0) FROM {site}")[0]
        if bounds[0] is None:
            return SCHEMA.empty_table()
        lo = bounds[0]
        last_month = until.replace(day=1) if until else add_months(bounds[1], horizon_months - 1)
        end_sql = f"DATE '{last_month}'" if until else f"CAST(s.m0 + to_months({horizon_months - 1}) AS DATE)"
        facts, grid = series.grid_tables(wh, temp, site, contracts, models, (lo, last_month, end_sql), (d0, d1))
        rec, mrr, share = revenue.contract_revenue(temp, site, contracts, lo, d1, last_month)
        meas, run = revenue.measured(
            wh, temp, p, site, grid, contracts, own=own, sites=sites, sla=sla, data=(d0, d1), lo=lo,
            last_month=last_month,
        )  # fmt: skip
        site_cur = revenue.site_currencies(wh, temp, p, site, contracts)
        base, contract_rev, share_of = revenue.month_revenue(temp, grid, meas, run, rec, mrr, share, d1)
        cost_lines = costs.cost_lines(temp, site, grid, base, contracts)
        awards = costs.incentive_awards(temp, site, facts, include_applied)
        rows = _rows_sql(grid, base, contract_rev, share_of, cost_lines, awards, site_cur)
        return wh.fetch(rows).select(list(COLUMNS)).cast(SCHEMA)
    finally:
        for t in tables:
            wh.execute(f"DROP TABLE IF EXISTS {t}")
        for name in ("energy_in", "sla_in"):
            with contextlib.suppress(Exception):  # not registered on every path
                wh.unregister(p + name)


def _rows_sql(
    grid: str, base: str, contract_rev: str, share_of: str, cost_lines: str, awards: str, site_cur: str
) -> str:
    """SQL of the cash flow rows, one per site and month (every column of :data:`COLUMNS`), from the steps' tables."""
    share_amt = div_round_sql("b.site_energy_revenue * sh.share_num", "sh.share_den")
    cost_cols = {
        "network_minor": "network", "maintenance_cost_minor": "maintenance",
        "payment_processing_minor": "payment_processing", "site_lease_minor": "site_lease",
        "other_minor": "other", "cost_of_sales_minor": "cost_of_sales", "capex_minor": "capex",
    }  # fmt: skip
    cost_sel = ", ".join(f"coalesce(sum(amount) FILTER (WHERE bucket = '{b}'), 0) AS {c}" for c, b in cost_cols.items())
    return f"""WITH cl AS (SELECT site_id, month, {cost_sel} FROM {cost_lines} GROUP BY site_id, month),
        aw AS (SELECT site_id, sum(award_minor) AS incentives FROM {awards} GROUP BY site_id),
        rows AS (
            SELECT g.site_id, g.customer_id, g.segment, g.revenue_model, g.energy_position, k.currency,
                   CAST(g.t AS INTEGER) AS t, g.month, g.basis,
                   CAST(coalesce(r.hardware, 0) AS BIGINT) AS hardware_minor,
                   CAST(coalesce(r.installation, 0) AS BIGINT) AS installation_minor,
                   CAST(coalesce(r.software, 0) AS BIGINT) AS software_minor,
                   CAST(coalesce(r.caas, 0) AS BIGINT) AS caas_minor,
                   CAST(CASE WHEN b.energy_position = 'customer' THEN {share_amt} ELSE 0 END AS BIGINT)
                       AS energy_share_minor,
                   CAST(coalesce(r.maintenance, 0) AS BIGINT) AS maintenance_minor,
                   CAST(b.sla_credit AS BIGINT) AS sla_credit_minor,
                   CAST(CASE WHEN b.energy_position = 'operator' THEN b.site_energy_revenue ELSE 0 END AS BIGINT)
                       AS energy_revenue_minor,
                   CAST(CASE WHEN b.energy_position = 'operator' THEN b.site_energy_cost ELSE 0 END AS BIGINT)
                       AS energy_cost_minor,
                   {", ".join(f"CAST(coalesce(cl.{c}, 0) AS BIGINT) AS {c}" for c in cost_cols)},
                   CAST(CASE WHEN g.t = 0 THEN coalesce(aw.incentives, 0) ELSE 0 END AS BIGINT) AS incentives_minor
            FROM {grid} g JOIN {base} b ON b.site_id = g.site_id AND b.month = g.month
            LEFT JOIN {contract_rev} r ON r.site_id = g.site_id AND r.month = g.month
            LEFT JOIN {share_of} sh ON sh.site_id = g.site_id AND sh.month = g.month
            LEFT JOIN cl ON cl.site_id = g.site_id AND cl.month = g.month
            LEFT JOIN aw ON aw.site_id = g.site_id
            LEFT JOIN {site_cur} k ON k.site_id = g.site_id
        )
        SELECT *, CAST({" + ".join(REVENUE_COLUMNS)} - {" - ".join(COST_COLUMNS)} + incentives_minor AS BIGINT)
                   AS cash_flow_minor
        FROM rows ORDER BY site_id, t"""


def awards(
    wh: WarehouseLike, sites: list[str] | None = None, include_applied: bool = False, models: str | None = None
) -> pa.Table:
    """The incentives that reduce each CaaS site's capex: nominal amount and award per incentive.

    As :func:`site_months` nets them: the capex of the one-time costs that fall in months the
    site is CaaS (its facts on the month's last day), programs matched on the segment of its
    commissioning month (else its latest).

    Returns
    -------
    pyarrow.Table
        ``site_id``, ``incentive_id``, ``program``, ``kind``, ``currency``, ``eligible_minor``,
        ``nominal_minor``, ``award_minor`` [minor units].
    """
    p = f"_aw{next(_COUNTER)}_"
    try:
        wh.execute(
            f"""CREATE OR REPLACE TEMP TABLE {p}site AS
                SELECT s.site_id, CAST(date_trunc('month', c.commissioned_on) AS DATE) AS m0
                FROM sites s LEFT JOIN (SELECT site_id, min(commissioned_on) AS commissioned_on FROM ports
                                        GROUP BY site_id) c ON c.site_id = s.site_id
                WHERE TRUE {_scope(sites)}"""
        )
        # the facts of every month a one-time cost falls in, and of the commissioning month
        months = f"""(SELECT s.site_id, CAST(date_trunc('month', coalesce(c.incurred_on, s.m0)) AS DATE) AS month
                      FROM ({fc.resolved_sql()}) c JOIN {p}site s ON s.site_id = c.site_id
                      WHERE c.basis = 'one_time'
                      UNION SELECT site_id, m0 FROM {p}site)"""
        days = f"(SELECT site_id, month, CAST(month + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE) AS d FROM {months} x WHERE month IS NOT NULL)"  # fmt: skip
        model = "m.revenue_model" if models else "f.revenue_model"
        only = f"JOIN {models} m ON m.site_id = x.site_id" if models else ""
        wh.execute(
            f"""CREATE OR REPLACE TEMP TABLE {p}facts AS
                SELECT x.site_id, x.month, f.segment, {model} AS revenue_model
                FROM {days} x JOIN ({ep.facts_on_sql(days)}) f ON f.site_id = x.site_id AND f.d = x.d {only}"""
        )
        capex = f"({costs.capex_sql(p + 'site', p + 'facts')})"
        seg_at = f"""(SELECT s.site_id, coalesce(f.segment, l.segment) AS segment FROM {p}site s
                      LEFT JOIN {p}facts f ON f.site_id = s.site_id AND f.month = s.m0
                      LEFT JOIN ({ep.positions_sql()}) l ON l.site_id = s.site_id)"""
        return wh.fetch(fi.awards_sql(capex, sites=seg_at, include_applied=include_applied))
    finally:
        for t in ("site", "facts"):
            wh.execute(f"DROP TABLE IF EXISTS {p}{t}")
