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

import gzip
import io
import re
from pathlib import Path

import duckdb
import pyarrow as pa

from evrevops.formats import limits
from evrevops.formats.base import Batch, FormatError, quarantine_table
from evrevops.formats.records import connect
from evrevops.formats.status_mapping import (
    StatusColumns,
    StatusMapping,
    lit,
    load_status_mapping,
    match_status_mapping,
)
from evrevops.formats.status_rows import SCHEMAS, absorbed, build_timeline, events, port_states

MAX_ID_CHARS = 255  # a charger, port or site id longer than this is refused


def _list(words: list[str]) -> str:
    """``a, b or c``."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


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
        return f"string_split(j, {lit(delim)})"
    q, d = re.escape(quote), re.escape(delim)
    # a field: quoted (a quote doubled inside), or anything up to the next delimiter
    pat = f"(?:^|{d})({q}(?:[^{q}]|{q}{q})*{q}|[^{d}]*)"
    unq = (
        f"CASE WHEN length(x) >= 2 AND prefix(x, {lit(quote)}) AND suffix(x, {lit(quote)}) "
        f"THEN replace(x[2:-2], {lit(quote * 2)}, {lit(quote)}) ELSE x END"
    )
    return f"list_transform(regexp_extract_all(j, {lit(pat)}, 1), lambda x: {unq})"


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
                                          encoding={lit(enc)}{comp}))
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
        c = StatusColumns(m, names, path)
        states, absent, no_data, gap = port_states(m)
        _parse(con, m, c, len(names), path)
        qrows = _quarantine(con, m, c, len(names), lim)
        build_timeline(con, m, states, absent, no_data, gap)
        status_events = events(con, m, states)
        absorbed_lines = absorbed(con)
        implied = _implied(con, m, c)
    finally:
        con.close()
    return Batch(
        format="status-snapshots",
        records_read=n,
        tables={"status_events": status_events},
        implied=implied,
        absorbed=absorbed_lines,
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


def _parse(con: duckdb.DuckDBPyConnection, m: StatusMapping, c: StatusColumns, n_cols: int, path: Path) -> None:
    """Tables ``p`` (every line's fields, parsed) and ``times`` (each distinct date-time text, local and UTC)."""
    spec = m.spec
    ids = spec["ids"]
    zone = spec["time"]["zone"]
    if not con.execute("SELECT count(*) FROM pg_timezone_names() WHERE name = ?", [zone]).fetchall()[0][0]:
        raise FormatError(path, f"status mapping {m.name!r}: unknown time zone {zone!r}")
    placeholder = spec.get("placeholder", {})
    ph = " AND ".join(f"coalesce({c.col(k)} = {lit(v)}, false)" for k, v in placeholder.items()) or "false"
    codes = " ".join(f"WHEN {lit(x['code'])} THEN {i}" for i, x in enumerate(m.codes))
    if "unlisted" in spec["status"]:  # named leniency: codes the mapping does not list take this status
        codes += f" ELSE CASE WHEN {c.value(spec['status']['value'])} IS NOT NULL THEN {len(m.codes) + 3} END"
    conns = spec.get("connectors", {})
    conn_text = c.value(ids["connector"]) if "connector" in ids else "NULL::VARCHAR"
    if conns:
        whens = " ".join(f"WHEN {lit(k)} THEN {int(v['id'])}" for k, v in conns.items())
        conn_id = f"(CASE {conn_text} {whens} END)"
    elif "connector" in ids:
        conn_id = f"TRY_CAST({conn_text} AS INTEGER)"
    else:
        conn_id = "NULL::INTEGER"
    unident = [str(x) for x in ids.get("unidentified", [])]
    charger = c.value(ids["charger"])
    unident_sql = f"coalesce({charger} IN ({', '.join(map(lit, unident))}), false)" if unident else "false"
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
    fl = "[" + ", ".join(lit(f) for f in _formats(m)) + "]"
    # each distinct date-time once: a month of 5-minute polls has 10,000 of them for a million lines
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE times AS
            SELECT time_text, local, timezone('UTC', timezone({lit(zone)}, local)) AS ts
            FROM (SELECT time_text, try_strptime(time_text, {fl}) AS local
                  FROM (SELECT DISTINCT time_text FROM p WHERE time_text IS NOT NULL))"""
    )


def _formats(m: StatusMapping) -> list[str]:
    return [str(f) for f in m.spec["time"].get("formats", ["%Y-%m-%d %H:%M:%S"])]


def _quarantine(
    con: duckdb.DuckDBPyConnection, m: StatusMapping, c: StatusColumns, n_cols: int, lim: limits.Limits
) -> list[tuple[int, str | None, str, str | None]]:
    """Table ``q(rec, field, reason, ord)`` and ``g`` (the good lines); returns the quarantine rows with raw lines.

    A line is checked in order (:func:`_checks`); ``pt`` is ``p`` with each line's local and UTC time.
    """
    checks = _checks(m, c, n_cols, lim)
    any_bad = " OR ".join(f"coalesce(({cond}), false)" for cond, _, _ in checks)
    items = ", ".join(
        f"CASE WHEN coalesce(({cond}), false) THEN {{'field': {'NULL' if fld is None else lit(fld)}, "
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


def _checks(m: StatusMapping, c: StatusColumns, n_cols: int, lim: limits.Limits) -> list[tuple[str, str | None, str]]:
    """``(condition, field, reason SQL)`` over ``pt`` of every way a line is quarantined, in order.

    Its number of fields; then (placeholders too) its date-time and whether it lies in the time
    window of *lim*; then (not placeholders) the charger id (an ``unidentified`` one, or empty),
    port id, connector and status code, and the length of the ids.
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
            f"{lit(charger_f + ' ')} || {qv('charger_id')} || ' does not identify one charge point"
            " (unnamed points share it): its port cannot be told apart'",
        ),
        (f"{real} AND charger_id IS NULL", charger_f, lit(f"missing value for the charger id ({ids['charger']})")),
        (
            f"{real} AND NOT unidentified AND charger_id IS NOT NULL AND port_id IS NULL",
            c.field(ids["port"]),
            lit(f"missing value for the port id ({ids['port']})"),
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
    return checks


_PORT_FACTS = {"standard": "connector_standard", "power_type": "power_type", "rated_kw": "rated_kw"}


def _implied(con: duckdb.DuckDBPyConnection, m: StatusMapping, c: StatusColumns) -> dict[str, pa.Table]:
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
        whens = " ".join(f"WHEN {v['id']} THEN {lit(v[key])}" for v in conns.values() if key in v)
        return f", CAST(CASE connector_id {whens} END AS {cast}) AS {_PORT_FACTS[key]}" if whens else ""

    def last(table: str, key: str, cols: str) -> pa.Table:
        tbl = con.sql(
            f"""SELECT {key}, {cols}, rec AS source_record FROM latest WHERE {key} IS NOT NULL
                QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY ts DESC, rec DESC) = 1
                ORDER BY {key}"""
        ).to_arrow_table()
        schema = SCHEMAS[table]
        return tbl.cast(pa.schema([schema.field(n) for n in tbl.column_names]))

    site_cols = ", ".join([*site, f"{lit(spec['time']['zone'])} AS time_zone"])
    port_cols = "site_id, charger_id, connector_id" + "".join(
        facts(k, t) for k, t in (("standard", "VARCHAR"), ("power_type", "VARCHAR"), ("rated_kw", "DOUBLE"))
    )
    return {
        "sites": last("sites", "site_id", site_cols),
        "chargers": last("chargers", "charger_id", "site_id"),
        "ports": last("ports", "port_id", port_cols),
    }
