"""OCPI 2.2.1 Charge Detail Records (``mod_cdrs``).

A CDR is one session: plug-in to plug-out at one EVSE (an evrevops *port*).
Site = ``cdr_location.id``, port = ``cdr_location.evse_uid`` (brief, §1).

Time quantities follow the Atlas/EVgo definitions of handbook §3:
``plugged_in_s = total_time × 3600``, ``idle_s = total_parking_time × 3600``
and ``charging_s = plugged_in_s − idle_s``. A CDR does not say *when* inside the
session the car charged; evrevops assumes charging comes first and idle time
after (``charging_ended_at = started_at + charging_s``), which is how the
splitting of charging time across days places it.

Money: ``total_cost.excl_vat`` etc. are read as exact decimal text and turned
into integer minor units of the CDR's ``currency`` (half away from zero).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa

from evrevops.formats.base import Batch, quarantine_table
from evrevops.formats.records import checks_failed, connect, json_records, ndjson_fast, quarantine_from_checks

_STRUCTURE = """{
  "country_code": "VARCHAR", "party_id": "VARCHAR", "id": "VARCHAR",
  "start_date_time": "VARCHAR", "end_date_time": "VARCHAR",
  "auth_method": "VARCHAR",
  "cdr_token": {"uid": "VARCHAR"},
  "cdr_location": {"id": "VARCHAR", "name": "VARCHAR", "address": "VARCHAR", "city": "VARCHAR",
                   "postal_code": "VARCHAR", "state": "VARCHAR", "country": "VARCHAR",
                   "coordinates": {"latitude": "VARCHAR", "longitude": "VARCHAR"},
                   "evse_uid": "VARCHAR", "evse_id": "VARCHAR", "connector_id": "VARCHAR",
                   "connector_standard": "VARCHAR", "connector_power_type": "VARCHAR"},
  "currency": "VARCHAR",
  "tariffs": [{"country_code": "VARCHAR", "party_id": "VARCHAR", "id": "VARCHAR"}],
  "charging_periods": "JSON",
  "total_cost": {"excl_vat": "VARCHAR", "incl_vat": "VARCHAR"},
  "total_fixed_cost": {"excl_vat": "VARCHAR"},
  "total_energy": "VARCHAR", "total_energy_cost": {"excl_vat": "VARCHAR"},
  "total_time": "VARCHAR", "total_time_cost": {"excl_vat": "VARCHAR"},
  "total_parking_time": "VARCHAR", "total_parking_cost": {"excl_vat": "VARCHAR"},
  "last_updated": "VARCHAR"
}"""

# The streaming pass reads numbers straight into their types (no text round trip): quantities as
# DOUBLE, amounts as DECIMAL(18, 9). Amounts that are JSON numbers go through DuckDB's double parser
# on either pass (exact to 15 significant digits); amounts given as JSON strings stay exact. An
# amount of 10^9 or more, or a value of the wrong kind, fails the pass, and the careful reader
# (text for every number, 38-digit decimals) takes the file.


def _fast_structure() -> str:
    fields = json.loads(_STRUCTURE)
    for k in ("total_energy", "total_time", "total_parking_time"):
        fields[k] = "DOUBLE"
    for k, v in fields.items():
        if k.startswith("total_") and isinstance(v, dict):  # total_cost, total_energy_cost, ...
            fields[k] = {f: "DECIMAL(18, 9)" for f in v}
    return json.dumps(fields)


_FAST_STRUCTURE = _fast_structure()

_CHECKS = [
    ("blank(c.id)", "id", "'missing CDR id'"),
    ("c.start_date_time IS NULL", "start_date_time", "'missing start_date_time'"),
    (
        "c.start_date_time IS NOT NULL AND started_at IS NULL",
        "start_date_time",
        "'not an ISO-8601 date-time: ' || c.start_date_time",
    ),
    ("c.end_date_time IS NULL", "end_date_time", "'missing end_date_time'"),
    (
        "c.end_date_time IS NOT NULL AND ended_at IS NULL",
        "end_date_time",
        "'not an ISO-8601 date-time: ' || c.end_date_time",
    ),
    (
        "ended_at < started_at",
        "end_date_time",
        "'end_date_time ' || c.end_date_time || ' is before start_date_time ' || c.start_date_time",
    ),
    (
        "blank(c.cdr_location.id)",
        "cdr_location.id",
        "'missing cdr_location.id (site)'",
    ),
    (
        "blank(c.cdr_location.evse_uid)",
        "cdr_location.evse_uid",
        "'missing cdr_location.evse_uid (port)'",
    ),
    ("c.total_energy IS NULL", "total_energy", "'missing total_energy'"),
    ("c.total_energy IS NOT NULL AND energy_kwh IS NULL", "total_energy", "'not a number: ' || c.total_energy"),
    ("energy_kwh < 0", "total_energy", "'negative energy: ' || c.total_energy"),
    ("c.total_time IS NULL", "total_time", "'missing total_time'"),
    ("c.total_time IS NOT NULL AND total_time_h IS NULL", "total_time", "'not a number: ' || c.total_time"),
    ("total_time_h < 0", "total_time", "'negative total_time: ' || c.total_time"),
    (
        "c.total_parking_time IS NOT NULL AND parking_h IS NULL",
        "total_parking_time",
        "'not a number: ' || c.total_parking_time",
    ),
    ("parking_h < 0", "total_parking_time", "'negative total_parking_time: ' || c.total_parking_time"),
    (
        "parking_h > total_time_h + 1e-9",
        "total_parking_time",
        "'total_parking_time ' || c.total_parking_time || ' exceeds total_time ' || c.total_time",
    ),
    (
        "c.currency IS NULL OR NOT regexp_full_match(c.currency, '[A-Z]{3}')",
        "currency",
        "'not an ISO-4217 currency: ' || coalesce(c.currency, 'missing')",
    ),
    (
        "c.total_cost.excl_vat IS NOT NULL AND total_cost_minor IS NULL",
        "total_cost.excl_vat",
        "'not a number: ' || c.total_cost.excl_vat",
    ),
    (
        "c.last_updated IS NOT NULL AND last_updated_at IS NULL",
        "last_updated",
        "'not an ISO-8601 date-time: ' || c.last_updated",
    ),
]


_DERIVE = """
    utc_ts(c.start_date_time) AS started_at,
    utc_ts(c.end_date_time) AS ended_at,
    TRY_CAST(c.total_energy AS DOUBLE) AS energy_kwh,
    TRY_CAST(c.total_time AS DOUBLE) AS total_time_h,
    coalesce(TRY_CAST(c.total_parking_time AS DOUBLE), CASE WHEN c.total_parking_time IS NULL THEN 0.0 END) AS parking_h,
    currency_exponent(c.currency) AS minor_exponent,
    minor_units(c.total_cost.excl_vat, minor_exponent) AS total_cost_minor,
    utc_ts(c.last_updated) AS last_updated_at"""

# One sessions row per CDR, over ``c`` (the parsed record) and the derived columns above.
_SESSION = """
    coalesce(c.country_code, '') || '*' || coalesce(c.party_id, '') || '*' || c.id AS session_id,
    'ocpi' AS source,
    c.cdr_location.id AS site_id,
    c.cdr_location.evse_uid AS port_id,
    c.cdr_location.connector_id AS connector_id,
    started_at, ended_at,
    started_at + to_microseconds(CAST(round((total_time_h - parking_h) * 3.6e9) AS BIGINT)) AS charging_ended_at,
    energy_kwh,
    total_time_h * 3600.0 AS plugged_in_s,
    (total_time_h - parking_h) * 3600.0 AS charging_s,
    parking_h * 3600.0 AS idle_s,
    c.currency AS currency,
    total_cost_minor,
    minor_units(c.total_cost.incl_vat, minor_exponent) AS total_cost_incl_vat_minor,
    minor_units(c.total_energy_cost.excl_vat, minor_exponent) AS energy_cost_minor,
    minor_units(c.total_time_cost.excl_vat, minor_exponent) AS time_cost_minor,
    minor_units(c.total_parking_cost.excl_vat, minor_exponent) AS parking_cost_minor,
    minor_units(c.total_fixed_cost.excl_vat, minor_exponent) AS fixed_cost_minor,
    CASE WHEN c.tariffs[1].id IS NULL THEN NULL
         WHEN coalesce(c.tariffs[1].country_code, c.country_code) IS NULL
              AND coalesce(c.tariffs[1].party_id, c.party_id) IS NULL THEN c.tariffs[1].id
         ELSE coalesce(c.tariffs[1].country_code, c.country_code, '') || '*'
              || coalesce(c.tariffs[1].party_id, c.party_id, '') || '*' || c.tariffs[1].id END AS tariff_id,
    c.auth_method AS auth_method,
    c.cdr_token.uid AS token_uid,
    CAST(c.charging_periods AS VARCHAR) AS charging_periods,
    last_updated_at"""

# What a CDR's location says of its site and port (implied rows), latest record winning; ``loc_*``
# columns ride along with the sessions columns and are dropped from the sessions table.
_LOCATION = """
    c.cdr_location.name AS loc_name, c.cdr_location.address AS loc_address, c.cdr_location.city AS loc_city,
    c.cdr_location.postal_code AS loc_postal_code, c.cdr_location.state AS loc_state,
    c.cdr_location.country AS loc_country,
    TRY_CAST(c.cdr_location.coordinates.latitude AS DOUBLE) AS loc_latitude,
    TRY_CAST(c.cdr_location.coordinates.longitude AS DOUBLE) AS loc_longitude,
    c.cdr_location.evse_id AS loc_evse_id, c.cdr_location.connector_power_type AS loc_power_type,
    c.cdr_location.connector_standard AS loc_connector_standard"""

_IMPLIED_SITES = """SELECT site_id,
    arg_max(loc_name, source_record) AS name, arg_max(loc_address, source_record) AS address,
    arg_max(loc_city, source_record) AS city, arg_max(loc_postal_code, source_record) AS postal_code,
    arg_max(loc_state, source_record) AS state, arg_max(loc_country, source_record) AS country,
    arg_max(loc_latitude, source_record) AS latitude, arg_max(loc_longitude, source_record) AS longitude,
    min(source_record) AS source_record
