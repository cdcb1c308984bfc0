"""Forecasts: ``forecast hardware``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from evrevops.cli.errors import busy, fail
from evrevops.cli.options import AsOfOpt, FormatOpt, as_of_day, month_opt
from evrevops.cli.present import MONEY, cell
from evrevops.cli.render import OutFormat, err, money_table, render
from evrevops.core.choices import DEFAULT_SEED, DEFAULT_SIMS

forecast_app = typer.Typer(help="Forecasts of each revenue stream, with intervals and backtests.", no_args_is_help=True)


@forecast_app.command("hardware")
def forecast_hardware(
    ctx: typer.Context,
    as_of: AsOfOpt = None,
    months: Annotated[int, typer.Option(min=1, max=120, help="Months forecast after the as-of month.")] = 6,
    sims: Annotated[int, typer.Option(min=100, max=1_000_000, help="Monte-Carlo runs.")] = DEFAULT_SIMS,
    seed: Annotated[
        int, typer.Option(min=0, help="Random seed (the same seed gives the same forecast).")
    ] = DEFAULT_SEED,
    backtest: Annotated[
        str | None,
        typer.Option(
            "--backtest",
            help="Origins FIRST:LAST (months YYYY-MM): forecast at each month's end against what was recognized.",
        ),
    ] = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Hardware and installation revenue by month from open projects and the pipeline, with a P10–P90 interval.

    Learned stage win probabilities, times to win and commissioning lags (not the CRM's own
    probability); `naive_minor` is CRM probability × amount at expected close. `--backtest
    2025-03:2025-09` forecasts from each of those month-ends and prints the errors of both.
    """
    from evrevops.query import forecast as qforecast

    if backtest:
        lo, _, hi = backtest.partition(":")
        first, last = month_opt(lo, "--backtest")[0], month_opt(hi or lo, "--backtest")[0]
        try:
            origins = qforecast.backtest_origins(first, last)
        except ValueError as exc:
            raise fail(f"--backtest {backtest}: {exc} (FIRST:LAST, months YYYY-MM)") from None
    wh = ctx.obj.warehouse(read_only=True)
    try:
        if backtest:
            with busy(f"backtesting {len(origins)} origins"):
                bt = qforecast.hardware_backtest(wh, origins, months, sims, seed)
            render(bt.result, fmt, title=f"hardware forecast backtest, {lo} … {hi or lo}, {months} months ahead")
            sm = bt.summary
            code = sm.currency or "(several currencies)"
            err.print(Text(
                f"{sm.points} forecasts: MAE {cell(sm.mae_minor, MONEY, sm.currency)} {code} against naive "
                f"{cell(sm.naive_mae_minor, MONEY, sm.currency)} {code} (ratio {sm.mae_ratio or 0:.2f}); "
                f"P10–P90 covered {sm.coverage_p10_p90:.0%}"
            ))  # fmt: skip
            return
        with busy(f"simulating {sims:,} runs"):
            fc = qforecast.hardware(wh, as_of_day(as_of), months, sims, seed)
    except ValueError as exc:
        raise fail(str(exc)) from None
    table, title = fc.result, fc.result.title
    if fmt is OutFormat.table:
        money_table(table, title, {"month": "month", "mean_minor": "mean", "p10_minor": "P10", "p50_minor": "P50",
                                    "p90_minor": "P90", "from_projects_minor": "projects", "from_won_minor": "won",
                                    "from_pipeline_minor": "pipeline", "naive_minor": "naive"})  # fmt: skip
    else:
        render(table, fmt, title=title)
