"""The sales and installation motion: ``pipeline`` (``funnel``, ``win-rates``, ``projects``, ``slippage``, ``expansion``, ``ramp``)."""

from __future__ import annotations

from typing import Annotated

import typer

from evrevops.cli.errors import busy, fail, unknown
from evrevops.cli.options import AsOfOpt, FormatOpt, as_of_day
from evrevops.cli.render import OutFormat, render
from evrevops.core.choices import EXPANSION_BY, SNAPSHOT_BY, WIN_RATE_BY

pipeline_app = typer.Typer(
    help="The sales and installation motion: open pipeline, funnel, win rates, projects, land and expand.",
    invoke_without_command=True,
)


@pipeline_app.callback()
def pipeline_cmd(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option(help="The pipeline at the end of month YYYY-MM.")] = None,
    as_of: AsOfOpt = None,
    by: Annotated[str, typer.Option(help=f"Grain: {', '.join(SNAPSHOT_BY)}.")] = "stage",
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """The open pipeline as it stood on a day: deals, amounts per stream, CRM- and learned-probability weighted.

    E.g. `evrevops pipeline --month 2025-06 --by segment`; subcommands for the funnel, win
    rates, projects and land-and-expand.
    """
    if ctx.invoked_subcommand is not None:
        return
    from evrevops.query import pipeline as qpipeline

    if by not in SNAPSHOT_BY:
        raise unknown(by, SNAPSHOT_BY, "grain", lead="use one of")
    wh = ctx.obj.warehouse(read_only=True)
    result = qpipeline.open_pipeline(wh, as_of_day(as_of, month), by=by)
    render(result, fmt, title=result.title)


@pipeline_app.command("funnel")
def pipeline_funnel(
    ctx: typer.Context,
    by: Annotated[str | None, typer.Option(help="Group the stages by a deal column, e.g. segment.")] = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Stage conversion, learned win probability and days in stage, from the stage history."""
    from evrevops.query import pipeline as qpipeline

    if by is not None and by not in qpipeline.FUNNEL_BY:
        raise fail(f"unknown grouping {by!r}; use segment, revenue_model or owner")
    wh = ctx.obj.warehouse(read_only=True)
    result = qpipeline.funnel(wh, as_of_day(as_of), by=by)
    render(result, fmt, title=result.title)


@pipeline_app.command("win-rates")
def pipeline_win_rates(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help=f"Group by: {', '.join(WIN_RATE_BY)}.")] = "segment",
    as_of: AsOfOpt = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Win rate, cycle time and slippage of closed deals, open and overdue deals, by segment or readiness."""
    from evrevops.query import pipeline as qpipeline

    wh = ctx.obj.warehouse(read_only=True)
    try:
        result = qpipeline.win_rates(wh, by, as_of_day(as_of))
    except ValueError as exc:
        raise fail(str(exc)) from None
    render(result, fmt, title=result.title)


@pipeline_app.command("projects")
def pipeline_projects(ctx: typer.Context, as_of: AsOfOpt = None, fmt: FormatOpt = OutFormat.table) -> None:
    """Installation projects: status, delay, expected commissioning, budget against actual, margin."""
    from evrevops.query import pipeline as qpipeline

    wh = ctx.obj.warehouse(read_only=True)
    result = qpipeline.projects(wh, as_of_day(as_of))
    render(result, fmt, title=result.title)


@pipeline_app.command("slippage")
def pipeline_slippage(ctx: typer.Context, as_of: AsOfOpt = None, fmt: FormatOpt = OutFormat.table) -> None:
    """Per project milestone: how many slipped, by how many days, and how many ran over budget."""
    from evrevops.query import pipeline as qpipeline

    wh = ctx.obj.warehouse(read_only=True)
    result = qpipeline.slippage(wh, as_of_day(as_of))
    render(result, fmt, title=result.title)


@pipeline_app.command("expansion")
def pipeline_expansion(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help="segment, network or customer.")] = "segment",
    as_of: AsOfOpt = None,
    mature_months: Annotated[
        int, typer.Option(min=0, max=1200, help="Months since landing for mature conversion.")
    ] = 12,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Land and expand: deployment-to-expansion conversion, time to expand, expansion ports."""
    from evrevops.query import pipeline as qpipeline

    wh = ctx.obj.warehouse(read_only=True)
    if by != "customer" and by not in EXPANSION_BY:
        raise fail(f"unknown grain {by!r}; use segment, network or customer")
    result = qpipeline.expansion(wh, by, as_of_day(as_of), mature_months)
    render(result, fmt, title=result.title)


@pipeline_app.command("ramp")
def pipeline_ramp(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help=f"Grain: {', '.join(EXPANSION_BY)}.")] = "segment",
    max_months: Annotated[
        int | None, typer.Option(min=0, max=1200, help="Months since commissioning to show at most.")
    ] = 24,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """The utilization ramp: utilization by months since commissioning, per segment."""
    from evrevops.query import pipeline as qpipeline

    wh = ctx.obj.warehouse(read_only=True)
    try:
        with busy("computing the utilization ramp"):
            result = qpipeline.ramp(wh, by=by, max_months=max_months)
    except ValueError as exc:
        raise fail(str(exc)) from None
    render(result, fmt, title=result.title)
