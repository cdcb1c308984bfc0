"""Regenerate the in-repository real-data samples under ``tests/data`` from the full datasets.

Usage::

    python tests/data/make_samples.py [/path/to/shared]

The argument is the shared folder (default ``../shared`` beside the project, whose ``data/real``
is what ``$EVREVOPS_REAL_DATA`` names). Only data whose licence allows redistribution is copied
(see each folder's ``SOURCE.md``); the data files are rewritten, the ``SOURCE.md`` files are not.

* ``real/dundee_2017_2018``: every ``DUNDEE_STRIDE``-th session line of each of the three files
  (header kept; lines otherwise byte for byte), so every site, charger model, month and defect kind
  of the export stays represented at a small size.
* ``real/perth_kinross_2016_2019``: the first lines of the 2016-17 file, up to and including the last
  session of August 2017 (the file is newest first, so this is one whole month, ``_id`` 1..n in
  order); a month has days 1-12, whose day and month the council's export swaps.
* ``real/tariffs_urdb``: the whole dataset (17 records and ``manifest.json``; 0.2 MB).
* ``conformance/ocpi-tariffs-tandemdrive``: the whole case folder, with its ``LICENSE-MIT``.
* ``reference/ev-charging-use-spec``: the JSON schemas, with their ``LICENSE``.

``real/samples.json`` records, for each sampled session file, its source, how many records it has
and their total kWh, counted here with the standard ``csv`` module (the tests compare the readers
with these counts).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DUNDEE = "dundee_2017_2018"
DUNDEE_FILES = ("cp-data-dec-mar-2018.csv", "cp-data-mar-may-2018.csv", "charge-sessions-june-sept.csv")
DUNDEE_STRIDE = 40  # ~400-500 sessions of each file (~80 kB)
PERTH = "perth_kinross_2016_2019"
PERTH_FILE = "EV_ChargeStation_Use_Sept_2016_to_Aug_2017.csv"
WHOLE = {  # folder under tests/data -> folder under the shared folder
    "real/tariffs_urdb": "data/real/tariffs_urdb",
    "conformance/ocpi-tariffs-tandemdrive": "data/conformance/ocpi-tariffs-tandemdrive",
    "reference/ev-charging-use-spec": "reference/ev-charging-use-spec",
}


def _lines(path: Path) -> list[str]:
    """The file's lines with their own line endings (bytes decoded as UTF-8, kept as they are)."""
    return path.read_bytes().decode("utf-8").splitlines(keepends=True)


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(lines).encode("utf-8"))


def _kwh_total(text: str, column: str) -> tuple[int, float]:
    """(records, sum of the readable numbers in *column* [kWh]) of a CSV text (BOM stripped)."""
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    total = 0.0
    for r in rows:
        with contextlib.suppress(TypeError, ValueError):
            total += float(r[column])
    return len(rows), round(total, 3)


def _perth_true_month(line: str) -> int:
    """The true month of a 2016-17 Perth & Kinross line: day and month are swapped for days 1-12."""
    written = next(csv.reader([line]))[3][:10]  # 'YYYY/MM/DD'
    _, month, day = (int(x) for x in written.split("/"))
    return day if day <= 12 else month


def dundee(src: Path, dst: Path) -> list[str]:
    """Every ``DUNDEE_STRIDE``-th session line of each Dundee file; returns the file names written."""
    for name in DUNDEE_FILES:
        lines = _lines(src / name)
        _write(dst / name, [lines[0], *lines[1::DUNDEE_STRIDE]])
    return list(DUNDEE_FILES)


def perth(src: Path, dst: Path) -> list[str]:
    """The August 2017 head of the 2016-17 Perth & Kinross file; returns the file name written."""
    lines = _lines(src / PERTH_FILE)
    keep = [lines[0]]
    for line in lines[1:]:
        if _perth_true_month(line) != 8:
            break
        keep.append(line)
    _write(dst / PERTH_FILE, keep)
    return [PERTH_FILE]


def whole(src: Path, dst: Path) -> None:
    """Copy the data files of *src* (not its ``SOURCE.md``) into *dst*, replacing what was there."""
    for path in sorted(src.rglob("*")):
        if path.is_file() and path.name != "SOURCE.md":
            out = dst / path.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)


def main(shared: Path) -> None:
    real = shared / "data" / "real"
    manifest = {}
    for folder, cut, column in ((DUNDEE, dundee, "Total kWh"), (PERTH, perth, "Total_kWh")):
        for name in cut(real / folder, HERE / "real" / folder):
            rel = f"{folder}/{name}"
            records, kwh = _kwh_total((HERE / "real" / rel).read_text(encoding="utf-8"), column)
            full_records, _ = _kwh_total((real / rel).read_text(encoding="utf-8"), column)
            manifest[rel] = {"source": rel, "source_records": full_records, "records": records, "kwh": kwh}
    for ours, theirs in WHOLE.items():
        whole(shared / theirs, HERE / ours)
    (HERE / "real" / "samples.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared")
