"""Status-log mappings: the TOML files in ``formats/mappings/status/``, loaded and checked, and their templates.

A mapping says how one status log's columns, codes and conventions become ``status_events``
rows (the format is documented in ``docs/formats.md``, "Status snapshot logs", and in short in
:mod:`evrevops.formats.status_snapshots`, the reader). :class:`StatusColumns` compiles a
mapping's ``{column|filter}`` templates to SQL over the fields of one file.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evrevops.core.sqltext import sql_literal
from evrevops.core.states import STATUS_STATE
from evrevops.formats.base import FormatError
from evrevops.formats.mapping_files import MappingSpec, shipped_file, shipped_names

MAPPINGS_DIR = Path(__file__).parent / "mappings" / "status"
MODES = ("snapshot", "event")
#: The statuses a mapping may give (those :mod:`evrevops.core.states` knows the meaning of).
STATUSES = tuple(STATUS_STATE)

_TOP = {
    "description",
    "mode",
    "max_gap_min",
    "detect",
    "csv",
    "time",
    "ids",
    "connectors",
    "status",
    "placeholder",
    "site",
}
_KEYS = {
    "detect": {"first_line"},
    "csv": {"delimiter", "encoding", "header", "quote", "columns"},
    "time": {"value", "formats", "zone"},
    "ids": {"charger", "port", "site", "connector", "unidentified"},
    "status": {"value", "codes", "absent", "no_data", "unlisted"},
    "site": {"name", "address", "city", "state", "postal_code", "country", "latitude", "longitude"},
}
_CODE_KEYS = {"code", "status", "error_code", "vendor_error_code", "info"}
_CONNECTOR_KEYS = {"id", "standard", "power_type", "rated_kw"}
_PLACE = re.compile(r"\{([^{}]+)\}")
_FILTERS = {
    "trim": "trim({})",
    "upper": "upper({})",
    "lower": "lower({})",
}
_ZFILL = re.compile(r"zfill(\d+)")


def lit(text: object) -> str:
    """*text* (made text with ``str``: a TOML value may be a number) as a SQL string literal."""
    return sql_literal(str(text))


@dataclass(frozen=True)
class StatusMapping(MappingSpec):
    """One status-log mapping: a shipped ``mappings/status/<name>.toml``, or one loaded by :func:`load_status_mapping_file`."""

    @property
    def mode(self) -> str:
        return str(self.spec.get("mode", "snapshot"))

    @property
    def csv(self) -> dict[str, Any]:
        return dict(self.spec.get("csv", {}))

    @property
    def codes(self) -> list[dict[str, Any]]:
        return list(self.spec["status"]["codes"])


def status_mapping_names() -> list[str]:
    """Names of the shipped status mappings (file stems in ``formats/mappings/status``)."""
    return shipped_names(MAPPINGS_DIR)


def status_mappings() -> list[tuple[str, str]]:
    """``(name, description)`` of every shipped status mapping."""
    return [(n, load_status_mapping(n).description) for n in status_mapping_names()]


def template_columns(text: str) -> list[str]:
    return [m.group(1).split("|")[0].strip() for m in _PLACE.finditer(text)]


@functools.cache
def load_status_mapping(name: str) -> StatusMapping:
    """Load and validate a shipped status mapping by name (``esb_ecars``).

    Only the stems of the TOML files in ``formats/mappings/status`` are names: a name with
    ``/``, ``\\`` or ``..``, or a path to a TOML file, is refused like any unknown name, so
    ``--mapping`` never reads a file outside the shipped folder. A mapping of one's own is
    read through :func:`load_status_mapping_file` (Python), or shipped in that folder.

    Raises
    ------
    ValueError
        ``unknown status mapping 'x'; known: ...``; an unknown section or key, or a mapping
        that lacks what its mode needs.
    """
    return load_status_mapping_file(shipped_file(MAPPINGS_DIR, name, "status"))


def load_status_mapping_file(path: str | Path) -> StatusMapping:
    """Load and validate a status mapping from a TOML file the caller chose (not reachable from ``--mapping``).

    Raises
    ------
    ValueError
        An unreadable file, or a mapping that fails the checks of :func:`load_status_mapping`.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            spec = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"status mapping {path}: cannot be read: {exc}") from None
    _validate(path.stem, spec)
    return StatusMapping(path.stem, spec)


