"""The tables the bill SQL and the repricing SQL join to, from parsed tariffs, against hand values."""

from __future__ import annotations

from decimal import Decimal

from evrevops.tariffs.ocpi_tariff import parse_tariff
from evrevops.tariffs.tariff_tables import element_table
from evrevops.tariffs.utility_rate import parse_rate, rate_tables

RATE = {
    "label": "hand-tou",
    "energyratestructure": [[{"max": 1000, "rate": 0.10}, {"rate": 0.08, "adj": 0.01}], [{"rate": 0.30}]],
    "energyweekdayschedule": [[1 if 16 <= h < 21 else 0 for h in range(24)] for _ in range(12)],
    "energyweekendschedule": [[0] * 24 for _ in range(12)],
    "flatdemandstructure": [[{"rate": 10}], [{"rate": 15}]],
    "flatdemandmonths": [1 if 6 <= m <= 9 else 0 for m in range(1, 13)],
    "fixedchargefirstmeter": 100,
    "fixedchargeunits": "$/year",
    "demandwindow": 30,
}


def test_rate_tables_lay_out_hours_tiers_and_meta():
    t = rate_tables([parse_rate(RATE)])
    hours = t["rate_hours"].to_pylist()
    assert len(hours) == 12 * 2 * 24
    # June (month 6), a weekday, 17:00: on-peak energy period 1, no demand schedule
    row = next(r for r in hours if r["month"] == 6 and not r["weekend"] and r["hour"] == 17)
    assert row == {"k": 5 * 48 + 17, "tn": 0, "month": 6, "weekend": False, "hour": 17, "ep": 1, "dp": None}
    energy = [(r["period"], r["lower"], r["upper"], r["rate"]) for r in t["rate_energy_tiers"].to_pylist()]
    assert energy == [
        (0, 0.0, 1000.0, Decimal("0.1")),
        (0, 1000.0, None, Decimal("0.09")),
        (1, 0.0, None, Decimal("0.3")),
    ]
    flat = {r["period"]: r["rate"] for r in t["rate_demand_tiers"].to_pylist() if r["kind"] == "flat"}
    assert flat == {m: Decimal(15 if 6 <= m <= 9 else 10) for m in range(1, 13)}
    (meta,) = t["rate_meta"].to_pylist()
    assert meta["utility_tariff_id"] == "hand-tou" and meta["window_s"] == 1800
    assert meta["fixed_month"] == Decimal("8.333333333333")  # $100 a year / 12, to 12 places


def test_rate_tables_number_tariffs_in_order():
    other = dict(RATE, label="second")
    t = rate_tables([parse_rate(RATE), parse_rate(other)])
    assert [r["utility_tariff_id"] for r in t["rate_meta"].to_pylist()] == ["hand-tou", "second"]
    assert min(r["k"] for r in t["rate_hours"].to_pylist() if r["tn"] == 1) == 1024


TARIFF = {
    "id": "T1",
    "currency": "EUR",
    "min_price": {"excl_vat": 1.0, "incl_vat": 1.2},
    "elements": [
        {
            "price_components": [
                {"type": "ENERGY", "price": 0.25, "vat": 20, "step_size": 1},
                {"type": "FLAT", "price": 1},
            ],
            "restrictions": {"start_time": "07:30", "end_time": "22:00", "day_of_week": ["MONDAY", "SUNDAY"]},
        },
        {
            "price_components": [{"type": "PARKING_TIME", "price": 2, "step_size": 300}],
            "restrictions": {"min_duration": 600},
        },
    ],
}


def test_element_table_has_a_row_per_component_with_its_element_restrictions():
    t = element_table({"T1": parse_tariff(TARIFF)})
    rows = t["tariff_elements"].to_pylist()
    assert [(r["el"], r["dim"]) for r in rows] == [(0, "ENERGY"), (0, "FLAT"), (1, "PARKING_TIME")]
    energy = rows[0]
    assert energy["start_us"] == (7 * 60 + 30) * 60 * 1_000_000 and energy["end_us"] == 22 * 3600 * 1_000_000
    assert energy["days_mask"] == 1 | 1 << 6  # Monday bit 0, Sunday bit 6
    assert energy["price"] == Decimal("0.25") and energy["vat"] == Decimal("20")
    parking = rows[2]
    assert (parking["step"], parking["min_dur_s"], parking["start_us"], parking["days_mask"]) == (300, 600, None, None)
    assert not any(r["reservation"] for r in rows)
    (bounds,) = t["tariff_bounds"].to_pylist()
    assert bounds == {"tariff_id": "T1", "currency": "EUR", "min_excl": Decimal("1"), "min_incl": Decimal("1.2"),
                      "max_excl": None, "max_incl": None}  # fmt: skip
