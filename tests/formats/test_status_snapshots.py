"""Status-snapshot logs through a mapping: run-length rows, absence, placeholders, gaps, counting.

``tests/fixtures/status/esb_day.tsv`` (see its README) checks exact rows, fates and reasons
at known lines; a pure-Python model of the rules (every port at every snapshot, then
run-length) checks random logs; an event-mode CSV checks the other mode and the CSV options;
the real ESB ecars month (full real data only: ``$EVREVOPS_REAL_DATA``) is read and every line must be accounted for.
"""

from __future__ import annotations

import datetime as dt
import gzip
import random
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.formats import FORMATS, detect, read
from evrevops.formats.base import FormatError
from evrevops.formats.status_mapping import (
    load_status_mapping,
    load_status_mapping_file,
    match_status_mapping,
    status_mapping_names,
)
from evrevops.formats.status_snapshots import read_snapshots
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import file_checksum, ingest_file, load_batch
from tests.helpers import real_data

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "status"
DAY = FIX / "esb_day.tsv"
REAL = "ireland_esb_chargepoint_status_2018_11/data_evcp_2018-11.txt.gz"
D = dt.datetime
A, B, C, E = "CP:AAA01#StandardType2", "CP:AAA01#CHAdeMO", "CP:BBB02#ComboCCS", "CP:CCC03#FastAC43"
GAP_INFO = "no snapshot for more than 15 min"


def events(batch) -> list[tuple]:
    return [
        (r["port_id"], r["observed_at"], r["status"], r["vendor_error_code"], r["info"], r["source_record"])
        for r in batch.tables["status_events"].to_pylist()
    ]


def absorbed(batch) -> dict[int, int]:
    return {r["source_record"]: r["owner_record"] for r in batch.absorbed.to_pylist()}


def reasons(batch) -> dict[int, tuple[str | None, str]]:
    return {r["source_record"]: (r["field"], r["reason"]) for r in batch.quarantine.to_pylist()}


def fates(batch) -> dict[str, set[int]]:
    """Split the records into with-rows / absorbed / quarantined / nothing, checking they are disjoint."""
    rows = set(batch.tables["status_events"].column("source_record").to_pylist())
    ab = set(absorbed(batch))
    q = set(reasons(batch))
    assert not rows & ab and not rows & q and not ab & q
    assert set(absorbed(batch).values()) <= rows  # an owner holds rows of its own
    return {"rows": rows, "absorbed": ab, "quarantined": q}


# ---------------------------------------------------------------------------------------------
# the hand-written day
# ---------------------------------------------------------------------------------------------


T0 = D(2018, 7, 1)
DAY_ROWS = [
    (A, T0.replace(hour=9), "Occupied", None, None, 2),
    (B, T0.replace(hour=9), "Unavailable", "OOS", None, 3),
    # ports first listed later are free (absent) from the file's first real snapshot on
    (C, T0.replace(hour=9), "Available", None, None, 2),
    (E, T0.replace(hour=9), "Available", None, None, 2),
    (B, T0.replace(hour=9, minute=5), "Available", None, None, 5),
    (C, T0.replace(hour=9, minute=5), "Offline", "OOC", None, 7),
    (A, T0.replace(hour=9, minute=15), "Occupied", None, "partially occupied", 11),
    (C, T0.replace(hour=9, minute=15), "Available", None, None, 11),
    (A, T0.replace(hour=9, minute=20), "Unknown", None, "no data", 13),
    (B, T0.replace(hour=9, minute=20), "Unknown", None, "no data", 13),
    (C, T0.replace(hour=9, minute=20), "Unknown", None, "no data", 13),
    (E, T0.replace(hour=9, minute=20), "Unknown", None, "no data", 13),
    (A, T0.replace(hour=9, minute=30), "Occupied", None, "partially occupied", 15),
    (B, T0.replace(hour=9, minute=30), "Available", None, None, 15),
    (C, T0.replace(hour=9, minute=30), "Available", None, None, 15),
    (E, T0.replace(hour=9, minute=30), "Unavailable", "OOS", None, 16),
    (A, T0.replace(hour=9, minute=45), "Unknown", None, GAP_INFO, 17),
    (B, T0.replace(hour=9, minute=45), "Unknown", None, GAP_INFO, 17),
    (C, T0.replace(hour=9, minute=45), "Unknown", None, GAP_INFO, 17),
    (E, T0.replace(hour=9, minute=45), "Unknown", None, GAP_INFO, 17),
    (A, T0.replace(hour=10), "Occupied", None, "partially occupied", 17),
    (B, T0.replace(hour=10), "Available", None, None, 17),
    (C, T0.replace(hour=10), "Available", None, None, 17),
    (E, T0.replace(hour=10), "Available", None, None, 17),
    (A, T0.replace(hour=10, minute=5), "Unavailable", "OOS", None, 22),
]


