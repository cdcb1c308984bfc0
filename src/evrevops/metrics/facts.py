"""Port-day and site-day fact tables, as Ibis expressions.

Everything here is an Ibis expression over the warehouse tables and the
site-local calendar (:mod:`evrevops.core.calendar`), so the same code can
run on any Ibis backend. The calendar is registered as a table named
``_evrevops_calendar``.

Rules (handbook §2–3):

* time-based quantities (plugged-in, charging) are split at local day
  boundaries by interval overlap: ``overlap = max(0, min(end, day_end) −
  max(start, day_start))``;
* a session's count, energy and revenue belong to the local day of its start,
  at the site its CDR names (``sessions.site_id``: the financial record), wherever
  the port is now;
* charging happens first in a session, then idle time
  (``charging_ended_at``), unless the source said when charging ended;
* a port is open on a local day at the site it belonged to that day
  (:mod:`evrevops.warehouse.port_sites`) when ``commissioned_on ≤ day`` and
  (``decommissioned_on`` is null or ``day < decommissioned_on``); its open
  time is that site's operating-hours time of that day. A port without a
  commissioning date is in service from its first evidence: the local day of
  its first session or first status, never from the start of the data (a
  port with neither is not counted). A port that moved has
  rows at every site it was at: open hours where it was, sessions where its
  CDRs say;
* ``observed_port_days`` counts the port-days inside the span of the session data (the
  days from the network's first session to its last) with open time or a session started: a
  session metric of a scope without any is no data, not 0
  (:attr:`~evrevops.metrics.registry.Metric.known_if`); a scope holding a session is never no data;
* a row's ``segment`` is the site's segment in force that day
  (:mod:`evrevops.warehouse.site_history`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from evrevops.core.calendar import site_days
from evrevops.core.states import ABNORMAL_STOP_REASONS
from evrevops.warehouse import port_sites, site_history
from evrevops.warehouse.protocol import WarehouseLike

VISIT_GAP_S = 15 * 60  # handbook §4: attempts by one driver within 15 min at a site are one visit

CALENDAR = "_evrevops_calendar"


@dataclass
class Facts:
    """The fact tables for one local date range."""

    port_day: ir.Table
    site_day: ir.Table
    start: dt.date
    end: dt.date


def register_calendar(wh: WarehouseLike, start: dt.date, end: dt.date) -> ir.Table:
    """Build the site-local calendar for [start, end] and register it as a table."""
    sites = wh.table("sites").select("site_id", "time_zone", "operating_hours").to_pandas()
    return wh.register(CALENDAR, site_days(sites, start, end))


def exact_sum(v: ir.Value) -> ir.Value:
    """Σ *v*, the same whatever order the rows are added in.

    An engine adds floats in the order its threads meet the rows, so a plain float sum can end
    in another last digit from one run to the next, and the same report would not give the same
    bytes twice. A float column is therefore summed as ``DECIMAL(38, 9)`` (exact; each value
    rounded to 10⁻⁹ of its unit first: a µWh, a ns) and read back as a float; an integer
    column is summed as it is.
    """
    if v.type().is_floating():
        return v.cast("decimal(38, 9)").sum().cast("float64")
    return v.sum()


def _overlap_s(a_start: ir.Value, a_end: ir.Value, b_start: ir.Value, b_end: ir.Value) -> ir.Value:
    return ibis.greatest(ibis.least(a_end, b_end).epoch_seconds() - ibis.greatest(a_start, b_start).epoch_seconds(), 0)


DAY_S = 86_400
_DAY_KEYS = 100_000  # day_num < 10⁵ (until the year 2243): day_key = site_num × 10⁵ + day_num


def _utc_day(ts: ir.Value) -> ir.Value:
    """Whole UTC days since 1970-01-01 of an instant: an equi-join key that narrows range joins."""
    return ts.epoch_seconds() // DAY_S


def _calendar_by_utc_day(cal: ir.Table) -> ir.Table:
    """Each calendar row once for every UTC day its ``[day_start_at, day_end_at]`` touches (1–3 days).

    Joining on ``(site_id, utc_day)`` before testing the time range lets an
    instant meet only the two or three local days around it instead of every
    day of its site: the range joins below stay linear in the number of sessions.
    """
    return cal.mutate(utc_day=ibis.range(_utc_day(cal.day_start_at), _utc_day(cal.day_end_at) + 1).unnest())


def _in_day(t: ir.Table, ts: str, days: ir.Table) -> list[ir.Value]:
    """Join predicates: the instant ``t[ts]`` (with ``t.utc_day`` its UTC day) falls in a row of *days*.

    *days* is :func:`_calendar_by_utc_day` (or a table with its columns); the
    instant meets exactly one local day of its site.
    """
    return [
        t.site_id == days.site_id,
        t.utc_day == days.utc_day,
        days.day_start_at <= t[ts],
        days.day_end_at > t[ts],
    ]


def site_currency(wh: WarehouseLike) -> ir.Table:
    """Each site's currency: the most common currency of its priced sessions."""
    s = wh.table("sessions")
    counts = s.filter(s.currency.notnull()).group_by(["site_id", "currency"]).aggregate(n=ibis._.count())
    w = ibis.window(group_by="site_id", order_by=[ibis.desc("n"), "currency"])
    return counts.mutate(rk=ibis.row_number().over(w)).filter(ibis._.rk == 0).select("site_id", "currency")


