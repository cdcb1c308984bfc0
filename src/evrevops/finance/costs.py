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
"""

from __future__ import annotations

CAPEX_TYPES = ("hardware", "installation", "make_ready")
OPEX_TYPES = ("network", "maintenance", "payment_processing", "site_lease", "other")
COST_TYPES = CAPEX_TYPES + OPEX_TYPES


def resolved_sql(sites: str = "sites", costs: str = "site_costs") -> str:
    """SQL of every site's cost rows: its own, and its segment's defaults for the cost types it has none of."""
    return f"""
WITH own AS (
    SELECT c.* FROM {costs} c JOIN {sites} s ON s.site_id = c.site_id
), dflt AS (
    SELECT s.site_id AS for_site, c.* EXCLUDE (site_id)
    FROM {costs} c JOIN {sites} s ON c.site_id IS NULL AND c.segment = s.segment
    WHERE NOT EXISTS (SELECT 1 FROM own o WHERE o.site_id = s.site_id AND o.cost_type = c.cost_type)
)
SELECT site_id, cost_id, cost_type, basis, amount_minor, rate_pct, currency, incurred_on, start_on, end_on FROM own
UNION ALL
SELECT for_site, cost_id, cost_type, basis, amount_minor, rate_pct, currency, incurred_on, start_on, end_on FROM dflt
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
