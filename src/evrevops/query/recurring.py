"""Recurring revenue: MRR movements; recognized revenue by stream."""

from __future__ import annotations

import datetime as dt

from evrevops.contracts import mrr as cmrr
from evrevops.contracts import revenue as crevenue
from evrevops.query.result import TableResult, table_result
from evrevops.warehouse.protocol import WarehouseLike

MRR_BY = cmrr.BY
REVENUE_BY = crevenue.BY


def mrr(wh: WarehouseLike, month: dt.date, by: str = "customer") -> TableResult:
    """MRR movements of *month* per *by*: mrr_start, new, expansion, contraction, churn, reactivation, mrr_end
    [minor units of ``currency``]; NRR, GRR [fraction]."""
    return table_result(cmrr.movements(wh, month, by), f"MRR movements by {by}, {month:%Y-%m}")


def revenue(wh: WarehouseLike, first_month: dt.date, last_month: dt.date, by: str = "segment") -> TableResult:
    """Revenue recognized per month and *by*, one column per stream and their total [minor units of ``currency``]."""
    table = crevenue.by_stream(wh, first_month, last_month, by=by)
    return table_result(table, f"revenue by stream by {by}, {first_month:%Y-%m} … {last_month:%Y-%m}")
