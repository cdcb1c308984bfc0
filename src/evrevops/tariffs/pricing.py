"""Driver pricing: a charging session priced under an OCPI 2.2.1 Tariff.

What a driver pays (handbook §5) follows the Tariff's elements. Each element
has price components (``ENERGY`` per kWh, ``TIME`` per charging hour,
``PARKING_TIME`` per idle hour, ``FLAT`` per session) and restrictions that
say when it applies. The rules implemented here, with their source in the
OCPI 2.2.1 specification (``mod_tariffs`` and ``mod_cdrs``, "step_size"):

* **Periods.** A session is a list of charging periods; each is priced under
  the restrictions as they stand at its start (a CDR's ``charging_periods``
  are cut by the CPO at every tariff change;
  :func:`~evrevops.tariffs.charging_periods.session_periods` cuts a
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
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from evrevops.core.money import currency_exponent
from evrevops.tariffs.charging_periods import HOUR_S, Period
from evrevops.tariffs.ocpi_tariff import (
    ZERO,
    Component,
    Dimension,
    Restrictions,
    Tariff,
)

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


_PRICED_VOLUMES = (
    ("energy", Dimension.ENERGY, "energy_kwh"),
    ("time", Dimension.TIME, "charging_h"),
    ("parking", Dimension.PARKING_TIME, "parking_h"),
)


def _first_matches(
    tariff: Tariff, local: dt.datetime, energy_before: Decimal, elapsed_s: float, p: Period
) -> tuple[dict[str, int | None], dict[Dimension, Component]]:
    """Per dimension, the first element with a component of it whose restrictions hold: its index and component."""
    chosen: dict[str, int | None] = {}
    comps: dict[Dimension, Component] = {}
    for dim in Dimension:
        chosen[dim.value] = None
        for i, el in enumerate(tariff.elements):
            c = el.component(dim)
            if c is not None and _matches(el.restrictions, local, energy_before, elapsed_s, p):
                chosen[dim.value] = i
                comps[dim] = c
                break
    return chosen, comps


def _period_costs(comps: dict[Dimension, Component], p: Period) -> dict[str, tuple[Amount, Component | None]]:
    """Per line (energy, time, parking): the period's cost and the component that billed it (None: free)."""
    costs = {}
    for name, dim, volume in _PRICED_VOLUMES:
        c = comps.get(dim)
        vol = getattr(p, volume)
        if c is None or vol == 0:
            costs[name] = (Amount(), None)
            continue
        excl = c.price * vol
        costs[name] = (Amount(excl, c.incl(excl)), c)
    return costs


@dataclass
class _Running:
    """What pricing a session's periods in order adds up: line totals, volumes, last components billed, FLAT."""

    totals: dict[str, Amount] = field(
        default_factory=lambda: {"energy": Amount(), "time": Amount(), "parking": Amount()}
    )
    last: dict[Dimension, Component] = field(default_factory=dict)
    flat: Component | None = None
    energy_kwh: Decimal = ZERO
    charging_h: Decimal = ZERO
    parking_h: Decimal = ZERO

    def stepped(self, line: str, dim: Dimension, total: Decimal, unit: Decimal) -> Decimal:
        """Round *total* up to the step of the last component billed in *dim*; bill the extra at its price."""
        c = self.last[dim]
        billed = _step(total * unit, c.step_size) / unit
        extra = c.price * (billed - total)
        self.totals[line] = self.totals[line] + Amount(extra, c.incl(extra))
        return billed

    def billed_volumes(self) -> tuple[Decimal, Decimal, Decimal]:
        """The session's energy [kWh], charging and parking time [h] after the steps (their extra billed)."""
        billed_e, billed_c, billed_p = self.energy_kwh, self.charging_h, self.parking_h
        if Dimension.ENERGY in self.last:
            billed_e = self.stepped("energy", Dimension.ENERGY, self.energy_kwh, Decimal(1000))  # steps of Wh
        # TIME and PARKING_TIME share one rounding: on parking when parking was billed, else on charging time.
        if Dimension.PARKING_TIME in self.last:
            billed_p = self.stepped("parking", Dimension.PARKING_TIME, self.parking_h, HOUR_S)  # steps of seconds
        elif Dimension.TIME in self.last:
            billed_c = self.stepped("time", Dimension.TIME, self.charging_h, HOUR_S)
        return billed_e, billed_c, billed_p


def _price_periods(tariff: Tariff, periods: list[Period], zone, start: dt.datetime | None, run: _Running):
    """Price each period (sorted) under the restrictions as they stand at its start; returns them priced."""
    priced: list[PricedPeriod] = []
    for p in periods:
        local = p.start_at.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)
        elapsed = (p.start_at - start).total_seconds() if start else 0.0
        chosen, comps = _first_matches(tariff, local, run.energy_kwh, elapsed, p)
        costs = _period_costs(comps, p)
        for name, dim, _ in _PRICED_VOLUMES:
            cost, c = costs[name]
            if c is not None:
                run.last[dim] = c
                run.totals[name] = run.totals[name] + cost
        if run.flat is None and Dimension.FLAT in comps:
            run.flat = comps[Dimension.FLAT]
        priced.append(PricedPeriod(p.start_at, chosen, costs["energy"][0], costs["time"][0], costs["parking"][0]))
        run.energy_kwh += p.energy_kwh
        run.charging_h += p.charging_h
        run.parking_h += p.parking_h
    return priced


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
        From :func:`~evrevops.tariffs.ocpi_tariff.parse_tariff`.
    periods : iterable of Period
        The session's charging periods (:mod:`evrevops.tariffs.charging_periods`:
        ``periods_from_cdr`` or ``session_periods``).
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
    run = _Running()
    priced = _price_periods(tariff, periods, zone, start, run)
    billed_e, billed_c, billed_p = run.billed_volumes()
    flat = run.flat
    fixed = Amount(flat.price, flat.incl(flat.price)) if flat is not None else Amount()
    totals = run.totals
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
        total_energy_kwh=run.energy_kwh,
        billed_energy_kwh=billed_e,
        total_charging_h=run.charging_h,
        billed_charging_h=billed_c,
        total_parking_h=run.parking_h,
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
