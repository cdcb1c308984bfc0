"""The sites CSV (``docs/formats.md``, "Sites CSV"): one CSV, one row a port, several tables.

Read by the spec :data:`evrevops.formats.tables_csv.SITES` through the engine of
:mod:`evrevops.formats.csv_engine`, then checked across rows (a site, charger or port stated
differently on two lines; a connector claimed twice; a port at two sites at once) and grouped
into ``sites``, ``site_facts``, ``chargers``, ``ports`` and ``port_placements``.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from evrevops.core.sqltext import sql_identifier, sql_literal
from evrevops.formats.base import Batch, quarantine_table
from evrevops.formats.csv_columns import Col, shown_sql
from evrevops.formats.csv_engine import Parsed, output_table, parse_csv, quarantine_rows, typed_out
from evrevops.formats.tables_csv import CHARGER_COLUMNS, FACT_COLUMNS, PORT_COLUMNS, SITE_COLUMNS, SITES


def _conflicts(key: str, noun: str, col: str, within: str | None = None) -> str:
    """Rows (of ``checked``) whose *key* has more than one stated value of *col*: all rows of that key.

    With *within* (a column), rows are compared only with the rows of the same *key* and
    *within* (a site's facts within one ``effective_on``; a port's window within one site).
    """
    k, c = sql_identifier(key), sql_identifier(col)
    w = f"coalesce(CAST({sql_identifier(within)} AS VARCHAR), '')" if within else "''"
    ow = f"coalesce(CAST(o.{sql_identifier(within)} AS VARCHAR), '')" if within else "''"
    at = f" || CASE WHEN {ow} <> '' THEN ' ({within} ' || {ow} || ')' ELSE '' END" if within else ""
    return f"""
        SELECT o.rec, {sql_literal(col)} AS field,
               'rows of {noun} ' || {shown_sql("o." + k)}{at} || ' disagree on {col}: ' || d.descr AS reason
        FROM checked o JOIN (
            SELECT k, w, string_agg(v, ', ' ORDER BY first_line) AS descr FROM (
                SELECT {k} AS k, {w} AS w, min(rec) AS first_line,
                       {shown_sql(f"CAST({c} AS VARCHAR)")} || ' (line' || CASE WHEN count(*) > 1 THEN 's ' ELSE ' ' END
                       || string_agg(CAST(rec AS VARCHAR), ', ' ORDER BY rec) || ')' AS v
                FROM checked WHERE {c} IS NOT NULL AND {k} IS NOT NULL GROUP BY {k}, {w}, {c})
            GROUP BY k, w HAVING count(*) > 1) d ON o.{k} = d.k AND {ow} = d.w"""


def _window_clash(names: set[str]) -> str:
    """Rows of a port at two sites whose windows (commissioning to decommissioning there) overlap."""
    lo = "coalesce(commissioned_on, DATE '0001-01-01')" if "commissioned_on" in names else "DATE '0001-01-01'"
    hi = "coalesce(decommissioned_on, DATE '9999-12-31')" if "decommissioned_on" in names else "DATE '9999-12-31'"
    span = f"SELECT port_id, site_id, min(rec) AS rec, min({lo}) AS lo, max({hi}) AS hi FROM checked GROUP BY ALL"
    return f"""
        SELECT o.rec, 'site_id' AS field,
               'port ' || {shown_sql("o.port_id")} || ' is at site ' || {shown_sql("a.site_id")} || ' (line '
               || CAST(a.rec AS VARCHAR) || ') and at site ' || {shown_sql("b.site_id")} || ' (line '
               || CAST(b.rec AS VARCHAR) || ') at once: their windows (commissioned_on to decommissioned_on) overlap'
               AS reason
        FROM checked o JOIN ({span}) a ON a.port_id = o.port_id AND a.site_id = o.site_id
        JOIN ({span}) b ON b.port_id = a.port_id AND b.site_id <> a.site_id AND b.lo < a.hi AND a.lo < b.hi"""


def _connector_clash() -> str:
    """Rows where one charger's connector is claimed by more than one port."""
    return """
        SELECT o.rec, 'connector_id' AS field,
               'connector ' || o.connector_id || ' of charger ''' || o.charger_id
               || ''' is claimed by more than one port: ' || d.descr AS reason
        FROM checked o JOIN (
            SELECT charger_id, connector_id,
                   string_agg('''' || port_id || ''' (line ' || rec || ')', ', ' ORDER BY rec) AS descr
            FROM (SELECT charger_id, connector_id, port_id, min(rec) AS rec FROM checked
                  WHERE charger_id IS NOT NULL AND connector_id IS NOT NULL GROUP BY ALL)
            GROUP BY ALL HAVING count(*) > 1) d
          ON o.charger_id = d.charger_id AND o.connector_id = d.connector_id"""


