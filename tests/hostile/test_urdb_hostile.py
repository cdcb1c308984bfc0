"""Hostile URDB rate records: dates and schedules that overflow, rates that are no money, absurd windows, JSON tricks.

Each case writes a good record beside a bad one (NDJSON) and checks the exact outcome: the bad
record is quarantined with the field path and reason, the good one is stored, and the record
identity holds. A file that cannot be read at all raises a FormatError naming it. A property
test mutates real records (the hand-written fixtures and a generated network's tariffs) with
random JSON values and checks that nothing escapes the reader.
"""

from __future__ import annotations

import copy
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evrevops.formats import FormatError, limits, read
from evrevops.formats.json_records import canonical_json
from evrevops.formats.urdb import epoch_date, read_urdb
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file

FIX = Path(__file__).resolve().parents[1] / "fixtures"
GOOD = json.loads((FIX / "bills" / "urdb-hand.json").read_text(), parse_float=Decimal)


def record(**changes) -> dict:
    r = copy.deepcopy(GOOD)
    r["label"] = "hostile"
    for path, value in changes.items():
        *head, last = path.split("__")
        obj = r
        for k in head:
            obj = obj[int(k)] if isinstance(obj, list) else obj[k]
        if isinstance(obj, list):
            obj[int(last)] = value
        else:
            obj[last] = value
    return r


def write(tmp_path: Path, lines: list) -> Path:
    p = tmp_path / "rates.ndjson"
    p.write_text("\n".join(x if isinstance(x, str) else canonical_json(x) for x in lines) + "\n", encoding="utf-8")
    return p


def identity(batch) -> set[int]:
    rows = set(batch.tables["utility_tariffs"].column("source_record").to_pylist())
    q = set(batch.quarantine.column("source_record").to_pylist())
    assert not rows & q
    assert len(rows) + len(q) <= batch.records_read
    return q


def reasons(batch) -> dict[tuple[int, str | None], str]:
    out: dict[tuple[int, str | None], str] = {}
    for r in batch.quarantine.to_pylist():
        out.setdefault((r["source_record"], r["field"]), r["reason"])
    return out


def one_bad(tmp_path: Path, bad) -> dict[tuple[int, str | None], str]:
    b = read_urdb(write(tmp_path, [GOOD, bad]))
    assert identity(b) == {2}, reasons(b)
    assert b.records_read == 2 and b.tables["utility_tariffs"].column("source_record").to_pylist() == [1]
    return reasons(b)


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"startdate": Decimal("1e20")}, "startdate", "epoch seconds 1E+20 are no date of the calendar"),
        ({"enddate": -(10**12)}, "enddate", "epoch seconds -1000000000000 are no date of the calendar"),
        ({"startdate": -86400 * 400}, "startdate", "startdate 1968-11-27 is outside 2000-01-01 .. "),
        ({"startdate": 7258118400}, "startdate", "startdate 2200-01-01 is outside 2000-01-01 .. "),
        ({"enddate": 4102444800}, "enddate", "enddate 2100-01-01 is outside 2000-01-01 .. "),
        (
            {"energyweekdayschedule__6__17": Decimal("1e20")},
            "energyweekdayschedule[6][17]",
            "period 1E+20 is not an index of energyratestructure",
        ),
        (
            {"energyweekdayschedule__6__17": 10**20},
            "energyweekdayschedule[6][17]",
            "period 100000000000000000000 is not an index",
        ),
        ({"energyweekdayschedule__0__0": -1}, "energyweekdayschedule[0][0]", "period -1 is not an index"),
        ({"energyweekdayschedule__3": [0] * 25}, "energyweekdayschedule[3]", "a month row must be 24 period indexes"),
        (
            {"energyweekendschedule": [[0] * 24] * 13},
            "energyweekendschedule",
            "a schedule must be 12 rows (months) of 24 hours",
        ),
        (
            {"energyratestructure__0__0__rate": Decimal("1e10")},
            "energyratestructure[0][0].rate",
            "rate: amount 1E+10 is not below the limit of 10,000,000,000 per record",
        ),
        (
            {"energyratestructure__0__0__rate": Decimal("-1e400")},
            "energyratestructure[0][0].rate",
            "rate: amount -1E+400 is not below the limit",
        ),
        (
            {"energyratestructure__0__0__rate": "NaN"},
            "energyratestructure[0][0].rate",
            "rate must be a number, got 'NaN'",
        ),
        (
            {"fixedchargefirstmeter": 10**12},
            "fixedchargefirstmeter",
            "fixedchargefirstmeter: amount 1000000000000 is not below the limit",
        ),
        ({"demandwindow": Decimal("1e20")}, "demandwindow", "demandwindow 1E+20 min is longer than a day (1440 min)"),
        ({"demandwindow": 2880}, "demandwindow", "demandwindow 2880 min is longer than a day (1440 min)"),
        ({"demandwindow": -15}, "demandwindow", "demandwindow must be a whole number of minutes > 0, got -15"),
        (
            {"eiaid": 10**30},
            "eiaid",
            "eiaid must be an EIA utility id (0 to 1,000,000,000), got 1000000000000000000000000000000",
        ),
        ({"label": "L" * 256}, "label", "label longer than 255 characters"),
        ({"name": "N" * 3000}, "name", "name longer than 2000 characters"),
    ],
)
def test_urdb_refuses_at_the_door(tmp_path, changes, field, reason):
    r = one_bad(tmp_path, record(**changes))
    assert r[(2, field)].startswith(reason), r


def test_epoch_date_never_overflows():
    for seconds in (10**20, -(10**20), Decimal("1e999999")):
        with pytest.raises(ValueError, match="no date of the calendar"):
            epoch_date(seconds)


