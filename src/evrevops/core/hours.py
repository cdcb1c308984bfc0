"""Operating hours: the schedule syntax of the sites CSV, and OCPI ``opening_times``.

Syntax (``docs/formats.md``, sites CSV ``operating_hours``): empty or ``24/7``
for always open, else groups separated by ``;``, each a day list and
comma-separated windows::

    Mo-Fr 06:00-22:00; Sa,Su 08:00-12:00,13:00-20:00

Days are ``Mo Tu We Th Fr Sa Su`` (any letter case; lists with ``,``, ranges
with ``-`` that may wrap: ``Fr-Mo``); ``24:00`` is allowed as an end; a window
whose end is before its start runs past midnight into the next day
(``Mo 22:00-06:00`` is Monday 22:00 to Tuesday 06:00); a window whose end equals
its start lasts 24 hours.

The weekly form used everywhere else is a sorted list of
``(weekday, start_minute, end_minute)`` with ``weekday`` 0 = Monday and
``0 ≤ start < end ≤ 1440`` minutes after local midnight.  All functions here are
pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

DAYS = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"]
_DAY_INDEX = {d.lower(): i for i, d in enumerate(DAYS)}
_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_GROUP = re.compile(r"^([A-Za-z][A-Za-z,\-\s]*?)\s+(\d.*)$")
ALWAYS: list[tuple[int, int, int]] = [(d, 0, 1440) for d in range(7)]
#: Longest schedule text read: a week of windows never needs more, and a longer text is refused
#: before any regular expression sees it (the day-list pattern backtracks quadratically on a
#: long run of letters and spaces).
MAX_SCHEDULE_CHARS = 1000

Window = tuple[int, int, int]


class OpeningTimesError(ValueError):
    """An OCPI ``opening_times`` object that cannot be read; ``field`` is the path of the bad value."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def _minutes(text: str, where: str) -> int:
    t = str(text).strip()
    m = _TIME.match(t)
    if not m or (m.group(1) == "24" and m.group(2) != "00"):
        raise ValueError(f"not a time HH:MM in {where!r}: {t!r}")
    return int(m.group(1)) * 60 + int(m.group(2))


def _day(name: str, where: str) -> int:
    i = _DAY_INDEX.get(name.strip().lower())
    if i is None:
        raise ValueError(f"unknown day in {where!r}: {name.strip()!r} (use {' '.join(DAYS)})")
    return i


