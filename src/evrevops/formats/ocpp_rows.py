"""The rows of an OCPP log: results matched to their CALLs, repeats found, and the output tables built.

The steps of :func:`evrevops.formats.ocpp.read_log` after a log is parsed (table ``m``, one row
a line) and checked (table ``q``, the quarantine): :func:`match_results` pairs each CALLRESULT
and CALLERROR with its CALL, :func:`canonical` keeps one line of each message (``canon``),
:func:`build_rows` makes the ``out_<table>`` tables, and :func:`absorbed` says which line holds
the content of every line without rows of its own.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from evrevops.formats.ocpp_sql import ABSORBED_SCHEMA, DEFAULT_MEASURAND, KEYS, P16, P201, SCHEMAS


def match_results(con: duckdb.DuckDBPyConnection) -> None:
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


def canonical(con: duckdb.DuckDBPyConnection) -> None:
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
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE canon AS
            SELECT {", ".join(CANON_COLUMNS)} FROM m
            WHERE mt = 2 AND rec IN (SELECT rec FROM g WHERE rec = first_rec)"""
    )


#: The columns of ``m`` that the row builders read from ``canon`` (a copy of only these is far
#: cheaper than of the whole parsed line: the frame text, the check columns).
CANON_COLUMNS = (
    "rec", "cp", "rts", "pts", "proto", "action", "connector_id", "evse_id", "status", "connector_status",
    "error_code", "vendor_error_code", "info", "transaction_id", "te_transaction_id", "id_tag", "meter_start",
    "meter_stop", "reason", "event_type", "evse", "id_token", "stopped_reason", "cp_vendor", "cp_model",
    "cp_serial", "cb_serial", "cp_firmware", "cs_vendor", "cs_model", "cs_serial", "cs_firmware",
)  # fmt: skip


def build_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Build ``out_<table>`` (deduplicated on each table key) and ``contrib`` (lines merged into transactions)."""
    _status_and_heartbeats(con)
    _meter_samples(con)
    _transactions_16(con)
    _transactions_201(con)
    _transactions_and_readings(con)
    _outputs(con)


def _status_and_heartbeats(con: duckdb.DuckDBPyConnection) -> None:
    """``st_events`` (StatusNotifications) and ``hb`` (Heartbeats) of the canonical lines."""
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


def _meter_samples(con: duckdb.DuckDBPyConnection) -> None:
    """``mr0``: the numeric samples of canonical lines (connector and transaction as the message states them)."""
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


def _transactions_16(con: duckdb.DuckDBPyConnection) -> None:
    """``tx16``: OCPP 1.6 transactions, a StartTransaction (and its result's transactionId) with its StopTransaction."""
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


def _transactions_201(con: duckdb.DuckDBPyConnection) -> None:
    """``tx201``: OCPP 2.0.1 transactions, the TransactionEvents of one transactionId merged."""
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


def _transactions_and_readings(con: duckdb.DuckDBPyConnection) -> None:
    """``tx`` (both protocols' transactions), ``contrib`` (their lines) and ``mr`` (meter rows with connectors)."""
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


def _outputs(con: duckdb.DuckDBPyConnection) -> None:
    """``out_<table>`` (first row of each key, the others ranked in ``ranked_<table>``) and ``out_chargers``."""
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
                FROM {src} WINDOW w AS (PARTITION BY {KEYS[name]} ORDER BY source_record, ord)"""
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


def absorbed(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """``(source_record, owner_record)`` of every line whose content lives in another line's rows."""
    with_rows = " UNION ".join(f"SELECT source_record AS rec FROM out_{name}" for name in KEYS)
    dropped = " UNION ALL ".join(
        f"SELECT source_record AS rec, _owner AS owner FROM ranked_{name} WHERE _rn > 1" for name in KEYS
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


def fetch(con: duckdb.DuckDBPyConnection, sql: str, name: str) -> pa.Table:
    """The rows of *sql* as the Arrow table of the output table *name* (:data:`SCHEMAS`)."""
    return con.sql(sql).to_arrow_table().cast(SCHEMAS[name])
