"""The closed vocabulary: every domain word evrevops reads, stores or reports, as an enum.

A value outside its enum fails loudly (:func:`parse`), in a reader (the record is quarantined
with the field and the known values) and at a command's options alike. Each enum is a
:class:`enum.StrEnum`, so a member is the very text stored in the warehouse and written in SQL;
the tuples beside them (``SEGMENTS``, ``STREAMS``, ...) are the values in their documented order,
for ``IN (...)`` lists, CSV specs and help texts.

Nothing else in the package defines these words.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The values of *enum* as plain strings, in declaration order."""
    return tuple(m.value for m in enum)


def parse(enum: type[E], text: str, what: str | None = None) -> E:
    """The member of *enum* whose value is *text*.

    Raises
    ------
    ValueError
        ``unknown <what> 'x'; use one of a, b, c`` for any other text.
    """
    try:
        return enum(text)
    except ValueError:
        name = what or enum.__name__.lower()
        raise ValueError(f"unknown {name} {text!r}; use one of {', '.join(values(enum))}") from None


class Grain(StrEnum):
    """What a metric is grouped by."""

    PORT = "port"
    SITE = "site"
    SEGMENT = "segment"
    CUSTOMER = "customer"
    NETWORK = "network"


class Period(StrEnum):
    """The time bucket of a metric."""

    DAY = "day"
    MONTH = "month"


class Segment(StrEnum):
    """A site's market segment (handbook §1)."""

    FLEET = "fleet"
    COMMERCIAL = "commercial"
    PUBLIC_DC = "public_dc"
    RESIDENTIAL = "residential"


class RevenueModel(StrEnum):
    """How a site earns: hardware sold, charging as a service, or the network software only."""

    HARDWARE_SALE = "hardware_sale"
    CAAS = "caas"
    SOFTWARE_ONLY = "software_only"


class LineType(StrEnum):
    """What a contract line sells."""

    HARDWARE = "hardware"
    INSTALLATION = "installation"
    SOFTWARE = "software"
    CAAS = "caas"
    MAINTENANCE = "maintenance"


class LineEvent(StrEnum):
    """An event in a contract line's history."""

    NEW = "new"
    AMEND = "amend"
    RENEW = "renew"
    CANCEL = "cancel"


class EnergyPosition(StrEnum):
    """Who buys the electricity and keeps the energy revenue of a site."""

    OPERATOR = "operator"
    CUSTOMER = "customer"


class Stream(StrEnum):
    """A revenue stream as recognized (handbook §6)."""

    HARDWARE = "hardware"
    INSTALLATION = "installation"
    SOFTWARE = "software"
    CAAS = "caas"
    ENERGY_SHARE = "energy_share"
    MAINTENANCE = "maintenance"
    SLA_CREDIT = "sla_credit"
    ENERGY = "energy"


class IngestStatus(StrEnum):
    """What an ingest did with a file."""

    COMMITTED = "committed"
    UNCHANGED = "unchanged"


GRAINS = values(Grain)
#: the grains at or above a site (a figure of a site as a whole: congestion, visits)
SITE_GRAINS = (Grain.SITE.value, Grain.SEGMENT.value, Grain.CUSTOMER.value, Grain.NETWORK.value)
#: grains a bill is kept at (a bill belongs to a site, not a port)
BILL_GRAINS = SITE_GRAINS
PERIODS = values(Period)
SEGMENTS = values(Segment)
REVENUE_MODELS = values(RevenueModel)
LINE_TYPES = values(LineType)
LINE_EVENTS = values(LineEvent)
ENERGY_POSITIONS = values(EnergyPosition)
STREAMS = values(Stream)
#: the recurring streams (network software and CaaS fees, their energy share, maintenance, SLA credits)
RECURRING_STREAMS = (
    Stream.SOFTWARE.value,
    Stream.CAAS.value,
    Stream.ENERGY_SHARE.value,
    Stream.MAINTENANCE.value,
    Stream.SLA_CREDIT.value,
)
INGEST_STATUSES = values(IngestStatus)
