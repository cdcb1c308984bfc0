"""evrevops' own CSV formats (``docs/formats.md``): the specs and their readers.

Each format is a :class:`~evrevops.formats.csv_engine.CsvSpec` of typed columns
(:class:`~evrevops.formats.csv_columns.Col`) and cross-column checks, read by the one engine of
:mod:`evrevops.formats.csv_engine`: sites, customers, contracts, deals and their stage history,
projects, incentives, costs and incidents. The sites CSV, one CSV read into several tables, has
its reader in :mod:`evrevops.formats.sites_csv`.
The closed lists of values the columns allow are here too.
"""

from __future__ import annotations

from pathlib import Path

from evrevops.core.sqltext import sql_literal
from evrevops.core.vocabulary import ENERGY_POSITIONS, LINE_EVENTS, LINE_TYPES, REVENUE_MODELS, SEGMENTS
from evrevops.formats.base import Batch
from evrevops.formats.csv_columns import FREE_TEXT_CHARS, Col
from evrevops.formats.csv_engine import (
    AnyOf,
    Check,
    CsvSpec,
    Derived,
    after,
    read_table,
)

POWER_TYPES = ("AC_1_PHASE", "AC_3_PHASE", "DC")
BILLING_PERIODS = ("one_time", "monthly", "annual")
SLA_SCOPES = ("port", "site")
SLA_PERIODS = ("month", "quarter", "year")
DEAL_STAGES = ("prospect", "qualified", "proposal", "negotiation", "closed_won", "closed_lost")
INCENTIVE_STATUSES = ("none", "applied", "awarded", "denied")
MILESTONES = ("site_survey", "make_ready", "permits", "installation", "commissioning")
INCENTIVE_KINDS = ("grant", "tax_credit", "rebate")
ELIGIBLE_COSTS = ("hardware", "installation", "make_ready")
AWARD_STATUSES = ("applied", "awarded", "denied", "paid")
CAPEX_TYPES = ("hardware", "installation", "make_ready")
COST_TYPES = CAPEX_TYPES + ("network", "maintenance", "payment_processing", "site_lease", "other")
COST_BASES = ("one_time", "per_port_month", "per_month", "per_session", "pct_of_energy_revenue")
#: Outage causes outside the operator's control, excluded from NEVI uptime (23 CFR 680.116(b)).
NEVI_EXCLUDABLE_CAUSES = ("utility_interruption", "vehicle", "scheduled_maintenance", "vandalism", "natural_disaster")
#: Outage causes the operator answers for (not excludable).
OPERATOR_CAUSES = ("hardware_fault", "software_fault", "communication", "payment_system", "other")


SITE_COLUMNS = (
    Col("site_id", required=True),
    Col("site_name", target="name"),
    Col("customer_id"),
    Col("time_zone", "zone", required=True),
    Col("operating_hours", "hours"),
    Col("address", max_chars=FREE_TEXT_CHARS),
    Col("city"),
    Col("state"),
    Col("postal_code"),
    Col("country"),
    Col("latitude", "float", ge=-90, le=90),
    Col("longitude", "float", ge=-180, le=180),
)
#: The site's facts that change over time (``site_facts``), each from its row's ``effective_on``.
FACT_COLUMNS = (
    Col("segment", "enum", required=True, values=SEGMENTS),
    Col("revenue_model", "enum", values=REVENUE_MODELS),
    Col("energy_position", "enum", values=ENERGY_POSITIONS),
    Col("utility_tariff_id"),
    Col("grid_capacity_kw", "float", gt=0),
    Col("effective_on", "date"),
)
CHARGER_COLUMNS = (
    Col("charger_id"),
    Col("charger_vendor", target="vendor"),
    Col("charger_model", target="model"),
)
PORT_COLUMNS = (
    Col("port_id", required=True),
    Col("connector_id", "int", ge=1),
    Col("power_type", "enum", values=POWER_TYPES),
    Col("connector_standard"),
    Col("rated_kw", "float", gt=0, power=True),
    Col("commissioned_on", "date", planned=True),
    Col("decommissioned_on", "date", planned=True),
)

SITES = CsvSpec(
    "sites-csv",
    "sites",
    SITE_COLUMNS + FACT_COLUMNS + CHARGER_COLUMNS + PORT_COLUMNS,
    checks=(after("decommissioned_on", "commissioned_on", strict=True),),
    keep_unstated=True,
)

CUSTOMERS = CsvSpec(
    "customers-csv",
    "customers",
    (
        Col("customer_id", required=True),
        Col("name", required=True),
        Col("segment", "enum", required=True, values=SEGMENTS),
        Col("revenue_model", "enum", values=REVENUE_MODELS),
        Col("country"),
        Col("currency", "currency"),
        Col("billing_email", "pattern", pattern=r"[^@\s]+@[^@\s]+", hint="an e-mail address (name@domain)"),
        Col("created_on", "date"),
    ),
)

