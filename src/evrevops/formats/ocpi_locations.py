"""OCPI 2.2.1 Locations (``mod_locations``) → ``sites``, ``ports`` and ``status_events``.

A Location is an evrevops *site*; each of its EVSEs is a *port* (handbook §1).
OCPI 2.2.1 has no charger object (the physical unit that holds several EVSEs),
and ``evse_id`` does not state one either, so this reader writes no
``chargers`` rows; the sites CSV or OCPP logs provide them.

Mapping (``docs/formats.md``, "OCPI Locations"):

* ``sites``: ``site_id`` = ``id``, ``name``, ``address``, ``city``,
  ``postal_code``, ``state``, ``country``, ``latitude``/``longitude`` from the
  ``coordinates`` strings, ``time_zone``, ``operator_party`` =
  ``country_code*party_id``, ``last_updated_at`` = ``last_updated``, and
  ``operating_hours`` from ``opening_times`` in the sites-CSV syntax
  (:func:`~evrevops.core.hours.from_ocpi_opening_times`).
* ``ports``: ``port_id`` = ``EVSE.uid``, ``site_id``, ``evse_id``,
  ``power_type`` and ``connector_standard`` of the first connector, and
  ``rated_kw`` = the largest connector power: ``max_electric_power`` / 1000
  when stated, else ``max_voltage × max_amperage`` (× 3 for ``AC_3_PHASE``,
  whose voltage is line to neutral) / 1000. An EVSE with status ``REMOVED`` is
  kept; its decommissioning date is not known, so none is written.
* ``status_events``: one row per EVSE whose ``status`` is an observation (not
  ``PLANNED`` or ``REMOVED``), for networks whose only telemetry is the
  Locations feed. ``status`` = the OCPI value as given (``OUTOFORDER``),
  ``observed_at`` = the EVSE's ``last_updated`` (else the Location's),
  ``protocol`` = ``ocpi2.2.1``. The event belongs to the EVSE's port row:
  ``port_id`` = ``EVSE.uid``; as OCPI names no charger, ``charger_id`` is the
  EVSE ``uid`` too, and ``connector_id`` is NULL (the status is the EVSE's,
  not one connector's). ``error_code``, ``vendor_error_code`` and ``info`` are
  not stated by OCPI. ``status_schedule`` (planned future statuses) is not
  an observation and is not used. The natural key (charger, connector,
  ``observed_at``, status, error code) makes an EVSE unchanged in a re-pulled
  feed a duplicate and a changed one a new event.

Only columns OCPI carries are written, so the columns the sites CSV adds
(segment, customer, revenue model, utility tariff, grid capacity,
commissioning dates, charger ids) are left as they are; an optional column
that no accepted Location states is left out as well.

This module also holds the JSON helpers the Tariffs and URDB readers share:
:func:`read_json_records` (numbers kept as exact :class:`~decimal.Decimal`),
:func:`canonical_json` and :func:`parse_instant`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import zoneinfo
from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from evrevops.core.hours import OpeningTimesError, from_ocpi_opening_times
from evrevops.formats import limits
from evrevops.formats.base import RAW_LIMIT, STATUS_EVENT_SCHEMA, Batch, FormatError, decode_line, quarantine_table

QRow = tuple[int, str | None, str, str | None]

POWER_TYPES = ("AC_1_PHASE", "AC_3_PHASE", "DC")
# OCPI 2.2.1 Status enum (mod_locations); PLANNED and REMOVED describe the EVSE's lifecycle, not an observation.
STATUSES = (
    "AVAILABLE",
    "BLOCKED",
    "CHARGING",
    "INOPERATIVE",
    "OUTOFORDER",
    "PLANNED",
    "REMOVED",
    "RESERVED",
    "UNKNOWN",
)
NOT_OBSERVED = ("PLANNED", "REMOVED")
PROTOCOL = "ocpi2.2.1"


# --------------------------------------------------------------------------------------------
# JSON helpers shared by the JSON readers of this package
# --------------------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class _Repeated(dict):
    """A JSON object that repeated a key: the keys given more than once are in ``repeated``."""

    repeated: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    out = _Repeated(obj)
    out.repeated = tuple(dict.fromkeys(k for k, _ in pairs if k in seen or seen.add(k)))
    return out


def _loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=_object)


def _problems(obj: Any, max_depth: int) -> list[tuple[str | None, str]]:
    """What makes a parsed record unreadable as a whole: nesting past *max_depth*, a repeated key,
    text that is not valid Unicode (a lone surrogate from a ``\\udc80`` escape). Iterative."""
    out: list[tuple[str | None, str]] = []
    stack: list[tuple[Any, str, int]] = [(obj, "", 1)]
    deepest = 0
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict):
            deepest = max(deepest, depth)
            for key in getattr(value, "repeated", ()):
                out.append(
                    (f"{path}.{key}".lstrip(".") or None, f"duplicated key {key!r} (an object must not repeat a key)")
                )
            if depth <= max_depth:
                stack.extend((v, f"{path}.{k}", depth + 1) for k, v in value.items())
            for k in value:
                if _SURROGATE.search(k):
                    out.append((path.lstrip(".") or None, "a key is not valid Unicode text (a lone surrogate escape)"))
        elif isinstance(value, list):
            deepest = max(deepest, depth)
            if depth <= max_depth:
                stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
        elif isinstance(value, str) and _SURROGATE.search(value):
            out.append((path.lstrip(".") or None, "not valid Unicode text (a lone surrogate escape)"))
    if deepest > max_depth:
        out.append((None, f"JSON nested deeper than the limit of {max_depth} levels"))
    return out


_SURROGATE = re.compile("[\ud800-\udfff]")


def _sniff(text: str, envelope_keys: tuple[str, ...]) -> str:
    """``'ndjson'``, ``'array'``, ``'object'`` or ``'unknown'`` from the start of the text.

    The first line is looked at whole (a first Location with hundreds of EVSEs is longer than any
    fixed head); when it is no JSON object but a following line is, the text is NDJSON whose first
    line is bad (quarantined), not one document; when it is a whole object (not an envelope), the
    text is NDJSON whatever the lines after it hold.
    """
    head = text[:65536].lstrip("\ufeff \t\r\n")
    if head.startswith("["):
        return "array"
    if not head.startswith("{"):
        return "unknown"
    lines = [ln for ln in text.lstrip("\ufeff \t\r\n").split("\n", 3)[:3] if ln.strip()]
    first, rest = lines[0], lines[1:]
    try:
        obj = json.loads(first)
    except (ValueError, RecursionError):
        for line in rest:
            try:
                if line.lstrip().startswith("{") and isinstance(json.loads(line), dict):
                    return "ndjson"
            except (ValueError, RecursionError):
                continue
        return "object"
    envelope = isinstance(obj, dict) and any(isinstance(obj.get(k), list | dict) for k in envelope_keys)
    # a first line that is a whole record is NDJSON, whatever the next lines hold (bad ones are quarantined)
    return "ndjson" if isinstance(obj, dict) and not envelope else "object"


def read_json_records(
    path: str | Path, envelope_keys: tuple[str, ...] = ("data",)
) -> tuple[int, list[tuple[int, Any]], list[QRow]]:
    """Read the records of a JSON file, numbers kept exact.

    Parameters
    ----------
    path : str or Path
        A JSON array, NDJSON (one record a line), a single JSON object, or an
        envelope object whose first key of *envelope_keys* holding a list (or
        an object) holds the record(s), e.g. an OCPI response page
        ``{"data": [...], "status_code": 1000}``. ``.gz`` is decompressed.
    envelope_keys : tuple of str
        Keys that hold the records in an envelope object.

    Returns
    -------
    (records_read, records, bad)
        ``records`` are ``(record number, parsed object)`` for records that are
        JSON objects; ``bad`` are quarantine rows ``(record, field, reason,
        raw)`` for malformed NDJSON lines, lines that are not UTF-8, records that
        are not objects, nest deeper than the limit in force
        (:attr:`~evrevops.formats.limits.Limits.max_json_depth`), repeat a key in
        one object (field: the key's path) or hold text that is not valid Unicode.
        Record numbers are 1-based element indexes, or line numbers for NDJSON
        (blank lines are numbered but are not records). Floats are parsed as
        :class:`~decimal.Decimal`, so ``0.50`` keeps its text.

    Raises
    ------
    FormatError
        When the file is not JSON at all, a JSON document (not NDJSON) is
        malformed, or its bytes are not UTF-8 (the message names the line).
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    kind = _sniff(data.decode("utf-8", errors="replace"), envelope_keys)
    max_depth = limits.current().max_json_depth
    items: list[tuple[int, Any, str | None]] = []
    bad: list[QRow] = []
    if kind == "ndjson":
        n = 0
        for i, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            n += 1
            raw = raw.rstrip(b"\r")
            line, why = decode_line(raw)
            if line is None:
                bad.append((i, None, why, raw.decode("utf-8", errors="replace")))
                continue
            try:
                items.append((i, _loads(line), line))
            except RecursionError:
                bad.append((i, None, _too_deep(line, max_depth), line))
            except ValueError as exc:
                bad.append((i, None, _malformed(exc), line))
    elif kind in ("array", "object"):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise FormatError(
                path, f"not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line}", record=line
            ) from None
        try:
            doc = _loads(text)
        except RecursionError:
            doc = None  # nested past what Python parses: split it into records without parsing
        except ValueError as exc:
            line = getattr(exc, "lineno", None)
            raise FormatError(path, f"not valid JSON: {getattr(exc, 'msg', exc)}", record=line) from None
        if doc is None:
            for rec, part in enumerate(_document_records(path, text, envelope_keys), start=1):
                try:
                    items.append((rec, _loads(part), part))
                except RecursionError:
                    bad.append((rec, None, _too_deep(part, max_depth), part[:RAW_LIMIT]))
                except ValueError as exc:
                    bad.append((rec, None, _malformed(exc), part[:RAW_LIMIT]))
            n = len(items) + len(bad)
        else:
            if isinstance(doc, dict):
                for key in envelope_keys:
                    inner = doc.get(key)
                    if isinstance(inner, list):
                        doc = inner
                        break
                    if isinstance(inner, dict):
                        doc = [inner]
                        break
                else:
                    doc = [doc]
            if not isinstance(doc, list):
                raise FormatError(path, "not a JSON array, NDJSON or JSON object")
            items = [(i, obj, None) for i, obj in enumerate(doc, start=1)]
            n = len(items)
    else:
        raise FormatError(path, "not a JSON array, NDJSON or JSON object")
    records: list[tuple[int, Any]] = []
    for rec, obj, raw in items:
        problems = _problems(obj, max_depth)
        if problems:
            shown = raw if raw is not None else _shown(obj)
            bad.extend((rec, field, reason, shown) for field, reason in problems)
        elif isinstance(obj, dict):
            records.append((rec, obj))
        else:
            bad.append((rec, None, "record is not a JSON object", raw if raw is not None else canonical_json(obj)))
    bad = [(rec, _printable(field), _printable(reason), _printable(raw)) for rec, field, reason, raw in bad]
    bad.sort(key=lambda r: (r[0], r[1] or ""))
    return n, records, bad


def _printable(text: str | None) -> str | None:
    """*text* with lone surrogates written as ``\\udc80`` (they cannot be stored as UTF-8)."""
    return text if text is None or not _SURROGATE.search(text) else text.encode("utf-8", "backslashreplace").decode()


def _malformed(exc: ValueError) -> str:
    msg = str(exc)
    return f"malformed JSON: {msg}" if msg.endswith("is not a JSON number") else "malformed JSON"


def _too_deep(text: str, max_depth: int) -> str:
    from evrevops.formats.records import json_depth

    return f"JSON nested {json_depth(text):,} levels deep, deeper than the limit of {max_depth}"


def _shown(obj: Any) -> str:
    """The record as compact JSON for a quarantine row, cut at the quarantine's raw limit."""
    try:
        return json.dumps(obj, default=str)[:RAW_LIMIT]
    except (RecursionError, ValueError):
        return f"(a JSON {type(obj).__name__} nested too deep to show)"


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:,]')