TX_MEASURES = frozenset({"transactions_ended", "transactions_ended_normally"})
VISIT_MEASURES = frozenset({"visits", "visits_successful"})


def build(wh: WarehouseLike, start: dt.date, end: dt.date, needed: set[str] | frozenset[str] | None = None) -> Facts:
    """Fact tables for local dates ``start``…``end`` (inclusive).

    ``needed`` names the measures the caller will read (default: all); the
    parts that only feed other measures (OCPP transactions, visits) are left
    out of the expression when none of theirs is needed (their columns are 0).

    Returns
    -------
    Facts
        ``port_day``: one row per port and local date with the port's
        dimensions (``site_id``, ``segment``, ``customer_id``, ``currency``,
        ``month``) and the measures of :data:`~evrevops.metrics.registry.MEASURES`
        at port level. ``site_day``: one row per site and local date with
        ``congested_s`` and ``site_open_s``.
    """
    cal = register_calendar(wh, start, end)
    bounds = cal.aggregate(lo=cal.day_start_at.min(), hi=cal.day_end_at.max()).to_pyarrow().to_pylist()[0]
    lo, hi = (bounds["lo"], bounds["hi"]) if bounds["lo"] is not None else (dt.datetime(1970, 1, 1),) * 2

    ports = wh.table("ports")
    sessions = wh.table("sessions")
    s = sessions.filter((sessions.ended_at >= lo) & (sessions.started_at < hi))
    s = s.mutate(charging_end=ibis.coalesce(s.charging_ended_at, s.ended_at))

    member = wh.table(port_sites.VIEW)
    m = member.select(m_port=member.port_id, m_site=member.site_id, m_from=member.from_on, m_to=member.to_on)
    pd_ = _open_time(ports, s, cal, member, m, _first_evidence(wh))
    cu = _calendar_by_utc_day(cal)
    split = _time_split(s, cu)
    cur = site_currency(wh)
    started = _started(s, cu, cur)
    txs = _transactions(wh, ports, cu, m, lo, hi)
    want = lambda group: needed is None or bool(group & set(needed))  # noqa: E731
    port_day = _port_day(wh, pd_, split, txs if want(TX_MEASURES) else None, started, cur, _session_span(wh))
    site_day = _site_day(wh, s, cal, cu, pd_, cur, visits=want(VISIT_MEASURES))
    return Facts(port_day=port_day, site_day=site_day, start=start, end=end)


def _first_evidence(wh: WarehouseLike) -> ir.Table:
    """``(port_id, first_at)``: the instant [UTC] of each port's first session or first status event."""
    s, e = wh.table("sessions"), wh.table("status_events")
    seen = (
        s.filter(s.port_id.notnull())
        .select(port_id=s.port_id, t=s.started_at)
        .union(e.filter(e.port_id.notnull()).select(port_id=e.port_id, t=e.observed_at), distinct=False)
    )
    return seen.group_by("port_id").aggregate(first_at=seen.t.min())


def _session_span(wh: WarehouseLike) -> tuple[dt.date, dt.date] | None:
    """The local days the session data spans, or None without sessions: from the UTC day before the first session's
    start to the UTC day after the last one's end (a local day is at most a day from its UTC day)."""
    s = wh.table("sessions")
    row = s.aggregate(lo=s.started_at.min(), hi=ibis.coalesce(s.ended_at, s.started_at).max()).to_pyarrow()
    lo, hi = row.to_pylist()[0].values()
    day = dt.timedelta(days=1)
    return None if lo is None else (lo.date() - day, hi.date() + day)


