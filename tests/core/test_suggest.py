"""Unknown names: the close known ones first, then the known ones."""

from __future__ import annotations

from evrevops.core.suggest import MAX_LISTED, close_names, did_you_mean


def test_a_close_name_is_suggested_and_the_known_ones_listed():
    msg = did_you_mean("utilisation", ["sessions", "utilization", "energy_kwh"], "metric")
    assert msg == "unknown metric 'utilisation'; did you mean 'utilization'? known: sessions, utilization, energy_kwh"


def test_nothing_close_lists_the_known_ones_in_the_vocabularys_words():
    assert did_you_mean("planet", ["day", "month"], "period", lead="use one of") == (
        "unknown period 'planet'; use one of day, month"
    )


def test_case_and_separators_do_not_hide_a_name():
    assert close_names("Palo-Alto", ["paloalto", "boulder"]) == ["paloalto"]
    assert close_names("SESSION_CSV", ["session-csv", "sites-csv"])[0] == "session-csv"


def test_a_description_that_names_what_was_typed_suggests_its_name():
    hints = {"chargepoint": "ChargePoint station session export (City of Palo Alto layout)", "acn": "Caltech ACN"}
    assert close_names("palo_alto", ["acn", "chargepoint"], hints) == ["chargepoint"]


def test_no_known_names_and_long_lists_are_said_so():
    assert did_you_mean("x", [], "site") == "unknown site 'x'; there is none to choose from"
    many = [f"SITE-{i:05d}" for i in range(MAX_LISTED + 5)]
    assert did_you_mean("nope", many, "site").endswith(f"… ({MAX_LISTED + 5} in all)")
