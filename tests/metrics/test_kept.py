"""Kept port-day facts: equal to the live ones, read only while current, rewritten in one transaction."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.core.calendar import month_range
from evrevops.metrics import close, kept
from evrevops.metrics import compute as mc
from evrevops.metrics.registry import METRICS
from evrevops.metrics.span import data_range
from evrevops.uptime import timeline
from evrevops.warehouse import derived
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from tests.helpers import one_port
from tests.helpers.demo import copy_db
from tests.helpers.rows import assert_rows_equal

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(demo_db, tmp_path_factory):
    w = open_warehouse(copy_db(demo_db, tmp_path_factory.mktemp("kept")))  # the session's default network
    yield w
    w.close()


def test_kept_facts_equal_live_ones_at_every_grain(demo):
    assert kept.covered(demo) is None  # ingested through the library: nothing kept yet
    r = kept.refresh(demo)
    span = kept.covered(demo)
    assert span == (r["first_day"], r["last_day"]) and r["port_days"] > 0 and r["site_days"] > 0
    lo, hi = data_range(demo)
    first, last = span
    assert first.day == 1 and (last + dt.timedelta(days=1)).day == 1  # whole months
    assert first < lo and hi < last
    for by, period in (
        ("port", "day"),
        ("site", "month"),
        ("segment", "day"),
        ("customer", "month"),
        ("network", "month"),
    ):
        live = mc.compute(demo, by=by, period=period, start=first, end=last, kept=False)
        fast = mc.compute(demo, by=by, period=period, start=first, end=last)
        assert fast.schema == live.schema  # the same types too: cents stay integers
        fast, live = fast.to_pylist(), live.to_pylist()
        assert_rows_equal(fast, live)
    assert any(r["energy_revenue_minor"] for r in fast) and any(r["visit_success_rate"] for r in fast)
    # the kept uptime: outages, repairs (mttr needs failures > 0) and money at risk are in the comparison
    assert (
        any(r["outages"] for r in fast)
        and any(r["mttr_h"] for r in fast)
        and any(r["revenue_at_risk_minor"] for r in fast)
    )
    assert any(r["uptime_t12m_pct"] for r in fast)


def test_a_month_from_the_kept_facts_equals_the_live_month(demo):
    kept.refresh(demo)
    lo, hi = data_range(demo)
    month = month_range(f"{hi:%Y-%m}") if hi.day > 27 else month_range(f"{lo:%Y-%m}")
    f = kept.facts(demo, *month)
    assert f is not None and f.port_day.count().to_pyarrow().as_py() > 0
    # a whole month is read from the monthly sums: one row per port, as many as the port-days' ports
    m = kept.facts(demo, *month, monthly=True)
    assert "local_date" not in m.port_day.columns and "local_date" in f.port_day.columns
    assert m.port_day.count().to_pyarrow().as_py() == f.port_day.port_id.nunique().to_pyarrow().as_py()
    assert (
        kept.facts(demo, month[0], month[1] - dt.timedelta(days=1), monthly=True).port_day.columns == f.port_day.columns
    )
    # visits are left out: a visit begun just before the month counts on its own first day when kept
    names = [n for n in METRICS if "visit" not in n]
    live = mc.compute(demo, by="site", period="month", start=month[0], end=month[1], metrics=names, kept=False)
    assert_rows_equal(mc.compute(demo, by="site", period="month", start=month[0], end=month[1], metrics=names).to_pylist(),
           live.to_pylist())  # fmt: skip


def test_kept_facts_are_read_only_while_current_and_within_their_days(demo, tmp_path):
    kept.refresh(demo)
    first, last = kept.covered(demo)
    assert kept.facts(demo, first, last) is not None
    assert kept.facts(demo, first - dt.timedelta(days=1), last) is None  # a day they do not cover
    # another version of the fact builder makes them stale
    demo.con.execute("UPDATE derived_facts SET fingerprint = 'older:' || fingerprint WHERE name = ?", [kept.NAME])
    assert kept.covered(demo) is None and kept.facts(demo, first, last) is None
    kept.refresh(demo)
    # so does any ingest: a new file adds a ledger row
    extra = one_port.write(tmp_path / "sites.csv", "KEPT-X")
    assert ingest_file(demo, extra).accepted == 1
    assert kept.covered(demo) is None


def test_a_failed_refresh_leaves_the_kept_facts_as_they_were(demo, monkeypatch):
    kept.refresh(demo)
    before = (demo.count(kept.PORT_DAY), kept.covered(demo))
    demo.con.execute("CREATE TEMP TABLE _before AS SELECT * FROM kept_port_day")

    def crash(*a, **k):
        raise RuntimeError("disk full")

    # add a session-bearing change so the rebuild would differ, then crash while recording it
    demo.con.execute(
        "UPDATE sessions SET energy_kwh = energy_kwh + 1 WHERE session_id = (SELECT min(session_id) FROM sessions)"
    )
    monkeypatch.setattr(derived, "record", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        kept.refresh(demo)
    assert (demo.count(kept.PORT_DAY), kept.covered(demo)) == before
    diff = demo.con.sql("SELECT count(*) FROM (SELECT * FROM kept_port_day EXCEPT ALL SELECT * FROM _before)")
    assert diff.fetchall()[0][0] == 0


def test_an_empty_warehouse_keeps_nothing(tmp_path):
    w = open_warehouse(tmp_path / "empty.duckdb")
    r = kept.refresh(w)
    assert (r["port_days"], r["first_day"]) == (0, None)
    assert kept.covered(w) is None
    w.close()


def test_cli_ingest_keeps_the_facts(fixtures, tmp_path):
    path = tmp_path / "cli.duckdb"
    r = runner.invoke(app, ["--db", str(path), "ingest", str(fixtures / "metrics"), "--output", "json"])
    assert r.exit_code == 0, r.output
    assert "port-day facts" in r.output and "month-close measures" in r.output
    w = open_warehouse(path, read_only=True)
    span = kept.covered(w)
    assert span is not None and span[0] <= dt.date(2024, 3, 1) <= span[1]
    month = (dt.date(2024, 3, 1), dt.date(2024, 3, 31))
    assert close.close_answers(w, "month", *month, None, timeline.DEFAULT_OFFLINE_AFTER_S)  # read from the views
    assert_rows_equal(mc.compute(w, by="site", start=month[0], end=month[1]).to_pylist(),
           mc.compute(w, by="site", start=month[0], end=month[1], kept=False).to_pylist())  # fmt: skip
    w.close()


def test_another_horizon_or_window_builds_the_uptime_now(demo, monkeypatch):
    kept.refresh(demo)
    first, last = kept.covered(demo)
    month = month_range(f"{last - dt.timedelta(days=40):%Y-%m}")
    assert kept.uptime(demo, month[0], month[0]) is not None
    default = mc.compute(demo, by="network", start=month[0], end=month[1], metrics=["offline_min"]).to_pylist()

    def refuse(*a, **k):
        raise AssertionError("the kept uptime holds the default horizon and window only")

    monkeypatch.setattr(kept, "uptime", refuse)
    wider = mc.compute(
        demo, by="network", start=month[0], end=month[1], metrics=["offline_min"], offline_after_s=30 * 86_400
    ).to_pylist()
    assert wider[0]["offline_min"] < default[0]["offline_min"]  # a longer silence window: less offline time
    with pytest.raises(AssertionError, match="default horizon"):
        mc.compute(demo, by="network", start=month[0], end=month[1], metrics=["offline_min"])


def test_a_months_repair_time_does_not_depend_on_the_months_asked_for(demo):
    """An outage begun in a month and repaired in the next is that month's failure, whole, either way."""
    lo, _ = data_range(demo)
    first = month_range(f"{lo:%Y-%m}")
    second = month_range(f"{first[1] + dt.timedelta(days=1):%Y-%m}")
    names = ["mttr_h", "mtbf_h", "outages"]
    # one port faults on the evening of the first month's last day and is repaired two days later
    before = mc.compute(demo, by="port", start=first[0], end=first[1], metrics=names, kept=False).to_pylist()
    heard = {r[0] for r in demo.con.sql("SELECT DISTINCT port_id FROM status_events").fetchall()}
    port = min(r["port_id"] for r in before if r["outages"] == 0 and r["port_id"] in heard)
    demo.con.execute("BEGIN TRANSACTION")
    try:
        for at, status in (
            (f"{first[1]} 20:00:00", "Faulted"),
            (f"{second[0] + dt.timedelta(days=1)} 20:00:00", "Available"),
        ):
            demo.con.execute(
                f"""INSERT INTO status_events SELECT * REPLACE (TIMESTAMP '{at}' AS observed_at, '{status}' AS status)
                    FROM status_events WHERE port_id = ? LIMIT 1""",
                [port],
            )
        alone = mc.compute(demo, by="port", start=first[0], end=first[1], metrics=names, kept=False).to_pylist()
        both = mc.compute(demo, by="port", start=first[0], end=second[1], metrics=names, kept=False).to_pylist()
    finally:
        demo.con.execute("ROLLBACK")
    assert alone == [r for r in both if r["month"] == f"{first[0]:%Y-%m}"]
    mine = next(r for r in alone if r["port_id"] == port)
    assert (mine["outages"], mine["mttr_h"]) == (1, 48.0)  # the whole repair, not the four hours to the month's end


