"""The ``charging_periods`` of an OCPI 2.2.1 CDR: vouched for by the streaming pass, checked by the careful one.

The streaming pass of :mod:`evrevops.formats.ocpi` keeps a CDR's charging periods as the JSON
reader's compact text and vouches for it without a parse, by a regular expression of plainly
well-formed periods (:func:`periods_regex`, :func:`periods_problem`); what that does not match is
not refused but handed to the careful reader, whose :func:`period_checks` name the first bad
period or dimension of each record (``charging_periods[1].dimensions[0].volume``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from evrevops.core.calendar import days_in_month
from evrevops.formats import limits
from evrevops.formats.ocpi_cdr_checks import CDR_DIMENSIONS, SIGNED_DIMENSIONS, Check, member_sql, one_of_check

#: the structure the careful reader parses ``charging_periods`` into (column ``periods``)
PERIODS_TYPE = (
    '[{"start_date_time": "VARCHAR", "dimensions": [{"type": "VARCHAR", "volume": "VARCHAR"}], "tariff_id": "VARCHAR"}]'
)
_VOLUME_LIMIT = 1e9  # a volume must fit DECIMAL(18, 9), as re-pricing reads it


# ---- streaming pass: a regular expression of well-formed periods ------------------------------------------


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
def periods_regex(earliest: dt.datetime, until: dt.datetime) -> str:
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
    kind = '"type":"(?:' + "|".join(CDR_DIMENSIONS) + ')"'
    dim = r"\{(?:" + f'{kind},"volume":{number}|"volume":{number},{kind}' + r")\}"
    start = f'"start_date_time":"{instant}"'
    dims = r'"dimensions":\[' + dim + "(?:," + dim + r")*\]"
    tariff = r'"tariff_id":"[ !#-\x5b\x5d-~]{1,36}"'
    orders = [*itertools.permutations([start, dims, tariff]), *itertools.permutations([start, dims])]
    period = r"\{(?:" + "|".join(",".join(o) for o in orders) + r")\}"
    # valid JSON text that is '[' or ',' then a period, repeated, then ']' is a list of such periods
    return r"^(?:(?:\[|,)" + period + r")+\]$"


def periods_problem(periods: pa.ChunkedArray, lim: limits.Limits) -> bool:
    """Streaming pass: True when any CDR's ``charging_periods`` (compact JSON text, or null) is not
    plainly well-formed (:func:`periods_regex`). Arrow compute over the column, chunks in parallel."""
    rx = periods_regex(lim.earliest, lim.until)

    def bad(chunk: pa.Array) -> bool:
        return chunk.null_count < len(chunk) and not pc.all(pc.match_substring_regex(chunk, rx)).as_py()

    chunks = periods.chunks
    if len(chunks) < 2:
        return any(map(bad, chunks))
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return any(pool.map(bad, chunks))


# ---- careful reader: element by element, the first bad one named --------------------------------------------


def _bind(sql: str, name: str, value: str) -> str:
    """*sql* with the lambda variable *name* (``p.start_date_time``) replaced by the expression *value*."""
    return re.sub(rf"(?<![\w'.]){name}\.(?=[a-z_])", lambda _: f"({value}).", sql)


def _any(items: str, test: str) -> str:
    """SQL: true when the lambda *test* holds for an element of the list *items*."""
    return f"list_bool_or(list_transform({items}, {test}))"


def _first(items: str, test: str) -> str:
    """SQL: the 1-based position of the first element of the list *items* the lambda *test* holds for."""
    return f"list_position(list_transform({items}, {test}), true)"


def _in_periods(bad: str) -> tuple[str, str, str]:
    """For the lambda *bad* over a period: SQL that a period is bad, the first bad period, and the
    start of its field path (``'charging_periods[' || (i - 1)``)."""
    i = _first("periods", bad)
    return _any("periods", bad), f"periods[{i}]", f"'charging_periods[' || ({i} - 1)"


def _in_dimensions(bad: str) -> tuple[str, str, str]:
    """As :func:`_in_periods`, for the lambda *bad* over a dimension of a period."""
    found, period, path = _in_periods(f"lambda p: {_any('p.dimensions', bad)}")
    k = _first(f"{period}.dimensions", bad)
    return found, f"{period}.dimensions[{k}]", f"{path} || '].dimensions[' || ({k} - 1)"


def _element_checks(rules: list[Check], var: str, locate: Callable[[str], tuple[str, str, str]]) -> list[Check]:
    """One check a rule ``(condition over the lambda variable *var*, subfield, reason)`` of an element,
    true when any element breaks it; the reason and the field name the first that does (*locate*:
    :func:`_in_periods` or :func:`_in_dimensions`)."""
    checks: list[Check] = []
    for cond, sub, reason in rules:
        found, element, path = locate(f"lambda {var}: coalesce(({cond}), false)")
        checks.append((found, "charging_periods", _bind(reason, var, element), f"{path} || '].{sub}'"))
    return checks


def period_checks(lim: limits.Limits) -> list[Check]:
    """The careful reader's checks of ``charging_periods`` (columns ``periods_type``, ``period_types``,
    ``volume_types`` and ``periods`` of :data:`~evrevops.formats.ocpi_cdr_careful.CAREFUL_DERIVE`)."""
    return [*_list_checks(), *_each_period_checks(lim), *_each_dimension_checks()]


def _list_checks() -> list[Check]:
    """A list of at least one ChargingPeriod object, each dimension volume a JSON number."""
    volume_bad = "lambda t: t NOT IN ('UBIGINT', 'BIGINT', 'DOUBLE', 'HUGEINT')"
    return [
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
            _any("period_types", "lambda t: t <> 'OBJECT'"),
            "charging_periods",
            "'charging_periods[' || (" + _first("period_types", "lambda t: t <> 'OBJECT'") + " - 1)"
            " || '] must be a ChargingPeriod object, got JSON '"
            " || list_filter(period_types, lambda t: t <> 'OBJECT')[1]",
        ),
        (
            _any("volume_types", volume_bad),
            "charging_periods",
            f"'a dimension volume must be a JSON number, got JSON ' || list_filter(volume_types, {volume_bad})[1]",
        ),
    ]


def _each_period_checks(lim: limits.Limits) -> list[Check]:
    """Each period's start inside the time window, its dimensions given, its ``tariff_id`` not too long."""
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
    return _element_checks(per_period, "p", _in_periods)


def _each_dimension_checks() -> list[Check]:
    """Each dimension's type from the OCPI enum, its volume a finite number, not negative (but for the
    signed dimensions) and below the volume limit."""
    volume = "TRY_CAST(d.volume AS DOUBLE)"
    per_dimension = [
        one_of_check("d.type", "type", "type", CDR_DIMENSIONS, required=True),
        (f"d.volume IS NULL OR {volume} IS NULL", "volume", "'not a number: ' || coalesce(d.volume, 'missing')"),
        (f"NOT isfinite({volume})", "volume", "'not a finite number: ' || d.volume"),
        (
            f"isfinite({volume}) AND {volume} < 0 AND NOT coalesce({member_sql('d.type', SIGNED_DIMENSIONS)}, false)",
            "volume",
            "'negative ' || d.type || ' volume: ' || d.volume",
        ),
        (
            f"isfinite({volume}) AND abs({volume}) >= {_VOLUME_LIMIT!r}",
            "volume",
            f"'volume ' || d.volume || ' is not below {_VOLUME_LIMIT:,.0f}'",
        ),
    ]
    return _element_checks(per_dimension, "d", _in_dimensions)
