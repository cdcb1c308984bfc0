"""Payback, NPV and IRR of each site from its monthly cash flow (handbook §7).

Pure functions over arrays of monthly cash flows first (:func:`payback_month`, :func:`npv`,
:func:`irr`), then :func:`sites`, which applies them to every site's series from
:func:`evrevops.finance.cashflow.site_months`, and :func:`ranked` / :func:`summary` for the
``evrevops unit-economics`` report.

Conventions: month ``t = 0`` is the commissioning month and is not discounted; capex and
incentives are in the cash flow of the month they fall in, so the handbook's "first month
where cumulative cash flow ≥ capex" is the first ``t`` where the cumulative cash flow
including capex is ≥ 0.

A site's segment, revenue model and energy position are dated facts, and its monthly cash
flow takes each month's (:mod:`evrevops.finance.cashflow`). The unit economics of a site are
one figure, not a month's: its row (and so the ranking and summary by segment or model) takes
the facts in force at the **end of the data**, the last actual month (a site whose months all
come after it: its first month's).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evrevops.core.choices import DEFAULT_DISCOUNT_RATE
from evrevops.core.choices import UNIT_ECONOMICS_BY as BY
from evrevops.core.suggest import did_you_mean
from evrevops.finance import cashflow as cf
from evrevops.warehouse.protocol import WarehouseLike

OPERATING = ("software_minor", "caas_minor", "energy_share_minor", "maintenance_minor", "sla_credit_minor",
             "energy_revenue_minor")  # fmt: skip
OPERATING_COSTS = ("energy_cost_minor", "network_minor", "maintenance_cost_minor", "payment_processing_minor",
                   "site_lease_minor", "other_minor")  # fmt: skip


def monthly_rate(annual_rate: float) -> float:
    """Monthly rate compounding to *annual_rate*: ``(1 + r)^(1/12) − 1``."""
    return (1.0 + annual_rate) ** (1.0 / 12.0) - 1.0


def _months(x: np.ndarray, t: np.ndarray | None) -> np.ndarray:
    return np.arange(x.shape[-1]) if t is None else np.asarray(t)


def npv(cash_flows: np.ndarray, annual_rate: float, t: np.ndarray | None = None) -> np.ndarray:
    """Net present value of monthly cash flows (the last axis is the month).

    Parameters
    ----------
    cash_flows : array_like
        Cash flow of each month [minor units].
    annual_rate : float
        Discount rate per year [fraction], compounded monthly.
    t : array_like of int, optional
        Month of each column relative to the commissioning month (default ``0, 1, …``;
        months before commissioning are negative and compound forward).

    Returns
    -------
    numpy.ndarray
        NPV at ``t = 0`` [minor units, float].

    Notes
    -----
    ``NPV = Σ_t CF_t / (1 + i)^t`` with ``i = (1 + annual_rate)^(1/12) − 1``.
    """
    x = np.asarray(cash_flows, dtype=float)
    return (x / (1.0 + monthly_rate(annual_rate)) ** _months(x, t)).sum(axis=-1)


def irr(cash_flows: np.ndarray, t: np.ndarray | None = None, tol: float = 1e-12, iterations: int = 200) -> np.ndarray:
    """Internal rate of return per year of monthly cash flows; NaN where there is none.

    The monthly rate ``i`` with ``Σ_t CF_t / (1 + i)^t = 0`` is found by bisection on
    ``[−0.5, 1.0]`` per month (NaN when the NPV has the same sign at both ends: no change of
    sign, e.g. a series that never goes negative), and annualized as ``(1 + i)^12 − 1``.
    """
    x = np.atleast_2d(np.asarray(cash_flows, dtype=float))
    tt = _months(x, t)

    def f(i: np.ndarray) -> np.ndarray:
        return (x / (1.0 + i[:, None]) ** tt).sum(axis=-1)

    lo = np.full(x.shape[0], -0.5)
    hi = np.full(x.shape[0], 1.0)
    f_lo, f_hi = f(lo), f(hi)
    ok = np.sign(f_lo) * np.sign(f_hi) < 0
    for _ in range(iterations):
        mid = (lo + hi) / 2
        f_mid = f(mid)
        left = np.sign(f_mid) == np.sign(f_lo)
        lo = np.where(left, mid, lo)
        f_lo = np.where(left, f_mid, f_lo)
        hi = np.where(left, hi, mid)
        if np.all(hi - lo < tol):
            break
    out = np.where(ok, (1.0 + (lo + hi) / 2) ** 12 - 1.0, np.nan)
    return out if np.ndim(cash_flows) > 1 else out[0]


def payback_month(cash_flows: np.ndarray, t: np.ndarray | None = None) -> np.ndarray:
    """First month ``t ≥ 0`` where the cumulative cash flow (capex included, from the first month) is ≥ 0.

    Returns the month relative to commissioning; −1 when it never is within the series.
    """
    x = np.atleast_2d(np.asarray(cash_flows))
    tt = _months(x, t)
    ok = (np.cumsum(x, axis=-1) >= 0) & (tt >= 0)
    out = np.where(ok.any(axis=-1), tt[ok.argmax(axis=-1)], -1)
    return out if np.ndim(cash_flows) > 1 else out[0]


def _series(months: pa.Table) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Sites in order, month offsets, the (sites × months) cash-flow matrix and other columns.

    Sites whose series start at different months are aligned on ``t`` (zeros before a
    site's first month; ``basis`` empty there).
    """
    t = months.sort_by([("site_id", "ascending"), ("t", "ascending")])
    ids = t["site_id"].to_numpy(zero_copy_only=False)
    uniq, row = np.unique(ids, return_inverse=True)
    sites = uniq.tolist()
    tv = t["t"].to_numpy()
    t0 = int(tv.min())
    tt = np.arange(t0, int(tv.max()) + 1)
    col = tv - t0
    cols: dict[str, np.ndarray] = {}
    for c in t.column_names:
        if c in ("site_id", "t"):
            continue
        v = t[c].to_numpy(zero_copy_only=False)
        m = (
            np.zeros((len(sites), len(tt)), dtype=v.dtype)
            if v.dtype.kind in "iuf"
            else np.full((len(sites), len(tt)), None, dtype=object)
        )
        m[row, col] = v
        cols[c] = m
    return sites, tt, cols["cash_flow_minor"].astype(np.int64), cols


