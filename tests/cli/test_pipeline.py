"""The CLI, run in process: `pipeline` and its subcommands on the pipeline fixtures."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evrevops.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def pipeline_cli_db(tmp_path_factory):
    from tests.helpers.warehouse import warehouse_of
    from tests.pipeline.conftest import FOLDER

    return str(warehouse_of(FOLDER, tmp_path_factory.mktemp("pipeline-cli") / "p.duckdb"))


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_pipeline_commands_render_every_format(pipeline_cli_db, fmt):
    db = ["--db", pipeline_cli_db]
    for args in (
        ["pipeline", "--month", "2025-06"],
        ["pipeline", "--as-of", "2025-03-31", "--by", "deal"],
        ["pipeline", "funnel", "--by", "segment"],
        ["pipeline", "win-rates", "--by", "utility_capacity_confirmed"],
        ["pipeline", "projects"],
        ["pipeline", "slippage"],
        ["pipeline", "expansion", "--by", "customer"],
        ["pipeline", "ramp", "--by", "network"],
    ):
        r = runner.invoke(app, [*db, *args, "--format", fmt])
        assert r.exit_code == 0, (args, r.output)
        if fmt == "json":
            recs = json.loads(r.stdout)
            assert recs, args
            if args == ["pipeline", "--month", "2025-06"]:
                neg = next(x for x in recs if x["stage"] == "negotiation")
                assert (neg["deals"], neg["learned_weighted_minor"]) == (1, 25_624_000)
            if args[1:2] == ["projects"]:
                assert next(x for x in recs if x["project_id"] == "P4")["expected_commissioning_on"] == "2025-08-14"
    bad = runner.invoke(app, [*db, "pipeline", "win-rates", "--by", "planet"])
    assert bad.exit_code == 2 and "unknown grouping" in bad.output
    bad = runner.invoke(app, [*db, "pipeline", "--as-of", "2025-13-01"])
    assert bad.exit_code == 2
