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

from evrevops.formats import limits
from evrevops.formats.base import STATUS_EVENT_SCHEMA, Batch, FormatError, quarantine_table
from evrevops.formats.records import connect

P16 = "ocpp1.6"
P201 = "ocpp2.0.1"
MAX_LINE_BYTES = 1 << 24  # a longer line makes the file unreadable (FormatError)
DEFAULT_MEASURAND = "Energy.Active.Import.Register"
#: OCPP 1.6 ``ChargePointStatus`` (StatusNotification ``status``).
STATUSES_16 = ("Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV", "Finishing", "Reserved",
               "Unavailable", "Faulted")  # fmt: skip
#: OCPP 2.0.1 ``ConnectorStatusEnumType`` (StatusNotification ``connectorStatus``).
STATUSES_201 = ("Available", "Occupied", "Reserved", "Unavailable", "Faulted")
MAX_ID_CHARS = 255  # a charger id or id tag longer than this is refused
MAX_TX_ID_CHARS = 36  # OCPP 2.0.1 transactionInfo.transactionId (identifierString, maxLength 36)
CLOCK_BACK_S = 3600  # a charger's log time going back more than this is a clock jump (batch.notes)
CLOCK_AHEAD_S = 86400  # a message more than this ahead of the charger's next one: its clock ran ahead

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
    # Allowed values as '|A|B|' (a substring test, never a join), and whether x is one of them.
    """CREATE OR REPLACE MACRO one_of(x, allowed) AS contains(allowed, '|' || x || '|')""",
    # The first key a JSON object lists twice (NULL when none).
    """CREATE OR REPLACE MACRO dup_key(k) AS list_filter(k, lambda x, i: list_position(k, x) < i)[1]""",
    # A duration [us] for a note: '3 h 12 min', '5 days', '55 years'.
    """CREATE OR REPLACE MACRO dur_text(us) AS
        CASE WHEN us >= 2 * 31557600000000 THEN CAST(round(us / 31557600e6) AS BIGINT) || ' years'
             WHEN us >= 2 * 86400000000 THEN CAST(us // 86400000000 AS BIGINT) || ' days'
             WHEN us >= 3600000000 THEN CAST(us // 3600000000 AS BIGINT) || ' h '
                                        || CAST(us % 3600000000 // 60000000 AS BIGINT) || ' min'
             ELSE CAST(us // 60000000 AS BIGINT) || ' min' END""",
    # 'T2' as the note shows it after 'T1 -> ': the time alone when both are on one day.
    """CREATE OR REPLACE MACRO short_ts(t, ref) AS
        CASE WHEN CAST(t AS DATE) = CAST(ref AS DATE) THEN strftime(t, '%H:%M') ELSE strftime(t, '%Y-%m-%dT%H:%M') END""",
]


def _limit_macros(lim: limits.Limits) -> list[str]:
    """Macros of the limits in force: the time window, the power and energy bounds, the JSON depth.

    ``register_wh`` bounds an energy register: a port at the power limit for the whole
    time window (with the energy margin and slack) cannot have metered more.
    """
    span_h = (lim.until - lim.earliest).total_seconds() / 3600
    register_wh = (lim.max_power_kw * span_h * lim.energy_margin + lim.energy_slack_kwh) * 1000
    return [
        f"CREATE OR REPLACE MACRO outside(t) AS {lim.window_sql('t')}",
        f"""CREATE OR REPLACE MACRO clock_reason(t) AS
            CASE WHEN t < TIMESTAMP '{lim.earliest:%Y-%m-%d %H:%M:%S}' THEN 'clock reset: ' ELSE 'clock ahead: ' END
            || {lim.window_reason_sql("t")}""",
        f"CREATE OR REPLACE MACRO earliest_ts() AS TIMESTAMP '{lim.earliest:%Y-%m-%d %H:%M:%S}'",
        f"CREATE OR REPLACE MACRO max_power_w() AS {lim.max_power_kw * 1000!r}",
        f"CREATE OR REPLACE MACRO max_register_wh() AS {register_wh!r}",
        f"CREATE OR REPLACE MACRO max_depth() AS {int(lim.max_json_depth)}",
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
    ("t_te_tx", "$[3].transactionInfo.transactionId"),
]

