"""The small layer every Data Labs module shares: argument checks, scalar SQL helpers and the age bands.

Private to :mod:`statelab.datalabs`: the unit modules (person index, error estimates, truth checks, business
index, pipelines, equity, story, action plan) import from here instead of from each other's private names, so a
module can change its insides without breaking another. The document header the units 1-9 share is a template
file, ``templates/_header.md.j2``, included by every deliverable's template.
"""

from __future__ import annotations

import functools
import os
import secrets
import stat
from pathlib import Path

import numpy as np
import pandas as pd

from .tracks import get_track

__all__ = [
    "AGE_BANDS",
    "UNIT_GROUPS",
    "age_band_sql",
    "check_name",
    "check_track",
    "components",
    "has_catalog",
    "quiet",
    "require_truth",
    "rounded",
    "scalar",
    "table_exists",
    "temp_file",
    "write_atomic",
    "unit_group_sql",
]

#: Age bands used for equity breakdowns: age on 1 January 2020, from the year of birth.
AGE_BANDS: tuple[str, ...] = ("under 25", "25-44", "45-54", "55 and over")


def age_band_sql(dob: str) -> str:
    """Portable SQL giving the :data:`AGE_BANDS` label for a date-of-birth column (``'unknown'`` if NULL)."""
    age = f"(2020 - EXTRACT(YEAR FROM {dob}))"
    return (f"CASE WHEN {dob} IS NULL THEN 'unknown' WHEN {age} < 25 THEN 'under 25' "
            f"WHEN {age} < 45 THEN '25-44' WHEN {age} < 55 THEN '45-54' ELSE '55 and over' END")


#: Groups an MPI identity unit can be counted in (``None``: all units), as SQL on the unit's alias ``{u}``.
UNIT_GROUPS = {
    None: "'all'",
    "sex": "COALESCE({u}.sex, 'unknown')",
    "age_band": None,  # filled by age_band_sql
    "source_table": "{u}.source_table",
    "state_fips": "{u}.state_fips",
}


def unit_group_sql(by, alias: str) -> str:
    """SQL for the :data:`UNIT_GROUPS` group ``by`` of the identity unit ``alias``; a bad ``by`` is quoted."""
    if by not in UNIT_GROUPS:
        raise ValueError(f"by must be one of {list(UNIT_GROUPS)}, got {by!r}")
    if by == "age_band":
        return age_band_sql(f"{alias}.dob")
    return UNIT_GROUPS[by].format(u=alias)


def check_name(value, what: str) -> str:
    """``value`` if it is a plain SQL identifier (it is pasted into SQL), else a ``ValueError`` quoting it."""
    if not isinstance(value, str) or not value.replace("_", "").isalnum():
        raise ValueError(f"{what} must be a simple SQL identifier (letters, digits, _), got {value!r}")
    return value


def check_track(track) -> str:
    """``track`` if it names a case track (:data:`statelab.datalabs.tracks.TRACK_NAMES`); the error lists them."""
    return get_track(track).name


def scalar(con, sql: str):
    """The first column of the first row of a query."""
    return con.sql(sql).fetchall()[0][0]


def table_exists(con, name: str) -> bool:
    """True when the workspace holds a table or view called ``name``."""
    return bool(scalar(con, f"SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '{name}'"))


def has_catalog(con, name: str) -> bool:
    """True when a database called ``name`` (such as ``truth``) is attached to ``con``."""
    rows = con.sql("SELECT database_name FROM duckdb_databases()").fetchall()
    return any(r[0] == name for r in rows)


def require_truth(con) -> None:
    """Raise a ``ValueError`` saying how to attach the truth, unless it is attached (instructor tools)."""
    if not has_catalog(con, "truth"):
        raise ValueError(
            "this is an instructor/test tool: it needs the hidden truth, so open the connection with "
            "sd.connect(..., truth=True); learner notebooks never do"
        )


def quiet(func):
    """Run ``func(con, ...)`` with DuckDB's progress bar off, restoring the caller's setting afterwards.

    In a notebook DuckDB draws a progress widget for slow queries; it would clutter the executed book.
    """

    @functools.wraps(func)
    def wrapper(con, *args, **kwargs):
        try:
            old = con.sql("SELECT current_setting('enable_progress_bar')").fetchall()[0][0]
        except AttributeError:  # not a connection object: let func report it
            return func(con, *args, **kwargs)
        con.execute("SET enable_progress_bar = false")
        try:
            return func(con, *args, **kwargs)
        finally:
            con.execute(f"SET enable_progress_bar = {'true' if old else 'false'}")

    return wrapper


def rounded(df: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A copy of ``df`` with its float columns rounded, for a deliverable's tables."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].round(digits)
    return out


def components(node_ids: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label (smallest member id) for each node id, by union-find.

    Linked pairs ``(a[i], b[i])`` are closed transitively: both the person index and the business index give
    each connected group of records one key this way.
    """
    ids = np.asarray(node_ids, dtype=np.int64)
    index = {int(v): i for i, v in enumerate(ids)}
    parent = np.arange(len(ids))

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    for x, y in zip(a, b):
        rx, ry = find(index[int(x)]), find(index[int(y)])
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    roots = np.array([find(i) for i in range(len(ids))], dtype=np.int64)
    return ids[roots]


def temp_file(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path``, to be renamed over it: its descriptor (open for writing) and name.

    ``tempfile.mkstemp`` would make a file only its owner can read (0600), and renaming it over ``path`` would
    shut everybody else out of the document, teammates included. This file gets what ``open(path, "w")`` gives
    (0666 less the umask) and, in a shared folder (group-writable with the set-gid bit, as a team's folder on
    the course hub), read and write for the folder's group too, so that teammates can read, edit and replace it.
    """
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        try:
            folder = os.stat(path.parent).st_mode
            if folder & stat.S_ISGID and folder & stat.S_IWGRP:
                os.chmod(tmp, stat.S_IMODE(os.fstat(fd).st_mode) | stat.S_IRGRP | stat.S_IWGRP)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        return fd, str(tmp)
    raise FileExistsError(f"no free temporary file name beside {str(path)!r}")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a :func:`temp_file` renamed over it: a reader sees the old file or the
    new one, never half of one, and nothing is left behind if the write fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
