"""query.exports: the Parquet export and a quarter's NEVI files, each with what it wrote."""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest

from evrevops.query import exports


def test_the_parquet_export_lists_each_table_with_its_rows(metrics_wh, tmp_path):
    r = exports.parquet(metrics_wh, tmp_path / "pq")
    rows = {x["table"]: x for x in r.table.to_pylist()}
    assert r.title == f"exported to {tmp_path / 'pq'}" and r.column_names == ["table", "file", "rows"]
    assert r.units == {"rows": "count"}
    assert (rows["sites"]["rows"], rows["ports"]["rows"], rows["sessions"]["rows"]) == (2, 3, 6)
    assert rows["ingest_ledger"]["rows"] == 2 and rows["quarantine"]["rows"] == 0
    for x in rows.values():  # each file holds the rows it says
        assert pq.read_table(tmp_path / "pq" / x["file"]).num_rows == x["rows"]
    manifest = json.loads((tmp_path / "pq" / "manifest.json").read_text())
    assert {k: v["rows"] for k, v in manifest["tables"].items()} == {k: x["rows"] for k, x in rows.items()}


def test_a_quarters_nevi_files_and_their_records(metrics_wh, tmp_path):
    assert exports.quarter_first("2024Q1").isoformat() == "2024-01-01"
    with pytest.raises(ValueError):
        exports.quarter_first("2024-13")
    r = exports.nevi(metrics_wh, "2024Q1", tmp_path, "csv")
    assert (
        r.title == "NEVI 2024Q1" and r.column_names == ["file", "path", "records"] and r.units == {"records": "count"}
    )
    got = {x["file"]: (x["path"], x["records"]) for x in r.table.to_pylist()}
    # six CDRs; the one that starts on 1 April (UTC) ended after the quarter; no telemetry: no uptime or outages
    assert {k: n for k, (_, n) in got.items()} == {"uptime": 0, "outages": 0, "sessions": 5}
    assert got["sessions"][0] == str(tmp_path / "nevi-2024Q1-sessions.csv")
    for path, n in got.values():  # each file holds its records under a header
        with open(path, newline="") as f:
            assert len(list(csv.reader(f))) == n + 1
