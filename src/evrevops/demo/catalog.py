"""The demo network's catalog: names, driver and utility tariffs per segment and region, grid sizes.

Fixed tables the network builder (:mod:`evrevops.demo.network`) draws from; no random draw here.
"""

from __future__ import annotations

import numpy as np

ADJECTIVES = [
    "Summit", "Harbor", "Prairie", "Cascade", "Granite", "Liberty", "Pioneer", "Redwood", "Keystone", "Evergreen",
    "Silver", "Blue Ridge", "Lakeside", "Canyon", "Meridian", "Beacon", "Coastal", "Frontier", "Heritage", "Northstar",
    "Sunbelt", "Riverbend", "Ironwood", "Highland", "Bayview", "Mesa", "Patriot", "Horizon", "Oak Valley", "Crescent",
]  # fmt: skip
NOUNS = {
    "fleet": ["Logistics", "Delivery", "Transit Authority", "Freight", "Courier", "Utilities Fleet", "Rental Cars",
              "School District Fleet", "Grocers Fleet", "Field Services"],
    "public_dc": ["Travel Centers", "Markets", "Energy Plaza", "Fuel & Food", "Shopping Centers", "Quick Stop",
                  "Outlet Malls", "Hospitality Group"],
    "commercial": ["Properties", "Medical Center", "Office Park", "University", "Apartments", "Hotels",
                   "City Parking", "Tech Campus", "Retail Partners", "County Facilities"],
}  # fmt: skip
FIRST_INITIALS = ["A.", "B.", "C.", "D.", "E.", "J.", "K.", "L.", "M.", "R.", "S.", "T."]
LAST_NAMES = [
    "Garcia", "Smith", "Nguyen", "Johnson", "Patel", "Kim", "Brown", "Lopez", "Miller", "Davis", "Wilson", "Moore",
    "Taylor", "Anderson", "Thomas", "Martin", "Lee", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill",
]  # fmt: skip
STREETS = [
    "Main St", "Oak Ave", "Industrial Blvd", "Commerce Dr", "Airport Rd", "Market St", "Park Ave", "Highway 1",
    "Lincoln Ave", "Washington Blvd", "Harbor Dr", "Depot Rd", "Elm St", "Maple Dr", "Cedar Ln", "Union Pkwy",
]  # fmt: skip
SITE_KIND = {
    "fleet": "Depot",
    "public_dc": "Fast Charging Hub",
    "commercial": "Garage",
    "residential": "Residence",
}
GRID_SIZES_KW = (25, 50, 75, 100, 150, 225, 300, 500, 750, 1000, 1500, 2000, 2500, 3000, 4000, 5000)

DRIVER_TARIFF = {
    "fleet": ["EVR-FLEET-DEPOT"],
    "public_dc": ["EVR-DC-STD", "EVR-DC-TIME"],
    "commercial": ["EVR-L2-WORK", "EVR-L2-DEST"],
    "residential": ["EVR-HOME"],
}
UTILITY_BY_REGION = {
    "california": "demo-ca-ev-tou-demand",
    "northeast": "demo-ne-large-tod",
    "southeast": "demo-se-gsld",
    "central": "demo-central-lgs-tiered",
    "mountain": "demo-mtn-sg-seasonal",
    "arizona": "demo-az-tou-demand",
    "pacific_nw": "demo-pnw-gs-demand",
}
SMALL_COMMERCIAL = "demo-small-commercial-tou"
RESIDENTIAL_UTILITY = "demo-residential-tou"
EV_RATE = "demo-ca-ev-tou-demand"  # the demo's EV-specific utility rate (urdb.py)
LIMITED_HOURS = "Mo-Fr 06:00-22:00; Sa,Su 08:00-20:00"
FIRST_MODEL = {
    "fleet": "hardware_sale",
    "public_dc": "caas",
    "commercial": "software_only",
    "residential": "hardware_sale",
}
PARKING_TYPE = {
    "fleet": "PARKING_LOT",
    "public_dc": "ALONG_MOTORWAY",
    "commercial": "PARKING_GARAGE",
    "residential": "ON_DRIVEWAY",
}


def grid_kw(load_kw: float) -> int:
    """The utility service size that covers a connected load.

    Parameters
    ----------
    load_kw : float
        Connected load [kW].

    Returns
    -------
    int
        The smallest of :data:`GRID_SIZES_KW` at least *load_kw*, else *load_kw* rounded up to 500 [kW].
    """
    for g in GRID_SIZES_KW:
        if g >= load_kw:
            return g
    return int(np.ceil(load_kw / 500) * 500)
