"""At-risk accounts: a churn-risk score per customer, with its reasons (handbook §4, user stories).

Broken chargers drive churn. For month *M* each customer's sites are scored
on signals a Customer Success lead would check, each worth fixed points
(:data:`SIGNALS`), capped at 100:

==========================  ==========================================================  ======
signal                      rule                                                        points
==========================  ==========================================================  ======
``uptime_below_97``         the customer's ports' NEVI uptime in M is not above 97 %    25
``uptime_falling``          uptime in M is ≥ 1 point below that of M−3 … M−1 together   15
``utilization_falling``     utilization in M is ≥ 20 % below that of M−3 … M−1         20
``sla_breaches``            SLA breaches (contract line-months) in M−2 … M: 10 each     ≤ 30
``stale_telemetry``         chargers silent or without data at the horizon              10
``ports_below_nevi``        ports at or below 97 % over the trailing twelve months      10
==========================  ==========================================================  ======

``level`` is ``high`` from 50 points, ``medium`` from 25, else ``low``. The
inputs are reported beside the score, so every point can be traced to a
metric of the registry or to the SLA evaluation (:mod:`evrevops.uptime.sla`).
Trends need history: the uptime trend is scored only when the warehouse's
telemetry starts by M−3, the utilization trend when its sessions do, and the
customer has all three earlier months (the three months
together: Σ up / Σ measured, Σ charging / Σ open).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from evrevops.core.calendar import add_months
from evrevops.metrics import compute as mc
from evrevops.metrics import span
from evrevops.uptime import sla as _sla
from evrevops.uptime import telemetry as _telemetry
from evrevops.uptime import timeline as T
from evrevops.warehouse.protocol import WarehouseLike

SIGNALS: dict[str, int] = {
    "uptime_below_97": 25,
    "uptime_falling": 15,
    "utilization_falling": 20,
    "sla_breaches": 10,  # per breached line-month, at most SLA_BREACH_CAP
    "stale_telemetry": 10,
    "ports_below_nevi": 10,
}
SLA_BREACH_CAP = 30
UPTIME_DROP_PTS = 1.0
UTILIZATION_DROP = 0.20
LEVELS = ((50, "high"), (25, "medium"), (0, "low"))

COLUMNS = (
    "customer_id", "name", "segment", "revenue_model", "score", "level", "reasons", "uptime_pct",
    "uptime_prev_pct", "utilization", "utilization_prev", "ports_below_nevi", "sla_breaches_3m",
    "sla_credit_minor_3m", "silent_chargers", "currency",
)  # fmt: skip


def accounts(
    wh: WarehouseLike,
    month: dt.date,
    as_of: dt.datetime | None = None,
    offline_after_s: int = T.DEFAULT_OFFLINE_AFTER_S,
) -> pa.Table:
    """Customers scored for churn risk in local *month*, highest score first (see the module docstring).

    One SQL statement over the month metrics by customer, the SLA evaluations of the three months
    and the silent chargers: no per-customer Python.
    """
    m0 = month.replace(day=1)
    first = add_months(m0, -3)
    end = add_months(m0, 1) - dt.timedelta(days=1)
    names = ["uptime_pct", "utilization", "ports_below_nevi", "ports", "measured_h", "t_outage_min",
             "t_excluded_min", "charging_h", "open_h"]  # fmt: skip
    metrics = mc.compute(
        wh, by="customer", period="month", start=first, end=end, metrics=names, as_of=as_of, offline_after_s=offline_after_s
    )  # fmt: skip
    credits = _sla.credits_range(wh, add_months(m0, -2), m0, as_of=as_of, offline_after_s=offline_after_s)
    silent = _telemetry.silent(wh, as_of=as_of, offline_after_s=offline_after_s)
    # trends compare with the three months before, and only where the warehouse has data for all three:
    # telemetry for the uptime trend, sessions for the utilization trend
    sessions, telemetry = span.data_range(wh), T.data_span(wh)
    up_history = telemetry is not None and telemetry[0].date() <= first
    ut_history = sessions is not None and sessions[0] <= first
    key = f"{m0:%Y-%m}"
    prev_keys = ", ".join(f"'{add_months(m0, -k):%Y-%m}'" for k in (1, 2, 3))
    wh.register("_risk_m", metrics)
    wh.register("_risk_sla", credits)
    wh.register("_risk_silent", silent)
    sig = SIGNALS
    try:
        return wh.fetch(
            f"""
