"""Generation speed and memory, as ratios against baselines run in this same script.

Reports, in one run:
- wage rows per second per core for the chosen profile(s);
- generation time / the time pyarrow takes merely to write the same tables (target <= 2x), in wall
  seconds and in this process's CPU seconds (steadier when other jobs share the machine), and the
  share of it spent simulating the records before any file is written; the
  baseline rewrites each partition's files right after the partition is generated, so that a
  change in the machine's load during a long run reaches both sides alike;
- speedup of the wage table alone over a straightforward row-by-row Faker generator of the same
  fields (target >= 100x), both on one core;
- peak memory of each profile's generation (a separate process per profile, so peaks do not mix).

Usage: python benchmarks/bench_generate.py [--profiles tiny default] [--faker-rows 20000] [--repeats 3]
Machines are shared and noisy: read the ratios, not the seconds. With --repeats N each
measurement runs N times (a fresh process per profile run) and the table shows the median
ratio with its range; the one-time import of pandas, which pyarrow pulls in on its first
conversion of Python strings, and of Faker, used for the name pools, happen before the clock starts.
"""

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _child(profile, out):
    """Time each phase of a one-process generation and print JSON (run as a subprocess)."""
    import pyarrow.parquet as pq

    import synthetic_data as sd
    from synthetic_data import _generate as g
    from synthetic_data._database import EmployerQuarter, build_databases
    from synthetic_data._global_tables import global_tables

    import faker  # noqa: F401  (one-time library imports, not generation work)
    import pandas  # noqa: F401

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    params = sd.load_profile(profile)
    scratch = Path(tempfile.mkdtemp(dir=out.parent))
    write = {"s": 0.0, "cpu_s": 0.0}
    simulate = {"cpu_s": 0.0}
    build_partition = g.build_partition

    def timed_build(world, k):
        """The simulation alone (records as Arrow tables in memory), inside the timed generation."""
        c0 = time.process_time()
        try:
            return build_partition(world, k)
        finally:
            simulate["cpu_s"] += time.process_time() - c0

    g.build_partition = timed_build

    def baseline(files):
        """The baseline: pyarrow writing the same tables, one file at a time (reading is not timed).

        Run right after each partition, so that both sides see the same machine and the
        memory stays bounded for the large profile.
        """
        for f in files:
            t = pq.read_table(f)
            t0, c0 = time.perf_counter(), time.process_time()
            pq.write_table(t, scratch / "baseline.parquet", compression="zstd")
            write["s"] += time.perf_counter() - t0
            write["cpu_s"] += time.process_time() - c0
            del t
            (scratch / "baseline.parquet").unlink()

    tables_s = tables_cpu_s = 0.0
    rows = {}
    t0, c0 = time.perf_counter(), time.process_time()
    # the parsed parameters, as generate() hands them to every partition: the profile file is
    # read and parsed once per dataset, not once per partition
    world = g._world(params, sd.DEFAULT_SEED)
    eq = EmployerQuarter(world)
    for k in range(params["size"]["partitions"]):
        counts, partial = g.write_partition(params, sd.DEFAULT_SEED, k, out)
        for name, n in counts.items():
            rows[name] = rows.get(name, 0) + n
        eq.add(partial)
        tables_s, tables_cpu_s = tables_s + time.perf_counter() - t0, tables_cpu_s + time.process_time() - c0
        baseline(sorted(out.rglob(f"part-{k:05d}.parquet")))
        t0, c0 = time.perf_counter(), time.process_time()
    # as generate() does after the last partition: drop the sampler, then the accumulator once its
    # table is built, and each table once written
    world.release_partition_caches()
    march = eq.march_employment()
    eq_table = eq.table()
    del eq
    region = global_tables(world, march_employment=march) | {"employer_quarter": eq_table}
    del eq_table
    names = list(region)
    for name in names:
        g._write(region.pop(name), g._folder(out, name) / "part-00000.parquet")
    tables_s, tables_cpu_s = tables_s + time.perf_counter() - t0, tables_cpu_s + time.process_time() - c0
    baseline([g._folder(out, name) / "part-00000.parquet" for name in names])
    write_s, write_cpu_s = write["s"], write["cpu_s"]
    shutil.rmtree(scratch)
    t0 = time.perf_counter()
    build_databases(out, salt=params["linkage"]["hash_salt"], mode=params.get("output", {}).get("database", "tables"))
    db_s = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"profile": profile, "tables_s": tables_s, "databases_s": db_s, "pyarrow_write_s": write_s,
                      "tables_cpu_s": tables_cpu_s, "pyarrow_write_cpu_s": write_cpu_s,
                      "simulate_cpu_s": simulate["cpu_s"],
                      "wage_rows": rows["ui_wage"], "peak_rss_mb": peak_mb}))


