"""Honest coverage of telemetry: unlinked OCPP beside an OCPI Locations feed, a feed gap, a site without telemetry.

* **Unlinked.** An OCPI Locations feed lists site L with EVSEs L-P1 and L-P2 (AVAILABLE, last updated
  1 Jan 2025); an OCPP log of charge point CP-L (connectors 1 and 2, heartbeats every hour through
  January, connector 1 Faulted for 10 hours on 10 January) names no port: no sites CSV gives
  L-P1/L-P2 a ``charger_id``. Before the fix every port read 100 % uptime from the one snapshot
  while the log's fault sat unlinked; now the log is listed with the fix and the ports have no
  telemetry (no data), until the sites CSV links them, when the fault counts.
* **Feed gap.** Site G's Locations feed, pulled on 1, 10 and 14 January 2025, says its one EVSE is
  UNKNOWN from 10 to 14 January: 96 h with every port of the site without data, longer than the
  5-hour window, is a feed gap; the month's NEVI uptime is no data (not 87 %), the uptime over
  measured time is known. Site H (sites CSV only) has no telemetry: no data, never 0 %.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from evrevops.core.calendar import month_range
from evrevops.metrics import compute as mc
from evrevops.query import coverage as qcov
from evrevops.query import metrics as qmetrics
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from tests.uptime.network import SITES_HEADER, hourly, status

D = dt.datetime
JAN = month_range("2025-01")
AS_OF = D(2025, 2, 1)
NAMES = ["uptime_pct", "measured_uptime_pct", "measured_h", "fault_min", "ports_below_nevi", "outages"]


def _locations(
    path: Path,
    site: str = "L",
    uids: tuple[str, ...] = ("L-P1", "L-P2"),
    at: str = "2025-01-01T00:00:00Z",
    st: str = "AVAILABLE",
) -> Path:
    """An OCPI Locations file: *site* (UTC) with EVSEs *uids*, each with status *st* last updated *at*."""
    evse = lambda uid: {  # noqa: E731
        "uid": uid, "evse_id": f"US*EVR*{uid}", "status": st, "last_updated": at,
        "connectors": [{"id": "1", "standard": "IEC_62196_T1_COMBO", "format": "CABLE", "power_type": "DC",
                        "max_electric_power": 150000, "last_updated": "2025-01-01T00:00:00Z"}],
    }  # fmt: skip
    loc = {
        "country_code": "US", "party_id": "EVR", "id": site, "publish": True, "name": "Lot", "address": "1 Way",
        "city": "Denver", "country": "USA", "coordinates": {"latitude": "39.7", "longitude": "-104.9"},
        "time_zone": "UTC", "evses": [evse(u) for u in uids], "last_updated": at,
    }  # fmt: skip
    path.write_text(json.dumps([loc]))
    return path


def _ocpp(path: Path, charger: str) -> Path:
    log = hourly(charger, D(2025, 1, 1), D(2025, 2, 1), skip=[])
    log += [status(charger, D(2025, 1, 1), c, "Available") for c in (1, 2)]
    log += [status(charger, D(2025, 1, 10, 8), 1, "Faulted", "GroundFailure"),
            status(charger, D(2025, 1, 10, 18), 1, "Available")]  # fmt: skip
    path.write_text("\n".join(json.dumps(x) for x in log) + "\n")
    return path


@pytest.fixture
def unlinked(tmp_path):
    wh = open_warehouse(tmp_path / "w.duckdb")
    for f in (_locations(tmp_path / "locations.json"), _ocpp(tmp_path / "ocpp.ndjson", "CP-L")):
        assert ingest_file(wh, f).quarantined == 0, f
    yield wh, tmp_path
    wh.close()


def _by_port(wh):
    rows = mc.compute(wh, by="port", period="month", start=JAN[0], end=JAN[1], metrics=NAMES, as_of=AS_OF)
    return {r["port_id"]: r for r in rows.to_pylist()}


def test_unlinked_ocpp_is_listed_and_its_ports_have_no_telemetry_not_100_pct(unlinked):
    wh, _ = unlinked
    u = qcov.unlinked(wh).table.to_pylist()
    assert {(r["charger_id"], r["connector_id"]) for r in u} >= {("CP-L", 1), ("CP-L", 2)}
    assert all("charger_id and connector_id" in r["fix"] for r in u)
    ports = _by_port(wh)
    assert set(ports) == {"L-P1", "L-P2"}
    for p in ports.values():
        assert p["uptime_pct"] is None and p["measured_uptime_pct"] is None, p  # never 100 % from one snapshot
        assert p["ports_below_nevi"] is None and p["outages"] is None, p
    table = qmetrics.uptime(wh, "port", JAN[0], as_of=AS_OF).table.to_pylist()
    assert {r["telemetry"] for r in table} == {"no telemetry"}
    line = qcov.warning(wh, JAN[0], JAN[1], ("telemetry",), as_of=AS_OF)
    assert line is not None and "link to no port" in line and "coverage --unlinked" in line


def test_linking_through_the_sites_csv_counts_the_fault(unlinked):
    wh, folder = unlinked
    rows = [f"L,Lot,C1,public_dc,caas,UTC,24/7,CP-L,L-P{c},{c},DC,150,2025-01-01," for c in (1, 2)]
    (folder / "sites.csv").write_text(SITES_HEADER + "\n" + "\n".join(rows) + "\n")
    assert ingest_file(wh, folder / "sites.csv").quarantined == 0
    assert qcov.unlinked(wh).num_rows == 0
    ports = _by_port(wh)
    assert ports["L-P1"]["fault_min"] == pytest.approx(600)
    assert ports["L-P1"]["uptime_pct"] == pytest.approx(100 * (1 - 600 / (31 * 24 * 60)))
    assert ports["L-P2"]["uptime_pct"] == pytest.approx(100.0)


@pytest.fixture
def gap(tmp_path):
    """Site G (one EVSE, an OCPI Locations feed pulled three times) whose feed says UNKNOWN for 96 h; site H (sites
    CSV) never reports."""
    wh = open_warehouse(tmp_path / "w.duckdb")
    rows = ["H,H,C1,public_dc,caas,UTC,24/7,CP-H,H-P1,1,DC,150,2025-01-01,"]
    (tmp_path / "sites.csv").write_text(SITES_HEADER + "\n" + "\n".join(rows) + "\n")
    assert ingest_file(wh, tmp_path / "sites.csv").quarantined == 0
    pulls = (
        ("2025-01-01T00:00:00Z", "AVAILABLE"),
        ("2025-01-10T00:00:00Z", "UNKNOWN"),
        ("2025-01-14T00:00:00Z", "AVAILABLE"),
    )
    for i, (at, st) in enumerate(pulls):
        f = _locations(tmp_path / f"locations-{i}.json", "G", ("G-P1",), at, st)
        assert ingest_file(wh, f).quarantined == 0, f
    yield wh
    wh.close()


def test_a_feed_gap_is_no_data_for_nevi_uptime_not_an_outage(gap):
    ports = _by_port(gap)
    g = ports["G-P1"]
    assert g["uptime_pct"] is None  # 96 h of a feed saying nothing is not a charger outage
    assert g["measured_uptime_pct"] == pytest.approx(100.0)
    assert g["measured_h"] == pytest.approx(31 * 24)  # 1 January 00:00 to the horizon
    cov = {(r["site_id"], r["source"]): r for r in qcov.coverage(gap, *JAN, as_of=AS_OF).table.to_pylist()}
    assert cov[("G", "telemetry")]["status"] == "feed gap"
    assert cov[("G", "telemetry")]["feed_gap_h"] == pytest.approx(96)
    assert cov[("H", "telemetry")]["status"] == "no data"
    assert cov[("G", "sessions")]["status"] == "no data"
    h = ports["H-P1"]
    assert h["uptime_pct"] is None and h["ports_below_nevi"] is None  # no telemetry: never 0 % or "0 below"
    net = mc.compute(gap, by="network", period="month", start=JAN[0], end=JAN[1], metrics=NAMES, as_of=AS_OF)
    assert net.to_pylist()[0]["uptime_pct"] is None
    line = qcov.warning(gap, *JAN, ("telemetry",), as_of=AS_OF)
    assert line is not None and "1 of 2 sites have none" in line and "1 of 2 sites in a feed gap" in line
