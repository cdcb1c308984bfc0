"""The sales pipeline: deals, their stage history and the projects of won deals (handbook §6-§7).

Won deals for the network's deployments and expansions close to or inside the window, open and
lost deals with existing accounts and prospects, and a few deals won near the end of the window
whose installation is still under way. One random generator, drawn in a fixed order.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from evrevops.demo import params as P
from evrevops.demo.commercial import SiteDeal, money_text, unit_prices
from evrevops.demo.network import Network, Window

OWNERS = {
    "fleet": ["Dana Ortiz", "Sam Patel"],
    "public_dc": ["Chris Moreno", "Riley Chen"],
    "commercial": ["Alex Kim", "Jordan Lee"],
    "residential": ["Inside Sales"],
}
STAGES = ["prospect", "qualified", "proposal", "negotiation"]
PROBABILITY_PCT = {"prospect": 10, "qualified": 20, "proposal": 40, "negotiation": 60, "closed_won": 100, "closed_lost": 0}  # fmt: skip
MILESTONES = ["site_survey", "make_ready", "permits", "installation", "commissioning"]
BUDGET_SHARE = [0.03, 0.35, 0.04, 0.5, 0.08]
QUOTED_HARDWARE = {"fleet": (19.2, "AC_1_PHASE"), "public_dc": (150.0, "DC"), "commercial": (9.6, "AC_1_PHASE")}


def _amounts(sd: SiteDeal) -> dict:
    """A deal's amounts: one-time hardware and installation, annual software or CaaS revenue [$ text]."""
    hw = sd.hardware_c if sd.model == "hardware_sale" else 0
    inst = sd.installation_c if sd.model == "hardware_sale" else 0
    sw = 12 * sd.software_c * sd.ports if sd.model != "caas" else 0
    caas = 12 * sd.caas_c * sd.ports if sd.model == "caas" else 0
    return {"hardware_amount": money_text(hw), "installation_amount": money_text(inst),
            "software_arr": money_text(sw), "caas_arr": money_text(caas)}  # fmt: skip


def _quote(seg: str, customer_id: str, model: str, nports: int, window: Window) -> SiteDeal:
    """What a deal not (yet) deployed would sell: *nports* ports of the segment's usual hardware."""
    kw, ptype = QUOTED_HARDWARE[seg]
    n_ch = nports if ptype == "DC" else nports // 2
    hw, inst, sw, caas = unit_prices(seg, kw, ptype, nports, n_ch)
    return SiteDeal("", customer_id, seg, model, nports, n_ch, hw * n_ch, inst, sw, caas, window.end, False)


