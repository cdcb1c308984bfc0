"""Parity: the load profile and the utility bills on DuckDB and on local-mode Spark, the same SQL text.

A generated demo network (February and March 2025: the US spring-forward month; five zones,
Phoenix without DST) with OCPP meter registers on some ports and CDRs that charged in
several periods. Its eleven sites are on demo tariffs (TOU energy, flat demand, fixed charges in
$/month and $/day) or moved onto real URDB tariffs (PG&E E-19: TOU energy, TOU and flat demand,
$/day; SCE TOU-8; FPL GSLD-1, with a monthly minimum), onto E-19 with a 30-minute demand window
(the block-average path) and onto the demo's tiered tariff at a site that crosses its tier. One
more site moves onto E-19 on 16 March: its March is billed in two parts, each prorated by its
days (16/31 and 15/31 of a month). The warehouse is exported to Parquet and read by a local Spark
session.

Equal means: the same rows (site, interval, source; site and month) and the same integers — every
bill line in cents and the total; float columns (kW, kWh) to 1e-9 relative: they are sums of
DOUBLEs, which the engines add in different orders (the differences are in the last digits);
the exact DECIMAL lines to 1e-9 USD, as they come from those kWh (cast to 12 places).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path

import pytest

from evrevops.formats import input_files
from evrevops.metrics import facts as _facts
from evrevops.metrics import sources
from evrevops.tariffs import load_profile, site_bills
from evrevops.tariffs.billing import LINE_ITEMS
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.export import export_parquet
from evrevops.warehouse.loader import ingest_file
from evrevops.warehouse.site_tariff import set_site_tariff
from evrevops.warehouse.spark import SparkWarehouse
from tests.helpers import real_data

FIRST, LAST = dt.date(2025, 2, 1), dt.date(2025, 3, 1)
REL = 1e-9  # float columns: sums of DOUBLEs in another order
EXACT_USD = Decimal("1e-9")  # exact lines: from those kWh, cast to 12 places
URDB = {
    "e19": "Pacific_Gas_Electric_Co_E_19_Medium_General_Demand_TOU_Secondary__5cef0a415457a33576f60fe2.json",
    "tou8": "SCE_TOU_8_Option_D_Under_2_kV.json",
    "minimum": "Florida_Power_Light_Co_GSLD_1_General_Service_Large_Demand_.json",  # a $6,833.67 monthly minimum
}
SPLIT = ("SITE-00005", dt.date(2025, 3, 16))  # a tariff change on the 16th of a 31-day month
TIERED = "demo-central-lgs-tiered"  # energy tiers: the first 15,000 kWh of a month at one rate, the rest at another


def _real_tariff(name: str, tmp: Path, **edit) -> tuple[Path, str]:
    """A real URDB record as a file to ingest (optionally edited and relabelled), and its tariff id."""
    rec = json.loads((real_data.URDB / name).read_text())
    item = rec["items"][0] if "items" in rec else rec
    item.update(edit)
    path = tmp / f"urdb-{Path(name).stem[:40]}-{len(edit)}.json"
    path.write_text(json.dumps({"items": [item]}))
    return path, item["label"]


@pytest.fixture(scope="module")
def engines(tmp_path_factory, spark_base, demo_networks):
    tmp = tmp_path_factory.mktemp("spark-bills")
    net = demo_networks.files(ports=30, months=2, seed=11, end_month="2025-03")
    duck = open_warehouse(tmp / "w.duckdb")
    files = list(input_files([net]))
    e19, e19_id = _real_tariff(URDB["e19"], tmp)
    tou8, tou8_id = _real_tariff(URDB["tou8"], tmp)
    e19_30, e19_30_id = _real_tariff(URDB["e19"], tmp, label="e19-30-minute-window", demandwindow=30)
    minimum, minimum_id = _real_tariff(URDB["minimum"], tmp)
    for f in [*files, e19, tou8, e19_30, minimum]:
        assert ingest_file(duck, f).quarantined == 0, f
    # the demo is the same for the same arguments: these sites draw enough to cross tiers and minimums
    moved = {"SITE-00001": e19_id, "SITE-00002": tou8_id, "SITE-00003": TIERED, "SITE-00004": minimum_id,
             "SITE-00007": e19_30_id}  # fmt: skip
    for site, tid in moved.items():
        set_site_tariff(duck, site, tid, FIRST)  # from the first month billed: both months under it
    set_site_tariff(duck, SPLIT[0], e19_id, SPLIT[1])  # a change within March: two parts
    export_parquet(duck, tmp / "export")
    spark = SparkWarehouse(tmp / "export", session=spark_base.newSession())
    yield duck, spark, moved
    spark.close()
    duck.close()


def _close(a, b, rel: float = REL) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
    return a == b


def _naive(t: dt.datetime | None) -> dt.datetime | None:
    # Spark's timestamps may come back zoned (UTC) where DuckDB's are naive UTC
    return t.replace(tzinfo=None) if t is not None and t.tzinfo is not None else t


def _profile_is_equal(duck, spark) -> None:
    start, end = site_bills.utc_range(FIRST, LAST)
    q = f"""SELECT * FROM ({load_profile.from_sessions_sql(start, end, meter="meter_readings")}) lp
            ORDER BY site_id, interval_at, source"""
    d, s = duck.fetch(q).to_pylist(), spark.fetch(q).to_pylist()
    assert len(d) == len(s) > 10_000
    assert {r["source"] for r in d} == {"meter", "sessions"}
    for x, y in zip(d, s, strict=True):
        key = (x["site_id"], x["interval_at"], x["source"], x["local_at"])
        assert key == (y["site_id"], _naive(y["interval_at"]), y["source"], _naive(y["local_at"])), (x, y)
        assert _close(x["power_kw"], y["power_kw"]), (x, y)
    # the wall clock follows DST: a New York site is 5 h behind UTC in February, 4 h after 9 March
    ny = duck.fetch("SELECT site_id FROM sites WHERE time_zone = 'America/New_York' ORDER BY 1 LIMIT 1").to_pylist()
    offsets = {(_naive(r["interval_at"]) - _naive(r["local_at"])) for r in s if r["site_id"] == ny[0]["site_id"]}
    assert offsets == {dt.timedelta(hours=5), dt.timedelta(hours=4)}


def _bills_are_equal(duck, spark, moved: dict[str, str]) -> None:
    d = site_bills.month_bills(duck, FIRST, LAST).to_pylist()
    s = site_bills.month_bills(spark, FIRST, LAST).to_pylist()
    assert len(d) == len(s) >= 15
    for x, y in zip(d, s, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            if k.endswith("_exact"):
                assert abs(Decimal(x[k]) - Decimal(y[k])) <= EXACT_USD, (x["site_id"], x["bill_month"], k, x[k], y[k])
            else:
                assert _close(x[k], y[k]), (x["site_id"], x["bill_month"], k, x[k], y[k])
        assert y["total_minor"] == sum(y[f"{line}_minor"] for line in LINE_ITEMS)
    # the bills have every kind of line in them, and the real tariffs (one with a 30-minute window) billed
    for line in LINE_ITEMS:
        assert sum(r[f"{line}_minor"] for r in d) > 0, line
    assert set(moved.items()) <= {(r["site_id"], r["utility_tariff_id"]) for r in s}
    on = {tid: [r for r in d if r["utility_tariff_id"] == tid] for tid in moved.values()}
    assert all(r["energy_kwh"] > 0 and r["tou_demand_charge_minor"] > 0 for r in on[moved["SITE-00001"]])  # E-19
    assert any(r["energy_kwh"] > 15_000 for r in on[TIERED])  # past the first tier
    assert any(r["minimum_charge_adjustment_minor"] > 0 for r in on[moved["SITE-00004"]])
    assert all(r["peak_kw"] > 0 for r in on[moved["SITE-00007"]])  # 30-minute blocks
    assert {r["bill_month"] for r in s} == {FIRST, LAST}
    # the split month: two parts, each with its days, on both engines alike
    split = [(r["first_on"], r["last_on"]) for r in s if r["site_id"] == SPLIT[0] and r["bill_month"] == LAST]
    assert split == [(LAST, SPLIT[1] - dt.timedelta(days=1)), (SPLIT[1], dt.date(2025, 3, 31))]


def _bill_fact_is_equal(duck, spark) -> None:
    lo, hi = FIRST, dt.date(2025, 3, 31)
    rows = []
    for wh in (duck, spark):
        f = _facts.build(wh, lo, hi, {"revenue_minor", "energy_kwh", "ports"})
        t = sources.bill_fact(wh, f).to_pyarrow().to_pylist()
        rows.append(sorted(t, key=lambda r: (r["site_id"], r["month"], r["bill_total_minor"])))
    d, s = rows
    assert len(d) == len(s) >= 15
    for x, y in zip(d, s, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            assert _close(x[k], y[k]), (x["site_id"], x["month"], k, x[k], y[k])
    assert sum(r["bill_demand_charge_minor"] for r in d) > 0
    assert sum(r["billed_revenue_minor"] for r in d) > 0


def test_load_profile_bills_and_bill_fact_are_equal_on_spark(engines):
    """One test (three checks), so that pytest-xdist runs it on one worker: one Spark session, one fixture."""
    duck, spark, moved = engines
    _profile_is_equal(duck, spark)
    _bills_are_equal(duck, spark, moved)
    _bill_fact_is_equal(duck, spark)
