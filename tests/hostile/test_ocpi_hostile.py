"""Hostile OCPI input: what the CDR, Locations and Tariffs readers refuse at the door.

Every case states its exact outcome — which record is quarantined, the field and a reason
substring — and checks the identity ``read = accepted + duplicate + quarantined`` on the
reader's Batch (a Batch has no duplicates: the loader decides those; a record counts as
quarantined once, however many rows it has). Then property-based fuzzing: real records (the
demo generator's CDRs, Locations and Tariffs; the OCPI specification's example Location)
with fields replaced by hostile JSON, keys repeated, bytes injected, nesting deepened — no
exception may escape a reader, the identity must hold, what is accepted must be usable, and
the CDR reader's two passes must agree.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import tempfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evrevops.core.iso4217 import PAYABLE
from evrevops.formats import FormatError, limits, ocpi, read
from evrevops.formats.json_values import parse_instant
from evrevops.formats.records import connect
from evrevops.tariffs.charging_periods import periods_from_cdr
from evrevops.tariffs.ocpi_tariff import PricingError
from tests.helpers.cdrs import cdr

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LOCATION = json.loads((FIXTURES / "ocpi" / "location_example.json").read_text())
MAIN_TABLE = {"ocpi-cdrs": "sessions", "ocpi-locations": "sites", "ocpi-tariffs": "driver_tariffs"}


def outcome(batch, fmt: str) -> tuple[set[int], dict[int, list[tuple[str | None, str]]]]:
    """Accepted records and quarantine rows by record; asserts read = accepted + duplicate + quarantined."""
    accepted = batch.tables[MAIN_TABLE[fmt]].column("source_record").to_pylist()
    quarantined: dict[int, list[tuple[str | None, str]]] = {}
    for row in batch.quarantine.to_pylist():
        assert row["reason"], row
        quarantined.setdefault(row["source_record"], []).append((row["field"], row["reason"]))
    assert len(set(accepted)) == len(accepted)
    assert not set(accepted) & set(quarantined), "a record both accepted and quarantined"
    assert batch.records_read == len(accepted) + 0 + len(quarantined)  # no duplicates within one Batch
    return set(accepted), quarantined


def write_lines(path: Path, lines: list) -> Path:
    """NDJSON of *lines*: dicts (as JSON), text or bytes (as they are)."""
    with open(path, "wb") as f:
        for item in lines:
            if isinstance(item, bytes):
                f.write(item)
            else:
                f.write((item if isinstance(item, str) else json.dumps(item, default=_number)).encode())
            f.write(b"\n")
    return path


def _number(v):
    if isinstance(v, Decimal):
        return float(v)
    raise TypeError(type(v))


def refused(tmp_path: Path, fmt: str, good: list, bad, field: str | None, reason: str) -> list[tuple[str | None, str]]:
    """*bad* between two good records is quarantined (line 2) with *field* and *reason* in one of its rows."""
    p = write_lines(tmp_path / "in.ndjson", [good[0], bad, good[1]])
    b = read(p, fmt)
    accepted, quarantined = outcome(b, fmt)
    assert accepted == {1, 3}, quarantined
    assert 2 in quarantined, "the hostile record was accepted"
    rows = quarantined[2]
    assert any(f == field and reason in r for f, r in rows), rows
    return rows


# ---- OCPI CDRs ---------------------------------------------------------------------------------------

GOOD_CDRS = [cdr(id="GOOD1"), cdr(id="GOOD3")]


def line(**overrides) -> str:
    return json.dumps(cdr(**{"id": "BAD", **overrides}))


def loc(**overrides) -> dict:
    return {**cdr()["cdr_location"], **overrides}


def with_energy(text: str) -> str:
    """A CDR line whose ``total_energy`` is the JSON text *text* (NaN, Infinity: not what json.dumps writes)."""
    return line().replace('"total_energy": 40.5', f'"total_energy": {text}')


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        # 1. timestamps outside the window; end before start; plugged in longer than the limit
        (line(end_date_time="9999-12-31T00:00:00Z"), "end_date_time", "9999-12-31 00:00:00 is after"),
        (line(start_date_time="1970-01-01T00:00:00Z"), "start_date_time", "is before 2000-01-01"),
        (line(last_updated="2200-01-01T00:00:00Z"), "last_updated", "2200-01-01 00:00:00 is after"),
        (line(total_time=800), "total_time", "total_time 800 h is longer than the limit of 744 h"),
        (
            line(end_date_time="2025-04-20T06:30:00Z", last_updated="2025-04-20T07:00:00Z"),
            "end_date_time",
            "h long, longer than the limit of 744 h",
        ),
        # 2. quantities: not finite, huge, negative, not a number, more energy than the power limit delivers
        (with_energy("NaN"), "total_energy", "not a finite number: NaN"),
        (line().replace('"total_time": 2.0', '"total_time": Infinity'), "total_time", "not a finite number"),
        (
            line().replace('"total_parking_time": 0.5', '"total_parking_time": -Infinity'),
            "total_parking_time",
            "not a finite number",
        ),
        (line(total_energy=1e308), "total_energy", "is more than 4000 kW delivers in 2.0 h"),
        (line(total_energy=1e15), "total_energy", "is more than 4000 kW delivers"),
        (line(total_energy=10_000), "total_energy", "energy 10000 kWh is more than 4000 kW delivers in 2.0 h"),
        (line(total_energy=True), "total_energy", "not a number: true"),
        # 3. amounts: not finite, negative (no credit CDRs), not below the money limit (no BIGINT overflow)
        (line(total_cost={"excl_vat": 1e20}), "total_cost.excl_vat", "is not below the limit of 10,000,000,000"),
        (line(total_cost={"excl_vat": "1e19"}), "total_cost.excl_vat", "is not below the limit of 10,000,000,000"),
        (
            line(total_energy_cost={"excl_vat": -5}),
            "total_energy_cost.excl_vat",
            "negative amount: -5.0 (OCPI amounts are not negative; a credit CDR",
        ),
        (
            line().replace('"incl_vat": 13.75', '"incl_vat": Infinity'),
            "total_cost.incl_vat",
            "not a finite amount: inf",
        ),
        (line(total_parking_cost={"excl_vat": "NaN"}), "total_parking_cost.excl_vat", "not a finite amount"),
        (line(total_fixed_cost={"excl_vat": "ten"}), "total_fixed_cost.excl_vat", "not a number: ten"),
        (line(total_cost={"incl_vat": 1.0}), "total_cost.excl_vat", "missing total_cost.excl_vat"),
        # 4. currency: an ISO 4217 code that exists and is money
        (line(currency="XYZ"), "currency", "not an ISO-4217 currency: XYZ"),
        (line(currency="XAU"), "currency", "not an ISO-4217 currency: XAU"),
        # 5. charging periods: a list of objects with a start and dimensions of a known type
        (
            line(charging_periods="abc"),
            "charging_periods",
            "must be a list of ChargingPeriod objects, got JSON VARCHAR",
        ),
        (line(charging_periods=5), "charging_periods", "must be a list of ChargingPeriod objects, got JSON UBIGINT"),
        (line(charging_periods=[]), "charging_periods", "must list at least one ChargingPeriod"),
        (line(charging_periods=["x"]), "charging_periods", "charging_periods[0] must be a ChargingPeriod object"),
        (
            line(charging_periods=[{"dimensions": [{"type": "ENERGY", "volume": 1}]}]),
            "charging_periods[0].start_date_time",
            "not an ISO-8601 date-time: missing",
        ),
        (
            line(charging_periods=[{"start_date_time": "2025-03-09T06:30:00Z"}]),
            "charging_periods[0].dimensions",
            "dimensions must be a non-empty list",
        ),
        (
            line(
                charging_periods=[
                    {"start_date_time": "2025-03-09T06:30:00Z", "dimensions": [{"type": "ENERGY", "volume": 1}]},
                    {"start_date_time": "2025-03-09T07:30:00Z", "dimensions": [{"type": "KWH", "volume": 1}]},
                ]
            ),
            "charging_periods[1].dimensions[0].type",
            "type must be one of CURRENT|ENERGY|",
        ),
        (
            line(
                charging_periods=[
                    {"start_date_time": "9999-01-01T00:00:00Z", "dimensions": [{"type": "TIME", "volume": 1}]}
                ]
            ),
            "charging_periods[0].start_date_time",
            "is after",
        ),
        (
            line(
                charging_periods=[
                    {"start_date_time": "2025-03-09T06:30:00Z", "dimensions": [{"type": "ENERGY", "volume": -5}]}
                ]
            ),
            "charging_periods[0].dimensions[0].volume",
            "negative ENERGY volume: -5",
        ),
        (
            line(
                charging_periods=[
                    {"start_date_time": "2025-03-09T06:30:00Z", "dimensions": [{"type": "ENERGY", "volume": 1e12}]}
                ]
            ),
            "charging_periods[0].dimensions[0].volume",
            "is not below 1,000,000,000",
        ),
        (
            line(
                charging_periods=[
                    {"start_date_time": "2025-03-09T06:30:00Z", "dimensions": [{"type": "ENERGY", "volume": "12"}]}
                ]
            ),
            "charging_periods",
            "a dimension volume must be a JSON number, got JSON VARCHAR",
        ),
        (
            line().replace('"volume": 40.5', '"volume": NaN'),
            "charging_periods[0].dimensions[0].volume",
            "not a finite number",
        ),
        # 6. texts longer than OCPI allows, required fields missing
        (line(id="X" * 40), "id", "id is 40 characters long, more than the 39 OCPI allows"),
        (line(country_code="USA"), "country_code", "more than the 2 OCPI allows"),
        (line(party_id="EVRX"), "party_id", "more than the 3 OCPI allows"),
        (line(cdr_location=loc(id="S" * 37)), "cdr_location.id", "more than the 36 OCPI allows"),
        (line(cdr_location=loc(evse_uid="P" * 37)), "cdr_location.evse_uid", "more than the 36 OCPI allows"),
        (line(cdr_location=loc(address="A" * 46)), "cdr_location.address", "more than the 45 OCPI allows"),
        (line(cdr_token={"uid": "T" * 37}), "cdr_token.uid", "more than the 36 OCPI allows"),
        (line(tariffs=[{"id": "T" * 37}]), "tariffs[0].id", "more than the 36 OCPI allows"),
        (line(cdr_location=loc(id={"a": 1})), "cdr_location.id", "must be a text"),
        (line(cdr_location="S1"), "cdr_location", "cdr_location must be an object, got JSON VARCHAR"),
        (line(auth_method="PIN"), "auth_method", "auth_method must be one of AUTH_REQUEST|COMMAND|WHITELIST"),
        (
            line(cdr_location=loc(coordinates={"latitude": "91.5", "longitude": "4.0"})),
            "cdr_location.coordinates.latitude",
            "not a latitude in decimal degrees: 91.5",
        ),
        # 7. a key given twice in one object (DuckDB's reader would keep one value silently)
        (line()[:-1] + ', "id": "OTHER"}', "id", "duplicated key 'id'"),
        (
            line().replace('"id": "S1",', '"id": "S1", "id": "S2",'),
            "cdr_location.id",
            "duplicated key 'id' in cdr_location",
        ),
        (
            line().replace('"excl_vat": 12.5,', '"excl_vat": 12.5, "excl_vat": 0.01,'),
            "total_cost.excl_vat",
            "duplicated key 'excl_vat' in total_cost",
        ),
        (
            line().replace('"volume": 40.5', '"volume": 40.5, "volume": 0'),
            "charging_periods",
            "duplicated key 'volume' in an element of charging_periods",
        ),
        # 8. nesting past the limit, bytes that are not UTF-8
        ("[" * 100_000 + "]" * 100_000, None, "JSON nested 100,000 levels deep, deeper than the limit of 64"),
        (line(cdr_location=[[[[[[["S1"]]]]]]]), "cdr_location", "cdr_location must be an object, got JSON ARRAY"),
        (line(id="B\udc80D"), None, "malformed JSON"),
        (line(id="BAD-ID").encode().replace(b"BAD-ID", b"BAD\xff\xfeID"), None, "not UTF-8 text: byte 0xff at byte"),
    ],
)
def test_cdr_refused_at_the_door(tmp_path, bad, field, reason):
    refused(tmp_path, "ocpi-cdrs", GOOD_CDRS, bad, field, reason)


# Refused before this hardening too: kept so that it does not lose them.
@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (line(end_date_time="2025-03-09T05:00:00Z"), "end_date_time", "is before start_date_time"),
        (line(total_time=-1), "total_time", "negative total_time: -1"),
        (line(total_energy="abc"), "total_energy", "not a number: abc"),
        (line(total_time=[2]), "total_time", "not a number: [2]"),
        (line(cdr_location=loc(evse_uid=None)), "cdr_location.evse_uid", "missing cdr_location.evse_uid"),
    ],
)
def test_cdr_still_refused(tmp_path, bad, field, reason):
    """End before start, negative or non-numeric quantities, a missing port."""
    refused(tmp_path, "ocpi-cdrs", GOOD_CDRS, bad, field, reason)


def test_cdr_credit_cdr_with_negative_total_names_the_field(tmp_path):
    credit = cdr(id="C-1", credit=True, credit_reference_id="CDR1", total_cost={"excl_vat": -12.5, "incl_vat": -13.75})
    rows = refused(tmp_path, "ocpi-cdrs", GOOD_CDRS, credit, "total_cost.excl_vat", "a credit CDR")
    assert {f for f, _ in rows} == {"total_cost.excl_vat", "total_cost.incl_vat"}


def test_cdr_duplicated_key_the_reader_does_not_use_is_harmless(tmp_path):
    """A repeated key outside what the reader reads ("remark") changes no stored value: accepted."""
    p = write_lines(tmp_path / "c.ndjson", [line()[:-1] + ', "remark": "a", "remark": "b"}'])
    accepted, quarantined = outcome(read(p, "ocpi-cdrs"), "ocpi-cdrs")
    assert accepted == {1} and not quarantined


def test_cdr_quarantined_amounts_never_overflow_minor_units(tmp_path):
    """1e19 and 1e20 in every amount: quarantined by the money limit, not a BIGINT overflow in SQL."""
    prices = {k: {"excl_vat": 1e20} for k in ("total_energy_cost", "total_time_cost", "total_parking_cost")}
    bad = [
        cdr(id="A", total_cost={"excl_vat": 1e19, "incl_vat": 1e20}, **prices),
        cdr(id="B", total_fixed_cost={"excl_vat": "99999999999999999999999999999999"}),
    ]
    b = read(write_lines(tmp_path / "c.ndjson", bad), "ocpi-cdrs")
    accepted, quarantined = outcome(b, "ocpi-cdrs")
    assert not accepted
    assert {f for f, _ in quarantined[1]} == {
        "total_cost.excl_vat",
        "total_cost.incl_vat",
        "total_energy_cost.excl_vat",
        "total_time_cost.excl_vat",
        "total_parking_cost.excl_vat",
    }
    assert quarantined[2] == [
        ("total_fixed_cost.excl_vat", "amount 1e+32 is not below the limit of 10,000,000,000 per amount")
    ]


def test_cdr_limits_in_force_move_the_window_and_the_power(tmp_path):
    p = write_lines(tmp_path / "c.ndjson", [cdr(id="A"), cdr(id="B", total_energy=150)])  # 150 kWh in 2 h
    with limits.using(earliest=dt.datetime(2025, 3, 9, 7)):
        _, q = outcome(read(p, "ocpi-cdrs"), "ocpi-cdrs")
        assert {f for f, _ in q[1]} == {"start_date_time", "charging_periods[0].start_date_time"}
    with limits.using(max_power_kw=50):
        accepted, q = outcome(read(p, "ocpi-cdrs"), "ocpi-cdrs")
        assert accepted == {1} and q[2][0][0] == "total_energy" and "more than 50 kW delivers" in q[2][0][1]


def test_cdr_stored_charging_periods_are_well_formed(tmp_path):
    """What was stored for the CDR whose charging_periods was a string (and crashed `evrevops price`):
    nothing; every stored value is a list of periods the pricing engine reads."""
    lines = [
        cdr(id="A"),
        cdr(id="B", charging_periods="not a list"),
        cdr(id="C", charging_periods={"a": 1}),
        cdr(id="D"),
    ]
    b = read(write_lines(tmp_path / "c.ndjson", lines), "ocpi-cdrs")
    accepted, quarantined = outcome(b, "ocpi-cdrs")
    assert accepted == {1, 4} and set(quarantined) == {2, 3}
    for text in b.tables["sessions"].column("charging_periods").to_pylist():
        assert periods_from_cdr(text)[0].energy_kwh == Decimal("40.5")


def test_cdr_invalid_utf8_keeps_the_line_numbers(tmp_path):
    bad = json.dumps(cdr(id="B")).encode().replace(b'"B"', b'"B\xc3"')
    lines = [cdr(id="A"), bad, "", cdr(id="D")]
    b = read(write_lines(tmp_path / "c.ndjson", lines), "ocpi-cdrs")
    accepted, quarantined = outcome(b, "ocpi-cdrs")
    assert accepted == {1, 4}
    at = bad.index(b"\xc3") + 1
    assert quarantined == {2: [(None, f"not UTF-8 text: byte 0xc3 at byte {at}")]}


def test_cdr_a_surrogate_pair_escape_is_one_character_not_an_exception(tmp_path):
    """JSON may escape a character outside the BMP as a surrogate pair (``\\ud83d\\ude00``).

    DuckDB's JSON reader turns each surrogate into bytes no UTF-8 decoder takes; the fast pass
    then hands the file to the careful reader, which decodes the pair as the one character it
    names: the valid CDR is accepted, and the one whose ``total_time_cost`` is not an object (the
    case the fuzzer found, with such a pair in a key) is quarantined naming that field.
    """
    good = json.dumps(cdr(id="A", cdr_location={**cdr()["cdr_location"], "name": "Caf\u00e9 PAIR"}))
    good = good.replace("PAIR", "\\ud83d\\ude00")
    bad = json.dumps(cdr(id="B", total_time_cost="XX")).replace(  # the fuzzer's value, escapes as it wrote them
        '"XX"', '[{"0\\u0080": null, "0000\\u0080\\ud800\\udc00": -1e+16, "\\u0800": null}]'
    )
    assert "\\ud83d\\ude00" in good and "\\ud800\\udc00" in bad
    b = read(write_lines(tmp_path / "c.ndjson", [good, bad]), "ocpi-cdrs")
    accepted, quarantined = outcome(b, "ocpi-cdrs")
    assert accepted == {1}
    assert quarantined == {2: [("total_time_cost", "total_time_cost must be an object, got JSON ARRAY")]}


def test_cdr_json_array_not_utf8_names_the_file_and_record(tmp_path):
    p = tmp_path / "cdrs.json"
    p.write_bytes(json.dumps([cdr(id="A"), cdr(id="B")]).encode().replace(b'"B"', b'"B\xff"'))
    with pytest.raises(FormatError, match=r"cdrs\.json.*(UTF-8|record/value 2)"):
        read(p, "ocpi-cdrs")


def test_cdr_array_with_a_deep_element_quarantines_that_element(tmp_path):
    p = tmp_path / "cdrs.json"
    p.write_text("[" + json.dumps(cdr(id="A")) + "," + "[" * 50_000 + "]" * 50_000 + "]")
    accepted, quarantined = outcome(read(p, "ocpi-cdrs"), "ocpi-cdrs")
    assert accepted == {1}
    assert quarantined == {2: [(None, "JSON nested 50,000 levels deep, deeper than the limit of 64")]}


def test_cdr_a_long_line_under_the_line_limit_is_read(tmp_path):
    """A 3 MB CDR line (over DuckDB's default 2 MB CSV line) is read by the careful pass."""
    big = cdr(id="BIG", remark="r" * 3_000_000)
    p = write_lines(tmp_path / "c.ndjson", [cdr(id="A"), big, "{broken"])
    accepted, quarantined = outcome(read(p, "ocpi-cdrs"), "ocpi-cdrs")
    assert accepted == {1, 2} and quarantined == {3: [(None, "malformed JSON")]}


# ---- OCPI Locations ----------------------------------------------------------------------------------


def nested(depth: int) -> list:
    """A list nested *depth* levels deep."""
    out: list = []
    for _ in range(depth - 1):
        out = [out]
    return out


def location(**overrides) -> dict:
    out = copy.deepcopy(LOCATION)
    out.update(overrides)
    return out


def with_connector(**overrides) -> dict:
    out = location(id="BAD")
    out["evses"][0]["connectors"][0].update(overrides)
    return out


GOOD_LOCATIONS = [location(id="GOOD1"), location(id="GOOD3", evses=[])]


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (location(id="BAD", time_zone=["Europe/Brussels"]), "time_zone", 'not an IANA time zone: ["Europe/Brussels"]'),
        (
            with_connector(max_electric_power=10**12),
            "evses[0].connectors[0].max_electric_power",
            "above the limit of 4,000 kW",
        ),
        (
            json.dumps(with_connector()).replace('"max_amperage": 16', '"max_amperage": 1e400', 1),
            "evses[0].connectors[0].max_amperage",
            "above the limit of 4,000 kW",
        ),
        (
            json.dumps(with_connector()).replace('"max_voltage": 220', '"max_voltage": NaN', 1),
            None,
            "malformed JSON: NaN is not a JSON number",
        ),
        (location(id="BAD", last_updated="2200-01-01T00:00:00Z"), "last_updated", "2200-01-01T00:00:00 is after"),
        (location(id="BAD", last_updated="9999-12-31T23:59:59-05:00"), "last_updated", "not an ISO-8601 date-time"),
        (location(id="BAD", last_updated="1970-01-01T00:00:00Z"), "last_updated", "is before 2000-01-01"),
        (with_connector(last_updated="2100-01-01T00:00:00Z"), "evses[0].connectors[0].last_updated", "is after"),
        (location(id="L" * 37), "id", "id is 37 characters long, more than the 36 OCPI allows"),
        (location(id="BAD", name="N" * 256), "name", "name is 256 characters long, more than the 255"),
        (location(id="BAD", postal_code={"zip": "9000"}), "postal_code", "postal_code must be a text"),
        (json.dumps(location(id="BAD"))[:-1] + ', "id": "OTHER"}', "id", "duplicated key 'id'"),
        (
            json.dumps(location(id="BAD")).replace('"uid": "3256",', '"uid": "3256", "uid": "3258",'),
            "evses[0].uid",
            "duplicated key 'uid'",
        ),
        ("[" * 100_000 + "]" * 100_000, None, "JSON nested 100,000 levels deep, deeper than the limit of 64"),
        (location(id="BAD", directions=nested(70)), None, "JSON nested deeper than the limit of 64 levels"),
        (
            json.dumps(location(id="BAD")).encode().replace(b"Gent Zuid", b"Gent \xe9 Zuid"),
            None,
            "not UTF-8 text: byte 0xe9",
        ),
        (json.dumps(location(id="BAD\udc80")), "id", "not valid Unicode text"),
    ],
)
def test_location_refused_at_the_door(tmp_path, bad, field, reason):
    refused(tmp_path, "ocpi-locations", GOOD_LOCATIONS, bad, field, reason)