CONTRACTS = CsvSpec(
    "contracts-csv",
    "contract_events",
    (
        Col("contract_id", required=True),
        Col("line_id", required=True),
        Col("customer_id"),
        Col("site_id"),
        Col("revenue_model", "enum", values=REVENUE_MODELS),
        Col("line_type", "enum", required=True, values=LINE_TYPES),
        Col("event", "enum", required=True, values=LINE_EVENTS),
        Col("effective_on", "date", required=True),
        Col("end_on", "date", planned=True),
        Col("ports", "int", ge=0),
        Col("quantity", "float", ge=0),
        Col("unit_price", "money"),
        Col("currency", "currency"),
        Col("billing_period", "enum", values=BILLING_PERIODS),
        Col("term_months", "int", ge=0),
        Col("energy_share_pct", "decimal", ge=0, le=100),
        Col("sla_uptime_pct", "decimal", ge=0, le=100),
        Col("sla_scope", "enum", values=SLA_SCOPES),
        Col("sla_period", "enum", values=SLA_PERIODS),
        Col(
            "sla_credit_schedule",
            "pattern",
            pattern=r"\s*[0-9]+([.][0-9]+)?\s*:\s*[0-9]+([.][0-9]+)?\s*(;\s*[0-9]+([.][0-9]+)?\s*:\s*[0-9]+([.][0-9]+)?\s*)*;?\s*",
            hint="'97:5;95:10;90:25' (uptime_below:credit_pct pairs)",
        ),
    ),
    checks=(after("end_on", "effective_on"),),
)

DEALS = CsvSpec(
    "deals-csv",
    "deals",
    (
        Col("deal_id", required=True),
        Col("stage", "enum", required=True, values=DEAL_STAGES),
        Col("expected_close_on", "date", required=True, planned=True),
        Col("name"),
        Col("customer_id"),
        Col("account_name"),
        Col("segment", "enum", values=SEGMENTS),
        Col("revenue_model", "enum", values=REVENUE_MODELS),
        Col("probability_pct", "float", ge=0, le=100),
        Col("currency", "currency"),
        Col("hardware_amount", "money", target="hardware_minor"),
        Col("installation_amount", "money", target="installation_minor"),
        Col("software_arr", "money", target="software_arr_minor"),
        Col("caas_arr", "money", target="caas_arr_minor"),
        Col("ports", "int", ge=0),
        Col("created_on", "date"),
        Col("closed_on", "date"),
        Col("owner"),
        Col("economic_buyer_engaged", "bool"),
        Col("utility_capacity_confirmed", "bool"),
        Col("incentive_status", "enum", values=INCENTIVE_STATUSES),
        Col("roi_case_delivered", "bool"),
    ),
    checks=(after("closed_on", "created_on"),),
)

DEAL_STAGES_SPEC = CsvSpec(
    "deal-stages-csv",
    "deal_stage_history",
    (
        Col("deal_id", required=True),
        Col("stage", "enum", required=True, values=DEAL_STAGES),
        Col("entered_on", "date", required=True),
    ),
)

PROJECTS = CsvSpec(
    "projects-csv",
    "projects",
    (
        Col("project_id", required=True),
        Col("milestone", "enum", required=True, values=MILESTONES),
        Col("deal_id"),
        Col("customer_id"),
        Col("site_id"),
        Col("planned_on", "date", planned=True),
        Col("actual_on", "date"),
        Col("budget", "money"),
        Col("actual_cost", "money"),
        Col("currency", "currency"),
    ),
)

INCENTIVES = CsvSpec(
    "incentives-csv",
    "incentives",
    (
        Col("incentive_id", required=True),
        Col("program", required=True),
        Col("kind", "enum", required=True, values=INCENTIVE_KINDS),
        Col("site_id"),
        Col("segment", "enum", values=SEGMENTS),
        Col("pct_of_eligible", "decimal", ge=0, le=100),
        Col("cap", "money"),
        Col("amount", "money"),
        Col("currency", "currency"),
        Col("eligible_costs", "list", values=ELIGIBLE_COSTS),
        Col("start_on", "date", planned=True),
        Col("end_on", "date", planned=True),
        Col("status", "enum", values=AWARD_STATUSES),
        Col("awarded_on", "date"),
    ),
    checks=(after("end_on", "start_on"),),
)

