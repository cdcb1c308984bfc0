"""query.forecast: the backtest's origins are month ends, within bounds."""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.query import forecast as qforecast


def test_backtest_origins_are_each_months_last_day():
    got = qforecast.backtest_origins(dt.date(2024, 1, 1), dt.date(2024, 3, 1))
    assert got == (dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31))
    assert qforecast.backtest_origins(dt.date(2025, 12, 1), dt.date(2025, 12, 1)) == (dt.date(2025, 12, 31),)


def test_backtest_origins_refuse_a_reversed_or_too_long_range():
    with pytest.raises(ValueError, match="the last origin is before the first"):
        qforecast.backtest_origins(dt.date(2024, 3, 1), dt.date(2024, 1, 1))
    with pytest.raises(ValueError, match="at most 120 origins"):
        qforecast.backtest_origins(dt.date(2000, 1, 1), dt.date(2010, 1, 1))
    assert len(qforecast.backtest_origins(dt.date(2000, 1, 1), dt.date(2009, 12, 1))) == 120


def test_a_forecast_with_nothing_to_price_says_so(tmp_path):
    """An empty warehouse has no project, won deal or pipeline: a ValueError (the CLI's one-line exit 2),
    not rows of money without a currency."""
    from evrevops.warehouse.db import Warehouse

    with Warehouse(tmp_path / "empty.duckdb") as wh, pytest.raises(ValueError, match="nothing to forecast"):
        qforecast.hardware(wh, dt.date(2025, 6, 30), months=3, sims=50)
