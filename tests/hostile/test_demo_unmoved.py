"""The hostile corpus ingested into a demo warehouse leaves every report's figures as the demo alone gave them.

Every file ends as it must (committed with all its records quarantined, or refused naming
why), the ledger identity holds after each, and every report command prints the same JSON
before and after — the default month included (a heartbeat dated 2200 once moved it to 2199).
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evrevops.cli import app
from evrevops.formats import FormatError, limits
from evrevops.refresh import refresh_kept
from evrevops.warehouse import forget
from evrevops.warehouse.db import open_warehouse
from evrevops.warehouse.loader import ingest_file
from tests.helpers.demo import copy_db
from tests.hostile.corpus import write_corpus
from tests.hostile.test_ingest_hostile import identity_holds

runner = CliRunner()

REPORTS = [
    ["headline"],
    ["metrics", "--by", "site"],
    ["metrics", "--by", "segment"],
    ["metrics", "--by", "network"],
    ["uptime", "--by", "site"],
    ["outages"],
    ["stale"],
    ["mrr"],
    ["revenue"],
    ["pnl"],
    ["sla"],
    ["risk"],
    ["unit-economics", "--by", "segment"],
    ["pipeline"],
    ["sites", "list"],
]


def _reports(db, site: str) -> dict[str, str]:
    out = {}
    for cmd in [*REPORTS, ["bill", "--site", site]]:
        r = runner.invoke(app, ["--db", str(db), *cmd, "--format", "json"])
        assert r.exit_code == 0, (cmd, r.output)
        out[" ".join(cmd)] = r.stdout
    return out


@pytest.fixture(scope="module")
def demo(demo_db, tmp_path_factory):
    """A writable copy of the session's default network, kept as `evrevops ingest` keeps it."""
    folder = tmp_path_factory.mktemp("hostile-demo")
    wh = open_warehouse(copy_db(demo_db, folder))
    refresh_kept(wh)
    wh.close()
    return folder


def test_the_hostile_corpus_moves_no_figure(demo, demo_network, tmp_path):
    db = demo / "w.duckdb"
    site = json.loads(runner.invoke(app, ["--db", str(db), "sites", "list", "--format", "json"]).stdout)[0]["site_id"]
    before = _reports(db, site)
    corpus = write_corpus(tmp_path / "corpus", demo_network)
    wh = open_warehouse(db)
    try:
        with limits.using(max_line_bytes=250_000, max_decompressed_bytes=8 << 20):
            for path, fmt, (outcome, detail) in corpus:
                n = wh.count("ingest_ledger")
                if outcome == "refused":
                    with pytest.raises(FormatError, match=str(detail)):
                        ingest_file(wh, path, fmt)
                    assert wh.count("ingest_ledger") == n, path
                else:
                    r = ingest_file(wh, path, fmt)
                    assert (r.status, r.records_read, r.quarantined, r.accepted) == ("committed", detail, detail, 0), (
                        path,
                        r,
                        wh.con.execute(
                            "SELECT source_record, field, reason FROM quarantine WHERE file_id = ?", [r.file_id]
                        ).fetchall(),
                    )
                identity_holds(wh)
        wrong = wh.con.execute("SELECT file_id FROM ingest_ledger WHERE path LIKE '%locations-as-ocpp%'").fetchall()
        forget.forget_file(wh, wrong[0][0])
        identity_holds(wh)
        refresh_kept(wh)
    finally:
        wh.close()
    after = _reports(db, site)
    for cmd, text in before.items():
        assert after[cmd] == text, f"`evrevops {cmd}` changed after the hostile corpus"


def test_generate_writes_the_dirty_files_beside_the_network(tmp_path):
    r = runner.invoke(
        app,
        ["generate", "--ports", "12", "--months", "2", "--out", str(tmp_path / "net"), "--dirty-out", str(tmp_path / "dirty"), "--format", "json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    summary = {x["item"]: x["value"] for x in json.loads(r.stdout)}
    names = sorted(p.name for p in (tmp_path / "dirty").iterdir())
    assert int(summary["dirty_files"]) == len(names) == 4
    assert "cdrs-hostile.ndjson" in names and "ocpp-hostile.ndjson" in names
