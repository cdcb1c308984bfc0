"""Port status timelines, the outage ledger and the port-month uptime fact (handbook §4).

Everything is plain SQL over the warehouse tables, written once in DuckDB's
dialect and run through the warehouse (:meth:`~evrevops.warehouse.db.Warehouse.execute`):
as is on DuckDB, transpiled by SQLGlot on Spark
(:class:`~evrevops.warehouse.spark.SparkWarehouse`), as a few temporary tables.
No Python loop runs per event; only the site-local calendar is built on the
driver (pandas, from ``sites``) and registered as a table.

This module builds the tables (:func:`build`) and reads the telemetry's span; the
statements are in :mod:`~evrevops.uptime.timeline_intervals` (port lifetimes, liveness,
intervals of one state), :mod:`~evrevops.uptime.timeline_ledger` (month pieces, the outage
ledger) and :mod:`~evrevops.uptime.timeline_months` (the port-month table), over the table
names and duration SQL of :mod:`~evrevops.uptime.timeline_tables`.

The SQL keeps to what both engines run alike: durations are integer
microseconds between instants (:func:`~evrevops.uptime.timeline_tables.us_sql`, ``date_diff('microsecond', …)``)
summed as integers and turned into seconds once (so sums do not depend on the
order an engine adds in), weekdays and day offsets come from the calendar's
integer ``day_num``, no ``epoch``, ``INTERVAL`` arithmetic, ``isodow`` or
``any_value``.

**Timeline.** A port's state at any instant comes from three components, each
holding its last value (``last_value … IGNORE NULLS``):

* the port's own status events (OCPP 1.6 ``connectorId`` ≥ 1, OCPP 2.0.1
  ``evseId``, OCPI EVSE status, status feeds);
* its charger's connector-0 status (OCPP: the whole charge point);
* liveness: an OCPP charger that has sent nothing — no status, heartbeat,
  meter value or transaction message — for longer than ``offline_after_s`` is
  **offline from its last message** until its next one (and up to the data
  horizon ``as_of`` if none came); its first message puts it online.

The state is the worst of them (:data:`~evrevops.core.states.RANK`):
silent ⇒ ``offline``; else Faulted/Unavailable on the port or the charger ⇒
``fault``; else a reported up status, or an online charger that has not
reported its connectors ⇒ ``up``; with no observation at all ⇒ ``no_data``.
Events are ordered by instant; at equal instants the worst status wins, so
out-of-order lines give the same timeline and a replayed event (same key) was
already dropped as a duplicate at ingest. Silence is inferred only for
chargers that speak OCPP (heartbeats are their evidence of life); a status
feed states its own gaps (``Unknown``).

**Lifetime.** A port is measured from the site-local midnight of its
``commissioned_on`` (or the start of the range) to that of its
``decommissioned_on`` (or the end of the range), and never past ``as_of``
(the data horizon: the latest telemetry in the warehouse unless given), nor
before the network's first telemetry (there is nothing to measure before it).

**Outages.** Maximal runs of ``fault``/``offline`` time are outages;
``no_data`` runs are listed in the ledger separately. ``T_outage`` counts
fault, offline and no-data minutes (time that cannot be shown to be up is not
counted as up). ``T_excluded`` is the part of ``T_outage`` covered by an
incident with a NEVI-excludable cause (on the port, its charger or its site)
or outside the site's stated operating hours — the union, so overlapping
evidence is never counted twice.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pyarrow as pa

from evrevops.core.calendar import add_months, closed_windows, month_end, site_days
from evrevops.uptime.timeline_intervals import intervals_sql, ports_sql
from evrevops.uptime.timeline_ledger import ledger_sql, pieces_sql
from evrevops.uptime.timeline_months import months_sql
from evrevops.uptime.timeline_tables import CAL, CLOSED, DEFAULT_OFFLINE_AFTER_S, Range
from evrevops.warehouse.protocol import WarehouseLike

if TYPE_CHECKING:
    from evrevops.warehouse.spark import SparkWarehouse


def data_span(wh: WarehouseLike | SparkWarehouse) -> tuple[dt.datetime, dt.datetime] | None:
    """The first and last telemetry instants in the warehouse (status, heartbeat, meter value, transaction).

    Telemetry is measured only inside this span: before the first record of
    the whole network there is nothing to measure (not an outage of every
    port), and after the last one the future is not known yet.
    """
    row = wh.fetch(
        """SELECT least(
               (SELECT min(observed_at) FROM status_events),
               (SELECT min(observed_at) FROM heartbeats),
               (SELECT min(observed_at) FROM meter_readings),
               (SELECT min(started_at) FROM ocpp_transactions)) AS lo,
           greatest(
               (SELECT max(observed_at) FROM status_events),
               (SELECT max(observed_at) FROM heartbeats),
               (SELECT max(observed_at) FROM meter_readings),
               (SELECT max(coalesce(ended_at, started_at)) FROM ocpp_transactions)) AS hi"""
    ).to_pylist()[0]
    lo, hi = (_naive(v) for v in row.values())
    return None if lo is None else (lo, hi)


def _naive(t: dt.datetime | None) -> dt.datetime | None:
    """A UTC instant without its offset (Spark returns zone-aware UTC instants, DuckDB naive ones)."""
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t is not None and t.tzinfo is not None else t


def horizon_month(wh: WarehouseLike | SparkWarehouse, last_month: dt.date, as_of: dt.datetime | None = None) -> dt.date:
    """The last month to build the timeline through, so outages starting by *last_month* are whole.

    An outage that starts in a reported month and ends after it is a failure
    of that month with its whole duration (``repair_s``), up to the data
    horizon (*as_of*, else the latest telemetry); building the timeline only
    to the end of the reported months would cut it there, and the same month's
    MTTR would change with the months asked for. So the timeline runs to the
    horizon's month when that is later.
    """
    if as_of is None:
        span = data_span(wh)
        as_of = span[1] if span is not None else None
    if as_of is None:
        return last_month
    return max(last_month, as_of.date().replace(day=1))


def last_full_month(wh: WarehouseLike | SparkWarehouse) -> str | None:
    """The latest month (``YYYY-MM``) the telemetry covers to its end (UTC), or None without telemetry."""
    span = data_span(wh)
    if span is None:
        return None
    last = span[1].date()
    m = (
        last.replace(day=1)
        if (last + dt.timedelta(days=1)).month != last.month
        else add_months(last.replace(day=1), -1)
    )
    return f"{m:%Y-%m}"


def build(
    wh: WarehouseLike | SparkWarehouse,
    first_month: dt.date,
    last_month: dt.date,
    as_of: dt.datetime | None = None,
    offline_after_s: int = DEFAULT_OFFLINE_AFTER_S,
    data_start: dt.datetime | None = None,
    trailing: bool = True,
) -> Range:
    """Build the timeline, ledger and port-month fact for local months ``first_month`` … ``last_month``.

    The trailing-twelve-month figures of ``first_month`` need the eleven
    months before it, so the timeline starts eleven months earlier. Results are
    the temporary tables ``INTERVALS``, ``LEDGER`` and ``MONTHS``
    (:mod:`~evrevops.uptime.timeline_tables`) of the warehouse, DuckDB or Spark (see
    :func:`~evrevops.uptime.timeline_ledger.ledger_sql` and
    :func:`~evrevops.uptime.timeline_months.months_sql` for their columns); read them with
    :func:`fetch` or ``wh.table(name)``.

    Parameters
    ----------
    first_month, last_month : datetime.date
        First days of the first and last local month reported.
    as_of : datetime.datetime, optional
        Data horizon (UTC): nothing after it is measured; a charger silent at
        it for longer than ``offline_after_s`` is offline since its last
        message. Default: the latest telemetry in the warehouse.
    data_start : datetime.datetime, optional
        Nothing before it is measured. Default: the first telemetry in the
        warehouse (:func:`data_span`).
    trailing : bool
        Start eleven months before ``first_month`` (default), so the
        trailing-twelve-month sums of every reported month are complete;
        otherwise three months before (the baseline of revenue at risk).
    offline_after_s : int
        Silence window [s] after which an OCPP charger counts as offline.
    """
    if offline_after_s <= 0:
        raise ValueError("offline_after_s must be positive")
    first_month, last_month = first_month.replace(day=1), last_month.replace(day=1)
    if last_month < first_month:
        raise ValueError(f"last month {last_month:%Y-%m} is before first month {first_month:%Y-%m}")
    span = data_span(wh) or (dt.datetime(1970, 1, 1), dt.datetime(1970, 1, 1))
    as_of = span[1] if as_of is None else as_of
    data_start = span[0] if data_start is None else data_start
    # eleven months back for the trailing sums; at least three for revenue at risk's 13-week baseline
    start = add_months(first_month, -11 if trailing else -3)
    end = month_end(last_month)
    # the site-local calendar is built on the driver (a few rows per site and day) and registered
    sites = wh.fetch("SELECT site_id, time_zone, operating_hours FROM sites").to_pandas()
    wh.register(CAL, site_days(sites, start, end))
    wh.register(CLOSED, closed_windows(sites, start, end))
    r = Range(first_month, last_month, data_start, as_of, int(offline_after_s))
    for sql in (ports_sql(r), intervals_sql(r), pieces_sql(r), ledger_sql(r), months_sql(r)):
        wh.execute(sql)
    return r


def fetch(wh: WarehouseLike | SparkWarehouse, table: str, where: str = "") -> pa.Table:
    """One of the timeline's temporary tables as Arrow, optionally filtered (SQL predicate, DuckDB dialect)."""
    return wh.fetch(f"SELECT * FROM {table} {'WHERE ' + where if where else ''}")
