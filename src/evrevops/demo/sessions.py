"""Sessions, generated with numpy (no per-session Python loop).

Demand is drawn per port and *local* day, arrivals in local wall time, then
converted to UTC with the site's zone (DST-correct), so a depot's 18:00
plug-in is 18:00 local in January and in July. Overnight sessions end at a
local wall-clock departure time, so a session across a DST change lasts an
hour more or less than its wall-clock span. Sessions on one port never
overlap: arrivals are queued per port (:mod:`evrevops.demo.queueing`); a DC
driver waits up to a limit, an L2 driver who finds the port busy leaves. Every
instant and duration is a multiple of 9 s (see :mod:`evrevops.demo.pricing`).
Outages are :mod:`evrevops.demo.outages`, tokens :mod:`evrevops.demo.tokens`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evrevops.demo import params as P
from evrevops.demo.catalog import LIMITED_HOURS
from evrevops.demo.network import Network, Window
from evrevops.demo.outages import Outages
from evrevops.demo.ports import Q, floor_to_quantum, kind_of_port, port_service
from evrevops.demo.queueing import GAP_S, apply_outages, port_groups, schedule, sort_visits, stop_reasons
from evrevops.demo.tokens import tokens as draw_tokens
from evrevops.demo.tz import epoch_day, wall_to_utc, weekday

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
STOP_REASONS = ("EVDisconnected", "Local", "Remote", "Other", "PowerLoss", "EVCommunicationError")


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


# ---- demand ---------------------------------------------------------------------------------------


def _holiday(dates: list[dt.date]) -> np.ndarray:
    return np.array([(d.month, d.day) in P.HOLIDAYS for d in dates])


def _ramp(sp, age: np.ndarray) -> np.ndarray:
    """A new port's demand ramp: from the segment's floor to 1 with its time constant (age [days])."""
    return sp.ramp_floor + (1 - sp.ramp_floor) * (1 - np.exp(-np.maximum(age, 0) / sp.ramp_tau_days))


def _expected_sessions(net: Network, window: Window, dates: list[dt.date]) -> np.ndarray:
    """Expected sessions per (port, local day): segment rate × season × growth × ramp × site popularity."""
    ports = net.ports
    dow = np.array([d.weekday() for d in dates])
    month = np.array([d.month for d in dates])
    hol = _holiday(dates)
    months_since = np.array([(d.year - window.start.year) * 12 + d.month - window.start.month for d in dates])
    kind = kind_of_port(net)
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
    lam = np.zeros((len(ports), window.days))
    for s in P.SEGMENTS:
        sp = P.SEG[s]
        m = seg == s
        if not m.any():
            continue
        base = np.array(sp.rate_by_dow)[dow] * np.array(sp.seasonal)[month - 1]
        base = base * (1 + sp.growth_per_month) ** months_since
        if s in ("fleet", "commercial"):
            base = np.where(hol, base * 0.25, base)
        lam[m] = base[None, :] * _ramp(sp, age[m]) * pop[m, None]
    fdc = kind == 1
    if fdc.any():
        base = np.array(FLEET_DC_RATE)[dow] * np.where(hol, 0.25, 1.0)
        lam[fdc] = base[None, :] * _ramp(P.SEG["fleet"], age[fdc]) * pop[fdc, None]
    return np.where(active, lam, 0.0)


def demand(rng: np.random.Generator, net: Network, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """Number of planned sessions per (port, local day): arrays (port_idx, day_idx) repeated per session."""
    dates = [window.start + dt.timedelta(days=j) for j in range(window.days)]
    lam = _expected_sessions(net, window, dates)
    kind = kind_of_port(net)
    counts = rng.poisson(lam)
    fl2 = kind == 0  # a depot vehicle plugs in at most once a night
    counts[fl2] = (rng.random((int(fl2.sum()), window.days)) < np.minimum(lam[fl2], 1.0)).astype(counts.dtype)
    flat = counts.ravel()
    cell = np.repeat(np.arange(flat.size), flat)
    return cell // window.days, cell % window.days


# ---- visits: arrival, departure, energy -----------------------------------------------------------


def _lognormal(rng, n, median, sigma, lo, hi):
    return np.clip(np.exp(np.log(median) + sigma * rng.standard_normal(n)), lo, hi)


def _choice(rng, n, values, p):
    return np.asarray(values, dtype=np.float64)[rng.choice(len(values), size=n, p=np.asarray(p) / np.sum(p))]


@dataclass
class _Visits:
    """What is drawn per visit before the queue: local arrival, departure or dwell, energy need, vehicle."""

    arr: np.ndarray  # local seconds after midnight
    dep_wall: np.ndarray  # local wall departure (overnight kinds), else -1
    dwell: np.ndarray  # plugged-in seconds when not departure-based
    need: np.ndarray  # energy the vehicle needs [kWh]
    vkw: np.ndarray  # the vehicle's charging power [kW]
    eff: np.ndarray  # share of the lesser of port and vehicle power drawn on average
    idle: np.ndarray  # DC kinds: idle seconds after charging

    @classmethod
    def empty(cls, n: int) -> _Visits:
        return cls(
            arr=np.zeros(n, dtype=np.int64),
            dep_wall=np.full(n, -1, dtype=np.int64),
            dwell=np.zeros(n, dtype=np.float64),
            need=np.zeros(n),
            vkw=np.zeros(n),
            eff=np.zeros(n),
            idle=np.zeros(n),
        )


def _fleet_l2(rng, v: _Visits, m: np.ndarray, day_wall: np.ndarray, winter: np.ndarray) -> None:
    """Fleet L2: overnight at the depot, leaving in the morning."""
    k = int(m.sum())
    v.arr[m] = np.clip(rng.normal(17.75, 1.1, k), 14, 23.5) * 3600
    v.dep_wall[m] = day_wall[m] + 86400 + (np.clip(rng.normal(6.25, 0.6, k), 4, 9.5) * 3600).astype(np.int64)
    v.need[m] = _lognormal(rng, k, 68, 0.35, 8, 180) * winter[m]
    v.vkw[m] = _choice(rng, k, [11.5, 19.2], [0.35, 0.65])
    v.eff[m] = rng.uniform(0.88, 0.97, k)


def _fleet_dc(rng, v: _Visits, m: np.ndarray, winter: np.ndarray) -> None:
    """Fleet DC: top-ups during shifts."""
    k = int(m.sum())
    mix = rng.random(k)
    v.arr[m] = np.where(
        mix < 0.55,
        np.clip(rng.normal(12.5, 1.2, k), 6, 22) * 3600,
        np.where(mix < 0.85, np.clip(rng.normal(16, 1.0, k), 6, 22) * 3600, rng.uniform(6, 22, k) * 3600),
    )
    v.need[m] = _lognormal(rng, k, 45, 0.4, 8, 120) * winter[m]
    v.vkw[m] = _choice(rng, k, [80, 120, 150], [0.4, 0.35, 0.25])
    v.eff[m] = rng.uniform(0.6, 0.85, k)
    v.idle[m] = rng.exponential(240, k)


def _public_dc(rng, v: _Visits, m: np.ndarray, weekend: np.ndarray, winter: np.ndarray) -> None:
    """Public DC: arrivals by the hour profile of weekdays and weekends, mostly short idle after charging."""
    k = int(m.sum())
    wk = m & ~weekend
    we = m & weekend
    v.arr[wk] = _hours(rng, int(wk.sum()), _DC_WEEKDAY)
    v.arr[we] = _hours(rng, int(we.sum()), _DC_WEEKEND)
    v.need[m] = _lognormal(rng, k, 30, 0.5, 4, 95) * winter[m]
    v.vkw[m] = _choice(rng, k, [50, 75, 100, 150, 250], [0.1, 0.15, 0.25, 0.3, 0.2])
    v.eff[m] = rng.uniform(0.5, 0.8, k)
    u = rng.random(k)
    v.idle[m] = np.where(
        u < 0.78, rng.exponential(100, k), np.where(u < 0.95, rng.uniform(180, 900, k), rng.uniform(900, 3600, k))
    )


def _commercial(rng, v: _Visits, m: np.ndarray, weekend: np.ndarray, winter: np.ndarray) -> None:
    """Commercial L2: workplace (long dwell) or destination visits."""
    k = int(m.sum())
    work = rng.random(k) < np.where(weekend[m], 0.25, 0.7)
    v.arr[m] = np.where(work, np.clip(rng.normal(8.6, 0.9, k), 5.5, 12), rng.uniform(9.5, 19, k)) * 3600
    v.dwell[m] = np.where(work, np.clip(rng.normal(8.3, 1.3, k), 2, 11), _lognormal(rng, k, 1.8, 0.5, 0.4, 5)) * 3600
    v.need[m] = _lognormal(rng, k, 16, 0.5, 1.5, 50) * winter[m]
    v.vkw[m] = _choice(rng, k, [6.6, 7.7, 11.5], [0.3, 0.3, 0.4])
    v.eff[m] = rng.uniform(0.85, 0.97, k)


def _residential(rng, v: _Visits, m: np.ndarray, day_wall: np.ndarray, weekend: np.ndarray, winter) -> None:
    """Residential: evening to next morning, some daytime weekend top-ups."""
    k = int(m.sum())
    day = weekend[m] & (rng.random(k) < 0.5)
    v.arr[m] = np.where(day, rng.uniform(9, 16, k), np.clip(rng.normal(18.8, 1.6, k), 12, 23.75)) * 3600
    dep = day_wall[m] + 86400 + (np.clip(rng.normal(7.3, 0.8, k), 5, 10) * 3600).astype(np.int64)
    v.dep_wall[m] = np.where(day, -1, dep)
    v.dwell[m] = np.where(day, _lognormal(rng, k, 3.0, 0.5, 0.5, 8) * 3600, 0)
    v.need[m] = _lognormal(rng, k, 11, 0.55, 1, 60) * winter[m]
    v.vkw[m] = _choice(rng, k, [7.2, 7.7, 11.5], [0.35, 0.35, 0.3])
    v.eff[m] = rng.uniform(0.88, 0.97, k)


def _draw_visits(rng, kind: np.ndarray, day_wall: np.ndarray, weekend: np.ndarray, winter: np.ndarray) -> _Visits:
    """Draw every visit's arrival, departure or dwell, energy need and vehicle, kind by kind (in KINDS order)."""
    v = _Visits.empty(len(kind))
    _fleet_l2(rng, v, kind == 0, day_wall, winter)
    _fleet_dc(rng, v, kind == 1, winter)
    _public_dc(rng, v, kind == 2, weekend, winter)
    _commercial(rng, v, kind == 3, weekend, winter)
    _residential(rng, v, kind == 4, day_wall, weekend, winter)
    return v