def read_sites(path: str | Path, mapping: str | None = None) -> Batch:
    """Read a sites CSV (one row per port) into ``sites``, ``site_facts``, ``chargers``, ``ports`` and ``port_placements``.

    Parameters
    ----------
    path : str or Path
        The CSV (``docs/formats.md``, "Sites CSV").
    mapping : None
        Unused (session-CSV mappings only).

    Returns
    -------
    Batch
        ``sites``: one row per ``site_id`` (``site_name`` → ``name``), from the site's first
        line; ``site_facts``: one row per site and ``effective_on`` (segment, revenue model,
        energy position, utility tariff, grid capacity; an empty ``effective_on`` is undated:
        :mod:`evrevops.warehouse.site_history` says when it takes effect); ``chargers``: one
        row per ``charger_id`` (``charger_vendor`` → ``vendor``, ``charger_model`` →
        ``model``); ``ports``: one row per line, the port over all its lines (its first
        commissioning, and the site and decommissioning of its latest window);
        ``port_placements``: the port's window at the line's site (``commissioned_on`` →
        ``from_on``, ``decommissioned_on`` → ``to_on``). Besides the per-column checks
        (segment, revenue model, IANA time zone, operating hours, ``rated_kw > 0``,
        ``decommissioned_on`` after ``commissioned_on`` …), lines are quarantined when the
        rows of one site (its facts: of one site and ``effective_on``), charger or port (its
        window: at one site) state different values of one of its columns (every row of it:
        which is right cannot be told; an empty cell states nothing), when two ports claim
        the same charger connector, or when one port is at two sites whose windows overlap.
    """
    p = parse_csv(path, SITES)
    con = p.con
    names = {c.name for c in p.present}
    con.execute("CREATE OR REPLACE TEMP TABLE checked AS SELECT * FROM typed WHERE rec NOT IN (SELECT rec FROM q)")
    _quarantine_conflicts(p, names)
    tables = {"sites": _grouped(p, names, ["site_id"], SITE_COLUMNS)}
    within = "effective_on" in names
    facts = _grouped(p, names, ["site_id", "effective_on"] if within else ["site_id"], FACT_COLUMNS)
    if not within:
        facts = facts.append_column("effective_on", pa.array([None] * facts.num_rows, pa.date32()))
    tables["site_facts"] = facts
    if "charger_id" in names:
        since = "coalesce(commissioned_on, DATE '0001-01-01')" if "commissioned_on" in names else "rec"
        tables["chargers"] = _grouped(
            p, names, ["charger_id"], CHARGER_COLUMNS, [("site_id", f"arg_max(site_id, {since})")]
        )
    tables["ports"] = _ports(p, names)
    null_date = "CAST(NULL AS DATE)"
    tables["port_placements"] = output_table(
        p,
        [
            ("port_id", "port_id"),
            ("site_id", "site_id"),
            ("source", "'sites-csv'"),
            ("observed_on", null_date),
            ("from_on", "CAST(commissioned_on AS DATE)" if "commissioned_on" in names else null_date),
            ("to_on", "CAST(decommissioned_on AS DATE)" if "decommissioned_on" in names else null_date),
        ],
    )
    q = quarantine_rows(p)
    con.close()
    return Batch(format=SITES.format, records_read=p.records_read, tables=tables, quarantine=quarantine_table(q))


