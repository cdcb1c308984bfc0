"""The bulk SQL repricing engine against the reference engine (evrevops.tariffs.pricing), session by session.

The reference engine reproduces the OCPI peer conformance suite; here the SQL engine must give the
same sub-totals as the reference on those CDRs and on generated tariffs and sessions (hypothesis),
with and without re-cutting at the tariff's boundaries.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evrevops.formats.json_records import canonical_json
from evrevops.tariffs import repricing
from evrevops.tariffs.charging_periods import periods_from_cdr, session_periods
from evrevops.tariffs.ocpi_tariff import parse_tariff
from evrevops.tariffs.pricing import price_session
from tests.helpers import real_data

CONFORMANCE = real_data.TANDEMDRIVE  # kept in the repository
EPS = Decimal("1e-6")

SESSION_COLS = {
    "session_id": pa.string(),
    "site_id": pa.string(),
    "tariff_id": pa.string(),
    "started_at": pa.timestamp("us"),
    "ended_at": pa.timestamp("us"),
    "charging_ended_at": pa.timestamp("us"),
    "energy_kwh": pa.float64(),
    "charging_s": pa.float64(),
    "idle_s": pa.float64(),
    "charging_periods": pa.string(),
    "total_cost_minor": pa.int64(),
    "currency": pa.string(),
}


def _con(sessions: list[dict], tariffs: dict[str, dict], zone: str = "UTC") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.sql("SET TimeZone = 'UTC'")
    con.register(
        "sessions_in",
        pa.table({k: [s.get(k) for s in sessions] for k in SESSION_COLS}, schema=pa.schema(list(SESSION_COLS.items()))),
    )
    con.sql("CREATE TABLE sessions AS SELECT * FROM sessions_in")
    con.sql(f"CREATE TABLE sites AS SELECT DISTINCT site_id, '{zone}' AS time_zone FROM sessions")
    con.register(
        "dt_in",
        pa.table({"tariff_id": list(tariffs), "tariff_json": [canonical_json(t) for t in tariffs.values()]}),
    )
    con.sql("CREATE TABLE driver_tariffs AS SELECT * FROM dt_in")
    return con


def _sql_prices(con, **kw) -> dict[str, dict]:
    sql = repricing.reprice_sql(con, **kw)
    rel = con.sql(sql)
    return {r[0]: dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()}


def _close(got: dict, ref) -> None:
    for col, line in (
        ("energy_excl", "energy"),
        ("time_excl", "time"),
        ("parking_excl", "parking"),
        ("fixed_excl", "fixed"),
    ):
        assert abs(Decimal(got[col]) - getattr(ref, line).excl_vat) < EPS, (col, got[col], getattr(ref, line))
    assert abs(Decimal(got["bounds_excl"]) - ref.price_bounds_adjustment.excl_vat) < EPS
    assert abs(Decimal(got["sub_excl"]) + Decimal(got["bounds_excl"]) - ref.total.excl_vat) < EPS
    sub_incl_ref = ref.total.incl_vat - ref.price_bounds_adjustment.incl_vat
    assert abs(Decimal(got["sub_incl"]) - sub_incl_ref) < EPS


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def test_conformance_cdrs_in_sql_match_the_reference():
    sessions, tariffs, refs = [], {}, {}
    for i, path in enumerate(sorted(CONFORMANCE.glob("*/cdr*.json"))):
        cdr = json.loads(path.read_text(), parse_float=Decimal)
        tariff = json.loads((path.parent / "tariff.json").read_text(), parse_float=Decimal)
        tid = f"t{i}"
        tariffs[tid] = tariff
        start, end = _instant(cdr["start_date_time"]), _instant(cdr["end_date_time"])
        sessions.append(
            {
                "session_id": f"s{i}",
                "site_id": "X",
                "tariff_id": tid,
                "started_at": start,
                "ended_at": end,
                "energy_kwh": float(cdr["total_energy"]),
                "charging_s": 0.0,
                "idle_s": 0.0,
                "charging_periods": canonical_json(cdr["charging_periods"]),
                "currency": cdr["currency"],
            }  # fmt: skip
        )
        refs[f"s{i}"] = price_session(
            parse_tariff(tariff), periods_from_cdr(cdr["charging_periods"]), session_start=start
        )
    got = _sql_prices(_con(sessions, tariffs))
    assert set(got) == set(refs)
    for sid, ref in refs.items():
        _close(got[sid], ref)


# ---- generated tariffs and sessions ------------------------------------------------------------

HHMM = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
PRICE = st.decimals(min_value=0, max_value=5, places=2)
DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]


@st.composite
def tariffs(draw, kwh_restrictions: bool = True):
    elements = []
    for _ in range(draw(st.integers(1, 5))):
        comps = [
            {"type": t, "price": draw(PRICE), "step_size": draw(st.sampled_from([0, 1, 60, 300, 500, 900]))}
            | ({"vat": draw(st.sampled_from([Decimal(10), Decimal(20)]))} if draw(st.booleans()) else {})
            for t in draw(
                st.lists(
                    st.sampled_from(["ENERGY", "TIME", "PARKING_TIME", "FLAT"]), min_size=1, max_size=3, unique=True
                )
            )
        ]
        r = {}
        if draw(st.booleans()):
            r["start_time"], r["end_time"] = draw(HHMM), draw(HHMM)
        if draw(st.integers(0, 3)) == 0:
            r["day_of_week"] = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=4, unique=True))
        if draw(st.integers(0, 3)) == 0:
            r["min_duration"] = draw(st.integers(0, 7200))
        if draw(st.integers(0, 3)) == 0:
            r["max_duration"] = draw(st.integers(600, 14400))
        if kwh_restrictions and draw(st.integers(0, 3)) == 0:
            r["min_kwh"] = draw(st.decimals(min_value=0, max_value=30, places=1))
        if draw(st.integers(0, 4)) == 0:
            r["max_power"] = draw(st.decimals(min_value=5, max_value=150, places=0))
        elements.append({"price_components": comps} | ({"restrictions": r} if r else {}))
    t = {"id": "T", "currency": "EUR", "elements": elements}
    if draw(st.integers(0, 3)) == 0:
        t["min_price"] = {"excl_vat": draw(PRICE)}
    if draw(st.integers(0, 4)) == 0:
        t["max_price"] = {"excl_vat": draw(st.decimals(min_value=5, max_value=50, places=2))}
    return t


def _hours(minutes: int) -> Decimal:
    """Hours as a CDR states them: 4 decimals (0.0834 for 5 minutes)."""
    return (Decimal(minutes) / 60).quantize(Decimal("0.0001"))


@st.composite
def cdr_sessions(draw):
    start = dt.datetime(2025, 6, 2) + dt.timedelta(minutes=draw(st.integers(0, 7 * 24 * 60)))
    t, periods = start, []
    for _ in range(draw(st.integers(1, 4))):
        minutes = draw(st.integers(1, 180))
        if draw(st.booleans()):
            dims = [{"type": "ENERGY", "volume": draw(st.decimals(min_value=0, max_value=40, places=3))},
                    {"type": "TIME", "volume": _hours(minutes)}]  # fmt: skip
        else:
            dims = [{"type": "PARKING_TIME", "volume": _hours(minutes)}]
        periods.append({"start_date_time": t.isoformat() + "Z", "dimensions": dims})
        t += dt.timedelta(minutes=minutes)
    return start, t, periods


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tariffs(), st.lists(cdr_sessions(), min_size=1, max_size=4))
def test_generated_cdrs_match_the_reference(tariff, cdrs):
    parsed = parse_tariff(tariff)
    sessions, refs = [], {}
    for i, (start, end, periods) in enumerate(cdrs):
        sessions.append(
            {
                "session_id": f"s{i}",
                "site_id": "X",
                "tariff_id": "T",
                "started_at": start,
                "ended_at": end,
                "energy_kwh": 0.0,
                "charging_s": 0.0,
                "idle_s": 0.0,
                "charging_periods": canonical_json(periods),
                "currency": "EUR",
            }  # fmt: skip
        )
        refs[f"s{i}"] = price_session(parsed, periods_from_cdr(periods), "Europe/Berlin", session_start=start)
    got = _sql_prices(_con(sessions, {"T": tariff}, "Europe/Berlin"))
    for sid, ref in refs.items():
        _close(got[sid], ref)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tariffs(kwh_restrictions=False),
    st.integers(0, 6 * 24 * 60),
    st.integers(5, 600),
    st.integers(0, 300),
    st.decimals(min_value=1, max_value=80, places=2),
)
def test_recut_sessions_match_the_reference(tariff, start_min, charging_min, idle_min, kwh):
    """A session without charging periods, cut at the tariff's boundaries, as the reference cuts it."""
    start = dt.datetime(2025, 7, 7) + dt.timedelta(minutes=start_min)
    charge_end = start + dt.timedelta(minutes=charging_min)
    end = charge_end + dt.timedelta(minutes=idle_min)
    parsed = parse_tariff(tariff)
    ref = price_session(
        parsed,
        session_periods(start, end, kwh, parsed, "America/Chicago", charging_ended_at=charge_end),
        "America/Chicago",
        session_start=start,
    )
    session = {"session_id": "s", "site_id": "X", "tariff_id": "T", "started_at": start, "ended_at": end,
               "charging_ended_at": charge_end, "energy_kwh": float(kwh), "charging_s": charging_min * 60.0,
               "idle_s": idle_min * 60.0, "currency": "EUR"}  # fmt: skip
    got = _sql_prices(_con([session], {"T": tariff}, "America/Chicago"), recut=True)
    _close(got["s"], ref)
