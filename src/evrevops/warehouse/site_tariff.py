"""Put a site on another utility tariff from a date, by hand (``evrevops sites set-tariff``).

The change is a site fact (:mod:`evrevops.warehouse.site_history`) written like an ingested one:
its own ledger entry (:mod:`evrevops.warehouse.ledger`) is the fact's provenance.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

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
