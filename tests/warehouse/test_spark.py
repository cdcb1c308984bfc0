"""Parity: every registry metric, computed on DuckDB and on local-mode Spark, gives the same results.

The hand-computed metrics network (tests/fixtures/metrics), and a small generated network with
utility tariffs, OCPP telemetry and incidents, are exported to Parquet and read by a local Spark
session. Counts and money must be equal; other floats equal to 1e-9 relative (sums of DOUBLEs
in another order).
"""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.core.calendar import month_range
from evrevops.metrics import compute as mc
from evrevops.metrics.registry import MEASURES, METRICS
from evrevops.metrics.span import data_range
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.export import export_parquet
from evrevops.warehouse.spark import SparkWarehouse
from tests.helpers.rows import assert_rows_equal
from tests.helpers.warehouse import warehouse_of

MARCH = (dt.date(2024, 3, 1), dt.date(2024, 3, 31))


@pytest.fixture(scope="module")
def engines(tmp_path_factory, fixtures, spark_base):
    tmp = tmp_path_factory.mktemp("spark")
    duck = open_warehouse(warehouse_of(fixtures / "metrics", tmp / "w.duckdb"), read_only=True)
    manifest = export_parquet(duck, tmp / "export")
    spark = SparkWarehouse(tmp / "export", session=spark_base.newSession())
    yield duck, spark, manifest, tmp / "export"
    spark.close()
    duck.close()


def test_the_export_holds_every_table(engines):
    duck, spark, manifest, _ = engines
    for name, t in manifest["tables"].items():
        assert spark.count(name) == t["rows"] == duck.count(name), name


@pytest.mark.parametrize(("by", "period"), [("site", "month"), ("network", "month"), ("port", "day")])
def test_every_metric_is_equal_on_spark(engines, by, period):
    duck, spark, _, _ = engines
    d = mc.compute(duck, by=by, period=period, start=MARCH[0], end=MARCH[1], kept=False).to_pylist()
    s = mc.compute(spark, by=by, period=period, start=MARCH[0], end=MARCH[1]).to_pylist()
    assert_rows_equal(d, s)
    assert any(r["revenue_per_port_minor"] for r in d)  # the hand case has money in it


@pytest.fixture(scope="module")
def demo(demo_networks, tmp_path_factory, spark_base):
    """A small generated network with utility tariffs, OCPP telemetry and incidents, on both engines."""
    tmp = tmp_path_factory.mktemp("spark-demo")
    duck = demo_networks.get(ports=24, months=2, seed=11).open()  # read-only, so the CLI can open it too
    export_parquet(duck, tmp / "export")
    spark = SparkWarehouse(tmp / "export", session=spark_base.newSession())
    yield duck, spark, tmp / "export"
    spark.close()
    duck.close()


def test_every_metric_with_bills_and_uptime_is_equal_on_spark(demo):
    """All the registry's metrics by site for a month: sessions, bills (load profile × URDB tariff)
    and uptime (timeline, ledger, revenue at risk) computed on Spark equal DuckDB's."""
    duck, spark, _ = demo
    lo, _ = data_range(duck)
    month = month_range(f"{lo:%Y-%m}")
    d = mc.compute(duck, by="site", start=month[0], end=month[1], kept=False).to_pylist()
    s = mc.compute(spark, by="site", start=month[0], end=month[1]).to_pylist()
    assert_rows_equal(d, s)
    levels = {n: {MEASURES[x].level for x in {m.numerator, m.denominator} - {None}} for n, m in METRICS.items()}
    for level in ("site-month", "port-month"):
        names = [n for n, lv in levels.items() if level in lv and n in d[0]]
        assert any(r[n] for r in d for n in names), level  # bills and uptime are there to compare
    assert any(r["demand_charge_minor"] for r in d) and any(r["outages"] for r in d)


def test_the_cli_runs_metrics_on_spark(engines):
    import json

    from typer.testing import CliRunner

    from evrevops.cli import app

    duck, _, _, folder = engines
    args = ["metrics", "--month", "2024-03", "--by", "site", "-m", "sessions", "-m", "utilization", "-m", "uptime_pct",
            "--format", "json"]  # fmt: skip
    r = CliRunner().invoke(app, [*args, "--engine", "local[2]", "--export", str(folder)])  # a master URL
    assert r.exit_code == 0, r.output
    on_duck = mc.compute(
        duck, by="site", period="month", start=MARCH[0], end=MARCH[1], metrics=["sessions", "utilization", "uptime_pct"]
    )
    assert_rows_equal(json.loads(r.stdout), on_duck.to_pylist())
    bad = CliRunner().invoke(app, ["metrics", "--engine", "spark"])
    assert bad.exit_code == 2 and "--export" in bad.output


def test_bills_uptime_and_the_outage_ledger_from_the_cli_on_spark(demo):
    """`bill`, `uptime` and `outages` with a Spark master URL print what they print on DuckDB."""
    import json

    from typer.testing import CliRunner

    from evrevops.cli import app

    duck, _, folder = demo
    lo, _ = data_range(duck)
    month = f"{lo:%Y-%m}"
    site = duck.con.sql("SELECT min(site_id) FROM sites WHERE utility_tariff_id IS NOT NULL").fetchall()[0][0]
    for args in (["bill", "--site", site, "--month", month], ["uptime", "--month", month, "--by", "site"],
                 ["outages", "--month", month]):  # fmt: skip
        on_duck = CliRunner().invoke(app, ["--db", str(duck.path), *args, "--format", "json"])
        on_spark = CliRunner().invoke(
            app, ["--db", str(duck.path), *args, "--format", "json", "--engine", "local[2]", "--export", str(folder)]
        )
        assert on_duck.exit_code == 0 and on_spark.exit_code == 0, (args, on_duck.output, on_spark.output)
        a, b = json.loads(on_duck.stdout), json.loads(on_spark.stdout)
        assert a, args
        assert_rows_equal(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b])
