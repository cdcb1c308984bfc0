"""The notes on stderr that name a report's scope against the headline's: energy revenue and ports.

The figures come from :mod:`evrevops.query.scope`; this module only words them (money in the
currency's major units with its code).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from evrevops.cli.render import err

if TYPE_CHECKING:
    from evrevops.query.scope import EnergyScope, PortsScope


def money(minor: int, currency: str) -> str:
    """*minor* units of *currency* in major units with separators and the code: ``34,271.37 USD``."""
    from evrevops.core.money import minor_to_decimal

    return f"{minor_to_decimal(minor, currency):,} {currency}"


def _sites(n: int) -> str:
    return f"{n:,} site" + ("" if n == 1 else "s")


def energy_lines(scope: EnergyScope) -> list[str]:
    """What the energy stream covers and what charging revenue it leaves out, per currency, and why."""
    from evrevops.query import scope as qscope

    lines = []
    for cur in scope.currencies:
        every = scope.all_sites_minor(cur)
        own = scope.operator_minor(cur)
        n = scope.sites(cur, qscope.OPERATOR)
        head = f"energy ({cur}): the operator's charging revenue, {money(own, cur)} " + (
            f"at the {_sites(n)} where it holds the energy position"
            if n
            else "(it holds the energy position at no site)"
        )
        if every == own:
            lines.append(head + "; every site's, as the headline's energy_revenue_minor")
            continue
        months = "" if scope.first_month == scope.last_month else ", over the months"
        lines.append(head + f", of {money(every, cur)} at every site (the headline's energy_revenue_minor{months})")
        parts = []
        for r in scope.left_out(cur):
            amount, sites = money(r["energy_revenue_minor"], cur), _sites(r["sites"])
            parts.append(
                f"{r['revenue_model'] or 'no revenue model'} {sites} {amount}"
                if r["holder"] == qscope.CUSTOMER
                else f"{sites} the warehouse has no facts for (no sites CSV row or location) {amount}"
            )
        lines.append(
            f"left out {money(scope.left_out_minor(cur), cur)}: the charging revenue of sites where the "
            "customer holds the energy position is theirs (the operator's share, where a contract gives one, is "
            "energy_share): " + "; ".join(parts)
        )
    return lines


def ports_lines(scope: PortsScope) -> list[str]:
    """For each month whose P&L ports differ from the headline's: both counts and the ports of each reason."""
    lines = []
    for month in scope.months:
        pnl, head = scope.pnl_ports(month), scope.headline_ports(month)
        rows = scope.only_in_headline(month) + scope.only_in_pnl(month)
        if not rows:
            continue
        why = "; ".join(
            f"{r['ports']:,} {'not here' if r['in_headline'] else 'not in the headline'}: {r['reason']} "
            f"({r['port_ids']}{', …' if r['ports'] > 5 else ''})"
            for r in rows
        )
        lines.append(
            f"ports {month}: {pnl:,} in service at the month's end at sites with facts; the headline counts "
            f"{head:,} with open time in the month: {why}"
        )
    return lines


def print_lines(lines: list[str]) -> None:
    """Each line on stderr, as plain text."""
    for line in lines:
        err.print(Text(line))
