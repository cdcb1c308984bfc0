"""The operator's cost book and who bears each cost under each revenue model (handbook §7).

A cost-book row (``site_costs``, "Costs CSV" in docs/formats.md) is one cost of one site, or a
segment's default for every site of that segment without a row of that ``cost_type``:

* **capex** (``hardware``, ``installation``, ``make_ready``): ``one_time``, dated
  ``incurred_on``; it is the cost of building the site whoever pays it;
* **operating costs** (``network``, ``maintenance``, ``payment_processing``, ``site_lease``,
  ``other``): ``per_port_month`` (prorated by the days each port is in service),
  ``per_month`` (by the days the site has a port in service), ``per_session``,
  ``pct_of_energy_revenue`` or ``one_time``, within ``[start_on, end_on)`` when given.

Who bears a cost depends on the revenue model (:func:`operator_bears_sql`):

================== ============= ============= =============
cost type          hardware_sale caas          software_only
================== ============= ============= =============
hardware           operator [1]_ operator [2]_ customer
installation       operator [1]_ operator [2]_ customer
make_ready         customer      operator [2]_ customer
network, other     operator      operator      operator
maintenance        operator [3]_ operator      customer
site_lease         customer      operator [4]_ customer
payment_processing whoever holds the energy position
================== ============= ============= =============

.. [1] cost of sales of the hardware and installation it sells;
.. [2] capex of the chargers it owns, less incentives;
.. [3] when the site has a maintenance contract line;
.. [4] when the operator also holds the energy position (a host paying a CaaS fee is not
   paid rent by the operator).

Revenue model, energy position and segment are the site's facts on the last day of the month
a cost falls in (:mod:`evrevops.warehouse.site_history`): a site that turns from a hardware
sale into CaaS bears CaaS costs from that month on, and a segment's defaults apply in the
months the site is of that segment. A site "has a maintenance contract line" in a month when
one started by the month's end.
"""

from __future__ import annotations

from evrevops.warehouse import site_history as sh

CAPEX_TYPES = ("hardware", "installation", "make_ready")
OPEX_TYPES = ("network", "maintenance", "payment_processing", "site_lease", "other")
COST_TYPES = CAPEX_TYPES + OPEX_TYPES


def resolved_sql(sites: str = "sites", costs: str = "site_costs", segments: str = sh.VIEW) -> str:
    """SQL of every site's cost rows: its own, and its segments' defaults for the cost types it has none of.

    A site's segment is a dated fact (:mod:`evrevops.warehouse.site_history`): the defaults of
    every segment the site has been in (relation *segments*: ``site_id``, ``segment``) are
    returned, each with ``default_segment`` naming it (NULL on the site's own rows). A default
    row applies in a month only when the site is of that segment on the month's last day; the
    caller joins the month's facts and checks it.
    """
    return f"""
WITH own AS (
    SELECT c.* FROM {costs} c JOIN {sites} s ON s.site_id = c.site_id
), seg AS (
    SELECT DISTINCT g.site_id, g.segment FROM {segments} g JOIN {sites} s ON s.site_id = g.site_id
    WHERE g.segment IS NOT NULL
), dflt AS (
    SELECT s.site_id AS for_site, c.* EXCLUDE (site_id)
    FROM {costs} c JOIN seg s ON c.site_id IS NULL AND c.segment = s.segment
    WHERE NOT EXISTS (SELECT 1 FROM own o WHERE o.site_id = s.site_id AND o.cost_type = c.cost_type)
)
SELECT site_id, cost_id, cost_type, basis, amount_minor, rate_pct, currency, incurred_on, start_on, end_on,
       CAST(NULL AS VARCHAR) AS default_segment
FROM own
UNION ALL
SELECT for_site, cost_id, cost_type, basis, amount_minor, rate_pct, currency, incurred_on, start_on, end_on,
       segment AS default_segment
FROM dflt
"""


def operator_bears_sql(cost_type: str, model: str, position: str, has_maintenance: str) -> str:
    """SQL boolean: the operator bears a cost of *cost_type* at a site of *model* (table in the module docstring)."""
    return f"""(CASE {cost_type}
        WHEN 'hardware' THEN {model} IN ('hardware_sale', 'caas')
        WHEN 'installation' THEN {model} IN ('hardware_sale', 'caas')
        WHEN 'make_ready' THEN {model} = 'caas'
        WHEN 'site_lease' THEN {model} = 'caas' AND {position} = 'operator'
        WHEN 'maintenance' THEN {model} = 'caas' OR coalesce({has_maintenance}, FALSE)
        WHEN 'payment_processing' THEN {position} = 'operator'
        ELSE TRUE END)"""
