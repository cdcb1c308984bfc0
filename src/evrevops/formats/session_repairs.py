"""Named defect handlers of session exports (``repair = "day_month_swap"`` in a mapping).

A repair runs as stage 2 of :mod:`evrevops.formats.session_csv`: it reads the parsed
records (table ``parsed``, with both readings of each date) and creates ``local_times``,
the records with the local wall times it chose (``_start_local``, ``_end_local``) and
whether the start was changed (``_start_repaired``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from evrevops.core.calendar import add_months
from evrevops.formats import limits


def swap_day_month(fmt: str) -> str:
    """The strptime format *fmt* with ``%d`` and ``%m`` exchanged."""
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _repair_day_month_swap(
    con: duckdb.DuckDBPyConnection, path: Path, opts: dict[str, Any], lim: limits.Limits
) -> dict[str, str]:
    """Repair dates whose day and month were swapped for days ≤ 12 (Perth & Kinross).

    Every start date is read both as written (``_start_a``) and with day and
    month exchanged (``_start_b``, NULL when the written day is > 12). The file
    covers ``window_months`` months from ``window_start`` (month-day) of the
    year of its earliest unambiguous date; a reading outside that window is
    impossible. When both readings fall inside it, the file's row order decides:
    rows are in ``order`` (``descending``: newest first) of start time, so the
    right reading lies between the nearest unambiguous rows before and after.
    If that still leaves both, the swapped reading (the documented defect) wins.
    End dates take the reading closest to, and not before, the repaired start.
    Start dates with no reading inside the window are left NULL (quarantined).

    Only readings inside the time window of *lim* can set the file's year (a row dated 0001 or
    9999 is refused later, by the window, and cannot move the file's window out of the calendar).

    Creates ``local_times`` from ``parsed`` and returns ``{"window": "[start, end)"}`` for the reasons.
    """
    month, day = (int(x) for x in str(opts.get("window_start", "01-01")).split("-"))
    months = int(opts.get("window_months", 12))
    descending = str(opts.get("order", "descending")).lower().startswith("desc")
    inside = f"BETWEEN TIMESTAMP '{lim.earliest:%Y-%m-%d %H:%M:%S}' AND TIMESTAMP '{lim.until:%Y-%m-%d %H:%M:%S}'"
    first = con.execute(
        "SELECT min(_start_a) FROM parsed WHERE _start_a IS NOT NULL AND (_start_b IS NULL OR _start_b = _start_a)"
        f" AND _start_a {inside}"
    ).fetchall()[0][0]
    if first is None:
        first = con.execute(
            f"SELECT min(coalesce(_start_b, _start_a)) FROM parsed WHERE coalesce(_start_b, _start_a) {inside}"
        ).fetchall()[0][0]
    if first is None:  # nothing parses: every row is quarantined as unparseable
        first = dt.datetime(2000, month, day)
    year = first.year if (first.month, first.day) >= (month, day) else first.year - 1
    year = min(max(year, 1), 9998 - months // 12)  # the window stays a calendar window
    window_start = dt.date(year, month, day)
    window_end = add_months(window_start, months).replace(day=day)
    in_window = "({x} >= DATE '" + window_start.isoformat() + "' AND {x} < DATE '" + window_end.isoformat() + "')"
    a_in = f"coalesce({in_window.format(x='_start_a')}, false)"
    b_in = f"coalesce({in_window.format(x='_start_b')}, false)"
    before = "last_value(_start_unambiguous IGNORE NULLS) OVER (ORDER BY rec ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    after = "first_value(_start_unambiguous IGNORE NULLS) OVER (ORDER BY rec ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)"
    upper, lower = (before, after) if descending else (after, before)

    def fits(x: str) -> str:
        return f"((_start_lower IS NULL OR {x} >= _start_lower) AND (_start_upper IS NULL OR {x} <= _start_upper))"

    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW start_readings AS
            SELECT *, {a_in} AS _start_a_in_window, {b_in} AS _start_b_in_window,
                   CASE WHEN {a_in} AND NOT {b_in} THEN _start_a
                        WHEN {b_in} AND NOT {a_in} THEN _start_b
                        WHEN {a_in} AND _start_a = _start_b THEN _start_a END AS _start_unambiguous
            FROM parsed"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW start_neighbours AS
            SELECT *, {upper} AS _start_upper, {lower} AS _start_lower FROM start_readings"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE local_times AS
            SELECT * EXCLUDE (_start_a_in_window, _start_b_in_window, _start_unambiguous,
                              _start_upper, _start_lower, _start_chosen),
                   _start_chosen AS _start_local,
                   CASE WHEN _end_b IS NULL OR _end_a = _end_b THEN _end_a
                        WHEN _end_a IS NULL THEN _end_b
                        WHEN _end_a >= _start_chosen AND (_end_b < _start_chosen OR _end_a <= _end_b) THEN _end_a
                        WHEN _end_b >= _start_chosen THEN _end_b
                        ELSE _end_a END AS _end_local,
                   (_start_chosen IS DISTINCT FROM _start_a) AS _start_repaired
            FROM (SELECT *,
                    CASE WHEN _start_unambiguous IS NOT NULL THEN _start_unambiguous
                         WHEN _start_a_in_window AND _start_b_in_window THEN
                            CASE WHEN {fits("_start_a")} AND NOT {fits("_start_b")} THEN _start_a ELSE _start_b END
                    END AS _start_chosen
                  FROM start_neighbours)"""
    )
    return {"window": f"[{window_start.isoformat()}, {window_end.isoformat()})"}


REPAIRS: dict[str, Callable[[duckdb.DuckDBPyConnection, Path, dict[str, Any], limits.Limits], dict[str, str]]] = {
    "day_month_swap": _repair_day_month_swap,
}
