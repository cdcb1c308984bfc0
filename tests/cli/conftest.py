"""The small warehouse the CLI tests of metrics, headline and the ledger read (tests/fixtures/metrics)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evrevops.cli import app


@pytest.fixture(scope="module")
def db(tmp_path_factory, fixtures):
    p = tmp_path_factory.mktemp("cli") / "w.duckdb"
    r = CliRunner().invoke(app, ["--db", str(p), "ingest", str(fixtures / "metrics"), "--output", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert {row["format"] for row in rows} == {"sites-csv", "ocpi-cdrs"}
    assert all(row["records_read"] == row["accepted"] + row["duplicate"] + row["quarantined"] for row in rows)
    return p
