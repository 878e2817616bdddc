"""Jobs and earnings: a quarterly labor-market simulation, vectorized over people.

The loop runs over quarters (tens of iterations), never over people or rows.
Each quarter: retirements and interstate moves end jobs, the non-employed find
jobs, some workers take second jobs, establishments close, and jobs separate.
Earnings are then computed for every job-quarter in one pass.
"""

import numpy as np

from . import _reference as ref

__all__ = ["simulate_jobs", "wage_rows", "REASONS"]

# Separation reason codes
CENSORED, LAYOFF, CLOSED, QUIT, DISCHARGE, LEFT = 0, 1, 2, 3, 4, 5
REASONS = {LAYOFF: "lack_of_work", CLOSED: "employer_closed", QUIT: "quit", DISCHARGE: "discharge"}


class _Jobs:
    """Growable column store for job spells."""

    FIELDS = {"person": np.int64, "employer": np.int64, "sector": np.int64, "wstate": np.int64,
              "start": np.int64, "end": np.int64, "kind": np.int8, "reason": np.int8, "effect": np.float64}

    def __init__(self, capacity):
        self.n = 0
        self.cols = {k: np.empty(capacity, dtype=t) for k, t in self.FIELDS.items()}

    def add(self, **values):
        m = len(values["person"])
        if self.n + m > len(self.cols["person"]):
            cap = max(2 * len(self.cols["person"]), self.n + m)
            for k, v in self.cols.items():
                grown = np.empty(cap, dtype=v.dtype)
                grown[: self.n] = v[: self.n]
                self.cols[k] = grown
        ids = np.arange(self.n, self.n + m)
        for k, v in values.items():
            self.cols[k][ids] = v
        self.n += m
        return ids

    def end(self, ids, q, reason):
        ids = ids[ids >= 0]
        self.cols["end"][ids] = q
        self.cols["reason"][ids] = reason

    def finish(self):
        return {k: v[: self.n].copy() for k, v in self.cols.items()}


class EmployerSampler:
    """Draws an active establishment in a (state, sector) cell, weighted by size."""

    def __init__(self, world):
        E = world.employers
        self.K, self.S = world.K, world.S
        self.group = E["state"] * self.K + E["sector"]
        self.order = np.argsort(self.group, kind="stable")
        self.sorted_group = self.group[self.order]
        self.size = E["size"][self.order]
        self.birth, self.death = E["birth_q"][self.order], E["death_q"][self.order]
        self._by_quarter = {}

    def at(self, q):
        """The active establishments' sampling tables in quarter ``q``: ``(total, key)``.

        The same for every partition of the world, so they are kept; nothing here changes
        per call, so partitions may share one sampler, even from threads.
        """
        if q not in self._by_quarter:
            active = (self.birth <= q) & ((self.death < 0) | (self.death > q))
            w = self.size * active
            G = self.S * self.K
            total = np.bincount(self.sorted_group, weights=w, minlength=G)
            before = np.concatenate([[0.0], np.cumsum(total)[:-1]])
            cum = np.cumsum(w) - before[self.sorted_group]
            with np.errstate(invalid="ignore", divide="ignore"):
                key = self.sorted_group + np.where(total[self.sorted_group] > 0, cum / total[self.sorted_group], 0.0)
            self._by_quarter[q] = total, key
        return self._by_quarter[q]

    def draw(self, tables, state, sector, rng):
        total, key = tables
        g = state * self.K + sector
        empty = total[g] <= 0
        if empty.any():
            # No active establishment in that sector of that state: take the state's largest open sector.
            by_state = total.reshape(self.S, self.K)
            g[empty] = state[empty] * self.K + by_state[state[empty]].argmax(axis=1)
        u = rng.random(len(g)) * (1 - 1e-12) + 1e-12
        # searched in ascending order, each search starts where the last one ended (same result)
        at = g + u
        ascending = np.argsort(at)
        pos = np.empty(len(at), dtype=np.int64)
        pos[ascending] = np.searchsorted(key, at[ascending], side="left")
        return self.order[np.minimum(pos, len(self.order) - 1)]


def _commute_tables(world):
    geo = world.geo
    C = len(geo.county_fips)
    L = max(1, max(len(d) for d in geo.commute_dest))
    dest = np.full((C, L), -1, dtype=np.int64)
    share = np.zeros((C, L))
    scale = world.params["labor"]["cross_border_commute_scale"]
    for c in range(C):
        k = len(geo.commute_dest[c])
        dest[c, :k] = geo.commute_dest[c]
        share[c, :k] = geo.commute_share[c] * scale
    return dest, np.cumsum(share, axis=1)


