"""The demo-network generator: determinism, consistency of the files, realism checks."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import shutil
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.demo import generate
from evrevops.demo.pricing import TARIFF_INDEX, TARIFFS, price_sessions
from evrevops.demo.tz import wall_to_utc
from evrevops.formats import detect, input_files
from evrevops.metrics.compute import compute
from evrevops.refresh import refresh_kept
from evrevops.tariffs.site_bills import month_bills
from evrevops.warehouse import port_sites
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file

UTC = dt.UTC
HB_16_ERRORS = {
    "ConnectorLockFailure", "EVCommunicationError", "GroundFailure", "HighTemperature", "InternalError",
    "LocalListConflict", "NoError", "OtherError", "OverCurrentFailure", "OverVoltage", "PowerMeterFailure",
    "PowerSwitchFailure", "ReaderFailure", "ResetFailure", "UnderVoltage", "WeakSignal",
}  # fmt: skip


def _ts(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def net(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    calls: list[tuple[str, int, int]] = []
    summary = generate(out, ports=60, months=2, seed=7, progress=lambda *a: calls.append(a))
    summary["_progress"] = calls
    return out, summary


@pytest.fixture(scope="module")
def cdrs(net) -> list[dict]:
    out, _ = net
    rows = []
    for p in sorted((out / "cdrs").glob("*.ndjson")):
        rows.extend(json.loads(line) for line in p.read_text().splitlines())
    return rows


@pytest.fixture(scope="module")
def sites(net) -> list[dict]:
    with open(net[0] / "sites.csv", newline="") as f:
        return list(csv.DictReader(f))


# ---- determinism --------------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, ports=24, months=1, seed=11)
    generate(b, ports=24, months=1, seed=11)
    generate(c, ports=24, months=1, seed=12)
    ha, hb, hc = _hashes(a), _hashes(b), _hashes(c)
    assert ha == hb
    assert len(ha) >= 20
    assert ha["cdrs/cdrs-2025-12.ndjson"] != hc["cdrs/cdrs-2025-12.ndjson"]
    assert ha["sites.csv"] != hc["sites.csv"]


# ---- files ------------------------------------------------------------------------------------------------


def test_every_file_is_written_and_recognised(net):
    out, summary = net
    names = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    for n in ["customers.csv", "sites.csv", "locations.json", "tariffs.json", "contracts.csv", "deals.csv",
              "deal_stages.csv", "projects.csv", "incentives.csv", "incidents.csv",
              "cdrs/cdrs-2025-11.ndjson", "cdrs/cdrs-2025-12.ndjson",
              "ocpp/ocpp-2025-11.ndjson", "ocpp/ocpp-2025-12.ndjson"]:  # fmt: skip
        assert n in names, n
    urdb = sorted(n for n in names if n.startswith("utility_tariffs/urdb-"))
    assert len(urdb) >= 5
    expected = {
        "customers.csv": "customers-csv", "sites.csv": "sites-csv", "locations.json": "ocpi-locations",
        "tariffs.json": "ocpi-tariffs", "contracts.csv": "contracts-csv", "deals.csv": "deals-csv",
        "deal_stages.csv": "deal-stages-csv", "projects.csv": "projects-csv", "incentives.csv": "incentives-csv",
        "incidents.csv": "incidents-csv", "cdrs/cdrs-2025-11.ndjson": "ocpi-cdrs",
        "ocpp/ocpp-2025-11.ndjson": "ocpp-log", urdb[0]: "urdb",
    }  # fmt: skip
    for name, fmt in expected.items():
        assert detect(out / name)[0] == fmt, name
    assert summary["ports"] == 60
    assert set(summary["files"]) == names
    stages = {c[0] for c in summary["_progress"]}
    assert {"network", "sessions", "cdrs", "ocpp", "commercial"} <= stages


def test_urdb_records_are_complete_and_unique(net):
    out, _ = net
    labels = set()
    kinds = defaultdict(int)
    for p in sorted((out / "utility_tariffs").glob("urdb-*.json")):
        (rec,) = json.loads(p.read_text())["items"]
        assert rec["label"].startswith("demo-") and rec["label"] not in labels
        labels.add(rec["label"])
        for key in ("energyweekdayschedule", "energyweekendschedule"):
            m = rec[key]
            assert len(m) == 12 and all(len(r) == 24 for r in m)
            assert max(max(r) for r in m) < len(rec["energyratestructure"])
        if "flatdemandstructure" in rec:
            kinds["flat"] += 1
            assert len(rec["flatdemandmonths"]) == 12
            assert max(rec["flatdemandmonths"]) < len(rec["flatdemandstructure"])
        if "demandratestructure" in rec:
            kinds["tou"] += 1
            assert max(max(r) for r in rec["demandweekdayschedule"]) < len(rec["demandratestructure"])
        kinds[rec["fixedchargeunits"]] += 1
        assert rec["fixedchargefirstmeter"] > 0
    assert kinds["flat"] >= 4 and kinds["tou"] >= 2 and kinds["$/day"] >= 1 and kinds["$/month"] >= 1
    with open(out / "sites.csv", newline="") as f:
        used = {r["utility_tariff_id"] for r in csv.DictReader(f)}
    assert used <= labels
    # demand charges of commercial tariffs are in the handbook's $10-20+/kW-month range
    rates = [t["rate"] for p in (out / "utility_tariffs").glob("*.json")
             for s in json.loads(p.read_text())["items"][0].get("flatdemandstructure", []) for t in s]  # fmt: skip
    assert min(rates) >= 9 and max(rates) >= 20


def _windows(sites: list[dict]) -> dict[str, list[tuple[str, str, str]]]:
    """Each port's windows ``(site, commissioned_on, decommissioned_on)`` in date order (the undated rows;
    a dated row repeats its site's ports with the facts from its ``effective_on``)."""
    out = defaultdict(set)
    for r in sites:
        if not r["effective_on"]:
            out[r["port_id"]].add((r["site_id"], r["commissioned_on"], r["decommissioned_on"]))
    return {p: sorted(w, key=lambda x: x[1]) for p, w in out.items()}


