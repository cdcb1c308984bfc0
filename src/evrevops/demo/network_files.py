"""The network's files: ``customers.csv``, ``sites.csv`` and the OCPI Locations of ``locations.json``."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from evrevops.demo import params as P
from evrevops.demo.catalog import LIMITED_HOURS, PARKING_TYPE
from evrevops.demo.network import Network


def _date(d) -> str:
    return "" if d is None or (isinstance(d, float) and np.isnan(d)) or pd.isna(d) else d.isoformat()


def write_customers(net: Network, path) -> int:
    """Write ``customers.csv``; returns its number of rows."""
    df = net.customers.copy()
    df["created_on"] = df.created_on.map(_date)
    cols = ["customer_id", "name", "segment", "revenue_model", "country", "currency", "billing_email", "created_on"]
    df[cols].to_csv(path, index=False, lineterminator="\n")
    return len(df)


def _port_rows(net: Network) -> pd.DataFrame:
    """One sites.csv row per port, as the network is at its latest (no bay, no dated changes)."""
    s = net.sites.set_index("site_id")
    c = net.chargers.set_index("charger_id")
    p = net.ports
    return pd.DataFrame(
        {
            "site_id": p.site_id,
            "site_name": p.site_id.map(s.site_name),
            "customer_id": p.site_id.map(s.customer_id),
            "segment": p.site_id.map(s.segment),
            "revenue_model": p.site_id.map(s.revenue_model),
            # a fleet's depot meter is in the fleet's name: it pays the utility, not the CaaS operator
            "energy_position": p.site_id.map(
                ((s.segment == "fleet") & (s.revenue_model == "caas")).map({True: "customer", False: ""})
            ),
            "time_zone": p.site_id.map(s.time_zone),
            "utility_tariff_id": p.site_id.map(s.utility_tariff_id),
            "grid_capacity_kw": p.site_id.map(s.grid_capacity_kw),
            "operating_hours": p.site_id.map(s.operating_hours),
            "address": p.site_id.map(s.address),
            "city": p.site_id.map(s.city),
            "state": p.site_id.map(s.state),
            "postal_code": p.site_id.map(s.postal_code),
            "country": "USA",
            "latitude": p.site_id.map(s.latitude).map(lambda v: f"{v:.6f}"),
            "longitude": p.site_id.map(s.longitude).map(lambda v: f"{v:.6f}"),
            "charger_id": p.charger_id,
            "charger_vendor": p.charger_id.map(c.vendor),
            "charger_model": p.charger_id.map(c.model),
            "port_id": p.port_id,
            "connector_id": p.connector_id,
            "power_type": p.power_type,
            "connector_standard": p.connector_standard,
            "rated_kw": p.rated_kw.map(lambda v: f"{v:g}"),
            "commissioned_on": p.commissioned_on.map(_date),
            "decommissioned_on": p.decommissioned_on.map(_date),
            "effective_on": "",
        }
    )


def _bay_rows(out: pd.DataFrame, bay: dict) -> pd.DataFrame:
    """The bay's ports: a window at the bay for their first days, then their own site from the day they arrive.

    Their chargers move with them (a charger's site is that of its latest window). Sets the
    ports' commissioning at their own site in *out* and returns their rows at the bay.
    """
    idx = bay["port_idx"]
    out.loc[out.index[idx], "commissioned_on"] = bay["until"].isoformat()
    rows = out.iloc[idx].copy()
    for k, v in bay["site"].items():
        rows[k] = v
    rows["grid_capacity_kw"] = bay["site"]["grid_capacity_kw"]
    rows["latitude"] = f"{bay['site']['latitude']:.6f}"
    rows["longitude"] = f"{bay['site']['longitude']:.6f}"
    rows["commissioned_on"] = bay["on"].isoformat()
    rows["decommissioned_on"] = bay["until"].isoformat()
    return rows


def write_sites(net: Network, path) -> int:
    """Write ``sites.csv``: one row per port (docs/formats.md, Sites CSV); returns its number of rows."""
    out = _port_rows(net)
    parts = [out]
    if net.bay:
        parts.append(_bay_rows(out, net.bay))
    for ch in net.site_changes:
        # a dated statement of the site: its rows again, with the new facts from effective_on
        rows = out[out.site_id == ch["site_id"]].copy()
        for k in ("segment", "utility_tariff_id"):
            if k in ch:
                rows[k] = ch[k]
        rows["effective_on"] = ch["effective_on"].isoformat()
        parts.append(rows)
    out = pd.concat(parts, ignore_index=True)
    out.to_csv(path, index=False, lineterminator="\n")
    return len(out)


def _hours_json(text: str) -> dict:
    if text == "24/7":
        return {"twentyfourseven": True}
    # only the one limited schedule is generated: Mo-Fr 06:00-22:00; Sa,Su 08:00-20:00
    assert text == LIMITED_HOURS
    reg = [{"weekday": d, "period_begin": "06:00", "period_end": "22:00"} for d in range(1, 6)]
    reg += [{"weekday": d, "period_begin": "08:00", "period_end": "20:00"} for d in (6, 7)]
    return {"twentyfourseven": False, "regular_hours": reg}


def _port_status(port, export_date: dt.date) -> str:
    """The OCPI EVSE status of a port on the export day: PLANNED, REMOVED or AVAILABLE."""
    if port.commissioned_on > export_date:
        return "PLANNED"
    if (
        port.decommissioned_on is not None
        and not pd.isna(port.decommissioned_on)
        and port.decommissioned_on <= export_date
    ):
        return "REMOVED"
    return "AVAILABLE"


def _volts_amps(port) -> tuple[int, int]:
    """A connector's maximum voltage [V] and current [A] for its rated power."""
    if port.power_type == "DC":
        return (920, 400) if port.rated_kw > 200 else (500, int(round(port.rated_kw * 1000 / 500)))
    return 240, int(round(port.rated_kw * 1000 / 240))


def _evse(port, site, export_at: str, export_date: dt.date) -> dict:
    """The OCPI EVSE of one port (``uid`` = port id), with its one connector."""
    volt, amp = _volts_amps(port)
    return {
        "uid": port.port_id,
        "evse_id": port.evse_id,
        "status": _port_status(port, export_date),
        "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"]
        + (["CREDIT_CARD_PAYABLE"] if site.segment == "public_dc" else []),
        "connectors": [
            {
                "id": str(port.connector_id),
                "standard": port.connector_standard,
                "format": "CABLE",
                "power_type": port.power_type,
                "max_voltage": volt,
                "max_amperage": amp,
                "max_electric_power": int(round(port.rated_kw * 1000)),
                "tariff_ids": [site.driver_tariff_id],
                "last_updated": export_at,
            }
        ],
        "physical_reference": port.port_id.split("-", 2)[-1],
        "last_updated": export_at,
    }


