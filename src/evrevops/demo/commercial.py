"""Contracts, deals and their stage history, projects and incentives (handbook §2, §6-§8).

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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evrevops.demo import params as P
from evrevops.demo.network import Network, Window

DC_PRICE = {50: 38000, 60: 45000, 90: 58000, 120: 72000, 150: 85000, 250: 118000, 350: 142000}
SLA_SCHEDULE = "97:5;95:10;90:25"
OWNERS = {
    "fleet": ["Dana Ortiz", "Sam Patel"],
    "public_dc": ["Chris Moreno", "Riley Chen"],
    "commercial": ["Alex Kim", "Jordan Lee"],
    "residential": ["Inside Sales"],
}
STAGES = ["prospect", "qualified", "proposal", "negotiation"]
PROB = {"prospect": 10, "qualified": 20, "proposal": 40, "negotiation": 60, "closed_won": 100, "closed_lost": 0}
MILESTONES = ["site_survey", "make_ready", "permits", "installation", "commissioning"]
BUDGET_SHARE = [0.03, 0.35, 0.04, 0.5, 0.08]


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _add_months(d: dt.date, n: int) -> dt.date:
    idx = d.year * 12 + d.month - 1 + n
    y, m = divmod(idx, 12)
    m += 1
    last = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(y, m, min(d.day, last))


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


def _unit_prices(seg: str, kw: float, ptype: str, n_ports: int, n_chargers: int) -> tuple[int, int, int, int]:
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
        hw, inst, sw, caas = _unit_prices(s.segment, kw, ptype, len(sp), n_ch)
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
        hw, inst, sw, caas = _unit_prices(s.segment, kw, ptype, len(ep), n_ch)
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


def contracts(rng: np.random.Generator, net: Network, window: Window, deals: list[SiteDeal]) -> pd.DataFrame:
    rows: list[dict] = []
    churn_on = {}
    for cid in net.churned:
        d = net.sites[net.sites.customer_id == cid].decommissioned_on.dropna()
        if len(d):
            churn_on[cid] = min(d)
    base_contract: dict[str, str] = {}
    recurring_of_site: dict[str, dict] = {}
    one_time: dict[str, tuple[dict, dict]] = {}  # a hardware sale's hardware and installation lines, for amendments
    n = 0
    for sd in deals:
        if sd.expansion:
            continue
        n += 1
        k = f"K-{n:05d}"
        base_contract[sd.site_id] = k
        common = {"contract_id": k, "customer_id": sd.customer_id, "site_id": sd.site_id, "revenue_model": sd.model,
                  "currency": P.CURRENCY}  # fmt: skip
        c_on = sd.commissioned
        if sd.model == "hardware_sale":
            rows.append({**common, "line_id": "L1", "line_type": "hardware", "event": "new",
                         "effective_on": c_on - dt.timedelta(days=21), "quantity": sd.chargers,
                         "unit_price": _money(sd.hardware_c // max(sd.chargers, 1)), "billing_period": "one_time"})  # fmt: skip
            rows.append({**common, "line_id": "L2", "line_type": "installation", "event": "new", "effective_on": c_on,
                         "quantity": 1, "unit_price": _money(sd.installation_c), "billing_period": "one_time"})  # fmt: skip
            one_time[sd.site_id] = (
                {"unit_c": sd.hardware_c // max(sd.chargers, 1), "quantity": sd.chargers},
                {"total_c": sd.installation_c},
            )
        if sd.model in ("hardware_sale", "software_only"):
            annual = rng.random() < (0.45 if sd.segment != "residential" else 0.2)
            annual = annual or not any(v["billing_period"] == "annual" for v in recurring_of_site.values())
            line = {**common, "line_id": "L3", "line_type": "software", "unit_c": sd.software_c,
                    "billing_period": "annual" if annual else "monthly", "term_months": 12 if annual else 36}  # fmt: skip
            if sd.segment == "public_dc" and sd.model == "software_only":
                line.update(sla_uptime_pct="99", sla_scope="site", sla_credit_schedule="99:5;97:10;95:20")
            recurring_of_site[sd.site_id] = line
        if sd.model == "caas":
            share = sd.segment in ("public_dc", "commercial") and rng.random() < 0.5
            share = share or (
                sd.segment == "public_dc" and not any(v.get("energy_share_pct") for v in recurring_of_site.values())
            )
            unit = sd.caas_c if not share else int(sd.caas_c * 0.8)
            line = {**common, "line_id": "L4", "line_type": "caas", "unit_c": unit, "billing_period": "monthly",
                    "term_months": 60 if sd.segment == "fleet" else 84,
                    "energy_share_pct": "15" if share else "", "sla_uptime_pct": "97", "sla_scope": "port",
                    "sla_credit_schedule": SLA_SCHEDULE}  # fmt: skip
            recurring_of_site[sd.site_id] = line
        if sd.model == "hardware_sale" and sd.segment == "public_dc":
            rows.append({**common, "line_id": "L5", "line_type": "maintenance", "event": "new", "effective_on": c_on,
                         "end_on": _add_months(c_on, 60), "ports": sd.ports, "unit_price": _money(18000),
                         "billing_period": "annual", "term_months": 60, "sla_uptime_pct": "97", "sla_scope": "site", "sla_period": "quarter",
                         "sla_credit_schedule": SLA_SCHEDULE})  # fmt: skip
        line = recurring_of_site.get(sd.site_id)
        if line is not None:
            line["start"] = c_on
            line["ports"] = sd.ports
    # expansions: amend events under the lines' own ids: the new totals (hardware and installation for hardware sales)
    amends: dict[str, list[tuple[dt.date, int]]] = {}
    for sd in sorted((d for d in deals if d.expansion), key=lambda d: (d.site_id, d.commissioned)):
        k = base_contract[sd.site_id]
        common = {"contract_id": k, "customer_id": sd.customer_id, "site_id": sd.site_id, "revenue_model": sd.model,
                  "currency": P.CURRENCY}  # fmt: skip
        if sd.model == "hardware_sale":
            hw_line, inst_line = one_time[sd.site_id]
            unit = sd.hardware_c // max(sd.chargers, 1)
            if unit == hw_line["unit_c"]:  # the same charger at the same price: the line's new total quantity
                hw_line["quantity"] += sd.chargers
                rows.append({**common, "line_id": "L1", "line_type": "hardware", "event": "amend",
                             "effective_on": sd.commissioned - dt.timedelta(days=14), "quantity": hw_line["quantity"],
                             "unit_price": _money(unit), "billing_period": "one_time"})  # fmt: skip
            else:  # another charger at another price: an order line of its own
                rows.append({**common, "line_id": f"L1-{sd.commissioned:%Y%m%d}", "line_type": "hardware",
                             "event": "new", "effective_on": sd.commissioned - dt.timedelta(days=14),
                             "quantity": sd.chargers, "unit_price": _money(unit), "billing_period": "one_time"})  # fmt: skip
            inst_line["total_c"] += sd.installation_c
            rows.append({**common, "line_id": "L2", "line_type": "installation", "event": "amend",
                         "effective_on": sd.commissioned, "quantity": 1, "unit_price": _money(inst_line["total_c"]),
                         "billing_period": "one_time"})  # fmt: skip
        amends.setdefault(sd.site_id, []).append((sd.commissioned, sd.ports))
    # recurring lines: new, renewals, amendments (the new total ports), cancellation, all under the line's id
    horizon = window.end
    for site_id, line in recurring_of_site.items():
        cust = line["customer_id"]
        stop = churn_on.get(cust)
        term = line["term_months"]
        base = {k2: v for k2, v in line.items() if k2 not in ("unit_c", "start", "ports")}
        base["unit_price"] = _money(line["unit_c"])
        start = line["start"]
        ports_now = line["ports"]
        pend = sorted(amends.get(site_id, []))
        r = 0
        while True:
            end = _add_months(start, term)
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
    cols = ["contract_id", "line_id", "customer_id", "site_id", "revenue_model", "line_type", "event", "effective_on",
            "end_on", "ports", "quantity", "unit_price", "currency", "billing_period", "term_months",
            "energy_share_pct", "sla_uptime_pct", "sla_scope", "sla_period", "sla_credit_schedule"]  # fmt: skip
    df = pd.DataFrame(rows)
    for c in cols:
        if c not in df:
            df[c] = None
    df = df[cols].sort_values(["contract_id", "effective_on", "line_id"], kind="stable")
    for c in ("ports", "quantity", "term_months"):
        df[c] = df[c].map(lambda v: "" if v is None or pd.isna(v) else str(int(v)))
    for c in ("effective_on", "end_on"):
        df[c] = df[c].map(lambda v: "" if v is None or pd.isna(v) else v.isoformat())
    return df.fillna("")


def pipeline(
    rng: np.random.Generator, net: Network, window: Window, deals: list[SiteDeal]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """deals, deal stage history and project milestones."""
    names = net.customers.set_index("customer_id").name
    deal_rows: list[dict] = []
    stage_rows: list[dict] = []
    proj_rows: list[dict] = []
    horizon = window.start - dt.timedelta(days=270)
    n = 0
    misrouted = 0

    def owner(seg: str) -> str:
        nonlocal misrouted
        if seg == "fleet" and misrouted < 2 and rng.random() < 0.15:
            misrouted += 1
            return OWNERS["commercial"][0]
        return OWNERS[seg][int(rng.integers(0, len(OWNERS[seg])))]

    def history(deal_id: str, created: dt.date, upto: str, closed: dt.date | None) -> dt.date:
        d = created
        for st in STAGES:
            stage_rows.append({"deal_id": deal_id, "stage": st, "entered_on": d.isoformat()})
            if st == upto:
                return d
            d = d + dt.timedelta(days=int(rng.integers(12, 45)))
            if closed is not None and d >= closed:
                d = closed - dt.timedelta(days=int(rng.integers(1, 5)))
        return d

    def amounts(sd: SiteDeal) -> dict:
        hw = sd.hardware_c if sd.model == "hardware_sale" else 0
        inst = sd.installation_c if sd.model == "hardware_sale" else 0
        sw = 12 * sd.software_c * sd.ports if sd.model != "caas" else 0
        caas = 12 * sd.caas_c * sd.ports if sd.model == "caas" else 0
        return {"hardware_amount": _money(hw), "installation_amount": _money(inst), "software_arr": _money(sw),
                "caas_arr": _money(caas)}  # fmt: skip

    def project(deal_id: str, sd_site: str, cust: str, closed: dt.date, commission: dt.date | None, budget_c: int):
        pid = f"PRJ-{deal_id[2:]}"
        plan = closed + dt.timedelta(days=int(rng.integers(7, 20)))
        gaps = [
            0,
            int(rng.integers(30, 60)),
            int(rng.integers(20, 40)),
            int(rng.integers(15, 35)),
            int(rng.integers(5, 15)),
        ]
        planned = []
        for g in gaps:
            plan = plan + dt.timedelta(days=g)
            planned.append(plan)
        slipped = rng.random() < 0.35
        slips = np.cumsum([int(rng.integers(0, 4)), int(rng.integers(10, 60)) if slipped else int(rng.integers(0, 6)),
                           int(rng.integers(0, 25)) if slipped else int(rng.integers(0, 4)), int(rng.integers(0, 6)),
                           int(rng.integers(0, 4))])  # fmt: skip
        actual = [p + dt.timedelta(days=int(s)) for p, s in zip(planned, slips, strict=True)]
        if commission is not None:  # align with the network: commissioning is the ports' first day
            shift = commission - actual[-1]
            actual = [a + shift for a in actual]
            planned = [p + shift - dt.timedelta(days=int(slips[-1])) for p in planned]
        for i, ms in enumerate(MILESTONES):
            done = actual[i] < window.end
            b = int(budget_c * BUDGET_SHARE[i])
            over = 1 + rng.normal(0.12 if slipped else 0.02, 0.08)
            proj_rows.append({"project_id": pid, "milestone": ms, "deal_id": deal_id, "customer_id": cust,
                              "site_id": sd_site, "planned_on": planned[i].isoformat(),
                              "actual_on": actual[i].isoformat() if done else "", "budget": _money(b),
                              "actual_cost": _money(int(b * over)) if done else "", "currency": P.CURRENCY})  # fmt: skip

    # won deals for deployments and expansions close to or inside the window
    for sd in sorted(deals, key=lambda d: (d.commissioned, d.site_id)):
        if sd.segment == "residential" or sd.commissioned < horizon:
            continue
        n += 1
        did = f"D-{n:05d}"
        lead = int(rng.integers(95, 190))
        closed = sd.commissioned - dt.timedelta(days=lead)
        created = closed - dt.timedelta(days=int(rng.integers(60, 200)))
        history(did, created, "negotiation", closed)
        stage_rows.append({"deal_id": did, "stage": "closed_won", "entered_on": closed.isoformat()})
        inc = "awarded" if sd.segment == "public_dc" else str(rng.choice(["none", "awarded", "applied", "denied"], p=[0.5, 0.3, 0.1, 0.1]))  # fmt: skip
        deal_rows.append({"deal_id": did, "customer_id": sd.customer_id, "account_name": names[sd.customer_id],
                          "segment": sd.segment, "revenue_model": sd.model, "stage": "closed_won",
                          "probability_pct": 100, "currency": P.CURRENCY, **amounts(sd), "ports": sd.ports,
                          "created_on": created.isoformat(), "expected_close_on": closed.isoformat(),
                          "closed_on": closed.isoformat(), "owner": owner(sd.segment),
                          "economic_buyer_engaged": "true", "utility_capacity_confirmed": "true",
                          "incentive_status": inc, "roi_case_delivered": "true" if rng.random() < 0.85 else "false"})  # fmt: skip
        budget = sd.installation_c if sd.installation_c else sd.hardware_c // 4
        project(did, sd.site_id, sd.customer_id, closed, sd.commissioned, budget)

    # customers by segment, for open and lost deals (land and expand: existing accounts and prospects)
    cust = net.customers[net.customers.segment != "residential"]
    n_open = max(4, len(net.sites) // 6)
    # a B2B funnel loses most deals, early ones more often: about a third of closed deals are won
    n_lost = max(3, len(net.sites) * 2 // 3)
    new_accounts = 0
    for i in range(n_open + n_lost):
        won_lost = i >= n_open
        existing = rng.random() < 0.45 and len(cust)
        if existing:
            row = cust.iloc[int(rng.integers(0, len(cust)))]
            cid, account, seg, model = row.customer_id, row["name"], row.segment, row.revenue_model
        else:
            new_accounts += 1
            seg = str(rng.choice(["fleet", "public_dc", "commercial"], p=[0.35, 0.3, 0.35]))
            cid, account = "", f"Prospect {new_accounts:03d} ({seg.replace('_', ' ')})"
            model = str(rng.choice(list(P.SEG[seg].revenue_model_p), p=list(P.SEG[seg].revenue_model_p.values())))
        kw, ptype = {"fleet": (19.2, "AC_1_PHASE"), "public_dc": (150.0, "DC"), "commercial": (9.6, "AC_1_PHASE")}[seg]
        nports = int(rng.choice([2, 4, 6, 8, 12]))
        n_ch = nports if ptype == "DC" else nports // 2
        hw, inst, sw, caas = _unit_prices(seg, kw, ptype, nports, n_ch)
        sd = SiteDeal("", cid, seg, model, nports, n_ch, hw * n_ch, inst, sw, caas, window.end, False)
        n += 1
        did = f"D-{n:05d}"
        if won_lost:
            created = window.start + dt.timedelta(days=int(rng.integers(0, max(1, window.days - 60))))
            upto = str(rng.choice(STAGES, p=[0.35, 0.3, 0.2, 0.15]))
            last = history(did, created, upto, None)
            closed = last + dt.timedelta(days=int(rng.integers(10, 40)))
            closed = min(closed, window.end - dt.timedelta(days=1))
            stage_rows.append({"deal_id": did, "stage": "closed_lost", "entered_on": closed.isoformat()})
            stage, prob, exp_close, closed_on = "closed_lost", 0, closed, closed.isoformat()
            util = "true" if rng.random() < 0.6 else "false"
            inc = str(rng.choice(["none", "denied", "applied"]))
        else:
            upto = str(rng.choice(STAGES, p=[0.25, 0.25, 0.25, 0.25]))
            created = window.end - dt.timedelta(days=int(rng.integers(20, 200)))
            history(did, created, upto, None)
            stage, prob, closed_on = upto, PROB[upto], ""
            exp_close = window.end + dt.timedelta(days=int(rng.integers(10, 180)))
            # some late-stage deals are stuck on utility capacity or on incentive approval
            stuck = upto in ("proposal", "negotiation") and rng.random() < 0.4
            util = "false" if stuck and rng.random() < 0.5 else ("true" if upto != "prospect" else "false")
            inc = "applied" if (stuck and util == "true") else str(rng.choice(["none", "applied", "awarded"]))
        deal_rows.append({"deal_id": did, "customer_id": cid, "account_name": account, "segment": seg,
                          "revenue_model": model, "stage": stage, "probability_pct": prob, "currency": P.CURRENCY,
                          **amounts(sd), "ports": nports, "created_on": created.isoformat(),
                          "expected_close_on": exp_close.isoformat(), "closed_on": closed_on, "owner": owner(seg),
                          "economic_buyer_engaged": "true" if upto in ("proposal", "negotiation") or rng.random() < 0.3 else "false",
                          "utility_capacity_confirmed": util, "incentive_status": inc,
                          "roi_case_delivered": "true" if upto in ("proposal", "negotiation") else "false"})  # fmt: skip
    # a few deals won near the end of the window whose installation is still under way
    for _ in range(max(2, len(net.sites) // 30)):
        seg = str(rng.choice(["fleet", "public_dc", "commercial"]))
        row = net.customers[net.customers.segment == seg]
        if not len(row):
            continue
        row = row.iloc[int(rng.integers(0, len(row)))]
        kw, ptype = {"fleet": (19.2, "AC_1_PHASE"), "public_dc": (150.0, "DC"), "commercial": (9.6, "AC_1_PHASE")}[seg]
        nports = int(rng.choice([2, 4, 6]))
        n_ch = nports if ptype == "DC" else nports // 2
        hw, inst, sw, caas = _unit_prices(seg, kw, ptype, nports, n_ch)
        sd = SiteDeal(
            "", row.customer_id, seg, row.revenue_model, nports, n_ch, hw * n_ch, inst, sw, caas, window.end, False
        )
        n += 1
        did = f"D-{n:05d}"
        closed = window.end - dt.timedelta(days=int(rng.integers(20, 100)))
        created = closed - dt.timedelta(days=int(rng.integers(60, 160)))
        history(did, created, "negotiation", closed)
        stage_rows.append({"deal_id": did, "stage": "closed_won", "entered_on": closed.isoformat()})
        deal_rows.append({"deal_id": did, "customer_id": row.customer_id, "account_name": row["name"], "segment": seg,
                          "revenue_model": row.revenue_model, "stage": "closed_won", "probability_pct": 100,
                          "currency": P.CURRENCY, **amounts(sd), "ports": nports, "created_on": created.isoformat(),
                          "expected_close_on": closed.isoformat(), "closed_on": closed.isoformat(),
                          "owner": owner(seg), "economic_buyer_engaged": "true", "utility_capacity_confirmed": "true",
                          "incentive_status": "applied", "roi_case_delivered": "true"})  # fmt: skip
        project(did, "", row.customer_id, closed, None, inst)
    deals_df = pd.DataFrame(deal_rows)
    stages_df = pd.DataFrame(stage_rows).drop_duplicates(["deal_id", "stage"], keep="first")
    proj_df = pd.DataFrame(proj_rows)
    return deals_df, stages_df, proj_df


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
                amount = _money(400000 * sd.ports)
            elif kind == "tax_credit":
                amount = _money(min(int((sd.hardware_c + sd.installation_c) * 0.3), cap))
            rows.append({"incentive_id": f"INCV-{n:05d}", "program": program, "kind": kind, "site_id": s.site_id,
                         "segment": s.segment, "pct_of_eligible": pct, "cap": _money(cap) if cap else "",
                         "amount": amount, "currency": P.CURRENCY, "eligible_costs": elig,
                         "start_on": prog_start.isoformat(), "end_on": prog_end.isoformat(), "status": st,
                         "awarded_on": awarded.isoformat() if st in ("awarded", "paid") else ""})  # fmt: skip
    return pd.DataFrame(rows)


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
        add(site_id=sd.site_id, cost_type="hardware", basis="one_time", amount=_money(hw),
            incurred_on=(sd.commissioned - dt.timedelta(days=21)).isoformat(), notes=f"{tag}: {sd.chargers} chargers")  # fmt: skip
        add(site_id=sd.site_id, cost_type="installation", basis="one_time", amount=_money(inst),
            incurred_on=sd.commissioned.isoformat(), notes=f"{tag}: installation")  # fmt: skip
        if sd.segment in MAKE_READY and not sd.expansion:
            base, per_port = MAKE_READY[sd.segment]
            mr = int(round((base + per_port * sd.ports) * float(rng.normal(1.0, 0.1))))
            add(site_id=sd.site_id, cost_type="make_ready", basis="one_time", amount=_money(mr),
                incurred_on=(sd.commissioned - dt.timedelta(days=30)).isoformat(), notes="utility make-ready")  # fmt: skip
    for seg, items in SEGMENT_OPEX.items():
        for cost_type, basis, v in items:
            money = basis != "pct_of_energy_revenue"
            add(segment=seg, cost_type=cost_type, basis=basis, amount=_money(v) if money else "",
                rate_pct="" if money else v, notes=f"{seg} default")  # fmt: skip
    cols = ["cost_id", "site_id", "segment", "cost_type", "basis", "amount", "rate_pct", "currency", "incurred_on",
            "start_on", "end_on", "notes"]  # fmt: skip
    df = pd.DataFrame(rows)
    for c in cols:
        if c not in df:
            df[c] = None
    return df[cols].fillna("")
