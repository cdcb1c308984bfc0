"""A URDB utility rate parsed for billing, and the small tables the bill SQL joins it through.

:func:`parse_rate` reads a URDB record into a :class:`UtilityRate` (what the bill engine,
:mod:`evrevops.tariffs.billing`, bills and what it lists as not billed); :func:`rate_tables`
lays a set of them out as the Arrow tables :data:`evrevops.tariffs.billing.BILL_SQL` joins to.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pyarrow as pa

from evrevops.core.money import exact_decimal

DEFAULT_WINDOW_MIN = 15
FIXED_UNITS = ("$/month", "$/day", "$/year")


class RateError(ValueError):
    """A URDB record the bill engine cannot use (names the field)."""


Tier = tuple[Decimal | None, Decimal]  # (upper limit or None, rate)


@dataclass(frozen=True)
class UtilityRate:
    """A URDB tariff parsed for billing.

    Attributes
    ----------
    energy, demand, flat : tuple of periods, each a tuple of (max, rate) tiers
        Rates [$/kWh, $/kW] include ``adj``; ``max`` is the tier's upper limit
        [kWh/month or kW] (None for the last tier).
    energy_daily_limits : tuple of bool
        Per energy period: tier limits are per day (``kWh daily``).
    energy_weekday, energy_weekend, demand_weekday, demand_weekend : 12 × 24 period indexes
    flat_months : 12 period indexes into ``flat``
    fixed, fixed_units : the fixed charge and its unit
    minimum, minimum_units : the monthly minimum charge and its unit
    window_min : demand window [min]
    unsupported : (feature, detail) of parts not billed
    notes : how parts were read where the URDB leaves room
    """

    tariff_id: str
    energy: tuple[tuple[Tier, ...], ...] = ()
    energy_daily_limits: tuple[bool, ...] = ()
    energy_weekday: tuple[tuple[int, ...], ...] = ()
    energy_weekend: tuple[tuple[int, ...], ...] = ()
    demand: tuple[tuple[Tier, ...], ...] = ()
    demand_weekday: tuple[tuple[int, ...], ...] = ()
    demand_weekend: tuple[tuple[int, ...], ...] = ()
    flat: tuple[tuple[Tier, ...], ...] = ()
    flat_months: tuple[int, ...] = ()
    fixed: Decimal = Decimal(0)
    fixed_units: str = "$/month"
    minimum: Decimal = Decimal(0)
    minimum_units: str = "$/month"
    window_min: int = DEFAULT_WINDOW_MIN
    currency: str = "USD"
    unsupported: tuple[tuple[str, str], ...] = field(default=())
    notes: tuple[str, ...] = field(default=())


def _d(v: Any, where: str) -> Decimal:
    try:
        return exact_decimal(v)
    except ValueError as exc:
        raise RateError(f"{where}: {exc}: {v!r}") from None


def _tiers(
    structure: Sequence[Sequence[Mapping[str, Any]]], name: str, units: Sequence[str], notes: list[str]
) -> tuple[tuple[tuple[Tier, ...], ...], list[str]]:
    """Periods of (max, rate) tiers; also the unit of each period's limits."""
    periods = []
    period_units = []
    for p, period in enumerate(structure):
        tiers: list[Tier] = []
        unit = None
        for k, t in enumerate(period):
            rate = _d(t.get("rate", 0) if t.get("rate") is not None else 0, f"{name}[{p}][{k}].rate")
            if t.get("adj") is not None:
                rate += _d(t["adj"], f"{name}[{p}][{k}].adj")
            mx = _d(t["max"], f"{name}[{p}][{k}].max") if t.get("max") is not None else None
            if t.get("unit") is not None:
                unit = str(t["unit"])
            if mx is not None and k == len(period) - 1:
                notes.append(
                    f"{name}[{p}][{k}]: the last tier has max {mx}; usage above it is billed at its price"
                    " (NREL SAM bills it at $0)"
                )
                mx = None
            tiers.append((mx, rate))
        periods.append(tuple(tiers))
        period_units.append(unit or units[0])
    return tuple(periods), period_units


