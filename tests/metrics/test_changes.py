"""The refresh after an ingest rebuilds only the months it can change, and equals a whole rebuild.

A demo network is ingested without its last month, kept whole, then changed step by step (the
last month's sessions and telemetry, a tariff switch from a month in the middle, a contract
amendment, a telemetry message in the past, a port's new rating). After each step the
incremental refresh must rebuild from the expected month (never the whole history unless the
change reaches it) and leave every kept table exactly as a whole rebuild makes it.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from evrevops.formats import input_files
from evrevops.metrics import changes, close, kept
from evrevops.refresh import rebuild_from, refresh_kept
from evrevops.tariffs import site_bills
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from evrevops.warehouse.site_tariff import set_site_tariff

KEPT = (
    kept.PORT_DAY, kept.SITE_DAY, kept.PORT_MONTH, kept.SITE_MONTH, kept.UPTIME, site_bills.CACHE,
    close.PORT_MEASURES, close.SITE_MEASURES,
)  # fmt: skip


def _tables(wh) -> dict[str, list[tuple]]:
    return {t: wh.con.sql(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in KEPT}


def _refresh_equals_a_whole_rebuild(wh) -> dict:
    """Refresh (incremental), keep what it made, rebuild everything whole, and compare."""
    r = refresh_kept(wh)
    assert r["bills_error"] is None
    incremental = _tables(wh)
    kept.refresh(wh)
    site_bills.refresh(wh)
    close.keep_close(wh)
    whole = _tables(wh)
    for t in KEPT:
        assert incremental[t] == whole[t], f"{t} differs from a whole rebuild"
    return r


def _rebuilt_from(r: dict) -> set:
    return {r["facts"]["rebuilt_from"], r["bills"]["rebuilt_from"], r["close"]["rebuilt_from"]}


@pytest.fixture(scope="module")
def net(tmp_path_factory, demo_networks):
    d = tmp_path_factory.mktemp("changes")
    network = demo_networks.files(ports=30, months=4, seed=5)
    files = input_files([network])
    last = [max(f for f in files if f.name.startswith(prefix)) for prefix in ("cdrs-", "ocpp-")]  # the last month
    wh = open_warehouse(d / "w.duckdb")
    for f in files:
        if f not in last:
            assert ingest_file(wh, f).quarantined == 0, f
    refresh_kept(wh)  # kept whole: nothing kept before
    yield wh, network, last
    wh.close()


def test_a_new_month_rebuilds_from_the_day_before_its_first_session(net):
    wh, _, last = net
    for f in last:
        ingest_file(wh, f)
    first = wh.con.sql(
        "SELECT min(started_at) FROM sessions WHERE file_id = (SELECT max(file_id) - 1 FROM ingest_ledger)"
    )
    r = _refresh_equals_a_whole_rebuild(wh)
    start = first.fetchall()[0][0]
    new_month = start.date().replace(day=1)
    # from the new month at the latest (sooner when an outage open at the old horizon began before it,
    # since its repair time changes), never the whole history
    assert max(_rebuilt_from(r)) <= new_month
    assert r["facts"]["first_day"] < min(_rebuilt_from(r))


def test_a_tariff_switch_from_a_month_rebuilds_that_month_onward(net):
    wh, _, _ = net
    site, tariff = wh.con.sql(
        """SELECT h.site_id, (SELECT min(utility_tariff_id) FROM utility_tariffs u
                              WHERE u.utility_tariff_id <> h.utility_tariff_id)
           FROM site_history h WHERE h.utility_tariff_id IS NOT NULL ORDER BY 1 LIMIT 1"""
    ).fetchall()[0]
    months = sorted({r[0] for r in wh.con.sql(f"SELECT bill_month FROM {site_bills.CACHE}").fetchall()})
    switch = months[2] + dt.timedelta(days=15)  # mid-month: that month is billed in two parts
    before = wh.con.sql(
        f"SELECT * FROM {site_bills.CACHE} WHERE bill_month < DATE '{months[2]}' ORDER BY ALL"
    ).fetchall()
    set_site_tariff(wh, site, tariff, switch)
    r = _refresh_equals_a_whole_rebuild(wh)
    assert _rebuilt_from(r) == {months[2]}
    assert wh.con.sql(f"SELECT * FROM {site_bills.CACHE} WHERE bill_month < DATE '{months[2]}' ORDER BY ALL").fetchall() == before  # fmt: skip
    parts = wh.con.sql(
        f"SELECT utility_tariff_id, first_on FROM {site_bills.CACHE} WHERE site_id = ? AND bill_month = ? ORDER BY first_on",
        params=[site, months[2]],
    ).fetchall()
    assert len(parts) == 2 and parts[1] == (tariff, switch)


def test_a_contract_amendment_rebuilds_nothing_kept(net, tmp_path):
    wh, _, _ = net
    line = wh.con.sql("SELECT * FROM contract_lines WHERE NOT legacy AND ports IS NOT NULL ORDER BY ALL LIMIT 1").to_arrow_table().to_pylist()  # fmt: skip
    if not line:
        pytest.skip("the demo has no recurring line under an event log")
    c = line[0]
    p = tmp_path / "amend.csv"
    p.write_text(
        "contract_id,line_id,line_type,event,effective_on,ports\n"
        f"{c['contract_id']},{c['line_id']},{c['line_type']},amend,{c['effective_on'] + dt.timedelta(days=40)},{c['ports'] + 2}\n"
    )
    assert ingest_file(wh, p).accepted == 1
    r = _refresh_equals_a_whole_rebuild(wh)
    assert _rebuilt_from(r) == {None}


def test_a_status_in_the_past_rebuilds_from_the_outage_it_ends(net, tmp_path):
    wh, _, _ = net
    charger, port, connector, at = wh.con.sql(
        """SELECT p.charger_id, p.port_id, p.connector_id, min(s.observed_at)
           FROM ports p JOIN status_events s ON s.charger_id = p.charger_id AND s.connector_id = p.connector_id
           GROUP BY ALL ORDER BY 1, 2 LIMIT 1"""
    ).fetchall()[0]
    when = at + dt.timedelta(days=45)
    msg = {"timestamp": when.isoformat() + "Z", "charge_point_id": charger,
           "message": [2, "x-1", "StatusNotification", {"connectorId": connector, "status": "Faulted",
                                                         "errorCode": "GroundFailure", "timestamp": when.isoformat() + "Z"}]}  # fmt: skip
    p = tmp_path / "late.ndjson"
    p.write_text(json.dumps(msg) + "\n")
    assert ingest_file(wh, p).accepted == 1
    r = _refresh_equals_a_whole_rebuild(wh)
    start = r["facts"]["rebuilt_from"]
    assert start is not None and start <= when.date().replace(day=1) and start > r["facts"]["first_day"]


def test_a_ports_new_rating_rebuilds_the_whole_history(net, tmp_path):
    wh, network, _ = net
    sites = (network / "sites.csv").read_text().splitlines()
    header, row = sites[0].split(","), sites[1].split(",")
    k = header.index("rated_kw")
    row[k] = str(float(row[k]) + 1)
    p = tmp_path / "sites.csv"
    p.write_text(",".join(header) + "\n" + ",".join(row) + "\n")
    r0 = ingest_file(wh, p)
    assert r0.replaced >= 1
    r = _refresh_equals_a_whole_rebuild(wh)
    assert r["facts"]["rebuilt_from"] == r["facts"]["first_day"]


def test_since_reads_nothing_into_an_empty_list():
    assert changes.since(None, [], 5 * 3600) is None


def test_a_ports_status_rebuilds_from_the_outage_it_ends_not_another_ports(tmp_path):
    """P1 faults on 20 March; P2 (same charger) is up again on 6 April; P1's repair, logged later, reaches March."""
    from tests.helpers.cdrs import cdr
    from tests.uptime.network import hourly, ingest, status, write_network

    D = dt.datetime
    sites = [
        "S1,Depot,K1,fleet,caas,UTC,24/7,C1,S1-P1,1,DC,150,2025-01-01,",
        "S1,Depot,K1,fleet,caas,UTC,24/7,C1,S1-P2,2,DC,150,2025-01-01,",
    ]
    log = hourly("C1", D(2025, 3, 1), D(2025, 5, 10), skip=[]) + [
        status("C1", D(2025, 3, 1), 1, "Available"),
        status("C1", D(2025, 3, 1), 2, "Available"),
        status("C1", D(2025, 3, 20), 1, "Faulted", "GroundFailure"),
        status("C1", D(2025, 4, 5), 2, "Faulted", "HighTemperature"),
        status("C1", D(2025, 4, 6), 2, "Available"),
    ]
    write_network(tmp_path / "net", sites, log)
    wh = ingest(tmp_path / "net", tmp_path / "w.duckdb")
    sessions = [
        cdr(id=f"C{m}", start_date_time=f"2025-0{m}-10T10:00:00Z", end_date_time=f"2025-0{m}-10T11:00:00Z",
            last_updated=f"2025-0{m}-10T11:00:00Z")
        for m in (3, 4, 5)
    ]  # fmt: skip
    (tmp_path / "cdrs.ndjson").write_text("\n".join(json.dumps(c) for c in sessions) + "\n")
    assert ingest_file(wh, tmp_path / "cdrs.ndjson").quarantined == 0
    refresh_kept(wh)
    (tmp_path / "late.ndjson").write_text(json.dumps(status("C1", D(2025, 5, 5), 1, "Available")) + "\n")
    assert ingest_file(wh, tmp_path / "late.ndjson").accepted == 1
    r = _refresh_equals_a_whole_rebuild(wh)
    assert r["facts"]["rebuilt_from"] == dt.date(2025, 3, 1)
    wh.close()


def test_forgetting_an_ingest_rebuilds_from_its_months_and_equals_a_whole_rebuild(net):
    from evrevops.warehouse.forget import forget_file

    wh, _, last = net
    cdrs = next(f for f in last if f.name.startswith("cdrs-"))
    fid = ingest_file(wh, cdrs).file_id  # ingested by the first test, or now (the tests may run apart)
    refresh_kept(wh)
    first = wh.con.sql("SELECT min(started_at) FROM sessions WHERE file_id = ?", params=[fid]).fetchall()[0][0]
    assert first is not None
    done = forget_file(wh, fid, rebuild_from=rebuild_from)
    assert done["rows_removed"] > 0
    assert wh.con.sql("SELECT count(*) FROM sessions WHERE file_id = ?", params=[fid]).fetchall()[0][0] == 0
    r = _refresh_equals_a_whole_rebuild(wh)
    # from that month at the latest, never the whole history
    assert max(_rebuilt_from(r)) <= first.date().replace(day=1)
    assert r["facts"]["first_day"] < min(_rebuilt_from(r))
