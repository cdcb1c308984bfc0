"""Results declare their columns' units: metrics from the registry, engine columns from the declared vocabulary."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest

from evrevops.metrics.registry import METRICS
from evrevops.query.result import COLUMN_UNITS, KWH, MINOR, TableResult, table_result, units_of


def test_every_metric_has_its_registry_unit():
    assert all(COLUMN_UNITS[m.name] == m.unit for m in METRICS.values())
    assert COLUMN_UNITS["energy_revenue_minor"] == MINOR == "minor units"


def test_only_declared_columns_get_a_unit():
    t = pa.table({"site_id": ["A"], "currency": ["USD"], "npv_minor": [1], "energy_kwh": [1.5], "mystery_minor": [2]})
    r = table_result(t, "x")
    # a key, the currency and an undeclared column have none: nothing is guessed from a name's suffix
    assert dict(r.units) == {"npv_minor": MINOR, "energy_kwh": KWH}
    assert (r.num_rows, r.column_names, r.title) == (1, ["site_id", "currency", "npv_minor", "energy_kwh", "mystery_minor"], "x")  # fmt: skip
    assert dict(units_of(["mystery_minor"], {"mystery_minor": "kW"})) == {"mystery_minor": "kW"}


def test_results_are_frozen():
    r = TableResult(pa.table({"a": [1]}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.title = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.units["a"] = "kWh"  # type: ignore[index]
