"""The quarantine: filtered, paged and grouped, and how its count meets the ingest ledger's.

The ledger's ``quarantined`` counts **records** (a record is accepted, duplicate or quarantined
once); the ``quarantine`` table holds one **row per field at fault** of a record (a CDR missing
eight required fields has eight rows; a line that is not JSON has one, with no field). So the
quarantine's distinct ``(file_id, source_record)`` equal the ledger's ``quarantined`` summed over
the entries not forgotten, and its rows are that many or more; a forgotten entry keeps its count
in the ledger while ``ledger forget`` removed its quarantine rows (:func:`quarantine_counts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evrevops.query.result import COUNT, TableResult, table_result
from evrevops.warehouse.db import Warehouse

# A reason with its values taken out, so that records refused by one rule group together: a quoted value becomes
# '…', a run that starts with a digit (a number, a date, a time, an amount) becomes #, but not one inside a name
# (UTF-8, ISO-4217, EVR-00001-01-1).
_PATTERN_SQL = r"""regexp_replace(regexp_replace(coalesce(reason, ''), '''[^'']*''', '''…''', 'g'),
                                  '(^|[^A-Za-z0-9_-]|[^A-Za-z0-9_]-)[0-9][0-9A-Za-z.,:+-]*', '\1#', 'g')"""


@dataclass(frozen=True)
class QuarantinePage:
    """One page of the quarantine and what it is a page of.

    Attributes
    ----------
    result : TableResult
        The rows shown (one per field at fault of a record).
    offset : int
        The rows of the filtered quarantine before them [count].
    total_rows : int
        The rows the filters match [count].
    total_records : int
        The records those rows belong to [count]: what the ledger's ``quarantined`` counts.
    filters : tuple of str
        The filters, in words (empty: the whole quarantine).
    """

    result: TableResult
    offset: int
    total_rows: int
    total_records: int
    filters: tuple[str, ...] = ()

    @property
    def first(self) -> int:
        """The 1-based number of the first row shown (0 when none is)."""
        return self.offset + 1 if self.result.num_rows else 0

    @property
    def last(self) -> int:
        """The number of the last row shown (``offset`` when none is)."""
        return self.offset + self.result.num_rows

    @property
    def more(self) -> bool:
        """Whether rows the filters match come after this page."""
        return self.last < self.total_rows


def _filter(file_id: int | None, file: str | None, reason: str | None) -> tuple[str, list[Any], tuple[str, ...]]:
    """The WHERE clause of the quarantine filters, its parameters and the filters in words."""
    conds: list[str] = []
    params: list[Any] = []
    words: list[str] = []
    if file_id is not None:
        conds.append("file_id = ?")
        params.append(int(file_id))
        words.append(f"ledger entry {file_id}")
    if file:
        conds.append("contains(lower(path), lower(?))")
        params.append(file)
        words.append(f"file ~ {file!r}")
    if reason:
        conds.append(f"(contains(lower(coalesce(reason, '')), lower(?)) OR contains(lower({_PATTERN_SQL}), lower(?)))")
        params += [reason, reason]
        words.append(f"reason ~ {reason!r}")
    return ("WHERE " + " AND ".join(conds)) if conds else "", params, tuple(words)


def quarantine_page(
    wh: Warehouse,
    file_id: int | None = None,
    limit: int | None = 50,
    *,
    file: str | None = None,
    reason: str | None = None,
    offset: int = 0,
) -> QuarantinePage:
    """A page of the quarantine, ordered by file, record and field, with the rows and records the filters match.

    Parameters
    ----------
    file_id
        Only the rows of this ledger entry.
    limit
        Rows at most [count]; None: every row from *offset*.
    file
        Only files whose path contains it (case-insensitive); a whole path as the ledger has it matches itself.
    reason
        Only rows whose reason contains it, or whose reason pattern (:func:`quarantine_summary`) does
        (case-insensitive).
    offset
        Rows to skip first [count].

    Raises
    ------
    ValueError
        A negative *limit* or *offset*.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"the row limit must be 0 or more, not {limit}")
    if offset < 0:
        raise ValueError(f"the offset must be 0 or more, not {offset}")
    where, params, words = _filter(file_id, file, reason)
    page = " LIMIT ? OFFSET ?" if limit is not None else " OFFSET ?"
    rows = wh.fetch(
        f"""SELECT file_id, path, source_record, field, reason, left(raw, 200) AS raw
            FROM quarantine {where}
            ORDER BY file_id, source_record, field, reason{page}""",
        [*params, *([int(limit)] if limit is not None else []), int(offset)],
    )
    n_rows, n_records = wh.rows(
        f"SELECT count(*), count(*) FILTER (WHERE first) FROM (SELECT row_number() OVER "
        f"(PARTITION BY file_id, source_record) = 1 AS first FROM quarantine {where}) q",
        params,
    )[0]
    return QuarantinePage(table_result(rows, "quarantine"), int(offset), int(n_rows), int(n_records), words)


