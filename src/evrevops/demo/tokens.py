"""Driver tokens: the token table and the token of each visit.

fleet: one card per depot port (the vehicle parked there); public DC: a pool of drivers, 60 per
port, used with a skewed frequency (regulars); commercial: 3 per port, per site; residential:
1-2 per home.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evrevops.demo import params as P
from evrevops.demo.network import Network
from evrevops.demo.ports import kind_of_port


def tokens(rng, net: Network, port_idx: np.ndarray, kind: np.ndarray, site_idx: np.ndarray):
    """Token table (DataFrame) and each visit's token index.

    fleet: one card per depot port (the vehicle parked there); public DC: a pool of drivers, 60 per
    port, used with a skewed frequency (regulars); commercial: 3 per port, per site; residential:
    1-2 per home.
    """
    n_ports = len(net.ports)
    n_sites = len(net.sites)
    n_dc_ports = int((kind_of_port(net) == 2).sum())
    pool_dc = max(200, 60 * n_dc_ports)
    # layout: [fleet per port][dc pool][commercial per site x 3*ports][residential 2 per site]
    ports_per_site = np.bincount(net.ports.site_idx.to_numpy(), minlength=n_sites)
    com_size = 3 * ports_per_site
    com_off = np.cumsum(com_size) - com_size
    res_off = 2 * np.arange(n_sites)
    o_fleet = 0
    o_dc = n_ports
    o_com = o_dc + pool_dc
    o_res = o_com + int(com_size.sum())
    n_tok = o_res + 2 * n_sites
    tok = np.empty(len(port_idx), dtype=np.int64)
    fleet = kind <= 1
    tok[fleet] = o_fleet + port_idx[fleet]
    m = kind == 2
    tok[m] = o_dc + np.minimum((pool_dc * rng.random(int(m.sum())) ** 2.2).astype(np.int64), pool_dc - 1)
    m = kind == 3
    tok[m] = o_com + com_off[site_idx[m]] + (rng.random(int(m.sum())) * com_size[site_idx[m]]).astype(np.int64)
    m = kind == 4
    tok[m] = o_res + res_off[site_idx[m]] + (rng.random(int(m.sum())) < 0.3)
    # token attributes
    uid_hi = rng.integers(0, 2**28, n_tok)
    uid_lo = rng.integers(0, 2**28, n_tok)
    ttype = np.empty(n_tok, dtype=object)
    party = np.empty(n_tok, dtype=object)
    auth = np.empty(n_tok, dtype=object)
    ttype[:] = "RFID"
    party[:] = P.PARTY
    auth[:] = "WHITELIST"
    u = rng.random(pool_dc)
    dc_type = np.where(u < 0.5, "APP_USER", np.where(u < 0.75, "RFID", "AD_HOC_USER"))
    emsp = np.array(["EVR", "PLG", "CHG", "EMS"])[rng.integers(0, 4, pool_dc)]
    dc_party = np.where(dc_type == "RFID", emsp, np.where(dc_type == "APP_USER", np.where(u < 0.3, "EVR", emsp), "EVR"))
    dc_auth = np.where(
        dc_type == "APP_USER", np.where(rng.random(pool_dc) < 0.5, "COMMAND", "AUTH_REQUEST"), "AUTH_REQUEST"
    )
    ttype[o_dc:o_com] = dc_type
    party[o_dc:o_com] = dc_party
    auth[o_dc:o_com] = dc_auth
    cu = rng.random(o_res - o_com)
    ttype[o_com:o_res] = np.where(cu < 0.7, "RFID", "APP_USER")
    auth[o_com:o_res] = np.where(cu < 0.7, "WHITELIST", "AUTH_REQUEST")
    uid = [f"{h:07X}{lo:07X}" for h, lo in zip(uid_hi.tolist(), uid_lo.tolist(), strict=True)]
    tokens = pd.DataFrame({"uid": uid, "type": ttype, "party_id": party, "auth_method": auth})
    tokens["contract_id"] = "US-" + tokens.party_id + "-C" + tokens.uid.str[:9]
    return tokens, tok
