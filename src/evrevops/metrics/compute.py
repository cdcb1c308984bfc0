"""Compute registry metrics at a grain and period.

``compute(wh, by="site", period="month", start=..., end=...)`` returns one row
per grain id, period and currency, with one column per metric named exactly as
in the registry. Money metrics are integer minor units of the row's currency;
amounts in different currencies are never added (handbook §1): every roll-up
groups by ``currency`` (the site's currency).

Where the numbers come from, fastest first: the month-close views kept after
ingest (:func:`keep_close`: whole months at the default uptime horizon), the
kept facts (:mod:`evrevops.metrics.kept`), or the facts built now from the
sessions (:mod:`evrevops.metrics.facts`; always with ``kept=False``, and on
Spark). All three are the same Ibis expressions, and tests hold them equal.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.sql.datatypes import DuckDBType

from evrevops.core.calendar import month_end
from evrevops.core.sqltext import sql_identifier
from evrevops.core.vocabulary import GRAINS, PERIODS
from evrevops.metrics import changes as _changes
from evrevops.metrics import facts as _facts
from evrevops.metrics import kept as _kept
from evrevops.metrics.facts import exact_sum
from evrevops.metrics.registry import GRAIN_KEYS, MEASURES, METRICS, PERIOD_KEYS, Metric
from evrevops.tariffs import site_bills as _bills
from evrevops.uptime import fact as _uptime
from evrevops.uptime import timeline as _timeline
from evrevops.warehouse import derived
from evrevops.warehouse.db import Warehouse

BILL_VIEW = "site_month_bills_live"
_NULL_KEY = ""  # stand-in for a null dimension while joining, restored to null in the output
_DIMENSIONS = ("segment", "customer_id", "currency")
CLOSE = "kept_close"  # its row in derived_facts: the month-close measures and views (:func:`keep_close`)
# what the month-close views depend on: this module's SQL, the kept facts' and the kept bills' engines
CLOSE_VERSION = "+".join((derived.engine_version((__file__,)), _kept.ENGINE_VERSION, _bills.ENGINE_VERSION))


def _keys(by: str, period: str) -> list[str]:
    if by not in GRAINS:
        raise ValueError(f"unknown grain {by!r}; use one of {', '.join(GRAINS)}")
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    return [*GRAIN_KEYS[by], PERIOD_KEYS[period], "currency"]


def _prep(t: ir.Table) -> ir.Table:
    return t.mutate(**{c: ibis.coalesce(t[c], _NULL_KEY) for c in _DIMENSIONS if c in t.columns})


def _port_aggs(t: ir.Table, names: set[str]) -> dict[str, ir.Value]:
    out: dict[str, ir.Value] = {}
    for n in names:
        if MEASURES[n].level != "port":
            continue
        out[n] = t.port_id.nunique(where=t.open_s > 0) if n == "ports" else exact_sum(t[n])
    return out


def metric_expr(m: Metric, agg: ir.Table) -> ir.Value:
    """The Ibis expression of metric *m* over a table of summed measures."""
    num = agg[m.numerator]
    if m.kind == "simple":
        return num / m.divisor * m.scale if (m.divisor, m.scale) != (1, 1) else num
    if m.kind != "ratio":
        raise ValueError(f"metric {m.name}: unknown kind {m.kind!r}")
    den = agg[m.denominator]
    if m.money:
        q = num.cast("decimal(38, 6)") / den.cast("decimal(38, 6)")
        return ibis.ifelse(den > 0, q.round(0).cast("int64"), None)
    q = num.cast("float64") / den / m.divisor
    return ibis.ifelse(den > 0, q * m.scale if m.scale != 1 else q, None)


def _chosen(by: str, period: str, metrics: list[str] | None) -> list[Metric]:
    """The registry metrics asked for (all by default), after checking the grain and period."""
    _keys(by, period)
    chosen = [METRICS[n] if n in METRICS else _unknown(n) for n in (metrics or list(METRICS))]
    if metrics and len(chosen) == 1 and by not in chosen[0].grains:
        raise ValueError(
            f"metric {chosen[0].name} is not defined at grain {by!r} (grains: {', '.join(chosen[0].grains)})"
        )
    if metrics and len(chosen) == 1 and period not in chosen[0].periods:
        raise ValueError(
            f"metric {chosen[0].name} is not defined by {period!r} (periods: {', '.join(chosen[0].periods)})"
        )
    return chosen


def expression(
    wh: Warehouse,
    by: str = "site",
    period: str = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
    metrics: list[str] | None = None,
    as_of: dt.datetime | None = None,
    offline_after_s: int = _timeline.DEFAULT_OFFLINE_AFTER_S,
    kept: bool = True,
) -> ir.Table:
    """The Ibis expression computing *metrics* at grain *by* and *period*.

    ``as_of`` and ``offline_after_s`` set the data horizon and silence window
    of the uptime metrics (:func:`evrevops.uptime.timeline.build`). While *kept*
    is true and they are current, the measures are the month-close measures
    kept after the last ingest (:func:`keep_close`, for whole months at the
    default horizon) or are summed from the kept port-day facts
    (:mod:`evrevops.metrics.kept`); otherwise the facts are built from the
    sessions now.
    """
    chosen = _chosen(by, period, metrics)
    if start is None or end is None:
        raise ValueError("a date range is required")
    if kept and _close_answers(wh, period, start, end, as_of, offline_after_s):
        agg = _close_measures(wh, by, start, end)  # the measures kept for a month-close (keep_close)
    else:
        needed = {m.numerator for m in chosen} | {m.denominator for m in chosen if m.denominator}
        # the facts kept after the last ingest while they are current (DuckDB), else built now
        f = (_kept.facts(wh, start, end, monthly=period == "month") if kept else None) or _facts.build(
            wh, start, end, needed | {"ports"}
        )
        agg = _measures(wh, f, _keys(by, period), needed, by != "port", period == "month", as_of, offline_after_s, kept)  # fmt: skip
    out = _metrics(agg, by, period, chosen)
    if period == "month":
        out = out.mutate(month=out.month.strftime("%Y-%m"))
    return out.order_by([*GRAIN_KEYS[by], PERIOD_KEYS[period], "currency"])


def _measures(
    wh: Warehouse,
    f: _facts.Facts,
    keys: list[str],
    needed: set[str],
    site_level: bool,
    monthly: bool,
    as_of: dt.datetime | None,
    offline_after_s: int,
    kept: bool,
) -> ir.Table:
    """The *needed* measures summed by *keys* (a null dimension as ``''``).

    The port-day facts are the driving table: the site-day measures (when
    *site_level*), the bill measures (when *site_level* and *monthly*) and the
    uptime measures (when *monthly*) are left-joined onto their keys; those
    not joined are null.
    """
    pd_ = _prep(f.port_day)
    agg = pd_.group_by(keys).aggregate(**_port_aggs(pd_, needed | {"ports"}))
    site_needed = {n for n in needed if MEASURES[n].level == "site"}
    if site_needed and site_level:
        sd = _prep(f.site_day)
        sagg = sd.group_by(keys).aggregate(**{n: exact_sum(sd[n]) for n in site_needed})
        agg = agg.left_join(sagg, [agg[k] == sagg[k] for k in keys]).select(agg, *[sagg[n] for n in site_needed])
    else:
        agg = agg.mutate(**{n: ibis.null("float64") for n in site_needed})
    bill_needed = {n for n in needed if MEASURES[n].level == "site-month"}
    if bill_needed and site_level and monthly:
        bf = _prep(bill_fact(wh, f, kept=kept))
        bagg = bf.group_by(keys).aggregate(**{n: exact_sum(bf[n]) for n in bill_needed})
        agg = agg.left_join(bagg, [agg[k] == bagg[k] for k in keys]).select(agg, *[bagg[n] for n in bill_needed])
    else:
        agg = agg.mutate(**{n: ibis.null("float64") for n in bill_needed})
    up_needed = {n for n in needed if MEASURES[n].level == "port-month"}
    if up_needed and monthly:
        trailing = bool(up_needed & _uptime.T12_MEASURES)
        uf = _prep(uptime_fact(wh, f, as_of, offline_after_s, trailing=trailing, kept=kept))
        uagg = uf.group_by(keys).aggregate(**{n: exact_sum(uf[n]) for n in up_needed})
        agg = agg.left_join(uagg, [agg[k] == uagg[k] for k in keys]).select(
            agg, *[ibis.coalesce(uagg[n], 0).name(n) for n in up_needed]
        )
    else:
        agg = agg.mutate(**{n: ibis.null("float64") for n in up_needed})
    return agg


def _metrics(agg: ir.Table, by: str, period: str, chosen: list[Metric]) -> ir.Table:
    """The *chosen* metrics from summed measures, with null dimensions restored (``month`` still a date)."""
    keys = _keys(by, period)
    cols = {}
    for m in chosen:
        defined = by in m.grains and period in m.periods
        cols[m.name] = metric_expr(m, agg) if defined else ibis.null("float64")
    restore = {c: ibis.ifelse(agg[c] == _NULL_KEY, ibis.null("string"), agg[c]) for c in keys if c in _DIMENSIONS}
    return agg.select(*[restore.get(k, agg[k]).name(k) for k in keys], **cols)


def bill_fact(wh: Warehouse, f: _facts.Facts, kept: bool = True) -> ir.Table:
    """The site-month bill fact: each billed site-month's bill lines beside its energy revenue.

    One row per site and local month with a utility bill
    (:func:`evrevops.tariffs.site_bills.bills_sql`, or the bills
    :func:`~evrevops.tariffs.site_bills.refresh` kept after the last ingest
    while they are current), the site's segment and
    customer, and the measures of level ``site-month``. Revenue and kWh come
    from the port-day facts of the same site and month, in the bill's
    currency only (amounts in different currencies are never netted).
    """
    first, last = f.start.replace(day=1), f.end.replace(day=1)
    span = _bills.cached_range(wh) if kept else None
    if span is not None and span[0] <= first and last <= span[1]:
        # the bills kept after the last ingest, current for this warehouse (site_bills.refresh)
        bills = wh.table(_bills.CACHE)
        bills = bills.filter((bills.bill_month >= first) & (bills.bill_month <= last))
    else:
        # A temporary view over the bill SQL (the tariff tables it joins are registered on the
        # warehouse), on either engine; `metrics explain` prints its definition beside the metric's SQL.
        bills = wh.sql(_bills.bills_sql(wh, first, last), name=BILL_VIEW)
    bills = _bills.by_site_month(bills)  # the parts of a month split by a tariff change add up
    pd_ = f.port_day
    rev = pd_.group_by(["site_id", "month", "currency"]).aggregate(
        revenue=pd_.revenue_minor.sum(), kwh=exact_sum(pd_.energy_kwh)
    )
    rev = rev.mutate(month=rev.month.cast("date"))
    sites = wh.table("sites").select("site_id", "segment", "customer_id")
    j = bills.left_join(
        rev, [bills.site_id == rev.site_id, bills.bill_month == rev.month, bills.currency == rev.currency]
    ).left_join(sites, bills.site_id == sites.site_id)
    revenue = ibis.coalesce(j.revenue, 0)
    demand = j.flat_demand_charge_minor + j.tou_demand_charge_minor
    return j.select(
        site_id=j.site_id,
        segment=j.segment,
        customer_id=j.customer_id,
        currency=j.currency,
        month=j.bill_month,
        bill_total_minor=j.total_minor,
        bill_energy_charge_minor=j.energy_charge_minor,
        bill_demand_charge_minor=demand,
        bill_flat_demand_charge_minor=j.flat_demand_charge_minor,
        bill_tou_demand_charge_minor=j.tou_demand_charge_minor,
        bill_fixed_charge_minor=j.fixed_charge_minor + j.minimum_charge_adjustment_minor,
        billed_revenue_minor=revenue,
        billed_energy_kwh=ibis.coalesce(j.kwh, 0.0),
        bill_peak_kw=j.peak_kw,
        site_months_billed=ibis.literal(1),
        site_months_demand_over_revenue=ibis.ifelse(demand > revenue, 1, 0),
        billed_margin_minor=revenue - j.total_minor,
    )


def uptime_fact(
    wh: Warehouse,
    f: _facts.Facts,
    as_of: dt.datetime | None = None,
    offline_after_s: int = _timeline.DEFAULT_OFFLINE_AFTER_S,
    trailing: bool = True,
    kept: bool = True,
) -> ir.Table:
    """The port-month uptime fact (:mod:`evrevops.uptime.fact`) with the port's dimensions.

    ``trailing=False`` builds only three months before the range, not eleven
    (the trailing-twelve-month measures are then wrong, and must not be read).
    At the default data horizon and silence window, the fact kept after the
    last ingest (:func:`evrevops.metrics.kept.uptime`) is read while current
    and *kept* is true.

    One row per port and local month of the range; ``currency`` is the site's
    (as in the port-day facts), so uptime rows meet the other measures of the
    same port. Revenue at risk is in that currency.
    """
    first, last = f.start.replace(day=1), f.end.replace(day=1)
    if kept and as_of is None and offline_after_s == _timeline.DEFAULT_OFFLINE_AFTER_S:
        u = _kept.uptime(wh, first, last)
        if u is not None:
            return u
    # to the data horizon's month, so an outage begun in the range has its whole duration
    _uptime.build(
        wh, first, _timeline.horizon_month(wh, last, as_of), as_of=as_of, offline_after_s=offline_after_s,
        trailing=trailing,
    )  # fmt: skip
    u = wh.table(_uptime.FACT)
    return _kept.uptime_with_dimensions(wh, u.filter(u.month <= last))


def _unknown(name: str) -> Metric:
    raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")


def compute(
    wh: Warehouse,
    by: str = "site",
    period: str = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
    metrics: list[str] | None = None,
    as_of: dt.datetime | None = None,
    offline_after_s: int = _timeline.DEFAULT_OFFLINE_AFTER_S,
    kept: bool = True,
) -> pa.Table:
    """Compute metrics; see :func:`expression`. Returns a pyarrow Table.

    What the month-close views answer (:func:`keep_close`) is read from them:
    the same expression, compiled when the measures were kept, run now on the
    kept rows.
    """
    if kept and _close_answers(wh, period, start, end, as_of, offline_after_s):
        return _from_close(wh, by, start, end, _chosen(by, period, metrics))
    return expression(wh, by, period, start, end, metrics, as_of, offline_after_s, kept).to_pyarrow()


PORT_MEASURES = "kept_port_month_measures"  # every measure by port (with its site, segment, customer) and local month
SITE_MEASURES = "kept_site_month_measures"  # every measure by site (with its segment and customer) and local month
_SITE_KEYS = ["site_id", "segment", "customer_id", "month", "currency"]
_PORT_KEYS = ["port_id", *_SITE_KEYS]
_CLOSE_READS = {_kept.NAME: _kept.ENGINE_VERSION, _bills.CACHE: _bills.ENGINE_VERSION}  # kept records it is built from


def close_view(by: str) -> str:
    """The name of the month-close view of grain *by*."""
    return f"{CLOSE}_{by}"


def keep_close(wh: Warehouse, since: dt.date | None = None) -> dict:
    """Keep what a month-close reads: every measure by port and by site and month, and the metric views.

    Run after the facts (:func:`evrevops.metrics.kept.refresh`) and the bills
    (:func:`evrevops.tariffs.site_bills.refresh`) are kept. For every local
    month they cover it keeps

    * :data:`PORT_MEASURES` and :data:`SITE_MEASURES`: the measures of
      :func:`_measures` (port-day facts, with the site-day, bill and uptime
      measures joined on) summed by port (with its site), resp. by site with its
      segment and customer, and month. Every measure but ``ports`` is a sum of
      its sites' (:func:`_close_measures` counts ports above the site);
    * the views ``kept_close_<grain>``: the metric expression of each grain
      over them, compiled once (building and compiling the expression of 52
      metrics costs more than running it on the kept rows), every metric and
      the month as a date. A month filter on a view reaches the measure
      table's scan.

    Nothing in them is a result: the views run on the kept rows at each call.
    While the facts and bills are not both current the tables and views are
    dropped (:func:`compute` then builds the expression). With *since* (a local
    day, :func:`evrevops.metrics.changes.since`) only its month and the months
    after are kept anew, while the views stand. One transaction, recorded in
    ``derived_facts`` as :data:`CLOSE`.

    Returns
    -------
    dict
        ``site_months`` kept, ``first_month``, ``last_month``, ``rebuilt_from``, ``seconds``.
    """
    t0 = time.perf_counter()
    con = wh.con
    ranges = derived.kept_ranges(wh, _CLOSE_READS)
    span = ranges.get(_kept.NAME)
    bills = ranges.get(_bills.CACHE)
    if span is None or bills is None or not (bills[0] <= span[0] and span[1].replace(day=1) <= bills[1]):
        span = None
    before = derived.recorded_range(wh, CLOSE)
    m0 = since.replace(day=1) if since is not None else None
    whole = span is None or m0 is None or before is None or before[0] != span[0] or m0 <= span[0]
    start = (span[0] if span else None) if whole else m0
    con.execute("BEGIN TRANSACTION")
    try:
        if span is None:
            for by in GRAINS:
                con.execute(f"DROP VIEW IF EXISTS {close_view(by)}")
            for name in (PORT_MEASURES, SITE_MEASURES):
                con.execute(f"DROP TABLE IF EXISTS {name}")
        elif whole or start <= span[1]:
            f = _kept.facts(wh, start, span[1], monthly=True)
            default = _timeline.DEFAULT_OFFLINE_AFTER_S
            for name, keys, site_level in ((PORT_MEASURES, _PORT_KEYS, False), (SITE_MEASURES, _SITE_KEYS, True)):
                sql = ibis.to_sql(_measures(wh, f, keys, set(MEASURES), site_level, True, None, default, True))
                if whole:
                    con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql} ORDER BY month, {keys[0]}")
                    _kept.as_bigint(wh, name)
                else:
                    derived.replace_from(wh, name, sql, "month", start, f"month, {keys[0]}")
            if whole:
                everything = list(METRICS.values())
                for by in GRAINS:
                    raw = _metrics(_close_measures(wh, by), by, "month", everything)
                    # each column as its expression type (DuckDB sums integers into HUGEINT where Ibis says int64)
                    cols = ", ".join(f"CAST({sql_identifier(n)} AS {DuckDBType.to_string(t)}) AS {sql_identifier(n)}" for n, t in raw.schema().items())  # fmt: skip
                    con.execute(f"CREATE OR REPLACE VIEW {close_view(by)} AS SELECT {cols} FROM ({ibis.to_sql(raw)})")
        else:
            start = None  # nothing a month-close reads changed
        rows = wh.count(SITE_MEASURES) if span else 0
        derived.record(wh, CLOSE, CLOSE_VERSION, *(span or (None, None)), rows)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {
        "site_months": rows,
        "first_month": span[0] if span else None,
        "last_month": span[1].replace(day=1) if span else None,
        "rebuilt_from": start,
        "seconds": time.perf_counter() - t0,
    }


def refresh_kept(
    wh: Warehouse, step: Callable[[str], AbstractContextManager[object]] = lambda _: nullcontext()
) -> dict:
    """Bring everything metrics keep between ingests up to date, in the order each needs the one before.

    The port-day facts and uptime (:func:`evrevops.metrics.kept.refresh`), the
    site-month bills (:func:`evrevops.tariffs.site_bills.refresh`), then the
    month-close measures and views (:func:`keep_close`). What ``evrevops
    ingest`` runs after a write, and ``evrevops refresh`` on demand. Each is
    rebuilt only from the first month the ingests since it was kept can change
    (:func:`evrevops.metrics.changes.since`), or whole when it was never kept or
    its engine changed. A tariff the bill engine cannot use leaves the bills (and
    so the month-close views) unkept; metrics then bill on the fly and say why.
    *step* gives each step a context (the CLI's status line) named by what it does.

    Returns
    -------
    dict
        ``facts``, ``bills`` (None when not kept, ``bills_error`` then says
        why) and ``close``: each step's result, with ``rebuilt_from``.
    """
    default = _timeline.DEFAULT_OFFLINE_AFTER_S

    def since(name: str, version: str) -> dt.date | None:
        files = derived.entries_since(wh, name, version)
        if files is None:
            return None  # whole
        d = _changes.since(wh, files, default)
        return _changes.NOTHING if d is None else d

    # what changed is read before anything is rebuilt (each rebuild records the ledger as seen now)
    todo = {n: since(n, v) for n, v in ((_kept.NAME, _kept.ENGINE_VERSION), (_bills.CACHE, _bills.ENGINE_VERSION), (CLOSE, CLOSE_VERSION))}  # fmt: skip
    with step("building the port-day facts of the months that changed (kept for metrics)"):
        facts = _kept.refresh(wh, todo[_kept.NAME])
    bills, bills_error = None, None
    try:
        with step("billing the site-months that changed (kept for metrics)"):
            bills = _bills.refresh(wh, todo[_bills.CACHE])
    except ValueError as exc:  # a tariff value the bill engine cannot use
        bills_error = str(exc)
        derived.forget(wh, _bills.CACHE)
    with step("keeping the month-close measures and metric views"):
        close = keep_close(wh, todo[CLOSE])
    _changes.snapshot(wh)
    return {"facts": facts, "bills": bills, "bills_error": bills_error, "close": close}


def _close_measures(wh: Warehouse, by: str, start: dt.date | None = None, end: dt.date | None = None) -> ir.Table:
    """The kept measures summed at grain *by* and month (months ``start`` … ``end`` when given).

    Every measure is a sum of its sites' but ``ports``, a distinct count: a port that moved in
    the month is one port of the network (and of a segment or customer both its sites are in),
    and one port at each of its sites, so above the site it is counted from the port rows.
    """
    months = lambda t: t.filter((t.month >= start) & (t.month <= end)) if start is not None else t  # noqa: E731
    pm = months(wh.table(PORT_MEASURES))
    keys = _keys(by, "month")
    if by == "port":  # a site's segment may change within the month: one row per port, site and month
        return pm.group_by(keys).aggregate(
            **{c: (pm[c].max() if c == "ports" else exact_sum(pm[c])) for c in pm.columns if c not in _PORT_KEYS}
        )
    t = months(wh.table(SITE_MEASURES))
    if by == "site":
        return t
    sums = t.group_by(keys).aggregate(**{c: exact_sum(t[c]) for c in t.columns if c not in (*_SITE_KEYS, "ports")})
    ports = pm.filter(pm.ports > 0).group_by(keys).aggregate(ports=pm.port_id.nunique())
    j = sums.left_join(ports, [sums[k] == ports[k] for k in keys])
    return j.select(*[sums[c] for c in sums.columns], ports=ibis.coalesce(ports.ports, 0))


def _close_answers(
    wh: Warehouse,
    period: str,
    start: dt.date | None,
    end: dt.date | None,
    as_of: dt.datetime | None,
    offline_after_s: int,
) -> bool:
    """Whether the kept month-close measures answer: whole months by month on DuckDB, at the default
    data horizon and silence window, while they, the kept facts and the kept bills are current and
    cover the months."""
    if getattr(wh, "engine", "duckdb") != "duckdb" or period != "month" or start is None or end is None:
        return False
    if as_of is not None or offline_after_s != _timeline.DEFAULT_OFFLINE_AFTER_S:
        return False
    if start.day != 1 or end != month_end(end) or end < start:
        return False
    versions = {CLOSE: CLOSE_VERSION, **_CLOSE_READS}
    ranges = derived.kept_ranges(wh, versions)
    return len(ranges) == len(versions) and ranges[CLOSE][0] <= start and end <= ranges[CLOSE][1]


def _from_close(wh: Warehouse, by: str, start: dt.date, end: dt.date, chosen: list[Metric]) -> pa.Table:
    """The *chosen* metrics of months ``start`` … ``end`` from the month-close view of grain *by*."""
    grain = [sql_identifier(k) for k in GRAIN_KEYS[by]]
    cols = ", ".join(
        [*grain, "strftime(month, '%Y-%m') AS month", "currency", *(sql_identifier(m.name) for m in chosen)]
    )
    order = ", ".join([*grain, "month", "currency"])
    sql = f"SELECT {cols} FROM {close_view(by)} WHERE month >= $1 AND month <= $2 ORDER BY {order}"
    return wh.con.sql(sql, params=[start, end]).to_arrow_table()


def explain(
    wh: Warehouse,
    name: str,
    by: str = "network",
    period: str = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
    dialect: str | None = None,
) -> str:
    """The SQL that computes metric *name* at a grain (default: the network by month)."""
    m = METRICS.get(name) or _unknown(name)
    if start is None or end is None:
        start, end = dt.date(2000, 1, 1), dt.date(2000, 1, 31)
    expr = expression(wh, by, period, start, end, [m.name], kept=False)  # the formula, from the sessions
    if dialect:
        getattr(ibis, dialect, None)  # loading a backend sets its compiler options (pyspark's NaN handling)
    sql = ibis.to_sql(expr, dialect=dialect) if dialect else ibis.to_sql(expr)
    levels = {MEASURES[m.numerator].level} | ({MEASURES[m.denominator].level} if m.denominator else set())
    if "port-month" in levels and period == "month":
        # the uptime fact is a view over the timeline's tables; show the statements that build them
        r = _timeline.Range(start.replace(day=1), end.replace(day=1), dt.datetime(1970, 1, 1), dt.datetime(1970, 1, 1), _timeline.DEFAULT_OFFLINE_AFTER_S)  # fmt: skip
        steps = "\n\n".join(s.strip() + ";" for s in _uptime.statements(r))
        sql = f"-- {_uptime.FACT}: the port-month uptime fact (evrevops.uptime.timeline, .revenue_at_risk, .fact)\n{steps}\n\n-- the metric\n{sql}"
    if "site-month" in levels and period == "month" and by in m.grains:
        # the bill fact is a view over the bill SQL; show what it computes too
        view = _bills.bills_sql(wh, start.replace(day=1), end.replace(day=1), materialize=False)
        sql = f"-- {BILL_VIEW}: the site-month bills (evrevops.tariffs.site_bills.bills_sql)\n{view}\n\n-- the metric\n{sql}"
    return sql


def data_range(wh: Warehouse) -> tuple[dt.date, dt.date] | None:
    """First and last UTC date with sessions, or None for an empty warehouse."""
    s = wh.table("sessions")
    row = tuple(s.aggregate(lo=s.started_at.min(), hi=s.started_at.max()).to_pyarrow().to_pylist()[0].values())
    row = tuple(v.date() if v is not None else None for v in row)
    return None if row[0] is None else (row[0], row[1])


def last_full_month(wh: Warehouse) -> str | None:
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


def rebuild_from(wh: Warehouse, files: list[int]) -> dt.date | None:
    """The first local day the ledger entries *files* can change what is kept (:func:`evrevops.metrics.changes.since`,
    at the default offline threshold): what ``ledger forget`` and ``ingest --force`` pass to
    :func:`evrevops.warehouse.forget.forget_file`, so a refresh after a forget rebuilds only those months."""
    return _changes.since(wh, files, _timeline.DEFAULT_OFFLINE_AFTER_S)