def test_day_rows_exactly():
    b = read_snapshots(DAY, "esb_ecars")
    assert events(b) == DAY_ROWS
    rows = b.tables["status_events"].to_pylist()
    assert {(r["port_id"], r["charger_id"], r["connector_id"]) for r in rows} == {
        (A, "CP:AAA01", 1),
        (B, "CP:AAA01", 2),
        (C, "CP:BBB02", 3),
        (E, "CP:CCC03", 4),
    }
    assert {r["protocol"] for r in rows} == {"snapshot"} and {r["error_code"] for r in rows} == {None}


def test_day_fates_counts_and_reasons():
    b = read_snapshots(DAY, "esb_ecars")
    assert b.records_read == 21  # 22 lines, one blank
    f = fates(b)
    assert f["rows"] == {2, 3, 5, 7, 11, 13, 15, 16, 17, 22}
    assert absorbed(b) == {6: 7, 8: 2, 9: 2, 14: 13, 19: 22}
    assert reasons(b) == {
        4: (
            "cp_id",
            "cp_id 'N/A' does not identify one charge point (unnamed points share it): its port cannot be told apart",
        ),
        10: ("status", "unknown status code 'XYZ' (expected OOC, OOS, Occ or Part)"),
        12: (
            "connector_type",
            "unknown connector type 'Type3' (expected StandardType2, CHAdeMO, ComboCCS or FastAC43)",
        ),
        18: ("date, time", "unparseable date/time '20180701 1260' (expected %Y%m%d %H%M)"),
        21: (None, "malformed row: 9 fields expected, 5 found"),
    }
    # nothing stored: the placeholder before any port is known
    assert set(range(1, 23)) - {20} - f["rows"] - f["absorbed"] - f["quarantined"] == {1}
    raw = {r["source_record"]: r["raw"] for r in b.quarantine.to_pylist()}
    assert raw[10] == DAY.read_bytes().decode("latin-1").split("\r\n")[9]  # the line as in the file, decoded
    assert "Grianán" in raw[10]


def test_day_implied_reference_rows():
    b = read_snapshots(DAY, "esb_ecars")
    sites = {r["site_id"]: r for r in b.implied["sites"].to_pylist()}
    assert set(sites) == {"CP:AAA01", "CP:BBB02", "CP:CCC03"}
    # the latest line of the site names it (line 22, out of order but latest in time)
    assert sites["CP:AAA01"] == {
        "site_id": "CP:AAA01",
        "name": "Railway Road, Carlow Town, County Carlow",
        "address": "Railway Road, Carlow Town, County Carlow",
        "latitude": 52.8411,
        "longitude": -6.9231,
        "country": "IRL",
        "time_zone": "Europe/Dublin",
        "source_record": 22,
    }
    assert sites["CP:BBB02"]["name"].startswith("An Grianán Theatre")
    ports = {r["port_id"]: r for r in b.implied["ports"].to_pylist()}
    assert {p: (r["charger_id"], r["site_id"], r["connector_id"], r["connector_standard"], r["power_type"])
            for p, r in ports.items()} == {
        A: ("CP:AAA01", "CP:AAA01", 1, "IEC_62196_T2", "AC_3_PHASE"),
        B: ("CP:AAA01", "CP:AAA01", 2, "CHADEMO", "DC"),
        C: ("CP:BBB02", "CP:BBB02", 3, "IEC_62196_T2_COMBO", "DC"),
        E: ("CP:CCC03", "CP:CCC03", 4, "IEC_62196_T2", "AC_3_PHASE"),
    }  # fmt: skip
    assert {r["charger_id"]: r["site_id"] for r in b.implied["chargers"].to_pylist()} == {
        "CP:AAA01": "CP:AAA01",
        "CP:BBB02": "CP:BBB02",
        "CP:CCC03": "CP:CCC03",
    }
    # implied rows come from good lines only
    bad = set(reasons(b))
    for t in b.implied.values():
        assert not set(t.column("source_record").to_pylist()) & bad


