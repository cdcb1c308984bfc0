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

import datetime as dt
import itertools
import os
import re
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from evrevops.core import iso4217
from evrevops.core.calendar import days_in_month
from evrevops.core.iso4217 import payable_sql
from evrevops.formats import limits
from evrevops.formats.base import Batch, quarantine_table
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
# pass vouches for it by a regular expression of well-formed periods (:func:`_periods_regex`),
# the careful reader checks it field by field.

# OCPI 2.2.1 enums and text lengths (mod_cdrs, types): (column, field, longest)
_CDR_DIMENSIONS = (
    "CURRENT", "ENERGY", "ENERGY_EXPORT", "ENERGY_IMPORT", "MAX_CURRENT", "MIN_CURRENT", "MAX_POWER",
    "MIN_POWER", "PARKING_TIME", "POWER", "RESERVATION_TIME", "STATE_OF_CHARGE", "TIME",
)  # fmt: skip
# dimensions OCPI defines as negative when power flows from the EV to the grid
_SIGNED_DIMENSIONS = ("CURRENT", "MIN_CURRENT", "MIN_POWER", "POWER")
_AUTH_METHODS = ("AUTH_REQUEST", "COMMAND", "WHITELIST")
_POWER_TYPES = ("AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC")
_TEXTS = [
    ("c.id", "id", 39),
    ("c.country_code", "country_code", 2),
    ("c.party_id", "party_id", 3),
    ("c.cdr_token.uid", "cdr_token.uid", 36),
    ("c.cdr_location.id", "cdr_location.id", 36),
    ("c.cdr_location.name", "cdr_location.name", 255),
    ("c.cdr_location.address", "cdr_location.address", 45),
    ("c.cdr_location.city", "cdr_location.city", 45),
    ("c.cdr_location.postal_code", "cdr_location.postal_code", 10),
    ("c.cdr_location.state", "cdr_location.state", 20),
    ("c.cdr_location.country", "cdr_location.country", 3),
    ("c.cdr_location.evse_uid", "cdr_location.evse_uid", 36),
    ("c.cdr_location.evse_id", "cdr_location.evse_id", 48),
    ("c.cdr_location.connector_id", "cdr_location.connector_id", 36),
    ("c.cdr_location.connector_standard", "cdr_location.connector_standard", 36),
    ("c.tariffs[1].id", "tariffs[0].id", 36),
    ("c.tariffs[1].country_code", "tariffs[0].country_code", 2),
    ("c.tariffs[1].party_id", "tariffs[0].party_id", 3),
]
# texts that become keys: a JSON object or array there (read as its JSON text) is refused
_KEYS = [("c.id", "id"), ("c.cdr_location.id", "cdr_location.id"), ("c.cdr_location.evse_uid", "cdr_location.evse_uid")]
# amounts (OCPI Price): (column, field, derived column stem: <stem>_amount exact, <stem>_major DOUBLE)
_AMOUNTS = [
    ("c.total_cost.excl_vat", "total_cost.excl_vat", "total_cost"),
    ("c.total_cost.incl_vat", "total_cost.incl_vat", "total_cost_incl_vat"),
    ("c.total_fixed_cost.excl_vat", "total_fixed_cost.excl_vat", "fixed_cost"),
    ("c.total_energy_cost.excl_vat", "total_energy_cost.excl_vat", "energy_cost"),
    ("c.total_time_cost.excl_vat", "total_time_cost.excl_vat", "time_cost"),
    ("c.total_parking_cost.excl_vat", "total_parking_cost.excl_vat", "parking_cost"),
]

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
    f",\n    {col} AS {stem}_amount, CAST({col} AS DOUBLE) AS {stem}_major" for col, _, stem in _AMOUNTS
)
# amounts, careful pass: the DECIMAL(18, 9) value, else the record's text (10^9 and more, or no number)
_CAREFUL_AMOUNTS = (
    ",\n    json_extract_string(j, ["
    + ", ".join(f"'$.{field}'" for _, field, _ in _AMOUNTS)
    + "]) AS amount_texts,\n    amount_texts[1] IS NOT NULL AS total_cost_given"
    + "".join(
        f",\n    coalesce(CAST({col} AS DECIMAL(38, 9)), TRY_CAST(amount_texts[{i}] AS DECIMAL(38, 9))) AS {stem}_amount"
        f",\n    coalesce(CAST({col} AS DOUBLE), TRY_CAST(amount_texts[{i}] AS DOUBLE)) AS {stem}_major"
        for i, (col, _, stem) in enumerate(_AMOUNTS, start=1)
    )
)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _member_sql(expr: str, values: tuple[str, ...]) -> str:
    """SQL: *expr* is one of *values*, by a regular expression (``IN (...)`` is planned as a join,
    which does not keep a streaming scan's row order; a substring search is slower)."""
    return f"regexp_full_match({expr}, {_lit('|'.join(values))})"


