"""Write one table of a batch against what the warehouse holds: new rows, duplicates, replacements.

Per table (see :class:`~evrevops.warehouse.schema.TableSpec`):

* a row whose key is new is inserted;
* a row whose key exists is a *duplicate* when it carries nothing newer (same
  or older ``version``; or, without a version column, the same values), else it
  *replaces* the stored row — only the columns the file provides are updated,
  and in tables with ``null_keeps`` only those it gives a value;
* within one file, the last version of a key wins and earlier ones are
  duplicates;
* an *implied* row (a table of the batch's ``implied``: e.g. a site known only from a
  CDR's location) is added when its key is new, and otherwise only fills the stored
  row's empty columns.

:func:`load_table` works in temp tables of the warehouse's connection, inside the
caller's transaction (:func:`evrevops.warehouse.loader.load_batch`): ``_b`` (the
batch's rows, registered from Arrow), ``_k`` (their keys, ranked), ``_d`` and ``_c``
(each row's class: ``_exists``, ``_dup``). The caller reads ``_c`` after each table
(which records were duplicates) and expects ``_qrec`` (the records already
quarantined) to exist.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa

from evrevops.core.sqltext import sql_identifier
from evrevops.warehouse.db import Warehouse
from evrevops.warehouse.schema import TableSpec


class IngestError(RuntimeError):
    """The loader found the counts inconsistent and rolled back."""


def _table_columns(wh: Warehouse, table: str) -> list[str]:
    return [
        r[0]
        for r in wh.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]


def _match(spec: TableSpec, left: str, right: str) -> str:
    return " AND ".join(
        f"{left}.{sql_identifier(k)} IS NOT DISTINCT FROM {right}.{sql_identifier(k)}" for k in spec.key
    )


def _stage(wh: Warehouse, spec: TableSpec, tbl: pa.Table) -> tuple[list[str], list[str]]:
    """Register *tbl* as ``_b`` and rank its keys in the narrow temp table ``_k``.

    ``_k(_row, source_record, <key>, _rn)`` holds every row of a record that was
    not quarantined (``_row`` is the row's position in the batch, since one
    record may give several rows); ``_rn`` = 1 for the version of a key that
    wins within the file.
    Only keys, version and record numbers are copied: the wide rows stay in
    Arrow until they are written. Returns (provided columns, all target columns).
    """
    target_cols = _table_columns(wh, spec.name)
    provided = [c for c in tbl.column_names if c not in ("source_record", "file_id")]
    unknown = [c for c in provided if c not in target_cols]
    if unknown:
        raise IngestError(f"reader produced columns {unknown} unknown to table {spec.name}")
    missing_key = [k for k in spec.key if k not in provided]
    if missing_key:
        raise IngestError(f"reader did not provide key columns {missing_key} of table {spec.name}")
    wh.con.register("_b", tbl.append_column("_row", pa.array(np.arange(tbl.num_rows, dtype=np.int64))))
    order = (
        f"{sql_identifier(spec.version)} DESC NULLS LAST, " if spec.version and spec.version in provided else ""
    ) + "source_record DESC"
    keys = ", ".join(sql_identifier(k) for k in spec.key)
    wh.con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _k AS
            SELECT _row, CAST(source_record AS BIGINT) AS source_record, {keys},
                   row_number() OVER (PARTITION BY {keys} ORDER BY {order}) AS _rn
            FROM _b WHERE source_record NOT IN (SELECT source_record FROM _qrec)"""
    )
    return provided, target_cols


