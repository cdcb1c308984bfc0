"""A tariff change within a month splits the bill at the change; history stays true.

Hand cases on tests/fixtures/bills (site S, America/Chicago, one 50 kW port from 2024-05-01, on
``hand-flat-demand`` since always: $0.10/kWh, $10/kW of the peak, $20/month; June 2024: b1
40 kWh at 40 kW on 3 June, b2 30 kWh at 30 kW on 10 June). Tariff B (``hand-switch-b``, written
here): $0.25/kWh, $20/kW of the peak (flat) and $4/kW of the peak (TOU, one period all day),
$30/month; one more session b4 on 20 June: 25 kWh in 1 h (25 kW).

S moves to B from 16 June (a 30-day month): days 1–15 under ``hand-flat-demand``, 16–30 under B,
each part 15/30 of a month.

Part A (1–15 June), its own intervals: b1 and b2.
  energy   70 kWh × $0.10                 =   $7.00
  demand   40 kW (its own peak) × $10 × 15/30 = $200.00
  fixed    $20 × 15/30                    =  $10.00
  total                                      $217.00   (21,700 cents)
Part B (16–30 June): b4 alone.
  energy   25 kWh × $0.25                 =   $6.25
  flat     25 kW × $20 × 15/30            = $250.00
  TOU      25 kW × $4 × 15/30             =  $50.00
  fixed    $30 × 15/30                    =  $15.00
  total                                      $321.25   (32,125 cents)
The month: $538.25, in two bills.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.tariffs import load_profile, site_bills, whatif
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from evrevops.warehouse.site_tariff import set_site_tariff
from tests.helpers.warehouse import warehouse_of

JUNE, JULY = dt.date(2024, 6, 1), dt.date(2024, 7, 1)
runner = CliRunner()
ZEROS = [[0] * 24 for _ in range(12)]


def _urdb(path: Path, **record) -> Path:
    base = {"utility": "Hand Test Utility", "sector": "Commercial", "energyweekdayschedule": ZEROS,
            "energyweekendschedule": ZEROS}  # fmt: skip
    path.write_text(json.dumps({**base, **record}))
    return path


def _cdr(cid: str, site: str, port: str, start: dt.datetime, hours: float, kwh: float, cost: str) -> dict:
    end = start + dt.timedelta(hours=hours)
    z = "%Y-%m-%dT%H:%M:%SZ"
    return {"country_code": "US", "party_id": "EVR", "id": cid, "start_date_time": start.strftime(z),
            "end_date_time": end.strftime(z), "cdr_location": {"id": site, "evse_uid": port}, "currency": "USD",
            "total_cost": {"excl_vat": cost, "incl_vat": cost}, "total_energy": kwh, "total_time": hours,
            "total_parking_time": 0.0, "last_updated": end.strftime(z), "total_energy_cost": {"excl_vat": cost}}  # fmt: skip


def _write_cdrs(path: Path, cdrs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in cdrs))
    return path


B = {
    "label": "hand-switch-b",
    "name": "Switch B",
    "energyratestructure": [[{"rate": 0.25, "unit": "kWh"}]],
    "flatdemandstructure": [[{"rate": 20}]],
    "flatdemandmonths": [0] * 12,
    "demandratestructure": [[{"rate": 4}]],
    "demandweekdayschedule": ZEROS,
    "demandweekendschedule": ZEROS,
    "fixedchargefirstmeter": 30,
    "fixedchargeunits": "$/month",
}


@pytest.fixture()
def db(tmp_path, fixtures):
    path = warehouse_of(fixtures / "bills", tmp_path / "w.duckdb")
    w = open_warehouse(path)
    for f in (
        _urdb(tmp_path / "urdb-b.json", **B),
        _write_cdrs(tmp_path / "b4.ndjson", [_cdr("b4", "S", "S1", dt.datetime(2024, 6, 20, 14), 1.0, 25, "10.00")]),
    ):
        assert ingest_file(w, f).quarantined == 0
    w.close()
    return path


LINES = ("energy_charge_minor", "flat_demand_charge_minor", "tou_demand_charge_minor", "fixed_charge_minor",
         "minimum_charge_adjustment_minor", "total_minor")  # fmt: skip


def test_a_switch_on_the_16th_bills_each_half_under_its_tariff_by_hand(db):
    w = open_warehouse(db)
    set_site_tariff(w, "S", "hand-switch-b", dt.date(2024, 6, 16))
    a, b = site_bills.month_bills(w, JUNE, JUNE, ["S"]).to_pylist()
    assert (a["utility_tariff_id"], a["first_on"], a["last_on"]) == ("hand-flat-demand", JUNE, dt.date(2024, 6, 15))
    assert (b["utility_tariff_id"], b["first_on"], b["last_on"]) == ("hand-switch-b", dt.date(2024, 6, 16),
                                                                     dt.date(2024, 6, 30))  # fmt: skip
    assert (a["energy_kwh"], a["peak_kw"], b["energy_kwh"], b["peak_kw"]) == pytest.approx((70, 40, 25, 25))
    assert tuple(a[k] for k in LINES) == (700, 20000, 0, 1000, 0, 21700)
    assert tuple(b[k] for k in LINES) == (625, 25000, 5000, 1500, 0, 32125)
    # the month before is one part, as it always was: S's May is its $20.00 fixed charge
    (may,) = site_bills.month_bills(w, dt.date(2024, 5, 1), dt.date(2024, 5, 1), ["S"]).to_pylist()
    assert (may["first_on"], may["last_on"], may["total_minor"]) == (dt.date(2024, 5, 1), dt.date(2024, 5, 31), 2000)
    w.close()


def test_a_31_day_month_prorates_to_the_cent_and_per_day_charges_take_the_days(db, tmp_path):
    """July 2024 (31 days), no load; S moves to C from 11 July: 10/31 and 21/31 of a month.

    A (1–10 July): fixed $20 × 10/31 = $6.4516… → $6.45.
    C (11–31 July): $1.00/day fixed × 21 days = $21.00; a $100/month minimum × 21/31 = $67.7419… , so
    the minimum adjustment is $67.7419… − $21.00 = $46.7419… → $46.74; total $67.74 (the lines
    rounded one by one: 2,100 + 4,674).
    """
    w = open_warehouse(db)
    c = {"label": "hand-switch-c", "name": "Switch C", "energyratestructure": [[{"rate": 0.1}]],
         "fixedchargefirstmeter": 1, "fixedchargeunits": "$/day", "mincharge": 100, "minchargeunits": "$/month"}  # fmt: skip
    assert ingest_file(w, _urdb(tmp_path / "urdb-c.json", **c)).accepted == 1
    set_site_tariff(w, "S", "hand-switch-c", dt.date(2024, 7, 11))
    a, b = site_bills.month_bills(w, JULY, JULY, ["S"]).to_pylist()
    assert (a["first_on"], a["last_on"], b["first_on"], b["last_on"]) == (
        JULY, dt.date(2024, 7, 10), dt.date(2024, 7, 11), dt.date(2024, 7, 31))  # fmt: skip
    assert tuple(a[k] for k in LINES) == (0, 0, 0, 645, 0, 645)
    assert tuple(b[k] for k in LINES) == (0, 0, 0, 2100, 4674, 6774)
    # the factor is days / month days to 12 places: 20 × 0.322580645161
    assert a["fixed_charge_exact"] == Decimal("6.451612903220")
    w.close()


def test_a_new_version_of_the_rate_bills_from_its_start(db, tmp_path):
    """Two records of one rate (same eiaid, name, sector): v1 from 5 June to 16 June, v2 from 16 June.

    v1 has A's prices ($0.10/kWh + $10/kW + $20/month), v2 $0.30/kWh + $30/month. S names v1 (from
    1 May): June 1–4 no version covers, so they stay on the label S names (v1), 5–15 are v1's, 16–30
    v2's, though S never changed its tariff: v1 part as in the first test ($217.00), v2 part
    25 kWh × $0.30 = $7.50 + $30 × 15/30 = $15.00. T names v2 from 1 June: its 1–4 stay on v2 (no
    version covers them), 5–15 are v1's, 16–30 v2's.
    """
    w = open_warehouse(db)
    hand = json.loads((Path(__file__).parents[1] / "fixtures" / "bills" / "urdb-hand.json").read_text())
    # startdate / enddate: Chicago midnights in epoch seconds, as URDB stores them (2024-06-05, 2024-06-16)
    v1 = {**hand, "label": "fam-v1", "eiaid": 99999, "name": "Family rate", "startdate": 1717563600,
          "enddate": 1718514000}  # fmt: skip
    v2 = {k: v for k, v in hand.items() if not k.startswith("flatdemand")}
    v2.update(label="fam-v2", eiaid=99999, name="Family rate", startdate=1718514000, fixedchargefirstmeter=30,
              energyratestructure=[[{"rate": 0.30}]])  # fmt: skip
    for rec in (v1, v2):
        assert ingest_file(w, _urdb(tmp_path / f"urdb-{rec['label']}.json", **rec)).accepted == 1
    assert w.con.sql("SELECT start_on, end_on FROM utility_tariffs WHERE utility_tariff_id = 'fam-v1'").fetchall() == [
        (dt.date(2024, 6, 5), dt.date(2024, 6, 16))
    ]
    set_site_tariff(w, "S", "fam-v1", dt.date(2024, 5, 1))
    set_site_tariff(w, "T", "fam-v2", JUNE)
    parts = site_bills.tariff_parts(w, JUNE, JUNE).to_pylist()
    assert [(p["site_id"], p["utility_tariff_id"], p["first_on"].day, p["last_on"].day) for p in parts] == [
        ("S", "fam-v1", 1, 15),  # S names v1: 1–4 no version covers (its own label), 5–15 v1: one part
        ("S", "fam-v2", 16, 30),
        ("T", "fam-v2", 1, 4),
        ("T", "fam-v1", 5, 15),
        ("T", "fam-v2", 16, 30),
    ]
    s1, s2 = site_bills.month_bills(w, JUNE, JUNE, ["S"]).to_pylist()
    assert (s1["utility_tariff_id"], s1["total_minor"]) == ("fam-v1", 21700)
    assert (s2["utility_tariff_id"], s2["energy_charge_minor"], s2["fixed_charge_minor"], s2["total_minor"]) == (
        "fam-v2", 750, 1500, 2250)  # fmt: skip
    w.close()


def test_kept_bills_whatif_and_unbilled_read_the_parts(db):
    """The kept bills hold both parts; their sums by site-month are the month's; the what-if bills every part."""
    w = open_warehouse(db)
    set_site_tariff(w, "S", "hand-switch-b", dt.date(2024, 6, 16))
    site_bills.refresh(w)
    kept = w.con.sql(
        "SELECT first_on, total_minor FROM site_month_bills WHERE site_id = 'S' ORDER BY first_on"
    ).fetchall()
    assert kept == [(JUNE, 21700), (dt.date(2024, 6, 16), 32125)]
    sums = site_bills.by_site_month(w.table("site_month_bills")).to_pyarrow().to_pylist()
    (s,) = [r for r in sums if r["site_id"] == "S"]
    assert (s["total_minor"], s["peak_kw"], s["energy_kwh"]) == (53825, 40, pytest.approx(95))
    # what-if: each part's days under hand-ev-rate ($0.20/kWh, $10/month): 70 × 0.20 + 5.00; 25 × 0.20 + 5.00
    rows = whatif.tariff(w, JUNE, JUNE, ["S"], "hand-ev-rate").to_pylist()
    assert [
        (r["baseline_tariff"], r["first_on"], r["baseline_total_minor"], r["scenario_total_minor"]) for r in rows
    ] == [
        ("hand-flat-demand", JUNE, 21700, 1900),
        ("hand-switch-b", dt.date(2024, 6, 16), 32125, 1000),
    ]
    # T had no tariff in June, and has one from July: unbilled in June, not in July
    set_site_tariff(w, "T", "hand-ev-rate", JULY)
    assert [r["site_id"] for r in site_bills.unbilled_sites(w, None, JUNE, JUNE).to_pylist()] == ["T"]
    assert site_bills.unbilled_sites(w, None, JULY, JULY).to_pylist() == []
    assert site_bills.unbilled_sites(w).to_pylist() == []  # the latest facts
    w.close()


