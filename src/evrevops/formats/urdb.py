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
import gzip
import hashlib
import json
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa

from evrevops.formats import limits
from evrevops.formats.base import Batch, FormatError, quarantine_table
from evrevops.formats.csv_columns import planned_until
from evrevops.formats.ocpi_locations import (
    QRow,
    canonical_json,
    column_table,
    describe,
    is_int,
    is_number,
)

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
    lim = limits.current()
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
    return err


class _Obj(dict):
    """A JSON object that remembers the first key its text gave twice (``json.loads`` keeps the last silently)."""

    dup: str | None = None


def _object(pairs: list[tuple[str, Any]]) -> _Obj:
    obj = _Obj(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        obj.dup = next(k for k, _ in pairs if k in seen or seen.add(k))
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _loads(text: str) -> Any:
    """JSON with exact Decimal numbers, NaN/Infinity refused, duplicated keys remembered (:class:`_Obj`)."""
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=_object)


def _shape_problem(obj: Any, most: int) -> str | None:
    """Why a parsed record cannot be kept as it is: nested deeper than *most*, or a key given twice.

    A walk with an explicit stack (no recursion), so any depth Python's parser accepted is fine.
    """
    stack: list[tuple[Any, int, str]] = [(obj, 1, "")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict | list) and depth > most:
            return f"JSON nested more than {most} levels deep (see Limits.max_json_depth)"
        if isinstance(node, _Obj) and node.dup is not None:
            return f"duplicated key {node.dup!r}" + (f" in {path}" if path else "")
        if isinstance(node, dict):
            stack.extend((v, depth + 1, f"{path}.{k}" if path else str(k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(node))
    return None


def _read_records(
    path: Path, envelope_keys: tuple[str, ...] = ("items",)
) -> tuple[int, list[tuple[int, Any]], list[QRow]]:
    """Read the records of a URDB file: a bare object, an array, NDJSON, or ``{"items": [...]}``.

    As :func:`evrevops.formats.ocpi_locations.read_json_records` (record numbers, Decimal
    numbers), and hostile input ends as a quarantined record, never an exception: a line
    Python's parser cannot nest that deep, a record nested deeper than the limit in force, a key
    given twice, bytes that are not UTF-8 (the record's text then holds U+FFFD).

    Raises
    ------
    FormatError
        When the file is not JSON at all, or a single document (array, object) cannot be parsed.
    """
    most = limits.current().max_json_depth
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise FormatError(path, f"cannot read the file: {exc}") from None
    try:
        text, replaced = data.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        text, replaced = data.decode("utf-8-sig", errors="replace"), True
    head = text.lstrip("\ufeff \t\r\n")
    first, _, rest = head.partition("\n")
    ndjson = False
    if head.startswith("{"):
        try:
            obj = _loads(first)
            ndjson = not (isinstance(obj, dict) and any(isinstance(obj.get(k), list | dict) for k in envelope_keys))
            ndjson = ndjson and (not rest.strip() or rest.lstrip().startswith("{"))
        except (ValueError, RecursionError):
            ndjson = False
    items: list[tuple[int, Any, str | None]] = []
    bad: list[QRow] = []
    if ndjson:
        n = 0
        for i, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            n += 1
            try:
                items.append((i, _loads(line), line.rstrip("\r")))
            except RecursionError:
                bad.append((i, None, f"JSON nested more than {most} levels deep (see Limits.max_json_depth)", line))
            except ValueError:
                bad.append((i, None, "malformed JSON", line.rstrip("\r")))
    elif head.startswith(("[", "{")):
        try:
            doc = _loads(text)
        except RecursionError:
            raise FormatError(path, "JSON nested too deeply to be read (see Limits.max_json_depth)") from None
        except ValueError as exc:
            raise FormatError(
                path, f"not valid JSON: {getattr(exc, 'msg', exc)}", record=getattr(exc, "lineno", None)
            ) from None
        if isinstance(doc, dict):
            for key in envelope_keys:
                if isinstance(doc.get(key), list):
                    doc = doc[key]
                    break
                if isinstance(doc.get(key), dict):
                    doc = [doc[key]]
                    break
            else:
                doc = [doc]
        items = [(i, obj, None) for i, obj in enumerate(doc, start=1)]
        n = len(items)
    else:
        raise FormatError(path, "not a JSON array, NDJSON or JSON object")
    records: list[tuple[int, Any]] = []
    for rec, obj, raw in items:
        why = _shape_problem(obj, most)
        if why is not None:
            bad.append((rec, None, why, raw))
        elif not isinstance(obj, dict):
            bad.append((rec, None, "record is not a JSON object", raw if raw is not None else canonical_json(obj)))
        elif replaced and "\ufffd" in (raw if raw is not None else canonical_json(obj)):
            bad.append((rec, None, "not valid UTF-8 (bytes replaced by U+FFFD)", raw or canonical_json(obj)))
        else:
            records.append((rec, obj))
    return n, records, bad


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
    n, records, bad = _read_records(path)
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
