"""The loader: counts identity, idempotence, replacement by last_updated, atomicity."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evrevops.formats.base import Batch, quarantine_table
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import IngestError, file_checksum, ingest_file, load_batch
from evrevops.warehouse.schema import TABLES
from tests.helpers.cdrs import cdr, write_cdrs, write_ndjson

ROOT = Path(__file__).resolve().parents[2]


def snapshot(db: Path) -> dict[str, str]:
    """A digest of every table's full content, independent of physical order."""
    wh = open_warehouse(db)
    out = {}
    for t in [*TABLES, "ingest_ledger", "quarantine", "schema_version"]:
        rows = wh.con.sql(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall()
        out[t] = hashlib.sha256(repr(rows).encode()).hexdigest() + f":{len(rows)}"
    wh.close()
    return out


def ledger_identity_holds(wh) -> bool:
    rows = wh.con.sql("SELECT records_read, accepted, duplicate, quarantined FROM ingest_ledger").fetchall()
    return all(r == a + d + q for r, a, d, q in rows)


def test_identity_and_idempotent_reingest(tmp_path):
    p = write_ndjson(tmp_path / "a.ndjson", [cdr(id="1"), cdr(id="2"), "{bad", cdr(id="3", total_energy=-1)])
    db = tmp_path / "w.duckdb"
    wh = open_warehouse(db)
    r = ingest_file(wh, p)
    assert (r.records_read, r.accepted, r.duplicate, r.quarantined) == (4, 2, 0, 2)
    wh.close()
    before = snapshot(db)
    wh = open_warehouse(db)
    r2 = ingest_file(wh, p)
    assert r2.status == "unchanged" and r2.accepted == 0 and r2.records_read == r2.duplicate + r2.quarantined
    wh.close()
    assert snapshot(db) == before  # nothing changed, not even the ledger
    wh = open_warehouse(db)
    q = wh.con.sql("SELECT source_record, field, reason, path FROM quarantine ORDER BY 1").fetchall()
    assert q[0][:3] == (3, None, "malformed JSON") and q[0][3].endswith("a.ndjson")
    assert q[1][:3] == (4, "total_energy", "negative energy: -1")
    assert ledger_identity_holds(wh)


def test_same_records_in_another_file_are_duplicates(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    ingest_file(wh, write_ndjson(tmp_path / "a.ndjson", [cdr(id="1"), cdr(id="2")]))
    r = ingest_file(wh, write_ndjson(tmp_path / "b.ndjson", [cdr(id="2"), cdr(id="3"), cdr(id="3")]))
    assert (r.records_read, r.accepted, r.duplicate, r.quarantined) == (3, 1, 2, 0)
    assert wh.count("sessions") == 3
    assert ledger_identity_holds(wh)


def test_newer_last_updated_replaces_older_is_duplicate(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    ingest_file(
        wh, write_ndjson(tmp_path / "a.ndjson", [cdr(id="1", total_energy=10, last_updated="2025-03-10T00:00:00Z")])
    )
    r = ingest_file(
        wh, write_ndjson(tmp_path / "b.ndjson", [cdr(id="1", total_energy=12, last_updated="2025-03-11T00:00:00Z")])
    )
    assert (r.accepted, r.replaced, r.duplicate) == (1, 1, 0)
    r = ingest_file(
        wh, write_ndjson(tmp_path / "c.ndjson", [cdr(id="1", total_energy=99, last_updated="2025-03-10T12:00:00Z")])
    )
    assert (r.accepted, r.replaced, r.duplicate) == (0, 0, 1)
    assert wh.con.sql("SELECT energy_kwh, file_id FROM sessions").fetchall() == [(12.0, 2)]


def test_implied_rows_never_overwrite(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    wh.con.execute(
        "INSERT INTO sites (site_id, name, segment, time_zone) VALUES ('S1', 'Depot One', 'fleet', 'America/Denver')"
    )
    ingest_file(wh, write_ndjson(tmp_path / "a.ndjson", [cdr(id="1")]))
    assert wh.con.sql("SELECT name, segment, time_zone FROM sites").fetchall() == [
        ("Depot One", "fleet", "America/Denver")
    ]
    assert wh.con.sql("SELECT port_id, site_id FROM ports").fetchall() == [("S1-P1", "S1")]


def test_partial_columns_update_only_what_the_file_carries(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    wh.con.execute("INSERT INTO sites (site_id, name, segment) VALUES ('S1', 'Old name', 'fleet')")
    batch = Batch("x", 1, tables={"sites": pa.table({"site_id": ["S1"], "name": ["New name"], "source_record": [1]})})
    r = load_batch(wh, tmp_path / "x", "c1", batch)
    assert (r.accepted, r.replaced) == (1, 1)
    assert wh.con.sql("SELECT name, segment FROM sites").fetchall() == [("New name", "fleet")]


def test_absorbed_records_share_their_owners_fate(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    rows = pa.table(
        {
            "charger_id": ["CP1"],
            "observed_at": pa.array([pa.scalar(0, pa.timestamp("us")).as_py()], pa.timestamp("us")),
            "source_record": [1],
        }
    )
    absorbed = pa.table({"source_record": [2, 4], "owner_record": [1, 3]})
    b = Batch(
        "ocpp-log",
        4,
        tables={"heartbeats": rows},
        absorbed=absorbed,
        quarantine=quarantine_table([(3, "status", "missing status", "{}")]),
    )
    r = load_batch(wh, tmp_path / "x", "c1", b)
    assert (r.records_read, r.accepted, r.duplicate, r.quarantined) == (4, 2, 0, 2)
    b2 = Batch(
        "ocpp-log", 2, tables={"heartbeats": rows}, absorbed=pa.table({"source_record": [2], "owner_record": [1]})
    )
    r2 = load_batch(wh, tmp_path / "y", "c2", b2)
    assert (r2.accepted, r2.duplicate) == (0, 2)


def test_failure_mid_load_rolls_back_everything(tmp_path):
    db = tmp_path / "w.duckdb"
    wh = open_warehouse(db)
    ingest_file(wh, write_ndjson(tmp_path / "a.ndjson", [cdr(id="1")]))
    wh.close()
    before = snapshot(db)
    wh = open_warehouse(db)
    good = pa.table(
        {
            "session_id": ["x"],
            "site_id": ["S"],
            "started_at": pa.array([0], pa.timestamp("us")),
            "ended_at": pa.array([0], pa.timestamp("us")),
            "energy_kwh": [1.0],
            "plugged_in_s": [0.0],
            "charging_s": [0.0],
            "idle_s": [0.0],
            "source_record": [1],
        }
    )
    bad = pa.table({"no_such_column": [1], "source_record": [2]})
    with pytest.raises(IngestError):
        load_batch(wh, tmp_path / "z", "c9", Batch("x", 2, tables={"sessions": good, "sites": bad}))
    wh.close()
    assert snapshot(db) == before


def _ingest_cmd(db: Path, path: Path) -> list[str]:
    # the ingest alone (no refresh of the kept facts after it), so the kills land in its transaction
    return [sys.executable, "-m", "evrevops.cli", "--db", str(db), "ingest", str(path), "--output", "json", "--no-keep"]


@pytest.mark.slow
def test_sigkill_midway_leaves_warehouse_as_before_then_file_ingests_cleanly(tmp_path):
    big = write_cdrs(tmp_path / "big-cdrs.ndjson", 200_000, start="2023-06-01")  # ends 2026-01, before today
    small = write_ndjson(tmp_path / "small.ndjson", [cdr(id="pre1"), cdr(id="pre2")])
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    # Reference: how long a complete ingest of the big file takes, on a scratch copy.
    ref_db = tmp_path / "ref.duckdb"
    subprocess.run(_ingest_cmd(ref_db, small), env=env, check=True, capture_output=True)
    t0 = time.perf_counter()
    subprocess.run(_ingest_cmd(ref_db, big), env=env, check=True, capture_output=True)
    full = time.perf_counter() - t0
    reference = snapshot(ref_db)

    db = tmp_path / "w.duckdb"
    subprocess.run(_ingest_cmd(db, small), env=env, check=True, capture_output=True)
    before = snapshot(db)
    midway = 0
    for fraction in (0.3, 0.5, 0.7):
        proc = subprocess.Popen(_ingest_cmd(db, big), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(full * fraction)
        if proc.poll() is not None:
            break  # finished before the kill (slow reference run); later fractions would be too
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = snapshot(db)
        if state == before:
            midway += 1
            continue
        # A kill that lands after COMMIT (while the process exits) leaves the complete file: never anything between.
        assert all(state[t] == reference[t] for t in TABLES), f"partial ingest visible after SIGKILL at {fraction:.0%}"
        break
    assert midway >= 1, "no kill landed inside the ingest transaction"
    done = subprocess.run(_ingest_cmd(db, big), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    after = snapshot(db)
    for t in TABLES:
        assert after[t] == reference[t], t
    wh = open_warehouse(db)
    assert wh.count("sessions") == 200_002
    assert wh.con.sql("SELECT checksum FROM ingest_ledger WHERE path LIKE '%big-cdrs%'").fetchall() == [
        (file_checksum(big),)
    ]
    assert ledger_identity_holds(wh)


def _session_batch(rows: list[tuple[str, int]]) -> Batch:
    """Sessions rows ``(session_id, last_updated day)``: energy = day, so the stored row shows which version won."""
    n = len(rows)
    day = [pa.scalar(d * 86_400_000_000, pa.timestamp("us")).as_py() for _, d in rows]
    return Batch(
        "ocpi-cdrs",
        n,
        tables={
            "sessions": pa.table(
                {
                    "session_id": [s for s, _ in rows],
                    "started_at": pa.array([0] * n, pa.timestamp("us")),
                    "ended_at": pa.array([0] * n, pa.timestamp("us")),
                    "energy_kwh": [float(d) for _, d in rows],
                    "plugged_in_s": [0.0] * n,
                    "charging_s": [0.0] * n,
                    "idle_s": [0.0] * n,
                    "last_updated_at": pa.array(day, pa.timestamp("us")),
                    "source_record": list(range(1, n + 1)),
                }
            )
        },
    )


files = st.lists(
    st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(min_value=1, max_value=4)), max_size=8),
    min_size=1,
    max_size=5,
)


@settings(max_examples=40, deadline=None)
@given(files)
def test_one_row_per_key_and_the_newest_version_wins(tmp_path_factory, batches):
    """The sessions key has no index: the loader alone keeps one row per session_id, holding its newest version."""
    wh = open_warehouse(tmp_path_factory.mktemp("w") / "w.duckdb")
    newest: dict[str, int] = {}
    for i, rows in enumerate(batches):
        r = load_batch(wh, Path(f"f{i}"), f"c{i}", _session_batch(rows))
        assert r.records_read == r.accepted + r.duplicate + r.quarantined
        for s, d in rows:
            newest[s] = max(newest.get(s, 0), d)
    stored = dict(wh.con.sql("SELECT session_id, energy_kwh::INTEGER FROM sessions").fetchall())
    assert wh.count("sessions") == len(stored) == len(newest)
    assert stored == newest
    wh.close()


def test_a_null_states_nothing_in_tables_filled_piece_by_piece(tmp_path):
    """A StopTransaction logged in the day after its StartTransaction completes the stored row, in either order."""
    ts = lambda h: pa.scalar(h * 3_600_000_000, pa.timestamp("us")).as_py()  # noqa: E731

    def tx(started, ended, meter_start, meter_stop, reason):
        return pa.table(
            {
                "charger_id": ["CP1"],
                "transaction_id": ["42"],
                "started_at": pa.array([started], pa.timestamp("us")),
                "ended_at": pa.array([ended], pa.timestamp("us")),
                "meter_start_wh": pa.array([meter_start], pa.float64()),
                "meter_stop_wh": pa.array([meter_stop], pa.float64()),
                "stop_reason": pa.array([reason], pa.string()),
                "source_record": [1],
            }
        )

    start = tx(ts(1), None, 1000.0, None, None)
    stop = tx(None, ts(3), None, 21000.0, "Local")
    for order in ((start, stop), (stop, start)):
        wh = open_warehouse(tmp_path / f"w{len(list(tmp_path.iterdir()))}.duckdb")
        r1 = load_batch(wh, tmp_path / "day1", "c1", Batch("ocpp-log", 1, tables={"ocpp_transactions": order[0]}))
        r2 = load_batch(wh, tmp_path / "day2", "c2", Batch("ocpp-log", 1, tables={"ocpp_transactions": order[1]}))
        assert (r1.accepted, r2.accepted, r2.replaced) == (1, 1, 1)
        assert wh.con.sql(
            "SELECT started_at, ended_at, meter_start_wh, meter_stop_wh, stop_reason FROM ocpp_transactions"
        ).fetchall() == [(ts(1), ts(3), 1000.0, 21000.0, "Local")]
        # the stop-only row again states nothing new: a duplicate
        r3 = load_batch(wh, tmp_path / "day2-again", "c3", Batch("ocpp-log", 1, tables={"ocpp_transactions": stop}))
        assert (r3.accepted, r3.duplicate, r3.replaced) == (0, 1, 0)
        wh.close()


def test_a_location_without_opening_times_keeps_the_sites_csv_hours(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    wh.con.execute("INSERT INTO sites (site_id, name, operating_hours) VALUES ('S1', 'Depot', 'Mo-Fr 06:00-22:00')")
    b = Batch(
        "ocpi-locations",
        1,
        tables={
            "sites": pa.table(
                {
                    "site_id": ["S1"],
                    "name": ["Depot One"],
                    "operating_hours": pa.array([None], pa.string()),
                    "source_record": [1],
                }
            )
        },
    )
    r = load_batch(wh, tmp_path / "locs", "c1", b)
    assert r.replaced == 1
    assert wh.con.sql("SELECT name, operating_hours FROM sites").fetchall() == [("Depot One", "Mo-Fr 06:00-22:00")]


def test_implied_rows_fill_what_the_stored_row_leaves_empty(tmp_path):
    """A BootNotification gives a charger known from the sites CSV its firmware and OCPP version, nothing more."""
    wh = open_warehouse(tmp_path / "w.duckdb")
    wh.con.execute("INSERT INTO chargers (charger_id, site_id, vendor, model) VALUES ('CP1', 'S1', 'ABB', 'Terra 184')")
    boot = pa.table(
        {
            "charger_id": ["CP1", "CP2"],
            "vendor": ["ABB Ltd", "Kempower"],
            "model": ["Terra", "S-Series"],
            "firmware_version": ["1.8.2", "2.0"],
            "ocpp_version": ["ocpp1.6", "ocpp2.0.1"],
            "source_record": [1, 2],
        }
    )
    hb = pa.table({"charger_id": ["CP1"], "observed_at": pa.array([0], pa.timestamp("us")), "source_record": [3]})
    r = load_batch(
        wh, tmp_path / "log", "c1", Batch("ocpp-log", 3, tables={"heartbeats": hb}, implied={"chargers": boot})
    )
    assert r.records_read == r.accepted + r.duplicate + r.quarantined
    assert wh.con.sql(
        "SELECT charger_id, site_id, vendor, model, firmware_version, ocpp_version FROM chargers ORDER BY 1"
    ).fetchall() == [
        ("CP1", "S1", "ABB", "Terra 184", "1.8.2", "ocpp1.6"),
        ("CP2", None, "Kempower", "S-Series", "2.0", "ocpp2.0.1"),
    ]
