"""Site electricity bills from the warehouse: each site's load profile under its utility tariff.

:func:`month_bills` bills every site (or the chosen ones) for a range of
local calendar months: the 15-minute profile comes from OCPP meter readings
where a port has them, else from its sessions
(:mod:`evrevops.tariffs.load_profile`), and each site is billed under its
``sites.utility_tariff_id`` (:mod:`evrevops.tariffs.billing`). A site without
a utility tariff, or whose tariff is not in ``utility_tariffs``, is listed by
:func:`unbilled_sites`, never billed as $0.

:func:`site_rates`, :func:`bills_sql`, :func:`month_bills` and :func:`unbilled_sites` take a
warehouse of either engine — a DuckDB :class:`~evrevops.warehouse.db.Warehouse` or a
:class:`~evrevops.warehouse.spark.SparkWarehouse` — and run the same SQL on it
(``wh.register``, ``wh.execute``, ``wh.fetch``). The bills kept between ingests
(:func:`refresh`) are DuckDB's.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pyarrow as pa

from evrevops.tariffs import billing, load_profile
from evrevops.tariffs.load_profile import sql_in
from evrevops.warehouse import derived
from evrevops.warehouse.db import Warehouse


def next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def utc_range(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants around local months ``first`` … ``last``, a day wider each side for every zone."""
    start = dt.datetime.combine(first, dt.time()) - dt.timedelta(days=1)
    end = dt.datetime.combine(next_month(last), dt.time()) + dt.timedelta(days=1)
    return start, end


LOAD = "bill_load"  # the temporary table of the load a bill reads (bills_sql)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def site_rates(wh, site_ids: list[str] | None = None, tariff: str | None = None) -> dict[str, billing.UtilityRate]:
    """The parsed utility tariffs the (chosen) sites are on — or *tariff* alone — by ``utility_tariff_id``.

    *wh* is a :class:`~evrevops.warehouse.db.Warehouse` or a
    :class:`~evrevops.warehouse.spark.SparkWarehouse` (as for the billing functions here).
    """
    if tariff is not None:
        rows = wh.fetch(
            f"SELECT utility_tariff_id, rate_json FROM utility_tariffs WHERE utility_tariff_id = {_quoted(tariff)}"
        ).to_pylist()
        if not rows:
            raise ValueError(f"unknown utility tariff {tariff!r}; ingest its URDB record first")
    else:
        rows = wh.fetch(
            f"""SELECT DISTINCT u.utility_tariff_id, u.rate_json FROM sites s
                JOIN utility_tariffs u ON u.utility_tariff_id = s.utility_tariff_id
                WHERE TRUE {sql_in("s.site_id", site_ids)} ORDER BY u.utility_tariff_id"""
        ).to_pylist()
    return {r["utility_tariff_id"]: billing.parse_rate(r["rate_json"], r["utility_tariff_id"]) for r in rows}