def _validate(name: str, spec: dict[str, Any]) -> None:
    def fail(msg: str) -> None:
        raise ValueError(f"status mapping {name}: {msg}")

    unknown = set(spec) - _TOP
    if unknown:
        fail(f"unknown sections or keys {sorted(unknown)}")
    for section, keys in _KEYS.items():
        extra = set(spec.get(section, {})) - keys
        if extra:
            fail(f"[{section}] has unknown keys {sorted(extra)}")
    mode = spec.get("mode", "snapshot")
    if mode not in MODES:
        fail(f"mode must be one of {MODES}, not {mode!r}")
    if "max_gap_min" in spec:
        if mode != "snapshot":
            fail("max_gap_min applies to snapshot mode only (an event log is silent while nothing changes)")
        if not isinstance(spec["max_gap_min"], (int, float)) or spec["max_gap_min"] <= 0:
            fail("max_gap_min must be a positive number of minutes")
    for section, keys in (("time", ("value", "zone")), ("ids", ("charger", "port")), ("status", ("value", "codes"))):
        for key in keys:
            if key not in spec.get(section, {}):
                fail(f"[{section}] needs {key!r}")
    csv = spec.get("csv", {})
    if not csv.get("header", True) and not csv.get("columns"):
        fail("[csv] header = false needs columns (the name of each field, in order)")
    codes = spec["status"]["codes"]
    if not isinstance(codes, list) or not codes:
        fail("[status] codes must be a non-empty list of {code, status, ...}, worst first")
    for c in codes:
        if not isinstance(c, dict) or "code" not in c or "status" not in c or set(c) - _CODE_KEYS:
            fail(
                f"[status] codes entries need code and status (and optionally {sorted(_CODE_KEYS - {'code', 'status'})}): {c}"
            )
    if len({str(c["code"]) for c in codes}) != len(codes):
        fail("[status] codes lists a code twice")
    st = spec["status"]
    for what, status in [(f"code {c['code']!r}", c["status"]) for c in codes] + [
        (key, st[key]) for key in ("absent", "no_data", "unlisted") if key in st
    ]:
        if status not in STATUSES:
            fail(f"[status] {what}: status {status!r} is not one evrevops knows ({', '.join(STATUSES)})")
    conns = spec.get("connectors", {})
    for text, c in conns.items():
        if not isinstance(c, dict) or "id" not in c or not isinstance(c["id"], int) or set(c) - _CONNECTOR_KEYS:
            fail(f"[connectors] {text!r} needs an integer id (and optionally standard, power_type, rated_kw)")
        if not 0 <= c["id"] < 2**31:
            fail(f"[connectors] {text!r}: id must be 0 or more (a 32-bit integer), not {c['id']}")
        kw = c.get("rated_kw")
        if kw is not None and not (isinstance(kw, int | float) and not isinstance(kw, bool) and 0 < kw < float("inf")):
            fail(f"[connectors] {text!r}: rated_kw must be a finite number above 0, not {kw!r}")
    if len({c["id"] for c in conns.values()}) != len(conns):
        fail("[connectors] gives two connector types the same id: (charger, connector) must identify a port")
    if conns and "connector" not in spec["ids"]:
        fail("[connectors] needs [ids] connector (the text looked up in it)")
    zone = spec["time"]["zone"]
    if not isinstance(zone, str) or "{" in zone:
        fail("[time] zone must be an IANA time-zone name")
    formats = spec["time"].get("formats", ["%Y-%m-%d %H:%M:%S"])
    if not isinstance(formats, list) or not formats:
        fail("[time] formats must be a non-empty list of strptime formats")
    cols = csv.get("columns")
    for text in _templates(spec):
        for col in template_columns(text):
            if cols and col not in cols:
                fail(f"template {text!r} names column {col!r}, which is not in [csv] columns")
        for m in _PLACE.finditer(text):
            for flt in m.group(1).split("|")[1:]:
                if flt.strip() not in _FILTERS and not _ZFILL.fullmatch(flt.strip()):
                    fail(f"unknown filter {flt.strip()!r} in {text!r} (known: trim, upper, lower, zfillN)")
    for col in spec.get("placeholder", {}):
        if cols and col not in cols:
            fail(f"[placeholder] names column {col!r}, which is not in [csv] columns")


def _templates(spec: dict[str, Any]) -> list[str]:
    out = [spec["time"]["value"], spec["status"]["value"]]
    out += [spec["ids"][k] for k in ("charger", "port", "site", "connector") if k in spec["ids"]]
    out += [v for v in spec.get("site", {}).values() if isinstance(v, str)]
    return out


def match_status_mapping(first_line: str) -> str | None:
    """The shipped status mapping whose ``[detect] first_line`` regex matches *first_line* (None if none does)."""
    for name in status_mapping_names():
        pattern = load_status_mapping(name).spec.get("detect", {}).get("first_line")
        if pattern and re.search(pattern, first_line):
            return name
    return None


class StatusColumns:
    """Template compiler over the fields ``c0, c1, ...`` of table ``src``."""

    def __init__(self, mapping: StatusMapping, names: list[str], path: Path):
        self.mapping = mapping
        self.index = {n: i for i, n in reversed(list(enumerate(names)))}
        self.path = path

    def col(self, name: str) -> str:
        if name not in self.index:
            raise FormatError(
                self.path, f"column {name!r} required by status mapping {self.mapping.name!r} is not in the header", 1
            )
        return f"nullif(trim(c{self.index[name]}), '')"

    def template(self, text: str) -> str:
        """SQL text of a template; NULL when a column it names is empty."""
        parts: list[str] = []
        pos = 0
        for m in _PLACE.finditer(text):
            if m.start() > pos:
                parts.append(lit(text[pos : m.start()]))
            name, *filters = (s.strip() for s in m.group(1).split("|"))
            expr = self.col(name)
            for flt in filters:
                z = _ZFILL.fullmatch(flt)
                expr = (
                    f"CASE WHEN length({expr}) < {z.group(1)} THEN lpad({expr}, {z.group(1)}, '0') ELSE {expr} END"
                    if z
                    else _FILTERS[flt].format(expr)
                )
            parts.append(expr)
            pos = m.end()
        if pos < len(text):
            parts.append(lit(text[pos:]))
        if not parts:
            return "NULL::VARCHAR"
        return "(" + " || ".join(parts) + ")" if len(parts) > 1 else parts[0]

    def value(self, text: str) -> str:
        return f"nullif(trim({self.template(text)}), '')"

    @staticmethod
    def field(text: str) -> str:
        """The columns a template reads, for quarantine rows (``date, time``)."""
        return ", ".join(dict.fromkeys(template_columns(text))) or text