# Line checks: (condition, field SQL, reason SQL); a line is quarantined when any holds.
# ``pl`` = a CALL whose action and payload object are present (payload checks apply).
_LINE_CHECKS: list[tuple[str, str, str]] = [
    ("NOT ok", "NULL", "'malformed JSON'"),
    ("ok AND NOT obj", "NULL", "'record is not a JSON object'"),
    ("obj AND dup IS NOT NULL", "dup", "'duplicated key ' || qv(dup)"),
    ("obj AND cp IS NULL", "'charge_point_id'", "'missing charge_point_id'"),
    (
        f"obj AND length(cp) > {MAX_ID_CHARS}",
        "'charge_point_id'",
        f"'charge_point_id longer than {MAX_ID_CHARS} characters: ' || qv(cp)",
    ),
    ("obj AND ts_txt IS NULL", "'timestamp'", "'missing timestamp'"),
    ("obj AND ts_txt IS NOT NULL AND rts IS NULL", "'timestamp'", "'unparseable timestamp: ' || qv(ts_txt)"),
    ("obj AND outside(rts)", "'timestamp'", "clock_reason(rts)"),
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
    ("pl AND pdup IS NOT NULL", "'message[3].' || pdup", "'duplicated key ' || qv(pdup)"),
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
        f"pl AND action = 'StatusNotification' AND proto = 'ocpp1.6' AND NOT one_of(status, '|{'|'.join(STATUSES_16)}|')",
        "'message[3].status'",
        f"'unknown status ' || qv(status) || ' (OCPP 1.6 ChargePointStatus: {', '.join(STATUSES_16)})'",
    ),
    (
        "pl AND action = 'StatusNotification' AND proto = 'ocpp2.0.1'"
        f" AND NOT one_of(connector_status, '|{'|'.join(STATUSES_201)}|')",
        "'message[3].connectorStatus'",
        f"'unknown connectorStatus ' || qv(connector_status) || ' (OCPP 2.0.1 ConnectorStatusEnumType: "
        f"{', '.join(STATUSES_201)})'",
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
        "pl AND action IN ('StatusNotification', 'MeterValues') AND proto = 'ocpp1.6' AND to_int(connector_id) < 0",
        "'message[3].connectorId'",
        "'connectorId must be 0 (the whole charger) or more: ' || qv(connector_id)",
    ),
    (
        "pl AND action = 'StartTransaction' AND proto = 'ocpp1.6' AND to_int(connector_id) < 1",
        "'message[3].connectorId'",
        "'StartTransaction connectorId must be 1 or more: ' || qv(connector_id)",
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
        "pl AND action IN ('StatusNotification', 'MeterValues') AND proto = 'ocpp2.0.1' AND to_int(evse_id) < 0",
        "'message[3].evseId'",
        "'evseId must be 0 (the whole station) or more: ' || qv(evse_id)",
    ),
    (
        "pl AND action IN ('StatusNotification', 'StartTransaction', 'StopTransaction', 'TransactionEvent')"
        " AND p_ts IS NOT NULL AND pts IS NULL",
        "'message[3].timestamp'",
        "'unparseable timestamp: ' || qv(p_ts)",
    ),
    (
        "pl AND action IN ('StatusNotification', 'StartTransaction', 'StopTransaction', 'TransactionEvent')"
        " AND outside(pts)",
        "'message[3].timestamp'",
        "clock_reason(pts)",
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
        "pl AND action = 'StartTransaction' AND NOT to_dbl(meter_start) BETWEEN 0 AND max_register_wh()",
        "'message[3].meterStart'",
        "'meterStart ' || qv(meter_start) || ' Wh is not an energy register reading (0 to '"
        " || CAST(max_register_wh() AS BIGINT) || ' Wh: the power limit over the whole time window)'",
    ),
    (
        f"pl AND action IN ('StartTransaction', 'Authorize', 'StopTransaction') AND length(id_tag) > {MAX_ID_CHARS}",
        "'message[3].idTag'",
        f"'idTag longer than {MAX_ID_CHARS} characters'",
    ),
    (
        "pl AND action IN ('StopTransaction', 'MeterValues') AND proto = 'ocpp1.6' AND transaction_id IS NOT NULL"
        " AND to_int(transaction_id) IS NULL",
        "'message[3].transactionId'",
        "'transactionId is not an integer (OCPP 1.6): ' || qv(transaction_id)",
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
        "pl AND action = 'StopTransaction' AND NOT to_dbl(meter_stop) BETWEEN 0 AND max_register_wh()",
        "'message[3].meterStop'",
        "'meterStop ' || qv(meter_stop) || ' Wh is not an energy register reading (0 to '"
        " || CAST(max_register_wh() AS BIGINT) || ' Wh: the power limit over the whole time window)'",
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
        "pl AND action = 'TransactionEvent' AND te_transaction_id IS NOT NULL"
        f" AND (trim(te_transaction_id) = '' OR length(te_transaction_id) > {MAX_TX_ID_CHARS}"
        " OR t_te_tx <> 'VARCHAR')",
        "'message[3].transactionInfo.transactionId'",
        f"'transactionId must be a text of 1 to {MAX_TX_ID_CHARS} characters (OCPP 2.0.1): ' || qv(te_transaction_id)",
    ),
    (
        f"pl AND action = 'TransactionEvent' AND length(id_token) > {MAX_ID_CHARS}",
        "'message[3].idToken.idToken'",
        f"'idToken longer than {MAX_ID_CHARS} characters'",
    ),
    (
        "pl AND action = 'TransactionEvent' AND evse IS NOT NULL AND to_int(evse) IS NULL",
        "'message[3].evse.id'",
        "'evse.id is not an integer: ' || qv(evse)",
    ),
    (
        "pl AND action = 'TransactionEvent' AND to_int(evse) < 0",
        "'message[3].evse.id'",
        "'evse.id must be 0 or more: ' || qv(evse)",
    ),
    (
        "pl AND action = 'TransactionEvent' AND t_mv NOT IN ('ARRAY', 'NULL')",
        "'message[3].meterValue'",
        "'meterValue is not an array'",
    ),
]

