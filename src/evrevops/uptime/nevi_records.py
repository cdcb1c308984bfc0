"""NEVI quarterly records (23 CFR 680.112) in the field names of the EV Charging Use Data Specification.

23 CFR 680.112 asks the operator of a NEVI-funded (Part 680) station for quarterly data:
each charging session (start, end, error codes of unsuccessful sessions, energy [kWh],
peak power [kW], payment method, price charged), each port's uptime calculated per
680.116(b) (monthly, over the previous twelve months) with its outage minutes
``T_outage`` and excluded minutes ``T_excluded``, and each outage's duration. This module
turns evrevops tables into records with exactly the specification's names
(:mod:`evrevops.uptime.nevi_fields`); :mod:`evrevops.uptime.nevi_files` writes them and
:mod:`evrevops.uptime.nevi_export` validates them and exports a quarter.

Everything here is a pure function over Arrow tables. Conventions of every record:

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
  :func:`~evrevops.uptime.nevi_export.validate` therefore accepts ``None`` in the fields of :data:`NULLABLE` (and
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

import datetime as dt
import hashlib
import hmac
import math
from collections.abc import Collection, Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow as pa

from evrevops.core.calendar import month_index
from evrevops.core.money import exact_decimal, minor_to_decimal
from evrevops.uptime.nevi_fields import (
    CAUSE_NO_DATA,
    CAUSE_TEXT,
    CAUSE_UNKNOWN,
    EPS_S,
    MINUTE_PLACES,
    MONEY_COLUMNS,
    OUTAGE_COLUMNS,
    PAYMENT_ENUM,
    PAYMENT_TYPE,
    RATE_PLACES,
    SESSION_COLUMNS,
    STOP_LOWER,
    UPTIME_COLUMNS,
    iso_duration,
    iso_instant,
)


def _minutes(seconds: float) -> float:
    """Seconds as minutes [min], rounded to 3 decimals (the schemas count partial minutes)."""
    return round(float(seconds) / 60.0, MINUTE_PLACES)


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
    return [
        _uptime_record(r, by_port[r["port_id"]], t12=t12)
        for r in rows
        if wanted is None or month_index(r["month"]) in wanted
    ]


def _uptime_record(r: dict[str, Any], port_rows: Mapping[int, dict[str, Any]], *, t12: bool) -> dict[str, Any]:
    """The uptime record of the port-month row *r* (*port_rows*: the port's rows by month index)."""
    idx = month_index(r["month"])
    label = f"port {r['port_id']} {r['month']:%Y-%m}"
    pct = r["uptime_t12m_pct"] if t12 else r["uptime_pct"]
    if pct is None or not math.isfinite(pct):
        raise ValueError(f"uptime_records: {label}: no uptime ({pct!r})")
    if t12:
        start = r.get("t12_period_start_at") or _window_start(port_rows, idx, r, label)
        outage_s, excluded_s = r["t12_outage_s"], r["t12_excluded_s"]
    else:
        start = r["period_start_at"]
        outage_s, excluded_s = r["outage_s"], r["excluded_s"]
    return {
        "port_id": r["port_id"],
        "station_id": r["site_id"],
        "uptime_period_start": iso_instant(start),
        "uptime_period_end": iso_instant(r["period_end_at"]),
        "report_yr_mon": f"{r['month'].year:04d}{r['month'].month:02d}",
        "uptime_pct": float(pct),
        "outage_total": _minutes(outage_s),
        "outage_excluded": _minutes(excluded_s),
    }


def _window_start(port_rows: Mapping[int, dict[str, Any]], idx: int, row: dict[str, Any], label: str) -> dt.datetime:
    """First measured instant of the twelve months ending with month *idx*, checked against ``t12_period_s``."""
    window = [port_rows[i] for i in range(idx - 11, idx + 1) if i in port_rows]
    held = sum(w["period_s"] for w in window)
    if abs(held - row["t12_period_s"]) > EPS_S + 1e-9 * abs(row["t12_period_s"]):
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
        out.append(_outage_record(r, period_end_at))
    return out


def _outage_record(r: dict[str, Any], period_end_at: dt.datetime | None) -> dict[str, Any]:
    """The outage record of the ledger row *r* (an open outage ends at *period_end_at*)."""
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
        text = CAUSE_NO_DATA if r["state"] == "no_data" else CAUSE_UNKNOWN
    elif cause in CAUSE_TEXT:
        text = CAUSE_TEXT[cause]
    else:
        raise ValueError(f"outage_records: outage {r['outage_id']}: unknown cause {cause!r}")
    excluded_s = r["excluded_s"] or 0.0
    return {
        "outage_id": r["outage_id"],
        "port_id": r["port_id"],
        "station_id": r["site_id"],
        "outage_start": iso_instant(start),
        "outage_end": iso_instant(end),
        "outage_duration": iso_duration(duration_s),
        "outage_cause": text,
        "exempted_outage": bool(duration_s > 0 and excluded_s + EPS_S >= duration_s),
    }


# ---- sessions ---------------------------------------------------------------------------------------


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
      column, :func:`~evrevops.uptime.nevi_export.sessions_for_export`) plus the stop reason when it was not a normal
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
    return [_session_record(r, want, user_id_key) for r in sessions.to_pylist()]


