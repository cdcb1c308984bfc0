"""Sessions and outages, generated with numpy (no per-session Python loop).

Demand is drawn per port and *local* day, arrivals in local wall time, then
converted to UTC with the site's zone (DST-correct), so a depot's 18:00
plug-in is 18:00 local in January and in July. Overnight sessions end at a
local wall-clock departure time, so a session across a DST change lasts an
hour more or less than its wall-clock span. Sessions on one port never
overlap: arrivals are queued per port (Lindley recursion, vectorised as a
running maximum); a DC driver waits up to a limit, an L2 driver who finds the
port busy leaves. Every instant and duration is a multiple of 9 s (see
:mod:`evrevops.demo.pricing`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evrevops.demo import params as P
from evrevops.demo.catalog import LIMITED_HOURS
from evrevops.demo.network import Network, Window
from evrevops.demo.tz import epoch_day, to_wall, wall_to_utc, weekday

Q = 9  # time quantum [s]
GAP_S = 63  # changeover between two sessions on one port
KINDS = ("fleet_l2", "fleet_dc", "public_dc", "commercial", "residential")

_DC_WEEKDAY = np.array(
    [0.25, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 0.9, 1.0, 1.0, 1.1, 1.3, 1.4, 1.35, 1.25, 1.3, 1.45, 1.55, 1.45, 1.2,
     0.95, 0.7, 0.5, 0.35]
)  # fmt: skip
_DC_WEEKEND = np.array(
    [0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.35, 0.55, 0.8, 1.05, 1.3, 1.45, 1.5, 1.5, 1.45, 1.4, 1.35, 1.25, 1.1, 0.95,
     0.8, 0.6, 0.45, 0.35]
)  # fmt: skip
FLEET_DC_RATE = (2.4, 2.4, 2.4, 2.4, 2.2, 1.0, 0.4)
MAX_WAIT_S = {"public_dc": 12 * 60, "fleet_dc": 30 * 60}
# energy per session in winter (cold batteries, cabin heat): Dec-Feb +12 %, Nov and Mar +5 %
WINTER = np.array([1.12, 1.12, 1.05, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 1.12])


def _q(x: np.ndarray) -> np.ndarray:
    """Round seconds down to the 9-s quantum (as int64)."""
    return (np.floor(np.asarray(x, dtype=np.float64) / Q) * Q).astype(np.int64)


def _hours(rng, n, weights: np.ndarray) -> np.ndarray:
    p = weights / weights.sum()
    return rng.choice(24, size=n, p=p) * 3600 + rng.integers(0, 3600, size=n)


@dataclass
class Sessions:
    port: np.ndarray  # port index
    start: np.ndarray  # UTC s
    total_s: np.ndarray
    charge_s: np.ndarray
    wh: np.ndarray
    failed: np.ndarray  # bool: zero-energy failed attempt
    token: np.ndarray  # index into the token table
    stop: np.ndarray  # stop-reason code (STOP_REASONS)
    kind: np.ndarray  # index into KINDS
    tokens: pd.DataFrame  # uid, type, party_id, auth_method, contract_id (row = token index)


STOP_REASONS = ("EVDisconnected", "Local", "Remote", "Other", "PowerLoss", "EVCommunicationError")


@dataclass
class Outages:
    df: pd.DataFrame  # one row per event (incident), unit-level
    port_windows: pd.DataFrame  # expanded to ports: port, start, end, cause, still_charging


def site_bounds(net: Network, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """UTC instants of each site's first and last generated local midnight."""
    s = net.sites
    a = np.full(len(s), epoch_day(window.start) * 86400, dtype=np.int64)
    b = np.full(len(s), epoch_day(window.end) * 86400, dtype=np.int64)
    codes = s.tz_code.to_numpy()
    lo = np.empty_like(a)
    hi = np.empty_like(b)
    for code, name in enumerate(net.zones):
        m = codes == code
        lo[m] = wall_to_utc(a[m], name, window.years)
        hi[m] = wall_to_utc(b[m], name, window.years)
    return lo, hi


