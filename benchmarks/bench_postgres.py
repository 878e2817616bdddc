"""Loading a dataset into PostgreSQL, as a ratio against a bare COPY of the same rows in this same run.

Reports, in one run on one server:
- baseline: every learner table exported once to CSV (not timed), then loaded with nothing but
  ``CREATE TABLE`` + ``COPY ... FROM STDIN`` of those files (no keys, indexes, comments, ANALYZE);
- ``synthetic_data._postgres.load_postgres``: the course's loader from the Parquet files, with primary
  keys, the lessons' indexes, comments, ANALYZE and the atomic schema swap;
- rows/s of each and the ratio loader / bare COPY (target: within 2x).
The two are run alternately ``--repeats`` times and the fastest of each is used (2 shared cores).

The server is the one at ``--dsn`` or, by default, a throwaway one started here with initdb in a
temporary folder (as ``postgres`` when run as root), on a unix socket only, stopped at the end.

Usage: python benchmarks/bench_postgres.py [--profile tiny|default] [--data-root DIR] [--repeats 2] [--dsn DSN] [--jobs 2]
Results: benchmarks/results/postgres-<profile>.json
"""

import argparse
import contextlib
import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

import synthetic_data as sd
from synthetic_data._postgres import _PG_TYPES, load_postgres
from synthetic_data._schema import tables

HERE = Path(__file__).resolve().parent


def _pg_bin(name):
    return shutil.which(name) or (sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [None])[-1]


@contextlib.contextmanager
def _server():
    base = Path(tempfile.mkdtemp(prefix="statelab-bench-pg-", dir="/tmp"))
    run_as, user = [], pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
        run_as, user = ["runuser", "-u", "postgres", "--"], "postgres"
    data = base / "data"
    try:
        subprocess.run([*run_as, _pg_bin("initdb"), "-D", str(data), "-U", user, "--auth-local=trust", "-E", "UTF8",
                        "--locale=C"], check=True, capture_output=True)
        subprocess.run([*run_as, _pg_bin("pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o",
                        f"-c listen_addresses='' -p 55999 -c unix_socket_directories={base}", "start"],
                       check=True, capture_output=True)
        yield f"host={base} port=55999 user={user} dbname=postgres"
    finally:
        subprocess.run([*run_as, _pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _export_csv(dataset, folder):
    files = {}
    for name, t in tables().items():
        if t.audience == "truth":
            continue
        src = dataset / "parquet" / name
        out = folder / f"{name}.csv"
        pacsv.write_csv(ds.dataset(str(src), format="parquet").to_table(columns=t.column_names), str(out),
                        pacsv.WriteOptions(include_header=False))
        files[name] = out
    return files


def _bare_copy(dsn, files):
    rows = 0
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS bare CASCADE")
        cur.execute("CREATE SCHEMA bare")
        for name, path in files.items():
            t = tables()[name]
            cur.execute(f"CREATE TABLE bare.{name} (" + ", ".join(f"{c.name} {_PG_TYPES[c.type]}" for c in t.columns)
                        + ")")
            with cur.copy(f"COPY bare.{name} FROM STDIN (FORMAT csv)") as copy, open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    copy.write(chunk)
            cur.execute(f"SELECT count(*) FROM bare.{name}")
            rows += cur.fetchone()[0]
        conn.commit()
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="default")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--dsn", default=None)
    ap.add_argument("--jobs", type=int, default=2, help="connections the loader uses at once")
    args = ap.parse_args()
    dataset = sd.ensure_dataset(args.profile, data_root=args.data_root)
    with tempfile.TemporaryDirectory() as tmp, (contextlib.nullcontext(args.dsn) if args.dsn else _server()) as dsn:
        files = _export_csv(dataset, Path(tmp))
        bare, loader, rows = [], [], 0
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            rows = _bare_copy(dsn, files)
            bare.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            counts = load_postgres(dataset, dsn, jobs=args.jobs)
            loader.append(time.perf_counter() - t0)
            assert sum(counts.values()) == rows, "the loader and the bare COPY loaded different row counts"
    result = {
        "profile": args.profile, "rows": rows, "repeats": args.repeats, "jobs": args.jobs,
        "bare_copy_s": round(min(bare), 2), "loader_s": round(min(loader), 2),
        "bare_copy_rows_per_s": round(rows / min(bare)), "loader_rows_per_s": round(rows / min(loader)),
        "ratio_loader_over_bare_copy": round(min(loader) / min(bare), 2), "target_ratio": 2.0,
        "all_bare_copy_s": [round(x, 2) for x in bare], "all_loader_s": [round(x, 2) for x in loader],
    }
    out = HERE / "results" / f"postgres-{args.profile}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