# Refused before this hardening too: kept so that it does not lose them.
@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (
            location(id="BAD", coordinates={"latitude": "91.0", "longitude": "3.7"}),
            "coordinates.latitude",
            "not a latitude",
        ),
        (location(id="BAD", coordinates={"latitude": "north", "longitude": "3.7"}), "coordinates.latitude", "'north'"),
        (location(id="BAD", coordinates={"latitude": True, "longitude": "3.7"}), "coordinates.latitude", "True"),
        (location(id="BAD", time_zone="Mars/Olympus_Mons"), "time_zone", "not an IANA time zone"),
        (location(id="BAD", evses="3256"), "evses", "not a list"),
        (location(id="BAD", evses={"uid": "3256"}), "evses", "not a list"),
        (with_connector(max_voltage=-230), "evses[0].connectors[0].max_voltage", "not a number >= 0: -230"),
        (with_connector(max_voltage="230V"), "evses[0].connectors[0].max_voltage", "not a number >= 0: '230V'"),
        (location(id="BAD", city=None), "city", "missing city"),
    ],
)
def test_location_still_refused(tmp_path, bad, field, reason):
    """Coordinates, time zones, EVSE lists and voltages that are no such thing; a missing city."""
    refused(tmp_path, "ocpi-locations", GOOD_LOCATIONS, bad, field, reason)