def _wage_table_rows_per_second(profile="default"):
    """Only the wage table: people, job spells, earnings, reported identities, as an Arrow table.

    Partition 0 runs first, untimed, to warm up the libraries; the rest are timed in CPU seconds.
    """
    import numpy as np

    import synthetic_data as sd
    from synthetic_data._columns import Take, arrow_table
    from synthetic_data._labor import simulate_jobs, wage_rows
    from synthetic_data._partition import _identity
    from synthetic_data._people import make_people
    from synthetic_data._rng import stream
    from synthetic_data._world import World

    params = sd.load_profile(profile)
    world = World(params, sd.DEFAULT_SEED)     # set-up, like Faker() in the baseline
    rows, c0 = 0, None
    for k in range(params["size"]["partitions"]):
        if k == 1:
            rows, c0 = 0, time.process_time()
        first, n = world.partition_people(k)
        P = make_people(first, n, rng=stream(1, "people", k), world=world)
        J = simulate_jobs(P, rng=stream(1, "jobs", k), world=world)
        job, q, w, _ = wage_rows(J, P, rng=stream(1, "wages", k), world=world)
        keep = J["employer"][job] >= 0
        ssn, fn, ln, _ = _identity(P, J["person"], J["start"], world.params["noise"]["ui_wage"], stream(1, "n", k))
        E = world.employers
        t = arrow_table("ui_wage", {
            "record_id": np.arange(keep.sum()), "state_fips": Take(world.geo.state_fips.astype(object), J["wstate"][job[keep]]),
            "ssn": Take(ssn, job[keep]), "first_name": Take(fn, job[keep]), "middle_initial": Take(fn, job[keep]),
            "last_name": Take(ln, job[keep]), "ui_account": Take(E["ui_account"].astype(object), J["employer"][job[keep]]),
            "reporting_unit": Take(np.array(["00001"], dtype=object), np.zeros(keep.sum())),
            "ein": Take(E["reported_ein"].astype(object), J["employer"][job[keep]]), "year": world.cal.year(q[keep]),
            "quarter": world.cal.quarter(q[keep]), "wages": np.round(w[keep]).astype(np.int64)})
        rows += t.num_rows
    return rows / (time.process_time() - c0)


def _faker_rows_per_second(n):
    """The baseline: one wage row at a time with Faker and the random module."""
    import random

    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(0)
    rnd = random.Random(0)
    fake.first_name(), fake.last_name()    # warm-up, as for the generator
    t0 = time.process_time()
    rows = []
    for _ in range(n):
        rows.append({"ssn": f"9{rnd.randint(0, 99_999_999):08d}", "first_name": fake.first_name(),
                     "last_name": fake.last_name(), "ui_account": f"17{rnd.randint(0, 99_999_999):08d}",
                     "year": 2014 + rnd.randint(0, 11), "quarter": rnd.randint(1, 4),
                     "wages": int(rnd.lognormvariate(9.2, 0.8))})
    return n / (time.process_time() - t0)


def _run_child(profile, out):
    proc = subprocess.run([sys.executable, __file__, "--child", profile, str(out)], capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"benchmark child for {profile} failed:\n{proc.stderr}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    r["wage_rows_per_s_per_core"] = r["wage_rows"] / r["tables_s"]
    r["generate_over_pyarrow_write"] = r["tables_s"] / r["pyarrow_write_s"]
    # CPU seconds of this one process: what other jobs on a shared machine disturb least
    r["generate_over_pyarrow_write_cpu"] = r["tables_cpu_s"] / r["pyarrow_write_cpu_s"]
    # the part of it spent simulating the records, before any file is written
    r["simulate_over_pyarrow_write_cpu"] = r["simulate_cpu_s"] / r["pyarrow_write_cpu_s"]
    r["with_databases_over_pyarrow_write"] = (r["tables_s"] + r["databases_s"]) / r["pyarrow_write_s"]
    return r


def _spread(values, fmt):
    """Median, and the range when there is more than one value."""
    values = sorted(values)
    median = statistics.median(values)
    return format(median, fmt) if len(values) == 1 else f"{median:{fmt}} ({values[0]:{fmt}}-{values[-1]:{fmt}})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", nargs="+", default=["tiny", "default"])
    ap.add_argument("--faker-rows", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=1, help="runs of each measurement (median and range reported)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child(*args.child)
    speedups, runs = [], {profile: [] for profile in args.profiles}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            # the two sides of the Faker comparison run back to back, so both see the same machine
            faker_rps = _faker_rows_per_second(args.faker_rows)
            wage_rps = _wage_table_rows_per_second()
            speedups.append({"faker_rows_per_s": faker_rps, "wage_table_rows_per_s": wage_rps,
                             "speedup": wage_rps / faker_rps})
            for profile in args.profiles:
                out = Path(tmp) / f"{Path(profile).stem}-{i}"
                runs[profile].append(_run_child(profile, out))
                shutil.rmtree(out)
    print(f"wage table alone (same fields) over row-by-row Faker, one core, CPU seconds: "
          f"{_spread([s['speedup'] for s in speedups], '.0f')}x "
          f"({_spread([s['wage_table_rows_per_s'] for s in speedups], ',.0f')} vs "
          f"{_spread([s['faker_rows_per_s'] for s in speedups], ',.0f')} rows/s)")
    print("gen/write: all tables generated and written, over pyarrow writing the same tables, in wall and in CPU"
          " seconds; +db adds building the DuckDB files (wall)")
    for profile, rs in runs.items():
        print(f"{profile}: {rs[0]['wage_rows']:,} wage rows, "
              f"{_spread([r['wage_rows_per_s_per_core'] for r in rs], ',.0f')} wage rows/s on one core; "
              f"gen/write {_spread([r['generate_over_pyarrow_write'] for r in rs], '.2f')}, "
              f"CPU {_spread([r['generate_over_pyarrow_write_cpu'] for r in rs], '.2f')} "
              f"(simulating alone {_spread([r['simulate_over_pyarrow_write_cpu'] for r in rs], '.2f')}), "
              f"+db {_spread([r['with_databases_over_pyarrow_write'] for r in rs], '.1f')}; "
              f"peak {_spread([r['peak_rss_mb'] for r in rs], '.0f')} MB")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "generate.json").write_text(json.dumps({"faker": speedups, "profiles": runs}, indent=2))


if __name__ == "__main__":
    main()
