"""The demo network's history (docs/demo.md, "History"): the commissioning bay and dated site facts.

Both are chosen from the built network without a random draw, so the rest of the network is
the same with or without them.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from evrevops.demo.catalog import EV_RATE, UTILITY_BY_REGION, grid_kw

if TYPE_CHECKING:
    from evrevops.demo.network import Network, Window

BAY_ID = "SITE-BAY01"
BAY_DAYS = 14  # days a port is tested at the bay before going to its own site


def _month_start(window: Window, k: int) -> dt.date:
    y, m = window.months[k]
    return dt.date(y, m, 1)


def _stays(net: Network) -> pd.Series:
    """Sites in service over the whole window: commissioned before it, never decommissioned, no expansion."""
    s = net.sites
    expanded = {e["site_id"] for e in net.expansions}
    return s.existing & s.decommissioned_on.isna() & ~s.site_id.isin(expanded)


def _bay_site(net: Network, site, port_idx: list[int]) -> dict:
    """The bay's own site row: in *site*'s zone, at a fleet depot of the zone when there is one."""
    s = net.sites
    depots = s[(s.segment == "fleet") & (s.time_zone == site.time_zone) & (s.site_id != site.site_id)]
    # at a depot of the zone (its address, its utility tariff); without one, in the site's city on its region's
    at = depots.iloc[0] if len(depots) else site
    tariff = depots.iloc[0].utility_tariff_id if len(depots) else UTILITY_BY_REGION[site.region]
    load_kw = float(net.ports.rated_kw.iloc[port_idx].sum())
    return {
        "site_id": BAY_ID,
        "site_name": "Commissioning bay",
        "customer_id": "",
        "segment": "fleet",
        "revenue_model": "",
        "energy_position": "operator",  # the operator's own bay: it pays the meter
        "time_zone": site.time_zone,
        "utility_tariff_id": tariff,
        "grid_capacity_kw": grid_kw(load_kw * 1.05),
        "operating_hours": "24/7",
        "address": "1 Depot Rd",
        "city": at.city,
        "state": at.state,
        "postal_code": at.postal_code,
        "latitude": round(float(at.latitude) + 0.01, 6),
        "longitude": round(float(at.longitude) + 0.01, 6),
    }


def commissioning_bay(net: Network, window: Window) -> dict | None:
    """The bay where the first chargers of one site commissioned during the window are tested first.

    The site: the first (in site order) non-residential site commissioned at least two months
    into the window (half the window when shorter), early enough for its 14 days at the bay to
    end inside it, with at least 3 chargers and still in service 14 days later. Its first two
    chargers go to the bay. The bay is in the site's time zone, segment fleet, on the utility
    tariff of a fleet depot in that zone (the first other than the site), else on its region's.
    No random draw: the rest of the network is the same with or without it.

    Returns
    -------
    dict or None
        ``{"site": bay site row, "port_idx": ports tested there, "on": their commissioning day,
        "until": the day they go to their own site, "from_site": that site}``; None without such a site.
    """
    s = net.sites
    threshold = _month_start(window, min(2, len(window.months) // 2))
    last = window.end - dt.timedelta(days=BAY_DAYS + 1)
    n_chargers = net.chargers.groupby("site_id").size()
    for site in s.itertuples(index=False):
        on = site.commissioned_on
        if site.segment == "residential" or not (threshold <= on <= last) or n_chargers[site.site_id] < 3:
            continue
        if not pd.isna(site.decommissioned_on) and site.decommissioned_on <= on + dt.timedelta(days=BAY_DAYS):
            continue
        chargers = net.chargers[net.chargers.site_id == site.site_id].charger_id.iloc[:2]
        port_idx = [int(i) for i in np.flatnonzero(net.ports.charger_id.isin(set(chargers)).to_numpy())]
        return {
            "site": _bay_site(net, site, port_idx),
            "port_idx": port_idx,
            "on": on,
            "until": on + dt.timedelta(days=BAY_DAYS),
            "from_site": site.site_id,
        }
    return None


def site_changes(net: Network, window: Window) -> list[dict]:
    """Dated site facts: two public DC sites move to the EV rate, one commercial site becomes a fleet depot.

    One DC site moves from the 16th of a month (its bill that month has two parts) and one from
    the 1st; the commercial site becomes a depot from the 1st of a month. Sites in service over
    the whole window, the first of each kind in site order (no random draw).

    Returns
    -------
    list of dict
        ``{"site_id", "effective_on", "what", column: new value}``, in date order.
    """
    s = net.sites[_stays(net)]
    n = len(window.months)
    out: list[dict] = []
    dc = s[(s.segment == "public_dc") & (s.utility_tariff_id != EV_RATE)].site_id.tolist()
    plans = [(n // 3, 16), (max(1, (2 * n) // 3), 1)]
    for site_id, (k, day) in zip(dc, plans, strict=False):
        if k < n:
            on = _month_start(window, k).replace(day=day)
            out.append({"site_id": site_id, "effective_on": on, "what": "tariff", "utility_tariff_id": EV_RATE})
    com = s[s.segment == "commercial"].site_id.tolist()
    k = max(1, n // 2)
    if com and k < n:
        out.append({"site_id": com[0], "effective_on": _month_start(window, k), "what": "segment", "segment": "fleet"})
    return sorted(out, key=lambda c: (c["effective_on"], c["site_id"]))
