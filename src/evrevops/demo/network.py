"""The network: customers, sites, chargers and ports (small tables, built row by row)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evrevops.demo import params as P

_ADJ = [
    "Summit", "Harbor", "Prairie", "Cascade", "Granite", "Liberty", "Pioneer", "Redwood", "Keystone", "Evergreen",
    "Silver", "Blue Ridge", "Lakeside", "Canyon", "Meridian", "Beacon", "Coastal", "Frontier", "Heritage", "Northstar",
    "Sunbelt", "Riverbend", "Ironwood", "Highland", "Bayview", "Mesa", "Patriot", "Horizon", "Oak Valley", "Crescent",
]  # fmt: skip
_NOUN = {
    "fleet": ["Logistics", "Delivery", "Transit Authority", "Freight", "Courier", "Utilities Fleet", "Rental Cars",
              "School District Fleet", "Grocers Fleet", "Field Services"],
    "public_dc": ["Travel Centers", "Markets", "Energy Plaza", "Fuel & Food", "Shopping Centers", "Quick Stop",
                  "Outlet Malls", "Hospitality Group"],
    "commercial": ["Properties", "Medical Center", "Office Park", "University", "Apartments", "Hotels",
                   "City Parking", "Tech Campus", "Retail Partners", "County Facilities"],
}  # fmt: skip
_FIRST = ["A.", "B.", "C.", "D.", "E.", "J.", "K.", "L.", "M.", "R.", "S.", "T."]
_LAST = [
    "Garcia", "Smith", "Nguyen", "Johnson", "Patel", "Kim", "Brown", "Lopez", "Miller", "Davis", "Wilson", "Moore",
    "Taylor", "Anderson", "Thomas", "Martin", "Lee", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill",
]  # fmt: skip
_STREET = [
    "Main St", "Oak Ave", "Industrial Blvd", "Commerce Dr", "Airport Rd", "Market St", "Park Ave", "Highway 1",
    "Lincoln Ave", "Washington Blvd", "Harbor Dr", "Depot Rd", "Elm St", "Maple Dr", "Cedar Ln", "Union Pkwy",
]  # fmt: skip
_SITE_KIND = {
    "fleet": "Depot",
    "public_dc": "Fast Charging Hub",
    "commercial": "Garage",
    "residential": "Residence",
}
GRID_SIZES = (25, 50, 75, 100, 150, 225, 300, 500, 750, 1000, 1500, 2000, 2500, 3000, 4000, 5000)

DRIVER_TARIFF = {
    "fleet": ["EVR-FLEET-DEPOT"],
    "public_dc": ["EVR-DC-STD", "EVR-DC-TIME"],
    "commercial": ["EVR-L2-WORK", "EVR-L2-DEST"],
    "residential": ["EVR-HOME"],
}
UTILITY_BY_REGION = {
    "california": "demo-ca-ev-tou-demand",
    "northeast": "demo-ne-large-tod",
    "southeast": "demo-se-gsld",
    "central": "demo-central-lgs-tiered",
    "mountain": "demo-mtn-sg-seasonal",
    "arizona": "demo-az-tou-demand",
    "pacific_nw": "demo-pnw-gs-demand",
}
SMALL_COMMERCIAL = "demo-small-commercial-tou"
RESIDENTIAL_UTILITY = "demo-residential-tou"
LIMITED_HOURS = "Mo-Fr 06:00-22:00; Sa,Su 08:00-20:00"
FIRST_MODEL = {
    "fleet": "hardware_sale",
    "public_dc": "caas",
    "commercial": "software_only",
    "residential": "hardware_sale",
}


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


def _grid_kw(kw: float) -> int:
    for g in GRID_SIZES:
        if g >= kw:
            return g
    return int(np.ceil(kw / 500) * 500)


def build_network(rng: np.random.Generator, ports: int, window: Window, profile: str) -> Network:
    if ports < 8:
        raise ValueError("ports must be at least 8 (two per segment)")
    mix = P.MIX[profile]
    target = {s: max(2, int(round(ports * mix[s]))) for s in P.SEGMENTS}
    # make the totals add up to `ports` exactly
    diff = ports - sum(target.values())
    target["commercial" if profile == "default" else "public_dc"] += diff
    # land and expand: ports reserved for expansions of existing L2 sites (4 ports each)
    n_exp = max(1, ports // 120) if window.days >= 20 else 0
    while n_exp and target["commercial"] - 4 * n_exp < 2:
        n_exp -= 1
    target["commercial"] -= 4 * n_exp

    groups = sorted(P.TZ_GROUP_WEIGHT)
    gw = np.array([P.TZ_GROUP_WEIGHT[g] for g in groups])
    gw = gw / gw.sum()
    cities_by_group = {g: [c for c in P.CITIES if P.tz_group(c) == g] for g in groups}
    zones = sorted({c.tz for c in P.CITIES})

    customers: list[dict] = []
    sites: list[dict] = []
    chargers: list[dict] = []
    port_rows: list[dict] = []
    expansions: list[dict] = []
    site_no = 0
    cust_no = 0
    rr = 0  # round robin over time-zone groups for the first sites, so every zone appears
    win_days = window.days
    existing_share = P.EXISTING_SHARE[profile]

    def new_customer(seg: str) -> dict:
        nonlocal cust_no
        cust_no += 1
        sp = P.SEG[seg]
        models = list(sp.revenue_model_p)
        model = _pick(rng, models, np.array([sp.revenue_model_p[m] for m in models]))
        if not any(c["segment"] == seg for c in customers):  # every model appears, even in a tiny network
            model = FIRST_MODEL[seg]
        if seg == "residential":
            name = f"{_pick(rng, _FIRST)} {_pick(rng, _LAST)} (home)"
        else:
            name = f"{_pick(rng, _ADJ)} {_pick(rng, _NOUN[seg])}"
        cid = f"CUST-{cust_no:05d}"
        row = {
            "customer_id": cid,
            "name": name,
            "segment": seg,
            "revenue_model": model,
            "country": "USA",
            "currency": P.CURRENCY,
            "billing_email": f"billing+{cid.lower()}@example.com",
        }
        customers.append(row)
        return row

    def add_charger_ports(site: dict, n_ports: int, kw: float, ptype: str, commissioned: dt.date) -> int:
        """Add chargers with n_ports ports to site; returns ports added."""
        added = 0
        per = 1 if ptype == "DC" or site["segment"] == "residential" else 2
        while added < n_ports:
            k = min(per, n_ports - added)
            site["_chargers"] += 1
            cid = f"{site['site_id'].replace('SITE', 'EVR')}-{site['_chargers']:02d}"
            fam = "DC" if ptype == "DC" else "AC"
            share201 = P.OCPP201_SHARE[fam]
            vendors = P.VENDORS[fam]
            if rng.random() < share201:
                vendor, model, proto = vendors[2]
            else:
                vendor, model, proto = vendors[int(rng.integers(0, 2))]
            chargers.append(
                {
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
            )
            for c in range(1, k + 1):
                if ptype == "DC":
                    std = "CHADEMO" if (kw <= 50 and rng.random() < 0.3) else "IEC_62196_T1_COMBO"
                else:
                    std = "IEC_62196_T1"
                port_rows.append(
                    {
                        "port_id": f"{cid}-{c}",
                        "site_id": site["site_id"],
                        "charger_id": cid,
                        "connector_id": c,
                        "evse_id": f"US*EVR*E{cid.replace('EVR-', '').replace('-', '')}{c}",
                        "power_type": ptype,
                        "connector_standard": std,
                        "rated_kw": kw,
                        "commissioned_on": commissioned,
                        "protocol": proto,
                    }
                )
            added += k
        return added

    for seg in P.SEGMENTS:
        sp = P.SEG[seg]
        left = target[seg]
        while left > 0:
            cust = new_customer(seg)
            n_sites = int(_pick(rng, sp.sites_per_customer, np.array(sp.sites_per_customer_p)))
            first_commission: dt.date | None = None
            for _ in range(n_sites):
                if left <= 0:
                    break
                site_no += 1
                if rr < len(groups):
                    group = groups[rr]
                    rr += 1
                else:
                    group = groups[int(rng.choice(len(groups), p=gw))]
                city = _pick(rng, cities_by_group[group])
                existing = rng.random() < existing_share
                if existing:
                    commissioned = window.start - dt.timedelta(days=int(rng.integers(20, 3 * 365)))
                else:
                    commissioned = window.start + dt.timedelta(days=int(rng.integers(0, max(1, win_days - 10))))
                first_commission = min(first_commission or commissioned, commissioned)
                n = int(_pick(rng, sp.ports_per_site, np.array(sp.ports_per_site_p)))
                n = min(n, left)
                hw = sp.hardware
                kw, ptype, _ = hw[int(rng.choice(len(hw), p=np.array([h[2] for h in hw])))]
                sid = f"SITE-{site_no:05d}"
                tariff = _pick(rng, DRIVER_TARIFF[seg], [0.7, 0.3] if seg == "public_dc" else None)
                if seg == "commercial":
                    tariff = "EVR-L2-WORK" if rng.random() < 0.6 else "EVR-L2-DEST"
                # the first sites of a segment use each of its tariffs, so every tariff is exercised
                n_seg = sum(1 for x in sites if x["segment"] == seg)
                if n_seg < len(DRIVER_TARIFF[seg]):
                    tariff = DRIVER_TARIFF[seg][n_seg]
                if seg == "residential":
                    utility = RESIDENTIAL_UTILITY
                elif seg == "commercial" and rng.random() < 0.5:
                    utility = SMALL_COMMERCIAL
                else:
                    utility = UTILITY_BY_REGION[city.region]
                hours = "24/7"
                if seg == "commercial" and tariff == "EVR-L2-DEST" and rng.random() < 0.5:
                    hours = LIMITED_HOURS
                site = {
                    "site_id": sid,
                    "site_name": f"{cust['name'].replace(' (home)', '')} {city.name} {_SITE_KIND[seg]}",
                    "customer_id": cust["customer_id"],
                    "segment": seg,
                    "revenue_model": cust["revenue_model"],
                    "time_zone": city.tz,
                    "utility_tariff_id": utility,
                    "operating_hours": hours,
                    "address": f"{int(rng.integers(10, 9900))} {_pick(rng, _STREET)}",
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
                sites.append(site)
                got = add_charger_ports(site, n, kw, ptype, commissioned)
                left -= got
                if seg == "fleet" and left > 0 and rng.random() < sp.depot_dc_share:
                    ndc = int(rng.integers(sp.depot_dc_ports[0], sp.depot_dc_ports[1] + 1))
                    ndc = min(ndc, left)
                    dkw = float(_pick(rng, sp.depot_dc_kw))
                    left -= add_charger_ports(site, ndc, dkw, "DC", commissioned)
            cust["created_on"] = (first_commission or window.start) - dt.timedelta(days=int(rng.integers(60, 200)))

    sites_df = pd.DataFrame(sites)
    # ---- land and expand: a few customers add 4 L2 ports to an existing site mid-window ------------
    cands = sites_df[(sites_df.segment.isin(["fleet", "commercial"])) & sites_df.existing]
    cands = cands.drop_duplicates("customer_id")
    pick = rng.choice(len(cands), size=min(n_exp, len(cands)), replace=False) if n_exp else []
    for i in sorted(pick):
        srow = cands.iloc[int(i)]
        site = next(s for s in sites if s["site_id"] == srow.site_id)
        day = window.start + dt.timedelta(days=int(rng.integers(win_days // 4, max(win_days // 4 + 1, win_days - 7))))
        sample = next(p for p in port_rows if p["site_id"] == site["site_id"])
        n_add = 4
        before = len(port_rows)
        add_charger_ports(site, n_add, sample["rated_kw"], sample["power_type"], day)
        expansions.append(
            {
                "customer_id": site["customer_id"],
                "site_id": site["site_id"],
                "ports": n_add,
                "on": day,
                "port_ids": [p["port_id"] for p in port_rows[before:]],
            }
        )

    short = ports - len(port_rows)  # reserved ports without a candidate site: one more commercial site
    if short > 0:
        cust = new_customer("commercial")
        cust["created_on"] = window.start - dt.timedelta(days=120)
        site_no += 1
        city = P.CITIES[int(rng.integers(0, len(P.CITIES)))]
        site = dict(sites[-1], site_id=f"SITE-{site_no:05d}", customer_id=cust["customer_id"], segment="commercial",
                    revenue_model=cust["revenue_model"], time_zone=city.tz, city=city.name, state=city.state,
                    region=city.region, utility_tariff_id=SMALL_COMMERCIAL, driver_tariff_id="EVR-L2-WORK",
                    operating_hours="24/7", site_name=f"{cust['name']} {city.name} Garage", _chargers=0,
                    latitude=city.lat, longitude=city.lon, postal_code=f"{city.zip3}01")  # fmt: skip
        sites.append(site)
        add_charger_ports(site, short, 7.2, "AC_1_PHASE", site["commissioned_on"])
    ports_df = pd.DataFrame(port_rows)
    chargers_df = pd.DataFrame(chargers)
    sites_df = pd.DataFrame(sites).drop(columns=["_chargers"])

    # ---- churn: a few customers with existing sites cancel; their sites leave the network ---------
    churned: list[str] = []
    exp_customers = {e["customer_id"] for e in expansions}
    if win_days >= 45:
        pool = sorted(
            set(sites_df[sites_df.existing & (sites_df.segment != "residential")].customer_id) - exp_customers
        )
        n_churn = max(1, len(sites_df) // 40)
        if pool:
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
    dec = sites_df.set_index("site_id")["decommissioned_on"]
    ports_df["decommissioned_on"] = ports_df.site_id.map(dec)
    chargers_df["decommissioned_on"] = chargers_df.site_id.map(dec)

    # grid capacity: the service size above the connected load
    load = ports_df.groupby("site_id").rated_kw.sum()
    sites_df["grid_capacity_kw"] = sites_df.site_id.map(lambda s: _grid_kw(float(load[s]) * 1.05))
    sites_df["tz_code"] = sites_df.time_zone.map({z: i for i, z in enumerate(zones)}).astype(np.int64)
    site_idx = {s: i for i, s in enumerate(sites_df.site_id)}
    ports_df["site_idx"] = ports_df.site_id.map(site_idx).astype(np.int64)
    net = Network(
        customers=pd.DataFrame(customers),
        sites=sites_df,
        chargers=chargers_df,
        ports=ports_df,
        expansions=expansions,
        churned=churned,
        zones=zones,
    )
    net.bay = _commissioning_bay(net, window)
    net.site_changes = _site_changes(net, window)
    return net


BAY_ID = "SITE-BAY01"
BAY_DAYS = 14  # days a port is tested at the bay before going to its own site
EV_RATE = "demo-ca-ev-tou-demand"  # the demo's EV-specific utility rate (urdb.py)


def _month_start(window: Window, k: int) -> dt.date:
    y, m = window.months[k]
    return dt.date(y, m, 1)


def _stays(net: Network) -> pd.Series:
    """Sites in service over the whole window: commissioned before it, never decommissioned, no expansion."""
    s = net.sites
    expanded = {e["site_id"] for e in net.expansions}
    return s.existing & s.decommissioned_on.isna() & ~s.site_id.isin(expanded)


def _commissioning_bay(net: Network, window: Window) -> dict | None:
    """The bay where the first chargers of one site commissioned during the window are tested first.

    The site: the first (in site order) non-residential site commissioned at least two months
    into the window (half the window when shorter), early enough for its 14 days at the bay to
    end inside it, with at least 3 chargers and still in service 14 days later. Its first two
    chargers go to the bay. The bay is in the site's time zone, segment fleet, on the utility
    tariff of a fleet depot in that zone (the first other than the site), else on its region's.
    No random draw: the rest of the network is the same with or without it.
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
        depots = s[(s.segment == "fleet") & (s.time_zone == site.time_zone) & (s.site_id != site.site_id)]
        # at a depot of the zone (its address, its utility tariff); without one, in the site's city on its region's
        at = depots.iloc[0] if len(depots) else site
        tariff = depots.iloc[0].utility_tariff_id if len(depots) else UTILITY_BY_REGION[site.region]
        chargers = net.chargers[net.chargers.site_id == site.site_id].charger_id.iloc[:2]
        port_idx = [int(i) for i in np.flatnonzero(net.ports.charger_id.isin(set(chargers)).to_numpy())]
        kw = float(net.ports.rated_kw.iloc[port_idx].sum())
        bay = {
            "site_id": BAY_ID,
            "site_name": "Commissioning bay",
            "customer_id": "",
            "segment": "fleet",
            "revenue_model": "",
            "energy_position": "operator",  # the operator's own bay: it pays the meter
            "time_zone": site.time_zone,
            "utility_tariff_id": tariff,
            "grid_capacity_kw": _grid_kw(kw * 1.05),
            "operating_hours": "24/7",
            "address": "1 Depot Rd",
            "city": at.city,
            "state": at.state,
            "postal_code": at.postal_code,
            "latitude": round(float(at.latitude) + 0.01, 6),
            "longitude": round(float(at.longitude) + 0.01, 6),
        }
        return {
            "site": bay,
            "port_idx": port_idx,
            "on": on,
            "until": on + dt.timedelta(days=BAY_DAYS),
            "from_site": site.site_id,
        }
    return None


