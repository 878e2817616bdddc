"""College enrollment and completions, and the earnings premium credentials plant.

A person's final education (drawn from ACS shares in ``_people``) is the truth the
college files must agree with: ``bachelor_plus`` people earn a bachelor's degree,
``associate`` people an associate degree, ``some_college`` people leave without a
degree. What the published completion, transfer and retention rates add is *how*
they get there: where they start, whether they transfer, stop out or take longer
than normal time. :func:`path_shares` solves the mix of paths from those rates and
the ACS shares, so both hold at once (see its docstring for the algebra).

Terms are fall (quarter 3 of the academic year's first calendar year) and spring
(quarter 1 of the next); term ``g`` counts terms from the window's first fall, so
fall of academic year ``y`` is ``g = 2 (y - start_year)`` and its quarter is ``2 g + 2``.
"""

import numpy as np

from . import _reference as ref
from ._errors import ProfileError

__all__ = ["simulate_postsecondary", "path_shares", "elapsed_terms", "PATHS"]

_LEVEL = {"certificate": 0, "associate": 1, "bachelor": 2}
NORMAL_TERMS = {"associate": 4, "bachelor": 8}

#: Paths of traditional students, each with the final education it belongs to.
PATHS = (
    ("bachelor_direct", "bachelor_plus"),                   # a 4-year college, the degree there
    ("bachelor_after_lateral_transfer", "bachelor_plus"),   # leaves one 4-year college for another
    ("bachelor_after_2yr_transfer", "bachelor_plus"),       # a community college, then a 4-year one
    ("associate", "associate"),
    ("associate_then_transfer", "associate"),               # the associate, then a 4-year college left
    ("left_4yr", "some_college"),
    ("left_2yr", "some_college"),
    ("left_after_transfer", "some_college"),                # a community college, a 4-year one, no degree
)
(BA_DIRECT, BA_LATERAL, BA_VIA_2YR, AA, AA_TRANSFER, LEFT_4YR, LEFT_2YR, LEFT_TRANSFER) = range(len(PATHS))
_BY_EDUCATION = {e: [k for k, path in enumerate(PATHS) if path[1] == e]
                 for e in ("bachelor_plus", "associate", "some_college")}
# Terms at the first college before a transfer without an award: uniform on these.
_LATERAL_TERMS = (2, 4)
_TRANSFER_TERMS = (2, 5)


def elapsed_terms(cumulative):
    """Terms from entry to award of completers, as (values, probabilities).

    ``cumulative`` maps years since entry to the cumulative share of a cohort with the
    credential (the published "within 4, 5, 6 years" rates); the first year is normal
    time, and later completions spread evenly over the terms of each interval.
    """
    years = sorted((int(y), float(v)) for y, v in cumulative.items())
    values, probs, prev_year, prev = [], [], None, 0.0
    for y, v in years:
        terms = [2 * y] if prev_year is None else list(range(2 * prev_year + 1, 2 * y + 1))
        values += terms
        probs += [(v - prev) / len(terms)] * len(terms)
        prev_year, prev = y, v
    probs = np.array(probs) / prev
    return np.array(values), probs


def _within(cumulative, years):
    values, probs = elapsed_terms(cumulative)
    return float(probs[values <= 2 * years].sum())


def _associate_done_within(ps, terms):
    """Share of associate completers, full and part time mixed as at entry, done within ``terms`` terms.

    Follows :func:`_completer_terms` and the part-time stretch exactly, by enumeration.
    """
    values, probs = elapsed_terms(ps["years_to_degree"]["associate"])
    slow, mult = ps["stop_out"]["slow_completers"], ps["part_time_terms_multiplier"]
    ft = ps["full_time_share"]["2yr"]
    done = 0.0
    for e, pe in zip(values, probs):
        extra = e - NORMAL_TERMS["associate"]
        gaps = [(0, 1.0)] if extra <= 0 else [(0, 1 - slow)] + [(g, slow / extra) for g in range(1, extra + 1)]
        for g, pg in gaps:
            part_time = np.ceil((e - g) * mult) + g
            done += pe * pg * (ft * (e <= terms) + (1 - ft) * (part_time <= terms))
    return done


