"""Jobs and earnings: a quarterly labor-market simulation, vectorized over people.

The loop runs over quarters (tens of iterations), never over people or rows. It starts
``labor.burn_in_quarters`` before the window, so the first quarter written looks like any
other. Each quarter: retirements and interstate moves end jobs; people whose next start is
scheduled (a job-to-job move, a recall, the end of an unemployment spell) start it; others out
of work find jobs at an entry rate; some workers take second jobs; establishments close; jobs
separate. A separation schedules what comes next: most quits move straight to another job;
a temporary layoff is recalled to the same employer after some weeks; a permanent job loser is
out of work for a drawn number of weeks (or leaves the labor force). Days within quarters are
kept, so unemployment spells have lengths in weeks (what UI durations measure) and monthly
employment has a meaning (QCEW counts jobs on the 12th of each month). Earnings are then
computed for every job-quarter in one pass, on a nominal wage level that grows over time.
"""

import numpy as np

from . import _reference as ref
from ._rng import stream

__all__ = ["simulate_jobs", "wage_rows", "month_flags", "REASONS"]

# Separation reason codes
CENSORED, LAYOFF, CLOSED, QUIT, DISCHARGE, LEFT = 0, 1, 2, 3, 4, 5
REASONS = {LAYOFF: "lack_of_work", CLOSED: "employer_closed", QUIT: "quit", DISCHARGE: "discharge"}
_OPEN = 1 << 30          # end quarter of a job still held (quarters before the window are negative)


class _Jobs:
    """Growable column store for job spells."""

    FIELDS = {"person": np.int64, "employer": np.int64, "sector": np.int64, "wstate": np.int64,
              "start": np.int64, "end": np.int64, "start_day": np.int16, "end_day": np.int16,
              "kind": np.int8, "reason": np.int8, "effect": np.float64, "temp": bool, "recall": bool}

    def __init__(self, capacity):
        self.n = 0
        self.cols = {k: np.empty(capacity, dtype=t) for k, t in self.FIELDS.items()}

    def add(self, **values):
        """Append ``len(values["person"])`` jobs (other fields: arrays, or one value for all); return their ids."""
        m = len(values["person"])
        if self.n + m > len(self.cols["person"]):
            cap = max(2 * len(self.cols["person"]), self.n + m)
            for k, v in self.cols.items():
                grown = np.empty(cap, dtype=v.dtype)
                grown[: self.n] = v[: self.n]
                self.cols[k] = grown
        rows = slice(self.n, self.n + m)
        for k, v in values.items():
            self.cols[k][rows] = v
        self.n += m
        return np.arange(rows.start, rows.stop)

    def end(self, ids, q, reason, day):
        """End jobs ``ids`` (entries -1 are skipped) in quarter ``q`` on ``day`` (one, or one per id)."""
        keep = ids >= 0
        ids = ids[keep]
        self.cols["end"][ids] = q
        self.cols["reason"][ids] = reason
        self.cols["end_day"][ids] = day if np.ndim(day) == 0 else day[keep]

    def finish(self):
        return {k: v[: self.n].copy() for k, v in self.cols.items()}


