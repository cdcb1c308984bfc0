"""Ports in time: the session kind of each port and the UTC span it is in service.

Every instant and duration the demo draws is a multiple of the 9-s quantum :data:`Q`
(see :mod:`evrevops.demo.pricing`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evrevops.demo.network import Network, Window
from evrevops.demo.tz import epoch_day, wall_to_utc

Q = 9  # time quantum [s]
KINDS = ("fleet_l2", "fleet_dc", "public_dc", "commercial", "residential")  # session kinds (Sessions.kind indexes it)
NEVER_S = 2**62  # an instant after any other [s]


def floor_to_quantum(x: np.ndarray) -> np.ndarray:
    """Round seconds down to the 9-s quantum.

    Parameters
    ----------
    x : numpy.ndarray
        Seconds [s].

    Returns
    -------
    numpy.ndarray
        int64 multiples of :data:`Q` [s].
    """
    return (np.floor(np.asarray(x, dtype=np.float64) / Q) * Q).astype(np.int64)


def kind_of_port(net: Network) -> np.ndarray:
    """The session kind of each port, an index into :data:`KINDS` (by its site's segment and power type)."""
    seg = net.ports.site_idx.map(net.sites.segment).to_numpy()
    dc = net.ports.power_type.to_numpy() == "DC"
    kind = np.select(
        [(seg == "fleet") & ~dc, (seg == "fleet") & dc, seg == "public_dc", seg == "commercial"],
        [0, 1, 2, 3],
        default=4,
    )
    return kind.astype(np.int64)


def site_bounds(net: Network, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """UTC instants of each site's first and last generated local midnight [s since epoch]."""
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
    """UTC instant of local midnight of each date (NaN/None -> default) [s since epoch]."""
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
    """UTC ``[from, until)`` each port is in service within the window (local midnights) [s since epoch]."""
    p = net.ports
    site_idx = p.site_idx.to_numpy()
    lo, hi = site_bounds(net, window)
    frm = _date_utc(p.commissioned_on, site_idx, net, window, 0)
    until = _date_utc(p.decommissioned_on, site_idx, net, window, NEVER_S)
    return np.maximum(frm, lo[site_idx]), np.minimum(until, hi[site_idx])


def unit_service(unit_of_port: np.ndarray, n_units: int, p_from: np.ndarray, p_until: np.ndarray):
    """UTC ``[from, until)`` of a unit (charger or site) in service: from its first port's to its last's.

    Parameters
    ----------
    unit_of_port : numpy.ndarray
        The unit of each port (index).
    n_units : int
        Number of units.
    p_from, p_until : numpy.ndarray
        Each port's service span (:func:`port_service`) [s since epoch].

    Returns
    -------
    tuple of numpy.ndarray
        ``(from, until)`` per unit [s since epoch]; a unit without ports has ``from > until``.
    """
    u_from = np.full(n_units, NEVER_S, dtype=np.int64)
    u_until = np.zeros(n_units, dtype=np.int64)
    np.minimum.at(u_from, unit_of_port, p_from)
    np.maximum.at(u_until, unit_of_port, p_until)
    return u_from, u_until
