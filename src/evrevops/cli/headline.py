"""``headline``: the network headline for a month, then the same by segment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from evrevops.cli.errors import busy
from evrevops.cli.options import (
    FormatOpt,
    month_first,
)
from evrevops.cli.render import OutFormat, err, records, render, stdout
from evrevops.cli.uptime import coverage_warning


def headline(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option(help="Month YYYY-MM (default: last full month of data).")] = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """The network headline for a month, then the same by segment."""
    from evrevops.query import metrics as qmetrics

    wh = ctx.obj.warehouse(read_only=True)
    lo = month_first(wh, month)
    with busy(f"computing the headline for {lo:%Y-%m}"):
        result = qmetrics.headline(wh, lo)
    if fmt is not OutFormat.table:
        render(result.combined(), fmt)
        coverage_warning(wh, lo, None, ("sessions", "telemetry"))
        return
    # One column per scope (network, then each segment), one row per metric: fits a terminal.
    scopes = [("network", r) for r in records(result.network.table)]
    scopes += [(r["segment"] or "(none)", r) for r in records(result.segments.table)]
    t = Table(title=Text(f"headline {lo:%Y-%m} ({', '.join(result.currencies)})"))
    t.add_column("metric")
    for name, _ in scopes:
        t.add_column(Text(str(name)), justify="right")
    for m in result.metric_names:
        t.add_row(m, *[_headline_cell(r.get(m)) for _, r in scopes])
    stdout().print(t)
    err.print(Text(f"warehouse: {Path(ctx.obj.db).resolve()}"))
    coverage_warning(wh, lo, None, ("sessions", "telemetry"))


def _headline_cell(v: object) -> str:
    """A headline figure: a float of 100 or more to one place, a smaller one to four, an integer with separators."""
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 100 else f"{v:,.4f}"
    return f"{v:,}"