def _schedule(r: Mapping[str, Any], key: str) -> tuple[tuple[int, ...], ...]:
    s = r.get(key)
    if not s:
        return ()
    return tuple(tuple(int(v) for v in row) for row in s)


def _energy(r: Mapping[str, Any], notes: list[str], unsupported: list[tuple[str, str]]):
    """The energy periods' tiers and, per period, whether its limits are per day (``kWh daily``).

    A period whose limits are in another unit is billed at its first tier's rate (listed in *unsupported*).
    """
    energy, energy_units = _tiers(r.get("energyratestructure") or [], "energyratestructure", ("kWh",), notes)
    daily = []
    for p, unit in enumerate(energy_units):
        u = unit.lower()
        if u not in ("kwh", "kwh daily"):
            has_limits = any(mx is not None for mx, _ in energy[p])
            if has_limits:
                unsupported.append(
                    (
                        "energy_tier_units",
                        f"energyratestructure[{p}]: tier limits in {unit!r} are not billed;"
                        " the period is billed at its first tier's rate",
                    )  # fmt: skip
                )
                energy = energy[:p] + (((None, energy[p][0][1]),),) + energy[p + 1 :]
        daily.append(u == "kwh daily")
    return energy, tuple(daily)


def _flat_months(r: Mapping[str, Any], flat: tuple, notes: list[str]) -> tuple[int, ...]:
    """The flat demand period of each month (period 0 every month when ``flatdemandmonths`` is missing)."""
    if not flat:
        return ()
    months = r.get("flatdemandmonths")
    if months:
        return tuple(int(v) for v in months)
    notes.append("flatdemandmonths missing: flat demand period 0 applies every month")
    return (0,) * 12


def _fixed(r: Mapping[str, Any], notes: list[str]) -> tuple[Decimal, str]:
    """The fixed charge and its unit: ``fixedchargefirstmeter``, else the older ``fixedmonthlycharge``."""
    fixed, fixed_units = Decimal(0), "$/month"
    if r.get("fixedchargefirstmeter") is not None:
        fixed = _d(r["fixedchargefirstmeter"], "fixedchargefirstmeter")
        fixed_units = r.get("fixedchargeunits") or "$/month"
        if r.get("fixedchargeunits") is None:
            notes.append("fixedchargeunits missing: fixedchargefirstmeter read as $/month")
    elif r.get("fixedmonthlycharge") is not None:
        fixed = _d(r["fixedmonthlycharge"], "fixedmonthlycharge")
        notes.append("fixed charge from the older fixedmonthlycharge [$/month]")
    if fixed_units not in FIXED_UNITS:
        raise RateError(f"fixedchargeunits: one of {'|'.join(FIXED_UNITS)}, got {fixed_units!r}")
    return fixed, fixed_units


def _minimum(r: Mapping[str, Any], unsupported: list[tuple[str, str]]) -> tuple[Decimal, str]:
    """The monthly minimum charge and its unit: ``mincharge``, else the older ``minmonthlycharge``."""
    minimum, minimum_units = Decimal(0), "$/month"
    if r.get("mincharge") is not None:
        units = r.get("minchargeunits") or "$/month"
        if units == "$/year":
            unsupported.append(("mincharge", f"an annual minimum of ${r['mincharge']} is not billed monthly"))
        elif units in ("$/month", "$/day"):
            minimum, minimum_units = _d(r["mincharge"], "mincharge"), units
        else:
            raise RateError(f"minchargeunits: one of $/month|$/day|$/year, got {units!r}")
    elif r.get("minmonthlycharge") is not None:
        minimum = _d(r["minmonthlycharge"], "minmonthlycharge")
    return minimum, minimum_units


