"""Uptime and reliability: ``uptime``, ``outages``, ``stale``, ``sla``, ``risk``, ``nevi export``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from evrevops.cli.errors import busy, fail, unknown
from evrevops.cli.options import (
    OFFLINE_MIN,
    AsOfOpt,
    EngineOpt,
    ExportOpt,
    FormatOpt,
    LastMonthOpt,
    MasterOpt,
    MonthOpt,
    OfflineOpt,
    as_of_instant,
    engine_warehouse,
    in_years,
    month_first,
    month_span,
)
from evrevops.cli.render import OutFormat, err, render
from evrevops.core.vocabulary import GRAINS

nevi_app = typer.Typer(help="NEVI reporting (23 CFR 680.112 / 680.116(b)).", no_args_is_help=True)


def uptime(
    ctx: typer.Context,
    month: MonthOpt = None,
    by: Annotated[str, typer.Option(help=f"Grain: {', '.join(GRAINS)}.")] = "site",
    as_of: AsOfOpt = None,
    offline_after: OfflineOpt = OFFLINE_MIN,
    engine: EngineOpt = "duckdb",
    export: ExportOpt = None,
    master: MasterOpt = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """NEVI uptime (month and trailing 12 months), outage minutes, MTBF/MTTR, success rates, revenue at risk.

    The registry's uptime metrics (see `evrevops metrics list`) for one month,
    e.g. `evrevops uptime --month 2025-12 --by port --format json`; on Spark with
    `--engine spark://host:port --export DIR`.
    """
    from evrevops.query import metrics as qmetrics

    if by not in GRAINS:
        raise unknown(by, GRAINS, "grain", lead="use one of")
    wh = engine_warehouse(ctx, engine, export, master)
    lo = month_first(wh, month)
    with busy(f"building status timelines for {lo:%Y-%m}"):
        result = qmetrics.uptime(wh, by, lo, as_of=as_of_instant(as_of), offline_after_s=offline_after * 60)
    render(result, fmt, title=result.title)
    if engine == "duckdb":
        coverage_warning(wh, lo, None, ("telemetry",), as_of_instant(as_of), offline_after * 60)


def coverage_warning(
    wh: Any, lo: dt.date, hi: dt.date | None, sources: tuple[str, ...], as_of: dt.datetime | None = None,
    offline_after_s: int = OFFLINE_MIN * 60,
) -> None:  # fmt: skip
    """Print on stderr the one line saying what of *sources* the data does not cover from *lo* to *hi* (default: the
    end of *lo*'s month), if anything."""
    from evrevops.core.calendar import month_end
    from evrevops.query import coverage as qcoverage

    if not sources:
        return
    line = qcoverage.warning(
        wh,
        lo,
        hi or month_end(lo),
        sources,
        as_of=as_of,
        offline_after_s=offline_after_s,
    )
    if line:
        err.print(Text(f"warning: {line}"))


def outages(
    ctx: typer.Context,
    month: Annotated[
        str | None, typer.Option(help="Month YYYY-MM (default: last full month; with --open, the horizon's).")
    ] = None,
    to_month: LastMonthOpt = None,
    site: Annotated[list[str] | None, typer.Option("--site", help="Only these sites (repeatable).")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only outages still open at the horizon.")] = False,
    no_data: Annotated[bool, typer.Option(help="Include no-data runs (telemetry missing).")] = True,
    as_of: AsOfOpt = None,
    offline_after: OfflineOpt = OFFLINE_MIN,
    engine: EngineOpt = "duckdb",
    export: ExportOpt = None,
    master: MasterOpt = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """The outage ledger: each outage's start, end, duration, statuses, error codes, cause, exclusion, revenue at risk.

    On Spark with `--engine spark://host:port --export DIR` (the same SQL, transpiled).
    """
    from evrevops.query import period as qperiod
    from evrevops.query import uptime as quptime

    wh = engine_warehouse(ctx, engine, export, master)
    horizon = as_of_instant(as_of)
    if open_only and month is None:
        first = qperiod.horizon_month(wh, horizon)
        if first is None:
            raise fail("the warehouse has no telemetry yet; run `evrevops ingest` first")
        lo = hi = first
    else:
        lo, hi = month_span(wh, month, to_month)
    with busy(f"building the outage ledger for {lo:%Y-%m} … {hi:%Y-%m}"):
        result = quptime.outages(
            wh, lo, hi, as_of=horizon, offline_after_s=offline_after * 60, open_only=open_only, sites=site,
            include_no_data=no_data,
        )  # fmt: skip
    render(result, fmt, title=result.title)


def stale(
    ctx: typer.Context,
    as_of: AsOfOpt = None,
    offline_after: OfflineOpt = OFFLINE_MIN,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Chargers that have gone silent or have no data at the horizon, since when, and the revenue at risk."""
    from evrevops.query import uptime as quptime

    wh = ctx.obj.warehouse(read_only=True)
    with busy("checking telemetry"):
        result = quptime.stale(wh, as_of=as_of_instant(as_of), offline_after_s=offline_after * 60)
    render(result, fmt, title=result.title)


def _month_report_command(query: str, doing: str, doc: str) -> Callable[..., None]:
    """A command that runs a month's report ``query(wh, month, as_of=..., offline_after_s=...)`` (*query*: its name in
    :mod:`evrevops.query.uptime`, imported when the command runs) and renders it; *doc* is its help."""

    def command(
        ctx: typer.Context,
        month: MonthOpt = None,
        as_of: AsOfOpt = None,
        offline_after: OfflineOpt = OFFLINE_MIN,
        fmt: FormatOpt = OutFormat.table,
    ) -> None:
        from evrevops.query import uptime as quptime

        wh = ctx.obj.warehouse(read_only=True)
        lo = month_first(wh, month)
        with busy(f"{doing} for {lo:%Y-%m}"):
            result = getattr(quptime, query)(wh, lo, as_of=as_of_instant(as_of), offline_after_s=offline_after * 60)
        render(result, fmt, title=result.title)

    command.__doc__ = doc
    return command


sla_cmd = _month_report_command(
    "sla_credits",
    "evaluating SLAs",
    "SLA evaluation of every contract line with an uptime commitment, and the credit it owes (integer minor units in CSV/JSON).",
)
risk_cmd = _month_report_command(
    "accounts_at_risk",
    "scoring accounts",
    "At-risk accounts: a churn-risk score per customer with its reasons (uptime, utilization, SLA, telemetry).",
)


@nevi_app.command("export")
def nevi_export_cmd(
    ctx: typer.Context,
    quarter: Annotated[str, typer.Option(help="Quarter YYYYQn, e.g. 2025Q4.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the three files.")] = Path("nevi"),
    as_of: AsOfOpt = None,
    offline_after: OfflineOpt = OFFLINE_MIN,
    fmt: FormatOpt = OutFormat.csv,
) -> None:
    """Write the quarter's sessions, uptime and outages in EV Charging Use Data Specification fields (csv or json).

    Every record is validated against the specification's JSON Schemas first;
    prints what was written.
    """
    from evrevops.query import exports

    if fmt is OutFormat.table:
        raise fail("--format must be csv or json for the files")
    try:
        first = exports.quarter_first(quarter)
    except ValueError as exc:
        raise fail(f"--quarter: {exc}") from None
    in_years(first, "--quarter", quarter, "a quarter YYYYQn")
    if out_dir.exists() and not out_dir.is_dir():
        raise fail(f"--out {out_dir} is a file; give a folder for the three files")
    horizon = as_of_instant(as_of)
    wh = ctx.obj.warehouse(read_only=True)
    try:
        with busy(f"exporting NEVI data for {quarter}"):
            written = exports.nevi(wh, quarter, out_dir, fmt.value, as_of=horizon, offline_after_s=offline_after * 60)
    except ValueError as exc:
        raise fail(str(exc)) from None
    render(written, OutFormat.table)
