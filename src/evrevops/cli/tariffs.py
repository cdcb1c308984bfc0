"""Tariffs: ``tariffs list`` (utility and driver tariffs) and ``tariffs show ID`` (structure and sites)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from evrevops.cli.errors import unknown
from evrevops.cli.options import FormatOpt
from evrevops.cli.render import OutFormat, render, stdout

tariffs_app = typer.Typer(
    help="Tariffs: the utility tariffs (URDB) and driver tariffs (OCPI) the warehouse knows.", no_args_is_help=True
)

_NONE = (
    "no tariffs in the warehouse; ingest a URDB rate record (a utility tariff) or OCPI tariffs (driver prices) "
    "with `evrevops ingest`"
)


@tariffs_app.command("list")
def tariffs_list(ctx: typer.Context, fmt: FormatOpt = OutFormat.table) -> None:
    """List every tariff: id, kind (utility or driver), name, utility, currency, effective dates and sites.

    A utility tariff's ``sites`` are the sites on it now; a driver tariff's, the sites whose sessions it priced
    (its ``name`` is its OCPI type and its ``utility`` column the party that published it).
    """
    from evrevops.query import tariffs as qtariffs

    result = qtariffs.tariffs(ctx.obj.warehouse(read_only=True))
    if not result.num_rows and fmt is OutFormat.table:
        stdout().print(_NONE)
        return
    render(result, fmt, title=result.title)


@tariffs_app.command("show")
def tariffs_show(
    ctx: typer.Context,
    tariff: Annotated[str, typer.Argument(help="A tariff id (see `evrevops tariffs list`).")],
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Show one tariff: its energy rates by period, demand and fixed charges (a utility tariff) or its price
    components (a driver tariff), and the sites on it.

    Rates are the record's exact decimals with their unit. JSON is one object with ``summary``, ``structure``,
    ``sites`` and ``notes``; CSV is the structure only.
    """
    from evrevops.query import tariffs as qtariffs

    wh = ctx.obj.warehouse(read_only=True)
    try:
        found = qtariffs.tariff(wh, tariff)
    except KeyError:
        raise unknown(tariff, qtariffs.tariff_ids(wh), "tariff", see="see `evrevops tariffs list`") from None
    if fmt is OutFormat.json:
        from evrevops.cli.render import records

        doc = {
            "summary": records(found.summary.table)[0],
            "structure": records(found.structure.table),
            "sites": records(found.sites.table),
            "notes": list(found.notes),
        }
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return
    if fmt is OutFormat.csv:
        render(found.structure, fmt)
        return
    render(found.summary, fmt, title=found.summary.title)
    render(found.structure, fmt, title=found.structure.title)
    for note in found.notes:
        stdout().print(f"note: {note}", markup=False, highlight=False)
    if found.sites.num_rows:
        render(found.sites, fmt, title=found.sites.title)
    else:
        stdout().print(f"no site is on {tariff}", markup=False, highlight=False)
