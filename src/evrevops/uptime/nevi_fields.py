"""The EV Charging Use Data Specification's fields, the vocabularies evrevops maps onto them, and the value formats.

The specification (evchargingspec.org; JSON Schemas ``session.json``, ``uptime.json``,
``outage.json`` and ``common.json`` of clean-energy-tools/ev-charging-use-specification-code,
shipped in ``uptime/schemas``) names the fields of the NEVI quarterly data (23 CFR 680.112).
Here: each kind's fields in schema order with the Python type a record holds, the fields that
may be ``None``, the outage-cause texts, payment types and stop reasons, the columns the
record builders of :mod:`evrevops.uptime.nevi_records` read, and the two value formats every
record uses (:func:`iso_instant`, :func:`iso_duration`).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal

from evrevops.core.money import exact_decimal

KINDS = ("session", "uptime", "outage")

#: Each kind's fields in the schema's property order, with the Python type a record holds:
#: "string", "boolean", "number" (float) or "decimal" (money, an exact Decimal).
TYPES: dict[str, dict[str, str]] = {
    "session": {
        "session_id": "string",
        "port_id": "string",
        "plug_start_datetime": "string",
        "plug_end_datetime": "string",
        "charge_start_datetime": "string",
        "charge_end_datetime": "string",
        "session_duration": "string",
        "charging_duration": "string",
        "energy_kwh": "number",
        "peak_kw": "number",
        "total_fee_charged": "decimal",
        "energy_fee": "decimal",
        "session_fee": "decimal",
        "time_fee": "decimal",
        "user_id": "string",
        "successful_completion": "boolean",
        "ended_by": "string",
        "start_soc": "number",
        "end_soc": "number",
        "error_code": "string",
        "payment_type": "string",
    },
    "uptime": {
        "port_id": "string",
        "station_id": "string",
        "uptime_period_start": "string",
        "uptime_period_end": "string",
        "report_yr_mon": "string",
        "uptime_pct": "number",
        "outage_total": "number",
        "outage_excluded": "number",
    },
    "outage": {
        "outage_id": "string",
        "port_id": "string",
        "station_id": "string",
        "outage_start": "string",
        "outage_end": "string",
        "outage_duration": "string",
        "outage_cause": "string",
        "exempted_outage": "boolean",
    },
}

#: Each kind's field names in the order of its schema's ``properties`` (the CSV header).
FIELDS: dict[str, tuple[str, ...]] = {kind: tuple(types) for kind, types in TYPES.items()}

#: Required fields that may hold ``None`` (not known) when :func:`validate` is not strict:
#: a session that never charged has no charge start or end; OCPI CDRs carry no state of
#: charge, often no peak power, cost breakdown, token or stop reason; a free session has no
#: fee ("NULL if charger is not paid", session.json). Uptime and outage records are complete.
NULLABLE: dict[str, frozenset[str]] = {
    "session": frozenset(
        {
            "charge_start_datetime",
            "charge_end_datetime",
            "peak_kw",
            "total_fee_charged",
            "energy_fee",
            "session_fee",
            "time_fee",
            "user_id",
            "ended_by",
            "start_soc",
            "end_soc",
            "error_code",
            "payment_type",
        }
    ),
    "uptime": frozenset(),
    "outage": frozenset(),
}

#: evrevops outage causes (incidents CSV, :data:`evrevops.formats.tables_csv.NEVI_EXCLUDABLE_CAUSES`
#: and ``OPERATOR_CAUSES``) as ``outage_cause`` text. The schema has no enum, only the examples
#: "equipment failure, power failure, vandalism"; the texts follow them and 680.116(b)'s wording.
CAUSE_TEXT: dict[str, str] = {
    "utility_interruption": "utility power failure",
    "vehicle": "vehicle fault",
    "scheduled_maintenance": "scheduled maintenance",
    "vandalism": "vandalism",
    "natural_disaster": "natural disaster",
    "hardware_fault": "equipment failure",
    "software_fault": "software failure",
    "communication": "communication failure",
    "payment_system": "payment system failure",
    "other": "other",
}
#: ``outage_cause`` of an outage with no cause recorded (no incident overlaps it).
CAUSE_UNKNOWN = "unknown"
#: ``outage_cause`` of a no-data run with no cause recorded (the port's status was not observed).
CAUSE_NO_DATA = "no data"

#: OCPI 2.2.1 ``auth_method`` → ``payment_type`` (common.json ``validPaymentType``). A token
#: checked with the eMSP (AUTH_REQUEST) or on the charger's local list (WHITELIST) is an RFID or
#: membership card; COMMAND is a StartSession from an app. evrevops does not keep the token's
#: type or issuer, so AD_HOC_USER terminals and other networks' cards cannot be told apart.
PAYMENT_TYPE: dict[str, str] = {
    "AUTH_REQUEST": "membership",
    "WHITELIST": "membership",
    "COMMAND": "application",
}
#: common.json ``validPaymentType``: the values ``payment_type`` may take.
PAYMENT_ENUM = frozenset(
    {"cash", "credit_card_terminal", "membership", "application", "phone", "plug-charge", "roaming", "other"}
)

#: Stop reason → (``ended_by``, ended normally). OCPP 1.6 ``Reason`` and 2.0.1 ``ReasonEnumType``,
#: OCPP 1.6's ``EVCommunicationError`` and ChargePoint's "Ended By". Normal = the driver, the EV or
#: a limit the driver set ended it; a fault, a power loss, a reset or another EVSE- or network-side
#: stop is not (handbook §4). ``ended_by`` has no enum in the schema: these snake_case values
#: are evrevops' vocabulary; an unlisted reason is reported as given and, like OCPP ``Other``,
#: not counted as normal (never silently successful).
STOP_REASONS: dict[str, tuple[str, bool]] = {
    "EVDisconnected": ("ev_unplugged", True),
    "Local": ("user_local", True),
    "Remote": ("user_remote", True),
    "StoppedByEV": ("ev_stopped", True),
    "SOCLimitReached": ("soc_limit_reached", True),
    "EnergyLimitReached": ("energy_limit_reached", True),
    "TimeLimitReached": ("time_limit_reached", True),
    "LocalOutOfCredit": ("out_of_credit", True),
    "Customer": ("user", True),
    "Plug Out at Vehicle": ("ev_unplugged", True),
    "Plug Removed While Charging": ("unplugged_while_charging", True),
    "EmergencyStop": ("emergency_stop", False),
    "PowerLoss": ("power_loss", False),
    "PowerQuality": ("evse_fault", False),
    "GroundFault": ("evse_fault", False),
    "OvercurrentFault": ("evse_fault", False),
    "EVCommunicationError": ("ev_communication_error", False),
    "HardReset": ("evse_reset", False),
    "SoftReset": ("evse_reset", False),
    "Reboot": ("evse_reset", False),
    "ImmediateReset": ("evse_reset", False),
    "DeAuthorized": ("deauthorized", False),
    "UnlockCommand": ("remote_unlock", False),
    "MasterPass": ("master_pass", False),
    "Timeout": ("timeout", False),
    "CPS Server": ("network", False),
    "Other": ("other", False),
}
#: :data:`STOP_REASONS` by the reason in lower case (reasons are matched in any letter case).
STOP_LOWER = {k.lower(): v for k, v in STOP_REASONS.items()}

#: Decimal places of the per-kWh and per-minute fees (``energy_fee``, ``time_fee``).
RATE_PLACES = 4
#: Decimal places of the minutes of uptime records (``outage_total``, ``outage_excluded``).
MINUTE_PLACES = 3
EPS_S = 1e-3  # [s] tolerance when comparing sums of float seconds

#: The columns :func:`~evrevops.uptime.nevi_records.uptime_records` reads (port-month uptime).
UPTIME_COLUMNS = (
    "port_id", "site_id", "month", "period_start_at", "period_end_at", "period_s", "outage_s",
    "excluded_s", "t12_period_s", "t12_outage_s", "t12_excluded_s", "uptime_pct", "uptime_t12m_pct",
)  # fmt: skip
#: The columns :func:`~evrevops.uptime.nevi_records.outage_records` reads (the outage ledger).
OUTAGE_COLUMNS = (
    "outage_id", "port_id", "site_id", "started_at", "ended_at", "duration_s", "state", "cause",
    "excluded_s", "open",
)  # fmt: skip
#: The columns :func:`~evrevops.uptime.nevi_records.session_records` reads (warehouse sessions).
SESSION_COLUMNS = (
    "session_id", "port_id", "started_at", "ended_at", "charging_ended_at", "energy_kwh", "plugged_in_s",
    "charging_s", "peak_kw", "currency", "total_cost_minor", "energy_cost_minor", "time_cost_minor",
    "fixed_cost_minor", "auth_method", "token_uid", "stop_reason",
)  # fmt: skip
#: The money columns of a session [minor units] that the records report.
MONEY_COLUMNS = (
    "total_cost_minor", "total_cost_incl_vat_minor", "energy_cost_minor", "time_cost_minor", "fixed_cost_minor",
)  # fmt: skip


def iso_instant(t: dt.datetime) -> str:
    """An instant as RFC 3339 UTC text (``2025-06-01T07:00:00Z``).

    Parameters
    ----------
    t : datetime.datetime
        A naive UTC instant (the warehouse's convention) or an aware one.

    Returns
    -------
    str
        ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``; the fraction only when non-zero, without
        trailing zeros.
    """
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    text = t.replace(microsecond=0).isoformat(timespec="seconds")
    if t.microsecond:
        text += f".{t.microsecond:06d}".rstrip("0")
    return text + "Z"


def iso_duration(seconds: float) -> str:
    """A duration [s] as an ISO 8601 duration in hours, minutes and seconds.

    Parameters
    ----------
    seconds : float
        Non-negative duration [s]; rounded half up to the millisecond.

    Returns
    -------
    str
        E.g. ``PT1H30M45.5S``, ``PT26H``, ``PT0S``. Days are never used: an ISO 8601 day
        is a nominal calendar day, and a local day can last 23 or 25 hours.

    Raises
    ------
    ValueError
        For a negative, NaN or infinite duration.
    """
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {seconds!r} s")
    ms = int((exact_decimal(float(seconds)) * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    out = "PT"
    if h:
        out += f"{h}H"
    if m:
        out += f"{m}M"
    if rest or not (h or m):
        whole, frac = divmod(rest, 1000)
        out += f"{whole}" + (f".{frac:03d}".rstrip("0") if frac else "") + "S"
    return out
