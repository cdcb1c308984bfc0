"""Revenue by stream, recognized per handbook §2, in exact cents; totals are the sums of their parts."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evrevops.contracts import revenue
from evrevops.core import vocabulary
from evrevops.core.calendar import add_months
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from tests.contracts import test_mrr as hand
from tests.uptime import test_sla as sla_case
from tests.uptime.network import hourly, ingest, status, write_network

D = dt.datetime


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    w = hand.load(tmp_path_factory.mktemp("revenue"))
    yield w
    w.close()


def _rows(wh, month, by="customer"):
    key = None if by == "network" else by
    return {r[key] if key else "network": r for r in revenue.by_stream(wh, month, by=by).to_pylist()}


def test_recognition_in_exact_cents(wh):
    jan = _rows(wh, dt.date(2025, 1, 1))
    # A: an annual subscription from 15 January is recognized a month at a time: 17 of 31 days of 10 × $30.00
    assert jan["A"]["software_minor"] == 16452  # 30,000 × 17/31 = 16,451.6 → 16,452
    feb = _rows(wh, dt.date(2025, 2, 1))
    assert feb["A"]["software_minor"] == 30000
    # B: CaaS cancelled on 20 February: 19 of 28 days of 4 × $100.00
    assert feb["B"]["caas_minor"] == 27143  # 40,000 × 19/28 = 27,142.9
    mar = _rows(wh, dt.date(2025, 3, 1))
    # A: + 5 ports from 10 March, prorated: 15,000 × 22/31 = 10,645.2
    assert mar["A"]["software_minor"] == 30000 + 10645
    # C: hardware at delivery (1 March), maintenance from 31 March: 15,000 × 1/31 = 483.9
    assert (mar["C"]["hardware_minor"], mar["C"]["maintenance_minor"]) == (900000, 484)
    apr = _rows(wh, dt.date(2025, 4, 1))
    assert apr["B"]["caas_minor"] == 17333  # back on 5 April: 20,000 × 26/30
    for r in (*jan.values(), *feb.values(), *mar.values(), *apr.values()):
        parts = sum(r[f"{s}_minor"] for s in vocabulary.STREAMS)
        assert r["total_minor"] == parts
        assert (
            r["recurring_minor"]
            == r["software_minor"] + r["caas_minor"] + r["maintenance_minor"] + r["sla_credit_minor"]
        )


def test_rollups_are_the_sum_of_customers(wh):
    for month in (dt.date(2025, 2, 1), dt.date(2025, 3, 1)):
        cust = _rows(wh, month)
        for by in ("segment", "revenue_model", "network"):
            rows = _rows(wh, month, by)
            for s in (*vocabulary.STREAMS, "recurring", "total"):
                assert sum(r[f"{s}_minor"] for r in rows.values()) == sum(r[f"{s}_minor"] for r in cust.values()), (
                    by,
                    s,
                )


def test_sla_credits_reduce_recurring_revenue(tmp_path):
    log = hourly("C1", D(2025, 3, 1), D(2025, 4, 1), skip=[]) + [
        status("C1", D(2025, 3, 3), 1, "Faulted", "GroundFailure"),
        status("C1", D(2025, 3, 4, 1), 1, "Available"),
        status("C1", D(2025, 3, 5), 2, "Faulted", "HighTemperature"),
        status("C1", D(2025, 3, 7, 2), 2, "Available"),
    ]
    write_network(tmp_path, sla_case.SITES, log)
    (tmp_path / "contracts.csv").write_text(sla_case.HEADER + "\n" + "\n".join(sla_case.CONTRACTS) + "\n")
    w = ingest(tmp_path, tmp_path / "w.duckdb")
    assert ingest_file(w, tmp_path / "contracts.csv").quarantined == 0
    k1 = _rows(w, dt.date(2025, 3, 1))["K1"]
    # caas: L4 2 × $100 + L4-A1 $31 × 16/31; maintenance: K2 2 × $50, K5 2 × $10; software K4 2 × $28
    assert (k1["caas_minor"], k1["maintenance_minor"], k1["software_minor"]) == (21600, 12000, 5600)
    # credits of tests/uptime/test_sla.py: 1,500 + 120 + 1,000 + 600 (the quarterly line, in March)
    assert k1["sla_credit_minor"] == -3220
    assert k1["recurring_minor"] == 21600 + 12000 + 5600 - 3220
    w.close()


line = st.tuples(
    st.sampled_from(["A", "B", "C"]), st.sampled_from(["S1", "S2", None]),
    st.sampled_from(["hardware", "installation", "software", "caas", "maintenance"]),
    st.integers(0, 500), st.integers(1, 400), st.booleans(), st.integers(1, 12), st.integers(1, 90_000),
)  # fmt: skip


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(line, min_size=1, max_size=10), first=st.integers(0, 14), span=st.integers(0, 4))
def test_revenue_by_stream_sums_to_its_total_for_any_contracts(tmp_path_factory, rows, first, span):
    w = open_warehouse(tmp_path_factory.mktemp("rev") / "w.duckdb")
    base = dt.date(2024, 1, 1)
    for i, (cust, site, kind, start, length, open_ended, n, price) in enumerate(rows):
        s = base + dt.timedelta(days=start)
        one_time = kind in ("hardware", "installation")
        w.con.execute(
            """INSERT INTO contract_events (contract_id, line_id, customer_id, site_id, line_type, event, effective_on,
                                      end_on, ports, quantity, unit_price_minor, currency)
               VALUES (?, 'L', ?, ?, ?, 'new', ?, ?, ?, ?, ?, 'USD')""",
            [f"C{i}", cust, site, kind, s, None if one_time or open_ended else s + dt.timedelta(days=length),
             None if one_time else n, float(n) if one_time else None, price],
        )  # fmt: skip
    lo = add_months(base, first)
    hi = add_months(lo, span)
    rec = revenue.lines(w, lo, hi)
    cust = revenue.by_stream(w, lo, hi, by="customer", recognized=rec).to_pylist()
    for r in cust:
        assert r["total_minor"] == sum(r[f"{s}_minor"] for s in vocabulary.STREAMS)
        assert r["recurring_minor"] == sum(r[f"{s}_minor"] for s in vocabulary.RECURRING_STREAMS)
    for by in ("site", "segment", "revenue_model", "network"):
        rows_by = revenue.by_stream(w, lo, hi, by=by, recognized=rec).to_pylist()
        for s in (*vocabulary.STREAMS, "recurring", "total"):
            for m in {r["month"] for r in cust}:
                assert sum(r[f"{s}_minor"] for r in rows_by if r["month"] == m) == sum(
                    r[f"{s}_minor"] for r in cust if r["month"] == m
                ), (by, s, m)
    # a recurring row in force a whole month earns exactly ports × price that month
    for i, (_, _, kind, start, length, open_ended, n, price) in enumerate(rows):
        s = base + dt.timedelta(days=start)
        end = None if open_ended else s + dt.timedelta(days=length)
        m = add_months(s.replace(day=1), 1)
        if kind in ("software", "caas", "maintenance") and (end is None or end >= add_months(m, 1)) and lo <= m <= hi:
            got = w.con.sql(
                f"SELECT amount_minor FROM ({revenue.contract_lines_sql(m, m)}) x WHERE month = DATE '{m}' "
                f"AND amount_minor = {n * price}"
            ).fetchall()
            assert got, (i, m)
    w.close()


ONE_TIME = [
    # a hardware line: 3 chargers × $8,900 delivered 10 January (2,670,000)
    "KH,L1,H,SH,hardware_sale,hardware,new,2025-01-10,,,3,8900.00,USD,one_time",
    # amended to 5 chargers on 5 March: the 2 added are recognized then (5 × 890,000 − 3 × 890,000 = 1,780,000)
    "KH,L1,H,SH,hardware_sale,hardware,amend,2025-03-05,,,5,,,",
    # amended to 4 on 1 April (one returned): a true-up of −890,000
    "KH,L1,H,SH,hardware_sale,hardware,amend,2025-04-01,,,4,,,",
    # installation: $3,000 at commissioning, re-priced to $4,500 in total on 5 March (+150,000), renewed unchanged (0)
    "KH,L2,H,SH,hardware_sale,installation,new,2025-01-20,,,1,3000.00,USD,one_time",
    "KH,L2,H,SH,hardware_sale,installation,amend,2025-03-05,,,1,4500.00,USD,one_time",
    "KH,L2,H,SH,hardware_sale,installation,renew,2025-05-01,,,1,4500.00,USD,one_time",
    # the old one-row-per-interval form: an amend row under its own line id holds what it adds, recognized whole
    "KH,L1-A1,H,SH,hardware_sale,hardware,amend,2025-02-01,,,2,8900.00,USD,one_time",
]


def test_one_time_lines_recognize_a_true_up_of_each_change(tmp_path):
    header = "contract_id,line_id,customer_id,site_id,revenue_model,line_type,event,effective_on,end_on,ports,quantity,unit_price,currency,billing_period"  # fmt: skip
    (tmp_path / "contracts.csv").write_text(header + "\n" + "\n".join(ONE_TIME) + "\n")
    w = open_warehouse(tmp_path / "w.duckdb")
    assert ingest_file(w, tmp_path / "contracts.csv").quarantined == 0
    got = {
        r["month"]: (r["hardware_minor"], r["installation_minor"])
        for r in revenue.by_stream(w, dt.date(2025, 1, 1), dt.date(2025, 5, 1), by="customer").to_pylist()
    }
    assert got == {
        "2025-01": (2_670_000, 300_000),
        "2025-02": (1_780_000, 0),  # the legacy row, whole
        "2025-03": (1_780_000, 150_000),
        "2025-04": (-890_000, 0),
        "2025-05": (0, 0),
    }
    # in all: the line's last total (4 × 890,000) plus the legacy row, and the installation's $4,500
    assert sum(h for h, _ in got.values()) == 4 * 890_000 + 1_780_000
    assert sum(i for _, i in got.values()) == 450_000
    w.close()
