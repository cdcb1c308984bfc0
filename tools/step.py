"""Run one step of a make target, its output to the terminal and to a log file, with its time.

Used by the Makefile (``make demo`` logs to ``demo.log``); standard library only, so it runs with
the system Python before ``.venv`` exists::

    python3 tools/step.py --log demo.log --begin demo             # a new log: "demo: start"
    python3 tools/step.py --log demo.log generate -- CMD ARGS...  # one step
    python3 tools/step.py --log demo.log --end demo               # "demo: done in N s" (since --begin)

Each step writes ``[HH:MM:SS] NAME: start: CMD``, then the command's output (stdout and stderr,
line by line), a ``NAME: still running, N s`` line every ``--tick`` seconds without output, and
``NAME: done in N.N s (cpu N.N s)`` (or ``NAME: exit CODE after …``, the step's exit code passed
on; cpu: user + system seconds of the step's processes, which other work on the machine does not
inflate as it does the wall time).
Without ``--log`` the lines go to the terminal only. The command's tables are as wide as the
terminal (180 columns when not a terminal); an exported ``COLUMNS`` wins.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import queue
import re
import resource
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

BEGIN = re.compile(r"^\[[0-9:]{8}\] (?P<name>[\w.-]+): start at (?P<at>[0-9T:-]+) ")


class Log:
    """Lines to the terminal and, when given, to the log file (appended, flushed per line)."""

    def __init__(self, path: Path | None) -> None:
        self.file: TextIO | None = path.open("a", encoding="utf-8") if path else None

    def out(self, line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        if self.file:
            self.file.write(line + "\n")
            self.file.flush()

    def mark(self, text: str) -> None:
        self.out(f"[{time.strftime('%H:%M:%S')}] {text}")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    if "COLUMNS" not in env:
        cols = shutil.get_terminal_size((180, 24)).columns if sys.stdout.isatty() else 180
        env["COLUMNS"] = str(cols)
    return env


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_step(log: Log, name: str, cmd: list[str], tick_s: float) -> int:
    """Run *cmd* as step *name*; returns its exit code."""
    log.mark(f"{name}: start: {shlex.join(cmd)}")
    t0, cpu0 = time.perf_counter(), _children_cpu_s()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(), text=True, errors="replace", bufsize=1
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=tick_s)
        except queue.Empty:
            log.mark(f"{name}: still running, {time.perf_counter() - t0:.0f} s")
            continue
        if line is None:
            break
        log.out(line)
    rc = proc.wait()
    s, cpu = time.perf_counter() - t0, _children_cpu_s() - cpu0
    log.mark(
        f"{name}: done in {s:.1f} s (cpu {cpu:.1f} s)"
        if rc == 0
        else f"{name}: exit {rc} after {s:.1f} s (cpu {cpu:.1f} s)"
    )
    return rc


def _since_begin(path: Path | None, name: str) -> float:
    """Seconds since the log's ``NAME: start at`` line (NaN without a log)."""
    lines = path.read_text(encoding="utf-8").splitlines() if path and path.exists() else []
    for line in lines:
        m = BEGIN.match(line)
        if m and m["name"] == name:
            return (dt.datetime.now() - dt.datetime.fromisoformat(m["at"])).total_seconds()
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    cmd: list[str] = []
    if "--" in args:
        i = args.index("--")
        args, cmd = args[:i], args[i + 1 :]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--log", type=Path, help="log file the lines are also appended to")
    p.add_argument("--begin", action="store_true", help="start a new log (the file is emptied)")
    p.add_argument("--end", action="store_true", help="the total since --begin")
    p.add_argument("--tick", type=float, default=15.0, help="seconds without output between 'still running' lines")
    p.add_argument("name")
    a = p.parse_args(args)
    log = Log(a.log)
    if a.begin:
        if a.log:
            a.log.write_text("", encoding="utf-8")
            log = Log(a.log)
        log.mark(f"{a.name}: start at {dt.datetime.now().isoformat(timespec='seconds')} ({os.cpu_count()} cores)")
        return 0
    if a.end:
        log.mark(f"{a.name}: done in {_since_begin(a.log, a.name):.1f} s")
        return 0
    if not cmd:
        p.error("give the step's command after --")
    return run_step(log, a.name, cmd, a.tick)


if __name__ == "__main__":
    sys.exit(main())