_ARROW = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "DOUBLE": pa.float64(), "TIMESTAMP": pa.timestamp("us")}


def test_column_types_match_the_warehouse(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    b = read_snapshots(DAY, "esb_ecars")
    for name, tbl in [*b.tables.items(), *b.implied.items()]:
        types = dict(wh.con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {name})").fetchall())
        for f in tbl.schema:
            want = pa.int64() if f.name == "source_record" else _ARROW[types[f.name]]
            assert f.type == want, (name, f.name)
    wh.close()


def test_detect_and_read_without_naming_the_mapping(tmp_path):
    assert detect(DAY) == ("status-snapshots", "esb_ecars")
    gz = tmp_path / "esb_day.txt.gz"
    gz.write_bytes(gzip.compress(DAY.read_bytes()))
    assert detect(gz) == ("status-snapshots", "esb_ecars")
    b = read(gz)
    assert b.format == "status-snapshots" and b.mapping == "esb_ecars"
    assert events(b) == events(read_snapshots(DAY, "esb_ecars"))
    assert match_status_mapping("site_id,port_id,segment\n") is None
    assert "status-snapshots" in FORMATS and "esb_ecars" in status_mapping_names()


# ---------------------------------------------------------------------------------------------
# ingest
# ---------------------------------------------------------------------------------------------


def _counts(r) -> tuple[int, int, int, int]:
    return r.records_read, r.accepted, r.duplicate, r.quarantined


def _tables(wh) -> dict[str, list]:
    return {
        t: wh.con.execute(f"SELECT * EXCLUDE (file_id) FROM {t} ORDER BY ALL").fetchall()
        for t in ("status_events", "sites", "chargers", "ports", "quarantine")
    }


def test_ingest_counts_and_idempotent(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    r = ingest_file(wh, DAY, "status-snapshots", "esb_ecars")
    assert _counts(r) == (21, 16, 0, 5) and r.status == "committed"
    assert wh.con.sql("SELECT count(*), count(DISTINCT port_id) FROM status_events").fetchall() == [(25, 4)]  # DAY_ROWS
    assert wh.con.sql("SELECT count(*) FROM sites").fetchall() == [(3,)]
    assert wh.con.sql("SELECT count(*) FROM quarantine").fetchall() == [(5,)]
    before = _tables(wh)
    # the same file again: unchanged
    again = ingest_file(wh, DAY)
    assert again.status == "unchanged" and _counts(again) == (21, 0, 16, 5)
    assert _tables(wh) == before
    # the same lines in another file (LF line ends, gzip): every line with rows or absorbed is a duplicate,
    # the leading placeholder stores nothing (accepted)
    other = tmp_path / "esb_day_lf.tsv.gz"
    other.write_bytes(gzip.compress(DAY.read_bytes().replace(b"\r\n", b"\n")))
    r2 = ingest_file(wh, other, "status-snapshots", "esb_ecars")
    assert _counts(r2) == (21, 1, 15, 5) and r2.status == "committed"
    after = _tables(wh)
    assert {t: v for t, v in after.items() if t != "quarantine"} == {
        t: v for t, v in before.items() if t != "quarantine"
    }
    ledger = wh.con.sql("SELECT records_read, accepted + duplicate + quarantined FROM ingest_ledger").fetchall()
    assert all(a == b for a, b in ledger)
    wh.close()


def test_cli_ingest_with_format_and_mapping(tmp_path):
    db = tmp_path / "w.duckdb"
    runner = CliRunner()
    r = runner.invoke(
        app,
        ["--db", str(db), "ingest", str(DAY), "--format", "status-snapshots", "--mapping", "esb_ecars", "-o", "json"],
    )
    assert r.exit_code == 0, r.output
    assert '"records_read": 21' in r.stdout and '"quarantined": 5' in r.stdout
    other = tmp_path / "other.duckdb"
    r = runner.invoke(
        app, ["--db", str(other), "ingest", str(DAY), "--format", "status-snapshots", "--mapping", "nope"]
    )
    assert r.exit_code == 2 and "unknown status mapping 'nope'" in r.output


# ---------------------------------------------------------------------------------------------
# files that cannot be read, mappings that are wrong
# ---------------------------------------------------------------------------------------------


def _mapping_file(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "m.toml"
    p.write_text(text)
    return p


def _mapping(tmp_path: Path, text: str):
    """A mapping of one's own, loaded from a TOML file (``--mapping`` takes only shipped names)."""
    return load_status_mapping_file(_mapping_file(tmp_path, text))


ESB_TEXT = (Path(__file__).resolve().parents[2] / "src/evrevops/formats/mappings/status/esb_ecars.toml").read_text()


def test_unreadable_files_raise_naming_file_and_line(tmp_path):
    utf8 = _mapping(tmp_path, ESB_TEXT.replace('encoding = "latin-1"', 'encoding = "utf-8"'))
    with pytest.raises(FormatError, match=r"esb_day\.tsv, record 6: .*encoding utf-8"):
        read_snapshots(DAY, utf8)
    with pytest.raises(FormatError, match="unknown status mapping"):
        read_snapshots(DAY, "no_such_mapping")
    mystery = tmp_path / "mystery.tsv"
    mystery.write_text("hello\tworld\n")
    with pytest.raises(FormatError, match=r"mystery\.tsv, record 1: no status mapping recognises"):
        read_snapshots(mystery)
    broken = tmp_path / "broken.tsv.gz"
    broken.write_bytes(gzip.compress(DAY.read_bytes())[:200])
    with pytest.raises(FormatError, match=r"broken\.tsv\.gz"):
        read_snapshots(broken, "esb_ecars")


@pytest.mark.parametrize(
    "change, message",
    [
        (("max_gap_min = 15", "max_gap_min = 15\nfrobnicate = 1"), "unknown sections or keys"),
        (('mode = "snapshot"', 'mode = "event"'), "max_gap_min applies to snapshot mode only"),
        (("FastAC43 = { id = 4", "FastAC43 = { id = 3"), "the same id"),
        (('value = "{status}"', 'value = "{state}"'), "names column 'state'"),
        (("{time|zfill4}", "{time|pad}"), "unknown filter 'pad'"),
        (('{ code = "Occ", status = "Occupied" }', '{ code = "OOC", status = "Occupied" }'), "lists a code twice"),
        (("header = false", "header = false\nsep = 1"), r"\[csv\] has unknown keys \['sep'\]"),
    ],
)
def test_bad_mappings_are_refused(tmp_path, change, message):
    assert change[0] in ESB_TEXT
    path = _mapping_file(tmp_path, ESB_TEXT.replace(*change))
    with pytest.raises(ValueError, match=message):
        load_status_mapping_file(path)
    with pytest.raises(ValueError, match="unknown status mapping"):  # a path is never a mapping name
        load_status_mapping(str(path))


# ---------------------------------------------------------------------------------------------
# event mode, header, quoting
# ---------------------------------------------------------------------------------------------

EVENT_MAPPING = """
description = "test: a status-change log with a header"
mode = "event"

[csv]
delimiter = ","
header = true
columns = ["when", "station", "plug", "state", "site"]

[time]
value = "{when}"
formats = ["%Y-%m-%dT%H:%M:%S"]
zone = "America/New_York"

[ids]
charger = "{station|upper}"
port = "{station|upper}/{plug}"
site = "{site}"
connector = "{plug}"

[status]
value = "{state|lower}"
codes = [
    { code = "faulted", status = "Faulted", error_code = "OtherError" },
    { code = "charging", status = "Charging" },
    { code = "available", status = "Available" },
]

[placeholder]
station = "-"

[site]
name = "{site}"
"""

EVENT_LOG = """when,station,plug,state,site,extra
2025-03-09T01:00:00,cp-1,1,Available,"Main St, Lot A",x
2025-03-09T01:30:00,cp-1,1,available,"Main St, Lot A",x
2025-03-09T03:30:00,cp-1,1,Charging,"Main St, Lot A",x
2025-03-09T03:30:00,cp-1,2,Faulted,"Main St, Lot A",x
2025-03-09T03:30:00,cp-1,2,Charging,"Main St, Lot A",x
2025-03-10T12:00:00,-,,,,
2025-03-10T12:05:00,cp-1,1,Charging,"Main St, ""Lot"" A",x
"2025-03-10T12:10:00",cp-1,x,Charging,"Main St, Lot A",x
"""


def test_event_mode_no_absence_no_gaps(tmp_path):
    m = _mapping(tmp_path, EVENT_MAPPING)
    log = tmp_path / "changes.csv"
    log.write_text(EVENT_LOG)
    b = read_snapshots(log, m)
    assert b.records_read == 8
    got = [
        (r["port_id"], r["connector_id"], r["observed_at"], r["status"], r["error_code"], r["info"], r["protocol"], r["source_record"])
        for r in b.tables["status_events"].to_pylist()
    ]  # fmt: skip
    assert got == [
        ("CP-1/1", 1, D(2025, 3, 9, 6), "Available", None, None, "event", 2),  # 01:00 EST
        ("CP-1/1", 1, D(2025, 3, 9, 7, 30), "Charging", None, None, "event", 4),  # 03:30 EDT
        ("CP-1/2", 2, D(2025, 3, 9, 7, 30), "Faulted", "OtherError", None, "event", 5),  # the worse of two
        # a day of silence is no gap in a change log; the placeholder is no data for both
        ("CP-1/1", 1, D(2025, 3, 10, 16), "Unknown", None, "no data", "event", 7),
        ("CP-1/2", 2, D(2025, 3, 10, 16), "Unknown", None, "no data", "event", 7),
        ("CP-1/1", 1, D(2025, 3, 10, 16, 5), "Charging", None, None, "event", 8),
    ]
    assert absorbed(b) == {3: 2, 6: 5}
    assert reasons(b) == {9: ("plug", "connector is not an integer: 'x'")}
    sites = b.implied["sites"].to_pylist()
    # quotes hold the delimiter, a doubled quote is a quote; the latest line names the site
    assert [(s["site_id"], s["name"], s["time_zone"]) for s in sites] == [
        ('Main St, "Lot" A', 'Main St, "Lot" A', "America/New_York"),
        ("Main St, Lot A", "Main St, Lot A", "America/New_York"),
    ]
    # each port's site is the one of its latest line
    assert {p["port_id"]: p["site_id"] for p in b.implied["ports"].to_pylist()} == {
        "CP-1/1": 'Main St, "Lot" A',
        "CP-1/2": "Main St, Lot A",
    }
    missing = tmp_path / "no_site.csv"
    missing.write_text(EVENT_LOG.replace(",site,", ",place,"))
    with pytest.raises(FormatError, match=r"no_site\.csv, record 1: header lacks columns \['site'\]"):
        read_snapshots(missing, m)


# ---------------------------------------------------------------------------------------------
# random logs against a model of the rules
# ---------------------------------------------------------------------------------------------

PORTS = [("CP:P1", "StandardType2"), ("CP:P1", "CHAdeMO"), ("CP:P2", "ComboCCS"), ("CP:P3", "FastAC43")]
CONNECTORS = ["StandardType2", "CHAdeMO", "ComboCCS", "FastAC43"]
CODES = ["OOC", "OOS", "Occ", "Part"]  # worst first, as the mapping lists them
STATE = {
    "OOC": ("Offline", "OOC", None),
    "OOS": ("Unavailable", "OOS", None),
    "Occ": ("Occupied", None, None),
    "Part": ("Occupied", None, "partially occupied"),
}
DUBLIN = ZoneInfo("Europe/Dublin")


def _line(t: dt.datetime, cp: str, conn: str, code: str) -> str:
    return "\t".join([t.strftime("%Y%m%d"), str(t.hour * 100 + t.minute), cp, conn, code, "0,0", "Somewhere", "0", "0"])


def _model(lines: list[str]) -> tuple[list[tuple], dict[int, int]]:
    """The rules, written directly: every known port at every snapshot, then run-length; and the absorbed lines."""
    listed: dict[tuple[dt.datetime, str], list[tuple[int, int]]] = {}
    placeholders: dict[dt.datetime, list[int]] = {}
    unobserved: set[tuple[dt.datetime, str]] = set()
    for rec, text in enumerate(lines, 1):
        f = text.split("\t")
        if len(f) != 9:
            continue
        try:
            local = dt.datetime.strptime(f"{f[0]} {f[1].zfill(4)}", "%Y%m%d %H%M")
        except ValueError:
            continue
        ts = local.replace(tzinfo=DUBLIN).astimezone(dt.UTC).replace(tzinfo=None)
        if f[2:5] == ["NA", "NA", "NA"]:
            placeholders.setdefault(ts, []).append(rec)
        elif f[2] == "N/A" or f[3] not in CONNECTORS:
            continue
        elif f[4] in CODES:
            listed.setdefault((ts, f"{f[2]}#{f[3]}"), []).append((CODES.index(f[4]), rec))
        else:
            unobserved.add((ts, f"{f[2]}#{f[3]}"))
    snaps = sorted({t for t, _ in listed} | set(placeholders))
    real = {t for t, _ in listed}
    owner = {t: min(r for (u, _), v in listed.items() if u == t for _, r in v) if t in real else min(placeholders[t])
             for t in snaps}  # fmt: skip
    # every port of the file is observed (free where not listed) from the file's first real snapshot
    first = {p: min(real) for _, p in listed}
    cells: dict[str, list[tuple[dt.datetime, tuple, int]]] = {p: [] for p in first}
    no_data = ("Unknown", None, "no data")
    for i, t in enumerate(snaps):
        if i and t - snaps[i - 1] > dt.timedelta(minutes=15):
            for p in first:
                if first[p] <= snaps[i - 1]:
                    cells[p].append((snaps[i - 1] + dt.timedelta(minutes=15), ("Unknown", None, GAP_INFO), owner[t]))
        for p in first:
            if first[p] > t:
                continue
            if t not in real:
                cells[p].append((t, no_data, owner[t]))
            elif (t, p) in listed:
                code, rec = min(listed[(t, p)])
                cells[p].append((t, STATE[CODES[code]], rec))
            elif (t, p) not in unobserved:
                cells[p].append((t, ("Available", None, None), owner[t]))
    rows, run_src = [], {}
    for p, seq in cells.items():
        prev = src = None
        for t, state, rec in seq:
            key = "no data" if state[0] == "Unknown" else state
            if key != prev:
                rows.append((p, t, *state, rec))
                src = rec
            prev = key
            run_src[(t, p)] = src
    has_rows = {r[-1] for r in rows}
    owners: dict[int, int] = {}
    for (t, p), v in listed.items():
        for _, rec in v:
            owners[rec] = run_src[(t, p)]
    for t, recs in placeholders.items():
        if t in real:
            o = owner[t] if owner[t] in has_rows else owners[owner[t]]
        else:
            at = [s for (u, _), s in run_src.items() if u == t]
            o = min(at) if at else None
        for rec in recs:
            if o is not None:
                owners[rec] = o
    ab = {rec: o for rec, o in owners.items() if rec not in has_rows and rec != o}
    rows.sort(key=lambda r: (r[1], r[0]))
    return rows, ab


@st.composite
def logs(draw) -> list[str]:
    t = D(2018, 11, 5, 8, 0)
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 14))):
        t += dt.timedelta(minutes=draw(st.sampled_from([2, 3, 5, 5, 16, 40])))
        kind = draw(st.sampled_from(["real", "real", "real", "placeholder", "mixed"]))
        if kind != "real":
            lines.append(_line(t, "NA", "NA", "NA"))
        if kind != "placeholder":
            for cp, conn in PORTS:
                for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
                    lines.append(_line(t, cp, conn, draw(st.sampled_from([*CODES, "Occ", "BAD"]))))
            if draw(st.booleans()):
                lines.append(_line(t, "N/A", "StandardType2", "Occ"))
    if draw(st.booleans()):
        lines.append(_line(t, "CP:P1", "StandardType2", "Occ").replace(f"\t{t.hour * 100 + t.minute}\t", "\t2399\t", 1))
    order = draw(st.permutations(range(len(lines))))
    return [lines[i] for i in order]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs())
