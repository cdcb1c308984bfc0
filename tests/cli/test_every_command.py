"""Every data command of the README's command table, on every kind of warehouse, ends in a result or a clear message.

The kinds (:mod:`tests.helpers.warehouse_kinds`): empty, sessions only (the CDRs), telemetry only (the OCPP
logs), contracts only (customers and contracts), CRM only (deals, stage history, projects) and the full demo.
Each command runs in process with its default arguments (plus what it requires: a demo site, port, tariff or
quarter), as a table and as JSON. It passes when no Python exception escapes and it either exits 0 with output
or exits non-zero with one ``error: ...`` line on stderr (a message, never a traceback).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from tests.helpers.demo import DEFAULT
from tests.helpers.warehouse_kinds import KINDS, PARTIAL, build_empty, build_partial

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

SITE, PORT = "SITE-00001", "EVR-00001-01-1"
# every data command of the README's command table, with what it requires; {out} is a folder of the test's own
READ_ONLY: dict[str, list[str]] = {
    "formats": ["formats"],
    "ledger": ["ledger"],
    "quarantine": ["quarantine"],
    "status": ["status"],
    "metrics": ["metrics"],
    "metrics list": ["metrics", "list"],
    "metrics explain": ["metrics", "explain", "utilization"],
    "headline": ["headline"],
    "coverage": ["coverage"],
    "sites list": ["sites", "list"],
    "tariffs list": ["tariffs", "list"],
    "tariffs show": ["tariffs", "show", "demo-ca-ev-tou-demand"],
    "ports history": ["ports", "history", PORT],
    "ports conflicts": ["ports", "conflicts"],
    "bill": ["bill", "--site", SITE],
    "price": ["price"],
    "whatif power-cap": ["whatif", "power-cap", "--site", SITE],
    "whatif price": ["whatif", "price", "--site", SITE, "--tariff", "US*EVR*EVR-DC-TIME"],
    "whatif tariff": ["whatif", "tariff", "--site", SITE, "--tariff", "demo-ca-ev-tou-demand"],
    "uptime": ["uptime"],
    "outages": ["outages"],
    "stale": ["stale"],
    "sla": ["sla"],
    "risk": ["risk"],
    "mrr": ["mrr"],
    "revenue": ["revenue"],
    "unit-economics": ["unit-economics"],
    "model compare": ["model", "compare", "--site", SITE],
    "incentives": ["incentives"],
    "pnl": ["pnl"],
    "pipeline": ["pipeline"],
    "pipeline funnel": ["pipeline", "funnel"],
    "pipeline win-rates": ["pipeline", "win-rates"],
    "pipeline projects": ["pipeline", "projects"],
    "pipeline slippage": ["pipeline", "slippage"],
    "pipeline expansion": ["pipeline", "expansion"],
    "pipeline ramp": ["pipeline", "ramp"],
    "forecast hardware": ["forecast", "hardware", "--sims", "200", "--months", "3"],
}
# commands that write (the warehouse or files): each runs on a copy of the warehouse
WRITING: dict[str, list[str]] = {
    "refresh": ["refresh"],
    "export": ["export", "--out", "{out}"],
    "nevi export": ["nevi", "export", "--quarter", "2025Q4", "--out", "{out}"],
    "metrics docs": ["metrics", "docs", "--out", "{out}/metrics.md"],
    "sites set-tariff": ["sites", "set-tariff", SITE, "demo-ca-ev-tou-demand"],
    "sites template": ["sites", "template", "--out", "{out}/sites.csv"],
    "ledger forget": ["ledger", "forget", "1"],
}
# other forms of a command of the table, run like it on every kind (not rows of the README table)
VARIANTS: dict[str, list[str]] = {"coverage --unlinked": ["coverage", "--unlinked"]}
NO_FORMAT = {"metrics explain", "metrics docs", "refresh", "ledger forget", "sites set-tariff", "export", "nevi export"}
# not run here: `ingest` and `generate` make the warehouses themselves (tests/cli/test_ingest.py)
ELSEWHERE = {"ingest", "generate"}


@pytest.fixture(scope="module")
def warehouses(demo_networks, tmp_path_factory) -> dict[str, Path]:
    """Each kind's warehouse file, built once for the module (the full demo is the session's)."""
    base = tmp_path_factory.mktemp("kinds")
    net = demo_networks.files(**DEFAULT)
    dbs = {"empty": build_empty(base / "empty.duckdb"), "full": demo_networks.get(**DEFAULT).db}
    for kind, patterns in PARTIAL.items():
        dbs[kind] = build_partial(net, patterns, base / f"{kind}.duckdb")
    return dbs


def _readme_commands() -> set[str]:
    """The commands of the README's command table (``| `evrevops NAME ...` |`` rows), without their arguments."""
    names = set()
    for m in re.finditer(r"^\| `evrevops ([^`]*)`", (ROOT / "README.md").read_text(), re.M):
        words = m.group(1).split()
        n = next((i for i, w in enumerate(words) if not re.fullmatch(r"[a-z][a-z-]*", w)), len(words))
        names.add(" ".join(words[:n]))
    return names


