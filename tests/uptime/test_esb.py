"""The real Irish ESB ecars status log (November 2018), end to end: ingest through the mapping, then uptime.

Independent oracle: straight from the raw file, each poll's picture of a connector (listed with a
code, or free when not listed; nothing at a placeholder poll) holds until the next poll. Summing
those intervals per connector gives its out-of-service (OOS), out-of-contact (OOC) and no-data
minutes; the warehouse's run-length events and status timeline must give the same, to the
second. The figures are the ones docs/uptime.md reports.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

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


@pytest.fixture(scope="module")
def esb(tmp_path_factory):
    path = real_data.full(ESB)
    wh = open_warehouse(tmp_path_factory.mktemp("esb") / "w.duckdb")
    r = ingest_file(wh, path, "status-snapshots", "esb_ecars")
    assert r.records_read == r.accepted + r.duplicate + r.quarantined == 1_385_813
    lo, hi = month_range("2018-11")
    names = ["uptime_pct", "measured_uptime_pct", "measured_h", "t_outage_min", "fault_min", "offline_min", "no_data_min",
             "outages", "mttr_h", "ports_below_nevi"]  # fmt: skip
    by_port = mc.compute(wh, by="port", period="month", start=lo, end=hi, metrics=names, as_of=AS_OF).to_pylist()
    net = mc.compute(wh, by="network", period="month", start=lo, end=hi, metrics=names, as_of=AS_OF).to_pylist()
    yield {r["port_id"]: r for r in by_port}, net[0], path
    wh.close()


def test_per_port_minutes_match_the_raw_polls(esb):
    ports, _, path = esb
    oracle = _oracle(path)
    assert set(ports) == set(oracle) and len(ports) == 646
    for p, o in oracle.items():
        m = ports[p]
        assert m["measured_h"] == pytest.approx(o["measured_h"], abs=1e-9), p
        assert m["offline_min"] == pytest.approx(o["ooc_min"], abs=1e-9), p
        assert m["no_data_min"] == pytest.approx(o["no_data_min"], abs=1e-9), p
        assert m["fault_min"] == pytest.approx(o["oos_min"], abs=1e-9), p
        assert m["t_outage_min"] == pytest.approx(m["fault_min"] + m["offline_min"] + m["no_data_min"]), p
        assert 0 <= m["uptime_pct"] <= m["measured_uptime_pct"] <= 100


def test_network_figures_of_the_docs(esb):
    _, net, _ = esb
    # docs/uptime.md, "The Irish ESB ecars status log"
    assert net["measured_h"] == pytest.approx(458_563.1, abs=0.05)
    assert round(net["measured_uptime_pct"], 2) == 84.66
    assert round(net["uptime_pct"], 2) == 44.54
    assert round(net["no_data_min"]) == 13_040_802
    assert round(net["offline_min"]) == 952_610
    assert round(net["fault_min"]) == 1_267_102  # OOS
    assert net["outages"] == 3286 and net["ports_below_nevi"] == 646
