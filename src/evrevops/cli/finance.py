"""Unit economics and P&L: ``unit-economics``, ``model compare``, ``pnl``, ``incentives``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from evrevops.cli.errors import fail, run_busy, unknown
from evrevops.cli.options import (
    AppliedOpt,
    FormatOpt,
    HorizonOpt,
    LastMonthOpt,
    MonthOpt,
    RateOpt,
    SiteOpt,
    finite,
    month_span,
)
from evrevops.cli.render import OutFormat, money_table, render, transposed
from evrevops.cli.scope_notes import energy_lines, ports_lines, print_lines
from evrevops.core.choices import (
    DEFAULT_DISCOUNT_RATE,
    DEFAULT_HORIZON_MONTHS,
    DEFAULT_USEFUL_LIFE_MONTHS,
    PNL_BY,
    UNIT_ECONOMICS_BY,
)

if TYPE_CHECKING:
    from evrevops.warehouse.protocol import WarehouseLike

model_app = typer.Typer(
    help="Revenue models: the same site as hardware sale, CaaS and software only.", no_args_is_help=True
)


def _cash_flow_warehouse(ctx: typer.Context, discount_rate: float) -> WarehouseLike:
    """The warehouse (read-only) of a cash-flow command, once its --discount-rate [% per year] is checked."""
    finite(discount_rate, "--discount-rate", -100, 1000, above=True)
    return ctx.obj.warehouse(read_only=True)


def unit_economics_cmd(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help=f"Rank sites within: {', '.join(UNIT_ECONOMICS_BY)}.")] = "segment",
    site: SiteOpt = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="One row per group and revenue model instead of per site.")
    ] = False,
    horizon_months: HorizonOpt = DEFAULT_HORIZON_MONTHS,
    discount_rate: RateOpt = DEFAULT_DISCOUNT_RATE * 100,
    include_applied: AppliedOpt = False,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Per site under its own revenue model: capex less incentives, monthly cash flow, payback, NPV, IRR.

    Sites are ranked by payback within each group (`--by segment`); `--summary` gives each
    group's sites, capex, NPV and median payback per revenue model. Money in integer minor
    units; IRR per year as a fraction.
    """
    from evrevops.query import finance as qfinance

    if by not in UNIT_ECONOMICS_BY or (summary and by == "site"):
        raise fail(
            f"unknown grain {by!r}; use one of {', '.join(UNIT_ECONOMICS_BY)}"
            + (" (not site with --summary)" if summary else "")
        )
    wh = _cash_flow_warehouse(ctx, discount_rate)
    table = run_busy("computing site cash flows, payback, NPV and IRR", lambda: qfinance.unit_economics(
        wh, by, summary=summary, horizon_months=horizon_months, discount_rate=discount_rate / 100,
        include_applied=include_applied, site_ids=site))  # fmt: skip
    title = f"unit economics by {by} ({horizon_months} months, {discount_rate:g} % a year)"
    if fmt is OutFormat.table and summary:
        key = by if by != "network" else "scope"
        money_table(table, title, {key: key, "revenue_model": "model", "sites": "sites", "net_capex_minor": "net capex",
                                    "operating_cash_flow_minor": "cash/mo", "npv_minor": "NPV",
                                    "median_payback_months": "payback mo (median)",
                                    "sites_paid_back_in_horizon": "paid back"})  # fmt: skip
    else:
        render(table, fmt, title=title)


@model_app.command("compare")
def model_compare(
    ctx: typer.Context,
    site: Annotated[str, typer.Option("--site", help="Site id.")],
    prices: Annotated[
        Path | None, typer.Option("--prices", help="TOML file with a \\[prices] table overriding reference prices.")
    ] = None,
    horizon_months: HorizonOpt = DEFAULT_HORIZON_MONTHS,
    discount_rate: RateOpt = DEFAULT_DISCOUNT_RATE * 100,
    include_applied: AppliedOpt = False,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """The site as hardware sale, CaaS and software only, side by side: prices, capex, payback, NPV, IRR.

    The site's own model is priced by its contracts; the others by the network's reference
    prices for sites like it (or by `--prices`), on the same ports, costs and measured energy.
    """
    from evrevops.query import finance as qfinance

    wh = _cash_flow_warehouse(ctx, discount_rate)
    table = run_busy(f"pricing {site} under each revenue model", lambda: qfinance.model_compare(
        wh, site, prices_file=prices, horizon_months=horizon_months, discount_rate=discount_rate / 100,
        include_applied=include_applied))  # fmt: skip
    title = f"{site}: revenue models compared ({horizon_months} months, {discount_rate:g} % a year)"
    if fmt is OutFormat.table:
        transposed(table, "revenue_model", title)
    else:
        render(table, fmt, title=title)


def pnl_cmd(
    ctx: typer.Context,
    month: MonthOpt = None,
    to_month: LastMonthOpt = None,
    by: Annotated[str, typer.Option(help=f"Grain: {', '.join(PNL_BY)}.")] = "segment",
    useful_life: Annotated[
        int,
        typer.Option(
            "--useful-life-months", min=1, max=1200, help="Depreciation life of owned (CaaS) chargers \\[months]."
        ),
    ] = DEFAULT_USEFUL_LIFE_MONTHS,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """P&L by month: revenue by stream, cost of revenue (energy, cost of sales, opex, depreciation), gross margin, revenue per port.

    Energy revenue is the operator's (sites where it holds the energy position) and ports are
    those in service at the month's end: stderr names what the headline counts beyond them, and why.
    """
    import pyarrow as pa

    from evrevops.query import finance as qfinance
    from evrevops.query import scope as qscope

    if by not in PNL_BY:
        raise unknown(by, PNL_BY, "grain", lead="use one of")
    wh = ctx.obj.warehouse(read_only=True)
    lo, hi = month_span(wh, month, to_month)
    result, energy, ports = run_busy(
        f"building the P&L for {lo:%Y-%m} … {hi:%Y-%m}",
        lambda: (
            qfinance.pnl(wh, lo, hi, by=by, useful_life_months=useful_life),
            qscope.energy_revenue_scope(wh, lo, hi),
            qscope.ports_scope(wh, lo, hi),
        ),
    )
    table = result.table
    if fmt is OutFormat.table and table.num_rows <= 8:
        key = by if by != "network" else "scope"
        transposed(
            table.set_column(0, key, pa.compute.binary_join_element_wise(
                pa.compute.cast(table[key], pa.string()), table["month"], " ")),
            key, f"P&L by {by}, {lo:%Y-%m} … {hi:%Y-%m}",
        )  # fmt: skip
    else:
        render(result, fmt, title=result.title)
    print_lines(energy_lines(energy) + ports_lines(ports))


def incentives_cmd(
    ctx: typer.Context,
    site: SiteOpt = None,
    include_applied: AppliedOpt = False,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Incentives that reduce each CaaS site's capex: eligible cost, nominal amount (capped) and award."""
    from evrevops.query import finance as qfinance

    wh = ctx.obj.warehouse(read_only=True)
    result = qfinance.incentives(wh, site_ids=site, include_applied=include_applied)
    render(result, fmt, title=result.title)
