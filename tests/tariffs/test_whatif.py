"""What-ifs against the hand-computed bills fixture (tests/fixtures/bills, see test_site_bills).

Power cap 20 kW at site S, June 2024:

* b1 charges 40 kW for 1 h and leaves at once: halved to 20 kW, 20 kWh missed, no idle time to
  catch up, so 20 kWh are lost with its energy revenue of $20.00 / 40 kWh = $0.50/kWh: $10.00.
* b2 charges 30 kW for 1 h, then idles 1 h on a 50 kW port: scaled to 20 kW, 10 kWh missed,
  delivered in its idle hour at the 20 kW of headroom (5 kWh per 15 minutes, two intervals): none lost.
* Managed bill: 50 kWh × $0.10 = $5.00, 20 kW × $10 = $200.00, fixed $20.00: $225.00 against $427.00.
  Demand charge saved $200.00; bill change −$202.00; margin change $202.00 − $10.00 = +$192.00.

Tariff what-if: the same 70 kWh under `hand-ev-rate` ($0.20/kWh, $10/month): $24.00, so the margin
improves by $427.00 − $24.00 = $403.00.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.tariffs import whatif
from evrevops.warehouse.db import open_warehouse
from tests.helpers.warehouse import warehouse_of

JUNE = dt.date(2024, 6, 1)
runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory, fixtures):
    return warehouse_of(fixtures / "bills", tmp_path_factory.mktemp("wi") / "w.duckdb")


def test_power_cap_by_hand(db):
    w = open_warehouse(db, read_only=True)
    (r,) = whatif.power_cap(w, JUNE, JUNE, ["S"], cap_kw=20).to_pylist()
    w.close()
    assert (r["baseline_total_minor"], r["scenario_total_minor"]) == (42700, 22500)
    assert r["scenario_peak_kw"] == pytest.approx(20)
    assert r["scenario_energy_kwh"] == pytest.approx(50)
    assert r["energy_lost_kwh"] == pytest.approx(20)
    assert r["revenue_lost_minor"] == 1000
    assert r["demand_charge_saved_minor"] == 20000
    assert r["bill_change_minor"] == -20200
    assert r["margin_change_minor"] == 19200
    assert r["best"] is True


def test_power_cap_search_never_exceeds_the_cap_and_conserves_energy(db):
    w = open_warehouse(db, read_only=True)
    rows = whatif.power_cap(w, JUNE, JUNE, ["S"]).to_pylist()
    w.close()
    assert len(rows) == len(whatif.CAP_FRACTIONS)
    for r in rows:
        assert r["scenario_peak_kw"] <= r["cap_kw"] + 1e-9
        assert r["scenario_energy_kwh"] + r["energy_lost_kwh"] == pytest.approx(70)
        assert r["margin_change_minor"] == -r["bill_change_minor"] - r["revenue_lost_minor"]
    assert sum(r["best"] for r in rows) == 1
    best = next(r for r in rows if r["best"])
    assert best["margin_change_minor"] == max(r["margin_change_minor"] for r in rows)
    uncapped = next(r for r in rows if r["cap_kw"] == pytest.approx(40))
    assert (uncapped["energy_lost_kwh"], uncapped["bill_change_minor"]) == (0, 0)


def test_tariff_whatif_by_hand(db):
    w = open_warehouse(db, read_only=True)
    (r,) = whatif.tariff(w, JUNE, JUNE, ["S"], "hand-ev-rate").to_pylist()
    assert (r["baseline_tariff"], r["baseline_total_minor"], r["scenario_total_minor"]) == (
        "hand-flat-demand",
        42700,
        2400,
    )
    assert (r["demand_charge_saved_minor"], r["margin_change_minor"]) == (40000, 40300)
    with pytest.raises(ValueError, match="unknown utility tariff"):
        whatif.tariff(w, JUNE, JUNE, ["S"], "nope")
    w.close()


def test_cli_whatifs(db):
    r = runner.invoke(
        app,
        ["--db", str(db), "whatif", "power-cap", "--site", "S", "--month", "2024-06", "--cap-kw", "20", "-f", "json"],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)[0]["margin_change_minor"] == 19200
    r = runner.invoke(
        app,
        [
            "--db",
            str(db),
            "whatif",
            "tariff",
            "--segment",
            "fleet",
            "--month",
            "2024-06",
            "--tariff",
            "hand-ev-rate",
            "-f",
            "csv",
        ],  # fmt: skip
    )
    assert r.exit_code == 0, r.output
    assert "40300" in r.stdout
    r = runner.invoke(app, ["--db", str(db), "whatif", "power-cap", "--site", "T", "--month", "2024-06"])
    assert r.exit_code == 2 and "cannot be billed" in r.output
    r = runner.invoke(app, ["--db", str(db), "whatif", "power-cap", "--month", "2024-06"])
    assert r.exit_code == 2 and "--site" in r.output