def test_sites_locations_and_cdrs_agree_on_ids(net, sites, cdrs):
    out, _ = net
    locs = json.loads((out / "locations.json").read_text())
    windows = _windows(sites)
    site_of_port = {p: w[-1][0] for p, w in windows.items()}  # where the port is now
    tz_of_site = {r["site_id"]: r["time_zone"] for r in sites}
    assert {loc["id"] for loc in locs} == set(tz_of_site)
    for loc in locs:
        assert loc["time_zone"] == tz_of_site[loc["id"]]
        for e in loc["evses"]:
            assert site_of_port[e["uid"]] == loc["id"]
    assert {e["uid"] for loc in locs for e in loc["evses"]} == set(site_of_port)
    tariff_ids = {t["id"] for t in json.loads((out / "tariffs.json").read_text())}
    for c in cdrs:
        # a CDR names the site its port was at on the local day the session started
        site = c["cdr_location"]["id"]
        day = _ts(c["start_date_time"]).astimezone(ZoneInfo(tz_of_site[site])).date().isoformat()
        assert any(
            s == site and a <= day and (not b or day < b) for s, a, b in windows[c["cdr_location"]["evse_uid"]]
        ), c["id"]
        for t in c["tariffs"]:
            assert t["id"] in tariff_ids
    assert len({c["id"] for c in cdrs}) == len(cdrs)
    zones = {r["time_zone"] for r in sites}
    assert "America/Phoenix" in zones and len(zones) >= 4


