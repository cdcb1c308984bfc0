"""Load parsed files into the warehouse: idempotent, transactional, counted.

One file is one transaction: its rows, its quarantine rows and its ledger entry
commit together or not at all (a crash mid-way leaves the warehouse as it was;
DuckDB discards uncommitted work on restart).

Every record of the file is counted once as *accepted*, *duplicate* or
*quarantined*, and ``read = accepted + duplicate + quarantined`` is checked
before commit. Re-ingesting a file with the same checksum changes nothing.

A batch is written in steps, each its own module's:

* :mod:`~evrevops.warehouse.batch_checks`: what the stored rows refuse is quarantined;
* :mod:`~evrevops.warehouse.upsert`: each table's rows are new (inserted), duplicates or
  replacements (the rules are there);
* here: each record's count, and the quarantine rows;
* :mod:`~evrevops.warehouse.after_write`: the sites' and ports' current columns follow;
* :mod:`~evrevops.warehouse.ledger`: the entry.

A record is a duplicate when every row it produced is a duplicate; accepted
otherwise (records that store nothing, e.g. an OCPP Authorize, are accepted).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from evrevops.formats import check_regular
from evrevops.formats import read as read_file
from evrevops.formats.base import Batch, FormatError, file_facts, file_identity
from evrevops.warehouse import after_write, batch_checks, forget, ledger
from evrevops.warehouse.db import Warehouse
from evrevops.warehouse.ledger import IngestResult
from evrevops.warehouse.schema import TABLES
from evrevops.warehouse.upsert import IngestError, load_table

_STAGING_VIEWS = ("_qin", "_abs")  # Arrow tables registered while a batch is written
_STAGING_TABLES = ("_k", "_d", "_c", "_status", "_rec", "_qrec")  # temp tables made while a batch is written


def file_checksum(path: Path) -> str:
    """SHA-256 of the file's bytes (see :func:`~evrevops.formats.base.file_facts`)."""
    return file_facts(path).sha256


def load_batch(wh: Warehouse, path: Path, checksum: str, batch: Batch, size_bytes: int | None = None) -> IngestResult:
    """Write *batch* (the parsed content of *path*) in one transaction.

    Raises
    ------
    IngestError
        When the batch names an unknown table or column, or its counts do not add up; nothing is written.
    """
    t0 = time.perf_counter()
    con = wh.con
    with wh.transaction():
        file_id = ledger.next_file_id(con)
        batch = batch_checks.against_history(wh, batch, file_id)
        replaced, earliest_at = _write_tables(wh, batch, file_id)
        absorbed_quarantined = _absorbed_quarantined(wh, batch)
        result = _counted(wh, path, batch, file_id, replaced, len(absorbed_quarantined))
        _write_quarantine(wh, path, file_id, absorbed_quarantined)
        after_write.follow_history(wh, batch)
        if batch.tables.keys() & {*after_write.OCPP_TABLES, "ports"}:
            after_write.resolve_ports(wh)
        ledger.record_ingest(con, result, checksum, size_bytes, earliest_at)
        for t in _STAGING_VIEWS:
            con.unregister(t)
        for t in _STAGING_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {t}")
    result.seconds = time.perf_counter() - t0
    return result


def _write_tables(wh: Warehouse, batch: Batch, file_id: int) -> tuple[int, datetime | None]:
    """Write every table of *batch*, then its implied rows; return rows replaced and the earliest instant written.

    Leaves ``_qin`` (the quarantine rows, registered), ``_qrec`` (the quarantined records) and
    ``_rec(source_record, dup)`` (each record that produced rows: whether all of them were duplicates).
    """
    con = wh.con
    con.register("_qin", batch.quarantine)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _qrec AS SELECT DISTINCT CAST(source_record AS BIGINT) AS source_record FROM _qin"
    )
    con.execute("CREATE OR REPLACE TEMP TABLE _status (source_record BIGINT, dup BOOLEAN)")
    replaced, dated = 0, []
    for name, tbl in batch.tables.items():
        spec = TABLES.get(name)
        if spec is None:
            raise IngestError(f"reader produced unknown table {name!r}")
        n, earliest = load_table(wh, spec, tbl, file_id, implied=False)
        replaced += n
        dated += [earliest] if earliest is not None else []
        con.execute("INSERT INTO _status SELECT source_record, _dup FROM _c")
    for name, tbl in batch.implied.items():
        load_table(wh, TABLES[name], tbl, file_id, implied=True)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rec AS SELECT source_record, bool_and(dup) AS dup FROM _status GROUP BY 1"
    )
    return replaced, min(dated) if dated else None