_MV_CHECKS: list[tuple[str, str, str]] = [
    ("mv_type <> 'OBJECT'", "path", "'meterValue element is not a JSON object'"),
    ("mv_dup IS NOT NULL", "path || '.' || mv_dup", "'duplicated key ' || qv(mv_dup)"),
    (
        "mv_type = 'OBJECT' AND coalesce(sv_type, '') <> 'ARRAY'",
        "path || '.sampledValue'",
        "'missing sampledValue array'",
    ),
    (
        "mv_ts_txt IS NOT NULL AND mv_ts IS NULL",
        "path || '.timestamp'",
        "'unparseable timestamp: ' || qv(mv_ts_txt)",
    ),
    ("outside(mv_ts)", "path || '.timestamp'", "clock_reason(mv_ts)"),
]
_SAMPLE_CHECKS: list[tuple[str, str, str]] = [
    ("sv_dup IS NOT NULL", "path || '.' || sv_dup", "'duplicated key ' || qv(sv_dup)"),
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
    (
        "NOT signed AND to_dbl(value_txt) IS NOT NULL AND NOT isfinite(scaled)",
        "path || '.value'",
        "qv(value_txt) || ' × 10^' || coalesce(multiplier, '0') || ' is not a finite number'",
    ),
    (
        "NOT signed AND isfinite(scaled) AND abs(watts) > max_power_w()",
        "path || '.value'",
        "'power ' || qv(value_txt) || ' ' || unit_ || ' is above the limit of ' || CAST(max_power_w() / 1000 AS BIGINT)"
        " || ' kW per port (see --max-power-kw)'",
    ),
    (
        "NOT signed AND isfinite(scaled) AND NOT wh BETWEEN 0 AND max_register_wh()",
        "path || '.value'",
        "'energy ' || qv(value_txt) || ' ' || unit_ || ' is not a reading of one port (0 to '"
        " || CAST(max_register_wh() AS BIGINT) || ' Wh: the power limit over the whole time window)'",
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
    lim = limits.current()
    con = connect()
    try:
        for m in _MACROS + _limit_macros(lim):
            con.execute(m)
        n, transcoded = _load_lines(con, path)
        _parse(con)
        _quarantine(con, transcoded)
        notes = _clock_notes(con)
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
        notes=notes,
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
                   CASE WHEN obj THEN json_type(j, '$.message') END AS msg_type,
                   CASE WHEN obj THEN dup_key(json_keys(j)) END AS dup
            FROM (SELECT rec, j, ok, CASE WHEN ok THEN json_type(j) = 'OBJECT' ELSE false END AS obj
                  FROM (SELECT rec, j, json_valid(j) AS ok FROM raw))
        ), e2 AS (
            SELECT rec, ok, obj, dup, f[1] AS ts_txt,
                   coalesce(nullif(trim(f[2]), ''), nullif(trim(f[3]), '')) AS cp,
                   f[4] AS proto_txt, msg_type, f[5] AS msg_txt,
                   CASE WHEN msg_type = 'ARRAY' THEN f[5]
                        WHEN msg_type = 'VARCHAR' AND json_valid(f[5])
                        THEN CASE WHEN json_type(f[5]) = 'ARRAY' THEN json(f[5])::VARCHAR END END AS msg
            FROM e
        ), e3 AS (
            SELECT rec, ok, obj, dup, ts_txt, ocpp_ts(ts_txt) AS rts, cp, proto_txt, norm_proto(proto_txt) AS stated,
                   msg_type, CASE WHEN msg IS NULL THEN msg_txt END AS msg_txt, msg, n_items, {fields}, {types},
                   CASE WHEN t[3] = 'OBJECT' THEN dup_key(json_keys(msg, '$[3]')) END AS pdup,
                   CASE TRY_CAST(p[1] AS DOUBLE) WHEN 2 THEN 2 WHEN 3 THEN 3 WHEN 4 THEN 4 END AS mt,
                   CASE WHEN t[1] NOT IN ('ARRAY', 'OBJECT', 'NULL') AND trim(p[2]) <> '' THEN p[2] END AS uid,
                   CASE WHEN TRY_CAST(p[1] AS DOUBLE) = 2 AND t[2] = 'VARCHAR' AND trim(p[3]) <> '' THEN p[3] END
                       AS action
            FROM (SELECT *, json_extract_string(msg, {paths}) AS p, json_type(msg, {tpaths}) AS t,
                         json_array_length(msg) AS n_items
                  FROM e2)
        )
        SELECT *, ocpp_ts(p_ts) AS pts,
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
        SELECT *, ocpp_ts(mv_ts_txt) AS mv_ts FROM (
        SELECT rec, arr, mi, 'message[3].' || arr || '[' || mi || ']' AS path, mv_type,
               CASE WHEN mv_type = 'OBJECT' THEN json_extract_string(mv, '$.timestamp') END AS mv_ts_txt,
               CASE WHEN mv_type = 'OBJECT' THEN json_type(mv, '$.sampledValue') END AS sv_type,
               CASE WHEN mv_type = 'OBJECT' THEN dup_key(json_keys(mv)) END AS mv_dup, mv
        FROM (SELECT rec, arr, mi - 1 AS mi, mv, json_type(mv) AS mv_type
              FROM (SELECT rec, arr, unnest(l) AS mv, generate_subscripts(l, 1) AS mi
                    FROM (SELECT rec, 'meterValue' AS arr, json_extract(meter_value, '$[*]') AS l FROM m
                          WHERE pl AND action IN ('MeterValues', 'TransactionEvent') AND t_mv = 'ARRAY'
                          UNION ALL
                          SELECT rec, 'transactionData', json_extract(transaction_data, '$[*]') FROM m
                          WHERE pl AND action = 'StopTransaction' AND t_td = 'ARRAY'))))"""
    )
    # ``scaled``: the value with its multiplier applied; ``watts`` / ``wh``: that value as a power [W]
    # (Power.* but Power.Factor) or an energy register [Wh] (Energy.* but the signed *.Net), else NULL.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE smp AS
        SELECT *,
               CASE WHEN prefix(meas, 'Power.') AND meas <> 'Power.Factor'
                    THEN CASE unit_ WHEN 'W' THEN scaled WHEN 'var' THEN scaled
                                    WHEN 'kW' THEN scaled * 1000 WHEN 'kvar' THEN scaled * 1000 END END AS watts,
               CASE WHEN prefix(meas, 'Energy.') AND NOT suffix(meas, '.Net')
                    THEN CASE unit_ WHEN 'Wh' THEN scaled WHEN 'varh' THEN scaled
                                    WHEN 'kWh' THEN scaled * 1000 WHEN 'kvarh' THEN scaled * 1000 END END AS wh
        FROM (
        SELECT rec, arr, mi, si, path || '.sampledValue[' || si || ']' AS path, mv_ts_txt, mv_ts,
               f[1] AS value_txt, f[2] AS context, coalesce(f[3], '') = 'SignedData' AS signed, f[4] AS measurand,
               f[5] AS phase, coalesce(f[7], f[6]) AS unit, f[8] AS multiplier, sv_dup,
               coalesce(f[4], '{DEFAULT_MEASURAND}') AS meas, coalesce(f[7], f[6], 'Wh') AS unit_,
               CASE WHEN coalesce(to_int(f[8]), 0) >= 0 THEN to_dbl(f[1]) * pow(10, coalesce(to_int(f[8]), 0))
                    ELSE to_dbl(f[1]) / pow(10, -to_int(f[8])) END AS scaled
        FROM (SELECT rec, arr, mi, si - 1 AS si, path, mv_ts_txt, mv_ts,
                     json_extract_string(sv, ['$.value', '$.context', '$.format', '$.measurand', '$.phase',
                                              '$.unit', '$.unitOfMeasure.unit', '$.unitOfMeasure.multiplier']) AS f,
                     CASE WHEN json_type(sv) = 'OBJECT' THEN dup_key(json_keys(sv)) END AS sv_dup
              FROM (SELECT rec, arr, mi, path, mv_ts_txt, mv_ts, unnest(l) AS sv, generate_subscripts(l, 1) AS si
                    FROM (SELECT *, json_extract(mv, '$.sampledValue[*]') AS l FROM mvs WHERE sv_type = 'ARRAY'))))"""
    )


