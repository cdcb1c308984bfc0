"""Hostile ingests at the file level: files that change while read, wrong formats undone, caps, special files.

Each case states its exact outcome (refused with a message, quarantined with a reason, or
skipped with a note) and checks the ledger identity ``read = accepted + duplicate + quarantined``
after it.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
from pathlib import Path

import pytest

from evrevops.formats import FormatError, detect, input_files, limits, read
from evrevops.warehouse import after_write, forget, loader
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import FileChangedError, ingest_file
from tests.helpers.cdrs import cdr, write_ndjson

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def identity_holds(wh) -> None:
    rows = wh.con.execute(
        "SELECT file_id, records_read, accepted, duplicate, quarantined FROM ingest_ledger"
    ).fetchall()
    for fid, read_, acc, dup, q in rows:
        assert read_ == acc + dup + q, f"ledger entry {fid}: {read_} != {acc} + {dup} + {q}"
    # every quarantined count is backed by quarantine rows of live entries
    live = wh.con.execute(
        f"""SELECT coalesce(sum(quarantined), 0) FROM ingest_ledger WHERE status = 'committed' AND {forget.live_sql()}"""
    ).fetchall()[0][0]
    stored = wh.con.execute("SELECT count(*) FROM (SELECT DISTINCT file_id, source_record FROM quarantine)").fetchall()[
        0
    ][0]
    assert live == stored


@pytest.fixture
def wh(tmp_path):
    w = open_warehouse(tmp_path / "w.duckdb")
    yield w
    w.close()


def _sessions(wh) -> int:
    return wh.con.execute("SELECT count(*) FROM sessions").fetchall()[0][0]


# ---- read once: the checksum and the rows come from the same bytes --------------------------------


def test_a_file_rewritten_while_it_is_read_is_refused_and_nothing_is_written(wh, tmp_path, monkeypatch):
    p = write_ndjson(tmp_path / "cdrs.ndjson", [cdr(id="A1"), cdr(id="A2")])
    real = loader.read_file

    def read_then_rewrite(path, fmt=None, mapping=None):
        batch = real(path, fmt, mapping)  # the old content's rows ...
        write_ndjson(path, [cdr(id="B1"), cdr(id="B2"), cdr(id="B3")])  # ... while the export is rewritten
        return batch

    monkeypatch.setattr(loader, "read_file", read_then_rewrite)
    with pytest.raises(FileChangedError, match="changed while it was being read"):
        ingest_file(wh, p)
    assert wh.count("ingest_ledger") == 0 and _sessions(wh) == 0
    monkeypatch.setattr(loader, "read_file", real)
    r = ingest_file(wh, p)  # the new content, once complete, is read — not skipped as "unchanged"
    assert (r.status, r.accepted) == ("committed", 3)
    ids = {x for (x,) in wh.con.execute("SELECT session_id FROM sessions").fetchall()}
    assert ids == {"US*EVR*B1", "US*EVR*B2", "US*EVR*B3"}
    identity_holds(wh)


def test_same_size_same_times_but_other_bytes_is_caught_by_the_second_hash(wh, tmp_path, monkeypatch):
    p = write_ndjson(tmp_path / "cdrs.ndjson", [cdr(id="A1")])
    real = loader.read_file
    facts = {}

    def read_then_flip(path, fmt=None, mapping=None):
        batch = real(path, fmt, mapping)
        facts["id"] = loader.file_facts(path).identity
        data = bytearray(path.read_bytes())
        data[data.index(b"A1")] = ord("Z")  # same size
        path.write_bytes(bytes(data))
        return batch

    monkeypatch.setattr(loader, "read_file", read_then_flip)
    monkeypatch.setattr(loader, "file_identity", lambda path: facts["id"])  # times that did not move
    with pytest.raises(FileChangedError, match="its bytes changed"):
        ingest_file(wh, p)
    assert wh.count("ingest_ledger") == 0


# ---- a wrong ingest can be undone -----------------------------------------------------------------


def test_wrong_format_then_forget_then_the_right_ingest(wh, tmp_path):
    p = tmp_path / "locations.ndjson"
    loc = json.loads((FIXTURES / "ocpi" / "location_example.json").read_text())
    p.write_text("\n".join(json.dumps(dict(loc, id=f"LOC{i}")) for i in range(3)) + "\n")
    wrong = ingest_file(wh, p, fmt="ocpp-log")
    assert (wrong.status, wrong.records_read, wrong.quarantined) == ("committed", 3, 3)
    again = ingest_file(wh, p, fmt="ocpi-locations")
    assert again.status == "unchanged"  # the same bytes: nothing read ...
    assert "ingested as ocpp-log" in again.notes[0] and "ledger forget" in again.notes[0]  # ... and it says why
    identity_holds(wh)

    q_rows = wh.count("quarantine")
    done = forget.forget_file(wh, wrong.file_id)
    assert done["quarantine_removed"] == q_rows >= 3 and done["rows_removed"] == 0
    assert wh.count("quarantine") == 0
    entry = wh.con.execute(
        "SELECT format, forgets, notes FROM ingest_ledger WHERE file_id = ?", [done["ledger_file_id"]]
    ).fetchall()[0]
    assert entry[:2] == ("cli:ledger forget", wrong.file_id) and f"{q_rows} quarantine rows removed" in entry[2]
    # the forgotten entry stays as a record of what was read
    assert wh.con.execute("SELECT format FROM ingest_ledger WHERE file_id = ?", [wrong.file_id]).fetchall() == [
        ("ocpp-log",)
    ]
    right = ingest_file(wh, p)
    assert (right.status, right.format, right.accepted, right.quarantined) == ("committed", "ocpi-locations", 3, 0)
    assert wh.con.execute("SELECT count(*) FROM sites WHERE site_id LIKE 'LOC%'").fetchall()[0][0] == 3
    identity_holds(wh)
    with pytest.raises(ValueError, match="already forgotten"):
        forget.forget_file(wh, wrong.file_id)
    with pytest.raises(ValueError, match="no ledger entry 99"):
        forget.forget_file(wh, 99)


def test_forget_removes_rows_but_keeps_sites_other_files_name(wh, tmp_path):
    sites = ingest_file(wh, FIXTURES / "metrics" / "sites.csv")
    cdrs = ingest_file(wh, FIXTURES / "metrics" / "cdrs.ndjson")
    assert cdrs.accepted > 0 and _sessions(wh) == cdrs.accepted
    ports_before = wh.count("ports")
    done = forget.forget_file(wh, sites.file_id)
    # the CDRs name sites A and B and their ports: those rows stay
    assert done["kept_named"] > 0
    assert wh.con.execute("SELECT count(*) FROM sites WHERE site_id IN ('A', 'B')").fetchall()[0][0] == 2
    assert wh.con.execute("SELECT count(*) FROM site_facts WHERE file_id = ?", [sites.file_id]).fetchall()[0][0] == 0
    assert wh.count("ports") <= ports_before
    done = forget.forget_file(wh, cdrs.file_id)
    assert _sessions(wh) == 0 and done["rows_removed"] >= cdrs.accepted
    identity_holds(wh)


def test_force_reads_the_same_bytes_again_and_forgets_the_earlier_ingest(wh):
    first = ingest_file(wh, FIXTURES / "metrics" / "cdrs.ndjson")
    n = _sessions(wh)
    second = ingest_file(wh, FIXTURES / "metrics" / "cdrs.ndjson", force=True)
    assert second.status == "committed" and second.file_id != first.file_id
    assert second.accepted == first.accepted and _sessions(wh) == n
    assert forget.forgotten(wh) == {first.file_id}
    assert ingest_file(wh, FIXTURES / "metrics" / "cdrs.ndjson").status == "unchanged"
    identity_holds(wh)


# ---- limits on lines and decompressed size ---------------------------------------------------------


def test_a_line_over_the_limit_refuses_the_file_naming_the_line(wh, tmp_path):
    p = tmp_path / "sessions.csv"
    p.write_text("session_id,start\n" + "x" * 5000 + "\n")
    with limits.using(max_line_bytes=4096), pytest.raises(FormatError, match=r"line 2 is 5,000 bytes long"):
        ingest_file(wh, p)
    assert wh.count("ingest_ledger") == 0


def test_a_single_line_ndjson_over_the_limit_is_refused_not_committed_empty(wh, tmp_path):
    p = tmp_path / "cdrs.ndjson"
    p.write_text('{"id": "' + "9" * 20_000 + '"')
    with limits.using(max_line_bytes=10_000), pytest.raises(FormatError, match=r"line 1 is 20,009 bytes long"):
        ingest_file(wh, p)
    assert wh.count("ingest_ledger") == 0


def test_a_json_document_on_one_long_line_is_not_a_long_line(tmp_path):
    p = tmp_path / "cdrs.json"
    p.write_text(json.dumps([cdr(id=f"C{i}") for i in range(50)]))  # one line of ~50 kB
    with limits.using(max_line_bytes=4096):
        b = read(p)
    assert b.records_read == 50 and b.quarantine.num_rows == 0


def test_a_gzip_bomb_stops_at_the_decompressed_limit(wh, tmp_path):
    p = tmp_path / "cdrs.ndjson.gz"
    with gzip.open(p, "wb") as f:
        for _ in range(64):
            f.write(b"\n" * (1 << 20))  # 64 MiB of newlines, ~64 kB compressed
    assert p.stat().st_size < 200_000
    with limits.using(max_decompressed_bytes=8 << 20), pytest.raises(FormatError, match="decompresses to more than"):
        ingest_file(wh, p)
    assert wh.count("ingest_ledger") == 0


def test_a_gz_that_is_not_gzip_is_a_format_error(wh, tmp_path):
    p = tmp_path / "cdrs.ndjson.gz"
    p.write_bytes(b'{"id": "x"}\n')
    with pytest.raises(FormatError, match="not a valid gzip file"):
        ingest_file(wh, p)


# ---- special files and symlinks ------------------------------------------------------------------


def test_a_fifo_is_refused_at_once_not_waited_on(wh, tmp_path):
    fifo = tmp_path / "cdrs.ndjson"
    os.mkfifo(fifo)
    with pytest.raises(FormatError, match="is a FIFO, not a regular file"):
        ingest_file(wh, fifo)
    skipped: list = []
    assert input_files([tmp_path], skipped) == []
    assert skipped == [(fifo, "not a regular file (a FIFO, socket or device)")]


def test_a_symlink_out_of_the_tree_is_skipped_and_never_read(tmp_path):
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("password,hunter2\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "sites.csv").symlink_to(secret)
    inside = tree / "real.csv"
    inside.write_text("site_id,port_id,segment,time_zone\n")
    (tree / "alias.csv").symlink_to(inside)
    skipped: list = []
    assert input_files([tree], skipped) == [tree / "alias.csv", tree / "real.csv"]
    assert skipped == [(tree / "sites.csv", "a symlink that leads out of the directory")]


# ---- sniffing whole records -----------------------------------------------------------------------


def test_an_ndjson_whose_first_record_is_large_is_recognised(wh, tmp_path):
    loc = json.loads((FIXTURES / "ocpi" / "location_example.json").read_text())
    evse = loc["evses"][0]
    big = dict(loc, evses=[dict(copy.deepcopy(evse), uid=f"E{i}", evse_id=f"BE*BEC*E{i:05d}") for i in range(300)])
    p = tmp_path / "locations.ndjson"
    p.write_text(json.dumps(big) + "\n" + json.dumps(dict(loc, id="LOC2")) + "\n")
    assert len(p.read_text().split("\n")[0]) > 65536
    assert detect(p) == ("ocpi-locations", None)
    r = ingest_file(wh, p)
    assert (r.records_read, r.accepted, r.quarantined) == (2, 2, 0)
    identity_holds(wh)


def test_one_bad_first_line_is_quarantined_not_the_whole_file(wh, tmp_path):
    p = tmp_path / "cdrs.ndjson"
    p.write_text("{not json at all\n" + "\n".join(json.dumps(cdr(id=f"C{i}")) for i in range(3)) + "\n")
    assert detect(p) == ("ocpi-cdrs", None)
    r = ingest_file(wh, p)
    assert (r.records_read, r.accepted, r.quarantined) == (4, 3, 1)
    assert wh.con.execute("SELECT source_record FROM quarantine").fetchall() == [(1,)]
    identity_holds(wh)


# ---- what the loader refuses against what is stored ----------------------------------------------


def test_a_cdr_without_last_updated_does_not_replace_a_versioned_one(wh, tmp_path):
    ingest_file(wh, write_ndjson(tmp_path / "a.ndjson", [cdr(id="V1", last_updated="2025-03-10T00:00:00Z")]))
    r = ingest_file(wh, write_ndjson(tmp_path / "b.ndjson", [cdr(id="V1", last_updated=None, total_energy=10.0)]))
    assert (r.accepted, r.quarantined) == (0, 1)
    (reason,) = wh.con.execute("SELECT reason FROM quarantine WHERE file_id = ?", [r.file_id]).fetchall()[0]
    assert reason.startswith("no last_updated_at, while the stored record (ledger entry 1) has one")
    assert wh.con.execute("SELECT energy_kwh FROM sessions").fetchall() == [(40.5,)]
    identity_holds(wh)


def test_energy_above_what_the_port_rating_can_deliver_is_quarantined(wh, tmp_path):
    sites = tmp_path / "sites.csv"
    sites.write_text(
        "site_id,site_name,customer_id,segment,revenue_model,time_zone,operating_hours,charger_id,port_id,"
        "connector_id,power_type,rated_kw,commissioned_on,decommissioned_on\n"
        "S1,Site 1,C1,commercial,caas,America/Denver,24/7,C1,S1-P1,1,AC_1_PHASE,7.2,2024-01-01,\n"
    )
    ingest_file(wh, sites)
    # 2 h plugged in at 7.2 kW: at most 7.2 * 2 * 1.1 + 1 = 16.84 kWh
    r = ingest_file(
        wh,
        write_ndjson(tmp_path / "c.ndjson", [cdr(id="OK", total_energy=16.5), cdr(id="TOO", total_energy=40.5)]),
    )
    assert (r.accepted, r.quarantined) == (1, 1)
    (field, reason) = wh.con.execute("SELECT field, reason FROM quarantine").fetchall()[0]
    assert field == "energy_kwh" and "is more than port S1-P1 rated 7.2 kW can deliver in 2.0 h" in reason
    identity_holds(wh)


def test_a_full_disk_midway_leaves_the_warehouse_as_it_was(wh, tmp_path, monkeypatch):
    import duckdb

    first = ingest_file(wh, FIXTURES / "metrics" / "sites.csv")
    before = {t: wh.count(t) for t in ("sites", "ports", "sessions", "ingest_ledger", "quarantine")}

    def disk_full(*args, **kwargs):
        raise duckdb.IOException("IO Error: Could not write file: No space left on device")

    monkeypatch.setattr(after_write, "follow_history", disk_full)  # after the rows are written, before commit
    with pytest.raises(duckdb.IOException, match="No space left"):
        ingest_file(wh, FIXTURES / "metrics" / "cdrs.ndjson")
    assert {t: wh.count(t) for t in before} == before
    monkeypatch.undo()
    r = ingest_file(wh, FIXTURES / "metrics" / "cdrs.ndjson")
    assert r.status == "committed" and r.file_id == first.file_id + 1
    identity_holds(wh)


def test_only_a_file_changed_just_before_it_was_read_is_hashed_twice(wh, tmp_path, monkeypatch):
    calls = []
    real = loader.hashlib.file_digest

    def spy(f, name):
        calls.append(name)
        return real(f, name)

    monkeypatch.setattr(loader.hashlib, "file_digest", spy)
    fresh = write_ndjson(tmp_path / "fresh.ndjson", [cdr(id="F1")])  # written a moment ago
    assert ingest_file(wh, fresh).status == "committed" and calls == ["sha256"]
    monkeypatch.setattr(loader, "RECENT_NS", 0)  # as if the file had been left alone for long
    calls.clear()
    assert ingest_file(wh, write_ndjson(tmp_path / "old.ndjson", [cdr(id="O1")])).status == "committed"
    assert calls == []
