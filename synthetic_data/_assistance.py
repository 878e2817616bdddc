"""TANF and SNAP: case-months under the rules in force each benefit month, with administrative churn.

Households apply when their income passes the program's tests, are certified for a period,
report at an interim point and recertify at its end, as the agencies' files record them. The
benefit is computed each month with that month's rules (``reference/assistance_policy.toml``:
SNAP by federal fiscal year, the 2021 temporary increase, emergency allotments; TANF maximum
benefits and time limits by state and date) from the income the household reported at its
last certification or interim report. A share of eligible households lose their case at a
recertification or interim report for a procedural reason (a missed interview or form) and
reapply 1-3 months later under a new case number: the churn USDA's study measured.
"""

import functools
from dataclasses import dataclass

import numpy as np

from . import _reference as ref
from ._errors import ProfileError

__all__ = ["simulate_assistance", "policy_by_month", "snap_benefit", "CHURN_REASONS"]

CHURN_REASONS = ("recertification", "interim_report")


def _month_index(text, start_year):
    year, month = (int(x) for x in str(text).split("-"))
    return (year - start_year) * 12 + month - 1


def _steps(entries, start_year, n_months, key):
    """A month-indexed array from ``[{from: "YYYY-MM", key: value}, ...]``, each in force until the next."""
    out = np.zeros(n_months, dtype=np.float64)
    for e in sorted(entries, key=lambda e: e["from"]):
        out[max(_month_index(e["from"], start_year), 0):] = e[key]
    return out


@dataclass(frozen=True)
class Policy:
    """Rules by month index (0 = January of the window's first year); sizes index columns 0-8 (0 unused)."""
    max_allotment: np.ndarray       # (M, 9)
    min_benefit: np.ndarray         # (M,)
    standard_deduction: np.ndarray  # (M, 9)
    shelter_cap: np.ndarray         # (M,)
    snap_guideline: np.ndarray      # (M, 9) monthly poverty guideline for SNAP's income tests (FY rule)
    guideline: np.ndarray           # (M, 9) monthly poverty guideline of the calendar year (TANF)
    ea_active: np.ndarray           # (S, M) bool: emergency allotments issued in the state that month
    ea_minimum: np.ndarray          # (M,)
    certification_extended: np.ndarray  # (M,) bool: recertifications due this month were postponed
    tanf_max3: np.ndarray           # (S, M) maximum benefit for a family of three
    tanf_limit: np.ndarray          # (S, M) lifetime limit in months
    tanf_adult_removed_after: np.ndarray  # (S, M) months after which the adult leaves the unit (0: never)
    tanf_scale: np.ndarray          # (9,) benefit for each unit size relative to size 3
    benefit_index: np.ndarray       # (M,) Social Security / SSI amounts relative to the base year
    rules: dict                     # the SNAP [snap.rules] constants


