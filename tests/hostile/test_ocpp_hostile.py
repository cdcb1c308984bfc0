"""Hostile OCPP logs: every bad line is quarantined with a reason naming its field, never a traceback.

Each case writes a small log (a good line beside the bad one), reads it and checks the exact
outcome: which line, which field, which reason; the good line's rows; and the record identity
(every non-blank line has rows, is absorbed, is quarantined or stores nothing — exactly one of
them). Clock jumps per charger are reported in ``Batch.notes``. A property test mutates lines of a
generated network's log and checks that nothing escapes the reader.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evrevops.formats import limits, read
from evrevops.formats.ocpp import read_log
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file

OK_TS = "2025-03-09T10:00:00Z"


def line(cp: str, ts: str, message: list, **extra) -> dict:
    return {"timestamp": ts, "charge_point_id": cp, "message": message, **extra}


def hb(cp: str, ts: str, uid: str = "h") -> dict:
    return line(cp, ts, [2, uid, "Heartbeat", {}])


def status16(cp: str, ts: str, uid: str = "s", **payload) -> dict:
    p = {"connectorId": 1, "status": "Available", "errorCode": "NoError", **payload}
    return line(cp, ts, [2, uid, "StatusNotification", p])


def meter(cp: str, ts: str, samples: list, uid: str = "m", mv_ts: str | None = None, **payload) -> dict:
    return line(
        cp,
        ts,
        [
            2,
            uid,
            "MeterValues",
            {"connectorId": 1, "meterValue": [{"timestamp": mv_ts or ts, "sampledValue": samples}], **payload},
        ],
    )


def write(path: Path, lines: list) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def identity(batch, path: Path) -> dict[str, set[int]]:
    """Check the record identity of an OCPP batch and return the lines by fate."""
    lines = [i for i, text in enumerate(path.read_bytes().split(b"\n"), 1) if text.strip()]
    with_rows = set().union(*(set(t.column("source_record").to_pylist()) for t in batch.tables.values()))
    ab = [r["source_record"] for r in batch.absorbed.to_pylist()] if batch.absorbed is not None else []
    quarantined = set(batch.quarantine.column("source_record").to_pylist())
    assert len(ab) == len(set(ab))
    ab_set = set(ab)
    assert not with_rows & ab_set and not with_rows & quarantined and not ab_set & quarantined
    assert (with_rows | ab_set | quarantined) <= set(lines)
    assert batch.records_read == len(lines)
    return {"rows": with_rows, "absorbed": ab_set, "quarantined": quarantined}


def reasons(batch) -> dict[tuple[int, str | None], str]:
    return {(r["source_record"], r["field"]): r["reason"] for r in batch.quarantine.to_pylist()}


def only_bad(batch, path: Path, bad: set[int]) -> dict[tuple[int, str | None], str]:
    """The batch quarantines exactly the lines *bad*; returns their reasons."""
    fates = identity(batch, path)
    assert fates["quarantined"] == bad, reasons(batch)
    return reasons(batch)


# ---- 1. time window: message, payload and meter timestamps -----------------------------------------


@pytest.mark.parametrize(
    ("ts", "word"),
    [
        ("2200-01-01T00:00:00Z", "clock ahead"),  # a heartbeat dated 2200 would make MTTR 1,067,677 h
        ("9999-12-31T23:59:59Z", "clock ahead"),
        ("1970-01-01T00:00:00Z", "clock reset"),
        ("1999-12-31T23:59:59Z", "clock reset"),
    ],
)
def test_a_message_outside_the_time_window_is_quarantined(tmp_path, ts, word):
    p = write(
        tmp_path / "log.ndjson", [hb("CP-1", OK_TS, "a"), hb("CP-1", ts, "b"), hb("CP-1", "2025-03-09T10:05:00Z", "c")]
    )
    b = read_log(p)
    r = only_bad(b, p, {2})
    assert r[(2, "timestamp")].startswith(word + ": ")
    assert ts[:10] in r[(2, "timestamp")]
    assert [x["observed_at"] for x in b.tables["heartbeats"].to_pylist()] == [
        dt.datetime(2025, 3, 9, 10, 0),
        dt.datetime(2025, 3, 9, 10, 5),
    ]


def test_the_window_is_the_limits_in_force(tmp_path):
    p = write(tmp_path / "log.ndjson", [hb("CP-1", "2030-06-01T00:00:00Z")])
    assert only_bad(read_log(p), p, {1})[(1, "timestamp")].startswith("clock ahead")
    with limits.using(latest=dt.datetime(2031, 1, 1)):
        assert only_bad(read_log(p), p, set()) == {}
    with limits.using(earliest=dt.datetime(2030, 7, 1), latest=dt.datetime(2031, 1, 1)):
        assert only_bad(read_log(p), p, {1})[(1, "timestamp")].startswith("clock reset")


def test_payload_and_meter_timestamps_outside_the_window(tmp_path):
    p = write(
        tmp_path / "log.ndjson",
        [
            status16("CP-1", OK_TS, "s1", timestamp="1970-01-01T00:00:10Z"),
            meter("CP-1", OK_TS, [{"value": "10"}], "m1", mv_ts="2199-05-01T00:00:00Z"),
            line(
                "CP-1",
                OK_TS,
                [
                    2,
                    "st",
                    "StartTransaction",
                    {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "1980-01-01T00:00:00Z"},
                ],
            ),
            line(
                "CP-2",
                OK_TS,
                [
                    2,
                    "te",
                    "TransactionEvent",
                    {
                        "eventType": "Started",
                        "timestamp": "2300-01-01T00:00:00Z",
                        "triggerReason": "Authorized",
                        "seqNo": 0,
                        "transactionInfo": {"transactionId": "T1"},
                    },
                ],
            ),
            status16("CP-1", OK_TS, "s2"),
        ],
    )
    b = read_log(p)
    r = only_bad(b, p, {1, 2, 3, 4})
    assert r[(1, "message[3].timestamp")].startswith("clock reset: 1970-01-01")
    assert r[(2, "message[3].meterValue[0].timestamp")].startswith("clock ahead: 2199-05-01")
    assert r[(3, "message[3].timestamp")].startswith("clock reset: 1980-01-01")
    assert r[(4, "message[3].timestamp")].startswith("clock ahead: 2300-01-01")
    assert b.tables["status_events"].column("source_record").to_pylist() == [5]


# ---- clock jumps per charger: notes ------------------------------------------------------------------


def test_clock_jumps_are_noted_per_charger(tmp_path):
    lines = [
        hb("CP-1", "2025-03-01T09:00:00Z", "1"),
        hb("CP-1", "2025-03-01T10:00:00Z", "2"),
        hb("CP-2", "2025-03-01T10:00:30Z", "3"),
        hb("CP-1", "2025-03-01T06:48:00Z", "4"),  # line 4: CP-1 went back 3 h 12 min
        hb("CP-1", "1970-01-01T00:00:00Z", "5"),  # then reset to 1970
        hb("CP-1", "1970-01-01T00:05:00Z", "6"),
        hb("CP-1", "2025-03-01T07:00:00Z", "7"),
        hb("CP-2", "2025-03-01T10:30:00Z", "8"),  # CP-2 is fine
        hb("CP-3", "2025-03-02T10:00:00Z", "9"),
        hb("CP-3", "2200-01-01T00:00:00Z", "10"),  # CP-3 ran ahead to 2200, then came back
        hb("CP-3", "2025-03-02T10:10:00Z", "11"),
        hb("CP-4", "2025-03-05T10:00:00Z", "12"),
        hb("CP-4", "2025-03-03T10:00:00Z", "13"),  # CP-4: 2 days ahead, inside the window
    ]
    p = write(tmp_path / "log.ndjson", lines)
    b = read_log(p)
    r = only_bad(b, p, {5, 6, 10})
    assert r[(5, "timestamp")].startswith("clock reset") and r[(10, "timestamp")].startswith("clock ahead")
    assert b.notes == [
        "charger CP-1: clock went back 3 h 12 min at record 4 (2025-03-01T10:00 -> 06:48) (and 1 more jump);"
        " 2 messages outside the window quarantined",
        "charger CP-3: clock ran ahead: record 10 at 2200-01-01T00:00 is 175 years ahead of the next message"
        " (record 11, 2025-03-02T10:10); 1 message outside the window quarantined",
        "charger CP-4: clock ran ahead: record 12 at 2025-03-05T10:00 is 2 days ahead of the next message"
        " (record 13, 2025-03-03T10:00)",
    ]


def test_a_small_step_back_is_no_jump(tmp_path):
    p = write(
        tmp_path / "log.ndjson", [hb("CP-1", "2025-03-01T10:00:00Z", "1"), hb("CP-1", "2025-03-01T09:01:00Z", "2")]
    )
    b = read_log(p)
    assert b.notes == [] and only_bad(b, p, set()) == {}


# ---- statuses, connectors ---------------------------------------------------------------------------


def test_unknown_statuses_are_quarantined(tmp_path):
    p = write(
        tmp_path / "log.ndjson",
        [
            status16("CP-1", OK_TS, "1", status="Broken"),
            status16("CP-1", OK_TS, "2", status="available"),  # case matters in OCPP
            line(
                "CP-2",
                OK_TS,
                [
                    2,
                    "3",
                    "StatusNotification",
                    {"timestamp": OK_TS, "connectorStatus": "Charging", "evseId": 1, "connectorId": 1},
                ],
            ),
            line(
                "CP-2",
                OK_TS,
                [
                    2,
                    "4",
                    "StatusNotification",
                    {"timestamp": OK_TS, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1},
                ],
            ),
            status16("CP-1", OK_TS, "5", status="Charging"),
        ],
    )
    b = read_log(p)
    r = only_bad(b, p, {1, 2, 3})
    assert r[(1, "message[3].status")].startswith("unknown status 'Broken' (OCPP 1.6 ChargePointStatus: Available,")
    assert r[(2, "message[3].status")].startswith("unknown status 'available'")
    assert r[(3, "message[3].connectorStatus")].startswith("unknown connectorStatus 'Charging' (OCPP 2.0.1")
    assert sorted(b.tables["status_events"].column("status").to_pylist()) == ["Charging", "Occupied"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (-1, "connectorId must be 0 (the whole charger) or more: '-1'"),
        (1.5, "connectorId is not an integer: '1.5'"),
        ("1" * 400, "connectorId is not an integer: '1111"),
        (1e300, "connectorId is not an integer"),
        ("NaN", "connectorId is not an integer: 'NaN'"),
        ({"a": 1}, "connectorId is not an integer"),
    ],
)
def test_bad_connector_ids(tmp_path, value, reason):
    p = write(tmp_path / "log.ndjson", [status16("CP-1", OK_TS, "1", connectorId=value), status16("CP-1", OK_TS, "2")])
    r = only_bad(read_log(p), p, {1})
    assert r[(1, "message[3].connectorId")].startswith(reason)


def test_bad_evse_ids_and_start_connector(tmp_path):
    p = write(
        tmp_path / "log.ndjson",
        [
            line(
                "CP-2",
                OK_TS,
                [
                    2,
                    "1",
                    "StatusNotification",
                    {"timestamp": OK_TS, "connectorStatus": "Available", "evseId": -3, "connectorId": 1},
                ],
            ),
            line(
                "CP-1",
                OK_TS,
                [2, "2", "StartTransaction", {"connectorId": 0, "idTag": "T", "meterStart": 0, "timestamp": OK_TS}],
            ),
        ],
    )
    r = only_bad(read_log(p), p, {1, 2})
    assert r[(1, "message[3].evseId")] == "evseId must be 0 (the whole station) or more: '-3'"
    assert r[(2, "message[3].connectorId")] == "StartTransaction connectorId must be 1 or more: '0'"


# ---- meter values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        ({"value": "NaN"}, "not a number: 'NaN'"),
        ({"value": "Infinity"}, "not a number: 'Infinity'"),
        ({"value": "-inf"}, "not a number: '-inf'"),
        ('{"value": 1e9999}', "not a number: '1e9999'"),
        (
            {"value": "1e300", "unitOfMeasure": {"unit": "Wh", "multiplier": 10}},
            "'1e300' × 10^10 is not a finite number",
        ),
        (
            {"value": "5000", "measurand": "Power.Active.Import", "unit": "kW"},
            "power '5000' kW is above the limit of 4000 kW",
        ),
        ({"value": "4000001", "measurand": "Power.Offered", "unit": "W"}, "power '4000001' W is above the limit"),
        (
            {"value": "-5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
            "energy '-5' kWh is not a reading",
        ),
        ({"value": "1e15"}, "energy '1e15' Wh is not a reading"),
    ],
)
def test_meter_values_not_finite_or_absurd(tmp_path, sample, reason):
    samples = [{"value": "100"}, sample] if isinstance(sample, dict) else None
    bad = meter("CP-1", OK_TS, samples or [], "1")
    if samples is None:  # a raw JSON number Python would not write
        text = json.dumps(bad).replace('"sampledValue": []', '"sampledValue": [{"value": "100"}, ' + sample + "]")
        bad = text
    p = write(tmp_path / "log.ndjson", [bad, meter("CP-1", "2025-03-09T10:05:00Z", [{"value": "200"}], "2")])
    b = read_log(p)
    r = only_bad(b, p, {1})
    assert r[(1, "message[3].meterValue[0].sampledValue[1].value")].startswith(reason)
    assert b.tables["meter_readings"].column("value").to_pylist() == [200.0]


def test_a_negative_power_export_and_a_net_energy_are_kept(tmp_path):
    p = write(
        tmp_path / "log.ndjson",
        [
            meter(
                "CP-1",
                OK_TS,
                [
                    {"value": "-3.5", "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "-120", "measurand": "Energy.Active.Net", "unit": "Wh"},
                ],
            )
        ],  # fmt: skip
    )
    b = read_log(p)
    assert only_bad(b, p, set()) == {}
    assert b.tables["meter_readings"].column("value").to_pylist() == [-3.5, -120.0]


def test_meter_start_and_stop_must_be_register_readings(tmp_path):
    p = write(
        tmp_path / "log.ndjson",
        [
            line(
                "CP-1",
                OK_TS,
                [2, "1", "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": -10, "timestamp": OK_TS}],
            ),
            line(
                "CP-1", OK_TS, [2, "2", "StopTransaction", {"transactionId": 5, "meterStop": 1e300, "timestamp": OK_TS}]
            ),
        ],
    )
    r = only_bad(read_log(p), p, {1, 2})
    assert r[(1, "message[3].meterStart")].startswith("meterStart '-10' Wh is not an energy register reading")
    assert r[(2, "message[3].meterStop")].startswith("meterStop '1e300' Wh is not an energy register reading")


# ---- transaction ids --------------------------------------------------------------------------------


def test_invalid_transaction_ids(tmp_path):
    long_id = "T" * 37
    p = write(
        tmp_path / "log.ndjson",
        [
            line(
                "CP-1",
                OK_TS,
                [2, "1", "StopTransaction", {"transactionId": "abc", "meterStop": 10, "timestamp": OK_TS}],
            ),
            line(
                "CP-1",
                OK_TS,
                [2, "st", "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": OK_TS}],
            ),
            line(
                "CP-1", "2025-03-09T10:00:01Z", [3, "st", {"transactionId": "x1", "idTagInfo": {"status": "Accepted"}}]
            ),
            line(
                "CP-2",
                OK_TS,
                [
                    2,
                    "4",
                    "TransactionEvent",
                    {
                        "eventType": "Started",
                        "timestamp": OK_TS,
                        "triggerReason": "Authorized",
                        "seqNo": 0,
                        "transactionInfo": {"transactionId": long_id},
                    },
                ],
            ),
            line(
                "CP-2",
                OK_TS,
                [
                    2,
                    "5",
                    "TransactionEvent",
                    {
                        "eventType": "Started",
                        "timestamp": OK_TS,
                        "triggerReason": "Authorized",
                        "seqNo": 0,
                        "transactionInfo": {"transactionId": 7},
                    },
                ],
            ),
            meter("CP-1", OK_TS, [{"value": "1"}], "6", transactionId=[1]),
        ],
    )
    b = read_log(p)
    r = only_bad(b, p, {1, 3, 4, 5, 6})
    assert r[(1, "message[3].transactionId")] == "transactionId is not an integer (OCPP 1.6): 'abc'"
    assert r[(3, "message[2].transactionId")] == "transactionId is not an integer (OCPP 1.6): 'x1'"
    assert r[(4, "message[3].transactionInfo.transactionId")].startswith("transactionId must be a text of 1 to 36")
    assert r[(5, "message[3].transactionInfo.transactionId")].startswith("transactionId must be a text of 1 to 36")
    assert r[(6, "message[3].transactionId")].startswith("transactionId is not an integer")
    # the start stays, without the refused id
    assert b.tables["ocpp_transactions"].column("transaction_id").to_pylist() == ["start:1:2025-03-09T10:00:00Z"]


# ---- JSON itself: duplicated keys, depth, huge lines, ids ---------------------------------------------


def test_duplicated_keys_are_quarantined(tmp_path):
    p = write(
        tmp_path / "log.ndjson",
        [
            '{"timestamp": "2025-03-09T10:00:00Z", "timestamp": "2200-01-01T00:00:00Z", "charge_point_id": "CP-1", "message": [2, "1", "Heartbeat", {}]}',
            '{"timestamp": "2025-03-09T10:00:00Z", "charge_point_id": "CP-1", "message": [2, "2", "StatusNotification", {"connectorId": 1, "status": "Available", "status": "Faulted", "errorCode": "NoError"}]}',
            '{"timestamp": "2025-03-09T10:00:00Z", "charge_point_id": "CP-1", "message": [2, "3", "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": "2025-03-09T10:00:00Z", "sampledValue": [{"value": "1", "value": "9"}]}]}]}',
            hb("CP-1", "2025-03-09T10:01:00Z", "4"),
        ],
    )
    r = only_bad(read_log(p), p, {1, 2, 3})
    assert r[(1, "timestamp")] == "duplicated key 'timestamp'"
    assert r[(2, "message[3].status")] == "duplicated key 'status'"
    assert r[(3, "message[3].meterValue[0].sampledValue[0].value")] == "duplicated key 'value'"


def test_deeply_nested_json_is_quarantined(tmp_path):
    deep = "[" * 100 + "]" * 100
    very_deep = "[" * 200_000 + "]" * 200_000
    p = write(
        tmp_path / "log.ndjson",
        [
            '{"timestamp": "2025-03-09T10:00:00Z", "charge_point_id": "CP-1", "message": [2, "1", "DataTransfer", {"vendorId": "x", "data": '
            + deep
            + "}]}",
            '{"timestamp": "2025-03-09T10:00:00Z", "charge_point_id": "CP-1", "message": ' + very_deep + "}",
            '{"timestamp": "2025-03-09T10:00:00Z", "charge_point_id": "CP-1", "message": [2, "3", "DataTransfer", {"vendorId": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}]}',
            hb("CP-1", "2025-03-09T10:01:00Z", "4"),
        ],
    )
    b = read_log(p)
    r = only_bad(b, p, {1, 2})
    assert r[(1, None)] == "JSON nested 103 levels deep (more than the limit of 64; see Limits.max_json_depth)"
    assert r[(2, None)].startswith("JSON nested 200001 levels deep")
    with limits.using(max_json_depth=200):
        assert only_bad(read_log(p), p, {2})[(2, None)].startswith("JSON nested 200001")


def test_overlong_ids_are_quarantined(tmp_path):
    p = write(
        tmp_path / "log.ndjson",
        [
            hb("C" * 256, OK_TS, "1"),
            line(
                "CP-1",
                OK_TS,
                [
                    2,
                    "2",
                    "StartTransaction",
                    {"connectorId": 1, "idTag": "T" * 300, "meterStart": 0, "timestamp": OK_TS},
                ],
            ),
            hb("C" * 255, OK_TS, "3"),
        ],
    )
    r = only_bad(read_log(p), p, {1, 2})
    assert r[(1, "charge_point_id")].startswith("charge_point_id longer than 255 characters")
    assert r[(2, "message[3].idTag")] == "idTag longer than 255 characters"


def test_hostile_lines_through_the_warehouse_keep_the_ledger_identity(tmp_path):
    p = write(
        tmp_path / "log.ndjson",
        [
            hb("CP-1", OK_TS, "1"),
            hb("CP-1", "2200-01-01T00:00:00Z", "2"),
            status16("CP-1", OK_TS, "3", status="Broken"),
            meter("CP-1", OK_TS, [{"value": "1e400"}], "4"),
            "{" * 70 + "}" * 70,
            "not json",
            hb("CP-1", "2025-03-09T10:10:00Z", "7"),
        ],
    )
    wh = open_warehouse(tmp_path / "w.duckdb")
    try:
        r = ingest_file(wh, p)
        assert (r.records_read, r.accepted, r.duplicate, r.quarantined) == (7, 2, 0, 5)
        (notes,) = wh.con.execute("SELECT notes FROM ingest_ledger").fetchone()
        assert (
            notes
            == "charger CP-1: clock ran ahead: record 2 at 2200-01-01T00:00 is 175 years ahead of the next message (record 3, 2025-03-09T10:00); 1 message outside the window quarantined"
        )
        assert wh.con.execute("SELECT count(*) FROM heartbeats").fetchone() == (2,)
    finally:
        wh.close()


# ---- property: mutated lines of a generated log -------------------------------------------------------


@pytest.fixture(scope="module")
def generated_lines(demo_networks) -> list[str]:
    out = demo_networks.files(ports=8, months=2, seed=7)
    log = sorted((out / "ocpp").glob("*.ndjson"))[0]
    return log.read_text().splitlines()[:60]


JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        ["NaN", "Infinity", "-1", "1e9999", "2200-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "", "\u0000", "9" * 50]
    ),
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3),
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


def _mutate(text: str, rnd: random.Random, value, how: str) -> str:
    if how == "bytes":
        raw = bytearray(text.encode())
        for _ in range(rnd.randint(1, 4)):
            raw[rnd.randrange(len(raw))] = rnd.randrange(256)
        return raw.decode("latin-1")
    if how == "cut":
        return text[: rnd.randrange(len(text))]
    try:  # a line an earlier draw already broke ("bytes", "cut") stays as broken as it is
        obj = json.loads(text)
    except ValueError:
        return text
    paths = [p for p in _paths(obj) if p]
    if not paths:
        return text
    path = rnd.choice(paths)
    parent = obj
    for k in path[:-1]:
        parent = parent[k]
    if how == "drop" and isinstance(parent, dict):
        del parent[path[-1]]
    elif how == "deep":
        parent[path[-1]] = json.loads("[" * 80 + "]" * 80)
    else:
        parent[path[-1]] = value
    return json.dumps(obj, allow_nan=True)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    values=st.lists(JSON_VALUE, min_size=1, max_size=6),
    hows=st.lists(st.sampled_from(["set", "set", "set", "drop", "deep", "bytes", "cut"]), min_size=1, max_size=6),
)
def test_mutated_generated_log_never_raises_and_keeps_the_identity(tmp_path, generated_lines, seed, values, hows):
    rnd = random.Random(seed)
    lines = list(generated_lines)
    for value, how in zip(values, hows, strict=False):
        i = rnd.randrange(len(lines))
        lines[i] = _mutate(lines[i], rnd, value, how)
    p = tmp_path / f"m{seed}.ndjson"
    p.write_bytes(
        "\n".join(x.replace("\n", " ").replace("\r", " ") for x in lines).encode("utf-8", "surrogatepass") + b"\n"
    )
    b = read(p, "ocpp-log")
    identity(b, p)
    for t in b.tables.values():  # nothing stored lies outside the window or is not finite
        for name in ("observed_at", "started_at", "ended_at"):
            if name in t.column_names:
                for v in t.column(name).to_pylist():
                    assert v is None or limits.current().time_problem(v) is None
        if "value" in t.column_names:
            assert all(v is None or abs(v) < 1e15 for v in t.column("value").to_pylist())
