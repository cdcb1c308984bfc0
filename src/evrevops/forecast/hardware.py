"""Hardware and installation revenue forecast from the open pipeline and the open projects (handbook §9).

A forecast made on ``as_of`` uses only what was known that day: the deals and stages as they stood
(:mod:`evrevops.pipeline.funnel`), and the projects' milestones done by then
(:mod:`evrevops.pipeline.projects`). A deal's installation amount is recognized on its
commissioning day, and its hardware amount on delivery: the median lead of the hardware contract
intervals' starts (view ``contract_lines``) before their site's commissioning, learned from the
projects commissioned by then. Three sources:

* **open projects** (won, not commissioned by ``as_of``): at their expected commissioning (planned
  date + the delay seen so far) + a further slip drawn from the commissioning slips of the
  projects finished by then that slipped more than this one already has;
* **won deals without a project yet**: at the win + a close-to-commissioning lag drawn from the
  projects commissioned by ``as_of``;
* **open deals**: won with the learned probability of their stage (segment, else network), at
  ``as_of`` + a time to win drawn from the deals won by then from the same stage (given the time
  already spent in it: only longer histories count) + a lag as above.

The draws are a Monte-Carlo simulation (``sims`` runs, fixed ``seed``): each month's mean and its
10th, 50th and 90th percentiles form the forecast and its interval.

The **naive** method (the baseline the backtest compares against) books each open deal's amount ×
the CRM probability of its stage on the deal's expected close month (an overdue one in the next
month); open projects and won deals at their expected close too. The CRM probability of a stage
is the median ``probability_pct`` of the deals open in it today: a CRM export keeps no history of
a deal's probability, and a closed deal's own (0 or 100) would leak its outcome.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from evrevops.contracts import revenue as crev
from evrevops.core.calendar import add_months, month_range, months_between
from evrevops.core.choices import DEFAULT_SEED, DEFAULT_SIMS
from evrevops.pipeline import funnel, projects, snapshot
from evrevops.warehouse.protocol import WarehouseLike

QUANTILES = (0.1, 0.5, 0.9)


def _month_index(first: dt.date, days: np.ndarray) -> np.ndarray:
    """Months from *first*'s month to each date (numpy datetime64[D]): 0 = that month."""
    m = days.astype("datetime64[M]").astype(np.int64)
    return m - np.datetime64(first.replace(day=1), "M").astype(np.int64)


def _history(wh: WarehouseLike, as_of: dt.date) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, int]:
    """What the history known on *as_of* teaches: times to win from each open stage, win-to-commissioning
    lags and commissioning slips (all in days, sorted), and the hardware delivery lead before
    commissioning [days]."""
    ev = funnel.events_sql(as_of)
    won = wh.rows(
        f"""WITH ev AS ({ev}), w AS (SELECT deal_id, min(entered_on) AS won_on FROM ev WHERE stage = 'closed_won' GROUP BY 1)
            SELECT e.stage, date_diff('day', min(e.entered_on), any_value(w.won_on)) AS days
            FROM ev e JOIN w ON w.deal_id = e.deal_id
            WHERE e.stage IN ({", ".join(f"'{s}'" for s in funnel.OPEN_STAGES)}) GROUP BY e.deal_id, e.stage"""
    )
    to_win = {s: np.sort(np.array([d for st, d in won if st == s], dtype=np.int64)) for s in funnel.OPEN_STAGES}
    lags = wh.rows(
        f"""WITH ev AS ({ev}), w AS (SELECT deal_id, min(entered_on) AS won_on FROM ev WHERE stage = 'closed_won' GROUP BY 1)
            SELECT date_diff('day', w.won_on, p.actual_on) FROM projects p JOIN w ON w.deal_id = p.deal_id
            WHERE p.milestone = 'commissioning' AND p.actual_on IS NOT NULL AND p.actual_on <= DATE '{as_of}'"""
    )
    slips = wh.rows(
        f"""SELECT date_diff('day', planned_on, actual_on) FROM projects
            WHERE milestone = 'commissioning' AND actual_on IS NOT NULL AND planned_on IS NOT NULL
              AND actual_on <= DATE '{as_of}'"""
    )
    # hardware is delivered (and recognized) before commissioning: the median lead of the sites commissioned
    lead = wh.rows(
        f"""SELECT median(date_diff('day', c.effective_on, p.actual_on)) FROM projects p
            JOIN contract_lines c ON c.site_id = p.site_id AND c.line_type = 'hardware'
            WHERE p.milestone = 'commissioning' AND p.actual_on IS NOT NULL AND p.actual_on <= DATE '{as_of}'
              AND c.effective_on <= p.actual_on AND c.effective_on > p.actual_on - INTERVAL 120 DAY"""
    )[0][0]
    return (
        to_win,
        np.sort(np.array([x for (x,) in lags if x is not None and x >= 0], dtype=np.int64)),
        np.sort(np.array([x for (x,) in slips if x is not None], dtype=np.int64)),
        int(lead or 0),
    )


