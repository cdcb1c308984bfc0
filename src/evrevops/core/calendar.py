"""The calendar: months, site-local days and horizons, in one implementation.

Months are named by their first day (a ``datetime.date`` with ``day == 1``); month arithmetic
goes through :func:`month_index` (year × 12 + month − 1) and its inverse, so adding, counting
and bounding months is written once (:func:`add_months`, :func:`next_month`, :func:`month_end`,
:func:`months_between`, :func:`month_range`, :func:`month_bounds_sql`).

Site-local days: the days every time-based metric is split on.

Handbook §2: a session's time-based quantities are split exactly at period
boundaries in the *site's local time*. Rather than converting every session
to local time, evrevops builds a small dimension table — one row per site and
local day with that day's UTC bounds — and splits sessions by plain interval
overlap against it. DST days come out right by construction (23 h or 25 h),
and the metric SQL needs no time-zone functions (so it runs unchanged on
engines without per-row zone conversion).

Open time (handbook §3) is the part of the day inside the site's stated
operating hours; ports add their commissioning window on top of it.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import datetime as dt
from typing import TYPE_CHECKING

from evrevops.core.hours import parse_operating_hours

if TYPE_CHECKING:  # imported where used: month arithmetic, which the CLI needs at start, stays light
    import numpy as np
    import pandas as pd
    import pyarrow as pa

FALLBACK_TIME_ZONE = "UTC"


def month_index(d: dt.date) -> int:
    """The month of *d* as a count of months since year 0: ``year * 12 + month - 1``."""
    return d.year * 12 + d.month - 1


def from_month_index(idx: int) -> dt.date:
    """The first day of the month :func:`month_index` *idx* names."""
    return dt.date(idx // 12, idx % 12 + 1, 1)


def add_months(m: dt.date, k: int) -> dt.date:
    """The first day of the month *k* months after the month of *m* (*k* may be negative)."""
    return from_month_index(month_index(m) + k)


def next_month(d: dt.date) -> dt.date:
    """The first day of the month after the month of *d*."""
    return add_months(d, 1)


def month_end(m: dt.date) -> dt.date:
    """The last day of the month of *m* (9999-12-31 included)."""
    return dt.date(m.year, m.month, days_in_month(m.year, m.month))


def months_between(first: dt.date, last: dt.date) -> int:
    """Months from the month of *first* to the month of *last* (0 for the same month; negative if before)."""
    return month_index(last) - month_index(first)


def days_in_month(year: int, month: int) -> int:
    """The number of days of *month* (1-12) of *year*."""
    return _stdlib_calendar.monthrange(year, month)[1]


def month_range(month: str) -> tuple[dt.date, dt.date]:
    """``'2025-03'`` → (2025-03-01, 2025-03-31).

    Raises
    ------
    ValueError
        ``not a month (YYYY-MM): ...`` for any other text.
    """
    try:
        y, m = (int(x) for x in month.split("-"))
        first = dt.date(y, m, 1)
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"not a month (YYYY-MM): {month!r}") from None
    return first, month_end(first)


def month_bounds_sql(first: dt.date, last: dt.date) -> str:
    """A relation of the months *first* … *last*: ``month_start``, ``month_end`` (the next month's first day)."""
    months = []
    m = first.replace(day=1)
    while m <= last:
        months.append(f"(DATE '{m}', DATE '{next_month(m)}')")
        m = next_month(m)
    if not months:  # an empty range: no month (a typed row that no filter lets through)
        return "(SELECT DATE '1970-01-01' AS month_start, DATE '1970-01-01' AS month_end WHERE FALSE)"
    return f"(SELECT * FROM (VALUES {', '.join(months)}) AS mv(month_start, month_end))"


def _localize(local: pd.DatetimeIndex, tz: str, prefer_first: bool) -> np.ndarray:
    """Local wall-clock instants → UTC naive ``datetime64[us]``.

    A wall time that does not exist (spring-forward gap) moves forward to the
    first instant after the gap; an ambiguous one (fall-back) takes its first
    occurrence when ``prefer_first`` (window starts, day starts) and its second
    otherwise (window ends), so a window always covers the repeated hour.
    """
    import numpy as np

    amb = np.full(len(local), prefer_first, dtype=bool)
    out = local.tz_localize(tz, ambiguous=amb, nonexistent="shift_forward").tz_convert("UTC").tz_localize(None)
    utc: np.ndarray = out.values.astype("datetime64[us]")  # pandas is untyped: the type is stated here
    return utc


def local_days(time_zone: str, operating_hours: str | None, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Local days of one site-time-zone and schedule.

    Parameters
    ----------
    time_zone : str
        IANA time zone name.
    operating_hours : str or None
        Schedule in the syntax of ``docs/formats.md`` (None or ``24/7``: always open).
    start, end : datetime.date
        First and last local date, inclusive.

    Returns
    -------
    pandas.DataFrame
        ``local_date``, ``day_start_at``, ``day_end_at`` (UTC naive), ``day_s``
        [s] (length of the local day: 82,800 / 86,400 / 90,000) and ``open_s``
        [s] (seconds of the day inside operating hours).

    Notes
    -----
    ``open_s = Σ_windows (utc(window_end) − utc(window_start))`` over the
    windows that start on that weekday; a window ending at ``24:00`` ends at
    the next local midnight. Windows that run past midnight are split by
    :func:`~evrevops.core.hours.parse_operating_hours`.
    """
    import numpy as np
    import pandas as pd

    dates = pd.date_range(start, end, freq="D")
    starts = _localize(dates, time_zone, prefer_first=True)
    ends = _localize(dates + pd.Timedelta(days=1), time_zone, prefer_first=True)
    day_s = (ends - starts).astype("timedelta64[s]").astype(np.int64)
    windows = parse_operating_hours(operating_hours)
    open_s = np.zeros(len(dates), dtype=np.int64)
    weekday = dates.weekday.values
    for wd, s_min, e_min in windows:
        m = weekday == wd
        if not m.any():
            continue
        d = dates[m]
        ws = _localize(d + pd.to_timedelta(s_min, unit="m"), time_zone, prefer_first=True)
        we = _localize(d + pd.to_timedelta(e_min, unit="m"), time_zone, prefer_first=False)
        open_s[m] += np.maximum((we - ws).astype("timedelta64[s]").astype(np.int64), 0)
    open_s = np.minimum(open_s, day_s)
    return pd.DataFrame(
        {
            "local_date": dates.date,
            "day_start_at": starts,
            "day_end_at": ends,
            "day_s": day_s,
            "open_s": open_s,
        }
    )


def site_days(sites: pd.DataFrame, start: dt.date, end: dt.date) -> pa.Table:
    """The calendar for many sites.

    Parameters
    ----------
    sites : pandas.DataFrame
        ``site_id``, ``time_zone``, ``operating_hours``. A missing time zone
        falls back to UTC (reported by ``evrevops status``).
    start, end : datetime.date
        Local date range, inclusive.

    Returns
    -------
    pyarrow.Table
        One row per site and local date: ``site_id``, ``local_date``,
        ``month`` (first day of the local month), ``day_start_at``,
        ``day_end_at``, ``day_s``, ``open_s``, and integer keys ``site_num``
        (rank of ``site_id``, 0-based) and ``day_num`` (days since 1970-01-01).
    """
    import numpy as np
    import pyarrow as pa

    sites = sites.assign(
        time_zone=sites["time_zone"].fillna(FALLBACK_TIME_ZONE),
        operating_hours=sites["operating_hours"].fillna("24/7"),
    )
    uniq = sorted(set(sites["site_id"].tolist()))
    rank = {sid: k for k, sid in enumerate(uniq)}
    parts = []
    for (tz, hours), group in sites.groupby(["time_zone", "operating_hours"], sort=True):
        days = local_days(tz, hours, start, end)
        ids = group["site_id"].to_numpy()
        n = len(days)
        # numpy, not pandas, for the big tile: a year of 2,000 sites is 730,000 rows
        day_num = (days["local_date"].to_numpy().astype("datetime64[D]") - np.datetime64("1970-01-01", "D")).astype(
            np.int64
        )
        parts.append(
            {
                "site_num": np.repeat(np.array([rank[i] for i in ids], dtype=np.int64), n),
                "day_num": np.tile(day_num, len(ids)),
                "day_start_at": np.tile(days["day_start_at"].to_numpy().astype("datetime64[us]"), len(ids)),
                "day_end_at": np.tile(days["day_end_at"].to_numpy().astype("datetime64[us]"), len(ids)),
                "day_s": np.tile(days["day_s"].to_numpy().astype(np.int64), len(ids)),
                "open_s": np.tile(days["open_s"].to_numpy().astype(np.int64), len(ids)),
            }
        )
    cols = {
        k: np.concatenate([p[k] for p in parts]) if parts else np.array([], dtype="datetime64[us]" if k.endswith("_at") else np.int64)
        for k in ("site_num", "day_num", "day_start_at", "day_end_at", "day_s", "open_s")
    }  # fmt: skip
    month = cols["day_num"].astype("datetime64[D]").astype("datetime64[M]").astype("datetime64[D]")
    # Integer keys for the congestion sweep: the site's rank among the calendar's sites (0-based,
    # in site_id order) and the local date as days since 1970-01-01. The site ids are the ranks
    # looked up in the sorted ids (in Arrow, not one Python string per row).
    site_num = cols["site_num"]
    site_id = pa.DictionaryArray.from_arrays(pa.array(site_num.astype(np.int32)), pa.array(uniq, pa.string())).cast(
        pa.string()
    )
    return pa.table(
        {
            "site_id": site_id,
            "local_date": pa.array(cols["day_num"].astype(np.int32), pa.int32()).cast(pa.date32()),
            "month": pa.array((month - np.datetime64("1970-01-01", "D")).astype(np.int32), pa.int32()).cast(
                pa.date32()
            ),
            "day_start_at": pa.array(cols["day_start_at"], pa.timestamp("us")),
            "day_end_at": pa.array(cols["day_end_at"], pa.timestamp("us")),
            "day_s": pa.array(cols["day_s"], pa.int64()),
            "open_s": pa.array(cols["open_s"], pa.int64()),
            "site_num": pa.array(site_num, pa.int64()),
            "day_num": pa.array(cols["day_num"], pa.int64()),
        }
    )


def closed_windows(sites: pd.DataFrame, start: dt.date, end: dt.date) -> pa.Table:
    """The hours each site is closed (outside its stated operating hours), as UTC intervals.

    Parameters
    ----------
    sites : pandas.DataFrame
        ``site_id``, ``time_zone``, ``operating_hours`` (as :func:`site_days`).
    start, end : datetime.date
        Local date range, inclusive.

    Returns
    -------
    pyarrow.Table
        ``site_id``, ``closed_start_at``, ``closed_end_at`` (UTC naive): the
        complement of the open windows within each local day. Sites open 24/7
        have no rows.

    Notes
    -----
    23 CFR 680.116(b) lets hours outside stated operating hours be excluded
    from a port's outage minutes; this is that set of hours. Window ends are
    localised as in :func:`local_days` (an ambiguous end takes its second
    occurrence), so a closed interval never overlaps an open one.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    sites = sites.assign(
        time_zone=sites["time_zone"].fillna(FALLBACK_TIME_ZONE),
        operating_hours=sites["operating_hours"].fillna("24/7"),
    )
    dates = pd.date_range(start, end, freq="D")
    parts = []
    for (tz, hours), group in sites.groupby(["time_zone", "operating_hours"], sort=True):
        windows = parse_operating_hours(hours)  # per weekday, never across midnight
        if len(dates) == 0 or windows == [(d, 0, 1440) for d in range(7)]:
            continue
        day_start = _localize(dates, tz, prefer_first=True)
        day_end = _localize(dates + pd.Timedelta(days=1), tz, prefer_first=True)
        weekday = dates.weekday.values
        day_idx, opens_s, opens_e = [], [], []
        for wd, s_min, e_min in windows:  # a handful of windows, each over all its days at once
            idx = np.flatnonzero(weekday == wd)
            d = dates[idx]
            day_idx.append(idx)
            opens_s.append(_localize(d + pd.to_timedelta(s_min, unit="m"), tz, prefer_first=True))
            opens_e.append(_localize(d + pd.to_timedelta(e_min, unit="m"), tz, prefer_first=False))
        w = pd.DataFrame(
            {
                "day": np.concatenate(day_idx) if day_idx else np.array([], np.int64),
                "s": np.concatenate(opens_s) if opens_s else np.array([], "datetime64[us]"),
                "e": np.concatenate(opens_e) if opens_e else np.array([], "datetime64[us]"),
            }
        ).sort_values(["day", "s"], kind="stable")
        # within a day, the closed gaps are before each window that starts after everything open so far
        w["cursor"] = w.groupby("day")["e"].cummax().groupby(w["day"]).shift(1)
        w["cursor"] = w["cursor"].fillna(pd.Series(day_start[w["day"].to_numpy()], index=w.index))
        w["cursor"] = np.maximum(w["cursor"].to_numpy(), day_start[w["day"].to_numpy()])
        gaps = w[w["s"] > w["cursor"]]
        # … and after the day's last open minute
        last = np.full(len(dates), np.datetime64("NaT"), dtype="datetime64[us]")
        if len(w):
            mx = w.groupby("day")["e"].max()
            last[mx.index.to_numpy()] = mx.to_numpy()
        last = np.where(np.isnat(last), day_start, np.maximum(last, day_start))
        tail = np.flatnonzero(day_end > last)
        g_start = np.concatenate([gaps["cursor"].to_numpy().astype("datetime64[us]"), last[tail]])
        g_end = np.concatenate([gaps["s"].to_numpy().astype("datetime64[us]"), day_end[tail]])
        g_day = np.concatenate([gaps["day"].to_numpy(), tail])
        order = np.lexsort((g_start, g_day))
        g_start, g_end = g_start[order], g_end[order]
        ids = group["site_id"].to_numpy()
        parts.append(
            pa.table(
                {
                    "site_id": pa.array(np.repeat(ids, len(g_start)).astype(object), pa.string()),
                    "closed_start_at": pa.array(np.tile(g_start, len(ids)), pa.timestamp("us")),
                    "closed_end_at": pa.array(np.tile(g_end, len(ids)), pa.timestamp("us")),
                }
            )
        )
    if not parts:
        return pa.table(
            {
                "site_id": pa.array([], pa.string()),
                "closed_start_at": pa.array([], pa.timestamp("us")),
                "closed_end_at": pa.array([], pa.timestamp("us")),
            }
        )
    return pa.concat_tables(parts)


def month_grid_sql(first: dt.date, last: dt.date) -> str:
    """SQL of the local months *first* … *last*: ``ms`` (first day), ``me`` (next month's first day), ``days``."""
    m0 = first.replace(day=1)
    m1 = next_month(last)
    return f"""SELECT CAST(m AS DATE) AS ms, CAST(m + INTERVAL 1 MONTH AS DATE) AS me,
           date_diff('day', CAST(m AS DATE), CAST(m + INTERVAL 1 MONTH AS DATE)) AS days
    FROM range(DATE '{m0}', DATE '{m1}', INTERVAL 1 MONTH) t(m)"""
