"""Deterministic demo network in the standard input formats (``evrevops generate``).

:func:`generate` writes, into ``out_dir``::

    customers.csv  sites.csv  locations.json  tariffs.json  utility_tariffs/urdb-*.json
    contracts.csv  deals.csv  deal_stages.csv  projects.csv  incentives.csv  incidents.csv  costs.csv
    cdrs/cdrs-YYYY-MM.ndjson   (OCPI 2.2.1 CDRs, by local month of the session start)
    ocpp/ocpp-YYYY-MM.ndjson   (OCPP 1.6J / 2.0.1 message log, by local month)

so that ``evrevops ingest out_dir`` runs the real readers. The same arguments
give byte-identical files. The assumptions, per segment, and the handbook
figures they come from are in ``docs/demo.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from evrevops.demo import params as P
from evrevops.demo.cdrs import month_of, write_cdrs
from evrevops.demo.commercial import contracts, costs, incentives, site_deals
from evrevops.demo.deals import pipeline
from evrevops.demo.network import build_network, make_window
from evrevops.demo.network_files import locations, write_customers, write_sites
from evrevops.demo.ocpp import build_events, write_ocpp
from evrevops.demo.outages import generate_outages
from evrevops.demo.ports import KINDS, port_service
from evrevops.demo.pricing import TARIFF_INDEX, price_sessions, tariffs_json
from evrevops.demo.sessions import generate_sessions
from evrevops.demo.tz import utc_offset
from evrevops.demo.urdb import urdb_records

Progress = Callable[[str, int, int], None]


def _iso(t: int) -> str:
    return pd.Timestamp(int(t), unit="s").strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_json(path: Path, obj) -> int:
    text = json.dumps(obj, indent=1, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return len(text.encode())


def _csv(df: pd.DataFrame, path: Path) -> int:
    df.to_csv(path, index=False, lineterminator="\n")
    return path.stat().st_size


def _clear_old_files(out: Path) -> None:
    """Remove files of an earlier run with other months (they would be ingested with these): our own patterns."""
    for pattern in ("cdrs/cdrs-*.ndjson", "ocpp/ocpp-*.ndjson", "utility_tariffs/urdb-demo-*.json"):
        for old in sorted(out.glob(pattern)):
            old.unlink()


def _write_network(out: Path, net, window, tariff_at: str, files: dict[str, int]) -> None:
    """customers.csv, sites.csv, locations.json, tariffs.json and the utility tariffs (URDB records)."""
    export_day = window.end - pd.Timedelta(days=1).to_pytimedelta()
    export_at = f"{window.end.isoformat()}T00:00:00Z"
    write_customers(net, out / "customers.csv")
    files["customers.csv"] = (out / "customers.csv").stat().st_size
    write_sites(net, out / "sites.csv")
    files["sites.csv"] = (out / "sites.csv").stat().st_size
    files["locations.json"] = _write_json(out / "locations.json", locations(net, export_at, export_day))
    files["tariffs.json"] = _write_json(out / "tariffs.json", tariffs_json(tariff_at, tariff_at))
    (out / "utility_tariffs").mkdir(exist_ok=True)
    for rec in urdb_records(window.start):
        name = f"utility_tariffs/urdb-{rec['label']}.json"
        files[name] = _write_json(out / name, {"items": [rec]})


def _price(net, window, ses):
    """Price the sessions under their site's driver tariff (failed attempts: none).

    Returns the tariff index of each session (-1: none), the priced sessions and each start's
    local wall clock [s since epoch, wall clock].
    """
    site_idx = net.ports.site_idx.to_numpy()[ses.port]
    tz = net.sites.tz_code.to_numpy()[site_idx]
    site_tariff = net.sites.driver_tariff_id.map(TARIFF_INDEX).to_numpy()
    tariff = np.where(ses.failed, -1, site_tariff[site_idx])
    priced = price_sessions(ses.start, ses.total_s, ses.charge_s, ses.wh, tariff, tz, net.zones, window.years)
    wall = ses.start.copy()
    for code, name in enumerate(net.zones):
        m = tz == code
        if m.any():
            wall[m] = ses.start[m] + utc_offset(ses.start[m], name, window.years)
    return tariff, priced, wall


def _at_bay(net, ses, wall: np.ndarray) -> np.ndarray | None:
    """Sessions at the commissioning bay: its ports' sessions before they go to their site (None: no bay).

    The bay's zone is their site's, so *wall* is local to both.
    """
    if not net.bay:
        return None
    day = wall // 86400
    until = (net.bay["until"] - dt.date(1970, 1, 1)).days
    return np.isin(ses.port, net.bay["port_idx"]) & (day < until)


def _write_commercial(out: Path, rngs: list, net, window, outages, files: dict[str, int]) -> pd.DataFrame:
    """contracts, deals, deal stages, projects, incentives, incidents and costs; returns the deals."""
    sdeals = site_deals(net)
    files["contracts.csv"] = _csv(contracts(rngs[4], net, window, sdeals), out / "contracts.csv")
    deals_df, stages_df, proj_df = pipeline(rngs[5], net, window, sdeals)
    files["deals.csv"] = _csv(deals_df, out / "deals.csv")
    files["deal_stages.csv"] = _csv(stages_df, out / "deal_stages.csv")
    files["projects.csv"] = _csv(proj_df, out / "projects.csv")
    files["incentives.csv"] = _csv(incentives(rngs[6], net, window, sdeals), out / "incentives.csv")
    files["incidents.csv"] = _csv(_incidents(net, outages.df), out / "incidents.csv")
    files["costs.csv"] = _csv(costs(rngs[8], net, sdeals), out / "costs.csv")
    return deals_df


def generate(
    out_dir: str | Path,
    ports: int = 500,
    months: int = 12,
    seed: int = 42,
    end_month: str | None = None,
    progress: Progress | None = None,
    profile: str = "default",
    heartbeat_s: int = P.HEARTBEAT_S,
) -> dict:
    """Write a demo network of about *ports* ports and *months* months of history.

    Parameters
    ----------
    out_dir : path
        Directory to write into (created; existing generated files are overwritten).
    ports : int
        Number of ports (exact).
    months : int
        Months of history, ending with *end_month*.
    seed : int
        Random seed: the same arguments give byte-identical files.
    end_month : str, optional
        Last month generated, ``YYYY-MM`` (default ``2025-12``).
    progress : callable, optional
        ``progress(stage, done, total)``, called as work advances.
    profile : str
        ``"default"`` (segment mix of a typical network) or ``"bench"`` (heavy on
        public DC, about 5 sessions per port per day, most sites already in service).
    heartbeat_s : int
        OCPP Heartbeat interval per charger [s].

    Returns
    -------
    dict
        Summary: counts, sessions per segment, utilization per segment, file sizes, seconds.
    """
    t0 = time.perf_counter()
    if profile not in P.MIX:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(P.MIX)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clear_old_files(out)
    window = make_window(months, end_month)
    month_names = [f"{y:04d}-{m:02d}" for y, m in window.months]
    # one generator per part, each drawn in its own fixed order (rngs[7] is not used)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(9)]

    def tick(stage: str) -> None:
        if progress:
            progress(stage, 1, 1)

    files: dict[str, int] = {}
    net = build_network(rngs[0], ports, window, profile)
    tariff_at = f"{window.start.year - 1}-01-01T00:00:00Z"
    _write_network(out, net, window, tariff_at, files)
    tick("network")
    outages = generate_outages(rngs[1], net, window)
    ses, sstats = generate_sessions(rngs[2], net, window, outages)
    tick("sessions")
    tariff, priced, wall = _price(net, window, ses)
    first_month = window.start.year * 12 + window.start.month - 1
    month = np.clip(month_of(wall) - first_month, 0, len(month_names) - 1)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    at_bay = _at_bay(net, ses, wall)
    files.update(write_cdrs(con, out, net, ses, priced, tariff, month, month_names, progress, tariff_at, at_bay))
    ev = build_events(rngs[3], net, window, ses, outages, heartbeat_s)
    ocpp_files, ocpp_counts = write_ocpp(con, out, net, window, ses, ev, month_names, heartbeat_s, progress)
    files.update(ocpp_files)
    con.close()
    deals_df = _write_commercial(out, rngs, net, window, outages, files)
    tick("commercial")
    summary = _summary(net, window, ses, priced, outages, sstats, ocpp_counts, deals_df)
    summary["history"] = _history(net, at_bay)
    summary["files"] = dict(sorted(files.items()))
    summary["bytes"] = int(sum(files.values()))
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return summary


def _history(net, at_bay) -> dict:
    """The demo's history (docs/demo.md, "History"): the commissioning bay and the dated site facts."""
    bay = None
    if net.bay:
        b = net.bay
        bay = {
            "site_id": b["site"]["site_id"],
            "site": b["from_site"],
            "ports": net.ports.port_id.iloc[b["port_idx"]].tolist(),
            "from": b["on"].isoformat(),
            "until": b["until"].isoformat(),
            "sessions": int(at_bay.sum()) if at_bay is not None else 0,
        }
    changes = [{k: (v.isoformat() if k == "effective_on" else v) for k, v in c.items()} for c in net.site_changes]
    return {"commissioning_bay": bay, "site_changes": changes}


