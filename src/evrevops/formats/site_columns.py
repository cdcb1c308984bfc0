"""The columns of a ``sites`` row that say where a site is, shared by the readers that emit sites.

The OCPI Locations reader (:mod:`evrevops.formats.ocpi_locations`) and the status-snapshot
reader (:mod:`evrevops.formats.status_rows`) write these columns, in this order, each followed
by the further columns it carries; ``latitude`` and ``longitude`` are in decimal degrees.
"""

from __future__ import annotations

import pyarrow as pa

SITE_PLACE_FIELDS: list[tuple[str, pa.DataType]] = [
    ("site_id", pa.string()),
    ("name", pa.string()),
    ("address", pa.string()),
    ("city", pa.string()),
    ("state", pa.string()),
    ("postal_code", pa.string()),
    ("country", pa.string()),
    ("latitude", pa.float64()),
    ("longitude", pa.float64()),
    ("time_zone", pa.string()),
]
