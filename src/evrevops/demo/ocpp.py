"""OCPP-J message logs (``ocpp/ocpp-YYYY-MM.ndjson``), as a CSMS would record them.

One JSON object a line: ``{"timestamp": <received, UTC>, "charge_point_id":
<charger>, "message": [2, uid, Action, payload]}`` for CALLs and
``[3, uid, payload]`` for the CALLRESULTs of BootNotification and
StartTransaction. Chargers speak OCPP 1.6J or 2.0.1 (by model, see
sites.csv ``charger_model``; the payload shapes tell them apart).

- BootNotification when a charger is commissioned and after a reboot (software
  fault) or a power cut (utility interruption);
- Heartbeat every ``heartbeat_s`` (default 4 h) per charger while it is online:
  there are none during communication losses and power cuts (the *offline*
  gaps of handbook §4);
- StatusNotification: ``Available`` for every port when the log starts and
  after each outage, ``Faulted`` (1.6 ``errorCode``) for hardware and software
  faults, vandalism and power cuts, ``Unavailable`` for scheduled maintenance
  and decommissioning; 2.0.1 uses ``connectorStatus``/``evseId``;
- transactions at public DC sites only: 1.6 StartTransaction (+ result with the
  ``transactionId`` = the CDR number), MeterValues every 15 min on the clock
  (``Energy.Active.Import.Register`` Wh and ``Power.Active.Import`` W),
  StopTransaction; 2.0.1 TransactionEvent Started/Updated/Ended with the same
  meter values (``transactionId`` = the CDR's ``session_id``). A charger that
  lost only its modem keeps charging; its transaction messages arrive when it
  reconnects (log time after the gap, payload times original).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from evrevops.demo import params as P
from evrevops.demo.cdrs import iso, month_of, write_monthly_ndjson
from evrevops.demo.network import Network, Window
from evrevops.demo.outages import Outages
from evrevops.demo.ports import port_service, site_bounds, unit_service
from evrevops.demo.sessions import Sessions
from evrevops.demo.tz import utc_offset

K_BOOT, K_BOOT_RES, K_STATUS, K_START, K_START_RES, K_METER, K_STOP, K_HB = range(8)
K_TE_START, K_TE_UPD, K_TE_END = 8, 9, 10
STATUS = ["Available", "Faulted", "Unavailable"]
ERRORS = [
    "NoError",
    *sorted(set(P.HARDWARE_ERROR_CODES) | set(P.SOFTWARE_ERROR_CODES) | {"OtherError", "UnderVoltage"}),
]
REASON_16 = ["EVDisconnected", "Local", "Remote", "Other", "PowerLoss", "Other"]
TRIGGER_201 = ["EVCommunicationLost", "StopAuthorized", "RemoteStop", "AbnormalCondition", "AbnormalCondition", "AbnormalCondition"]  # fmt: skip
COLS = ("ts", "pts", "charger", "kind", "conn", "status", "err", "info", "tx", "seqno", "token", "meter", "power", "reason")  # fmt: skip


_WIDE = {"ts", "pts", "tx", "meter", "power"}
_DTYPE = {c: np.int64 if c in _WIDE else np.int32 if c in ("charger", "token") else np.int16 for c in COLS}


def _ev(n: int, **cols) -> dict[str, np.ndarray]:
    out = {c: np.zeros(n, dtype=_DTYPE[c]) for c in COLS}
    out["token"][:] = -1
    for k, v in cols.items():
        out[k] = np.broadcast_to(np.asarray(v).astype(_DTYPE[k]), (n,)).copy()
    if "pts" not in cols:
        out["pts"] = out["ts"].copy()
    return out


def _cat(parts: list[dict]) -> dict[str, np.ndarray]:
    return {c: np.concatenate([p[c] for p in parts]) for c in COLS}


def _in_windows(key_ts: np.ndarray, key_unit: np.ndarray, w_unit, w_start, w_end) -> np.ndarray:
    """Index of the window of the same unit containing each instant, else -1."""
    if len(w_unit) == 0:
        return np.full(len(key_ts), -1)
    big = np.int64(1) << 42
    wk = w_unit.astype(np.int64) * big + w_start
    order = np.argsort(wk, kind="stable")
    wk, w_unit, w_end = wk[order], w_unit[order], w_end[order]
    i = np.searchsorted(wk, key_unit.astype(np.int64) * big + key_ts, side="right") - 1
    ii = np.maximum(i, 0)
    hit = (i >= 0) & (w_unit[ii] == key_unit) & (key_ts < w_end[ii])
    return np.where(hit, order[ii], -1)


@dataclass
class _Chargers:
    """The chargers as the CSMS log sees them: their ports, service spans and the log's span."""

    port_charger: np.ndarray  # the charger of each port
    port_conn: np.ndarray  # the connector id of each port
    p_from: np.ndarray  # port service [s since epoch]
    p_until: np.ndarray
    c_from: np.ndarray  # charger service [s since epoch]
    c_until: np.ndarray
    site_of_charger: np.ndarray
    site_hi: np.ndarray  # each site's last generated local midnight [s since epoch]
    decom: np.ndarray  # bool per charger: decommissioned in the window
    commissioned_in: np.ndarray  # bool per charger: commissioned in the window (and in service)
    lo_window: np.ndarray  # first instant each charger can beat [s since epoch]
    hb_until: np.ndarray  # last instant it beats

    @classmethod
    def of(cls, net: Network, window: Window) -> _Chargers:
        ports, chargers = net.ports, net.chargers
        port_charger = ports.charger_id.map({c: i for i, c in enumerate(chargers.charger_id)}).to_numpy()
        p_from, p_until = port_service(net, window)
        c_from, c_until = unit_service(port_charger, len(chargers), p_from, p_until)
        site_lo, site_hi = site_bounds(net, window)
        decom = np.array([d is not None and not pd.isna(d) for d in chargers.decommissioned_on])
        # The CSMS log covers one UTC span for the whole network (from the earliest site's first local
        # midnight to the latest site's last): a charger in service keeps beating until the log ends,
        # whatever its site's time zone, and one in service when the log starts beats from its start.
        existing = np.array([d < window.start for d in chargers.commissioned_on])
        live = c_from < c_until
        return cls(
            port_charger=port_charger,
            port_conn=ports.connector_id.to_numpy().astype(np.int64),
            p_from=p_from,
            p_until=p_until,
            c_from=c_from,
            c_until=c_until,
            site_of_charger=chargers.site_id.map({s: i for i, s in enumerate(net.sites.site_id)}).to_numpy(),
            site_hi=site_hi,
            decom=decom,
            commissioned_in=live & np.array([d >= window.start for d in chargers.commissioned_on]),
            lo_window=np.where(existing, np.minimum(c_from, site_lo.min()), c_from),
            hb_until=np.where(decom, c_until, np.maximum(c_until, site_hi.max())),
        )


