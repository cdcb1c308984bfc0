"""Bill engine: NREL-PySAM as oracle on every real URDB tariff, and hand-checked bills in exact cents."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from evrevops.formats.session_csv import read_sessions
from evrevops.formats.urdb import read_urdb
from evrevops.tariffs import load_profile
from evrevops.tariffs.billing import LINE_ITEMS, RateError, bills, parse_rate
from tests.helpers import real_data

from .pysam_oracle import pysam_bills

URDB = real_data.URDB  # the whole dataset, kept in the repository
ORACLE_TARIFFS = sorted(p for p in URDB.glob("*.json") if p.name != "manifest.json")
HALF_CENT = 0.005

# Documented places where PySAM's reading of a URDB record differs from evrevops' (handbook §11);
# each is checked by hand below instead of against PySAM.
FIXED_MONTHLY_ONLY = {"Entergy", "PECO", "Southern_California_Edison_Co_Time_of_Use"}  # PySAM bills $0 fixed
FIXED_PER_DAY = {"Pacific_Gas_Electric_Co_E_19"}  # PySAM: ×365/12; evrevops: × days in the month


def _tag(path: Path, tags: set[str]) -> bool:
    return any(path.name.startswith(t) for t in tags)


def _rate(path: Path) -> tuple[str, dict]:
    batch = read_urdb(path)
    assert batch.quarantine.num_rows == 0
    row = batch.tables["utility_tariffs"].to_pylist()[0]
    return row["utility_tariff_id"], json.loads(row["rate_json"])


@pytest.fixture(scope="module")
def boulder_2018():
    """Two real load profiles for 2018 on Mountain standard time (PySAM's calendar has no DST).

    ``network``: every Boulder, CO session of 2018 as one meter; ``site``: the busiest site alone.
    """
    sessions = read_sessions(
        real_data.full("boulder_co_2018_2020/Electric_Vehicle_Charging_Station_Energy_Consumption.csv")
    ).tables["sessions"]
    con = duckdb.connect()
    con.register("raw", sessions)
    con.sql(
        """CREATE TABLE sessions AS
           SELECT 'network' AS site_id, port_id, started_at, ended_at, charging_ended_at, energy_kwh FROM raw
           UNION ALL
           SELECT 'site', port_id, started_at, ended_at, charging_ended_at, energy_kwh FROM raw
           WHERE site_id = 'boulder:comm-vitality-1000walnut'"""
    )
    con.sql("CREATE TABLE ports (port_id VARCHAR, site_id VARCHAR, rated_kw DOUBLE)")
    con.sql(
        "CREATE TABLE sites AS SELECT * FROM (VALUES ('network', 'Etc/GMT+7'), ('site', 'Etc/GMT+7')) t(site_id, time_zone)"
    )
    start, end = dt.datetime(2018, 1, 1, 7), dt.datetime(2019, 1, 1, 7)
    con.sql(f"CREATE TABLE load AS {load_profile.from_sessions_sql(start, end, cdr_periods=False)}")
    dense = {}
    for site in ("network", "site"):
        rows = con.sql(
            f"SELECT CAST((epoch(interval_at) - epoch(TIMESTAMP '{start}')) / 900 AS BIGINT) AS i, power_kw "
            f"FROM load WHERE site_id = '{site}'"
        ).fetchnumpy()
        arr = np.zeros(8760 * 4)
        arr[rows["i"]] = rows["power_kw"]
        dense[site] = arr
    return con, dense


def test_real_load_profiles_keep_the_energy(boulder_2018):
    con, dense = boulder_2018
    kwh = con.sql(
        "SELECT site_id, sum(energy_kwh) FROM sessions WHERE started_at >= '2018-01-01 07:00' "
        "AND ended_at < '2019-01-01 07:00' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    for site, total in kwh:
        # sessions straddling the year's edges add a little on either side
        assert abs(dense[site].sum() * 0.25 - total) < 0.002 * total
    assert dense["network"].max() > 50 > dense["site"].max() > 5


@pytest.mark.parametrize("path", ORACLE_TARIFFS, ids=lambda p: p.name[:48])
def test_bills_agree_with_pysam_to_the_cent(boulder_2018, path):
    con, dense = boulder_2018
    tid, rate = _rate(path)
    ur = parse_rate(rate, tid)
    con.sql(f"CREATE OR REPLACE TABLE site_tariffs AS SELECT site_id, '{tid}' AS utility_tariff_id FROM sites")
    ours = bills(con, "load", "site_tariffs", [ur]).order("site_id, bill_month").fetchall()
    cols = bills(con, "load", "site_tariffs", [ur]).columns
    by_site: dict[str, list[dict]] = {}
    for row in ours:
        r = dict(zip(cols, row, strict=True))
        by_site.setdefault(r["site_id"], []).append(r)
    for site, months in by_site.items():
        assert len(months) == 12
        ref = pysam_bills(rate, dense[site])
        for m, r in enumerate(months):
            for line in LINE_ITEMS:
                got = float(r[f"{line}_exact"])
                want = ref[line][m]
                if line == "fixed_charge" and _tag(path, FIXED_MONTHLY_ONLY):
                    assert want == 0 and got == float(rate["fixedmonthlycharge"])
                elif line == "fixed_charge" and _tag(path, FIXED_PER_DAY):
                    days = (dt.date(2018 + (m == 11), (m + 1) % 12 + 1, 1) - dt.date(2018, m + 1, 1)).days
                    assert got == pytest.approx(float(Decimal(str(rate["fixedchargefirstmeter"])) * days), abs=1e-9)
                    assert want == pytest.approx(rate["fixedchargefirstmeter"] * 365 / 12, abs=1e-6)
                else:
                    assert abs(got - want) < HALF_CENT, (site, m + 1, line, got, want)
            # the bill adds up: total = sum of lines rounded to cents
            assert r["total_minor"] == sum(r[f"{line}_minor"] for line in LINE_ITEMS)
            if not _tag(path, FIXED_MONTHLY_ONLY | FIXED_PER_DAY):
                exact = sum(float(r[f"{line}_exact"]) for line in LINE_ITEMS)
                assert abs(exact - ref["total"][m]) < HALF_CENT
                assert abs(r["total_minor"] - round(ref["total"][m] * 100)) <= 2  # per-line rounding


def test_hand_edited_tariffs_ingest_and_bill(boulder_2018):
    con, _ = boulder_2018
    for path in sorted((URDB / "hand_edited_third_party").glob("*.json")):
        tid, rate = _rate(path)
        ur = parse_rate(rate, tid)
        assert ("demandreactivepowercharge", "reactive power at $0.52/kVAR is not billed") in ur.unsupported
        con.sql(f"CREATE OR REPLACE TABLE site_tariffs AS SELECT site_id, '{tid}' AS utility_tariff_id FROM sites")
        rows = bills(con, "load", "site_tariffs", [ur]).fetchall()
        assert len(rows) == 24


def test_unsupported_parts_are_listed():
    _, peco = _rate(next(URDB.glob("PECO_*.json")))
    assert [u[0] for u in parse_rate(peco).unsupported] == ["coincidentratestructure"]
    _, sce = _rate(URDB / "SCE_TOU_8_Option_D_Under_2_kV.json")
    assert [u[0] for u in parse_rate(sce).unsupported] == ["demandreactivepowercharge"]
    with pytest.raises(RateError, match="minchargeunits"):
        parse_rate({"label": "x", "fixedchargefirstmeter": 1, "mincharge": 5, "minchargeunits": "$/week"})


# ------------------------------------------------------------ hand-checked bills


def _flat_schedule(period: int = 0) -> list[list[int]]:
    return [[period] * 24 for _ in range(12)]


def _bill(rate: dict, load: list[tuple[str, str, float]], tz: str = "America/Denver") -> list[dict]:
    """Bill a list of (utc interval start, local interval start, kW) 15-minute intervals for site 'S'."""
    con = duckdb.connect()
    con.register(
        "load",
        pa.table(
            {
                "site_id": ["S"] * len(load),
                "interval_at": [dt.datetime.fromisoformat(u) for u, _, _ in load],
                "local_at": [dt.datetime.fromisoformat(loc) for _, loc, _ in load],
                "power_kw": [kw for _, _, kw in load],
            }
        ),
    )
    con.sql("CREATE TABLE st AS SELECT 'S' AS site_id, 'T' AS utility_tariff_id")
    rel = bills(con, "load", "st", [parse_rate(rate, "T")])
    return [dict(zip(rel.columns, r, strict=True)) for r in rel.order("bill_month").fetchall()]


def test_tiered_energy_tariff_exact_cents():
    """Hand-checked: tiers 0–500 kWh at $0.10, 500–1500 at $0.08, above at $0.06, $9.99/month fixed.

    2000 kWh in a month (80 kW for 100 intervals = 25 h): 500 × 0.10 + 1000 × 0.08 + 500 × 0.06 = $160.00;
    no demand charges; total $169.99.
    """
    rate = {
        "label": "tiered",
        "energyratestructure": [[{"max": 500, "rate": 0.10}, {"max": 1500, "rate": 0.08}, {"rate": 0.06}]],
        "energyweekdayschedule": _flat_schedule(),
        "energyweekendschedule": _flat_schedule(),
        "fixedchargefirstmeter": 9.99,
        "fixedchargeunits": "$/month",
    }
    t0 = dt.datetime(2025, 4, 1, 6)
    load = [
        ((t0 + dt.timedelta(minutes=15 * i)).isoformat(), (t0 + dt.timedelta(minutes=15 * i - 360)).isoformat(), 80.0)
        for i in range(100)
    ]
    (b,) = _bill(rate, load)
    assert b["energy_kwh"] == 2000
    assert b["energy_charge_minor"] == 16000
    assert b["fixed_charge_minor"] == 999
    assert b["total_minor"] == 16999


def test_tou_demand_charge_exact_cents():
    """Hand-checked TOU demand: on-peak (16:00–21:00 weekdays) $20/kW, other hours $5/kW, flat $3/kW.

    Tue 2025-07-15: 120 kW at 17:00–17:15 local (on-peak) and 150 kW at 02:00–02:15 (off-peak);
    a 30-minute demand window averages 17:00–17:30 to 60 kW and 02:00–02:30 to 75 kW.
    on-peak 60 × 20 = $1200.00; off-peak 75 × 5 = $375.00; flat 75 × 3 = $225.00;
    energy: 270 kW × 0.25 h = 67.5 kWh × $0.20 = $13.50; total $1813.50.
    """
    sched = [[1 if 16 <= h < 21 else 0 for h in range(24)] for _ in range(12)]
    rate = {
        "label": "tou-demand",
        "energyratestructure": [[{"rate": 0.20}], [{"rate": 0.20}]],
        "energyweekdayschedule": sched,
        "energyweekendschedule": _flat_schedule(),
        "demandratestructure": [[{"rate": 5}], [{"rate": 20}]],
        "demandweekdayschedule": sched,
        "demandweekendschedule": _flat_schedule(),
        "flatdemandstructure": [[{"rate": 3}]],
        "flatdemandmonths": [0] * 12,
        "demandwindow": 30,
    }
    load = [
        ("2025-07-15T23:00:00", "2025-07-15T17:00:00", 120.0),
        ("2025-07-15T08:00:00", "2025-07-15T02:00:00", 150.0),
    ]
    (b,) = _bill(rate, load)
    assert b["peak_kw"] == 75
    assert b["tou_demand_charge_minor"] == 120000 + 37500
    assert b["flat_demand_charge_minor"] == 22500
    assert b["energy_charge_minor"] == 1350
    assert b["total_minor"] == 181350


def test_dst_month_exact_cents():
    """Hand-checked DST month: March 2025 in Denver (spring forward on Sun 9 March, 02:00 → 03:00).

    A constant 10 kW all month from the load profile built from one session. The month has
    31 × 24 − 1 = 743 local hours = 2972 intervals, 7430 kWh. TOU: 17:00–21:00 every day at $0.30,
    other hours $0.10; 31 days × 4 h = 124 on-peak hours (1240 kWh), 619 off-peak hours (6190 kWh):
    1240 × 0.30 + 6190 × 0.10 = 372.00 + 619.00 = $991.00. Fixed $0.50/day × 31 = $15.50.
    Demand: flat $10/kW × 10 kW = $100.00. Total $1106.50.
    """
    sched = [[1 if 17 <= h < 21 else 0 for h in range(24)] for _ in range(12)]
    rate = {
        "label": "dst",
        "energyratestructure": [[{"rate": 0.10}], [{"rate": 0.30}]],
        "energyweekdayschedule": sched,
        "energyweekendschedule": sched,
        "flatdemandstructure": [[{"rate": 10}]],
        "fixedchargefirstmeter": 0.5,
        "fixedchargeunits": "$/day",
    }
    con = duckdb.connect()
    start = dt.datetime(2025, 3, 1, 7)  # local midnight MST
    end = dt.datetime(2025, 4, 1, 6)  # local midnight MDT
    con.sql(
        f"""CREATE TABLE sessions AS SELECT 'S' AS site_id, 'P' AS port_id, TIMESTAMP '{start}' AS started_at,
            TIMESTAMP '{end}' AS ended_at, NULL::TIMESTAMP AS charging_ended_at, 7430.0 AS energy_kwh"""
    )
    con.sql("CREATE TABLE ports AS SELECT 'P' AS port_id, 'S' AS site_id, 11.0 AS rated_kw")
    con.sql("CREATE TABLE sites AS SELECT 'S' AS site_id, 'America/Denver' AS time_zone")
    con.sql(f"CREATE TABLE load AS {load_profile.from_sessions_sql(start, end, cdr_periods=False)}")
    assert con.sql("SELECT count(*), round(min(power_kw), 9), round(max(power_kw), 9) FROM load").fetchall() == [
        (2972, 10.0, 10.0)
    ]
    # the spring-forward day has 92 intervals on the wall clock
    assert con.sql("SELECT count(*) FROM load WHERE CAST(local_at AS DATE) = DATE '2025-03-09'").fetchall() == [(92,)]
    con.sql("CREATE TABLE st AS SELECT 'S' AS site_id, 'dst' AS utility_tariff_id")
    rel = bills(con, "load", "st", [parse_rate(rate, "dst")])
    (b,) = [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]
    assert b["energy_kwh"] == pytest.approx(7430)
    assert b["energy_charge_minor"] == 99100
    assert b["fixed_charge_minor"] == 1550
    assert b["flat_demand_charge_minor"] == 10000
    assert b["total_minor"] == 110650


def test_minimum_charge_lifts_the_bill():
    rate = {
        "label": "min",
        "energyratestructure": [[{"rate": 0.10}]],
        "energyweekdayschedule": _flat_schedule(),
        "energyweekendschedule": _flat_schedule(),
        "fixedchargefirstmeter": 20,
        "mincharge": 100,
        "minchargeunits": "$/month",
    }
    (b,) = _bill(rate, [("2025-01-10T12:00:00", "2025-01-10T05:00:00", 40.0)])  # 10 kWh → $1.00
    assert (b["energy_charge_minor"], b["fixed_charge_minor"], b["minimum_charge_adjustment_minor"]) == (
        100,
        2000,
        7900,
    )
    assert b["total_minor"] == 10000


def test_profile_follows_cdr_charging_periods_capped_at_rating():
    """A CDR charging in two periods: 30 kWh in its first 30 min, then 10 kWh over an hour from 15:00.

    The port is rated 50 kW, so the first 30 kWh take 36 min at 50 kW: 14:00 and 14:15 at 50 kW,
    14:30 at 50 × 6/15 = 20 kW; then 15:00–16:00 at 10 kW. A one-period CDR keeps constant power.
    """
    periods = json.dumps(
        [
            {
                "start_date_time": "2024-06-03T14:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 30}, {"type": "TIME", "volume": 0.5}],
            },
            {"start_date_time": "2024-06-03T14:30:00Z", "dimensions": [{"type": "PARKING_TIME", "volume": 0.5}]},
            {
                "start_date_time": "2024-06-03T15:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 10}, {"type": "TIME", "volume": 1}],
            },
        ]
    )
    one = json.dumps(
        [
            {
                "start_date_time": "2024-06-04T14:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 20}, {"type": "TIME", "volume": 1}],
            }
        ]
    )
    con = duckdb.connect()
    con.sql(
        f"""CREATE TABLE sessions AS SELECT * FROM (VALUES
            ('m', 'S', 'P', TIMESTAMP '2024-06-03 14:00', TIMESTAMP '2024-06-03 16:00', NULL::TIMESTAMP, 40.0, '{periods}'),
            ('o', 'S', 'P', TIMESTAMP '2024-06-04 14:00', TIMESTAMP '2024-06-04 15:00', NULL::TIMESTAMP, 20.0, '{one}'))
            t(session_id, site_id, port_id, started_at, ended_at, charging_ended_at, energy_kwh, charging_periods)"""
    )
    con.sql("CREATE TABLE ports AS SELECT 'P' AS port_id, 'S' AS site_id, 50.0 AS rated_kw")
    con.sql("CREATE TABLE sites AS SELECT 'S' AS site_id, 'UTC' AS time_zone")
    sql = load_profile.from_sessions_sql(dt.datetime(2024, 6, 3), dt.datetime(2024, 6, 5))
    rows = con.sql(f"SELECT strftime(interval_at, '%d %H:%M'), round(power_kw, 9) FROM ({sql}) ORDER BY 1").fetchall()
    assert rows == [
        ("03 14:00", 50.0), ("03 14:15", 50.0), ("03 14:30", 20.0),
        ("03 15:00", 10.0), ("03 15:15", 10.0), ("03 15:30", 10.0), ("03 15:45", 10.0),
        ("04 14:00", 20.0), ("04 14:15", 20.0), ("04 14:30", 20.0), ("04 14:45", 20.0),
    ]  # fmt: skip


def test_urdb_gaps_pysam_reads_differently_by_hand():
    """Where PySAM drops or zeroes a part (handbook §11), evrevops bills the URDB meaning, by hand.

    * ``fixedchargeunits`` missing → $/month: $25.00 (PySAM drops the fixed charge);
    * ``flatdemandmonths`` missing → period 0 every month: 100 kW × $8 = $800.00 (PySAM: $0);
    * a capped last tier (max 1,000 kWh) → usage above it at the last tier's price:
      1,000 × 0.10 + 1,000 × 0.10 = $200.00 for 2,000 kWh (PySAM bills the second 1,000 at $0);
    * tier limits that differ by period (PySAM refuses the tariff): each period's own limits on the
      month total, in proportion: period 0 (limit 500) holds 1,500 of the 2,000 kWh, period 1
      (limit 1,500) 500; month total 2,000 → period 0: 0.75 × (500 × 0.10 + 1,500 × 0.20) = 262.50,
      period 1: 0.25 × (1,500 × 0.10 + 500 × 0.20) = 62.50 → $325.00.
    """
    sched = [[0] * 24 for _ in range(12)]
    base = {"energyweekdayschedule": sched, "energyweekendschedule": sched}
    t0 = dt.datetime(2025, 4, 1, 6)

    def load(kw: float, n: int, offset: int = 0):
        return [
            (
                (t0 + dt.timedelta(minutes=15 * (i + offset))).isoformat(),
                (t0 + dt.timedelta(minutes=15 * (i + offset) - 360)).isoformat(),
                kw,
            )
            for i in range(n)
        ]

    rate = {
        "label": "gaps",
        **base,
        "energyratestructure": [[{"max": 1000, "rate": 0.10}]],
        "flatdemandstructure": [[{"rate": 8}]],
        "fixedchargefirstmeter": 25,
    }
    parsed = parse_rate(rate)
    assert any("fixedchargeunits missing" in n for n in parsed.notes)
    assert any("flatdemandmonths missing" in n for n in parsed.notes)
    assert any("last tier has max 1000" in n for n in parsed.notes)
    (b,) = _bill(rate, load(100.0, 80))  # 100 kW × 20 h = 2,000 kWh
    assert (b["energy_charge_minor"], b["flat_demand_charge_minor"], b["fixed_charge_minor"]) == (20000, 80000, 2500)

    sched2 = [[0 if h < 12 else 1 for h in range(24)] for _ in range(12)]
    rate2 = {
        "label": "tiers-by-period",
        "energyweekdayschedule": sched2,
        "energyweekendschedule": sched2,
        "energyratestructure": [
            [{"max": 500, "rate": 0.10}, {"rate": 0.20}],
            [{"max": 1500, "rate": 0.10}, {"rate": 0.20}],
        ],
    }
    # 1 April 2025 local: 00:00–12:00 is period 0, 12:00–24:00 period 1; 125 kW for 12 h = 1,500 kWh in
    # period 0, then 125 kW for 4 h from 12:00 = 500 kWh in period 1
    (b2,) = _bill(rate2, load(125.0, 48) + load(125.0, 16, offset=48))
    assert b2["energy_kwh"] == 2000
    assert b2["energy_charge_minor"] == 32500


def test_profile_from_meter_registers_beats_sessions():
    """Port M1 has register readings, so its sessions are ignored; port P2 has none.

    M1: 1,000,000 Wh at 10:00, 1,010,000 at 10:30 (also logged by Transaction.End at the same
    instant), unchanged at 12:00, 1,012,000 at 12:10, then a replaced meter reading 5 Wh at 13:00:
    10 kWh over 10:00–10:30 → 20 kW in two intervals; 2 kWh over 12:00–12:10 → 12 kW for 10 of
    the 15 minutes = 8 kW; the drop adds nothing. M2 reads in kWh: 0 → 5 over 13:00–13:15 → 20 kW.
    P2's session: 10 kWh 10:00–11:00 → 10 kW for four intervals.
    """
    con = duckdb.connect()
    con.sql(
        """CREATE TABLE meter_readings AS SELECT * FROM (VALUES
            ('M1', TIMESTAMP '2024-06-03 10:00', 'Energy.Active.Import.Register', NULL, 1000000.0, 'Wh'),
            ('M1', TIMESTAMP '2024-06-03 10:30', 'Energy.Active.Import.Register', NULL, 1010000.0, 'Wh'),
            ('M1', TIMESTAMP '2024-06-03 10:30', 'Energy.Active.Import.Register', NULL, 1010000.0, 'Wh'),
            ('M1', TIMESTAMP '2024-06-03 10:30', 'Power.Active.Import', NULL, 20000.0, 'W'),
            ('M1', TIMESTAMP '2024-06-03 12:00', 'Energy.Active.Import.Register', NULL, 1010000.0, 'Wh'),
            ('M1', TIMESTAMP '2024-06-03 12:10', 'Energy.Active.Import.Register', NULL, 1012000.0, 'Wh'),
            ('M1', TIMESTAMP '2024-06-03 13:00', 'Energy.Active.Import.Register', NULL, 5.0, 'Wh'),
            ('M2', TIMESTAMP '2024-06-03 13:00', 'Energy.Active.Import.Register', NULL, 0.0, 'kWh'),
            ('M2', TIMESTAMP '2024-06-03 13:15', 'Energy.Active.Import.Register', NULL, 5.0, 'kWh'))
            t(port_id, observed_at, measurand, phase, value, unit)"""
    )
    con.sql(
        """CREATE TABLE sessions AS SELECT * FROM (VALUES
            ('a', 'S', 'M1', TIMESTAMP '2024-06-03 10:00', TIMESTAMP '2024-06-03 11:00', NULL::TIMESTAMP, 99.0, NULL),
            ('b', 'S', 'P2', TIMESTAMP '2024-06-03 10:00', TIMESTAMP '2024-06-03 11:00', NULL::TIMESTAMP, 10.0, NULL))
            t(session_id, site_id, port_id, started_at, ended_at, charging_ended_at, energy_kwh, charging_periods)"""
    )
    con.sql(
        "CREATE TABLE ports AS SELECT * FROM (VALUES ('M1', 'S', 50.0), ('M2', 'S', 50.0), ('P2', 'S', 50.0)) t(port_id, site_id, rated_kw)"
    )
    con.sql("CREATE TABLE sites AS SELECT 'S' AS site_id, 'UTC' AS time_zone")
    # where each port was (the warehouse's port_sites view): at S throughout
    con.sql("CREATE VIEW port_sites AS SELECT port_id, site_id, NULL::DATE AS from_on, NULL::DATE AS to_on FROM ports")
    sql = load_profile.from_sessions_sql(dt.datetime(2024, 6, 3), dt.datetime(2024, 6, 4), meter="meter_readings")
    rows = con.sql(f"SELECT strftime(interval_at, '%H:%M'), round(power_kw, 9) FROM ({sql}) ORDER BY 1").fetchall()
    assert rows == [("10:00", 30.0), ("10:15", 30.0), ("10:30", 10.0), ("10:45", 10.0), ("12:00", 8.0), ("13:00", 20.0)]


def test_a_rate_that_is_not_a_number_is_named():
    sched = [[0] * 24 for _ in range(12)]
    rate = {"label": "x", "energyratestructure": [[{"rate": "0.1o"}]], "energyweekdayschedule": sched,
            "energyweekendschedule": sched}  # fmt: skip
    with pytest.raises(RateError, match=r"energyratestructure\[0\]\[0\]\.rate: not a number"):
        parse_rate(rate)


def test_sessions_with_energy_but_no_charging_time_are_reported_not_placed():
    con = duckdb.connect()
    con.sql(
        """CREATE TABLE sessions AS SELECT * FROM (VALUES
            ('S', 'P', TIMESTAMP '2024-06-03 10:00', TIMESTAMP '2024-06-03 11:00', TIMESTAMP '2024-06-03 10:00', 7.0),
            ('S', 'P', TIMESTAMP '2024-06-03 12:00', TIMESTAMP '2024-06-03 13:00', NULL::TIMESTAMP, 5.0))
            t(site_id, port_id, started_at, ended_at, charging_ended_at, energy_kwh)"""
    )
    con.sql("CREATE TABLE ports AS SELECT 'P' AS port_id, 'S' AS site_id, 50.0 AS rated_kw")
    con.sql("CREATE TABLE sites AS SELECT 'S' AS site_id, 'UTC' AS time_zone")
    start, end = dt.datetime(2024, 6, 3), dt.datetime(2024, 6, 4)
    assert load_profile.unplaced(con, start, end).fetchall() == [("S", 1, 7.0)]
    sql = load_profile.from_sessions_sql(start, end, cdr_periods=False)
    assert con.sql(f"SELECT round(sum(power_kw) * 0.25, 9) FROM ({sql})").fetchall() == [(5.0,)]
