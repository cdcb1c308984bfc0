"""OCPP 1.6J / 2.0.1 message logs: rows, merges, absorbed results, repeats, quarantine, counting.

Hand-written logs in ``tests/fixtures/ocpp`` check exact values at known lines;
small logs written inline check single rules; a generated log checks the
counting identity at scale.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from evrevops.formats import detect, read
from evrevops.formats.base import FormatError
from evrevops.formats.ocpp import read_log
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from evrevops.warehouse.schema import TABLES as WAREHOUSE_TABLES

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "ocpp"
FIXTURES = ["ocpp16_session", "ocpp16_calls_only", "ocpp201_session", "quirks", "quarantine"]
TABLES = ["status_events", "meter_readings", "heartbeats", "ocpp_transactions"]
D = dt.datetime


def fixture(name: str) -> Path:
    return FIX / f"{name}.ndjson"


def rows(batch, table: str) -> list[dict]:
    return batch.tables[table].to_pylist()


def absorbed(batch) -> list[tuple[int, int]]:
    return [(r["source_record"], r["owner_record"]) for r in batch.absorbed.to_pylist()]


def reasons(batch) -> dict[tuple[int, str | None], str]:
    return {(r["source_record"], r["field"]): r["reason"] for r in batch.quarantine.to_pylist()}


def partition(batch, path: Path) -> dict[str, set[int]]:
    """Split the file's non-blank lines into with-rows / absorbed / quarantined / no-row, checking they are disjoint."""
    lines = [i for i, text in enumerate(path.read_bytes().split(b"\n"), 1) if text.strip()]
    with_rows = set().union(*(set(t.column("source_record").to_pylist()) for t in batch.tables.values()))
    ab = [r for r, _ in absorbed(batch)]
    quarantined = set(batch.quarantine.column("source_record").to_pylist())
    assert len(ab) == len(set(ab)), "a line is absorbed twice"
    ab_set = set(ab)
    assert not with_rows & ab_set and not with_rows & quarantined and not ab_set & quarantined
    assert (with_rows | ab_set | quarantined) <= set(lines)
    no_rows = set(lines) - with_rows - ab_set - quarantined
    assert batch.records_read == len(lines)
    assert batch.records_read == len(with_rows) + len(ab_set) + len(quarantined) + len(no_rows)
    # an owner is never itself absorbed (chains are resolved) and never a line of another fate than rows/no-rows/quarantine
    owners = {o for _, o in absorbed(batch)}
    assert not owners & ab_set
    return {"rows": with_rows, "absorbed": ab_set, "quarantined": quarantined, "no_rows": no_rows}


def rec(cp: str, ts: str, message: list | str, **extra) -> dict:
    return {"timestamp": ts, "charge_point_id": cp, "message": message, **extra}


def write(path: Path, lines: list) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


# ---------------------------------------------------------------------------------------------
# OCPP 1.6J
# ---------------------------------------------------------------------------------------------


