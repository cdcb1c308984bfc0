"""The checks of a session record read through a mapping: each way it is refused, with its reason.

:func:`checks` gives ``(condition, field, reason SQL)`` over the stage-3 table of
:mod:`evrevops.formats.session_csv` (one row a record, its values as read, parsed and
resolved: ``_start_text``, ``_started_at``, ``_plugged_s``, ...); the reader quarantines a
record for every check it fails, after the mapping's own reject rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evrevops.core import iso4217
from evrevops.formats import limits
from evrevops.formats.csv_columns import currency_reason_sql
from evrevops.formats.session_compile import lit

MAX_ID_CHARS = 255  # a session, site, port or charger id longer than this is refused

Add = Callable[[str, str, str], None]  # add(condition, field, reason SQL): one check


def _quoted(expr: str) -> str:
    """SQL text of *expr* in single quotes, or ``empty``, to cite a value in a reason."""
    return f"coalesce('''' || {expr} || '''', 'empty')"


def checks(
    spec: dict[str, Any],
    *,
    tol: float,
    clamp: float,
    span: str | None,
    zone_sql: str,
    offsets: list[tuple[str | None, str | None, str]],
    repair_info: dict[str, str],
    field_names: dict[str, str],
    lim: limits.Limits,
) -> list[tuple[str, str, str]]:
    """``(condition, field, reason SQL)`` for every way a record can be rejected.

    Besides the mapping's own rules and the fields that cannot be read, the limits of *lim*:
    instants outside the time window, energy that is not finite, negative or more than the
    power limit can deliver in the plugged-in time (× margin + slack), a plugged-in time over
    the session-length limit, an amount not below the money limit, ids over 255 characters.
    *tol* [s] is how far a stated duration may disagree with end minus start (*span*, SQL [s]),
    *clamp* [s] how long after plug-out a charging end is still read as the plug-out.
    """
    f = field_names
    out: list[tuple[str, str, str]] = []

    def add(cond: str, field: str, reason: str) -> None:
        out.append((f"NOT _rejected AND ({cond})", field.replace("'", "''"), reason))

    for i, r in enumerate(spec.get("reject", [])):
        fld = str(r.get("field") or f.get("session")).replace("'", "''")
        out.append((f"_reject{i}", fld, f"{lit(r['reason'] + ': ')} || {_quoted(f'_reject{i}_value')}"))

    _id_checks(add, spec, f)
    _start_checks(add, spec, f, zone_sql=zone_sql, offsets=offsets, repair_info=repair_info, lim=lim)
    _end_checks(add, spec, f, lim)
    _energy_checks(add, spec, f, span=span, tol=tol, lim=lim)
    _duration_checks(add, spec, f, span=span, tol=tol, clamp=clamp, lim=lim)
    _money_checks(add, spec, f, lim)
    return out


def _id_checks(add: Add, spec: dict[str, Any], f: dict[str, str]) -> None:
    """Missing session, site and port ids; ids over :data:`MAX_ID_CHARS` characters."""

    add(
        "_session_key IS NULL",
        f["session"],
        "'missing value for the session id (' || " + lit(spec["ids"]["session"]) + " || ')'",
    )
    add(
        "_site_id IS NULL",
        f["site"],
        "'missing value for the site id (' || " + lit(str(spec["ids"]["site"])) + " || ')'",
    )
    add(
        "_port_id IS NULL",
        f["port"],
        "'missing value for the port id (' || " + lit(str(spec["ids"]["port"])) + " || ')'",
    )
    for key, col in (
        ("session", "_session_key"),
        ("site", "_site_id"),
        ("port", "_port_id"),
        ("charger", "_charger_id"),
    ):
        add(
            f"length({col}) > {MAX_ID_CHARS}",
            f[key],
            f"'{key} id longer than {MAX_ID_CHARS} characters: ' || {_quoted(f'left({col}, 80)')}",
        )


def _start_checks(
    add: Add,
    spec: dict[str, Any],
    f: dict[str, str],
    *,
    zone_sql: str,
    offsets: list[tuple[str | None, str | None, str]],
    repair_info: dict[str, str],
    lim: limits.Limits,
) -> None:
    """A start that is missing, unparseable, outside a repair's window or the time window; unknown offsets and zones."""

    start = spec["start"]
    fmts = ", ".join(start.get("formats") or [start.get("format", "")])
    add("_start_text IS NULL", f["start"], "'missing start date/time'")
    if start.get("repair"):
        add(
            "_start_text IS NOT NULL AND _start_a IS NULL AND _start_b IS NULL",
            f["start"],
            f"'unparseable start date/time ' || {_quoted('_start_text')} || ' (expected {fmts})'",
        )
        add(
            "(_start_a IS NOT NULL OR _start_b IS NOT NULL) AND _start_local IS NULL",
            f["start"],
            f"'start date ' || {_quoted('_start_text')} || ' lies outside the file''s window "
            f"{repair_info.get('window', '')} read either way (day/month)'",
        )
    else:
        add(
            "_start_text IS NOT NULL AND _start_a IS NULL",
            f["start"],
            f"'unparseable start date/time ' || {_quoted('_start_text')} || ' (expected {fmts})'",
        )
    zone_spec = spec.get("time", {}).get("zone")
    for off, off_raw, key in offsets:
        if off is not None:
            add(
                f"{off_raw} IS NOT NULL AND {off} IS NULL",
                f[key + "_offset"],
                f"'unknown UTC offset or time-zone abbreviation ' || {_quoted(off_raw)}",
            )
    if zone_spec is not None:
        add(
            f"_start_local IS NOT NULL AND _started_raw IS NULL "
            f"AND ({zone_sql} IS NULL OR {zone_sql} NOT IN (SELECT name FROM _tz))",
            f["zone"],
            f"'unknown time zone ' || {_quoted(zone_sql)}",
        )
    add(lim.window_sql("_started_raw"), f["start"], f"'start ' || {lim.window_reason_sql('_started_raw')}")


