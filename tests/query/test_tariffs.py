"""query.tariffs: the utility and driver tariffs of a warehouse, and one tariff's structure and sites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evrevops.query import tariffs as qtariffs
from evrevops.warehouse.db import Warehouse
from tests.conftest import FIXTURES
from tests.helpers.warehouse import warehouse_of


@pytest.fixture(scope="module")
def bills_wh(tmp_path_factory) -> Iterator[Warehouse]:
    """tests/fixtures/bills: site S on hand-flat-demand, T on none; hand-ev-rate on no site."""
    wh = Warehouse(warehouse_of(FIXTURES / "bills", tmp_path_factory.mktemp("q-tariffs") / "w.duckdb"), read_only=True)
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def pricing_wh(tmp_path_factory) -> Iterator[Warehouse]:
    """tests/fixtures/pricing: OCPI tariff T1 and the CDRs it priced at site P."""
    path = warehouse_of(FIXTURES / "pricing", tmp_path_factory.mktemp("q-tariffs-p") / "w.duckdb")
    wh = Warehouse(path, read_only=True)
    yield wh
    wh.close()


def test_the_list_has_each_utility_tariff_with_the_sites_on_it_now(bills_wh):
    result = qtariffs.tariffs(bills_wh)
    rows = {r["tariff_id"]: r for r in result.table.to_pylist()}
    assert set(rows) == {"hand-flat-demand", "hand-ev-rate"}
    flat = rows["hand-flat-demand"]
    assert (flat["kind"], flat["utility"], flat["currency"], flat["sites"]) == (
        "utility",
        "Hand Test Utility",
        "USD",
        1,
    )
    assert rows["hand-ev-rate"]["sites"] == 0
    assert result.units["sites"] == "count"


def test_a_utility_tariff_shows_its_charges_with_units_and_its_sites(bills_wh):
    found = qtariffs.tariff(bills_wh, "hand-flat-demand")
    assert found.kind == "utility"
    got = [(r["charge"], r["rate"], r["unit"], r["months"], r["hours"]) for r in found.structure.table.to_pylist()]
    assert [(c, float(rate), u, m, h) for c, rate, u, m, h in got] == [
        ("energy", 0.10, "$/kWh", "all", "all"),
        ("flat demand", 10.0, "$/kW", "all", "all"),
        ("fixed", 20.0, "$/month", "all", "all"),
    ]
    assert found.sites.table.column("site_id").to_pylist() == ["S"]
    assert "demand window 15 min" in found.notes


def test_a_driver_tariff_shows_its_price_components_and_the_sites_it_priced(pricing_wh):
    listed = qtariffs.tariffs(pricing_wh).table.to_pylist()
    assert [(r["tariff_id"], r["kind"], r["currency"], r["sites"]) for r in listed] == [
        ("US*EVR*T1", "driver", "USD", 1)
    ]
    found = qtariffs.tariff(pricing_wh, "US*EVR*T1")
    got = [(r["component"], float(r["price"]), r["unit"], r["restrictions"]) for r in found.structure.table.to_pylist()]
    assert got == [
        ("FLAT", 1.0, "USD/session", ""),
        ("ENERGY", 0.40, "USD/kWh", ""),
        ("PARKING_TIME", 12.5, "USD/hour", "duration_s 3600.."),
    ]
    sessions = (
        pricing_wh.fetch("SELECT count(*) AS n FROM sessions WHERE tariff_id = 'US*EVR*T1'").column("n")[0].as_py()
    )
    assert sessions > 0
    assert found.sites.table.to_pylist()[0]["site_id"] == "P"
    assert found.sites.table.to_pylist()[0]["sessions"] == sessions


def test_an_unknown_tariff_is_a_key_error_and_the_ids_list_the_known_ones(bills_wh):
    with pytest.raises(KeyError):
        qtariffs.tariff(bills_wh, "hand-flat")
    assert qtariffs.tariff_ids(bills_wh) == ["hand-ev-rate", "hand-flat-demand"]


def test_spans_of_months_and_hours():
    assert qtariffs._spans([0, 1, 2, 3, 4, 9, 10, 11], qtariffs._MONTHS) == "Jan-May,Oct-Dec"
    assert qtariffs._spans([16, 17, 18, 19, 20]) == "16-20"
    assert qtariffs._spans([5, 23]) == "5,23"
    assert qtariffs._spans(list(range(24))) == "all"
