"""Port-day and site-day facts kept between ingests, so a month-close aggregates instead of recomputing.

The fact tables of :mod:`evrevops.metrics.facts` are the expensive part of every metric: local
days, time split across them, start attribution, visits (a window over each driver's
attempts) and congestion (a sweep over each site's plug-in events). They change only when
the warehouse does. :func:`refresh` builds them once for every local day the sessions cover,
after an ingest, into the tables :data:`PORT_DAY` and :data:`SITE_DAY`, and sums them by local
month into :data:`PORT_MONTH` and :data:`SITE_MONTH`. :func:`facts` returns them, sliced to a
range (the monthly sums when asked for whole months), while they are current, and None
otherwise (the caller then builds them live). The port-month uptime fact
(:mod:`evrevops.uptime.fact`, with the port's dimensions) is kept beside them in
:data:`UPTIME` for the default data horizon (the latest telemetry) and silence window:
:func:`uptime` returns it. "Current" is the rule of :mod:`evrevops.warehouse.derived`: the same engine
version (the source of the fact builder, the registry, the uptime SQL and this module) and the
same ingest ledger.

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

from evrevops.core import calendar as _calendar
from evrevops.core import states as _states
from evrevops.core.calendar import month_end
from evrevops.metrics import facts as _facts
from evrevops.metrics import registry as _registry
from evrevops.metrics.registry import MEASURES
from evrevops.uptime import fact as _uptime
from evrevops.uptime import revenue_at_risk as _rar
from evrevops.uptime import timeline as _timeline
from evrevops.uptime import timeline_intervals, timeline_ledger, timeline_months, timeline_tables
from evrevops.warehouse import derived, duckdb_only, port_sites
from evrevops.warehouse.protocol import WarehouseLike

PORT_DAY = "kept_port_day"
SITE_DAY = "kept_site_day"
PORT_MONTH = "kept_port_month"  # PORT_DAY summed by port and local month: what a month-close reads
SITE_MONTH = "kept_site_month"
UPTIME = "kept_port_month_uptime"  # the port-month uptime fact with its dimensions, default horizon and window
NAME = "kept_facts"  # its row in derived_facts: first_month/last_month hold the first and last local day
ENGINE_VERSION = derived.engine_version(
    (
        _facts.__file__,
        _calendar.__file__,
        _registry.__file__,
        _uptime.__file__,
        _timeline.__file__,
        timeline_tables.__file__,
        timeline_intervals.__file__,
        timeline_ledger.__file__,
        timeline_months.__file__,
        _rar.__file__,
        _states.__file__,
        port_sites.__file__,
        _facts.site_history.__file__,
        __file__,
    )
)


def covered(wh: WarehouseLike) -> tuple[dt.date, dt.date] | None:
    """The local days the kept facts cover, when they are current for this warehouse; else None."""
    if getattr(wh, "engine", "duckdb") != "duckdb":
        return None
    return derived.kept_range(wh, NAME, ENGINE_VERSION)


def facts(wh: WarehouseLike, start: dt.date, end: dt.date, monthly: bool = False) -> _facts.Facts | None:
    """The kept facts for local days ``start`` … ``end``, or None when they are stale or do not cover it.

    With *monthly* and a range of whole months, the tables are the monthly
    sums (one row per port, resp. site, and local month, with the same
    measure columns and no ``local_date``): what a by-month query reads.
    """
    span = covered(wh)
    if span is None or start < span[0] or end > span[1]:
        return None
    if monthly and start.day == 1 and end == month_end(end):
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


def uptime(wh: WarehouseLike, first_month: dt.date, last_month: dt.date) -> ibis.Table | None:
    """The kept port-month uptime fact for local months ``first_month`` … ``last_month``, or None.

    None when the kept facts are stale or do not cover the months. It holds the
    figures of the default data horizon and silence window only (the caller
    builds the timeline when asked for others).
    """
    span = covered(wh)
    if span is None or first_month < span[0] or last_month > span[1]:
        return None
    u = wh.table(UPTIME)
    return u.filter((u.month >= first_month) & (u.month <= last_month))


def uptime_with_dimensions(wh: WarehouseLike, u: ibis.Table) -> ibis.Table:
    """The port-month uptime fact *u* with each port-month's site, ``segment``, ``customer_id`` and currency.

    A port-month counts at the site the port belonged to on the month's last day
    (:mod:`evrevops.warehouse.port_sites`; the timeline's site, the port's latest, when it
    belonged nowhere then), with that site's segment in force that day, as every monthly
    figure takes its site's facts. ``currency`` is the site's (as in the port-day facts), so
    uptime rows meet the other measures of the same port; revenue at risk is in that currency.
    """
    last = (u.month + ibis.interval(months=1) - ibis.interval(days=1)).cast("date")
    u = u.mutate(_last=last)
    m = wh.table(port_sites.VIEW)
    m = m.select(m_port=m.port_id, m_site=m.site_id, m_from=m.from_on, m_to=m.to_on)
    j0 = u.left_join(
        m, [u.port_id == m.m_port, m.m_from.isnull() | (u._last >= m.m_from), m.m_to.isnull() | (u._last < m.m_to)]
    )
    # a view: Ibis cannot join a projection of a join whose key is an expression of it again
    u = j0.select(*[j0[c] for c in u.columns if c != "site_id"], site_id=ibis.coalesce(j0.m_site, j0.site_id)).view()
    j = _facts.with_dimensions(wh, u, day="_last")
    cur = _facts.site_currency(wh)
    j = j.left_join(cur, j.site_id == cur.site_id).select(j, cur.currency)
    measures = [n for n, m in MEASURES.items() if m.level == "port-month"]
    return j.select(
        port_id=j.port_id, site_id=j.site_id, segment=j.segment, customer_id=j.customer_id,
        currency=j.currency, month=j.month, **{n: j[n] for n in measures},
    )  # fmt: skip


def _monthly(t: ibis.Table, keys: list[str]) -> ibis.Table:
    """*t* summed by *keys* and ``month``; ``ports`` (the port id) and ``rated_kw`` are kept as they are."""
    by = [*keys, "month"]
    same = {c: t[c].arbitrary() for c in ("ports", "rated_kw") if c in t.columns}
    sums = {c: _facts.exact_sum(t[c]) for c in t.columns if c not in (*by, "local_date", *same)}
    return t.group_by(by).aggregate(**same, **sums)


def refresh(wh: WarehouseLike, since: dt.date | None = None) -> dict:
    """Build the facts for every local day the sessions cover and keep them (one transaction).

    The range is the whole local months around the sessions: from the month of
    the first start to the month of the last end, each a day wider first (so
    every time zone's local days are inside it), so that any month of the data
    is read from them.

    With *since* (a local day, :func:`evrevops.metrics.changes.since`), only its month and
    the months after are rebuilt, and the months before stay as kept: the facts from two days
    before it (a visit chain may begin the day before), the monthly sums and the uptime from
    its month. The result equals a whole rebuild (a test holds them equal). A *since* before
    the range kept, or a range that now starts elsewhere, rebuilds the whole range.

    Returns
    -------
    dict
        ``port_days`` and ``site_days`` kept, ``first_day``, ``last_day``, ``rebuilt_from``
        (the first day rebuilt; None when nothing was), ``seconds``.
    """
    t0 = time.perf_counter()
    months = derived.session_months(wh)
    first, last = (months[0], month_end(months[1])) if months is not None else (None, None)
    before = derived.recorded_range(wh, NAME)
    m0 = since.replace(day=1) if since is not None else None
    whole = m0 is None or first is None or before is None or before[0] != first or m0 <= first
    start = first if whole else m0
    dims = ["site_id", "segment", "customer_id", "currency"]
    monthly = ((PORT_MONTH, PORT_DAY, ["port_id", *dims]), (SITE_MONTH, SITE_DAY, dims))
    with wh.transaction():
        if first is None:
            for name in (PORT_DAY, SITE_DAY, PORT_MONTH, SITE_MONTH, UPTIME):
                wh.execute(f"DROP TABLE IF EXISTS {name}")
            counts, start = (0, 0), None
        elif whole:
            f = _facts.build(wh, first, last)
            # ordered by day, so a month's slice reads only its own row groups
            for name, t, order in ((PORT_DAY, f.port_day, "port_id"), (SITE_DAY, f.site_day, "site_id")):
                wh.execute(f"CREATE OR REPLACE TABLE {name} AS {ibis.to_sql(t)} ORDER BY local_date, {order}")
                duckdb_only.narrow_hugeint(wh, name)
            for name, src, keys in monthly:
                sql = ibis.to_sql(_monthly(wh.table(src), keys))
                wh.execute(f"CREATE OR REPLACE TABLE {name} AS {sql} ORDER BY month, {keys[0]}")
                duckdb_only.narrow_hugeint(wh, name)
            # the uptime of every month, with the trailing twelve months, at the default horizon
            _uptime.build(wh, first, _timeline.horizon_month(wh, last.replace(day=1)))
            sql = ibis.to_sql(uptime_with_dimensions(wh, wh.table(_uptime.FACT)))
            wh.execute(f"CREATE OR REPLACE TABLE {UPTIME} AS {sql} ORDER BY month, port_id")
            duckdb_only.narrow_hugeint(wh, UPTIME)
            counts = (wh.count(PORT_DAY), wh.count(SITE_DAY))
        elif start <= last:
            f = _facts.build(wh, start - dt.timedelta(days=2), last)
            for name, t, order in ((PORT_DAY, f.port_day, "port_id"), (SITE_DAY, f.site_day, "site_id")):
                derived.replace_from(wh, name, ibis.to_sql(t), "local_date", start, f"local_date, {order}")
            for name, src, keys in monthly:
                derived.replace_from(wh, name, ibis.to_sql(_monthly(wh.table(src), keys)), "month", start, f"month, {keys[0]}")  # fmt: skip
            _uptime.build(wh, start, _timeline.horizon_month(wh, last.replace(day=1)))
            sql = ibis.to_sql(uptime_with_dimensions(wh, wh.table(_uptime.FACT)))
            derived.replace_from(wh, UPTIME, sql, "month", start, "month, port_id")
            counts = (wh.count(PORT_DAY), wh.count(SITE_DAY))
        else:  # nothing the kept facts read changed
            counts, start = (wh.count(PORT_DAY), wh.count(SITE_DAY)), None
        derived.record(wh, NAME, ENGINE_VERSION, first, last, counts[0])
    return {
        "port_days": counts[0],
        "site_days": counts[1],
        "first_day": first,
        "last_day": last,
        "rebuilt_from": start,
        "seconds": time.perf_counter() - t0,
    }
