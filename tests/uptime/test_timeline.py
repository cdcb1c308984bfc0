"""NEVI uptime by hand: a year of one charger's status events, heartbeats and incidents (23 CFR 680.116(b)).

The network (times UTC; both sites are in UTC so minutes are easy to count):

* site S1 (24/7), charger C1, ports P1 and P2, commissioned 2025-01-01, heartbeats every hour;
* site S2 (open 06:00-22:00), charger C2, port Q1 commissioned 2025-07-01 (a partial year).

P1's outages: a 240-min fault (Mar 10), a 120-min Unavailable of which 60 min fall in a
scheduled-maintenance ticket (Jun 1), a fault on the port overlapping a charger-wide fault
(Aug 5, 12:00-15:00: 180 min, one outage), a 10-hour silence (Oct 1 00:00-10:00: offline from
the last heartbeat, 600 min; a 4-hour silence on Nov 1 is within the 5-hour window), and a
120-min site-wide utility interruption (Dec 1, excluded). T_outage = 1,260 min,
T_excluded = 180 min.
"""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.core.calendar import month_range
from evrevops.metrics import compute as mc
from evrevops.uptime import outages as uo
from evrevops.uptime import timeline as T
from evrevops.uptime.timeline_intervals import intervals_sql, ports_sql
from evrevops.uptime.timeline_ledger import ledger_sql, pieces_sql
from evrevops.uptime.timeline_months import months_sql
from evrevops.uptime.timeline_tables import Range
from tests.uptime.network import hourly, ingest, status, write_network

D = dt.datetime
YEAR_MIN = 525_600


def _log() -> list[dict]:
    c1 = hourly("C1", D(2025, 1, 1), D(2026, 1, 1), skip=[(D(2025, 10, 1, 0), D(2025, 10, 1, 10)), (D(2025, 11, 1, 0), D(2025, 11, 1, 4))])  # fmt: skip
    c2 = hourly("C2", D(2025, 7, 1), D(2026, 1, 1), skip=[])
    ev = [
        # Jun 1: Unavailable 08:00-10:00 (maintenance ticket 07:30-09:00 on the charger)
        status("C1", D(2025, 6, 1, 8), 1, "Unavailable"),
        status("C1", D(2025, 6, 1, 10), 1, "Available"),
        # Aug 5: port fault 12:00-14:00 inside a charger fault 13:00-15:00
        status("C1", D(2025, 8, 5, 12), 1, "Faulted", "GroundFailure"),
        status("C1", D(2025, 8, 5, 13), 0, "Faulted", "InternalError"),
        status("C1", D(2025, 8, 5, 14), 1, "Available"),
        status("C1", D(2025, 8, 5, 15), 0, "Available"),
        # Dec 1: utility interruption, the whole charger Faulted 00:00-02:00
        status("C1", D(2025, 12, 1, 0), 0, "Faulted", "UnderVoltage"),
        status("C1", D(2025, 12, 1, 2), 0, "Available"),
        # Mar 10 fault 10:00-14:00, logged after later events (order in the file does not matter) …
        status("C1", D(2025, 3, 10, 14), 1, "Available"),
        status("C1", D(2025, 3, 10, 10), 1, "Faulted", "HighTemperature"),
        # … and replayed (the same message again): a duplicate
        status("C1", D(2025, 3, 10, 10), 1, "Faulted", "HighTemperature"),
        # Q1: fault Sep 10 20:00 - Sep 11 08:00 (closed 22:00-06:00; vandalism ticket 05:00-07:00)
        status("C2", D(2025, 9, 10, 20), 1, "Faulted", "ConnectorLockFailure"),
        status("C2", D(2025, 9, 11, 8), 1, "Available"),
    ]
    return c1 + c2 + ev


