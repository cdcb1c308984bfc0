"""Checks of a batch against what the warehouse holds, before it is written: what they refuse is quarantined.

The readers check each record alone (:mod:`evrevops.formats`); what needs the stored rows is
checked here, inside the loader's transaction (:func:`against_history`):

* a contract event the replay of its line's stored events refuses
  (:func:`evrevops.warehouse.contract_lines.refused`);
* a record without a version (e.g. a CDR without ``last_updated``) that would replace a
  stored, versioned row with other values;
* a session whose energy passes what its port's rated power could deliver in the time
  plugged in (the limits in force, :mod:`evrevops.formats.limits`).

Site facts without an ``effective_on`` are dated here too
(:func:`evrevops.warehouse.site_history.resolve_undated`).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from evrevops.core.sqltext import sql_identifier
from evrevops.formats import limits
from evrevops.formats.base import QUARANTINE_SCHEMA, Batch, quarantine_table
from evrevops.warehouse import contract_lines, site_history
from evrevops.warehouse.db import Warehouse
from evrevops.warehouse.schema import TABLES, TableSpec


def against_history(wh: Warehouse, batch: Batch, file_id: int) -> Batch:
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
