"""Read-only views of the warehouse: ledger, quarantine and a summary."""

from __future__ import annotations

import pyarrow as pa

from evrevops.warehouse import port_sites
from evrevops.warehouse.db import Warehouse
from evrevops.warehouse.schema import SCHEMA_VERSION, TABLES


def ledger(wh: Warehouse) -> pa.Table:
    """Every ingested file with its counts, oldest first; ``forgets`` (the entry a forget undid) and ``notes``
    (what a reader noticed) where the schema has them (v7)."""
    have = {r[0] for r in wh.con.execute("SELECT column_name FROM (DESCRIBE ingest_ledger)").fetchall()}
    extra = "".join(f", {c}" for c in ("forgets", "notes") if c in have)
    return wh.con.sql(
        f"""SELECT file_id, path, format, mapping, records_read, accepted, duplicate, quarantined, replaced,
                   status, finished_at, checksum{extra}
            FROM ingest_ledger ORDER BY file_id"""
    ).to_arrow_table()


def quarantine(wh: Warehouse, file_id: int | None = None, limit: int = 200) -> pa.Table:
    """Quarantined records (file, record, field, reason, raw), optionally for one file; *limit* rows at most (>= 0)."""
    if limit < 0:
        raise ValueError(f"the row limit must be 0 or more, not {limit}")
    where = "WHERE file_id = $fid" if file_id is not None else ""
    params = {"fid": file_id, "lim": int(limit)} if file_id is not None else {"lim": int(limit)}
    return wh.con.sql(
        f"""SELECT file_id, path, source_record, field, reason, left(raw, 200) AS raw
            FROM quarantine {where} ORDER BY file_id, source_record, field LIMIT $lim""",
        params=params,
    ).to_arrow_table()


def summary(wh: Warehouse) -> list[dict]:
    """Schema version, row counts per table, session date range, and data gaps worth knowing."""
    rows: list[dict] = [
        {"item": "warehouse", "value": str(wh.path)},
        {"item": "schema_version", "value": str(SCHEMA_VERSION)},
    ]
    for name in TABLES:
        rows.append({"item": f"rows.{name}", "value": str(wh.count(name))})
    rows.append({"item": "rows.quarantine", "value": str(wh.count("quarantine"))})
    rng = wh.con.sql("SELECT min(started_at), max(started_at) FROM sessions").fetchall()[0]
    rows.append({"item": "sessions.first_start_utc", "value": str(rng[0])})
    rows.append({"item": "sessions.last_start_utc", "value": str(rng[1])})
    no_tz = wh.con.sql("SELECT count(*) FROM sites WHERE time_zone IS NULL").fetchall()[0][0]
    rows.append({"item": "sites.without_time_zone (computed in UTC)", "value": str(no_tz)})
    no_seg = wh.con.sql("SELECT count(*) FROM sites WHERE segment IS NULL").fetchall()[0][0]
    rows.append({"item": "sites.without_segment", "value": str(no_seg)})
    no_kw = wh.con.sql("SELECT count(*) FROM ports WHERE rated_kw IS NULL").fetchall()[0][0]
    rows.append({"item": "ports.without_rated_kw", "value": str(no_kw)})
    clash = wh.con.sql(f"SELECT count(DISTINCT port_id) FROM ({port_sites.conflicts_sql()}) c").fetchall()[0][0]
    rows.append({"item": "ports.at_two_sites_at_once (evrevops ports conflicts)", "value": str(clash)})
    moved = wh.con.sql(
        f"SELECT count(*) FROM (SELECT port_id FROM {port_sites.VIEW} GROUP BY port_id HAVING count(DISTINCT site_id) > 1) m"
    ).fetchall()[0][0]
    rows.append({"item": "ports.moved_between_sites (evrevops ports history PORT)", "value": str(moved)})
    return rows


def sites(wh: Warehouse) -> pa.Table:
    """Every site with its segment, customer, time zone, utility tariff and port count."""
    return wh.con.sql(
        """SELECT s.site_id, s.name, s.segment, s.customer_id, s.time_zone, s.utility_tariff_id,
                  u.utility_tariff_id IS NOT NULL AS tariff_known,
                  (SELECT count(*) FROM ports p WHERE p.site_id = s.site_id) AS ports
           FROM sites s LEFT JOIN utility_tariffs u ON u.utility_tariff_id = s.utility_tariff_id
           ORDER BY s.site_id"""
    ).to_arrow_table()


def site_ids(wh: Warehouse, segment: str | None = None) -> list[str]:
    """Every site id (of *segment*, when given), sorted (on either engine)."""
    sites = wh.table("sites")
    if segment is not None:
        sites = sites.filter(sites.segment == segment)
    return sorted(sites.select("site_id").to_pyarrow().column(0).to_pylist())


def site_utility_tariff(wh: Warehouse, site_id: str) -> str | None:
    """The site's ``utility_tariff_id`` (None when unset or the site is unknown), on either engine."""
    sites = wh.table("sites")
    rows = sites.filter(sites.site_id == site_id).select("utility_tariff_id").to_pyarrow().column(0).to_pylist()
    return rows[0] if rows else None
