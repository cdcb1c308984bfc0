"""The network: customers, sites, chargers and ports (small tables, built row by row).

:func:`build_network` draws the network from one random generator, in a fixed order: customers
and their sites segment by segment, the expansions of existing sites, a last site for ports no
expansion took, then the churned customers. The catalog it draws from is
:mod:`evrevops.demo.catalog`; the history it adds (commissioning bay, dated site facts) is
:mod:`evrevops.demo.history`; the files it is written to are :mod:`evrevops.demo.network_files`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evrevops.demo import params as P
from evrevops.demo.catalog import (
    ADJECTIVES,
    DRIVER_TARIFF,
    FIRST_INITIALS,
    FIRST_MODEL,
    LAST_NAMES,
    LIMITED_HOURS,
    NOUNS,
    RESIDENTIAL_UTILITY,
    SITE_KIND,
    SMALL_COMMERCIAL,
    STREETS,
    UTILITY_BY_REGION,
    grid_kw,
)
from evrevops.demo.history import commissioning_bay, site_changes


@dataclass
class Window:
    start: dt.date  # first local day generated
    end: dt.date  # first local day not generated
    months: list[tuple[int, int]]

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def years(self) -> tuple[int, int]:
        return (self.start.year - 4, self.end.year + 1)


def make_window(months: int, end_month: str | None) -> Window:
    text = end_month or P.DEFAULT_END_MONTH
    try:
        y, m = (int(x) for x in text.split("-"))
        dt.date(y, m, 1)
    except ValueError:
        raise ValueError(f"end_month must be YYYY-MM, got {text!r}") from None
    if months < 1:
        raise ValueError("months must be at least 1")
    seq = []
    for k in range(months - 1, -1, -1):
        idx = y * 12 + (m - 1) - k
        seq.append((idx // 12, idx % 12 + 1))
    end_idx = y * 12 + m
    return Window(dt.date(*seq[0], 1), dt.date(end_idx // 12, end_idx % 12 + 1, 1), seq)


@dataclass
class Network:
    customers: pd.DataFrame
    sites: pd.DataFrame
    chargers: pd.DataFrame
    ports: pd.DataFrame
    expansions: list[dict]  # customer expansions (added ports at an existing site)
    churned: list[str]  # customers who cancel during the window
    zones: list[str]  # zone names; sites.tz_code indexes it
    # the commissioning bay (docs/demo.md, "History"): {"site": site row, "port_idx": ports tested there,
    # "on": their commissioning day, "until": the day they go to their own site}; None in a network without one
    bay: dict | None = None
    # dated site facts: {"site_id", "effective_on", "what", column: new value}, in date order
    site_changes: list[dict] = field(default_factory=list)


def _pick(rng: np.random.Generator, items, p=None):
    i = int(rng.choice(len(items), p=p))
    return items[i]


def _port_targets(ports: int, window: Window, profile: str) -> tuple[dict[str, int], int]:
    """Ports to build per segment, and the number of 4-port expansions reserved out of commercial's share."""
    mix = P.MIX[profile]
    if ports < 2 * len(P.SEGMENTS):
        # too few for two per segment: one port at a time to the segments by share, largest first
        by_share = sorted(P.SEGMENTS, key=lambda s: -mix[s])
        small = {s: 0 for s in P.SEGMENTS}
        for i in range(ports):
            small[by_share[i % len(by_share)]] += 1
        return small, 0
    target = {s: max(2, int(round(ports * mix[s]))) for s in P.SEGMENTS}
    # make the totals add up to `ports` exactly
    diff = ports - sum(target.values())
    target["commercial" if profile == "default" else "public_dc"] += diff
    # land and expand: ports reserved for expansions of existing L2 sites (4 ports each)
    n_exp = max(1, ports // 120) if window.days >= 20 else 0
    while n_exp and target["commercial"] - 4 * n_exp < 2:
        n_exp -= 1
    target["commercial"] -= 4 * n_exp
    return target, n_exp


def build_network(rng: np.random.Generator, ports: int, window: Window, profile: str) -> Network:
    """Draw the demo network.

    Parameters
    ----------
    rng : numpy.random.Generator
        The network's own generator: its draws, in their order, fix the network.
    ports : int
        Number of ports (exact, at least 1; under 8, some segments have none).
    window : Window
        The generated months.
    profile : str
        A key of :data:`evrevops.demo.params.MIX`.

    Returns
    -------
    Network
    """
    if ports < 1:
        raise ValueError("ports must be at least 1")
    target, n_exp = _port_targets(ports, window, profile)
    b = _NetworkBuilder(rng, window, profile)
    for seg in P.SEGMENTS:
        b.build_segment(seg, target[seg])
    b.expand(n_exp)
    b.top_up(ports)
    ports_df = pd.DataFrame(b.ports)
    chargers_df = pd.DataFrame(b.chargers)
    sites_df = pd.DataFrame(b.sites).drop(columns=["_chargers"])
    churned = b.churn(sites_df)
    dec = sites_df.set_index("site_id")["decommissioned_on"]
    ports_df["decommissioned_on"] = ports_df.site_id.map(dec)
    chargers_df["decommissioned_on"] = chargers_df.site_id.map(dec)
    # grid capacity: the service size above the connected load
    load = ports_df.groupby("site_id").rated_kw.sum()
    sites_df["grid_capacity_kw"] = sites_df.site_id.map(lambda s: grid_kw(float(load[s]) * 1.05))
    sites_df["tz_code"] = sites_df.time_zone.map({z: i for i, z in enumerate(b.zones)}).astype(np.int64)
    site_idx = {s: i for i, s in enumerate(sites_df.site_id)}
    ports_df["site_idx"] = ports_df.site_id.map(site_idx).astype(np.int64)
    net = Network(
        customers=pd.DataFrame(b.customers),
        sites=sites_df,
        chargers=chargers_df,
        ports=ports_df,
        expansions=b.expansions,
        churned=churned,
        zones=b.zones,
    )
    net.bay = commissioning_bay(net, window)
    net.site_changes = site_changes(net, window)
    return net


class _NetworkBuilder:
    """The rows of a network as they are drawn: customers, sites, chargers, ports, expansions.

    Every method draws from the one generator; :func:`build_network` calls them in a fixed order.
    """

    def __init__(self, rng: np.random.Generator, window: Window, profile: str) -> None:
        self.rng = rng
        self.window = window
        self.existing_share = P.EXISTING_SHARE[profile]
        self.groups = sorted(P.TZ_GROUP_WEIGHT)
        weights = np.array([P.TZ_GROUP_WEIGHT[g] for g in self.groups])
        self.group_p = weights / weights.sum()
        self.cities_by_group = {g: [c for c in P.CITIES if P.tz_group(c) == g] for g in self.groups}
        self.zones = sorted({c.tz for c in P.CITIES})
        self.customers: list[dict] = []
        self.sites: list[dict] = []
        self.chargers: list[dict] = []
        self.ports: list[dict] = []
        self.expansions: list[dict] = []
        self.site_no = 0
        self.cust_no = 0
        self.round_robin = 0  # over time-zone groups for the first sites, so every zone appears

    # ---- customers, chargers and ports ----------------------------------------------------------------

    def new_customer(self, seg: str) -> dict:
        """Draw a customer of segment *seg* (its revenue model and name) and add it."""
        rng = self.rng
        self.cust_no += 1
        sp = P.SEG[seg]
        models = list(sp.revenue_model_p)
        model = _pick(rng, models, np.array([sp.revenue_model_p[m] for m in models]))
        if not any(c["segment"] == seg for c in self.customers):  # every model appears, even in a tiny network
            model = FIRST_MODEL[seg]
        if seg == "residential":
            name = f"{_pick(rng, FIRST_INITIALS)} {_pick(rng, LAST_NAMES)} (home)"
        else:
            name = f"{_pick(rng, ADJECTIVES)} {_pick(rng, NOUNS[seg])}"
        cid = f"CUST-{self.cust_no:05d}"
        row = {
            "customer_id": cid,
            "name": name,
            "segment": seg,
            "revenue_model": model,
            "country": "USA",
            "currency": P.CURRENCY,
            "billing_email": f"billing+{cid.lower()}@example.com",
        }
        self.customers.append(row)
        return row

    def _new_charger(self, site: dict, kw: float, ptype: str, commissioned: dt.date) -> dict:
        """Draw one charger at *site* (vendor, protocol, serial, firmware) and add it."""
        rng = self.rng
        site["_chargers"] += 1
        cid = f"{site['site_id'].replace('SITE', 'EVR')}-{site['_chargers']:02d}"
        fam = "DC" if ptype == "DC" else "AC"
        vendors = P.VENDORS[fam]
        if rng.random() < P.OCPP201_SHARE[fam]:
            vendor, model, proto = vendors[2]
        else:
            vendor, model, proto = vendors[int(rng.integers(0, 2))]
        row = {
            "charger_id": cid,
            "site_id": site["site_id"],
            "vendor": vendor,
            "model": f"{model} {kw:g}kW",
            "protocol": proto,
            "serial_number": f"SN{int(rng.integers(10**8, 10**9))}",
            "firmware_version": f"{int(rng.integers(1, 4))}.{int(rng.integers(0, 10))}.{int(rng.integers(0, 20))}",
            "power_type": ptype,
            "rated_kw": kw,
            "commissioned_on": commissioned,
        }
        self.chargers.append(row)
        return row

    def _add_port(self, charger: dict, connector: int) -> None:
        """Draw the connector standard of a charger's port and add the port."""
        cid, kw, ptype = charger["charger_id"], charger["rated_kw"], charger["power_type"]
        if ptype == "DC":
            std = "CHADEMO" if (kw <= 50 and self.rng.random() < 0.3) else "IEC_62196_T1_COMBO"
        else:
            std = "IEC_62196_T1"
        self.ports.append(
            {
                "port_id": f"{cid}-{connector}",
                "site_id": charger["site_id"],
                "charger_id": cid,
                "connector_id": connector,
                "evse_id": f"US*EVR*E{cid.replace('EVR-', '').replace('-', '')}{connector}",
                "power_type": ptype,
                "connector_standard": std,
                "rated_kw": kw,
                "commissioned_on": charger["commissioned_on"],
                "protocol": charger["protocol"],
            }
        )

    def add_charger_ports(self, site: dict, n_ports: int, kw: float, ptype: str, commissioned: dt.date) -> int:
        """Add chargers with *n_ports* ports of *kw* [kW] to *site*; returns the ports added."""
        added = 0
        per = 1 if ptype == "DC" or site["segment"] == "residential" else 2
        while added < n_ports:
            k = min(per, n_ports - added)
            charger = self._new_charger(site, kw, ptype, commissioned)
            for c in range(1, k + 1):
                self._add_port(charger, c)
            added += k
        return added

    # ---- sites ----------------------------------------------------------------------------------------

    def _city(self):
        """The next site's city: one per time-zone group first (round robin), then drawn by group weight."""
        rng = self.rng
        if self.round_robin < len(self.groups):
            group = self.groups[self.round_robin]
            self.round_robin += 1
        else:
            group = self.groups[int(rng.choice(len(self.groups), p=self.group_p))]
        return _pick(rng, self.cities_by_group[group])

    def _commissioning(self) -> tuple[bool, dt.date]:
        """Whether the next site is already in service when the window opens, and its commissioning day."""
        rng, window = self.rng, self.window
        existing = rng.random() < self.existing_share
        if existing:
            return existing, window.start - dt.timedelta(days=int(rng.integers(20, 3 * 365)))
        return existing, window.start + dt.timedelta(days=int(rng.integers(0, max(1, window.days - 10))))

    def _tariffs_and_hours(self, seg: str, region: str) -> tuple[str, str, str]:
        """Draw a site's driver tariff, utility tariff and operating hours."""
        rng = self.rng
        tariff = _pick(rng, DRIVER_TARIFF[seg], [0.7, 0.3] if seg == "public_dc" else None)
        if seg == "commercial":
            tariff = "EVR-L2-WORK" if rng.random() < 0.6 else "EVR-L2-DEST"
        # the first sites of a segment use each of its tariffs, so every tariff is exercised
        n_seg = sum(1 for x in self.sites if x["segment"] == seg)
        if n_seg < len(DRIVER_TARIFF[seg]):
            tariff = DRIVER_TARIFF[seg][n_seg]
        if seg == "residential":
            utility = RESIDENTIAL_UTILITY
        elif seg == "commercial" and rng.random() < 0.5:
            utility = SMALL_COMMERCIAL
        else:
            utility = UTILITY_BY_REGION[region]
        hours = "24/7"
        if seg == "commercial" and tariff == "EVR-L2-DEST" and rng.random() < 0.5:
            hours = LIMITED_HOURS
        return tariff, utility, hours

    def _new_site(self, seg: str, cust: dict, left: int) -> tuple[dict, int, float, str]:
        """Draw a site of customer *cust* and add it; returns it with its ports (at most *left*), kW and type."""
        rng = self.rng
        sp = P.SEG[seg]
        self.site_no += 1
        city = self._city()
        existing, commissioned = self._commissioning()
        n = min(int(_pick(rng, sp.ports_per_site, np.array(sp.ports_per_site_p))), left)
        hw = sp.hardware
        kw, ptype, _ = hw[int(rng.choice(len(hw), p=np.array([h[2] for h in hw])))]
        tariff, utility, hours = self._tariffs_and_hours(seg, city.region)
        site = {
            "site_id": f"SITE-{self.site_no:05d}",
            "site_name": f"{cust['name'].replace(' (home)', '')} {city.name} {SITE_KIND[seg]}",
            "customer_id": cust["customer_id"],
            "segment": seg,
            "revenue_model": cust["revenue_model"],
            "time_zone": city.tz,
            "utility_tariff_id": utility,
            "operating_hours": hours,
            "address": f"{int(rng.integers(10, 9900))} {_pick(rng, STREETS)}",
            "city": city.name,
            "state": city.state,
            "postal_code": f"{city.zip3}{int(rng.integers(1, 99)):02d}",
            "country": "USA",
            "latitude": round(city.lat + float(rng.uniform(-0.12, 0.12)), 6),
            "longitude": round(city.lon + float(rng.uniform(-0.12, 0.12)), 6),
            "driver_tariff_id": tariff,
            "commissioned_on": commissioned,
            "decommissioned_on": None,
            "existing": existing,
            "popularity": float(np.exp(rng.normal(0.0, sp.popularity_sigma))),
            "problem": bool(rng.random() < P.PROBLEM_SITE_SHARE),
            "region": city.region,
            "_chargers": 0,
        }
        self.sites.append(site)
        return site, n, kw, ptype

    def build_segment(self, seg: str, ports: int) -> None:
        """Customers of segment *seg* and their sites until *ports* ports are built."""
        rng = self.rng
        sp = P.SEG[seg]
        left = ports
        while left > 0:
            cust = self.new_customer(seg)
            n_sites = int(_pick(rng, sp.sites_per_customer, np.array(sp.sites_per_customer_p)))
            first_commission: dt.date | None = None
            for _ in range(n_sites):
                if left <= 0:
                    break
                site, n, kw, ptype = self._new_site(seg, cust, left)
                commissioned = site["commissioned_on"]
                first_commission = min(first_commission or commissioned, commissioned)
                left -= self.add_charger_ports(site, n, kw, ptype, commissioned)
                if seg == "fleet" and left > 0 and rng.random() < sp.depot_dc_share:
                    ndc = int(rng.integers(sp.depot_dc_ports[0], sp.depot_dc_ports[1] + 1))
                    ndc = min(ndc, left)
                    dkw = float(_pick(rng, sp.depot_dc_kw))
                    left -= self.add_charger_ports(site, ndc, dkw, "DC", commissioned)
            created = (first_commission or self.window.start) - dt.timedelta(days=int(rng.integers(60, 200)))
            cust["created_on"] = created

    # ---- land and expand, the last site, churn ----------------------------------------------------------

    def expand(self, n_exp: int) -> None:
        """Land and expand: *n_exp* customers add 4 L2 ports to an existing site mid-window."""
        rng, win_days = self.rng, self.window.days
        sites_df = pd.DataFrame(self.sites)
        cands = sites_df[(sites_df.segment.isin(["fleet", "commercial"])) & sites_df.existing]
        cands = cands.drop_duplicates("customer_id")
        pick = rng.choice(len(cands), size=min(n_exp, len(cands)), replace=False) if n_exp else []
        for i in sorted(pick):
            srow = cands.iloc[int(i)]
            site = next(s for s in self.sites if s["site_id"] == srow.site_id)
            offset = int(rng.integers(win_days // 4, max(win_days // 4 + 1, win_days - 7)))
            day = self.window.start + dt.timedelta(days=offset)
            sample = next(p for p in self.ports if p["site_id"] == site["site_id"])
            n_add = 4
            before = len(self.ports)
            self.add_charger_ports(site, n_add, sample["rated_kw"], sample["power_type"], day)
            self.expansions.append(
                {
                    "customer_id": site["customer_id"],
                    "site_id": site["site_id"],
                    "ports": n_add,
                    "on": day,
                    "port_ids": [p["port_id"] for p in self.ports[before:]],
                }
            )

    def top_up(self, ports: int) -> None:
        """Reserved ports without a candidate site for an expansion: one more commercial site with them."""
        short = ports - len(self.ports)
        if short <= 0:
            return
        cust = self.new_customer("commercial")
        cust["created_on"] = self.window.start - dt.timedelta(days=120)
        self.site_no += 1
        city = P.CITIES[int(self.rng.integers(0, len(P.CITIES)))]
        site = dict(self.sites[-1], site_id=f"SITE-{self.site_no:05d}", customer_id=cust["customer_id"],
                    segment="commercial", revenue_model=cust["revenue_model"], time_zone=city.tz, city=city.name,
                    state=city.state, region=city.region, utility_tariff_id=SMALL_COMMERCIAL,
                    driver_tariff_id="EVR-L2-WORK", operating_hours="24/7",
                    site_name=f"{cust['name']} {city.name} Garage", _chargers=0, latitude=city.lat,
                    longitude=city.lon, postal_code=f"{city.zip3}01")  # fmt: skip
        self.sites.append(site)
        self.add_charger_ports(site, short, 7.2, "AC_1_PHASE", site["commissioned_on"])

    def churn(self, sites_df: pd.DataFrame) -> list[str]:
        """A few customers with existing sites cancel: their sites leave the network (sets decommissioned_on).

        Returns the churned customers.
        """
        rng, window, win_days = self.rng, self.window, self.window.days
        churned: list[str] = []
        if win_days < 45:
            return churned
        exp_customers = {e["customer_id"] for e in self.expansions}
        pool = sorted(
            set(sites_df[sites_df.existing & (sites_df.segment != "residential")].customer_id) - exp_customers
        )
        n_churn = max(1, len(sites_df) // 40)
        if not pool:
            return churned
        for i in sorted(rng.choice(len(pool), size=min(n_churn, len(pool)), replace=False).tolist()):
            cid = pool[i]
            m = sites_df.customer_id == cid
            # cancel at least 60 days after the customer's latest commissioning
            lo = max(30, (max(sites_df[m].commissioned_on) - window.start).days + 60)
            if lo >= win_days - 5:
                continue
            churned.append(cid)
            day = window.start + dt.timedelta(days=int(rng.integers(lo, win_days - 5)))
            sites_df.loc[m, "decommissioned_on"] = day
        return churned
