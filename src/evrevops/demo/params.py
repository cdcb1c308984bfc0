"""Assumptions of the demo network, in one place.

Every number here is documented in ``docs/demo.md`` with the handbook figure
(``../shared/handbook.md``) it comes from. Rates are per *port*; times of day
are local wall-clock hours at the site.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evrevops.core.vocabulary import RevenueModel, Segment, values

# the demo draws segments in its own order (the seed fixes the network); the words are the vocabulary's
SEGMENTS = (Segment.FLEET.value, Segment.PUBLIC_DC.value, Segment.COMMERCIAL.value, Segment.RESIDENTIAL.value)
REVENUE_MODELS = values(RevenueModel)
DEFAULT_END_MONTH = "2025-12"  # fixed, so the same seed gives the same files on any day
PARTY = "EVR"  # our OCPI party id (country US)
OPERATOR = "EVR Networks"
CURRENCY = "USD"

# Share of ports per segment (handbook §1 segments).
MIX = {
    "default": {"fleet": 0.30, "public_dc": 0.25, "commercial": 0.33, "residential": 0.12},
    # benchmark: heavy on public DC, about 5 sessions per port per day on average
    "bench": {"fleet": 0.17, "public_dc": 0.66, "commercial": 0.13, "residential": 0.04},
}
# Share of sites already in service before the first generated month.
EXISTING_SHARE = {"default": 0.72, "bench": 0.95}


@dataclass(frozen=True)
class City:
    name: str
    state: str
    tz: str
    lat: float
    lon: float
    zip3: str
    region: str  # utility-tariff region (see URDB demo records)


# US cities across Eastern, Central, Mountain (with and without DST) and Pacific time.
CITIES: list[City] = [
    City("New York", "NY", "America/New_York", 40.7128, -74.0060, "100", "northeast"),
    City("Newark", "NJ", "America/New_York", 40.7357, -74.1724, "071", "northeast"),
    City("Boston", "MA", "America/New_York", 42.3601, -71.0589, "021", "northeast"),
    City("Philadelphia", "PA", "America/New_York", 39.9526, -75.1652, "191", "northeast"),
    City("Atlanta", "GA", "America/New_York", 33.7490, -84.3880, "303", "southeast"),
    City("Charlotte", "NC", "America/New_York", 35.2271, -80.8431, "282", "southeast"),
    City("Orlando", "FL", "America/New_York", 28.5384, -81.3789, "328", "southeast"),
    City("Miami", "FL", "America/New_York", 25.7617, -80.1918, "331", "southeast"),
    City("Detroit", "MI", "America/Detroit", 42.3314, -83.0458, "482", "central"),
    City("Chicago", "IL", "America/Chicago", 41.8781, -87.6298, "606", "central"),
    City("Dallas", "TX", "America/Chicago", 32.7767, -96.7970, "752", "central"),
    City("Houston", "TX", "America/Chicago", 29.7604, -95.3698, "770", "central"),
    City("Austin", "TX", "America/Chicago", 30.2672, -97.7431, "787", "central"),
    City("Minneapolis", "MN", "America/Chicago", 44.9778, -93.2650, "554", "central"),
    City("Nashville", "TN", "America/Chicago", 36.1627, -86.7816, "372", "central"),
    City("Denver", "CO", "America/Denver", 39.7392, -104.9903, "802", "mountain"),
    City("Salt Lake City", "UT", "America/Denver", 40.7608, -111.8910, "841", "mountain"),
    City("Albuquerque", "NM", "America/Denver", 35.0844, -106.6504, "871", "mountain"),
    City("Boise", "ID", "America/Boise", 43.6150, -116.2023, "837", "mountain"),
    City("Phoenix", "AZ", "America/Phoenix", 33.4484, -112.0740, "850", "arizona"),
    City("Tucson", "AZ", "America/Phoenix", 32.2226, -110.9747, "857", "arizona"),
    City("Los Angeles", "CA", "America/Los_Angeles", 34.0522, -118.2437, "900", "california"),
    City("San Diego", "CA", "America/Los_Angeles", 32.7157, -117.1611, "921", "california"),
    City("San Jose", "CA", "America/Los_Angeles", 37.3382, -121.8863, "951", "california"),
    City("Sacramento", "CA", "America/Los_Angeles", 38.5816, -121.4944, "958", "california"),
    City("Fresno", "CA", "America/Los_Angeles", 36.7378, -119.7871, "937", "california"),
    City("Seattle", "WA", "America/Los_Angeles", 47.6062, -122.3321, "981", "pacific_nw"),
    City("Portland", "OR", "America/Los_Angeles", 45.5152, -122.6784, "972", "pacific_nw"),
]
# Weight of each time-zone group when placing a site (population-ish).
TZ_GROUP_WEIGHT = {"east": 0.36, "central": 0.25, "mountain": 0.09, "arizona": 0.07, "pacific": 0.23}


def tz_group(city: City) -> str:
    if city.tz == "America/Phoenix":
        return "arizona"
    if city.tz in ("America/Denver", "America/Boise"):
        return "mountain"
    if city.tz in ("America/Chicago",):
        return "central"
    if city.tz == "America/Los_Angeles":
        return "pacific"
    return "east"


@dataclass(frozen=True)
class SegmentParams:
    """How one segment's sites are built and used (see docs/demo.md)."""

    ports_per_site: tuple[int, ...]
    ports_per_site_p: tuple[float, ...]
    # port hardware: (rated_kw, power_type, share)
    hardware: tuple[tuple[float, str, float], ...]
    # DC ports added at fleet depots: share of depots with DC, ports (min, max)
    depot_dc_share: float = 0.0
    depot_dc_ports: tuple[int, int] = (0, 0)
    depot_dc_kw: tuple[float, ...] = ()
    ramp_tau_days: float = 30.0
    ramp_floor: float = 0.15
    growth_per_month: float = 0.0
    fail_p: float = 0.02  # zero-energy failed attempts per session
    popularity_sigma: float = 0.3  # lognormal spread of demand between sites
    seasonal: tuple[float, ...] = (1.0,) * 12  # Jan..Dec
    sites_per_customer: tuple[int, ...] = (1,)
    sites_per_customer_p: tuple[float, ...] = (1.0,)
    revenue_model_p: dict[str, float] = field(default_factory=dict)
    # mature demand per port and local weekday (Mon..Sun)
    rate_by_dow: tuple[float, ...] = (1.0,) * 7


