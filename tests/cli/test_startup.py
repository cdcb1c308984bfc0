"""A command starts without the heavy libraries: they are imported by the commands that use them.

Structural, not timed (the time is `benchmarks/startup.py`'s): importing the CLI, building its
typer app and printing every ``--help`` must import none of the libraries the engines stand on
(DuckDB, Ibis, Arrow, pandas, NumPy, Spark, ...); a module-level import of one of them in the CLI,
in what the CLI's options import (the core, the choices the options name), makes it fail and names
the module. Each check runs in a fresh interpreter, since this test session has them all loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "pandas", "pyarrow", "ibis", "duckdb", "numpy", "scipy", "statsforecast", "pyspark", "jinja2", "sqlglot",
    "polars", "jsonschema", "referencing", "PySAM", "hypothesis",
)  # fmt: skip

_LOADED = f"""
import json, sys
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})))
"""


def _heavy_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter has loaded after running *code* (the last line of its stdout)."""
    r = subprocess.run([sys.executable, "-c", code + _LOADED], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def _why(loaded: list[str], code: str) -> str:
    """Which modules imported the first heavy one: its import chain (from ``python -X importtime``)."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, timeout=300)
    chain: list[str] = []
    depth = None
    for line in r.stderr.splitlines():  # importtime lists a module after the modules it imported, indented deeper
        cell = line.rsplit("|", 1)[-1]
        name, level = cell.strip(), (len(cell) - len(cell.lstrip()) - 1) // 2
        if depth is None and loaded and name == loaded[0]:
            chain, depth = [name], level
        elif depth is not None and level < depth:
            chain.append(name)
            depth = level
    return f"heavy modules loaded: {loaded[:8]}; {loaded[0] if loaded else ''} came by {' <- '.join(chain)}"


def test_importing_the_cli_and_building_its_app_loads_no_heavy_library():
    code = "import typer.main\nfrom evrevops import cli\ntyper.main.get_command(cli.app)\n"
    loaded = _heavy_after(code)
    assert loaded == [], _why(loaded, code)


def test_every_help_loads_no_heavy_library():
    # every group's and command's --help, as the console script runs it (the root callback included)
    code = """
import contextlib, io
import typer.main
from evrevops import cli
group = typer.main.get_command(cli.app)
def paths(command, words):
    found = [words]
    for name, sub in getattr(command, "commands", {}).items():
        found += paths(sub, [*words, name])
    return found
helps = 0
for words in paths(group, []):
    with contextlib.redirect_stdout(io.StringIO()) as text:
        group.main([*words, "--help"], prog_name="evrevops", standalone_mode=False)
    assert "Usage: evrevops" in text.getvalue(), words
    helps += 1
assert helps > 40, helps
"""
    loaded = _heavy_after(code)
    assert loaded == [], _why(loaded, code)


def test_the_core_loads_no_heavy_library():
    # month arithmetic and the choices the options name are at hand; pandas and Arrow come with the site calendar
    code = "import pkgutil, importlib, evrevops.core as c\n" + (
        "for m in pkgutil.iter_modules(c.__path__):\n    importlib.import_module(f'evrevops.core.{m.name}')\n"
    )
    loaded = _heavy_after(code)
    assert loaded == [], _why(loaded, code)
