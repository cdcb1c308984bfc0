"""The periods a query covers when none is given: the last full month of data, the open outages' month."""

from __future__ import annotations

import datetime as dt

from evrevops.core.calendar import month_range
from evrevops.metrics.span import last_full_month as sessions_last_full_month
from evrevops.uptime.timeline import data_span
from evrevops.uptime.timeline import last_full_month as telemetry_last_full_month
from evrevops.warehouse.protocol import WarehouseLike


def last_full_month(wh: WarehouseLike) -> tuple[dt.date, dt.date] | None:
    """The first and last day of the last full month of sessions, else of telemetry (a warehouse holding only status
    logs); None for a warehouse with neither."""
    last = sessions_last_full_month(wh) or telemetry_last_full_month(wh)
    return None if last is None else month_range(last)


def horizon_month(wh: WarehouseLike, as_of: dt.datetime | None) -> dt.date | None:
    """The first day of the month of the data horizon: *as_of* [UTC], else the last telemetry instant; None without
    telemetry."""
    if as_of is None:
        span = data_span(wh)
        as_of = span[1] if span else None
    return None if as_of is None else as_of.date().replace(day=1)
