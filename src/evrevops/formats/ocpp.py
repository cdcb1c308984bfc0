"""OCPP 1.6J and 2.0.1 message logs (``ocpp-log``).

A log holds one JSON object a line::

    {"timestamp": "2025-03-09T07:30:00Z", "charge_point_id": "CP1",
     "message": [2, "uid-1", "StatusNotification", {...}]}

``message`` is an OCPP-J frame (the RPC framework of OCPP-J 1.6 and OCPP 2.0.1 Part 4): a CALL
``[2, UniqueId, Action, Payload]``, a CALLRESULT ``[3, UniqueId, Payload]`` or a
CALLERROR ``[4, UniqueId, ErrorCode, ErrorDescription, ErrorDetails]``. Results
and errors are matched to their CALL by charger and UniqueId (the CALL nearest in
time when a charger reuses ids: OCPP-J only requires them unique per WebSocket
connection, so they may restart after a reconnect). An optional
``"protocol"`` (``ocpp1.6`` / ``ocpp2.0.1``) states the version; otherwise it is
inferred from the action and payload.

What becomes what (``docs/formats.md``, "OCPP message logs", says it in full):

* StatusNotification → ``status_events`` (1.6 ``connectorId``; 2.0.1 ``evseId``,
  because an evrevops port is a 2.0.1 EVSE). Connector 0 rows are kept: they
  describe the whole charger (handbook §4 counts Faulted/Unavailable as outage).
* MeterValues, TransactionEvent ``meterValue`` and StopTransaction
  ``transactionData`` → ``meter_readings``, one row per sampled value; the value
  is parsed to a number (a 2.0.1 ``unitOfMeasure.multiplier`` applied), the unit
  kept as given (default ``Wh``), the measurand defaulted to
  ``Energy.Active.Import.Register`` and the context to ``Sample.Periodic``.
* StartTransaction + its CALLRESULT's ``transactionId`` + StopTransaction (1.6),
  or the TransactionEvents of one ``transactionId`` (2.0.1) → one
  ``ocpp_transactions`` row.
* Heartbeat → ``heartbeats``; BootNotification → an implied ``chargers`` row.

Every line is quarantined, produces rows (``source_record`` = its line number),
is *absorbed* into the line whose rows hold its content (a CALLRESULT into its
CALL, a StopTransaction into its StartTransaction, a repeated message into its
first occurrence), or stores nothing (Authorize, DataTransfer, any other
well-formed action). The whole file is parsed in DuckDB SQL; no Python loop
runs per line.
"""

from __future__ import annotations

import codecs
import gzip
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa

from evrevops.formats.base import STATUS_EVENT_SCHEMA, Batch, FormatError, quarantine_table
from evrevops.formats.records import connect

P16 = "ocpp1.6"
P201 = "ocpp2.0.1"
MAX_LINE_BYTES = 1 << 24  # a longer line makes the file unreadable (FormatError)
DEFAULT_MEASURAND = "Energy.Active.Import.Register"

TS = pa.timestamp("us")
SCHEMAS: dict[str, pa.Schema] = {
    # port_id is left empty: the loader fills it from the ports table (charger + connector)
    "status_events": STATUS_EVENT_SCHEMA.remove(STATUS_EVENT_SCHEMA.get_field_index("port_id")),
    "meter_readings": pa.schema(
        [
            ("charger_id", pa.string()),
            ("connector_id", pa.int32()),
            ("transaction_id", pa.string()),
            ("observed_at", TS),
            ("measurand", pa.string()),
            ("phase", pa.string()),
            ("value", pa.float64()),
            ("unit", pa.string()),
            ("context", pa.string()),
            ("source_record", pa.int64()),
        ]
    ),
    "heartbeats": pa.schema(
        [("charger_id", pa.string()), ("observed_at", TS), ("message", pa.string()), ("source_record", pa.int64())]
    ),
    "ocpp_transactions": pa.schema(
        [
            ("charger_id", pa.string()),
            ("transaction_id", pa.string()),
            ("connector_id", pa.int32()),
            ("id_tag", pa.string()),
            ("started_at", TS),
            ("ended_at", TS),
            ("meter_start_wh", pa.float64()),
            ("meter_stop_wh", pa.float64()),
            ("stop_reason", pa.string()),
            ("protocol", pa.string()),
            ("source_record", pa.int64()),
        ]
    ),
    "chargers": pa.schema(
        [
            ("charger_id", pa.string()),
            ("vendor", pa.string()),
            ("model", pa.string()),
            ("serial_number", pa.string()),
            ("firmware_version", pa.string()),
            ("ocpp_version", pa.string()),
            ("source_record", pa.int64()),
        ]
    ),
}
ABSORBED_SCHEMA = pa.schema([("source_record", pa.int64()), ("owner_record", pa.int64())])

# Table keys (warehouse.schema.TABLES); each key is emitted once per file.
_KEYS = {
    "status_events": "charger_id, connector_id, observed_at, status, error_code",
    "meter_readings": "charger_id, connector_id, observed_at, measurand, phase",
    "heartbeats": "charger_id, observed_at",
    "ocpp_transactions": "charger_id, transaction_id",
}

