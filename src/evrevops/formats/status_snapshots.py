"""Status logs of charge points read through a declarative mapping (``status-snapshots``).

Many networks publish or archive the state of their connectors as a log of
*snapshots*: a poll every few minutes lists the connectors and their status
codes (the Irish ESB ecars log archived by cpinfo.ie lists only the connectors
that are *not* free). Others log *events*: one row each time a connector
changes. A mapping (a TOML file in ``formats/mappings/status/``; the format is
documented in ``docs/formats.md``, "Status snapshot logs") says how one such
log's columns, codes and conventions become ``status_events`` rows, and the
engine here turns it into DuckDB SQL that reads the whole file in bulk (no
Python loop per line):

* ``mode``: ``snapshot`` (a poll lists every connector that is not in the
  ``absent`` state; a port known to the file but missing from a poll is in
  the ``absent`` state) or ``event`` (each row is a change; nothing is
  inferred from absence);
* ``[csv]``: delimiter, encoding, quote, header or not, column names;
* ``[time]``: a template giving the local date-time text, strptime formats
  and the IANA zone;
* ``[ids]``: charger, port, site and connector templates (``{column}``,
  ``{column|filter}``), and charger ids that identify no single charger;
* ``[connectors]``: connector text → connector id, standard, power type;
* ``[status]``: the codes (worst first) and the statuses they mean, the
  ``absent`` and ``no_data`` statuses;
* ``[placeholder]``: the row a poll that returned nothing leaves behind;
* ``max_gap_min``: polls further apart than this leave the ports Unknown in
  between (snapshot mode);
* ``[site]``: implied site columns.

Rows are run-length compressed: a port gets a row only where its status
changes, and its last status holds until its next row (the file's last state
holds to the data horizon). A line whose status repeats the port's current one
is *absorbed* into the line that started the run; see ``docs/formats.md`` for
the counting rules.
"""

from __future__ import annotations

import functools
import gzip
import io
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from evrevops.core.states import STATUS_STATE
from evrevops.formats import limits
from evrevops.formats.base import STATUS_EVENT_SCHEMA, Batch, FormatError, quarantine_table
from evrevops.formats.records import connect

MAPPINGS_DIR = Path(__file__).parent / "mappings" / "status"
MODES = ("snapshot", "event")
#: The statuses a mapping may give (those :mod:`evrevops.core.states` knows the meaning of).
STATUSES = tuple(STATUS_STATE)
MAX_ID_CHARS = 255  # a charger, port or site id longer than this is refused

TS = pa.timestamp("us")
SCHEMAS: dict[str, pa.Schema] = {
    "status_events": STATUS_EVENT_SCHEMA,
    "sites": pa.schema(
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
            ("source_record", pa.int64()),
        ]
    ),
    "chargers": pa.schema([("charger_id", pa.string()), ("site_id", pa.string()), ("source_record", pa.int64())]),
    "ports": pa.schema(
        [
            ("port_id", pa.string()),
            ("site_id", pa.string()),
            ("charger_id", pa.string()),
            ("connector_id", pa.int32()),
            ("connector_standard", pa.string()),
            ("power_type", pa.string()),
            ("rated_kw", pa.float64()),
            ("source_record", pa.int64()),
        ]
    ),
}
ABSORBED_SCHEMA = pa.schema([("source_record", pa.int64()), ("owner_record", pa.int64())])

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


