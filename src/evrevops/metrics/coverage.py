"""What the warehouse's data covers, per site and source: the coverage fact every report checks.

Four sources, each dated by its own evidence:

* ``sessions``: the site's CDRs (``started_at`` … ``ended_at``);
* ``telemetry``: status events of the site's ports and the OCPP messages (heartbeats, meter
  values, transactions) of their chargers;
* ``contracts``: the contract lines naming the site (``effective_on`` … ``end_on``);
* ``crm``: the installation projects of the site (planned or actual milestone dates); deals
  name no site and are the network's (``site_id`` null).

:func:`spans` gives each site's first and last evidence of each source; :func:`coverage` says,
for a period, whether each source covers it (``covered``, ``partial``, ``outside``: the period
lies outside the evidence, ``no data``: the source has nothing for the site) and, for
telemetry, the feed gaps inside it (:mod:`evrevops.uptime.feed_gaps`: every port of the site
without data for longer than the silence window). A report shows a scope whose source is
``no data``, ``outside`` or in a feed gap as no data, never as 0 % or 100 %.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from evrevops.core.sqltext import sql_in, ts_sql
from evrevops.uptime import fact as _uptime
from evrevops.uptime import feed_gaps
from evrevops.uptime import timeline as _timeline
from evrevops.uptime.timeline_intervals import MESSAGES_SQL
from evrevops.warehouse.protocol import WarehouseLike

SOURCES = ("sessions", "telemetry", "contracts", "crm")
COVERED, PARTIAL, OUTSIDE, NO_DATA, FEED_GAP = "covered", "partial", "outside", "no data", "feed gap"
COLUMNS = (
    "site_id", "source", "status", "records", "first_at", "last_at", "feed_gaps", "feed_gap_h", "gap_from", "gap_to",
)  # fmt: skip

SPANS_SQL = f"""
WITH charger_site AS (
    SELECT DISTINCT charger_id, site_id FROM ports WHERE charger_id IS NOT NULL AND site_id IS NOT NULL
), ev AS (
    SELECT site_id, 'sessions' AS source, started_at AS lo, coalesce(ended_at, started_at) AS hi FROM sessions
    WHERE site_id IS NOT NULL
    UNION ALL
    SELECT p.site_id, 'telemetry', e.observed_at, e.observed_at FROM status_events e JOIN ports p ON p.port_id = e.port_id
    WHERE p.site_id IS NOT NULL
    UNION ALL
    SELECT c.site_id, 'telemetry', m.t, m.t FROM ({MESSAGES_SQL}) m JOIN charger_site c ON c.charger_id = m.charger_id
    UNION ALL
    SELECT site_id, 'contracts', CAST(effective_on AS TIMESTAMP), CAST(coalesce(end_on, effective_on) AS TIMESTAMP)
    FROM contract_events WHERE site_id IS NOT NULL
    UNION ALL
    SELECT site_id, 'crm', CAST(coalesce(actual_on, planned_on) AS TIMESTAMP),
           CAST(coalesce(actual_on, planned_on) AS TIMESTAMP)
    FROM projects WHERE coalesce(actual_on, planned_on) IS NOT NULL
    UNION ALL
    SELECT NULL, 'crm', CAST(created_on AS TIMESTAMP), CAST(coalesce(closed_on, expected_close_on, created_on) AS TIMESTAMP)
    FROM deals WHERE created_on IS NOT NULL
)
SELECT site_id, source, min(lo) AS first_at, max(hi) AS last_at, count(*) AS records
FROM ev GROUP BY site_id, source
"""


def spans(wh: WarehouseLike) -> pa.Table:
    """Each site's first and last evidence [UTC] of each source it has, and its records.

    Returns
    -------
    pyarrow.Table
        ``site_id`` (null: the network's deals), ``source`` (:data:`SOURCES`), ``first_at``,
        ``last_at``, ``records``; a source a site has nothing of has no row.
    """
    return wh.fetch(SPANS_SQL + " ORDER BY site_id NULLS FIRST, source")


def coverage(
    wh: WarehouseLike,
    start: dt.datetime,
    end: dt.datetime,
    *,
    sites: list[str] | None = None,
    as_of: dt.datetime | None = None,
    offline_after_s: int = _timeline.DEFAULT_OFFLINE_AFTER_S,
) -> pa.Table:
    """Per site and source, what the data covers of ``[start, end)`` [UTC instants].

    Every known site (a row of ``sites``, or named by any source's evidence: a contract line of a
    site no sites file listed) has a row per source of :data:`SOURCES` (``no data`` when it has nothing);
    telemetry's row counts the feed gaps inside the period (``feed_gaps``, ``feed_gap_h`` [h],
    the first gap's start ``gap_from`` and the last one's end ``gap_to``) and is ``feed gap``
    when there is one. Columns :data:`COLUMNS`, ordered by site and source.
    """
    gaps = _gaps(wh, start, end, as_of, offline_after_s)
    site_filter = "" if sites is None else f"WHERE true {sql_in('s.site_id', sites)}"
    sql = f"""
