"""Dirty files aimed at a demo network, as real CPO data has them: every record must be refused at the door.

``evrevops generate --dirty-out DIR`` writes them beside a demo network, and ``make demo``
ingests them after the network: the ingest quarantines every record with its reason (charger
clocks reset to 1970 or run ahead to 2200, CDRs dated 9999, NaN and infinite energy, amounts
of 10^19, an unknown currency, charging periods that are not a list, energy above what the port
can deliver, duplicated JSON keys, JSON nested 100,000 deep, invalid UTF-8, a tariff price of
10^20) and refuses the file that is not the gzip it says it is; the demo's figures stay what
they were. Records name the demo's own sites, ports and chargers, so anything that slipped
through would move them (``tests/hostile/test_demo_unmoved.py``).

:func:`write_dirty` returns each file with how it must end: ``("quarantined", n)`` —
committed with all of its *n* records quarantined — or ``("refused", text)`` — not
committed, with *text* in the message.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path


def demo_ids(demo: Path) -> dict:
    with open(demo / "sites.csv", newline="") as f:
        row = next(csv.DictReader(f))
    with open(sorted((demo / "ocpp").iterdir())[0]) as f:
        charger = json.loads(f.readline())["charge_point_id"]
    return {
        "site": row["site_id"],
        "port": row["port_id"],
        "rated_kw": float(row["rated_kw"]),
        "charger": charger,
        "tz": row["time_zone"],
    }


def _cdr(ids: dict, n: int, **over) -> dict:
    rec = {
        "country_code": "US",
        "party_id": "EVR",
        "id": f"HOSTILE-{n}",
        "start_date_time": "2025-06-10T10:00:00Z",
        "end_date_time": "2025-06-10T11:00:00Z",
        "cdr_token": {"uid": "T", "type": "RFID", "contract_id": "C"},
        "auth_method": "WHITELIST",
        "cdr_location": {"id": ids["site"], "evse_uid": ids["port"], "evse_id": "X", "connector_id": "1"},
        "currency": "USD",
        "charging_periods": [
            {"start_date_time": "2025-06-10T10:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 5}]}
        ],
        "total_cost": {"excl_vat": "3.00", "incl_vat": "3.00"},
        "total_energy": 5,
        "total_time": 1.0,
        "total_parking_time": 0,
        "last_updated": "2025-06-10T11:05:00Z",
    }
    for k, v in over.items():
        if v is None:
            rec.pop(k, None)
        else:
            rec[k] = v
    return rec


def _ocpp(ts: str, charger: str, action: str, payload: dict, n: int) -> str:
    return json.dumps({"timestamp": ts, "charge_point_id": charger, "message": [2, f"hostile-{n}", action, payload]})


Written = tuple[Path, str | None, tuple[str, object]]  # (path, format a directory ingest detects, expected)


def _dirty_cdrs(folder: Path, ids: dict) -> Written:
    """CDRs with bad dates, numbers, money, currency, types, duplicated keys, nesting and encoding."""
    cdrs = [
        _cdr(ids, 1, start_date_time="9999-12-31T00:00:00Z", end_date_time="9999-12-31T01:00:00Z"),
        _cdr(ids, 2, start_date_time="1970-01-01T00:00:00Z", end_date_time="1970-01-01T01:00:00Z"),
        _cdr(ids, 3, start_date_time="2200-01-01T00:00:00Z", end_date_time="2200-01-01T01:00:00Z"),
        _cdr(ids, 4, total_energy=1e308),
        _cdr(ids, 5, total_time=1e15),
        _cdr(ids, 6, total_cost={"excl_vat": 1e19, "incl_vat": 1e19}),
        _cdr(ids, 7, total_cost={"excl_vat": "1e20", "incl_vat": "1e20"}),
        _cdr(ids, 8, currency="XYZ"),
        _cdr(ids, 9, total_cost={"excl_vat": "-5.00", "incl_vat": "-5.00"}),
        _cdr(ids, 10, charging_periods="not a list"),
        _cdr(ids, 11, total_energy=ids["rated_kw"] * 1.0 * 1.1 + 50),  # more than the port can deliver in 1 h
        _cdr(ids, 12, end_date_time="2025-06-10T09:00:00Z"),  # ends before it starts
    ]
    lines = [json.dumps(c) for c in cdrs]
    lines.append(json.dumps(_cdr(ids, 13)).replace('"total_energy": 5', '"total_energy": NaN'))
    lines.append(json.dumps(_cdr(ids, 14)).replace('"total_energy": 5', '"total_energy": Infinity'))
    lines.append(json.dumps(_cdr(ids, 15)).replace('"total_time": 1.0', '"total_time": NaN'))
    lines.append(json.dumps(_cdr(ids, 16)).replace('"total_energy": 5', '"total_energy": 5, "total_energy": 500'))
    lines.append('{"id": "HOSTILE-17", "deep": ' + "[" * 100_000 + "]" * 100_000 + "}")
    p = folder / "cdrs-hostile.ndjson"
    data = ("\n".join(lines) + "\n").encode()
    bad_utf8 = json.dumps(_cdr(ids, 18, cdr_token={"uid": "T", "type": "RFID", "contract_id": "XX"})).encode()
    data += bad_utf8.replace(b'"XX"', b'"\xff\xfe"') + b"\n"
    p.write_bytes(data)
    return p, "ocpi-cdrs", ("quarantined", len(lines) + 1)


def _dirty_ocpp(folder: Path, ids: dict) -> Written:
    """OCPP messages: clocks that reset or run ahead, unknown statuses, negative connectors, huge meter values."""
    c = ids["charger"]
    msgs = [
        _ocpp("2200-01-01T00:00:00Z", c, "Heartbeat", {}, 1),
        _ocpp("9999-12-31T23:59:59Z", c, "Heartbeat", {}, 2),
        _ocpp("1970-01-01T00:00:05Z", c, "Heartbeat", {}, 3),
        _ocpp(
            "2025-06-10T10:00:00Z",
            c,
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Exploded", "timestamp": "2025-06-10T10:00:00Z"},
            4,
        ),
        _ocpp(
            "2025-06-10T10:00:01Z",
            c,
            "StatusNotification",
            {"connectorId": -1, "errorCode": "NoError", "status": "Available", "timestamp": "2025-06-10T10:00:01Z"},
            5,
        ),
        _ocpp(
            "2025-06-10T10:00:02Z",
            c,
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Faulted", "timestamp": "9999-01-01T00:00:00Z"},
            6,
        ),
    ]
    meter = _ocpp(
        "2025-06-10T10:00:03Z",
        c,
        "MeterValues",
        {
            "connectorId": 1,
            "meterValue": [
                {
                    "timestamp": "2025-06-10T10:00:03Z",
                    "sampledValue": [{"value": "1", "measurand": "Power.Active.Import", "unit": "kW"}],
                }
            ],
        },
        7,
    ).replace('"value": "1"', '"value": 1e9999')
    msgs.append(meter)
    p = folder / "ocpp-hostile.ndjson"
    p.write_text("\n".join(msgs) + "\n")
    return p, "ocpp-log", ("quarantined", len(msgs))


def _dirty_tariffs(folder: Path) -> Written:
    """OCPI tariffs: a price of 1e20, elements that are not a list."""
    tariffs = [
        {
            "country_code": "US",
            "party_id": "EVR",
            "id": "HOSTILE-T1",
            "currency": "USD",
            "elements": [{"price_components": [{"type": "ENERGY", "price": 1e20, "step_size": 1}]}],
            "last_updated": "2025-06-01T00:00:00Z",
        },
        {
            "country_code": "US",
            "party_id": "EVR",
            "id": "HOSTILE-T2",
            "currency": "USD",
            "elements": "free charging",
            "last_updated": "2025-06-01T00:00:00Z",
        },
    ]
    p = folder / "tariffs-hostile.ndjson"
    p.write_text("\n".join(json.dumps(t) for t in tariffs) + "\n")
    return p, "ocpi-tariffs", ("quarantined", 2)


def _not_gzip(folder: Path) -> Written:
    """A file named .gz that is not gzip: the whole file is refused."""
    p = folder / "cdrs-not-gzip.ndjson.gz"
    p.write_bytes(b"plain text, not gzip\n")
    return p, None, ("refused", "not a valid gzip file")


def write_dirty(folder: Path, demo: Path) -> list[Written]:
    """Write the dirty files into *folder*, aimed at the demo network in *demo*.

    Returns
    -------
    list of (path, format, expected)
        ``format`` is the one a directory ingest detects; ``expected`` as in the module's text.
    """
    folder.mkdir(parents=True, exist_ok=True)
    ids = demo_ids(demo)
    return [_dirty_cdrs(folder, ids), _dirty_ocpp(folder, ids), _dirty_tariffs(folder), _not_gzip(folder)]
