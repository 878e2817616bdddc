"""WIOA Title I participation and training, with a planted, heterogeneous causal effect.

Who enters follows the funding streams' eligibility rules, applied to the simulated labor
market: a *dislocated worker* was laid off (or the employer closed) and is eligible for
unemployment compensation (WIOA sec. 3(15)); an *adult* is a job seeker, or a worker earning
under the self-sufficiency level (20 CFR 680.210 opens training to employed adults), with recent
covered earnings, and the low-income and basic-skills deficient come first (priority of service,
WIOA sec. 134(c)(3)(E)); a *youth* is 16-21 and low-income (WIOA sec. 129(a)). Each eligible
person-quarter enters with its stream's hazard, so how many work after exit follows from who
participates, when they exit and the labor market, not from a rate set here.

A period of participation runs from entry to exit (PIRL elements 900 and 901); exit is the last
day of service, and a participant still out of work when the planned services end keeps getting
job search help for a while and exits once working. Some people come back for a second period
after a later layoff or spell of low earnings, under the same rules; the second starts at least
``return_after_quarters`` after the first exit, so the four follow-up quarters of the first period
are untouched by the second.

Selection into training depends only on observables learners can build from the records (a
pre-program earnings dip, education, age, sex, prior earnings), so regression adjustment
recovers the effect and a naive comparison does not. A randomized pilot beside the
observational pool gives an experimental benchmark, as in the National Supported Work studies.
"""

import numpy as np

from . import _reference as ref

from ._labor import CLOSED, LAYOFF

__all__ = ["simulate_wioa"]

STREAMS = np.array(["adult", "dislocated_worker", "youth"])
ADULT, DISLOCATED, YOUTH = 0, 1, 2
FIRST_ENTRY_Q = 8        # eight quarters of earnings before entry: the pre-period learners compare
LAST_ENTRY_BEFORE_END = 6   # planned exits (1-4 quarters later) keep their 2nd-quarter outcome inside the window


def simulate_wioa(P, J, earn, *, rng, world, multiplier):
    """Periods of participation in WIOA Title I, training, and its effect on earnings.

    Parameters
    ----------
    P : dict of numpy arrays
        People, from ``make_people``.
    J : dict of numpy arrays
        Job spells, from ``simulate_jobs``.
    earn : numpy.ndarray
        Earnings per person and quarter, ``(people, quarters)``, before any WIOA effect.
    rng : numpy.random.Generator, keyword-only
        This partition's ``wioa`` stream.
    world : World, keyword-only
    multiplier : numpy.ndarray, keyword-only
        Earnings multiplier per person and quarter; the training effect (and the lower
        earnings while in training) is applied to it in place.

    Returns
    -------
    dict of numpy arrays
        One entry per period of participation, ordered by person then entry: ``person`` (row
        of ``P``), ``period`` (1 or 2), ``entry_q``, ``exit_q``, ``program``, ``state``
        (state index at entry), ``entry_date``, ``exit_date``, ``pilot``, ``propensity``,
        ``trained``, ``effect``, ``pre``, ``base``, ``y0_post``, ``y1_post`` and
        ``employed_at_entry``.
    """
    wp = world.params["wioa"]
    n, T = earn.shape
    wioa_mult = np.ones((n, T))                # this module's multiplier, applied to ``multiplier`` at the end
    u = rng.random((n, T))                     # one entry draw per person-quarter, for both periods
    rules = _rules(P, J, earn, world)          # what an earnings multiplier cannot change

    # First period: the first quarter whose draw falls under the hazard.
    stream, hazard = _streams(rules, _income_ratio(P, earn, world), world)
    draw = u < hazard
    who = np.flatnonzero(draw.any(axis=1))
    q0 = draw[who].argmax(axis=1)
    spells = [_participate(who, q0, 1, stream[who, q0], P, J, earn, wioa_mult, rng=rng, world=world)]

    # A second period, for first-period participants only: the same rules on earnings as they now
    # are, at later quarters (draws not yet looked at), in the state of the first, so the
    # state-assigned identifier stays the participant's (PIRL element 100).
    first = spells[0]
    rp = wp["repeat"]
    rows = first["person"]
    stream, hazard = _streams({k: v[rows] for k, v in rules.items()},
                              _income_ratio(P, earn[rows] * wioa_mult[rows], world, rows=rows), world)
    later = np.arange(T)[None, :] >= (first["exit_q"] + rp["return_after_quarters"])[:, None]
    again = (u[rows] < hazard * rp["return_rate_multiplier"]) & later & (P["state_q"][rows] == first["state"][:, None])
    back = np.flatnonzero(again.any(axis=1))
    q0 = again[back].argmax(axis=1)
    spells.append(_participate(rows[back], q0, 2, stream[back, q0], P, J, earn, wioa_mult, rng=rng, world=world))
    multiplier[rows] *= wioa_mult[rows]        # every participant had a first period

    out = {k: np.concatenate([s[k] for s in spells]) for k in spells[0]}
    order = np.lexsort((out["entry_q"], out["person"]))
    return {k: v[order] for k, v in out.items()}


