"""Documentation a user reads is current."""

from __future__ import annotations

from pathlib import Path

from evrevops.formats import FORMATS, session_mappings
from evrevops.formats.crm import crm_mappings
from evrevops.metrics.docs import render
from evrevops.metrics.registry import METRICS

ROOT = Path(__file__).resolve().parents[1]


def test_metrics_md_is_generated_from_the_registry():
    assert (ROOT / "docs" / "metrics.md").read_text() == render(), "docs/metrics.md is stale: run `make docs`"


def test_every_metric_is_documented():
    text = (ROOT / "docs" / "metrics.md").read_text()
    for name, m in METRICS.items():
        assert f"`{name}`" in text and m.formula in text


def test_every_format_and_mapping_is_documented():
    text = (ROOT / "docs" / "formats.md").read_text()
    for name in FORMATS:
        assert f"`{name}`" in text, f"format {name} missing from docs/formats.md"
    for name, _ in session_mappings() + crm_mappings():
        assert f"`{name}`" in text, f"mapping {name} missing from docs/formats.md"


def test_readme_opens_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("\n")[:6]
    assert any("make demo" in line for line in head) and any("make test" in line for line in head)


def test_required_docs_exist():
    for p in (
        "README.md",
        "docs/architecture.md",
        "docs/formats.md",
        "docs/metrics.md",
        "docs/benchmarks.md",
        "docs/demo.md",
        "docs/billing.md",
        "docs/pricing.md",
        "docs/recurring-revenue.md",
        "docs/uptime.md",
        "docs/unit-economics.md",
        "docs/pipeline.md",
        "docs/scale-out.md",
    ):
        assert (ROOT / p).is_file(), p
