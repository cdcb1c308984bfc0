"""The cash flow table has one set of column types, with rows or without (a warehouse of sessions and no contracts
gave an all-text empty table, and the P&L's ``month BETWEEN DATE ...`` failed on it)."""

from __future__ import annotations

import datetime as dt

from evrevops.finance import cashflow as cf
from evrevops.finance import pnl as fpnl
from evrevops.warehouse.db import open_warehouse
from tests.helpers.demo import DEFAULT
from tests.helpers.warehouse_kinds import PARTIAL, build_partial


def test_a_warehouse_without_contracts_gives_an_empty_typed_table_and_an_empty_pnl(demo_networks, tmp_path):
    db = build_partial(demo_networks.files(**DEFAULT), PARTIAL["sessions"], tmp_path / "w.duckdb")
    wh = open_warehouse(db, read_only=True)
    try:
        d0, d1 = cf.data_months(wh)
        months = cf.site_months(wh, until=d1, sla=False)
        assert months.num_rows == 0 and months.schema == cf.SCHEMA
        assert fpnl.pnl(wh, d1, d1).num_rows == 0
    finally:
        wh.close()


def test_the_demo_cash_flow_has_the_same_types(demo_db):
    wh = open_warehouse(demo_db, read_only=True)
    try:
        months = cf.site_months(wh, until=dt.date(2025, 12, 1), sla=False)
        assert months.num_rows > 0 and months.schema == cf.SCHEMA
    finally:
        wh.close()
