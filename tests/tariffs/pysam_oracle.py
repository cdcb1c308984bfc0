"""NREL-PySAM ``Utilityrate5`` as an independent oracle for the bill engine (test-only dependency).

Its calendar is a 365-day year starting on a Monday (2018 is such a year);
the load is 8760 × 4 fifteen-minute averages [kW] on local standard time.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

LINES = {
    "energy_charge": "year1_monthly_ec_charge_without_system",
    "flat_demand_charge": "year1_monthly_dc_fixed_without_system",
    "tou_demand_charge": "year1_monthly_dc_tou_without_system",
    "fixed_charge": "year1_monthly_fixed_without_system",
    "minimum_charge_adjustment": "year1_monthly_minimum_without_system",
    "total": "year1_monthly_utility_bill_wo_sys",
}


def pysam_bills(rate: dict[str, Any], load_kw: np.ndarray) -> dict[str, list[float]]:
    """Monthly bill lines [$] of one year of 15-minute load under a URDB record."""
    import PySAM.Utilityrate5 as ur
    import PySAM.UtilityRateTools as tools

    assert len(load_kw) == 8760 * 4
    m = ur.new()
    # the converter mutates its input: pass a deep copy
    m.ElectricityRates.assign(tools.URDBv8_to_ElectricityRates(copy.deepcopy(rate)))
    m.Load.load = [float(x) for x in load_kw]
    m.SystemOutput.gen = [0.0] * len(load_kw)
    m.SystemOutput.degradation = [0]
    m.Lifetime.analysis_period = 1
    m.Lifetime.system_use_lifetime_output = 0
    m.Lifetime.inflation_rate = 0
    m.ElectricityRates.rate_escalation = [0]
    m.execute()
    return {line: list(getattr(m.Outputs, out)) for line, out in LINES.items()}
