"""query.recurring on the hand-built contracts of tests/contracts/test_mrr.py."""

from __future__ import annotations

import datetime as dt

from evrevops.query import recurring as qrecurring

STREAMS = ("hardware", "installation", "software", "caas", "maintenance", "sla_credit", "energy")


def test_mrr_movements(contracts_wh):
    r = qrecurring.mrr(contracts_wh, dt.date(2025, 3, 1), "customer")
    recs = {x["customer"]: x for x in r.table.to_pylist()}
    assert (recs["A"]["expansion"], recs["C"]["new"], recs["A"]["currency"]) == (15000, 15000, "USD")
    assert r.units["expansion"] == r.units["mrr_end"] == "minor units" and r.units["nrr"] == "fraction"


def test_revenue_total_is_the_sum_of_its_streams(contracts_wh):
    r = qrecurring.revenue(contracts_wh, dt.date(2025, 2, 1), dt.date(2025, 3, 1), by="customer")
    recs = r.table.to_pylist()
    assert {(x["customer"], x["month"]) for x in recs} >= {("A", "2025-02"), ("A", "2025-03"), ("C", "2025-03")}
    assert all(x["total_minor"] == sum(x[f"{s}_minor"] for s in STREAMS) for x in recs)
    assert all(r.units[f"{s}_minor"] == "minor units" for s in STREAMS)
