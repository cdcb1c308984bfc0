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
from enum import StrEnum
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from evrevops.core.money import minor_to_decimal

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
settings = {"csv_raw": False}


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


def render(data: TableResult | pa.Table | list[dict], fmt: OutFormat, title: str | None = None) -> None:
    """*data* on stdout as *fmt*: a table under *title*, CSV with a header line, or a JSON array of records."""
    import pyarrow as pa

    from evrevops.query.result import TableResult

    if isinstance(data, TableResult):
        data = data.table
    rows = records(data)
    cols = list(data.column_names) if isinstance(data, pa.Table) else (list(rows[0]) if rows else [])
    if fmt is OutFormat.json:
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    elif fmt is OutFormat.csv:
        if not settings["csv_raw"]:
            rows = [{k: csv_cell(v) for k, v in r.items()} for r in rows]
        _write_csv(cols, rows)
    else:
        # an empty table says so (a blank grid reads as a failure)
        t = Table(title=_text(title), show_lines=False, caption=None if rows else "no rows")
        for c in cols:
            t.add_column(Text(str(c)), overflow="fold")
        for r in rows:  # cells are text, never markup: a site named "[/x]" prints as it is
            t.add_row(*[_cell(r.get(c)) for c in cols])
        stdout().print(t)


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
    """A terminal table of *columns* (name → header): a column with a declared unit is a number, right-aligned;
    one in minor units is shown in whole units of the row's ``currency``."""
    from evrevops.query.result import MINOR

    rows = records(result.table)
    t = Table(title=_text(title))
    cols = list(columns)
    for c in cols:
        numeric = c in result.units
        t.add_column(columns[c], justify="right" if numeric else "left", overflow="fold")
    for r in rows:
        cells = []
        for c in cols:
            v = r[c]
            if v is None:
                cells.append("")
            elif result.units.get(c) == MINOR:
                cells.append(f"{minor_to_decimal(v, r['currency']):,.0f}")
            elif isinstance(v, float):
                cells.append(f"{v:g}")
            else:
                cells.append(str(v))
        t.add_row(*[Text(c) for c in cells])
    stdout().print(t)
    err.print(Text(f"money in {', '.join(sorted({r['currency'] for r in rows if r.get('currency')}))}, whole units"))


def transposed(table: TableResult | pa.Table, key: str, title: str) -> None:
    """A few wide rows as a terminal table: one column per row (named by *key*), one line per field."""
    from evrevops.query.result import TableResult

    if isinstance(table, TableResult):
        table = table.table
    rows = records(table)
    t = Table(title=_text(title))
    t.add_column("field")
    for r in rows:
        t.add_column(Text(str(r[key])), justify="right")
    for f in table.column_names:
        if f == key:
            continue
        t.add_row(f, *[Text("" if r[f] is None else (f"{r[f]:,}" if isinstance(r[f], int) and not isinstance(r[f], bool) else str(r[f]))) for r in rows])  # fmt: skip
    stdout().print(t)