def test_location_with_300_evses_is_read(tmp_path):
    big = location(id="BIG")
    evse = big["evses"][0]
    big["evses"] = [{**copy.deepcopy(evse), "uid": f"E{i:03d}", "evse_id": f"BE*BEC*E{i:09d}"} for i in range(300)]
    for name, body in (
        ("page.json", json.dumps({"data": [big, location(id="L2")]})),
        ("l.ndjson", json.dumps(big) + "\n" + json.dumps(location(id="L2")) + "\n"),
    ):
        p = tmp_path / name
        p.write_text(body)
        assert len(body.splitlines()[0]) > 65_536  # past any fixed head a reader might sniff
        b = read(p, "ocpi-locations")
        accepted, quarantined = outcome(b, "ocpi-locations")
        assert accepted == {1, 2} and not quarantined
        assert b.tables["ports"].num_rows == 300 + len(LOCATION["evses"])


def test_location_document_too_deep_for_python_quarantines_one_record(tmp_path):
    """An array Python's parser cannot take (RecursionError) is split into records without recursion."""
    deep = '{"id": "DEEP", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    p = tmp_path / "page.json"
    p.write_text('{"data": [' + json.dumps(location(id="A")) + ", " + deep + ", " + json.dumps(location(id="C")) + "]}")
    accepted, quarantined = outcome(read(p, "ocpi-locations"), "ocpi-locations")
    assert accepted == {1, 3}
    assert quarantined == {2: [(None, "JSON nested 100,001 levels deep, deeper than the limit of 64")]}