class _Pipeline:
    """The pipeline's rows as they are drawn: deals, stage history, project milestones."""

    def __init__(self, rng: np.random.Generator, net: Network, window: Window) -> None:
        self.rng, self.net, self.window = rng, net, window
        self.names = net.customers.set_index("customer_id").name
        self.deal_rows: list[dict] = []
        self.stage_rows: list[dict] = []
        self.proj_rows: list[dict] = []
        self.n = 0
        self.misrouted = 0

    def next_id(self) -> str:
        self.n += 1
        return f"D-{self.n:05d}"

    def owner(self, seg: str) -> str:
        """The deal's owner: a seller of the segment; two fleet deals are misrouted to a commercial seller."""
        if seg == "fleet" and self.misrouted < 2 and self.rng.random() < 0.15:
            self.misrouted += 1
            return OWNERS["commercial"][0]
        return OWNERS[seg][int(self.rng.integers(0, len(OWNERS[seg])))]

    def history(self, deal_id: str, created: dt.date, upto: str, closed: dt.date | None) -> dt.date:
        """Stage rows from prospect up to *upto* (entered before *closed*); returns the day *upto* was entered."""
        d = created
        for st in STAGES:
            self.stage_rows.append({"deal_id": deal_id, "stage": st, "entered_on": d.isoformat()})
            if st == upto:
                return d
            d = d + dt.timedelta(days=int(self.rng.integers(12, 45)))
            if closed is not None and d >= closed:
                d = closed - dt.timedelta(days=int(self.rng.integers(1, 5)))
        return d

    def close(self, deal_id: str, stage: str, on: dt.date) -> None:
        self.stage_rows.append({"deal_id": deal_id, "stage": stage, "entered_on": on.isoformat()})

    def _milestone_days(self, closed: dt.date, commission: dt.date | None):
        """Planned and actual milestone days, and whether the project slipped."""
        rng = self.rng
        plan = closed + dt.timedelta(days=int(rng.integers(7, 20)))
        gaps = [0, int(rng.integers(30, 60)), int(rng.integers(20, 40)), int(rng.integers(15, 35)),
                int(rng.integers(5, 15))]  # fmt: skip
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
        return planned, actual, slipped

    def project(self, deal_id: str, site_id: str, cust: str, closed: dt.date, commission, budget_c: int) -> None:
        """A won deal's project: its milestones, planned and (when done by the window's end) actual, with costs."""
        planned, actual, slipped = self._milestone_days(closed, commission)
        for i, ms in enumerate(MILESTONES):
            done = actual[i] < self.window.end
            b = int(budget_c * BUDGET_SHARE[i])
            over = 1 + self.rng.normal(0.12 if slipped else 0.02, 0.08)
            self.proj_rows.append({"project_id": f"PRJ-{deal_id[2:]}", "milestone": ms, "deal_id": deal_id,
                                   "customer_id": cust, "site_id": site_id, "planned_on": planned[i].isoformat(),
                                   "actual_on": actual[i].isoformat() if done else "", "budget": money_text(b),
                                   "actual_cost": money_text(int(b * over)) if done else "",
                                   "currency": P.CURRENCY})  # fmt: skip

    def won_deployments(self, deals: list[SiteDeal]) -> None:
        """Won deals for deployments and expansions close to or inside the window, with their projects."""
        rng = self.rng
        horizon = self.window.start - dt.timedelta(days=270)
        for sd in sorted(deals, key=lambda d: (d.commissioned, d.site_id)):
            if sd.segment == "residential" or sd.commissioned < horizon:
                continue
            did = self.next_id()
            lead = int(rng.integers(95, 190))
            closed = sd.commissioned - dt.timedelta(days=lead)
            created = closed - dt.timedelta(days=int(rng.integers(60, 200)))
            self.history(did, created, "negotiation", closed)
            self.close(did, "closed_won", closed)
            inc = "awarded" if sd.segment == "public_dc" else str(rng.choice(["none", "awarded", "applied", "denied"], p=[0.5, 0.3, 0.1, 0.1]))  # fmt: skip
            self.deal_rows.append({"deal_id": did, "customer_id": sd.customer_id,
                                   "account_name": self.names[sd.customer_id], "segment": sd.segment,
                                   "revenue_model": sd.model, "stage": "closed_won", "probability_pct": 100,
                                   "currency": P.CURRENCY, **_amounts(sd), "ports": sd.ports,
                                   "created_on": created.isoformat(), "expected_close_on": closed.isoformat(),
                                   "closed_on": closed.isoformat(), "owner": self.owner(sd.segment),
                                   "economic_buyer_engaged": "true", "utility_capacity_confirmed": "true",
                                   "incentive_status": inc,
                                   "roi_case_delivered": "true" if rng.random() < 0.85 else "false"})  # fmt: skip
            budget = sd.installation_c if sd.installation_c else sd.hardware_c // 4
            self.project(did, sd.site_id, sd.customer_id, closed, sd.commissioned, budget)

    def _account(self, cust: pd.DataFrame, new_accounts: int) -> tuple[str, str, str, str, int]:
        """An existing account (45 %) or a new prospect: customer id, name, segment, model, prospects so far."""
        rng = self.rng
        if rng.random() < 0.45 and len(cust):
            row = cust.iloc[int(rng.integers(0, len(cust)))]
            return row.customer_id, row["name"], row.segment, row.revenue_model, new_accounts
        new_accounts += 1
        seg = str(rng.choice(["fleet", "public_dc", "commercial"], p=[0.35, 0.3, 0.35]))
        account = f"Prospect {new_accounts:03d} ({seg.replace('_', ' ')})"
        model = str(rng.choice(list(P.SEG[seg].revenue_model_p), p=list(P.SEG[seg].revenue_model_p.values())))
        return "", account, seg, model, new_accounts

    def _lost(self, did: str) -> tuple:
        """A deal lost in the window: ``(created, upto, stage, probability, expected close, closed on, util, inc)``."""
        rng, window = self.rng, self.window
        created = window.start + dt.timedelta(days=int(rng.integers(0, max(1, window.days - 60))))
        upto = str(rng.choice(STAGES, p=[0.35, 0.3, 0.2, 0.15]))
        last = self.history(did, created, upto, None)
        closed = last + dt.timedelta(days=int(rng.integers(10, 40)))
        closed = min(closed, window.end - dt.timedelta(days=1))
        self.close(did, "closed_lost", closed)
        util = "true" if rng.random() < 0.6 else "false"
        inc = str(rng.choice(["none", "denied", "applied"]))
        return created, upto, "closed_lost", 0, closed, closed.isoformat(), util, inc

    def _open(self, did: str) -> tuple:
        """A deal still open at the window's end (same fields as :meth:`_lost`)."""
        rng, window = self.rng, self.window
        upto = str(rng.choice(STAGES, p=[0.25, 0.25, 0.25, 0.25]))
        created = window.end - dt.timedelta(days=int(rng.integers(20, 200)))
        self.history(did, created, upto, None)
        exp_close = window.end + dt.timedelta(days=int(rng.integers(10, 180)))
        # some late-stage deals are stuck on utility capacity or on incentive approval
        stuck = upto in ("proposal", "negotiation") and rng.random() < 0.4
        util = "false" if stuck and rng.random() < 0.5 else ("true" if upto != "prospect" else "false")
        inc = "applied" if (stuck and util == "true") else str(rng.choice(["none", "applied", "awarded"]))
        return created, upto, upto, PROBABILITY_PCT[upto], exp_close, "", util, inc

    def open_and_lost(self) -> None:
        """Open and lost deals with existing accounts and prospects (land and expand).

        A B2B funnel loses most deals, early ones more often: about a third of closed deals are won.
        """
        rng, net = self.rng, self.net
        cust = net.customers[net.customers.segment != "residential"]
        n_open = max(4, len(net.sites) // 6)
        n_lost = max(3, len(net.sites) * 2 // 3)
        new_accounts = 0
        for i in range(n_open + n_lost):
            cid, account, seg, model, new_accounts = self._account(cust, new_accounts)
            nports = int(rng.choice([2, 4, 6, 8, 12]))
            sd = _quote(seg, cid, model, nports, self.window)
            did = self.next_id()
            created, upto, stage, prob, exp_close, closed_on, util, inc = (
                self._lost(did) if i >= n_open else self._open(did)
            )
            self.deal_rows.append({"deal_id": did, "customer_id": cid, "account_name": account, "segment": seg,
                                   "revenue_model": model, "stage": stage, "probability_pct": prob,
                                   "currency": P.CURRENCY, **_amounts(sd), "ports": nports,
                                   "created_on": created.isoformat(), "expected_close_on": exp_close.isoformat(),
                                   "closed_on": closed_on, "owner": self.owner(seg),
                                   "economic_buyer_engaged": "true" if upto in ("proposal", "negotiation") or rng.random() < 0.3 else "false",
                                   "utility_capacity_confirmed": util, "incentive_status": inc,
                                   "roi_case_delivered": "true" if upto in ("proposal", "negotiation") else "false"})  # fmt: skip

    def late_wins(self) -> None:
        """A few deals won near the end of the window whose installation is still under way."""
        rng, net, window = self.rng, self.net, self.window
        for _ in range(max(2, len(net.sites) // 30)):
            seg = str(rng.choice(["fleet", "public_dc", "commercial"]))
            row = net.customers[net.customers.segment == seg]
            if not len(row):
                continue
            row = row.iloc[int(rng.integers(0, len(row)))]
            nports = int(rng.choice([2, 4, 6]))
            sd = _quote(seg, row.customer_id, row.revenue_model, nports, window)
            did = self.next_id()
            closed = window.end - dt.timedelta(days=int(rng.integers(20, 100)))
            created = closed - dt.timedelta(days=int(rng.integers(60, 160)))
            self.history(did, created, "negotiation", closed)
            self.close(did, "closed_won", closed)
            self.deal_rows.append({"deal_id": did, "customer_id": row.customer_id, "account_name": row["name"],
                                   "segment": seg, "revenue_model": row.revenue_model, "stage": "closed_won",
                                   "probability_pct": 100, "currency": P.CURRENCY, **_amounts(sd), "ports": nports,
                                   "created_on": created.isoformat(), "expected_close_on": closed.isoformat(),
                                   "closed_on": closed.isoformat(), "owner": self.owner(seg),
                                   "economic_buyer_engaged": "true", "utility_capacity_confirmed": "true",
                                   "incentive_status": "applied", "roi_case_delivered": "true"})  # fmt: skip
            self.project(did, "", row.customer_id, closed, None, sd.installation_c)


def pipeline(
    rng: np.random.Generator, net: Network, window: Window, deals: list[SiteDeal]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Deals, deal stage history and project milestones (deals.csv, deal_stages.csv, projects.csv).

    Parameters
    ----------
    rng : numpy.random.Generator
        The pipeline's own generator.
    net : Network
        The demo network.
    window : Window
        The generated months.
    deals : list of SiteDeal
        What was sold per site deployment and expansion (:func:`evrevops.demo.commercial.site_deals`).
    """
    p = _Pipeline(rng, net, window)
    p.won_deployments(deals)
    p.open_and_lost()
    p.late_wins()
    deals_df = pd.DataFrame(p.deal_rows)
    stages_df = pd.DataFrame(p.stage_rows).drop_duplicates(["deal_id", "stage"], keep="first")
    return deals_df, stages_df, pd.DataFrame(p.proj_rows)
