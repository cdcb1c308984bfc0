"""The site-month bill and port-month uptime sources a metric query reads beside the facts.

The port-day facts (:mod:`evrevops.metrics.facts`, or kept: :mod:`evrevops.metrics.kept`) drive
every query; the measures of level ``site-month`` come from :func:`bill_fact` and those of level
``port-month`` from :func:`uptime_fact`. Each reads what was kept after the last ingest while it
is current (DuckDB), and builds it now otherwise (and always on Spark).
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from evrevops.metrics import facts as _facts
from evrevops.metrics import kept as _kept
from evrevops.metrics.facts import exact_sum
from evrevops.tariffs import site_bills as _bills
from evrevops.uptime import fact as _uptime
from evrevops.uptime import timeline as _timeline
from evrevops.warehouse.protocol import WarehouseLike

BILL_VIEW = "site_month_bills_live"  # the temporary view over the bill SQL when the kept bills do not answer


def bill_fact(wh: WarehouseLike, f: _facts.Facts, kept: bool = True) -> ir.Table:
    """The site-month bill fact: each billed site-month's bill lines beside its energy revenue.

    One row per site and local month with a utility bill
    (:func:`evrevops.tariffs.site_bills.bills_sql`, or the bills
    :func:`~evrevops.tariffs.site_bills.refresh` kept after the last ingest
    while they are current), the site's segment and
    customer, and the measures of level ``site-month``. Revenue and kWh come
    from the port-day facts of the same site and month, in the bill's
    currency only (amounts in different currencies are never netted).
    """
    first, last = f.start.replace(day=1), f.end.replace(day=1)
    span = _bills.cached_range(wh) if kept else None
    if span is not None and span[0] <= first and last <= span[1]:
        # the bills kept after the last ingest, current for this warehouse (site_bills.refresh)
        bills = wh.table(_bills.CACHE)
        bills = bills.filter((bills.bill_month >= first) & (bills.bill_month <= last))
    else:
        # A temporary view over the bill SQL (the tariff tables it joins are registered on the
        # warehouse), on either engine; `metrics explain` prints its definition beside the metric's SQL.
        bills = wh.sql(_bills.bills_sql(wh, first, last), name=BILL_VIEW)
    bills = _bills.by_site_month(bills)  # the parts of a month split by a tariff change add up
    pd_ = f.port_day
    rev = pd_.group_by(["site_id", "month", "currency"]).aggregate(
        revenue=pd_.revenue_minor.sum(), kwh=exact_sum(pd_.energy_kwh)
    )
    rev = rev.mutate(month=rev.month.cast("date"))
    sites = wh.table("sites").select("site_id", "segment", "customer_id")
    j = bills.left_join(
        rev, [bills.site_id == rev.site_id, bills.bill_month == rev.month, bills.currency == rev.currency]
    ).left_join(sites, bills.site_id == sites.site_id)
    revenue = ibis.coalesce(j.revenue, 0)
    demand = j.flat_demand_charge_minor + j.tou_demand_charge_minor
    return j.select(
        site_id=j.site_id,
        segment=j.segment,
        customer_id=j.customer_id,
        currency=j.currency,
        month=j.bill_month,
        bill_total_minor=j.total_minor,
        bill_energy_charge_minor=j.energy_charge_minor,
        bill_demand_charge_minor=demand,
        bill_flat_demand_charge_minor=j.flat_demand_charge_minor,
        bill_tou_demand_charge_minor=j.tou_demand_charge_minor,
        bill_fixed_charge_minor=j.fixed_charge_minor + j.minimum_charge_adjustment_minor,
        billed_revenue_minor=revenue,
        billed_energy_kwh=ibis.coalesce(j.kwh, 0.0),
        bill_peak_kw=j.peak_kw,
        site_months_billed=ibis.literal(1),
        site_months_demand_over_revenue=ibis.ifelse(demand > revenue, 1, 0),
        billed_margin_minor=revenue - j.total_minor,
    )


def uptime_fact(
    wh: WarehouseLike,
    f: _facts.Facts,
    as_of: dt.datetime | None = None,
    offline_after_s: int = _timeline.DEFAULT_OFFLINE_AFTER_S,
    trailing: bool = True,
    kept: bool = True,
) -> ir.Table:
    """The port-month uptime fact (:mod:`evrevops.uptime.fact`) with the port's dimensions.

    ``trailing=False`` builds only three months before the range, not eleven
    (the trailing-twelve-month measures are then wrong, and must not be read).
    At the default data horizon and silence window, the fact kept after the
    last ingest (:func:`evrevops.metrics.kept.uptime`) is read while current
    and *kept* is true.

    One row per port and local month of the range; ``currency`` is the site's
    (as in the port-day facts), so uptime rows meet the other measures of the
    same port. Revenue at risk is in that currency.
    """
    first, last = f.start.replace(day=1), f.end.replace(day=1)
    if kept and as_of is None and offline_after_s == _timeline.DEFAULT_OFFLINE_AFTER_S:
        u = _kept.uptime(wh, first, last)
        if u is not None:
            return u
    # to the data horizon's month, so an outage begun in the range has its whole duration
    _uptime.build(
        wh, first, _timeline.horizon_month(wh, last, as_of), as_of=as_of, offline_after_s=offline_after_s,
        trailing=trailing,
    )  # fmt: skip
    u = wh.table(_uptime.FACT)
    return _kept.uptime_with_dimensions(wh, u.filter(u.month <= last))
