"""Site electricity bills from the warehouse: each site's load profile under the tariff in force each day.

:func:`month_bills` bills every site (or the chosen ones) for a range of
local calendar months: the 15-minute profile comes from OCPP meter readings
where a port has them, else from its sessions
(:mod:`evrevops.tariffs.load_profile`), and each day is billed under the
utility tariff in force at the site that day (:func:`tariff_parts`: the dated
site facts of ``site_history``, and the URDB versions of that rate), by
:mod:`evrevops.tariffs.billing`. A month under two tariffs is billed in two
parts, each prorated by its days. ``sites.utility_tariff_id`` (the latest
stated value) is never read here. A site without a utility tariff, or whose
tariff is not in ``utility_tariffs``, is listed by :func:`unbilled_sites`,
never billed as $0.

:func:`site_rates`, :func:`tariff_parts`, :func:`bills_sql`, :func:`month_bills` and
:func:`unbilled_sites` take a warehouse of either engine — a DuckDB
:class:`~evrevops.warehouse.db.Warehouse` or a :class:`~evrevops.warehouse.spark.SparkWarehouse` —
and run the same SQL on it (``wh.register``, ``wh.execute``, ``wh.fetch``). The bills kept between
ingests (:func:`refresh`) are DuckDB's.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pyarrow as pa

from evrevops.core.calendar import month_bounds_sql, next_month
from evrevops.core.sqltext import sql_in, sql_literal
from evrevops.tariffs import billing, load_profile, utility_rate
from evrevops.warehouse import derived, port_sites, site_history
from evrevops.warehouse.protocol import WarehouseLike


def utc_range(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants around local months ``first`` … ``last``, a day wider each side for every zone."""
    start = dt.datetime.combine(first, dt.time()) - dt.timedelta(days=1)
    end = dt.datetime.combine(next_month(last), dt.time()) + dt.timedelta(days=1)
    return start, end


LOAD = "bill_load"  # the temporary table of the load a bill reads (bills_sql)
PARTS = "bill_parts"  # the registered tariff parts a bill reads (bills_sql)
PARTS_SCHEMA = pa.schema(
    [("site_id", pa.string()), ("utility_tariff_id", pa.string()), ("first_on", pa.date32()), ("last_on", pa.date32())]
)


# ---- the tariff in force each day ----------------------------------------------------------------


def versions_sql() -> str:
    """SQL of the URDB versions of every rate published in several records: ``family``, ``label``, ``va``, ``vb``.

    A utility publishes a new version of a rate as another record (another ``label``) with the
    same utility (``eiaid``), ``name`` and ``sector`` and a later ``startdate``; the older one
    gets an ``enddate``. A version is in force from its ``start_on`` (none: since always) until
    its ``end_on`` or the next version's ``start_on``, whichever is first (``[va, vb)``;
    0001-01-01 / 9999-12-31 for open bounds). A rate with one record has none (it is in force
    whenever a site names it).
    """
    return f"""
SELECT family, label, va, vb FROM (
    SELECT family, label, va,
           least(coalesce(end_on, {_FOREVER}), coalesce(lead(va) OVER (PARTITION BY family ORDER BY va, label), {_FOREVER})) AS vb,
           count(*) OVER (PARTITION BY family) AS n
    FROM (SELECT concat(CAST(eiaid AS VARCHAR), '|', name, '|', sector) AS family, utility_tariff_id AS label,
                 coalesce(start_on, {_SINCE}) AS va, end_on
          FROM utility_tariffs WHERE eiaid IS NOT NULL AND name IS NOT NULL AND sector IS NOT NULL) u
) v WHERE n > 1 AND vb > va"""


_SINCE, _FOREVER = "DATE '0001-01-01'", "DATE '9999-12-31'"