def _date_utc(dates: pd.Series, site_idx: np.ndarray, net: Network, window: Window, default: int) -> np.ndarray:
    """UTC instant of local midnight of each date (NaN/None -> default)."""
    out = np.full(len(dates), default, dtype=np.int64)
    vals = dates.to_numpy()
    ok = np.array([v is not None and not (isinstance(v, float) and np.isnan(v)) for v in vals])
    if not ok.any():
        return out
    wall = np.array([epoch_day(v) * 86400 if k else 0 for v, k in zip(vals, ok, strict=True)], dtype=np.int64)
    tz = net.sites.tz_code.to_numpy()[site_idx]
    for code, name in enumerate(net.zones):
        m = ok & (tz == code)
        if m.any():
            out[m] = wall_to_utc(wall[m], name, window.years)
    return out


def port_service(net: Network, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """UTC ``[from, until)`` each port is in service within the window (local midnights)."""
    p = net.ports
    site_idx = p.site_idx.to_numpy()
    lo, hi = site_bounds(net, window)
    frm = _date_utc(p.commissioned_on, site_idx, net, window, 0)
    until = _date_utc(p.decommissioned_on, site_idx, net, window, 2**62)
    return np.maximum(frm, lo[site_idx]), np.minimum(until, hi[site_idx])


# ---- outages ------------------------------------------------------------------------------------------


def generate_outages(rng: np.random.Generator, net: Network, window: Window) -> Outages:
    ports = net.ports
    chargers = net.chargers
    sites = net.sites
    p_from, p_until = port_service(net, window)
    site_idx_of_port = ports.site_idx.to_numpy()
    charger_index = {c: i for i, c in enumerate(chargers.charger_id)}
    port_charger = ports.charger_id.map(charger_index).to_numpy()
    # service spans per unit
    c_from = np.full(len(chargers), 2**62, dtype=np.int64)
    c_until = np.zeros(len(chargers), dtype=np.int64)
    np.minimum.at(c_from, port_charger, p_from)
    np.maximum.at(c_until, port_charger, p_until)
    s_from = np.full(len(sites), 2**62, dtype=np.int64)
    s_until = np.zeros(len(sites), dtype=np.int64)
    np.minimum.at(s_from, site_idx_of_port, p_from)
    np.maximum.at(s_until, site_idx_of_port, p_until)
    problem = sites.problem.to_numpy()
    seg = sites.segment.to_numpy()
    is_dc_port = ports.power_type.to_numpy() == "DC"
    charger_site = chargers.site_id.map({s: i for i, s in enumerate(sites.site_id)}).to_numpy()
    tz = sites.tz_code.to_numpy()

    rows = []
    for cause, (scope, per_year, med_h, sigma, excl) in P.OUTAGE_CAUSES.items():
        if scope == "port":
            frm, until, site_of = p_from, p_until, site_idx_of_port
            factor = np.where(is_dc_port & (cause == "hardware_fault"), P.DC_HARDWARE_FACTOR, 1.0)
        elif scope == "charger":
            frm, until, site_of = c_from, c_until, charger_site
            factor = np.where(
                chargers.power_type.to_numpy() == "DC", 1.5 if cause == "scheduled_maintenance" else 1.0, 1.0
            )
        else:
            frm, until, site_of = s_from, s_until, np.arange(len(sites))
            factor = np.ones(len(sites))
        if cause == "vandalism":
            factor = factor * np.isin(seg[site_of], ["public_dc", "commercial"])
        if cause in ("hardware_fault", "software_fault", "communication"):
            factor = factor * np.where(problem[site_of], P.PROBLEM_SITE_FACTOR, 1.0)
        expo_days = np.maximum(until - frm, 0) / 86400.0
        lam = per_year * factor * expo_days / 365.0
        k = rng.poisson(lam)
        unit = np.repeat(np.arange(len(frm)), k)
        start = frm[unit] + (rng.random(len(unit)) * (until[unit] - frm[unit])).astype(np.int64)
        if cause == "scheduled_maintenance":  # planned for 01:00-04:00 local
            sites_u = site_of[unit]
            wall = np.empty_like(start)
            for code, name in enumerate(net.zones):
                m = tz[sites_u] == code
                if m.any():
                    w = to_wall(start[m], name, window.years)
                    w = (w // 86400) * 86400 + 3600 + rng.integers(0, 3 * 3600, size=int(m.sum()))
                    wall[m] = wall_to_utc(w, name, window.years)
            start = wall
        dur = np.exp(np.log(med_h * 3600) + sigma * rng.standard_normal(len(unit)))
        dur = np.clip(dur, 15 * 60, 21 * 86400)
        start = _q(start)
        end = start + _q(dur)
        for i in range(len(unit)):
            u = int(unit[i])
            rows.append(
                {
                    "cause": cause,
                    "scope": scope,
                    "site_idx": int(site_of[u]),
                    "charger_idx": u if scope == "charger" else (int(port_charger[u]) if scope == "port" else -1),
                    "port_idx": u if scope == "port" else -1,
                    "start": int(start[i]),
                    "end": int(end[i]),
                    "excludable": excl,
                }
            )
    df = pd.DataFrame(
        rows, columns=["cause", "scope", "site_idx", "charger_idx", "port_idx", "start", "end", "excludable"]
    )
    df = df[(df.start >= 0)].sort_values(["site_idx", "start", "cause", "charger_idx", "port_idx"], kind="stable")
    # keep events of one site disjoint in time (simple status sequences)
    keep = []
    last_end: dict[int, int] = {}
    for r in df.itertuples():
        if r.start >= last_end.get(r.site_idx, -1) + 600:
            keep.append(r.Index)
            last_end[r.site_idx] = r.end
    df = df.loc[keep].reset_index(drop=True)
    # open at export (still running at the end of the window): no end
    _, s_hi = site_bounds(net, window)
    df["open"] = df.end >= s_hi[df.site_idx.to_numpy()]
    # error codes, whether a comm loss stops charging, tickets
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

    # expand to ports
    pw = []
    ports_by_site = ports.groupby("site_idx").indices
    ports_by_charger: dict[int, np.ndarray] = pd.Series(np.arange(len(ports))).groupby(port_charger).indices
    for r in df.itertuples():
        if r.scope == "port":
            idx = np.array([r.port_idx])
        elif r.scope == "charger":
            idx = ports_by_charger[r.charger_idx]
        else:
            idx = ports_by_site[r.site_idx]
        for p in idx:
            pw.append((int(p), r.start, r.end, r.cause, bool(r.still_charging), r.Index))
    port_windows = pd.DataFrame(pw, columns=["port", "start", "end", "cause", "still_charging", "event"])
    port_windows = port_windows.sort_values(["port", "start"], kind="stable").reset_index(drop=True)
    return Outages(df=df, port_windows=port_windows)


# ---- demand ---------------------------------------------------------------------------------------


def _kind_of_port(net: Network) -> np.ndarray:
    seg = net.ports.site_idx.map(net.sites.segment).to_numpy()
    dc = net.ports.power_type.to_numpy() == "DC"
    kind = np.select(
        [(seg == "fleet") & ~dc, (seg == "fleet") & dc, seg == "public_dc", seg == "commercial"],
        [0, 1, 2, 3],
        default=4,
    )
    return kind.astype(np.int64)


def _holiday(dates: list[dt.date]) -> np.ndarray:
    return np.array([(d.month, d.day) in P.HOLIDAYS for d in dates])


def demand(rng: np.random.Generator, net: Network, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """Number of planned sessions per (port, local day): arrays (port_idx, day_idx) repeated per session."""
    ports = net.ports
    n_p = len(ports)
    dates = [window.start + dt.timedelta(days=j) for j in range(window.days)]
    dow = np.array([d.weekday() for d in dates])
    month = np.array([d.month for d in dates])
    hol = _holiday(dates)
    months_since = np.array([(d.year - window.start.year) * 12 + d.month - window.start.month for d in dates])
    kind = _kind_of_port(net)
    site_idx = ports.site_idx.to_numpy()
    seg = net.sites.segment.to_numpy()[site_idx]
    pop = net.sites.popularity.to_numpy()[site_idx]
    day0 = epoch_day(window.start)
    comm = np.array([epoch_day(d) - day0 for d in ports.commissioned_on])
    decom = np.array(
        [epoch_day(d) - day0 if d is not None and not pd.isna(d) else 10**6 for d in ports.decommissioned_on]
    )
    j = np.arange(window.days)
    age = j[None, :] - comm[:, None]
    active = (age >= 0) & (j[None, :] < decom[:, None])
    lam = np.zeros((n_p, window.days))
    for s in P.SEGMENTS:
        sp = P.SEG[s]
        m = seg == s
        if not m.any():
            continue
        base = np.array(sp.rate_by_dow)[dow] * np.array(sp.seasonal)[month - 1]
        base = base * (1 + sp.growth_per_month) ** months_since
        if s in ("fleet", "commercial"):
            base = np.where(hol, base * 0.25, base)
        ramp = sp.ramp_floor + (1 - sp.ramp_floor) * (1 - np.exp(-np.maximum(age[m], 0) / sp.ramp_tau_days))
        lam[m] = base[None, :] * ramp * pop[m, None]
    fdc = kind == 1
    if fdc.any():
        sp = P.SEG["fleet"]
        base = np.array(FLEET_DC_RATE)[dow] * np.where(hol, 0.25, 1.0)
        ramp = sp.ramp_floor + (1 - sp.ramp_floor) * (1 - np.exp(-np.maximum(age[fdc], 0) / sp.ramp_tau_days))
        lam[fdc] = base[None, :] * ramp * pop[fdc, None]
    lam = np.where(active, lam, 0.0)
    counts = rng.poisson(lam)
    fl2 = kind == 0  # a depot vehicle plugs in at most once a night
    counts[fl2] = (rng.random((int(fl2.sum()), window.days)) < np.minimum(lam[fl2], 1.0)).astype(counts.dtype)
    flat = counts.ravel()
    cell = np.repeat(np.arange(flat.size), flat)
    return cell // window.days, cell % window.days


def _lognormal(rng, n, median, sigma, lo, hi):
    return np.clip(np.exp(np.log(median) + sigma * rng.standard_normal(n)), lo, hi)


def _choice(rng, n, values, p):
    return np.asarray(values, dtype=np.float64)[rng.choice(len(values), size=n, p=np.asarray(p) / np.sum(p))]


def generate_sessions(
    rng: np.random.Generator, net: Network, window: Window, outages: Outages
) -> tuple[Sessions, dict]:
    """All sessions of the window, sorted by (start, port)."""
    ports = net.ports
    port_idx, day_idx = demand(rng, net, window)
    n = len(port_idx)
    kind_of_port = _kind_of_port(net)
    kind = kind_of_port[port_idx]
    site_idx = ports.site_idx.to_numpy()[port_idx]
    tz = net.sites.tz_code.to_numpy()[site_idx]
    rated = ports.rated_kw.to_numpy()[port_idx]
    day_wall = (epoch_day(window.start) + day_idx) * 86400
    dow = weekday(day_wall)
    weekend = dow >= 5
    month = np.array([(window.start + dt.timedelta(days=int(d))).month for d in range(window.days)])[day_idx]
    winter = WINTER[month - 1]

    arr = np.zeros(n, dtype=np.int64)  # local seconds after midnight
    dep_wall = np.full(n, -1, dtype=np.int64)  # local wall departure (overnight kinds), else -1
    dwell = np.zeros(n, dtype=np.float64)  # plugged-in seconds when not departure-based
    need = np.zeros(n)
    vkw = np.zeros(n)
    eff = np.zeros(n)
    idle = np.zeros(n)  # DC kinds: idle seconds after charging

    m = kind == 0  # fleet L2, overnight
    k = int(m.sum())
    arr[m] = np.clip(rng.normal(17.75, 1.1, k), 14, 23.5) * 3600
    dep_wall[m] = day_wall[m] + 86400 + (np.clip(rng.normal(6.25, 0.6, k), 4, 9.5) * 3600).astype(np.int64)
    need[m] = _lognormal(rng, k, 68, 0.35, 8, 180) * winter[m]
    vkw[m] = _choice(rng, k, [11.5, 19.2], [0.35, 0.65])
    eff[m] = rng.uniform(0.88, 0.97, k)

    m = kind == 1  # fleet DC top-ups during shifts
    k = int(m.sum())
    mix = rng.random(k)
    arr[m] = np.where(
        mix < 0.55,
        np.clip(rng.normal(12.5, 1.2, k), 6, 22) * 3600,
        np.where(mix < 0.85, np.clip(rng.normal(16, 1.0, k), 6, 22) * 3600, rng.uniform(6, 22, k) * 3600),
    )
    need[m] = _lognormal(rng, k, 45, 0.4, 8, 120) * winter[m]
    vkw[m] = _choice(rng, k, [80, 120, 150], [0.4, 0.35, 0.25])
    eff[m] = rng.uniform(0.6, 0.85, k)
    idle[m] = rng.exponential(240, k)

    m = kind == 2  # public DC
    k = int(m.sum())
    wk = m & ~weekend
    we = m & weekend
    arr[wk] = _hours(rng, int(wk.sum()), _DC_WEEKDAY)
    arr[we] = _hours(rng, int(we.sum()), _DC_WEEKEND)
    need[m] = _lognormal(rng, k, 30, 0.5, 4, 95) * winter[m]
    vkw[m] = _choice(rng, k, [50, 75, 100, 150, 250], [0.1, 0.15, 0.25, 0.3, 0.2])
    eff[m] = rng.uniform(0.5, 0.8, k)
    u = rng.random(k)
    idle[m] = np.where(
        u < 0.78, rng.exponential(100, k), np.where(u < 0.95, rng.uniform(180, 900, k), rng.uniform(900, 3600, k))
    )

    m = kind == 3  # commercial L2: workplace (long dwell) or destination visits
    k = int(m.sum())
    work = rng.random(k) < np.where(weekend[m], 0.25, 0.7)
    arr[m] = np.where(work, np.clip(rng.normal(8.6, 0.9, k), 5.5, 12), rng.uniform(9.5, 19, k)) * 3600
    dwell[m] = np.where(work, np.clip(rng.normal(8.3, 1.3, k), 2, 11), _lognormal(rng, k, 1.8, 0.5, 0.4, 5)) * 3600
    need[m] = _lognormal(rng, k, 16, 0.5, 1.5, 50) * winter[m]
    vkw[m] = _choice(rng, k, [6.6, 7.7, 11.5], [0.3, 0.3, 0.4])
    eff[m] = rng.uniform(0.85, 0.97, k)

    m = kind == 4  # residential: evening to next morning, some daytime weekend top-ups
    k = int(m.sum())
    day = weekend[m] & (rng.random(k) < 0.5)
    arr[m] = np.where(day, rng.uniform(9, 16, k), np.clip(rng.normal(18.8, 1.6, k), 12, 23.75)) * 3600
    dep = day_wall[m] + 86400 + (np.clip(rng.normal(7.3, 0.8, k), 5, 10) * 3600).astype(np.int64)
    dep_wall[m] = np.where(day, -1, dep)
    dwell[m] = np.where(day, _lognormal(rng, k, 3.0, 0.5, 0.5, 8) * 3600, 0)
    need[m] = _lognormal(rng, k, 11, 0.55, 1, 60) * winter[m]
    vkw[m] = _choice(rng, k, [7.2, 7.7, 11.5], [0.35, 0.35, 0.3])
    eff[m] = rng.uniform(0.88, 0.97, k)

    # ---- local wall -> UTC, per zone ---------------------------------------------------------------
    arr_wall = day_wall + (arr // Q) * Q
    a_utc = np.empty(n, dtype=np.int64)
    d_utc = np.full(n, -1, dtype=np.int64)
    has_dep = dep_wall >= 0
    dep_wall = np.where(has_dep, (dep_wall // Q) * Q, -1)
    for code, name in enumerate(net.zones):
        mm = tz == code
        if mm.any():
            a_utc[mm] = wall_to_utc(arr_wall[mm], name, window.years)
            md = mm & has_dep
            d_utc[md] = wall_to_utc(dep_wall[md], name, window.years)
    avg_kw = np.minimum(rated, vkw) * eff
    charge_need = need / avg_kw * 3600.0
    dc_kind = (kind == 1) | (kind == 2)
    charge = np.where(dc_kind, np.clip(charge_need, 300, 4500), charge_need)
    total = np.where(has_dep, d_utc - a_utc, np.where(dc_kind, charge + idle, dwell))
    total = np.maximum(_q(total), 2 * Q)
    charge = np.minimum(_q(charge), total - Q)
    charge = np.maximum(charge, Q)
    wh = np.floor(avg_kw * charge / 3.6).astype(np.int64)

    # ---- tokens -------------------------------------------------------------------------------------
    tokens, token = _tokens(rng, net, port_idx, kind, site_idx)

    # ---- operating hours (limited-hours sites): drop visits outside them ----------------------------
    limited = (net.sites.operating_hours.to_numpy() == LIMITED_HOURS)[site_idx]
    if limited.any():
        s_tod = arr_wall % 86400
        e_wall = arr_wall + total  # no DST change inside opening hours on these days is material
        open_h = np.where(weekend, 8, 6) * 3600
        close_h = np.where(weekend, 20, 22) * 3600
        same_day = (e_wall // 86400) == (arr_wall // 86400)
        ok = (s_tod >= open_h) & same_day & ((e_wall % 86400) <= close_h)
        keep = ~limited | ok
    else:
        keep = np.ones(n, dtype=bool)

    # ---- failed attempts (zero energy) before a visit, same driver -----------------------------------
    fail_p = np.array([P.SEG["fleet"].fail_p, P.SEG["fleet"].fail_p, P.SEG["public_dc"].fail_p,
                       P.SEG["commercial"].fail_p, P.SEG["residential"].fail_p])[kind]  # fmt: skip
    failed_before = keep & (rng.random(n) < fail_p)
    fi = np.flatnonzero(failed_before)
    f_dur = _q(rng.uniform(45, 240, len(fi)))
    f_lead = _q(rng.uniform(0, 180, len(fi)))
    f_start = a_utc[fi] - f_dur - GAP_S - f_lead - Q
    f_start = (f_start // Q) * Q

    sel = np.flatnonzero(keep)
    s = {
        "port": np.concatenate([port_idx[sel], port_idx[fi]]),
        "arr": np.concatenate([a_utc[sel], f_start]),
        "total": np.concatenate([total[sel], f_dur]),
        "charge": np.concatenate([charge[sel], np.zeros(len(fi), dtype=np.int64)]),
        "wh": np.concatenate([wh[sel], np.zeros(len(fi), dtype=np.int64)]),
        "failed": np.concatenate([np.zeros(len(sel), dtype=bool), np.ones(len(fi), dtype=bool)]),
        "token": np.concatenate([token[sel], token[fi]]),
        "kind": np.concatenate([kind[sel], kind[fi]]),
        "rated": np.concatenate([rated[sel], rated[fi]]),
    }
    planned = len(s["port"])

    # ---- queue per port: wait (DC) or leave (L2) ----------------------------------------------------
    max_wait = np.zeros(len(s["port"]), dtype=np.int64)
    max_wait[s["kind"] == 1] = MAX_WAIT_S["fleet_dc"]
    max_wait[s["kind"] == 2] = MAX_WAIT_S["public_dc"]
    s["max_wait"] = max_wait
    p_from, p_until = port_service(net, window)
    group_of_port, members, free0 = _port_groups(net, kind_of_port, p_from)
    s["group"] = group_of_port[s["port"]]
    s = _sort(s, ("group", "arr"))
    start, slot = _schedule(s["group"], s["arr"], s["total"], s["max_wait"], free0)
    ok = start >= 0
    s["port"] = np.where(ok, members[s["group"], np.maximum(slot, 0)], s["port"])
    s = {k2: v[ok] for k2, v in s.items()}
    balked = int((~ok).sum())
    s["start"] = start[ok]

    # ---- outages: drop sessions that meet one, cut those a fault interrupts -------------------------
    s["stop"] = _stop_reasons(rng, s)
    s, n_out, n_cut = _apply_outages(s, outages, ports)

    # ---- service window: starts within the port's service -------------------------------------------
    decom = np.array([d is not None and not pd.isna(d) for d in ports.decommissioned_on])[s["port"]]
    until = p_until[s["port"]]
    inside = (s["start"] >= p_from[s["port"]]) & (s["start"] < until)
    inside &= ~decom | (s["start"] + s["total"] <= until)
    s = {k2: v[inside] for k2, v in s.items()}
    s = _sort(s, ("start", "port"))
    stats = {
        "planned_visits": planned,
        "balked_busy": balked,
        "lost_to_outages": n_out,
        "cut_by_faults": n_cut,
    }
    out = Sessions(
        port=s["port"],
        start=s["start"],
        total_s=s["total"],
        charge_s=s["charge"],
        wh=s["wh"],
        failed=s["failed"],
        token=s["token"],
        stop=s["stop"],
        kind=s["kind"],
        tokens=tokens,
    )
    return out, stats


def _port_groups(net: Network, kind_of_port: np.ndarray, p_from: np.ndarray):
    """Groups of interchangeable ports: a driver takes any free port of the group.

    Public DC, fleet DC and commercial L2 ports pool per site (and power type);
    a depot's L2 port is its vehicle's, a home charger its household's.
    Returns (group of each port, members[g, slot] port index or -1, free0[g, slot]).
    """
    n_ports = len(kind_of_port)
    site = net.ports.site_idx.to_numpy()
    pooled = np.isin(kind_of_port, [1, 2, 3])
    key = np.where(pooled, n_ports + 2 * site + (kind_of_port != 3), np.arange(n_ports))
    uniq, group = np.unique(key, return_inverse=True)
    order = np.argsort(group, kind="stable")
    g_sorted = group[order]
    first = np.searchsorted(g_sorted, np.arange(len(uniq)))
    rank = np.arange(n_ports) - first[g_sorted]
    width = int(rank.max()) + 1
    members = np.full((len(uniq), width), -1, dtype=np.int64)
    members[g_sorted, rank] = order
    free0 = np.full((len(uniq), width), np.iinfo(np.int64).max // 4, dtype=np.int64)
    free0[g_sorted, rank] = p_from[order]
    return group, members, free0


def _sort(s: dict, keys: tuple[str, ...]) -> dict:
    order = np.lexsort(tuple(s[k] for k in reversed(keys)))
    return {k: v[order] for k, v in s.items()}


def _schedule(
    group: np.ndarray, arr: np.ndarray, total: np.ndarray, max_wait: np.ndarray, free0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """FIFO queue with balking at each group of interchangeable ports (arrays sorted by group, arrival).

    ``free0[g, slot]`` is when each port of group *g* first becomes available
    (its commissioning; ``+inf`` pads groups with fewer ports). A visit takes
    the port that has been free longest and starts at ``max(arrival, free)``;
    when that wait exceeds its ``max_wait`` the driver leaves (start = -1) and
    occupies nothing. Exact and sequential per group, vectorised across groups:
    round *r* serves the *r*-th visit of every group at once.

    Returns ``(start, slot)``.
    """
    n = len(group)
    start = np.full(n, -1, dtype=np.int64)
    slot = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return start, slot
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    count = np.diff(np.r_[first, n])
    order = np.argsort(-count, kind="stable")  # groups with most visits first: the active set is a prefix
    first, count = first[order], count[order]
    free = free0[group[first]].copy()
    rows = np.arange(len(first))
    neg = -count
    for r in range(int(count.max())):
        k = int(np.searchsorted(neg, -r, side="left"))  # groups with more than r visits
        idx = first[:k] + r
        f = free[:k]
        best = np.argmin(f, axis=1)
        fb = f[rows[:k], best]
        a = arr[idx]
        st = np.maximum(a, fb)
        ok = st - a <= max_wait[idx]
        start[idx[ok]] = st[ok]
        slot[idx[ok]] = best[ok]
        f[rows[:k][ok], best[ok]] = st[ok] + total[idx[ok]] + GAP_S
    return start, slot


def _stop_reasons(rng, s: dict) -> np.ndarray:
    n = len(s["port"])
    u = rng.random(n)
    stop = np.where(u < 0.82, 0, np.where(u < 0.93, 1, 2))  # EVDisconnected, Local, Remote
    return np.where(s["failed"], 5, stop).astype(np.int64)


def _apply_outages(s: dict, outages: Outages, ports: pd.DataFrame) -> tuple[dict, int, int]:
    pw = outages.port_windows
    pw = pw[~pw.still_charging.to_numpy()]
    if not len(pw):
        return s, 0, 0
    big = np.int64(1) << 42
    okey = pw.port.to_numpy().astype(np.int64) * big + pw.start.to_numpy()
    oend = pw.end.to_numpy()
    ocause = pw.cause.to_numpy()
    oport = pw.port.to_numpy()
    order = np.argsort(okey, kind="stable")
    okey, oend, ocause, oport = okey[order], oend[order], ocause[order], oport[order]
    ostart = okey - oport.astype(np.int64) * big
    st = s["start"]
    en = st + s["total"]
    # an outage that began at or before the session start and is still on -> drop
    i = np.searchsorted(okey, s["port"] * big + st, side="right") - 1
    hit_before = (i >= 0) & (oport[np.maximum(i, 0)] == s["port"]) & (oend[np.maximum(i, 0)] > st)
    # the first outage that begins during the session
    j = np.searchsorted(okey, s["port"] * big + st, side="right")
    jj = np.minimum(j, len(okey) - 1)
    hit_during = (j < len(okey)) & (oport[jj] == s["port"]) & (ostart[jj] < en)
    cut_cause = np.isin(ocause[jj], ["hardware_fault", "software_fault", "utility_interruption"])
    cut = hit_during & ~hit_before & cut_cause & ~s["failed"] & (ostart[jj] - st >= 120)
    drop = hit_before | (hit_during & ~cut)
    new_total = np.where(cut, ostart[jj] - st - Q, s["total"])
    new_total = (new_total // Q) * Q
    new_charge = np.where(cut, np.minimum(s["charge"], new_total - Q), s["charge"])
    new_charge = np.maximum(new_charge, np.where(s["failed"], 0, Q))
    s["wh"] = np.where(cut, (s["wh"] * new_charge) // np.maximum(s["charge"], 1), s["wh"])
    s["total"] = new_total
    s["charge"] = new_charge
    s["stop"] = np.where(cut, np.where(ocause[jj] == "utility_interruption", 4, 3), s["stop"])
    keep = ~drop
    out = {k: v[keep] for k, v in s.items()}
    return out, int(drop.sum()), int((cut & keep).sum())


# ---- tokens ---------------------------------------------------------------------------------------


def _tokens(rng, net: Network, port_idx: np.ndarray, kind: np.ndarray, site_idx: np.ndarray):
    """Token table (DataFrame) and each visit's token index.

    fleet: one card per depot port (the vehicle parked there); public DC: a pool of drivers, 60 per
    port, used with a skewed frequency (regulars); commercial: 3 per port, per site; residential:
    1-2 per home.
    """
    n_ports = len(net.ports)
    n_sites = len(net.sites)
    kind_of_port = _kind_of_port(net)
    n_dc_ports = int((kind_of_port == 2).sum())
    pool_dc = max(200, 60 * n_dc_ports)
    # layout: [fleet per port][dc pool][commercial per site x 3*ports][residential 2 per site]
    ports_per_site = np.bincount(net.ports.site_idx.to_numpy(), minlength=n_sites)
    com_size = 3 * ports_per_site
    com_off = np.cumsum(com_size) - com_size
    res_off = 2 * np.arange(n_sites)
    o_fleet = 0
    o_dc = n_ports
    o_com = o_dc + pool_dc
    o_res = o_com + int(com_size.sum())
    n_tok = o_res + 2 * n_sites
    tok = np.empty(len(port_idx), dtype=np.int64)
    fleet = kind <= 1
    tok[fleet] = o_fleet + port_idx[fleet]
    m = kind == 2
    tok[m] = o_dc + np.minimum((pool_dc * rng.random(int(m.sum())) ** 2.2).astype(np.int64), pool_dc - 1)
    m = kind == 3
    tok[m] = o_com + com_off[site_idx[m]] + (rng.random(int(m.sum())) * com_size[site_idx[m]]).astype(np.int64)
    m = kind == 4
    tok[m] = o_res + res_off[site_idx[m]] + (rng.random(int(m.sum())) < 0.3)
    # token attributes
    uid_hi = rng.integers(0, 2**28, n_tok)
    uid_lo = rng.integers(0, 2**28, n_tok)
    ttype = np.empty(n_tok, dtype=object)
    party = np.empty(n_tok, dtype=object)
    auth = np.empty(n_tok, dtype=object)
    ttype[:] = "RFID"
    party[:] = P.PARTY
    auth[:] = "WHITELIST"
    u = rng.random(pool_dc)
    dc_type = np.where(u < 0.5, "APP_USER", np.where(u < 0.75, "RFID", "AD_HOC_USER"))
    emsp = np.array(["EVR", "PLG", "CHG", "EMS"])[rng.integers(0, 4, pool_dc)]
    dc_party = np.where(dc_type == "RFID", emsp, np.where(dc_type == "APP_USER", np.where(u < 0.3, "EVR", emsp), "EVR"))
    dc_auth = np.where(
        dc_type == "APP_USER", np.where(rng.random(pool_dc) < 0.5, "COMMAND", "AUTH_REQUEST"), "AUTH_REQUEST"
    )
    ttype[o_dc:o_com] = dc_type
    party[o_dc:o_com] = dc_party
    auth[o_dc:o_com] = dc_auth
    cu = rng.random(o_res - o_com)
    ttype[o_com:o_res] = np.where(cu < 0.7, "RFID", "APP_USER")
    auth[o_com:o_res] = np.where(cu < 0.7, "WHITELIST", "AUTH_REQUEST")
    uid = [f"{h:07X}{lo:07X}" for h, lo in zip(uid_hi.tolist(), uid_lo.tolist(), strict=True)]
    tokens = pd.DataFrame({"uid": uid, "type": ttype, "party_id": party, "auth_method": auth})
    tokens["contract_id"] = "US-" + tokens.party_id + "-C" + tokens.uid.str[:9]
    return tokens, tok
