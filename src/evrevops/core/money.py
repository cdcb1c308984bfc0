"""Money: integer minor units of an ISO 4217 currency, exact decimals, exact rounding.

Every amount evrevops stores is an integer count of its currency's minor unit (cents for USD,
yen for JPY, fils for KWD) beside the currency code. Text from a file becomes minor units through
:func:`to_minor` (Decimal, half up; a float is refused), SQL does the same with :func:`minor_sql`,
and an amount goes back to an exact Decimal with :func:`minor_to_decimal`.

Shares and prorations divide integers and round once: DuckDB divides DECIMALs into DOUBLEs; a ratio of integers rounded through a float can land on
the wrong side of a half cent. These helpers keep the numerator and denominator integers and
round once, so every amount an engine prorates or shares is exact (SQLGlot transpiles ``//``
to Spark's ``DIV``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation


def div_round_sql(num: str, den: str) -> str:
    """SQL of ``round(num / den)`` half away from zero, for integer *num* and positive integer *den*.

    Parameters
    ----------
    num, den : str
        SQL expressions of integers (e.g. an amount [minor units] times a share's numerator, and the
        share's denominator); *den* must be positive.

    Returns
    -------
    str
        A ``BIGINT`` expression, computed in ``HUGEINT`` so ``num * 2`` cannot overflow; the same
        rule as :func:`round_half_away` (``-5 / 2`` gives ``-3``).
    """
    n, d = f"CAST({num} AS HUGEINT)", f"CAST({den} AS HUGEINT)"
    return (
        f"CAST(CASE WHEN {n} >= 0 THEN ({n} * 2 + {d}) // ({d} * 2) "
        f"ELSE -((-{n} * 2 + {d}) // ({d} * 2)) END AS BIGINT)"
    )


def round_half_away(num: int, den: int) -> int:
    """``round(num / den)`` half away from zero, in Python integers (the same rule as :func:`div_round_sql`).

    Raises
    ------
    ValueError
        For a denominator that is not positive.
    """
    if den <= 0:
        raise ValueError("the denominator must be positive")
    q = (abs(num) * 2 + den) // (den * 2)
    return q if num >= 0 else -q


# ISO 4217 minor-unit exponents for currencies that differ from 2.
_CURRENCY_EXPONENT = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0, "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip


def currency_exponent(currency: str) -> int:
    """Number of decimal places of a currency's minor unit (ISO 4217), 2 unless listed."""
    return _CURRENCY_EXPONENT.get(currency.upper(), 2)


def currency_exponent_sql(cur: str) -> str:
    """SQL giving :func:`currency_exponent` of the currency expression *cur*.

    Substring tests, not ``IN (...)`` or ``list_contains``: DuckDB plans a long
    constant list as a MARK hash join, and a join does not keep a scan's row
    order (which the streaming NDJSON reader numbers records by).
    """
    groups: dict[int, list[str]] = {}
    for code, exp in _CURRENCY_EXPONENT.items():
        groups.setdefault(exp, []).append(code)
    whens = " ".join(
        f"WHEN contains('|{'|'.join(codes)}|', '|' || upper({cur}) || '|') THEN {exp}" for exp, codes in groups.items()
    )
    return f"CASE WHEN length({cur}) <> 3 THEN 2 {whens} ELSE 2 END"


def minor_sql(amount: str, cur: str) -> str:
    """SQL rounding the exact DECIMAL *amount* half up to integer minor units of the currency *cur*."""
    scale = f"CASE {currency_exponent_sql(cur)} WHEN 0 THEN 1 WHEN 3 THEN 1000 ELSE 100 END"
    return f"CAST(round(({amount}) * {scale}) AS BIGINT)"


def exact_decimal(v: object) -> Decimal:
    """A number from parsed JSON or text as an exact, finite Decimal (a float by its shortest repr).

    Raises
    ------
    ValueError
        ``not a number`` (also for booleans and None) or ``not a finite number``.
    """
    if isinstance(v, bool) or v is None:
        raise ValueError("not a number")
    try:
        d = Decimal(repr(v) if isinstance(v, float) else str(v).strip())
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not d.is_finite():
        raise ValueError("not a finite number")
    return d


def to_minor(amount: str | int | Decimal, currency: str) -> int:
    """Convert a decimal amount to integer minor units, rounding half up.

    Parameters
    ----------
    amount : str, int or Decimal
        Amount in major units as exact text (``"12.345"``); floats are refused.
    currency : str
        ISO-4217 code, which fixes the minor unit (USD 2, JPY 0, KWD 3).

    Returns
    -------
    int
        Amount in minor units, e.g. ``to_minor("12.345", "USD") == 1235``.
    """
    if isinstance(amount, float):
        raise TypeError("money must not be a float; pass the amount as text or Decimal")
    try:
        d = Decimal(str(amount).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal amount: {amount!r}") from exc
    exp = currency_exponent(currency)
    return int(d.scaleb(exp).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def minor_to_decimal(minor: int, currency: str) -> Decimal:
    """Convert integer minor units back to an exact Decimal amount.

    Parameters
    ----------
    minor : int
        Amount [minor units of *currency*].
    currency : str
        ISO-4217 code.

    Returns
    -------
    Decimal
        Amount [major units], exact: ``minor_to_decimal(1235, "USD") == Decimal("12.35")``.
    """
    return Decimal(int(minor)).scaleb(-currency_exponent(currency))
