"""Reading the records of a URDB file: a bare rate object, an array, NDJSON, or ``{"items": [...]}``.

:func:`read_urdb_records` is the file reader of :mod:`evrevops.formats.urdb`: numbers are kept
as exact :class:`~decimal.Decimal`, and hostile input ends as a quarantined record (a key given
twice, nesting past the limit in force, bytes that are not UTF-8), never an exception.
"""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from evrevops.formats import limits
from evrevops.formats.base import FormatError
from evrevops.formats.json_records import QRow, canonical_json, no_json_constant, unwrap_envelope


class _Obj(dict):
    """A JSON object that remembers the first key its text gave twice (``json.loads`` keeps the last silently)."""

    dup: str | None = None


def _object(pairs: list[tuple[str, Any]]) -> _Obj:
    obj = _Obj(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        obj.dup = next(k for k, _ in pairs if k in seen or seen.add(k))
    return obj


def _loads(text: str) -> Any:
    """JSON with exact Decimal numbers, NaN/Infinity refused, duplicated keys remembered (:class:`_Obj`)."""
    return json.loads(text, parse_float=Decimal, parse_constant=no_json_constant, object_pairs_hook=_object)


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


def read_urdb_records(
    path: Path, envelope_keys: tuple[str, ...] = ("items",)
) -> tuple[int, list[tuple[int, Any]], list[QRow]]:
    """Read the records of a URDB file: a bare object, an array, NDJSON, or ``{"items": [...]}``.

    As :func:`evrevops.formats.json_records.read_json_records` (record numbers, Decimal
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
        items = [(i, obj, None) for i, obj in enumerate(unwrap_envelope(doc, envelope_keys), start=1)]
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
