"""Port status timelines, the outage ledger and the port-month uptime fact (handbook §4).

Everything is plain SQL over the warehouse tables, written once in DuckDB's
dialect and run through the warehouse (:meth:`~evrevops.warehouse.db.Warehouse.execute`):
as is on DuckDB, transpiled by SQLGlot on Spark
(:class:`~evrevops.warehouse.spark.SparkWarehouse`), as a few temporary tables.
No Python loop runs per event; only the site-local calendar is built on the
driver (pandas, from ``sites``) and registered as a table.

The SQL keeps to what both engines run alike: durations are integer
microseconds between instants (:func:`us_sql`, ``date_diff('microsecond', …)``)
summed as integers and turned into seconds once (so sums do not depend on the
order an engine adds in), weekdays and day offsets come from the calendar's
integer ``day_num``, no ``epoch``, ``INTERVAL`` arithmetic, ``isodow`` or
``any_value``.

**Timeline.** A port's state at any instant comes from three components, each
holding its last value (``last_value … IGNORE NULLS``):

* the port's own status events (OCPP 1.6 ``connectorId`` ≥ 1, OCPP 2.0.1
  ``evseId``, OCPI EVSE status, status feeds);
* its charger's connector-0 status (OCPP: the whole charge point);
* liveness: an OCPP charger that has sent nothing — no status, heartbeat,
  meter value or transaction message — for longer than ``offline_after_s`` is
  **offline from its last message** until its next one (and up to the data
  horizon ``as_of`` if none came); its first message puts it online.

The state is the worst of them (:data:`~evrevops.core.states.RANK`):
silent ⇒ ``offline``; else Faulted/Unavailable on the port or the charger ⇒
``fault``; else a reported up status, or an online charger that has not
reported its connectors ⇒ ``up``; with no observation at all ⇒ ``no_data``.
Events are ordered by instant; at equal instants the worst status wins, so
out-of-order lines give the same timeline and a replayed event (same key) was
already dropped as a duplicate at ingest. Silence is inferred only for
chargers that speak OCPP (heartbeats are their evidence of life); a status
feed states its own gaps (``Unknown``).

**Lifetime.** A port is measured from the site-local midnight of its
``commissioned_on`` (or the start of the range) to that of its
``decommissioned_on`` (or the end of the range), and never past ``as_of``
(the data horizon: the latest telemetry in the warehouse unless given), nor
before the network's first telemetry (there is nothing to measure before it).

**Outages.** Maximal runs of ``fault``/``offline`` time are outages;
``no_data`` runs are listed in the ledger separately. ``T_outage`` counts
fault, offline and no-data minutes (time that cannot be shown to be up is not
counted as up). ``T_excluded`` is the part of ``T_outage`` covered by an
incident with a NEVI-excludable cause (on the port, its charger or its site)
or outside the site's stated operating hours — the union, so overlapping
evidence is never counted twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from evrevops.core.calendar import add_months, closed_windows, month_end, site_days
from evrevops.core.sqltext import ts_sql
from evrevops.core.states import FAULT, NO_DATA, OFFLINE, RANK, STATUS_STATE, UP
from evrevops.warehouse.protocol import WarehouseLike

if TYPE_CHECKING:
    from evrevops.warehouse.spark import SparkWarehouse

US_PER_S = 1_000_000
DEFAULT_OFFLINE_AFTER_S = 5 * 3600
CAL = "_uptime_calendar"
CLOSED = "_uptime_closed"
PORTS = "_uptime_ports"
INTERVALS = "_uptime_intervals"
PIECES = "_uptime_pieces"
LEDGER = "_uptime_ledger"
MONTHS = "_uptime_months"

_STATE_NAME = {v: k for k, v in RANK.items()}


def us_sql(col: str, since: str = "TIMESTAMP '1970-01-01 00:00:00'") -> str:
    """SQL of the microseconds from *since* to the instant *col* (BIGINT; Unix microseconds by default).

    ``date_diff('microsecond', a, b)`` is exact on DuckDB and Spark (``DATEDIFF(MICROSECOND, …)``),
    where ``epoch`` is a DOUBLE on one and whole seconds on the other.
    """
    return f"date_diff('microsecond', {since}, {col})"


def seconds_sql(us: str) -> str:
    """SQL turning integer microseconds *us* into seconds [s] (DOUBLE, the same on every engine)."""
    return f"CAST({us} AS DOUBLE) / {US_PER_S}"


def status_rank_sql(col: str = "status") -> str:
    """SQL ``CASE`` giving a status string's state rank (unknown statuses rank as ``fault``)."""
    whens = " ".join(f"WHEN '{s}' THEN {RANK[st]}" for s, st in STATUS_STATE.items())
    return f"CASE {col} {whens} ELSE {RANK[FAULT]} END"


