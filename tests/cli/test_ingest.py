"""The CLI, run in process: `ingest`, `ledger` (and `forget`), `quarantine`, `status`, `formats`, `headline` on a small warehouse."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.warehouse.db import open_warehouse

runner = CliRunner()


def test_headline_ledger_quarantine_status(db):
    for cmd in (
        ["headline", "--format", "json"],
        ["ledger", "--format", "json"],
        ["quarantine", "--format", "json"],
        ["status", "--format", "json"],
        ["formats", "--format", "json"],
    ):
        r = runner.invoke(app, ["--db", str(db), *cmd])
        assert r.exit_code == 0, (cmd, r.output)
        json.loads(r.stdout)
    h = json.loads(runner.invoke(app, ["--db", str(db), "headline", "--month", "2024-03", "--format", "json"]).stdout)
    net = [x for x in h if x["segment"] is None][0]
    assert net["ports"] == 3 and net["energy_revenue_minor"] == 12_200


def test_ingest_bad_file_names_the_file(tmp_path):
    bad = tmp_path / "mystery.json"
    bad.write_text('{"hello": "world"}')
    r = runner.invoke(app, ["--db", str(tmp_path / "w.duckdb"), "ingest", str(bad)])
    assert r.exit_code == 1
    assert "mystery.json" in r.output


def test_ledger_forget_then_ingest_again_and_force(tmp_path, fixtures):
    db = ["--db", str(tmp_path / "w.duckdb")]
    cdrs = str(fixtures / "metrics" / "cdrs.ndjson")
    assert runner.invoke(app, [*db, "ingest", str(fixtures / "metrics"), "--no-keep"]).exit_code == 0
    ledger = json.loads(runner.invoke(app, [*db, "ledger", "--format", "json"]).stdout)
    fid = next(x["file_id"] for x in ledger if x["path"].endswith("cdrs.ndjson"))
    r = runner.invoke(app, [*db, "ledger", "forget", str(fid), "--format", "json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)[0]
    assert (got["file_id"], got["rows_removed"] >= 6, got["ledger_file_id"]) == (fid, True, fid + 1)
    assert "forgot " in r.stderr and "kept " in r.stderr  # what was removed, then the facts kept current
    r = runner.invoke(app, [*db, "ledger", "forget", str(fid)])
    assert r.exit_code == 2 and "already forgotten" in r.stderr
    # forgotten, the file is read again; a second time it is unchanged, unless --force
    r = runner.invoke(app, [*db, "ingest", cdrs, "--no-keep", "-o", "json"])
    assert [x["status"] for x in json.loads(r.stdout)] == ["committed"]
    r = runner.invoke(app, [*db, "ingest", cdrs, "--no-keep", "-o", "json"])
    assert [x["status"] for x in json.loads(r.stdout)] == ["unchanged"]
    r = runner.invoke(app, [*db, "ingest", cdrs, "--no-keep", "--force", "-o", "json"])
    assert r.exit_code == 0, r.output
    assert [(x["status"], x["accepted"]) for x in json.loads(r.stdout)] == [("committed", 6)]
    ledger = json.loads(runner.invoke(app, [*db, "ledger", "--format", "json"]).stdout)
    assert sum(x["format"] == "cli:ledger forget" for x in ledger) == 2


def test_ingest_prints_what_a_reader_noticed(tmp_path, fixtures):
    db = ["--db", str(tmp_path / "w.duckdb")]
    cdrs = str(fixtures / "metrics" / "cdrs.ndjson")
    assert runner.invoke(app, [*db, "ingest", cdrs, "--no-keep"]).exit_code == 0
    r = runner.invoke(app, [*db, "ingest", cdrs, "--format", "ocpi-locations", "--no-keep"])
    assert r.exit_code == 0, r.output
    notes = [x for x in r.stderr.splitlines() if x.startswith("note: cdrs.ndjson: ")]
    assert len(notes) == 1 and "`evrevops ledger forget 1` or `ingest --force`" in notes[0]


@pytest.mark.parametrize("command", [["quarantine"], ["ledger"]])
def test_an_empty_table_says_so(tmp_path, command):
    open_warehouse(tmp_path / "w.duckdb").close()  # an empty warehouse (a read-only command makes none)
    res = runner.invoke(app, ["--db", str(tmp_path / "w.duckdb"), *command])
    assert res.exit_code == 0, res.output
    assert "no rows" in res.output
    res = runner.invoke(app, ["--db", str(tmp_path / "w.duckdb"), *command, "--format", "json"])
    assert json.loads(res.stdout) == [] and "no rows" in res.stderr  # JSON stays JSON; the word goes to stderr


def test_a_file_refused_whole_leaves_the_kept_tables_current(tmp_path, fixtures):
    """A file whose every record goes to quarantine adds a ledger entry and changes no data: after its ingest the
    kept facts, bills and month-close still answer (stamped current by a refresh that finds nothing changed), so
    the next report reads them instead of computing everything again."""
    from evrevops import refresh as krefresh
    from evrevops.warehouse import derived

    db = ["--db", str(tmp_path / "w.duckdb")]
    for name in ("sites.csv", "cdrs.ndjson"):
        assert runner.invoke(app, [*db, "ingest", str(fixtures / "metrics" / name)]).exit_code == 0
    bad = tmp_path / "cdrs-bad.ndjson"
    bad.write_text('{"id": "X", "start_date_time": "not a time"}\n')
    r = runner.invoke(app, [*db, "ingest", str(bad), "--format", "ocpi-cdrs"])
    assert r.exit_code == 0, r.output
    wh = open_warehouse(tmp_path / "w.duckdb")
    try:
        assert wh.con.execute("SELECT accepted, quarantined FROM ingest_ledger ORDER BY file_id DESC LIMIT 1").fetchall() == [(0, 1)]  # fmt: skip
        assert all(derived.entries_since(wh, name, version) == [] for name, version in krefresh.STEPS)
    finally:
        wh.close()
