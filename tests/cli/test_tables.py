"""Tables a person reads: at most 120 characters unless asked, the report's columns first, the rest named,
long text cut and named, no blank grid, and the same values as CSV/JSON."""

import io
import json

import pyarrow as pa
import pytest
from rich.console import Console

import evrevops.cli
from evrevops.cli.render import OutFormat, render, settings
from evrevops.cli.tables import WIDTH, field_table, person_table
from evrevops.query.result import table_result


@pytest.fixture
def screen(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(evrevops.cli, "out", Console(file=buf, width=250, color_system=None))
    monkeypatch.setitem(settings, "columns", None)
    monkeypatch.setitem(settings, "all", False)
    monkeypatch.setitem(settings, "command", None)
    return buf


def _wide(n_rows=3, n_cols=30):
    cols = {"site_id": [f"SITE-{i:05d}" for i in range(n_rows)], "currency": ["USD"] * n_rows}
    for j in range(n_cols):
        cols[f"amount_{j:02d}_minor"] = [123456789 + i for i in range(n_rows)]
    cols["reasons"] = ["; ".join(f"reason {k} is a long explanation" for k in range(4))] * n_rows
    return table_result(pa.table(cols), "wide")


def test_a_wide_report_fits_120_and_names_the_rest(screen, capsys):
    person_table(_wide().table.to_pylist(), _wide().column_names, _wide().units, "wide", show=["site_id", "reasons"])
    lines = screen.getvalue().splitlines()
    assert max(len(x) for x in lines) <= WIDTH
    assert "site_id" in lines[2] or "site_id" in lines[3]
    err = capsys.readouterr().err
    assert "more columns (--all, or --columns NAME,... to pick)" in err and "amount_29_minor" in err
    assert "long text shortened in 3 cells" in err
    body = screen.getvalue()
    assert "1,234,567.89" in body and "(USD)" in body and "123456789" not in body  # dollars, not cents
    assert "reason 0 is a long explanation (+3 more)" in body


def test_all_shows_every_column_however_wide(screen, monkeypatch):
    monkeypatch.setitem(settings, "all", True)
    render(_wide(), OutFormat.table, "wide")
    top = next(x for x in screen.getvalue().splitlines() if x.startswith("┏"))
    assert top.count("┳") == 31 and len(top) > WIDTH  # site_id, 30 amounts, reasons (currency is in the headers)


def test_columns_picks_in_table_csv_and_json(screen, monkeypatch, capsys):
    monkeypatch.setitem(settings, "columns", "reasons,site_id")
    render(_wide(), OutFormat.json)
    rows = json.loads(capsys.readouterr().out)
    assert list(rows[0]) == ["reasons", "site_id"] and rows[0]["reasons"].count(";") == 3  # whole in JSON
    render(_wide(), OutFormat.csv)
    assert capsys.readouterr().out.splitlines()[0] == "reasons,site_id"
    render(_wide(), OutFormat.table, "wide")
    header_line = next(x for x in screen.getvalue().splitlines() if "site_id" in x)
    assert header_line.index("reasons") < header_line.index("site_id")


def test_an_unknown_column_says_which_exist(screen, monkeypatch):
    import typer

    monkeypatch.setitem(settings, "columns", "site,reasons")
    with pytest.raises(typer.Exit):
        render(_wide(), OutFormat.table, "wide")


def test_no_rows_is_said_not_drawn(screen, capsys):
    empty = table_result(pa.table({"site_id": pa.array([], pa.string()), "fee_minor": pa.array([], pa.int64())}))
    render(empty, OutFormat.table, "fees")
    assert screen.getvalue() == "fees: no rows\n"
    render(empty, OutFormat.json, "fees")
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [] and "no rows: fees" in captured.err


def test_a_column_without_values_is_left_out_and_named(screen, capsys):
    t = table_result(pa.table({"site_id": ["A", "B"], "mttr_h": pa.array([None, None], pa.float64())}))
    render(t, OutFormat.table, "t")
    assert "mttr" not in screen.getvalue()
    assert "no values in: mttr_h" in capsys.readouterr().err


def test_mixed_currencies_show_the_code_beside_each_amount(screen):
    t = table_result(pa.table({"site_id": ["A", "B"], "currency": ["USD", "EUR"], "fee_minor": [100, 250]}))
    render(t, OutFormat.table, "t")
    assert "1.00 USD" in screen.getvalue() and "2.50 EUR" in screen.getvalue()


def test_field_table_units_and_no_blank_lines(screen, capsys):
    rows = [{"scope": "network", "currency": "USD", "utilization": 0.1132, "energy_revenue_minor": 4781718, "x": None}]
    field_table(rows, ["currency", "utilization", "energy_revenue_minor", "x"], "scope",
                {"utilization": "fraction", "energy_revenue_minor": "minor units"}, "headline", "metric")  # fmt: skip
    text = screen.getvalue()
    assert "utilization (%)" in text and "11.3" in text and "47,817.18" in text and "energy_revenue (USD)" in text
    assert "currency" not in text and "no values in: x" in capsys.readouterr().err