def _to_utc(net: Network, window: Window, tz: np.ndarray, arr_wall: np.ndarray, dep_wall: np.ndarray):
    """Local wall arrivals and departures to UTC, per zone [s since epoch]; a departure of -1 stays -1."""
    n = len(arr_wall)
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
    return a_utc, d_utc, has_dep


def _durations(v: _Visits, kind: np.ndarray, rated: np.ndarray, a_utc, d_utc, has_dep):
    """Plugged-in and charging seconds (9-s quanta) and energy [Wh] of each visit."""
    avg_kw = np.minimum(rated, v.vkw) * v.eff
    charge_need = v.need / avg_kw * 3600.0
    dc_kind = (kind == 1) | (kind == 2)
    charge = np.where(dc_kind, np.clip(charge_need, 300, 4500), charge_need)
    total = np.where(has_dep, d_utc - a_utc, np.where(dc_kind, charge + v.idle, v.dwell))
    total = np.maximum(floor_to_quantum(total), 2 * Q)
    charge = np.minimum(floor_to_quantum(charge), total - Q)
    charge = np.maximum(charge, Q)
    wh = np.floor(avg_kw * charge / 3.6).astype(np.int64)
    return total, charge, wh


def _within_opening_hours(net: Network, site_idx, arr_wall, total, weekend) -> np.ndarray:
    """Visits that fit the opening hours of a limited-hours site (every visit elsewhere)."""
    limited = (net.sites.operating_hours.to_numpy() == LIMITED_HOURS)[site_idx]
    if not limited.any():
        return np.ones(len(arr_wall), dtype=bool)
    s_tod = arr_wall % 86400
    e_wall = arr_wall + total  # no DST change inside opening hours on these days is material
    open_h = np.where(weekend, 8, 6) * 3600
    close_h = np.where(weekend, 20, 22) * 3600
    same_day = (e_wall // 86400) == (arr_wall // 86400)
    ok = (s_tod >= open_h) & same_day & ((e_wall % 86400) <= close_h)
    return ~limited | ok


def _with_failed_attempts(rng, keep: np.ndarray, kind: np.ndarray, columns: dict[str, np.ndarray]) -> dict:
    """The kept visits and, before some of them, a zero-energy failed attempt by the same driver.

    *columns* holds port, arr (UTC), total, charge, wh, token, kind and rated per visit.
    """
    fail_p = np.array([P.SEG["fleet"].fail_p, P.SEG["fleet"].fail_p, P.SEG["public_dc"].fail_p,
                       P.SEG["commercial"].fail_p, P.SEG["residential"].fail_p])[kind]  # fmt: skip
    failed_before = keep & (rng.random(len(kind)) < fail_p)
    fi = np.flatnonzero(failed_before)
    f_dur = floor_to_quantum(rng.uniform(45, 240, len(fi)))
    f_lead = floor_to_quantum(rng.uniform(0, 180, len(fi)))
    f_start = columns["arr"][fi] - f_dur - GAP_S - f_lead - Q
    f_start = (f_start // Q) * Q
    sel = np.flatnonzero(keep)
    none = np.zeros(len(fi), dtype=np.int64)
    c = columns
    return {
        "port": np.concatenate([c["port"][sel], c["port"][fi]]),
        "arr": np.concatenate([c["arr"][sel], f_start]),
        "total": np.concatenate([c["total"][sel], f_dur]),
        "charge": np.concatenate([c["charge"][sel], none]),
        "wh": np.concatenate([c["wh"][sel], none]),
        "failed": np.concatenate([np.zeros(len(sel), dtype=bool), np.ones(len(fi), dtype=bool)]),
        "token": np.concatenate([c["token"][sel], c["token"][fi]]),
        "kind": np.concatenate([c["kind"][sel], c["kind"][fi]]),
        "rated": np.concatenate([c["rated"][sel], c["rated"][fi]]),
    }


def _queue(net: Network, s: dict, port_kinds: np.ndarray, p_from: np.ndarray) -> tuple[dict, int]:
    """Queue every visit at its group of ports: it waits (DC) or leaves (L2); returns the served and the balked."""
    max_wait = np.zeros(len(s["port"]), dtype=np.int64)
    max_wait[s["kind"] == 1] = MAX_WAIT_S["fleet_dc"]
    max_wait[s["kind"] == 2] = MAX_WAIT_S["public_dc"]
    s["max_wait"] = max_wait
    group_of_port, members, free0 = port_groups(net, port_kinds, p_from)
    s["group"] = group_of_port[s["port"]]
    s = sort_visits(s, ("group", "arr"))
    start, slot = schedule(s["group"], s["arr"], s["total"], s["max_wait"], free0)
    ok = start >= 0
    s["port"] = np.where(ok, members[s["group"], np.maximum(slot, 0)], s["port"])
    s = {k: v[ok] for k, v in s.items()}
    s["start"] = start[ok]
    return s, int((~ok).sum())


def _in_service(ports: pd.DataFrame, s: dict, p_from: np.ndarray, p_until: np.ndarray) -> dict:
    """The sessions that start within their port's service (and, at a decommissioned port, end within it)."""
    decom = np.array([d is not None and not pd.isna(d) for d in ports.decommissioned_on])[s["port"]]
    until = p_until[s["port"]]
    inside = (s["start"] >= p_from[s["port"]]) & (s["start"] < until)
    inside &= ~decom | (s["start"] + s["total"] <= until)
    return {k: v[inside] for k, v in s.items()}


def generate_sessions(
    rng: np.random.Generator, net: Network, window: Window, outages: Outages
) -> tuple[Sessions, dict]:
    """All sessions of the window, sorted by (start, port).

    Parameters
    ----------
    rng : numpy.random.Generator
        The sessions' own generator.
    net : Network
        The demo network.
    window : Window
        The generated months.
    outages : Outages
        The window's outages: a session that meets one is dropped, one a fault interrupts is cut.

    Returns
    -------
    tuple of (Sessions, dict)
        The sessions, and counts of what became of the planned visits.
    """
    ports = net.ports
    port_idx, day_idx = demand(rng, net, window)
    port_kinds = kind_of_port(net)
    kind = port_kinds[port_idx]
    site_idx = ports.site_idx.to_numpy()[port_idx]
    tz = net.sites.tz_code.to_numpy()[site_idx]
    rated = ports.rated_kw.to_numpy()[port_idx]
    day_wall = (epoch_day(window.start) + day_idx) * 86400
    weekend = weekday(day_wall) >= 5
    month = np.array([(window.start + dt.timedelta(days=int(d))).month for d in range(window.days)])[day_idx]
    v = _draw_visits(rng, kind, day_wall, weekend, WINTER[month - 1])
    arr_wall = day_wall + (v.arr // Q) * Q
    a_utc, d_utc, has_dep = _to_utc(net, window, tz, arr_wall, v.dep_wall)
    total, charge, wh = _durations(v, kind, rated, a_utc, d_utc, has_dep)
    tokens, token = draw_tokens(rng, net, port_idx, kind, site_idx)
    keep = _within_opening_hours(net, site_idx, arr_wall, total, weekend)
    columns = {"port": port_idx, "arr": a_utc, "total": total, "charge": charge, "wh": wh, "token": token,
               "kind": kind, "rated": rated}  # fmt: skip
    s = _with_failed_attempts(rng, keep, kind, columns)
    planned = len(s["port"])
    p_from, p_until = port_service(net, window)
    s, balked = _queue(net, s, port_kinds, p_from)
    # outages: drop sessions that meet one, cut those a fault interrupts
    s["stop"] = stop_reasons(rng, s)
    s, n_out, n_cut = apply_outages(s, outages, ports)
    s = sort_visits(_in_service(ports, s, p_from, p_until), ("start", "port"))
    stats = {"planned_visits": planned, "balked_busy": balked, "lost_to_outages": n_out, "cut_by_faults": n_cut}
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
