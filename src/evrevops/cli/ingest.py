"""Ingest files into the warehouse, and keep what metrics read current: ``ingest``, ``refresh``."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.text import Text

from evrevops.cli.errors import busy, error, fail, one_line
from evrevops.cli.options import finite, instant_opt
from evrevops.cli.render import OutFormat, err, progress_bar, render
from evrevops.core.vocabulary import INGEST_STATUSES

if TYPE_CHECKING:
    from evrevops.formats import limits as flimits
    from evrevops.warehouse.db import Warehouse
    from evrevops.warehouse.ledger import IngestResult


def _check_mapping(mapping: str, input_format: str | None) -> None:
    """An unknown ``--mapping`` (or one the format does not take) fails before any file is read, naming the known."""
    from evrevops.query import catalog

    mapped = catalog.MAPPED_FORMATS
    if input_format is not None and input_format not in mapped:
        raise fail(f"--mapping applies to {', '.join(mapped)}, not to --format {input_format}")
    problems = []
    for name in [input_format] if input_format else mapped:
        try:
            catalog.check_mapping(name, mapping)
            return
        except (ValueError, OSError) as exc:
            problems.append((name, exc))
    if input_format:  # the format's own message names the known mappings
        raise fail(f"--mapping: {problems[0][1]}")
    raise fail(f"--mapping: {catalog.unknown_mapping(mapping)}; see `evrevops formats`")


def _limits(
    earliest: str | None,
    latest: str | None,
    max_power_kw: float | None,
    max_line_mib: float | None,
    max_decompressed_gib: float | None,
) -> flimits.Limits:
    """The plausibility limits of this ingest: the defaults, with what the options change."""
    from evrevops.formats import limits as flimits

    changes: dict = {}
    if earliest is not None:
        changes["earliest"] = instant_opt(earliest, "--earliest")
    if latest is not None:
        t = instant_opt(latest, "--latest")
        # a bare date is its whole day (the last plausible instant is the day's end)
        changes["latest"] = t + dt.timedelta(days=1, microseconds=-1) if len(latest.strip()) == 10 else t
    if finite(max_power_kw, "--max-power-kw", 0, 1_000_000, above=True) is not None:
        changes["max_power_kw"] = float(max_power_kw)
    for opt, value, unit, key in (
        ("--max-line-mib", max_line_mib, flimits.MiB, "max_line_bytes"),
        ("--max-decompressed-gib", max_decompressed_gib, flimits.GiB, "max_decompressed_bytes"),
    ):
        if finite(value, opt, 0, 1 << 16, above=True) is not None:
            changes[key] = int(value * unit)
            if changes[key] < 1:
                raise fail(f"{opt} must be at least one byte, not {value!r}")
    try:
        return dataclasses.replace(flimits.Limits(), **changes)
    except ValueError as exc:  # e.g. --latest before --earliest
        raise fail(f"{exc} (see --earliest/--latest)") from None


_INGEST_COLUMNS = ["path", "format", "mapping", "records_read", "accepted", "duplicate", "quarantined", "replaced",
                   "status", "file_id", "seconds", "reason"]  # fmt: skip


def _failed_row(path: Path, reason: str) -> dict:
    """The report row of a file that could not be ingested."""
    row: dict = dict.fromkeys(_INGEST_COLUMNS)
    row.update(path=str(path), status="failed", reason=reason)
    return row


def _reason(exc: BaseException) -> str:
    """Why a file failed, on one line: a FormatError names its file already; other errors get their type."""
    from evrevops.formats.base import FormatError

    if isinstance(exc, FormatError):
        return one_line(exc)
    text = one_line(exc)
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _ingest_file() -> Callable[..., IngestResult]:
    """The loader's ``ingest_file``, looked up on :mod:`evrevops.cli` when a file is read (a test replaces it there
    to make one file fail)."""
    import evrevops.cli

    return evrevops.cli.ingest_file


def _rollback(wh: Warehouse) -> None:
    """End a transaction a failed file may have left open, so the next file starts clean."""
    with contextlib.suppress(Exception):  # no transaction open is the usual case
        wh.con.execute("ROLLBACK")


def _load_one(wh: Warehouse, f: Path, input_format: str | None, mapping: str | None, force: bool) -> tuple[dict, bool]:
    """Ingest one file: its report row, and whether it loaded (committed or unchanged). One file's failure
    (unreadable, undecodable, too deep, out of memory or disk, a bug) is reported and skipped: the others still
    load."""
    from evrevops import refresh as krefresh
    from evrevops.formats.base import FormatError

    try:
        r = _ingest_file()(wh, f, input_format, mapping, force=force, rebuild_from=krefresh.rebuild_from).as_dict()
    except Exception as exc:  # noqa: BLE001 - every failure is reported per file
        _rollback(wh)
        reason = _reason(exc)
        error(reason if isinstance(exc, FormatError) else f"{f}: {reason}")
        return _failed_row(f, reason), False
    for note in r.get("notes") or []:
        err.print(Text.assemble(("note:", "yellow"), " ", one_line(f"{f.name}: {note}")))
    if r.get("status") not in INGEST_STATUSES:  # e.g. refused, with its reason
        error(f"{f}: {r.get('status')}" + (f": {r['reason']}" if r.get("reason") else ""))
        return r, False
    return r, True


PathsArg = Annotated[list[Path], typer.Argument(help="Files or directories to ingest.")]
InputFormatOpt = Annotated[
    str | None, typer.Option("--format", help="Input format (default: detected); see `evrevops formats`.")
]
MappingOpt = Annotated[
    str | None,
    typer.Option("--mapping", help="Mapping for a session CSV export or a status log (see `evrevops formats`)."),
]
ReportOpt = Annotated[OutFormat, typer.Option("--output", "-o", help="Report format: table, csv or json.")]
KeepOpt = Annotated[
    bool,
    typer.Option(
        "--keep/--no-keep",
        help="After loading, keep the facts, uptime and bills metrics read (default); "
        "--no-keep for a batch of ingests, then `evrevops refresh` once.",
    ),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Re-read files already ingested, forgetting their earlier ingest.")
]
EarliestOpt = Annotated[
    str | None,
    typer.Option(
        "--earliest",
        help="First plausible date or instant (UTC), YYYY-MM-DD[THH:MM]; records before it are quarantined "
        "(default 2000-01-01: a charger clock reset to 1970 is caught).",
    ),
]
LatestOpt = Annotated[
    str | None,
    typer.Option(
        "--latest",
        help="Last plausible date (the whole day) or instant (UTC); records after it are quarantined "
        "(default: one day after now).",
    ),
]
MaxPowerOpt = Annotated[
    float | None,
    typer.Option(
        "--max-power-kw", help="Largest plausible power at one port \\[kW] (default 4000; at most 1,000,000)."
    ),
]
MaxLineOpt = Annotated[
    float | None,
    typer.Option("--max-line-mib", help="Longest line of a text file [MiB] (default 64; at most 65,536)."),
]
MaxDecompressedOpt = Annotated[
    float | None,
    typer.Option(
        "--max-decompressed-gib",
        help="Largest size of a .gz file once decompressed [GiB] (default 16; at most 65,536).",
    ),
]


def ingest(
    ctx: typer.Context,
    paths: PathsArg,
    input_format: InputFormatOpt = None,
    mapping: MappingOpt = None,
    output: ReportOpt = OutFormat.table,
    keep: KeepOpt = True,
    force: ForceOpt = False,
    earliest: EarliestOpt = None,
    latest: LatestOpt = None,
    max_power_kw: MaxPowerOpt = None,
    max_line_mib: MaxLineOpt = None,
    max_decompressed_gib: MaxDecompressedOpt = None,
) -> None:
    """Ingest standard-format files (OCPI, OCPP, URDB, CSV exports) into the warehouse.

    Each file is one transaction; re-ingesting a file changes nothing (--force reads it again);
    bad records go to quarantine, with records outside the plausibility limits
    (--earliest/--latest/--max-power-kw/...). Prints read = accepted + duplicate + quarantined.
    A file that cannot be read is reported and skipped; the others are loaded, and the exit
    code is 1. Then the port-day facts, uptime and site-month bills are rebuilt and kept
    for the metrics (metrics compute them on the fly while they are not).
    """
    from evrevops.formats import limits as flimits

    _check_format(input_format, mapping)
    lim = _limits(earliest, latest, max_power_kw, max_line_mib, max_decompressed_gib)
    files = _input_files(paths)
    wh = ctx.obj.warehouse()
    with flimits.using(lim):
        results, failed = _load_all(wh, files, input_format, mapping, force)
    loaded = [r for r in results if r["status"] != "failed"]
    # even when nothing was accepted: a ledger entry (a file whose records all went to quarantine) changes the
    # ledger the kept tables are stamped with, and the refresh, finding nothing changed, stamps them current
    if keep and loaded:
        refresh_kept(wh)
    wh.close()
    _report(results, loaded, output, f"ingest into {ctx.obj.db}")
    if failed:
        err.print(Text(f"{failed} file{'s' if failed != 1 else ''} failed", style="red"))
        raise typer.Exit(1)


def _check_format(input_format: str | None, mapping: str | None) -> None:
    """A ``--format`` that names no format, or a ``--mapping`` it does not take, fails before any file is read."""
    from evrevops.query import catalog

    if input_format is not None:
        try:
            catalog.check_format(input_format)
        except ValueError as exc:
            raise fail(f"--format: {exc}; see `evrevops formats`") from None
    if mapping is not None:
        _check_mapping(mapping, input_format)


def _input_files(paths: list[Path]) -> list[Path]:
    """The files the paths name (a directory's files), or a clear error when one is missing or there are none."""
    from evrevops import formats as fmts

    try:
        files = fmts.input_files(paths)
    except OSError as exc:
        raise fail(f"cannot list the input files: {_reason(exc)}") from None
    missing = [p for p in files if not p.exists()]
    if missing:
        raise fail(f"no such file: {missing[0]}")
    if not files:
        raise fail("no input files found")
    return files


def _load_all(
    wh: Warehouse, files: list[Path], input_format: str | None, mapping: str | None, force: bool
) -> tuple[list[dict], int]:
    """Ingest each file in turn under a progress bar on stderr: the report rows, and how many files failed."""
    results: list[dict] = []
    failed = 0
    with progress_bar() as prog:
        task = prog.add_task("ingesting", total=len(files))
        for f in files:
            prog.update(task, description=f"ingesting {f.name}")
            row, ok = _load_one(wh, f, input_format, mapping, force)
            results.append(row)
            failed += not ok
            prog.advance(task)
    return results, failed


def _report(results: list[dict], loaded: list[dict], output: OutFormat, title: str) -> None:
    """The report, a row per file (a table drops the reason column when no file has one); with a table, the
    totals of the files loaded on stderr."""
    from evrevops.query import ledger as qledger

    rows = [
        {c: (round(r[c], 3) if c == "seconds" and r.get(c) is not None else r.get(c)) for c in _INGEST_COLUMNS}
        for r in results
    ]
    if output is OutFormat.table and not any(r["reason"] for r in rows):
        rows = [{k: v for k, v in r.items() if k != "reason"} for r in rows]
    show = ["path", "status", "records_read", "accepted", "duplicate", "quarantined", "reason"]
    render(rows, output, title=title, show=show)
    if output is OutFormat.table:
        t = qledger.ingest_totals(loaded)
        err.print(
            f"read {t.records_read:,} = accepted {t.accepted:,} + duplicate {t.duplicate:,} + quarantined {t.quarantined:,}"
        )


def _since(r: dict) -> str:
    """What a kept step rebuilt: its months from the first one rebuilt (or that nothing changed)."""
    start = r.get("rebuilt_from")
    first = r.get("first_month") or r.get("first_day")
    if start is None:
        return "nothing changed"
    return "every month" if start == first else f"from {start:%Y-%m} on"


def refresh_kept(wh: Warehouse) -> None:
    """Keep the port-day facts, site-month bills and month-close measures current after a write (metrics read
    them while they are); only the months the write can change are rebuilt."""
    from evrevops import refresh as krefresh

    r = krefresh.refresh_kept(wh, step=busy)
    f = r["facts"]
    err.print(f"kept {f['port_days']:,} port-day facts ({_since(f)}) in {f['seconds']:.1f} s")
    if r["bills"] is not None:
        b = r["bills"]
        err.print(f"kept {b['bills']:,} site-month bills ({_since(b)}) in {b['seconds']:.1f} s")
    else:  # metrics will say so
        err.print(f"[yellow]warning:[/yellow] site-month bills not kept: {escape(one_line(r['bills_error']))}")
    c = r["close"]
    if c["site_months"]:
        err.print(
            f"kept the month-close measures of {c['site_months']:,} site-months ({_since(c)}) in {c['seconds']:.1f} s"
        )


def refresh(ctx: typer.Context) -> None:
    """Bring the port-day facts, uptime, site-month bills and month-close measures kept for metrics up to date (as
    ingest does after loading): the months the ingests since can change, or every month when nothing is kept."""
    wh = ctx.obj.warehouse()
    refresh_kept(wh)
    wh.close()
