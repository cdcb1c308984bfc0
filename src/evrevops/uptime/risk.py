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

from evrevops.metrics import compute as mc
from evrevops.uptime import sla as _sla
from evrevops.uptime import telemetry as _telemetry
from evrevops.uptime import timeline as T
from evrevops.warehouse.db import Warehouse

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


def _level(score: int) -> str:
    return next(name for floor, name in LEVELS if score >= floor)


def accounts(
    wh: Warehouse,
    month: dt.date,
    as_of: dt.datetime | None = None,
    offline_after_s: int = T.DEFAULT_OFFLINE_AFTER_S,
) -> pa.Table:
    """Customers scored for churn risk in local *month*, highest score first (see the module docstring).

    The per-customer arithmetic runs on one small row per customer (the
    metrics, SLA evaluation and telemetry checks above it are bulk SQL).
    """
    m0 = month.replace(day=1)
    first = T.add_months(m0, -3)
    end = T.add_months(m0, 1) - dt.timedelta(days=1)
    names = ["uptime_pct", "utilization", "ports_below_nevi", "ports", "measured_h", "t_outage_min",
             "t_excluded_min", "charging_h", "open_h"]  # fmt: skip
    rows = mc.compute(
        wh, by="customer", period="month", start=first, end=end, metrics=names, as_of=as_of, offline_after_s=offline_after_s
    ).to_pylist()  # fmt: skip
    by_cust: dict[str, dict[str, dict]] = {}
    for r in rows:
        if r["customer_id"] is not None:
            by_cust.setdefault(r["customer_id"], {})[r["month"]] = r
    breaches: dict[str, list[int]] = {}
    for k in range(3):
        for r in _sla.credits(wh, T.add_months(m0, -k), as_of=as_of, offline_after_s=offline_after_s).to_pylist():
            b = breaches.setdefault(r["customer_id"], [0, 0])
            b[0] += int(r["breached"])
            b[1] += r["credit_minor"]
    silent: dict[str, int] = {}
    for r in _telemetry.silent(wh, as_of=as_of, offline_after_s=offline_after_s).to_pylist():
        if r["customer_id"]:
            silent[r["customer_id"]] = silent.get(r["customer_id"], 0) + 1
    info = {
        r[0]: r[1:] for r in wh.con.sql("SELECT customer_id, name, segment, revenue_model FROM customers").fetchall()
    }
    key = f"{m0:%Y-%m}"
    # trends compare with the three months before, and only where the warehouse has data for all three:
    # telemetry for the uptime trend, sessions for the utilization trend
    sessions, telemetry = mc.data_range(wh), T.data_span(wh)
    up_history = telemetry is not None and telemetry[0].date() <= first
    ut_history = sessions is not None and sessions[0] <= first
    prev_keys = [f"{T.add_months(m0, -k):%Y-%m}" for k in (1, 2, 3)]
    out = []
    for cust, months in sorted(by_cust.items()):
        cur = months.get(key)
        if cur is None or not cur["ports"]:
            continue
        prev = [months[p] for p in prev_keys if p in months]
        up_prev_avg = ut_prev_avg = None
        if len(prev) == 3:
            # ratios of the three months' sums (never an average of ratios)
            measured_min = sum(p["measured_h"] or 0 for p in prev) * 60
            if up_history and measured_min > 0:
                lost = sum((p["t_outage_min"] or 0) - (p["t_excluded_min"] or 0) for p in prev)
                up_prev_avg = 100 * (measured_min - lost) / measured_min
            open_h = sum(p["open_h"] or 0 for p in prev)
            ut_prev_avg = sum(p["charging_h"] or 0 for p in prev) / open_h if ut_history and open_h > 0 else None
        reasons: list[tuple[str, int, str]] = []
        up, ut = cur["uptime_pct"], cur["utilization"]
        if up is not None and up <= 97:
            reasons.append(("uptime_below_97", SIGNALS["uptime_below_97"], f"uptime {up:.2f} % in {key}"))
        if up is not None and up_prev_avg is not None and up <= up_prev_avg - UPTIME_DROP_PTS:
            reasons.append(("uptime_falling", SIGNALS["uptime_falling"], f"uptime {up:.2f} % vs {up_prev_avg:.2f} % before"))  # fmt: skip
        if ut is not None and ut_prev_avg and ut <= ut_prev_avg * (1 - UTILIZATION_DROP):
            reasons.append(("utilization_falling", SIGNALS["utilization_falling"], f"utilization {ut:.1%} vs {ut_prev_avg:.1%} before"))  # fmt: skip
        n_breach, credit = breaches.get(cust, [0, 0])
        if n_breach:
            pts = min(SIGNALS["sla_breaches"] * n_breach, SLA_BREACH_CAP)
            reasons.append(
                ("sla_breaches", pts, f"{n_breach} SLA breach(es) in 3 months, credits {credit} minor units")
            )
        if silent.get(cust):
            reasons.append(("stale_telemetry", SIGNALS["stale_telemetry"], f"{silent[cust]} charger(s) silent or without data"))  # fmt: skip
        if cur["ports_below_nevi"]:
            reasons.append(("ports_below_nevi", SIGNALS["ports_below_nevi"], f"{cur['ports_below_nevi']} port(s) at or below 97 % (12 months)"))  # fmt: skip
        score = min(sum(p for _, p, _ in reasons), 100)
        name, segment, model = info.get(cust, (None, None, None))
        out.append(
            {
                "customer_id": cust, "name": name, "segment": segment, "revenue_model": model,
                "score": score, "level": _level(score), "reasons": "; ".join(t for _, _, t in reasons),
                "uptime_pct": up, "uptime_prev_pct": up_prev_avg, "utilization": ut, "utilization_prev": ut_prev_avg,
                "ports_below_nevi": cur["ports_below_nevi"], "sla_breaches_3m": n_breach, "sla_credit_minor_3m": credit,
                "silent_chargers": silent.get(cust, 0), "currency": cur["currency"],
            }
        )  # fmt: skip
    out.sort(key=lambda r: (-r["score"], r["customer_id"]))
    schema = pa.schema(
        [
            ("customer_id", pa.string()), ("name", pa.string()), ("segment", pa.string()),
            ("revenue_model", pa.string()), ("score", pa.int64()), ("level", pa.string()), ("reasons", pa.string()),
            ("uptime_pct", pa.float64()), ("uptime_prev_pct", pa.float64()), ("utilization", pa.float64()),
            ("utilization_prev", pa.float64()), ("ports_below_nevi", pa.int64()), ("sla_breaches_3m", pa.int64()),
            ("sla_credit_minor_3m", pa.int64()), ("silent_chargers", pa.int64()), ("currency", pa.string()),
        ]
    )  # fmt: skip
    return pa.Table.from_pylist(out, schema=schema)