def _document_records(path: Path, text: str, envelope_keys: tuple[str, ...]) -> list[str]:
    """The records' texts of a JSON document too deep for Python's parser, split by a scanner of
    its strings and brackets (iterative: no recursion, however deep): the elements of a top-level
    array or of the first envelope key's array (its object, when it holds one), else the document."""
    body = text.strip()
    if body.startswith("{"):
        depth, key, colon = 0, None, False
        for m in _TOKEN.finditer(body):
            tok = m.group()
            if tok in "[{" and depth == 1 and colon and key in envelope_keys:
                return _elements(path, body, m.start()) if tok == "[" else [_balanced(path, body, m.start())]
            if tok in "[{":
                depth += 1
            elif tok in "]}":
                depth -= 1
            elif tok == "," and depth == 1:
                key = None
            elif tok.startswith('"') and depth == 1 and key is None:
                key = json.loads(tok)
            colon = tok == ":" and depth == 1
        return [body]
    if not body.startswith("["):
        raise FormatError(path, "not a JSON array, NDJSON or JSON object")
    return _elements(path, body, 0)


def _elements(path: Path, body: str, start: int) -> list[str]:
    """The texts of the elements of the array that begins at *start* in *body*."""
    parts, depth, begin = [], 0, start + 1
    for m in _TOKEN.finditer(body, start):
        tok = m.group()
        if tok in "[{":
            depth += 1
        elif tok in "]}":
            depth -= 1
            if depth == 0:
                if body[begin : m.start()].strip():
                    parts.append(body[begin : m.start()].strip())
                return parts
        elif tok == "," and depth == 1:
            parts.append(body[begin : m.start()].strip())
            begin = m.end()
    raise FormatError(path, "not valid JSON: the document ends inside an array or object")


