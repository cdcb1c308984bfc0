"""The month-close measures and metric views (:func:`evrevops.metrics.close.keep_close`).

They must give what the expression built now gives, at every grain, for any whole months they
cover; answer only while current; reach only the asked months' rows; and be rewritten in one
transaction.
"""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext

import pytest

from evrevops.core.calendar import month_range
from evrevops.core.vocabulary import GRAINS
from evrevops.metrics import close
from evrevops.metrics import compute as mc
from evrevops.metrics.registry import GRAIN_KEYS
from evrevops.metrics.span import data_range
from evrevops.refresh import refresh_kept
from evrevops.tariffs import site_bills
from evrevops.uptime.timeline import DEFAULT_OFFLINE_AFTER_S
from evrevops.warehouse import derived
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from tests.helpers import one_port
from tests.helpers.rows import assert_rows_equal

DEFAULT = DEFAULT_OFFLINE_AFTER_S


@pytest.fixture(scope="module")
def closed(demo_networks, tmp_path_factory):
    """A demo network (tariffs, telemetry) with everything kept as `evrevops ingest` keeps it."""
    w = open_warehouse(demo_networks.get(ports=40, months=3, seed=5).copy(tmp_path_factory.mktemp("close")))
    _keep(w)
    yield w
    w.close()


def _keep(w) -> None:
    """What `evrevops ingest` keeps after a write."""
    r = refresh_kept(w)
    assert r["bills"] is not None and r["close"]["site_months"] > 0


@pytest.fixture(autouse=True)
def current(closed):
    """Each test starts with the close current, whatever the one before left."""
    lo, hi = _months(closed)[0][0], _months(closed)[-1][1]
    if not close.close_answers(closed, "month", lo, hi, None, DEFAULT):
        _keep(closed)


def _months(w) -> list[tuple[dt.date, dt.date]]:
    lo, hi = data_range(w)
    out, m = [], lo.replace(day=1)
    while m <= hi:
        out.append(month_range(f"{m:%Y-%m}"))
        m = out[-1][1] + dt.timedelta(days=1)
    return out


def test_the_close_views_equal_the_expression_built_now_at_every_grain(closed, monkeypatch):
    months = _months(closed)
    ranges = [*months, (months[0][0], months[-1][1])]  # each month, and all of them at once
    calls = []
    original = close.from_close
    monkeypatch.setattr(close, "from_close", lambda *a: calls.append(a[1]) or original(*a))
    for lo, hi in ranges:
        for by in GRAINS:
            assert close.close_answers(closed, "month", lo, hi, None, DEFAULT)
            views = mc.compute(closed, by=by, start=lo, end=hi)
            # the same expression, built and compiled now, over the same kept measures: identical
            assert views.equals(mc.expression(closed, by=by, start=lo, end=hi).to_pyarrow())
            # and the live computation from the sessions: equal (floats to summation order), types too
            live = mc.compute(closed, by=by, start=lo, end=hi, kept=False)
            assert views.schema == live.schema
            assert_rows_equal(views.to_pylist(), live.to_pylist())
    assert calls == [by for _ in ranges for by in GRAINS]  # every one of them read from the views
    rows = mc.compute(closed, by="site", start=months[-2][0], end=months[-2][1]).to_pylist()
    # nothing passes vacuously: bills, demand charges, uptime and money at risk are in the comparison
    for name in ("energy_cost_minor", "demand_charge_minor", "energy_revenue_minor", "outages", "mttr_h",
                 "revenue_at_risk_minor", "uptime_t12m_pct", "visit_success_rate"):  # fmt: skip
        assert any(r[name] for r in rows), name


def test_a_subset_of_metrics_is_a_projection_of_the_close(closed):
    lo, hi = _months(closed)[-2]
    names = ["energy_margin_minor", "uptime_pct", "revenue_per_port_minor"]
    for by in ("site", "network"):
        part = mc.compute(closed, by=by, start=lo, end=hi, metrics=names)
        whole = mc.compute(closed, by=by, start=lo, end=hi)
        assert part.column_names == [*GRAIN_KEYS[by], "month", "currency", *names]
        assert part.equals(whole.select(part.column_names))
    with pytest.raises(ValueError, match="not defined at grain"):
        mc.compute(closed, by="port", start=lo, end=hi, metrics=["energy_margin_minor"])
    with pytest.raises(KeyError, match="unknown metric"):
        mc.compute(closed, by="site", start=lo, end=hi, metrics=["nope"])


