"""The same report twice gives the same bytes: no float summation-order noise.

DuckDB adds a float column in the order its threads meet the rows, which changes from run to
run; evrevops sums float measures exactly (``facts.exact_sum``), so a report is reproducible.
These tests run with more threads than rows groups need, on tables large enough to be split.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import duckdb
import ibis
import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.metrics.compute import compute
from evrevops.metrics.facts import exact_sum
from evrevops.refresh import refresh_kept
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from tests.conftest import FIXTURES
from tests.helpers.cdrs import write_cdrs


def test_exact_sum_is_the_same_in_any_row_order():
    rng = np.random.default_rng(7)
    values = rng.lognormal(mean=2.0, sigma=3.0, size=600_000)
    con = duckdb.connect()
    con.execute("SET threads = 8")
    be = ibis.duckdb.from_connection(con)
    sums = []
    group = np.arange(len(values)) % 3
    for k, order in enumerate((np.arange(len(values)), np.arange(len(values))[::-1], rng.permutation(len(values)))):
        con.register(f"v{k}", pa.table({"x": values[order], "g": group[order]}))
        t = be.table(f"v{k}")
        sums.append(t.group_by("g").aggregate(s=exact_sum(t.x)).order_by("g").to_pyarrow().column("s").to_pylist())
    assert sums[0] == sums[1] == sums[2]
    # and it is the exact sum of the values at 10⁻⁹ of a unit, read back as a float (to its last place)
    exact = [sum((Decimal(float(v)).quantize(Decimal("1e-9")) for v in values[g::3]), Decimal(0)) for g in range(3)]
    assert all(abs(s - float(e)) <= 2 * math.ulp(float(e)) for s, e in zip(sums[0], exact, strict=True))


@pytest.fixture(scope="module")
def busy(tmp_path_factory):
    d = tmp_path_factory.mktemp("busy")
    write_cdrs(
        d / "cdrs.ndjson", 300_000, sites=40, ports_per_site=6, start="2022-06-01"
    )  # ends 2026-05, before today (later CDRs are refused as clocks ahead)
    wh = open_warehouse(d / "w.duckdb")
    r = ingest_file(wh, d / "cdrs.ndjson")
    assert r.accepted == 300_000
    # values whose binary sums round (the generated ones are whole minutes and 20.5 kWh, which add exactly)
    wh.con.execute(
        """UPDATE sessions SET energy_kwh = energy_kwh + (hash(session_id) % 100000) / 9973.0,
                              ended_at = ended_at + to_microseconds(CAST(hash(session_id) % 999983 AS BIGINT))"""
    )
    # every site on a utility tariff, so the bills (summed over 15-minute intervals) are in the reports too
    assert ingest_file(wh, FIXTURES / "bills" / "urdb-hand.json").quarantined == 0
    tariff = wh.con.sql("SELECT min(utility_tariff_id) FROM utility_tariffs").fetchall()[0][0]
    wh.con.execute("INSERT INTO site_facts (site_id, utility_tariff_id) SELECT site_id, ? FROM sites", [tariff])
    wh.close()
    return d / "w.duckdb"


METRICS = [
    "energy_kwh", "utilization", "occupancy", "capacity_factor", "charging_h", "congestion", "kwh_per_port_day", "idle_h",
    "peak_kw", "energy_cost_minor", "energy_margin_per_kwh",
]  # fmt: skip


@pytest.mark.parametrize("kept", [False, True], ids=["live", "kept"])
def test_the_same_metrics_twice_are_the_same_to_the_last_bit(busy, kept):
    wh = open_warehouse(busy)
    wh.con.execute("SET threads = 8")  # more threads than cores: rows meet the sums in a new order each run
    if kept:
        refresh_kept(wh)
    runs = [
        compute(wh, by=by, period="month", start=dt.date(2025, 1, 1), end=dt.date(2025, 3, 31), metrics=METRICS, kept=kept).to_pylist()
        for by in ("site", "network")
        for _ in range(3)
    ]  # fmt: skip
    wh.close()
    assert runs[0] == runs[1] == runs[2] and runs[3] == runs[4] == runs[5]


def test_the_same_report_twice_is_the_same_bytes(busy):
    args = ["--db", str(busy), "metrics", "--by", "segment", "--month", "2025-03", "--format", "json"]
    args += [a for m in METRICS for a in ("-m", m)]
    outs = []
    for _ in range(3):
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
        outs.append(res.output.encode())
    assert outs[0] == outs[1] == outs[2] and b'"2025-03"' in outs[0]
