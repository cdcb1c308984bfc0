"""The smallest demo networks: from 1 to 10 ports over 1 or 2 months generate and ingest without a refusal.

Regression: ``evrevops generate --ports 8 --months 1`` raised IndexError (a network without an
offline window in the OCPP log), and fewer than 8 ports was refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evrevops.demo.generator import generate
from evrevops.demo.network import build_network, make_window
from evrevops.demo.params import SEGMENTS
from evrevops.formats import input_files
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file

# one port, each size below the segment count and around it, the reported 8 x 1, and 10: each
# case generates and ingests a network (several seconds), so not every pair of 1..10 x 1..2
SIZES = [(1, 1), (1, 2), (2, 2), (3, 1), (5, 2), (7, 1), (8, 1), (10, 2)]


@pytest.mark.slow
@pytest.mark.parametrize(("ports", "months"), SIZES)
def test_small_network_generates_and_ingests_clean(tmp_path: Path, ports: int, months: int) -> None:
    summary = generate(tmp_path / "net", ports=ports, months=months, seed=42)
    assert summary["ports"] == ports
    files = input_files([tmp_path / "net"])
    assert any(f.name.startswith("cdrs-") for f in files) and any(f.name.startswith("ocpp-") for f in files)
    w = open_warehouse(tmp_path / "w.duckdb")
    try:
        refused = {f.name: r.quarantined for f in files if (r := ingest_file(w, f)).quarantined}
        ports_stored = w.con.execute("SELECT count(*) FROM ports").fetchone()[0]
    finally:
        w.close()
    assert refused == {}
    assert ports_stored == ports


@pytest.mark.parametrize("ports", range(1, 8))
def test_under_eight_ports_go_to_the_largest_segments_first(ports: int) -> None:
    net = build_network(np.random.default_rng(1), ports, make_window(2, None), "default")
    per_segment = net.ports.site_id.map(net.sites.set_index("site_id").segment).value_counts().to_dict()
    assert sum(per_segment.values()) == ports
    # default mix: commercial 33 %, fleet 30 %, public DC 25 %, residential 12 %
    order = ["commercial", "fleet", "public_dc", "residential"]
    assert set(order) == set(SEGMENTS)
    expected = {s: ports // 4 + (1 if i < ports % 4 else 0) for i, s in enumerate(order)}
    assert per_segment == {s: n for s, n in expected.items() if n}


def test_no_ports_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        build_network(np.random.default_rng(1), 0, make_window(1, None), "default")
