"""Derived tables kept between ingests (site-month bills, port-day facts), and when they may be read.

A derived table is rewritten whole after a write to the warehouse; ``derived_facts`` records
the fingerprint it was made under: its engine's version and the ingest ledger's state (any
ingest or ledger-recorded edit adds a ledger row). Readers use the table only while that
fingerprint is the warehouse's current one, and compute on the fly otherwise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa

from evrevops.warehouse.db import Warehouse


def engine_version(files: Iterable[str | Path]) -> str:
    """A version for an engine: a hash of its source files (a change to its SQL makes kept rows stale)."""
    return hashlib.sha256(b"".join(Path(f).read_bytes() for f in files)).hexdigest()[:16]


def session_months(wh: Warehouse) -> tuple[dt.date, dt.date] | None:
    """First days of the first and last local month the sessions can touch in any zone, or None.

    The UTC dates of the first start and the last end, a day wider each side (every zone's
    local day is then inside), as months: the range a derived table is rebuilt over.
    """
    lo, hi = wh.con.sql("SELECT min(started_at), max(ended_at) FROM sessions").fetchall()[0]
    if lo is None:
        return None
    return (lo - dt.timedelta(days=1)).date().replace(day=1), (hi + dt.timedelta(days=1)).date().replace(day=1)


def _ledger_state(wh: Warehouse) -> str:
    n, top = wh.con.execute("SELECT count(*), coalesce(max(file_id), 0) FROM ingest_ledger").fetchall()[0]
    return f"{n}:{top}"


def entries_since(wh: Warehouse, name: str, version: str) -> list[int] | None:
    """The ingest-ledger entries written after derived table *name* was made, or None when it must be remade whole.

    Whole (None): nothing kept yet, another engine version, or a ledger that does not extend the
    one the table was made under. An empty list: it is current.
    """
    if not _has_registry(wh):
        return None
    row = wh.con.execute("SELECT fingerprint FROM derived_facts WHERE name = ?", [name]).fetchall()
    if not row:
        return None
    parts = row[0][0].split(":")  # version:entries:last file id (fingerprint)
    if len(parts) < 3 or ":".join(parts[:-2]) != version:
        return None
    n, top = int(parts[-2]), int(parts[-1])
    if wh.con.execute("SELECT count(*) FROM ingest_ledger WHERE file_id <= ?", [top]).fetchall()[0][0] != n:
        return None
    return [
        r[0] for r in wh.con.execute("SELECT file_id FROM ingest_ledger WHERE file_id > ? ORDER BY 1", [top]).fetchall()
    ]


def recorded_range(wh: Warehouse, name: str) -> tuple[dt.date, dt.date] | None:
    """The range derived table *name* was last made for, current or not (None: never made, or empty)."""
    if not _has_registry(wh):
        return None
    row = wh.con.execute("SELECT first_month, last_month FROM derived_facts WHERE name = ?", [name]).fetchall()
    return (row[0][0], row[0][1]) if row and row[0][0] is not None else None


def replace_from(wh: Warehouse, name: str, select: str, column: str, start: dt.date, order: str) -> None:
    """Replace the rows of derived table *name* whose *column* is on or after *start* by those of *select*.

    The rows before *start* stay as they are: what an incremental refresh keeps. Call inside the
    transaction that records the table.
    """
    wh.con.execute(f"DELETE FROM {name} WHERE {column} >= DATE '{start}'")
    wh.con.execute(
        f"INSERT INTO {name} BY NAME SELECT * FROM ({select}) x WHERE {column} >= DATE '{start}' ORDER BY {order}"
    )


def forget(wh: Warehouse, name: str) -> None:
    """Drop the record of derived table *name*: it is stale, and the next refresh remakes it whole."""
    if _has_registry(wh):
        wh.con.execute("DELETE FROM derived_facts WHERE name = ?", [name])


def fingerprint(wh: Warehouse, version: str) -> str:
    """What kept rows depend on: the engine *version* and the ingest ledger's state."""
    return f"{version}:{_ledger_state(wh)}"


def _has_registry(wh: Warehouse) -> bool:
    """A DuckDB warehouse has ``derived_facts`` (its schema is migrated on open); another engine's export has not."""
    return getattr(wh, "engine", "duckdb") == "duckdb"


def kept_range(wh: Warehouse, name: str, version: str) -> tuple[dt.date, dt.date] | None:
    """The months derived table *name* covers, when it is current for this warehouse; else None."""
    return kept_ranges(wh, {name: version}).get(name)


def kept_ranges(wh: Warehouse, versions: dict[str, str]) -> dict[str, tuple[dt.date, dt.date]]:
    """The ranges of those derived tables (name → engine version) that are current, in two small queries.

    A table is in the result when its recorded fingerprint is the warehouse's
    current one under its version (:func:`fingerprint`) and it covers a range.
    """
    if not _has_registry(wh):
        return {}
    state = _ledger_state(wh)
    rows = wh.con.execute("SELECT name, fingerprint, first_month, last_month FROM derived_facts").fetchall()
    return {
        name: (first, last)
        for name, stamp, first, last in rows
        if name in versions and stamp == f"{versions[name]}:{state}" and first is not None
    }


def keep(
    wh: Warehouse, name: str, version: str, table: pa.Table | None, first: dt.date | None, last: dt.date | None
) -> None:
    """Replace derived table *name* with *table* and record its fingerprint, in one transaction."""
    con = wh.con
    stamp = fingerprint(wh, version)
    with wh.transaction():
        con.execute(f"DELETE FROM {name}")
        if table is not None:
            con.register("_derived_in", table)
            con.execute(f"INSERT INTO {name} SELECT * FROM _derived_in")
            con.unregister("_derived_in")
        _record(wh, name, stamp, first, last, table.num_rows if table is not None else 0)


def record(wh: Warehouse, name: str, version: str, first: dt.date | None, last: dt.date | None, rows: int) -> None:
    """Record that derived table *name* is current now (call inside the transaction that rewrote it)."""
    _record(wh, name, fingerprint(wh, version), first, last, rows)


def _record(wh: Warehouse, name: str, stamp: str, first: dt.date | None, last: dt.date | None, rows: int) -> None:
    wh.con.execute("DELETE FROM derived_facts WHERE name = ?", [name])
    wh.con.execute(
        "INSERT INTO derived_facts VALUES (?, ?, ?, ?, ?, ?)",
        [name, stamp, first, last, rows, dt.datetime.now(dt.UTC).replace(tzinfo=None)],
    )
