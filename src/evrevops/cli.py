"""``evrevops`` command line: a thin shell over the library.

Every data command takes ``--format table|csv|json``; JSON is an array of
records whose field names are the library's (the metric registry's for
metrics). Long work shows a progress bar on stderr.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import decimal
import io
import json
import math
import os
import re
import sys
import traceback
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from evrevops import formats as fmts
from evrevops.contracts import mrr as cmrr
from evrevops.contracts import revenue as crevenue
from evrevops.contracts import risk
from evrevops.core.calendar import month_range, months_between, next_month
from evrevops.core.money import minor_to_decimal
from evrevops.core.vocabulary import GRAINS, PERIODS
from evrevops.finance import cashflow as fcash
from evrevops.finance import compare as fcompare
from evrevops.finance import pnl as fpnl
from evrevops.finance import unit_economics as fue
from evrevops.forecast import hardware as fhardware
from evrevops.formats import limits as flimits
from evrevops.formats.base import FormatError
from evrevops.formats.crm import crm_mappings
from evrevops.formats.status_snapshots import status_mappings
from evrevops.metrics import compute as mc
from evrevops.metrics import docs as mdocs
from evrevops.metrics.registry import METRICS, UPTIME
from evrevops.pipeline import expansion as pexpansion
from evrevops.pipeline import funnel as pfunnel
from evrevops.pipeline import projects as pprojects
from evrevops.pipeline import snapshot as psnapshot
from evrevops.tariffs import repricing, site_bills
from evrevops.tariffs import whatif as wi
from evrevops.tariffs.billing import LINE_ITEMS
from evrevops.uptime import nevi_export, sla, telemetry
from evrevops.uptime import outages as uoutages
from evrevops.uptime.timeline import DEFAULT_OFFLINE_AFTER_S, data_span
from evrevops.uptime.timeline import last_full_month as telemetry_last_full_month
from evrevops.warehouse import port_sites
from evrevops.warehouse import status as wstatus
from evrevops.warehouse.db import Warehouse, WarehouseError, default_path
from evrevops.warehouse.loader import ingest_file, set_site_tariff

app = typer.Typer(
    help="evrevops: revenue operations for EV charging networks.\n\n"
    "An unexpected error prints one line and exits 1; its traceback goes to the error log, $EVREVOPS_LOG "
    "(default ~/.cache/evrevops/evrevops.log). Expected errors (a value out of range, an unknown name) exit 2.",
    no_args_is_help=True,
    add_completion=False,
)
metrics_app = typer.Typer(
    help="Compute registry metrics by grain and period; see `metrics list`, `metrics explain`.",
    invoke_without_command=True,
)
app.add_typer(metrics_app, name="metrics")
sites_app = typer.Typer(help="Sites: list them, set a site's utility tariff.", no_args_is_help=True)
app.add_typer(sites_app, name="sites")
ledger_app = typer.Typer(
    help="The ingest ledger: every file ingested, with its counts; `ledger forget FILE_ID` undoes an ingest.",
    invoke_without_command=True,
)
app.add_typer(ledger_app, name="ledger")
ports_app = typer.Typer(help="Ports: where each one was when, and evidence that disagrees.", no_args_is_help=True)
app.add_typer(ports_app, name="ports")
whatif_app = typer.Typer(
    help="What-ifs on energy margin: baseline and scenario side by side for a site or segment.", no_args_is_help=True
)
app.add_typer(whatif_app, name="whatif")
nevi_app = typer.Typer(help="NEVI reporting (23 CFR 680.112 / 680.116(b)).", no_args_is_help=True)
app.add_typer(nevi_app, name="nevi")
pipeline_app = typer.Typer(
    help="The sales and installation motion: open pipeline, funnel, win rates, projects, land and expand.",
    invoke_without_command=True,
)
app.add_typer(pipeline_app, name="pipeline")
forecast_app = typer.Typer(help="Forecasts of each revenue stream, with intervals and backtests.", no_args_is_help=True)
app.add_typer(forecast_app, name="forecast")
model_app = typer.Typer(
    help="Revenue models: the same site as hardware sale, CaaS and software only.", no_args_is_help=True
)
app.add_typer(model_app, name="model")

out = Console()
err = Console(stderr=True, soft_wrap=True)

# Options of the root command that outlive the callback (read by render).
_settings = {"csv_raw": False}


class OutFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


FormatOpt = Annotated[
    OutFormat,
    typer.Option(
        "--format",
        "-f",
        help="Output format: table, csv or json. CSV text cells that start with = + - @, a tab or a carriage "
        "return get a leading ' so a spreadsheet shows them instead of running them (see --csv-raw).",
    ),
]
SiteOpt = Annotated[list[str] | None, typer.Option("--site", help="Site id (repeatable).")]
SegmentOpt = Annotated[str | None, typer.Option("--segment", help="Every site of a segment.")]
MonthOpt = Annotated[str | None, typer.Option(help="Month YYYY-MM (default: last full month of data).")]
LastMonthOpt = Annotated[str | None, typer.Option("--to-month", help="Last month YYYY-MM of a longer period.")]

_DB_HINT = "--db names the warehouse's DuckDB file; default: $EVREVOPS_DB, else ./evrevops.duckdb"


class Ctx:
    def __init__(self, db: Path, root: typer.Context | None = None):
        self.db = db
        self.root = root

    def warehouse(self, read_only: bool = False) -> Warehouse:
        """Open the warehouse for this command; it is closed when the command ends."""
        if self.db.is_dir():
            raise _fail(f"warehouse {self.db} is a directory; {_DB_HINT}")
        try:
            wh = Warehouse(self.db, read_only=read_only and self.db.exists())
        except WarehouseError as exc:
            raise _fail(f"{exc}; {_DB_HINT}") from None
        if self.root is not None:
            self.root.call_on_close(wh.close)
        return wh


@app.callback()
def main_callback(
    ctx: typer.Context,
    db: Annotated[
        Path | None, typer.Option("--db", help="Warehouse file (default $EVREVOPS_DB or ./evrevops.duckdb).")
    ] = None,
    csv_raw: Annotated[
        bool,
        typer.Option(
            "--csv-raw",
            envvar="EVREVOPS_CSV_RAW",
            help="Write CSV cells as they are: no ' before text starting with = + - @, tab or carriage return "
            "(formula-injection guard off; for machines, not spreadsheets). Also $EVREVOPS_CSV_RAW=1.",
        ),
    ] = False,
) -> None:
    _settings["csv_raw"] = csv_raw
    ctx.obj = Ctx(db or default_path(), ctx)


# ---- rendering ----------------------------------------------------------------------------


def _plain(v: object) -> object:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    return v


def records(data: pa.Table | list[dict]) -> list[dict]:
    rows = data.to_pylist() if isinstance(data, pa.Table) else data
    return [{k: _plain(v) for k, v in r.items()} for r in rows]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def csv_cell(v: object) -> object:
    """A CSV cell a spreadsheet will not run (OWASP CSV injection): text starting with ``= + - @``, a tab or a
    carriage return gets a leading ``'``; numbers, and text that is a plain number (``-12.50``), stay as they are."""
    if isinstance(v, str) and v.startswith(_FORMULA_START) and not _NUMBER.fullmatch(v):
        return "'" + v
    return v


def _text(title: str | None) -> Text | None:
    return None if title is None else Text(title)


def _cell(v: object) -> Text:
    """A table cell as text (never parsed as markup)."""
    if v is None:
        return Text("")
    return Text(f"{v:.4f}" if isinstance(v, float) else str(v))


