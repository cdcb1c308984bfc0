"""NEVI export bench: `evrevops nevi export` of one quarter of a warehouse (target ≤ 10 s), best of 3.

``python benchmarks/nevi.py --db PATH --quarter 2025Q4`` runs the export three times, each in a
fresh process (``evrevops --db PATH nevi export``, as a user runs it, CSV into a temporary
folder), and prints one JSON line: the best wall time [s] with every run's, the target, the
records written, and ``old_seconds`` when ``--old SECONDS`` gives the figure measured before
(94 s on the demo quarter before the sessions went through SQL, issue 20). The warehouse is
that of ``make demo`` (500 ports × 12 months, seed 42), which the lead's ``make bench`` builds;
it is only read.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 10.0
EVREVOPS = Path(sys.executable).with_name("evrevops")


def run_once(db: Path, quarter: str, fmt: str) -> tuple[float, dict[str, int]]:
    """Wall time [s] of one export in a fresh process, and the records of each file."""
    with tempfile.TemporaryDirectory(prefix="nevi-bench-") as out:
        cmd = [str(EVREVOPS), "--db", str(db), "nevi", "export", "--quarter", quarter, "--out", out, "--format", fmt]
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t
        if r.returncode != 0:
            sys.stderr.write(r.stdout + r.stderr)
            raise SystemExit("nevi export failed")
        records = {}
        for f in sorted(Path(out).iterdir()):
            with f.open(newline="", encoding="utf-8") as fh:
                records[f.stem.rsplit("-", 1)[-1]] = (
                    sum(1 for _ in csv.reader(fh)) - 1 if fmt == "csv" else len(json.load(fh))
                )
    return seconds, records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, type=Path, help="warehouse (the demo's)")
    ap.add_argument("--quarter", default="2025Q4", help="quarter YYYYQn (default 2025Q4, the demo's last)")
    ap.add_argument("--format", default="csv", choices=["csv", "json"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--old", type=float, help="the figure measured before [s], reported beside the new one")
    a = ap.parse_args()
    if not a.db.is_file():
        raise SystemExit(f"no warehouse at {a.db}: build it as `make demo` does")
    runs = [run_once(a.db, a.quarter, a.format) for _ in range(a.runs)]
    best = min(s for s, _ in runs)
    result = {
        "quarter": a.quarter, "format": a.format, "seconds": best, "runs_s": [s for s, _ in runs],
        "target_seconds": TARGET_S, "meets_target": best <= TARGET_S, "records": runs[0][1],
    }  # fmt: skip
    if a.old is not None:
        result["old_seconds"] = a.old
    print(json.dumps(result))


if __name__ == "__main__":
    main()
