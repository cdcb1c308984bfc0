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

Refused at the door (quarantined, one row per bad field, see ``docs/formats.md``): what a
later report could not use or would trip on — timestamps outside the time window in force
(:mod:`evrevops.formats.limits`), sessions longer than the limit, numbers that are not finite,
negative or implausible (energy beyond what the power limit delivers in the session's time),
amounts that are negative or not below the money limit, currencies outside ISO 4217, texts
longer than OCPI allows, ``charging_periods`` that are not a list of periods with a start and
dimensions of a known type with a finite volume, and objects that repeat a key.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from evrevops.formats import limits
from evrevops.formats.base import Batch, quarantine_table
from evrevops.formats.ocpi_cdr_careful import CAREFUL_DERIVE, careful_checks
from evrevops.formats.ocpi_cdr_checks import AMOUNTS, fast_failed, field_checks, values_problem
from evrevops.formats.ocpi_cdr_periods import periods_problem
from evrevops.formats.records import connect, json_records, ndjson_fast, quarantine_from_checks

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
  "total_cost": {"excl_vat": "DECIMAL(18, 9)", "incl_vat": "DECIMAL(18, 9)"},
  "total_fixed_cost": {"excl_vat": "DECIMAL(18, 9)"},
  "total_energy": "VARCHAR", "total_energy_cost": {"excl_vat": "DECIMAL(18, 9)"},
  "total_time": "VARCHAR", "total_time_cost": {"excl_vat": "DECIMAL(18, 9)"},
  "total_parking_time": "VARCHAR", "total_parking_cost": {"excl_vat": "DECIMAL(18, 9)"},
  "last_updated": "VARCHAR"
}"""

# Both passes read a record into this one structure. Quantities are read as the JSON parser's
# text (a JSON boolean is the text 'true', not 1) and cast in SQL. Amounts are read straight into
# DECIMAL(18, 9), by DuckDB's JSON reader on both passes: numbers through its double parser (exact
# to 15 significant digits), JSON strings exactly, a JSON boolean as 1 or 0 (the reader's rule).
# An amount that does not fit (10^9 or more, not a number) fails the streaming pass; the careful
# reader then takes it from the record's text (38-digit decimals) and names what is wrong. A
# value of the wrong kind (text where an object is expected, a key given twice) also fails the
# streaming pass. ``charging_periods`` is kept as the reader's compact JSON text; the streaming
# pass vouches for it by a regular expression of well-formed periods (:func:`~evrevops.formats.ocpi_cdr_periods.periods_regex`),
# the careful reader checks it field by field.

_DERIVE = """
    utc_ts(c.start_date_time) AS started_at,
    utc_ts(c.end_date_time) AS ended_at,
    TRY_CAST(c.total_energy AS DOUBLE) AS energy_kwh,
    TRY_CAST(c.total_time AS DOUBLE) AS total_time_h,
    coalesce(TRY_CAST(c.total_parking_time AS DOUBLE), CASE WHEN c.total_parking_time IS NULL THEN 0.0 END) AS parking_h,
    currency_exponent(c.currency) AS minor_exponent,
    utc_ts(c.last_updated) AS last_updated_at,
    TRY_CAST(c.cdr_location.coordinates.latitude AS DOUBLE) AS latitude_deg,
    TRY_CAST(c.cdr_location.coordinates.longitude AS DOUBLE) AS longitude_deg"""

# amounts, streaming pass: the record's DECIMAL(18, 9) values
_FAST_AMOUNTS = ",\n    c.total_cost.excl_vat IS NOT NULL AS total_cost_given" + "".join(
    f",\n    {col} AS {stem}_amount, CAST({col} AS DOUBLE) AS {stem}_major" for col, _, stem in AMOUNTS
)
# amounts, careful pass: the DECIMAL(18, 9) value, else the record's text (10^9 and more, or no number)
_CAREFUL_AMOUNTS = (
    ",\n    json_extract_string(j, ["
    + ", ".join(f"'$.{field}'" for _, field, _ in AMOUNTS)
    + "]) AS amount_texts,\n    amount_texts[1] IS NOT NULL AS total_cost_given"
    + "".join(
        f",\n    coalesce(CAST({col} AS DECIMAL(38, 9)), TRY_CAST(amount_texts[{i}] AS DECIMAL(38, 9))) AS {stem}_amount"
        f",\n    coalesce(CAST({col} AS DOUBLE), TRY_CAST(amount_texts[{i}] AS DOUBLE)) AS {stem}_major"
        for i, (col, _, stem) in enumerate(AMOUNTS, start=1)
    )
)

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
    minor_units(total_cost_amount, minor_exponent) AS total_cost_minor,
    minor_units(total_cost_incl_vat_amount, minor_exponent) AS total_cost_incl_vat_minor,
    minor_units(energy_cost_amount, minor_exponent) AS energy_cost_minor,
    minor_units(time_cost_amount, minor_exponent) AS time_cost_minor,
    minor_units(parking_cost_amount, minor_exponent) AS parking_cost_minor,
    minor_units(fixed_cost_amount, minor_exponent) AS fixed_cost_minor,
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
    latitude_deg AS loc_latitude, longitude_deg AS loc_longitude,
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
    fails a check, charging periods it cannot vouch for without a parse), the
    file is read again line by line, which names every rejected record's line,
    field and reason. Both passes give the same rows. The limits in force
    (:func:`evrevops.formats.limits.current`) bound times, numbers and amounts.

    Returns
    -------
    Batch
        ``sessions`` rows; implied ``sites`` and ``ports`` from each CDR's
        location; quarantine rows for invalid CDRs (see ``docs/formats.md``).
    """
    path = Path(path)
    lim = limits.current()
    con = connect()
    try:
        return _read_fast(con, path, lim) or _read_checked(con, path, lim)
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


def _read_fast(con: duckdb.DuckDBPyConnection, path: Path, lim: limits.Limits | None = None) -> Batch | None:
    lim = lim or limits.current()
    rows = ndjson_fast(con, path, _STRUCTURE, _DERIVE + _FAST_AMOUNTS, f"{_SESSION}, {_LOCATION}", fast_failed(lim))
    if rows is None or values_problem(rows) or periods_problem(rows.column("charging_periods"), lim):
        return None
    return _batch(con, rows.num_rows, rows, quarantine_table([]))


def _read_checked(con: duckdb.DuckDBPyConnection, path: Path, lim: limits.Limits | None = None) -> Batch:
    lim = lim or limits.current()
    n, bad = json_records(con, path, _STRUCTURE, derive="," + _DERIVE + _CAREFUL_AMOUNTS + CAREFUL_DERIVE)
    q = quarantine_from_checks(con, "parsed", [*field_checks(lim), *careful_checks(lim)])
    rows = con.sql(
        f"""SELECT {_SESSION}, {_LOCATION}, rec AS source_record
            FROM parsed WHERE rec NOT IN (SELECT rec FROM {q}) ORDER BY rec"""
    ).to_arrow_table()
    qrows = con.execute(f"SELECT rec, field, reason, raw FROM {q} ORDER BY rec, field").fetchall()
    return _batch(con, n, rows, quarantine_table(bad + qrows))