class EmployerSampler:
    """Draws an active establishment in a (state, sector) cell, weighted by its size that quarter.

    Establishments grow and shrink: each one's hiring weight is its planned size times the
    exponential of an AR(1) shock by quarter, so some expand while others contract, as in BLS
    Business Employment Dynamics (gross job gains and losses well above the net change).
    """

    def __init__(self, world):
        E = world.employers
        self.K, self.S = world.K, world.S
        self.group = E["state"] * self.K + E["sector"]
        self.order = np.argsort(self.group, kind="stable")
        self.sorted_group = self.group[self.order]
        self.size = E["size"][self.order]
        self.birth, self.death = E["birth_q"][self.order], E["death_q"][self.order]
        g = world.params["employers"]
        self.rho, self.sd, self.seed = g["growth_persistence"], g["growth_sd"], world.seed
        self.first_q = -int(world.params["labor"]["burn_in_quarters"])
        self._z_q, self._z = None, None
        self._by_quarter, self._change = {}, {}

    def _shock(self, q):
        """Log growth shocks of every establishment (in sorted order) in quarter ``q``, computed forward."""
        if self._z_q is None or q < self._z_q:
            eps = stream(self.seed, "employer_growth", 0).standard_normal(len(self.size))
            self._z_q, self._z = self.first_q, eps * self.sd / np.sqrt(1 - self.rho ** 2)
            self._change[self.first_q] = np.zeros(len(eps), dtype=np.float32)
        while self._z_q < q:
            self._z_q += 1
            eps = stream(self.seed, "employer_growth", self._z_q - self.first_q).standard_normal(len(self.size))
            z = self.rho * self._z + self.sd * eps
            change = np.empty(len(z), dtype=np.float32)
            change[self.order] = z - self._z
            self._change[self._z_q] = change
            self._z = z
        return self._z

    def change(self, q):
        """Each establishment's change in log hiring weight from ``q - 1`` to ``q`` (in the employers' order)."""
        self.at(q)
        return self._change[q]

    def at(self, q):
        """The active establishments' sampling tables in quarter ``q``: ``(total, key)``.

        The same for every partition of the world, so they are kept (partitions run their
        quarters in order, so each quarter's shocks are drawn once); partitions may share one
        sampler, but not from threads.
        """
        if q not in self._by_quarter:
            active = (self.birth <= q) & (self.death > q)
            w = self.size * np.exp(self._shock(q)) * active
            G = self.S * self.K
            total = np.bincount(self.sorted_group, weights=w, minlength=G)
            before = np.concatenate([[0.0], np.cumsum(total)[:-1]])
            cum = np.cumsum(w) - before[self.sorted_group]
            with np.errstate(invalid="ignore", divide="ignore"):
                key = self.sorted_group + np.where(total[self.sorted_group] > 0, cum / total[self.sorted_group], 0.0)
            self._by_quarter[q] = total, key
        return self._by_quarter[q]

    def draw(self, tables, state, sector, rng, need=None):
        """Establishments for jobs in ``state`` and ``sector`` from the quarter's ``tables``.

        A uniform number is drawn for every job; where ``need`` (a mask) is False the caller
        discards the result, so none is looked up there (0 is returned).
        """
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
        if need is not None:
            at = at[need]
        ascending = np.argsort(at)
        pos = np.empty(len(at), dtype=np.int64)
        pos[ascending] = np.searchsorted(key, at[ascending], side="left")
        found = self.order[np.minimum(pos, len(self.order) - 1)]
        if need is None:
            return found
        out = np.zeros(len(g), dtype=np.int64)
        out[need] = found
        return out


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


def _weeks(rng, m, median, sigma):
    """Log-normal spell lengths in weeks, at least one."""
    return np.maximum(1.0, median * np.exp(sigma * rng.standard_normal(m)))


