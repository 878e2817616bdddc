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
    snap_unchanged: np.ndarray      # (M,) bool: every SNAP amount of the month equals the previous month's
    min_benefit_by_size: np.ndarray  # (M, 9) the minimum benefit where it applies by household size, else -inf


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
    snap_guideline = monthly_guideline(fy + rules["guideline_year_offset"])
    # months whose SNAP amounts all equal the previous month's: a benefit computed then still holds
    unchanged = np.ones(n_months, dtype=bool)
    unchanged[0] = False
    for a in (max_allotment, min_benefit, std, shelter_cap, snap_guideline):
        unchanged[1:] &= (a[1:] == a[:-1]).reshape(n_months - 1, -1).all(axis=1)
    return Policy(
        max_allotment=max_allotment, min_benefit=min_benefit, standard_deduction=std, shelter_cap=shelter_cap,
        snap_guideline=snap_guideline, guideline=monthly_guideline(year),
        ea_active=ea_active, ea_minimum=ea_minimum, certification_extended=extended,
        tanf_max3=np.stack([_steps(tanf["max_benefit"][s], start_year, n_months, "amount") for s in states]),
        tanf_limit=np.stack([_steps(limits[s], start_year, n_months, "months") for s in states]),
        tanf_adult_removed_after=np.stack([_steps([dict(e, a=e.get("adult_removed_after", 0)) for e in limits[s]],
                                                  start_year, n_months, "a") for s in states]),
        tanf_scale=scale, benefit_index=index, rules=rules, snap_unchanged=unchanged,
        min_benefit_by_size=np.where(sizes <= rules["min_benefit_max_household_size"], min_benefit[:, None], -np.inf))


def snap_benefit(policy, month, *, earned, unearned, size, elderly_disabled, shelter):
    """The SNAP allotment and eligibility of households in benefit month ``month`` (arrays, one per household).

    Follows 7 CFR 273.9-273.10 as simplified here: gross test (130% of the guideline; elderly or
    disabled households exempt), 20% earned income deduction, standard deduction, excess shelter
    deduction (capped unless elderly or disabled), net test (100%), allotment = maximum - 30% of
    net income rounded up, the minimum benefit for households of 1-2. Dependent care, medical and
    child support deductions are not modeled. Returns ``(benefit, eligible)``; benefit is 0 where
    not eligible.
    """
    benefit, eligible, _ = _snap(policy, month, earned=earned, unearned=unearned, size=size,
                                 elderly_disabled=elderly_disabled, shelter=shelter)
    return np.where(eligible, benefit, 0), eligible


def _snap(policy, month, *, earned, unearned, size, elderly_disabled, shelter):
    """:func:`snap_benefit`'s rules: ``(allotment before the tests, eligible, gross income above 130%)``."""
    r = policy.rules
    gross = earned + unearned
    limit = policy.snap_guideline[month, size]
    gross_limit = r["gross_income_limit_fpl"] * limit
    gross_ok = elderly_disabled | (gross <= gross_limit)
    # in place where a temporary is not needed again: the same operations in the same order
    adjusted = gross - r["earned_income_deduction"] * earned
    adjusted -= policy.standard_deduction[month, size]
    np.maximum(adjusted, 0, out=adjusted)
    excess = shelter - r["shelter_share_of_income"] * adjusted
    np.maximum(excess, 0, out=excess)
    # the shelter cap, none (infinite) for elderly or disabled households
    np.minimum(excess, np.array([policy.shelter_cap[month], np.inf])[elderly_disabled.view(np.int8)], out=excess)
    net = np.subtract(adjusted, excess, out=adjusted)
    np.maximum(net, 0, out=net)
    net_ok = net <= r["net_income_limit_fpl"] * limit
    benefit = policy.max_allotment[month, size] - np.ceil(np.round(r["benefit_reduction_rate"] * net, 6))
    # the minimum benefit of households of 1-2, none (minus infinity) for larger ones
    np.maximum(benefit, policy.min_benefit_by_size[month, size], out=benefit)
    eligible = gross_ok & net_ok & (benefit > 0)
    return benefit, eligible, gross > gross_limit


