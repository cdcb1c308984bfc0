"""query.scope: the headline's energy revenue and ports against the revenue report's and the P&L's, to the cent and
to the port, on the demo; and the CLI notes that name the difference."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.core.calendar import add_months
from evrevops.core.money import to_minor
from evrevops.query import finance as qfinance
from evrevops.query import metrics as qmetrics
from evrevops.query import recurring as qrecurring
from evrevops.query import scope as qscope

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(demo_networks):
    """The default demo, read-only, with its last month of data."""
    from tests.helpers.demo import DEFAULT

    net = demo_networks.get(**DEFAULT)
    wh = net.open()
    last = wh.rows("SELECT max(started_at) FROM sessions")[0][0].date().replace(day=1)
    yield net, wh, last - dt.timedelta(days=1)  # the last full month's last day
    wh.close()


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def test_headline_energy_revenue_less_the_revenue_reports_is_what_the_scope_leaves_out(demo, demo_networks):
    _, wh, end = demo
    month = _month(end)
    _energy_reconciles(wh, month)
    # the tour's demo (seed 7) has operator-held sites too: an energy stream that is not 0
    tour = demo_networks.get(ports=40, months=4, seed=7).open()
    try:
        assert _energy_reconciles(tour, dt.date(2025, 12, 1)) > 0
    finally:
        tour.close()


def _energy_reconciles(wh, month: dt.date) -> int:
    """Assert the headline's energy revenue less the revenue report's is what the scope leaves out; the operator's."""
    head = qmetrics.headline(wh, month).network.table.to_pylist()
    rev = qrecurring.revenue(wh, month, month, by="segment").table.to_pylist()
    scope = qscope.energy_revenue_scope(wh, month, month)
    assert scope.currencies == sorted({r["currency"] for r in head})
    for cur in scope.currencies:
        headline = sum(r["energy_revenue_minor"] for r in head if r["currency"] == cur)
        energy = sum(r["energy_minor"] for r in rev if r["currency"] == cur)
        assert scope.all_sites_minor(cur) == headline
        assert scope.operator_minor(cur) == energy
        assert (
            headline - energy
            == scope.left_out_minor(cur)
            == sum(r["energy_revenue_minor"] for r in scope.left_out(cur))
        )
        assert scope.left_out_minor(cur) > 0  # the demo has customer-held sites: the test is not vacuous
        assert {r["holder"] for r in scope.left_out(cur)} <= {qscope.CUSTOMER, qscope.NO_FACTS}
    return sum(scope.operator_minor(cur) for cur in scope.currencies)


def test_headline_ports_less_the_pnls_are_the_ports_named(demo):
    _, wh, end = demo
    last = _month(end)
    first = add_months(last, -1)
    scope = qscope.ports_scope(wh, first, last)
    pnl = qfinance.pnl(wh, first, last, by="network").table.to_pylist()
    for m in scope.months:
        head = qmetrics.headline(wh, dt.date.fromisoformat(m + "-01")).network.table.to_pylist()
        assert scope.headline_ports(m) == max(r["ports"] for r in head)
        assert scope.pnl_ports(m) == max(r["ports"] for r in pnl if r["month"] == m)
        only_head = sum(r["ports"] for r in scope.only_in_headline(m))
        only_pnl = sum(r["ports"] for r in scope.only_in_pnl(m))
        assert scope.headline_ports(m) - scope.pnl_ports(m) == only_head - only_pnl


def _amounts(line: str) -> list[int]:
    """The money figures of a note (``1,234.56 USD``) in minor units."""
    return [to_minor(a.replace(",", ""), "USD") for a in re.findall(r"(-?[\d,]+\.\d\d) USD", line)]


def test_the_revenue_and_pnl_notes_name_the_difference_to_the_cent(demo):
    net, _, end = demo
    month = f"{end:%Y-%m}"
    db = ["--db", str(net.db)]
    head = json.loads(runner.invoke(app, [*db, "headline", "--month", month, "--format", "json"]).stdout)
    headline = next(r["energy_revenue_minor"] for r in head if r["segment"] is None)
    r = runner.invoke(app, [*db, "revenue", "--month", month, "--format", "json"])
    assert r.exit_code == 0, r.output
    energy = sum(x["energy_minor"] for x in json.loads(r.stdout))
    lines = [x for x in r.stderr.splitlines() if x.startswith(("energy (USD)", "left out"))]
    own, every = _amounts(lines[0])
    left_out, *parts = _amounts(lines[1])
    assert (own, every) == (energy, headline) and headline - energy == left_out == sum(parts)
    assert "where the customer holds the energy position" in lines[1]
    r = runner.invoke(app, [*db, "pnl", "--month", month, "--by", "network", "--format", "json"])
    assert r.exit_code == 0, r.output
    pnl_ports = json.loads(r.stdout)[0]["ports"]
    head_ports = next(x["ports"] for x in head if x["segment"] is None)
    note = [x for x in r.stderr.splitlines() if x.startswith(f"ports {month}")]
    if head_ports == pnl_ports:
        assert note == []
    else:
        counts = [int(n.replace(",", "")) for n in re.findall(r"(\d[\d,]*) (?:in service|with open time)", note[0])]
        assert counts == [pnl_ports, head_ports]
        gone = sum(int(n.replace(",", "")) for n in re.findall(r"(\d[\d,]*) not here:", note[0]))
        extra = sum(int(n.replace(",", "")) for n in re.findall(r"(\d[\d,]*) not in the headline:", note[0]))
        assert head_ports - pnl_ports == gone - extra
    assert any(x.startswith("energy (USD)") for x in r.stderr.splitlines())
