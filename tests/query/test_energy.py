"""query.energy: a bill row becomes a frozen SiteBill and the record the CLI prints; unbillable sites are named."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from evrevops.query import energy as qenergy
from evrevops.tariffs.billing import LINE_ITEMS


def _row(**over):
    row = {"site_id": "A", "bill_month": dt.date(2025, 10, 1), "first_on": dt.date(2025, 10, 1),
           "last_on": dt.date(2025, 10, 15), "utility_tariff_id": "t1", "currency": "USD", "energy_kwh": 1234.56789,
           "peak_kw": None, "total_minor": 0, "unsupported": '[{"part": "ratchet", "detail": "not modelled"}]'}  # fmt: skip
    row.update({f"{k}_minor": i + 1 for i, k in enumerate(LINE_ITEMS)})
    row["total_minor"] = sum(i + 1 for i in range(len(LINE_ITEMS)))
    row.update(over)
    return row


def test_a_bill_row_as_a_site_bill_and_its_record():
    b = qenergy._site_bill(_row())
    assert (b.month, b.energy_kwh, b.peak_kw, b.total_minor) == ("2025-10", 1234.56789, 0.0, sum(b.line_items_minor.values()))  # fmt: skip
    rec = b.as_record()
    assert list(rec) == ["site_id", "month", "first_on", "last_on", "utility_tariff_id", "currency", "energy_kwh",
                         "peak_kw", *LINE_ITEMS, "total", "unsupported"]  # fmt: skip
    assert (rec["first_on"], rec["last_on"], rec["energy_kwh"]) == ("2025-10-01", "2025-10-15", 1234.568)
    assert rec["unsupported"] == [{"part": "ratchet", "detail": "not modelled"}]
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.total_minor = 1  # type: ignore[misc]


def test_sites_without_a_utility_tariff_are_unbillable(metrics_wh):
    got = qenergy.unbillable(metrics_wh, ["A", "B"])
    assert sorted(u.site_id for u in got) == ["A", "B"] and all(u.utility_tariff_id is None for u in got)
    assert all(u.reason for u in got)