def _rules(P, J, earn, world):
    """The eligibility facts earnings multipliers leave alone, ``(people, quarters)`` boolean arrays each.

    ``seeking``: alive, able to work and not in a main job that runs on from an earlier quarter;
    ``holding``: alive and in such a job; ``laid_off``: in the quarters after a layoff or a closure
    that leaves the worker eligible for unemployment compensation; ``attached``: covered earnings
    in one of the last ``recent_earnings_quarters``; the age bands of the streams;
    ``basic_skills``: without a high-school diploma.
    """
    wp, T = world.params["wioa"], world.T
    n = len(P["person_id"])
    age = P["age"]
    qs = np.arange(T)
    alive = (P["death_q"][:, None] < 0) | (qs[None, :] < P["death_q"][:, None])

    # A main job that runs on from an earlier quarter: its holder is not looking for work.
    main = J["kind"] == 0
    jp, js, je = J["person"][main], J["start"][main], J["end"][main]
    runs = je > js
    size = n * (T + 1)                                     # +1 to every quarter from start + 1, -1 after the end
    steps = (np.bincount(jp[runs] * (T + 1) + js[runs] + 1, minlength=size)
             - np.bincount(jp[runs] * (T + 1) + je[runs] + 1, minlength=size)).reshape(n, T + 1)
    holding = np.cumsum(steps, axis=1)[:, :T] > 0

    worked = np.zeros((n, T + 1), dtype=np.int32)         # quarters with covered earnings before each quarter
    np.cumsum(earn > 0, axis=1, out=worked[:, 1:])

    # Dislocated: laid off, or the employer closed, in one of the last few quarters, and eligible for
    # unemployment compensation (WIOA sec. 3(15)(A)(ii)(I)): covered earnings in enough quarters of the
    # base period, the first four of the last five completed quarters when the claim is filed (the
    # quarter after the layoff). A temporary layoff awaiting recall is not a dislocation (sec.
    # 3(15)(A)(iii): unlikely to return).
    dw = wp["dislocated_worker"]
    jp, je = J["person"], J["end"]
    base_paid = worked[jp, np.clip(je, 0, T)] - worked[jp, np.clip(je - 4, 0, T)]
    lost = (main & np.isin(J["reason"], [LAYOFF, CLOSED]) & ~J["temp"]
            & (base_paid >= dw["base_period_quarters_paid"]))
    laid_off = np.zeros((n, T), dtype=bool)
    for lag in range(1, dw["quarters_after_layoff"] + 1):
        m = lost & (je + lag < T)
        laid_off[jp[m], je[m] + lag] = True

    # Attached to the labor market: covered earnings in one of the last ``recent_earnings_quarters``.
    k = wp["adult"]["recent_earnings_quarters"]
    attached = (worked[:, :T] - worked[:, np.maximum(qs - k, 0)]) > 0

    yt = wp["youth"]
    free = alive & ~holding
    working_age = (age >= 18) & (age < 65)
    return {"seeking": free & ~P["never_works"][:, None], "free": free, "holding": alive & holding,
            "laid_off": laid_off, "attached": attached, "working_age": working_age,
            "youth_age": (age >= yt["min_age"]) & (age < yt["max_age"] + 1),
            "basic_skills": np.broadcast_to((P["education"] == 0)[:, None], (n, T))}