def test_ingest_no_keep_then_refresh(fixtures, tmp_path):
    path = tmp_path / "batch.duckdb"
    r = runner.invoke(app, ["--db", str(path), "ingest", str(fixtures / "metrics"), "--no-keep"])
    assert r.exit_code == 0, r.output
    assert "port-day facts" not in r.output
    with open_warehouse(path, read_only=True) as w:
        assert kept.covered(w) is None
    r = runner.invoke(app, ["--db", str(path), "refresh"])
    assert r.exit_code == 0, r.output
    assert "kept" in r.output and "port-day facts" in r.output
    with open_warehouse(path, read_only=True) as w:
        assert kept.covered(w) is not None
    again = runner.invoke(app, ["--db", str(path), "refresh"])
    assert again.exit_code == 0 and again.output.count("(nothing changed)") == 3  # facts, bills, month-close


def test_kept_false_reads_nothing_kept(demo):
    """`kept=False` bills and builds everything now: a (deliberately) altered kept bill does not show."""
    from evrevops.tariffs import site_bills

    kept.refresh(demo)
    site_bills.refresh(demo)
    lo, _ = data_range(demo)
    month = month_range(f"{lo:%Y-%m}")
    names = ["energy_cost_minor"]
    demo.con.execute("BEGIN TRANSACTION")
    try:
        demo.con.execute("UPDATE site_month_bills SET total_minor = total_minor + 100")
        fast = mc.compute(demo, by="network", start=month[0], end=month[1], metrics=names).to_pylist()
        live = mc.compute(demo, by="network", start=month[0], end=month[1], metrics=names, kept=False).to_pylist()
    finally:
        demo.con.execute("ROLLBACK")
    billed = demo.con.sql(f"SELECT count(*) FROM site_month_bills WHERE bill_month = DATE '{month[0]}'").fetchall()[0][
        0
    ]
    assert billed > 0 and fast[0]["energy_cost_minor"] == live[0]["energy_cost_minor"] + 100 * billed