def _unbilled_parts(r: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The parts of a record this engine does not bill: annual minimum, coincident peak, reactive power, ratchets."""
    unsupported = []
    if r.get("annualmincharge") is not None:
        unsupported.append(("annualmincharge", f"an annual minimum of ${r['annualmincharge']} is not billed monthly"))
    if r.get("coincidentratestructure"):
        unsupported.append(("coincidentratestructure", "coincident-peak demand charges are not billed"))
    if r.get("demandreactivepowercharge") is not None:
        unsupported.append(
            ("demandreactivepowercharge", f"reactive power at ${r['demandreactivepowercharge']}/kVAR is not billed")
        )
    for key in ("lookbackpercent", "lookbackrange"):
        if r.get(key):
            unsupported.append((key, "demand ratchets (billing demand from earlier months) are not billed"))
    return unsupported


def parse_rate(rate: Mapping[str, Any] | str, tariff_id: str | None = None) -> UtilityRate:
    """Parse a URDB rate record (object or its JSON text) for billing.

    The record is expected to have passed :func:`evrevops.formats.urdb.check_rate`;
    a value the engine cannot use raises :class:`RateError` naming it.

    Parameters
    ----------
    rate : mapping or str
        The URDB record, or its JSON text.
    tariff_id : str, optional
        The tariff's id (default: the record's ``label``).
    """
    if isinstance(rate, str):
        rate = json.loads(rate)
    r = rate
    unsupported: list[tuple[str, str]] = []
    notes: list[str] = []
    energy, daily = _energy(r, notes, unsupported)
    demand, _ = _tiers(r.get("demandratestructure") or [], "demandratestructure", ("kW",), notes)
    flat, _ = _tiers(r.get("flatdemandstructure") or [], "flatdemandstructure", ("kW",), notes)
    flat_months = _flat_months(r, flat, notes)
    for key in ("demandunits", "flatdemandunit"):
        if r.get(key) not in (None, "kW"):
            unsupported.append((key, f"demand in {r[key]!r} (only kW is billed)"))
    fixed, fixed_units = _fixed(r, notes)
    minimum, minimum_units = _minimum(r, unsupported)
    unsupported += _unbilled_parts(r)
    window = int(_d(r["demandwindow"], "demandwindow")) if r.get("demandwindow") is not None else DEFAULT_WINDOW_MIN
    return UtilityRate(
        tariff_id=tariff_id or str(r.get("label") or ""),
        energy=energy,
        energy_daily_limits=daily,
        energy_weekday=_schedule(r, "energyweekdayschedule"),
        energy_weekend=_schedule(r, "energyweekendschedule"),
        demand=demand,
        demand_weekday=_schedule(r, "demandweekdayschedule"),
        demand_weekend=_schedule(r, "demandweekendschedule"),
        flat=flat,
        flat_months=flat_months,
        fixed=fixed,
        fixed_units=fixed_units,
        minimum=minimum,
        minimum_units=minimum_units,
        window_min=window,
        unsupported=tuple(unsupported),
        notes=tuple(notes),
    )


# ------------------------------------------------------------- tariff tables

RATE_DECIMAL = pa.decimal128(18, 9)
FIXED_MONTH_DECIMAL = pa.decimal128(24, 12)
_I32 = pa.int32()
RATE_TABLE_SCHEMAS = {
    "rate_hours": pa.schema(
        [("k", pa.int64()), ("tn", _I32), ("month", _I32), ("weekend", pa.bool_()), ("hour", _I32), ("ep", _I32),
         ("dp", _I32)]
    ),
    "rate_energy_tiers": pa.schema(
        [("tn", _I32), ("period", _I32), ("lower", pa.float64()), ("upper", pa.float64()), ("daily", pa.bool_()),
         ("rate", RATE_DECIMAL)]
    ),
    "rate_demand_tiers": pa.schema(
        [("tn", _I32), ("kind", pa.string()), ("period", _I32), ("lower", pa.float64()), ("upper", pa.float64()),
         ("rate", RATE_DECIMAL)]
    ),
    "rate_meta": pa.schema(
        [("tn", _I32), ("utility_tariff_id", pa.string()), ("fixed", RATE_DECIMAL), ("fixed_units", pa.string()),
         ("fixed_month", FIXED_MONTH_DECIMAL), ("minimum", RATE_DECIMAL), ("minimum_units", pa.string()),
         ("window_s", _I32)]
    ),
}  # fmt: skip


def _add_hours(out: dict[str, list], tn: int, r: UtilityRate) -> None:
    """The energy and demand TOU period of each hour of tariff *tn*'s 12 × 24 weekday and weekend schedules."""
    for m in range(12):
        for weekend in (False, True):
            es = r.energy_weekend if weekend else r.energy_weekday
            ds = r.demand_weekend if weekend else r.demand_weekday
            for h in range(24):
                out["k"].append(tn * 1024 + m * 48 + 24 * weekend + h)
                out["tn"].append(tn)
                out["month"].append(m + 1)
                out["weekend"].append(weekend)
                out["hour"].append(h)
                out["ep"].append(es[m][h] if es else None)
                out["dp"].append(ds[m][h] if ds else None)