def _tanf_benefit(policy, cfg, month, *, state, earned, unearned, size, n_adults, used):
    """TANF grant and eligibility: the state's maximum for the unit's size less countable income."""
    after, limit = policy.tanf_adult_removed_after[:, month], policy.tanf_limit[:, month]
    if np.ndim(used) == 0:
        # one number of months used for all: each rule is decided by state first
        removed = (after > 0) & (used >= after)
        removed = removed[state] if removed.any() else False
        within = used < limit
        within = within[state] if not within.all() else True
    else:
        removed = (after[state] > 0) & (used >= after[state])
        within = used < limit[state]
    unit = np.where(removed, np.maximum(size - n_adults, 1), size)
    grant = policy.tanf_max3[state, month] * policy.tanf_scale[unit]
    countable = (1 - cfg["earned_income_disregard"]) * earned + unearned
    benefit = np.floor(grant - countable)
    eligible = (benefit >= cfg["min_payment"]) & within
    return np.where(eligible, benefit, 0), eligible


class _Household:
    """Income and costs of each person's household by month, kept by quarter and per person.

    Earnings (a third of the quarter's in each month), other income and the elderly/disabled
    flag do not change within a quarter, so they are held by quarter, ``(T, n)``; the index of
    benefit amounts and the growth of shelter costs are factors by month. A month's values are
    the same products the full (month x person) arrays would hold, computed where needed.
    """

    def __init__(self, P, earn, rng, world, cfg_pv, index):
        n, T = len(P["person_id"]), world.T
        M = 3 * T
        age = P["age"].T                                                # (T, n)
        # A partner's earnings (when the partner works) and, from 65, Social Security; a person out of
        # the labor force all window may draw a disability benefit. Drawn once per person.
        partner_works = P["has_partner"] & (rng.random(n) < cfg_pv["partner_employed_share"])
        partner = np.where(partner_works, np.exp(rng.normal(np.log(cfg_pv["partner_income_median"]), 0.8, n)), 0.0)
        disabled = P["never_works"] & (rng.random(n) < cfg_pv["disability_benefit_share"])
        # Other unearned income in months without earnings (child support, unemployment benefits, cash aid).
        other = np.where(rng.random(n) < cfg_pv["other_income_share"],
                         np.exp(rng.normal(np.log(cfg_pv["other_income_median"]), 0.6, n)), 0.0)
        pension = cfg_pv["social_security_monthly"] * np.exp(P["potential"])
        self.shelter = np.exp(rng.normal(np.log(cfg_pv["shelter_cost_median"]), cfg_pv["shelter_cost_sd"], n))
        self.growth = (1 + cfg_pv["shelter_cost_growth"]) ** (np.arange(M) / 12 + world.cal.start_year
                                                               - cfg_pv["shelter_cost_year"])
        earn_month = earn.T / 3
        senior = age >= 65
        unearned = np.where(senior, pension, 0.0)
        unearned += np.where(disabled & ~senior, cfg_pv["disability_benefit_monthly"], 0.0)
        unearned += np.where((earn_month <= 0) & (unearned <= 0), other, 0.0)
        self.unearned_q = unearned                                      # in base-year dollars
        self.index = index
        earn_month += partner
        # (T, n) in C order, whatever the layout of the inputs: a quarter's row is contiguous and
        # cells() gathers from the flat arrays (same values, much cheaper than 2-D fancy indexing)
        self.n = n
        self.earned_q = np.ascontiguousarray(earn_month)
        self.unearned_q = np.ascontiguousarray(self.unearned_q)
        self.elderly_disabled_q = np.ascontiguousarray((age >= 60) | disabled)
        self.age_q = age

    def month(self, m):
        """Every person's ``(earned, unearned, elderly_disabled, shelter)`` in month ``m``."""
        q = m // 3
        return (self.earned_q[q], self.unearned_q[q] * self.index[m], self.elderly_disabled_q[q],
                self.growth[m] * self.shelter)

    def cells(self, month, person):
        """``(earned, unearned, elderly_disabled, shelter)`` of ``person`` in ``month`` (arrays of cells)."""
        flat = month // 3 * self.n + person
        return (self.earned_q.ravel().take(flat), self.unearned_q.ravel().take(flat) * self.index[month],
                self.elderly_disabled_q.ravel().take(flat), self.growth[month] * self.shelter.take(person))


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
    H = _Household(P, earn, rng, world, pv, policy.benefit_index)
    size = np.minimum(1 + P["has_partner"] + P["n_children"], 8).astype(np.int64)
    n_adults = (1 + P["has_partner"]).astype(np.int64)
    alive = (P["death_q"] < 0) | (np.arange(T)[:, None] < P["death_q"])  # by quarter, (T, n)
    state = np.ascontiguousarray(P["state_q"].T)                        # (T, n)
    age = H.age_q
    # Under 22 most live in a parent's household and are not a case head.
    can_head = (age >= 22) & (age < 80) & alive
    # Eligibility by month and person, (M, n), a month at a time (rows that stay in cache).
    eligible = np.zeros((M, n), dtype=bool)
    over = np.zeros((M, n), dtype=bool)
    if program == "snap":
        for m in range(M):
            earned, unearned, elderly_disabled, shelter = H.month(m)
            # Under simplified reporting a household must report gross income above 130% of the guideline.
            _, eligible[m], over[m] = _snap(policy, m, earned=earned, unearned=unearned, size=size,
                                            elderly_disabled=elderly_disabled, shelter=shelter)
    else:
        # only a household with children can qualify: the rules are evaluated for those alone
        kids = np.flatnonzero(P["n_children"] > 0)
        # (np.take along an axis: the columns fancy indexing gives, several times faster)
        young, state_k = np.take(age, kids, axis=1) < 65, np.take(state, kids, axis=1)
        earned_k, unearned_k = np.take(H.earned_q, kids, axis=1), np.take(H.unearned_q, kids, axis=1)
        for m in range(M):
            q = m // 3
            _, ok = _tanf_benefit(policy, cfg, m, state=state_k[q], earned=earned_k[q],
                                  unearned=unearned_k[q] * H.index[m], size=size[kids], n_adults=n_adults[kids], used=0)
            eligible[m, kids] = ok & young[q]
        over = ~eligible
    eligible &= np.repeat(can_head, 3, axis=0)
    # A household never eligible never has a case: the month-by-month process follows the others.
    sub = np.flatnonzero(eligible.any(axis=0))
    moved = np.zeros((M, len(sub)), dtype=bool)
    moved[3::3] = (P["state_q"][sub, 1:] != P["state_q"][sub, :-1]).T   # a move takes effect in a quarter's first month
    L = _simulate_cases(program, cfg, policy, rng, n=n, sub=sub, eligible=np.take(eligible, sub, axis=1),
                        over=np.take(over, sub, axis=1), alive=np.repeat(np.take(alive, sub, axis=1), 3, axis=0),
                        moved=moved, state=state, H=H, size=size, n_adults=n_adults)
    return _rows(L, H, P, policy, program, sub=sub, size=size, n_adults=n_adults, state=state)


