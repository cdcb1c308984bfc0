"""Warehouse file: migrations carry data forward."""

from __future__ import annotations

import duckdb

from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.schema import MIGRATIONS, SCHEMA_VERSION


def _v1(db) -> duckdb.DuckDBPyConnection:
    """A warehouse file at schema v1, left open."""
    con = duckdb.connect(str(db))
    for stmt in MIGRATIONS[0][2]:
        con.execute(stmt)
    con.execute("INSERT INTO schema_version VALUES (1, 'initial', now()::TIMESTAMP)")
    return con


def test_v1_warehouse_migrates_with_its_sessions(tmp_path):
    db = tmp_path / "v1.duckdb"
    con = _v1(db)
    con.execute(
        """INSERT INTO sessions (session_id, site_id, started_at, ended_at, energy_kwh, plugged_in_s, charging_s,
                                 idle_s, total_cost_minor, currency, file_id, source_record)
           VALUES ('US*EVR*1', 'S1', '2025-01-01 10:00', '2025-01-01 11:00', 20.5, 3600, 3000, 600, 1234, 'USD', 1, 7)"""
    )
    con.close()
    wh = open_warehouse(db)
    assert wh.version == SCHEMA_VERSION >= 2
    assert wh.con.sql(
        "SELECT session_id, energy_kwh, total_cost_minor, file_id, source_record FROM sessions"
    ).fetchall() == [("US*EVR*1", 20.5, 1234, 1, 7)]
    versions = [v for (v,) in wh.con.sql("SELECT version FROM schema_version ORDER BY 1").fetchall()]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    # the key is the loader's to keep; the table itself no longer carries an index
    assert wh.con.sql(
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'sessions' AND constraint_type = 'PRIMARY KEY'"
    ).fetchall() == [(0,)]


def test_a_read_only_open_of_an_older_file_upgrades_its_schema_first(tmp_path):
    db = tmp_path / "v1.duckdb"
    _v1(db).close()
    wh = open_warehouse(db, read_only=True)
    assert wh.version == SCHEMA_VERSION
    assert wh.count("site_costs") == 0  # a v5 table: the report reading it does not fail on an old file
    wh.close()