def tariff_parts(
    wh,
    first: dt.date,
    last: dt.date,
    site_ids: list[str] | None = None,
    tariff: str | None = None,
) -> pa.Table:
    """The tariff parts of the (chosen) sites over local months ``first`` … ``last``.

    Each row is a site on one utility tariff from local day ``first_on`` to ``last_on``
    (inclusive), clipped to the months: the tariff the site's dated facts name that day
    (``site_history``), or the version of that rate in force that day (:func:`versions_sql`; a
    day no version covers stays on the label the site names). Consecutive days on one tariff
    are one part. Days without a tariff, or on one that was never ingested, are in no part (not
    billed). With *tariff* (a what-if), every part is billed under *tariff* instead, its days
    kept. One SQL statement, on either engine.
    """
    lo, hi = first.replace(day=1), next_month(last)
    label = sql_literal(tariff) if tariff is not None else "label"
    parts = wh.fetch(
        f"""WITH h AS (
    -- the tariff each site's dated facts name, clipped to the months
    SELECT h.site_id, h.utility_tariff_id AS named,
           greatest(coalesce(h.valid_from, {_SINCE}), DATE '{lo}') AS a,
           least(coalesce(h.valid_to, {_FOREVER}), DATE '{hi}') AS b
    FROM {site_history.VIEW} h JOIN utility_tariffs u ON u.utility_tariff_id = h.utility_tariff_id
    WHERE (h.valid_from IS NULL OR h.valid_from < DATE '{hi}') AND (h.valid_to IS NULL OR h.valid_to > DATE '{lo}')
      {sql_in("h.site_id", site_ids)}
), v AS ({versions_sql()}),
covered AS (
    -- where the named label is a version of a rate, the days each version covers
    SELECT h.site_id, h.a AS ha, h.b AS hb, h.named, w.label, greatest(w.va, h.a) AS x, least(w.vb, h.b) AS y
    FROM h JOIN v n ON n.label = h.named JOIN v w ON w.family = n.family
    WHERE greatest(w.va, h.a) < least(w.vb, h.b)
),
pieces AS (
    SELECT site_id, x, y, label FROM covered
    UNION ALL
    -- the days no version covers (before, between and after them) stay on the named label
    SELECT site_id, coalesce(lag(y) OVER (PARTITION BY site_id, ha ORDER BY x), ha), x, named
    FROM covered
    UNION ALL
    SELECT site_id, max(y), max(hb), min(named) FROM covered GROUP BY site_id, ha
    UNION ALL
    -- a label that is no version of a rate, or none of whose versions covers these days: all of them
    SELECT h.site_id, h.a, h.b, h.named FROM h
    WHERE NOT EXISTS (SELECT 1 FROM covered c WHERE c.site_id = h.site_id AND c.ha = h.a)
),
runs AS (
    -- consecutive days on one tariff are one part
    SELECT site_id, x, y, label,
           CASE WHEN lag(y) OVER (PARTITION BY site_id ORDER BY x) = x
                 AND lag(label) OVER (PARTITION BY site_id ORDER BY x) = label THEN 0 ELSE 1 END AS starts
    FROM pieces WHERE y > x
),
numbered AS (
    SELECT *, sum(starts) OVER (PARTITION BY site_id ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run
    FROM runs
)
SELECT site_id, {label} AS utility_tariff_id, min(x) AS first_on, CAST(max(y) - INTERVAL 1 DAY AS DATE) AS last_on
FROM numbered GROUP BY site_id, run, label ORDER BY site_id, first_on"""
    )
    return parts.select(PARTS_SCHEMA.names).cast(PARTS_SCHEMA)


def _parse(rows: list[dict]) -> dict[str, billing.UtilityRate]:
    out = {}
    for r in rows:
        try:
            out[r["utility_tariff_id"]] = billing.parse_rate(r["rate_json"], r["utility_tariff_id"])
        except billing.RateError as exc:
            raise billing.RateError(f"utility tariff {r['utility_tariff_id']}: {exc}") from None
    return out