_MACROS = [
    # A finite number from text ("1234.5", " 2 "); NaN/inf and anything else -> NULL.
    """CREATE OR REPLACE MACRO to_dbl(x) AS
        CASE WHEN isfinite(TRY_CAST(trim(x) AS DOUBLE)) THEN TRY_CAST(trim(x) AS DOUBLE) END""",
    # An integral number from text ("1", "1.0"); "1.5" -> NULL (no rounding).
    """CREATE OR REPLACE MACRO to_int(x) AS
        CASE WHEN to_dbl(x) = floor(to_dbl(x)) THEN TRY_CAST(to_dbl(x) AS INTEGER) END""",
    # ISO-8601 date-time (Z, offset or none = UTC; any fraction) -> UTC naive TIMESTAMP.
    r"""CREATE OR REPLACE MACRO ocpp_ts(x) AS
        CASE WHEN regexp_matches(x, '^\s*\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}') THEN utc_ts(trim(x)) END""",
    r"""CREATE OR REPLACE MACRO norm_proto(x) AS
        CASE WHEN x IS NULL THEN NULL
             WHEN regexp_full_match(lower(regexp_replace(x, '[\s_-]', '', 'g')), '(ocpp)?1\.6j?') THEN 'ocpp1.6'
             WHEN regexp_full_match(lower(regexp_replace(x, '[\s_-]', '', 'g')), '(ocpp)?2\.0\.1j?') THEN 'ocpp2.0.1'
             ELSE '?' END""",
    # A value quoted for a reason text.
    """CREATE OR REPLACE MACRO qv(x) AS '''' || left(x, 80) || ''''""",
    """CREATE OR REPLACE MACRO iso_utc(t) AS
        strftime(t, '%Y-%m-%dT%H:%M:%S') || CASE WHEN microsecond(t) % 1000000 <> 0
            THEN rtrim(strftime(t, '.%f'), '0') ELSE '' END || 'Z'""",
]

# (column, JSON path into the frame) extracted in one parse of every frame.
_FIELDS = [
    ("mt_txt", "$[0]"),
    ("uid_txt", "$[1]"),
    ("a2", "$[2]"),
    ("connector_id", "$[3].connectorId"),
    ("status", "$[3].status"),
    ("error_code", "$[3].errorCode"),
    ("info", "$[3].info"),
    ("vendor_error_code", "$[3].vendorErrorCode"),
    ("p_ts", "$[3].timestamp"),
    ("connector_status", "$[3].connectorStatus"),
    ("evse_id", "$[3].evseId"),
    ("transaction_id", "$[3].transactionId"),
    ("meter_value", "$[3].meterValue"),
    ("id_tag", "$[3].idTag"),
    ("meter_start", "$[3].meterStart"),
    ("meter_stop", "$[3].meterStop"),
    ("reason", "$[3].reason"),
    ("transaction_data", "$[3].transactionData"),
    ("event_type", "$[3].eventType"),
    ("te_transaction_id", "$[3].transactionInfo.transactionId"),
    ("stopped_reason", "$[3].transactionInfo.stoppedReason"),
    ("evse", "$[3].evse.id"),
    ("id_token", "$[3].idToken.idToken"),
    ("cp_vendor", "$[3].chargePointVendor"),
    ("cp_model", "$[3].chargePointModel"),
    ("cp_serial", "$[3].chargePointSerialNumber"),
    ("cb_serial", "$[3].chargeBoxSerialNumber"),
    ("cp_firmware", "$[3].firmwareVersion"),
    ("cs_vendor", "$[3].chargingStation.vendorName"),
    ("cs_model", "$[3].chargingStation.model"),
    ("cs_serial", "$[3].chargingStation.serialNumber"),
    ("cs_firmware", "$[3].chargingStation.firmwareVersion"),
    ("result_transaction_id", "$[2].transactionId"),
]
_TYPES = [
    ("t1", "$[1]"),
    ("t2", "$[2]"),
    ("t3", "$[3]"),
    ("t_mv", "$[3].meterValue"),
    ("t_td", "$[3].transactionData"),
    ("t_cs", "$[3].chargingStation"),
]

