"""Which engine computes: DuckDB on the warehouse file, or Spark on its Parquet export, named by URL.

``--engine`` takes:

* ``duckdb`` (the default): the warehouse file itself;
* ``spark``: a local Spark session (``local[2]``, or ``--master``);
* a Spark master URL: ``local[N]`` / ``local[*]``, ``spark://host:port`` (a standalone
  cluster), ``yarn``, ``k8s://https://host:port``; the session runs the same Ibis expressions
  and DuckDB-dialect SQL (transpiled) on the export written by ``evrevops export``.
"""

from __future__ import annotations

import re
from pathlib import Path

DEFAULT_MASTER = "local[2]"
_MASTER = re.compile(r"^(local(\[(\d+|\*)(,\d+)?\])?|spark://[^\s/]+(:\d+)?(,[^\s/]+(:\d+)?)*|yarn|k8s://\S+)$")


def parse(engine: str, master: str | None = None) -> tuple[str, str | None]:
    """``(kind, master)`` of an ``--engine`` value: ``("duckdb", None)`` or ``("spark", master URL)``.

    Raises
    ------
    ValueError
        For anything else, naming the accepted forms.
    """
    e = engine.strip()
    if e.lower() == "duckdb":
        return "duckdb", None
    if e.lower() == "spark":
        m = master or DEFAULT_MASTER
        if not _MASTER.match(m):
            raise ValueError(f"not a Spark master URL: {m!r} (local[N], spark://host:port, yarn, k8s://…)")
        return "spark", m
    if _MASTER.match(e):
        return "spark", e
    raise ValueError(
        f"unknown engine {engine!r}: use duckdb, spark, or a Spark master URL (local[N], spark://host:port, yarn, k8s://…)"
    )


def open_engine(engine: str, export: Path | None = None, master: str | None = None):
    """A Spark warehouse over *export* for a Spark *engine* (see :func:`parse`); None for DuckDB.

    Raises
    ------
    ValueError
        An unknown engine, or Spark without an export folder (or not an export).
    """
    kind, url = parse(engine, master)
    if kind == "duckdb":
        return None
    if export is None:
        raise ValueError(f"--engine {engine} needs --export DIR (written by `evrevops export`)")
    from evrevops.warehouse.spark import SparkWarehouse

    return SparkWarehouse(export, master=url)
