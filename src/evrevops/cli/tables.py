"""Terminal tables a person reads: units in the headers (:mod:`.present`), at most :data:`WIDTH` characters
wide by default, long text cut, no blank grid.

A report names the columns it shows first (*show*); the others follow in the result's order while
the table fits :data:`WIDTH`; what is left out is named on stderr with the options that show it
(``--all``, ``--columns``). A column with no value in any row is left out and named too. A table
with no rows prints its title and ``no rows``, never an empty grid. CSV and JSON are not made here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.table import Table
from rich.text import Text

from evrevops.cli.present import LONG_TEXT, MONEY, NONE, Currency, cell, header, short, table_currency

WIDTH = 120  # characters: the widest table a report prints unless --all or --columns asks for more
# The columns a report's table shows first (the rest follow while the table fits), by command.
_UPTIME = "uptime_pct measured_uptime_pct outages mttr_h ports_below_nevi no_data_min revenue_at_risk_minor"
DEFAULT_COLUMNS: dict[str, list[str]] = {
    k: v.split()
    for k, v in {
        "metrics": "month ports sessions energy_kwh utilization energy_revenue_minor demand_charge_minor "
        "energy_margin_minor uptime_pct",
        "uptime": f"port_id site_id month telemetry {_UPTIME}",
        "outages": "port_id site_id started_at ended_at duration_min state cause revenue_at_risk_minor",
        "sla": "contract_id customer_id site_id month sla_uptime_pct uptime_pct ports_breached credit_pct fee_minor "
        "credit_minor",
        "risk": "customer_id name segment score level reasons",
        "unit-economics": "rank site_id segment revenue_model net_capex_minor cash_to_date_minor payback_months "
        "npv_minor irr",
        "pipeline projects": "project_id site_id status next_milestone delay_days expected_commissioning_on "
        "budget_minor cost_variance_minor expected_margin_minor",
        "pipeline": "stage deals overdue total_minor crm_weighted_minor learned_weighted_minor",
        "ledger": "file_id path format records_read accepted duplicate quarantined status",
        "quarantine": "file_id path source_record reason field",
    }.items()
}
_EDGE, _PER_COLUMN = 1, 3  # a table's left border; a column's padding and right border
_NARROWEST = 24  # characters: a text column narrower than this is left out rather than cut further


def _numeric(values: Sequence[object], unit: str | None) -> bool:
    return unit is not None or any(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _min_width(label: str, texts: list[str]) -> int:
    """The width a column needs: its widest cell, and its header's longest word (the header wraps between words)."""
    return max([len(t) for t in texts] + [max((len(w) for w in label.split()), default=0)])


def _order(cols: list[str], show: Sequence[str] | None) -> list[str]:
    first = [c for c in (show or ()) if c in cols]
    return first + [c for c in cols if c not in first]


def _fit(order: list[str], widths: Mapping[str, int], budget: int, text: set[str]) -> dict[str, int]:
    """The columns of *order* that fit *budget* characters, in that order (the first always), with their widths: a
    text column that does not fit whole is narrowed to what is left if that is at least :data:`_NARROWEST`."""
    total, kept = _EDGE, {}
    for c in order:
        w = widths[c] + _PER_COLUMN
        room = budget - total - _PER_COLUMN
        if not kept or total + w <= budget:
            kept[c] = widths[c]
        elif c in text and room >= _NARROWEST:
            kept[c] = room
        else:
            continue
        total += kept[c] + _PER_COLUMN
    return kept


def _shortened(
    full: Mapping[str, list[str]], limits: Mapping[str, int]
) -> tuple[dict[str, list[str]], set[tuple[str, int]]]:
    """Each column's cells of *full* shortened to its limit (:func:`~evrevops.cli.present.short`), and the
    (column, row) of every cell shortened."""
    texts, cut = {}, set()
    for c, cells in full.items():
        pairs = [short(t, limits[c]) for t in cells]
        texts[c] = [t for t, _ in pairs]
        cut |= {(c, i) for i, (_, was) in enumerate(pairs) if was}
    return texts, cut


def _title_width(title: str | None, width: int) -> int | None:
    """A table at least as wide as its title (a narrow table would wrap it over lines), within :data:`WIDTH`."""
    return None if title is None else min(len(title) + 2, WIDTH, width)


def _note(text: str) -> None:
    """A line on stderr about the table, wrapped at :data:`WIDTH` (a list of column names can be long)."""
    import textwrap

    from evrevops.cli.render import err

    err.print(Text("\n".join(textwrap.wrap(text, WIDTH, subsequent_indent="  ", break_on_hyphens=False))))


