"""Where each port was, when: a port's membership of sites over time (handbook §1, "Time of truth").

Chargers move: commissioned at a depot or a test site, installed elsewhere later. What says
where a port was:

* **its sessions** (the financial record): a CDR names the location it was charged at
  (``sessions.site_id``, OCPI ``cdr_location.id``), so the port was there on the local day the
  session started;
* **a sites CSV window** (``port_placements``, source ``sites-csv``; a v5 file's ports, source
  ``ports``): the port at a site from ``from_on`` (commissioning there; empty: since before any
  data) to ``to_on`` (decommissioning there, exclusive);
* **a Locations feed** (source ``ocpi-locations``): the feed listed the EVSE under a Location
  on ``observed_on`` (the UTC date of the EVSE's, else the Location's, ``last_updated``).

**Membership** (:data:`VIEW`, ``port_sites``): the evidence of a port is ordered by day (then
time, then sessions before windows before feeds); the port is at the site of its latest
evidence until evidence places it elsewhere, and at the site of its first evidence before
that. So a port has one site a day: intervals ``[from_on, to_on)`` of local dates (NULL bounds:
open) that never overlap. A move on a day with sessions at both sites belongs to the new site
from that day (its sessions that morning still count where their CDR says).

What follows from it: sessions, energy and revenue always count at the CDR's own location;
open hours (utilization, occupancy, capacity) count at the site the port belonged to on that
day, inside the port's service window (``ports.commissioned_on`` … ``decommissioned_on``) and,
where a sites CSV gives one, its window at that site.

**Conflicts** (:func:`conflicts_sql`) are reported, not resolved silently: sessions of one port
overlapping in time at two sites, a Locations feed listing one EVSE under two Locations on one
day, sites CSV windows of one port at two sites that overlap. Membership still gives the port
one site a day by the order above; ``evrevops ports conflicts`` and ``evrevops ports history
PORT`` show what disagrees.

The SQL is portable (window functions; the local day of a session from ``AT TIME ZONE``), so it
runs on DuckDB and, transpiled, on Spark.
"""

from __future__ import annotations

VIEW = "port_sites"
TABLE = "port_placements"
FEED = "ocpi-locations"


def _local_day(instant: str, zone: str) -> str:
    return f"CAST(({instant} AT TIME ZONE 'UTC') AT TIME ZONE coalesce({zone}, 'UTC') AS DATE)"


def evidence_sql(sessions: str = "sessions", placements: str = TABLE, sites: str = "sites") -> str:
    """SQL of every piece of evidence of where a port was.

    Columns: ``port_id``, ``site_id``, ``on_date`` (the local day it places the port there; NULL:
    since before any data), ``first_at`` (the first session start that day, or the day itself),
    ``rank`` (0 sessions, 1 sites CSV window, 2 Locations feed), ``source``, ``sessions`` (count;
    0 for placements), ``to_on`` (a window's end, else NULL).
    """
    return f"""SELECT s.port_id, s.site_id, {_local_day("s.started_at", "st.time_zone")} AS on_date,
       min(s.started_at) AS first_at, 0 AS rank, 'sessions' AS source, count(*) AS sessions, CAST(NULL AS DATE) AS to_on
FROM {sessions} s LEFT JOIN {sites} st ON st.site_id = s.site_id
WHERE s.port_id IS NOT NULL AND s.site_id IS NOT NULL
GROUP BY s.port_id, s.site_id, {_local_day("s.started_at", "st.time_zone")}
UNION ALL
SELECT port_id, site_id, coalesce(observed_on, from_on) AS on_date, CAST(coalesce(observed_on, from_on) AS TIMESTAMP),
       CASE WHEN source = '{FEED}' THEN 2 ELSE 1 END, source, 0, to_on
FROM {placements}"""


def membership_sql(sessions: str = "sessions", placements: str = TABLE, sites: str = "sites") -> str:
    """SQL of each port's membership: ``port_id``, ``site_id``, ``from_on``, ``to_on`` (rule in the module docstring)."""
    order = "ORDER BY on_date NULLS FIRST, first_at NULLS FIRST, rank, site_id"
    return f"""WITH ev AS (
    {evidence_sql(sessions, placements, sites)}
), o AS (
    SELECT port_id, site_id, on_date, first_at, rank,
           lag(site_id) OVER (PARTITION BY port_id {order}) AS prev_site
    FROM ev
), starts AS (
    SELECT port_id, site_id, on_date, first_at, rank FROM o WHERE prev_site IS NULL OR prev_site <> site_id
), spans AS (
    SELECT port_id, site_id,
           CASE WHEN row_number() OVER (PARTITION BY port_id {order}) = 1 THEN NULL ELSE on_date END AS from_on,
           lead(on_date) OVER (PARTITION BY port_id {order}) AS to_on
    FROM starts
)
SELECT port_id, site_id, from_on, to_on FROM spans
WHERE from_on IS NULL OR to_on IS NULL OR to_on > from_on"""


