"""What the ingests since the last refresh change: the first local month the kept facts rebuild from.

Everything kept between ingests (port-day facts, port-month uptime, site-month bills, the
month-close measures) is a function of the warehouse. After an ingest the refresh rebuilds only
the months that can have changed, from :func:`since` on, and keeps the months before as they
are (a tariff switch from June rebuilds June onward; last year stays what it was). The months
that can change are found from what the new ledger entries wrote, conservatively (a month is
rebuilt when in doubt, never left stale):

* **dated rows**: each entry records the earliest instant its rows date (``ingest_ledger.
  earliest_at``: sessions by their start, telemetry by its time, incidents by their start, site
  facts by ``effective_on``, port placements by their day; both versions of a replaced row;
  ``0001-01-01`` for a fact true since always). A day earlier for sessions: a site's local
  day starts up to 14 hours before its UTC day, and a visit chain may begin the day before;
* **telemetry**: a new message ends the silence or state before it, so the outage in progress
  then (and its month's MTTR) changes: from the charger's previous message, and for a port's
  new status, from its last ``up`` status before;
* **the data horizon**: when the latest telemetry moves on, every outage open at the old
  horizon gets longer: from the start of the earliest one (a charger silent beyond the window,
  a port whose last status is not ``up``), for ports still in service;
* **where ports were**: evidence before a port's earliest known evidence can move every day
  before it (the port's first site holds since always): the whole history;
* **descriptions**: the kept snapshot of each site's time zone, operating hours and customer,
  each port's charger, connector, rating and service window, and each utility tariff is
  compared with the warehouse: a site whose zone, hours or customer changed, or a port whose
  charger, connector or rating changed, rebuilds the whole history; a port's service window
  from the earlier of its old and new dates; a new or changed tariff from the first day a
  site was on it (or on another version of its rate).

Contracts, deals, projects, incentives, costs, customers and driver tariffs change nothing
kept: their reports are computed when asked.
"""

from __future__ import annotations

import datetime as dt

from evrevops.core import states as _states
from evrevops.warehouse import port_sites
from evrevops.warehouse.protocol import WarehouseLike

WHOLE = dt.date(1, 1, 1)  # the whole history
NOTHING = dt.date(9999, 12, 1)  # nothing kept changed: a refresh rebuilds no month
SNAPSHOTS = {
    "kept_dims_sites": "SELECT site_id, time_zone, operating_hours, customer_id FROM sites",
    "kept_dims_ports": """SELECT port_id, charger_id, connector_id, rated_kw, commissioned_on, decommissioned_on
                          FROM ports""",
    "kept_dims_tariffs": """SELECT utility_tariff_id, md5(rate_json) AS rate_hash, start_on, end_on, eiaid, name, sector
                            FROM utility_tariffs""",
}
TELEMETRY = (  # table, the instant of a row ({a}: the table's alias and a dot)
    ("status_events", "{a}observed_at"),
    ("heartbeats", "{a}observed_at"),
    ("meter_readings", "{a}observed_at"),
    ("ocpp_transactions", "coalesce({a}started_at, {a}ended_at)"),
)
_UP = ", ".join(f"'{s}'" for s, state in _states.STATUS_STATE.items() if state == _states.UP)


def snapshot(wh: WarehouseLike) -> None:
    """Keep the descriptions the kept facts were made from (inside the refresh's transaction)."""
    for name, sql in SNAPSHOTS.items():
        wh.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}")


def _files(files: list[int]) -> str:
    return "(" + ", ".join(str(int(f)) for f in files) + ")"


def _day(value) -> dt.date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, dt.datetime) else value


def since(wh: WarehouseLike, files: list[int], offline_after_s: int) -> dt.date | None:
    """The first local day the ledger entries *files* can change kept facts from (rules above).

    Returns
    -------
    datetime.date or None
        None when they change nothing kept; :data:`WHOLE` for the whole history.
    """
    if not files:
        return None
    f = _files(files)
    # dated rows: an entry that wrote sessions a day earlier (a local day starts before its UTC day)
    lo = wh.rows(
        f"""SELECT min(CASE WHEN earliest_at > TIMESTAMP '0001-01-02'
                             AND EXISTS (SELECT 1 FROM sessions s WHERE s.file_id = l.file_id)
                        THEN earliest_at - INTERVAL 1 DAY ELSE earliest_at END)
            FROM ingest_ledger l WHERE file_id IN {f}"""
    )[0][0]
    days = [_day(lo), _telemetry(wh, f), _horizon(wh, f, offline_after_s), _evidence(wh, f), _descriptions(wh)]
    days = [d for d in days if d is not None]
    return min(days) if days else None


