"""Put a site on another utility tariff from a date, by hand (``evrevops sites set-tariff``).

The change is a site fact (:mod:`evrevops.warehouse.site_history`) written like an ingested one:
its own ledger entry (:mod:`evrevops.warehouse.ledger`) is the fact's provenance.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pyarrow as pa

from evrevops.core.sqltext import sql_literal
from evrevops.warehouse import ledger, site_history
from evrevops.warehouse.db import Warehouse


def set_site_tariff(wh: Warehouse, site_id: str, utility_tariff_id: str, from_on: dt.date | None = None) -> dict:
    """Put *site_id* on *utility_tariff_id* from local date *from_on*, recorded in the ingest ledger.

    The change is a site fact (:mod:`evrevops.warehouse.site_history`): the site is billed under
    its earlier tariff before *from_on* and under this one from it, so bills, margins and P&Ls of
    the months before stay what they were. *from_on* defaults to the first day of the current
    month (:func:`~evrevops.warehouse.site_history.default_from`). The ledger row (``format``
    ``cli:sites set-tariff``) becomes the fact's ``file_id``, so the change is traceable like
    any ingested record. A later sites file that states another tariff from a date changes it
    from that date, as files do.

    Raises
    ------
    ValueError
        For an unknown site or a tariff that is not in ``utility_tariffs``.
    """
    con = wh.con
    if not con.execute("SELECT count(*) FROM sites WHERE site_id = ?", [site_id]).fetchall()[0][0]:
        raise ValueError(f"unknown site {site_id!r}")
    if not con.execute(
        "SELECT count(*) FROM utility_tariffs WHERE utility_tariff_id = ?", [utility_tariff_id]
    ).fetchall()[0][0]:
        raise ValueError(f"unknown utility tariff {utility_tariff_id!r}; ingest its URDB record first")
    from_on = from_on or site_history.default_from()
    now = ledger.now()
    text = json.dumps(
        {"site_id": site_id, "utility_tariff_id": utility_tariff_id, "from_on": str(from_on)}, sort_keys=True
    )
    previous = con.execute(
        f"SELECT utility_tariff_id FROM {site_history.VIEW} h WHERE {site_history.on_sql('?', '?', 'h')}",
        [site_id, from_on, from_on],
    ).fetchall()
    with wh.transaction():
        file_id = ledger.next_file_id(con)
        con.execute(
            """INSERT INTO ingest_ledger (file_id, path, checksum, format, started_at, finished_at,
                   records_read, accepted, duplicate, quarantined, replaced, status, earliest_at)
               VALUES (?, ?, ?, 'cli:sites set-tariff', ?, ?, 1, 1, 0, 0, 0, 'ok', ?)""",
            [
                file_id,
                f"evrevops sites set-tariff {site_id} {utility_tariff_id} --from {from_on}",
                hashlib.sha256(text.encode()).hexdigest(),
                now,
                now,
                dt.datetime.combine(from_on, dt.time()),
            ],  # fmt: skip
        )
        updated = con.execute(
            """UPDATE site_facts SET utility_tariff_id = ?, file_id = ?, source_record = 1
               WHERE site_id = ? AND effective_on = ? RETURNING site_id""",
            [utility_tariff_id, file_id, site_id, from_on],
        ).fetchall()
        if not updated:
            con.execute(
                "INSERT INTO site_facts (site_id, effective_on, utility_tariff_id, file_id, source_record) VALUES (?, ?, ?, ?, 1)",
                [site_id, from_on, utility_tariff_id, file_id],
            )
        con.execute(site_history.current_sql("(SELECT " + sql_literal(site_id) + " AS site_id)"))
    return {
        "site_id": site_id,
        "utility_tariff_id": utility_tariff_id,
        "from_on": from_on,
        "previous": previous[0][0] if previous else None,
        "file_id": file_id,
    }


class UnknownNames(ValueError):
    """Sites or tariffs a bulk change names that the warehouse does not have (``what``, ``names``, ``known``)."""

    def __init__(self, what: str, names: list[str], known: list[str]):
        super().__init__(f"unknown {what} {', '.join(repr(n) for n in names)}")
        self.what, self.names, self.known = what, names, known


def set_site_tariffs(wh: Warehouse, changes: pa.Table, from_on: dt.date | None = None, how: str = "") -> pa.Table:
    """Put each site of *changes* (columns ``site_id``, ``utility_tariff_id``) on its tariff from *from_on*, in one
    transaction and one ledger entry (``records_read`` = the sites), set-based (no loop over the sites).

    As :func:`set_site_tariff` for each site; *how* is the command line the ledger's ``path`` records (``--from`` added). Returns one
    row per site: ``site_id``, ``utility_tariff_id``, ``from_on``, ``previous``, ``file_id``.

    Raises
    ------
    UnknownNames
        Sites or tariffs not in the warehouse (nothing is written).
    ValueError
        No site, or a site given twice with different tariffs.
    """
    con = wh.con
    con.register("_st_in", changes.select(["site_id", "utility_tariff_id"]))
    try:
        pairs = wh.fetch("SELECT DISTINCT site_id, utility_tariff_id FROM _st_in ORDER BY site_id")
    finally:
        con.unregister("_st_in")
    if not pairs.num_rows:
        raise ValueError("no site to put on a tariff")
    con.register("_st", pairs)
    try:
        twice = [r[0] for r in con.execute("SELECT site_id FROM _st GROUP BY 1 HAVING count(*) > 1").fetchall()]
        if twice:
            raise ValueError(f"sites given two different tariffs: {', '.join(twice)}")
        for what, col, table in (
            ("site", "site_id", "sites"),
            ("utility tariff", "utility_tariff_id", "utility_tariffs"),
        ):
            missing = [r[0] for r in con.execute(
                f"SELECT DISTINCT {col} FROM _st WHERE {col} IS NULL OR {col} NOT IN (SELECT {col} FROM {table}) ORDER BY 1"
            ).fetchall()]  # fmt: skip
            if missing:
                known = [r[0] for r in con.execute(f"SELECT {col} FROM {table} ORDER BY 1").fetchall()]
                raise UnknownNames(what, [str(m) for m in missing], known)
        return _write_many(wh, pairs.num_rows, from_on or site_history.default_from(), how)
    finally:
        con.unregister("_st")


def _write_many(wh: Warehouse, n: int, from_on: dt.date, how: str) -> pa.Table:
    """Write the changes registered as ``_st``: one ledger entry, the facts, the sites' current values."""
    con = wh.con
    now = ledger.now()
    digest = hashlib.sha256(
        json.dumps([list(r) for r in con.execute("SELECT * FROM _st ORDER BY 1").fetchall()] + [str(from_on)]).encode()
    ).hexdigest()
    previous = f"""SELECT t.site_id, t.utility_tariff_id, h.utility_tariff_id AS previous FROM _st t
        LEFT JOIN {site_history.VIEW} h ON {site_history.on_sql("t.site_id", f"DATE '{from_on.isoformat()}'", "h")}"""
    with wh.transaction():
        con.execute(f"CREATE OR REPLACE TEMP TABLE _st_prev AS {previous}")
        file_id = ledger.next_file_id(con)
        con.execute(
            """INSERT INTO ingest_ledger (file_id, path, checksum, format, started_at, finished_at,
                   records_read, accepted, duplicate, quarantined, replaced, status, earliest_at)
               VALUES (?, ?, ?, 'cli:sites set-tariff', ?, ?, ?, ?, 0, 0, 0, 'ok', ?)""",
            [
                file_id,
                f"{how or f'evrevops sites set-tariff ({n} sites)'} --from {from_on}",
                digest,
                now,
                now,
                n,
                n,
                dt.datetime.combine(from_on, dt.time()),
            ],  # fmt: skip
        )
        con.execute(
            """UPDATE site_facts AS f SET utility_tariff_id = t.utility_tariff_id, file_id = ?,
                   source_record = t.rec
               FROM (SELECT *, row_number() OVER (ORDER BY site_id) AS rec FROM _st) t
               WHERE f.site_id = t.site_id AND f.effective_on = ?""",
            [file_id, from_on],
        )
        con.execute(
            """INSERT INTO site_facts (site_id, effective_on, utility_tariff_id, file_id, source_record)
               SELECT site_id, CAST(? AS DATE), utility_tariff_id, ?, row_number() OVER (ORDER BY site_id) FROM _st t
               WHERE NOT EXISTS (SELECT 1 FROM site_facts f WHERE f.site_id = t.site_id AND f.effective_on = ?)""",
            [from_on, file_id, from_on],
        )
        con.execute(site_history.current_sql("_st"))
    out = wh.fetch(
        "SELECT site_id, utility_tariff_id, CAST(? AS DATE) AS from_on, previous, CAST(? AS BIGINT) AS file_id "
        "FROM _st_prev ORDER BY site_id",
        [from_on, file_id],
    )
    con.execute("DROP TABLE IF EXISTS _st_prev")
    return out