FROM {rows} GROUP BY 1 ORDER BY 1"""

_IMPLIED_PORTS = """SELECT port_id,
    arg_max(site_id, source_record) AS site_id, arg_max(loc_evse_id, source_record) AS evse_id,
    arg_max(loc_power_type, source_record) AS power_type,
    arg_max(loc_connector_standard, source_record) AS connector_standard,
    min(source_record) AS source_record
FROM {rows} GROUP BY 1 ORDER BY 1"""


def read_cdrs(path: Path, mapping: str | None = None) -> Batch:
    """Read OCPI 2.2.1 CDRs from a JSON array, NDJSON or OCPI response page.

    An uncompressed NDJSON file is first read in one streaming, parallel pass
    (:func:`~evrevops.formats.records.ndjson_fast`); when that pass meets
    anything it cannot vouch for (a malformed line, a blank line, a record that
    fails a check), the file is read again line by line, which names every
    rejected record's line, field and reason. Both passes give the same rows.

    Returns
    -------
    Batch
        ``sessions`` rows; implied ``sites`` and ``ports`` from each CDR's
        location; quarantine rows for invalid CDRs (see ``docs/formats.md``).
    """
    path = Path(path)
    con = connect()
    try:
        return _read_fast(con, path) or _read_checked(con, path)
    finally:
        con.close()


def _batch(con: duckdb.DuckDBPyConnection, n: int, rows: pa.Table, quarantine: pa.Table) -> Batch:
    """Sessions and implied sites/ports from *rows* (sessions columns, ``loc_*``, ``source_record``)."""
    con.register("_rows", rows)
    sites = con.sql(_IMPLIED_SITES.format(rows="_rows")).to_arrow_table()
    ports = con.sql(_IMPLIED_PORTS.format(rows="_rows")).to_arrow_table()
    con.unregister("_rows")
    return Batch(
        format="ocpi-cdrs",
        records_read=n,
        tables={"sessions": rows.drop_columns([c for c in rows.column_names if c.startswith("loc_")])},
        implied={"sites": sites, "ports": ports},
        quarantine=quarantine,
    )


def _read_fast(con: duckdb.DuckDBPyConnection, path: Path) -> Batch | None:
    rows = ndjson_fast(con, path, _FAST_STRUCTURE, _DERIVE, f"{_SESSION}, {_LOCATION}", checks_failed(_CHECKS))
    if rows is None:
        return None
    return _batch(con, rows.num_rows, rows, quarantine_table([]))


def _read_checked(con: duckdb.DuckDBPyConnection, path: Path) -> Batch:
    n, bad = json_records(con, path, _STRUCTURE, derive="," + _DERIVE)
    q = quarantine_from_checks(con, "parsed", _CHECKS)
    rows = con.sql(
        f"""SELECT {_SESSION}, {_LOCATION}, rec AS source_record
            FROM parsed WHERE rec NOT IN (SELECT rec FROM {q}) ORDER BY rec"""
    ).to_arrow_table()
    qrows = con.execute(f"SELECT rec, field, reason, raw FROM {q} ORDER BY rec, field").fetchall()
    return _batch(con, n, rows, quarantine_table(bad + qrows))
