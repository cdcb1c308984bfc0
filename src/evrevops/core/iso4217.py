"""ISO 4217 currency codes, for the readers that take an amount's currency from the record.

:data:`ACTIVE` is the standard's List One of alphabetic codes in force (2025, with ``XCG``,
the Caribbean guilder replacing ``ANG``, and ``ZWG``, the Zimbabwe Gold, replacing ``ZWL``;
the codes being replaced are still listed while both circulate). :data:`WITHDRAWN` holds the
codes of currencies withdrawn since 2011 that history inside the plausible time window can
still carry (Croatian kuna until 2023, ...).

An amount is stored in integer minor units of its currency
(:func:`evrevops.core.money.currency_exponent`), so a code is :data:`PAYABLE` only when it
is a currency drivers can pay in and its minor unit is one evrevops rounds to: the precious
metals, bond-market units, ``XTS`` (testing) and ``XXX`` (no currency), the units of account
``XDR``/``XSU``/``XUA``, and ``CLF``/``UYW`` (four decimal places) are refused.
"""

from __future__ import annotations

ACTIVE: frozenset[str] = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BOV",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHE",
        "CHF",
        "CHW",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "COU",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MXV",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "USN",
        "UYI",
        "UYU",
        "UYW",
        "UZS",
        "VED",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XAG",
        "XAU",
        "XBA",
        "XBB",
        "XBC",
        "XBD",
        "XCD",
        "XCG",
        "XDR",
        "XOF",
        "XPD",
        "XPF",
        "XPT",
        "XSU",
        "XTS",
        "XUA",
        "XXX",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
    ]
)

# Withdrawn since 2011 (euro changeovers and redenominations), all with two decimal places.
WITHDRAWN: frozenset[str] = frozenset(["CUC", "EEK", "HRK", "LTL", "LVL", "MRO", "SLL", "STD", "VEF", "ZWL"])

# Codes that are no money a driver pays in, or whose minor unit (4 decimals) evrevops does not keep.
NOT_PAYABLE: dict[str, str] = {
    **{c: "a precious metal, not a currency" for c in ("XAG", "XAU", "XPD", "XPT")},
    **{c: "a bond-market unit, not a currency" for c in ("XBA", "XBB", "XBC", "XBD")},
    **{c: "a unit of account, not a currency drivers pay in" for c in ("XDR", "XSU", "XUA")},
    "XTS": "the code reserved for testing",
    "XXX": "the code for transactions without a currency",
    "CLF": "a unit of account with 4 decimal places, which evrevops does not store",
    "UYW": "a unit of account with 4 decimal places, which evrevops does not store",
}

PAYABLE: frozenset[str] = (ACTIVE | WITHDRAWN) - NOT_PAYABLE.keys()


def is_payable(code: object) -> bool:
    """True when *code* is a :data:`PAYABLE` ISO 4217 code (three capital letters)."""
    return isinstance(code, str) and code in PAYABLE


def problem(code: object) -> str | None:
    """Why *code* is not a currency an amount can be in, or None when it is :data:`PAYABLE`."""
    if is_payable(code):
        return None
    if isinstance(code, str) and code in NOT_PAYABLE:
        return f"{code} is {NOT_PAYABLE[code]}"
    return "not an ISO-4217 currency"


def payable_sql(expr: str) -> str:
    """SQL: true when the text *expr* is a :data:`PAYABLE` code.

    A regular expression of the codes (RE2 matches three letters against it in a few
    nanoseconds), not ``IN (...)``, which DuckDB plans for a long constant list as a join that
    does not keep a streaming scan's row order, nor a substring search in one long constant.
    """
    return f"regexp_full_match({expr}, '{'|'.join(sorted(PAYABLE))}')"
