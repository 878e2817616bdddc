"""College enrollment and completions, and the earnings premium credentials plant."""

import numpy as np

from . import _reference as ref

__all__ = ["simulate_postsecondary"]

_LEVEL = {"certificate": 0, "associate": 1, "bachelor": 2}


def simulate_postsecondary(P, *, rng, world, multiplier):
    """Enrollment terms and completions for the people in ``P``.

    Traditional students start the fall after they turn 18 when their final
    education is some college or more; adults 25-50 return for certificates.
    Completers of certificates and associate degrees earn a premium afterwards,
    applied in place to ``multiplier`` (people x quarters).
    """
    p, cal, T, geo = world.params, world.cal, world.T, world.geo
    ps = p["postsecondary"]
    progs, insts = ref.programs()
    inst_state = np.array([list(geo.state_fips).index(i["state"]) if i["state"] in geo.state_fips else -1 for i in insts])
    inst_2yr = np.array([i["sector"] == "public_2yr" for i in insts])
    n = len(P["person_id"])
    n_years = T // 4
    birth_year = P["dob"].astype("datetime64[Y]").astype(int) + 1970
    edu = P["education"]

    # Traditional students.
    ay0 = birth_year + ps["enroll_age"]
    trad = (edu >= 2) & (ay0 >= cal.start_year) & (ay0 < cal.start_year + n_years)
    level = np.where(edu == 4, 2, 1)
    terms = np.where(edu == 4, 8, np.where(edu == 3, rng.integers(4, 7, n), rng.integers(1, 6, n)))
    complete = edu >= 3
    # Some bachelor's students transfer in from an associate's program; keep it simple: one program each.
    # Adults returning for a certificate.
    eligible_years = np.clip(np.minimum(birth_year + 50, cal.start_year + n_years - 1)
                             - np.maximum(birth_year + 25, cal.start_year) + 1, 0, None)
    p_adult = 1 - (1 - ps["adult_return_rate"]) ** (4 * eligible_years)
    adult = ~trad & (rng.random(n) < p_adult)
    first = np.maximum(birth_year + 25, cal.start_year)
    adult_ay = first + (rng.random(n) * np.maximum(eligible_years, 1)).astype(int)
    who = np.flatnonzero(trad | adult)
    is_adult = adult[who]
    lvl = np.where(is_adult, 0, level[who])
    n_terms = np.where(is_adult, rng.integers(2, 4, len(who)), terms[who])
    start_ay = np.where(is_adult, adult_ay[who], ay0[who])
    done = np.where(is_adult, rng.random(len(who)) < ps["completion"]["certificate"], complete[who])
    full_time = np.where(is_adult, rng.random(len(who)) < 0.3, rng.random(len(who)) < 0.75)

    # Program and institution.
    cip = np.empty(len(who), dtype=object)
    for lv_name, lv in _LEVEL.items():
        offered = [g["cip"] for g in progs if lv_name in g["levels"]]
        m = lvl == lv
        cip[m] = rng.choice(offered, size=int(m.sum()))
    start_q = np.clip((start_ay - cal.start_year) * 4 + 2, 0, T - 1)
    home_state = P["state_q"][who, start_q]
    away = rng.random(len(who)) < ps["out_of_state_share"]
    inst_st = np.where(away, (home_state + rng.integers(1, world.S, len(who))) % world.S, home_state)
    inst = np.empty(len(who), dtype=np.int64)
    for s in range(world.S):
        for two_year in (True, False):
            m = (inst_st == s) & ((lvl < 2) == two_year)
            pool = np.flatnonzero((inst_state == s) & (inst_2yr == two_year))
            if m.any():
                inst[m] = rng.choice(pool, size=int(m.sum()))

    # Terms: fall of academic year y is quarter Q3 of y, spring is Q1 of y+1.
    rows_student = np.repeat(np.arange(len(who)), n_terms)
    k = np.arange(len(rows_student)) - np.repeat(np.cumsum(n_terms) - n_terms, n_terms)
    ay = start_ay[rows_student] + k // 2
    spring = k % 2 == 1
    term_q = np.where(spring, (ay + 1 - cal.start_year) * 4, (ay - cal.start_year) * 4 + 2)
    person_row = who[rows_student]
    alive = (P["death_q"][person_row] < 0) | (term_q < P["death_q"][person_row])
    keep = (term_q >= 0) & (term_q < T) & alive
    enroll = {
        "student": rows_student[keep], "person": person_row[keep], "institution": inst[rows_student[keep]],
        "academic_year": ay[keep].astype(np.int16), "term": np.where(spring[keep], "spring", "fall"),
        "term_q": term_q[keep],
    }

    # Completions after the last term.
    last_k = n_terms - 1
    last_ay = start_ay + last_k // 2
    last_spring = last_k % 2 == 1
    award = np.where(last_spring,
                     (last_ay + 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]") + 134,   # mid-May
                     (last_ay - 1970).astype("datetime64[Y]").astype("datetime64[D]") + 348)      # mid-December
    award_q = cal.quarter_of_date(award)
    dead = (P["death_q"][who] >= 0) & (P["death_q"][who] < award_q)
    c = np.flatnonzero(done & (award < world.reference_date) & (award_q < T) & (award_q >= 0) & ~dead)
    completion = {"student": c, "person": who[c], "institution": inst[c], "academic_year": last_ay[c].astype(np.int16),
                  "award_date": award[c], "level": lvl[c], "award_q": award_q[c]}

    # Earnings premium from the quarter after the award.
    prem = np.array([ps["credential_premium"][name] for name in _LEVEL])
    qs = np.arange(T)
    after = qs[None, :] > award_q[c][:, None]
    np.multiply.at(multiplier, (who[c],), np.where(after, np.exp(prem[lvl[c]])[:, None], 1.0))

    students = {"person": who, "institution": inst, "level": lvl, "cip": cip, "full_time": full_time,
                "away": inst_st != home_state}
    return students, enroll, completion
