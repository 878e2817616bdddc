"""Generate a whole dataset: partitions in parallel, then global tables, databases, codebook.

Everything is written under a temporary sibling folder and renamed into place
at the end, so a reader sees either the previous complete dataset or the new
complete one, never a half-written one.
"""

import contextlib
import errno
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ._codebook import write_codebook
from ._database import EmployerQuarter, build_databases
from ._dataset import DEFAULT_SEED, GENERATOR_VERSION, MANIFEST, dataset_path, prepare_target, publish
from ._errors import OutputError
from ._global_tables import global_tables
from ._partition import build_partition
from ._profiles import load_profile
from ._rng import check_seed
from ._schema import tables
from ._validate import validate_dataset
from ._world import World

__all__ = ["generate", "write_partition"]

_PARQUET = dict(compression="zstd", use_dictionary=True, write_statistics=True)


def _write(table, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, str(path), **_PARQUET)


def _folder(root, name):
    return root / ("truth" if tables()[name].audience == "truth" else "parquet") / name


_WORLDS = {}


def _world(profile, seed):
    """The world of (profile, seed), built once per process for all the partitions it runs.

    ``profile`` is a profile's name or its parameters as :func:`generate` parsed them (workers get
    the parameters, so the profile is read once). Keyed by the parameters, not the name: a profile
    file edited between two runs in one process (a notebook) gives a new world, never a stale one.
    """
    params = profile if isinstance(profile, dict) else load_profile(profile)
    key = (json.dumps(params, sort_keys=True, default=str), seed)
    if key not in _WORLDS:
        while len(_WORLDS) >= 2:
            del _WORLDS[next(iter(_WORLDS))]
        _WORLDS[key] = World(params, seed)
    return _WORLDS[key]


def _split(t, key):
    """``(value, rows)`` for each value of ``t[key]`` in sorted order.

    Tables come out of a partition sorted by their folder key, so each value is one run of
    rows and a zero-copy slice; an unsorted table falls back to a filter per value.
    """
    runs = pc.run_end_encode(t.column(key)).chunks
    if len(runs) == 1:
        values = runs[0].values.to_pylist()
        if values == sorted(set(values)):
            ends = runs[0].run_ends.to_pylist()
            return [(v, t.slice(a, b - a)) for v, a, b in zip(values, [0] + ends[:-1], ends)]
    return [(v, t.filter(pc.equal(t.column(key), v))) for v in sorted(set(pc.unique(t.column(key)).to_pylist()))]


def write_partition(profile, seed, k, root, truth=True):
    """Build partition ``k`` and write its files under ``root``; ``profile``: a name or parsed parameters.

    Returns ``(row counts per table, employer-quarter partial)``; the partial is a few
    arrays per employer and quarter, small enough to send back from a worker process.
    """
    world = _world(profile, seed)
    counts = {}
    built = build_partition(world, k)
    partial = built.pop("_employer_quarter_partial")
    for name, t in built.items():
        if tables()[name].audience == "truth" and not truth:
            continue
        key = tables()[name].partition_by
        if key:
            for value, part in _split(t, key):
                _write(part, _folder(root, name) / value / f"part-{k:05d}.parquet")
        elif t.num_rows or k == 0:
            _write(t, _folder(root, name) / f"part-{k:05d}.parquet")
        counts[name] = t.num_rows
    return counts, partial


