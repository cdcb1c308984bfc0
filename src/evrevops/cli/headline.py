"""``headline``: the network headline for a month, then the same by segment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from evrevops.cli.errors import busy
from evrevops.cli.options import (
    FormatOpt,
    month_first,
)
from evrevops.cli.render import OutFormat, err, records, render
from evrevops.cli.tables import field_table
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
    scopes = [{**r, "scope": "network"} for r in records(result.network.table)]
    scopes += [{**r, "scope": r["segment"] or "(none)"} for r in records(result.segments.table)]
    units = {**result.network.units, **result.segments.units}
    field_table(scopes, ["currency", *result.metric_names], "scope", units, f"headline {lo:%Y-%m}", "metric")
    err.print(Text(f"warehouse: {Path(ctx.obj.db).resolve()}"))
    coverage_warning(wh, lo, None, ("sessions", "telemetry"))