WITH cur AS (SELECT * FROM _risk_m WHERE month = '{key}' AND customer_id IS NOT NULL AND coalesce(ports, 0) > 0),
prev AS (
    -- ratios of the three months' sums (never an average of ratios), only with all three months
    SELECT customer_id, count(*) AS n, sum(coalesce(measured_h, 0)) * 60 AS measured_min,
           sum(coalesce(t_outage_min, 0) - coalesce(t_excluded_min, 0)) AS lost_min,
           sum(coalesce(open_h, 0)) AS open_h, sum(coalesce(charging_h, 0)) AS charging_h
    FROM _risk_m WHERE month IN ({prev_keys}) GROUP BY customer_id
),
sla AS (
    SELECT customer_id, CAST(sum(CASE WHEN breached THEN 1 ELSE 0 END) AS BIGINT) AS n_breach,
           CAST(sum(credit_minor) AS BIGINT) AS credit
    FROM _risk_sla GROUP BY customer_id
),
quiet AS (SELECT customer_id, count(*) AS n FROM _risk_silent WHERE customer_id IS NOT NULL GROUP BY customer_id),
x AS (
    SELECT c.customer_id, c.uptime_pct AS up, c.utilization AS ut, c.ports_below_nevi, c.currency,
           CASE WHEN {str(up_history).upper()} AND p.n = 3 AND p.measured_min > 0
                THEN 100 * (p.measured_min - p.lost_min) / p.measured_min END AS up_prev,
           CASE WHEN {str(ut_history).upper()} AND p.n = 3 AND p.open_h > 0 THEN p.charging_h / p.open_h END AS ut_prev,
           coalesce(s.n_breach, 0) AS n_breach, coalesce(s.credit, 0) AS credit, coalesce(q.n, 0) AS n_silent
    FROM cur c LEFT JOIN prev p ON p.customer_id = c.customer_id LEFT JOIN sla s ON s.customer_id = c.customer_id
    LEFT JOIN quiet q ON q.customer_id = c.customer_id
),
r AS (
    SELECT x.*,
           [CASE WHEN up <= 97 THEN {{'pts': {sig["uptime_below_97"]}, 'text': printf('uptime %.2f %% in {key}', up)}} END,
            CASE WHEN up <= up_prev - {UPTIME_DROP_PTS}
                 THEN {{'pts': {sig["uptime_falling"]}, 'text': printf('uptime %.2f %% vs %.2f %% before', up, up_prev)}} END,
            CASE WHEN ut_prev > 0 AND ut <= ut_prev * {1 - UTILIZATION_DROP}
                 THEN {{'pts': {sig["utilization_falling"]},
                       'text': printf('utilization %.1f%% vs %.1f%% before', 100 * ut, 100 * ut_prev)}} END,
            CASE WHEN n_breach > 0 THEN {{'pts': least({sig["sla_breaches"]} * n_breach, {SLA_BREACH_CAP}),
                 'text': printf('%d SLA breach(es) in 3 months, credits %d minor units', n_breach, credit)}} END,
            CASE WHEN n_silent > 0 THEN {{'pts': {sig["stale_telemetry"]},
                 'text': printf('%d charger(s) silent or without data', n_silent)}} END,
            CASE WHEN coalesce(ports_below_nevi, 0) > 0 THEN {{'pts': {sig["ports_below_nevi"]},
                 'text': printf('%d port(s) at or below 97 %% (12 months)', CAST(ports_below_nevi AS BIGINT))}} END
           ] AS all_reasons
    FROM x
),
scored AS (
    SELECT h.*, least(coalesce(list_sum(list_transform(hits, lambda e: e.pts)), 0), 100) AS score
    FROM (SELECT r.*, list_filter(all_reasons, lambda e: e IS NOT NULL) AS hits FROM r) h
)
SELECT s.customer_id, k.name, k.segment, k.revenue_model,
       CAST(s.score AS BIGINT) AS score,
       CASE WHEN s.score >= {LEVELS[0][0]} THEN '{LEVELS[0][1]}' WHEN s.score >= {LEVELS[1][0]} THEN '{LEVELS[1][1]}'
            ELSE '{LEVELS[2][1]}' END AS level,
       array_to_string(list_transform(hits, lambda e: e.text), '; ') AS reasons,
       CAST(up AS DOUBLE) AS uptime_pct, CAST(up_prev AS DOUBLE) AS uptime_prev_pct,
       CAST(ut AS DOUBLE) AS utilization, CAST(ut_prev AS DOUBLE) AS utilization_prev,
       CAST(ports_below_nevi AS BIGINT) AS ports_below_nevi, CAST(n_breach AS BIGINT) AS sla_breaches_3m,
       CAST(credit AS BIGINT) AS sla_credit_minor_3m, CAST(n_silent AS BIGINT) AS silent_chargers, s.currency
FROM scored s LEFT JOIN customers k ON k.customer_id = s.customer_id
ORDER BY s.score DESC, s.customer_id
"""
        )
    finally:
        for t in ("_risk_m", "_risk_sla", "_risk_silent"):
            wh.unregister(t)