def path_shares(params):
    """Probabilities of each path given final education, and the timing they imply.

    Shares of the population: B (bachelor_plus), A (associate), S (some_college).
    Published: r6, the 6-year bachelor's completion of first-time full-time (FTFT)
    4-year starters at their first college; r3, the 3-year completion of FTFT
    2-year starters; tau, the share of 2-year starters who transfer to a 4-year
    college within 6 years; alpha, the share of those who earned an award before
    transferring; beta, the share of transfers who earn a bachelor's (NSC's 6-year
    figure, taken as the eventual share: a lower bound); and the time-to-degree
    curves, which give w6 (bachelor's completers done within 6 years) and w3
    (associate completers done within 3). A transfer with an award moves when the
    associate is done, within 6 years for a share w of them, so of all transfers
    T a share x = alpha / (w (1 - alpha) + alpha) hold an award and
    T = tau N2 / (1 - x + x w). With N2 and N4 the 2- and 4-year starters,

        r3 * N2 = w3 * (A + x * beta * T)                associate completers of 2-year starters
        B * b2  = beta * T                               bachelor's earners who started at a 2-year
        N2      = B * b2 + A + D2                        D2: some-college people starting at a 2-year
        N4      = B * (1 - b2) + (S - D2)
        r6 * N4 = w6 * B * (1 - b2 - b44)                b44: bachelor's earners who change 4-year college

    and the transfers who earn no bachelor's, (1 - beta) T, split x to associate
    holders and 1 - x to some-college people. Everyone who started college keeps
    their ACS education; only the paths move. First-year leavers are then set so
    the fall-to-fall retention of FTFT starters matches the published rates.
    Raises :class:`ProfileError` when the rates cannot hold together.
    """
    pp, ps = params["person"], params["postsecondary"]
    total = sum(pp["education"].values())
    B, A, S = (pp["education"][e] / total for e in ("bachelor_plus", "associate", "some_college"))
    r6, r3 = ps["completion"]["bachelor_6yr"], ps["completion"]["associate_3yr"]
    tr = ps["transfer"]
    tau, beta, alpha = tr["two_to_four_year"], tr["bachelor_share"], tr["with_award"]
    w6 = _within(ps["years_to_degree"]["bachelor"], 6)
    w3 = _within(ps["years_to_degree"]["associate"], 3)
    w = _associate_done_within(ps, 11)          # the transfer starts the next term, by the 12th
    x = alpha / (w * (1 - alpha) + alpha)
    c = tau / (1 - x + x * w)                   # all transfers per 2-year starter

    n2 = w3 * A / (r3 - w3 * x * beta * c) if r3 > w3 * x * beta * c else np.inf
    b2 = beta * c * n2
    d2 = n2 - b2 - A
    n4 = B - b2 + (S - d2)
    b44 = B - b2 - r6 * n4 / w6
    other = (1 - beta) * c * n2
    a_t, s_t = x * other, (1 - x) * other
    if not (np.isfinite(n2) and 0 <= b2 and b44 >= 0 and s_t <= d2 <= S and a_t <= A):
        raise ProfileError(
            "postsecondary: completion.bachelor_6yr, completion.associate_3yr and the transfer rates cannot hold "
            f"with person.education's shares (some-college people needed at 2-year colleges: {d2 / S:.2f} of them, "
            f"bachelor's earners changing 4-year college: {b44 / B:.2f}); move a rate or the shares")
    shares = {
        "bachelor_plus": np.array([B - b2 - b44, b44, b2]) / B,
        "associate": np.array([A - a_t, a_t]) / A,
        "some_college": np.array([S - d2, d2 - s_t, s_t]) / S,
    }
    # Fall-to-fall retention at the first college: who is gone by the second fall?
    ret = ps["retention"]
    lat_lo, lat_hi = _LATERAL_TERMS
    tr_lo, tr_hi = _TRANSFER_TERMS
    left4, left2 = S - d2, d2 - s_t
    gone4 = (1 - ret["4yr"]) * n4 - b44 / (lat_hi - lat_lo + 1)
    gone2 = (1 - ret["2yr"]) * n2 - (b2 * (1 - x) + s_t) / (tr_hi - tr_lo + 1)
    first_year = {"4yr": gone4 / left4 if left4 > 0 else 0.0, "2yr": gone2 / left2 if left2 > 0 else 0.0}
    if not all(0 <= v <= 1 for v in first_year.values()):
        raise ProfileError(f"postsecondary: retention {ret!r} cannot hold with the completion and transfer rates "
                           f"(first-year leavers needed: {first_year})")
    return {"paths": shares, "first_year_leave": first_year, "with_award": x,
            "starters": {"2yr": n2, "4yr": n4}}


def _uniform(rng, lo, hi, size):
    """Integers uniform on lo..hi inclusive (arrays allowed)."""
    return lo + (rng.random(size) * (np.asarray(hi) - lo + 1)).astype(np.int64)


