"""Typed CSV columns: :class:`Col` and the SQL that types and checks one column of text.

A column of one of evrevops' own CSV formats (:mod:`evrevops.formats.tables_csv`) is read as
text; :func:`column_sql` gives the SQL of its typed value and of its checks, which
:mod:`evrevops.formats.csv_engine` runs over the whole file.

Types (``docs/formats.md`` conventions): ``string``; ``date`` (``YYYY-MM-DD``);
``instant`` (ISO-8601 with ``Z`` or an offset; without one it is refused as
ambiguous; stored in UTC); ``money`` (decimal text in major units, stored in
``*_minor`` as integer minor units of the row's ``currency``, rounded half away
from zero with exact decimal arithmetic, as :func:`~evrevops.core.money.to_minor`);
``int``; ``float``; ``decimal`` (exact decimal text, kept as text);
``bool`` (``true``/``false``, ``yes``/``no``, ``1``/``0``); ``enum`` (one of
listed values, any letter case, stored as listed); ``list`` (``;``-separated
enum values); ``currency`` (ISO 4217, stored upper case); ``zone`` (an IANA
name known to :func:`zoneinfo.available_timezones`); ``hours``
(:func:`~evrevops.core.hours.parse_operating_hours`); ``pattern`` (text
matching a regular expression).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from evrevops.core import iso4217
from evrevops.core.hours import parse_operating_hours
from evrevops.core.sqltext import sql_literal
from evrevops.formats import limits

SQL_TYPES = {
    "string": "VARCHAR",
    "date": "DATE",
    "instant": "TIMESTAMP",
    "money": "BIGINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "DOUBLE",
    "decimal": "VARCHAR",
    "bool": "BOOLEAN",
    "enum": "VARCHAR",
    "list": "VARCHAR",
    "currency": "VARCHAR",
    "zone": "VARCHAR",
    "hours": "VARCHAR",
    "pattern": "VARCHAR",
}
_DECIMAL_RE = r"[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)"
_FLOAT_RE = r"[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?"
_INSTANT_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?"
_OFFSET_RE = r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)"
MAX_ID_CHARS = 255  # default longest text of a string column (ids, names)
FREE_TEXT_CHARS = 10_000  # longest text of a free-text column (notes, address)
PLANNED_YEARS = 30  # a planned date (expected close, planned milestone, contract or program end) may lie this far ahead

ColumnCheck = tuple[str, str, str]  # (condition, field, reason SQL); ``{v}`` stands for the typed value


def shown_sql(expr: str) -> str:
    """SQL for a value quoted in a reason: ``'2025-13-01'``."""
    return f"'''' || {expr} || ''''"


def currency_reason_sql(code: str, shown: str) -> str:
    """SQL: why the text *code* is no currency an amount can be in (:func:`evrevops.core.iso4217.problem`).

    *shown* is the SQL of the value as the reason quotes it.
    """
    whens = " ".join(
        f"WHEN {sql_literal(k)} THEN {sql_literal(f'{k} is {why}')}" for k, why in sorted(iso4217.NOT_PAYABLE.items())
    )
    return f"CASE {code} {whens} ELSE 'not an ISO-4217 currency: ' || {shown} END"


def planned_until(lim: limits.Limits) -> dt.date:
    """Last plausible planned date: the window's last day plus :data:`PLANNED_YEARS` years (365.25 days each)."""
    return lim.until.date() + dt.timedelta(days=round(PLANNED_YEARS * 365.25))


@dataclass(frozen=True)
class Col:
    """One CSV column of a spec.

    Attributes
    ----------
    name : str
        Header name (matched trimmed, in any letter case).
    kind : str
        Type, one of the keys of ``SQL_TYPES`` (see the module docstring).
    required : bool
        The header must have it and every row a value.
    target : str or None
        Warehouse column; defaults to *name* (``{name}_minor`` for money).
    values : tuple of str
        Allowed values of ``enum``/``list`` columns.
    gt, ge, le : float or None
        Bounds of numbers (``>``, ``>=``, ``<=``); money defaults to ``>= 0``.
    pattern, hint : str
        Regular expression of a ``pattern`` column and how to describe it.
    planned : bool
        A ``date`` that may lie in the future (up to :data:`PLANNED_YEARS` years past the
        time window); other dates and instants must lie in the window.
    power : bool
        A power [kW] at one port: at most the power limit in force.
    max_chars : int or None
        Longest text of a ``string``/``pattern`` column (None: no limit).
    """

    name: str
    kind: str = "string"
    required: bool = False
    target: str | None = None
    values: tuple[str, ...] = ()
    gt: float | None = None
    ge: float | None = None
    le: float | None = None
    pattern: str = ""
    hint: str = ""
    planned: bool = False
    power: bool = False
    max_chars: int | None = MAX_ID_CHARS

    @property
    def out(self) -> str:
        if self.target:
            return self.target
        return f"{self.name}_minor" if self.kind == "money" else self.name


