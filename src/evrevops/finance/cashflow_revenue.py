"""The revenue side of each site's monthly cash flow: contract revenue, energy, sessions and SLA credits.

Steps of :func:`evrevops.finance.cashflow.site_months` (where the rules are), over its grid of
site-months (:mod:`evrevops.finance.cashflow_series`): contract revenue as recognized up to the
last actual month and at the MRR after it, the energy share, and the energy, sessions and SLA
credits as measured in actual months and at each site's run rate in the others. Each step makes
temporary tables through *temp* and returns their names.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from evrevops.contracts import energy_position as ep
from evrevops.contracts import revenue as crev
from evrevops.core.calendar import add_months
from evrevops.core.money import div_round_sql
from evrevops.core.vocabulary import LINE_TYPES
from evrevops.finance.cashflow_series import Temp
from evrevops.metrics import compute as mc
from evrevops.warehouse.protocol import WarehouseLike

RUN_RATE_MONTHS = 12


def contract_revenue(
    temp: Temp, site: str, contracts: str, lo: dt.date, d1: dt.date, last_month: dt.date
) -> tuple[str, str, str]:
    """``(rec, mrr, share)``: revenue recognized by site, month and stream through the last actual
    month *d1*; the recurring fees in force at its end (the MRR projected months take); the
    energy share by site and month."""
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
    return rec, mrr, share


def measured(
    wh: WarehouseLike,
    temp: Temp,
    p: str,
    site: str,
    grid: str,
    contracts: str,
    *,
    own: bool,
    sites: list[str] | None,
    sla: bool,
    data: tuple[dt.date | None, dt.date],
    lo: dt.date,
    last_month: dt.date,
) -> tuple[str, str]:
    """``(meas, run)``: energy revenue and cost, sessions and SLA credits of every actual month, and
    each site's run rate (the mean of its last :data:`RUN_RATE_MONTHS` actual months).

    *own*: *contracts* are the contract lines' own intervals (the SLA credits are theirs).
    Registers ``{p}energy_in`` and, when SLA credits are netted, ``{p}sla_in`` on *wh* (the caller
    unregisters them).
    """
    d0, d1 = data
    d1_end = add_months(d1, 1) - dt.timedelta(days=1)
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
    return meas, run


def site_currencies(wh: WarehouseLike, temp: Temp, p: str, site: str, contracts: str) -> str:
    """Each site's currency (``site_id, currency, n``); raise when a site has amounts in more than one."""
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
            "sites with amounts in more than one currency cannot have one cash flow: " + ", ".join(r[0] for r in mixed)
        )
    return site_cur


def month_revenue(
    temp: Temp, grid: str, meas: str, run: str, rec: str, mrr: str, share: str, d1: dt.date
) -> tuple[str, str, str]:
    """``(base, crev, shm)``: every month's energy, sessions and SLA credit (measured, else the run
    rate; nothing before commissioning), its contract revenue by stream, and its energy share."""
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
    return base, contract_rev, share_of