@dataclass(frozen=True)
class Range:
    """What a timeline was built for.

    ``first_month`` … ``last_month`` are site-local months (first days);
    ``data_start`` … ``as_of`` the telemetry span measured (UTC);
    ``offline_after_s`` the silence window [s].
    """

    first_month: dt.date
    last_month: dt.date
    data_start: dt.datetime
    as_of: dt.datetime
    offline_after_s: int


def data_span(wh: WarehouseLike | SparkWarehouse) -> tuple[dt.datetime, dt.datetime] | None:
    """The first and last telemetry instants in the warehouse (status, heartbeat, meter value, transaction).

    Telemetry is measured only inside this span: before the first record of
    the whole network there is nothing to measure (not an outage of every
    port), and after the last one the future is not known yet.
    """
    row = wh.fetch(
        """SELECT least(
               (SELECT min(observed_at) FROM status_events),
               (SELECT min(observed_at) FROM heartbeats),
               (SELECT min(observed_at) FROM meter_readings),
               (SELECT min(started_at) FROM ocpp_transactions)) AS lo,
           greatest(
               (SELECT max(observed_at) FROM status_events),
               (SELECT max(observed_at) FROM heartbeats),
               (SELECT max(observed_at) FROM meter_readings),
               (SELECT max(coalesce(ended_at, started_at)) FROM ocpp_transactions)) AS hi"""
    ).to_pylist()[0]
    lo, hi = (_naive(v) for v in row.values())
    return None if lo is None else (lo, hi)


def _naive(t: dt.datetime | None) -> dt.datetime | None:
    """A UTC instant without its offset (Spark returns zone-aware UTC instants, DuckDB naive ones)."""
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t is not None and t.tzinfo is not None else t


def horizon_month(wh: WarehouseLike | SparkWarehouse, last_month: dt.date, as_of: dt.datetime | None = None) -> dt.date:
    """The last month to build the timeline through, so outages starting by *last_month* are whole.

    An outage that starts in a reported month and ends after it is a failure
    of that month with its whole duration (``repair_s``), up to the data
    horizon (*as_of*, else the latest telemetry); building the timeline only
    to the end of the reported months would cut it there, and the same month's
    MTTR would change with the months asked for. So the timeline runs to the
    horizon's month when that is later.
    """
    if as_of is None:
        span = data_span(wh)
        as_of = span[1] if span is not None else None
    if as_of is None:
        return last_month
    return max(last_month, as_of.date().replace(day=1))


def last_full_month(wh: WarehouseLike | SparkWarehouse) -> str | None:
    """The latest month (``YYYY-MM``) the telemetry covers to its end (UTC), or None without telemetry."""
    span = data_span(wh)
    if span is None:
        return None
    last = span[1].date()
    m = (
        last.replace(day=1)
        if (last + dt.timedelta(days=1)).month != last.month
        else add_months(last.replace(day=1), -1)
    )
    return f"{m:%Y-%m}"


