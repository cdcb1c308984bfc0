"""Sites and ports: the sites, where a port was when, and evidence that puts a port at two sites at once."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from evrevops.core.sqltext import sql_literal
from evrevops.query.result import COUNT, KW, TableResult, table_result
from evrevops.warehouse import port_sites
from evrevops.warehouse import status as wstatus
from evrevops.warehouse.db import Warehouse


def sites(wh: Warehouse) -> TableResult:
    """Every site with its segment, time zone and utility tariff."""
    return table_result(wstatus.sites(wh), "sites")


def site_ids(wh: Warehouse, segment: str | None = None) -> list[str]:
    """The ids of the sites (of *segment*), sorted as the warehouse lists them."""
    return list(wstatus.site_ids(wh, segment))


@dataclass(frozen=True)
class PortHistory:
    """Where a port was when (one row per site and dates, with its sessions and evidence), and evidence that puts it
    at two sites at once."""

    port_id: str
    history: TableResult
    conflicts: TableResult


def port_history(wh: Warehouse, port_id: str) -> PortHistory:
    """Where port *port_id* was when, and the evidence that disagrees.

    Raises
    ------
    ValueError
        An unknown port.
    """
    if not wh.fetch(f"SELECT count(*) AS n FROM ports WHERE port_id = {sql_literal(port_id)}").column("n")[0].as_py():
        raise ValueError(f"unknown port {port_id!r}")
    return PortHistory(
        port_id,
        table_result(port_sites.history(wh, port_id), f"where port {port_id} was"),
        table_result(port_sites.conflicts(wh, port_id), "evidence that puts it at two sites at once"),
    )


# the sites CSV's columns (docs/formats.md, "Sites CSV"), each with what the warehouse knows of it (SQL over
# s = sites, w = the port's window at the site, p = ports, c = chargers); NULL: nothing known, for the user to fill
_TEMPLATE = {
    "site_id": "s.site_id", "site_name": "s.name", "customer_id": "s.customer_id", "time_zone": "s.time_zone",
    "operating_hours": "s.operating_hours", "address": "s.address", "city": "s.city", "state": "s.state",
    "postal_code": "s.postal_code", "country": "s.country", "latitude": "s.latitude", "longitude": "s.longitude",
    "segment": "s.segment", "revenue_model": "s.revenue_model", "energy_position": "s.energy_position",
    "utility_tariff_id": "s.utility_tariff_id", "grid_capacity_kw": "s.grid_capacity_kw",
    "effective_on": "CAST(NULL AS DATE)", "charger_id": "p.charger_id", "charger_vendor": "c.vendor",
    "charger_model": "c.model", "port_id": "w.port_id", "connector_id": "p.connector_id",
    "power_type": "p.power_type", "connector_standard": "p.connector_standard", "rated_kw": "p.rated_kw",
    "commissioned_on": "w.from_on", "decommissioned_on": "w.to_on",
}  # fmt: skip
# a port's windows: those a sites CSV stated (one per site), else its site and dates in `ports` (e.g. from CDRs)
_WINDOWS = """
SELECT port_id, site_id, from_on, to_on FROM port_placements WHERE source IN ('sites-csv', 'ports')
UNION
SELECT port_id, site_id, commissioned_on, decommissioned_on FROM ports q
WHERE site_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM port_placements x WHERE x.port_id = q.port_id AND x.source IN ('sites-csv', 'ports'))"""


def template(wh: Warehouse) -> TableResult:
    """The sites CSV (``docs/formats.md``, "Sites CSV") of the sites and ports the warehouse knows: one row per port
    and site it was at (its window there), a site without ports on one row without a port; each column filled
    with what the warehouse knows now (a site's facts: its latest), empty where it knows nothing.

    ``effective_on`` is left empty: the file states today's inventory, so ingesting it unchanged states nothing
    new, and a value filled in is a site's fact since always (a site without facts) or from the first day of the
    current month (:mod:`evrevops.warehouse.site_history`).
    """
    cols = ", ".join(f"{expr} AS {name}" for name, expr in _TEMPLATE.items())
    sql = f"""SELECT {cols}
        FROM sites s LEFT JOIN ({_WINDOWS}) w ON w.site_id = s.site_id
        LEFT JOIN ports p ON p.port_id = w.port_id LEFT JOIN chargers c ON c.charger_id = p.charger_id
        ORDER BY s.site_id, w.port_id NULLS FIRST, w.from_on NULLS FIRST"""
    return table_result(wh.fetch(sql), "sites CSV template", {"rated_kw": KW, "grid_capacity_kw": KW})


_REQUIRED = ("site_id", "time_zone", "segment", "port_id")  # the sites CSV's required columns


def template_gaps(template_rows: TableResult) -> TableResult:
    """Each column of a :func:`template` with empty cells: how many rows leave it empty, and whether the sites CSV
    requires it (a row without a required value is quarantined when ingested)."""
    t = template_rows.table
    gaps = [(c, t.column(c).null_count) for c in t.column_names if c != "effective_on" and t.column(c).null_count]
    table = pa.table(
        {
            "column": pa.array([c for c, _ in gaps], pa.string()),
            "empty_rows": pa.array([n for _, n in gaps], pa.int64()),
            "required": pa.array([c in _REQUIRED for c, _ in gaps], pa.bool_()),
        }
    )
    return table_result(table, "columns to fill", {"empty_rows": COUNT})


def port_conflicts(wh: Warehouse) -> TableResult:
    """Every port that evidence puts at two sites at once: overlapping sessions, a feed, CSV windows."""
    return table_result(port_sites.conflicts(wh), "ports at two sites at once")
