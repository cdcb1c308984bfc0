"""Who holds a site's energy position: sells its charging to drivers and pays its utility bill.

The site's **energy revenue** (its sessions' billed amounts) and **energy cost** (its utility
bill) are the operator's revenue and cost only where the operator holds the energy position.
Where the customer (the site host or fleet) holds it, they are the customer's, and the
operator earns from the site only what its contract says, which may include a **share of the
energy revenue** (a CaaS fee "plus a share of energy revenue", handbook §2).

``sites.energy_position`` (``operator`` or ``customer``, sites CSV) states it; when empty it
follows the site's revenue model:

* ``caas``: the operator owns and operates the chargers (handbook §1) and holds the energy
  position, unless the site's CaaS line carries an energy share: then the customer sells the
  charging and pays the operator the fee plus the share;
* ``hardware_sale`` and ``software_only``: the customer owns the chargers and holds it.
"""

from __future__ import annotations

import datetime as dt

from evrevops.metrics.calendar import month_grid_sql

POSITIONS = ("operator", "customer")


def positions_sql(contracts: str = "contracts", sites: str = "sites") -> str:
    """SQL of ``(site_id, revenue_model, energy_position)`` for every site (rule in the module docstring)."""
    return f"""
SELECT s.site_id, s.revenue_model,
       coalesce(s.energy_position,
                CASE WHEN s.revenue_model = 'caas' AND NOT coalesce(sh.has_share, FALSE) THEN 'operator'
                     ELSE 'customer' END) AS energy_position
FROM {sites} s LEFT JOIN (
    SELECT site_id, bool_or(TRY_CAST(energy_share_pct AS DECIMAL(9, 4)) > 0) AS has_share
    FROM {contracts} WHERE line_type = 'caas' AND event <> 'cancel' GROUP BY site_id
) sh ON sh.site_id = s.site_id
"""


def share_sql(first: dt.date, last: dt.date, contracts: str = "contracts") -> str:
    """SQL of each site-month's energy share: ``(site_id, month, share_num, share_den)``.

    The share of a month is ``round(energy revenue × share_num / share_den)`` with
    ``share_num / share_den = Σ pct × days in force / (100 × days in the month)`` over the
    site's CaaS rows with an ``energy_share_pct`` (``new`` and ``renew`` rows, which follow
    one another; an ``amend`` row adds ports, not a second share): prorated like the fee, in
    integers (``pct`` to four decimals).
    """
    return f"""
WITH months AS (
    {month_grid_sql(first, last)}
)
SELECT r.site_id, m.ms AS month,
       CAST(sum(CAST(CAST(r.energy_share_pct AS DECIMAL(9, 4)) * 10000 AS BIGINT)
                * date_diff('day', greatest(r.effective_on, m.ms), least(coalesce(r.end_on, m.me), m.me)))
            AS BIGINT) AS share_num,
       CAST(1000000 * any_value(m.days) AS BIGINT) AS share_den
FROM {contracts} r JOIN months m ON r.effective_on < m.me AND (r.end_on IS NULL OR r.end_on > m.ms)
WHERE r.line_type = 'caas' AND r.event IN ('new', 'renew')
  AND TRY_CAST(r.energy_share_pct AS DECIMAL(9, 4)) > 0
GROUP BY r.site_id, m.ms
"""
