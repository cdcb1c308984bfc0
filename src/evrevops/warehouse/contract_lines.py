"""Contract lines: priced intervals derived from the line events (handbook §6).

Subscription and CRM systems export a contract line's history as **events** under a stable
contract and line id: ``new`` opens the line, ``amend`` changes its ports, price or terms from
its date, ``renew`` extends it, ``cancel`` ends it from its date. Every event is kept
(``contract_events``, key: contract, line, event, effective date); nothing is overwritten, so
last quarter's MRR stays what it was. The **priced intervals** ``[effective_on, end_on)`` a
report reads (:data:`VIEW`, ``contract_lines``) are derived from the events by replaying each
line in order:

* order: effective date, then ``new`` < ``amend`` < ``renew`` < ``cancel`` on one day, then the
  order of ingest (file, record);
* ``new`` opens the line with the event's values (a line ``cancel``-led or lapsed before may be
  reopened: a reactivation); ``end_on`` on any event ends the line on that date (exclusive);
* ``amend`` changes the values it states (an empty value keeps the line's) from its date,
  and its ``end_on``, if given, replaces the line's;
* ``renew`` continues the line from its date with the values it states and its own ``end_on``
  (none: open-ended), also after the line lapsed at its end (a gap between);
* ``cancel`` ends the line from its date (on a line that already ended it changes nothing).

An interval starts at each ``new``, ``amend`` and ``renew`` and lasts until the next event of
the line or the line's ``end_on``, whichever is first; an interval of no days is dropped. The
intervals of one line never overlap.

**Invalid events** are refused by the loader: an ``amend``, ``renew`` or ``cancel`` dated before
the line's ``new``; a second ``new`` for a line in force; an ``amend`` or ``renew`` of a
cancelled line (``new`` reopens it); an ``amend`` of a line that has ended; a second ``cancel``.
An incoming event that would make an event already stored invalid (a ``new`` dated after the
line's stored history began, a file ingested out of order) is refused too, naming the stored
event: stored history is never rewritten by a later file.

**One row per interval** (the v5 format, still read): a line with no ``new`` event is opened by
its first ``amend`` or ``renew`` (a priced interval under its own line id, e.g. ``L4-A1``), and
a ``cancel`` on a line never opened is a marker that prices nothing. Such lines carry
``legacy = true``: an amendment there holds the ports it adds, not the line's total.

The replay is one recursive SQL statement over every line at once (a step per event of the
longest line), not a loop over rows.
"""

from __future__ import annotations

import pyarrow as pa

from evrevops.core.vocabulary import LINE_EVENTS

VIEW = "contract_lines"
EVENTS = "contract_events"

#: The columns an event carries besides its identity, date and end (carried from event to event).
VALUES = (
    "customer_id", "site_id", "revenue_model", "line_type", "ports", "quantity", "unit_price_minor", "currency",
    "billing_period", "term_months", "energy_share_pct", "sla_uptime_pct", "sla_scope", "sla_credit_schedule",
    "sla_period",
)  # fmt: skip

#: Columns of :data:`VIEW`.
COLUMNS = (
    "contract_id", "line_id", *VALUES[:4], "event", "effective_on", "end_on", *VALUES[4:], "legacy",
    "file_id", "source_record",
)  # fmt: skip


def _rank(col: str) -> str:
    return "CASE " + col + " " + " ".join(f"WHEN '{e}' THEN {k}" for k, e in enumerate(LINE_EVENTS)) + " END"


def _text(col: str) -> str:
    return f"coalesce(CAST({col} AS VARCHAR), '?')"