def build(
    wh: WarehouseLike | SparkWarehouse,
    first_month: dt.date,
    last_month: dt.date,
    as_of: dt.datetime | None = None,
    offline_after_s: int = DEFAULT_OFFLINE_AFTER_S,
    data_start: dt.datetime | None = None,
    trailing: bool = True,
) -> Range:
    """Build the timeline, ledger and port-month fact for local months ``first_month`` … ``last_month``.

    The trailing-twelve-month figures of ``first_month`` need the eleven
    months before it, so the timeline starts eleven months earlier. Results are
    the temporary tables :data:`INTERVALS`, :data:`LEDGER` and :data:`MONTHS` of
    the warehouse, DuckDB or Spark (see :func:`ledger_sql` and :func:`months_sql` for
    their columns); read them with :func:`fetch` or ``wh.table(name)``.

    Parameters
    ----------
    first_month, last_month : datetime.date
        First days of the first and last local month reported.
    as_of : datetime.datetime, optional
        Data horizon (UTC): nothing after it is measured; a charger silent at
        it for longer than ``offline_after_s`` is offline since its last
        message. Default: the latest telemetry in the warehouse.
    data_start : datetime.datetime, optional
        Nothing before it is measured. Default: the first telemetry in the
        warehouse (:func:`data_span`).
    trailing : bool
        Start eleven months before ``first_month`` (default), so the
        trailing-twelve-month sums of every reported month are complete;
        otherwise three months before (the baseline of revenue at risk).
    offline_after_s : int
        Silence window [s] after which an OCPP charger counts as offline.
    """
    if offline_after_s <= 0:
        raise ValueError("offline_after_s must be positive")
    first_month, last_month = first_month.replace(day=1), last_month.replace(day=1)
    if last_month < first_month:
        raise ValueError(f"last month {last_month:%Y-%m} is before first month {first_month:%Y-%m}")
    span = data_span(wh) or (dt.datetime(1970, 1, 1), dt.datetime(1970, 1, 1))
    as_of = span[1] if as_of is None else as_of
    data_start = span[0] if data_start is None else data_start
    # eleven months back for the trailing sums; at least three for revenue at risk's 13-week baseline
    start = add_months(first_month, -11 if trailing else -3)
    end = month_end(last_month)
    # the site-local calendar is built on the driver (a few rows per site and day) and registered
    sites = wh.fetch("SELECT site_id, time_zone, operating_hours FROM sites").to_pandas()
    wh.register(CAL, site_days(sites, start, end))
    wh.register(CLOSED, closed_windows(sites, start, end))
    r = Range(first_month, last_month, data_start, as_of, int(offline_after_s))
    for sql in (ports_sql(r), intervals_sql(r), pieces_sql(r), ledger_sql(r), months_sql(r)):
        wh.execute(sql)
    return r


def ports_sql(r: Range) -> str:
    """``_uptime_ports``: every port with a site, and its measured lifetime ``[life_start, life_end)``."""
    return f"""
CREATE OR REPLACE TEMP TABLE {PORTS} AS
WITH bounds AS (
    SELECT site_id, min(local_date) AS first_day, max(local_date) AS last_day,
           min(day_start_at) AS lo, max(day_end_at) AS hi
    FROM {CAL} GROUP BY site_id
), p AS (
    SELECT p.port_id, p.site_id, p.charger_id, p.connector_id,
           CASE WHEN p.commissioned_on IS NULL OR p.commissioned_on <= b.first_day THEN b.lo
                WHEN p.commissioned_on > b.last_day THEN b.hi
                ELSE cs.day_start_at END AS life_start,
           CASE WHEN p.decommissioned_on IS NULL OR p.decommissioned_on > b.last_day THEN b.hi
                WHEN p.decommissioned_on <= b.first_day THEN b.lo
                ELSE cd.day_start_at END AS life_end,
           b.lo AS range_start
    FROM ports p
    JOIN bounds b ON b.site_id = p.site_id
    LEFT JOIN {CAL} cs ON cs.site_id = p.site_id AND cs.local_date = p.commissioned_on
    LEFT JOIN {CAL} cd ON cd.site_id = p.site_id AND cd.local_date = p.decommissioned_on
)
SELECT port_id, site_id, charger_id, connector_id, greatest(life_start, {ts_sql(r.data_start)}) AS life_start,
       least(life_end, {ts_sql(r.as_of)}) AS life_end, greatest(range_start, {ts_sql(r.data_start)}) AS range_start
FROM p
WHERE least(life_end, {ts_sql(r.as_of)}) > greatest(life_start, {ts_sql(r.data_start)})
"""


