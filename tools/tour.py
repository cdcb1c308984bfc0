"""The CLI tour: a fixed list of ``evrevops`` commands run against a demo warehouse, each output kept in a file.

It is the net under refactors of the package's internals: the outputs of the same commands on the
same demo must stay byte-identical (``tests/test_tour.py`` compares them with the goldens in
``tests/fixtures/tour/``).

    python tools/tour.py --demo DIR --out OUT        # generate and ingest the small demo into DIR, then the tour
    python tools/tour.py --db DB --out OUT           # the tour against a warehouse already ingested
    python tools/tour.py --compare DIR_A DIR_B       # unified diff of the files that differ; exit 1 if any

Every command runs in process (``typer.testing.CliRunner`` on ``evrevops.cli.app``) with a fixed
terminal (200 columns, no colour), so Rich lays the tables out the same on any machine. Each
``OUT/NN-name.txt`` holds the command line, the exit code, stdout and stderr.

What would differ from run to run is made fixed, not compared:

* the tour runs on a copy of the warehouse in a scratch folder, from inside that folder, with
  ``--db`` and every output folder given as relative paths (``status`` prints the ``--db`` path;
  ``nevi export`` the paths it wrote), and the demo is ingested from inside its folder with
  relative paths, so the ingest ledger holds ``net/...`` and ``dirty/...``, not a temp path;
* the ingest ledger's ``started_at``/``finished_at`` (the wall clock of each ingest) are set to
  :data:`PINNED_AT` in that copy before the tour and again after each command that adds a
  ledger entry, and so is the checksum of a ``ledger forget`` entry (it hashes the wall-clock
  time); nothing else reads them (derived tables are fingerprinted by file count and id);
* DuckDB runs on one thread (``duckdb.connect`` is patched while a command runs): a sum of
  doubles over threads can change in its last digits from run to run, and CSV/JSON print them;
* nothing pins the string hash seed: ``metrics explain`` once listed columns in a set's order,
  which changed from process to process; the measures are now taken in sorted order, and the
  test runs the tour under a random seed so that such an order shows up as a difference;
* the dirty demo files are ingested with ``--latest`` :data:`LATEST`, since the quarantine reason
  of a record dated in the future names the plausibility horizon, which is otherwise now + a day;
* in stdout and stderr, a path of the scratch folder or of the warehouse's folder becomes
  ``<TOUR>`` / ``<DB_DIR>``, and durations (``in 1.2 s``, ``"seconds": 0.123``) become ``<s>``.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import hashlib
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# The demo: small enough for a fast tour, big enough that every command has rows (hardware, CRM, contracts,
# incentives, projects, telemetry with outages), 2025-09 … 2025-12 (the generator's fixed end). Seed 7 has
# what the README's tour shows at 500 ports: a commissioning bay (ports EVR-00001-01-* and -02-* moved to
# SITE-00001 on 2025-12-21) and a utility tariff switch mid-month (SITE-00003 on 2025-10-16).
DEMO_ARGS = ["--ports", "40", "--months", "4", "--seed", "7"]
DB_NAME = "demo.duckdb"
LATEST = "2026-06-30"  # the plausibility horizon of the dirty ingest (its reasons print it)
PINNED_AT = "2000-01-01 00:00:00"  # the ingest ledger's wall-clock columns, in the tour's copy
STALE_AT = "2025-12-26T12:00"  # a horizon inside outages: EVR-00001-03 silent since 00:17, EVR-00005-02 faulted
WIDTH, HEIGHT = 200, 50
ENV: dict[str, str | None] = {
    "COLUMNS": str(WIDTH),
    "LINES": str(HEIGHT),
    "TERM": "dumb",
    "NO_COLOR": "1",
    # unset: whatever would make Rich colour, treat the output as a terminal or change the CLI's behaviour
    "FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "TTY_INTERACTIVE": None,
    "JUPYTER_COLUMNS": None,
    "JUPYTER_LINES": None,
    "EVREVOPS_DB": None,
    "EVREVOPS_CSV_RAW": None,
}

# The tour: (name, the command after `evrevops --db DB`, split as a shell would). Read-only commands first;
# those that change the warehouse (MUTATING) run last, on the tour's own copy.
TOUR: list[tuple[str, str]] = [
    # ---- formats, the ledger, the quarantine, the warehouse
    ("formats", "formats"),
    ("formats-json", "formats --format json"),
    ("ledger", "ledger"),
    ("ledger-csv", "ledger --format csv"),
    ("quarantine", "quarantine --limit 12"),
    ("quarantine-json", "quarantine --format json"),
    ("status", "status"),
    ("status-json", "status --format json"),
    # ---- metrics: each grain and period, the registry, the SQL
    ("headline", "headline"),
    ("metrics-network", "metrics"),
    ("metrics-site-csv", "metrics --by site --format csv"),
    ("metrics-port", "metrics --by port -m sessions -m energy_kwh -m utilization"),
    ("metrics-customer", "metrics -m utilization -m revenue_per_port_minor --by customer"),
    ("metrics-segment-margin", "metrics --by segment -m energy_margin_minor -m demand_charge_share"),
    (
        "metrics-segment-day-json",
        "metrics --month 2025-11 --by segment --period day -m sessions -m energy_kwh -m open_h --format json",
    ),
    ("metrics-network-day", "metrics --period day -m sessions -m utilization -m energy_revenue_minor"),
    ("metrics-dst-day", "metrics --day 2025-11-02 --by site -m open_h -m sessions"),
    (
        "metrics-range-csv",
        "metrics --from 2025-09-01 --to 2025-12-31 --by customer -m sessions -m energy_kwh "
        "-m utilization -m energy_revenue_minor --format csv",
    ),
    ("metrics-list", "metrics list"),
    ("metrics-list-csv", "metrics list --format csv"),
    ("metrics-explain-utilization", "metrics explain utilization --by site"),
    ("metrics-explain-demand", "metrics explain demand_charge_minor --by segment"),
    ("metrics-explain-uptime", "metrics explain uptime_t12m_pct --by port"),
    ("metrics-explain-pyspark", "metrics explain utilization --by site --dialect pyspark"),
    # ---- sites, ports, bills, pricing, what-ifs
    ("sites-list", "sites list"),
    ("sites-list-json", "sites list --format json"),
    ("ports-history", "ports history EVR-00001-01-1"),  # the commissioning bay, then its site
    ("ports-history-json", "ports history EVR-00001-02-2 --format json"),
    ("ports-conflicts", "ports conflicts"),  # none in the demo: it says so
    ("ports-conflicts-json", "ports conflicts --format json"),
    ("bill", "bill --site SITE-00001"),
    ("bill-tariff-switch", "bill --site SITE-00003 --month 2025-10"),  # two parts, each for its days
    ("bill-tariff-switch-json", "bill --site SITE-00003 --month 2025-10 --format json"),
    ("bill-csv", "bill --site SITE-00004 --month 2025-11 --format csv"),
    ("price", "price"),  # not over several months: on one DuckDB thread that takes minutes and gigabytes
    ("whatif-power-cap", "whatif power-cap --site SITE-00001"),
    ("whatif-power-cap-json", "whatif power-cap --site SITE-00003 --cap-kw 100 --format json"),
    ("whatif-price", "whatif price --site SITE-00004 --tariff US*EVR*EVR-DC-TIME --elasticity -0.3"),
    ("whatif-tariff", "whatif tariff --segment fleet --tariff demo-ca-ev-tou-demand"),
    ("whatif-tariff-json", "whatif tariff --site SITE-00003 --month 2025-10 --tariff demo-ne-large-tod --format json"),
    # ---- uptime and reliability
    ("uptime-port", "uptime --by port"),
    ("uptime-site", "uptime --by site"),
    ("outages", "outages"),
    ("outages-open", "outages --open"),  # none at the demo's horizon: "no rows"
    ("outages-open-as-of", f"outages --open --as-of {STALE_AT}"),
    ("outages-range-csv", "outages --month 2025-09 --to-month 2025-12 --format csv"),
    ("stale", "stale"),  # none at the demo's horizon
    ("stale-as-of-json", f"stale --as-of {STALE_AT} --format json"),
    ("sla", "sla"),
    ("sla-json", "sla --month 2025-10 --format json"),
    ("risk", "risk"),
    # ---- recurring revenue, revenue, unit economics, P&L
    ("mrr-customer", "mrr --by customer"),
    ("mrr-segment", "mrr --by segment"),
    ("mrr-stream", "mrr --by stream"),
    ("mrr-customer-json", "mrr --month 2025-10 --by customer --format json"),
    ("revenue-model", "revenue --by revenue_model"),
    ("revenue-range-csv", "revenue --month 2025-09 --to-month 2025-12 --by customer --format csv"),
    ("unit-economics", "unit-economics --by segment"),
    ("unit-economics-summary", "unit-economics --by segment --summary"),
    # the demo is too small for reference prices of the other models: the missing ones from PRICES
    ("model-compare", "model compare --site SITE-00003 --prices prices.toml"),
    ("incentives", "incentives"),
    ("incentives-csv", "incentives --include-applied --format csv"),
    ("pnl", "pnl --by segment"),
    # ---- the sales and installation motion, forecasts
    ("pipeline", "pipeline"),
    ("pipeline-segment", "pipeline --by segment"),
    ("pipeline-owner", "pipeline --by owner"),
    ("pipeline-deal-json", "pipeline --as-of 2025-10-31 --by deal --format json"),
    ("pipeline-funnel", "pipeline funnel"),
    ("pipeline-funnel-segment", "pipeline funnel --by segment"),
    ("pipeline-win-rates", "pipeline win-rates --by segment"),
    ("pipeline-win-rates-readiness", "pipeline win-rates --by utility_capacity_confirmed"),
    ("pipeline-projects", "pipeline projects"),
    ("pipeline-projects-json", "pipeline projects --format json"),
    ("pipeline-slippage", "pipeline slippage"),
    ("pipeline-expansion", "pipeline expansion"),
    ("pipeline-expansion-customer", "pipeline expansion --by customer"),
    ("pipeline-ramp", "pipeline ramp"),
    ("pipeline-ramp-network-csv", "pipeline ramp --by network --format csv"),
    # the seed is fixed (--seed, default 7): the same runs give the same forecast; few runs, for speed
    ("forecast-hardware", "forecast hardware --sims 300"),
    ("forecast-hardware-json", "forecast hardware --months 3 --sims 300 --format json"),
    ("forecast-hardware-backtest", "forecast hardware --backtest 2025-10:2025-11 --months 2 --sims 300"),
    # ---- NEVI files: the table of what was written, then each file's size, hash and first lines
    ("nevi-export", "nevi export --quarter 2025Q4 --out nevi"),
]
# Commands that change the warehouse (the tour's copy), after the read-only ones. Not run: `export` (its
# manifest holds the wall clock; Parquet bytes are pyarrow's), `ingest` and `generate` (the demo build: 00-*.txt).
MUTATING: list[tuple[str, str]] = [
    ("metrics-docs", "metrics docs --out docs/metrics.md"),
    ("sites-set-tariff", "sites set-tariff SITE-00001 demo-ca-ev-tou-demand --from 2025-12-16"),
    ("bill-after-set-tariff", "bill --site SITE-00001 --month 2025-12"),
    ("ledger-forget", "ledger forget 29"),  # the first dirty file: 2 tariffs, both quarantined
    ("refresh", "refresh"),
    ("ledger-after", "ledger --format csv"),
    ("quarantine-after", "quarantine --limit 5"),
    ("status-after", "status"),
]
# the folder a step writes its files into: listed with their hashes in its output
WRITES = {"nevi-export": "nevi", "metrics-docs": "docs"}
# `model compare --prices`: what a hardware sale of SITE-00003 (a CaaS site) needs
PRICES = '[prices]\nhardware_per_charger = "45000.00"\ninstallation_per_port = "30000.00"\nsoftware_per_port_month = "45.00"\n'


# ---- running the CLI in process ----------------------------------------------------------------


@contextlib.contextmanager
def _in_dir(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def _fixed_consoles() -> Iterator[None]:
    """Every Rich console of the loaded ``evrevops`` modules at WIDTH x HEIGHT, then as they were.

    A console made at import reads ``$COLUMNS`` once, then: one made before the tour (e.g. in a
    test session run with another ``COLUMNS``) would keep its width; a console made while a command
    runs reads the tour's ``COLUMNS`` (:data:`ENV`).
    """
    from rich.console import Console

    saved: list[tuple[Console, int | None, int | None]] = []
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "evrevops" or name.startswith("evrevops.")):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Console) and not any(value is c for c, _, _ in saved):
                saved.append((value, value._width, value._height))
                value.size = (WIDTH, HEIGHT)
    try:
        yield
    finally:
        for console, width, height in saved:
            console._width, console._height = width, height


@contextlib.contextmanager
def _one_duckdb_thread() -> Iterator[None]:
    """Every DuckDB connection opened meanwhile runs on one thread (``duckdb.connect`` patched, then restored).

    A sum of doubles over several threads can differ in its last digits from run to run (the order of
    the partial sums), and CSV and JSON print floats in full: on one thread each run adds in the same order.
    """
    import duckdb

    real = duckdb.connect

    def connect(database=":memory:", read_only=False, config=None, **kwargs):
        return real(database, read_only=read_only, config={**(config or {}), "threads": 1}, **kwargs)

    duckdb.connect = connect
    try:
        yield
    finally:
        duckdb.connect = real


class _Cli:
    """``evrevops ARGS`` in process: (exit code, stdout, stderr, unexpected exception or None)."""

    def __init__(self, log: Path):
        from typer.testing import CliRunner

        from evrevops.cli import app  # noqa: TID251 - a script of CLI commands, not the library

        self.app = app
        self.runner = CliRunner()
        self.env = {**ENV, "EVREVOPS_LOG": str(log)}

    def __call__(self, args: list[str]) -> tuple[int, str, str, str | None]:
        with _fixed_consoles(), _one_duckdb_thread():
            r = self.runner.invoke(self.app, args, env=self.env, catch_exceptions=True)
        exc = r.exception
        unexpected = None
        if exc is not None and not isinstance(exc, SystemExit):
            unexpected = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        return r.exit_code, r.stdout, r.stderr, unexpected


_SECONDS = [
    (re.compile(r"\bin \d+(?:\.\d+)? s\b"), "in <s> s"),  # "kept 7,360 port-day facts (every month) in 1.2 s"
    (re.compile(r'("seconds": )\d+(?:\.\d+)?'), r"\1<s>"),  # the ingest report (JSON)
    (re.compile(r'("item": "seconds",\s*"value": )\d+(?:\.\d+)?'), r"\1<s>"),  # generate's summary (JSON)
]


def _normalise(text: str, places: dict[str, str]) -> str:
    for path, name in sorted(places.items(), key=lambda kv: -len(kv[0])):  # the longest first
        text = text.replace(path, name)
    for pattern, repl in _SECONDS:
        text = pattern.sub(repl, text)
    return text


def _places(**named: Path) -> dict[str, str]:
    """Each folder, as given and resolved, → ``<NAME>``."""
    out: dict[str, str] = {}
    for name, path in named.items():
        for p in {str(path), str(path.resolve())}:
            out[p] = f"<{name.upper()}>"
    return out


def _report(args: list[str], code: int, stdout: str, stderr: str, unexpected: str | None, extra: str = "") -> str:
    head = f"$ evrevops {shlex.join(args)}\nexit code: {code}\n"
    if unexpected:
        head += f"unexpected exception: {unexpected}\n"
    text = head + "----- stdout -----\n" + stdout + "----- stderr -----\n" + stderr
    return text + extra


def _files(folder: Path, lines: int = 3) -> str:
    """Each file under *folder*: relative path, bytes, SHA-256 and its first *lines* lines."""
    out = [f"----- files under {folder.name}/ -----\n"]
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = f.read_bytes()
        out.append(
            f"{f.relative_to(folder).as_posix()}  {len(data)} bytes  sha256 {hashlib.sha256(data).hexdigest()}\n"
        )
        out.extend(f"    {line}\n" for line in data.decode("utf-8", "replace").splitlines()[:lines])
    return "".join(out)


def _pin_ledger_clock(db: Path) -> None:
    """The ingest ledger's wall-clock columns set to :data:`PINNED_AT`, and the checksum of a `ledger forget`
    entry (a hash of its command and wall-clock time) to a placeholder: nothing else reads them."""
    import duckdb

    con = duckdb.connect(str(db))
    try:
        con.execute(
            f"UPDATE ingest_ledger SET started_at = TIMESTAMP '{PINNED_AT}', finished_at = TIMESTAMP '{PINNED_AT}'"
        )
        con.execute(
            "UPDATE ingest_ledger SET checksum = '<hash of the wall-clock time>' WHERE format = 'cli:ledger forget'"
        )
    finally:
        con.close()


# ---- the demo and the tour -----------------------------------------------------------------------


def build_demo(folder: Path, out_dir: Path | None = None) -> Path:
    """Generate the demo network (and its dirty files) in *folder* and ingest both into ``folder/demo.duckdb``.

    Run from inside *folder* with relative paths, so the ledger holds ``net/...`` and
    ``dirty/...``. With *out_dir*, what ``generate`` and both ingests print is written there as
    ``00-*.txt`` (durations normalised). Returns the warehouse's path.
    """
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    cli = _Cli(folder / "evrevops.log")
    steps = [
        ("00-generate", ["generate", *DEMO_ARGS, "--out", "net", "--dirty-out", "dirty", "--format", "json"], 0),
        ("00-ingest", ["--db", DB_NAME, "ingest", "net", "--output", "json"], 0),
        # one dirty file is refused (not the gzip it says it is): exit 1, as `make demo` has it
        ("00-ingest-dirty", ["--db", DB_NAME, "ingest", "dirty", "--latest", LATEST, "--output", "json"], 1),
    ]
    places = _places(demo=folder)
    with _in_dir(folder):
        for name, args, want in steps:
            code, stdout, stderr, unexpected = cli(args)
            text = _normalise(_report(args, code, stdout, stderr, unexpected), places)
            if code != want:
                raise RuntimeError(f"demo build: `evrevops {shlex.join(args)}` exited {code}, not {want}:\n{text}")
            if out_dir is not None:
                Path(out_dir).mkdir(parents=True, exist_ok=True)
                (Path(out_dir) / f"{name}.txt").write_text(text, encoding="utf-8")
    return folder / DB_NAME


def tour_env() -> dict[str, str]:
    """The environment for a process that runs the tour: this one's, with a random string hash seed."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}


