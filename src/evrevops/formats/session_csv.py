"""Session exports read through declarative column mappings (``session-csv``, ``acn-json``).

A mapping (:mod:`evrevops.formats.session_mapping`, documented in ``docs/formats.md``,
"Session CSV exports") says how one export's columns become evrevops ``sessions`` rows;
:mod:`evrevops.formats.session_compile` turns it into DuckDB SQL and this module runs that SQL
over the whole file in bulk (no per-row Python), in stages of temporary tables:

1. ``parsed``: every field read from text (``src`` is the file, one row a record);
2. ``local_times``: the local wall times, after a named repair
   (:mod:`evrevops.formats.session_repairs`) when the mapping has one;
3. ``resolved``: UTC instants, durations, ids and money;
4. the quarantine: every check of :mod:`evrevops.formats.session_checks` a record fails,
   and ``accepted``, the records that pass;
5. the ``sessions`` rows and the implied sites, chargers and ports.

Quantities follow handbook §3 and the OCPI CDR conventions of
``docs/formats.md``: ``plugged_in_s`` is plug-in to plug-out, ``charging_s``
the part of it with energy flowing, ``idle_s = plugged_in_s − charging_s``,
and charging is assumed to come first
(``charging_ended_at = started_at + charging_s``) unless the export states
when charging ended (ACN-Data ``doneChargingTime``).

A record is line N of the file counting the header as line 1 (the N−1th data
row; the same as the physical line unless a quoted field spans lines). For
JSON, record N is the Nth element of the items array.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa

from evrevops.formats import limits
from evrevops.formats.base import Batch, FormatError, quarantine_table
from evrevops.formats.csv_engine import utf8_copy
from evrevops.formats.csv_records import load_csv
from evrevops.formats.ocpp import json_depth_sql
from evrevops.formats.records import connect, json_records, quarantine_from_checks
from evrevops.formats.session_checks import checks
from evrevops.formats.session_compile import (
    CompiledMapping,
    Compiler,
    DurationSql,
    compile_mapping,
    duration_sql,
    field_names,
    json_path,
    lit,
)
from evrevops.formats.session_mapping import Mapping, load_mapping, normalise
from evrevops.formats.session_repairs import REPAIRS

REPLACEMENT = "\ufffd"  # what a byte that is not UTF-8 becomes when the file is transcoded


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _header(path: Path, encoding: str, delim: str) -> list[str]:
    """The CSV header's field names (a UTF-8 byte-order mark is dropped)."""
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115 (closed below)
    with io.TextIOWrapper(raw, encoding=enc, errors="replace", newline="") as f:
        return next(csv.reader(f, delimiter=delim), [])


def _load_csv(
    con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping
) -> tuple[int, dict[str, str], list[tuple[int, str | None, str, str | None]]]:
    """Load the CSV into ``src(rec, c0, c1, ...)`` and the view ``raw(rec, j)``.

    Rows whose number of fields differs from the header's are not loaded but
    returned for quarantine (DuckDB ``store_rejects``). ``rec`` is the
    record's line number (header = line 1, blank lines counted): physical lines
    are read in a second light pass and matched to rows in order, which is exact
    unless a quoted field spans lines; then records are numbered consecutively.

    Returns (records read, normalised header name → column, malformed rows).
    """
    opts = mapping.spec.get("csv", {})
    delim = str(opts.get("delimiter", ","))
    enc = str(opts.get("encoding", "utf-8"))
    header = _header(path, enc, delim)
    if not header:
        raise FormatError(path, "empty file: no CSV header", record=1)
    n, bad = load_csv(con, path, header, delim, enc)
    columns: dict[str, str] = {}
    for i, name in enumerate(header):
        if name.strip():
            columns.setdefault(normalise(name), f"c{i}")
    return n, columns, bad


def _json_consts(con: duckdb.DuckDBPyConnection, path: Path, meta_key: str | None) -> dict[str, str | None]:
    """Scalar fields of the envelope's metadata object, as ``{'_meta.site': 'caltech'}``."""
    if not meta_key:
        return {}
    try:
        rows = con.execute(
            f"""SELECT json_extract(json, '$.{meta_key}')::VARCHAR
                FROM read_json_objects('{_sql_path(path)}', format='unstructured', maximum_object_size=1073741824)"""
        ).fetchall()
    except duckdb.Error:
        return {}
    try:
        meta = json.loads(rows[0][0]) if rows and rows[0][0] else {}
    except (ValueError, RecursionError):  # metadata too deep for Python: the records do without it
        return {}
    if not isinstance(meta, dict):
        return {}
    return {
        f"{meta_key}.{k}": (None if v is None else str(v)) for k, v in meta.items() if not isinstance(v, (dict, list))
    }


