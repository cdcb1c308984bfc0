"""Registry metrics: ``metrics`` (``list``, ``explain``, ``docs``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from evrevops.cli.errors import busy, fail, unknown
from evrevops.cli.options import (
    EngineOpt,
    ExportOpt,
    FormatOpt,
    MasterOpt,
    date_range,
    engine_warehouse,
)
from evrevops.cli.render import OutFormat, err, render, stdout
from evrevops.core.vocabulary import GRAINS, PERIODS

metrics_app = typer.Typer(
    help="Compute registry metrics by grain and period; see `metrics list`, `metrics explain`.",
    invoke_without_command=True,
)


@metrics_app.callback()
def metrics_cmd(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option(help="Month YYYY-MM (default: last full month of data).")] = None,
    day: Annotated[str | None, typer.Option(help="A single local date YYYY-MM-DD.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First local date YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last local date YYYY-MM-DD.")] = None,
    by: Annotated[str, typer.Option(help=f"Grain: {', '.join(GRAINS)}.")] = "network",
    period: Annotated[str, typer.Option(help=f"Period: {', '.join(PERIODS)}.")] = "month",
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="Metric name (repeatable; default all).")
    ] = None,
    engine: EngineOpt = "duckdb",
    export: ExportOpt = None,
    master: MasterOpt = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Compute metrics, e.g. `evrevops metrics --month 2025-06 --by site --format json`.

    `--engine spark://host:port --export DIR` (or `--engine spark` for a local session) runs the
    same Ibis expressions and SQL on Spark, over the Parquet export of `evrevops export`.
    """
    if ctx.invoked_subcommand is not None:
        return
    from evrevops.query import catalog
    from evrevops.query import metrics as qmetrics

    if by not in GRAINS:
        raise unknown(by, GRAINS, "grain", lead="use one of")
    if period not in PERIODS:
        raise unknown(period, PERIODS, "period", lead="use one of")
    for m in metric or []:
        if not catalog.is_metric(m):
            raise unknown(m, catalog.metric_names(), "metric", "see `evrevops metrics list`")
    wh = engine_warehouse(ctx, engine, export, master)
    lo, hi = date_range(month, day, start, end, wh)
    with busy(f"computing metrics by {by} for {lo} … {hi} on {wh.engine}"):
        try:
            result = qmetrics.metrics(wh, by, period, lo, hi, metric)
        except ValueError as exc:
            raise fail(str(exc)) from None
    render(result, fmt, title=result.title)
    if engine == "duckdb":
        from evrevops.cli.uptime import coverage_warning

        coverage_warning(wh, lo, hi, qmetrics.sources_of(metric))


@metrics_app.command("list")
def metrics_list(fmt: FormatOpt = OutFormat.table) -> None:
    """List every metric in the registry."""
    from evrevops.query import catalog

    result = catalog.metrics()
    render(result, fmt, title=result.title)


@metrics_app.command("explain")
def metrics_explain(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Metric name.")],
    by: Annotated[str, typer.Option(help=f"Grain: {', '.join(GRAINS)}.")] = "network",
    period: Annotated[str, typer.Option(help=f"Period: {', '.join(PERIODS)}.")] = "month",
    dialect: Annotated[
        str | None, typer.Option(help="SQL dialect (default: the warehouse's, DuckDB; e.g. pyspark).")
    ] = None,
) -> None:
    """Show a metric's declaration and the SQL that computes it."""
    from evrevops.query import catalog

    if not catalog.is_metric(name):
        raise unknown(name, catalog.metric_names(), "metric", "see `evrevops metrics list`")
    if by not in GRAINS:
        raise unknown(by, GRAINS, "grain", lead="use one of")
    if period not in PERIODS:
        raise unknown(period, PERIODS, "period", lead="use one of")
    try:
        m = catalog.explain_metric(name, by=by, period=period, dialect=dialect)
    except ValueError as exc:
        hint = "; e.g. --dialect duckdb, spark or pyspark" if dialect and "dialect" in str(exc).lower() else ""
        raise fail(f"{exc}{hint}") from None
    read = (
        f"read from: for whole months after an ingest, the view {m.close_view} (this expression, run on the "
        "month-close measures kept then); for other ranges, another --as-of or --offline-after, or a warehouse "
        "changed since, this SQL runs on the kept facts or the sessions\n"
        if m.close_view
        else "read from: this SQL, on the kept port-day facts after an ingest, or on the sessions\n"
    )
    stdout().print(
        f"[bold]{m.name}[/bold] — {m.label} \\[{m.unit}]\nformula: {m.formula}\ngrains: {', '.join(m.grains)}\nsource: {m.source}\n{m.description}\n"
    )
    stdout().print(read, markup=False, highlight=False)
    sys.stdout.write(m.sql + "\n")


@metrics_app.command("docs")
def metrics_docs(
    path: Annotated[Path, typer.Option("--out", help="Where to write the Markdown.")] = Path("docs/metrics.md"),
    check: Annotated[bool, typer.Option(help="Only check that the file is current (exit 1 if not).")] = False,
) -> None:
    """Generate docs/metrics.md from the registry."""
    from evrevops.query import catalog

    if path.is_dir():
        raise fail(f"--out {path} is a directory; give the Markdown file to write")
    text = catalog.metrics_markdown()
    if check:
        if not path.exists() or path.read_text() != text:
            raise fail(f"{path} is out of date; run `evrevops metrics docs`", 1)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    err.print(Text(f"wrote {path}"))