def replay_sql(events: str) -> str:
    """SQL replaying the line events of relation *events*: one row per event, in line order.

    *events* needs the columns of ``contract_events`` (``file_id`` and ``source_record`` order
    events of one day and kind).

    Returns SQL of ``contract_id``, ``line_id``, ``k`` (the event's place in its line, from 1),
    ``event``, ``effective_on``, ``file_id``, ``source_record``, ``reason`` (NULL for a valid
    event, else why it is refused), ``legacy`` (the line has no ``new``), ``status`` (after the
    event: ``none``, ``live`` or ``cancelled``), ``opened_on``, ``line_end_on`` and the line's
    values after the event (:data:`VALUES`).
    """
    p = "r"
    live = f"({p}.status = 'live' AND ({p}.line_end_on IS NULL OR e.effective_on < {p}.line_end_on))"
    lapsed = f"({p}.status = 'live' AND {p}.line_end_on IS NOT NULL AND e.effective_on >= {p}.line_end_on)"
    none = f"({p}.status = 'none')"
    strict = "(NOT e.legacy)"
    before_new = f"' dated before the line''s new (' || {_text('e.first_new_on')} || ')'"
    reason = f"""CASE
        WHEN e.event = 'new' AND {live} THEN
            'a second new for a line in force (opened on ' || {_text(p + ".opened_on")} || ')'
        WHEN e.event <> 'new' AND {none} AND {strict} THEN e.event || {before_new}
        WHEN e.event IN ('amend', 'renew') AND {p}.status = 'cancelled' THEN
            e.event || ' of a cancelled line (cancelled on ' || {_text(p + ".cancelled_on")} || '); a new event reopens it'
        WHEN e.event = 'amend' AND {lapsed} THEN 'amend of a line that ended on ' || {_text(p + ".line_end_on")}
        WHEN e.event = 'cancel' AND {p}.status = 'cancelled' THEN
            'the line was already cancelled on ' || {_text(p + ".cancelled_on")}
        END"""
    opens = f"(e.event = 'new' OR (e.event IN ('amend', 'renew') AND {none}))"  # a legacy line's first row opens it
    cancels = f"(e.event = 'cancel' AND {p}.status = 'live')"

    def step(valid: str) -> str:
        status = f"""CASE WHEN NOT ({valid}) THEN {p}.status WHEN {opens} THEN 'live'
                          WHEN {cancels} THEN 'cancelled' ELSE {p}.status END"""
        opened = f"CASE WHEN ({valid}) AND {opens} THEN e.effective_on ELSE {p}.opened_on END"
        end = f"""CASE WHEN NOT ({valid}) THEN {p}.line_end_on
                       WHEN {opens} OR e.event = 'renew' THEN e.end_on
                       WHEN e.event = 'amend' THEN coalesce(e.end_on, {p}.line_end_on)
                       ELSE {p}.line_end_on END"""
        cancelled = f"CASE WHEN ({valid}) AND {cancels} THEN e.effective_on ELSE {p}.cancelled_on END"
        vals = [
            f"""CASE WHEN NOT ({valid}) OR e.event = 'cancel' THEN {p}.{c} WHEN {opens} THEN e.{c}
                     ELSE coalesce(e.{c}, {p}.{c}) END AS {c}"""
            for c in VALUES
        ]
        return f"{status} AS status, {opened} AS opened_on, {end} AS line_end_on, {cancelled} AS cancelled_on, " + ", ".join(vals)  # fmt: skip

    # the base row of each line: the state before its first event (nothing), as a relation r
    typed_nulls = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in _VALUE_TYPES.items())
    base = f"""SELECT e.contract_id, e.line_id, e.k, e.event, e.effective_on, e.file_id, e.source_record, e.legacy,
                   ({reason}) AS reason, {step(f"({reason}) IS NULL")}
            FROM ev e, (SELECT 'none' AS status, CAST(NULL AS DATE) AS opened_on, CAST(NULL AS DATE) AS line_end_on,
                               CAST(NULL AS DATE) AS cancelled_on, {typed_nulls}) r
            WHERE e.k = 1"""
    recur = f"""SELECT e.contract_id, e.line_id, e.k, e.event, e.effective_on, e.file_id, e.source_record, e.legacy,
                   ({reason}) AS reason, {step(f"({reason}) IS NULL")}
            FROM replay r JOIN ev e ON e.contract_id = r.contract_id AND e.line_id = r.line_id AND e.k = r.k + 1"""
    return f"""WITH RECURSIVE ev AS (
    SELECT x.*,
           row_number() OVER (PARTITION BY contract_id, line_id
                              ORDER BY effective_on, {_rank("event")}, file_id, source_record) AS k,
           NOT bool_or(event = 'new') OVER (PARTITION BY contract_id, line_id) AS legacy,
           min(effective_on) FILTER (WHERE event = 'new') OVER (PARTITION BY contract_id, line_id) AS first_new_on
    FROM {events} x
), replay AS (
    {base}
    UNION ALL
    {recur}
)
SELECT contract_id, line_id, k, event, effective_on, file_id, source_record, reason, legacy, status, opened_on,
       line_end_on, {", ".join(VALUES)}
FROM replay"""


_VALUE_TYPES = {
    "customer_id": "VARCHAR", "site_id": "VARCHAR", "revenue_model": "VARCHAR", "line_type": "VARCHAR",
    "ports": "INTEGER", "quantity": "DOUBLE", "unit_price_minor": "BIGINT", "currency": "VARCHAR",
    "billing_period": "VARCHAR", "term_months": "INTEGER", "energy_share_pct": "VARCHAR", "sla_uptime_pct": "VARCHAR",
    "sla_scope": "VARCHAR", "sla_credit_schedule": "VARCHAR", "sla_period": "VARCHAR",
}  # fmt: skip


