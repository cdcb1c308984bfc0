"""OpenEI Utility Rate Database (URDB) rate records → ``utility_tariffs``.

A URDB record is a site's electricity tariff (handbook §5): energy charges by
time-of-use period and tier (``energyratestructure`` with the 12 × 24 month ×
hour ``energyweekdayschedule``/``energyweekendschedule``), demand charges by
TOU period (``demandratestructure`` and its schedules) and flat by month
(``flatdemandstructure``, ``flatdemandmonths``), and fixed charges
(``fixedchargefirstmeter`` in ``fixedchargeunits``, or the older
``fixedmonthlycharge``). This reader checks the structure the bill engine
relies on and keeps the record itself as JSON; billing is done elsewhere.

Mapping (``docs/formats.md``, "URDB utility tariffs"):

* ``utility_tariff_id`` = ``label`` (the id a sites CSV names in
  ``utility_tariff_id``); ``utility``, ``name``, ``sector``, ``eiaid``;
* ``start_on`` / ``end_on`` from ``startdate`` / ``enddate`` (epoch seconds)
  as the date of the nearest UTC midnight: URDB stores a date as local midnight
  of whoever entered it (06:00Z and 07:00Z for Mountain time, 08:00Z for
  Pacific, 23:00Z the evening before for UTC+1), which all round to the date
  meant;
* ``has_tou_demand`` / ``has_flat_demand``: a non-empty
  ``demandratestructure`` / ``flatdemandstructure``;
* ``fixed_charge_units`` = ``fixedchargeunits``, ``$/month`` when missing (the
  URDB default, and the unit of ``fixedmonthlycharge``);
* ``demand_window_min`` = ``demandwindow``, 15 when missing;
* ``rate_json`` = the record re-serialised compactly with keys sorted, numbers
  with their exact text.

Two records of one file with the same ``label`` but different content (a
hand-edited copy that kept the label of the record it was copied from) both
get the id ``label#<first 8 hex digits of the SHA-256 of their rate_json>``,
so neither overwrites the other and the id does not depend on their order.
Across files, the loader treats the same id with different content as a
replacement (the newest file wins, counted in ``replaced``).

Features the bill engine does not bill (coincident-peak demand
``coincidentratestructure``, reactive-power ``demandreactivepowercharge``) are
accepted and kept in ``rate_json``: the engine reports them as unsupported
lines.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa

from evrevops.formats import limits
from evrevops.formats.base import Batch
from evrevops.formats.csv_columns import planned_until
from evrevops.formats.json_records import canonical_json, column_table, json_batch, map_records, when_valid
from evrevops.formats.json_values import describe, id_problem, is_int, is_number
from evrevops.formats.urdb_records import read_urdb_records

FIXED_CHARGE_UNITS = ("$/month", "$/day", "$/year")
DEFAULT_FIXED_CHARGE_UNITS = "$/month"
DEFAULT_DEMAND_WINDOW_MIN = 15
MAX_DEMAND_WINDOW_MIN = 1440  # a demand window longer than a day is no demand window
MAX_EIAID = 10**9  # EIA utility ids are small whole numbers
MAX_LABEL_CHARS = 255  # the label is the tariff's id
MAX_TEXT_CHARS = 2000  # utility, name, sector
# Amounts in $ (per kWh, per kW, per month ...) a record states outside its rate structures.
MONEY_KEYS = ("fixedchargefirstmeter", "fixedchargeeaaddl", "fixedmonthlycharge", "demandreactivepowercharge",
              "minmonthlycharge", "annualmincharge")  # fmt: skip
_EPOCH = dt.datetime(1970, 1, 1)

# structure → the schedules that index its periods
STRUCTURES: dict[str, tuple[str, ...]] = {
    "energyratestructure": ("energyweekdayschedule", "energyweekendschedule"),
    "demandratestructure": ("demandweekdayschedule", "demandweekendschedule"),
    "coincidentratestructure": ("coincidentschedule",),
    "flatdemandstructure": (),
}

SCHEMA = pa.schema(
    [
        ("utility_tariff_id", pa.string()),
        ("utility", pa.string()),
        ("name", pa.string()),
        ("sector", pa.string()),
        ("eiaid", pa.int64()),
        ("start_on", pa.date32()),
        ("end_on", pa.date32()),
        ("has_tou_demand", pa.bool_()),
        ("has_flat_demand", pa.bool_()),
        ("fixed_charge_units", pa.string()),
        ("demand_window_min", pa.int32()),
        ("rate_json", pa.string()),
        ("source_record", pa.int64()),
    ]
)


def _integral(v: Any) -> int | None:
    """An integer, also from an integral Decimal (``14940.0``); None otherwise.

    A Decimal of 2^63 or more is not converted (``1E+999999`` would make a million-digit
    integer): it is returned as 2^63, larger than every bound it is checked against.
    """
    if is_int(v):
        return int(v)
    if isinstance(v, Decimal) and v.is_finite() and v == v.to_integral_value():
        return int(v) if abs(v) < 2**63 else (2**63 if v > 0 else -(2**63))
    return None


def epoch_date(seconds: Any) -> dt.date:
    """URDB epoch seconds → the date of the nearest UTC midnight.

    Raises
    ------
    ValueError
        When *seconds* is not a number.
    """
    if not is_number(seconds):
        raise ValueError(f"not epoch seconds: {describe(seconds)}")
    if not abs(seconds) < 2**38:  # about year 10680: beyond the calendar, and no huge integer is made
        raise ValueError(f"epoch seconds {describe(seconds)} are no date of the calendar")
    try:
        s = int((Decimal(seconds) + 43200).to_integral_value(rounding=ROUND_HALF_UP))
        return (_EPOCH + dt.timedelta(seconds=s)).date()
    except (OverflowError, InvalidOperation):  # beyond the calendar (years 1 to 9999)
        raise ValueError(f"epoch seconds {describe(seconds)} are no date of the calendar") from None


def _present(v: Any) -> bool:
    return v is not None and v != []


def _structure(name: str, s: Any, err: list[tuple[str, str]]) -> int:
    """Check a rate structure (periods of tiers); return its number of periods."""
    if not isinstance(s, list):
        err.append((name, f"a rate structure must be a list of periods, got {describe(s)}"))
        return 0
    for p, period in enumerate(s):
        pp = f"{name}[{p}]"
        if not isinstance(period, list) or not period:
            err.append((pp, f"a period must be a non-empty list of tiers, got {describe(period)}"))
            continue
        last_max: Decimal | None = None
        for k, tier in enumerate(period):
            tp = f"{pp}[{k}]"
            if not isinstance(tier, dict):
                err.append((tp, f"a tier must be an object, got {describe(tier)}"))
                continue
            if tier.get("rate") is None and tier.get("adj") is None:
                err.append((tp, "a tier needs a rate (or adj)"))
            for key in ("rate", "adj", "sell"):
                if tier.get(key) is not None and not is_number(tier[key]):
                    err.append((f"{tp}.{key}", f"{key} must be a number, got {describe(tier[key])}"))
                elif tier.get(key) is not None and (why := limits.current().money_problem(Decimal(tier[key]))):
                    err.append((f"{tp}.{key}", f"{key}: {why}"))
            mx = tier.get("max")
            if mx is not None:
                if not (is_number(mx) and mx > 0):
                    err.append((f"{tp}.max", f"max must be a number > 0, got {describe(mx)}"))
                elif last_max is not None and Decimal(mx) <= last_max:
                    err.append((f"{tp}.max", f"tier limits must increase: {mx} after {last_max}"))
                else:
                    last_max = Decimal(mx)
            elif k < len(period) - 1:
                err.append((f"{tp}.max", "only the last tier may have no max"))
    return len(s)


def _schedule(name: str, s: Any, periods: int, structure: str, err: list[tuple[str, str]]) -> None:
    """Check a 12 × 24 schedule of period indexes into a structure of *periods* periods."""
    if not isinstance(s, list) or len(s) != 12:
        err.append((name, f"a schedule must be 12 rows (months) of 24 hours, got {describe(s)}"))
        return
    for m, row in enumerate(s):
        if not isinstance(row, list) or len(row) != 24:
            err.append((f"{name}[{m}]", f"a month row must be 24 period indexes, got {describe(row)}"))
            continue
        for h, v in enumerate(row):
            if not is_int(v) or not 0 <= v < periods:
                err.append(
                    (f"{name}[{m}][{h}]", f"period {describe(v)} is not an index of {structure} ({periods} periods)")
                )
                break  # one row per bad month row is enough


def check_rate(r: dict[str, Any]) -> list[tuple[str, str]]:
    """Structural checks of one URDB rate record: its label and content, rate structures with their
    schedules, flat demand months, amounts, dates and texts, in this order.

    Returns
    -------
    errors : list of (field path, reason)
        Empty when the record is usable.
    """
    err: list[tuple[str, str]] = []
    _check_label_and_content(r, err)
    _check_structures(r, err)
    _check_flat_demand_months(r, err)
    lim = limits.current()
    _check_amounts(r, lim, err)
    _check_dates(r, lim, err)
    _check_texts(r, err)
    return err


def _check_label_and_content(r: dict[str, Any], err: list[tuple[str, str]]) -> None:
    """A text ``label``, and something to bill: a rate structure or a fixed charge."""
    if problem := id_problem(r.get("label"), "URDB", "label"):
        err.append(("label", problem))
    has_charge = any(_present(r.get(k)) for k in STRUCTURES) or any(
        r.get(k) is not None for k in ("fixedchargefirstmeter", "fixedmonthlycharge")
    )
    if not has_charge:
        err.append(
            (
                "energyratestructure",
                "not a URDB rate: no energyratestructure, demandratestructure, flatdemandstructure or fixed charge",
            )
        )


def _check_structures(r: dict[str, Any], err: list[tuple[str, str]]) -> None:
    """Each rate structure (:data:`STRUCTURES`) with the schedules that index its periods, both or neither."""
    for structure, schedules in STRUCTURES.items():
        s = r.get(structure)
        n = _structure(structure, s, err) if _present(s) else 0
        for sched in schedules:
            if _present(s) and not _present(r.get(sched)):
                err.append((sched, f"{structure} has no {sched}"))
            elif _present(r.get(sched)):
                if not _present(s):
                    err.append((sched, f"{sched} without {structure}"))
                else:
                    _schedule(sched, r[sched], n, structure, err)


def _check_flat_demand_months(r: dict[str, Any], err: list[tuple[str, str]]) -> None:
    """``flatdemandmonths``: 12 period indexes of ``flatdemandstructure``, when stated."""
    months = r.get("flatdemandmonths")
    if not _present(months):
        return
    n = len(r["flatdemandstructure"]) if isinstance(r.get("flatdemandstructure"), list) else 0
    if not _present(r.get("flatdemandstructure")):
        err.append(("flatdemandmonths", "flatdemandmonths without flatdemandstructure"))
    elif not isinstance(months, list) or len(months) != 12:
        err.append(("flatdemandmonths", f"flatdemandmonths must be 12 period indexes, got {describe(months)}"))
    else:
        for m, v in enumerate(months):
            if not is_int(v) or not 0 <= v < n:
                err.append(
                    (
                        f"flatdemandmonths[{m}]",
                        f"period {describe(v)} is not an index of flatdemandstructure ({n} periods)",
                    )
                )


def _check_amounts(r: dict[str, Any], lim: limits.Limits, err: list[tuple[str, str]]) -> None:
    """The amounts outside the rate structures (:data:`MONEY_KEYS`), the fixed-charge unit, the demand window, the EIA id."""
    for key in MONEY_KEYS:
        if r.get(key) is not None and not is_number(r[key]):
            err.append((key, f"{key} must be a number, got {describe(r[key])}"))
        elif r.get(key) is not None and (why := lim.money_problem(Decimal(r[key]))):
            err.append((key, f"{key}: {why}"))
    units = r.get("fixedchargeunits")
    if units is not None and units not in FIXED_CHARGE_UNITS:
        err.append(
            (
                "fixedchargeunits",
                f"fixedchargeunits must be one of {'|'.join(FIXED_CHARGE_UNITS)}, got {describe(units)}",
            )
        )
    window = r.get("demandwindow")
    if window is not None and not ((w := _integral(window)) is not None and w > 0):
        err.append(("demandwindow", f"demandwindow must be a whole number of minutes > 0, got {describe(window)}"))
    elif window is not None and _integral(window) > MAX_DEMAND_WINDOW_MIN:
        err.append(
            ("demandwindow", f"demandwindow {describe(window)} min is longer than a day ({MAX_DEMAND_WINDOW_MIN} min)")
        )
    if r.get("eiaid") is not None and _integral(r["eiaid"]) is None:
        err.append(("eiaid", f"eiaid must be an integer, got {describe(r['eiaid'])}"))
    elif r.get("eiaid") is not None and not 0 <= _integral(r["eiaid"]) < MAX_EIAID:
        err.append(("eiaid", f"eiaid must be an EIA utility id (0 to {MAX_EIAID:,}), got {describe(r['eiaid'])}"))


def _check_dates(r: dict[str, Any], lim: limits.Limits, err: list[tuple[str, str]]) -> None:
    """``startdate`` and ``enddate``: dates inside the time window in force, the end not before the start."""
    dates = {}
    for key, last in (("startdate", lim.until.date()), ("enddate", planned_until(lim))):
        if r.get(key) is not None:
            try:
                dates[key] = epoch_date(r[key])
            except ValueError as exc:
                err.append((key, str(exc)))
                continue
            if not lim.earliest.date() <= dates[key] <= last:
                note = " (an end date may lie up to 30 years ahead)" if key == "enddate" else ""
                err.append(
                    (
                        key,
                        f"{key} {dates[key]} is outside {lim.earliest:%Y-%m-%d} .. {last}{note}; see --earliest/--latest",
                    )
                )
                del dates[key]
    if len(dates) == 2 and dates["enddate"] < dates["startdate"]:
        err.append(("enddate", f"enddate {dates['enddate']} is before startdate {dates['startdate']}"))


def _check_texts(r: dict[str, Any], err: list[tuple[str, str]]) -> None:
    """``label``, ``utility``, ``name`` and ``sector``: texts no longer than their limit."""
    for key, most in (
        ("label", MAX_LABEL_CHARS),
        ("utility", MAX_TEXT_CHARS),
        ("name", MAX_TEXT_CHARS),
        ("sector", MAX_TEXT_CHARS),
    ):
        if r.get(key) is not None and not isinstance(r[key], str):
            if key != "label":
                err.append((key, f"not a text: {describe(r[key])}"))
        elif isinstance(r.get(key), str) and len(r[key]) > most:
            err.append((key, f"{key} longer than {most} characters"))


def read_urdb(path: str | Path, mapping: str | None = None) -> Batch:
    """Read URDB rate records: a bare rate object, ``{"items": [...]}``, an array or NDJSON.

    Parameters
    ----------
    path : str or Path
        The URDB export (``.gz`` is decompressed).
    mapping : None
        Unused: a URDB record maps as the module docstring says.

    Returns
    -------
    Batch
        ``utility_tariffs`` rows; quarantine rows with field paths
        (``energyweekdayschedule[6][17]``) for records that fail
        :func:`check_rate`: no label; no rate content at all; a structure that
        is not periods of tiers, a tier without a numeric rate, tier limits
        that do not increase; a schedule that is not 12 × 24 indexes of its
        structure's periods, or a structure without its schedules;
        ``flatdemandmonths`` not 12 indexes of ``flatdemandstructure``; unknown
        ``fixedchargeunits``; a non-positive ``demandwindow``; unreadable dates.
    """
    n, records, bad = read_urdb_records(Path(path))
    rows, qrows = map_records(records, bad, when_valid(check_rate, _rate_row))
    # The same label with different content in one file: make both ids unique and order-independent.
    contents: dict[str, set[str]] = {}
    for row in rows:
        contents.setdefault(row["utility_tariff_id"], set()).add(row["rate_json"])
    for row in rows:
        if len(contents[row["utility_tariff_id"]]) > 1:
            digest = hashlib.sha256(row["rate_json"].encode()).hexdigest()[:8]
            row["utility_tariff_id"] = f"{row['utility_tariff_id']}#{digest}"
    return json_batch("urdb", n, {"utility_tariffs": column_table(rows, SCHEMA)}, qrows)


def _rate_row(rec: int, r: dict[str, Any]) -> dict[str, Any]:
    """The ``utility_tariffs`` row of the rate of record *rec* (one that passed :func:`check_rate`)."""
    return {
        "utility_tariff_id": r["label"].strip(),
        "utility": r.get("utility"),
        "name": r.get("name"),
        "sector": r.get("sector"),
        "eiaid": _integral(r.get("eiaid")),
        "start_on": epoch_date(r["startdate"]) if r.get("startdate") is not None else None,
        "end_on": epoch_date(r["enddate"]) if r.get("enddate") is not None else None,
        "has_tou_demand": _present(r.get("demandratestructure")),
        "has_flat_demand": _present(r.get("flatdemandstructure")),
        "fixed_charge_units": r.get("fixedchargeunits") or DEFAULT_FIXED_CHARGE_UNITS,
        "demand_window_min": _integral(r["demandwindow"])
        if r.get("demandwindow") is not None
        else DEFAULT_DEMAND_WINDOW_MIN,
        "rate_json": canonical_json(r),
        "source_record": rec,
    }