def simulate_jobs(P, *, rng, world):
    """Simulate job spells for the people in ``P`` (from :func:`make_people`).

    Returns a dict of job arrays: person (row index into P), employer (index
    into ``world.employers``, -1 out of region), sector, wstate (state index of
    the job, -1 out of region), start and end quarter (inclusive), kind (0 main,
    1 second job), reason (separation code) and a match effect on log earnings.
    """
    p, T, ind, E = world.params, world.T, world.ind, world.employers
    lab, rec = p["labor"], p["recession"]
    n = len(P["person_id"])
    sampler = world.employer_sampler
    c_dest, c_cum = _commute_tables(world)
    sector_cum = np.cumsum(ind.share_by_education, axis=1)
    edu_find = np.array([lab["find_rate_by_education"][e] for e in ref.EDUCATION])
    layoff_share = np.where(world.hit_sector, rec["layoff_share"], ind.layoff)
    jobs = _Jobs(capacity=max(16, n * 6))
    main = np.full(n, -1, dtype=np.int64)
    second = np.full(n, -1, dtype=np.int64)
    retired = np.zeros(n, dtype=bool)
    last_quit_q = np.full(n, -10, dtype=np.int64)
    last_sector = np.full(n, -1, dtype=np.int64)      # sector of the person's last main job
    education = P["education"]

    def hire(who, q, kind):
        """Start jobs for ``who``: main jobs where ``kind`` is 0, second jobs where 1; return their ids."""
        m = len(who)
        if m == 0:
            return np.empty(0, dtype=np.int64)
        home = P["county_q"][who, q]
        u = rng.random(m)
        j = (u[:, None] >= c_cum[home]).sum(axis=1)
        commute = j < c_cum.shape[1]
        commute &= u < c_cum[home, -1]
        dest_c = np.where(commute, c_dest[home, np.minimum(j, c_cum.shape[1] - 1)], -2)
        out = dest_c == -1
        wstate = np.where(commute & ~out, world.geo.county_state[np.maximum(dest_c, 0)], P["state_q"][who, q])
        sector = (rng.random(m)[:, None] >= sector_cum[education[who]]).sum(axis=1)
        sector = np.minimum(sector, world.K - 1)
        # a new main job stays in the sector of the last one at a configured rate
        stays = (kind == 0) & (last_sector[who] >= 0) & (rng.random(m) < lab["same_sector_rate"])
        sector[stays] = last_sector[who[stays]]
        emp = np.full(m, -1, dtype=np.int64)
        inside = ~out
        emp[inside] = sampler.draw(sampler.at(q), wstate[inside], sector[inside], rng)
        sector = np.where(inside, E["sector"][np.maximum(emp, 0)], sector)
        eff = np.where(inside, E["effect"][np.maximum(emp, 0)], rng.normal(0, p["earnings"]["employer_sd"], m))
        eff = eff + rng.normal(0, 0.08, m)
        last_sector[who[kind == 0]] = sector[kind == 0]
        return jobs.add(person=who, employer=emp, sector=sector, wstate=np.where(out, -1, wstate),
                        start=np.full(m, q), end=np.full(m, -1), kind=kind,
                        reason=np.zeros(m, dtype=np.int8), effect=eff)

    age_by_q = np.ascontiguousarray(P["age"].T)      # one contiguous row per quarter
    state_by_q = np.ascontiguousarray(P["state_q"].T)
    alive_by_q = (P["death_q"] < 0) | (np.arange(T)[:, None] <= P["death_q"])
    may_work_by_q = alive_by_q & ~P["never_works"] & (age_by_q >= lab["start_work_age"])
    moving_by_q = (P["move_q"] == np.arange(T)[:, None])
    moving_by_q[1:] &= state_by_q[1:] != state_by_q[:-1]
    moving_by_q[0] = False
    for q in range(T):
        age = age_by_q[q]
        lf = may_work_by_q[q] & ~retired
        # Retirement, and interstate moves, end jobs at the end of the previous quarter.
        retiring = lf & (age >= 62) & (rng.random(n) < lab["retire_rate_after_62"])
        retired |= retiring
        lf &= ~retiring
        moving = moving_by_q[q]
        for who, reason in ((retiring, LEFT), (moving, QUIT)):
            jobs.end(main[who], q - 1, reason)
            jobs.end(second[who], q - 1, reason)
            main[who] = -1
            second[who] = -1
        last_quit_q[moving] = q - 1

        # Hires. In the first quarter, fill jobs to roughly their steady state.
        searching = np.flatnonzero(lf & (main < 0))
        if q == 0:
            rate = np.full(len(searching), 0.8)
        else:
            rate = lab["find_rate"] * edu_find[education[searching]]
            rate = rate * np.where(last_quit_q[searching] == q - 1, 2.0, 1.0)
            if world.recession[q]:
                rate = rate * rec["find_multiplier"]
        a = age[searching]
        rate = rate * np.where(a < 20, 0.6, 1.0) * np.where(a >= 55, 0.7, 1.0) * np.where(a >= 65, 0.4, 1.0)
        hired = searching[rng.random(len(searching)) < np.minimum(rate, 0.95)]

        # Second jobs start (the newly hired too) and end; both kinds of hire in one call.
        employed = main >= 0
        employed[hired] = True
        cand = np.flatnonzero(lf & employed & (second < 0))
        starting = cand[rng.random(len(cand)) < lab["second_job_start_rate"]]
        ids = hire(np.concatenate([hired, starting]), q,
                   np.repeat(np.array([0, 1], dtype=np.int8), [len(hired), len(starting)]))
        main[hired], second[starting] = ids[:len(hired)], ids[len(hired):]

        # Deaths and establishment closures end jobs in this quarter.
        dying = P["death_q"] == q
        for held in (main, second):
            jobs.end(held[dying], q, LEFT)
            held[dying] = -1
            has = np.flatnonzero(held >= 0)
            emp = jobs.cols["employer"][held[has]]
            closing = has[(emp >= 0) & (E["death_q"][np.maximum(emp, 0)] == q)]
            jobs.end(held[closing], q, CLOSED)
            held[closing] = -1

        # Separations at the end of the quarter.
        has = np.flatnonzero(main >= 0)
        j = main[has]
        sector = jobs.cols["sector"][j]
        rate = ind.separation[sector].copy()
        rate *= np.where(jobs.cols["start"][j] == q, 1.6, 1.0)
        rate *= np.where(age[has] < 25, 1.5, 1.0)
        if world.recession[q]:
            rate *= np.where(world.hit_sector[sector], rec["hit_sector_separation_multiplier"], rec["separation_multiplier"])
        sep = rng.random(len(has)) < np.minimum(rate, 0.9)
        who, j, sector = has[sep], j[sep], sector[sep]
        u = rng.random(len(who))
        lay = layoff_share[sector]
        disc = lab["discharge_share_of_separations"]
        reason = np.where(u < lay, LAYOFF, np.where(u < lay + disc, DISCHARGE, QUIT))
        jobs.cols["end"][j] = q
        jobs.cols["reason"][j] = reason
        main[who] = -1
        last_quit_q[who[reason == QUIT]] = q

        has2 = np.flatnonzero(second >= 0)
        ending = has2[rng.random(len(has2)) > lab["second_job_keep_rate"]]
        jobs.end(second[ending], q, QUIT)
        second[ending] = -1

    out = jobs.finish()
    open_ = out["end"] < 0
    out["end"][open_] = T - 1
    out["reason"][open_] = CENSORED
    return out


