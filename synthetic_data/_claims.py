"""UI claims: initial claims from separations, benefit years, and the weeks paid.

Each state's benefit formula and the parameters in force when the benefit year starts come from
``reference/ui_law.toml``; the federal pandemic programs (FPUC supplements, PEUC extension weeks,
PUA for people without covered wages, waived waiting weeks) from ``reference/pandemic_ui.toml``.
A claimant draws benefits for the full weeks between the benefit year's start and the next job
(the labor simulation knows it to the day), up to the weeks the claim entitles them to.
"""

import numpy as np

from ._labor import CLOSED, DISCHARGE, LAYOFF, QUIT

__all__ = ["simulate_claims", "PROGRAMS"]

PROGRAMS = ("UI", "PEUC", "EB", "PUA")
_FAR = 10**7                                     # "no next job": a day far beyond any window


def _sunday_on_or_before(days):
    return days - (days + 4) % 7                 # day 0 (1970-01-01) was a Thursday


def _date(days):
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]")


def _next_start(J, person, after_day, qstart):
    """The first day of each ``person``'s next main job starting after ``after_day`` (``_FAR`` if none)."""
    mains = np.flatnonzero(J["kind"] == 0)
    start = qstart[J["start"][mains]] + np.maximum(J["start_day"][mains], 0)
    key = J["person"][mains] * _FAR + start
    key.sort()
    pos = np.searchsorted(key, person * _FAR + after_day, side="right")
    found = key[np.minimum(pos, len(key) - 1)] if len(key) else np.zeros(len(person), dtype=np.int64)
    ok = (pos < len(key)) & (found // _FAR == person)
    return np.where(ok, found % _FAR, _FAR)


def _expand(counts):
    """For ``counts`` per claim: the claim of each row and the row's position (0, 1, ...) within it."""
    claim = np.repeat(np.arange(len(counts)), counts)
    k = np.arange(len(claim)) - np.repeat(np.cumsum(counts) - counts, counts)
    return claim, k


def simulate_claims(P, J, earn_state, *, rng, world):
    """UI initial claims for separations from covered jobs, and PUA claims from people without them.

    ``earn_state`` is earnings by person x state x quarter from the wage records (in-region jobs
    only): the liable state sees only its own file. Returns claim-level arrays and the paid weeks.
    """
    p, cal, T = world.params, world.cal, world.T
    ui, law, pan = p["ui"], world.ui_law, world.pandemic_ui
    qstart = cal.start_date(np.arange(T + 1)).astype(np.int64)
    ref_day = int(world.reference_date.astype(np.int64))
    sep = np.flatnonzero((J["kind"] == 0) & (J["employer"] >= 0) & np.isin(J["reason"], [LAYOFF, CLOSED, QUIT, DISCHARGE]))
    person = J["person"][sep]
    sep_day = qstart[J["end"][sep]] + J["end_day"][sep]
    next_day = _next_start(J, person, sep_day, qstart)
    weeks_out = (next_day - sep_day) / 7
    involuntary = np.isin(J["reason"][sep], [LAYOFF, CLOSED])
    in_pandemic = (sep_day >= int(pan.peuc_start.astype(np.int64)) - 21) & (sep_day <= int(pan.peuc_end.astype(np.int64)))
    take = np.where(in_pandemic, ui["pandemic_take_up"], ui["take_up"])
    # a job loser back at work within days rarely files
    p_file = np.where(involuntary, take * (1 - np.exp(-weeks_out / 1.5)), ui["quit_filing_rate"])
    filed = sep_day + rng.integers(0, 14, len(sep))
    files = rng.random(len(sep)) < p_file
    file_q = np.searchsorted(qstart, filed, side="right") - 1
    death = P["death_date"][person].astype("datetime64[D]").astype(np.int64)
    dead = ~np.isnat(P["death_date"][person]) & (death <= filed)
    ok = files & (filed < ref_day) & (file_q < T) & (file_q >= 5) & ~dead
    sep, person, filed, file_q, next_day, involuntary = (a[ok] for a in (sep, person, filed, file_q, next_day, involuntary))

    # One benefit year at a time: drop a claim filed inside the previous one's year.
    order = np.lexsort((filed, person))
    sep, person, filed, file_q, next_day, involuntary = (a[order] for a in (sep, person, filed, file_q, next_day, involuntary))
    by_start = _sunday_on_or_before(filed)
    prev_same = np.concatenate([[False], person[1:] == person[:-1]])
    prev_end = np.concatenate([by_start[:1], by_start[:-1] + 364])
    keep = ~(prev_same & (by_start < prev_end))
    sep, person, filed, file_q, next_day, involuntary, by_start = (
        a[keep] for a in (sep, person, filed, file_q, next_day, involuntary, by_start))
    state = J["wstate"][sep]

    # Monetary eligibility and the benefit amount, by the state's formula in force at the benefit year's start.
    base_q = file_q[:, None] - np.arange(2, 6)[None, :]               # first four of the last five completed
    bp = np.round(earn_state[person[:, None], state[:, None], base_q])
    bpw = bp.sum(axis=1).astype(np.int64)
    top = np.sort(bp, axis=1)
    hqw = top[:, -1].astype(np.int64)
    basis = np.choose(law.basis[state], [top[:, -1], top[:, -1] + top[:, -2], bpw])
    rules = law.at(state, _date(by_start))
    eligible = ((bpw >= rules["min_bpw"]) & (hqw >= rules["min_hq"]) & (bpw - hqw >= law.min_outside_hq[state])
                & (bpw >= law.bpw_hq_multiple[state] * hqw) & (hqw > 0)
                & (bp[:, 0] + bp[:, 1] >= law.min_last_two[state]))
    wba = np.where(eligible, np.clip(np.round(law.rate[state] * basis), rules["min_wba"], rules["max_wba"]), 0).astype(np.int64)
    mba = np.minimum(rules["max_weeks"] * wba, np.maximum(law.mba_bpw_share[state] * bpw, rules["mba_min_weeks"] * wba))
    mba = np.where(eligible, np.round(mba), 0).astype(np.int64)
    denied = ~involuntary & (rng.random(len(sep)) < ui["quit_denial_rate"])
    payable = eligible & ~denied
    waiting = (law.waiting_week[state] & ~pan.waiting_week_waived(state, _date(by_start))).astype(np.int64)
    reason_code = J["reason"][sep]
    claims = {
        "person": person, "state": state, "filed": filed, "file_q": file_q, "by_start": by_start,
        "reason": np.select([reason_code == LAYOFF, reason_code == CLOSED, reason_code == QUIT],
                            ["lack_of_work", "employer_closed", "quit"], "discharge"),
        "employer": J["employer"][sep], "sector": J["sector"][sep], "bpw": bpw, "hqw": hqw, "eligible": eligible,
        "wba": wba, "mba": mba, "program": np.full(len(sep), "UI"), "next_day": next_day, "payable": payable,
        "waiting": waiting,
    }
    pua = _pua_claims(P, J, rng=rng, world=world, qstart=qstart)
    claims = {k: np.concatenate([claims[k], pua[k]]) for k in claims}
    weekly = _weeks(claims, world=world, ref_day=ref_day)
    order = np.lexsort((claims["filed"], claims["person"]))          # claims by person, then date
    remap = np.empty(len(order), dtype=np.int64)
    remap[order] = np.arange(len(order))
    claims = {k: v[order] for k, v in claims.items()}
    weekly["claim"] = remap[weekly["claim"]]
    w_order = np.lexsort((weekly["week_number"], weekly["claim"]))
    weekly = {k: v[w_order] for k, v in weekly.items()}
    claims["county"] = P["county_q"][claims["person"], np.minimum(claims["file_q"], T - 1)]
    claims["by_start"] = _date(claims["by_start"])
    claims["by_end"] = claims["by_start"] + 363
    claims["filed"] = _date(claims["filed"])
    own = weekly["program"] == np.asarray(claims["program"])[weekly["claim"]]
    claims["weeks"] = np.bincount(weekly["claim"][own], minlength=len(claims["person"])).astype(np.int16)
    claims["total"] = np.bincount(weekly["claim"][own], weights=weekly["amount"][own],
                                  minlength=len(claims["person"])).astype(np.int64)
    claims["exhausted"] = claims["payable"] & (claims["total"] >= claims["mba"]) & (claims["mba"] > 0)
    weekly["week_ending"] = _date(weekly["week_ending"])
    return claims, weekly


def _pua_claims(P, J, *, rng, world, qstart):
    """Pandemic Unemployment Assistance claims from people with no covered job in 2020 (self-employed, gig work)."""
    p, cal, T, pan = world.params, world.cal, world.T, world.pandemic_ui
    ui = p["ui"]
    q0 = cal.index(p["pandemic"]["start"]) + 1                         # 2020Q2
    lo, hi = int(pan.pua_start.astype(np.int64)), int(pan.pua_end.astype(np.int64))
    n = len(P["person_id"])
    covered = np.zeros(n, dtype=bool)
    recent = (J["start"] <= q0 + 1) & (J["end"] >= q0 - 4) & (J["employer"] >= 0)
    covered[J["person"][recent]] = True
    age = P["age"][:, min(q0, T - 1)]
    alive = (P["death_q"] < 0) | (P["death_q"] > q0 + 2)
    who = np.flatnonzero(~covered & alive & (age >= 22) & (age < 65) & (rng.random(n) < ui["pua_claim_rate"]))
    # most PUA claims came in April-June 2020
    filed = int(qstart[q0]) + np.minimum(rng.exponential(45, len(who)), 270).astype(np.int64)
    filed = np.clip(filed, lo, hi)
    by_start = _sunday_on_or_before(filed)
    file_q = np.searchsorted(qstart, filed, side="right") - 1
    state = P["state_q"][who, np.minimum(file_q, T - 1)]
    wba = pan.pua_min_wba[state].astype(np.int64)
    weeks = np.maximum(1, ui["pua_weeks_median"] * np.exp(0.6 * rng.standard_normal(len(who))))
    m = len(who)
    return {
        "person": who, "state": state, "filed": filed, "file_q": file_q, "by_start": by_start,
        "reason": np.full(m, "covid_self_certified"), "employer": np.full(m, -1), "sector": np.full(m, -1),
        "bpw": np.zeros(m, dtype=np.int64), "hqw": np.zeros(m, dtype=np.int64), "eligible": np.zeros(m, dtype=bool),
        "wba": wba, "mba": wba * pan.pua_max_weeks(_date(by_start)), "program": np.full(m, "PUA"),
        "next_day": (by_start + 7 * weeks).astype(np.int64), "payable": np.ones(m, dtype=bool),
        "waiting": np.zeros(m, dtype=np.int64),
    }


def _weeks(c, *, world, ref_day):
    """Every paid week: the claim's own program until the next job or exhaustion, then PEUC where it applied."""
    pan = world.pandemic_ui
    wba, mba, waiting = c["wba"], c["mba"], c["waiting"]
    # full weeks out of work from the benefit year's start, less the waiting week
    out = np.maximum((c["next_day"] - c["by_start"]) // 7 - waiting, 0)
    full = np.where(wba > 0, mba // np.maximum(wba, 1), 0)
    entitled = full + ((mba - full * wba) > 0)
    # weeks certified by the reference date (the week's end at least a week before it)
    last = np.maximum((ref_day - 7 - (c["by_start"] + 6)) // 7 + 1 - waiting, 0)
    n_own = np.where(c["payable"], np.minimum(np.minimum(out, entitled), last), 0)
    claim, k = _expand(n_own)
    ending = c["by_start"][claim] + 6 + 7 * (k + waiting[claim])
    amount = np.where(k == full[claim], mba[claim] - full[claim] * wba[claim], wba[claim])
    paid_before = np.where(k == full[claim], full[claim] * wba[claim], (k + 1) * wba[claim])
    own = {"claim": claim, "week_number": (k + 1).astype(np.int16), "week_ending": ending,
           "program": c["program"][claim], "amount": amount.astype(np.int32),
           "remaining": (mba[claim] - paid_before).astype(np.int32)}

    # After regular benefits ran out (2020-2021): PEUC weeks, then Extended Benefits while the state's
    # trigger was on, for claimants still out of work, in weeks those programs paid in that state.
    exhausted = (c["program"] == "UI") & c["payable"] & (n_own == entitled) & (entitled > 0)
    first = c["by_start"] + 6 + 7 * (entitled + waiting)             # first week after exhaustion
    more = np.where(exhausted, np.clip(np.minimum(out, last) - entitled, 0, None), 0)
    more = np.where(first <= int(pan.peuc_end.astype(np.int64)) + 7, np.minimum(more, 100), 0)
    pc, pk = _expand(more)
    p_end = first[pc] + 7 * pk
    state = c["state"][pc]
    peuc_open = pan.peuc_open(state, _date(p_end))
    n_peuc = _count_within(pc, peuc_open, more)
    allowed = pan.peuc_weeks_on(_date(p_end))
    is_peuc = peuc_open & (n_peuc <= allowed)
    eb_allowed = pan.eb_weeks(state, _date(p_end))
    # EB once PEUC is used up (or closed), while the trigger was on
    eb_open = ~is_peuc & (eb_allowed > 0) & ((n_peuc > allowed) | ~peuc_open)
    n_eb = _count_within(pc, eb_open, more)
    is_eb = eb_open & (n_eb <= eb_allowed)
    pay = is_peuc | is_eb
    program = np.where(is_peuc, "PEUC", "EB")
    remaining = np.where(is_peuc, np.maximum(allowed - n_peuc, 0), np.maximum(eb_allowed - n_eb, 0))
    ext = {"claim": pc[pay], "week_number": (entitled[pc] + pk + 1).astype(np.int16)[pay], "week_ending": p_end[pay],
           "program": program[pay], "amount": wba[pc].astype(np.int32)[pay],
           "remaining": (wba[pc] * remaining).astype(np.int32)[pay]}
    weekly = {k: np.concatenate([own[k], ext[k]]) for k in own}
    weekly["supplement"] = pan.supplement(c["state"][weekly["claim"]], _date(weekly["week_ending"]),
                                          wba[weekly["claim"]]).astype(np.int32)
    return weekly


def _count_within(group, flag, sizes):
    """Running count of ``flag`` within each run of ``group`` (runs of ``sizes`` rows, in order)."""
    count = np.cumsum(flag)
    before = np.concatenate([[0], count])[np.repeat(np.cumsum(sizes) - sizes, sizes)]
    return count - before