def _balanced(path: Path, body: str, start: int) -> str:
    depth = 0
    for m in _TOKEN.finditer(body, start):
        tok = m.group()
        if tok in "[{":
            depth += 1
        elif tok in "]}":
            depth -= 1
            if depth == 0:
                return body[start : m.end()]
    raise FormatError(path, "not valid JSON: the document ends inside an array or object")


def canonical_json(obj: Any) -> str:
    """Compact JSON with keys sorted; Decimals are written with their exact text.

    Two records with the same content give the same text whatever their key
    order or white space, and ``0.50`` stays ``0.50``.
    """
    if isinstance(obj, dict):
        return (
            "{"
            + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{canonical_json(v)}" for k, v in sorted(obj.items()))
            + "}"
        )
    if isinstance(obj, list | tuple):
        return "[" + ",".join(canonical_json(v) for v in obj) + "]"
    if isinstance(obj, Decimal):
        return str(obj)
    return json.dumps(obj, ensure_ascii=False)


def parse_instant(value: Any) -> dt.datetime:
    """OCPI DateTime (RFC 3339; no designator means UTC) → naive UTC datetime.

    Raises
    ------
    ValueError
        When *value* is not such a text.
    """
    if not isinstance(value, str) or len(value) < 16 or value[10] not in "Tt ":
        raise ValueError(f"not an ISO-8601 date-time: {value!r}")
    text = value.strip()
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    try:
        t = dt.datetime.fromisoformat(text)
        if t.tzinfo is not None:
            t = t.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # an offset that moves year 9999 or 1 out of range
        raise ValueError(f"not an ISO-8601 date-time: {value!r}") from None
    return t