# Every message of an OCPP charger, as ``(charger_id, t)``: the evidence of life silence is inferred from.
MESSAGES_SQL = """
    SELECT charger_id, observed_at AS t FROM status_events WHERE protocol LIKE 'ocpp%'
    UNION ALL SELECT charger_id, observed_at FROM heartbeats
    UNION ALL SELECT charger_id, observed_at FROM meter_readings
    UNION ALL SELECT charger_id, started_at FROM ocpp_transactions WHERE started_at IS NOT NULL
    UNION ALL SELECT charger_id, ended_at FROM ocpp_transactions WHERE ended_at IS NOT NULL
"""


def _liveness_sql(r: Range) -> str:
    """Silence gaps of OCPP chargers: ``(charger_id, t, live)`` with live 1 = online, 2 = offline from t.

    Each charger's messages in time order: a message more than ``offline_after_s``
    after the one before puts the charger online again (the first one too); a
    message followed by none for longer (or by the horizon) makes it offline from
    that message.
    """
    w = r.offline_after_s * US_PER_S
    as_of = ts_sql(r.as_of)
    return f"""
msgs AS ({MESSAGES_SQL}), seq AS (
    SELECT charger_id, t,
           lag(t) OVER (PARTITION BY charger_id ORDER BY t) AS prev_t,
           lead(t) OVER (PARTITION BY charger_id ORDER BY t) AS next_t
    FROM msgs
    WHERE t <= {as_of} AND charger_id IN (SELECT charger_id FROM {PORTS})
), live AS (
    -- online from the first message, and again after every silence
    SELECT charger_id, t, 1 AS live FROM seq
    WHERE prev_t IS NULL OR {us_sql("t", "prev_t")} > {w}
    UNION ALL
    -- offline from the last message before a silence (or before the horizon)
    SELECT charger_id, t, 2 AS live FROM seq
    WHERE (next_t IS NULL AND {us_sql(as_of, "t")} > {w}) OR {us_sql("next_t", "t")} > {w}
)"""