def _quarantine_conflicts(p: Parsed, names: set[str]) -> None:
    """Add to ``q`` the lines of ``checked`` that disagree with others; ``accepted`` is the rest.

    Lines disagree when rows of one site (its facts: within one ``effective_on``), charger or
    port (its window: at one site) state different values of a column, when two ports claim one
    charger connector, or when one port is at two sites whose windows overlap.
    """
    con = p.con
    within = "effective_on" if "effective_on" in names else None
    parts = [_conflicts("site_id", "site", c.name) for c in SITE_COLUMNS if c.name in names and c.name != "site_id"]
    parts += [
        _conflicts("site_id", "site", c.name, within)
        for c in FACT_COLUMNS
        if c.name in names and c.name != "effective_on"
    ]
    if "charger_id" in names:
        parts += [
            # a charger moves with its ports: its site is that of its latest window (below), not a conflict
            _conflicts("charger_id", "charger", n)
            for n in ("charger_vendor", "charger_model")
            if n in names
        ]
        if "connector_id" in names:
            parts.append(_connector_clash())
    parts.append(_window_clash(names))
    parts += [
        _conflicts("port_id", "port", n, "site_id" if n in ("commissioned_on", "decommissioned_on") else None)
        for n in ["charger_id"] + [c.name for c in PORT_COLUMNS if c.name != "port_id"]
        if n in names
    ]
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE conflicts AS
            SELECT c.rec, c.field, c.reason, r.j AS raw FROM ({" UNION ALL ".join(parts)}) c
            LEFT JOIN raw r ON r.rec = c.rec"""
    )
    con.execute("INSERT INTO q SELECT * FROM conflicts")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE accepted AS SELECT * FROM checked WHERE rec NOT IN (SELECT rec FROM conflicts)"
    )


def _grouped(
    p: Parsed, names: set[str], keys: list[str], cols: tuple[Col, ...], extra: list[tuple[str, str]] = ()
) -> pa.Table:
    """One row per *keys* of ``accepted``: *extra* ``(column, aggregate SQL)`` and the largest value of each *cols*."""
    sel = [sql_identifier(k) for k in keys] + [f"{e} AS {sql_identifier(n)}" for n, e in extra]  # aggregates
    sel += [
        f"max({expr}) AS {sql_identifier(out)}"
        for out, expr in (typed_out(c) for c in cols if c.name in names and c.name not in keys)
    ]
    by = ", ".join(sql_identifier(k) for k in keys)
    return p.con.sql(
        f"SELECT {', '.join(sel)}, min(rec) AS source_record FROM accepted WHERE {sql_identifier(keys[0])} IS NOT NULL "
        f"GROUP BY {by} ORDER BY source_record"
    ).to_arrow_table()


def _ports(p: Parsed, names: set[str]) -> pa.Table:
    """The port over all its lines (one port may be at several sites, a window at each).

    Every line carries the same port row, so a port on many lines is one row and the other lines duplicates.
    """
    every = "OVER (PARTITION BY port_id)"
    newest = "commissioned_on NULLS FIRST, " if "commissioned_on" in names else ""
    latest = (
        f"OVER (PARTITION BY port_id ORDER BY {newest}rec ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
    )
    port_cols = [("port_id", "port_id"), ("site_id", f"last_value(site_id) {latest}")]
    if "charger_id" in names:
        port_cols.append(("charger_id", f"max(charger_id) {every}"))
    for c in PORT_COLUMNS:
        if c.name in names and c.name != "port_id":
            out, expr = typed_out(c)
            if c.name == "commissioned_on":
                expr = f"CASE WHEN bool_or({expr} IS NULL) {every} THEN NULL ELSE min({expr}) {every} END"
            elif c.name == "decommissioned_on":
                expr = f"last_value({expr}) {latest}"
            else:
                expr = f"max({expr}) {every}"
            port_cols.append((out, expr))
    return output_table(p, port_cols)
