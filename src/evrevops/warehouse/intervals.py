"""Intervals of local dates ``[from, to)`` with open (NULL) bounds: how the warehouse's histories say when a fact held.

A site's facts (:mod:`evrevops.warehouse.site_history`: ``valid_from``, ``valid_to``) and a
port's site (:mod:`evrevops.warehouse.port_sites`: ``from_on``, ``to_on``) are kept as such
intervals, one row per interval that never overlaps another of the same key; a NULL bound is
open (since always, resp. still). The SQL is portable: it runs on DuckDB and, transpiled, on Spark.
"""

from __future__ import annotations


def in_force_sql(rows: str, key_column: str, key: str, day: str, start: str, end: str) -> str:
    """Join condition: the row of *rows* whose *key_column* is *key* and whose interval holds on *day*.

    Parameters
    ----------
    rows : str
        The relation (name or alias) of the intervals.
    key_column : str
        Its key column (``site_id``, ``port_id``).
    key, day : str
        SQL expressions of the key and of the local date [DATE].
    start, end : str
        Its columns of the interval's first day and of the day after its last (exclusive) [DATE].
    """
    return (
        f"{rows}.{key_column} = {key} AND ({rows}.{start} IS NULL OR {rows}.{start} <= {day})"
        f" AND ({rows}.{end} IS NULL OR {rows}.{end} > {day})"
    )
