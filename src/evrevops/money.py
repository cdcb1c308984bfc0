"""Integer money arithmetic in SQL: exact division of minor units, rounded half away from zero.

DuckDB divides DECIMALs into DOUBLEs; a ratio of integers rounded through a float can land on
the wrong side of a half cent. These helpers keep the numerator and denominator integers and
round once, so every amount an engine prorates or shares is exact (SQLGlot transpiles ``//``
to Spark's ``DIV``).
"""

from __future__ import annotations


def div_round_sql(num: str, den: str) -> str:
    """SQL of ``round(num / den)`` half away from zero, for integer *num* and positive integer *den*."""
    n, d = f"CAST({num} AS HUGEINT)", f"CAST({den} AS HUGEINT)"
    return (
        f"CAST(CASE WHEN {n} >= 0 THEN ({n} * 2 + {d}) // ({d} * 2) "
        f"ELSE -((-{n} * 2 + {d}) // ({d} * 2)) END AS BIGINT)"
    )


def round_half_away(num: int, den: int) -> int:
    """``round(num / den)`` half away from zero, in Python integers (the same rule as :func:`div_round_sql`)."""
    if den <= 0:
        raise ValueError("the denominator must be positive")
    q = (abs(num) * 2 + den) // (den * 2)
    return q if num >= 0 else -q