def _lit(text: object) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def _list(words: list[str]) -> str:
    """``a, b or c``."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


# --------------------------------------------------------------------------------------------
# Mappings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusMapping:
    """One status-log mapping: a shipped ``mappings/status/<name>.toml``, or one loaded by :func:`load_status_mapping_file`."""

    name: str
    spec: dict[str, Any]

    @property
    def description(self) -> str:
        return str(self.spec.get("description", ""))

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
    return sorted(p.stem for p in MAPPINGS_DIR.glob("*.toml"))


def status_mappings() -> list[tuple[str, str]]:
    """``(name, description)`` of every shipped status mapping."""
    return [(n, load_status_mapping(n).description) for n in status_mapping_names()]


def _template_columns(text: str) -> list[str]:
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
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name) or name not in status_mapping_names():
        raise ValueError(f"unknown status mapping {name!r}; known: {', '.join(status_mapping_names())}")
    return load_status_mapping_file(MAPPINGS_DIR / f"{name}.toml")


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
        for col in _template_columns(text):
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


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


class _Columns:
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
                parts.append(_lit(text[pos : m.start()]))
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
            parts.append(_lit(text[pos:]))
        if not parts:
            return "NULL::VARCHAR"
        return "(" + " || ".join(parts) + ")" if len(parts) > 1 else parts[0]

    def value(self, text: str) -> str:
        return f"nullif(trim({self.template(text)}), '')"

    @staticmethod
    def field(text: str) -> str:
        """The columns a template reads, for quarantine rows (``date, time``)."""
        return ", ".join(dict.fromkeys(_template_columns(text))) or text


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115 (closed by the wrapper)
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    return io.TextIOWrapper(raw, encoding=enc, errors="replace", newline="\n")


def _header(path: Path, encoding: str) -> tuple[int, str]:
    """(line number, text) of the first non-blank line."""
    try:
        with _open_text(path, encoding) as f:
            for i, line in enumerate(f, 1):
                if line.strip():
                    return i, line.rstrip("\r\n")
    except (OSError, EOFError, LookupError) as exc:
        raise FormatError(path, f"cannot read the file: {exc}") from None
    raise FormatError(path, "empty file: no header line", 1)


def _split_sql(delim: str, quote: str) -> str:
    """SQL splitting the line ``j`` into its list of fields."""
    if not quote:
        return f"string_split(j, {_lit(delim)})"
    q, d = re.escape(quote), re.escape(delim)
    # a field: quoted (a quote doubled inside), or anything up to the next delimiter
    pat = f"(?:^|{d})({q}(?:[^{q}]|{q}{q})*{q}|[^{d}]*)"
    unq = (
        f"CASE WHEN length(x) >= 2 AND prefix(x, {_lit(quote)}) AND suffix(x, {_lit(quote)}) "
        f"THEN replace(x[2:-2], {_lit(quote * 2)}, {_lit(quote)}) ELSE x END"
    )
    return f"list_transform(regexp_extract_all(j, {_lit(pat)}, 1), lambda x: {unq})"


def _load(con: duckdb.DuckDBPyConnection, path: Path, mapping: StatusMapping) -> tuple[int, list[str]]:
    """Create ``src(rec, j, n_fields, c0, c1, ...)``: one row per non-blank data line, ``rec`` its line number.

    Lines are read whole in the mapping's encoding (``\\n`` and ``\\r\\n`` both end a line) and
    split on the delimiter in SQL, so ``rec`` is the physical line number, blank lines counted.
    With a quote character, a field wrapped in quotes may hold the delimiter (``""`` is a
    quote); a quoted field cannot span lines. Returns (records read, column names).
    """
    opts = mapping.csv
    delim = str(opts.get("delimiter", ","))
    quote = str(opts.get("quote", '"'))
    enc = str(opts.get("encoding", "utf-8"))
    if len(delim) != 1 or len(quote) > 1:
        raise FormatError(
            path, f"status mapping {mapping.name!r}: [csv] delimiter must be one character, quote at most one"
        )
    header_rec = 0
    if opts.get("header", True):
        header_rec, text = _header(path, enc)
        names = [
            x.strip()
            for x in con.execute(f"SELECT {_split_sql(delim, quote)} FROM (SELECT ? AS j)", [text]).fetchall()[0][0]
        ]
        missing = [c for c in opts.get("columns", []) if c not in names]
        if missing:
            raise FormatError(path, f"header lacks columns {missing} of status mapping {mapping.name!r}", header_rec)
    else:
        names = [str(c) for c in opts["columns"]]
    comp = ", compression='gzip'" if path.suffix == ".gz" else ""
    cols = ", ".join(f"f[{i + 1}] AS c{i}" for i in range(len(names)))
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE src AS
                SELECT rec, j, len(f) AS n_fields, {cols}
                FROM (SELECT rec, j, {_split_sql(delim, quote)} AS f
                      FROM (SELECT row_number() OVER () AS rec, line AS j
                            FROM read_csv('{_sql_path(path)}', columns={{'line': 'VARCHAR'}}, delim='\\x01', quote='',
                                          escape='', header=false, auto_detect=false, strict_mode=false,
                                          null_padding=false, new_line='\\r\\n', allow_quoted_nulls=false,
                                          encoding={_lit(enc)}{comp}))
                      WHERE j IS NOT NULL AND trim(j) <> '' AND rec > {header_rec})"""
        )
    except duckdb.Error as exc:
        msg = str(exc)
        m = re.search(r"[Ll]ine:? (\d+)", msg)
        reason = "bytes not in the mapping's encoding " + enc if "unicode" in msg.lower() else msg.splitlines()[0]
        raise FormatError(
            path, f"cannot read the file as lines of text: {reason}", int(m.group(1)) if m else None
        ) from None
    con.execute("UPDATE src SET j = ltrim(j, chr(65279)), c0 = ltrim(c0, chr(65279)) WHERE rec = 1")  # a BOM
    return con.execute("SELECT count(*) FROM src").fetchall()[0][0], names


