"""Stale and missing telemetry: which chargers have gone silent, since when (handbook §4).

At the data horizon (``as_of``) a port whose state is ``offline`` (an OCPP
charger silent beyond the window, or a feed's out-of-contact code) or
``no_data`` (never observed, or its feed said it had no data) is listed here,
and counted by the uptime metrics as outage — never silently as up. One row
per charger (or per port for feeds without chargers), with the start of the
run it is still in.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pyarrow as pa

from evrevops.core.sqltext import ts_sql
from evrevops.uptime import fact as _fact
from evrevops.uptime import revenue_at_risk as _rar
from evrevops.uptime import timeline as T
from evrevops.uptime.timeline_intervals import MESSAGES_SQL
from evrevops.uptime.timeline_tables import INTERVALS, PORTS, us_sql
from evrevops.warehouse.protocol import WarehouseLike

if TYPE_CHECKING:
    from evrevops.warehouse.spark import SparkWarehouse

COLUMNS = (
    "site_id", "segment", "customer_id", "charger_id", "state", "ports", "since", "silent_h",
    "last_seen_at", "currency", "revenue_at_risk_minor",
)  # fmt: skip


def silent(
    wh: WarehouseLike | SparkWarehouse,
    as_of: dt.datetime | None = None,
    offline_after_s: int = T.DEFAULT_OFFLINE_AFTER_S,
) -> pa.Table:
    """Chargers silent or without data at the horizon.

    Returns
    -------
    pyarrow.Table
        :data:`COLUMNS`: ``state`` ``offline`` (silent: no message for longer
        than the window; ``since`` = its last message) or ``no_data``
        (``since`` = the start of the unobserved run, the port's first measured
        instant when it was never heard from); ``silent_h`` [h] to the
        horizon; ``last_seen_at`` the charger's last telemetry (null if none);
        ``revenue_at_risk_minor`` the expected revenue lost in the horizon's
        month so far. Ordered by ``since``.
    """
    span = T.data_span(wh)
    horizon = as_of or (span[1] if span else dt.datetime(1970, 1, 1))
    month = horizon.date().replace(day=1)
    r = _fact.build(wh, month, month, as_of=horizon, offline_after_s=offline_after_s)
    as_of_sql = ts_sql(r.as_of)
    sql = f"""
WITH last_iv AS (
    SELECT i.* FROM {INTERVALS} i JOIN {PORTS} p ON p.port_id = i.port_id
    WHERE i.e >= p.life_end AND p.life_end >= {as_of_sql} AND i.state IN ('offline', 'no_data')
), runs AS (
    SELECT l.port_id, l.site_id, coalesce(l.charger_id, l.port_id) AS charger_id, l.state, l.island,
           (SELECT min(i2.s) FROM {INTERVALS} i2 WHERE i2.port_id = l.port_id AND i2.island = l.island) AS since
    FROM last_iv l
), seen AS (
    -- the charger's messages (the evidence liveness is inferred from) and any status a feed stated
    SELECT charger_id, max(t) AS last_seen_at FROM (
        {MESSAGES_SQL}
        UNION ALL SELECT charger_id, observed_at FROM status_events WHERE coalesce(protocol, '') NOT LIKE 'ocpp%') m
    WHERE t <= {as_of_sql} GROUP BY charger_id
), rar AS (
    SELECT port_id, island, sum(revenue_at_risk_minor) AS minor, min(currency) AS currency
    FROM {_rar.RAR} GROUP BY port_id, island
)
SELECT r.site_id, s.segment, s.customer_id, r.charger_id, r.state, count(*) AS ports, min(r.since) AS since,
       CAST({us_sql(as_of_sql, "min(r.since)")} AS DOUBLE) / 3600000000 AS silent_h,
       min(seen.last_seen_at) AS last_seen_at,
       min(rar.currency) AS currency, CAST(sum(coalesce(rar.minor, 0)) AS BIGINT) AS revenue_at_risk_minor
FROM runs r
LEFT JOIN sites s ON s.site_id = r.site_id
LEFT JOIN seen ON seen.charger_id = r.charger_id
LEFT JOIN rar ON rar.port_id = r.port_id AND rar.island = r.island
GROUP BY r.site_id, s.segment, s.customer_id, r.charger_id, r.state
ORDER BY since, r.site_id, r.charger_id
"""
    return wh.fetch(sql).select(list(COLUMNS))