def intervals_sql(r: Range) -> str:
    """``_uptime_intervals``: each port's time cut into intervals of constant state.

    Columns: ``port_id``, ``site_id``, ``charger_id``, ``s``, ``e`` (UTC),
    ``state`` (up / no_data / fault / offline), ``label`` (the status that set
    it, or ``offline`` for an inferred silence), ``error_code``, ``island``
    (consecutive intervals of the same class — up, no_data, outage — share it)
    and ``cls``.
    """
    rank = status_rank_sql("e.status")
    names = " ".join(f"WHEN {v} THEN '{k}'" for v, k in _STATE_NAME.items())
    return f"""
CREATE OR REPLACE TEMP TABLE {INTERVALS} AS
WITH {_liveness_sql(r)},
ev AS (
    -- the port's own status events
    SELECT p.port_id, e.observed_at AS t, 1 AS comp, {rank} AS val, e.status, e.error_code
    FROM status_events e JOIN {PORTS} p ON p.port_id = e.port_id
    WHERE e.observed_at < p.life_end
    UNION ALL
    -- the charger's connector-0 status, for each of its ports
    SELECT p.port_id, e.observed_at, 2, {rank}, e.status, e.error_code
    FROM status_events e JOIN {PORTS} p ON p.charger_id = e.charger_id
    WHERE e.connector_id = 0 AND e.port_id IS NULL AND e.observed_at < p.life_end
    UNION ALL
    SELECT p.port_id, l.t, 3, l.live, NULL, NULL
    FROM live l JOIN {PORTS} p ON p.charger_id = l.charger_id
    WHERE l.t < p.life_end
    UNION ALL
    -- a marker at the start of the lifetime, so an interval begins there
    SELECT port_id, life_start, 0, NULL, NULL, NULL FROM {PORTS}
), acc AS (
    SELECT port_id, t, comp, val,
           last_value(CASE WHEN comp = 1 THEN val END IGNORE NULLS) OVER w AS p_val,
           last_value(CASE WHEN comp = 1 THEN status END IGNORE NULLS) OVER w AS p_status,
           last_value(CASE WHEN comp = 1 THEN error_code END IGNORE NULLS) OVER w AS p_err,
           last_value(CASE WHEN comp = 2 THEN val END IGNORE NULLS) OVER w AS c_val,
           last_value(CASE WHEN comp = 2 THEN status END IGNORE NULLS) OVER w AS c_status,
           last_value(CASE WHEN comp = 2 THEN error_code END IGNORE NULLS) OVER w AS c_err,
           last_value(CASE WHEN comp = 3 THEN val END IGNORE NULLS) OVER w AS live,
           lead(t) OVER w2 AS next_t
    FROM ev
    -- at equal instants the worst status comes last (and so holds); equal ranks order by status and
    -- error code, so the result never depends on the order rows were read in
    WINDOW w AS (PARTITION BY port_id ORDER BY t, val NULLS FIRST, comp, status NULLS FIRST, error_code NULLS FIRST
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           w2 AS (PARTITION BY port_id ORDER BY t, val NULLS FIRST, comp, status NULLS FIRST, error_code NULLS FIRST)
), st AS (
    SELECT a.port_id, p.site_id, p.charger_id,
           greatest(a.t, p.life_start) AS s,
           least(coalesce(a.next_t, p.life_end), p.life_end) AS e,
           CASE WHEN a.live = 2 THEN {RANK[OFFLINE]}
                WHEN a.p_val IS NULL AND a.c_val IS NULL
                     THEN CASE WHEN a.live = 1 THEN {RANK[UP]} ELSE {RANK[NO_DATA]} END
                ELSE greatest(coalesce(a.p_val, 0), coalesce(a.c_val, 0)) END AS rk,
           CASE WHEN a.live = 2 THEN 'offline'
                WHEN coalesce(a.c_val, -1) > coalesce(a.p_val, -1) THEN a.c_status
                WHEN a.p_val IS NULL AND a.c_val IS NULL THEN CASE WHEN a.live = 1 THEN 'online' ELSE 'no data' END
                ELSE a.p_status END AS label,
           CASE WHEN a.live = 2 THEN NULL
                WHEN coalesce(a.c_val, -1) > coalesce(a.p_val, -1) THEN a.c_err ELSE a.p_err END AS error_code
    FROM acc a JOIN {PORTS} p ON p.port_id = a.port_id
), kept AS (
    SELECT port_id, site_id, charger_id, s, e,
           CASE rk {names} END AS state, label, error_code,
           CASE WHEN rk = {RANK[UP]} THEN 'up' WHEN rk = {RANK[NO_DATA]} THEN 'no_data' ELSE 'outage' END AS cls
    FROM st WHERE e > s
), marked AS (
    SELECT *, CASE WHEN cls = lag(cls) OVER (PARTITION BY port_id ORDER BY s) THEN 0 ELSE 1 END AS new_island
    FROM kept
)
SELECT port_id, site_id, charger_id, s, e, state, label, error_code, cls,
       sum(new_island) OVER (PARTITION BY port_id ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
           AS island
FROM marked
"""


def _exclusions_sql(r: Range) -> str:
    """``excl``: per port, the merged intervals of excludable evidence (NEVI causes, closed hours)."""
    as_of = ts_sql(r.as_of)
    return f"""
ev_x AS (
    SELECT p.port_id, i.started_at AS s, coalesce(i.ended_at, {as_of}) AS e
    FROM incidents i JOIN {PORTS} p ON p.port_id = i.port_id WHERE i.nevi_excludable
    UNION ALL
    SELECT p.port_id, i.started_at, coalesce(i.ended_at, {as_of})
    FROM incidents i JOIN {PORTS} p ON p.charger_id = i.charger_id
    WHERE i.nevi_excludable AND i.port_id IS NULL
    UNION ALL
    SELECT p.port_id, i.started_at, coalesce(i.ended_at, {as_of})
    FROM incidents i JOIN {PORTS} p ON p.site_id = i.site_id
    WHERE i.nevi_excludable AND i.port_id IS NULL AND i.charger_id IS NULL
    UNION ALL
    SELECT p.port_id, c.closed_start_at, c.closed_end_at
    FROM {CLOSED} c JOIN {PORTS} p ON p.site_id = c.site_id
), ev_xm AS (
    SELECT port_id, s, e,
           CASE WHEN s <= max(e) OVER (PARTITION BY port_id ORDER BY s, e
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                THEN 0 ELSE 1 END AS new_run
    FROM ev_x WHERE e > s
), ev_xr AS (
    SELECT port_id, s, e,
           sum(new_run) OVER (PARTITION BY port_id ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
               AS run
    FROM ev_xm
), excl AS (
    SELECT port_id, min(s) AS s, max(e) AS e FROM ev_xr GROUP BY port_id, run
)"""