def _absorbed_quarantined(wh: Warehouse, batch: Batch) -> list[tuple[int, int]]:
    """Register the batch's absorbed records as ``_abs``; return those whose owner was quarantined.

    An absorbed record shares its owner's fate; one whose owner was quarantined is quarantined
    too. Returns ``(source_record, owner_record)`` pairs.
    """
    absorbed = (
        batch.absorbed
        if batch.absorbed is not None
        else pa.table({"source_record": pa.array([], pa.int64()), "owner_record": pa.array([], pa.int64())})
    )
    wh.con.register("_abs", absorbed)
    return wh.con.execute(
        """SELECT a.source_record, a.owner_record FROM _abs a
           WHERE a.owner_record IN (SELECT source_record FROM _qrec)
             AND a.source_record NOT IN (SELECT source_record FROM _qrec)"""
    ).fetchall()


def _counted(
    wh: Warehouse, path: Path, batch: Batch, file_id: int, replaced: int, absorbed_quarantined: int
) -> IngestResult:
    """Each record of *batch* counted once: accepted, duplicate or quarantined (``seconds`` left 0).

    Raises
    ------
    IngestError
        When the counts do not add up to the records read.
    """
    con = wh.con
    dup_records = con.execute(
        """SELECT (SELECT count(*) FROM _rec WHERE dup)
                + (SELECT count(*) FROM _abs a JOIN _rec r ON r.source_record = a.owner_record
                   WHERE r.dup AND a.source_record NOT IN (SELECT source_record FROM _rec)
                     AND a.source_record NOT IN (SELECT source_record FROM _qrec))"""
    ).fetchall()[0][0]
    with_rows = con.execute("SELECT count(*) FROM _rec").fetchall()[0][0]
    quarantined = con.execute("SELECT count(*) FROM _qrec").fetchall()[0][0] + absorbed_quarantined
    duplicate = int(dup_records)
    accepted = batch.records_read - duplicate - quarantined
    if accepted < 0 or with_rows + quarantined > batch.records_read:
        raise IngestError(
            f"{path}: inconsistent counts (read {batch.records_read}, records with rows {with_rows}, "
            f"duplicate {duplicate}, quarantined {quarantined}); nothing was written"
        )
    return IngestResult(
        str(path),
        file_id,
        batch.format,
        batch.mapping,
        batch.records_read,
        accepted,
        duplicate,
        quarantined,
        replaced,
        "committed",
        0.0,
        list(batch.notes),
    )


def _write_quarantine(wh: Warehouse, path: Path, file_id: int, absorbed_quarantined: list[tuple[int, int]]) -> None:
    """The quarantine rows of the batch (``_qin``), and one for each absorbed record whose owner was quarantined."""
    wh.con.execute(
        """INSERT INTO quarantine
           SELECT ?, ?, source_record, field, reason, raw FROM _qin""",
        [file_id, str(path)],
    )
    if absorbed_quarantined:
        wh.con.executemany(
            "INSERT INTO quarantine VALUES (?, ?, ?, NULL, ?, NULL)",
            [
                [file_id, str(path), rec, f"completes record {owner}, which was quarantined"]
                for rec, owner in absorbed_quarantined
            ],
        )


class FileChangedError(FormatError):
    """The file changed while it was being read: nothing was written."""


