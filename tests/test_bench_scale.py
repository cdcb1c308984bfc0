"""`make bench-scale` stays runnable and measures what it says: a small network through its stages.

The bench's network (four time zones, real URDB tariffs, faults, heartbeats and communication
losses) is also one more place where the month-close views must equal the metrics built live.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
from pathlib import Path

import pytest

from evrevops.metrics import close
from evrevops.metrics import compute as mc
from evrevops.uptime.timeline import DEFAULT_OFFLINE_AFTER_S
from evrevops.warehouse.db import open_warehouse
from tests.helpers.rows import assert_rows_equal

ROOT = Path(__file__).resolve().parents[1]
PORTS = 100


@pytest.fixture(scope="module")
def scale():
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "benchmarks" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def network(scale, tmp_path_factory):
    path = tmp_path_factory.mktemp("scale") / "scale.duckdb"
    scale.generate(path, PORTS)
    return path


def test_the_generated_network_has_bills_and_uptime_to_compute(scale, network):
    refreshed = scale.stage_refresh(network)
    assert refreshed["port_days_kept"] > 0
    assert refreshed["site_months_kept"] == PORTS // 10 * 4  # October to January: the kept months around the data
    wh = open_warehouse(network, read_only=True)
    lo, hi = dt.date(2025, 12, 1), dt.date(2025, 12, 31)
    assert close.close_answers(wh, "month", lo, hi, None, DEFAULT_OFFLINE_AFTER_S)
    net = mc.compute(wh, by="network", start=lo, end=hi).to_pylist()[0]
    assert net["ports"] == PORTS and net["site_months_billed"] == PORTS // 10
    assert net["demand_charge_minor"] > 0 and net["energy_cost_minor"] > 0
    assert net["outages"] > 0 and 90 < net["uptime_pct"] < 100
    # the views over the kept measures equal the metrics built now from the sessions and telemetry
    for by in ("site", "segment", "network"):
        assert_rows_equal(
            mc.compute(wh, by=by, start=lo, end=hi).to_pylist(),
            mc.compute(wh, by=by, start=lo, end=hi, kept=False).to_pylist(),
            rel=1e-9,
        )
    wh.close()


def test_the_close_stage_reports_every_figure(scale, network):
    scale.stage_refresh(network)
    out = scale.stage_close(network)
    assert out["rows"] == PORTS // 10 and out["sessions_in_month"] == PORTS * 31 * scale.PER_DAY
    for key in ("seconds", "expression_seconds", "plan_seconds", "execute_seconds", "live_seconds", "floor_seconds"):
        assert out[key] > 0, key
    assert out["peak_mib"] <= out["live_peak_mib"]


def test_the_exponent_is_the_slope_of_log_time_on_log_size(scale):
    assert scale.exponent([(1_000, 1.0), (10_000, 10.0), (100_000, 100.0)]) == pytest.approx(1.0)
    assert scale.exponent([(1_000, 2.0), (100_000, 2.0)]) == pytest.approx(0.0)
    assert scale.exponent([(10, 1.0), (100, 100.0)]) == pytest.approx(2.0)
    assert math.isclose(scale.exponent([(1, 3.0), (2, 6.0), (4, 12.0)]), 1.0)


def test_the_increment_stage_rebuilds_only_the_months_it_can_change(scale, network):
    scale.stage_refresh(network)
    out = scale.stage_increment(network)
    assert out["new_day_cdrs"] == PORTS * scale.PER_DAY
    # the day is in January 2026; its sessions' local days start on 31 December in the western zones
    assert out["new_day_rebuilt_from"] in ("2025-12-01", "2026-01-01")
    assert out["switch_rebuilt_from"] == "2025-12-01"
    assert out["new_day_refresh_seconds"] > 0 and out["switch_refresh_seconds"] > 0