def wage_rows(J, P, *, rng, world):
    """Expand job spells to job-quarter rows with earnings before program effects.

    Returns (job index per row, quarter per row, earnings per row as float64).
    """
    p, ind = world.params, world.ind
    er, rec = p["earnings"], p["recession"]
    dur = J["end"] - J["start"] + 1
    job = np.repeat(np.arange(len(dur)), dur)
    first_row = np.repeat(np.cumsum(dur) - dur, dur)
    q = J["start"][job] + (np.arange(len(job)) - first_row)
    person = J["person"][job]
    edu_prem = np.array([er["education_premium"][e] for e in ref.EDUCATION])
    race_gap = np.array([er["race_gap"].get(r, 0.0) for r in np.asarray(list(p["person"]["race_ethnicity"]))])
    age = P["age"].ravel()[person * world.T + q]
    # the person-level terms summed once per person (same operations, same order, same bits)
    personal = er["base_log_quarterly"] + edu_prem[P["education"]] + P["potential"]
    lw = (personal[person]
          + ind.wage[J["sector"][job]] + J["effect"][job]
          - er["age_curvature"] * (np.clip(age, 16, 80) - er["age_peak"]) ** 2
          + np.asarray(er["season"])[q % 4]
          + er["female_gap"] * P["female"][person] + race_gap[P["race"][person]]
          + rng.normal(0, er["quarter_noise_sd"], len(job)))
    w = np.exp(lw)
    lo = er["partial_quarter_min"]
    starting = (q == J["start"][job]) & (q > 0)
    ending = (q == J["end"][job]) & (J["reason"][job] != CENSORED)
    w *= np.where(starting, rng.uniform(lo, 1, len(job)), 1.0)
    w *= np.where(ending, rng.uniform(lo, 1, len(job)), 1.0)
    w *= np.where(J["kind"][job] == 1, er["second_job_share"], 1.0)
    hit = world.recession[q] & world.hit_sector[J["sector"][job]]
    w *= np.where(hit, rec["hit_sector_earnings_multiplier"], 1.0)
    return job, q, w
