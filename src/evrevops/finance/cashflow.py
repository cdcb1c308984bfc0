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
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools

import pyarrow as pa
import pyarrow.compute as pc

from evrevops.contracts import energy_position as ep
from evrevops.contracts import revenue as crev
from evrevops.finance import costs as fc
from evrevops.finance import incentives as fi
from evrevops.metrics import compute as mc
from evrevops.money import div_round_sql
from evrevops.uptime.timeline import add_months
from evrevops.warehouse.db import Warehouse

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


def data_months(wh: Warehouse) -> tuple[dt.date | None, dt.date]:
    """The months of session data: the first session's month and the last full month.

    ``(None, last month before today)`` when there are no sessions (or none before the last
    full month).
    """
    r = mc.data_range(wh)
    if r is None:
        return None, add_months(dt.date.today().replace(day=1), -1)
    first = r[0].replace(day=1)
    last = dt.date.fromisoformat(mc.last_full_month(wh) + "-01")
    return (first if first <= last else None), last


def _scope(sites: list[str] | None) -> str:
    """``AND s.site_id IN (…)`` for *sites* (quoted), or nothing."""
    if not sites:
        return ""
    return "AND s.site_id IN (" + ", ".join("'" + x.replace("'", "''") + "'" for x in sites) + ")"


def actual_models_sql() -> str:
    """The sites' own revenue model and energy position (``site_id, revenue_model, energy_position``)."""
    return ep.positions_sql()


