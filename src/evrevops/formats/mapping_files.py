"""What every kind of mapping shares: a name and its TOML spec, and the shipped files of a folder.

A *mapping* is a TOML file that says how one kind of export becomes evrevops rows: session
exports (:mod:`evrevops.formats.session_mapping`, ``formats/mappings/``) and status logs
(:mod:`evrevops.formats.status_mapping`, ``formats/mappings/status/``). ``--mapping`` names a
shipped one by its file's stem, and never reaches a file outside the shipped folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class MappingSpec:
    """One mapping: its *name* (the TOML file's stem) and *spec* (the TOML, parsed)."""

    name: str
    spec: dict[str, Any]

    @property
    def description(self) -> str:
        return str(self.spec.get("description", ""))


def shipped_names(folder: Path) -> list[str]:
    """Names of the mappings shipped in *folder* (the stems of its TOML files), sorted."""
    return sorted(p.stem for p in folder.glob("*.toml"))


def shipped_file(folder: Path, name: str, kind: str) -> Path:
    """The TOML file of the mapping called *name* shipped in *folder*.

    Only the stems of the TOML files in *folder* are names: a name with ``/``, ``\\`` or ``..``,
    or a path, is refused like any unknown one.

    Raises
    ------
    ValueError
        ``unknown <kind> mapping 'x'; known: ...``.
    """
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name) or name not in shipped_names(folder):
        raise ValueError(f"unknown {kind} mapping {name!r}; known: {', '.join(shipped_names(folder))}")
    return folder / f"{name}.toml"
