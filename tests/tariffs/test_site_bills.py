"""Site bills from the warehouse and the energy-margin metrics, against a hand-computed fixture.

tests/fixtures/bills: site S (America/Chicago) on $0.10/kWh + $10/kW of the month's peak + $20/month.
June 2024: b1 delivers 40 kWh in one hour (40 kW for four 15-minute intervals), b2 30 kWh in the
first hour of a 2-hour stay (30 kW). Bill: 70 kWh × 0.10 = $7.00; peak 40 kW × $10 = $400.00;
fixed $20.00; total $427.00. Revenue $20.00 + $15.00 = $35.00, so the energy margin is
$35.00 − $427.00 = −$392.00 (−560 cents per kWh), and demand charges exceed revenue: flagged.
May 2024: the port is in service without load, so the bill is the $20.00 fixed charge alone (the
metrics say no data for May: it is before the session data).
Site T has no utility tariff: it is not billed, and listed as such.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.metrics.compute import compute
from evrevops.tariffs import site_bills
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from evrevops.warehouse.site_tariff import set_site_tariff
from tests.helpers.warehouse import warehouse_of

JUNE = (dt.date(2024, 6, 1), dt.date(2024, 6, 30))
runner = CliRunner()


@pytest.fixture()
def db(tmp_path, fixtures):
    return warehouse_of(fixtures / "bills", tmp_path / "w.duckdb")


def test_month_bills_by_hand(db):
    w = open_warehouse(db)
    rows = {r["bill_month"]: r for r in site_bills.month_bills(w, dt.date(2024, 5, 1), dt.date(2024, 6, 1)).to_pylist()}
    june, may = rows[dt.date(2024, 6, 1)], rows[dt.date(2024, 5, 1)]
    assert june["site_id"] == "S" and june["energy_kwh"] == pytest.approx(70) and june["peak_kw"] == pytest.approx(40)
    assert (june["energy_charge_minor"], june["flat_demand_charge_minor"], june["fixed_charge_minor"]) == (
        700,
        40000,
        2000,
    )
    assert june["total_minor"] == 42700
    assert (may["energy_kwh"], may["total_minor"]) == (0, 2000)
    assert [r["site_id"] for r in site_bills.unbilled_sites(w).to_pylist()] == ["T"]


def test_energy_margin_metrics_by_hand(db):
    w = open_warehouse(db)
    site = {r["site_id"]: r for r in compute(w, by="site", period="month", start=JUNE[0], end=JUNE[1]).to_pylist()}
    s, t = site["S"], site["T"]
    assert s["energy_revenue_minor"] == 3500
    assert (s["energy_cost_minor"], s["energy_charge_minor"], s["demand_charge_minor"], s["fixed_charge_minor"]) == (
        42700,
        700,
        40000,
        2000,
    )
    assert s["energy_cost_minor"] == s["energy_charge_minor"] + s["demand_charge_minor"] + s["fixed_charge_minor"]
    assert s["energy_margin_minor"] == -39200
    assert s["energy_margin_per_kwh"] == pytest.approx(-560.0)
    assert s["energy_margin_share"] == pytest.approx(-39200 / 3500)
    assert s["demand_charge_share"] == pytest.approx(40000 / 42700)
    assert s["peak_kw"] == pytest.approx(40)
    assert (s["site_months_billed"], s["demand_over_revenue_flag"]) == (1, 1)
    assert t["energy_revenue_minor"] == 2500 and t["energy_cost_minor"] is None and t["energy_margin_minor"] is None
    (net,) = compute(w, by="network", period="month", start=JUNE[0], end=JUNE[1]).to_pylist()
    assert (net["energy_revenue_minor"], net["energy_cost_minor"], net["energy_margin_minor"]) == (6000, 42700, -39200)
    assert net["site_months_billed"] == 1
    # bills are monthly: no day period, no port grain
    day = compute(w, by="site", period="day", start=JUNE[0], end=JUNE[1]).to_pylist()
    assert all(r["energy_cost_minor"] is None for r in day)
    with pytest.raises(ValueError, match="not defined by 'day'"):
        compute(w, by="site", period="day", start=JUNE[0], end=JUNE[1], metrics=["energy_cost_minor"])


def test_set_tariff_bills_the_site_and_is_in_the_ledger(db):
    w = open_warehouse(db)
    with pytest.raises(ValueError, match="unknown utility tariff"):
        set_site_tariff(w, "T", "no-such-tariff")
    with pytest.raises(ValueError, match="unknown site"):
        set_site_tariff(w, "Z", "hand-flat-demand")
    row = set_site_tariff(w, "T", "hand-flat-demand", JUNE[0])  # a tariff from a date: June is billed under it
    assert row["previous"] is None
    ledger = w.con.sql(
        "SELECT format, records_read, accepted FROM ingest_ledger WHERE file_id = ?", params=[row["file_id"]]
    )
    assert ledger.fetchall() == [("cli:sites set-tariff", 1, 1)]
    bills = site_bills.month_bills(w, dt.date(2024, 6, 1), dt.date(2024, 6, 1), ["T"]).to_pylist()
    # b3: 50 kWh in 1 h at 50 kW: 5.00 + 500.00 + 20.00
    assert bills[0]["total_minor"] == 52500


def test_cli_bill_json_and_errors(db):
    r = runner.invoke(app, ["--db", str(db), "bill", "--site", "S", "--month", "2024-06", "--format", "json"])
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    assert {k: rec[k] for k in ("energy_charge", "flat_demand_charge", "tou_demand_charge", "fixed_charge")} == {
        "energy_charge": 700,
        "flat_demand_charge": 40000,
        "tou_demand_charge": 0,
        "fixed_charge": 2000,
    }
    assert (rec["minimum_charge_adjustment"], rec["total"], rec["peak_kw"], rec["energy_kwh"]) == (0, 42700, 40.0, 70.0)
    assert rec["unsupported"] == []
    r = runner.invoke(app, ["--db", str(db), "bill", "--site", "T", "--month", "2024-06"])
    assert r.exit_code == 2 and "no utility tariff set" in r.output
    r = runner.invoke(
        app,
        ["--db", str(db), "sites", "set-tariff", "T", "hand-flat-demand", "--from", "2024-06-01", "--format", "json"],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["--db", str(db), "bill", "--site", "T", "--month", "2024-06", "--format", "csv"])
    assert r.exit_code == 0 and "52500" in r.stdout
    r = runner.invoke(app, ["--db", str(db), "bill", "--site", "S", "--month", "2024-06"])
    assert r.exit_code == 0 and "427.00" in r.stdout


def test_cli_bill_names_a_tariff_value_it_cannot_use(db, tmp_path):
    bad = tmp_path / "urdb-bad.json"
    bad.write_text(
        json.dumps(
            {
                "label": "bad-min",
                "energyratestructure": [[{"rate": 0.1}]],
                "energyweekdayschedule": [[0] * 24] * 12,
                "energyweekendschedule": [[0] * 24] * 12,
                "mincharge": 50,
                "minchargeunits": "$/week",
            }  # fmt: skip
        )
    )
    w = open_warehouse(db)
    assert ingest_file(w, bad).accepted == 1
    set_site_tariff(w, "S", "bad-min", JUNE[0])
    w.close()
    r = runner.invoke(app, ["--db", str(db), "bill", "--site", "S", "--month", "2024-06"])
    assert r.exit_code == 2
    assert "bad-min" in r.output and "minchargeunits" in r.output and "$/week" in r.output


def test_kept_bills_serve_metrics_only_while_current(db, fixtures, tmp_path):
    w = open_warehouse(db)
    assert site_bills.cached_range(w) is None  # ingested through the library: nothing kept yet
    live = compute(w, by="site", period="month", start=JUNE[0], end=JUNE[1]).to_pylist()
    r = site_bills.refresh(w)
    assert (r["first_month"], r["last_month"], r["bills"]) == (dt.date(2024, 6, 1), dt.date(2024, 6, 1), 1)
    assert site_bills.cached_range(w) == (dt.date(2024, 6, 1), dt.date(2024, 6, 1))
    kept = compute(w, by="site", period="month", start=JUNE[0], end=JUNE[1]).to_pylist()
    assert kept == live
    # a range the kept bills do not cover is billed on the fly: a cent added to the kept June bill tells them
    # apart (an edit of the kept table is no ingest: they stay current)
    w.con.execute(f"UPDATE {site_bills.CACHE} SET total_minor = total_minor + 1 WHERE site_id = 'S'")
    assert site_bills.cached_range(w) == (dt.date(2024, 6, 1), dt.date(2024, 6, 1))
    june = compute(w, by="site", period="month", start=JUNE[0], end=JUNE[1]).to_pylist()
    assert {x["site_id"]: x["energy_cost_minor"] for x in june}["S"] == 42701  # the kept bill
    both = compute(w, by="site", period="month", start=dt.date(2024, 5, 1), end=JUNE[1]).to_pylist()
    by_month = {x["month"]: x["energy_cost_minor"] for x in both if x["site_id"] == "S"}
    # June billed on the fly; May is before the session data (first session 3 June): no data, not the $20.00
    # fixed charge alone that the bill engine gives a month it is asked for (test_month_bills_by_hand)
    assert by_month == {"2024-05": None, "2024-06": 42700}
    # any write to the warehouse (here a tariff change through the ledger) makes them stale
    set_site_tariff(w, "S", "hand-ev-rate", JUNE[0])
    assert site_bills.cached_range(w) is None
    changed = {x["site_id"]: x for x in compute(w, by="site", period="month", start=JUNE[0], end=JUNE[1]).to_pylist()}
    assert changed["S"]["energy_cost_minor"] == 2400
    # so does another version of the bill engine
    site_bills.refresh(w)
    w.con.execute("UPDATE derived_facts SET fingerprint = 'older-engine:' || fingerprint")
    assert site_bills.cached_range(w) is None
    w.close()


def test_cli_ingest_keeps_the_bills(fixtures, tmp_path):
    path = tmp_path / "cli.duckdb"
    r = runner.invoke(app, ["--db", str(path), "ingest", str(fixtures / "bills"), "--output", "json"])
    assert r.exit_code == 0, r.output
    assert "kept 1 site-month bills" in r.output
    w = open_warehouse(path, read_only=True)
    assert site_bills.cached_range(w) == (dt.date(2024, 6, 1), dt.date(2024, 6, 1))
    w.close()


def test_a_sparse_register_bills_a_month_the_same_alone_or_in_a_range(db):
    """A register step across the month's edge counts whole, and a session after the last reading is placed.

    S1 reads 1,000 kWh on 20 May 00:00 UTC and 1,150 kWh on 4 June 00:00 UTC: 150 kWh over 360 h.
    b1 (3 June) is inside that step, so the meter holds it; b2 (10 June, 30 kWh) is after the last
    reading, so it is placed from its session. June (from 1 June 05:00 UTC, Chicago midnight) gets
    67 h of the step, 27.9167 kWh, plus b2's 30 kWh, billed alone or with May.
    """
    w = open_warehouse(db)
    w.con.execute(
        """INSERT INTO meter_readings (charger_id, port_id, connector_id, observed_at, measurand, value, unit, file_id, source_record)
           VALUES ('CS', 'S1', 1, TIMESTAMP '2024-05-20 00:00:00', 'Energy.Active.Import.Register', 1000, 'kWh', 0, 1),
                  ('CS', 'S1', 1, TIMESTAMP '2024-06-04 00:00:00', 'Energy.Active.Import.Register', 1150, 'kWh', 0, 2)"""
    )
    alone = site_bills.month_bills(w, dt.date(2024, 6, 1), dt.date(2024, 6, 1), ["S"]).to_pylist()
    both = site_bills.month_bills(w, dt.date(2024, 5, 1), dt.date(2024, 6, 1), ["S"]).to_pylist()
    june = [r for r in both if r["bill_month"] == dt.date(2024, 6, 1)]
    assert alone[0]["energy_kwh"] == pytest.approx(150 * 67 / 360 + 30) == june[0]["energy_kwh"]
    assert {k: v for k, v in alone[0].items() if k.endswith("_minor")} == {
        k: v for k, v in june[0].items() if k.endswith("_minor")
    }
    w.close()
