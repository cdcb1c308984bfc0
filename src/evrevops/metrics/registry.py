"""The metric registry: every metric declared once.

The CLI (``evrevops metrics``), the API, the council report and
``docs/metrics.md`` all read this registry; nothing else defines a metric.

A metric is computed from *measures* — additive quantities of the port-day
fact table (:mod:`evrevops.metrics.facts`), summed over the grain — as either
the measure itself (``simple``, optionally scaled) or a ratio of two measure
sums (``ratio``; a ratio of sums, never an average of ratios, so a site's
utilization weights its ports by their open time).
"""

from __future__ import annotations

from dataclasses import dataclass

GRAINS = ("port", "site", "segment", "customer", "network")
PERIODS = ("day", "month")

# Fields that identify a row at each grain (plus the period field and currency).
GRAIN_KEYS: dict[str, tuple[str, ...]] = {
    "port": ("port_id", "site_id"),
    "site": ("site_id",),
    "segment": ("segment",),
    "customer": ("customer_id",),
    "network": (),
}
PERIOD_KEYS = {"day": "local_date", "month": "month"}


@dataclass(frozen=True)
class Measure:
    """An additive quantity of the fact tables.

    ``level`` is ``port`` (from the port-day fact), ``site`` (from the
    site-day fact; not defined at port grain) or ``site-month`` (from the
    site-month bill fact: a utility bill is monthly, so these are defined by
    month only, at site grain and above).
    """

    name: str
    unit: str
    description: str
    level: str = "port"


@dataclass(frozen=True)
class Metric:
    """One metric as users see it.

    Attributes
    ----------
    name : str
        The field name in every output (units in the name).
    kind : str
        ``simple`` (``numerator / divisor``) or ``ratio``
        (``numerator / denominator / divisor``; null when the denominator is 0).
    money : bool
        Integer minor units of the row's ``currency`` (rounded half up).
    """

    name: str
    label: str
    unit: str
    kind: str
    numerator: str
    formula: str
    description: str
    denominator: str | None = None
    divisor: int = 1
    money: bool = False
    reference: str = ""
    grains: tuple[str, ...] = GRAINS
    periods: tuple[str, ...] = PERIODS

    @property
    def source(self) -> str:
        m = [MEASURES[self.numerator]] + ([MEASURES[self.denominator]] if self.denominator else [])
        return ", ".join(sorted({SOURCES[x.level] for x in m}))