def _add_tiers(out: dict[str, list], tn: int, period: int, ts: tuple[Tier, ...], **extra: Any) -> None:
    """One row per tier of a period: its lower and upper limit [kWh or kW] and rate, with *extra* columns."""
    lower = Decimal(0)
    for mx, rate in ts:
        out["tn"].append(tn)
        out["period"].append(period)
        out["lower"].append(float(lower))
        out["upper"].append(float(mx) if mx is not None else None)
        out["rate"].append(rate)
        for k, v in extra.items():
            out[k].append(v)
        lower = mx if mx is not None else lower


def _fixed_month(r: UtilityRate) -> Decimal:
    """The fixed charge of a month [$] for ``$/month`` and ``$/year`` (÷ 12, exact to 12 places, half to even)."""
    return (r.fixed / 12).quantize(Decimal("1e-12"), ROUND_HALF_EVEN) if r.fixed_units == "$/year" else r.fixed


def rate_tables(rates: Iterable[UtilityRate]) -> dict[str, pa.Table]:
    """The small tables the bill SQL joins to, for a set of tariffs.

    Each tariff gets a number ``tn`` (its position in *rates*). ``rate_hours``:
    (k, tn, month 1–12, weekend, hour 0–23, ep, dp): the energy and demand TOU
    period of each hour of the schedules, ``k = tn × 1024 + (month − 1) × 48 +
    24 × weekend + hour``;
    ``rate_energy_tiers``: (tn, period, lower, upper, daily, rate);
    ``rate_demand_tiers``: (tn, kind, period, lower, upper, rate) with
    ``kind`` ``tou`` (period = TOU period) or ``flat`` (period = month 1–12);
    ``rate_meta``: (tn, utility_tariff_id, fixed, fixed_units, fixed_month, minimum,
    minimum_units, window_s), where ``fixed_month`` is the fixed charge of a month [$] for
    ``$/month`` and ``$/year`` (÷ 12, exact to 12 places, half to even: SQL would divide in
    floating point on DuckDB) and ``$/day`` is multiplied by the days of the month in SQL.
    """
    cols = {name: {f.name: [] for f in schema} for name, schema in RATE_TABLE_SCHEMAS.items()}
    energy_tiers, demand_tiers, meta = cols["rate_energy_tiers"], cols["rate_demand_tiers"], cols["rate_meta"]
    for tn, r in enumerate(rates):
        _add_hours(cols["rate_hours"], tn, r)
        for p, ts in enumerate(r.energy):
            daily = r.energy_daily_limits[p] if p < len(r.energy_daily_limits) else False
            _add_tiers(energy_tiers, tn, p, ts, daily=daily)
        for p, ts in enumerate(r.demand):
            _add_tiers(demand_tiers, tn, p, ts, kind="tou")
        for m, fp in enumerate(r.flat_months):
            _add_tiers(demand_tiers, tn, m + 1, r.flat[fp], kind="flat")
        row = {"tn": tn, "utility_tariff_id": r.tariff_id, "fixed": r.fixed, "fixed_units": r.fixed_units,
               "fixed_month": _fixed_month(r), "minimum": r.minimum, "minimum_units": r.minimum_units,
               "window_s": r.window_min * 60}  # fmt: skip
        for k, v in row.items():
            meta[k].append(v)
    return {name: pa.table(cols[name], schema=schema) for name, schema in RATE_TABLE_SCHEMAS.items()}
