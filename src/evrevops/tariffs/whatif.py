"""What-ifs on energy margin: baseline and scenario side by side, per site, over whole local months.

``power_cap``
    Managed charging under a site kW cap. Sessions are placed as in the
    load profile (:mod:`evrevops.tariffs.load_profile`) from sessions only —
    at constant power over their charging time, capped at the port rating,
    for the baseline and the scenario alike — so that every kWh belongs to a
    session. In each 15-minute interval where
    the site's load :math:`L` exceeds the cap :math:`C`, every charging
    session is scaled by :math:`C / L`; what a session misses is deferred
    into its own idle time (after its charging ended, before it left — the
    departure times stay as they were), at up to its port's rating, into the
    headroom :math:`C - L` left in each interval, shared between the sessions
    deferring there in proportion to what each still needs. Energy that does
    not fit before departure is lost, and with it the session's revenue per
    kWh (its ``ENERGY`` component when the CDR gives one, else its total).
    The managed load never exceeds the cap. Reported: demand charge saved,
    energy revenue lost, net change in energy margin, and — over caps from
    10 % to 100 % of the site's own peak — the cap that maximizes margin.
``tariff``
    The same load under another utility tariff (e.g. an EV-specific rate), for the same days:
    each part of a month the baseline bills under one tariff is billed under the other.

Both bill the baseline and the scenario with the same bill engine
(:mod:`evrevops.tariffs.billing`); money is integer minor units, and every
``*_change_minor`` is the exact difference of the two integer bills.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pyarrow as pa

from evrevops.core.sqltext import sql_in, ts_sql
from evrevops.tariffs import load_profile, site_bills
from evrevops.tariffs.load_profile import capped_end_sql
from evrevops.tariffs.site_bills import utc_range
from evrevops.warehouse.protocol import WarehouseLike

STEP_S = load_profile.STEP_S
CAP_FRACTIONS = tuple(round(0.1 + 0.05 * i, 2) for i in range(19))  # 10 % … 100 % of the site peak

SESSIONS_SQL = """
WITH s AS (
    SELECT s.session_id, s.site_id, s.energy_kwh, p.rated_kw,
           coalesce(s.energy_cost_minor, s.total_cost_minor, 0) AS rev_minor,
           epoch(s.started_at) AS a,
           epoch(least(coalesce(s.charging_ended_at, s.ended_at), s.ended_at)) AS b0,
           epoch(s.ended_at) AS e,
           CAST(date_trunc('month', timezone(coalesce(st.time_zone, 'UTC'), s.started_at::TIMESTAMPTZ)) AS DATE)
               AS start_month
    FROM sessions s LEFT JOIN ports p ON p.port_id = s.port_id LEFT JOIN sites st ON st.site_id = s.site_id
    WHERE s.energy_kwh > 0 AND s.ended_at > {start} AND s.started_at < {end} {site_filter}
),
c AS (
    SELECT *, {capped_end} AS b
    FROM s WHERE b0 > a
)
SELECT session_id, site_id, energy_kwh, rated_kw, rev_minor, start_month, a, b, e,
       energy_kwh * 3600 / (b - a) AS kw
