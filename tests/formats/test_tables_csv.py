"""evrevops' own CSV formats: one declarative engine; every reader on a good and a bad file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evrevops.core.money import to_minor
from evrevops.formats import detect, limits, read
from evrevops.formats.base import FormatError
from evrevops.formats.sites_csv import read_sites
from evrevops.formats.tables_csv import (
    NEVI_EXCLUDABLE_CAUSES,
    read_contracts,
    read_deals,
    read_incidents,
)
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file


def qmap(batch) -> dict[tuple[int, str | None], str]:
    return {(r["source_record"], r["field"]): r["reason"] for r in batch.quarantine.to_pylist()}


def rows(batch, table: str) -> list[dict]:
    return batch.tables[table].to_pylist()


# ---- detection and the good files -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt", "table", "n"),
    [
        ("sites_good.csv", "sites-csv", "ports", 4),
        ("customers_good.csv", "customers-csv", "customers", 2),
        ("contracts_good.csv", "contracts-csv", "contract_events", 5),
        ("deal_stages_good.csv", "deal-stages-csv", "deal_stage_history", 3),
        ("projects_good.csv", "projects-csv", "projects", 3),
        ("incentives_good.csv", "incentives-csv", "incentives", 2),
        ("incidents_good.csv", "incidents-csv", "incidents", 4),
        ("costs_good.csv", "costs-csv", "site_costs", 3),
        ("deals_bad.csv", "deals-csv", "deals", 1),
    ],
)
def test_good_files_are_detected_and_read_whole(fixtures, name, fmt, table, n):
    p = fixtures / "csv" / name
    assert detect(p) == (fmt, None)
    b = read(p)
    assert b.format == fmt
    assert b.tables[table].num_rows == n
    if "good" in name:
        assert b.quarantine.num_rows == 0, b.quarantine.to_pylist()
        assert b.records_read == n


def test_full_deals_header_is_detected_as_deals(fixtures):
    assert detect(fixtures / "csv" / "deals_good.csv") == ("deals-csv", None)


# ---- sites ------------------------------------------------------------------------------------


def test_sites_good_three_tables(fixtures):
    b = read(fixtures / "csv" / "sites_good.csv")
    assert b.records_read == 4  # the blank line 5 is not a record
    sites = {s["site_id"]: s for s in rows(b, "sites")}
    assert set(sites) == {"DEN-1", "NYC-7"}
    den = sites["DEN-1"]
    # line 4 leaves the site columns empty (or restates them, in another letter case): the site is line 2's
    assert den == {
        "site_id": "DEN-1",
        "name": "Denver Depot",
        "customer_id": "CUST-1",
        "time_zone": "America/Denver",
        "operating_hours": "Mo-Fr 05:00-23:00; Sa 22:00-02:00",
        "address": "100 Main St",
        "city": "Denver",
        "state": "CO",
        "postal_code": "80202",
        "country": "USA",
        "latitude": 39.7392,
        "longitude": -104.9903,
        "source_record": 2,
    }
    assert sites["NYC-7"]["name"] == "Hudson Yards, Level 2" and sites["NYC-7"]["source_record"] == 6
    # the facts that change over time go to site_facts, undated (since always, for a new site)
    facts = {f["site_id"]: f for f in rows(b, "site_facts")}
    assert facts["DEN-1"] == {
        "site_id": "DEN-1",
        "segment": "fleet",
        "revenue_model": "caas",
        "utility_tariff_id": "6757525f259975f54b0eccbf",
        "grid_capacity_kw": 500.0,
        "source_record": 2,
        "effective_on": None,
    }
    assert rows(b, "chargers") == [
        {"charger_id": "DEN-1-CP1", "site_id": "DEN-1", "vendor": "ABB", "model": "Terra 184", "source_record": 2},
        {"charger_id": "DEN-1-CP2", "site_id": "DEN-1", "vendor": "ChargePoint", "model": "CPF50", "source_record": 4},
        {"charger_id": "NYC-7-CP1", "site_id": "NYC-7", "vendor": "Tritium", "model": "RTM75", "source_record": 6},
    ]
    ports = {p["port_id"]: p for p in rows(b, "ports")}
    assert [p["source_record"] for p in rows(b, "ports")] == [2, 3, 4, 6]
    assert ports["DEN-1-P2"] == {
        "port_id": "DEN-1-P2",
        "site_id": "DEN-1",
        "charger_id": "DEN-1-CP1",
        "connector_id": 2,
        "power_type": "DC",
        "connector_standard": "IEC_62196_T1_COMBO",
        "rated_kw": 180.0,
        "commissioned_on": dt.date(2024, 1, 15),
        "decommissioned_on": dt.date(2025, 6, 1),
        "source_record": 3,
    }
    assert ports["DEN-1-P3"]["power_type"] == "AC_1_PHASE" and ports["DEN-1-P3"]["rated_kw"] == 7.2
    assert str(b.tables["ports"].schema.field("connector_id").type) == "int32"
    assert str(b.tables["ports"].schema.field("commissioned_on").type) == "date32[day]"


def test_sites_bad(fixtures):
    b = read(fixtures / "csv" / "sites_bad.csv")
    assert b.records_read == 17
    split = "rows of site 'S3' disagree on segment: 'fleet' (line 10), 'commercial' (line 11)"
    twin = "connector 1 of charger 'C14' is claimed by more than one port: 'P14a' (line 16), 'P14b' (line 17)"
    assert qmap(b) == {
        (3, "segment"): "segment must be one of fleet|commercial|public_dc|residential, got 'retail'",
        (4, "time_zone"): "not an IANA time zone: 'Mars/Olympus'",
        (5, "operating_hours"): "not valid operating hours: not a time HH:MM in 'Mo-Fr 8-18': '8'",
        (6, "rated_kw"): "rated_kw must be > 0, got '0'",
        (7, "decommissioned_on"): "decommissioned_on 2024-02-01 is not after commissioned_on 2024-02-01",
        (8, "commissioned_on"): "not a date: '2025-13-01'",
        (9, "port_id"): "missing port_id",
        (10, "segment"): split,
        (11, "segment"): split,
        (12, None): "malformed CSV row: 13 fields expected, 3 found",
        (13, "connector_id"): "not an integer: 'one'",
        (14, "power_type"): "power_type must be one of AC_1_PHASE|AC_3_PHASE|DC, got 'AC'",
        (15, "latitude"): "latitude must be <= 90, got '95.5'",
        (16, "connector_id"): twin,
        (17, "connector_id"): twin,
        (18, "site_id"): "missing site_id",
    }
    assert [r["raw"] for r in b.quarantine.to_pylist() if r["source_record"] == 3] == [
        "S2,Retail,retail,America/Denver,,,C2,P2,1,DC,50,,"
    ]
    assert [s["site_id"] for s in rows(b, "sites")] == ["S1"]
    assert [p["port_id"] for p in rows(b, "ports")] == ["P1"]
    assert [c["charger_id"] for c in rows(b, "chargers")] == ["C1"]


def test_sites_conflicts_on_charger_and_port(tmp_path):
    p = tmp_path / "sites.csv"
    p.write_text(
        "site_id,segment,time_zone,charger_id,charger_vendor,port_id,rated_kw\n"
        "S1,fleet,UTC,C1,ABB,P1,50\n"
        "S1,fleet,UTC,C1,Tritium,P2,50\n"
        "S2,fleet,UTC,C2,,P3,50\n"
        "S2,fleet,UTC,C2,,P3,75\n"
        "S3,fleet,UTC,C3,,P4,22\n"
        "S3,fleet,UTC,C3,,P4,22\n"
    )
    b = read_sites(p)
    assert qmap(b) == {
        (2, "charger_vendor"): "rows of charger 'C1' disagree on charger_vendor: 'ABB' (line 2), 'Tritium' (line 3)",
        (3, "charger_vendor"): "rows of charger 'C1' disagree on charger_vendor: 'ABB' (line 2), 'Tritium' (line 3)",
        (4, "rated_kw"): "rows of port 'P3' disagree on rated_kw: '50.0' (line 4), '75.0' (line 5)",
        (5, "rated_kw"): "rows of port 'P3' disagree on rated_kw: '50.0' (line 4), '75.0' (line 5)",
    }
    # an identical repeat is fine: both rows are written and the loader counts the second a duplicate
    assert [(r["port_id"], r["source_record"]) for r in rows(b, "ports")] == [("P4", 6), ("P4", 7)]
    assert [(r["site_id"], r["source_record"]) for r in rows(b, "sites")] == [("S3", 6)]


def test_sites_a_column_empty_everywhere_is_not_written(tmp_path):
    p = tmp_path / "sites.csv"
    p.write_text(
        "\ufeffsite_id,Segment , time_zone,address,grid_capacity_kw,unknown_col,port_id,decommissioned_on\n"
        "S1,Fleet,Europe/London,,,whatever,P1,\n"
    )
    b = read_sites(p)
    assert b.quarantine.num_rows == 0
    assert b.tables["sites"].column_names == ["site_id", "time_zone", "source_record"]
    assert b.tables["site_facts"].column_names == ["site_id", "segment", "source_record", "effective_on"]
    assert b.tables["ports"].column_names == ["port_id", "site_id", "source_record"]
    assert "chargers" not in b.tables
    assert rows(b, "site_facts")[0]["segment"] == "fleet"


def test_missing_required_column_and_duplicate_header(tmp_path):
    p = tmp_path / "sites.csv"
    p.write_text("site_id,segment,port_id\nS1,fleet,P1\n")
    with pytest.raises(FormatError, match="missing required column.*time_zone"):
        read(p, "sites-csv")
    p.write_text("site_id,segment,time_zone,port_id,segment\nS1,fleet,UTC,P1,fleet\n")
    with pytest.raises(FormatError, match="appears twice"):
        read(p, "sites-csv")
    p.write_text("")
    with pytest.raises(FormatError, match="no CSV header"):
        read(p, "sites-csv")


def test_quoted_field_spanning_lines(tmp_path):
    p = tmp_path / "customers.csv"
    p.write_text('customer_id,name,segment\nC1,"Two\nlines",fleet\nC2,Bad,retail\n')
    b = read(p)
    assert [r["name"] for r in rows(b, "customers")] == ["Two\nlines"]
    # when a record spans lines, records are numbered consecutively (line 3 is the second record)
    assert qmap(b) == {(3, "segment"): "segment must be one of fleet|commercial|public_dc|residential, got 'retail'"}


def test_sites_csv_ingests_with_counts(tmp_path, fixtures):
    wh = open_warehouse(tmp_path / "w.duckdb")
    r = ingest_file(wh, fixtures / "csv" / "sites_good.csv")
    assert (r.records_read, r.accepted, r.duplicate, r.quarantined) == (4, 4, 0, 0)
    assert wh.count("sites") == 2 and wh.count("chargers") == 3 and wh.count("ports") == 4
    r = ingest_file(wh, fixtures / "csv" / "sites_bad.csv")
    assert (r.records_read, r.accepted, r.quarantined) == (17, 1, 16)
    wh.close()


# ---- customers, contracts, deals, stages, projects, incentives, incidents ------------------------


def test_customers(fixtures):
    b = read(fixtures / "csv" / "customers_good.csv")
    assert rows(b, "customers") == [
        {
            "customer_id": "CUST-1",
            "name": "Acme Fleet",
            "segment": "fleet",
            "revenue_model": "caas",
            "country": "USA",
            "currency": "USD",
            "billing_email": "ap@acme.example",
            "created_on": dt.date(2023, 5, 1),
            "source_record": 2,
        },
        {
            "customer_id": "CUST-2",
            "name": "Metro Parking, Inc.",
            "segment": "commercial",
            "revenue_model": None,
            "country": "USA",
            "currency": "USD",
            "billing_email": None,
            "created_on": None,
            "source_record": 3,
        },
    ]
    b = read(fixtures / "csv" / "customers_bad.csv")
    assert qmap(b) == {
        (3, "name"): "missing name",
        (4, "segment"): "segment must be one of fleet|commercial|public_dc|residential, got 'retail'",
        (5, "revenue_model"): "revenue_model must be one of hardware_sale|caas|software_only, got 'lease'",
        (6, "currency"): "not an ISO-4217 currency: 'US'",
        (7, "billing_email"): "billing_email must look like an e-mail address (name@domain), got 'nobody'",
        (8, "created_on"): "not a date: '2023-02-30'",
    }
    assert [c["customer_id"] for c in rows(b, "customers")] == ["CUST-1"]


def test_contracts_money_is_exact(fixtures):
    b = read(fixtures / "csv" / "contracts_good.csv")
    got = {(r["contract_id"], r["line_id"]): r for r in rows(b, "contract_events")}
    assert got[("K1", "L1")]["unit_price_minor"] == 13  # 0.125 USD rounds half up to 13 cents
    assert got[("K1", "L2")]["unit_price_minor"] == 1235  # 12.345 USD
    assert got[("K2", "L1")]["unit_price_minor"] == 1501  # 1500.5 JPY (no minor unit)
    assert got[("K3", "L1")]["unit_price_minor"] == 1235  # 1.2345 KWD (3 decimals) → 1.235
    assert got[("K4", "L1")]["unit_price_minor"] is None and got[("K4", "L1")]["event"] == "cancel"
    k1 = got[("K1", "L1")]
    assert (k1["energy_share_pct"], k1["sla_uptime_pct"], k1["sla_credit_schedule"]) == (
        "10.5",
        "97.5",
        "97:5;95:10;90:25",
    )
    assert (k1["ports"], k1["term_months"], k1["end_on"]) == (3, 60, dt.date(2029, 1, 14))
    assert got[("K1", "L2")]["quantity"] == 2.0
    assert "unit_price" not in b.tables["contract_events"].column_names
    assert str(b.tables["contract_events"].schema.field("unit_price_minor").type) == "int64"


def test_contracts_bad(fixtures):
    b = read(fixtures / "csv" / "contracts_bad.csv")
    assert qmap(b) == {
        (3, "line_type"): "line_type must be one of hardware|installation|software|caas|maintenance, got 'lease'",
        (4, "unit_price"): "not a decimal amount: '12,50'",
        (5, "currency"): "unit_price needs a currency",
        (6, "effective_on"): "missing effective_on",
        (7, "end_on"): "end_on 2024-01-14 is before effective_on 2024-01-15",
        (8, "sla_credit_schedule"): (
            "sla_credit_schedule must look like '97:5;95:10;90:25' (uptime_below:credit_pct pairs), got 'five percent'"
        ),
        (9, "sla_uptime_pct"): "sla_uptime_pct must be <= 100, got '101'",
        (10, "ports"): "ports must be >= 0, got '-1'",
        (11, "unit_price"): "unit_price must be >= 0, got '-5'",
        (12, "event"): "event must be one of new|amend|renew|cancel, got 'expand'",
    }
    assert [r["unit_price_minor"] for r in rows(b, "contract_events")] == [9900]


def test_deals(fixtures):
    b = read(fixtures / "csv" / "deals_good.csv", "deals-csv")
    assert b.quarantine.num_rows == 0
    d1, d2, d3 = rows(b, "deals")
    assert (d1["hardware_minor"], d1["installation_minor"], d1["software_arr_minor"], d1["caas_arr_minor"]) == (
        25_000_001,  # 250000.005 rounds half up
        4_000_000,
        13,
        12_000_000,
    )
    assert (d1["economic_buyer_engaged"], d1["utility_capacity_confirmed"], d1["roi_case_delivered"]) == (
        True,
        True,
        True,
    )
    assert (d2["economic_buyer_engaged"], d2["utility_capacity_confirmed"], d2["roi_case_delivered"]) == (
        False,
        False,
        False,
    )
    assert d2["installation_minor"] == 250_050 and d2["currency"] == "EUR" and d2["closed_on"] == dt.date(2024, 6, 15)
    assert d1["probability_pct"] == 60.0 and d1["ports"] == 12 and d1["incentive_status"] == "applied"
    assert d3["expected_close_on"] == dt.date(2025, 12, 31) and d3["hardware_minor"] is None
    b = read(fixtures / "csv" / "deals_bad.csv")
    assert qmap(b) == {
        (3, "stage"): "stage must be one of prospect|qualified|proposal|negotiation|closed_won|closed_lost, got 'won'",
        (4, "expected_close_on"): "missing expected_close_on",
        (5, "probability_pct"): "probability_pct must be <= 100, got '140'",
        (6, "hardware_amount"): "not a decimal amount: '1e3'",
        (7, "economic_buyer_engaged"): "not a boolean (true/false, yes/no, 1/0): 'maybe'",
        (8, "closed_on"): "closed_on 2024-04-30 is before created_on 2024-05-01",
        (9, "incentive_status"): "incentive_status must be one of none|applied|awarded|denied, got 'pending'",
    }


def test_deal_stages(fixtures):
    b = read(fixtures / "csv" / "deal_stages_good.csv")
    assert [(r["stage"], r["entered_on"]) for r in rows(b, "deal_stage_history")] == [
        ("prospect", dt.date(2024, 9, 1)),
        ("qualified", dt.date(2024, 10, 15)),
        ("negotiation", dt.date(2025, 1, 20)),
    ]
    b = read(fixtures / "csv" / "deal_stages_bad.csv")
    assert qmap(b) == {
        (3, "entered_on"): "not a date: '15/10/2024'",
        (4, "stage"): "missing stage",
        (5, "deal_id"): "missing deal_id",
        (
            6,
            "stage",
        ): "stage must be one of prospect|qualified|proposal|negotiation|closed_won|closed_lost, got 'signed'",
    }


def test_projects(fixtures):
    b = read(fixtures / "csv" / "projects_good.csv")
    assert [
        (r["milestone"], r["budget_minor"], r["actual_cost_minor"], r["actual_on"]) for r in rows(b, "projects")
    ] == [
        ("site_survey", 150_000, 145_075, dt.date(2024, 7, 3)),
        ("installation", 8_000_000, None, None),
        ("commissioning", None, None, None),
    ]
    b = read(fixtures / "csv" / "projects_bad.csv")
    assert qmap(b) == {
        (
            3,
            "milestone",
        ): "milestone must be one of site_survey|make_ready|permits|installation|commissioning, got 'groundbreaking'",
        (4, "currency"): "budget needs a currency",
        (5, "planned_on"): "not a date: 'July 2024'",
        (6, "actual_cost"): "amount too large: '99999999999999999999'",
    }


def test_incentives(fixtures):
    b = read(fixtures / "csv" / "incentives_good.csv")
    i1, i2 = rows(b, "incentives")
    assert (i1["cap_minor"], i1["amount_minor"], i1["pct_of_eligible"]) == (15_000_000, 12_000_050, "80")
    assert i1["eligible_costs"] == "hardware;installation;make_ready" and i1["awarded_on"] == dt.date(2024, 3, 15)
    assert i2["kind"] == "tax_credit" and i2["amount_minor"] is None
    b = read(fixtures / "csv" / "incentives_bad.csv")
    assert qmap(b) == {
        (3, "kind"): "kind must be one of grant|tax_credit|rebate, got 'loan'",
        (4, "pct_of_eligible"): "pct_of_eligible must be <= 100, got '120'",
        (
            5,
            "eligible_costs",
        ): "eligible_costs must be ;-separated values of hardware|installation|make_ready, got 'hardware;land'",
        (6, "end_on"): "end_on 2024-05-31 is before start_on 2024-06-01",
        (7, "status"): "status must be one of applied|awarded|denied|paid, got 'pending'",
        (8, "program"): "missing program",
    }


def test_costs(fixtures):
    b = read(fixtures / "csv" / "costs_good.csv")
    k1, k2, k3 = rows(b, "site_costs")
    assert (k1["amount_minor"], k1["incurred_on"], k1["cost_type"]) == (1_200_050, dt.date(2025, 2, 10), "hardware")
    assert (k2["site_id"], k2["segment"], k2["rate_pct"], k2["amount_minor"]) == (None, "public_dc", "2.9", None)
    assert (k3["start_on"], k3["end_on"]) == (dt.date(2025, 1, 1), dt.date(2030, 1, 1))
    b = read(fixtures / "csv" / "costs_bad.csv")
    assert qmap(b) == {
        (2, "basis"): "capex (hardware) is one_time, not per_month",
        (3, "rate_pct"): "basis per_port_month takes amount, not rate_pct",
        (4, "site_id"): "needs site_id or segment",
        (5, "amount"): "needs amount or rate_pct",
        (6, "amount"): "basis pct_of_energy_revenue takes rate_pct, not amount",
        (7, "cost_type"): "cost_type must be one of hardware|installation|make_ready|network|maintenance|"
        "payment_processing|site_lease|other, got 'insurance'",
        (8, "end_on"): "end_on 2025-05-01 is before start_on 2025-06-01",
        (9, "basis"): "basis must be one of one_time|per_port_month|per_month|per_session|pct_of_energy_revenue, "
        "got 'weekly'",
    }
    assert b.records_read == 8 and b.tables["site_costs"].num_rows == 0


def test_incidents(fixtures):
    b = read(fixtures / "csv" / "incidents_good.csv")
    got = {r["incident_id"]: r for r in rows(b, "incidents")}
    assert got["I1"]["started_at"] == dt.datetime(2025, 3, 9, 7, 30) and got["I1"]["nevi_excludable"] is True
    assert got["I2"]["started_at"] == dt.datetime(2025, 3, 9, 7, 30) and got["I2"]["nevi_excludable"] is False
    assert got["I3"]["cause"] == "vandalism" and got["I3"]["nevi_excludable"] is True
    assert got["I3"]["ended_at"] == dt.datetime(2025, 3, 10, 10, 0) and got["I3"]["notes"] == "cable cut, replaced"
    assert (
        got["I4"]["started_at"] == dt.datetime(2025, 3, 11, 4, 0, 0, 500000) and got["I4"]["nevi_excludable"] is False
    )
    b = read(fixtures / "csv" / "incidents_bad.csv")
    causes = "|".join(
        NEVI_EXCLUDABLE_CAUSES + ("hardware_fault", "software_fault", "communication", "payment_system", "other")
    )
    assert qmap(b) == {
        (3, "started_at"): "instant without a UTC offset (ambiguous): '2025-03-09T07:30:00'",
        (4, "cause"): f"cause must be one of {causes}, got 'squirrel'",
        (5, "port_id"): "needs port_id, site_id or charger_id",
        (6, "ended_at"): "ended_at 2025-03-09 07:00:00 is before started_at 2025-03-09 07:30:00",
        (7, "started_at"): "not an ISO-8601 instant with an offset: 'yesterday'",
        (8, "cause"): "missing cause",
    }


@pytest.mark.parametrize("cause", NEVI_EXCLUDABLE_CAUSES)
def test_every_nevi_excludable_cause(tmp_path, cause):
    p = tmp_path / "incidents.csv"
    p.write_text(f"incident_id,port_id,started_at,cause\nI1,P1,2025-01-01T00:00:00Z,{cause}\n")
    assert rows(read_incidents(p), "incidents")[0]["nevi_excludable"] is True


def test_incidents_need_a_place_column(tmp_path):
    p = tmp_path / "incidents.csv"
    p.write_text("incident_id,started_at,cause\nI1,2025-01-01T00:00:00Z,vehicle\n")
    with pytest.raises(FormatError, match="port_id, site_id or charger_id"):
        read(p)


# ---- money: the same as to_minor, for any amount and currency ---------------------------------

# up to the money limit in force (10^10 major units, exclusive); beyond it an amount is refused (test below)
amounts = st.decimals(
    min_value=0, max_value=Decimal("9999999999.999999"), allow_nan=False, allow_infinity=False, places=6
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(amounts, st.sampled_from(["USD", "EUR", "JPY", "KWD", "CLP", "BHD"])), min_size=1, max_size=40)
)
def test_money_matches_to_minor(tmp_path, values):
    p = tmp_path / "contracts.csv"
    lines = ["contract_id,line_id,line_type,event,effective_on,unit_price,currency"]
    lines += [f"K{i},L1,software,new,2025-01-01,{amount},{cur}" for i, (amount, cur) in enumerate(values)]
    p.write_text("\n".join(lines) + "\n")
    b = read_contracts(p)
    assert b.quarantine.num_rows == 0
    assert b.tables["contract_events"].column("unit_price_minor").to_pylist() == [
        to_minor(str(a), c) for a, c in values
    ]


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("0.125", "USD", 13),
        ("0.124999", "USD", 12),
        ("0.005", "USD", 1),
        ("0.004999999999999999", "USD", 0),  # 18 decimal places: exact, no double rounding
        (".5", "JPY", 1),
        ("2.", "USD", 200),
        ("+1.0005", "KWD", 1001),
        ("0001.10", "EUR", 110),
        ("9999999999.99", "USD", 999999999999),  # just below the money limit
        ("92233720368547758.07", "USD", 9223372036854775807),  # the largest minor amount, under a raised limit
    ],
)
def test_money_edge_cases(tmp_path, text, currency, minor):
    p = tmp_path / "deals.csv"
    p.write_text(
        f"deal_id,stage,expected_close_on,currency,hardware_amount\nD1,prospect,2025-01-01,{currency},{text}\n"
    )
    with limits.using(max_money_major=Decimal(10) ** 17):
        (d,) = rows(read_deals(p), "deals")
    assert d["hardware_minor"] == minor == to_minor(text, currency)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1,000.00", "not a decimal amount: '1,000.00'"),
        ("$5", "not a decimal amount: '$5'"),
        ("NaN", "not a decimal amount: 'NaN'"),
        ("92233720368547758.08", "amount too large: '92233720368547758.08'"),
        ("0." + "1" * 19, "more than 18 decimal places: '0." + "1" * 19 + "'"),
    ],
)
def test_money_refused(tmp_path, text, reason):
    """Refused as text, whatever the money limit."""
    p = tmp_path / "deals.csv"
    p.write_text(f'deal_id,stage,expected_close_on,currency,hardware_amount\nD1,prospect,2025-01-01,USD,"{text}"\n')
    assert qmap(read_deals(p)) == {(2, "hardware_amount"): reason}
