"""Where each port was, when: a port's membership of sites over time (handbook §1, "Time of truth").

Chargers move: commissioned at a depot or a test site, installed elsewhere later. What says
where a port was:

* **its sessions** (the financial record): a CDR names the location it was charged at
  (``sessions.site_id``, OCPI ``cdr_location.id``), so the port was there on the local day the
  session started;
* **a sites CSV window** (``port_placements``, source ``sites-csv``; a v5 file's ports, source
  ``ports``): the port at a site from ``from_on`` (commissioning there; empty: since before any
  data) to ``to_on`` (decommissioning there, exclusive; from then it is nowhere until other
  evidence places it);
* **a Locations feed** (source ``ocpi-locations``): the feed listed the EVSE under a Location
  on ``observed_on`` (the UTC date of the EVSE's, else the Location's, ``last_updated``);
* for a port with none of these (known only from a status feed or an OCPP log): its
  ``ports.site_id``, since always.

**Membership** (:data:`VIEW`, ``port_sites``): the evidence of a port is ordered by day (then
time, then sessions, window ends, window starts, feeds); the port is at the site of its latest
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

import pyarrow as pa

from evrevops.core.sqltext import sql_literal
from evrevops.warehouse.intervals import in_force_sql

VIEW = "port_sites"
TABLE = "port_placements"
FEED = "ocpi-locations"


def _local_day(instant: str, zone: str) -> str:
    return f"CAST(({instant} AT TIME ZONE 'UTC') AT TIME ZONE coalesce({zone}, 'UTC') AS DATE)"


def evidence_sql(
    sessions: str = "sessions", placements: str = TABLE, sites: str = "sites", ports: str = "ports"
) -> str:
    """SQL of every piece of evidence of where a port was.

    Columns: ``port_id``, ``site_id`` (NULL: the port left its site, at a window's end),
    ``on_date`` (the local day it places the port there; NULL: since before any data),
    ``first_at`` (the first session start that day, or the day itself), ``rank`` (the order of
    evidence on one day: 0 sessions, 1 a window's end, 2 a window's start, 3 a Locations feed;
    4 the port's row, for a port with no other evidence: one known only from a status feed or
    an OCPP log), ``source``, ``sessions`` (count; 0 for placements).
    """
    return f"""SELECT s.port_id, s.site_id, {_local_day("s.started_at", "st.time_zone")} AS on_date,
       min(s.started_at) AS first_at, 0 AS rank, 'sessions' AS source, count(*) AS sessions
FROM {sessions} s LEFT JOIN {sites} st ON st.site_id = s.site_id
WHERE s.port_id IS NOT NULL AND s.site_id IS NOT NULL
GROUP BY s.port_id, s.site_id, {_local_day("s.started_at", "st.time_zone")}
UNION ALL
SELECT port_id, site_id, coalesce(observed_on, from_on), CAST(coalesce(observed_on, from_on) AS TIMESTAMP),
       CASE WHEN source = '{FEED}' THEN 3 ELSE 2 END, source, 0
FROM {placements}
UNION ALL
SELECT port_id, CAST(NULL AS VARCHAR), to_on, CAST(to_on AS TIMESTAMP), 1, source, 0
FROM {placements} WHERE to_on IS NOT NULL AND source <> '{FEED}'
UNION ALL
SELECT p.port_id, p.site_id, CAST(NULL AS DATE), CAST(NULL AS TIMESTAMP), 4, 'ports', 0
FROM {ports} p
WHERE p.site_id IS NOT NULL AND p.port_id NOT IN (SELECT port_id FROM {placements})
  AND p.port_id NOT IN (SELECT port_id FROM {sessions} WHERE port_id IS NOT NULL AND site_id IS NOT NULL)"""


def membership_sql(
    sessions: str = "sessions", placements: str = TABLE, sites: str = "sites", ports: str = "ports"
) -> str:
    """SQL of each port's membership: ``port_id``, ``site_id``, ``from_on``, ``to_on`` (rule in the module docstring).

    Most ports were only ever at one site: a port whose evidence names one site, with no window
    ending, belongs to it since always, found by grouping its sessions by site alone. Only the
    others' evidence is laid out day by day (the local day of every session start), the costly
    part.
    """
    order = "ORDER BY on_date NULLS FIRST, first_at NULLS FIRST, rank, site_id"
    other = lambda t: f"(SELECT * FROM {t} WHERE port_id NOT IN (SELECT port_id FROM one))"  # noqa: E731
    return f"""WITH named AS (
    -- every site a port's evidence names (its row's only when nothing else names one)
    SELECT port_id, site_id FROM {sessions} WHERE port_id IS NOT NULL AND site_id IS NOT NULL GROUP BY port_id, site_id
    UNION
    SELECT port_id, site_id FROM {placements}
    UNION
    SELECT port_id, site_id FROM {ports}
    WHERE site_id IS NOT NULL AND port_id NOT IN (SELECT port_id FROM {placements})
      AND port_id NOT IN (SELECT port_id FROM {sessions} WHERE port_id IS NOT NULL AND site_id IS NOT NULL)
), one AS (
    SELECT port_id, min(site_id) AS site_id FROM named GROUP BY port_id
    HAVING count(*) = 1
       AND port_id NOT IN (SELECT port_id FROM {placements} WHERE to_on IS NOT NULL AND source <> '{FEED}')
), ev AS (
    {evidence_sql(other(sessions), other(placements), sites, other(ports))}
), o AS (
    SELECT port_id, site_id, on_date, first_at, rank,
           row_number() OVER (PARTITION BY port_id {order}) AS n,
           lag(site_id) OVER (PARTITION BY port_id {order}) AS prev_site
    FROM ev
), starts AS (
    -- the evidence that places the port somewhere else than the evidence before it
    SELECT port_id, site_id, on_date, first_at, rank FROM o WHERE n = 1 OR prev_site IS DISTINCT FROM site_id
), spans AS (
    SELECT port_id, site_id,
           CASE WHEN row_number() OVER (PARTITION BY port_id {order}) = 1 THEN NULL ELSE on_date END AS from_on,
           lead(on_date) OVER (PARTITION BY port_id {order}) AS to_on
    FROM starts
)
SELECT port_id, site_id, CAST(NULL AS DATE) AS from_on, CAST(NULL AS DATE) AS to_on FROM one
UNION ALL
SELECT port_id, site_id, from_on, to_on FROM spans
WHERE site_id IS NOT NULL AND (from_on IS NULL OR to_on IS NULL OR to_on > from_on)"""


def view_sql() -> str:
    """The statement that makes :data:`VIEW` (a temporary view: always current)."""
    return f"CREATE OR REPLACE TEMP VIEW {VIEW} AS {membership_sql()}"


def on_sql(port: str, day: str, membership: str = VIEW) -> str:
    """Join condition: row *membership* of port column *port* is where it was on date expression *day*."""
    return in_force_sql(membership, "port_id", port, day, "from_on", "to_on")


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
    if port_ids:  # the evidence of those ports only (an ingest touches a few ports of many)
        only = lambda t: f"(SELECT * FROM {t} WHERE port_id IN (SELECT port_id FROM {port_ids}))"  # noqa: E731
        membership = membership_sql(only("sessions"), only(TABLE), "sites", only("ports"))
    else:
        membership = membership_sql()
    return f"""UPDATE ports AS p SET site_id = m.site_id
        FROM (SELECT port_id, site_id FROM ({membership}) x WHERE to_on IS NULL) m
        WHERE m.port_id = p.port_id AND p.site_id IS DISTINCT FROM m.site_id"""


def history(wh, port_id: str) -> pa.Table:
    """Where *port_id* was when: its membership intervals with the evidence behind each.

    Returns
    -------
    pyarrow.Table
        One row per interval, in time order: ``port_id``, ``site_id``, ``from_on``, ``to_on``
        (local dates, ``to_on`` exclusive; NULL: open), ``session_days`` and ``sessions`` (the
        days with CDRs naming the site, and the CDRs, whose local start day is in the
        interval), ``first_session_at`` (UTC), ``evidence`` (the kinds of evidence placing the port there in the interval:
        ``sessions``, ``sites-csv``, ``ports``, ``ocpi-locations``) and ``conflicts`` (how many
        pieces of evidence put the port at another site at the same time, in the interval).
    """
    quoted = sql_literal(port_id)
    return wh.fetch(
        f"""WITH m AS (SELECT * FROM ({membership_sql()}) x WHERE port_id = {quoted}),
            ev AS (SELECT * FROM ({evidence_sql()}) x WHERE port_id = {quoted} AND site_id IS NOT NULL),
            s AS (SELECT site_id, started_at FROM sessions WHERE port_id = {quoted}),
            c AS (SELECT * FROM ({conflicts_sql()}) x WHERE port_id = {quoted})
        SELECT m.port_id, m.site_id, m.from_on, m.to_on,
               (SELECT count(*) FROM ev WHERE ev.site_id = m.site_id AND ev.source = 'sessions'
                  AND (m.from_on IS NULL OR ev.on_date >= m.from_on) AND (m.to_on IS NULL OR ev.on_date < m.to_on)
               ) AS session_days,
               (SELECT CAST(coalesce(sum(ev.sessions), 0) AS BIGINT) FROM ev WHERE ev.site_id = m.site_id AND ev.source = 'sessions'
                  AND (m.from_on IS NULL OR ev.on_date >= m.from_on) AND (m.to_on IS NULL OR ev.on_date < m.to_on)
               ) AS sessions,
               (SELECT min(first_at) FROM ev WHERE ev.site_id = m.site_id AND ev.source = 'sessions'
                  AND (m.from_on IS NULL OR ev.on_date >= m.from_on) AND (m.to_on IS NULL OR ev.on_date < m.to_on)
               ) AS first_session_at,
               (SELECT string_agg(DISTINCT ev.source, ', ' ORDER BY ev.source) FROM ev WHERE ev.site_id = m.site_id
                  AND (ev.on_date IS NULL OR ((m.from_on IS NULL OR ev.on_date >= m.from_on)
                                              AND (m.to_on IS NULL OR ev.on_date < m.to_on)))) AS evidence,
               (SELECT count(*) FROM c WHERE (c.site_id = m.site_id OR c.other_site_id = m.site_id)
                  AND (m.to_on IS NULL OR c.from_at < CAST(m.to_on AS TIMESTAMP))
                  AND (m.from_on IS NULL OR c.to_at > CAST(m.from_on AS TIMESTAMP))) AS conflicts
        FROM m ORDER BY m.from_on NULLS FIRST"""
    )


def conflicts(wh, port_id: str | None = None) -> pa.Table:
    """The evidence putting a port at two sites at once (:func:`conflicts_sql`), every port or *port_id*'s."""
    where = "" if port_id is None else "WHERE port_id = " + sql_literal(port_id)
    return wh.fetch(f"SELECT * FROM ({conflicts_sql()}) x {where} ORDER BY port_id, from_at, site_id, other_site_id")
