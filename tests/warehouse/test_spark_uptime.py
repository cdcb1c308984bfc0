"""Parity: the uptime timeline, ledger, port-month table, revenue at risk and ``_uptime_fact`` on Spark.

The same DuckDB-dialect statements (:func:`evrevops.uptime.fact.statements`) run on the DuckDB
warehouse and, transpiled by SQLGlot, on a local Spark session reading its Parquet export. The
network is the hand-computed NEVI year of tests/uptime/test_timeline.py (status events, hourly
heartbeats with a 10-hour communication loss, incidents with NEVI-excludable causes, a site with
closed hours) plus a site in a DST time zone with sub-second instants, an outage open at the
horizon, a port never heard from, and sessions whose revenue puts money at risk.

Every value must be equal, row for row, with no tolerance: counts and money (integer minor units)
exactly, and seconds too. Durations are integer microseconds on both engines, summed as
integers and turned into DOUBLE seconds once (``µs / 1e6``, correctly rounded alike), so even
sub-second durations agree to the last bit. A DOUBLE that differs is reported with whether it
is within 1e-9 relative (an engine adding in another order) or not (a different answer).
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

from evrevops.core.calendar import month_end
from evrevops.metrics import sources
from evrevops.uptime import fact
from evrevops.uptime import outages as uo
from evrevops.uptime import revenue_at_risk as rar
from evrevops.uptime import timeline as T
from evrevops.uptime import timeline_tables as tables
from evrevops.warehouse.export import export_parquet
from evrevops.warehouse.spark import SparkWarehouse
from tests.uptime import test_timeline as hand
from tests.uptime.network import heartbeat, ingest, status, write_network

D = dt.datetime
YEAR = (dt.date(2025, 1, 1), dt.date(2025, 12, 1))
# a site in New York (DST on 9 March and 2 November), open on weekdays 07:00-19:00 local
NY = [
    "S3,Harbor,K3,public_dc,caas,America/New_York,Mo-Fr 07:00-19:00,C3,R1,1,DC,150,2025-02-15,",
    "S3,Harbor,K3,public_dc,caas,America/New_York,Mo-Fr 07:00-19:00,C3,R2,2,DC,150,2025-02-15,",
    # never heard from: no data, never up
    "S3,Harbor,K3,public_dc,caas,America/New_York,Mo-Fr 07:00-19:00,C4,R9,1,DC,50,2025-06-01,",
]
MS = dt.timedelta(milliseconds=1)


def _ms(message: dict, t: dt.datetime) -> dict:
    """*message* stamped at *t* to the millisecond (the network helpers write whole seconds)."""
    iso = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    body = message["message"]
    if isinstance(body[3], dict) and "timestamp" in body[3]:
        body = [*body[:3], {**body[3], "timestamp": iso}]
    return {**message, "timestamp": iso, "message": body}


def _ny_log() -> list[dict]:
    beats = [
        _ms(heartbeat("C3", t, k), t + 137 * MS)
        for k, t in enumerate(
            _hourly_times(D(2025, 2, 15, 5), D(2026, 1, 1), skip=(D(2025, 7, 4, 1), D(2025, 7, 4, 9)))
        )
    ]
    ev = [
        # across the spring-forward night, sub-second instants
        _ms(status("C3", D(2025, 3, 8, 23, 15), 1, "Faulted", "GroundFailure"), D(2025, 3, 8, 23, 15) + 250 * MS),
        _ms(status("C3", D(2025, 3, 9, 9, 40), 1, "Available"), D(2025, 3, 9, 9, 40) + 750 * MS),
        # a charger-wide Unavailable crossing the end of May (UTC and local month ends)
        status("C3", D(2025, 5, 31, 22), 0, "Unavailable"),
        status("C3", D(2025, 6, 1, 6, 30), 0, "Available"),
        # R2: a fault, then unavailable for a while (a status outside OCPP 1.6 is quarantined at the door)
        status("C3", D(2025, 8, 12, 14), 2, "Faulted", "OtherError"),
        status("C3", D(2025, 8, 12, 15), 2, "Unavailable"),
        status("C3", D(2025, 8, 12, 18), 2, "Available"),
        # R1: still faulted at the horizon (an open outage)
        status("C3", D(2025, 12, 30, 20), 1, "Faulted", "HighTemperature"),
    ]
    return beats + ev


def _hourly_times(start: dt.datetime, end: dt.datetime, skip: tuple[dt.datetime, dt.datetime]) -> list[dt.datetime]:
    out, t = [], start
    while t <= end:
        if not skip[0] < t < skip[1]:
            out.append(t)
        t += dt.timedelta(hours=1)
    return out


NY_INCIDENTS = [
    "I5,S3,,,2025-05-31T21:00:00Z,2025-06-01T03:00:00Z,utility_interruption",
    "I6,,R1,,2025-03-09T02:00:00Z,2025-03-09T05:00:00Z,vandalism",
    "I7,,,C3,2025-07-04T00:00:00Z,,communication",
]


def _sessions(w) -> None:
    """Sessions with revenue on P1, Q1 and R1 (weekly, at a few hours), in each site's currency."""
    rows, k = [], 0
    for port, site, cur, hour in (("P1", "S1", "USD", 10), ("Q1", "S2", "USD", 20), ("R1", "S3", "USD", 23)):
        t = D(2025, 1, 6, hour, 20)
        while t < D(2026, 1, 1):
            rows.append((f"s{k}", site, port, t, t + dt.timedelta(minutes=30), cur, 1300 + 7 * (k % 11)))
            t += dt.timedelta(days=3, hours=7)
            k += 1
    w.con.executemany(
        """INSERT INTO sessions (session_id, site_id, port_id, started_at, ended_at, energy_kwh, plugged_in_s,
                                 charging_s, idle_s, currency, total_cost_minor)
           VALUES (?, ?, ?, ?, ?, 20, 1800, 1800, 0, ?, ?)""",
        rows,
    )