def _limit_check(cond: str, c: Col, label: str, text: str, tail: str) -> ColumnCheck:
    """A check of the typed value ``{v}`` that *cond* fails, its reason ``'<label> <text><tail>'``
    quoting the text *text* (SQL)."""
    return (cond, c.name, f"'{label} ' || {shown_sql(text)} || '{tail}'")


def _typed_if_sql(t: str, regex: str, also: str, typed: str) -> str:
    """SQL: *typed* when the text *t* matches *regex* and *also* holds, else NULL."""
    return f"CASE WHEN regexp_full_match({t}, '{regex}') AND {also} THEN {typed} END"


def _untyped_reason_sql(t: str, regex: str, matched: str, unmatched: str) -> str:
    """SQL: why the text *t* has no typed value: *matched* when it matches *regex* (it failed a later
    test), *unmatched* when it does not; either followed by the text, quoted."""
    return f"CASE WHEN regexp_full_match({t}, '{regex}') THEN '{matched}: ' || {shown_sql(t)} ELSE '{unmatched}: ' || {shown_sql(t)} END"


def _bound_checks(c: Col, typed: str, text: str) -> list[ColumnCheck]:
    out = []
    for op, bound, word in (("<=", c.gt, ">"), ("<", c.ge, ">="), (">", c.le, "<=")):
        if bound is not None:
            out.append(
                (f"{typed} {op} {bound}", c.name, f"'{c.name} must be {word} {bound:g}, got ' || {shown_sql(text)}")
            )
    return out


# One function a kind: (column, its trimmed text SQL, limits) -> (typed SQL, reason SQL when the
# text is present but the typed value is NULL, checks of the typed value).
KindSql = Callable[["Col", str, limits.Limits], tuple[str, str | None, list[ColumnCheck]]]


def _string_sql(c: Col, t: str, lim: limits.Limits) -> tuple[str, str | None, list[ColumnCheck]]:
    return t, None, []


def _date_sql(c: Col, t: str, lim: limits.Limits) -> tuple[str, str | None, list[ColumnCheck]]:
    expr = f"CASE WHEN regexp_full_match({t}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') THEN TRY_CAST({t} AS DATE) END"
    bad = f"'not a date: ' || {shown_sql(t)}"
    last = planned_until(lim) if c.planned else lim.until.date()
    note = f" (a planned date may lie up to {PLANNED_YEARS} years ahead)" if c.planned else ""
    check = _limit_check(
        f"{{v}} < DATE '{lim.earliest:%Y-%m-%d}' OR {{v}} > DATE '{last:%Y-%m-%d}'",
        c,
        c.name,
        t,
        f" is outside {lim.earliest:%Y-%m-%d} .. {last:%Y-%m-%d}{note}; see --earliest/--latest",
    )
    return expr, bad, [check]


def _instant_sql(c: Col, t: str, lim: limits.Limits) -> tuple[str, str | None, list[ColumnCheck]]:
    expr = f"CASE WHEN regexp_full_match({t}, '{_INSTANT_RE}{_OFFSET_RE}') THEN utc_ts({t}) END"
    bad = _untyped_reason_sql(
        t, _INSTANT_RE, "instant without a UTC offset (ambiguous)", "not an ISO-8601 instant with an offset"
    )
    return expr, bad, [(lim.window_sql("{v}"), c.name, f"'{c.name} ' || {lim.window_reason_sql('{v}')}")]


