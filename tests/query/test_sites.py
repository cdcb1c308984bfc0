"""query.sites: the sites, a port's history, and refusing an unknown port."""

from __future__ import annotations

import pytest

from evrevops.query import sites as qsites


def test_sites_and_their_ids(metrics_wh):
    r = qsites.sites(metrics_wh)
    assert [(x["site_id"], x["ports"]) for x in r.table.to_pylist()] == [("A", 2), ("B", 1)]
    assert qsites.site_ids(metrics_wh) == ["A", "B"]
    assert qsites.site_ids(metrics_wh, "commercial") == ["B"]


def test_port_history_and_an_unknown_port(metrics_wh):
    h = qsites.port_history(metrics_wh, "A1")
    assert h.port_id == "A1" and h.history.num_rows >= 1
    assert set(h.history.table.column("site_id").to_pylist()) == {"A"}
    assert h.conflicts.num_rows == 0 and qsites.port_conflicts(metrics_wh).num_rows == 0
    with pytest.raises(ValueError, match="unknown port 'Z9'"):
        qsites.port_history(metrics_wh, "Z9")
