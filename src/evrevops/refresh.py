"""The after-ingest refresh: everything metrics keep between ingests, brought up to date in order.

What ``evrevops ingest`` runs after a write and ``evrevops refresh`` on demand
(:func:`refresh_kept`), and the first day a forgotten or re-ingested ledger entry can change what
is kept (:func:`rebuild_from`). Layer 9: it sits above the engines it sequences — the kept facts
and uptime (:mod:`evrevops.metrics.kept`), the kept site-month bills
(:mod:`evrevops.tariffs.site_bills`), the month-close (:mod:`evrevops.metrics.close`) — and reads
what changed since each was kept (:mod:`evrevops.metrics.changes`). DuckDB only: a Spark warehouse
keeps nothing and computes from its export.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from evrevops.metrics import changes as _changes
from evrevops.metrics import close as _close
from evrevops.metrics import kept as _kept
from evrevops.tariffs import site_bills as _bills
from evrevops.uptime import timeline as _timeline
from evrevops.warehouse import derived
from evrevops.warehouse.protocol import WarehouseLike

# what is kept, in the order each needs the one before: (its row in derived_facts, its engine version)
STEPS = (
    (_kept.NAME, _kept.ENGINE_VERSION),
    (_bills.CACHE, _bills.ENGINE_VERSION),
    (_close.CLOSE, _close.CLOSE_VERSION),
)


def rebuild_from(wh: WarehouseLike, files: list[int]) -> dt.date | None:
    """The first local day the ledger entries *files* can change what is kept.

    :func:`evrevops.metrics.changes.since` at the default offline threshold: what ``ledger
    forget`` and ``ingest --force`` pass to :func:`evrevops.warehouse.forget.forget_file`, so a
    refresh after a forget rebuilds only those months. None when they change nothing kept.
    """
    return _changes.since(wh, files, _timeline.DEFAULT_OFFLINE_AFTER_S)


def since(wh: WarehouseLike, name: str, version: str) -> dt.date | None:
    """The first local day kept table *name* must be rebuilt from, given the ingests since it was kept.

    Returns
    -------
    datetime.date or None
        None to rebuild it whole (never kept, or kept by another engine version);
        :data:`evrevops.metrics.changes.NOTHING` when no new ledger entry changes it.
    """
    files = derived.entries_since(wh, name, version)
    if files is None:
        return None
    day = rebuild_from(wh, files)
    return _changes.NOTHING if day is None else day


def refresh_kept(
    wh: WarehouseLike, step: Callable[[str], AbstractContextManager[object]] = lambda _: nullcontext()
) -> dict:
    """Bring everything metrics keep between ingests up to date, in the order each needs the one before.

    The port-day facts and uptime (:func:`evrevops.metrics.kept.refresh`), the
    site-month bills (:func:`evrevops.tariffs.site_bills.refresh`), then the
    month-close measures and views (:func:`evrevops.metrics.close.keep_close`).
    Each is rebuilt only from the first month the ingests since it was kept can
    change (:func:`since`), or whole when it was never kept or its engine
    changed. A tariff the bill engine cannot use leaves the bills (and so the
    month-close views) unkept; metrics then bill on the fly and say why.
    *step* gives each step a context (the CLI's status line) named by what it does.

    Returns
    -------
    dict
        ``facts``, ``bills`` (None when not kept, ``bills_error`` then says
        why) and ``close``: each step's result, with ``rebuilt_from``.
    """
    # what changed is read before anything is rebuilt (each rebuild records the ledger as seen now)
    todo = {name: since(wh, name, version) for name, version in STEPS}
    with step("building the port-day facts of the months that changed (kept for metrics)"):
        facts = _kept.refresh(wh, todo[_kept.NAME])
    bills, bills_error = None, None
    try:
        with step("billing the site-months that changed (kept for metrics)"):
            bills = _bills.refresh(wh, todo[_bills.CACHE])
    except ValueError as exc:  # a tariff value the bill engine cannot use
        bills_error = str(exc)
        derived.forget(wh, _bills.CACHE)
    with step("keeping the month-close measures and metric views"):
        close = _close.keep_close(wh, todo[_close.CLOSE])
    _changes.snapshot(wh)
    return {"facts": facts, "bills": bills, "bills_error": bills_error, "close": close}
