"""Reading the records of a JSON file, shared by the JSON readers (OCPI Locations and Tariffs, URDB).

:func:`read_json_records` reads a JSON array, NDJSON, one object or an envelope object
(an OCPI response page ``{"data": [...]}``) into ``(record number, object)`` pairs with
numbers kept exact (:class:`~decimal.Decimal`), and quarantine rows for the records that
cannot be read; a document nested deeper than Python's parser goes is split into its
records by a scanner of strings and brackets. :func:`map_records` turns those records into
rows with a reader's own mapping (a record the mapping finds errors in is quarantined, one
row per error) and :func:`json_batch` hands the result over as a
:class:`~evrevops.formats.base.Batch`; :func:`canonical_json` and :func:`column_table` write
a record and the rows.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from evrevops.formats import limits
from evrevops.formats.base import RAW_LIMIT, Batch, FormatError, decode_line, quarantine_table

QRow = tuple[int, str | None, str, str | None]
# a record being read: (record number, parsed value, its text when it was parsed from a text of its own)
_Item = tuple[int, Any, str | None]
_Row = TypeVar("_Row")


def no_json_constant(name: str) -> Any:
    """The ``parse_constant`` of :func:`json.loads` that refuses ``NaN``, ``Infinity`` and ``-Infinity``."""
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
    return json.loads(text, parse_float=Decimal, parse_constant=no_json_constant, object_pairs_hook=_object)


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
    if kind == "ndjson":
        n, items, bad = _ndjson_items(data, max_depth)
    elif kind in ("array", "object"):
        n, items, bad = _document_items(path, data, envelope_keys, max_depth)
    else:
        raise FormatError(path, "not a JSON array, NDJSON or JSON object")
    records, bad = _objects(items, bad, max_depth)
    return n, records, bad


def _ndjson_items(data: bytes, max_depth: int) -> tuple[int, list[_Item], list[QRow]]:
    """The records of NDJSON *data*, numbered by line: ``(records read, parsed records, quarantine rows)``."""
    items: list[_Item] = []
    bad: list[QRow] = []
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
        _parse_record(i, line, line, max_depth, items, bad)
    return n, items, bad


def _document_items(
    path: Path, data: bytes, envelope_keys: tuple[str, ...], max_depth: int
) -> tuple[int, list[_Item], list[QRow]]:
    """The records of one JSON document (array, object or envelope), numbered by element.

    A document nested past what Python parses is split into its records' texts without parsing
    (:func:`_document_records`) and each is parsed on its own, so only the deep ones are lost.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FormatError(path, f"not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line}", record=line) from None
    try:
        doc = _loads(text)
    except RecursionError:
        doc = None  # nested past what Python parses: split it into records without parsing
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        raise FormatError(path, f"not valid JSON: {getattr(exc, 'msg', exc)}", record=line) from None
    items: list[_Item] = []
    bad: list[QRow] = []
    if doc is None:
        for rec, part in enumerate(_document_records(path, text, envelope_keys), start=1):
            _parse_record(rec, part, part[:RAW_LIMIT], max_depth, items, bad)
        return len(items) + len(bad), items, bad
    doc = unwrap_envelope(doc, envelope_keys)
    if not isinstance(doc, list):
        raise FormatError(path, "not a JSON array, NDJSON or JSON object")
    items = [(i, obj, None) for i, obj in enumerate(doc, start=1)]
    return len(items), items, bad


def _parse_record(rec: int, text: str, shown: str, max_depth: int, items: list[_Item], bad: list[QRow]) -> None:
    """Parse the text of record *rec* into *items*, else a quarantine row showing *shown* into *bad*."""
    try:
        items.append((rec, _loads(text), text))
    except RecursionError:
        bad.append((rec, None, _too_deep(text, max_depth), shown))
    except ValueError as exc:
        bad.append((rec, None, _malformed(exc), shown))


def _objects(items: list[_Item], bad: list[QRow], max_depth: int) -> tuple[list[tuple[int, Any]], list[QRow]]:
    """The parsed records that are JSON objects with nothing unreadable in them, and all quarantine rows.

    A record nested too deep, repeating a key or holding text that is not valid Unicode gets a
    row per problem; one that is no object a row of its own. The rows come sorted by record and
    field, their texts printable.
    """
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
    return records, bad


