"""CRM opportunity exports (Salesforce, HubSpot) read through a declarative mapping.

A mapping (``formats/mappings/crm/*.toml``; docs/formats.md, "CRM exports") says which
export it reads (``[detect]``: header columns that must all be there), which table it fills
(``target``: ``deals`` or ``deal_stage_history``), and how:

* ``[columns]``: evrevops column = the export's column (a missing optional column is skipped;
  a missing required one refuses the file, naming it);
* ``[values.<column>]``: the CRM's values of an enumeration (stages, segments, revenue models)
  to evrevops' (case-insensitive); a value without an entry is quarantined, naming the mapping;
* ``[dates] formats``: the export's date formats, tried in order; an amount loses currency
  signs, thousands separators and spaces (``$1,234.50``), a percentage its ``%``;
* ``[defaults]``: a value for a column the export leaves empty or lacks (``currency``);
* ``[scale]``: a factor for a number (HubSpot's deal probability is a fraction: × 100);
* ``[closed_on] from``: the column a closed deal's close date is read from (in both CRMs the
  close date of a closed deal is the day it closed);
* ``[history]``: evrevops stage = the export's "date entered" columns, for CRMs that export
  stage history as columns of the deal (HubSpot): each filled one is a stage-history row.

The mapped rows then go through the same checks as evrevops' own deals and stage-history CSVs,
and every quarantined record names the export's column.
"""

from __future__ import annotations

import csv
import io
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evrevops.core.sqltext import sql_identifier
from evrevops.formats import limits
from evrevops.formats.base import Batch, FormatError, quarantine_table
from evrevops.formats.csv_engine import REPLACEMENT, CsvSpec, read_table, utf8_copy
from evrevops.formats.csv_records import load_csv
from evrevops.formats.mapping_files import shipped_file, shipped_names
from evrevops.formats.records import connect
from evrevops.formats.tables_csv import DEAL_STAGES_SPEC, DEALS

FOLDER = Path(__file__).parent / "mappings" / "crm"
TARGETS: dict[str, CsvSpec] = {"deals": DEALS, "deal_stage_history": DEAL_STAGES_SPEC}
CLOSED = ("closed_won", "closed_lost")


def crm_mappings() -> list[tuple[str, str]]:
    """``(name, description)`` of every shipped CRM mapping."""
    return [(p.stem, str(_load(p).get("description", ""))) for p in sorted(FOLDER.glob("*.toml"))]


def crm_mapping_names() -> list[str]:
    """Names of the shipped CRM mappings (file stems in ``formats/mappings/crm``)."""
    return shipped_names(FOLDER)


def _load(path: Path) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def load_mapping(name: str) -> dict:
    """The shipped CRM mapping called *name*.

    Only the stems of the TOML files in ``formats/mappings/crm`` are names: a name with ``/``,
    ``\\`` or ``..`` (or a path) is refused like any unknown one, so ``--mapping`` never reads a
    file outside the shipped folder.

    Raises
    ------
    ValueError
        ``unknown CRM mapping 'x'; known: ...``, or a mapping without a valid ``target``.
    """
    spec = _load(shipped_file(FOLDER, name, "CRM"))
    if spec.get("target") not in TARGETS:
        raise ValueError(f"CRM mapping {name!r}: target must be one of {', '.join(TARGETS)}")
    return spec


def match_crm_mapping(header: list[str]) -> str | None:
    """The CRM mapping whose ``[detect]`` columns the header has (the one with most such columns)."""
    cols = {h.strip() for h in header}
    hits = []
    for name, _ in crm_mappings():
        need = set(_load(FOLDER / f"{name}.toml").get("detect", {}).get("columns", []))
        if need and need <= cols:
            hits.append((len(need), name))
    return max(hits)[1] if hits else None


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _date_sql(expr: str, formats: list[str]) -> str:
    """ISO text of the first format that parses *expr*; the text itself when none does (then quarantined)."""
    tries = ", ".join(f"strftime(try_strptime({expr}, {_lit(f)}), '%Y-%m-%d')" for f in formats)
    return f"coalesce({tries}, {expr})" if formats else expr


