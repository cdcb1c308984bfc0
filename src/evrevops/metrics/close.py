"""The month-close: every measure kept by port and by site and month, and the metric views over them.

Kept after ingest (:func:`keep_close`, from :func:`evrevops.refresh.refresh_kept`) on DuckDB, so
that a query of whole months at the default uptime horizon reads the kept measures
(:func:`close_answers`, :func:`from_close`) instead of building the facts. Nothing kept here is a
result: the views run on the kept rows at each call.
"""

from __future__ import annotations

import datetime as dt
import time

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.sql.datatypes import DuckDBType

from evrevops.core.calendar import month_end
from evrevops.core.sqltext import sql_identifier
from evrevops.core.vocabulary import GRAINS
from evrevops.metrics import kept as _kept
from evrevops.metrics import measures as _measures
from evrevops.metrics import sources as _sources
from evrevops.metrics.facts import exact_sum
from evrevops.metrics.registry import GRAIN_KEYS, MEASURES, METRICS, Metric
from evrevops.tariffs import site_bills as _bills
from evrevops.uptime import timeline as _timeline
from evrevops.warehouse import derived, duckdb_only
from evrevops.warehouse.protocol import WarehouseLike

CLOSE = "kept_close"  # its row in derived_facts: the month-close measures and views (:func:`keep_close`)
# what the month-close views depend on: this module's, the measures' and their sources' SQL, the kept facts' and
# the kept bills' engines
CLOSE_VERSION = "+".join(
    (
        derived.engine_version((__file__, _measures.__file__, _sources.__file__)),
        _kept.ENGINE_VERSION,
        _bills.ENGINE_VERSION,
    )
)
PORT_MEASURES = "kept_port_month_measures"  # every measure by port (with its site, segment, customer) and local month
SITE_MEASURES = "kept_site_month_measures"  # every measure by site (with its segment and customer) and local month
_SITE_KEYS = ["site_id", "segment", "customer_id", "month", "currency"]
_PORT_KEYS = ["port_id", *_SITE_KEYS]
_CLOSE_READS = {_kept.NAME: _kept.ENGINE_VERSION, _bills.CACHE: _bills.ENGINE_VERSION}  # kept records it is built from


def close_view(by: str) -> str:
    """The name of the month-close view of grain *by*."""
    return f"{CLOSE}_{by}"


def _kept_span(wh: WarehouseLike) -> tuple[dt.date, dt.date] | None:
    """The local days the kept facts cover, when they and the kept bills are current and the bills cover them."""
    ranges = derived.kept_ranges(wh, _CLOSE_READS)
    span, bills = ranges.get(_kept.NAME), ranges.get(_bills.CACHE)
    if span is None or bills is None or not (bills[0] <= span[0] and span[1].replace(day=1) <= bills[1]):
        return None
    return span


def keep_close(wh: WarehouseLike, since: dt.date | None = None) -> dict:
    """Keep what a month-close reads: every measure by port and by site and month, and the metric views.

    Run after the facts (:func:`evrevops.metrics.kept.refresh`) and the bills
    (:func:`evrevops.tariffs.site_bills.refresh`) are kept. For every local
    month they cover it keeps

    * :data:`PORT_MEASURES` and :data:`SITE_MEASURES`: the measures of
      :func:`evrevops.metrics.measures.measures` (port-day facts, with the site-day,
      bill and uptime measures joined on) summed by port (with its site), resp. by
      site with its segment and customer, and month. Every measure but ``ports`` is
      a sum of its sites' (:func:`close_measures` counts ports above the site);
    * the views ``kept_close_<grain>``: the metric expression of each grain
      over them, compiled once (building and compiling the expression of 52
      metrics costs more than running it on the kept rows), every metric and
      the month as a date. A month filter on a view reaches the measure
      table's scan.

    While the facts and bills are not both current the tables and views are
    dropped (a query then builds the expression). With *since* (a local day,
    :func:`evrevops.metrics.changes.since`) only its month and the months after
    are kept anew, while the views stand. One transaction, recorded in
    ``derived_facts`` as :data:`CLOSE`.

    Returns
    -------
    dict
        ``site_months`` kept, ``first_month``, ``last_month``, ``rebuilt_from``, ``seconds``.
    """
    t0 = time.perf_counter()
    span = _kept_span(wh)
    before = derived.recorded_range(wh, CLOSE)
    m0 = since.replace(day=1) if since is not None else None
    whole = span is None or m0 is None or before is None or before[0] != span[0] or m0 <= span[0]
    start = (span[0] if span else None) if whole else m0
    with wh.transaction():
        if span is None:
            _drop(wh)
        elif whole or start <= span[1]:
            _keep_measures(wh, start, span[1], whole)
            if whole:
                _keep_views(wh)
        else:
            start = None  # nothing a month-close reads changed
        rows = wh.count(SITE_MEASURES) if span else 0
        derived.record(wh, CLOSE, CLOSE_VERSION, *(span or (None, None)), rows)
    return {
        "site_months": rows,
        "first_month": span[0] if span else None,
        "last_month": span[1].replace(day=1) if span else None,
        "rebuilt_from": start,
        "seconds": time.perf_counter() - t0,
    }


