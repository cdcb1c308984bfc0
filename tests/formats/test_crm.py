"""CRM exports through their mappings: Salesforce opportunities and history, HubSpot deals with stage dates."""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.formats import detect, read
from evrevops.formats.crm import crm_mappings, load_mapping
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file


def _q(batch):
    return {(r["source_record"], r["field"]): r["reason"] for r in batch.quarantine.to_pylist()}


def test_salesforce_opportunities(fixtures):
    p = fixtures / "crm" / "salesforce_opportunities.csv"
    assert detect(p) == ("crm-csv", "salesforce")
    b = read(p)
    d = {r["deal_id"]: r for r in b.tables["deals"].to_pylist()}
    assert set(d) == {"0065g00000AAAA1", "0065g00000AAAA2", "0065g00000AAAA3", "0065g00000AAAA4"}
    won = d["0065g00000AAAA1"]
    assert (won["stage"], won["probability_pct"], won["segment"], won["revenue_model"]) == (
        "closed_won",
        100,
        "fleet",
        "caas",
    )
    # US dates; a closed deal's Close Date is its close; "$24,000.00" → 2,400,000 cents; USD by default
    assert (won["expected_close_on"], won["closed_on"], won["created_on"]) == (
        dt.date(2024, 5, 1), dt.date(2024, 5, 1), dt.date(2024, 1, 10)
    )  # fmt: skip
    assert (won["caas_arr_minor"], won["currency"], won["economic_buyer_engaged"]) == (2_400_000, "USD", True)
    lost = d["0065g00000AAAA2"]
    assert (lost["hardware_minor"], lost["installation_minor"], lost["caas_arr_minor"]) == (4_000_000, 1_200_000, None)
    assert d["0065g00000AAAA3"]["closed_on"] is None and d["0065g00000AAAA3"]["stage"] == "negotiation"
    assert d["0065g00000AAAA4"]["stage"] == "proposal"  # Perception Analysis
    assert _q(b) == {
        (6, "Stage"): "stage must be one of prospect|qualified|proposal|negotiation|closed_won|closed_lost, got "
        "'Site Visit' (no entry for it in [values.stage] of CRM mapping salesforce)",
        (7, "Close Date"): "not a date: '13/45/2025' (not in the formats of CRM mapping salesforce: %m/%d/%Y, "
        "%Y-%m-%d, %m/%d/%Y %I:%M %p)",
    }
    assert b.records_read == 6


def test_salesforce_stage_history(fixtures):
    p = fixtures / "crm" / "salesforce_history.csv"
    assert detect(p) == ("crm-csv", "salesforce_history")
    h = read(p).tables["deal_stage_history"].to_pylist()
    assert len(h) == 8
    assert [(r["stage"], r["entered_on"]) for r in h if r["deal_id"] == "0065g00000AAAA2"] == [
        ("prospect", dt.date(2024, 2, 1)), ("closed_lost", dt.date(2024, 4, 1))
    ]  # fmt: skip


def test_hubspot_deals_carry_their_stage_history(fixtures):
    p = fixtures / "crm" / "hubspot_deals.csv"
    assert detect(p) == ("crm-csv", "hubspot")
    b = read(p)
    d = {r["deal_id"]: r for r in b.tables["deals"].to_pylist()}
    assert set(d) == {"9001", "9002", "9003"}
    assert (d["9002"]["probability_pct"], d["9001"]["closed_on"], d["9003"]["stage"]) == (
        20, dt.date(2024, 8, 1), "closed_lost"
    )  # fmt: skip
    h = b.tables["deal_stage_history"].to_pylist()
    assert [r["stage"] for r in h if r["deal_id"] == "9001"] == [
        "prospect", "qualified", "proposal", "negotiation", "closed_won"
    ]  # fmt: skip
    assert len(h) == 10
    # 9004's "Date entered" is "yesterday": the whole record is quarantined, history included
    assert _q(b) == {
        (
            5,
            'Date entered "Qualified To Buy (Sales Pipeline)"',
        ): "not a date in the formats of the CRM mapping: yesterday"
    }
    assert not any(r["deal_id"] == "9004" for r in h)


def test_ingest_counts_and_the_funnel_reads_them(fixtures, tmp_path):
    from evrevops.pipeline import funnel

    w = open_warehouse(tmp_path / "w.duckdb")
    r = ingest_file(w, fixtures / "crm" / "hubspot_deals.csv")
    assert (r.records_read, r.accepted, r.quarantined) == (4, 3, 1)
    assert w.count("deal_stage_history") == 10
    s = {x["stage"]: x for x in funnel.stages(w, as_of=dt.date(2025, 6, 30)).to_pylist()}
    assert (s["qualified"]["entered"], s["qualified"]["win_probability"]) == (3, 0.5)
    w.close()


def test_mappings_are_listed_and_unknown_ones_fail():
    assert {n for n, _ in crm_mappings()} == {"salesforce", "salesforce_history", "hubspot"}
    with pytest.raises(ValueError, match="unknown CRM mapping"):
        load_mapping("pipedrive")
