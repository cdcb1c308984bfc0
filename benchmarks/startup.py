"""How long a command takes to start: every ``--help`` and a data command, against 0.5 s.

Not a test: it prints a JSON dict (and with ``--out FILE`` writes it there) for ``make bench``.

What "start" means
------------------
A command's *start* is the wall time from launching its process until the command's own work
begins: the CLI imported, the app built, the arguments parsed and the root callback run (``--db``),
so that the command's function is entered with its parsed arguments. It is what a user waits for
before anything happens, and what importing heavy libraries at module level makes slow.

- ``help``: ``evrevops --help``, and ``evrevops <command> --help`` for every group and command, the
  console script run to its end (for help, printing the text *is* the command's work, so the whole
  run is counted: an upper bound of its start).
- ``start``: a data command (``headline``, ``uptime``, ``metrics``, ``status`` on an empty warehouse)
  run by the console script's own code (``evrevops.cli``, the typer app) with the command's function
  replaced by an immediate ``os._exit(0)``: process launch → arguments parsed.
- ``to_warehouse_open`` (reported, no target): the same commands run until they have opened the
  warehouse (``Ctx.warehouse`` returned, then ``os._exit(0)``): the start plus what the command imports
  for its work before it reads (the query layer and its engines: DuckDB, Ibis, Arrow, pandas).
- ``floor``: ``python -c pass`` in the same run: the interpreter's own start, which no change here
  can remove.

Each figure is the best of ``--repeat`` (default 5) runs, each in a fresh process; ``met`` says
whether every ``help`` and ``start`` figure is at most the target (0.5 s).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 0.5
ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).with_name("evrevops"))
DATA_COMMANDS = (["headline"], ["uptime"], ["metrics"], ["status"])

# Runs the CLI as the console script does (evrevops.cli.main → app), stopping the process where the command's
# work begins ("start": its function is entered) or once it has opened the warehouse ("warehouse").
_DRIVER = """
import os, sys
mode, db, words = sys.argv[1], sys.argv[2], sys.argv[3:]
argv = ["--db", db, *words]
from evrevops import cli
if mode == "warehouse":
    from evrevops.cli import options
    _open = options.Ctx.warehouse
    def _opened(self, read_only=False):
        _open(self, read_only)
        os._exit(0)
    options.Ctx.warehouse = _opened
    sys.argv = ["evrevops", *argv]
    cli.main()
else:
    import typer.main
    group = typer.main.get_command(cli.app)
    command = group
    for name in words:
        command = command.commands[name]
    command.callback = lambda *a, **k: os._exit(0)
    group(argv, prog_name="evrevops")
raise SystemExit("the command ran to its end without reaching its mark")
"""


def _best(cmd: list[str], repeat: int) -> float:
    """The shortest wall time [s] of *repeat* runs of *cmd*, each a fresh process (a failure stops the bench)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        elapsed = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        best = min(best, elapsed)
    return round(best, 3)


def command_paths() -> list[list[str]]:
    """Every group and command of the CLI as its words (``["nevi", "export"]``), in ``--help`` order."""
    code = (
        "import json, typer.main\nfrom evrevops import cli\n"
        "def walk(c, path):\n"
        "    out = [path] if path else []\n"
        "    for name, sub in getattr(c, 'commands', {}).items():\n"
        "        out += walk(sub, [*path, name])\n"
        "    return out\n"
        "print(json.dumps(walk(typer.main.get_command(cli.app), [])))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(r.stdout)


def measure(repeat: int) -> dict:
    """The figures (see the module's docstring)."""
    floor = _best([sys.executable, "-c", "pass"], repeat)
    help_s = {"evrevops --help": _best([EXE, "--help"], repeat)}
    for path in command_paths():
        help_s[f"evrevops {' '.join(path)} --help"] = _best([EXE, *path, "--help"], repeat)
    start, opened = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "empty.duckdb")
        make = f"from evrevops.warehouse.db import open_warehouse; open_warehouse({db!r}).close()"
        subprocess.run([sys.executable, "-c", make], check=True)  # the empty warehouse (read-only commands make none)
        for words in DATA_COMMANDS:
            name = f"evrevops {' '.join(words)}"
            start[name] = _best([sys.executable, "-c", _DRIVER, "start", db, *words], repeat)
            opened[name] = _best([sys.executable, "-c", _DRIVER, "warehouse", db, *words], repeat)
    held = {**help_s, **start}
    worst = max(held, key=held.__getitem__)
    return {
        "target_s": TARGET_S,
        "repeat": repeat,
        "floor_python_pass_s": floor,
        "help_s": help_s,
        "start_s": start,
        "to_warehouse_open_s": opened,
        "worst": {"command": worst, "s": held[worst]},
        "met": held[worst] <= TARGET_S,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per figure; the best counts (default 5)")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args()
    result = measure(args.repeat)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
