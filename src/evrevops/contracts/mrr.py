"""Monthly recurring revenue and its movements (handbook §6).

The contract line events are replayed into **priced intervals** ``[effective_on, end_on)``
of ``ports × unit_price`` per month (view ``contract_lines``,
:mod:`evrevops.warehouse.contract_lines`; docs/formats.md, "Contracts CSV"): the MRR of a
customer on a day is the sum of its recurring intervals in force that day (``software``,
``caas`` and ``maintenance`` lines; a cancelled line has no interval after its cancellation;
a CaaS energy share is not recurring). A month's MRR is the MRR on its last day. The
intervals are derived from every event kept, so a month's MRR stays what it was whatever
is ingested later about later dates.

Movements of month *M* per customer (or per customer and stream), with
``start`` = MRR at the end of *M−1* and ``end`` = at the end of *M*:

* ``new``: start 0, end > 0, and the customer never had MRR before;
* ``reactivation``: start 0, end > 0, after an earlier month with MRR;
* ``expansion`` / ``contraction``: both > 0, end above / below start;
* ``churn``: start > 0, end 0;

so ``mrr_end = mrr_start + new + expansion + reactivation − contraction −
churn`` holds for every row, and for every sum of rows. Roll-ups (segment,
stream, network) add the customers' movements (a customer's segment is the customers CSV's,
an account's, not a site's dated fact); amounts in different currencies are never added.

A customer's **cohort** is the calendar quarter of its first recurring
contract (``2025Q1``).

**Churn** of the month, per group: ``logo_churn = accounts_churned / accounts_start`` (accounts
with MRR at the start, and none at the end; at ``--by stream`` an account is a customer's stream)
and ``revenue_churn = (churn + contraction) / mrr_start`` (gross revenue churn).

**NRR / GRR** (trailing twelve months) of a group: over the customers with MRR
twelve month-ends before *M*, ``NRR = Σ MRR_M / Σ MRR_{M−12}`` and ``GRR = Σ
min(MRR_M, MRR_{M−12}) / Σ MRR_{M−12}``, so GRR ≤ 100 % and GRR ≤ NRR.
Everything is integer minor units; NRR and GRR are fractions.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from evrevops.core.calendar import month_end, next_month
from evrevops.core.choices import MRR_BY as BY
from evrevops.warehouse import contract_lines as cl
from evrevops.warehouse.protocol import WarehouseLike

RECURRING = ("software", "caas", "maintenance")
COLUMNS = ("mrr_start", "new", "expansion", "contraction", "churn", "reactivation", "mrr_end")


def _month_ends(first: dt.date, last: dt.date) -> list[dt.date]:
    out, m = [], first.replace(day=1)
    while m <= last:
        out.append(month_end(m))
        m = next_month(m)
    return out


def mrr_sql(month: dt.date, by: str, lines: str = cl.VIEW) -> str:
    """SQL of the month's MRR movements at grain *by* (customer, segment, stream or network).

    *lines* is the relation of priced contract intervals (default: the ``contract_lines`` view).
    """
    if by not in BY:
        raise ValueError(f"unknown grain {by!r}; use one of {', '.join(BY)}")
    m0 = month.replace(day=1)
    end_m = _month_ends(m0, m0)[0]
    start_m = m0 - dt.timedelta(days=1)
    prev_year = _month_ends(dt.date(m0.year - 1, m0.month, 1), dt.date(m0.year - 1, m0.month, 1))[0]
    recurring = ", ".join(f"'{t}'" for t in RECURRING)
    stream = "line_type" if by == "stream" else "'recurring'"
    key = {"customer": "customer_id", "segment": "segment", "stream": "stream", "cohort": "cohort", "network": "'network'"}[by]  # fmt: skip
    return f"""
