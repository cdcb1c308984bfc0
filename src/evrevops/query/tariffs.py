"""Tariffs the warehouse knows: utility tariffs (URDB records, what a site pays its utility) and driver tariffs
(OCPI tariffs, what a driver pays), listed, and one of them shown with its structure and the sites on it.

Rates are shown as the exact decimal text the record states, with their unit beside them (``$/kWh``, ``$/kW``,
``$/month``; an OCPI price in the tariff's currency per kWh, hour or session, excluding VAT).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from evrevops.core.sqltext import sql_literal
from evrevops.query.result import COUNT, TableResult, table_result
from evrevops.warehouse.db import Warehouse

UTILITY, DRIVER = "utility", "driver"
UTILITY_CURRENCY = "USD"  # URDB rates are in US dollars (the bill engine bills them so)

_LIST_SQL = f"""
SELECT u.utility_tariff_id AS tariff_id, '{UTILITY}' AS kind, u.name, u.utility,
       '{UTILITY_CURRENCY}' AS currency, u.start_on, u.end_on,
       (SELECT count(*) FROM sites s WHERE s.utility_tariff_id = u.utility_tariff_id) AS sites
FROM utility_tariffs u
UNION ALL
SELECT d.tariff_id, '{DRIVER}', d.type, d.party_id, d.currency, CAST(d.start_at AS DATE), CAST(d.end_at AS DATE),
       (SELECT count(DISTINCT x.site_id) FROM sessions x WHERE x.tariff_id = d.tariff_id)