# the longer of the two plugged-in times a CDR states [h]
_HOURS = (
    "greatest(CASE WHEN isfinite(total_time_h) THEN total_time_h END, (epoch(ended_at) - epoch(started_at)) / 3600)"
)


def _energy_cap_sql(lim: limits.Limits) -> str:
    """SQL: the most energy the power limit delivers in the session's plugged-in time [kWh]."""
    return f"({lim.max_power_kw!r} * coalesce({_HOURS}, 0) * {lim.energy_margin!r} + {lim.energy_slack_kwh!r})"


def _number_checks(col: str, field: str, value: str, required: bool, noun: str) -> list[tuple[str, str, str]]:
    """Missing, not a number, not finite, negative: the checks of one OCPI ``number`` read as text."""
    out = [(f"{col} IS NULL", field, f"'missing {field}'")] if required else []
    return out + [
        (f"{col} IS NOT NULL AND {value} IS NULL", field, f"'not a number: ' || {col}"),
        (f"NOT isfinite({value})", field, f"'not a finite number: ' || {col}"),
        (f"isfinite({value}) AND {value} < 0", field, f"'negative {noun}: ' || {col}"),
    ]


def _checks(lim: limits.Limits) -> list[tuple[str, str, str]]:
    """The checks both passes apply (``(condition, field, reason)``, see :func:`quarantine_from_checks`)."""
    money = f"{lim.max_money_major:,}"
    session_h = lim.max_session_s / 3600
    hours = _HOURS
    energy_cap = _energy_cap_sql(lim)
    checks = [
        ("blank(c.id)", "id", "'missing CDR id'"),
        ("c.start_date_time IS NULL", "start_date_time", "'missing start_date_time'"),
        (
            "c.start_date_time IS NOT NULL AND started_at IS NULL",
            "start_date_time",
            "'not an ISO-8601 date-time: ' || c.start_date_time",
        ),
        (lim.window_sql("started_at"), "start_date_time", lim.window_reason_sql("started_at")),
        ("c.end_date_time IS NULL", "end_date_time", "'missing end_date_time'"),
        (
            "c.end_date_time IS NOT NULL AND ended_at IS NULL",
            "end_date_time",
            "'not an ISO-8601 date-time: ' || c.end_date_time",
        ),
        (lim.window_sql("ended_at"), "end_date_time", lim.window_reason_sql("ended_at")),
        (
            "ended_at < started_at",
            "end_date_time",
            "'end_date_time ' || c.end_date_time || ' is before start_date_time ' || c.start_date_time",
        ),
        (
            f"epoch(ended_at) - epoch(started_at) > {lim.max_session_s}",
            "end_date_time",
            "'the session from ' || c.start_date_time || ' to ' || c.end_date_time || ' is '"
            " || round((epoch(ended_at) - epoch(started_at)) / 3600, 1) || ' h long, longer than the limit"
            f" of {session_h:g} h'",
        ),
        (
            "c.last_updated IS NOT NULL AND last_updated_at IS NULL",
            "last_updated",
            "'not an ISO-8601 date-time: ' || c.last_updated",
        ),
        (lim.window_sql("last_updated_at"), "last_updated", lim.window_reason_sql("last_updated_at")),
        ("blank(c.cdr_location.id)", "cdr_location.id", "'missing cdr_location.id (site)'"),
        ("blank(c.cdr_location.evse_uid)", "cdr_location.evse_uid", "'missing cdr_location.evse_uid (port)'"),
        *_number_checks("c.total_energy", "total_energy", "energy_kwh", True, "energy"),
        (
            f"isfinite(energy_kwh) AND energy_kwh > {energy_cap}",
            "total_energy",
            f"'energy ' || c.total_energy || ' kWh is more than {lim.max_power_kw:g} kW delivers in '"
            f" || round(coalesce({hours}, 0), 3) || ' h (x {lim.energy_margin:g} + {lim.energy_slack_kwh:g} kWh);"
            " see --max-power-kw'",
        ),
        *_number_checks("c.total_time", "total_time", "total_time_h", True, "total_time"),
        (
            f"isfinite(total_time_h) AND total_time_h * 3600 > {lim.max_session_s}",
            "total_time",
            f"'total_time ' || c.total_time || ' h is longer than the limit of {session_h:g} h'",
        ),
        *_number_checks("c.total_parking_time", "total_parking_time", "parking_h", False, "total_parking_time"),
        (
            "isfinite(parking_h) AND isfinite(total_time_h) AND parking_h > total_time_h + 1e-9",
            "total_parking_time",
            "'total_parking_time ' || c.total_parking_time || ' exceeds total_time ' || c.total_time",
        ),
        (
            f"c.currency IS NULL OR NOT {payable_sql('c.currency')}",
            "currency",
            "'not an ISO-4217 currency: ' || coalesce(c.currency, 'missing')",
        ),
        ("NOT total_cost_given", "total_cost.excl_vat", "'missing total_cost.excl_vat'"),
        (
            "c.cdr_location.coordinates.latitude IS NOT NULL AND NOT coalesce(abs(latitude_deg) <= 90, false)",
            "cdr_location.coordinates.latitude",
            "'not a latitude in decimal degrees: ' || c.cdr_location.coordinates.latitude",
        ),
        (
            "c.cdr_location.coordinates.longitude IS NOT NULL AND NOT coalesce(abs(longitude_deg) <= 180, false)",
            "cdr_location.coordinates.longitude",
            "'not a longitude in decimal degrees: ' || c.cdr_location.coordinates.longitude",
        ),
        (
            f"c.auth_method IS NOT NULL AND NOT {_member_sql('c.auth_method', _AUTH_METHODS)}",
            "auth_method",
            f"'auth_method must be one of {'|'.join(_AUTH_METHODS)}, got ' || c.auth_method",
        ),
        (
            "c.cdr_location.connector_power_type IS NOT NULL"
            f" AND NOT {_member_sql('c.cdr_location.connector_power_type', _POWER_TYPES)}",
            "cdr_location.connector_power_type",
            f"'connector_power_type must be one of {'|'.join(_POWER_TYPES)}, got ' || c.cdr_location.connector_power_type",
        ),
    ]
    for _, field, stem in _AMOUNTS:
        value = f"{stem}_major"
        shown = f"CAST({value} AS VARCHAR)"
        checks += [
            (f"NOT isfinite({value})", field, f"'not a finite amount: ' || {shown}"),
            (
                f"isfinite({value}) AND {value} < 0",
                field,
                f"'negative amount: ' || {shown} || ' (OCPI amounts are not negative; a credit CDR, which"
                " states a refund as negative amounts, is not read)'",
            ),
            (
                f"isfinite({value}) AND {lim.money_sql(value)}",
                field,
                f"'amount ' || {shown} || ' is not below the limit of {money} per amount'",
            ),
        ]
    for col, field, longest in _TEXTS:
        checks.append(
            (
                f"strlen({col}) > {longest} AND length({col}) > {longest}",
                field,
                f"'{field} is ' || length({col}) || ' characters long, more than the {longest} OCPI allows'",
            )
        )
    for col, field in _KEYS:
        checks.append((f"ascii({col}) IN (91, 123)", field, f"'{field} must be a text, got ' || {col}"))
    return checks


