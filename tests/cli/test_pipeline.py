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


def test_as_of_an_instant_is_refused_by_the_commands_that_count_whole_days(pipeline_cli_db):
    # `--as-of` means "use only what was known by then"; the pipeline and forecasts count whole days, and the day an
    # instant falls in would read past it, so an instant is refused with what to give instead
    db = ["--db", pipeline_cli_db]
    for cmd in (["pipeline"], ["pipeline", "funnel"], ["pipeline", "projects"], ["forecast", "hardware"]):
        r = runner.invoke(app, [*db, *cmd, "--as-of", "2025-03-31T12:00"])
        assert r.exit_code == 2, (cmd, r.output)
        assert "--as-of: this command counts whole days; give a day YYYY-MM-DD (its end), not '2025-03-31T12:00'" in (
            " ".join(r.stderr.split())
        ), cmd
    # a day is that day (its end), as before
    day = runner.invoke(app, [*db, "pipeline", "--as-of", "2025-03-31", "--by", "deal", "--format", "json"])
    assert day.exit_code == 0, day.output
    assert (
        day.stdout
        == runner.invoke(app, [*db, "pipeline", "--month", "2025-03", "--by", "deal", "--format", "json"]).stdout
    )