def _open_time(ports: ir.Table, s: ir.Table, cal: ir.Table, member: ir.Table, m: ir.Table, first: ir.Table) -> ir.Table:
    """``(port_id, site_id, local_date, month, rated_kw, open_s)``: ports × sites × days, with open time.

    A port has a row on every local day at every site it was ever at (its membership *member*,
    or a CDR naming the site); it is open there on the days it belonged to the site (*m*: the
    membership with prefixed columns) and was in service: from its commissioning date, else
    from its first evidence (*first*: :func:`_first_evidence`).
    """
    pairs = (
        member.select("port_id", "site_id")
        .union(s.filter(s.port_id.notnull()).select("port_id", "site_id"), distinct=True)
        .filter(ibis._.site_id.notnull())
    )
    pp = pairs.join(ports.select("port_id", "rated_kw", "commissioned_on", "decommissioned_on"), "port_id")
    pp = pp.left_join(first, pp.port_id == first.port_id).select(pp, first.first_at)
    # in service from the commissioning date, else from the local day of the first evidence
    since = ibis.ifelse(
        pp.commissioned_on.notnull(), cal.local_date >= pp.commissioned_on, cal.day_end_at > pp.first_at
    )
    pc = pp.join(cal, pp.site_id == cal.site_id).select(
        pp.port_id, cal.site_id, cal.local_date, cal.month, pp.rated_kw, cal.open_s,
        in_service=ibis.coalesce(since, False)
        & (pp.decommissioned_on.isnull() | (cal.local_date < pp.decommissioned_on)),
    )  # fmt: skip
    return pc.left_join(
        m,
        [
            pc.port_id == m.m_port,
            pc.site_id == m.m_site,
            m.m_from.isnull() | (pc.local_date >= m.m_from),
            m.m_to.isnull() | (pc.local_date < m.m_to),
        ],
    ).select(
        pc.port_id, pc.site_id, pc.local_date, pc.month, pc.rated_kw,
        open_s=ibis.ifelse(pc.in_service & m.m_port.notnull(), pc.open_s, 0),
    )  # fmt: skip


def _time_split(s: ir.Table, cu: ir.Table) -> ir.Table:
    """``(port_id, site_id, local_date, plugged_in_s, charging_s)``: session time split across local days.

    A session meets each local day it overlaps exactly once: on the UTC day where the overlap begins.
    """
    su = s.mutate(utc_day=ibis.range(_utc_day(s.started_at), _utc_day(s.ended_at) + 1).unnest())
    j = su.join(
        cu,
        [
            su.site_id == cu.site_id,
            su.utc_day == cu.utc_day,
            cu.day_start_at < su.ended_at,
            cu.day_end_at > su.started_at,
            _utc_day(ibis.greatest(su.started_at, cu.day_start_at)) == su.utc_day,
        ],
    )
    return j.group_by([j.port_id, j.site_id, j.local_date]).aggregate(
        plugged_in_s=exact_sum(_overlap_s(j.started_at, j.ended_at, j.day_start_at, j.day_end_at)),
        charging_s=exact_sum(_overlap_s(j.started_at, j.charging_end, j.day_start_at, j.day_end_at)),
    )


def _started(s: ir.Table, cu: ir.Table, cur: ir.Table) -> ir.Table:
    """Count, energy and money of the sessions by port, site and the local day of their start.

    Money counts only in the site's currency (*cur*); the unattributed part is the total less its
    components.
    """
    ks = s.mutate(utc_day=_utc_day(s.started_at))
    k = ks.join(cu, _in_day(ks, "started_at", cu))
    k = k.left_join(cur, k.site_id == cur.site_id).select(k, site_currency=cur.currency)
    same = k.currency == k.site_currency
    money = lambda col: ibis.ifelse(same, k[col], None).sum()  # noqa: E731
    comp = (
        ibis.coalesce(k.energy_cost_minor, 0)
        + ibis.coalesce(k.time_cost_minor, 0)
        + ibis.coalesce(k.parking_cost_minor, 0)
        + ibis.coalesce(k.fixed_cost_minor, 0)
    )
    return k.group_by([k.port_id, k.site_id, k.local_date]).aggregate(
        sessions=k.count(),
        energy_kwh=exact_sum(k.energy_kwh),
        sessions_zero_energy=(k.energy_kwh <= 0).sum(),
        sessions_with_energy=(k.energy_kwh > 0).sum(),
        revenue_minor=money("total_cost_minor"),
        revenue_energy_minor=money("energy_cost_minor"),
        revenue_time_minor=money("time_cost_minor"),
        revenue_idle_minor=money("parking_cost_minor"),
        revenue_session_fee_minor=money("fixed_cost_minor"),
        revenue_unattributed_minor=ibis.ifelse(
            same & k.total_cost_minor.notnull(), k.total_cost_minor - comp, None
        ).sum(),
        vat_minor=ibis.ifelse(same, k.total_cost_incl_vat_minor - k.total_cost_minor, None).sum(),
    )


