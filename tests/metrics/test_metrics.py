"""Metrics against a hand-computed case, and properties of the time split.

The fixture (tests/fixtures/metrics/) is worked out by hand here:

Site A, America/New_York, 24/7. A1 (150 kW) open all March: 31 × 24 h − 1 h
(spring forward on 10 March) = 743 h. A2 (50 kW) commissioned 15 March:
17 × 24 h = 408 h. Open hours A = 1,151 h.

Site B, America/Denver, Mo-Fr 08:00-18:00: March 2024 has 21 weekdays →
210 h. B1 has no commissioning date: it is in service from its first evidence, the
local day of its first session (Mon 4 March), so 20 weekdays → 200 h (the 1st, a Friday,
is before it).

Sessions started in March (local): s1 (Mar 9 23:30 EST → Mar 10 01:30 EST,
2 h plugged, 1.5 h charging, 60 kWh, $30.00 = 25.00 energy + 5.00 idle);
s2 (Mar 10 01:45 EST → 03:45 EDT, 1 h elapsed across the DST jump, 40 kWh,
$20.00); s3 (Mar 31 23:00 EDT → Apr 1 01:00, 100 kWh, $50.00: only 1 h of it
in March); s4 on A2 (30 min, 20 kWh, $10.00 = 9.00 energy + 1.00 flat);
s6 (5 min, no energy). s5 at B: Mon Mar 4 09:00–17:00 MST, 8 h plugged, 3 h
charging, 30 kWh, $12.00 = 6.00 energy + 6.00 idle.

Charging A in March = 1.5 + 1 + 1 + 0.5 + 0 = 4.0 h; plugged = 2 + 1 + 1 +
0.5 + 1/12 h. Congestion A: before 15 March only A1 is open, so every
plugged-in minute at A1 is congested: 2 h + 1 h + 5 min = 11,100 s; after,
no moment has both ports busy. Congestion B = 8 h of B1's 200 open hours.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evrevops.formats import input_files
from evrevops.metrics.compute import compute
from evrevops.metrics.span import last_full_month
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file

MARCH = (dt.date(2024, 3, 1), dt.date(2024, 3, 31))


@pytest.fixture(scope="module")
def wh(tmp_path_factory, fixtures):
    w = open_warehouse(tmp_path_factory.mktemp("m") / "w.duckdb")
    for f in input_files([fixtures / "metrics"]):
        r = ingest_file(w, f)
        assert r.quarantined == 0, f
    return w


def rows(wh, by, period="month", start=MARCH[0], end=MARCH[1]):
    return {
        tuple(r[k] for k in r if k.endswith("_id") or k in ("segment", "month", "local_date")): r
        for r in compute(wh, by=by, period=period, start=start, end=end).to_pylist()
    }


def test_site_month_by_hand(wh):
    r = rows(wh, "site")
    a, b = r[("A", "2024-03")], r[("B", "2024-03")]
    assert a["currency"] == "USD"
    assert (a["ports"], a["sessions"], a["energy_kwh"]) == (2, 5, 220.0)
    assert a["open_h"] == 1151.0
    assert a["charging_h"] == pytest.approx(4.0)
    assert a["plugged_in_h"] == pytest.approx(4.5 + 1 / 12)
    assert a["idle_h"] == pytest.approx(0.5 + 1 / 12)
    assert a["utilization"] == pytest.approx(4.0 / 1151)
    assert a["occupancy"] == pytest.approx((4.5 + 1 / 12) / 1151)
    assert a["capacity_factor"] == pytest.approx(220 / (150 * 743 + 50 * 408))
    assert a["congestion"] == pytest.approx(11_100 / (743 * 3600))
    assert a["failed_session_share"] == pytest.approx(0.2)
    assert a["energy_revenue_minor"] == 11_000
    assert (a["revenue_energy_component_minor"], a["revenue_idle_fee_minor"], a["revenue_session_fee_minor"]) == (
        10_400,
        500,
        100,
    )
    assert a["revenue_per_port_minor"] == 5_500
    assert a["revenue_per_port_day_minor"] == 229  # 11,000 / (31 + 17) = 229.17
    assert (b["open_h"], b["charging_h"], b["plugged_in_h"]) == (200.0, 3.0, 8.0)
    assert b["utilization"] == pytest.approx(3 / 200)
    assert b["congestion"] == pytest.approx(8 / 200)
    assert b["revenue_idle_fee_minor"] == 600


def test_rollups_are_ratios_of_sums(wh):
    (n,) = rows(wh, "network").values()
    assert (n["ports"], n["sessions"], n["energy_kwh"], n["open_h"]) == (3, 6, 250.0, 1351.0)
    assert n["utilization"] == pytest.approx(7.0 / 1351)
    assert n["energy_revenue_minor"] == 12_200
    assert n["revenue_per_port_minor"] == 4_067  # 12,200 / 3 = 4,066.67, half up
    seg = rows(wh, "segment")
    assert (
        seg[("public_dc", "2024-03")]["energy_revenue_minor"] + seg[("commercial", "2024-03")]["energy_revenue_minor"]
        == n["energy_revenue_minor"]
    )
    cust = rows(wh, "customer")
    assert cust[("C1", "2024-03")]["sessions"] == 5


def test_money_components_reconcile_to_the_cent(wh):
    for r in compute(wh, by="port", period="day", start=MARCH[0], end=MARCH[1]).to_pylist():
        if r["energy_revenue_minor"] is None:  # a day outside the session data: every money figure is no data
            assert r["revenue_energy_component_minor"] is None and r["vat_minor"] is None
            continue
        parts = (
            r["revenue_energy_component_minor"]
            + r["revenue_time_component_minor"]
            + r["revenue_idle_fee_minor"]
            + r["revenue_session_fee_minor"]
            + r["revenue_unattributed_minor"]
        )
        assert parts == r["energy_revenue_minor"]


def test_days_dst_and_month_end(wh):
    d = rows(wh, "port", "day", dt.date(2024, 3, 9), dt.date(2024, 4, 1))
    assert d[("A1", "A", dt.date(2024, 3, 10))]["open_h"] == 23.0
    assert d[("A1", "A", dt.date(2024, 3, 9))]["charging_h"] == pytest.approx(0.5)
    assert d[("A1", "A", dt.date(2024, 3, 10))]["charging_h"] == pytest.approx(2.0)
    assert d[("A1", "A", dt.date(2024, 3, 31))]["charging_h"] == pytest.approx(1.0)
    assert d[("A1", "A", dt.date(2024, 4, 1))]["charging_h"] == pytest.approx(1.0)
    assert d[("A1", "A", dt.date(2024, 4, 1))]["sessions"] == 0  # s3 belongs to the day it started
    assert d[("A2", "A", dt.date(2024, 3, 14))]["open_h"] == 0.0
    assert d[("A2", "A", dt.date(2024, 3, 15))]["open_h"] == 24.0
    assert d[("B1", "B", dt.date(2024, 3, 9))]["open_h"] == 0.0  # Saturday
    assert d[("B1", "B", dt.date(2024, 3, 11))]["open_h"] == 10.0
    assert d[("A1", "A", dt.date(2024, 3, 10))]["utilization"] == pytest.approx(2 / 23)


def test_port_grain_has_no_congestion(wh):
    for r in compute(wh, by="port", period="month", start=MARCH[0], end=MARCH[1]).to_pylist():
        assert r["congestion"] is None


def test_last_full_month(wh):
    assert last_full_month(wh) == "2024-03"


# ---- properties ----------------------------------------------------------------------------

ZONES = [
    "America/New_York",
    "America/Phoenix",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "UTC",
]
EPOCH = dt.datetime(2024, 2, 25)

session = st.tuples(
    st.integers(0, 38 * 86_400),  # start offset [s] from EPOCH (UTC)
    st.integers(0, 3 * 86_400),  # plugged-in duration [s]
    st.floats(0, 1),  # charging share of it
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(zone=st.sampled_from(ZONES), sess=st.lists(session, min_size=1, max_size=12))
def test_time_split_sums_back_to_the_whole(zone, sess):
    wh = open_warehouse(":memory:")
    wh.con.execute("INSERT INTO sites (site_id, time_zone) VALUES ('S', ?)", [zone])
    # in service throughout (without a commissioning date a port counts from its first session)
    wh.con.execute(
        "INSERT INTO ports (port_id, site_id, rated_kw, commissioned_on) VALUES ('P', 'S', 7.0, '2024-01-01')"
    )
    total_plug = total_charge = 0
    for i, (off, dur, share) in enumerate(sess):
        start = EPOCH + dt.timedelta(seconds=off)
        charge = int(dur * share)
        total_plug += dur
        total_charge += charge
        wh.con.execute(
            "INSERT INTO sessions (session_id, site_id, port_id, started_at, ended_at, charging_ended_at, energy_kwh, plugged_in_s, charging_s, idle_s) VALUES (?, 'S', 'P', ?, ?, ?, 1.0, ?, ?, ?)",
            [
                f"s{i}",
                start,
                start + dt.timedelta(seconds=dur),
                start + dt.timedelta(seconds=charge),
                dur,
                charge,
                dur - charge,
            ],
        )
    lo, hi = dt.date(2024, 2, 20), dt.date(2024, 4, 10)  # covers every session in any zone
    days = compute(wh, by="port", period="day", start=lo, end=hi).to_pylist()
    months = compute(wh, by="port", period="month", start=lo, end=hi).to_pylist()
    # days outside the session data's span are no data (None), and hold no session time
    days = [{k: (0 if v is None and k.endswith("_h") or k == "sessions" and v is None else v) for k, v in r.items()}
            for r in days]  # fmt: skip
    months = [{k: 0 if v is None and k in ("plugged_in_h", "sessions") else v for k, v in r.items()} for r in months]
    assert sum(r["plugged_in_h"] for r in days) * 3600 == pytest.approx(total_plug, abs=1e-6)
    assert sum(r["charging_h"] for r in days) * 3600 == pytest.approx(total_charge, abs=1e-6)
    assert sum(r["plugged_in_h"] for r in months) == pytest.approx(sum(r["plugged_in_h"] for r in days))
    assert sum(r["sessions"] for r in days) == len(sess) == sum(r["sessions"] for r in months)
    z = ZoneInfo(zone)
    span = dt.datetime.combine(hi + dt.timedelta(days=1), dt.time(), tzinfo=z).astimezone(dt.UTC) - dt.datetime.combine(
        lo, dt.time(), tzinfo=z
    ).astimezone(dt.UTC)
    assert sum(r["open_h"] for r in days) * 3600 == pytest.approx(span.total_seconds())
    for r in days:
        assert r["charging_h"] <= r["plugged_in_h"] + 1e-9
        assert r["open_h"] in (23.0, 23.5, 24.0, 24.5, 25.0)


def _congested_by_brute_force(sessions, day_start, day_end, n_open):
    """Seconds of [day_start, day_end) with at least n_open sessions plugged in (start <= t < end)."""
    if n_open <= 0:
        return 0
    cuts = sorted({day_start, day_end, *(t for s, e in sessions for t in (s, e) if day_start < t < day_end)})
    total = 0
    for a, b in zip(cuts, cuts[1:], strict=False):
        busy = sum(1 for s, e in sessions if s <= a < e)
        if busy >= n_open:
            total += (b - a).total_seconds()
    return total


CONG_ZONES = ["America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"]
slot = st.tuples(st.integers(-4 * 24, 9 * 24), st.integers(0, 40), st.sampled_from(["P1", "P2", "P3"]))  # quarter-hours


@settings(max_examples=30, deadline=None)
@given(
    zone=st.sampled_from(CONG_ZONES),
    sess=st.lists(slot, min_size=1, max_size=14),
    p3_from=st.integers(0, 6),
)
def test_congestion_equals_a_brute_force_sweep(zone, sess, p3_from):
    """Every local day's congested time equals an independent count: DST days, simultaneous starts
    and ends, sessions from before the range and past it, ports opening mid-range."""
    from evrevops.metrics.facts import build

    lo, hi = dt.date(2024, 3, 8), dt.date(2024, 3, 13)  # New York springs forward on 10 March
    wh = open_warehouse(":memory:")
    wh.con.execute("INSERT INTO sites (site_id, time_zone) VALUES ('S', ?)", [zone])
    p3_on = lo + dt.timedelta(days=p3_from)
    wh.con.execute(
        "INSERT INTO ports (port_id, site_id, commissioned_on) VALUES ('P1', 'S', '2000-01-01'), ('P2', 'S', '2000-01-01'), ('P3', 'S', ?)",
        [p3_on],
    )
    base = dt.datetime(2024, 3, 8)  # UTC
    spans = []
    for i, (q, dur_q, port) in enumerate(sess):
        start = base + dt.timedelta(minutes=15 * q)
        end = start + dt.timedelta(minutes=15 * dur_q)
        spans.append((start, end))
        secs = (end - start).total_seconds()
        wh.con.execute(
            "INSERT INTO sessions (session_id, site_id, port_id, started_at, ended_at, energy_kwh, plugged_in_s, charging_s, idle_s) VALUES (?, 'S', ?, ?, ?, 1.0, ?, ?, 0)",
            [f"s{i}", port, start, end, secs, secs],
        )
    got = {r["local_date"]: r["congested_s"] for r in build(wh, lo, hi).site_day.to_pyarrow().to_pylist()}
    z = ZoneInfo(zone)
    day = lo
    while day <= hi:
        ds = dt.datetime.combine(day, dt.time(), tzinfo=z).astimezone(dt.UTC).replace(tzinfo=None)
        de = (
            dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=z).astimezone(dt.UTC).replace(tzinfo=None)
        )
        n_open = 2 + (day >= p3_on)
        assert got[day] == _congested_by_brute_force(spans, ds, de, n_open), (day, zone)
        day += dt.timedelta(days=1)
    wh.close()


def test_a_period_outside_the_session_data_is_no_data_not_zero(wh):
    """May 2024 follows the session data (its last session ends on 1 April): utilization and revenue are no data, not 0."""
    (n,) = rows(wh, "network", start=dt.date(2024, 5, 1), end=dt.date(2024, 5, 31)).values()
    assert n["ports"] == 3 and n["open_h"] > 0  # the ports still stand
    for m in ("sessions", "energy_kwh", "utilization", "occupancy", "energy_revenue_minor", "kwh_per_port_day"):
        assert n[m] is None, m
    (mar,) = rows(wh, "network").values()
    assert mar["utilization"] > 0 and mar["sessions"] == 6