def test_random_logs_follow_the_rules(lines):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.tsv"
        path.write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
        b = read_snapshots(path, "esb_ecars")
    want_rows, want_absorbed = _model(lines)
    assert sorted(events(b), key=lambda r: (r[1], r[0])) == want_rows
    assert absorbed(b) == want_absorbed
    f = fates(b)
    assert b.records_read == len(lines)
    assert len(f["rows"] | f["absorbed"] | f["quarantined"]) <= b.records_read


def test_model_sees_a_known_case():
    """The model itself, on the hand-written day (so a wrong model cannot pass the random test by agreeing)."""
    lines = DAY.read_bytes().decode("latin-1").split("\r\n")[:-1]
    rows, ab = _model(lines)
    assert rows == sorted(DAY_ROWS, key=lambda r: (r[1], r[0]))
    assert ab == {6: 7, 8: 2, 9: 2, 14: 13, 19: 22}


def test_order_of_lines_does_not_matter(tmp_path):
    lines = DAY.read_bytes().decode("latin-1").split("\r\n")[:-1]
    body = [x for x in lines if x]
    random.Random(7).shuffle(body)
    path = tmp_path / "shuffled.tsv"
    path.write_bytes(("\r\n".join(body) + "\r\n").encode("latin-1"))
    b = read_snapshots(path, "esb_ecars")
    base = read_snapshots(DAY, "esb_ecars")
    line_of = {i: body.index(x) + 1 for i, x in enumerate(lines, 1) if x}

    def strip(ev):
        return sorted((p, t, s, v, i) for p, t, s, v, i, _ in ev)

    assert strip(events(b)) == strip(events(base))
    assert len(b.quarantine) == len(base.quarantine)
    assert {line_of[r] for r in reasons(base)} == set(reasons(b))