@functools.cache
def policy_by_month(start_year, n_months, states):
    """The rules of ``reference/assistance_policy.toml`` laid out by month for a window and its states.

    Raises :class:`ProfileError` when the window needs a fiscal year or guideline year the file lacks.
    """
    pol = ref.assistance_policy()
    snap = pol["snap"]
    m = np.arange(n_months)
    year, month = start_year + m // 12, m % 12 + 1
    fy = year + (month >= 10)
    fys = snap["fiscal_year"]
    missing = sorted({int(f) for f in fy} - {int(k) for k in fys})
    if missing:
        raise ProfileError(f"the window needs SNAP rules for FY{missing[0]}, which reference/assistance_policy.toml "
                           f"lacks (it has FY{min(fys, key=int)}-FY{max(fys, key=int)}); choose window.start_year and "
                           "window.quarters inside those years")
    rules = snap["rules"]
    g_years = {int(k): v for k, v in pol["poverty"]["guideline"].items() if k.isdigit()}
    need = set((fy + rules["guideline_year_offset"]).tolist()) | set(year.tolist())
    if need - set(g_years):
        raise ProfileError(f"the window needs the HHS poverty guideline for {min(need - set(g_years))}, which "
                           "reference/assistance_policy.toml lacks; add it or shorten the window")
    sizes = np.arange(9)

    def table(field, width):
        rows = {int(k): np.asarray(v[field], dtype=np.float64) for k, v in fys.items()}
        out = np.stack([rows[f] for f in fy.tolist()])
        return np.concatenate([out[:, :1], out], axis=1) if width == 9 else out

    max_allotment = table("max_allotment", 9)
    min_benefit = np.array([fys[str(f)]["min_benefit"] for f in fy.tolist()], dtype=np.float64)
    for t in snap.get("temporary_increase", []):
        span = slice(max(_month_index(t["first_month"], start_year), 0), max(_month_index(t["last_month"], start_year) + 1, 0))
        max_allotment[span, 1:] = t["max_allotment"]
        min_benefit[span] = t["min_benefit"]
    std = np.array([[fys[str(f)]["standard_deduction"][min(s, 6) - 1] if s else 0 for s in sizes] for f in fy.tolist()],
                   dtype=np.float64)
    shelter_cap = np.array([fys[str(f)]["shelter_cap"] for f in fy.tolist()], dtype=np.float64)

    def monthly_guideline(years):
        first = np.array([g_years[y]["first"] for y in years.tolist()], dtype=np.float64)
        extra = np.array([g_years[y]["additional"] for y in years.tolist()], dtype=np.float64)
        return (first[:, None] + extra[:, None] * (np.maximum(sizes, 1) - 1)[None, :]) / 12

    ea = snap["emergency_allotment"]
    ea_first = _month_index(ea["first_month"], start_year)
    ea_last = {s: _month_index(v["month"], start_year) for s, v in ea["state_last_month"].items()}
    ea_active = np.array([(m >= ea_first) & (m <= min(ea_last.get(s, -1), _month_index(ea["last_month"], start_year)))
                          for s in states])
    ea_minimum = np.where(m >= _month_index(ea["minimum_from"], start_year), ea["minimum"], 0.0)
    ext = snap.get("certification_extension", {})
    extended = np.zeros(n_months, dtype=bool)
    if ext:
        extended[max(_month_index(ext["first_month"], start_year), 0):max(_month_index(ext["last_month"], start_year) + 1, 0)] = True

    tanf = pol["tanf"]
    absent = [s for s in states if s not in tanf["max_benefit"] or s not in tanf["time_limit"]]
    if absent:
        raise ProfileError(f"region.states has {absent!r} with no TANF entry in reference/assistance_policy.toml")
    limits = tanf["time_limit"]
    scale = np.concatenate([[0.0], tanf["family_size_scale"]])
    fbr = {int(k): v for k, v in pol["ssi"]["federal_benefit_rate"].items()}
    if set(year.tolist()) - set(fbr):
        raise ProfileError(f"the window needs the SSI benefit rate for {min(set(year.tolist()) - set(fbr))}, which "
                           "reference/assistance_policy.toml lacks; add it or shorten the window")
    index = np.array([fbr[y] for y in year.tolist()], dtype=np.float64) / fbr[pol["ssi"]["base_year"]]
    return Policy(
        max_allotment=max_allotment, min_benefit=min_benefit, standard_deduction=std, shelter_cap=shelter_cap,
        snap_guideline=monthly_guideline(fy + rules["guideline_year_offset"]), guideline=monthly_guideline(year),
        ea_active=ea_active, ea_minimum=ea_minimum, certification_extended=extended,
        tanf_max3=np.stack([_steps(tanf["max_benefit"][s], start_year, n_months, "amount") for s in states]),
        tanf_limit=np.stack([_steps(limits[s], start_year, n_months, "months") for s in states]),
        tanf_adult_removed_after=np.stack([_steps([dict(e, a=e.get("adult_removed_after", 0)) for e in limits[s]],
                                                  start_year, n_months, "a") for s in states]),
        tanf_scale=scale, benefit_index=index, rules=rules)


def snap_benefit(policy, month, *, earned, unearned, size, elderly_disabled, shelter):
    """The SNAP allotment and eligibility of households in benefit month ``month`` (arrays, one per household).

    Follows 7 CFR 273.9-273.10 as simplified here: gross test (130% of the guideline; elderly or
    disabled households exempt), 20% earned income deduction, standard deduction, excess shelter
    deduction (capped unless elderly or disabled), net test (100%), allotment = maximum - 30% of
    net income rounded up, the minimum benefit for households of 1-2. Dependent care, medical and
    child support deductions are not modeled. Returns ``(benefit, eligible)``; benefit is 0 where
    not eligible.
    """
    r = policy.rules
    gross = earned + unearned
    limit = policy.snap_guideline[month, size]
    gross_ok = elderly_disabled | (gross <= r["gross_income_limit_fpl"] * limit)
    adjusted = np.maximum(gross - r["earned_income_deduction"] * earned - policy.standard_deduction[month, size], 0)
    excess = np.maximum(shelter - r["shelter_share_of_income"] * adjusted, 0)
    excess = np.where(elderly_disabled, excess, np.minimum(excess, policy.shelter_cap[month]))
    net = np.maximum(adjusted - excess, 0)
    net_ok = net <= r["net_income_limit_fpl"] * limit
    benefit = policy.max_allotment[month, size] - np.ceil(np.round(r["benefit_reduction_rate"] * net, 6))
    small = size <= r["min_benefit_max_household_size"]
    benefit = np.where(small, np.maximum(benefit, policy.min_benefit[month]), benefit)
    eligible = gross_ok & net_ok & (benefit > 0)
    return np.where(eligible, benefit, 0), eligible


