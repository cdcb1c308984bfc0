"""The rows of a status log: the states a port can be in, its run-length timeline, and what each line became.

After :mod:`evrevops.formats.status_snapshots` has parsed and checked a log (tables ``g``, the
good lines, ``pt`` and ``q``), :func:`build_timeline` finds the cells where a port's state
changes (``starts``), :func:`events` turns them into ``status_events`` rows and :func:`absorbed`
names the line holding the content of every good line without a row of its own. The schemas of
the tables the reader emits are here too.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from evrevops.formats.base import STATUS_EVENT_SCHEMA
from evrevops.formats.site_columns import SITE_PLACE_FIELDS
from evrevops.formats.status_mapping import StatusMapping, lit

TS = pa.timestamp("us")
SCHEMAS: dict[str, pa.Schema] = {
    "status_events": STATUS_EVENT_SCHEMA,
    "sites": pa.schema([*SITE_PLACE_FIELDS, ("source_record", pa.int64())]),
    "chargers": pa.schema([("charger_id", pa.string()), ("site_id", pa.string()), ("source_record", pa.int64())]),
    "ports": pa.schema(
        [
            ("port_id", pa.string()),
            ("site_id", pa.string()),
            ("charger_id", pa.string()),
            ("connector_id", pa.int32()),
            ("connector_standard", pa.string()),
            ("power_type", pa.string()),
            ("rated_kw", pa.float64()),
            ("source_record", pa.int64()),
        ]
    ),
}
ABSORBED_SCHEMA = pa.schema([("source_record", pa.int64()), ("owner_record", pa.int64())])


@dataclass(frozen=True)
class PortState:
    """A state a port can be in: a status and what it says besides."""

    status: str
    error_code: str | None = None
    vendor_error_code: str | None = None
    info: str | None = None


def port_states(mapping: StatusMapping) -> tuple[list[PortState], int, int, int]:
    """Every state a port can be in, and the indices of the absent, no-data and gap states.

    The codes come first, worst first, so a lower index wins within one snapshot. With
    ``[status] unlisted`` (a status for codes the mapping does not list) that state comes last,
    at index ``len(codes) + 3``: an unlisted code loses to every listed one.
    """
    st = mapping.spec["status"]
    states = [
        PortState(str(c["status"]), c.get("error_code"), c.get("vendor_error_code"), c.get("info"))
        for c in mapping.codes
    ]
    no_data_status = str(st.get("no_data", "Unknown"))
    gap_min = mapping.spec.get("max_gap_min", 0)
    states += [
        PortState(str(st.get("absent", "Available"))),
        PortState(no_data_status, info="no data"),
        PortState(no_data_status, info=f"no snapshot for more than {gap_min:g} min"),
    ]
    if "unlisted" in st:
        states.append(PortState(str(st["unlisted"]), info="status code not listed in the mapping"))
    n = len(mapping.codes)
    return states, n, n + 1, n + 2


def build_timeline(
    con: duckdb.DuckDBPyConnection, m: StatusMapping, states: list[PortState], absent: int, no_data: int, gap: int
) -> None:
    """Table ``starts(pn, pos, st, src)``: the cells where a port's state changes, and the tables they come from.

    Snapshots are the distinct instants of the good lines (``snap``, numbered ``sn`` in time
    order; *real* when a line is not a placeholder); ports (``known``, numbered ``pn``) are
    known from their first listing. A port's state at snapshot ``sn`` (position ``2 sn``) is
    the worst code it is listed with, else (snapshot mode) ``absent``, or ``no_data`` at a
    placeholder snapshot; a gap before ``sn`` puts it in the gap state at ``2 sn - 1``. A
    port whose line at a snapshot was quarantined is not observed there. In snapshot mode
    every port the file lists is observed from the file's first real snapshot (absent, so
    free, until it is first listed); in event mode from its first listing.

    Only the cells where a state *can* change are built — listings, the first absence after
    a listing (or after a placeholder run, gap or unobserved snapshot), the first placeholder of
    a run, gaps after a real snapshot — since every other cell repeats the one before it: the
    run-length result is that of the full port × snapshot grid.
    """
    gap_min = _snapshots_and_ports(con, m)
    parts = [
        "SELECT pn, 2 * sn AS pos, code AS st, rec AS src FROM win",
        f"""SELECT k.pn, 2 * s.sn, {no_data}, s.owner FROM snap s JOIN known k ON k.first_sn < s.sn
            WHERE s.ph_start""",
    ]
    if gap_min:
        parts.append(
            f"""SELECT k.pn, 2 * s.sn - 1, {gap}, s.owner FROM snap s JOIN known k ON k.first_sn < s.sn
                WHERE s.gap_before AND s.prev_real"""
        )
    if m.mode == "snapshot":
        parts.append(
            f"""SELECT c.pn, 2 * c.sn, {absent}, s.owner
                FROM (SELECT pn, sn + 1 AS sn FROM win
                      UNION SELECT pn, sn + 1 FROM unobserved
                      UNION SELECT k.pn, s.sn FROM snap s JOIN known k ON k.first_sn < s.sn
                            WHERE s.real AND (NOT s.prev_real OR s.gap_before)) c
                JOIN snap s ON s.sn = c.sn AND s.real
                JOIN known k ON k.pn = c.pn AND k.first_sn < c.sn
                ANTI JOIN win w ON w.pn = c.pn AND w.sn = c.sn
                ANTI JOIN unobserved u ON u.pn = c.pn AND u.sn = c.sn"""
        )
    # states that read the same are one state; a gap and a placeholder are one stretch of no data
    canon: dict[tuple, int] = {}
    same = [canon.setdefault((s.status, s.error_code, s.vendor_error_code, s.info), i) for i, s in enumerate(states)]
    same[gap] = same[no_data]
    cases = " ".join(f"WHEN {i} THEN {k}" for i, k in enumerate(same) if i != k)
    key = f"CASE st {cases} ELSE st END" if cases else "st"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE starts AS
            SELECT pn, pos, st, src FROM (
                SELECT *, {key} IS DISTINCT FROM lag({key}) OVER (PARTITION BY pn ORDER BY pos) AS emit
                FROM ({" UNION ALL ".join(parts)}))
            WHERE emit"""
    )