def _site_changes(net: Network, window: Window) -> list[dict]:
    """Dated site facts (docs/demo.md, "History"): two public DC sites move to the EV rate, one from
    the 16th of a month (its bill that month has two parts) and one from the 1st; one commercial
    site becomes a fleet depot from the 1st of a month. Sites in service over the whole window,
    the first of each kind in site order (no random draw)."""
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


def _date(d) -> str:
    return "" if d is None or (isinstance(d, float) and np.isnan(d)) or pd.isna(d) else d.isoformat()


def write_customers(net: Network, path) -> int:
    df = net.customers.copy()
    df["created_on"] = df.created_on.map(_date)
    cols = ["customer_id", "name", "segment", "revenue_model", "country", "currency", "billing_email", "created_on"]
    df[cols].to_csv(path, index=False, lineterminator="\n")
    return len(df)


def write_sites(net: Network, path) -> int:
    """sites.csv: one row per port (docs/formats.md, Sites CSV)."""
    s = net.sites.set_index("site_id")
    c = net.chargers.set_index("charger_id")
    p = net.ports
    out = pd.DataFrame(
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
    parts = [out]
    if net.bay:
        # the bay's ports: a window at the bay for their first days, then their own site from the day they
        # arrive (their chargers move with them: a charger's site is that of its latest window)
        bay, idx = net.bay, net.bay["port_idx"]
        out.loc[out.index[idx], "commissioned_on"] = bay["until"].isoformat()
        rows = out.iloc[idx].copy()
        for k, v in bay["site"].items():
            rows[k] = v
        rows["grid_capacity_kw"] = bay["site"]["grid_capacity_kw"]
        rows["latitude"] = f"{bay['site']['latitude']:.6f}"
        rows["longitude"] = f"{bay['site']['longitude']:.6f}"
        rows["commissioned_on"] = bay["on"].isoformat()
        rows["decommissioned_on"] = bay["until"].isoformat()
        parts.append(rows)
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


def locations(net: Network, export_at: str, export_date: dt.date) -> list[dict]:
    """OCPI 2.2.1 Location objects, one per site; EVSE ``uid`` = port id."""
    out = []
    cust = net.customers.set_index("customer_id").name
    ports_by_site = {k: g for k, g in net.ports.groupby("site_id", sort=False)}
    for s in net.sites.itertuples(index=False):
        evses = []
        for p in ports_by_site[s.site_id].itertuples(index=False):
            if p.commissioned_on > export_date:
                status = "PLANNED"
            elif (
                p.decommissioned_on is not None
                and not pd.isna(p.decommissioned_on)
                and p.decommissioned_on <= export_date
            ):
                status = "REMOVED"
            else:
                status = "AVAILABLE"
            if p.power_type == "DC":
                volt, amp = (920, 400) if p.rated_kw > 200 else (500, int(round(p.rated_kw * 1000 / 500)))
            else:
                volt, amp = 240, int(round(p.rated_kw * 1000 / 240))
            evses.append(
                {
                    "uid": p.port_id,
                    "evse_id": p.evse_id,
                    "status": status,
                    "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"]
                    + (["CREDIT_CARD_PAYABLE"] if s.segment == "public_dc" else []),
                    "connectors": [
                        {
                            "id": str(p.connector_id),
                            "standard": p.connector_standard,
                            "format": "CABLE",
                            "power_type": p.power_type,
                            "max_voltage": volt,
                            "max_amperage": amp,
                            "max_electric_power": int(round(p.rated_kw * 1000)),
                            "tariff_ids": [s.driver_tariff_id],
                            "last_updated": export_at,
                        }
                    ],
                    "physical_reference": p.port_id.split("-", 2)[-1],
                    "last_updated": export_at,
                }
            )
        loc = {
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
            "parking_type": {
                "fleet": "PARKING_LOT",
                "public_dc": "ALONG_MOTORWAY",
                "commercial": "PARKING_GARAGE",
                "residential": "ON_DRIVEWAY",
            }[s.segment],
            "evses": evses,
            "operator": {"name": P.OPERATOR},
            "owner": {"name": str(cust[s.customer_id])},
            "time_zone": s.time_zone,
            "opening_times": _hours_json(s.operating_hours),
            "last_updated": export_at,
        }
        out.append(loc)
    if net.bay:
        # a live feed lists an EVSE where it is now: the bay's ports are at their own sites
        b = net.bay["site"]
        out.append(
            {
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
        )
    return out