def site_rates(
    wh,
    site_ids: list[str] | None = None,
    tariff: str | None = None,
    parts: pa.Table | None = None,
) -> dict[str, billing.UtilityRate]:
    """The parsed utility tariffs of *parts* (:func:`tariff_parts`) — or *tariff* alone — by ``utility_tariff_id``.

    Without either, every tariff the (chosen) sites have been on (their dated facts). *wh* is a
    :class:`~evrevops.warehouse.db.Warehouse` or a :class:`~evrevops.warehouse.spark.SparkWarehouse`
    (as for the billing functions here). A value the bill engine cannot use raises
    :class:`~evrevops.tariffs.billing.RateError` naming the tariff and the field.
    """
    if tariff is not None:
        rows = wh.fetch(
            f"SELECT utility_tariff_id, rate_json FROM utility_tariffs WHERE utility_tariff_id = {sql_literal(tariff)}"
        ).to_pylist()
        if not rows:
            raise ValueError(f"unknown utility tariff {tariff!r}; ingest its URDB record first")
    elif parts is not None:
        ids = sorted(set(parts.column("utility_tariff_id").to_pylist()))
        rows = wh.fetch(
            f"""SELECT utility_tariff_id, rate_json FROM utility_tariffs
                WHERE TRUE {sql_in("utility_tariff_id", ids)} ORDER BY utility_tariff_id"""
        ).to_pylist()
    else:
        rows = wh.fetch(
            f"""SELECT DISTINCT u.utility_tariff_id, u.rate_json FROM {site_history.VIEW} s
                JOIN utility_tariffs u ON u.utility_tariff_id = s.utility_tariff_id
                WHERE TRUE {sql_in("s.site_id", site_ids)} ORDER BY u.utility_tariff_id"""
        ).to_pylist()
    return _parse(rows)


def anchors_sql(first: dt.date, last: dt.date, parts: str = PARTS, membership: str = port_sites.VIEW) -> str:
    """SQL of one 0 kW interval at the first day of each tariff part in each month the site is billed.

    A site is billed every local month one of its ports is in service there: at the site that
    month by its membership (*membership*, ``port_sites``) and within its commissioning window
    (``ports.commissioned_on`` … ``decommissioned_on``), on a common day. Each part of such a
    month gets an anchor, so it is billed with or without load (its fixed charge is owed either way).
    """
    months = month_bounds_sql(first, last)
    ms, me = "m.month_start", "m.month_end"
    return f"""SELECT a.site_id, 'anchor' AS source, CAST(a.day AS TIMESTAMP) AS interval_at,
            CAST(a.day AS TIMESTAMP) AS local_at, CAST(0 AS DOUBLE) AS power_kw
        FROM (SELECT DISTINCT t.site_id, greatest(t.first_on, sv.month_start) AS day
              FROM {parts} t JOIN (
                  SELECT DISTINCT ps.site_id, m.month_start, m.month_end
                  FROM {membership} ps JOIN ports p ON p.port_id = ps.port_id CROSS JOIN {months} m
                  WHERE greatest(coalesce(ps.from_on, {ms}), coalesce(p.commissioned_on, {ms}), {ms})
                        < least(coalesce(ps.to_on, {me}), coalesce(p.decommissioned_on, {me}), {me})
              ) sv ON sv.site_id = t.site_id AND t.first_on < sv.month_end AND t.last_on >= sv.month_start) a"""