def sites(
    wh: WarehouseLike,
    *,
    horizon_months: int = cf.DEFAULT_HORIZON_MONTHS,
    discount_rate: float = DEFAULT_DISCOUNT_RATE,
    include_applied: bool = False,
    site_ids: list[str] | None = None,
    months: pa.Table | None = None,
) -> pa.Table:
    """Unit economics of every site under its own revenue model.

    Returns
    -------
    pyarrow.Table
        ``site_id``, ``customer_id``, ``segment``, ``revenue_model``, ``energy_position``,
        ``currency``, ``commissioned_month``, ``months_actual``; ``capex_minor``,
        ``incentives_minor``, ``net_capex_minor`` (capex − incentives), ``cost_of_sales_minor``,
        ``upfront_revenue_minor`` (hardware + installation) [minor units];
        ``operating_cash_flow_minor`` (mean monthly recurring revenue + energy margin − operating
        costs over the last twelve actual months, else the first twelve) [minor units/month];
        ``cash_to_date_minor`` (cumulative to the last actual month); ``payback_months`` (null when
        not within the horizon), ``payback_month`` (``YYYY-MM``), ``payback_basis``;
        ``npv_minor`` (at *discount_rate*), ``irr`` [fraction per year, null without one],
        ``horizon_months``, ``total_cash_flow_minor``.
    """
    if months is None:
        months = cf.site_months(wh, sites=site_ids, horizon_months=horizon_months, include_applied=include_applied)
    return from_months(months, discount_rate)


