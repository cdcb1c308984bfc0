"""Bench stage: utility bills for 1,000 sites × 12 months of 15-minute load, and NREL-PySAM on the same load.

The load is synthetic and deterministic (a depot-like daily shape with
hash-based noise, 1,000 sites × 35,040 intervals of 2018 = 35 M rows) on
local standard time (``Etc/GMT+5`` … ``Etc/GMT+8``), so that PySAM's calendar
(365 days from a Monday, no DST) matches the engine's; sites are put on the
15 real URDB tariffs in turn. Generating it is not timed; it is cached under
``bench-data/``.

Timed: :func:`evrevops.tariffs.billing.bills` over the whole table (one SQL
statement), best of 3 in fresh processes; PySAM ``Utilityrate5`` per
site-year on a sample of sites, extrapolated to the 1,000 sites. The sampled
sites' bills are also compared line by line, as a check that both billed
the same thing.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
URDB = ROOT / "tests" / "data" / "real" / "tariffs_urdb"  # the whole URDB set, kept in the repository
SITES = 1000
INTERVALS = 8760 * 4
ZONES = ("Etc/GMT+5", "Etc/GMT+6", "Etc/GMT+7", "Etc/GMT+8")


def tariffs() -> list[tuple[str, dict]]:
    from evrevops.formats.urdb import read_urdb

    out = []
    for p in sorted(URDB.glob("*.json")):
        if p.name == "manifest.json":
            continue
        row = read_urdb(p).tables["utility_tariffs"].to_pylist()[0]
        out.append((row["utility_tariff_id"], json.loads(row["rate_json"])))
    return out


def generate(path: Path) -> dict:
    """Write the bench load (``load``) and site → tariff (``site_tariffs``) tables into a DuckDB file."""
    import duckdb

    t0 = time.perf_counter()
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    ids = [tid for tid, _ in tariffs()]
    con.sql("CREATE TABLE tariff_ids (n INTEGER, utility_tariff_id VARCHAR)")
    con.executemany("INSERT INTO tariff_ids VALUES (?, ?)", list(enumerate(ids)))
    con.sql(
        f"""CREATE TABLE site_tariffs AS
            SELECT 'B' || lpad(CAST(s AS VARCHAR), 4, '0') AS site_id, t.utility_tariff_id,
                   {list(ZONES)}[1 + s % {len(ZONES)}] AS time_zone
            FROM range({SITES}) r(s) JOIN tariff_ids t ON t.n = s % {len(ids)}"""
    )
    # offset of local standard time from UTC [h] for Etc/GMT+N is −N
    con.sql(
        f"""CREATE TABLE load AS
            WITH g AS (
                SELECT s, i, 5 + s % {len(ZONES)} AS west_h,
                       (i % 96) / 4.0 AS hour_of_day,
                       (hash(s * {INTERVALS} + i) % 1000) / 1000.0 AS u
                FROM range({SITES}) a(s), range({INTERVALS}) b(i)
            )
            SELECT 'B' || lpad(CAST(s AS VARCHAR), 4, '0') AS site_id,
                   TIMESTAMP '2018-01-01' + to_minutes(CAST(i * 15 + west_h * 60 AS BIGINT)) AS interval_at,
                   TIMESTAMP '2018-01-01' + to_minutes(CAST(i * 15 AS BIGINT)) AS local_at,
                   greatest(0.0, (20 + s % 7 * 15) * (CASE WHEN hour_of_day BETWEEN 7 AND 19 THEN 1.0 ELSE 0.35 END)
                                 * (0.4 + 1.2 * u)) AS power_kw
            FROM g ORDER BY site_id, interval_at"""
    )
    n = con.sql("SELECT count(*) FROM load").fetchall()[0][0]
    con.close()
    return {"seconds": time.perf_counter() - t0, "intervals": n}


def run_bills(path: Path) -> dict:
    """Bill every site-month of the bench load: the timed engine call."""
    import duckdb

    from evrevops.tariffs.billing import bills, parse_rate

    con = duckdb.connect(str(path), read_only=True)
    rates = [parse_rate(rate, tid) for tid, rate in tariffs()]
    t0 = time.perf_counter()
    out = bills(con, "load", "site_tariffs", rates).to_arrow_table()
    secs = time.perf_counter() - t0
    import resource

    return {
        "seconds": secs,
        "bills": out.num_rows,
        "total_minor": int(sum(out.column("total_minor").to_pylist())),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def run_pysam(path: Path, sample: int) -> dict:
    """PySAM per site-year on *sample* sites (one per tariff first), with a line-by-line comparison."""
    import duckdb
    import numpy as np

    sys.path.insert(0, str(ROOT / "tests" / "tariffs"))
    from pysam_oracle import LINES, pysam_bills  # test-only oracle

    from evrevops.tariffs.billing import LINE_ITEMS, bills, parse_rate

    con = duckdb.connect(str(path), read_only=True)
    rates = dict(tariffs())
    sites = con.sql(f"SELECT site_id, utility_tariff_id FROM site_tariffs ORDER BY site_id LIMIT {sample}").fetchall()
    con.sql(
        "CREATE TEMP TABLE sample AS SELECT * FROM site_tariffs WHERE site_id IN ("
        + ", ".join(f"'{s}'" for s, _ in sites)
        + ")"
    )
    ours = bills(con, "load", "sample", [parse_rate(rates[t], t) for t in {t for _, t in sites}]).to_arrow_table()
    ours_by = {(r["site_id"], r["bill_month"].month): r for r in ours.to_pylist()}
    secs = 0.0
    worst = {line: 0.0 for line in LINES}
    compared = 0
    for site, tid in sites:
        load = np.array(
            con.sql(f"SELECT power_kw FROM load WHERE site_id = '{site}' ORDER BY interval_at").fetchnumpy()["power_kw"]
        )
        t0 = time.perf_counter()
        ref = pysam_bills(rates[tid], load)
        secs += time.perf_counter() - t0
        rate = rates[tid]
        # the documented differences (handbook §11): fixedmonthlycharge ignored, $/day as ×365/12
        skip_fixed = "fixedchargefirstmeter" not in rate or rate.get("fixedchargeunits") == "$/day"
        for m in range(12):
            r = ours_by[(site, m + 1)]
            for line in LINE_ITEMS:
                if line == "fixed_charge" and skip_fixed:
                    continue
                worst[line] = max(worst[line], abs(float(r[f"{line}_exact"]) - ref[line][m]))
            if not skip_fixed:
                exact = sum(float(r[f"{line}_exact"]) for line in LINE_ITEMS)
                worst["total"] = max(worst["total"], abs(exact - ref["total"][m]))
            compared += 1
    per_site = secs / len(sites)
    return {
        "sites": len(sites),
        "seconds": secs,
        "seconds_per_site_year": per_site,
        "extrapolated_seconds": per_site * SITES,
        "site_months_compared": compared,
        "max_abs_difference_usd": worst,
    }


if __name__ == "__main__":
    cmd, p = sys.argv[1], Path(sys.argv[2])
    if cmd == "generate":
        print(json.dumps(generate(p)))
    elif cmd == "bills":
        print(json.dumps(run_bills(p)))
    elif cmd == "pysam":
        print(json.dumps(run_pysam(p, int(sys.argv[3]))))
