"""The CLI tour on a small demo, byte for byte against the goldens in ``tests/fixtures/tour/``.

``tools/tour.py`` generates and ingests a small deterministic demo with the CLI (``build_demo``),
then runs a fixed list of commands in process (``run_tour``: the README's tour and every data
command of its command table, some in CSV and JSON) and writes each one's command line, exit
code, stdout and stderr to ``NN-name.txt``. This test does that with the code under test and
compares every file with its golden: a refactor of the package's internals must not change a
byte of any command's output. The goldens were first made with the code at commit 8b72f52 (see
``tests/fixtures/tour/README.md``).

When an output is meant to change, rewrite the goldens from the working tree and review the diff:

    EVREVOPS_UPDATE_TOUR=1 .venv/bin/pytest tests/test_tour.py
    git diff tests/fixtures/tour/

(the test is then skipped, saying how many files it wrote). Outside pytest, two tours compare with
``python tools/tour.py --compare DIR_A DIR_B``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "fixtures" / "tour"
UPDATE = os.environ.get("EVREVOPS_UPDATE_TOUR", "") == "1"
SHOWN = 5  # differing files whose diff a failure shows
TIMEOUT_S = 1800  # the demo and the tour take a minute or two; far more is a hang


def _load_tour():
    """``tools/tour.py`` as a module (``tools`` is not a package on the path)."""
    spec = importlib.util.spec_from_file_location("evrevops_tools_tour", ROOT / "tools" / "tour.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tour = _load_tour()


@pytest.fixture(scope="session")
def tour_outputs(tmp_path_factory) -> Path:
    """The demo built and the tour run with the code under test: the folder of its ``NN-name.txt``.

    In a process of its own (``python tools/tour.py``) with a random string hash seed, so that an
    output depending on a set's order shows up as a difference; it imports ``evrevops`` as this
    process does (the editable install, or ``PYTHONPATH``).
    """
    base = tmp_path_factory.mktemp("tour")
    out = base / "out"
    cmd = [sys.executable, str(ROOT / "tools" / "tour.py"), "--demo", str(base / "demo"), "--out", str(out)]
    r = subprocess.run(cmd, env=tour.tour_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert r.returncode == 0, f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return out


def test_every_output_of_the_tour_is_its_golden(tour_outputs):
    got = tour.tour_files(tour_outputs)
    assert len(got) > len(tour.TOUR), f"the tour wrote {len(got)} files"
    if UPDATE:
        for old in tour.tour_files(GOLDEN).values():
            old.unlink()
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name, path in got.items():
            shutil.copyfile(path, GOLDEN / name)
        pytest.skip(f"EVREVOPS_UPDATE_TOUR=1: wrote {len(got)} goldens to {GOLDEN}; review `git diff {GOLDEN}`")
    want = tour.tour_files(GOLDEN)
    assert want, f"no goldens in {GOLDEN}; make them with EVREVOPS_UPDATE_TOUR=1 (see this module's docstring)"
    diffs = tour.differences(GOLDEN, tour_outputs)
    if diffs:
        names = [d.split("\n", 1)[0] for d in diffs]
        shown = "".join(diffs[:SHOWN])
        pytest.fail(
            f"{len(diffs)} of {len(set(want) | set(got))} tour outputs differ from the goldens "
            f"(the first {min(SHOWN, len(diffs))} below; outputs kept in {tour_outputs}):\n"
            + "\n".join(names)
            + "\n\n"
            + (shown if len(shown) <= 60_000 else shown[:60_000] + "\n[… diff cut at 60,000 characters]\n"),
            pytrace=False,
        )


def test_differences_names_a_changed_a_missing_and_an_extra_file(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "01-same.txt").write_text("x\n")
    (b / "01-same.txt").write_text("x\n")
    (a / "02-changed.txt").write_text("one\ntwo\n")
    (b / "02-changed.txt").write_text("one\n2\n")
    (a / "03-missing.txt").write_text("gone\n")
    (b / "04-extra.txt").write_text("new\n")
    (a / "05-bytes.txt").write_bytes(b"line\n")
    (b / "05-bytes.txt").write_bytes(b"line\r\n")
    diffs = tour.differences(a, b)
    assert len(diffs) == 4
    assert "-two\n+2\n" in diffs[0] and diffs[0].startswith("---")
    assert diffs[1].startswith("03-missing.txt: only in") and diffs[2].startswith("04-extra.txt: only in")
    assert "05-bytes.txt" in diffs[3]
    assert tour.main(["--compare", str(a), str(b)]) == 1
    assert tour.main(["--compare", str(a), str(a)]) == 0


READABLE_WIDTH = 120  # characters: the widest line a report's table prints by default
# outputs that are not a report's table: SQL and prose (`metrics explain`), the ingest and generate summaries
_NOT_A_TABLE = ("metrics explain", " ingest ", " generate ")
_CATALOG = ("metrics list", "metrics docs")  # they list the registry: metric names and units as declared


def _table_outputs() -> dict[str, tuple[str, str]]:
    """The goldens of reports printed as tables (no --format csv/json): name -> (stdout, command line)."""
    found = {}
    for name, path in tour.tour_files(GOLDEN).items():
        text = path.read_text(encoding="utf-8")
        command = text.splitlines()[0]
        if any(f in command for f in ("--format csv", "--format json", "-f csv", "-f json", *_NOT_A_TABLE)):
            continue
        found[name] = (text.split("----- stdout -----\n", 1)[1].split("----- stderr -----", 1)[0], command)
    return found


def test_every_report_table_of_the_tour_is_readable():
    """Reviewed goldens, checked: every table fits 120 characters, no body cell is blank, money is in major units
    with its currency (no '(minor units)' title, every money header names a currency), shares are percentages."""
    tables = _table_outputs()
    assert len(tables) > 50
    for name, (out, _) in tables.items():
        lines = out.splitlines()
        wide = [x for x in lines if len(x) > READABLE_WIDTH]
        assert not wide, f"{name}: {len(wide)} lines over {READABLE_WIDTH} characters: {wide[0][:140]}"
        blank = [x for x in lines if x.startswith("│") and any(c.strip() == "" for c in x.strip("│").split("│"))]
        assert not blank, f"{name}: a blank cell in {blank[0]}"
        if not any(c in tables[name][1] for c in _CATALOG):
            assert "minor units" not in out, f"{name}: money shown in minor units"
            assert "_minor" not in out, f"{name}: a machine money column in a person's table"
