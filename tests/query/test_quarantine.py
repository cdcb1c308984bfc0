"""query.quarantine: the quarantine filtered, paged and grouped; its records are the ledger's quarantined."""

from __future__ import annotations

import pytest

from evrevops.demo.dirty import write_dirty
from evrevops.query import quarantine as qq
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.forget import forget_file
from evrevops.warehouse.loader import ingest_file
from tests.conftest import FIXTURES
from tests.helpers.demo import DEFAULT


@pytest.fixture
def hand_wh(tmp_path):
    """tests/fixtures/metrics, then a file of a line that is not JSON (1 row, no field) and a CDR missing its
    required fields (8 rows, one per field): 2 records quarantined in 9 rows."""
    more = tmp_path / "more.ndjson"
    more.write_text('{not json\n{"id": "x"}\n')
    wh = open_warehouse(tmp_path / "w.duckdb")
    for f in (FIXTURES / "metrics" / "sites.csv", FIXTURES / "metrics" / "cdrs.ndjson"):
        ingest_file(wh, f)
    ingest_file(wh, more, "ocpi-cdrs")
    yield wh
    wh.close()


def test_the_quarantine_holds_the_ledgers_records_in_a_row_per_field(hand_wh):
    c = qq.quarantine_counts(hand_wh)
    assert (c.records, c.rows, c.ledger_live, c.ledger_forgotten) == (2, 9, 2, 0)
    # the difference is exactly the fields at fault beyond the first of each record: 0 + 7
    assert c.rows - c.records == 7
    forget_file(hand_wh, 3)
    c = qq.quarantine_counts(hand_wh)
    assert (c.records, c.rows, c.ledger_live, c.ledger_forgotten, c.ledger_total) == (0, 0, 0, 2, 2)


def test_a_page_says_what_it_is_a_page_of(hand_wh):
    p = qq.quarantine_page(hand_wh, limit=4)
    assert (p.first, p.last, p.total_rows, p.total_records, p.more, p.filters) == (1, 4, 9, 2, True, ())
    assert [r["source_record"] for r in p.result.table.to_pylist()] == [1, 2, 2, 2]
    p = qq.quarantine_page(hand_wh, limit=4, offset=8)
    assert (p.first, p.last, p.more, p.result.num_rows) == (9, 9, False, 1)
    p = qq.quarantine_page(hand_wh, limit=None)
    assert (p.result.num_rows, p.more) == (9, False)
    p = qq.quarantine_page(hand_wh, limit=4, offset=20)
    assert (p.first, p.last, p.total_rows, p.result.num_rows) == (0, 20, 9, 0)
    with pytest.raises(ValueError, match="0 or more"):
        qq.quarantine_page(hand_wh, offset=-1)


def test_the_filters_by_file_and_reason(hand_wh):
    p = qq.quarantine_page(hand_wh, file="MORE.nd", reason="malformed")
    assert (p.total_rows, p.total_records) == (1, 1) and p.filters == ("file ~ 'MORE.nd'", "reason ~ 'malformed'")
    assert qq.quarantine_page(hand_wh, file="sites.csv").total_rows == 0
    p = qq.quarantine_page(hand_wh, reason="missing")
    assert (p.total_rows, p.total_records) == (8, 1)
    path = p.result.table.column("path")[0].as_py()
    assert qq.quarantine_page(hand_wh, file=path).total_rows == 9  # the whole path as recorded
    assert qq.quarantine_page(hand_wh, file_id=2).total_rows == 0


def test_the_summary_groups_by_file_and_reason_with_the_values_taken_out(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    wh.execute(
        """INSERT INTO quarantine VALUES
           (1, 'a.ndjson', 1, 'x', 'energy 71.12 kWh is more than port EVR-00001-01-1 rated 19.2 kW', '{}'),
           (1, 'a.ndjson', 2, 'x', 'energy 9 kWh is more than port EVR-00001-01-1 rated 7 kW', '{}'),
           (1, 'a.ndjson', 2, 'y', 'negative amount: -5.0', '{}'),
           (1, 'a.ndjson', 3, 'y', 'negative amount: -1', '{}'),
           (1, 'a.ndjson', 3, 'z', 'unknown status ''Exploded''', '{}'),
           (1, 'a.ndjson', 4, NULL, 'not UTF-8 text: byte 0xff at byte 205', '{}'),
           (2, 'b.ndjson', 1, 'y', 'negative amount: -3', '{}')"""
    )
    got = [(r["file_id"], r["reason"], r["fields"], r["records"], r["rows"])
           for r in qq.quarantine_summary(wh).table.to_pylist()]  # fmt: skip
    assert got == [
        (1, "energy # kWh is more than port EVR-00001-01-1 rated # kW", "x", 2, 2),
        (1, "negative amount: -#", "y", 2, 2),
        (1, "not UTF-8 text: byte # at byte #", "(record)", 1, 1),
        (1, "unknown status '…'", "z", 1, 1),
        (2, "negative amount: -#", "y", 1, 1),
    ]
    # the rows add up to the quarantine's; a record refused for two reasons counts in both groups
    assert sum(r[4] for r in got) == qq.quarantine_counts(wh).rows == 7
    assert sum(r[3] for r in got) == 7 > qq.quarantine_counts(wh).records == 5
    # a pattern the summary shows finds its rows
    assert qq.quarantine_page(wh, reason="negative amount: -#").total_rows == 3
    assert qq.quarantine_summary(wh, file="b.nd").num_rows == 1
    wh.close()


def test_on_the_demo_with_its_dirty_files_the_counts_agree(demo_networks, tmp_path):
    net = demo_networks.get(**DEFAULT)
    wh = open_warehouse(net.copy(tmp_path))
    dirty = write_dirty(tmp_path / "dirty", net.folder)
    for w in dirty:
        if not str(w[0]).endswith(".gz"):  # the file that is not the gzip it says it is is refused, not read
            ingest_file(wh, w[0])
    c = qq.quarantine_counts(wh)
    ledger = wh.rows("SELECT sum(quarantined) FROM ingest_ledger")[0][0]
    per_record = wh.rows("SELECT count(*) - count(DISTINCT (file_id, source_record)) FROM quarantine")[0][0]
    assert c.ledger_live == c.records == ledger > 0
    assert c.rows - c.records == per_record > 0  # the fields at fault beyond each record's first
    fid = wh.rows("SELECT max(file_id) FROM ingest_ledger WHERE quarantined > 0")[0][0]
    gone = wh.rows("SELECT quarantined FROM ingest_ledger WHERE file_id = ?", [fid])[0][0]
    forget_file(wh, fid)
    after = qq.quarantine_counts(wh)
    assert (after.ledger_live, after.ledger_forgotten, after.records) == (ledger - gone, gone, ledger - gone)
    wh.close()
