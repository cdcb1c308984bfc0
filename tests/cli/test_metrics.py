"""The CLI, run in process: `metrics`: JSON field names are the registry's; every grain; the explained SQL; clear failures."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.metrics.registry import GRAIN_KEYS, METRICS

runner = CliRunner()


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
    assert " 23.0 │" in r.stdout and " 24.0 │" not in r.stdout  # the DST day: 23 open hours, in hours


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