def _read(path: Path, mapping: Mapping, fmt: str) -> Batch:
    con = connect()
    try:
        with tempfile.TemporaryDirectory(prefix="evrevops-utf8-") as tmp:
            return _read_in(con, path, mapping, fmt, Path(tmp))
    finally:
        con.close()


def _open_source(
    con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping, tmp: Path
) -> tuple[int, list[tuple[int, str | None, str, str | None]], Compiler, bool]:
    """Load the file into ``raw`` (and, for CSV, ``src``) and make the compiler for its columns.

    Returns (records read, malformed records, compiler, whether the file was read as a UTF-8
    copy with the bytes that are not UTF-8 replaced).
    """
    spec = mapping.spec
    utf8 = str(spec.get("csv", {}).get("encoding", "utf-8")).lower().replace("_", "-") in ("utf-8", "utf8")
    # bytes that are not UTF-8 would make DuckDB refuse the whole file: read a copy with them
    # replaced instead, and quarantine the records that had them (see _quarantine)
    fixed = utf8_copy(path, tmp) if utf8 or mapping.kind == "json" else None
    path_read = fixed or path
    try:
        if mapping.kind == "json":
            src_opts = spec.get("source", {})
            key = src_opts.get("records", "_items")
            n, bad = json_records(con, path_read, envelope_keys=(key, "data", "items"))
            consts = _json_consts(con, path_read, src_opts.get("meta"))
        else:
            n, columns, bad = _load_csv(con, path_read, mapping)
    except FormatError as exc:  # name the file read, not the copy
        if fixed is None:
            raise
        where = len(exc.path) + len(f", record {exc.record}" if exc.record is not None else "")
        where += len(f", field {exc.field!r}" if exc.field else "") + 2
        raise FormatError(path, str(exc)[where:], exc.record, exc.field) from None
    if mapping.kind == "json":
        c = Compiler(mapping, path, {}, {"$mapping": mapping.name, **consts}, is_json=True)
    else:
        missing = [col for col in mapping.detect_columns if normalise(col) not in columns]
        if missing:
            raise FormatError(path, f"header lacks columns {missing} of mapping {mapping.name!r}", record=1)
        c = Compiler(mapping, path, columns, {"$mapping": mapping.name}, is_json=False)
    return n, bad, c, fixed is not None


def _read_in(con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping, fmt: str, tmp: Path) -> Batch:
    spec = mapping.spec
    lim = limits.current()
    con.execute("CREATE TEMP TABLE _tz AS SELECT name FROM pg_timezone_names()")
    n, bad, c, transcoded = _open_source(con, path, mapping, tmp)
    tol = float(spec.get("checks", {}).get("duration_tolerance_s", 120))
    # compiled before the source table is built, so that the JSON fields the mapping uses are all known
    compiled = compile_mapping(c, spec)
    _parse(con, c, compiled, bad, has_end=bool(spec.get("end")))
    repair_info = _local_times(con, path, spec, lim)
    clamp = float(spec.get("charging", {}).get("clamp_to_end_s", 0))
    durations = duration_sql(spec, clamp, lim)
    _resolve(con, spec, compiled, durations, lim)
    checks_sql = checks(
        spec,
        tol=tol,
        clamp=clamp,
        span=durations.span,
        zone_sql=compiled.zone,
        offsets=compiled.offsets,
        repair_info=repair_info,
        field_names=field_names(spec),
        lim=lim,
    )
    qrows = _quarantine(con, checks_sql, is_json=c.json, transcoded=transcoded, lim=lim)
    prefix = lit(mapping.name + ":")
    sessions = _sessions(con, mapping.name, prefix, compiled.session_extra, has_money=bool(spec.get("money")))
    implied = _implied(con, prefix, compiled.site, compiled.port, compiled.charger)
    return Batch(
        format=fmt,
        records_read=n,
        tables={"sessions": sessions},
        implied=implied,
        quarantine=quarantine_table(bad + qrows),
        mapping=mapping.name,
    )


