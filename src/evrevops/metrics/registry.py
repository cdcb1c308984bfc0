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

from evrevops.core.vocabulary import BILL_GRAINS, GRAINS, PERIODS, SITE_GRAINS

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
    site-day fact; not defined at port grain), ``site-month`` (from the
    site-month bill fact: a utility bill is monthly, so these are defined by
    month only, at site grain and above) or ``port-month`` (from the
    port-month uptime fact of :mod:`evrevops.uptime.timeline`: NEVI uptime is
    monthly, so these are defined by month only, at every grain).
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
    scale : int
        Multiplier applied last (100 for a percentage).
    known_if : str or None
        A measure whose sum must be positive for the value to be known: a scope without it has
        no data for the metric (null, never 0 or 100 %), e.g. ``measured_s`` (telemetry) or
        ``observed_port_days`` (sessions).
    unknown_if : str or None
        A measure whose positive sum makes the value unknown (null): ``feed_gap_s``, time the
        telemetry feed sent nothing for any port of a site.
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
    scale: int = 1
    known_if: str | None = None
    unknown_if: str | None = None

    @property
    def formula_measures(self) -> tuple[str, ...]:
        """The measures of the formula: numerator, then denominator when there is one."""
        return (self.numerator, self.denominator) if self.denominator else (self.numerator,)

    @property
    def measures(self) -> frozenset[str]:
        """Every measure the metric reads: its formula's and the ones saying whether it is known."""
        gates = {g for g in (self.known_if, self.unknown_if) if g}
        return frozenset(self.formula_measures) | gates

    @property
    def source(self) -> str:
        m = [MEASURES[n] for n in self.formula_measures]
        return ", ".join(sorted({SOURCES[x.level] for x in m}))


SOURCES = {
    "port": "port-day facts",
    "site": "site-day calendar + sessions",
    "site-month": "site-month bills (load profile × utility tariff)",
    "port-month": "port-month uptime (status timeline, outage ledger)",
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
            "observed_port_days", "count", "port-days with open time or a session, inside the span of the session data"
        ),
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
        Measure("sessions_with_energy", "count", "sessions (charge attempts) that delivered energy"),
        Measure(
            "transactions_ended", "count", "OCPP transactions started in the period that have ended with a stop reason"
        ),
        Measure(
            "transactions_ended_normally",
            "count",
            "of those, ended normally: not by a fault or an EVSE-side stop (core.states.ABNORMAL_STOP_REASONS)",
        ),
        Measure(
            "visits",
            "count",
            "site visits: a driver's attempts at a site, each within 15 min of the last",
            level="site",
        ),
        Measure("visits_successful", "count", "visits in which one attempt delivered energy", level="site"),
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
        Measure(
            "period_s",
            "s",
            "the port's measured time in the month (in service, inside the telemetry span)",
            level="port-month",
        ),
        Measure("outage_s", "s", "T_outage: fault + offline + no-data time in the month", level="port-month"),
        Measure(
            "excluded_s",
            "s",
            "T_excluded: outage time with an excludable cause or outside operating hours",
            level="port-month",
        ),
        Measure("nevi_up_s", "s", "period − (T_outage − T_excluded)", level="port-month"),
        Measure("up_s", "s", "period − T_outage (time shown to be up)", level="port-month"),
        Measure("fault_s", "s", "time reported Faulted/Unavailable", level="port-month"),
        Measure(
            "offline_s", "s", "time offline: out of contact, reported or inferred from silence", level="port-month"
        ),
        Measure("no_data_s", "s", "time without any observation", level="port-month"),
        Measure("measured_s", "s", "period − no-data time", level="port-month"),
        Measure(
            "measured_up_s", "s", "measured − (T_outage − T_excluded) over the minutes with data", level="port-month"
        ),
        Measure("outages", "count", "outages starting in the month", level="port-month"),
        Measure("failures", "count", "outages starting in the month not wholly excluded", level="port-month"),
        Measure("repair_s", "s", "whole durations of those failures", level="port-month"),
        Measure("t12_period_s", "s", "period_s over the twelve months ending with the month", level="port-month"),
        Measure("t12_nevi_up_s", "s", "nevi_up_s over the twelve months ending with the month", level="port-month"),
        Measure(
            "ports_below_nevi", "count", "ports whose trailing-12-month uptime is not above 97 %", level="port-month"
        ),
        Measure("ports_partial_year", "count", "ports measured for less than the twelve months", level="port-month"),
        Measure(
            "feed_gap_s", "s", "no-data time inside the site's feed gaps (every port without data)", level="port-month"
        ),
        Measure("t12_feed_gap_s", "s", "feed_gap_s over the twelve months ending with the month", level="port-month"),
        Measure(
            "ports_nevi_known",
            "count",
            "ports whose trailing twelve months have measured time and no feed gap",
            level="port-month",
        ),
        Measure(
            "revenue_at_risk_minor",
            "minor units",
            "expected energy revenue lost in outage time (the port's own revenue at that hour of week)",
            level="port-month",
        ),
    ]
}