_CAPEX = "[" + ", ".join(sql_literal(c) for c in CAPEX_TYPES) + "]"
COSTS = CsvSpec(
    "costs-csv",
    "site_costs",
    (
        Col("cost_id", required=True),
        Col("cost_type", "enum", required=True, values=COST_TYPES),
        Col("basis", "enum", required=True, values=COST_BASES),
        Col("site_id"),
        Col("segment", "enum", values=SEGMENTS),
        Col("amount", "money"),
        Col("rate_pct", "decimal", ge=0, le=100),
        Col("currency", "currency"),
        Col("incurred_on", "date"),
        Col("start_on", "date", planned=True),
        Col("end_on", "date", planned=True),
        Col("notes", max_chars=FREE_TEXT_CHARS),
    ),
    checks=(
        after("end_on", "start_on"),
        Check(
            ("basis", "amount"),
            '"basis" = \'pct_of_energy_revenue\' AND "amount" IS NOT NULL',
            "amount",
            "'basis pct_of_energy_revenue takes rate_pct, not amount'",
        ),
        Check(
            ("basis", "rate_pct"),
            '"basis" <> \'pct_of_energy_revenue\' AND "rate_pct" IS NOT NULL',
            "rate_pct",
            "'basis ' || \"basis\" || ' takes amount, not rate_pct'",
        ),
        Check(
            ("basis", "cost_type"),
            f'list_contains({_CAPEX}, "cost_type") AND "basis" <> \'one_time\'',
            "basis",
            "'capex (' || \"cost_type\" || ') is one_time, not ' || \"basis\"",
        ),
    ),
    any_of=(AnyOf(("site_id", "segment")), AnyOf(("amount", "rate_pct"))),
)

_EXCLUDABLE = "[" + ", ".join(sql_literal(c) for c in NEVI_EXCLUDABLE_CAUSES) + "]"
INCIDENTS = CsvSpec(
    "incidents-csv",
    "incidents",
    (
        Col("incident_id", required=True),
        Col("started_at", "instant", required=True),
        Col("cause", "enum", required=True, values=NEVI_EXCLUDABLE_CAUSES + OPERATOR_CAUSES),
        Col("ended_at", "instant"),
        Col("site_id"),
        Col("port_id"),
        Col("charger_id"),
        Col("ticket_ref"),
        Col("notes", max_chars=FREE_TEXT_CHARS),
    ),
    checks=(after("ended_at", "started_at"),),
    any_of=(AnyOf(("port_id", "site_id", "charger_id")),),
    derived=(Derived("nevi_excludable", f'list_contains({_EXCLUDABLE}, "cause")', "BOOLEAN", ("cause",)),),
)


# --------------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------------


def read_customers(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a customers CSV (``docs/formats.md``, "Customers CSV") into ``customers``."""
    return read_table(path, CUSTOMERS)


def read_contracts(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a contract line-events CSV into ``contract_events`` (``unit_price`` → ``unit_price_minor``).

    Each row is one event of a line; the loader replays them with the line's stored events and
    quarantines those out of order (:mod:`evrevops.warehouse.contract_lines`).
    """
    return read_table(path, CONTRACTS)


def read_deals(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a deals CSV into ``deals`` (amounts → ``hardware_minor`` … ``caas_arr_minor``)."""
    return read_table(path, DEALS)


def read_deal_stages(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a deal stage-history CSV into ``deal_stage_history``."""
    return read_table(path, DEAL_STAGES_SPEC)


def read_projects(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a project-milestones CSV into ``projects`` (``budget``/``actual_cost`` → ``*_minor``)."""
    return read_table(path, PROJECTS)


def read_incentives(path: str | Path, mapping: str | None = None) -> Batch:
    """Read an incentives CSV into ``incentives`` (``cap``/``amount`` → ``*_minor``)."""
    return read_table(path, INCENTIVES)


def read_costs(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a cost book CSV into ``site_costs`` (``amount`` → ``amount_minor``).

    A row is one cost of one site (``site_id``) or a segment's default
    (``segment``, for every site of it without a row of that ``cost_type``);
    capex (hardware, installation, make-ready) is ``one_time``; a
    ``pct_of_energy_revenue`` cost has a ``rate_pct`` and every other an
    ``amount`` (``docs/formats.md``, "Costs CSV").
    """
    return read_table(path, COSTS)


def read_incidents(path: str | Path, mapping: str | None = None) -> Batch:
    """Read incident records into ``incidents``.

    ``nevi_excludable`` is true for the causes 23 CFR 680.116(b) lets an
    operator exclude from NEVI uptime (utility interruption, vehicle, scheduled
    maintenance, vandalism, natural disaster) and false for the operator's own
    (hardware/software fault, communication, payment system, other). An
    unknown cause is quarantined.
    """
    return read_table(path, INCIDENTS)
