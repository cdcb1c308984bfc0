"""Utility tariffs of the demo sites, as OpenEI URDB records (``{"items": [...]}``).

Modelled on the real records in ``../shared/data/real/tariffs_urdb`` (PG&E
E-19 and BEV, SCE TOU-8, Con Edison SC-9, FPL GSLD-1, Xcel/PSCo, SMUD, Dominion
GS-3): TOU energy ``energyratestructure`` with 12×24 weekday/weekend schedules
(0-based period indices, local time), flat demand ``flatdemandstructure`` +
``flatdemandmonths``, TOU demand ``demandratestructure`` + schedules, and fixed
charges ``fixedchargefirstmeter`` in ``$/month`` or ``$/day``
(``fixedchargeunits``). Labels are ``demo-...`` so they can never collide with
a real URDB label. Commercial demand charges are $10-25/kW-month (handbook §5).
"""

from __future__ import annotations

import copy
import datetime as dt

SUMMER = (6, 7, 8, 9)  # Jun-Sep


def _sched(rule) -> list[list[int]]:
    """12×24 matrix from ``rule(month 1-12, hour 0-23) -> period``."""
    return [[int(rule(m, h)) for h in range(24)] for m in range(1, 13)]


def _rates(*rates, adj: float | None = None) -> list[list[dict]]:
    out = []
    for r in rates:
        if isinstance(r, list):  # tiers: [(max_kwh or None, rate), ...]
            tiers = []
            for mx, rate in r:
                t = {"rate": rate, "unit": "kWh"}
                if mx is not None:
                    t["max"] = mx
                tiers.append(t)
            out.append(tiers)
        else:
            t = {"rate": r, "unit": "kWh"}
            if adj is not None:
                t["adj"] = adj
            out.append([t])
    return out


def _dem(*rates) -> list[list[dict]]:
    return [[{"rate": r}] for r in rates]


def _epoch(d: dt.date) -> int:
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp())


def _summer(month: int) -> bool:
    return month in SUMMER


def _spec(label: str, utility: str, name: str, sector: str, desc: str, **fields) -> dict:
    """One tariff of the table: its identity, its description and its URDB fields (in record order)."""
    return {"label": label, "utility": utility, "name": name, "sector": sector, "desc": desc, "fields": fields}