# ---- charging periods --------------------------------------------------------------------------------

_PERIODS_TYPE = (
    '[{"start_date_time": "VARCHAR", "dimensions": [{"type": "VARCHAR", "volume": "VARCHAR"}], "tariff_id": "VARCHAR"}]'
)
_VOLUME_LIMIT = 1e9  # a volume must fit DECIMAL(18, 9), as re-pricing reads it


def _days(first: int, last: int, month_days: int) -> str:
    """Regex of the two-digit days *first*..*last* of a month of *month_days* days."""
    if first == 1 and last == month_days:
        tail = {31: "3[01]", 30: "30", 29: "2[0-9]", 28: "2[0-8]"}[month_days]
        head = "[12][0-9]" if month_days > 29 else "1[0-9]"
        return f"(?:0[1-9]|{head}|{tail})"
    return "(?:" + "|".join(f"{d:02d}" for d in range(first, last + 1)) + ")"


def _dates_regex(first: dt.date, last: dt.date) -> str:
    """Regex of the calendar dates ``YYYY-MM-DD`` from *first* to *last* (inclusive), and no other text."""
    full: dict[bool, list[str]] = {True: [], False: []}
    parts = []
    for year in range(first.year, last.year + 1):
        m0, m1 = (first.month if year == first.year else 1), (last.month if year == last.year else 12)
        d0 = first.day if (year, m0) == (first.year, first.month) else 1
        if m0 == 1 and m1 == 12 and d0 == 1 and (year != last.year or last.day == 31):
            full[days_in_month(year, 2) == 29].append(str(year))
            continue
        months = []
        for m in range(m0, m1 + 1):
            n = days_in_month(year, m)
            lo = first.day if (year, m) == (first.year, first.month) else 1
            hi = last.day if (year, m) == (last.year, last.month) else n
            months.append(f"{m:02d}-{_days(lo, hi, n)}")
        parts.append(f"{year}-(?:{'|'.join(months)})")
    for leap, years in full.items():
        if years:
            feb = _days(1, 29 if leap else 28, 29 if leap else 28)
            parts.append(
                f"(?:{'|'.join(years)})-(?:(?:0[13578]|1[02])-{_days(1, 31, 31)}|(?:0[469]|11)-{_days(1, 30, 30)}|02-{feb})"
            )
    return "(?:" + "|".join(parts) + ")"