def _days(spec: str, where: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            raise ValueError(f"empty day in {where!r}")
        if "-" in part:
            a, b = part.split("-", 1)
            i, j = _day(a, where), _day(b, where)
            out.extend((i + k) % 7 for k in range((j - i) % 7 + 1))
        else:
            out.append(_day(part, where))
    return out


def _split(d: int, s: int, e: int) -> list[Window]:
    """One window on day *d* from *s* to *e* minutes, split at midnight when it wraps."""
    if e > s:
        return [(d, s, e)]
    # end at or before start: the window runs past midnight (equal ends: 24 hours)
    out = [(d, s, 1440)]
    if e > 0:
        out.append(((d + 1) % 7, 0, e))
    return out


def normalise_windows(windows: Iterable[Window]) -> list[Window]:
    """Sort windows and merge those that overlap or touch on the same day.

    Raises
    ------
    ValueError
        When a window is not ``(weekday 0–6, start, end)`` with ``0 ≤ start < end ≤ 1440``.
    """
    checked = []
    for w in windows:
        d, s, e = (int(x) for x in w)
        if not (0 <= d <= 6 and 0 <= s < e <= 1440):
            raise ValueError(f"not a window (weekday 0-6, 0 <= start < end <= 1440): {tuple(w)!r}")
        checked.append((d, s, e))
    merged: list[Window] = []
    for d, s, e in sorted(checked):
        if merged and merged[-1][0] == d and s <= merged[-1][2]:
            merged[-1] = (d, merged[-1][1], max(e, merged[-1][2]))
        else:
            merged.append((d, s, e))
    return merged


def parse_operating_hours(text: str | None) -> list[Window]:
    """Parse a schedule into weekly windows.

    Parameters
    ----------
    text : str or None
        Schedule in the sites-CSV syntax; None, empty or ``24/7`` means always
        open.

    Returns
    -------
    list of (weekday, start_min, end_min)
        ``weekday`` 0 = Monday; minutes after local midnight with
        ``0 ≤ start < end ≤ 1440``. A window past midnight is split into two,
        the second on the next weekday (Sunday wraps to Monday); overlapping
        windows are merged. Sorted.

    Raises
    ------
    ValueError
        On bad syntax, naming the offending part, or a text longer than
        :data:`MAX_SCHEDULE_CHARS`.

    Examples
    --------
    >>> parse_operating_hours("Fr 22:00-02:00")
    [(4, 1320, 1440), (5, 0, 120)]
    """
    if text is None or not str(text).strip() or str(text).strip().lower() in ("24/7", "24x7"):
        return list(ALWAYS)
    if len(str(text)) > MAX_SCHEDULE_CHARS:
        raise ValueError(f"a schedule of {len(str(text)):,} characters is longer than {MAX_SCHEDULE_CHARS:,}")
    raw: list[Window] = []
    for group in str(text).split(";"):
        group = group.strip()
        if not group:
            continue
        m = _GROUP.match(group)
        if not m:
            raise ValueError(f"expected 'DAYS HH:MM-HH:MM' in {group!r}")
        days = _days(m.group(1).replace(" ", ""), group)
        for window in m.group(2).split(","):
            if "-" not in window:
                raise ValueError(f"expected a window HH:MM-HH:MM in {group!r}: {window.strip()!r}")
            a, b = window.split("-", 1)
            s, e = _minutes(a, group), _minutes(b, group)
            if s == 1440:
                raise ValueError(f"a window cannot start at 24:00 in {group!r}")
            for d in days:
                raw.extend(_split(d, s, e))
    if not raw:
        raise ValueError(f"no opening window in {text!r}")
    return normalise_windows(raw)


def _hhmm(m: int) -> str:
    return f"{m // 60:02d}:{m % 60:02d}"


def _day_list(days: list[int]) -> str:
    """``[0, 1, 2, 4]`` → ``Mo-We,Fr`` (runs of three or more days become ranges)."""
    runs: list[list[int]] = []
    for d in sorted(days):
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts = []
    for r in runs:
        if len(r) >= 3:
            parts.append(f"{DAYS[r[0]]}-{DAYS[r[-1]]}")
        else:
            parts.extend(DAYS[d] for d in r)
    return ",".join(parts)


def format_operating_hours(windows: Iterable[Window]) -> str:
    """Write windows in the schedule syntax; the inverse of :func:`parse_operating_hours`.

    Parameters
    ----------
    windows : iterable of (weekday, start_min, end_min)
        As returned by :func:`parse_operating_hours` (they are normalised first).

    Returns
    -------
    str
        ``24/7`` when always open; otherwise days with the same windows share
        a group, e.g. ``Mo-Fr 08:00-18:00; Sa 09:00-12:00``. Windows past
        midnight appear split (``Fr 22:00-24:00; Sa 00:00-02:00``).
        ``parse_operating_hours(format_operating_hours(w)) == normalise_windows(w)``.

    Raises
    ------
    ValueError
        When no window is given, or a window is out of range.
    """
    ws = normalise_windows(windows)
    if not ws:
        raise ValueError("no opening window: a schedule needs at least one window")
    if ws == ALWAYS:
        return "24/7"
    by_day: dict[int, tuple[tuple[int, int], ...]] = {}
    for d, s, e in ws:
        by_day[d] = (*by_day.get(d, ()), (s, e))
    groups: dict[tuple[tuple[int, int], ...], list[int]] = {}
    for d in sorted(by_day):
        groups.setdefault(by_day[d], []).append(d)
    return "; ".join(
        f"{_day_list(days)} {','.join(f'{_hhmm(s)}-{_hhmm(e)}' for s, e in spans)}"
        for spans, days in sorted(groups.items(), key=lambda kv: kv[1][0])
    )


def from_ocpi_opening_times(obj: Mapping[str, Any] | None) -> str | None:
    """OCPI 2.2.1 ``Hours`` object → schedule text (``twentyfourseven`` → ``24/7``).

    Parameters
    ----------
    obj : mapping or None
        A Location's ``opening_times`` (OCPI 2.2.1 ``Hours`` class):
        ``twentyfourseven`` and ``regular_hours`` of ``weekday`` (1 = Monday …
        7 = Sunday), ``period_begin`` and ``period_end`` (``HH:MM`` local time).

    Returns
    -------
    str or None
        The schedule in the sites-CSV syntax, or None when *obj* is absent or
        states no regular hours. A ``period_end`` at or before its
        ``period_begin`` (``22:00``-``06:00``; ``00:00`` for midnight) runs into
        the next day, as in the CSV syntax. ``exceptional_openings`` and
        ``exceptional_closings`` are dated, not weekly, and are not part of the
        schedule (ignored).

    Raises
    ------
    OpeningTimesError
        When a value is malformed; ``field`` is its path, e.g.
        ``regular_hours[1].period_begin``.
    """
    if not obj:
        return None
    if not isinstance(obj, Mapping):
        raise OpeningTimesError("opening_times", "not an object")
    t247 = obj.get("twentyfourseven")
    if t247 is not None and not isinstance(t247, bool):
        raise OpeningTimesError("twentyfourseven", f"not a boolean: {t247!r}")
    if t247:
        return "24/7"
    regular = obj.get("regular_hours") or []
    if not isinstance(regular, list):
        raise OpeningTimesError("regular_hours", "not a list")
    windows: list[Window] = []
    for i, rh in enumerate(regular):
        path = f"regular_hours[{i}]"
        if not isinstance(rh, Mapping):
            raise OpeningTimesError(path, "not an object")
        wd = rh.get("weekday")
        if isinstance(wd, bool) or not isinstance(wd, int) or not 1 <= wd <= 7:
            raise OpeningTimesError(f"{path}.weekday", f"not a weekday 1 (Monday) to 7 (Sunday): {wd!r}")
        times = []
        for key in ("period_begin", "period_end"):
            v = rh.get(key)
            try:
                if not isinstance(v, str):
                    raise ValueError(key)
                times.append(_minutes(v, key))
            except ValueError:
                raise OpeningTimesError(f"{path}.{key}", f"not a time HH:MM: {v!r}") from None
        s, e = times
        if s == 1440:
            raise OpeningTimesError(f"{path}.period_begin", "a period cannot begin at 24:00")
        windows.extend(_split(wd - 1, s, e))
    return format_operating_hours(windows) if windows else None