# The demo's utility tariffs (a data table): one spec per tariff, in the order they are written.
TARIFF_SPECS = [
    _spec(
        "demo-ca-ev-tou-demand",
        "Demo Pacific Electric (CA)",
        "DEMO E-19-like Medium General Demand TOU",
        "Commercial",
        "Modelled on PG&E E-19 / SCE TOU-8: summer on-peak 16-21, part-peak 14-16 and 21-23; "
        "flat demand all months plus summer on-peak demand; fixed charge per day.",
        energyratestructure=_rates(0.1412, 0.1786, 0.2634, 0.1298, 0.1587),
        energyweekdayschedule=_sched(
            lambda m, h: (
                (2 if 16 <= h < 21 else 1 if (14 <= h < 16 or 21 <= h < 23) else 0)
                if _summer(m)
                else (4 if 16 <= h < 21 else 3)
            )
        ),
        energyweekendschedule=_sched(lambda m, h: 0 if _summer(m) else 3),
        flatdemandstructure=_dem(21.15),
        flatdemandmonths=[0] * 12,
        flatdemandunit="kW",
        demandratestructure=_dem(0.0, 19.65, 4.2),
        demandweekdayschedule=_sched(
            lambda m, h: (1 if 16 <= h < 21 else 0) if _summer(m) else (2 if 16 <= h < 21 else 0)
        ),
        demandweekendschedule=_sched(lambda m, h: 0),
        demandrateunit="kW",
        fixedchargefirstmeter=4.59959,
        fixedchargeunits="$/day",
        peakkwcapacitymin=0,
        peakkwcapacitymax=1999,
    ),
    _spec(
        "demo-ne-large-tod",
        "Demo Metro Edison (NY/NJ/MA/PA)",
        "DEMO SC-9-like General Large Time-of-Day",
        "Commercial",
        "Modelled on Con Edison SC-9: summer and winter flat demand (flatdemandmonths) plus a "
        "weekday 8-22 TOU demand charge; energy with an adjustment (adj).",
        energyratestructure=_rates(0.1017, 0.0712, adj=0.031),
        energyweekdayschedule=_sched(lambda m, h: 0 if 8 <= h < 22 else 1),
        energyweekendschedule=_sched(lambda m, h: 1),
        flatdemandstructure=_dem(19.10, 24.60),
        flatdemandmonths=[1 if m in SUMMER else 0 for m in range(1, 13)],
        flatdemandunit="kW",
        demandratestructure=_dem(0.0, 11.90),
        demandweekdayschedule=_sched(lambda m, h: 1 if 8 <= h < 22 else 0),
        demandweekendschedule=_sched(lambda m, h: 0),
        demandrateunit="kW",
        fixedchargefirstmeter=120.0,
        fixedchargeunits="$/month",
    ),
    _spec(
        "demo-se-gsld",
        "Demo Southern Power (FL/GA/NC)",
        "DEMO GSLD-1-like General Service Large Demand",
        "Commercial",
        "Modelled on FPL GSLD-1: flat energy and flat demand, monthly fixed charge.",
        energyratestructure=_rates(0.0196, adj=0.0554),
        energyweekdayschedule=_sched(lambda m, h: 0),
        energyweekendschedule=_sched(lambda m, h: 0),
        flatdemandstructure=_dem(12.80),
        flatdemandmonths=[0] * 12,
        flatdemandunit="kW",
        fixedchargefirstmeter=75.0,
        fixedchargeunits="$/month",
    ),
    _spec(
        "demo-central-lgs-tiered",
        "Demo Prairie Electric (TX/IL/MN/TN/MI)",
        "DEMO Large General Service, tiered energy",
        "Commercial",
        "Two energy tiers (first 15,000 kWh per month, then cheaper), flat demand, monthly fixed charge.",
        energyratestructure=_rates([(15000, 0.0952), (None, 0.0821)]),
        energyweekdayschedule=_sched(lambda m, h: 0),
        energyweekendschedule=_sched(lambda m, h: 0),
        flatdemandstructure=_dem(14.30),
        flatdemandmonths=[0] * 12,
        flatdemandunit="kW",
        fixedchargefirstmeter=45.0,
        fixedchargeunits="$/month",
    ),
    _spec(
        "demo-mtn-sg-seasonal",
        "Demo Rocky Mountain Power (CO/UT/NM/ID)",
        "DEMO Secondary General, seasonal demand",
        "Commercial",
        "Modelled on Xcel/PSCo: summer/winter flat demand via flatdemandmonths, weekday on-peak "
        "energy 14-19, fixed charge per day.",
        energyratestructure=_rates(0.0612, 0.1185),
        energyweekdayschedule=_sched(lambda m, h: 1 if 14 <= h < 19 else 0),
        energyweekendschedule=_sched(lambda m, h: 0),
        flatdemandstructure=_dem(17.20, 21.40),
        flatdemandmonths=[1 if m in SUMMER else 0 for m in range(1, 13)],
        flatdemandunit="kW",
        fixedchargefirstmeter=1.85,
        fixedchargeunits="$/day",
    ),
    _spec(
        "demo-az-tou-demand",
        "Demo Desert Power (AZ)",
        "DEMO E-32-like TOU General Service",
        "Commercial",
        "Arizona (no DST): summer (May-Oct) on-peak 16-19 weekdays for energy and demand, flat demand.",
        energyratestructure=_rates(0.0803, 0.1689, 0.0761, 0.1102),
        energyweekdayschedule=_sched(
            lambda m, h: (1 if 16 <= h < 19 else 0) if 5 <= m <= 10 else (3 if 16 <= h < 19 else 2)
        ),
        energyweekendschedule=_sched(lambda m, h: 0 if 5 <= m <= 10 else 2),
        flatdemandstructure=_dem(10.50),
        flatdemandmonths=[0] * 12,
        flatdemandunit="kW",
        demandratestructure=_dem(0.0, 16.00),
        demandweekdayschedule=_sched(lambda m, h: 1 if 16 <= h < 19 else 0),
        demandweekendschedule=_sched(lambda m, h: 0),
        demandrateunit="kW",
        fixedchargefirstmeter=32.0,
        fixedchargeunits="$/month",
    ),
    _spec(
        "demo-pnw-gs-demand",
        "Demo Cascade Light (WA/OR)",
        "DEMO Large General Service",
        "Commercial",
        "Low flat energy, flat demand, monthly fixed charge.",
        energyratestructure=_rates(0.0788),
        energyweekdayschedule=_sched(lambda m, h: 0),
        energyweekendschedule=_sched(lambda m, h: 0),
        flatdemandstructure=_dem(9.80),
        flatdemandmonths=[0] * 12,
        flatdemandunit="kW",
        fixedchargefirstmeter=40.0,
        fixedchargeunits="$/month",
    ),
    _spec(
        "demo-small-commercial-tou",
        "Demo Pacific Electric (all regions)",
        "DEMO Small General Service TOU (no demand charge)",
        "Commercial",
        "Modelled on PG&E BEV-1 / small commercial TOU: energy only, on-peak 16-21, super off-peak 9-14.",
        energyratestructure=_rates(0.2134, 0.3875, 0.1562),
        energyweekdayschedule=_sched(lambda m, h: 1 if 16 <= h < 21 else 2 if 9 <= h < 14 else 0),
        energyweekendschedule=_sched(lambda m, h: 1 if 16 <= h < 21 else 2 if 9 <= h < 14 else 0),
        fixedchargefirstmeter=12.0,
        fixedchargeunits="$/month",
    ),
    _spec(
        "demo-residential-tou",
        "Demo Pacific Electric (all regions)",
        "DEMO Residential Time-of-Use",
        "Residential",
        "Residential TOU: on-peak 16-21 every day, higher in summer; fixed charge per day.",
        energyratestructure=_rates(0.2812, 0.3643, 0.3311, 0.4952),
        energyweekdayschedule=_sched(
            lambda m, h: (3 if 16 <= h < 21 else 2) if _summer(m) else (1 if 16 <= h < 21 else 0)
        ),
        energyweekendschedule=_sched(
            lambda m, h: (3 if 16 <= h < 21 else 2) if _summer(m) else (1 if 16 <= h < 21 else 0)
        ),
        fixedchargefirstmeter=0.40,
        fixedchargeunits="$/day",
    ),
]


def _record(spec: dict, common: dict) -> dict:
    """A spec as a URDB record: identity, the fields every record shares, description, its own fields."""
    r = {"label": spec["label"], "utility": spec["utility"], "name": spec["name"], "sector": spec["sector"],
         "servicetype": "Bundled"}  # fmt: skip
    r.update(common)
    r["description"] = "Demo tariff generated by evrevops (not a real rate). " + spec["desc"]
    r.update(copy.deepcopy(spec["fields"]))
    return r


def urdb_records(start: dt.date) -> list[dict]:
    """The demo utility tariffs, effective from well before *start* (the first of January four years before)."""
    since = _epoch(dt.date(start.year - 4, 1, 1))
    common = {"country": "USA", "approved": True, "is_default": False, "startdate": since, "demandwindow": 15}
    return [_record(spec, common) for spec in TARIFF_SPECS]
