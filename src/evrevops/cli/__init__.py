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
    coverage,
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
    tariffs,
    uptime,
)
from evrevops.cli.columns import add_column_options
from evrevops.cli.errors import crash, log_path, write_log
from evrevops.cli.render import OutFormat, csv_cell, err, out, records, render
from evrevops.cli.root import app

__all__ = ["OutFormat", "app", "crash", "csv_cell", "err", "ingest_file", "log_path", "main", "out", "records", "render",
           "write_log", "wstatus"]  # fmt: skip

# the commands, in the order `evrevops --help` lists them (a name, or None for the function's); then the groups
_COMMANDS = (
    (None, ingest.ingest), (None, ingest.refresh), ("export", ledger.export_cmd), ("formats", ledger.formats_cmd),
    (None, ledger.quarantine), (None, ledger.status), (None, headline.headline), (None, uptime.uptime),
    (None, uptime.outages), (None, uptime.stale), (None, coverage.coverage), ("sla", uptime.sla_cmd), ("risk", uptime.risk_cmd),
    (None, recurring.mrr), (None, recurring.revenue), ("unit-economics", finance.unit_economics_cmd),
    ("pnl", finance.pnl_cmd), ("incentives", finance.incentives_cmd), (None, energy.bill), (None, energy.price),
    (None, demo.generate),
)  # fmt: skip
_GROUPS = (
    ("metrics", metrics.metrics_app), ("sites", sites.sites_app), ("tariffs", tariffs.tariffs_app),
    ("ledger", ledger.ledger_app), ("ports", sites.ports_app), ("whatif", energy.whatif_app), ("nevi", uptime.nevi_app),
    ("pipeline", pipeline.pipeline_app), ("forecast", forecast.forecast_app), ("model", finance.model_app),
)  # fmt: skip
for _name, _command in _COMMANDS:
    app.command(_name)(_command)
for _name, _group in _GROUPS:
    app.add_typer(_group, name=_name)
add_column_options(app)  # --columns and --all beside every --format


def __getattr__(name: str) -> object:
    """``ingest_file`` (the loader's, which ``ingest`` calls through here so a test can replace it) and ``wstatus``,
    imported when first asked for rather than with the CLI (a command starts without the warehouse's imports)."""
    if name == "ingest_file":
        from evrevops.warehouse.loader import ingest_file

        return ingest_file
    if name == "wstatus":
        from evrevops.warehouse import status as wstatus

        return wstatus
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