def _write_csv(cols: list[str], rows: list[dict]) -> None:
    """CSV on stdout, lines ending in ``\\n``; a cell holding a line break (``\\r`` too) is quoted."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\r\n")  # quotes a cell holding \r or \n
    for row in [dict(zip(cols, cols, strict=True)), *rows]:
        w.writerow(row)
        sys.stdout.write(buf.getvalue()[:-2] + "\n")
        buf.seek(0)
        buf.truncate()


def render(data: pa.Table | list[dict], fmt: OutFormat, title: str | None = None) -> None:
    rows = records(data)
    cols = list(data.column_names) if isinstance(data, pa.Table) else (list(rows[0]) if rows else [])
    if fmt is OutFormat.json:
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    elif fmt is OutFormat.csv:
        if not _settings["csv_raw"]:
            rows = [{k: csv_cell(v) for k, v in r.items()} for r in rows]
        _write_csv(cols, rows)
    else:
        # an empty table says so (a blank grid reads as a failure)
        t = Table(title=_text(title), show_lines=False, caption=None if rows else "no rows")
        for c in cols:
            t.add_column(Text(str(c)), overflow="fold")
        for r in rows:  # cells are text, never markup: a site named "[/x]" prints as it is
            t.add_row(*[_cell(r.get(c)) for c in cols])
        out.print(t)


def _one_line(text: object) -> str:
    """*text* on one line (an error message from a library may span several)."""
    return " ".join(str(text).split())


def _error(msg: str, label: str = "error:", style: str = "red") -> None:
    """``error: msg`` on stderr, one line; *msg* is text, never markup (it names files, sites, values)."""
    err.print(Text.assemble((label, style), " ", _one_line(msg)))


def _fail(msg: str, code: int = 2) -> typer.Exit:
    _error(msg)
    return typer.Exit(code)


def _busy(text: str):
    """A spinner on stderr while work runs; *text* is shown as it is (no markup)."""
    return err.status(Text(text))


# ---- values of options: checked here, with a clear message, before any work -------------------

FIRST_YEAR, LAST_YEAR = 1900, 2199  # dates and months outside are refused (the calendar and Arrow end nearby)


def _in_years(d: dt.date | dt.datetime, opt: str, text: str, what: str) -> None:
    if not FIRST_YEAR <= d.year <= LAST_YEAR:
        raise _fail(f"{opt}: {text} is out of range; give {what} in the years {FIRST_YEAR}-{LAST_YEAR}")


def _month_opt(text: str, opt: str = "--month") -> tuple[dt.date, dt.date]:
    """``--month YYYY-MM`` as (first day, last day), or a clear error."""
    try:
        lo, hi = month_range(text)
    except ValueError:
        raise _fail(f"{opt}: not a month (YYYY-MM): {text!r}") from None
    _in_years(lo, opt, text, "a month YYYY-MM")
    return lo, hi


def _date_opt(text: str, opt: str) -> dt.date:
    """A ``YYYY-MM-DD`` option as a date, or a clear error."""
    try:
        d = dt.date.fromisoformat(text)
    except ValueError:
        raise _fail(f"{opt}: not a date (YYYY-MM-DD): {text!r}") from None
    _in_years(d, opt, text, "a date YYYY-MM-DD")
    return d


def _instant_opt(text: str, opt: str) -> dt.datetime:
    """An instant option (``YYYY-MM-DD[THH:MM[:SS]]``, an offset or ``Z``; UTC when none) as naive UTC."""
    try:
        t = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"{opt}: not an instant (YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC): {text!r}") from None
    _in_years(t, opt, text, "an instant")
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


def _finite(value: float | None, opt: str, lo: float | None = None, hi: float | None = None, *,
            above: bool = False) -> float | None:  # fmt: skip
    """*value* if finite and within [lo, hi] (``above``: strictly above *lo*), else a clear error; None passes."""
    if value is None:
        return None
    low_ok = lo is None or (value > lo if above else value >= lo)
    if math.isfinite(value) and low_ok and (hi is None or value <= hi):
        return value
    want = "a finite number"
    if lo is not None:
        want += f" {'above' if above else 'of at least'} {_num(lo)}"
    if hi is not None:
        want += f"{' and' if lo is not None else ''} at most {_num(hi)}"
    raise _fail(f"{opt} must be {want}, not {value!r}")


# ---- ingest ---------------------------------------------------------------------------------

_MAPPED = ("session-csv", "status-snapshots", "crm-csv")  # the formats that take a --mapping


def _mapping_loaders() -> dict[str, tuple]:
    """Per mapped format: (load the mapping by name or raise ValueError, the known names)."""
    from evrevops.formats import crm, session_csv, status_snapshots

    return {
        "session-csv": (session_csv.load_mapping, lambda: [n for n, _ in fmts.session_mappings()]),
        "status-snapshots": (status_snapshots.load_status_mapping, lambda: [n for n, _ in status_mappings()]),
        "crm-csv": (crm.load_mapping, lambda: [n for n, _ in crm_mappings()]),
    }


def _check_mapping(mapping: str, input_format: str | None) -> None:
    """An unknown ``--mapping`` (or one the format does not take) fails before any file is read, naming the known."""
    loaders = _mapping_loaders()
    if input_format is not None and input_format not in loaders:
        raise _fail(f"--mapping applies to {', '.join(_MAPPED)}, not to --format {input_format}")
    problems = []
    for name in [input_format] if input_format else list(loaders):
        load, _ = loaders[name]
        try:
            load(mapping)
            return
        except (ValueError, OSError) as exc:
            problems.append((name, exc))
    if input_format:  # the format's own message names the known mappings
        raise _fail(f"--mapping: {problems[0][1]}")
    known = "; ".join(f"{name}: {', '.join(names())}" for name, (_, names) in loaders.items())
    raise _fail(f"--mapping: unknown mapping {mapping!r}; known: {known} (or a status mapping .toml file)")


def _limits(
    earliest: str | None,
    latest: str | None,
    max_power_kw: float | None,
    max_line_mib: float | None,
    max_decompressed_gib: float | None,
) -> flimits.Limits:
    """The plausibility limits of this ingest: the defaults, with what the options change."""
    changes: dict = {}
    if earliest is not None:
        changes["earliest"] = _instant_opt(earliest, "--earliest")
    if latest is not None:
        t = _instant_opt(latest, "--latest")
        # a bare date is its whole day (the last plausible instant is the day's end)
        changes["latest"] = t + dt.timedelta(days=1, microseconds=-1) if len(latest.strip()) == 10 else t
    if _finite(max_power_kw, "--max-power-kw", 0, 1_000_000, above=True) is not None:
        changes["max_power_kw"] = float(max_power_kw)
    for opt, value, unit, key in (
        ("--max-line-mib", max_line_mib, flimits.MiB, "max_line_bytes"),
        ("--max-decompressed-gib", max_decompressed_gib, flimits.GiB, "max_decompressed_bytes"),
    ):
        if _finite(value, opt, 0, 1 << 16, above=True) is not None:
            changes[key] = int(value * unit)
            if changes[key] < 1:
                raise _fail(f"{opt} must be at least one byte, not {value!r}")
    try:
        return dataclasses.replace(flimits.Limits(), **changes)
    except ValueError as exc:  # e.g. --latest before --earliest
        raise _fail(f"{exc} (see --earliest/--latest)") from None


_INGEST_COLUMNS = ["path", "format", "mapping", "records_read", "accepted", "duplicate", "quarantined", "replaced",
                   "status", "file_id", "seconds", "reason"]  # fmt: skip


def _failed_row(path: Path, reason: str) -> dict:
    """The report row of a file that could not be ingested."""
    row: dict = dict.fromkeys(_INGEST_COLUMNS)
    row.update(path=str(path), status="failed", reason=reason)
    return row


def _reason(exc: BaseException) -> str:
    """Why a file failed, on one line: a FormatError names its file already; other errors get their type."""
    if isinstance(exc, FormatError):
        return _one_line(exc)
    text = _one_line(exc)
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _rollback(wh: Warehouse) -> None:
    """End a transaction a failed file may have left open, so the next file starts clean."""
    with contextlib.suppress(Exception):  # no transaction open is the usual case
        wh.con.execute("ROLLBACK")


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to ingest.")],
    input_format: Annotated[
        str | None, typer.Option("--format", help="Input format (default: detected); see `evrevops formats`.")
    ] = None,
    mapping: Annotated[
        str | None,
        typer.Option("--mapping", help="Mapping for a session CSV export or a status log (see `evrevops formats`)."),
    ] = None,
    output: Annotated[
        OutFormat, typer.Option("--output", "-o", help="Report format: table, csv or json.")
    ] = OutFormat.table,
    keep: Annotated[
        bool,
        typer.Option(
            "--keep/--no-keep",
            help="After loading, keep the facts, uptime and bills metrics read (default); "
            "--no-keep for a batch of ingests, then `evrevops refresh` once.",
        ),
    ] = True,
    force: Annotated[
        bool, typer.Option("--force", help="Re-read files already ingested, forgetting their earlier ingest.")
    ] = False,
    earliest: Annotated[
        str | None,
        typer.Option(
            "--earliest",
            help="First plausible date or instant (UTC), YYYY-MM-DD[THH:MM]; records before it are quarantined "
            "(default 2000-01-01: a charger clock reset to 1970 is caught).",
        ),
    ] = None,
    latest: Annotated[
        str | None,
        typer.Option(
            "--latest",
            help="Last plausible date (the whole day) or instant (UTC); records after it are quarantined "
            "(default: one day after now).",
        ),
    ] = None,
    max_power_kw: Annotated[
        float | None,
        typer.Option(
            "--max-power-kw", help="Largest plausible power at one port \\[kW] (default 4000; at most 1,000,000)."
        ),
    ] = None,
    max_line_mib: Annotated[
        float | None,
        typer.Option("--max-line-mib", help="Longest line of a text file [MiB] (default 64; at most 65,536)."),
    ] = None,
    max_decompressed_gib: Annotated[
        float | None,
        typer.Option(
            "--max-decompressed-gib",
            help="Largest size of a .gz file once decompressed [GiB] (default 16; at most 65,536).",
        ),
    ] = None,
) -> None:
    """Ingest standard-format files (OCPI, OCPP, URDB, CSV exports) into the warehouse.

    Each file is one transaction; re-ingesting a file changes nothing (--force reads it again);
    bad records go to quarantine, with records outside the plausibility limits
    (--earliest/--latest/--max-power-kw/...). Prints read = accepted + duplicate + quarantined.
    A file that cannot be read is reported and skipped; the others are loaded, and the exit
    code is 1. Then the port-day facts, uptime and site-month bills are rebuilt and kept
    for the metrics (metrics compute them on the fly while they are not).
    """
    if input_format is not None:
        try:
            fmts.get_format(input_format)
        except ValueError as exc:
            raise _fail(f"--format: {exc}; see `evrevops formats`") from None
    if mapping is not None:
        _check_mapping(mapping, input_format)
    lim = _limits(earliest, latest, max_power_kw, max_line_mib, max_decompressed_gib)
    try:
        files = fmts.input_files(paths)
    except OSError as exc:
        raise _fail(f"cannot list the input files: {_reason(exc)}") from None
    missing = [p for p in files if not p.exists()]
    if missing:
        raise _fail(f"no such file: {missing[0]}")
    if not files:
        raise _fail("no input files found")
    wh = ctx.obj.warehouse()
    results: list[dict] = []
    failed = 0
    with (
        flimits.using(lim),
        Progress(
            TextColumn("{task.description}", markup=False),  # a file name is text, never markup
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as prog,
    ):
        task = prog.add_task("ingesting", total=len(files))
        for f in files:
            prog.update(task, description=f"ingesting {f.name}")
            # one file's failure (unreadable, undecodable, too deep, out of memory or disk, a bug) is
            # reported and skipped: the other files are still loaded
            try:
                r = ingest_file(wh, f, input_format, mapping, force=force, rebuild_from=mc.rebuild_from).as_dict()
            except Exception as exc:  # noqa: BLE001 - every failure is reported per file
                _rollback(wh)
                failed += 1
                reason = _reason(exc)
                results.append(_failed_row(f, reason))
                _error(reason if isinstance(exc, FormatError) else f"{f}: {reason}")
            else:
                results.append(r)
                for note in r.get("notes") or []:
                    err.print(Text.assemble(("note:", "yellow"), " ", _one_line(f"{f.name}: {note}")))
                if r.get("status") not in ("committed", "unchanged"):  # e.g. refused, with its reason
                    failed += 1
                    _error(f"{f}: {r.get('status')}" + (f": {r['reason']}" if r.get("reason") else ""))
            prog.advance(task)
    loaded = [r for r in results if r["status"] != "failed"]
    if keep and any(r["accepted"] or r["replaced"] for r in loaded):
        _refresh_kept(wh)
    wh.close()
    rows = [
        {c: (round(r[c], 3) if c == "seconds" and r.get(c) is not None else r.get(c)) for c in _INGEST_COLUMNS}
        for r in results
    ]
    if output is OutFormat.table and not any(r["reason"] for r in rows):
        rows = [{k: v for k, v in r.items() if k != "reason"} for r in rows]
    render(rows, output, title=f"ingest into {ctx.obj.db}")
    if output is OutFormat.table:
        tot = {k: sum(r[k] or 0 for r in loaded) for k in ("records_read", "accepted", "duplicate", "quarantined")}
        err.print(
            f"read {tot['records_read']:,} = accepted {tot['accepted']:,} + duplicate {tot['duplicate']:,} + quarantined {tot['quarantined']:,}"
        )
    if failed:
        err.print(Text(f"{failed} file{'s' if failed != 1 else ''} failed", style="red"))
        raise typer.Exit(1)


def _since(r: dict) -> str:
    """What a kept step rebuilt: its months from the first one rebuilt (or that nothing changed)."""
    start = r.get("rebuilt_from")
    first = r.get("first_month") or r.get("first_day")
    if start is None:
        return "nothing changed"
    return "every month" if start == first else f"from {start:%Y-%m} on"


def _refresh_kept(wh: Warehouse) -> None:
    """Keep the port-day facts, site-month bills and month-close measures current after a write (metrics read
    them while they are); only the months the write can change are rebuilt."""
    r = mc.refresh_kept(wh, step=_busy)
    f = r["facts"]
    err.print(f"kept {f['port_days']:,} port-day facts ({_since(f)}) in {f['seconds']:.1f} s")
    if r["bills"] is not None:
        b = r["bills"]
        err.print(f"kept {b['bills']:,} site-month bills ({_since(b)}) in {b['seconds']:.1f} s")
    else:  # metrics will say so
        err.print(f"[yellow]warning:[/yellow] site-month bills not kept: {escape(_one_line(r['bills_error']))}")
    c = r["close"]
    if c["site_months"]:
        err.print(
            f"kept the month-close measures of {c['site_months']:,} site-months ({_since(c)}) in {c['seconds']:.1f} s"
        )


@app.command()
def refresh(ctx: typer.Context) -> None:
    """Bring the port-day facts, uptime, site-month bills and month-close measures kept for metrics up to date (as
    ingest does after loading): the months the ingests since can change, or every month when nothing is kept."""
    wh = ctx.obj.warehouse()
    _refresh_kept(wh)
    wh.close()


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the Parquet files and manifest.json into.")],
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Export every warehouse table to Parquet (with a manifest), for Spark and other engines to read."""
    from evrevops.warehouse.export import export_parquet

    if out_dir.exists() and not out_dir.is_dir():
        raise _fail(f"--out {out_dir} is a file; give a folder for the Parquet files")
    wh = ctx.obj.warehouse(read_only=True)
    with _busy(f"exporting to {out_dir}"):
        manifest = export_parquet(wh, out_dir)
    render([{"table": k, **v} for k, v in manifest["tables"].items()], fmt, title=f"exported to {out_dir}")


