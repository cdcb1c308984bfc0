"""Outages: incidents per port, charger or site, drawn per cause from their yearly rates, and their port windows.

Each cause of :data:`evrevops.demo.params.OUTAGE_CAUSES` strikes a unit (port, charger or site)
as a Poisson process over the unit's service; events of one site are kept disjoint in time
(simple status sequences), then expanded to the ports they take down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evrevops.demo import params as P
from evrevops.demo.network import Network, Window
from evrevops.demo.ports import floor_to_quantum, port_service, site_bounds, unit_service
from evrevops.demo.tz import to_wall, wall_to_utc

EVENT_COLUMNS = ["cause", "scope", "site_idx", "charger_idx", "port_idx", "start", "end", "excludable"]
EVENT_TYPES = {"site_idx": "int64", "charger_idx": "int64", "port_idx": "int64", "start": "int64", "end": "int64",
               "excludable": "bool"}  # fmt: skip
MIN_GAP_S = 600  # between two events of one site [s]


@dataclass
class Outages:
    df: pd.DataFrame  # one row per event (incident), unit-level
    port_windows: pd.DataFrame  # expanded to ports: port, start, end, cause, still_charging


@dataclass
class _Units:
    """Ports, chargers and sites as outage units: their service spans and what scales their rates."""

    p_from: np.ndarray  # port service [s since epoch]
    p_until: np.ndarray
    site_of_port: np.ndarray
    charger_of_port: np.ndarray
    c_from: np.ndarray  # charger service [s since epoch]
    c_until: np.ndarray
    site_of_charger: np.ndarray
    s_from: np.ndarray  # site service [s since epoch]
    s_until: np.ndarray
    problem: np.ndarray  # per site: a problem site (more faults)
    segment: np.ndarray  # per site
    port_is_dc: np.ndarray
    charger_is_dc: np.ndarray
    tz_code: np.ndarray  # per site

    @classmethod
    def of(cls, net: Network, window: Window) -> _Units:
        ports, chargers, sites = net.ports, net.chargers, net.sites
        p_from, p_until = port_service(net, window)
        site_of_port = ports.site_idx.to_numpy()
        charger_of_port = ports.charger_id.map({c: i for i, c in enumerate(chargers.charger_id)}).to_numpy()
        c_from, c_until = unit_service(charger_of_port, len(chargers), p_from, p_until)
        s_from, s_until = unit_service(site_of_port, len(sites), p_from, p_until)
        return cls(
            p_from=p_from,
            p_until=p_until,
            site_of_port=site_of_port,
            charger_of_port=charger_of_port,
            c_from=c_from,
            c_until=c_until,
            site_of_charger=chargers.site_id.map({s: i for i, s in enumerate(sites.site_id)}).to_numpy(),
            s_from=s_from,
            s_until=s_until,
            problem=sites.problem.to_numpy(),
            segment=sites.segment.to_numpy(),
            port_is_dc=ports.power_type.to_numpy() == "DC",
            charger_is_dc=chargers.power_type.to_numpy() == "DC",
            tz_code=sites.tz_code.to_numpy(),
        )

    def exposure(self, cause: str, scope: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The units *cause* strikes at *scope*: ``(from, until, site of unit, rate factor)``."""
        if scope == "port":
            frm, until, site_of = self.p_from, self.p_until, self.site_of_port
            factor = np.where(self.port_is_dc & (cause == "hardware_fault"), P.DC_HARDWARE_FACTOR, 1.0)
        elif scope == "charger":
            frm, until, site_of = self.c_from, self.c_until, self.site_of_charger
            factor = np.where(self.charger_is_dc, 1.5 if cause == "scheduled_maintenance" else 1.0, 1.0)
        else:
            frm, until, site_of = self.s_from, self.s_until, np.arange(len(self.s_from))
            factor = np.ones(len(self.s_from))
        if cause == "vandalism":
            factor = factor * np.isin(self.segment[site_of], ["public_dc", "commercial"])
        if cause in ("hardware_fault", "software_fault", "communication"):
            factor = factor * np.where(self.problem[site_of], P.PROBLEM_SITE_FACTOR, 1.0)
        return frm, until, site_of, factor