def test_16_full_session_with_callresults():
    b = read_log(fixture("ocpp16_session"))
    assert b.format == "ocpp-log" and b.records_read == 22
    assert b.quarantine.num_rows == 0
    (tx,) = rows(b, "ocpp_transactions")
    assert tx == {
        "charger_id": "CP-A",
        "transaction_id": "1001",  # from the StartTransaction's CALLRESULT (line 10)
        "connector_id": 1,
        "id_tag": "TAG-1",
        "started_at": D(2025, 3, 9, 7, 2),
        "ended_at": D(2025, 3, 9, 7, 45),
        "meter_start_wh": 10000.0,
        "meter_stop_wh": 18200.0,
        "stop_reason": "EVDisconnected",
        "protocol": "ocpp1.6",
        "source_record": 9,
    }
    st = rows(b, "status_events")
    assert [(r["source_record"], r["connector_id"], r["status"], r["error_code"]) for r in st] == [
        (3, 0, "Available", "NoError"),  # connector 0 = the whole charger, kept
        (5, 1, "Preparing", "NoError"),
        (11, 1, "Charging", "NoError"),
        (19, 1, "Finishing", "NoError"),
        (21, 1, "Faulted", "GroundFailure"),
    ]
    assert st[0]["observed_at"] == D(2025, 3, 9, 7, 0, 5)  # payload timestamp
    assert st[1]["observed_at"] == D(2025, 3, 9, 7, 1) and st[1]["info"] == "cable plugged"  # no payload ts: record's
    assert st[4]["vendor_error_code"] == "E42" and {r["protocol"] for r in st} == {"ocpp1.6"}
    mr = rows(b, "meter_readings")
    assert [(r["source_record"], r["measurand"], r["phase"], r["value"], r["unit"], r["context"]) for r in mr] == [
        (13, "Energy.Active.Import.Register", None, 13500.0, "Wh", "Sample.Periodic"),  # measurand/unit defaults
        (13, "Power.Active.Import", None, 7.2, "kW", "Sample.Periodic"),  # unit kept, not converted
        (13, "Current.Import", "L1", 32.1, "A", "Sample.Periodic"),
        (13, "SoC", None, 45.0, "Percent", "Sample.Periodic"),
        (17, "Energy.Active.Import.Register", None, 18200.0, "Wh", "Transaction.End"),  # StopTransaction data
    ]
    assert {(r["connector_id"], r["transaction_id"]) for r in mr} == {(1, "1001")}
    assert mr[0]["observed_at"] == D(2025, 3, 9, 7, 15)
    assert rows(b, "heartbeats") == [
        {"charger_id": "CP-A", "observed_at": D(2025, 3, 9, 7, 20), "message": "Heartbeat", "source_record": 15}
    ]
    assert b.implied["chargers"].to_pylist() == [
        {
            "charger_id": "CP-A",
            "vendor": "ABB",
            "model": "Terra AC",
            "serial_number": "S123",
            "firmware_version": "1.8.2",
            "ocpp_version": "ocpp1.6",
            "source_record": 1,
        }
    ]
    assert "chargers" not in b.tables  # a boot is not the authority on a charger: it only fills gaps
    assert absorbed(b) == [(n, n - 1) for n in range(2, 23, 2)]  # every CALLRESULT into its CALL
    p = partition(b, fixture("ocpp16_session"))
    assert p["no_rows"] == {1, 7}  # BootNotification (implied charger only) and Authorize


def test_16_calls_only_log():
    b = read_log(fixture("ocpp16_calls_only"))
    tx = {r["transaction_id"]: r for r in rows(b, "ocpp_transactions")}
    assert set(tx) == {"77", "start:2:2025-03-09T08:05:00.25Z", "78"}
    # connector 1: the MeterValues after the start on that connector tells its transactionId, so the stop links
    assert tx["77"] | {} == {
        "charger_id": "CP-B",
        "transaction_id": "77",
        "connector_id": 1,
        "id_tag": "A",
        "started_at": D(2025, 3, 9, 8, 0),
        "ended_at": D(2025, 3, 9, 8, 30),
        "meter_start_wh": 500.0,
        "meter_stop_wh": 4200.0,
        "stop_reason": "Local",  # absent reason: OCPP 1.6 says assume Local
        "protocol": "ocpp1.6",
        "source_record": 1,
    }
    # connector 2: no result, no meter value -> deterministic synthetic id; its stop stays unmatched
    s = tx["start:2:2025-03-09T08:05:00.25Z"]
    assert (s["connector_id"], s["started_at"], s["meter_start_wh"], s["ended_at"]) == (
        2,
        D(2025, 3, 9, 8, 5, 0, 250000),
        0.0,
        None,
    )
    assert s["source_record"] == 3
    u = tx["78"]
    assert (u["started_at"], u["ended_at"], u["meter_stop_wh"], u["stop_reason"], u["source_record"]) == (
        None,
        D(2025, 3, 9, 8, 40),
        900.0,
        "Remote",
        5,
    )
    assert absorbed(b) == [(4, 1)]  # the linked stop is merged into the start's row
    assert rows(b, "meter_readings")[0]["transaction_id"] == "77"
    assert read_log(fixture("ocpp16_calls_only")).tables["ocpp_transactions"].equals(b.tables["ocpp_transactions"])