@app.command("formats")
def formats_cmd(fmt: FormatOpt = OutFormat.table) -> None:
    """List the input formats ingest understands."""
    rows = [{"format": f.name, "description": f.description} for f in fmts.FORMATS.values()]
    rows += [{"format": f"session-csv --mapping {m}", "description": d} for m, d in fmts.session_mappings()]
    rows += [{"format": f"status-snapshots --mapping {m}", "description": d} for m, d in status_mappings()]
    rows += [{"format": f"crm-csv --mapping {m}", "description": d} for m, d in crm_mappings()]
    render(rows, fmt, title="input formats")


@ledger_app.callback()
def ledger(ctx: typer.Context, fmt: FormatOpt = OutFormat.table) -> None:
    """Show the ingest ledger: every file ingested, with its counts; `evrevops ledger forget FILE_ID` undoes one."""
    if ctx.invoked_subcommand is not None:
        return
    wh = ctx.obj.warehouse(read_only=True)
    render(wstatus.ledger(wh), fmt, title="ingest ledger")


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
    from evrevops.warehouse.forget import forget_file

    wh = ctx.obj.warehouse()
    try:
        r = forget_file(wh, file_id, rebuild_from=mc.rebuild_from)
    except ValueError as exc:  # unknown, or forgotten already
        raise _fail(str(exc) if "evrevops ledger" in str(exc) else f"{exc}; see `evrevops ledger`") from None
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
        _refresh_kept(wh)