_NOTES = {
    "hardware_fault": "port faulted ({err}); part replaced on site",
    "software_fault": "firmware fault ({err}); remote reboot",
    "communication": "charger offline (no heartbeat): cellular modem",
    "utility_interruption": "utility outage at the site meter; power restored by the utility",
    "vandalism": "charging cable cut; cable replaced",
    "scheduled_maintenance": "planned preventive maintenance (set Unavailable)",
}


def _incidents(net, od: pd.DataFrame) -> pd.DataFrame:
    od = od[od.ticketed]
    sites = net.sites.site_id.to_numpy()
    chargers = net.chargers.charger_id.to_numpy()
    ports = net.ports.port_id.to_numpy()
    return pd.DataFrame(
        {
            "incident_id": od.incident_id,
            "site_id": sites[od.site_idx.to_numpy()],
            "charger_id": [chargers[c] if c >= 0 else "" for c in od.charger_idx],
            "port_id": [ports[p] if p >= 0 else "" for p in od.port_idx],
            "started_at": [_iso(t) for t in od.start],
            "ended_at": ["" if o else _iso(t) for t, o in zip(od.end, od.open, strict=True)],
            "cause": od.cause,
            "ticket_ref": [f"TCK-{i[4:]}" for i in od.incident_id],
            "notes": [_NOTES[c].format(err=e) for c, e in zip(od.cause, od.error_code, strict=True)],
        }
    )


