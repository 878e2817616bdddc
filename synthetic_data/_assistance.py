"""TANF and SNAP: case-months from low household income."""

import numpy as np

__all__ = ["simulate_assistance"]


def simulate_assistance(P, earn, *, rng, world, program):
    """Case-months on TANF or SNAP for the people in ``P``.

    A person's quarterly earnings (all jobs) drive eligibility; entry and exit
    are quarterly hazards, months within the first and last quarter of a spell
    are trimmed at random. Returns month-level arrays.
    """
    p, T, cal = world.params, world.T, world.cal
    pv, cfg = p["poverty"], p[program]
    n = len(P["person_id"])
    size = np.minimum(1 + P["has_partner"] + P["n_children"], 8).astype(np.int64)
    fpl_month = (pv["fpl_first"] + pv["fpl_additional"] * (size - 1)) / 12
    # Household income besides the person's own wages: a partner's earnings and,
    # from 65, Social Security. Drawn once per person from this program's stream.
    partner = np.where(P["has_partner"], np.exp(rng.normal(np.log(pv["partner_income_median"]), 0.8, n)), 0.0)
    pension = np.where(P["age"] >= 65, pv["social_security_monthly"], 0.0)
    income = earn / 3 + partner[:, None] + pension                       # monthly, (n, T)
    limit = cfg["gross_income_limit_fpl"] if program == "snap" else cfg["income_limit_fpl"]
    age = P["age"]
    alive = (P["death_q"][:, None] < 0) | (np.arange(T)[None, :] < P["death_q"][:, None])
    # Under 22 most live in a parent's household and are not a case head.
    eligible = alive & (age >= 22) & (age < 80) & (income < limit * fpl_month[:, None])
    if program == "tanf":
        eligible &= (P["n_children"] > 0)[:, None] & (age < 65)
    used = np.zeros(n, dtype=np.int64)
    moved = np.zeros((n, T), dtype=bool)
    moved[:, 1:] = P["state_q"][:, 1:] != P["state_q"][:, :-1]
    # The loop reads and writes one quarter of everyone at a time: keep quarters contiguous.
    on_q = np.zeros((T, n), dtype=bool)
    eligible_q, stays_q = eligible.T.copy(), (~moved & alive).T.copy()
    alive_q = alive.T.copy()
    for q in range(T):
        was = on_q[q - 1] if q else np.zeros(n, dtype=bool)
        u = rng.random(n)
        if program == "snap":
            stay = was & (u >= np.where(eligible_q[q], cfg["exit_rate_eligible"], cfg["exit_rate_ineligible"]))
        else:
            stay = was & eligible_q[q] & (u >= cfg["exit_rate"]) & (used < cfg["lifetime_limit_months"])
        enter = ~was & eligible_q[q] & (rng.random(n) < cfg["entry_rate"])
        if program == "tanf":
            enter &= used < cfg["lifetime_limit_months"]
        on_q[q] = (stay & stays_q[q]) | (enter & alive_q[q])
        used += 3 * on_q[q]
    on = np.ascontiguousarray(on_q.T)

    # Spells are runs of on-quarters; a move between states starts a new case.
    prev = np.zeros_like(on)
    prev[:, 1:] = on[:, :-1] & ~moved[:, 1:]
    starts = on & ~prev
    nxt = np.zeros_like(on)
    nxt[:, :-1] = on[:, 1:] & ~moved[:, 1:]
    ends = on & ~nxt
    pi, qi = np.nonzero(on)                                             # row-major: by person, then quarter
    spell = np.cumsum(starts[pi, qi]) - 1
    n_spells = int(starts.sum())
    first_off = rng.integers(0, 3, n_spells)
    last_off = rng.integers(0, 3, n_spells)
    # the last quarter of the window is not an exit: keep all its months
    mi = np.repeat(np.arange(len(pi)), 3)
    k = np.tile(np.arange(3), len(pi))
    s = spell[mi]
    keep = ~(starts[pi, qi][mi] & (k < first_off[s])) & ~(ends[pi, qi][mi] & (qi[mi] < T - 1) & (k > last_off[s]))
    mi, k, s = mi[keep], k[keep], s[keep]
    month = qi[mi] * 3 + k
    person, q = pi[mi], qi[mi]
    in_window = cal.month_date(month) < world.reference_date
    mi, k, s, month, person, q = (a[in_window] for a in (mi, k, s, month, person, q))
    gross = np.round(income[person, q] * rng.uniform(0.9, 1.1, len(person))).astype(np.int64)
    hh = size[person]
    if program == "snap":
        net = np.maximum(0, gross * 0.8 - 198)
        allot = np.asarray(cfg["max_allotment"])[hh - 1] - 0.3 * net
        benefit = np.maximum(np.round(allot), cfg["min_benefit"]).astype(np.int32)
    else:
        max3 = np.array([cfg["max_benefit_family_of_3"][f] for f in world.geo.state_fips],
                        dtype=np.float64)[P["state_q"][person, q]]
        benefit = np.maximum(np.round(max3 * (hh / 3) ** 0.5 - cfg["earned_income_disregard"] * gross), 10).astype(np.int32)
    first_month = np.full(n_spells, 10**9, dtype=np.int64)
    np.minimum.at(first_month, s, month)
    return {
        "person": person, "spell": s, "month": month, "q": q, "household_size": hh.astype(np.int8),
        "n_adults": (1 + P["has_partner"][person]).astype(np.int8), "n_children": P["n_children"][person],
        "gross": gross.astype(np.int32), "benefit": benefit, "spell_first_month": first_month[s],
        "county": P["county_q"][person, q], "state": P["state_q"][person, q],
    }
