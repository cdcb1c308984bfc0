"""Edge values and failures on the command line: a clear one-line message, never a traceback.

Expected errors (a value out of range, an unknown name) exit 2 with ``error: ...`` naming the option and what
it takes; typer's own checks (``min=``/``max=``) exit 2 with its usage message. An unexpected exception
reaching ``main()`` prints one line naming the error and the log holding its traceback, and exits 1. A
multi-file ingest loads every file it can, reports each one that failed, and exits 1.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from evrevops import cli
from evrevops.cli import app
from evrevops.formats import limits as flimits
from evrevops.warehouse.db import open_warehouse

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
METRICS = FIXTURES / "metrics"


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("edges") / "w.duckdb"
    r = runner.invoke(app, ["--db", str(p), "ingest", str(METRICS), "--no-keep"])
    assert r.exit_code == 0, r.output
    return p


def _one_error_line(r) -> str:
    """The single line a failed command printed on stderr (asserting there is one, and no traceback)."""
    assert "Traceback" not in r.output, r.output
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


EDGES = [
    (["metrics", "--month", "9999-12"], "--month: 9999-12 is out of range; give a month YYYY-MM in the years"),
    (["metrics", "--month", "2024-13"], "--month: not a month (YYYY-MM): '2024-13'"),
    (["metrics", "--day", "2024-02-30"], "--day: not a date (YYYY-MM-DD)"),
    (["metrics", "--from", "2024-03-05", "--to", "2024-03-01"], "--to 2024-03-01 is before --from 2024-03-05"),
    (["headline", "--month", "0001-01"], "--month: 0001-01 is out of range"),
    (["revenue", "--month", "2024-01", "--to-month", "9999-12"], "--to-month: 9999-12 is out of range"),
    (["bill", "--site", "A", "--month", "10000-01"], "--month: not a month (YYYY-MM)"),
    (["uptime", "--as-of", "garbage"], "--as-of: not an instant (YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC): 'garbage'"),
    (["stale", "--as-of", "9999-12-31T23:59"], "--as-of: 9999-12-31T23:59 is out of range"),
    (["whatif", "price", "--site", "A", "--tariff", "T", "--elasticity", "inf"],
     "--elasticity must be a finite number of at least -10 and at most 10, not inf"),
    (["whatif", "price", "--site", "A", "--tariff", "T", "--elasticity", "nan"], "--elasticity must be a finite number"),
    (["whatif", "power-cap", "--site", "A", "--cap-kw", "nan"], "--cap-kw must be a finite number above 0"),
    (["whatif", "power-cap", "--site", "A", "--cap-kw", "-5"], "--cap-kw must be a finite number above 0"),
    (["unit-economics", "--discount-rate", "nan"], "--discount-rate must be a finite number above -100"),
    (["model", "compare", "--site", "A", "--discount-rate", "-100"], "--discount-rate must be a finite number above -100"),
    (["ingest", str(METRICS), "--mapping", "nope"], "--mapping: unknown mapping 'nope'; known: session-csv: "),
    (["ingest", str(METRICS), "--format", "session-csv", "--mapping", "nope"], "unknown session mapping 'nope'; known:"),
    (["ingest", str(METRICS), "--format", "ocpi-cdrs", "--mapping", "acn"], "--mapping applies to session-csv"),
    (["ingest", str(METRICS), "--format", "nope"], "see `evrevops formats`"),
    (["ingest", str(METRICS), "--earliest", "yesterday"], "--earliest: not an instant"),
    (["ingest", str(METRICS), "--earliest", "2025-01-01", "--latest", "2024-12-31"], "the time window is empty"),
    (["ingest", str(METRICS), "--max-power-kw", "inf"], "--max-power-kw must be a finite number above 0"),
    (["ingest", str(METRICS), "--max-line-mib", "0"], "--max-line-mib must be a finite number above 0"),
    (["ingest", str(METRICS), "--max-decompressed-gib", "nan"], "--max-decompressed-gib must be a finite number"),
    (["pipeline", "--as-of", "2025-13-01"], "--as-of: not a date (YYYY-MM-DD): '2025-13-01'"),
    (["pipeline", "--month", "9999-12"], "--month: 9999-12 is out of range"),
    (["forecast", "hardware", "--backtest", "2025-05:2025-01"], "the last origin is before the first"),
    (["forecast", "hardware", "--backtest", "2025-01:soon"], "--backtest: not a month (YYYY-MM): 'soon'"),
    (["nevi", "export", "--quarter", "9999Q4", "--format", "json"], "--quarter: 9999Q4 is out of range"),
    (["nevi", "export", "--quarter", "2025Q5", "--format", "json"], "--quarter: not a quarter (YYYYQn)"),
    (["sites", "set-tariff", "A", "X", "--from", "2025-02-30"], "--from: not a date (YYYY-MM-DD)"),
    (["metrics", "explain", "utilization", "--dialect", "nope"], "e.g. --dialect duckdb, spark or pyspark"),
    (["metrics", "explain", "utilization", "--by", "planet"], "unknown grain 'planet'; use one of"),
    (["generate", "--end-month", "9999-12"], "--end-month: 9999-12 is out of range"),
    (["ledger", "forget", "999"], "no ledger entry 999"),
    (["metrics", "docs", "--out", str(FIXTURES)], "is a directory; give the Markdown file to write"),
]  # fmt: skip


@pytest.mark.parametrize("args,hint", EDGES, ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_an_edge_value_is_one_clear_line(db, args, hint):
    r = runner.invoke(app, ["--db", str(db), *args])
    assert r.exit_code == 2, r.output
    assert hint in _one_error_line(r)


USAGE = [
    (["quarantine", "--limit", "-1"], "'--limit'"),
    (["quarantine", "--file-id", "0"], "'--file-id'"),
    (["forecast", "hardware", "--months", "100000"], "'--months'"),
    (["forecast", "hardware", "--seed", "-1"], "'--seed'"),
    (["unit-economics", "--horizon-months", "100000000"], "'--horizon-months'"),
    (["uptime", "--offline-after", "100000000"], "'--offline-after'"),
    (["pipeline", "ramp", "--max-months", "-5"], "'--max-months'"),
    (["generate", "--ports", "-5"], "'--ports'"),
    (["ledger", "forget", "0"], "'file_id'"),
]


@pytest.mark.parametrize("args,option", USAGE, ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_a_value_out_of_an_options_range_is_a_usage_error(db, args, option):
    r = runner.invoke(app, ["--db", str(db), *args])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert any(f"Invalid value for {option}" in line for line in r.stderr.splitlines()), r.stderr


def test_db_that_is_a_folder_or_not_duckdb(tmp_path):
    r = runner.invoke(app, ["--db", str(tmp_path), "status"])
    assert r.exit_code == 2
    assert "is a directory; --db names the warehouse's DuckDB file" in _one_error_line(r)
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database\n")
    for cmd in (["status"], ["ingest", str(METRICS / "sites.csv")]):
        r = runner.invoke(app, ["--db", str(junk), *cmd])
        assert r.exit_code == 2
        line = _one_error_line(r)
        assert "not a valid DuckDB database file" in line and "--db names" in line


def test_output_folders_that_are_files(db, tmp_path):
    f = tmp_path / "a-file"
    f.write_text("x")
    for args in (["export", "--out", str(f)], ["generate", "--out", str(f)],
                 ["nevi", "export", "--quarter", "2025Q4", "--out", str(f), "--format", "json"]):  # fmt: skip
        r = runner.invoke(app, ["--db", str(db), *args])
        assert r.exit_code == 2 and "is a file" in _one_error_line(r), args


# ---- main(): the one handler for the unexpected ---------------------------------------------------


def _boom(*args, **kwargs):
    raise RuntimeError("boom [/x]\nsecond line")


def test_an_unexpected_error_is_one_line_and_a_logged_traceback(db, tmp_path, monkeypatch, capsys):
    log = tmp_path / "logs" / "evrevops.log"
    monkeypatch.setenv("EVREVOPS_LOG", str(log))
    monkeypatch.setattr(cli.wstatus, "sites", _boom)
    monkeypatch.setattr(sys, "argv", ["evrevops", "--db", str(db), "--master", "spark://me:secret@host:7077"])
    with pytest.raises(SystemExit) as e:  # an unknown option: expected, exit 2, nothing logged
        cli.main()
    assert e.value.code == 2 and not log.exists()
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["evrevops", "--db", str(db), "sites", "list"])
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 1
    got = capsys.readouterr()
    assert got.err == f"error: RuntimeError: boom [/x] second line (details in {log})\n"
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError: boom [/x]" in text
    assert f"argv: evrevops --db {db} sites list" in text and "_boom" in text


def test_an_expected_error_keeps_exit_2_through_main(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EVREVOPS_LOG", str(tmp_path / "evrevops.log"))
    monkeypatch.setattr(sys, "argv", ["evrevops", "--db", str(tmp_path), "status"])
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 2
    assert capsys.readouterr().err.startswith("error: warehouse ")
    assert not (tmp_path / "evrevops.log").exists()


def test_the_log_falls_back_to_the_temp_folder_and_masks_url_passwords(tmp_path, monkeypatch):
    import tempfile

    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("EVREVOPS_LOG", str(blocked / "evrevops.log"))  # under a file: cannot be made
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(sys, "argv", ["evrevops", "metrics", "--engine", "spark://me:secret@host:7077"])
    try:
        raise ValueError("x")
    except ValueError as exc:
        where = cli.write_log(exc)
    assert where is not None and where.parent == tmp_path / "tmp"
    text = where.read_text()
    assert "spark://***@host:7077" in text and "secret" not in text


def test_the_console_script_reports_without_a_traceback(tmp_path):
    env = {**os.environ, "EVREVOPS_LOG": str(tmp_path / "evrevops.log")}
    exe = Path(sys.executable).with_name("evrevops")
    r = subprocess.run([str(exe), "--db", str(tmp_path), "status"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "is a directory" in r.stderr
    open_warehouse(tmp_path / "w.duckdb").close()  # a read-only command refuses a --db that names no warehouse
    code = (
        "import sys; from evrevops import cli\n"
        "def boom(*a, **k): raise KeyError('no such thing')\n"
        "cli.wstatus.summary = boom\n"
        f"sys.argv = ['evrevops', '--db', {str(tmp_path / 'w.duckdb')!r}, 'status']\n"
        "cli.main()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr == f"error: KeyError: 'no such thing' (details in {tmp_path / 'evrevops.log'})\n"
    assert "Traceback" in (tmp_path / "evrevops.log").read_text()


# ---- ingest: one file's failure is that file's ----------------------------------------------------


def _failing_on(name: str, exc: BaseException):
    real = cli.ingest_file

    def ingest_file(wh, path, *args, **kwargs):
        if Path(path).name == name:
            raise exc
        return real(wh, path, *args, **kwargs)

    return ingest_file


FAILURES = {
    "PermissionError": OSError(errno.EACCES, "Permission denied"),  # OSError makes it a PermissionError
    "UnicodeDecodeError": UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    "OverflowError": OverflowError("Python int too large to convert to C long"),
    "RecursionError": RecursionError("maximum recursion depth exceeded"),
    "MemoryError": MemoryError(),
    "IOException": duckdb.IOException("could not write file: No space left on device"),
    "RuntimeError": RuntimeError("a bug [/b]"),
}


@pytest.mark.parametrize("kind", list(FAILURES))
def test_ingest_goes_on_after_a_file_fails(tmp_path, monkeypatch, kind):
    monkeypatch.setattr(cli, "ingest_file", _failing_on("sites.csv", FAILURES[kind]))
    good = tmp_path / "customers.csv"
    good.write_text((FIXTURES / "csv" / "customers_good.csv").read_text())
    db = tmp_path / "w.duckdb"
    args = ["--db", str(db), "ingest", str(METRICS / "sites.csv"), str(METRICS / "cdrs.ndjson"), str(good)]
    r = runner.invoke(app, [*args, "--no-keep", "--output", "json"])
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    rows = {Path(x["path"]).name: x for x in json.loads(r.stdout)}
    assert {n: x["status"] for n, x in rows.items()} == {
        "sites.csv": "failed", "cdrs.ndjson": "committed", "customers.csv": "committed"
    }  # fmt: skip
    assert kind in rows["sites.csv"]["reason"] and rows["cdrs.ndjson"]["reason"] is None
    errors = [x for x in r.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and "sites.csv" in errors[0] and kind in errors[0]
    assert r.stderr.rstrip().endswith("1 file failed")


def test_a_failed_file_leaves_no_open_transaction_and_the_rest_is_kept(tmp_path, monkeypatch):
    real, calls = cli.ingest_file, []

    def ingest_file(wh, path, *args, **kwargs):  # the first file dies inside its transaction (disk full)
        calls.append(Path(path).name)
        if len(calls) == 1:
            wh.con.execute("BEGIN TRANSACTION")
            raise duckdb.IOException("could not write file: No space left on device")
        return real(wh, path, *args, **kwargs)

    monkeypatch.setattr(cli, "ingest_file", ingest_file)
    r = runner.invoke(app, ["--db", str(tmp_path / "w.duckdb"), "ingest", str(METRICS)])
    assert r.exit_code == 1, r.output
    assert f"{calls[0]}: IOException: could not write file" in r.stderr
    assert "kept " in r.stderr and "port-day facts" in r.stderr  # what was loaded is refreshed
    assert r.stderr.rstrip().endswith("1 file failed")
    r = runner.invoke(app, ["--db", str(tmp_path / "w.duckdb"), "ledger", "--format", "json"])
    assert [x["status"] for x in json.loads(r.stdout)] == ["committed"]


def test_a_reader_that_raises_fails_its_file_only(tmp_path, monkeypatch):
    from evrevops.warehouse import loader

    real = loader.read_file

    def read_file(path, *args, **kwargs):
        if Path(path).name == "cdrs.ndjson":
            raise RecursionError("maximum recursion depth exceeded while decoding a JSON object")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(loader, "read_file", read_file)
    r = runner.invoke(app, ["--db", str(tmp_path / "w.duckdb"), "ingest", str(METRICS), "--no-keep", "-o", "csv"])
    assert r.exit_code == 1, r.output
    assert "cdrs.ndjson: RecursionError: maximum recursion depth" in r.stderr
    assert "sites.csv" in r.stdout and ",failed," in r.stdout and "1 file failed" in r.stderr


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads a chmod 000 file")
def test_an_unreadable_file_fails_alone(tmp_path):
    locked = tmp_path / "locked.csv"
    locked.write_text((FIXTURES / "csv" / "customers_good.csv").read_text())
    locked.chmod(0)
    try:
        r = runner.invoke(app, ["--db", str(tmp_path / "w.duckdb"), "ingest", str(locked), str(METRICS / "sites.csv")])
    finally:
        locked.chmod(0o644)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "locked.csv" in r.stderr and "1 file failed" in r.stderr


def test_limits_options_are_in_force_while_files_load(tmp_path, monkeypatch):
    seen = []
    real = cli.ingest_file

    def ingest_file(wh, path, *args, **kwargs):
        seen.append(flimits.current())
        return real(wh, path, *args, **kwargs)

    monkeypatch.setattr(cli, "ingest_file", ingest_file)
    r = runner.invoke(app, ["--db", str(tmp_path / "w.duckdb"), "ingest", str(METRICS), "--no-keep",
                            "--earliest", "2024-03-01", "--latest", "2024-12-31", "--max-power-kw", "350",
                            "--max-line-mib", "2", "--max-decompressed-gib", "0.5"])  # fmt: skip
    assert r.exit_code == 0, r.output
    lim = seen[0]
    assert (lim.earliest.isoformat(), lim.until.isoformat()) == ("2024-03-01T00:00:00", "2024-12-31T23:59:59.999999")
    assert (lim.max_power_kw, lim.max_line_bytes, lim.max_decompressed_bytes) == (350.0, 2 << 20, 1 << 29)
    assert flimits.current().max_power_kw == flimits.Limits().max_power_kw  # the defaults once ingest is done
