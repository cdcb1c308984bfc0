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

    wh = ctx.obj.warehouse(read_only=True)
    result = qledger.ledger(wh)
    render(result, fmt, title=result.title)


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
    limit: Annotated[int, typer.Option(min=0, help="Rows at most.")] = 200,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Show quarantined records: file, line/record, field and reason."""
    from evrevops.query import ledger as qledger

    wh = ctx.obj.warehouse(read_only=True)
    result = qledger.quarantine(wh, file_id, limit)
    render(result, fmt, title=result.title)


def status(ctx: typer.Context, fmt: FormatOpt = OutFormat.table) -> None:
    """Warehouse summary: file, schema version, row counts, data range and gaps."""
    from evrevops.query import ledger as qledger

    wh = ctx.obj.warehouse(read_only=True)
    render(qledger.status(wh), fmt, title=f"warehouse {ctx.obj.db}")
