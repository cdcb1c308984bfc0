"""Operating hours: the schedule syntax of the sites CSV.

Syntax (``docs/formats.md``): empty or ``24/7`` for always open, else groups
separated by ``;``, each a day list and comma-separated windows::

    Mo-Fr 06:00-22:00; Sa,Su 08:00-12:00,13:00-20:00

Days are ``Mo Tu We Th Fr Sa Su`` (ranges may wrap: ``Fr-Mo``); ``24:00`` is
allowed as an end; a window whose end is before its start runs past midnight
into the next day (``Mo 22:00-06:00`` is Monday 22:00 to Tuesday 06:00).
"""

from __future__ import annotations

import re

DAYS = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"]
_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
ALWAYS = [(d, 0, 1440) for d in range(7)]


def _minutes(text: str, where: str) -> int:
    m = _TIME.match(text.strip())
    if not m or (m.group(1) == "24" and m.group(2) != "00"):
        raise ValueError(f"not a time HH:MM in {where!r}: {text.strip()!r}")
    return int(m.group(1)) * 60 + int(m.group(2))


def _days(spec: str, where: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            a, b = (p.strip() for p in part.split("-", 1))
            if a not in DAYS or b not in DAYS:
                raise ValueError(f"unknown day in {where!r}: {part!r} (use {' '.join(DAYS)})")
            i, j = DAYS.index(a), DAYS.index(b)
            out.extend((i + k) % 7 for k in range((j - i) % 7 + 1))
        elif part in DAYS:
            out.append(DAYS.index(part))
        else:
            raise ValueError(f"unknown day in {where!r}: {part!r} (use {' '.join(DAYS)})")
    return out


def parse_operating_hours(text: str | None) -> list[tuple[int, int, int]]:
    """Parse a schedule into weekly windows.

    Parameters
    ----------
    text : str or None
        Schedule; None, empty or ``24/7`` means always open.

    Returns
    -------
    list of (weekday, start_min, end_min)
        ``weekday`` 0 = Monday; minutes after local midnight with
        ``0 ≤ start < end ≤ 1440``. Windows past midnight are split into two;
        overlapping windows are merged. Sorted.

    Raises
    ------
    ValueError
        On bad syntax, naming the offending part.
    """
    if text is None or not str(text).strip() or str(text).strip().lower() in ("24/7", "24x7"):
        return list(ALWAYS)
    raw: list[tuple[int, int, int]] = []
    for group in str(text).split(";"):
        group = group.strip()
        if not group:
            continue
        m = re.match(r"^([A-Za-z,\-\s]+?)\s+(\d.*)$", group)
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
                if e > s:
                    raw.append((d, s, e))
                    continue
                # end at or before start: the window runs past midnight (equal ends: 24 hours)
                raw.append((d, s, 1440))
                if e > 0:
                    raw.append(((d + 1) % 7, 0, e))
    merged: list[tuple[int, int, int]] = []
    for d, s, e in sorted(raw):
        if merged and merged[-1][0] == d and s <= merged[-1][2]:
            merged[-1] = (d, merged[-1][1], max(e, merged[-1][2]))
        else:
            merged.append((d, s, e))
    return merged


def format_operating_hours(windows: list[tuple[int, int, int]]) -> str:
    """Write windows back in the schedule syntax (``24/7`` when always open)."""
    if sorted(windows) == ALWAYS:
        return "24/7"

    def hhmm(m: int) -> str:
        return f"{m // 60:02d}:{m % 60:02d}"

    return "; ".join(f"{DAYS[d]} {hhmm(s)}-{hhmm(e)}" for d, s, e in sorted(windows))


def from_ocpi_opening_times(obj: dict | None) -> str | None:
    """OCPI 2.2.1 ``Hours`` → schedule text (``twentyfourseven`` → ``24/7``).

    ``regular_hours`` weekdays are 1 = Monday … 7 = Sunday. Exceptional
    openings/closings are dated and not part of a weekly schedule; they are ignored.
    """
    if not obj:
        return None
    if obj.get("twentyfourseven"):
        return "24/7"
    windows = []
    for rh in obj.get("regular_hours") or []:
        d = int(rh["weekday"]) - 1
        s = _minutes(rh["period_begin"], "regular_hours")
        e = _minutes(rh["period_end"], "regular_hours")
        windows.append((d, s, e if e > s else 1440))
        if 0 < e <= s:
            windows.append(((d + 1) % 7, 0, e))
    return format_operating_hours(windows) if windows else None
