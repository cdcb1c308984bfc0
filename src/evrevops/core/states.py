"""What a reported status means for uptime (handbook §4).

Every status string a reader stores in ``status_events.status`` maps to one
*state* of the port:

* ``up``: online and available or in use (OCPP 1.6 Available, Preparing,
  Charging, SuspendedEVSE, SuspendedEV, Finishing, Reserved; OCPP 2.0.1
  Occupied; OCPI AVAILABLE, BLOCKED, CHARGING, RESERVED);
* ``fault``: reported out of service (OCPP Faulted, Unavailable; OCPI
  OUTOFORDER, INOPERATIVE) — an outage;
* ``offline``: explicitly out of contact (a status feed's "offline" code,
  stored as ``Offline``) — an outage, as is a silence the timeline infers;
* ``no_data``: the source had no observation (``Unknown``, OCPI ``UNKNOWN``):
  not shown to be up, so NEVI uptime counts it as outage and
  ``measured_uptime_pct`` leaves it out.

A status not listed here counts as ``fault`` (never silently as up).
"""

from __future__ import annotations

UP, NO_DATA, FAULT, OFFLINE = "up", "no_data", "fault", "offline"

# Severity rank: at equal instants the worst status wins (a deterministic tie-break).
RANK = {UP: 0, NO_DATA: 1, FAULT: 2, OFFLINE: 3}

STATUS_STATE: dict[str, str] = {
    # OCPP 1.6 ChargePointStatus
    "Available": UP,
    "Preparing": UP,
    "Charging": UP,
    "SuspendedEVSE": UP,
    "SuspendedEV": UP,
    "Finishing": UP,
    "Reserved": UP,
    "Unavailable": FAULT,
    "Faulted": FAULT,
    # OCPP 2.0.1 ConnectorStatusEnumType (Available, Reserved, Unavailable, Faulted above)
    "Occupied": UP,
    # OCPI 2.2.1 EVSE Status
    "AVAILABLE": UP,
    "BLOCKED": UP,
    "CHARGING": UP,
    "RESERVED": UP,
    "INOPERATIVE": FAULT,
    "OUTOFORDER": FAULT,
    "UNKNOWN": NO_DATA,
    # status feeds (formats.status_snapshots): explicit out-of-contact and no-observation codes
    "Offline": OFFLINE,
    "Unknown": NO_DATA,
}

# Stop reasons that end a session abnormally: a fault or an EVSE-side stop (handbook §4 session
# success). OCPP 1.6 StopTransaction ``reason`` and OCPP 2.0.1 ``stoppedReason`` values; ``Other``
# counts as abnormal (the charger did not say the driver or the car ended it). Normal ends:
# EVDisconnected, Local, Remote, DeAuthorized, EnergyLimitReached, SOCLimitReached, StoppedByEV,
# TimeLimitReached, LocalOutOfCredit, MasterPass.
ABNORMAL_STOP_REASONS = (
    "EmergencyStop",
    "HardReset",
    "SoftReset",
    "ImmediateReset",
    "Reboot",
    "PowerLoss",
    "PowerQuality",
    "GroundFault",
    "OvercurrentFault",
    "UnlockCommand",
    "Timeout",
    "EVCommunicationError",
    "Other",
)