FROM c
"""

CAP_SQL = """
WITH cs AS (SELECT * FROM _wi_sessions),
ck AS (
    -- charging buckets: the session's average kW over each 15-minute interval
    SELECT session_id, site_id, k, kw * (least(b, (k + 1) * {step}) - greatest(a, k * {step})) / {step} AS kw_k
    FROM (SELECT *, unnest(range(CAST(floor(a / {step}) AS BIGINT), CAST(ceil(b / {step}) AS BIGINT))) AS k FROM cs)
),
ld AS (SELECT site_id, k, sum(kw_k) AS l_kw FROM ck GROUP BY site_id, k),
f AS (
    SELECT ld.site_id, ld.k, ld.l_kw, cap.cap_kw,
           CASE WHEN ld.l_kw > cap.cap_kw THEN cap.cap_kw / ld.l_kw ELSE 1.0 END AS factor,
           greatest(cap.cap_kw - ld.l_kw, 0) AS headroom_kw
    FROM ld JOIN _wi_caps cap ON cap.site_id = ld.site_id
),
short AS (
    SELECT ck.session_id, sum(ck.kw_k * (1 - f.factor)) * {step} / 3600 AS short_kwh
    FROM ck JOIN f ON f.site_id = ck.site_id AND f.k = ck.k GROUP BY ck.session_id
),
ik AS (
    -- idle buckets of sessions that missed energy: after charging ended, before departure
    SELECT session_id, site_id, k, short_kwh,
           coalesce(nullif(rated_kw, 0), kw) * (least(e, (k + 1) * {step}) - greatest(b, k * {step})) / {step}
               AS room_kw
    FROM (SELECT cs.*, sh.short_kwh,
                 unnest(range(CAST(floor(b / {step}) AS BIGINT), CAST(ceil(e / {step}) AS BIGINT))) AS k
          FROM cs JOIN short sh USING (session_id) WHERE sh.short_kwh > 0 AND cs.e > cs.b)
),
alloc AS (
    SELECT ik.session_id, ik.site_id, ik.k, ik.short_kwh,
           least(ik.room_kw, coalesce(f.headroom_kw, cap.cap_kw)
                 * ik.short_kwh / sum(ik.short_kwh) OVER (PARTITION BY ik.site_id, ik.k)) * {step} / 3600 AS can_kwh
    FROM ik JOIN _wi_caps cap ON cap.site_id = ik.site_id
    LEFT JOIN f ON f.site_id = ik.site_id AND f.k = ik.k
),
deferred AS (
    SELECT session_id, site_id, k,
           greatest(0, least(can_kwh, short_kwh - (sum(can_kwh) OVER w - can_kwh))) AS kwh
    FROM alloc WINDOW w AS (PARTITION BY session_id ORDER BY k ROWS UNBOUNDED PRECEDING)
),
managed AS (
    SELECT site_id, k, sum(kw) AS power_kw FROM (
        SELECT site_id, k, least(l_kw, cap_kw) AS kw FROM f
        UNION ALL
        SELECT site_id, k, kwh * 3600 / {step} AS kw FROM deferred
    ) GROUP BY site_id, k
),
lost AS (
    SELECT cs.site_id, cs.start_month,
           sum(greatest(coalesce(sh.short_kwh, 0) - coalesce(d.kwh, 0), 0)) AS lost_kwh,
           sum(CAST(greatest(coalesce(sh.short_kwh, 0) - coalesce(d.kwh, 0), 0) / cs.energy_kwh AS DECIMAL(38, 12))
               * cs.rev_minor) AS revenue_lost_exact_minor
    FROM cs LEFT JOIN short sh USING (session_id)
    LEFT JOIN (SELECT session_id, sum(kwh) AS kwh FROM deferred GROUP BY session_id) d USING (session_id)
    GROUP BY cs.site_id, cs.start_month
)
SELECT 'managed' AS part, site_id, k, power_kw, NULL::DATE AS start_month, NULL::DOUBLE AS lost_kwh,
       NULL::DECIMAL(38, 12) AS revenue_lost_exact_minor FROM managed
