"""Compute registry metrics at a grain and period: the query a report asks.

``compute(wh, by="site", period="month", start=..., end=...)`` returns one row
per grain id, period and currency, with one column per metric named exactly as
in the registry. Money metrics are integer minor units of the row's currency;
amounts in different currencies are never added (handbook §1): every roll-up
groups by ``currency`` (the site's currency).

Where the numbers come from, fastest first: the month-close views kept after
ingest (:mod:`evrevops.metrics.close`: whole months at the default uptime
horizon), the kept facts (:mod:`evrevops.metrics.kept`), or the facts built now
from the sessions (:mod:`evrevops.metrics.facts`; always with ``kept=False``,
and on Spark). All three are the same Ibis expressions
(:mod:`evrevops.metrics.measures`), and tests hold them equal.
"""

from __future__ import annotations

import datetime as dt

import ibis.expr.types as ir
import pyarrow as pa

from evrevops.metrics import close as _close
from evrevops.metrics import facts as _facts
from evrevops.metrics import kept as _kept
from evrevops.metrics import measures as _measures
from evrevops.metrics.registry import GRAIN_KEYS, METRICS, PERIOD_KEYS, Metric
from evrevops.uptime import timeline as _timeline
from evrevops.warehouse.protocol import WarehouseLike


def unknown(name: str) -> Metric:
    """Raise the error of an unknown metric *name* (naming the known ones)."""
    raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")


def chosen(by: str, period: str, metrics: list[str] | None) -> list[Metric]:
    """The registry metrics asked for (all by default), after checking the grain and period."""
    _measures.keys(by, period)
    picked = [METRICS[n] if n in METRICS else unknown(n) for n in (metrics or list(METRICS))]
    if metrics and len(picked) == 1 and by not in picked[0].grains:
        raise ValueError(
            f"metric {picked[0].name} is not defined at grain {by!r} (grains: {', '.join(picked[0].grains)})"
        )
    if metrics and len(picked) == 1 and period not in picked[0].periods:
        raise ValueError(
            f"metric {picked[0].name} is not defined by {period!r} (periods: {', '.join(picked[0].periods)})"
        )
    return picked


def expression(
    wh: WarehouseLike,
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
    kept after the last ingest (:func:`evrevops.metrics.close.keep_close`, for
    whole months at the default horizon) or are summed from the kept port-day
    facts (:mod:`evrevops.metrics.kept`); otherwise the facts are built from
    the sessions now.
    """
    picked = chosen(by, period, metrics)
    if start is None or end is None:
        raise ValueError("a date range is required")
    if kept and _close.close_answers(wh, period, start, end, as_of, offline_after_s):
        agg = _close.close_measures(wh, by, start, end)  # the measures kept for a month-close
    else:
        needed = {n for m in picked for n in m.measures}
        # the facts kept after the last ingest while they are current (DuckDB), else built now
        f = (_kept.facts(wh, start, end, monthly=period == "month") if kept else None) or _facts.build(
            wh, start, end, needed | {"ports"}
        )
        keys = _measures.keys(by, period)
        monthly = period == "month"
        agg = _measures.measures(wh, f, keys, needed, by != "port", monthly, as_of, offline_after_s, kept)
    out = _measures.metric_table(agg, by, period, picked)
    if period == "month":
        out = out.mutate(month=out.month.strftime("%Y-%m"))
    return out.order_by([*GRAIN_KEYS[by], PERIOD_KEYS[period], "currency"])


def compute(
    wh: WarehouseLike,
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

    What the month-close views answer (:func:`evrevops.metrics.close.close_answers`) is read
    from them: the same expression, compiled when the measures were kept, run now on the kept rows.
    """
    if kept and _close.close_answers(wh, period, start, end, as_of, offline_after_s):
        return _close.from_close(wh, by, start, end, chosen(by, period, metrics))
    return expression(wh, by, period, start, end, metrics, as_of, offline_after_s, kept).to_pyarrow()