def _completer_terms(rng, level, ps, size):
    """(enrolled terms, stop-out terms) of full-time completers: elapsed time as published.

    Time beyond normal time is a stop-out for a share of slow completers and extra
    enrolled terms for the rest.
    """
    values, probs = elapsed_terms(ps["years_to_degree"][level])
    elapsed = values[rng.choice(len(values), size=size, p=probs)]
    extra = elapsed - NORMAL_TERMS[level]
    stops = (extra > 0) & (rng.random(size) < ps["stop_out"]["slow_completers"])
    gap = np.where(stops, _uniform(rng, 1, np.maximum(extra, 1), size), 0)
    return elapsed - gap, gap


def _pick_institution(rng, state, four_year, inst_state, inst_4yr, exclude=None):
    """An institution of the given sector in each given state (uniformly among them).

    With ``exclude``, never that institution: a state with no other one of the sector
    sends the student to one elsewhere in the region. Loops over institutions, not people.
    """
    n = len(state)
    out = np.full(n, -1, dtype=np.int64)
    u = rng.random(n)
    for s in np.unique(state):
        for fy in (False, True):
            m = (state == s) & (four_year == fy)
            if not m.any():
                continue
            pool = np.flatnonzero((inst_state == s) & (inst_4yr == fy))
            if not len(pool):       # a state without such a college: one elsewhere in the region
                pool = np.flatnonzero((inst_state >= 0) & (inst_4yr == fy))
            if exclude is None:
                out[m] = pool[(u[m] * len(pool)).astype(np.int64)]
                continue
            for ex in np.unique(exclude[m]):
                mm = m & (exclude == ex)
                here = pool[pool != ex]
                if not len(here):
                    here = np.flatnonzero((inst_state >= 0) & (inst_4yr == fy) & (np.arange(len(inst_4yr)) != ex))
                out[mm] = here[(u[mm] * len(here)).astype(np.int64)]
    return out


