"""The dates the session data spans: what a report asks for when no month is given."""

from __future__ import annotations

import datetime as dt

from evrevops.warehouse.protocol import WarehouseLike


def data_range(wh: WarehouseLike) -> tuple[dt.date, dt.date] | None:
    """First and last UTC date with sessions, or None for an empty warehouse."""
    s = wh.table("sessions")
    row = tuple(s.aggregate(lo=s.started_at.min(), hi=s.started_at.max()).to_pyarrow().to_pylist()[0].values())
    row = tuple(v.date() if v is not None else None for v in row)
    return None if row[0] is None else (row[0], row[1])


def last_full_month(wh: WarehouseLike) -> str | None:
    """The latest month the session data covers to its end (``YYYY-MM``)."""
    r = data_range(wh)
    if r is None:
        return None
    last = r[1]
    if (last + dt.timedelta(days=1)).month != last.month:
        return f"{last.year:04d}-{last.month:02d}"
    first_of_month = last.replace(day=1)
    prev = first_of_month - dt.timedelta(days=1)
    return f"{prev.year:04d}-{prev.month:02d}"
