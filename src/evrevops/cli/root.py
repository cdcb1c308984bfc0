"""The root command: ``app`` and the options every command shares (``--db``, ``--csv-raw``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evrevops.cli.options import Ctx
from evrevops.cli.render import settings

app = typer.Typer(
    help="evrevops: revenue operations for EV charging networks.\n\n"
    "An unexpected error prints one line and exits 1; its traceback goes to the error log, $EVREVOPS_LOG "
    "(default ~/.cache/evrevops/evrevops.log). Expected errors (a value out of range, an unknown name) exit 2.",
    no_args_is_help=True,
    add_completion=False,
)


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
    settings["csv_raw"] = csv_raw
    ctx.obj = Ctx(db, ctx)  # no --db: the default is looked up when a command asks for the warehouse
