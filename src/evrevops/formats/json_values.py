"""Checks and renderings of parsed JSON values, shared by the JSON readers (OCPI Locations and Tariffs, URDB).

Numbers (:func:`is_number`, :func:`is_int`), ids (:func:`id_problem`), OCPI texts of a
bounded length (:func:`text_problem`), OCPI date-times (:func:`parse_instant`, :func:`checked_instant`),
IANA time-zone names (:func:`iana_zones`) and a value shown in a quarantine reason
(:func:`describe`).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from functools import cache
from typing import Any

from evrevops.formats import limits
from evrevops.formats.json_records import canonical_json


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


def id_problem(value: Any, owner: str, key: str) -> str | None:
    """Why *value*, the *key* of an *owner* (``"Location"``, ``"id"``), is no non-blank text, or None."""
    if isinstance(value, str) and value.strip():
        return None
    return f"missing {owner} {key}" if value in (None, "") else f"not a text {key}: {describe(value)}"


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
