"""The one renderer: table, CSV or JSON on stdout.

JSON is an array of records whose field names are the library's; CSV neutralises text cells a
spreadsheet would run as a formula (unless ``--csv-raw``); a table's cells are text, never markup,
and an empty table says 'no rows' under its grid.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
import re
import sys
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from evrevops.cli.tables import DEFAULT_COLUMNS, field_table, person_table

if TYPE_CHECKING:  # Arrow and the query layer are imported when there is something to render: a fast start
    import pyarrow as pa

    from evrevops.query.result import TableResult

out = Console()
err = Console(stderr=True, soft_wrap=True)


def stdout() -> Console:
    """The console tables and text print on: ``evrevops.cli.out``, which a caller may replace (e.g. by a wider one)."""
    package = sys.modules.get("evrevops.cli")
    console = getattr(package, "out", out)
    return console if isinstance(console, Console) else out


# Options of the root command that outlive the callback (read by render).
settings: dict[str, object] = {"csv_raw": False, "columns": None, "all": False, "command": None}


class OutFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _plain(v: object) -> object:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    return v


def records(data: pa.Table | list[dict]) -> list[dict]:
    import pyarrow as pa

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


def _write_csv(cols: list[str], rows: list[dict]) -> None:
    """CSV on stdout, lines ending in ``\\n``; a cell holding a line break (``\\r`` too) is quoted."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\r\n")  # quotes a cell holding \r or \n
    for row in [dict(zip(cols, cols, strict=True)), *rows]:
        w.writerow(row)
        sys.stdout.write(buf.getvalue()[:-2] + "\n")
        buf.seek(0)
        buf.truncate()


def _selected(cols: list[str]) -> list[str]:
    """*cols* as ``--columns`` names them (in its order), else all of them."""
    asked = settings["columns"]
    if not asked:
        return cols
    from evrevops.cli.errors import unknown

    names = [c.strip() for c in str(asked).split(",") if c.strip()]
    for n in names:
        if n not in cols:
            raise unknown(n, cols, "column", lead="columns:")
    return names


def render(
    data: TableResult | pa.Table | list[dict],
    fmt: OutFormat,
    title: str | None = None,
    *,
    show: list[str] | None = None,
) -> None:
    """*data* on stdout as *fmt*: a table under *title* for a person (:mod:`.present`; the columns that fit
    :data:`WIDTH`, *show* first), CSV with a header line, or a JSON array of records (every column, exact values);
    ``--columns`` picks the columns of all three, ``--all`` shows a table's every column."""
    import pyarrow as pa

    from evrevops.query.result import TableResult, units_of

    units: Mapping[str, str] | None = None
    if isinstance(data, TableResult):
        units = data.units
        data = data.table
    rows = records(data)
    cols = list(data.column_names) if isinstance(data, pa.Table) else (list(rows[0]) if rows else [])
    units = units_of(cols) if units is None else units
    picked = _selected(cols)
    if fmt is not OutFormat.table:
        rows = [{c: r.get(c) for c in picked} for r in rows]
        if not rows:
            err.print(Text(f"no rows{f': {title}' if title else ''}"))
    if fmt is OutFormat.json:
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    elif fmt is OutFormat.csv:
        if not settings["csv_raw"]:
            rows = [{k: csv_cell(v) for k, v in r.items()} for r in rows]
        _write_csv(picked, rows)
    else:
        show = show or DEFAULT_COLUMNS.get(str(settings["command"]))
        person_table(
            rows, picked, units, title, show=show, chosen=bool(settings["columns"]), every=bool(settings["all"])
        )


def progress_bar() -> Progress:
    """A progress bar on stderr for long work: each task's description (text, never markup: it names files), the
    bar, done of total and the time elapsed; it is gone when the work is done."""
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def money_table(result: TableResult, title: str, columns: dict[str, str]) -> None:
    """A terminal table of *columns* (name → header), in that order, units as :func:`render` shows them."""
    rows = records(result.table)
    person_table(rows, list(columns), result.units, title, show=list(columns), chosen=True, labels=columns)


def transposed(table: TableResult | pa.Table, key: str, title: str) -> None:
    """A few wide rows as a terminal table: one column per row (named by *key*), one line per field."""
    from evrevops.query.result import TableResult, units_of

    units = table.units if isinstance(table, TableResult) else units_of(table.column_names)
    if isinstance(table, TableResult):
        table = table.table
    field_table(records(table), list(table.column_names), key, units, title)