RECENT_NS = 2_000_000_000  # a file changed less than this before it was read is hashed again after [ns]


def _same_bytes(path: Path, facts) -> str | None:
    """Why *path* no longer holds the bytes *facts* were taken from, or None when it does.

    The file's identity (device, inode, size, modification and change times in nanoseconds)
    must be what it was before the checksum was taken: every write moves the change time, and
    it cannot be set back. The kernel stamps it from a coarse clock (a few milliseconds), so a
    write within the same tick as the one before could leave it unmoved: a file changed less than
    :data:`RECENT_NS` before it was read (an export perhaps still being written) is hashed again
    as well. A file left alone for longer is not read twice: a 2.4 GB CDR export costs 3–5 s to
    hash, a third of its ingest.
    """
    try:
        now = file_identity(path)
    except OSError as exc:
        return f"it could no longer be read ({exc.strerror})"
    if now != facts.identity:
        return "its size or times changed"
    if facts.identity[4] < facts.read_at_ns - RECENT_NS:
        return None
    with open(path, "rb") as f:
        if hashlib.file_digest(f, "sha256").hexdigest() != facts.sha256:
            return "its bytes changed"
    return None


def ingest_file(
    wh: Warehouse,
    path: str | Path,
    fmt: str | None = None,
    mapping: str | None = None,
    force: bool = False,
    rebuild_from: Callable[[Warehouse, list[int]], dt.date | None] | None = None,
) -> IngestResult:
    """Read *path* and load it; a file already ingested (same checksum) changes nothing.

    The checksum the ledger records and the rows come from the same bytes: the file is hashed,
    read, then checked to be unchanged (:func:`_same_bytes`); a file that changed while it was
    read is refused (:class:`FileChangedError`) and nothing is written.

    Parameters
    ----------
    force : bool
        Read the file even when an ingest of the same bytes is in the ledger: that ingest is
        forgotten first (:func:`evrevops.warehouse.forget.forget_file`, with *rebuild_from*).

    Returns
    -------
    IngestResult
        ``status='unchanged'`` with ``accepted=0`` for a file seen before.

    Raises
    ------
    FormatError
        For a file that is not there, not a regular file (a FIFO, a device), too large once
        decompressed, has a line over the limit, or changed while it was read.
    """
    t0 = time.perf_counter()
    path = Path(path)
    check_regular(path)
    facts = file_facts(path)
    checksum = facts.sha256
    prior = wh.con.execute(
        f"""SELECT file_id, format, mapping, records_read, quarantined FROM ingest_ledger
            WHERE checksum = ? AND status = 'committed' AND {forget.live_sql()} ORDER BY file_id LIMIT 1""",
        [checksum],
    ).fetchall()
    if prior and force:
        for (fid,) in wh.con.execute(
            f"SELECT file_id FROM ingest_ledger WHERE checksum = ? AND status = 'committed' AND {forget.live_sql()}",
            [checksum],
        ).fetchall():
            forget.forget_file(wh, fid, rebuild_from=rebuild_from)
    elif prior:
        file_id, pfmt, pmap, read, quarantined = prior[0]
        notes = []
        if fmt is not None and fmt != pfmt:
            notes.append(
                f"these bytes were ingested as {pfmt} (ledger entry {file_id}), not {fmt}: "
                f"`evrevops ledger forget {file_id}` or `ingest --force` to read them again"
            )
        return IngestResult(
            str(path),
            file_id,
            pfmt,
            pmap,
            read,
            0,
            read - quarantined,
            quarantined,
            0,
            "unchanged",
            time.perf_counter() - t0,
            notes,
        )
    batch = read_file(path, fmt, mapping)
    changed = _same_bytes(path, facts)
    if changed:
        raise FileChangedError(
            path,
            f"changed while it was being read ({changed}); nothing was written: ingest it again once it is complete",
        )
    result = load_batch(wh, path, checksum, batch, size_bytes=facts.size_bytes)
    result.seconds = time.perf_counter() - t0
    return result