def months_sql(first: dt.date, last: dt.date) -> str:
    """A relation of the local months ``first`` … ``last``: ``month_start``, ``month_end`` (the next month's first day)."""
    months = []
    m = first.replace(day=1)
    while m <= last:
        months.append(f"(DATE '{m}', DATE '{next_month(m)}')")
        m = next_month(m)
    if not months:  # an empty range: no month (a typed row that no filter lets through)
        return "(SELECT DATE '1970-01-01' AS month_start, DATE '1970-01-01' AS month_end WHERE FALSE)"
    return f"(SELECT * FROM (VALUES {', '.join(months)}) AS mv(month_start, month_end))"


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

    Every site with a utility tariff is billed for each month in which one
    of its ports is in service, with or without load. *profile* replaces the
    site load profile (a relation like :func:`load_profile.from_sessions_sql`
    returns: what-ifs bill a managed load); *tariff* bills every chosen site
    under that utility tariff instead of its own.

    Registers the tariff tables of the sites' utility tariffs on *wh*
    (:func:`evrevops.tariffs.billing.register_rates`, ``wh.register``) and returns the SQL, in
    DuckDB's dialect, which runs on either engine (``wh.fetch``, ``wh.sql``);
    :func:`month_bills` runs it, the metrics use it as a fact table. With *materialize* the
    load (profile and month anchors) is computed now, into the temporary table :data:`LOAD`
    (``wh.execute``; on Spark a checkpointed view), which the returned SQL reads; without it the
    SQL holds the load as a CTE and stands alone (``metrics explain`` prints it).
    """
    rates = site_rates(wh, site_ids, tariff)
    # UTC range wide enough for every zone (UTC−12 … UTC+14); months are cut on local time below.
    start, end = utc_range(first, last)
    if profile is None:
        profile = load_profile.from_sessions_sql(start, end, site_ids=site_ids, meter="meter_readings")
    if tariff is None:
        site_tariffs = f"""(SELECT s.site_id, s.utility_tariff_id FROM sites s
            JOIN utility_tariffs u ON u.utility_tariff_id = s.utility_tariff_id
            WHERE TRUE {sql_in("s.site_id", site_ids)})"""
    else:
        site_tariffs = f"""(SELECT s.site_id, {_quoted(tariff)} AS utility_tariff_id FROM sites s
            WHERE TRUE {sql_in("s.site_id", site_ids)})"""
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
    # A site on a tariff is billed every month one of its ports is in service, load or not (the fixed
    # charge is owed either way): one 0 kW interval at the start of each such local month anchors it.
    anchors = f"""SELECT site_id, 'anchor' AS source, CAST(month_start AS TIMESTAMP) AS interval_at,
            CAST(month_start AS TIMESTAMP) AS local_at, CAST(0 AS DOUBLE) AS power_kw
        FROM (SELECT DISTINCT t.site_id, m.month_start
              FROM {site_tariffs} t JOIN ports p ON p.site_id = t.site_id CROSS JOIN {months_sql(first, last)} m
              WHERE (p.commissioned_on IS NULL OR p.commissioned_on < m.month_end)
                AND (p.decommissioned_on IS NULL OR p.decommissioned_on > m.month_start)) a"""
    load = f"{profile} UNION ALL {anchors}"
    if materialize:
        # read twice by the bill (its one pass, and the demand-window blocks): computed once, here
        wh.execute(f"CREATE OR REPLACE TEMP TABLE {LOAD} AS {load}")
        sql = billing.bill_sql(LOAD, site_tariffs)
    else:
        sql = billing.bill_sql(f"({load})", site_tariffs, materialize=True)
    return f"""SELECT b.*, u.unsupported FROM ({sql}) b LEFT JOIN rate_unsupported u ON u.utility_tariff_id = b.utility_tariff_id
        WHERE b.bill_month >= DATE '{first}' AND b.bill_month <= DATE '{last}'"""


def month_bills(
    wh,
    first: dt.date,
    last: dt.date,
    site_ids: list[str] | None = None,
) -> pa.Table:
    """Bills per site and local month, for months ``first`` … ``last`` (first days of months).

    On either engine (*wh* a :class:`~evrevops.warehouse.db.Warehouse` or a
    :class:`~evrevops.warehouse.spark.SparkWarehouse`), with the same bills to the cent.

    Returns
    -------
    pyarrow.Table
        ``site_id``, ``utility_tariff_id``, ``bill_month``, ``currency``,
        ``energy_kwh``, ``peak_kw``, the line items in cents
        (``energy_charge_minor`` …, ``total_minor`` their sum) and exact, and
        ``unsupported`` (JSON list of tariff parts not billed).
    """
    sql = bills_sql(wh, first, last, site_ids)
    return wh.fetch(f"SELECT * FROM ({sql}) mb ORDER BY site_id, bill_month")


def unbilled_sites(wh, site_ids: list[str] | None = None) -> pa.Table:
    """Sites that cannot be billed: no ``utility_tariff_id``, or one not in ``utility_tariffs``."""
    return wh.fetch(
        f"""SELECT s.site_id, s.utility_tariff_id,
                   CASE WHEN s.utility_tariff_id IS NULL THEN 'no utility tariff set'
                        ELSE 'utility tariff not ingested' END AS reason
            FROM sites s LEFT JOIN utility_tariffs u ON u.utility_tariff_id = s.utility_tariff_id
            WHERE u.utility_tariff_id IS NULL {sql_in("s.site_id", site_ids)} ORDER BY s.site_id"""
    )


# ---- site-month bills kept between ingests ---------------------------------------------------------

CACHE = "site_month_bills"
# The bill engine's own version: a change to the SQL that makes a bill makes every kept bill stale.
ENGINE_VERSION = derived.engine_version((billing.__file__, load_profile.__file__, __file__))


def fingerprint(wh: Warehouse) -> str:
    """What kept bills depend on: the engine version and the ingest ledger's state (any write adds a row)."""
    return derived.fingerprint(wh, ENGINE_VERSION)


def cached_range(wh: Warehouse) -> tuple[dt.date, dt.date] | None:
    """The months the kept bills cover, when they are current for this warehouse; else None.

    Kept bills are read on DuckDB only: another engine (Spark) bills from its export.
    """
    if getattr(wh, "engine", "duckdb") != "duckdb":
        return None
    return derived.kept_range(wh, CACHE, ENGINE_VERSION)


def refresh(wh: Warehouse) -> dict:
    """Bill every site for every local month the sessions cover, and keep the bills (one transaction).

    Returns
    -------
    dict
        ``bills`` kept, ``first_month``, ``last_month``, ``seconds``.
    """
    t0 = time.perf_counter()
    months = derived.session_months(wh)  # months with no port in service yield no bill
    first, last = months if months is not None else (None, None)
    table = month_bills(wh, first, last) if months is not None else None
    derived.keep(wh, CACHE, ENGINE_VERSION, table, first, last)
    return {
        "bills": table.num_rows if table is not None else 0,
        "first_month": first,
        "last_month": last,
        "seconds": time.perf_counter() - t0,
    }
