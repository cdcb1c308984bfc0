"""Sites and ports: ``sites`` (``list``, ``set-tariff``), ``ports`` (``history``, ``conflicts``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evrevops.cli.errors import fail
from evrevops.cli.ingest import refresh_kept
from evrevops.cli.options import (
    FormatOpt,
    date_opt,
)
from evrevops.cli.render import OutFormat, err, render, stdout

sites_app = typer.Typer(
    help="Sites: list them, write the sites CSV template to complete, set a site's utility tariff.",
    no_args_is_help=True,
)
ports_app = typer.Typer(help="Ports: where each one was when, and evidence that disagrees.", no_args_is_help=True)


@sites_app.command("list")
def sites_list(ctx: typer.Context, fmt: FormatOpt = OutFormat.table) -> None:
    """List sites with their segment, time zone and utility tariff."""
    from evrevops.query import sites as qsites

    wh = ctx.obj.warehouse(read_only=True)
    result = qsites.sites(wh)
    render(result, fmt, title=result.title)


@sites_app.command("template")
def sites_template(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The sites CSV to write (its folder is made if missing).")],
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Write the sites CSV of the sites and ports the warehouse knows, to complete and ingest back.

    One row per port at each site (a site without ports: one row without a port), every column filled with what
    the warehouse knows (a site's segment, tariff ... as they are now) and empty where it knows nothing: fill
    segment, time zone, customer, rated power, commissioning dates, charger_id/connector_id (which link OCPP
    telemetry to the port) ..., then `evrevops ingest FILE`. Unchanged, the file ingests as duplicates. Values are
    written as they are (no spreadsheet-formula guard, unlike --format csv). --format shows the columns still
    empty: how many rows leave each empty, and whether the sites CSV requires it.
    """
    import csv

    from evrevops.cli.render import records
    from evrevops.query import sites as qsites

    result = qsites.template(ctx.obj.warehouse(read_only=True))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=result.column_names, lineterminator="\n")
            w.writeheader()
            w.writerows(records(result.table))
    except OSError as exc:
        raise fail(f"--out: cannot write {out}: {exc.strerror or exc}") from None
    sites = len(set(result.table.column("site_id").to_pylist()))
    ports = result.table.column("port_id").drop_null().unique()
    err.print(f"wrote {out}: {result.num_rows} rows ({sites} sites, {len(ports)} ports)", markup=False, highlight=False)
    gaps = qsites.template_gaps(result)
    if not result.num_rows and fmt is OutFormat.table:
        stdout().print("the warehouse has no sites yet: the file is the header only; fill a row per port")
    elif not gaps.num_rows and fmt is OutFormat.table:
        stdout().print("every column is filled; edit what has changed and ingest the file")
    else:
        render(gaps, fmt, title=gaps.title)


@sites_app.command("set-tariff")
def sites_set_tariff(
    ctx: typer.Context,
    site: Annotated[str, typer.Argument(help="Site id.")],
    tariff: Annotated[str, typer.Argument(help="A utility_tariff_id in the warehouse (URDB label).")],
    from_on: Annotated[
        str | None,
        typer.Option(
            "--from", help="Local date YYYY-MM-DD the tariff takes effect (default: the first day of this month)."
        ),
    ] = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Put a site on a utility tariff from a date (recorded in the ingest ledger like a one-record file).

    Months before the date keep their bills: the site is billed under its earlier tariff up to it.
    """
    from evrevops.warehouse.site_tariff import set_site_tariff

    wh = ctx.obj.warehouse()
    try:
        row = set_site_tariff(wh, site, tariff, date_opt(from_on, "--from") if from_on else None)
    except ValueError as exc:
        raise fail(str(exc)) from None
    refresh_kept(wh)
    render([row], fmt, title="site tariff set")


@ports_app.command("history")
def ports_history(
    ctx: typer.Context,
    port: Annotated[str, typer.Argument(help="Port id (OCPI EVSE uid).")],
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Where a port was when: each site with its dates, the sessions there and the evidence.

    Sessions count where their CDR says; open hours count at the site the port was at that day.
    """
    from evrevops.query import sites as qsites

    wh = ctx.obj.warehouse(read_only=True)
    try:
        found = qsites.port_history(wh, port)
    except ValueError as exc:  # an unknown port
        raise fail(str(exc)) from None
    render(found.history, fmt, title=found.history.title)
    if found.conflicts.num_rows and fmt is OutFormat.table:
        render(found.conflicts, fmt, title=found.conflicts.title)


@ports_app.command("conflicts")
def ports_conflicts(ctx: typer.Context, fmt: FormatOpt = OutFormat.table) -> None:
    """Every port that evidence puts at two sites at once: overlapping sessions, a feed, CSV windows."""
    from evrevops.query import sites as qsites

    wh = ctx.obj.warehouse(read_only=True)
    result = qsites.port_conflicts(wh)
    if not result.num_rows and fmt is OutFormat.table:
        stdout().print("no port is at two sites at once")
        return
    render(result, fmt, title=result.title)
