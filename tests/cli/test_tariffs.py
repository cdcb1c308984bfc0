"""`evrevops tariffs list|show`: every tariff, one tariff's structure and sites; an unknown id gets the known ones."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from tests.conftest import FIXTURES
from tests.helpers.warehouse import warehouse_of

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """tests/fixtures/bills (utility tariffs hand-flat-demand on site S, hand-ev-rate on none)."""
    return warehouse_of(FIXTURES / "bills", tmp_path_factory.mktemp("cli-tariffs") / "w.duckdb")


def _run(db, *args):
    r = runner.invoke(app, ["--db", str(db), *args])
    return r


def test_list_as_json_and_csv(db):
    r = _run(db, "tariffs", "list", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = {x["tariff_id"]: x for x in json.loads(r.stdout)}
    assert rows["hand-flat-demand"]["sites"] == 1 and rows["hand-ev-rate"]["sites"] == 0
    assert rows["hand-flat-demand"]["kind"] == "utility"
    r = _run(db, "tariffs", "list", "--format", "csv")
    assert r.exit_code == 0, r.output
    header = next(csv.reader(io.StringIO(r.stdout)))
    assert header == ["tariff_id", "kind", "name", "utility", "currency", "start_on", "end_on", "sites"]


def test_show_as_a_table_names_the_charges_and_the_site(db):
    r = _run(db, "tariffs", "show", "hand-flat-demand")
    assert r.exit_code == 0, r.output
    for text in ("structure of hand-flat-demand", "$/kWh", "flat demand", "$/month", "sites on hand-flat-demand"):
        assert text in r.stdout
    assert "│ S " in r.stdout


def test_show_as_json_is_one_object(db):
    r = _run(db, "tariffs", "show", "hand-ev-rate", "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["summary"]["tariff_id"] == "hand-ev-rate"
    assert {(x["charge"], x["unit"]) for x in doc["structure"]} == {("energy", "$/kWh"), ("fixed", "$/month")}
    assert doc["sites"] == []


def test_a_tariff_on_no_site_says_so(db):
    r = _run(db, "tariffs", "show", "hand-ev-rate")
    assert r.exit_code == 0, r.output
    assert "no site is on hand-ev-rate" in r.stdout


def test_an_unknown_tariff_gets_did_you_mean_and_the_known_ones(db):
    r = _run(db, "tariffs", "show", "hand-flat")
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        "error: unknown tariff 'hand-flat'; did you mean 'hand-flat-demand' or 'hand-ev-rate'? known: hand-ev-rate, hand-flat-demand; "
        "see `evrevops tariffs list`"
    )


def test_an_empty_warehouse_says_there_are_no_tariffs(tmp_path):
    from evrevops.warehouse.db import open_warehouse

    open_warehouse(tmp_path / "e.duckdb").close()
    r = _run(tmp_path / "e.duckdb", "tariffs", "list")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("no tariffs in the warehouse;")
