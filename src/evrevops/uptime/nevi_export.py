"""NEVI quarterly data (23 CFR 680.112) in the field names of the EV Charging Use Data Specification.

23 CFR 680.112 asks the operator of a NEVI-funded (Part 680) station for quarterly data:
each charging session (start, end, error codes of unsuccessful sessions, energy [kWh],
peak power [kW], payment method, price charged), each port's uptime calculated per
680.116(b) (monthly, over the previous twelve months) with its outage minutes
``T_outage`` and excluded minutes ``T_excluded``, and each outage's duration. The EV
Charging Use Data Specification (evchargingspec.org; JSON Schemas ``session.json``,
``uptime.json``, ``outage.json`` and ``common.json`` of
clean-energy-tools/ev-charging-use-specification-code) names those fields; this module
turns evrevops tables into records with exactly those names, writes them as JSON or CSV
and validates them against the schemas.

Everything here is a pure function over Arrow tables (plus one SQL select from the
warehouse). Conventions of every record:

* instants are RFC 3339 UTC text, ``2025-06-01T07:00:00Z`` (fractions of a second only
  when there are some);
* durations are ISO 8601 durations in hours, minutes and seconds (``PT26H3M4.5S``:
  never days, since an ISO day is nominal and a local day can last 23 or 25 hours),
  rounded to the millisecond;
* money is an exact :class:`~decimal.Decimal` in major units of the export's one
  currency (the schemas say USD), converted from evrevops' integer minor units with the
  currency's ISO 4217 exponent, never through a float;
* a value evrevops does not know is ``None`` (JSON ``null``, an empty CSV cell), never a
  made-up number. The published schemas type every session field as required and
  non-null, although the specification's own text says "NULL if charger is not paid":
  :func:`validate` therefore accepts ``None`` in the fields of :data:`NULLABLE` (and
  nowhere else) unless ``strict=True``.

Field mapping (evrevops → specification):

==========================  =====================================================================
uptime (per port-month)     ``port_id``; ``station_id`` = ``site_id`` (the spec's station is a
                            location, station.json); ``report_yr_mon`` = ``YYYYMM`` of the local
                            month; ``uptime_pct`` = trailing-12-month NEVI uptime
                            (``uptime_t12m_pct``, 0–100, unrounded); ``outage_total`` /
                            ``outage_excluded`` = ``t12_outage_s`` / ``t12_excluded_s`` in minutes
                            (3 decimals); ``uptime_period_start`` / ``_end`` = the span those
                            figures cover: the first measured instant of the twelve months (the
                            port's first for a partial year) to the end of the reported month
outage                      ``outage_id``, ``port_id``; ``station_id`` = ``site_id``;
                            ``outage_start`` / ``outage_end`` = ``started_at`` / ``ended_at`` (an
                            open outage ends at the report period's end); ``outage_duration`` =
                            ISO 8601 of ``duration_s``; ``outage_cause`` = :data:`CAUSE_TEXT`;
                            ``exempted_outage`` = the whole outage is excluded time
session                     see :func:`session_records`
==========================  =====================================================================
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import hmac
import json
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from evrevops.core.calendar import add_months, month_index
from evrevops.core.money import exact_decimal, minor_to_decimal

#: Folder of the specification's JSON Schemas: the copies shipped with evrevops (BSD 3-Clause,
#: ``schemas/SOURCE.md``). Read when :func:`validate` runs, never at import; assign another
#: folder (or pass ``schema_dir``) to validate against another version.
SCHEMA_DIR: Path = Path(__file__).resolve().parent / "schemas"

KINDS = ("session", "uptime", "outage")

# Each kind's fields in the schema's property order, with the Python type a record holds:
# "string", "boolean", "number" (float) or "decimal" (money, an exact Decimal).
_TYPES: dict[str, dict[str, str]] = {
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
FIELDS: dict[str, tuple[str, ...]] = {kind: tuple(types) for kind, types in _TYPES.items()}

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
_PAYMENT_ENUM = frozenset(
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
_STOP_LOWER = {k.lower(): v for k, v in STOP_REASONS.items()}

#: Decimal places of the per-kWh and per-minute fees (``energy_fee``, ``time_fee``).
RATE_PLACES = 4
_MINUTE_PLACES = 3
_EPS_S = 1e-3  # [s] tolerance when comparing sums of float seconds

UPTIME_COLUMNS = (
    "port_id", "site_id", "month", "period_start_at", "period_end_at", "period_s", "outage_s",
    "excluded_s", "t12_period_s", "t12_outage_s", "t12_excluded_s", "uptime_pct", "uptime_t12m_pct",
)  # fmt: skip
OUTAGE_COLUMNS = (
    "outage_id", "port_id", "site_id", "started_at", "ended_at", "duration_s", "state", "cause",
    "excluded_s", "open",
)  # fmt: skip
SESSION_COLUMNS = (
    "session_id", "port_id", "started_at", "ended_at", "charging_ended_at", "energy_kwh", "plugged_in_s",
    "charging_s", "peak_kw", "currency", "total_cost_minor", "energy_cost_minor", "time_cost_minor",
    "fixed_cost_minor", "auth_method", "token_uid", "stop_reason",
)  # fmt: skip


_MONEY_COLUMNS = (
    "total_cost_minor", "total_cost_incl_vat_minor", "energy_cost_minor", "time_cost_minor", "fixed_cost_minor",
)  # fmt: skip


class RecordError(ValueError):
    """A record does not satisfy its schema.

    Attributes
    ----------
    kind : str
        ``session``, ``uptime`` or ``outage``.
    index : int
        Position of the record in the list validated.
    field : str or None
        The offending field (None when the record is not an object at all).
    """

    def __init__(self, kind: str, index: int, field: str | None, message: str):
        self.kind, self.index, self.field = kind, index, field
        where = f"field {field!r}" if field is not None else "record"
        super().__init__(f"{kind} record {index}: {where}: {message}")


# ---- value formatting ---------------------------------------------------------------------------


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


def _minutes(seconds: float) -> float:
    """Seconds as minutes [min], rounded to 3 decimals (the schemas count partial minutes)."""
    return round(float(seconds) / 60.0, _MINUTE_PLACES)


def _require(table: pa.Table, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise ValueError(f"{what}: missing column(s) {', '.join(missing)}")


# ---- uptime ---------------------------------------------------------------------------------------


def uptime_records(
    months: pa.Table,
    *,
    basis: str = "trailing_12_months",
    report_months: Collection[dt.date] | None = None,
) -> list[dict[str, Any]]:
    """Uptime records (uptime.json), one per port-month, per 23 CFR 680.112 and 680.116(b).

    680.116(b) defines a port's uptime as calculated monthly over the previous twelve months,
    ``μ = (525,600 − (T_outage − T_excluded)) / 525,600 × 100`` [%], with the minutes the
    port existed in place of 525,600 for a partial year; 680.112 asks for it quarterly, for
    each month. So by default (``basis="trailing_12_months"``) a record for month ``m``
    carries the trailing-twelve-month figures:

    * ``uptime_pct`` = ``uptime_t12m_pct`` [%], unrounded (so the ">97 %" test reads the
      same as in evrevops);
    * ``outage_total`` = ``t12_outage_s`` / 60 and ``outage_excluded`` = ``t12_excluded_s``
      / 60 [min], rounded to 3 decimals (the schema counts partial minutes);
    * ``uptime_period_start`` = the first measured instant of the twelve months ending with
      ``m`` (for a partial-year port, its first measured instant: the shorter period *is*
      how the record says it is a partial year) and ``uptime_period_end`` = the end of the
      port's measured span in ``m`` (``period_end_at``);
    * ``report_yr_mon`` = ``m`` as ``YYYYMM`` (the site-local month).

    ``station_id`` is the evrevops ``site_id``: the specification's station is a location
    holding ports (station.json: "specific to the physical location of the station (site)";
    the permanent station identifier of 680.116(c)(1)), not a charger. ``port_id`` is the
    evrevops port (680.116(c)(8)(iii)).

    With ``basis="month"`` the record holds the month's own figures instead (``uptime_pct``,
    ``outage_s``, ``excluded_s``, ``period_start_at``–``period_end_at``), for programmes that
    ask for monthly values.

    Parameters
    ----------
    months : pyarrow.Table
        Port-month uptime: ``port_id``, ``site_id`` (str), ``month`` (date, first day of the
        site-local month), ``period_start_at``, ``period_end_at`` (naive UTC timestamps: the
        port's measured span in the month), ``period_s``, ``outage_s``, ``excluded_s``
        [s] (the month's measured time, T_outage and T_excluded), ``t12_period_s``,
        ``t12_outage_s``, ``t12_excluded_s`` [s] (sums over the twelve months ending with
        ``month``), ``uptime_pct``, ``uptime_t12m_pct`` [%]; ``charger_id`` and
        ``partial_year`` are read by nothing here. An optional ``t12_period_start_at``
        column gives the window's start directly.
    basis : {"trailing_12_months", "month"}
        Which figures the records carry (see above).
    report_months : collection of datetime.date, optional
        The months to report (e.g. a quarter's three); other rows of *months* only serve to
        find the start of the trailing window. All months by default.

    Returns
    -------
    list of dict
        Records with the fields of :data:`FIELDS` ``["uptime"]``, in the table's row order.

    Raises
    ------
    ValueError
        A column is missing, a (port, month) appears twice, an uptime is missing or NaN,
        or — without ``t12_period_start_at`` — the table lacks rows of a reported month's
        trailing window (their ``period_s`` do not add up to ``t12_period_s``), so its start
        cannot be known.
    """
    if basis not in ("trailing_12_months", "month"):
        raise ValueError(f"basis must be 'trailing_12_months' or 'month', not {basis!r}")
    _require(months, UPTIME_COLUMNS, "uptime_records")
    rows = months.to_pylist()
    by_port: dict[str, dict[int, dict[str, Any]]] = {}
    for r in rows:
        idx = month_index(r["month"])
        if idx in by_port.setdefault(r["port_id"], {}):
            raise ValueError(f"uptime_records: port {r['port_id']} has two rows for {r['month']:%Y-%m}")
        by_port[r["port_id"]][idx] = r
    wanted = None if report_months is None else {month_index(m) for m in report_months}
    t12 = basis == "trailing_12_months"
    out = []
    for r in rows:
        idx = month_index(r["month"])
        if wanted is not None and idx not in wanted:
            continue
        label = f"port {r['port_id']} {r['month']:%Y-%m}"
        pct = r["uptime_t12m_pct"] if t12 else r["uptime_pct"]
        if pct is None or not math.isfinite(pct):
            raise ValueError(f"uptime_records: {label}: no uptime ({pct!r})")
        if t12:
            start = r.get("t12_period_start_at") or _window_start(by_port[r["port_id"]], idx, r, label)
            outage_s, excluded_s = r["t12_outage_s"], r["t12_excluded_s"]
        else:
            start = r["period_start_at"]
            outage_s, excluded_s = r["outage_s"], r["excluded_s"]
        out.append(
            {
                "port_id": r["port_id"],
                "station_id": r["site_id"],
                "uptime_period_start": iso_instant(start),
                "uptime_period_end": iso_instant(r["period_end_at"]),
                "report_yr_mon": f"{r['month'].year:04d}{r['month'].month:02d}",
                "uptime_pct": float(pct),
                "outage_total": _minutes(outage_s),
                "outage_excluded": _minutes(excluded_s),
            }
        )
    return out


def _window_start(port_rows: Mapping[int, dict[str, Any]], idx: int, row: dict[str, Any], label: str) -> dt.datetime:
    """First measured instant of the twelve months ending with month *idx*, checked against ``t12_period_s``."""
    window = [port_rows[i] for i in range(idx - 11, idx + 1) if i in port_rows]
    held = sum(w["period_s"] for w in window)
    if abs(held - row["t12_period_s"]) > _EPS_S + 1e-9 * abs(row["t12_period_s"]):
        raise ValueError(
            f"uptime_records: {label}: the table holds {held:.3f} s of its trailing twelve months but "
            f"t12_period_s is {row['t12_period_s']:.3f} s; include the port's rows of the eleven months "
            "before (report_months picks the months to report) or a t12_period_start_at column"
        )
    return min(w["period_start_at"] for w in window)


# ---- outages ----------------------------------------------------------------------------------------


def outage_records(
    ledger: pa.Table,
    *,
    period_end_at: dt.datetime | None = None,
    include_no_data: bool = True,
) -> list[dict[str, Any]]:
    """Outage records (outage.json), one per outage of the ledger, per 23 CFR 680.112.

    * ``station_id`` = ``site_id`` (see :func:`uptime_records`).
    * ``outage_start`` = ``started_at``; ``outage_end`` = ``ended_at``.
    * An **open** outage (``open``, or no ``ended_at``) has no end yet, but the schema requires
      one: it is reported as lasting to the end of the report period, ``outage_end`` =
      *period_end_at* and ``outage_duration`` = *period_end_at* − ``started_at``. The next
      report gives the same ``outage_id`` its real end.
    * ``outage_duration`` = ``duration_s`` as an ISO 8601 duration (common.json ``duration``;
      the description says "in minutes (including partial minutes)", the type is an ISO
      duration: ``PT2H2M3S``), to the millisecond.
    * ``outage_cause`` = :data:`CAUSE_TEXT` of ``cause`` (the schema has no enum); no cause
      recorded → :data:`CAUSE_UNKNOWN` (``"unknown"``), or :data:`CAUSE_NO_DATA` (``"no data"``)
      for a no-data run. An evrevops cause not in :data:`CAUSE_TEXT` is an error.
    * ``exempted_outage`` = the whole outage is excluded time under 680.116(b)
      (``excluded_s`` ≥ its duration: an excludable cause such as a utility interruption, or
      hours outside the stated operating hours, covering all of it). An outage only partly
      covered is not exempted; its excluded minutes still count in the uptime record's
      ``outage_excluded``.
    * **No-data runs** (``state = 'no_data'``: the port's status was not observed) are exported
      by default: NEVI uptime counts them in T_outage, so the outage records then account for
      all of ``outage_total``. ``include_no_data=False`` leaves them out.

    Parameters
    ----------
    ledger : pyarrow.Table
        The outage ledger: ``outage_id``, ``port_id``, ``site_id``, ``started_at``,
        ``ended_at`` (naive UTC, null while open), ``duration_s`` [s], ``state``
        (``outage`` or ``no_data``), ``cause`` (str or null), ``excluded_s`` [s], ``open``
        (bool); ``charger_id``, ``statuses``, ``error_codes``, ``incident_id`` and
        ``nevi_excludable`` are not exported (the schema has no field for them).
    period_end_at : datetime.datetime, optional
        End of the report period [naive UTC], the end given to open outages; required when
        there is one.
    include_no_data : bool
        Export no-data runs (default) or not.

    Returns
    -------
    list of dict
        Records with the fields of :data:`FIELDS` ``["outage"]``, in the ledger's row order.

    Raises
    ------
    ValueError
        A column is missing, a state or cause is unknown, or an outage is open and
        *period_end_at* is missing or before its start.
    """
    _require(ledger, OUTAGE_COLUMNS, "outage_records")
    out = []
    for r in ledger.to_pylist():
        state = r["state"]
        if state not in ("outage", "no_data"):
            raise ValueError(f"outage_records: outage {r['outage_id']}: unknown state {state!r}")
        if state == "no_data" and not include_no_data:
            continue
        start = r["started_at"]
        if r["open"] or r["ended_at"] is None:
            if period_end_at is None:
                raise ValueError(f"outage_records: outage {r['outage_id']} is open: pass period_end_at")
            if period_end_at < start:
                raise ValueError(f"outage_records: outage {r['outage_id']} starts after period_end_at")
            end, duration_s = period_end_at, (period_end_at - start).total_seconds()
        else:
            end, duration_s = r["ended_at"], r["duration_s"]
        cause = r["cause"]
        if cause is None:
            text = CAUSE_NO_DATA if state == "no_data" else CAUSE_UNKNOWN
        elif cause in CAUSE_TEXT:
            text = CAUSE_TEXT[cause]
        else:
            raise ValueError(f"outage_records: outage {r['outage_id']}: unknown cause {cause!r}")
        excluded_s = r["excluded_s"] or 0.0
        out.append(
            {
                "outage_id": r["outage_id"],
                "port_id": r["port_id"],
                "station_id": r["site_id"],
                "outage_start": iso_instant(start),
                "outage_end": iso_instant(end),
                "outage_duration": iso_duration(duration_s),
                "outage_cause": text,
                "exempted_outage": bool(duration_s > 0 and excluded_s + _EPS_S >= duration_s),
            }
        )
    return out


# ---- sessions ---------------------------------------------------------------------------------------


def sessions_for_export(con: duckdb.DuckDBPyConnection, start_at: dt.datetime, end_at: dt.datetime) -> pa.Table:
    """The warehouse sessions that ended in [*start_at*, *end_at*), with what :func:`session_records` reads.

    A session is reported once, in the period it ended (a CDR exists only once its session
    has ended). Besides the ``sessions`` columns, three come from the port's OCPP telemetry
    during the session (``started_at`` ≤ ``observed_at`` ≤ ``ended_at``):

    * ``error_codes``: the distinct ``status_events.error_code`` values of the port other than
      ``NoError``, sorted and comma-separated (null when none);
    * ``start_soc`` / ``end_soc`` [0–1]: the first / last ``SoC`` meter reading in percent,
      divided by 100 (null without readings);
    * ``peak_kw`` [kW]: the session's own ``peak_kw``, else the highest
      ``Power.Active.Import`` reading without phase (``W`` — OCPP's default unit — or ``kW``).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection to the warehouse file.
    start_at, end_at : datetime.datetime
        The period's bounds [naive UTC]; *end_at* excluded.

    Returns
    -------
    pyarrow.Table
        One row per session, ordered by ``ended_at`` then ``session_id``.
    """
    sql = """
WITH s AS (
    SELECT session_id, site_id, port_id, started_at, ended_at, charging_ended_at, energy_kwh,
           plugged_in_s, charging_s, idle_s, peak_kw, currency, total_cost_minor, total_cost_incl_vat_minor,
           energy_cost_minor, time_cost_minor, parking_cost_minor, fixed_cost_minor,
           auth_method, token_uid, stop_reason
    FROM sessions WHERE ended_at >= $start_at AND ended_at < $end_at
), ev AS (
    SELECT s.session_id, string_agg(DISTINCT e.error_code, ',' ORDER BY e.error_code) AS error_codes
    FROM s JOIN status_events e ON e.port_id = s.port_id AND e.observed_at BETWEEN s.started_at AND s.ended_at
    WHERE e.error_code IS NOT NULL AND e.error_code NOT IN ('', 'NoError')
    GROUP BY s.session_id
), mr AS (
    SELECT s.session_id,
           arg_min(m.value, m.observed_at) FILTER (WHERE m.measurand = 'SoC') AS soc_first,
           arg_max(m.value, m.observed_at) FILTER (WHERE m.measurand = 'SoC') AS soc_last,
           max(CASE WHEN coalesce(m.unit, 'W') = 'W' THEN m.value / 1000.0 WHEN m.unit = 'kW' THEN m.value END)
               FILTER (WHERE m.measurand = 'Power.Active.Import' AND m.phase IS NULL) AS meter_peak_kw
    FROM s JOIN meter_readings m ON m.port_id = s.port_id AND m.observed_at BETWEEN s.started_at AND s.ended_at
    WHERE m.measurand = 'Power.Active.Import'
       OR (m.measurand = 'SoC' AND coalesce(m.unit, 'Percent') = 'Percent')
    GROUP BY s.session_id
)
SELECT s.* REPLACE (coalesce(s.peak_kw, mr.meter_peak_kw) AS peak_kw),
       ev.error_codes, mr.soc_first / 100.0 AS start_soc, mr.soc_last / 100.0 AS end_soc
FROM s LEFT JOIN ev USING (session_id) LEFT JOIN mr USING (session_id)
ORDER BY s.ended_at, s.session_id
"""
    return con.sql(sql, params={"start_at": start_at, "end_at": end_at}).to_arrow_table()


def session_records(
    sessions: pa.Table,
    *,
    currency: str = "USD",
    user_id_key: bytes | None = None,
) -> list[dict[str, Any]]:
    """Session records (session.json), one per session, per 23 CFR 680.112.

    * ``plug_start_datetime`` / ``plug_end_datetime`` = ``started_at`` / ``ended_at``;
      ``session_duration`` = ``plugged_in_s`` and ``charging_duration`` = ``charging_s`` as
      ISO 8601 durations.
    * ``charge_start_datetime`` = ``started_at`` and ``charge_end_datetime`` =
      ``charging_ended_at`` (else ``started_at + charging_s``): evrevops' convention that a
      session charges first and idles after (OCPI CDRs do not say when charging happened).
      Both are null for a session that never charged (``charging_s = 0``).
    * ``energy_kwh`` [kWh] and ``peak_kw`` [kW] as stored (peak null when unknown).
    * Money, in major units of *currency* as exact Decimals (the schemas say USD; amounts in
      another currency are never converted here: a session in a currency other than
      *currency* is an error): ``total_fee_charged`` = what the driver paid, the CDR's total
      incl. VAT / sales tax when given, else excl. (0 when a paid charger charged nothing,
      null when no cost is known); ``session_fee`` = the flat fee (``fixed_cost_minor``);
      ``energy_fee`` [currency/kWh] = ``energy_cost / energy_kwh`` and ``time_fee``
      [currency/min] = ``time_cost / charging minutes`` — the schema's fees are *rates*
      ("per kilowatt-hour", "per minute"), so these are the session's effective average
      rates excl. VAT, rounded half up to :data:`RATE_PLACES` decimals, null when the cost
      or the quantity is missing or zero. Parking/idle cost has no session field; it is in
      the total.
    * ``user_id`` = SHA-256 of the token UID (trimmed, upper case: OCPI UIDs are
      case-insensitive) as hex, HMAC-SHA-256 keyed with *user_id_key* when given — the raw
      token never leaves. Deterministic, so one driver's sessions share a ``user_id``.
    * ``payment_type`` = :data:`PAYMENT_TYPE` of ``auth_method`` (a value already in the
      schema's enum is kept; any other → ``other``; none → null).
    * ``ended_by`` and ``successful_completion`` from :data:`STOP_REASONS`:
      ``successful_completion`` = energy was delivered (``energy_kwh > 0``) and the session
      was not stopped by a fault or an EVSE- or network-side stop (handbook §4, session
      success rate); no stop reason (OCPI CDRs have none) counts as a normal end.
    * ``error_code`` = the status error codes seen during the session (``error_codes``
      column, :func:`sessions_for_export`) plus the stop reason when it was not a normal
      end, distinct, sorted, comma-separated; null when none.
    * ``start_soc`` / ``end_soc`` [0–1] from the optional columns of the same names, else null.

    Parameters
    ----------
    sessions : pyarrow.Table
        Warehouse ``sessions`` rows (see :data:`SESSION_COLUMNS`), optionally with
        ``total_cost_incl_vat_minor``, ``error_codes``, ``start_soc``, ``end_soc``.
    currency : str
        ISO 4217 code of the export; every session with money must be in it.
    user_id_key : bytes, optional
        Secret key for the ``user_id`` HMAC. Pass one: an RFID UID has only 4–7 bytes, and
        an unkeyed hash of one can be reversed by trying them all.

    Returns
    -------
    list of dict
        Records with the fields of :data:`FIELDS` ``["session"]``, in the table's row order.

    Raises
    ------
    ValueError
        A column is missing, or a session has money in another currency or none.
    """
    _require(sessions, SESSION_COLUMNS, "session_records")
    want = currency.upper()
    out = []
    for r in sessions.to_pylist():
        sid = r["session_id"]
        money = {k: r.get(k) for k in _MONEY_COLUMNS}
        if any(v is not None for v in money.values()):
            cur = (r["currency"] or "").upper()
            if not cur:
                raise ValueError(f"session_records: session {sid} has costs but no currency")
            if cur != want:
                raise ValueError(
                    f"session_records: session {sid} is in {cur}, the export in {want} (no currency conversion here)"
                )
        major = {k: None if v is None else minor_to_decimal(v, want) for k, v in money.items()}
        total = major["total_cost_incl_vat_minor"]
        if total is None:
            total = major["total_cost_minor"]
        energy_kwh = float(r["energy_kwh"])
        charging_s = float(r["charging_s"])
        energy_cost, time_cost = major["energy_cost_minor"], major["time_cost_minor"]
        energy_fee = _rate(energy_cost, exact_decimal(energy_kwh)) if energy_cost is not None else None
        time_fee = _rate(time_cost, exact_decimal(charging_s) / 60) if time_cost is not None else None

        reason = r["stop_reason"]
        if reason is None or not reason.strip():
            ended_by, normal = None, True
        else:
            ended_by, normal = _STOP_LOWER.get(reason.strip().lower(), (reason.strip(), False))
        codes = {c.strip() for c in (r.get("error_codes") or "").split(",") if c.strip()}
        if not normal:
            codes.add(reason.strip())

        started = r["started_at"]
        if charging_s > 0:
            charge_start = iso_instant(started)
            charge_end_at = r["charging_ended_at"] or started + dt.timedelta(seconds=charging_s)
            charge_end = iso_instant(charge_end_at)
        else:
            charge_start = charge_end = None
        auth = r["auth_method"]
        if auth is None or not auth.strip():
            payment = None
        else:
            payment = PAYMENT_TYPE.get(auth.strip().upper(), auth.strip() if auth.strip() in _PAYMENT_ENUM else "other")
        peak = r["peak_kw"]
        out.append(
            {
                "session_id": sid,
                "port_id": r["port_id"],
                "plug_start_datetime": iso_instant(started),
                "plug_end_datetime": iso_instant(r["ended_at"]),
                "charge_start_datetime": charge_start,
                "charge_end_datetime": charge_end,
                "session_duration": iso_duration(r["plugged_in_s"]),
                "charging_duration": iso_duration(charging_s),
                "energy_kwh": energy_kwh,
                "peak_kw": None if peak is None else float(peak),
                "total_fee_charged": total,
                "energy_fee": energy_fee,
                "session_fee": major["fixed_cost_minor"],
                "time_fee": time_fee,
                "user_id": _user_id(r["token_uid"], user_id_key),
                "successful_completion": bool(energy_kwh > 0 and normal),
                "ended_by": ended_by,
                "start_soc": _soc(r.get("start_soc")),
                "end_soc": _soc(r.get("end_soc")),
                "error_code": ",".join(sorted(codes)) or None,
                "payment_type": payment,
            }
        )
    return out


def _rate(amount: Decimal, quantity: Decimal) -> Decimal | None:
    """*amount* per unit of *quantity*, half up to :data:`RATE_PLACES` decimals; None for no quantity."""
    if quantity <= 0:
        return None
    return (amount / quantity).quantize(Decimal(1).scaleb(-RATE_PLACES), rounding=ROUND_HALF_UP)


def _soc(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _user_id(token: str | None, key: bytes | None) -> str | None:
    """Deterministic pseudonym of a token UID (hex SHA-256, or HMAC-SHA-256 under *key*); None without a token."""
    if token is None or not token.strip():
        return None
    msg = token.strip().upper().encode()
    if key:
        return hmac.new(key, msg, hashlib.sha256).hexdigest()
    return hashlib.sha256(b"evrevops.nevi.user_id\x00" + msg).hexdigest()


# ---- files ----------------------------------------------------------------------------------------


def _kind_of(records: Sequence[Mapping[str, Any]], kind: str | None) -> str:
    if kind is not None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        return kind
    if not records:
        raise ValueError("no records: pass kind to write an empty file")
    keys = set(records[0])
    for k in KINDS:
        if keys == set(FIELDS[k]):
            return k
    raise ValueError(f"record 0 has the fields of no known kind: {sorted(keys)}")


def _json_value(v: Any) -> str:
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise ValueError(f"not a finite number: {v}")
        return format(v, "f")
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"not a finite number: {v}")
    return json.dumps(v, ensure_ascii=False)


def _csv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"not a finite number: {v}")
        return repr(v)
    return str(v)


def write_records(records: Sequence[Mapping[str, Any]], path: str | Path, fmt: str, *, kind: str | None = None) -> Path:
    """Write records as a JSON array or as CSV.

    JSON: an array of objects, one per line (indented by two spaces), fields in schema order, ``null`` for None;
    Decimals are written as their exact decimal text (``12.34``, ``1500``), never through a
    float. CSV (RFC 4180): a header of the spec's field names in the schema's property order,
    then one row per record; None is an empty cell, booleans ``true``/``false``, numbers as
    JSON numbers would be.

    Parameters
    ----------
    records : sequence of mapping
        Records of one kind (from :func:`session_records`, :func:`uptime_records` or
        :func:`outage_records`).
    path : str or Path
        File to write (replaced).
    fmt : {"json", "csv"}
        Output format.
    kind : {"session", "uptime", "outage"}, optional
        The records' kind; found from the first record's fields when not given (needed for
        an empty list).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ValueError
        Unknown format or kind, records whose fields differ from their kind's, or a
        non-finite number.
    """
    if fmt not in ("json", "csv"):
        raise ValueError(f"fmt must be 'json' or 'csv', not {fmt!r}")
    kind = _kind_of(records, kind)
    fields = FIELDS[kind]
    for i, rec in enumerate(records):
        if set(rec) != set(fields):
            raise ValueError(f"{kind} record {i}: fields differ from the schema's: {sorted(set(rec) ^ set(fields))}")
    path = Path(path)
    if fmt == "json":
        lines = ["  {" + ", ".join(f"{json.dumps(f)}: {_json_value(rec[f])}" for f in fields) + "}" for rec in records]
        path.write_text("[\n" + ",\n".join(lines) + ("\n" if lines else "") + "]\n", encoding="utf-8")
    else:
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(fields)
            for rec in records:
                w.writerow([_csv_value(rec[f]) for f in fields])
    return path


def read_records(path: str | Path, fmt: str, kind: str) -> list[dict[str, Any]]:
    """Read a file :func:`write_records` wrote back into records of the same Python types.

    Parameters
    ----------
    path : str or Path
        The file.
    fmt : {"json", "csv"}
        Its format.
    kind : {"session", "uptime", "outage"}
        The records' kind, which fixes each field's type (money as Decimal, other numbers
        as float). In CSV an empty cell is None.

    Returns
    -------
    list of dict
        The records, fields in schema order.
    """
    types = _TYPES[_kind_of([], kind)]
    if fmt == "json":
        raw = json.loads(Path(path).read_text(encoding="utf-8"), parse_float=Decimal)
        return [{f: _typed(rec.get(f), t) for f, t in types.items()} for rec in raw]
    if fmt != "csv":
        raise ValueError(f"fmt must be 'json' or 'csv', not {fmt!r}")
    with Path(path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [{f: _typed(_cell(row.get(f), t), t) for f, t in types.items()} for row in rows]


def _cell(text: str | None, t: str) -> Any:
    if text is None or text == "":
        return None
    if t == "boolean":
        if text not in ("true", "false"):
            raise ValueError(f"not a boolean: {text!r}")
        return text == "true"
    if t in ("number", "decimal"):
        return Decimal(text)
    return text


def _typed(v: Any, t: str) -> Any:
    if v is None or isinstance(v, bool):
        return v
    if t == "decimal" and isinstance(v, int | Decimal):
        return Decimal(v)
    if t == "number" and isinstance(v, int | Decimal):
        return float(v)
    return v


# ---- validation -------------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$"
)  # fmt: skip


def is_rfc3339(text: str) -> bool:
    """Whether *text* is an RFC 3339 ``date-time`` (JSON Schema's ``date-time`` format)."""
    m = _RFC3339.match(text)
    if not m:
        return False
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    if m.group(9) and (int(m.group(10)) > 23 or int(m.group(11)) > 59):
        return False
    try:
        dt.datetime(y, mo, d, h, mi, min(s, 59))  # second 60: a leap second
    except ValueError:
        return False
    return s <= 60


@functools.lru_cache(maxsize=16)
def _validator(kind: str, schema_dir: str, strict: bool) -> Any:
    # jsonschema and referencing are needed only here (dev extras); imported on first use.
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    folder = Path(schema_dir)
    if not (folder / f"{kind}.json").is_file():
        raise FileNotFoundError(
            f"no {kind}.json in {folder}: set evrevops.uptime.nevi_export.SCHEMA_DIR or pass schema_dir"
        )
    # The schemas carry relative ids ("./session.schema.json") and refs ("./common.json#/..."):
    # each is given the absolute id of its file, so the refs resolve to the files beside it.
    # No "$schema": they are read as draft-07, the draft of their "definitions" and of the ajv
    # validator the specification's own code uses.
    registry: Registry = Registry()
    schemas = {}
    for f in sorted(folder.glob("*.json")):
        contents = {**json.loads(f.read_text(encoding="utf-8")), "$id": f.resolve().as_uri()}
        schemas[f.stem] = contents
        registry = registry.with_resource(contents["$id"], Resource(contents, specification=DRAFT7))
    schema = schemas[kind]
    required = tuple(schema.get("required", ()))
    if not strict:
        schema = {**schema, "required": [p for p in required if p not in NULLABLE[kind]]}
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(lambda v: not isinstance(v, str) or is_rfc3339(v))
    return jsonschema.Draft7Validator(schema, registry=registry, format_checker=checker), required


def validate(
    records: Sequence[Mapping[str, Any]],
    kind: str,
    *,
    strict: bool = False,
    schema_dir: str | Path | None = None,
) -> None:
    """Validate records against the specification's JSON Schema of their kind.

    Draft-07 validation with ``jsonschema``, ``$ref`` to ``common.json`` resolved through a
    ``referencing`` registry of the schema folder, and ``date-time`` format checking (RFC
    3339, checked here so it does not depend on an optional package). Every required field
    must be present; unless *strict*, a field of :data:`NULLABLE` may hold None (the
    specification's "NULL" for what is not known), and every other value must satisfy the
    schema.

    Parameters
    ----------
    records : sequence of mapping
        The records.
    kind : {"session", "uptime", "outage"}
        Which schema.
    strict : bool
        Validate the published schema as is: None is then an error in every field.
    schema_dir : str or Path, optional
        Folder of the schemas; :data:`SCHEMA_DIR` by default (read at call time).

    Raises
    ------
    RecordError
        (a ValueError) for the first record that fails, naming its index and field.
    FileNotFoundError
        The schema folder has no schema of that kind.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    v, required = _validator(kind, str(Path(schema_dir if schema_dir is not None else SCHEMA_DIR)), strict)
    order = {f: i for i, f in enumerate(FIELDS[kind])}
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise RecordError(kind, i, None, "not an object")
        for f in required:
            if f not in rec:
                raise RecordError(kind, i, f, "required field missing")
        inst = dict(rec) if strict else {k: x for k, x in rec.items() if not (x is None and k in NULLABLE[kind])}
        errors = list(v.iter_errors(inst))
        if errors:
            e = min(errors, key=lambda e: (order.get(_field(e), len(order)), str(_field(e))))
            raise RecordError(kind, i, _field(e), e.message)


def _field(e: Any) -> str | None:
    if e.path:
        return str(e.path[0])
    if e.validator == "required":
        return next((p for p in e.validator_value if p not in e.instance), None)
    return None


def parse_quarter(text: str) -> tuple[dt.date, dt.date]:
    """``'2025Q4'`` (or ``2025-Q4``) → the first days of its first and last months."""
    m = re.fullmatch(r"(\d{4})-?[Qq]([1-4])", text.strip())
    if not m:
        raise ValueError(f"not a quarter (YYYYQn): {text!r}")
    y, q = int(m.group(1)), int(m.group(2))
    return dt.date(y, 3 * q - 2, 1), dt.date(y, 3 * q, 1)


def export_quarter(
    wh: Any,
    quarter: str,
    out_dir: str | Path,
    fmt: str = "csv",
    *,
    as_of: dt.datetime | None = None,
    offline_after_s: int | None = None,
    currency: str = "USD",
    user_id_key: bytes | None = None,
) -> dict[str, tuple[Path, int]]:
    """Write the quarter's NEVI data (23 CFR 680.112): ``sessions``, ``uptime`` and ``outages`` files.

    Uptime records are the trailing-twelve-month figures of each of the
    quarter's three local months (:mod:`evrevops.uptime.timeline`); outages
    are the ledger's outages and no-data runs touching the quarter; sessions
    are those that ended in it (UTC quarter bounds). Every record is validated
    against the specification's schema before anything is written.

    Returns
    -------
    dict
        ``{"sessions" | "uptime" | "outages": (path, records)}``.
    """
    from evrevops.uptime import fact as _fact
    from evrevops.uptime import outages as _outages
    from evrevops.uptime import timeline as _timeline

    first, last = parse_quarter(quarter)
    window = _timeline.DEFAULT_OFFLINE_AFTER_S if offline_after_s is None else offline_after_s
    touched = _outages.ledger(wh, first, last, as_of=as_of, offline_after_s=window)
    wh.con.register("_nevi_touched", touched.select(["outage_id"]))
    led = wh.con.sql(
        f"SELECT * FROM {_timeline.LEDGER} WHERE outage_id IN (SELECT outage_id FROM _nevi_touched) "
        "ORDER BY started_at, port_id"
    ).to_arrow_table()
    wh.con.unregister("_nevi_touched")
    months = wh.con.sql(
        f"""SELECT m.*, f.ports_partial_year = 1 AS partial_year,
                   100.0 * f.nevi_up_s / m.period_s AS uptime_pct,
                   100.0 * f.t12_nevi_up_s / m.t12_period_s AS uptime_t12m_pct
            FROM {_timeline.MONTHS} m JOIN {_fact.FACT} f ON f.port_id = m.port_id AND f.month = m.month
            WHERE m.period_s > 0 ORDER BY m.site_id, m.port_id, m.month"""
    ).to_arrow_table()
    end_at = dt.datetime.combine(add_months(last, 1), dt.time())
    start_at = dt.datetime.combine(first, dt.time())
    period_end = min(end_at, as_of) if as_of else end_at
    records = {
        "uptime": uptime_records(months, report_months=[first, add_months(first, 1), last]),
        "outages": outage_records(led, period_end_at=period_end),
        "sessions": session_records(
            sessions_for_export(wh.con, start_at, end_at), currency=currency, user_id_key=user_id_key
        ),
    }
    kinds = {"uptime": "uptime", "outages": "outage", "sessions": "session"}
    for name, recs in records.items():
        validate(recs, kinds[name])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, recs in records.items():
        path = out / f"nevi-{quarter.upper().replace('-', '')}-{name}.{fmt}"
        write_records(recs, path, fmt, kind=kinds[name])
        written[name] = (path, len(recs))
    return written
