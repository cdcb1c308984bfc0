"""A session mapping compiled to SQL: templates, timestamps, durations and ids over one file's columns.

:class:`Compiler` turns the values of a mapping (see :mod:`evrevops.formats.session_mapping`)
into DuckDB SQL expressions over the source table ``src(rec, c0, c1, ...)``;
:func:`compile_mapping` compiles every field the reader needs at once, and :func:`duration_sql`
the plugged-in and charging times. Nothing here touches a file or a connection: the reader,
:mod:`evrevops.formats.session_csv`, runs the SQL.

Templates are text with ``{Column}`` placeholders (``{Column?}`` for a column
that some variants of the export lack), optionally piped through filters
(``{MAC Address|alnum|upper}``). A template is NULL when any column it uses is empty.

Local wall times are turned into UTC with DuckDB's ICU time zones (the table ``_tz`` of
zone names, created by the reader); their rule for wall times that do not exist or happen
twice is:

* a time in the spring-forward gap is read with the offset in force *before*
  the gap (01:30 on the day London springs forward is 01:30 GMT = 02:30 BST);
* a time in the autumn overlap is read as the *second* occurrence, in standard
  time (01:30 on the day London falls back is 01:30 GMT, not 00:30 GMT).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evrevops.core.sqltext import sql_literal
from evrevops.formats import limits
from evrevops.formats.base import FormatError
from evrevops.formats.session_mapping import Mapping, normalise
from evrevops.formats.session_repairs import swap_day_month

# Filters usable in templates: ``{Column|filter|filter}``.
_FILTERS: dict[str, Callable[[str], str]] = {
    "upper": lambda x: f"upper({x})",
    "lower": lambda x: f"lower({x})",
    "trim": lambda x: f"trim({x})",
    "alnum": lambda x: f"regexp_replace({x}, '[^A-Za-z0-9]+', '', 'g')",
    "slug": lambda x: f"trim(regexp_replace(lower(trim({x})), '[^a-z0-9]+', '-', 'g'), '-')",
    "before_comma": lambda x: f"trim(split_part({x}, ',', 1))",
}

_UNITS_TO_S = {"s": "1", "min": "60", "h": "3600"}


def lit(text: Any) -> str:
    """*text* (made text with ``str``: a TOML value may be a number) as a SQL string literal."""
    return sql_literal(str(text))


PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_DERIVED = {
    "$start_local": "strftime(_start_local, '%Y-%m-%dT%H:%M:%S')",
    "$end_local": "strftime(_end_local, '%Y-%m-%dT%H:%M:%S')",
}


class Compiler:
    """Compiles templates and value specs of one mapping against one file's columns.

    Source columns are stored as ``c0, c1, ...`` (safe identifiers); *columns*
    maps normalised header names to those. For JSON sources columns are
    created on demand (``is_json=True``) and listed in :attr:`json_fields`.
    *consts* are values known before reading (``$mapping``, JSON envelope
    metadata such as ``_meta.site``).
    """

    def __init__(
        self, mapping: Mapping, path: Path, columns: dict[str, str], consts: dict[str, str | None], is_json: bool
    ):
        self.mapping = mapping
        self.path = path
        self.columns = columns
        self.consts = consts
        self.json = is_json
        self.json_fields: dict[str, str] = {}

    def col(self, name: str) -> str:
        optional = name.endswith("?")
        name = name.rstrip("?").strip()
        if name in _DERIVED:
            return _DERIVED[name]
        if name in self.consts:
            return lit(self.consts[name]) if self.consts[name] is not None else "NULL"
        if self.json:
            if name not in self.json_fields:
                self.json_fields[name] = f"c{len(self.json_fields)}"
            return f"nullif(trim({self.json_fields[name]}), '')"
        key = normalise(name)
        if key in self.columns:
            return f"nullif(trim({self.columns[key]}), '')"
        if optional:
            return "NULL::VARCHAR"
        raise FormatError(self.path, f"column {name!r} required by mapping {self.mapping.name!r} is not in the header")

    def template(self, text: str, empty_ok: bool = False) -> str:
        """SQL for a template: literal text and ``{Column|filter}`` placeholders.

        NULL if any placeholder is empty, unless *empty_ok* (then an empty
        placeholder contributes ``''``; used for hashed ids).
        """
        parts: list[str] = []
        pos = 0
        for m in PLACEHOLDER.finditer(text):
            if m.start() > pos:
                parts.append(lit(text[pos : m.start()]))
            name, *filters = m.group(1).split("|")
            expr = self.col(name)
            for f in filters:
                f = f.strip()
                if f not in _FILTERS:
                    raise ValueError(f"mapping {self.mapping.name}: unknown filter {f!r} in {text!r}")
                expr = _FILTERS[f](expr)
            parts.append(f"coalesce({expr}, '')" if empty_ok else expr)
            pos = m.end()
        if pos < len(text):
            parts.append(lit(text[pos:]))
        if not parts:
            return "NULL::VARCHAR"
        return parts[0] if len(parts) == 1 else "(" + " || ".join(parts) + ")"

    def value(self, spec: Any, raw: bool = False) -> str:
        """SQL for a value spec: a template string, or ``{value, remove, extract, filters, map}``.

        Applied in that order: ``remove`` deletes every match of a regex;
        ``extract`` keeps the first group of a regex when it matches (else the
        text is kept); ``filters`` are template filters applied to the result;
        ``map`` looks the text up in a table (no entry → NULL). With *raw* the
        map is skipped.
        """
        if spec is None:
            return "NULL::VARCHAR"
        if isinstance(spec, (int, float)):
            return lit(str(spec))
        if isinstance(spec, str):
            return f"nullif(trim({self.template(spec)}), '')"
        expr = self.template(str(spec["value"]))
        if "remove" in spec:
            expr = f"regexp_replace({expr}, {lit(spec['remove'])}, '', 'g')"
        if "extract" in spec:
            pat = lit(spec["extract"])
            expr = f"(CASE WHEN regexp_matches({expr}, {pat}) THEN regexp_extract({expr}, {pat}, 1) ELSE {expr} END)"
        for f in spec.get("filters", []):
            if f not in _FILTERS:
                raise ValueError(f"mapping {self.mapping.name}: unknown filter {f!r}")
            expr = _FILTERS[f](expr)
        expr = f"nullif(trim({expr}), '')"
        if "map" in spec and not raw:
            cases = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in spec["map"].items())
            expr = f"(CASE {expr} {cases} END)"
        return expr

    def condition(self, cond: dict[str, Any]) -> str:
        """SQL boolean for a reject condition ``{value, matches | empty | not_empty}``."""
        v = self.value(cond["value"])
        if "matches" in cond:
            return f"coalesce(regexp_matches({v}, {lit(cond['matches'])}), false)"
        if cond.get("empty"):
            return f"({v} IS NULL)"
        if cond.get("not_empty"):
            return f"({v} IS NOT NULL)"
        raise ValueError(f"mapping {self.mapping.name}: reject condition needs matches/empty/not_empty: {cond}")


def timestamp_sql(c: Compiler, spec: dict[str, Any], swapped: bool = False) -> tuple[str, str]:
    """(text SQL, local timestamp SQL) for a ``[start]``-style spec."""
    # one column with the date and time, or a date column and a time-of-day column
    date_time = "({date} || ' ' || {time})"
    text = (
        c.value(spec["value"])
        if "value" in spec
        else date_time.format(date=c.value(spec["date"]), time=c.value(spec["time"]))
    )
    formats = spec.get("formats") or [spec["format"]]
    if swapped:
        formats = [swap_day_month(f) for f in formats]
    fl = "[" + ", ".join(lit(f) for f in formats) + "]"
    return text, f"try_strptime({text}, {fl})"


def to_utc_sql(c: Compiler, spec: dict[str, Any], local: str) -> str:
    """SQL for the UTC instant of the local wall time *local*.

    With an ``offset`` value (``-07:00``, or an abbreviation mapped to one) the
    offset is applied; when the offset column is empty the mapping's zone is
    used. Otherwise the wall time is local time in ``[time] zone`` (an IANA
    name or a template giving one per record).
    """
    zone_spec = c.mapping.spec.get("time", {}).get("zone")
    if "offset" in spec:
        off = c.value(spec["offset"])
        fallback = "NULL::TIMESTAMP"
        if zone_spec is not None:
            fallback = _zone_utc(c.value(zone_spec), local)
        utc = (
            f"CASE WHEN {off} IS NOT NULL THEN timezone('UTC', TRY_CAST(strftime({local}, '%Y-%m-%d %H:%M:%S.%f') || "
            f"{off} AS TIMESTAMPTZ)) WHEN {c.value(spec['offset'], raw=True)} IS NULL THEN {fallback} END"
        )
        return utc
    if zone_spec is None:
        raise ValueError(f"mapping {c.mapping.name}: no time zone: give [time] zone or an offset per timestamp")
    return _zone_utc(c.value(zone_spec), local)


def _zone_utc(zone: str, local: str) -> str:
    return f"timezone('UTC', CASE WHEN {zone} IN (SELECT name FROM _tz) THEN timezone({zone}, {local}) END)"


def duration_s_sql(c: Compiler, spec: dict[str, Any]) -> str:
    """SQL seconds (DOUBLE) of a duration value, NULL when unparseable."""
    v = c.value(spec["value"])
    unit = spec.get("unit", "s")
    # exact decimal arithmetic that cannot overflow: at most 9 digits of hours; a value in s/min/h
    # widened before it is scaled (an absurd duration is refused later, by the session-length limit)
    if unit == "hms":
        return (
            f"CASE WHEN regexp_full_match({v}, '\\d{{1,9}}:[0-5]?\\d:[0-5]?\\d(\\.\\d+)?') THEN "
            f"(TRY_CAST(split_part({v}, ':', 1) AS DECIMAL(18, 0)) * 3600 "
            f"+ TRY_CAST(split_part({v}, ':', 2) AS DECIMAL(18, 0)) * 60 "
            f"+ TRY_CAST(split_part({v}, ':', 3) AS DECIMAL(18, 6)))::DOUBLE END"
        )
    if unit not in _UNITS_TO_S:
        raise ValueError(f"mapping {c.mapping.name}: unknown duration unit {unit!r} (hms, s, min, h)")
    return f"(CAST(TRY_CAST({v} AS DECIMAL(18, 6)) AS DECIMAL(38, 6)) * {_UNITS_TO_S[unit]})::DOUBLE"


def json_path(field: str) -> str:
    return ".".join('"' + p.replace('"', '\\"') + '"' for p in field.split("."))


def field_names(spec: dict[str, Any]) -> dict[str, str]:
    """Source column names to cite in quarantine rows, per mapping part."""

    def first(v: Any) -> str | None:
        if v is None:
            return None
        text = v if isinstance(v, str) else str(v.get("value", ""))
        m = PLACEHOLDER.search(text)
        return m.group(1).split("|")[0].rstrip("?") if m else None

    def ts(s: dict[str, Any] | None) -> str | None:
        if not s:
            return None
        return first(s.get("value")) or first(s.get("date"))

    ids = spec["ids"]
    out = {
        "session": first(ids["session"]) or "session id",
        "site": first(ids["site"]) or "site",
        "port": first(ids["port"]) or "port",
        "start": ts(spec["start"]) or "start",
        "end": ts(spec.get("end")) or "end",
        "energy": first(spec["energy"]["value"]) or "energy",
        "plugged_in": first(spec.get("plugged_in", {}).get("value")) or "plugged_in",
        "charger": first(ids.get("charger")) or "charger",
        "charging": first(spec.get("charging", {}).get("value"))
        or ts(spec.get("charging", {}).get("end"))
        or "charging",
        "amount": first(spec.get("money", {}).get("amount")) or "amount",
        "currency": first(spec.get("money", {}).get("currency")) or "currency",
        "zone": first(spec.get("time", {}).get("zone")) or "time zone",
    }
    for key in ("start", "end"):
        off = (spec.get(key) or {}).get("offset")
        out[key + "_offset"] = first(off) or key
    return out


@dataclass(frozen=True)
class CompiledMapping:
    """The SQL of one mapping over one file: every expression the reader runs.

    Attributes
    ----------
    fields : dict[str, str]
        Stage-1 columns of ``parsed`` over ``src``, by name: texts as read (``_start_text``),
        local wall times as parsed (``_start_a``; ``_start_b`` with day and month swapped when a
        repair needs it), energy [kWh], durations [s], amount and currency, and one
        ``_reject<i>`` (with the value it cites, ``_reject<i>_value``) per reject rule.
    rejected : str
        SQL boolean over those columns: one of the mapping's reject rules matched.
    session_key : str
        SQL of the session id before its ``<mapping>:`` prefix (an md5 of the template with
        ``[ids] hash``).
    refs : dict[str, str]
        SQL of ``site_id``, ``port_id``, ``charger_id`` and ``connector_id`` (unprefixed).
    session_extra, site, port, charger : dict[str, str]
        SQL of the extra ``sessions`` columns and of the implied reference rows' columns.
    start_utc, end_utc, charging_end_utc : str or None
        SQL of the UTC instants of ``_start_local``, ``_end_local`` and ``_chend_local`` (None
        when the mapping has no such timestamp).
    zone : str
        SQL of the mapping's time zone (``NULL::VARCHAR`` when it has none), for the reasons.
    offsets : list of (str or None, str or None, str)
        ``(offset SQL, raw offset SQL, "start" | "end")``: the UTC offsets, for the reasons.
    """

    fields: dict[str, str]
    rejected: str
    session_key: str
    refs: dict[str, str]
    session_extra: dict[str, str]
    site: dict[str, str]
    port: dict[str, str]
    charger: dict[str, str]
    start_utc: str
    end_utc: str | None
    charging_end_utc: str | None
    zone: str
    offsets: list[tuple[str | None, str | None, str]]


def _field_sql(c: Compiler, spec: dict[str, Any]) -> tuple[dict[str, str], str]:
    """Stage-1 columns of ``parsed`` (see :attr:`CompiledMapping.fields`) and the rejected flag."""
    start = spec["start"]
    end = spec.get("end")
    items: dict[str, str] = {}
    items["_start_text"], items["_start_a"] = timestamp_sql(c, start)
    if start.get("repair"):
        items["_start_b"] = timestamp_sql(c, start, swapped=True)[1]
    if end:
        items["_end_text"], items["_end_a"] = timestamp_sql(c, end)
        items["_end_b"] = timestamp_sql(c, end, swapped=True)[1] if end.get("repair") else "NULL::TIMESTAMP"
    energy = spec["energy"]
    items["_energy_text"] = c.value(energy["value"])
    scale = {"kwh": "1", "wh": "0.001"}[str(energy.get("unit", "kWh")).lower()]
    items["_energy_kwh"] = f"TRY_CAST({items['_energy_text']} AS DOUBLE) * {scale}"  # NaN/inf: refused below
    plugged = spec.get("plugged_in", {})
    charging = spec.get("charging", {})
    if "value" in plugged:
        items["_plugged_text"] = c.value(plugged["value"])
        items["_plugged_raw_s"] = duration_s_sql(c, plugged)
    if "value" in charging:
        items["_charging_text"] = c.value(charging["value"])
        items["_charging_raw_s"] = duration_s_sql(c, charging)
    chend = charging.get("end")
    if chend:
        items["_chend_text"], items["_chend_local"] = timestamp_sql(c, chend)
    money = spec.get("money")
    if money:
        items["_amount_text"] = c.value(money["amount"])
        cur = c.value(money["currency"])
        if "currency_default" in money:
            cur = f"coalesce({cur}, {lit(money['currency_default'])})"
        items["_currency"] = f"upper({cur})"
    rejects = spec.get("reject", [])
    conds: list[str] = []
    for i, r in enumerate(rejects):  # the first rule that matches a record rejects it
        conds.append("(" + " AND ".join(c.condition(x) for x in r["when"]) + ")")
        items[f"_reject{i}"] = " AND ".join([conds[i]] + [f"NOT {e}" for e in conds[:i]])
        items[f"_reject{i}_value"] = c.value(r["when"][0]["value"], raw=True)
    # rejects reference columns defined in the same select: the reader computes the flag in a second pass
    rejected = " OR ".join(f"_reject{i}" for i in range(len(rejects))) if rejects else "false"
    return items, rejected


def compile_mapping(c: Compiler, spec: dict[str, Any]) -> CompiledMapping:
    """Compile every field, id and reference value of the mapping *spec* with *c*.

    For a JSON source this also fixes the fields the source table needs (``c.json_fields``):
    compile before building ``src``.

    Raises
    ------
    ValueError
        A ``[session]`` key that is not a ``sessions`` column, or a mapping value that does not compile.
    FormatError
        A column the mapping requires is not in the file's header.
    """
    fields, rejected = _field_sql(c, spec)
    ids = spec["ids"]
    if ids.get("hash"):
        session_key = f"left(md5({c.template(str(ids['session']), empty_ok=True)}), 16)"
    else:
        session_key = c.value(ids["session"])
    refs = {
        "site_id": c.value(ids["site"]),
        "port_id": c.value(ids["port"]),
        "charger_id": c.value(ids["charger"]) if "charger" in ids else "NULL::VARCHAR",
        "connector_id": c.value(ids["connector"]) if "connector" in ids else "NULL::VARCHAR",
    }
    session_extra = {k: c.value(v) for k, v in spec.get("session", {}).items()}
    for k in session_extra:
        if k not in ("token_uid", "stop_reason", "auth_method", "tariff_id"):
            raise ValueError(f"mapping {c.mapping.name}: [session] key {k!r} is not a sessions column")
    site = dict(spec.get("site", {}))
    site.setdefault("time_zone", spec.get("time", {}).get("zone"))
    site_sql = {k: c.value(v) for k, v in site.items()}
    port_sql = {k: c.value(v) for k, v in spec.get("port", {}).items()}
    charger_sql = {k: c.value(v) for k, v in spec.get("charger", {}).items()}
    start, end = spec["start"], spec.get("end")
    chend = spec.get("charging", {}).get("end")
    start_utc = to_utc_sql(c, start, "_start_local")
    end_utc = to_utc_sql(c, end, "_end_local") if end else None
    chend_utc = to_utc_sql(c, chend, "_chend_local") if chend else None
    # zone validity, for the reasons
    zone_spec = spec.get("time", {}).get("zone")
    zone_sql = c.value(zone_spec) if zone_spec is not None else "NULL::VARCHAR"
    start_off = c.value(start["offset"]) if "offset" in start else None
    start_off_raw = c.value(start["offset"], raw=True) if "offset" in start else None
    end_off = c.value(end["offset"]) if end and "offset" in end else None
    end_off_raw = c.value(end["offset"], raw=True) if end and "offset" in end else None
    return CompiledMapping(
        fields=fields,
        rejected=rejected,
        session_key=session_key,
        refs=refs,
        session_extra=session_extra,
        site=site_sql,
        port=port_sql,
        charger=charger_sql,
        start_utc=start_utc,
        end_utc=end_utc,
        charging_end_utc=chend_utc,
        zone=zone_sql,
        offsets=[(start_off, start_off_raw, "start"), (end_off, end_off_raw, "end")],
    )


@dataclass(frozen=True)
class DurationSql:
    """SQL of a session's times, over the UTC instants ``_started_at``, ``_end_at``, ``_chend_at``.

    Attributes
    ----------
    span : str or None
        End minus start [s] (None without an ``[end]``).
    plugged_in_s : str
        Plugged-in time [s]: the stated duration when there is one, else the span.
    ended_at : str
        The plug-out instant, over ``_plugged_s``.
    charging_s : str
        Charging time [s], over ``_plugged_s`` and ``_ended_at``.
    """

    span: str | None
    plugged_in_s: str
    ended_at: str
    charging_s: str


def duration_sql(spec: dict[str, Any], clamp_s: float, lim: limits.Limits) -> DurationSql:
    """The plugged-in and charging times of the mapping *spec* (see :class:`DurationSql`).

    With both an end and a plugged-in duration, the duration wins (ended_at = start + duration)
    and the end is a cross-check: exports state start/end to the minute but durations to the
    second. A duration beyond the session-length limit of *lim* gives no plug-out (it is refused
    by the checks). A charging end at most *clamp_s* [s] after plug-out is read as the plug-out.
    """
    plugged = spec.get("plugged_in", {})
    charging = spec.get("charging", {})
    after_plugged = (
        f"CASE WHEN abs(_plugged_s) <= {lim.max_session_s} "
        "THEN _started_at + to_microseconds(CAST(round(_plugged_s * 1e6) AS BIGINT)) END"
    )
    if spec.get("end"):
        span = "datediff('microsecond', _started_at, _end_at) / 1e6"
        plugged_s = "_plugged_raw_s" if "value" in plugged else span
        ended = after_plugged if "value" in plugged else "_end_at"
    else:
        span = None
        plugged_s = "_plugged_raw_s" if "value" in plugged else "_charging_raw_s"
        ended = after_plugged
    if "value" in charging:
        charging_s = "least(_charging_raw_s, _plugged_s)"
    elif charging.get("end"):
        chend_eff = (
            f"CASE WHEN _chend_at > _ended_at AND datediff('microsecond', _ended_at, _chend_at) <= {clamp_s * 1e6} "
            "THEN _ended_at ELSE _chend_at END"
        )
        charging_s = f"datediff('microsecond', _started_at, {chend_eff}) / 1e6"
        if charging.get("if_missing") == "plugged_in":  # no charging end: charging lasts the plug-in
            charging_s = f"coalesce({charging_s}, _plugged_s)"
    else:
        charging_s = "_plugged_s"
    return DurationSql(span=span, plugged_in_s=plugged_s, ended_at=ended, charging_s=charging_s)
