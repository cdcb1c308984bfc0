"""Sites and ports: the sites, where a port was when, and evidence that puts a port at two sites at once."""

from __future__ import annotations

from dataclasses import dataclass

from evrevops.core.sqltext import sql_literal
from evrevops.query.result import TableResult, table_result
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


def port_conflicts(wh: Warehouse) -> TableResult:
    """Every port that evidence puts at two sites at once: overlapping sessions, a feed, CSV windows."""
    return table_result(port_sites.conflicts(wh), "ports at two sites at once")
