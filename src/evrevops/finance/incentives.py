"""Incentives that reduce a site's capex: grants, rebates and tax credits as dated programs (handbook §7).

An incentive row (``incentives``, "Incentives CSV") is an award to one site (``site_id``) or a
program for every site of a ``segment``. It applies to a site when

* its status is ``awarded`` or ``paid`` (``applied`` too when asked; ``denied`` never; a
  program row without a status applies to every eligible site), and
* the site's commissioning date falls within the program's ``[start_on, end_on]``.

Its **basis** is the site's capex of the ``eligible_costs`` types (all capex when none are
listed); a tax credit's basis is reduced by the grants and rebates awarded to the site, as a
tax basis is by grants (so an 80 % grant and a 30 % credit do not add up to 110 %). Its
**nominal** amount is the least of those it states: its fixed ``amount``, ``pct_of_eligible``
of its basis, and its ``cap`` (an award never exceeds its program's share of the cost). Awards stack grant → rebate → tax credit (then by
``incentive_id``), and the stack is cut where it would pass the site's capex, so capex less
incentives is never negative: ``award_i = max(0, min(nominal_i, capex − Σ_{j<i} nominal_j))``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from evrevops.core.money import div_round_sql

KIND_ORDER = {"grant": 1, "rebate": 2, "tax_credit": 3}


def nominal_minor(
    eligible_minor: int, pct: str | Decimal | None = None, cap_minor: int | None = None, amount_minor: int | None = None
) -> int:
    """An incentive's nominal amount [minor units]: its fixed amount, or *pct* % of the eligible cost, capped.

    Parameters
    ----------
    eligible_minor : int
        The site's capex of the incentive's eligible cost types [minor units].
    pct : str or Decimal, optional
        Percent of the eligible cost (``pct_of_eligible``), exact.
    cap_minor : int, optional
        The program's maximum [minor units].
    amount_minor : int, optional
        A fixed amount [minor units], no more than *pct* of the eligible cost when both are given.

    Notes
    -----
    ``nominal = min(amount, round_half_up(eligible × pct / 100), cap)`` over the terms given
    (0 with neither an amount nor a percent).
    """
    terms = [] if amount_minor is None else [amount_minor]
    if pct is not None:
        terms.append(int((Decimal(eligible_minor) * Decimal(str(pct)) / 100).to_integral_value(ROUND_HALF_UP)))
    if not terms:
        return 0
    return min(terms + ([] if cap_minor is None else [cap_minor]))


def tax_basis_minor(eligible_minor: int, grants_minor: int) -> int:
    """A tax credit's basis: its eligible cost less the grants and rebates awarded to the site, never below 0."""
    return max(0, eligible_minor - grants_minor)


def stack(nominals: list[int], capex_minor: int) -> list[int]:
    """Awards of incentives in stacking order, cut where their sum would pass *capex_minor*."""
    out, used = [], 0
    for n in nominals:
        a = max(0, min(n, capex_minor - used))
        out.append(a)
        used += n
    return out


