"""Energy money: ``bill``, ``price``, ``whatif`` (``power-cap``, ``price``, ``tariff``)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from evrevops.cli.errors import busy, fail, run_busy
from evrevops.cli.errors import unknown as unknown_name
from evrevops.cli.options import (
    EngineOpt,
    ExportOpt,
    FormatOpt,
    LastMonthOpt,
    MasterOpt,
    MonthOpt,
    SegmentOpt,
    SiteOpt,
    engine_warehouse,
    finite,
    month_first,
    month_span,
)
from evrevops.cli.present import cell
from evrevops.cli.render import OutFormat, err, render, stdout
from evrevops.core.money import minor_to_decimal
from evrevops.core.vocabulary import SEGMENTS

if TYPE_CHECKING:
    from evrevops.query.result import TableResult
    from evrevops.warehouse.protocol import WarehouseLike

whatif_app = typer.Typer(
    help="What-ifs on energy margin: baseline and scenario side by side for a site or segment.", no_args_is_help=True
)


def bill(
    ctx: typer.Context,
    site: Annotated[str, typer.Option("--site", help="Site id.")],
    month: Annotated[str | None, typer.Option(help="Month YYYY-MM (default: last full month of data).")] = None,
    engine: EngineOpt = "duckdb",
    export: ExportOpt = None,
    master: MasterOpt = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """A site's utility bill for a month: line items in minor units (cents), peak kW, kWh, unsupported parts.

    The load is the site's 15-minute profile (OCPP meter registers where a port
    has them, else its sessions) under the utility tariff in force each day (sites CSV
    `utility_tariff_id`, `evrevops sites set-tariff --from`). A month with a tariff change is
    billed in two parts, each for its days (JSON: a list). On Spark with
    `--engine spark://host:port --export DIR` (the same SQL, transpiled).
    """
    from evrevops.query import energy as qenergy
    from evrevops.query import sites as qsites

    wh = engine_warehouse(ctx, engine, export, master)
    lo = month_first(wh, month)
    if site not in qsites.site_ids(wh):
        raise unknown_name(site, qsites.site_ids(wh), "site", "see `evrevops sites list`")
    unbilled = qenergy.unbillable(wh, [site], lo, lo)
    if unbilled:
        u = unbilled[0]
        raise fail(
            f"site {site} cannot be billed: {u.reason}"
            + (f" ({u.utility_tariff_id})" if u.utility_tariff_id else "")
            + "; set one with `evrevops sites set-tariff`"
        )
    try:
        with busy(f"billing {site} for {lo:%Y-%m}"):
            bills = qenergy.site_bill(wh, site, lo)
    except ValueError as exc:  # RateError: a tariff value the bill engine cannot use, named with its tariff
        raise fail(f"site {site}: {exc}") from None
    if not bills:
        raise fail(f"site {site} has no port in service in {lo:%Y-%m}")
    recs = [b.as_record() for b in bills]  # one per tariff part of the month
    if fmt is OutFormat.json:
        sys.stdout.write(json.dumps(recs[0] if len(recs) == 1 else recs, indent=2) + "\n")
        return
    if fmt is OutFormat.csv:
        flat = [{**r, "unsupported": "; ".join(f"{u['part']}: {u['detail']}" for u in r["unsupported"])} for r in recs]
        render(flat, fmt)
        return
    for bill_part, rec in zip(bills, recs, strict=True):
        days = "" if len(recs) == 1 else f", {rec['first_on']} … {rec['last_on']}"
        t = Table(title=Text(f"bill {site} {rec['month']} under {rec['utility_tariff_id']} ({rec['currency']}){days}"))
        t.add_column("line")
        t.add_column("amount", justify="right")
        for line in (*bill_part.line_items_minor, "total"):
            t.add_row(line, f"{minor_to_decimal(rec[line], rec['currency']):,}")
        stdout().print(t)
        stdout().print(f"energy {rec['energy_kwh']:,.1f} kWh, peak {rec['peak_kw']:,.1f} kW")
        for u in rec["unsupported"]:
            stdout().print(f"[yellow]not billed:[/yellow] {escape(str(u['part']))}: {escape(str(u['detail']))}")
    if len(recs) > 1:
        total = sum(r["total"] for r in recs)
        stdout().print(
            f"month total ({len(recs)} tariff parts): {minor_to_decimal(total, recs[0]['currency']):,} {recs[0]['currency']}"
        )


def price(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option(help="Month YYYY-MM (default: last full month of data).")] = None,
    to_month: Annotated[str | None, typer.Option("--to-month", help="Last month YYYY-MM of a longer period.")] = None,
    site: Annotated[list[str] | None, typer.Option("--site", help="Only these sites (repeatable).")] = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Reprice CDRs under their driver tariff: revenue leakage by site and month.

    `leakage_minor` sums expected − billed over CDRs whose billed total is
    neither the tariff's total rounded once nor its lines rounded one by one
    (positive: under-billed); `rounding_minor` is what rounding alone explains.
    """
    from evrevops.query import energy as qenergy

    wh = ctx.obj.warehouse(read_only=True)
    lo, hi = month_span(wh, month, to_month)
    try:
        with busy(f"repricing CDRs, {lo:%Y-%m} … {hi:%Y-%m}"):
            found = qenergy.leakage(wh, lo, hi, site)
    except ValueError as exc:  # PricingError: a tariff value the pricing engine cannot use, named
        raise fail(str(exc)) from None
    render(found.result, fmt, title=found.result.title)
    if fmt is OutFormat.table and found.result.num_rows:
        amounts = ", ".join(f"{cell(v, 'minor units', c)} {c}" for c, v in found.leakage_minor.items())
        err.print(Text(f"leakage: {amounts} over {found.sessions_mismatched:,} CDRs"))


