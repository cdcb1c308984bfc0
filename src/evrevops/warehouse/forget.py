"""Forget an ingest: its rows and quarantine go, in one transaction; the ledger records that it happened.

A file read with the wrong ``--format`` quarantines every line and is recorded, so the right
ingest later would say "unchanged"; a file of the wrong network was loaded by mistake. ``evrevops
ledger forget FILE_ID`` (and ``ingest --force``) undoes such an ingest:

* every row whose ``file_id`` is the entry's goes, from every table, and its quarantine rows;
  except a site, charger or port row that another entry's rows still name (a site a sites CSV
  described and CDRs of another file use): it stays, and the result counts it;
* a site's current facts and a port's current site are worked out again from what remains;
* the forgotten entry stays in the ledger as it was (what was read, and when); a **new** entry
  of format ``cli:ledger forget`` names it in ``forgets`` (append-only: a correction is a new
  entry, never an edit). A file whose committed entry was forgotten is no longer "unchanged":
  ingesting it again reads it;
* rows of earlier files that the forgotten entry *replaced* are not restored (the loader keeps one
  version of a row): the result counts them (``replaced_not_restored``), and re-ingesting those
  files with ``--force`` brings them back. Empty columns of earlier rows the entry filled stay filled.

The kept facts read the forget entry's ``earliest_at`` like any other: the first instant the
removed rows could change (from *rebuild_from*, called while the rows are still there).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from datetime import datetime

import pyarrow as pa

from evrevops.core.sqltext import sql_identifier
from evrevops.warehouse import after_write, ledger
from evrevops.warehouse.db import Warehouse
from evrevops.warehouse.schema import TABLES

FORMAT = "cli:ledger forget"
WHOLE = datetime(1, 1, 1)

# Reference rows another entry's rows may name: (table, key, [(table, column) that name it]).
_NAMED = {
    "sites": (
        "site_id",
        [
            ("sessions", "site_id"),
            ("ports", "site_id"),
            ("chargers", "site_id"),
            ("port_placements", "site_id"),
            ("site_facts", "site_id"),
            ("contract_events", "site_id"),
            ("incidents", "site_id"),
            ("site_costs", "site_id"),
        ],
    ),
    "chargers": (
        "charger_id",
        [
            ("ports", "charger_id"),
            ("sessions", "charger_id"),
            ("status_events", "charger_id"),
            ("heartbeats", "charger_id"),
            ("meter_readings", "charger_id"),
            ("ocpp_transactions", "charger_id"),
        ],
    ),
    "ports": ("port_id", [("sessions", "port_id"), ("port_placements", "port_id"), ("status_events", "port_id")]),
}


def forgotten(wh: Warehouse) -> set[int]:
    """File ids of the ledger entries a ``cli:ledger forget`` entry undid."""
    return {r[0] for r in wh.con.execute("SELECT forgets FROM ingest_ledger WHERE forgets IS NOT NULL").fetchall()}


def live_sql() -> str:
    """SQL condition on ``ingest_ledger`` (unaliased): the entry has not been forgotten."""
    return "file_id NOT IN (SELECT forgets FROM ingest_ledger WHERE forgets IS NOT NULL)"


def _columns(wh: Warehouse, table: str) -> set[str]:
    return {
        r[0]
        for r in wh.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main'",
            [table],
        ).fetchall()
    }


def _earliest(wh: Warehouse, file_id: int) -> datetime | None:
    """Without *rebuild_from*: the whole history when the entry wrote any dated row, else None."""
    for name, spec in TABLES.items():
        if (
            spec.time is not None
            and wh.con.execute(f"SELECT count(*) FROM {sql_identifier(name)} WHERE file_id = ?", [file_id]).fetchall()[
                0
            ][0]
        ):
            return WHOLE
    return None


def forget_file(
    wh: Warehouse, file_id: int, rebuild_from: Callable[[Warehouse, list[int]], dt.date | None] | None = None
) -> dict:
    """Remove everything ledger entry *file_id* wrote, in one transaction, and record it in the ledger.

    Parameters
    ----------
    wh : Warehouse
    file_id : int
        The ledger entry to forget (an ingest or a ``sites set-tariff``).
    rebuild_from : callable, optional
        ``(wh, [file_id]) -> first local day`` the entry's rows can change the kept facts from
        (:func:`evrevops.metrics.changes.since`), called before the rows go; without it, the
        whole history when the entry wrote any dated row.

    Returns
    -------
    dict
        ``file_id``, ``path``, ``rows_removed``, ``quarantine_removed``, ``kept_named`` (reference
        rows kept because other entries' rows name them), ``replaced_not_restored`` and
        ``ledger_file_id`` (the new entry recording the forget).

    Raises
    ------
    ValueError
        For an unknown entry, one already forgotten, or a forget entry.
    """
    file_id = int(file_id)
    path, replaced = _forgettable(wh, file_id)
    if rebuild_from is not None:
        day = rebuild_from(wh, [file_id])
        earliest = None if day is None else datetime.combine(day, dt.time())
    else:
        earliest = _earliest(wh, file_id)
    with wh.transaction():
        touched_sites, touched_ports = _touched(wh, file_id)
        removed, kept = _remove_rows(wh, file_id)
        quarantine_removed = len(
            wh.con.execute("DELETE FROM quarantine WHERE file_id = ? RETURNING 1", [file_id]).fetchall()
        )
        after_write.bring_current(wh, touched_sites, touched_ports)
        notes = (
            f"forgot {path}: {removed:,} rows and {quarantine_removed:,} quarantine rows removed"
            + (f"; {kept:,} sites/chargers/ports kept because other entries name them" if kept else "")
            + (f"; {replaced:,} rows it had replaced are not restored" if replaced else "")
        )
        entry = _record(wh, file_id, earliest, notes)
    return {
        "file_id": file_id,
        "path": path,
        "rows_removed": removed,
        "quarantine_removed": quarantine_removed,
        "kept_named": kept,
        "replaced_not_restored": int(replaced or 0),
        "ledger_file_id": entry,
    }


def _forgettable(wh: Warehouse, file_id: int) -> tuple[str, int | None]:
    """The ``path`` and ``replaced`` count of ledger entry *file_id*, once it is known to be one that can be forgotten.

    Raises
    ------
    ValueError
        For an unknown entry, one already forgotten, or a forget entry.
    """
    con = wh.con
    row = con.execute("SELECT path, format, replaced FROM ingest_ledger WHERE file_id = ?", [file_id]).fetchall()
    if not row:
        known = con.execute("SELECT count(*), min(file_id), max(file_id) FROM ingest_ledger").fetchall()[0]
        hint = f"the ledger holds entries {known[1]}..{known[2]}" if known[0] else "the ledger is empty"
        raise ValueError(f"no ledger entry {file_id}; {hint} (see `evrevops ledger`)")
    path, fmt, replaced = row[0]
    if fmt == FORMAT:
        raise ValueError(f"ledger entry {file_id} is itself a forget; it cannot be forgotten")
    if file_id in forgotten(wh):
        raise ValueError(f"ledger entry {file_id} ({path}) was already forgotten")
    return path, replaced


def _touched(wh: Warehouse, file_id: int) -> tuple[pa.Table, pa.Table]:
    """The sites and ports whose current facts or place follow from what remains once *file_id*'s rows go.

    Returns tables of one column, ``site_id`` resp. ``port_id``; read before the rows are removed.
    """
    con = wh.con
    sites = con.execute("SELECT DISTINCT site_id FROM site_facts WHERE file_id = ?", [file_id]).fetchall()
    ports = con.execute(
        """SELECT port_id FROM port_placements WHERE file_id = $f
           UNION SELECT port_id FROM sessions WHERE file_id = $f AND port_id IS NOT NULL
           UNION SELECT port_id FROM ports WHERE file_id = $f""",
        {"f": file_id},
    ).fetchall()
    return (
        pa.table({"site_id": pa.array([r[0] for r in sites], pa.string())}),
        pa.table({"port_id": pa.array([r[0] for r in ports], pa.string())}),
    )


def _remove_rows(wh: Warehouse, file_id: int) -> tuple[int, int]:
    """Delete the rows *file_id* wrote from every table; return rows removed and reference rows kept.

    Reference rows (:data:`_NAMED`) go first, while the rows that name them (of this entry too)
    are still there; one that another entry's rows name is kept.
    """
    con = wh.con
    removed = kept = 0
    for table, (key, namers) in _NAMED.items():
        k = sql_identifier(key)
        named = " OR ".join(
            f"EXISTS (SELECT 1 FROM {sql_identifier(t)} n WHERE n.{sql_identifier(c)} = r.{k} AND n.file_id <> $f)"
            for t, c in namers
            if c in _columns(wh, t)
        )
        kept += con.execute(
            f"SELECT count(*) FROM {sql_identifier(table)} r WHERE r.file_id = $f AND ({named})", {"f": file_id}
        ).fetchall()[0][0]
        removed += len(
            con.execute(
                f"DELETE FROM {sql_identifier(table)} r WHERE r.file_id = $f AND NOT ({named}) RETURNING 1",
                {"f": file_id},
            ).fetchall()
        )
    for name in TABLES:
        if name in _NAMED:
            continue
        removed += len(
            con.execute(f"DELETE FROM {sql_identifier(name)} WHERE file_id = ? RETURNING 1", [file_id]).fetchall()
        )
    return removed, kept


def _record(wh: Warehouse, file_id: int, earliest: datetime | None, notes: str) -> int:
    """Append the ``cli:ledger forget`` entry that names *file_id* in ``forgets``; return its ``file_id``."""
    entry = ledger.next_file_id(wh.con)
    now = ledger.now()
    text = f"evrevops ledger forget {file_id}"
    wh.con.execute(
        """INSERT INTO ingest_ledger (file_id, path, checksum, format, started_at, finished_at, records_read,
               accepted, duplicate, quarantined, replaced, status, earliest_at, forgets, notes)
           VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, 'ok', ?, ?, ?)""",
        [
            entry,
            text,
            hashlib.sha256(f"{text} at {now.isoformat()}".encode()).hexdigest(),
            FORMAT,
            now,
            now,
            earliest,
            file_id,
            notes,
        ],
    )
    return entry