def _bay_location(bay_site: dict, export_at: str) -> dict:
    """The commissioning bay's Location: a live feed lists an EVSE where it is now, so the bay has none."""
    b = bay_site
    return {
        "country_code": "US",
        "party_id": P.PARTY,
        "id": b["site_id"],
        "publish": False,
        "name": b["site_name"],
        "address": b["address"],
        "city": b["city"],
        "postal_code": b["postal_code"],
        "state": b["state"],
        "country": "USA",
        "coordinates": {"latitude": f"{b['latitude']:.6f}", "longitude": f"{b['longitude']:.6f}"},
        "parking_type": "PARKING_LOT",
        "evses": [],
        "operator": {"name": P.OPERATOR},
        "time_zone": b["time_zone"],
        "opening_times": _hours_json(b["operating_hours"]),
        "last_updated": export_at,
    }


def locations(net: Network, export_at: str, export_date: dt.date) -> list[dict]:
    """OCPI 2.2.1 Location objects, one per site; EVSE ``uid`` = port id.

    Parameters
    ----------
    net : Network
        The demo network.
    export_at : str
        ``last_updated`` of every object (RFC 3339, UTC).
    export_date : datetime.date
        The export day: a port commissioned after it is PLANNED, one decommissioned by it REMOVED.
    """
    out = []
    owner = net.customers.set_index("customer_id").name
    ports_by_site = {k: g for k, g in net.ports.groupby("site_id", sort=False)}
    for s in net.sites.itertuples(index=False):
        evses = [_evse(p, s, export_at, export_date) for p in ports_by_site[s.site_id].itertuples(index=False)]
        out.append(
            {
                "country_code": "US",
                "party_id": P.PARTY,
                "id": s.site_id,
                "publish": s.segment in ("public_dc", "commercial"),
                "name": s.site_name,
                "address": s.address,
                "city": s.city,
                "postal_code": s.postal_code,
                "state": s.state,
                "country": "USA",
                "coordinates": {"latitude": f"{s.latitude:.6f}", "longitude": f"{s.longitude:.6f}"},
                "parking_type": PARKING_TYPE[s.segment],
                "evses": evses,
                "operator": {"name": P.OPERATOR},
                "owner": {"name": str(owner[s.customer_id])},
                "time_zone": s.time_zone,
                "opening_times": _hours_json(s.operating_hours),
                "last_updated": export_at,
            }
        )
    if net.bay:
        out.append(_bay_location(net.bay["site"], export_at))
    return out