def simulate_jobs(P, *, rng, world):
    """Simulate job spells for the people in ``P`` (from :func:`make_people`).

    Returns a dict of job arrays: person (row index into P), employer (index into
    ``world.employers``, -1 out of region), sector, wstate (state index of the job, -1 out of
    region), start and end quarter (inclusive, inside the window: a job begun before it starts
    in quarter 0 with ``start_day`` -1), start_day and end_day (day of the quarter, from 0),
    kind (0 main, 1 second job), reason (separation code), a match effect on log earnings,
    temp (laid off with a recall expected) and recall (a return to the employer of a temporary
    layoff).
    """
    p, T, ind, E, cal = world.params, world.T, world.ind, world.employers, world.cal
    lab, pan = p["labor"], p["pandemic"]
    B = int(lab["burn_in_quarters"])
    n = len(P["person_id"])
    sampler = world.employer_sampler
    c_dest, c_cum = _commute_tables(world)
    sector_cum = np.cumsum(ind.share_by_education, axis=1)
    edu = P["education"]
    edu_find = np.array([lab["find_rate_by_education"][e] for e in ref.EDUCATION])
    edu_weeks = np.array([lab["unemployment_weeks_by_education"][e] for e in ref.EDUCATION])
    # by the state of the job (the last entry: out of region, index -1)
    state_weeks = np.array([lab["unemployment_weeks_by_state"].get(f, 1.0) for f in world.geo.state_fips] + [1.0])
    # internal quarter i is window quarter i - B; day numbers are days since 1970-01-01
    qstart = cal.start_date(np.arange(-B, T + 2)).astype(np.int64)
    qlen = np.diff(qstart)
    shock = np.zeros(B + T, dtype=bool)                 # quarters whose job losers search longer
    s0 = cal.index(pan["start"]) + B
    shock[max(s0 + 1, 0):max(s0 + 1 + pan["long_search_quarters"], 0)] = True
    slack = np.zeros(B + T, dtype=bool)                 # quarters of slow hiring
    slack[max(s0 + 1, 0):max(s0 + 1 + pan["slow_hiring_quarters"], 0)] = True
    hot = np.zeros(B + T, dtype=bool)                   # quarters of a hot labor market
    h0 = cal.index(pan["hot_market_start"]) + B
    hot[max(h0, 0):max(h0 + pan["hot_market_quarters"], 0)] = True
    after = np.zeros(B + T, dtype=bool)                 # quarters of elevated layoffs after the spring
    after[max(s0 + 2, 0):max(s0 + 2 + pan["layoffs_after_quarters"], 0)] = True
    pan_rate = np.array([pan["layoff_rate_by_sector"].get(c, pan["layoff_rate_other"]) for c in ind.code])
    layoff_share = ind.layoff
    growth_response = p["employers"]["growth_separation_response"]

    jobs = _Jobs(capacity=max(16, n * 7))
    main = np.full(n, -1, dtype=np.int64)
    second = np.full(n, -1, dtype=np.int64)
    retired = np.zeros(n, dtype=bool)
    last_quit_q = np.full(n, -10, dtype=np.int64)
    last_sector = np.full(n, -1, dtype=np.int64)      # sector of the person's last main job
    sched_q = np.full(n, -1, dtype=np.int64)          # internal quarter of a scheduled start
    sched_day = np.zeros(n, dtype=np.int64)
    recall_job = np.full(n, -1, dtype=np.int64)       # the job a temporary layoff returns to

    def hire(who, i, kind, day, back=None):
        """Start jobs for ``who`` in internal quarter ``i`` on day ``day``: main where ``kind`` is 0, second where 1."""
        m = len(who)
        if m == 0:
            return np.empty(0, dtype=np.int64)
        q = i - B
        wq = max(q, 0)
        # (take and flat positions instead of fancy indexing: the same values, for less overhead
        # in a function called a few times a quarter)
        home = county_by_q[wq].take(who)
        u = rng.random(m)
        L = c_cum.shape[1]
        cum = c_cum.take(home, axis=0)
        j = np.count_nonzero(u[:, None] >= cum, axis=1)
        commute = j < L
        commute &= u < cum[:, -1]
        dest_c = np.where(commute, c_dest.take(home * L + np.minimum(j, L - 1)), -2)
        out = dest_c == -1
        wstate = np.where(commute & ~out, world.geo.county_state.take(np.maximum(dest_c, 0)),
                          state_by_q[wq].take(who))
        sector = np.count_nonzero(rng.random(m)[:, None] >= sector_cum.take(edu.take(who), axis=0), axis=1)
        sector = np.minimum(sector, world.K - 1)
        # a new main job stays in the sector of the last one at a configured rate
        stays = (kind == 0) & (last_sector.take(who) >= 0) & (rng.random(m) < lab["same_sector_rate"])
        sector[stays] = last_sector[who[stays]]
        recalled = None
        if back is not None:
            # a recall returns to the same job, if its establishment is still open
            old = back
            e_old = jobs.cols["employer"][np.maximum(old, 0)]
            recalled = (old >= 0) & ((e_old < 0) | ((E["birth_q"][np.maximum(e_old, 0)] <= q)
                                                    & (E["death_q"][np.maximum(e_old, 0)] > q)))
        emp = np.full(m, -1, dtype=np.int64)
        inside = ~out
        # (the recalled draw an establishment too, to keep the random stream, but need none)
        emp[inside] = sampler.draw(sampler.at(q), wstate[inside], sector[inside], rng,
                                   need=None if recalled is None else ~recalled[inside])
        e_row = np.maximum(emp, 0)
        sector = np.where(inside, E["sector"].take(e_row), sector)
        eff = np.where(inside, E["effect"].take(e_row), rng.normal(0, p["earnings"]["employer_sd"], m))
        eff = eff + rng.normal(0, 0.08, m)
        if recalled is not None:
            for col, new in (("employer", emp), ("sector", sector), ("wstate", wstate), ("effect", eff)):
                new[recalled] = jobs.cols[col][old[recalled]]
            out = np.where(recalled, jobs.cols["wstate"][np.maximum(old, 0)] < 0, out)
        last_sector[who[kind == 0]] = sector[kind == 0]
        return jobs.add(person=who, employer=emp, sector=sector, wstate=np.where(out, -1, wstate),
                        start=q, end=_OPEN, start_day=day, end_day=-1, kind=kind, reason=0, effect=eff,
                        temp=False, recall=False if recalled is None else recalled)

    def schedule(who, day_abs, back):
        """Set the next start of ``who`` to the absolute days ``day_abs`` (beyond the window: never)."""
        i = np.searchsorted(qstart, day_abs, side="right") - 1
        sched_q[who] = np.where(i < B + T, i, B + T)
        sched_day[who] = day_abs - qstart[np.minimum(i, len(qstart) - 1)]
        recall_job[who] = back

    age0 = P["age"][:, 0]
    age_by_q = np.ascontiguousarray(P["age"].T)
    county_by_q = np.ascontiguousarray(P["county_q"].T)
    works = ~P["never_works"]
    # day numbers of deaths (NaT, for the living, is never read: only the dying are looked up)
    death_days = P["death_date"].astype("datetime64[D]").astype(np.int64)
    state_by_q = np.ascontiguousarray(P["state_q"].T)
    alive_by_q = (P["death_q"] < 0) | (np.arange(T)[:, None] <= P["death_q"])
    moving_by_q = (P["move_q"] == np.arange(T)[:, None])
    moving_by_q[1:] &= state_by_q[1:] != state_by_q[:-1]
    moving_by_q[0] = False
    # how exposed each person is to the 2020 layoffs: low earners lost jobs first
    earn_z = (P["potential"] / p["earnings"]["person_sd"]
              + np.array([p["earnings"]["education_premium"][e] for e in ref.EDUCATION])[edu] / 0.3)
    pan_tilt = np.exp(-pan["low_earner_tilt"] * earn_z)
    pan_tilt /= pan_tilt.mean() if n else 1.0
    layoff_tilt = np.exp(-lab["layoff_earnings_tilt"] * earn_z)
    layoff_tilt /= layoff_tilt.mean() if n else 1.0

    for i in range(B + T):
        q = i - B
        wq = max(q, 0)
        age = age_by_q[q] if q >= 0 else age0 + q / 4
        alive = alive_by_q[wq] if q >= 0 else np.ones(n, dtype=bool)
        lf = alive & works & (age >= lab["start_work_age"]) & ~retired
        # Retirement, and interstate moves, end jobs at the end of the previous quarter.
        retiring = lf & (age >= 62) & (rng.random(n) < lab["retire_rate_after_62"])
        retired |= retiring
        lf &= ~retiring
        moving = moving_by_q[q] if q >= 0 else np.zeros(n, dtype=bool)
        for who, reason in ((retiring, LEFT), (moving, QUIT)):
            who = np.flatnonzero(who)
            # on a day of the last quarter worked (exits at quarter ends would bias monthly counts);
            # a day is drawn for everyone, used for those leaving
            last_day = (rng.random(n)[who] * (qlen[i - 1] if i else 90)).astype(np.int64)
            for held in (main, second):
                h = held[who]
                j = np.maximum(h, 0)
                ending = (h >= 0) & ((jobs.cols["start"][j] < q - 1) | (jobs.cols["start_day"][j] <= last_day))
                jobs.end(h[ending], q - 1, reason, last_day[ending])
                jobs.end(h[~ending], q - 1, reason, qlen[i - 1] - 1 if i else 89)
            main[who] = -1
            second[who] = -1
            sched_q[who] = -1
        np.putmask(last_quit_q, moving, i - 1)

        # Scheduled starts: job-to-job moves, recalls, and the end of unemployment spells.
        due = np.flatnonzero((sched_q == i) & lf & (main < 0))
        np.putmask(sched_q, sched_q <= i, -1)
        ids = hire(due, i, np.zeros(len(due), dtype=np.int8), sched_day[due], back=recall_job[due])
        main[due] = ids
        if hot[i]:
            # a hot market: some of those waiting for a later start find a job now
            sooner = np.flatnonzero((sched_q > i) & lf & (main < 0) & (recall_job < 0)
                                    & (rng.random(n) < pan["hot_market_find_rate"]))
            sched_q[sooner] = -1
            main[sooner] = hire(sooner, i, np.zeros(len(sooner), dtype=np.int8),
                                (rng.random(len(sooner)) * qlen[i]).astype(np.int64))
        # Everyone else out of work: entrants, returns to the labor force, quits without a new job.
        searching = np.flatnonzero(lf & (main < 0) & (sched_q < 0))
        rate = lab["entry_rate"] * edu_find[edu[searching]]
        rate = rate * np.where(last_quit_q[searching] == i - 1, lab["quit_search_multiplier"], 1.0)
        if slack[i]:
            rate = rate * pan["hiring_multiplier"]
        a = age[searching]
        rate = rate * np.where(a < 20, 0.6, 1.0) * np.where(a >= 55, 0.7, 1.0) * np.where(a >= 65, 0.4, 1.0)
        hired = searching.compress(rng.random(len(searching)) < np.minimum(rate, 0.95))

        # Second jobs start (the newly hired too) and end; both kinds of hire in one call.
        employed = main >= 0
        employed[hired] = True
        cand = np.flatnonzero(lf & employed & (second < 0))
        starting = cand.compress(rng.random(len(cand)) < lab["second_job_start_rate"])
        both = np.concatenate([hired, starting])
        ids = hire(both, i, np.repeat(np.array([0, 1], dtype=np.int8), [len(hired), len(starting)]),
                   (rng.random(len(both)) * qlen[i]).astype(np.int64))
        main[hired], second[starting] = ids[:len(hired)], ids[len(hired):]

        # Deaths and establishment closures end jobs in this quarter.
        dying = np.flatnonzero(P["death_q"] == q) if q >= 0 else np.empty(0, dtype=np.int64)
        sched_q[dying] = -1
        closed_main = main_before_close = np.empty(0, dtype=np.int64)
        death_day = (death_days[dying] - qstart[i]).clip(0, qlen[i] - 1)

        def first_day(j):
            """The first day worked this quarter in jobs ``j``: the start day if begun this quarter, else 0."""
            j = np.maximum(j, 0)
            return np.where(jobs.cols["start"][j] == q, jobs.cols["start_day"][j], 0)

        for k, held in enumerate((main, second)):
            h = held[dying]
            jobs.end(h, q, LEFT, np.maximum(death_day, first_day(h)))
            held[dying] = -1
            has = np.flatnonzero(held >= 0)
            emp = jobs.cols["employer"][held[has]]
            closing = has[(emp >= 0) & (E["death_q"][np.maximum(emp, 0)] == q)]
            # an establishment closes on one day, the same for all its workers (a hash of its index)
            h = held[closing]
            close_day = jobs.cols["employer"][h] * 2_654_435_761 % qlen[i]
            jobs.end(h, q, CLOSED, np.maximum(close_day, first_day(h)))
            if k == 0:
                closed_main, main_before_close = closing, held[closing]
            held[closing] = -1

        # Separations during the quarter.
        has = np.flatnonzero(main >= 0)
        j = main[has]
        sector = jobs.cols["sector"][j]
        rate = ind.separation[sector].copy()
        rate *= np.where(jobs.cols["start"][j] == q, 1.6, 1.0)
        rate *= np.where(age[has] < 25, 1.5, 1.0)
        # establishments that shrink let people go; those that grow keep them
        emp = jobs.cols["employer"][j]
        change = np.where(emp >= 0, sampler.change(q)[np.maximum(emp, 0)], 0.0)
        rate *= np.exp(-growth_response * change)
        lay = layoff_share[sector]
        u = rng.random(len(has))
        sep = u < np.minimum(rate, 0.9)
        lay = np.clip(lay * layoff_tilt[has], 0, 1)
        reason = np.where(rng.random(len(has)) < lay, LAYOFF,
                          np.where(rng.random(len(has)) < lab["discharge_share_of_separations"], DISCHARGE, QUIT))
        pandemic = np.zeros(len(has), dtype=bool)
        if after[i]:
            # after the spring wave, layoffs stayed high for months (closures, restrictions, reopenings)
            extra = pan["layoff_rate_after"] * pan_rate[sector] / pan_rate.mean() * pan_tilt[has]
            pandemic = ~sep & (rng.random(len(has)) < np.minimum(extra, 0.9))
        # The 2020 layoffs: a share in the second half of March, the rest in April.
        if i in (s0, s0 + 1):
            share = pan["march_share"] if i == s0 else (1 - pan["march_share"]) / (1 - pan["march_share"] * pan_rate[sector])
            pandemic = ~sep & (rng.random(len(has)) < np.minimum(pan_rate[sector] * share * pan_tilt[has], 0.95))
        sep |= pandemic
        reason = np.where(pandemic, LAYOFF, reason)
        started_now = jobs.cols["start"][j] == q
        first_day = np.where(started_now, jobs.cols["start_day"][j], 0)
        day = first_day + (rng.random(len(has)) * (qlen[i] - first_day)).astype(np.int64)
        if i == s0:
            day = np.where(pandemic, np.maximum(qlen[i] - 1 - rng.integers(0, 17, len(has)), first_day), day)
        elif i == s0 + 1:
            day = np.where(pandemic, np.maximum(rng.integers(0, pan["april_days"], len(has)), first_day), day)
        who, j, sector, reason, day, pandemic = (a.compress(sep) for a in (has, j, sector, reason, day, pandemic))
        jobs.cols["end"][j] = q
        jobs.cols["end_day"][j] = day
        jobs.cols["reason"][j] = reason
        main[who] = -1
        sep_abs = qstart[i] + day

        # What comes next. Quits: most move straight to another job, the rest search.
        quit = reason == QUIT
        j2j = quit & (rng.random(len(who)) < lab["job_to_job_share_of_quits"])
        gap = rng.geometric(1 / lab["job_to_job_gap_days_mean"], len(who))
        last_quit_q[who[quit & ~j2j]] = i
        # Layoffs: some are temporary and recalled; the rest search for weeks, or leave the labor force.
        lost = (reason == LAYOFF) | (reason == DISCHARGE)
        temp = (reason == LAYOFF) & (rng.random(len(who)) < np.where(pandemic, pan["temporary_share"],
                                                                     lab["temporary_layoff_share"]))
        recall_weeks = np.where(pandemic, _weeks(rng, len(who), pan["recall_weeks_median"], pan["recall_weeks_sigma"]),
                                _weeks(rng, len(who), lab["recall_weeks_median"], lab["recall_weeks_sigma"])
                                * state_weeks[jobs.cols["wstate"][j]])
        # many permanent job losers start another job within days (JOLTS counts them as layoffs too)
        quick = lost & ~temp & (rng.random(len(who)) < lab["quick_rehire_share_of_layoffs"])
        leave = lost & ~temp & ~quick & (rng.random(len(who)) < lab["leave_labor_force_share"])
        scale = (lab["unemployment_weeks_median"] * edu_weeks[edu[who]] * state_weeks[jobs.cols["wstate"][j]]
                 * np.where(age[who] >= 55, 1.4, 1.0))
        scale = scale * np.where(age[who] < 25, 0.8, 1.0) * np.where(pandemic | shock[i], pan["search_weeks_multiplier"], 1.0)
        search_weeks = _weeks(rng, len(who), 1.0, lab["unemployment_weeks_sigma"]) * scale
        jobs.cols["temp"][j] = temp
        # job-to-job moves starting this quarter begin at once; the others are scheduled
        start_abs = np.where(j2j | quick, sep_abs + gap,
                             sep_abs + 7 * np.where(temp, recall_weeks, search_weeks)).astype(np.int64)
        plan = j2j | (lost & ~leave)
        now = plan & (start_abs < qstart[i + 1])
        ids = hire(who[now], i, np.zeros(int(now.sum()), dtype=np.int8), start_abs[now] - qstart[i],
                   back=np.where(temp[now], j[now], -1))
        main[who[now]] = ids
        later = plan & ~now
        schedule(who[later], start_abs[later], np.where(temp[later], j[later], -1))
        # closures: like a permanent layoff
        if len(closed_main):
            cw = closed_main
            weeks = (_weeks(rng, len(cw), 1.0, lab["unemployment_weeks_sigma"]) * lab["unemployment_weeks_median"]
                     * edu_weeks[edu[cw]] * state_weeks[jobs.cols["wstate"][main_before_close]])
            stay = rng.random(len(cw)) >= lab["leave_labor_force_share"]
            schedule(cw[stay], (qstart[i + 1] - 1 + 7 * weeks[stay]).astype(np.int64), np.full(int(stay.sum()), -1))

        has2 = np.flatnonzero(second >= 0)
        ending = has2[rng.random(len(has2)) > lab["second_job_keep_rate"]]
        j2 = second[ending]
        first_day = np.where(jobs.cols["start"][j2] == q, jobs.cols["start_day"][j2], 0)
        jobs.end(j2, q, QUIT, first_day + (rng.random(len(j2)) * (qlen[i] - first_day)).astype(np.int64))
        second[ending] = -1

    out = jobs.finish()
    open_ = out["end"] == _OPEN
    out["end"][open_] = T - 1
    out["end_day"][open_] = qlen[B + T - 1] - 1
    out["reason"][open_] = CENSORED
    # keep the window: jobs that ended before it are dropped, those begun before it start in quarter 0
    keep = out["end"] >= 0
    out = {k: v[keep] for k, v in out.items()}
    before = out["start"] < 0
    out["start"][before] = 0
    out["start_day"][before] = -1
    return out