WITH rows AS (
    SELECT c.customer_id, {stream} AS stream, c.currency, c.effective_on, c.end_on,
           CAST(c.ports AS BIGINT) * c.unit_price_minor AS mrr
    FROM {lines} c
    WHERE c.line_type IN ({recurring}) AND c.ports IS NOT NULL AND c.unit_price_minor IS NOT NULL
      AND c.customer_id IS NOT NULL
), ends AS (
    -- every month-end from the first contract to this month (new vs reactivation needs the history)
    SELECT CAST(d AS DATE) AS d FROM range(
        (SELECT date_trunc('month', min(effective_on)) FROM rows), DATE '{end_m}' + INTERVAL 1 DAY, INTERVAL 1 MONTH) t(d)
), me AS (
    -- each customer's (and stream's) MRR at every month-end
    SELECT r.customer_id, r.stream, r.currency, CAST(e.d + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE) AS d, sum(r.mrr) AS mrr
    FROM rows r JOIN ends e
      ON r.effective_on <= CAST(e.d + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE)
     AND (r.end_on IS NULL OR r.end_on > CAST(e.d + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE))
    GROUP BY ALL
), cur AS (
    SELECT customer_id, stream, currency,
           coalesce(sum(CASE WHEN d = DATE '{start_m}' THEN mrr END), 0) AS mrr_start,
           coalesce(sum(CASE WHEN d = DATE '{end_m}' THEN mrr END), 0) AS mrr_end,
           coalesce(sum(CASE WHEN d = DATE '{prev_year}' THEN mrr END), 0) AS mrr_year_ago,
           coalesce(bool_or(d < DATE '{start_m}' AND mrr > 0), FALSE) AS had_before
    FROM me GROUP BY customer_id, stream, currency
), cohorts AS (
    -- the quarter of each customer's first recurring contract (handbook §6: cohort = quarter of first deployment)
    SELECT customer_id, strftime(min(effective_on), '%Y') || 'Q' || CAST(quarter(min(effective_on)) AS VARCHAR) AS cohort
    FROM rows GROUP BY customer_id
), mv AS (
    SELECT c.*, s.segment, h.cohort,
           CASE WHEN mrr_start = 0 AND mrr_end > 0 AND NOT had_before THEN mrr_end ELSE 0 END AS new,
           CASE WHEN mrr_start = 0 AND mrr_end > 0 AND had_before THEN mrr_end ELSE 0 END AS reactivation,
           CASE WHEN mrr_start > 0 AND mrr_end > mrr_start THEN mrr_end - mrr_start ELSE 0 END AS expansion,
           CASE WHEN mrr_start > 0 AND mrr_end > 0 AND mrr_end < mrr_start THEN mrr_start - mrr_end ELSE 0 END
               AS contraction,
           CASE WHEN mrr_start > 0 AND mrr_end = 0 THEN mrr_start ELSE 0 END AS churn
    FROM cur c LEFT JOIN customers s ON s.customer_id = c.customer_id LEFT JOIN cohorts h ON h.customer_id = c.customer_id
    WHERE mrr_start <> 0 OR mrr_end <> 0 OR mrr_year_ago <> 0
)
SELECT {key} AS {by if by != "network" else "scope"}, DATE '{m0}' AS month, currency,
       CAST(sum(mrr_start) AS BIGINT) AS mrr_start, CAST(sum(new) AS BIGINT) AS new,
       CAST(sum(expansion) AS BIGINT) AS expansion, CAST(sum(contraction) AS BIGINT) AS contraction,
       CAST(sum(churn) AS BIGINT) AS churn, CAST(sum(reactivation) AS BIGINT) AS reactivation,
       CAST(sum(mrr_end) AS BIGINT) AS mrr_end, CAST(12 * sum(mrr_end) AS BIGINT) AS arr_end,
       CAST(sum(CASE WHEN mrr_year_ago > 0 THEN mrr_end ELSE 0 END) AS DOUBLE)
           / nullif(sum(mrr_year_ago), 0) AS nrr,
       CAST(sum(CASE WHEN mrr_year_ago > 0 THEN least(mrr_end, mrr_year_ago) ELSE 0 END) AS DOUBLE)
           / nullif(sum(mrr_year_ago), 0) AS grr,
       count(*) FILTER (WHERE mrr_start > 0) AS accounts_start,
       count(*) FILTER (WHERE mrr_start > 0 AND mrr_end = 0) AS accounts_churned,
       CAST(count(*) FILTER (WHERE mrr_start > 0 AND mrr_end = 0) AS DOUBLE)
           / nullif(count(*) FILTER (WHERE mrr_start > 0), 0) AS logo_churn,
       CAST(sum(churn) + sum(contraction) AS DOUBLE) / nullif(sum(mrr_start), 0) AS revenue_churn
FROM mv GROUP BY ALL ORDER BY 1, currency
"""


def movements(wh: WarehouseLike, month: dt.date, by: str = "customer") -> pa.Table:
    """MRR movements of local *month* at grain *by*, in integer minor units with ``currency``.

    Returns
    -------
    pyarrow.Table
        The grain's key (``customer``, ``segment``, ``stream``, ``cohort`` or
        ``scope`` for the network), ``month``, ``currency``, ``mrr_start``, ``new``,
        ``expansion``, ``contraction``, ``churn``, ``reactivation``,
        ``mrr_end``, ``arr_end`` (12 × ``mrr_end``) [minor units]; ``nrr``, ``grr``
        (fractions, trailing twelve months; null without MRR a year ago); ``accounts_start``,
        ``accounts_churned`` (counts), ``logo_churn`` and ``revenue_churn`` (fractions of the
        month; null without MRR at its start).
    """
    return wh.fetch(mrr_sql(month, by))
