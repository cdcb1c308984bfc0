"""The CLI, run in process: every command has help and docs; data commands render all formats."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.metrics.registry import GRAIN_KEYS, METRICS

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def all_commands() -> list[tuple[str, ...]]:
    root = typer.main.get_command(app)
    out = []

    def walk(cmd, path: tuple[str, ...]) -> None:
        out.append(path)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, (*path, name))

    walk(root, ())
    return out


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "evrevops")
def test_every_command_has_help(path):
    r = runner.invoke(app, [*path, "--help"])
    assert r.exit_code == 0, r.output
    assert "Usage" in r.output


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for path in all_commands():
        if path:
            assert f"`evrevops {' '.join(path)}" in readme, f"command {' '.join(path)!r} is not in README.md"


@pytest.fixture(scope="module")
def db(tmp_path_factory, fixtures):
    p = tmp_path_factory.mktemp("cli") / "w.duckdb"
    r = runner.invoke(app, ["--db", str(p), "ingest", str(fixtures / "metrics"), "--output", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert {row["format"] for row in rows} == {"sites-csv", "ocpi-cdrs"}
    assert all(row["records_read"] == row["accepted"] + row["duplicate"] + row["quarantined"] for row in rows)
    return p


def test_metrics_json_fields_are_registry_names(db):
    r = runner.invoke(app, ["--db", str(db), "metrics", "--month", "2024-03", "--by", "site", "--format", "json"])
    assert r.exit_code == 0, r.output
    recs = json.loads(r.stdout)
    assert [x["site_id"] for x in recs] == ["A", "B"]
    assert set(recs[0]) == {"site_id", "month", "currency", *METRICS}
    assert recs[0]["month"] == "2024-03" and recs[0]["energy_revenue_minor"] == 11_000


@pytest.mark.parametrize("by", list(GRAIN_KEYS))
def test_metrics_every_grain_csv(db, by):
    r = runner.invoke(
        app, ["--db", str(db), "metrics", "--month", "2024-03", "--by", by, "--format", "csv", "-m", "sessions"]
    )
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert sum(int(x["sessions"]) for x in rows) == 6
    assert set(GRAIN_KEYS[by]) <= set(rows[0])


def test_metrics_day_period_and_table(db):
    r = runner.invoke(app, ["--db", str(db), "metrics", "--day", "2024-03-10", "--by", "port", "-m", "open_h"])
    assert r.exit_code == 0, r.output
    assert "23.0000" in r.stdout  # the DST day


def test_explain_shows_sql():
    r = runner.invoke(app, ["metrics", "explain", "utilization", "--by", "site"])
    assert r.exit_code == 0, r.output
    assert "charging time / open time" in r.stdout and "SELECT" in r.stdout and "_evrevops_calendar" in r.stdout
    assert "the view kept_close_site" in " ".join(r.stdout.split())  # where a month-close reads it from
    assert "Utilization [fraction]" in r.stdout  # the unit, not swallowed as markup
    r = runner.invoke(app, ["metrics", "explain", "demand_charge_minor", "--by", "segment"])
    assert r.exit_code == 0, r.output
    # the bill view's SQL is shown with the metric's: the demand peak and the tariff tables
    assert "site_month_bills" in r.stdout and "tou_peak" in r.stdout and "rate_demand_tiers" in r.stdout
    r = runner.invoke(app, ["metrics", "explain", "uptime_t12m_pct", "--by", "site"])
    assert r.exit_code == 0, r.output
    # the timeline's statements are shown: liveness (offline inference), exclusions, the trailing window
    assert "_uptime_intervals" in r.stdout and "lead(t) OVER" in r.stdout and "nevi_excludable" in r.stdout
    assert "RANGE BETWEEN 11 PRECEDING" in r.stdout
    # the same expression compiled for Spark SQL (backtick-quoted identifiers)
    r = runner.invoke(app, ["metrics", "explain", "utilization", "--by", "site", "--dialect", "pyspark"])
    assert r.exit_code == 0, r.output
    assert "`_evrevops_calendar`" in r.stdout and "SELECT" in r.stdout


def test_unknown_metric_and_grain_fail_clearly(db):
    r = runner.invoke(app, ["--db", str(db), "metrics", "-m", "nope"])
    assert r.exit_code == 2 and "unknown metric" in r.output
    r = runner.invoke(app, ["--db", str(db), "metrics", "--by", "planet"])
    assert r.exit_code == 2 and "unknown grain" in r.output
    r = runner.invoke(app, ["--db", str(db), "metrics", "--month", "2024-13"])
    assert r.exit_code == 2 and "not a month" in r.output


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


# ---- uptime commands, on the hand-computed year of tests/uptime/test_timeline.py -------------------


@pytest.fixture(scope="module")
def uptime_db(tmp_path_factory):
    from tests.uptime import test_timeline as hand
    from tests.uptime.network import ingest, write_network

    folder = tmp_path_factory.mktemp("uptime-cli")
    write_network(folder, hand.SITES, hand._log(), hand.INCIDENTS)
    ingest(folder, folder / "w.duckdb").close()
    return folder / "w.duckdb"


def test_uptime_by_port_json_is_the_hand_computed_nevi_figure(uptime_db):
    from evrevops.metrics.registry import UPTIME

    r = runner.invoke(app, ["--db", str(uptime_db), "uptime", "--month", "2025-12", "--by", "port", "--format", "json"])
    assert r.exit_code == 0, r.output
    recs = {x["port_id"]: x for x in json.loads(r.stdout)}
    assert set(recs) == {"P1", "P2", "Q1"}
    assert set(recs["P1"]) == {"port_id", "site_id", "month", "currency", *UPTIME}
    assert recs["P1"]["uptime_t12m_pct"] == pytest.approx((525_600 - 1_080) / 525_600 * 100)
    assert recs["Q1"]["ports_partial_year"] == 1


@pytest.mark.parametrize(
    "cmd",
    [
        ["uptime", "--month", "2025-08", "--by", "site"],
        ["outages", "--month", "2025-08"],
        ["outages", "--open"],
        ["stale", "--as-of", "2025-10-01T08:00"],
        ["sla", "--month", "2025-08"],
        ["risk", "--month", "2025-12"],
    ],
    ids=lambda c: " ".join(c),
)
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_uptime_commands_render_every_format(uptime_db, cmd, fmt):
    r = runner.invoke(app, ["--db", str(uptime_db), *cmd, "--format", fmt])
    assert r.exit_code == 0, r.output
    if fmt == "json":
        json.loads(r.stdout)


def test_a_warehouse_of_telemetry_only_defaults_to_its_last_full_month(uptime_db):
    # no sessions at all: the default month comes from the telemetry (heartbeats to 2026-01-01 00:00)
    r = runner.invoke(app, ["--db", str(uptime_db), "uptime", "--by", "network", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert [x["month"] for x in json.loads(r.stdout)] == ["2025-12"]


def test_outages_and_stale_name_the_silent_charger(uptime_db):
    r = runner.invoke(app, ["--db", str(uptime_db), "outages", "--month", "2025-10", "--format", "json"])
    rows = [x for x in json.loads(r.stdout) if x["port_id"] == "P1"]
    assert [(x["started_at"], x["duration_min"], x["statuses"]) for x in rows] == [
        ("2025-10-01T00:00:00", 600, "offline")
    ]
    r = runner.invoke(app, ["--db", str(uptime_db), "stale", "--as-of", "2025-10-01T08:00", "--format", "json"])
    assert [(x["charger_id"], x["state"], x["since"], x["silent_h"]) for x in json.loads(r.stdout)] == [
        ("C1", "offline", "2025-10-01T00:00:00", 8.0)
    ]


def test_nevi_export_writes_valid_files(uptime_db, tmp_path):
    from evrevops.uptime import nevi_export as nx

    r = runner.invoke(
        app,
        ["--db", str(uptime_db), "nevi", "export", "--quarter", "2025Q4", "--out", str(tmp_path), "--format", "json"],
    )
    assert r.exit_code == 0, r.output
    up = nx.read_records(tmp_path / "nevi-2025Q4-uptime.json", "json", "uptime")
    assert len(up) == 9  # 3 ports × 3 months
    nx.validate(up, "uptime")
    outages = nx.read_records(tmp_path / "nevi-2025Q4-outages.json", "json", "outage")
    assert {o["outage_cause"] for o in outages} >= {"utility power failure"}
    bad = runner.invoke(app, ["--db", str(uptime_db), "nevi", "export", "--quarter", "2025Q5"])
    assert bad.exit_code == 2 and "quarter" in bad.output


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_mrr_json_fields_and_formats(tmp_path, fmt):
    from tests.contracts import test_mrr as hand

    db = str(tmp_path / "w.duckdb")
    assert runner.invoke(app, ["--db", db, "ingest", *map(str, hand.write_files(tmp_path))]).exit_code == 0
    r = runner.invoke(app, ["--db", db, "mrr", "--month", "2025-03", "--by", "customer", "--format", fmt])
    assert r.exit_code == 0, r.output
    if fmt == "json":
        recs = {x["customer"]: x for x in json.loads(r.stdout)}
        want = ("mrr_start", "new", "expansion", "contraction", "churn", "reactivation", "mrr_end", "nrr", "grr")
        assert set(want) | {"currency"} <= set(recs["A"])
        assert (recs["A"]["expansion"], recs["C"]["new"], recs["A"]["currency"]) == (15000, 15000, "USD")
    bad = runner.invoke(app, ["--db", db, "mrr", "--by", "planet"])
    assert bad.exit_code == 2 and "unknown grain" in bad.output


def test_revenue_renders_every_format(tmp_path):
    from tests.contracts import test_mrr as hand

    db = str(tmp_path / "w.duckdb")
    assert runner.invoke(app, ["--db", db, "ingest", *map(str, hand.write_files(tmp_path))]).exit_code == 0
    for fmt in ("table", "csv", "json"):
        r = runner.invoke(app, ["--db", db, "revenue", "--month", "2025-02", "--to-month", "2025-03", "--by", "customer", "--format", fmt])  # fmt: skip
        assert r.exit_code == 0, r.output
    recs = json.loads(r.stdout)
    assert {(x["customer"], x["month"]) for x in recs} >= {("A", "2025-02"), ("A", "2025-03"), ("C", "2025-03")}
    assert all(x["total_minor"] == sum(x[f"{s}_minor"] for s in ("hardware", "installation", "software", "caas", "maintenance", "sla_credit", "energy")) for x in recs)  # fmt: skip


@pytest.fixture(scope="module")
def finance_cli_db(tmp_path_factory):
    from tests.finance import hand

    return str(hand.warehouse(tmp_path_factory.mktemp("finance-cli")))


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_unit_economics_model_compare_pnl_and_incentives_render_every_format(finance_cli_db, tmp_path, fmt):
    prices = tmp_path / "prices.toml"
    prices.write_text('[prices]\ncaas_per_port_month = "120.00"\nsoftware_per_port_month = "30.00"\n')
    db = ["--db", finance_cli_db]
    for args in (
        ["unit-economics", "--by", "segment"],
        ["unit-economics", "--by", "network", "--summary"],
        ["model", "compare", "--site", "W", "--prices", str(prices)],
        ["pnl", "--month", "2025-01", "--to-month", "2025-02", "--by", "segment"],
        ["pnl", "--month", "2025-02", "--by", "network"],
        ["incentives", "--site", "H"],
    ):
        r = runner.invoke(app, [*db, *args, "--format", fmt])
        assert r.exit_code == 0, (args, r.output)
        if fmt == "json":
            recs = json.loads(r.stdout)
            assert recs, args
            if args[0] == "unit-economics" and "--summary" not in args:
                h = next(x for x in recs if x["site_id"] == "H")
                assert (h["payback_months"], h["net_capex_minor"], h["rank"]) == (63, 5_500_000, 1)
            if args[:2] == ["model", "compare"]:
                assert [x["revenue_model"] for x in recs] == ["hardware_sale", "caas", "software_only"]
                assert next(x for x in recs if x["revenue_model"] == "caas")["payback_months"] == 95
            if args[0] == "pnl" and "network" in args:
                assert recs[0]["revenue_minor"] == 221_200 and recs[0]["gross_margin_minor"] == 58_977
            if args[0] == "incentives":
                assert {x["incentive_id"]: x["award_minor"] for x in recs} == {"I-1": 5_000_000, "I-2": 1_500_000}


def test_finance_commands_fail_clearly(finance_cli_db):
    db = ["--db", finance_cli_db]
    cases = [
        (["model", "compare", "--site", "H"], "no reference price for hardware_per_charger"),
        (["model", "compare", "--site", "NOPE"], "unknown site"),
        (["pnl", "--month", "2024-12"], "months with session data"),
        (["unit-economics", "--by", "planet"], "unknown grain"),
        (["unit-economics", "--by", "site", "--summary"], "unknown grain"),
        (["unit-economics", "--site", "NOPE"], "no commissioned sites"),
    ]
    for args, msg in cases:
        r = runner.invoke(app, [*db, *args])
        assert r.exit_code == 2 and msg in r.output, (args, r.output)


@pytest.fixture(scope="module")
def pipeline_cli_db(tmp_path_factory):
    from tests.helpers.warehouse import warehouse_of
    from tests.pipeline.conftest import FOLDER

    return str(warehouse_of(FOLDER, tmp_path_factory.mktemp("pipeline-cli") / "p.duckdb"))


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_pipeline_commands_render_every_format(pipeline_cli_db, fmt):
    db = ["--db", pipeline_cli_db]
    for args in (
        ["pipeline", "--month", "2025-06"],
        ["pipeline", "--as-of", "2025-03-31", "--by", "deal"],
        ["pipeline", "funnel", "--by", "segment"],
        ["pipeline", "win-rates", "--by", "utility_capacity_confirmed"],
        ["pipeline", "projects"],
        ["pipeline", "slippage"],
        ["pipeline", "expansion", "--by", "customer"],
        ["pipeline", "ramp", "--by", "network"],
    ):
        r = runner.invoke(app, [*db, *args, "--format", fmt])
        assert r.exit_code == 0, (args, r.output)
        if fmt == "json":
            recs = json.loads(r.stdout)
            assert recs, args
            if args == ["pipeline", "--month", "2025-06"]:
                neg = next(x for x in recs if x["stage"] == "negotiation")
                assert (neg["deals"], neg["learned_weighted_minor"]) == (1, 25_624_000)
            if args[1:2] == ["projects"]:
                assert next(x for x in recs if x["project_id"] == "P4")["expected_commissioning_on"] == "2025-08-14"
    bad = runner.invoke(app, [*db, "pipeline", "win-rates", "--by", "planet"])
    assert bad.exit_code == 2 and "unknown grouping" in bad.output
    bad = runner.invoke(app, [*db, "pipeline", "--as-of", "2025-13-01"])
    assert bad.exit_code == 2


# ---- ledger forget, ingest --force, reader notes ----------------------------------------------------


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
    res = runner.invoke(app, ["--db", str(tmp_path / "w.duckdb"), *command])
    assert res.exit_code == 0, res.output
    assert "no rows" in res.output
    res = runner.invoke(app, ["--db", str(tmp_path / "w.duckdb"), *command, "--format", "json"])
    assert json.loads(res.output) == []