def from_months(months: pa.Table, discount_rate: float = DEFAULT_DISCOUNT_RATE) -> pa.Table:
    """:func:`sites` from already computed monthly cash flows."""
    if months.num_rows == 0:
        return pa.table({"site_id": pa.array([], pa.string())})
    ids, tt, x, c = _series(months)
    basis = c["basis"]
    actual = basis == "actual"
    k0 = int(np.searchsorted(tt, 0))  # every series has its commissioning month t = 0
    # a site's facts: those of the last actual month of the data (the end of the data), else its first month's
    present = np.not_equal(basis, None).astype(bool)
    kd = int(len(tt) - 1 - np.argmax(actual.any(axis=0)[::-1])) if actual.any() else k0
    at_end = np.where(present[:, kd], kd, np.argmax(present, axis=1))
    rows_ = np.arange(len(ids))
    first = {k: c[k][rows_, at_end] for k in ("segment", "revenue_model", "energy_position")}
    first = {"customer_id": c["customer_id"][:, k0], **first, "currency": c["currency"][:, k0]}
    op = sum(c[k].astype(np.int64) for k in OPERATING) - sum(c[k].astype(np.int64) for k in OPERATING_COSTS)
    # operating run rate: the last twelve actual months, else the first twelve of the horizon
    rank_from_end = np.cumsum(actual[:, ::-1], axis=1)[:, ::-1]
    last12 = actual & (rank_from_end <= 12)
    n12 = last12.sum(axis=1)
    first12 = ((tt >= 0) & (tt < 12))[None, :]
    use = np.where((n12 > 0)[:, None], last12, first12)
    run = np.rint((op * use).sum(axis=1) / np.maximum(use.sum(axis=1), 1)).astype(np.int64)
    h = x.shape[1]
    last_actual = np.where(actual.any(axis=1), h - 1 - np.argmax(actual[:, ::-1], axis=1), -1)
    cum = np.cumsum(x, axis=1)
    to_date = np.where(last_actual >= 0, cum[np.arange(len(ids)), np.maximum(last_actual, 0)], 0)
    pb = payback_month(x, tt)
    month = c["month"]
    at = np.arange(len(ids)), np.where(pb >= 0, pb - tt[0], 0)
    found = pb >= 0
    pb_month = pa.array(np.where(found, month[at], None)).cast(pa.string())
    pb_month = pc.utf8_slice_codeunits(pb_month, 0, 7)
    pb_basis = pa.array(np.where(found, basis[at], None), pa.string())
    rates = irr(x, tt)
    capex = c["capex_minor"].astype(np.int64).sum(axis=1)
    inc = c["incentives_minor"].astype(np.int64).sum(axis=1)
    return pa.table(
        {
            "site_id": ids,
            **first,
            "commissioned_month": pc.utf8_slice_codeunits(pa.array(month[:, k0]).cast(pa.string()), 0, 7),
            "months_actual": actual.sum(axis=1).astype(np.int64),
            "capex_minor": capex,
            "incentives_minor": inc,
            "net_capex_minor": capex - inc,
            "cost_of_sales_minor": c["cost_of_sales_minor"].astype(np.int64).sum(axis=1),
            "upfront_revenue_minor": (c["hardware_minor"].astype(np.int64) + c["installation_minor"].astype(np.int64)).sum(axis=1),
            "operating_cash_flow_minor": run,
            "cash_to_date_minor": to_date.astype(np.int64),
            "payback_months": pa.array(pb, pa.int64(), mask=~found),
            "payback_month": pb_month,
            "payback_basis": pb_basis,
            "npv_minor": np.rint(npv(x, discount_rate, tt)).astype(np.int64),
            "irr": pa.array(rates, pa.float64(), mask=np.isnan(rates)),
            "horizon_months": np.full(len(ids), int((tt >= 0).sum()), dtype=np.int64),
            "total_cash_flow_minor": x.sum(axis=1),
        }
    )  # fmt: skip


def ranked(table: pa.Table, by: str = "segment") -> pa.Table:
    """Sites ranked by payback (soonest first; never last, then by NPV) within each *by* group."""
    if by not in BY:
        raise ValueError(did_you_mean(by, BY, "grain", lead="use one of"))
    key = {"site": None, "network": None, "customer": "customer_id"}.get(by, by)
    part, order = (f"PARTITION BY {key}", f"{key}, ") if key else ("", "")
    con = duckdb.connect()
    try:
        con.register("ue", table)
        return con.sql(
            f"""SELECT row_number() OVER ({part} ORDER BY payback_months ASC NULLS LAST, npv_minor DESC, site_id)
                       AS rank, *
                FROM ue ORDER BY {order}rank"""
        ).to_arrow_table()
    finally:
        con.close()


def summary(table: pa.Table, by: str = "segment") -> pa.Table:
    """Per group and revenue model: sites, capex, incentives, NPV (sums, minor units) and median payback [months]."""
    if by not in BY or by == "site":
        raise ValueError(did_you_mean(by, list(b for b in BY if b != "site"), "grain", lead="use one of"))
    key = {"network": "'network'", "customer": "customer_id"}.get(by, by)
    con = duckdb.connect()
    con.register("ue", table)
    out = con.sql(
        f"""SELECT {key} AS {by if by != "network" else "scope"}, revenue_model, currency, count(*) AS sites,
                   CAST(sum(capex_minor) AS BIGINT) AS capex_minor, CAST(sum(incentives_minor) AS BIGINT) AS incentives_minor,
                   CAST(sum(net_capex_minor) AS BIGINT) AS net_capex_minor,
                   CAST(sum(operating_cash_flow_minor) AS BIGINT) AS operating_cash_flow_minor,
                   CAST(sum(npv_minor) AS BIGINT) AS npv_minor,
                   median(payback_months) AS median_payback_months,
                   count(payback_months) AS sites_paid_back_in_horizon
            FROM ue GROUP BY ALL ORDER BY 1, 2, 3"""
    ).to_arrow_table()
    con.close()
    return out
