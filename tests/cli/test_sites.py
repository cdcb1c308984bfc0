"""`evrevops sites template`: the sites CSV of what the warehouse knows, completed by hand and ingested back."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.warehouse.db import Warehouse
from tests.conftest import FIXTURES

runner = CliRunner()


def _ok(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _fetch(db, sql):
    wh = Warehouse(db, read_only=True)
    try:
        return wh.fetch(sql).to_pylist()
    finally:
        wh.close()


def test_a_session_export_only_warehouse_gets_its_sites_completed_through_the_template(tmp_path):
    db, out = tmp_path / "w.duckdb", tmp_path / "t" / "sites.csv"
    shutil.copyfile(FIXTURES / "metrics" / "cdrs.ndjson", tmp_path / "cdrs.ndjson")
    _ok("--db", db, "ingest", tmp_path / "cdrs.ndjson")
    assert {r["segment"] for r in _fetch(db, "SELECT segment FROM sites")} == {None}
    r = _ok("--db", db, "sites", "template", "--out", out, "--format", "json")
    gaps = {g["column"]: g for g in json.loads(r.stdout)}
    assert gaps["segment"]["required"] and gaps["segment"]["empty_rows"] == 3
    rows = _rows(out)
    assert sorted((x["site_id"], x["port_id"]) for x in rows) == [("A", "A1"), ("A", "A2"), ("B", "B1")]
    assert all(x["segment"] == "" and x["rated_kw"] == "" for x in rows)
    for x in rows:  # what the user fills in
        x["segment"] = "fleet" if x["site_id"] == "A" else "commercial"
        x["time_zone"] = x["time_zone"] or "America/New_York"
        x["rated_kw"] = "50"
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    r = _ok("--db", db, "ingest", out, "--output", "json")
    (entry,) = json.loads(r.stdout)
    assert (entry["format"], entry["quarantined"]) == ("sites-csv", 0)
    got = _fetch(db, "SELECT site_id, segment FROM sites ORDER BY site_id")
    assert got == [{"site_id": "A", "segment": "fleet"}, {"site_id": "B", "segment": "commercial"}]
    assert {r["rated_kw"] for r in _fetch(db, "SELECT rated_kw FROM ports")} == {50.0}
    _ok("--db", db, "sites", "template", "--out", out)
    assert {x["segment"] for x in _rows(out)} == {"fleet", "commercial"}


def test_the_untouched_template_ingests_as_duplicates_and_changes_nothing(tmp_path):
    db, out = tmp_path / "w.duckdb", tmp_path / "sites.csv"
    _ok("--db", db, "ingest", FIXTURES / "metrics")
    tables = ("sites", "site_facts", "chargers", "ports", "port_placements")
    before = {t: _fetch(db, f"SELECT * EXCLUDE (file_id, source_record) FROM {t} ORDER BY ALL") for t in tables}
    r = _ok("--db", db, "sites", "template", "--out", out)
    assert "wrote" in r.stderr and "3 rows (2 sites, 3 ports)" in r.stderr
    rows = _rows(out)
    a1 = next(x for x in rows if x["port_id"] == "A1")
    assert (a1["segment"], a1["time_zone"], a1["charger_id"], a1["connector_id"], a1["rated_kw"]) == (
        "public_dc", "America/New_York", "CA", "1", "150.0"
    )  # fmt: skip
    assert a1["commissioned_on"] == "2024-03-01" and a1["effective_on"] == ""
    r = _ok("--db", db, "ingest", out, "--output", "json")
    (entry,) = json.loads(r.stdout)
    assert (entry["records_read"], entry["accepted"], entry["duplicate"], entry["quarantined"]) == (3, 0, 3, 0)
    after = {t: _fetch(db, f"SELECT * EXCLUDE (file_id, source_record) FROM {t} ORDER BY ALL") for t in tables}
    assert after == before


def test_an_empty_warehouse_gets_the_header_only(tmp_path):
    from evrevops.warehouse.db import open_warehouse

    db, out = tmp_path / "e.duckdb", tmp_path / "sites.csv"
    open_warehouse(db).close()
    r = _ok("--db", db, "sites", "template", "--out", out)
    assert "no sites yet" in r.stdout
    header = out.read_text().splitlines()
    assert len(header) == 1 and header[0].startswith("site_id,site_name,customer_id,time_zone,")


def test_an_unwritable_out_is_a_clear_error(tmp_path):
    from evrevops.warehouse.db import open_warehouse

    db = tmp_path / "e.duckdb"
    open_warehouse(db).close()
    r = runner.invoke(app, ["--db", str(db), "sites", "template", "--out", str(tmp_path)])
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: --out: cannot write {tmp_path}")


# ---- sites set-tariff: many sites in one call (one ledger entry, one refresh); the one-site form as before


def _bills_db(tmp_path):
    from tests.helpers.warehouse import warehouse_of

    return warehouse_of(FIXTURES / "bills", tmp_path / "w.duckdb")


def _ledger(db):
    return _fetch(db, "SELECT path, records_read, accepted FROM ingest_ledger WHERE format = 'cli:sites set-tariff'")


def test_many_sites_by_site_and_segment_in_one_entry_and_one_refresh(tmp_path):
    db = _bills_db(tmp_path)
    r = _ok("--db", db, "sites", "set-tariff", "--site", "S", "--site", "T", "--tariff", "hand-ev-rate",
            "--from", "2024-06-01", "--format", "json")  # fmt: skip
    done = json.loads(r.stdout)
    assert [(x["site_id"], x["utility_tariff_id"], x["from_on"], x["previous"]) for x in done] == [
        ("S", "hand-ev-rate", "2024-06-01", "hand-flat-demand"),
        ("T", "hand-ev-rate", "2024-06-01", None),
    ]
    assert r.stderr.count("port-day facts") == 1  # one refresh
    assert _ledger(db) == [
        {"path": "evrevops sites set-tariff --tariff hand-ev-rate --site S --site T --from 2024-06-01",
         "records_read": 2, "accepted": 2}
    ]  # fmt: skip
    got = _fetch(db, "SELECT site_id, utility_tariff_id FROM sites ORDER BY 1")
    assert got == [
        {"site_id": "S", "utility_tariff_id": "hand-ev-rate"},
        {"site_id": "T", "utility_tariff_id": "hand-ev-rate"},
    ]
    # the months before keep their tariff: May is S's old one, June the new one
    on = "SELECT utility_tariff_id FROM site_history h WHERE site_id = 'S' AND {}"
    from evrevops.warehouse.site_history import on_sql

    assert _fetch(db, on.format(on_sql("'S'", "DATE '2024-05-31'", "h"))) == [{"utility_tariff_id": "hand-flat-demand"}]
    _ok("--db", db, "sites", "set-tariff", "--segment", "fleet", "--tariff", "hand-flat-demand", "--from", "2024-07-01")
    got = _fetch(db, "SELECT site_id, utility_tariff_id FROM sites ORDER BY 1")
    assert got == [
        {"site_id": "S", "utility_tariff_id": "hand-flat-demand"},
        {"site_id": "T", "utility_tariff_id": "hand-ev-rate"},
    ]


def test_many_sites_from_a_csv(tmp_path):
    db = _bills_db(tmp_path)
    changes = tmp_path / "tariffs.csv"
    changes.write_text("site_id,tariff_id\nS,hand-ev-rate\nT,hand-flat-demand\n")
    _ok("--db", db, "sites", "set-tariff", "--csv", changes, "--from", "2024-06-01")
    got = _fetch(db, "SELECT site_id, utility_tariff_id FROM sites ORDER BY 1")
    assert got == [
        {"site_id": "S", "utility_tariff_id": "hand-ev-rate"},
        {"site_id": "T", "utility_tariff_id": "hand-flat-demand"},
    ]
    assert [x["records_read"] for x in _ledger(db)] == [2]


def test_an_unknown_site_among_many_writes_nothing_and_lists_the_known(tmp_path):
    db = _bills_db(tmp_path)
    r = runner.invoke(
        app, ["--db", str(db), "sites", "set-tariff", "--site", "S", "--site", "Q", "--tariff", "hand-ev-rate"]
    )
    assert r.exit_code == 2
    assert r.stderr.strip() == "error: unknown site 'Q'; known: S, T; 1 unknown in all; see `evrevops sites list`"
    assert _ledger(db) == []
    r = runner.invoke(app, ["--db", str(db), "sites", "set-tariff", "--site", "S", "--tariff", "hand-ev"])
    assert r.exit_code == 2 and "did you mean 'hand-ev-rate'" in r.stderr and "see `evrevops tariffs list`" in r.stderr


def test_the_one_site_form_is_unchanged_and_its_unknown_tariff_lists_the_known(tmp_path):
    db = _bills_db(tmp_path)
    _ok("--db", db, "sites", "set-tariff", "T", "hand-ev-rate", "--from", "2024-06-01")
    assert _ledger(db) == [
        {"path": "evrevops sites set-tariff T hand-ev-rate --from 2024-06-01", "records_read": 1, "accepted": 1}
    ]
    r = runner.invoke(app, ["--db", str(db), "sites", "set-tariff", "T", "hand-ev"])
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        "error: unknown utility tariff 'hand-ev'; did you mean 'hand-ev-rate'? known: hand-ev-rate, hand-flat-demand; "
        "ingest its URDB record first"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give SITE TARIFF, or --tariff T with --site/--segment, or --csv FILE"),
        (["S", "hand-ev-rate", "--site", "T"], "give SITE TARIFF, or --site/--segment/--csv, not both"),
        (["--site", "S"], "--site and --segment need --tariff"),
        (["--csv", "x.csv", "--tariff", "hand-ev-rate"], "--csv names each site's tariff; it does not go with"),
        (["--segment", "residential", "--tariff", "hand-ev-rate"], "--segment: no site is in segment 'residential'"),
        (
            ["--segment", "fleets", "--tariff", "hand-ev-rate"],
            "unknown segment 'fleets'; did you mean 'fleet'? use one of",
        ),
    ],
)
def test_forms_that_do_not_go_together_are_clear_errors(tmp_path, args, message):
    db = _bills_db(tmp_path)
    r = runner.invoke(app, ["--db", str(db), "sites", "set-tariff", *args])
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: {message}"), r.stderr