SITES = [
    "S1,Depot,K1,fleet,caas,UTC,24/7,C1,P1,1,DC,150,2025-01-01,",
    "S1,Depot,K1,fleet,caas,UTC,24/7,C1,P2,2,DC,150,2025-01-01,",
    "S2,Mall,K2,commercial,caas,UTC,Mo-Su 06:00-22:00,C2,Q1,1,AC_1_PHASE,11,2025-07-01,",
]
INCIDENTS = [
    "I1,,,C1,2025-06-01T07:30:00Z,2025-06-01T09:00:00Z,scheduled_maintenance",
    "I2,S1,,,2025-12-01T00:00:00Z,2025-12-01T02:00:00Z,utility_interruption",
    "I3,,Q1,,2025-09-11T05:00:00Z,2025-09-11T07:00:00Z,vandalism",
    "I4,,P1,,2025-03-10T09:00:00Z,2025-03-10T15:00:00Z,hardware_fault",
]


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uptime")
    write_network(folder, SITES, _log(), INCIDENTS)
    w = ingest(folder, folder / "w.duckdb")
    yield w
    w.close()


def _metrics(wh, by: str, month: str, names: list[str]) -> dict:
    lo, hi = month_range(month)
    rows = mc.compute(wh, by=by, period="month", start=lo, end=hi, metrics=names).to_pylist()
    key = {"port": "port_id", "site": "site_id", "network": None}[by]
    return {r[key] if key else "network": r for r in rows}


NAMES = ["uptime_pct", "uptime_t12m_pct", "t_outage_min", "t_excluded_min", "offline_min", "no_data_min",
         "outages", "mtbf_h", "mttr_h", "ports_below_nevi", "ports_partial_year", "measured_uptime_pct"]  # fmt: skip


def test_nevi_trailing_twelve_months_by_hand(wh):
    m = _metrics(wh, "port", "2025-12", NAMES)
    p1, p2, q1 = m["P1"], m["P2"], m["Q1"]
    # P1: T_outage 240 + 120 + 180 + 600 + 120 = 1,260; T_excluded 60 + 120 = 180
    assert p1["uptime_t12m_pct"] == pytest.approx((YEAR_MIN - (1260 - 180)) / YEAR_MIN * 100, abs=1e-9)
    # P2: the charger fault 13:00-15:00 (120), the silence (600) and the utility interruption (120, excluded)
    assert p2["uptime_t12m_pct"] == pytest.approx((YEAR_MIN - (840 - 120)) / YEAR_MIN * 100, abs=1e-9)
    # Q1: 184 days since commissioning; 720 min fault, 540 excluded (22:00-06:00 closed ∪ vandalism 05:00-07:00)
    q_min = 184 * 1440
    assert q1["uptime_t12m_pct"] == pytest.approx((q_min - (720 - 540)) / q_min * 100, abs=1e-9)
    assert (p1["ports_partial_year"], p2["ports_partial_year"], q1["ports_partial_year"]) == (0, 0, 1)
    assert all(r["ports_below_nevi"] == 0 for r in (p1, p2, q1))
    # December alone: the excluded utility interruption
    assert p1["t_outage_min"] == pytest.approx(120) and p1["t_excluded_min"] == pytest.approx(120)
    assert p1["uptime_pct"] == pytest.approx(100.0)
    assert p1["no_data_min"] == 0 and p1["measured_uptime_pct"] == pytest.approx(100.0)


