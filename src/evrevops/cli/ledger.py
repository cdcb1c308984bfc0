"""The warehouse and its ledger: ``export``, ``formats``, ``ledger`` (``forget``), ``quarantine``, ``status``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from evrevops.cli.errors import busy, fail
from evrevops.cli.ingest import refresh_kept
from evrevops.cli.options import (
    FormatOpt,
)
from evrevops.cli.render import OutFormat, err, render

ledger_app = typer.Typer(
    help="The ingest ledger: every file ingested, with its counts; `ledger forget FILE_ID` undoes an ingest.",
    invoke_without_command=True,
)


def export_cmd(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the Parquet files and manifest.json into.")],
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Export every warehouse table to Parquet (with a manifest), for Spark and other engines to read."""
    from evrevops.query import exports

    if out_dir.exists() and not out_dir.is_dir():
        raise fail(f"--out {out_dir} is a file; give a folder for the Parquet files")
    wh = ctx.obj.warehouse(read_only=True)
    with busy(f"exporting to {out_dir}"):
        result = exports.parquet(wh, out_dir)
    render(result, fmt, title=result.title)


def formats_cmd(fmt: FormatOpt = OutFormat.table) -> None:
    """List the input formats ingest understands."""
    from evrevops.query import catalog

    result = catalog.input_formats()
    render(result, fmt, title=result.title)


@ledger_app.callback()
def ledger(ctx: typer.Context, fmt: FormatOpt = OutFormat.table) -> None:
    """Show the ingest ledger: every file ingested, with its counts; `evrevops ledger forget FILE_ID` undoes one."""
    if ctx.invoked_subcommand is not None:
        return
    from evrevops.query import ledger as qledger
    from evrevops.query import quarantine as qquarantine

    wh = ctx.obj.warehouse(read_only=True)
    result = qledger.ledger(wh)
    render(result, fmt, title=result.title)
    note = quarantine_note(qquarantine.quarantine_counts(wh))
    if note:
        err.print(Text(note))