def bills_sql(
    wh,
    first: dt.date,
    last: dt.date,
    site_ids: list[str] | None = None,
    profile: str | None = None,
    tariff: str | None = None,
    materialize: bool = True,
) -> str:
    """One SQL statement billing the (chosen) sites for months ``first`` … ``last``.

    Every site is billed, for each month in which one of its ports is in service
    (:func:`anchors_sql`), with or without load, in one bill per tariff part of the month
    (:func:`tariff_parts`): a month under one tariff is one bill, a month with a tariff change is
    split at the change (``first_on``, ``last_on``; the rule is :func:`billing.bill_sql`'s).
    *profile* replaces the site load profile (a relation like :func:`load_profile.from_sessions_sql`
    returns: what-ifs bill a managed load); *tariff* bills every part under that utility tariff
    instead of its own.

    Registers the tariff parts (:data:`PARTS`) and the tables of their tariffs on *wh*
    (:func:`evrevops.tariffs.billing.register_rates`, ``wh.register``) and returns the SQL, in
    DuckDB's dialect, which runs on either engine (``wh.fetch``, ``wh.sql``);
    :func:`month_bills` runs it, the metrics use it as a fact table. With *materialize* the
    load (profile and month anchors) is computed now, into the temporary table :data:`LOAD`
    (``wh.execute``; on Spark a checkpointed view), which the returned SQL reads; without it the
    SQL holds the load as a CTE and stands alone (``metrics explain`` prints it).
    """
    parts = tariff_parts(wh, first, last, site_ids, tariff)
    rates = site_rates(wh, tariff=tariff) if tariff is not None else site_rates(wh, parts=parts)
    # UTC range wide enough for every zone (UTC−12 … UTC+14); months are cut on local time below.
    start, end = utc_range(first, last)
    if profile is None:
        profile = load_profile.from_sessions_sql(start, end, site_ids=site_ids, meter="meter_readings")
    wh.register(PARTS, parts)
    billing.register_rates(wh, rates.values())
    # local days wide enough for every zone around the UTC range of the profile
    billing.register_calendar(wh, start.date() - dt.timedelta(days=2), end.date() + dt.timedelta(days=2))
    wh.register(
        "rate_unsupported",
        pa.table(
            {
                "utility_tariff_id": pa.array(list(rates), pa.string()),
                "unsupported": pa.array(
                    [json.dumps([{"part": p, "detail": d} for p, d in r.unsupported]) for r in rates.values()],
                    pa.string(),
                ),
            }
        ),
    )
    load = f"{profile} UNION ALL {anchors_sql(first, last)}"
    if materialize:
        # read twice by the bill (its one pass, and the demand-window blocks): computed once, here
        wh.execute(f"CREATE OR REPLACE TEMP TABLE {LOAD} AS {load}")
        sql = billing.bill_sql(LOAD, PARTS)
    else:
        sql = billing.bill_sql(f"({load})", PARTS, materialize=True)
    return f"""SELECT b.*, u.unsupported FROM ({sql}) b LEFT JOIN rate_unsupported u ON u.utility_tariff_id = b.utility_tariff_id
        WHERE b.bill_month >= DATE '{first}' AND b.bill_month <= DATE '{last}'"""


def month_bills(
    wh,
    first: dt.date,
    last: dt.date,
    site_ids: list[str] | None = None,
) -> pa.Table:
    """Bills per site, local month and tariff part, for months ``first`` … ``last`` (first days of months).

    On either engine (*wh* a :class:`~evrevops.warehouse.db.Warehouse` or a
    :class:`~evrevops.warehouse.spark.SparkWarehouse`), with the same bills to the cent.

    Returns
    -------
    pyarrow.Table
        ``site_id``, ``utility_tariff_id``, ``bill_month``, ``first_on`` and ``last_on`` (the days
        of the month the tariff was in force: the whole month unless the tariff changed in it),
        ``currency``, ``energy_kwh``, ``peak_kw``, the line items in cents
        (``energy_charge_minor`` …, ``total_minor`` their sum) and exact, and
        ``unsupported`` (JSON list of tariff parts not billed).
    """
    sql = bills_sql(wh, first, last, site_ids)
    return wh.fetch(f"SELECT * FROM ({sql}) mb ORDER BY site_id, bill_month, first_on")


SUMMED = (*(f"{line}_minor" for line in billing.LINE_ITEMS), "total_minor", "energy_kwh")


def by_site_month(bills):
    """An Ibis table of bills (:func:`bills_sql` rows, or ``site_month_bills``) as one row per site and month.

    The parts of a month split by a tariff change add up: the lines in cents and the kWh are
    summed, ``peak_kw`` is the month's highest. A month of one part is its bill.
    """
    return bills.group_by(["site_id", "bill_month", "currency"]).aggregate(
        **{c: bills[c].sum() for c in SUMMED}, peak_kw=bills.peak_kw.max()
    )


