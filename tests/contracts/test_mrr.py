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
            """INSERT INTO contract_events (contract_id, line_id, customer_id, line_type, event, effective_on, end_on, ports,
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


# ---- one line's history as events under its own id (the v6 export) ---------------------------------------

EVENT_HEADER = "contract_id,line_id,customer_id,site_id,revenue_model,line_type,event,effective_on,end_on,ports,unit_price,currency,billing_period"  # fmt: skip
#: P's software line KP/L1, every event under the one line id; Q's CaaS line KQ/L1, new then one amendment.
EVENTS = [
    # P: 10 ports × $40.00 from 10 January 2024 (a 36-month term)                      → MRR 40,000
    "KP,L1,P,SP,software_only,software,new,2024-01-10,2027-01-10,10,40.00,USD,monthly",
    # 15 ports from 15 March (the price and term kept)                                   → 60,000
    "KP,L1,P,SP,software_only,software,amend,2024-03-15,,15,,,",
    # 12 ports from 20 June                                                              → 48,000
    "KP,L1,P,SP,software_only,software,amend,2024-06-20,,12,,,",
    # cancelled on 5 September                                                          → 0
    "KP,L1,P,SP,software_only,software,cancel,2024-09-05,,,,,",
    # back on 12 November: 8 ports × $45.00 (the line reopened by a new event)          → 36,000
    "KP,L1,P,SP,software_only,software,new,2024-11-12,2027-11-12,8,45.00,USD,monthly",
    # Q: 4 CaaS ports × $250.00 from 1 February 2024, open-ended                         → 100,000
    "KQ,L1,Q,SQ,caas,caas,new,2024-02-01,,4,250.00,USD,monthly",
    # 6 ports from 1 February 2025                                                      → 150,000
    "KQ,L1,Q,SQ,caas,caas,amend,2025-02-01,,6,,,",
]
EVENT_CUSTOMERS = "customer_id,name,segment\nP,Pine Logistics,fleet\nQ,Quay Plaza,public_dc\n"
#: Network movements by hand: (mrr_start, new, expansion, contraction, churn, reactivation, mrr_end)
NETWORK_BY_HAND = {
    "2024-01": (0, 40000, 0, 0, 0, 0, 40000),  # P new
    "2024-02": (40000, 100000, 0, 0, 0, 0, 140000),  # Q new
    "2024-03": (140000, 0, 20000, 0, 0, 0, 160000),  # P 40,000 → 60,000
    "2024-04": (160000, 0, 0, 0, 0, 0, 160000),
    "2024-05": (160000, 0, 0, 0, 0, 0, 160000),
    "2024-06": (160000, 0, 0, 12000, 0, 0, 148000),  # P 60,000 → 48,000
    "2024-07": (148000, 0, 0, 0, 0, 0, 148000),
    "2024-08": (148000, 0, 0, 0, 0, 0, 148000),
    "2024-09": (148000, 0, 0, 0, 48000, 0, 100000),  # P cancelled: churn 48,000
    "2024-10": (100000, 0, 0, 0, 0, 0, 100000),
    "2024-11": (100000, 0, 0, 0, 0, 36000, 136000),  # P back: a reactivation, not new
    "2024-12": (136000, 0, 0, 0, 0, 0, 136000),
    "2025-01": (136000, 0, 0, 0, 0, 0, 136000),
    "2025-02": (136000, 0, 50000, 0, 0, 0, 186000),  # Q 100,000 → 150,000
    "2025-03": (186000, 0, 0, 0, 0, 0, 186000),
}
MONTHS = [dt.date(int(m[:4]), int(m[5:]), 1) for m in NETWORK_BY_HAND]
MOVING = [m for m in MONTHS if NETWORK_BY_HAND[f"{m:%Y-%m}"][1:6] != (0, 0, 0, 0, 0)]  # new, expansion, … churn


def _write(path, rows, header=EVENT_HEADER):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def _event_warehouse(folder, *files):
    """A fresh warehouse in *folder* with the event customers and *files* (lists of event rows) ingested in order."""
    folder.mkdir(parents=True, exist_ok=True)
    w = open_warehouse(folder / "w.duckdb")
    assert ingest_file(w, _write(folder / "customers.csv", [], EVENT_CUSTOMERS.strip())).quarantined == 0
    results = [ingest_file(w, _write(folder / f"events-{i}.csv", rows)) for i, rows in enumerate(files)]
    return w, results


def _all_movements(w) -> dict:
    """The priced intervals, and the customers' movements and NRR/GRR in the months where something moves."""
    lines = w.con.sql("SELECT * EXCLUDE (file_id, source_record) FROM contract_lines ORDER BY ALL").fetchall()
    moves = {m: [tuple(r[c] for c in (*mrr.COLUMNS, "nrr", "grr")) for r in mrr.movements(w, m, "customer").to_pylist()]
             for m in MOVING}  # fmt: skip
    return {"lines": lines, "movements": moves}