def test_cli_bill_of_a_split_month(db):
    w = open_warehouse(db)
    set_site_tariff(w, "S", "hand-switch-b", dt.date(2024, 6, 16))
    w.close()
    r = runner.invoke(app, ["--db", str(db), "bill", "--site", "S", "--month", "2024-06", "--format", "json"])
    assert r.exit_code == 0, r.output
    recs = json.loads(r.stdout)
    assert [(x["utility_tariff_id"], x["first_on"], x["last_on"], x["total"]) for x in recs] == [
        ("hand-flat-demand", "2024-06-01", "2024-06-15", 21700),
        ("hand-switch-b", "2024-06-16", "2024-06-30", 32125),
    ]
    r = runner.invoke(app, ["--db", str(db), "bill", "--site", "S", "--month", "2024-06"])
    assert r.exit_code == 0, r.output
    assert "2024-06-16 … 2024-06-30" in r.stdout and "month total (2 tariff parts): 538.25" in r.stdout


# ---- history that stays true: last month's reports before and after a tariff change dated today --------


def _months_around(today: dt.date) -> tuple[dt.date, dt.date]:
    """(first day of last month, first day of this month)."""
    this = today.replace(day=1)
    return (this - dt.timedelta(days=1)).replace(day=1), this


def test_last_months_reports_are_byte_identical_after_a_tariff_change_dated_today(tmp_path, fixtures):
    last, this = _months_around(dt.date.today())
    net = tmp_path / "net"
    net.mkdir()
    for name in ("sites.csv", "urdb-hand.json", "urdb-ev-rate.json"):
        (net / name).write_text((fixtures / "bills" / name).read_text())
    at = [dt.datetime.combine(last.replace(day=3), dt.time(14)), dt.datetime.combine(last.replace(day=10), dt.time(14)),
          dt.datetime.combine(this, dt.time(14))]  # fmt: skip
    _write_cdrs(net / "cdrs.ndjson", [_cdr(f"h{i}", "S", "S1", t, 1.0, 40 - 10 * i, "20.00") for i, t in enumerate(at)])
    db = str(tmp_path / "w.duckdb")
    r = runner.invoke(app, ["--db", db, "ingest", str(net), "--output", "json"])
    assert r.exit_code == 0, r.output
    reports = {
        "bill table": ["bill", "--site", "S", "--month", f"{last:%Y-%m}"],
        "bill json": ["bill", "--site", "S", "--month", f"{last:%Y-%m}", "--format", "json"],
        "metrics": ["metrics", "--month", f"{last:%Y-%m}", "-m", "energy_cost_minor", "-m", "energy_margin_minor",
                    "--by", "site", "--format", "csv"],
        "metrics table": ["metrics", "--month", f"{last:%Y-%m}", "-m", "energy_cost_minor", "-m",
                          "energy_margin_minor", "--by", "site"],
        "this month": ["bill", "--site", "S", "--month", f"{this:%Y-%m}", "--format", "json"],
    }  # fmt: skip

    def render() -> dict[str, bytes]:
        out = {}
        for name, args in reports.items():
            res = runner.invoke(app, ["--db", db, *args])
            assert res.exit_code == 0, (name, res.output)
            out[name] = res.stdout_bytes
        return out

    before = render()
    # last month: 40 kWh at 40 kW and 30 kWh at 30 kW under hand-flat-demand: $7.00 + $400.00 + $20.00
    assert json.loads(before["bill json"])["total"] == 42700
    r = runner.invoke(app, ["--db", db, "sites", "set-tariff", "S", "hand-ev-rate", "--from", f"{this}"])
    assert r.exit_code == 0, r.output
    after = render()
    for name in reports:
        if name != "this month":
            assert after[name] == before[name], name
    # this month did change: 20 kWh at 20 kW, $2.00 + $200.00 + $20.00 before; $4.00 + $10.00 after
    assert (json.loads(before["this month"])["total"], json.loads(after["this month"])["total"]) == (22200, 1400)


