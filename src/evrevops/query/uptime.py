"""Reliability: the outage ledger, silent chargers, SLA credits and accounts at risk."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import pyarrow as pa

from evrevops.contracts import risk as crisk
from evrevops.query.result import TableResult, table_result
from evrevops.uptime import outages as uoutages
from evrevops.uptime import sla as usla
from evrevops.uptime import telemetry
from evrevops.uptime.timeline import DEFAULT_OFFLINE_AFTER_S
from evrevops.warehouse.protocol import WarehouseLike


def outages(
    wh: WarehouseLike,
    first_month: dt.date,
    last_month: dt.date,
    *,
    as_of: dt.datetime | None = None,
    offline_after_s: int = DEFAULT_OFFLINE_AFTER_S,
    open_only: bool = False,
    sites: Sequence[str] | None = None,
    include_no_data: bool = True,
) -> TableResult:
    """The outage ledger of months *first_month* … *last_month*: durations [min], statuses, cause, exclusion and the
    revenue at risk inside the months [minor units]; *open_only*: only outages open at the horizon *as_of* [UTC]."""
    table = uoutages.ledger(
        wh, first_month, last_month, as_of=as_of, offline_after_s=offline_after_s, open_only=open_only,
        sites=list(sites) if sites else None, include_no_data=include_no_data,
    )  # fmt: skip
    title = f"outages {first_month:%Y-%m} … {last_month:%Y-%m}" + (" (open)" if open_only else "")
    return table_result(table, title)


def stale(
    wh: WarehouseLike, *, as_of: dt.datetime | None = None, offline_after_s: int = DEFAULT_OFFLINE_AFTER_S
) -> TableResult:
    """Chargers silent (no message for *offline_after_s* [s]) or without data at the horizon *as_of* [UTC]: since
    when [h] and the revenue at risk [minor units]."""
    return table_result(
        telemetry.silent(wh, as_of=as_of, offline_after_s=offline_after_s), "silent or missing telemetry"
    )


def sla_credits(wh: WarehouseLike, month: dt.date, *, as_of: dt.datetime | None = None,
                offline_after_s: int = DEFAULT_OFFLINE_AFTER_S) -> TableResult:  # fmt: skip
    """The SLA evaluation of every contract line with an uptime commitment in *month*, and its credit [minor units]."""
    return _month_result(usla.credits, "SLA credits", wh, month, as_of, offline_after_s)


def accounts_at_risk(wh: WarehouseLike, month: dt.date, *, as_of: dt.datetime | None = None,
                     offline_after_s: int = DEFAULT_OFFLINE_AFTER_S) -> TableResult:  # fmt: skip
    """A churn-risk score per customer in *month*, highest first, with its reasons."""
    return _month_result(crisk.accounts, "accounts at risk", wh, month, as_of, offline_after_s)


def _month_result(
    compute: Callable[..., pa.Table], title: str, wh: WarehouseLike, month: dt.date, as_of: dt.datetime | None,
    offline_after_s: int,
) -> TableResult:  # fmt: skip
    """*compute*'s table of local *month* at the data horizon *as_of* [UTC] and silence window [s], titled."""
    table = compute(wh, month, as_of=as_of, offline_after_s=offline_after_s)
    return table_result(table, f"{title} {month:%Y-%m}")