@pytest.fixture(scope="module")
def events_wh(tmp_path_factory):
    w, results = _event_warehouse(tmp_path_factory.mktemp("events"), EVENTS)
    assert [(r.records_read, r.accepted, r.quarantined) for r in results] == [(7, 7, 0)]
    yield w
    w.close()


def test_one_line_id_new_amend_cancel_reactivation_by_hand(events_wh):
    for m in MONTHS:
        net = _by(events_wh, m, "network")["network"]
        assert _mv(net) == NETWORK_BY_HAND[f"{m:%Y-%m}"], m
    p = {f"{m:%Y-%m}": _by(events_wh, m).get("P") for m in MONTHS}
    assert _mv(p["2024-01"]) == (0, 40000, 0, 0, 0, 0, 40000)
    assert _mv(p["2024-03"]) == (40000, 0, 20000, 0, 0, 0, 60000)  # amend: 15 ports, not 10 + 15
    assert _mv(p["2024-06"]) == (60000, 0, 0, 12000, 0, 0, 48000)  # amend to fewer ports: a contraction
    assert _mv(p["2024-09"]) == (48000, 0, 0, 0, 48000, 0, 0)
    assert _mv(p["2024-11"]) == (0, 0, 0, 0, 0, 36000, 36000)
    # the line's intervals: four, one after another (the cancel opens none)
    got = events_wh.con.sql(
        "SELECT event, effective_on, end_on, ports, unit_price_minor, legacy FROM contract_lines "
        "WHERE contract_id = 'KP' ORDER BY effective_on"
    ).fetchall()
    d = dt.date
    assert got == [
        ("new", d(2024, 1, 10), d(2024, 3, 15), 10, 4000, False),
        ("amend", d(2024, 3, 15), d(2024, 6, 20), 15, 4000, False),
        ("amend", d(2024, 6, 20), d(2024, 9, 5), 12, 4000, False),
        ("new", d(2024, 11, 12), d(2027, 11, 12), 8, 4500, False),
    ]


def test_churn_and_retention_twelve_months_later_by_hand(events_wh):
    sep = _by(events_wh, dt.date(2024, 9, 1), "network")["network"]
    # P (48,000) and Q (100,000) had MRR at the end of August; P cancelled
    assert (sep["accounts_start"], sep["accounts_churned"], sep["logo_churn"]) == (2, 1, 0.5)
    assert sep["revenue_churn"] == 48000 / 148000
    # January 2025 against January 2024: only P had MRR then (40,000); it has 36,000 now
    jan = _by(events_wh, dt.date(2025, 1, 1), "network")["network"]
    assert (jan["nrr"], jan["grr"]) == (36000 / 40000, 36000 / 40000)  # 0.9, 0.9
    # February 2025 against February 2024: P 40,000 and Q 100,000 then; P 36,000 and Q 150,000 now
    feb = _by(events_wh, dt.date(2025, 2, 1), "network")["network"]
    assert feb["nrr"] == 186000 / 140000  # 1.3286
    assert feb["grr"] == (36000 + 100000) / 140000  # min(36,000, 40,000) + min(150,000, 100,000): 0.9714
    # March 2025 against March 2024: P 60,000 and Q 100,000 then
    mar = _by(events_wh, dt.date(2025, 3, 1), "network")["network"]
    assert (mar["nrr"], mar["grr"]) == (186000 / 160000, 136000 / 160000)  # 1.1625, 0.85
    assert (mar["mrr_end"], mar["arr_end"]) == (186000, 12 * 186000)


def test_revenue_of_the_amended_line_by_interval(events_wh):
    from evrevops.contracts import revenue

    rows = {r["customer"]: r for r in revenue.by_stream(events_wh, dt.date(2024, 3, 1), by="customer").to_pylist()}
    # March 2024: 10 ports for 14 days, then 15 ports for 17 days: 40,000 × 14/31 = 18,064.5 → 18,065 and
    # 60,000 × 17/31 = 32,903.2 → 32,903
    assert rows["P"]["software_minor"] == 18065 + 32903
    nov = {r["customer"]: r for r in revenue.by_stream(events_wh, dt.date(2024, 11, 1), by="customer").to_pylist()}
    assert nov["P"]["software_minor"] == 22800  # back on the 12th: 36,000 × 19/30


