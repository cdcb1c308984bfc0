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
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from evrevops.demo import params as P
from evrevops.demo.cdrs import iso, month_of, write_lines
from evrevops.demo.network import Network, Window
from evrevops.demo.sessions import Outages, Sessions, port_service, site_bounds
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


def build_events(
    rng: np.random.Generator,
    net: Network,
    window: Window,
    ses: Sessions,
    outages: Outages,
    heartbeat_s: int,
) -> dict[str, np.ndarray]:
    ports = net.ports
    chargers = net.chargers
    n_c = len(chargers)
    charger_index = {c: i for i, c in enumerate(chargers.charger_id)}
    port_charger = ports.charger_id.map(charger_index).to_numpy()
    port_conn = ports.connector_id.to_numpy().astype(np.int64)
    p_from, p_until = port_service(net, window)
    c_from = np.full(n_c, 2**62, dtype=np.int64)
    c_until = np.zeros(n_c, dtype=np.int64)
    np.minimum.at(c_from, port_charger, p_from)
    np.maximum.at(c_until, port_charger, p_until)
    site_of_charger = chargers.site_id.map({s: i for i, s in enumerate(net.sites.site_id)}).to_numpy()
    site_lo, site_hi = site_bounds(net, window)
    decom = np.array([d is not None and not pd.isna(d) for d in chargers.decommissioned_on])
    # The CSMS log covers one UTC span for the whole network (from the earliest site's first local
    # midnight to the latest site's last): a charger in service keeps beating until the log ends,
    # whatever its site's time zone, and one in service when the log starts beats from its start.
    existing = np.array([d < window.start for d in chargers.commissioned_on])
    lo_window = np.where(existing, np.minimum(c_from, site_lo.min()), c_from)
    hb_until = np.where(decom, c_until, np.maximum(c_until, site_hi.max()))
    parts: list[dict] = []

    # ---- offline windows per charger (no heartbeat, no status) ---------------------------------------
    od = outages.df
    off_rows = []
    chargers_by_site = pd.Series(np.arange(n_c)).groupby(site_of_charger).indices
    for r in od.itertuples():
        if r.cause not in ("communication", "utility_interruption"):
            continue
        cs = [r.charger_idx] if r.scope == "charger" else list(chargers_by_site[r.site_idx])
        for c in cs:
            off_rows.append((int(c), r.start, r.end, r.cause == "communication" and r.still_charging))
    off = pd.DataFrame(off_rows, columns=["c", "start", "end", "charging"])
    w_c = off.c.to_numpy(dtype=np.int64)
    w_s = off.start.to_numpy(dtype=np.int64)
    w_e = off.end.to_numpy(dtype=np.int64)

    # ---- heartbeats -------------------------------------------------------------------------------
    phase = rng.integers(0, heartbeat_s, n_c)
    first_hb = lo_window + phase
    n_hb = np.maximum((hb_until - first_hb + heartbeat_s - 1) // heartbeat_s, 0)
    n_hb = np.where(c_from < c_until, n_hb, 0)
    rep = np.repeat(np.arange(n_c), n_hb)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(n_hb) - n_hb, n_hb)
    hb_ts = first_hb[rep] + k * heartbeat_s
    online = _in_windows(hb_ts, rep, w_c, w_s, w_e) < 0
    parts.append(_ev(int(online.sum()), ts=hb_ts[online], charger=rep[online], kind=K_HB))

    # ---- boot and initial status ------------------------------------------------------------------
    live = c_from < c_until
    commissioned_in = live & np.array([d >= window.start for d in chargers.commissioned_on])
    boot_c = np.flatnonzero(commissioned_in)
    boot_ts = c_from[boot_c] + 9 * 3600  # commissioned during the morning of its first day
    parts.append(_ev(len(boot_c), ts=boot_ts, charger=boot_c, kind=K_BOOT))
    parts.append(_ev(len(boot_c), ts=boot_ts + 1, pts=boot_ts, charger=boot_c, kind=K_BOOT_RES))
    # Available for every port: at its charger's boot, or with the first heartbeat of the log
    p_live = p_from < p_until
    pc = port_charger[p_live]
    t0 = np.where(commissioned_in[pc], c_from[pc] + 9 * 3600 + 2, first_hb[pc] + 1)
    parts.append(_ev(len(pc), ts=t0, charger=pc, kind=K_STATUS, conn=port_conn[p_live], status=0))
    # decommissioning: Unavailable at the end of service
    dp = np.flatnonzero(p_live & decom[port_charger])
    parts.append(
        _ev(len(dp), ts=p_until[dp] - 60, charger=port_charger[dp], kind=K_STATUS, conn=port_conn[dp], status=2)
    )

    # ---- outages ----------------------------------------------------------------------------------
    pw = outages.port_windows
    ev = od.loc[pw.event.to_numpy()].reset_index(drop=True)
    p = pw.port.to_numpy()
    c = port_charger[p]
    cn = port_conn[p]
    st = pw.start.to_numpy()
    en = pw.end.to_numpy()
    cause = ev.cause.to_numpy()
    is_open = ev.open.to_numpy()
    err = np.array([ERRORS.index(e) if e else 0 for e in ev.error_code])
    begin_status = np.select(
        [cause == "scheduled_maintenance", cause == "communication"],
        [2, -1],
        default=1,
    )
    m = begin_status >= 0
    parts.append(
        _ev(
            int(m.sum()),
            ts=st[m],
            charger=c[m],
            kind=K_STATUS,
            conn=cn[m],
            status=begin_status[m],
            err=np.where(begin_status[m] == 1, err[m], 0),
            info=(cause[m] == "vandalism").astype(np.int64),
        )
    )
    # recovery: a reboot/power-up sends BootNotification first (once per charger)
    reboot = np.isin(cause, ["software_fault", "utility_interruption"]) & ~is_open
    bkey = pd.DataFrame({"c": c[reboot], "t": en[reboot]}).drop_duplicates()
    parts.append(_ev(len(bkey), ts=bkey.t.to_numpy(), charger=bkey.c.to_numpy(), kind=K_BOOT))
    parts.append(
        _ev(len(bkey), ts=bkey.t.to_numpy() + 1, pts=bkey.t.to_numpy(), charger=bkey.c.to_numpy(), kind=K_BOOT_RES)
    )
    m = ~is_open & (en < p_until[p])
    parts.append(_ev(int(m.sum()), ts=en[m] + 2, charger=c[m], kind=K_STATUS, conn=cn[m], status=0))

    # ---- transactions at public DC sites -----------------------------------------------------------
    seg = net.sites.segment.to_numpy()[ports.site_idx.to_numpy()]
    tx = np.flatnonzero(seg[ses.port] == "public_dc")
    proto201 = (chargers.protocol.to_numpy() == "2.0.1")[port_charger]
    # energy register per port, cumulative over all its sessions
    base = rng.integers(100_000, 50_000_000, len(ports))
    order = np.lexsort((ses.start, ses.port))
    cs = np.cumsum(ses.wh[order])
    first = np.r_[True, ses.port[order][1:] != ses.port[order][:-1]]
    grp_start = np.maximum.accumulate(np.where(first, cs - ses.wh[order], 0))
    meter_start = np.empty_like(ses.wh)
    meter_start[order] = base[ses.port[order]] + cs - ses.wh[order] - grp_start
    if len(tx):
        sp = ses.port[tx]
        s0 = ses.start[tx]
        s1 = s0 + ses.total_s[tx]
        ch = ses.charge_s[tx]
        wh = ses.wh[tx]
        m0 = meter_start[tx]
        p201 = proto201[sp]
        seq = tx + 1
        reason = ses.stop[tx]
        tok = ses.token[tx]
        cc = port_charger[sp]
        cnn = port_conn[sp]
        k16 = ~p201
        parts.append(
            _ev(
                int(k16.sum()),
                ts=s0[k16],
                charger=cc[k16],
                kind=K_START,
                conn=cnn[k16],
                tx=seq[k16],
                token=tok[k16],
                meter=m0[k16],
            )
        )
        parts.append(
            _ev(
                int(k16.sum()),
                ts=s0[k16] + 1,
                pts=s0[k16],
                charger=cc[k16],
                kind=K_START_RES,
                conn=cnn[k16],
                tx=seq[k16],
            )
        )
        parts.append(
            _ev(
                int(k16.sum()),
                ts=s1[k16],
                charger=cc[k16],
                kind=K_STOP,
                tx=seq[k16],
                token=tok[k16],
                meter=m0[k16] + wh[k16],
                reason=reason[k16],
            )  # fmt: skip
        )
        # periodic samples on the quarter hour
        f = s0 // 900 + 1
        last = (s1 + 899) // 900 - 1
        nk = np.maximum(last - f + 1, 0)
        r = np.repeat(np.arange(len(tx)), nk)
        kk = np.arange(len(r)) - np.repeat(np.cumsum(nk) - nk, nk)
        t = (f[r] + kk) * 900
        x = t - s0[r]
        c_ = ch[r]
        e_cum = np.where(c_ > 0, (2 * wh[r] * np.minimum(x, c_) + c_) // np.maximum(2 * c_, 1), 0)
        power = np.where((x < c_) & (c_ > 0), (wh[r] * 3600 + c_ // 2) // np.maximum(c_, 1), 0)
        is201 = p201[r]
        kind = np.where(is201, K_TE_UPD, K_METER)
        parts.append(
            _ev(
                len(r),
                ts=t,
                charger=cc[r],
                kind=kind,
                conn=cnn[r],
                tx=seq[r],
                seqno=kk + 1,
                meter=m0[r] + e_cum,
                power=power,
                status=(x >= c_).astype(np.int64),
            )  # fmt: skip
        )
        nk_upd = nk
        k2 = p201
        parts.append(
            _ev(
                int(k2.sum()),
                ts=s0[k2],
                charger=cc[k2],
                kind=K_TE_START,
                conn=cnn[k2],
                tx=seq[k2],
                token=tok[k2],
                meter=m0[k2],
            )
        )
        parts.append(
            _ev(
                int(k2.sum()),
                ts=s1[k2],
                charger=cc[k2],
                kind=K_TE_END,
                conn=cnn[k2],
                tx=seq[k2],
                token=tok[k2],
                meter=m0[k2] + wh[k2],
                reason=reason[k2],
                seqno=nk_upd[k2] + 1,
            )  # fmt: skip
        )

    ev_all = _cat(parts)
    del parts
    # transaction messages sent while the charger was offline (modem lost, still charging) arrive on
    # reconnect, with their original payload times; other messages cannot be sent from inside a gap
    w = _in_windows(ev_all["ts"], ev_all["charger"], w_c, w_s, w_e)
    txn = np.isin(ev_all["kind"], [K_START, K_START_RES, K_METER, K_STOP, K_TE_START, K_TE_UPD, K_TE_END])
    late = (w >= 0) & txn
    if late.any():
        ev_all["ts"] = np.where(late, w_e[np.maximum(w, 0)] + 5, ev_all["ts"])
    inside = (w >= 0) & ~txn & (ev_all["ts"] > w_s[np.maximum(w, 0)])
    ev_all = {k2: v[~inside] for k2, v in ev_all.items()}
    # messages before the log begins (none expected) or after the end are dropped
    keep = ev_all["ts"] < np.max(site_hi) + 3 * 86400
    ev_all = {k2: v[keep] for k2, v in ev_all.items()}
    sub = np.array([0, 1, 2, 4, 5, 6, 7, 3, 4, 6, 7])[ev_all["kind"]]
    order = np.lexsort((ev_all["conn"], sub, ev_all["pts"], ev_all["charger"], ev_all["ts"]))
    for k2 in COLS:
        ev_all[k2] = ev_all[k2][order]
    return ev_all


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
    files: dict[str, int] = {}
    counts: dict[str, int] = {}
    (out_dir / "ocpp").mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(month_names):
        path = out_dir / "ocpp" / f"ocpp-{name}.ndjson"
        files[f"ocpp/{path.name}"] = write_lines(con, f"SELECT {line} FROM ev WHERE month = {k}", path)
        if progress:
            progress("ocpp", k + 1, len(month_names))
    con.unregister("ev")
    names = ["BootNotification", "BootNotification result", "StatusNotification", "StartTransaction",
             "StartTransaction result", "MeterValues", "StopTransaction", "Heartbeat", "TransactionEvent Started",
             "TransactionEvent Updated", "TransactionEvent Ended"]  # fmt: skip
    bc = np.bincount(ev["kind"], minlength=len(names))
    for i, nm in enumerate(names):
        counts[nm] = int(bc[i])
    return files, counts