def _checks_sql(source: str, checks: list[tuple[str, str, str]], first_ord: int) -> str:
    items = ", ".join(
        f"CASE WHEN coalesce(({cond}), false) THEN {{'field': {fld}, 'reason': {reason}, 'ord': {first_ord + i}}} END"
        for i, (cond, fld, reason) in enumerate(checks)
    )
    failed = " OR ".join(f"coalesce(({cond}), false)" for cond, _, _ in checks)
    return f"""SELECT rec, e.field AS field, e.reason AS reason, e.ord AS ord
               FROM (SELECT rec, unnest(list_filter([{items}], lambda x: x IS NOT NULL)) AS e
                     FROM {source} WHERE {failed})"""


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
    parts.insert(0, _depth_sql())
    con.execute("CREATE OR REPLACE TEMP TABLE q AS " + " UNION ALL ".join(parts))


def _depth_sql() -> str:
    """SQL of the quarantine rows of lines whose JSON nests deeper than ``max_depth()``."""
    return f"""SELECT rec, NULL AS field,
                      'JSON nested ' || depth || ' levels deep (more than the limit of ' || max_depth()
                      || '; see Limits.max_json_depth)' AS reason, -2 AS ord
               FROM ({json_depth_sql("raw", "max_depth()")})"""


def json_depth_sql(table: str, limit: str) -> str:
    """SQL of ``(rec, depth)`` for the rows of *table* ``(rec, j)`` whose JSON ``j`` nests deeper than *limit*.

    Only texts with more opening brackets than the limit can be that deep; for those, the
    brackets outside strings are numbered and their running sum is the depth (a window
    function, no loop in Python). Invalid JSON is left to the other checks.
    """
    return rf"""SELECT rec, max(depth) AS depth
               FROM (SELECT rec, sum(CASE WHEN b IN ('[', '{{') THEN 1 ELSE -1 END) OVER (PARTITION BY rec ORDER BY i)
                            AS depth
                     FROM (SELECT rec, unnest(bs) AS b, generate_subscripts(bs, 1) AS i
                           FROM (SELECT rec, string_split(regexp_replace(regexp_replace(j, '"(\\.|[^"\\])*"', '', 'g'),
                                                                          '[^\[\]{{}}]', '', 'g'), '') AS bs
                                 FROM {table}
                                 WHERE length(j) - length(replace(replace(j, '[', ''), '{{', '')) > {limit}
                                   AND json_valid(j))))
               GROUP BY rec HAVING max(depth) > {limit}"""


