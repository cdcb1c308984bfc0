"""What two reports that measure different scopes leave out of each other, so their totals reconcile in the open.

* **Energy revenue.** The headline's (and the metrics') ``energy_revenue_minor`` is the charging
  revenue of every site's sessions. The revenue report's (and the P&L's) ``energy`` stream is the
  operator's: the same revenue, of the sites where the operator holds the energy position
  (:mod:`evrevops.contracts.energy_position`) in the month. Where the customer holds it (a
  hardware sale, software only, a CaaS site whose contract gives the operator a share instead),
  the charging revenue is the customer's (the operator's share of it is the ``energy_share``
  stream); a site the warehouse has no facts for (sessions of a site no sites CSV or location
  describes) is in neither. :func:`energy_revenue_scope` splits the charging revenue so.
* **Ports.** The headline's ``ports`` are the ports with open time in the month (in service for
  any part of it); the P&L's are the ports in service at the month's end, at sites with facts.
  :func:`ports_scope` names each port in one and not the other, and why.

The figures are computed from the engines the reports read, and the tests hold the difference of
the two reports' totals to what these name, to the cent and to the port.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

from evrevops.contracts import energy_position as ep
from evrevops.core.calendar import month_end, month_grid_sql
from evrevops.core.sqltext import sql_literal
from evrevops.metrics import compute as mc
from evrevops.query.result import COUNT, TableResult, table_result
from evrevops.warehouse.protocol import WarehouseLike

_COUNTER = itertools.count()

OPERATOR = "operator"  # the operator holds the energy position: in the revenue report's energy stream
CUSTOMER = "customer"  # the customer does: the charging revenue is theirs
NO_FACTS = "no site facts"  # sessions of a site the warehouse has no facts for

# why a port is in one count and not the other (ports_scope)
DECOMMISSIONED = "decommissioned during the month (in service for part of it, not at its end)"
NOT_COMMISSIONED = "without a commissioning date, or commissioned after the month"
SITE_WITHOUT_FACTS = "at a site without facts (segment, revenue model)"
NOT_IN_PORTS = "not in the ports table (known from sessions or telemetry only)"
NO_OPEN_TIME = "in service at the month's end without open time in the month"
BOTH = "in both"


@dataclass(frozen=True)
class EnergyScope:
    """The charging revenue of local months *first_month* … *last_month*, split by who holds the energy position.

    Attributes
    ----------
    first_month, last_month : datetime.date
        The months (first days).
    parts : TableResult
        ``currency``, ``holder`` (:data:`OPERATOR`, :data:`CUSTOMER`, :data:`NO_FACTS`), ``revenue_model`` (the
        site's in the month; NULL when it has none), ``sites`` [count] and ``energy_revenue_minor`` (minor units of
        ``currency``), one row each.
    """

    first_month: dt.date
    last_month: dt.date
    parts: TableResult

    def _sum(self, currency: str, holders: tuple[str, ...] | None = None) -> int:
        return int(
            sum(
                r["energy_revenue_minor"]
                for r in self.parts.table.to_pylist()
                if r["currency"] == currency and (holders is None or r["holder"] in holders)
            )
        )

    @property
    def currencies(self) -> list[str]:
        """The currencies of the charging revenue, sorted."""
        return sorted({c for c in self.parts.table.column("currency").to_pylist() if c is not None})

    def all_sites_minor(self, currency: str) -> int:
        """Every site's charging revenue [minor units]: the headline's ``energy_revenue_minor``."""
        return self._sum(currency)

    def operator_minor(self, currency: str) -> int:
        """The operator's: the revenue report's ``energy`` stream [minor units]."""
        return self._sum(currency, (OPERATOR,))

    def left_out_minor(self, currency: str) -> int:
        """What the energy stream leaves out [minor units]: ``all_sites_minor - operator_minor``."""
        return self._sum(currency, (CUSTOMER, NO_FACTS))

    def left_out(self, currency: str) -> list[dict[str, Any]]:
        """The rows left out in *currency* (as :attr:`parts` has them), largest first."""
        rows = [r for r in self.parts.table.to_pylist() if r["currency"] == currency and r["holder"] != OPERATOR]
        return sorted(rows, key=lambda r: (-r["energy_revenue_minor"], r["holder"]))

    def sites(self, currency: str, holder: str) -> int:
        """The sites of *holder* with charging revenue in *currency* [count]."""
        return int(
            sum(r["sites"] for r in self.parts.table.to_pylist() if r["currency"] == currency and r["holder"] == holder)
        )


def energy_revenue_scope(wh: WarehouseLike, first_month: dt.date, last_month: dt.date) -> EnergyScope:
    """Every site's charging revenue of local months *first_month* … *last_month*, split as the revenue report's
    energy stream splits it (module docstring): a site-month counts where the site's facts on the month's last day
    put it."""
    first, last = first_month.replace(day=1), last_month.replace(day=1)
    energy = mc.compute(
        wh, by="site", period="month", start=first, end=month_end(last), metrics=["energy_revenue_minor"]
    )
    name = f"_scope_energy{next(_COUNTER)}"
    wh.register(name, energy)
    try:
        table = wh.fetch(
            f"""WITH e AS (SELECT *, CAST(strptime(month, '%Y-%m') AS DATE) AS ms FROM {name}),
                     pos AS ({ep.site_months_sql(first, last)})
                SELECT e.currency,
                       CASE WHEN s.site_id IS NULL OR pos.site_id IS NULL THEN {sql_literal(NO_FACTS)}
                            WHEN pos.energy_position = 'operator' THEN {sql_literal(OPERATOR)} ELSE {sql_literal(CUSTOMER)} END AS holder,
                       pos.revenue_model,
                       CAST(count(DISTINCT e.site_id) AS BIGINT) AS sites,
                       CAST(coalesce(sum(e.energy_revenue_minor), 0) AS BIGINT) AS energy_revenue_minor
                FROM e LEFT JOIN sites s ON s.site_id = e.site_id
                LEFT JOIN pos ON pos.site_id = e.site_id AND pos.month = e.ms
                GROUP BY ALL ORDER BY 1, 2, 3 NULLS LAST"""
        )
    finally:
        wh.unregister(name)
    title = f"charging revenue by who holds the energy position, {first:%Y-%m} … {last:%Y-%m}"
    return EnergyScope(first, last, table_result(table, title, extra={"sites": COUNT}))


@dataclass(frozen=True)
class PortsScope:
    """The ports the headline counts and the ports the P&L counts, month by month, and why they differ.

    Attributes
    ----------
    parts : TableResult
        ``month`` (``YYYY-MM``), ``reason`` (:data:`BOTH` or why a port is in one count only), ``in_headline`` and
        ``in_pnl`` (whether those ports are in each), ``ports`` [count], ``port_ids`` (up to five, sorted).
    """

    parts: TableResult

    def _rows(self, month: str) -> list[dict[str, Any]]:
        return [r for r in self.parts.table.to_pylist() if r["month"] == month]

    @property
    def months(self) -> list[str]:
        """The months (``YYYY-MM``), in order."""
        return sorted(set(self.parts.table.column("month").to_pylist()))

    def headline_ports(self, month: str) -> int:
        """The ports with open time in *month*: the headline's ``ports`` [count]."""
        return int(sum(r["ports"] for r in self._rows(month) if r["in_headline"]))

    def pnl_ports(self, month: str) -> int:
        """The ports in service at the end of *month* at sites with facts: the P&L's ``ports`` [count]."""
        return int(sum(r["ports"] for r in self._rows(month) if r["in_pnl"]))

    def only_in_headline(self, month: str) -> list[dict[str, Any]]:
        """The rows of ports the headline counts and the P&L does not, largest first."""
        return sorted((r for r in self._rows(month) if r["in_headline"] and not r["in_pnl"]), key=lambda r: -r["ports"])

    def only_in_pnl(self, month: str) -> list[dict[str, Any]]:
        """The rows of ports the P&L counts and the headline does not."""
        return [r for r in self._rows(month) if r["in_pnl"] and not r["in_headline"]]