def unbilled_sites(
    wh, site_ids: list[str] | None = None, first: dt.date | None = None, last: dt.date | None = None
) -> pa.Table:
    """Sites that cannot be billed: no ``utility_tariff_id``, or one not in ``utility_tariffs``.

    Read from the dated facts (``site_history``): over local months ``first`` … ``last``, the
    sites with no day on an ingested tariff (the row names the last tariff they had there);
    without a range, the sites whose latest facts have none.
    """
    if first is None:
        span = "h.valid_to IS NULL"
    else:
        lo, hi = first.replace(day=1), next_month(last or first)
        span = (
            f"(h.valid_from IS NULL OR h.valid_from < DATE '{hi}') AND (h.valid_to IS NULL OR h.valid_to > DATE '{lo}')"
        )
    return wh.fetch(
        f"""SELECT site_id, utility_tariff_id,
                   CASE WHEN utility_tariff_id IS NULL THEN 'no utility tariff set'
                        ELSE 'utility tariff not ingested' END AS reason
            FROM (SELECT h.site_id, h.utility_tariff_id, u.utility_tariff_id AS known,
                         row_number() OVER (PARTITION BY h.site_id ORDER BY h.valid_from DESC NULLS LAST) AS n,
                         max(CASE WHEN u.utility_tariff_id IS NOT NULL THEN 1 ELSE 0 END)
                             OVER (PARTITION BY h.site_id) AS billable
                  FROM {site_history.VIEW} h LEFT JOIN utility_tariffs u ON u.utility_tariff_id = h.utility_tariff_id
                  WHERE {span} {sql_in("h.site_id", site_ids)}) x
            WHERE n = 1 AND billable = 0 ORDER BY site_id"""
    )


# ---- site-month bills kept between ingests ---------------------------------------------------------

CACHE = "site_month_bills"
# The bill engine's own version: a change to the SQL that makes a bill makes every kept bill stale.
ENGINE_VERSION = derived.engine_version(
    (
        billing.__file__,
        utility_rate.__file__,
        load_profile.__file__,
        site_history.__file__,
        port_sites.__file__,
        __file__,
    )
)


def fingerprint(wh: WarehouseLike) -> str:
    """What kept bills depend on: the engine version and the ingest ledger's state (any write adds a row)."""
    return derived.fingerprint(wh, ENGINE_VERSION)


def cached_range(wh: WarehouseLike) -> tuple[dt.date, dt.date] | None:
    """The months the kept bills cover, when they are current for this warehouse; else None.

    Kept bills are read on DuckDB only: another engine (Spark) bills from its export.
    """
    if getattr(wh, "engine", "duckdb") != "duckdb":
        return None
    return derived.kept_range(wh, CACHE, ENGINE_VERSION)


def refresh(wh: WarehouseLike, since: dt.date | None = None) -> dict:
    """Bill every site for every local month the sessions cover, and keep the bills (one transaction).

    With *since* (a local day, :func:`evrevops.metrics.changes.since`) only its month and the
    months after are billed again; the bills before stay as kept (a month's bill depends on
    that month's load and tariff parts only). A *since* before the bills kept, or a range that
    now starts elsewhere, bills every month.

    Returns
    -------
    dict
        ``bills`` kept, ``first_month``, ``last_month``, ``rebuilt_from`` (the first month billed
        again; None when none was), ``seconds``.
    """
    t0 = time.perf_counter()
    months = derived.session_months(wh)  # months with no port in service yield no bill
    first, last = months if months is not None else (None, None)
    before = derived.recorded_range(wh, CACHE)
    m0 = since.replace(day=1) if since is not None else None
    if m0 is None or months is None or before is None or before[0] != first or m0 <= first:
        table = month_bills(wh, first, last) if months is not None else None
        derived.keep(wh, CACHE, ENGINE_VERSION, table, first, last)
        return {
            "bills": table.num_rows if table is not None else 0,
            "first_month": first,
            "last_month": last,
            "rebuilt_from": first,
            "seconds": time.perf_counter() - t0,
        }
    start = m0 if m0 <= last else None
    table = month_bills(wh, m0, last) if start is not None else None
    with wh.transaction():
        if table is not None:
            wh.register("_bills_in", table)
            derived.replace_from(
                wh, CACHE, "SELECT * FROM _bills_in", "bill_month", start, "site_id, bill_month, first_on"
            )
            wh.unregister("_bills_in")
        rows = wh.count(CACHE)
        derived.record(wh, CACHE, ENGINE_VERSION, first, last, rows)
    return {
        "bills": rows,
        "first_month": first,
        "last_month": last,
        "rebuilt_from": start,
        "seconds": time.perf_counter() - t0,
    }
