"""Versioned warehouse schema.

Each migration is a list of DDL statements applied in one transaction; the
``schema_version`` table records which have been applied.  Migrations are
append-only: never edit one that has shipped, add a new one.

Conventions (handbook §1): instants are ``*_at`` ``TIMESTAMP`` in UTC (naive),
local calendar dates are ``DATE`` named ``*_on`` or ``local_date``, units are in
column names (``energy_kwh``, ``power_kw``, ``duration_s``), money is ``BIGINT``
minor units in ``*_minor`` columns beside an ISO-4217 ``currency``, and rates
($/kWh, $/kW) are kept as exact decimal text or JSON as they came.

Every data row carries its provenance: ``file_id`` (the ingest ledger entry
that wrote it) and ``source_record`` (line or record number in that file).
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROVENANCE = "file_id BIGINT, source_record BIGINT"

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "initial schema: domain nouns, ingest ledger and quarantine",
        [
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)",
            # ---- ingest bookkeeping -------------------------------------------------
            """CREATE TABLE ingest_ledger (
                file_id BIGINT PRIMARY KEY, path VARCHAR NOT NULL, checksum VARCHAR NOT NULL,
                format VARCHAR NOT NULL, mapping VARCHAR, size_bytes BIGINT,
                started_at TIMESTAMP, finished_at TIMESTAMP,
                records_read BIGINT, accepted BIGINT, duplicate BIGINT, quarantined BIGINT,
                replaced BIGINT, status VARCHAR)""",
            """CREATE TABLE quarantine (
                file_id BIGINT, path VARCHAR, source_record BIGINT, field VARCHAR,
                reason VARCHAR, raw VARCHAR)""",
            # ---- parties and places --------------------------------------------------
            f"""CREATE TABLE customers (
                customer_id VARCHAR PRIMARY KEY, name VARCHAR, segment VARCHAR,
                revenue_model VARCHAR, country VARCHAR, currency VARCHAR,
                billing_email VARCHAR, created_on DATE, {PROVENANCE})""",
            f"""CREATE TABLE sites (
                site_id VARCHAR PRIMARY KEY, name VARCHAR, customer_id VARCHAR,
                segment VARCHAR, revenue_model VARCHAR, time_zone VARCHAR,
                utility_tariff_id VARCHAR, grid_capacity_kw DOUBLE, operating_hours VARCHAR,
                address VARCHAR, city VARCHAR, state VARCHAR, postal_code VARCHAR,
                country VARCHAR, latitude DOUBLE, longitude DOUBLE,
                operator_party VARCHAR, last_updated_at TIMESTAMP, {PROVENANCE})""",
            f"""CREATE TABLE chargers (
                charger_id VARCHAR PRIMARY KEY, site_id VARCHAR, vendor VARCHAR, model VARCHAR,
                serial_number VARCHAR, firmware_version VARCHAR, ocpp_version VARCHAR,
                {PROVENANCE})""",
            f"""CREATE TABLE ports (
                port_id VARCHAR PRIMARY KEY, site_id VARCHAR, charger_id VARCHAR,
                connector_id INTEGER, evse_id VARCHAR, power_type VARCHAR,
                connector_standard VARCHAR, rated_kw DOUBLE,
                commissioned_on DATE, decommissioned_on DATE, {PROVENANCE})""",
            # ---- usage -----------------------------------------------------------------
            f"""CREATE TABLE sessions (
                session_id VARCHAR PRIMARY KEY, source VARCHAR, site_id VARCHAR,
                port_id VARCHAR, charger_id VARCHAR, connector_id VARCHAR,
                started_at TIMESTAMP NOT NULL, ended_at TIMESTAMP NOT NULL,
                charging_ended_at TIMESTAMP, energy_kwh DOUBLE NOT NULL,
                plugged_in_s DOUBLE NOT NULL, charging_s DOUBLE NOT NULL, idle_s DOUBLE NOT NULL,
                peak_kw DOUBLE, currency VARCHAR,
                total_cost_minor BIGINT, total_cost_incl_vat_minor BIGINT,
                energy_cost_minor BIGINT, time_cost_minor BIGINT,
                parking_cost_minor BIGINT, fixed_cost_minor BIGINT,
                tariff_id VARCHAR, auth_method VARCHAR, token_uid VARCHAR,
                stop_reason VARCHAR, charging_periods VARCHAR,
                last_updated_at TIMESTAMP, {PROVENANCE})""",
            f"""CREATE TABLE status_events (
                charger_id VARCHAR NOT NULL, port_id VARCHAR, connector_id INTEGER,
                observed_at TIMESTAMP NOT NULL, status VARCHAR NOT NULL, error_code VARCHAR,
                vendor_error_code VARCHAR, info VARCHAR, protocol VARCHAR, {PROVENANCE})""",
            f"""CREATE TABLE meter_readings (
                charger_id VARCHAR NOT NULL, port_id VARCHAR, connector_id INTEGER,
                transaction_id VARCHAR, observed_at TIMESTAMP NOT NULL, measurand VARCHAR NOT NULL,
                phase VARCHAR, value DOUBLE NOT NULL, unit VARCHAR, context VARCHAR,
                {PROVENANCE})""",
            f"""CREATE TABLE heartbeats (
                charger_id VARCHAR NOT NULL, observed_at TIMESTAMP NOT NULL, message VARCHAR,
                {PROVENANCE})""",
            f"""CREATE TABLE ocpp_transactions (
                charger_id VARCHAR NOT NULL, transaction_id VARCHAR NOT NULL, port_id VARCHAR,
                connector_id INTEGER, id_tag VARCHAR, started_at TIMESTAMP, ended_at TIMESTAMP,
                meter_start_wh DOUBLE, meter_stop_wh DOUBLE, stop_reason VARCHAR,
                protocol VARCHAR, {PROVENANCE})""",
            # ---- prices ----------------------------------------------------------------
            f"""CREATE TABLE driver_tariffs (
                tariff_id VARCHAR PRIMARY KEY, country_code VARCHAR, party_id VARCHAR,
                currency VARCHAR NOT NULL, type VARCHAR, tariff_json VARCHAR NOT NULL,
                min_price_excl_vat VARCHAR, max_price_excl_vat VARCHAR,
                start_at TIMESTAMP, end_at TIMESTAMP, last_updated_at TIMESTAMP, {PROVENANCE})""",
            f"""CREATE TABLE utility_tariffs (
                utility_tariff_id VARCHAR PRIMARY KEY, utility VARCHAR, name VARCHAR,
                sector VARCHAR, eiaid BIGINT, start_on DATE, end_on DATE,
                has_tou_demand BOOLEAN, has_flat_demand BOOLEAN, fixed_charge_units VARCHAR,
                demand_window_min INTEGER, rate_json VARCHAR NOT NULL, {PROVENANCE})""",
            # ---- commercial ---------------------------------------------------------------
            f"""CREATE TABLE contracts (
                contract_id VARCHAR NOT NULL, line_id VARCHAR NOT NULL, customer_id VARCHAR,
                site_id VARCHAR, revenue_model VARCHAR, line_type VARCHAR NOT NULL,
                event VARCHAR NOT NULL, effective_on DATE NOT NULL, end_on DATE,
                ports INTEGER, quantity DOUBLE, unit_price_minor BIGINT, currency VARCHAR,
                billing_period VARCHAR, term_months INTEGER, energy_share_pct VARCHAR,
                sla_uptime_pct VARCHAR, sla_scope VARCHAR, sla_credit_schedule VARCHAR,
                {PROVENANCE}, PRIMARY KEY (contract_id, line_id))""",
            f"""CREATE TABLE deals (
                deal_id VARCHAR PRIMARY KEY, name VARCHAR, customer_id VARCHAR, account_name VARCHAR,
                segment VARCHAR, revenue_model VARCHAR, stage VARCHAR, probability_pct DOUBLE,
                currency VARCHAR, hardware_minor BIGINT, installation_minor BIGINT,
                software_arr_minor BIGINT, caas_arr_minor BIGINT, ports INTEGER,
                created_on DATE, expected_close_on DATE, closed_on DATE, owner VARCHAR,
                economic_buyer_engaged BOOLEAN, utility_capacity_confirmed BOOLEAN,
                incentive_status VARCHAR, roi_case_delivered BOOLEAN, {PROVENANCE})""",
            f"""CREATE TABLE deal_stage_history (
                deal_id VARCHAR NOT NULL, stage VARCHAR NOT NULL, entered_on DATE NOT NULL,
                {PROVENANCE})""",
            f"""CREATE TABLE projects (
                project_id VARCHAR NOT NULL, deal_id VARCHAR, customer_id VARCHAR, site_id VARCHAR,
                milestone VARCHAR NOT NULL, planned_on DATE, actual_on DATE,
                budget_minor BIGINT, actual_cost_minor BIGINT, currency VARCHAR,
                {PROVENANCE}, PRIMARY KEY (project_id, milestone))""",
            f"""CREATE TABLE incentives (
                incentive_id VARCHAR PRIMARY KEY, program VARCHAR, kind VARCHAR,
                site_id VARCHAR, segment VARCHAR, pct_of_eligible VARCHAR, cap_minor BIGINT,
                amount_minor BIGINT, currency VARCHAR, eligible_costs VARCHAR,
                start_on DATE, end_on DATE, status VARCHAR, awarded_on DATE, {PROVENANCE})""",
            f"""CREATE TABLE incidents (
                incident_id VARCHAR PRIMARY KEY, site_id VARCHAR, port_id VARCHAR,
                charger_id VARCHAR, started_at TIMESTAMP NOT NULL, ended_at TIMESTAMP,
                cause VARCHAR NOT NULL, nevi_excludable BOOLEAN, ticket_ref VARCHAR,
                notes VARCHAR, {PROVENANCE})""",
        ],
    ),
    (
        2,
        "sessions: natural key kept by the loader, not by a DuckDB index; charging_periods zstd",
        [
            # A PRIMARY KEY is an ART index that DuckDB updates on every insert and writes at every
            # checkpoint: for a month of CDRs it was most of the load time. The loader already
            # guarantees one row per session_id (it ranks versions within a file and matches the
            # stored keys before writing), as it does for the event tables, which never had one.
            # charging_periods (JSON text, half the bytes of a CDR, seldom read) is kept with zstd:
            # about 40 % smaller and cheaper to write than the default string compression.
            "ALTER TABLE sessions RENAME TO sessions_v1",
            f"""CREATE TABLE sessions (
                session_id VARCHAR NOT NULL, source VARCHAR, site_id VARCHAR,
                port_id VARCHAR, charger_id VARCHAR, connector_id VARCHAR,
                started_at TIMESTAMP NOT NULL, ended_at TIMESTAMP NOT NULL,
                charging_ended_at TIMESTAMP, energy_kwh DOUBLE NOT NULL,
                plugged_in_s DOUBLE NOT NULL, charging_s DOUBLE NOT NULL, idle_s DOUBLE NOT NULL,
                peak_kw DOUBLE, currency VARCHAR,
                total_cost_minor BIGINT, total_cost_incl_vat_minor BIGINT,
                energy_cost_minor BIGINT, time_cost_minor BIGINT,
                parking_cost_minor BIGINT, fixed_cost_minor BIGINT,
                tariff_id VARCHAR, auth_method VARCHAR, token_uid VARCHAR,
                stop_reason VARCHAR, charging_periods VARCHAR USING COMPRESSION zstd,
                last_updated_at TIMESTAMP, {PROVENANCE})""",
            "INSERT INTO sessions SELECT * FROM sessions_v1",
            "DROP TABLE sessions_v1",
        ],
    ),
    (
        3,
        "derived facts kept between ingests: site-month bills, valid while the ledger is unchanged",
        [
            # Derived, not ingested: evrevops.tariffs.site_bills.refresh rewrites it whole after an
            # ingest; readers use it only while derived_facts' fingerprint (bill engine version and
            # the ledger's state) is the warehouse's current one, and bill on the fly otherwise.
            """CREATE TABLE site_month_bills (
                site_id VARCHAR NOT NULL, utility_tariff_id VARCHAR, bill_month DATE NOT NULL,
                currency VARCHAR, energy_kwh DOUBLE, peak_kw DOUBLE,
                energy_charge_minor BIGINT, flat_demand_charge_minor BIGINT, tou_demand_charge_minor BIGINT,
                fixed_charge_minor BIGINT, minimum_charge_adjustment_minor BIGINT, total_minor BIGINT,
                energy_charge_exact DECIMAL(38, 21), flat_demand_charge_exact DECIMAL(38, 21),
                tou_demand_charge_exact DECIMAL(38, 21), fixed_charge_exact DECIMAL(38, 12),
                minimum_charge_adjustment_exact DECIMAL(38, 21), unsupported VARCHAR)""",
            """CREATE TABLE derived_facts (
                name VARCHAR PRIMARY KEY, fingerprint VARCHAR NOT NULL, first_month DATE, last_month DATE,
                rows BIGINT, computed_at TIMESTAMP)""",
        ],
    ),
    (
        4,
        "contracts: the SLA's measurement period (month, quarter, year)",
        ["ALTER TABLE contracts ADD COLUMN sla_period VARCHAR"],
    ),
    (
        5,
        "cost book (site_costs) and who holds a site's energy position (sites.energy_position)",
        [
            "ALTER TABLE sites ADD COLUMN energy_position VARCHAR",
            f"""CREATE TABLE site_costs (
                cost_id VARCHAR PRIMARY KEY, site_id VARCHAR, segment VARCHAR, cost_type VARCHAR NOT NULL,
                basis VARCHAR NOT NULL, amount_minor BIGINT, rate_pct VARCHAR, currency VARCHAR,
                incurred_on DATE, start_on DATE, end_on DATE, notes VARCHAR, {PROVENANCE})""",
        ],
    ),
    (
        6,
        "history that stays true: contract line events, dated site facts, port placements, bills by tariff part",
        [
            # Contracts: every line event is kept (key: contract, line, event, effective date; the
            # loader's); the priced intervals are derived from the events (view contract_lines,
            # evrevops.warehouse.contract_lines). A v5 file held one row per (contract, line): each
            # becomes that line's one event.
            f"""CREATE TABLE contract_events (
                contract_id VARCHAR NOT NULL, line_id VARCHAR NOT NULL, customer_id VARCHAR,
                site_id VARCHAR, revenue_model VARCHAR, line_type VARCHAR NOT NULL,
                event VARCHAR NOT NULL, effective_on DATE NOT NULL, end_on DATE,
                ports INTEGER, quantity DOUBLE, unit_price_minor BIGINT, currency VARCHAR,
                billing_period VARCHAR, term_months INTEGER, energy_share_pct VARCHAR,
                sla_uptime_pct VARCHAR, sla_scope VARCHAR, sla_credit_schedule VARCHAR,
                {PROVENANCE}, sla_period VARCHAR)""",
            """INSERT INTO contract_events BY NAME SELECT * FROM contracts""",
            "DROP TABLE contracts",
            # Site facts that change, each from the local date it takes effect (NULL: since always);
            # a NULL column states nothing (the value before it holds). sites keeps the latest
            # stated values for what a site is now (evrevops.warehouse.site_history).
            f"""CREATE TABLE site_facts (
                site_id VARCHAR NOT NULL, effective_on DATE, segment VARCHAR, revenue_model VARCHAR,
                energy_position VARCHAR, utility_tariff_id VARCHAR, grid_capacity_kw DOUBLE, {PROVENANCE})""",
            """INSERT INTO site_facts
               SELECT site_id, NULL, segment, revenue_model, energy_position, utility_tariff_id, grid_capacity_kw,
                      file_id, source_record
               FROM sites
               WHERE coalesce(segment, revenue_model, energy_position, utility_tariff_id) IS NOT NULL
                  OR grid_capacity_kw IS NOT NULL""",
            # Where a port was: a Locations feed's observation (the day it listed the EVSE under a
            # Location) or a sites CSV's window at a site (from commissioning to decommissioning
            # there). With the CDRs' own locations they make the port's membership over time
            # (evrevops.warehouse.port_sites). A v5 file's ports become windows of source 'ports'.
            f"""CREATE TABLE port_placements (
                port_id VARCHAR NOT NULL, site_id VARCHAR NOT NULL, source VARCHAR NOT NULL,
                observed_on DATE, from_on DATE, to_on DATE, {PROVENANCE})""",
            """INSERT INTO port_placements
               SELECT port_id, site_id, 'ports', NULL, commissioned_on, decommissioned_on, file_id, source_record
               FROM ports WHERE site_id IS NOT NULL""",
            # The earliest instant an entry's rows date (new rows, and both versions of a replaced
            # one); 0001-01-01: an undated row (since always). What a refresh of the kept facts
            # rebuilds from (evrevops.metrics.changes); NULL: it wrote nothing kept facts read.
            "ALTER TABLE ingest_ledger ADD COLUMN earliest_at TIMESTAMP",
            # Derived and rewritten whole after an ingest (evrevops.tariffs.site_bills.refresh): the
            # bills of v5 were made by an older engine and are stale, so the table is made anew (key:
            # site_id, bill_month, first_on) and its record dropped; metrics bill on the fly until the
            # next refresh.
            "DROP TABLE site_month_bills",
            """CREATE TABLE site_month_bills (
                site_id VARCHAR NOT NULL, utility_tariff_id VARCHAR, bill_month DATE NOT NULL,
                first_on DATE NOT NULL, last_on DATE NOT NULL,
                currency VARCHAR, energy_kwh DOUBLE, peak_kw DOUBLE,
                energy_charge_minor BIGINT, flat_demand_charge_minor BIGINT, tou_demand_charge_minor BIGINT,
                fixed_charge_minor BIGINT, minimum_charge_adjustment_minor BIGINT, total_minor BIGINT,
                energy_charge_exact DECIMAL(38, 21), flat_demand_charge_exact DECIMAL(38, 21),
                tou_demand_charge_exact DECIMAL(38, 21), fixed_charge_exact DECIMAL(38, 12),
                minimum_charge_adjustment_exact DECIMAL(38, 21), unsupported VARCHAR)""",
            "DELETE FROM derived_facts WHERE name = 'site_month_bills'",
        ],
    ),
    (
        7,
        "hardening: a forgotten ingest is undone by a new ledger entry; what a reader noticed is kept",
        [
            # An entry of format 'cli:ledger forget' removed the rows and quarantine of the entry
            # ``forgets`` names (evrevops.warehouse.forget); that entry stays, as a record of what was read.
            "ALTER TABLE ingest_ledger ADD COLUMN forgets BIGINT",
            # What the reader noticed beside the counts (e.g. a charger's clock jump), one per line.
            "ALTER TABLE ingest_ledger ADD COLUMN notes VARCHAR",
        ],
    ),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]


@dataclass(frozen=True)
class TableSpec:
    """How ingest writes one table.

    Attributes
    ----------
    name : str
        Warehouse table.
    key : tuple[str, ...]
        Natural key.  A row whose key exists is a duplicate, a replacement or
        (for ``mode='insert_missing'``) ignored.
    version : str or None
        Column that orders versions of the same key (e.g. OCPI ``last_updated``):
        a newer version replaces the stored row, an equal or older one is a
        duplicate.  Without it, an identical row is a duplicate and a differing
        row replaces the stored one (the newest file wins).
    mode : str
        ``'upsert'`` (the file is the authority for these rows) or
        ``'insert_missing'`` (rows implied by another record, e.g. a site known
        only from a CDR's location: added if absent; a stored row only has its empty
        columns filled, never overwritten).
    null_keeps : bool
        A NULL in an incoming row states nothing: the stored value is kept, and
        a row whose non-NULL values match the stored ones is a duplicate. For
        tables that several messages or files fill piece by piece (an OCPP
        StopTransaction logged in the file after its StartTransaction's; a
        Locations feed without opening times after the sites CSV gave them).
    time : str or None
        SQL of the instant a row dates (a ``TIMESTAMP``; ``0001-01-01`` for a row
        true since always), for tables the kept facts read: the ledger records
        the earliest over the rows an entry writes (``earliest_at``), and the
        refresh after it rebuilds from there (:mod:`evrevops.metrics.changes`).
    """

    name: str
    key: tuple[str, ...]
    version: str | None = None
    mode: str = "upsert"
    compare_exclude: tuple[str, ...] = field(default=("file_id", "source_record"))
    null_keeps: bool = False
    time: str | None = None


_WHOLE = "TIMESTAMP '0001-01-01'"  # a row true since always (TableSpec.time)

TABLES: dict[str, TableSpec] = {
    s.name: s
    for s in [
        TableSpec("customers", ("customer_id",)),
        TableSpec("sites", ("site_id",), null_keeps=True),
        TableSpec("chargers", ("charger_id",), null_keeps=True),
        TableSpec("ports", ("port_id",), null_keeps=True),
        TableSpec("sessions", ("session_id",), version="last_updated_at", time="started_at"),
        TableSpec(
            "status_events", ("charger_id", "connector_id", "observed_at", "status", "error_code"), time="observed_at"
        ),
        TableSpec(
            "meter_readings", ("charger_id", "connector_id", "observed_at", "measurand", "phase"), time="observed_at"
        ),
        TableSpec("heartbeats", ("charger_id", "observed_at"), time="observed_at"),
        TableSpec(
            "ocpp_transactions",
            ("charger_id", "transaction_id"),
            null_keeps=True,
            time=f"coalesce(started_at, ended_at, {_WHOLE})",
        ),
        TableSpec("driver_tariffs", ("tariff_id",), version="last_updated_at"),
        TableSpec("utility_tariffs", ("utility_tariff_id",)),
        TableSpec("contract_events", ("contract_id", "line_id", "event", "effective_on")),
        TableSpec(
            "site_facts",
            ("site_id", "effective_on"),
            null_keeps=True,
            time=f"coalesce(CAST(effective_on AS TIMESTAMP), {_WHOLE})",
        ),
        TableSpec(
            "port_placements",
            ("port_id", "site_id", "source", "observed_on"),
            null_keeps=True,
            time=f"coalesce(CAST(coalesce(observed_on, from_on) AS TIMESTAMP), {_WHOLE})",
        ),
        TableSpec("deals", ("deal_id",)),
        TableSpec("deal_stage_history", ("deal_id", "stage", "entered_on")),
        TableSpec("projects", ("project_id", "milestone")),
        TableSpec("incentives", ("incentive_id",)),
        TableSpec("incidents", ("incident_id",), time="started_at"),
        TableSpec("site_costs", ("cost_id",)),
    ]
}
