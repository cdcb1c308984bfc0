"""OCPI 2.2.1 Tariffs (``mod_tariffs``) → ``driver_tariffs``.

A Tariff is what drivers pay (handbook §5): price components ``ENERGY`` (per
kWh), ``TIME`` (per charging hour), ``PARKING_TIME`` (per idle hour) and
``FLAT`` (per session), prices excluding VAT, grouped in elements whose
restrictions say when they apply. This reader checks the structure a pricing
engine relies on and stores the Tariff itself as canonical JSON; pricing is
done elsewhere.

Mapping (``docs/formats.md``, "OCPI Tariffs"):

* ``tariff_id`` = ``country_code*party_id*id`` (``id`` alone when both
  ``country_code`` and ``party_id`` are absent); ``country_code``,
  ``party_id``, ``currency``, ``type``;
* ``tariff_json`` = the Tariff re-serialised compactly with keys sorted,
  numbers with their exact text (``0.50`` stays ``0.50``);
* ``min_price_excl_vat`` / ``max_price_excl_vat`` as exact decimal text;
* ``start_at`` / ``end_at`` / ``last_updated_at`` from ``start_date_time`` /
  ``end_date_time`` / ``last_updated`` (UTC). A newer ``last_updated``
  replaces the stored Tariff; the same or an older one is a duplicate.

Quarantined, one row per bad field with its path
(``elements[1].price_components[0].type``): missing ``id``; a currency that is
not three capital letters; no elements or an element without price
components; a component type outside ``ENERGY|FLAT|PARKING_TIME|TIME``; a
price or VAT that is not a number ≥ 0; a ``step_size`` that is not an integer
≥ 0; restriction times not ``HH:MM``, dates not ``YYYY-MM-DD``, unknown
``day_of_week`` or ``reservation`` values, negative limits; an unknown tariff
``type``; a ``min_price``/``max_price`` without a number ``excl_vat`` ≥ 0;
unreadable date-times.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from evrevops.core import iso4217
from evrevops.formats import limits
from evrevops.formats.base import Batch
from evrevops.formats.json_records import (
    canonical_json,
    column_table,
    json_batch,
    map_records,
    read_json_records,
    when_valid,
)
from evrevops.formats.json_values import describe, id_problem, is_int, is_number, parse_instant, text_problem

DIMENSIONS = ("ENERGY", "FLAT", "PARKING_TIME", "TIME")
TARIFF_TYPES = ("AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR")
DAYS_OF_WEEK = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
RESERVATIONS = ("RESERVATION", "RESERVATION_EXPIRES")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_DATE = re.compile(r"^[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
_NUMBER_LIMITS = ("min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power")
_INT_LIMITS = ("min_duration", "max_duration")
_NUMBER_BOUND = Decimal(10) ** 9  # restriction limits are priced as DECIMAL(18, 9)
_INT_BOUND = 2**31 - 1  # step sizes and durations [s] fit a 32-bit integer
# a Tariff is published ahead: its validity may run this far past the time window's end
VALIDITY_AHEAD = dt.timedelta(days=3653)

SCHEMA = pa.schema(
    [
        ("tariff_id", pa.string()),
        ("country_code", pa.string()),
        ("party_id", pa.string()),
        ("currency", pa.string()),
        ("type", pa.string()),
        ("tariff_json", pa.string()),
        ("min_price_excl_vat", pa.string()),
        ("max_price_excl_vat", pa.string()),
        ("start_at", pa.timestamp("us")),
        ("end_at", pa.timestamp("us")),
        ("last_updated_at", pa.timestamp("us")),
        ("source_record", pa.int64()),
    ]
)


def _restrictions(r: Any, path: str, err: list[tuple[str, str]]) -> None:
    if not isinstance(r, dict):
        err.append((path, f"restrictions must be an object, got {describe(r)}"))
        return
    for key in ("start_time", "end_time"):
        v = r.get(key)
        if v is not None and not (isinstance(v, str) and _HHMM.match(v)):
            err.append((f"{path}.{key}", f"not a time HH:MM (00:00-23:59): {describe(v)}"))
    for key in ("start_date", "end_date"):
        v = r.get(key)
        if v is not None:
            ok = isinstance(v, str) and bool(_DATE.match(v))
            if ok:
                try:
                    dt.date.fromisoformat(v)
                except ValueError:
                    ok = False
            if not ok:
                err.append((f"{path}.{key}", f"not a date YYYY-MM-DD: {describe(v)}"))
            else:
                problem = _validity_problem(dt.datetime.fromisoformat(v))
                if problem:
                    err.append((f"{path}.{key}", problem))
    for key in _NUMBER_LIMITS:
        v = r.get(key)
        if v is not None and not (is_number(v) and v >= 0):
            err.append((f"{path}.{key}", f"{key} must be a number >= 0, got {describe(v)}"))
        elif v is not None and v >= _NUMBER_BOUND:
            err.append((f"{path}.{key}", f"{key} {v} is not below {_NUMBER_BOUND:,}"))
    for key in _INT_LIMITS:
        v = r.get(key)
        if v is not None and not (is_int(v) and v >= 0):
            err.append((f"{path}.{key}", f"{key} must be an integer number of seconds >= 0, got {describe(v)}"))
        elif v is not None and v > _INT_BOUND:
            err.append((f"{path}.{key}", f"{key} {v} s is not below 2^31"))
    dow = r.get("day_of_week")
    if dow is not None:
        if not isinstance(dow, list):
            err.append((f"{path}.day_of_week", f"day_of_week must be a list, got {describe(dow)}"))
        else:
            for k, d in enumerate(dow):
                if d not in DAYS_OF_WEEK:
                    err.append(
                        (
                            f"{path}.day_of_week[{k}]",
                            f"day_of_week must be one of {'|'.join(DAYS_OF_WEEK)}, got {describe(d)}",
                        )
                    )
    res = r.get("reservation")
    if res is not None and res not in RESERVATIONS:
        err.append((f"{path}.reservation", f"reservation must be one of {'|'.join(RESERVATIONS)}, got {describe(res)}"))


def _validity_problem(t: dt.datetime) -> str | None:
    """Why a Tariff's validity instant or restriction date *t* is implausible: before the time window,
    or more than :data:`VALIDITY_AHEAD` after its end (a Tariff is published ahead of its start)."""
    lim = limits.current()
    if t < lim.earliest:
        return lim.time_problem(t)
    if t > lim.until + VALIDITY_AHEAD:
        return f"{t.isoformat()} is more than 10 years after {lim.until:%Y-%m-%d}; see --latest"
    return None


def _money_problem(v: Any) -> str | None:
    """Why the number *v* (a price, or a Price's amount) is not below the money limit in force, or None."""
    lim = limits.current()
    return (
        f"{v} is not below the limit of {lim.max_money_major:,} per amount" if abs(v) >= lim.max_money_major else None
    )


def _price(p: Any, path: str, err: list[tuple[str, str]]) -> str | None:
    """Check an OCPI ``Price``; return ``excl_vat`` as exact decimal text."""
    if not isinstance(p, dict):
        err.append((path, f"not a Price object: {describe(p)}"))
        return None
    ok = True
    for key, required in (("excl_vat", True), ("incl_vat", False)):
        v = p.get(key)
        if v is None and not required:
            continue
        if not (is_number(v) and v >= 0):
            err.append((f"{path}.{key}", f"{key} must be a number >= 0, got {describe(v)}"))
            ok = ok and key != "excl_vat"
        elif _money_problem(v):
            err.append((f"{path}.{key}", f"{key} {_money_problem(v)}"))
            ok = ok and key != "excl_vat"
    return str(p["excl_vat"]) if ok else None


def _objects(items: Any, parent: str, key: str, kind: str, err: list[tuple[str, str]]) -> Iterator[tuple[str, Any]]:
    """``(path, object)`` of each element of the non-empty list *items*, the value of *key* in *parent*.

    That *items* is no non-empty list, or an element no *kind* object, goes to *err*; the
    elements are yielded one at a time, so the errors stay in the order of the elements.
    """
    path = f"{parent}.{key}" if parent else key
    if not isinstance(items, list) or not items:
        err.append((path, f"{key} must be a non-empty list"))
        return
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            err.append((f"{path}[{i}]", f"not a {kind} object: {describe(item)}"))
            continue
        yield f"{path}[{i}]", item


def check_tariff(t: dict[str, Any]) -> list[tuple[str, str]]:
    """Structural checks of one OCPI 2.2.1 Tariff (the module docstring lists what is quarantined).

    Parameters
    ----------
    t : dict
        The Tariff as :func:`~evrevops.formats.json_records.read_json_records` parsed it.

    Returns
    -------
    list of (field path, reason)
        Empty when the Tariff is usable.
    """
    err: list[tuple[str, str]] = []
    tid = t.get("id")
    if problem := id_problem(tid, "Tariff", "id"):
        err.append(("id", problem))
    elif len(tid) > 36:
        err.append(("id", f"id {text_problem(tid, 36)}"))
    for key, longest in (("country_code", 2), ("party_id", 3)):
        v = t.get(key)
        if v is not None and not isinstance(v, str):
            err.append((key, f"not a text: {describe(v)}"))
        elif v is not None and len(v) > longest:
            err.append((key, f"{key} {text_problem(v, longest)}"))
    cur = t.get("currency")
    if not iso4217.is_payable(cur):
        if isinstance(cur, str) and cur in iso4217.NOT_PAYABLE:
            err.append(("currency", f"not a currency an amount can be in: {iso4217.problem(cur)}"))
        else:
            err.append(("currency", f"not an ISO-4217 currency: {describe(cur) if cur is not None else 'missing'}"))
    typ = t.get("type")
    if typ is not None and typ not in TARIFF_TYPES:
        err.append(("type", f"type must be one of {'|'.join(TARIFF_TYPES)}, got {describe(typ)}"))
    for ep, el in _objects(t.get("elements"), "", "elements", "TariffElement", err):
        for cp, c in _objects(el.get("price_components"), ep, "price_components", "PriceComponent", err):
            if c.get("type") not in DIMENSIONS:
                err.append((f"{cp}.type", f"type must be one of {'|'.join(DIMENSIONS)}, got {describe(c.get('type'))}"))
            if not (is_number(c.get("price")) and c["price"] >= 0):
                err.append((f"{cp}.price", f"price must be a number >= 0, got {describe(c.get('price'))}"))
            elif _money_problem(c["price"]):
                err.append((f"{cp}.price", f"price {_money_problem(c['price'])}"))
            if c.get("vat") is not None and not (is_number(c["vat"]) and c["vat"] >= 0):
                err.append((f"{cp}.vat", f"vat must be a number >= 0 (percent), got {describe(c['vat'])}"))
            elif c.get("vat") is not None and c["vat"] > 100:
                err.append((f"{cp}.vat", f"vat {c['vat']} is more than 100 percent"))
            if not (is_int(c.get("step_size")) and c["step_size"] >= 0):
                err.append(
                    (f"{cp}.step_size", f"step_size must be an integer >= 0, got {describe(c.get('step_size'))}")
                )
            elif c["step_size"] > _INT_BOUND:
                err.append((f"{cp}.step_size", f"step_size {c['step_size']} is not below 2^31"))
        if el.get("restrictions") is not None:
            _restrictions(el["restrictions"], f"{ep}.restrictions", err)
    for key in ("min_price", "max_price"):
        if t.get(key) is not None:
            _price(t[key], key, err)
    for key in ("start_date_time", "end_date_time", "last_updated"):
        if t.get(key) is not None:
            try:
                when = parse_instant(t[key])
            except ValueError as exc:
                err.append((key, str(exc)))
                continue
            problem = limits.current().time_problem(when) if key == "last_updated" else _validity_problem(when)
            if problem:
                err.append((key, problem))
    return err


def tariff_id(t: dict[str, Any]) -> str:
    """``country_code*party_id*id``, or ``id`` alone when both parts are absent."""
    cc, pid = t.get("country_code"), t.get("party_id")
    if cc is None and pid is None:
        return str(t["id"])
    return f"{cc or ''}*{pid or ''}*{t['id']}"


def read_tariffs(path: str | Path, mapping: str | None = None) -> Batch:
    """Read OCPI 2.2.1 Tariffs from a JSON array, NDJSON, a response page or one object.

    Parameters
    ----------
    path : str or Path
        The Tariffs; ``.gz`` is decompressed.
    mapping : None
        Unused (one mapping, the module docstring's).

    Returns
    -------
    Batch
        ``driver_tariffs`` rows; quarantine rows with field paths for Tariffs
        that fail :func:`check_tariff`.
    """
    n, records, bad = read_json_records(Path(path), ("data",))
    rows, qrows = map_records(records, bad, when_valid(check_tariff, _tariff_row))
    return json_batch("ocpi-tariffs", n, {"driver_tariffs": column_table(rows, SCHEMA)}, qrows)


def _tariff_row(rec: int, t: dict[str, Any]) -> dict[str, Any]:
    """The ``driver_tariffs`` row of the Tariff of record *rec* (one that passed :func:`check_tariff`)."""

    def instant(key: str) -> dt.datetime | None:
        return parse_instant(t[key]) if t.get(key) is not None else None

    return {
        "tariff_id": tariff_id(t),
        "country_code": t.get("country_code"),
        "party_id": t.get("party_id"),
        "currency": t["currency"],
        "type": t.get("type"),
        "tariff_json": canonical_json(t),
        "min_price_excl_vat": str(t["min_price"]["excl_vat"]) if t.get("min_price") is not None else None,
        "max_price_excl_vat": str(t["max_price"]["excl_vat"]) if t.get("max_price") is not None else None,
        "start_at": instant("start_date_time"),
        "end_at": instant("end_date_time"),
        "last_updated_at": instant("last_updated"),
        "source_record": rec,
    }
