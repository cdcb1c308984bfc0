"""The declarative part of the OCPP log reader: output schemas, SQL macros, frame fields and checks.

:mod:`evrevops.formats.ocpp` reads a log in DuckDB SQL; this module holds what that SQL is
built from: the schemas of the tables it emits and their keys, the macros every statement
uses (:data:`MACROS`, :func:`limit_macros`), the fields extracted from every frame in one parse
(:data:`FRAME_FIELDS`, :data:`FRAME_TYPES`) and the checks that quarantine a line, a meter
value or a sampled value (:data:`LINE_CHECKS`, :data:`MV_CHECKS`, :data:`SAMPLE_CHECKS`).
"""

from __future__ import annotations

import pyarrow as pa

from evrevops.formats import limits
from evrevops.formats.base import STATUS_EVENT_SCHEMA

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
KEYS = {
    "status_events": "charger_id, connector_id, observed_at, status, error_code",
    "meter_readings": "charger_id, connector_id, observed_at, measurand, phase",
    "heartbeats": "charger_id, observed_at",
    "ocpp_transactions": "charger_id, transaction_id",
}

MACROS = [
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
    # The first key a JSON object lists twice (NULL when none); the scan runs only on the lists
    # that hold a repeat (fewer distinct keys than keys), a hash count far cheaper than the scan.
    """CREATE OR REPLACE MACRO dup_key(k) AS
        CASE WHEN len(list_distinct(k)) < len(k) THEN list_filter(k, lambda x, i: list_position(k, x) < i)[1] END""",
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


def limit_macros(lim: limits.Limits) -> list[str]:
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
FRAME_FIELDS = [
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
FRAME_TYPES = [
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
LINE_CHECKS: list[tuple[str, str, str]] = [
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

MV_CHECKS: list[tuple[str, str, str]] = [
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
SAMPLE_CHECKS: list[tuple[str, str, str]] = [
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