def _maintenance_starts(rng, net: Network, window: Window, start: np.ndarray, site_tz: np.ndarray) -> np.ndarray:
    """Move planned maintenance to 01:00-04:00 local on its day [s since epoch]."""
    wall = np.empty_like(start)
    for code, name in enumerate(net.zones):
        m = site_tz == code
        if m.any():
            w = to_wall(start[m], name, window.years)
            w = (w // 86400) * 86400 + 3600 + rng.integers(0, 3 * 3600, size=int(m.sum()))
            wall[m] = wall_to_utc(w, name, window.years)
    return wall


def _draw_cause(rng, net: Network, window: Window, units: _Units, cause: str, spec: tuple) -> list[dict]:
    """The events of one cause: a Poisson count per unit over its service, uniform starts, log-normal durations."""
    scope, per_year, med_h, sigma, excl = spec
    frm, until, site_of, factor = units.exposure(cause, scope)
    expo_days = np.maximum(until - frm, 0) / 86400.0
    lam = per_year * factor * expo_days / 365.0
    k = rng.poisson(lam)
    unit = np.repeat(np.arange(len(frm)), k)
    start = frm[unit] + (rng.random(len(unit)) * (until[unit] - frm[unit])).astype(np.int64)
    if cause == "scheduled_maintenance":  # planned for 01:00-04:00 local
        start = _maintenance_starts(rng, net, window, start, units.tz_code[site_of[unit]])
    dur = np.exp(np.log(med_h * 3600) + sigma * rng.standard_normal(len(unit)))
    dur = np.clip(dur, 15 * 60, 21 * 86400)
    start = floor_to_quantum(start)
    end = start + floor_to_quantum(dur)
    rows = []
    for i in range(len(unit)):
        u = int(unit[i])
        charger = u if scope == "charger" else (int(units.charger_of_port[u]) if scope == "port" else -1)
        rows.append(
            {
                "cause": cause,
                "scope": scope,
                "site_idx": int(site_of[u]),
                "charger_idx": charger,
                "port_idx": u if scope == "port" else -1,
                "start": int(start[i]),
                "end": int(end[i]),
                "excludable": excl,
            }
        )
    return rows


def _disjoint_per_site(df: pd.DataFrame) -> pd.DataFrame:
    """Keep the events of one site disjoint in time (simple status sequences): a later overlapping one is dropped."""
    df = df[(df.start >= 0)].sort_values(["site_idx", "start", "cause", "charger_idx", "port_idx"], kind="stable")
    keep = []
    last_end: dict[int, int] = {}
    for r in df.itertuples():
        if r.start >= last_end.get(r.site_idx, -1) + MIN_GAP_S:
            keep.append(r.Index)
            last_end[r.site_idx] = r.end
    return df.loc[keep].reset_index(drop=True)


def _describe(rng, net: Network, window: Window, df: pd.DataFrame) -> pd.DataFrame:
    """Whether each event is still open at export, its error code, whether charging goes on, its ticket and id."""
    # open at export (still running at the end of the window): no end
    _, s_hi = site_bounds(net, window)
    df["open"] = df.end >= s_hi[df.site_idx.to_numpy()]
    n = len(df)
    hw = np.array(P.HARDWARE_ERROR_CODES)[rng.integers(0, len(P.HARDWARE_ERROR_CODES), n)]
    sw = np.array(P.SOFTWARE_ERROR_CODES)[rng.integers(0, len(P.SOFTWARE_ERROR_CODES), n)]
    df["error_code"] = np.select(
        [
            df.cause == "hardware_fault",
            df.cause == "software_fault",
            df.cause == "vandalism",
            df.cause == "utility_interruption",
        ],
        [hw, sw, np.full(n, "OtherError"), np.full(n, "UnderVoltage")],
        default="",
    )
    df["still_charging"] = (df.cause == "communication") & (rng.random(n) < P.COMM_STILL_CHARGING_SHARE)
    dur_h = (df.end - df.start) / 3600.0
    df["ticketed"] = ~((df.cause == "communication") & (dur_h < P.COMM_TICKET_MIN_H))
    df = df.sort_values(["start", "site_idx", "charger_idx", "port_idx"], kind="stable").reset_index(drop=True)
    df["incident_id"] = [f"INC-{i + 1:06d}" for i in range(len(df))]
    return df


def _port_windows(df: pd.DataFrame, ports: pd.DataFrame, charger_of_port: np.ndarray) -> pd.DataFrame:
    """The events expanded to the ports they take down: port, start, end, cause, still_charging, event."""
    pw = []
    ports_by_site = ports.groupby("site_idx").indices
    ports_by_charger: dict[int, np.ndarray] = pd.Series(np.arange(len(ports))).groupby(charger_of_port).indices
    for r in df.itertuples():
        if r.scope == "port":
            idx = np.array([r.port_idx])
        elif r.scope == "charger":
            idx = ports_by_charger[r.charger_idx]
        else:
            idx = ports_by_site[r.site_idx]
        for p in idx:
            pw.append((int(p), r.start, r.end, r.cause, bool(r.still_charging), r.Index))
    port_windows = pd.DataFrame(pw, columns=["port", "start", "end", "cause", "still_charging", "event"]).astype(
        {"port": "int64", "start": "int64", "end": "int64", "still_charging": "bool", "event": "int64"}
    )
    return port_windows.sort_values(["port", "start"], kind="stable").reset_index(drop=True)


def generate_outages(rng: np.random.Generator, net: Network, window: Window) -> Outages:
    """All outages of the window.

    Parameters
    ----------
    rng : numpy.random.Generator
        The outages' own generator.
    net : Network
        The demo network.
    window : Window
        The generated months.

    Returns
    -------
    Outages
        The events (``df``, ordered by start, with ``incident_id``) and their port windows.
    """
    units = _Units.of(net, window)
    rows = []
    for cause, spec in P.OUTAGE_CAUSES.items():
        rows.extend(_draw_cause(rng, net, window, units, cause, spec))
    # typed even when no event is drawn (a tiny network in a short window)
    events = pd.DataFrame(rows, columns=EVENT_COLUMNS).astype(EVENT_TYPES)
    df = _disjoint_per_site(events)
    df = _describe(rng, net, window, df)
    return Outages(df=df, port_windows=_port_windows(df, net.ports, units.charger_of_port))