def _tanf_benefit(policy, cfg, month, *, state, earned, unearned, size, n_adults, used):
    """TANF grant and eligibility: the state's maximum for the unit's size less countable income."""
    removed = (policy.tanf_adult_removed_after[state, month] > 0) & (used >= policy.tanf_adult_removed_after[state, month])
    unit = np.where(removed, np.maximum(size - n_adults, 1), size)
    grant = policy.tanf_max3[state, month] * policy.tanf_scale[unit]
    countable = (1 - cfg["earned_income_disregard"]) * earned + unearned
    benefit = np.floor(grant - countable)
    eligible = (benefit >= cfg["min_payment"]) & (used < policy.tanf_limit[state, month])
    return np.where(eligible, benefit, 0), eligible


def _household(P, earn_month, rng, world, cfg_pv, index):
    """Income and costs by person and month: earned, unearned, shelter cost, elderly/disabled flag."""
    n, T = len(P["person_id"]), world.T
    M = 3 * T
    q_of = np.arange(M) // 3
    age = P["age"][:, q_of]                                             # (n, M)
    # A partner's earnings (when the partner works) and, from 65, Social Security; a person out of
    # the labor force all window may draw a disability benefit. Drawn once per person.
    partner_works = P["has_partner"] & (rng.random(n) < cfg_pv["partner_employed_share"])
    partner = np.where(partner_works, np.exp(rng.normal(np.log(cfg_pv["partner_income_median"]), 0.8, n)), 0.0)
    disabled = P["never_works"] & (rng.random(n) < cfg_pv["disability_benefit_share"])
    # Other unearned income in months without earnings (child support, unemployment benefits, cash aid).
    other = np.where(rng.random(n) < cfg_pv["other_income_share"],
                     np.exp(rng.normal(np.log(cfg_pv["other_income_median"]), 0.6, n)), 0.0)
    pension = cfg_pv["social_security_monthly"] * np.exp(P["potential"])
    shelter = np.exp(rng.normal(np.log(cfg_pv["shelter_cost_median"]), cfg_pv["shelter_cost_sd"], n))
    growth = (1 + cfg_pv["shelter_cost_growth"]) ** (np.arange(M) / 12 + world.cal.start_year - cfg_pv["shelter_cost_year"])
    earned = earn_month + partner[:, None]
    unearned = np.where(age >= 65, pension[:, None], 0.0) + np.where(disabled[:, None] & (age < 65),
                                                                     cfg_pv["disability_benefit_monthly"], 0.0)
    unearned += np.where((earn_month <= 0) & (unearned <= 0), other[:, None], 0.0)
    unearned *= index[None, :]                                          # amounts are in base-year dollars
    return {"earned": earned, "unearned": unearned, "shelter": shelter[:, None] * growth[None, :],
            "elderly_disabled": (age >= 60) | disabled[:, None], "age": age}