def _scope(
    wh: WarehouseLike,
    site: list[str] | None,
    segment: str | None,
    billed: bool = True,
    months: tuple[dt.date, dt.date] | None = None,
) -> list[str]:
    """The sites of --site or --segment; with *billed*, named sites must have a utility tariff (in *months*)."""
    from evrevops.query import energy as qenergy
    from evrevops.query import sites as qsites

    if bool(site) == bool(segment):
        raise fail("give --site (one or more) or --segment")
    if segment:
        ids = qsites.site_ids(wh, segment)
        if not ids:
            raise (
                fail(f"no sites in segment {segment!r}")
                if segment in SEGMENTS
                else unknown_name(segment, SEGMENTS, "segment", lead="use one of")
            )
        return ids
    known = set(qsites.site_ids(wh))
    unknown = [x for x in site or [] if x not in known]
    if unknown:
        raise unknown_name(unknown[0], sorted(known), "site", "see `evrevops sites list`")
    span = months or (None, None)
    unbilled = qenergy.unbillable(wh, list(site or []), *span) if billed else []
    if unbilled:
        raise fail(f"site {unbilled[0].site_id} cannot be billed: {unbilled[0].reason}")
    return list(site or [])


def _whatif(
    ctx: typer.Context, site: list[str] | None, segment: str | None, month: str | None, to_month: str | None,
    scope: str, doing: Callable[[list[str], dt.date, dt.date], str],
    query: Callable[[WarehouseLike, dt.date, dt.date, list[str]], TableResult],
) -> TableResult:  # fmt: skip
    """Run a what-if ``query(wh, first month, last month, site ids)`` over the sites of --site or --segment, under
    a spinner saying ``doing(ids, first, last)`` (see :func:`run_busy`). *scope*: ``any`` site, ``billed``
    (named sites have a utility tariff) or ``billed in the months`` (they have one in the months, which are checked
    first)."""
    wh = ctx.obj.warehouse(read_only=True)
    if scope == "billed in the months":
        lo, hi = month_span(wh, month, to_month)
        ids = _scope(wh, site, segment, months=(lo, hi))
    else:
        ids = _scope(wh, site, segment, billed=scope == "billed")
        lo, hi = month_span(wh, month, to_month)
    return run_busy(doing(ids, lo, hi), lambda: query(wh, lo, hi, ids))


