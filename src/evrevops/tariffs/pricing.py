"""Driver pricing: a charging session priced under an OCPI 2.2.1 Tariff.

What a driver pays (handbook §5) follows the Tariff's elements. Each element
has price components (``ENERGY`` per kWh, ``TIME`` per charging hour,
``PARKING_TIME`` per idle hour, ``FLAT`` per session) and restrictions that
say when it applies. The rules implemented here, with their source in the
OCPI 2.2.1 specification (``mod_tariffs`` and ``mod_cdrs``, "step_size"):

* **Periods.** A session is a list of charging periods; each is priced under
  the restrictions as they stand at its start (a CDR's ``charging_periods``
  are cut by the CPO at every tariff change; :func:`session_periods` cuts a
  session that has none at every instant a restriction can change).
* **First match per dimension.** For each period and each dimension, the
  first element (in tariff order) that has a component of that dimension and
  whose restrictions all hold prices it. A dimension no element matches is
  free.
* **Restrictions.** ``start_time``/``end_time`` on local wall time, end
  exclusive, ``end_time`` before ``start_time`` wraps past midnight (equal
  times: the whole day); ``start_date`` inclusive, ``end_date`` exclusive;
  ``day_of_week``; ``min_kwh``/``max_kwh`` on the energy charged before the
  period (min inclusive, max exclusive); ``min_duration``/``max_duration`` on
  the seconds since the session started; ``min_power``/``max_power`` and
  ``min_current``/``max_current`` on the period's power and current (its
  ``MAX_POWER``/``MAX_CURRENT`` dimension, else the average power; none is
  0). Elements with a ``reservation`` restriction price reservations only
  and never a charging or parking period.
* **FLAT** is charged once per session, by the first period a FLAT component
  matches.
* **step_size** is applied once per session, on the total (rounded to
  thousandths of a second or Wh first), with the step and price of the last
  period billed in that dimension: ``ENERGY`` totals round
  up to whole steps of Wh; ``TIME`` and ``PARKING_TIME`` share one rounding —
  on the total parking time when the session was billed for parking, else on
  the total charging time — to whole steps of seconds. The rounded-up extra
  is billed at the last period's price.
* **VAT** is per component: ``incl = excl × (1 + vat/100)``; no ``vat`` means
  no VAT applies.
* **min_price / max_price** bound the session's total excluding VAT (the
  ``incl_vat`` of the bound when given, else the session's own VAT ratio).
  The difference is kept as its own line, ``price_bounds_adjustment``, so the
  dimension sub-totals stay what the elements give.

Where the peer conformance suite differs
----------------------------------------
The peer cases in ``data/conformance/ocpi-tariffs-tandemdrive`` come from an
implementation that does not apply ``min_price``: its
``025kwh_min_price/cdr2_less_than_2kWh`` expects 1.2 kWh × 0.25 = 0.30 EUR
under a 0.50 EUR minimum. The OCPI text is unambiguous ("a Charging Session
with this tariff will at least cost this amount"), so evrevops bills 0.50 and
shows the 0.20 as ``price_bounds_adjustment``; ``apply_price_bounds=False``
reproduces the peer. ``docs/pricing.md`` lists the case.

All arithmetic is :class:`~decimal.Decimal`; nothing is rounded until
:meth:`PricedSession.minor` allocates the session to integer minor units.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

from evrevops.core.money import currency_exponent, exact_decimal

ZERO = Decimal(0)
HOUR_S = Decimal(3600)
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


def _dec(v: Any, where: str) -> Decimal:
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
            kw[key] = _dec(r[key], f"{where}.{key}")
    for key in ("min_duration", "max_duration"):
        if r.get(key) is not None:
            kw[f"{key}_s"] = int(_dec(r[key], f"{where}.{key}"))
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
    incl = _dec(p["incl_vat"], f"{where}.incl_vat") if p.get("incl_vat") is not None else None
    return _dec(p["excl_vat"], f"{where}.excl_vat"), incl


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
                    price=_dec(c.get("price"), f"{where}.price"),
                    vat_pct=_dec(c["vat"], f"{where}.vat") if c.get("vat") is not None else None,
                    step_size=int(_dec(c.get("step_size", 0), f"{where}.step_size")),
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


# --------------------------------------------------------------- session model


@dataclass(frozen=True)
class Period:
    """One charging period of a session, as a CDR's ``ChargingPeriod`` states it.

    Attributes
    ----------
    start_at : datetime
        Start, naive UTC.
    energy_kwh : Decimal
        Energy charged in the period [kWh].
    charging_h : Decimal
        Time charging [h] (OCPI ``TIME``).
    parking_h : Decimal
        Time connected but not charging [h] (OCPI ``PARKING_TIME``).
    power_kw, current_a : Decimal or None
        The period's ``MAX_POWER`` [kW] / ``MAX_CURRENT`` [A] when stated.
    """

    start_at: dt.datetime
    energy_kwh: Decimal = ZERO
    charging_h: Decimal = ZERO
    parking_h: Decimal = ZERO
    power_kw: Decimal | None = None
    current_a: Decimal | None = None


_CDR_DIMS = {"ENERGY": "energy_kwh", "TIME": "charging_h", "PARKING_TIME": "parking_h"}


def _instant(v: Any, where: str) -> dt.datetime:
    text = str(v).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise PricingError(f"{where}: not an ISO-8601 date-time: {v!r}") from None
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo is not None else t


def periods_from_cdr(charging_periods: Sequence[Mapping[str, Any]] | str) -> list[Period]:
    """OCPI ``charging_periods`` (list or JSON text) → :class:`Period` list, in time order.

    ``ENERGY``, ``TIME``, ``PARKING_TIME``, ``MAX_POWER`` and ``MAX_CURRENT``
    dimensions are read (``POWER``/``CURRENT`` when there is no maximum);
    ``STATE_OF_CHARGE``, ``ENERGY_IMPORT``/``ENERGY_EXPORT`` and the minimum
    dimensions do not affect the price. ``RESERVATION_TIME`` raises: pricing
    reservations is not supported.
    """
    if isinstance(charging_periods, str):
        charging_periods = json.loads(charging_periods, parse_float=Decimal)
    out = []
    for i, p in enumerate(charging_periods or []):
        where = f"charging_periods[{i}]"
        kw: dict[str, Any] = {"start_at": _instant(p.get("start_date_time"), f"{where}.start_date_time")}
        for j, d in enumerate(p.get("dimensions") or []):
            typ = d.get("type")
            vol = _dec(d.get("volume"), f"{where}.dimensions[{j}].volume")
            if typ in _CDR_DIMS:
                kw[_CDR_DIMS[typ]] = kw.get(_CDR_DIMS[typ], ZERO) + vol
            elif typ == "MAX_POWER" or (typ == "POWER" and "power_kw" not in kw):
                kw["power_kw"] = vol
            elif typ == "MAX_CURRENT" or (typ == "CURRENT" and "current_a" not in kw):
                kw["current_a"] = vol
            elif typ == "RESERVATION_TIME" and vol > 0:
                raise PricingError(f"{where}.dimensions[{j}]: reservation time is not priced by evrevops")
        out.append(Period(**kw))
    out.sort(key=lambda p: p.start_at)
    return out


def _utc(local: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    return local.replace(tzinfo=zone).astimezone(dt.UTC).replace(tzinfo=None)


def session_periods(
    started_at: dt.datetime,
    ended_at: dt.datetime,
    energy_kwh: Decimal | float | str,
    tariff: Tariff,
    time_zone: str = "UTC",
    charging_ended_at: dt.datetime | None = None,
    power_kw: Decimal | None = None,
) -> list[Period]:
    """Charging periods for a session that has none, cut where *tariff* can change price.

    The session charges at constant power from ``started_at`` to
    ``charging_ended_at`` (``ended_at`` when unknown), then parks until
    ``ended_at``. It is cut at the charging end, at every local midnight, at
    every time-of-day boundary of the tariff, at each ``min/max_duration`` and
    at the instant the energy charged reaches each ``min/max_kwh``.

    Parameters
    ----------
    started_at, ended_at, charging_ended_at : datetime
        Naive UTC instants.
    energy_kwh : Decimal
        Energy of the session [kWh].
    tariff : Tariff
        Whose restrictions set the cuts.
    time_zone : str
        IANA zone of the site (restrictions are on local wall time).
    power_kw : Decimal, optional
        The session's power [kW] for power restrictions (default: average).

    Notes
    -----
    With charging time :math:`T_c` and energy :math:`E`, the energy of a cut
    :math:`[a, b)` inside the charging time is :math:`E (b - a) / T_c`.
    """
    energy = _dec(energy_kwh, "energy_kwh")
    zone = zoneinfo.ZoneInfo(time_zone)
    charge_end = min(charging_ended_at or ended_at, ended_at)
    charge_end = max(charge_end, started_at)
    charging_s = Decimal((charge_end - started_at).total_seconds())
    cuts = {started_at, ended_at, charge_end}
    local_start = started_at.replace(tzinfo=dt.UTC).astimezone(zone).date() - dt.timedelta(days=1)
    local_end = ended_at.replace(tzinfo=dt.UTC).astimezone(zone).date() + dt.timedelta(days=1)
    times = tariff.time_boundaries() | {dt.time(0, 0)}
    day = local_start
    while day <= local_end:
        for t in times:
            cuts.add(_utc(dt.datetime.combine(day, t), zone))
        day += dt.timedelta(days=1)
    # Energy charged by each cut; a kWh threshold's cut is pinned to the threshold itself, so the
    # microsecond rounding of its instant does not leak into the energy split.
    pinned: dict[dt.datetime, Decimal] = {}
    for e in tariff.elements:
        r = e.restrictions
        for s in (r.min_duration_s, r.max_duration_s):
            if s is not None:
                cuts.add(started_at + dt.timedelta(seconds=s))
        for k in (r.min_kwh, r.max_kwh):
            if k is not None and 0 < k < energy and charging_s > 0:
                c = started_at + dt.timedelta(seconds=float(k / energy * charging_s))
                cuts.add(c)
                pinned[c] = k

    def charged(t: dt.datetime) -> Decimal:
        if t in pinned:
            return pinned[t]
        if t >= charge_end or charging_s == 0:
            return energy
        return energy * Decimal((t - started_at).total_seconds()) / charging_s

    edges = sorted(c for c in cuts if started_at <= c <= ended_at)
    avg_kw = energy / (charging_s / HOUR_S) if charging_s > 0 else ZERO
    out = []
    for a, b in zip(edges, edges[1:], strict=False):
        seconds = Decimal((b - a).total_seconds())
        if b <= charge_end:
            out.append(
                Period(a, energy_kwh=charged(b) - charged(a), charging_h=seconds / HOUR_S, power_kw=power_kw or avg_kw)
            )
        else:
            out.append(Period(a, parking_h=seconds / HOUR_S))
    return out


# ----------------------------------------------------------------- the pricing


@dataclass(frozen=True)
class Amount:
    """An exact amount excluding and including VAT [currency units]."""

    excl_vat: Decimal = ZERO
    incl_vat: Decimal = ZERO

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.excl_vat + other.excl_vat, self.incl_vat + other.incl_vat)


@dataclass(frozen=True)
class PricedPeriod:
    """How one period was priced: the element index per dimension (None: free) and its costs."""

    start_at: dt.datetime
    elements: Mapping[str, int | None]
    energy: Amount
    time: Amount
    parking: Amount


LINES = ("energy", "time", "parking", "fixed", "price_bounds_adjustment")


@dataclass(frozen=True)
class PricedSession:
    """A session priced under a Tariff: sub-totals per dimension, the bound adjustment and the total."""

    tariff_id: str
    currency: str
    energy: Amount
    time: Amount
    parking: Amount
    fixed: Amount
    price_bounds_adjustment: Amount
    total_energy_kwh: Decimal
    billed_energy_kwh: Decimal
    total_charging_h: Decimal
    billed_charging_h: Decimal
    total_parking_h: Decimal
    billed_parking_h: Decimal
    periods: tuple[PricedPeriod, ...] = field(default=())

    @property
    def total(self) -> Amount:
        """All lines, bound adjustment included."""
        out = Amount()
        for name in LINES:
            out = out + getattr(self, name)
        return out

    def minor(self, incl_vat: bool = False) -> dict[str, int]:
        """The lines and ``total`` in integer minor units of the currency.

        ``total`` is the exact total rounded half up; the lines are allocated
        by largest remainder so that they add up to it exactly.
        """
        exp = currency_exponent(self.currency)
        attr = "incl_vat" if incl_vat else "excl_vat"
        parts = [getattr(getattr(self, name), attr) for name in LINES]
        lines = allocate_minor(parts, exp)
        out = dict(zip(LINES, lines, strict=True))
        out["total"] = sum(lines)
        return out


def allocate_minor(parts: Sequence[Decimal], exponent: int) -> list[int]:
    """Round exact amounts to minor units so that they sum to their rounded sum.

    Each part is truncated toward minus infinity, then the units still
    missing from ``round_half_up(sum)`` go to the parts with the largest
    remainders (ties to the earlier part). A sum of rounded parts then equals
    the rounded total to the cent.
    """
    scaled = [p.scaleb(exponent) for p in parts]
    target = int(sum(scaled, ZERO).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    floors = [int(s.to_integral_value(rounding="ROUND_FLOOR")) for s in scaled]
    missing = target - sum(floors)
    order = sorted(range(len(parts)), key=lambda i: (-(scaled[i] - floors[i]), i))
    if missing < 0:
        order = sorted(range(len(parts)), key=lambda i: (scaled[i] - floors[i], i))
    for k in range(abs(missing)):
        floors[order[k % len(order)]] += 1 if missing > 0 else -1
    return floors


def _in_window(r: Restrictions, t: dt.time) -> bool:
    if r.start_time is None and r.end_time is None:
        return True
    start = r.start_time or dt.time(0, 0)
    end = r.end_time or dt.time(0, 0)
    if r.end_time is None:
        return t >= start
    if start < end:
        return start <= t < end
    if start > end:
        return t >= start or t < end
    return True


def _matches(r: Restrictions, local: dt.datetime, energy_before: Decimal, elapsed_s: float, p: Period) -> bool:
    if r.reservation is not None:
        return False
    if not _in_window(r, local.time()):
        return False
    d = local.date()
    if r.start_date is not None and d < r.start_date:
        return False
    if r.end_date is not None and d >= r.end_date:
        return False
    if r.days is not None and local.weekday() not in r.days:
        return False
    if r.min_kwh is not None and energy_before < r.min_kwh:
        return False
    if r.max_kwh is not None and energy_before >= r.max_kwh:
        return False
    if r.min_duration_s is not None and elapsed_s < r.min_duration_s:
        return False
    if r.max_duration_s is not None and elapsed_s >= r.max_duration_s:
        return False
    power = p.power_kw
    if power is None:
        power = p.energy_kwh / p.charging_h if p.charging_h > 0 else ZERO
    if r.min_power is not None and power < r.min_power:
        return False
    if r.max_power is not None and power >= r.max_power:
        return False
    current = p.current_a if p.current_a is not None else ZERO
    if r.min_current is not None and current < r.min_current:
        return False
    return not (r.max_current is not None and current >= r.max_current)


MILLI = Decimal("0.001")


def _step(total: Decimal, step: int) -> Decimal:
    """Round *total* (seconds or Wh) up to whole steps, after rounding it to thousandths.

    A thousandth (a millisecond, a milliwatt-hour) is below any meter's
    resolution; without it, hours stated as a decimal (0.716666667 h for 43
    minutes) would step up a whole step for a remainder of a microsecond.
    """
    if step <= 0:
        return total
    return (total.quantize(MILLI, rounding=ROUND_HALF_UP) / step).to_integral_value(rounding=ROUND_CEILING) * step


def price_session(
    tariff: Tariff,
    periods: Iterable[Period],
    time_zone: str = "UTC",
    session_start: dt.datetime | None = None,
    apply_price_bounds: bool = True,
) -> PricedSession:
    """Price a session's periods under an OCPI 2.2.1 Tariff.

    Parameters
    ----------
    tariff : Tariff
        From :func:`parse_tariff`.
    periods : iterable of Period
        The session's charging periods (:func:`periods_from_cdr` or
        :func:`session_periods`).
    time_zone : str
        IANA zone the restrictions' times, dates and days are read in.
    session_start : datetime, optional
        Start of the session (naive UTC) for duration restrictions; default
        the first period's start.
    apply_price_bounds : bool
        Apply ``min_price``/``max_price`` (OCPI); False reproduces
        implementations that ignore them.

    Returns
    -------
    PricedSession

    Notes
    -----
    Per period :math:`i` and dimension :math:`d` with matched price
    :math:`p_{i,d}` and volume :math:`v_{i,d}`, the cost is
    :math:`\\sum_i p_{i,d} v_{i,d} + p_{l,d} (\\lceil V_d / s_{l,d} \\rceil s_{l,d} - V_d)`
    where :math:`V_d` is the session total, :math:`l` the last period billed
    in :math:`d` and :math:`s_{l,d}` its step (Wh for energy, seconds for
    time, time and parking sharing one rounding).
    """
    periods = sorted(periods, key=lambda p: p.start_at)
    zone = zoneinfo.ZoneInfo(time_zone)
    start = session_start or (periods[0].start_at if periods else None)
    energy_before = ZERO
    priced: list[PricedPeriod] = []
    last: dict[Dimension, Component] = {}
    flat: Component | None = None
    totals = {"energy": Amount(), "time": Amount(), "parking": Amount()}
    total_e = total_c = total_p = ZERO
    for p in periods:
        local = p.start_at.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)
        elapsed = (p.start_at - start).total_seconds() if start else 0.0
        chosen: dict[str, int | None] = {}
        comps: dict[Dimension, Component] = {}
        for dim in Dimension:
            chosen[dim.value] = None
            for i, el in enumerate(tariff.elements):
                c = el.component(dim)
                if c is not None and _matches(el.restrictions, local, energy_before, elapsed, p):
                    chosen[dim.value] = i
                    comps[dim] = c
                    break
        costs = {}
        for name, dim, vol in (
            ("energy", Dimension.ENERGY, p.energy_kwh),
            ("time", Dimension.TIME, p.charging_h),
            ("parking", Dimension.PARKING_TIME, p.parking_h),
        ):
            c = comps.get(dim)
            if c is None or vol == 0:
                costs[name] = Amount()
                continue
            excl = c.price * vol
            costs[name] = Amount(excl, c.incl(excl))
            last[dim] = c
            totals[name] = totals[name] + costs[name]
        if flat is None and Dimension.FLAT in comps:
            flat = comps[Dimension.FLAT]
        priced.append(PricedPeriod(p.start_at, chosen, costs["energy"], costs["time"], costs["parking"]))
        energy_before += p.energy_kwh
        total_e += p.energy_kwh
        total_c += p.charging_h
        total_p += p.parking_h

    def stepped(line: str, dim: Dimension, total: Decimal, unit: Decimal) -> Decimal:
        """Round *total* up to the step of the last component billed in *dim*; bill the extra at its price."""
        c = last[dim]
        billed = _step(total * unit, c.step_size) / unit
        extra = c.price * (billed - total)
        totals[line] = totals[line] + Amount(extra, c.incl(extra))
        return billed

    billed_e, billed_c, billed_p = total_e, total_c, total_p
    if Dimension.ENERGY in last:
        billed_e = stepped("energy", Dimension.ENERGY, total_e, Decimal(1000))  # steps of Wh
    # TIME and PARKING_TIME share one rounding: on parking when parking was billed, else on charging time.
    if Dimension.PARKING_TIME in last:
        billed_p = stepped("parking", Dimension.PARKING_TIME, total_p, HOUR_S)  # steps of seconds
    elif Dimension.TIME in last:
        billed_c = stepped("time", Dimension.TIME, total_c, HOUR_S)
    fixed = Amount(flat.price, flat.incl(flat.price)) if flat is not None else Amount()

    subtotal = totals["energy"] + totals["time"] + totals["parking"] + fixed
    adjustment = Amount()
    if apply_price_bounds:
        adjustment = _bounds_adjustment(tariff, subtotal)
    return PricedSession(
        tariff_id=tariff.tariff_id,
        currency=tariff.currency,
        energy=totals["energy"],
        time=totals["time"],
        parking=totals["parking"],
        fixed=fixed,
        price_bounds_adjustment=adjustment,
        total_energy_kwh=total_e,
        billed_energy_kwh=billed_e,
        total_charging_h=total_c,
        billed_charging_h=billed_c,
        total_parking_h=total_p,
        billed_parking_h=billed_p,
        periods=tuple(priced),
    )


def _bounds_adjustment(tariff: Tariff, subtotal: Amount) -> Amount:
    """What ``min_price``/``max_price`` add to (or take off) the subtotal."""
    for bound, applies in (
        (tariff.min_price, lambda b: subtotal.excl_vat < b),
        (tariff.max_price, lambda b: subtotal.excl_vat > b),
    ):
        if bound is not None and applies(bound[0]):
            excl, incl = bound
            if incl is None:
                ratio = subtotal.incl_vat / subtotal.excl_vat if subtotal.excl_vat > 0 else Decimal(1)
                incl = excl * ratio
            return Amount(excl - subtotal.excl_vat, incl - subtotal.incl_vat)
    return Amount()