def run_tour(db_path: Path, out_dir: Path, verbose: bool = False) -> list[Path]:
    """Run :data:`TOUR`, then :data:`MUTATING`, on a copy of the warehouse *db_path*; write ``out_dir/NN-name.txt``.

    The warehouse itself is not changed. Returns the files written.
    """
    db_path, out_dir = Path(db_path).resolve(), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    scratch = Path(tempfile.mkdtemp(prefix="evrevops-tour-"))
    try:
        shutil.copy2(db_path, scratch / DB_NAME)
        wal = db_path.with_name(db_path.name + ".wal")
        if wal.exists():
            shutil.copy2(wal, scratch / f"{DB_NAME}.wal")
        _pin_ledger_clock(scratch / DB_NAME)
        (scratch / "prices.toml").write_text(PRICES, encoding="utf-8")
        cli = _Cli(scratch / "evrevops.log")
        places = {**_places(db_dir=db_path.parent), **_places(tour=scratch)}
        steps = [(name, cmd, False) for name, cmd in TOUR] + [(name, cmd, True) for name, cmd in MUTATING]
        with _in_dir(scratch):
            for i, (name, cmd, mutates) in enumerate(steps, start=1):
                full = ["--db", DB_NAME, *shlex.split(cmd)]
                t0, c0 = time.perf_counter(), time.process_time()
                code, stdout, stderr, unexpected = cli(full)
                if verbose:
                    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                    print(f"{i:3d} {name:40s} exit {code} {wall:6.2f} s (cpu {cpu:6.2f} s)", file=sys.stderr)
                if mutates:
                    _pin_ledger_clock(scratch / DB_NAME)
                extra = _files(scratch / WRITES[name]) if name in WRITES and (scratch / WRITES[name]).is_dir() else ""
                text = _normalise(_report(full, code, stdout, stderr, unexpected, extra), places)
                path = out_dir / f"{i:02d}-{name}.txt"
                path.write_text(text, encoding="utf-8")
                written.append(path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return written


# ---- comparing two tours -----------------------------------------------------------------------


def tour_files(folder: Path) -> dict[str, Path]:
    """The tour's output files in *folder* (``*.txt``), by name."""
    return {p.name: p for p in sorted(Path(folder).glob("*.txt"))}


def differences(expected: Path, actual: Path) -> list[str]:
    """A unified diff per file that differs, is missing or is extra, in file order (empty: the same)."""
    want, got = tour_files(expected), tour_files(actual)
    out = []
    for name in sorted(set(want) | set(got)):
        a = want[name].read_bytes() if name in want else None
        b = got[name].read_bytes() if name in got else None
        if a == b:
            continue
        if a is None or b is None:
            out.append(f"{name}: only in {expected if b is None else actual}\n")
            continue
        diff = difflib.unified_diff(
            a.decode("utf-8", "replace").splitlines(keepends=True),
            b.decode("utf-8", "replace").splitlines(keepends=True),
            fromfile=str(expected / name),
            tofile=str(actual / name),
        )
        text = "".join(line if line.endswith("\n") else line + "\n" for line in diff)
        out.append(text or f"{name}: differs in bytes only (line endings or encoding)\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, help="an ingested demo warehouse to run the tour against")
    parser.add_argument("--demo", type=Path, help="generate and ingest the tour's demo into this folder first")
    parser.add_argument("--out", type=Path, help="folder for the NN-name.txt outputs")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("DIR_A", "DIR_B"), help="diff two tours' outputs")
    parser.add_argument("--verbose", "-v", action="store_true", help="print each command's exit code and time")
    args = parser.parse_args(argv)
    if args.compare:
        diffs = differences(*args.compare)
        sys.stdout.writelines(diffs)
        n = len(tour_files(args.compare[0]).keys() | tour_files(args.compare[1]).keys())
        print(f"{len(diffs)} of {n} files differ" if diffs else f"all {n} files are the same", file=sys.stderr)
        return 1 if diffs else 0
    if args.out is None or (args.db is None) == (args.demo is None):
        parser.error("give --out with either --db or --demo (or --compare DIR_A DIR_B)")
    t0 = time.perf_counter()
    db = build_demo(args.demo, args.out) if args.demo else args.db
    t1 = time.perf_counter()
    files = run_tour(db, args.out, verbose=args.verbose)
    t2 = time.perf_counter()
    built = f"demo built in {t1 - t0:.1f} s, " if args.demo else ""
    print(f"{built}tour of {len(files)} commands in {t2 - t1:.1f} s -> {args.out}", file=sys.stderr)
    failed = [p.name for p in files if "\nunexpected exception: " in p.read_text(encoding="utf-8")]
    if failed:
        print(f"unexpected exceptions in: {', '.join(failed)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
