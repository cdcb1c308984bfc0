"""Generated demo networks, each built once per test session: the fixtures of the demo-level tests.

``tests/conftest.py`` holds one :class:`DemoNetworks` per session (``demo_networks``) and the
default network on it (``demo_network``: the generated folder; ``demo_db``: its ingested
warehouse, to be opened read-only; ``demo_db_copy``: a copy a test may write to). A test that
needs another network (size, seed, end month) asks ``demo_networks.get(...)`` with those
``generate`` arguments: each distinct set is generated and ingested once per session (per xdist
worker), never rebuilt by a test module of its own.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from evrevops.demo.generator import generate
from evrevops.formats import input_files
from evrevops.warehouse.db import Warehouse, open_warehouse
from evrevops.warehouse.loader import ingest_file

DEFAULT = {"ports": 40, "months": 2, "seed": 9}  # the session's default demo network


@dataclass(frozen=True)
class DemoNetwork:
    """One generated network: its files (``folder``, what ``evrevops demo`` writes) and its warehouse."""

    folder: Path
    db: Path

    def open(self, read_only: bool = True) -> Warehouse:
        """The warehouse, read-only unless asked (a test that writes takes a :meth:`copy`)."""
        return open_warehouse(self.db, read_only=read_only)

    def copy(self, dst: Path) -> Path:
        """A copy of the warehouse file in the folder *dst*, for a test that writes to it."""
        return copy_db(self.db, dst)


def copy_db(db: Path, dst: Path) -> Path:
    """A copy of the warehouse file *db* as ``dst/w.duckdb`` (its path), for a test that writes to it."""
    out = dst / "w.duckdb"
    shutil.copyfile(db, out)
    return out


def build(folder: Path, **generate_args) -> Path:
    """Generate a demo network into ``folder/net`` (``generate`` arguments; kept if already there) and ingest it
    into ``folder/w.duckdb``, every file clean; returns the warehouse file's path."""
    net = folder / "net"
    if not net.is_dir():
        generate(net, **generate_args)
    db = folder / "w.duckdb"
    w = open_warehouse(db)
    try:
        for f in input_files([net]):
            assert ingest_file(w, f).quarantined == 0, f
    finally:
        w.close()
    return db


def demo_warehouse(folder: Path, **generate_args) -> Warehouse:
    """A network of a test's own in *folder*, open for writing (prefer ``demo_networks``: built once per session)."""
    return open_warehouse(build(folder, **generate_args))


class DemoNetworks:
    """Demo networks by their ``generate`` arguments, each generated (and ingested) at most once.

    Parameters
    ----------
    base
        A session-scoped temporary folder; each network gets a sub-folder named by its arguments.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self._built: dict[str, DemoNetwork] = {}

    @staticmethod
    def _key(args: dict) -> str:
        return "-".join(f"{k}{v}" for k, v in sorted(args.items()))

    def files(self, **generate_args) -> Path:
        """The generated folder of the network with these arguments (generated, not ingested, if new)."""
        folder = self.base / self._key(generate_args) / "net"
        if not folder.is_dir():
            generate(folder, **generate_args)
        return folder

    def get(self, **generate_args) -> DemoNetwork:
        """The network with these ``generate`` arguments, generated and ingested (every file clean)."""
        key = self._key(generate_args)
        if key not in self._built:
            db = build(self.base / key, **generate_args)
            self._built[key] = DemoNetwork(self.base / key / "net", db)
        return self._built[key]