def test_location_document_not_utf8_names_the_line(tmp_path):
    p = tmp_path / "locations.json"
    second = json.dumps(location(id="B-MARK")).encode().replace(b"B-MARK", b"B\xff")
    p.write_bytes(b"[\n" + json.dumps(location(id="A")).encode() + b",\n" + second + b"\n]")
    with pytest.raises(FormatError, match=r"locations\.json, record 3: not UTF-8 text: byte 0xff on line 3"):
        read(p, "ocpi-locations")


# ---- OCPI Tariffs ------------------------------------------------------------------------------------


def tariff(**overrides) -> dict:
    base = {
        "country_code": "US",
        "party_id": "EVR",
        "id": "T1",
        "currency": "USD",
        "type": "REGULAR",
        "elements": [
            {
                "price_components": [{"type": "ENERGY", "price": 0.45, "vat": 20, "step_size": 1}],
                "restrictions": {"start_time": "07:00", "end_time": "22:00", "day_of_week": ["MONDAY"]},
            }
        ],
        "start_date_time": "2024-01-01T00:00:00Z",
        "last_updated": "2025-01-01T00:00:00Z",
    }
    base.update(overrides)
    return base


def component(**overrides) -> dict:
    return tariff(
        id="BAD", elements=[{"price_components": [{"type": "ENERGY", "price": 0.45, "step_size": 1, **overrides}]}]
    )


