"""The CLI, run in process: `unit-economics`, `model compare`, `pnl`, `incentives` on the hand-computed finance warehouse."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evrevops.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def finance_cli_db(tmp_path_factory):
    from tests.finance import hand

    return str(hand.warehouse(tmp_path_factory.mktemp("finance-cli")))


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_unit_economics_model_compare_pnl_and_incentives_render_every_format(finance_cli_db, tmp_path, fmt):
    prices = tmp_path / "prices.toml"
    prices.write_text('[prices]\ncaas_per_port_month = "120.00"\nsoftware_per_port_month = "30.00"\n')
    db = ["--db", finance_cli_db]
    for args in (
        ["unit-economics", "--by", "segment"],
        ["unit-economics", "--by", "network", "--summary"],
        ["model", "compare", "--site", "W", "--prices", str(prices)],
        ["pnl", "--month", "2025-01", "--to-month", "2025-02", "--by", "segment"],
        ["pnl", "--month", "2025-02", "--by", "network"],
        ["incentives", "--site", "H"],
    ):
        r = runner.invoke(app, [*db, *args, "--format", fmt])
        assert r.exit_code == 0, (args, r.output)
        if fmt == "json":
            recs = json.loads(r.stdout)
            assert recs, args
            if args[0] == "unit-economics" and "--summary" not in args:
                h = next(x for x in recs if x["site_id"] == "H")
                assert (h["payback_months"], h["net_capex_minor"], h["rank"]) == (63, 5_500_000, 1)
            if args[:2] == ["model", "compare"]:
                assert [x["revenue_model"] for x in recs] == ["hardware_sale", "caas", "software_only"]
                assert next(x for x in recs if x["revenue_model"] == "caas")["payback_months"] == 95
            if args[0] == "pnl" and "network" in args:
                assert recs[0]["revenue_minor"] == 221_200 and recs[0]["gross_margin_minor"] == 58_977
            if args[0] == "incentives":
                assert {x["incentive_id"]: x["award_minor"] for x in recs} == {"I-1": 5_000_000, "I-2": 1_500_000}


def test_finance_commands_fail_clearly(finance_cli_db):
    db = ["--db", finance_cli_db]
    cases = [
        (["model", "compare", "--site", "H"], "no reference price for hardware_per_charger"),
        (["model", "compare", "--site", "NOPE"], "unknown site"),
        (["pnl", "--month", "2024-12"], "months with session data"),
        (["unit-economics", "--by", "planet"], "unknown grain"),
        (["unit-economics", "--by", "site", "--summary"], "unknown grain"),
        (["unit-economics", "--site", "NOPE"], "no commissioned sites"),
    ]
    for args, msg in cases:
        r = runner.invoke(app, [*db, *args])
        assert r.exit_code == 2 and msg in r.output, (args, r.output)
