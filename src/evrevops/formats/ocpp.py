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

from evrevops.formats import limits
from evrevops.formats.base import Batch, FormatError, quarantine_table
from evrevops.formats.ocpp_rows import absorbed, build_rows, canonical, fetch, match_results
from evrevops.formats.ocpp_sql import (
    CLOCK_AHEAD_S,
    CLOCK_BACK_S,
    DEFAULT_MEASURAND,
    FRAME_FIELDS,
    FRAME_TYPES,
    KEYS,
    LINE_CHECKS,
    MACROS,
    MAX_LINE_BYTES,
    MV_CHECKS,
    P16,
    P201,
    SAMPLE_CHECKS,
    limit_macros,
)
from evrevops.formats.records import connect
from evrevops.formats.text_lines import raise_unless_not_utf8


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
        for m in MACROS + limit_macros(lim):
            con.execute(m)
        n, transcoded = _load_lines(con, path)
        _parse(con)
        _quarantine(con, transcoded)
        notes = _clock_notes(con)
        match_results(con)
        canonical(con)
        build_rows(con)
        tables = {
            name: fetch(con, f"SELECT * EXCLUDE (_ord) FROM out_{name} ORDER BY source_record, _ord", name)
            for name in KEYS
        }
        absorbed_lines = absorbed(con)
        chargers = fetch(con, "SELECT * FROM out_chargers ORDER BY charger_id", "chargers")
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
        absorbed=absorbed_lines,
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
        raise_unless_not_utf8(exc, path, "the log")
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
    """Table ``m``: one row per line with envelope, frame and payload fields (text); ``mvs`` and ``smp`` below it."""
    paths = "[" + ", ".join(f"'{p}'" for _, p in FRAME_FIELDS) + "]"
    tpaths = "[" + ", ".join(f"'{p}'" for _, p in FRAME_TYPES) + "]"
    fields = ", ".join(f"p[{i + 1}] AS {name}" for i, (name, _) in enumerate(FRAME_FIELDS) if name not in ("a2",))
    types = ", ".join(f"t[{i + 1}] AS {name}" for i, (name, _) in enumerate(FRAME_TYPES))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE m AS
        WITH e AS (
            SELECT rec, ok, obj, f, msg_type, dup_key(jk) AS dup
            FROM (SELECT rec, ok, obj,
                         CASE WHEN obj THEN json_extract_string(j, ['$.timestamp', '$.charge_point_id',
                              '$.chargePointId', '$.protocol', '$.message']) END AS f,
                         CASE WHEN obj THEN jt[2] END AS msg_type,
                         CASE WHEN obj THEN json_keys(j) END AS jk
                  FROM (SELECT rec, j, ok, coalesce(jt[1] = 'OBJECT', false) AS obj, jt
                        FROM (SELECT rec, j, ok, CASE WHEN ok THEN json_type(j, ['$', '$.message']) END AS jt
                              FROM (SELECT rec, j, json_valid(j) AS ok FROM raw))))
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
                   dup_key(CASE WHEN t[3] = 'OBJECT' THEN json_keys(msg, '$[3]') END) AS pdup,
                   CASE TRY_CAST(p[1] AS DOUBLE) WHEN 2 THEN 2 WHEN 3 THEN 3 WHEN 4 THEN 4 END AS mt,
                   CASE WHEN t[1] NOT IN ('ARRAY', 'OBJECT', 'NULL') AND trim(p[2]) <> '' THEN p[2] END AS uid,
                   CASE WHEN TRY_CAST(p[1] AS DOUBLE) = 2 AND t[2] = 'VARCHAR' AND trim(p[3]) <> '' THEN p[3] END
                       AS action
            FROM (SELECT *, json_extract_string(msg, {paths}) AS p, json_type(msg, {tpaths}) AS t,
                         json_array_length(msg) AS n_items
                  FROM e2)
        )
        SELECT *, CASE WHEN p_ts = ts_txt THEN rts ELSE ocpp_ts(p_ts) END AS pts,
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
    _meter_values(con)
    _samples(con)


def _meter_values(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``mvs``: one row per meter value (MeterValues / TransactionEvent meterValue, StopTransaction transactionData)."""
    # Meter values (MeterValues / TransactionEvent meterValue, StopTransaction transactionData), one row a sample.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE mvs AS
        SELECT *, ocpp_ts(mv_ts_txt) AS mv_ts FROM (
        SELECT rec, arr, mi, 'message[3].' || arr || '[' || mi || ']' AS path, mv_type,
               CASE WHEN mv_type = 'OBJECT' THEN json_extract_string(mv, '$.timestamp') END AS mv_ts_txt,
               CASE WHEN mv_type = 'OBJECT' THEN json_type(mv, '$.sampledValue') END AS sv_type,
               dup_key(CASE WHEN mv_type = 'OBJECT' THEN json_keys(mv) END) AS mv_dup, mv
        FROM (SELECT rec, arr, mi - 1 AS mi, mv, json_type(mv) AS mv_type
              FROM (SELECT rec, arr, unnest(l) AS mv, generate_subscripts(l, 1) AS mi
                    FROM (SELECT rec, 'meterValue' AS arr, json_extract(meter_value, '$[*]') AS l FROM m
                          WHERE pl AND action IN ('MeterValues', 'TransactionEvent') AND t_mv = 'ARRAY'
                          UNION ALL
                          SELECT rec, 'transactionData', json_extract(transaction_data, '$[*]') FROM m
                          WHERE pl AND action = 'StopTransaction' AND t_td = 'ARRAY'))))"""
    )


def _samples(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``smp``: one row per sampled value of a meter value, its number scaled and read as a power or energy."""
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
                     dup_key(CASE WHEN json_type(sv) = 'OBJECT' THEN json_keys(sv) END) AS sv_dup
              FROM (SELECT rec, arr, mi, path, mv_ts_txt, mv_ts, unnest(l) AS sv, generate_subscripts(l, 1) AS si
                    FROM (SELECT *, json_extract(mv, '$.sampledValue[*]') AS l FROM mvs WHERE sv_type = 'ARRAY'))))"""
    )


def _checks_sql(source: str, checks: list[tuple[str, str, str]], first_ord: int) -> str:
    items = ", ".join(
        f"CASE WHEN coalesce(({cond}), false) THEN {{'field': {fld}, 'reason': {reason}, 'ord': {first_ord + i}}} END"
        for i, (cond, fld, reason) in enumerate(checks)
    )
    # A row is kept when a condition is true (NULL is not): plain conditions let DuckDB skip the
    # rest of an AND, and each OR term, on the rows already decided.
    failed = " OR ".join(f"({cond})" for cond, _, _ in checks)
    return f"""SELECT rec, e.field AS field, e.reason AS reason, e.ord AS ord
               FROM (SELECT rec, unnest(list_filter([{items}], lambda x: x IS NOT NULL)) AS e
                     FROM {source} WHERE {failed})"""


def _quarantine(con: duckdb.DuckDBPyConnection, transcoded: bool) -> None:
    """Table ``q(rec, field, reason, ord)`` of line, meter-value and sample problems."""
    parts = [
        _checks_sql("m", LINE_CHECKS, 0),
        _checks_sql("mvs", MV_CHECKS, 1000),
        _checks_sql("smp", SAMPLE_CHECKS, 1000),
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