def _telemetry(wh: WarehouseLike, f: str) -> dt.date | None:
    """Each charger's previous message before the entries' first one, and each port's last ``up`` status before its new one.

    A port whose stored statuses before its new one hold no ``up`` one counts from its first status.
    """
    firsts = " UNION ALL ".join(
        f"SELECT charger_id, min({t.format(a='')}) AS t FROM {name} WHERE file_id IN {f} GROUP BY charger_id"
        for name, t in TELEMETRY
    )
    before = " UNION ALL ".join(
        f"""SELECT x.charger_id, max({t.format(a="x.")}) AS t FROM {name} x JOIN first_new n ON n.charger_id = x.charger_id
            WHERE x.file_id NOT IN {f} AND {t.format(a="x.")} < n.t GROUP BY x.charger_id"""
        for name, t in TELEMETRY
    )
    row = wh.rows(
        f"""WITH first_new AS (SELECT charger_id, min(t) AS t FROM ({firsts}) a GROUP BY charger_id),
                 prev AS (SELECT charger_id, max(t) AS t FROM ({before}) b GROUP BY charger_id),
                 first_status AS (
                     SELECT charger_id, connector_id, min(observed_at) AS t FROM status_events
                     WHERE file_id IN {f} GROUP BY charger_id, connector_id
                 ),
                 up AS (
                     -- the start of the state the new status ends: after the port's last up status, or its first
                     SELECT coalesce(max(x.observed_at) FILTER (WHERE x.status IN ({_UP})), min(x.observed_at)) AS t
                     FROM status_events x JOIN first_status n
                       ON n.charger_id = x.charger_id AND n.connector_id IS NOT DISTINCT FROM x.connector_id
                     WHERE x.file_id NOT IN {f} AND x.observed_at < n.t
                     GROUP BY x.charger_id, x.connector_id
                 )
            SELECT least((SELECT min(t) FROM prev), (SELECT min(t) FROM up))"""
    )[0][0]
    return _day(row)


def _horizon(wh: WarehouseLike, f: str, offline_after_s: int) -> dt.date | None:
    """The start of the earliest outage open at the old data horizon, when the entries move the horizon on."""
    old = " UNION ALL ".join(
        f"SELECT charger_id, {t.format(a='')} AS t FROM {name} WHERE file_id NOT IN {f}" for name, t in TELEMETRY
    )
    new = " UNION ALL ".join(
        f"SELECT max({t.format(a='')}) AS t FROM {name} WHERE file_id IN {f}" for name, t in TELEMETRY
    )
    row = wh.rows(
        f"""WITH old AS ({old}),
                 h AS (SELECT max(t) AS t FROM old),
                 moved AS (SELECT (SELECT max(t) FROM ({new}) n) > (SELECT t FROM h) AS yes),
                 alive AS (SELECT DISTINCT charger_id FROM ports
                           WHERE decommissioned_on IS NULL OR decommissioned_on > CAST((SELECT t FROM h) AS DATE)),
                 silent AS (
                     SELECT max(o.t) AS last FROM old o JOIN alive a ON a.charger_id = o.charger_id
                     GROUP BY o.charger_id
                     HAVING max(o.t) < (SELECT t FROM h) - to_seconds({int(offline_after_s)})
                 ),
                 last_status AS (
                     SELECT charger_id, connector_id, arg_max(status, observed_at) AS status,
                            max(observed_at) FILTER (WHERE status IN ({_UP})) AS last_up, min(observed_at) AS first
                     FROM status_events WHERE file_id NOT IN {f} AND charger_id IN (SELECT charger_id FROM alive)
                     GROUP BY charger_id, connector_id
                 )
            SELECT CASE WHEN (SELECT yes FROM moved) THEN least(
                       (SELECT min(last) FROM silent),
                       (SELECT min(coalesce(last_up, first)) FROM last_status WHERE status NOT IN ({_UP}))) END"""
    )[0][0]
    return _day(row)


