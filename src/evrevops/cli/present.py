"""How a number reads in a terminal table: by the unit the query layer declares for its column.

A table is for a person: money in the currency's major units with thousands separators and the
currency in the header (or beside each amount when a table mixes currencies), fractions and
percentages as percentages, energy, power and durations with their unit in the header. CSV and
JSON are for machines and keep the exact values (integer minor units in ``_minor`` fields,
fractions as fractions): nothing here touches them.

* minor units: header ``energy_revenue (USD)``, cell ``6,395.74`` (the currency's decimals);
* minor units per something: ``revenue_per_port (USD)``; per kWh with two more decimals (``0.1501``);
* fraction: ``utilization (%)``, ``11.3`` (value × 100, one decimal); fraction/year: ``irr (%/year)``;
* %: ``uptime (%)``, ``96.90`` (two decimals);
* kWh, kW, h, min, days, months: ``energy (kWh)``, ``92,925.1``; count: ``sessions``, ``2,628``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from evrevops.core.money import currency_exponent

MONEY = "minor units"
FRACTIONS = ("fraction", "fraction/year")
PERCENT = "%"
# a column name's unit suffix, dropped from the header when the unit is written out beside it
_SUFFIXES = ("_minor_3m", "_minor", "_pct", "_kwh", "_kw", "_h", "_min", "_days", "_months")
_UNIT_LABEL = {"fraction": "%", "fraction/year": "%/year", "%": "%"}
_DECIMALS = {"kWh": 1, "kW": 1, "h": 1, "min": 1, "days": 1, "months": 1, "score": 2, "kWh/port-day": 1,
             "count/port-day": 2}  # fmt: skip
NONE = "—"  # a cell without a value: said, not left blank (a blank cell reads as a rendering fault)
LONG_TEXT = 60  # characters of text a table cell shows before it is cut (CSV and JSON keep it whole)


@dataclass(frozen=True)
class Currency:
    """The currency of a table's money: one code for every row (shown in the headers), or per row (beside
    each amount)."""

    single: str | None
    column: str | None = "currency"


def table_currency(rows: Sequence[Mapping[str, object]], fallback: str | None = None) -> Currency:
    """One currency code if every row with one names the same, else per row (``currency`` beside each amount)."""
    codes = {r.get("currency") for r in rows if r.get("currency")}
    if len(codes) == 1:
        return Currency(str(next(iter(codes))))
    if not codes:
        return Currency(fallback)
    return Currency(None)


def header(name: str, unit: str | None, currency: Currency) -> str:
    """A column's header: its name without the unit suffix, then the unit, e.g. ``energy_revenue (USD)``.

    Parameters
    ----------
    name : str
        The machine name (``energy_revenue_minor``).
    unit : str or None
        The declared unit; None for a key, a date or a label (the name as it is).
    currency : Currency
        The table's currency; money headers name it when it is one for every row.
    """
    rate = "/" in unit if unit else False
    if unit is None or unit in ("count", "score") or (rate and not unit.startswith(MONEY) and unit not in _UNIT_LABEL):
        return name  # a count, or a rate whose name says its unit (kwh_per_port_day)
    code = f" ({currency.single})" if currency.single else ""  # else each amount has its code
    if unit.startswith(MONEY) and rate:  # a rate whose name says per what (energy_margin_per_kwh)
        return f"{name.removesuffix('_minor')}{code}"
    base = name
    suffix = "_3m" if name.endswith("_minor_3m") else ""
    for s in _SUFFIXES:
        if base.endswith(s):
            base = base[: -len(s)] + suffix
            break
    if unit.startswith(MONEY):
        return f"{base}{code}"
    return f"{base} ({_UNIT_LABEL.get(unit, unit)})"


def _number(v: float | int | Decimal, decimals: int) -> str:
    return f"{v:,.{decimals}f}"


def cell(value: object, unit: str | None, currency: str | None, per_row: bool = False) -> str:
    """A cell's text: *value* in *unit* as a person reads it (module docstring); :data:`NONE` for None, NaN or empty text.

    Parameters
    ----------
    value : object
        The machine value (minor units for money, a fraction for a share).
    unit : str or None
        The declared unit of its column.
    currency : str or None
        The row's currency (for money).
    per_row : bool
        Write the currency code after the amount (a table of several currencies).
    """
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float | Decimal):
        return str(value)
    if unit is None:
        return f"{value:.4f}" if isinstance(value, float) else str(value)
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if unit.startswith(MONEY):
        if not currency:
            return _number(value, 0 if isinstance(value, int) else 2)
        exp = currency_exponent(currency)
        major = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
        text = _number(major.scaleb(-exp), exp + (2 if unit.endswith("/kWh") else 0))  # a price per kWh: 4 places
        return f"{text} {currency}" if per_row else text
    if unit in FRACTIONS:
        return _number(Decimal(repr(value)) * 100 if isinstance(value, float) else Decimal(value) * 100, 1)
    if unit == PERCENT:
        return _number(value, 2)
    if unit == "count" and isinstance(value, int):
        return f"{value:,}"
    return _number(value, _DECIMALS.get(unit, 0 if isinstance(value, int) else 2))


def short(text: str, limit: int = LONG_TEXT) -> tuple[str, bool]:
    """*text* cut for a table cell: a list joined by ``"; "`` shows its first item and how many more; anything
    longer than *limit* ends in ``…``, a path starts with it (its file name kept). Returns the text and whether it was cut."""
    if len(text) <= limit:
        return text, False
    if "/" in text and " " not in text:  # a path: its end (the file's name) says the most
        return "…" + text[-(limit - 1) :], True
    parts = text.split("; ")
    shown = parts[0] if len(parts) > 1 else text
    more = f" (+{len(parts) - 1} more)" if len(parts) > 1 else ""
    if len(shown) + len(more) > limit:
        shown = shown[: max(limit - len(more) - 1, 8)].rstrip() + "…"
    cut = shown + more != text
    return shown + more, cut