FROM driver_tariffs d
ORDER BY kind DESC, tariff_id
"""


def tariffs(wh: Warehouse) -> TableResult:
    """Every tariff: utility tariffs (``sites``: the sites on it now) then driver tariffs (``sites``: the sites
    whose sessions it priced), with name (a driver tariff's OCPI type), utility (a driver tariff's party),
    currency and effective dates."""
    return table_result(wh.fetch(_LIST_SQL), "tariffs", {"sites": COUNT})


def tariff_ids(wh: Warehouse) -> list[str]:
    """The id of every tariff, as :func:`tariffs` lists them."""
    return [str(x) for x in tariffs(wh).table.column("tariff_id").to_pylist()]


@dataclass(frozen=True)
class TariffDetail:
    """One tariff: its row of :func:`tariffs`, its structure (one row per charge) and the sites on it.

    Attributes
    ----------
    tariff_id, kind : str
        The id, and ``utility`` or ``driver``.
    summary : TableResult
        Its row of :func:`tariffs`.
    structure : TableResult
        A utility tariff: ``charge`` (energy, demand, flat demand, fixed, minimum), ``period``, ``tier``,
        ``up_to`` (the tier's upper limit), ``rate`` (exact text), ``unit``, ``months`` and ``hours`` (weekday
        hours; weekends as noted) when it applies. A driver tariff: ``element``, ``component`` (ENERGY, TIME,
        FLAT, PARKING_TIME), ``price`` (exact text, excl. VAT), ``unit``, ``vat_pct``, ``step_size`` and
        ``restrictions``.
    sites : TableResult
        A utility tariff: each site with the dates it is on it (``valid_from``/``valid_to``, empty: open).
        A driver tariff: each site whose sessions it priced, with ``sessions`` and the first and last.
    notes : tuple of str
        What the engines say about the record (parts not billed, readings of ambiguous fields).
    """

    tariff_id: str
    kind: str
    summary: TableResult
    structure: TableResult
    sites: TableResult
    notes: tuple[str, ...]


def tariff(wh: Warehouse, tariff_id: str) -> TariffDetail:
    """Tariff *tariff_id* with its structure and its sites.

    Raises
    ------
    KeyError
        An unknown tariff (:func:`tariff_ids` lists the known ones).
    """
    listed = tariffs(wh).table
    rows = listed.filter(pc.equal(listed.column("tariff_id"), tariff_id))
    if not rows.num_rows:
        raise KeyError(tariff_id)
    kind = str(rows.column("kind")[0].as_py())
    summary = table_result(rows, f"tariff {tariff_id}", {"sites": COUNT})
    if kind == UTILITY:
        structure, notes = _utility_structure(wh, tariff_id)
        sites = wh.fetch(
            "SELECT site_id, valid_from, valid_to FROM site_history WHERE utility_tariff_id = "
            f"{_lit(tariff_id)} ORDER BY site_id, valid_from NULLS FIRST"
        )
    else:
        structure, notes = _driver_structure(wh, tariff_id)
        sites = wh.fetch(
            "SELECT site_id, count(*) AS sessions, min(started_at) AS first_started_at, "
            f"max(started_at) AS last_started_at FROM sessions WHERE tariff_id = {_lit(tariff_id)} "
            "GROUP BY site_id ORDER BY site_id"
        )
    return TariffDetail(
        tariff_id,
        kind,
        summary,
        table_result(structure, f"structure of {tariff_id}"),
        table_result(sites, f"sites on {tariff_id}", {"sessions": COUNT}),
        notes,
    )


def _lit(text: str) -> str:
    return sql_literal(text)


def _record(wh: Warehouse, sql: str) -> str:
    return str(wh.fetch(sql).column(0)[0].as_py())


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _spans(indexes: Sequence[int], names: Sequence[str] | None = None) -> str:
    """``0-6,21-23`` (or ``Jan-May,Oct-Dec`` with *names*) for sorted *indexes*; ``all`` when complete."""
    full = len(names) if names else 24
    if len(indexes) == full:
        return "all"
    out: list[str] = []
    start = prev = -2
    for i in [*indexes, -2]:
        if i != prev + 1:
            if start >= 0:
                a, b = (names[start], names[prev]) if names else (str(start), str(prev))
                out.append(a if start == prev else f"{a}-{b}")
            start = i
        prev = i
    return ",".join(out)


def _when(weekday: Sequence[Sequence[int]], weekend: Sequence[Sequence[int]], period: int) -> tuple[str, str]:
    """The months and the weekday hours period *period* applies in (weekend hours noted when they differ)."""
    months = [m for m in range(12) if period in weekday[m] or (weekend and period in weekend[m])]
    days = sorted({h for m in months for h, p in enumerate(weekday[m]) if p == period})
    ends = sorted({h for m in months for h, p in enumerate(weekend[m]) if p == period}) if weekend else days
    hours = _spans(days) if days else "none"
    if ends != days:
        hours += f" (weekends {_spans(ends) if ends else 'none'})"
    return _spans(months, _MONTHS), hours


def _tier_rows(charge: str, unit: str, periods: Sequence[Any], when: Any) -> list[dict[str, Any]]:
    rows = []
    for p, tiers in enumerate(periods):
        months, hours = when(p)
        for t, (upper, rate) in enumerate(tiers):
            rows.append({"charge": charge, "period": p, "tier": t, "up_to": None if upper is None else str(upper),
                         "rate": str(rate), "unit": unit, "months": months, "hours": hours})  # fmt: skip
    return rows


def _utility_structure(wh: Warehouse, tariff_id: str) -> tuple[pa.Table, tuple[str, ...]]:
    from evrevops.tariffs.utility_rate import RateError, parse_rate

    text = _record(wh, f"SELECT rate_json FROM utility_tariffs WHERE utility_tariff_id = {_lit(tariff_id)}")
    try:
        r = parse_rate(text, tariff_id)
    except (RateError, ValueError, KeyError, TypeError) as exc:
        return pa.table({"charge": pa.array([], pa.string())}), (f"the record cannot be billed: {exc}",)
    rows = _tier_rows("energy", "$/kWh", r.energy, lambda p: _when(r.energy_weekday, r.energy_weekend, p))
    rows += _tier_rows("demand", "$/kW", r.demand, lambda p: _when(r.demand_weekday, r.demand_weekend, p))
    flat_months = lambda p: (_spans([m for m, x in enumerate(r.flat_months) if x == p], _MONTHS), "all")  # noqa: E731
    rows += _tier_rows("flat demand", "$/kW", r.flat, flat_months)
    for charge, amount, unit in (("fixed", r.fixed, r.fixed_units), ("minimum", r.minimum, r.minimum_units)):
        if amount != Decimal(0):
            rows.append({"charge": charge, "period": None, "tier": None, "up_to": None, "rate": str(amount),
                         "unit": unit, "months": "all", "hours": "all"})  # fmt: skip
    notes = tuple(f"not billed: {what} ({detail})" for what, detail in r.unsupported) + r.notes
    notes += (f"demand window {r.window_min} min",) if r.demand or r.flat else ()
    return _rows_table(rows, ("charge", "period", "tier", "up_to", "rate", "unit", "months", "hours")), notes


def _restrictions_text(r: Any) -> str:
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    parts = []
    if r.start_time is not None or r.end_time is not None:
        hhmm = (f"{t:%H:%M}" if t is not None else None for t in (r.start_time, r.end_time))
        parts.append("{}-{}".format(*(h or d for h, d in zip(hhmm, ("00:00", "24:00"), strict=True))))
    if r.days is not None:
        parts.append(",".join(days[d] for d in sorted(r.days)))
    if r.start_date is not None or r.end_date is not None:
        parts.append(f"dates {r.start_date or ''}..{r.end_date or ''}")
    for name in ("kwh", "current", "power"):
        lo, hi = getattr(r, f"min_{name}"), getattr(r, f"max_{name}")
        if lo is not None or hi is not None:
            parts.append(f"{name} {lo if lo is not None else ''}..{hi if hi is not None else ''}")
    if r.min_duration_s is not None or r.max_duration_s is not None:
        parts.append(f"duration_s {r.min_duration_s or ''}..{r.max_duration_s or ''}")
    if r.reservation:
        parts.append(f"reservation {r.reservation}")
    return "; ".join(parts)


_PER = {"ENERGY": "kWh", "TIME": "hour", "PARKING_TIME": "hour", "FLAT": "session"}


def _driver_structure(wh: Warehouse, tariff_id: str) -> tuple[pa.Table, tuple[str, ...]]:
    from evrevops.tariffs.ocpi_tariff import PricingError, parse_tariff

    text = _record(wh, f"SELECT tariff_json FROM driver_tariffs WHERE tariff_id = {_lit(tariff_id)}")
    try:
        t = parse_tariff(text, tariff_id)
    except (PricingError, ValueError, KeyError, TypeError) as exc:
        return pa.table({"element": pa.array([], pa.int64())}), (f"the tariff cannot price sessions: {exc}",)
    rows = [
        {
            "element": i,
            "component": str(c.dimension),
            "price": str(c.price),
            "unit": f"{t.currency}/{_PER[c.dimension]}",
            "vat_pct": None if c.vat_pct is None else str(c.vat_pct),
            "step_size": c.step_size,
            "restrictions": _restrictions_text(e.restrictions),
        }  # fmt: skip
        for i, e in enumerate(t.elements)
        for c in e.components
    ]
    notes = tuple(
        f"{name} price {bound[0]} {t.currency} excl. VAT"
        for name, bound in (("minimum", t.min_price), ("maximum", t.max_price))
        if bound is not None
    )
    cols = ("element", "component", "price", "unit", "vat_pct", "step_size", "restrictions")
    return _rows_table(rows, cols), notes


def _rows_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> pa.Table:
    """*rows* as a table of *columns* (an empty one typed as text)."""
    if not rows:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    return pa.table({c: [row[c] for row in rows] for c in columns})
