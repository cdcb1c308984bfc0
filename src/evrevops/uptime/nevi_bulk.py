"""NEVI session records in bulk: the records of :func:`~evrevops.uptime.nevi_records.session_records` as one Arrow table.

:func:`session_table` computes, in one DuckDB query over the sessions table, exactly the
values :func:`~evrevops.uptime.nevi_records.session_records` gives record by record, as typed
columns named after the specification's fields (strings, floats, booleans; money as its exact
decimal text, the text :mod:`evrevops.uptime.nevi_files` writes). What depends only on a few
distinct values (the ``user_id`` pseudonym of each token, the ``ended_by`` / ``error_code`` of
each stop reason and telemetry error set, the ``payment_type`` of each ``auth_method``) is
computed once per distinct value with the per-record functions themselves and joined in.

The SQL uses floats where the per-record code uses exact decimals (a duration rounded half up
to the millisecond, a fee rate rounded half up to :data:`RATE_PLACES` places, a charge end of
``started_at + charging_s``). Floats agree with the exact result except next to a rounding
tie, so every row whose float figure lies within a safe margin of a tie, or that is unusual
in any other way (negative money, an impossible duration, a money column in another currency,
an instant before 1970 or after 9999), is *flagged* and computed by the per-record code
instead. The result is the same, value for value, as :func:`session_records`; the tests
compare the two on the demo network and on constructed ties.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from evrevops.core.money import currency_exponent
from evrevops.uptime.nevi_fields import FIELDS, MONEY_COLUMNS, RATE_PLACES, SESSION_COLUMNS, TYPES
from evrevops.uptime.nevi_records import _payment_type, _require, _session_end, _session_record, _user_id

#: Arrow type of each field type of :data:`TYPES` in the bulk tables (money as exact decimal text).
ARROW_TYPES = {"string": pa.string(), "boolean": pa.bool_(), "number": pa.float64(), "decimal": pa.string()}

# A float figure within this margin of a rounding tie is recomputed exactly (relative + absolute).
_TIE_REL, _TIE_ABS = 1e-12, 1e-6
_MAX_SCALED = 1e15  # beyond this a float no longer holds the unit digit safely


def schema(kind: str) -> pa.Schema:
    """The Arrow schema of a bulk table of records of *kind*: the fields of :data:`FIELDS` in order."""
    return pa.schema([(f, ARROW_TYPES[t]) for f, t in TYPES[kind].items()])


def _near_tie(x: str) -> str:
    """SQL: the float *x* (≥ 0) is too close to a half-integer (or too large) to round in floats."""
    return f"(({x}) >= {_MAX_SCALED} OR abs(({x}) - floor({x}) - 0.5) < {_TIE_ABS} + ({x}) * {_TIE_REL})"


def _instant(ts: str) -> str:
    """SQL: the naive UTC timestamp *ts* as :func:`~evrevops.uptime.nevi_fields.iso_instant` writes it."""
    frac = f"epoch_us({ts}) % 1000000"
    return (
        f"strftime({ts}, '%Y-%m-%dT%H:%M:%S') || CASE WHEN {frac} <> 0 "
        f"THEN '.' || rtrim(lpad(CAST({frac} AS VARCHAR), 6, '0'), '0') ELSE '' END || 'Z'"
    )


def _bad_instant(ts: str) -> str:
    """SQL: *ts* is outside the years the text of :func:`_instant` is known to agree on."""
    return f"({ts} IS NOT NULL AND ({ts} < TIMESTAMP '1970-01-01' OR {ts} >= TIMESTAMP '9999-01-01'))"


def _duration(ms: str) -> str:
    """SQL: a whole number of milliseconds *ms* as :func:`~evrevops.uptime.nevi_fields.iso_duration` writes it."""
    h, m, rest = f"({ms} // 3600000)", f"(({ms} % 3600000) // 60000)", f"({ms} % 60000)"
    frac = f"({rest} % 1000)"
    seconds = (
        f"CAST({rest} // 1000 AS VARCHAR) || CASE WHEN {frac} > 0 "
        f"THEN '.' || rtrim(lpad(CAST({frac} AS VARCHAR), 3, '0'), '0') ELSE '' END || 'S'"
    )
    return (
        f"'PT' || CASE WHEN {h} > 0 THEN CAST({h} AS VARCHAR) || 'H' ELSE '' END"
        f" || CASE WHEN {m} > 0 THEN CAST({m} AS VARCHAR) || 'M' ELSE '' END"
        f" || CASE WHEN {rest} > 0 OR ({h} = 0 AND {m} = 0) THEN {seconds} ELSE '' END"
    )


def _money(minor: str, exp: int) -> str:
    """SQL: non-negative integer minor units *minor* as the exact decimal text of the major amount."""
    if exp == 0:
        return f"CAST({minor} AS VARCHAR)"
    unit = 10**exp
    return f"CAST({minor} // {unit} AS VARCHAR) || '.' || lpad(CAST({minor} % {unit} AS VARCHAR), {exp}, '0')"


def _rate_text(scaled: str) -> str:
    """SQL: a rate times 10^RATE_PLACES (≥ 0, not near a tie) rounded half up, as decimal text."""
    unit = 10**RATE_PLACES
    r = f"CAST(floor(({scaled}) + 0.5) AS BIGINT)"
    return f"CAST({r} // {unit} AS VARCHAR) || '.' || lpad(CAST({r} % {unit} AS VARCHAR), {RATE_PLACES}, '0')"


def _lookup(con: duckdb.DuckDBPyConnection, name: str, keys: pa.Table, fn: Callable[..., dict[str, Any]]) -> None:
    """Register *name*: each distinct row of *keys* with the columns ``fn(*row)`` gives (once per distinct row)."""
    distinct = con.sql("SELECT DISTINCT * FROM keys").fetchall()
    rows = [{**dict(zip(keys.column_names, k, strict=True)), **fn(*k)} for k in distinct]
    con.register(
        name,
        pa.Table.from_pylist(rows) if rows else pa.table({c: pa.array([], pa.string()) for c in keys.column_names}),
    )


_SESSION_SQL = """
WITH base AS (
    SELECT row_number() OVER () - 1 AS _row, s.*,
           s.plugged_in_s * 1000.0 AS _plug_ms, s.charging_s * 1000.0 AS _charge_ms,
           {energy_scaled} AS _energy_rate, {time_scaled} AS _time_rate
    FROM raw s
), flagged AS (
    SELECT b.*, coalesce(
        b.energy_kwh IS NULL OR NOT isfinite(b.energy_kwh) OR b.charging_s IS NULL OR b.plugged_in_s IS NULL OR b.started_at IS NULL OR b.ended_at IS NULL
        OR NOT isfinite(b.plugged_in_s) OR NOT isfinite(b.charging_s) OR b.plugged_in_s < 0 OR b.charging_s < 0
        OR {near_plug} OR {near_charge}
        OR (b.charging_s > 0 AND b.charging_ended_at IS NULL AND b.charging_s <> floor(b.charging_s))
        OR {bad_instants}
        OR ({any_money} AND (b.currency IS NULL OR upper(b.currency) <> '{currency}'))
        OR {negative_money}
        OR (b.energy_cost_minor IS NOT NULL AND b.energy_kwh > 0 AND (NOT isfinite(b.energy_kwh) OR {near_energy}))
        OR (b.time_cost_minor IS NOT NULL AND b.charging_s > 0 AND {near_time}),
        true
    ) AS _exact
    FROM base b
)
SELECT f._row, f._exact, f.session_id, f.port_id,
       {plug_start} AS plug_start_datetime, {plug_end} AS plug_end_datetime,
       CASE WHEN f.charging_s > 0 THEN {plug_start} END AS charge_start_datetime,
       CASE WHEN f.charging_s > 0 THEN {charge_end} END AS charge_end_datetime,
       {session_duration} AS session_duration, {charging_duration} AS charging_duration,
       CAST(f.energy_kwh AS DOUBLE) AS energy_kwh, CAST(f.peak_kw AS DOUBLE) AS peak_kw,
       {total_fee} AS total_fee_charged,
       CASE WHEN f.energy_cost_minor IS NOT NULL AND f.energy_kwh > 0 THEN {energy_fee} END AS energy_fee,
       {session_fee} AS session_fee,
       CASE WHEN f.time_cost_minor IS NOT NULL AND f.charging_s > 0 THEN {time_fee} END AS time_fee,
       u.user_id, f.energy_kwh > 0 AND e.normal AS successful_completion, e.ended_by,
       CASE WHEN isfinite(f.start_soc) THEN CAST(f.start_soc AS DOUBLE) END AS start_soc,
       CASE WHEN isfinite(f.end_soc) THEN CAST(f.end_soc AS DOUBLE) END AS end_soc,
       e.error_code, p.payment_type