def simulate_assistance(P, earn, *, rng, world, program):
    """Case-months on TANF or SNAP for the people in ``P``, under each month's rules.

    ``earn`` is each person's quarterly earnings from all jobs, ``(n, T)``. Returns one entry per
    case-month (``person``, ``spell`` (the case), ``month``, benefit and income columns) and the
    planted churn events under ``"churn"``.
    """
    p, T, cal = world.params, world.T, world.cal
    cfg, pv = p[program], p["poverty"]
    n, M = len(P["person_id"]), 3 * T
    policy = policy_by_month(cal.start_year, M, tuple(world.geo.state_fips.tolist()))
    H = _household(P, np.repeat(earn / 3, 3, axis=1), rng, world, pv, policy.benefit_index)
    size = np.minimum(1 + P["has_partner"] + P["n_children"], 8).astype(np.int64)
    n_adults = (1 + P["has_partner"]).astype(np.int64)
    q_of = np.arange(M) // 3
    alive = (P["death_q"][:, None] < 0) | (q_of[None, :] < P["death_q"][:, None])
    state = P["state_q"][:, q_of]                                       # (n, M)
    moved = np.zeros((n, M), dtype=bool)
    moved[:, 3::3] = P["state_q"][:, 1:] != P["state_q"][:, :-1]        # a move takes effect in a quarter's first month
    month_grid = np.broadcast_to(np.arange(M), (n, M))
    # Under 22 most live in a parent's household and are not a case head.
    can_head = (H["age"] >= 22) & (H["age"] < 80) & alive
    if program == "snap":
        _, eligible = snap_benefit(policy, month_grid, earned=H["earned"], unearned=H["unearned"], size=size[:, None],
                                   elderly_disabled=H["elderly_disabled"], shelter=H["shelter"])
        # Under simplified reporting a household must report gross income above 130% of the guideline.
        over = H["earned"] + H["unearned"] > policy.rules["gross_income_limit_fpl"] * policy.snap_guideline[month_grid, size[:, None]]
    else:
        _, eligible = _tanf_benefit(policy, cfg, month_grid, state=state, earned=H["earned"], unearned=H["unearned"],
                                    size=size[:, None], n_adults=n_adults[:, None], used=0)
        eligible &= (P["n_children"] > 0)[:, None] & (H["age"] < 65)
        over = ~eligible
    eligible &= can_head
    L = _simulate_cases(program, cfg, policy, rng, n=n, M=M, eligible=eligible.T.copy(), over=over.T.copy(),
                        alive=alive.T.copy(), moved=moved.T.copy(), state=state.T.copy(), H=H, size=size,
                        n_adults=n_adults)
    return _rows(L, H, P, policy, program, size=size, n_adults=n_adults, state=state, T=T)