def test_a_moved_meter_bills_each_reading_where_the_port_was(db):
    """Port S1 moves from S to T on 21 June (after b4, its last session at S) (sites CSV windows): its register's load follows it.

    S1's register: 1,000 → 1,010 kWh over 14 June 00:00–01:00 UTC (at S: 10 kWh at 10 kW), unchanged to
    25 June 00:00, then → 1,030 kWh by 01:00 (at T: 20 kWh at 20 kW). ``ports.site_id`` (the latest
    place, T) would have put all 30 kWh at T.
    """
    w = open_warehouse(db)
    w.con.execute("UPDATE port_placements SET to_on = DATE '2024-06-21' WHERE port_id = 'S1'")
    w.con.execute(
        "INSERT INTO port_placements (port_id, site_id, source, from_on) VALUES ('S1', 'T', 'sites-csv', DATE '2024-06-21')"
    )
    w.con.execute(
        """INSERT INTO meter_readings (charger_id, port_id, connector_id, observed_at, measurand, value, unit, file_id, source_record)
           SELECT 'CS', 'S1', 1, t, 'Energy.Active.Import.Register', v, 'kWh', 0, 1 FROM (VALUES
               (TIMESTAMP '2024-06-14 00:00', 1000.0), (TIMESTAMP '2024-06-14 01:00', 1010.0),
               (TIMESTAMP '2024-06-25 00:00', 1010.0), (TIMESTAMP '2024-06-25 01:00', 1030.0)) r(t, v)"""
    )
    assert w.con.sql("SELECT site_id, from_on FROM port_sites WHERE port_id = 'S1' ORDER BY 2 NULLS FIRST").fetchall() == [
        ("S", None), ("T", dt.date(2024, 6, 21))
    ]  # fmt: skip
    start, end = site_bills.utc_range(JUNE, JUNE)
    sql = load_profile.from_sessions_sql(start, end, meter="meter_readings")
    meter = w.con.sql(
        f"SELECT site_id, round(sum(power_kw) * 0.25, 9), round(max(power_kw), 9) FROM ({sql}) lp WHERE source = 'meter' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert meter == [("S", 10.0, 10.0), ("T", 20.0, 20.0)]
    # and billed only at the chosen site: S alone still gets its 10 kWh
    alone = w.con.sql(
        f"SELECT site_id, round(sum(power_kw) * 0.25, 9) FROM ({load_profile.from_sessions_sql(start, end, site_ids=['S'], meter='meter_readings')}) lp WHERE source = 'meter' GROUP BY 1"
    ).fetchall()
    assert alone == [("S", 10.0)]
    w.close()
