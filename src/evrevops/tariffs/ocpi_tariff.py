"""An OCPI 2.2.1 Tariff parsed for pricing: its elements, price components and restrictions.

:func:`parse_tariff` reads a Tariff object (or its JSON text) and fails, naming the field,
on anything the pricing engine (:mod:`evrevops.tariffs.pricing`) cannot use.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from evrevops.core.money import exact_decimal

ZERO = Decimal(0)
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


class PricingError(ValueError):
    """A Tariff or session the engine cannot price (names the field)."""


class Dimension(enum.StrEnum):
    """The closed set of OCPI 2.2.1 ``TariffDimensionType`` values; anything else fails."""

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    TIME = "TIME"
    PARKING_TIME = "PARKING_TIME"

    @classmethod
    def parse(cls, value: Any, where: str) -> Dimension:
        try:
            return cls(value)
        except ValueError:
            allowed = "|".join(d.value for d in cls)
            raise PricingError(f"{where}: unknown price component type {value!r} (one of {allowed})") from None


def decimal_value(v: Any, where: str) -> Decimal:
    """*v* as an exact Decimal, or :class:`PricingError` naming *where*."""
    try:
        return exact_decimal(v)
    except ValueError as exc:
        raise PricingError(f"{where}: {exc}: {v!r}") from None


# ---------------------------------------------------------------- tariff model


@dataclass(frozen=True)
class Component:
    """One OCPI ``PriceComponent``: price per unit [currency/kWh, /h or /session], VAT [%], step."""

    dimension: Dimension
    price: Decimal
    vat_pct: Decimal | None
    step_size: int

    def incl(self, excl: Decimal) -> Decimal:
        """The amount with this component's VAT added."""
        return excl if self.vat_pct is None else excl * (1 + self.vat_pct / 100)


@dataclass(frozen=True)
class Restrictions:
    """OCPI ``TariffRestrictions``; every bound is optional."""

    start_time: dt.time | None = None
    end_time: dt.time | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration_s: int | None = None
    max_duration_s: int | None = None
    days: frozenset[int] | None = None  # 0 = Monday
    reservation: str | None = None


@dataclass(frozen=True)
class Element:
    components: tuple[Component, ...]
    restrictions: Restrictions

    def component(self, dim: Dimension) -> Component | None:
        for c in self.components:
            if c.dimension is dim:
                return c
        return None


@dataclass(frozen=True)
class Tariff:
    """A parsed OCPI 2.2.1 Tariff, ready to price sessions."""

    tariff_id: str
    currency: str
    elements: tuple[Element, ...]
    min_price: tuple[Decimal, Decimal | None] | None = None  # (excl_vat, incl_vat)
    max_price: tuple[Decimal, Decimal | None] | None = None

    def time_boundaries(self) -> set[dt.time]:
        """Every local wall time at which an element's time-of-day window opens or closes."""
        out: set[dt.time] = set()
        for e in self.elements:
            for t in (e.restrictions.start_time, e.restrictions.end_time):
                if t is not None:
                    out.add(t)
        return out


def _time(v: Any, where: str) -> dt.time:
    try:
        h, m = str(v).split(":")
        return dt.time(int(h), int(m))
    except (ValueError, TypeError):
        raise PricingError(f"{where}: not a time HH:MM: {v!r}") from None


def _restrictions(r: Mapping[str, Any] | None, where: str) -> Restrictions:
    if not r:
        return Restrictions()
    kw: dict[str, Any] = {}
    for key in ("start_time", "end_time"):
        if r.get(key) is not None:
            kw[key] = _time(r[key], f"{where}.{key}")
    for key in ("start_date", "end_date"):
        if r.get(key) is not None:
            try:
                kw[key] = dt.date.fromisoformat(str(r[key]))
            except ValueError:
                raise PricingError(f"{where}.{key}: not a date YYYY-MM-DD: {r[key]!r}") from None
    for key in ("min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power"):
        if r.get(key) is not None:
            kw[key] = decimal_value(r[key], f"{where}.{key}")
    for key in ("min_duration", "max_duration"):
        if r.get(key) is not None:
            kw[f"{key}_s"] = int(decimal_value(r[key], f"{where}.{key}"))
    if r.get("day_of_week") is not None:
        days = set()
        for k, d in enumerate(r["day_of_week"]):
            if d not in WEEKDAYS:
                raise PricingError(f"{where}.day_of_week[{k}]: unknown day {d!r}")
            days.add(WEEKDAYS.index(d))
        kw["days"] = frozenset(days)
    if r.get("reservation") is not None:
        kw["reservation"] = str(r["reservation"])
    return Restrictions(**kw)


def _bound(p: Any, where: str) -> tuple[Decimal, Decimal | None] | None:
    if p is None:
        return None
    if not isinstance(p, Mapping) or p.get("excl_vat") is None:
        raise PricingError(f"{where}: a price bound needs excl_vat")
    incl = decimal_value(p["incl_vat"], f"{where}.incl_vat") if p.get("incl_vat") is not None else None
    return decimal_value(p["excl_vat"], f"{where}.excl_vat"), incl


def parse_tariff(t: Mapping[str, Any] | str, tariff_id: str | None = None) -> Tariff:
    """Parse an OCPI 2.2.1 Tariff (object or JSON text) for pricing.

    Raises
    ------
    PricingError
        Naming the field path, for an unknown component type or any value the
        engine cannot use.
    """
    if isinstance(t, str):
        t = json.loads(t, parse_float=Decimal)
    if not isinstance(t, Mapping):
        raise PricingError(f"a Tariff must be an object, got {type(t).__name__}")
    elements = []
    raw_elements = t.get("elements")
    if not isinstance(raw_elements, list) or not raw_elements:
        raise PricingError("elements: a Tariff needs at least one element")
    for i, el in enumerate(raw_elements):
        comps = []
        for j, c in enumerate(el.get("price_components") or []):
            where = f"elements[{i}].price_components[{j}]"
            comps.append(
                Component(
                    dimension=Dimension.parse(c.get("type"), f"{where}.type"),
                    price=decimal_value(c.get("price"), f"{where}.price"),
                    vat_pct=decimal_value(c["vat"], f"{where}.vat") if c.get("vat") is not None else None,
                    step_size=int(decimal_value(c.get("step_size", 0), f"{where}.step_size")),
                )
            )
        elements.append(Element(tuple(comps), _restrictions(el.get("restrictions"), f"elements[{i}].restrictions")))
    currency = t.get("currency")
    if not isinstance(currency, str) or len(currency) != 3:
        raise PricingError(f"currency: not an ISO-4217 code: {currency!r}")
    return Tariff(
        tariff_id=tariff_id or str(t.get("id", "")),
        currency=currency,
        elements=tuple(elements),
        min_price=_bound(t.get("min_price"), "min_price"),
        max_price=_bound(t.get("max_price"), "max_price"),
    )