def _transactions(
    wh: WarehouseLike, ports: ir.Table, cu: ir.Table, m: ir.Table, lo: dt.datetime, hi: dt.datetime
) -> ir.Table:
    """OCPP transactions by port, site and the local day of their start: how many ended, and normally.

    The local day of a transaction's start is on its port's (latest) site's calendar, its site the
    one the port belonged to that day (*m*, the membership; OCPP names a charger, not a location).
    """
    tx = wh.table("ocpp_transactions")
    tx = tx.filter(tx.port_id.notnull() & tx.started_at.notnull() & (tx.started_at >= lo) & (tx.started_at < hi))
    tx = tx.join(ports.select("port_id", home="site_id"), "port_id")
    tx = tx.mutate(site_id=tx.home, utc_day=_utc_day(tx.started_at))
    tj = tx.join(cu, _in_day(tx, "started_at", cu))
    tj = tj.select(tj.port_id, tj.local_date, tj.ended_at, tj.stop_reason, home=tj.home)
    tj = tj.left_join(
        m,
        [
            tj.port_id == m.m_port,
            m.m_from.isnull() | (tj.local_date >= m.m_from),
            m.m_to.isnull() | (tj.local_date < m.m_to),
        ],
    ).select(tj, site_id=ibis.coalesce(m.m_site, tj.home))
    ended = tj.ended_at.notnull() & tj.stop_reason.notnull()
    return tj.group_by([tj.port_id, tj.site_id, tj.local_date]).aggregate(
        transactions_ended=ended.sum(),
        transactions_ended_normally=(ended & ~tj.stop_reason.isin(list(ABNORMAL_STOP_REASONS))).sum(),
    )


# port_day's measures that are a part's column, 0 where the part has no row
_ZERO_FILLED = (
    "sessions_zero_energy", "sessions_with_energy", "transactions_ended", "transactions_ended_normally",
    "revenue_minor", "revenue_energy_minor", "revenue_time_minor", "revenue_idle_minor",
    "revenue_session_fee_minor", "revenue_unattributed_minor", "vat_minor",
)  # fmt: skip


def _port_day(
    wh: WarehouseLike,
    pd_: ir.Table,
    split: ir.Table,
    txs: ir.Table | None,
    started: ir.Table,
    cur: ir.Table,
    span: tuple[dt.date, dt.date] | None,
) -> ir.Table:
    """``port_day``: open time, time split, transactions (0 without *txs*) and starts, with dimensions;
    ``observed_port_days`` the port-days inside the session data's *span* (none without sessions) with open
    time or a session started (a session where its port was not open, as a port that moved that day, is data)."""
    on = lambda a, b: [a.port_id == b.port_id, a.site_id == b.site_id, a.local_date == b.local_date]  # noqa: E731
    t = pd_.left_join(split, on(pd_, split)).select(pd_, split.plugged_in_s, split.charging_s)
    if txs is not None:
        t = t.left_join(txs, on(t, txs)).select(t, txs.transactions_ended, txs.transactions_ended_normally)
    else:
        t = t.mutate(transactions_ended=ibis.literal(0), transactions_ended_normally=ibis.literal(0))
    t = t.left_join(started, on(t, started)).select(
        t, *[started[c] for c in started.columns if c not in ("port_id", "site_id", "local_date")]
    )
    t = with_dimensions(wh, t)
    t = t.left_join(cur, t.site_id == cur.site_id).select(t, cur.currency)
    z = lambda c: ibis.coalesce(t[c], 0)  # noqa: E731
    return t.select(
        "port_id", "site_id", "segment", "customer_id", "currency", "local_date", "month", "rated_kw", "open_s",
        sessions=z("sessions"),
        energy_kwh=ibis.coalesce(t.energy_kwh, 0.0),
        energy_kwh_rated=ibis.ifelse(t.rated_kw.notnull(), ibis.coalesce(t.energy_kwh, 0.0), 0.0),
        capacity_kwh=ibis.ifelse(t.rated_kw.notnull(), t.rated_kw * t.open_s / 3600.0, 0.0),
        plugged_in_s=z("plugged_in_s"),
        charging_s=z("charging_s"),
        idle_s=z("plugged_in_s") - z("charging_s"),
        ports=t.port_id,
        port_days=ibis.ifelse(t.open_s > 0, 1, 0),
        observed_port_days=ibis.ifelse(
            ((t.open_s > 0) | (z("sessions") > 0)) & t.local_date.between(*span), 1, 0
        ) if span else ibis.literal(0),
        **{c: z(c) for c in _ZERO_FILLED},
    )  # fmt: skip