def _income_ratio(P, earn, world, rows=None):
    """Earnings of the last two quarters, annualized, over the poverty guideline for the family.

    WIOA sec. 3(36) tests family income against the poverty line (a ratio under 1 is low-income);
    ``rows`` names the people of ``earn``'s rows when it holds only some.
    """
    rows = slice(None) if rows is None else rows
    family = 1 + P["has_partner"][rows].astype(np.int64) + P["n_children"][rows]
    # the HHS poverty guideline of each quarter's year (reference/assistance_policy.toml)
    by_year = {int(y): g for y, g in ref.assistance_policy()["poverty"]["guideline"].items() if y.isdigit()}
    years = world.cal.year(np.arange(world.T))
    first = np.array([by_year[min(max(y, min(by_year)), max(by_year))]["first"] for y in years], dtype=np.float64)
    extra = np.array([by_year[min(max(y, min(by_year)), max(by_year))]["additional"] for y in years], dtype=np.float64)
    guideline = first[None, :] + extra[None, :] * (family[:, None] - 1)
    recent = np.zeros(earn.shape)
    recent[:, 2:] = earn[:, 1:-1] + earn[:, :-2]
    return 2 * recent / guideline


def _streams(rules, income, world):
    """Each person-quarter's stream (-1 if none) and entry hazard, from :func:`_rules` and :func:`_income_ratio`.

    A dislocated worker enters that stream; otherwise a low-income young person out of work enters
    as a youth, and a job seeker or a worker under the self-sufficiency level of working age as an
    adult, at a lower rate when working or in no priority group.
    """
    wp, T = world.params["wioa"], world.T
    r = rules
    low_income = income < 1
    is_dw = r["seeking"] & r["laid_off"] & r["working_age"]
    is_youth = ~is_dw & r["free"] & r["youth_age"] & low_income
    # Adults: job seekers, and workers under the self-sufficiency level in need of training to reach
    # it (20 CFR 680.210: training for employed and unemployed adults). The low-income and the basic
    # skills deficient come first (WIOA sec. 134(c)(3)(E)), but priority does not exclude others
    # (20 CFR 680.600(c)); workers come to American Job Centers less often than job seekers.
    priority = low_income | r["basic_skills"]
    worker = r["holding"] & (income < wp["adult"]["self_sufficiency"])
    is_adult = ~is_dw & ~is_youth & r["attached"] & r["working_age"] & (r["seeking"] | worker)
    stream = np.where(is_dw, DISLOCATED, np.where(is_youth, YOUTH, np.where(is_adult, ADULT, -1)))
    ad = wp["adult"]
    rate = np.array([ad["entry_rate"], wp["dislocated_worker"]["entry_rate"], wp["youth"]["entry_rate"]])
    hazard = np.where(stream >= 0, rate[np.maximum(stream, 0)], 0.0)
    adult = stream == ADULT
    hazard = np.where(adult & worker, hazard * ad["employed_rate_ratio"], hazard)
    hazard = np.where(adult & ~priority, hazard * ad["non_priority_rate_ratio"], hazard)
    hazard[:, :FIRST_ENTRY_Q] = 0
    hazard[:, T - LAST_ENTRY_BEFORE_END:] = 0
    return stream, hazard


def _working_on(J, who, q, day, n):
    """Whether each person ``who[i]`` holds a job on day ``day[i]`` of quarter ``q[i]``.

    ``who`` holds distinct rows of ``P``, which has ``n`` people; any job counts, main or second.
    """
    m = len(who)
    row = np.full(n, -1, dtype=np.int64)
    row[who] = np.arange(m)
    k = row[J["person"]]
    mine = k >= 0
    k = k[mine]
    qq, dd = q[k], day[k]
    start, end = J["start"][mine], J["end"][mine]
    began = (start < qq) | ((start == qq) & (J["start_day"][mine] <= dd))
    still = (end > qq) | ((end == qq) & (J["end_day"][mine] >= dd))
    return np.bincount(k[began & still], minlength=m) > 0


