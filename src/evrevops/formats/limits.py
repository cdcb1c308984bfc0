"""Plausibility limits every reader applies at the door.

Real charger and CPMS data is dirty: a charger's clock resets to 1970 or jumps
to 2036 after a power loss, a field overflows, an export is cut mid-line. A
record outside these limits is quarantined with the reason (never stored), so
one bad record cannot break a report later.

The limits are one frozen :class:`Limits`; the one in force is
:func:`current` (a context variable), set for an ingest with :func:`using`
(``evrevops ingest --earliest/--latest/--max-power-kw/...``). Readers keep
their ``(path, mapping)`` signature and read :func:`current`.

Defaults
--------
* time window: from 2000-01-01 to one day after the ingest's wall-clock time
  (UTC); a timestamp outside it is refused;
* power: at most 4,000 kW at a port (above the 3.75 MW of the Megawatt
  Charging System); a session's energy at most ``max_power_kw ×
  duration_h × 1.1 + 1`` kWh (readers), and at most the port's rated power
  × duration × the same margin where the warehouse knows the port (loader);
* money: a single amount below 10^10 major units of its currency (far above any
  session, contract line or deal, and far inside 64-bit minor units);
* session length: at most 31 days plugged in;
* files: a physical line at most 64 MiB, a compressed file at most
  16 GiB once decompressed, JSON nested at most 64 levels.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal

MiB = 1 << 20
GiB = 1 << 30


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class Limits:
    """The plausibility limits of one ingest.

    Attributes
    ----------
    earliest : datetime.datetime
        First plausible instant (UTC, naive) [inclusive].
    latest : datetime.datetime or None
        Last plausible instant (UTC, naive) [inclusive]; None means ``now + ahead``.
    ahead : datetime.timedelta
        How far past the ingest's wall-clock time a timestamp may lie, when ``latest`` is None.
    now : datetime.datetime
        The ingest's wall-clock time (UTC, naive), fixed when the limits are made.
    max_power_kw : float
        Largest plausible power at one port [kW].
    energy_margin : float
        Factor on ``power × duration`` a session's energy may reach [-].
    energy_slack_kwh : float
        Energy allowed on top of the margin, for very short sessions [kWh].
    max_money_major : Decimal
        Exclusive bound on the absolute value of one amount [major currency units]; at most
        10^18 (amounts are compared as ``DECIMAL(38, 18)``; an amount whose minor units overflow
        64 bits is refused on its own).
    max_session_s : int
        Longest plausible plugged-in time of one session [s].
    max_line_bytes : int
        Longest physical line of a text file [bytes].
    max_decompressed_bytes : int
        Largest decompressed size of a ``.gz`` file [bytes].
    max_json_depth : int
        Deepest nesting of JSON arrays and objects in one record [-].
    """

    earliest: dt.datetime = dt.datetime(2000, 1, 1)
    latest: dt.datetime | None = None
    ahead: dt.timedelta = dt.timedelta(days=1)
    now: dt.datetime = field(default_factory=_utc_now)
    max_power_kw: float = 4000.0
    energy_margin: float = 1.1
    energy_slack_kwh: float = 1.0
    max_money_major: Decimal = Decimal(10) ** 10
    max_session_s: int = 31 * 86400
    max_line_bytes: int = 64 * MiB
    max_decompressed_bytes: int = 16 * GiB
    max_json_depth: int = 64

    def __post_init__(self) -> None:
        if not self.until > self.earliest:
            raise ValueError(f"the time window is empty: from {self.earliest} to {self.until}")
        for name in ("max_power_kw", "energy_margin", "energy_slack_kwh"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number above 0, not {v!r}")
        for name in ("max_session_s", "max_line_bytes", "max_decompressed_bytes", "max_json_depth"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v > 0):
                raise ValueError(f"{name} must be a whole number above 0, not {v!r}")
        if not (self.max_money_major.is_finite() and 0 < self.max_money_major <= Decimal(10) ** 18):
            # the readers compare amounts as DECIMAL(38, 18): 20 digits before the point
            raise ValueError(f"max_money_major must be above 0 and at most 10^18, not {self.max_money_major}")

    @property
    def until(self) -> dt.datetime:
        """Last plausible instant: ``latest``, else ``now + ahead`` (UTC, naive)."""
        return self.latest if self.latest is not None else self.now + self.ahead

    # ---- Python checks (readers that parse in Python) ----------------------------------------

    def time_problem(self, ts: dt.datetime | None) -> str | None:
        """Why *ts* (naive UTC, or aware) is implausible, or None when it lies in the window."""
        if ts is None:
            return None
        if ts.tzinfo is not None:
            ts = ts.astimezone(dt.UTC).replace(tzinfo=None)
        if ts < self.earliest:
            return f"{ts.isoformat()} is before {self.earliest:%Y-%m-%d} (a charger clock reset?); see --earliest"
        if ts > self.until:
            return f"{ts.isoformat()} is after {self.until:%Y-%m-%d %H:%M} (a clock ahead?); see --latest"
        return None

    def date_problem(self, day: dt.date | None) -> str | None:
        """Why a calendar date is implausible (outside the window's dates), or None."""
        if day is None:
            return None
        if day < self.earliest.date() or day > self.until.date():
            return f"{day.isoformat()} is outside {self.earliest:%Y-%m-%d} .. {self.until:%Y-%m-%d}; see --earliest/--latest"
        return None

    def money_problem(self, amount: Decimal | None) -> str | None:
        """Why an amount [major units] is implausible, or None."""
        if amount is None:
            return None
        if not amount.is_finite():
            return "not a finite amount"
        if abs(amount) >= self.max_money_major:
            return f"amount {amount} is not below the limit of {self.max_money_major:,} per record"
        return None

    # ---- SQL checks (readers that parse in DuckDB) --------------------------------------------

    def window_sql(self, expr: str) -> str:
        """SQL: true when the TIMESTAMP *expr* is not NULL and lies outside the window."""
        return (
            f"({expr} IS NOT NULL AND ({expr} < TIMESTAMP '{self.earliest:%Y-%m-%d %H:%M:%S}'"
            f" OR {expr} > TIMESTAMP '{self.until:%Y-%m-%d %H:%M:%S}'))"
        )

    def window_reason_sql(self, expr: str) -> str:
        """SQL text: why the TIMESTAMP *expr* is outside the window (use where :meth:`window_sql` holds)."""
        return (
            f"CASE WHEN {expr} < TIMESTAMP '{self.earliest:%Y-%m-%d %H:%M:%S}' "
            f"THEN CAST({expr} AS VARCHAR) || ' is before {self.earliest:%Y-%m-%d} (a charger clock reset?); see --earliest' "
            f"ELSE CAST({expr} AS VARCHAR) || ' is after {self.until:%Y-%m-%d %H:%M} (a clock ahead?); see --latest' END"
        )

    def money_sql(self, expr: str) -> str:
        """SQL: true when the numeric *expr* [major units] is not NULL and not strictly below the money limit."""
        return f"({expr} IS NOT NULL AND abs(CAST({expr} AS DOUBLE)) >= {float(self.max_money_major)!r})"


_CURRENT: contextvars.ContextVar[Limits | None] = contextvars.ContextVar("evrevops_limits", default=None)


def current() -> Limits:
    """The limits in force: those set by :func:`using`, else the defaults with ``now`` = this call's time."""
    limits = _CURRENT.get()
    return limits if limits is not None else Limits()


@contextlib.contextmanager
def using(limits: Limits | None = None, **changes: object) -> Iterator[Limits]:
    """Put *limits* (default: the defaults, now) in force, with *changes* applied, for the block."""
    lim = replace(limits or Limits(), **changes) if changes else (limits or Limits())
    token = _CURRENT.set(lim)
    try:
        yield lim
    finally:
        _CURRENT.reset(token)


def finite_sql(expr: str) -> str:
    """SQL: true when the DOUBLE *expr* is NULL or a finite number (not NaN, not ±infinity)."""
    return f"({expr} IS NULL OR isfinite(CAST({expr} AS DOUBLE)))"