def restricted(**restrictions) -> dict:
    return tariff(
        id="BAD",
        elements=[{"price_components": [{"type": "TIME", "price": 2, "step_size": 60}], "restrictions": restrictions}],
    )


GOOD_TARIFFS = [tariff(id="GOOD1"), tariff(id="GOOD3")]
PC = "elements[0].price_components[0]"


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (component(price=1e20), f"{PC}.price", "price 1E+20 is not below the limit of 10,000,000,000 per amount"),
        (component(price=10**19), f"{PC}.price", "is not below the limit of 10,000,000,000"),
        (
            json.dumps(component()).replace('"price": 0.45', '"price": Infinity'),
            None,
            "malformed JSON: Infinity is not a JSON number",
        ),
        (component(step_size=2**40), f"{PC}.step_size", "step_size 1099511627776 is not below 2^31"),
        (component(vat=150), f"{PC}.vat", "vat 150 is more than 100 percent"),
        (restricted(start_date="1900-01-01"), "elements[0].restrictions.start_date", "is before 2000-01-01"),
        (restricted(min_kwh=1e12), "elements[0].restrictions.min_kwh", "is not below 1,000,000,000"),
        (restricted(max_duration=2**40), "elements[0].restrictions.max_duration", "is not below 2^31"),
        (tariff(id="BAD", currency="XYZ"), "currency", "not an ISO-4217 currency: 'XYZ'"),
        (tariff(id="BAD", currency="XTS"), "currency", "XTS is the code reserved for testing"),
        (tariff(id="BAD", start_date_time="1970-01-01T00:00:00Z"), "start_date_time", "is before 2000-01-01"),
        (tariff(id="BAD", end_date_time="9999-12-31T00:00:00Z"), "end_date_time", "more than 10 years after"),
        (tariff(id="BAD", last_updated="2200-01-01T00:00:00Z"), "last_updated", "is after"),
        (tariff(id="BAD", max_price={"excl_vat": 1e20}), "max_price.excl_vat", "is not below the limit"),
        (tariff(id="T" * 37), "id", "more than the 36 OCPI allows"),
        (json.dumps(tariff(id="BAD"))[:-1] + ', "currency": "EUR"}', "currency", "duplicated key 'currency'"),
        ("[" * 100_000 + "]" * 100_000, None, "JSON nested 100,000 levels deep"),
    ],
)
def test_tariff_refused_at_the_door(tmp_path, bad, field, reason):
    refused(tmp_path, "ocpi-tariffs", GOOD_TARIFFS, bad, field, reason)


