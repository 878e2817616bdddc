"""Peak memory by stage of one partition, in one process: where the memory of a generation goes.

Usage: python benchmarks/mem_stages.py [--profile large] [--partition 0] [--eq]

A thread samples this process's resident set (``/proc/self/statm``) every few milliseconds and
keeps the highest value seen while each stage runs; stages are the World's construction, each
simulation step and table builder that ``build_partition`` calls (wrapped, not changed), and the
Parquet writes. Also reports what the World holds after the partition (arrays by name, MB), and
with ``--eq`` the parent's employer x quarter accumulator of a whole run. Linux only.
"""

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


class Sampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.stage, self.peaks, self.order, self.stop = "start", {}, [], False

    def enter(self, name):
        r = rss_mb()
        self._bump(self.stage, r)
        prev, self.stage = self.stage, name
        self._bump(name, r)
        return prev, r

    def _bump(self, name, r):
        if name not in self.peaks:
            self.order.append(name)
            self.peaks[name] = [r, r, r]             # rss on entry, peak, rss on exit
        self.peaks[name][1] = max(self.peaks[name][1], r)

    def leave(self, prev):
        r = rss_mb()
        self._bump(self.stage, r)
        self.peaks[self.stage][2] = r
        self.stage = prev

    def run(self):
        while not self.stop:
            self._bump(self.stage, rss_mb())
            time.sleep(0.002)


S = Sampler()


def wrap(module, name, label=None):
    f = getattr(module, name)
    calls = [0]

    def inner(*a, **kw):
        calls[0] += 1
        prev, _ = S.enter(f"{label or name} #{calls[0]}")
        try:
            return f(*a, **kw)
        finally:
            S.leave(prev)

    setattr(module, name, inner)


def nbytes(x):
    import numpy as np
    if isinstance(x, np.ndarray):
        return x.nbytes
    if isinstance(x, dict):
        return sum(nbytes(v) for v in x.values())
    if isinstance(x, (tuple, list)):
        return sum(nbytes(v) for v in x)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="large")
    ap.add_argument("--partition", type=int, default=0)
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--eq", action="store_true", help="also build the parent's EmployerQuarter accumulator")
    ap.add_argument("--fill-eq", type=float, default=0.0, metavar="SHARE",
                    help="then fill that share of its cells with made-up counts (0.32 is a full run's) and "
                         "build the employer_quarter table, as the end of a whole run does")
    a = ap.parse_args()

    import faker  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    from synthetic_data import _generate as g
    from synthetic_data import _partition as part
    from synthetic_data import _world
    from synthetic_data._profiles import load_profile

    for name in ("make_people", "simulate_jobs", "wage_rows", "simulate_postsecondary", "simulate_wioa",
                 "simulate_claims", "simulate_assistance", "_identity", "_employer_quarter_partial",
                 "_rows_by_state_quarter", "_grid", "arrow_table"):
        wrap(part, name)
    wrap(_world, "make_employers")
    S.start()
    params = load_profile(a.profile)
    base = rss_mb()
    prev, _ = S.enter("World(params, seed)")
    world = _world.World(params, a.seed)
    S.leave(prev)
    prev, _ = S.enter("world.codes")
    world.codes
    S.leave(prev)
    if a.eq:
        from synthetic_data._database import EmployerQuarter
        prev, _ = S.enter("EmployerQuarter(world)")
        eq = EmployerQuarter(world)
        S.leave(prev)
    prev, _ = S.enter("build_partition (total)")
    built = part.build_partition(world, a.partition)
    S.leave(prev)
    partial = built.pop("_employer_quarter_partial")
    counts = {k: t.num_rows for k, t in built.items()}
    arrow_mb = sum(t.nbytes for t in built.values()) / 2**20
    with tempfile.TemporaryDirectory() as tmp:
        prev, _ = S.enter("write Parquet")
        for name, t in built.items():
            g._write(t, Path(tmp) / f"{name}.parquet")
        S.leave(prev)
    if a.eq:
        prev, _ = S.enter("EmployerQuarter.add")
        eq.add(partial)
        S.leave(prev)
    if a.eq and a.fill_eq:
        import numpy as np
        rng = np.random.default_rng(0)
        n_emp, T = eq.m1.shape
        prev, _ = S.enter("fill EmployerQuarter (made up)")
        for lo in range(0, n_emp, 20_000):
            cells = np.flatnonzero(rng.random((min(20_000, n_emp - lo), T)) < a.fill_eq)
            m = rng.integers(0, 40, (3, len(cells)))
            eq.add({"employer": lo + cells // T, "q": cells % T, "m1": m[0], "m2": m[1], "m3": m[2],
                    "wages": rng.integers(1, 2_000_000, len(cells))})
        S.leave(prev)
        del built, partial
        world.release_partition_caches()
        prev, _ = S.enter("EmployerQuarter.march_employment")
        eq.march_employment()
        S.leave(prev)
        prev, _ = S.enter("EmployerQuarter.table")
        t = eq.table()
        S.leave(prev)
        print(f"employer_quarter: {t.num_rows:,} rows")
    S.stop = True
    people = world.partition_people(a.partition)[1]
    wage_rows = counts["ui_wage"]
    print(f"profile {a.profile}, partition {a.partition}: {people:,} people, {wage_rows:,} ui_wage rows, "
          f"{len(world.employers['ui_account']):,} employers x {world.T} quarters")
    print(f"rss after imports {base:.0f} MB; Arrow tables of the partition {arrow_mb:.0f} MB")
    print(f"{'stage (#call)':34s} {'rss in':>8s} {'peak':>8s} {'rss out':>8s}   MB")
    for name in S.order:
        i, p, o = S.peaks[name]
        if name != "start":
            print(f"{name:34s} {i:8.0f} {p:8.0f} {o:8.0f}")
    print(f"ru_maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    held = {f"employers[{k}]": v.nbytes for k, v in world.employers.items()}
    held["codes"] = sum(b.nbytes + v.nbytes for b, v in world.codes.values()) if isinstance(
        next(iter(world.codes.values())), tuple) else nbytes(world.codes)
    sm = world.__dict__.get("employer_sampler")
    if sm is not None:
        held["sampler._by_quarter"] = nbytes(sm._by_quarter)
        held["sampler._change"] = nbytes(sm._change)
        held["sampler (other arrays)"] = sum(v.nbytes for v in vars(sm).values() if hasattr(v, "nbytes"))
    if a.eq:
        held["EmployerQuarter"] = nbytes([eq.m1, eq.m2, eq.m3, eq.wages])
    print("World holds (MB):", ", ".join(f"{k} {v / 2**20:.1f}" for k, v in
                                         sorted(held.items(), key=lambda kv: -kv[1]) if v > 2**20))


if __name__ == "__main__":
    main()
