"""Coverage: what each site's sessions, telemetry, contracts and CRM data cover, unlinked telemetry, and the one
warning line a report prints when its period is not covered."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from evrevops.metrics import coverage as mcov
from evrevops.query.result import TableResult, table_result
from evrevops.uptime import feed_gaps
from evrevops.uptime.timeline import DEFAULT_OFFLINE_AFTER_S
from evrevops.warehouse.protocol import WarehouseLike

UNLINKED_FIX = "add the charger to the sites CSV: its charger_id and connector_id on the port's row"


def _instants(first_day: dt.date, last_day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[first_day 00:00, last_day + 1 00:00)`` as naive UTC instants."""
    lo = dt.datetime.combine(first_day, dt.time())
    return lo, dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time())


def coverage(
    wh: WarehouseLike,
    first_day: dt.date,
    last_day: dt.date,
    *,
    sites: Sequence[str] | None = None,
    as_of: dt.datetime | None = None,
    offline_after_s: int = DEFAULT_OFFLINE_AFTER_S,
) -> TableResult:
    """Per site and source (sessions, telemetry, contracts, CRM): the first and last evidence [UTC], records, whether
    it covers *first_day* … *last_day* (``covered``, ``partial``, ``outside``, ``no data``, ``feed gap``) and the
    telemetry's feed gaps in it (count, hours [h], from, to)."""
    lo, hi = _instants(first_day, last_day)
    t = mcov.coverage(wh, lo, hi, sites=list(sites) if sites else None, as_of=as_of, offline_after_s=offline_after_s)
    return table_result(t, f"coverage {first_day} … {last_day}", {"feed_gap_h": "h", "records": "count"})


def unlinked(wh: WarehouseLike) -> TableResult:
    """Telemetry that reaches no port: each OCPP charge point and connector (or feed charger) no OCPI EVSE or sites-CSV
    row links to, its first and last record [UTC], records, the tables they are in, and the fix."""
    t = wh.fetch(feed_gaps.UNLINKED_SQL + " ORDER BY charger_id, connector_id NULLS FIRST")
    t = t.append_column("fix", pa.array([UNLINKED_FIX] * t.num_rows, pa.string()))
    return table_result(t, "telemetry linked to no port", {"records": "count"})


def warning(
    wh: WarehouseLike,
    first_day: dt.date,
    last_day: dt.date,
    sources: Sequence[str] = ("sessions", "telemetry"),
    *,
    as_of: dt.datetime | None = None,
    offline_after_s: int = DEFAULT_OFFLINE_AFTER_S,
) -> str | None:
    """The one line a report prints when *sources* do not cover *first_day* … *last_day* at every site (no data,
    outside the data, a feed gap) or telemetry links to no port; None when everything is covered."""
    t = coverage(wh, first_day, last_day, as_of=as_of, offline_after_s=offline_after_s).table.to_pylist()
    parts = [p for s in sources if (p := _source_part([r for r in t if r["source"] == s], s))]
    if "telemetry" in sources:
        n = unlinked(wh).num_rows
        if n:
            parts.append(f"{n} telemetry id(s) link to no port (`evrevops coverage --unlinked`)")
    if not parts:
        return None
    return f"no data for {first_day} … {last_day}: " + "; ".join(parts) + " — shown as no data, not 0 %"


def _source_part(rows: list[dict[str, Any]], source: str) -> str | None:
    """``telemetry: 3 of 10 sites without any, 1 outside the data, 2 in a feed gap (2018-11-11 … 2018-11-25)``."""
    n = len(rows)
    by = {st: [r for r in rows if r["status"] == st] for st in (mcov.NO_DATA, mcov.OUTSIDE, mcov.FEED_GAP)}
    if n == 0 or not any(by.values()):
        return None
    bits = []
    if by[mcov.NO_DATA]:
        bits.append(f"{len(by[mcov.NO_DATA])} of {n} sites have none")
    if by[mcov.OUTSIDE]:
        lo = min(r["first_at"] for r in by[mcov.OUTSIDE])
        hi = max(r["last_at"] for r in by[mcov.OUTSIDE])
        bits.append(f"{len(by[mcov.OUTSIDE])} of {n} sites outside their data ({lo:%Y-%m-%d} … {hi:%Y-%m-%d})")
    if by[mcov.FEED_GAP]:
        lo = min(r["gap_from"] for r in by[mcov.FEED_GAP])
        hi = max(r["gap_to"] for r in by[mcov.FEED_GAP])
        h = max(r["feed_gap_h"] for r in by[mcov.FEED_GAP])
        bits.append(
            f"{len(by[mcov.FEED_GAP])} of {n} sites in a feed gap ({lo:%Y-%m-%d %H:%M} … {hi:%Y-%m-%d %H:%M}, "
            f"up to {h:,.0f} h)"
        )
    return f"{source}: " + ", ".join(bits)