def view_sql() -> str:
    """The statement that makes :data:`VIEW` (a temporary view: always current)."""
    return f"CREATE OR REPLACE TEMP VIEW {VIEW} AS {membership_sql()}"


def on_sql(port: str, day: str, membership: str = VIEW) -> str:
    """Join condition: row *membership* of port column *port* is where it was on date expression *day*."""
    return (
        f"{membership}.port_id = {port} AND ({membership}.from_on IS NULL OR {membership}.from_on <= {day})"
        f" AND ({membership}.to_on IS NULL OR {membership}.to_on > {day})"
    )


def conflicts_sql(sessions: str = "sessions", placements: str = TABLE) -> str:
    """SQL of the evidence that puts one port at two sites at once.

    Columns: ``port_id``, ``site_id``, ``other_site_id``, ``from_at``, ``to_at`` (UTC; for
    windows and feeds the days' midnights), ``evidence`` (``sessions``, ``sites-csv`` or
    ``ocpi-locations``), ``detail``.
    """
    return f"""WITH s AS (
    SELECT port_id, site_id, session_id, started_at, ended_at,
           lag(site_id) OVER (PARTITION BY port_id ORDER BY started_at, session_id) AS prev_site,
           lag(session_id) OVER (PARTITION BY port_id ORDER BY started_at, session_id) AS prev_session,
           lag(ended_at) OVER (PARTITION BY port_id ORDER BY started_at, session_id) AS prev_end
    FROM {sessions} WHERE port_id IS NOT NULL AND site_id IS NOT NULL
)
SELECT port_id, prev_site AS site_id, site_id AS other_site_id, started_at AS from_at,
       least(prev_end, ended_at) AS to_at, 'sessions' AS evidence,
       'session ' || prev_session || ' at ' || prev_site || ' overlaps session ' || session_id || ' at ' || site_id AS detail
FROM s WHERE prev_site <> site_id AND prev_end > started_at
UNION ALL
SELECT a.port_id, a.site_id, b.site_id, CAST(a.observed_on AS TIMESTAMP), CAST(a.observed_on + 1 AS TIMESTAMP),
       '{FEED}', 'the Locations feed lists the EVSE under ' || a.site_id || ' and ' || b.site_id || ' on '
       || CAST(a.observed_on AS VARCHAR)
FROM {placements} a JOIN {placements} b
  ON a.port_id = b.port_id AND a.source = '{FEED}' AND b.source = '{FEED}' AND a.observed_on = b.observed_on
 AND a.site_id < b.site_id
UNION ALL
SELECT a.port_id, a.site_id, b.site_id,
       CAST(greatest(coalesce(a.from_on, DATE '1970-01-01'), coalesce(b.from_on, DATE '1970-01-01')) AS TIMESTAMP),
       CAST(least(coalesce(a.to_on, DATE '9999-12-31'), coalesce(b.to_on, DATE '9999-12-31')) AS TIMESTAMP),
       a.source, 'windows at ' || a.site_id || ' and ' || b.site_id || ' overlap'
FROM {placements} a JOIN {placements} b
  ON a.port_id = b.port_id AND a.source <> '{FEED}' AND b.source <> '{FEED}' AND a.site_id < b.site_id
 AND (a.to_on IS NULL OR b.from_on IS NULL OR b.from_on < a.to_on)
 AND (b.to_on IS NULL OR a.from_on IS NULL OR a.from_on < b.to_on)"""


def current_sql(port_ids: str | None = None) -> str:
    """``UPDATE`` of ``ports.site_id`` to each port's latest membership (*port_ids*: a relation of ids)."""
    only = f"AND p.port_id IN (SELECT port_id FROM {port_ids})" if port_ids else ""
    return f"""UPDATE ports AS p SET site_id = m.site_id
        FROM (SELECT port_id, site_id FROM ({membership_sql()}) x WHERE to_on IS NULL) m
        WHERE m.port_id = p.port_id AND p.site_id IS DISTINCT FROM m.site_id {only}"""
