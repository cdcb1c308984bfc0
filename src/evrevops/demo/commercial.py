"""What was sold per site, contracts, incentives and the cost book (handbook §2, §6-§8).

The sales pipeline (deals, their stage history, projects) is :mod:`evrevops.demo.deals`.

Contract lines are written as a subscription system exports them: the **events** of each
line under the line's own ``line_id`` (the warehouse keeps every event, key ``(contract_id,
line_id, event, effective_on)``, and replays them into priced intervals,
:mod:`evrevops.warehouse.contract_lines`):

- ``new`` opens a line (``L1`` hardware, ``L2`` installation, ``L3`` software, ``L4`` CaaS,
  ``L5`` maintenance) with its ports and price, its ``end_on`` the end of its term;
- ``renew`` (same line id) continues it at the end of its term with the same ports and price,
  ``end_on`` the end of the next term;
- ``amend`` (same line id) is an expansion: a recurring line's new **total** ports from the
  expansion's commissioning, co-terminous; a hardware line's new total quantity (a true-up of
  the added chargers, recognized at their delivery) and an installation line's new total price
  (the added installation, at commissioning);
- ``cancel`` (same line id) ends the line on the cancellation date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evrevops.core import calendar
from evrevops.demo import params as P
from evrevops.demo.network import Network, Window

DC_PRICE = {50: 38000, 60: 45000, 90: 58000, 120: 72000, 150: 85000, 250: 118000, 350: 142000}
SLA_SCHEDULE = "97:5;95:10;90:25"


def money_text(cents: int) -> str:
    """Cents as a CSV amount in dollars, two decimals (``12345`` -> ``"123.45"``)."""
    return f"{cents // 100}.{cents % 100:02d}"


def add_months(d: dt.date, n: int) -> dt.date:
    """The same day *n* months after *d*, or the last day of that month when it is shorter (a term's end)."""
    first = calendar.add_months(d, n)
    return first.replace(day=min(d.day, calendar.days_in_month(first.year, first.month)))


@dataclass
class SiteDeal:
    """What was sold for one site deployment (or expansion)."""

    site_id: str
    customer_id: str
    segment: str
    model: str
    ports: int
    chargers: int
    hardware_c: int
    installation_c: int
    software_c: int  # per port per month
    caas_c: int
    commissioned: dt.date
    expansion: bool


def unit_prices(seg: str, kw: float, ptype: str, n_ports: int, n_chargers: int) -> tuple[int, int, int, int]:
    """(hardware per charger, installation per site, software per port-month, CaaS per port-month) in cents."""
    if ptype == "DC":
        hw = DC_PRICE.get(int(kw), 85000) * 100
        inst = (60000 + 28000 * n_ports) * 100
        sw = 6500
        caas = int(round(kw * 9.5)) * 100
    elif seg == "fleet":
        hw, inst, sw, caas = 890000, (15000 + 3500 * n_ports) * 100, 3200, 18500
    elif seg == "residential":
        hw, inst, sw, caas = 95000, 120000, 600, 4500
    else:
        hw, inst, sw, caas = 640000, (4500 + 2200 * n_ports) * 100, 2800, 15000
    return hw, inst, sw, caas


def site_deals(net: Network) -> list[SiteDeal]:
    out = []
    ports = net.ports
    exp_ports = {p for e in net.expansions for p in e["port_ids"]}
    for s in net.sites.itertuples(index=False):
        sp = ports[(ports.site_id == s.site_id) & ~ports.port_id.isin(exp_ports)]
        kw = float(sp.rated_kw.iloc[0])
        ptype = str(sp.power_type.iloc[0])
        n_ch = sp.charger_id.nunique()
        hw, inst, sw, caas = unit_prices(s.segment, kw, ptype, len(sp), n_ch)
        # fleet depots with DC: price the DC chargers separately into the hardware total
        dc = sp[sp.power_type == "DC"] if ptype != "DC" else sp.iloc[0:0]
        hw_total = hw * (n_ch - dc.charger_id.nunique()) + sum(
            DC_PRICE.get(int(k), 85000) * 100 for k in dc.drop_duplicates("charger_id").rated_kw
        )
        caas_total = caas * (len(sp) - len(dc)) + sum(int(round(k * 9.5)) * 100 for k in dc.rated_kw)
        out.append(
            SiteDeal(
                s.site_id,
                s.customer_id,
                s.segment,
                s.revenue_model,
                len(sp),
                n_ch,
                hw_total,
                inst + 28000 * 100 * len(dc),
                sw,
                caas_total // max(len(sp), 1),
                s.commissioned_on,
                False,
            )  # fmt: skip
        )
    for e in net.expansions:
        s = net.sites.set_index("site_id").loc[e["site_id"]]
        ep = ports[ports.port_id.isin(e["port_ids"])]
        kw = float(ep.rated_kw.iloc[0])
        ptype = str(ep.power_type.iloc[0])
        n_ch = ep.charger_id.nunique()
        hw, inst, sw, caas = unit_prices(s.segment, kw, ptype, len(ep), n_ch)
        out.append(
            SiteDeal(
                e["site_id"],
                e["customer_id"],
                s.segment,
                s.revenue_model,
                len(ep),
                n_ch,
                hw * n_ch,
                inst // 2,
                sw,
                caas,
                e["on"],
                True,
            )  # fmt: skip
        )
    return out


def _churn_dates(net: Network) -> dict[str, dt.date]:
    """The day each churned customer's first site leaves the network: its contracts' cancellation."""
    churn_on = {}
    for cid in net.churned:
        d = net.sites[net.sites.customer_id == cid].decommissioned_on.dropna()
        if len(d):
            churn_on[cid] = min(d)
    return churn_on


def _hardware_sale_lines(common: dict, sd: SiteDeal) -> tuple[list[dict], tuple[dict, dict]]:
    """A hardware sale's one-time lines (hardware ``L1``, installation ``L2``) and their state for amendments."""
    c_on = sd.commissioned
    unit_c = sd.hardware_c // max(sd.chargers, 1)
    rows = [
        {**common, "line_id": "L1", "line_type": "hardware", "event": "new", "effective_on": c_on - dt.timedelta(days=21),
         "quantity": sd.chargers, "unit_price": money_text(unit_c), "billing_period": "one_time"},
        {**common, "line_id": "L2", "line_type": "installation", "event": "new", "effective_on": c_on, "quantity": 1,
         "unit_price": money_text(sd.installation_c), "billing_period": "one_time"},
    ]  # fmt: skip
    return rows, ({"unit_c": unit_c, "quantity": sd.chargers}, {"total_c": sd.installation_c})


def _recurring_line(rng, common: dict, sd: SiteDeal, recurring_of_site: dict[str, dict]) -> dict | None:
    """The site's recurring line (software ``L3`` or CaaS ``L4``) before its events, or None (a residential sale).

    Draws whether software is billed annually and whether CaaS shares energy revenue; the first
    of each kind is so, so that every kind appears.
    """
    if sd.model in ("hardware_sale", "software_only"):
        annual = rng.random() < (0.45 if sd.segment != "residential" else 0.2)
        annual = annual or not any(v["billing_period"] == "annual" for v in recurring_of_site.values())
        line = {**common, "line_id": "L3", "line_type": "software", "unit_c": sd.software_c,
                "billing_period": "annual" if annual else "monthly", "term_months": 12 if annual else 36}  # fmt: skip
        if sd.segment == "public_dc" and sd.model == "software_only":
            line.update(sla_uptime_pct="99", sla_scope="site", sla_credit_schedule="99:5;97:10;95:20")
        return line
    if sd.model == "caas":
        share = sd.segment in ("public_dc", "commercial") and rng.random() < 0.5
        share = share or (
            sd.segment == "public_dc" and not any(v.get("energy_share_pct") for v in recurring_of_site.values())
        )
        unit = sd.caas_c if not share else int(sd.caas_c * 0.8)
        return {**common, "line_id": "L4", "line_type": "caas", "unit_c": unit, "billing_period": "monthly",
                "term_months": 60 if sd.segment == "fleet" else 84, "energy_share_pct": "15" if share else "",
                "sla_uptime_pct": "97", "sla_scope": "port", "sla_credit_schedule": SLA_SCHEDULE}  # fmt: skip
    return None


def _maintenance_line(common: dict, sd: SiteDeal) -> dict:
    """A public DC hardware sale's maintenance line ``L5`` (5 years, quarterly site SLA)."""
    c_on = sd.commissioned
    return {**common, "line_id": "L5", "line_type": "maintenance", "event": "new", "effective_on": c_on,
            "end_on": add_months(c_on, 60), "ports": sd.ports, "unit_price": money_text(18000),
            "billing_period": "annual", "term_months": 60, "sla_uptime_pct": "97", "sla_scope": "site",
            "sla_period": "quarter", "sla_credit_schedule": SLA_SCHEDULE}  # fmt: skip


@dataclass
class _Book:
    """Contract lines as they are written: rows, and the state amendments and renewals need."""

    rows: list[dict] = field(default_factory=list)
    contract_of_site: dict[str, str] = field(default_factory=dict)
    recurring_of_site: dict[str, dict] = field(default_factory=dict)
    # a hardware sale's hardware and installation lines, for amendments
    one_time: dict[str, tuple[dict, dict]] = field(default_factory=dict)


def _common(contract_id: str, sd: SiteDeal) -> dict:
    return {"contract_id": contract_id, "customer_id": sd.customer_id, "site_id": sd.site_id,
            "revenue_model": sd.model, "currency": P.CURRENCY}  # fmt: skip


def _open_contracts(rng, deals: list[SiteDeal]) -> _Book:
    """One contract per site deployment: its one-time lines, and its recurring line to be written with its events."""
    book = _Book()
    n = 0
    for sd in deals:
        if sd.expansion:
            continue
        n += 1
        k = f"K-{n:05d}"
        book.contract_of_site[sd.site_id] = k
        common = _common(k, sd)
        if sd.model == "hardware_sale":
            rows, book.one_time[sd.site_id] = _hardware_sale_lines(common, sd)
            book.rows.extend(rows)
        line = _recurring_line(rng, common, sd, book.recurring_of_site)
        if line is not None:
            book.recurring_of_site[sd.site_id] = line
        if sd.model == "hardware_sale" and sd.segment == "public_dc":
            book.rows.append(_maintenance_line(common, sd))
        line = book.recurring_of_site.get(sd.site_id)
        if line is not None:
            line["start"] = sd.commissioned
            line["ports"] = sd.ports
    return book


def _amend_one_time(book: _Book, deals: list[SiteDeal]) -> dict[str, list[tuple[dt.date, int]]]:
    """Expansions: amend events under the lines' own ids (new totals of hardware and installation).

    Returns the ports each expansion adds per site, ``(day, ports)``, for the recurring lines.
    """
    amends: dict[str, list[tuple[dt.date, int]]] = {}
    for sd in sorted((d for d in deals if d.expansion), key=lambda d: (d.site_id, d.commissioned)):
        common = _common(book.contract_of_site[sd.site_id], sd)
        if sd.model == "hardware_sale":
            hw_line, inst_line = book.one_time[sd.site_id]
            unit = sd.hardware_c // max(sd.chargers, 1)
            ordered = sd.commissioned - dt.timedelta(days=14)
            if unit == hw_line["unit_c"]:  # the same charger at the same price: the line's new total quantity
                hw_line["quantity"] += sd.chargers
                book.rows.append({**common, "line_id": "L1", "line_type": "hardware", "event": "amend",
                                  "effective_on": ordered, "quantity": hw_line["quantity"],
                                  "unit_price": money_text(unit), "billing_period": "one_time"})  # fmt: skip
            else:  # another charger at another price: an order line of its own
                book.rows.append({**common, "line_id": f"L1-{sd.commissioned:%Y%m%d}", "line_type": "hardware",
                                  "event": "new", "effective_on": ordered, "quantity": sd.chargers,
                                  "unit_price": money_text(unit), "billing_period": "one_time"})  # fmt: skip
            inst_line["total_c"] += sd.installation_c
            book.rows.append({**common, "line_id": "L2", "line_type": "installation", "event": "amend",
                              "effective_on": sd.commissioned, "quantity": 1,
                              "unit_price": money_text(inst_line["total_c"]), "billing_period": "one_time"})  # fmt: skip
        amends.setdefault(sd.site_id, []).append((sd.commissioned, sd.ports))
    return amends


def _recurring_events(line: dict, added: list[tuple[dt.date, int]], stop: dt.date | None, horizon: dt.date):
    """A recurring line's events: new, renewals to *horizon*, amendments (the new total ports), cancellation."""
    rows = []
    term = line["term_months"]
    base = {k2: v for k2, v in line.items() if k2 not in ("unit_c", "start", "ports")}
    base["unit_price"] = money_text(line["unit_c"])
    start = line["start"]
    ports_now = line["ports"]
    pend = sorted(added)
    r = 0
    while True:
        end = add_months(start, term)
        cut = stop is not None and stop < end
        row_end = stop if cut else end
        rows.append({**base, "event": "new" if r == 0 else "renew", "effective_on": start, "end_on": end,
                     "ports": ports_now})  # fmt: skip
        for on, add in [a for a in pend if start <= a[0] < row_end]:
            ports_now += add
            rows.append({**base, "event": "amend", "effective_on": on, "end_on": end, "ports": ports_now})
        pend = [a for a in pend if a[0] >= row_end]
        if cut:
            rows.append({**base, "event": "cancel", "effective_on": stop, "ports": ports_now})
            break
        if end >= horizon:
            break
        start = end
        r += 1
    return rows


CONTRACT_COLUMNS = ["contract_id", "line_id", "customer_id", "site_id", "revenue_model", "line_type", "event",
                    "effective_on", "end_on", "ports", "quantity", "unit_price", "currency", "billing_period",
                    "term_months", "energy_share_pct", "sla_uptime_pct", "sla_scope", "sla_period",
                    "sla_credit_schedule"]  # fmt: skip


def _contracts_frame(rows: list[dict]) -> pd.DataFrame:
    """contracts.csv's table: its columns in order, by contract and date, numbers and dates as text."""
    df = pd.DataFrame(rows)
    for c in CONTRACT_COLUMNS:
        if c not in df:
            df[c] = None
    df = df[CONTRACT_COLUMNS].sort_values(["contract_id", "effective_on", "line_id"], kind="stable")
    for c in ("ports", "quantity", "term_months"):
        df[c] = df[c].map(lambda v: "" if v is None or pd.isna(v) else str(int(v)))
    for c in ("effective_on", "end_on"):
        df[c] = df[c].map(lambda v: "" if v is None or pd.isna(v) else v.isoformat())
    return df.fillna("")


def contracts(rng: np.random.Generator, net: Network, window: Window, deals: list[SiteDeal]) -> pd.DataFrame:
    """The contract lines' events (contracts.csv), as a subscription system exports them.

    Parameters
    ----------
    rng : numpy.random.Generator
        The contracts' own generator.
    net : Network
        The demo network (its churned customers cancel).
    window : Window
        The generated months: lines renew up to its end.
    deals : list of SiteDeal
        What was sold per site deployment and expansion (:func:`site_deals`).
    """
    churn_on = _churn_dates(net)
    book = _open_contracts(rng, deals)
    amends = _amend_one_time(book, deals)
    for site_id, line in book.recurring_of_site.items():
        stop = churn_on.get(line["customer_id"])
        book.rows.extend(_recurring_events(line, amends.get(site_id, []), stop, window.end))
    return _contracts_frame(book.rows)


INCENTIVE_COLUMNS = ["incentive_id", "program", "kind", "site_id", "segment", "pct_of_eligible", "cap", "amount",
                     "currency", "eligible_costs", "start_on", "end_on", "status", "awarded_on"]  # fmt: skip


def incentives(rng: np.random.Generator, net: Network, window: Window, deals: list[SiteDeal]) -> pd.DataFrame:
    """Grants (% of eligible cost with a cap), utility make-ready rebates and the 30C tax credit (handbook §7)."""
    rows = []
    n = 0
    prog_start = dt.date(window.start.year - 3, 1, 1)
    prog_end = dt.date(window.end.year + 2, 12, 31)
    by_site = {d.site_id: d for d in deals if not d.expansion}
    for s in net.sites.itertuples(index=False):
        sd = by_site[s.site_id]
        if s.revenue_model == "software_only":
            continue  # the operator does not own the hardware cost
        awarded = sd.commissioned - dt.timedelta(days=int(rng.integers(60, 200)))
        status = "paid" if sd.commissioned + dt.timedelta(days=90) < window.end else "awarded"
        cands = []
        if s.segment == "public_dc":
            cands.append(
                ("NEVI Formula Program (demo)", "grant", "80", 60000000, "hardware;installation;make_ready", 0.8)
            )
        if s.segment == "commercial" and s.state == "CA":
            cands.append(("CALeVIP 2.0 (demo)", "grant", "75", 8000000, "hardware;installation", 0.7))
        if s.segment == "fleet":
            cands.append(("Utility fleet make-ready rebate (demo)", "rebate", "", 0, "make_ready", 0.6))
        if s.segment != "residential":
            cands.append(("30C Alternative Fuel Vehicle Refueling Property Credit (demo)", "tax_credit", "30", 10000000,
                          "hardware;installation", 0.4))  # fmt: skip
        else:
            cands.append(("30C residential refueling property credit (demo)", "tax_credit", "30", 100000, "hardware;installation", 0.5))  # fmt: skip
        for program, kind, pct, cap, elig, p in cands:
            if rng.random() >= p:
                continue
            n += 1
            st = status
            if kind == "grant" and rng.random() < 0.1:
                st = "denied"
            elif kind == "grant" and sd.commissioned >= window.start and rng.random() < 0.15:
                st = "applied"
            amount = ""
            if kind == "rebate":
                amount = money_text(400000 * sd.ports)
            elif kind == "tax_credit":
                amount = money_text(min(int((sd.hardware_c + sd.installation_c) * 0.3), cap))
            rows.append({"incentive_id": f"INCV-{n:05d}", "program": program, "kind": kind, "site_id": s.site_id,
                         "segment": s.segment, "pct_of_eligible": pct, "cap": money_text(cap) if cap else "",
                         "amount": amount, "currency": P.CURRENCY, "eligible_costs": elig,
                         "start_on": prog_start.isoformat(), "end_on": prog_end.isoformat(), "status": st,
                         "awarded_on": awarded.isoformat() if st in ("awarded", "paid") else ""})  # fmt: skip
    return pd.DataFrame(rows, columns=INCENTIVE_COLUMNS)  # the header even with no incentive (a tiny network)


# the operator's cost book (docs/demo.md, "Cost book"): capex per site, operating costs per segment
HARDWARE_COST_SHARE = 0.68  # hardware cost of goods as a share of its list price
INSTALLATION_COST_SHARE = 0.85
MAKE_READY = {"public_dc": (4_500_000, 1_500_000), "fleet": (600_000, 250_000), "commercial": (150_000, 120_000)}
SEGMENT_OPEX = {
    # cost_type, basis, amount in cents or rate in percent
    "public_dc": [("network", "per_port_month", 1500), ("maintenance", "per_port_month", 11000),
                  ("payment_processing", "pct_of_energy_revenue", "2.9"), ("payment_processing", "per_session", 30),
                  ("site_lease", "per_month", 40000)],
    "commercial": [("network", "per_port_month", 400), ("maintenance", "per_port_month", 1200),
                   ("payment_processing", "pct_of_energy_revenue", "2.9"), ("payment_processing", "per_session", 30)],
    "fleet": [("network", "per_port_month", 500), ("maintenance", "per_port_month", 1800)],
    "residential": [("network", "per_port_month", 150)],
}  # fmt: skip


def costs(rng: np.random.Generator, net: Network, deals: list[SiteDeal]) -> pd.DataFrame:
    """The operator's cost book: hardware, installation and make-ready per deployment, opex per segment.

    Every site has its capex rows whatever its revenue model (the cost of building it, which
    the revenue model decides who bears); expansions add their own rows on their date.
    """
    rows: list[dict] = []
    n = 0

    def add(**kw) -> None:
        nonlocal n
        n += 1
        rows.append({"cost_id": f"COST-{n:05d}", "currency": P.CURRENCY, **kw})

    for sd in deals:
        noise = float(rng.normal(1.0, 0.05))
        hw = int(round(sd.hardware_c * HARDWARE_COST_SHARE * noise))
        inst = int(round(sd.installation_c * INSTALLATION_COST_SHARE * float(rng.normal(1.0, 0.08))))
        tag = "expansion" if sd.expansion else "deployment"
        add(site_id=sd.site_id, cost_type="hardware", basis="one_time", amount=money_text(hw),
            incurred_on=(sd.commissioned - dt.timedelta(days=21)).isoformat(), notes=f"{tag}: {sd.chargers} chargers")  # fmt: skip
        add(site_id=sd.site_id, cost_type="installation", basis="one_time", amount=money_text(inst),
            incurred_on=sd.commissioned.isoformat(), notes=f"{tag}: installation")  # fmt: skip
        if sd.segment in MAKE_READY and not sd.expansion:
            base, per_port = MAKE_READY[sd.segment]
            mr = int(round((base + per_port * sd.ports) * float(rng.normal(1.0, 0.1))))
            add(site_id=sd.site_id, cost_type="make_ready", basis="one_time", amount=money_text(mr),
                incurred_on=(sd.commissioned - dt.timedelta(days=30)).isoformat(), notes="utility make-ready")  # fmt: skip
    for seg, items in SEGMENT_OPEX.items():
        for cost_type, basis, v in items:
            money = basis != "pct_of_energy_revenue"
            add(segment=seg, cost_type=cost_type, basis=basis, amount=money_text(v) if money else "",
                rate_pct="" if money else v, notes=f"{seg} default")  # fmt: skip
    cols = ["cost_id", "site_id", "segment", "cost_type", "basis", "amount", "rate_pct", "currency", "incurred_on",
            "start_on", "end_on", "notes"]  # fmt: skip
    df = pd.DataFrame(rows)
    for c in cols:
        if c not in df:
            df[c] = None
    return df[cols].fillna("")
