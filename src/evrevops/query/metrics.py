"""Registry metrics for a range of days, the month's headline, and the uptime metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from evrevops.core.calendar import month_end
from evrevops.metrics import compute as mc
from evrevops.metrics.registry import MEASURES, METRICS, UPTIME
from evrevops.query.result import TableResult, table_result
from evrevops.uptime.timeline import DEFAULT_OFFLINE_AFTER_S
from evrevops.warehouse.protocol import WarehouseLike

HEADLINE: tuple[str, ...] = (
    "ports", "sessions", "energy_kwh", "utilization", "occupancy", "capacity_factor", "congestion",
    "kwh_per_port_day", "energy_revenue_minor", "revenue_per_port_minor", "revenue_per_port_day_minor",
    "energy_cost_minor", "demand_charge_minor", "energy_margin_minor", "energy_margin_per_kwh",
    "demand_charge_share", "demand_over_revenue_flag", "uptime_pct", "uptime_t12m_pct", "ports_below_nevi",
    "charge_attempt_success_rate", "visit_success_rate", "revenue_at_risk_minor",
)  # fmt: skip
"""The metrics of the headline, in the order it lists them."""


def metrics(
    wh: WarehouseLike,
    by: str,
    period: str,
    first_day: dt.date,
    last_day: dt.date,
    names: Sequence[str] | None = None,
    *,
    as_of: dt.datetime | None = None,
    offline_after_s: int = DEFAULT_OFFLINE_AFTER_S,
) -> TableResult:
    """Metrics *names* (default: every one at *by*) per *by* and *period* from *first_day* to *last_day* (local dates).

    Raises
    ------
    ValueError
        An unknown metric, grain or period, or a metric not defined at the grain.
    """
    unknown = [n for n in names or () if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}")
    table = mc.compute(
        wh, by=by, period=period, start=first_day, end=last_day, metrics=list(names) if names else None,
        as_of=as_of, offline_after_s=offline_after_s,
    )  # fmt: skip
    return table_result(table, f"metrics by {by}, {period}: {first_day} … {last_day}")


def uptime(
    wh: WarehouseLike,
    by: str,
    month: dt.date,
    *,
    as_of: dt.datetime | None = None,
    offline_after_s: int = DEFAULT_OFFLINE_AFTER_S,
) -> TableResult:
    """The registry's uptime metrics (NEVI uptime, outage minutes, MTBF/MTTR, success rates, revenue at risk) of the
    month starting *month*, per *by*; the horizon *as_of* [UTC] and the silence after which a charger is offline
    *offline_after_s* [s]."""
    first, last = month, month_end(month)
    table = mc.compute(
        wh, by=by, period="month", start=first, end=last, metrics=list(UPTIME),
        as_of=as_of, offline_after_s=offline_after_s,
    )  # fmt: skip
    return table_result(with_telemetry_status(table), f"uptime by {by}, {month:%Y-%m}")


NO_TELEMETRY, FEED_GAP, REPORTED = "no telemetry", "feed gap", "reported"


def with_telemetry_status(table: pa.Table) -> pa.Table:
    """*table* (with ``uptime_pct`` and ``measured_uptime_pct``) with ``telemetry`` after the keys: ``no telemetry``
    where no port of the row was observed, ``feed gap`` where the NEVI uptime is unknown for a feed gap, else
    ``reported`` (computed column-wise)."""
    import pyarrow.compute as pc

    status = pc.if_else(
        pc.is_null(table["measured_uptime_pct"]),
        pa.scalar(NO_TELEMETRY),
        pc.if_else(pc.is_null(table["uptime_pct"]), pa.scalar(FEED_GAP), pa.scalar(REPORTED)),
    )
    at = table.column_names.index("currency") + 1 if "currency" in table.column_names else 0
    return table.add_column(at, "telemetry", status.cast(pa.string()))


@dataclass(frozen=True)
class Headline:
    """The month's headline metrics for the network and each segment.

    Attributes
    ----------
    month : datetime.date
        The month's first day.
    network : TableResult
        One row: the network (metrics :data:`HEADLINE`, with ``currency``).
    segments : TableResult
        One row per segment (``segment`` null for sites without one).
    metric_names : tuple of str
        The metrics, in order (:data:`HEADLINE`).
    """

    month: dt.date
    network: TableResult
    segments: TableResult
    metric_names: tuple[str, ...] = HEADLINE

    @property
    def currencies(self) -> list[str]:
        """The currencies of the scopes, sorted (``-`` for a scope without one)."""
        rows = self.network.table.to_pylist() + self.segments.table.to_pylist()
        return sorted({r["currency"] or "-" for r in rows})

    def combined(self) -> TableResult:
        """The network row (``segment`` null) then the segment rows, in one table with the segments' columns."""
        net, seg = self.network.table, self.segments.table
        both = pa.concat_tables(
            [net.append_column("segment", pa.nulls(net.num_rows, pa.string())).select(seg.column_names), seg]
        )
        return table_result(both, f"headline {self.month:%Y-%m}")


def headline(wh: WarehouseLike, month: dt.date) -> Headline:
    """The headline of the month starting *month*: :data:`HEADLINE` for the network, then by segment."""
    first, last = month, month_end(month)
    net = mc.compute(wh, by="network", period="month", start=first, end=last, metrics=list(HEADLINE))
    seg = mc.compute(wh, by="segment", period="month", start=first, end=last, metrics=list(HEADLINE))
    return Headline(month, table_result(net, "network"), table_result(seg, "segments"))


def sources_of(names: Sequence[str] | None) -> tuple[str, ...]:
    """The data sources (``sessions``, ``telemetry``) metrics *names* (default: all) read, for their coverage check."""
    ms = [METRICS[n] for n in names or METRICS if n in METRICS]
    levels = {MEASURES[x].level for m in ms for x in m.measures}
    out = ("sessions",) if any(m.known_if == "observed_port_days" for m in ms) else ()
    return out + (("telemetry",) if "port-month" in levels else ())


def metric_units(names: Sequence[str]) -> dict[str, str]:
    """The registry unit of each metric of *names*."""
    return {n: METRICS[n].unit for n in names}