# Line checks: (condition, field SQL, reason SQL); a line is quarantined when any holds.
# ``pl`` = a CALL whose action and payload object are present (payload checks apply).
_LINE_CHECKS: list[tuple[str, str, str]] = [
    ("NOT ok", "NULL", "'malformed JSON'"),
    ("ok AND NOT obj", "NULL", "'record is not a JSON object'"),
    ("obj AND cp IS NULL", "'charge_point_id'", "'missing charge_point_id'"),
    ("obj AND ts_txt IS NULL", "'timestamp'", "'missing timestamp'"),
    ("obj AND ts_txt IS NOT NULL AND rts IS NULL", "'timestamp'", "'unparseable timestamp: ' || qv(ts_txt)"),
    (
        "obj AND stated = '?'",
        "'protocol'",
        "'unsupported protocol ' || qv(proto_txt) || ' (expected ocpp1.6 or ocpp2.0.1)'",
    ),
    ("obj AND msg_type IS NULL", "'message'", "'missing message'"),
    (
        "obj AND msg_type IS NOT NULL AND msg IS NULL",
        "'message'",
        "'message is not an OCPP-J array: ' || qv(coalesce(msg_txt, 'null'))",
    ),
    (
        "msg IS NOT NULL AND mt IS NULL",
        "'message[0]'",
        "'unknown MessageTypeId ' || coalesce(qv(mt_txt), 'missing') || ' (expected 2 CALL, 3 CALLRESULT or 4 CALLERROR)'",
    ),
    ("mt IS NOT NULL AND uid IS NULL", "'message[1]'", "'missing UniqueId'"),
    (
        "mt = 2 AND n_items <> 4",
        "'message'",
        "'CALL must be [2, UniqueId, Action, Payload]; it has ' || n_items || ' elements'",
    ),
    ("mt = 2 AND action IS NULL", "'message[2]'", "'CALL without an Action name'"),
    ("mt = 2 AND n_items >= 4 AND t3 <> 'OBJECT'", "'message[3]'", "'CALL payload is not a JSON object'"),
    (
        "mt = 3 AND n_items <> 3",
        "'message'",
        "'CALLRESULT must be [3, UniqueId, Payload]; it has ' || n_items || ' elements'",
    ),
    (
        "mt = 4 AND n_items NOT BETWEEN 3 AND 5",
        "'message'",
        "'CALLERROR must be [4, UniqueId, ErrorCode, ErrorDescription, ErrorDetails]; it has ' || n_items || ' elements'",
    ),
    # ---- payloads ---------------------------------------------------------------------------
    (
        "pl AND action = 'StatusNotification' AND proto = 'ocpp1.6' AND status IS NULL",
        "'message[3].status'",
        "'StatusNotification without status'",
    ),
    (
        "pl AND action = 'StatusNotification' AND proto = 'ocpp2.0.1' AND connector_status IS NULL",
        "'message[3].connectorStatus'",
        "'StatusNotification without connectorStatus'",
    ),
    (
        "pl AND action IN ('StatusNotification', 'MeterValues', 'StartTransaction') AND proto = 'ocpp1.6'"
        " AND connector_id IS NULL",
        "'message[3].connectorId'",
        "action || ' without connectorId'",
    ),
    (
        "pl AND action IN ('StatusNotification', 'MeterValues', 'StartTransaction') AND proto = 'ocpp1.6'"
        " AND connector_id IS NOT NULL AND to_int(connector_id) IS NULL",
        "'message[3].connectorId'",
        "'connectorId is not an integer: ' || qv(connector_id)",
    ),
    (
        "pl AND action IN ('StatusNotification', 'MeterValues') AND proto = 'ocpp2.0.1' AND evse_id IS NULL",
        "'message[3].evseId'",
        "action || ' without evseId'",
    ),
    (
        "pl AND action IN ('StatusNotification', 'MeterValues') AND proto = 'ocpp2.0.1'"
        " AND evse_id IS NOT NULL AND to_int(evse_id) IS NULL",
        "'message[3].evseId'",
        "'evseId is not an integer: ' || qv(evse_id)",
    ),
    (
        "pl AND action IN ('StatusNotification', 'StartTransaction', 'StopTransaction', 'TransactionEvent')"
        " AND p_ts IS NOT NULL AND ocpp_ts(p_ts) IS NULL",
        "'message[3].timestamp'",
        "'unparseable timestamp: ' || qv(p_ts)",
    ),
    (
        "pl AND action = 'MeterValues' AND coalesce(t_mv, '') <> 'ARRAY'",
        "'message[3].meterValue'",
        "'MeterValues without a meterValue array'",
    ),
    (
        "pl AND action = 'StartTransaction' AND meter_start IS NOT NULL AND to_dbl(meter_start) IS NULL",
        "'message[3].meterStart'",
        "'meterStart is not a number: ' || qv(meter_start)",
    ),
    (
        "pl AND action = 'StopTransaction' AND transaction_id IS NULL",
        "'message[3].transactionId'",
        "'StopTransaction without transactionId'",
    ),
    (
        "pl AND action = 'StopTransaction' AND meter_stop IS NOT NULL AND to_dbl(meter_stop) IS NULL",
        "'message[3].meterStop'",
        "'meterStop is not a number: ' || qv(meter_stop)",
    ),
    (
        "pl AND action = 'StopTransaction' AND t_td NOT IN ('ARRAY', 'NULL')",
        "'message[3].transactionData'",
        "'transactionData is not an array'",
    ),
    (
        "pl AND action = 'TransactionEvent' AND coalesce(event_type, '') NOT IN ('Started', 'Updated', 'Ended')",
        "'message[3].eventType'",
        "CASE WHEN event_type IS NULL THEN 'TransactionEvent without eventType' ELSE 'unknown eventType '"
        " || qv(event_type) || ' (expected Started, Updated or Ended)' END",
    ),
    (
        "pl AND action = 'TransactionEvent' AND te_transaction_id IS NULL",
        "'message[3].transactionInfo.transactionId'",
        "'TransactionEvent without transactionInfo.transactionId'",
    ),
    (
        "pl AND action = 'TransactionEvent' AND evse IS NOT NULL AND to_int(evse) IS NULL",
        "'message[3].evse.id'",
        "'evse.id is not an integer: ' || qv(evse)",
    ),
    (
        "pl AND action = 'TransactionEvent' AND t_mv NOT IN ('ARRAY', 'NULL')",
        "'message[3].meterValue'",
        "'meterValue is not an array'",
    ),
]

_MV_CHECKS: list[tuple[str, str, str]] = [
    ("mv_type <> 'OBJECT'", "path", "'meterValue element is not a JSON object'"),
    (
        "mv_type = 'OBJECT' AND coalesce(sv_type, '') <> 'ARRAY'",
        "path || '.sampledValue'",
        "'missing sampledValue array'",
    ),
    (
        "mv_ts_txt IS NOT NULL AND ocpp_ts(mv_ts_txt) IS NULL",
        "path || '.timestamp'",
        "'unparseable timestamp: ' || qv(mv_ts_txt)",
    ),
]
_SAMPLE_CHECKS: list[tuple[str, str, str]] = [
    ("NOT signed AND value_txt IS NULL", "path || '.value'", "'missing value'"),
    (
        "NOT signed AND value_txt IS NOT NULL AND to_dbl(value_txt) IS NULL",
        "path || '.value'",
        "'not a number: ' || qv(value_txt)",
    ),
    (
        "NOT signed AND multiplier IS NOT NULL AND to_int(multiplier) IS NULL",
        "path || '.unitOfMeasure.multiplier'",
        "'not an integer: ' || qv(multiplier)",
    ),
]


