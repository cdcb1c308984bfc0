"""One site under the three revenue models side by side (handbook §7: ``evrevops model compare``).

The site's own model is priced by its contracts (SLA credits included). Each other model is
priced as the network prices it — reference prices from the contract rows of other sites —
on the same ports, the same cost book, the same measured energy and incentives:

* ``hardware_sale``: hardware per charger and installation per port, recognized at each group
  of ports' commissioning; network software per port-month; a maintenance line per port-month
  when most hardware sales of the segment carry one. The customer holds the energy position.
* ``caas``: the CaaS fee per port-month (without an energy share unless the prices give one);
  the operator holds the energy position (unless the site states otherwise or the fee carries
  an energy share) and bears capex less incentives.
* ``software_only``: network software per port-month.

**Reference price** of a line, per unit (charger, port or port-month): the median over the
other sites' contract rows of that line type (of a hardware or installation line, its latest
interval, which holds the line's total), from the first level that has one: (1) sites of
the same segment whose ports have the same power type and rated kW; (2) the same segment and
power type, as a price per rated kW × the site's kW; (3) the same segment. A price file
(TOML, ``[prices]``) can state any of them instead: ``hardware_per_charger``,
``installation_per_port``, ``software_per_port_month``, ``caas_per_port_month``,
``maintenance_per_port_month`` (decimal text in the site's currency) and
``caas_energy_share_pct``. A model with a needed price that has no reference fails, naming it.

Contract rows are the priced intervals of the contract lines (view ``contract_lines``); a
reference row's segment is its site's on the day the interval starts (the price was agreed for
a site of that segment). The compared site's own segment, revenue model and energy position,
and the segment of the hardware sales that decide whether maintenance is sold with hardware,
are a site's, not a month's: those in force at the end of the data (the last full month with
sessions; site facts are dated, :mod:`evrevops.warehouse.site_history`). Each model's cash
flow itself takes each month's facts (:mod:`evrevops.finance.cashflow`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from evrevops.contracts import energy_position as ep
from evrevops.core.calendar import add_months
from evrevops.core.money import to_minor
from evrevops.core.sqltext import sql_literal
from evrevops.core.vocabulary import REVENUE_MODELS
from evrevops.finance import cashflow as cf
from evrevops.finance import unit_economics as ue
from evrevops.warehouse import contract_lines as cl
from evrevops.warehouse import duckdb_only
from evrevops.warehouse.protocol import WarehouseLike

PRICE_KEYS = (
    "hardware_per_charger", "installation_per_port", "software_per_port_month", "caas_per_port_month",
    "maintenance_per_port_month", "caas_energy_share_pct",
)  # fmt: skip
_NEEDS = {
    "hardware_sale": ("hardware_per_charger", "installation_per_port", "software_per_port_month"),
    "caas": ("caas_per_port_month",),
    "software_only": ("software_per_port_month",),
}
_COUNTER = itertools.count()


@dataclass(frozen=True)
class Price:
    """A unit price [minor units] and where it came from."""

    minor: int | None
    source: str


def read_prices(path: str | Path) -> dict[str, str]:
    """The ``[prices]`` table of a TOML price file; unknown keys fail loudly."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the price file: {exc}") from None
    prices = data.get("prices")
    if not isinstance(prices, dict):
        raise ValueError(f"{path}: needs a [prices] table")
    unknown = sorted(set(prices) - set(PRICE_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown price(s) {', '.join(unknown)}; known: {', '.join(PRICE_KEYS)}")
    return {k: str(v) for k, v in prices.items()}


def _data_end(wh: WarehouseLike) -> dt.date:
    """The last day of the data: the last full month with sessions (site facts of a site, not a month, are taken then)."""
    return add_months(cf.data_months(wh)[1], 1) - dt.timedelta(days=1)


def _site(wh: WarehouseLike, site_id: str) -> dict:
    rows = wh.rows(
        f"""WITH p AS (SELECT site_id, count(*) AS ports, count(DISTINCT charger_id) AS chargers,
                              arg_max(power_type, rated_kw) AS power_type, max(rated_kw) AS rated_kw,
                              min(commissioned_on) AS commissioned_on
                       FROM ports WHERE site_id = ? GROUP BY site_id)
            SELECT s.site_id, s.customer_id, f.segment, f.revenue_model, f.stated_position, p.ports, p.chargers,
                   p.power_type, p.rated_kw, p.commissioned_on,
                   coalesce((SELECT min(currency) FROM {cl.VIEW} WHERE site_id = s.site_id),
                            (SELECT min(currency) FROM site_costs WHERE site_id = s.site_id), k.currency) AS currency
            FROM sites s JOIN p ON p.site_id = s.site_id LEFT JOIN customers k ON k.customer_id = s.customer_id
            LEFT JOIN ({ep.positions_sql(on=_data_end(wh))}) f ON f.site_id = s.site_id""",
        [site_id],
    )
    if not rows:
        raise ValueError(f"unknown site {site_id!r} (or it has no ports)")
    # energy_position: as the site's facts state it (None: it follows the revenue model)
    keys = ("site_id", "customer_id", "segment", "revenue_model", "energy_position", "ports", "chargers",
            "power_type", "rated_kw", "commissioned_on", "currency")  # fmt: skip
    site = dict(zip(keys, rows[0], strict=True))
    if site["commissioned_on"] is None:
        raise ValueError(f"site {site_id!r} has no commissioned port: it has no cash flow to compare")
    return site


def reference_prices(wh: WarehouseLike, site: dict) -> dict[str, Price]:
    """The network's reference unit prices for *site* (levels in the module docstring)."""
    unit = {
        # line type → SQL of the unit price of a row [minor units per unit]
        "hardware_per_charger": ("hardware", "CAST(c.unit_price_minor AS DOUBLE)"),
        "installation_per_port": ("installation", "CAST(c.unit_price_minor AS DOUBLE) * coalesce(c.quantity, 1) / p.ports"),
        "software_per_port_month": ("software", "CAST(c.unit_price_minor AS DOUBLE)"),
        "caas_per_port_month": ("caas", "CAST(c.unit_price_minor AS DOUBLE)"),
        "maintenance_per_port_month": ("maintenance", "CAST(c.unit_price_minor AS DOUBLE)"),
    }  # fmt: skip
    out: dict[str, Price] = {}
    for key, (line, expr) in unit.items():
        share = "AND coalesce(TRY_CAST(c.energy_share_pct AS DOUBLE), 0) = 0" if line == "caas" else ""
        # a one-time line's latest interval holds its total (an amendment's true-up is against the one before)
        latest = (
            f"""AND NOT EXISTS (SELECT 1 FROM {cl.VIEW} n WHERE n.contract_id = c.contract_id
                                AND n.line_id = c.line_id AND n.effective_on > c.effective_on)"""
            if line in ("hardware", "installation")
            else ""
        )
        rows = wh.rows(
            f"""WITH p AS (SELECT site_id, count(*) AS ports, arg_max(power_type, rated_kw) AS power_type,
                                  max(rated_kw) AS rated_kw FROM ports GROUP BY site_id),
                     iv AS (SELECT c.site_id, c.effective_on, p.power_type, p.rated_kw, {expr} AS price
                            FROM {cl.VIEW} c JOIN p ON p.site_id = c.site_id
                            WHERE c.line_type = '{line}' AND c.unit_price_minor IS NOT NULL
                              AND c.site_id <> ? AND c.currency = ? {share} {latest}),
                     f AS ({ep.facts_on_sql("(SELECT site_id, effective_on AS d FROM iv)")}),
                     r AS (SELECT f.segment, iv.power_type, iv.rated_kw, iv.price, iv.site_id
                           FROM iv JOIN f ON f.site_id = iv.site_id AND f.d = iv.effective_on WHERE f.segment = ?)
                SELECT 1, median(price), count(DISTINCT site_id) FROM r WHERE power_type = ? AND rated_kw = ?
                UNION ALL
                SELECT 2, median(price / rated_kw) * ?, count(DISTINCT site_id) FROM r WHERE power_type = ?
                UNION ALL
                SELECT 3, median(price), count(DISTINCT site_id) FROM r ORDER BY 1""",
            [site["site_id"], site["currency"], site["segment"], site["power_type"], site["rated_kw"],
             site["rated_kw"], site["power_type"]],
        )  # fmt: skip
        what = {
            1: f"{site['segment']} {site['power_type']} {site['rated_kw']:g} kW",
            2: f"{site['segment']} {site['power_type']}, per kW × {site['rated_kw']:g} kW",
            3: f"{site['segment']}",
        }
        hit = next((r for r in rows if r[2]), None)
        if hit is None:
            out[key] = Price(None, "no reference")
        else:
            out[key] = Price(int(round(hit[1])), f"median of {hit[2]} site(s): {what[hit[0]]}")
    # maintenance is part of a hardware sale where most of the segment's hardware sales carry it
    frac = wh.rows(
        f"""SELECT avg(CASE WHEN EXISTS (SELECT 1 FROM {cl.VIEW} m WHERE m.site_id = s.site_id
                                         AND m.line_type = 'maintenance') THEN 1 ELSE 0 END)
            FROM ({ep.positions_sql(on=_data_end(wh))}) s
            WHERE s.segment = ? AND s.revenue_model = 'hardware_sale' AND s.site_id <> ?""",
        [site["segment"], site["site_id"]],
    )[0][0]
    if not frac or frac < 0.5:
        out["maintenance_per_port_month"] = Price(None, "not sold with hardware in this segment")
    out["caas_energy_share_pct"] = Price(None, "none")
    return out


def _rows(site: dict, model: str, prices: dict[str, Price], share_pct: str | None, groups: list[tuple]) -> list[dict]:
    """Contract rows pricing *site* under *model*: one set per group of ports commissioned together."""
    out = []
    base = {"customer_id": site["customer_id"], "site_id": site["site_id"], "revenue_model": model,
            "currency": site["currency"], "contract_id": f"PRICED-{model}", "legacy": False}  # fmt: skip
    for i, (on, off, ports, chargers, delivered) in enumerate(groups):

        def row(line: str, i: int = i, on=on, **kw) -> dict:
            return {**base, "line_id": f"{line}-{i + 1}", "line_type": line, "event": "new", "effective_on": on, **kw}

        if model == "hardware_sale":
            out.append(row("hardware", quantity=float(chargers), unit_price_minor=prices["hardware_per_charger"].minor,
                           effective_on=delivered))  # fmt: skip
            out.append(
                row("installation", quantity=1.0, unit_price_minor=prices["installation_per_port"].minor * ports)
            )
        if model in ("hardware_sale", "software_only"):
            out.append(
                row("software", ports=ports, end_on=off, unit_price_minor=prices["software_per_port_month"].minor)
            )
        if model == "hardware_sale" and prices["maintenance_per_port_month"].minor is not None:
            out.append(
                row("maintenance", ports=ports, end_on=off, unit_price_minor=prices["maintenance_per_port_month"].minor)
            )
        if model == "caas":
            out.append(row("caas", ports=ports, end_on=off, unit_price_minor=prices["caas_per_port_month"].minor,
                           energy_share_pct=share_pct))  # fmt: skip
    return out


def compare(
    wh: WarehouseLike,
    site_id: str,
    *,
    prices_file: str | Path | None = None,
    horizon_months: int = cf.DEFAULT_HORIZON_MONTHS,
    discount_rate: float = ue.DEFAULT_DISCOUNT_RATE,
    include_applied: bool = False,
) -> pa.Table:
    """The site as hardware sale, CaaS and software only: prices, capex, cash flow, payback, NPV, IRR.

    Returns
    -------
    pyarrow.Table
        One row per model (:data:`~evrevops.core.vocabulary.REVENUE_MODELS` order): ``revenue_model``, ``actual`` (the site's own
        model), ``priced_from``, ``energy_position``, the unit prices used [minor units] and
        every column of :func:`evrevops.finance.unit_economics.sites` for that model.
    """
    site = _site(wh, site_id)
    ref = reference_prices(wh, site)
    given = read_prices(prices_file) if prices_file else {}
    prices = dict(ref)
    for k, v in given.items():
        if k == "caas_energy_share_pct":
            prices[k] = Price(None, v)
        else:
            try:
                prices[k] = Price(to_minor(v, site["currency"]), f"price file {prices_file}")
            except ValueError as exc:
                raise ValueError(f"{prices_file}: {k}: {exc}") from None
    share_pct = given.get("caas_energy_share_pct")
    # ports commissioned (and decommissioned) together, and when their hardware was bought: the
    # cost book's last hardware purchase on or before their commissioning, else that day
    groups = [
        tuple(r)
        for r in wh.rows(
            """SELECT p.commissioned_on, p.decommissioned_on, count(*), count(DISTINCT p.charger_id),
                      coalesce((SELECT max(c.incurred_on) FROM site_costs c WHERE c.site_id = p.site_id
                                AND c.cost_type = 'hardware' AND c.incurred_on <= p.commissioned_on), p.commissioned_on)
               FROM ports p WHERE p.site_id = ? AND p.commissioned_on IS NOT NULL
               GROUP BY p.site_id, p.commissioned_on, p.decommissioned_on ORDER BY 1, 2 NULLS FIRST""",
            [site_id],
        )
    ]
    results = []
    for model in REVENUE_MODELS:
        actual = model == site["revenue_model"]
        if actual:
            months = cf.site_months(wh, sites=[site_id], horizon_months=horizon_months, include_applied=include_applied)
            source = "the site's contracts"
            used = {}
        else:
            missing = [k for k in _NEEDS[model] if prices[k].minor is None]
            if missing:
                raise ValueError(
                    f"no reference price for {', '.join(missing)} of {model} at {site_id} "
                    f"({site['segment']}, {site['power_type']} {site['rated_kw']:g} kW); give them in a price file"
                )
            name = f"_priced{next(_COUNTER)}"
            # rows of the model, as priced intervals: the columns of contract_lines, one interval per line
            wh.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {cl.VIEW} WHERE FALSE")
            rows = _rows(site, model, prices, share_pct, groups)
            if rows:
                cols = sorted({k for r in rows for k in r})
                duckdb_only.connection(wh, "inserting a what-if model's priced rows").executemany(
                    f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                    [[r.get(c) for c in cols] for r in rows],
                )
            has_share = model == "caas" and share_pct not in (None, "", "0")
            position = "customer" if model != "caas" or has_share else (site["energy_position"] or "operator")
            models = f"(SELECT {sql_literal(site_id)} AS site_id, {sql_literal(model)} AS revenue_model, {sql_literal(position)} AS energy_position)"
            try:
                months = cf.site_months(
                    wh, contracts=name, models=models, sites=[site_id], horizon_months=horizon_months,
                    include_applied=include_applied, sla=False,
                )  # fmt: skip
            finally:
                wh.execute(f"DROP TABLE IF EXISTS {name}")
            need = set(_NEEDS[model]) | ({"maintenance_per_port_month"} if model == "hardware_sale" else set())
            used = {k: prices[k] for k in need if prices[k].minor is not None}
            source = "; ".join(f"{k}: {p.source}" for k, p in sorted(used.items()))
        t = ue.from_months(months, discount_rate).to_pylist()[0]
        row = {"revenue_model": model, "actual": actual, "priced_from": source}
        for k in PRICE_KEYS[:-1]:
            row[f"{k}_minor"] = used[k].minor if k in used else None
        row["caas_energy_share_pct"] = share_pct if model == "caas" and not actual else None
        row.update({k: v for k, v in t.items() if k not in ("revenue_model",)})
        results.append(row)
    return pa.Table.from_pylist(results)