def test_monthly_figures_and_mtbf_by_hand(wh):
    mar = _metrics(wh, "port", "2025-03", NAMES)["P1"]
    assert mar["t_outage_min"] == pytest.approx(240) and mar["t_excluded_min"] == 0
    assert mar["uptime_pct"] == pytest.approx((31 * 1440 - 240) / (31 * 1440) * 100, abs=1e-9)
    aug = _metrics(wh, "port", "2025-08", NAMES)
    # one outage 12:00-15:00 on P1 (port and charger faults overlap): counted once
    assert aug["P1"]["outages"] == 1 and aug["P1"]["t_outage_min"] == pytest.approx(180)
    assert aug["P1"]["mttr_h"] == pytest.approx(3.0)
    assert aug["P1"]["mtbf_h"] == pytest.approx((31 * 1440 - 180) / 60)
    assert aug["P2"]["t_outage_min"] == pytest.approx(120)
    oct_ = _metrics(wh, "port", "2025-10", NAMES)
    assert oct_["P1"]["offline_min"] == pytest.approx(600) and oct_["P2"]["offline_min"] == pytest.approx(600)
    nov = _metrics(wh, "port", "2025-11", NAMES)
    assert nov["P1"]["t_outage_min"] == 0  # a 4-hour silence is inside the 5-hour window
    jun = _metrics(wh, "port", "2025-06", NAMES)["P1"]
    assert (jun["t_outage_min"], jun["t_excluded_min"]) == (pytest.approx(120), pytest.approx(60))
    # scheduled maintenance partly excluded is still a failure of the port; a wholly excluded outage is not
    assert jun["outages"] == 1 and jun["mttr_h"] == pytest.approx(2.0)
    dec = _metrics(wh, "port", "2025-12", NAMES)["P1"]
    assert dec["outages"] == 1 and dec["mtbf_h"] is None


def test_site_rollup_weights_ports_by_their_minutes(wh):
    s = _metrics(wh, "site", "2025-12", NAMES)
    up = (2 * YEAR_MIN - ((1260 - 180) + (840 - 120))) / (2 * YEAR_MIN) * 100
    assert s["S1"]["uptime_t12m_pct"] == pytest.approx(up, abs=1e-9)
    n = _metrics(wh, "network", "2025-12", ["t_outage_min", "t_excluded_min"])["network"]
    assert n["t_outage_min"] == pytest.approx(240) and n["t_excluded_min"] == pytest.approx(240)


def test_ledger_rows_by_hand(wh):
    led = uo.ledger(wh, dt.date(2025, 1, 1), dt.date(2025, 12, 1)).to_pylist()
    p1 = [r for r in led if r["port_id"] == "P1"]
    assert [(r["started_at"], r["duration_min"], r["excluded_min"]) for r in p1] == [
        (D(2025, 3, 10, 10), 240, 0),
        (D(2025, 6, 1, 8), 120, 60),
        (D(2025, 8, 5, 12), 180, 0),
        (D(2025, 10, 1, 0), 600, 0),
        (D(2025, 12, 1, 0), 120, 120),
    ]
    mar, jun, aug, oct_, dec = p1
    assert (mar["cause"], mar["incident_id"], mar["nevi_excludable"]) == ("hardware_fault", "I4", False)
    assert mar["error_codes"] == "HighTemperature" and mar["statuses"] == "Faulted"
    assert (jun["cause"], jun["nevi_excludable"]) == ("scheduled_maintenance", True)
    assert aug["error_codes"] == "GroundFailure,InternalError" and aug["fault_min"] == 180
    assert oct_["statuses"] == "offline" and oct_["offline_min"] == 600 and oct_["cause"] is None
    assert (dec["cause"], dec["incident_id"]) == ("utility_interruption", "I2")
    assert not any(r["open"] for r in led)
    q1 = [r for r in led if r["port_id"] == "Q1"]
    assert [(r["duration_min"], r["excluded_min"], r["cause"]) for r in q1] == [(720, 540, "vandalism")]


def test_the_ledger_and_the_month_agree(wh):
    """Σ ledger minutes inside a month = the month's T_outage (no outage here crosses a month)."""
    for month in ("2025-03", "2025-08", "2025-10", "2025-12"):
        lo, _ = month_range(month)
        led = uo.ledger(wh, lo).to_pylist()
        m = _metrics(wh, "network", month, ["t_outage_min", "t_excluded_min"])["network"]
        assert sum(r["duration_min"] for r in led) == pytest.approx(m["t_outage_min"])
        assert sum(r["excluded_min"] for r in led) == pytest.approx(m["t_excluded_min"])