def _drop(wh: WarehouseLike) -> None:
    """Drop the month-close views and measure tables (what they read is not current)."""
    for by in GRAINS:
        wh.execute(f"DROP VIEW IF EXISTS {close_view(by)}")
    for name in (PORT_MEASURES, SITE_MEASURES):
        wh.execute(f"DROP TABLE IF EXISTS {name}")


def _keep_measures(wh: WarehouseLike, start: dt.date, last_day: dt.date, whole: bool) -> None:
    """Keep the port and site measures of months *start* … *last_day*: the whole tables, or from *start* on."""
    f = _kept.facts(wh, start, last_day, monthly=True)
    default = _timeline.DEFAULT_OFFLINE_AFTER_S
    for name, keys, site_level in ((PORT_MEASURES, _PORT_KEYS, False), (SITE_MEASURES, _SITE_KEYS, True)):
        sql = ibis.to_sql(_measures.measures(wh, f, keys, set(MEASURES), site_level, True, None, default, True))
        if whole:
            wh.execute(f"CREATE OR REPLACE TABLE {name} AS {sql} ORDER BY month, {keys[0]}")
            duckdb_only.narrow_hugeint(wh, name)
        else:
            derived.replace_from(wh, name, sql, "month", start, f"month, {keys[0]}")


def _keep_views(wh: WarehouseLike) -> None:
    """The metric view of every grain over the kept measures: every metric, the month as a date."""
    everything = list(METRICS.values())
    for by in GRAINS:
        raw = _measures.metric_table(close_measures(wh, by), by, "month", everything)
        # each column as its expression type (DuckDB sums integers into HUGEINT where Ibis says int64)
        cols = ", ".join(
            f"CAST({sql_identifier(n)} AS {DuckDBType.to_string(t)}) AS {sql_identifier(n)}"
            for n, t in raw.schema().items()
        )
        wh.execute(f"CREATE OR REPLACE VIEW {close_view(by)} AS SELECT {cols} FROM ({ibis.to_sql(raw)})")


def close_measures(wh: WarehouseLike, by: str, start: dt.date | None = None, end: dt.date | None = None) -> ir.Table:
    """The kept measures summed at grain *by* and month (months ``start`` … ``end`` when given).

    Every measure is a sum of its sites' but ``ports``, a distinct count: a port that moved in
    the month is one port of the network (and of a segment or customer both its sites are in),
    and one port at each of its sites, so above the site it is counted from the port rows.
    """
    months = lambda t: t.filter((t.month >= start) & (t.month <= end)) if start is not None else t  # noqa: E731
    pm = months(wh.table(PORT_MEASURES))
    keys = _measures.keys(by, "month")
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


def close_answers(
    wh: WarehouseLike,
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


def from_close(wh: WarehouseLike, by: str, start: dt.date, end: dt.date, chosen: list[Metric]) -> pa.Table:
    """The *chosen* metrics of months ``start`` … ``end`` from the month-close view of grain *by*."""
    grain = [sql_identifier(k) for k in GRAIN_KEYS[by]]
    cols = ", ".join(
        [*grain, "strftime(month, '%Y-%m') AS month", "currency", *(sql_identifier(m.name) for m in chosen)]
    )
    order = ", ".join([*grain, "month", "currency"])
    sql = f"SELECT {cols} FROM {close_view(by)} WHERE month >= ? AND month <= ? ORDER BY {order}"
    return wh.fetch(sql, [start, end])