@lru_cache(maxsize=8)
def _periods_regex(earliest: dt.datetime, until: dt.datetime) -> str:
    """Regex of the compact JSON of charging periods the streaming pass vouches for without a parse.

    A list of objects, each with exactly the keys ``start_date_time`` (``YYYY-MM-DDTHH:MM:SS``,
    fraction and ``Z`` optional, on a calendar date wholly inside the time window),
    ``dimensions`` (a non-empty list of objects with exactly ``type`` from the OCPI enum and
    ``volume``, a plain number from 0 to below 10^8) and optionally ``tariff_id`` (printable
    ASCII, 1 to 36 characters), in any order. What it does not match is not refused: the careful
    reader decides, and accepts all it matches.
    """
    first = earliest.date() if earliest.time() == dt.time(0) else earliest.date() + dt.timedelta(days=1)
    last = until.date() - dt.timedelta(days=1)
    if last < first:
        return "^$"  # a window shorter than two days: the careful reader checks every period
    instant = _dates_regex(first, last) + r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?Z?"
    number = r"(?:0|[1-9][0-9]{0,7})(?:\.[0-9]{1,17})?(?:e-[0-9]{1,3})?"
    kind = '"type":"(?:' + "|".join(_CDR_DIMENSIONS) + ')"'
    dim = r"\{(?:" + f'{kind},"volume":{number}|"volume":{number},{kind}' + r")\}"
    start = f'"start_date_time":"{instant}"'
    dims = r'"dimensions":\[' + dim + "(?:," + dim + r")*\]"
    tariff = r'"tariff_id":"[ !#-\x5b\x5d-~]{1,36}"'
    orders = [*itertools.permutations([start, dims, tariff]), *itertools.permutations([start, dims])]
    period = r"\{(?:" + "|".join(",".join(o) for o in orders) + r")\}"
    # valid JSON text that is '[' or ',' then a period, repeated, then ']' is a list of such periods
    return r"^(?:(?:\[|,)" + period + r")+\]$"


