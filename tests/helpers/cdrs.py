"""Write OCPI CDR files for tests, in bulk with DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb


def write_cdrs(
    path: Path, n: int, sites: int = 50, ports_per_site: int = 4, start: str = "2025-01-01", id_prefix: str = "T"
) -> Path:
    """Write *n* valid OCPI 2.2.1 CDRs as NDJSON: 30-90 min sessions, 12.34 USD each, one every 7 min from *start*.

    The readers refuse CDRs dated after the ingest's clock (plus a day), so a large *n* needs an earlier *start*.
    """
    con = duckdb.connect()
    con.execute(
        f"""COPY (
            SELECT 'US' AS country_code, 'EVR' AS party_id, '{id_prefix}' || i AS id,
                   strftime(TIMESTAMP '{start}' + to_minutes(i * 7), '%Y-%m-%dT%H:%M:%SZ') AS start_date_time,
                   strftime(TIMESTAMP '{start}' + to_minutes(i * 7 + 30 + i % 60), '%Y-%m-%dT%H:%M:%SZ') AS end_date_time,
                   {{'uid': 'TOK' || (i % 1000), 'type': 'RFID', 'contract_id': 'C' || (i % 1000)}} AS cdr_token,
                   'WHITELIST' AS auth_method,
                   {{'id': 'S' || (i % {sites}), 'name': 'Site ' || (i % {sites}), 'address': 'Main St 1', 'city': 'Denver',
                     'country': 'USA', 'coordinates': {{'latitude': '39.7', 'longitude': '-104.9'}},
                     'evse_uid': 'S' || (i % {sites}) || '-P' || ((i // {sites}) % {ports_per_site}),
                     'evse_id': 'US*EVR*E' || i % ({sites} * {ports_per_site}), 'connector_id': '1',
                     'connector_standard': 'IEC_62196_T1_COMBO', 'connector_format': 'CABLE',
                     'connector_power_type': 'DC'}} AS cdr_location,
                   'USD' AS currency,
                   [{{'start_date_time': strftime(TIMESTAMP '{start}' + to_minutes(i * 7), '%Y-%m-%dT%H:%M:%SZ'),
                      'dimensions': [{{'type': 'ENERGY', 'volume': 20.5}}]}}] AS charging_periods,
                   {{'excl_vat': 12.34, 'incl_vat': 12.34}} AS total_cost,
                   20.5 AS total_energy,
                   {{'excl_vat': 12.34}} AS total_energy_cost,
                   round((30 + i % 60) / 60.0, 6) AS total_time,
                   0.0 AS total_parking_time,
                   strftime(TIMESTAMP '{start}' + to_minutes(i * 7 + 120), '%Y-%m-%dT%H:%M:%SZ') AS last_updated
            FROM range({n}) t(i)
        ) TO '{path}' (FORMAT JSON)"""
    )
    con.close()
    return path


def cdr(**overrides) -> dict:
    """One valid CDR as a dict; override fields by keyword (``None`` removes a field)."""
    base = {
        "country_code": "US",
        "party_id": "EVR",
        "id": "CDR1",
        "start_date_time": "2025-03-09T06:30:00Z",
        "end_date_time": "2025-03-09T08:30:00Z",
        "cdr_token": {"uid": "TOK1", "type": "RFID", "contract_id": "C1"},
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "S1",
            "name": "Site 1",
            "evse_uid": "S1-P1",
            "evse_id": "US*EVR*E1",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T1_COMBO",
            "connector_format": "CABLE",
            "connector_power_type": "DC",
        },
        "currency": "USD",
        "charging_periods": [
            {"start_date_time": "2025-03-09T06:30:00Z", "dimensions": [{"type": "ENERGY", "volume": 40.5}]}
        ],
        "total_cost": {"excl_vat": 12.5, "incl_vat": 13.75},
        "total_energy": 40.5,
        "total_energy_cost": {"excl_vat": 10.0},
        "total_parking_cost": {"excl_vat": 2.5},
        "total_time": 2.0,
        "total_parking_time": 0.5,
        "last_updated": "2025-03-09T08:31:00Z",
    }
    for k, v in overrides.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return base


def write_ndjson(path: Path, records: list) -> Path:
    with open(path, "w") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path