def generate(profile="default", *, seed=None, out=None, workers=None, truth=True, overwrite=False,
             progress=False, validate=True, dask=None):
    """Generate a synthetic linked dataset.

    Parameters
    ----------
    profile : str
        ``"tiny"``, ``"default"`` or ``"large"`` (see ``available_profiles()``), or the
        path of a ``.toml`` profile of one's own that ``extends`` one of them.
    seed : int, optional
        Root seed; the same seed and profile give byte-identical Parquet files
        whatever ``workers`` is. Defaults to ``DEFAULT_SEED``.
    out : path-like, optional
        Output folder; defaults to ``dataset_path(profile, seed=seed)``.
    workers : int, optional
        Processes for partitions; ``None`` uses every core, ``1`` runs in-process.
        With ``dask="local"``, the number of workers of the local cluster.
    truth : bool
        Write the hidden truth tables (``truth/``). Learner-only deployments
        such as Binder pass ``False``.
    overwrite : bool
        Replace an existing dataset at ``out``. The old one stays in place
        until the new one is complete.
    progress : bool
        Show a progress bar.
    validate : bool
        Check schemas and invariants before the dataset is published.
    dask : str, optional
        Run the partitions on Dask instead of local processes: ``"local"`` starts a
        local cluster of ``workers`` single-threaded worker processes; any other value
        is a scheduler address (``"tcp://host:8786"``) of a running cluster, whose
        workers must see ``out``'s parent folder at the same path (a shared file
        system). The files are byte-identical to a single-process run. Needs the
        ``dask`` extra (``pip install "statelab[dask]"``).

    Returns
    -------
    pathlib.Path
        The dataset folder.
    """
    seed = DEFAULT_SEED if seed is None else check_seed(seed)
    params = load_profile(profile)
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
    out, tmp = prepare_target(out if out is not None else dataset_path(profile, seed=seed), overwrite)
    n_parts = params["size"]["partitions"]
    workers = min(workers or os.cpu_count() or 1, n_parts)
    try:
        counts = {}
        world = _world(params, seed)       # in-process partitions (workers=1) reuse it
        eq = EmployerQuarter(world)
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=n_parts + 2, desc=f"generating {profile}", unit="part")

        def add(result):
            c, partial = result
            for name, v in c.items():
                counts[name] = counts.get(name, 0) + v
            eq.add(partial)
            if bar:
                bar.update()

        if workers == 1 and dask is None:
            for k in range(n_parts):
                add(write_partition(params, seed, k, tmp, truth))
        else:
            with _executor(workers, dask) as pool:
                futures = [pool.submit(write_partition, params, seed, k, tmp, truth) for k in range(n_parts)]
                for f in as_completed(futures):
                    add(f.result())
        world.release_partition_caches()      # the in-process partitions' sampler, not needed any more
        march = eq.march_employment()
        eq = eq.table()
        _write(eq, _folder(tmp, "employer_quarter") / "part-00000.parquet")
        counts["employer_quarter"] = eq.num_rows
        eq = None                              # written: free its 8 M rows (large) before the global tables
        for name, t in global_tables(world, march_employment=march).items():
            if tables()[name].audience == "truth" and not truth:
                continue
            _write(t, _folder(tmp, name) / "part-00000.parquet")
            counts[name] = t.num_rows
        build_databases(tmp, salt=params["linkage"]["hash_salt"], truth=truth,
                        mode=params.get("output", {}).get("database", "tables"))
        if bar:
            bar.update()
        write_codebook(tmp)
        if validate:
            validate_dataset(tmp, truth=truth)
        manifest = {
            "profile": params["name"], "seed": seed, "generator_version": GENERATOR_VERSION, "truth": truth,
            "reference_date": params["window"]["reference_date"],
            "window": {"start_year": params["window"]["start_year"], "quarters": params["window"]["quarters"]},
            "states": params["region"]["states"], "rows": dict(sorted(counts.items())),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if bar:
            bar.update()
            bar.close()
        publish(tmp, out)
    except (OSError, duckdb.IOException, duckdb.TransactionException) as exc:
        # pyarrow and DuckDB report a full disk as their own errors, often without an errno
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OutputError):
            raise
        if getattr(exc, "errno", None) == errno.ENOSPC or "No space left on device" in str(exc):
            raise OutputError(f"disk full while writing the dataset for {out}; nothing was changed there") from None
        if not isinstance(exc, OSError) and "Could not write" not in str(exc):
            raise
        raise OutputError(f"could not write the dataset for {out}: {exc}; nothing was changed there") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


@contextlib.contextmanager
def _executor(workers, dask):
    """A ``concurrent.futures`` executor: local processes, or a Dask cluster.

    Each partition is a pure function of (profile, seed, k) that writes its own files,
    so where it runs cannot change a byte of the output.
    """
    if dask is None:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            yield pool
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError('dask=... needs Dask: pip install "statelab[dask]"') from None
    if not isinstance(dask, str) or not dask:
        raise ValueError(f'dask must be "local" or a scheduler address such as "tcp://host:8786", got {dask!r}')
    if dask == "local":
        import dask as dask_

        # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_ set, which turns off glibc's
        # dynamic mmap threshold: every large numpy temporary is then mapped and unmapped afresh,
        # and a `large` partition takes about 1.5x as long. Keep the rest (one BLAS/OpenMP thread).
        environ = {k: v for k, v in dask_.config.get("distributed.nanny.pre-spawn-environ").items()
                   if k != "MALLOC_TRIM_THRESHOLD_"}
        # One thread per worker: partitions are numpy-heavy and hold the GIL between calls.
        with dask_.config.set({"distributed.nanny.pre-spawn-environ": environ}), \
                LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                             dashboard_address=":0") as cluster, Client(cluster) as client:
            yield client.get_executor()
    else:
        with Client(dask) as client:
            yield client.get_executor()
