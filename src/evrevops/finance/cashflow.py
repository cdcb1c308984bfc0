"""Monthly cash flow of each site to the operator under a revenue model (handbook §7).

Month ``t = 0`` is the site's commissioning month (its first port's ``commissioned_on``); the
series runs for ``horizon_months``. Each month is one of

* ``actual``: a month the session data covers (the first session's month to the last full month):
  contract revenue as recognized (:mod:`evrevops.contracts.revenue`), SLA credits as owed,
  the site's energy revenue, utility bill and sessions as measured;
* ``estimated``: a month before the data (the site was commissioned earlier): contract
  revenue as recognized from the contract rows, energy, sessions and SLA credits at the
  site's **run rate** (the mean of its last ``RUN_RATE_MONTHS`` actual months since
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
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools

import pyarrow as pa
import pyarrow.compute as pc

from evrevops.contracts import energy_position as ep
from evrevops.contracts import revenue as crev
from evrevops.core.calendar import add_months
from evrevops.core.money import div_round_sql
from evrevops.core.sqltext import sql_literal
from evrevops.core.vocabulary import LINE_TYPES
from evrevops.finance import costs as fc
from evrevops.finance import incentives as fi
from evrevops.metrics import compute as mc
from evrevops.metrics import span
from evrevops.warehouse import contract_lines as cl
from evrevops.warehouse.protocol import WarehouseLike

DEFAULT_HORIZON_MONTHS = 120
RUN_RATE_MONTHS = 12
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


def _capex_sql(site: str, facts: str) -> str:
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


def _facts_sql(sites: str, first: dt.date, last: dt.date, contracts: str, models: str | None) -> str:
    """SQL of ``(site_id, month, segment, revenue_model, energy_position)`` of relation *sites* over the months.

    Each month's facts in force on its last day; with *models* (a relation ``(site_id,
    revenue_model, energy_position)``), the model and position are those in every month.
    """
    f = ep.site_months_sql(first, last, contracts, sites=sites)
    if models is None:
        return f
    return f"""SELECT f.site_id, f.month, f.segment, m.revenue_model, m.energy_position
               FROM ({f}) f JOIN {models} m ON m.site_id = f.site_id"""


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
    scope = _scope(sites)
    # with *until*, every site with something in the months: revenue or a cost before commissioning counts
    until_scope = (
        f"AND least(c.commissioned_on, coalesce(k.first_on, c.commissioned_on), coalesce(o.first_on, c.commissioned_on))"
        f" < DATE '{add_months(until.replace(day=1), 1)}'"
        if until
        else ""
    )
    tables: list[str] = []

    def temp(name: str, sql: str) -> str:
        wh.execute(f"CREATE OR REPLACE TEMP TABLE {p}{name} AS {sql}")
        tables.append(p + name)
        return p + name

    own = contracts == cl.VIEW
    try:
        if own:  # the intervals, replayed from the line events once for every step
            contracts = temp("lines", f"SELECT * FROM {cl.VIEW}")
        # the sites with a revenue model (their latest facts; each month takes its own below)
        models_sql = models or f"({ep.positions_sql(contracts)})"
        site = temp(
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
        bounds = wh.rows(f"SELECT min(start), max(m0) FROM {site}")[0]
        if bounds[0] is None:
            return pa.table({c: pa.array([], pa.string()) for c in COLUMNS})
        lo = bounds[0]
        last_month = until.replace(day=1) if until else add_months(bounds[1], horizon_months - 1)
        end_sql = f"DATE '{last_month}'" if until else f"CAST(s.m0 + to_months({horizon_months - 1}) AS DATE)"
        d0s = f"DATE '{d0}'" if d0 else "NULL"
        # the sites' facts of every month of the series, and of every month a one-time cost falls in
        spans = wh.rows(
            f"""SELECT min(incurred_on), max(incurred_on) FROM site_costs
                WHERE basis = 'one_time' AND (site_id IS NULL OR site_id IN (SELECT site_id FROM {site}))"""
        )[0]
        f_lo = min(lo, spans[0].replace(day=1)) if spans[0] else lo
        f_hi = max(last_month, spans[1].replace(day=1)) if spans[1] else last_month
        facts = temp("facts", _facts_sql(site, f_lo, f_hi, contracts, models))
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
        # ---- contract revenue: recognized up to the last actual month, at MRR after it ----------------
        rec = temp(
            "rec",
            f"""SELECT l.site_id, l.month, l.stream, l.currency, sum(l.amount_minor) AS amount
                FROM ({crev.contract_lines_sql(lo, min(d1, last_month), contracts)}) l
                JOIN {site} s ON s.site_id = l.site_id
                GROUP BY ALL""",
        )
        d1_end = add_months(d1, 1) - dt.timedelta(days=1)
        mrr = temp(
            "mrr",
            f"""SELECT c.site_id, c.line_type AS stream, c.currency,
                       sum(CAST(c.ports AS BIGINT) * c.unit_price_minor) AS amount
                FROM {contracts} c JOIN {site} s ON s.site_id = c.site_id
                WHERE c.line_type IN ('software', 'caas', 'maintenance')
                  AND c.ports IS NOT NULL AND c.unit_price_minor IS NOT NULL
                  AND c.effective_on <= DATE '{d1_end}' AND (c.end_on IS NULL OR c.end_on > DATE '{d1_end}')
                GROUP BY ALL""",
        )
        share = temp(
            "share",
            f"""SELECT x.* FROM ({ep.share_sql(lo, d1, contracts)}) x JOIN {site} s ON s.site_id = x.site_id""",
        )
        # ---- energy, sessions and SLA credits: measured, and each site's run rate ----------------------
        if d0 is not None:
            energy = mc.compute(
                wh, by="site", period="month", start=d0, end=d1_end,
                metrics=["energy_revenue_minor", "energy_cost_minor", "sessions"],
            )  # fmt: skip
            if sites:
                energy = energy.filter(pc.is_in(energy["site_id"], value_set=pa.array(sites)))
        else:
            energy = pa.table({"site_id": pa.array([], pa.string()), "month": pa.array([], pa.string()),
                               "currency": pa.array([], pa.string()), "energy_revenue_minor": pa.array([], pa.int64()),
                               "energy_cost_minor": pa.array([], pa.int64()), "sessions": pa.array([], pa.int64())})  # fmt: skip
        wh.register(p + "energy_in", energy)
        sla_t = (
            crev.sla_credit_lines(wh, max(d0, lo), min(d1, last_month), contracts)
            if sla and d0 is not None and own
            else None
        )
        if sla_t is not None:
            wh.register(p + "sla_in", sla_t)
            sla_sql = f"SELECT site_id, month, sum(amount_minor) AS amount FROM {p}sla_in GROUP BY ALL"
        else:
            sla_sql = "SELECT NULL::VARCHAR AS site_id, NULL::DATE AS month, NULL::BIGINT AS amount WHERE FALSE"
        meas = temp(
            "meas",
            f"""SELECT g.site_id, g.month, g.basis,
                       CAST(coalesce(e.energy_revenue_minor, 0) AS BIGINT) AS energy_revenue,
                       CAST(coalesce(e.energy_cost_minor, 0) AS BIGINT) AS energy_cost,
                       CAST(coalesce(e.sessions, 0) AS BIGINT) AS sessions,
                       CAST(coalesce(c.amount, 0) AS BIGINT) AS sla_credit
                FROM {grid} g
                LEFT JOIN (SELECT *, CAST(strptime(month, '%Y-%m') AS DATE) AS ms FROM {p}energy_in) e
                  ON e.site_id = g.site_id AND e.ms = g.month
                LEFT JOIN ({sla_sql}) c ON c.site_id = g.site_id AND c.month = g.month
                WHERE g.basis = 'actual' AND g.t >= 0""",
        )
        run = temp(
            "run",
            f"""WITH last AS (
                    SELECT *, row_number() OVER (PARTITION BY site_id ORDER BY month DESC) AS k,
                           count(*) OVER (PARTITION BY site_id) AS n
                    FROM {meas}
                ), keep AS (
                    -- the commissioning month is partial: left out when the site has other actual months
                    SELECT l.* FROM last l JOIN {site} s ON s.site_id = l.site_id
                    WHERE l.k <= {RUN_RATE_MONTHS} AND l.month >= s.m0 AND (l.month > s.m0 OR l.n = 1)
                )
                SELECT site_id,
                       {div_round_sql("sum(energy_revenue)", "count(*)")} AS energy_revenue,
                       {div_round_sql("sum(energy_cost)", "count(*)")} AS energy_cost,
                       {div_round_sql("sum(sessions)", "count(*)")} AS sessions,
                       {div_round_sql("sum(sla_credit)", "count(*)")} AS sla_credit
                FROM keep GROUP BY site_id""",
        )
        site_cur = temp(
            "cur",
            f"""SELECT site_id, min(currency) AS currency, count(DISTINCT currency) AS n FROM (
                    SELECT site_id, currency FROM {contracts} WHERE currency IS NOT NULL
                    UNION ALL SELECT site_id, currency FROM site_costs WHERE currency IS NOT NULL
                    UNION ALL SELECT site_id, currency FROM {p}energy_in WHERE currency IS NOT NULL
                ) x WHERE site_id IN (SELECT site_id FROM {site}) GROUP BY site_id""",
        )
        mixed = wh.rows(f"SELECT site_id FROM {site_cur} WHERE n > 1 ORDER BY 1 LIMIT 5")
        if mixed:
            raise ValueError(
                "sites with amounts in more than one currency cannot have one cash flow: "
                + ", ".join(r[0] for r in mixed)
            )
        # ---- every month's revenue and energy -------------------------------------------------------------
        base = temp(
            "base",
            f"""SELECT g.site_id, g.t, g.month, g.month_next, g.basis, g.energy_position,
                       CASE WHEN g.t < 0 THEN 0 WHEN g.basis = 'actual' THEN m.energy_revenue
                            ELSE coalesce(r.energy_revenue, 0) END AS site_energy_revenue,
                       CASE WHEN g.t < 0 THEN 0 WHEN g.basis = 'actual' THEN m.energy_cost
                            ELSE coalesce(r.energy_cost, 0) END AS site_energy_cost,
                       CASE WHEN g.t < 0 THEN 0 WHEN g.basis = 'actual' THEN m.sessions
                            ELSE coalesce(r.sessions, 0) END AS sessions,
                       CASE WHEN g.t < 0 THEN 0 WHEN g.basis = 'actual' THEN m.sla_credit
                            ELSE coalesce(r.sla_credit, 0) END AS sla_credit
                FROM {grid} g LEFT JOIN {meas} m ON m.site_id = g.site_id AND m.month = g.month
                LEFT JOIN {run} r ON r.site_id = g.site_id""",
        )
        streams = LINE_TYPES
        rev_cols = ", ".join(f"coalesce(sum(x.amount) FILTER (WHERE x.stream = '{st}'), 0) AS {st}" for st in streams)
        contract_rev = temp(
            "crev",
            f"""SELECT g.site_id, g.month, {rev_cols}
                FROM {grid} g JOIN (
                    SELECT site_id, month, stream, amount FROM {rec}
                    UNION ALL
                    SELECT g2.site_id, g2.month, m.stream, m.amount FROM {grid} g2 JOIN {mrr} m ON m.site_id = g2.site_id
                    WHERE g2.basis = 'projected'
                ) x ON x.site_id = g.site_id AND x.month = g.month
                GROUP BY g.site_id, g.month""",
        )
        share_of = temp(
            "shm",
            f"""SELECT g.site_id, g.month, coalesce(s.share_num, sd.share_num, 0) AS share_num,
                       coalesce(s.share_den, sd.share_den, 1) AS share_den
                FROM {grid} g
                LEFT JOIN {share} s ON s.site_id = g.site_id AND s.month = g.month AND g.basis <> 'projected'
                LEFT JOIN {share} sd ON sd.site_id = g.site_id AND sd.month = DATE '{d1}' AND g.basis = 'projected'""",
        )
        # ---- costs the operator bears: by each month's facts -----------------------------------------------
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
        borne = fc.operator_bears_sql(
            "c.cost_type", "g.revenue_model", "g.energy_position", "mt.first_on < g.month_next"
        )
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
        capex = temp("capex", _capex_sql(site, facts))
        # incentive programs are matched on the site's segment in its commissioning month
        seg_at = (
            f"(SELECT s.site_id, f.segment FROM {site} s JOIN {facts} f ON f.site_id = s.site_id AND f.month = s.m0)"
        )
        awards = temp("awards", fi.awards_sql(capex, sites=seg_at, include_applied=include_applied))
        share_amt = div_round_sql("b.site_energy_revenue * sh.share_num", "sh.share_den")
        cost_cols = {
            "network_minor": "network", "maintenance_cost_minor": "maintenance",
            "payment_processing_minor": "payment_processing", "site_lease_minor": "site_lease",
            "other_minor": "other", "cost_of_sales_minor": "cost_of_sales", "capex_minor": "capex",
        }  # fmt: skip
        cost_sel = ", ".join(
            f"coalesce(sum(amount) FILTER (WHERE bucket = '{b}'), 0) AS {c}" for c, b in cost_cols.items()
        )
        out = wh.fetch(
            f"""WITH cl AS (SELECT site_id, month, {cost_sel} FROM {cost_lines} GROUP BY site_id, month),
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
        )
        return out.select(list(COLUMNS))
    finally:
        for t in tables:
            wh.execute(f"DROP TABLE IF EXISTS {t}")
        for name in ("energy_in", "sla_in"):
            with contextlib.suppress(Exception):  # not registered on every path
                wh.unregister(p + name)


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
        capex = f"({_capex_sql(p + 'site', p + 'facts')})"
        seg_at = f"""(SELECT s.site_id, coalesce(f.segment, l.segment) AS segment FROM {p}site s
                      LEFT JOIN {p}facts f ON f.site_id = s.site_id AND f.month = s.m0
                      LEFT JOIN ({ep.positions_sql()}) l ON l.site_id = s.site_id)"""
        return wh.fetch(fi.awards_sql(capex, sites=seg_at, include_applied=include_applied))
    finally:
        for t in ("site", "facts"):
            wh.execute(f"DROP TABLE IF EXISTS {p}{t}")
