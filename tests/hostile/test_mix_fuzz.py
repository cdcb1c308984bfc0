"""Property: after any mix of ingests of mutated real records, no exception escapes and every report runs.

Records of every kind the repository holds as fixtures (OCPI CDRs, Locations and Tariffs, OCPP
1.6 and 2.0.1 logs, URDB tariffs, evrevops' own CSVs) get a few leaves replaced by hostile values
(NaN, infinities, huge or negative numbers, dates in 1970 or 9999, wrong types, deep nesting,
markup and formula text). Each example ingests a handful of such files, in any order, into a copy
of a small warehouse. A reader may refuse a whole file (a ``FormatError`` naming it) but nothing
else may escape; the ledger identity holds; then every report command ends without an unhandled
exception.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.formats import FormatError
from evrevops.refresh import refresh_kept
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from tests.hostile.test_ingest_hostile import identity_holds

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
runner = CliRunner()

JSON_SOURCES = {  # name: (file, format, kind)
    "cdrs": (FIXTURES / "metrics" / "cdrs.ndjson", "ocpi-cdrs", "ndjson"),
    "pricing-cdrs": (FIXTURES / "pricing" / "cdrs.ndjson", "ocpi-cdrs", "ndjson"),
    "ocpp16": (FIXTURES / "ocpp" / "ocpp16_session.ndjson", "ocpp-log", "ndjson"),
    "ocpp201": (FIXTURES / "ocpp" / "ocpp201_session.ndjson", "ocpp-log", "ndjson"),
    "location": (FIXTURES / "ocpi" / "location_example.json", "ocpi-locations", "object"),
    "tariffs": (FIXTURES / "pricing" / "tariffs.json", "ocpi-tariffs", "document"),
    "urdb": (FIXTURES / "bills" / "urdb-hand.json", "urdb", "document"),
}
CSV_SOURCES = {
    "sites": FIXTURES / "metrics" / "sites.csv",
    "contracts": FIXTURES / "csv" / "contracts_good.csv",
    "customers": FIXTURES / "csv" / "customers_good.csv",
    "deals": FIXTURES / "csv" / "deals_good.csv",
    "incidents": FIXTURES / "csv" / "incidents_good.csv",
    "costs": FIXTURES / "csv" / "costs_good.csv",
}
REPORTS = [
    ["headline"],
    ["metrics", "--by", "site"],
    ["uptime", "--by", "site"],
    ["outages"],
    ["mrr"],
    ["revenue"],
    ["pnl"],
    ["bill", "--site", "A"],
    ["price"],
    ["sla"],
    ["risk"],
    ["sites", "list"],
    ["quarantine"],
    ["status"],
]

hostile_json = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "9999-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z",
            "2200-01-01T00:00:00Z",
            "2025-13-45T99:99:99Z",
            "1e308",
            "-1",
            "NaN",
            "[/x]",
            '=HYPERLINK("http://x")',
            "'; DROP TABLE sessions; --",
            "XYZ",
            "",
        ]
    ),
    st.text(max_size=40),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
hostile_cell = st.one_of(
    st.sampled_from(
        ["", "NaN", "inf", "-1", "1e20", "9999-12-31", "1970-01-01", "[/x]", "=cmd|' /C calc'!A0", "x" * 300]
    ),
    st.text(max_size=20).filter(lambda t: "\x00" not in t),
)


def _leaves(obj, path=()) -> list[tuple]:
    if isinstance(obj, dict):
        out = [path] if path else []
        for k, v in obj.items():
            out += _leaves(v, (*path, k))
        return out
    if isinstance(obj, list):
        out = [path] if path else []
        for i, v in enumerate(obj):
            out += _leaves(v, (*path, i))
        return out
    return [path]


def _set(obj, path: tuple, value) -> None:
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value


def _records(name: str) -> tuple[list, str]:
    path, _, kind = JSON_SOURCES[name]
    text = path.read_text()
    if kind == "ndjson":
        return [json.loads(line) for line in text.splitlines() if line.strip()], kind
    doc = json.loads(text)
    if isinstance(doc, dict):
        for key in ("data", "items"):
            if isinstance(doc.get(key), list):
                return doc[key], kind
        return [doc], kind
    return doc, kind


@st.composite
def hostile_file(draw) -> tuple[str, str, str | None, str]:
    """``(file name, content, format, source)``: a fixture with a few of its leaves (or cells) replaced."""
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(JSON_SOURCES)))
        recs, kind = _records(name)
        recs = json.loads(json.dumps(recs))
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(recs) - 1))
            paths = _leaves(recs[i])
            if not paths:
                continue
            _set(recs[i], paths[draw(st.integers(0, len(paths) - 1))], draw(hostile_json))
        if draw(st.integers(0, 9)) == 0:
            recs.append({"deep": json.loads("[" * 80 + "]" * 80)})
        if kind == "ndjson":
            text = "\n".join(json.dumps(r) for r in recs) + "\n"
        else:
            text = json.dumps(recs if kind == "document" or len(recs) != 1 else recs[0])
        return f"{name}.{'ndjson' if kind == 'ndjson' else 'json'}", text, JSON_SOURCES[name][1], name
    name = draw(st.sampled_from(sorted(CSV_SOURCES)))
    with open(CSV_SOURCES[name], newline="") as f:
        rows = list(csv.reader(f))
    for _ in range(draw(st.integers(1, 3))):
        r = draw(st.integers(1, len(rows) - 1))
        c = draw(st.integers(0, len(rows[r]) - 1))
        rows[r][c] = draw(hostile_cell)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return f"{name}.csv", buf.getvalue(), None, name


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    d = tmp_path_factory.mktemp("mix-base")
    wh = open_warehouse(d / "w.duckdb")
    for f in ("sites.csv", "cdrs.ndjson"):
        assert ingest_file(wh, FIXTURES / "metrics" / f).quarantined == 0
    refresh_kept(wh)
    wh.close()
    return d / "w.duckdb"


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(hostile_file(), min_size=1, max_size=4))
def test_any_mix_of_hostile_ingests_leaves_every_report_working(base, tmp_path_factory, files):
    d = tmp_path_factory.mktemp("mix")
    db = d / "w.duckdb"
    shutil.copy(base, db)
    wh = open_warehouse(db)
    try:
        for k, (name, text, fmt, _) in enumerate(files):
            p = d / f"{k}-{name}"
            p.write_text(text)
            try:
                ingest_file(wh, p, fmt)
            except FormatError as exc:
                assert str(p) in str(exc)  # a refused file is named
            identity_holds(wh)
        refresh_kept(wh)
    finally:
        wh.close()
    for cmd in REPORTS:
        r = runner.invoke(app, ["--db", str(db), *cmd, "--format", "json"])
        assert r.exception is None or isinstance(r.exception, SystemExit), (cmd, files, r.exception)
        assert "Traceback" not in r.output
