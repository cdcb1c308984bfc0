"""``evrevops metrics explain``: the SQL that computes a metric, and the sources it reads."""

from __future__ import annotations

import datetime as dt

import ibis

from evrevops.metrics import compute as _compute
from evrevops.metrics import sources as _sources
from evrevops.metrics.registry import MEASURES, METRICS
from evrevops.tariffs import site_bills as _bills
from evrevops.uptime import fact as _uptime
from evrevops.uptime import timeline as _timeline
from evrevops.uptime.timeline_tables import Range
from evrevops.warehouse.protocol import WarehouseLike


def explain(
    wh: WarehouseLike,
    name: str,
    by: str = "network",
    period: str = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
    dialect: str | None = None,
) -> str:
    """The SQL that computes metric *name* at a grain (default: the network by month).

    The metric's own SQL is built from the sessions (never from what was kept), in DuckDB's
    dialect or *dialect*; an uptime metric is preceded by the statements that build the
    port-month uptime fact, a bill metric by the bill SQL its source view runs.
    """
    m = METRICS.get(name) or _compute.unknown(name)
    if start is None or end is None:
        start, end = dt.date(2000, 1, 1), dt.date(2000, 1, 31)
    expr = _compute.expression(wh, by, period, start, end, [m.name], kept=False)  # the formula, from the sessions
    if dialect:
        try:  # loading a backend sets its compiler options (pyspark's NaN handling)
            getattr(ibis, dialect, None)
        except ImportError:
            raise ValueError(f"the {dialect} dialect needs {dialect}: pip install 'evrevops[spark]'") from None
    sql = ibis.to_sql(expr, dialect=dialect) if dialect else ibis.to_sql(expr)
    levels = {MEASURES[n].level for n in m.measures}
    if "port-month" in levels and period == "month":
        # the uptime fact is a view over the timeline's tables; show the statements that build them
        epoch = dt.datetime(1970, 1, 1)
        r = Range(start.replace(day=1), end.replace(day=1), epoch, epoch, _timeline.DEFAULT_OFFLINE_AFTER_S)
        steps = "\n\n".join(s.strip() + ";" for s in _uptime.statements(r))
        heading = f"-- {_uptime.FACT}: the port-month uptime fact (evrevops.uptime.timeline, .revenue_at_risk, .fact)"
        sql = f"{heading}\n{steps}\n\n-- the metric\n{sql}"
    if "site-month" in levels and period == "month" and by in m.grains:
        # the bill fact is a view over the bill SQL; show what it computes too
        view = _bills.bills_sql(wh, start.replace(day=1), end.replace(day=1), materialize=False)
        heading = f"-- {_sources.BILL_VIEW}: the site-month bills (evrevops.tariffs.site_bills.bills_sql)"
        sql = f"{heading}\n{view}\n\n-- the metric\n{sql}"
    return sql