def test_silence_at_the_horizon_is_an_open_offline_outage(tmp_path):
    log = hourly("C1", D(2025, 1, 1), D(2025, 1, 10), skip=[]) + hourly("C9", D(2025, 1, 1), D(2025, 1, 20), skip=[])
    write_network(tmp_path, [*SITES[:2], "S9,Other,K9,fleet,caas,UTC,24/7,C9,Z1,1,DC,50,2025-01-01,"], log)
    wh = ingest(tmp_path, tmp_path / "w.duckdb")
    led = uo.ledger(wh, dt.date(2025, 1, 1), open_only=True).to_pylist()
    # C1 went silent after 2025-01-10 00:00 while C9 kept talking until the horizon (Jan 20 00:00)
    assert [(r["port_id"], r["started_at"], r["open"], r["ended_at"]) for r in led] == [
        ("P1", D(2025, 1, 10), True, None),
        ("P2", D(2025, 1, 10), True, None),
    ]
    assert led[0]["duration_min"] == 10 * 1440
    # a port never heard from is no data, never up
    m = _metrics(wh, "port", "2025-01", ["uptime_pct", "no_data_min", "measured_uptime_pct"])
    assert m["Z1"]["uptime_pct"] == pytest.approx(100.0)
    assert m["P1"]["uptime_pct"] == pytest.approx(9 / 19 * 100)
    wh.close()


def test_a_port_without_telemetry_is_no_data(tmp_path):
    log = hourly("C9", D(2025, 1, 1), D(2025, 1, 31), skip=[])
    write_network(tmp_path, [SITES[0], "S9,Other,K9,fleet,caas,UTC,24/7,C9,Z1,1,DC,50,2025-01-01,"], log)
    wh = ingest(tmp_path, tmp_path / "w.duckdb")
    m = _metrics(wh, "port", "2025-01", ["uptime_pct", "no_data_min", "measured_uptime_pct"])
    assert m["P1"]["no_data_min"] == pytest.approx(30 * 1440)
    # never observed: its uptime is no data (not 0 %), its no-data minutes say how long
    assert m["P1"]["uptime_pct"] is None and m["P1"]["measured_uptime_pct"] is None
    wh.close()


def test_the_sql_transpiles_to_spark(wh):
    sqlglot = pytest.importorskip("sqlglot")
    r = Range(dt.date(2025, 12, 1), dt.date(2025, 12, 1), D(2025, 1, 1), D(2026, 1, 1), T.DEFAULT_OFFLINE_AFTER_S)
    for sql in (ports_sql(r), intervals_sql(r), pieces_sql(r), ledger_sql(r), months_sql(r)):
        body = sql.split(" AS", 1)[1]  # the SELECT of CREATE … AS
        assert sqlglot.transpile(body, read="duckdb", write="spark")


def test_simultaneous_events_resolve_the_same_way_in_any_order(tmp_path):
    """At one instant Available and Faulted: the fault holds; two error codes at once: both are kept."""
    beats = hourly("C1", D(2025, 1, 1), D(2025, 1, 3), skip=[])
    same = [
        status("C1", D(2025, 1, 1, 10), 1, "Available", uid="a"),
        status("C1", D(2025, 1, 1, 10), 1, "Faulted", "GroundFailure", uid="b"),
        status("C1", D(2025, 1, 1, 10), 1, "Faulted", "HighTemperature", uid="c"),
        status("C1", D(2025, 1, 1, 12), 1, "Available", uid="d"),
    ]
    results = []
    for k, order in enumerate((same, same[::-1])):
        folder = tmp_path / f"n{k}"
        write_network(folder, SITES[:2], beats + order)
        wh = ingest(folder, folder / "w.duckdb")
        led = [(r["started_at"], r["duration_min"], r["statuses"], r["error_codes"]) for r in uo.ledger(wh, dt.date(2025, 1, 1)).to_pylist() if r["port_id"] == "P1"]  # fmt: skip
        results.append(led)
        wh.close()
    assert results[0] == results[1] == [(D(2025, 1, 1, 10), 120, "Faulted", "GroundFailure,HighTemperature")]