def awards_sql(capex: str, sites: str = "sites", include_applied: bool = False) -> str:
    """SQL of every applicable incentive of every site, with its nominal amount and award.

    *capex* is a relation ``(site_id, cost_type, currency, amount_minor)`` of the capex the
    operator bears (one row per cost row); *sites* a relation ``(site_id, segment)``, the segment a
    program of a segment is matched on (a dated site fact: :mod:`evrevops.finance.cashflow` passes
    the site's in its commissioning month). Returns ``site_id``, ``incentive_id``, ``program``,
    ``kind``, ``currency``, ``eligible_minor``, ``basis_minor``, ``nominal_minor``,
    ``award_minor``.
    """
    statuses = "('awarded', 'paid', 'applied')" if include_applied else "('awarded', 'paid')"

    def nominal(basis: str, q: str) -> str:
        # the least of the fixed amount, the percent of the basis and the cap, of those given
        pct = div_round_sql(f"{basis} * CAST(CAST({q}pct_of_eligible AS DECIMAL(18, 6)) * 10000 AS BIGINT)", "1000000")
        big = "9223372036854775807"
        return f"""CASE WHEN {q}amount_minor IS NULL AND {q}pct_of_eligible IS NULL THEN 0
                    ELSE least(coalesce({q}amount_minor, {big}), coalesce({pct}, {big}), coalesce({q}cap_minor, {big})) END"""

    return f"""
WITH site_capex AS (
    SELECT site_id, currency, sum(amount_minor) AS capex FROM {capex} GROUP BY site_id, currency
), comm AS (
    SELECT site_id, min(commissioned_on) AS commissioned_on FROM ports GROUP BY site_id
), cand AS (
    SELECT s.site_id, i.incentive_id, i.program, i.kind, i.pct_of_eligible, i.cap_minor, i.amount_minor,
           coalesce(i.currency, k.currency) AS currency, i.eligible_costs, k.capex
    FROM incentives i
    JOIN {sites} s ON (i.site_id = s.site_id OR (i.site_id IS NULL AND i.segment = s.segment))
    JOIN site_capex k ON k.site_id = s.site_id
    LEFT JOIN comm c ON c.site_id = s.site_id
    WHERE (i.status IS NULL OR i.status IN {statuses})
      AND (i.start_on IS NULL OR c.commissioned_on IS NULL OR c.commissioned_on >= i.start_on)
      AND (i.end_on IS NULL OR c.commissioned_on IS NULL OR c.commissioned_on <= i.end_on)
      AND (i.currency IS NULL OR i.currency = k.currency)
), elig AS (
    SELECT c.site_id, c.incentive_id, coalesce(sum(x.amount_minor), 0) AS eligible_minor
    FROM cand c LEFT JOIN {capex} x ON x.site_id = c.site_id AND x.currency = c.currency
     AND (c.eligible_costs IS NULL OR c.eligible_costs = ''
          OR list_contains(string_split(c.eligible_costs, ';'), x.cost_type))
    GROUP BY c.site_id, c.incentive_id
), gr AS (
    -- grants and rebates: on their eligible cost
    SELECT c.*, e.eligible_minor, e.eligible_minor AS basis_minor,
           {nominal("e.eligible_minor", "c.")} AS nominal_minor
    FROM cand c JOIN elig e ON e.site_id = c.site_id AND e.incentive_id = c.incentive_id
    WHERE c.kind <> 'tax_credit'
), gr_award AS (
    SELECT *, greatest(0, least(nominal_minor, capex - coalesce(sum(nominal_minor) OVER (
                  PARTITION BY site_id ORDER BY CASE kind WHEN 'grant' THEN 1 ELSE 2 END, incentive_id
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))) AS award_minor
    FROM gr
), gr_sum AS (
    SELECT site_id, sum(award_minor) AS awarded FROM gr_award GROUP BY site_id
), tc AS (
    -- tax credits: on their eligible cost less the grants and rebates awarded to the site
    SELECT c.*, e.eligible_minor, greatest(0, e.eligible_minor - coalesce(g.awarded, 0)) AS basis_minor,
           coalesce(g.awarded, 0) AS awarded
    FROM cand c JOIN elig e ON e.site_id = c.site_id AND e.incentive_id = c.incentive_id
    LEFT JOIN gr_sum g ON g.site_id = c.site_id
    WHERE c.kind = 'tax_credit'
), tc_nom AS (
    SELECT *, {nominal("basis_minor", "")} AS nominal_minor
    FROM tc
), tc_award AS (
    SELECT * EXCLUDE (awarded), greatest(0, least(nominal_minor, capex - awarded - coalesce(sum(nominal_minor) OVER (
                  PARTITION BY site_id ORDER BY incentive_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)))
               AS award_minor
    FROM tc_nom
), awards AS (
    SELECT site_id, incentive_id, program, kind, currency, eligible_minor, basis_minor, nominal_minor, award_minor
    FROM gr_award
    UNION ALL
    SELECT site_id, incentive_id, program, kind, currency, eligible_minor, basis_minor, nominal_minor, award_minor
    FROM tc_award
)
SELECT site_id, incentive_id, program, kind, currency, CAST(eligible_minor AS BIGINT) AS eligible_minor,
       CAST(basis_minor AS BIGINT) AS basis_minor, CAST(nominal_minor AS BIGINT) AS nominal_minor,
       CAST(award_minor AS BIGINT) AS award_minor
FROM awards ORDER BY site_id, CASE kind WHEN 'grant' THEN 1 WHEN 'rebate' THEN 2 ELSE 3 END, incentive_id
"""