def month_flags(J, job, q, world):
    """Bit m set (m = 0, 1, 2) where the job covers the 12th of the quarter's month m (QCEW's reference day)."""
    cal = world.cal
    month0 = cal.month_date(3 * q).astype(np.int64)
    start, end = J["start"][job], J["end"][job]
    sd = J["start_day"][job].astype(np.int64)
    ed = J["end_day"][job].astype(np.int64)
    flags = np.zeros(len(job), dtype=np.int8)
    for m in range(3):
        ref_day = cal.month_date(3 * q + m).astype(np.int64) + 11 - month0     # day of the quarter of the 12th
        began = (q > start) | (sd <= ref_day)
        still = (q < end) | (ed >= ref_day)
        flags |= ((began & still).astype(np.int8) << m)
    return flags


def wage_rows(J, P, *, rng, world):
    """Expand job spells to job-quarter rows with earnings before program effects.

    Returns (job index per row, quarter per row, earnings per row as float64, month flags per row).
    """
    p, ind, cal = world.params, world.ind, world.cal
    er = p["earnings"]
    dur = J["end"] - J["start"] + 1
    job = np.repeat(np.arange(len(dur)), dur)
    first_row = np.repeat(np.cumsum(dur) - dur, dur)
    q = J["start"][job] + (np.arange(len(job)) - first_row)
    person = J["person"][job]
    edu_prem = np.array([er["education_premium"][e] for e in ref.EDUCATION])
    race_gap = np.array([er["race_gap"].get(r, 0.0) for r in np.asarray(list(p["person"]["race_ethnicity"]))])
    age = P["age"].ravel()[person * world.T + q]
    # the person-level terms summed once per person
    personal = er["base_log_quarterly"] + edu_prem[P["education"]] + P["potential"]
    state = np.where(J["wstate"][job] >= 0, J["wstate"][job], P["state_q"].ravel()[person * world.T + q])
    lw = (personal[person]
          + ind.wage[J["sector"][job]] + J["effect"][job]
          - er["age_curvature"] * (np.clip(age, 16, 80) - er["age_peak"]) ** 2
          + world.season[q] + world.wage_level[q] + world.state_wage[state]
          + er["female_gap"] * P["female"][person] + race_gap[P["race"][person]]
          + rng.normal(0, er["quarter_noise_sd"], len(job)))
    w = np.exp(lw)
    # A quarter worked in part pays for the days worked.
    qlen = np.diff(cal.start_date(np.arange(world.T + 1)).astype(np.int64))[q]
    first = np.where((q == J["start"][job]) & (J["start_day"][job] >= 0), J["start_day"][job], 0)
    last = np.where((q == J["end"][job]) & (J["reason"][job] != CENSORED), J["end_day"][job], qlen - 1)
    w *= np.clip((last - first + 1) / qlen, 1 / qlen, 1.0)
    w *= np.where(J["kind"][job] == 1, er["second_job_share"], 1.0)
    return job, q, w, month_flags(J, job, q, world)
