"""Forecasts: hardware and installation revenue by month, with a P10–P90 interval, and its backtest."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow.compute as pc

from evrevops.core.calendar import month_end, months_between, next_month
from evrevops.forecast import hardware as fhardware
from evrevops.pipeline import funnel as pfunnel
from evrevops.query.result import TableResult, table_result
from evrevops.warehouse.protocol import WarehouseLike

DEFAULT_SIMS = fhardware.DEFAULT_SIMS
DEFAULT_SEED = fhardware.DEFAULT_SEED
MAX_ORIGINS = 120


@dataclass(frozen=True)
class HardwareForecast:
    """A forecast made on *day*: one row per month and currency (mean, P10, P50, P90 and the mean's parts, the naive
    CRM-weighted amount) [minor units of ``currency``]."""

    day: dt.date
    result: TableResult


@dataclass(frozen=True)
class BacktestSummary:
    """How a backtest's forecasts fared: errors [minor units of ``currency``] and the interval's coverage [fraction]."""

    points: int
    mae_minor: int
    naive_mae_minor: int
    mae_ratio: float | None
    coverage_p10_p90: float
    currency: str | None = None
    """The one currency of the forecasts' amounts (None when there is none, or several)."""


@dataclass(frozen=True)
class HardwareBacktest:
    """Forecasts made at each origin (a month's end) against the revenue recognized afterwards, and their summary."""

    origins: tuple[dt.date, ...]
    result: TableResult
    summary: BacktestSummary


def hardware(
    wh: WarehouseLike, day: dt.date | None = None, months: int = 6, sims: int = DEFAULT_SIMS, seed: int = DEFAULT_SEED
) -> HardwareForecast:
    """Hardware + installation revenue in each of the *months* after *day*'s month (default: the end of the last full
    month of data), from open projects and the pipeline (*sims* Monte-Carlo runs, seeded by *seed*)."""
    day = pfunnel.default_day(wh, day)
    table = fhardware.forecast(wh, day, months, sims, seed)
    if table.num_rows and table.column("currency").null_count == table.num_rows:  # nothing priced: no money to show
        raise ValueError(
            f"nothing to forecast on {day}: no open project, won deal or open pipeline with an amount; "
            "ingest a CRM export first (docs/pipeline.md)"
        )
    return HardwareForecast(day, table_result(table, f"hardware + installation revenue forecast made on {day}"))


def backtest_origins(first_month: dt.date, last_month: dt.date) -> tuple[dt.date, ...]:
    """The last day of every month from *first_month* to *last_month*.

    Raises
    ------
    ValueError
        The last month before the first, or more than :data:`MAX_ORIGINS` months.
    """
    if last_month < first_month:
        raise ValueError("the last origin is before the first")
    if months_between(first_month, last_month) >= MAX_ORIGINS:
        raise ValueError(f"at most {MAX_ORIGINS} origins")
    origins, m = [], first_month.replace(day=1)
    while m <= last_month:
        origins.append(month_end(m))
        m = next_month(m)
    return tuple(origins)


def hardware_backtest(
    wh: WarehouseLike, origins: tuple[dt.date, ...], months: int = 3, sims: int = DEFAULT_SIMS,
    seed: int = DEFAULT_SEED,
) -> HardwareBacktest:  # fmt: skip
    """The forecast of :func:`hardware` made at each of *origins*, *months* ahead, against what was recognized."""
    table = fhardware.backtest(wh, list(origins), months, sims, seed)
    sm = fhardware.backtest_summary(table)
    codes = set(pc.unique(table["currency"].drop_null()).to_pylist()) if "currency" in table.column_names else set()
    summary = BacktestSummary(
        points=int(sm["points"]), mae_minor=int(sm.get("mae_minor", 0)), naive_mae_minor=int(sm.get("naive_mae_minor", 0)),
        mae_ratio=sm.get("mae_ratio"), coverage_p10_p90=float(sm.get("coverage_p10_p90", 0)),
        currency=next(iter(codes)) if len(codes) == 1 else None,
    )  # fmt: skip
    extra = {"horizon": "months", "actual_minor": "minor units", "error_minor": "minor units",
             "naive_error_minor": "minor units"}  # fmt: skip
    return HardwareBacktest(origins, table_result(table, "hardware forecast backtest", extra), summary)
