"""The warehouse's own record: the ingest ledger, the quarantined records, and a summary of what it holds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from evrevops.query.quarantine import quarantine_counts, quarantine_page
from evrevops.query.result import TableResult, table_result
from evrevops.warehouse import status as wstatus
from evrevops.warehouse.db import Warehouse


def ledger(wh: Warehouse) -> TableResult:
    """Every ingested file, oldest first, with its counts (``records_read`` = ``accepted`` + ``duplicate`` +
    ``quarantined``, and ``replaced``), status, checksum, and the entry a forget undid."""
    return table_result(wstatus.ledger(wh), "ingest ledger")


def quarantine(
    wh: Warehouse,
    file_id: int | None = None,
    limit: int | None = 200,
    *,
    file: str | None = None,
    reason: str | None = None,
    offset: int = 0,
) -> TableResult:
    """The quarantined records (of ledger entry *file_id*; filters and paging of
    :func:`evrevops.query.quarantine.quarantine_page`): file, record, field, reason and the raw record's first 200
    characters, one row per field at fault; *limit* rows at most (None: all).

    Raises
    ------
    ValueError
        A negative *limit* or *offset*.
    """
    return quarantine_page(wh, file_id, limit, file=file, reason=reason, offset=offset).result


def status(wh: Warehouse) -> TableResult:
    """The warehouse in ``item``/``value`` rows (values as text): its file, schema version, row counts per table,
    the quarantined records (``rows.quarantine`` has a row per field at fault of each), the sessions' date range, and
    data gaps worth knowing (sites without a time zone, ports at two sites, ...)."""
    rows = wstatus.summary(wh)
    at = next((i + 1 for i, r in enumerate(rows) if r["item"] == "rows.quarantine"), len(rows))
    records = {"item": "quarantine.records (the ledger's quarantined)", "value": str(quarantine_counts(wh).records)}
    return table_result(pa.Table.from_pylist([*rows[:at], records, *rows[at:]]), f"warehouse {wh.path}")


@dataclass(frozen=True)
class IngestTotals:
    """The records of a batch of ingests [count]: ``records_read`` = ``accepted`` + ``duplicate`` + ``quarantined``."""

    records_read: int
    accepted: int
    duplicate: int
    quarantined: int


def ingest_totals(entries: Iterable[Mapping[str, Any]]) -> IngestTotals:
    """The totals of the ledger entries (or ingest results) *entries*; a missing or null count is 0."""
    rows = list(entries)
    keys = ("records_read", "accepted", "duplicate", "quarantined")
    return IngestTotals(*(int(sum(r.get(k) or 0 for r in rows)) for k in keys))