def checked_instant(value: Any, errors: list[tuple[str, str]], field: str) -> dt.datetime | None:
    """:func:`parse_instant` of *value*, else None with *field* and the reason appended to *errors*;
    an instant outside the time window in force (:mod:`evrevops.formats.limits`) is an error too."""
    try:
        t = parse_instant(value)
    except ValueError as exc:
        errors.append((field, str(exc)))
        return None
    problem = limits.current().time_problem(t)
    if problem:
        errors.append((field, problem))
        return None
    return t


def text_problem(value: Any, longest: int) -> str | None:
    """Why *value* is no OCPI string of at most *longest* characters, or None (None is no problem)."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f"must be a text, got {describe(value)}"
    if len(value) > longest:
        return f"is {len(value)} characters long, more than the {longest} OCPI allows"
    return None


def is_number(v: Any) -> bool:
    """A JSON number (int or Decimal, not a boolean, not NaN/infinite)."""
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, Decimal) and v.is_finite())


def is_int(v: Any) -> bool:
    """A JSON integer (``1``; ``1.0`` is not)."""
    return isinstance(v, int) and not isinstance(v, bool)


def describe(v: Any) -> str:
    """A short rendering of a JSON value for a quarantine reason (texts quoted, numbers not)."""
    if isinstance(v, dict | list):
        text = canonical_json(v)
    elif isinstance(v, Decimal):
        text = str(v)
    elif v is None:
        text = "null"
    else:
        text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


@cache
def iana_zones() -> frozenset[str]:
    """IANA time-zone names known to :mod:`zoneinfo`."""
    return frozenset(zoneinfo.available_timezones())


def column_table(rows: list[dict[str, Any]], schema: pa.Schema, optional: Iterable[str] = ()) -> pa.Table:
    """Build an Arrow table column-wise; *optional* columns that are None on every row are left out."""
    opt = set(optional)
    fields = [f for f in schema if f.name not in opt or any(r.get(f.name) is not None for r in rows)]
    return pa.table({f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in fields}, schema=pa.schema(fields))


# --------------------------------------------------------------------------------------------
# Locations
# --------------------------------------------------------------------------------------------

SITE_SCHEMA = pa.schema(
    [
        ("site_id", pa.string()),
        ("name", pa.string()),
        ("address", pa.string()),
        ("city", pa.string()),
        ("state", pa.string()),
        ("postal_code", pa.string()),
        ("country", pa.string()),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
        ("time_zone", pa.string()),
        ("operating_hours", pa.string()),
        ("operator_party", pa.string()),
        ("last_updated_at", pa.timestamp("us")),
        ("source_record", pa.int64()),
    ]
)
SITE_OPTIONAL = ("name", "state", "postal_code", "operating_hours", "operator_party")

PORT_SCHEMA = pa.schema(
    [
        ("port_id", pa.string()),
        ("site_id", pa.string()),
        ("evse_id", pa.string()),
        ("power_type", pa.string()),
        ("connector_standard", pa.string()),
        ("rated_kw", pa.float64()),
        ("source_record", pa.int64()),
    ]
)
PORT_OPTIONAL = ("evse_id", "rated_kw")
PLACEMENT_SOURCE = "ocpi-locations"
PLACEMENT_SCHEMA = pa.schema(
    [
        ("port_id", pa.string()),
        ("site_id", pa.string()),
        ("source", pa.string()),
        ("observed_on", pa.date32()),
        ("source_record", pa.int64()),
    ]
)

# OCPI 2.2.1 string lengths of the Location texts this reader stores (mod_locations, types)
_LOCATION_TEXTS = (
    ("id", 36), ("country_code", 2), ("party_id", 3), ("name", 255), ("address", 45), ("city", 45),
    ("postal_code", 10), ("state", 20), ("country", 3), ("time_zone", 255),
)  # fmt: skip

# OCPI states no error code, vendor code or info: left out (error_code is a key column, so it stays, NULL)
STATUS_EVENT_OPTIONAL = ("vendor_error_code", "info")


def _text(v: Any) -> str | None:
    if v is None:
        return None
    return v if isinstance(v, str) else str(v)


def _connector_kw(c: dict[str, Any], path: str, errors: list[tuple[str, str]]) -> Decimal | None:
    """Rated power of one connector [kW], or None when not stated; above the power limit is an error."""
    cap = limits.current().max_power_kw
    cap_kw = Decimal(repr(cap))
    phases = 3 if c.get("power_type") == "AC_3_PHASE" else 1
    volts = c.get("max_voltage", c.get("voltage"))
    amps = c.get("max_amperage", c.get("amperage"))
    mep = c.get("max_electric_power")
    for key, v in (("max_voltage", volts), ("max_amperage", amps)):
        if v is None:
            if mep is None:
                errors.append((f"{path}.{key}", f"missing {key} (and no max_electric_power)"))
        elif not is_number(v) or v < 0:
            errors.append((f"{path}.{key}", f"not a number >= 0: {describe(v)}"))
    va_kw = None
    if is_number(volts) and is_number(amps) and volts >= 0 and amps >= 0:
        va_kw = Decimal(volts) * Decimal(amps) * phases / 1000
        if va_kw > cap_kw:
            errors.append(
                (
                    f"{path}.max_amperage",
                    f"max_voltage {volts} V x max_amperage {amps} A{' x 3 phases' if phases == 3 else ''} is "
                    f"{va_kw:,.0f} kW, above the limit of {cap:,g} kW at a port; see --max-power-kw",
                )
            )
            va_kw = None
    if mep is not None:
        if not is_number(mep) or mep < 0:
            errors.append((f"{path}.max_electric_power", f"not a power in W >= 0: {describe(mep)}"))
            return None
        kw = Decimal(mep) / 1000
        if kw > cap_kw:
            errors.append(
                (
                    f"{path}.max_electric_power",
                    f"{mep} W is above the limit of {cap:,g} kW at a port; see --max-power-kw",
                )
            )
            return None
        return kw
    return va_kw


def _evse_status(
    evse: dict[str, Any], path: str, errors: list[tuple[str, str]]
) -> tuple[str | None, dt.datetime | None]:
    """The EVSE's ``status`` and its ``last_updated`` (None when absent); bad values go to *errors*."""
    status = evse.get("status")
    if status is None:
        errors.append((f"{path}.status", "missing status (required by OCPI 2.2.1)"))
    elif status not in STATUSES:
        errors.append((f"{path}.status", f"status must be one of {'|'.join(STATUSES)}, got {describe(status)}"))
        status = None
    last = None
    if evse.get("last_updated") is not None:
        last = checked_instant(evse["last_updated"], errors, f"{path}.last_updated")
    return status, last