# Refused before this hardening too: kept so that it does not lose them.
@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (component(price=-0.01), f"{PC}.price", "price must be a number >= 0, got -0.01"),
        (component(price="NaN"), f"{PC}.price", "price must be a number >= 0, got 'NaN'"),
        (component(step_size=1.5), f"{PC}.step_size", "step_size must be an integer >= 0, got 1.5"),
        (component(step_size=-1), f"{PC}.step_size", "step_size must be an integer >= 0, got -1"),
        (restricted(start_time="25:00"), "elements[0].restrictions.start_time", "not a time HH:MM"),
        (restricted(start_date="2025-02-30"), "elements[0].restrictions.start_date", "not a date YYYY-MM-DD"),
        (restricted(day_of_week=["FUNDAY"]), "elements[0].restrictions.day_of_week[0]", "got 'FUNDAY'"),
        (restricted(day_of_week="MONDAY"), "elements[0].restrictions.day_of_week", "must be a list"),
        (tariff(id="BAD", elements="ENERGY"), "elements", "elements must be a non-empty list"),
        (tariff(id="BAD", elements={"price_components": []}), "elements", "elements must be a non-empty list"),
    ],
)
def test_tariff_still_refused(tmp_path, bad, field, reason):
    """Negative or non-numeric prices and step sizes, malformed restrictions and elements."""
    refused(tmp_path, "ocpi-tariffs", GOOD_TARIFFS, bad, field, reason)


