"""The choices reports take and the defaults of the finance engines, defined once and light.

The engines read them (``finance.pnl.BY`` is :data:`PNL_BY`, ``finance.cashflow.DEFAULT_HORIZON_MONTHS``
is :data:`DEFAULT_HORIZON_MONTHS`, ...), and so do the command line's options, which name the
choices in their help and show the defaults: they are here, beside nothing heavy, so that building
the options (every ``evrevops ... --help``) imports no engine.
"""

from __future__ import annotations

#: grains of `unit-economics` (finance.unit_economics)
UNIT_ECONOMICS_BY = ("site", "segment", "revenue_model", "customer", "network")
#: grains of `pnl` (finance.pnl)
PNL_BY = ("segment", "site", "customer", "revenue_model", "network")
#: groupings of `pipeline` (pipeline.snapshot)
SNAPSHOT_BY = ("stage", "segment", "owner", "deal")
#: groupings of `pipeline win-rates` (pipeline.funnel)
WIN_RATE_BY = (
    "segment", "revenue_model", "owner", "economic_buyer_engaged", "utility_capacity_confirmed",
    "incentive_status", "roi_case_delivered", "network",
)  # fmt: skip
#: grains of `pipeline expansion` and `pipeline ramp` (pipeline.expansion)
EXPANSION_BY = ("segment", "network")
#: grains of `mrr` (contracts.mrr)
MRR_BY = ("customer", "segment", "stream", "cohort", "network")
#: grains of `revenue` (contracts.revenue)
REVENUE_BY = ("customer", "site", "segment", "revenue_model", "network")

#: months of cash flow from each site's commissioning month [months] (finance.cashflow)
DEFAULT_HORIZON_MONTHS = 120
#: discount rate of NPV and IRR [fraction per year] (finance.unit_economics)
DEFAULT_DISCOUNT_RATE = 0.08
#: useful life over which hardware is depreciated [months] (finance.pnl)
DEFAULT_USEFUL_LIFE_MONTHS = 120
#: Monte-Carlo runs of the hardware forecast, and its random seed (forecast.hardware)
DEFAULT_SIMS = 2000
DEFAULT_SEED = 7