# ---------------------------------------------------------------------------------------------
# the real ESB ecars month (November 2018)
# ---------------------------------------------------------------------------------------------


def one(con, sql: str, params: list | None = None) -> tuple:
    return con.execute(sql, params or []).fetchall()[0]


def _plain_read(path: Path) -> str:
    """The file as nine text columns, read without the reader's rules (for independent counts)."""
    cols = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(9))
    return f"""read_csv('{path}', delim='\t', header=false, quote='', escape='', auto_detect=false,
                        columns={{{cols}}}, encoding='latin-1', compression='gzip')"""


@pytest.mark.slow
def test_real_esb_month(tmp_path):
    path = real_data.full(REAL)  # in the full real data only (licence unknown)
    con = duckdb.connect()
    con.execute(
        f"""CREATE TABLE plain AS SELECT *, strptime(c0 || lpad(c1, 4, '0'), '%Y%m%d%H%M') AS t
            FROM {_plain_read(path)}"""
    )
    n, unnamed, placeholders, n_ports, n_chargers, n_times, first_real = one(
        con,
        """SELECT count(*), count(*) FILTER (WHERE c2 = 'N/A'), count(*) FILTER (WHERE c4 = 'NA'),
                  count(DISTINCT (c2, c3)) FILTER (WHERE c2 NOT IN ('N/A', 'NA')),
                  count(DISTINCT c2) FILTER (WHERE c2 NOT IN ('N/A', 'NA')), count(DISTINCT t),
                  min(t) FILTER (WHERE c4 <> 'NA')
           FROM plain""",
    )
    leading = one(con, "SELECT count(*) FROM plain WHERE c4 = 'NA' AND t < ?", [first_real])[0]
    assert (n, n_times, placeholders) == (1_385_813, 10_638, 4_158)
    assert n_ports == 648 - 2  # the ('N/A', StandardType2) rows and the placeholders identify no port
    assert first_real == D(2018, 11, 1, 10, 9) and leading == 121  # no data from midnight to 10:05

    t0 = time.perf_counter()
    batch = read_snapshots(path, "esb_ecars")
    seconds = time.perf_counter() - t0
    f = fates(batch)
    # every line has rows, is absorbed, quarantined, or is a placeholder before the first real poll
    assert n - len(f["rows"]) - len(f["absorbed"]) - len(f["quarantined"]) == leading
    assert len(f["quarantined"]) == unnamed
    assert len(f["absorbed"]) > 0.9 * n  # most polls repeat the state
    print(f"read {n:,} lines in {seconds:.1f} s: {batch.tables['status_events'].num_rows:,} rows")

    wh = open_warehouse(tmp_path / "w.duckdb")
    r = load_batch(wh, path, file_checksum(path), batch)
    assert r.records_read == n and r.accepted + r.duplicate + r.quarantined == n
    assert r.quarantined == unnamed and r.duplicate == 0
    assert wh.con.execute("SELECT DISTINCT field, reason FROM quarantine").fetchall() == [
        ("cp_id", "cp_id 'N/A' does not identify one charge point (unnamed points share it): its port cannot be told apart")
    ]  # fmt: skip
    ev = "status_events"
    assert one(wh.con, f"SELECT count(DISTINCT port_id), count(DISTINCT charger_id) FROM {ev}") == (n_ports, n_chargers)
    assert one(wh.con, "SELECT count(*), count(DISTINCT site_id) FROM ports") == (n_ports, n_chargers)
    sites = "SELECT count(*) FROM sites WHERE country = 'IRL' AND time_zone = 'Europe/Dublin' AND name IS NOT NULL"
    assert one(wh.con, sites) == (n_chargers,)
    # run-length: no row repeats its port's previous state
    repeats = f"""SELECT count(*) FROM (SELECT status, vendor_error_code, info,
                         lag(status) OVER w AS s0, lag(vendor_error_code) OVER w AS v0, lag(info) OVER w AS i0
                  FROM {ev} WINDOW w AS (PARTITION BY port_id ORDER BY observed_at))
                  WHERE status = s0 AND vendor_error_code IS NOT DISTINCT FROM v0 AND info IS NOT DISTINCT FROM i0"""
    assert one(wh.con, repeats) == (0,)
    statuses = dict(wh.con.execute(f"SELECT status, count(*) FROM {ev} GROUP BY 1").fetchall())
    assert set(statuses) == {"Occupied", "Available", "Unavailable", "Offline", "Unknown"}
    # November: Irish time is UTC. No two polls are more than 15 min apart (placeholders fill the outages), so
    # every Unknown row is a placeholder's, at a placeholder's instant
    unknown = wh.con.execute(f"SELECT DISTINCT info, observed_at FROM {ev} WHERE status = 'Unknown'").fetchall()
    ph_times = {t for (t,) in con.execute("SELECT DISTINCT t FROM plain WHERE c4 = 'NA'").fetchall()}
    assert {i for i, _ in unknown} == {"no data"} and {t for _, t in unknown} <= ph_times
    # every port's first row is at the first real poll: free (absent) until it is first listed
    ports = {
        p for (p,) in con.execute("SELECT DISTINCT c2 || '#' || c3 FROM plain WHERE c2 NOT IN ('N/A', 'NA')").fetchall()
    }
    first = dict(wh.con.execute(f"SELECT port_id, min(observed_at) FROM {ev} GROUP BY 1").fetchall())
    assert set(first) == ports and set(first.values()) == {first_real}
    again = ingest_file(wh, path)
    assert again.status == "unchanged" and again.quarantined == r.quarantined
    wh.close()
