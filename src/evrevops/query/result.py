"""What a query returns: a frozen table with the units of its columns declared, or a frozen record.

A surface (the CLI, the API, the council pack) renders a result; it never guesses a column's unit
from its name: the query layer declares it here, from the metric registry for metrics and from
:data:`COLUMN_UNITS` for the columns of the engines' tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import pyarrow as pa

from evrevops.metrics.registry import METRICS

MINOR = "minor units"  # integer minor units of the row's `currency` (the registry's spelling)
KWH = "kWh"
KW = "kW"
PCT = "%"
FRACTION = "fraction"
COUNT = "count"
HOURS = "h"
MINUTES = "min"
DAYS = "days"
MONTHS = "months"
SCORE = "score"
PER_YEAR = "fraction/year"

_MINOR_COLUMNS = """
actual_cost_minor award_minor baseline_energy_charge_minor baseline_fixed_charge_minor
baseline_flat_demand_charge_minor baseline_minimum_charge_adjustment_minor baseline_total_minor
baseline_tou_demand_charge_minor basis_minor bill_change_minor billed_minor budget_done_minor budget_minor
caas_arr_minor caas_minor capex_minor cash_to_date_minor cost_of_revenue_minor cost_of_sales_minor
cost_variance_minor credit_minor crm_weighted_minor demand_charge_saved_minor depreciation_minor eligible_minor
energy_charge_minor energy_minor energy_share_minor estimate_at_completion_minor expected_margin_minor
expected_minor fee_minor fixed_charge_minor from_pipeline_minor from_projects_minor from_won_minor
gross_margin_minor hardware_minor incentives_minor installation_minor installation_price_minor leakage_minor
learned_weighted_minor maintenance_cost_minor maintenance_minor margin_at_budget_minor margin_change_minor
mean_minor naive_minor net_capex_minor network_minor nominal_minor npv_minor operating_cash_flow_minor
other_minor p10_minor p50_minor p90_minor payment_processing_minor recurring_minor revenue_energy_component_minor
revenue_idle_fee_minor revenue_minor revenue_session_fee_minor revenue_time_component_minor revenue_lost_minor
revenue_unattributed_minor rounding_minor scenario_energy_charge_minor scenario_fixed_charge_minor
scenario_flat_demand_charge_minor scenario_minimum_charge_adjustment_minor scenario_total_minor
scenario_tou_demand_charge_minor site_lease_minor sla_credit_minor sla_credit_minor_3m software_arr_minor
software_minor total_cash_flow_minor total_minor upfront_revenue_minor vat_minor
mrr_start new expansion contraction churn reactivation mrr_end arr_end
energy_charge fixed_charge flat_demand_charge tou_demand_charge minimum_charge_adjustment total
"""
_OTHER_UNITS = {
    KWH: "baseline_energy_kwh scenario_energy_kwh energy_lost_kwh energy_kwh",
    KW: "baseline_peak_kw scenario_peak_kw peak_kw cap_kw",
    PCT: "measured_uptime_pct sla_uptime_pct uptime_prev_pct credit_pct",
    FRACTION: "crm_probability learned_probability energy_margin_share gross_margin_share nrr grr logo_churn "
    "revenue_churn utilization_prev idle_utilization failed_session_share session_success_rate conversion "
    "mature_conversion win_probability win_rate slipped_share cost_overrun_share",
    COUNT: "records_read accepted duplicate quarantined replaced sessions_mismatched sessions_unpriced ports_measured "
    "ports_breached site_months_billed silent_chargers accounts_start accounts_churned outages overdue open deals "
    "sites sites_paid_back_in_horizon conflicts sla_breaches_3m won lost",
    HOURS: "silent_h measured_h",
    MINUTES: "duration_min excluded_min fault_min no_data_min offline_min t_excluded_min t_outage_min",
    DAYS: "delay_days days_in_stage cycle_days slip_days",
    MONTHS: "payback_months median_payback_months horizon_months months_actual months_since_commissioning",
    SCORE: "score",
    PER_YEAR: "irr",
}

COLUMN_UNITS: Mapping[str, str] = MappingProxyType(
    {
        **{c: u for u, names in _OTHER_UNITS.items() for c in names.split()},
        **dict.fromkeys(_MINOR_COLUMNS.split(), MINOR),
        **{m.name: m.unit for m in METRICS.values()},
    }
)
"""The unit of each column of the engines' tables a query returns (a column not listed has none: a key, a
date, a name, a flag); a metric's is its registry unit."""


@dataclass(frozen=True)
class TableResult:
    """A table a query returns, with the units of its columns.

    Attributes
    ----------
    table : pyarrow.Table
        The rows.
    units : Mapping[str, str]
        Column name -> unit (e.g. ``"minor units"`` of the row's ``currency``, ``"kWh"``); a column
        without a unit (a key, a date, a label) is not in it.
    title : str
        What the table is, for a surface to show.
    """

    table: pa.Table
    units: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    title: str = ""

    @property
    def num_rows(self) -> int:
        """The number of rows."""
        return int(self.table.num_rows)

    @property
    def column_names(self) -> list[str]:
        """The columns, in order."""
        return list(self.table.column_names)


# The house's naming rule (units in names) declares the unit of a column not listed above, for the suffixes
# that say one thing only (not `_rate` or `_share`, which are listed by name).
_SUFFIX_UNITS = (
    ("_minor", MINOR), ("_minor_3m", MINOR), ("_kwh", KWH), ("_kw", KW), ("_pct", PCT), ("_h", HOURS),
    ("_min", MINUTES), ("_days", DAYS), ("_months", MONTHS),
)  # fmt: skip


def unit_by_name(column: str) -> str | None:
    """The unit a column's name declares by its suffix (``_minor``, ``_kwh``, ``_pct``, ``_share``, ...), if any."""
    return next((u for suffix, u in _SUFFIX_UNITS if column.endswith(suffix)), None)


def units_of(columns: Iterable[str], extra: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """The unit of each of *columns* that has one: :data:`COLUMN_UNITS`, then *extra*, then the name's suffix
    (:func:`unit_by_name`)."""
    declared = {**COLUMN_UNITS, **(extra or {})}
    found = {c: declared.get(c) or unit_by_name(c) for c in columns}
    return MappingProxyType({c: u for c, u in found.items() if u is not None})


def table_result(table: pa.Table, title: str = "", extra: Mapping[str, str] | None = None) -> TableResult:
    """*table* with the declared units of its columns."""
    return TableResult(table, units_of(table.column_names, extra), title)