def test_all_segments_and_revenue_models(net, sites):
    out, summary = net
    assert {r["segment"] for r in sites} == {"fleet", "public_dc", "commercial", "residential"}
    with open(out / "customers.csv", newline="") as f:
        cust = list(csv.DictReader(f))
    assert {r["revenue_model"] for r in cust} == {"hardware_sale", "caas", "software_only"}
    with open(out / "contracts.csv", newline="") as f:
        lines = list(csv.DictReader(f))
    assert {r["line_type"] for r in lines} >= {"hardware", "installation", "software", "caas"}
    assert {r["event"] for r in lines} >= {"new", "amend", "renew", "cancel"}
    assert {r["billing_period"] for r in lines} >= {"one_time", "monthly", "annual"}
    assert any(r["energy_share_pct"] for r in lines) and any(r["sla_credit_schedule"] for r in lines)
    # each line's history is events under the line's own id (the warehouse key: contract, line, event, date)
    assert len({(r["contract_id"], r["line_id"], r["event"], r["effective_on"]) for r in lines}) == len(lines)
    history = defaultdict(set)
    for r in lines:
        history[(r["contract_id"], r["line_id"])].add(r["event"])
    assert all("new" in events for events in history.values())  # no line of the old one-row-per-interval form
    assert any({"new", "renew"} <= events for events in history.values())
    assert any({"new", "amend"} <= events for events in history.values())
    assert any({"new", "cancel"} <= events for events in history.values())
    with open(out / "deal_stages.csv", newline="") as f:
        stages = {r["stage"] for r in csv.DictReader(f)}
    assert stages >= {"prospect", "qualified", "proposal", "negotiation", "closed_won", "closed_lost"}
    with open(out / "projects.csv", newline="") as f:
        proj = list(csv.DictReader(f))
    assert any(r["actual_on"] and r["actual_on"] > r["planned_on"] for r in proj)  # some slipped
    with open(out / "incentives.csv", newline="") as f:
        kinds = {r["kind"] for r in csv.DictReader(f)}
    assert {"grant", "tax_credit"} <= kinds
    assert all(summary["segments"][s]["sessions"] > 0 for s in summary["segments"])


# ---- sessions ---------------------------------------------------------------------------------------------


def test_sessions_never_overlap_on_a_port(cdrs):
    by_port = defaultdict(list)
    for c in cdrs:
        by_port[c["cdr_location"]["evse_uid"]].append((_ts(c["start_date_time"]), _ts(c["end_date_time"])))
    assert len(by_port) > 30
    for spans in by_port.values():
        spans.sort()
        for (_, e0), (s1, _) in zip(spans, spans[1:], strict=False):
            assert s1 >= e0


def _cents(x) -> int:
    return int((Decimal(str(x)) * 100).to_integral_value(ROUND_HALF_UP))


def test_cdr_costs_add_up_and_periods_match_totals(cdrs):
    for c in cdrs:
        parts = ["total_energy_cost", "total_time_cost", "total_parking_cost", "total_fixed_cost"]
        for k in [*parts, "total_cost"]:
            assert Decimal(str(c[k]["excl_vat"])).as_tuple().exponent >= -2
        assert sum(_cents(c[k]["excl_vat"]) for k in parts) == _cents(c["total_cost"]["excl_vat"])
        vol = defaultdict(Decimal)
        starts = []
        for p in c["charging_periods"]:
            starts.append(p["start_date_time"])
            for d in p["dimensions"]:
                vol[d["type"]] += Decimal(str(d["volume"]))
        assert starts[0] == c["start_date_time"] and starts == sorted(starts)
        assert vol["ENERGY"] == Decimal(str(c["total_energy"]))
        assert vol["PARKING_TIME"] == Decimal(str(c["total_parking_time"]))
        total = Decimal(str(c["total_time"]))
        assert vol["TIME"] + vol["PARKING_TIME"] == total
        span = (_ts(c["end_date_time"]) - _ts(c["start_date_time"])).total_seconds()
        assert total * 3600 == Decimal(int(span))  # 9-s quanta: hours are exact
        if c["total_energy"] == 0:
            assert c["tariffs"] == [] and _cents(c["total_cost"]["excl_vat"]) == 0 and "remark" in c


def _matches(r: dict, local: dt.datetime, elapsed: float) -> bool:
    if "start_time" in r or "end_time" in r:
        a = int(r.get("start_time", "00:00")[:2])
        b = int(r.get("end_time", "00:00")[:2]) or 24
        h = local.hour
        if not ((a <= h < b) if a < b else (h >= a or h < b)):
            return False
    if "day_of_week" in r and local.strftime("%A").upper() not in r["day_of_week"]:
        return False
    if "min_duration" in r and elapsed < r["min_duration"]:
        return False
    return not ("max_duration" in r and elapsed >= r["max_duration"])