@app.command()
def quarantine(
    ctx: typer.Context,
    file_id: Annotated[int | None, typer.Option("--file-id", min=1, help="Only this ledger entry.")] = None,
    limit: Annotated[int, typer.Option(min=0, help="Rows at most.")] = 200,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Show quarantined records: file, line/record, field and reason."""
    wh = ctx.obj.warehouse(read_only=True)
    render(wstatus.quarantine(wh, file_id, limit), fmt, title="quarantine")


@app.command()
def status(ctx: typer.Context, fmt: FormatOpt = OutFormat.table) -> None:
    """Warehouse summary: file, schema version, row counts, data range and gaps."""
    wh = ctx.obj.warehouse(read_only=True)
    render(wstatus.summary(wh), fmt, title=f"warehouse {ctx.obj.db}")


# ---- metrics --------------------------------------------------------------------------------


def _range(
    month: str | None, day: str | None, start: str | None, end: str | None, wh: Warehouse
) -> tuple[dt.date, dt.date]:
    if day:
        d = _date_opt(day, "--day")
        return d, d
    if start or end:
        if not (start and end):
            raise _fail("--from and --to go together (first and last local date YYYY-MM-DD)")
        lo, hi = _date_opt(start, "--from"), _date_opt(end, "--to")
        if hi < lo:
            raise _fail(f"--to {hi} is before --from {lo}")
        return lo, hi
    if month:
        return _month_opt(month)
    # the last full month of sessions, else of telemetry (a warehouse holding only status logs)
    last = mc.last_full_month(wh) or telemetry_last_full_month(wh)
    if last is None:
        raise _fail("the warehouse has no sessions or telemetry yet; run `evrevops ingest` first")
    return month_range(last)


EngineOpt = Annotated[
    str,
    typer.Option(
        help="duckdb (the warehouse file), spark (a local Spark session), or a Spark master URL "
        "(local[N], spark://host:port, yarn, k8s://…) reading --export."
    ),
]
ExportOpt = Annotated[Path | None, typer.Option(help="With a Spark engine: the `evrevops export` folder.")]
MasterOpt = Annotated[str | None, typer.Option(help="With --engine spark: the master URL (default local[2]).")]


def _engine_warehouse(ctx: typer.Context, engine: str, export: Path | None, master: str | None):
    """The warehouse file (read-only) for DuckDB, or a Spark session over the export."""
    from evrevops.warehouse.engine import open_engine, parse

    try:
        kind, url = parse(engine, master)
        if kind == "duckdb":
            return ctx.obj.warehouse(read_only=True)
        with _busy(f"starting Spark ({url}) on {export}"):
            return open_engine(engine, export, master)
    except ValueError as exc:
        raise _fail(str(exc)) from None


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
    if by not in GRAINS:
        raise _fail(f"unknown grain {by!r}; use one of {', '.join(GRAINS)}")
    if period not in PERIODS:
        raise _fail(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    for m in metric or []:
        if m not in METRICS:
            raise _fail(f"unknown metric {m!r}; see `evrevops metrics list`")
    wh = _engine_warehouse(ctx, engine, export, master)
    lo, hi = _range(month, day, start, end, wh)
    with _busy(f"computing metrics by {by} for {lo} … {hi} on {wh.engine}"):
        try:
            table = mc.compute(wh, by=by, period=period, start=lo, end=hi, metrics=metric)
        except ValueError as exc:
            raise _fail(str(exc)) from None
    render(table, fmt, title=f"metrics by {by}, {period}: {lo} … {hi}")


@metrics_app.command("list")
def metrics_list(fmt: FormatOpt = OutFormat.table) -> None:
    """List every metric in the registry."""
    rows = [
        {"name": m.name, "unit": m.unit, "formula": m.formula, "grains": ",".join(m.grains), "source": m.source}
        for m in METRICS.values()
    ]
    render(rows, fmt, title="metrics")


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
    if name not in METRICS:
        raise _fail(f"unknown metric {name!r}; see `evrevops metrics list`")
    if by not in GRAINS:
        raise _fail(f"unknown grain {by!r}; use one of {', '.join(GRAINS)}")
    if period not in PERIODS:
        raise _fail(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    m = METRICS[name]
    wh = Warehouse(":memory:")
    try:
        sql = mc.explain(wh, name, by=by, period=period, dialect=dialect)
    except ValueError as exc:
        hint = "; e.g. --dialect duckdb, spark or pyspark" if dialect and "dialect" in str(exc).lower() else ""
        raise _fail(f"{exc}{hint}") from None
    read = (
        f"read from: for whole months after an ingest, the view {mc.close_view(by)} (this expression, run on the "
        "month-close measures kept then); for other ranges, another --as-of or --offline-after, or a warehouse "
        "changed since, this SQL runs on the kept facts or the sessions\n"
        if period == "month"
        else "read from: this SQL, on the kept port-day facts after an ingest, or on the sessions\n"
    )
    out.print(
        f"[bold]{m.name}[/bold] — {m.label} \\[{m.unit}]\nformula: {m.formula}\ngrains: {', '.join(m.grains)}\nsource: {m.source}\n{m.description}\n"
    )
    out.print(read, markup=False, highlight=False)
    sys.stdout.write(sql + "\n")


@metrics_app.command("docs")
def metrics_docs(
    path: Annotated[Path, typer.Option("--out", help="Where to write the Markdown.")] = Path("docs/metrics.md"),
    check: Annotated[bool, typer.Option(help="Only check that the file is current (exit 1 if not).")] = False,
) -> None:
    """Generate docs/metrics.md from the registry."""
    if path.is_dir():
        raise _fail(f"--out {path} is a directory; give the Markdown file to write")
    text = mdocs.render()
    if check:
        if not path.exists() or path.read_text() != text:
            raise _fail(f"{path} is out of date; run `evrevops metrics docs`", 1)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    err.print(Text(f"wrote {path}"))


HEADLINE = [
    "ports",
    "sessions",
    "energy_kwh",
    "utilization",
    "occupancy",
    "capacity_factor",
    "congestion",
    "kwh_per_port_day",
    "energy_revenue_minor",
    "revenue_per_port_minor",
    "revenue_per_port_day_minor",
    "energy_cost_minor",
    "demand_charge_minor",
    "energy_margin_minor",
    "energy_margin_per_kwh",
    "demand_charge_share",
    "demand_over_revenue_flag",
    "uptime_pct",
    "uptime_t12m_pct",
    "ports_below_nevi",
    "charge_attempt_success_rate",
    "visit_success_rate",
    "revenue_at_risk_minor",
]


@app.command()
def headline(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option(help="Month YYYY-MM (default: last full month of data).")] = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """The network headline for a month, then the same by segment."""
    wh = ctx.obj.warehouse(read_only=True)
    lo, hi = _range(month, None, None, None, wh)
    with _busy(f"computing the headline for {lo:%Y-%m}"):
        net = mc.compute(wh, by="network", period="month", start=lo, end=hi, metrics=HEADLINE)
        seg = mc.compute(wh, by="segment", period="month", start=lo, end=hi, metrics=HEADLINE)
    if fmt is OutFormat.table:
        # One column per scope (network, then each segment), one row per metric: fits a terminal.
        scopes = [("network", r) for r in records(net)] + [(r["segment"] or "(none)", r) for r in records(seg)]
        t = Table(title=Text(f"headline {lo:%Y-%m} ({', '.join(sorted({r['currency'] or '-' for _, r in scopes}))})"))
        t.add_column("metric")
        for name, _ in scopes:
            t.add_column(Text(str(name)), justify="right")
        for m in HEADLINE:
            vals = [r.get(m) for _, r in scopes]
            t.add_row(
                m,
                *[
                    ""
                    if v is None
                    else (
                        f"{v:,.1f}"
                        if isinstance(v, float) and abs(v) >= 100
                        else f"{v:,.4f}"
                        if isinstance(v, float)
                        else f"{v:,}"
                    )
                    for v in vals
                ],
            )
        out.print(t)
        err.print(Text(f"warehouse: {Path(ctx.obj.db).resolve()}"))
    else:
        render(
            pa.concat_tables(
                [net.append_column("segment", pa.nulls(net.num_rows, pa.string())).select(seg.column_names), seg]
            ),
            fmt,
        )


# ---- uptime and reliability ----------------------------------------------------------------------

AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Data horizon, UTC (YYYY-MM-DDTHH:MM); default: the latest telemetry."),
]
OfflineOpt = Annotated[
    int,
    typer.Option(
        "--offline-after",
        help="Minutes of silence (no heartbeat, status or meter value) after which an OCPP charger is offline.",
        min=1,
        max=366 * 24 * 60,
    ),
]
_OFFLINE_MIN = DEFAULT_OFFLINE_AFTER_S // 60


def _as_of(text: str | None) -> dt.datetime | None:
    return None if text is None else _instant_opt(text, "--as-of")


@app.command()
def uptime(
    ctx: typer.Context,
    month: MonthOpt = None,
    by: Annotated[str, typer.Option(help=f"Grain: {', '.join(GRAINS)}.")] = "site",
    as_of: AsOfOpt = None,
    offline_after: OfflineOpt = _OFFLINE_MIN,
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
    if by not in GRAINS:
        raise _fail(f"unknown grain {by!r}; use one of {', '.join(GRAINS)}")
    wh = _engine_warehouse(ctx, engine, export, master)
    lo, hi = _range(month, None, None, None, wh)
    with _busy(f"building status timelines for {lo:%Y-%m}"):
        table = mc.compute(
            wh, by=by, period="month", start=lo, end=hi, metrics=list(UPTIME),
            as_of=_as_of(as_of), offline_after_s=offline_after * 60,
        )  # fmt: skip
    render(table, fmt, title=f"uptime by {by}, {lo:%Y-%m}")


@app.command()
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
    offline_after: OfflineOpt = _OFFLINE_MIN,
    engine: EngineOpt = "duckdb",
    export: ExportOpt = None,
    master: MasterOpt = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """The outage ledger: each outage's start, end, duration, statuses, error codes, cause, exclusion, revenue at risk.

    On Spark with `--engine spark://host:port --export DIR` (the same SQL, transpiled).
    """
    wh = _engine_warehouse(ctx, engine, export, master)
    horizon = _as_of(as_of)
    if open_only and month is None:
        span = data_span(wh)
        t = horizon or (span[1] if span else None)
        if t is None:
            raise _fail("the warehouse has no telemetry yet; run `evrevops ingest` first")
        lo = hi = t.date().replace(day=1)
    else:
        lo, hi = _months(wh, month, to_month)
    with _busy(f"building the outage ledger for {lo:%Y-%m} … {hi:%Y-%m}"):
        table = uoutages.ledger(
            wh, lo, hi, as_of=horizon, offline_after_s=offline_after * 60, open_only=open_only,
            sites=list(site) if site else None, include_no_data=no_data,
        )  # fmt: skip
    render(table, fmt, title=f"outages {lo:%Y-%m} … {hi:%Y-%m}" + (" (open)" if open_only else ""))


@app.command()
def stale(
    ctx: typer.Context,
    as_of: AsOfOpt = None,
    offline_after: OfflineOpt = _OFFLINE_MIN,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Chargers that have gone silent or have no data at the horizon, since when, and the revenue at risk."""
    wh = ctx.obj.warehouse(read_only=True)
    with _busy("checking telemetry"):
        table = telemetry.silent(wh, as_of=_as_of(as_of), offline_after_s=offline_after * 60)
    render(table, fmt, title="silent or missing telemetry")


@app.command("sla")
def sla_cmd(
    ctx: typer.Context,
    month: MonthOpt = None,
    as_of: AsOfOpt = None,
    offline_after: OfflineOpt = _OFFLINE_MIN,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """SLA evaluation of every contract line with an uptime commitment, and the credit it owes (minor units)."""
    _month_report(ctx, month, as_of, offline_after, fmt, sla.credits, "evaluating SLAs", "SLA credits")


@app.command("risk")
def risk_cmd(
    ctx: typer.Context,
    month: MonthOpt = None,
    as_of: AsOfOpt = None,
    offline_after: OfflineOpt = _OFFLINE_MIN,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """At-risk accounts: a churn-risk score per customer with its reasons (uptime, utilization, SLA, telemetry)."""
    _month_report(ctx, month, as_of, offline_after, fmt, risk.accounts, "scoring accounts", "accounts at risk")


def _month_report(ctx, month, as_of, offline_after, fmt, fn, doing: str, title: str) -> None:
    """Run a month's report ``fn(wh, month, as_of=..., offline_after_s=...)`` and render it."""
    wh = ctx.obj.warehouse(read_only=True)
    lo, _ = _range(month, None, None, None, wh)
    with _busy(f"{doing} for {lo:%Y-%m}"):
        table = fn(wh, lo, as_of=_as_of(as_of), offline_after_s=offline_after * 60)
    render(table, fmt, title=f"{title} {lo:%Y-%m}")


@nevi_app.command("export")
def nevi_export_cmd(
    ctx: typer.Context,
    quarter: Annotated[str, typer.Option(help="Quarter YYYYQn, e.g. 2025Q4.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the three files.")] = Path("nevi"),
    as_of: AsOfOpt = None,
    offline_after: OfflineOpt = _OFFLINE_MIN,
    fmt: FormatOpt = OutFormat.csv,
) -> None:
    """Write the quarter's sessions, uptime and outages in EV Charging Use Data Specification fields (csv or json).

    Every record is validated against the specification's JSON Schemas first;
    prints what was written.
    """
    if fmt is OutFormat.table:
        raise _fail("--format must be csv or json for the files")
    try:
        first, _ = nevi_export.parse_quarter(quarter)
    except ValueError as exc:
        raise _fail(f"--quarter: {exc}") from None
    _in_years(first, "--quarter", quarter, "a quarter YYYYQn")
    if out_dir.exists() and not out_dir.is_dir():
        raise _fail(f"--out {out_dir} is a file; give a folder for the three files")
    horizon = _as_of(as_of)
    wh = ctx.obj.warehouse(read_only=True)
    try:
        with _busy(f"exporting NEVI data for {quarter}"):
            written = nevi_export.export_quarter(
                wh, quarter, out_dir, fmt.value, as_of=horizon, offline_after_s=offline_after * 60
            )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    render([{"file": k, "path": str(p), "records": n} for k, (p, n) in written.items()], OutFormat.table)


# ---- recurring revenue ------------------------------------------------------------------------------


@app.command()
def mrr(
    ctx: typer.Context,
    month: MonthOpt = None,
    by: Annotated[str, typer.Option(help=f"Grain: {', '.join(cmrr.BY)}.")] = "customer",
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """MRR movements of a month: mrr_start, new, expansion, contraction, churn, reactivation, mrr_end; NRR, GRR.

    Amounts are integer minor units of `currency`, e.g.
    `evrevops mrr --month 2025-12 --by segment --format json`.
    """
    if by not in cmrr.BY:
        raise _fail(f"unknown grain {by!r}; use one of {', '.join(cmrr.BY)}")
    wh = ctx.obj.warehouse(read_only=True)
    lo, _ = _range(month, None, None, None, wh)
    with _busy(f"computing MRR movements for {lo:%Y-%m}"):
        table = cmrr.movements(wh, lo, by)
    render(table, fmt, title=f"MRR movements by {by}, {lo:%Y-%m}")


@app.command()
def revenue(
    ctx: typer.Context,
    month: MonthOpt = None,
    to_month: LastMonthOpt = None,
    by: Annotated[str, typer.Option(help=f"Grain: {', '.join(crevenue.BY)}.")] = "segment",
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Revenue by stream per month: hardware, installation, software, CaaS, maintenance, SLA credits, energy.

    Recognized as handbook §2 says (hardware at delivery, installation at
    commissioning, recurring ratably, SLA credits netted, energy by session);
    integer minor units; the total is the sum of its parts.
    """
    if by not in crevenue.BY:
        raise _fail(f"unknown grain {by!r}; use one of {', '.join(crevenue.BY)}")
    wh = ctx.obj.warehouse(read_only=True)
    lo, hi = _months(wh, month, to_month)
    with _busy(f"recognizing revenue for {lo:%Y-%m} … {hi:%Y-%m}"):
        table = crevenue.by_stream(wh, lo, hi, by=by)
    render(table, fmt, title=f"revenue by stream by {by}, {lo:%Y-%m} … {hi:%Y-%m}")


# ---- unit economics and P&L ---------------------------------------------------------------------

HorizonOpt = Annotated[
    int,
    typer.Option("--horizon-months", min=1, max=1200, help="Months of cash flow from each site's commissioning month."),
]
RateOpt = Annotated[
    float, typer.Option("--discount-rate", help="Discount rate for NPV [% per year], above -100 and at most 1000.")
]
AppliedOpt = Annotated[
    bool, typer.Option("--include-applied", help="Count incentives still applied for, not only awarded or paid.")
]


def _money_table(table: pa.Table, title: str, columns: dict[str, str]) -> None:
    """A terminal table of *columns* (name → header); ``*_minor`` shown in whole units of the row's currency."""
    rows = records(table)
    t = Table(title=_text(title))
    cols = list(columns)
    for c in cols:
        numeric = c.endswith(("_minor", "_months", "_horizon")) or c == "sites"
        t.add_column(columns[c], justify="right" if numeric else "left", overflow="fold")
    for r in rows:
        cells = []
        for c in cols:
            v = r[c]
            if v is None:
                cells.append("")
            elif c.endswith("_minor"):
                cells.append(f"{minor_to_decimal(v, r['currency']):,.0f}")
            elif isinstance(v, float):
                cells.append(f"{v:g}")
            else:
                cells.append(str(v))
        t.add_row(*[Text(c) for c in cells])
    out.print(t)
    err.print(Text(f"money in {', '.join(sorted({r['currency'] for r in rows if r.get('currency')}))}, whole units"))


def _transposed(table: pa.Table, key: str, title: str) -> None:
    """A few wide rows as a terminal table: one column per row (named by *key*), one line per field."""
    rows = records(table)
    t = Table(title=_text(title))
    t.add_column("field")
    for r in rows:
        t.add_column(Text(str(r[key])), justify="right")
    for f in table.column_names:
        if f == key:
            continue
        t.add_row(f, *[Text("" if r[f] is None else (f"{r[f]:,}" if isinstance(r[f], int) and not isinstance(r[f], bool) else str(r[f]))) for r in rows])  # fmt: skip
    out.print(t)


@app.command("unit-economics")
def unit_economics_cmd(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help=f"Rank sites within: {', '.join(fue.BY)}.")] = "segment",
    site: SiteOpt = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="One row per group and revenue model instead of per site.")
    ] = False,
    horizon_months: HorizonOpt = fcash.DEFAULT_HORIZON_MONTHS,
    discount_rate: RateOpt = fue.DEFAULT_DISCOUNT_RATE * 100,
    include_applied: AppliedOpt = False,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Per site under its own revenue model: capex less incentives, monthly cash flow, payback, NPV, IRR.

    Sites are ranked by payback within each group (`--by segment`); `--summary` gives each
    group's sites, capex, NPV and median payback per revenue model. Money in integer minor
    units; IRR per year as a fraction.
    """
    if by not in fue.BY or (summary and by == "site"):
        raise _fail(
            f"unknown grain {by!r}; use one of {', '.join(fue.BY)}" + (" (not site with --summary)" if summary else "")
        )
    _finite(discount_rate, "--discount-rate", -100, 1000, above=True)
    wh = ctx.obj.warehouse(read_only=True)
    try:
        with _busy("computing site cash flows, payback, NPV and IRR"):
            table = fue.sites(wh, horizon_months=horizon_months, discount_rate=discount_rate / 100,
                              include_applied=include_applied, site_ids=site)  # fmt: skip
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if table.num_rows == 0:
        raise _fail("no commissioned sites to evaluate" + (f" among {', '.join(site)}" if site else ""))
    table = fue.summary(table, by) if summary else fue.ranked(table, by)
    title = f"unit economics by {by} ({horizon_months} months, {discount_rate:g} % a year)"
    if fmt is OutFormat.table and summary:
        key = by if by != "network" else "scope"
        _money_table(table, title, {key: key, "revenue_model": "model", "sites": "sites", "net_capex_minor": "net capex",
                                    "operating_cash_flow_minor": "cash/mo", "npv_minor": "NPV",
                                    "median_payback_months": "payback mo (median)",
                                    "sites_paid_back_in_horizon": "paid back"})  # fmt: skip
    else:
        render(table, fmt, title=title)


@model_app.command("compare")
def model_compare(
    ctx: typer.Context,
    site: Annotated[str, typer.Option("--site", help="Site id.")],
    prices: Annotated[
        Path | None, typer.Option("--prices", help="TOML file with a \\[prices] table overriding reference prices.")
    ] = None,
    horizon_months: HorizonOpt = fcash.DEFAULT_HORIZON_MONTHS,
    discount_rate: RateOpt = fue.DEFAULT_DISCOUNT_RATE * 100,
    include_applied: AppliedOpt = False,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """The site as hardware sale, CaaS and software only, side by side: prices, capex, payback, NPV, IRR.

    The site's own model is priced by its contracts; the others by the network's reference
    prices for sites like it (or by `--prices`), on the same ports, costs and measured energy.
    """
    _finite(discount_rate, "--discount-rate", -100, 1000, above=True)
    wh = ctx.obj.warehouse(read_only=True)
    try:
        with _busy(f"pricing {site} under each revenue model"):
            table = fcompare.compare(wh, site, prices_file=prices, horizon_months=horizon_months,
                                     discount_rate=discount_rate / 100, include_applied=include_applied)  # fmt: skip
    except ValueError as exc:
        raise _fail(str(exc)) from None
    title = f"{site}: revenue models compared ({horizon_months} months, {discount_rate:g} % a year)"
    if fmt is OutFormat.table:
        _transposed(table, "revenue_model", title)
    else:
        render(table, fmt, title=title)


@app.command("pnl")
def pnl_cmd(
    ctx: typer.Context,
    month: MonthOpt = None,
    to_month: LastMonthOpt = None,
    by: Annotated[str, typer.Option(help=f"Grain: {', '.join(fpnl.BY)}.")] = "segment",
    useful_life: Annotated[
        int,
        typer.Option(
            "--useful-life-months", min=1, max=1200, help="Depreciation life of owned (CaaS) chargers \\[months]."
        ),
    ] = fpnl.DEFAULT_USEFUL_LIFE_MONTHS,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """P&L by month: revenue by stream, cost of revenue (energy, cost of sales, opex, depreciation), gross margin, revenue per port."""
    if by not in fpnl.BY:
        raise _fail(f"unknown grain {by!r}; use one of {', '.join(fpnl.BY)}")
    wh = ctx.obj.warehouse(read_only=True)
    lo, hi = _months(wh, month, to_month)
    try:
        with _busy(f"building the P&L for {lo:%Y-%m} … {hi:%Y-%m}"):
            table = fpnl.pnl(wh, lo, hi, by=by, useful_life_months=useful_life)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if fmt is OutFormat.table and table.num_rows <= 8:
        key = by if by != "network" else "scope"
        _transposed(
            table.set_column(0, key, pa.compute.binary_join_element_wise(
                pa.compute.cast(table[key], pa.string()), table["month"], " ")),
            key, f"P&L by {by}, {lo:%Y-%m} … {hi:%Y-%m}",
        )  # fmt: skip
    else:
        render(table, fmt, title=f"P&L by {by}, {lo:%Y-%m} … {hi:%Y-%m}")


@app.command("incentives")
def incentives_cmd(
    ctx: typer.Context,
    site: SiteOpt = None,
    include_applied: AppliedOpt = False,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Incentives that reduce each CaaS site's capex: eligible cost, nominal amount (capped) and award."""
    wh = ctx.obj.warehouse(read_only=True)
    render(fcash.awards(wh, sites=site, include_applied=include_applied), fmt, title="incentive awards")


# ---- pipeline, projects, land and expand -------------------------------------------------------

DayOpt = Annotated[
    str | None, typer.Option("--as-of", help="Day YYYY-MM-DD (default: the end of the last full month of data).")
]


def _day(text: str | None, month: str | None = None) -> dt.date | None:
    """``--as-of`` as a date, else the last day of ``--month``, else None."""
    if text:
        return _date_opt(text, "--as-of")
    if month:
        return _month_opt(month)[1]
    return None


@pipeline_app.callback()
def pipeline_cmd(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option(help="The pipeline at the end of month YYYY-MM.")] = None,
    as_of: DayOpt = None,
    by: Annotated[str, typer.Option(help=f"Grain: {', '.join(psnapshot.BY)}.")] = "stage",
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """The open pipeline as it stood on a day: deals, amounts per stream, CRM- and learned-probability weighted.

    E.g. `evrevops pipeline --month 2025-06 --by segment`; subcommands for the funnel, win
    rates, projects and land-and-expand.
    """
    if ctx.invoked_subcommand is not None:
        return
    if by not in psnapshot.BY:
        raise _fail(f"unknown grain {by!r}; use one of {', '.join(psnapshot.BY)}")
    wh = ctx.obj.warehouse(read_only=True)
    day = pfunnel.default_day(wh, _day(as_of, month))
    render(psnapshot.summary(wh, day, by=by), fmt, title=f"open pipeline on {day} by {by}")


@pipeline_app.command("funnel")
def pipeline_funnel(
    ctx: typer.Context,
    by: Annotated[str | None, typer.Option(help="Group the stages by a deal column, e.g. segment.")] = None,
    as_of: DayOpt = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Stage conversion, learned win probability and days in stage, from the stage history."""
    if by is not None and by not in ("segment", "revenue_model", "owner"):
        raise _fail(f"unknown grouping {by!r}; use segment, revenue_model or owner")
    wh = ctx.obj.warehouse(read_only=True)
    day = pfunnel.default_day(wh, _day(as_of))
    render(pfunnel.stages(wh, as_of=day, by=by), fmt, title=f"funnel on {day}")


@pipeline_app.command("win-rates")
def pipeline_win_rates(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help=f"Group by: {', '.join(pfunnel.WIN_RATE_BY)}.")] = "segment",
    as_of: DayOpt = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Win rate, cycle time and slippage of closed deals, open and overdue deals, by segment or readiness."""
    wh = ctx.obj.warehouse(read_only=True)
    try:
        table = pfunnel.win_rates(wh, by, as_of=pfunnel.default_day(wh, _day(as_of)))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    render(table, fmt, title=f"win rates by {by}")


@pipeline_app.command("projects")
def pipeline_projects(ctx: typer.Context, as_of: DayOpt = None, fmt: FormatOpt = OutFormat.table) -> None:
    """Installation projects: status, delay, expected commissioning, budget against actual, margin."""
    wh = ctx.obj.warehouse(read_only=True)
    day = pfunnel.default_day(wh, _day(as_of))
    render(pprojects.status(wh, day), fmt, title=f"projects on {day}")


@pipeline_app.command("slippage")
def pipeline_slippage(ctx: typer.Context, as_of: DayOpt = None, fmt: FormatOpt = OutFormat.table) -> None:
    """Per project milestone: how many slipped, by how many days, and how many ran over budget."""
    wh = ctx.obj.warehouse(read_only=True)
    render(pprojects.slippage(wh, pfunnel.default_day(wh, _day(as_of))), fmt, title="milestone slippage")


@pipeline_app.command("expansion")
def pipeline_expansion(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help="segment, network or customer.")] = "segment",
    as_of: DayOpt = None,
    mature_months: Annotated[
        int, typer.Option(min=0, max=1200, help="Months since landing for mature conversion.")
    ] = 12,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Land and expand: deployment-to-expansion conversion, time to expand, expansion ports."""
    wh = ctx.obj.warehouse(read_only=True)
    day = pfunnel.default_day(wh, _day(as_of))
    if by == "customer":
        render(pexpansion.customers(wh, day), fmt, title=f"land and expand per customer on {day}")
        return
    if by not in pexpansion.BY:
        raise _fail(f"unknown grain {by!r}; use segment, network or customer")
    render(pexpansion.summary(wh, by, day, mature_months), fmt, title=f"land and expand by {by} on {day}")


@pipeline_app.command("ramp")
def pipeline_ramp(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help=f"Grain: {', '.join(pexpansion.BY)}.")] = "segment",
    max_months: Annotated[
        int | None, typer.Option(min=0, max=1200, help="Months since commissioning to show at most.")
    ] = 24,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """The utilization ramp: utilization by months since commissioning, per segment."""
    wh = ctx.obj.warehouse(read_only=True)
    try:
        with _busy("computing the utilization ramp"):
            table = pexpansion.ramp(wh, by=by, max_months=max_months)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    render(table, fmt, title=f"utilization ramp by {by}")


# ---- forecasts ---------------------------------------------------------------------------------


@forecast_app.command("hardware")
def forecast_hardware(
    ctx: typer.Context,
    as_of: DayOpt = None,
    months: Annotated[int, typer.Option(min=1, max=120, help="Months forecast after the as-of month.")] = 6,
    sims: Annotated[int, typer.Option(min=100, max=1_000_000, help="Monte-Carlo runs.")] = fhardware.DEFAULT_SIMS,
    seed: Annotated[
        int, typer.Option(min=0, help="Random seed (the same seed gives the same forecast).")
    ] = fhardware.DEFAULT_SEED,
    backtest: Annotated[
        str | None,
        typer.Option(
            "--backtest",
            help="Origins FIRST:LAST (months YYYY-MM): forecast at each month's end against what was recognized.",
        ),
    ] = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Hardware and installation revenue by month from open projects and the pipeline, with a P10–P90 interval.

    Learned stage win probabilities, times to win and commissioning lags (not the CRM's own
    probability); `naive_minor` is CRM probability × amount at expected close. `--backtest
    2025-03:2025-09` forecasts from each of those month-ends and prints the errors of both.
    """
    if backtest:
        lo, _, hi = backtest.partition(":")
        first, last = _month_opt(lo, "--backtest")[0], _month_opt(hi or lo, "--backtest")[0]
        if last < first:
            raise _fail(f"--backtest {backtest}: the last origin is before the first (FIRST:LAST, months YYYY-MM)")
        if months_between(first, last) >= 120:
            raise _fail(f"--backtest {backtest}: at most 120 origins (FIRST:LAST, months YYYY-MM)")
    wh = ctx.obj.warehouse(read_only=True)
    try:
        if backtest:
            origins, m = [], first
            while m <= last:
                origins.append(month_range(f"{m:%Y-%m}")[1])
                m = next_month(m)
            with _busy(f"backtesting {len(origins)} origins"):
                table = fhardware.backtest(wh, origins, months, sims, seed)
            render(table, fmt, title=f"hardware forecast backtest, {lo} … {hi or lo}, {months} months ahead")
            sm = fhardware.backtest_summary(table)
            err.print(
                f"{sm['points']} forecasts: MAE {sm.get('mae_minor', 0):,} against naive {sm.get('naive_mae_minor', 0):,} "
                f"(minor units; ratio {sm.get('mae_ratio') or 0:.2f}); P10–P90 covered {sm.get('coverage_p10_p90', 0):.0%}"
            )
            return
        day = pfunnel.default_day(wh, _day(as_of))
        with _busy(f"simulating {sims:,} runs"):
            table = fhardware.forecast(wh, day, months, sims, seed)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    title = f"hardware + installation revenue forecast made on {day}"
    if fmt is OutFormat.table:
        _money_table(table, title, {"month": "month", "mean_minor": "mean", "p10_minor": "P10", "p50_minor": "P50",
                                    "p90_minor": "P90", "from_projects_minor": "projects", "from_won_minor": "won",
                                    "from_pipeline_minor": "pipeline", "naive_minor": "naive"})  # fmt: skip
    else:
        render(table, fmt, title=title)


# ---- sites and bills ---------------------------------------------------------------------------


@sites_app.command("list")
def sites_list(ctx: typer.Context, fmt: FormatOpt = OutFormat.table) -> None:
    """List sites with their segment, time zone and utility tariff."""
    wh = ctx.obj.warehouse(read_only=True)
    render(wstatus.sites(wh), fmt, title="sites")


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
    wh = ctx.obj.warehouse()
    try:
        row = set_site_tariff(wh, site, tariff, _date_opt(from_on, "--from") if from_on else None)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    _refresh_kept(wh)
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
    wh = ctx.obj.warehouse(read_only=True)
    if not wh.con.execute("SELECT count(*) FROM ports WHERE port_id = ?", [port]).fetchall()[0][0]:
        raise _fail(f"unknown port {port!r}")
    render(port_sites.history(wh, port), fmt, title=f"where port {port} was")
    clash = port_sites.conflicts(wh, port)
    if clash.num_rows and fmt is OutFormat.table:
        render(clash, fmt, title="evidence that puts it at two sites at once")


@ports_app.command("conflicts")
def ports_conflicts(ctx: typer.Context, fmt: FormatOpt = OutFormat.table) -> None:
    """Every port that evidence puts at two sites at once: overlapping sessions, a feed, CSV windows."""
    wh = ctx.obj.warehouse(read_only=True)
    table = port_sites.conflicts(wh)
    if not table.num_rows and fmt is OutFormat.table:
        out.print("no port is at two sites at once")
        return
    render(table, fmt, title="ports at two sites at once")


def _bill_record(r: dict) -> dict:
    out = {
        "site_id": r["site_id"],
        "month": r["bill_month"].strftime("%Y-%m"),
        "first_on": r["first_on"].isoformat(),
        "last_on": r["last_on"].isoformat(),
        "utility_tariff_id": r["utility_tariff_id"],
        "currency": r["currency"],
        "energy_kwh": round(r["energy_kwh"] or 0.0, 3),
        "peak_kw": round(r["peak_kw"] or 0.0, 3),
    }
    out.update({line: r[f"{line}_minor"] for line in LINE_ITEMS})
    out["total"] = r["total_minor"]
    out["unsupported"] = json.loads(r["unsupported"] or "[]")
    return out


@app.command()
def bill(
    ctx: typer.Context,
    site: Annotated[str, typer.Option("--site", help="Site id.")],
    month: Annotated[str | None, typer.Option(help="Month YYYY-MM (default: last full month of data).")] = None,
    engine: EngineOpt = "duckdb",
    export: ExportOpt = None,
    master: MasterOpt = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """A site's utility bill for a month: line items in minor units (cents), peak kW, kWh, unsupported parts.

    The load is the site's 15-minute profile (OCPP meter registers where a port
    has them, else its sessions) under the utility tariff in force each day (sites CSV
    `utility_tariff_id`, `evrevops sites set-tariff --from`). A month with a tariff change is
    billed in two parts, each for its days (JSON: a list). On Spark with
    `--engine spark://host:port --export DIR` (the same SQL, transpiled).
    """
    wh = _engine_warehouse(ctx, engine, export, master)
    lo, _ = _range(month, None, None, None, wh)
    if site not in wstatus.site_ids(wh):
        raise _fail(f"unknown site {site!r}; see `evrevops sites list`")
    unbilled = site_bills.unbilled_sites(wh, [site], lo, lo).to_pylist()
    if unbilled:
        u = unbilled[0]
        raise _fail(
            f"site {site} cannot be billed: {u['reason']}"
            + (f" ({u['utility_tariff_id']})" if u["utility_tariff_id"] else "")
            + "; set one with `evrevops sites set-tariff`"
        )
    try:
        with _busy(f"billing {site} for {lo:%Y-%m}"):
            rows = site_bills.month_bills(wh, lo, lo, [site]).to_pylist()
    except ValueError as exc:  # RateError: a tariff value the bill engine cannot use, named with its tariff
        raise _fail(f"site {site}: {exc}") from None
    if not rows:
        raise _fail(f"site {site} has no port in service in {lo:%Y-%m}")
    recs = [_bill_record(r) for r in rows]  # one per tariff part of the month
    if fmt is OutFormat.json:
        sys.stdout.write(json.dumps(recs[0] if len(recs) == 1 else recs, indent=2) + "\n")
        return
    if fmt is OutFormat.csv:
        flat = [{**r, "unsupported": "; ".join(f"{u['part']}: {u['detail']}" for u in r["unsupported"])} for r in recs]
        render(flat, fmt)
        return
    for rec in recs:
        days = "" if len(recs) == 1 else f", {rec['first_on']} … {rec['last_on']}"
        t = Table(title=Text(f"bill {site} {rec['month']} under {rec['utility_tariff_id']} ({rec['currency']}){days}"))
        t.add_column("line")
        t.add_column("amount", justify="right")
        for line in (*LINE_ITEMS, "total"):
            t.add_row(line, f"{minor_to_decimal(rec[line], rec['currency']):,}")
        out.print(t)
        out.print(f"energy {rec['energy_kwh']:,.1f} kWh, peak {rec['peak_kw']:,.1f} kW")
        for u in rec["unsupported"]:
            out.print(f"[yellow]not billed:[/yellow] {escape(str(u['part']))}: {escape(str(u['detail']))}")
    if len(recs) > 1:
        total = sum(r["total"] for r in recs)
        out.print(f"month total ({len(recs)} tariff parts): {minor_to_decimal(total, recs[0]['currency']):,}")


@app.command()
def price(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option(help="Month YYYY-MM (default: last full month of data).")] = None,
    to_month: Annotated[str | None, typer.Option("--to-month", help="Last month YYYY-MM of a longer period.")] = None,
    site: Annotated[list[str] | None, typer.Option("--site", help="Only these sites (repeatable).")] = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Reprice CDRs under their driver tariff: revenue leakage by site and month.

    `leakage_minor` sums expected − billed over CDRs whose billed total is
    neither the tariff's total rounded once nor its lines rounded one by one
    (positive: under-billed); `rounding_minor` is what rounding alone explains.
    """
    wh = ctx.obj.warehouse(read_only=True)
    lo, hi = _months(wh, month, to_month)
    try:
        with _busy(f"repricing CDRs, {lo:%Y-%m} … {hi:%Y-%m}"):
            table = repricing.leakage(wh, lo, hi, list(site) if site else None)
    except ValueError as exc:  # PricingError: a tariff value the pricing engine cannot use, named
        raise _fail(str(exc)) from None
    render(table, fmt, title=f"revenue leakage {lo:%Y-%m} … {hi:%Y-%m} (minor units)")
    if fmt is OutFormat.table and table.num_rows:
        total = sum(table.column("leakage_minor").to_pylist())
        err.print(f"leakage: {total:,} minor units over {sum(table.column('sessions_mismatched').to_pylist()):,} CDRs")


# ---- what-ifs -------------------------------------------------------------------------------------


def _scope(
    wh: Warehouse,
    site: list[str] | None,
    segment: str | None,
    billed: bool = True,
    months: tuple[dt.date, dt.date] | None = None,
) -> list[str]:
    """The sites of --site or --segment; with *billed*, named sites must have a utility tariff (in *months*)."""
    if bool(site) == bool(segment):
        raise _fail("give --site (one or more) or --segment")
    if segment:
        ids = wstatus.site_ids(wh, segment)
        if not ids:
            raise _fail(f"no sites in segment {segment!r}")
        return ids
    known = set(wstatus.site_ids(wh))
    unknown = [x for x in site or [] if x not in known]
    if unknown:
        raise _fail(f"unknown site {unknown[0]!r}; see `evrevops sites list`")
    span = months or (None, None)
    unbilled = site_bills.unbilled_sites(wh, list(site or []), *span).to_pylist() if billed else []
    if unbilled:
        raise _fail(f"site {unbilled[0]['site_id']} cannot be billed: {unbilled[0]['reason']}")
    return list(site or [])


def _months(wh: Warehouse, month: str | None, to_month: str | None) -> tuple[dt.date, dt.date]:
    if to_month:  # checked before the default month is looked up
        _month_opt(to_month, "--to-month")
    lo, _ = _range(month, None, None, None, wh)
    hi = _month_opt(to_month, "--to-month")[0] if to_month else lo
    if hi < lo:
        raise _fail(f"--to-month {hi:%Y-%m} is before --month {lo:%Y-%m}")
    return lo, hi


@whatif_app.command("power-cap")
def whatif_power_cap(
    ctx: typer.Context,
    site: SiteOpt = None,
    segment: SegmentOpt = None,
    month: MonthOpt = None,
    to_month: LastMonthOpt = None,
    cap_kw: Annotated[
        float | None, typer.Option("--cap-kw", help="Site cap \\[kW]; default: try 10-100 % of each site's peak.")
    ] = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Managed charging under a site kW cap: demand charge saved, energy revenue lost, net margin change.

    Energy above the cap is deferred into each session's idle time before its
    (unchanged) departure; what does not fit is lost with its revenue per kWh.
    Without --cap-kw every cap from 10 % to 100 % of the site's own peak is
    tried and `best` marks the one with the highest margin.
    """
    _finite(cap_kw, "--cap-kw", 0, 1_000_000, above=True)
    wh = ctx.obj.warehouse(read_only=True)
    ids = _scope(wh, site, segment)
    lo, hi = _months(wh, month, to_month)
    try:
        with _busy(f"managing {len(ids)} site(s) under a cap, {lo:%Y-%m} … {hi:%Y-%m}"):
            table = wi.power_cap(wh, lo, hi, ids, cap_kw=cap_kw)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if fmt is OutFormat.table:
        cols = ["site_id", "month", "cap_kw", "baseline_peak_kw", "energy_lost_kwh", "revenue_lost_minor",
                "demand_charge_saved_minor", "bill_change_minor", "margin_change_minor", "best"]  # fmt: skip
        table = table.select([c for c in cols if c in table.column_names])
    render(table, fmt, title=f"what-if power cap, {lo:%Y-%m} … {hi:%Y-%m} (money in minor units)")


@whatif_app.command("price")
def whatif_price(
    ctx: typer.Context,
    tariff: Annotated[str, typer.Option("--tariff", help="The driver tariff to try (OCPI tariff_id, cc*party*id).")],
    site: SiteOpt = None,
    segment: SegmentOpt = None,
    month: MonthOpt = None,
    to_month: LastMonthOpt = None,
    elasticity: Annotated[
        float | None,
        typer.Option(help="Price elasticity of kWh demand, -10 to 10 (e.g. -0.3); default: no demand response."),
    ] = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """The same sessions under another driver tariff: energy revenue side by side.

    No demand response is assumed unless --elasticity is given (the output says which).
    """
    _finite(elasticity, "--elasticity", -10, 10)
    wh = ctx.obj.warehouse(read_only=True)
    ids = _scope(wh, site, segment, billed=False)
    lo, hi = _months(wh, month, to_month)
    try:
        with _busy(f"repricing {len(ids)} site(s) under {tariff}"):
            table = repricing.price_whatif(wh, lo, hi, ids, tariff, elasticity)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    render(table, fmt, title=f"what-if driver tariff {tariff}, {lo:%Y-%m} … {hi:%Y-%m} (minor units)")


@whatif_app.command("tariff")
def whatif_tariff(
    ctx: typer.Context,
    tariff: Annotated[str, typer.Option("--tariff", help="The utility tariff to try (utility_tariff_id).")],
    site: SiteOpt = None,
    segment: SegmentOpt = None,
    month: MonthOpt = None,
    to_month: LastMonthOpt = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """The same load under another utility tariff (e.g. an EV rate): bills side by side, per tariff part of a month."""
    wh = ctx.obj.warehouse(read_only=True)
    lo, hi = _months(wh, month, to_month)
    ids = _scope(wh, site, segment, months=(lo, hi))
    try:
        with _busy(f"billing {len(ids)} site(s) under {tariff}"):
            table = wi.tariff(wh, lo, hi, ids, tariff)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if fmt is OutFormat.table:
        cols = ["site_id", "month", "baseline_tariff", "baseline_total_minor", "scenario_total_minor",
                "demand_charge_saved_minor", "margin_change_minor"]  # fmt: skip
        if "first_on" in table.column_names:
            keys = list(zip(table.column("site_id").to_pylist(), table.column("month").to_pylist(), strict=True))
            if len(set(keys)) < len(keys):  # a month with a tariff change: its parts' days
                cols[2:2] = ["first_on", "last_on"]
        table = table.select([c for c in cols if c in table.column_names])
    render(table, fmt, title=f"what-if tariff {tariff}, {lo:%Y-%m} … {hi:%Y-%m} (money in minor units)")


# ---- demo network ---------------------------------------------------------------------------


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the network's files into.")] = Path(
        "demo-data"
    ),
    ports: Annotated[int, typer.Option(min=8, max=1_000_000, help="Number of ports, about.")] = 500,
    months: Annotated[int, typer.Option(min=1, max=240, help="Months of history.")] = 12,
    seed: Annotated[int, typer.Option(min=0, help="Random seed (same seed, same files).")] = 42,
    end_month: Annotated[
        str | None, typer.Option(help="Last month generated, YYYY-MM (default: fixed in the generator).")
    ] = None,
    dirty_out: Annotated[
        Path | None,
        typer.Option(
            "--dirty-out",
            help="Also write dirty files aimed at the network into this directory (charger clocks reset to 1970, "
            "CDRs dated 9999, NaN energy, 1e19 amounts, a tariff price of 1e20, a .gz that is not gzip): "
            "`evrevops ingest` refuses every record with its reason and the network's figures do not move.",
        ),
    ] = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Write a deterministic demo network in the standard input formats."""
    from evrevops.demo.dirty import write_dirty
    from evrevops.demo.generator import generate as gen

    if end_month is not None:
        end_month = f"{_month_opt(end_month, '--end-month')[0]:%Y-%m}"
    if out_dir.exists() and not out_dir.is_dir():
        raise _fail(f"--out {out_dir} is a file; give a directory to write the network into")
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as prog:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(stage, total=total)
            prog.update(tasks[stage], completed=done, total=total)

        try:
            summary = gen(out_dir, ports=ports, months=months, seed=seed, end_month=end_month, progress=progress)
        except ValueError as exc:
            raise _fail(str(exc)) from None
    if dirty_out is not None:
        if dirty_out.exists() and not dirty_out.is_dir():
            raise _fail(f"--dirty-out {dirty_out} is a file; give a directory")
        summary["dirty_files"] = len(write_dirty(dirty_out, out_dir))
    render(
        [{"item": k, "value": v if not isinstance(v, dict | list) else json.dumps(v)} for k, v in summary.items()],
        fmt,
        title=f"generated {out_dir}",
    )


# ---- the entry point: no traceback reaches a user ----------------------------------------------

LOG_MAX_BYTES = 1 << 20  # the error log is rotated (one old copy, .1) past this size


def log_path() -> Path:
    """The error log: ``$EVREVOPS_LOG``, else ``$XDG_CACHE_HOME/evrevops/evrevops.log`` (``~/.cache/...``)."""
    if os.environ.get("EVREVOPS_LOG"):
        return Path(os.environ["EVREVOPS_LOG"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "evrevops" / "evrevops.log"


_URL_USER = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")


def _log_entry(exc: BaseException) -> str:
    """What the log keeps of a crash: when, the command line (a URL's user:password masked) and the traceback."""
    from importlib import metadata

    try:
        version = metadata.version("evrevops")
    except metadata.PackageNotFoundError:
        version = "?"
    argv = " ".join(_URL_USER.sub(r"\1***@", a) for a in sys.argv)
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    trace = "".join(traceback.format_exception(exc))
    return f"=== {stamp} evrevops {version} (Python {sys.version.split()[0]})\nargv: {argv}\n{trace}\n"


def write_log(exc: BaseException) -> Path | None:
    """Append *exc*'s traceback to :func:`log_path` (else a file in the temp folder); the path, or None."""
    import tempfile

    entry = _log_entry(exc)
    for path in (
        log_path(),
        Path(tempfile.gettempdir()) / f"evrevops-{os.getuid() if hasattr(os, 'getuid') else 0}.log",
    ):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_file() and path.stat().st_size > LOG_MAX_BYTES:
                path.replace(path.with_name(path.name + ".1"))
            with open(path, "a", encoding="utf-8", errors="replace") as f:
                f.write(entry)
            return path
        except OSError:
            continue
    return None


def crash(exc: BaseException) -> int:
    """Report an unexpected exception in one line on stderr, its traceback in the log; the exit code (1)."""
    where = write_log(exc)
    msg = _one_line(exc)
    if len(msg) > 500:
        msg = msg[:500] + "…"
    detail = f"details in {where}" if where else "no log could be written; set EVREVOPS_LOG"
    err.print(
        Text.assemble(
            ("error:", "red"),
            f" {type(exc).__name__}: {msg} ({detail})" if msg else f" {type(exc).__name__} ({detail})",
        )
    )
    return 1


def main() -> None:  # console script entry point
    """Run the CLI; an unexpected exception is one line on stderr (traceback in :func:`log_path`), exit 1."""
    try:
        app()
    except BrokenPipeError:  # the reader of stdout went away (`| head`): nothing to report
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - the one top-level handler
        sys.exit(crash(exc))


if __name__ == "__main__":
    main()
