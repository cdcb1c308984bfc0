"""Parity: the same Ibis metric expressions on DuckDB and on local-mode Spark give the same results.

The hand-computed metrics network (tests/fixtures/metrics) is exported to Parquet and read by a
local Spark session. Counts and money must be equal; other floats equal to 1e-9 relative.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

from evrevops.metrics import compute as mc
from evrevops.metrics.registry import MEASURES, METRICS
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.export import export_parquet
from evrevops.warehouse.spark import SparkWarehouse
from tests.helpers.warehouse import warehouse_of

MARCH = (dt.date(2024, 3, 1), dt.date(2024, 3, 31))
# the metrics whose measures are sessions and calendar (port and site level); bills and uptime are DuckDB-only yet
PORTABLE = [
    n
    for n, m in METRICS.items()
    if all(MEASURES[x].level in ("port", "site") for x in {m.numerator, m.denominator} - {None})
]


@pytest.fixture(scope="module")
def engines(tmp_path_factory, fixtures):
    tmp = tmp_path_factory.mktemp("spark")
    duck = open_warehouse(warehouse_of(fixtures / "metrics", tmp / "w.duckdb"), read_only=True)
    manifest = export_parquet(duck, tmp / "export")
    spark = SparkWarehouse(tmp / "export", master="local[2]")
    yield duck, spark, manifest, tmp / "export"
    spark.close()
    duck.close()


def _same(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], float) and isinstance(y[k], float):
                assert math.isclose(x[k], y[k], rel_tol=1e-9, abs_tol=1e-12), (k, x[k], y[k])
            else:
                assert x[k] == y[k], (k, x[k], y[k])


def test_the_export_holds_every_table(engines):
    duck, spark, manifest, _ = engines
    for name, t in manifest["tables"].items():
        assert spark.count(name) == t["rows"] == duck.count(name), name


@pytest.mark.parametrize(("by", "period"), [("site", "month"), ("network", "month"), ("port", "day")])
def test_session_and_calendar_metrics_are_equal_on_spark(engines, by, period):
    duck, spark, _, _ = engines
    assert len(PORTABLE) >= 25
    d = mc.compute(duck, by=by, period=period, start=MARCH[0], end=MARCH[1], metrics=PORTABLE).to_pylist()
    s = mc.compute(spark, by=by, period=period, start=MARCH[0], end=MARCH[1], metrics=PORTABLE).to_pylist()
    _same(d, s)
    assert any(r["revenue_per_port_minor"] for r in d)  # the hand case has money in it


def test_duckdb_only_metrics_fail_clearly_on_spark(engines):
    _, spark, _, _ = engines
    with pytest.raises(ValueError, match="run on DuckDB only for now"):
        mc.compute(spark, by="site", period="month", start=MARCH[0], end=MARCH[1], metrics=["energy_cost_minor"])


def test_the_cli_runs_metrics_on_spark(engines):
    import json

    from typer.testing import CliRunner

    from evrevops.cli import app

    duck, _, _, folder = engines
    args = ["metrics", "--month", "2024-03", "--by", "site", "-m", "sessions", "-m", "utilization", "--format", "json"]
    r = CliRunner().invoke(app, [*args, "--engine", "local[2]", "--export", str(folder)])  # a master URL
    assert r.exit_code == 0, r.output
    on_duck = mc.compute(
        duck, by="site", period="month", start=MARCH[0], end=MARCH[1], metrics=["sessions", "utilization"]
    )
    _same(json.loads(r.stdout), on_duck.to_pylist())
    bad = CliRunner().invoke(app, ["metrics", "--engine", "spark"])
    assert bad.exit_code == 2 and "--export" in bad.output