def _clock_notes(con: duckdb.DuckDBPyConnection) -> list[str]:
    """One note per charger whose clock jumped, found in log order over the lines' log timestamps.

    A jump is a line whose time is more than :data:`CLOCK_BACK_S` before the charger's previous
    line's (its clock went back, or the previous line's clock had run ahead when the step exceeds
    :data:`CLOCK_AHEAD_S` and the line lies inside the time window). The note names the first jump
    and how many lines of the charger were quarantined for a time outside the window
    (``clock reset`` / ``clock ahead``). Window functions, no loop over lines.
    """
    rows = con.execute(
        f"""WITH t AS (
                SELECT rec, cp, rts, lag(rts) OVER w AS prev_ts, lag(rec) OVER w AS prev_rec
                FROM m WHERE cp IS NOT NULL AND rts IS NOT NULL
                WINDOW w AS (PARTITION BY cp ORDER BY rec)
            ), ev AS (
                SELECT cp, rec, epoch_us(prev_ts) - epoch_us(rts) AS back_us,
                       CASE WHEN epoch_us(prev_ts) - epoch_us(rts) > {CLOCK_AHEAD_S * 1_000_000} AND rts >= earliest_ts()
                            THEN 'clock ran ahead: record ' || prev_rec || ' at ' || strftime(prev_ts, '%Y-%m-%dT%H:%M')
                                 || ' is ' || dur_text(epoch_us(prev_ts) - epoch_us(rts))
                                 || ' ahead of the next message (record ' || rec || ', '
                                 || short_ts(rts, prev_ts) || ')'
                            ELSE 'clock went back ' || dur_text(epoch_us(prev_ts) - epoch_us(rts)) || ' at record '
                                 || rec || ' (' || strftime(prev_ts, '%Y-%m-%dT%H:%M') || ' -> '
                                 || short_ts(rts, prev_ts) || ')' END AS said
                FROM t WHERE epoch_us(prev_ts) - epoch_us(rts) > {CLOCK_BACK_S * 1_000_000}
            ), j AS (
                SELECT cp, count(*) AS n, arg_min(said, rec) AS first_said FROM ev GROUP BY cp
            ), o AS (
                SELECT m.cp, count(DISTINCT q.rec) AS n_out
                FROM q JOIN m USING (rec)
                WHERE m.cp IS NOT NULL AND (prefix(q.reason, 'clock reset') OR prefix(q.reason, 'clock ahead'))
                GROUP BY m.cp
            )
            SELECT 'charger ' || cp || ': ' || concat_ws('; ',
                       first_said || CASE WHEN n > 1 THEN ' (and ' || (n - 1) || ' more jump'
                                          || CASE WHEN n > 2 THEN 's' ELSE '' END || ')' ELSE '' END,
                       CASE WHEN n_out > 0 THEN n_out || ' message' || CASE WHEN n_out > 1 THEN 's' ELSE '' END
                                                || ' outside the window quarantined' END)
            FROM j FULL JOIN o USING (cp) ORDER BY cp"""
    ).fetchall()
    return [r[0] for r in rows]


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
    # A StartTransaction's result carries the OCPP 1.6 transactionId, an integer.
    con.execute(
        """INSERT INTO q SELECT res.rec, 'message[2].transactionId',
                  'transactionId is not an integer (OCPP 1.6): ' || qv(res.txid), 2001
           FROM res JOIN m c ON c.rec = res.call_rec
           WHERE res.mt = 3 AND c.action = 'StartTransaction' AND res.txid IS NOT NULL AND to_int(res.txid) IS NULL"""
    )
    con.execute("DELETE FROM res WHERE call_rec IS NULL OR rec IN (SELECT rec FROM q)")
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
               coalesce(pts, rts) AS observed_at,
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
               coalesce(s.mv_ts, c.rts) AS observed_at,
               coalesce(s.measurand, '{DEFAULT_MEASURAND}') AS measurand, s.phase,
               s.scaled AS value,
               coalesce(s.unit, 'Wh') AS unit, coalesce(s.context, 'Sample.Periodic') AS context
        FROM smp s JOIN canon c USING (rec) WHERE NOT s.signed"""
    )
    # ---- OCPP 1.6: StartTransaction (+ CALLRESULT transactionId) and StopTransaction ----------------
    con.execute(
        """CREATE OR REPLACE TEMP TABLE st16 AS
        SELECT c.rec, c.cp, to_int(c.connector_id) AS conn, c.id_tag, to_dbl(c.meter_start) AS meter_start,
               coalesce(c.pts, c.rts) AS started_at, c.rts, c.proto, r.txid AS res_txid
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
               coalesce(pts, rts) AS ended_at, coalesce(reason, 'Local') AS stop_reason, id_tag, proto
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
        SELECT rec, cp, te_transaction_id AS txid, event_type, coalesce(pts, rts) AS ev_at,
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
