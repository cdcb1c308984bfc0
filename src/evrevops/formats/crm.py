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
import tempfile
import tomllib
from pathlib import Path

import duckdb
import pyarrow as pa

from evrevops.formats.base import Batch, FormatError, quarantine_table, sql_identifier
from evrevops.formats.tables_csv import DEAL_STAGES_SPEC, DEALS, CsvSpec, read_table

FOLDER = Path(__file__).parent / "mappings" / "crm"
TARGETS: dict[str, CsvSpec] = {"deals": DEALS, "deal_stage_history": DEAL_STAGES_SPEC}
CLOSED = ("closed_won", "closed_lost")


def crm_mappings() -> list[tuple[str, str]]:
    """``(name, description)`` of every shipped CRM mapping."""
    return [(p.stem, str(_load(p).get("description", ""))) for p in sorted(FOLDER.glob("*.toml"))]


def _load(path: Path) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def load_mapping(name: str) -> dict:
    """The CRM mapping called *name*; an unknown name fails loudly."""
    p = FOLDER / f"{name}.toml"
    if not p.is_file():
        known = ", ".join(n for n, _ in crm_mappings())
        raise ValueError(f"unknown CRM mapping {name!r}; known: {known}")
    spec = _load(p)
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
        v = f"nullif(regexp_replace({v}, '[^0-9.\\-]', '', 'g'), '')"
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


def read_crm(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a CRM export through its mapping (detected from the header when *mapping* is None).

    Returns
    -------
    Batch
        ``deals`` (and ``deal_stage_history`` for a mapping with ``[history]``), or
        ``deal_stage_history`` alone for a history export; ``records_read`` counts the export's
        rows.
    """
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f), [])
    name = mapping or match_crm_mapping(header)
    if name is None:
        raise FormatError(path, f"no CRM mapping matches the header {header[:6]}", record=1)
    spec = load_mapping(name)
    target = TARGETS[spec["target"]]
    present = {h.strip(): h for h in header}
    columns: dict[str, str] = dict(spec.get("columns", {}))
    missing = [src for dst, src in columns.items() if src not in present and target.column(dst).required]
    if missing:
        raise FormatError(
            path, f"missing column(s) {', '.join(missing)} (CRM mapping {name})", record=1, field=missing[0]
        )
    con = duckdb.connect()
    try:
        con.execute(
            "CREATE TABLE src AS SELECT row_number() OVER () AS rec, * FROM read_csv(?, all_varchar = true, header = true, "
            "normalize_names = false, null_padding = true)",
            [str(path)],
        )
        n = con.execute("SELECT count(*) FROM src").fetchall()[0][0]
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
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "mapped.csv"
            con.execute(
                f"COPY (SELECT {', '.join(sel)} FROM src ORDER BY rec) TO {_lit(str(out))} (HEADER, FORCE_QUOTE *)"
            )
            batch = read_table(out, target)
        q = batch.quarantine.to_pylist()
        for r in q:
            canon = r["field"]
            src = back.get(canon, canon)
            reason = r["reason"] or ""
            if canon in spec.get("values", {}) and "must be one of" in reason:
                r["reason"] = f"{reason} (no entry for it in [values.{canon}] of CRM mapping {name})"
            elif reason.startswith("not a date"):
                formats = ", ".join(spec.get("dates", {}).get("formats", []))
                r["reason"] = f"{reason} (not in the formats of CRM mapping {name}: {formats})"
            r["field"] = src
        tables = dict(batch.tables)
        hist_spec = spec.get("history")
        if hist_spec and spec["target"] == "deals":
            hist, hq = _history(con, spec, present, columns)
            bad = {r["source_record"] for r in q}
            keep = [i for i, s in enumerate(hist["source_record"].to_pylist()) if s not in bad]
            tables["deal_stage_history"] = hist.take(pa.array(keep, pa.int64()))
            q += hq
            bad_hist = {r["source_record"] for r in hq}
            if bad_hist:
                d = tables["deals"]
                tables["deals"] = d.filter(pa.array([s not in bad_hist for s in d["source_record"].to_pylist()]))
                h = tables["deal_stage_history"]
                tables["deal_stage_history"] = h.filter(
                    pa.array([s not in bad_hist for s in h["source_record"].to_pylist()])
                )
        rows = [(r["source_record"], r["field"], r["reason"], r["raw"]) for r in q]
        return Batch(format="crm-csv", records_read=n, tables=tables, quarantine=quarantine_table(rows), mapping=name)
    finally:
        con.close()


def _history(con: duckdb.DuckDBPyConnection, spec: dict, present: dict, columns: dict) -> tuple[pa.Table, list[dict]]:
    """Stage-history rows from a deal export's "date entered" columns, and the records whose dates do not parse."""
    deal = f"nullif(trim({sql_identifier(present[columns['deal_id']])}), '')"
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
                f"SELECT rec + 1 AS source_record, {deal} AS deal_id, {_lit(stage)} AS stage, {day} AS entered_on "
                f"FROM src WHERE {raw} IS NOT NULL AND {day} IS NOT NULL AND {deal} IS NOT NULL"
            )
            checks.append(
                f"SELECT rec + 1 AS source_record, {_lit(c)} AS field, "
                f"'not a date in the formats of the CRM mapping: ' || {raw} AS reason, NULL AS raw "
                f"FROM src WHERE {raw} IS NOT NULL AND {day} IS NULL"
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