def _price(elements: list[dict], dim: str, local: dt.datetime, elapsed: float) -> Decimal:
    for el in elements:
        for pc in el["price_components"]:
            if pc["type"] == dim and _matches(el.get("restrictions", {}), local, elapsed):
                return Decimal(str(pc["price"]))
    return Decimal(0)


def test_cdrs_reprice_from_tariffs_json(net, cdrs):
    """An independent OCPI re-pricing of every CDR from tariffs.json gives its cents."""
    out, _ = net
    tariffs = {t["id"]: t for t in json.loads((out / "tariffs.json").read_text())}
    tz = {loc["id"]: ZoneInfo(loc["time_zone"]) for loc in json.loads((out / "locations.json").read_text())}
    seen = defaultdict(int)
    for c in cdrs:
        if not c["tariffs"]:
            continue
        els = tariffs[c["tariffs"][0]["id"]]["elements"]
        zone = tz[c["cdr_location"]["id"]]
        t0 = _ts(c["start_date_time"])
        cost = defaultdict(Decimal)
        for p in c["charging_periods"]:
            start = _ts(p["start_date_time"])
            local = start.astimezone(zone)
            elapsed = (start - t0).total_seconds()
            for d in p["dimensions"]:
                cost[d["type"]] += _price(els, d["type"], local, elapsed) * Decimal(str(d["volume"]))
        flat = _price(els, "FLAT", t0.astimezone(zone), 0)
        got = {k: _cents(c[f"total_{k}_cost"]["excl_vat"]) for k in ("energy", "time", "parking", "fixed")}
        want = {
            "energy": _cents(cost["ENERGY"]),
            "time": _cents(cost["TIME"]),
            "parking": _cents(cost["PARKING_TIME"]),
            "fixed": _cents(flat),
        }
        assert got == want, c["id"]
        for k, v in got.items():
            seen[k] += v > 0
    assert all(seen[k] > 0 for k in ("energy", "time", "parking", "fixed"))


def _one(tariff: str, local: dt.datetime, total_s: int, charge_s: int, wh: int, zone: str):
    start = np.array([int(local.replace(tzinfo=ZoneInfo(zone)).timestamp())])
    pr = price_sessions(
        start, np.array([total_s]), np.array([charge_s]), np.array([wh]), np.array([TARIFF_INDEX[tariff]]),
        np.array([0]), [zone], (2020, 2030),
    )  # fmt: skip
    return pr


def test_hand_checked_sessions():
    # Denver, Tuesday 15:30 MDT: 60 min charging 50 kWh across the 16:00 peak, then 30 min idle.
    # energy 25 kWh x 0.48 + 25 kWh x 0.58 = 26.50; idle fee applies (session past 45 min): 0.5 h x 24.00 = 12.00
    pr = _one("EVR-DC-STD", dt.datetime(2025, 7, 15, 15, 30), 5400, 3600, 50_000, "America/Denver")
    assert (pr.energy_c[0], pr.time_c[0], pr.parking_c[0], pr.flat_c[0]) == (2650, 0, 1200, 0)
    assert pr.p_wh.tolist() == [25_000, 25_000, 0] and pr.p_q.tolist() == [200, 200, 200]
    # Depot, 20:00-08:00, 6 h charging 60 kWh: 20-22 at 0.29 (5.80), 22-02 at 0.21 (8.40), parking free
    pr = _one("EVR-FLEET-DEPOT", dt.datetime(2025, 5, 6, 20, 0), 12 * 3600, 6 * 3600, 60_000, "America/Chicago")
    assert (pr.energy_c[0], pr.parking_c[0]) == (1420, 0)
    assert pr.p_wh.tolist() == [20_000, 40_000, 0]
    # DC per-minute tariff across 23:00: 0.33 h x 9.00 + 0.3375 h x 4.80 = 2.97 + 1.62; 30 kWh x 0.39; flat 1.00
    pr = _one("EVR-DC-TIME", dt.datetime(2025, 9, 3, 22, 40, 12), 2700, 2403, 30_000, "America/New_York")
    assert (pr.energy_c[0], pr.time_c[0], pr.parking_c[0], pr.flat_c[0]) == (1170, 459, 0, 100)
    assert {t.id for t in TARIFFS} == set(TARIFF_INDEX)