def _clean_sql(col, source: str, spec: dict) -> str:
    """SQL turning the export's text *source* column into the text evrevops' reader expects for *col*."""
    v = f"nullif(trim({sql_identifier(source)}), '')"
    if col.kind == "money":
        # currency signs, an ISO code before or after (``USD 1,234.50``), thousands separators and spaces go; anything
        # else stays, so that text that is no amount ('1e30', 'NaN', '(12.00)') is quarantined, not misread
        v = f"nullif(regexp_replace({v}, '^[A-Z]{{3}}\\s+|\\s+[A-Z]{{3}}$|[$€£¥,\\s]', '', 'g'), '')"
    elif col.kind in ("float", "int", "decimal"):
        v = f"nullif(regexp_replace({v}, '[%,\\s]', '', 'g'), '')"
    elif col.kind == "date":
        v = _date_sql(v, spec.get("dates", {}).get("formats", []))
    scale = spec.get("scale", {}).get(col.name)
    if scale is not None:
        v = f"CAST(TRY_CAST({v} AS DOUBLE) * {float(scale)!r} AS VARCHAR)"
    values = spec.get("values", {}).get(col.name)
    if values:
        cases = " ".join(f"WHEN {_lit(k.lower())} THEN {_lit(val)}" for k, val in values.items())
        v = f"CASE lower({v}) {cases} ELSE {v} END"
    return v


def _header(path: Path) -> tuple[list[str], str]:
    """The export's header fields and delimiter (``,``, ``;`` or a tab: the most frequent on the first line)."""
    with open(path, "rb") as f:
        first = io.TextIOWrapper(f, encoding="utf-8-sig", errors="replace", newline="").readline()
    delim = max((",", ";", "\t"), key=lambda d: (first.count(d), d == ","))
    return next(csv.reader([first], delimiter=delim), []), delim


