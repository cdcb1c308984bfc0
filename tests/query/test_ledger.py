"""query.ledger: the ingest ledger's counts add up, the quarantine holds what the ledger counts, the status."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from evrevops.query import ledger as qledger
from evrevops.warehouse.db import Warehouse, open_warehouse
from evrevops.warehouse.loader import ingest_file
from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def ledger_wh(tmp_path_factory) -> Iterator[Warehouse]:
    """tests/fixtures/metrics (3 sites rows, 6 CDRs), then a file of two of those CDRs again, a line that is not
    JSON and a CDR missing its required fields: 4 read = 0 accepted + 2 duplicate + 2 quarantined."""
    folder = tmp_path_factory.mktemp("q-ledger")
    cdrs = (FIXTURES / "metrics" / "cdrs.ndjson").read_text().splitlines()
    more = folder / "more.ndjson"
    more.write_text("\n".join([*cdrs[:2], "{not json", '{"id": "x"}']) + "\n")
    wh = open_warehouse(folder / "w.duckdb")
    for f in (FIXTURES / "metrics" / "sites.csv", FIXTURES / "metrics" / "cdrs.ndjson", more):
        ingest_file(wh, f)
    wh.close()
    wh = Warehouse(folder / "w.duckdb", read_only=True)
    yield wh
    wh.close()


def test_the_ledger_counts_every_record_read_once(ledger_wh):
    r = qledger.ledger(ledger_wh)
    rows = r.table.to_pylist()
    got = [(x["file_id"], Path(x["path"]).name, x["records_read"], x["accepted"], x["duplicate"], x["quarantined"])
           for x in rows]  # fmt: skip
    assert got == [(1, "sites.csv", 3, 3, 0, 0), (2, "cdrs.ndjson", 6, 6, 0, 0), (3, "more.ndjson", 4, 0, 2, 2)]
    for x in rows:
        assert x["records_read"] == x["accepted"] + x["duplicate"] + x["quarantined"]
        assert x["status"] == "committed"
    assert r.title == "ingest ledger" and r.units["records_read"] == r.units["quarantined"] == "count"
    assert "path" not in r.units and "file_id" not in r.units


def test_the_quarantine_holds_the_records_the_ledger_counts(ledger_wh):
    r = qledger.quarantine(ledger_wh)
    rows = r.table.to_pylist()
    assert r.title == "quarantine" and r.column_names == ["file_id", "path", "source_record", "field", "reason", "raw"]
    # one row per refused field: record 3 is not JSON, record 4 misses 8 required fields
    assert [(x["source_record"], x["field"]) for x in rows][:2] == [(3, None), (4, "cdr_location.evse_uid")]
    assert len(rows) == 9 and rows[0]["reason"] == "malformed JSON" and rows[0]["raw"] == "{not json"
    counted = {x["file_id"]: x["quarantined"] for x in qledger.ledger(ledger_wh).table.to_pylist()}
    per_file = {f: len({x["source_record"] for x in rows if x["file_id"] == f}) for f in counted}
    assert per_file == counted == {1: 0, 2: 0, 3: 2}
    assert qledger.quarantine(ledger_wh, file_id=2).num_rows == 0
    assert qledger.quarantine(ledger_wh, file_id=3, limit=2).table.column("source_record").to_pylist() == [3, 4]
    with pytest.raises(ValueError, match="0 or more"):
        qledger.quarantine(ledger_wh, limit=-1)


def test_the_status_in_item_and_value_rows(ledger_wh):
    r = qledger.status(ledger_wh)
    got = dict(zip(r.table.column("item").to_pylist(), r.table.column("value").to_pylist(), strict=True))
    assert r.column_names == ["item", "value"] and r.title == f"warehouse {ledger_wh.path}"
    assert got["warehouse"] == str(ledger_wh.path)
    assert (got["rows.sites"], got["rows.ports"], got["rows.sessions"], got["rows.quarantine"]) == ("2", "3", "6", "9")
    assert got["sessions.first_start_utc"] == "2024-03-04 16:00:00"
    assert got["sites.without_segment"] == got["ports.at_two_sites_at_once (evrevops ports conflicts)"] == "0"


def test_the_totals_of_a_batch_of_ingests(ledger_wh):
    t = qledger.ingest_totals(qledger.ledger(ledger_wh).table.to_pylist())
    assert (t.records_read, t.accepted, t.duplicate, t.quarantined) == (13, 9, 2, 2)
    assert t.records_read == t.accepted + t.duplicate + t.quarantined
    # a refused file's counts are null: they add nothing
    refused = {"records_read": None, "accepted": None, "duplicate": None, "quarantined": None, "status": "refused"}
    assert qledger.ingest_totals([refused, {"records_read": 2, "accepted": 2}]) == qledger.IngestTotals(2, 2, 0, 0)
    assert qledger.ingest_totals([]) == qledger.IngestTotals(0, 0, 0, 0)