def test_the_date_window_is_the_limits_in_force(tmp_path):
    bad = record(startdate=7258118400)  # 2200-01-01
    import datetime as dt

    with limits.using(latest=dt.datetime(2300, 1, 1)):
        b = read_urdb(write(tmp_path, [GOOD, bad]))
        assert identity(b) == set()


def test_json_tricks_are_quarantined_per_record(tmp_path):
    good = canonical_json(GOOD)
    dup = good.replace('"rate":0.10', '"rate":0.10,"rate":99')
    assert dup != good
    lines = [
        good,
        dup,
        good.replace('"sector":"Commercial"', '"sector":"Commercial","extra":' + "[" * 100 + "]" * 100),
        good.replace('"sector":"Commercial"', '"sector":"Commercial","extra":' + "[" * 50_000 + "]" * 50_000),
        good.replace('"rate":0.10', '"rate":NaN'),
        good.replace('"rate":0.10', '"rate":Infinity'),
    ]
    b = read_urdb(write(tmp_path, lines))
    assert identity(b) == {2, 3, 4, 5, 6}
    r = reasons(b)
    assert r[(2, None)] == "duplicated key 'rate' in energyratestructure[0][0]"
    assert r[(3, None)] == "JSON nested more than 64 levels deep (see Limits.max_json_depth)"
    assert r[(4, None)] == "JSON nested more than 64 levels deep (see Limits.max_json_depth)"
    assert r[(5, None)] == r[(6, None)] == "malformed JSON"


def test_bytes_that_are_not_utf8(tmp_path):
    p = tmp_path / "rates.ndjson"
    bad = canonical_json(record(name="Caf\u00e9")).encode("utf-8").replace("é".encode(), b"\xe9")
    p.write_bytes(canonical_json(GOOD).encode() + b"\n" + bad + b"\n")
    b = read_urdb(p)
    assert identity(b) == {2}
    assert reasons(b)[(2, None)] == "not valid UTF-8 (bytes replaced by U+FFFD)"


def test_a_document_too_deep_to_parse_is_unreadable(tmp_path):
    p = tmp_path / "rates.json"
    p.write_text("[" + canonical_json(GOOD) + ", " + "[" * 50_000 + "]" * 50_000 + "]")
    with pytest.raises(FormatError, match=r"rates\.json: JSON nested too deeply to be read"):
        read_urdb(p)
    p.write_text("[" + canonical_json(GOOD) + ", " + "[" * 100 + "]" * 100 + "]")
    b = read_urdb(p)
    assert identity(b) == {2} and reasons(b)[(2, None)].startswith("JSON nested more than 64 levels")


def test_hostile_records_through_the_warehouse_keep_the_ledger_identity(tmp_path):
    p = write(tmp_path, [GOOD, record(startdate=Decimal("1e20")), record(demandwindow=10**9), "{not json"])
    p = p.rename(tmp_path / "urdb-rates.ndjson")
    wh = open_warehouse(tmp_path / "w.duckdb")
    try:
        r = ingest_file(wh, p, "urdb")
        assert (r.records_read, r.accepted, r.duplicate, r.quarantined) == (4, 1, 0, 3)
    finally:
        wh.close()


# ---- property: mutated real records never make the reader raise ------------------------------------------


@pytest.fixture(scope="module")
def real_records(demo_networks) -> list[dict]:
    out = demo_networks.files(ports=8, months=2, seed=5)
    recs = [GOOD, json.loads((FIX / "bills" / "urdb-ev-rate.json").read_text(), parse_float=Decimal)]
    for f in sorted((out / "utility_tariffs").glob("*.json"))[:4]:
        doc = json.loads(f.read_text(), parse_float=Decimal)
        recs.extend(doc.get("items", [doc]) if isinstance(doc, dict) else doc)
    return recs


JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(
        [
            -1,
            0,
            12,
            24,
            1440,
            10**20,
            -(10**15),
            Decimal("1e20"),
            Decimal("1e999999"),
            "1e9999",
            "NaN",
            "$/week",
            "\ufffd",
        ]
    ),
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=10,
)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    values=st.lists(JSON_VALUE, min_size=1, max_size=6),
    drop=st.booleans(),
    raw=st.booleans(),
)
def test_mutated_real_records_never_raise(tmp_path, real_records, seed, values, drop, raw):
    rnd = random.Random(seed)
    recs = copy.deepcopy(real_records)
    for v in values:
        r = rnd.choice(recs)
        # often a top-level field whose value is a date, a window, an id or a charge; else any value inside
        top = [(k,) for k in ("startdate", "enddate", "demandwindow", "eiaid", "fixedchargefirstmeter", "label")]
        path = rnd.choice(top if rnd.random() < 0.5 else [p for p in _paths(r) if p])
        parent = r
        for k in path[:-1]:
            parent = parent[k]
        if drop and isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = v
    data = "\n".join(canonical_json(r) if not isinstance(r, str) else r for r in recs).encode()
    if raw:
        b = bytearray(data)
        for _ in range(2):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        data = bytes(b)
    p = tmp_path / f"{seed}.ndjson"
    p.write_bytes(data + b"\n")
    try:
        batch = read(p, "urdb")
    except FormatError:
        return  # a file that is no JSON at all (the first line broken beyond recognition)
    identity(batch)
    for row in batch.tables["utility_tariffs"].to_pylist():
        assert row["demand_window_min"] is None or 0 < row["demand_window_min"] <= 1440
        assert row["eiaid"] is None or 0 <= row["eiaid"] < 10**9
        for key in ("start_on", "end_on"):
            assert row[key] is None or 2000 <= row[key].year <= limits.current().until.year + 31
