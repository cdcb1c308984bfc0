"""What only the careful reader of OCPI 2.2.1 CDRs checks: amounts given as text, JSON shapes,
repeated keys, and charging periods in detail.

Each check here can fire only for a record the streaming pass of :mod:`evrevops.formats.ocpi`
fails on (a value of the wrong kind, a key of the structure given twice) or declines
(:func:`~evrevops.formats.ocpi_cdr_periods.periods_problem`), so both passes agree. The checks
read the columns of :data:`CAREFUL_DERIVE`, which the careful reader adds to each parsed record.
"""

from __future__ import annotations

from evrevops.core.sqltext import sql_literal
from evrevops.formats import limits
from evrevops.formats.ocpi_cdr_checks import AMOUNTS, Check
from evrevops.formats.ocpi_cdr_periods import PERIODS_TYPE, period_checks

_OBJECTS = [  # JSON path, the structure's keys at that path
    ("$", "id country_code party_id start_date_time end_date_time auth_method cdr_token cdr_location currency "
     "tariffs charging_periods total_cost total_fixed_cost total_energy total_energy_cost total_time "
     "total_time_cost total_parking_time total_parking_cost last_updated"),
    ("$.cdr_token", "uid"),
    ("$.cdr_location", "id name address city postal_code state country coordinates evse_uid evse_id connector_id "
     "connector_standard connector_power_type"),
    ("$.cdr_location.coordinates", "latitude longitude"),
    ("$.total_cost", "excl_vat incl_vat"),
    ("$.total_fixed_cost", "excl_vat"),
    ("$.total_energy_cost", "excl_vat"),
    ("$.total_time_cost", "excl_vat"),
    ("$.total_parking_cost", "excl_vat"),
]  # fmt: skip
_SHAPES = [  # JSON path, the JSON type the structure expects there
    ("$.cdr_token", "OBJECT"),
    ("$.cdr_location", "OBJECT"),
    ("$.cdr_location.coordinates", "OBJECT"),
    ("$.tariffs", "ARRAY"),
    ("$.total_cost", "OBJECT"),
    ("$.total_fixed_cost", "OBJECT"),
    ("$.total_energy_cost", "OBJECT"),
    ("$.total_time_cost", "OBJECT"),
    ("$.total_parking_cost", "OBJECT"),
]
# lists of objects whose elements must not repeat a key: (column of each element's keys, field, keys read)
_ELEMENT_KEYS = [
    ("tariff_keys", "tariffs", "country_code party_id id"),
    ("period_keys", "charging_periods", "start_date_time dimensions tariff_id"),
    ("dimension_keys", "charging_periods", "type volume"),
]

#: Select-list items over ``c`` and ``j`` (the record's text) that :func:`careful_checks` read.
CAREFUL_DERIVE = f""",
    json_keys(j, [{", ".join(sql_literal(p) for p, _ in _OBJECTS)}]) AS object_keys,
    json_keys(j, '$.tariffs[*]') AS tariff_keys,
    json_type(j, [{", ".join(sql_literal(p) for p, _ in _SHAPES)}]) AS shapes,
    json_type(j, '$.tariffs[*]') AS tariff_types,
    json_type(c.charging_periods) AS periods_type,
    json_type(c.charging_periods, '$[*]') AS period_types,
    json_type(c.charging_periods, '$[*].dimensions[*].volume') AS volume_types,
    json_keys(c.charging_periods, '$[*]') AS period_keys,
    json_keys(c.charging_periods, '$[*].dimensions[*]') AS dimension_keys,
    from_json(c.charging_periods, {sql_literal(PERIODS_TYPE)}) AS periods"""


def _field(path: str) -> str:
    return path.removeprefix("$").removeprefix(".")


def _known(keys: str, known: str) -> str:
    """SQL: the keys of the list *keys* that the structure reads (*known*, space-separated)."""
    return (
        f"list_filter({keys}, lambda k: contains({sql_literal('|' + '|'.join(known.split()) + '|')}, '|' || k || '|'))"
    )


def _repeated(keys: str) -> str:
    """SQL: the first key given more than once in the list *keys* (NULL when none is)."""
    return f"list_filter(list_distinct({keys}), lambda k: len(list_filter({keys}, lambda x: x = k)) > 1)[1]"


def careful_checks(lim: limits.Limits) -> list[Check]:
    """Checks of the careful reader only (see the module's text), in the order they are reported."""
    return [*_amount_text_checks(), *_shape_checks(), *_repeated_key_checks(), *period_checks(lim)]


def _amount_text_checks() -> list[Check]:
    """An amount given as text that is not a number (the streaming pass fails on it)."""
    return [
        (f"amount_texts[{i}] IS NOT NULL AND {stem}_major IS NULL", field, f"'not a number: ' || amount_texts[{i}]")
        for i, (_, field, stem) in enumerate(AMOUNTS, start=1)
    ]


def _shape_checks() -> list[Check]:
    """An object or list where the structure expects one, and tariffs that are objects."""
    checks: list[Check] = [
        (
            f"shapes[{i}] NOT IN ('{kind}', 'NULL')",
            _field(path),
            f"'{_field(path)} must be {'an object' if kind == 'OBJECT' else 'a list'}, got JSON ' || shapes[{i}]",
        )
        for i, (path, kind) in enumerate(_SHAPES, start=1)
    ]
    checks.append(
        (
            "list_bool_or(list_transform(tariff_types, lambda t: t NOT IN ('OBJECT', 'NULL')))",
            "tariffs",
            "'tariffs must be a list of Tariff objects, got an element of JSON type '"
            " || list_filter(tariff_types, lambda t: t NOT IN ('OBJECT', 'NULL'))[1]",
        )
    )
    return checks


def _repeated_key_checks() -> list[Check]:
    """A key the structure reads given twice in one object, or in one element of a list of objects."""
    checks: list[Check] = []
    for i, (path, known) in enumerate(_OBJECTS, start=1):
        keys = _known(f"coalesce(object_keys[{i}], [])", known)
        prefix = _field(path) + "." if path != "$" else ""
        checks.append(
            (
                f"len({keys}) <> len(list_distinct({keys}))",
                _field(path) or "(record)",
                f"'duplicated key ''' || {_repeated(keys)} || ''''"
                + (f" || ' in {_field(path)}'" if prefix else "")
                + " || ' (an object must not repeat a key)'",
                f"{sql_literal(prefix)} || {_repeated(keys)}",
            )
        )
    for name, field, known in _ELEMENT_KEYS:
        bad = f"lambda ks: len({_known('ks', known)}) <> len(list_distinct({_known('ks', known)}))"
        first = f"list_filter({name}, {bad})[1]"
        checks.append(
            (
                f"list_bool_or(list_transform({name}, {bad}))",
                field,
                f"'duplicated key ''' || {_repeated(_known(first, known))} || ''' in an element of {field}'"
                " || ' (an object must not repeat a key)'",
            )
        )
    return checks