@pytest.fixture(scope="module")
def engines(tmp_path_factory, spark_base):
    folder = tmp_path_factory.mktemp("spark-uptime")
    write_network(folder, hand.SITES + NY, hand._log() + _ny_log(), hand.INCIDENTS + NY_INCIDENTS)
    duck = ingest(folder, folder / "w.duckdb")
    _sessions(duck)
    export_parquet(duck, folder / "export")
    spark = SparkWarehouse(folder / "export", session=spark_base.newSession())  # interpreted (conftest)
    assert spark.spark.conf.get("spark.sql.codegen.wholeStage") == "false"
    yield duck, spark
    spark.close()
    duck.close()


TABLES = {
    tables.PORTS: "port_id",
    tables.INTERVALS: "port_id, s",
    tables.PIECES: "port_id, s",
    tables.LEDGER: "port_id, started_at",
    tables.MONTHS: "port_id, month",
    rar.RAR: "port_id, month, island",
    fact.FACT: "port_id, month",
}
LEDGER_USERS_READ = "outages.ledger"


@pytest.fixture(scope="module")
def built(engines) -> dict[str, tuple[list[dict], list[dict]]]:
    """The outage ledger users read and every table of its build of the year, as rows from DuckDB and Spark.

    :func:`evrevops.uptime.outages.ledger` runs :func:`evrevops.uptime.fact.build` for the year
    (one build per engine serves every comparison of the tables).
    """
    out: dict[str, list[list[dict]]] = {name: [] for name in (*TABLES, LEDGER_USERS_READ)}
    for wh in engines:
        out[LEDGER_USERS_READ].append([_naive_row(r) for r in uo.ledger(wh, *YEAR).to_pylist()])
        for name, order in TABLES.items():
            out[name].append(_rows(wh, name, order))
    assert T.data_span(engines[0]) == T.data_span(engines[1])
    return {name: (a, b) for name, (a, b) in out.items()}


def _naive_row(row: dict) -> dict:
    """*row* with UTC instants without offset (Spark returns the calendar's instants zone-aware, in UTC)."""
    return {
        k: v.astimezone(dt.UTC).replace(tzinfo=None) if isinstance(v, dt.datetime) and v.tzinfo else v
        for k, v in row.items()
    }


def _rows(wh, table: str, order: str) -> list[dict]:
    return [_naive_row(r) for r in wh.fetch(f"SELECT * FROM {table} ORDER BY {order}").to_pylist()]


def _same(a: list[dict], b: list[dict]) -> None:
    """Rows *a* (DuckDB) and *b* (Spark) are equal, value for value (non-empty: nothing passes vacuously)."""
    assert a and len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], float) and isinstance(y[k], float) and x[k] != y[k]:
                near = math.isclose(x[k], y[k], rel_tol=1e-9)
                pytest.fail(f"{k}: {x[k]!r} on DuckDB, {y[k]!r} on Spark ({'within' if near else 'beyond'} 1e-9): {x}")
            assert x[k] == y[k], (k, x, y)


@pytest.mark.parametrize("table", list(TABLES))
def test_the_uptime_tables_are_equal_on_spark(built, table):
    _same(*built[table])


def test_the_network_has_what_parity_must_cover(built):
    """Outages of every kind, excluded time, money at risk, an open outage: the comparison is not vacuous."""
    led = built[tables.LEDGER][0]
    assert {r["statuses"] for r in led} >= {"Faulted", "offline", "Unavailable"}
    assert sum(r["excluded_s"] for r in led) > 0 and any(r["open"] for r in led)
    assert any(r["state"] == "no_data" for r in led) and any(r["started_at"].microsecond for r in led)
    f = built[fact.FACT][0]
    assert sum(r["revenue_at_risk_minor"] for r in f) > 0 and sum(r["excluded_s"] for r in f) > 0
    assert sum(r["offline_s"] for r in f) > 0 and sum(r["no_data_s"] for r in f) > 0
    assert any(r["ports_partial_year"] for r in f) and any(r["duration_s"] % 1 for r in led)
    # the hand figures of tests/uptime/test_timeline.py hold on this network too (P1's year)
    p1 = [r for r in f if r["port_id"] == "P1"]
    assert p1[-1]["t12_outage_s"] == 1260 * 60 and p1[-1]["t12_excluded_s"] == 180 * 60


def test_the_ledger_users_read_is_equal_on_spark(built):
    a, b = built[LEDGER_USERS_READ]
    _same(a, b)
    assert sum(r["revenue_at_risk_minor"] for r in a) > 0


def test_the_uptime_fact_of_the_metrics_is_equal_on_spark(engines):
    """:func:`evrevops.metrics.sources.uptime_fact`, the fact with the port's dimensions, on both engines."""
    duck, spark = engines
    out = []
    for wh in (duck, spark):
        f = sources.uptime_fact(wh, _Facts(*YEAR))
        out.append(f.order_by(["port_id", "month"]).to_pyarrow().to_pylist())
    _same(*out)


class _Facts:
    """The range part of :class:`evrevops.metrics.facts.Facts` that :func:`~evrevops.metrics.sources.uptime_fact` reads."""

    def __init__(self, start: dt.date, last_month: dt.date):
        self.start, self.end = start, month_end(last_month)
