"""A session's charging periods: read from a CDR, or cut where a tariff can change price.

The periods are what :func:`evrevops.tariffs.pricing.price_session` prices: a CDR's
``charging_periods`` (:func:`periods_from_cdr`), or for a session that has none, its span cut at
every instant a restriction of the tariff can change (:func:`session_periods`).
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from evrevops.tariffs.ocpi_tariff import ZERO, PricingError, Tariff, decimal_value

HOUR_S = Decimal(3600)


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
            vol = decimal_value(d.get("volume"), f"{where}.dimensions[{j}].volume")
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
    energy = decimal_value(energy_kwh, "energy_kwh")
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
