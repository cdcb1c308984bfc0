"""``evrevops`` command line: a thin shell over the library.

Every data command takes ``--format table|csv|json``; JSON is an array of records whose field
names are the library's (the metric registry's for metrics). Long work shows a progress bar on
stderr. The commands parse their options (:mod:`.options`), call the library and render
(:mod:`.render`); one module per group of commands, the root command in :mod:`.root`, and the
one top-level error handler in :mod:`.errors`.
"""

from __future__ import annotations

import contextlib
import os
import sys

from evrevops.cli import (
    demo,
    energy,
    finance,
    forecast,
    headline,
    ingest,
    ledger,
    metrics,
    pipeline,
    recurring,
    sites,
    uptime,
)
from evrevops.cli.errors import crash, log_path, write_log
from evrevops.cli.render import OutFormat, csv_cell, err, out, records, render
from evrevops.cli.root import app
from evrevops.warehouse import status as wstatus
from evrevops.warehouse.loader import ingest_file

__all__ = ["OutFormat", "app", "crash", "csv_cell", "err", "ingest_file", "log_path", "main", "out", "records", "render",
           "write_log", "wstatus"]  # fmt: skip

# the commands, in the order `evrevops --help` lists them; then the groups of subcommands
app.command()(ingest.ingest)
app.command()(ingest.refresh)
app.command("export")(ledger.export_cmd)
app.command("formats")(ledger.formats_cmd)
app.command()(ledger.quarantine)
app.command()(ledger.status)
app.command()(headline.headline)
app.command()(uptime.uptime)
app.command()(uptime.outages)
app.command()(uptime.stale)
app.command("sla")(uptime.sla_cmd)
app.command("risk")(uptime.risk_cmd)
app.command()(recurring.mrr)
app.command()(recurring.revenue)
app.command("unit-economics")(finance.unit_economics_cmd)
app.command("pnl")(finance.pnl_cmd)
app.command("incentives")(finance.incentives_cmd)
app.command()(energy.bill)
app.command()(energy.price)
app.command()(demo.generate)
app.add_typer(metrics.metrics_app, name="metrics")
app.add_typer(sites.sites_app, name="sites")
app.add_typer(ledger.ledger_app, name="ledger")
app.add_typer(sites.ports_app, name="ports")
app.add_typer(energy.whatif_app, name="whatif")
app.add_typer(uptime.nevi_app, name="nevi")
app.add_typer(pipeline.pipeline_app, name="pipeline")
app.add_typer(forecast.forecast_app, name="forecast")
app.add_typer(finance.model_app, name="model")


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
