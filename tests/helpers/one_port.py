"""A sites CSV of one new single-port site: an ingest that changes the ledger and the port count."""

from __future__ import annotations

from pathlib import Path

HEADER = (
    "site_id,site_name,customer_id,segment,revenue_model,time_zone,operating_hours,charger_id,port_id,"
    "connector_id,power_type,rated_kw,commissioned_on,decommissioned_on"
)


def write(path: Path, site_id: str) -> Path:
    """Write *path*: site *site_id* (commercial, UTC, 24/7) with one 11 kW AC port, in service since 2020."""
    row = f"{site_id},{site_id},C-X,commercial,caas,UTC,24/7,{site_id}-C,{site_id}-P1,1,AC_3_PHASE,11,2020-01-01,"
    path.write_text(f"{HEADER}\n{row}\n")
    return path
