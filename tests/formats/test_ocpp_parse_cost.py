"""The OCPP reader's cheap paths keep their answers: the repeated-key pretest and the narrow ``canon``.

``dup_key`` runs its pairwise scan only on key lists with fewer distinct keys than keys;
``canon`` (the canonical CALLs the row builders read) copies only the columns they use,
not the frame text or the check columns of table ``m``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evrevops.formats import limits
from evrevops.formats import ocpp as ocpp_mod
from evrevops.formats.ocpp_rows import CANON_COLUMNS, canonical, match_results
from evrevops.formats.ocpp_sql import MACROS, limit_macros
from evrevops.formats.records import connect


@pytest.mark.parametrize(
    ("keys", "first_repeat"),
    [
        ("['a', 'b', 'c']", None),
        ("[]", None),
        ("NULL", None),
        ("['a', 'b', 'a']", "a"),
        ("['x', 'b', 'c', 'b', 'x']", "b"),  # the first key listed a second time, not the first key repeated
        ("['v', 'v', 'v']", "v"),
    ],
)
def test_dup_key_names_the_first_repeated_key(keys, first_repeat):
    con = connect()
    for m in MACROS:
        con.execute(m)
    assert con.execute(f"SELECT dup_key({keys}::VARCHAR[])").fetchall()[0][0] == first_repeat


def test_canon_copies_only_the_columns_the_row_builders_read(tmp_path: Path):
    lines = [
        {"timestamp": "2025-03-09T07:30:00Z", "charge_point_id": "CP1", "message": [2, "u1", "Heartbeat", {}]},
        {
            "timestamp": "2025-03-09T07:30:01Z",
            "charge_point_id": "CP1",
            "message": [2, "u2", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Faulted"}],
        },  # fmt: skip
    ]
    log = tmp_path / "log.ndjson"
    log.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    con = connect()
    for m in MACROS + limit_macros(limits.current()):
        con.execute(m)
    ocpp_mod._load_lines(con, log)
    ocpp_mod._parse(con)
    ocpp_mod._quarantine(con, False)
    match_results(con)
    canonical(con)
    cols = [c for (c,) in con.execute("SELECT column_name FROM (DESCRIBE canon)").fetchall()]
    assert tuple(cols) == CANON_COLUMNS
    assert "msg" not in cols
    assert con.execute("SELECT rec, action, status FROM canon ORDER BY rec").fetchall() == [
        (1, "Heartbeat", None),
        (2, "StatusNotification", "Faulted"),
    ]