def _participate(who, q0, period, program, P, J, earn, effect_so_far, *, rng, world):
    """Training, exit and effects for one period of each person in ``who`` entering at ``q0`` in ``program``.

    ``effect_so_far`` holds the WIOA multiplier of earlier periods and is updated in place
    (``who`` holds each person at most once, so plain indexing does it); earnings before
    entry are read as the records will show them, with an earlier period's effect.
    """
    wp, T, cal = world.params["wioa"], world.T, world.cal
    m = len(who)
    seen = earn[who] * effect_so_far[who]                 # earnings as the wage records will show them
    rows = np.arange(m)[:, None]
    pre = seen[rows, q0[:, None] - np.arange(1, 5)[None, :]].mean(axis=1)
    base = seen[rows, q0[:, None] - np.arange(5, 9)[None, :]].mean(axis=1)
    dip = np.clip((base - pre) / (base + 1000), -1, 1)
    a = P["age"][who, q0]
    low_edu = P["education"][who] <= 1
    female = P["female"][who]
    lpre = np.log1p(pre)
    z = (lpre - lpre.mean()) / (lpre.std() + 1e-9) if m > 1 else np.zeros(m)
    c = wp["training_coef"]
    logit = (wp["training_intercept"] + c["dip"] * dip + c["education_hs_or_less"] * low_edu
             + c["age_under_35"] * (a < 35) + c["female"] * female + c["prior_earnings_z"] * z)
    propensity = 1 / (1 + np.exp(-logit))
    pilot = rng.random(m) < wp["randomized_share"]
    propensity = np.where(pilot, 0.5, propensity)
    trained = rng.random(m) < propensity

    # Exit is the last day of service (TEGL 10-16): planned services last ``duration_quarters``; a
    # participant still out of work then keeps getting job search help, for at most
    # ``job_search_quarters`` more, and exits in the first of those quarters with a job.
    d_lo, d_hi = wp["duration_quarters"]
    planned = q0 + rng.integers(d_lo, d_hi + 1, m)
    extra = np.arange(wp["job_search_quarters"] + 1)
    working = seen[rows, np.minimum(planned[:, None] + extra[None, :], T - 1)] > 0
    exit_q = np.minimum(planned + np.where(working.any(axis=1), working.argmax(axis=1), extra[-1]), T - 1)
    effect = wp["effect_base"] + wp["effect_low_education"] * low_edu + wp["effect_age_over_45"] * (a > 45)
    ramp = np.asarray(wp["effect_ramp"], dtype=np.float64)

    qs = np.arange(T)[None, :]
    k = qs - exit_q[:, None]                              # quarters since exit
    share = np.where(k >= 1, ramp[np.clip(k - 1, 0, len(ramp) - 1)], 0.0)
    uplift = 1 + effect[:, None] * share                  # (m, T) potential-outcome multiplier
    during = (qs >= q0[:, None]) & (qs < exit_q[:, None])
    post = (k >= 1) & (k <= 4)
    # Potential outcomes over the four quarters after exit, everything else as it happens: an
    # earlier period's effect is in both, and a later period starts after these quarters.
    y0 = seen * post
    y0_post = y0.sum(axis=1) / np.maximum(post.sum(axis=1), 1)
    y1_post = (y0 * uplift).sum(axis=1) / np.maximum(post.sum(axis=1), 1)
    effect_so_far[who[trained]] *= np.where(during, wp["lock_in"], uplift)[trained]

    entry_day = rng.integers(0, 90, m)
    entry_date = cal.start_date(q0) + entry_day
    exit_date = np.maximum(cal.start_date(exit_q) + rng.integers(0, 90, m), entry_date + 1)
    return {
        "person": who, "period": np.full(m, period, dtype=np.int8), "entry_q": q0, "exit_q": exit_q,
        "program": STREAMS[program], "state": P["state_q"][who, q0],
        "entry_date": entry_date, "exit_date": exit_date, "pilot": pilot, "propensity": propensity,
        "trained": trained, "effect": effect, "pre": pre, "base": base, "y0_post": y0_post, "y1_post": y1_post,
        # PIRL 400: employed on the date of program entry
        "employed_at_entry": _working_on(J, who, q0, entry_day, len(P["person_id"])),
    }
