"""Unit economics, revenue models compared, the P&L and incentive awards."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from evrevops.finance import cashflow as fcash
from evrevops.finance import compare as fcompare
from evrevops.finance import pnl as fpnl
from evrevops.finance import unit_economics as fue
from evrevops.query.result import TableResult, table_result
from evrevops.warehouse import contract_lines as cl
from evrevops.warehouse.protocol import WarehouseLike

UNIT_ECONOMICS_BY = fue.BY
PNL_BY = fpnl.BY
DEFAULT_HORIZON_MONTHS = fcash.DEFAULT_HORIZON_MONTHS
DEFAULT_DISCOUNT_RATE = fue.DEFAULT_DISCOUNT_RATE
DEFAULT_USEFUL_LIFE_MONTHS = fpnl.DEFAULT_USEFUL_LIFE_MONTHS


def unit_economics(
    wh: WarehouseLike,
    by: str = "segment",
    *,
    summary: bool = False,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    discount_rate: float = DEFAULT_DISCOUNT_RATE,
    include_applied: bool = False,
    site_ids: Sequence[str] | None = None,
) -> TableResult:
    """Per site under its own revenue model (ranked by payback within *by*), or with *summary* one row per group and
    revenue model: capex less incentives, monthly cash flow, payback [months], NPV [minor units] at *discount_rate*
    [fraction per year], IRR [fraction per year].

    Raises
    ------
    ValueError
        No commissioned site to evaluate (among *site_ids*), or a value the engine refuses.
    """
    sites = list(site_ids) if site_ids else None
    table = fue.sites(
        wh, horizon_months=horizon_months, discount_rate=discount_rate, include_applied=include_applied, site_ids=sites
    )
    if table.num_rows == 0:
        raise ValueError("no commissioned sites to evaluate" + (f" among {', '.join(sites)}" if sites else ""))
    table = fue.summary(table, by) if summary else fue.ranked(table, by)
    title = f"unit economics by {by} ({horizon_months} months, {discount_rate * 100:g} % a year)"
    return table_result(table, title)


def model_compare(
    wh: WarehouseLike,
    site_id: str,
    *,
    prices_file: Path | None = None,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    discount_rate: float = DEFAULT_DISCOUNT_RATE,
    include_applied: bool = False,
) -> TableResult:
    """The site as hardware sale, CaaS and software only, one row per revenue model: prices, capex, payback, NPV, IRR.

    Raises
    ------
    ValueError
        An unknown site, or no reference price for a model.
    """
    table = fcompare.compare(
        wh, site_id, prices_file=prices_file, horizon_months=horizon_months, discount_rate=discount_rate,
        include_applied=include_applied,
    )  # fmt: skip
    title = f"{site_id}: revenue models compared ({horizon_months} months, {discount_rate * 100:g} % a year)"
    return table_result(table, title)


def pnl(
    wh: WarehouseLike,
    first_month: dt.date,
    last_month: dt.date,
    by: str = "segment",
    useful_life_months: int = DEFAULT_USEFUL_LIFE_MONTHS,
) -> TableResult:
    """The P&L per month and *by*: revenue by stream, cost of revenue, gross margin [minor units], revenue per port.

    Raises
    ------
    ValueError
        Months without session data, or without a site under contract (no contracts in the warehouse).
    """
    table = fpnl.pnl(wh, first_month, last_month, by=by, useful_life_months=useful_life_months)
    if table.num_rows == 0:  # no site with contract facts (segment, revenue model) then: say which, not a blank grid
        asked = f"{first_month:%Y-%m} … {last_month:%Y-%m}"
        if not wh.rows(f"SELECT count(*) FROM {cl.VIEW}")[0][0]:
            raise ValueError(
                f"no P&L for {asked}: there are no contracts in the warehouse (a P&L needs each site's segment and "
                "revenue model); ingest customers.csv and contracts.csv first"
            )
        raise ValueError(f"no P&L for {asked}: no site has a contract in force in those months")
    return table_result(table, f"P&L by {by}, {first_month:%Y-%m} … {last_month:%Y-%m}")


def incentives(wh: WarehouseLike, site_ids: Sequence[str] | None = None, include_applied: bool = False) -> TableResult:
    """The incentives that reduce each CaaS site's capex: eligible cost, nominal amount (capped), award [minor units]."""
    table = fcash.awards(wh, sites=list(site_ids) if site_ids else None, include_applied=include_applied)
    return table_result(table, "incentive awards")