WITH span AS ({SPANS_SQL}), src AS (SELECT unnest({list(SOURCES)!r}) AS source),
known AS (SELECT site_id FROM sites UNION SELECT site_id FROM span WHERE site_id IS NOT NULL),
grid AS (SELECT s.site_id, src.source FROM known s CROSS JOIN src {site_filter}),
gap AS (
    SELECT site_id, count(*) AS feed_gaps,
           sum(date_diff('microsecond', greatest(started_at, {ts_sql(start)}), least(ended_at, {ts_sql(end)})))
               / 3600e6 AS feed_gap_h,
           min(greatest(started_at, {ts_sql(start)})) AS gap_from, max(least(ended_at, {ts_sql(end)})) AS gap_to
    FROM {gaps} WHERE started_at < {ts_sql(end)} AND ended_at > {ts_sql(start)} GROUP BY site_id
)
SELECT g.site_id, g.source, sp.first_at, sp.last_at, coalesce(sp.records, 0) AS records,
       CASE WHEN sp.records IS NULL THEN '{NO_DATA}'
            WHEN sp.last_at < {ts_sql(start)} OR sp.first_at >= {ts_sql(end)} THEN '{OUTSIDE}'
            WHEN g.source = 'telemetry' AND gap.feed_gaps > 0 THEN '{FEED_GAP}'
            WHEN sp.first_at > {ts_sql(start)} OR sp.last_at < {ts_sql(end - dt.timedelta(days=1))} THEN '{PARTIAL}'
            ELSE '{COVERED}' END AS status,
       CASE WHEN g.source = 'telemetry' THEN coalesce(gap.feed_gaps, 0) END AS feed_gaps,
       CASE WHEN g.source = 'telemetry' THEN coalesce(gap.feed_gap_h, 0.0) END AS feed_gap_h,
       CASE WHEN g.source = 'telemetry' THEN gap.gap_from END AS gap_from,
       CASE WHEN g.source = 'telemetry' THEN gap.gap_to END AS gap_to
FROM grid g
LEFT JOIN span sp ON sp.site_id = g.site_id AND sp.source = g.source
LEFT JOIN gap ON gap.site_id = g.site_id AND g.source = 'telemetry'
ORDER BY g.site_id, list_position({list(SOURCES)!r}, g.source)
"""
    return wh.fetch(sql).select(list(COLUMNS))


def _gaps(
    wh: WarehouseLike, start: dt.datetime, end: dt.datetime, as_of: dt.datetime | None, offline_after_s: int
) -> str:
    """SQL naming the feed gaps (:data:`~evrevops.uptime.feed_gaps.GAPS`) of the local months around ``[start, end)``
    (built now), or an empty relation without telemetry."""
    if _timeline.data_span(wh) is None:
        return (
            "(SELECT CAST(NULL AS VARCHAR) AS site_id, CAST(NULL AS TIMESTAMP) AS started_at, "
            "CAST(NULL AS TIMESTAMP) AS ended_at WHERE false)"
        )
    first = (start - dt.timedelta(days=1)).date().replace(day=1)
    last = (end + dt.timedelta(days=1)).date().replace(day=1)
    _uptime.build(wh, first, last, as_of=as_of, offline_after_s=offline_after_s, trailing=False)
    return feed_gaps.GAPS
