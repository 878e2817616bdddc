"""Finding datasets and opening them: ``data_root``, ``ensure_dataset``, ``connect``."""

import os
from pathlib import Path

import duckdb

from ._database import LEARNER_DB, TRUTH_DB
from ._dataset import (DEFAULT_SEED, MANIFEST, data_root, dataset_path, is_current, read_manifest,
                       recover_interrupted)
from ._errors import DatasetNotFoundError, OutputError
from ._schema import LEARNER_TABLES, tables

__all__ = ["DEFAULT_SEED", "data_root", "dataset_path", "ensure_dataset", "connect", "load_table", "manifest"]


def manifest(dataset):
    """The manifest of a complete dataset, or raise :class:`DatasetNotFoundError`."""
    return read_manifest(dataset)


def ensure_dataset(profile="default", *, seed=DEFAULT_SEED, data_root=None, truth=True, progress=False):
    """Return the dataset folder for (profile, seed), generating it first if it is missing or stale.

    A dataset made by an older generator version is regenerated in place (the old one stays until the
    new one is complete); if that folder cannot be written, :class:`OutputError` says so.
    """
    path = dataset_path(profile, seed=seed, data_root=data_root)
    recover_interrupted(path)
    if not is_current(path):
        from ._generate import generate  # here, not at the top: opening a dataset that exists never needs it

        stale = (path / MANIFEST).exists()
        try:
            generate(profile, seed=seed, out=path, truth=truth, overwrite=path.exists(), progress=progress)
        except OutputError as exc:
            if not stale:
                raise
            raise OutputError(f"the dataset at {path} was made by an older generator and cannot be replaced "
                              f"there ({exc}); ask whoever manages it to run `statelab-data generate "
                              f"--profile {profile} --seed {seed} --overwrite`") from None
    return path


def _resolve(dataset, profile, seed, data_root):
    if dataset is not None:
        manifest(dataset)
        return Path(dataset)
    return ensure_dataset(profile, seed=seed, data_root=data_root)


def connect(dataset=None, *, profile="default", seed=DEFAULT_SEED, data_root=None, truth=False):
    """Open a dataset for analysis.

    Returns an in-memory DuckDB workspace with the dataset attached read-only
    as catalog ``statelab`` and on the search path: ``FROM ui_wage`` reads the
    agency tables, ``FROM hashed.ui_wage`` the hashed-PII variant, and
    ``CREATE TABLE`` writes to the workspace, never to the source. With
    ``truth=True`` the hidden truth database is attached as ``truth``.

    With ``STATELAB_BACKEND=postgres`` (a class's shared database, see
    :mod:`synthetic_data._postgres`) the dataset arguments are ignored and the
    connection is to ``$STATELAB_DATABASE_URL`` as the user's own role.
    """
    if os.environ.get("STATELAB_BACKEND", "duckdb").lower() == "postgres":
        # the class's shared database: this user's role, their own schema first on the search path
        from ._postgres import connect_postgres

        return connect_postgres()
    path = _resolve(dataset, profile, seed, data_root)
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")  # slow queries otherwise leave widgets in executed notebooks
    con.execute(f"SET file_search_path = '{_quote(path)}'")      # for profiles whose tables are views over Parquet
    con.execute(f"ATTACH '{_quote(path / LEARNER_DB)}' AS statelab (READ_ONLY)")
    con.execute("SET search_path = 'memory.main,statelab.main'")
    # `hashed.ui_wage` should work as written in lessons: mirror the attached schema by views.
    con.execute("CREATE SCHEMA hashed")
    for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'statelab' "
                               "AND schema_name = 'hashed' ORDER BY table_name").fetchall():
        con.execute(f"CREATE VIEW hashed.{name} AS SELECT * FROM statelab.hashed.{name}")
    if truth:
        tdb = path / TRUTH_DB
        if not tdb.exists():
            raise DatasetNotFoundError(f"the dataset at {path} was generated without truth tables")
        con.execute(f"ATTACH '{_quote(tdb)}' AS truth (READ_ONLY)")
    return con


def _quote(p):
    return str(p).replace("'", "''")


def load_table(name, dataset=None, *, profile="default", seed=DEFAULT_SEED, data_root=None):
    """Read one table into a pandas DataFrame (truth tables need ``truth`` on disk)."""
    t = tables()[name] if name in tables() else None
    if t is None:
        raise KeyError(f"unknown table {name!r}; learner tables are: {', '.join(LEARNER_TABLES)}")
    path = _resolve(dataset, profile, seed, data_root)
    folder = path / ("truth" if t.audience == "truth" else "parquet") / name
    if not folder.exists():
        raise DatasetNotFoundError(f"table {name!r} is not in the dataset at {path}")
    import pyarrow.parquet as pq
    return pq.read_table(str(folder)).to_pandas()
