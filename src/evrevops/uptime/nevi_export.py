"""NEVI quarterly data (23 CFR 680.112): a quarter's files, validated against the specification's schemas.

23 CFR 680.112 asks the operator of a NEVI-funded (Part 680) station for quarterly data on
its sessions, its ports' uptime (680.116(b)) and its outages, in the field names of the EV
Charging Use Data Specification. The export is in four modules:

* :mod:`evrevops.uptime.nevi_fields`: the specification's fields, the vocabularies evrevops
  maps onto them, and the value formats (RFC 3339 instants, ISO 8601 durations);
* :mod:`evrevops.uptime.nevi_records`: evrevops tables turned into records (pure functions
  over Arrow tables; the field mapping is documented there);
* :mod:`evrevops.uptime.nevi_files`: records written as JSON or CSV, and read back;
* this module: the validation of records against the specification's JSON Schemas (the copies
  in ``uptime/schemas``, :data:`SCHEMA_DIR`), and :func:`export_quarter`, which reads a
  quarter from the warehouse and writes its three validated files.

The public names of the other three are available here too, as the CLI and callers use them.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from evrevops.core.calendar import add_months
from evrevops.uptime.nevi_bulk import session_table
from evrevops.uptime.nevi_check import validate_records, validate_table
from evrevops.uptime.nevi_fields import (
    CAUSE_NO_DATA,
    CAUSE_TEXT,
    CAUSE_UNKNOWN,
    FIELDS,
    KINDS,
    NULLABLE,
    OUTAGE_COLUMNS,
    PAYMENT_TYPE,
    RATE_PLACES,
    SESSION_COLUMNS,
    STOP_REASONS,
    UPTIME_COLUMNS,
    iso_duration,
    iso_instant,
)
from evrevops.uptime.nevi_files import read_records, write_records
from evrevops.uptime.nevi_records import outage_records, session_records, uptime_records

__all__ = [
    "CAUSE_NO_DATA",
    "CAUSE_TEXT",
    "CAUSE_UNKNOWN",
    "FIELDS",
    "KINDS",
    "NULLABLE",
    "OUTAGE_COLUMNS",
    "PAYMENT_TYPE",
    "RATE_PLACES",
    "SCHEMA_DIR",
    "SESSION_COLUMNS",
    "STOP_REASONS",
    "UPTIME_COLUMNS",
    "RecordError",
    "export_quarter",
    "is_rfc3339",
    "iso_duration",
    "iso_instant",
    "outage_records",
    "parse_quarter",
    "read_records",
    "session_records",
    "sessions_for_export",
    "uptime_records",
    "validate",
    "write_records",
]

#: Folder of the specification's JSON Schemas: the copies shipped with evrevops (BSD 3-Clause,
#: ``schemas/SOURCE.md``). Read when :func:`validate` runs, never at import; assign another
#: folder (or pass ``schema_dir``) to validate against another version.
SCHEMA_DIR: Path = Path(__file__).resolve().parent / "schemas"


class RecordError(ValueError):
    """A record does not satisfy its schema.

    Attributes
    ----------
    kind : str
        ``session``, ``uptime`` or ``outage``.
    index : int
        Position of the record in the list validated.
    field : str or None
        The offending field (None when the record is not an object at all).
    """

    def __init__(self, kind: str, index: int, field: str | None, message: str):
        self.kind, self.index, self.field, self.message = kind, index, field, message
        where = f"field {field!r}" if field is not None else "record"
        super().__init__(f"{kind} record {index}: {where}: {message}")


# ---- validation -------------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$"
)  # fmt: skip


def is_rfc3339(text: str) -> bool:
    """Whether *text* is an RFC 3339 ``date-time`` (JSON Schema's ``date-time`` format)."""
    m = _RFC3339.match(text)
    if not m:
        return False
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    if m.group(9) and (int(m.group(10)) > 23 or int(m.group(11)) > 59):
        return False
    try:
        dt.datetime(y, mo, d, h, mi, min(s, 59))  # second 60: a leap second
    except ValueError:
        return False
    return s <= 60


@functools.lru_cache(maxsize=16)
def _validator(kind: str, schema_dir: str, strict: bool) -> Any:
    # jsonschema and referencing are needed only here (dev extras); imported on first use.
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    folder = Path(schema_dir)
    if not (folder / f"{kind}.json").is_file():
        raise FileNotFoundError(
            f"no {kind}.json in {folder}: set evrevops.uptime.nevi_export.SCHEMA_DIR or pass schema_dir"
        )
    # The schemas carry relative ids ("./session.schema.json") and refs ("./common.json#/..."):
    # each is given the absolute id of its file, so the refs resolve to the files beside it.
    # No "$schema": they are read as draft-07, the draft of their "definitions" and of the ajv
    # validator the specification's own code uses.
    registry: Registry = Registry()
    schemas = {}
    for f in sorted(folder.glob("*.json")):
        contents = {**json.loads(f.read_text(encoding="utf-8")), "$id": f.resolve().as_uri()}
        schemas[f.stem] = contents
        registry = registry.with_resource(contents["$id"], Resource(contents, specification=DRAFT7))
    schema = schemas[kind]
    required = tuple(schema.get("required", ()))
    if not strict:
        schema = {**schema, "required": [p for p in required if p not in NULLABLE[kind]]}
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(lambda v: not isinstance(v, str) or is_rfc3339(v))
    return jsonschema.Draft7Validator(schema, registry=registry, format_checker=checker), required


def validate(
    records: Sequence[Mapping[str, Any]],
    kind: str,
    *,
    strict: bool = False,
    schema_dir: str | Path | None = None,
) -> None:
    """Validate records against the specification's JSON Schema of their kind.

    Draft-07 validation with ``jsonschema``, ``$ref`` to ``common.json`` resolved through a
    ``referencing`` registry of the schema folder, and ``date-time`` format checking (RFC
    3339, checked here so it does not depend on an optional package). Every required field
    must be present; unless *strict*, a field of :data:`NULLABLE` may hold None (the
    specification's "NULL" for what is not known), and every other value must satisfy the
    schema.

    Parameters
    ----------
    records : sequence of mapping
        The records.
    kind : {"session", "uptime", "outage"}
        Which schema.
    strict : bool
        Validate the published schema as is: None is then an error in every field.
    schema_dir : str or Path, optional
        Folder of the schemas; :data:`SCHEMA_DIR` by default (read at call time).

    Raises
    ------
    RecordError
        (a ValueError) for the first record that fails, naming its index and field.
    FileNotFoundError
        The schema folder has no schema of that kind.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    v, required = _validator(kind, str(Path(schema_dir if schema_dir is not None else SCHEMA_DIR)), strict)
    order = {f: i for i, f in enumerate(FIELDS[kind])}
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise RecordError(kind, i, None, "not an object")
        for f in required:
            if f not in rec:
                raise RecordError(kind, i, f, "required field missing")
        inst = dict(rec) if strict else {k: x for k, x in rec.items() if not (x is None and k in NULLABLE[kind])}
        errors = list(v.iter_errors(inst))
        if errors:
            e = min(errors, key=lambda e: (order.get(_field(e), len(order)), str(_field(e))))
            raise RecordError(kind, i, _field(e), e.message)


def _field(e: Any) -> str | None:
    if e.path:
        return str(e.path[0])
    if e.validator == "required":
        return next((p for p in e.validator_value if p not in e.instance), None)
    return None


def parse_quarter(text: str) -> tuple[dt.date, dt.date]:
    """``'2025Q4'`` (or ``2025-Q4``) → the first days of its first and last months."""
    m = re.fullmatch(r"(\d{4})-?[Qq]([1-4])", text.strip())
    if not m:
        raise ValueError(f"not a quarter (YYYYQn): {text!r}")
    y, q = int(m.group(1)), int(m.group(2))
    return dt.date(y, 3 * q - 2, 1), dt.date(y, 3 * q, 1)


def sessions_for_export(con: duckdb.DuckDBPyConnection, start_at: dt.datetime, end_at: dt.datetime) -> pa.Table:
    """The warehouse sessions that ended in [*start_at*, *end_at*), with what :func:`session_records` reads.

    A session is reported once, in the period it ended (a CDR exists only once its session
    has ended). Besides the ``sessions`` columns, three come from the port's OCPP telemetry
    during the session (``started_at`` ≤ ``observed_at`` ≤ ``ended_at``):

    * ``error_codes``: the distinct ``status_events.error_code`` values of the port other than
      ``NoError``, sorted and comma-separated (null when none);
    * ``start_soc`` / ``end_soc`` [0–1]: the first / last ``SoC`` meter reading in percent,
      divided by 100 (null without readings);
    * ``peak_kw`` [kW]: the session's own ``peak_kw``, else the highest
      ``Power.Active.Import`` reading without phase (``W`` — OCPP's default unit — or ``kW``).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection to the warehouse file.
    start_at, end_at : datetime.datetime
        The period's bounds [naive UTC]; *end_at* excluded.

    Returns
    -------
    pyarrow.Table
        One row per session, ordered by ``ended_at`` then ``session_id``.
    """
    sql = """
WITH period_sessions AS (
    SELECT session_id, site_id, port_id, started_at, ended_at, charging_ended_at, energy_kwh,
           plugged_in_s, charging_s, idle_s, peak_kw, currency, total_cost_minor, total_cost_incl_vat_minor,
           energy_cost_minor, time_cost_minor, parking_cost_minor, fixed_cost_minor,
           auth_method, token_uid, stop_reason
    FROM sessions WHERE ended_at >= $start_at AND ended_at < $end_at
), session_days AS (
    -- each session once per UTC day it spans: the joins below match on the port and the day, then on the time
    SELECT session_id, port_id, started_at, ended_at,
           CAST(unnest(generate_series(CAST(started_at AS DATE), CAST(ended_at AS DATE), INTERVAL 1 DAY)) AS DATE)
               AS day
    FROM period_sessions
), status_errors AS (
    SELECT s.session_id, string_agg(DISTINCT e.error_code, ',' ORDER BY e.error_code) AS error_codes
    FROM session_days s
    JOIN status_events e ON e.port_id = s.port_id AND CAST(e.observed_at AS DATE) = s.day
                        AND e.observed_at BETWEEN s.started_at AND s.ended_at
    WHERE e.error_code IS NOT NULL AND e.error_code NOT IN ('', 'NoError')
    GROUP BY s.session_id
), meter AS (
    SELECT s.session_id,
           arg_min(m.value, m.observed_at) FILTER (WHERE m.measurand = 'SoC') AS soc_first,
           arg_max(m.value, m.observed_at) FILTER (WHERE m.measurand = 'SoC') AS soc_last,
           max(CASE WHEN coalesce(m.unit, 'W') = 'W' THEN m.value / 1000.0 WHEN m.unit = 'kW' THEN m.value END)
               FILTER (WHERE m.measurand = 'Power.Active.Import' AND m.phase IS NULL) AS meter_peak_kw
    FROM session_days s
    JOIN meter_readings m ON m.port_id = s.port_id AND CAST(m.observed_at AS DATE) = s.day
                         AND m.observed_at BETWEEN s.started_at AND s.ended_at
    WHERE m.measurand = 'Power.Active.Import'
       OR (m.measurand = 'SoC' AND coalesce(m.unit, 'Percent') = 'Percent')
    GROUP BY s.session_id
)
SELECT s.* REPLACE (coalesce(s.peak_kw, meter.meter_peak_kw) AS peak_kw),
       status_errors.error_codes, meter.soc_first / 100.0 AS start_soc, meter.soc_last / 100.0 AS end_soc
FROM period_sessions s LEFT JOIN status_errors USING (session_id) LEFT JOIN meter USING (session_id)
ORDER BY s.ended_at, s.session_id
"""
    return con.sql(sql, params={"start_at": start_at, "end_at": end_at}).to_arrow_table()


def _quarter_uptime(
    wh: Any, first: dt.date, last: dt.date, *, as_of: dt.datetime | None, offline_after_s: int
) -> tuple[pa.Table, pa.Table]:
    """``(ledger, months)``: the outages and no-data runs touching the quarter, and the port-months.

    *first* and *last* are the first days of the quarter's first and last months; the port-months
    are every measured one (the records' trailing windows need the year before the quarter).
    """
    from evrevops.uptime import fact as _fact
    from evrevops.uptime import outages as _outages
    from evrevops.uptime import timeline_tables as _tables

    touched = _outages.ledger(wh, first, last, as_of=as_of, offline_after_s=offline_after_s)
    wh.con.register("_nevi_touched", touched.select(["outage_id"]))
    led = wh.con.sql(
        f"SELECT * FROM {_tables.LEDGER} WHERE outage_id IN (SELECT outage_id FROM _nevi_touched) "
        "ORDER BY started_at, port_id"
    ).to_arrow_table()
    wh.con.unregister("_nevi_touched")
    months = wh.con.sql(
        f"""SELECT m.*, f.ports_partial_year = 1 AS partial_year,
                   100.0 * f.nevi_up_s / m.period_s AS uptime_pct,
                   100.0 * f.t12_nevi_up_s / m.t12_period_s AS uptime_t12m_pct
            FROM {_tables.MONTHS} m JOIN {_fact.FACT} f ON f.port_id = m.port_id AND f.month = m.month
            WHERE m.period_s > 0 ORDER BY m.site_id, m.port_id, m.month"""
    ).to_arrow_table()
    return led, months


def export_quarter(
    wh: Any,
    quarter: str,
    out_dir: str | Path,
    fmt: str = "csv",
    *,
    as_of: dt.datetime | None = None,
    offline_after_s: int | None = None,
    currency: str = "USD",
    user_id_key: bytes | None = None,
) -> dict[str, tuple[Path, int]]:
    """Write the quarter's NEVI data (23 CFR 680.112): ``sessions``, ``uptime`` and ``outages`` files.

    Uptime records are the trailing-twelve-month figures of each of the
    quarter's three local months (:mod:`evrevops.uptime.timeline`); outages
    are the ledger's outages and no-data runs touching the quarter; sessions
    are those that ended in it (UTC quarter bounds). Every record is validated
    against the specification's schema before anything is written.

    Returns
    -------
    dict
        ``{"sessions" | "uptime" | "outages": (path, records)}``.
    """
    from evrevops.uptime import timeline as _timeline
    from evrevops.uptime.nevi_write import write_table

    first, last = parse_quarter(quarter)
    window = _timeline.DEFAULT_OFFLINE_AFTER_S if offline_after_s is None else offline_after_s
    led, months = _quarter_uptime(wh, first, last, as_of=as_of, offline_after_s=window)
    end_at = dt.datetime.combine(add_months(last, 1), dt.time())
    start_at = dt.datetime.combine(first, dt.time())
    period_end = min(end_at, as_of) if as_of else end_at
    records = {
        "uptime": uptime_records(months, report_months=[first, add_months(first, 1), last]),
        "outages": outage_records(led, period_end_at=period_end),
    }
    # sessions, by far the most records, in bulk: the same values, every record validated
    sessions = session_table(sessions_for_export(wh.con, start_at, end_at), currency=currency, user_id_key=user_id_key)
    kinds = {"uptime": "uptime", "outages": "outage", "sessions": "session"}
    for name, recs in records.items():
        validate_records(recs, kinds[name], validate, schema_dir=Path(SCHEMA_DIR))
    validate_table(sessions, "session", validate, schema_dir=Path(SCHEMA_DIR))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in kinds:
        path = out / f"nevi-{quarter.upper().replace('-', '')}-{name}.{fmt}"
        if name == "sessions":
            write_table(sessions, path, fmt, "session")
            written[name] = (path, sessions.num_rows)
        else:
            write_records(records[name], path, fmt, kind=kinds[name])
            written[name] = (path, len(records[name]))
    return written
