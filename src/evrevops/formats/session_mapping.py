"""Session-export column mappings: the TOML files in ``formats/mappings/``, loaded and checked.

Every operator exports sessions differently. Rather than one reader per export,
a *mapping* (a TOML file in ``formats/mappings/``) says declaratively how one
export's columns become evrevops ``sessions`` rows; :mod:`evrevops.formats.session_compile`
turns it into DuckDB SQL and :mod:`evrevops.formats.session_csv` reads a file with it.
The mapping format is documented in ``docs/formats.md`` ("Session CSV exports"); in short:

* ``[detect]``: header columns that identify the export (:func:`match_mapping`);
* ``[csv]`` / ``[source]``: encoding and delimiter, or a JSON envelope;
* ``[ids]``: templates for the session, site, charger, port and connector ids;
* ``[time]``, ``[start]``, ``[end]``: strptime formats over one column or a
  date column plus a time column, and the local time zone (fixed, from a
  column, or a UTC-offset/abbreviation column per timestamp);
* ``[energy]``, ``[plugged_in]``, ``[charging]``: quantities and durations;
* ``[money]``: the fee column and its currency (column or fixed);
* ``[site]``, ``[port]``, ``[charger]``: implied reference rows;
* ``[[reject]]`` rules and named defect handlers (``repair = "day_month_swap"``)
  for known defects of real exports.

Templates are text with ``{Column}`` placeholders (``{Column?}`` for a column
that some variants of the export lack), optionally piped through filters
(``{MAC Address|alnum|upper}``). Columns are matched by their normalised name
(case, spaces and punctuation ignored), so ``CP ID`` also finds ``CP_ID``.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from evrevops.formats.mapping_files import MappingSpec, shipped_file, shipped_names
from evrevops.formats.session_repairs import REPAIRS

MAPPINGS_DIR = Path(__file__).parent / "mappings"

_SECTIONS = {
    "description",
    "detect",
    "csv",
    "source",
    "ids",
    "session",
    "time",
    "start",
    "end",
    "energy",
    "plugged_in",
    "charging",
    "money",
    "site",
    "port",
    "charger",
    "reject",
    "repair",
    "checks",
}


def normalise(name: str) -> str:
    """Column-name key used for matching: lower case, runs of non-alphanumerics as ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


@dataclass(frozen=True)
class Mapping(MappingSpec):
    """One declarative column mapping, loaded from ``mappings/<name>.toml``."""

    @property
    def kind(self) -> str:
        """``'csv'`` or ``'json'``."""
        return str(self.spec.get("source", {}).get("kind", "csv"))

    @property
    def detect_columns(self) -> list[str]:
        return list(self.spec.get("detect", {}).get("columns", []))

    @property
    def detect_absent(self) -> list[str]:
        return list(self.spec.get("detect", {}).get("absent", []))


def mapping_names() -> list[str]:
    """Names of the shipped mappings (file stems in ``formats/mappings``)."""
    return shipped_names(MAPPINGS_DIR)


@functools.cache
def load_mapping(name: str) -> Mapping:
    """Load and validate the shipped mapping called *name*.

    Only the stems of the TOML files in ``formats/mappings`` are names (a name with ``/``,
    ``\\`` or ``..`` is refused like any unknown one), so ``--mapping`` never reads a file
    outside the shipped folder.

    Raises
    ------
    ValueError
        ``unknown session mapping 'x'; known: ...``, or a mapping that fails its checks.
    """
    path = shipped_file(MAPPINGS_DIR, name, "session")
    with open(path, "rb") as f:
        spec = tomllib.load(f)
    unknown = set(spec) - _SECTIONS
    if unknown:
        raise ValueError(f"mapping {name}: unknown sections {sorted(unknown)}")
    for key in ("ids", "start", "energy"):
        if key not in spec:
            raise ValueError(f"mapping {name}: section [{key}] is required")
    for key in ("session", "site", "port"):
        if key not in spec["ids"]:
            raise ValueError(f"mapping {name}: [ids] needs {key!r}")
    plugged, charging = spec.get("plugged_in", {}), spec.get("charging", {})
    if (
        "end" not in spec
        and "value" not in plugged
        and (plugged.get("assume") != "charging" or "value" not in charging)
    ):
        raise ValueError(f"mapping {name}: without [end], give [plugged_in] value or assume = 'charging'")
    ways = ("value" in charging) + ("end" in charging) + (charging.get("assume") == "plugged_in")
    if ways != 1:
        raise ValueError(
            f"mapping {name}: [charging] needs exactly one of value (a duration), end (a timestamp) "
            "or assume = 'plugged_in'"
        )
    if charging.get("if_missing", "plugged_in") != "plugged_in":
        raise ValueError(f"mapping {name}: [charging] if_missing can only be 'plugged_in'")
    for rep in (spec["start"].get("repair"), spec.get("end", {}).get("repair")):
        if rep is not None and rep not in REPAIRS:
            raise ValueError(f"mapping {name}: unknown repair {rep!r}; known: {sorted(REPAIRS)}")
    return Mapping(name, spec)


def match_mapping(header: list[str], path: str | Path | None = None) -> str | None:
    """Pick the shipped CSV mapping whose ``[detect]`` columns are all in *header*.

    Names are compared normalised (see :func:`normalise`). When several match,
    the one naming the most columns wins. Returns None when none matches.
    """
    cols = {normalise(h) for h in header if h and h.strip()}
    best: tuple[int, str] | None = None
    for name in mapping_names():
        m = load_mapping(name)
        if m.kind != "csv" or not m.detect_columns:
            continue
        need = {normalise(c) for c in m.detect_columns}
        if need <= cols and not ({normalise(c) for c in m.detect_absent} & cols):
            score = len(need)
            if best is None or score > best[0]:
                best = (score, name)
    return best[1] if best else None
