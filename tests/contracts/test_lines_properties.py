"""Contract line events in any order: the priced intervals and MRR hold for any history (property tests).

Random events of a few lines (new, amend, renew, cancel at random dates, with random ports and
prices) are split into files ingested in a random order, each through the loader into a fresh
warehouse. Whatever the loader keeps or quarantines:

* every event is stored or quarantined, and each file's ``read = accepted + duplicate + quarantined``;
* every stored event is valid in the replay of the final store (stored history never turns invalid);
* ``contract_lines`` equals a replay of the stored events written here in Python (the rules of
  :mod:`evrevops.warehouse.contract_lines`), and a line's intervals never overlap;
* the MRR on any month-end (Σ ports × unit price of the recurring intervals in force) is what
  :func:`evrevops.contracts.mrr.movements` reports as the network's ``mrr_end``.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evrevops.contracts import mrr
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file

BASE = dt.date(2024, 1, 1)
LINES = (("K1", "L1", "C1", "software"), ("K1", "L2", "C1", "caas"), ("K2", "L1", "C2", "maintenance"))
RANK = {"new": 0, "amend": 1, "renew": 2, "cancel": 3}
HEADER = "contract_id,line_id,customer_id,line_type,event,effective_on,end_on,ports,unit_price,currency"
MONTH_ENDS = [dt.date(2024 + (k + 1) // 12, (k + 1) % 12 + 1, 1) - dt.timedelta(days=1) for k in range(20)]

event = st.tuples(
    st.integers(0, len(LINES) - 1),  # line
    st.sampled_from(list(RANK)),  # event
    st.integers(0, 540),  # effective day
    st.one_of(st.none(), st.integers(1, 400)),  # end_on, days after
    st.one_of(st.none(), st.integers(0, 20)),  # ports (an amend may leave it out)
    st.one_of(st.none(), st.integers(1, 99_999)),  # unit price [cents] (likewise)
    st.integers(0, 2),  # file
)


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _row(e) -> tuple[str, dict]:
    """The CSV row of generated event *e*, and the values it states."""
    line, kind, day, end, ports, price, _ = e
    k, lid, cust, line_type = LINES[line]
    on = BASE + dt.timedelta(days=day)
    if kind == "cancel":
        end = ports = price = None
    elif kind in ("new", "renew"):  # a new term states its ports and price
        ports, price = (ports if ports is not None else 1), (price if price is not None else 100)
    end_on = on + dt.timedelta(days=end) if end is not None else None
    cells = [k, lid, cust, line_type, kind, on.isoformat(), end_on.isoformat() if end_on else "",
             "" if ports is None else str(ports), "" if price is None else _money(price), "USD" if price else ""]  # fmt: skip
    return ",".join(cells), {"ports": ports, "price": price}


def _replay(events: list[dict]) -> tuple[list[tuple], list[str]]:
    """Intervals of the stored events by the module's rules, and the events the rules would refuse."""
    by_line: dict[tuple, list[dict]] = {}
    for e in events:
        by_line.setdefault((e["contract_id"], e["line_id"]), []).append(e)
    intervals, invalid = [], []
    for key, evs in by_line.items():
        evs.sort(key=lambda e: (e["effective_on"], RANK[e["event"]], e["file_id"], e["source_record"]))
        legacy = not any(e["event"] == "new" for e in evs)
        status, end, vals, after = "none", None, {}, []
        for e in evs:
            on, kind = e["effective_on"], e["event"]
            live = status == "live" and (end is None or on < end)
            lapsed = status == "live" and end is not None and on >= end
            bad = (
                (kind == "new" and live)
                or (kind != "new" and status == "none" and not legacy)
                or (kind in ("amend", "renew") and status == "cancelled")
                or (kind == "amend" and lapsed)
                or (kind == "cancel" and status == "cancelled")
            )
            if bad:
                invalid.append(f"{key} {kind} {on}")
                continue
            stated = {c: e[c] for c in ("customer_id", "line_type", "ports", "unit_price_minor")}
            if kind == "new" or (kind in ("amend", "renew") and status == "none"):
                status, end, vals = "live", e["end_on"], stated
            elif kind == "cancel":
                status = "cancelled" if status == "live" else status
            else:
                vals = {c: stated[c] if stated[c] is not None else vals[c] for c in vals}
                end = e["end_on"] if kind == "renew" else (e["end_on"] or end)
            after.append((kind, on, status, end, dict(vals)))
        for i, (kind, on, st_, line_end, v) in enumerate(after):
            nxt = after[i + 1][1] if i + 1 < len(after) else None
            stop = min((d for d in (nxt, line_end) if d is not None), default=None)
            if kind != "cancel" and st_ == "live" and (stop is None or stop > on):
                intervals.append((*key, on, stop, v["customer_id"], v["line_type"], v["ports"], v["unit_price_minor"]))
    return sorted(intervals, key=repr), invalid


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(event, min_size=1, max_size=14, unique_by=lambda e: (e[0], e[1], e[2])),
    order=st.permutations([0, 1, 2]),
    months=st.lists(st.integers(0, len(MONTH_ENDS) - 1), min_size=1, max_size=4, unique=True),
)
def test_any_history_in_any_file_order(tmp_path_factory, events, order, months):
    folder = tmp_path_factory.mktemp("lines")
    w = open_warehouse(folder / "w.duckdb")
    files = {}  # file index → [(record, generated event)]
    for e in events:
        files.setdefault(e[6], []).append(e)
    ingested = {}  # file_id → number of events
    for f in order:
        if f not in files:
            continue
        path = folder / f"events-{f}.csv"
        path.write_text(HEADER + "\n" + "\n".join(_row(e)[0] for e in files[f]) + "\n")
        r = ingest_file(w, path)
        # (c) every record counted once
        assert r.records_read == len(files[f]) == r.accepted + r.duplicate + r.quarantined
        assert r.duplicate == 0  # the keys are unique
        ingested[r.file_id] = len(files[f])
    stored = (
        w.con.sql(
            "SELECT contract_id, line_id, customer_id, line_type, event, effective_on, end_on, ports, unit_price_minor, "
            "file_id, source_record FROM contract_events"
        )
        .to_arrow_table()
        .to_pylist()
    )
    quarantined = w.con.sql("SELECT file_id, source_record FROM quarantine").fetchall()
    # (c) every event is stored or quarantined, never both
    kept = {(e["file_id"], e["source_record"]) for e in stored}
    assert kept.isdisjoint(quarantined) and len(kept) + len(quarantined) == len(events)
    assert kept | set(quarantined) == {(fid, rec) for fid, n in ingested.items() for rec in range(2, n + 2)}
    # stored history never turns invalid, and the view replays it as the rules say
    want, invalid = _replay(stored)
    assert invalid == []
    got = w.con.sql(
        "SELECT contract_id, line_id, effective_on, end_on, customer_id, line_type, ports, unit_price_minor "
        "FROM contract_lines"
    ).fetchall()
    assert sorted(got, key=repr) == want
    # (a) the intervals of a line never overlap
    for key in {(x[0], x[1]) for x in got}:
        spans = sorted((x[2], x[3]) for x in got if (x[0], x[1]) == key)
        assert all(a < (b or dt.date.max) for a, b in spans)
        assert all(b is not None and b <= c for (_, b), (c, _) in zip(spans, spans[1:], strict=False))
    # (b) MRR on a month-end: Σ ports × unit price of the recurring intervals in force then
    for k in months:
        day = MONTH_ENDS[k]
        expected = sum(
            ports * price
            for (_, _, on, end, cust, _, ports, price) in want
            if on <= day and (end is None or end > day) and ports is not None and price is not None and cust
        )
        net = mrr.movements(w, day.replace(day=1), "network").to_pylist()
        assert sum(r["mrr_end"] for r in net) == expected, day
    w.close()