def read_crm(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a CRM export through its mapping (detected from the header when *mapping* is None).

    The rows are mapped to evrevops' own columns in SQL, written to a CSV of evrevops' own
    format and read by :func:`~evrevops.formats.csv_engine.read_table`, so every check of the
    deals / stage-history CSVs (and the limits in force) applies; quarantine rows then name the
    export's line and column. A row whose number of fields differs from the header's, or that
    held bytes that are not UTF-8, is quarantined; stage-history dates (``[history]``) must lie
    in the time window.

    Returns
    -------
    Batch
        ``deals`` (and ``deal_stage_history`` for a mapping with ``[history]``), or
        ``deal_stage_history`` alone for a history export; ``records_read`` counts the export's
        rows.

    Raises
    ------
    FormatError
        No header, no mapping matching it, a required column missing, or a file that is not CSV.
    ValueError
        An unknown mapping name.
    """
    path = Path(path)
    lim = limits.current()
    con = connect()
    try:
        with tempfile.TemporaryDirectory(prefix="evrevops-crm-") as tmp:
            fixed = utf8_copy(path, Path(tmp))
            m = _map_export(con, path, fixed or path, Path(tmp), mapping)
        q = _export_quarantine(con, m, transcoded=fixed is not None)
        tables = {}
        for t, tbl in m.batch.tables.items():
            sr = tbl.column("source_record").to_numpy()
            tables[t] = tbl.set_column(
                tbl.schema.get_field_index("source_record"), "source_record", pa.array(m.recs[sr - 2], pa.int64())
            )
        if m.spec.get("history") and m.spec["target"] == "deals":
            hist, hq = _history(con, m.spec, m.present, m.columns, lim)
            tables["deal_stage_history"] = hist
            q += hq
        # a record quarantined for any reason has no rows in any table (a deal and its history go together)
        bad = pa.array(sorted({r["source_record"] for r in q}), pa.int64())
        for t, tbl in tables.items():
            keep = pc.invert(pc.is_in(tbl.column("source_record"), value_set=bad))
            tables[t] = tbl.filter(keep)
        rows = sorted(
            ((r["source_record"], r["field"], r["reason"], r["raw"]) for r in q), key=lambda x: (x[0], x[1] or "")
        )
        return Batch(
            format="crm-csv", records_read=m.n, tables=tables, quarantine=quarantine_table(rows), mapping=m.name
        )
    finally:
        con.close()


@dataclass
class _Mapped:
    """A CRM export mapped to evrevops' own CSV and read by its spec.

    ``recs[L - 2]`` is the export's record of the mapped file's line ``L``; ``back`` names the
    export column of each evrevops column; ``present`` the loaded column (``c<i>``) of each export
    column; ``malformed`` the rows whose number of fields differs from the header's.
    """

    name: str
    spec: dict
    present: dict[str, str]
    columns: dict[str, str]
    back: dict[str, str]
    n: int
    malformed: list
    recs: np.ndarray
    batch: Batch


def _map_export(con: duckdb.DuckDBPyConnection, path: Path, src_path: Path, tmp: Path, mapping: str | None) -> _Mapped:
    """Load the export *src_path* (*path*, or its UTF-8 copy), map it to evrevops' columns and read that CSV."""
    header, delim = _header(src_path)
    if not any(h.strip() for h in header):
        raise FormatError(path, "empty file: no CSV header", record=1)
    name = mapping or match_crm_mapping(header)
    if name is None:
        raise FormatError(path, f"no CRM mapping matches the header {header[:6]}", record=1)
    spec = load_mapping(name)
    target = TARGETS[spec["target"]]
    present: dict[str, str] = {}  # export column -> loaded column c<i> (the first of a name)
    for i, h in enumerate(header):
        present.setdefault(h.strip(), f"c{i}")
    columns: dict[str, str] = dict(spec.get("columns", {}))
    missing = [src for dst, src in columns.items() if src not in present and target.column(dst).required]
    if missing:
        raise FormatError(
            path, f"missing column(s) {', '.join(missing)} (CRM mapping {name})", record=1, field=missing[0]
        )
    try:
        n, malformed = load_csv(con, src_path, header, delim)
    except FormatError as exc:
        raise FormatError(path, str(exc).split(": ", 1)[-1], exc.record, exc.field) from None
    sel, back = _mapped_columns(spec, target, present, columns)
    out = tmp / "mapped.csv"
    con.execute(f"COPY (SELECT {', '.join(sel)} FROM src ORDER BY rec) TO {_lit(str(out))} (HEADER, FORCE_QUOTE *)")
    # the mapped file's line L is the export's record recs[L - 2]
    recs = con.execute("SELECT rec FROM src ORDER BY rec").fetchnumpy()["rec"].astype(np.int64)
    batch = read_table(out, target)
    return _Mapped(name, spec, present, columns, back, n, malformed, recs, batch)


def _mapped_columns(
    spec: dict, target: CsvSpec, present: dict[str, str], columns: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    """SQL of each evrevops column over the loaded export (``src``), and the export column each comes from."""
    sel, back = [], {}
    defaults = spec.get("defaults", {})
    for col in target.columns:
        src = columns.get(col.name)
        expr = _clean_sql(col, present[src], spec) if src in present else "NULL"
        if col.name in defaults:
            expr = f"coalesce({expr}, {_lit(str(defaults[col.name]))})"
        if expr != "NULL":
            sel.append(f"{expr} AS {sql_identifier(col.name)}")
            back[col.name] = src or col.name
    closed_from = spec.get("closed_on", {}).get("from")
    if (
        spec["target"] == "deals"
        and "closed_on" not in back
        and closed_from in columns
        and columns[closed_from] in present
    ):
        stage = _clean_sql(target.column("stage"), present[columns["stage"]], spec)
        src_close = _clean_sql(target.column(closed_from), present[columns[closed_from]], spec)
        sel.append(f"CASE WHEN {stage} IN ('closed_won', 'closed_lost') THEN {src_close} END AS closed_on")
        back["closed_on"] = columns[closed_from]
    return sel, back


def _export_quarantine(con: duckdb.DuckDBPyConnection, m: _Mapped, *, transcoded: bool) -> list[dict]:
    """The quarantine of the mapped CSV in the export's terms (its lines, columns, raw text), plus malformed rows.

    With *transcoded*, also the records that held bytes that are not UTF-8.
    """
    q = m.batch.quarantine.to_pylist()
    raws = dict(con.execute("SELECT rec, j FROM raw").fetchall())
    for r in q:
        r["source_record"] = int(m.recs[r["source_record"] - 2])
        r["raw"] = raws.get(r["source_record"], r["raw"])
        canon = r["field"]
        src = m.back.get(canon, canon)
        reason = r["reason"] or ""
        if canon in m.spec.get("values", {}) and "must be one of" in reason:
            r["reason"] = f"{reason} (no entry for it in [values.{canon}] of CRM mapping {m.name})"
        elif reason.startswith("not a date"):
            formats = ", ".join(m.spec.get("dates", {}).get("formats", []))
            r["reason"] = f"{reason} (not in the formats of CRM mapping {m.name}: {formats})"
        r["field"] = src
    q += [{"source_record": rec, "field": f, "reason": why, "raw": raw} for rec, f, why, raw in m.malformed]
    if transcoded:
        q += [
            {"source_record": rec, "field": None, "reason": "not valid UTF-8 (bytes replaced by U+FFFD)", "raw": j}
            for rec, j in con.execute(
                f"SELECT rec, j FROM raw WHERE rec > 1 AND contains(j, '{REPLACEMENT}')"
            ).fetchall()
        ]
    return q


def _history(
    con: duckdb.DuckDBPyConnection, spec: dict, present: dict, columns: dict, lim: limits.Limits
) -> tuple[pa.Table, list[dict]]:
    """Stage-history rows from a deal export's "date entered" columns, and the records whose dates do not parse
    or lie outside the time window of *lim*."""
    deal = f"nullif(trim({sql_identifier(present[columns['deal_id']])}), '')"
    lo, hi = f"DATE '{lim.earliest:%Y-%m-%d}'", f"DATE '{lim.until:%Y-%m-%d}'"
    formats = spec.get("dates", {}).get("formats", [])
    parts, checks = [], []
    for stage, cols in spec["history"].items():
        for c in [cols] if isinstance(cols, str) else cols:
            if c not in present:
                continue
            raw = f"nullif(trim({sql_identifier(present[c])}), '')"
            parsed = " ".join(f"WHEN try_strptime({raw}, {_lit(f)}) IS NOT NULL THEN CAST(try_strptime({raw}, {_lit(f)}) AS DATE)" for f in formats)  # fmt: skip
            day = f"CASE {parsed} END" if formats else f"TRY_CAST({raw} AS DATE)"
            parts.append(
                f"SELECT rec AS source_record, {deal} AS deal_id, {_lit(stage)} AS stage, {day} AS entered_on "
                f"FROM src WHERE {raw} IS NOT NULL AND {day} BETWEEN {lo} AND {hi} AND {deal} IS NOT NULL"
            )
            checks.append(
                f"SELECT rec AS source_record, {_lit(c)} AS field, "
                f"'not a date in the formats of the CRM mapping: ' || {raw} AS reason, NULL AS raw "
                f"FROM src WHERE {raw} IS NOT NULL AND {day} IS NULL"
            )
            checks.append(
                f"SELECT rec AS source_record, {_lit(c)} AS field, "
                f"{_lit(c + ' ')} || {raw} || ' is outside {lim.earliest:%Y-%m-%d} .. {lim.until:%Y-%m-%d};"
                f" see --earliest/--latest' AS reason, NULL AS raw "
                f"FROM src WHERE {day} NOT BETWEEN {lo} AND {hi}"
            )
    if not parts:
        empty = pa.table({"source_record": pa.array([], pa.int64()), "deal_id": pa.array([], pa.string()),
                          "stage": pa.array([], pa.string()), "entered_on": pa.array([], pa.date32())})  # fmt: skip
        return empty, []
    hist = con.sql(
        "SELECT deal_id, stage, min(entered_on) AS entered_on, min(source_record) AS source_record FROM ("
        + " UNION ALL ".join(parts)
        + ") h GROUP BY deal_id, stage ORDER BY source_record, entered_on"
    ).to_arrow_table()
    q = con.sql(" UNION ALL ".join(checks)).to_arrow_table().to_pylist()
    return hist.select(["deal_id", "stage", "entered_on", "source_record"]), q