def _periods_problem(periods: pa.ChunkedArray, lim: limits.Limits) -> bool:
    """Streaming pass: True when any CDR's ``charging_periods`` (compact JSON text, or null) is not
    plainly well-formed (:func:`_periods_regex`). Arrow compute over the column, chunks in parallel."""
    rx = _periods_regex(lim.earliest, lim.until)

    def bad(chunk: pa.Array) -> bool:
        return chunk.null_count < len(chunk) and not pc.all(pc.match_substring_regex(chunk, rx)).as_py()

    chunks = periods.chunks
    if len(chunks) < 2:
        return any(map(bad, chunks))
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return any(pool.map(bad, chunks))


def _values_problem(rows: pa.Table, lim: limits.Limits) -> bool:
    """Streaming pass: True when a currency, ``auth_method`` or ``connector_power_type`` is not one
    the careful checks accept; tested on the columns' distinct values (a few), not row by row."""
    for column, allowed, nullable in (
        ("currency", iso4217.PAYABLE, False),
        ("auth_method", _AUTH_METHODS, True),
        ("loc_power_type", _POWER_TYPES, True),
    ):
        for value in pc.unique(rows.column(column)).to_pylist():
            if (value is None and not nullable) or (value is not None and value not in allowed):
                return True
    return False


def _fast_failed(lim: limits.Limits) -> str:
    """SQL, streaming pass: true for a record that may fail a check of :func:`_checks`.

    The same conditions, fused into a dozen terms (one term per group of checks, not one per
    field): the streaming pass needs no reason, only whether every record passes. Never less
    strict than :func:`_checks`; currencies and enums are tested on distinct values afterwards
    (:func:`_values_problem`).
    """
    earliest = f"TIMESTAMP '{lim.earliest:%Y-%m-%d %H:%M:%S}'"
    until = f"TIMESTAMP '{lim.until:%Y-%m-%d %H:%M:%S}'"
    amounts = ", ".join(f"{stem}_amount" for _, _, stem in _AMOUNTS)
    terms = [
        *(f"blank({col}) OR ascii({col}) IN (91, 123)" for col, _ in _KEYS),
        f"started_at IS NULL OR ended_at IS NULL OR started_at < {earliest} OR ended_at > {until}"
        f" OR ended_at < started_at OR epoch(ended_at) - epoch(started_at) > {lim.max_session_s}",
        f"(c.last_updated IS NOT NULL AND last_updated_at IS NULL) OR last_updated_at < {earliest}"
        f" OR last_updated_at > {until}",
        f"energy_kwh IS NULL OR NOT (energy_kwh >= 0 AND energy_kwh <= {_energy_cap_sql(lim)})",
        f"total_time_h IS NULL OR NOT (total_time_h >= 0 AND total_time_h * 3600 <= {lim.max_session_s})",
        "parking_h IS NULL OR NOT (parking_h >= 0 AND parking_h <= total_time_h + 1e-9)",
        f"total_cost_amount IS NULL OR least({amounts}) < 0",
        "greatest(" + ", ".join(f"length({col}) - {longest}" for col, _, longest in _TEXTS) + ") > 0",
        "(c.cdr_location.coordinates.latitude IS NOT NULL AND NOT coalesce(abs(latitude_deg) <= 90, false))"
        " OR (c.cdr_location.coordinates.longitude IS NOT NULL AND NOT coalesce(abs(longitude_deg) <= 180, false))",
    ]
    if float(lim.max_money_major) <= 1e9:  # a DECIMAL(18, 9) amount is below 10^9: only a lower limit can be hit
        terms.append(
            "greatest("
            + ", ".join(f"abs({stem}_major)" for _, _, stem in _AMOUNTS)
            + f") >= {float(lim.max_money_major)!r}"
        )
    return " OR ".join(f"coalesce(({t}), false)" for t in terms)


