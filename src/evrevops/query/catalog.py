"""What the product knows how to read and compute: the input formats and their shipped mappings, and the metric
registry (each metric's declaration, the SQL that computes one, the Markdown reference)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from evrevops import formats as fmts
from evrevops.core.suggest import did_you_mean, suggestion
from evrevops.formats import crm, session_mapping, status_mapping
from evrevops.metrics import docs as mdocs
from evrevops.metrics.close import close_view
from evrevops.metrics.explain import explain
from evrevops.metrics.registry import METRICS
from evrevops.query.result import TableResult, table_result
from evrevops.warehouse.db import Warehouse
from evrevops.warehouse.protocol import WarehouseLike

MAPPED_FORMATS: tuple[str, ...] = ("session-csv", "status-snapshots", "crm-csv")
"""The input formats that take a ``--mapping``, in the order the listings give them."""

_SHIPPED: dict[str, Callable[[], list[tuple[str, str]]]] = {
    "session-csv": fmts.session_mappings,
    "status-snapshots": status_mapping.status_mappings,
    "crm-csv": crm.crm_mappings,
}
_LOADERS: dict[str, Callable[[str], object]] = {
    "session-csv": session_mapping.load_mapping,
    "status-snapshots": status_mapping.load_status_mapping,
    "crm-csv": crm.load_mapping,
}


@dataclass(frozen=True)
class InputMapping:
    """A shipped mapping: the input format it is for, its name (``--mapping``) and what it reads."""

    input_format: str
    name: str
    description: str


def check_format(name: str) -> None:
    """Nothing when *name* is an input format.

    Raises
    ------
    ValueError
        An unknown format, with the formats it is close to and the known ones; a mapping's name
        given as a format says so (``'chargepoint' is a session-csv mapping, not a format; ...``).
    """
    if name in fmts.FORMATS:
        return
    of = [f for f in MAPPED_FORMATS if name in {m.name for m in mappings(f)}]
    if of:
        raise ValueError(f"{name!r} is a {of[0]} mapping, not a format; use --mapping {name}")
    raise ValueError(did_you_mean(name, sorted(fmts.FORMATS), "format"))


def mappings(input_format: str) -> tuple[InputMapping, ...]:
    """The shipped mappings of *input_format* (one of :data:`MAPPED_FORMATS`), by name."""
    return tuple(InputMapping(input_format, n, d) for n, d in _SHIPPED[input_format]())


_KIND = {"session-csv": "session", "status-snapshots": "status", "crm-csv": "CRM"}  # as the formats name them


def unknown_mapping(name: str, input_formats: tuple[str, ...] = MAPPED_FORMATS) -> str:
    """The message for a ``--mapping`` *name* none of *input_formats* ships: the mappings it is close to (by name,
    or whose description names it: ``palo_alto`` → ``chargepoint``) and the known ones, by format."""
    known = [m for f in input_formats for m in mappings(f)]
    hints = {m.name: m.description for m in known}
    if len(input_formats) == 1:
        return did_you_mean(name, [m.name for m in known], f"{_KIND[input_formats[0]]} mapping", hints)
    by_format = "; ".join(f"{f}: {', '.join(m.name for m in mappings(f))}" for f in input_formats)
    return f"{suggestion(name, [m.name for m in known], 'mapping', hints)} known: {by_format}"


def check_mapping(input_format: str, name: str) -> None:
    """Nothing when *name* is a mapping *input_format* (one of :data:`MAPPED_FORMATS`) can load.

    Raises
    ------
    ValueError, OSError
        The mapping is unknown (:func:`unknown_mapping`) or does not load.
    """
    if name not in {m.name for m in mappings(input_format)}:
        raise ValueError(unknown_mapping(name, (input_format,)))
    _LOADERS[input_format](name)


def input_formats() -> TableResult:
    """Every input format ingest reads (``format``, ``description``), then each shipped mapping as
    ``<format> --mapping <name>``."""
    rows = [{"format": f.name, "description": f.description} for f in fmts.FORMATS.values()]
    rows += [
        {"format": f"{m.input_format} --mapping {m.name}", "description": m.description}
        for input_format in MAPPED_FORMATS
        for m in mappings(input_format)
    ]
    return table_result(pa.Table.from_pylist(rows), "input formats")


def is_metric(name: str) -> bool:
    """Whether *name* is a metric of the registry."""
    return name in METRICS


def metric_names() -> list[str]:
    """The names of the registry's metrics, in its order."""
    return list(METRICS)


def metrics() -> TableResult:
    """Every metric of the registry: ``name``, ``unit``, ``formula``, ``grains`` (comma-separated) and ``source``."""
    rows = [
        {"name": m.name, "unit": m.unit, "formula": m.formula, "grains": ",".join(m.grains), "source": m.source}
        for m in METRICS.values()
    ]
    return table_result(pa.Table.from_pylist(rows), "metrics")


@dataclass(frozen=True)
class MetricExplanation:
    """A metric's declaration and the SQL that computes it at a grain and period.

    Attributes
    ----------
    unit : str
        The metric's unit (e.g. ``"minor units"``, ``"%"``).
    grains : tuple of str
        The grains it is defined at.
    sql : str
        The SQL that computes it from the sessions (with the statements of the facts it reads).
    close_view : str or None
        For a month period, the month-close view whole months read after an ingest; None otherwise.
    """

    name: str
    label: str
    unit: str
    formula: str
    grains: tuple[str, ...]
    source: str
    description: str
    sql: str
    close_view: str | None


def explain_metric(
    name: str,
    *,
    by: str = "network",
    period: str = "month",
    dialect: str | None = None,
    wh: WarehouseLike | None = None,
) -> MetricExplanation:
    """Metric *name*'s declaration and its SQL per *by* and *period*, in DuckDB's dialect or *dialect*, built on
    *wh* (default: an empty in-memory warehouse; the SQL depends on no data).

    Raises
    ------
    ValueError
        An unknown metric, grain, period or dialect.
    """
    sql = explain(Warehouse(":memory:") if wh is None else wh, name, by=by, period=period, dialect=dialect)
    m = METRICS[name]
    return MetricExplanation(
        m.name, m.label, m.unit, m.formula, tuple(m.grains), m.source, m.description, sql,
        close_view(by) if period == "month" else None,
    )  # fmt: skip


def metrics_markdown() -> str:
    """The metric reference (docs/metrics.md) generated from the registry: grains, metrics, measures, rules."""
    return mdocs.render()