SEG: dict[str, SegmentParams] = {
    "fleet": SegmentParams(
        ports_per_site=(4, 6, 8, 10, 12, 16, 20),
        ports_per_site_p=(0.12, 0.16, 0.2, 0.16, 0.16, 0.12, 0.08),
        hardware=((19.2, "AC_1_PHASE", 1.0),),
        depot_dc_share=0.5,
        depot_dc_ports=(1, 4),
        depot_dc_kw=(60.0, 90.0, 120.0, 150.0),
        ramp_tau_days=21.0,
        ramp_floor=0.3,
        fail_p=0.02,
        popularity_sigma=0.15,
        seasonal=(0.97, 0.98, 1.0, 1.0, 1.0, 1.0, 0.98, 1.0, 1.0, 1.02, 1.03, 1.0),
        sites_per_customer=(1, 2, 3),
        sites_per_customer_p=(0.55, 0.3, 0.15),
        revenue_model_p={"caas": 0.5, "hardware_sale": 0.3, "software_only": 0.2},
        # probability that a depot vehicle plugs in overnight, Mon..Sun
        rate_by_dow=(0.9, 0.9, 0.9, 0.9, 0.88, 0.42, 0.18),
    ),
    "public_dc": SegmentParams(
        ports_per_site=(2, 4, 6, 8),
        ports_per_site_p=(0.2, 0.45, 0.2, 0.15),
        hardware=((50.0, "DC", 0.12), (150.0, "DC", 0.43), (250.0, "DC", 0.15), (350.0, "DC", 0.30)),
        ramp_tau_days=120.0,
        ramp_floor=0.2,
        growth_per_month=0.012,
        fail_p=0.09,
        popularity_sigma=0.4,
        seasonal=(0.84, 0.86, 0.94, 0.98, 1.04, 1.1, 1.16, 1.14, 1.02, 0.99, 0.95, 1.02),
        sites_per_customer=(1, 2, 3, 5),
        sites_per_customer_p=(0.45, 0.3, 0.15, 0.1),
        revenue_model_p={"caas": 0.6, "hardware_sale": 0.25, "software_only": 0.15},
        # sessions per port per day at maturity, Mon..Sun
        rate_by_dow=(6.6, 6.6, 6.8, 7.0, 7.8, 7.7, 6.7),
    ),
    "commercial": SegmentParams(
        ports_per_site=(2, 4, 6, 8, 12),
        ports_per_site_p=(0.3, 0.3, 0.2, 0.12, 0.08),
        hardware=((7.2, "AC_1_PHASE", 0.35), (9.6, "AC_1_PHASE", 0.4), (11.5, "AC_1_PHASE", 0.25)),
        ramp_tau_days=60.0,
        ramp_floor=0.25,
        growth_per_month=0.005,
        fail_p=0.04,
        popularity_sigma=0.3,
        seasonal=(0.95, 0.97, 1.0, 1.0, 1.0, 0.97, 0.93, 0.9, 1.0, 1.02, 0.98, 0.86),
        sites_per_customer=(1, 2, 3, 4),
        sites_per_customer_p=(0.5, 0.25, 0.15, 0.1),
        revenue_model_p={"hardware_sale": 0.5, "software_only": 0.3, "caas": 0.2},
        rate_by_dow=(1.4, 1.45, 1.45, 1.4, 1.2, 0.5, 0.35),
    ),
    "residential": SegmentParams(
        ports_per_site=(1, 2),
        ports_per_site_p=(0.9, 0.1),
        hardware=((7.7, "AC_1_PHASE", 0.4), (9.6, "AC_1_PHASE", 0.35), (11.5, "AC_1_PHASE", 0.25)),
        ramp_tau_days=7.0,
        ramp_floor=0.5,
        fail_p=0.01,
        popularity_sigma=0.35,
        seasonal=(1.06, 1.05, 1.0, 0.98, 0.97, 0.97, 0.98, 0.98, 0.98, 1.0, 1.02, 1.05),
        sites_per_customer=(1,),
        sites_per_customer_p=(1.0,),
        revenue_model_p={"hardware_sale": 0.7, "software_only": 0.3},
        rate_by_dow=(0.5, 0.5, 0.5, 0.5, 0.45, 0.42, 0.45),
    ),
}