FROM flagged f
LEFT JOIN _nevi_users u ON u.token_uid IS NOT DISTINCT FROM f.token_uid
LEFT JOIN _nevi_ends e ON e.stop_reason IS NOT DISTINCT FROM f.stop_reason AND e.error_codes IS NOT DISTINCT FROM f.error_codes
LEFT JOIN _nevi_payments p ON p.auth_method IS NOT DISTINCT FROM f.auth_method
ORDER BY f._row
"""


def _session_sql(currency: str, exp: int) -> str:
    """The query of :func:`session_table` for an export in *currency* (minor-unit exponent *exp*)."""
    unit = 10**exp
    scale = 10**RATE_PLACES
    money = list(MONEY_COLUMNS)
    return _SESSION_SQL.format(
        energy_scaled=f"s.energy_cost_minor * {scale}.0 / {unit} / s.energy_kwh",
        time_scaled=f"s.time_cost_minor * {scale}.0 / {unit} / (s.charging_s / 60.0)",
        near_plug=_near_tie("b._plug_ms"),
        near_charge=_near_tie("b._charge_ms"),
        near_energy=_near_tie("b._energy_rate"),
        near_time=_near_tie("b._time_rate"),
        bad_instants=" OR ".join(_bad_instant(f"b.{c}") for c in ("started_at", "ended_at", "charging_ended_at")),
        any_money="(" + " OR ".join(f"b.{c} IS NOT NULL" for c in money) + ")",
        negative_money="(" + " OR ".join(f"coalesce(b.{c} < 0, false)" for c in money) + ")",
        currency=currency.replace("'", "''"),
        plug_start=_instant("f.started_at"),
        plug_end=_instant("f.ended_at"),
        charge_end=_instant(
            "coalesce(f.charging_ended_at, f.started_at + to_microseconds(CAST(f.charging_s * 1e6 AS BIGINT)))"
        ),
        session_duration=_duration("CAST(floor(f._plug_ms + 0.5) AS BIGINT)"),
        charging_duration=_duration("CAST(floor(f._charge_ms + 0.5) AS BIGINT)"),
        total_fee=_money("coalesce(f.total_cost_incl_vat_minor, f.total_cost_minor)", exp),
        session_fee=_money("f.fixed_cost_minor", exp),
        energy_fee=_rate_text("f._energy_rate"),
        time_fee=_rate_text("f._time_rate"),
    )


def _with_optional_columns(sessions: pa.Table) -> pa.Table:
    """*sessions* with the optional columns :func:`session_records` reads (null when absent)."""
    optional = {
        "total_cost_incl_vat_minor": pa.int64(),
        "error_codes": pa.string(),
        "start_soc": pa.float64(),
        "end_soc": pa.float64(),
    }
    for name, typ in optional.items():
        if name not in sessions.column_names:
            sessions = sessions.append_column(name, pa.nulls(sessions.num_rows, typ))
    return sessions


def session_table(sessions: pa.Table, *, currency: str = "USD", user_id_key: bytes | None = None) -> pa.Table:
    """Session records as one Arrow table: ``session_records(sessions, ...)`` in bulk.

    Parameters
    ----------
    sessions : pyarrow.Table
        As for :func:`~evrevops.uptime.nevi_records.session_records`.
    currency : str
        ISO 4217 code of the export; every session with money must be in it.
    user_id_key : bytes, optional
        Secret key for the ``user_id`` HMAC.

    Returns
    -------
    pyarrow.Table
        The fields of :data:`FIELDS` ``["session"]`` with the types of :func:`schema`, one row
        per session in the table's order; money and fee rates as exact decimal text.

    Raises
    ------
    ValueError
        As :func:`session_records` (a missing column; the first session, in row order, with
        money in another currency or none, or with an impossible duration).
    """
    _require(sessions, SESSION_COLUMNS, "session_records")
    want = currency.upper()
    raw = _with_optional_columns(sessions)
    if raw.num_rows == 0:
        return schema("session").empty_table()
    con = duckdb.connect()
    try:
        con.register("raw", raw)
        _lookup(con, "_nevi_users", raw.select(["token_uid"]), lambda t: {"user_id": _user_id(t, user_id_key)})
        _lookup(con, "_nevi_ends", raw.select(["stop_reason", "error_codes"]), _end_columns)
        _lookup(con, "_nevi_payments", raw.select(["auth_method"]), lambda a: {"payment_type": _payment_type(a)})
        out = con.sql(_session_sql(want, currency_exponent(want))).to_arrow_table()
    finally:
        con.close()
    return _exact_rows(out, raw, want, user_id_key)


def _end_columns(stop_reason: str | None, error_codes: str | None) -> dict[str, Any]:
    """``ended_by``, ``normal`` and ``error_code`` of a stop reason and the telemetry error codes."""
    ended_by, normal, codes = _session_end({"stop_reason": stop_reason, "error_codes": error_codes})
    return {"ended_by": ended_by, "normal": normal, "error_code": ",".join(sorted(codes)) or None}


def _exact_rows(out: pa.Table, raw: pa.Table, currency: str, user_id_key: bytes | None) -> pa.Table:
    """*out* with its flagged rows replaced by the per-record code's records (which also raise its errors)."""
    flagged = out.column("_exact").to_numpy(zero_copy_only=False)
    rows = [int(i) for i in flagged.nonzero()[0]]
    table = out.drop_columns(["_row", "_exact"]).cast(schema("session"))
    if not rows:
        return table
    exact = [_session_record(r, currency, user_id_key) for r in raw.take(rows).to_pylist()]
    texts = [{k: format(v, "f") if isinstance(v, Decimal) else v for k, v in rec.items()} for rec in exact]
    fixed = pa.Table.from_pylist(texts, schema=schema("session"))
    index = pa.array(np.arange(out.num_rows, dtype=np.int64))
    parts = [fixed.append_column("_i", pa.array(rows, pa.int64()))]
    parts.append(table.append_column("_i", index).filter(pa.array(~flagged.astype(bool))))
    merged = pa.concat_tables(parts).sort_by("_i")
    return merged.drop_columns(["_i"]).select(list(FIELDS["session"]))
