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

    ``level`` is ``port`` (from the port-day fact) or ``site`` (from the
    site-day fact; not defined at port grain).
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

    @property
    def source(self) -> str:
        m = [MEASURES[self.numerator]] + ([MEASURES[self.denominator]] if self.denominator else [])
        return ", ".join(sorted({"site-day calendar + sessions" if x.level == "site" else "port-day facts" for x in m}))


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
    ]
}

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
    ]
}  # fmt: skip


def get_metric(name: str) -> Metric:
    """Return a metric by name; an unknown name raises ``KeyError`` listing the known ones."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}") from None