def simulate_postsecondary(P, *, rng, world, multiplier):
    """Student records, enrollment terms and completions for the people in ``P``.

    Traditional students start the fall after they turn ``enroll_age`` (cohorts up to
    eight years before the window too, so its first years hold continuing students),
    on the path :func:`path_shares` gives their final education. Adults 25-50 return
    for certificates. Every credential earned raises earnings from the quarter after
    the award (``credential_premium``), applied in place to ``multiplier`` (people x
    quarters). Returns ``(students, enroll, completion)``: one entry per student
    record (a person at one institution), per enrolled term, and per award.
    """
    p, cal, T, geo = world.params, world.cal, world.T, world.geo
    ps = p["postsecondary"]
    sol = path_shares(p)
    progs, insts = ref.programs()
    inst_state = np.array([list(geo.state_fips).index(i["state"]) if i["state"] in geo.state_fips else -1 for i in insts])
    inst_4yr = np.array([i["sector"] != "public_2yr" for i in insts])
    n = len(P["person_id"])
    n_years = T // 4
    y0 = cal.start_year
    birth_year = P["dob"].astype("datetime64[Y]").astype(int) + 1970
    edu = P["education"]
    ft_share = ps["full_time_share"]

    # Traditional students: a path by final education.
    lookback = max(int(y) for y in ps["years_to_degree"]["bachelor"])
    ay0 = birth_year + ps["enroll_age"]
    in_window = (edu >= 2) & (ay0 >= y0) & (ay0 < y0 + n_years)
    trad = (edu >= 2) & (ay0 >= y0 - lookback) & (ay0 < y0 + n_years)
    path = np.full(n, -1)
    u = rng.random(n)
    for e, paths in _BY_EDUCATION.items():
        m = trad & (edu == ref.EDUCATION.index(e))
        cum = np.cumsum(sol["paths"][e])[:-1]
        path[m] = np.array(paths)[np.searchsorted(cum, u[m], side="right")]
    t = np.flatnonzero(path >= 0)
    pt = path[t]
    m = len(t)

    # First record: where they start and how long they stay.
    four1 = np.isin(pt, [BA_DIRECT, BA_LATERAL, LEFT_4YR])
    award1 = np.isin(pt, [AA, AA_TRANSFER]) | ((pt == BA_VIA_2YR) & (rng.random(m) < sol["with_award"]))
    done1 = award1 | (pt == BA_DIRECT)
    base1, gap1 = np.zeros(m, dtype=np.int64), np.zeros(m, dtype=np.int64)
    for level, who in (("bachelor", pt == BA_DIRECT), ("associate", award1)):
        base1[who], gap1[who] = _completer_terms(rng, level, ps, int(who.sum()))
    lat = pt == BA_LATERAL
    base1[lat] = _uniform(rng, *_LATERAL_TERMS, int(lat.sum()))
    moving = ~award1 & np.isin(pt, [BA_VIA_2YR, LEFT_TRANSFER])
    base1[moving] = _uniform(rng, *_TRANSFER_TERMS, int(moving.sum()))
    leaving = np.isin(pt, [LEFT_4YR, LEFT_2YR])
    q1 = np.where(four1, sol["first_year_leave"]["4yr"], sol["first_year_leave"]["2yr"])
    early = rng.random(m) < q1
    base1[leaving] = np.where(early, _uniform(rng, 1, 2, m), _uniform(rng, 3, ps["leaver_max_terms"], m))[leaving]
    stops = leaving & (base1 >= 4) & (rng.random(m) < ps["stop_out"]["leavers"])
    gap1[stops] = _uniform(rng, 1, ps["stop_out"]["leaver_max_terms"], int(stops.sum()))
    ft1 = rng.random(m) < np.where(four1, ft_share["4yr"], ft_share["2yr"])
    # Part-time completers take more terms for the same credits.
    terms1 = np.where(done1 & ~ft1, np.ceil(base1 * ps["part_time_terms_multiplier"]).astype(np.int64), base1)
    g1 = 2 * (ay0[t] - y0)

    # Second record: the 4-year college a transfer moves to, the next term.
    two = np.isin(pt, [BA_LATERAL, BA_VIA_2YR, AA_TRANSFER, LEFT_TRANSFER])
    done2 = np.isin(pt, [BA_LATERAL, BA_VIA_2YR])
    credit = np.minimum(base1, NORMAL_TERMS["associate"])
    lost = _uniform(rng, *ps["transfer"]["extra_terms"], m)
    base2 = np.where(done2, NORMAL_TERMS["bachelor"] - credit + lost, _uniform(rng, 1, ps["leaver_max_terms"], m))
    ft2 = rng.random(m) < ft_share["4yr"]
    terms2 = np.where(done2 & ~ft2, np.ceil(base2 * ps["part_time_terms_multiplier"]).astype(np.int64), base2)
    g2 = g1 + terms1 + gap1

    # Adults returning for a certificate, as before: 25-50, once, two or three terms; from a
    # year before the window, so that its first year has certificates too.
    a0 = y0 - 1
    eligible_years = np.clip(np.minimum(birth_year + 50, y0 + n_years - 1) - np.maximum(birth_year + 25, a0) + 1, 0, None)
    p_adult = 1 - (1 - ps["adult_return_rate"]) ** (4 * eligible_years)
    adult = np.flatnonzero(~in_window & (rng.random(n) < p_adult))
    k = len(adult)
    first = np.maximum(birth_year[adult] + 25, a0)
    adult_ay = first + (rng.random(k) * np.maximum(eligible_years[adult], 1)).astype(int)

    # All records, by person and start.
    two_i = np.flatnonzero(two)
    rec = {
        "person": np.concatenate([t, t[two_i], adult]),
        "level": np.concatenate([np.where(four1, 2, 1), np.full(len(two_i), 2), np.zeros(k, dtype=np.int64)]),
        "g0": np.concatenate([g1, g2[two_i], 2 * (adult_ay - y0)]),
        "terms": np.concatenate([terms1, terms2[two_i], _uniform(rng, 2, 3, k)]),
        "gap": np.concatenate([gap1, np.zeros(len(two_i), dtype=np.int64), np.zeros(k, dtype=np.int64)]),
        "done": np.concatenate([done1, done2[two_i], rng.random(k) < ps["completion"]["certificate"]]),
        "full_time": np.concatenate([ft1, ft2[two_i], rng.random(k) < ft_share["adult"]]),
        "transfer_in": np.concatenate([np.zeros(m, dtype=bool), np.ones(len(two_i), dtype=bool), np.zeros(k, dtype=bool)]),
        "path": np.concatenate([pt, pt[two_i], np.full(k, -1)]),
    }
    n_rec = len(rec["person"])
    # A stop-out starts after the third term or later, so first-year retention counts leavers only.
    rec["gap_after"] = np.where(rec["gap"] > 0, _uniform(rng, 3, np.maximum(rec["terms"] - 1, 3), n_rec), rec["terms"])
    rec["left"] = np.concatenate([np.full(m, -1), two_i, np.full(k, -1)])   # a transfer's record at the college left
    order = np.lexsort((rec["g0"], rec["person"]))
    rec = {key: v[order] for key, v in rec.items()}
    where = np.empty(n_rec, dtype=np.int64)
    where[order] = np.arange(n_rec)
    moved = np.flatnonzero(rec["left"] >= 0)
    left = where[rec["left"][moved]]
    four = rec["level"] == 2

    # Institutions: home state at entry, some out of state; a transfer moves again.
    start_q = np.clip(2 * rec["g0"] + 2, 0, T - 1)
    home = P["state_q"][rec["person"], start_q]
    away_p = np.where(rec["transfer_in"], ps["transfer"]["out_of_state_share"],
                      np.where(four, ps["out_of_state_share"]["4yr"], ps["out_of_state_share"]["2yr"]))
    away = rng.random(n_rec) < away_p
    st = np.where(away, (home + rng.integers(1, world.S, n_rec)) % world.S, home)
    inst = _pick_institution(rng, st, four, inst_state, inst_4yr)
    # a lateral transfer goes to another 4-year college than the one left
    lateral = four[left]
    inst[moved[lateral]] = _pick_institution(rng, st[moved[lateral]], four[moved[lateral]], inst_state, inst_4yr,
                                             exclude=inst[left[lateral]])
    st = inst_state[inst]

    # Programs: one per record at its level; a transfer keeps its major where the new level offers it.
    offered = {lv: np.array([g["cip"] for g in progs if name in g["levels"]], dtype=object) for name, lv in _LEVEL.items()}
    cip = np.empty(n_rec, dtype=object)
    for lv, codes in offered.items():
        mm = rec["level"] == lv
        cip[mm] = codes[rng.integers(0, len(codes), int(mm.sum()))]
    keep = np.isin(cip[left], offered[_LEVEL["bachelor"]])
    cip[moved[keep]] = cip[left[keep]]

    # Enrolled terms, a stop-out gap inside some records.
    rows = np.repeat(np.arange(n_rec), rec["terms"])
    i = np.arange(len(rows)) - np.repeat(np.cumsum(rec["terms"]) - rec["terms"], rec["terms"])
    g = rec["g0"][rows] + i + np.where(i >= rec["gap_after"][rows], rec["gap"][rows], 0)
    term_q = 2 * g + 2
    person_row = rec["person"][rows]
    death = P["death_q"][person_row]
    keep = (term_q >= 0) & (term_q < T) & ((death < 0) | (term_q < death))
    enroll = {
        "student": rows[keep], "person": person_row[keep], "institution": inst[rows[keep]],
        "academic_year": (y0 + g[keep] // 2).astype(np.int16), "term": np.where(g[keep] % 2 == 1, "spring", "fall"),
        "term_q": term_q[keep],
    }

    # Completions at the end of the last term: mid-May after a spring term, mid-December after a fall one.
    last = rec["g0"] + rec["terms"] - 1 + rec["gap"]
    last_ay = y0 + last // 2
    award = np.where(last % 2 == 1,
                     (last_ay + 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]") + 134,
                     (last_ay - 1970).astype("datetime64[Y]").astype("datetime64[D]") + 348)
    award_q = cal.quarter_of_date(award)
    d = P["death_q"][rec["person"]]
    earned = rec["done"] & (award < world.reference_date) & (award_q < T) & ((d < 0) | (d >= award_q))
    c = np.flatnonzero(earned & (award_q >= 0))
    completion = {"student": c, "person": rec["person"][c], "institution": inst[c],
                  "academic_year": last_ay[c].astype(np.int16), "award_date": award[c], "level": rec["level"][c],
                  "award_q": award_q[c]}

    # Earnings premium from the quarter after each award (one earned before the window counts throughout).
    e = np.flatnonzero(earned)
    prem = np.array([ps["credential_premium"][name] for name in _LEVEL])
    after = np.arange(T)[None, :] > award_q[e][:, None]
    np.multiply.at(multiplier, (rec["person"][e],), np.where(after, np.exp(prem[rec["level"][e]])[:, None], 1.0))

    students = {"person": rec["person"], "institution": inst, "level": rec["level"], "cip": cip,
                "full_time": rec["full_time"], "away": st != home, "path": rec["path"],
                "transfer_in": rec["transfer_in"], "stop_out_terms": rec["gap"], "completes": rec["done"]}
    return students, enroll, completion