def test_public_dc_sessions_last_20_to_45_minutes_on_median(net, sites, cdrs):
    seg = {r["site_id"]: r["segment"] for r in sites}
    mins = [
        float(c["total_time"]) * 60 for c in cdrs if seg[c["cdr_location"]["id"]] == "public_dc" and c["total_energy"]
    ]
    assert len(mins) > 500
    assert 20 <= float(np.median(mins)) <= 45


def test_utilization_fleet_above_commercial_above_residential(net, sites, cdrs):
    out, _ = net
    lo, hi = dt.date(2025, 11, 1), dt.date(2026, 1, 1)
    open_h: dict[str, float] = defaultdict(float)
    seg_of_site = {}
    for r in sites:
        if r["effective_on"]:  # a dated statement repeats its site's ports
            continue
        a = max(lo, dt.date.fromisoformat(r["commissioned_on"]))
        b = min(hi, dt.date.fromisoformat(r["decommissioned_on"])) if r["decommissioned_on"] else hi
        open_h[r["segment"]] += max((b - a).days, 0) * 24
        seg_of_site[r["site_id"]] = r["segment"]
    charging_h: dict[str, float] = defaultdict(float)
    for c in cdrs:
        charging_h[seg_of_site[c["cdr_location"]["id"]]] += c["total_time"] - c["total_parking_time"]
    u = {s: charging_h[s] / open_h[s] for s in open_h}
    assert u["fleet"] > u["commercial"] > u["residential"] > 0
    assert 0.10 <= u["public_dc"] <= 0.25


def test_failed_attempts_are_zero_energy_cdrs(net, cdrs):
    failed = [c for c in cdrs if c["total_energy"] == 0]
    assert 0.02 < len(failed) / len(cdrs) < 0.15
    assert all(c["total_parking_time"] == c["total_time"] > 0 for c in failed)


# ---- time zones -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "zone, wall, fold",
    [
        ("America/New_York", dt.datetime(2025, 3, 9, 2, 30), 0),  # spring gap: offset before the gap
        ("America/New_York", dt.datetime(2025, 11, 2, 1, 30), 1),  # autumn overlap: second occurrence
        ("America/Los_Angeles", dt.datetime(2025, 11, 2, 0, 59, 51), 0),
        ("America/Chicago", dt.datetime(2025, 7, 1, 18, 0), 0),
        ("America/Phoenix", dt.datetime(2025, 3, 9, 2, 30), 0),  # no DST
    ],
)
def test_wall_to_utc_matches_zoneinfo(zone, wall, fold):
    naive = int(wall.replace(tzinfo=UTC).timestamp())
    got = int(wall_to_utc(np.array([naive]), zone, (2020, 2030))[0])
    want = int(wall.replace(tzinfo=ZoneInfo(zone), fold=fold).timestamp())
    assert got == want


