"""Comparing result rows from two computations (kept and live facts, DuckDB and Spark)."""

from __future__ import annotations

import math


def assert_rows_equal(a: list[dict], b: list[dict], rel: float = 1e-9, abs_: float = 1e-12) -> None:
    """Rows *a* and *b* are equal, in order and field for field; neither is empty (nothing passes vacuously).

    Counts, money, keys and text must be identical; two floats may differ by *rel* relative
    (or *abs_*): sums of DOUBLEs added in another order.
    """
    assert a and len(a) == len(b), (len(a), len(b))
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], float) and isinstance(y[k], float):
                assert math.isclose(x[k], y[k], rel_tol=rel, abs_tol=abs_), (k, x[k], y[k])
            else:
                assert x[k] == y[k], (k, x[k], y[k], x)