def test_start_result_is_matched_to_the_nearest_call_when_uids_repeat(tmp_path):
    """Charger UniqueIds restart after a reconnect: "1" twice, each result goes to the CALL nearest in time."""
    start = {"connectorId": 1, "idTag": "A", "meterStart": 0}
    p = write(
        tmp_path / "u.ndjson",
        [
            rec(
                "CP",
                "2025-03-09T08:00:00Z",
                [2, "1", "StartTransaction", start | {"timestamp": "2025-03-09T08:00:00Z"}],
            ),
            rec(
                "CP",
                "2025-03-09T09:00:00Z",
                [2, "1", "StartTransaction", start | {"timestamp": "2025-03-09T09:00:00Z"}],
            ),
            rec("CP", "2025-03-09T09:00:01Z", [3, "1", {"transactionId": 2}]),
            rec("CP", "2025-03-09T08:00:01Z", [3, "1", {"transactionId": 1}]),
            rec("CP", "2025-03-09T08:00:01Z", [3, "1", {"transactionId": 1}]),  # logged twice
        ],
    )
    b = read_log(p)
    assert [(r["transaction_id"], r["started_at"].hour, r["source_record"]) for r in rows(b, "ocpp_transactions")] == [
        ("1", 8, 1),
        ("2", 9, 2),
    ]
    assert absorbed(b) == [(3, 2), (4, 1), (5, 1)]  # the repeat of line 4 is resolved to line 4's owner
    partition(b, p)


def test_callerror_completes_its_call_and_leaves_the_start_without_id(tmp_path):
    p = write(
        tmp_path / "e.ndjson",
        [
            rec(
                "CP",
                "2025-03-09T08:00:00Z",
                [2, "9", "StartTransaction", {"connectorId": 3, "idTag": "A", "meterStart": 5}],
            ),
            rec("CP", "2025-03-09T08:00:01Z", [4, "9", "InternalError", "db down", {}]),
        ],
    )
    b = read_log(p)
    (tx,) = rows(b, "ocpp_transactions")
    assert tx["transaction_id"] == "start:3:2025-03-09T08:00:00Z"  # no timestamp in the payload: the record's
    assert absorbed(b) == [(2, 1)]


# ---------------------------------------------------------------------------------------------
# OCPP 2.0.1
# ---------------------------------------------------------------------------------------------


def test_201_transaction_event_session():
    b = read_log(fixture("ocpp201_session"))
    assert b.quarantine.num_rows == 0
    (tx,) = rows(b, "ocpp_transactions")
    assert tx == {
        "charger_id": "CP-C",
        "transaction_id": "TX-9",
        "connector_id": 1,  # evse.id of the Started event
        "id_tag": "RFID-7",
        "started_at": D(2025, 3, 9, 9, 0),
        "ended_at": D(2025, 3, 9, 9, 40),
        "meter_start_wh": 1500.0,  # 1.5 kWh register at Transaction.Begin, in Wh
        "meter_stop_wh": 20250.0,  # 20.25 kWh at Transaction.End
        "stop_reason": "EVDisconnected",
        "protocol": "ocpp2.0.1",
        "source_record": 4,
    }
    mr = rows(b, "meter_readings")
    got = [
        (r["source_record"], r["transaction_id"], r["connector_id"], r["measurand"], r["value"], r["unit"]) for r in mr
    ]
    assert got == [
        (4, "TX-9", 1, "Energy.Active.Import.Register", 1.5, "kWh"),  # unit kept as given
        (6, "TX-9", 1, "Energy.Active.Import.Register", 9500.0, "Wh"),  # connector from the transaction
        (6, "TX-9", 1, "Power.Active.Import", 22500.0, "W"),  # 22.5 × 10^3 (unitOfMeasure.multiplier)
        (8, None, 1, "Voltage", 230.1, "V"),  # 2.0.1 MeterValues: connector = evseId
        (9, "TX-9", 1, "Energy.Active.Import.Register", 20.25, "kWh"),
    ]
    assert mr[0]["context"] == "Transaction.Begin" and mr[3]["phase"] == "L1-N"
    st = rows(b, "status_events")
    assert [(r["connector_id"], r["status"], r["error_code"], r["protocol"]) for r in st] == [
        (1, "Occupied", None, "ocpp2.0.1"),
        (1, "Available", None, "ocpp2.0.1"),
    ]
    assert st[0]["observed_at"] == D(2025, 3, 9, 8, 59, 58)
    assert rows(b, "heartbeats")[0]["observed_at"] == D(2025, 3, 9, 9, 45)
    (ch,) = b.implied["chargers"].to_pylist()
    assert (ch["vendor"], ch["model"], ch["serial_number"], ch["firmware_version"], ch["ocpp_version"]) == (
        "Alpitronic",
        "Supernova",
        "HYC-9",
        "2.1",
        "ocpp2.0.1",
    )
    # results into their CALLs; the Updated event without meter values is merged into the transaction row
    assert absorbed(b) == [(2, 1), (5, 4), (7, 4), (12, 11)]


