"""Property tests: any status history gives uptime in [0, 100], outage minutes within open minutes,
a ledger that adds up to the month, and the same answer whatever the order of the log's lines."""

from __future__ import annotations

import datetime as dt
import os
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evrevops.uptime import timeline as T
from evrevops.uptime.timeline_tables import LEDGER, MONTHS
from tests.uptime.network import heartbeat, ingest, status, write_network

D = dt.datetime
T0 = D(2025, 4, 1)
MONTH_S = 30 * 86400
# OCPP 1.6 statuses only: one outside the protocol's list is quarantined at the door (tests/hostile/test_ocpp_hostile.py)
STATUSES = ["Available", "Charging", "Faulted", "Unavailable", "Preparing", "SuspendedEV", "Reserved", "Finishing"]
CAUSES = ["utility_interruption", "scheduled_maintenance", "hardware_fault", "vandalism", "communication"]
EXAMPLES = 12 if os.environ.get("CI") else 40

event = st.tuples(
    st.integers(0, MONTH_S - 1), st.sampled_from([0, 1, 2]), st.sampled_from(STATUSES)
)  # (second of the month, connector, status)
incident = st.tuples(st.integers(0, MONTH_S - 1), st.integers(60, 5 * 86400), st.sampled_from(CAUSES), st.sampled_from(["P1", "P2", ""]))  # fmt: skip
history = st.fixed_dictionaries(
    {
        "events": st.lists(event, max_size=25),
        "beats": st.lists(st.integers(0, MONTH_S - 1), max_size=60),
        "incidents": st.lists(incident, max_size=4),
        "hours": st.sampled_from(["24/7", "Mo-Fr 07:00-19:00", "Sa,Su 10:00-14:00"]),
        "commissioned_day": st.sampled_from([None, 5, 20]),
        "offline_after_h": st.sampled_from([1, 5, 48]),
        "seed": st.integers(0, 10**6),
    }
)


def _build(folder, h, shuffle: bool):
    comm = "2025-04-01" if h["commissioned_day"] is None else f"2025-04-{h['commissioned_day']:02d}"
    sites = [f'S1,Depot,K1,fleet,caas,UTC,"{h["hours"]}",C1,{p},{c},DC,50,{comm},' for p, c in (("P1", 1), ("P2", 2))]
    # a second charger talks from the first to the last second: it fixes the measured span
    log = [heartbeat("C2", T0, 0), heartbeat("C2", T0 + dt.timedelta(seconds=MONTH_S), 1)]
    sites.append("S2,Other,K2,fleet,caas,UTC,24/7,C2,Z1,1,DC,50,2025-04-01,")
    log += [heartbeat("C1", T0 + dt.timedelta(seconds=s), 100 + i) for i, s in enumerate(h["beats"])]
    log += [status("C1", T0 + dt.timedelta(seconds=s), c, x, uid=f"u{i}") for i, (s, c, x) in enumerate(h["events"])]
    if shuffle:
        random.Random(h["seed"]).shuffle(log)
    inc = [
        f"I{i},{'S1' if not p else ''},{p},,{(T0 + dt.timedelta(seconds=s)).isoformat()}Z,"
        f"{(T0 + dt.timedelta(seconds=s + d)).isoformat()}Z,{c}"
        for i, (s, d, c, p) in enumerate(h["incidents"])
    ]
    write_network(folder, sites, log, inc)
    return ingest(folder, folder / "w.duckdb")


def _facts(wh, offline_after_h):
    T.build(wh, dt.date(2025, 4, 1), dt.date(2025, 5, 1), offline_after_s=offline_after_h * 3600)
    months = T.fetch(wh, MONTHS).to_pylist()
    ledger = T.fetch(wh, LEDGER).to_pylist()
    return months, ledger


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(h=history)
def test_uptime_bounds_and_ledger_identity(tmp_path_factory, h):
    folder = tmp_path_factory.mktemp("prop")
    wh = _build(folder, h, shuffle=False)
    try:
        months, ledger = _facts(wh, h["offline_after_h"])
        start_day = h["commissioned_day"] or 1
        for m in months:
            if m["port_id"] == "Z1":
                continue
            assert m["period_s"] > 0
            assert 0 <= m["excluded_s"] <= m["outage_s"] + 1e-6 <= m["period_s"] + 2e-6
            assert m["fault_s"] + m["offline_s"] + m["no_data_s"] == m["outage_s"]
            up = (m["period_s"] - (m["outage_s"] - m["excluded_s"])) / m["period_s"] * 100
            assert 0 <= up <= 100
        for port in ("P1", "P2"):
            pm = [m for m in months if m["port_id"] == port]
            runs = [r for r in ledger if r["port_id"] == port]
            # measured from its commissioning (local midnight) to the horizon (May 1), no more, no less
            assert sum(m["period_s"] for m in pm) == (31 - start_day) * 86400
            assert sum(r["duration_s"] for r in runs) == sum(m["outage_s"] for m in pm)
            assert sum(r["excluded_s"] for r in runs) == sum(m["excluded_s"] for m in pm)
            assert all(0 <= r["excluded_s"] <= r["duration_s"] for r in runs)
            spans = sorted((r["started_at"], r["started_at"] + dt.timedelta(seconds=r["duration_s"])) for r in runs)
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))  # outages never overlap
    finally:
        wh.close()


@settings(
    max_examples=max(EXAMPLES // 2, 5), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(h=history)
def test_line_order_does_not_change_the_timeline(tmp_path_factory, h):
    a = _build(tmp_path_factory.mktemp("a"), h, shuffle=False)
    b = _build(tmp_path_factory.mktemp("b"), h, shuffle=True)
    try:
        fa, fb = _facts(a, h["offline_after_h"]), _facts(b, h["offline_after_h"])
        key = lambda r: (r["port_id"], str(r.get("month") or r.get("started_at")))  # noqa: E731
        assert sorted(fa[0], key=key) == sorted(fb[0], key=key)
        assert sorted(fa[1], key=key) == sorted(fb[1], key=key)
    finally:
        a.close()
        b.close()
