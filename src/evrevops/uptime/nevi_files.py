"""NEVI record files: records of one kind written as a JSON array or as CSV, and read back.

The records are those of :mod:`evrevops.uptime.nevi_records`, fields in the order of their
schema's properties (:data:`~evrevops.uptime.nevi_fields.FIELDS`). Money is written as its
exact decimal text, never through a float; :func:`read_records` gives back the same Python types.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from evrevops.uptime.nevi_fields import FIELDS, KINDS, TYPES


def _kind_of(records: Sequence[Mapping[str, Any]], kind: str | None) -> str:
    """*kind* checked, or the kind whose fields the first record has."""
    if kind is not None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        return kind
    if not records:
        raise ValueError("no records: pass kind to write an empty file")
    keys = set(records[0])
    for k in KINDS:
        if keys == set(FIELDS[k]):
            return k
    raise ValueError(f"record 0 has the fields of no known kind: {sorted(keys)}")


def _json_value(v: Any) -> str:
    """*v* as JSON text (a Decimal as its exact decimal text)."""
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise ValueError(f"not a finite number: {v}")
        return format(v, "f")
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"not a finite number: {v}")
    return json.dumps(v, ensure_ascii=False)


def _csv_value(v: Any) -> str:
    """*v* as a CSV cell (None empty, booleans ``true``/``false``)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"not a finite number: {v}")
        return repr(v)
    return str(v)


def write_records(records: Sequence[Mapping[str, Any]], path: str | Path, fmt: str, *, kind: str | None = None) -> Path:
    """Write records as a JSON array or as CSV.

    JSON: an array of objects, one per line (indented by two spaces), fields in schema order, ``null`` for None;
    Decimals are written as their exact decimal text (``12.34``, ``1500``), never through a
    float. CSV (RFC 4180): a header of the spec's field names in the schema's property order,
    then one row per record; None is an empty cell, booleans ``true``/``false``, numbers as
    JSON numbers would be.

    Parameters
    ----------
    records : sequence of mapping
        Records of one kind (from :mod:`evrevops.uptime.nevi_records`: sessions, uptime or
        outages).
    path : str or Path
        File to write (replaced).
    fmt : {"json", "csv"}
        Output format.
    kind : {"session", "uptime", "outage"}, optional
        The records' kind; found from the first record's fields when not given (needed for
        an empty list).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ValueError
        Unknown format or kind, records whose fields differ from their kind's, or a
        non-finite number.
    """
    if fmt not in ("json", "csv"):
        raise ValueError(f"fmt must be 'json' or 'csv', not {fmt!r}")
    kind = _kind_of(records, kind)
    fields = FIELDS[kind]
    for i, rec in enumerate(records):
        if set(rec) != set(fields):
            raise ValueError(f"{kind} record {i}: fields differ from the schema's: {sorted(set(rec) ^ set(fields))}")
    path = Path(path)
    if fmt == "json":
        lines = ["  {" + ", ".join(f"{json.dumps(f)}: {_json_value(rec[f])}" for f in fields) + "}" for rec in records]
        path.write_text("[\n" + ",\n".join(lines) + ("\n" if lines else "") + "]\n", encoding="utf-8")
    else:
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(fields)
            for rec in records:
                w.writerow([_csv_value(rec[f]) for f in fields])
    return path


def read_records(path: str | Path, fmt: str, kind: str) -> list[dict[str, Any]]:
    """Read a file :func:`write_records` wrote back into records of the same Python types.

    Parameters
    ----------
    path : str or Path
        The file.
    fmt : {"json", "csv"}
        Its format.
    kind : {"session", "uptime", "outage"}
        The records' kind, which fixes each field's type (money as Decimal, other numbers
        as float). In CSV an empty cell is None.

    Returns
    -------
    list of dict
        The records, fields in schema order.
    """
    types = TYPES[_kind_of([], kind)]
    if fmt == "json":
        raw = json.loads(Path(path).read_text(encoding="utf-8"), parse_float=Decimal)
        return [{f: _typed(rec.get(f), t) for f, t in types.items()} for rec in raw]
    if fmt != "csv":
        raise ValueError(f"fmt must be 'json' or 'csv', not {fmt!r}")
    with Path(path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [{f: _typed(_cell(row.get(f), t), t) for f, t in types.items()} for row in rows]


def _cell(text: str | None, t: str) -> Any:
    """A CSV cell as the value of a field of type *t* (empty: None; numbers as Decimal)."""
    if text is None or text == "":
        return None
    if t == "boolean":
        if text not in ("true", "false"):
            raise ValueError(f"not a boolean: {text!r}")
        return text == "true"
    if t in ("number", "decimal"):
        return Decimal(text)
    return text


def _typed(v: Any, t: str) -> Any:
    """*v* as the Python type of a field of type *t* (money a Decimal, other numbers a float)."""
    if v is None or isinstance(v, bool):
        return v
    if t == "decimal" and isinstance(v, int | Decimal):
        return Decimal(v)
    if t == "number" and isinstance(v, int | Decimal):
        return float(v)
    return v