# Fixed-date holidays (month, day): commercial and fleet demand drops to 25 %.
HOLIDAYS = ((1, 1), (5, 26), (7, 4), (9, 1), (11, 27), (12, 25))

# ---- outages (handbook §4) ---------------------------------------------------------------------
# cause -> (scope, events per unit per year, median duration h, lognormal sigma, nevi_excludable)
# scope: port, charger or site. DC hardware faults are 2.5x more frequent (power electronics).
OUTAGE_CAUSES: dict[str, tuple[str, float, float, float, bool]] = {
    "hardware_fault": ("port", 1.4, 20.0, 0.9, False),
    "software_fault": ("charger", 2.0, 2.5, 0.8, False),
    "communication": ("charger", 3.0, 5.0, 1.0, False),
    "utility_interruption": ("site", 1.0, 3.0, 0.6, True),
    "vandalism": ("port", 0.25, 96.0, 0.5, True),
    "scheduled_maintenance": ("charger", 1.0, 4.0, 0.3, True),
}
DC_HARDWARE_FACTOR = 2.5
PROBLEM_SITE_SHARE = 0.06  # sites whose fault rates are 4x (below the NEVI 97 % line)
PROBLEM_SITE_FACTOR = 4.0
COMM_TICKET_MIN_H = 2.0  # communication losses shorter than this auto-recover without a ticket
COMM_STILL_CHARGING_SHARE = 0.5  # comm losses where the charger keeps charging (modem only)
HARDWARE_ERROR_CODES = (
    "GroundFailure",
    "HighTemperature",
    "OverCurrentFailure",
    "PowerSwitchFailure",
    "PowerMeterFailure",
    "ConnectorLockFailure",
    "OverVoltage",
    "InternalError",
)
SOFTWARE_ERROR_CODES = ("InternalError", "ResetFailure", "OtherError")

HEARTBEAT_S = 4 * 3600
OCPP201_SHARE = {"DC": 0.3, "AC": 0.2}  # chargers speaking OCPP 2.0.1 (newer models)

# Charger catalogue (fictional vendors): power type -> list of (vendor, model, rated_kw or None).
VENDORS = {
    "DC": [("Voltaic", "VX-DC", "1.6"), ("Kilowatt Works", "KW Rapid", "1.6"), ("Ampera", "Ampera HPC", "2.0.1")],
    "AC": [("Voltaic", "VX-L2", "1.6"), ("Homewatt", "HW Wallbox", "1.6"), ("Ampera", "Ampera AC", "2.0.1")],
}
