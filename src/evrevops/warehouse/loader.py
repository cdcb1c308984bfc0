"""Load parsed files into the warehouse: idempotent, transactional, counted.

One file is one transaction: its rows, its quarantine rows and its ledger entry
commit together or not at all (a crash mid-way leaves the warehouse as it was;
DuckDB discards uncommitted work on restart).

Every record of the file is counted once as *accepted*, *duplicate* or
*quarantined*, and ``read = accepted + duplicate + quarantined`` is checked
before commit. Re-ingesting a file with the same checksum changes nothing.

Per table (see :class:`~evrevops.warehouse.schema.TableSpec`):

* a row whose key is new is inserted;
* a row whose key exists is a *duplicate* when it carries nothing newer (same
  or older ``version``; or, without a version column, the same values), else it
  *replaces* the stored row — only the columns the file provides are updated,
  and in tables with ``null_keeps`` only those it gives a value;
* within one file, the last version of a key wins and earlier ones are
  duplicates.

A record is a duplicate when every row it produced is a duplicate; accepted
otherwise (records that store nothing, e.g. an OCPP Authorize, are accepted).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evrevops.core.sqltext import sql_identifier
from evrevops.formats import check_regular, limits
from evrevops.formats import read as read_file
from evrevops.formats.base import QUARANTINE_SCHEMA, Batch, FormatError, file_facts, file_identity, quarantine_table
from evrevops.warehouse import contract_lines, forget, port_sites, site_history
from evrevops.warehouse.db import Warehouse
from evrevops.warehouse.schema import TABLES, TableSpec


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


class IngestError(RuntimeError):
    """The loader found the counts inconsistent and rolled back."""


def file_checksum(path: Path) -> str:
    """SHA-256 of the file's bytes (see :func:`~evrevops.formats.base.file_facts`)."""
    return file_facts(path).sha256