def _simulate_cases(program, cfg, policy, rng, *, n, sub, eligible, over, alive, moved, state, H, size, n_adults):
    """The month-by-month case process of the people ``sub`` (of ``n``); arrays are (M, len(sub)), month-major.

    The random draws are made for all ``n`` people, as if everyone were followed, so the
    stream does not depend on who can be eligible.
    """
    M, ns = eligible.shape
    on = np.zeros(ns, dtype=bool)
    cert_start = np.zeros(ns, dtype=np.int64)
    cert_len = np.full(ns, cfg["certification_months"], dtype=np.int64)
    action = np.zeros(ns, dtype=np.int64)
    pending = np.full(ns, -1, dtype=np.int64)                          # month a procedurally closed case reapplies
    pending_reason = np.zeros(ns, dtype=np.int8)
    used = np.zeros(ns, dtype=np.int64)                                # TANF months counted toward the time limit
    # The window opens on a running program, not an empty one: a share of those eligible in the
    # first month are already on, part-way through their certification and time limit.
    start = eligible[0] & (rng.random(n)[sub] < cfg["initial_participation"])
    on[:] = start
    cert_start[start] = -rng.integers(0, cfg["certification_months"], int(start.sum()))
    used[start] = rng.integers(0, cfg.get("initial_months_used_max", 1), int(start.sum()))
    # By month, what the files need on case-months; a row holds every followed person's value,
    # read only where the person is on.
    ON = np.zeros((M, ns), dtype=bool)
    OPEN = np.zeros((M, ns), dtype=bool)
    ACTION = np.zeros((M, ns), dtype=np.int16)
    CERT = np.zeros((M, ns), dtype=np.int16)
    CLEN = np.zeros((M, ns), dtype=np.int8)
    BEN = np.zeros((M, ns), dtype=np.int32)
    USED = np.zeros((M, ns), dtype=np.int16)
    REOPEN = np.zeros((M, ns), dtype=np.int8)                         # 1 + index into CHURN_REASONS
    gap_p = np.asarray(cfg["churn_gap_months"], dtype=np.float64)
    gap_p = gap_p / gap_p.sum()
    # Generator.choice(len(gap_p), p=gap_p) is this search of uniform draws (same draws, same result)
    gap_cdf = gap_p.cumsum()
    gap_cdf /= gap_cdf[-1]
    long_cert = cfg.get("elderly_disabled_certification_months", cfg["certification_months"])
    draws = np.empty((4, n))
    u = np.empty((4, ns))
    # The loop runs M times over short arrays, so the cost is numpy's per-call overhead: below,
    # putmask / take / compress / count_nonzero stand for boolean-mask and 2-D fancy indexing,
    # the same values at a third of the cost.
    for m in range(M):
        e, a = eligible[m], alive[m]
        rng.random(out=draws)
        np.take(draws, sub, axis=1, out=u)
        elapsed = m - cert_start
        due = on & (elapsed >= cert_len)
        if policy.certification_extended[m]:
            cert_len[due] += 6                                          # waived: the period runs 6 more months
            due[:] = False
        interim = on & (elapsed == cert_len // 2)
        # Real exits: found ineligible at recertification or at the interim report, a reported
        # change that ends eligibility, death, or leaving for other reasons.
        leave = (due | interim) & ~e
        leave |= on & ~due & ~interim & over[m] & (u[0] < cfg["change_report_rate"])
        leave |= on & (u[1] < cfg["other_exit_rate"]) | (on & ~a)
        # Procedural closures of eligible households: the planted churn.
        kept = e & ~leave
        churn_due = due & kept & (u[2] < cfg["churn_at_recertification"])
        churn_int = interim & kept & (u[2] < cfg["churn_at_interim_report"])
        churned = (churn_due | churn_int) & (m > 0)                   # a case closed in month 0 has no row to follow
        stay = on & ~leave & ~churned
        # A move between states closes the case; the household applies in its new state.
        transfer = stay & moved[m] & e
        stay &= ~moved[m]
        k = np.count_nonzero(churned)
        if k:
            pending[churned] = m + 1 + gap_cdf.searchsorted(rng.random(k), side="right")
        pending_reason = np.where(churn_due, 1, np.where(churn_int, 2, pending_reason))
        recert = stay & due
        np.putmask(cert_start, recert, m)
        np.putmask(action, recert | (stay & interim), m)
        # Openings: a churned household reapplies at its planned month if still eligible; others
        # apply at the entry rate while eligible.
        back = (pending == m) & a & e & ~on
        new = ~on & ~churned & (pending < 0) & a & e & (u[3] < cfg["entry_rate"])
        expired = (pending >= 0) & (pending <= m)
        reopen = np.where(back, pending_reason, 0)
        np.putmask(pending, expired, -1)
        np.putmask(pending_reason, expired, 0)
        opened = back | new | transfer
        if m == 0:
            opened |= stay & start                                      # cases open at the window's start
        fresh = opened & ~start if m == 0 else opened
        np.putmask(cert_start, fresh, m)
        np.putmask(action, opened, m)
        np.putmask(cert_len, fresh, np.where(H.elderly_disabled_q[m // 3].take(sub), long_cert,
                                             cfg["certification_months"]))
        on = stay | opened
        # The benefit this month: this month's rules, the income reported at the last action.
        who = np.flatnonzero(on)
        if program == "snap" and policy.snap_unchanged[m]:
            # Last month's rules: a case that reported nothing this month (its last action is
            # older) was on last month with the same income, so its benefit is last month's.
            BEN[m] = BEN[m - 1]
            who = who.compress(action.take(who) == m)
        act, person = action.take(who), sub.take(who)
        earned, unearned, elderly_disabled, shelter = H.cells(act, person)
        if program == "snap":
            ben, ok = snap_benefit(policy, m, earned=earned, unearned=unearned, size=size[person],
                                   elderly_disabled=elderly_disabled, shelter=shelter)
        else:
            ben, ok = _tanf_benefit(policy, cfg, m, state=state[m // 3, person], earned=earned, unearned=unearned,
                                    size=size[person], n_adults=n_adults[person], used=used.take(who))
        # A rule change (a lower maximum, a time limit reached) can end eligibility mid-period.
        on[who.compress(~ok)] = False
        used += on
        ON[m], OPEN[m] = on, opened & on
        ACTION[m], CERT[m], CLEN[m], USED[m] = action, cert_start, cert_len, used
        BEN[m, who.compress(ok)] = ben.compress(ok)
        REOPEN[m] = np.where(OPEN[m], reopen, 0)
    return {"ON": ON, "OPEN": OPEN, "ACTION": ACTION, "CERT": CERT, "CLEN": CLEN, "BEN": BEN, "USED": USED,
            "REOPEN": REOPEN}


def _at(a, i, j):
    """``a[i, j]`` for index arrays ``i`` and ``j``: a take of flat positions, several times faster for many rows."""
    return a.ravel().take(i * a.shape[1] + j)


def _rows(L, H, P, policy, program, *, sub, size, n_adults, state):
    """Case-month rows (by person, then month) and the churn events, from the month-major arrays."""
    ps, mi = np.nonzero(L["ON"].T)                                     # by person, then month
    pi = sub[ps]
    cell = mi * len(sub) + ps                                          # in the (M, len(sub)) arrays
    opened = L["OPEN"].ravel()[cell]
    spell = np.cumsum(opened) - 1
    act = L["ACTION"].ravel()[cell].astype(np.int64)
    earned_at, unearned_at, _, _ = H.cells(act, pi)
    earned = np.round(earned_at).astype(np.int64)
    gross = np.round(earned_at + unearned_at).astype(np.int64)
    benefit = L["BEN"].ravel()[cell]
    st = _at(state, mi // 3, pi)
    hh = size[pi]
    out = {
        "person": pi, "spell": spell, "month": mi, "q": mi // 3, "household_size": hh.astype(np.int8),
        "n_adults": n_adults[pi].astype(np.int8), "n_children": P["n_children"][pi],
        "gross": gross.astype(np.int32), "earned": earned.astype(np.int32), "benefit": benefit.astype(np.int32),
        "cert_start": L["CERT"].ravel()[cell].astype(np.int64), "cert_months": L["CLEN"].ravel()[cell].astype(np.int64),
        "county": _at(P["county_q"], pi, mi // 3), "state": st,
    }
    if program == "snap":
        ea = np.maximum(_at(policy.max_allotment, mi, hh) - benefit, policy.ea_minimum[mi])
        out["emergency_allotment"] = np.where(_at(policy.ea_active, st, mi), ea, 0).astype(np.int32)
    # Churn: a case opened by a planted reopening follows the same person's previous case.
    reason = L["REOPEN"].ravel()[cell]
    ev = np.flatnonzero(opened & (reason > 0))
    last_row = ev - 1                                                    # the closed case's last month
    out["churn"] = {"closed_spell": spell[last_row], "reopened_spell": spell[ev], "last_month": mi[last_row],
                    "reopen_month": mi[ev], "reason": reason[ev] - 1}
    return out
