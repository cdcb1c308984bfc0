"""The CLI, run in process: Uptime commands, on the hand-computed year of tests/uptime/test_timeline.py."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evrevops.cli import app

runner = CliRunner()


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
    assert set(recs["P1"]) == {"port_id", "site_id", "month", "currency", "telemetry", *UPTIME}
    assert {p: r["telemetry"] for p, r in recs.items()} == {
        "P1": "reported",
        "P2": "reported",
        "Q1": "reported",
    }  # every port observed
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


def test_as_of_a_day_is_the_end_of_that_day(uptime_db):
    # `--as-of` means "use only what was known by then": a bare day is the day's last instant (UTC), not its start
    def open_outages(as_of):
        r = runner.invoke(
            app,
            ["--db", str(uptime_db), "outages", "--open", "--as-of", as_of, "--month", "2025-09", "--format", "json"],
        )
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

    # Q1 went down at 20:00 on 2025-09-10 and came back at 08:00 the next day
    at_day = open_outages("2025-09-10")
    assert [(x["port_id"], x["started_at"], x["open"]) for x in at_day] == [("Q1", "2025-09-10T20:00:00", True)]
    assert at_day == open_outages("2025-09-10T23:59:59.999999")
    assert open_outages("2025-09-10T00:00") == []
