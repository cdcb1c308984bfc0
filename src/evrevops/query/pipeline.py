"""The sales and installation motion: the open pipeline, funnel, win rates, projects, land and expand, the ramp."""

from __future__ import annotations

import datetime as dt

from evrevops.pipeline import expansion as pexpansion
from evrevops.pipeline import funnel as pfunnel
from evrevops.pipeline import projects as pprojects
from evrevops.pipeline import snapshot as psnapshot
from evrevops.query.result import TableResult, table_result
from evrevops.warehouse.protocol import WarehouseLike

SNAPSHOT_BY = psnapshot.BY
WIN_RATE_BY = pfunnel.WIN_RATE_BY
EXPANSION_BY = pexpansion.BY
FUNNEL_BY = ("segment", "revenue_model", "owner")


def as_of_day(wh: WarehouseLike, day: dt.date | None = None) -> dt.date:
    """*day*, else the end of the last full month of data: the day the pipeline reports stand on."""
    return pfunnel.default_day(wh, day)


def open_pipeline(wh: WarehouseLike, day: dt.date | None = None, by: str = "stage") -> TableResult:
    """The open pipeline on *day* (default :func:`as_of_day`) per *by*: deals, amounts per stream, CRM- and
    learned-probability weighted [minor units]."""
    day = as_of_day(wh, day)
    return table_result(psnapshot.summary(wh, day, by=by), f"open pipeline on {day} by {by}")


def funnel(wh: WarehouseLike, day: dt.date | None = None, by: str | None = None) -> TableResult:
    """Stage conversion, learned win probability and days in stage on *day*, per stage (and *by*)."""
    day = as_of_day(wh, day)
    return table_result(pfunnel.stages(wh, as_of=day, by=by), f"funnel on {day}")


def win_rates(wh: WarehouseLike, by: str = "segment", day: dt.date | None = None) -> TableResult:
    """Win rate, cycle time and slippage of closed deals, open and overdue deals, per *by*.

    Raises
    ------
    ValueError
        An unknown grouping.
    """
    return table_result(pfunnel.win_rates(wh, by, as_of=as_of_day(wh, day)), f"win rates by {by}")


def projects(wh: WarehouseLike, day: dt.date | None = None) -> TableResult:
    """Installation projects on *day*: status, delay [days], expected commissioning, budget against actual."""
    day = as_of_day(wh, day)
    return table_result(pprojects.status(wh, day), f"projects on {day}")


def slippage(wh: WarehouseLike, day: dt.date | None = None) -> TableResult:
    """Per project milestone: how many slipped, by how many days, how many ran over budget."""
    return table_result(pprojects.slippage(wh, as_of_day(wh, day)), "milestone slippage")


def expansion(
    wh: WarehouseLike, by: str = "segment", day: dt.date | None = None, mature_months: int = 12
) -> TableResult:
    """Land and expand on *day*: per customer (``by="customer"``), else per *by* with the conversion of customers
    landed at least *mature_months* [months] before."""
    day = as_of_day(wh, day)
    if by == "customer":
        return table_result(pexpansion.customers(wh, day), f"land and expand per customer on {day}")
    return table_result(pexpansion.summary(wh, by, day, mature_months), f"land and expand by {by} on {day}")


def ramp(wh: WarehouseLike, by: str = "segment", max_months: int | None = 24) -> TableResult:
    """Utilization by months since commissioning, per *by*, to *max_months* [months].

    Raises
    ------
    ValueError
        An unknown grain.
    """
    return table_result(pexpansion.ramp(wh, by=by, max_months=max_months), f"utilization ramp by {by}")