def _money_sql(c: Col, t: str, lim: limits.Limits) -> tuple[str, str | None, list[ColumnCheck]]:
    frac = f"length(regexp_extract({t}, '[.]([0-9]*)', 1))"
    whole = f"length(ltrim(regexp_extract({t}, '^[+-]?([0-9]*)', 1), '0'))"
    expr = f"""CASE WHEN regexp_full_match({t}, '{_DECIMAL_RE}') AND {frac} <= 18 AND {whole} <= 20
                    THEN TRY_CAST({t} AS DECIMAL(38, 18)) END"""
    bad = f"""CASE WHEN NOT regexp_full_match({t}, '{_DECIMAL_RE}') THEN 'not a decimal amount: ' || {shown_sql(t)}
                       WHEN {frac} > 18 THEN 'more than 18 decimal places: ' || {shown_sql(t)}
                       ELSE 'amount too large: ' || {shown_sql(t)} END"""
    checks = _bound_checks(c if c.ge is not None or c.gt is not None else Col(c.name, ge=0), "{v}", t)
    limit = f"CAST('{lim.max_money_major}' AS DECIMAL(38, 18))"
    checks.append(
        _limit_check(
            f"abs({{v}}) >= {limit}", c, "amount", t, f" is not below the limit of {lim.max_money_major:,} per record"
        )
    )
    return expr, bad, checks


def _int_sql(c: Col, t: str, lim: limits.Limits) -> tuple[str, str | None, list[ColumnCheck]]:
    expr = f"CASE WHEN regexp_full_match({t}, '[+-]?[0-9]+') THEN TRY_CAST({t} AS {SQL_TYPES[c.kind]}) END"
    return expr, f"'not an integer: ' || {shown_sql(t)}", _bound_checks(c, "{v}", t)


def _float_sql(c: Col, t: str, lim: limits.Limits) -> tuple[str, str | None, list[ColumnCheck]]:
    expr = _typed_if_sql(t, _FLOAT_RE, f"isfinite(TRY_CAST({t} AS DOUBLE))", f"TRY_CAST({t} AS DOUBLE)")
    bad = _untyped_reason_sql(t, _FLOAT_RE, "not a finite number", "not a number")
    checks = _bound_checks(c, "{v}", t)
    if c.power:
        checks.append(
            _limit_check(
                f"{{v}} > {lim.max_power_kw!r}",
                c,
                c.name,
                t,
                f" is above the limit of {lim.max_power_kw:g} kW per port (see --max-power-kw)",
            )
        )
    return expr, bad, checks


def _decimal_sql(c: Col, t: str, lim: limits.Limits) -> tuple[str, str | None, list[ColumnCheck]]:
    # kept as text, but it must fit an exact DECIMAL(38, 18) (at most 20 digits before the point)
    expr = _typed_if_sql(t, _DECIMAL_RE, f"TRY_CAST({t} AS DECIMAL(38, 18)) IS NOT NULL", t)
    bad = _untyped_reason_sql(t, _DECIMAL_RE, "decimal number too large", "not a decimal number")
    return expr, bad, _bound_checks(c, "TRY_CAST({v} AS DECIMAL(38, 18))", t)


def _bool_sql(c: Col, t: str, lim: limits.Limits) -> tuple[str, str | None, list[ColumnCheck]]:
    expr = f"""CASE WHEN lower({t}) IN ('true', 'yes', '1') THEN true
                        WHEN lower({t}) IN ('false', 'no', '0') THEN false END"""
    return expr, f"'not a boolean (true/false, yes/no, 1/0): ' || {shown_sql(t)}", []


def _enum_sql(c: Col, t: str, lim: limits.Limits) -> tuple[str, str | None, list[ColumnCheck]]:
    whens = " ".join(f"WHEN {sql_literal(v.lower())} THEN {sql_literal(v)}" for v in c.values)
    expr = f"CASE lower({t}) {whens} END"
    return expr, f"{sql_literal(f'{c.name} must be one of {chr(124).join(c.values)}, got ')} || {shown_sql(t)}", []


def _list_sql(c: Col, t: str, lim: limits.Limits) -> tuple[str, str | None, list[ColumnCheck]]:
    allowed = "[" + ", ".join(sql_literal(v) for v in c.values) + "]"
    parts = f"list_transform(string_split({t}, ';'), lambda x: lower(trim(x)))"
    expr = (
        f"CASE WHEN list_bool_and(list_transform({parts}, lambda x: list_contains({allowed}, x))) "
        f"THEN array_to_string({parts}, ';') END"
    )
    reason = sql_literal(f"{c.name} must be ;-separated values of {chr(124).join(c.values)}, got ")
    return expr, f"{reason} || {shown_sql(t)}", []