def _end_checks(add: Add, spec: dict[str, Any], f: dict[str, str], lim: limits.Limits) -> None:
    """An end that is missing, unparseable, the Unix-epoch placeholder, outside the time window or before the start."""

    end = spec.get("end")
    if end:
        efmts = ", ".join(end.get("formats") or [end.get("format", "")])
        add("_end_text IS NULL", f["end"], "'missing end date/time (session still open at export?)'")
        add(
            "_end_text IS NOT NULL AND _end_local IS NULL",
            f["end"],
            f"'unparseable end date/time ' || {_quoted('_end_text')} || ' (expected {efmts})'",
        )
        add(
            "year(_end_local) = 1970 AND year(_start_local) > 1970",
            f["end"],
            f"'end ' || {_quoted('_end_text')} || ' is the 1970-01-01 (Unix epoch) placeholder: no end recorded'",
        )
        add(
            f"{lim.window_sql('_end_raw')} AND NOT (year(_end_local) = 1970 AND year(_start_local) > 1970)",
            f["end"],
            f"'end ' || {lim.window_reason_sql('_end_raw')}",
        )
        add(
            "_end_at < _started_at AND year(_end_local) <> 1970",
            f["end"],
            f"'end ' || {_quoted('_end_text')} || ' is before start ' || {_quoted('_start_text')}"
            " || CASE WHEN _start_repaired OR _end_local IS DISTINCT FROM _end_a"
            " THEN ' (read as ' || strftime(_start_local, '%Y-%m-%d %H:%M') || ' and '"
            " || strftime(_end_local, '%Y-%m-%d %H:%M') || ')' ELSE '' END",
        )


def _energy_checks(
    add: Add, spec: dict[str, Any], f: dict[str, str], *, span: str | None, tol: float, lim: limits.Limits
) -> None:
    """Energy that is missing, not a finite number, negative or more than a port can deliver."""

    energy_f = f["energy"]
    add("_energy_text IS NULL", energy_f, "'missing energy'")
    add(
        "_energy_text IS NOT NULL AND _energy_kwh IS NULL",
        energy_f,
        f"'energy is not a number: ' || {_quoted('_energy_text')}",
    )
    add(
        "_energy_kwh IS NOT NULL AND NOT isfinite(_energy_kwh)",
        energy_f,
        f"'energy is not a finite number: ' || {_quoted('_energy_text')}",
    )
    add("isfinite(_energy_kwh) AND _energy_kwh < 0", energy_f, f"'negative energy: ' || {_quoted('_energy_text')}")
    # the most a port can deliver while plugged in (the whole session-length limit when that time is
    # unknown; a negative plugged-in time has a reason of its own). A plugged-in time that is end
    # minus start is known only to the precision of those columns, often the minute: it may be up
    # to the duration tolerance longer.
    plugged_from_span = span is not None and "value" not in spec.get("plugged_in", {})
    longest = f"_plugged_s + {tol!r}" if plugged_from_span else "_plugged_s"
    hours = f"least(coalesce({longest}, {lim.max_session_s}), {lim.max_session_s}) / 3600"
    most = f"({lim.max_power_kw!r} * {hours} * {lim.energy_margin!r} + {lim.energy_slack_kwh!r})"
    add(
        f"isfinite(_energy_kwh) AND coalesce(_plugged_s, 0) >= 0 AND _energy_kwh > {most}",
        energy_f,
        f"'energy ' || {_quoted('_energy_text')} || ' is more than a port can deliver in the plugged-in time (at most '"
        f" || CAST(round({most}, 3) AS VARCHAR) || ' kWh: {lim.max_power_kw:g} kW for '"
        f" || CAST(round({hours}, 3) AS VARCHAR) || ' h × {lim.energy_margin:g} + {lim.energy_slack_kwh:g} kWh;"
        " see --max-power-kw)'",
    )