def test_201_transaction_seen_without_its_start(tmp_path):
    ev = {"triggerReason": "Trigger", "seqNo": 5, "evse": {"id": 2}}
    p = write(
        tmp_path / "t.ndjson",
        [
            rec(
                "CP",
                "2025-03-09T10:00:00Z",
                [
                    2,
                    "a",
                    "TransactionEvent",
                    ev
                    | {
                        "eventType": "Updated",
                        "timestamp": "2025-03-09T10:00:00Z",
                        "transactionInfo": {"transactionId": "T"},
                    },
                ],
            ),
            rec(
                "CP",
                "2025-03-09T10:30:00Z",
                [
                    2,
                    "b",
                    "TransactionEvent",
                    {
                        "eventType": "Ended",
                        "timestamp": "2025-03-09T10:30:00Z",
                        "triggerReason": "StopAuthorized",
                        "seqNo": 6,
                        "transactionInfo": {"transactionId": "T"},
                    },
                ],
            ),
        ],
    )
    (tx,) = rows(read_log(p), "ocpp_transactions")
    assert (tx["started_at"], tx["ended_at"], tx["connector_id"], tx["stop_reason"], tx["source_record"]) == (
        None,
        D(2025, 3, 9, 10, 30),
        2,
        "Local",  # 2.0.1: stoppedReason may only be omitted when it is Local
        1,
    )


def test_version_is_stated_or_inferred(tmp_path):
    p = write(
        tmp_path / "v.ndjson",
        [
            rec(
                "CP",
                "2025-03-09T10:00:00Z",
                [2, "1", "StatusNotification", {"connectorId": 1, "status": "Available", "errorCode": "NoError"}],
            ),
            rec(
                "CP",
                "2025-03-09T10:00:01Z",
                [
                    2,
                    "2",
                    "StatusNotification",
                    {"evseId": 2, "connectorId": 1, "connectorStatus": "Faulted", "timestamp": "2025-03-09T10:00:01Z"},
                ],
            ),
            rec(
                "CP",
                "2025-03-09T10:00:02Z",
                [2, "3", "StatusNotification", {"connectorId": 3, "status": "Charging", "errorCode": "NoError"}],
                protocol="OCPP 1.6J",
            ),
            rec(
                "CP",
                "2025-03-09T10:00:03Z",
                [
                    2,
                    "4",
                    "MeterValues",
                    {
                        "evseId": 2,
                        "meterValue": [{"timestamp": "2025-03-09T10:00:03Z", "sampledValue": [{"value": 7}]}],
                    },
                ],
            ),
        ],
    )
    b = read_log(p)
    assert [(r["connector_id"], r["status"], r["protocol"]) for r in rows(b, "status_events")] == [
        (1, "Available", "ocpp1.6"),
        (2, "Faulted", "ocpp2.0.1"),
        (3, "Charging", "ocpp1.6"),
    ]
    assert [(r["connector_id"], r["value"]) for r in rows(b, "meter_readings")] == [(2, 7.0)]


# ---------------------------------------------------------------------------------------------
# what real chargers send
# ---------------------------------------------------------------------------------------------


def test_numbers_as_strings_and_timestamp_spellings():
    b = read_log(fixture("quirks"))
    (tx,) = rows(b, "ocpp_transactions")
    assert tx["transaction_id"] == "555" and tx["connector_id"] == 2  # "connectorId": "2"
    assert tx["meter_start_wh"] == 1234.5 and tx["meter_stop_wh"] == 5000.0  # "1234.5", "5000"
    assert tx["started_at"] == D(2025, 3, 9, 10, 0)  # "11:00:00+01:00"
    assert tx["ended_at"] == D(2025, 3, 9, 10, 30, 0, 500000)  # fractional seconds
    (st,) = rows(b, "status_events")
    assert st["observed_at"] == D(2025, 3, 9, 10, 0, 5, 123456)  # no offset: UTC
    assert st["connector_id"] == 2
    mr = rows(b, "meter_readings")
    assert [(r["value"], r["connector_id"], r["transaction_id"]) for r in mr] == [
        (2000.5, 2, "555"),
        (11.0, 2, "555"),
        (3000.0, 2, "555"),  # numbers as numbers (line 7) and as strings (line 5) give the same ids
    ]
    hb = rows(b, "heartbeats")
    # line 8 "2025-03-09 10:20:00" (space, no Z); line 15 "+02:00" with "chargePointId" and the frame as a string
    assert [(r["source_record"], r["observed_at"]) for r in hb] == [
        (8, D(2025, 3, 9, 10, 20)),
        (10, D(2025, 3, 9, 11, 20)),
        (15, D(2025, 3, 9, 8, 33)),
    ]
    for t in TABLES:
        assert b.tables[t].schema.field("source_record").type == pa.int64()