def unwrap_envelope(doc: Any, envelope_keys: tuple[str, ...]) -> Any:
    """The records of a parsed JSON document.

    A list is returned as it is. An object is an envelope when one of *envelope_keys* holds a
    list (its records) or an object (the one record), the first such key winning; any other
    object is the one record.
    """
    if not isinstance(doc, dict):
        return doc
    for key in envelope_keys:
        inner = doc.get(key)
        if isinstance(inner, list):
            return inner
        if isinstance(inner, dict):
            return [inner]
    return [doc]


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


def _tokens(path: Path, body: str, start: int) -> Iterator[tuple[re.Match[str], int]]:
    """The tokens of *body* from the bracket at *start* on, each with the bracket depth after it.

    Raises
    ------
    FormatError
        When the tokens run out before the bracket at *start* is closed.
    """
    depth = 0
    for m in _TOKEN.finditer(body, start):
        tok = m.group()
        if tok in "[{":
            depth += 1
        elif tok in "]}":
            depth -= 1
        yield m, depth
    raise FormatError(path, "not valid JSON: the document ends inside an array or object")


def _elements(path: Path, body: str, start: int) -> list[str]:
    """The texts of the elements of the array that begins at *start* in *body*."""
    parts, begin = [], start + 1
    for m, depth in _tokens(path, body, start):
        if depth == 0:
            if body[begin : m.start()].strip():
                parts.append(body[begin : m.start()].strip())
            break
        if m.group() == "," and depth == 1:
            parts.append(body[begin : m.start()].strip())
            begin = m.end()
    return parts


def _balanced(path: Path, body: str, start: int) -> str:
    """The text of the array or object that begins at *start* in *body*, up to its closing bracket."""
    end = next(m.end() for m, depth in _tokens(path, body, start) if depth == 0)
    return body[start:end]


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


def map_records(
    records: list[tuple[int, Any]],
    bad: list[QRow],
    to_row: Callable[[int, dict[str, Any]], tuple[_Row, list[tuple[str, str]]]],
) -> tuple[list[_Row], list[QRow]]:
    """Map each record with a reader's *to_row*; a record it finds errors in is quarantined.

    Parameters
    ----------
    records, bad
        What :func:`read_json_records` returned: ``(record number, object)`` pairs and the
        quarantine rows of the records that could not be read.
    to_row : callable
        ``to_row(record number, object)`` → ``(row, errors)``, *errors* a list of
        ``(field path, reason)``; the row of a record with errors is not kept.

    Returns
    -------
    (rows, quarantine rows)
        The rows of the records without errors, in record order; *bad* followed by one
        quarantine row per error, each with the record as :func:`canonical_json`.
    """
    rows: list[_Row] = []
    qrows: list[QRow] = list(bad)
    for rec, obj in records:
        row, errors = to_row(rec, obj)
        if errors:
            text = canonical_json(obj)
            qrows.extend((rec, f, r, text) for f, r in errors)
            continue
        rows.append(row)
    return rows, qrows


def when_valid(
    check: Callable[[dict[str, Any]], list[tuple[str, str]]], to_row: Callable[[int, dict[str, Any]], _Row]
) -> Callable[[int, dict[str, Any]], tuple[_Row | None, list[tuple[str, str]]]]:
    """A *to_row* for :func:`map_records` from a reader's *check* (a record → its errors) and row builder.

    The row is built only for a record *check* finds no errors in.
    """

    def checked_row(rec: int, obj: dict[str, Any]) -> tuple[_Row | None, list[tuple[str, str]]]:
        errors = check(obj)
        return (None, errors) if errors else (to_row(rec, obj), errors)

    return checked_row


def json_batch(fmt: str, records_read: int, tables: dict[str, pa.Table], qrows: list[QRow]) -> Batch:
    """The :class:`~evrevops.formats.base.Batch` of a JSON reader, its quarantine sorted by record and field."""
    qrows.sort(key=lambda r: (r[0], r[1] or ""))
    return Batch(format=fmt, records_read=records_read, tables=tables, quarantine=quarantine_table(qrows))


def column_table(rows: list[dict[str, Any]], schema: pa.Schema, optional: Iterable[str] = ()) -> pa.Table:
    """Build an Arrow table column-wise; *optional* columns that are None on every row are left out."""
    opt = set(optional)
    fields = [f for f in schema if f.name not in opt or any(r.get(f.name) is not None for r in rows)]
    return pa.table({f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in fields}, schema=pa.schema(fields))