def _duration_checks(
    add: Add, spec: dict[str, Any], f: dict[str, str], *, span: str | None, tol: float, clamp: float, lim: limits.Limits
) -> None:
    """Plugged-in and charging times that are missing, negative, too long or disagree; charging ends out of place."""
    end = spec.get("end")

    plugged = spec.get("plugged_in", {})
    charging = spec.get("charging", {})
    for key, text, secs, conf in (
        ("plugged_in", "_plugged_text", "_plugged_raw_s", plugged),
        ("charging", "_charging_text", "_charging_raw_s", charging),
    ):
        if "value" in conf:
            unit = conf.get("unit", "s")
            add(f"{text} IS NULL", f[key], f"'missing {key.replace('_', '-')} time'")
            add(
                f"{text} IS NOT NULL AND {secs} IS NULL",
                f[key],
                f"'{key.replace('_', '-')} time is not a duration ({unit}): ' || {_quoted(text)}",
            )
            add(f"{secs} < 0", f[key], f"'negative {key.replace('_', '-')} time: ' || {_quoted(text)}")
    session_f = f["plugged_in"] if "value" in plugged else f["end"] if end else f["charging"]
    add(
        f"_plugged_s > {lim.max_session_s}",
        session_f,
        f"'plugged-in time of ' || CAST(round(_plugged_s / 86400, 1) AS VARCHAR) || ' days is above the limit of "
        f"{lim.max_session_s / 86400:g} days per session (see Limits.max_session_s)'",
    )
    if "value" in plugged and span is not None:
        add(
            f"abs(({span}) - _plugged_raw_s) > {tol}",
            f["plugged_in"],
            f"'plugged-in time ' || {_quoted('_plugged_text')} || ' disagrees with start ' || {_quoted('_start_text')} "
            f"|| ' and end ' || {_quoted('_end_text')} || ' by more than {tol:g} s'",
        )
    if "value" in charging and ("value" in plugged or span is not None):
        add(
            f"_charging_raw_s > _plugged_s + {tol}",
            f["charging"],
            f"'charging time ' || {_quoted('_charging_text')} || ' exceeds the plugged-in time by more than {tol:g} s'",
        )
    if charging.get("end"):
        if charging.get("if_missing") != "plugged_in":
            add("_chend_text IS NULL", f["charging"], "'missing charging end'")
        add(
            "_chend_text IS NOT NULL AND _chend_local IS NULL",
            f["charging"],
            f"'unparseable charging end ' || {_quoted('_chend_text')}",
        )
        add(lim.window_sql("_chend_raw"), f["charging"], f"'charging end ' || {lim.window_reason_sql('_chend_raw')}")
        add(
            "_chend_at < _started_at",
            f["charging"],
            f"'charging ended ' || {_quoted('_chend_text')} || ' before start'",
        )
        add(
            f"_chend_at > _ended_at + to_microseconds(CAST({clamp * 1e6} AS BIGINT))",
            f["charging"],
            f"'charging ended ' || {_quoted('_chend_text')} || ' more than {clamp:g} s after plug-out'",
        )


def _money_checks(add: Add, spec: dict[str, Any], f: dict[str, str], lim: limits.Limits) -> None:
    """An amount that is not a decimal number or not below the money limit; an unknown currency."""

    money = spec.get("money")
    if money:
        amount = "TRY_CAST(_amount_text AS DECIMAL(38, 9))"
        add(
            f"_amount_text IS NOT NULL AND {amount} IS NULL",
            f["amount"],
            f"'amount is not a decimal number: ' || {_quoted('_amount_text')}",
        )
        add(
            lim.money_sql(amount),
            f["amount"],
            f"'amount ' || {_quoted('_amount_text')} || ' is not below the limit of "
            f"{lim.max_money_major:,} per record'",
        )
        add(
            f"_amount_text IS NOT NULL AND (_currency IS NULL OR NOT {iso4217.payable_sql('_currency')})",
            f["currency"],
            currency_reason_sql("_currency", _quoted("_currency")),
        )
