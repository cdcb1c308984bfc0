"""The vocabulary every part of the uptime timeline's SQL shares (handbook §4).

The timeline (:mod:`evrevops.uptime.timeline`) is built as a few temporary tables of the
warehouse, named here; :class:`Range` says what they were built for. Durations are integer
microseconds between instants (:func:`us_sql`), summed as integers and turned into seconds
once (:func:`seconds_sql`), so sums do not depend on the order an engine adds in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

US_PER_S = 1_000_000
CAL = "_uptime_calendar"
CLOSED = "_uptime_closed"
PORTS = "_uptime_ports"
INTERVALS = "_uptime_intervals"
PIECES = "_uptime_pieces"
LEDGER = "_uptime_ledger"
MONTHS = "_uptime_months"
DEFAULT_OFFLINE_AFTER_S = 5 * 3600  # silence [s] after which an OCPP charger is offline (the CLI's default too)


def us_sql(col: str, since: str = "TIMESTAMP '1970-01-01 00:00:00'") -> str:
    """SQL of the microseconds from *since* to the instant *col* (BIGINT; Unix microseconds by default).

    ``date_diff('microsecond', a, b)`` is exact on DuckDB and Spark (``DATEDIFF(MICROSECOND, …)``),
    where ``epoch`` is a DOUBLE on one and whole seconds on the other.
    """
    return f"date_diff('microsecond', {since}, {col})"


def seconds_sql(us: str) -> str:
    """SQL turning integer microseconds *us* into seconds [s] (DOUBLE, the same on every engine)."""
    return f"CAST({us} AS DOUBLE) / {US_PER_S}"


@dataclass(frozen=True)
class Range:
    """What a timeline was built for.

    ``first_month`` … ``last_month`` are site-local months (first days);
    ``data_start`` … ``as_of`` the telemetry span measured (UTC);
    ``offline_after_s`` the silence window [s].
    """

    first_month: dt.date
    last_month: dt.date
    data_start: dt.datetime
    as_of: dt.datetime
    offline_after_s: int