def test_tariff_published_ahead_is_accepted(tmp_path):
    ahead = dt.date.today() + dt.timedelta(days=400)
    t = tariff(id="NEXT", start_date_time=f"{ahead.isoformat()}T00:00:00Z", end_date_time="2030-12-31T00:00:00Z")
    accepted, quarantined = outcome(read(write_lines(tmp_path / "t.ndjson", [t]), "ocpi-tariffs"), "ocpi-tariffs")
    assert accepted == {1} and not quarantined


# ---- fuzzing: real records, hostile values --------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(demo_network) -> dict[str, list[dict]]:
    """Records of the demo generator (the session's default network): CDRs, Locations, Tariffs."""
    out = demo_network
    cdrs = sorted((out / "cdrs").glob("*.ndjson"))[0]
    with open(cdrs) as f:
        records = [json.loads(next(f)) for _ in range(40)]
    return {
        "ocpi-cdrs": records,
        "ocpi-locations": json.loads((out / "locations.json").read_text()) + [LOCATION],
        "ocpi-tariffs": json.loads((out / "tariffs.json").read_text()),
    }


LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 1e15, 1e19, 1e20, -0.0, 5e-324, 0, -1, 9e9]),
    st.text(max_size=40),
    st.sampled_from(
        ["", " ", "NaN", "-Infinity", "1e400", "9999-12-31T00:00:00Z", "1970-01-01T00:00:00Z", "2025-02-30T00:00:00Z",
         "XYZ", "USD", "ENERGY", "x" * 300, "[", "{}", "\udc80"]
    ),
)  # fmt: skip
VALUES = st.recursive(
    LEAVES,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=8,
)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def _set(obj, path, value, delete=False):
    *head, last = path
    for key in head:
        obj = obj[key]
    if delete and isinstance(obj, dict):
        obj.pop(last, None)
    else:
        obj[last] = value


