"""Vectorised conversion between UTC instants and local wall time (IANA zones).

Times are integer seconds: ``utc`` since the Unix epoch, ``wall`` the local
wall-clock reading counted the same way (``wall = utc + offset``). Offsets come
from :mod:`zoneinfo`, scanned hourly: every US transition happens on a whole
UTC hour, and all US offsets are whole hours, which is also why a local
whole-hour boundary is always a UTC whole-hour boundary.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

_UTC = dt.UTC


@lru_cache(maxsize=64)
def transitions(tz: str, year_lo: int, year_hi: int) -> tuple[np.ndarray, np.ndarray]:
    """``(t, off)``: UTC seconds of offset changes and the offsets (s) around them.

    ``off`` has ``len(t) + 1`` entries: ``off[k]`` applies before ``t[k]``.
    """
    zone = ZoneInfo(tz)
    start = dt.datetime(year_lo, 1, 1, tzinfo=_UTC)
    hours = int((dt.datetime(year_hi + 1, 1, 1, tzinfo=_UTC) - start).total_seconds() // 3600) + 48
    t0 = int(start.timestamp()) - 24 * 3600
    prev = None
    ts: list[int] = []
    offs: list[int] = []
    # scan day by day, then hour by hour inside days whose offset changes
    for d in range(hours // 24 + 1):
        a = t0 + d * 86400
        oa = int(dt.datetime.fromtimestamp(a, zone).utcoffset().total_seconds())
        if prev is None:
            prev = oa
            offs.append(oa)
            continue
        if oa != prev:
            for h in range(24, -1, -1):
                x = a - h * 3600
                ox = int(dt.datetime.fromtimestamp(x, zone).utcoffset().total_seconds())
                if ox == oa:
                    ts.append(x)
                    offs.append(oa)
                    break
            prev = oa
    return np.asarray(ts, dtype=np.int64), np.asarray(offs, dtype=np.int64)


def utc_offset(utc: np.ndarray, tz: str, years: tuple[int, int]) -> np.ndarray:
    """Offset [s] of *tz* at each UTC instant."""
    t, off = transitions(tz, *years)
    return off[np.searchsorted(t, utc, side="right")]


def wall_to_utc(wall: np.ndarray, tz: str, years: tuple[int, int]) -> np.ndarray:
    """UTC instants of local wall times in *tz*.

    A wall time that happens twice (autumn overlap) is taken as the second
    occurrence, in standard time; one that does not exist (spring gap) is read
    with the offset in force before the gap — the same rule as the session-CSV
    readers (``docs/formats.md``) and Python's ``fold=1``/``fold=0``.
    """
    wall = np.asarray(wall, dtype=np.int64)
    _, off = transitions(tz, *years)
    std = int(off.min())
    dst = int(off.max())
    u_std = wall - std
    ok_std = utc_offset(u_std, tz, years) == std
    if dst == std:
        return u_std
    u_dst = wall - dst
    ok_dst = utc_offset(u_dst, tz, years) == dst
    return np.where(ok_std, u_std, np.where(ok_dst, u_dst, u_std))


def to_wall(utc: np.ndarray, tz: str, years: tuple[int, int]) -> np.ndarray:
    """Local wall time (epoch-style seconds) of UTC instants."""
    utc = np.asarray(utc, dtype=np.int64)
    return utc + utc_offset(utc, tz, years)


def by_zone(func, values: np.ndarray, zones: np.ndarray, names: list[str], years: tuple[int, int]) -> np.ndarray:
    """Apply ``func(values, tz, years)`` per zone code (``zones`` indexes ``names``)."""
    out = np.empty(len(values), dtype=np.int64)
    for code, name in enumerate(names):
        m = zones == code
        if m.any():
            out[m] = func(values[m], name, years)
    return out


def weekday(wall: np.ndarray) -> np.ndarray:
    """Monday = 0 of a wall time (1970-01-01 was a Thursday)."""
    return (np.floor_divide(wall, 86400) + 3) % 7


def epoch_day(date: dt.date) -> int:
    return (date - dt.date(1970, 1, 1)).days