def _parse(
    con: duckdb.DuckDBPyConnection,
    c: Compiler,
    compiled: CompiledMapping,
    bad: list[tuple[int, str | None, str, str | None]],
    *,
    has_end: bool,
) -> None:
    """Stage 1: ``parsed``, every field of every record read from text (JSON: ``src`` first)."""
    if c.json:
        cols = ", ".join(
            f"json_extract_string(j, {lit('$.' + json_path(f))}) AS {col}" for f, col in c.json_fields.items()
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE src AS
                SELECT rec{", " + cols if cols else ""} FROM raw
                WHERE rec NOT IN (SELECT UNNEST(?::BIGINT[]))""",
            [[b[0] for b in bad]],
        )
    sel = ",\n".join(f"{v} AS {k}" for k, v in compiled.fields.items())
    no_end = "" if has_end else ", NULL::VARCHAR AS _end_text, NULL::TIMESTAMP AS _end_a, NULL::TIMESTAMP AS _end_b"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE parsed AS
            SELECT *, ({compiled.rejected}) AS _rejected{no_end} FROM (SELECT *, {sel} FROM src)"""
    )


def _local_times(con: duckdb.DuckDBPyConnection, path: Path, spec: dict, lim: limits.Limits) -> dict[str, str]:
    """Stage 2: ``local_times``, the local wall times (repaired when the mapping names a repair).

    Returns what the repair tells the reasons (``{"window": ...}``), else nothing.
    """
    repair = spec["start"].get("repair")
    if repair:
        return REPAIRS[repair](con, path, dict(spec.get("repair", {}).get(repair, {})), lim)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE local_times AS
           SELECT *, _start_a AS _start_local, _end_a AS _end_local, false AS _start_repaired FROM parsed"""
    )
    return {}


def _resolve(
    con: duckdb.DuckDBPyConnection,
    spec: dict,
    compiled: CompiledMapping,
    durations: DurationSql,
    lim: limits.Limits,
) -> None:
    """Stage 3: ``resolved``, with UTC instants, durations [s], ids and the amount [minor units].

    An instant outside the time window is kept as ``_*_raw`` (for its reason) and is NULL in
    everything computed from it, so no arithmetic on a year-9999 or 1970 instant can overflow.
    """
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW instants_raw AS
            SELECT *, {compiled.start_utc} AS _started_raw,
                   {compiled.end_utc or "NULL::TIMESTAMP"} AS _end_raw,
                   {compiled.charging_end_utc or "NULL::TIMESTAMP"} AS _chend_raw
            FROM local_times"""
    )
    in_window = {
        k: f"CASE WHEN NOT {lim.window_sql(k)} THEN {k} END" for k in ("_started_raw", "_end_raw", "_chend_raw")
    }
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW instants AS
            SELECT *, {in_window["_started_raw"]} AS _started_at, {in_window["_end_raw"]} AS _end_at,
                   {in_window["_chend_raw"]} AS _chend_at
            FROM instants_raw"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW with_plugged_in AS
            SELECT *, ({durations.plugged_in_s})::DOUBLE AS _plugged_s FROM instants"""
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW with_plug_out AS SELECT *, {durations.ended_at} AS _ended_at FROM with_plugged_in"
    )
    money_sql = ""
    if spec.get(
        "money"
    ):  # minor units only of an amount under the money limit (a larger one would overflow; refused later)
        amount = "TRY_CAST(_amount_text AS DECIMAL(38, 9))"
        money_sql = (
            f", CASE WHEN {amount} IS NOT NULL AND NOT {lim.money_sql(amount)} "
            "THEN to_minor(_amount_text, _currency) END AS _total_cost_minor"
        )
    refs = compiled.refs
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE resolved AS
            SELECT *, ({durations.charging_s})::DOUBLE AS _charging_s,
                   {compiled.session_key} AS _session_key,
                   {refs["site_id"]} AS _site_id, {refs["port_id"]} AS _port_id,
                   {refs["charger_id"]} AS _charger_id, {refs["connector_id"]} AS _connector_id
                   {money_sql}
            FROM with_plug_out"""
    )


