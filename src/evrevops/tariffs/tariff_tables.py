"""The driver tariffs as the tables the bulk repricing SQL joins to (:mod:`evrevops.tariffs.repricing`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pyarrow as pa

from evrevops.tariffs.ocpi_tariff import Component, Restrictions, Tariff

DEC = pa.decimal128(18, 9)


TARIFF_ELEMENTS_SCHEMA = pa.schema(
    [("tariff_id", pa.string()), ("el", pa.int32()), ("dim", pa.string()), ("price", DEC), ("vat", DEC),
     ("step", pa.int64()), ("start_us", pa.int64()), ("end_us", pa.int64()), ("start_date", pa.date32()),
     ("end_date", pa.date32()), ("min_kwh", DEC), ("max_kwh", DEC), ("min_power", DEC), ("max_power", DEC),
     ("min_current", DEC), ("max_current", DEC), ("min_dur_s", pa.int64()), ("max_dur_s", pa.int64()),
     ("days_mask", pa.int32()), ("reservation", pa.bool_())]
)  # fmt: skip
TARIFF_BOUNDS_SCHEMA = pa.schema(
    [("tariff_id", pa.string()), ("currency", pa.string()), ("min_excl", DEC), ("min_incl", DEC),
     ("max_excl", DEC), ("max_incl", DEC)]
)  # fmt: skip


def _time_of_day_us(t: dt.time | None) -> int | None:
    """A restriction's time of day as microseconds after midnight (None: no bound)."""
    return None if t is None else (t.hour * 60 + t.minute) * 60_000_000


def _component_row(tariff_id: str, el: int, r: Restrictions, c: Component) -> dict:
    """One ``tariff_elements`` row: a price component of element *el* with the element's restrictions *r*."""
    return {
        "tariff_id": tariff_id,
        "el": el,
        "dim": c.dimension.value,
        "price": c.price,
        "vat": c.vat_pct,
        "step": c.step_size,
        "start_us": _time_of_day_us(r.start_time),
        "end_us": _time_of_day_us(r.end_time),
        "start_date": r.start_date,
        "end_date": r.end_date,
        **{k: getattr(r, k) for k in ("min_kwh", "max_kwh", "min_power", "max_power", "min_current", "max_current")},
        "min_dur_s": r.min_duration_s,
        "max_dur_s": r.max_duration_s,
        "days_mask": None if r.days is None else sum(1 << d for d in r.days),
        "reservation": r.reservation is not None,
    }


def element_table(tariffs: Mapping[str, Tariff]) -> dict[str, pa.Table]:
    """``tariff_elements`` (one row per element and component) and ``tariff_bounds`` for *tariffs*.

    Parameters
    ----------
    tariffs : mapping of str to Tariff
        Parsed tariffs by tariff id.

    Returns
    -------
    dict of str to pyarrow.Table
        ``tariff_elements`` (:data:`TARIFF_ELEMENTS_SCHEMA`; times of day in microseconds,
        durations [s], ``days_mask`` bit *d* for weekday *d*, Monday 0) and ``tariff_bounds``
        (:data:`TARIFF_BOUNDS_SCHEMA`: min/max price excluding and including VAT).
    """
    cols: dict[str, list] = {f.name: [] for f in TARIFF_ELEMENTS_SCHEMA}
    bounds: dict[str, list] = {f.name: [] for f in TARIFF_BOUNDS_SCHEMA}
    for tid, t in tariffs.items():
        for i, e in enumerate(t.elements):
            for c in e.components:
                for k, v in _component_row(tid, i, e.restrictions, c).items():
                    cols[k].append(v)
        bounds["tariff_id"].append(tid)
        bounds["currency"].append(t.currency)
        for side, b in (("min", t.min_price), ("max", t.max_price)):
            bounds[f"{side}_excl"].append(None if b is None else b[0])
            bounds[f"{side}_incl"].append(None if b is None else b[1])
    return {
        "tariff_elements": pa.table(cols, schema=TARIFF_ELEMENTS_SCHEMA),
        "tariff_bounds": pa.table(bounds, schema=TARIFF_BOUNDS_SCHEMA),
    }
