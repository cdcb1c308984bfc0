"""OCPI 2.2.1 Tariffs reader: every conformance tariff parses; exact prices; quarantine paths."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from evrevops.formats import detect, read
from evrevops.formats.json_records import canonical_json
from evrevops.formats.ocpi_tariffs import read_tariffs
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from tests.helpers import real_data

CONFORMANCE = real_data.TANDEMDRIVE  # kept in the repository
CASES = sorted(p.parent.name for p in CONFORMANCE.glob("*/tariff.json"))


def tariff(**overrides) -> dict:
    base = {
        "country_code": "US",
        "party_id": "EVR",
        "id": "T1",
        "currency": "USD",
        "elements": [{"price_components": [{"type": "ENERGY", "price": Decimal("0.45"), "step_size": 1}]}],
        "last_updated": "2025-01-01T00:00:00Z",
    }
    for k, v in overrides.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return base


def dumps(obj) -> str:
    return json.dumps(obj, default=lambda d: float(d) if isinstance(d, Decimal) else d)


def write(path: Path, *tariffs: dict) -> Path:
    path.write_text("\n".join(dumps(t) for t in tariffs) + "\n")
    return path


def qmap(batch) -> dict[tuple[int, str | None], str]:
    return {(r["source_record"], r["field"]): r["reason"] for r in batch.quarantine.to_pylist()}


def test_there_are_conformance_cases():
    assert len(CASES) == 24


@pytest.mark.parametrize("case", CASES)
def test_every_conformance_tariff_parses(case):
    p = CONFORMANCE / case / "tariff.json"
    src = json.loads(p.read_text(), parse_float=Decimal)
    assert detect(p) == ("ocpi-tariffs", None)
    b = read(p)
    assert b.records_read == 1 and b.quarantine.num_rows == 0, b.quarantine.to_pylist()
    (row,) = b.tables["driver_tariffs"].to_pylist()
    expected_id = src["id"] if "country_code" not in src else f"{src['country_code']}*{src['party_id']}*{src['id']}"
    assert row["tariff_id"] == expected_id
    assert row["currency"] == src["currency"] and row["type"] == src.get("type")
    # the stored JSON is the same tariff, numbers exact
    assert json.loads(row["tariff_json"], parse_float=Decimal) == src
    # compact, keys sorted at every level, numbers as written
    assert row["tariff_json"] == canonical_json(src)

    def compact(text: str) -> str:
        return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    assert compact(row["tariff_json"]) == compact(p.read_text())
    assert len(row["tariff_json"]) <= len(compact(p.read_text())) + 16  # no white space added
    for key in ("min_price", "max_price"):
        want = str(src[key]["excl_vat"]) if key in src else None
        assert row[f"{key}_excl_vat"] == want


def test_conformance_specifics():
    b = read(CONFORMANCE / "025kwh_min_price" / "tariff.json")
    (row,) = b.tables["driver_tariffs"].to_pylist()
    assert row["min_price_excl_vat"] == "0.50"  # as written, not 0.5
    assert '"price":0.25' in row["tariff_json"] and '"excl_vat":0.50' in row["tariff_json"]
    assert row["last_updated_at"] == dt.datetime(2018, 12, 17, 16, 45, 21)
    (row,) = read(CONFORMANCE / "025kwh_start_max_price" / "tariff.json").tables["driver_tariffs"].to_pylist()
    assert row["max_price_excl_vat"] == "10.00" and row["end_at"] == dt.datetime(2019, 6, 30, 23, 59, 59)
    (row,) = read(CONFORMANCE / "grace_period_parking_time" / "tariff.json").tables["driver_tariffs"].to_pylist()
    assert row["tariff_id"] == "foo" and row["country_code"] is None  # no party: the id alone
    (row,) = read(CONFORMANCE / "put_example" / "tariff.json").tables["driver_tariffs"].to_pylist()
    assert row["last_updated_at"] is None


def test_all_conformance_tariffs_as_one_page(tmp_path):
    p = tmp_path / "tariffs.json"
    body = ",".join((CONFORMANCE / c / "tariff.json").read_text() for c in CASES)
    p.write_text('{"data": [' + body + '], "status_code": 1000, "timestamp": "2025-01-01T00:00:00Z"}')
    assert detect(p) == ("ocpi-tariffs", None)
    b = read(p)
    assert b.records_read == 24 and b.quarantine.num_rows == 0
    assert b.tables["driver_tariffs"].column("source_record").to_pylist() == list(range(1, 25))


def test_bad_tariffs_fixture(fixtures):
    p = fixtures / "ocpi" / "tariffs_bad.ndjson"
    assert detect(p) == ("ocpi-tariffs", None)
    b = read(p)
    assert b.records_read == 9  # 10 lines, one blank
    assert b.tables["driver_tariffs"].column("tariff_id").to_pylist() == ["US*EVR*T-OK"]
    assert b.tables["driver_tariffs"].column("min_price_excl_vat").to_pylist() == ["1.00"]
    assert qmap(b) == {
        (2, "currency"): "not an ISO-4217 currency: 'usd'",
        (3, "elements"): "elements must be a non-empty list",
        (4, "elements[1].price_components[0].type"): "type must be one of ENERGY|FLAT|PARKING_TIME|TIME, got 'KWH'",
        (5, "elements[0].price_components[0].price"): "price must be a number >= 0, got -1",
        (5, "elements[0].price_components[0].step_size"): "step_size must be an integer >= 0, got 1.5",
        (7, "elements[0].price_components[0].price"): "price must be a number >= 0, got '2.00'",
        (7, "elements[0].restrictions.start_time"): "not a time HH:MM (00:00-23:59): '9:00'",
        (7, "elements[0].restrictions.end_time"): "not a time HH:MM (00:00-23:59): '24:00'",
        (7, "elements[0].restrictions.day_of_week[1]"): (
            "day_of_week must be one of MONDAY|TUESDAY|WEDNESDAY|THURSDAY|FRIDAY|SATURDAY|SUNDAY, got 'FUNDAY'"
        ),
        (8, "id"): "missing Tariff id",
        (9, "elements[0].price_components"): "price_components must be a non-empty list",
        (9, "max_price.excl_vat"): "excl_vat must be a number >= 0, got 'ten'",
        (10, None): "malformed JSON",
    }


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"currency": None}, "currency", "not an ISO-4217 currency: missing"),
        ({"currency": "EURO"}, "currency", "not an ISO-4217 currency: 'EURO'"),
        (
            {"type": "CHEAP"},
            "type",
            "type must be one of AD_HOC_PAYMENT|PROFILE_CHEAP|PROFILE_FAST|PROFILE_GREEN|REGULAR, got 'CHEAP'",
        ),
        ({"elements": None}, "elements", "elements must be a non-empty list"),
        ({"elements": ["x"]}, "elements[0]", "not a TariffElement object: 'x'"),
        (
            {"elements": [{"price_components": [{"type": "FLAT", "price": 1, "step_size": 1, "vat": -20}]}]},
            "elements[0].price_components[0].vat",
            "vat must be a number >= 0 (percent), got -20",
        ),
        (
            {"elements": [{"price_components": [{"type": "FLAT", "price": True, "step_size": 1}]}]},
            "elements[0].price_components[0].price",
            "price must be a number >= 0, got True",
        ),
        (
            {"elements": [{"price_components": [{"type": "FLAT", "price": 1}]}]},
            "elements[0].price_components[0].step_size",
            "step_size must be an integer >= 0, got null",
        ),
        (
            {
                "elements": [
                    {
                        "price_components": [{"type": "FLAT", "price": 1, "step_size": 1}],
                        "restrictions": {"day_of_week": "MONDAY"},
                    }
                ]
            },
            "elements[0].restrictions.day_of_week",
            "day_of_week must be a list, got 'MONDAY'",
        ),
        (
            {
                "elements": [
                    {
                        "price_components": [{"type": "TIME", "price": 1, "step_size": 1}],
                        "restrictions": {"start_date": "2025-02-30"},
                    }
                ]
            },
            "elements[0].restrictions.start_date",
            "not a date YYYY-MM-DD: '2025-02-30'",
        ),
        (
            {
                "elements": [
                    {
                        "price_components": [{"type": "TIME", "price": 1, "step_size": 1}],
                        "restrictions": {"max_duration": 1800.5},
                    }
                ]
            },
            "elements[0].restrictions.max_duration",
            "max_duration must be an integer number of seconds >= 0, got 1800.5",
        ),
        (
            {
                "elements": [
                    {
                        "price_components": [{"type": "TIME", "price": 1, "step_size": 1}],
                        "restrictions": {"min_kwh": -1},
                    }
                ]
            },
            "elements[0].restrictions.min_kwh",
            "min_kwh must be a number >= 0, got -1",
        ),
        (
            {
                "elements": [
                    {
                        "price_components": [{"type": "TIME", "price": 1, "step_size": 1}],
                        "restrictions": {"reservation": "YES"},
                    }
                ]
            },
            "elements[0].restrictions.reservation",
            "reservation must be one of RESERVATION|RESERVATION_EXPIRES, got 'YES'",
        ),
        ({"min_price": {"incl_vat": 1}}, "min_price.excl_vat", "excl_vat must be a number >= 0, got null"),
        ({"start_date_time": "soon"}, "start_date_time", "not an ISO-8601 date-time: 'soon'"),
        ({"last_updated": "2025-01-01"}, "last_updated", "not an ISO-8601 date-time: '2025-01-01'"),
    ],
)
def test_quarantine_reasons(tmp_path, overrides, field, reason):
    b = read_tariffs(write(tmp_path / "t.ndjson", tariff(id="OK"), tariff(**overrides)))
    assert qmap(b).get((2, field)) == reason, qmap(b)
    assert b.tables["driver_tariffs"].column("tariff_id").to_pylist() == ["US*EVR*OK"]


def test_restrictions_accepted_when_valid(tmp_path):
    t = tariff(
        type="AD_HOC_PAYMENT",
        elements=[
            {
                "price_components": [{"type": "PARKING_TIME", "price": 2, "vat": 20, "step_size": 300}],
                "restrictions": {
                    "start_time": "20:00",
                    "end_time": "00:00",
                    "start_date": "2025-12-24",
                    "end_date": "2025-12-27",
                    "min_kwh": 0,
                    "max_kwh": 50,
                    "min_power": 5.5,
                    "max_current": 32,
                    "min_duration": 0,
                    "max_duration": 3600,
                    "day_of_week": ["SATURDAY", "SUNDAY"],
                    "reservation": "RESERVATION_EXPIRES",
                },
            }
        ],
        start_date_time="2025-01-01T00:00:00Z",
        end_date_time="2025-12-31T23:59:59+01:00",
    )
    b = read_tariffs(write(tmp_path / "t.ndjson", t))
    assert b.quarantine.num_rows == 0
    (row,) = b.tables["driver_tariffs"].to_pylist()
    assert row["start_at"] == dt.datetime(2025, 1, 1) and row["end_at"] == dt.datetime(2025, 12, 31, 22, 59, 59)
    assert row["type"] == "AD_HOC_PAYMENT"


def test_newer_last_updated_replaces_older_is_duplicate(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    v1 = write(tmp_path / "a.ndjson", tariff(last_updated="2025-01-02T00:00:00Z"))
    v2 = write(tmp_path / "b.ndjson", tariff(last_updated="2025-02-01T00:00:00Z", currency="EUR"))
    v0 = write(tmp_path / "c.ndjson", tariff(last_updated="2024-12-01T00:00:00Z", currency="GBP"))
    assert ingest_file(wh, v1).accepted == 1
    r2 = ingest_file(wh, v2)
    assert (r2.accepted, r2.replaced) == (1, 1)
    r0 = ingest_file(wh, v0)
    assert (r0.accepted, r0.duplicate) == (0, 1)
    assert wh.con.execute("SELECT tariff_id, currency FROM driver_tariffs").fetchall() == [("US*EVR*T1", "EUR")]
    wh.close()