def events(con: duckdb.DuckDBPyConnection, m: StatusMapping, states: list[PortState]) -> pa.Table:
    """The ``status_events`` rows: one per state change (``starts``)."""
    vals = ", ".join(
        f"({i}, {lit(s.status)}, {_nl(s.error_code)}, {_nl(s.vendor_error_code)}, {_nl(s.info)})"
        for i, s in enumerate(states)
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE port_ref AS
           SELECT k.pn, k.port_id, r.charger_id, r.connector_id
           FROM known k JOIN (SELECT port_id, arg_max(charger_id, (ts, rec)) AS charger_id,
                                     arg_max(connector_id, (ts, rec)) AS connector_id
                              FROM g WHERE NOT placeholder GROUP BY 1) r USING (port_id)"""
    )
    return (
        con.sql(
            f"""SELECT r.charger_id, r.port_id, r.connector_id, s.ts AS observed_at, t.status, t.error_code,
                       t.vendor_error_code, t.info, {lit(m.mode)} AS protocol, x.src AS source_record
                FROM starts x JOIN port_ref r USING (pn)
                JOIN (SELECT * FROM (VALUES {vals}) v(st, status, error_code, vendor_error_code, info)) t USING (st)
                JOIN (SELECT 2 * sn AS pos, ts FROM snap
                      UNION ALL SELECT 2 * sn - 1, prev_ts + to_microseconds({_gap_us(m)}) FROM snap
                      WHERE gap_before) s USING (pos)
                ORDER BY observed_at, r.charger_id, r.connector_id, r.port_id"""
        )
        .to_arrow_table()
        .cast(SCHEMAS["status_events"])
    )


def _gap_us(m: StatusMapping) -> int:
    """``max_gap_min`` in microseconds (0 without one)."""
    return int(round(float(m.spec.get("max_gap_min", 0)) * 60e6))


def _nl(v: str | None) -> str:
    """*v* as a SQL literal, or ``NULL``."""
    return "NULL" if v is None else lit(v)


def absorbed(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """``(source_record, owner_record)`` of the good lines that have no row of their own.

    A listed line belongs to the row that starts the run its port is in at that snapshot
    (the line repeats the port's state, or is overruled by a worse code listed for the port
    in the same snapshot); a placeholder line to the earliest of the rows that start the runs
    its stretch of placeholder snapshots is in (a placeholder before any port is known stores
    nothing); a placeholder line in a snapshot that also lists ports to that snapshot's first
    line (or where that line's content is).
    """
    con.execute("CREATE OR REPLACE TEMP TABLE has_rows AS SELECT DISTINCT src AS rec FROM starts")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE own_listed AS
           SELECT l.rec, s.src AS owner
           FROM listed l ASOF JOIN starts s ON s.pn = l.pn AND 2 * l.sn >= s.pos"""
    )
    # the stretch of placeholder snapshots each placeholder snapshot is in, by its first snapshot
    con.execute(
        """CREATE OR REPLACE TEMP TABLE ph_run AS
           SELECT sn, max(CASE WHEN ph_start THEN sn END) OVER (ORDER BY sn ROWS UNBOUNDED PRECEDING) AS first_sn
           FROM snap WHERE NOT real"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE ph_owner AS
           SELECT c.sn, min(s.src) AS owner
           FROM (SELECT k.pn, x.sn FROM snap x JOIN known k ON k.first_sn < x.sn WHERE x.ph_start) c
           ASOF JOIN starts s ON s.pn = c.pn AND 2 * c.sn >= s.pos
           GROUP BY c.sn"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE ab AS
           SELECT rec, owner FROM (
               SELECT rec, owner FROM own_listed
               UNION ALL
               SELECT l.rec, o.owner FROM gl l JOIN ph_run r USING (sn) JOIN ph_owner o ON o.sn = r.first_sn
               WHERE l.placeholder
               UNION ALL
               SELECT l.rec, CASE WHEN s.owner IN (SELECT rec FROM has_rows) THEN s.owner
                                  ELSE (SELECT owner FROM own_listed o WHERE o.rec = s.owner) END
               FROM gl l JOIN snap s USING (sn) WHERE l.placeholder AND s.real)
           WHERE rec NOT IN (SELECT rec FROM has_rows) AND owner IS NOT NULL AND rec <> owner"""
    )
    return (
        con.sql("SELECT rec AS source_record, owner AS owner_record FROM ab ORDER BY rec")
        .to_arrow_table()
        .cast(ABSORBED_SCHEMA)
    )


def _snapshots_and_ports(con: duckdb.DuckDBPyConnection, m: StatusMapping) -> float | None:
    """Tables ``snap``, ``gl``, ``known``, ``listed``, ``win`` and ``unobserved`` (see :func:`build_timeline`).

    Returns the mapping's ``max_gap_min`` in snapshot mode (None otherwise, or without one).
    """
    gap_min = m.spec.get("max_gap_min") if m.mode == "snapshot" else None
    gap_before = f"ts - prev_ts > to_microseconds({int(round(float(gap_min) * 60e6))})" if gap_min else "false"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE snap AS
            SELECT *, coalesce({gap_before}, false) AS gap_before,
                   NOT real AND (sn = 1 OR prev_real) AS ph_start
            FROM (SELECT row_number() OVER (ORDER BY ts) AS sn, ts, real, owner,
                         lag(ts) OVER (ORDER BY ts) AS prev_ts, coalesce(lag(real) OVER (ORDER BY ts), false) AS prev_real
                  FROM (SELECT ts, bool_or(NOT placeholder) AS real,
                               coalesce(min(rec) FILTER (WHERE NOT placeholder), min(rec)) AS owner
                        FROM g GROUP BY ts))"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE gl AS
           SELECT g.rec, g.placeholder, g.port_id, g.code, s.sn FROM g JOIN snap s USING (ts)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE known AS
           SELECT row_number() OVER (ORDER BY port_id) AS pn, port_id, first_sn
           FROM (SELECT port_id, min(sn) AS first_sn FROM gl WHERE NOT placeholder GROUP BY 1)"""
        if m.mode != "snapshot"
        # snapshot mode: every port of the file is observed from the file's first real snapshot on,
        # absent (free) where it is not listed -- the feed lists only connectors that are not free
        else """CREATE OR REPLACE TEMP TABLE known AS
           SELECT row_number() OVER (ORDER BY port_id) AS pn, port_id,
                  (SELECT min(sn) FROM snap WHERE real) - 1 AS first_sn
           FROM (SELECT DISTINCT port_id FROM gl WHERE NOT placeholder)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE listed AS
           SELECT l.rec, k.pn, l.sn, l.code FROM gl l JOIN known k USING (port_id) WHERE NOT l.placeholder"""
    )
    # the port's state at a snapshot where it is listed: the worst code, carried by its first line with it
    con.execute(
        """CREATE OR REPLACE TEMP TABLE win AS
           SELECT pn, sn, min(code) AS code, arg_min(rec, (code, rec)) AS rec FROM listed GROUP BY ALL"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE unobserved AS
           SELECT DISTINCT k.pn, s.sn FROM pt
           JOIN known k USING (port_id) JOIN snap s USING (ts)
           ANTI JOIN win w ON w.pn = k.pn AND w.sn = s.sn
           WHERE pt.rec IN (SELECT rec FROM q) AND NOT pt.placeholder"""
    )
    return gap_min