@whatif_app.command("power-cap")
def whatif_power_cap(
    ctx: typer.Context,
    site: SiteOpt = None,
    segment: SegmentOpt = None,
    month: MonthOpt = None,
    to_month: LastMonthOpt = None,
    cap_kw: Annotated[
        float | None, typer.Option("--cap-kw", help="Site cap \\[kW]; default: try 10-100 % of each site's peak.")
    ] = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """Managed charging under a site kW cap: demand charge saved, energy revenue lost, net margin change.

    Energy above the cap is deferred into each session's idle time before its
    (unchanged) departure; what does not fit is lost with its revenue per kWh.
    Without --cap-kw every cap from 10 % to 100 % of the site's own peak is
    tried and `best` marks the one with the highest margin.
    """
    from evrevops.query import energy as qenergy

    finite(cap_kw, "--cap-kw", 0, 1_000_000, above=True)
    result = _whatif(
        ctx, site, segment, month, to_month, "billed",
        lambda ids, lo, hi: f"managing {len(ids)} site(s) under a cap, {lo:%Y-%m} … {hi:%Y-%m}",
        lambda wh, lo, hi, ids: qenergy.power_cap(wh, lo, hi, ids, cap_kw=cap_kw),
    )  # fmt: skip
    show = ["site_id", "month", "cap_kw", "best", "baseline_peak_kw", "margin_change_minor", "demand_charge_saved_minor",
            "revenue_lost_minor", "bill_change_minor", "energy_lost_kwh"]  # fmt: skip
    render(result, fmt, title=result.title, show=show)


@whatif_app.command("price")
def whatif_price(
    ctx: typer.Context,
    tariff: Annotated[str, typer.Option("--tariff", help="The driver tariff to try (OCPI tariff_id, cc*party*id).")],
    site: SiteOpt = None,
    segment: SegmentOpt = None,
    month: MonthOpt = None,
    to_month: LastMonthOpt = None,
    elasticity: Annotated[
        float | None,
        typer.Option(help="Price elasticity of kWh demand, -10 to 10 (e.g. -0.3); default: no demand response."),
    ] = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """The same sessions under another driver tariff: energy revenue side by side.

    No demand response is assumed unless --elasticity is given (the output says which).
    """
    from evrevops.query import energy as qenergy

    finite(elasticity, "--elasticity", -10, 10)
    result = _whatif(
        ctx, site, segment, month, to_month, "any",
        lambda ids, lo, hi: f"repricing {len(ids)} site(s) under {tariff}",
        lambda wh, lo, hi, ids: qenergy.driver_price(wh, lo, hi, ids, tariff, elasticity),
    )  # fmt: skip
    render(result, fmt, title=result.title)


@whatif_app.command("tariff")
def whatif_tariff(
    ctx: typer.Context,
    tariff: Annotated[str, typer.Option("--tariff", help="The utility tariff to try (utility_tariff_id).")],
    site: SiteOpt = None,
    segment: SegmentOpt = None,
    month: MonthOpt = None,
    to_month: LastMonthOpt = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """The same load under another utility tariff (e.g. an EV rate): bills side by side, per tariff part of a month."""
    from evrevops.query import energy as qenergy

    result = _whatif(
        ctx, site, segment, month, to_month, "billed in the months",
        lambda ids, lo, hi: f"billing {len(ids)} site(s) under {tariff}",
        lambda wh, lo, hi, ids: qenergy.utility_tariff(wh, lo, hi, ids, tariff),
    )  # fmt: skip
    table = result.table
    if fmt is OutFormat.table:
        cols = ["site_id", "month", "baseline_tariff", "baseline_total_minor", "scenario_total_minor",
                "demand_charge_saved_minor", "margin_change_minor"]  # fmt: skip
        if "first_on" in table.column_names:
            keys = list(zip(table.column("site_id").to_pylist(), table.column("month").to_pylist(), strict=True))
            if len(set(keys)) < len(keys):  # a month with a tariff change: its parts' days
                cols[2:2] = ["first_on", "last_on"]
        table = table.select([c for c in cols if c in table.column_names])
    render(table, fmt, title=result.title)
