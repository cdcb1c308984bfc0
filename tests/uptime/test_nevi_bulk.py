"""The bulk NEVI session path (nevi_bulk, nevi_check, nevi_write) against the per-record one it replaces in the export.

Every test compares the bulk result with what the per-record code gives on the same input: the
same values, the same bytes, the same first error.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from evrevops.uptime import nevi_bulk, nevi_check, nevi_write
from evrevops.uptime import nevi_export as nx
from tests.uptime.test_nevi_export import JPY_ROW, KEY, USD_ROWS, T, session, sessions_table

# rows whose float figures sit on a rounding tie, or that the SQL leaves to the per-record code
TIES = [
    # 0.5005 s is 500.5 ms exactly: half up is 501 ms (floats give 500); $0.01 / 1.6 kWh = 0.00625 per kWh
    session("TIE*1", started_at=T(2025, 6, 1, 8), ended_at=T(2025, 6, 1, 9), energy_kwh=1.6, plugged_in_s=0.5005,
            charging_s=600.0, idle_s=0.0, currency="USD", total_cost_minor=1, energy_cost_minor=1),
    # 0.3 s of charging without an end: the end is started_at + 0.3 s; 7 cents over 0.005 min
    session("TIE*2", started_at=T(2025, 6, 1, 8), ended_at=T(2025, 6, 1, 9), energy_kwh=0.0, plugged_in_s=3600.0,
            charging_s=0.3, idle_s=0.0, currency="usd", time_cost_minor=7, stop_reason="PowerLoss",
            token_uid=" ab12 "),
    # a pre-1970 instant and a negative fee (which validation then refuses)
    session("ODD*3", started_at=T(1969, 12, 31, 23), ended_at=T(1970, 1, 1, 1), energy_kwh=5.5, plugged_in_s=7200.0,
            charging_s=3600.0, idle_s=0.0, currency="USD", total_cost_minor=-5, fixed_cost_minor=-5),
]  # fmt: skip


def _texts(records: list[dict]) -> list[dict]:
    return [{k: format(v, "f") if isinstance(v, Decimal) else v for k, v in r.items()} for r in records]


@pytest.mark.parametrize("rows", [USD_ROWS, TIES, USD_ROWS + TIES, []])
def test_session_table_is_session_records(rows):
    table = nevi_bulk.session_table(sessions_table(rows), user_id_key=KEY)
    assert table.schema == nevi_bulk.schema("session")
    assert table.to_pylist() == _texts(nx.session_records(sessions_table(rows), user_id_key=KEY))
    assert nevi_write.table_records(table, "session") == nx.session_records(sessions_table(rows), user_id_key=KEY)


def test_session_table_ties_are_exact():
    rows = nevi_bulk.session_table(sessions_table(TIES)).to_pylist()
    assert rows[0]["energy_fee"] == "0.0063" and rows[0]["session_duration"] == "PT0.501S"
    assert rows[1]["charge_end_datetime"] == "2025-06-01T08:00:00.3Z"


def test_session_table_raises_the_first_error_of_session_records():
    rows = [*USD_ROWS, JPY_ROW]
    with pytest.raises(ValueError) as bulk:
        nevi_bulk.session_table(sessions_table(rows))
    with pytest.raises(ValueError) as ref:
        nx.session_records(sessions_table(rows))
    assert str(bulk.value) == str(ref.value) and "JPY" in str(bulk.value)


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize("rows", [USD_ROWS, TIES, []])
def test_write_table_writes_the_bytes_of_write_records(tmp_path, fmt, rows):
    table = nevi_bulk.session_table(sessions_table(rows), user_id_key=KEY)
    bulk = nevi_write.write_table(table, tmp_path / f"bulk.{fmt}", fmt, "session")
    ref = nx.write_records(
        nx.session_records(sessions_table(rows), user_id_key=KEY), tmp_path / f"r.{fmt}", fmt, kind="session"
    )
    assert bulk.read_bytes() == ref.read_bytes()


def test_write_table_hands_special_characters_to_write_records(tmp_path):
    table = nevi_bulk.session_table(sessions_table(USD_ROWS), user_id_key=KEY)
    odd = table.set_column(0, "session_id", [['a"b', "c\nd\\", "e,f"][: table.num_rows]])
    for fmt in ("csv", "json"):
        bulk = nevi_write.write_table(odd, tmp_path / f"b.{fmt}", fmt, "session")
        ref = nx.write_records(nevi_write.table_records(odd, "session"), tmp_path / f"r.{fmt}", fmt, kind="session")
        assert bulk.read_bytes() == ref.read_bytes()


def _check(table, strict=False):
    nevi_check.validate_table(
        table,
        "session",
        lambda recs, kind: nx.validate(recs, kind, strict=strict),
        schema_dir=nx.SCHEMA_DIR,
        strict=strict,
    )


BROKEN = [
    ("payment_type", "visa", "is not one of"),
    ("energy_kwh", -1.0, "less than the minimum"),
    ("total_fee_charged", "-0.01", "less than the minimum"),
    ("end_soc", 80.0, "greater than the maximum"),
    ("plug_start_datetime", "2025-06-10T15:00:00", "is not a 'date-time'"),
    ("plug_end_datetime", "2025-02-30T00:00:00Z", "is not a 'date-time'"),
    ("charge_end_datetime", "2025-06-10T15:00:00+24:00", "is not a 'date-time'"),
    ("session_duration", "90 minutes", "does not match"),
    ("charging_duration", "PT1H30", "does not match"),
    ("session_id", None, "is not of type 'string'"),
]


@pytest.mark.parametrize(("field", "value", "message"), BROKEN)
def test_validate_table_reports_a_bad_record_as_validate_does(field, value, message):
    table = nevi_bulk.session_table(sessions_table(USD_ROWS + USD_ROWS), user_id_key=KEY)
    _check(table)  # the good ones pass
    column = table.column(field).to_pylist()
    column[3] = value
    bad = table.set_column(table.schema.get_field_index(field), table.schema.field(field), [column])
    with pytest.raises(nx.RecordError, match=f"session record 3: field '{field}': .*{message}") as bulk:
        _check(bad)
    with pytest.raises(nx.RecordError) as ref:
        nx.validate(nevi_write.table_records(bad, "session"), "session")
    assert str(bulk.value) == str(ref.value)


def test_validate_table_accepts_what_validate_accepts():
    table = nevi_bulk.session_table(sessions_table(USD_ROWS), user_id_key=KEY)
    column = table.column("plug_start_datetime").to_pylist()
    column[0] = "2025-06-10T15:00:60.5+05:30"  # a leap second with an offset: a date-time
    ok = table.set_column(2, "plug_start_datetime", [column])
    _check(ok)
    nx.validate(nevi_write.table_records(ok, "session"), "session")


def test_validate_table_strict_refuses_nulls():
    table = nevi_bulk.session_table(sessions_table(USD_ROWS), user_id_key=KEY)
    with pytest.raises(nx.RecordError) as e:
        _check(table, strict=True)
    assert (e.value.index, e.value.field) == (0, "start_soc")


# floats whose text differs between writers that do not both print the shortest round-trip form
FLOAT_TEXTS = [0.0, 100.0, 0.1, 1e-05, 1e-4, 2.5e-7, 0.30000000000000004, 123456789.123, 99999999999999.98,
               1e15, 1e16, 1.2345678901234568e17, 1e21, 1e22, 5e-324, 1.7976931348623157e308]  # fmt: skip


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_write_table_prints_every_float_as_write_records_does(tmp_path, fmt):
    import pyarrow as pa

    table = nevi_bulk.session_table(sessions_table(USD_ROWS), user_id_key=KEY)
    i = table.schema.get_field_index("energy_kwh")
    for n, value in enumerate(FLOAT_TEXTS):
        t = table.set_column(i, "energy_kwh", pa.array([value] * table.num_rows, type=table.schema.field(i).type))
        bulk = nevi_write.write_table(t, tmp_path / f"b{n}.{fmt}", fmt, "session")
        ref = nx.write_records(nevi_write.table_records(t, "session"), tmp_path / f"r{n}.{fmt}", fmt, kind="session")
        assert bulk.read_bytes() == ref.read_bytes(), value
