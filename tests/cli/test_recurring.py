"""The CLI, run in process: `mrr` and `revenue` on the hand-computed contracts of tests/contracts/test_mrr.py."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evrevops.cli import app

runner = CliRunner()


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_mrr_json_fields_and_formats(tmp_path, fmt):
    from tests.contracts import test_mrr as hand

    db = str(tmp_path / "w.duckdb")
    assert runner.invoke(app, ["--db", db, "ingest", *map(str, hand.write_files(tmp_path))]).exit_code == 0
    r = runner.invoke(app, ["--db", db, "mrr", "--month", "2025-03", "--by", "customer", "--format", fmt])
    assert r.exit_code == 0, r.output
    if fmt == "json":
        recs = {x["customer"]: x for x in json.loads(r.stdout)}
        want = ("mrr_start", "new", "expansion", "contraction", "churn", "reactivation", "mrr_end", "nrr", "grr")
        assert set(want) | {"currency"} <= set(recs["A"])
        assert (recs["A"]["expansion"], recs["C"]["new"], recs["A"]["currency"]) == (15000, 15000, "USD")
    bad = runner.invoke(app, ["--db", db, "mrr", "--by", "planet"])
    assert bad.exit_code == 2 and "unknown grain" in bad.output


def test_revenue_renders_every_format(tmp_path):
    from tests.contracts import test_mrr as hand

    db = str(tmp_path / "w.duckdb")
    assert runner.invoke(app, ["--db", db, "ingest", *map(str, hand.write_files(tmp_path))]).exit_code == 0
    for fmt in ("table", "csv", "json"):
        r = runner.invoke(app, ["--db", db, "revenue", "--month", "2025-02", "--to-month", "2025-03", "--by", "customer", "--format", fmt])  # fmt: skip
        assert r.exit_code == 0, r.output
    recs = json.loads(r.stdout)
    assert {(x["customer"], x["month"]) for x in recs} >= {("A", "2025-02"), ("A", "2025-03"), ("C", "2025-03")}
    assert all(x["total_minor"] == sum(x[f"{s}_minor"] for s in ("hardware", "installation", "software", "caas", "maintenance", "sla_credit", "energy")) for x in recs)  # fmt: skip
