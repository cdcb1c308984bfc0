"""Bench stage: `make demo` on a fresh clone (target ≤ 180 s on 2 cores), total and per step.

Clones the repository (its committed HEAD) into a temporary folder, runs ``make demo`` there (a
new ``.venv``: the runtime install from ``requirements.lock``, then generate, ingest, the dirty
ingest and the reports) and reads the per-step seconds from the clone's ``demo.log`` (the lines
``tools/step.py`` writes). Prints one JSON dict::

    {"stage": "make demo on a fresh clone", "seconds": 141.2, "target_seconds": 180, "ok": true,
     "steps": {"install": {"seconds": 31.0, "cpu_seconds": 20.5}, "generate": {...}, ...},
     "load_average": [1.2, ...], "venv_mb": 420, "cores": 2, ...}

The CPU seconds of each step (user + system of its processes) are what other work on the machine
does not inflate; the load average before and after says how busy it was.

Usage: ``python benchmarks/demo_clone.py [--repo PATH] [--keep] [--make-args 'PORTS=100']``.
The wheels come from pip's usual sources (its cache, a configured index or find-links): the
install's figure depends on them, and the JSON says which pip configuration was used.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 180.0
ROOT = Path(__file__).resolve().parents[1]
DONE = re.compile(
    r"^\[[0-9:]{8}\] (?P<name>[\w.-]+): (?:done in|exit \d+ after) (?P<s>[0-9.]+) s(?: \(cpu (?P<cpu>[0-9.]+) s\))?$"
)


def steps_from_log(text: str) -> dict[str, dict[str, float]]:
    """Wall and CPU seconds per step from a ``demo.log`` (the total is the ``demo`` step, wall only)."""
    out: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        m = DONE.match(line)
        if m:
            out[m["name"]] = {"seconds": float(m["s"])} | ({"cpu_seconds": float(m["cpu"])} if m["cpu"] else {})
    return out


def _du_mb(path: Path) -> int:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return round(total / 2**20)


def run(repo: Path, keep: bool, make_args: list[str]) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="evrevops-demo-clone-"))
    clone = tmp / "clone"
    try:
        subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
        head = subprocess.run(["git", "-C", str(clone), "rev-parse", "--short", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.run(["make", "demo", *make_args], cwd=clone, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        log = clone / "demo.log"
        steps = steps_from_log(log.read_text(encoding="utf-8")) if log.exists() else {}
        steps.pop("demo", None)
        result = {
            "stage": "make demo on a fresh clone",
            "seconds": round(seconds, 1),
            "target_seconds": TARGET_S,
            "ok": proc.returncode == 0 and seconds <= TARGET_S,
            "exit_code": proc.returncode,
            "steps": steps,
            "cpu_seconds": round(sum(s.get("cpu_seconds", 0.0) for s in steps.values()), 1),
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "venv_mb": _du_mb(clone / ".venv") if (clone / ".venv").exists() else None,
            "cores": os.cpu_count(),
            "commit": head,
            "make_args": make_args,
            "pip_sources": {k: v for k, v in os.environ.items() if k.startswith("PIP_")} or "pip's configuration",
        }
        if proc.returncode != 0:
            result["tail"] = (proc.stdout + proc.stderr).splitlines()[-20:]
        if keep:
            result["clone"] = str(clone)
        return result
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repo", type=Path, default=ROOT, help="the repository to clone (default: this one)")
    p.add_argument("--keep", action="store_true", help="keep the clone (its path is in the JSON)")
    p.add_argument("--make-args", default="", help="extra make arguments, e.g. 'PORTS=100 MONTHS=3'")
    a = p.parse_args()
    result = run(a.repo, a.keep, shlex.split(a.make_args))
    print(json.dumps(result, indent=1))
    sys.exit(0 if result["exit_code"] == 0 else 1)


if __name__ == "__main__":
    main()