def _classify(wh: Warehouse, spec: TableSpec, provided: list[str]) -> None:
    """Narrow temp table ``_c(_row, source_record, _rn, _exists, _dup)``: each staged row against the target.

    Only winning rows (``_rn`` = 1) whose key is stored are compared column by
    column with the stored row; every other row is settled by its key alone.
    """
    compare = [c for c in provided if c not in spec.key and c not in spec.compare_exclude]
    states = "s.{c} IS NULL OR " if spec.null_keeps else ""  # a NULL states nothing: it matches anything
    identical = (
        " AND ".join(
            f"({states.format(c=sql_identifier(c))}s.{sql_identifier(c)} IS NOT DISTINCT FROM t.{sql_identifier(c)})"
            for c in compare
        )
        or "true"
    )
    if spec.version and spec.version in provided:
        # Both versions known: newer replaces, same or older is a duplicate. Otherwise compare values.
        v = sql_identifier(spec.version)
        same = f"CASE WHEN t.{v} IS NOT NULL AND s.{v} IS NOT NULL THEN t.{v} >= s.{v} ELSE ({identical}) END"
    else:
        same = identical
    wh.con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _d AS
            SELECT k._row, ({same}) AS _same
            FROM (SELECT * FROM _k WHERE _rn = 1) k
            JOIN {sql_identifier(spec.name)} t ON {_match(spec, "k", "t")}
            JOIN _b s ON s._row = k._row"""
    )
    wh.con.execute(
        """CREATE OR REPLACE TEMP TABLE _c AS
            SELECT k._row, k.source_record, k._rn, d._row IS NOT NULL AS _exists,
                   k._rn > 1 OR coalesce(d._same, false) AS _dup
            FROM _k k LEFT JOIN _d d ON d._row = k._row"""
    )


def _write(
    wh: Warehouse, spec: TableSpec, provided: list[str], target_cols: list[str], file_id: int, implied: bool, rows: int
) -> int:
    """Insert new rows of ``_b`` and apply replacements, as ``_c`` says; return rows replaced."""
    cols = provided + ["file_id", "source_record"]
    col_sql = ", ".join(sql_identifier(c) for c in cols)
    sel_sql = ", ".join(
        f"{file_id}::BIGINT"
        if c == "file_id"
        else "CAST(source_record AS BIGINT)"
        if c == "source_record"
        else sql_identifier(c)
        for c in cols
    )
    n_new = wh.con.execute("SELECT count(*) FROM _c WHERE _rn = 1 AND NOT _exists").fetchall()[0][0]
    if n_new == rows:  # every row of the batch is new: no filter to apply
        wh.con.execute(f"INSERT INTO {sql_identifier(spec.name)} ({col_sql}) SELECT {sel_sql} FROM _b")
    elif n_new:
        wh.con.execute(
            f"""INSERT INTO {sql_identifier(spec.name)} ({col_sql}) SELECT {sel_sql} FROM _b
                WHERE _row IN (SELECT _row FROM _c WHERE _rn = 1 AND NOT _exists)"""
        )
    if implied:
        _fill_gaps(wh, spec, provided)
        return 0
    n_rep = wh.con.execute("SELECT count(*) FROM _c WHERE _rn = 1 AND _exists AND NOT _dup").fetchall()[0][0]
    if n_rep:
        merged = ", ".join(
            (
                f"{file_id}::BIGINT AS file_id"
                if c == "file_id"
                else "r.source_record AS source_record"
                if c == "source_record"
                else f"coalesce(r.{sql_identifier(c)}, t.{sql_identifier(c)}) AS {sql_identifier(c)}"
                if c in provided and spec.null_keeps
                else f"r.{sql_identifier(c)} AS {sql_identifier(c)}"
                if c in provided
                else f"t.{sql_identifier(c)} AS {sql_identifier(c)}"
            )
            for c in target_cols
        )
        wh.con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _r AS
                SELECT {merged}
                FROM (SELECT b.* REPLACE (CAST(b.source_record AS BIGINT) AS source_record)
                      FROM _b b JOIN _c ON _c._row = b._row
                      WHERE _c._rn = 1 AND _c._exists AND NOT _c._dup) r
                JOIN {sql_identifier(spec.name)} t ON {_match(spec, "r", "t")}"""
        )
        wh.con.execute(f"DELETE FROM {sql_identifier(spec.name)} t USING _r WHERE {_match(spec, '_r', 't')}")
        wh.con.execute(f"INSERT INTO {sql_identifier(spec.name)} SELECT * FROM _r")
        wh.con.execute("DROP TABLE _r")
    return n_rep


def _fill_gaps(wh: Warehouse, spec: TableSpec, provided: list[str]) -> None:
    """Implied rows whose key is stored fill the stored row's empty columns, never overwriting one.

    A charger known from the sites CSV gets its firmware and OCPP version from
    a BootNotification; a site from a CDR's location gets the address the
    sites CSV left empty.
    """
    cols = [c for c in provided if c not in spec.key]
    if not cols:
        return
    sets = ", ".join(f"{sql_identifier(c)} = coalesce(t.{sql_identifier(c)}, s.{sql_identifier(c)})" for c in cols)
    gaps = " OR ".join(f"(t.{sql_identifier(c)} IS NULL AND s.{sql_identifier(c)} IS NOT NULL)" for c in cols)
    wh.con.execute(
        f"""UPDATE {sql_identifier(spec.name)} AS t SET {sets}
            FROM (SELECT b.* FROM _b b JOIN _c ON _c._row = b._row WHERE _c._rn = 1 AND _c._exists) s
            WHERE {_match(spec, "s", "t")} AND ({gaps})"""
    )


def _earliest(wh: Warehouse, spec: TableSpec, provided: list[str], target_cols: list[str]) -> datetime | None:
    """The earliest instant (``spec.time``) the rows ``_c`` says will be written date: the new rows, and
    both versions of a replaced one (a correction that moves a row later changes where it was too)."""
    if spec.time is None:
        return None
    t = sql_identifier(spec.name)
    cols = ", ".join(
        f"{'b' if c in provided else 't'}.{sql_identifier(c)} AS {sql_identifier(c)}"
        for c in target_cols
        if c not in ("file_id", "source_record")
    )
    return wh.con.execute(
        f"""SELECT least(
               (SELECT min({spec.time}) FROM (
                   SELECT {cols} FROM _b b JOIN _c ON _c._row = b._row
                   LEFT JOIN {t} t ON {_match(spec, "b", "t")}
                   WHERE _c._rn = 1 AND NOT _c._dup) x),
               (SELECT min({spec.time}) FROM (
                   SELECT t.* FROM {t} t JOIN (
                       SELECT b.* FROM _b b JOIN _c ON _c._row = b._row WHERE _c._rn = 1 AND _c._exists AND NOT _c._dup
                   ) r ON {_match(spec, "r", "t")}) y))"""
    ).fetchall()[0][0]


def load_table(
    wh: Warehouse, spec: TableSpec, tbl: pa.Table, file_id: int, implied: bool
) -> tuple[int, datetime | None]:
    """Stage, classify and write one table of a batch; return rows replaced and the earliest instant written."""
    provided, target_cols = _stage(wh, spec, tbl)
    try:
        _classify(wh, spec, provided)
        earliest = None if implied else _earliest(wh, spec, provided, target_cols)
        return _write(wh, spec, provided, target_cols, file_id, implied, tbl.num_rows), earliest
    finally:
        wh.con.unregister("_b")