def _site_day(
    wh: WarehouseLike, s: ir.Table, cal: ir.Table, cu: ir.Table, pd_: ir.Table, cur: ir.Table, visits: bool
) -> ir.Table:
    """``site_day``: each site's open time (any port open), congestion and visits (0 unless *visits*)."""
    open_ports = pd_.group_by([pd_.site_id, pd_.local_date]).aggregate(n_open=(pd_.open_s > 0).sum())
    cong = _congestion(s, cal, open_ports)
    sd = cal.join(open_ports, [cal.site_id == open_ports.site_id, cal.local_date == open_ports.local_date]).select(
        cal.site_id, cal.local_date, cal.month, site_open_s=ibis.ifelse(open_ports.n_open > 0, cal.open_s, 0)
    )
    sd = sd.left_join(cong, [sd.site_id == cong.site_id, sd.local_date == cong.local_date]).select(
        sd, congested_s=ibis.coalesce(cong.congested_s, 0)
    )
    if visits:
        vis = _visits(s, cu)
        sd = sd.left_join(vis, [sd.site_id == vis.site_id, sd.local_date == vis.local_date]).select(
            sd, visits=ibis.coalesce(vis.visits, 0), visits_successful=ibis.coalesce(vis.visits_successful, 0)
        )
    else:
        sd = sd.mutate(visits=ibis.literal(0), visits_successful=ibis.literal(0))
    sd = with_dimensions(wh, sd)
    return sd.left_join(cur, sd.site_id == cur.site_id).select(sd, cur.currency)


def with_dimensions(wh: WarehouseLike, t: ir.Table, day: str = "local_date") -> ir.Table:
    """*t* (with ``site_id`` and a date column *day*) with the site's ``segment`` in force that day and its ``customer_id``.

    The segment is the dated site fact (:mod:`evrevops.warehouse.site_history`): a site that
    changes segment counts in its old segment before the change and in its new one after.
    """
    h = wh.table(site_history.VIEW)
    h = h.select(h_site=h.site_id, h_from=h.valid_from, h_to=h.valid_to, segment=h.segment)
    sites = wh.table("sites").select(c_site="site_id", customer_id="customer_id")
    j = t.left_join(
        h,
        [
            t.site_id == h.h_site,
            h.h_from.isnull() | (t[day] >= h.h_from),
            h.h_to.isnull() | (t[day] < h.h_to),
        ],
    ).select(t, h.segment)
    return j.left_join(sites, j.site_id == sites.c_site).select(j, sites.customer_id)


def _visits(s: ir.Table, cu: ir.Table) -> ir.Table:
    """``(site_id, local_date, visits, visits_successful)`` (handbook §4 visit success).

    A visit is one driver's (``token_uid``) attempts at one site, each starting
    within :data:`VISIT_GAP_S` of the previous attempt's end; it succeeds when
    one of its attempts delivered energy, and belongs to the local day of its
    first attempt. A session without a token is a visit of its own.
    """
    driver = ibis.coalesce(s.token_uid, "session:" + s.session_id)
    v = s.select(s.site_id, s.session_id, s.started_at, s.ended_at, s.energy_kwh, driver=driver)
    w = ibis.window(group_by=[v.site_id, v.driver], order_by=[v.started_at, v.ended_at, v.session_id])
    prev_end = v.ended_at.lag().over(w)
    next_start = v.started_at.lead().over(w)
    new = prev_end.isnull() | (v.started_at.epoch_seconds() - prev_end.epoch_seconds() > VISIT_GAP_S)
    last = next_start.isnull() | (next_start.epoch_seconds() - v.ended_at.epoch_seconds() > VISIT_GAP_S)
    v = v.mutate(new=ibis.ifelse(new, 1, 0), alone=new & last)
    # Most visits are one attempt (new and last at once): they need no visit number. Only the
    # attempts of longer visits are numbered, by a running count of visit starts in the same order.
    single = v.filter(v.alone).select(v.site_id, v.started_at, ok=v.energy_kwh > 0)
    m = v.filter(~v.alone)
    cw = ibis.window(group_by=[m.site_id, m.driver], order_by=[m.started_at, m.ended_at, m.session_id], preceding=None, following=0)  # fmt: skip
    m = m.mutate(visit=m.new.sum().over(cw))
    multi = m.group_by([m.site_id, m.driver, m.visit]).aggregate(
        started_at=m.started_at.min(), ok=(m.energy_kwh > 0).any()
    )
    g = single.union(multi.select("site_id", "started_at", "ok"), distinct=False)
    g = g.mutate(utc_day=_utc_day(g.started_at))
    j = g.join(cu, _in_day(g, "started_at", cu))
    return j.group_by([j.site_id, j.local_date]).aggregate(
        visits=j.count(), visits_successful=ibis.ifelse(j.ok, 1, 0).sum()
    )


