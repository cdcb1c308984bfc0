"""NEVI quarterly export (23 CFR 680.112) in the EV Charging Use Data Specification's field names.

Hand-built tables for site S1 (America/Los_Angeles):

* port P1, a full year July 2024 – June 2025: one hour of outage a month, half an hour of it
  excluded in June. Trailing twelve months to June: 365 days = 31,536,000 s, T_outage 43,200 s
  (720 min), T_excluded 1,800 s (30 min), uptime (31,536,000 − 41,400) / 31,536,000 × 100.
* port P2, commissioned 15 April 2025 (a partial year): 16 + 31 + 30 days = 6,652,800 s,
  15 minutes of outage in June; its window starts at its commissioning, 2025-04-15T07:00Z.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from evrevops.formats.tables_csv import NEVI_EXCLUDABLE_CAUSES, OPERATOR_CAUSES
from evrevops.uptime import nevi_export as nx
from evrevops.warehouse.db import open_warehouse
from tests.helpers import real_data

LA = ZoneInfo("America/Los_Angeles")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nevi"
T = dt.datetime
JUNE = dt.date(2025, 6, 1)
QUARTER = {dt.date(2025, 4, 1), dt.date(2025, 5, 1), JUNE}
PERIOD_END = T(2025, 7, 1, 7)  # end of Q2 2025 in Los Angeles [UTC]


def utc(local: dt.datetime) -> dt.datetime:
    return local.replace(tzinfo=LA).astimezone(dt.UTC).replace(tzinfo=None)


def month_rows(port: str, first: dt.date, last: dt.date, outage_s: dict, excluded_s: dict, start=None) -> list[dict]:
    """Port-month rows as the uptime engine gives them, with trailing-twelve-month sums."""
    rows, m = [], first
    while m <= last:
        nxt = dt.date(m.year + m.month // 12, m.month % 12 + 1, 1)
        s = utc(T(m.year, m.month, m.day)) if start is None or m != first else start
        e = utc(T(nxt.year, nxt.month, 1))
        rows.append(
            {"port_id": port, "site_id": "S1", "charger_id": "C1", "month": m, "period_start_at": s,
             "period_end_at": e, "period_s": (e - s).total_seconds(), "outage_s": float(outage_s.get(m, 0)),
             "excluded_s": float(excluded_s.get(m, 0))}
        )  # fmt: skip
        m = nxt
    for i, r in enumerate(rows):
        w = rows[max(0, i - 11) : i + 1]
        for k in ("period_s", "outage_s", "excluded_s"):
            r[f"t12_{k}"] = sum(x[k] for x in w)
        r["uptime_pct"] = (r["period_s"] - (r["outage_s"] - r["excluded_s"])) / r["period_s"] * 100
        r["uptime_t12m_pct"] = (r["t12_period_s"] - (r["t12_outage_s"] - r["t12_excluded_s"])) / r["t12_period_s"] * 100
        r["partial_year"] = start is not None
    return rows


def months_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [("port_id", pa.string()), ("site_id", pa.string()), ("charger_id", pa.string()),
             ("month", pa.date32()), ("period_start_at", pa.timestamp("us")), ("period_end_at", pa.timestamp("us")),
             *[(c, pa.float64()) for c in ("period_s", "outage_s", "excluded_s", "t12_period_s", "t12_outage_s",
                                           "t12_excluded_s", "uptime_pct", "uptime_t12m_pct")],
             ("partial_year", pa.bool_())]
        ),
    )  # fmt: skip


# April 2024 – June 2025: the quarter's three trailing windows reach back to May 2024
P1 = month_rows("P1", dt.date(2024, 4, 1), JUNE, {dt.date(2024 + k // 12, k % 12 + 1, 1): 3600 for k in range(3, 18)},
                {JUNE: 1800})  # fmt: skip
P2 = month_rows("P2", dt.date(2025, 4, 1), JUNE, {JUNE: 900}, {}, start=T(2025, 4, 15, 7))
MONTHS = months_table(P1 + P2)


# ---- the field lists are the schemas' --------------------------------------------------------------


@pytest.mark.parametrize("kind", nx.KINDS)
def test_fields_are_the_schema_properties_in_order(kind):
    schema = json.loads((nx.SCHEMA_DIR / f"{kind}.json").read_text())
    assert nx.FIELDS[kind] == tuple(schema["properties"])
    assert set(schema["required"]) == set(nx.FIELDS[kind])
    assert nx.NULLABLE[kind] <= set(nx.FIELDS[kind])


def test_every_evrevops_cause_has_a_text():
    assert set(nx.CAUSE_TEXT) == set(NEVI_EXCLUDABLE_CAUSES) | set(OPERATOR_CAUSES)


def test_import_needs_neither_jsonschema_nor_the_schema_folder():
    import subprocess
    import sys

    code = "import sys, evrevops.uptime.nevi_export; print('jsonschema' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


# ---- uptime ----------------------------------------------------------------------------------------


def test_uptime_trailing_twelve_months_for_the_quarter():
    recs = nx.uptime_records(MONTHS, report_months=QUARTER)
    assert [(r["port_id"], r["report_yr_mon"]) for r in recs] == [
        ("P1", "202504"), ("P1", "202505"), ("P1", "202506"), ("P2", "202504"), ("P2", "202505"), ("P2", "202506"),
    ]  # fmt: skip
    by = {(r["port_id"], r["report_yr_mon"]): r for r in recs}
    assert by["P1", "202506"] == {
        "port_id": "P1",
        "station_id": "S1",
        "uptime_period_start": "2024-07-01T07:00:00Z",
        "uptime_period_end": "2025-07-01T07:00:00Z",
        "report_yr_mon": "202506",
        "uptime_pct": 99.86872146118722,
        "outage_total": 720.0,
        "outage_excluded": 30.0,
    }
    assert by["P1", "202504"]["uptime_period_start"] == "2024-05-01T07:00:00Z"  # May 2024 to April 2025
    assert by["P2", "202504"]["uptime_period_start"] == "2025-04-15T07:00:00Z"
    assert len(nx.uptime_records(MONTHS)) == len(P1) + len(P2)


def test_uptime_full_window_rows_are_needed():
    # without May and June 2024 the start of P1's April window is unknown: refused, not guessed
    t = months_table([r for r in P1 if r["month"] >= dt.date(2024, 7, 1)])
    with pytest.raises(ValueError, match="port P1 2025-04: the table holds .* t12_period_s"):
        nx.uptime_records(t, report_months=QUARTER)
    assert len(nx.uptime_records(t, report_months={JUNE})) == 1


def test_uptime_partial_year_port():
    (rec,) = nx.uptime_records(months_table(P2), report_months={JUNE})
    assert rec == {
        "port_id": "P2",
        "station_id": "S1",
        "uptime_period_start": "2025-04-15T07:00:00Z",  # commissioning: the period is shorter than a year
        "uptime_period_end": "2025-07-01T07:00:00Z",
        "report_yr_mon": "202506",
        "uptime_pct": 99.98647186147186,
        "outage_total": 15.0,
        "outage_excluded": 0.0,
    }


def test_uptime_window_start_column_and_monthly_basis():
    june = [r for r in P1 if r["month"] == JUNE]
    t = months_table(june)
    with pytest.raises(ValueError, match="eleven months before"):
        nx.uptime_records(t)
    t = t.append_column("t12_period_start_at", pa.array([T(2024, 7, 1, 7)], pa.timestamp("us")))
    assert nx.uptime_records(t)[0]["uptime_period_start"] == "2024-07-01T07:00:00Z"
    (rec,) = nx.uptime_records(months_table(june), basis="month")
    assert rec == {
        "port_id": "P1",
        "station_id": "S1",
        "uptime_period_start": "2025-06-01T07:00:00Z",
        "uptime_period_end": "2025-07-01T07:00:00Z",
        "report_yr_mon": "202506",
        "uptime_pct": 99.93055555555556,
        "outage_total": 60.0,
        "outage_excluded": 30.0,
    }


def test_uptime_bad_input():
    with pytest.raises(ValueError, match="missing column"):
        nx.uptime_records(MONTHS.drop_columns(["t12_outage_s"]))
    with pytest.raises(ValueError, match="two rows"):
        nx.uptime_records(months_table(P2 + P2[-1:]))
    bad = dict(P2[-1], uptime_t12m_pct=None)
    with pytest.raises(ValueError, match="no uptime"):
        nx.uptime_records(months_table(P2[:-1] + [bad]), report_months={JUNE})
    with pytest.raises(ValueError, match="basis"):
        nx.uptime_records(MONTHS, basis="quarter")


# ---- outages ---------------------------------------------------------------------------------------

LEDGER_SCHEMA = pa.schema(
    [("outage_id", pa.string()), ("port_id", pa.string()), ("site_id", pa.string()), ("charger_id", pa.string()),
     ("started_at", pa.timestamp("us")), ("ended_at", pa.timestamp("us")), ("duration_s", pa.float64()),
     ("state", pa.string()), ("statuses", pa.string()), ("error_codes", pa.string()), ("cause", pa.string()),
     ("incident_id", pa.string()), ("nevi_excludable", pa.bool_()), ("excluded_s", pa.float64()),
     ("open", pa.bool_())]
)  # fmt: skip


def outage(oid, start, end, duration_s, state="outage", cause=None, excluded_s=0.0, excludable=False, is_open=False):
    return {
        "outage_id": oid, "port_id": "P1", "site_id": "S1", "charger_id": "C1", "started_at": start,
        "ended_at": end, "duration_s": duration_s, "state": state, "statuses": "Faulted,offline",
        "error_codes": "GroundFailure" if state == "outage" else None, "cause": cause,
        "incident_id": "INC-1" if cause else None, "nevi_excludable": excludable, "excluded_s": excluded_s,
        "open": is_open,
    }  # fmt: skip


LEDGER = pa.Table.from_pylist(
    [
        outage("P1@2025-06-03T14:00:00Z", T(2025, 6, 3, 14), T(2025, 6, 3, 16, 2, 3, 500000), 7323.5,
               cause="hardware_fault"),
        # wholly covered by a utility interruption: exempted
        outage("P1@2025-06-10T09:00:00Z", T(2025, 6, 10, 9), T(2025, 6, 10, 10, 30), 5400.0,
               cause="utility_interruption", excluded_s=5400.0, excludable=True),
        # vandalism, but the incident covers only two of its ten hours: not exempted
        outage("P1@2025-06-12T00:00:00Z", T(2025, 6, 12), T(2025, 6, 12, 10), 36000.0, cause="vandalism",
               excluded_s=7200.0, excludable=True),
        outage("P1@2025-06-20T03:00:00Z", T(2025, 6, 20, 3), T(2025, 6, 20, 3, 15), 900.0, state="no_data"),
        # still open at the data horizon (duration to as_of 2025-06-30T00:00Z): reported to the period end
        outage("P1@2025-06-29T20:00:00Z", T(2025, 6, 29, 20), None, 14400.0, is_open=True),
    ],
    schema=LEDGER_SCHEMA,
)  # fmt: skip

OUTAGES = [
    {"outage_id": "P1@2025-06-03T14:00:00Z", "port_id": "P1", "station_id": "S1",
     "outage_start": "2025-06-03T14:00:00Z", "outage_end": "2025-06-03T16:02:03.5Z",
     "outage_duration": "PT2H2M3.5S", "outage_cause": "equipment failure", "exempted_outage": False},
    {"outage_id": "P1@2025-06-10T09:00:00Z", "port_id": "P1", "station_id": "S1",
     "outage_start": "2025-06-10T09:00:00Z", "outage_end": "2025-06-10T10:30:00Z",
     "outage_duration": "PT1H30M", "outage_cause": "utility power failure", "exempted_outage": True},
    {"outage_id": "P1@2025-06-12T00:00:00Z", "port_id": "P1", "station_id": "S1",
     "outage_start": "2025-06-12T00:00:00Z", "outage_end": "2025-06-12T10:00:00Z",
     "outage_duration": "PT10H", "outage_cause": "vandalism", "exempted_outage": False},
    {"outage_id": "P1@2025-06-20T03:00:00Z", "port_id": "P1", "station_id": "S1",
     "outage_start": "2025-06-20T03:00:00Z", "outage_end": "2025-06-20T03:15:00Z",
     "outage_duration": "PT15M", "outage_cause": "no data", "exempted_outage": False},
    {"outage_id": "P1@2025-06-29T20:00:00Z", "port_id": "P1", "station_id": "S1",
     "outage_start": "2025-06-29T20:00:00Z", "outage_end": "2025-07-01T07:00:00Z",
     "outage_duration": "PT35H", "outage_cause": "unknown", "exempted_outage": False},
]  # fmt: skip


def test_outage_records():
    assert nx.outage_records(LEDGER, period_end_at=PERIOD_END) == OUTAGES


def test_outage_no_data_left_out_on_request():
    recs = nx.outage_records(LEDGER, period_end_at=PERIOD_END, include_no_data=False)
    assert recs == [r for r in OUTAGES if r["outage_cause"] != "no data"]


def test_outage_errors():
    with pytest.raises(ValueError, match="is open: pass period_end_at"):
        nx.outage_records(LEDGER)
    with pytest.raises(ValueError, match="starts after period_end_at"):
        nx.outage_records(LEDGER, period_end_at=T(2025, 6, 29))
    bad = pa.Table.from_pylist([outage("x", T(2025, 6, 1), T(2025, 6, 1, 1), 3600.0, cause="squirrel")],
                               schema=LEDGER_SCHEMA)  # fmt: skip
    with pytest.raises(ValueError, match="unknown cause 'squirrel'"):
        nx.outage_records(bad)
    with pytest.raises(ValueError, match="missing column"):
        nx.outage_records(LEDGER.drop_columns(["state"]))


@pytest.mark.parametrize(
    ("seconds", "iso"),
    [(0, "PT0S"), (0.0004, "PT0S"), (59.9996, "PT1M"), (60, "PT1M"), (3600, "PT1H"), (90061.25, "PT25H1M1.25S"),
     (1199.88, "PT19M59.88S"), (7323.5, "PT2H2M3.5S")],
)  # fmt: skip
def test_iso_duration(seconds, iso):
    assert nx.iso_duration(seconds) == iso


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_iso_duration_refuses(bad):
    with pytest.raises(ValueError):
        nx.iso_duration(bad)


def test_iso_instant():
    assert nx.iso_instant(T(2025, 6, 1, 7)) == "2025-06-01T07:00:00Z"
    assert nx.iso_instant(T(2025, 6, 1, 7, 0, 0, 120000)) == "2025-06-01T07:00:00.12Z"
    assert nx.iso_instant(T(2025, 6, 1, 0, tzinfo=LA)) == "2025-06-01T07:00:00Z"


# ---- sessions --------------------------------------------------------------------------------------

SESSION_SCHEMA = pa.schema(
    [("session_id", pa.string()), ("source", pa.string()), ("site_id", pa.string()), ("port_id", pa.string()),
     ("started_at", pa.timestamp("us")), ("ended_at", pa.timestamp("us")), ("charging_ended_at", pa.timestamp("us")),
     ("energy_kwh", pa.float64()), ("plugged_in_s", pa.float64()), ("charging_s", pa.float64()),
     ("idle_s", pa.float64()), ("peak_kw", pa.float64()), ("currency", pa.string()),
     *[(c, pa.int64()) for c in ("total_cost_minor", "total_cost_incl_vat_minor", "energy_cost_minor",
                                 "time_cost_minor", "parking_cost_minor", "fixed_cost_minor")],
     ("tariff_id", pa.string()), ("auth_method", pa.string()), ("token_uid", pa.string()),
     ("stop_reason", pa.string()), ("charging_periods", pa.string())]
)  # fmt: skip


def session(sid, **kw) -> dict:
    row = {f.name: None for f in SESSION_SCHEMA}
    row.update(session_id=sid, source="ocpi", site_id="S1", port_id="P1")
    row.update(kw)
    return row


KEY = b"operator secret"


def uid(token: str) -> str:
    return hmac.new(KEY, token.encode(), hashlib.sha256).hexdigest()


USD_ROWS = [
    # paid session: 30.5 kWh for $15.25 (0.50/kWh), 40 charging minutes for $2.40 (0.06/min), $0.65 parking,
    # no flat fee; $18.30 excl. tax, $19.77 paid
    session("US*EVR*1", started_at=T(2025, 6, 10, 15), ended_at=T(2025, 6, 10, 16),
            charging_ended_at=T(2025, 6, 10, 15, 40), energy_kwh=30.5, plugged_in_s=3600.0, charging_s=2400.0,
            idle_s=1200.0, peak_kw=62.4, currency="USD", total_cost_minor=1830, total_cost_incl_vat_minor=1977,
            energy_cost_minor=1525, time_cost_minor=240, parking_cost_minor=65, fixed_cost_minor=0,
            auth_method="AUTH_REQUEST", token_uid="04a1b2c3d4e5f6", stop_reason="EVDisconnected"),
    # failed: two minutes plugged in, no energy, stopped on an EV communication error, charged nothing
    session("US*EVR*2", started_at=T(2025, 6, 11, 8), ended_at=T(2025, 6, 11, 8, 2), energy_kwh=0.0,
            plugged_in_s=120.0, charging_s=0.0, idle_s=120.0, currency="USD", total_cost_minor=0,
            energy_cost_minor=0, time_cost_minor=0, fixed_cost_minor=0, auth_method="WHITELIST",
            token_uid=" 04A1B2C3D4E5F6 ", stop_reason="EVCommunicationError"),
    # a free charger's CDR with nothing optional: no costs, token, auth, stop reason or peak, no charging end
    session("US*EVR*3", started_at=T(2025, 6, 12, 9), ended_at=T(2025, 6, 12, 9, 30), energy_kwh=7.25,
            plugged_in_s=1800.0, charging_s=1199.88, idle_s=600.12),
]  # fmt: skip

USD_EXPECTED = [
    {"session_id": "US*EVR*1", "port_id": "P1",
     "plug_start_datetime": "2025-06-10T15:00:00Z", "plug_end_datetime": "2025-06-10T16:00:00Z",
     "charge_start_datetime": "2025-06-10T15:00:00Z", "charge_end_datetime": "2025-06-10T15:40:00Z",
     "session_duration": "PT1H", "charging_duration": "PT40M", "energy_kwh": 30.5, "peak_kw": 62.4,
     "total_fee_charged": Decimal("19.77"), "energy_fee": Decimal("0.5000"), "session_fee": Decimal("0.00"),
     "time_fee": Decimal("0.0600"), "user_id": uid("04A1B2C3D4E5F6"), "successful_completion": True,
     "ended_by": "ev_unplugged", "start_soc": None, "end_soc": None, "error_code": None,
     "payment_type": "membership"},
    {"session_id": "US*EVR*2", "port_id": "P1",
     "plug_start_datetime": "2025-06-11T08:00:00Z", "plug_end_datetime": "2025-06-11T08:02:00Z",
     "charge_start_datetime": None, "charge_end_datetime": None,
     "session_duration": "PT2M", "charging_duration": "PT0S", "energy_kwh": 0.0, "peak_kw": None,
     "total_fee_charged": Decimal("0.00"), "energy_fee": None, "session_fee": Decimal("0.00"),
     "time_fee": None, "user_id": uid("04A1B2C3D4E5F6"), "successful_completion": False,
     "ended_by": "ev_communication_error", "start_soc": None, "end_soc": None,
     "error_code": "EVCommunicationError", "payment_type": "membership"},
    {"session_id": "US*EVR*3", "port_id": "P1",
     "plug_start_datetime": "2025-06-12T09:00:00Z", "plug_end_datetime": "2025-06-12T09:30:00Z",
     "charge_start_datetime": "2025-06-12T09:00:00Z", "charge_end_datetime": "2025-06-12T09:19:59.88Z",
     "session_duration": "PT30M", "charging_duration": "PT19M59.88S", "energy_kwh": 7.25, "peak_kw": None,
     "total_fee_charged": None, "energy_fee": None, "session_fee": None, "time_fee": None, "user_id": None,
     "successful_completion": True, "ended_by": None, "start_soc": None, "end_soc": None, "error_code": None,
     "payment_type": None},
]  # fmt: skip

JPY_ROW = session(
    "JP*XYZ*9", started_at=T(2025, 6, 14, 1), ended_at=T(2025, 6, 14, 1, 45), energy_kwh=24.0, plugged_in_s=2700.0,
    charging_s=1800.0, idle_s=900.0, peak_kw=50.0, currency="JPY", total_cost_minor=1650,
    total_cost_incl_vat_minor=1815, energy_cost_minor=1200, time_cost_minor=300, fixed_cost_minor=150,
    auth_method="COMMAND", token_uid="APP-7781", stop_reason="Remote",
)  # fmt: skip

JPY_EXPECTED = {
    "session_id": "JP*XYZ*9", "port_id": "P1",
    "plug_start_datetime": "2025-06-14T01:00:00Z", "plug_end_datetime": "2025-06-14T01:45:00Z",
    "charge_start_datetime": "2025-06-14T01:00:00Z", "charge_end_datetime": "2025-06-14T01:30:00Z",
    "session_duration": "PT45M", "charging_duration": "PT30M", "energy_kwh": 24.0, "peak_kw": 50.0,
    "total_fee_charged": Decimal("1815"), "energy_fee": Decimal("50.0000"), "session_fee": Decimal("150"),
    "time_fee": Decimal("10.0000"), "user_id": uid("APP-7781"), "successful_completion": True,
    "ended_by": "user_remote", "start_soc": None, "end_soc": None, "error_code": None,
    "payment_type": "application",
}  # fmt: skip


def sessions_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SESSION_SCHEMA)


def test_session_records_usd():
    assert nx.session_records(sessions_table(USD_ROWS), user_id_key=KEY) == USD_EXPECTED


def test_session_records_zero_decimal_currency():
    (rec,) = nx.session_records(sessions_table([JPY_ROW]), currency="JPY", user_id_key=KEY)
    assert rec == JPY_EXPECTED
    assert str(rec["total_fee_charged"]) == "1815"  # yen have no minor unit: 1815 minor units are ¥1815


def test_session_money_is_never_converted_across_currencies():
    with pytest.raises(ValueError, match=r"session JP\*XYZ\*9 is in JPY, the export in USD"):
        nx.session_records(sessions_table([JPY_ROW]))
    with pytest.raises(ValueError, match="costs but no currency"):
        nx.session_records(sessions_table([dict(JPY_ROW, currency=None)]))


def test_session_user_id_is_a_deterministic_pseudonym():
    unkeyed = nx.session_records(sessions_table(USD_ROWS[:2]))
    assert unkeyed[0]["user_id"] == unkeyed[1]["user_id"]  # case and blanks do not make another driver
    assert unkeyed[0]["user_id"] == hashlib.sha256(b"evrevops.nevi.user_id\x00" + b"04A1B2C3D4E5F6").hexdigest()
    assert unkeyed[0]["user_id"] != USD_EXPECTED[0]["user_id"]  # the key changes every pseudonym
    for rec in unkeyed:
        assert "04a1b2c3d4e5f6" not in rec["user_id"].lower()


@pytest.mark.parametrize(
    ("reason", "energy_kwh", "ended_by", "ok", "error_code"),
    [
        ("Local", 5.0, "user_local", True, None),
        ("SOCLimitReached", 5.0, "soc_limit_reached", True, None),
        ("Plug Removed While Charging", 5.0, "unplugged_while_charging", True, None),
        ("Customer", 5.0, "user", True, None),
        ("PowerLoss", 5.0, "power_loss", False, "PowerLoss"),
        ("Other", 5.0, "other", False, "Other"),
        ("EVDisconnected", 0.0, "ev_unplugged", False, None),
        ("Stopped by gremlins", 5.0, "Stopped by gremlins", False, "Stopped by gremlins"),
        (None, 5.0, None, True, None),
    ],
)
def test_session_stop_reasons(reason, energy_kwh, ended_by, ok, error_code):
    row = dict(USD_ROWS[2], stop_reason=reason, energy_kwh=energy_kwh)
    (rec,) = nx.session_records(sessions_table([row]))
    assert (rec["ended_by"], rec["successful_completion"], rec["error_code"]) == (ended_by, ok, error_code)


@pytest.mark.parametrize(
    ("auth", "payment"),
    [("AUTH_REQUEST", "membership"), ("WHITELIST", "membership"), ("COMMAND", "application"),
     ("credit_card_terminal", "credit_card_terminal"), ("NFC_WALLET", "other"), (None, None)],
)  # fmt: skip
def test_session_payment_type(auth, payment):
    (rec,) = nx.session_records(sessions_table([dict(USD_ROWS[2], auth_method=auth)]))
    assert rec["payment_type"] == payment


def test_session_telemetry_columns():
    t = sessions_table([USD_ROWS[1]]).append_column("error_codes", pa.array(["ConnectorLockFailure"]))
    t = t.append_column("start_soc", pa.array([0.31])).append_column("end_soc", pa.array([0.31]))
    (rec,) = nx.session_records(t)
    assert rec["error_code"] == "ConnectorLockFailure,EVCommunicationError"
    assert (rec["start_soc"], rec["end_soc"]) == (0.31, 0.31)


def test_sessions_for_export_from_the_warehouse():
    w = open_warehouse(":memory:")
    cols = "session_id, site_id, port_id, started_at, ended_at, energy_kwh, plugged_in_s, charging_s, idle_s, peak_kw"
    w.con.execute(
        f"""INSERT INTO sessions ({cols}) VALUES
        ('before', 'S1', 'P1', TIMESTAMP '2025-03-31 23:00', TIMESTAMP '2025-03-31 23:59:59', 1, 3599, 3599, 0, NULL),
        ('first', 'S1', 'P1', TIMESTAMP '2025-03-31 23:30', TIMESTAMP '2025-04-01 00:00', 2, 1800, 1800, 0, 11.0),
        ('metered', 'S1', 'P1', TIMESTAMP '2025-05-01 10:00', TIMESTAMP '2025-05-01 11:00', 30, 3600, 2400, 1200, NULL),
        ('at_end', 'S1', 'P1', TIMESTAMP '2025-06-30 23:00', TIMESTAMP '2025-07-01 00:00', 3, 3600, 3600, 0, NULL)"""
    )
    w.con.execute(
        """INSERT INTO meter_readings (charger_id, port_id, observed_at, measurand, phase, value, unit) VALUES
        ('C1', 'P1', TIMESTAMP '2025-05-01 10:01', 'SoC', NULL, 20, 'Percent'),
        ('C1', 'P1', TIMESTAMP '2025-05-01 10:39', 'SoC', NULL, 78, 'Percent'),
        ('C1', 'P1', TIMESTAMP '2025-05-01 10:10', 'Power.Active.Import', NULL, 61500, 'W'),
        ('C1', 'P1', TIMESTAMP '2025-05-01 10:11', 'Power.Active.Import', 'L1', 99000, 'W'),
        ('C1', 'P1', TIMESTAMP '2025-05-01 12:00', 'Power.Active.Import', NULL, 150000, 'W')"""
    )
    w.con.execute(
        """INSERT INTO status_events (charger_id, port_id, observed_at, status, error_code) VALUES
        ('C1', 'P1', TIMESTAMP '2025-05-01 10:00', 'Charging', 'NoError'),
        ('C1', 'P1', TIMESTAMP '2025-05-01 10:20', 'Charging', 'WeakSignal'),
        ('C1', 'P1', TIMESTAMP '2025-05-01 10:30', 'Faulted', 'HighTemperature'),
        ('C1', 'P1', TIMESTAMP '2025-05-01 10:31', 'Faulted', 'HighTemperature'),
        ('C1', 'P2', TIMESTAMP '2025-05-01 10:30', 'Faulted', 'GroundFailure')"""
    )
    t = nx.sessions_for_export(w.con, T(2025, 4, 1), T(2025, 7, 1))
    assert set(nx.SESSION_COLUMNS) <= set(t.column_names)
    rows = {r["session_id"]: r for r in t.to_pylist()}
    assert list(rows) == ["first", "metered"]  # ended in [start, end)
    m = rows["metered"]
    assert (m["error_codes"], m["start_soc"], m["end_soc"], m["peak_kw"]) == (
        "HighTemperature,WeakSignal",
        0.2,
        0.78,
        61.5,
    )
    assert (rows["first"]["error_codes"], rows["first"]["start_soc"], rows["first"]["peak_kw"]) == (None, None, 11.0)
    recs = nx.session_records(t)
    assert recs[1]["error_code"] == "HighTemperature,WeakSignal" and recs[1]["end_soc"] == 0.78
    nx.validate(recs, "session")
    w.close()


# ---- validation ------------------------------------------------------------------------------------


def all_records() -> dict[str, list[dict]]:
    return {
        "uptime": nx.uptime_records(MONTHS, report_months={JUNE}) + nx.uptime_records(MONTHS, basis="month"),
        "outage": nx.outage_records(LEDGER, period_end_at=PERIOD_END),
        "session": nx.session_records(sessions_table(USD_ROWS), user_id_key=KEY)
        + nx.session_records(sessions_table([JPY_ROW]), currency="JPY"),
    }


@pytest.mark.parametrize("kind", nx.KINDS)
def test_every_record_validates(kind):
    nx.validate(all_records()[kind], kind)


def test_strict_validation_refuses_nulls():
    nx.validate(all_records()["outage"], "outage", strict=True)  # outage and uptime records are complete
    nx.validate(all_records()["uptime"], "uptime", strict=True)
    with pytest.raises(nx.RecordError) as e:
        nx.validate(all_records()["session"], "session", strict=True)
    assert (e.value.index, e.value.field) == (0, "start_soc")  # no state of charge in a CDR


@pytest.mark.parametrize(
    ("kind", "field", "value", "message"),
    [
        ("uptime", "uptime_pct", 100.5, "greater than the maximum"),
        ("uptime", "report_yr_mon", "2025-06", "does not match"),
        ("uptime", "uptime_period_end", "2025-07-01 07:00:00", "is not a 'date-time'"),
        ("uptime", "station_id", None, "is not of type 'string'"),
        ("outage", "outage_duration", "90 minutes", "does not match"),
        ("outage", "exempted_outage", "false", "is not of type 'boolean'"),
        ("outage", "outage_end", "2025-02-30T00:00:00Z", "is not a 'date-time'"),
        ("session", "payment_type", "visa", "is not one of"),
        ("session", "energy_kwh", -1.0, "less than the minimum"),
        ("session", "total_fee_charged", Decimal("-0.01"), "less than the minimum"),
        ("session", "end_soc", 80.0, "greater than the maximum"),
        ("session", "plug_start_datetime", "2025-06-10T15:00:00", "is not a 'date-time'"),
        ("session", "session_id", None, "is not of type 'string'"),
    ],
)
def test_a_broken_record_fails_naming_index_and_field(kind, field, value, message):
    recs = [dict(r) for r in all_records()[kind][:2]]
    recs[1][field] = value
    with pytest.raises(nx.RecordError, match=f"{kind} record 1: field '{field}': .*{message}") as e:
        nx.validate(recs, kind)
    assert (e.value.index, e.value.field) == (1, field)


def test_a_missing_field_fails():
    recs = all_records()["outage"]
    del recs[0]["outage_cause"]
    with pytest.raises(ValueError, match="outage record 0: field 'outage_cause': required field missing"):
        nx.validate(recs, "outage")


def test_schema_folder_is_a_setting(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="SCHEMA_DIR"):
        nx.validate([], "uptime", schema_dir=tmp_path)
    monkeypatch.setattr(nx, "SCHEMA_DIR", tmp_path)
    with pytest.raises(FileNotFoundError):
        nx.validate([], "uptime")


def test_rfc3339():
    assert nx.is_rfc3339("2025-06-01T07:00:00Z") and nx.is_rfc3339("2025-06-01T00:00:00.5-07:00")
    assert not nx.is_rfc3339("2025-06-01") and not nx.is_rfc3339("2025-13-01T00:00:00Z")
    assert not nx.is_rfc3339("2025-06-01T00:00:00+25:00")


# ---- files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("kind", nx.KINDS)
def test_files_round_trip(tmp_path, kind, fmt):
    recs = all_records()[kind]
    path = nx.write_records(recs, tmp_path / f"{kind}.{fmt}", fmt)
    back = nx.read_records(path, fmt, kind)
    assert back == recs
    assert [type(v) for r in back for v in r.values()] == [type(v) for r in recs for v in r.values()]
    nx.validate(back, kind)


def test_json_file_is_plain_json_with_exact_money(tmp_path):
    recs = all_records()["session"]
    text = nx.write_records(recs, tmp_path / "s.json", "json").read_text()
    assert json.loads(text)[0]["session_id"] == "US*EVR*1"
    assert '"total_fee_charged": 19.77,' in text and '"energy_fee": 0.5000,' in text
    assert '"total_fee_charged": 1815,' in text and '"start_soc": null,' in text


def test_csv_file_has_the_schema_header_and_spec_types(tmp_path):
    recs = all_records()["session"]
    nx.write_records(recs, tmp_path / "s.csv", "csv")
    with (tmp_path / "s.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == nx.FIELDS["session"]
    failed = dict(zip(rows[0], rows[2], strict=True))
    assert failed["successful_completion"] == "false" and failed["charge_start_datetime"] == ""
    assert failed["energy_kwh"] == "0.0" and failed["total_fee_charged"] == "0.00"


def test_written_files_match_the_fixtures(tmp_path):
    outages = nx.write_records(nx.outage_records(LEDGER, period_end_at=PERIOD_END), tmp_path / "o.csv", "csv")
    assert outages.read_bytes() == (FIXTURES / "outages_2025q2.csv").read_bytes()
    uptime = nx.write_records(nx.uptime_records(MONTHS, report_months={JUNE}), tmp_path / "u.json", "json")
    assert uptime.read_bytes() == (FIXTURES / "uptime_2025-06.json").read_bytes()


def test_write_errors(tmp_path):
    with pytest.raises(ValueError, match="fmt"):
        nx.write_records([], tmp_path / "x", "xml", kind="uptime")
    with pytest.raises(ValueError, match="pass kind"):
        nx.write_records([], tmp_path / "x", "csv")
    assert nx.write_records([], tmp_path / "e.json", "json", kind="outage").read_text() == "[\n]\n"
    assert nx.read_records(tmp_path / "e.json", "json", "outage") == []
    recs = all_records()["outage"]
    recs[0]["extra"] = 1
    with pytest.raises(ValueError, match="fields differ"):
        nx.write_records(recs, tmp_path / "x.csv", "csv", kind="outage")


REFERENCE = real_data.EV_CHARGING_USE_SPEC  # kept in the repository


def test_shipped_schemas_are_the_reference_ones():
    for name in ("session.json", "uptime.json", "outage.json", "common.json", "LICENSE"):
        assert (nx.SCHEMA_DIR / name).read_bytes() == (REFERENCE / name).read_bytes(), name
