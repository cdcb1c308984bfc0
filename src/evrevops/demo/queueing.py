"""Queues at the ports: who gets a port, who waits, who leaves, and what an outage does to a session.

Sessions on one port never overlap: arrivals are queued per group of interchangeable ports
(Lindley recursion, vectorised across groups); a DC driver waits up to a limit, an L2 driver
who finds the port busy leaves. A session is a dict of equal-length arrays (one entry a visit).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evrevops.demo.network import Network
from evrevops.demo.outages import Outages
from evrevops.demo.ports import Q

GAP_S = 63  # changeover between two sessions on one port [s]


def port_groups(net: Network, kind_of_port: np.ndarray, p_from: np.ndarray):
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


def sort_visits(s: dict, keys: tuple[str, ...]) -> dict:
    """The visits *s* (a dict of equal-length arrays) sorted by *keys*, the first the primary key."""
    order = np.lexsort(tuple(s[k] for k in reversed(keys)))
    return {k: v[order] for k, v in s.items()}


def schedule(
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


def stop_reasons(rng, s: dict) -> np.ndarray:
    """Draw each visit's stop reason, an index into ``sessions.STOP_REASONS`` (a failed attempt's is 5)."""
    n = len(s["port"])
    u = rng.random(n)
    stop = np.where(u < 0.82, 0, np.where(u < 0.93, 1, 2))  # EVDisconnected, Local, Remote
    return np.where(s["failed"], 5, stop).astype(np.int64)


def apply_outages(s: dict, outages: Outages, ports: pd.DataFrame) -> tuple[dict, int, int]:
    """Drop the visits an outage meets, cut short those a fault interrupts (at least 2 min in).

    Returns the visits left, the number dropped and the number cut.
    """
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
