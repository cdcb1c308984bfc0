"""The field checks of an OCPI 2.2.1 CDR, as SQL, for both passes of :mod:`evrevops.formats.ocpi`.

One declared set of rules (the OCPI enums, the text lengths, the keys, the amounts, and the
limits in force, :mod:`evrevops.formats.limits`) is read two ways:

* :func:`field_checks`, for the careful reader: one ``(condition, field, reason)`` a rule, over
  ``c`` (the parsed record) and the derived columns of :mod:`evrevops.formats.ocpi`
  (``started_at``, ``energy_kwh`` [kWh], ``total_time_h`` [h], ``<stem>_major`` ...), so that
  each rejected field is named with its reason (:func:`~evrevops.formats.records.quarantine_from_checks`);
* :func:`fast_failed` and :func:`values_problem`, for the streaming pass: the same conditions
  fused into a dozen terms (it needs no reason, only whether every record passes), never less
  strict than :func:`field_checks`.

What only the careful reader checks (JSON shapes, repeated keys, charging periods element by
element) is in :mod:`evrevops.formats.ocpi_cdr_careful`.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from evrevops.core import iso4217
from evrevops.core.iso4217 import payable_sql
from evrevops.core.sqltext import sql_literal
from evrevops.formats import limits

#: One check: ``(condition, field, reason)`` SQL, and optionally a SQL expression for the field.
Check = tuple[str, ...]

# OCPI 2.2.1 enums and text lengths (mod_cdrs, types)
CDR_DIMENSIONS = (
    "CURRENT", "ENERGY", "ENERGY_EXPORT", "ENERGY_IMPORT", "MAX_CURRENT", "MIN_CURRENT", "MAX_POWER",
    "MIN_POWER", "PARKING_TIME", "POWER", "RESERVATION_TIME", "STATE_OF_CHARGE", "TIME",
)  # fmt: skip
#: dimensions OCPI defines as negative when power flows from the EV to the grid
SIGNED_DIMENSIONS = ("CURRENT", "MIN_CURRENT", "MIN_POWER", "POWER")
AUTH_METHODS = ("AUTH_REQUEST", "COMMAND", "WHITELIST")
POWER_TYPES = ("AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC")
#: texts OCPI bounds: (column, field, longest [characters])
TEXTS = [
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
#: texts that become keys: a JSON object or array there (read as its JSON text) is refused
KEYS = [("c.id", "id"), ("c.cdr_location.id", "cdr_location.id"), ("c.cdr_location.evse_uid", "cdr_location.evse_uid")]
#: amounts (OCPI Price): (column, field, derived column stem: <stem>_amount exact, <stem>_major DOUBLE)
AMOUNTS = [
    ("c.total_cost.excl_vat", "total_cost.excl_vat", "total_cost"),
    ("c.total_cost.incl_vat", "total_cost.incl_vat", "total_cost_incl_vat"),
    ("c.total_fixed_cost.excl_vat", "total_fixed_cost.excl_vat", "fixed_cost"),
    ("c.total_energy_cost.excl_vat", "total_energy_cost.excl_vat", "energy_cost"),
    ("c.total_time_cost.excl_vat", "total_time_cost.excl_vat", "time_cost"),
    ("c.total_parking_cost.excl_vat", "total_parking_cost.excl_vat", "parking_cost"),
]

# the longer of the two plugged-in times a CDR states [h]
_HOURS = (
    "greatest(CASE WHEN isfinite(total_time_h) THEN total_time_h END, (epoch(ended_at) - epoch(started_at)) / 3600)"
)


def member_sql(expr: str, values: tuple[str, ...]) -> str:
    """SQL: *expr* is one of *values*, by a regular expression (``IN (...)`` is planned as a join,
    which does not keep a streaming scan's row order; a substring search is slower)."""
    return f"regexp_full_match({expr}, {sql_literal('|'.join(values))})"


def one_of_check(col: str, field: str, name: str, values: tuple[str, ...], required: bool = False) -> Check:
    """The check that the text *col* is one of the enum *values* (*name*: the field as the reason names it).

    Without *required* a missing value passes; with it, a missing value fails as ``nothing``.
    """
    if required:
        cond, got = f"{col} IS NULL OR NOT {member_sql(col, values)}", f"coalesce({col}, 'nothing')"
    else:
        cond, got = f"{col} IS NOT NULL AND NOT {member_sql(col, values)}", col
    return (cond, field, f"'{name} must be one of {'|'.join(values)}, got ' || {got}")


def energy_cap_sql(lim: limits.Limits) -> str:
    """SQL: the most energy the power limit delivers in the session's plugged-in time [kWh]."""
    return f"({lim.max_power_kw!r} * coalesce({_HOURS}, 0) * {lim.energy_margin!r} + {lim.energy_slack_kwh!r})"


def _number_checks(col: str, field: str, value: str, required: bool, noun: str) -> list[Check]:
    """Missing, not a number, not finite, negative: the checks of one OCPI ``number`` read as text."""
    out = [(f"{col} IS NULL", field, f"'missing {field}'")] if required else []
    return out + [
        (f"{col} IS NOT NULL AND {value} IS NULL", field, f"'not a number: ' || {col}"),
        (f"NOT isfinite({value})", field, f"'not a finite number: ' || {col}"),
        (f"isfinite({value}) AND {value} < 0", field, f"'negative {noun}: ' || {col}"),
    ]


def _instant_checks(field: str, ts: str, lim: limits.Limits, required: bool) -> list[Check]:
    """Missing, not ISO-8601, outside the time window: the checks of one OCPI ``DateTime`` (*ts*: its TIMESTAMP)."""
    col = f"c.{field}"
    out = [(f"{col} IS NULL", field, f"'missing {field}'")] if required else []
    return out + [
        (f"{col} IS NOT NULL AND {ts} IS NULL", field, f"'not an ISO-8601 date-time: ' || {col}"),
        (lim.window_sql(ts), field, lim.window_reason_sql(ts)),
    ]


def field_checks(lim: limits.Limits) -> list[Check]:
    """The checks of every field both passes apply (``(condition, field, reason)``, see
    :func:`~evrevops.formats.records.quarantine_from_checks`), in the order they are reported."""
    return [
        ("blank(c.id)", "id", "'missing CDR id'"),
        *_time_checks(lim),
        ("blank(c.cdr_location.id)", "cdr_location.id", "'missing cdr_location.id (site)'"),
        ("blank(c.cdr_location.evse_uid)", "cdr_location.evse_uid", "'missing cdr_location.evse_uid (port)'"),
        *_quantity_checks(lim),
        *_code_checks(),
        *_amount_checks(lim),
        *(
            (
                f"strlen({col}) > {longest} AND length({col}) > {longest}",
                field,
                f"'{field} is ' || length({col}) || ' characters long, more than the {longest} OCPI allows'",
            )
            for col, field, longest in TEXTS
        ),
        *((f"ascii({col}) IN (91, 123)", field, f"'{field} must be a text, got ' || {col}") for col, field in KEYS),
    ]


def _time_checks(lim: limits.Limits) -> list[Check]:
    """Start, end (not before the start, not longer than the session limit) and ``last_updated``."""
    session_h = lim.max_session_s / 3600
    return [
        *_instant_checks("start_date_time", "started_at", lim, required=True),
        *_instant_checks("end_date_time", "ended_at", lim, required=True),
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
        *_instant_checks("last_updated", "last_updated_at", lim, required=False),
    ]


def _quantity_checks(lim: limits.Limits) -> list[Check]:
    """Energy [kWh] within what the power limit delivers, plugged-in and parking time [h] within the session."""
    session_h = lim.max_session_s / 3600
    return [
        *_number_checks("c.total_energy", "total_energy", "energy_kwh", True, "energy"),
        (
            f"isfinite(energy_kwh) AND energy_kwh > {energy_cap_sql(lim)}",
            "total_energy",
            f"'energy ' || c.total_energy || ' kWh is more than {lim.max_power_kw:g} kW delivers in '"
            f" || round(coalesce({_HOURS}, 0), 3) || ' h (x {lim.energy_margin:g} + {lim.energy_slack_kwh:g} kWh);"
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
    ]


def _code_checks() -> list[Check]:
    """The currency, a total cost given, coordinates in degrees, and the enums ``auth_method`` and
    ``connector_power_type``."""
    return [
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
        one_of_check("c.auth_method", "auth_method", "auth_method", AUTH_METHODS),
        one_of_check(
            "c.cdr_location.connector_power_type",
            "cdr_location.connector_power_type",
            "connector_power_type",
            POWER_TYPES,
        ),
    ]


def _amount_checks(lim: limits.Limits) -> list[Check]:
    """Each amount [major units] finite, not negative and below the money limit."""
    money = f"{lim.max_money_major:,}"
    checks: list[Check] = []
    for _, field, stem in AMOUNTS:
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
    return checks


def fast_failed(lim: limits.Limits) -> str:
    """SQL, streaming pass: true for a record that may fail a check of :func:`field_checks`.

    The same conditions, fused into a dozen terms (one term per group of checks, not one per
    field): the streaming pass needs no reason, only whether every record passes. Never less
    strict than :func:`field_checks`; currencies and enums are tested on distinct values afterwards
    (:func:`values_problem`).
    """
    earliest = f"TIMESTAMP '{lim.earliest:%Y-%m-%d %H:%M:%S}'"
    until = f"TIMESTAMP '{lim.until:%Y-%m-%d %H:%M:%S}'"
    amounts = ", ".join(f"{stem}_amount" for _, _, stem in AMOUNTS)
    terms = [
        *(f"blank({col}) OR ascii({col}) IN (91, 123)" for col, _ in KEYS),
        f"started_at IS NULL OR ended_at IS NULL OR started_at < {earliest} OR ended_at > {until}"
        f" OR ended_at < started_at OR epoch(ended_at) - epoch(started_at) > {lim.max_session_s}",
        f"(c.last_updated IS NOT NULL AND last_updated_at IS NULL) OR last_updated_at < {earliest}"
        f" OR last_updated_at > {until}",
        f"energy_kwh IS NULL OR NOT (energy_kwh >= 0 AND energy_kwh <= {energy_cap_sql(lim)})",
        f"total_time_h IS NULL OR NOT (total_time_h >= 0 AND total_time_h * 3600 <= {lim.max_session_s})",
        "parking_h IS NULL OR NOT (parking_h >= 0 AND parking_h <= total_time_h + 1e-9)",
        f"total_cost_amount IS NULL OR least({amounts}) < 0",
        "greatest(" + ", ".join(f"length({col}) - {longest}" for col, _, longest in TEXTS) + ") > 0",
        "(c.cdr_location.coordinates.latitude IS NOT NULL AND NOT coalesce(abs(latitude_deg) <= 90, false))"
        " OR (c.cdr_location.coordinates.longitude IS NOT NULL AND NOT coalesce(abs(longitude_deg) <= 180, false))",
    ]
    if float(lim.max_money_major) <= 1e9:  # a DECIMAL(18, 9) amount is below 10^9: only a lower limit can be hit
        terms.append(
            "greatest("
            + ", ".join(f"abs({stem}_major)" for _, _, stem in AMOUNTS)
            + f") >= {float(lim.max_money_major)!r}"
        )
    return " OR ".join(f"coalesce(({t}), false)" for t in terms)


def values_problem(rows: pa.Table) -> bool:
    """Streaming pass: True when a currency, ``auth_method`` or ``connector_power_type`` is not one
    the careful checks accept; tested on the columns' distinct values (a few), not row by row."""
    for column, allowed, nullable in (
        ("currency", iso4217.PAYABLE, False),
        ("auth_method", AUTH_METHODS, True),
        ("loc_power_type", POWER_TYPES, True),
    ):
        for value in pc.unique(rows.column(column)).to_pylist():
            if (value is None and not nullable) or (value is not None and value not in allowed):
                return True
    return False