def pieces_sql(r: Range) -> str:
    """``_uptime_pieces``: intervals cut at site-local month boundaries, with their excluded time.

    Columns: the interval's columns, ``month`` (first local day), ``dur_us``
    and ``excluded_us`` [µs] (integers; the overlap with the port's merged
    exclusion intervals; 0 for up time).
    """
    return f"""
CREATE OR REPLACE TEMP TABLE {PIECES} AS
WITH months AS (
    SELECT site_id, month, min(day_start_at) AS ms, max(day_end_at) AS me FROM {CAL} GROUP BY site_id, month
), {_exclusions_sql(r)},
pc AS (
    SELECT i.port_id, i.site_id, i.charger_id, i.state, i.label, i.error_code, i.cls, i.island, m.month,
           greatest(i.s, m.ms) AS s, least(i.e, m.me) AS e
    FROM {INTERVALS} i JOIN months m ON m.site_id = i.site_id AND m.ms < i.e AND m.me > i.s
), ex AS (
    SELECT pc.port_id, pc.s, sum({us_sql("least(pc.e, x.e)", "greatest(pc.s, x.s)")}) AS excluded_us
    FROM pc JOIN excl x ON x.port_id = pc.port_id AND x.s < pc.e AND x.e > pc.s
    WHERE pc.cls <> 'up'
    GROUP BY pc.port_id, pc.s
)
SELECT pc.*, {us_sql("pc.e", "pc.s")} AS dur_us, CAST(coalesce(ex.excluded_us, 0) AS BIGINT) AS excluded_us
FROM pc LEFT JOIN ex ON ex.port_id = pc.port_id AND ex.s = pc.s
"""


