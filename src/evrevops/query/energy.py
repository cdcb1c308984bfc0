"""Energy money: a site's utility bill, revenue leakage of CDRs, and what-ifs on energy margin."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from evrevops.query.result import TableResult, table_result
from evrevops.tariffs import repricing, site_bills
from evrevops.tariffs import whatif as wi
from evrevops.tariffs.billing import LINE_ITEMS
from evrevops.warehouse.protocol import WarehouseLike


@dataclass(frozen=True)
class Unbillable:
    """A site that cannot be billed: why, and the utility tariff it names (None when it names none)."""

    site_id: str
    reason: str
    utility_tariff_id: str | None


def unbillable(
    wh: WarehouseLike, site_ids: Sequence[str], first_month: dt.date | None = None, last_month: dt.date | None = None
) -> list[Unbillable]:
    """The sites of *site_ids* with no day on an ingested utility tariff in the months (or at their latest facts)."""
    rows = site_bills.unbilled_sites(wh, list(site_ids), first_month, last_month).to_pylist()
    return [Unbillable(r["site_id"], r["reason"], r["utility_tariff_id"]) for r in rows]


@dataclass(frozen=True)
class SiteBill:
    """A site's utility bill for a month, or for the days of one tariff part of it.

    Attributes
    ----------
    line_items_minor : Mapping[str, int]
        Each line of :data:`evrevops.tariffs.billing.LINE_ITEMS` [minor units of ``currency``].
    unsupported : tuple of Mapping
        The tariff parts not billed, each with its ``part`` and ``detail``.
    """

    site_id: str
    month: str  # YYYY-MM
    first_on: dt.date
    last_on: dt.date
    utility_tariff_id: str
    currency: str
    energy_kwh: float
    peak_kw: float
    line_items_minor: Mapping[str, int]
    total_minor: int
    unsupported: tuple[Mapping[str, Any], ...]

    def as_record(self) -> dict[str, Any]:
        """The bill as a record: dates as ISO text, kWh and kW to 3 places, line items and ``total`` [minor units]."""
        rec: dict[str, Any] = {
            "site_id": self.site_id, "month": self.month, "first_on": self.first_on.isoformat(),
            "last_on": self.last_on.isoformat(), "utility_tariff_id": self.utility_tariff_id,
            "currency": self.currency, "energy_kwh": round(self.energy_kwh, 3), "peak_kw": round(self.peak_kw, 3),
        }  # fmt: skip
        rec.update(self.line_items_minor)
        rec["total"] = self.total_minor
        rec["unsupported"] = [dict(u) for u in self.unsupported]
        return rec


def _site_bill(r: Mapping[str, Any]) -> SiteBill:
    return SiteBill(
        site_id=r["site_id"], month=r["bill_month"].strftime("%Y-%m"), first_on=r["first_on"], last_on=r["last_on"],
        utility_tariff_id=r["utility_tariff_id"], currency=r["currency"], energy_kwh=r["energy_kwh"] or 0.0,
        peak_kw=r["peak_kw"] or 0.0, line_items_minor=MappingProxyType({k: r[f"{k}_minor"] for k in LINE_ITEMS}),
        total_minor=r["total_minor"], unsupported=tuple(json.loads(r["unsupported"] or "[]")),
    )  # fmt: skip


def site_bill(wh: WarehouseLike, site_id: str, month: dt.date) -> tuple[SiteBill, ...]:
    """The bills of *site_id* for *month*: one per tariff part of the month (two when the tariff changes in it).

    Raises
    ------
    ValueError
        A tariff value the bill engine cannot use (named with its tariff).
    """
    return tuple(_site_bill(r) for r in site_bills.month_bills(wh, month, month, [site_id]).to_pylist())


@dataclass(frozen=True)
class Leakage:
    """CDR billed totals against their tariff, by site and month, with the totals over every row."""

    result: TableResult
    leakage_minor: Mapping[str, int]
    """Currency -> leakage over every row [minor units of that currency]."""
    sessions_mismatched: int


def leakage(
    wh: WarehouseLike, first_month: dt.date, last_month: dt.date, site_ids: Sequence[str] | None = None
) -> Leakage:
    """Revenue leakage by site and month: expected − billed over CDRs whose billed total is not the tariff's
    [minor units] (positive: under-billed); what rounding alone explains.

    Raises
    ------
    ValueError
        A tariff value the pricing engine cannot use.
    """
    table = repricing.leakage(wh, first_month, last_month, list(site_ids) if site_ids else None)
    title = f"revenue leakage {first_month:%Y-%m} … {last_month:%Y-%m}"
    by_currency = table.group_by("currency").aggregate([("leakage_minor", "sum"), ("sessions_mismatched", "sum")])
    totals = dict(zip(by_currency["currency"].to_pylist(), by_currency["leakage_minor_sum"].to_pylist(), strict=True))
    totals = {str(c): int(v or 0) for c, v in sorted(totals.items(), key=lambda kv: str(kv[0]))}
    mismatched = sum(int(v or 0) for v in by_currency["sessions_mismatched_sum"].to_pylist())
    return Leakage(table_result(table, title), MappingProxyType(totals), mismatched)


def power_cap(
    wh: WarehouseLike, first_month: dt.date, last_month: dt.date, site_ids: Sequence[str], cap_kw: float | None = None
) -> TableResult:
    """Managed charging under a site cap *cap_kw* [kW] (default: 10–100 % of each site's peak, ``best`` marked):
    demand charge saved, energy revenue lost, net margin change [minor units]."""
    table = wi.power_cap(wh, first_month, last_month, list(site_ids), cap_kw=cap_kw)
    return table_result(table, f"what-if power cap, {first_month:%Y-%m} … {last_month:%Y-%m}")


def driver_price(
    wh: WarehouseLike, first_month: dt.date, last_month: dt.date, site_ids: Sequence[str], tariff_id: str,
    elasticity: float | None = None,
) -> TableResult:  # fmt: skip
    """The same sessions under driver tariff *tariff_id*: energy revenue side by side [minor units], with a demand
    response only for an *elasticity*."""
    table = repricing.price_whatif(wh, first_month, last_month, list(site_ids), tariff_id, elasticity)
    title = f"what-if driver tariff {tariff_id}, {first_month:%Y-%m} … {last_month:%Y-%m}"
    return table_result(table, title)


def utility_tariff(
    wh: WarehouseLike, first_month: dt.date, last_month: dt.date, site_ids: Sequence[str], tariff_id: str
) -> TableResult:
    """The same load under utility tariff *tariff_id*: bills side by side per site, month and tariff part."""
    table = wi.tariff(wh, first_month, last_month, list(site_ids), tariff_id)
    title = f"what-if tariff {tariff_id}, {first_month:%Y-%m} … {last_month:%Y-%m}"
    return table_result(table, title)