def test_duplicates_replays_and_out_of_order_lines():
    b = read_log(fixture("quirks"))
    assert dict(absorbed(b)) == {
        1: 2,  # CALLRESULT logged before its CALL still completes it
        4: 3,  # the same StatusNotification twice: the first occurrence keeps it
        6: 5,  # MeterValues replayed under a new UniqueId: every reading already in line 5
        9: 8,  # the same Heartbeat frame at the same instant ("10:20:00" and "10:20:00Z")
        11: 2,  # StopTransaction merged into its StartTransaction's row
        13: 12,  # CALLERROR completes the DataTransfer
    }
    # line 7 replays line 5's readings and adds one: it keeps only the new one
    assert [r["observed_at"] for r in rows(b, "meter_readings") if r["source_record"] == 7] == [D(2025, 3, 9, 10, 10)]
    # the same Heartbeat frame an hour later (UniqueIds restart on reconnect) is a new heartbeat
    assert 10 in {r["source_record"] for r in rows(b, "heartbeats")}
    p = partition(b, fixture("quirks"))
    assert p["no_rows"] == {12, 14}  # DataTransfer, FirmwareStatusNotification: nothing to store
    for t in TABLES:  # no warehouse key twice within the file
        ks = [tuple(r[k] for k in WAREHOUSE_TABLES[t].key) for r in rows(b, t)]
        assert len(ks) == len(set(ks)), t


def test_repeated_frames_and_results_logged_before_their_call(tmp_path):
    sec = [2, "s", "SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": "2025-03-09T09:59:00Z"}]
    auth = [2, "a", "Authorize", {"idTag": "A"}]
    p = write(
        tmp_path / "r.ndjson",
        [
            rec("CP", "2025-03-09T10:00:00Z", sec),
            rec("CP", "2025-03-09T10:05:00Z", sec),  # the frame states its own time: the same message again
            rec("CP", "2025-03-09T10:00:00Z", auth),
            rec("CP", "2025-03-09T10:30:00Z", auth),  # no time of its own, later: a new Authorize (uid restarted)
            rec("CP", "2025-03-09T09:59:59.990Z", [3, "a", {"idTagInfo": {"status": "Accepted"}}]),  # stamped early
            rec("CP", "2025-03-09T10:30:00.100Z", [3, "a", {"idTagInfo": {"status": "Blocked"}}]),
        ],
    )
    b = read_log(p)
    assert absorbed(b) == [(2, 1), (5, 3), (6, 4)]
    assert partition(b, p)["no_rows"] == {1, 3, 4}


@pytest.mark.parametrize("name", ["ocpp16_session", "ocpp16_calls_only", "ocpp201_session"])
def test_line_order_does_not_change_the_rows(tmp_path, name):
    lines = fixture(name).read_text().splitlines()
    p = write(tmp_path / "rev.ndjson", lines[::-1])
    n = len(lines)
    a, b = read_log(fixture(name)), read_log(p)
    for t in TABLES:
        want = sorted(map(repr, rows(a, t)))
        got = sorted(repr(r | {"source_record": n + 1 - r["source_record"]}) for r in rows(b, t))
        assert got == want, t
    assert sorted(absorbed(a)) == sorted((n + 1 - s, n + 1 - o) for s, o in absorbed(b))


