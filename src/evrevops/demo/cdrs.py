"""OCPI 2.2.1 CDR files (``cdrs/cdrs-YYYY-MM.ndjson``), written in bulk.

Rows are laid out in order in Arrow (strings looked up with ``take``), and
DuckDB renders each line with ``to_json`` without sorting or joining, so the
output is in a fixed order and byte-identical for the same seed. Decimal
amounts are computed in integers (cents, Wh, 9-s quanta) and rendered as
``int / 10^k`` doubles: DuckDB prints the shortest text that round-trips,
which for these values is the exact decimal (``12.34``, ``0.5025``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from evrevops.demo import params as P
from evrevops.demo.network import Network
from evrevops.demo.pricing import QUANTUM_S, TARIFFS, Priced
from evrevops.demo.sessions import Sessions

TS = "'%Y-%m-%dT%H:%M:%SZ'"


def iso(col: str) -> str:
    """SQL: ISO-8601 UTC text of an epoch-seconds column."""
    return f"strftime(make_timestamp(({col}) * 1000000), {TS})"


def write_lines(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> int:
    """Write the single text column of *sql* (each value ends with a newline) to *path*; returns bytes."""
    size = 0
    reader = con.sql(sql).to_arrow_reader(100_000)
    with open(path, "wb") as f:
        for batch in reader:
            a = batch.column(0)
            if len(a) == 0:
                continue
            large = pa.types.is_large_string(a.type)
            offs = np.frombuffer(a.buffers()[1], dtype=np.int64 if large else np.int32)[
                a.offset : a.offset + len(a) + 1
            ]
            lo, hi = int(offs[0]), int(offs[-1])
            f.write(memoryview(a.buffers()[2])[lo:hi])
            size += hi - lo
    return size


def write_monthly_ndjson(
    con: duckdb.DuckDBPyConnection, out_dir: Path, kind: str, line_sql: str, table: str, month_names: list[str],
    progress,
) -> dict[str, int]:  # fmt: skip
    """Write ``<kind>/<kind>-<month>.ndjson`` under *out_dir*, one file per month: the lines *line_sql* makes of the
    rows of *table* in that month (column ``month``, an index into *month_names*), then unregister *table*;
    ``progress(kind, done, total)`` after each file when given. The files' relative paths and sizes [bytes]."""
    files: dict[str, int] = {}
    (out_dir / kind).mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(month_names):
        path = out_dir / kind / f"{kind}-{name}.ndjson"
        files[f"{kind}/{path.name}"] = write_lines(con, f"SELECT {line_sql} FROM {table} WHERE month = {k}", path)
        if progress:
            progress(kind, k + 1, len(month_names))
    con.unregister(table)
    return files


def month_of(wall: np.ndarray) -> np.ndarray:
    """Calendar month number (year*12 + month-1) of wall-clock epoch seconds."""
    m = (wall // 86400).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return m + 1970 * 12


def location_json(con: duckdb.DuckDBPyConnection, net: Network) -> pa.Array:
    """CdrLocation JSON text per port (index = port index), then per port of the commissioning bay at the
    bay (index = number of ports + its place in ``net.bay["port_idx"]``)."""
    s = net.sites.set_index("site_id")
    p = net.ports
    df = pd.DataFrame(
        {
            "id": p.site_id,
            "name": p.site_id.map(s.site_name),
            "address": p.site_id.map(s.address),
            "city": p.site_id.map(s.city),
            "postal_code": p.site_id.map(s.postal_code),
            "state": p.site_id.map(s.state),
            "lat": p.site_id.map(s.latitude).map(lambda v: f"{v:.6f}"),
            "lon": p.site_id.map(s.longitude).map(lambda v: f"{v:.6f}"),
            "evse_uid": p.port_id,
            "evse_id": p.evse_id,
            "connector_id": p.connector_id.astype(str),
            "standard": p.connector_standard,
            "power_type": p.power_type,
        }
    )
    if net.bay:
        b = net.bay["site"]
        bay = df.iloc[net.bay["port_idx"]].copy()
        for k in ("address", "city", "postal_code", "state"):
            bay[k] = b[k]
        bay["id"], bay["name"] = b["site_id"], b["site_name"]
        bay["lat"], bay["lon"] = f"{b['latitude']:.6f}", f"{b['longitude']:.6f}"
        df = pd.concat([df, bay], ignore_index=True)
    df.insert(0, "i", np.arange(len(df)))
    con.register("ports_df", df)
    out = con.sql(
        """SELECT to_json({'id': id, 'name': name, 'address': address, 'city': city, 'postal_code': postal_code,
                'state': state, 'country': 'USA', 'coordinates': {'latitude': lat, 'longitude': lon},
                'evse_uid': evse_uid, 'evse_id': evse_id, 'connector_id': connector_id,
                'connector_standard': standard, 'connector_format': 'CABLE', 'connector_power_type': power_type})
           FROM ports_df ORDER BY i"""
    ).to_arrow_table()
    con.unregister("ports_df")
    return out.column(0).combine_chunks()


def token_json(con: duckdb.DuckDBPyConnection, tokens: pd.DataFrame) -> pa.Array:
    df = tokens.assign(i=np.arange(len(tokens)))
    con.register("tok_df", df)
    out = con.sql(
        """SELECT to_json({'country_code': 'US', 'party_id': party_id, 'uid': uid, 'type': type,
                           'contract_id': contract_id}) FROM tok_df ORDER BY i"""
    ).to_arrow_table()
    con.unregister("tok_df")
    return out.column(0).combine_chunks()


def periods_array(con: duckdb.DuckDBPyConnection, pr: Priced, tariff: np.ndarray, n_sessions: int) -> pa.Array:
    """``charging_periods`` as an Arrow list of structs, one list per session."""
    per = pa.table(
        {
            "start": pr.p_start,
            "charging": pr.p_charging,
            "q": pr.p_q,
            "wh": pr.p_wh,
            "t": tariff[pr.p_sess],
        }
    )
    con.register("per", per)
    ids = "[" + ", ".join(f"'{t.id}'" for t in TARIFFS) + "]"
    st = con.sql(
        f"""SELECT {{'start_date_time': {iso("start")},
                    'dimensions': CASE WHEN charging
                        THEN [{{'type': 'ENERGY', 'volume': wh / 1000}}, {{'type': 'TIME', 'volume': q / 400}}]
                        ELSE [{{'type': 'PARKING_TIME', 'volume': q / 400}}] END,
                    'tariff_id': CASE WHEN t >= 0 THEN {ids}[t + 1] END}} AS p
            FROM per"""
    ).to_arrow_table()
    con.unregister("per")
    structs = st.column(0).combine_chunks()
    counts = np.bincount(pr.p_sess, minlength=n_sessions)
    offsets = np.zeros(n_sessions + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), structs)


