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

from pathlib import Path

from evrevops.formats.base import Batch, quarantine_table
from evrevops.formats.records import connect, json_records, quarantine_from_checks

_STRUCTURE = """{
  "country_code": "VARCHAR", "party_id": "VARCHAR", "id": "VARCHAR",
  "start_date_time": "VARCHAR", "end_date_time": "VARCHAR",
  "session_id": "VARCHAR", "auth_method": "VARCHAR",
  "cdr_token": {"uid": "VARCHAR"},
  "cdr_location": {"id": "VARCHAR", "name": "VARCHAR", "address": "VARCHAR", "city": "VARCHAR",
                   "postal_code": "VARCHAR", "state": "VARCHAR", "country": "VARCHAR",
                   "coordinates": {"latitude": "VARCHAR", "longitude": "VARCHAR"},
                   "evse_uid": "VARCHAR", "evse_id": "VARCHAR", "connector_id": "VARCHAR",
                   "connector_standard": "VARCHAR", "connector_format": "VARCHAR",
                   "connector_power_type": "VARCHAR"},
  "currency": "VARCHAR",
  "tariffs": [{"id": "VARCHAR"}],
  "charging_periods": "JSON",
  "total_cost": {"excl_vat": "VARCHAR", "incl_vat": "VARCHAR"},
  "total_fixed_cost": {"excl_vat": "VARCHAR"},
  "total_energy": "VARCHAR", "total_energy_cost": {"excl_vat": "VARCHAR"},
  "total_time": "VARCHAR", "total_time_cost": {"excl_vat": "VARCHAR"},
  "total_parking_time": "VARCHAR", "total_parking_cost": {"excl_vat": "VARCHAR"},
  "last_updated": "VARCHAR"
}"""

_CHECKS = [
    ("c.id IS NULL OR trim(c.id) = ''", "id", "'missing CDR id'"),
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
        "c.cdr_location.id IS NULL OR trim(c.cdr_location.id) = ''",
        "cdr_location.id",
        "'missing cdr_location.id (site)'",
    ),
    (
        "c.cdr_location.evse_uid IS NULL OR trim(c.cdr_location.evse_uid) = ''",
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


def read_cdrs(path: Path, mapping: str | None = None) -> Batch:
    """Read OCPI 2.2.1 CDRs from a JSON array, NDJSON or OCPI response page.

    Returns
    -------
    Batch
        ``sessions`` rows; implied ``sites`` and ``ports`` from each CDR's
        location; quarantine rows for invalid CDRs (see ``docs/formats.md``).
    """
    path = Path(path)
    con = connect()
    n, bad = json_records(
        con,
        path,
        _STRUCTURE,
        derive=""",
            utc_ts(c.start_date_time) AS started_at,
            utc_ts(c.end_date_time) AS ended_at,
            TRY_CAST(c.total_energy AS DOUBLE) AS energy_kwh,
            TRY_CAST(c.total_time AS DOUBLE) AS total_time_h,
            coalesce(TRY_CAST(c.total_parking_time AS DOUBLE), CASE WHEN c.total_parking_time IS NULL THEN 0.0 END) AS parking_h,
            to_minor(c.total_cost.excl_vat, c.currency) AS total_cost_minor,
            utc_ts(c.last_updated) AS last_updated_at""",
    )
    q = quarantine_from_checks(con, "parsed", _CHECKS)
    con.execute(f"CREATE OR REPLACE TEMP VIEW good AS SELECT * FROM parsed WHERE rec NOT IN (SELECT rec FROM {q})")
    sessions = con.sql(
        """SELECT
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
            to_minor(c.total_cost.incl_vat, c.currency) AS total_cost_incl_vat_minor,
            to_minor(c.total_energy_cost.excl_vat, c.currency) AS energy_cost_minor,
            to_minor(c.total_time_cost.excl_vat, c.currency) AS time_cost_minor,
            to_minor(c.total_parking_cost.excl_vat, c.currency) AS parking_cost_minor,
            to_minor(c.total_fixed_cost.excl_vat, c.currency) AS fixed_cost_minor,
            c.tariffs[1].id AS tariff_id,
            c.auth_method AS auth_method,
            c.cdr_token.uid AS token_uid,
            CAST(c.charging_periods AS VARCHAR) AS charging_periods,
            last_updated_at,
            rec AS source_record
        FROM good ORDER BY rec"""
    ).to_arrow_table()
    sites = con.sql(
        """SELECT c.cdr_location.id AS site_id,
            arg_max(c.cdr_location.name, rec) AS name,
            arg_max(c.cdr_location.address, rec) AS address,
            arg_max(c.cdr_location.city, rec) AS city,
            arg_max(c.cdr_location.postal_code, rec) AS postal_code,
            arg_max(c.cdr_location.state, rec) AS state,
            arg_max(c.cdr_location.country, rec) AS country,
            arg_max(TRY_CAST(c.cdr_location.coordinates.latitude AS DOUBLE), rec) AS latitude,
            arg_max(TRY_CAST(c.cdr_location.coordinates.longitude AS DOUBLE), rec) AS longitude,
            min(rec) AS source_record
        FROM good GROUP BY 1 ORDER BY 1"""
    ).to_arrow_table()
    ports = con.sql(
        """SELECT c.cdr_location.evse_uid AS port_id,
            arg_max(c.cdr_location.id, rec) AS site_id,
            arg_max(c.cdr_location.evse_id, rec) AS evse_id,
            arg_max(c.cdr_location.connector_power_type, rec) AS power_type,
            arg_max(c.cdr_location.connector_standard, rec) AS connector_standard,
            min(rec) AS source_record
        FROM good GROUP BY 1 ORDER BY 1"""
    ).to_arrow_table()
    qrows = con.execute(f"SELECT rec, field, reason, raw FROM {q} ORDER BY rec, field").fetchall()
    con.close()
    return Batch(
        format="ocpi-cdrs",
        records_read=n,
        tables={"sessions": sessions},
        implied={"sites": sites, "ports": ports},
        quarantine=quarantine_table(bad + qrows),
    )
