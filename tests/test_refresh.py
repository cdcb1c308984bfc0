"""The after-ingest refresh (:mod:`evrevops.refresh`): what is kept, in order, from the months that changed."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from evrevops import refresh
from evrevops.metrics import changes, close, kept
from evrevops.tariffs import site_bills
from evrevops.warehouse import derived
from evrevops.warehouse.loader import ingest_file
from tests.helpers import one_port
from tests.helpers.demo import demo_warehouse


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    d = tmp_path_factory.mktemp("refresh")
    wh = demo_warehouse(d, ports=12, months=2, seed=3)
    yield wh, d
    wh.close()


def test_never_kept_rebuilds_whole_in_order_then_nothing_changes(net):
    wh, _ = net
    assert [refresh.since(wh, name, version) for name, version in refresh.STEPS] == [None, None, None]
    seen = []

    @contextmanager
    def step(what):
        seen.append(what)
        yield

    r = refresh.refresh_kept(wh, step=step)
    assert [s.split(" ")[0] for s in seen] == ["building", "billing", "keeping"]  # facts, bills, month-close
    assert r["bills_error"] is None
    assert r["facts"]["rebuilt_from"] == r["facts"]["first_day"] is not None
    assert r["close"]["rebuilt_from"] == r["close"]["first_month"]
    for name, version in refresh.STEPS:
        assert derived.kept_range(wh, name, version) is not None, name
    # nothing ingested since: each step knows it has nothing to rebuild, and rebuilds nothing
    assert [refresh.since(wh, n, v) for n, v in refresh.STEPS] == [changes.NOTHING] * 3
    again = refresh.refresh_kept(wh)
    assert (again["facts"]["rebuilt_from"], again["bills"]["rebuilt_from"], again["close"]["rebuilt_from"]) == (
        None,
        None,
        None,
    )


def test_an_ingest_since_is_rebuilt_from_the_day_it_changes(net):
    wh, d = net
    refresh.refresh_kept(wh)
    r = ingest_file(wh, one_port.write(d / "one.csv", "S-NEW"))
    assert r.accepted == 1
    day = refresh.rebuild_from(wh, [r.file_id])
    assert day is not None  # a new port in service since 2020: from its first day
    assert [refresh.since(wh, n, v) for n, v in refresh.STEPS] == [day] * 3
    done = refresh.refresh_kept(wh)
    assert done["facts"]["port_days"] == wh.count(kept.PORT_DAY)
    assert done["close"]["site_months"] == wh.count(close.SITE_MEASURES)
    assert [refresh.since(wh, n, v) for n, v in refresh.STEPS] == [changes.NOTHING] * 3


def test_no_entries_change_nothing(net):
    wh, _ = net
    assert refresh.rebuild_from(wh, []) is None


def test_a_tariff_the_bill_engine_cannot_use_leaves_the_bills_unkept(net, monkeypatch):
    wh, _ = net

    def refuse(*_):
        raise ValueError("a tariff value the bill engine cannot use")

    monkeypatch.setattr(site_bills, "refresh", refuse)
    r = refresh.refresh_kept(wh)
    assert r["bills"] is None and r["bills_error"] == "a tariff value the bill engine cannot use"
    assert derived.kept_range(wh, site_bills.CACHE, site_bills.ENGINE_VERSION) is None
    assert r["close"]["site_months"] == 0  # the month-close reads the bills: not kept either