def _tail_draw(
    rng: np.random.Generator, hist: np.ndarray, elapsed: np.ndarray, sims: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draw, per item and run, from the sorted history *hist* above each item's *elapsed* (conditional).

    Returns ``(draw − elapsed, has_tail)``; where no history is longer than *elapsed*, the draw is 0
    and ``has_tail`` false.
    """
    if len(hist) == 0:
        return np.zeros((sims, len(elapsed)), dtype=np.int64), np.zeros(len(elapsed), dtype=bool)
    lo = np.searchsorted(hist, elapsed, side="right")
    n_tail = len(hist) - lo
    u = rng.random((sims, len(elapsed)))
    pick = np.minimum(lo + np.floor(u * np.maximum(n_tail, 1)).astype(np.int64), len(hist) - 1)
    extra = np.where(n_tail > 0, hist[pick] - elapsed, 0)
    return extra.astype(np.int64), n_tail > 0


def _crm_stage_probability(wh: WarehouseLike) -> dict[str, float]:
    rows = wh.rows(
        """SELECT stage, median(probability_pct) FROM deals
           WHERE stage NOT IN ('closed_won', 'closed_lost') AND probability_pct IS NOT NULL GROUP BY 1"""
    )
    return {s: float(p) / 100 for s, p in rows}


def _inputs(wh: WarehouseLike, as_of: dt.date) -> dict:
    """The open deals, won deals awaiting a project, and open projects on *as_of*, with their amounts.

    One SQL statement joins the deals' states with the projects' status on that day; each part
    is a list of records (few: a CRM's open and recently won deals).
    """
    open_deals = snapshot.deals(wh, as_of)
    wh.register("_fc_open", open_deals)
    try:
        won = wh.fetch(
            f"""WITH st AS ({funnel.deal_states_sql(as_of)}), p AS ({projects.status_sql(as_of)})
                SELECT st.deal_id, CAST(coalesce(st.hardware_minor, 0) AS BIGINT) AS hardware,
                       CAST(coalesce(st.installation_minor, 0) AS BIGINT) AS installation,
                       CAST(coalesce(st.hardware_minor, 0) + coalesce(st.installation_minor, 0) AS BIGINT) AS amount,
                       st.expected_close_on, st.currency, st.won_on,
                       p.expected_commissioning_on AS "on", p.delay_days AS delay, p.deal_id IS NOT NULL AS has_project
                FROM st LEFT JOIN p ON p.deal_id = st.deal_id
                WHERE st.outcome = 'won' AND coalesce(st.hardware_minor, 0) + coalesce(st.installation_minor, 0) > 0
                  AND p.status IS DISTINCT FROM 'commissioning'
                ORDER BY st.deal_id"""
        )
        deals = wh.fetch(
            """SELECT *, hardware_minor AS hardware, installation_minor AS installation,
                      hardware_minor + installation_minor AS amount
               FROM _fc_open WHERE hardware_minor + installation_minor > 0"""
        )
    finally:
        wh.unregister("_fc_open")
    rows = won.to_pylist()
    return {
        "deals": deals.to_pylist(),
        "won": [r for r in rows if not r["has_project"]],
        "projects": [r for r in rows if r["has_project"]],
    }


def forecast(
    wh: WarehouseLike, as_of: dt.date, months: int = 6, sims: int = DEFAULT_SIMS, seed: int = DEFAULT_SEED
) -> pa.Table:
    """Hardware + installation revenue expected in each of the *months* after *as_of*'s month, per currency.

    Returns
    -------
    pyarrow.Table
        ``month`` (``YYYY-MM``), ``currency``, ``mean_minor``, ``p10_minor``, ``p50_minor``,
        ``p90_minor`` (the simulated distribution), ``from_projects_minor``, ``from_won_minor``,
        ``from_pipeline_minor`` (the mean's parts), ``naive_minor`` (CRM probability × amount at
        expected close). Amounts in different currencies are forecast apart, never added.
    """
    if months < 1:
        raise ValueError("the forecast needs at least one month")
    x = _inputs(wh, as_of)
    history = _history(wh, as_of)
    currencies = sorted({r["currency"] or "" for k in ("deals", "won", "projects") for r in x[k]}) or [""]
    parts = []
    for cur in currencies:
        one = {k: [r for r in x[k] if (r["currency"] or "") == cur] for k in ("deals", "won", "projects")}
        t = _simulate(wh, one, history, as_of, months, sims, seed)
        parts.append(t.add_column(1, "currency", pa.array([cur or None] * t.num_rows, pa.string())))
    return pa.concat_tables(parts)


def _simulate(
    wh: WarehouseLike, x: dict, history: tuple, as_of: dt.date, months: int, sims: int, seed: int
) -> pa.Table:
    """The forecast of one currency's projects, won deals and open deals (see :func:`forecast`)."""
    first = add_months(as_of.replace(day=1), 1)
    to_win, lags, slips, lead = history
    rng = np.random.default_rng(seed)
    t0 = np.datetime64(as_of, "D")

    def lag(shape: tuple[int, ...]) -> np.ndarray:
        if len(lags) == 0:
            return np.zeros(shape, dtype=np.int64)
        return lags[rng.integers(0, len(lags), size=shape)]

    bins = np.zeros((sims, months), dtype=np.int64)
    parts = {"projects": np.zeros(months), "won": np.zeros(months), "pipeline": np.zeros(months)}

    def add(kind: str, items: list[dict], commissioning: np.ndarray, weight: np.ndarray | None = None) -> None:
        """Book the items' installation on their commissioning day (runs × items) and hardware *lead* days before."""
        for stream, shift in (("installation", 0), ("hardware", lead)):
            amount = np.array([it[stream] for it in items], dtype=np.int64)
            day = np.maximum(commissioning - shift, t0 + 1)
            k = _month_index(first, day)
            ok = (k >= 0) & (k < months) & (amount[None, :] != 0)
            if weight is not None:
                ok &= weight
            sim = np.broadcast_to(np.arange(sims)[:, None], k.shape)
            amt = np.broadcast_to(amount[None, :], k.shape)
            np.add.at(bins, (sim[ok], k[ok]), amt[ok])
            np.add.at(parts[kind], k[ok], amt[ok] / sims)

    if x["projects"]:
        p = x["projects"]
        expected = np.array([r["on"] for r in p], dtype="datetime64[D]")
        delay = np.array([r["delay"] for r in p], dtype=np.int64)
        # the commissioning slips of finished projects, beyond the delay already seen
        extra, _ = _tail_draw(rng, slips, delay, sims)
        add("projects", p, np.maximum(expected[None, :] + extra, t0 + 1))
    if x["won"]:
        won_on = np.array([w["won_on"] for w in x["won"]], dtype="datetime64[D]")
        add("won", x["won"], np.maximum(won_on[None, :] + lag((sims, len(won_on))), t0 + 1))
    if x["deals"]:
        d = x["deals"]
        p = np.array([r["learned_probability"] if r["learned_probability"] is not None else 0.0 for r in d])
        win = rng.random((sims, len(d))) < p[None, :]
        remaining = np.full((sims, len(d)), 30, dtype=np.int64)
        stage = np.array([r["stage"] for r in d])
        elapsed_all = np.array([(as_of - r["stage_since"]).days for r in d], dtype=np.int64)
        for s_name in funnel.OPEN_STAGES:
            idx = np.flatnonzero(stage == s_name)
            if len(idx):
                extra, tail = _tail_draw(rng, to_win[s_name], elapsed_all[idx], sims)
                remaining[:, idx] = np.where(tail[None, :], extra, 30)
        add("pipeline", d, t0 + np.maximum(remaining, 1) + lag((sims, len(d))), weight=win)
    q = np.quantile(bins, QUANTILES, axis=0, method="linear")
    naive = _naive(wh, x, as_of, first, months)
    return pa.table(
        {
            "month": [f"{add_months(first, k):%Y-%m}" for k in range(months)],
            "mean_minor": np.rint(bins.mean(axis=0)).astype(np.int64),
            "p10_minor": np.rint(q[0]).astype(np.int64),
            "p50_minor": np.rint(q[1]).astype(np.int64),
            "p90_minor": np.rint(q[2]).astype(np.int64),
            "from_projects_minor": np.rint(parts["projects"]).astype(np.int64),
            "from_won_minor": np.rint(parts["won"]).astype(np.int64),
            "from_pipeline_minor": np.rint(parts["pipeline"]).astype(np.int64),
            "naive_minor": naive,
        }
    )


def _naive(wh: WarehouseLike, x: dict, as_of: dt.date, first: dt.date, months: int) -> np.ndarray:
    """CRM probability of the stage × amount on the expected close month (overdue → the next month)."""
    crm = _crm_stage_probability(wh)
    out = np.zeros(months, dtype=np.float64)
    items = [
        (r["amount"] * crm.get(r["stage"], (r["crm_probability"] or 0.0)), r["expected_close_on"]) for r in x["deals"]
    ]
    items += [(w["amount"], w["expected_close_on"]) for w in x["won"] + x["projects"]]
    for amount, close in items:
        day = max(close or as_of, as_of + dt.timedelta(days=1))
        k = months_between(first, day)
        if 0 <= k < months:
            out[k] += amount
    return np.rint(out).astype(np.int64)


def actuals(wh: WarehouseLike, first: dt.date, last: dt.date) -> pa.Table:
    """Hardware + installation revenue recognized per month at the sites of the CRM's projects.

    Returns
    -------
    pyarrow.Table
        ``month`` (``YYYY-MM``), ``currency``, ``actual_minor``.
    """
    sql = crev.contract_lines_sql(first, last)
    return wh.fetch(
        f"""SELECT strftime(month, '%Y-%m') AS month, currency, CAST(sum(amount_minor) AS BIGINT) AS actual_minor
            FROM ({sql}) l WHERE stream IN ('hardware', 'installation')
              AND site_id IN (SELECT site_id FROM projects WHERE site_id IS NOT NULL AND site_id <> '')
            GROUP BY 1, 2 ORDER BY 1, 2"""
    )


def backtest(
    wh: WarehouseLike, origins: list[dt.date], months: int = 3, sims: int = DEFAULT_SIMS, seed: int = DEFAULT_SEED
) -> pa.Table:
    """Forecasts made at each origin against the revenue recognized afterwards.

    Returns
    -------
    pyarrow.Table
        ``origin``, ``month``, ``currency``, ``horizon`` (1 = the month after the origin's), ``actual_minor``,
        ``mean_minor``, ``p10_minor``, ``p90_minor``, ``naive_minor``, ``error_minor`` (mean −
        actual), ``naive_error_minor``, ``covered`` (actual within [p10, p90]).
    """
    rows = []
    for o in origins:
        f = forecast(wh, o, months, sims, seed).to_pylist()
        first = add_months(o.replace(day=1), 1)
        act = {(r["month"], r["currency"]): r["actual_minor"]
               for r in actuals(wh, first, add_months(first, months - 1)).to_pylist()}  # fmt: skip
        for r in f:
            h = months_between(first, month_range(r["month"])[0]) + 1
            a = act.get((r["month"], r["currency"]), 0)
            rows.append({"origin": o, "month": r["month"], "currency": r["currency"], "horizon": h, "actual_minor": a,
                         "mean_minor": r["mean_minor"], "p10_minor": r["p10_minor"], "p90_minor": r["p90_minor"],
                         "naive_minor": r["naive_minor"], "error_minor": r["mean_minor"] - a,
                         "naive_error_minor": r["naive_minor"] - a,
                         "covered": r["p10_minor"] <= a <= r["p90_minor"]})  # fmt: skip
    return pa.Table.from_pylist(rows)


def backtest_summary(bt: pa.Table) -> dict:
    """Mean absolute error of the forecast and of the naive method over a backtest, and interval coverage."""
    r = bt.to_pylist()
    if not r:
        return {"points": 0}
    mae = sum(abs(x["error_minor"]) for x in r) / len(r)
    naive = sum(abs(x["naive_error_minor"]) for x in r) / len(r)
    total = sum(x["actual_minor"] for x in r)
    return {
        "points": len(r),
        "actual_minor": total,
        "mae_minor": round(mae),
        "naive_mae_minor": round(naive),
        "mae_ratio": (mae / naive) if naive else None,
        "coverage_p10_p90": sum(1 for x in r if x["covered"]) / len(r),
    }