def lines_sql(events: str = EVENTS) -> str:
    """SQL of the priced intervals (:data:`COLUMNS`) derived from relation *events* (rules in the module docstring).

    ``event`` is the event that opened the interval, ``effective_on``/``end_on`` its bounds (the
    end exclusive, NULL while open), ``file_id``/``source_record`` that event's provenance.
    """
    return f"""WITH r AS (
    SELECT * FROM ({replay_sql(events)}) x WHERE reason IS NULL
), n AS (
    SELECT *, lead(effective_on) OVER (PARTITION BY contract_id, line_id ORDER BY k) AS next_on FROM r
)
SELECT contract_id, line_id, customer_id, site_id, revenue_model, line_type, event, effective_on,
       CASE WHEN next_on IS NULL THEN line_end_on WHEN line_end_on IS NULL THEN next_on
            ELSE least(next_on, line_end_on) END AS end_on,
       {", ".join(VALUES[4:])}, legacy, file_id, source_record
FROM n
WHERE event <> 'cancel' AND status = 'live'
  AND (next_on IS NULL OR next_on > effective_on) AND (line_end_on IS NULL OR line_end_on > effective_on)"""


def view_sql() -> str:
    """The statement that makes :data:`VIEW` on a DuckDB connection (a temporary view: always current)."""
    return f"CREATE OR REPLACE TEMP VIEW {VIEW} AS {lines_sql()}"


def refused(con, incoming: pa.Table, file_id: int) -> pa.Table:
    """The events of *incoming* (a batch's ``contract_events``) the replay refuses, as quarantine rows.

    *con* is the DuckDB connection of the warehouse the batch is being loaded into (inside its
    transaction). Events whose key is already stored are settled by the loader (duplicates or
    restatements) and not replayed again; of several rows of one key in the file, the last
    counts. The stored events and the file's are replayed together, the file's ordered as file
    *file_id*.

    Returns
    -------
    pyarrow.Table
        ``source_record``, ``field`` (``event``), ``reason``, ``raw`` (the event as JSON): one row
        per refused record.
    """
    key = ("contract_id", "line_id", "event", "effective_on")
    types = _event_columns(con)
    given = set(incoming.column_names)
    cols = [c for c in types if c not in ("file_id", "source_record")]
    sel = ", ".join(c if c in given else f"CAST(NULL AS {types[c]}) AS {c}" for c in cols)
    con.register("_ce_in", incoming)
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _ce_new AS
                SELECT {", ".join(cols)}, source_record FROM (
                    SELECT {sel}, CAST(source_record AS BIGINT) AS source_record,
                           row_number() OVER (PARTITION BY {", ".join(key)} ORDER BY source_record DESC) AS _rn
                    FROM _ce_in) x
                WHERE _rn = 1 AND NOT EXISTS (
                    SELECT 1 FROM {EVENTS} s WHERE {" AND ".join(f"s.{k} = x.{k}" for k in key)})"""
        )
    finally:
        con.unregister("_ce_in")
    both = f"""(SELECT {", ".join(cols)}, file_id, source_record FROM {EVENTS}
                WHERE (contract_id, line_id) IN (SELECT contract_id, line_id FROM _ce_new)
                UNION ALL
                SELECT {", ".join(cols)}, {int(file_id)} AS file_id, source_record FROM _ce_new)"""
    try:
        return con.sql(
            f"""WITH r AS ({replay_sql(both)}),
                -- a stored event the file's events would make invalid: the file's part of that line is refused
                broken AS (
                    SELECT contract_id, line_id,
                           min('it would make the stored ' || event || ' of ' || CAST(effective_on AS VARCHAR)
                               || ' (file ' || CAST(file_id AS VARCHAR) || ', record '
                               || CAST(source_record AS VARCHAR) || ') invalid: ' || reason) AS why
                    FROM r WHERE reason IS NOT NULL AND file_id <> {int(file_id)}
                    GROUP BY contract_id, line_id
                )
                SELECT r.source_record, 'event' AS field, coalesce(r.reason, b.why) AS reason,
                       CAST(to_json(n) AS VARCHAR) AS raw
                FROM r LEFT JOIN broken b ON b.contract_id = r.contract_id AND b.line_id = r.line_id
                JOIN _ce_new n ON n.source_record = r.source_record
                WHERE r.file_id = {int(file_id)} AND (r.reason IS NOT NULL OR b.why IS NOT NULL)
                ORDER BY 1"""
        ).to_arrow_table()
    finally:
        con.execute("DROP TABLE IF EXISTS _ce_new")


def _event_columns(con) -> dict[str, str]:
    """``contract_events``' columns and their SQL types, in table order."""
    return dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = 'main' ORDER BY ordinal_position",
            [EVENTS],
        ).fetchall()
    )