def _quoted(text: str) -> str:
    """*text* as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


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


def _load_table(
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


def _resolve_ports(wh: Warehouse) -> None:
    """Fill ``port_id`` of OCPP-sourced rows from the ports table (charger + connector)."""
    for table in ("status_events", "meter_readings", "ocpp_transactions"):
        wh.con.execute(
            f"""UPDATE {table} SET port_id = p.port_id
                FROM ports p
                WHERE {table}.port_id IS NULL AND p.charger_id = {table}.charger_id
                  AND p.connector_id = {table}.connector_id"""
        )


def _against_history(wh: Warehouse, batch: Batch, file_id: int) -> Batch:
    """The batch as history lets it be written: refused contract events quarantined, undated site facts dated.

    Contract events are replayed with the line's stored events
    (:func:`evrevops.warehouse.contract_lines.refused`): an event the replay refuses is
    quarantined with the reason. Site facts without an ``effective_on`` are dated by
    :func:`evrevops.warehouse.site_history.resolve_undated`.
    """
    tables = dict(batch.tables)
    quarantine = batch.quarantine
    events = tables.get(contract_lines.EVENTS)
    if events is not None and events.num_rows:
        if quarantine.num_rows:  # records already refused by the reader are not replayed
            known = pc.is_in(
                pc.cast(events.column("source_record"), pa.int64()), value_set=quarantine.column("source_record")
            )
            events = events.filter(pc.invert(known))
        bad = contract_lines.refused(wh.con, events, file_id)
        if bad.num_rows:
            quarantine = pa.concat_tables([quarantine, bad.cast(QUARANTINE_SCHEMA)])
    facts = tables.get(site_history.TABLE)
    if facts is not None and facts.num_rows:
        tables[site_history.TABLE] = site_history.resolve_undated(wh.con, facts)
    for name, tbl in tables.items():
        spec = TABLES.get(name)
        if spec is not None and spec.version and tbl.num_rows:
            bad = _unversioned(wh, spec, tbl)
            if bad.num_rows:
                quarantine = pa.concat_tables([quarantine, bad])
    sessions = tables.get("sessions")
    if sessions is not None and sessions.num_rows:
        bad = _above_rating(wh, sessions, batch.implied.get("ports"))
        if bad.num_rows:
            quarantine = pa.concat_tables([quarantine, bad])
    if tables is batch.tables and quarantine is batch.quarantine:
        return batch
    return Batch(
        batch.format, batch.records_read, tables, quarantine, batch.implied, batch.absorbed, batch.mapping, batch.notes
    )


def _unversioned(wh: Warehouse, spec: TableSpec, tbl: pa.Table) -> pa.Table:
    """Records without a version (e.g. a CDR without ``last_updated``) that would replace a stored row that has
    one, with other values: quarantined, since nothing says which is newer (the stored, versioned record stays).
    """
    v = spec.version
    if not (set(spec.key) <= set(tbl.column_names)):
        return QUARANTINE_SCHEMA.empty_table()
    has_v = v in tbl.column_names
    compare = [
        c for c in tbl.column_names if c not in (*spec.key, v, "source_record", "file_id", *spec.compare_exclude)
    ]
    differs = " OR ".join(f"i.{sql_identifier(c)} IS DISTINCT FROM t.{sql_identifier(c)}" for c in compare) or "false"
    keys = " AND ".join(f"i.{sql_identifier(k)} = t.{sql_identifier(k)}" for k in spec.key)
    wh.con.register("_uv_in", tbl)
    try:
        return quarantine_table(
            wh.con.execute(
                f"""SELECT CAST(i.source_record AS BIGINT) AS source_record, ? AS field,
                       'no ' || ? || ', while the stored record (ledger entry ' || t.file_id || ') has one ('
                       || CAST(t.{sql_identifier(v)} AS VARCHAR) || '): a record without it cannot replace it'
                       AS reason,
                       CAST(NULL AS VARCHAR) AS raw
                FROM _uv_in i JOIN {sql_identifier(spec.name)} t ON {keys}
                WHERE {"i." + sql_identifier(v) + " IS NULL AND " if has_v else ""}t.{sql_identifier(v)} IS NOT NULL
                  AND ({differs})""",
                [v, v],
            ).fetchall()
        )
    finally:
        wh.con.unregister("_uv_in")


def _above_rating(wh: Warehouse, sessions: pa.Table, implied_ports: pa.Table | None) -> pa.Table:
    """Sessions whose energy passes what their port's rated power could deliver in the time plugged in.

    The bound is ``rated_kw × plugged_in_s / 3600 × energy_margin + energy_slack_kwh`` (the limits in
    force, :mod:`evrevops.formats.limits`), with the port's rating as stored, or as this file states it.
    Sessions of ports without a known rating were checked by the reader against ``max_power_kw``.
    """
    lim = limits.current()
    if not ({"port_id", "energy_kwh", "plugged_in_s"} <= set(sessions.column_names)):
        return QUARANTINE_SCHEMA.empty_table()
    wh.con.register("_ar_in", sessions.select(["source_record", "port_id", "energy_kwh", "plugged_in_s"]))
    rated = "SELECT port_id, rated_kw FROM ports"
    if implied_ports is not None and {"port_id", "rated_kw"} <= set(implied_ports.column_names):
        wh.con.register("_ar_ports", implied_ports.select(["port_id", "rated_kw"]))
        rated = f"SELECT port_id, rated_kw FROM _ar_ports UNION ALL {rated}"
    try:
        return quarantine_table(
            wh.con.execute(
                f"""SELECT CAST(i.source_record AS BIGINT) AS source_record, 'energy_kwh' AS field,
                       'energy ' || round(i.energy_kwh, 3) || ' kWh is more than port ' || i.port_id || ' rated '
                       || r.kw || ' kW can deliver in ' || round(i.plugged_in_s / 3600, 3) || ' h plugged in' AS reason,
                       CAST(NULL AS VARCHAR) AS raw
                FROM _ar_in i
                JOIN (SELECT port_id, max(rated_kw) AS kw FROM ({rated}) x WHERE rated_kw > 0 GROUP BY port_id) r
                  ON r.port_id = i.port_id
                WHERE i.energy_kwh > r.kw * i.plugged_in_s / 3600 * ? + ?""",
                [lim.energy_margin, lim.energy_slack_kwh],
            ).fetchall()
        )
    finally:
        wh.con.unregister("_ar_in")
        if implied_ports is not None and "_ar_ports" in rated:
            wh.con.unregister("_ar_ports")


def _follow_history(wh: Warehouse, batch: Batch) -> None:
    """After a batch's rows are written: ``sites``' fact columns and ``ports.site_id`` say what is now.

    A site's latest stated facts (:func:`evrevops.warehouse.site_history.current_sql`) and a
    port's latest membership (:func:`evrevops.warehouse.port_sites.current_sql`), for the sites
    and ports the batch wrote about.
    """
    con = wh.con
    written = {**batch.tables, **batch.implied}
    if site_history.TABLE in written and written[site_history.TABLE].num_rows:
        con.register("_touched_sites", written[site_history.TABLE].select(["site_id"]))
        con.execute(site_history.current_sql("_touched_sites"))
        con.unregister("_touched_sites")
    ids = pa.schema([("port_id", pa.string())])
    ports = [
        t.select(["port_id"]).cast(ids)
        for name, t in written.items()
        if name in ("ports", port_sites.TABLE) and "port_id" in t.column_names and t.num_rows
    ]
    sessions = written.get("sessions")
    if sessions is not None and sessions.num_rows and {"port_id", "site_id"} <= set(sessions.column_names):
        # a session where its port is now cannot move the port: only those elsewhere are looked at
        con.register("_touched_sessions", sessions.select(["port_id", "site_id"]))
        ports.append(
            con.sql(
                """SELECT DISTINCT CAST(s.port_id AS VARCHAR) AS port_id FROM _touched_sessions s
                   LEFT JOIN ports p ON p.port_id = s.port_id
                   WHERE s.port_id IS NOT NULL AND p.site_id IS DISTINCT FROM s.site_id"""
            )
            .to_arrow_table()
            .cast(ids)
        )
        con.unregister("_touched_sessions")
    ports = [t for t in ports if t.num_rows]
    if ports:
        con.register("_touched_ports", pa.concat_tables(ports))
        con.execute(port_sites.current_sql("_touched_ports"))
        con.unregister("_touched_ports")


def load_batch(wh: Warehouse, path: Path, checksum: str, batch: Batch, size_bytes: int | None = None) -> IngestResult:
    """Write *batch* (the parsed content of *path*) in one transaction."""
    t0 = time.perf_counter()
    con = wh.con
    with wh.transaction():
        file_id = con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM ingest_ledger").fetchall()[0][0]
        batch = _against_history(wh, batch, file_id)
        quarantine = batch.quarantine
        con.register("_qin", quarantine)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _qrec AS SELECT DISTINCT CAST(source_record AS BIGINT) AS source_record FROM _qin"
        )
        con.execute("CREATE OR REPLACE TEMP TABLE _status (source_record BIGINT, dup BOOLEAN)")
        replaced, dated = 0, []
        for name, tbl in batch.tables.items():
            spec = TABLES.get(name)
            if spec is None:
                raise IngestError(f"reader produced unknown table {name!r}")
            n, earliest = _load_table(wh, spec, tbl, file_id, implied=False)
            replaced += n
            dated += [earliest] if earliest is not None else []
            con.execute("INSERT INTO _status SELECT source_record, _dup FROM _c")
        for name, tbl in batch.implied.items():
            _load_table(wh, TABLES[name], tbl, file_id, implied=True)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _rec AS SELECT source_record, bool_and(dup) AS dup FROM _status GROUP BY 1"
        )
        absorbed = (
            batch.absorbed
            if batch.absorbed is not None
            else pa.table({"source_record": pa.array([], pa.int64()), "owner_record": pa.array([], pa.int64())})
        )
        con.register("_abs", absorbed)
        # An absorbed record shares its owner's fate; one whose owner was quarantined is quarantined too.
        abs_q = con.execute(
            """SELECT a.source_record, a.owner_record FROM _abs a
               WHERE a.owner_record IN (SELECT source_record FROM _qrec)
                 AND a.source_record NOT IN (SELECT source_record FROM _qrec)"""
        ).fetchall()
        dup_records = con.execute(
            """SELECT (SELECT count(*) FROM _rec WHERE dup)
                    + (SELECT count(*) FROM _abs a JOIN _rec r ON r.source_record = a.owner_record
                       WHERE r.dup AND a.source_record NOT IN (SELECT source_record FROM _rec)
                         AND a.source_record NOT IN (SELECT source_record FROM _qrec))"""
        ).fetchall()[0][0]
        with_rows = con.execute("SELECT count(*) FROM _rec").fetchall()[0][0]
        quarantined = con.execute("SELECT count(*) FROM _qrec").fetchall()[0][0] + len(abs_q)
        duplicate = int(dup_records)
        accepted = batch.records_read - duplicate - quarantined
        if accepted < 0 or with_rows + quarantined > batch.records_read:
            raise IngestError(
                f"{path}: inconsistent counts (read {batch.records_read}, records with rows {with_rows}, "
                f"duplicate {duplicate}, quarantined {quarantined}); nothing was written"
            )
        con.execute(
            """INSERT INTO quarantine
               SELECT ?, ?, source_record, field, reason, raw FROM _qin""",
            [file_id, str(path)],
        )
        if abs_q:
            con.executemany(
                "INSERT INTO quarantine VALUES (?, ?, ?, NULL, ?, NULL)",
                [[file_id, str(path), rec, f"completes record {owner}, which was quarantined"] for rec, owner in abs_q],
            )
        _follow_history(wh, batch)
        if batch.tables.keys() & {"status_events", "meter_readings", "ocpp_transactions", "ports"}:
            _resolve_ports(wh)
        con.execute(
            """INSERT INTO ingest_ledger (file_id, path, checksum, format, mapping, size_bytes, started_at,
                   finished_at, records_read, accepted, duplicate, quarantined, replaced, status, earliest_at, notes)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                file_id,
                str(path),
                checksum,
                batch.format,
                batch.mapping,
                size_bytes,
                _now(),
                _now(),
                batch.records_read,
                accepted,
                duplicate,
                quarantined,
                replaced,
                "committed",
                min(dated) if dated else None,
                "\n".join(batch.notes) or None,
            ],
        )
        for t in ("_qin", "_abs"):
            con.unregister(t)
        for t in ("_k", "_d", "_c", "_status", "_rec", "_qrec"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
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
        time.perf_counter() - t0,
        list(batch.notes),
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


def set_site_tariff(wh: Warehouse, site_id: str, utility_tariff_id: str, from_on: dt.date | None = None) -> dict:
    """Put *site_id* on *utility_tariff_id* from local date *from_on*, recorded in the ingest ledger.

    The change is a site fact (:mod:`evrevops.warehouse.site_history`): the site is billed under
    its earlier tariff before *from_on* and under this one from it, so bills, margins and P&Ls of
    the months before stay what they were. *from_on* defaults to the first day of the current
    month (:func:`~evrevops.warehouse.site_history.default_from`). The ledger row (``format``
    ``cli:sites set-tariff``) becomes the fact's ``file_id``, so the change is traceable like
    any ingested record. A later sites file that states another tariff from a date changes it
    from that date, as files do.

    Raises
    ------
    ValueError
        For an unknown site or a tariff that is not in ``utility_tariffs``.
    """
    con = wh.con
    if not con.execute("SELECT count(*) FROM sites WHERE site_id = ?", [site_id]).fetchall()[0][0]:
        raise ValueError(f"unknown site {site_id!r}")
    if not con.execute(
        "SELECT count(*) FROM utility_tariffs WHERE utility_tariff_id = ?", [utility_tariff_id]
    ).fetchall()[0][0]:
        raise ValueError(f"unknown utility tariff {utility_tariff_id!r}; ingest its URDB record first")
    from_on = from_on or site_history.default_from()
    now = _now()
    text = json.dumps(
        {"site_id": site_id, "utility_tariff_id": utility_tariff_id, "from_on": str(from_on)}, sort_keys=True
    )
    previous = con.execute(
        f"SELECT utility_tariff_id FROM {site_history.VIEW} h WHERE {site_history.on_sql('?', '?', 'h')}",
        [site_id, from_on, from_on],
    ).fetchall()
    with wh.transaction():
        file_id = con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM ingest_ledger").fetchall()[0][0]
        con.execute(
            """INSERT INTO ingest_ledger (file_id, path, checksum, format, started_at, finished_at,
                   records_read, accepted, duplicate, quarantined, replaced, status, earliest_at)
               VALUES (?, ?, ?, 'cli:sites set-tariff', ?, ?, 1, 1, 0, 0, 0, 'ok', ?)""",
            [
                file_id,
                f"evrevops sites set-tariff {site_id} {utility_tariff_id} --from {from_on}",
                hashlib.sha256(text.encode()).hexdigest(),
                now,
                now,
                dt.datetime.combine(from_on, dt.time()),
            ],  # fmt: skip
        )
        updated = con.execute(
            """UPDATE site_facts SET utility_tariff_id = ?, file_id = ?, source_record = 1
               WHERE site_id = ? AND effective_on = ? RETURNING site_id""",
            [utility_tariff_id, file_id, site_id, from_on],
        ).fetchall()
        if not updated:
            con.execute(
                "INSERT INTO site_facts (site_id, effective_on, utility_tariff_id, file_id, source_record) VALUES (?, ?, ?, ?, 1)",
                [site_id, from_on, utility_tariff_id, file_id],
            )
        con.execute(site_history.current_sql("(SELECT " + _quoted(site_id) + " AS site_id)"))
    return {
        "site_id": site_id,
        "utility_tariff_id": utility_tariff_id,
        "from_on": from_on,
        "previous": previous[0][0] if previous else None,
        "file_id": file_id,
    }
