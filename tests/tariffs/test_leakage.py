"""Revenue leakage and the driver-price what-if against the hand-computed fixture tests/fixtures/pricing.

Tariff US*EVR*T1: $1.00 per session + $0.40/kWh + $12.50/h idle once the session has lasted 1 h.

* c1: 20 kWh → 8.00 + 1.00 = $9.00, billed $9.00.
* c2: 30 kWh, then 1 h parked from the 60th minute → 12.00 + 1.00 + 12.50 = $25.50, billed $13.00
  (idle fee missing): +$12.50 under-billed.
* c3: 10 kWh → $5.00, billed $6.00: −$1.00.
* c4: 10.0125 kWh → $4.005, idle 0.0004 h → $0.005, flat $1.00: exact $5.010 → $5.01 rounded once,
  $4.01 + $0.01 + $1.00 = $5.02 rounded line by line; billed $5.02: rounding, not leakage (−1 cent).
* c5 names no tariff: unpriced.

Priced 4, billed $33.02, expected $44.51, leakage $11.50, rounding −$0.01 (44.51 − 33.02 = 11.50 − 0.01).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.tariffs import repricing
from evrevops.warehouse.db import open_warehouse
from tests.helpers.warehouse import warehouse_of

JUNE = dt.date(2024, 6, 1)
runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory, fixtures):
    return warehouse_of(fixtures / "pricing", tmp_path_factory.mktemp("leak") / "w.duckdb")


def test_leakage_by_hand(db):
    w = open_warehouse(db, read_only=True)
    (r,) = repricing.leakage(w, JUNE, JUNE).to_pylist()
    w.close()
    assert (r["site_id"], r["month"], r["currency"]) == ("P", "2024-06", "USD")
    assert (r["sessions"], r["sessions_unpriced"], r["sessions_mismatched"]) == (4, 1, 2)
    assert (r["billed_minor"], r["expected_minor"]) == (3302, 4451)
    assert (r["leakage_minor"], r["rounding_minor"]) == (1150, -1)
    assert r["expected_minor"] - r["billed_minor"] == r["leakage_minor"] + r["rounding_minor"]


def test_price_whatif_without_and_with_demand_response(db):
    w = open_warehouse(db, read_only=True)
    (r,) = repricing.price_whatif(w, JUNE, JUNE, ["P"], "US*EVR*T1").to_pylist()
    # every session under T1, c5 included (10 kWh → $5.00)
    assert (r["sessions"], r["baseline_revenue_minor"], r["scenario_revenue_minor"]) == (5, 3602, 4951)
    assert r["revenue_change_minor"] == 1349
    assert r["demand_response"].startswith("none assumed")
    (e,) = repricing.price_whatif(w, JUNE, JUNE, ["P"], "US*EVR*T1", elasticity=-0.5).to_pylist()
    ratio = (4951 / 3602) ** -0.5
    assert e["scenario_energy_kwh"] == pytest.approx(r["energy_kwh"] * ratio)
    assert e["scenario_revenue_minor"] == round(4951 * ratio)
    with pytest.raises(ValueError, match="unknown driver tariff"):
        repricing.price_whatif(w, JUNE, JUNE, ["P"], "nope")
    w.close()


def test_cli_price_and_whatif_price(db):
    r = runner.invoke(app, ["--db", str(db), "price", "--month", "2024-06", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)[0]["leakage_minor"] == 1150
    r = runner.invoke(app, ["--db", str(db), "price", "--month", "2024-06"])
    assert r.exit_code == 0 and "leakage: 11.50 USD" in r.output  # in major units, with its currency
    r = runner.invoke(
        app,
        [
            "--db",
            str(db),
            "whatif",
            "price",
            "--segment",
            "public_dc",
            "--month",
            "2024-06",
            "--tariff",
            "US*EVR*T1",
            "-f",
            "csv",
        ],  # fmt: skip
    )
    assert r.exit_code == 0, r.output
    assert "4951" in r.stdout