def _offline_windows(outages: Outages, ch: _Chargers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows a charger is offline (no heartbeat, no status): ``(charger, start, end)`` arrays."""
    chargers_by_site = pd.Series(np.arange(len(ch.c_from))).groupby(ch.site_of_charger).indices
    off_rows = []
    for r in outages.df.itertuples():
        if r.cause not in ("communication", "utility_interruption"):
            continue
        cs = [r.charger_idx] if r.scope == "charger" else list(chargers_by_site[r.site_idx])
        for c in cs:
            off_rows.append((int(c), r.start, r.end, r.cause == "communication" and r.still_charging))
    off = pd.DataFrame(off_rows, columns=["c", "start", "end", "charging"])
    return off.c.to_numpy(dtype=np.int64), off.start.to_numpy(dtype=np.int64), off.end.to_numpy(dtype=np.int64)


def _heartbeats(rng, ch: _Chargers, heartbeat_s: int, off) -> tuple[dict, np.ndarray]:
    """Heartbeats every *heartbeat_s* [s] from a random phase while online; returns them and each first beat."""
    n_c = len(ch.c_from)
    phase = rng.integers(0, heartbeat_s, n_c)
    first_hb = ch.lo_window + phase
    n_hb = np.maximum((ch.hb_until - first_hb + heartbeat_s - 1) // heartbeat_s, 0)
    n_hb = np.where(ch.c_from < ch.c_until, n_hb, 0)
    rep = np.repeat(np.arange(n_c), n_hb)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(n_hb) - n_hb, n_hb)
    hb_ts = first_hb[rep] + k * heartbeat_s
    online = _in_windows(hb_ts, rep, *off) < 0
    return _ev(int(online.sum()), ts=hb_ts[online], charger=rep[online], kind=K_HB), first_hb


def _boot_and_status(ch: _Chargers, first_hb: np.ndarray) -> list[dict]:
    """Boot of chargers commissioned in the window, Available for every port, Unavailable at decommissioning."""
    boot_c = np.flatnonzero(ch.commissioned_in)
    boot_ts = ch.c_from[boot_c] + 9 * 3600  # commissioned during the morning of its first day
    parts = [
        _ev(len(boot_c), ts=boot_ts, charger=boot_c, kind=K_BOOT),
        _ev(len(boot_c), ts=boot_ts + 1, pts=boot_ts, charger=boot_c, kind=K_BOOT_RES),
    ]
    # Available for every port: at its charger's boot, or with the first heartbeat of the log
    p_live = ch.p_from < ch.p_until
    pc = ch.port_charger[p_live]
    t0 = np.where(ch.commissioned_in[pc], ch.c_from[pc] + 9 * 3600 + 2, first_hb[pc] + 1)
    parts.append(_ev(len(pc), ts=t0, charger=pc, kind=K_STATUS, conn=ch.port_conn[p_live], status=0))
    # decommissioning: Unavailable at the end of service
    dp = np.flatnonzero(p_live & ch.decom[ch.port_charger])
    parts.append(
        _ev(
            len(dp), ts=ch.p_until[dp] - 60, charger=ch.port_charger[dp], kind=K_STATUS, conn=ch.port_conn[dp], status=2
        )
    )
    return parts


def _outage_events(outages: Outages, ch: _Chargers) -> list[dict]:
    """Status at the start of each port's outage, boot after a reboot or power cut, Available at its end."""
    od, pw = outages.df, outages.port_windows
    ev = od.loc[pw.event.to_numpy()].reset_index(drop=True)
    p = pw.port.to_numpy()
    c = ch.port_charger[p]
    cn = ch.port_conn[p]
    st = pw.start.to_numpy()
    en = pw.end.to_numpy()
    cause = ev.cause.to_numpy()
    is_open = ev.open.to_numpy()
    err = np.array([ERRORS.index(e) if e else 0 for e in ev.error_code])
    begin_status = np.select([cause == "scheduled_maintenance", cause == "communication"], [2, -1], default=1)
    m = begin_status >= 0
    status = begin_status[m]
    parts = [
        _ev(
            int(m.sum()),
            ts=st[m],
            charger=c[m],
            kind=K_STATUS,
            conn=cn[m],
            status=status,
            err=np.where(status == 1, err[m], 0),
            info=(cause[m] == "vandalism").astype(np.int64),
        )  # fmt: skip
    ]
    # recovery: a reboot/power-up sends BootNotification first (once per charger)
    reboot = np.isin(cause, ["software_fault", "utility_interruption"]) & ~is_open
    bkey = pd.DataFrame({"c": c[reboot], "t": en[reboot]}).drop_duplicates()
    b_ts, b_c = bkey.t.to_numpy(), bkey.c.to_numpy()
    parts.append(_ev(len(bkey), ts=b_ts, charger=b_c, kind=K_BOOT))
    parts.append(_ev(len(bkey), ts=b_ts + 1, pts=b_ts, charger=b_c, kind=K_BOOT_RES))
    m = ~is_open & (en < ch.p_until[p])
    parts.append(_ev(int(m.sum()), ts=en[m] + 2, charger=c[m], kind=K_STATUS, conn=cn[m], status=0))
    return parts


def _meter_start(rng, ses: Sessions, n_ports: int) -> np.ndarray:
    """Each session's energy register at its start [Wh]: a random base per port plus its earlier sessions."""
    base = rng.integers(100_000, 50_000_000, n_ports)
    order = np.lexsort((ses.start, ses.port))
    cs = np.cumsum(ses.wh[order])
    first = np.r_[True, ses.port[order][1:] != ses.port[order][:-1]]
    grp_start = np.maximum.accumulate(np.where(first, cs - ses.wh[order], 0))
    meter_start = np.empty_like(ses.wh)
    meter_start[order] = base[ses.port[order]] + cs - ses.wh[order] - grp_start
    return meter_start


@dataclass
class _Transactions:
    """The transactions of the log (sessions at public DC sites), one array entry each."""

    s0: np.ndarray  # start [s since epoch]
    s1: np.ndarray  # end [s since epoch]
    charge_s: np.ndarray
    wh: np.ndarray
    meter0: np.ndarray  # register at the start [Wh]
    is201: np.ndarray  # the charger speaks OCPP 2.0.1
    tx: np.ndarray  # the transaction id (the CDR number)
    reason: np.ndarray
    token: np.ndarray
    charger: np.ndarray
    conn: np.ndarray


def _transactions(net: Network, ses: Sessions, ch: _Chargers, meter_start: np.ndarray) -> _Transactions:
    seg = net.sites.segment.to_numpy()[net.ports.site_idx.to_numpy()]
    tx = np.flatnonzero(seg[ses.port] == "public_dc")
    proto201 = (net.chargers.protocol.to_numpy() == "2.0.1")[ch.port_charger]
    sp = ses.port[tx]
    return _Transactions(
        s0=ses.start[tx],
        s1=ses.start[tx] + ses.total_s[tx],
        charge_s=ses.charge_s[tx],
        wh=ses.wh[tx],
        meter0=meter_start[tx],
        is201=proto201[sp],
        tx=tx + 1,
        reason=ses.stop[tx],
        token=ses.token[tx],
        charger=ch.port_charger[sp],
        conn=ch.port_conn[sp],
    )


def _ocpp16_start_stop(t: _Transactions) -> list[dict]:
    """OCPP 1.6 StartTransaction, its result and StopTransaction."""
    k = ~t.is201
    n = int(k.sum())
    return [
        _ev(n, ts=t.s0[k], charger=t.charger[k], kind=K_START, conn=t.conn[k], tx=t.tx[k], token=t.token[k],
            meter=t.meter0[k]),
        _ev(n, ts=t.s0[k] + 1, pts=t.s0[k], charger=t.charger[k], kind=K_START_RES, conn=t.conn[k], tx=t.tx[k]),
        _ev(n, ts=t.s1[k], charger=t.charger[k], kind=K_STOP, tx=t.tx[k], token=t.token[k],
            meter=t.meter0[k] + t.wh[k], reason=t.reason[k]),
    ]  # fmt: skip


def _meter_samples(t: _Transactions) -> tuple[dict, np.ndarray]:
    """Periodic samples on the quarter hour (1.6 MeterValues, 2.0.1 TransactionEvent Updated) and their count."""
    f = t.s0 // 900 + 1
    last = (t.s1 + 899) // 900 - 1
    nk = np.maximum(last - f + 1, 0)
    r = np.repeat(np.arange(len(t.tx)), nk)
    kk = np.arange(len(r)) - np.repeat(np.cumsum(nk) - nk, nk)
    ts = (f[r] + kk) * 900
    x = ts - t.s0[r]
    c_ = t.charge_s[r]
    wh = t.wh[r]
    e_cum = np.where(c_ > 0, (2 * wh * np.minimum(x, c_) + c_) // np.maximum(2 * c_, 1), 0)
    power = np.where((x < c_) & (c_ > 0), (wh * 3600 + c_ // 2) // np.maximum(c_, 1), 0)
    kind = np.where(t.is201[r], K_TE_UPD, K_METER)
    part = _ev(len(r), ts=ts, charger=t.charger[r], kind=kind, conn=t.conn[r], tx=t.tx[r], seqno=kk + 1,
               meter=t.meter0[r] + e_cum, power=power, status=(x >= c_).astype(np.int64))  # fmt: skip
    return part, nk


def _ocpp201_start_end(t: _Transactions, n_updates: np.ndarray) -> list[dict]:
    """OCPP 2.0.1 TransactionEvent Started and Ended (its seqNo after the updates)."""
    k = t.is201
    n = int(k.sum())
    return [
        _ev(n, ts=t.s0[k], charger=t.charger[k], kind=K_TE_START, conn=t.conn[k], tx=t.tx[k], token=t.token[k],
            meter=t.meter0[k]),
        _ev(n, ts=t.s1[k], charger=t.charger[k], kind=K_TE_END, conn=t.conn[k], tx=t.tx[k], token=t.token[k],
            meter=t.meter0[k] + t.wh[k], reason=t.reason[k], seqno=n_updates[k] + 1),
    ]  # fmt: skip


def _transaction_events(net: Network, ses: Sessions, ch: _Chargers, meter_start: np.ndarray) -> list[dict]:
    """The messages of the transactions at public DC sites, in either protocol."""
    t = _transactions(net, ses, ch, meter_start)
    if not len(t.tx):
        return []
    samples, n_updates = _meter_samples(t)
    return [*_ocpp16_start_stop(t), samples, *_ocpp201_start_end(t, n_updates)]


def _as_delivered(ev_all: dict, off, site_hi: np.ndarray) -> dict:
    """The messages as the CSMS receives them, in log order.

    Transaction messages sent while the charger was offline (modem lost, still charging) arrive on
    reconnect, with their original payload times; other messages cannot be sent from inside a gap.
    Messages after the end of the log are dropped.
    """
    w_c, w_s, w_e = off
    w = _in_windows(ev_all["ts"], ev_all["charger"], w_c, w_s, w_e)
    if len(w_s):  # a network without an offline window (a small one, a short window) delivers as sent
        txn = np.isin(ev_all["kind"], [K_START, K_START_RES, K_METER, K_STOP, K_TE_START, K_TE_UPD, K_TE_END])
        late = (w >= 0) & txn
        if late.any():
            ev_all["ts"] = np.where(late, w_e[np.maximum(w, 0)] + 5, ev_all["ts"])
        inside = (w >= 0) & ~txn & (ev_all["ts"] > w_s[np.maximum(w, 0)])
        ev_all = {k: v[~inside] for k, v in ev_all.items()}
    # messages before the log begins (none expected) or after the end are dropped
    keep = ev_all["ts"] < np.max(site_hi) + 3 * 86400
    ev_all = {k: v[keep] for k, v in ev_all.items()}
    sub = np.array([0, 1, 2, 4, 5, 6, 7, 3, 4, 6, 7])[ev_all["kind"]]
    order = np.lexsort((ev_all["conn"], sub, ev_all["pts"], ev_all["charger"], ev_all["ts"]))
    for k in COLS:
        ev_all[k] = ev_all[k][order]
    return ev_all


def build_events(
    rng: np.random.Generator,
    net: Network,
    window: Window,
    ses: Sessions,
    outages: Outages,
    heartbeat_s: int,
) -> dict[str, np.ndarray]:
    """Every message of the OCPP log, as columns (:data:`COLS`) in log order.

    Parameters
    ----------
    rng : numpy.random.Generator
        The log's own generator (heartbeat phases, then energy registers).
    net, window, ses, outages
        The network, its months, its sessions and its outages.
    heartbeat_s : int
        Heartbeat interval per charger [s].
    """
    ch = _Chargers.of(net, window)
    off = _offline_windows(outages, ch)
    heartbeats, first_hb = _heartbeats(rng, ch, heartbeat_s, off)
    parts = [heartbeats, *_boot_and_status(ch, first_hb), *_outage_events(outages, ch)]
    parts += _transaction_events(net, ses, ch, _meter_start(rng, ses, len(net.ports)))
    return _as_delivered(_cat(parts), off, ch.site_hi)


def write_ocpp(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    net: Network,
    window: Window,
    ses: Sessions,
    ev: dict[str, np.ndarray],
    month_names: list[str],
    heartbeat_s: int,
    progress,
) -> tuple[dict[str, int], dict[str, int]]:
    chargers = net.chargers
    n = len(ev["ts"])
    site_of_charger = chargers.site_id.map({s: i for i, s in enumerate(net.sites.site_id)}).to_numpy()
    tz = net.sites.tz_code.to_numpy()[site_of_charger[ev["charger"]]]
    wall = ev["ts"].copy()
    for code, name in enumerate(net.zones):
        m = tz == code
        if m.any():
            wall[m] = ev["ts"][m] + utc_offset(ev["ts"][m], name, window.years)
    first_month = window.start.year * 12 + window.start.month - 1
    month = np.clip(month_of(wall) - first_month, 0, len(month_names) - 1)
    cp = pa.array(chargers.charger_id.to_numpy(dtype=object)).take(pa.array(ev["charger"]))
    proto = (chargers.protocol.to_numpy() == "2.0.1").astype(np.int64)[ev["charger"]]
    # BootNotification payloads per charger (1.6 and 2.0.1 shapes)
    boot = []
    for r in chargers.itertuples(index=False):
        if r.protocol == "2.0.1":
            payload = {"reason": "PowerUp", "chargingStation": {"model": r.model, "vendorName": r.vendor,
                       "serialNumber": r.serial_number, "firmwareVersion": r.firmware_version}}  # fmt: skip
        else:
            payload = {"chargePointVendor": r.vendor, "chargePointModel": r.model,
                       "chargePointSerialNumber": r.serial_number, "firmwareVersion": r.firmware_version}  # fmt: skip
        boot.append(json.dumps(payload, separators=(",", ":")))
    boot_idx = np.where(ev["kind"] == K_BOOT, ev["charger"], len(boot))
    boot_col = pa.array(boot + [None]).take(pa.array(boot_idx))
    toks = ses.tokens
    tok_idx = np.where(ev["token"] >= 0, ev["token"], len(toks))
    idtag = pa.array(list(toks.uid) + [None]).take(pa.array(tok_idx))
    idtype = pa.array(list(np.where(toks.type == "RFID", "ISO14443", "Central")) + [None]).take(pa.array(tok_idx))
    cols = {k: ev[k] for k in COLS if k not in ("token", "charger")}
    tab = pa.table({**cols, "ci": ev["charger"], "cp": cp, "proto": proto, "boot": boot_col, "idtag": idtag,
                    "idtype": idtype, "month": month, "n": np.arange(n)})  # fmt: skip
    con.register("ev", tab)
    lst = lambda xs: "[" + ", ".join(f"'{x}'" for x in xs) + "]"  # noqa: E731
    # a CALLRESULT carries the uid of its CALL: same charger, action, connector and call time
    ukind = f"CASE kind WHEN {K_BOOT_RES} THEN {K_BOOT} WHEN {K_START_RES} THEN {K_START} ELSE kind END"
    uid = f"printf('%08x-%04x-4%03x-8%03x-%012x', ci, {ukind}, conn % 4096, proto, pts)"
    call = lambda action, payload: f"""'[2,"' || {uid} || '","{action}",' || {payload} || ']'"""  # noqa: E731
    res = lambda payload: f"""'[3,"' || {uid} || '",' || {payload} || ']'"""  # noqa: E731
    pts = iso("pts")
    sv = "{{'value': {v}, 'context': '{ctx}', 'measurand': '{m}', 'unit': '{u}'}}"
    sv2 = "{{'value': {v}, 'context': '{ctx}', 'measurand': '{m}', 'unitOfMeasure': {{'unit': '{u}'}}}}"
    e_reg = "Energy.Active.Import.Register"
    txs = "'SES-' || lpad(tx::VARCHAR, 10, '0')"
    msg = f"""CASE kind
      WHEN {K_BOOT} THEN {call("BootNotification", "boot")}
      WHEN {K_BOOT_RES} THEN {res(f"to_json({{'currentTime': {pts}, 'interval': {heartbeat_s}, 'status': 'Accepted'}})")}
      WHEN {K_HB} THEN {call("Heartbeat", "'{}'")}
      WHEN {K_STATUS} THEN CASE WHEN proto = 1
          THEN {call("StatusNotification", f"to_json({{'timestamp': {pts}, 'connectorStatus': {lst(STATUS)}[status + 1], 'evseId': conn, 'connectorId': 1}})")}
          WHEN info = 1
          THEN {call("StatusNotification", f"to_json({{'connectorId': conn, 'errorCode': {lst(ERRORS)}[err + 1], 'info': 'cable damaged', 'status': {lst(STATUS)}[status + 1], 'timestamp': {pts}}})")}
          ELSE {call("StatusNotification", f"to_json({{'connectorId': conn, 'errorCode': {lst(ERRORS)}[err + 1], 'status': {lst(STATUS)}[status + 1], 'timestamp': {pts}}})")} END
      WHEN {K_START} THEN {call("StartTransaction", f"to_json({{'connectorId': conn, 'idTag': idtag, 'meterStart': meter, 'timestamp': {pts}}})")}
      WHEN {K_START_RES} THEN {res("to_json({'idTagInfo': {'status': 'Accepted'}, 'transactionId': tx})")}
      WHEN {K_METER} THEN {call("MeterValues", f"to_json({{'connectorId': conn, 'transactionId': tx, 'meterValue': [{{'timestamp': {pts}, 'sampledValue': [{sv.format(v='meter::VARCHAR', ctx='Sample.Periodic', m=e_reg, u='Wh')}, {sv.format(v='power::VARCHAR', ctx='Sample.Periodic', m='Power.Active.Import', u='W')}]}}]}})")}
      WHEN {K_STOP} THEN {call("StopTransaction", f"to_json({{'transactionId': tx, 'idTag': idtag, 'meterStop': meter, 'timestamp': {pts}, 'reason': {lst(REASON_16)}[reason + 1]}})")}
      WHEN {K_TE_START} THEN {call("TransactionEvent", f"to_json({{'eventType': 'Started', 'timestamp': {pts}, 'triggerReason': 'Authorized', 'seqNo': 0, 'transactionInfo': {{'transactionId': {txs}, 'chargingState': 'Charging'}}, 'evse': {{'id': conn, 'connectorId': 1}}, 'idToken': {{'idToken': idtag, 'type': idtype}}, 'meterValue': [{{'timestamp': {pts}, 'sampledValue': [{sv2.format(v='meter', ctx='Transaction.Begin', m=e_reg, u='Wh')}]}}]}})")}
      WHEN {K_TE_UPD} THEN {call("TransactionEvent", f"to_json({{'eventType': 'Updated', 'timestamp': {pts}, 'triggerReason': 'MeterValuePeriodic', 'seqNo': seqno, 'transactionInfo': {{'transactionId': {txs}, 'chargingState': CASE WHEN status = 1 THEN 'SuspendedEV' ELSE 'Charging' END}}, 'meterValue': [{{'timestamp': {pts}, 'sampledValue': [{sv2.format(v='meter', ctx='Sample.Periodic', m=e_reg, u='Wh')}, {sv2.format(v='power', ctx='Sample.Periodic', m='Power.Active.Import', u='W')}]}}]}})")}
      WHEN {K_TE_END} THEN {call("TransactionEvent", f"to_json({{'eventType': 'Ended', 'timestamp': {pts}, 'triggerReason': {lst(TRIGGER_201)}[reason + 1], 'seqNo': seqno, 'transactionInfo': {{'transactionId': {txs}, 'chargingState': 'Idle', 'stoppedReason': {lst(REASON_16)}[reason + 1]}}, 'meterValue': [{{'timestamp': {pts}, 'sampledValue': [{sv2.format(v='meter', ctx='Transaction.End', m=e_reg, u='Wh')}]}}]}})")}
    END"""
    line = f"""'{{"timestamp":"' || {iso("ts")} || '","charge_point_id":"' || cp || '","message":' || {msg} || '}}' || chr(10)"""
    files = write_monthly_ndjson(con, out_dir, "ocpp", line, "ev", month_names, progress)
    counts: dict[str, int] = {}
    names = ["BootNotification", "BootNotification result", "StatusNotification", "StartTransaction",
             "StartTransaction result", "MeterValues", "StopTransaction", "Heartbeat", "TransactionEvent Started",
             "TransactionEvent Updated", "TransactionEvent Ended"]  # fmt: skip
    bc = np.bincount(ev["kind"], minlength=len(names))
    for i, nm in enumerate(names):
        counts[nm] = int(bc[i])
    return files, counts
