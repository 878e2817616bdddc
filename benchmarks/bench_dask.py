"""Generation on a local Dask cluster: scaling from 1 to 2 workers, output identical.

Runs, in this one script and on the same profile and seed:
- the ordinary single-process generation (the baseline and the reference bytes);
- a local Dask cluster with 1 worker, then with 2 workers;
and reports each run's wall time, the speedup of 2 Dask workers over 1, the overhead of Dask
over the single process, and whether every Parquet file is byte-identical to the baseline.

Database building and validation are serial steps after the partitions; they are left out
(``validate=False``, and only the partition + table phase differs between runs anyway), so the
ratio measures the part Dask distributes.

Usage: python benchmarks/bench_dask.py [--profile large] [--seed N]
The ``large`` profile (about 10^8 wage rows) takes tens of minutes per run on 2 cores and
needs about 15 GB of free disk for the three copies; ``default`` is a quick check.
Machines are shared and noisy: read the ratios, not the seconds.
"""

import argparse
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _digest(root):
    h = hashlib.sha256()
    for p in sorted(Path(root).rglob("*.parquet")):
        h.update(str(p.relative_to(root)).encode())
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _run(profile, seed, out, **kw):
    import synthetic_data as sd

    t0 = time.perf_counter()
    sd.generate(profile, seed=seed, out=out, validate=False, **kw)
    return time.perf_counter() - t0


def main(argv=None):
    import synthetic_data as sd

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="large")
    ap.add_argument("--seed", type=int, default=sd.DEFAULT_SEED)
    ap.add_argument("--keep", action="store_true", help="keep the generated folders")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    runs = {}
    try:
        for label, kw in [("one process", dict(workers=1)),
                          ("dask, 1 worker", dict(workers=1, dask="local")),
                          ("dask, 2 workers", dict(workers=2, dask="local"))]:
            out = work / label.replace(",", "").replace(" ", "-")
            seconds = _run(args.profile, args.seed, out, **kw)
            runs[label] = {"seconds": seconds, "digest": _digest(out)}
            print(f"{label:>16}: {seconds:8.1f} s", flush=True)
            if label != "one process" and not args.keep:
                shutil.rmtree(out)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    ref = runs["one process"]["digest"]
    result = {
        "profile": args.profile,
        "seed": args.seed,
        "seconds": {k: v["seconds"] for k, v in runs.items()},
        "identical_to_one_process": {k: v["digest"] == ref for k, v in runs.items()},
        "dask_speedup_2_over_1_worker": runs["dask, 1 worker"]["seconds"] / runs["dask, 2 workers"]["seconds"],
        "dask_1_worker_over_one_process": runs["dask, 1 worker"]["seconds"] / runs["one process"]["seconds"],
    }
    print(json.dumps(result, indent=2))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"dask-{args.profile}.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0 if all(result["identical_to_one_process"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
