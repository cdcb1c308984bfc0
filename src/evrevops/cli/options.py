"""Options shared by the commands, and the parsers that check their values before any work (a clear error, exit 2)."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from evrevops.cli.errors import busy, fail
from evrevops.cli.render import OutFormat
from evrevops.core.calendar import month_range
from evrevops.uptime.timeline_tables import DEFAULT_OFFLINE_AFTER_S

if TYPE_CHECKING:  # the warehouse and the query layer are imported by the commands that use them: a fast start
    from evrevops.warehouse.db import Warehouse
    from evrevops.warehouse.protocol import WarehouseLike

FormatOpt = Annotated[
    OutFormat,
    typer.Option(
        "--format",
        "-f",
        help="Output format: table (for people: money in major units with its currency, shares as %, units in "
        "the headers, what fits 120 characters), csv or json (for machines: exact values, money as integer minor "
        "units in *_minor fields, shares as fractions 0-1, every column). CSV text cells that start with = + - @, a "
        "tab or a carriage return get a leading ' so a spreadsheet shows them instead of running them (see --csv-raw).",
    ),
]
SiteOpt = Annotated[list[str] | None, typer.Option("--site", help="Site id (repeatable).")]
SegmentOpt = Annotated[str | None, typer.Option("--segment", help="Every site of a segment.")]
MonthOpt = Annotated[str | None, typer.Option(help="Month YYYY-MM (default: last full month of data).")]
LastMonthOpt = Annotated[str | None, typer.Option("--to-month", help="Last month YYYY-MM of a longer period.")]

_DB_HINT = "--db names the warehouse's DuckDB file; default: $EVREVOPS_DB, else ./evrevops.duckdb"


class Ctx:
    """What the root command hands its subcommands: the warehouse file (``--db``, else the default, looked up when
    first asked), opened on demand."""

    def __init__(self, db: Path | None, root: typer.Context | None = None):
        self._db = db
        self.root = root

    @property
    def db(self) -> Path:
        """``--db``, else :func:`evrevops.warehouse.db.default_path`."""
        if self._db is None:
            from evrevops.warehouse.db import default_path

            self._db = default_path()
        return self._db

    def warehouse(self, read_only: bool = False) -> Warehouse:
        """Open the warehouse for this command; it is closed when the command ends."""
        from evrevops.warehouse.db import Warehouse, WarehouseError

        if self.db.is_dir():
            raise fail(f"warehouse {self.db} is a directory; {_DB_HINT}")
        if read_only and not self.db.exists():  # a typo in --db must not make an empty warehouse
            raise fail(f"no warehouse at {self.db}; make one with `evrevops ingest PATH...`; {_DB_HINT}")
        try:
            wh = Warehouse(self.db, read_only=read_only and self.db.exists())
        except WarehouseError as exc:
            raise fail(f"{exc}; {_DB_HINT}") from None
        if self.root is not None:
            self.root.call_on_close(wh.close)
        return wh


FIRST_YEAR, LAST_YEAR = 1900, 2199  # dates and months outside are refused (the calendar and Arrow end nearby)


def in_years(d: dt.date | dt.datetime, opt: str, text: str, what: str) -> None:
    """Refuse a date outside :data:`FIRST_YEAR` … :data:`LAST_YEAR`, naming the option and what it takes."""
    if not FIRST_YEAR <= d.year <= LAST_YEAR:
        raise fail(f"{opt}: {text} is out of range; give {what} in the years {FIRST_YEAR}-{LAST_YEAR}")


def month_opt(text: str, opt: str = "--month") -> tuple[dt.date, dt.date]:
    """``--month YYYY-MM`` as (first day, last day), or a clear error."""
    try:
        lo, hi = month_range(text)
    except ValueError:
        raise fail(f"{opt}: not a month (YYYY-MM): {text!r}") from None
    in_years(lo, opt, text, "a month YYYY-MM")
    return lo, hi


def date_opt(text: str, opt: str) -> dt.date:
    """A ``YYYY-MM-DD`` option as a date, or a clear error."""
    try:
        d = dt.date.fromisoformat(text)
    except ValueError:
        raise fail(f"{opt}: not a date (YYYY-MM-DD): {text!r}") from None
    in_years(d, opt, text, "a date YYYY-MM-DD")
    return d


def instant_opt(text: str, opt: str) -> dt.datetime:
    """An instant option (``YYYY-MM-DD[THH:MM[:SS]]``, an offset or ``Z``; UTC when none) as naive UTC."""
    try:
        t = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"{opt}: not an instant (YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC): {text!r}") from None
    in_years(t, opt, text, "an instant")
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


def finite(value: float | None, opt: str, lo: float | None = None, hi: float | None = None, *,
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
    raise fail(f"{opt} must be {want}, not {value!r}")


def date_range(
    month: str | None, day: str | None, start: str | None, end: str | None, wh: WarehouseLike
) -> tuple[dt.date, dt.date]:
    """The local dates ``--day``, ``--from``/``--to`` or ``--month`` give, else the last full month of data."""
    if day:
        d = date_opt(day, "--day")
        return d, d
    if start or end:
        if not (start and end):
            raise fail("--from and --to go together (first and last local date YYYY-MM-DD)")
        lo, hi = date_opt(start, "--from"), date_opt(end, "--to")
        if hi < lo:
            raise fail(f"--to {hi} is before --from {lo}")
        return lo, hi
    if month:
        return month_opt(month)
    from evrevops.query import period as qperiod

    last = qperiod.last_full_month(wh)
    if last is None:
        raise fail("the warehouse has no sessions or telemetry yet; run `evrevops ingest` first")
    return last


def month_first(wh: WarehouseLike, month: str | None) -> dt.date:
    """``--month`` as its first day, else the first day of the last full month of data."""
    return date_range(month, None, None, None, wh)[0]


EngineOpt = Annotated[
    str,
    typer.Option(
        help="duckdb (the warehouse file), spark (a local Spark session), or a Spark master URL "
        "(local[N], spark://host:port, yarn, k8s://…) reading --export."
    ),
]
ExportOpt = Annotated[Path | None, typer.Option(help="With a Spark engine: the `evrevops export` folder.")]
MasterOpt = Annotated[str | None, typer.Option(help="With --engine spark: the master URL (default local[2]).")]


def engine_warehouse(ctx: typer.Context, engine: str, export: Path | None, master: str | None):
    """The warehouse file (read-only) for DuckDB, or a Spark session over the export."""
    from evrevops.warehouse.engine import open_engine, parse

    try:
        kind, url = parse(engine, master)
        if kind == "duckdb":
            return ctx.obj.warehouse(read_only=True)
        with busy(f"starting Spark ({url}) on {export}"):
            return open_engine(engine, export, master)
    except ValueError as exc:
        raise fail(str(exc)) from None


# `--as-of` has one meaning on every command: use only what was known by then. A day (YYYY-MM-DD) means the end
# of that day (its last instant, UTC, as ingest's --latest); an instant (YYYY-MM-DDTHH:MM, UTC unless an offset is
# given) means that instant. One option (AsOfOpt) and one parser (as_of_opt); each command converts the result to what
# its query needs: the telemetry commands a horizon instant (as_of_instant), the pipeline and forecast commands, which
# count whole days, a day (as_of_day, which refuses an instant rather than read past it).
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Use only what was known by then: a day YYYY-MM-DD (the end of that day) or an instant "
        "YYYY-MM-DDTHH:MM, UTC (pipeline and forecast: days only); default: all the data (pipeline and forecast: "
        "to the end of the last full month).",
    ),
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
OFFLINE_MIN = DEFAULT_OFFLINE_AFTER_S // 60


_DAY = re.compile(r"\d{4}-?\d{2}-?\d{2}")  # a date without a time of day (ISO 8601, extended or basic)


@dataclass(frozen=True)
class AsOf:
    """What ``--as-of`` means: the instant by which data was known (naive UTC), and the day when one was given."""

    instant: dt.datetime
    day: dt.date | None


def as_of_opt(text: str) -> AsOf:
    """``--as-of`` parsed: a day ``YYYY-MM-DD`` is the end of that day (its last microsecond, UTC), an instant
    (see :func:`instant_opt`) is itself; a clear error otherwise."""
    if _DAY.fullmatch(text.strip()):
        day = date_opt(text.strip(), "--as-of")
        return AsOf(dt.datetime.combine(day, dt.time.max), day)
    return AsOf(instant_opt(text, "--as-of"), None)


def as_of_instant(text: str | None) -> dt.datetime | None:
    """``--as-of`` as a data horizon (naive UTC; a day is its end), or None."""
    return None if text is None else as_of_opt(text).instant


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


def as_of_day(text: str | None, month: str | None = None) -> dt.date | None:
    """``--as-of`` as a day, else the last day of ``--month``, else None; for commands that count whole days, which
    refuse an instant (the day it falls in would read past it)."""
    if text:
        as_of = as_of_opt(text)
        if as_of.day is None:
            raise fail(f"--as-of: this command counts whole days; give a day YYYY-MM-DD (its end), not {text!r}")
        return as_of.day
    if month:
        return month_opt(month)[1]
    return None


def month_span(wh: WarehouseLike, month: str | None, to_month: str | None) -> tuple[dt.date, dt.date]:
    """The first days of ``--month`` (default: the last full month of data) and ``--to-month`` (default: the same)."""
    if to_month:  # checked before the default month is looked up
        month_opt(to_month, "--to-month")
    lo, _ = date_range(month, None, None, None, wh)
    hi = month_opt(to_month, "--to-month")[0] if to_month else lo
    if hi < lo:
        raise fail(f"--to-month {hi:%Y-%m} is before --month {lo:%Y-%m}")
    return lo, hi
