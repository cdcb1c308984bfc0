"""Readers of the standard inputs an operator already has.

Each format is a closed entry in :data:`FORMATS`; an unknown name fails loudly.
:func:`detect` recognises a file from its content (not only its name), and
:func:`read` returns a :class:`~evrevops.formats.base.Batch`.
"""

from __future__ import annotations

import csv
import gzip
import importlib
import io
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evrevops.formats import limits
from evrevops.formats.base import Batch, FormatError, file_facts, sniff_json


@dataclass(frozen=True)
class Format:
    name: str
    target: str  # "module:function" taking (path, mapping=None) -> Batch
    description: str

    def reader(self) -> Callable[..., Batch]:
        module, func = self.target.split(":")
        return getattr(importlib.import_module(module), func)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in [
        Format("ocpi-cdrs", "evrevops.formats.ocpi:read_cdrs", "OCPI 2.2.1 CDRs (JSON array, NDJSON or OCPI response page)"),
        Format("ocpi-locations", "evrevops.formats.ocpi_locations:read_locations", "OCPI 2.2.1 Locations with EVSEs and connectors"),
        Format("ocpi-tariffs", "evrevops.formats.ocpi_tariffs:read_tariffs", "OCPI 2.2.1 Tariffs"),
        Format("ocpp-log", "evrevops.formats.ocpp:read_log", "OCPP 1.6J / 2.0.1 message log, one JSON object a line"),
        Format("status-snapshots", "evrevops.formats.status_snapshots:read_snapshots", "charge-point status log (polled snapshots or status events) through a status mapping"),
        Format("session-csv", "evrevops.formats.session_csv:read_sessions", "session CSV export through a declarative column mapping"),
        Format("acn-json", "evrevops.formats.session_csv:read_acn", "Caltech ACN-Data API session JSON"),
        Format("urdb", "evrevops.formats.urdb:read_urdb", "OpenEI URDB utility tariff JSON"),
        Format("sites-csv", "evrevops.formats.sites_csv:read_sites", "sites, chargers and ports CSV"),
        Format("customers-csv", "evrevops.formats.tables_csv:read_customers", "customers CSV"),
        Format("contracts-csv", "evrevops.formats.tables_csv:read_contracts", "contract lines CSV"),
        Format("deals-csv", "evrevops.formats.tables_csv:read_deals", "deals (CRM opportunities) CSV"),
        Format("deal-stages-csv", "evrevops.formats.tables_csv:read_deal_stages", "deal stage history CSV"),
        Format("projects-csv", "evrevops.formats.tables_csv:read_projects", "project milestones CSV"),
        Format("incentives-csv", "evrevops.formats.tables_csv:read_incentives", "incentive programs and awards CSV"),
        Format("crm-csv", "evrevops.formats.crm:read_crm", "CRM opportunity export (Salesforce, HubSpot) through a CRM mapping"),
        Format("costs-csv", "evrevops.formats.tables_csv:read_costs", "cost book CSV: capex and operating costs per site or segment"),
        Format("incidents-csv", "evrevops.formats.tables_csv:read_incidents", "maintenance tickets / incident records with outage causes"),
    ]
}  # fmt: skip

# Header columns that identify each of evrevops' own CSV formats.
CSV_SIGNATURES: list[tuple[str, set[str]]] = [
    ("sites-csv", {"site_id", "port_id", "segment", "time_zone"}),
    ("contracts-csv", {"contract_id", "line_id", "line_type", "event"}),
    ("deal-stages-csv", {"deal_id", "stage", "entered_on"}),
    ("deals-csv", {"deal_id", "stage", "expected_close_on"}),
    ("customers-csv", {"customer_id", "name", "segment"}),
    ("projects-csv", {"project_id", "milestone"}),
    ("incentives-csv", {"incentive_id", "program", "kind"}),
    ("incidents-csv", {"incident_id", "started_at", "cause"}),
    ("costs-csv", {"cost_id", "cost_type", "basis"}),
]


_SUFFIXES = {".json", ".ndjson", ".jsonl", ".csv", ".txt", ".tsv", ".gz"}