def test_payload_and_meter_timestamps_fall_back_to_the_record(tmp_path):
    p = write(
        tmp_path / "f.ndjson",
        [
            rec(
                "CP",
                "2025-03-09T10:00:00+00:00",
                [
                    2,
                    "1",
                    "MeterValues",
                    {
                        "connectorId": 1,
                        "meterValue": [
                            {
                                "sampledValue": [
                                    {"value": "1", "format": "SignedData"},
                                    {"value": "5.5", "measurand": "Voltage", "unit": "V"},
                                ]
                            }
                        ],
                    },
                ],
            ),
            rec(
                "CP",
                "2025-03-09T10:00:01Z",
                [
                    2,
                    "2",
                    "MeterValues",
                    {
                        "evseId": 1,
                        "meterValue": [
                            {
                                "timestamp": "2025-03-09T10:00:01Z",
                                "sampledValue": [{"value": 123, "unitOfMeasure": {"unit": "kWh", "multiplier": -1}}],
                            }
                        ],
                    },
                ],
            ),
        ],
    )
    mr = rows(read_log(p), "meter_readings")
    assert [(r["source_record"], r["observed_at"], r["measurand"], r["value"], r["unit"]) for r in mr] == [
        (1, D(2025, 3, 9, 10, 0), "Voltage", 5.5, "V"),  # SignedData sample skipped, record time used
        (2, D(2025, 3, 9, 10, 0, 1), "Energy.Active.Import.Register", 12.3, "kWh"),  # 123 × 10^-1
    ]


# ---------------------------------------------------------------------------------------------
# quarantine and counting
# ---------------------------------------------------------------------------------------------


def test_quarantine_reasons_name_line_and_field():
    b = read_log(fixture("quarantine"))
    assert b.records_read == 18  # 19 lines, one blank
    assert reasons(b) == {
        (2, None): "malformed JSON",
        (3, None): "record is not a JSON object",
        (4, "charge_point_id"): "missing charge_point_id",
        (5, "timestamp"): "unparseable timestamp: 'yesterday'",
        (6, "message"): """message is not an OCPP-J array: '{"action":"Heartbeat"}'""",
        (7, "message[3].status"): "StatusNotification without status",
        (8, "message[3].meterValue[0].sampledValue[1].value"): "not a number: 'abc'",
        (9, "message[1]"): "CALLRESULT with no matching CALL",
        (11, "message[0]"): "unknown MessageTypeId '7' (expected 2 CALL, 3 CALLRESULT or 4 CALLERROR)",
        (12, "message[3].transactionId"): "StopTransaction without transactionId",
        (13, "message[3].connectorId"): "connectorId is not an integer: 'one'",
        (14, "message[3].timestamp"): "unparseable timestamp: '2025-13-45T00:00:00Z'",
        (16, "message[3].eventType"): "unknown eventType 'Paused' (expected Started, Updated or Ended)",
        (17, "protocol"): "unsupported protocol 'ocpp1.5' (expected ocpp1.6 or ocpp2.0.1)",
        (18, "timestamp"): "missing timestamp",
        (19, "charge_point_id"): "missing charge_point_id",  # one line, two bad fields: two rows
        (19, "timestamp"): "unparseable timestamp: '12:00'",
    }
    raw = {r["source_record"]: r["raw"] for r in b.quarantine.to_pylist()}
    assert raw[2] == "{not json" and json.loads(raw[8])["message"][1] == "e-5"
    # a quarantined line gives no rows, not even its valid samples (line 8's "100")
    assert b.tables["meter_readings"].num_rows == 0
    # the result of the quarantined StatusNotification (line 7) is absorbed into it; the loader quarantines it too
    assert absorbed(b) == [(15, 7)]
    p = partition(b, fixture("quarantine"))
    assert p["rows"] == {1} and p["no_rows"] == set()


