"""The outage ledger as users read it: one row per outage, with its cause and its money.

Built on :mod:`evrevops.uptime.timeline` (where the rules are); this module
selects the outages that touch the reported months and adds their revenue at
risk (:mod:`evrevops.uptime.revenue_at_risk`) and the port's segment, in one SQL
query that runs on DuckDB and (transpiled) on Spark.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pyarrow as pa

from evrevops.core.sqltext import sql_in
from evrevops.uptime import fact as _fact
from evrevops.uptime import revenue_at_risk as _rar
from evrevops.uptime import timeline as T
from evrevops.uptime.timeline_tables import LEDGER, PIECES
from evrevops.warehouse import site_history
from evrevops.warehouse.protocol import WarehouseLike

if TYPE_CHECKING:
    from evrevops.warehouse.spark import SparkWarehouse

COLUMNS = (
    "outage_id", "port_id", "site_id", "charger_id", "segment", "started_at", "ended_at", "open",
    "duration_min", "state", "statuses", "error_codes", "fault_min", "offline_min", "excluded_min",
    "cause", "incident_id", "nevi_excludable", "currency", "revenue_at_risk_minor", "start_clipped",
)  # fmt: skip


def ledger(
    wh: WarehouseLike | SparkWarehouse,
    first_month: dt.date,
    last_month: dt.date | None = None,
    as_of: dt.datetime | None = None,
    offline_after_s: int = T.DEFAULT_OFFLINE_AFTER_S,
    open_only: bool = False,
    sites: list[str] | None = None,
    include_no_data: bool = True,
) -> pa.Table:
    """Outages (and no-data runs) overlapping local months ``first_month`` … ``last_month``.

    Returns
    -------
    pyarrow.Table
        :data:`COLUMNS`: durations in minutes [min] over the whole outage
        (also the part outside the months); ``revenue_at_risk_minor`` only for
        the part inside them, in ``currency``; ``open`` outages have no
        ``ended_at`` and last until the data horizon. Ordered by start.
    """
    last_month = last_month or first_month
    r = _fact.build(wh, first_month, last_month, as_of=as_of, offline_after_s=offline_after_s)
    where = [
        f"l.port_id IN (SELECT port_id FROM {PIECES} WHERE month BETWEEN DATE '{r.first_month}' AND DATE '{r.last_month}' AND cls <> 'up')"
    ]
    if open_only:
        where.append("l.open")
    if not include_no_data:
        where.append("l.state = 'outage'")
    sql = f"""
WITH inmonth AS (
    SELECT DISTINCT port_id, island FROM {PIECES}
    WHERE cls <> 'up' AND month BETWEEN DATE '{r.first_month}' AND DATE '{r.last_month}'
), isl AS (
    SELECT DISTINCT port_id, island, s FROM {PIECES}
), rar AS (
    SELECT port_id, island, min(currency) AS currency, sum(revenue_at_risk_minor) AS revenue_at_risk_minor
    FROM {_rar.RAR} GROUP BY port_id, island
)
SELECT l.outage_id, l.port_id, l.site_id, l.charger_id, s.segment, l.started_at, l.ended_at, l.open,
       l.duration_s / 60 AS duration_min, l.state, l.statuses, l.error_codes,
       l.fault_s / 60 AS fault_min, l.offline_s / 60 AS offline_min, l.excluded_s / 60 AS excluded_min,
       l.cause, l.incident_id, l.nevi_excludable, rar.currency, CAST(coalesce(rar.revenue_at_risk_minor, 0) AS BIGINT) AS revenue_at_risk_minor,
       l.start_clipped
FROM {LEDGER} l
JOIN isl ON isl.port_id = l.port_id AND isl.s = l.started_at
JOIN inmonth im ON im.port_id = l.port_id AND im.island = isl.island
LEFT JOIN rar ON rar.port_id = l.port_id AND rar.island = isl.island
LEFT JOIN {site_history.VIEW} s ON {site_history.on_sql("l.site_id", "CAST(l.started_at AS DATE)", "s")}
WHERE {" AND ".join(where)} {sql_in("l.site_id", sites)}
ORDER BY l.started_at, l.port_id
"""
    return wh.fetch(sql).select(list(COLUMNS))