def quarantine_summary(
    wh: Warehouse, file_id: int | None = None, *, file: str | None = None, reason: str | None = None
) -> TableResult:
    """The quarantine grouped by file and reason, filters as :func:`quarantine_page`.

    Returns
    -------
    TableResult
        ``file_id``, ``path``, ``reason`` (the reason with its values taken out: numbers, dates and ids as ``#``,
        quoted values as ``'…'``), ``fields`` (the fields at fault; ``(record)`` for a record refused whole),
        ``records`` and ``rows`` [count]. The ``rows`` add up to the quarantine's; a record refused for two reasons
        counts in both groups, so the ``records`` may add up to more than the ledger's ``quarantined``.
    """
    where, params, words = _filter(file_id, file, reason)
    table = wh.fetch(
        f"""SELECT file_id, path, reason,
                   string_agg(DISTINCT coalesce(field, '(record)'), ', ' ORDER BY coalesce(field, '(record)'))
                       AS fields,
                   CAST(count(DISTINCT coalesce(source_record, -1)) AS BIGINT) AS records,
                   CAST(count(*) AS BIGINT) AS rows
            FROM (SELECT file_id, path, source_record, field, {_PATTERN_SQL} AS reason FROM quarantine {where}) q
            GROUP BY file_id, path, reason ORDER BY file_id, records DESC, reason""",
        params,
    )
    title = "quarantine by file and reason" + (f" ({', '.join(words)})" if words else "")
    return table_result(table, title, extra={"records": COUNT, "rows": COUNT})


@dataclass(frozen=True)
class QuarantineCounts:
    """How the ledger's ``quarantined`` and the quarantine's rows relate (module docstring).

    Attributes
    ----------
    records : int
        Records in the quarantine (distinct file and record) [count].
    rows : int
        Its rows: one per field at fault of a record, so ``rows >= records`` [count].
    ledger_live : int
        ``quarantined`` summed over the ledger entries not forgotten [count]; equals ``records``.
    ledger_forgotten : int
        ``quarantined`` of the forgotten entries, whose quarantine rows the forget removed [count].
    """

    records: int
    rows: int
    ledger_live: int
    ledger_forgotten: int

    @property
    def ledger_total(self) -> int:
        """``quarantined`` summed over every ledger entry [count]."""
        return self.ledger_live + self.ledger_forgotten


def quarantine_counts(wh: Warehouse) -> QuarantineCounts:
    """The quarantine's records and rows, and the ledger's ``quarantined`` of live and of forgotten entries."""
    have = {r[0] for r in wh.rows("SELECT column_name FROM (DESCRIBE ingest_ledger)")}
    gone = "file_id IN (SELECT forgets FROM ingest_ledger WHERE forgets IS NOT NULL)" if "forgets" in have else "FALSE"
    records, rows = wh.rows(
        "SELECT count(*) FILTER (WHERE first), count(*) FROM "
        "(SELECT row_number() OVER (PARTITION BY file_id, source_record) = 1 AS first FROM quarantine) q"
    )[0]
    live, forgotten = wh.rows(
        f"""SELECT CAST(coalesce(sum(quarantined) FILTER (WHERE NOT ({gone})), 0) AS BIGINT),
                   CAST(coalesce(sum(quarantined) FILTER (WHERE {gone}), 0) AS BIGINT) FROM ingest_ledger"""
    )[0]
    return QuarantineCounts(int(records), int(rows), int(live), int(forgotten))
