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

The file is read by :func:`~evrevops.formats.json_records.read_json_records` (numbers kept as
exact :class:`~decimal.Decimal`); the value checks are those of :mod:`evrevops.formats.json_values`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from evrevops.core.hours import OpeningTimesError, from_ocpi_opening_times
from evrevops.formats import limits
from evrevops.formats.base import STATUS_EVENT_SCHEMA, Batch
from evrevops.formats.json_records import column_table, json_batch, map_records, read_json_records
from evrevops.formats.json_values import checked_instant, describe, iana_zones, id_problem, is_number, text_problem
from evrevops.formats.site_columns import SITE_PLACE_FIELDS

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

SITE_SCHEMA = pa.schema(
    [
        *SITE_PLACE_FIELDS,
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


def _coordinates(coords: Any, errors: list[tuple[str, str]]) -> tuple[float | None, float | None]:
    """``(latitude, longitude)`` [decimal degrees] of a Location's ``coordinates`` (None where unreadable)."""
    lat = lon = None
    if not isinstance(coords, dict):
        errors.append(("coordinates", "missing coordinates (required by OCPI 2.2.1)"))
        return lat, lon
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
    return lat, lon


def _site(rec: int, loc: dict[str, Any], errors: list[tuple[str, str]]) -> dict[str, Any]:
    """The ``sites`` row of one Location (``last_updated_at`` None when unreadable); bad fields go to *errors*."""
    loc_id = loc.get("id")
    if problem := id_problem(loc_id, "Location", "id"):
        errors.append(("id", problem))
    for key in ("address", "city", "country"):
        if loc.get(key) is None:
            errors.append((key, f"missing {key} (required by OCPI 2.2.1)"))
    for key, longest in _LOCATION_TEXTS:
        if key in ("id", "time_zone") and not isinstance(loc.get(key), str):
            continue  # reported above
        problem = text_problem(loc.get(key), longest)
        if problem:
            errors.append((key, f"{key} {problem}"))
    lat, lon = _coordinates(loc.get("coordinates"), errors)
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
    return {
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


def _connector_kws(conns: list[Any], path: str, errors: list[tuple[str, str]]) -> list[Decimal]:
    """The rated powers [kW] the connectors of the EVSE at *path* state; bad connectors go to *errors*."""
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
    return kws


def _evse(
    site: dict[str, Any], i: int, evse: Any, seen: dict[str, int], errors: list[tuple[str, str]]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The port row and status event of ``evses[i]`` of the Location whose row is *site* (None where none).

    *seen* maps the uids of the EVSEs before it to their index (a repeated uid is an error);
    bad fields go to *errors*.
    """
    path = f"evses[{i}]"
    if not isinstance(evse, dict):
        errors.append((path, "not an object"))
        return None, None
    uid = evse.get("uid")
    if problem := id_problem(uid, "EVSE", "uid"):
        errors.append((f"{path}.uid", problem))
        return None, None
    if uid in seen:
        errors.append((f"{path}.uid", f"EVSE uid {uid!r} repeated (also evses[{seen[uid]}])"))
        return None, None
    seen[uid] = i
    for key, longest in (("uid", 36), ("evse_id", 48)):
        problem = text_problem(evse.get(key), longest)
        if problem:
            errors.append((f"{path}.{key}", f"{key} {problem}"))
    status, evse_last = _evse_status(evse, path, errors)
    conns = evse.get("connectors")
    if not isinstance(conns, list) or not conns:
        errors.append((f"{path}.connectors", "an EVSE needs at least one connector"))
        return None, None
    kws = _connector_kws(conns, path, errors)
    first = conns[0] if isinstance(conns[0], dict) else {}
    rated = max(kws) if kws else None
    rec, observed_at = site["source_record"], evse_last or site["last_updated_at"]
    port = {
        "port_id": uid,
        "site_id": site["site_id"],
        "evse_id": _text(evse.get("evse_id")),
        "power_type": first.get("power_type"),
        "connector_standard": _text(first.get("standard")),
        "rated_kw": float(rated) if rated is not None and rated > 0 else None,
        "source_record": rec,
        "observed_at": observed_at,  # when the feed placed the EVSE here (not a ports column)
    }
    if status is None or status in NOT_OBSERVED:
        return port, None
    # one event per port row of the EVSE (one: the EVSE is the port); OCPI names no charger
    event = {
        "charger_id": uid,
        "port_id": uid,
        "connector_id": None,
        "observed_at": observed_at,
        "status": status,
        "error_code": None,
        "protocol": PROTOCOL,
        "source_record": rec,
    }
    return port, event


def _location(
    rec: int, loc: dict[str, Any]
) -> tuple[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]], list[tuple[str, str]]]:
    """Map one Location; returns ((site row, port rows, status events), errors as (field, reason))."""
    errors: list[tuple[str, str]] = []
    site = _site(rec, loc, errors)
    ports: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    evses = loc.get("evses")
    if evses is not None and not isinstance(evses, list):
        errors.append(("evses", "not a list"))
        evses = []
    seen: dict[str, int] = {}
    for i, evse in enumerate(evses or []):
        port, event = _evse(site, i, evse, seen, errors)
        if port is not None:
            ports.append(port)
        if event is not None:
            events.append(event)
    return (site, ports, events), errors


def read_locations(path: str | Path, mapping: str | None = None) -> Batch:
    """Read OCPI 2.2.1 Locations from a JSON array, NDJSON, a response page or one object.

    Parameters
    ----------
    path : str or Path
        Locations as a JSON array, NDJSON (one Location a line), an OCPI response
        page (the Locations in ``data``) or one Location; ``.gz`` is decompressed.
    mapping : None
        Unused: Locations are mapped as the module docstring says.

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
    n, records, bad = read_json_records(Path(path), ("data",))
    mapped, qrows = map_records(records, bad, _location)
    sites = [site for site, _, _ in mapped]
    ports = [port for _, prts, _ in mapped for port in prts]
    events = [event for _, _, evts in mapped for event in evts]
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
    return json_batch(
        "ocpi-locations",
        n,
        {
            "sites": column_table(sites, SITE_SCHEMA, SITE_OPTIONAL),
            "ports": column_table(ports, PORT_SCHEMA, PORT_OPTIONAL),
            "port_placements": column_table(placements, PLACEMENT_SCHEMA),
            "status_events": column_table(events, STATUS_EVENT_SCHEMA, STATUS_EVENT_OPTIONAL),
        },
        qrows,
    )
