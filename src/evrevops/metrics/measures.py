"""Measures summed at a grain and period, and the metric formulas over them.

A metric query and the month-close (:mod:`evrevops.metrics.close`) share these: :func:`measures`
sums the registry's measures by a grain's keys (the port-day facts driving, the site-day, bill and
uptime measures joined on), and :func:`metric_table` turns summed measures into the registry's
metrics. Money is integer minor units of the row's currency, and every roll-up groups by
``currency`` (amounts in different currencies are never added).
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from evrevops.core.vocabulary import GRAINS, PERIODS
from evrevops.metrics import facts as _facts
from evrevops.metrics import sources
from evrevops.metrics.facts import exact_sum
from evrevops.metrics.registry import GRAIN_KEYS, MEASURES, PERIOD_KEYS, Metric
from evrevops.uptime import fact as _uptime
from evrevops.warehouse.protocol import WarehouseLike

NULL_KEY = ""  # stand-in for a null dimension while joining, restored to null in the output
DIMENSIONS = ("segment", "customer_id", "currency")


def keys(by: str, period: str) -> list[str]:
    """The columns a query at grain *by* and *period* groups by (after checking both)."""
    if by not in GRAINS:
        raise ValueError(f"unknown grain {by!r}; use one of {', '.join(GRAINS)}")
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    return [*GRAIN_KEYS[by], PERIOD_KEYS[period], "currency"]


def _with_null_keys(t: ir.Table) -> ir.Table:
    """*t* with each null dimension as :data:`NULL_KEY`, so that joins on the dimensions meet."""
    return t.mutate(**{c: ibis.coalesce(t[c], NULL_KEY) for c in DIMENSIONS if c in t.columns})


def _port_aggs(t: ir.Table, names: set[str]) -> dict[str, ir.Value]:
    """The port-level measures of *names* summed over *t* (``ports``: the ports open in it)."""
    out: dict[str, ir.Value] = {}
    for n in sorted(names):  # sorted: the SQL (metrics explain) is the same text in every process
        if MEASURES[n].level != "port":
            continue
        out[n] = t.port_id.nunique(where=t.open_s > 0) if n == "ports" else exact_sum(t[n])
    return out


def metric_expr(m: Metric, agg: ir.Table) -> ir.Value:
    """The Ibis expression of metric *m* over a table of summed measures: null where the measures say it is not known
    (:attr:`~evrevops.metrics.registry.Metric.known_if`, :attr:`~evrevops.metrics.registry.Metric.unknown_if`)."""
    value = _formula(m, agg)
    tests = [ibis.coalesce(agg[m.known_if], 0) > 0] if m.known_if else []
    tests += [ibis.coalesce(agg[m.unknown_if], 0) <= 0] if m.unknown_if else []
    if not tests:
        return value
    known = tests[0] if len(tests) == 1 else tests[0] & tests[1]
    return ibis.ifelse(known, value, ibis.null(value.type()))


def _formula(m: Metric, agg: ir.Table) -> ir.Value:
    """Metric *m*'s formula over a table of summed measures (null when a ratio's denominator is 0)."""
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


def _joined(agg: ir.Table, source: ir.Table | None, by: list[str], names: set[str], zero: bool = False) -> ir.Table:
    """*agg* with the measures *names* of *source* summed by *by* and left-joined on (null when no *source*).

    With *zero*, a row *source* has nothing for gets 0 rather than null. The measures are taken
    in sorted order, so the SQL is the same text in every process (a set's order is not).
    """
    ordered = sorted(names)
    if not ordered or source is None:
        return agg.mutate(**{n: ibis.null("float64") for n in ordered})
    t = _with_null_keys(source)
    summed = t.group_by(by).aggregate(**{n: exact_sum(t[n]) for n in ordered})
    cols = [ibis.coalesce(summed[n], 0).name(n) if zero else summed[n] for n in ordered]
    return agg.left_join(summed, [agg[k] == summed[k] for k in by]).select(agg, *cols)


def measures(
    wh: WarehouseLike,
    f: _facts.Facts,
    by: list[str],
    needed: set[str],
    site_level: bool,
    monthly: bool,
    as_of: dt.datetime | None,
    offline_after_s: int,
    kept: bool,
) -> ir.Table:
    """The *needed* measures summed by the keys *by* (a null dimension as :data:`NULL_KEY`).

    The port-day facts are the driving table: the site-day measures (when
    *site_level*), the bill measures (when *site_level* and *monthly*) and the
    uptime measures (when *monthly*) are left-joined onto their keys; those
    not joined are null (uptime measures of a port-month without any: 0).
    """
    port_day = _with_null_keys(f.port_day)
    agg = port_day.group_by(by).aggregate(**_port_aggs(port_day, needed | {"ports"}))
    at = {level: {n for n in needed if MEASURES[n].level == level} for level in ("site", "site-month", "port-month")}
    agg = _joined(agg, f.site_day if site_level else None, by, at["site"])
    bills = sources.bill_fact(wh, f, kept=kept) if at["site-month"] and site_level and monthly else None
    agg = _joined(agg, bills, by, at["site-month"])
    uptime = None
    if at["port-month"] and monthly:
        trailing = bool(at["port-month"] & _uptime.T12_MEASURES)
        uptime = sources.uptime_fact(wh, f, as_of, offline_after_s, trailing=trailing, kept=kept)
    return _joined(agg, uptime, by, at["port-month"], zero=True)


def metric_table(agg: ir.Table, by: str, period: str, chosen: list[Metric]) -> ir.Table:
    """The *chosen* metrics from summed measures, with null dimensions restored (``month`` still a date).

    A metric not defined at grain *by* or by *period* is null.
    """
    cols = keys(by, period)
    values = {}
    for m in chosen:
        defined = by in m.grains and period in m.periods
        values[m.name] = metric_expr(m, agg) if defined else ibis.null("float64")
    restore = {c: ibis.ifelse(agg[c] == NULL_KEY, ibis.null("string"), agg[c]) for c in cols if c in DIMENSIONS}
    return agg.select(*[restore.get(k, agg[k]).name(k) for k in cols], **values)
