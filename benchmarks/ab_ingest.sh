#!/bin/bash
# CDR ingest, an older revision against the working tree, on the same machine, alternating.
#   benchmarks/ab_ingest.sh OLD_REV [ROUNDS]     (needs `make bench` data in bench-data/)
# For each revision: the bench network's reference files into a fresh warehouse (not timed),
# then ROUNDS times (old, new): a copy of it, and benchmarks.run.stage_ingest on the CDR files in
# a fresh process. Prints one line per run: revision, round, seconds, CDRs/s, peak MiB.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OLD_REV=${1:?usage: benchmarks/ab_ingest.sh OLD_REV [ROUNDS]}
ROUNDS=${2:-3}
PY=$ROOT/.venv/bin/python
NET=$(ls -d "$ROOT"/bench-data/net-*-s7 | head -1)
T=$(mktemp -d "$ROOT/bench-data/ab.XXXX")
OLD=$T/old
git -C "$ROOT" worktree add -q --detach "$OLD" "$OLD_REV"
trap 'git -C "$ROOT" worktree remove --force "$OLD"; rm -rf "$T"' EXIT
OTHER=$("$PY" -c "
import sys
from pathlib import Path
from evrevops.formats import detect
fs = [str(f) for f in sorted(Path('$NET').rglob('*')) if f.is_file() and not f.name.startswith('.')]
print(' '.join(f for f in fs if detect(f)[0] not in ('ocpi-cdrs', 'ocpp-log')))")
CDRS=$(ls "$NET"/cdrs/*.ndjson)
run() {  # src db files...
  local src=$1 db=$2; shift 2
  (cd "$src" && "$PY" -c "
import json, sys
sys.path[:0] = ['$src/src', '$src']
from benchmarks.run import stage_ingest
r = stage_ingest('$db', sys.argv[1:])
print(json.dumps(r))" "$@" 2>/dev/null | tail -n 1)
}
for v in old new; do
  src=$ROOT; [ $v = old ] && src=$OLD
  run "$src" "$T/ref-$v.duckdb" $OTHER > /dev/null
done
for i in $(seq "$ROUNDS"); do
  for v in old new; do
    src=$ROOT; [ $v = old ] && src=$OLD
    rm -f "$T"/run.duckdb*; cp "$T/ref-$v.duckdb" "$T/run.duckdb"
    run "$src" "$T/run.duckdb" $CDRS | "$PY" -c "
import json, sys
r = json.loads(sys.stdin.read())
print('$v', $i, f\"{r['seconds']:.2f} s\", f\"{r['records'] / r['seconds']:,.0f} CDRs/s\", f\"{r['peak_mib']:.0f} MiB\")"
  done
done
