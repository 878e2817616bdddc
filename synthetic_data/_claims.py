"""UI claims: initial claims from separations, benefit years, and the weeks paid."""

import numpy as np

from ._labor import CLOSED, DISCHARGE, LAYOFF, QUIT

__all__ = ["simulate_claims"]


def _sunday_on_or_before(d):
    days = d.astype("datetime64[D]").astype(np.int64)
    return (days - (days + 4) % 7).astype("datetime64[D]")      # 1970-01-01 was a Thursday


def simulate_claims(P, J, earn_state, *, rng, world):
    """UI initial claims for separations from covered jobs.

    ``earn_state`` is earnings by person x state x quarter from the wage
    records (in-region jobs only): the liable state sees only its own file.
    Returns claim-level arrays and the certified weeks.
    """
    p, cal, T = world.params, world.cal, world.T
    ui = p["ui"]
    is_main = J["kind"] == 0
    sep = np.flatnonzero(is_main & (J["employer"] >= 0) & np.isin(J["reason"], [LAYOFF, CLOSED, QUIT, DISCHARGE]))
    involuntary = np.isin(J["reason"][sep], [LAYOFF, CLOSED])
    files = rng.random(len(sep)) < np.where(involuntary, ui["take_up"], ui["quit_filing_rate"])
    sep = sep[files]
    involuntary = involuntary[files]
    person = J["person"][sep]
    alive_after = (P["death_q"][person] < 0) | (P["death_q"][person] > J["end"][sep])
    sep, involuntary, person = sep[alive_after], involuntary[alive_after], person[alive_after]

    end_q = J["end"][sep]
    filed = cal.start_date(end_q) + rng.integers(40, 100, len(sep))
    file_q = cal.quarter_of_date(filed)
    dead_by_then = ~np.isnat(P["death_date"][person]) & (P["death_date"][person] <= filed)
    ok = (filed < world.reference_date) & (file_q < T) & (file_q >= 5) & ~dead_by_then
    sep, involuntary, person, filed, file_q, end_q = (a[ok] for a in (sep, involuntary, person, filed, file_q, end_q))

    # One benefit year at a time: drop a claim filed inside the previous one's year.
    order = np.lexsort((filed, person))
    sep, involuntary, person, filed, file_q, end_q = (a[order] for a in (sep, involuntary, person, filed, file_q, end_q))
    by_start = _sunday_on_or_before(filed)
    by_end = by_start + 363
    prev_same = np.concatenate([[False], person[1:] == person[:-1]])
    prev_end = np.concatenate([by_start[:1], by_end[:-1]])            # the first row has no predecessor
    overlap = prev_same & (by_start < prev_end)
    keep = ~overlap
    sep, involuntary, person, filed, file_q, end_q, by_start, by_end = (
        a[keep] for a in (sep, involuntary, person, filed, file_q, end_q, by_start, by_end))

    state = J["wstate"][sep]
    base_q = file_q[:, None] - np.arange(2, 6)[None, :]               # first four of the last five completed
    bp = earn_state[person[:, None], state[:, None], base_q]
    bpw = np.round(bp.sum(axis=1)).astype(np.int64)
    hqw = np.round(bp.max(axis=1)).astype(np.int64)
    # each state's law once, then one lookup per claim
    law = {k: np.array([ui["state"][f][k] for f in world.geo.state_fips])[state]
           for k in ("min_wba", "max_wba", "max_weeks", "min_base_period")}
    eligible = (bpw >= law["min_base_period"]) & (hqw > 0)
    wba = np.where(eligible, np.clip(np.round(ui["replacement"] * hqw / 13), law["min_wba"], law["max_wba"]), 0).astype(np.int32)
    max_weeks = law["max_weeks"]
    mba = (wba * max_weeks).astype(np.int32)

    # Weeks until re-employment: the person's next main job after the separation.
    mains = np.flatnonzero(is_main)
    order = np.lexsort((J["start"][mains], J["person"][mains]))
    mp, ms = J["person"][mains][order], J["start"][mains][order]
    key = mp * (T + 1) + ms
    pos = np.searchsorted(key, person * (T + 1) + end_q, side="right")
    has_next = (pos < len(key)) & (mp[np.minimum(pos, len(mp) - 1)] == person)
    next_q = np.where(has_next, ms[np.minimum(pos, len(ms) - 1)], 10_000)
    weeks_out = np.where(has_next, (next_q - file_q) * 13 + rng.integers(-4, 9, len(sep)), 999)
    denied = ~involuntary & (rng.random(len(sep)) < 0.85)
    payable = eligible & ~denied
    weeks = np.where(payable, np.clip(weeks_out - 1, 0, max_weeks), 0)   # minus the waiting week
    # Weeks not yet certified by the reference date are not in the file.
    last_possible = ((world.reference_date - by_start).astype(np.int64) - 13) // 7
    weeks = np.clip(np.minimum(weeks, last_possible), 0, None).astype(np.int16)
    exhausted = payable & (weeks == max_weeks)

    reason_code = J["reason"][sep]
    reason = np.select([reason_code == LAYOFF, reason_code == CLOSED, reason_code == QUIT],
                       ["lack_of_work", "employer_closed", "quit"], "discharge")
    claims = {
        "person": person, "job": sep, "state": state, "filed": filed, "file_q": file_q, "by_start": by_start,
        "by_end": by_end, "reason": reason, "employer": J["employer"][sep], "sector": J["sector"][sep],
        "bpw": bpw, "hqw": hqw, "eligible": eligible, "wba": wba, "mba": mba, "weeks": weeks,
        "total": (wba.astype(np.int64) * weeks).astype(np.int32), "exhausted": exhausted,
        "county": P["county_q"][person, np.minimum(file_q, T - 1)],
    }
    c = np.repeat(np.arange(len(person)), weeks)
    k = np.arange(len(c)) - np.repeat(np.cumsum(weeks) - weeks, weeks) + 1
    weekly = {"claim": c, "week_number": k.astype(np.int16),
              "week_ending": by_start[c] + 6 + 7 * k,            # week 0 is the unpaid waiting week
              "amount": wba[c], "remaining": (mba[c] - wba[c].astype(np.int64) * k).astype(np.int32)}
    return claims, weekly