def _quarantine(
    con: duckdb.DuckDBPyConnection,
    checks_sql: list[tuple[str, str, str]],
    *,
    is_json: bool,
    transcoded: bool,
    lim: limits.Limits,
) -> list[tuple]:
    """Stage 4: the quarantined records ``(rec, field, reason, raw)`` and ``accepted``, the others.

    Besides the checks: JSON records with a key given twice (DuckDB would read one of them
    silently) or nested deeper than the limit, and records that held bytes that are not UTF-8.
    """
    q = quarantine_from_checks(con, "resolved", checks_sql)
    if is_json:  # JSON records with a key given twice (DuckDB would read one of them silently)
        con.execute(
            f"""INSERT INTO {q}
                SELECT rec, k[1], 'duplicated key ' || chr(39) || k[1] || chr(39), j
                FROM (SELECT rec, j, list_filter(ks, lambda x, i: list_position(ks, x) < i) AS k
                      FROM (SELECT rec, j, json_keys(j) AS ks FROM raw WHERE json_valid(j) AND json_type(j) = 'OBJECT'))
                WHERE len(k) > 0"""
        )
    if is_json:  # JSON records nested deeper than the limit
        con.execute(
            f"""INSERT INTO {q}
                SELECT d.rec, NULL, 'JSON nested ' || d.depth || ' levels deep (more than the limit of '
                       || {lim.max_json_depth} || '; see Limits.max_json_depth)', r.j
                FROM ({json_depth_sql("raw", str(lim.max_json_depth))}) d JOIN raw r USING (rec)"""
        )
    if transcoded:  # the records that held bytes that are not UTF-8 (the header is no record)
        con.execute(
            f"""INSERT INTO {q} SELECT rec, NULL, 'not valid UTF-8 (bytes replaced by U+FFFD)', j FROM raw
                WHERE contains(j, '{REPLACEMENT}') AND {"true" if is_json else "rec > 1"}"""
        )
    qrows = con.execute(f"SELECT rec, field, reason, raw FROM {q} ORDER BY rec, field").fetchall()
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE accepted AS SELECT * FROM resolved WHERE rec NOT IN (SELECT rec FROM {q})"
    )
    return qrows


def _sessions(
    con: duckdb.DuckDBPyConnection, name: str, prefix: str, session_extra: dict[str, str], *, has_money: bool
) -> pa.Table:
    """Stage 5: the ``sessions`` rows of the accepted records (ids prefixed *prefix*, a SQL literal)."""
    extra = "".join(f", {v} AS {k}" for k, v in session_extra.items())
    money_cols = (
        ", CASE WHEN _total_cost_minor IS NOT NULL THEN _currency END AS currency,"
        " _total_cost_minor AS total_cost_minor"
        if has_money
        else ""
    )
    return con.sql(
        f"""SELECT {prefix} || _session_key AS session_id,
               {lit(name)} AS source,
               {prefix} || _site_id AS site_id,
               {prefix} || _port_id AS port_id,
               {prefix} || _charger_id AS charger_id,
               _connector_id AS connector_id,
               _started_at AS started_at,
               _ended_at AS ended_at,
               _started_at + to_microseconds(CAST(round(_charging_s * 1e6) AS BIGINT)) AS charging_ended_at,
               _energy_kwh AS energy_kwh,
               _plugged_s AS plugged_in_s,
               _charging_s AS charging_s,
               _plugged_s - _charging_s AS idle_s
               {money_cols}{extra},
               rec AS source_record
            FROM accepted ORDER BY rec"""
    ).to_arrow_table()