# ---- what only the careful reader checks (the streaming pass fails on it, or declines it) --------------

_OBJECTS = [  # JSON path, the structure's keys at that path
    ("$", "id country_code party_id start_date_time end_date_time auth_method cdr_token cdr_location currency "
     "tariffs charging_periods total_cost total_fixed_cost total_energy total_energy_cost total_time "
     "total_time_cost total_parking_time total_parking_cost last_updated"),
    ("$.cdr_token", "uid"),
    ("$.cdr_location", "id name address city postal_code state country coordinates evse_uid evse_id connector_id "
     "connector_standard connector_power_type"),
    ("$.cdr_location.coordinates", "latitude longitude"),
    ("$.total_cost", "excl_vat incl_vat"),
    ("$.total_fixed_cost", "excl_vat"),
    ("$.total_energy_cost", "excl_vat"),
    ("$.total_time_cost", "excl_vat"),
    ("$.total_parking_cost", "excl_vat"),
]  # fmt: skip
_SHAPES = [  # JSON path, the JSON type the structure expects there
    ("$.cdr_token", "OBJECT"),
    ("$.cdr_location", "OBJECT"),
    ("$.cdr_location.coordinates", "OBJECT"),
    ("$.tariffs", "ARRAY"),
    ("$.total_cost", "OBJECT"),
    ("$.total_fixed_cost", "OBJECT"),
    ("$.total_energy_cost", "OBJECT"),
    ("$.total_time_cost", "OBJECT"),
    ("$.total_parking_cost", "OBJECT"),
]

_CAREFUL_DERIVE = f""",
    json_keys(j, [{", ".join(_lit(p) for p, _ in _OBJECTS)}]) AS object_keys,
    json_keys(j, '$.tariffs[*]') AS tariff_keys,
    json_type(j, [{", ".join(_lit(p) for p, _ in _SHAPES)}]) AS shapes,
    json_type(j, '$.tariffs[*]') AS tariff_types,
    json_type(c.charging_periods) AS periods_type,
    json_type(c.charging_periods, '$[*]') AS period_types,
    json_type(c.charging_periods, '$[*].dimensions[*].volume') AS volume_types,
    json_keys(c.charging_periods, '$[*]') AS period_keys,
    json_keys(c.charging_periods, '$[*].dimensions[*]') AS dimension_keys,
    from_json(c.charging_periods, {_lit(_PERIODS_TYPE)}) AS periods"""


def _field(path: str) -> str:
    return path.removeprefix("$").removeprefix(".")


def _known(keys: str, known: str) -> str:
    """SQL: the keys of the list *keys* that the structure reads (*known*, space-separated)."""
    return f"list_filter({keys}, lambda k: contains({_lit('|' + '|'.join(known.split()) + '|')}, '|' || k || '|'))"


def _repeated(keys: str) -> str:
    """SQL: the first key given more than once in the list *keys* (NULL when none is)."""
    return f"list_filter(list_distinct({keys}), lambda k: len(list_filter({keys}, lambda x: x = k)) > 1)[1]"


def _bind(sql: str, name: str, value: str) -> str:
    """*sql* with the lambda variable *name* (``p.start_date_time``) replaced by the expression *value*."""
    return re.sub(rf"(?<![\w'.]){name}\.(?=[a-z_])", lambda _: f"({value}).", sql)


