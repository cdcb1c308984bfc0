"""Site facts over time: what a site's segment, revenue model, energy position, utility tariff and
grid capacity were on any day (handbook §1, "Time of truth").

``site_facts`` keeps every statement of them with the local date it takes effect
(``effective_on``; NULL: since always, a site's first statement). A NULL value states nothing:
the value before it holds. :data:`VIEW` (``site_history``) turns the statements into intervals
``[valid_from, valid_to)`` of local dates (NULL bounds: open), one row per interval and site,
every column the last value stated on or before the interval's start; a site's first statement
holds since always (before it nothing else is known), and every site of ``sites`` has at least
one row (with NULL facts when it has none). A report reads the facts in force on
the day it reports (:func:`on_sql`); a monthly figure takes them on the month's last day, as
MRR is taken at the month's end.

``sites`` keeps the latest stated values in the same columns, for what a site is now
(``sites list``, ``status``): the loader rewrites them after every write of ``site_facts``
(:func:`current_sql`); a report over time never reads them.

**Changes without a date.** A sites CSV without ``effective_on`` (or a row with it empty)
states facts since always for a site that has none yet. For a site that has facts, a value it
states that differs from the site's latest is a change from :func:`default_from` (the first
day of the current month, as ``evrevops sites set-tariff`` takes by default); a value equal to
the latest, or empty, states nothing. So re-ingesting today's inventory never rewrites last
year's facts.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from evrevops.warehouse.intervals import in_force_sql

VIEW = "site_history"
TABLE = "site_facts"
FACTS = ("segment", "revenue_model", "energy_position", "utility_tariff_id", "grid_capacity_kw")


def default_from(today: dt.date | None = None) -> dt.date:
    """The date an undated change takes effect: the first day of *today*'s month (UTC today by default)."""
    today = today or dt.datetime.now(dt.UTC).date()
    return today.replace(day=1)


def history_sql(facts: str = TABLE, sites: str = "sites") -> str:
    """SQL of the intervals of every site's facts (columns: ``site_id``, ``valid_from``, ``valid_to``, :data:`FACTS`).

    Portable SQL (window functions only): it runs on DuckDB and, transpiled, on Spark.
    """
    held = ", ".join(
        f"last_value({c} IGNORE NULLS) OVER (PARTITION BY site_id ORDER BY effective_on NULLS FIRST "
        f"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS {c}"
        for c in FACTS
    )
    return f"""SELECT site_id, valid_from, valid_to, {", ".join(FACTS)} FROM (
    SELECT site_id,
           -- a site's first statement holds since always, as the first evidence of a port does
           CASE WHEN row_number() OVER (PARTITION BY site_id ORDER BY effective_on NULLS FIRST) = 1 THEN NULL
                ELSE effective_on END AS valid_from,
           lead(effective_on) OVER (PARTITION BY site_id ORDER BY effective_on NULLS FIRST) AS valid_to, {held}
    FROM {facts}
) h
UNION ALL
SELECT s.site_id, CAST(NULL AS DATE), CAST(NULL AS DATE), {", ".join(f"CAST(NULL AS {'DOUBLE' if c == 'grid_capacity_kw' else 'VARCHAR'})" for c in FACTS)}
FROM {sites} s WHERE s.site_id NOT IN (SELECT site_id FROM {facts})"""


def view_sql() -> str:
    """The statement that makes :data:`VIEW` (a temporary view: always current)."""
    return f"CREATE OR REPLACE TEMP VIEW {VIEW} AS {history_sql()}"


def on_sql(site: str, day: str, history: str = VIEW) -> str:
    """Join condition: row *history* of site column *site* is the interval in force on date expression *day*."""
    return in_force_sql(history, "site_id", site, day, "valid_from", "valid_to")


def current_sql(site_ids: str | None = None) -> str:
    """``UPDATE`` of ``sites``' fact columns to each site's latest stated values (*site_ids*: a relation of ids)."""
    only = f"AND s.site_id IN (SELECT site_id FROM {site_ids})" if site_ids else ""
    sets = ", ".join(f"{c} = h.{c}" for c in FACTS)
    return f"""UPDATE sites AS s SET {sets}
        FROM (SELECT * FROM ({history_sql()}) x WHERE valid_to IS NULL) h
        WHERE h.site_id = s.site_id {only}"""


def resolve_undated(con, incoming: pa.Table, today: dt.date | None = None) -> pa.Table:
    """Date the undated statements of *incoming* (a batch's ``site_facts``) by the rule in the module docstring.

    *con* is the warehouse's DuckDB connection. A statement without ``effective_on`` about a
    site that has facts keeps only the values that differ from the site's latest, from
    :func:`default_from`; with none left it is dated like the site's latest statement, so that
    it meets that statement as the loader's duplicate.
    """
    if "effective_on" not in incoming.column_names:
        incoming = incoming.append_column("effective_on", pa.array([None] * incoming.num_rows, pa.date32()))
    given = [c for c in FACTS if c in incoming.column_names]
    start = default_from(today)
    con.register("_sf_in", incoming)
    try:
        differs = " OR ".join(f"(i.{c} IS NOT NULL AND i.{c} IS DISTINCT FROM h.{c})" for c in given) or "FALSE"
        kept = ", ".join(
            f"CASE WHEN i.effective_on IS NULL AND h.site_id IS NOT NULL AND i.{c} IS NOT DISTINCT FROM h.{c} "
            f"THEN NULL ELSE i.{c} END AS {c}"
            for c in given
        )
        rest = [c for c in incoming.column_names if c not in (*given, "effective_on")]
        out = con.sql(
            f"""SELECT {", ".join(f"i.{c}" for c in rest)},
                       CASE WHEN i.effective_on IS NOT NULL OR h.site_id IS NULL THEN i.effective_on
                            WHEN {differs} THEN DATE '{start}'
                            ELSE h.latest_on END AS effective_on{", " if kept else ""}{kept}
                FROM _sf_in i LEFT JOIN (
                    SELECT x.*, m.latest_on FROM ({history_sql()}) x
                    JOIN (SELECT site_id, max(effective_on) AS latest_on FROM {TABLE} GROUP BY site_id) m
                      ON m.site_id = x.site_id
                    WHERE x.valid_to IS NULL
                ) h ON h.site_id = i.site_id"""
        ).to_arrow_table()
    finally:
        con.unregister("_sf_in")
    return out.select(incoming.column_names)