def test_the_same_history_split_across_files_in_either_order(events_wh, tmp_path):
    want = _all_movements(events_wh)
    p = [r for r in EVENTS if r.startswith("KP")]
    q = [r for r in EVENTS if r.startswith("KQ")]
    # by line: either order is valid
    for i, files in enumerate(([p, q], [q, p])):
        w, results = _event_warehouse(tmp_path / f"lines{i}", *files)
        assert [r.quarantined for r in results] == [0, 0]
        assert _all_movements(w) == want
        w.close()
    # one line's history in two files: the first amendment later or first (alone it opens a line of the old
    # format, which the new event arriving later turns into the line's amendment)
    first_amend = [EVENTS[1]]
    rest = [r for r in EVENTS if r != EVENTS[1]]
    for i, files in enumerate(([rest, first_amend], [first_amend, rest])):
        w, results = _event_warehouse(tmp_path / f"split{i}", *files)
        assert [r.quarantined for r in results] == [0, 0]
        assert _all_movements(w) == want
        w.close()


def _quarantine(w, file_id):
    return w.con.execute(
        "SELECT source_record, field, reason FROM quarantine WHERE file_id = ? ORDER BY source_record", [file_id]
    ).fetchall()


def _ledger_holds(w):
    for read, acc, dup, quar in w.con.sql(
        "SELECT records_read, accepted, duplicate, quarantined FROM ingest_ledger"
    ).fetchall():
        assert read == acc + dup + quar


def test_out_of_order_events_are_quarantined_and_history_stays(tmp_path):
    w, _ = _event_warehouse(tmp_path, EVENTS)
    want = _all_movements(w)
    stored = w.con.sql("SELECT count(*) FROM contract_events").fetchall()[0][0]
    bad = {
        # an amendment dated before the line's new
        "early_amend": ["KP,L1,P,SP,software_only,software,amend,2023-12-01,,20,,,"],
        # a second new for a line in force
        "second_new": ["KQ,L1,Q,SQ,caas,caas,new,2024-06-01,,9,250.00,USD,monthly"],
        # a second cancel (the line ended on 5 September), and an amendment of the cancelled line
        "cancelled": [
            "KP,L1,P,SP,software_only,software,cancel,2024-10-01,,,,,",
            "KP,L1,P,SP,software_only,software,amend,2024-10-02,,30,,,",
        ],
    }
    reasons = {}
    for name, rows in bad.items():
        r = ingest_file(w, _write(tmp_path / f"{name}.csv", rows))
        assert (r.records_read, r.accepted, r.quarantined) == (len(rows), 0, len(rows)), name
        reasons[name] = [x[2] for x in _quarantine(w, r.file_id)]
        assert all(x[1] == "event" for x in _quarantine(w, r.file_id))
    assert reasons["early_amend"] == ["amend dated before the line's new (2024-01-10)"]
    assert reasons["second_new"] == ["a second new for a line in force (opened on 2024-02-01)"]
    assert reasons["cancelled"] == [
        "the line was already cancelled on 2024-09-05",
        "amend of a cancelled line (cancelled on 2024-09-05); a new event reopens it",
    ]
    # nothing stored changed: the same events, the same MRR of every month
    assert w.con.sql("SELECT count(*) FROM contract_events").fetchall()[0][0] == stored
    assert _all_movements(w) == want
    _ledger_holds(w)
    # the same file again changes nothing; the same records in another file are duplicates
    again = ingest_file(w, tmp_path / "events-0.csv")
    assert again.status == "unchanged"
    copy = ingest_file(w, _write(tmp_path / "copy.csv", EVENTS))
    assert (copy.records_read, copy.accepted, copy.duplicate, copy.quarantined) == (7, 0, 7, 0)
    assert w.con.sql("SELECT count(*) FROM contract_events").fetchall()[0][0] == stored
    assert _all_movements(w) == want
    _ledger_holds(w)
    w.close()


def test_a_new_dated_after_the_stored_history_began_is_refused(tmp_path):
    # the stored history of KP/L1 is one amendment (alone, a line of the old format); a new dated after it
    # would make that stored amendment one dated before the line's new: the new is refused, the store kept
    w, results = _event_warehouse(tmp_path, [EVENTS[1]])
    assert results[0].quarantined == 0
    before = _all_movements(w)
    r = ingest_file(w, _write(tmp_path / "late-new.csv", ["KP,L1,P,SP,software_only,software,new,2024-04-01,,10,40.00,USD,monthly"]))  # fmt: skip
    assert (r.records_read, r.accepted, r.quarantined) == (1, 0, 1)
    ((rec, field, reason),) = _quarantine(w, r.file_id)
    assert (rec, field) == (2, "event")  # line 2 of the file: the first after the header
    assert reason == (
        f"it would make the stored amend of 2024-03-15 (file {results[0].file_id}, record 2) invalid: "
        "amend dated before the line's new (2024-04-01)"
    )
    assert _all_movements(w) == before
    _ledger_holds(w)
    w.close()
