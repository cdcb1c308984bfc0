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


def test_declared_columns_and_unit_suffixes_get_a_unit():
    t = pa.table({"site_id": ["A"], "currency": ["USD"], "npv_minor": [1], "energy_kwh": [1.5], "mystery_minor": [2],
                  "mystery_rate": [0.5], "mystery": [3]})  # fmt: skip
    r = table_result(t, "x")
    # a key, the currency and an undeclared column have none; a unit suffix of the house's naming rule declares
    # one (`_minor`), an ambiguous one (`_rate`: a fraction? a price?) does not
    assert dict(r.units) == {"npv_minor": MINOR, "energy_kwh": KWH, "mystery_minor": MINOR}
    assert (r.num_rows, r.title) == (1, "x")
    assert dict(units_of(["mystery_minor"], {"mystery_minor": "kW"})) == {"mystery_minor": "kW"}


def test_results_are_frozen():
    r = TableResult(pa.table({"a": [1]}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.title = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.units["a"] = "kWh"  # type: ignore[index]
