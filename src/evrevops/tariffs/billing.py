"""Utility bills: a site's electricity cost under its URDB tariff, from 15-minute load.

A site-month's energy cost is its utility bill (handbook §5). The bill has
these lines, each computed exactly in DECIMAL and rounded to cents on its
own; ``total`` is the sum of the rounded lines, so a bill always adds up:

``energy_charge``
    kWh by time-of-use period (``energyratestructure`` with the 12 × 24
    ``energyweekdayschedule``/``energyweekendschedule``, local wall time,
    Saturday and Sunday are the weekend) × the period's rate (``rate`` +
    ``adj``). Tiers: the tier limits (``max``, kWh per month) apply to the
    month's total kWh; each period's kWh falls into its own tiers in
    proportion to its share of the month (the rule of NREL SAM, which
    evrevops also applies when periods have different limits, where SAM
    refuses the tariff). Usage above a last tier that has a ``max`` is billed
    at that tier's price (SAM bills it at $0) and noted in ``notes``.
``flat_demand_charge``
    The month's peak demand [kW] × the rate of the month's
    ``flatdemandmonths`` period, tier by tier; ``flatdemandmonths`` missing
    means period 0 every month.
``tou_demand_charge``
    For each demand TOU period (``demandratestructure`` and its schedules)
    its own peak in the month × its rate, tier by tier.
``fixed_charge``
    ``fixedchargefirstmeter`` in ``fixedchargeunits`` (``$/month`` when
    missing; ``$/day`` × the days of the month; ``$/year`` ÷ 12), or the older
    ``fixedmonthlycharge`` [$/month] when there is no
    ``fixedchargefirstmeter``.
``minimum_charge_adjustment``
    What lifts energy + demand + fixed to the monthly minimum
    (``mincharge`` in ``minchargeunits``, or the older ``minmonthlycharge``).

Demand is the highest average kW over the tariff's ``demandwindow`` (15
minutes unless it says otherwise) in fixed, clock-aligned blocks; intervals
with no load count as 0 kW. A block belongs to the demand period of its first
interval.

A site's tariff can change within a month: the bill is then split at the change, one bill per
tariff part of the month, each for its own intervals and prorated by its days
(:func:`bill_sql` gives the rule).

Tariff parts this engine does not bill are listed in
:attr:`UtilityRate.unsupported`, never dropped silently: coincident-peak
demand (``coincidentratestructure``), reactive power
(``demandreactivepowercharge``), demand ratchets (``lookbackpercent``,
``lookbackrange``), an annual minimum (``annualmincharge``, ``mincharge`` in
``$/year``) and tier limits in units other than kWh per month or per day.

The bulk computation is one SQL statement over a load table and small tariff
tables (:func:`evrevops.tariffs.utility_rate.rate_tables`, from the records
:func:`~evrevops.tariffs.utility_rate.parse_rate` reads); it never loops over intervals in Python. The statement is
written in DuckDB's dialect and runs on DuckDB and, transpiled
(:func:`evrevops.warehouse.sql.to_spark`), on Spark, with the same bills to the cent: every
DECIMAL in it has an explicit precision and scale that both engines keep exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal

import duckdb
import pyarrow as pa

from evrevops.core.calendar import month_index
from evrevops.tariffs.load_profile import exact_sum_sql
from evrevops.tariffs.utility_rate import RateError as RateError  # the rate's parser, read as billing.* by callers
from evrevops.tariffs.utility_rate import UtilityRate, rate_tables
from evrevops.tariffs.utility_rate import parse_rate as parse_rate

LINE_ITEMS = (
    "energy_charge",
    "flat_demand_charge",
    "tou_demand_charge",
    "fixed_charge",
    "minimum_charge_adjustment",
)


# Exact money: kWh and kW are DOUBLE physical quantities; each is cast to QTY before it meets a rate
# cast to RATE, and amounts stay DECIMAL until each line is rounded to cents. The types are chosen so
# that DuckDB and Spark compute the same exact numbers: a QTY × RATE product needs 22 + 15 + 1 = 38
# digits, the most Spark keeps without cutting the scale (21 places, exact), and a line is LINE
# (up to $999,999,999 a site-month) so that adding the five lines stays within 38 digits too.
QTY = "DECIMAL(22, 12)"  # kWh or kW, up to 10^10
RATE = "DECIMAL(15, 9)"  # $/kWh or $/kW, up to $999,999
LINE = "DECIMAL(30, 21)"
# kW and kWh are added exactly and read back as DOUBLE: the same sum in any order the engine's threads meet
# the intervals (a float sum is not), so the same bill is the same to the last bit every run. Over the
# intervals, each kW as whole nano-kW (BIGINT: 10⁻⁹ kW, far below a cent, and adding integers is the
# cheapest exact sum); the few sums after them as XSUM.
XSUM = "DECIMAL(38, 12)"
# The SQL is DuckDB's dialect and runs unchanged on Spark (transpiled by SQLGlot,
# evrevops.warehouse.sql.to_spark): local hours are whole hours since 1970 on the wall clock
# (date_diff), integer division is `//` on integers only, and no CTE is MATERIALIZED.
# One pass over the intervals: each is joined to its tariff part (its site's tariff on its local day:
# a join on the site and a range of local hours; most sites have one part) and grouped once by
# (part, month, schedule hour) into kWh and the highest interval kW; a tariff whose demand window is
# longer than the interval has its clock-aligned blocks averaged first (a second, smaller pass over its
# own sites only). Past that pass each step reads the one before it once (month totals and peaks are
# window sums beside the rows, not joins back): Spark inlines a CTE at every reference, so a CTE read by
# several later steps would be planned and run once per path. A part is (site_id, from_lh) from there
# on; its first and last day (first_on, last_on) ride along, and the part's days in the month (pdays) of
# the month's days (mdays) prorate what the tariff states per month, at the end (exact, via
# bill_prorate) and on the monthly tier limits (DOUBLE, as the limits are).
BILL_SQL = """
WITH {load_cte}pt AS (
    -- the tariff parts: a site's tariff from first_on to last_on (local dates; NULL: open), in local hours
    SELECT p.site_id, m.tn, m.window_s, p.first_on, p.last_on,
           coalesce({first_lh}, {no_lh_lo}) AS from_lh, coalesce({last_lh} + 24, {no_lh_hi}) AS to_lh,
           -- the site's one part covers every day billed (as most do): its intervals need no day test
           count(*) OVER (PARTITION BY p.site_id) = 1
               AND coalesce(p.first_on, DATE '0001-01-01') <= min(coalesce(p.first_on, DATE '0001-01-01')) OVER ()
               AND coalesce(p.last_on, DATE '9999-12-31') >= max(coalesce(p.last_on, DATE '9999-12-31')) OVER ()
               AS whole
    FROM {parts} p JOIN rate_meta m ON m.utility_tariff_id = p.utility_tariff_id
),
hg AS (
    -- the one pass over every interval: per part, local month and schedule hour (the hour's place in
    -- a 12 × 24 weekday/weekend schedule, from the small bill_calendar), kWh and the top interval kW;
    -- a site whose one part covers every day is grouped by site first and meets its part after, the
    -- others' intervals meet their part by the range of local hours (a join on the site and a range)
    SELECT pt.site_id, pt.from_lh, x.mh, x.kw_sum, x.kw_max
    FROM (SELECT d.site_id, c.mh, {xsum_power} AS kw_sum, max(d.power_kw) AS kw_max
          FROM {load} d JOIN bill_calendar c ON c.lh = {local_hour}
          GROUP BY d.site_id, c.mh) x
    JOIN pt ON pt.site_id = x.site_id AND pt.whole
    UNION ALL
    SELECT pt.site_id, pt.from_lh, c.mh, {xsum_power}, max(d.power_kw)
    FROM {load} d JOIN pt ON pt.site_id = d.site_id AND NOT pt.whole
                         AND {local_hour} >= pt.from_lh AND {local_hour} < pt.to_lh
    JOIN bill_calendar c ON c.lh = {local_hour}
    GROUP BY pt.site_id, pt.from_lh, c.mh
),
g AS (
    -- then, on at most 576 rows per part-year, the part's tariff periods of each schedule hour
    SELECT pt.site_id, pt.from_lh, pt.first_on, pt.last_on, pt.tn, pt.window_s, hg.mh // 576 AS mk, h.ep, h.dp,
           {xsum_hg} AS kw_sum, max(hg.kw_max) AS kw_max
    FROM hg JOIN pt ON pt.site_id = hg.site_id AND pt.from_lh = hg.from_lh
    JOIN rate_hours h ON h.k = pt.tn * 1024 + hg.mh % 576
    GROUP BY pt.site_id, pt.from_lh, pt.first_on, pt.last_on, pt.tn, pt.window_s, hg.mh // 576, h.ep, h.dp
),
blocks AS (
    -- parts whose tariff's demand window is longer than the interval: clock-aligned block averages
    SELECT pt.site_id, pt.from_lh, pt.first_on, pt.last_on, pt.tn, c.mk, arg_min(h.dp, d.interval_at) AS dp,
           {xsum_power} * {step_s} / max(pt.window_s) AS kw
    FROM {load} d JOIN pt ON pt.site_id = d.site_id AND pt.window_s > {step_s}
                            AND {local_hour} >= pt.from_lh AND {local_hour} < pt.to_lh
    JOIN bill_calendar c ON c.lh = {local_hour}
    JOIN rate_hours h ON h.k = pt.tn * 1024 + c.hk
    GROUP BY pt.site_id, pt.from_lh, pt.first_on, pt.last_on, pt.tn, c.mk,
             date_diff('microsecond', TIMESTAMP '1970-01-01', d.interval_at) // (pt.window_s * 1000000)
),
month_energy AS (
    -- kWh of each energy period in the part's month, beside the part-month's total, and the part's days
    SELECT *, CAST(sum(CAST(kwh AS {xsum})) OVER (PARTITION BY site_id, from_lh, bill_month) AS DOUBLE) AS month_kwh,
           {pdays} AS pdays, {mdays} AS mdays
    FROM (SELECT site_id, from_lh, first_on, last_on, tn,
                 make_date(CAST(mk // 12 AS INTEGER), CAST(mk % 12 + 1 AS INTEGER), 1) AS bill_month,
                 ep, {xsum_g} * {step_h} AS kwh
          FROM g GROUP BY site_id, from_lh, first_on, last_on, tn, mk, ep) pe
),
energy AS (
    -- tier limits: kWh per day × the part's days; kWh per month × the part's share of the month
    SELECT e.site_id, e.from_lh, e.first_on, e.last_on, e.tn, e.bill_month, e.pdays, e.mdays,
           max(e.month_kwh) AS energy_kwh,
           CAST(sum(CAST(CASE WHEN e.month_kwh > 0 THEN e.kwh / e.month_kwh * greatest(
                   least(e.month_kwh, coalesce(x.upper * {limit_scale}, e.month_kwh))
                   - x.lower * {limit_scale}, 0) ELSE 0 END
               AS {qty}) * CAST(x.rate AS {rate})) AS {line}) AS energy_charge
    FROM month_energy e
    LEFT JOIN rate_energy_tiers x ON x.tn = e.tn AND x.period = e.ep
    GROUP BY e.site_id, e.from_lh, e.first_on, e.last_on, e.tn, e.bill_month, e.pdays, e.mdays
),
tou_peak AS (
    -- the peak of each demand period in the part's month, beside the part-month's peak
    SELECT *, max(kw) OVER (PARTITION BY site_id, from_lh, bill_month) AS month_kw
    FROM (SELECT site_id, from_lh, tn, make_date(CAST(mk // 12 AS INTEGER), CAST(mk % 12 + 1 AS INTEGER), 1) AS bill_month,
                 dp, max(kw) AS kw
          FROM (SELECT site_id, from_lh, tn, mk, dp, kw_max AS kw FROM g WHERE window_s <= {step_s}
                UNION ALL
                SELECT site_id, from_lh, tn, mk, dp, kw FROM blocks) pk
          GROUP BY site_id, from_lh, tn, mk, dp) pp
),
demand AS (
    SELECT p.site_id, p.from_lh, p.tn, p.bill_month, max(p.month_kw) AS peak_kw,
           CAST(sum(CAST(greatest(least(p.kw, coalesce(x.upper, p.kw)) - x.lower, 0) AS {qty})
                    * CAST(x.rate AS {rate})) AS {line}) AS tou_demand_charge
    FROM tou_peak p
    LEFT JOIN rate_demand_tiers x ON x.tn = p.tn AND x.kind = 'tou' AND x.period = p.dp
    GROUP BY p.site_id, p.from_lh, p.tn, p.bill_month
),
flat AS (
    SELECT p.site_id, p.from_lh, p.bill_month, max(p.peak_kw) AS peak_kw,
           max(p.tou_demand_charge) AS tou_demand_charge,
           CAST(sum(CAST(greatest(least(p.peak_kw, coalesce(x.upper, p.peak_kw)) - x.lower, 0) AS {qty})
                    * CAST(x.rate AS {rate})) AS {line}) AS flat_demand_charge
    FROM demand p
    LEFT JOIN rate_demand_tiers x ON x.tn = p.tn AND x.kind = 'flat'
                                 AND x.period = CAST(EXTRACT(month FROM p.bill_month) AS INTEGER)
    GROUP BY p.site_id, p.from_lh, p.bill_month
),
exact AS (
    -- a part of the month bills pdays / mdays of what is stated per month (demand, $/month and $/year
    -- fixed and minimum charges) and its own days of what is stated per day; a whole month bills as stated
    SELECT e.site_id, mt.utility_tariff_id, e.bill_month, {part_first} AS first_on, {part_last} AS last_on,
           e.energy_kwh, f.peak_kw,
           coalesce(e.energy_charge, CAST(0 AS {line})) AS energy_charge,
           {flat_demand} AS flat_demand_charge,
           {tou_demand} AS tou_demand_charge,
           CASE mt.fixed_units WHEN '$/day' THEN CAST(mt.fixed * e.pdays AS {line}) ELSE {fixed_month} END
               AS fixed_charge,
           CASE mt.minimum_units WHEN '$/day' THEN CAST(mt.minimum * e.pdays AS {line}) ELSE {minimum_month} END
               AS minimum_charge
    FROM energy e
    JOIN flat f ON f.site_id = e.site_id AND f.from_lh = e.from_lh AND f.bill_month = e.bill_month
    JOIN rate_meta mt ON mt.tn = e.tn
    LEFT JOIN bill_prorate pr ON pr.days = e.pdays AND pr.month_days = e.mdays
),
lines AS (
    SELECT *, CAST(greatest(minimum_charge - (energy_charge + flat_demand_charge + tou_demand_charge + fixed_charge),
                            CAST(0 AS {line})) AS {line}) AS minimum_charge_adjustment
    FROM exact
)
SELECT site_id, utility_tariff_id, bill_month, first_on, last_on, 'USD' AS currency, energy_kwh, peak_kw,
       {minor_lines},
       {minor_total} AS total_minor,
       {exact_lines}
FROM lines
"""

# the exact lines as the kept bills store them (site_month_bills)
EXACT_TYPES = {name: "DECIMAL(38, 12)" if name == "fixed_charge" else "DECIMAL(38, 21)" for name in LINE_ITEMS}


def _days(col: str = "bill_month") -> str:
    # days in the billing month
    return f"EXTRACT(day FROM last_day({col}))"


def _part_day(first: bool, on: str, month: str) -> str:
    # the part's first (or last) day within the month: its own, or the month's where it is open or outside
    if first:
        return f"greatest(coalesce({on}, {month}), {month})"
    return f"least(coalesce({on}, last_day({month})), last_day({month}))"


def local_hour_sql(local_at: str) -> str:
    """SQL of whole hours since 1970-01-01 00:00 on the wall clock (``bill_calendar.lh``) of a local TIMESTAMP."""
    return f"date_diff('hour', TIMESTAMP '1970-01-01', {local_at})"


# an open part's bounds in local hours: before and after every calendar
NO_LH = 10**12
# the proration factor of a part of a month: its days / the month's days, to 12 places (bill_prorate)
PRORATE_DECIMAL = pa.decimal128(13, 12)
PRORATED_LINE = "DECIMAL(24, 15)"  # a line before it meets the factor: a product both engines keep exact


def _prorated(expr: str, line: str) -> str:
    """A line stated per month, for the part's days: as stated for a whole month, else × the factor."""
    return (
        f"CASE WHEN e.pdays = e.mdays THEN CAST({expr} AS {line}) "
        f"ELSE CAST(CAST({expr} AS {PRORATED_LINE}) * pr.factor AS {line}) END"
    )


def bill_sql(load: str, parts: str, step_s: int = 900, materialize: bool = False) -> str:
    """The bill SQL over a load relation and a relation of tariff parts.

    Parameters
    ----------
    load : str
        Relation with ``site_id``, ``interval_at`` (UTC interval start),
        ``local_at`` (the same instant on the site's wall clock) and
        ``power_kw`` (average power over the interval [kW]); intervals without
        a row have no load.
    parts : str
        Relation with ``site_id``, ``utility_tariff_id``, ``first_on`` and ``last_on``: the site is on
        that tariff from local day ``first_on`` to ``last_on`` inclusive (NULL: open), parts of one
        site never overlapping. A site on one tariff throughout is one row with NULL days.
    step_s : int
        Interval length [s] (900 for 15-minute load).
    materialize : bool
        Name *load* once, as a CTE (a query rather than a table: it is read twice). DuckDB
        computes a CTE read twice once; Spark inlines it at each read (a table made first,
        ``wh.execute("CREATE TEMP TABLE …")``, is the better load there).

    Notes
    -----
    **A tariff change within a month splits the bill at the change**, as a utility prorates a
    rate change by days: one bill per part of the month (``first_on`` … ``last_on``, its days
    ``pdays`` of the month's ``mdays``). Each part bills its own intervals: its energy (TOU
    periods; tiers on the part's own kWh) and its own peak demand. What the tariff states per
    month is billed for pdays / mdays of a month: demand charges (flat and TOU), ``$/month``
    fixed and minimum charges (``$/year`` ÷ 12 likewise), and monthly kWh tier limits; what it
    states per day (``$/day`` charges, ``kWh daily`` limits) for the part's days. The factor is
    pdays / mdays to 12 places (half to even, ``bill_prorate``) and each prorated line is exact to
    21 places before it is rounded to cents; a part that is the whole month bills exactly as
    stated, so a month under one tariff bills as it always has.

    Needs the tables :func:`register_rates` and :func:`register_calendar` make. The text is
    DuckDB's dialect; :func:`evrevops.warehouse.sql.to_spark` carries it to Spark unchanged in
    meaning, to the cent.
    """
    # exact DECIMAL → cents: rounded half away from zero on both engines, at two places first so that
    # no engine cuts the scale on the way (Spark would for `× 100` of a DECIMAL(30, 21))
    minor = {name: f"CAST(round({name}, 2) * 100 AS BIGINT)" for name in LINE_ITEMS}
    load_cte = ""
    if materialize:
        load_cte, load = f"bill_load AS (SELECT * FROM {load}),\n", "bill_load"
    pdays = (
        f"EXTRACT(day FROM {_part_day(False, 'last_on', 'bill_month')})"
        f" - EXTRACT(day FROM {_part_day(True, 'first_on', 'bill_month')}) + 1"
    )
    return BILL_SQL.format(
        xsum=XSUM,
        xsum_power=exact_sum_sql("d.power_kw"),
        xsum_hg=exact_sum_sql("hg.kw_sum"),
        xsum_g=exact_sum_sql("kw_sum"),
        load_cte=load_cte,
        load=load,
        parts=parts,
        first_lh=local_hour_sql("CAST(p.first_on AS TIMESTAMP)"),
        last_lh=local_hour_sql("CAST(p.last_on AS TIMESTAMP)"),
        no_lh_lo=f"CAST(-{NO_LH} AS BIGINT)",
        no_lh_hi=f"CAST({NO_LH} AS BIGINT)",
        local_hour=local_hour_sql("d.local_at"),
        step_h=f"(CAST({step_s} AS DOUBLE) / 3600)",
        step_s=step_s,
        pdays=pdays,
        mdays=_days("bill_month"),
        limit_scale="CASE WHEN x.daily THEN CAST(e.pdays AS DOUBLE) ELSE CAST(e.pdays AS DOUBLE) / e.mdays END",
        part_first=_part_day(True, "e.first_on", "e.bill_month"),
        part_last=_part_day(False, "e.last_on", "e.bill_month"),
        flat_demand=_prorated(f"coalesce(f.flat_demand_charge, CAST(0 AS {LINE}))", LINE),
        tou_demand=_prorated(f"coalesce(f.tou_demand_charge, CAST(0 AS {LINE}))", LINE),
        fixed_month=_prorated("mt.fixed_month", LINE),
        minimum_month=_prorated("mt.minimum", LINE),
        qty=QTY,
        rate=RATE,
        line=LINE,
        minor_lines=", ".join(f"{expr} AS {name}_minor" for name, expr in minor.items()),
        minor_total=" + ".join(minor.values()),
        exact_lines=", ".join(f"CAST({name} AS {EXACT_TYPES[name]}) AS {name}_exact" for name in LINE_ITEMS),
    )


def register_rates(wh, rates: Iterable[UtilityRate]) -> None:
    """Register the tariff tables of *rates* (:func:`rate_tables`) for :data:`BILL_SQL`.

    *wh* is a warehouse (:class:`~evrevops.warehouse.db.Warehouse`,
    :class:`~evrevops.warehouse.spark.SparkWarehouse`) or a DuckDB connection: anything with
    ``register(name, arrow_table)``.
    """
    for name, table in rate_tables(rates).items():
        wh.register(name, table)


def calendar_table(first: dt.date, last: dt.date) -> pa.Table:
    """``bill_calendar``: every local hour of the days ``first`` … ``last``.

    Columns: ``lh`` (hours since 1970-01-01 00:00 on the wall clock), ``mk``
    (year × 12 + month − 1), ``hk`` (``(month − 1) × 48 + 24 × weekend +
    hour``, the hour's place in a 12 × 24 weekday/weekend schedule) and
    ``mh = mk × 576 + hk`` (both in one key, for the one pass over intervals).
    """
    days = (last - first).days + 1
    day0 = (first - dt.date(1970, 1, 1)).days
    lh, mk, hk = [], [], []
    for i in range(days):
        d = first + dt.timedelta(days=i)
        base = (d.month - 1) * 48 + (24 if d.weekday() >= 5 else 0)
        for h in range(24):
            lh.append((day0 + i) * 24 + h)
            mk.append(month_index(d))
            hk.append(base + h)
    mh = [m * 576 + h for m, h in zip(mk, hk, strict=True)]
    return pa.table(
        {
            "lh": pa.array(lh, pa.int64()),
            "mk": pa.array(mk, pa.int32()),
            "hk": pa.array(hk, pa.int32()),
            "mh": pa.array(mh, pa.int64()),
        }
    )


def prorate_table() -> pa.Table:
    """``bill_prorate``: the factor of a part of a month, ``days`` / ``month_days`` to 12 places (half to even).

    For every ``month_days`` 28–31 and ``days`` 1 … ``month_days``. SQL would divide in floating
    point on DuckDB; the factor is exact decimal here, as ``fixed_month`` is (:func:`rate_tables`).
    """
    rows = [(d, md) for md in range(28, 32) for d in range(1, md + 1)]
    return pa.table(
        {
            "days": pa.array([d for d, _ in rows], pa.int32()),
            "month_days": pa.array([md for _, md in rows], pa.int32()),
            "factor": pa.array(
                [(Decimal(d) / Decimal(md)).quantize(Decimal("1e-12"), ROUND_HALF_EVEN) for d, md in rows],
                PRORATE_DECIMAL,
            ),
        }
    )


def register_calendar(wh, first: dt.date, last: dt.date) -> None:
    """Register ``bill_calendar`` for local days ``first`` … ``last`` (load outside them is not billed) and ``bill_prorate``.

    *wh* as in :func:`register_rates`.
    """
    wh.register("bill_calendar", calendar_table(first, last))
    wh.register("bill_prorate", prorate_table())


def bills(
    con: duckdb.DuckDBPyConnection,
    load: str,
    sites: str,
    rates: Iterable[UtilityRate],
    step_s: int = 900,
    parts: str | None = None,
):
    """Bills per site and month (and tariff part): line items in cents and exact, kWh and peak kW, on DuckDB.

    For relations in memory (tests, the bench); the warehouse's bills are
    :func:`evrevops.tariffs.site_bills.month_bills`, on either engine. *sites* is a relation
    (``site_id``, ``utility_tariff_id``) of one tariff per site, throughout; or give *parts*
    instead (``site_id``, ``utility_tariff_id``, ``first_on``, ``last_on``: :func:`bill_sql`)
    and *sites* None.

    Returns
    -------
    duckdb.DuckDBPyRelation
        Columns ``site_id``, ``utility_tariff_id``, ``bill_month``, ``first_on``, ``last_on`` (the
        part's days in the month), ``currency``, ``energy_kwh``, ``peak_kw``, ``<line>_minor`` for
        each of :data:`LINE_ITEMS`, ``total_minor`` (their sum) and ``<line>_exact``.
    """
    register_rates(con, rates)
    lo, hi = con.sql(f"SELECT CAST(min(local_at) AS DATE), CAST(max(local_at) AS DATE) FROM {load}").fetchall()[0]
    if lo is None:
        lo = hi = dt.date(1970, 1, 1)
    register_calendar(con, lo, hi)
    if parts is None:
        parts = f"""(SELECT site_id, utility_tariff_id, CAST(NULL AS DATE) AS first_on, CAST(NULL AS DATE) AS last_on
            FROM {sites})"""
    return con.sql(bill_sql(load, parts, step_s))