def test_the_table_here_is_the_readme_table():
    assert _readme_commands() == set(READ_ONLY) | set(WRITING) | ELSEWHERE


def _check(r, args: list[str]) -> None:
    """No exception escaped; exit 0 with output, or non-zero with one ``error:`` line naming what is wrong."""
    shown = f"evrevops {' '.join(args)}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise AssertionError(f"{type(r.exception).__name__}: {r.exception}\n{shown}") from r.exception
    assert "Traceback" not in r.output, shown
    if r.exit_code == 0:  # a result (a writing command reports on stderr)
        assert r.output.strip(), f"exit 0 without output\n{shown}"
        return
    lines = [x for x in r.stderr.splitlines() if x.strip() and not x.startswith("warning:")]
    assert lines and lines[-1].startswith("error: "), f"exit {r.exit_code} without a message\n{shown}"
    assert len(lines[-1]) > len("error: ") + 20, shown


EXPENSIVE = {"price", "forecast hardware", "nevi export", "ledger forget", "whatif power-cap", "headline"}


def _cases(table: dict[str, list[str]]) -> list:
    """(kind, arguments, format) of every command on every kind: a table, and JSON on the partial kinds (the full
    demo's JSON is the README tour's, tests/test_tour.py); the full demo and the expensive commands are slow."""
    out = []
    for kind in KINDS:
        for name, args in table.items():
            fmts = ("table",) if name in NO_FORMAT or kind == "full" else ("table", "json")
            for fmt in fmts:
                slow = kind == "full" or (name in EXPENSIVE and fmt == "json")
                out.append(pytest.param(kind, args, fmt, id=f"{kind}-{name}-{fmt}", marks=[pytest.mark.slow] * slow))
    return out


@pytest.mark.parametrize(("kind", "args", "fmt"), _cases({**READ_ONLY, **VARIANTS}))
def test_read_only_command(warehouses, kind, args, fmt):
    full = ["--db", str(warehouses[kind]), *args, *(["--format", fmt] if fmt != "table" else [])]
    _check(runner.invoke(app, full), full)


@pytest.mark.parametrize(("kind", "args", "fmt"), _cases(WRITING))
def test_writing_command(warehouses, kind, args, fmt, tmp_path):
    db = tmp_path / "w.duckdb"
    shutil.copyfile(warehouses[kind], db)
    out = tmp_path / "out"
    full = ["--db", str(db), *(a.replace("{out}", str(out)) for a in args)]
    full += ["--format", fmt] if fmt != "table" else []
    _check(runner.invoke(app, full), full)


# ---- a --db that names no warehouse: a read-only command says so and creates nothing; a writing one creates it


@pytest.mark.parametrize("args", [*READ_ONLY.values(), *VARIANTS.values()], ids=[*READ_ONLY, *VARIANTS])
def test_a_read_only_command_on_no_warehouse_says_so_and_creates_nothing(tmp_path, args):
    db = tmp_path / "typo.duckdb"
    r = runner.invoke(app, ["--db", str(db), *args])
    if "formats" in args or args[:2] == ["metrics", "list"] or args[:2] == ["metrics", "explain"]:
        assert r.exit_code == 0, r.output  # they read no warehouse
    else:
        assert r.exit_code == 2, r.output
        assert r.stderr.startswith(f"error: no warehouse at {db}; make one with `evrevops ingest PATH...`"), r.stderr
    assert not db.exists()


def test_a_writing_command_creates_the_warehouse(tmp_path, demo_networks):
    db = tmp_path / "new.duckdb"
    r = runner.invoke(app, ["--db", str(db), "ingest", str(demo_networks.files(**DEFAULT) / "customers.csv")])
    assert r.exit_code == 0, r.output
    assert db.is_file()