def read_log(path: str | Path, mapping: str | None = None) -> Batch:
    """Read an OCPP 1.6J / 2.0.1 message log (one JSON object a line).

    Parameters
    ----------
    path : str or Path
        The log (``.gz`` is read compressed).
    mapping : None
        Unused (OCPP logs have no column mapping).

    Returns
    -------
    Batch
        ``status_events``, ``meter_readings``, ``heartbeats`` and
        ``ocpp_transactions`` rows; implied ``chargers`` from BootNotifications;
        ``absorbed`` lines (CALLRESULTs, StopTransactions, repeats) with the
        line that holds their content; quarantine rows naming line and field.

    Raises
    ------
    FormatError
        When the file cannot be read as lines of text at all (a line longer
        than 16 MiB, unreadable compression).
    """
    path = Path(path)
    con = connect()
    try:
        for m in _MACROS:
            con.execute(m)
        n, transcoded = _load_lines(con, path)
        _parse(con)
        _quarantine(con, transcoded)
        _match_results(con)
        _canonical(con)
        _rows(con)
        tables = {
            name: _fetch(con, f"SELECT * EXCLUDE (_ord) FROM out_{name} ORDER BY source_record, _ord", name)
            for name in _KEYS
        }
        absorbed = _absorbed(con)
        chargers = _fetch(con, "SELECT * FROM out_chargers ORDER BY charger_id", "chargers")
        qrows = con.execute(
            """SELECT q.rec, q.field, q.reason, r.j FROM q LEFT JOIN raw r USING (rec)
               ORDER BY q.rec, q.ord, q.field"""
        ).fetchall()
    finally:
        con.close()
    return Batch(
        format="ocpp-log",
        records_read=n,
        tables=tables,
        implied={"chargers": chargers},
        absorbed=absorbed,
        quarantine=quarantine_table(qrows),
    )


# ---------------------------------------------------------------------------------------------
# lines
# ---------------------------------------------------------------------------------------------