def _evidence(wh: WarehouseLike, f: str) -> dt.date | None:
    """The whole history when the entries place a port before its earliest evidence from other entries."""
    row = wh.rows(
        f"""WITH e AS (
                SELECT s.port_id, s.started_at AS t, s.file_id FROM sessions s WHERE s.port_id IS NOT NULL
                UNION ALL
                SELECT port_id, CAST(coalesce(observed_on, from_on, DATE '0001-01-01') AS TIMESTAMP), file_id
                FROM {port_sites.TABLE}
            ), n AS (SELECT port_id, min(t) AS t FROM e WHERE file_id IN {f} GROUP BY port_id),
               o AS (SELECT port_id, min(t) AS t FROM e WHERE file_id NOT IN {f} GROUP BY port_id)
            SELECT count(*) FROM n JOIN o ON o.port_id = n.port_id WHERE n.t < o.t"""
    )[0][0]
    return WHOLE if row else None


def _descriptions(wh: WarehouseLike) -> dt.date | None:
    """Sites, ports and utility tariffs whose description differs from the kept snapshot."""
    have = {
        r[0]
        for r in wh.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_name LIKE 'kept_dims_%'"
        )
    }
    if set(SNAPSHOTS) - have:
        return WHOLE
    whole = f"DATE '{WHOLE}'"
    row = wh.rows(
        f"""WITH sites_now AS ({SNAPSHOTS["kept_dims_sites"]}), ports_now AS ({SNAPSHOTS["kept_dims_ports"]}),
                 tariffs_now AS ({SNAPSHOTS["kept_dims_tariffs"]}),
            site_changed AS (
                SELECT count(*) AS n FROM sites_now s JOIN kept_dims_sites k ON k.site_id = s.site_id
                WHERE s.time_zone IS DISTINCT FROM k.time_zone OR s.operating_hours IS DISTINCT FROM k.operating_hours
                   OR s.customer_id IS DISTINCT FROM k.customer_id
            ),
            port_changed AS (
                SELECT CASE
                         WHEN k.port_id IS NULL THEN coalesce(p.commissioned_on, {whole})
                         WHEN p.charger_id IS DISTINCT FROM k.charger_id OR p.connector_id IS DISTINCT FROM k.connector_id
                           OR p.rated_kw IS DISTINCT FROM k.rated_kw THEN {whole}
                         ELSE least(
                           CASE WHEN p.commissioned_on IS DISTINCT FROM k.commissioned_on
                                THEN least(coalesce(p.commissioned_on, {whole}), coalesce(k.commissioned_on, {whole})) END,
                           CASE WHEN p.decommissioned_on IS DISTINCT FROM k.decommissioned_on
                                THEN least(coalesce(p.decommissioned_on, DATE '9999-12-31'),
                                           coalesce(k.decommissioned_on, DATE '9999-12-31')) END)
                       END AS d
                FROM ports_now p LEFT JOIN kept_dims_ports k ON k.port_id = p.port_id
            ),
            tariff_changed AS (
                SELECT t.utility_tariff_id, t.eiaid, t.name, t.sector FROM tariffs_now t
                LEFT JOIN kept_dims_tariffs k ON k.utility_tariff_id = t.utility_tariff_id
                WHERE k.utility_tariff_id IS NULL OR t.rate_hash IS DISTINCT FROM k.rate_hash
                   OR t.start_on IS DISTINCT FROM k.start_on OR t.end_on IS DISTINCT FROM k.end_on
            ),
            tariff_family AS (
                SELECT u.utility_tariff_id FROM utility_tariffs u JOIN tariff_changed c
                  ON u.utility_tariff_id = c.utility_tariff_id
                  OR (u.eiaid = c.eiaid AND u.name = c.name AND u.sector IS NOT DISTINCT FROM c.sector)
            )
            SELECT least(
                CASE WHEN (SELECT n FROM site_changed) > 0 THEN {whole} END,
                (SELECT min(d) FROM port_changed),
                (SELECT min(coalesce(h.valid_from, {whole})) FROM site_history h
                 WHERE h.utility_tariff_id IN (SELECT utility_tariff_id FROM tariff_family)))"""
    )[0][0]
    return _day(row)
