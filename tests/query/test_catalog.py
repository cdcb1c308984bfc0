"""query.catalog: the input formats and shipped mappings, and the metric registry (list, explain, Markdown)."""

from __future__ import annotations

import pytest

from evrevops import formats as fmts
from evrevops.metrics.registry import METRICS
from evrevops.query import catalog


def test_the_input_formats_then_each_shipped_mapping():
    r = catalog.input_formats()
    rows = r.table.to_pylist()
    assert r.title == "input formats" and r.column_names == ["format", "description"] and not r.units
    assert [x["format"] for x in rows[: len(fmts.FORMATS)]] == list(fmts.FORMATS)
    mapped = [x["format"] for x in rows[len(fmts.FORMATS) :]]
    assert mapped[0] == "session-csv --mapping acn" and "status-snapshots --mapping esb_ecars" in mapped
    assert mapped[-3:] == ["crm-csv --mapping hubspot", "crm-csv --mapping salesforce",
                           "crm-csv --mapping salesforce_history"]  # fmt: skip
    assert len(mapped) == sum(len(catalog.mappings(f)) for f in catalog.MAPPED_FORMATS)
    # the formats in MAPPED_FORMATS order, each format's mappings by name
    order = [m.split(" --mapping ")[0] for m in mapped]
    assert order == sorted(order, key=catalog.MAPPED_FORMATS.index)


def test_a_mapping_is_checked_by_its_format():
    assert [m.name for m in catalog.mappings("crm-csv")] == ["hubspot", "salesforce", "salesforce_history"]
    assert catalog.mappings("status-snapshots")[0].input_format == "status-snapshots"
    catalog.check_mapping("session-csv", "dundee")
    catalog.check_mapping("status-snapshots", "esb_ecars")
    with pytest.raises(ValueError, match="unknown CRM mapping 'nope'; known: hubspot"):
        catalog.check_mapping("crm-csv", "nope")
    with pytest.raises(ValueError):
        catalog.check_mapping("crm-csv", "dundee")  # a session mapping is not a CRM one
    catalog.check_format("ocpi-cdrs")
    with pytest.raises(ValueError, match="unknown format 'nope'; known: acn-json"):
        catalog.check_format("nope")


def test_the_metrics_of_the_registry():
    r = catalog.metrics()
    rows = r.table.to_pylist()
    assert r.title == "metrics" and r.column_names == ["name", "unit", "formula", "grains", "source"]
    assert len(rows) == len(METRICS) and [x["name"] for x in rows] == list(METRICS)
    util = next(x for x in rows if x["name"] == "utilization")
    assert util["unit"] == METRICS["utilization"].unit and util["grains"] == ",".join(METRICS["utilization"].grains)
    assert catalog.is_metric("utilization") and not catalog.is_metric("nope")


def test_explaining_a_metric():
    e = catalog.explain_metric("utilization", by="site", period="day")
    m = METRICS["utilization"]
    assert (e.name, e.label, e.unit, e.formula, e.source) == (m.name, m.label, m.unit, m.formula, m.source)
    assert e.grains == tuple(m.grains) and e.close_view is None and e.sql.startswith("WITH ")
    month = catalog.explain_metric("utilization")
    assert month.close_view == "kept_close_network" and catalog.explain_metric("sessions", by="site").close_view == (
        "kept_close_site"
    )
    with pytest.raises(ValueError, match="dialect"):
        catalog.explain_metric("utilization", dialect="nope")


def test_the_metric_reference_is_the_checked_in_one():
    from tests.conftest import ROOT

    assert catalog.metrics_markdown() == (ROOT / "docs" / "metrics.md").read_text()