def _read_lines_sql(con: duckdb.DuckDBPyConnection, src: Path, gz: bool) -> None:
    p = str(src).replace("'", "''")
    comp = ", compression='gzip'" if gz else ""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE raw AS
            SELECT rec, CASE WHEN rec = 1 THEN ltrim(j, chr(65279)) ELSE j END AS j
            FROM (SELECT row_number() OVER () AS rec, line AS j
                  FROM read_csv('{p}', columns={{'line': 'VARCHAR'}}, delim='\\x01', quote='', escape='',
                                header=false, auto_detect=false, strict_mode=false, null_padding=false,
                                allow_quoted_nulls=false, new_line='\\r\\n', max_line_size={MAX_LINE_BYTES},
                                buffer_size={2 * MAX_LINE_BYTES}{comp}))
            WHERE j IS NOT NULL AND trim(j) <> ''"""
    )


def _load_lines(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[int, bool]:
    """Create ``raw(rec, j)`` (1-based line numbers, blank lines left out); return (lines, transcoded).

    ``new_line='\\r\\n'`` makes DuckDB take both ``\\n`` and ``\\r\\n`` as one line end, so
    a log with mixed line endings keeps true line numbers (with the default, each
    ``\\r`` after a ``\\n``-ended first line counts as a line of its own).

    Bytes that are not UTF-8 make DuckDB refuse the whole file; the file is then
    re-read through a decoder that replaces them (U+FFFD), in bulk, and the lines
    that had them are quarantined (``transcoded`` is True).
    """
    if not path.exists():
        raise FormatError(path, "no such file")
    gz = path.suffix == ".gz"
    try:
        _read_lines_sql(con, path, gz)
    except duckdb.Error as exc:
        msg = str(exc)
        if "unicode" not in msg.lower() and "utf-8" not in msg.lower():
            raise FormatError(path, f"cannot read the log as lines of text: {msg.splitlines()[0]}") from None
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "lines.txt"
            dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
            with gzip.open(path, "rb") if gz else open(path, "rb") as fin, open(out, "w", encoding="utf-8") as fout:
                while block := fin.read(1 << 22):
                    fout.write(dec.decode(block))
                fout.write(dec.decode(b"", final=True))
            _read_lines_sql(con, out, False)
        return con.execute("SELECT count(*) FROM raw").fetchall()[0][0], True
    return con.execute("SELECT count(*) FROM raw").fetchall()[0][0], False


# ---------------------------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------------------------


def _parse(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``m``: one row per line with envelope, frame and payload fields (text)."""
    paths = "[" + ", ".join(f"'{p}'" for _, p in _FIELDS) + "]"
    tpaths = "[" + ", ".join(f"'{p}'" for _, p in _TYPES) + "]"
    fields = ", ".join(f"p[{i + 1}] AS {name}" for i, (name, _) in enumerate(_FIELDS) if name not in ("a2",))
    types = ", ".join(f"t[{i + 1}] AS {name}" for i, (name, _) in enumerate(_TYPES))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE m AS
        WITH e AS (
            SELECT rec, ok, obj,
                   CASE WHEN obj THEN json_extract_string(j, ['$.timestamp', '$.charge_point_id',
                        '$.chargePointId', '$.protocol', '$.message']) END AS f,
                   CASE WHEN obj THEN json_type(j, '$.message') END AS msg_type
            FROM (SELECT rec, j, ok, CASE WHEN ok THEN json_type(j) = 'OBJECT' ELSE false END AS obj
                  FROM (SELECT rec, j, json_valid(j) AS ok FROM raw))
        ), e2 AS (
            SELECT rec, ok, obj, f[1] AS ts_txt,
                   coalesce(nullif(trim(f[2]), ''), nullif(trim(f[3]), '')) AS cp,
                   f[4] AS proto_txt, msg_type, f[5] AS msg_txt,
                   CASE WHEN msg_type = 'ARRAY' THEN f[5]
                        WHEN msg_type = 'VARCHAR' AND json_valid(f[5])
                        THEN CASE WHEN json_type(f[5]) = 'ARRAY' THEN json(f[5])::VARCHAR END END AS msg
            FROM e
        ), e3 AS (
            SELECT rec, ok, obj, ts_txt, ocpp_ts(ts_txt) AS rts, cp, proto_txt, norm_proto(proto_txt) AS stated,
                   msg_type, CASE WHEN msg IS NULL THEN msg_txt END AS msg_txt, msg, n_items, {fields}, {types},
                   CASE TRY_CAST(p[1] AS DOUBLE) WHEN 2 THEN 2 WHEN 3 THEN 3 WHEN 4 THEN 4 END AS mt,
                   CASE WHEN t[1] NOT IN ('ARRAY', 'OBJECT', 'NULL') AND trim(p[2]) <> '' THEN p[2] END AS uid,
                   CASE WHEN TRY_CAST(p[1] AS DOUBLE) = 2 AND t[2] = 'VARCHAR' AND trim(p[3]) <> '' THEN p[3] END
                       AS action
            FROM (SELECT *, json_extract_string(msg, {paths}) AS p, json_type(msg, {tpaths}) AS t,
                         json_array_length(msg) AS n_items
                  FROM e2)
        )
        SELECT *,
            mt = 2 AND action IS NOT NULL AND t3 = 'OBJECT' AS pl,
            CASE WHEN stated IS NOT NULL AND stated <> '?' THEN stated
                 WHEN action = 'TransactionEvent' THEN '{P201}'
                 WHEN action IN ('StartTransaction', 'StopTransaction') THEN '{P16}'
                 WHEN action = 'StatusNotification'
                     THEN CASE WHEN connector_status IS NOT NULL OR evse_id IS NOT NULL THEN '{P201}' ELSE '{P16}' END
                 WHEN action = 'MeterValues' THEN CASE WHEN evse_id IS NOT NULL THEN '{P201}' ELSE '{P16}' END
                 WHEN action = 'BootNotification'
                     THEN CASE WHEN t_cs IS NOT NULL AND t_cs <> 'NULL' THEN '{P201}' ELSE '{P16}' END
            END AS proto,
            -- the frame states its own time (else a repeat is only the same message at the same log time)
            mt = 2 AND (p_ts IS NOT NULL OR (action = 'MeterValues' AND contains(meter_value, '"timestamp"')))
                AS own_time
        FROM e3"""
    )
    # Meter values (MeterValues / TransactionEvent meterValue, StopTransaction transactionData), one row a sample.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE mvs AS
        SELECT rec, arr, mi, 'message[3].' || arr || '[' || mi || ']' AS path, mv_type,
               CASE WHEN mv_type = 'OBJECT' THEN json_extract_string(mv, '$.timestamp') END AS mv_ts_txt,
               CASE WHEN mv_type = 'OBJECT' THEN json_type(mv, '$.sampledValue') END AS sv_type, mv
        FROM (SELECT rec, arr, mi - 1 AS mi, mv, json_type(mv) AS mv_type
              FROM (SELECT rec, arr, unnest(l) AS mv, generate_subscripts(l, 1) AS mi
                    FROM (SELECT rec, 'meterValue' AS arr, json_extract(meter_value, '$[*]') AS l FROM m
                          WHERE pl AND action IN ('MeterValues', 'TransactionEvent') AND t_mv = 'ARRAY'
                          UNION ALL
                          SELECT rec, 'transactionData', json_extract(transaction_data, '$[*]') FROM m
                          WHERE pl AND action = 'StopTransaction' AND t_td = 'ARRAY')))"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE smp AS
        SELECT rec, arr, mi, si, path || '.sampledValue[' || si || ']' AS path, mv_ts_txt,
               f[1] AS value_txt, f[2] AS context, coalesce(f[3], '') = 'SignedData' AS signed, f[4] AS measurand,
               f[5] AS phase, coalesce(f[7], f[6]) AS unit, f[8] AS multiplier
        FROM (SELECT rec, arr, mi, si - 1 AS si, path, mv_ts_txt,
                     json_extract_string(sv, ['$.value', '$.context', '$.format', '$.measurand', '$.phase',
                                              '$.unit', '$.unitOfMeasure.unit', '$.unitOfMeasure.multiplier']) AS f
              FROM (SELECT rec, arr, mi, path, mv_ts_txt, unnest(l) AS sv, generate_subscripts(l, 1) AS si
                    FROM (SELECT *, json_extract(mv, '$.sampledValue[*]') AS l FROM mvs WHERE sv_type = 'ARRAY')))"""
    )


def _checks_sql(source: str, checks: list[tuple[str, str, str]], first_ord: int) -> str:
    items = ", ".join(
        f"CASE WHEN coalesce(({cond}), false) THEN {{'field': {fld}, 'reason': {reason}, 'ord': {first_ord + i}}} END"
        for i, (cond, fld, reason) in enumerate(checks)
    )
    return f"""SELECT rec, e.field AS field, e.reason AS reason, e.ord AS ord
               FROM (SELECT rec, unnest(list_filter([{items}], lambda x: x IS NOT NULL)) AS e FROM {source})"""


