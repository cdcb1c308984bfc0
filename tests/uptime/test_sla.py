"""SLA credits by hand: exact cents for port- and site-scope commitments, an amendment and a cancellation."""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.uptime import sla
from evrevops.warehouse.loader import ingest_file
from tests.uptime.network import hourly, ingest, status, write_network

D = dt.datetime
SITES = [
    "S1,Depot,K1,fleet,caas,UTC,24/7,C1,P1,1,DC,150,2025-01-01,",
    "S1,Depot,K1,fleet,caas,UTC,24/7,C1,P2,2,DC,150,2025-01-01,",
]
HEADER = ("contract_id,line_id,customer_id,site_id,revenue_model,line_type,event,effective_on,end_on,ports,quantity,"
          "unit_price,currency,billing_period,term_months,energy_share_pct,sla_uptime_pct,sla_scope,sla_credit_schedule,"
          "sla_period")  # fmt: skip
CONTRACTS = [
    # per port: $100.00 per port-month, 2 ports
    "K1,L4,K1,S1,caas,caas,new,2024-01-01,2031-01-01,2,,100.00,USD,monthly,84,,97,port,97:5;95:10;90:25,",
    # amendment adding a port from March 16: 16 of 31 days in force
    "K1,L4-A1,K1,S1,caas,caas,amend,2025-03-16,2031-01-01,1,,31.00,USD,monthly,84,,97,port,97:5;95:10;90:25,",
    # per site: $50.00 per port-month, 2 ports
    "K2,L5,K1,S1,hardware_sale,maintenance,new,2024-01-01,,2,,50.00,USD,annual,12,,97,site,97:5;95:10;90:25,month",
    # a cancel row is never in force
    "K3,L4-X,K1,S1,caas,caas,cancel,2025-03-10,2025-03-10,2,,100.00,USD,monthly,84,,97,port,97:5;95:10;90:25,",
    # no SLA: not evaluated
    "K4,L3,K1,S1,software_only,software,new,2024-01-01,,2,,28.00,USD,monthly,36,,,,,",
    # per site, measured over the calendar quarter: $10.00 per port-month, 2 ports, in force all quarter
    "K5,L5,K1,S1,hardware_sale,maintenance,new,2024-01-01,,2,,10.00,USD,annual,12,,97,site,97:5;95:10;90:25,quarter",
]


def _network(folder, contracts: list[str]):
    """The March network with *contracts*: P1 down 1,500 min: 96.64 % (below 97: 5 %); P2 down 3,000 min:
    93.28 % (below 95: 10 %)."""
    log = hourly("C1", D(2025, 3, 1), D(2025, 4, 1), skip=[]) + [
        status("C1", D(2025, 3, 3), 1, "Faulted", "GroundFailure"),
        status("C1", D(2025, 3, 4, 1), 1, "Available"),
        status("C1", D(2025, 3, 5), 2, "Faulted", "HighTemperature"),
        status("C1", D(2025, 3, 7, 2), 2, "Available"),
    ]
    write_network(folder, SITES, log)
    (folder / "contracts.csv").write_text(HEADER + "\n" + "\n".join(contracts) + "\n")
    w = ingest(folder, folder / "w.duckdb")
    assert ingest_file(w, folder / "contracts.csv").quarantined == 0
    return w


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    w = _network(tmp_path_factory.mktemp("sla"), CONTRACTS)
    yield w
    w.close()


def test_credits_in_exact_cents(wh):
    rows = {(r["contract_id"], r["line_id"]): r for r in sla.credits(wh, dt.date(2025, 3, 1)).to_pylist()}
    assert set(rows) == {("K1", "L4"), ("K1", "L4-A1"), ("K2", "L5"), ("K5", "L5")}
    port = rows[("K1", "L4")]
    assert (port["fee_minor"], port["ports_measured"], port["ports_breached"]) == (20000, 2, 2)
    assert port["credit_minor"] == 1500  # $100 × 5 % + $100 × 10 %
    amend = rows[("K1", "L4-A1")]
    assert amend["fee_minor"] == 1600  # $31 × 16/31
    assert amend["credit_minor"] == 120  # $16 / 2 ports × (5 % + 10 %)
    site = rows[("K2", "L5")]
    assert site["uptime_pct"] == pytest.approx((2 * 44640 - 4500) / (2 * 44640) * 100)
    assert (site["fee_minor"], site["credit_pct"], site["credit_minor"]) == (10000, 10.0, 1000)
    assert all(r["breached"] for r in rows.values())
    # the quarterly line: evaluated in March over January-March (telemetry starts on March 1, so the measured
    # time is March's), its fee the quarter's: 3 months × 2 ports × $10.00; below 95 %: 10 %
    q = rows[("K5", "L5")]
    assert (q["period"], q["window_start"]) == ("quarter", dt.date(2025, 1, 1))
    assert (q["fee_minor"], q["credit_pct"], q["credit_minor"]) == (6000, 10.0, 600)