def _implied(
    con: duckdb.DuckDBPyConnection,
    prefix: str,
    site_sql: dict[str, str],
    port_sql: dict[str, str],
    charger_sql: dict[str, str],
) -> dict[str, pa.Table]:
    """Sites, chargers and ports implied by the accepted sessions (latest session's values win).

    A coordinate or rated power that is not a finite number in its range (latitude ±90,
    longitude ±180, rated power above 0 and at most the power limit) is left empty: these rows
    are implied, so a bad value costs the value, not the session.
    """
    lim = limits.current()
    bounds = {
        "latitude": "abs({}) <= 90",
        "longitude": "abs({}) <= 180",
        "rated_kw": f"{{}} > 0 AND {{}} <= {lim.max_power_kw!r}",
    }

    def latest(expr: str, cast: str | None = None, name: str = "") -> str:
        e = f"TRY_CAST({expr} AS {cast})" if cast else expr
        if name in bounds:
            e = f"CASE WHEN {bounds[name].format(e, e)} THEN {e} END"
        return f"arg_max({e}, _started_at) FILTER (WHERE {e} IS NOT NULL)"

    site_cols = {
        "name": None,
        "time_zone": None,
        "address": None,
        "city": None,
        "state": None,
        "postal_code": None,
        "country": None,
        "latitude": "DOUBLE",
        "longitude": "DOUBLE",
    }
    unknown = set(site_sql) - set(site_cols)
    if unknown:
        raise ValueError(f"[site] keys {sorted(unknown)} are not sites columns")
    sel = "".join(f", {latest(site_sql[k], t, k)} AS {k}" for k, t in site_cols.items() if k in site_sql)
    sites = con.sql(
        f"""SELECT {prefix} || _site_id AS site_id{sel}, min(rec) AS source_record
            FROM accepted GROUP BY _site_id ORDER BY 1"""
    ).to_arrow_table()
    port_cols = {"evse_id": None, "power_type": None, "connector_standard": None, "rated_kw": "DOUBLE"}
    unknown = set(port_sql) - set(port_cols)
    if unknown:
        raise ValueError(f"[port] keys {sorted(unknown)} are not ports columns")
    sel = "".join(f", {latest(port_sql[k], t, k)} AS {k}" for k, t in port_cols.items() if k in port_sql)
    ports = con.sql(
        f"""SELECT {prefix} || _port_id AS port_id,
                   {prefix} || arg_max(_site_id, _started_at) AS site_id,
                   {prefix} || arg_max(_charger_id, _started_at) FILTER (WHERE _charger_id IS NOT NULL) AS charger_id,
                   {latest("_connector_id", "INTEGER")} AS connector_id{sel},
                   min(rec) AS source_record
            FROM accepted GROUP BY _port_id ORDER BY 1"""
    ).to_arrow_table()
    out = {"sites": sites, "ports": ports}
    charger_cols = {"vendor": None, "model": None}
    unknown = set(charger_sql) - set(charger_cols)
    if unknown:
        raise ValueError(f"[charger] keys {sorted(unknown)} are not chargers columns")
    if con.execute("SELECT count(*) FROM accepted WHERE _charger_id IS NOT NULL").fetchall()[0][0]:
        sel = "".join(f", {latest(charger_sql[k])} AS {k}" for k in charger_cols if k in charger_sql)
        out["chargers"] = con.sql(
            f"""SELECT {prefix} || _charger_id AS charger_id,
                       {prefix} || arg_max(_site_id, _started_at) AS site_id{sel},
                       min(rec) AS source_record
                FROM accepted WHERE _charger_id IS NOT NULL GROUP BY _charger_id ORDER BY 1"""
        ).to_arrow_table()
    return out


def read_sessions(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a session CSV export through a column mapping.

    Parameters
    ----------
    path : str or Path
        The CSV file (``.gz`` accepted).
    mapping : str, optional
        Mapping name (``formats/mappings/<name>.toml``); recognised from the
        header with :func:`match_mapping` when omitted.

    Returns
    -------
    Batch
        ``sessions`` rows (ids prefixed ``<mapping>:``, ``source`` = mapping),
        implied ``sites``, ``chargers`` and ``ports``, and quarantined records
        with reasons; ``records_read`` is the number of data rows. Exports carry
        no version, so ``last_updated_at`` is not provided (stored NULL): the
        loader then treats a session seen again in another export as a
        duplicate when identical and as a replacement when it differs.
    """
    path = Path(path)
    if mapping is None:
        from evrevops.formats import detect

        fmt, mapping = detect(path)
        if fmt != "session-csv" or mapping is None:
            raise FormatError(path, f"not a session CSV export (looks like {fmt}); pass a mapping")
    m = load_mapping(mapping)
    if m.kind != "csv":
        raise FormatError(path, f"mapping {mapping!r} reads {m.kind.upper()}, not CSV")
    return _read(path, m, "session-csv")


def read_acn(path: str | Path, mapping: str | None = None) -> Batch:
    """Read Caltech ACN-Data API sessions (``{"_meta": ..., "_items": [...]}``) via the ``acn`` mapping."""
    path = Path(path)
    m = load_mapping(mapping or "acn")
    if m.kind != "json":
        raise FormatError(path, f"mapping {m.name!r} reads CSV, not ACN-Data JSON")
    return _read(path, m, "acn-json")
