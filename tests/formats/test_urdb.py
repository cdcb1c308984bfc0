"""URDB reader: every real tariff ingests with the manifest's flags; structural defects are quarantined."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from decimal import Decimal

import pytest

from evrevops.formats import detect, read
from evrevops.formats.json_records import canonical_json
from evrevops.formats.urdb import epoch_date, read_urdb
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from tests.helpers import real_data

URDB = real_data.URDB  # the whole dataset, kept in the repository
MANIFEST = json.loads((URDB / "manifest.json").read_text(), parse_float=Decimal)
BEV = "PGE_BEV_2_S_2025_09_08.json"
SCE_EV9 = "hand_edited_third_party/SCE_TOU_EV_9_below_2kV_2025_09_08_Neat.json"
SDGE_EV = "hand_edited_third_party/SDGE_EV_HP_EECC_CPP_D_2025_09_08_Neat.json"


def record(name: str) -> dict:
    doc = json.loads((URDB / name).read_text(), parse_float=Decimal)
    return doc["items"][0] if "items" in doc else doc


def qmap(batch) -> dict[tuple[int, str | None], str]:
    return {(r["source_record"], r["field"]): r["reason"] for r in batch.quarantine.to_pylist()}


def test_manifest_lists_every_file():
    files = {e["file"] for e in MANIFEST}
    on_disk = {str(p.relative_to(URDB)) for p in URDB.rglob("*.json") if p.name != "manifest.json"}
    assert files == on_disk and len(files) == 17


@pytest.mark.parametrize("entry", MANIFEST, ids=lambda e: e["file"].split("/")[-1][:40])
def test_every_real_tariff_ingests_with_the_manifest_flags(entry):
    p = URDB / entry["file"]
    assert detect(p) == ("urdb", None)
    b = read(p)
    assert b.records_read == 1 and b.quarantine.num_rows == 0, b.quarantine.to_pylist()
    (row,) = b.tables["utility_tariffs"].to_pylist()
    assert row["utility_tariff_id"] == entry["label"]
    assert (row["utility"], row["name"], row["sector"]) == (entry["utility"], entry["name"], entry["sector"])
    assert row["has_tou_demand"] is entry["tou_demand"]
    assert row["has_flat_demand"] is entry["flat_demand"]
    src = record(entry["file"])
    assert json.loads(row["rate_json"], parse_float=Decimal) == src
    assert row["rate_json"] == canonical_json(src)
    assert row["fixed_charge_units"] == src.get("fixedchargeunits", "$/month")
    assert row["demand_window_min"] == int(src.get("demandwindow", 15))
    assert row["eiaid"] == int(src["eiaid"])
    assert row["start_on"] == epoch_date(entry["startdate"])


def test_dates_defaults_and_units():
    rows = {}
    for e in MANIFEST:
        (row,) = read(URDB / e["file"]).tables["utility_tariffs"].to_pylist()
        rows[e["file"].split("/")[-1].split("_")[0] + ":" + e["label"][:6]] = row
    # local-midnight epochs of several zones all land on the date meant
    assert rows["PGE:675752"]["start_on"] == dt.date(2024, 10, 1)  # 06:00Z (Mountain)
    assert rows["San:6772f0"]["start_on"] == dt.date(2024, 10, 1)  # 23:00Z the evening before
    assert rows["Florida:6776fc"]["start_on"] == dt.date(2025, 1, 1)  # 08:00Z (Pacific)
    assert rows["Virginia:64fa78"]["end_on"] == dt.date(2023, 12, 31)
    assert rows["PECO:53ac8d"]["eiaid"] == 14940 and rows["PECO:53ac8d"]["start_on"] == dt.date(2014, 6, 1)  # floats
    # older records: fixedmonthlycharge and no fixedchargeunits → $/month; demandwindow stated → kept
    assert (
        rows["Entergy:5a592c"]["fixed_charge_units"] == "$/month" and rows["Entergy:5a592c"]["demand_window_min"] == 15
    )
    assert rows["Pacific:5cef0a"]["fixed_charge_units"] == "$/day"


def test_known_but_unbillable_features_are_accepted():
    peco = read(URDB / "PECO_Energy_Co_GS_HT_HIGH_TENSION_POWER_Procurement_3__53ac8daa5257a3406ac32a35.json")
    (row,) = peco.tables["utility_tariffs"].to_pylist()
    assert '"coincidentratestructure":[[{"rate":0.79}]]' in row["rate_json"]
    (row,) = read(URDB / BEV).tables["utility_tariffs"].to_pylist()
    assert '"demandreactivepowercharge":0.52' in row["rate_json"]


def test_hand_edited_copies_ingest_but_share_the_bev_label():
    ids = {
        f: read(URDB / f).tables["utility_tariffs"].column("utility_tariff_id").to_pylist()[0]
        for f in (BEV, SCE_EV9, SDGE_EV)
    }
    assert set(ids.values()) == {"6757525f259975f54b0eccbf"}


def test_same_label_different_content_in_one_file_gets_unique_ids(tmp_path):
    recs = [record(BEV), record(SCE_EV9), record(SDGE_EV), record(BEV)]
    p = tmp_path / "urdb_bundle.json"
    p.write_text('{"items": [' + ",".join(canonical_json(r) for r in recs) + "]}")
    b = read(p)
    assert b.records_read == 4 and b.quarantine.num_rows == 0
    ids = b.tables["utility_tariffs"].column("utility_tariff_id").to_pylist()
    digests = [hashlib.sha256(canonical_json(r).encode()).hexdigest()[:8] for r in recs]
    assert ids == [f"6757525f259975f54b0eccbf#{d}" for d in digests]
    assert ids[0] == ids[3] and len(set(ids)) == 3  # an identical repeat keeps its id (the loader marks it duplicate)
    # the id does not depend on the order of the records
    p2 = tmp_path / "urdb_bundle_reversed.json"
    p2.write_text('{"items": [' + ",".join(canonical_json(r) for r in reversed(recs)) + "]}")
    assert sorted(read(p2).tables["utility_tariffs"].column("utility_tariff_id").to_pylist()) == sorted(ids)


def test_across_files_the_loader_replaces(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    r1 = ingest_file(wh, URDB / BEV)
    r2 = ingest_file(wh, URDB / SCE_EV9)
    assert (r1.accepted, r2.accepted, r2.replaced) == (1, 1, 1)
    assert wh.con.execute("SELECT utility FROM utility_tariffs").fetchall() == [("Southern California Edison Co",)]
    wh.close()


def test_manifest_is_not_loaded_as_tariffs():
    b = read(URDB / "manifest.json")
    assert b.format == "urdb" and b.records_read == 17
    assert b.tables["utility_tariffs"].num_rows == 0
    assert {r["reason"] for r in b.quarantine.to_pylist()} == {
        "not a URDB rate: no energyratestructure, demandratestructure, flatdemandstructure or fixed charge"
    }


def _mutations():
    def setp(path, value):
        def f(r):
            *head, last = path
            obj = r
            for k in head:
                obj = obj[k]
            if value is KeyError:
                del obj[last]
            else:
                obj[last] = value

        return f

    return [
        (setp(["label"], KeyError), "label", "missing URDB label"),
        (
            setp(["energyweekdayschedule", 6, 17], 5),
            "energyweekdayschedule[6][17]",
            "period 5 is not an index of energyratestructure (5 periods)",
        ),
        (
            setp(["energyweekdayschedule", 6, 17], -1),
            "energyweekdayschedule[6][17]",
            "period -1 is not an index of energyratestructure (5 periods)",
        ),
        (
            setp(["energyweekdayschedule", 3], [0] * 23),
            "energyweekdayschedule[3]",
            "a month row must be 24 period indexes, got " + json.dumps([0] * 23, separators=(",", ":")),
        ),
        (
            lambda r: r["energyweekendschedule"].pop(),
            "energyweekendschedule",
            "a schedule must be 12 rows (months) of 24 hours, got " + "[[",
        ),
        (
            setp(["demandweekdayschedule", 0, 0], "1"),
            "demandweekdayschedule[0][0]",
            "period '1' is not an index of demandratestructure (4 periods)",
        ),
        (
            setp(["demandweekendschedule"], KeyError),
            "demandweekendschedule",
            "demandratestructure has no demandweekendschedule",
        ),
        (
            setp(["energyratestructure", 2], []),
            "energyratestructure[2]",
            "a period must be a non-empty list of tiers, got []",
        ),
        (
            setp(["energyratestructure", 0, 0, "rate"], "0.1"),
            "energyratestructure[0][0].rate",
            "rate must be a number, got '0.1'",
        ),
        (
            setp(["demandratestructure", 1, 0], {"unit": "kW"}),
            "demandratestructure[1][0]",
            "a tier needs a rate (or adj)",
        ),
        (
            setp(["energyratestructure", 0], [{"rate": 0.1}, {"rate": 0.2, "max": 100}]),
            "energyratestructure[0][0].max",
            "only the last tier may have no max",
        ),
        (
            setp(["energyratestructure", 0], [{"rate": 0.1, "max": 500}, {"rate": 0.2, "max": 100}]),
            "energyratestructure[0][1].max",
            "tier limits must increase: 100 after 500",
        ),
        (
            setp(["flatdemandmonths", 11], 2),
            "flatdemandmonths[11]",
            "period 2 is not an index of flatdemandstructure (2 periods)",
        ),
        (
            setp(["flatdemandmonths"], [0] * 11),
            "flatdemandmonths",
            "flatdemandmonths must be 12 period indexes, got " + json.dumps([0] * 11, separators=(",", ":")),
        ),
        (
            setp(["fixedchargeunits"], "$/week"),
            "fixedchargeunits",
            "fixedchargeunits must be one of $/month|$/day|$/year, got '$/week'",
        ),
        (setp(["demandwindow"], 0), "demandwindow", "demandwindow must be a whole number of minutes > 0, got 0"),
        (setp(["enddate"], 1500000000), "enddate", "enddate 2017-07-14 is before startdate 2019-05-01"),
        (setp(["startdate"], "2019-05-01"), "startdate", "not epoch seconds: '2019-05-01'"),
        (setp(["eiaid"], "PG&E"), "eiaid", "eiaid must be an integer, got 'PG&E'"),
        (
            setp(["coincidentschedule"], [[0] * 24] * 12),
            "coincidentschedule",
            "coincidentschedule without coincidentratestructure",
        ),
    ]


E19 = "Pacific_Gas_Electric_Co_E_19_Medium_General_Demand_TOU_Secondary__5cef0a415457a33576f60fe2.json"


@pytest.mark.parametrize(("mutate", "field", "reason"), _mutations(), ids=lambda x: x if isinstance(x, str) else "")
def test_structural_defects_quarantine_with_the_field_path(tmp_path, mutate, field, reason):
    good = record(E19)
    bad = copy.deepcopy(good)
    mutate(bad)
    p = tmp_path / "rates.ndjson"
    p.write_text(canonical_json(good) + "\n" + canonical_json(bad) + "\n")
    b = read_urdb(p)
    q = qmap(b)
    assert (2, field) in q, q
    assert q[(2, field)].startswith(reason) if reason.endswith("[[") else q[(2, field)] == reason
    assert b.tables["utility_tariffs"].column("source_record").to_pylist() == [1]


def test_bare_object_array_and_items(tmp_path):
    rec = canonical_json(record(E19))
    for name, text in [("bare.json", rec), ("arr.json", f"[{rec}, {rec}]"), ("items.json", f'{{"items": [{rec}]}}')]:
        p = tmp_path / name
        p.write_text(text)
        assert detect(p) == ("urdb", None)
        b = read(p)
        assert b.tables["utility_tariffs"].num_rows == b.records_read == (2 if name == "arr.json" else 1)


@pytest.mark.parametrize(
    ("seconds", "date"),
    [
        (1727762400, dt.date(2024, 10, 1)),  # 2024-10-01 00:00 MDT
        (1727737200, dt.date(2024, 10, 1)),  # 2024-09-30 23:00Z
        (1735718400, dt.date(2025, 1, 1)),  # 2025-01-01 00:00 PST
        (Decimal("1401580800.0"), dt.date(2014, 6, 1)),
        (1514764800, dt.date(2018, 1, 1)),
    ],
)
def test_epoch_date(seconds, date):
    assert epoch_date(seconds) == date