SOURCES = {
    "port": "port-day facts",
    "site": "site-day calendar + sessions",
    "site-month": "site-month bills (load profile × utility tariff)",
}


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in [
        Measure("sessions", "count", "sessions started in the period (local time of the site)"),
        Measure("energy_kwh", "kWh", "energy delivered by sessions started in the period"),
        Measure("energy_kwh_rated", "kWh", "energy_kwh of ports with a rated power"),
        Measure("capacity_kwh", "kWh", "rated_kw × open time, ports with a rated power"),
        Measure("plugged_in_s", "s", "plugged-in time inside the period (split at local day boundaries)"),
        Measure("charging_s", "s", "charging time inside the period (charging first, then idle)"),
        Measure("idle_s", "s", "plugged-in time not charging, inside the period"),
        Measure(
            "open_s", "s", "port open time: in service (commissioned, not decommissioned) and inside operating hours"
        ),
        Measure("ports", "count", "distinct ports with open time in the period"),
        Measure("port_days", "count", "port-days with open time"),
        Measure(
            "revenue_minor",
            "minor units",
            "energy/session revenue excl. VAT (CDR total_cost.excl_vat) of sessions started in the period",
        ),
        Measure("revenue_energy_minor", "minor units", "ENERGY (per-kWh) component of revenue"),
        Measure("revenue_time_minor", "minor units", "TIME (per charging hour) component of revenue"),
        Measure("revenue_idle_minor", "minor units", "PARKING_TIME (idle fee) component of revenue"),
        Measure("revenue_session_fee_minor", "minor units", "FLAT (per-session fee) component of revenue"),
        Measure(
            "revenue_unattributed_minor",
            "minor units",
            "revenue the CDR did not break down by component (total − components)",
        ),
        Measure("vat_minor", "minor units", "VAT billed on sessions (incl_vat − excl_vat)"),
        Measure("sessions_zero_energy", "count", "sessions that delivered no energy (failed or aborted)"),
        Measure("congested_s", "s", "time all open ports of the site were plugged in at once", level="site"),
        Measure("site_open_s", "s", "site open time (any port open)", level="site"),
        Measure(
            "bill_total_minor",
            "minor units",
            "utility bill total of the site-month (all line items)",
            level="site-month",
        ),
        Measure(
            "bill_energy_charge_minor", "minor units", "utility bill energy charges (TOU and tiers)", level="site-month"
        ),
        Measure(
            "bill_demand_charge_minor", "minor units", "utility bill demand charges, flat + TOU", level="site-month"
        ),
        Measure(
            "bill_flat_demand_charge_minor",
            "minor units",
            "utility bill flat (monthly peak) demand charge",
            level="site-month",
        ),
        Measure("bill_tou_demand_charge_minor", "minor units", "utility bill TOU demand charges", level="site-month"),
        Measure(
            "bill_fixed_charge_minor",
            "minor units",
            "utility bill fixed charges + minimum-charge adjustment",
            level="site-month",
        ),
        Measure(
            "billed_revenue_minor",
            "minor units",
            "energy revenue (excl. VAT) of billed site-months",
            level="site-month",
        ),
        Measure("billed_energy_kwh", "kWh", "energy delivered by sessions of billed site-months", level="site-month"),
        Measure(
            "bill_peak_kw", "kW", "peak 15-minute demand of the site-month (summed over sites)", level="site-month"
        ),
        Measure("site_months_billed", "count", "site-months with a utility bill", level="site-month"),
        Measure(
            "site_months_demand_over_revenue",
            "count",
            "billed site-months whose demand charges exceed their energy revenue",
            level="site-month",
        ),
        Measure(
            "billed_margin_minor",
            "minor units",
            "billed_revenue_minor − bill_total_minor per site-month",
            level="site-month",
        ),
    ]
}

BILL_GRAINS = ("site", "segment", "customer", "network")

METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("ports", "Ports deployed", "count", "simple", "ports", "ports with open time in the period",
               "Ports in service (commissioned and not decommissioned) for at least part of the period.", reference="handbook §10"),
        Metric("sessions", "Sessions", "count", "simple", "sessions", "Σ sessions",
               "Sessions started in the period, attributed to the site's local day of their start.", reference="handbook §2"),
        Metric("energy_kwh", "Energy delivered", "kWh", "simple", "energy_kwh", "Σ session energy",
               "Energy of sessions started in the period.", reference="OCPI CDR total_energy"),
        Metric("charging_h", "Charging hours", "h", "simple", "charging_s", "Σ charging time / 3600",
               "Charging time inside the period; a session's time is split exactly at local day boundaries.", divisor=3600, reference="handbook §3"),
        Metric("plugged_in_h", "Plugged-in hours", "h", "simple", "plugged_in_s", "Σ plugged-in time / 3600",
               "Plug-in to plug-out time inside the period (OCPI total_time).", divisor=3600, reference="handbook §3"),
        Metric("idle_h", "Idle hours", "h", "simple", "idle_s", "Σ (plugged-in − charging) / 3600",
               "Time a car stayed plugged in without charging (OCPI total_parking_time).", divisor=3600, reference="handbook §3"),
        Metric("open_h", "Open hours", "h", "simple", "open_s", "Σ port open time / 3600",
               "Port hours in service and inside the site's operating hours.", divisor=3600, reference="handbook §3"),
        Metric("utilization", "Utilization", "fraction", "ratio", "charging_s", "charging time / open time",
               "Station utilization: share of open time a port was delivering energy (EVgo: charging minutes / 1,440 per stall-day).",
               denominator="open_s", reference="handbook §3; Atlas Public Policy EV charging use spec; EVgo"),
        Metric("occupancy", "Occupancy", "fraction", "ratio", "plugged_in_s", "plugged-in time / open time",
               "Occupied utilization: share of open time a car was plugged in.", denominator="open_s", reference="handbook §3"),
        Metric("idle_utilization", "Idle utilization", "fraction", "ratio", "idle_s", "idle time / open time",
               "Share of open time a car blocked the port without charging.", denominator="open_s", reference="handbook §3"),
        Metric("capacity_factor", "Capacity factor", "fraction", "ratio", "energy_kwh_rated", "energy / (rated kW × open hours)",
               "Energy delivered relative to what the ports could deliver at rated power over their open hours (ports with a rated power only).",
               denominator="capacity_kwh", reference="handbook §3"),
        Metric("congestion", "Congestion", "fraction", "ratio", "congested_s", "time all ports busy / open time",
               "Share of a site's open time during which every open port was occupied (no port free for the next driver).",
               denominator="site_open_s", reference="handbook §3", grains=("site", "segment", "customer", "network")),
        Metric("sessions_per_port_day", "Sessions per port-day", "count/port-day", "ratio", "sessions", "sessions / port-days",
               "Average sessions per port per open day.", denominator="port_days", reference="EVgo stall-day reporting"),
        Metric("kwh_per_port_day", "kWh per port-day", "kWh/port-day", "ratio", "energy_kwh", "energy / port-days",
               "Average energy per port per open day (EVgo Q2-2025: 281 kWh per stall per day).", denominator="port_days", reference="handbook §3; EVgo"),
        Metric("failed_session_share", "Zero-energy session share", "fraction", "ratio", "sessions_zero_energy", "zero-energy sessions / sessions",
               "Share of sessions that delivered no energy.", denominator="sessions", reference="handbook §4"),
        Metric("energy_revenue_minor", "Energy revenue", "minor units", "simple", "revenue_minor", "Σ CDR total_cost excl. VAT",
               "Energy/session revenue, recognized at session start's local day; excludes VAT.", money=True, reference="handbook §2, §5"),
        Metric("revenue_energy_component_minor", "Revenue: energy component", "minor units", "simple", "revenue_energy_minor", "Σ total_energy_cost",
               "Per-kWh part of energy revenue.", money=True, reference="OCPI tariff ENERGY"),
        Metric("revenue_time_component_minor", "Revenue: time component", "minor units", "simple", "revenue_time_minor", "Σ total_time_cost",
               "Per-charging-hour part of energy revenue.", money=True, reference="OCPI tariff TIME"),
        Metric("revenue_idle_fee_minor", "Revenue: idle fees", "minor units", "simple", "revenue_idle_minor", "Σ total_parking_cost",
               "Idle (parking-time) fees.", money=True, reference="OCPI tariff PARKING_TIME"),
        Metric("revenue_session_fee_minor", "Revenue: session fees", "minor units", "simple", "revenue_session_fee_minor", "Σ total_fixed_cost",
               "Flat per-session fees.", money=True, reference="OCPI tariff FLAT"),
        Metric("revenue_unattributed_minor", "Revenue: not broken down", "minor units", "simple", "revenue_unattributed_minor", "Σ (total_cost − components)",
               "Revenue whose CDR gave no component breakdown; components + this = energy_revenue_minor exactly.", money=True),
        Metric("vat_minor", "VAT", "minor units", "simple", "vat_minor", "Σ (incl_vat − excl_vat)",
               "VAT billed to drivers (not revenue).", money=True),
        Metric("revenue_per_port_minor", "Revenue per port", "minor units/port", "ratio", "revenue_minor", "energy revenue / ports",
               "Energy revenue per port deployed in the period.", denominator="ports", money=True, reference="handbook §10"),
        Metric("revenue_per_port_day_minor", "Revenue per port-day", "minor units/port-day", "ratio", "revenue_minor", "energy revenue / port-days",
               "Energy revenue per port per open day (EVgo Q2-2025: ~$165 per stall per day).", denominator="port_days", money=True, reference="handbook §3; EVgo"),
        Metric("energy_cost_minor", "Energy cost", "minor units", "simple", "bill_total_minor", "Σ utility bill total",
               "The site's electricity bill for the month under its utility tariff (URDB), from its 15-minute load profile: energy + demand + fixed charges + minimum adjustment.",
               money=True, reference="handbook §5", grains=BILL_GRAINS, periods=("month",)),
        Metric("energy_charge_minor", "Energy charges", "minor units", "simple", "bill_energy_charge_minor", "Σ kWh × TOU/tier rate",
               "Energy (per-kWh) part of the utility bill.", money=True, reference="handbook §5", grains=BILL_GRAINS, periods=("month",)),
        Metric("demand_charge_minor", "Demand charges", "minor units", "simple", "bill_demand_charge_minor", "Σ peak kW × demand rate (flat + TOU)",
               "Demand part of the utility bill: the month's 15-minute peaks (per TOU period and overall) × their rates.",
               money=True, reference="handbook §5", grains=BILL_GRAINS, periods=("month",)),
        Metric("fixed_charge_minor", "Fixed charges", "minor units", "simple", "bill_fixed_charge_minor", "Σ fixed charge + minimum adjustment",
               "Customer/meter charges of the utility bill, with any lift to the monthly minimum.",
               money=True, reference="handbook §5", grains=BILL_GRAINS, periods=("month",)),
        Metric("energy_margin_minor", "Energy margin", "minor units", "simple", "billed_margin_minor", "Σ (energy revenue − energy cost), billed site-months",
               "Energy revenue net of the electricity bill, demand charges included; site-months without a utility bill are left out (see site_months_billed).",
               money=True, reference="handbook §5", grains=BILL_GRAINS, periods=("month",)),
        Metric("energy_margin_per_kwh", "Energy margin per kWh", "minor units/kWh", "ratio", "billed_margin_minor", "energy margin / kWh delivered",
               "Energy margin per kWh sold, in minor units of the currency (US cents/kWh), not rounded; billed site-months only.",
               denominator="billed_energy_kwh", reference="handbook §5", grains=BILL_GRAINS, periods=("month",)),
        Metric("energy_margin_share", "Energy margin share", "fraction", "ratio", "billed_margin_minor", "energy margin / energy revenue",
               "Energy margin as a share of energy revenue, billed site-months only.",
               denominator="billed_revenue_minor", reference="handbook §5", grains=BILL_GRAINS, periods=("month",)),
        Metric("demand_charge_share", "Demand charge share", "fraction", "ratio", "bill_demand_charge_minor", "demand charges / energy cost",
               "Share of the electricity bill that is demand charges (up to ~90 % for DC fast sites).",
               denominator="bill_total_minor", reference="handbook §5", grains=BILL_GRAINS, periods=("month",)),
        Metric("peak_kw", "Peak demand", "kW", "simple", "bill_peak_kw", "max 15-min average kW (Σ over sites)",
               "The month's highest 15-minute demand (for a roll-up, the sum of the sites' own peaks).",
               reference="handbook §5", grains=BILL_GRAINS, periods=("month",)),
        Metric("site_months_billed", "Site-months billed", "count", "simple", "site_months_billed", "site-months with a bill",
               "Site-months with a utility bill (a site without a utility tariff is not billed, never billed as $0).",
               reference="handbook §5", grains=BILL_GRAINS, periods=("month",)),
        Metric("demand_over_revenue_flag", "Demand charges exceed energy revenue", "count", "simple", "site_months_demand_over_revenue",
               "site-months with demand charges > energy revenue",
               "Flag: at site grain 1 when the month's demand charges exceed its energy revenue; rolled up, the number of such site-months.",
               reference="handbook §5", grains=BILL_GRAINS, periods=("month",)),
    ]
}  # fmt: skip


def get_metric(name: str) -> Metric:
    """Return a metric by name; an unknown name raises ``KeyError`` listing the known ones."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}") from None