def _quarantine(con: duckdb.DuckDBPyConnection, transcoded: bool) -> None:
    """Table ``q(rec, field, reason, ord)`` of line, meter-value and sample problems."""
    parts = [
        _checks_sql("m", _LINE_CHECKS, 0),
        _checks_sql("mvs", _MV_CHECKS, 1000),
        _checks_sql("smp", _SAMPLE_CHECKS, 1000),
    ]
    if transcoded:
        parts.insert(
            0,
            f"""SELECT rec, NULL AS field, 'not valid UTF-8 (bytes replaced by U+FFFD)' AS reason, -1 AS ord
                FROM raw WHERE contains(j, '{chr(0xFFFD)}')""",
        )
    con.execute("CREATE OR REPLACE TEMP TABLE q AS " + " UNION ALL ".join(parts))


def _match_results(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``res(rec, mt, txid, call_rec, diff_us)``: each good CALLRESULT/CALLERROR and its CALL.

    The CALL is the one of the same charger and UniqueId nearest in time (before
    or after: a result may be logged before its CALL). Results with none are
    quarantined.
    """
    con.execute(
        """CREATE OR REPLACE TEMP TABLE calls AS
           SELECT cp, uid, rts, min(rec) AS rec FROM m
           WHERE mt = 2 AND cp IS NOT NULL AND uid IS NOT NULL AND rts IS NOT NULL GROUP BY ALL"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE res0 AS
           SELECT r.rec, r.mt, r.cp, r.uid, r.rts, r.result_transaction_id AS txid, b.rec AS b_rec,
                  epoch_us(r.rts) - epoch_us(b.rts) AS b_diff
           FROM (SELECT * FROM m WHERE mt IN (3, 4) AND rec NOT IN (SELECT rec FROM q)) r
           ASOF LEFT JOIN calls b ON r.cp = b.cp AND r.uid = b.uid AND r.rts >= b.rts"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE res AS
           SELECT r.rec, r.mt, r.txid,
                  CASE WHEN f.rec IS NULL OR (r.b_rec IS NOT NULL AND r.b_diff <= epoch_us(f.rts) - epoch_us(r.rts))
                       THEN r.b_rec ELSE f.rec END AS call_rec,
                  CASE WHEN f.rec IS NULL OR (r.b_rec IS NOT NULL AND r.b_diff <= epoch_us(f.rts) - epoch_us(r.rts))
                       THEN r.b_diff ELSE epoch_us(f.rts) - epoch_us(r.rts) END AS diff_us
           FROM res0 r ASOF LEFT JOIN calls f ON r.cp = f.cp AND r.uid = f.uid AND r.rts <= f.rts"""
    )
    con.execute(
        """INSERT INTO q SELECT rec, 'message[1]',
                  CASE mt WHEN 3 THEN 'CALLRESULT' ELSE 'CALLERROR' END || ' with no matching CALL', 2000
           FROM res WHERE call_rec IS NULL"""
    )
    con.execute("DELETE FROM res WHERE call_rec IS NULL")
    con.execute("DROP TABLE res0")


def _canonical(con: duckdb.DuckDBPyConnection) -> None:
    """``g``: good lines with ``first_rec``, the first line carrying the same message.

    Two lines carry the same message when charger and frame are equal and, for a
    frame without a time of its own (Heartbeat, BootNotification, results...),
    the log timestamps are equal too: UniqueIds restart when a charger
    reconnects, so an identical Heartbeat frame an hour later is a new heartbeat.
    """
    con.execute("CREATE OR REPLACE TEMP TABLE qrec AS SELECT DISTINCT rec FROM q")
    # Candidates by a 64-bit hash of the frame, then confirmed on the frame text itself.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE g AS
           SELECT rec, min(rec) OVER (PARTITION BY cp, hash(msg), CASE WHEN own_time THEN NULL ELSE rts END)
                  AS first_rec
           FROM m WHERE rec NOT IN (SELECT rec FROM qrec)"""
    )
    con.execute(
        """UPDATE g SET first_rec = g.rec FROM m a, m b
           WHERE g.rec <> g.first_rec AND a.rec = g.rec AND b.rec = g.first_rec AND a.msg <> b.msg"""
    )
    cols = ", ".join(
        c
        for (c,) in con.execute(
            "SELECT column_name FROM (DESCRIBE m) WHERE column_name NOT IN "
            "('msg', 'msg_txt', 'meter_value', 'transaction_data')"
        ).fetchall()
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE canon AS
            SELECT {cols} FROM m WHERE mt = 2 AND rec IN (SELECT rec FROM g WHERE rec = first_rec)"""
    )


def _rows(con: duckdb.DuckDBPyConnection) -> None:
    """Build ``out_<table>`` (deduplicated on each table key) and ``contrib`` (lines merged into transactions)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE st_events AS
        SELECT cp AS charger_id,
               CASE WHEN proto = '{P201}' THEN to_int(evse_id) ELSE to_int(connector_id) END AS connector_id,
               coalesce(ocpp_ts(p_ts), rts) AS observed_at,
               CASE WHEN proto = '{P201}' THEN connector_status ELSE status END AS status,
               CASE WHEN proto = '{P201}' THEN NULL ELSE error_code END AS error_code,
               CASE WHEN proto = '{P201}' THEN NULL ELSE vendor_error_code END AS vendor_error_code,
               CASE WHEN proto = '{P201}' THEN NULL ELSE info END AS info,
               proto AS protocol, rec AS source_record, 0 AS ord
        FROM canon WHERE action = 'StatusNotification'"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE hb AS
           SELECT cp AS charger_id, rts AS observed_at, 'Heartbeat' AS message, rec AS source_record, 0 AS ord
           FROM canon WHERE action = 'Heartbeat'"""
    )
    # Samples of canonical lines, numeric; connector/transaction filled below.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE mr0 AS
        SELECT c.rec, c.cp, c.action, c.proto, s.arr, s.mi, s.si,
               CASE WHEN c.action = 'MeterValues' AND c.proto = '{P201}' THEN to_int(c.evse_id)
                    WHEN c.action = 'MeterValues' THEN to_int(c.connector_id) END AS connector_id,
               CASE WHEN c.action = 'MeterValues' AND c.proto = '{P201}' THEN NULL
                    WHEN c.action = 'TransactionEvent' THEN c.te_transaction_id
                    ELSE c.transaction_id END AS transaction_id,
               coalesce(ocpp_ts(s.mv_ts_txt), c.rts) AS observed_at,
               coalesce(s.measurand, '{DEFAULT_MEASURAND}') AS measurand, s.phase,
               CASE WHEN coalesce(to_int(s.multiplier), 0) >= 0
                    THEN to_dbl(s.value_txt) * pow(10, coalesce(to_int(s.multiplier), 0))
                    ELSE to_dbl(s.value_txt) / pow(10, -to_int(s.multiplier)) END AS value,
               coalesce(s.unit, 'Wh') AS unit, coalesce(s.context, 'Sample.Periodic') AS context
        FROM smp s JOIN canon c USING (rec) WHERE NOT s.signed"""
    )
    # ---- OCPP 1.6: StartTransaction (+ CALLRESULT transactionId) and StopTransaction ----------------
    con.execute(
        """CREATE OR REPLACE TEMP TABLE st16 AS
        SELECT c.rec, c.cp, to_int(c.connector_id) AS conn, c.id_tag, to_dbl(c.meter_start) AS meter_start,
               coalesce(ocpp_ts(c.p_ts), c.rts) AS started_at, c.rts, c.proto, r.txid AS res_txid
        FROM canon c LEFT JOIN (
            SELECT g.first_rec AS call_rec, arg_min(res.txid, abs(res.diff_us)) AS txid
            FROM res JOIN g ON g.rec = res.call_rec
            WHERE res.mt = 3 AND res.txid IS NOT NULL GROUP BY 1) r ON r.call_rec = c.rec
        WHERE c.action = 'StartTransaction'"""
    )
    # Calls-only logs: a MeterValues with transactionId on the start's connector, after the start and before
    # the next start there, tells the start's transactionId.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE mvlink AS
        SELECT s.rec, arg_min(v.txid, v.rts) AS txid
        FROM (SELECT cp, to_int(connector_id) AS conn, transaction_id AS txid, rts FROM canon
              WHERE action = 'MeterValues' AND proto = '{P16}' AND transaction_id IS NOT NULL) v
        ASOF JOIN st16 s ON v.cp = s.cp AND v.conn = s.conn AND v.rts >= s.rts
        GROUP BY s.rec"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE starts AS
        SELECT s.*, coalesce(s.res_txid, l.txid,
                             'start:' || coalesce(s.conn::VARCHAR, '') || ':' || iso_utc(s.started_at)) AS txid
        FROM st16 s LEFT JOIN mvlink l USING (rec)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE stops AS
        SELECT rec, cp, transaction_id AS txid, to_dbl(meter_stop) AS meter_stop,
               coalesce(ocpp_ts(p_ts), rts) AS ended_at, coalesce(reason, 'Local') AS stop_reason, id_tag, proto
        FROM canon WHERE action = 'StopTransaction'"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE tx16 AS
        WITH s AS (SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY cp, txid ORDER BY rec) AS rn FROM starts)
                   WHERE rn = 1),
             p AS (SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY cp, txid ORDER BY rec) AS rn FROM stops)
                   WHERE rn = 1),
             mc AS (SELECT cp, transaction_id AS txid, arg_min(to_int(connector_id), rts) AS conn FROM canon
                    WHERE action = 'MeterValues' AND proto = '{P16}' AND transaction_id IS NOT NULL GROUP BY ALL)
        SELECT coalesce(s.cp, p.cp) AS charger_id, coalesce(s.txid, p.txid) AS transaction_id,
               coalesce(s.conn, mc.conn) AS connector_id, coalesce(s.id_tag, p.id_tag) AS id_tag,
               s.started_at, p.ended_at, s.meter_start AS meter_start_wh, p.meter_stop AS meter_stop_wh,
               p.stop_reason, coalesce(s.proto, p.proto) AS protocol, coalesce(s.rec, p.rec) AS source_record
        FROM s FULL JOIN p ON s.cp = p.cp AND s.txid = p.txid
        LEFT JOIN mc ON mc.cp = coalesce(s.cp, p.cp) AND mc.txid = coalesce(s.txid, p.txid)"""
    )
    # ---- OCPP 2.0.1: TransactionEvents merged per transactionId --------------------------------------
    con.execute(
        """CREATE OR REPLACE TEMP TABLE te AS
        SELECT rec, cp, te_transaction_id AS txid, event_type, coalesce(ocpp_ts(p_ts), rts) AS ev_at,
               to_int(evse) AS evse, id_token, stopped_reason, proto
        FROM canon WHERE action = 'TransactionEvent'"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE tx201 AS
        WITH reg AS (
            SELECT cp, transaction_id AS txid,
                   arg_min(wh, {'t': observed_at, 'r': rec, 'm': mi, 's': si}) AS first_wh,
                   arg_max(wh, {'t': observed_at, 'r': rec, 'm': mi, 's': si}) AS last_wh
            FROM (SELECT *, CASE unit WHEN 'Wh' THEN value WHEN 'kWh' THEN value * 1000 END AS wh FROM mr0
                  WHERE action = 'TransactionEvent' AND measurand = 'Energy.Active.Import.Register'
                    AND phase IS NULL)
            WHERE wh IS NOT NULL GROUP BY ALL
        ), t AS (
            SELECT cp, txid,
                   arg_min(evse, {'t': ev_at, 'r': rec}) FILTER (WHERE evse IS NOT NULL) AS connector_id,
                   arg_min(id_token, {'t': ev_at, 'r': rec}) FILTER (WHERE id_token IS NOT NULL) AS id_tag,
                   min(ev_at) FILTER (WHERE event_type = 'Started') AS started_at,
                   max(ev_at) FILTER (WHERE event_type = 'Ended') AS ended_at,
                   bool_or(event_type = 'Ended') AS ended,
                   arg_max(stopped_reason, {'t': ev_at, 'r': rec}) FILTER (WHERE stopped_reason IS NOT NULL) AS reason,
                   arg_min(proto, rec) AS protocol,
                   coalesce(min(rec) FILTER (WHERE event_type = 'Started'), min(rec)) AS source_record
            FROM te GROUP BY ALL
        )
        SELECT t.cp AS charger_id, t.txid AS transaction_id, t.connector_id, t.id_tag, t.started_at, t.ended_at,
               reg.first_wh AS meter_start_wh, CASE WHEN t.ended THEN reg.last_wh END AS meter_stop_wh,
               coalesce(t.reason, CASE WHEN t.ended THEN 'Local' END) AS stop_reason, t.protocol, t.source_record
        FROM t LEFT JOIN reg ON reg.cp = t.cp AND reg.txid = t.txid"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE tx AS
        SELECT *, 0 AS ord FROM tx16 UNION ALL BY NAME SELECT *, 1 AS ord FROM tx201"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE contrib AS
        SELECT rec, cp, txid FROM starts UNION ALL SELECT rec, cp, txid FROM stops
        UNION ALL SELECT rec, cp, txid FROM te"""
    )
    # Meter rows get their connector from the transaction where the message has none.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE mr AS
        SELECT m.cp AS charger_id, coalesce(m.connector_id, t.connector_id) AS connector_id, m.transaction_id,
               m.observed_at, m.measurand, m.phase, m.value, m.unit, m.context, m.rec AS source_record,
               (CASE m.arr WHEN 'meterValue' THEN 0 ELSE 1 END) * 1000000000000 + m.mi * 1000000 + m.si AS ord
        FROM mr0 m LEFT JOIN (SELECT charger_id, transaction_id, arg_min(connector_id, ord) AS connector_id
                              FROM tx GROUP BY ALL) t
          ON m.connector_id IS NULL AND t.charger_id = m.cp AND t.transaction_id = m.transaction_id"""
    )
    for name, src in (
        ("status_events", "st_events"),
        ("meter_readings", "mr"),
        ("heartbeats", "hb"),
        ("ocpp_transactions", "tx"),
    ):
        cols = ", ".join(f.name for f in SCHEMAS[name])
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE ranked_{name} AS
                SELECT *, row_number() OVER w AS _rn, first_value(source_record) OVER w AS _owner
                FROM {src} WINDOW w AS (PARTITION BY {_KEYS[name]} ORDER BY source_record, ord)"""
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE out_{name} AS SELECT {cols}, ord AS _ord FROM ranked_{name} WHERE _rn = 1"
        )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_chargers AS
        SELECT cp AS charger_id,
               CASE WHEN proto = '{P201}' THEN cs_vendor ELSE cp_vendor END AS vendor,
               CASE WHEN proto = '{P201}' THEN cs_model ELSE cp_model END AS model,
               CASE WHEN proto = '{P201}' THEN cs_serial ELSE coalesce(cp_serial, cb_serial) END AS serial_number,
               CASE WHEN proto = '{P201}' THEN cs_firmware ELSE cp_firmware END AS firmware_version,
               proto AS ocpp_version, rec AS source_record
        FROM (SELECT *, row_number() OVER (PARTITION BY cp ORDER BY rts DESC, rec DESC) AS rn
              FROM canon WHERE action = 'BootNotification')
        WHERE rn = 1"""
    )