def person_table(
    rows: list[dict],
    cols: list[str],
    units: Mapping[str, str],
    title: str | None,
    *,
    show: Sequence[str] | None = None,
    chosen: bool = False,
    every: bool = False,
    labels: Mapping[str, str] | None = None,
    currency: str | None = None,
) -> None:
    """Print *rows* as a table a person reads (module docstring).

    Parameters
    ----------
    rows, cols : the records and their columns (machine values).
    units : the declared unit of each column that has one.
    title : what the table is.
    show : the columns the report shows first, in order.
    chosen : the columns were named by ``--columns``: show exactly them, empty or not, however wide.
    every : ``--all``: every column with a value, however wide.
    labels : a header to use instead of a column's name (the unit is still added).
    currency : the money's currency when the rows have no ``currency`` column.
    """
    from evrevops.cli.render import stdout

    console = stdout()
    if not rows:
        console.print(Text(f"{title}: no rows" if title else "no rows"))
        return
    cur = table_currency(rows, currency)
    has_money = any(str(units.get(c, "")).startswith(MONEY) for c in cols)
    if cur.single and "currency" in cols and not chosen:  # in the money headers, or of no use
        cols = [c for c in cols if c != "currency"]
    per_row = cur.single is None
    full = {c: [cell(r.get(c), units.get(c), str(r.get("currency") or cur.single or "") or None, per_row)
                for r in rows] for c in cols}  # fmt: skip
    texts, cut = _shortened(full, dict.fromkeys(cols, LONG_TEXT))
    heads = {c: header((labels or {}).get(c, c), units.get(c), cur if has_money else Currency(None)) for c in cols}
    shown = cols
    widths = {c: _min_width(heads[c], texts[c]) for c in cols}
    if not chosen:
        empty = [c for c in cols if all(t == NONE for t in texts[c])]
        shown = [c for c in _order(cols, show) if c not in empty]
        if not every:
            text = {c for c in shown if not _numeric([r.get(c) for r in rows], units.get(c))}
            fitted = _fit(shown, widths, min(WIDTH, console.width), text)
            narrowed = {c: w for c, w in fitted.items() if w < widths[c]}
            texts_n, cut_n = _shortened({c: full[c] for c in narrowed}, narrowed)
            texts.update(texts_n)
            widths.update(narrowed)
            cut = {(c, i) for c, i in cut if c not in narrowed} | cut_n
            left = [c for c in shown if c not in fitted]
            shown = [c for c in shown if c in fitted]
            if left:
                _note(f"{len(left)} more columns (--all, or --columns NAME,... to pick): {', '.join(left)}")
        if empty:
            _note(f"no values in: {', '.join(empty)}")
    t = Table(title=None if title is None else Text(title), min_width=_title_width(title, console.width))
    for c in shown:
        width = widths[c]
        numeric = _numeric([r.get(c) for r in rows], units.get(c))
        t.add_column(Text(heads[c]), justify="right" if numeric else "left", overflow="fold", max_width=width)
    for i in range(len(rows)):
        t.add_row(*[Text(texts[c][i]) for c in shown])  # text, never markup: a site named "[/x]" prints as it is
    console.print(t)
    if cut := {(c, i) for c, i in cut if c in shown}:
        _note(f"long text shortened in {len(cut)} cells; --format csv or json has it whole")


def field_table(
    rows: list[dict], fields: list[str], key: str, units: Mapping[str, str], title: str, label: str = "field"
) -> None:
    """A few wide rows as a table a person reads: one column per row (named by its *key*), one line per field with
    its unit; a field without a value in any row is left out (named on stderr)."""
    from evrevops.cli.render import stdout

    if not rows:
        stdout().print(Text(f"{title}: no rows"))
        return
    cur = table_currency(rows)
    per_row = cur.single is None
    lines, empty = [], []
    for f in fields:
        if f == key or (f == "currency" and cur.single):
            continue
        u = units.get(f)
        cells = [cell(r.get(f), u, str(r.get("currency") or cur.single or "") or None, per_row) for r in rows]
        if all(c == NONE for c in cells):
            empty.append(f)
        else:
            lines.append((header(f, u, cur), cells))
    label_w = max([len(label)] + [len(h) for h, _ in lines])
    # each row's column gets an equal share of what the labels leave of WIDTH (long text is cut to it)
    limit = max(_NARROWEST // 2, (WIDTH - _EDGE - label_w - _PER_COLUMN) // len(rows) - _PER_COLUMN)
    t = Table(title=Text(title), min_width=_title_width(title, stdout().width))
    t.add_column(label)
    for r in rows:
        t.add_column(Text(str(r[key])), justify="right")
    cut = 0
    for head, cells in lines:
        shortened = [short(c, min(limit, LONG_TEXT)) for c in cells]
        cut += sum(was for _, was in shortened)
        t.add_row(Text(head), *[Text(c) for c, _ in shortened])
    stdout().print(t)
    if empty:
        _note(f"no values in: {', '.join(empty)}")
    if cut:
        _note(f"long text shortened in {cut} cells; --format csv or json has it whole")