def test_a_quarterly_sla_is_evaluated_at_the_quarter_end_only(wh):
    feb = {(r["contract_id"], r["period"]) for r in sla.credits(wh, dt.date(2025, 2, 1)).to_pylist()}
    assert ("K5", "quarter") not in feb and ("K1", "month") in feb


def test_no_breach_no_credit(wh):
    rows = sla.credits(wh, dt.date(2025, 3, 1), as_of=D(2025, 3, 3)).to_pylist()
    assert [r["credit_minor"] for r in rows] == [0, 0, 0, 0] and not any(r["breached"] for r in rows)


def test_a_range_of_months_from_one_build_equals_month_by_month(wh):
    months = [dt.date(2025, m, 1) for m in (1, 2, 3, 4)]
    one = sla.credits_range(wh, months[0], months[-1]).to_pylist()
    each = [r for m in months for r in sla.credits(wh, m).to_pylist()]
    key = lambda r: (r["month"], r["contract_id"], r["line_id"])  # noqa: E731
    assert sorted(one, key=key) == sorted(each, key=key)
    assert any(r["credit_minor"] for r in one)


# ---- a line's history as events under its own id (the v6 export) ------------------------------------------
EVENT_CONTRACTS = [
    # one CaaS line: 2 ports × $100.00, then from 16 March 3 ports × $120.00 with a 95 % commitment (10 % below it)
    "K6,L4,K1,S1,caas,caas,new,2024-01-01,,2,,100.00,USD,monthly,84,,97,port,97:5;95:10;90:25,",
    "K6,L4,K1,S1,caas,caas,amend,2025-03-16,,3,,120.00,USD,,,,95,,95:10;90:25,",
    # a site-scope maintenance line cancelled on 20 March: evaluated for its 19 days in force
    "K7,L5,K1,S1,hardware_sale,maintenance,new,2024-01-01,,2,,50.00,USD,annual,12,,97,site,97:5;95:10;90:25,month",
    "K7,L5,K1,S1,hardware_sale,maintenance,cancel,2025-03-20,,,,,,,,,,,,",
]


@pytest.fixture(scope="module")
def wh_events(tmp_path_factory):
    w = _network(tmp_path_factory.mktemp("sla-events"), EVENT_CONTRACTS)
    yield w
    w.close()


def test_a_line_with_several_intervals_is_one_line(wh_events):
    from evrevops.contracts import revenue

    rows = {(r["contract_id"], r["line_id"]): r for r in sla.credits(wh_events, dt.date(2025, 3, 1)).to_pylist()}
    assert set(rows) == {("K6", "L4"), ("K7", "L5")}  # one row per line, however many intervals
    line = rows[("K6", "L4")]
    # the terms in force on 31 March: 95 %, 95:10;90:25 (P1's 96.64 % is no breach now, P2's 93.28 % is)
    assert (line["sla_uptime_pct"], line["ports_measured"], line["ports_breached"]) == (95.0, 2, 1)
    # the fee over both intervals: 2 × $100 × 15/31 + 3 × $120 × 16/31 = 876,000/31 = 28,258.06
    assert line["fee_minor"] == 28258
    # port scope: P2 carries half the fee at 10 %: 876,000/31 × 10 % / 2 = 1,412.90
    assert line["credit_minor"] == 1413
    gone = rows[("K7", "L5")]
    # 2 × $50 for 19 of 31 days (cancelled on the 20th) = 6,129.03; the site's uptime (2 × 44,640 − 4,500) /
    # (2 × 44,640) = 94.96 % is below 95: 10 %
    assert (gone["fee_minor"], gone["credit_pct"], gone["credit_minor"]) == (6129, 10.0, 613)
    # recognized once per line: no interval doubles a credit
    credits = revenue.sla_credit_lines(wh_events, dt.date(2025, 3, 1), dt.date(2025, 3, 1)).to_pylist()
    assert sorted(r["amount_minor"] for r in credits) == [-1413, -613]
    assert {r["revenue_model"] for r in credits} == {"caas", "hardware_sale"}
