"""WIOA participation and training, with a planted, heterogeneous causal effect.

Selection into training depends only on observables learners can build from
the records (a pre-program earnings dip, education, age, sex, prior
earnings), so regression adjustment recovers the effect and a naive comparison
does not. A randomized pilot beside the observational pool gives an
experimental benchmark, as in the National Supported Work studies.
"""

import numpy as np

__all__ = ["simulate_wioa"]

PROGRAMS = np.array(["dislocated_worker", "adult", "youth"])


def simulate_wioa(P, J, earn, *, rng, world, multiplier):
    """Choose participants and training from untreated earnings ``earn`` (people x quarters).

    Applies the training effect in place to ``multiplier`` and returns the
    participation records with their potential outcomes.
    """
    p, T = world.params, world.T
    wp = p["wioa"]
    n = len(P["person_id"])
    age = P["age"]
    alive = (P["death_q"][:, None] < 0) | (np.arange(T)[None, :] < P["death_q"][:, None])
    laid_off = np.zeros((n, T), dtype=bool)
    m = (J["kind"] == 0) & np.isin(J["reason"], [1, 2]) & (J["end"] < T - 1)
    laid_off[J["person"][m], J["end"][m] + 1] = True

    lo, hi = 8, T - 6                                   # room for pre-period and outcomes
    prob = np.zeros((n, T))
    low = earn < 3000
    prob = np.where(low & (age >= 18), wp["p_adult"], prob)
    prob = np.where(low & (age >= 16) & (age < 25) & (earn < 2000), np.maximum(prob, wp["p_youth"]), prob)
    prob = np.where(laid_off & (age >= 18), wp["p_dislocated"], prob)
    prob[:, :lo] = 0
    prob[:, hi:] = 0
    prob[~alive] = 0
    draw = rng.random((n, T)) < prob
    who = np.flatnonzero(draw.any(axis=1))
    q0 = draw[who].argmax(axis=1)
    program = np.where(laid_off[who, q0], 0, np.where(age[who, q0] < 22, 2, 1))

    pre = earn[who[:, None], q0[:, None] - np.arange(1, 5)[None, :]].mean(axis=1)
    base = earn[who[:, None], q0[:, None] - np.arange(5, 9)[None, :]].mean(axis=1)
    dip = np.clip((base - pre) / (base + 1000), -1, 1)
    a = age[who, q0]
    low_edu = P["education"][who] <= 1
    female = P["female"][who]
    lpre = np.log1p(pre)
    z = (lpre - lpre.mean()) / (lpre.std() + 1e-9) if len(who) > 1 else np.zeros(len(who))
    c = wp["training_coef"]
    logit = (wp["training_intercept"] + c["dip"] * dip + c["education_hs_or_less"] * low_edu
             + c["age_under_35"] * (a < 35) + c["female"] * female + c["prior_earnings_z"] * z)
    propensity = 1 / (1 + np.exp(-logit))
    pilot = rng.random(len(who)) < wp["randomized_share"]
    propensity = np.where(pilot, 0.5, propensity)
    trained = rng.random(len(who)) < propensity

    d_lo, d_hi = wp["duration_quarters"]
    exit_q = np.minimum(q0 + rng.integers(d_lo, d_hi + 1, len(who)), T - 1)
    effect = wp["effect_base"] + wp["effect_low_education"] * low_edu + wp["effect_age_over_45"] * (a > 45)
    ramp = np.asarray(wp["effect_ramp"], dtype=np.float64)

    qs = np.arange(T)[None, :]
    k = qs - exit_q[:, None]                              # quarters since exit
    share = np.where(k >= 1, ramp[np.clip(k - 1, 0, len(ramp) - 1)], 0.0)
    uplift = 1 + effect[:, None] * share                  # (m, T) potential-outcome multiplier
    during = (qs >= q0[:, None]) & (qs < exit_q[:, None])
    treated_mult = np.where(during, wp["lock_in"], uplift)
    post = (k >= 1) & (k <= 4)
    y0 = earn[who]
    y0_post = (y0 * post).sum(axis=1) / np.maximum(post.sum(axis=1), 1)
    y1_post = (y0 * uplift * post).sum(axis=1) / np.maximum(post.sum(axis=1), 1)
    multiplier[who[trained]] *= treated_mult[trained]

    cal = world.cal
    entry_date = cal.start_date(q0) + rng.integers(0, 90, len(who))
    exit_date = cal.start_date(exit_q) + rng.integers(0, 90, len(who))
    exit_date = np.maximum(exit_date, entry_date + 1)
    return {
        "person": who, "entry_q": q0, "exit_q": exit_q, "program": PROGRAMS[program],
        "entry_date": entry_date, "exit_date": exit_date, "pilot": pilot, "propensity": propensity,
        "trained": trained, "effect": effect, "pre": pre, "base": base, "y0_post": y0_post, "y1_post": y1_post,
        "employed_at_entry": earn[who, q0] > 0,
    }