def _summary(net, window, ses, priced, outages, sstats, ocpp_counts, deals_df) -> dict:
    seg_of_port = net.ports.site_idx.map(net.sites.segment).to_numpy()
    seg = seg_of_port[ses.port]
    p_from, p_until = port_service(net, window)
    open_h = np.maximum(p_until - p_from, 0) / 3600.0
    by_seg: dict[str, dict] = {}
    revenue_c = priced.energy_c + priced.time_c + priced.parking_c + priced.flat_c
    for s in P.SEGMENTS:
        m = seg == s
        ports_m = seg_of_port == s
        hours = float(open_h[ports_m].sum())
        by_seg[s] = {
            "ports": int(ports_m.sum()),
            "sessions": int(m.sum()),
            "failed_attempts": int((m & ses.failed).sum()),
            "kwh": round(float(ses.wh[m].sum()) / 1000, 1),
            "revenue_usd": round(float(revenue_c[m].sum()) / 100, 2),
            "utilization_pct": round(100 * float(ses.charge_s[m].sum()) / 3600 / hours, 2) if hours else 0.0,
            "median_plugged_min": round(float(np.median(ses.total_s[m & ~ses.failed])) / 60, 1)
            if (m & ~ses.failed).any()
            else 0.0,
        }
    od = outages.df
    return {
        "first_month": f"{window.months[0][0]:04d}-{window.months[0][1]:02d}",
        "last_month": f"{window.months[-1][0]:04d}-{window.months[-1][1]:02d}",
        "customers": len(net.customers),
        "sites": len(net.sites),
        "sites_commissioned_in_window": int((~net.sites.existing).sum()),
        "sites_decommissioned": int(net.sites.decommissioned_on.notna().sum()),
        "expansions": len(net.expansions),
        "churned_customers": len(net.churned),
        "chargers": len(net.chargers),
        "ports": len(net.ports),
        "sessions": int(len(ses.start)),
        "failed_attempts": int(ses.failed.sum()),
        "sessions_per_port_day": round(len(ses.start) / max(float(open_h.sum()) / 24, 1e-9), 2),
        "segments": by_seg,
        "session_kinds": {k: int((ses.kind == i).sum()) for i, k in enumerate(KINDS)},
        "generation": sstats,
        "outages": int(len(od)),
        "outages_by_cause": {c: int((od.cause == c).sum()) for c in sorted(set(od.cause))},
        "incidents": int(od.ticketed.sum()),
        "ocpp_messages": int(sum(ocpp_counts.values())),
        "ocpp_by_action": ocpp_counts,
        "deals": int(len(deals_df)),
    }