def ledger_sql(r: Range) -> str:
    """``_uptime_ledger``: one row per outage (and per no-data run) of every port.

    Columns: ``outage_id`` (``port_id@start``), ``port_id``, ``site_id``,
    ``charger_id``, ``started_at``, ``ended_at`` (NULL while open at the
    horizon), ``duration_s``, ``state`` (``outage`` or ``no_data``),
    ``fault_s``, ``offline_s``, ``statuses`` (the distinct labels of its
    time) and ``error_codes`` (every error code other than ``NoError`` the port
    or its charger reported during it; comma-separated), ``excluded_s``, ``cause``,
    ``incident_id``, ``nevi_excludable`` (the incident overlapping it most,
    whatever its cause), ``open``, ``start_clipped`` (the run began before the
    timeline did), and ``duration_us``, ``excluded_us`` (the same durations in integer
    microseconds [µs], which sums add exactly). Durations in seconds [s] are DOUBLE.
    """
    as_of = ts_sql(r.as_of)
    return f"""
CREATE OR REPLACE TEMP TABLE {LEDGER} AS
WITH runs AS (
    SELECT port_id, min(site_id) AS site_id, min(charger_id) AS charger_id, island,
           min(cls) AS cls, min(s) AS started_at, max(e) AS run_end, sum(dur_us) AS duration_us,
           sum(CASE WHEN state = '{FAULT}' THEN dur_us ELSE 0 END) AS fault_us,
           sum(CASE WHEN state = '{OFFLINE}' THEN dur_us ELSE 0 END) AS offline_us,
           sum(excluded_us) AS excluded_us,
           string_agg(DISTINCT label, ',' ORDER BY label) AS statuses
    FROM {PIECES} WHERE cls <> 'up'
    GROUP BY port_id, island
), errs AS (
    -- every error code reported during the outage, by the port or its whole charger (connector 0)
    SELECT r.port_id, r.island, string_agg(DISTINCT x.error_code, ',' ORDER BY x.error_code) AS error_codes
    FROM runs r JOIN (
        SELECT p.port_id, e.observed_at, e.error_code FROM status_events e JOIN {PORTS} p ON p.port_id = e.port_id
        WHERE e.error_code IS NOT NULL AND e.error_code <> 'NoError'
        UNION ALL
        SELECT p.port_id, e.observed_at, e.error_code FROM status_events e JOIN {PORTS} p ON p.charger_id = e.charger_id
        WHERE e.connector_id = 0 AND e.port_id IS NULL AND e.error_code IS NOT NULL AND e.error_code <> 'NoError'
    ) x ON x.port_id = r.port_id AND x.observed_at >= r.started_at AND x.observed_at < r.run_end
    GROUP BY r.port_id, r.island
), inc AS (
    SELECT p.port_id, i.incident_id, i.cause, i.nevi_excludable, i.started_at AS s, coalesce(i.ended_at, {as_of}) AS e
    FROM incidents i JOIN {PORTS} p ON p.port_id = i.port_id
    UNION ALL
    SELECT p.port_id, i.incident_id, i.cause, i.nevi_excludable, i.started_at, coalesce(i.ended_at, {as_of})
    FROM incidents i JOIN {PORTS} p ON p.charger_id = i.charger_id WHERE i.port_id IS NULL
    UNION ALL
    SELECT p.port_id, i.incident_id, i.cause, i.nevi_excludable, i.started_at, coalesce(i.ended_at, {as_of})
    FROM incidents i JOIN {PORTS} p ON p.site_id = i.site_id WHERE i.port_id IS NULL AND i.charger_id IS NULL
), hit AS (
    SELECT r.port_id, r.island, i.incident_id, i.cause, i.nevi_excludable,
           row_number() OVER (PARTITION BY r.port_id, r.island
                              ORDER BY {us_sql("least(r.run_end, i.e)", "greatest(r.started_at, i.s)")} DESC,
                                       i.incident_id) AS rn
    FROM runs r JOIN inc i ON i.port_id = r.port_id AND i.s < r.run_end AND i.e > r.started_at
)
SELECT r.port_id || '@' || strftime(r.started_at, '%Y-%m-%d') || 'T' || strftime(r.started_at, '%H:%M:%S') || 'Z'
           AS outage_id,
       r.port_id, r.site_id, r.charger_id, r.started_at,
       CASE WHEN r.run_end >= p.life_end AND p.life_end >= {as_of} THEN NULL ELSE r.run_end END AS ended_at,
       {seconds_sql("r.duration_us")} AS duration_s, CASE WHEN r.cls = 'outage' THEN 'outage' ELSE 'no_data' END AS state,
       {seconds_sql("r.fault_us")} AS fault_s, {seconds_sql("r.offline_us")} AS offline_s, r.statuses, er.error_codes,
       {seconds_sql("r.excluded_us")} AS excluded_s,
       h.cause, h.incident_id, coalesce(h.nevi_excludable, FALSE) AS nevi_excludable,
       (r.run_end >= p.life_end AND p.life_end >= {as_of}) AS open,
       (r.started_at <= p.range_start) AS start_clipped,
       CAST(r.duration_us AS BIGINT) AS duration_us, CAST(r.excluded_us AS BIGINT) AS excluded_us
FROM runs r JOIN {PORTS} p ON p.port_id = r.port_id
LEFT JOIN hit h ON h.port_id = r.port_id AND h.island = r.island AND h.rn = 1
LEFT JOIN errs er ON er.port_id = r.port_id AND er.island = r.island
"""