def _absorbed(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """``(source_record, owner_record)`` of every line whose content lives in another line's rows."""
    with_rows = " UNION ".join(f"SELECT source_record AS rec FROM out_{name}" for name in _KEYS)
    dropped = " UNION ALL ".join(
        f"SELECT source_record AS rec, _owner AS owner FROM ranked_{name} WHERE _rn > 1" for name in _KEYS
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE has_rows AS {with_rows}")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE ab AS
        SELECT rec, arg_min(owner, prio) AS owner FROM (
            SELECT rec, first_rec AS owner, 1 AS prio FROM g WHERE rec <> first_rec
            UNION ALL
            SELECT res.rec, coalesce(g.first_rec, res.call_rec), 2 FROM res LEFT JOIN g ON g.rec = res.call_rec
            UNION ALL
            SELECT c.rec, t.source_record, 3 FROM contrib c
            JOIN out_ocpp_transactions t ON t.charger_id = c.cp AND t.transaction_id = c.txid
            UNION ALL
            SELECT rec, min(owner), 4 FROM ({dropped}) GROUP BY rec
        ) WHERE rec NOT IN (SELECT rec FROM has_rows) AND rec <> owner
        GROUP BY rec"""
    )
    # An owner may itself be absorbed (a result of a repeated CALL): point to the final owner.
    for _ in range(16):
        changed = con.execute(
            """UPDATE ab SET owner = x.owner FROM (SELECT rec, owner FROM ab) x
               WHERE ab.owner = x.rec AND x.owner <> ab.rec"""
        ).fetchall()[0][0]
        if not changed:
            break
    return (
        con.sql("SELECT rec AS source_record, owner AS owner_record FROM ab ORDER BY rec")
        .to_arrow_table()
        .cast(ABSORBED_SCHEMA)
    )


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, name: str) -> pa.Table:
    return con.sql(sql).to_arrow_table().cast(SCHEMAS[name])
