"""Errors: an expected one is one line on stderr and exit 2; an unexpected one is one line, its traceback in the log."""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import typer
from rich.text import Text

from evrevops.cli.render import err
from evrevops.core.suggest import did_you_mean

T = TypeVar("T")


def one_line(text: object) -> str:
    """*text* on one line (an error message from a library may span several)."""
    return " ".join(str(text).split())


def error(msg: str, label: str = "error:", style: str = "red") -> None:
    """``error: msg`` on stderr, one line; *msg* is text, never markup (it names files, sites, values)."""
    err.print(Text.assemble((label, style), " ", one_line(msg)))


def fail(msg: str, code: int = 2) -> typer.Exit:
    error(msg)
    return typer.Exit(code)


def unknown(name: str, known: Iterable[str], what: str, see: str | None = None, lead: str = "known:") -> typer.Exit:
    """The error (exit 2) of an unknown *what* called *name*: the known names it is close to and the known ones
    (:func:`evrevops.core.suggest.did_you_mean`; *lead* ``use one of`` for a closed vocabulary), then *see*
    (e.g. ``see `evrevops sites list```)."""
    return fail(did_you_mean(name, known, what, lead=lead) + (f"; {see}" if see else ""))


def busy(text: str):
    """A spinner on stderr while work runs; *text* is shown as it is (no markup)."""
    return err.status(Text(text))


def run_busy(text: str, work: Callable[[], T]) -> T:
    """*work*'s result, run under :func:`busy` *text*; a ValueError it raises (a value the library refuses, named in
    its message) is an expected error: one line, exit 2."""
    try:
        with busy(text):
            return work()
    except ValueError as exc:
        raise fail(str(exc)) from None


LOG_MAX_BYTES = 1 << 20  # the error log is rotated (one old copy, .1) past this size


def log_path() -> Path:
    """The error log: ``$EVREVOPS_LOG``, else ``$XDG_CACHE_HOME/evrevops/evrevops.log`` (``~/.cache/...``)."""
    if os.environ.get("EVREVOPS_LOG"):
        return Path(os.environ["EVREVOPS_LOG"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "evrevops" / "evrevops.log"


_URL_USER = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")


def _log_entry(exc: BaseException) -> str:
    """What the log keeps of a crash: when, the command line (a URL's user:password masked) and the traceback."""
    from importlib import metadata

    try:
        version = metadata.version("evrevops")
    except metadata.PackageNotFoundError:
        version = "?"
    argv = " ".join(_URL_USER.sub(r"\1***@", a) for a in sys.argv)
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    trace = "".join(traceback.format_exception(exc))
    return f"=== {stamp} evrevops {version} (Python {sys.version.split()[0]})\nargv: {argv}\n{trace}\n"


def write_log(exc: BaseException) -> Path | None:
    """Append *exc*'s traceback to :func:`log_path` (else a file in the temp folder); the path, or None."""
    import tempfile

    entry = _log_entry(exc)
    for path in (
        log_path(),
        Path(tempfile.gettempdir()) / f"evrevops-{os.getuid() if hasattr(os, 'getuid') else 0}.log",
    ):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_file() and path.stat().st_size > LOG_MAX_BYTES:
                path.replace(path.with_name(path.name + ".1"))
            with open(path, "a", encoding="utf-8", errors="replace") as f:
                f.write(entry)
            return path
        except OSError:
            continue
    return None


def crash(exc: BaseException) -> int:
    """Report an unexpected exception in one line on stderr, its traceback in the log; the exit code (1)."""
    where = write_log(exc)
    msg = one_line(exc)
    if len(msg) > 500:
        msg = msg[:500] + "…"
    detail = f"details in {where}" if where else "no log could be written; set EVREVOPS_LOG"
    err.print(
        Text.assemble(
            ("error:", "red"),
            f" {type(exc).__name__}: {msg} ({detail})" if msg else f" {type(exc).__name__} ({detail})",
        )
    )
    return 1
