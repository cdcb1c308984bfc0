"""Sites and ports: ``sites`` (``list``, ``template``, ``set-tariff``), ``ports`` (``history``, ``conflicts``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evrevops.cli.errors import fail, unknown
from evrevops.cli.ingest import refresh_kept
from evrevops.cli.options import FormatOpt, SegmentOpt, SiteOpt, date_opt
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


_CSV_HELP = "A CSV with a header naming site_id and tariff_id (or utility_tariff_id): each site on its tariff."


@sites_app.command("set-tariff")
def sites_set_tariff(
    ctx: typer.Context,
    site: Annotated[str | None, typer.Argument(help="Site id (or give --site, --segment or --csv).")] = None,
    tariff: Annotated[
        str | None, typer.Argument(help="A utility_tariff_id in the warehouse (URDB label; `evrevops tariffs list`).")
    ] = None,
    sites: SiteOpt = None,
    segment: SegmentOpt = None,
    to_tariff: Annotated[
        str | None, typer.Option("--tariff", help="The tariff for --site/--segment (a utility_tariff_id).")
    ] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help=_CSV_HELP)] = None,
    from_on: Annotated[
        str | None,
        typer.Option(
            "--from", help="Local date YYYY-MM-DD the tariff takes effect (default: the first day of this month)."
        ),
    ] = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Put a site on a utility tariff from a date (recorded in the ingest ledger like a one-record file).

    Months before the date keep their bills: the site is billed under its earlier tariff up to it. Many sites in one
    call (one ledger entry, one refresh): `--tariff T` with `--site S` (repeatable) and/or `--segment SEG`, or
    `--csv FILE` of site_id,tariff_id rows.
    """
    day = date_opt(from_on, "--from") if from_on else None
    many = bool(sites or segment or to_tariff or csv_file)
    if not many:
        if site is None or tariff is None:
            raise fail("give SITE TARIFF, or --tariff T with --site/--segment, or --csv FILE")
        _set_one(ctx, site, tariff, day, fmt)
        return
    if site is not None or tariff is not None:
        raise fail("give SITE TARIFF, or --site/--segment/--csv, not both")
    if csv_file is not None and (sites or segment or to_tariff):
        raise fail("--csv names each site's tariff; it does not go with --site, --segment or --tariff")
    if csv_file is None and not (to_tariff and (sites or segment)):
        raise fail("--site and --segment need --tariff (the tariff to put the sites on)")
    _set_many(ctx, csv_file, sites or [], segment, to_tariff, day, fmt)


def _set_one(ctx: typer.Context, site: str, tariff: str, day, fmt: OutFormat) -> None:
    """The one-site form: :func:`~evrevops.warehouse.site_tariff.set_site_tariff`; an unknown name gets the known."""
    from evrevops.warehouse import status as wstatus
    from evrevops.warehouse.site_tariff import set_site_tariff

    wh = ctx.obj.warehouse()
    try:
        row = set_site_tariff(wh, site, tariff, day)
    except ValueError as exc:
        if str(exc).startswith("unknown site"):
            raise unknown(site, wstatus.site_ids(wh), "site", see="see `evrevops sites list`") from None
        if str(exc).startswith("unknown utility tariff"):
            known = [r[0] for r in wh.rows("SELECT utility_tariff_id FROM utility_tariffs ORDER BY 1")]
            raise unknown(tariff, known, "utility tariff", see="ingest its URDB record first") from None
        raise fail(str(exc)) from None
    refresh_kept(wh)
    render([row], fmt, title="site tariff set")


def _set_many(ctx, csv_file: Path | None, sites: list[str], segment: str | None, tariff: str | None, day, fmt) -> None:
    """Many sites on tariffs in one ledger entry and one refresh."""
    import pyarrow as pa

    from evrevops.warehouse import status as wstatus
    from evrevops.warehouse.site_tariff import UnknownNames, set_site_tariffs

    wh = ctx.obj.warehouse()
    named = list(sites)
    if csv_file is not None:
        changes = _read_changes(csv_file)
    else:
        if segment is not None:
            from evrevops.core.vocabulary import SEGMENTS

            if segment not in SEGMENTS:
                raise unknown(segment, SEGMENTS, "segment", lead="use one of")
            of_segment = wstatus.site_ids(wh, segment)
            if not of_segment:
                raise fail(f"--segment: no site is in segment {segment!r}")
            sites = [*sites, *of_segment]
        changes = pa.table({"site_id": pa.array(sites, pa.string()), "utility_tariff_id": [tariff] * len(sites)})
    try:
        done = set_site_tariffs(wh, changes, day, _command_line(csv_file, named, segment, tariff))
    except UnknownNames as exc:
        see = "see `evrevops sites list`" if exc.what == "site" else "see `evrevops tariffs list`"
        raise unknown(exc.names[0], exc.known, exc.what, see=f"{len(exc.names)} unknown in all; {see}") from None
    except ValueError as exc:
        raise fail(str(exc)) from None
    refresh_kept(wh)
    render(done, fmt, title=f"{done.num_rows} sites' tariff set")


def _command_line(csv_file: Path | None, sites: list[str], segment: str | None, tariff: str | None) -> str:
    """The call as the ledger records it (its ``path``)."""
    if csv_file is not None:
        return f"evrevops sites set-tariff --csv {csv_file}"
    picked = [*(f"--site {s}" for s in sites), *([f"--segment {segment}"] if segment else [])]
    return " ".join(["evrevops sites set-tariff", f"--tariff {tariff}", *picked])


def _read_changes(path: Path):
    """*path*'s site_id and tariff_id (or utility_tariff_id) columns, or a clear error."""
    import csv

    import pyarrow as pa

    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise fail(f"--csv: cannot read {path}: {exc}") from None
    col = next((c for c in ("tariff_id", "utility_tariff_id") if rows and c in rows[0]), None)
    if not rows or "site_id" not in rows[0] or col is None:
        raise fail(f"--csv: {path} needs a header with site_id and tariff_id (or utility_tariff_id), and rows")
    return pa.table(
        {
            "site_id": [(r["site_id"] or "").strip() or None for r in rows],
            "utility_tariff_id": [(r[col] or "").strip() or None for r in rows],
        }
    )


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