def test_the_views_answer_only_whole_months_at_the_default_horizon(closed):
    lo, hi = _months(closed)[-2]
    assert close.close_answers(closed, "month", lo, hi, None, DEFAULT)
    assert not close.close_answers(closed, "month", lo, hi - dt.timedelta(days=1), None, DEFAULT)
    assert not close.close_answers(closed, "month", lo + dt.timedelta(days=1), hi, None, DEFAULT)
    assert not close.close_answers(closed, "day", lo, hi, None, DEFAULT)
    assert not close.close_answers(closed, "month", lo, hi, dt.datetime(2030, 1, 1), DEFAULT)
    assert not close.close_answers(closed, "month", lo, hi, None, DEFAULT * 2)
    first, last = derived.kept_range(closed, close.CLOSE, close.CLOSE_VERSION)
    assert not close.close_answers(closed, "month", first - dt.timedelta(days=31), last, None, DEFAULT)
    # a part of a month is computed from the kept facts, and agrees with the live computation
    part = mc.compute(closed, by="site", start=lo, end=hi - dt.timedelta(days=3))
    live = mc.compute(closed, by="site", start=lo, end=hi - dt.timedelta(days=3), kept=False)
    names = [c for c in part.column_names if "visit" not in c]  # a visit begun before the range: see metrics.kept
    assert_rows_equal(part.select(names).to_pylist(), live.select(names).to_pylist())


def test_a_months_filter_reaches_the_measure_scan(closed):
    """A month of the close reads that month's measure rows only, however long the history."""
    lo, hi = _months(closed)[-2]
    for by, table in (("site", close.SITE_MEASURES), ("network", close.SITE_MEASURES), ("port", close.PORT_MEASURES)):
        plan = closed.con.execute(
            f"EXPLAIN SELECT * FROM {close.close_view(by)} WHERE month >= DATE '{lo}' AND month <= DATE '{hi}'"
        ).fetchall()[0][1]
        lines = plan.splitlines()
        at = next(i for i, line in enumerate(lines) if f".{table} " in line)  # the scan's box: "Table: <db>.main.<t>"
        col = lines[at].index("Table:")  # boxes stand side by side: read this one's column down to its end
        box = []
        for line in lines[at:]:
            box.append(line[col : col + 66])
            if line[col - 2 : col - 1] == "╰":
                break
        box = "\n".join(box)
        assert f"(month >= '{lo}'::DATE) AND (month <= '{hi}'::DATE)" in box, (by, box)
    # and the rows it reads are the month's: each view holds every kept month, the close one
    per_month = closed.con.execute(f"SELECT count(*) FROM {close.SITE_MEASURES} WHERE month = ?", [lo]).fetchall()[0][0]
    every = closed.count(close.SITE_MEASURES)
    assert 0 < per_month < every
    assert mc.compute(closed, by="site", start=lo, end=hi).num_rows == per_month


def test_an_ingest_makes_the_close_stale_and_metrics_build_again(closed, tmp_path):
    lo, hi = _months(closed)[-2]
    before = mc.compute(closed, by="network", start=lo, end=hi)
    extra = one_port.write(tmp_path / "sites.csv", "CLOSE-X")
    assert ingest_file(closed, extra).accepted == 1
    assert not close.close_answers(closed, "month", lo, hi, None, DEFAULT)
    after = mc.compute(closed, by="network", start=lo, end=hi)  # built now: one more port (a row of no currency)
    assert sum(after["ports"].to_pylist()) == sum(before["ports"].to_pylist()) + 1
    _keep(closed)  # as `evrevops ingest` does after the write
    assert close.close_answers(closed, "month", lo, hi, None, DEFAULT)
    assert_rows_equal(mc.compute(closed, by="network", start=lo, end=hi).to_pylist(), after.to_pylist())
    before = after
    # another version of the close SQL makes them stale too
    closed.con.execute("UPDATE derived_facts SET fingerprint = 'older+' || fingerprint WHERE name = ?", [close.CLOSE])
    try:
        assert not close.close_answers(closed, "month", lo, hi, None, DEFAULT)
        assert_rows_equal(mc.compute(closed, by="network", start=lo, end=hi).to_pylist(), before.to_pylist())
    finally:
        close.keep_close(closed)
    assert close.close_answers(closed, "month", lo, hi, None, DEFAULT)