def test_local_patterns_survive_dst_and_crossing_sessions_convert(tmp_path):
    """Generated in local time: depot plug-ins stay at ~18:00 local when DST starts (UTC moves an hour);
    overnight sessions across the change end at a local-morning departure and last an hour less than
    their wall-clock span."""
    out = tmp_path / "dst"
    generate(out, ports=80, months=1, seed=3, end_month="2025-03")
    with open(out / "sites.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    zone = {r["site_id"]: ZoneInfo(r["time_zone"]) for r in rows}
    depot_l2 = {r["port_id"] for r in rows if r["segment"] == "fleet" and r["power_type"] != "DC"}
    overnight = {r["port_id"] for r in rows if r["segment"] == "residential"} | depot_l2
    change = dt.datetime(2025, 3, 9, 12, tzinfo=UTC)
    local_h = defaultdict(list)
    crossing = 0
    for line in (out / "cdrs" / "cdrs-2025-03.ndjson").read_text().splitlines():
        c = json.loads(line)
        port, z = c["cdr_location"]["evse_uid"], zone[c["cdr_location"]["id"]]
        if port not in overnight or not c["total_energy"] or "remark" in c or str(z) == "America/Phoenix":
            continue
        s_utc, e_utc = _ts(c["start_date_time"]), _ts(c["end_date_time"])
        s, e = s_utc.astimezone(z), e_utc.astimezone(z)
        if port in depot_l2 and abs((s - change).days) <= 10:
            assert 14 <= s.hour + s.minute / 60 <= 23.5
            local_h["after" if s > change else "before"].append(s.hour + s.minute / 60)
        if s.utcoffset() != e.utcoffset():
            crossing += 1
            assert 4 <= e.hour + e.minute / 60 <= 10  # departure: local morning, after the change
            wall = (e.replace(tzinfo=None) - s.replace(tzinfo=None)).total_seconds()
            assert (e_utc - s_utc).total_seconds() == wall - 3600
    assert len(local_h["before"]) > 30 and len(local_h["after"]) > 30
    assert abs(np.mean(local_h["before"]) - np.mean(local_h["after"])) < 0.4
    assert crossing > 0


# ---- OCPP ----------------------------------------------------------------------------------------------------


def test_ocpp_log(net, sites):
    out, _ = net
    msgs = []
    for p in sorted((out / "ocpp").glob("*.ndjson")):
        msgs.extend(json.loads(line) for line in p.read_text().splitlines())
    actions = defaultdict(int)
    calls = {}
    hb = defaultdict(list)
    for m in msgs:
        msg = m["message"]
        assert m["timestamp"].endswith("Z")
        if msg[0] == 2:
            actions[msg[2]] += 1
            calls[msg[1]] = msg[2]
            if msg[2] == "Heartbeat":
                hb[m["charge_point_id"]].append(_ts(m["timestamp"]))
            if msg[2] == "StatusNotification" and "errorCode" in msg[3]:
                assert msg[3]["errorCode"] in HB_16_ERRORS
                assert msg[3]["status"] in ("Available", "Faulted", "Unavailable")
            if msg[2] == "MeterValues":
                units = {sv["measurand"]: sv["unit"] for sv in msg[3]["meterValue"][0]["sampledValue"]}
                assert units == {"Energy.Active.Import.Register": "Wh", "Power.Active.Import": "W"}
                assert _ts(msg[3]["meterValue"][0]["timestamp"]).minute % 15 == 0
        else:
            assert msg[0] == 3 and calls[msg[1]] in ("BootNotification", "StartTransaction")
    for a in ("BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "StartTransaction",
              "StopTransaction", "TransactionEvent"):  # fmt: skip
        assert actions[a] > 0, a
    # OCPP 1.6 and 2.0.1 chargers are both present
    status = [m["message"][3] for m in msgs if m["message"][0] == 2 and m["message"][2] == "StatusNotification"]
    assert any("connectorStatus" in p for p in status) and any("errorCode" in p for p in status)
    assert any(p.get("status") == "Faulted" and p["errorCode"] != "NoError" for p in status)
    # no heartbeat while a charger is offline (communication loss)
    with open(out / "incidents.csv", newline="") as f:
        inc = [r for r in csv.DictReader(f) if r["cause"] == "communication" and r["ended_at"]]
    assert inc
    for r in inc:
        a, b = _ts(r["started_at"]), _ts(r["ended_at"])
        assert not any(a <= t < b for t in hb[r["charger_id"]])
    # heartbeats every 4 h otherwise
    gaps = [(y - x).total_seconds() for ts in hb.values() for x, y in zip(ts, ts[1:], strict=False)]
    assert min(gaps) == 4 * 3600


def test_ocpp_outages_recover_and_meters_only_grow(net, sites):
    out, _ = net
    conn = {r["port_id"]: (r["charger_id"], int(r["connector_id"])) for r in sites}
    status = defaultdict(list)  # (charger, connector) -> [(time, status)]
    meter = defaultdict(list)
    for p in sorted((out / "ocpp").glob("*.ndjson")):
        for line in p.read_text().splitlines():
            m = json.loads(line)
            msg = m["message"]
            if msg[0] != 2:
                continue
            cp, action, pl = m["charge_point_id"], msg[2], msg[3]
            if action == "StatusNotification":
                c = pl.get("connectorId") if "errorCode" in pl else pl["evseId"]
                status[(cp, c)].append((_ts(m["timestamp"]), pl.get("status") or pl["connectorStatus"]))
            elif action == "MeterValues":
                e = next(v for v in pl["meterValue"][0]["sampledValue"] if v["unit"] == "Wh")
                meter[(cp, pl["connectorId"])].append((_ts(pl["meterValue"][0]["timestamp"]), int(e["value"])))
    with open(out / "incidents.csv", newline="") as f:
        faults = [r for r in csv.DictReader(f) if r["cause"] == "hardware_fault" and r["ended_at"]]
    assert faults
    for r in faults:
        a, b = _ts(r["started_at"]), _ts(r["ended_at"])
        seq = [s for t, s in status[conn[r["port_id"]]] if a <= t <= b + dt.timedelta(seconds=10)]
        assert seq[0] == "Faulted" and seq[-1] == "Available", (r["incident_id"], seq)
    for values in meter.values():
        values.sort()
        assert all(x[1] <= y[1] for x, y in zip(values, values[1:], strict=False))


# ---- history: the commissioning bay, a tariff switch, a segment change ------------------------------------

BAY = "SITE-BAY01"


def test_history_is_deterministic(net, tmp_path):
    """The fixture network has all of its history, and the same arguments write it byte for byte again."""
    out, summary = net
    history = summary["history"]
    assert history["commissioning_bay"]["site_id"] == BAY
    assert [c["what"] for c in history["site_changes"]] == ["tariff", "tariff", "segment"]
    again = generate(tmp_path / "again", ports=60, months=2, seed=7)
    assert again["history"] == history
    assert _hashes(tmp_path / "again") == _hashes(out)


def test_history_after_ingest(net, sites, cdrs, tmp_path):
    """The fixture network ingested (every file clean, facts kept) shows its history. One test, so that
    one worker ingests it."""
    out, _ = net
    wh = open_warehouse(tmp_path / "w.duckdb")
    for f in input_files([out]):
        r = ingest_file(wh, f)
        assert r.quarantined == 0 and r.records_read == r.accepted + r.duplicate, f
    refresh_kept(wh)
    _the_bay_tests_ports_for_14_days_then_they_go_to_their_site(net, sites, cdrs, wh, tmp_path)
    _a_tariff_switch_on_the_16th_bills_the_month_in_two_parts(sites, wh)
    _a_commercial_site_becomes_a_fleet_depot(sites, wh)
    wh.close()


def _the_bay_tests_ports_for_14_days_then_they_go_to_their_site(net, sites, cdrs, wh, d):
    out, summary = net
    bay_rows = [r for r in sites if r["site_id"] == BAY]
    ports = sorted(r["port_id"] for r in bay_rows)
    assert len(ports) >= 2 and ports == sorted(summary["history"]["commissioning_bay"]["ports"])
    windows = _windows(sites)
    (home,) = {windows[p][-1][0] for p in ports}  # the ports of one site
    on, until = bay_rows[0]["commissioned_on"], bay_rows[0]["decommissioned_on"]
    assert dt.date.fromisoformat(until) - dt.date.fromisoformat(on) == dt.timedelta(days=14)
    for p in ports:
        assert windows[p] == [(BAY, on, until), (home, until, "")]
    # the live feed lists them only where they are now
    locs = {loc["id"]: loc for loc in json.loads((out / "locations.json").read_text())}
    assert locs[BAY]["evses"] == [] and set(ports) <= {e["uid"] for e in locs[home]["evses"]}
    # membership: the bay, then their site from the 15th day
    rows = wh.con.execute(
        f"SELECT port_id, site_id, from_on, to_on FROM {port_sites.VIEW} WHERE port_id IN (SELECT unnest(?)) "
        "ORDER BY 1, 3 NULLS FIRST",
        [ports],
    ).fetchall()
    switch = dt.date.fromisoformat(until)
    assert rows == [r for p in ports for r in ((p, BAY, None, switch), (p, home, switch, None))]
    # the bay's sessions in the metrics are the CDRs naming it
    at_bay = [c for c in cdrs if c["cdr_location"]["id"] == BAY]
    assert at_bay and {c["cdr_location"]["evse_uid"] for c in at_bay} <= set(ports)
    assert len(at_bay) == summary["history"]["commissioning_bay"]["sessions"]
    got = compute(wh, by="site", period="month", start=dt.date(2025, 11, 1), end=dt.date(2025, 12, 31),
                  metrics=["sessions", "open_h"]).to_pylist()  # fmt: skip
    bay = [r for r in got if r["site_id"] == BAY]
    assert sum(r["sessions"] for r in bay if r["sessions"] is not None) == len(at_bay)
    assert sum(r["open_h"] for r in bay) == len(ports) * 14 * 24
    # a month with no port at the bay and no session there has no session data for it: no data, not 0
    last_day = dt.date.fromisoformat(until) - dt.timedelta(days=1)
    assert {r["month"] for r in bay if r["sessions"] is not None} == {on[:7], last_day.isoformat()[:7]}
    assert all(r["open_h"] == 0 for r in bay if r["sessions"] is None)
    # evrevops ports history PORT names both sites
    wh.con.execute("CHECKPOINT")
    db = d / "copy.duckdb"  # the CLI opens its own connection: a copy, as the test holds the file
    shutil.copy(d / "w.duckdb", db)
    res = CliRunner().invoke(app, ["--db", str(db), "ports", "history", ports[0], "--format", "json"])
    assert res.exit_code == 0, res.output
    hist = [(r["site_id"], r["from_on"], r["to_on"]) for r in json.loads(res.output)]
    assert hist == [(BAY, None, until), (home, until, None)]


def _a_tariff_switch_on_the_16th_bills_the_month_in_two_parts(sites, wh):
    dated = {(r["site_id"], r["effective_on"], r["utility_tariff_id"]) for r in sites if r["effective_on"]}
    switches = {s: (dt.date.fromisoformat(on), t) for s, on, t in dated if t == "demo-ca-ev-tou-demand"}
    assert len(switches) == 2 and {on.day for on, _ in switches.values()} == {1, 16}
    site, (on, tariff) = next((s, v) for s, v in switches.items() if v[0].day == 16)
    before = {r["utility_tariff_id"] for r in sites if r["site_id"] == site and not r["effective_on"]}
    assert len(before) == 1 and before != {tariff}
    month = on.replace(day=1)
    bills = month_bills(wh, month, month, [site]).to_pylist()
    parts = [(b["utility_tariff_id"], b["first_on"], b["last_on"]) for b in bills]
    last = (month + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1)
    assert parts == [(before.pop(), month, on - dt.timedelta(days=1)), (tariff, on, last)]
    assert all(b["total_minor"] > 0 for b in bills)


def _a_commercial_site_becomes_a_fleet_depot(sites, wh):
    ((site, on),) = {(r["site_id"], r["effective_on"]) for r in sites if r["effective_on"] and r["segment"] == "fleet"}
    assert {r["segment"] for r in sites if r["site_id"] == site and not r["effective_on"]} == {"commercial"}
    on = dt.date.fromisoformat(on)
    assert on.day == 1
    days = wh.con.execute(
        "SELECT segment, min(local_date), max(local_date), sum(sessions) FROM kept_port_day WHERE site_id = ? "
        "GROUP BY segment ORDER BY 2",
        [site],
    ).fetchall()
    assert [(s, a < on, b < on) for s, a, b, _ in days] == [("commercial", True, True), ("fleet", False, False)]
    assert days[0][2] == on - dt.timedelta(days=1) and days[1][1] == on and all(n > 0 for *_, n in days)
