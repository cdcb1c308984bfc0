"""The ingest ledger (``ingest_ledger``): append-only, one entry per change of the ingested rows.

Every ingested file, ``sites set-tariff`` and ``ledger forget`` is an entry; its ``file_id`` is
the provenance of the rows it wrote. This module numbers entries (:func:`next_file_id`), keeps
the ledger's clock (:func:`now`) and records what one file's ingest did (:class:`IngestResult`,
:func:`record_ingest`). Which entries were forgotten: :mod:`evrevops.warehouse.forget`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime


@dataclass
class IngestResult:
    """What one file's ingest did (also stored in ``ingest_ledger``)."""

    path: str
    file_id: int | None
    format: str
    mapping: str | None
    records_read: int
    accepted: int
    duplicate: int
    quarantined: int
    replaced: int
    status: str  # 'committed' or 'unchanged'
    seconds: float
    notes: list[str] = field(default_factory=list)  # what the reader noticed (Batch.notes), or why unchanged

    def as_dict(self) -> dict:
        return asdict(self)


def now() -> datetime:
    """The ledger's clock: the current UTC instant, naive (as every ``*_at`` column)."""
    return datetime.now(UTC).replace(tzinfo=None)


def next_file_id(con) -> int:
    """The ``file_id`` of the next entry (one past the highest; 1 for an empty ledger).

    Call it inside the transaction that writes the entry (*con*: the warehouse's DuckDB connection).
    """
    return con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM ingest_ledger").fetchall()[0][0]


def record_ingest(
    con, result: IngestResult, checksum: str, size_bytes: int | None, earliest_at: datetime | None
) -> None:
    """Append the entry of a file's ingest (*result*, with the file's SHA-256 *checksum* and *size_bytes*).

    *earliest_at* is the earliest instant the rows it wrote date (NULL: none the kept facts read);
    ``started_at`` and ``finished_at`` are the time of the call.
    """
    con.execute(
        """INSERT INTO ingest_ledger (file_id, path, checksum, format, mapping, size_bytes, started_at,
               finished_at, records_read, accepted, duplicate, quarantined, replaced, status, earliest_at, notes)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            result.file_id,
            result.path,
            checksum,
            result.format,
            result.mapping,
            size_bytes,
            now(),
            now(),
            result.records_read,
            result.accepted,
            result.duplicate,
            result.quarantined,
            result.replaced,
            result.status,
            earliest_at,
            "\n".join(result.notes) or None,
        ],
    )
