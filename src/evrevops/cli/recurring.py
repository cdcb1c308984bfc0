"""Recurring revenue and recognized revenue: ``mrr``, ``revenue``."""

from __future__ import annotations

from typing import Annotated

import typer

from evrevops.cli.errors import busy, unknown
from evrevops.cli.options import (
    FormatOpt,
    LastMonthOpt,
    MonthOpt,
    month_first,
    month_span,
)
from evrevops.cli.render import OutFormat, render
from evrevops.cli.scope_notes import energy_lines, print_lines
from evrevops.core.choices import MRR_BY, REVENUE_BY


def mrr(
    ctx: typer.Context,
    month: MonthOpt = None,
    by: Annotated[str, typer.Option(help=f"Grain: {', '.join(MRR_BY)}.")] = "customer",
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """MRR movements of a month: mrr_start, new, expansion, contraction, churn, reactivation, mrr_end; NRR, GRR.

    Amounts are integer minor units of `currency`, e.g.
    `evrevops mrr --month 2025-12 --by segment --format json`.
    """
    from evrevops.query import recurring as qrecurring

    if by not in MRR_BY:
        raise unknown(by, MRR_BY, "grain", lead="use one of")
    wh = ctx.obj.warehouse(read_only=True)
    lo = month_first(wh, month)
    with busy(f"computing MRR movements for {lo:%Y-%m}"):
        result = qrecurring.mrr(wh, lo, by)
    render(result, fmt, title=result.title)


def revenue(
    ctx: typer.Context,
    month: MonthOpt = None,
    to_month: LastMonthOpt = None,
    by: Annotated[str, typer.Option(help=f"Grain: {', '.join(REVENUE_BY)}.")] = "segment",
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Revenue by stream per month: hardware, installation, software, CaaS, maintenance, SLA credits, energy.

    Recognized as handbook §2 says (hardware at delivery, installation at
    commissioning, recurring ratably, SLA credits netted, energy by session);
    integer minor units; the total is the sum of its parts. Energy is the
    operator's: the charging revenue of the sites where it holds the energy
    position; stderr names what the headline's energy revenue (every site's)
    has beyond it, and why.
    """
    from evrevops.query import recurring as qrecurring
    from evrevops.query import scope as qscope

    if by not in REVENUE_BY:
        raise unknown(by, REVENUE_BY, "grain", lead="use one of")
    wh = ctx.obj.warehouse(read_only=True)
    lo, hi = month_span(wh, month, to_month)
    with busy(f"recognizing revenue for {lo:%Y-%m} … {hi:%Y-%m}"):
        result = qrecurring.revenue(wh, lo, hi, by=by)
        scope = qscope.energy_revenue_scope(wh, lo, hi)
    render(result, fmt, title=result.title)
    print_lines(energy_lines(scope))
