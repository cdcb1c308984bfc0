"""What follows a write of the warehouse's rows: the columns that say what is *now*, worked out again.

``sites``' fact columns hold each site's latest stated facts
(:func:`evrevops.warehouse.site_history.current_sql`), ``ports.site_id`` each port's latest
membership (:func:`evrevops.warehouse.port_sites.current_sql`), and OCPP rows get their
``port_id`` from ``ports``. The loader brings them up to date after it writes a batch
(:func:`follow_history`, :func:`resolve_ports`), the forget after it removes an entry's rows
(:func:`bring_current`); both inside their transaction.
"""

from __future__ import annotations

import pyarrow as pa

from evrevops.formats.base import Batch
from evrevops.warehouse import port_sites, site_history
from evrevops.warehouse.db import Warehouse

OCPP_TABLES = ("status_events", "meter_readings", "ocpp_transactions")  # rows that name a charger and connector


def resolve_ports(wh: Warehouse) -> None:
    """Fill ``port_id`` of OCPP-sourced rows from the ports table (charger + connector)."""
    for table in OCPP_TABLES:
        wh.con.execute(
            f"""UPDATE {table} SET port_id = p.port_id
                FROM ports p
                WHERE {table}.port_id IS NULL AND p.charger_id = {table}.charger_id
                  AND p.connector_id = {table}.connector_id"""
        )


def bring_current(wh: Warehouse, site_ids: pa.Table | None, port_ids: pa.Table | None) -> None:
    """``sites``' fact columns of *site_ids*, then ``ports.site_id`` of *port_ids*, from their history.

    Parameters
    ----------
    wh : Warehouse
    site_ids, port_ids : pyarrow.Table or None
        One column, ``site_id`` resp. ``port_id`` (repeats allowed); None or no rows: nothing to do.
    """
    con = wh.con
    if site_ids is not None and site_ids.num_rows:
        con.register("_touched_sites", site_ids)
        con.execute(site_history.current_sql("_touched_sites"))
        con.unregister("_touched_sites")
    if port_ids is not None and port_ids.num_rows:
        con.register("_touched_ports", port_ids)
        con.execute(port_sites.current_sql("_touched_ports"))
        con.unregister("_touched_ports")


def follow_history(wh: Warehouse, batch: Batch) -> None:
    """After a batch's rows are written: ``sites``' fact columns and ``ports.site_id`` say what is now.

    A site's latest stated facts and a port's latest membership (:func:`bring_current`), for the
    sites and ports the batch wrote about.
    """
    written = {**batch.tables, **batch.implied}
    facts = written.get(site_history.TABLE)
    sites = facts.select(["site_id"]) if facts is not None and facts.num_rows else None
    ports = _touched_ports(wh, written)
    bring_current(wh, sites, pa.concat_tables(ports) if ports else None)


def _touched_ports(wh: Warehouse, written: dict[str, pa.Table]) -> list[pa.Table]:
    """The ids of the ports whose membership the written tables may change (tables of ``port_id``, none empty)."""
    con = wh.con
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
    return [t for t in ports if t.num_rows]