def _careful_checks(lim: limits.Limits) -> list[tuple[str, ...]]:
    """Checks of the careful reader only: shapes, repeated keys and charging periods in detail.

    Each can fire only for a record the streaming pass fails on (a value of the wrong kind, a key
    of the structure given twice) or declines (:func:`_periods_problem`), so both passes agree.
    """
    checks: list[tuple[str, ...]] = [
        (f"amount_texts[{i}] IS NOT NULL AND {stem}_major IS NULL", field, f"'not a number: ' || amount_texts[{i}]")
        for i, (_, field, stem) in enumerate(_AMOUNTS, start=1)
    ]
    for i, (path, kind) in enumerate(_SHAPES, start=1):
        checks.append(
            (
                f"shapes[{i}] NOT IN ('{kind}', 'NULL')",
                _field(path),
                f"'{_field(path)} must be {'an object' if kind == 'OBJECT' else 'a list'}, got JSON ' || shapes[{i}]",
            )
        )
    checks.append(
        (
            "list_bool_or(list_transform(tariff_types, lambda t: t NOT IN ('OBJECT', 'NULL')))",
            "tariffs",
            "'tariffs must be a list of Tariff objects, got an element of JSON type '"
            " || list_filter(tariff_types, lambda t: t NOT IN ('OBJECT', 'NULL'))[1]",
        )
    )
    for i, (path, known) in enumerate(_OBJECTS, start=1):
        keys = _known(f"coalesce(object_keys[{i}], [])", known)
        prefix = _field(path) + "." if path != "$" else ""
        checks.append(
            (
                f"len({keys}) <> len(list_distinct({keys}))",
                _field(path) or "(record)",
                f"'duplicated key ''' || {_repeated(keys)} || ''''"
                + (f" || ' in {_field(path)}'" if prefix else "")
                + " || ' (an object must not repeat a key)'",
                f"{_lit(prefix)} || {_repeated(keys)}",
            )
        )
    for name, field, known in (
        ("tariff_keys", "tariffs", "country_code party_id id"),
        ("period_keys", "charging_periods", "start_date_time dimensions tariff_id"),
        ("dimension_keys", "charging_periods", "type volume"),
    ):
        bad = f"lambda ks: len({_known('ks', known)}) <> len(list_distinct({_known('ks', known)}))"
        first = f"list_filter({name}, {bad})[1]"
        checks.append(
            (
                f"list_bool_or(list_transform({name}, {bad}))",
                field,
                f"'duplicated key ''' || {_repeated(_known(first, known))} || ''' in an element of {field}'"
                " || ' (an object must not repeat a key)'",
            )
        )
    # charging periods, element by element: the first bad one is named
    periods = "periods"
    checks += [
        (
            "periods_type NOT IN ('ARRAY', 'NULL')",
            "charging_periods",
            "'charging_periods must be a list of ChargingPeriod objects, got JSON ' || periods_type",
        ),
        (
            "periods_type = 'ARRAY' AND len(period_types) = 0",
            "charging_periods",
            "'charging_periods must list at least one ChargingPeriod'",
        ),
        (
            "list_bool_or(list_transform(period_types, lambda t: t <> 'OBJECT'))",
            "charging_periods",
            "'charging_periods[' || (list_position(list_transform(period_types, lambda t: t <> 'OBJECT'), true) - 1)"
            " || '] must be a ChargingPeriod object, got JSON '"
            " || list_filter(period_types, lambda t: t <> 'OBJECT')[1]",
        ),
        (
            "list_bool_or(list_transform(volume_types, lambda t: t NOT IN ('UBIGINT', 'BIGINT', 'DOUBLE', 'HUGEINT')))",
            "charging_periods",
            "'a dimension volume must be a JSON number, got JSON '"
            " || list_filter(volume_types, lambda t: t NOT IN ('UBIGINT', 'BIGINT', 'DOUBLE', 'HUGEINT'))[1]",
        ),
    ]
    per_period = [
        (
            "p.start_date_time IS NULL OR utc_ts(p.start_date_time) IS NULL",
            "start_date_time",
            "'not an ISO-8601 date-time: ' || coalesce(p.start_date_time, 'missing')",
        ),
        (
            lim.window_sql("utc_ts(p.start_date_time)"),
            "start_date_time",
            lim.window_reason_sql("utc_ts(p.start_date_time)"),
        ),
        ("coalesce(len(p.dimensions), 0) = 0", "dimensions", "'dimensions must be a non-empty list of CdrDimension'"),
        ("length(p.tariff_id) > 36", "tariff_id", "'tariff_id is longer than the 36 characters OCPI allows'"),
    ]
    for cond, sub, reason in per_period:
        pick = f"list_position(list_transform({periods}, lambda p: coalesce(({cond}), false)), true)"
        checks.append(
            (
                f"list_bool_or(list_transform({periods}, lambda p: coalesce(({cond}), false)))",
                "charging_periods",
                _bind(reason, "p", f"{periods}[{pick}]"),
                f"'charging_periods[' || ({pick} - 1) || '].{sub}'",
            )
        )
    volume = "TRY_CAST(d.volume AS DOUBLE)"
    per_dimension = [
        (
            f"d.type IS NULL OR NOT {_member_sql('d.type', _CDR_DIMENSIONS)}",
            "type",
            f"'type must be one of {'|'.join(_CDR_DIMENSIONS)}, got ' || coalesce(d.type, 'nothing')",
        ),
        (f"d.volume IS NULL OR {volume} IS NULL", "volume", "'not a number: ' || coalesce(d.volume, 'missing')"),
        (f"NOT isfinite({volume})", "volume", "'not a finite number: ' || d.volume"),
        (
            f"isfinite({volume}) AND {volume} < 0 AND NOT coalesce({_member_sql('d.type', _SIGNED_DIMENSIONS)}, false)",
            "volume",
            "'negative ' || d.type || ' volume: ' || d.volume",
        ),
        (
            f"isfinite({volume}) AND abs({volume}) >= {_VOLUME_LIMIT!r}",
            "volume",
            f"'volume ' || d.volume || ' is not below {_VOLUME_LIMIT:,.0f}'",
        ),
    ]
    for cond, sub, reason in per_dimension:
        bad_dim = f"lambda d: coalesce(({cond}), false)"
        bad_period = f"lambda p: list_bool_or(list_transform(p.dimensions, {bad_dim}))"
        i = f"list_position(list_transform({periods}, {bad_period}), true)"
        k = f"list_position(list_transform({periods}[{i}].dimensions, {bad_dim}), true)"
        checks.append(
            (
                f"list_bool_or(list_transform({periods}, {bad_period}))",
                "charging_periods",
                _bind(reason, "d", f"{periods}[{i}].dimensions[{k}]"),
                f"'charging_periods[' || ({i} - 1) || '].dimensions[' || ({k} - 1) || '].{sub}'",
            )
        )
    return checks


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
    rows = ndjson_fast(con, path, _STRUCTURE, _DERIVE + _FAST_AMOUNTS, f"{_SESSION}, {_LOCATION}", _fast_failed(lim))
    if rows is None or _values_problem(rows, lim) or _periods_problem(rows.column("charging_periods"), lim):
        return None
    return _batch(con, rows.num_rows, rows, quarantine_table([]))


def _read_checked(con: duckdb.DuckDBPyConnection, path: Path, lim: limits.Limits | None = None) -> Batch:
    lim = lim or limits.current()
    n, bad = json_records(con, path, _STRUCTURE, derive="," + _DERIVE + _CAREFUL_AMOUNTS + _CAREFUL_DERIVE)
    q = quarantine_from_checks(con, "parsed", [*_checks(lim), *_careful_checks(lim)])
    rows = con.sql(
        f"""SELECT {_SESSION}, {_LOCATION}, rec AS source_record
            FROM parsed WHERE rec NOT IN (SELECT rec FROM {q}) ORDER BY rec"""
    ).to_arrow_table()
    qrows = con.execute(f"SELECT rec, field, reason, raw FROM {q} ORDER BY rec, field").fetchall()
    return _batch(con, n, rows, quarantine_table(bad + qrows))
