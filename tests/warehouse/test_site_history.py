"""Site facts with the dates they take effect (evrevops.warehouse.site_history)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from evrevops.metrics.compute import compute
from evrevops.warehouse import site_history
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from tests.helpers.cdrs import cdr

HEADER = "site_id,segment,revenue_model,utility_tariff_id,grid_capacity_kw,effective_on,time_zone,port_id\n"


def _history(wh) -> list[tuple]:
    return wh.con.sql(
        f"SELECT site_id, valid_from, valid_to, segment, revenue_model, utility_tariff_id, grid_capacity_kw "
        f"FROM {site_history.VIEW} ORDER BY site_id, valid_from NULLS FIRST"
    ).fetchall()


def test_dated_rows_make_intervals_and_sites_holds_the_latest(tmp_path):
    p = tmp_path / "sites.csv"
    p.write_text(
        HEADER + "S1,commercial,caas,T-A,100,,UTC,P1\n"
        "S1,fleet,,,,2025-03-16,UTC,P1\n"  # a new segment from the 16th; the rest holds
        "S1,fleet,,T-B,,2025-06-01,UTC,P1\n"  # segment is stated on every row (required)
        "S2,residential,hardware_sale,,,,UTC,P2\n"
    )
    wh = open_warehouse(tmp_path / "w.duckdb")
    r = ingest_file(wh, p)
    assert (r.records_read, r.accepted, r.quarantined) == (4, 4, 0)
    assert _history(wh) == [
        ("S1", None, dt.date(2025, 3, 16), "commercial", "caas", "T-A", 100.0),
        ("S1", dt.date(2025, 3, 16), dt.date(2025, 6, 1), "fleet", "caas", "T-A", 100.0),
        ("S1", dt.date(2025, 6, 1), None, "fleet", "caas", "T-B", 100.0),
        ("S2", None, None, "residential", "hardware_sale", None, None),
    ]
    assert wh.con.sql("SELECT segment, utility_tariff_id FROM sites WHERE site_id = 'S1'").fetchall() == [
        ("fleet", "T-B")
    ]
    # the same file again changes nothing
    assert ingest_file(wh, p).status == "unchanged"
    wh.close()


def test_an_undated_change_takes_effect_from_the_first_of_this_month(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    (tmp_path / "a.csv").write_text(HEADER + "S1,commercial,caas,T-A,,,UTC,P1\n")
    ingest_file(wh, tmp_path / "a.csv")
    # the same inventory restated without dates (another file): a duplicate, nothing new in history
    (tmp_path / "b.csv").write_text(HEADER + "S1,Commercial,caas,T-A,,,UTC,P1\n")
    r = ingest_file(wh, tmp_path / "b.csv")
    assert (r.accepted, r.duplicate) == (0, 1)
    assert len(_history(wh)) == 1
    # a changed tariff without a date: from the first day of this month, the past keeps T-A
    (tmp_path / "c.csv").write_text(HEADER + "S1,commercial,caas,T-B,,,UTC,P1\n")
    ingest_file(wh, tmp_path / "c.csv")
    first = dt.datetime.now(dt.UTC).date().replace(day=1)
    assert _history(wh) == [
        ("S1", None, first, "commercial", "caas", "T-A", None),
        ("S1", first, None, "commercial", "caas", "T-B", None),
    ]
    wh.close()


def test_rows_of_one_site_and_date_that_disagree_are_quarantined(tmp_path):
    p = tmp_path / "sites.csv"
    p.write_text(
        HEADER + "S1,commercial,,,,2025-01-01,UTC,P1\nS1,fleet,,,,2025-01-01,UTC,P2\nS1,fleet,,,,2025-02-01,UTC,P3\n"
    )
    wh = open_warehouse(tmp_path / "w.duckdb")
    r = ingest_file(wh, p)
    assert (r.records_read, r.accepted, r.quarantined) == (3, 1, 2)
    reasons = {x[0] for x in wh.con.sql("SELECT reason FROM quarantine").fetchall()}
    assert reasons == {
        "rows of site 'S1' (effective_on 2025-01-01) disagree on segment: 'commercial' (line 2), 'fleet' (line 3)"
    }
    wh.close()


def test_metrics_count_each_day_in_the_segment_in_force_that_day(tmp_path):
    """A site that becomes a fleet depot on 16 March: its sessions before count as commercial, after as fleet.

    The port is commissioned on 1 January (without a date it would be in service only from its first session).
    """
    header = HEADER.replace("port_id\n", "port_id,commissioned_on\n")
    (tmp_path / "sites.csv").write_text(
        header + "S1,commercial,,,,,UTC,S1-P1,2025-01-01\nS1,fleet,,,,2025-03-16,UTC,S1-P1,2025-01-01\n"
    )
    cdrs = [
        cdr(id="C1", start_date_time="2025-03-10T10:00:00Z", end_date_time="2025-03-10T11:00:00Z", last_updated="2025-03-10T11:00:00Z"),
        cdr(id="C2", start_date_time="2025-03-15T23:00:00Z", end_date_time="2025-03-16T01:00:00Z", last_updated="2025-03-16T01:00:00Z"),
        cdr(id="C3", start_date_time="2025-03-20T10:00:00Z", end_date_time="2025-03-20T11:00:00Z", last_updated="2025-03-20T11:00:00Z"),
    ]  # fmt: skip
    (tmp_path / "c.ndjson").write_text("\n".join(json.dumps(c) for c in cdrs))
    wh = open_warehouse(tmp_path / "w.duckdb")
    for f in ("sites.csv", "c.ndjson"):
        assert ingest_file(wh, tmp_path / f).quarantined == 0
    got = compute(wh, by="segment", period="month", start=dt.date(2025, 3, 1), end=dt.date(2025, 3, 31),
                  metrics=["sessions", "open_h", "ports"], kept=False).to_pylist()  # fmt: skip
    # C2 starts on the 15th (UTC site): commercial; open hours split 15 days / 16 days; the port is in both
    assert {r["segment"]: (r["sessions"], r["open_h"], r["ports"]) for r in got} == {
        "commercial": (2, 15 * 24.0, 1),
        "fleet": (1, 16 * 24.0, 1),
    }
    net = compute(wh, by="network", period="month", start=dt.date(2025, 3, 1), end=dt.date(2025, 3, 31),
                  metrics=["sessions", "open_h", "ports"], kept=False).to_pylist()  # fmt: skip
    assert (net[0]["sessions"], net[0]["open_h"], net[0]["ports"]) == (3, 31 * 24.0, 1)
    wh.close()


@pytest.mark.parametrize("day", [dt.date(2025, 7, 14), dt.date(2026, 1, 31)])
def test_default_from_is_the_first_of_the_month(day):
    assert site_history.default_from(day) == day.replace(day=1)