@st.composite
def hostile_line(draw, records: list[dict]) -> bytes:
    """One real record, mutated: values replaced or deleted, then maybe a key repeated, bytes
    injected, nesting deepened or the line cut."""
    rec = copy.deepcopy(draw(st.sampled_from(records)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from([p for p in _paths(rec) if p]))
        _set(rec, path, draw(VALUES), delete=draw(st.booleans()))
    text = json.dumps(rec, default=_number)
    how = draw(st.sampled_from(["as is", "as is", "repeat a key", "bytes", "deep", "cut"]))
    if how == "repeat a key" and isinstance(rec, dict) and rec:
        key = draw(st.sampled_from(sorted(rec)))
        text = text[:-1] + f", {json.dumps(key)}: {json.dumps(draw(VALUES), default=_number)}}}"
    data = text.encode("utf-8", "surrogatepass")
    if how == "bytes":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=6)).replace(b"\n", b"") + data[at:]
    elif how == "deep":
        depth = draw(st.integers(60, 3000))
        data = data[:-1] + b', "deep": ' + b"[" * depth + b"]" * depth + b"}"
    elif how == "cut":
        data = data[: draw(st.integers(1, max(1, len(data) - 1)))]
    return data


def _fuzz(fmt: str, records: list[dict], lines: list[bytes]) -> pa.Table | None:
    with tempfile.TemporaryDirectory() as tmp:
        good = json.dumps(records[0], default=_number).encode()
        p = write_lines(Path(tmp) / "f.ndjson", [good, *lines, good.replace(b'"id": "', b'"id": "Z', 1)])
        b = read(p, fmt)
        accepted, quarantined = outcome(b, fmt)
        assert 1 in accepted, quarantined.get(1)
        if fmt == "ocpi-cdrs":
            _usable_sessions(b.tables["sessions"])
            fast = ocpi._read_fast(connect(), p)
            if fast is not None:  # the streaming pass vouched: the careful pass must agree, row for row
                careful = ocpi._read_checked(connect(), p)
                assert careful.quarantine.num_rows == 0, careful.quarantine.to_pylist()
                assert fast.tables["sessions"].equals(careful.tables["sessions"])
        return b.tables[MAIN_TABLE[fmt]]


def _usable_sessions(sessions: pa.Table) -> None:
    """What a CDR's session row promises every report: times in the window, finite amounts and
    quantities, an ISO 4217 currency, charging periods the pricing engine reads."""
    lim = limits.current()
    for s in sessions.to_pylist():
        assert lim.earliest <= s["started_at"] <= s["ended_at"] <= lim.until
        assert (s["ended_at"] - s["started_at"]).total_seconds() <= lim.max_session_s
        for k in ("energy_kwh", "plugged_in_s", "charging_s", "idle_s"):
            assert math.isfinite(s[k]) and s[k] >= -1e-5, (k, s[k])
        assert s["currency"] in PAYABLE
        assert s["total_cost_minor"] is not None and 0 <= s["total_cost_minor"] < 10**12
        if s["charging_periods"] is not None:
            try:
                periods = periods_from_cdr(s["charging_periods"])
            except PricingError as exc:  # the pricing engine refuses to price reservations, by design
                assert "reservation" in str(exc)
            else:
                assert periods and all(lim.earliest <= p.start_at <= lim.until for p in periods)


FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@FUZZ
@given(data=st.data())
def test_fuzz_cdrs(demo, data):
    records = demo["ocpi-cdrs"]
    _fuzz("ocpi-cdrs", records, data.draw(st.lists(hostile_line(records), min_size=1, max_size=4)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_fuzz_locations(demo, data):
    records = demo["ocpi-locations"]
    sites = _fuzz("ocpi-locations", records, data.draw(st.lists(hostile_line(records), min_size=1, max_size=4)))
    lim = limits.current()
    for s in sites.to_pylist():
        assert s["last_updated_at"] is None or lim.earliest <= s["last_updated_at"] <= lim.until
        assert s["latitude"] is None or -90 <= s["latitude"] <= 90


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_fuzz_tariffs(demo, data):
    records = demo["ocpi-tariffs"]
    tariffs = _fuzz("ocpi-tariffs", records, data.draw(st.lists(hostile_line(records), min_size=1, max_size=4)))
    for t in tariffs.to_pylist():
        assert t["currency"] in PAYABLE
        for el in json.loads(t["tariff_json"])["elements"]:
            for c in el["price_components"]:
                assert 0 <= Decimal(str(c["price"])) < limits.current().max_money_major


def test_parse_instant_never_overflows():
    for text in ("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"):
        with pytest.raises(ValueError, match="not an ISO-8601 date-time"):
            parse_instant(text)
