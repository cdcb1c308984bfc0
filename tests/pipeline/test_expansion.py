"""Land and expand and the utilization ramp on the hand-built network (tests/fixtures/pipeline/README.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from evrevops.pipeline import expansion


def test_land_and_expansions_per_customer(wh):
    c = {r["customer_id"]: r for r in expansion.customers(wh).to_pylist()}
    assert (c["CA"]["landed_on"], c["CA"]["land_ports"], c["CA"]["expansions"]) == (dt.date(2023, 1, 1), 2, 2)
    # A1 grows by 2 ports on 1 July 2023 (181 days), A2 opens with 2 on 1 January 2024
    assert (c["CA"]["first_expansion_on"], c["CA"]["days_to_expand"], c["CA"]["expansion_ports"]) == (
        dt.date(2023, 7, 1), 181, 4
    )  # fmt: skip
    assert (c["CB"]["expansions"], c["CB"]["days_to_expand"], c["CB"]["expansion_ports"]) == (0, None, 0)
    assert (c["CC"]["days_to_expand"], c["CC"]["expansion_ports"]) == (31, 1)


def test_conversion_time_to_expand_and_ports(wh):
    net = expansion.summary(wh, "network").to_pylist()[0]
    # on 30 June 2025 (the last session): CA and CC expanded, CB did not
    assert (net["landed"], net["expanded"], net["conversion"]) == (3, 2, 2 / 3)
    # landed at least 12 months before: CA and CB
    assert (net["landed_mature"], net["expanded_mature"], net["mature_conversion"]) == (2, 1, 0.5)
    assert (net["median_days_to_expand"], net["mean_days_to_expand"]) == (106, 106)
    assert (net["expansion_ports"], net["expansion_ports_per_expanded"]) == (5, 2.5)
    assert net["expansion_ports_per_landed"] == pytest.approx(5 / 3)
    seg = {r["segment"]: r for r in expansion.summary(wh).to_pylist()}
    assert (seg["fleet"]["conversion"], seg["commercial"]["conversion"], seg["public_dc"]["conversion"]) == (1, 0, 1)
    # on 1 June 2023 CA had not expanded yet, and CC had not landed
    early = expansion.summary(wh, "network", as_of=dt.date(2023, 6, 1)).to_pylist()[0]
    assert (early["landed"], early["expanded"]) == (2, 0)


def test_utilization_ramp_by_months_since_commissioning(wh):
    r = {(x["segment"], x["months_since_commissioning"]): x for x in expansion.ramp(wh).to_pylist()}
    k0, k1, k5 = r[("public_dc", 0)], r[("public_dc", 1)], r[("public_dc", 5)]
    # month 0: C1a in January (10 h of 744) and C1b in February (5 h of 672)
    assert (k0["ports"], k0["charging_h"], k0["open_h"]) == (2, 15, 744 + 672)
    assert k0["utilization"] == pytest.approx(15 / 1416)
    # month 1: C1a in February (20 h of 672), C1b in March (0 of 743: Chicago springs forward on the 9th)
    assert (k1["open_h"], k1["utilization"]) == (672 + 743, pytest.approx(20 / 1415))
    assert (k5["ports"], k5["charging_h"]) == (1, 1)  # C1a in June; C1b's month 5 is after the data
    # the fleet's ports are years into service and idle: months 24 to 29 for A1a/A1b in 2025
    assert r[("fleet", 24)]["utilization"] == 0 and ("fleet", 0) not in r
    with pytest.raises(ValueError, match="unknown grain"):
        expansion.ramp(wh, by="planet")