def _currency_sql(c: Col, t: str, lim: limits.Limits) -> tuple[str, str | None, list[ColumnCheck]]:
    expr = f"CASE WHEN {iso4217.payable_sql(f'upper({t})')} THEN upper({t}) END"
    return expr, currency_reason_sql(f"upper({t})", shown_sql(t)), []


def _zone_sql(c: Col, t: str, lim: limits.Limits) -> tuple[str, str | None, list[ColumnCheck]]:
    """Over the temporary table ``_zones(name)`` of IANA names (made by the engine)."""
    return (
        f"CASE WHEN {t} IN (SELECT name FROM _zones) THEN {t} END",
        f"'not an IANA time zone: ' || {shown_sql(t)}",
        [],
    )


def _hours_sql(c: Col, t: str, lim: limits.Limits) -> tuple[str, str | None, list[ColumnCheck]]:
    """With the SQL function ``_hours_error`` (:func:`hours_error`, registered by the engine)."""
    return (
        f"CASE WHEN _hours_error({t}) IS NULL THEN {t} END",
        f"'not valid operating hours: ' || _hours_error({t})",
        [],
    )


def _pattern_sql(c: Col, t: str, lim: limits.Limits) -> tuple[str, str | None, list[ColumnCheck]]:
    expr = f"CASE WHEN regexp_full_match({t}, {sql_literal(c.pattern)}) THEN {t} END"
    return expr, f"{sql_literal(f'{c.name} must look like {c.hint}, got ')} || {shown_sql(t)}", []


_KIND_SQL: dict[str, KindSql] = {
    "string": _string_sql,
    "date": _date_sql,
    "instant": _instant_sql,
    "money": _money_sql,
    "int": _int_sql,
    "bigint": _int_sql,
    "float": _float_sql,
    "decimal": _decimal_sql,
    "bool": _bool_sql,
    "enum": _enum_sql,
    "list": _list_sql,
    "currency": _currency_sql,
    "zone": _zone_sql,
    "hours": _hours_sql,
    "pattern": _pattern_sql,
}


def column_sql(c: Col, text: str, lim: limits.Limits) -> tuple[str, list[ColumnCheck]]:
    """Typed expression of one column over its trimmed text *text*, and its checks.

    Checks are ``(condition, field, reason)`` SQL over *text* where ``{v}``
    stands for the typed value. The limits of *lim* bound dates and instants (the time
    window; planned dates up to :func:`planned_until`), amounts (the money limit), powers (the
    power limit) and texts (``max_chars``); floats must be finite.
    """
    if c.kind not in _KIND_SQL:  # pragma: no cover - specs are static
        raise ValueError(f"unknown column kind {c.kind!r}")
    t = text
    expr, bad, checks = _KIND_SQL[c.kind](c, t, lim)
    if c.kind in ("string", "pattern") and c.max_chars is not None:
        checks.append(
            (
                f"length({t}) > {c.max_chars}",
                c.name,
                f"'{c.name} longer than {c.max_chars} characters: ' || {shown_sql(f'left({t}, 80)')}",
            )
        )
    if bad is not None:
        checks.insert(0, (f"{t} IS NOT NULL AND {{v}} IS NULL", c.name, bad))
    if c.required:
        checks.insert(0, (f"{t} IS NULL", c.name, f"'missing {c.name}'"))
    return expr, checks


def minor_sql(amount: str, currency: str) -> str:
    """Integer minor units of a DECIMAL amount in *currency*, rounded half away from zero."""
    return f"""CASE currency_exponent({currency})
                 WHEN 0 THEN TRY_CAST(round({amount}, 0) AS BIGINT)
                 WHEN 3 THEN TRY_CAST(round({amount}, 3) * 1000 AS BIGINT)
                 ELSE TRY_CAST(round({amount}, 2) * 100 AS BIGINT) END"""


def hours_error(text: str | None) -> str | None:
    """Why *text* is not valid operating hours (None when it is, or is NULL): the SQL ``_hours_error``."""
    if text is None:
        return None
    try:
        parse_operating_hours(text)
    except ValueError as exc:
        return str(exc)
    return None
