"""Small hand-built networks for the uptime tests: OCPP logs, sites and incidents written as files and ingested."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from evrevops.warehouse.db import Warehouse, open_warehouse
from evrevops.warehouse.loader import ingest_file

SITES_HEADER = (
    "site_id,site_name,customer_id,segment,revenue_model,time_zone,operating_hours,charger_id,port_id,"
    "connector_id,power_type,rated_kw,commissioned_on,decommissioned_on"
)


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def heartbeat(charger: str, t: dt.datetime, n: int) -> dict:
    return {"timestamp": iso(t), "charge_point_id": charger, "message": [2, f"hb-{n}", "Heartbeat", {}]}


def status(charger: str, t: dt.datetime, connector: int, st: str, err: str = "NoError", uid: str = "") -> dict:
    payload = {"connectorId": connector, "status": st, "errorCode": err, "timestamp": iso(t)}
    return {"timestamp": iso(t), "charge_point_id": charger, "message": [2, uid or f"st-{iso(t)}-{connector}", "StatusNotification", payload]}  # fmt: skip


def hourly(charger: str, start: dt.datetime, end: dt.datetime, skip: list[tuple[dt.datetime, dt.datetime]]) -> list[dict]:  # fmt: skip
    """Heartbeats every hour in [start, end], none strictly inside the *skip* windows."""
    out, t, n = [], start, 0
    while t <= end:
        if not any(a < t < b for a, b in skip):
            out.append(heartbeat(charger, t, n))
        t += dt.timedelta(hours=1)
        n += 1
    return out


def write_network(folder: Path, sites: list[str], log: list[dict], incidents: list[str] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sites.csv").write_text(SITES_HEADER + "\n" + "\n".join(sites) + "\n")
    (folder / "ocpp.ndjson").write_text("\n".join(json.dumps(x) for x in log) + "\n")
    if incidents:
        (folder / "incidents.csv").write_text(
            "incident_id,site_id,port_id,charger_id,started_at,ended_at,cause\n" + "\n".join(incidents) + "\n"
        )


def ingest(folder: Path, db: Path) -> Warehouse:
    wh = open_warehouse(db)
    for name in ("sites.csv", "ocpp.ndjson", "incidents.csv"):
        if (folder / name).exists():
            r = ingest_file(wh, folder / name)
            assert r.quarantined == 0, (name, r)
    return wh