def _simulate_cases(program, cfg, policy, rng, *, n, M, eligible, over, alive, moved, state, H, size, n_adults):
    """The month-by-month case process for everyone at once; arrays are (M, n), month-major."""
    idx = np.arange(n)
    on = np.zeros(n, dtype=bool)
    cert_start = np.zeros(n, dtype=np.int64)
    cert_len = np.full(n, cfg["certification_months"], dtype=np.int64)
    action = np.zeros(n, dtype=np.int64)
    pending = np.full(n, -1, dtype=np.int64)                           # month a procedurally closed case reapplies
    pending_reason = np.zeros(n, dtype=np.int8)
    used = np.zeros(n, dtype=np.int64)                                 # TANF months counted toward the time limit
    # The window opens on a running program, not an empty one: a share of those eligible in the
    # first month are already on, part-way through their certification and time limit.
    start = eligible[0] & (rng.random(n) < cfg["initial_participation"])
    on[:] = start
    cert_start[start] = -rng.integers(0, cfg["certification_months"], int(start.sum()))
    used[start] = rng.integers(0, cfg.get("initial_months_used_max", 1), int(start.sum()))
    ON = np.zeros((M, n), dtype=bool)
    OPEN = np.zeros((M, n), dtype=bool)
    ACTION = np.zeros((M, n), dtype=np.int16)
    CERT = np.zeros((M, n), dtype=np.int16)
    CLEN = np.zeros((M, n), dtype=np.int8)
    BEN = np.zeros((M, n), dtype=np.int32)
    USED = np.zeros((M, n), dtype=np.int16)
    REOPEN = np.zeros((M, n), dtype=np.int8)                           # 1 + index into CHURN_REASONS
    gap_p = np.asarray(cfg["churn_gap_months"], dtype=np.float64)
    gap_p = gap_p / gap_p.sum()
    long_cert = cfg.get("elderly_disabled_certification_months", cfg["certification_months"])
    for m in range(M):
        e, a = eligible[m], alive[m]
        u = rng.random((4, n))
        due = on & (m - cert_start >= cert_len)
        if policy.certification_extended[m]:
            cert_len[due] += 6                                          # waived: the period runs 6 more months
            due[:] = False
        interim = on & (m - cert_start == cert_len // 2)
        # Real exits: found ineligible at recertification or at the interim report, a reported
        # change that ends eligibility, death, or leaving for other reasons.
        leave = (due | interim) & ~e
        leave |= on & ~due & ~interim & over[m] & (u[0] < cfg["change_report_rate"])
        leave |= on & (u[1] < cfg["other_exit_rate"]) | (on & ~a)
        # Procedural closures of eligible households: the planted churn.
        churn_due = due & e & ~leave & (u[2] < cfg["churn_at_recertification"])
        churn_int = interim & e & ~leave & (u[2] < cfg["churn_at_interim_report"])
        churned = (churn_due | churn_int) & (m > 0)                   # a case closed in month 0 has no row to follow
        stay = on & ~leave & ~churned
        # A move between states closes the case; the household applies in its new state.
        transfer = stay & moved[m] & e
        stay &= ~moved[m]
        pending[churned] = m + 1 + rng.choice(len(gap_p), size=int(churned.sum()), p=gap_p)
        pending_reason = np.where(churn_due, 1, np.where(churn_int, 2, pending_reason))
        recert = stay & due
        cert_start[recert], action[recert] = m, m
        action[stay & interim] = m
        # Openings: a churned household reapplies at its planned month if still eligible; others
        # apply at the entry rate while eligible.
        back = (pending == m) & a & e & ~on
        new = ~on & ~churned & (pending < 0) & a & e & (u[3] < cfg["entry_rate"])
        expired = (pending >= 0) & (pending <= m)
        REOPEN[m] = np.where(back, pending_reason, 0)
        pending[expired], pending_reason[expired] = -1, 0
        opened = back | new | transfer
        if m == 0:
            opened |= stay & start                                      # cases open at the window's start
        fresh = opened & ~start if m == 0 else opened
        cert_start[fresh], action[opened] = m, m
        cert_len[fresh] = np.where(H["elderly_disabled"][fresh, m], long_cert, cfg["certification_months"])
        on = stay | opened
        # The benefit this month: this month's rules, the income reported at the last action.
        who = np.flatnonzero(on)
        act = action[who]
        if program == "snap":
            ben, ok = snap_benefit(policy, m, earned=H["earned"][who, act], unearned=H["unearned"][who, act],
                                   size=size[who], elderly_disabled=H["elderly_disabled"][who, act],
                                   shelter=H["shelter"][who, act])
        else:
            ben, ok = _tanf_benefit(policy, cfg, m, state=state[m, who], earned=H["earned"][who, act],
                                    unearned=H["unearned"][who, act], size=size[who], n_adults=n_adults[who],
                                    used=used[who])
        # A rule change (a lower maximum, a time limit reached) can end eligibility mid-period.
        on[who[~ok]] = False
        who, ben = who[ok], ben[ok]
        used[who] += 1
        ON[m], OPEN[m] = on, opened & on
        ACTION[m, who], CERT[m, who], CLEN[m, who], BEN[m, who], USED[m, who] = action[who], cert_start[who], cert_len[who], ben, used[who]
        REOPEN[m] = np.where(OPEN[m], REOPEN[m], 0)
    return {"ON": ON, "OPEN": OPEN, "ACTION": ACTION, "CERT": CERT, "CLEN": CLEN, "BEN": BEN, "USED": USED,
            "REOPEN": REOPEN}


def _rows(L, H, P, policy, program, *, size, n_adults, state, T):
    """Case-month rows (by person, then month) and the churn events, from the month-major arrays."""
    pi, mi = np.nonzero(L["ON"].T)                                     # by person, then month
    opened = L["OPEN"][mi, pi]
    spell = np.cumsum(opened) - 1
    act = L["ACTION"][mi, pi].astype(np.int64)
    earned = np.round(H["earned"][pi, act]).astype(np.int64)
    gross = np.round(H["earned"][pi, act] + H["unearned"][pi, act]).astype(np.int64)
    benefit = L["BEN"][mi, pi]
    st = state[pi, mi]
    hh = size[pi]
    out = {
        "person": pi, "spell": spell, "month": mi, "q": mi // 3, "household_size": hh.astype(np.int8),
        "n_adults": n_adults[pi].astype(np.int8), "n_children": P["n_children"][pi],
        "gross": gross.astype(np.int32), "earned": earned.astype(np.int32), "benefit": benefit.astype(np.int32),
        "cert_start": L["CERT"][mi, pi].astype(np.int64), "cert_months": L["CLEN"][mi, pi].astype(np.int64),
        "county": P["county_q"][pi, mi // 3], "state": st,
    }
    if program == "snap":
        ea = np.maximum(policy.max_allotment[mi, hh] - benefit, policy.ea_minimum[mi])
        out["emergency_allotment"] = np.where(policy.ea_active[st, mi], ea, 0).astype(np.int32)
    # Churn: a case opened by a planted reopening follows the same person's previous case.
    reason = L["REOPEN"][mi, pi]
    ev = np.flatnonzero(opened & (reason > 0))
    last_row = ev - 1                                                    # the closed case's last month
    out["churn"] = {"closed_spell": spell[last_row], "reopened_spell": spell[ev], "last_month": mi[last_row],
                    "reopen_month": mi[ev], "reason": reason[ev] - 1}
    return out
