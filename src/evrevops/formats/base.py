"""What every format reader returns, and helpers they share.

A reader turns one input file into a :class:`Batch`: Arrow tables named after
warehouse tables (columns a subset of that table's columns, plus
``source_record``), the records it rejected with reasons, and how many records
it read.  Readers never touch the warehouse; the warehouse's loader decides
what is new, a duplicate or a replacement, all in one transaction.

Counting: ``records_read`` counts the file's primary records (lines of an
NDJSON/OCPP log, rows of a CSV, elements of a JSON array).  Every record is
either quarantined (it has at least one row in ``quarantine``), or has rows in
the tables, or is *absorbed* into another record listed in ``absorbed``
(e.g. an OCPP CALLRESULT completing its CALL), or carries nothing to store
(counted accepted, e.g. a blank line is not a record at all and is not counted).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

QUARANTINE_SCHEMA = pa.schema(
    [
        ("source_record", pa.int64()),
        ("field", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
    ]
)

# ``status_events`` rows as every status reader hands them over (OCPP, OCPI Locations, status feeds)
STATUS_EVENT_SCHEMA = pa.schema(
    [
        ("charger_id", pa.string()),
        ("port_id", pa.string()),
        ("connector_id", pa.int32()),
        ("observed_at", pa.timestamp("us")),
        ("status", pa.string()),
        ("error_code", pa.string()),
        ("vendor_error_code", pa.string()),
        ("info", pa.string()),
        ("protocol", pa.string()),
        ("source_record", pa.int64()),
    ]
)

RAW_LIMIT = 2000  # characters of a rejected record kept in quarantine


class FormatError(ValueError):
    """A file that cannot be read at all (not a single bad record).

    The message names the file, and the line/record and field where known.
    """

    def __init__(self, path: str | Path, message: str, record: int | None = None, field: str | None = None):
        where = str(path)
        if record is not None:
            where += f", record {record}"
        if field:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.record = record
        self.field = field


@dataclass
class Batch:
    """The parsed content of one file.

    Attributes
    ----------
    format : str
        Format name from :data:`evrevops.formats.FORMATS`.
    records_read : int
        Primary records read from the file.
    tables : dict[str, pyarrow.Table]
        Rows per warehouse table; each has a ``source_record`` int64 column.
    quarantine : pyarrow.Table
        Rejected records, schema :data:`QUARANTINE_SCHEMA` (one record may have
        several rows, one per bad field).
    implied : dict[str, pyarrow.Table]
        Rows implied by the records rather than stated by them (a site known
        only from a CDR's location): inserted when absent, else filling only the
        stored row's empty columns, and not counted in the record identity.
    absorbed : pyarrow.Table or None
        ``(source_record, owner_record)`` pairs: records whose content was
        merged into another record's rows; they share its fate in the counts.
    mapping : str or None
        Name of the column mapping used, for CSV exports.
    notes : list of str
        What the reader noticed that is worth saying beside the counts but is no
        record's fault (e.g. a charger whose clock jumped); stored in the ledger.
    """

    format: str
    records_read: int
    tables: dict[str, pa.Table] = field(default_factory=dict)
    quarantine: pa.Table = field(default_factory=lambda: QUARANTINE_SCHEMA.empty_table())
    implied: dict[str, pa.Table] = field(default_factory=dict)
    absorbed: pa.Table | None = None
    mapping: str | None = None
    notes: list[str] = field(default_factory=list)


def quarantine_table(rows: list[tuple[int, str | None, str, str | None]]) -> pa.Table:
    """Build a quarantine table from ``(record, field, reason, raw)`` tuples."""
    if not rows:
        return QUARANTINE_SCHEMA.empty_table()
    rec, fld, rsn, raw = zip(*rows, strict=True)
    return pa.table(
        {
            "source_record": pa.array(rec, pa.int64()),
            "field": pa.array(fld, pa.string()),
            "reason": pa.array(rsn, pa.string()),
            "raw": pa.array([None if r is None else str(r)[:RAW_LIMIT] for r in raw], pa.string()),
        },
        schema=QUARANTINE_SCHEMA,
    )


def _head_lines(path: Path, count: int, max_line_bytes: int) -> list[bytes]:
    """The first *count* non-blank lines of *path* (decompressed for ``.gz``), each cut at *max_line_bytes*."""
    import gzip

    lines: list[bytes] = []
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as f:
        while len(lines) < count:
            line = f.readline(max_line_bytes + 1)
            if not line:
                break
            if line.strip(b"\xef\xbb\xbf \t\r\n"):
                lines.append(line)
    return lines


def _json_object(line: bytes) -> object | None:
    try:
        obj = json.loads(line.decode("utf-8", errors="replace").lstrip("\ufeff"))
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def sniff_json(path: Path, limit: int | None = None) -> tuple[str, object | None]:
    """Look at the start of a JSON/NDJSON file (decompressed for ``.gz``).

    The first lines are read whole (up to the line limit in force, so a first record of
    megabytes — a Location with hundreds of EVSEs — is seen whole); an NDJSON file whose first
    line is malformed is still NDJSON when a following line is an object (the reader
    quarantines the bad line; the file is not refused for it).

    Returns ``('ndjson', first_object)``, ``('array', None)``, ``('object', None)``
    or ``('unknown', None)``.
    """
    import gzip

    from evrevops.formats import limits

    path = Path(path)
    cap = limit if limit is not None else limits.current().max_line_bytes
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as f:
        head = f.read(65536).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if head[:1] == "[":
        return "array", None
    if head[:1] != "{":
        return "unknown", None
    lines = _head_lines(path, 3, cap)
    rest = [ln.lstrip() for ln in lines[1:]]
    obj = _json_object(lines[0]) if len(lines[0]) <= cap else None
    if obj is not None:
        envelope = any(isinstance(obj.get(k), list) for k in ("data", "items", "_items"))
        if not envelope and (not rest or rest[0].startswith(b"{")):
            return "ndjson", obj
        return "object", None
    # the first line is no whole object: a pretty-printed document, or NDJSON with a bad first line
    for line in rest:
        if line.startswith(b"{") and (nxt := _json_object(line)) is not None:
            return "ndjson", nxt
    return "object", None


@dataclass(frozen=True)
class FileFacts:
    """What one pass over a file's bytes tells.

    Attributes
    ----------
    sha256 : str
        SHA-256 of the file's bytes as stored (compressed, for ``.gz``): the ingest ledger's checksum.
    size_bytes : int
        File size [bytes].
    lines : int
        Physical lines of the content (decompressed, for ``.gz``): newline bytes, plus one
        when the last line has none.
    longest_line_bytes : int
        Length of the longest physical line, newline excluded [bytes].
    longest_line : int
        Its line number (1-based; 0 for an empty file).
    content_bytes : int
        Size of the content (decompressed, for ``.gz``) [bytes].
    identity : tuple
        ``(device, inode, size, mtime_ns, ctime_ns)`` of the file when it was read: a file whose
        identity differs later was changed (``ctime`` moves on every write and cannot be set back).
    read_at_ns : int
        Wall-clock time the identity was taken [ns since the epoch].
    """

    sha256: str
    size_bytes: int
    lines: int
    longest_line_bytes: int = 0
    longest_line: int = 0
    content_bytes: int = 0
    identity: tuple = ()
    read_at_ns: int = 0


def file_identity(path: str | Path) -> tuple:
    """``(device, inode, size, mtime_ns, ctime_ns)`` of *path* (following symlinks)."""
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def decode_line(raw: bytes) -> tuple[str | None, str]:
    """``(text, "")`` for a line of UTF-8 bytes, else ``(None, reason)`` naming the first bad byte
    (``not UTF-8 text: byte 0xff at byte 3``), for the line's quarantine row."""
    try:
        return raw.decode("utf-8"), ""
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at byte {exc.start + 1}"


class _LineScan:
    """Newline count and longest line over a stream of chunks (vectorised per chunk)."""

    def __init__(self) -> None:
        self.newlines = 0
        self.run = 0  # bytes of the line being read so far
        self.longest = 0
        self.longest_at = 0
        self.total = 0
        self.last = b""

    def feed(self, chunk: np.ndarray) -> None:
        n = chunk.size
        if not n:
            return
        self.total += n
        pos = np.flatnonzero(chunk == 10)  # vectorised; bytes.count is 3x slower
        if pos.size:
            lengths = np.empty(pos.size, np.int64)
            lengths[0] = self.run + int(pos[0])
            if pos.size > 1:
                lengths[1:] = np.diff(pos) - 1
            i = int(np.argmax(lengths))
            if int(lengths[i]) > self.longest:
                self.longest, self.longest_at = int(lengths[i]), self.newlines + i + 1
            self.newlines += int(pos.size)
            self.run = n - int(pos[-1]) - 1
        else:
            self.run += n
        self.last = bytes(chunk[-1:])

    def finish(self) -> tuple[int, int, int]:
        """``(lines, longest line, its number)``."""
        lines = self.newlines + (1 if self.last not in (b"", b"\n") else 0)
        if self.run > self.longest:
            self.longest, self.longest_at = self.run, self.newlines + 1
        return lines, self.longest, self.longest_at


_FACTS: dict[tuple, FileFacts] = {}


def file_facts(path: str | Path, chunk: int = 1 << 20, max_content_bytes: int | None = None) -> FileFacts:
    """Checksum, line count and longest line of *path* in a single read of its bytes.

    A ``.gz`` file is hashed as stored and scanned decompressed (in chunks, never whole in
    memory); its decompression stops with a :class:`FormatError` once the content passes
    *max_content_bytes* (default: :attr:`evrevops.formats.limits.Limits.max_decompressed_bytes`
    of the limits in force), so a small file that expands to gigabytes is refused early.

    Remembered for the file's identity (path, :func:`file_identity`), so the loader's checksum
    and a reader's line count cost one pass between them.
    """
    import time
    import zlib

    from evrevops.formats import limits

    path = Path(path)
    read_at_ns = time.time_ns()
    identity = file_identity(path)
    key = (str(path.resolve()), *identity)
    facts = _FACTS.get(key)
    if facts is not None:
        return facts
    gz = path.suffix.lower() == ".gz"
    cap = max_content_bytes if max_content_bytes is not None else limits.current().max_decompressed_bytes
    h = hashlib.sha256()
    scan = _LineScan()
    inflate = zlib.decompressobj(wbits=47) if gz else None  # 47: gzip or zlib header, detected
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(chunk)
        view = memoryview(buf)
        octets = np.frombuffer(buf, np.uint8)
        while n := f.readinto(buf):
            h.update(view[:n])
            if inflate is None:
                scan.feed(octets[:n])
                continue
            data = view[:n]
            while data:
                try:
                    out = inflate.decompress(data, chunk)
                except zlib.error as exc:
                    raise FormatError(path, f"not a valid gzip file: {exc}") from None
                scan.feed(np.frombuffer(out, np.uint8))
                if scan.total > cap:
                    raise FormatError(
                        path,
                        f"decompresses to more than {cap:,} bytes (the limit; see --max-decompressed-gib)",
                    )
                data = inflate.unconsumed_tail
                if inflate.eof and inflate.unused_data:  # a second gzip member follows
                    rest = inflate.unused_data
                    inflate = zlib.decompressobj(wbits=47)
                    data = rest
    lines, longest, longest_at = scan.finish()
    facts = FileFacts(h.hexdigest(), identity[2], lines, longest, longest_at, scan.total, identity, read_at_ns)
    if len(_FACTS) > 256:
        _FACTS.clear()
    _FACTS[key] = facts
    return facts
