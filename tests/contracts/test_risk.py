"""At-risk accounts by hand, on the hand-computed year of test_timeline (no sessions: no utilization signal)."""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.contracts import risk
from tests.uptime import test_timeline as hand
from tests.uptime.network import ingest, write_network

MONTH_MIN = 31 * 1440


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    folder = tmp_path_factory.mktemp("risk")
    write_network(folder, hand.SITES, hand._log(), hand.INCIDENTS)
    w = ingest(folder, folder / "w.duckdb")
    yield w
    w.close()


def test_a_falling_uptime_is_a_reason_with_its_figures(wh):
    rows = {r["customer_id"]: r for r in risk.accounts(wh, dt.date(2025, 10, 1)).to_pylist()}
    k1, k2 = rows["K1"], rows["K2"]
    # K1's two ports were silent 600 min each in October; July-September lost 180 + 120 min (August)
    up = 100 * (1 - 1200 / (2 * MONTH_MIN))
    prev = 100 * (1 - 300 / (2 * (31 + 31 + 30) * 1440))
    assert k1["uptime_pct"] == pytest.approx(up) and k1["uptime_prev_pct"] == pytest.approx(prev)
    assert (k1["score"], k1["level"]) == (15, "low")  # falling by ≥ 1 point: 15
    assert k1["reasons"] == f"uptime {up:.2f} % vs {prev:.2f} % before"
    # K2's port was commissioned on 1 July and was up in October: nothing to report; without sessions its
    # utilization is no data (None), not 0, and no utilization signal
    assert (k2["score"], k2["reasons"], k2["utilization"], k2["utilization_prev"]) == (0, "", None, None)
    assert k1["utilization"] is None and "utilization" not in k1["reasons"]


def test_silence_at_the_horizon_and_a_bad_month_add_up(wh):
    # as of 1 October 08:00, C1 has been silent for 8 hours: stale telemetry
    rows = {r["customer_id"]: r for r in risk.accounts(wh, dt.date(2025, 10, 1), as_of=dt.datetime(2025, 10, 1, 8)).to_pylist()}  # fmt: skip
    k1 = rows["K1"]
    assert k1["silent_chargers"] == 1
    # 8 of 8 measured hours of both ports were offline: uptime 0 % (25), falling (15), stale (10)
    assert k1["uptime_pct"] == pytest.approx(0.0)
    assert (k1["score"], k1["level"]) == (50, "high")
    assert [rows[k]["customer_id"] for k in rows] == ["K1", "K2"]  # highest score first