def get_format(name: str) -> Format:
    """Return the format called *name*; an unknown name raises ``ValueError``."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(sorted(FORMATS))}") from None


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115 (closed by the wrapper)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")


def _json_kind(obj: object) -> str | None:
    if not isinstance(obj, dict):
        return None
    if "message" in obj and ("charge_point_id" in obj or "chargePointId" in obj):
        return "ocpp-log"
    if "cdr_location" in obj or "charging_periods" in obj:
        return "ocpi-cdrs"
    if "evses" in obj or ("coordinates" in obj and "time_zone" in obj):
        return "ocpi-locations"
    if "elements" in obj and "currency" in obj:
        return "ocpi-tariffs"
    if (
        "energyratestructure" in obj
        or "flatdemandstructure" in obj
        or "demandratestructure" in obj
        or "utility" in obj
        and "label" in obj
    ):
        return "urdb"
    if "connectionTime" in obj and "kWhDelivered" in obj:
        return "acn-json"
    if "_items" in obj:
        items = obj["_items"]
        return "acn-json" if isinstance(items, list) else None
    for key in ("data", "items"):
        inner = obj.get(key)
        if isinstance(inner, list) and inner:
            return _json_kind(inner[0])
        if isinstance(inner, dict):
            return _json_kind(inner)
    return None


def _first_array_element(path: Path) -> object | None:
    """The first element of a JSON array file, read from a head of growing size (up to the line limit)."""
    cap = limits.current().max_line_bytes
    size = 1 << 20
    while True:
        with _open_text(path) as f:
            head = f.read(size)
        i = head.find("[")
        if i < 0:
            return None
        try:
            obj, _ = json.JSONDecoder().raw_decode(head[i + 1 :].lstrip())
            return obj
        except (json.JSONDecodeError, RecursionError):
            if len(head) < size or size >= cap:
                return None
            size = min(size * 8, cap)


def detect(path: str | Path) -> tuple[str, str | None]:
    """Recognise a file's format (and, for session CSV exports, its mapping).

    Returns
    -------
    (format, mapping)
        ``mapping`` is the column-mapping name for ``session-csv``, ``status-snapshots`` and
        ``crm-csv`` files, else None.

    Raises
    ------
    FormatError
        When the content matches no known format.
    """
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if any(s in (".json", ".ndjson", ".jsonl") for s in suffixes):
        kind, first = sniff_json(path)
        if kind == "ndjson":
            fmt = _json_kind(first)
        elif kind == "array":
            fmt = _json_kind(_first_array_element(path))
        elif kind == "object":
            with _open_text(path) as f:
                try:
                    fmt = _json_kind(json.load(f))
                except json.JSONDecodeError as exc:
                    raise FormatError(path, f"not valid JSON: {exc.msg}", record=exc.lineno) from None
        else:
            fmt = None
        if fmt:
            return fmt, None
        raise FormatError(
            path, "JSON content matches no known format (OCPI CDRs/Locations/Tariffs, OCPP log, URDB, ACN-Data)"
        )
    if any(s in (".csv", ".txt", ".tsv") for s in suffixes):
        with _open_text(path) as f:
            first = f.readline()
        dialect_delim = "\t" if first.count("\t") > first.count(",") else ","
        header = next(csv.reader([first], delimiter=dialect_delim), [])
        cols = {h.strip() for h in header}
        for name, sig in CSV_SIGNATURES:
            if sig <= cols:
                return name, None
        from evrevops.formats.crm import match_crm_mapping

        mapping = match_crm_mapping(header)
        if mapping:
            return "crm-csv", mapping
        from evrevops.formats.session_mapping import match_mapping

        mapping = match_mapping(header, path)
        if mapping:
            return "session-csv", mapping
        from evrevops.formats.status_mapping import match_status_mapping

        mapping = match_status_mapping(first)
        if mapping:
            return "status-snapshots", mapping
        raise FormatError(path, f"CSV header matches no known format or mapping: {header[:8]}", record=1)
    raise FormatError(path, "unrecognised file type; pass --format")


def session_mappings() -> list[tuple[str, str]]:
    """``(name, description)`` of every shipped session-CSV column mapping."""
    import tomllib

    folder = Path(__file__).parent / "mappings"
    out = []
    for p in sorted(folder.glob("*.toml")):
        with open(p, "rb") as f:
            spec = tomllib.load(f)
        out.append((p.stem, str(spec.get("description", ""))))
    return out


def check_regular(path: str | Path) -> None:
    """Refuse, with a :class:`FormatError`, a path that is not there or not a regular file.

    A FIFO would block the ingest forever (holding the warehouse's write lock), a device
    never ends; a directory is expanded by :func:`input_files`, not read.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FormatError(path, "no such file") from None
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a directory"
            if stat.S_ISDIR(st.st_mode)
            else "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "a device"
        )
        raise FormatError(path, f"is {kind}, not a regular file; skipped")
    if not os.access(path, os.R_OK):
        raise FormatError(path, "cannot be read: permission denied")