UNION ALL
SELECT 'lost', site_id, NULL, NULL, start_month, lost_kwh, revenue_lost_exact_minor FROM lost
"""


def _profile_from(table: str) -> str:
    """A load relation (as the bill engine reads it) from a (site_id, k, power_kw) table of 15-minute buckets."""
    return f"""SELECT m.site_id, 'managed' AS source,
                  {load_profile.instant_sql(f"m.k * {STEP_S}")} AS interval_at,
                  {load_profile.wall_clock_sql(f"m.k * {STEP_S}", "coalesce(st.time_zone, 'UTC')")} AS local_at,
                  m.power_kw
           FROM {table} m LEFT JOIN sites st ON st.site_id = m.site_id"""


def _parts(
    wh: WarehouseLike, first: dt.date, last: dt.date, site_ids: list[str], profile: str, tariff: str | None = None
):
    """Bills by (site, month, part's first day): a month with a tariff change has two parts."""
    sql = site_bills.bills_sql(wh, first, last, site_ids, profile=profile, tariff=tariff)
    return {(r["site_id"], r["bill_month"], r["first_on"]): r for r in wh.fetch(sql).to_pylist()}


BILL_FIELDS = ("energy_kwh", "peak_kw", "energy_charge_minor", "flat_demand_charge_minor", "tou_demand_charge_minor",
               "fixed_charge_minor", "minimum_charge_adjustment_minor", "total_minor")  # fmt: skip


def _bills(
    wh: WarehouseLike, first: dt.date, last: dt.date, site_ids: list[str], profile: str, tariff: str | None = None
):
    """Bills by (site, month): the parts of a month split by a tariff change add up (the peak is the month's)."""
    out: dict[tuple, dict] = {}
    for (site, month, _), b in sorted(_parts(wh, first, last, site_ids, profile, tariff).items()):
        if (site, month) not in out:
            out[(site, month)] = dict(b)
            continue
        m = out[(site, month)]
        for f in BILL_FIELDS:
            m[f] = max(m[f] or 0.0, b[f] or 0.0) if f == "peak_kw" else (m[f] or 0) + (b[f] or 0)
    return out


def _demand(b: dict) -> int:
    return b["flat_demand_charge_minor"] + b["tou_demand_charge_minor"]


def power_cap(
    wh: WarehouseLike,
    first: dt.date,
    last: dt.date,
    site_ids: list[str],
    cap_kw: float | None = None,
    fractions: tuple[float, ...] = CAP_FRACTIONS,
) -> pa.Table:
    """Managed charging under a site cap: baseline and scenario bills, energy and revenue lost.

    Parameters
    ----------
    first, last : date
        First days of the first and last local month.
    site_ids : list of str
        Sites (each under its own utility tariff).
    cap_kw : float, optional
        The site cap [kW]; without it, each site is tried at *fractions* of
        its own baseline peak and every cap is reported, with ``best`` marking
        the one with the highest energy margin.

    Returns
    -------
    pyarrow.Table
        One row per site, bill month and cap: ``cap_kw``, ``baseline_*`` and
        ``scenario_*`` bill fields (a month with a tariff change: the sums of its parts,
        the month's peak), ``energy_lost_kwh``,
        ``revenue_lost_minor``, ``demand_charge_saved_minor``,
        ``bill_change_minor`` (scenario − baseline), ``margin_change_minor``
        (bill saved − revenue lost) and ``best``.
    """
    start, end = utc_range(first, last)
    flt = sql_in("s.site_id", site_ids)
    wh.execute(
        f"CREATE OR REPLACE TEMP TABLE _wi_sessions AS {SESSIONS_SQL.format(start=ts_sql(start), end=ts_sql(end), site_filter=flt, capped_end=capped_end_sql('energy_kwh'))}"
    )
    base_profile = load_profile.from_sessions_sql(start, end, site_ids=site_ids, cdr_periods=False)
    baseline = _bills(wh, first, last, site_ids, base_profile)
    if cap_kw is not None:
        caps = {site: [float(cap_kw)] for site in site_ids}
    else:
        peaks: dict[str, float] = {}
        for (site, _), b in baseline.items():
            peaks[site] = max(peaks.get(site, 0.0), b["peak_kw"] or 0.0)
        caps = {site: sorted({peaks.get(site, 0.0) * fr for fr in fractions}) for site in site_ids}
    rows: list[dict] = []
    n_caps = max((len(v) for v in caps.values()), default=0)
    for i in range(n_caps):
        chosen = {site: v[i] for site, v in caps.items() if i < len(v)}
        wh.register("_wi_caps", pa.table({"site_id": list(chosen), "cap_kw": list(chosen.values())}))
        out = wh.fetch(CAP_SQL.format(step=STEP_S))
        wh.register("_wi_out", out)
        wh.execute(
            "CREATE OR REPLACE TEMP TABLE _wi_managed AS SELECT site_id, k, power_kw FROM _wi_out WHERE part = 'managed'"
        )
        lost = {
            (r["site_id"], r["start_month"]): r
            for r in wh.fetch("SELECT * FROM _wi_out WHERE part = 'lost'").to_pylist()
        }
        scenario = _bills(wh, first, last, list(chosen), _profile_from("_wi_managed"))
        for key, b in sorted(baseline.items()):
            if key[0] not in chosen or key not in scenario:
                continue
            sc = scenario[key]
            lo = lost.get(key, {})
            revenue_lost = int(Decimal(lo.get("revenue_lost_exact_minor") or 0).quantize(Decimal(1), ROUND_HALF_UP))
            row = {
                "site_id": key[0],
                "month": key[1].strftime("%Y-%m"),
                "currency": b["currency"],
                "cap_kw": chosen[key[0]],
            }
            row.update({f"baseline_{f}": b[f] for f in BILL_FIELDS})
            row.update({f"scenario_{f}": sc[f] for f in BILL_FIELDS})
            row["energy_lost_kwh"] = round(lo.get("lost_kwh") or 0.0, 6)
            row["revenue_lost_minor"] = revenue_lost
            row["demand_charge_saved_minor"] = _demand(b) - _demand(sc)
            row["bill_change_minor"] = sc["total_minor"] - b["total_minor"]
            row["margin_change_minor"] = (b["total_minor"] - sc["total_minor"]) - revenue_lost
            rows.append(row)
    for name in ("_wi_sessions", "_wi_managed"):
        wh.execute(f"DROP TABLE IF EXISTS {name}")
    best: dict[tuple[str, str], dict] = {}
    for r in rows:
        k = (r["site_id"], r["month"])
        if k not in best or r["margin_change_minor"] > best[k]["margin_change_minor"]:
            best[k] = r
    for r in rows:
        r["best"] = best[(r["site_id"], r["month"])] is r
    rows.sort(key=lambda r: (r["site_id"], r["month"], r["cap_kw"]))
    return pa.Table.from_pylist(rows) if rows else pa.table({"site_id": pa.array([], pa.string())})


def tariff(wh: WarehouseLike, first: dt.date, last: dt.date, site_ids: list[str], utility_tariff_id: str) -> pa.Table:
    """The same load under *utility_tariff_id*: baseline and scenario bills per site, month and tariff part.

    The load is the site's own profile (meter registers where present, else
    sessions), as in the baseline bill. Each part of the baseline (the days of a month under
    one tariff: ``first_on`` … ``last_on``) is billed under *utility_tariff_id* for the same
    days, prorated alike; a month with a tariff change has a row per part.
    """
    start, end = utc_range(first, last)
    profile = load_profile.from_sessions_sql(start, end, site_ids=site_ids, meter="meter_readings")
    baseline = _parts(wh, first, last, site_ids, profile)
    scenario = _parts(wh, first, last, site_ids, profile, tariff=utility_tariff_id)
    rows = []
    for key, b in sorted(baseline.items()):
        sc = scenario.get(key)
        if sc is None:
            continue
        row = {
            "site_id": key[0],
            "month": key[1].strftime("%Y-%m"),
            "first_on": b["first_on"],
            "last_on": b["last_on"],
            "currency": b["currency"],
            "baseline_tariff": b["utility_tariff_id"],
            "scenario_tariff": utility_tariff_id,
        }
        row.update({f"baseline_{f}": b[f] for f in BILL_FIELDS})
        row.update({f"scenario_{f}": sc[f] for f in BILL_FIELDS})
        row["demand_charge_saved_minor"] = _demand(b) - _demand(sc)
        row["bill_change_minor"] = sc["total_minor"] - b["total_minor"]
        row["margin_change_minor"] = b["total_minor"] - sc["total_minor"]
        rows.append(row)
    return pa.Table.from_pylist(rows) if rows else pa.table({"site_id": pa.array([], pa.string())})
