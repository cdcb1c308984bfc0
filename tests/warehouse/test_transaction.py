"""One warehouse transaction (:meth:`evrevops.warehouse.db.Warehouse.transaction`): all or nothing."""

from __future__ import annotations

import pytest

from evrevops.warehouse.db import NestedTransactionError, open_warehouse, transaction


@pytest.fixture
def wh(tmp_path):
    w = open_warehouse(tmp_path / "tx.duckdb")
    w.execute("CREATE TABLE t (x INTEGER)")
    yield w
    w.close()


def _xs(wh) -> list[int]:
    return [x for (x,) in wh.rows("SELECT x FROM t ORDER BY x")]


def test_a_block_that_ends_is_committed(wh, tmp_path):
    with wh.transaction():
        wh.execute("INSERT INTO t VALUES (?)", [1])
        wh.execute("INSERT INTO t VALUES (?)", [2])
    wh.close()
    with open_warehouse(tmp_path / "tx.duckdb") as again:  # on disk, not only in this connection
        assert _xs(again) == [1, 2]


def test_an_error_rolls_back_everything_the_block_wrote_and_is_raised(wh):
    wh.execute("INSERT INTO t VALUES (0)")
    with pytest.raises(ValueError, match="half way"), wh.transaction():
        wh.execute("INSERT INTO t VALUES (1)")
        wh.execute("CREATE TABLE u AS SELECT 1 AS y")
        raise ValueError("half way")
    assert _xs(wh) == [0]
    assert wh.rows("SELECT count(*) FROM information_schema.tables WHERE table_name = 'u'") == [(0,)]


def test_a_keyboard_interrupt_rolls_back_too(wh):
    with pytest.raises(KeyboardInterrupt), wh.transaction():
        wh.execute("INSERT INTO t VALUES (1)")
        raise KeyboardInterrupt
    assert _xs(wh) == []
    with wh.transaction():  # and the connection is usable again
        wh.execute("INSERT INTO t VALUES (2)")
    assert _xs(wh) == [2]


def test_a_failing_statement_leaves_nothing_half_written(wh):
    with pytest.raises(Exception, match="no_such_table"), wh.transaction():
        wh.execute("INSERT INTO t VALUES (1)")
        wh.execute("INSERT INTO no_such_table VALUES (1)")
    assert _xs(wh) == []


def test_nesting_is_refused_and_the_outer_block_still_decides(wh):
    with wh.transaction():
        wh.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(NestedTransactionError), wh.transaction():
            pytest.fail("the inner block must not run")
        wh.execute("INSERT INTO t VALUES (2)")  # the outer transaction was not aborted by the refusal
    assert _xs(wh) == [1, 2]
    with pytest.raises(RuntimeError), wh.transaction():
        wh.execute("INSERT INTO t VALUES (3)")
        with pytest.raises(NestedTransactionError), transaction(wh.con):
            pass
        raise RuntimeError("outer fails")
    assert _xs(wh) == [1, 2]


def test_the_migrations_use_it(tmp_path):
    """A new file is migrated through the helper: every version recorded, no transaction left open."""
    with open_warehouse(tmp_path / "m.duckdb") as w, w.transaction():
        w.execute("CREATE TABLE v AS SELECT 1 AS a")
