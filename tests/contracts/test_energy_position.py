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
    (tmp_path / "override.csv").write_text(
        "site_id,segment,revenue_model,energy_position,time_zone,port_id\n"
        "H,public_dc,caas,customer,America/Chicago,H1\n"
        "W,fleet,hardware_sale,landlord,America/Chicago,W1\n"
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
