"""``coverage``: what each site's sessions, telemetry, contracts and CRM data cover; ``--unlinked`` telemetry."""

from __future__ import annotations

from typing import Annotated

import typer

from evrevops.cli.errors import busy, fail
from evrevops.cli.options import OFFLINE_MIN, AsOfOpt, FormatOpt, OfflineOpt, as_of_instant, date_range
from evrevops.cli.render import OutFormat, err, render


def coverage(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option(help="Month YYYY-MM (default: last full month of data).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First local date YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last local date YYYY-MM-DD.")] = None,
    site: Annotated[list[str] | None, typer.Option("--site", help="Only these sites (repeatable).")] = None,
    unlinked: Annotated[
        bool,
        typer.Option("--unlinked", help="List the telemetry (OCPP charge points, feed chargers) no port links to."),
    ] = False,
    as_of: AsOfOpt = None,
    offline_after: OfflineOpt = OFFLINE_MIN,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """What the data covers per site and source (sessions, telemetry, contracts, CRM) for a period: first and last
    evidence, records, covered / partial / outside / no data, and the telemetry's feed gaps (every port of a site
    without data for longer than --offline-after).

    Reports show a site and period a source does not cover as no data, never 0 % or 100 %.
    `--unlinked` lists OCPP charge points and connectors that no OCPI EVSE or sites-CSV row links to, with the fix.
    """
    from evrevops.query import coverage as qcoverage

    wh = ctx.obj.warehouse(read_only=True)
    if unlinked:
        result = qcoverage.unlinked(wh)
        render(result, fmt, title=result.title)
        return
    if not (month or start or end):
        from evrevops.query import period as qperiod

        if qperiod.last_full_month(wh) is None:
            raise fail(
                "no sessions or telemetry to take the default month from; give --month YYYY-MM or --from/--to "
                "(contracts and CRM are dated by their own evidence)"
            )
    lo, hi = date_range(month, None, start, end, wh)
    with busy(f"checking coverage for {lo} … {hi}"):
        result = qcoverage.coverage(
            wh, lo, hi, sites=site, as_of=as_of_instant(as_of), offline_after_s=offline_after * 60
        )
    if result.num_rows == 0:
        err.print("no sites in the warehouse" + (" with those ids" if site else ""))
        return
    render(result, fmt, title=result.title)
