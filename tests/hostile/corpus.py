"""The hostile corpus of the tests: the demo's dirty files (:mod:`evrevops.demo.dirty`) and files only a test writes.

:func:`write_corpus` returns each file with how it must end: ``("quarantined", n)`` or
``("refused", text)`` (see :mod:`evrevops.demo.dirty`). The line limit and the decompressed
limit are meant to be run small (``limits.using``).
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

from evrevops.demo.dirty import demo_ids, write_dirty


def write_corpus(folder: Path, demo: Path) -> list[tuple[Path, str | None, tuple[str, object]]]:
    """The demo's dirty files, a line over a small limit, a gzip bomb, a wrong --format and a FIFO."""
    out = write_dirty(folder, demo)
    ids = demo_ids(demo)
    p = folder / "cdrs-one-long-line.ndjson"
    p.write_text('{"id": "' + "9" * 300_000 + '"')
    out.append((p, None, ("refused", "bytes long, over the limit")))
    p = folder / "cdrs-bomb.ndjson.gz"
    with gzip.open(p, "wb") as f:
        for _ in range(16):
            f.write(b" " * (1 << 20))
    out.append((p, None, ("refused", "decompresses to more than")))
    # a Locations file read as an OCPP log (the wrong --format): every line quarantined
    loc = {"country_code": "US", "party_id": "EVR", "id": "HOSTILE-LOC", "time_zone": ids["tz"], "evses": []}
    p = folder / "locations-as-ocpp.ndjson"
    p.write_text(json.dumps(loc) + "\n" + json.dumps(dict(loc, id="HOSTILE-LOC2")) + "\n")
    out.append((p, "ocpp-log", ("quarantined", 2)))
    p = folder / "cdrs-fifo.ndjson"
    os.mkfifo(p)
    out.append((p, None, ("refused", "is a FIFO")))
    return out
