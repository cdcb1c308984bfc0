"""``generate``: a deterministic demo network in the standard input formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from evrevops.cli.errors import fail
from evrevops.cli.options import (
    FormatOpt,
    month_opt,
)
from evrevops.cli.render import OutFormat, progress_bar, render


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
        end_month = f"{month_opt(end_month, '--end-month')[0]:%Y-%m}"
    if out_dir.exists() and not out_dir.is_dir():
        raise fail(f"--out {out_dir} is a file; give a directory to write the network into")
    with progress_bar() as prog:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(stage, total=total)
            prog.update(tasks[stage], completed=done, total=total)

        try:
            summary = gen(out_dir, ports=ports, months=months, seed=seed, end_month=end_month, progress=progress)
        except ValueError as exc:
            raise fail(str(exc)) from None
    if dirty_out is not None:
        if dirty_out.exists() and not dirty_out.is_dir():
            raise fail(f"--dirty-out {dirty_out} is a file; give a directory")
        summary["dirty_files"] = len(write_dirty(dirty_out, out_dir))
    render(
        [{"item": k, "value": v if not isinstance(v, dict | list) else json.dumps(v)} for k, v in summary.items()],
        fmt,
        title=f"generated {out_dir}",
    )