# ---- unknown names: did you mean, and the known ones


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["ingest", "{net}/sites.csv", "--mapping", "palo_alto"],
            "--mapping: unknown mapping 'palo_alto'; did you mean 'chargepoint'? known: session-csv: acn, boulder, "
            "chargepoint, dundee, perth_kinross; status-snapshots: esb_ecars; crm-csv: hubspot, salesforce, "
            "salesforce_history; see `evrevops formats`",
        ),
        (
            ["ingest", "{net}/sites.csv", "--format", "session-csv", "--mapping", "bouldr"],
            "--mapping: unknown session mapping 'bouldr'; did you mean 'boulder'? known: acn, boulder, chargepoint,",
        ),
        (
            ["ingest", "{net}/sites.csv", "--format", "chargepoint"],
            "--format: 'chargepoint' is a session-csv mapping, not a format; use --mapping chargepoint",
        ),
        (
            ["ingest", "{net}/sites.csv", "--format", "session_csv"],
            "--format: unknown format 'session_csv'; did you mean 'session-csv'? known: acn-json, ",
        ),
        (["metrics", "-m", "utilisation"], "unknown metric 'utilisation'; did you mean 'utilization' or "),
        (["metrics", "--by", "sites"], "unknown grain 'sites'; did you mean 'site'? use one of port, site,"),
        (["metrics", "--period", "months"], "unknown period 'months'; did you mean 'month'? use one of day, month"),
        (["metrics", "explain", "energy_kw"], "unknown metric 'energy_kw'; did you mean 'energy_kwh' or "),
        (
            ["bill", "--site", "SITE-0001"],
            "unknown site 'SITE-0001'; did you mean 'SITE-00011' or 'SITE-00010' or 'SITE-00001'? known: SITE-00001, ",
        ),
        (
            ["whatif", "tariff", "--segment", "fleets", "--tariff", "x"],
            "unknown segment 'fleets'; did you mean 'fleet'? use one of fleet, commercial, public_dc, residential",
        ),
        (["revenue", "--by", "segmnt"], "unknown grain 'segmnt'; did you mean 'segment'? use one of customer, site,"),
        (["pnl", "--by", "sgment"], "unknown grain 'sgment'; did you mean 'segment'? use one of segment, site,"),
        (["pipeline", "--by", "stge"], "unknown grain 'stge'; did you mean 'stage'? use one of stage, segment,"),
        (["mrr", "--by", "nope"], "unknown grain 'nope'; use one of customer, segment, stream, cohort, network"),
    ],
    ids=lambda v: " ".join(v[:3]) if isinstance(v, list) else None,
)
def test_an_unknown_name_gets_did_you_mean_and_the_known_ones(warehouses, demo_networks, tmp_path, args, message):
    db = tmp_path / "w.duckdb"
    shutil.copyfile(warehouses["full"], db)
    net = str(demo_networks.files(**DEFAULT))
    r = runner.invoke(app, ["--db", str(db), *(a.replace("{net}", net) for a in args)])
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"error: {message}"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_pnl_without_contracts_names_what_is_missing(warehouses):
    r = runner.invoke(app, ["--db", str(warehouses["sessions"]), "pnl"])
    assert r.exit_code == 2, r.output
    assert (
        "there are no contracts in the warehouse" in r.stderr and "ingest customers.csv and contracts.csv" in r.stderr
    )


def test_coverage_of_a_warehouse_without_sites_names_the_sites_its_contracts_name(warehouses):
    import json

    import duckdb

    db = warehouses["contracts"]
    con = duckdb.connect(str(db), read_only=True)
    try:
        named = {
            r[0]
            for r in con.execute("SELECT DISTINCT site_id FROM contract_events WHERE site_id IS NOT NULL").fetchall()
        }
        assert named and con.execute("SELECT count(*) FROM sites").fetchall() == [(0,)]
    finally:
        con.close()
    r = runner.invoke(app, ["--db", str(db), "coverage", "--month", "2025-12", "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert {x["site_id"] for x in rows} == named
    by = {(x["source"], x["status"] == "no data") for x in rows}
    assert ("contracts", False) in by and ("sessions", False) not in by and ("telemetry", False) not in by
    # without sessions or telemetry there is no default month: it says which option to give
    r = runner.invoke(app, ["--db", str(db), "coverage"])
    assert r.exit_code == 2 and r.stderr.startswith("error: no sessions or telemetry to take the default month"), (
        r.stderr
    )