def test_a_failed_keep_leaves_the_close_as_it_was(closed, monkeypatch):
    lo, hi = _months(closed)[-2]
    before = mc.compute(closed, by="site", start=lo, end=hi)
    rows = closed.count(close.SITE_MEASURES)

    def crash(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(derived, "record", crash)
    closed.con.execute(f"UPDATE {close.SITE_MEASURES} SET sessions = sessions + 1")  # so a rebuild would differ
    with pytest.raises(RuntimeError, match="disk full"):
        close.keep_close(closed)
    assert closed.count(close.SITE_MEASURES) == rows
    bumped = mc.compute(closed, by="site", start=lo, end=hi)
    # a site with no port-day inside the session data has no data for sessions (null), bumped or not; every other
    # site reads the bumped kept measure
    was = before["sessions"].to_pylist()
    assert any(s is None for s in was) and any(s for s in was), was
    assert [None if s is None else s + 1 for s in was] == bumped["sessions"].to_pylist()
    monkeypatch.undo()
    close.keep_close(closed)
    assert mc.compute(closed, by="site", start=lo, end=hi).equals(before)


def test_without_current_bills_nothing_is_kept_for_the_close(closed):
    lo, hi = _months(closed)[-2]
    before = mc.compute(closed, by="site", start=lo, end=hi)

    def views() -> int:
        sql = "SELECT count(*) FROM duckdb_views() WHERE view_name LIKE 'kept_close_%'"
        return closed.con.execute(sql).fetchall()[0][0]

    assert views() == len(GRAINS)
    closed.con.execute("UPDATE derived_facts SET fingerprint = 'older:' || fingerprint WHERE name = ?", [site_bills.CACHE])  # fmt: skip
    r = close.keep_close(closed)
    assert (r["site_months"], views(), derived.kept_range(closed, close.CLOSE, close.CLOSE_VERSION)) == (0, 0, None)
    assert not close.close_answers(closed, "month", lo, hi, None, DEFAULT)
    site_bills.refresh(closed)
    # from the kept facts and bills, summed in another order
    assert_rows_equal(mc.compute(closed, by="site", start=lo, end=hi).to_pylist(), before.to_pylist())
    close.keep_close(closed)
    assert views() == len(GRAINS) and close.close_answers(closed, "month", lo, hi, None, DEFAULT)


def test_refresh_kept_goes_on_without_bills_a_tariff_cannot_give(closed, monkeypatch):
    """A tariff the bill engine cannot use: the facts are kept, the bills and the close are not, and says why."""
    lo, hi = _months(closed)[-2]
    before = mc.compute(closed, by="site", start=lo, end=hi)
    closed.con.execute("UPDATE derived_facts SET fingerprint = 'older:' || fingerprint WHERE name = ?", [site_bills.CACHE])  # fmt: skip

    def cannot(wh, since=None):
        raise ValueError("tariff T-1: a demand unit the bill engine does not know")

    monkeypatch.setattr(site_bills, "refresh", cannot)
    steps = []
    r = refresh_kept(closed, step=lambda what: steps.append(what) or nullcontext())
    assert steps == [
        "building the port-day facts of the months that changed (kept for metrics)",
        "billing the site-months that changed (kept for metrics)",
        "keeping the month-close measures and metric views",
    ]
    assert r["facts"]["port_days"] > 0 and r["bills"] is None and "demand unit" in r["bills_error"]
    assert r["close"]["site_months"] == 0 and not close.close_answers(closed, "month", lo, hi, None, DEFAULT)
    # metrics still come, built on the fly with the bills
    assert_rows_equal(mc.compute(closed, by="site", start=lo, end=hi).to_pylist(), before.to_pylist())
