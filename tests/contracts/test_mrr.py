"""MRR and its movements by hand, and the movement identity for any contract history."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evrevops.contracts import mrr
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file

HEADER = "contract_id,line_id,customer_id,site_id,revenue_model,line_type,event,effective_on,end_on,ports,unit_price,currency,billing_period"
ROWS = [
    # A: 10 software ports from 15 January (annual billing: MRR is still per month), +5 from 10 March, the 5 end 10 May
    "KA,L3,A,SA,hardware_sale,software,new,2025-01-15,2026-01-15,10,30.00,USD,annual",
    "KA,L3-A1,A,SA,hardware_sale,software,amend,2025-03-10,2025-05-10,5,30.00,USD,annual",
    # B: CaaS since 2024, cancelled 20 February, back on 5 April with 2 ports
    "KB,L4,B,SB,caas,caas,new,2024-06-01,2025-02-20,4,100.00,USD,monthly",
    "KB,L4-X,B,SB,caas,caas,cancel,2025-02-20,2025-02-20,4,100.00,USD,monthly",
    "KB2,L4,B,SB,caas,caas,new,2025-04-05,2032-04-05,2,100.00,USD,monthly",
    # C: maintenance from the last day of March (in force at the month's end)
    "KC,L5,C,SC,hardware_sale,maintenance,new,2025-03-31,,3,50.00,USD,annual",
    # one-time lines are not recurring
    "KC,L1,C,SC,hardware_sale,hardware,new,2025-03-01,,,9000.00,USD,one_time",
]
CUSTOMERS = "customer_id,name,segment\nA,Alpha Fleet,fleet\nB,Beta Plaza,public_dc\nC,Gamma Campus,commercial\n"


def write_files(folder) -> list:
    """The hand-built customers and contracts as files in *folder* (also used by other tests)."""
    (folder / "customers.csv").write_text(CUSTOMERS)
    (folder / "contracts.csv").write_text(HEADER + "\n" + "\n".join(ROWS) + "\n")
    return [folder / "customers.csv", folder / "contracts.csv"]


def load(folder):
    """A warehouse in *folder* holding the hand-built customers and contracts."""
    w = open_warehouse(folder / "w.duckdb")
    for f in write_files(folder):
        assert ingest_file(w, f).quarantined == 0
    return w


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    w = load(tmp_path_factory.mktemp("mrr"))
    yield w
    w.close()


def _by(wh, month, by="customer"):
    key = "scope" if by == "network" else by
    return {r[key]: r for r in mrr.movements(wh, month, by).to_pylist()}


def _mv(r):
    return tuple(r[c] for c in mrr.COLUMNS)


def test_movements_by_hand(wh):
    feb = _by(wh, dt.date(2025, 2, 1))
    assert _mv(feb["A"]) == (
        30000,
        0,
        0,
        0,
        0,
        0,
        30000,
    )  # start, new, expansion, contraction, churn, reactivation, end
    assert _mv(feb["B"]) == (40000, 0, 0, 0, 40000, 0, 0)  # churned on 20 February
    mar = _by(wh, dt.date(2025, 3, 1))
    assert _mv(mar["A"]) == (30000, 0, 15000, 0, 0, 0, 45000)
    assert _mv(mar["C"]) == (0, 15000, 0, 0, 0, 0, 15000)  # new: in force on 31 March
    assert "B" not in mar or _mv(mar["B"])[-1] == 0
    apr = _by(wh, dt.date(2025, 4, 1))
    assert _mv(apr["B"]) == (0, 0, 0, 0, 0, 20000, 20000)  # back after an earlier month with MRR: reactivation
    may = _by(wh, dt.date(2025, 5, 1))
    assert _mv(may["A"]) == (45000, 0, 0, 15000, 0, 0, 30000)
    net = _by(wh, dt.date(2025, 3, 1), "network")["network"]
    assert _mv(net) == (30000, 15000, 15000, 0, 0, 0, 60000) and net["arr_end"] == 720000
    seg = _by(wh, dt.date(2025, 4, 1), "segment")
    assert seg["public_dc"]["reactivation"] == 20000 and seg["commercial"]["mrr_end"] == 15000
    streams = _by(wh, dt.date(2025, 3, 1), "stream")
    assert streams["maintenance"]["new"] == 15000 and streams["software"]["expansion"] == 15000


def test_logo_and_revenue_churn_by_hand(wh):
    feb = _by(wh, dt.date(2025, 2, 1), "network")["network"]
    # A (30,000) and B (40,000) had MRR at the end of January; B churned
    assert (feb["accounts_start"], feb["accounts_churned"], feb["logo_churn"]) == (2, 1, 0.5)
    assert feb["revenue_churn"] == 40000 / 70000
    may = _by(wh, dt.date(2025, 5, 1), "network")["network"]
    # A's 5 extra ports end (contraction 15,000) against A 45,000 + B 20,000 + C 15,000: no logo lost
    assert (may["accounts_start"], may["logo_churn"], may["revenue_churn"]) == (3, 0.0, 15000 / 80000)


def test_cohorts_are_quarters_of_first_recurring_contract(wh):
    mar = _by(wh, dt.date(2025, 3, 1), "cohort")
    assert set(mar) == {"2025Q1"}  # A (15 January) and C (31 March); B (2024Q2) has no MRR then
    assert (mar["2025Q1"]["mrr_end"], mar["2025Q1"]["new"]) == (60000, 15000)
    jun = _by(wh, dt.date(2025, 6, 1), "cohort")
    assert (jun["2024Q2"]["nrr"], jun["2024Q2"]["grr"]) == (0.5, 0.5) and jun["2025Q1"]["nrr"] is None


def test_nrr_and_grr_by_hand(wh):
    # June 2025 against June 2024: only B had MRR then (40,000, its first month); it has 20,000 now
    jun = _by(wh, dt.date(2025, 6, 1), "network")["network"]
    assert (jun["nrr"], jun["grr"]) == (0.5, 0.5)
    assert _by(wh, dt.date(2025, 6, 1))["A"]["nrr"] is None  # no MRR a year ago
    assert _by(wh, dt.date(2025, 4, 1), "network")["network"]["nrr"] is None  # B started in June 2024


contract = st.tuples(
    st.sampled_from(["K1", "K2", "K3", "K4"]), st.integers(0, 700), st.integers(1, 400), st.booleans(),
    st.integers(1, 20), st.integers(1, 50_000), st.sampled_from(["software", "caas", "maintenance"]),
)  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(contract, min_size=1, max_size=12), month=st.integers(0, 30))
def test_the_movement_identity_and_bounds_hold_for_any_history(tmp_path_factory, rows, month):
    w = open_warehouse(tmp_path_factory.mktemp("p") / "w.duckdb")
    base = dt.date(2023, 1, 1)
    for i, (cust, start, length, open_ended, ports, price, line) in enumerate(rows):
        s = base + dt.timedelta(days=start)
        w.con.execute(
            """INSERT INTO contracts (contract_id, line_id, customer_id, line_type, event, effective_on, end_on, ports,
                                      unit_price_minor, currency) VALUES (?, ?, ?, ?, 'new', ?, ?, ?, ?, 'USD')""",
            [f"C{i}", "L", cust, line, s, None if open_ended else s + dt.timedelta(days=length), ports, price],
        )
    m = dt.date(2023 + month // 12, month % 12 + 1, 1)
    for by in mrr.BY:
        for r in mrr.movements(w, m, by).to_pylist():
            assert (
                r["mrr_end"]
                == r["mrr_start"] + r["new"] + r["expansion"] + r["reactivation"] - r["contraction"] - r["churn"]
            )
            assert all(r[c] >= 0 for c in mrr.COLUMNS)
            if r["grr"] is not None:
                assert 0 <= r["grr"] <= 1 and r["grr"] <= r["nrr"]
            if r["logo_churn"] is not None:
                assert 0 <= r["logo_churn"] <= 1 and 0 <= r["revenue_churn"] <= 1
                assert r["accounts_churned"] <= r["accounts_start"]
    net = mrr.movements(w, m, "network").to_pylist()
    cust = mrr.movements(w, m, "customer").to_pylist()
    for c in mrr.COLUMNS:
        assert sum(r[c] for r in net) == sum(r[c] for r in cust)
    w.close()
