"""Port-day and site-day facts kept between ingests, so a month-close aggregates instead of recomputing.

The fact tables of :mod:`evrevops.metrics.facts` are the expensive part of every metric: local
days, time split across them, start attribution, visits (a window over each driver's
attempts) and congestion (a sweep over each site's plug-in events). They change only when
the warehouse does. :func:`refresh` builds them once for every local day the sessions cover,
after an ingest, into the tables :data:`PORT_DAY` and :data:`SITE_DAY`, and sums them by local
month into :data:`PORT_MONTH` and :data:`SITE_MONTH`. :func:`facts` returns them, sliced to a
range (the monthly sums when asked for whole months), while they are current, and None
otherwise (the caller then builds them live). "Current" is the rule of :mod:`evrevops.warehouse.derived`: the same engine
version (the source of the fact builder and of this module) and the same ingest ledger.

Kept facts are read on DuckDB only: another engine (Spark) computes them from its export.

The kept rows equal the live ones over the same range. A month sliced from them can differ
from a live build of that month alone in one way only, and is then the more correct one: a
visit whose first attempt is just before the month (within 15 minutes of an attempt in it)
is counted on its own first day, where a build of the month alone starts a visit at the
first attempt it sees.
"""

from __future__ import annotations

import datetime as dt
import time

import ibis

from evrevops.metrics import calendar as _calendar
from evrevops.metrics import facts as _facts
from evrevops.warehouse import derived
from evrevops.warehouse.db import Warehouse

PORT_DAY = "kept_port_day"
SITE_DAY = "kept_site_day"
PORT_MONTH = "kept_port_month"  # PORT_DAY summed by port and local month: what a month-close reads
SITE_MONTH = "kept_site_month"
NAME = "kept_facts"  # its row in derived_facts: first_month/last_month hold the first and last local day
ENGINE_VERSION = derived.engine_version((_facts.__file__, _calendar.__file__, __file__))


def covered(wh: Warehouse) -> tuple[dt.date, dt.date] | None:
    """The local days the kept facts cover, when they are current for this warehouse; else None."""
    if getattr(wh, "engine", "duckdb") != "duckdb":
        return None
    return derived.kept_range(wh, NAME, ENGINE_VERSION)


def facts(wh: Warehouse, start: dt.date, end: dt.date, monthly: bool = False) -> _facts.Facts | None:
    """The kept facts for local days ``start`` … ``end``, or None when they are stale or do not cover it.

    With *monthly* and a range of whole months, the tables are the monthly
    sums (one row per port, resp. site, and local month, with the same
    measure columns and no ``local_date``): what a by-month query reads.
    """
    span = covered(wh)
    if span is None or start < span[0] or end > span[1]:
        return None
    if monthly and start.day == 1 and end == _month_end(end):
        pm, sm = wh.table(PORT_MONTH), wh.table(SITE_MONTH)
        return _facts.Facts(
            port_day=pm.filter((pm.month >= start) & (pm.month <= end)),
            site_day=sm.filter((sm.month >= start) & (sm.month <= end)),
            start=start,
            end=end,
        )
    pd_ = wh.table(PORT_DAY)
    sd = wh.table(SITE_DAY)
    return _facts.Facts(
        port_day=pd_.filter((pd_.local_date >= start) & (pd_.local_date <= end)),
        site_day=sd.filter((sd.local_date >= start) & (sd.local_date <= end)),
        start=start,
        end=end,
    )


def _compact(t: ibis.Table) -> ibis.Table:
    """Integer measures as BIGINT (DuckDB sums integers into HUGEINT): half the bytes to scan."""
    return t.mutate(**{c: t[c].cast("int64") for c, typ in t.schema().items() if typ.is_integer()})


def _monthly(t: ibis.Table, keys: list[str]) -> ibis.Table:
    """*t* summed by *keys* and ``month``; ``ports`` (the port id) and ``rated_kw`` are kept as they are."""
    by = [*keys, "month"]
    same = {c: t[c].arbitrary() for c in ("ports", "rated_kw") if c in t.columns}
    sums = {c: t[c].sum() for c in t.columns if c not in (*by, "local_date", *same)}
    return _compact(t.group_by(by).aggregate(**same, **sums))


def _month_end(d: dt.date) -> dt.date:
    nxt = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def refresh(wh: Warehouse) -> dict:
    """Build the facts for every local day the sessions cover and keep them (one transaction).

    The range is the whole local months around the sessions: from the month of
    the first start to the month of the last end, each a day wider first (so
    every time zone's local days are inside it), so that any month of the data
    is read from them.

    Returns
    -------
    dict
        ``port_days`` and ``site_days`` kept, ``first_day``, ``last_day``, ``seconds``.
    """
    t0 = time.perf_counter()
    con = wh.con
    lo, hi = con.sql("SELECT min(started_at), max(ended_at) FROM sessions").fetchall()[0]
    if lo is None:
        first = last = None
    else:
        first = (lo.date() - dt.timedelta(days=1)).replace(day=1)
        last = _month_end(hi.date() + dt.timedelta(days=1))
    stamp_version = ENGINE_VERSION
    con.execute("BEGIN TRANSACTION")
    try:
        if first is None:
            for name in (PORT_DAY, SITE_DAY, PORT_MONTH, SITE_MONTH):
                con.execute(f"DROP TABLE IF EXISTS {name}")
            counts = (0, 0)
        else:
            f = _facts.build(wh, first, last)
            # ordered by day, so a month's slice reads only its own row groups
            for name, t, order in ((PORT_DAY, f.port_day, "port_id"), (SITE_DAY, f.site_day, "site_id")):
                con.execute(
                    f"CREATE OR REPLACE TABLE {name} AS {ibis.to_sql(_compact(t))} ORDER BY local_date, {order}"
                )
            dims = ["site_id", "segment", "customer_id", "currency"]
            for name, src, keys in ((PORT_MONTH, PORT_DAY, ["port_id", *dims]), (SITE_MONTH, SITE_DAY, dims)):
                sql = ibis.to_sql(_monthly(wh.table(src), keys))
                con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql} ORDER BY month, {keys[0]}")
            counts = (wh.count(PORT_DAY), wh.count(SITE_DAY))
        derived.record(wh, NAME, stamp_version, first, last, counts[0])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {
        "port_days": counts[0],
        "site_days": counts[1],
        "first_day": first,
        "last_day": last,
        "seconds": time.perf_counter() - t0,
    }