def site_months(
    wh: Warehouse,
    *,
    contracts: str = "contracts",
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
    wh : Warehouse
        The warehouse.
    contracts : str
        Relation of the contract rows that price the sites (default: the ``contracts`` table).
    models : str, optional
        Relation ``(site_id, revenue_model, energy_position)`` of the model each site is run
        under; default: its own (:func:`actual_models_sql`).
    sites : list of str, optional
        Only these sites.
    horizon_months : int
        Months from the commissioning month [months].
    include_applied : bool
        Count incentives still ``applied`` for (not only awarded or paid).
    sla : bool
        Net the SLA credits owed under the ``contracts`` table (false for priced alternatives,
        which carry no SLA).
    until : date, optional
        End every series with this month instead of after *horizon_months*: the months of a
        P&L. Sites whose first revenue or cost comes after it are left out; a site delivered
        before it and commissioned after is in, with its months before commissioning.

    Returns
    -------
    pyarrow.Table
        :data:`COLUMNS`, one row per site and month; money in integer minor units of
        ``currency``; ``basis`` is ``actual``, ``estimated`` or ``projected``.
    """
    if horizon_months < 1:
        raise ValueError("the horizon must be at least one month")
    con = wh.con
    p = f"_cf{next(_COUNTER)}_"
    d0, d1 = data_months(wh)
    models_sql = models or f"({actual_models_sql()})"
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
        con.execute(f"CREATE OR REPLACE TEMP TABLE {p}{name} AS {sql}")
        tables.append(p + name)
        return p + name

    try:
        site = temp(
            "site",
            f"""WITH k AS (SELECT site_id, min(effective_on) AS first_on FROM {contracts} GROUP BY site_id),
                     o AS (SELECT site_id, min(incurred_on) AS first_on FROM site_costs
                           WHERE basis = 'one_time' AND site_id IS NOT NULL GROUP BY site_id)
                SELECT s.site_id, s.customer_id, s.segment, m.revenue_model, m.energy_position,
                       CAST(date_trunc('month', c.commissioned_on) AS DATE) AS m0,
                       CAST(date_trunc('month', least(c.commissioned_on, coalesce(k.first_on, c.commissioned_on),
                                                      coalesce(o.first_on, c.commissioned_on))) AS DATE) AS start
                FROM sites s JOIN (SELECT site_id, min(commissioned_on) AS commissioned_on FROM ports
                                   WHERE commissioned_on IS NOT NULL GROUP BY site_id) c ON c.site_id = s.site_id
                JOIN {models_sql} m ON m.site_id = s.site_id
                LEFT JOIN k ON k.site_id = s.site_id LEFT JOIN o ON o.site_id = s.site_id
                WHERE m.revenue_model IS NOT NULL {scope} {until_scope}""",
        )
        bounds = con.sql(f"SELECT min(start), max(m0) FROM {site}").fetchall()[0]
        if bounds[0] is None:
            return pa.table({c: pa.array([], pa.string()) for c in COLUMNS})
        lo = bounds[0]
        last_month = until.replace(day=1) if until else add_months(bounds[1], horizon_months - 1)
        end_sql = f"DATE '{last_month}'" if until else f"CAST(s.m0 + to_months({horizon_months - 1}) AS DATE)"
        d0s = f"DATE '{d0}'" if d0 else "NULL"
        grid = temp(
            "grid",
            f"""WITH g AS (
                    SELECT s.*, CAST(s.start + to_months(CAST(k AS INTEGER)) AS DATE) AS month
                    FROM {site} s, range(0, date_diff('month', DATE '{lo}', DATE '{last_month}') + 1) r(k)
                    WHERE s.start + to_months(CAST(k AS INTEGER)) <= {end_sql}
                )
                SELECT *, CAST(date_diff('month', m0, month) AS INTEGER) AS t,
                       CAST(month + INTERVAL 1 MONTH AS DATE) AS month_next,
                       CASE WHEN {d0s} IS NOT NULL AND month BETWEEN {d0s} AND DATE '{d1}' THEN 'actual'
                            WHEN month > DATE '{d1}' THEN 'projected'
                            ELSE 'estimated' END AS basis
                FROM g""",
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
                WHERE c.line_type IN ('software', 'caas', 'maintenance') AND c.event <> 'cancel'
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
        con.register(p + "energy_in", energy)
        sla_t = (
            crev.sla_credit_lines(wh, max(d0, lo), min(d1, last_month))
            if sla and d0 is not None and contracts == "contracts"
            else None
        )
        if sla_t is not None:
            con.register(p + "sla_in", sla_t)
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
        mixed = con.sql(f"SELECT site_id FROM {site_cur} WHERE n > 1 ORDER BY 1 LIMIT 5").fetchall()
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
        streams = ("hardware", "installation", "software", "caas", "maintenance")
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
        # ---- costs the operator bears ----------------------------------------------------------------------
        costs_t = temp(
            "costs",
            f"""SELECT c.*, s.revenue_model, s.energy_position, s.m0,
                       {fc.operator_bears_sql("c.cost_type", "s.revenue_model", "s.energy_position", "mt.has")} AS borne
                FROM ({fc.resolved_sql()}) c JOIN {site} s ON s.site_id = c.site_id
                LEFT JOIN (SELECT site_id, TRUE AS has FROM {contracts} WHERE line_type = 'maintenance'
                           AND event <> 'cancel' GROUP BY site_id) mt ON mt.site_id = c.site_id""",
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
                WHERE c.borne AND c.basis = 'per_port_month'
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
                WHERE c.borne AND c.basis = 'per_month'""",
        )
        days = "date_diff('day', g.month, g.month_next)"
        in_window = "(c.start_on IS NULL OR g.month_next > c.start_on) AND (c.end_on IS NULL OR g.month < c.end_on)"
        cost_lines = temp(
            "clines",
            f"""SELECT g.site_id, g.month, c.cost_type,
                       CASE WHEN c.basis = 'one_time' AND list_contains({list(fc.CAPEX_TYPES)}, c.cost_type)
                                 AND c.revenue_model = 'caas' THEN 'capex'
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
                WHERE c.borne AND (
                    (c.basis = 'one_time' AND CAST(date_trunc('month', coalesce(c.incurred_on, c.m0)) AS DATE) = g.month)
                    OR (c.basis <> 'one_time' AND {in_window}))""",
        )
        capex = temp(
            "capex",
            f"""SELECT c.site_id, c.cost_type, c.currency, c.amount_minor
                FROM {costs_t} c WHERE c.borne AND c.revenue_model = 'caas' AND c.basis = 'one_time'
                  AND list_contains({list(fc.CAPEX_TYPES)}, c.cost_type)""",
        )
        awards = temp("awards", fi.awards_sql(capex, sites=site, include_applied=include_applied))
        share_amt = div_round_sql("b.site_energy_revenue * sh.share_num", "sh.share_den")
        cost_cols = {
            "network_minor": "network", "maintenance_cost_minor": "maintenance",
            "payment_processing_minor": "payment_processing", "site_lease_minor": "site_lease",
            "other_minor": "other", "cost_of_sales_minor": "cost_of_sales", "capex_minor": "capex",
        }  # fmt: skip
        cost_sel = ", ".join(
            f"coalesce(sum(amount) FILTER (WHERE bucket = '{b}'), 0) AS {c}" for c, b in cost_cols.items()
        )
        out = con.sql(
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
        ).to_arrow_table()
        return out.select(list(COLUMNS))
    finally:
        for t in tables:
            con.execute(f"DROP TABLE IF EXISTS {t}")
        for name in ("energy_in", "sla_in"):
            with contextlib.suppress(Exception):  # not registered on every path
                con.unregister(p + name)


def awards(
    wh: Warehouse, sites: list[str] | None = None, include_applied: bool = False, models: str | None = None
) -> pa.Table:
    """The incentives that reduce each CaaS site's capex: nominal amount and award per incentive.

    Returns
    -------
    pyarrow.Table
        ``site_id``, ``incentive_id``, ``program``, ``kind``, ``currency``, ``eligible_minor``,
        ``nominal_minor``, ``award_minor`` [minor units].
    """
    models_sql = models or f"({actual_models_sql()})"
    scope = _scope(sites)
    site = (
        f"(SELECT s.* FROM sites s JOIN {models_sql} m ON m.site_id = s.site_id WHERE m.revenue_model = 'caas' {scope})"
    )
    capex = f"""(SELECT c.site_id, c.cost_type, c.currency, c.amount_minor FROM ({fc.resolved_sql()}) c
                 JOIN {site} s ON s.site_id = c.site_id
                 WHERE c.basis = 'one_time' AND list_contains({list(fc.CAPEX_TYPES)}, c.cost_type))"""
    return wh.con.sql(fi.awards_sql(capex, sites=site, include_applied=include_applied)).to_arrow_table()
