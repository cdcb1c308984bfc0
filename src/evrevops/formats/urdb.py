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
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from evrevops.formats.base import Batch, quarantine_table
from evrevops.formats.ocpi_locations import (
    QRow,
    canonical_json,
    column_table,
    describe,
    is_int,
    is_number,
    read_json_records,
)

FIXED_CHARGE_UNITS = ("$/month", "$/day", "$/year")
DEFAULT_FIXED_CHARGE_UNITS = "$/month"
DEFAULT_DEMAND_WINDOW_MIN = 15

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
    """An integer, also from an integral Decimal (``14940.0``); None otherwise."""
    if is_int(v):
        return int(v)
    if isinstance(v, Decimal) and v.is_finite() and v == v.to_integral_value():
        return int(v)
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
    s = int((Decimal(seconds) + 43200).to_integral_value(rounding=ROUND_HALF_UP))
    return (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=s)).date()


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
    """Structural checks of one URDB rate record.

    Returns
    -------
    list of (field path, reason)
        Empty when the record is usable.
    """
    err: list[tuple[str, str]] = []
    label = r.get("label")
    if not isinstance(label, str) or not label.strip():
        err.append(("label", "missing URDB label" if label in (None, "") else f"not a text label: {describe(label)}"))
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
    months = r.get("flatdemandmonths")
    if _present(months):
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
    for key in ("fixedchargefirstmeter", "fixedchargeeaaddl", "fixedmonthlycharge", "demandreactivepowercharge"):
        if r.get(key) is not None and not is_number(r[key]):
            err.append((key, f"{key} must be a number, got {describe(r[key])}"))
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
    if r.get("eiaid") is not None and _integral(r["eiaid"]) is None:
        err.append(("eiaid", f"eiaid must be an integer, got {describe(r['eiaid'])}"))
    dates = {}
    for key in ("startdate", "enddate"):
        if r.get(key) is not None:
            try:
                dates[key] = epoch_date(r[key])
            except ValueError as exc:
                err.append((key, str(exc)))
    if len(dates) == 2 and dates["enddate"] < dates["startdate"]:
        err.append(("enddate", f"enddate {dates['enddate']} is before startdate {dates['startdate']}"))
    for key in ("utility", "name", "sector"):
        if r.get(key) is not None and not isinstance(r[key], str):
            err.append((key, f"not a text: {describe(r[key])}"))
    return err


def read_urdb(path: str | Path, mapping: str | None = None) -> Batch:
    """Read URDB rate records: a bare rate object, ``{"items": [...]}``, an array or NDJSON.

    Parameters
    ----------
    path : str or Path
        The file.
    mapping : None
        Unused (session-CSV mappings only).

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
    path = Path(path)
    n, records, bad = read_json_records(path, ("items",))
    qrows: list[QRow] = list(bad)
    rows: list[dict[str, Any]] = []
    for rec, r in records:
        text = canonical_json(r)
        errors = check_rate(r)
        if errors:
            qrows.extend((rec, f, reason, text) for f, reason in errors)
            continue
        rows.append(
            {
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
                "rate_json": text,
                "source_record": rec,
            }
        )
    # The same label with different content in one file: make both ids unique and order-independent.
    contents: dict[str, set[str]] = {}
    for row in rows:
        contents.setdefault(row["utility_tariff_id"], set()).add(row["rate_json"])
    for row in rows:
        if len(contents[row["utility_tariff_id"]]) > 1:
            digest = hashlib.sha256(row["rate_json"].encode()).hexdigest()[:8]
            row["utility_tariff_id"] = f"{row['utility_tariff_id']}#{digest}"
    qrows.sort(key=lambda q: (q[0], q[1] or ""))
    return Batch(
        format="urdb",
        records_read=n,
        tables={"utility_tariffs": column_table(rows, SCHEMA)},
        quarantine=quarantine_table(qrows),
    )
