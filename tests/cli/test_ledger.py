"""The CLI's `quarantine` (counted, paged, filtered, summarized), and the ledger and status that count the same."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from tests.conftest import FIXTURES

runner = CliRunner()


@pytest.fixture(scope="module")
def qdb(tmp_path_factory):
    """tests/fixtures/metrics, then a file of a line that is not JSON and a CDR missing its 8 required fields:
    2 records quarantined in 9 rows."""
    folder = tmp_path_factory.mktemp("cli-quarantine")
    more = folder / "more.ndjson"
    more.write_text('{not json\n{"id": "x"}\n')
    db = ["--db", str(folder / "w.duckdb")]
    assert runner.invoke(app, [*db, "ingest", str(FIXTURES / "metrics"), "--no-keep"]).exit_code == 0
    r = runner.invoke(app, [*db, "ingest", str(more), "--format", "ocpi-cdrs", "--no-keep"])
    assert r.exit_code == 0, r.output
    return db


def _q(db, *args):
    r = runner.invoke(app, [*db, "quarantine", *args])
    assert r.exit_code == 0, r.output
    return r


def test_a_page_says_which_rows_of_how_many_and_how_to_see_the_next(qdb):
    r = _q(qdb, "--limit", "4", "--format", "json")
    assert len(json.loads(r.stdout)) == 4
    assert "showing rows 1–4 of 9 rows (2 quarantined records, a row per field at fault); --page 2 for more" in r.stderr
    r = _q(qdb, "--limit", "4", "--page", "2", "--format", "json")
    assert [x["source_record"] for x in json.loads(r.stdout)] == [2, 2, 2, 2]
    assert "showing rows 5–8 of 9 rows" in r.stderr and "--page 3 for more" in r.stderr
    r = _q(qdb, "--limit", "4", "--page", "3", "--format", "json")
    assert len(json.loads(r.stdout)) == 1 and "showing rows 9–9 of 9 rows" in r.stderr and "more" not in r.stderr
    r = _q(qdb, "--limit", "4", "--offset", "3", "--format", "json")
    assert "showing rows 4–7 of 9 rows" in r.stderr and "--offset 7 for more" in r.stderr
    r = _q(qdb, "--limit", "0", "--format", "csv")
    assert len(list(csv.DictReader(io.StringIO(r.stdout)))) == 9 and "showing rows 1–9 of 9 rows" in r.stderr
    r = _q(qdb, "--page", "5", "--format", "json")
    assert json.loads(r.stdout) == [] and "no rows from row 201 on: there are 9 rows" in r.stderr
    r = runner.invoke(app, [*qdb, "quarantine", "--page", "2", "--offset", "1"])
    assert r.exit_code != 0 and "--page or --offset" in r.stderr


def test_the_default_page_never_stops_silently(tmp_path):
    lines = "\n".join(f'{{"id": "x{i}"}}' for i in range(60)) + "\n"  # each CDR misses its 8 required fields
    (tmp_path / "bad.ndjson").write_text(lines)
    db = ["--db", str(tmp_path / "w.duckdb")]
    r = runner.invoke(app, [*db, "ingest", str(tmp_path / "bad.ndjson"), "--format", "ocpi-cdrs", "--no-keep"])
    assert r.exit_code == 0, r.output
    r = _q(db, "--format", "json")
    assert len(json.loads(r.stdout)) == 50
    assert "showing rows 1–50 of 480 rows (60 quarantined records" in r.stderr and "--page 2 for more" in r.stderr


def test_the_filters_and_the_summary(qdb):
    r = _q(qdb, "--file", "more.nd", "--reason", "MISSING", "--format", "json")
    assert {x["source_record"] for x in json.loads(r.stdout)} == {2}
    assert "of 8 rows (1 quarantined records, a row per field at fault; file ~ 'more.nd'; reason ~ 'MISSING')" in (
        r.stderr
    )
    r = _q(qdb, "--reason", "nothing like it")
    assert "no quarantined records match reason ~ 'nothing like it'" in r.stderr
    r = _q(qdb, "--summary", "--format", "json")
    rows = json.loads(r.stdout)
    assert sum(x["rows"] for x in rows) == 9 and {x["fields"] for x in rows} >= {"(record)"}
    assert "in all 9 rows (2 quarantined records" in r.stderr


def _numbers(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)]


def test_the_ledger_and_the_status_count_the_quarantine_as_it_holds_it(qdb):
    ledger = runner.invoke(app, [*qdb, "ledger", "--format", "json"])
    counted = sum(x["quarantined"] for x in json.loads(ledger.stdout))
    note = [x for x in ledger.stderr.splitlines() if "quarantined" in x][0]
    assert _numbers(note)[:3] == [counted, counted, 9] and counted == 2
    status = runner.invoke(app, [*qdb, "status", "--format", "json"])
    items = {x["item"]: x["value"] for x in json.loads(status.stdout)}
    assert items["quarantine.records (the ledger's quarantined)"] == str(counted) and items["rows.quarantine"] == "9"
    assert f"rows.quarantine: {note}" in status.stderr


def test_a_forgotten_entry_is_named_in_the_ledgers_note(tmp_path):
    more = tmp_path / "more.ndjson"
    more.write_text('{not json\n{"id": "x"}\n')
    db = ["--db", str(tmp_path / "w.duckdb")]
    assert runner.invoke(app, [*db, "ingest", str(more), "--format", "ocpi-cdrs", "--no-keep"]).exit_code == 0
    assert runner.invoke(app, [*db, "ledger", "forget", "1", "--no-keep"]).exit_code == 0
    r = runner.invoke(app, [*db, "ledger"])
    assert "0 records quarantined" in r.stderr and "2 more in forgotten entries" in r.stderr