def months_sql(r: Range) -> str:
    """``_uptime_months``: the port-month uptime fact, with trailing-twelve-month sums.

    Columns (durations in seconds): ``port_id``, ``site_id``, ``charger_id``,
    ``month``, ``month_idx`` (year × 12 + month − 1), ``period_start_at``,
    ``period_end_at``, ``period_s`` (the port's measured time in the month),
    ``outage_s`` (T_outage: fault + offline + no data), ``fault_s``,
    ``offline_s``, ``no_data_s``, ``excluded_s`` (T_excluded),
    ``excluded_no_data_s``, ``outages`` (outage runs starting in the month),
    ``failures`` (those not wholly excluded), ``repair_s`` (their whole
    durations), and ``t12_period_s``, ``t12_outage_s``, ``t12_excluded_s``,
    ``t12_months`` over the twelve months ending with ``month``, and
    ``t12_period_start_at`` (the first measured instant of those months).
    """
    return f"""
CREATE OR REPLACE TEMP TABLE {MONTHS} AS
WITH agg_us AS (
    -- integer microseconds, so the trailing sums are exact whatever order an engine adds in
    SELECT port_id, min(site_id) AS site_id, min(charger_id) AS charger_id, month,
           min(s) AS period_start_at, max(e) AS period_end_at, sum(dur_us) AS period_us,
           sum(CASE WHEN cls <> 'up' THEN dur_us ELSE 0 END) AS outage_us,
           sum(CASE WHEN state = '{FAULT}' THEN dur_us ELSE 0 END) AS fault_us,
           sum(CASE WHEN state = '{OFFLINE}' THEN dur_us ELSE 0 END) AS offline_us,
           sum(CASE WHEN state = '{NO_DATA}' THEN dur_us ELSE 0 END) AS no_data_us,
           sum(excluded_us) AS excluded_us,
           sum(CASE WHEN state = '{NO_DATA}' THEN excluded_us ELSE 0 END) AS excluded_no_data_us
    FROM {PIECES} GROUP BY port_id, month
), agg AS (
    SELECT port_id, site_id, charger_id, month, period_start_at, period_end_at, period_us, outage_us, excluded_us,
           {seconds_sql("period_us")} AS period_s, {seconds_sql("outage_us")} AS outage_s,
           {seconds_sql("fault_us")} AS fault_s, {seconds_sql("offline_us")} AS offline_s,
           {seconds_sql("no_data_us")} AS no_data_s, {seconds_sql("excluded_us")} AS excluded_s,
           {seconds_sql("excluded_no_data_us")} AS excluded_no_data_s
    FROM agg_us
), starts AS (
    SELECT l.port_id, pc.month, count(*) AS outages,
           sum(CASE WHEN l.excluded_us < l.duration_us THEN 1 ELSE 0 END) AS failures,
           sum(CASE WHEN l.excluded_us < l.duration_us THEN l.duration_us ELSE 0 END) AS repair_us
    FROM {LEDGER} l
    JOIN {PIECES} pc ON pc.port_id = l.port_id AND pc.s = l.started_at
    WHERE l.state = 'outage'
    GROUP BY l.port_id, pc.month
), m AS (
    SELECT a.*, year(a.month) * 12 + month(a.month) - 1 AS month_idx,
           coalesce(s.outages, 0) AS outages, coalesce(s.failures, 0) AS failures,
           coalesce(s.repair_us, 0) AS repair_us
    FROM agg a LEFT JOIN starts s ON s.port_id = a.port_id AND s.month = a.month
)
SELECT port_id, site_id, charger_id, month, period_start_at, period_end_at, period_s, outage_s, fault_s,
       offline_s, no_data_s, excluded_s, excluded_no_data_s, month_idx, outages, failures,
       {seconds_sql("repair_us")} AS repair_s,
       {seconds_sql("sum(period_us) OVER t12")} AS t12_period_s,
       {seconds_sql("sum(outage_us) OVER t12")} AS t12_outage_s,
       {seconds_sql("sum(excluded_us) OVER t12")} AS t12_excluded_s,
       count(*) OVER t12 AS t12_months,
       min(period_start_at) OVER t12 AS t12_period_start_at
FROM m
WINDOW t12 AS (PARTITION BY port_id ORDER BY month_idx RANGE BETWEEN 11 PRECEDING AND CURRENT ROW)
"""


def fetch(wh: WarehouseLike | SparkWarehouse, table: str, where: str = "") -> pa.Table:
    """One of the timeline's temporary tables as Arrow, optionally filtered (SQL predicate, DuckDB dialect)."""
    return wh.fetch(f"SELECT * FROM {table} {'WHERE ' + where if where else ''}")