@dataclass(frozen=True)
class _State:
    status: str
    error_code: str | None = None
    vendor_error_code: str | None = None
    info: str | None = None


def _states(mapping: StatusMapping) -> tuple[list[_State], int, int, int]:
    """Every state a port can be in, and the indices of the absent, no-data and gap states.

    The codes come first, worst first, so a lower index wins within one snapshot. With
    ``[status] unlisted`` (a status for codes the mapping does not list) that state comes last,
    at index ``len(codes) + 3``: an unlisted code loses to every listed one.
    """
    st = mapping.spec["status"]
    states = [
        _State(str(c["status"]), c.get("error_code"), c.get("vendor_error_code"), c.get("info")) for c in mapping.codes
    ]
    no_data_status = str(st.get("no_data", "Unknown"))
    gap_min = mapping.spec.get("max_gap_min", 0)
    states += [
        _State(str(st.get("absent", "Available"))),
        _State(no_data_status, info="no data"),
        _State(no_data_status, info=f"no snapshot for more than {gap_min:g} min"),
    ]
    if "unlisted" in st:
        states.append(_State(str(st["unlisted"]), info="status code not listed in the mapping"))
    n = len(mapping.codes)
    return states, n, n + 1, n + 2


def read_snapshots(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a status log (snapshots or events) through a status mapping.

    Parameters
    ----------
    path : str or Path
        The log (``.gz`` is read compressed).
    mapping : str or StatusMapping, optional
        A shipped status mapping's name (``esb_ecars``; never a path: see
        :func:`load_status_mapping`), or a mapping loaded by :func:`load_status_mapping_file`;
        when None, the shipped mapping whose ``[detect] first_line`` matches the file's first
        line.

    Returns
    -------
    Batch
        ``status_events`` (a row per port where its status changes); implied
        ``sites``, ``chargers`` and ``ports``; ``absorbed`` lines (a status that
        repeats the port's current one, a second listing of a port in one
        snapshot, a placeholder continuing a run of them) with the line whose row
        holds their content; quarantine rows naming line, column and reason.

    Raises
    ------
    FormatError
        When the file cannot be read at all (bytes not in the mapping's
        encoding, broken compression, a header lacking the mapping's columns),
        or no mapping is given or recognised.
    """
    path = Path(path)
    if not path.exists():
        raise FormatError(path, "no such file")
    if mapping is None:
        mapping = _detect_mapping(path)
    try:
        m = mapping if isinstance(mapping, StatusMapping) else load_status_mapping(mapping)
    except ValueError as exc:
        raise FormatError(path, str(exc)) from None
    lim = limits.current()
    for text, conn in m.spec.get("connectors", {}).items():
        if float(conn.get("rated_kw", 0)) > lim.max_power_kw:
            raise FormatError(
                path,
                f"status mapping {m.name!r}: [connectors] {text!r} rated_kw {conn['rated_kw']} is above the limit "
                f"of {lim.max_power_kw:g} kW per port (see --max-power-kw)",
            )
    con = connect()
    try:
        n, names = _load(con, path, m)
        c = _Columns(m, names, path)
        states, absent, no_data, gap = _states(m)
        _parse(con, m, c, len(names), path)
        qrows = _quarantine(con, m, c, len(names), lim)
        _timeline(con, m, states, absent, no_data, gap)
        events = _events(con, m, states)
        absorbed = _absorbed(con)
        implied = _implied(con, m, c)
    finally:
        con.close()
    return Batch(
        format="status-snapshots",
        records_read=n,
        tables={"status_events": events},
        implied=implied,
        absorbed=absorbed,
        quarantine=quarantine_table(qrows),
        mapping=m.name,
    )


def _detect_mapping(path: Path) -> str:
    try:
        with _open_text(path, "latin-1") as f:
            first = f.readline()
    except (OSError, EOFError) as exc:
        raise FormatError(path, f"cannot read the file: {exc}") from None
    name = match_status_mapping(first)
    if name is None:
        raise FormatError(path, "no status mapping recognises the first line; pass --mapping", 1)
    return name


def _parse(con: duckdb.DuckDBPyConnection, m: StatusMapping, c: _Columns, n_cols: int, path: Path) -> None:
    """Tables ``p`` (every line's fields, parsed) and ``times`` (each distinct date-time text, local and UTC)."""
    spec = m.spec
    ids = spec["ids"]
    zone = spec["time"]["zone"]
    if not con.execute("SELECT count(*) FROM pg_timezone_names() WHERE name = ?", [zone]).fetchall()[0][0]:
        raise FormatError(path, f"status mapping {m.name!r}: unknown time zone {zone!r}")
    placeholder = spec.get("placeholder", {})
    ph = " AND ".join(f"coalesce({c.col(k)} = {_lit(v)}, false)" for k, v in placeholder.items()) or "false"
    codes = " ".join(f"WHEN {_lit(x['code'])} THEN {i}" for i, x in enumerate(m.codes))
    if "unlisted" in spec["status"]:  # named leniency: codes the mapping does not list take this status
        codes += f" ELSE CASE WHEN {c.value(spec['status']['value'])} IS NOT NULL THEN {len(m.codes) + 3} END"
    conns = spec.get("connectors", {})
    conn_text = c.value(ids["connector"]) if "connector" in ids else "NULL::VARCHAR"
    if conns:
        whens = " ".join(f"WHEN {_lit(k)} THEN {int(v['id'])}" for k, v in conns.items())
        conn_id = f"(CASE {conn_text} {whens} END)"
    elif "connector" in ids:
        conn_id = f"TRY_CAST({conn_text} AS INTEGER)"
    else:
        conn_id = "NULL::INTEGER"
    unident = [str(x) for x in ids.get("unidentified", [])]
    charger = c.value(ids["charger"])
    unident_sql = f"coalesce({charger} IN ({', '.join(map(_lit, unident))}), false)" if unident else "false"
    status = c.value(spec["status"]["value"])
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE p AS
            SELECT rec, n_fields = {n_cols} AS well_formed, n_fields,
                   n_fields = {n_cols} AND {ph} AS placeholder,
                   {c.value(spec["time"]["value"])} AS time_text,
                   {charger} AS charger_id, {unident_sql} AS unidentified,
                   {c.value(ids["port"])} AS port_id,
                   {c.value(ids["site"]) if "site" in ids else "NULL::VARCHAR"} AS site_id,
                   {conn_text} AS conn_text, {conn_id} AS connector_id,
                   {status} AS code_text, CASE {status} {codes} END AS code
            FROM src"""
    )
    fl = "[" + ", ".join(_lit(f) for f in _formats(m)) + "]"
    # each distinct date-time once: a month of 5-minute polls has 10,000 of them for a million lines
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE times AS
            SELECT time_text, local, timezone('UTC', timezone({_lit(zone)}, local)) AS ts
            FROM (SELECT time_text, try_strptime(time_text, {fl}) AS local
                  FROM (SELECT DISTINCT time_text FROM p WHERE time_text IS NOT NULL))"""
    )


def _formats(m: StatusMapping) -> list[str]:
    return [str(f) for f in m.spec["time"].get("formats", ["%Y-%m-%d %H:%M:%S"])]


def _quarantine(
    con: duckdb.DuckDBPyConnection, m: StatusMapping, c: _Columns, n_cols: int, lim: limits.Limits
) -> list[tuple[int, str | None, str, str | None]]:
    """Table ``q(rec, field, reason, ord)`` and ``g`` (the good lines); returns the quarantine rows with raw lines.

    A line is checked in order: its number of fields; then (placeholders too) its date-time
    and whether it lies in the time window of *lim*; then (not placeholders) the charger id
    (an ``unidentified`` one, or empty), port id, connector and status code, and the length of
    the ids.
    """
    spec = m.spec
    ids = spec["ids"]
    time_f = c.field(spec["time"]["value"])
    charger_f = c.field(ids["charger"])
    conn_f = c.field(ids["connector"]) if "connector" in ids else None
    status_f = c.field(spec["status"]["value"])
    conns = list(spec.get("connectors", {}))
    codes = [str(x["code"]) for x in m.codes]
    real = "well_formed AND NOT placeholder"

    def qv(x: str) -> str:
        return f"'''' || left({x}, 80) || ''''"

    checks: list[tuple[str, str | None, str]] = [
        ("NOT well_formed", None, f"'malformed row: {n_cols} fields expected, ' || n_fields || ' found'"),
        ("well_formed AND time_text IS NULL", time_f, "'missing date/time'"),
        (
            "well_formed AND time_text IS NOT NULL AND local IS NULL",
            time_f,
            f"'unparseable date/time ' || {qv('time_text')} || ' (expected {' or '.join(_formats(m))})'",
        ),
        (f"well_formed AND {lim.window_sql('ts')}", time_f, lim.window_reason_sql("ts")),
        (
            f"{real} AND unidentified",
            charger_f,
            f"{_lit(charger_f + ' ')} || {qv('charger_id')} || ' does not identify one charge point"
            " (unnamed points share it): its port cannot be told apart'",
        ),
        (f"{real} AND charger_id IS NULL", charger_f, _lit(f"missing value for the charger id ({ids['charger']})")),
        (
            f"{real} AND NOT unidentified AND charger_id IS NOT NULL AND port_id IS NULL",
            c.field(ids["port"]),
            _lit(f"missing value for the port id ({ids['port']})"),
        ),
    ]
    if conn_f is not None:
        checks += [
            (f"{real} AND conn_text IS NULL", conn_f, "'missing connector'"),
            (
                f"{real} AND conn_text IS NOT NULL AND connector_id IS NULL",
                conn_f,
                f"'unknown connector type ' || {qv('conn_text')} || ' (expected {_list(conns)})'"
                if conns
                else f"'connector is not an integer: ' || {qv('conn_text')}",
            ),
        ]
    for key, col in (("charger", "charger_id"), ("port", "port_id"), ("site", "site_id")):
        if key in ids:
            checks.append(
                (
                    f"{real} AND length({col}) > {MAX_ID_CHARS}",
                    c.field(ids[key]),
                    f"'{key} id longer than {MAX_ID_CHARS} characters: ' || {qv(col)}",
                )
            )
    checks += [
        (f"{real} AND code_text IS NULL", status_f, "'missing status code'"),
        (
            f"{real} AND code_text IS NOT NULL AND code IS NULL",
            status_f,
            f"'unknown status code ' || {qv('code_text')} || ' (expected {_list(codes)})'",
        ),
    ]
    any_bad = " OR ".join(f"coalesce(({cond}), false)" for cond, _, _ in checks)
    items = ", ".join(
        f"CASE WHEN coalesce(({cond}), false) THEN {{'field': {'NULL' if fld is None else _lit(fld)}, "
        f"'reason': {reason}, 'ord': {i}}} END"
        for i, (cond, fld, reason) in enumerate(checks)
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE pt AS
           SELECT p.*, t.local, t.ts FROM p LEFT JOIN times t USING (time_text)"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE q AS
            SELECT rec, e.field AS field, e.reason AS reason, e.ord AS ord
            FROM (SELECT rec, unnest(list_filter([{items}], lambda x: x IS NOT NULL)) AS e
                  FROM pt WHERE {any_bad})"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE g AS
           SELECT rec, placeholder, ts, charger_id, port_id, site_id, connector_id, code FROM pt
           WHERE rec NOT IN (SELECT rec FROM q)"""
    )
    return con.execute(
        "SELECT q.rec, q.field, q.reason, s.j FROM q JOIN src s USING (rec) ORDER BY q.rec, q.ord"
    ).fetchall()


def _timeline(
    con: duckdb.DuckDBPyConnection, m: StatusMapping, states: list[_State], absent: int, no_data: int, gap: int
) -> None:
    """Table ``starts(pn, pos, st, src)``: the cells where a port's state changes, and the tables they come from.

    Snapshots are the distinct instants of the good lines (``snap``, numbered ``sn`` in time
    order; *real* when a line is not a placeholder); ports (``known``, numbered ``pn``) are
    known from their first listing. A port's state at snapshot ``sn`` (position ``2 sn``) is
    the worst code it is listed with, else (snapshot mode) ``absent``, or ``no_data`` at a
    placeholder snapshot; a gap before ``sn`` puts it in the gap state at ``2 sn - 1``. A
    port whose line at a snapshot was quarantined is not observed there. In snapshot mode
    every port the file lists is observed from the file's first real snapshot (absent, so
    free, until it is first listed); in event mode from its first listing.

    Only the cells where a state *can* change are built — listings, the first absence after
    a listing (or after a placeholder run, gap or unobserved snapshot), the first placeholder of
    a run, gaps after a real snapshot — since every other cell repeats the one before it: the
    run-length result is that of the full port × snapshot grid.
    """
    gap_min = m.spec.get("max_gap_min") if m.mode == "snapshot" else None
    gap_before = f"ts - prev_ts > to_microseconds({int(round(float(gap_min) * 60e6))})" if gap_min else "false"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE snap AS
            SELECT *, coalesce({gap_before}, false) AS gap_before,
                   NOT real AND (sn = 1 OR prev_real) AS ph_start
            FROM (SELECT row_number() OVER (ORDER BY ts) AS sn, ts, real, owner,
                         lag(ts) OVER (ORDER BY ts) AS prev_ts, coalesce(lag(real) OVER (ORDER BY ts), false) AS prev_real
                  FROM (SELECT ts, bool_or(NOT placeholder) AS real,
                               coalesce(min(rec) FILTER (WHERE NOT placeholder), min(rec)) AS owner
                        FROM g GROUP BY ts))"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE gl AS
           SELECT g.rec, g.placeholder, g.port_id, g.code, s.sn FROM g JOIN snap s USING (ts)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE known AS
           SELECT row_number() OVER (ORDER BY port_id) AS pn, port_id, first_sn
           FROM (SELECT port_id, min(sn) AS first_sn FROM gl WHERE NOT placeholder GROUP BY 1)"""
        if m.mode != "snapshot"
        # snapshot mode: every port of the file is observed from the file's first real snapshot on,
        # absent (free) where it is not listed -- the feed lists only connectors that are not free
        else """CREATE OR REPLACE TEMP TABLE known AS
           SELECT row_number() OVER (ORDER BY port_id) AS pn, port_id,
                  (SELECT min(sn) FROM snap WHERE real) - 1 AS first_sn
           FROM (SELECT DISTINCT port_id FROM gl WHERE NOT placeholder)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE listed AS
           SELECT l.rec, k.pn, l.sn, l.code FROM gl l JOIN known k USING (port_id) WHERE NOT l.placeholder"""
    )
    # the port's state at a snapshot where it is listed: the worst code, carried by its first line with it
    con.execute(
        """CREATE OR REPLACE TEMP TABLE win AS
           SELECT pn, sn, min(code) AS code, arg_min(rec, (code, rec)) AS rec FROM listed GROUP BY ALL"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE unobserved AS
           SELECT DISTINCT k.pn, s.sn FROM pt
           JOIN known k USING (port_id) JOIN snap s USING (ts)
           ANTI JOIN win w ON w.pn = k.pn AND w.sn = s.sn
           WHERE pt.rec IN (SELECT rec FROM q) AND NOT pt.placeholder"""
    )
    parts = [
        "SELECT pn, 2 * sn AS pos, code AS st, rec AS src FROM win",
        f"""SELECT k.pn, 2 * s.sn, {no_data}, s.owner FROM snap s JOIN known k ON k.first_sn < s.sn
            WHERE s.ph_start""",
    ]
    if gap_min:
        parts.append(
            f"""SELECT k.pn, 2 * s.sn - 1, {gap}, s.owner FROM snap s JOIN known k ON k.first_sn < s.sn
                WHERE s.gap_before AND s.prev_real"""
        )
    if m.mode == "snapshot":
        parts.append(
            f"""SELECT c.pn, 2 * c.sn, {absent}, s.owner
                FROM (SELECT pn, sn + 1 AS sn FROM win
                      UNION SELECT pn, sn + 1 FROM unobserved
                      UNION SELECT k.pn, s.sn FROM snap s JOIN known k ON k.first_sn < s.sn
                            WHERE s.real AND (NOT s.prev_real OR s.gap_before)) c
                JOIN snap s ON s.sn = c.sn AND s.real
                JOIN known k ON k.pn = c.pn AND k.first_sn < c.sn
                ANTI JOIN win w ON w.pn = c.pn AND w.sn = c.sn
                ANTI JOIN unobserved u ON u.pn = c.pn AND u.sn = c.sn"""
        )
    # states that read the same are one state; a gap and a placeholder are one stretch of no data
    canon: dict[tuple, int] = {}
    same = [canon.setdefault((s.status, s.error_code, s.vendor_error_code, s.info), i) for i, s in enumerate(states)]
    same[gap] = same[no_data]
    cases = " ".join(f"WHEN {i} THEN {k}" for i, k in enumerate(same) if i != k)
    key = f"CASE st {cases} ELSE st END" if cases else "st"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE starts AS
            SELECT pn, pos, st, src FROM (
                SELECT *, {key} IS DISTINCT FROM lag({key}) OVER (PARTITION BY pn ORDER BY pos) AS emit
                FROM ({" UNION ALL ".join(parts)}))
            WHERE emit"""
    )


def _events(con: duckdb.DuckDBPyConnection, m: StatusMapping, states: list[_State]) -> pa.Table:
    """The ``status_events`` rows: one per state change (``starts``)."""
    vals = ", ".join(
        f"({i}, {_lit(s.status)}, {_nl(s.error_code)}, {_nl(s.vendor_error_code)}, {_nl(s.info)})"
        for i, s in enumerate(states)
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE port_ref AS
           SELECT k.pn, k.port_id, r.charger_id, r.connector_id
           FROM known k JOIN (SELECT port_id, arg_max(charger_id, (ts, rec)) AS charger_id,
                                     arg_max(connector_id, (ts, rec)) AS connector_id
                              FROM g WHERE NOT placeholder GROUP BY 1) r USING (port_id)"""
    )
    return (
        con.sql(
            f"""SELECT r.charger_id, r.port_id, r.connector_id, s.ts AS observed_at, t.status, t.error_code,
                       t.vendor_error_code, t.info, {_lit(m.mode)} AS protocol, x.src AS source_record
                FROM starts x JOIN port_ref r USING (pn)
                JOIN (SELECT * FROM (VALUES {vals}) v(st, status, error_code, vendor_error_code, info)) t USING (st)
                JOIN (SELECT 2 * sn AS pos, ts FROM snap
                      UNION ALL SELECT 2 * sn - 1, prev_ts + to_microseconds({_gap_us(m)}) FROM snap
                      WHERE gap_before) s USING (pos)
                ORDER BY observed_at, r.charger_id, r.connector_id, r.port_id"""
        )
        .to_arrow_table()
        .cast(SCHEMAS["status_events"])
    )