def _congestion(s: ir.Table, cal: ir.Table, open_ports: ir.Table) -> ir.Table:
    """``(site_id, local_date, congested_s)``: time all open ports of the site were plugged in at once.

    A sweep line over each site's events, in one window ordered by (site, instant) across all
    sites (sorting once beats one window per site):

    * a session adds +1 at its start and −1 at its end, so ``busy`` — the running sum up to and
      including the instant (a RANGE frame: simultaneous events count together) — is the number
      of cars plugged in, and is back to 0 at each site's first event;
    * each local day adds a marker at its start carrying ``day_key = site_num × 10⁵ + day_num``
      (one more marker ends the last day), so the running maximum of ``day_key`` names the
      local day an instant falls in — no join of 3 M intervals with the calendar;
    * the interval from an event to the next one of its site lasts ``next − ts``; an event whose
      running ``day_key`` belongs to another site (before the site's first day) is left out.

    Congested time is then summed per (day, busy) and kept where ``busy ≥`` the day's open ports.
    Keys stay below 2⁵³, so they are exact on any engine (Ibis divides as floats).
    """
    ts = "timestamp(6)"
    days = cal.join(open_ports, [cal.site_id == open_ports.site_id, cal.local_date == open_ports.local_date]).select(
        cal.site_id, cal.local_date, cal.site_num, cal.day_start_at, cal.day_end_at, open_ports.n_open,
        day_key=cal.site_num * _DAY_KEYS + cal.day_num,
    )  # fmt: skip
    nums = cal.select(cal.site_id, cal.site_num).distinct()
    sn = s.join(nums, s.site_id == nums.site_id).select(s.started_at, s.ended_at, nums.site_num)
    last = days.group_by("site_num").aggregate(ts=days.day_end_at.max(), day_key=days.day_key.max() + 1)
    none = ibis.null("int64")
    ev = (
        sn.select(sn.site_num, ts=sn.started_at.cast(ts), delta=ibis.literal(1), day_key=none)
        .union(sn.select(sn.site_num, ts=sn.ended_at.cast(ts), delta=ibis.literal(-1), day_key=none), distinct=False)
        .union(days.select(days.site_num, ts=days.day_start_at.cast(ts), delta=ibis.literal(0), day_key=days.day_key), distinct=False)
        .union(last.select(last.site_num, ts=last.ts.cast(ts), delta=ibis.literal(0), day_key=last.day_key), distinct=False)
    )  # fmt: skip
    order = ["site_num", "ts"]
    upto = ibis.window(order_by=order, range=(None, 0))
    w = ibis.window(order_by=order)
    ev = ev.mutate(
        busy=ev.delta.sum().over(upto),
        day=ev.day_key.max().over(upto),
        next_ts=ibis.ifelse(ev.site_num.lead().over(w) == ev.site_num, ev.ts.lead().over(w), ibis.null(ts)),
    )
    own_day = (ev.day >= ev.site_num * _DAY_KEYS) & (ev.day < (ev.site_num + 1) * _DAY_KEYS)
    iv = ev.filter(ev.next_ts.notnull() & (ev.busy > 0) & own_day)
    per_level = iv.group_by([iv.day, iv.busy]).aggregate(
        s=exact_sum(iv.next_ts.epoch_seconds() - iv.ts.epoch_seconds())
    )
    j = per_level.join(days, per_level.day == days.day_key)
    j = j.filter((j.n_open > 0) & (j.busy >= j.n_open))
    return j.group_by([j.site_id, j.local_date]).aggregate(congested_s=exact_sum(j.s))