def test_more_frame_and_payload_reasons(tmp_path):
    ok_ts = "2025-03-09T10:00:00Z"
    p = write(
        tmp_path / "q.ndjson",
        [
            rec("CP", ok_ts, [2, "1", "Heartbeat"]),
            rec("CP", ok_ts, [2, "2", 5, {}]),
            rec("CP", ok_ts, [2, "3", "Heartbeat", "x"]),
            rec("CP", ok_ts, [2, None, "Heartbeat", {}]),
            rec("CP", ok_ts, [4, "nope", "GenericError", "", {}]),
            rec("CP", ok_ts, [2, "4", "MeterValues", {"connectorId": 1}]),
            rec(
                "CP",
                ok_ts,
                [
                    2,
                    "5",
                    "MeterValues",
                    {
                        "connectorId": 1,
                        "meterValue": [{"timestamp": "soon", "sampledValue": [{"context": "Sample.Periodic"}]}, 3],
                    },
                ],
            ),
            rec("CP", ok_ts, [2, "6", "StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": "NaN"}]),
            rec(
                "CP",
                ok_ts,
                [
                    2,
                    "7",
                    "TransactionEvent",
                    {"eventType": "Started", "timestamp": ok_ts, "evse": {"id": "x"}, "transactionInfo": {}},
                ],
            ),
            rec("CP", ok_ts, [2, "8", "StatusNotification", {"evseId": 1, "connectorId": 1}], protocol="ocpp2.0.1"),
            rec("CP", ok_ts, "not a frame"),
            rec("CP", ok_ts, [3, "9"]),
        ],
    )
    b = read_log(p)
    assert reasons(b) == {
        (1, "message"): "CALL must be [2, UniqueId, Action, Payload]; it has 3 elements",
        (2, "message[2]"): "CALL without an Action name",
        (3, "message[3]"): "CALL payload is not a JSON object",
        (4, "message[1]"): "missing UniqueId",
        (5, "message[1]"): "CALLERROR with no matching CALL",
        (6, "message[3].meterValue"): "MeterValues without a meterValue array",
        (7, "message[3].meterValue[0].timestamp"): "unparseable timestamp: 'soon'",
        (7, "message[3].meterValue[0].sampledValue[0].value"): "missing value",
        (7, "message[3].meterValue[1]"): "meterValue element is not a JSON object",
        (8, "message[3].meterStart"): "meterStart is not a number: 'NaN'",
        (9, "message[3].transactionInfo.transactionId"): "TransactionEvent without transactionInfo.transactionId",
        (9, "message[3].evse.id"): "evse.id is not an integer: 'x'",
        (10, "message[3].connectorStatus"): "StatusNotification without connectorStatus",
        (11, "message"): "message is not an OCPP-J array: 'not a frame'",
        (12, "message"): "CALLRESULT must be [3, UniqueId, Payload]; it has 2 elements",
    }
    partition(b, p)


def test_invalid_utf8_line_is_quarantined_and_the_rest_read(tmp_path):
    good = json.dumps(rec("CP", "2025-03-09T10:00:00Z", [2, "1", "Heartbeat", {}])).encode()
    bad = json.dumps(rec("CP", "2025-03-09T10:00:01Z", [2, "2", "Authorize", {"idTag": "X"}])).encode()
    p = tmp_path / "u.ndjson"
    later = good.replace(b'"1"', b'"3"').replace(b"10:00:00Z", b"10:05:00Z")
    p.write_bytes(good + b"\n" + bad.replace(b'"X"', b'"\xff"') + b"\r\n\r\n" + later + b"\n")
    b = read_log(p)
    assert b.records_read == 3
    assert reasons(b) == {(2, None): "not valid UTF-8 (bytes replaced by U+FFFD)"}
    assert [r["source_record"] for r in rows(b, "heartbeats")] == [1, 4]


def test_mixed_line_endings_keep_line_numbers(tmp_path):
    lines = [json.dumps(rec("CP", f"2025-03-09T10:0{i}:00Z", [2, str(i), "Heartbeat", {}])).encode() for i in range(4)]
    p = tmp_path / "m.ndjson"
    p.write_bytes(lines[0] + b"\n" + lines[1] + b"\r\n\r\n" + lines[2] + b"\n  \n" + lines[3] + b"\r\n")
    b = read_log(p)
    assert b.records_read == 4
    assert [r["source_record"] for r in rows(b, "heartbeats")] == [1, 2, 4, 6]


def test_empty_file_and_unreadable_lines(tmp_path):
    p = tmp_path / "e.ndjson"
    p.write_text("\n  \n")
    b = read_log(p)
    assert b.records_read == 0 and all(t.num_rows == 0 for t in b.tables.values())
    long = tmp_path / "long.ndjson"
    long.write_text(json.dumps(rec("CP", "2025-03-09T10:00:00Z", [2, "1", "DataTransfer", {"data": "x" * (17 << 20)}])))
    with pytest.raises(FormatError, match="long.ndjson"):
        read_log(long)


@pytest.mark.parametrize("name", FIXTURES)
def test_every_line_is_counted_once(name):
    b = read_log(fixture(name))
    partition(b, fixture(name))


