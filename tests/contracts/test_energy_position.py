"""Who holds a site's energy position, and what the operator recognizes from it: energy or a share."""

from __future__ import annotations

import datetime as dt
import shutil

from evrevops.contracts import energy_position as ep
from evrevops.contracts import revenue
from evrevops.formats import read
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from tests.finance import hand

JAN = dt.date(2025, 1, 1)


def _by_site(wh, month):
    return {r["site"]: r for r in revenue.by_stream(wh, month, by="site").to_pylist()}


def test_the_rule_and_what_is_recognized(tmp_path):
    w = open_warehouse(hand.warehouse(tmp_path))
    pos = dict(w.con.sql(f"SELECT site_id, energy_position FROM ({ep.positions_sql()})").fetchall())
    # H: CaaS without a share (the operator sells the energy); E: CaaS with a 15 % share; W: a hardware sale
    assert pos == {"H": "operator", "E": "customer", "W": "customer"}
    jan = _by_site(w, JAN)
    assert (jan["H"]["energy_minor"], jan["H"]["energy_share_minor"]) == (2_000, 0)
    # E's $100.00 session is the host's; the operator's share runs from 11 January: 10,000 × 15 % × 21/31
    assert (jan["E"]["energy_minor"], jan["E"]["energy_share_minor"], jan["E"]["caas_minor"]) == (0, 1_016, 10_161)
    assert jan["E"]["recurring_minor"] == 10_161 + 1_016
    dec = _by_site(w, dt.date(2024, 12, 1))
    assert dec["W"]["hardware_minor"] == 1_000_000  # delivered 15 December
    w.close()


def test_the_sites_csv_states_it(tmp_path):
    db = tmp_path / "w.duckdb"
    shutil.copy(hand.warehouse(tmp_path), db)
    # site facts are dated: the override takes effect from 1 January 2025 (the v6 sites CSV's effective_on)
    (tmp_path / "override.csv").write_text(
        "site_id,segment,revenue_model,energy_position,effective_on,time_zone,port_id\n"
        "H,public_dc,caas,customer,2025-01-01,America/Chicago,H1\n"
        "W,fleet,hardware_sale,landlord,2025-01-01,America/Chicago,W1\n"
    )
    b = read(tmp_path / "override.csv")
    assert [(r["source_record"], r["field"], r["reason"]) for r in b.quarantine.to_pylist()] == [
        (3, "energy_position", "energy_position must be one of operator|customer, got 'landlord'")
    ]
    w = open_warehouse(db)
    ingest_file(w, tmp_path / "override.csv")
    jan = _by_site(w, JAN)
    assert jan["H"]["energy_minor"] == 0  # the host sells H's energy now
    assert jan["H"]["caas_minor"] == 200_000
    w.close()


def test_an_undated_change_of_the_sites_csv_leaves_earlier_months_alone(tmp_path):
    db = tmp_path / "w.duckdb"
    shutil.copy(hand.warehouse(tmp_path), db)
    # without effective_on, a changed fact takes effect from the first day of the current month:
    # January 2025 stays as it was (the operator sells H's energy: $20.00)
    (tmp_path / "override.csv").write_text(
        "site_id,segment,revenue_model,energy_position,time_zone,port_id\nH,public_dc,caas,customer,America/Chicago,H1\n"
    )
    w = open_warehouse(db)
    assert ingest_file(w, tmp_path / "override.csv").quarantined == 0
    jan = _by_site(w, JAN)
    assert (jan["H"]["energy_minor"], jan["H"]["caas_minor"]) == (2_000, 200_000)
    # what the site is now: the customer's position (its latest facts)
    pos = dict(w.con.sql(f"SELECT site_id, energy_position FROM ({ep.positions_sql()})").fetchall())
    assert pos["H"] == "customer"
    on_jan = dict(
        w.con.sql(f"SELECT site_id, energy_position FROM ({ep.positions_sql(on=dt.date(2025, 1, 31))})").fetchall()
    )
    assert on_jan["H"] == "operator"
    w.close()


def test_an_amended_caas_line_shares_once(tmp_path):
    db = tmp_path / "w.duckdb"
    shutil.copy(hand.warehouse(tmp_path), db)
    # E's CaaS line (1 port, $150, 15 % share from 11 January) amended under its own id to 2 ports on 15 February
    (tmp_path / "amend.csv").write_text(
        "contract_id,line_id,customer_id,site_id,line_type,event,effective_on,ports\nK-E,L4,CE,E,caas,amend,2025-02-15,2\n"
    )
    w = open_warehouse(db)
    assert ingest_file(w, tmp_path / "amend.csv").quarantined == 0
    feb = _by_site(w, dt.date(2025, 2, 1))
    # the share runs all February over the two intervals (14 + 14 days): 8,000 × 15 % = 1,200, neither doubled
    # nor lost; the fee: 15,000 × 14/28 + 30,000 × 14/28 = 7,500 + 15,000
    assert (feb["E"]["energy_share_minor"], feb["E"]["caas_minor"]) == (1_200, 22_500)
    w.close()