# Formats whose records are lines (the line limit applies); JSON documents (arrays, one object)
# are often written on a single line and are bounded by their records instead.
_LINE_FORMATS = {"ocpp-log", "status-snapshots", "session-csv", "crm-csv"} | {n for n, _ in CSV_SIGNATURES}


def _check_lines(path: Path, fmt: str | None) -> None:
    """Refuse a file whose longest line passes the limit in force, unless it is a JSON document (an array
    or one object: its records are not lines). Checked before the format is detected, so no line over
    the limit is ever read whole."""
    lim = limits.current()
    facts = file_facts(path)
    if facts.longest_line_bytes <= lim.max_line_bytes:
        return
    lined = {s.lower() for s in path.suffixes} & {".ndjson", ".jsonl", ".csv", ".tsv", ".txt"}
    if fmt not in _LINE_FORMATS and not lined and sniff_json(path)[0] in ("array", "object"):
        return  # a JSON document, often written on one line
    raise FormatError(
        path,
        f"line {facts.longest_line:,} is {facts.longest_line_bytes:,} bytes long, over the limit of "
        f"{lim.max_line_bytes:,} (a cut or concatenated export?; see --max-line-mib)",
        record=facts.longest_line,
    )


def read(path: str | Path, fmt: str | None = None, mapping: str | None = None) -> Batch:
    """Read *path* as *fmt* (detected when None) and return its :class:`Batch`.

    Raises
    ------
    FormatError
        For a path that is not a readable regular file (:func:`check_regular`), a ``.gz`` that
        is not gzip or decompresses past the limit, a line over the limit, or content no
        reader recognises; the message names the file, and the line and field where known.
    """
    path = Path(path)
    check_regular(path)
    file_facts(path)  # the gzip check and its decompressed-size limit, before any reader opens it
    if fmt is not None:
        get_format(fmt)
    _check_lines(path, fmt)
    if fmt is None:
        fmt, detected_mapping = detect(path)
        mapping = mapping or detected_mapping
    batch = get_format(fmt).reader()(path, mapping=mapping)
    batch.format = fmt
    return batch


def input_files(paths: list[str | Path], skipped: list[tuple[Path, str]] | None = None) -> list[Path]:
    """Expand directories into the files to ingest, in a stable, dependency-friendly order.

    Reference data (customers, sites, locations, tariffs) comes before usage
    data so a directory ingests in one go. Inside a directory, hidden files, files of other
    types, special files (FIFOs, sockets, devices) and symlinks that lead out of the
    directory are left out; each is appended to *skipped* as ``(path, reason)`` when given.
    A path given by name is kept as it is (the reader refuses it if it cannot be read).
    """
    out: list[Path] = []
    note = skipped.append if skipped is not None else (lambda item: None)
    for p in map(Path, paths):
        if not p.is_dir():
            out.append(p)
            continue
        root = p.resolve()
        for q in sorted(p.rglob("*")):
            if q.name.startswith(".") or q.suffix.lower() not in _SUFFIXES or q.name.lower() == "readme.md":
                continue
            if q.is_symlink():
                try:
                    target = q.resolve(strict=True)
                except (OSError, RuntimeError):
                    note((q, "a broken or looping symlink"))
                    continue
                if not target.is_relative_to(root):
                    note((q, "a symlink that leads out of the directory"))
                    continue
            try:
                mode = q.stat().st_mode
            except OSError as exc:
                note((q, f"cannot be read: {exc.strerror}"))
                continue
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                note((q, "not a regular file (a FIFO, socket or device)"))
                continue
            out.append(q)

    def rank(p: Path) -> tuple[int, str]:
        n = p.name.lower()
        order = [
            "customer",
            "site",
            "location",
            "urdb",
            "utility",
            "tariff",
            "contract",
            "deal",
            "stage",
            "project",
            "incentive",
            "incident",
            "ocpp",
            "cdr",
            "session",
        ]
        for i, word in enumerate(order):
            if word in n:
                return i, str(p)
        return len(order), str(p)

    return sorted(out, key=rank)
