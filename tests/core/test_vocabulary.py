"""core.vocabulary: closed enums, their tuples, and no second definition of the same words."""

from __future__ import annotations

import ast
from collections import Counter
from enum import StrEnum
from pathlib import Path

import pytest

from evrevops.core import vocabulary as v
from evrevops.core.vocabulary import (
    BILL_GRAINS,
    GRAINS,
    RECURRING_STREAMS,
    STREAMS,
    EnergyPosition,
    Grain,
    IngestStatus,
    LineEvent,
    LineType,
    Period,
    RevenueModel,
    Segment,
    Stream,
    parse,
    values,
)

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "evrevops"

# every tuple of the vocabulary, written out by hand in its documented order
EXPECTED = {
    "GRAINS": ("port", "site", "segment", "customer", "network"),
    "SITE_GRAINS": ("site", "segment", "customer", "network"),
    "BILL_GRAINS": ("site", "segment", "customer", "network"),
    "PERIODS": ("day", "month"),
    "SEGMENTS": ("fleet", "commercial", "public_dc", "residential"),
    "REVENUE_MODELS": ("hardware_sale", "caas", "software_only"),
    "LINE_TYPES": ("hardware", "installation", "software", "caas", "maintenance"),
    "LINE_EVENTS": ("new", "amend", "renew", "cancel"),
    "ENERGY_POSITIONS": ("operator", "customer"),
    "STREAMS": ("hardware", "installation", "software", "caas", "energy_share", "maintenance", "sla_credit", "energy"),
    "RECURRING_STREAMS": ("software", "caas", "energy_share", "maintenance", "sla_credit"),
    "INGEST_STATUSES": ("committed", "unchanged"),
}

ENUM_OF = {
    "GRAINS": Grain,
    "PERIODS": Period,
    "SEGMENTS": Segment,
    "REVENUE_MODELS": RevenueModel,
    "LINE_TYPES": LineType,
    "LINE_EVENTS": LineEvent,
    "ENERGY_POSITIONS": EnergyPosition,
    "STREAMS": Stream,
    "INGEST_STATUSES": IngestStatus,
}

# Literals outside core that spell a vocabulary tuple (none today; the count allows a known one while it is moved).
KNOWN_REDEFINITIONS: Counter[str] = Counter()


def test_the_tuples_are_the_documented_words():
    tuples = {name: value for name, value in vars(v).items() if name.isupper() and isinstance(value, tuple)}
    assert tuples == EXPECTED
    for value in tuples.values():
        assert all(type(word) is str for word in value)  # plain text, not enum members


@pytest.mark.parametrize("name", sorted(ENUM_OF))
def test_each_tuple_is_its_enums_values_in_order(name):
    enum = ENUM_OF[name]
    assert getattr(v, name) == values(enum) == tuple(m.value for m in enum) == EXPECTED[name]


def test_the_subsets_are_members_of_their_enum():
    assert set(BILL_GRAINS) < set(GRAINS) and Grain.PORT.value not in BILL_GRAINS
    assert set(RECURRING_STREAMS) < set(STREAMS)


def test_a_member_is_the_stored_text():
    assert Segment.PUBLIC_DC == "public_dc" and f"{Segment.PUBLIC_DC}" == "public_dc"
    assert Stream("sla_credit") is Stream.SLA_CREDIT
    assert isinstance(Grain.SITE, str) and isinstance(Grain.SITE, StrEnum)


@pytest.mark.parametrize(
    ("enum", "text", "member"),
    [(Segment, "fleet", Segment.FLEET), (Grain, "network", Grain.NETWORK), (Stream, "energy", Stream.ENERGY)],
)
def test_parse_gives_the_member(enum, text, member):
    assert parse(enum, text) is member


@pytest.mark.parametrize(
    ("enum", "text", "what", "message"),
    [
        (Segment, "Fleet", None, "unknown segment 'Fleet'; use one of fleet, commercial, public_dc, residential"),
        (Period, "week", None, "unknown period 'week'; use one of day, month"),
        (RevenueModel, "", None, "unknown revenuemodel ''; use one of hardware_sale, caas, software_only"),
        (
            Grain,
            "region",
            "grain (--by)",
            "unknown grain (--by) 'region'; use one of port, site, segment, customer, network",
        ),
        (IngestStatus, "refused", "status", "unknown status 'refused'; use one of committed, unchanged"),
    ],
)
def test_parse_refuses_unknown_text_naming_the_known_values(enum, text, what, message):
    with pytest.raises(ValueError) as info:
        parse(enum, text, what)
    assert str(info.value) == message


def vocabulary_literals(source: str) -> list[tuple[int, str]]:
    """(line, tuple name) of every tuple, list or set literal of text in *source* that holds the
    same words as one of the vocabulary tuples (in any order)."""
    words = {frozenset(value): name for name, value in EXPECTED.items()}
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Tuple | ast.List | ast.Set) or len(node.elts) < 2:
            continue
        texts = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        if len(texts) == len(node.elts) and len(set(texts)) == len(texts) and frozenset(texts) in words:
            found.append((node.lineno, words[frozenset(texts)]))
    return sorted(found)


def test_the_scan_finds_a_redefinition_in_any_order_and_form():
    source = (
        "SEGS = ('fleet', 'commercial', 'public_dc', 'residential')\n"
        "def f(x):\n"
        "    return x in ['month', 'day']\n"
        "OK = ('fleet', 'commercial')\n"
        "ALSO_OK = ('day', 'day')\n"
        "S = {'committed', 'unchanged'}\n"
    )
    assert vocabulary_literals(source) == [(1, "SEGMENTS"), (3, "PERIODS"), (6, "INGEST_STATUSES")]


def test_no_module_outside_core_spells_a_vocabulary_tuple():
    found: Counter[str] = Counter()
    where = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("core/"):
            continue
        for line, name in vocabulary_literals(path.read_text(encoding="utf-8")):
            found[name] += 1
            where.append(f"{rel}:{line}: the words of evrevops.core.vocabulary.{name}")
    new = found - KNOWN_REDEFINITIONS
    assert not new, f"more literals spell {sorted(new)} than known; use the core's vocabulary instead:\n" + "\n".join(
        w for w in where if any(w.endswith("." + name) for name in new)
    )