def _location(
    rec: int, loc: dict[str, Any]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, str]]]:
    """Map one Location; returns (site row, port rows, status events, errors as (field, reason))."""
    errors: list[tuple[str, str]] = []
    loc_id = loc.get("id")
    if not isinstance(loc_id, str) or not loc_id.strip():
        errors.append(("id", "missing Location id" if loc_id in (None, "") else f"not a text id: {describe(loc_id)}"))
    for key in ("address", "city", "country"):
        if loc.get(key) is None:
            errors.append((key, f"missing {key} (required by OCPI 2.2.1)"))
    for key, longest in _LOCATION_TEXTS:
        if key in ("id", "time_zone") and not isinstance(loc.get(key), str):
            continue  # reported above
        problem = text_problem(loc.get(key), longest)
        if problem:
            errors.append((key, f"{key} {problem}"))
    lat = lon = None
    coords = loc.get("coordinates")
    if not isinstance(coords, dict):
        errors.append(("coordinates", "missing coordinates (required by OCPI 2.2.1)"))
    else:
        for key, bound in (("latitude", 90), ("longitude", 180)):
            v = coords.get(key)
            try:
                x = Decimal(str(v).strip()) if isinstance(v, str | int | Decimal) and not isinstance(v, bool) else None
            except ArithmeticError:
                x = None
            if x is None or not x.is_finite() or abs(x) > bound:
                errors.append((f"coordinates.{key}", f"not a {key} in decimal degrees: {describe(v)}"))
            elif key == "latitude":
                lat = float(x)
            else:
                lon = float(x)
    tz = loc.get("time_zone")
    if tz is None:
        errors.append(("time_zone", "missing time_zone (required by OCPI 2.2.1)"))
    elif not isinstance(tz, str) or tz not in iana_zones():
        errors.append(("time_zone", f"not an IANA time zone: {describe(tz)}"))
    last = None
    if loc.get("last_updated") is None:
        errors.append(("last_updated", "missing last_updated"))
    else:
        last = checked_instant(loc["last_updated"], errors, "last_updated")
    hours = None
    try:
        hours = from_ocpi_opening_times(loc.get("opening_times"))
    except OpeningTimesError as exc:
        errors.append(
            (f"opening_times.{exc.field}" if exc.field != "opening_times" else exc.field, str(exc).split(": ", 1)[1])
        )
    cc, pid = loc.get("country_code"), loc.get("party_id")
    site = {
        "site_id": loc_id,
        "name": _text(loc.get("name")),
        "address": _text(loc.get("address")),
        "city": _text(loc.get("city")),
        "state": _text(loc.get("state")),
        "postal_code": _text(loc.get("postal_code")),
        "country": _text(loc.get("country")),
        "latitude": lat,
        "longitude": lon,
        "time_zone": tz,
        "operating_hours": hours,
        "operator_party": f"{cc}*{pid}" if cc and pid else None,
        "last_updated_at": last,
        "source_record": rec,
    }
    ports: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    evses = loc.get("evses")
    if evses is not None and not isinstance(evses, list):
        errors.append(("evses", "not a list"))
        evses = []
    seen: dict[str, int] = {}
    for i, evse in enumerate(evses or []):
        path = f"evses[{i}]"
        if not isinstance(evse, dict):
            errors.append((path, "not an object"))
            continue
        uid = evse.get("uid")
        if not isinstance(uid, str) or not uid.strip():
            errors.append(
                (f"{path}.uid", "missing EVSE uid" if uid in (None, "") else f"not a text uid: {describe(uid)}")
            )
            continue
        if uid in seen:
            errors.append((f"{path}.uid", f"EVSE uid {uid!r} repeated (also evses[{seen[uid]}])"))
            continue
        seen[uid] = i
        for key, longest in (("uid", 36), ("evse_id", 48)):
            problem = text_problem(evse.get(key), longest)
            if problem:
                errors.append((f"{path}.{key}", f"{key} {problem}"))
        status, evse_last = _evse_status(evse, path, errors)
        conns = evse.get("connectors")
        if not isinstance(conns, list) or not conns:
            errors.append((f"{path}.connectors", "an EVSE needs at least one connector"))
            continue
        kws: list[Decimal] = []
        for j, c in enumerate(conns):
            cpath = f"{path}.connectors[{j}]"
            if not isinstance(c, dict):
                errors.append((cpath, "not an object"))
                continue
            if c.get("power_type") not in POWER_TYPES:
                errors.append(
                    (
                        f"{cpath}.power_type",
                        f"power_type must be one of {'|'.join(POWER_TYPES)}, got {describe(c.get('power_type'))}",
                    )
                )
            if not isinstance(c.get("standard"), str) or not c["standard"].strip():
                errors.append((f"{cpath}.standard", f"missing connector standard: {describe(c.get('standard'))}"))
            for key, longest in (("id", 36), ("standard", 36)):
                problem = text_problem(c.get(key), longest)
                if problem:
                    errors.append((f"{cpath}.{key}", f"{key} {problem}"))
            if c.get("last_updated") is not None:
                checked_instant(c["last_updated"], errors, f"{cpath}.last_updated")
            kw = _connector_kw(c, cpath, errors)
            if kw is not None:
                kws.append(kw)
        first = conns[0] if isinstance(conns[0], dict) else {}
        rated = max(kws) if kws else None
        ports.append(
            {
                "port_id": uid,
                "site_id": loc_id,
                "evse_id": _text(evse.get("evse_id")),
                "power_type": first.get("power_type"),
                "connector_standard": _text(first.get("standard")),
                "rated_kw": float(rated) if rated is not None and rated > 0 else None,
                "source_record": rec,
                "observed_at": evse_last or last,  # when the feed placed the EVSE here (not a ports column)
            }
        )
        if status is not None and status not in NOT_OBSERVED:
            # one event per port row of the EVSE (one: the EVSE is the port); OCPI names no charger
            events.append(
                {
                    "charger_id": uid,
                    "port_id": uid,
                    "connector_id": None,
                    "observed_at": evse_last or last,
                    "status": status,
                    "error_code": None,
                    "protocol": PROTOCOL,
                    "source_record": rec,
                }
            )
    return site, ports, events, errors