MONTH = ("month",)

METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("ports", "Ports deployed", "count", "simple", "ports", "ports with open time in the period",
               "Ports in service (commissioned and not decommissioned) for at least part of the period.", reference="handbook §10"),
        Metric("sessions", "Sessions", "count", "simple", "sessions", "Σ sessions",
               "Sessions started in the period, attributed to the site's local day of their start.", reference="handbook §2", known_if="observed_port_days"),
        Metric("energy_kwh", "Energy delivered", "kWh", "simple", "energy_kwh", "Σ session energy",
               "Energy of sessions started in the period.", reference="OCPI CDR total_energy", known_if="observed_port_days"),
        Metric("charging_h", "Charging hours", "h", "simple", "charging_s", "Σ charging time / 3600",
               "Charging time inside the period; a session's time is split exactly at local day boundaries.", divisor=3600, reference="handbook §3", known_if="observed_port_days"),
        Metric("plugged_in_h", "Plugged-in hours", "h", "simple", "plugged_in_s", "Σ plugged-in time / 3600",
               "Plug-in to plug-out time inside the period (OCPI total_time).", divisor=3600, reference="handbook §3", known_if="observed_port_days"),
        Metric("idle_h", "Idle hours", "h", "simple", "idle_s", "Σ (plugged-in − charging) / 3600",
               "Time a car stayed plugged in without charging (OCPI total_parking_time).", divisor=3600, reference="handbook §3", known_if="observed_port_days"),
        Metric("open_h", "Open hours", "h", "simple", "open_s", "Σ port open time / 3600",
               "Port hours in service and inside the site's operating hours.", divisor=3600, reference="handbook §3"),
        Metric("utilization", "Utilization", "fraction", "ratio", "charging_s", "charging time / open time",
               "Station utilization: share of open time a port was delivering energy (EVgo: charging minutes / 1,440 per stall-day).",
               denominator="open_s", reference="handbook §3; Atlas Public Policy EV charging use spec; EVgo", known_if="observed_port_days"),
        Metric("occupancy", "Occupancy", "fraction", "ratio", "plugged_in_s", "plugged-in time / open time",
               "Occupied utilization: share of open time a car was plugged in.", denominator="open_s", reference="handbook §3", known_if="observed_port_days"),
        Metric("idle_utilization", "Idle utilization", "fraction", "ratio", "idle_s", "idle time / open time",
               "Share of open time a car blocked the port without charging.", denominator="open_s", reference="handbook §3", known_if="observed_port_days"),
        Metric("capacity_factor", "Capacity factor", "fraction", "ratio", "energy_kwh_rated", "energy / (rated kW × open hours)",
               "Energy delivered relative to what the ports could deliver at rated power over their open hours (ports with a rated power only).",
               denominator="capacity_kwh", reference="handbook §3", known_if="observed_port_days"),
        Metric("congestion", "Congestion", "fraction", "ratio", "congested_s", "time all ports busy / open time",
               "Share of a site's open time during which every open port was occupied (no port free for the next driver).",
               denominator="site_open_s", reference="handbook §3", grains=SITE_GRAINS, known_if="observed_port_days"),
        Metric("sessions_per_port_day", "Sessions per port-day", "count/port-day", "ratio", "sessions", "sessions / port-days",
               "Average sessions per port per open day.", denominator="port_days", reference="EVgo stall-day reporting", known_if="observed_port_days"),
        Metric("kwh_per_port_day", "kWh per port-day", "kWh/port-day", "ratio", "energy_kwh", "energy / port-days",
               "Average energy per port per open day (EVgo Q2-2025: 281 kWh per stall per day).", denominator="port_days", reference="handbook §3; EVgo", known_if="observed_port_days"),
        Metric("failed_session_share", "Zero-energy session share", "fraction", "ratio", "sessions_zero_energy", "zero-energy sessions / sessions",
               "Share of sessions that delivered no energy.", denominator="sessions", reference="handbook §4", known_if="observed_port_days"),
        Metric("energy_revenue_minor", "Energy revenue", "minor units", "simple", "revenue_minor", "Σ CDR total_cost excl. VAT",
               "Energy/session revenue, recognized at session start's local day; excludes VAT.", money=True, reference="handbook §2, §5", known_if="observed_port_days"),
        Metric("revenue_energy_component_minor", "Revenue: energy component", "minor units", "simple", "revenue_energy_minor", "Σ total_energy_cost",
               "Per-kWh part of energy revenue.", money=True, reference="OCPI tariff ENERGY", known_if="observed_port_days"),
        Metric("revenue_time_component_minor", "Revenue: time component", "minor units", "simple", "revenue_time_minor", "Σ total_time_cost",
               "Per-charging-hour part of energy revenue.", money=True, reference="OCPI tariff TIME", known_if="observed_port_days"),
        Metric("revenue_idle_fee_minor", "Revenue: idle fees", "minor units", "simple", "revenue_idle_minor", "Σ total_parking_cost",
               "Idle (parking-time) fees.", money=True, reference="OCPI tariff PARKING_TIME", known_if="observed_port_days"),
        Metric("revenue_session_fee_minor", "Revenue: session fees", "minor units", "simple", "revenue_session_fee_minor", "Σ total_fixed_cost",
               "Flat per-session fees.", money=True, reference="OCPI tariff FLAT", known_if="observed_port_days"),
        Metric("revenue_unattributed_minor", "Revenue: not broken down", "minor units", "simple", "revenue_unattributed_minor", "Σ (total_cost − components)",
               "Revenue whose CDR gave no component breakdown; components + this = energy_revenue_minor exactly.", money=True, known_if="observed_port_days"),
        Metric("vat_minor", "VAT", "minor units", "simple", "vat_minor", "Σ (incl_vat − excl_vat)",
               "VAT billed to drivers (not revenue).", money=True, known_if="observed_port_days"),
        Metric("revenue_per_port_minor", "Revenue per port", "minor units/port", "ratio", "revenue_minor", "energy revenue / ports",
               "Energy revenue per port deployed in the period.", denominator="ports", money=True, reference="handbook §10", known_if="observed_port_days"),
        Metric("revenue_per_port_day_minor", "Revenue per port-day", "minor units/port-day", "ratio", "revenue_minor", "energy revenue / port-days",
               "Energy revenue per port per open day (EVgo Q2-2025: ~$165 per stall per day).", denominator="port_days", money=True, reference="handbook §3; EVgo", known_if="observed_port_days"),
        Metric("energy_cost_minor", "Energy cost", "minor units", "simple", "bill_total_minor", "Σ utility bill total",
               "The site's electricity bill for the month under its utility tariff (URDB), from its 15-minute load profile: energy + demand + fixed charges + minimum adjustment.",
               money=True, reference="handbook §5", grains=BILL_GRAINS, periods=("month",), known_if="observed_port_days"),
        Metric("energy_charge_minor", "Energy charges", "minor units", "simple", "bill_energy_charge_minor", "Σ kWh × TOU/tier rate",
               "Energy (per-kWh) part of the utility bill.", money=True, reference="handbook §5", grains=BILL_GRAINS, periods=("month",), known_if="observed_port_days"),
        Metric("demand_charge_minor", "Demand charges", "minor units", "simple", "bill_demand_charge_minor", "Σ peak kW × demand rate (flat + TOU)",
               "Demand part of the utility bill: the month's 15-minute peaks (per TOU period and overall) × their rates.",
               money=True, reference="handbook §5", grains=BILL_GRAINS, periods=("month",), known_if="observed_port_days"),
        Metric("fixed_charge_minor", "Fixed charges", "minor units", "simple", "bill_fixed_charge_minor", "Σ fixed charge + minimum adjustment",
               "Customer/meter charges of the utility bill, with any lift to the monthly minimum.",
               money=True, reference="handbook §5", grains=BILL_GRAINS, periods=("month",), known_if="observed_port_days"),
        Metric("energy_margin_minor", "Energy margin", "minor units", "simple", "billed_margin_minor", "Σ (energy revenue − energy cost), billed site-months",
               "Energy revenue net of the electricity bill, demand charges included; site-months without a utility bill are left out (see site_months_billed).",
               money=True, reference="handbook §5", grains=BILL_GRAINS, periods=("month",), known_if="observed_port_days"),
        Metric("energy_margin_per_kwh", "Energy margin per kWh", "minor units/kWh", "ratio", "billed_margin_minor", "energy margin / kWh delivered",
               "Energy margin per kWh sold, in minor units of the currency (US cents/kWh), not rounded; billed site-months only.",
               denominator="billed_energy_kwh", reference="handbook §5", grains=BILL_GRAINS, periods=("month",), known_if="observed_port_days"),
        Metric("energy_margin_share", "Energy margin share", "fraction", "ratio", "billed_margin_minor", "energy margin / energy revenue",
               "Energy margin as a share of energy revenue, billed site-months only.",
               denominator="billed_revenue_minor", reference="handbook §5", grains=BILL_GRAINS, periods=("month",), known_if="observed_port_days"),
        Metric("demand_charge_share", "Demand charge share", "fraction", "ratio", "bill_demand_charge_minor", "demand charges / energy cost",
               "Share of the electricity bill that is demand charges (up to ~90 % for DC fast sites).",
               denominator="bill_total_minor", reference="handbook §5", grains=BILL_GRAINS, periods=("month",), known_if="observed_port_days"),
        Metric("peak_kw", "Peak demand", "kW", "simple", "bill_peak_kw", "max 15-min average kW (Σ over sites)",
               "The month's highest 15-minute demand (for a roll-up, the sum of the sites' own peaks).",
               reference="handbook §5", grains=BILL_GRAINS, periods=("month",), known_if="observed_port_days"),
        Metric("site_months_billed", "Site-months billed", "count", "simple", "site_months_billed", "site-months with a bill",
               "Site-months with a utility bill (a site without a utility tariff is not billed, never billed as $0).",
               reference="handbook §5", grains=BILL_GRAINS, periods=("month",), known_if="observed_port_days"),
        Metric("demand_over_revenue_flag", "Demand charges exceed energy revenue", "count", "simple", "site_months_demand_over_revenue",
               "site-months with demand charges > energy revenue",
               "Flag: at site grain 1 when the month's demand charges exceed its energy revenue; rolled up, the number of such site-months.",
               reference="handbook §5", grains=BILL_GRAINS, periods=("month",), known_if="observed_port_days"),
        Metric("uptime_pct", "NEVI uptime (month)", "%", "ratio", "nevi_up_s", "(period − (T_outage − T_excluded)) / period × 100",
               "23 CFR 680.116(b) formula over the month: minutes the port was measured, less outage minutes not excluded. No-data minutes count as outage (not shown to be up).",
               denominator="period_s", scale=100, reference="handbook §4; 23 CFR 680.116(b)", periods=MONTH, known_if="measured_s", unknown_if="feed_gap_s"),
        Metric("uptime_t12m_pct", "NEVI uptime (trailing 12 months)", "%", "ratio", "t12_nevi_up_s", "(525,600 − (T_outage − T_excluded)) / 525,600 × 100",
               "23 CFR 680.116(b): the same over the twelve months ending with the month, required to be greater than 97 %. The denominator is the minutes the port was measured in those months (525,600 for a full 365-day year; fewer for a port commissioned within them, flagged by ports_partial_year).",
               denominator="t12_period_s", scale=100, reference="handbook §4; 23 CFR 680.116(b)", periods=MONTH, known_if="ports_nevi_known", unknown_if="t12_feed_gap_s"),
        Metric("measured_uptime_pct", "Uptime over measured time", "%", "ratio", "measured_up_s", "(measured − (T_outage − T_excluded)) / measured × 100, no-data time left out",
               "Uptime over the minutes with telemetry only: beside uptime_pct it shows how much of the gap is missing data rather than outage.",
               denominator="measured_s", scale=100, reference="handbook §4", periods=MONTH, known_if="measured_s"),
        Metric("measured_h", "Measured port-hours", "h", "simple", "period_s", "Σ measured time / 3600",
               "Port-hours the uptime metrics cover: in service and inside the telemetry span (the NEVI denominator).",
               divisor=3600, reference="handbook §4; 23 CFR 680.116(b)", periods=MONTH),
        Metric("t_outage_min", "Outage minutes", "min", "simple", "outage_s", "Σ T_outage / 60",
               "Outage minutes in the month: Faulted/Unavailable, offline (reported, or silent beyond the window) and no-data time.",
               divisor=60, reference="handbook §4; 23 CFR 680.116(b)", periods=MONTH, known_if="measured_s"),
        Metric("t_excluded_min", "Excluded outage minutes", "min", "simple", "excluded_s", "Σ T_excluded / 60",
               "Outage minutes excluded under 23 CFR 680.116(b): covered by an incident with an excludable cause (utility interruption, vehicle, scheduled maintenance, vandalism, natural disaster) or outside stated operating hours.",
               divisor=60, reference="handbook §4; 23 CFR 680.116(b)", periods=MONTH, known_if="measured_s"),
        Metric("fault_min", "Out-of-service minutes", "min", "simple", "fault_s", "Σ reported fault time / 60",
               "Minutes the port or its charger reported itself out of service (OCPP Faulted or Unavailable, OCPI OUTOFORDER or INOPERATIVE, a feed's out-of-service code).",
               divisor=60, reference="handbook §4", periods=MONTH, known_if="measured_s"),
        Metric("offline_min", "Offline minutes", "min", "simple", "offline_s", "Σ offline time / 60",
               "Minutes out of contact: a reported out-of-contact status, or an OCPP charger silent beyond the window, from its last message.",
               divisor=60, reference="handbook §4", periods=MONTH, known_if="measured_s"),
        Metric("no_data_min", "No-data minutes", "min", "simple", "no_data_s", "Σ no-data time / 60",
               "Minutes without any observation of the port (stale or missing telemetry); counted as outage by uptime_pct.",
               divisor=60, reference="handbook §4", periods=MONTH),
        Metric("outages", "Outages", "count", "simple", "outages", "outages starting in the month",
               "Outages (runs of fault or offline time) that started in the month.", reference="handbook §4", periods=MONTH, known_if="measured_s"),
        Metric("mtbf_h", "Mean time between failures", "h", "ratio", "up_s", "up time / failures / 3600",
               "Hours up per failure (an outage not wholly excluded: scheduled maintenance and utility interruptions are not equipment failures).",
               denominator="failures", divisor=3600, reference="handbook §4", periods=MONTH, known_if="measured_s"),
        Metric("mttr_h", "Mean time to repair", "h", "ratio", "repair_s", "failure durations / failures / 3600",
               "Average duration of the failures that started in the month, to their end (or to the data horizon while open).",
               denominator="failures", divisor=3600, reference="handbook §4", periods=MONTH, known_if="measured_s"),
        Metric("ports_below_nevi", "Ports at or below 97 % uptime", "count", "simple", "ports_below_nevi", "ports with uptime_t12m_pct ≤ 97",
               "Ports that miss the NEVI requirement (uptime greater than 97 %, trailing twelve months); at port grain a 0/1 flag.",
               reference="23 CFR 680.116(b)", periods=MONTH, known_if="ports_nevi_known"),
        Metric("ports_partial_year", "Ports measured for part of the year", "count", "simple", "ports_partial_year", "ports with t12 period < twelve months",
               "Ports whose trailing-12-month uptime uses the minutes they existed (commissioned within the year, or telemetry shorter than a year) in place of 525,600.",
               reference="handbook §4", periods=MONTH, known_if="measured_s"),
        Metric("charge_attempt_success_rate", "Charge attempt success rate", "fraction", "ratio", "sessions_with_energy", "attempts that delivered energy / attempts",
               "Share of charge attempts (sessions, including zero-energy failed ones) that delivered energy (ChargeX).",
               denominator="sessions", reference="handbook §4; ChargeX", known_if="observed_port_days"),
        Metric("session_success_rate", "Session success rate", "fraction", "ratio", "transactions_ended_normally", "sessions ended normally / sessions ended",
               "Share of OCPP transactions that ended normally, not by a fault or EVSE-side stop (stop reasons in docs/uptime.md).",
               denominator="transactions_ended", reference="handbook §4; ChargeX"),
        Metric("visit_success_rate", "Visit success rate", "fraction", "ratio", "visits_successful", "visits with energy / visits",
               "Share of site visits (one driver's attempts at a site, each within 15 minutes of the previous one's end) in which an attempt delivered energy.",
               denominator="visits", reference="handbook §4; J.D. Power 2025", grains=SITE_GRAINS, known_if="observed_port_days"),
        Metric("revenue_at_risk_minor", "Revenue at risk from downtime", "minor units", "simple", "revenue_at_risk_minor", "Σ outage hours × the port's revenue at that hour of week",
               "Energy revenue the port would have earned in its outage time (not excluded or not), estimated from its own revenue at the same local hour of week over the 13 weeks before the month.",
               money=True, reference="handbook §4", periods=MONTH, known_if="measured_s"),
    ]
}  # fmt: skip


# The metrics `evrevops uptime` shows (and the council's reliability page reads).
UPTIME = (
    "uptime_pct", "uptime_t12m_pct", "measured_uptime_pct", "measured_h", "t_outage_min", "t_excluded_min",
    "fault_min", "offline_min", "no_data_min", "outages", "mtbf_h", "mttr_h", "ports_below_nevi", "ports_partial_year",
    "charge_attempt_success_rate", "session_success_rate", "visit_success_rate", "revenue_at_risk_minor",
)  # fmt: skip


def get_metric(name: str) -> Metric:
    """Return a metric by name; an unknown name raises ``KeyError`` listing the known ones."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}") from None