def test_counting_identity_at_scale(tmp_path):
    """A generated 1.6J log (all CALLs answered, some repeated lines): the identity and the row counts hold."""
    n = 4000
    p = tmp_path / "big.ndjson"
    con = duckdb.connect()
    con.execute(
        f"""COPY (
            WITH c AS (
                SELECT i, 'CP' || (i % 37) AS cp, strftime(TIMESTAMP '2025-01-01' + to_seconds(i * 10),
                       '%Y-%m-%dT%H:%M:%SZ') AS ts, CAST(i AS VARCHAR) AS uid FROM range({n}) t(i))
            , msgs AS (
                SELECT i, 0 AS k, json_object('timestamp', ts, 'charge_point_id', cp, 'message',
                    CASE i % 3 WHEN 0 THEN json_array(2, uid, 'Heartbeat', json_object())
                         WHEN 1 THEN json_array(2, uid, 'StatusNotification', json_object('connectorId', i % 2,
                              'status', 'Available', 'errorCode', 'NoError', 'timestamp', ts))
                         ELSE json_array(2, uid, 'MeterValues', json_object('connectorId', 1, 'meterValue',
                              json_array(json_object('timestamp', ts, 'sampledValue', json_array(
                                  json_object('value', CAST(i AS VARCHAR)),
                                  json_object('value', '1.5', 'measurand', 'Power.Active.Import', 'unit', 'kW'))))))
                    END)::VARCHAR AS line FROM c
                UNION ALL
                SELECT i, 1, json_object('timestamp', ts, 'charge_point_id', cp, 'message',
                    json_array(3, uid, json_object()))::VARCHAR FROM c
            ), lines AS (SELECT i, k, line FROM msgs
                UNION ALL SELECT i, 2, line FROM msgs WHERE k = 0 AND i % 100 = 0)  -- the CALL logged twice
            SELECT line FROM lines ORDER BY i, k
        ) TO '{p}' (FORMAT CSV, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x01')"""
    )
    b = read_log(p)
    parts = partition(b, p)
    assert b.records_read == 2 * n + n // 100
    assert b.tables["heartbeats"].num_rows == len(range(0, n, 3))
    assert b.tables["status_events"].num_rows == len(range(1, n, 3))
    assert b.tables["meter_readings"].num_rows == 2 * len(range(2, n, 3))
    assert len(parts["absorbed"]) == n + n // 100  # every result, and every repeated CALL
    assert not parts["quarantined"] and not parts["no_rows"]


# ---------------------------------------------------------------------------------------------
# end to end: detection, types, the warehouse
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_detected_by_content_and_read(tmp_path, name):
    p = shutil.copy(fixture(name), tmp_path / "log.jsonl")
    assert detect(p) == ("ocpp-log", None)
    b = read(p)
    direct = read_log(fixture(name))
    assert b.format == "ocpp-log" and b.records_read == direct.records_read
    for t in TABLES:
        assert b.tables[t].equals(direct.tables[t])


_ARROW = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "DOUBLE": pa.float64(), "TIMESTAMP": pa.timestamp("us")}


def test_column_types_match_the_warehouse(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    b = read_log(fixture("ocpp16_session"))
    for name, tbl in [*b.tables.items(), *b.implied.items()]:
        types = dict(wh.con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {name})").fetchall())
        for f in tbl.schema:
            want = pa.int64() if f.name == "source_record" else _ARROW[types[f.name]]
            assert f.type == want, (name, f.name)
        assert "port_id" not in tbl.column_names  # the loader resolves it from ports
    wh.close()


def test_ingest_counts_and_reingest_under_another_name(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    got = {n: ingest_file(wh, fixture(n)) for n in FIXTURES}
    assert {n: (r.records_read, r.accepted, r.duplicate, r.quarantined) for n, r in got.items()} == {
        "ocpp16_session": (22, 22, 0, 0),
        "ocpp16_calls_only": (5, 5, 0, 0),
        "ocpp201_session": (12, 12, 0, 0),
        "quirks": (15, 15, 0, 0),
        "quarantine": (18, 1, 0, 17),  # line 15 shares the fate of the quarantined CALL it completes
    }
    assert wh.con.sql("SELECT count(*) FROM ocpp_transactions").fetchall() == [(6,)]
    assert wh.con.sql("SELECT charger_id, vendor FROM chargers ORDER BY 1").fetchall() == [
        ("CP-A", "ABB"),
        ("CP-C", "Alpitronic"),
    ]
    # the same session in another file: every line with rows, and every result completing one, is a duplicate
    copy = tmp_path / "again.ndjson"
    copy.write_text(fixture("ocpp16_session").read_text() + "\n")
    r = ingest_file(wh, copy)
    assert (r.records_read, r.accepted, r.duplicate, r.quarantined) == (22, 4, 18, 0)  # Boot, Authorize + results
    wh.close()
