"""Driver tariffs (OCPI 2.2.1 ``mod_tariffs``) and the vectorised pricing of sessions.

Pricing follows OCPI 2.2.1 (handbook §5): per dimension (ENERGY, TIME,
PARKING_TIME, FLAT) the *first* tariff element whose restrictions all match
applies; TIME is charging time, PARKING_TIME is plugged-in time without
charging; restrictions used here are ``start_time``/``end_time`` (local time
of day, ``end < start`` wraps past midnight), ``day_of_week`` and
``min_duration``/``max_duration`` (seconds since plug-in; this is how an idle
fee "after a grace period" is expressed). FLAT applies once, as matched at the
session start.

Exactness. Every ``step_size`` is 1 (per Wh, per second), and the generator
keeps every session instant and duration a multiple of 9 s, so every time
volume in hours is an exact 4-decimal number (9 s = 0.0025 h) and every energy
volume is whole Wh. A dimension's cost is the exact sum over its periods of
price × volume, rounded half up to the cent once per dimension;
``total_cost = energy + time + parking + fixed`` cents. Re-pricing from the
charging periods, from the totals or from the timestamps gives the same cents.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evrevops.demo import params as P
from evrevops.demo.tz import utc_offset, weekday

QUANTUM_S = 9  # 9 s = 0.0025 h: time volumes are exact with 4 decimals
DIMS = ("ENERGY", "TIME", "PARKING_TIME", "FLAT")
_DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
WEEKDAYS = tuple(_DAYS[:5])


@dataclass(frozen=True)
class Element:
    """One tariff element: price per dimension in cents (per kWh, per hour, per session)."""

    prices: dict[str, int]
    start_h: int | None = None
    end_h: int | None = None
    days: tuple[str, ...] | None = None
    min_duration: int | None = None
    max_duration: int | None = None

    def to_json(self) -> dict:
        comps = [
            {"type": d, "price": self.prices[d] / 100, "step_size": 1} for d in ("FLAT", *DIMS[:3]) if d in self.prices
        ]
        out: dict = {"price_components": comps}
        r: dict = {}
        if self.start_h is not None:
            r["start_time"] = f"{self.start_h:02d}:00"
        if self.end_h is not None:
            r["end_time"] = f"{self.end_h:02d}:00"
        if self.days is not None:
            r["day_of_week"] = list(self.days)
        if self.min_duration is not None:
            r["min_duration"] = self.min_duration
        if self.max_duration is not None:
            r["max_duration"] = self.max_duration
        if r:
            out["restrictions"] = r
        return out


@dataclass(frozen=True)
class Tariff:
    id: str
    segment: str
    description: str
    elements: tuple[Element, ...]
    alt_text: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self, last_updated: str, start_date_time: str) -> dict:
        return {
            "country_code": "US",
            "party_id": P.PARTY,
            "id": self.id,
            "currency": P.CURRENCY,
            "type": "REGULAR",
            "tariff_alt_text": [{"language": "en", "text": self.alt_text}],
            "elements": [e.to_json() for e in self.elements],
            "start_date_time": start_date_time,
            "last_updated": last_updated,
        }


E = Element
TARIFFS: tuple[Tariff, ...] = (
    Tariff(
        "EVR-DC-STD",
        "public_dc",
        "public DC fast charging, per kWh with an evening peak price and an idle fee",
        (
            E({"ENERGY": 58}, start_h=16, end_h=21),
            E({"ENERGY": 48}),
            E({"PARKING_TIME": 2400}, min_duration=2700),
        ),
        alt_text="$0.48/kWh, $0.58/kWh 4-9 pm; idle fee $0.40/min once the session passes 45 min",
    ),
    Tariff(
        "EVR-DC-TIME",
        "public_dc",
        "public DC fast charging: session fee, per kWh plus per charging minute (cheaper at night), idle fee",
        (
            E({"FLAT": 100}),
            E({"ENERGY": 39}),
            E({"TIME": 900}, start_h=7, end_h=23),
            E({"TIME": 480}),
            E({"PARKING_TIME": 3000}, min_duration=3600),
        ),
        alt_text="$1.00 per session + $0.39/kWh + $0.15/min charging (7 am-11 pm, else $0.08/min); idle $0.50/min after 60 min",
    ),
    Tariff(
        "EVR-L2-WORK",
        "commercial",
        "workplace Level 2: per kWh, idle fee after 4 h on weekdays, free overnight parking",
        (
            E({"ENERGY": 28}),
            E({"PARKING_TIME": 0}, start_h=19, end_h=7),
            E({"PARKING_TIME": 200}, days=WEEKDAYS, min_duration=14400),
        ),
        alt_text="$0.28/kWh; $2.00/h idle fee on weekdays once plugged in over 4 h; no idle fee 7 pm-7 am",
    ),
    Tariff(
        "EVR-L2-DEST",
        "commercial",
        "destination Level 2: session fee, per kWh, idle fee after 3 h",
        (
            E({"FLAT": 50}),
            E({"ENERGY": 35}),
            E({"PARKING_TIME": 300}, min_duration=10800),
        ),
        alt_text="$0.50 per session + $0.35/kWh; $3.00/h once plugged in over 3 h",
    ),
    Tariff(
        "EVR-FLEET-DEPOT",
        "fleet",
        "fleet depot: off-peak energy overnight (22:00-06:00, wraps past midnight)",
        (
            E({"ENERGY": 21}, start_h=22, end_h=6),
            E({"ENERGY": 29}),
        ),
        alt_text="$0.21/kWh 10 pm-6 am, else $0.29/kWh (billed to the fleet account)",
    ),
    Tariff(
        "EVR-HOME",
        "residential",
        "home charger, shared/reimbursed use: night rate 21:00-07:00 (wraps past midnight)",
        (
            E({"ENERGY": 16}, start_h=21, end_h=7),
            E({"ENERGY": 24}),
        ),
        alt_text="$0.16/kWh 9 pm-7 am, else $0.24/kWh",
    ),
)
TARIFF_INDEX = {t.id: i for i, t in enumerate(TARIFFS)}


def tariffs_json(last_updated: str, start_date_time: str) -> list[dict]:
    return [t.to_json(last_updated, start_date_time) for t in TARIFFS]


def _match(el: Element, hour: np.ndarray, dow: np.ndarray, elapsed: np.ndarray) -> np.ndarray:
    ok = np.ones(len(hour), dtype=bool)
    if el.start_h is not None or el.end_h is not None:
        a = 0 if el.start_h is None else el.start_h
        b = 24 if el.end_h in (None, 0) else el.end_h
        ok &= ((hour >= a) & (hour < b)) if a < b else ((hour >= a) | (hour < b))
    if el.days is not None:
        mask = np.zeros(7, dtype=bool)
        mask[[_DAYS.index(d) for d in el.days]] = True
        ok &= mask[dow]
    if el.min_duration is not None:
        ok &= elapsed >= el.min_duration
    if el.max_duration is not None:
        ok &= elapsed < el.max_duration
    return ok


def active_element(tariff: Tariff, dim: str, hour, dow, elapsed) -> np.ndarray:
    """Index of the first element with a *dim* component whose restrictions match; -1 when none."""
    out = np.full(len(hour), -1, dtype=np.int64)
    for j, el in enumerate(tariff.elements):
        if dim not in el.prices:
            continue
        m = (out < 0) & _match(el, hour, dow, elapsed)
        out[m] = j
    return out


@dataclass
class Priced:
    """Result of :func:`price_sessions` (all integer arrays)."""

    # per period, sorted by (session, start)
    p_sess: np.ndarray
    p_start: np.ndarray  # UTC seconds
    p_charging: np.ndarray  # bool
    p_q: np.ndarray  # duration in 9-s quanta
    p_wh: np.ndarray
    # per session
    energy_c: np.ndarray
    time_c: np.ndarray
    parking_c: np.ndarray
    flat_c: np.ndarray


def _round_div(num: np.ndarray, den: int) -> np.ndarray:
    """Half-up rounding of non-negative num / den."""
    return (2 * num + den) // (2 * den)


def _local(utc: np.ndarray, tz_code: np.ndarray, zones: list[str], years: tuple[int, int]) -> np.ndarray:
    """Local wall-clock seconds of UTC instants, each in its zone [s since epoch, wall clock]."""
    wall = utc.copy()
    for code, name in enumerate(zones):
        mm = tz_code == code
        if mm.any():
            wall[mm] = utc[mm] + utc_offset(utc[mm], name, years)
    return wall


def _breakpoints(start, total_s, charge_s, tariff) -> tuple[np.ndarray, np.ndarray]:
    """Where a session's periods may begin: ``(session, offset [s])``, sorted and distinct.

    Its start, the end of charging, every duration restriction of any tariff and every UTC hour
    (every zone's offset is whole hours, so local hours too); a session without tariff has its start only.
    """
    n = len(start)
    end = start + total_s
    sess = np.arange(n, dtype=np.int64)
    parts_s = [sess]
    parts_o = [np.zeros(n, dtype=np.int64)]
    priced = tariff >= 0
    m = priced & (charge_s > 0) & (charge_s < total_s)
    parts_s.append(sess[m])
    parts_o.append(charge_s[m])
    durs = sorted({d for t in TARIFFS for e in t.elements for d in (e.min_duration, e.max_duration) if d is not None})
    for d in durs:
        m = priced & (total_s > d)
        parts_s.append(sess[m])
        parts_o.append(np.full(int(m.sum()), d, dtype=np.int64))
    h0 = np.floor_divide(start, 3600)
    nh = np.where(priced, np.floor_divide(end - 1, 3600) - h0, 0)
    nh = np.maximum(nh, 0)
    rep = np.repeat(sess, nh)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(nh) - nh, nh) + 1
    parts_s.append(rep)
    parts_o.append((h0[rep] + k) * 3600 - start[rep])
    s_all = np.concatenate(parts_s)
    o_all = np.concatenate(parts_o)
    order = np.lexsort((o_all, s_all))
    s_all = s_all[order]
    o_all = o_all[order]
    keep = np.ones(len(s_all), dtype=bool)
    keep[1:] = (s_all[1:] != s_all[:-1]) | (o_all[1:] != o_all[:-1])
    return s_all[keep], o_all[keep]


def _active_elements(t_of: np.ndarray, hour, dow, elapsed) -> dict[str, np.ndarray]:
    """Per segment and dimension (ENERGY, TIME, PARKING_TIME), the index of the element that applies (-1: none)."""
    el = {d: np.full(len(t_of), -1, dtype=np.int64) for d in DIMS[:3]}
    for ti, t in enumerate(TARIFFS):
        mm = t_of == ti
        if not mm.any():
            continue
        for d in DIMS[:3]:
            el[d][mm] = active_element(t, d, hour[mm], dow[mm], elapsed[mm])
    return el


def _period_starts(s_all, charging, el: dict[str, np.ndarray]) -> np.ndarray:
    """The segments that begin a period: a new session, or a change of what is billed (consecutive equal keys merge)."""
    e_key = np.where(charging, el["ENERGY"], -2)
    t_key = np.where(charging, el["TIME"], -2)
    p_key = np.where(charging, -2, el["PARKING_TIME"])
    new = np.ones(len(s_all), dtype=bool)
    new[1:] = (
        (s_all[1:] != s_all[:-1])
        | (charging[1:] != charging[:-1])
        | (e_key[1:] != e_key[:-1])
        | (t_key[1:] != t_key[:-1])
        | (p_key[1:] != p_key[:-1])
    )
    return np.flatnonzero(new)


def _element_prices(p_tariff: np.ndarray, el_of_period: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per period and dimension, the price of its element (0 without one) [1e-3 cent per Wh, cent per hour]."""
    price = {d: np.zeros(len(p_tariff), dtype=np.int64) for d in DIMS[:3]}
    for ti, t in enumerate(TARIFFS):
        mm = p_tariff == ti
        if not mm.any():
            continue
        for d in DIMS[:3]:
            ids = el_of_period[d][mm]
            table = np.array([e.prices.get(d, 0) for e in t.elements] + [0], dtype=np.int64)
            price[d][mm] = table[ids]  # -1 -> the appended 0
    return price


def _flat_prices(start, tariff, tz_code, zones, years) -> np.ndarray:
    """Each session's FLAT price as matched at its start [cent]."""
    flat_c = np.zeros(len(start), dtype=np.int64)
    wall0 = _local(start, tz_code, zones, years)
    for ti, t in enumerate(TARIFFS):
        mm = tariff == ti
        if not mm.any():
            continue
        ids = active_element(
            t,
            "FLAT",
            np.floor_divide(np.mod(wall0[mm], 86400), 3600),
            weekday(wall0[mm]),
            np.zeros(int(mm.sum()), dtype=np.int64),
        )
        table = np.array([e.prices.get("FLAT", 0) for e in t.elements] + [0], dtype=np.int64)
        flat_c[mm] = table[ids]
    return flat_c


def _per_session(units: np.ndarray, p_sess: np.ndarray, n: int, den: int) -> np.ndarray:
    """Sum a per-period amount per session (periods sorted by session), rounded half up after dividing by *den*."""
    seg_first = np.flatnonzero(np.r_[True, p_sess[1:] != p_sess[:-1]])
    tot = np.zeros(n, dtype=np.int64)
    tot[p_sess[seg_first]] = np.add.reduceat(units, seg_first) if len(units) else 0
    return _round_div(tot, den)


def price_sessions(
    start: np.ndarray,
    total_s: np.ndarray,
    charge_s: np.ndarray,
    wh: np.ndarray,
    tariff: np.ndarray,
    tz_code: np.ndarray,
    zones: list[str],
    years: tuple[int, int],
) -> Priced:
    """Split sessions into OCPI charging periods and price them.

    ``tariff`` is an index into :data:`TARIFFS`, or -1 for no tariff (failed
    attempts: one period without ``tariff_id``, cost 0). Instants and
    durations must be multiples of :data:`QUANTUM_S`.

    Parameters
    ----------
    start : numpy.ndarray
        Session starts [s since epoch, UTC].
    total_s, charge_s : numpy.ndarray
        Plugged-in and charging time [s].
    wh : numpy.ndarray
        Energy [Wh].
    tariff, tz_code : numpy.ndarray
        Index into :data:`TARIFFS` (-1: none) and into *zones* per session.
    zones : list of str
        IANA zone names.
    years : tuple of int
        The years the zone offsets are tabulated for.
    """
    n = len(start)
    for a in (start, total_s, charge_s):
        if np.any(a % QUANTUM_S):
            raise ValueError("session times must be multiples of 9 s")
    s_all, o_all = _breakpoints(start, total_s, charge_s, tariff)
    # local time of each segment start, active elements
    wall = _local(start[s_all] + o_all, tz_code[s_all], zones, years)
    charging = o_all < charge_s[s_all]
    el = _active_elements(tariff[s_all], np.floor_divide(np.mod(wall, 86400), 3600), weekday(wall), o_all)
    first = _period_starts(s_all, charging, el)
    p_sess = s_all[first]
    p_off = o_all[first]
    p_last = np.ones(len(first), dtype=bool)
    p_last[:-1] = p_sess[1:] != p_sess[:-1]
    p_end = np.where(p_last, total_s[p_sess], np.r_[p_off[1:], 0])
    p_charging = charging[first]
    p_q = (p_end - p_off) // QUANTUM_S
    # energy: whole Wh spread at constant power over the charging time (cumulative, exact sum)
    c = charge_s[p_sess]
    e_tot = wh[p_sess]
    cum = lambda x: np.where(c > 0, (2 * e_tot * np.minimum(x, c) + c) // np.maximum(2 * c, 1), 0)  # noqa: E731
    p_wh = np.where(p_charging, cum(p_end) - cum(p_off), 0)
    # costs
    price = _element_prices(tariff[p_sess], {d: el[d][first] for d in DIMS[:3]})
    e_units = np.where(p_charging, price["ENERGY"] * p_wh, 0)  # 1e-3 cent
    t_units = np.where(p_charging, price["TIME"] * p_q, 0)  # 1/400 cent
    pk_units = np.where(~p_charging, price["PARKING_TIME"] * p_q, 0)
    return Priced(
        p_sess=p_sess,
        p_start=start[p_sess] + p_off,
        p_charging=p_charging,
        p_q=p_q,
        p_wh=p_wh,
        energy_c=_per_session(e_units, p_sess, n, 1000),
        time_c=_per_session(t_units, p_sess, n, 400),
        parking_c=_per_session(pk_units, p_sess, n, 400),
        flat_c=_flat_prices(start, tariff, tz_code, zones, years),
    )
