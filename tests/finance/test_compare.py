"""`model compare`: the same site as hardware sale, CaaS and software only, by hand."""

from __future__ import annotations

import pytest

from evrevops.core.vocabulary import REVENUE_MODELS
from evrevops.finance import compare
from evrevops.finance import unit_economics as ue
from tests.finance import hand


@pytest.fixture(scope="module")
def prices(tmp_path_factory):
    p = tmp_path_factory.mktemp("prices") / "prices.toml"
    p.write_text('[prices]\ncaas_per_port_month = "120.00"\nsoftware_per_port_month = "30.00"\n')
    return p


def test_a_hardware_sale_site_priced_as_caas_and_software(wh, prices):
    rows = {r["revenue_model"]: r for r in compare.compare(wh, "W", prices_file=prices).to_pylist()}
    assert [m for m in REVENUE_MODELS] == list(rows)
    hw, caas, sw = rows["hardware_sale"], rows["caas"], rows["software_only"]
    # the site's own model is its contracts' cash flow, as unit-economics reports it
    own = {r["site_id"]: r for r in ue.sites(wh).to_pylist()}["W"]
    assert hw["actual"] and hw["priced_from"] == "the site's contracts"
    assert {k: hw[k] for k in own if k != "revenue_model"} == {k: own[k] for k in own if k != "revenue_model"}
    # CaaS at $120 a port-month: the operator now owns the chargers ($6,800 in December, $2,500 installation),
    # bears the fleet maintenance default ($18) and the network ($5): −240,300 in January, then 9,700 a month
    assert (caas["capex_minor"], caas["incentives_minor"], caas["caas_per_port_month_minor"]) == (930_000, 0, 12_000)
    assert caas["energy_position"] == "operator" and caas["operating_cash_flow_minor"] == 9_700
    assert caas["payback_months"] == 95  # −680,000 − 240,300 + 95 × 9,700 ≥ 0
    assert caas["priced_from"].startswith("caas_per_port_month: price file")
    # software only: $30 − $5 a month from commissioning, nothing to pay back
    assert (sw["capex_minor"], sw["operating_cash_flow_minor"], sw["payback_months"]) == (0, 2_500, 0)
    assert sw["total_cash_flow_minor"] == 120 * 2_500


def test_a_missing_reference_price_is_named(wh, tmp_path):
    # no other public DC site sells hardware: the hardware sale of H has no reference
    with pytest.raises(ValueError, match="no reference price for hardware_per_charger, installation_per_port"):
        compare.compare(wh, "H")
    bad = tmp_path / "bad.toml"
    bad.write_text('[prices]\ncaas_fee = "1"\n')
    with pytest.raises(ValueError, match="unknown price.*caas_fee"):
        compare.compare(wh, "H", prices_file=bad)
    with pytest.raises(ValueError, match="unknown site"):
        compare.compare(wh, "NOPE")


def test_reference_prices_come_from_sites_like_it(finance_db, tmp_path):
    # two more fleet hardware sales: W2 like W (19.2 kW), W3 at 9.6 kW
    w = hand.extended(
        finance_db,
        tmp_path,
        sites=(
            "site_id,customer_id,segment,revenue_model,time_zone,charger_id,port_id,power_type,rated_kw,commissioned_on\n"
            "W2,CW,fleet,hardware_sale,America/Chicago,CW2,W21,AC_1_PHASE,19.2,2025-01-01\n"
            "W3,CW,fleet,hardware_sale,America/Chicago,CW3,W31,AC_1_PHASE,9.6,2025-01-01\n"
        ),
        contracts=(
            "contract_id,line_id,customer_id,site_id,line_type,event,effective_on,end_on,ports,quantity,unit_price,currency\n"
            "K-W2,L1,CW,W2,hardware,new,2025-01-01,,,1,4000.00,USD\n"
            "K-W2,L3,CW,W2,software,new,2025-01-01,,1,,25.00,USD\n"
            "K-W3,L1,CW,W3,hardware,new,2025-01-01,,,1,1000.00,USD\n"
        ),
    )
    ref = compare.reference_prices(w, compare._site(w, "W"))
    # level 1: the site like it (W2); W's own rows never price W
    assert (ref["hardware_per_charger"].minor, ref["software_per_port_month"].minor) == (400_000, 2_500)
    assert ref["hardware_per_charger"].source == "median of 1 site(s): fleet AC_1_PHASE 19.2 kW"
    # a 7.2 kW fleet site has no twin: per kW over W ($5,000 / 19.2), W2 ($4,000 / 19.2) and W3 ($1,000 / 9.6),
    # median $208.33/kW × 7.2 kW = $1,500
    site = {**compare._site(w, "W"), "site_id": "X", "rated_kw": 7.2}
    ref = compare.reference_prices(w, site)
    assert ref["hardware_per_charger"].minor == 150_000
    assert "per kW × 7.2 kW" in ref["hardware_per_charger"].source
    w.close()