@ledger_app.command("forget")
def ledger_forget(
    ctx: typer.Context,
    file_id: Annotated[int, typer.Argument(min=1, help="The ledger entry (file_id of `evrevops ledger`).")],
    keep: Annotated[
        bool,
        typer.Option(
            "--keep/--no-keep", help="Then keep the facts, uptime and bills current (default), as ingest does."
        ),
    ] = True,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Forget an ingest: remove the rows and quarantined records a ledger entry loaded.

    The entry stays in the ledger and a new entry records the forget; the file can then be
    ingested again (e.g. with the right --format). Rows of earlier files the entry replaced are
    not restored (counted in replaced_not_restored: re-ingest those files with --force).
    """
    from evrevops import refresh
    from evrevops.warehouse.forget import forget_file

    wh = ctx.obj.warehouse()
    try:
        r = forget_file(wh, file_id, rebuild_from=refresh.rebuild_from)
    except ValueError as exc:  # unknown, or forgotten already
        raise fail(str(exc) if "evrevops ledger" in str(exc) else f"{exc}; see `evrevops ledger`") from None
    render([r], fmt, title=f"forgot ledger entry {file_id}")
    err.print(
        Text(
            f"forgot {r['path']}: removed {r['rows_removed']:,} rows and {r['quarantine_removed']:,} quarantined "
            f"records (recorded as ledger entry {r['ledger_file_id']})"
            + (
                f"; {r['replaced_not_restored']:,} rows it replaced are not restored (ingest their files with --force)"
                if r["replaced_not_restored"]
                else ""
            )
        )
    )
    if keep:
        refresh_kept(wh)


def quarantine(
    ctx: typer.Context,
    file_id: Annotated[int | None, typer.Option("--file-id", min=1, help="Only this ledger entry.")] = None,
    file: Annotated[
        str | None, typer.Option("--file", help="Only files whose path contains this (as `evrevops ledger` shows it).")
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Only reasons that contain this (or whose pattern in --summary does)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=0, help="Rows a page at most; 0: every row.")] = 50,
    offset: Annotated[int | None, typer.Option(min=0, help="Rows to skip first.")] = None,
    page: Annotated[int | None, typer.Option(min=1, help="Page K of --limit rows (instead of --offset).")] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="Counts by file and reason (numbers and quoted values taken out).")
    ] = False,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Show quarantined records: file, line/record, field and reason, one row per field at fault.

    A page at a time (--limit, --page or --offset); stderr says which rows of how many are
    shown and how to get the next page. --summary counts them by file and reason instead.
    """
    from evrevops.query import quarantine as qquarantine

    if offset is not None and page is not None:
        raise fail("give --page or --offset, not both")
    wh = ctx.obj.warehouse(read_only=True)
    if summary:
        result = qquarantine.quarantine_summary(wh, file_id, file=file, reason=reason)
        render(result, fmt, title=result.title)
        counts = qquarantine.quarantine_page(wh, file_id, 0, file=file, reason=reason)
        err.print(Text(f"in all {_of(counts)}"))
        return
    start = offset if offset is not None else (page - 1) * limit if page is not None else 0
    shown = qquarantine.quarantine_page(wh, file_id, limit or None, file=file, reason=reason, offset=start)
    render(shown.result, fmt, title=shown.result.title)
    if shown.total_rows or shown.filters or start:  # an empty quarantine: the renderer says "no rows"
        err.print(Text(_page_note(shown, limit)))


def _of(shown) -> str:
    """How many rows and records a quarantine listing is of, and its filters, in parentheses."""
    return (
        f"{shown.total_rows:,} rows ({shown.total_records:,} quarantined records, a row per field at fault"
        + "".join(f"; {w}" for w in shown.filters)
        + ")"
    )


def _page_note(shown, limit: int) -> str:
    """Which rows of how many a quarantine page shows, and how to see the next."""
    if shown.total_rows == 0:
        return "no quarantined records" + (f" match {', '.join(shown.filters)}" if shown.filters else "")
    if not shown.result.num_rows:
        return f"no rows from row {shown.offset + 1:,} on: there are {_of(shown)}"
    note = f"showing rows {shown.first:,}–{shown.last:,} of {_of(shown)}"
    if shown.more:
        nxt = f"--page {shown.offset // limit + 2}" if limit and shown.offset % limit == 0 else f"--offset {shown.last}"
        note += f"; {nxt} for more, --summary for counts by file and reason"
    return note


def status(ctx: typer.Context, fmt: FormatOpt = OutFormat.table) -> None:
    """Warehouse summary: file, schema version, row counts, data range and gaps."""
    from evrevops.query import ledger as qledger
    from evrevops.query import quarantine as qquarantine

    wh = ctx.obj.warehouse(read_only=True)
    render(qledger.status(wh), fmt, title=f"warehouse {ctx.obj.db}")
    note = quarantine_note(qquarantine.quarantine_counts(wh))
    if note:
        err.print(Text("rows.quarantine: " + note))


def quarantine_note(counts) -> str:
    """How the ledger's quarantined records and the quarantine's rows meet (empty when both are 0)."""
    if not (counts.ledger_total or counts.rows):
        return ""
    note = (
        f"{counts.ledger_live:,} records quarantined (the ledger's quarantined, entries not forgotten); "
        f"the quarantine holds {counts.records:,} records in {counts.rows:,} rows, a row per field at fault"
    )
    if counts.ledger_forgotten:
        note += f"; {counts.ledger_forgotten:,} more in forgotten entries, whose quarantine rows the forget removed"
    if counts.records != counts.ledger_live:
        note += f"; the ledger counts {counts.ledger_live - counts.records:+,} records more than the quarantine holds"
    return note + " (`evrevops quarantine --summary`)"