def ports_scope(wh: WarehouseLike, first_month: dt.date, last_month: dt.date) -> PortsScope:
    """For each local month *first_month* … *last_month*: the ports with open time in it (the headline's) against
    the ports in service at its end at a site with facts (the P&L's), grouped by why a port is in one only."""
    first, last = first_month.replace(day=1), last_month.replace(day=1)
    opened = mc.compute(wh, by="port", period="month", start=first, end=month_end(last), metrics=["ports"])
    name = f"_scope_ports{next(_COUNTER)}"
    wh.register(name, opened)
    try:
        table = wh.fetch(
            f"""WITH months AS ({month_grid_sql(first, last)}),
                site_at AS (SELECT site_id, month FROM ({ep.site_months_sql(first, last)}) f),
                head AS (SELECT DISTINCT port_id, CAST(strptime(month, '%Y-%m') AS DATE) AS ms FROM {name}
                         WHERE ports > 0),
                pnl AS (
                    SELECT p.port_id, m.ms FROM ports p JOIN months m
                      ON p.commissioned_on < m.me AND (p.decommissioned_on IS NULL OR p.decommissioned_on >= m.me)
                    JOIN site_at s ON s.site_id = p.site_id AND s.month = m.ms
                ),
                every AS (
                    SELECT coalesce(h.port_id, x.port_id) AS port_id, coalesce(h.ms, x.ms) AS ms,
                           h.port_id IS NOT NULL AS in_headline, x.port_id IS NOT NULL AS in_pnl
                    FROM head h FULL JOIN pnl x ON x.port_id = h.port_id AND x.ms = h.ms
                ),
                why AS (
                    SELECT e.*, CASE
                        WHEN e.in_headline AND e.in_pnl THEN {sql_literal(BOTH)}
                        WHEN e.in_pnl THEN {sql_literal(NO_OPEN_TIME)}
                        WHEN p.port_id IS NULL THEN {sql_literal(NOT_IN_PORTS)}
                        WHEN p.decommissioned_on < m.me THEN {sql_literal(DECOMMISSIONED)}
                        WHEN p.commissioned_on IS NULL OR p.commissioned_on >= m.me THEN {sql_literal(NOT_COMMISSIONED)}
                        ELSE {sql_literal(SITE_WITHOUT_FACTS)} END AS reason
                    FROM every e JOIN months m ON m.ms = e.ms LEFT JOIN ports p ON p.port_id = e.port_id
                )
                SELECT strftime(ms, '%Y-%m') AS month, reason, in_headline, in_pnl,
                       CAST(count(*) AS BIGINT) AS ports,
                       array_to_string(list_slice(list(port_id ORDER BY port_id), 1, 5), ', ') AS port_ids
                FROM why GROUP BY ALL ORDER BY month, in_headline DESC, in_pnl DESC, ports DESC, reason"""
        )
    finally:
        wh.unregister(name)
    return PortsScope(table_result(table, f"ports: headline against P&L, {first:%Y-%m} … {last:%Y-%m}"))
