"""--engine values: DuckDB, a local Spark session, or a Spark master URL."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.warehouse.engine import open_engine, parse


@pytest.mark.parametrize(
    ("value", "master", "expected"),
    [
        ("duckdb", None, ("duckdb", None)),
        ("DuckDB", "spark://x:7077", ("duckdb", None)),
        ("spark", None, ("spark", "local[2]")),
        ("spark", "local[*]", ("spark", "local[*]")),
        ("spark", "spark://master:7077", ("spark", "spark://master:7077")),
        ("local[4]", None, ("spark", "local[4]")),
        ("local", None, ("spark", "local")),
        ("spark://a:7077,b:7077", None, ("spark", "spark://a:7077,b:7077")),
        ("yarn", None, ("spark", "yarn")),
        ("k8s://https://10.0.0.1:6443", None, ("spark", "k8s://https://10.0.0.1:6443")),
    ],
)
def test_engine_values(value, master, expected):
    assert parse(value, master) == expected


@pytest.mark.parametrize("value", ["postgres://db", "spark:/x", "local[two]", "", "sqlite"])
def test_unknown_engines_fail_naming_the_forms(value):
    with pytest.raises(ValueError, match="unknown engine .*duckdb, spark, or a Spark master URL"):
        parse(value)


def test_a_bad_master_fails():
    with pytest.raises(ValueError, match="not a Spark master URL: 'mesos'"):
        parse("spark", "mesos")


def test_duckdb_needs_no_session_and_spark_needs_an_export(tmp_path):
    assert open_engine("duckdb") is None
    with pytest.raises(ValueError, match="needs --export DIR"):
        open_engine("spark://m:7077")
    with pytest.raises(ValueError, match="not a warehouse export"):
        open_engine("local[1]", export=tmp_path)


def test_the_cli_names_a_bad_engine(tmp_path):
    r = CliRunner().invoke(app, ["--db", str(tmp_path / "w.duckdb"), "metrics", "--engine", "oracle://x"])
    assert r.exit_code == 2 and "unknown engine 'oracle://x'" in r.output
