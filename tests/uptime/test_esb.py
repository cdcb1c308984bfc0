"""The real Irish ESB ecars status log (November 2018), end to end: ingest through the mapping, then uptime.

Independent oracle: straight from the raw file, each poll's picture of a connector (listed with a
code, or free when not listed; nothing at a placeholder poll) holds until the next poll. Summing
those intervals per connector gives its out-of-service (OOS), out-of-contact (OOC) and no-data
minutes; the warehouse's run-length events and status timeline must give the same, to the
second. The figures are the ones docs/uptime.md reports.

From 11 to 25 November the feed returned only placeholder rows: a feed gap on every site. The
NEVI uptime of the month (and of its trailing year) is then no data, never the 44.5 % that
counting the gap as outage gives; the uptime over measured time is still computed, `coverage`
names the gap with its dates, and `uptime` prints the warning line on stderr.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.core.calendar import month_range
from evrevops.metrics import compute as mc
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from tests.helpers import real_data

ESB = "ireland_esb_chargepoint_status_2018_11/data_evcp_2018-11.txt.gz"  # in the full real data only (licence unknown)
AS_OF = dt.datetime(2018, 12, 1)  # the log's polls run to 30 Nov 23:59 (Irish time = UTC in November)


def _oracle(path: Path) -> dict[str, dict[str, float]]:
    con = duckdb.connect()
    con.execute(
        f"""CREATE TABLE raw AS SELECT strptime(d || lpad(t, 4, '0'), '%Y%m%d%H%M') AS ts, cp, ct, st
            FROM read_csv('{path}', delim = '\t', header = false, quote = '', encoding = 'latin-1',
                          columns = {{'d': 'VARCHAR', 't': 'VARCHAR', 'cp': 'VARCHAR', 'ct': 'VARCHAR', 'st': 'VARCHAR',
                                     'll': 'VARCHAR', 'addr': 'VARCHAR', 'lon': 'VARCHAR', 'lat': 'VARCHAR'}})"""
    )
    rows = con.execute(
        f"""WITH polls AS (
                SELECT ts, bool_or(st <> 'NA') AS real FROM raw GROUP BY ts
            ), span AS (
                SELECT ts, real, coalesce(lead(ts) OVER (ORDER BY ts), TIMESTAMP '{AS_OF}') AS nxt FROM polls
            ), first_real AS (SELECT min(ts) AS t0 FROM polls WHERE real),
            ports AS (SELECT DISTINCT cp || '#' || ct AS port FROM raw WHERE cp NOT IN ('N/A', 'NA')),
            listed AS (
                -- the worst code a connector is listed with at a poll (OOC, then OOS, then occupied)
                SELECT ts, cp || '#' || ct AS port,
                       min(CASE st WHEN 'OOC' THEN 0 WHEN 'OOS' THEN 1 ELSE 2 END) AS code
                FROM raw WHERE cp NOT IN ('N/A', 'NA') GROUP BY ALL
            ), grid AS (
                SELECT p.port, s.ts, s.real, epoch(s.nxt) - epoch(s.ts) AS dur_s, l.code
                FROM ports p CROSS JOIN span s LEFT JOIN listed l ON l.port = p.port AND l.ts = s.ts
                WHERE s.ts >= (SELECT t0 FROM first_real)
            )
            SELECT port,
                   sum(CASE WHEN real AND code = 1 THEN dur_s ELSE 0 END) / 60 AS oos_min,
                   sum(CASE WHEN real AND code = 0 THEN dur_s ELSE 0 END) / 60 AS ooc_min,
                   sum(CASE WHEN NOT real THEN dur_s ELSE 0 END) / 60 AS no_data_min,
                   sum(dur_s) / 3600 AS measured_h
            FROM grid GROUP BY port"""
    ).fetchall()
    return {p: {"oos_min": a, "ooc_min": b, "no_data_min": c, "measured_h": h} for p, a, b, c, h in rows}


def _raw_gaps(path: Path) -> list[tuple[dt.datetime, dt.datetime]]:
    """Runs of placeholder polls after the first real one, from the raw file: (first placeholder poll, next real
    poll), longest first."""
    con = duckdb.connect()
    return con.execute(
        f"""WITH raw AS (
                SELECT strptime(column0 || lpad(column1, 4, '0'), '%Y%m%d%H%M') AS ts, column4 AS st
                FROM read_csv('{path}', delim = '\t', header = false, quote = '', encoding = 'latin-1', all_varchar = true)
            ), polls AS (SELECT ts, bool_or(st <> 'NA') AS real FROM raw GROUP BY ts),
            s AS (SELECT ts, real, lead(ts) OVER (ORDER BY ts) AS nxt FROM polls),
            r AS (SELECT *, sum(CASE WHEN real THEN 1 ELSE 0 END) OVER (ORDER BY ts) AS grp FROM s)
            SELECT min(ts) FILTER (WHERE NOT real), max(nxt) FILTER (WHERE NOT real)
            FROM r WHERE grp > 0 GROUP BY grp HAVING bool_or(NOT real)
            ORDER BY max(nxt) FILTER (WHERE NOT real) - min(ts) FILTER (WHERE NOT real) DESC"""
    ).fetchall()


@pytest.fixture(scope="module")
def esb(tmp_path_factory):
    path = real_data.full(ESB)
    db = tmp_path_factory.mktemp("esb") / "w.duckdb"
    wh = open_warehouse(db)
    r = ingest_file(wh, path, "status-snapshots", "esb_ecars")
    assert r.records_read == r.accepted + r.duplicate + r.quarantined == 1_385_813
    lo, hi = month_range("2018-11")
    names = ["uptime_pct", "measured_uptime_pct", "measured_h", "t_outage_min", "fault_min", "offline_min", "no_data_min",
             "outages", "mttr_h", "ports_below_nevi", "uptime_t12m_pct"]  # fmt: skip
    by_port = mc.compute(wh, by="port", period="month", start=lo, end=hi, metrics=names, as_of=AS_OF).to_pylist()
    net = mc.compute(wh, by="network", period="month", start=lo, end=hi, metrics=names, as_of=AS_OF).to_pylist()
    wh.close()  # the CLI tests open it themselves
    return {r["port_id"]: r for r in by_port}, net[0], path, db


def test_per_port_minutes_match_the_raw_polls(esb):
    ports, _, path, _ = esb
    oracle = _oracle(path)
    assert set(ports) == set(oracle) and len(ports) == 646
    for p, o in oracle.items():
        m = ports[p]
        assert m["measured_h"] == pytest.approx(o["measured_h"], abs=1e-9), p
        assert m["offline_min"] == pytest.approx(o["ooc_min"], abs=1e-9), p
        assert m["no_data_min"] == pytest.approx(o["no_data_min"], abs=1e-9), p
        assert m["fault_min"] == pytest.approx(o["oos_min"], abs=1e-9), p
        assert m["t_outage_min"] == pytest.approx(m["fault_min"] + m["offline_min"] + m["no_data_min"]), p
        assert 0 <= m["measured_uptime_pct"] <= 100, p
        # every connector's site is in the feed gap: its NEVI uptime is not known, month or trailing year
        assert (m["uptime_pct"], m["uptime_t12m_pct"], m["ports_below_nevi"]) == (None, None, None), p


def test_network_figures_of_the_docs(esb):
    _, net, _, _ = esb
    # docs/uptime.md, "The Irish ESB ecars status log"
    assert net["measured_h"] == pytest.approx(458_563.1, abs=0.05)
    assert round(net["measured_uptime_pct"], 2) == 84.66
    assert round(net["no_data_min"]) == 13_040_802
    assert round(net["offline_min"]) == 952_610
    assert round(net["fault_min"]) == 1_267_102  # OOS
    assert net["outages"] == 3286
    # the feed gap makes the NEVI uptime no data; counted as outage, it would have read 44.54 % (the docs say so)
    assert net["uptime_pct"] is None and net["uptime_t12m_pct"] is None
    measured_min = net["measured_h"] * 60
    assert round((measured_min - net["t_outage_min"]) / measured_min * 100, 2) == 44.54
    # ports_below_nevi counts only ports with a known trailing year: none here (it was 646, every connector)
    assert net["ports_below_nevi"] is None


def test_coverage_names_the_feed_gap_with_its_dates(esb):
    _, _, path, db = esb
    raw = _raw_gaps(path)
    assert raw[0] == (dt.datetime(2018, 11, 11, 4, 55), dt.datetime(2018, 11, 25, 5, 15))  # the 14-day outage
    r = CliRunner().invoke(
        app, ["--db", str(db), "coverage", "--month", "2018-11", "--as-of", "2018-12-01T00:00", "--format", "json"]
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    tele = [x for x in rows if x["source"] == "telemetry"]
    assert len(tele) == 523 and {x["site_id"] for x in rows} == {x["site_id"] for x in tele}  # every charge point
    assert {(x["status"], x["feed_gaps"], x["gap_from"], x["gap_to"]) for x in tele} == {
        ("feed gap", 1, f"{raw[0][0]:%Y-%m-%dT%H:%M:%S}", f"{raw[0][1]:%Y-%m-%dT%H:%M:%S}")
    }
    assert {round(x["feed_gap_h"], 2) for x in tele} == {round((raw[0][1] - raw[0][0]).total_seconds() / 3600, 2)}
    # the log has no sessions, contracts or CRM: each says no data
    assert {(x["source"], x["status"]) for x in rows if x["source"] != "telemetry"} == {
        ("sessions", "no data"),
        ("contracts", "no data"),
        ("crm", "no data"),
    }


def test_uptime_shows_no_data_and_warns_of_the_gap(esb):
    _, net, _, db = esb
    args = ["--db", str(db), "uptime", "--month", "2018-11", "--by", "network", "--as-of", "2018-12-01T00:00"]
    r = CliRunner().invoke(app, [*args, "--format", "json"])
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.stdout)
    assert row["uptime_pct"] is None and row["telemetry"] == "feed gap"
    assert row["measured_uptime_pct"] == pytest.approx(net["measured_uptime_pct"])
    warning = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert warning == [
        "warning: no data for 2018-11-01 … 2018-11-30: telemetry: 523 of 523 sites in a feed gap "
        "(2018-11-11 04:55 … 2018-11-25 05:15, up to 336 h) — shown as no data, not 0 %"
    ]
    table = CliRunner().invoke(app, [*args, "--format", "table"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "feed gap" in table.stdout and "44.5" not in table.stdout


def test_headline_shows_no_sessions_and_the_feed_gap(esb):
    _, _, _, db = esb
    r = CliRunner().invoke(app, ["--db", str(db), "headline", "--month", "2018-11", "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert rows and all(x["ports"] == 646 for x in rows)
    # a status log has no sessions and the feed gap hides the NEVI uptime: no data, never 0 % or 44.5 %
    for name in ("sessions", "energy_kwh", "utilization", "uptime_pct", "uptime_t12m_pct", "ports_below_nevi"):
        assert {x[name] for x in rows} == {None}, name
    warning = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert warning == [
        "warning: no data for 2018-11-01 … 2018-11-30: sessions: 523 of 523 sites have none; telemetry: 523 of 523 "
        "sites in a feed gap (2018-11-11 04:55 … 2018-11-25 05:15, up to 336 h) — shown as no data, not 0 %"
    ]
