"""Convert the Dundee City Council charging sessions (Dec 2017 – Sep 2018) to OCPI 2.2.1 files.

Data: "Electric Vehicle Charging Sessions Dundee", Dundee City Council open data
(data.dundeecity.gov.uk, dataset ab3c487f-77c9-4157-a89f-ac9c95ae1b00), published under the
Open Government Licence v3.0 (contains public sector information licensed under the OGL v3.0).
Read from the in-repository sample ``tests/data/real/dundee_2017_2018/`` (every 40th session)
or from the full files of ``$EVREVOPS_REAL_DATA/dundee_2017_2018/`` (each folder's ``SOURCE.md``
gives the files' origin); see ``tests/helpers/real_data.py``.

:func:`convert` writes

* ``cdrs.ndjson``: one CDR per session with an end and a kWh. ``id`` = ``DUNDEE-<Charging
  event>``; ``cdr_location.id`` = :func:`location_id` of the row's ``Site`` (the location where
  the session happened), ``evse_uid`` = ``<CP ID>-<Connector>``; start and end converted from
  Europe/London local time to UTC (DST-correct; a local time that does not exist or exists twice
  is skipped, not guessed); ``total_energy`` = ``Total kWh``; ``total_time`` = end − start in
  hours; ``GBP``; ``total_cost`` = ``Cost`` (a blank cost is written as 0.00 and counted: charging
  was free); ``last_updated`` = the end.
* ``locations.json``: one Location per ``Site`` name, ``time_zone`` Europe/London, each EVSE
  listed only under the site of its latest session (as a live Locations feed lists an EVSE where
  it is now), ``last_updated`` fixed at :data:`SNAPSHOT` so the output is the same bytes every run.

Each distinct ``Site`` text is its own location: the data renames some sites in February 2018
(``Trades Lane`` → ``Trades Lane, Dundee``) and those chargers then show as moved too.

Assumptions where the export says nothing (the readers need them): coordinates are a point near
Dundee city centre, offset per site by its name's hash; connector standards and powers come from
the ``Model`` (7 kW: Type 2 socket, 1-phase 32 A; 22 kW: Type 2 socket, 3-phase 32 A; the rapid
units' connector 1 CCS and 2 CHAdeMO, DC 50 kW, connector 3 Type 2 cable, AC 43 kW); the EVSE
status is ``UNKNOWN`` (the export states none).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import duckdb
import pandas as pd

FILES = ("cp-data-dec-mar-2018.csv", "cp-data-mar-may-2018.csv", "charge-sessions-june-sept.csv")
COLUMNS = ["Charging event", "CP ID", "Connector", "Start Date", "Start Time", "End Date", "End Time", "Total kWh",
           "Cost", "Site", "Model"]  # fmt: skip
TZ = "Europe/London"
SNAPSHOT = "2018-09-07T00:00:00Z"  # the Locations feed's last_updated (the day after the last session start)
COUNTRY_CODE, PARTY_ID = "GB", "DCC"
CENTRE = (56.4620, -2.9707)  # Dundee city centre
SKIP_REASONS = ("duplicate_event", "no_end", "no_kwh", "unreadable_time", "unreadable_kwh",
                "nonexistent_or_ambiguous_local_time", "negative_kwh", "end_before_start", "unreadable_cost")  # fmt: skip

# (power_type, standard, format, volts, amps, watts) by model kind and connector number
_AC7 = ("AC_1_PHASE", "IEC_62196_T2", "SOCKET", 230, 32, 7360)
_AC22 = ("AC_3_PHASE", "IEC_62196_T2", "SOCKET", 230, 32, 22000)
_RAPID = {
    "1": ("DC", "IEC_62196_T2_COMBO", "CABLE", 500, 125, 50000),
    "2": ("DC", "CHADEMO", "CABLE", 500, 125, 50000),
    "3": ("AC_3_PHASE", "IEC_62196_T2", "CABLE", 230, 63, 43000),
}


def location_id(site: str) -> str:
    """A stable OCPI Location id (≤ 36 characters) from a site name: ``DUN-<slug>-<hash>``."""
    slug = re.sub(r"[^a-z0-9]+", "-", site.lower()).strip("-")[:22].strip("-")
    return f"DUN-{slug}-{hashlib.sha1(site.encode()).hexdigest()[:6]}"


def _coordinates(site: str) -> tuple[str, str]:
    h = int(hashlib.sha1(site.encode()).hexdigest()[:8], 16)
    lat = CENTRE[0] + ((h % 401) - 200) / 10000
    lon = CENTRE[1] + (((h // 401) % 801) - 400) / 10000
    return f"{lat:.6f}", f"{lon:.6f}"


def _connector(model: str, connector: str) -> tuple[str, str, str, int, int, int]:
    if "Rapid" in model or "50kW" in model:
        return _RAPID.get(connector, _RAPID["2"])
    return _AC22 if "22kW" in model else _AC7


def _read(real_dir: Path) -> pd.DataFrame:
    frames = []
    for i, name in enumerate(FILES):
        df = pd.read_csv(real_dir / name, dtype=str, keep_default_na=False)
        df = df[COLUMNS + (["User ID"] if "User ID" in df.columns else [])].copy()
        df["file_no"], df["row_no"] = i, range(len(df))
        frames.append(df)
    a = pd.concat(frames, ignore_index=True)
    for c in [*COLUMNS, "User ID"]:
        a[c] = a[c].fillna("").str.strip()
    return a


def _local(date: pd.Series, time: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(naive local, UTC) instants; UTC is NaT where the local time is missing, unreadable, or not one instant."""
    naive = pd.to_datetime(date + " " + time, format="%d/%m/%Y %H:%M", errors="coerce")
    utc = naive.dt.tz_localize(TZ, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC").dt.tz_localize(None)
    return naive, utc


def convert(real_dir: Path, out_dir: Path) -> dict:
    """Write ``cdrs.ndjson`` and ``locations.json`` of the Dundee sessions into *out_dir*.

    Returns
    -------
    dict
        ``sessions_read`` (rows of the three CSVs, and ``per_file``), ``cdrs_written``,
        ``skipped`` by reason (``sessions_read == cdrs_written + sum(skipped)``),
        ``cost_blank_as_zero``, ``locations_written``, ``evses_written``, ``sites`` (location id →
        site name) and ``moved``: for every EVSE whose CDRs name more than one location, its
        ``current`` location (where ``locations.json`` lists it) and, per location it was at, the
        site name and its CDR count per Europe/London month of the session start.
    """
    real_dir, out_dir = Path(real_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    a = _read(real_dir)
    per_file = {name: int((a.file_no == i).sum()) for i, name in enumerate(FILES)}
    # the same event in two files: keep one (the one with an end, else the later file's)
    has_end = (a["End Date"] != "") & (a["End Time"] != "")
    a = a.assign(_has_end=has_end).sort_values(["_has_end", "file_no", "row_no"], ascending=[False, False, True])
    dup = a.duplicated("Charging event", keep="first")
    a.loc[:, "skip"] = None
    a.loc[dup, "skip"] = "duplicate_event"
    a = a.sort_values(["file_no", "row_no"])

    a["start_local"], a["start_utc"] = _local(a["Start Date"], a["Start Time"])
    a["end_local"], a["end_utc"] = _local(a["End Date"], a["End Time"])
    kwh = pd.to_numeric(a["Total kWh"], errors="coerce")
    cost = pd.to_numeric(a["Cost"].replace("", "0"), errors="coerce")
    checks = [
        ("no_end", ~a._has_end),
        ("no_kwh", a["Total kWh"] == ""),
        ("unreadable_time", a.start_local.isna() | a.end_local.isna()),
        ("unreadable_kwh", kwh.isna()),
        ("nonexistent_or_ambiguous_local_time", a.start_utc.isna() | a.end_utc.isna()),
        ("negative_kwh", kwh < 0),
        ("end_before_start", a.end_utc < a.start_utc),
        ("unreadable_cost", cost.isna() | (cost < 0)),
    ]
    for reason, bad in checks:
        a.loc[a.skip.isna() & bad, "skip"] = reason
    skipped = {r: int((a.skip == r).sum()) for r in SKIP_REASONS}

    sites = sorted(a.Site.unique())
    ids = {s: location_id(s) for s in sites}
    if len(set(ids.values())) != len(ids):
        raise ValueError("two site names give the same location id")
    coords = {s: _coordinates(s) for s in sites}
    a["loc_id"] = a.Site.map(ids)
    a["lat"] = a.Site.map(lambda s: coords[s][0])
    a["lon"] = a.Site.map(lambda s: coords[s][1])
    a["cp"], a["conn"] = a["CP ID"], a["Connector"]
    a["evse_uid"] = a.cp + "-" + a.conn
    spec = {(m, c): _connector(m, c) for m, c in a[["Model", "Connector"]].drop_duplicates().itertuples(index=False)}
    for k, name in enumerate(["power_type", "standard", "format", "volts", "amps", "watts"]):
        a[name] = [spec[mc][k] for mc in zip(a.Model, a.Connector, strict=True)]

    c = a[a.skip.isna()].copy()
    c["cdr_id"] = "DUNDEE-" + c["Charging event"]
    c["start_s"] = c.start_utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    c["end_s"] = c.end_utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    c["hours"] = (c.end_utc - c.start_utc).dt.total_seconds() / 3600.0
    c["kwh"] = kwh[c.index]
    c["cost_s"] = cost[c.index].map("{:.2f}".format)
    c["token"] = ("DUNDEE-USER-" + c["User ID"]).where(c["User ID"] != "", "DUNDEE-SESSION-" + c["Charging event"])
    c["month"] = c.start_local.dt.strftime("%Y-%m")
    c = c.sort_values(["start_utc", "cdr_id"])
    cols = ["cdr_id", "start_s", "end_s", "token", "loc_id", "Site", "lat", "lon", "evse_uid", "cp", "conn",
            "standard", "format", "power_type", "cost_s", "kwh", "hours"]  # fmt: skip
    con = duckdb.connect()
    con.register("c", c[cols].rename(columns={"Site": "site"}))
    con.execute(
        f"""COPY (
            SELECT '{COUNTRY_CODE}' AS country_code, '{PARTY_ID}' AS party_id, cdr_id AS id,
                   start_s AS start_date_time, end_s AS end_date_time,
                   {{'uid': token, 'type': 'OTHER', 'contract_id': token}} AS cdr_token,
                   'AUTH_REQUEST' AS auth_method,
                   {{'id': loc_id, 'name': site, 'address': site, 'city': 'Dundee', 'country': 'GBR',
                     'coordinates': {{'latitude': lat, 'longitude': lon}},
                     'evse_uid': evse_uid, 'evse_id': '{COUNTRY_CODE}*{PARTY_ID}*E' || cp || '*' || conn,
                     'connector_id': conn, 'connector_standard': standard, 'connector_format': format,
                     'connector_power_type': power_type}} AS cdr_location,
                   'GBP' AS currency,
                   [{{'start_date_time': start_s,
                      'dimensions': [{{'type': 'ENERGY', 'volume': kwh}}, {{'type': 'TIME', 'volume': hours}}]}}]
                       AS charging_periods,
                   {{'excl_vat': cost_s, 'incl_vat': cost_s}} AS total_cost,
                   kwh AS total_energy,
                   hours AS total_time,
                   end_s AS last_updated
            FROM c ORDER BY start_s, cdr_id
        ) TO '{out_dir / "cdrs.ndjson"}' (FORMAT JSON)"""
    )
    con.close()

    # Locations: each EVSE under the site of its latest session (any session read, open ones too)
    live = a[a.skip != "duplicate_event"].dropna(subset=["start_local"])
    live = live.assign(ev=pd.to_numeric(live["Charging event"], errors="coerce"))
    latest = live.sort_values(["start_local", "ev", "Charging event"]).groupby("evse_uid").tail(1)
    evses: dict[str, list[dict]] = {s: [] for s in sites}
    for r in latest.sort_values("evse_uid").itertuples(index=False):
        evses[r.Site].append(
            {
                "uid": r.evse_uid,
                "evse_id": f"{COUNTRY_CODE}*{PARTY_ID}*E{r.cp}*{r.conn}",
                "status": "UNKNOWN",
                "connectors": [
                    {
                        "id": r.conn,
                        "standard": r.standard,
                        "format": r.format,
                        "power_type": r.power_type,
                        "max_voltage": r.volts,
                        "max_amperage": r.amps,
                        "max_electric_power": r.watts,
                        "last_updated": SNAPSHOT,
                    }
                ],
                "last_updated": SNAPSHOT,
            }
        )
    locations = [
        {
            "country_code": COUNTRY_CODE,
            "party_id": PARTY_ID,
            "id": ids[s],
            "publish": True,
            "name": s,
            "address": s,
            "city": "Dundee",
            "country": "GBR",
            "coordinates": {"latitude": coords[s][0], "longitude": coords[s][1]},
            "time_zone": TZ,
            "evses": evses[s],
            "last_updated": SNAPSHOT,
        }
        for s in sorted(sites, key=lambda s: ids[s])
    ]
    (out_dir / "locations.json").write_text(json.dumps(locations, indent=1, ensure_ascii=False) + "\n")

    # EVSEs whose CDRs name more than one location
    current = dict(zip(latest.evse_uid, latest.loc_id, strict=True))
    counts = c.groupby(["evse_uid", "loc_id", "Site", "month"]).size()
    n_locs = c.groupby("evse_uid").loc_id.nunique()
    moved: dict[str, dict] = {}
    for uid in sorted(n_locs[n_locs > 1].index):
        at: dict[str, dict] = {}
        for (loc, site, month), n in counts.loc[uid].items():
            at.setdefault(loc, {"name": site, "sessions_by_month": {}})["sessions_by_month"][month] = int(n)
        moved[uid] = {"current": current[uid], "locations": at}
    return {
        "sessions_read": len(a),
        "per_file": per_file,
        "cdrs_written": len(c),
        "skipped": skipped,
        "cost_blank_as_zero": int(((a.Cost == "") & a.skip.isna()).sum()),
        "locations_written": len(locations),
        "evses_written": len(latest),
        "sites": {ids[s]: s for s in sites},
        "moved": moved,
    }
