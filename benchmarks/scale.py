"""Scaling curve: the month-close of 1,000, 10,000 and 100,000 ports on DuckDB, against a plain scan.

``python benchmarks/scale.py`` (``make bench-scale``), each size in its own process:

1. **generate** (not timed; cached in ``bench-data/scale-v<version>-<ports>.duckdb``): ports in
   sites of ten (five two-port chargers) across four US time zones, all 24/7 and in service;
   three sessions a port-day through November and December 2025 (hash-based draws, fixed),
   priced, with tokens; the 15 real URDB tariffs of ``tests/data/real/tariffs_urdb`` ingested
   and the sites on them in turn; OCPP telemetry as ``benchmarks/uptime.py`` makes it
   (:func:`uptime.telemetry`: every port Available at the start, 0–2 faults a port-month, a
   heartbeat every 4 h a charger, one 1–10 h communication loss a charger-month, incidents);
2. **after ingest** (timed, reported, not part of the close): what ``evrevops ingest`` does after
   a write — the port-day facts of every local day kept (:func:`evrevops.metrics.kept.refresh`),
   the site-month bills kept (:func:`evrevops.tariffs.site_bills.refresh`), then the month-close
   measures and metric views (:func:`evrevops.metrics.close.keep_close`), with its peak memory;
3. **month-close**: every metric of the registry by site for December 2025
   (:func:`evrevops.metrics.compute.compute`: local days, utilization, revenue, success rates,
   the site-month utility bills from the sessions' load, the uptime timeline), best of 3, in a
   process of its own (as a command run after an ingest), with that process's peak memory:
   as evrevops runs it (the metric view over the kept measures), then the same expression built
   and compiled now (split into Ibis and DuckDB), and **live** (``kept=False``: facts built
   from the sessions);
4. **floor**: a plain DuckDB scan of the same columns, grouped by site (count, energy, charging
   and plugged-in time, revenue), best of 3;
5. **increment** (on a copy): a new day of CDRs for every port ingested from an OCPI file, then the
   refresh after it, which rebuilds only from the month it can change; then a site's tariff switch
   from 16 December and the refresh after it (December on).

It prints a line per size and the growth exponents (least-squares slope of log time on log ports)
of the close, the live close, the work after ingest and the scan, and writes
``benchmarks/results-scale.json`` and ``docs/scale.svg``.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1_000, 10_000, 100_000)
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
FIRST, LAST = dt.date(2025, 11, 1), dt.date(2025, 12, 31)
PER_DAY = 3
URDB = ROOT / "tests" / "data" / "real" / "tariffs_urdb"  # the whole URDB set, kept in the repository
DATA_VERSION = 3  # in the cached file's name: a change to generate() writes the data anew


def _h(expr: str, salt: int) -> str:
    return f"((hash({expr}, {salt}) % 1000003) / 1000003.0)"


def _uptime_bench():
    """``benchmarks/uptime.py`` as a module (benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("uptime_bench", Path(__file__).with_name("uptime.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate(path: Path, ports: int) -> None:
    from evrevops.warehouse import site_history
    from evrevops.warehouse.db import open_warehouse
    from evrevops.warehouse.loader import ingest_file

    wh = open_warehouse(path)
    con = wh.con
    zones = "[" + ", ".join(f"'{z}'" for z in ZONES) + "]"
    days = (LAST - FIRST).days + 1
    con.execute("BEGIN")
    con.execute(
        f"""INSERT INTO sites (site_id, customer_id, time_zone, operating_hours)
            SELECT 'S' || i, 'C' || (i // 5), {zones}[1 + i % 4], '24/7'
            FROM range({ports // 10}) t(i)"""
    )
    # the facts that change over time, since always (site_history)
    con.execute(
        "INSERT INTO site_facts (site_id, segment, revenue_model) SELECT site_id, 'public_dc', 'caas' FROM sites"
    )
    con.execute(
        """INSERT INTO customers (customer_id, name, segment) SELECT DISTINCT customer_id, customer_id, 'public_dc' FROM sites"""
    )
    con.execute(
        f"""INSERT INTO chargers (charger_id, site_id, ocpp_version)
            SELECT 'CH' || c, 'S' || (c // 5), 'ocpp1.6' FROM range({ports // 2}) t(c)"""
    )
    con.execute(
        f"""INSERT INTO ports (port_id, site_id, charger_id, connector_id, power_type, rated_kw, commissioned_on)
            SELECT 'P' || i, 'S' || (i // 10), 'CH' || (i // 2), 1 + i % 2, 'DC', 150, DATE '2024-01-01'
            FROM range({ports}) t(i)"""
    )
    # OCPP telemetry as the uptime bench makes it (benchmarks/uptime.py), for the two months
    _uptime_bench().telemetry(con, FIRST.isoformat(), 2)
    con.execute(
        f"""INSERT INTO sessions (session_id, source, site_id, port_id, charger_id, connector_id, started_at, ended_at,
                                  energy_kwh, plugged_in_s, charging_s, idle_s, peak_kw, currency, total_cost_minor,
                                  energy_cost_minor, token_uid, stop_reason)
            WITH s AS (
                SELECT p, d, k, TIMESTAMP '{FIRST}' + to_days(CAST(d AS INTEGER))
                           + to_seconds(CAST(3600 * (6 + 16 * {_h("p * 100000 + d * 10 + k", 1)}) AS BIGINT)) AS st,
                       CAST(900 + 3600 * {_h("p * 100000 + d * 10 + k", 2)} AS BIGINT) AS plug_s
                FROM range({ports}) a(p), range({days}) b(d), range({PER_DAY}) c(k)
            )
            SELECT 'X' || p || '-' || d || '-' || k, 'bench', 'S' || (p // 10), 'P' || p, 'CH' || (p // 2),
                   CAST(1 + p % 2 AS VARCHAR), st,
                   st + to_seconds(plug_s), 40 * plug_s / 3600.0, plug_s, CAST(plug_s * 0.8 AS BIGINT),
                   plug_s - CAST(plug_s * 0.8 AS BIGINT), 50, 'USD', CAST(plug_s / 3600.0 * 2000 AS BIGINT),
                   CAST(plug_s / 3600.0 * 2000 AS BIGINT), 'T' || ((p * 7 + d) % 5000), 'EVDisconnected'
            FROM s"""
    )
    con.execute("COMMIT")
    # utility tariffs: the real URDB records, ingested as a user would, and the sites on them in turn
    for p in sorted(URDB.glob("*.json")):
        if p.name != "manifest.json":
            ingest_file(wh, p)
    ids = [r[0] for r in con.execute("SELECT utility_tariff_id FROM utility_tariffs ORDER BY 1").fetchall()]
    con.execute(
        "UPDATE site_facts SET utility_tariff_id = ($1::VARCHAR[])[1 + CAST(substr(site_id, 2) AS INTEGER) % len($1)]",
        [ids],
    )
    con.execute(site_history.current_sql())
    con.execute("CHECKPOINT")
    wh.close()


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_refresh(path: Path) -> dict:
    """What ``evrevops ingest`` does after a write (:func:`evrevops.refresh.refresh_kept`), with the
    process's peak memory."""
    from evrevops.refresh import refresh_kept
    from evrevops.warehouse.db import open_warehouse

    wh = open_warehouse(path)
    t = time.perf_counter()
    r = refresh_kept(wh)
    seconds = time.perf_counter() - t
    wh.close()
    return {"after_ingest_seconds": seconds, "close_keep_seconds": r["close"]["seconds"],
            "port_days_kept": r["facts"]["port_days"], "site_months_kept": r["close"]["site_months"],
            "after_ingest_peak_mib": _peak_mib()}  # fmt: skip


def stage_increment(path: Path) -> dict:
    """The refresh after a small change, on a copy of the warehouse after its whole refresh: a new day of CDRs
    (every port, 2026-01-01, ingested from an OCPI file as a nightly load is) and a site's tariff switch from
    16 December. Each rebuilds only from the month it can change, not the two months of history."""
    import shutil
    import tempfile

    from evrevops.refresh import refresh_kept
    from evrevops.warehouse.db import open_warehouse
    from evrevops.warehouse.loader import ingest_file
    from evrevops.warehouse.site_tariff import set_site_tariff

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "w.duckdb"
        shutil.copy(path, db)
        wh = open_warehouse(db)
        ports = wh.con.sql("SELECT count(*) FROM ports").fetchall()[0][0]
        cdrs = Path(tmp) / "cdrs-2026-01-01.ndjson"
        wh.con.execute(
            f"""COPY (
                SELECT 'US' AS country_code, 'EVR' AS party_id, 'N-' || p || '-' || k AS id,
                       strftime(TIMESTAMP '2026-01-01 14:00:00' + to_minutes(k * 180 + p % 60), '%Y-%m-%dT%H:%M:%SZ') AS start_date_time,
                       strftime(TIMESTAMP '2026-01-01 15:00:00' + to_minutes(k * 180 + p % 60), '%Y-%m-%dT%H:%M:%SZ') AS end_date_time,
                       {{'uid': 'T' || p, 'type': 'RFID', 'contract_id': 'C' || p}} AS cdr_token, 'WHITELIST' AS auth_method,
                       {{'id': 'S' || (p // 10), 'address': 'Main St 1', 'city': 'Denver', 'country': 'USA',
                         'coordinates': {{'latitude': '39.7', 'longitude': '-104.9'}}, 'evse_uid': 'P' || p,
                         'evse_id': 'P' || p, 'connector_id': CAST(1 + p % 2 AS VARCHAR),
                         'connector_standard': 'IEC_62196_T1_COMBO', 'connector_format': 'CABLE',
                         'connector_power_type': 'DC'}} AS cdr_location,
                       'USD' AS currency, {{'excl_vat': 20.0, 'incl_vat': 20.0}} AS total_cost, 40.0 AS total_energy,
                       1.0 AS total_time, 0.0 AS total_parking_time,
                       strftime(TIMESTAMP '2026-01-02', '%Y-%m-%dT%H:%M:%SZ') AS last_updated
                FROM range({ports}) a(p), range({PER_DAY}) b(k)
            ) TO '{cdrs}' (FORMAT JSON)"""
        )
        t = time.perf_counter()
        loaded = ingest_file(wh, cdrs)
        ingest_s = time.perf_counter() - t
        t = time.perf_counter()
        day = refresh_kept(wh)
        day_s = time.perf_counter() - t
        tariff = wh.con.sql("SELECT max(utility_tariff_id) FROM utility_tariffs").fetchall()[0][0]
        set_site_tariff(wh, "S1", tariff, dt.date(2025, 12, 16))
        t = time.perf_counter()
        switch = refresh_kept(wh)
        switch_s = time.perf_counter() - t
        wh.close()
    return {"new_day_cdrs": loaded.accepted, "new_day_ingest_seconds": ingest_s, "new_day_refresh_seconds": day_s,
            "new_day_rebuilt_from": str(day["facts"]["rebuilt_from"]), "switch_refresh_seconds": switch_s,
            "switch_rebuilt_from": str(switch["bills"]["rebuilt_from"])}  # fmt: skip


def stage_close(path: Path) -> dict:
    """The month-close three ways and the scan floor, in a process of its own (as a command after an ingest)."""
    import ibis

    from evrevops.metrics.compute import compute, expression
    from evrevops.warehouse.db import open_warehouse

    wh = open_warehouse(path)
    lo, hi = dt.date(2025, 12, 1), dt.date(2025, 12, 31)

    def best(run: object) -> list[float]:
        times = []
        for _ in range(3):
            t = time.perf_counter()
            run()
            times.append(time.perf_counter() - t)
        return times

    # the month-close as evrevops runs it: the metric views over the kept month-close measures
    runs = best(lambda: compute(wh, by="site", period="month", start=lo, end=hi))
    out = compute(wh, by="site", period="month", start=lo, end=hi)
    peak = _peak_mib()  # the close's (ru_maxrss only grows: the live run below is reported apart)
    # the same expression built and compiled now (no views), then split: Ibis, then DuckDB alone
    expr = best(lambda: expression(wh, by="site", period="month", start=lo, end=hi).to_pyarrow())
    plan, execute = [], []
    for _ in range(3):
        t = time.perf_counter()
        sql = str(ibis.to_sql(expression(wh, by="site", period="month", start=lo, end=hi)))
        plan.append(time.perf_counter() - t)
        t = time.perf_counter()
        wh.con.sql(sql).to_arrow_table()
        execute.append(time.perf_counter() - t)
    live = best(lambda: compute(wh, by="site", period="month", start=lo, end=hi, kept=False))
    floor = best(
        lambda: wh.con.sql(
            """SELECT site_id, count(*), sum(energy_kwh), sum(charging_s), sum(plugged_in_s), sum(total_cost_minor)
               FROM sessions WHERE started_at >= TIMESTAMP '2025-12-01' AND started_at < TIMESTAMP '2026-01-01'
               GROUP BY site_id"""
        ).to_arrow_table()
    )
    sessions = wh.con.sql(
        "SELECT count(*) FROM sessions WHERE started_at >= TIMESTAMP '2025-12-01' AND started_at < TIMESTAMP '2026-01-01'"
    ).fetchall()[0][0]
    return {"seconds": min(runs), "runs_s": runs, "expression_seconds": min(expr), "expression_runs_s": expr,
            "plan_seconds": min(plan), "execute_seconds": min(execute),
            "live_seconds": min(live), "live_runs_s": live,
            "floor_seconds": min(floor), "floor_runs_s": floor, "rows": out.num_rows,
            "sessions_in_month": sessions, "peak_mib": peak, "live_peak_mib": _peak_mib()}  # fmt: skip


def exponent(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of log(time) on log(size)."""
    xs = [math.log(p) for p, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


SERIES = (  # what the plot draws: (key, colour, legend)
    ("after_ingest_seconds", "#27ae60", "after ingest: facts, bills, uptime, month-close measures"),
    ("live_seconds", "#e67e22", "month-close, facts built now (live)"),
    ("seconds", "#c0392b", "month-close as run (month-close view)"),
    ("floor_seconds", "#2c7fb8", "plain scan of the same columns"),
)


def svg(rows: list[dict], path: Path) -> None:
    """A log-log plot of the month-close, live and after-ingest times and the scan floor against ports, as SVG."""
    w, h, m = 600, 380, 60
    xs = [math.log10(r["ports"]) for r in rows]
    ys = [math.log10(r[key]) for r in rows for key, _, _ in SERIES]
    x0, x1 = min(xs) - 0.1, max(xs) + 0.1
    y0, y1 = math.floor(min(ys)), math.ceil(max(ys))

    def px(x: float) -> float:
        return m + (x - x0) / (x1 - x0) * (w - 2 * m)

    def py(y: float) -> float:
        return h - m - (y - y0) / (y1 - y0) * (h - 2 * m)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{w / 2}" y="20" text-anchor="middle">month-close (all metrics by site) vs plain scan, DuckDB, log-log</text>']  # fmt: skip
    for e in range(int(y0), int(y1) + 1):
        parts.append(f'<line x1="{m}" x2="{w - m}" y1="{py(e)}" y2="{py(e)}" stroke="#ddd"/>')
        parts.append(f'<text x="{m - 6}" y="{py(e) + 4}" text-anchor="end">{10.0**e:g} s</text>')
    for r, x in zip(rows, xs, strict=True):
        parts.append(f'<text x="{px(x)}" y="{h - m + 18}" text-anchor="middle">{r["ports"]:,} ports</text>')
    for i, (key, color, legend) in enumerate(SERIES):
        pts = " ".join(f"{px(x)},{py(math.log10(r[key]))}" for r, x in zip(rows, xs, strict=True))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
        for r, x in zip(rows, xs, strict=True):
            parts.append(f'<circle cx="{px(x)}" cy="{py(math.log10(r[key]))}" r="3" fill="{color}"/>')
        parts.append(f'<text x="{m + 8}" y="{m - 18 + 16 * i}" fill="{color}">{legend}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


STAGES = {"refresh": stage_refresh, "close": stage_close, "increment": stage_increment}  # in this order


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] in STAGES:
        print(json.dumps(STAGES[sys.argv[1]](Path(sys.argv[2]))))
        return
    if len(sys.argv) > 3 and sys.argv[1] == "generate":
        generate(Path(sys.argv[2]), int(sys.argv[3]))
        return
    work = ROOT / "bench-data"
    work.mkdir(exist_ok=True)
    sizes = [int(a) for a in sys.argv[1:]] or list(SIZES)
    rows = []
    for n in sizes:
        db = work / f"scale-v{DATA_VERSION}-{n}.duckdb"
        if not db.exists():
            print(f"generating {n:,} ports …", flush=True)
            t = time.perf_counter()
            subprocess.run([sys.executable, __file__, "generate", str(db), str(n)], check=True)
            print(f"  generated in {time.perf_counter() - t:.1f} s", flush=True)
        row = {"ports": n}
        for stage in STAGES:
            r = subprocess.run([sys.executable, __file__, stage, str(db)], capture_output=True, text=True, check=True)
            row.update(json.loads(r.stdout.strip().splitlines()[-1]))
        rows.append(row)
        print(f"{n:,} ports ({row['sessions_in_month']:,} sessions in December): month-close best of 3 "
              f"{row['seconds']:.3f} s, plain scan {row['floor_seconds']:.3f} s "
              f"({row['seconds'] / row['floor_seconds']:.1f}× the scan), peak {row['peak_mib']:,.0f} MiB; "
              f"the expression compiled now {row['expression_seconds']:.3f} s (Ibis {row['plan_seconds']:.3f} s "
              f"+ DuckDB {row['execute_seconds']:.3f} s); live (facts built now) {row['live_seconds']:.2f} s; "
              f"after ingest {row['after_ingest_seconds']:.1f} s (month-close measures and views "
              f"{row['close_keep_seconds']:.2f} s); a new day of {row['new_day_cdrs']:,} CDRs: ingest "
              f"{row['new_day_ingest_seconds']:.1f} s, refresh {row['new_day_refresh_seconds']:.1f} s (from "
              f"{row['new_day_rebuilt_from']}); a tariff switch from 16 Dec: refresh {row['switch_refresh_seconds']:.1f} s "
              f"(from {row['switch_rebuilt_from']})", flush=True)  # fmt: skip
    result = {"date": dt.date.today().isoformat(), "rows": rows}
    if len(rows) > 1:
        result["exponent"] = exponent([(r["ports"], r["seconds"]) for r in rows])
        result["live_exponent"] = exponent([(r["ports"], r["live_seconds"]) for r in rows])
        result["after_ingest_exponent"] = exponent([(r["ports"], r["after_ingest_seconds"]) for r in rows])
        result["floor_exponent"] = exponent([(r["ports"], r["floor_seconds"]) for r in rows])
        last2 = rows[-2:]
        result["exponent_last_decade"] = exponent([(r["ports"], r["seconds"]) for r in last2])
        result["live_exponent_last_decade"] = exponent([(r["ports"], r["live_seconds"]) for r in last2])
        result["after_ingest_exponent_last_decade"] = exponent([(r["ports"], r["after_ingest_seconds"]) for r in last2])
        print(
            f"growth exponent: month-close {result['exponent']:.2f} ({result['exponent_last_decade']:.2f} over the last"
            f" decade of sizes), plain scan {result['floor_exponent']:.2f}; live {result['live_exponent']:.2f}"
            f" ({result['live_exponent_last_decade']:.2f}); after ingest {result['after_ingest_exponent']:.2f}"
            f" ({result['after_ingest_exponent_last_decade']:.2f})"
        )
        svg(rows, ROOT / "docs" / "scale.svg")
    (ROOT / "benchmarks" / "results-scale.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