def _gap_us(m: StatusMapping) -> int:
    return int(round(float(m.spec.get("max_gap_min", 0)) * 60e6))


def _nl(v: str | None) -> str:
    return "NULL" if v is None else _lit(v)


def _absorbed(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """``(source_record, owner_record)`` of the good lines that have no row of their own.

    A listed line belongs to the row that starts the run its port is in at that snapshot
    (the line repeats the port's state, or is overruled by a worse code listed for the port
    in the same snapshot); a placeholder line to the earliest of the rows that start the runs
    its stretch of placeholder snapshots is in (a placeholder before any port is known stores
    nothing); a placeholder line in a snapshot that also lists ports to that snapshot's first
    line (or where that line's content is).
    """
    con.execute("CREATE OR REPLACE TEMP TABLE has_rows AS SELECT DISTINCT src AS rec FROM starts")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE own_listed AS
           SELECT l.rec, s.src AS owner
           FROM listed l ASOF JOIN starts s ON s.pn = l.pn AND 2 * l.sn >= s.pos"""
    )
    # the stretch of placeholder snapshots each placeholder snapshot is in, by its first snapshot
    con.execute(
        """CREATE OR REPLACE TEMP TABLE ph_run AS
           SELECT sn, max(CASE WHEN ph_start THEN sn END) OVER (ORDER BY sn ROWS UNBOUNDED PRECEDING) AS first_sn
           FROM snap WHERE NOT real"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE ph_owner AS
           SELECT c.sn, min(s.src) AS owner
           FROM (SELECT k.pn, x.sn FROM snap x JOIN known k ON k.first_sn < x.sn WHERE x.ph_start) c
           ASOF JOIN starts s ON s.pn = c.pn AND 2 * c.sn >= s.pos
           GROUP BY c.sn"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE ab AS
           SELECT rec, owner FROM (
               SELECT rec, owner FROM own_listed
               UNION ALL
               SELECT l.rec, o.owner FROM gl l JOIN ph_run r USING (sn) JOIN ph_owner o ON o.sn = r.first_sn
               WHERE l.placeholder
               UNION ALL
               SELECT l.rec, CASE WHEN s.owner IN (SELECT rec FROM has_rows) THEN s.owner
                                  ELSE (SELECT owner FROM own_listed o WHERE o.rec = s.owner) END
               FROM gl l JOIN snap s USING (sn) WHERE l.placeholder AND s.real)
           WHERE rec NOT IN (SELECT rec FROM has_rows) AND owner IS NOT NULL AND rec <> owner"""
    )
    return (
        con.sql("SELECT rec AS source_record, owner AS owner_record FROM ab ORDER BY rec")
        .to_arrow_table()
        .cast(ABSORBED_SCHEMA)
    )


_PORT_FACTS = {"standard": "connector_standard", "power_type": "power_type", "rated_kw": "rated_kw"}


def _implied(con: duckdb.DuckDBPyConnection, m: StatusMapping, c: _Columns) -> dict[str, pa.Table]:
    """Sites, chargers and ports of the good lines, with the values of each one's latest line (time, then line).

    Only the columns the mapping states are given (an implied row fills a stored row's empty
    columns and never overwrites one).
    """
    spec = m.spec
    site = dict(spec.get("site", {}))
    # a coordinate that is not a finite number within its range is left empty (it is implied data)
    bound = {"latitude": 90, "longitude": 180}
    items = "".join(
        f", CASE WHEN abs(TRY_CAST({c.value(str(v))} AS DOUBLE)) <= {bound[k]} THEN TRY_CAST({c.value(str(v))} AS DOUBLE) END AS {k}"
        if k in bound
        else f", {c.value(str(v))} AS {k}"
        for k, v in site.items()
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE latest AS
            SELECT l.rec, l.ts, l.site_id, l.charger_id, l.port_id, l.connector_id{items}
            FROM (SELECT arg_max(rec, (ts, rec)) AS rec FROM g WHERE NOT placeholder GROUP BY port_id
                  UNION SELECT arg_max(rec, (ts, rec)) FROM g WHERE NOT placeholder GROUP BY charger_id
                  UNION SELECT arg_max(rec, (ts, rec)) FROM g WHERE NOT placeholder GROUP BY site_id) x
            JOIN g l USING (rec) JOIN src USING (rec)"""
    )
    conns = spec.get("connectors", {})

    def facts(key: str, cast: str) -> str:
        whens = " ".join(f"WHEN {v['id']} THEN {_lit(v[key])}" for v in conns.values() if key in v)
        return f", CAST(CASE connector_id {whens} END AS {cast}) AS {_PORT_FACTS[key]}" if whens else ""

    def last(table: str, key: str, cols: str) -> pa.Table:
        tbl = con.sql(
            f"""SELECT {key}, {cols}, rec AS source_record FROM latest WHERE {key} IS NOT NULL
                QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY ts DESC, rec DESC) = 1
                ORDER BY {key}"""
        ).to_arrow_table()
        schema = SCHEMAS[table]
        return tbl.cast(pa.schema([schema.field(n) for n in tbl.column_names]))

    site_cols = ", ".join([*site, f"{_lit(spec['time']['zone'])} AS time_zone"])
    port_cols = "site_id, charger_id, connector_id" + "".join(
        facts(k, t) for k, t in (("standard", "VARCHAR"), ("power_type", "VARCHAR"), ("rated_kw", "DOUBLE"))
    )
    return {
        "sites": last("sites", "site_id", site_cols),
        "chargers": last("chargers", "charger_id", "site_id"),
        "ports": last("ports", "port_id", port_cols),
    }