def _session_record(r: dict[str, Any], currency: str, user_id_key: bytes | None) -> dict[str, Any]:
    """The session record of the warehouse session row *r* (see :func:`session_records`)."""
    major = _amounts(r, currency)
    energy_kwh = float(r["energy_kwh"])
    charging_s = float(r["charging_s"])
    fees = _fees(major, energy_kwh, charging_s)
    ended_by, normal, codes = _session_end(r)
    started = r["started_at"]
    if charging_s > 0:
        charge_start = iso_instant(started)
        charge_end_at = r["charging_ended_at"] or started + dt.timedelta(seconds=charging_s)
        charge_end = iso_instant(charge_end_at)
    else:
        charge_start = charge_end = None
    peak = r["peak_kw"]
    return {
        "session_id": r["session_id"],
        "port_id": r["port_id"],
        "plug_start_datetime": iso_instant(started),
        "plug_end_datetime": iso_instant(r["ended_at"]),
        "charge_start_datetime": charge_start,
        "charge_end_datetime": charge_end,
        "session_duration": iso_duration(r["plugged_in_s"]),
        "charging_duration": iso_duration(charging_s),
        "energy_kwh": energy_kwh,
        "peak_kw": None if peak is None else float(peak),
        **fees,
        "user_id": _user_id(r["token_uid"], user_id_key),
        "successful_completion": bool(energy_kwh > 0 and normal),
        "ended_by": ended_by,
        "start_soc": _soc(r.get("start_soc")),
        "end_soc": _soc(r.get("end_soc")),
        "error_code": ",".join(sorted(codes)) or None,
        "payment_type": _payment_type(r["auth_method"]),
    }


def _amounts(r: dict[str, Any], currency: str) -> dict[str, Decimal | None]:
    """The money columns of session *r* (:data:`MONEY_COLUMNS`) in major units of *currency*.

    Raises
    ------
    ValueError
        The session has costs but no currency, or is in another currency than *currency*.
    """
    sid = r["session_id"]
    money = {k: r.get(k) for k in MONEY_COLUMNS}
    if any(v is not None for v in money.values()):
        cur = (r["currency"] or "").upper()
        if not cur:
            raise ValueError(f"session_records: session {sid} has costs but no currency")
        if cur != currency:
            raise ValueError(
                f"session_records: session {sid} is in {cur}, the export in {currency} (no currency conversion here)"
            )
    return {k: None if v is None else minor_to_decimal(v, currency) for k, v in money.items()}


def _fees(major: dict[str, Decimal | None], energy_kwh: float, charging_s: float) -> dict[str, Decimal | None]:
    """``total_fee_charged``, ``energy_fee``, ``session_fee`` and ``time_fee`` of a session's amounts *major*."""
    total = major["total_cost_incl_vat_minor"]
    if total is None:
        total = major["total_cost_minor"]
    energy_cost, time_cost = major["energy_cost_minor"], major["time_cost_minor"]
    return {
        "total_fee_charged": total,
        "energy_fee": _rate(energy_cost, exact_decimal(energy_kwh)) if energy_cost is not None else None,
        "session_fee": major["fixed_cost_minor"],
        "time_fee": _rate(time_cost, exact_decimal(charging_s) / 60) if time_cost is not None else None,
    }


def _session_end(r: dict[str, Any]) -> tuple[str | None, bool, set[str]]:
    """``(ended_by, ended normally, error codes)`` of session *r*: its stop reason and status error codes."""
    reason = r["stop_reason"]
    if reason is None or not reason.strip():
        ended_by, normal = None, True
    else:
        ended_by, normal = STOP_LOWER.get(reason.strip().lower(), (reason.strip(), False))
    codes = {c.strip() for c in (r.get("error_codes") or "").split(",") if c.strip()}
    if not normal:
        codes.add(reason.strip())
    return ended_by, normal, codes


def _payment_type(auth: str | None) -> str | None:
    """``payment_type`` of an OCPI ``auth_method``: :data:`PAYMENT_TYPE`, a value of the enum as is, else ``other``."""
    if auth is None or not auth.strip():
        return None
    return PAYMENT_TYPE.get(auth.strip().upper(), auth.strip() if auth.strip() in PAYMENT_ENUM else "other")


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