def read_locations(path: str | Path, mapping: str | None = None) -> Batch:
    """Read OCPI 2.2.1 Locations from a JSON array, NDJSON, a response page or one object.

    Parameters
    ----------
    path : str or Path
        The file.
    mapping : None
        Unused (session-CSV mappings only).

    Returns
    -------
    Batch
        ``sites`` (one row per Location) and ``ports`` (one per EVSE) with the
        columns OCPI carries; ``port_placements``, one per EVSE and Location that
        lists it (``observed_on``: the UTC date of the EVSE's ``last_updated``,
        else the Location's); ``status_events``, one per EVSE whose status is
        not ``PLANNED`` or ``REMOVED`` (see the module docstring); quarantine
        rows, one per bad field with its path
        (``evses[0].connectors[1].power_type``), for Locations that miss a
        required field (``id``, ``address``, ``city``, ``country``,
        ``coordinates``, ``time_zone``, ``last_updated``), have unreadable
        coordinates, time zone or opening times, or an EVSE without ``uid``
        or connectors, without a ``status`` or with one outside the OCPI
        Status enum, with an unreadable ``last_updated``, an unknown
        ``power_type`` or no power. An EVSE uid listed by two Locations is not
        refused: both placements are kept (a conflict ``evrevops ports
        conflicts`` reports) and its port row is the latest placement's.
    """
    path = Path(path)
    n, records, bad = read_json_records(path, ("data",))
    qrows: list[QRow] = list(bad)
    sites: list[dict[str, Any]] = []
    ports: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for rec, obj in records:
        site, prts, evts, errors = _location(rec, obj)
        if errors:
            text = canonical_json(obj)
            qrows.extend((rec, f, r, text) for f, r in errors)
            continue
        sites.append(site)
        ports.extend(prts)
        events.extend(evts)
    # Where the feed placed each EVSE, and when: kept for every Location that lists it. An EVSE uid in
    # two Locations is reported as a conflict (evrevops ports conflicts), not resolved by dropping
    # either Location; its port row is the one of the latest placement (then the later record).
    placements = [
        {
            "port_id": p["port_id"],
            "site_id": p["site_id"],
            "source": PLACEMENT_SOURCE,
            "observed_on": p["observed_at"].date() if p["observed_at"] is not None else None,
            "source_record": p["source_record"],
        }
        for p in ports
    ]
    latest: dict[str, dict[str, Any]] = {}
    for p in ports:
        q = latest.get(p["port_id"])
        if q is None or (p["observed_at"] or dt.datetime.min, p["source_record"]) >= (
            q["observed_at"] or dt.datetime.min,
            q["source_record"],
        ):
            latest[p["port_id"]] = p
    ports = sorted(latest.values(), key=lambda p: (p["source_record"], p["port_id"]))
    qrows.sort(key=lambda r: (r[0], r[1] or ""))
    return Batch(
        format="ocpi-locations",
        records_read=n,
        tables={
            "sites": column_table(sites, SITE_SCHEMA, SITE_OPTIONAL),
            "ports": column_table(ports, PORT_SCHEMA, PORT_OPTIONAL),
            "port_placements": column_table(placements, PLACEMENT_SCHEMA),
            "status_events": column_table(events, STATUS_EVENT_SCHEMA, STATUS_EVENT_OPTIONAL),
        },
        quarantine=quarantine_table(qrows),
    )