def write_cdrs(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    net: Network,
    ses: Sessions,
    pr: Priced,
    tariff: np.ndarray,
    month: np.ndarray,
    month_names: list[str],
    progress,
    tariff_updated: str,
    at_bay: np.ndarray | None = None,
) -> dict[str, int]:
    """Write one NDJSON file per local month of the session start; returns {file: bytes}.

    *at_bay* (bool per session): the session is at the commissioning bay (``net.bay``), whose
    location its CDR names.
    """
    n = len(ses.start)
    where = ses.port.copy()
    if net.bay and at_bay is not None and at_bay.any():
        slot = np.full(len(net.ports), -1, dtype=np.int64)
        slot[net.bay["port_idx"]] = len(net.ports) + np.arange(len(net.bay["port_idx"]))
        where[at_bay] = slot[ses.port[at_bay]]
        assert (where >= 0).all()
    loc = location_json(con, net).take(pa.array(where))
    tok = token_json(con, ses.tokens).take(pa.array(ses.token))
    auth = pa.array(ses.tokens.auth_method.to_numpy(dtype=object)).take(pa.array(ses.token))
    upd = tariff_updated
    tjson = pa.array(
        ["[]"]
        + [
            f'[{{"country_code":"US","party_id":"{P.PARTY}","id":"{t.id}","currency":"{P.CURRENCY}","last_updated":"{upd}"}}]'
            for t in TARIFFS
        ]
    ).take(pa.array(tariff + 1))
    periods = periods_array(con, pr, tariff, n)
    park_q = np.zeros(n, dtype=np.int64)
    np.add.at(park_q, pr.p_sess[~pr.p_charging], pr.p_q[~pr.p_charging])
    total_c = pr.energy_c + pr.time_c + pr.parking_c + pr.flat_c
    remark = np.where(ses.failed, 1, np.where(np.isin(ses.stop, [3, 4]), 2, 0))
    tab = pa.table(
        {
            "seq": np.arange(1, n + 1),
            "start": ses.start,
            "end": ses.start + ses.total_s,
            "loc": loc,
            "tok": tok,
            "auth": auth,
            "tariffs": tjson,
            "periods": periods,
            "total_c": total_c,
            "energy_c": pr.energy_c,
            "time_c": pr.time_c,
            "parking_c": pr.parking_c,
            "flat_c": pr.flat_c,
            "wh": ses.wh,
            "q_total": ses.total_s // QUANTUM_S,
            "q_park": park_q,
            "remark": remark,
            "month": month,
        }
    )
    con.register("cdr", tab)
    con.execute("CREATE OR REPLACE TEMP MACRO chop(x) AS left(x, length(x) - 1)")
    price = "{{'excl_vat': {c} / 100, 'incl_vat': {c} / 100}}"
    line = f"""to_json({{
        'country_code': 'US', 'party_id': '{P.PARTY}', 'id': 'CDR-' || lpad(seq::VARCHAR, 10, '0'),
        'start_date_time': {iso("start")}, 'end_date_time': {iso('"end"')},
        'session_id': 'SES-' || lpad(seq::VARCHAR, 10, '0'),
        'cdr_token': tok::JSON, 'auth_method': auth, 'cdr_location': loc::JSON,
        'currency': '{P.CURRENCY}', 'tariffs': tariffs::JSON, 'charging_periods': periods,
        'total_cost': {price.format(c="total_c")},
        'total_fixed_cost': {price.format(c="flat_c")},
        'total_energy': wh / 1000,
        'total_energy_cost': {price.format(c="energy_c")},
        'total_time': q_total / 400,
        'total_time_cost': {price.format(c="time_c")},
        'total_parking_time': q_park / 400,
        'total_parking_cost': {price.format(c="parking_c")},
        'last_updated': {iso('"end" + 300')}}})"""
    rem1 = "Failed attempt: EVCommunicationError, no energy delivered"
    rem2 = "Session stopped by the EVSE (fault or power loss)"
    sql_line = f"""CASE remark
        WHEN 0 THEN {line}
        WHEN 1 THEN chop(replace({line}, ',"tariff_id":null', '')) || ',"remark":"{rem1}"}}'
        ELSE chop({line}) || ',"remark":"{rem2}"}}' END || chr(10)"""
    return write_monthly_ndjson(con, out_dir, "cdrs", sql_line, "cdr", month_names, progress)
