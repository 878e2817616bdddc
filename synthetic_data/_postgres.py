"""A shared PostgreSQL classroom database: load a generated dataset, create a class's roles, connect.

Secure enclaves give a class one shared database: read-only source schemas, and one writable
schema per learner or team. This module builds that on PostgreSQL from a generated dataset:

* :func:`load_postgres` bulk-loads every learner table (``COPY`` from the Parquet files) into
  schema ``statelab`` and, when asked, the truth tables into ``truth``; then primary keys, the
  indexes the lessons' joins use, and table/column comments from the codebook. The load goes to
  a staging schema that replaces the old one in a single transaction: a failed load leaves the
  previous data as it was.
* :func:`create_class` creates ``statelab_reader`` (SELECT on ``statelab`` only), a login role and
  a private schema ``ws_<name>`` per learner, and ``statelab_instructor`` (also reads ``truth``).
* :func:`connect_postgres` returns a workspace with the small part of DuckDB's connection API the
  course uses (``con.sql(q).df()``, ``.fetchall()``, ``con.execute(q)``), so notebooks run
  unchanged; :func:`synthetic_data.connect` uses it when ``STATELAB_BACKEND=postgres``.
"""

from __future__ import annotations

import contextlib
import decimal
import io
import os
import re
import secrets

from ._errors import OutputError, StatelabError
from ._schema import tables

__all__ = ["load_postgres", "create_class", "connect_postgres", "role_name", "PostgresWorkspace", "READER_ROLE",
           "INSTRUCTOR_ROLE"]

READER_ROLE = "statelab_reader"
INSTRUCTOR_ROLE = "statelab_instructor"
_PG_TYPES = {"string": "text", "int64": "bigint", "int32": "integer", "int16": "smallint", "int8": "smallint",
             "float64": "double precision", "bool": "boolean", "date": "date"}
#: Indexes for the joins the lessons make (on identifiers), besides each table's primary key.
#: Not indexed: a state-quarter slice of ui_wage (lessons read whole years or states, where a sequential
#: scan wins) and ui_claim_week.claim_id (the first column of its primary key already serves it).
_INDEXES = {
    "ui_wage": [("ssn",), ("ui_account",)],
    "ui_claim": [("ssn",)],
    "tanf": [("head_ssn",)], "snap": [("head_ssn",)], "wioa": [("ssn",)],
    "postsec_enrollment": [("ssn",)], "postsec_completion": [("ssn",)],
    "crosswalk": [("person_id",)],
}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def _psycopg():
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the postgres extra
        raise StatelabError("PostgreSQL support needs psycopg: pip install 'statelab[postgres]'") from None
    return psycopg


def role_name(username):
    """A database role name for a hub user name: lower case, other characters as ``_``, ``u_`` in front
    when it would not start with a letter (``"Ana.Lopez@state"`` -> ``"ana_lopez_state"``)."""
    name = re.sub(r"[^a-z0-9_]", "_", str(username).lower())[:40]
    return name if re.match(r"^[a-z]", name) else f"u_{name}"[:41]


def _ident(name):
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a usable database name (lower-case letters, digits, _; "
                         "starting with a letter; at most 41 characters)")
    return f'"{name}"'


def _literal(text):
    return "'" + str(text).replace("'", "''") + "'"


#: A table whose Parquet files hold more than this many bytes is copied over two connections at once.
_SPLIT_BYTES = 8 * 2**20


def _create_tables(dsn, steps):
    with _psycopg().connect(dsn, autocommit=False) as conn, conn.cursor() as cur:
        for stage in {st.stage for st in steps}:
            cur.execute(f"CREATE SCHEMA {stage}")
        for st in steps:
            t = st.spec
            cur.execute(f"CREATE TABLE {st.table} ("
                        + ", ".join(f"{_ident(c.name)} {_PG_TYPES[c.type]}" + ("" if c.nullable else " NOT NULL")
                                    for c in t.columns) + ")")


def _copy_files(dsn, table, columns, files, batch_rows):
    """COPY the rows of some Parquet files into `table` over one connection; return the row count."""
    import pyarrow.csv as pacsv
    import pyarrow.dataset as ds

    rows = 0
    cols = ", ".join(_ident(c) for c in columns)
    with _psycopg().connect(dsn, autocommit=False) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)") as copy:
            for batch in ds.dataset([str(f) for f in files], format="parquet").to_batches(
                    columns=columns, batch_size=batch_rows):
                buf = io.BytesIO()
                # strings are always quoted, nulls never: COPY then tells NULL from ''
                pacsv.write_csv(batch, buf, pacsv.WriteOptions(include_header=False))
                copy.write(buf.getvalue())
                rows += batch.num_rows
    return rows


def _run_sql(dsn, *statements):
    with _psycopg().connect(dsn, autocommit=False) as conn, conn.cursor() as cur:
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")   # index builds sort in memory
        for sql in statements:
            cur.execute(sql)


class _Step:
    """One table's load: its COPY parts, then its index builds, then ANALYZE."""

    def __init__(self, stage, name, spec, files):
        self.stage, self.name, self.spec, self.files = stage, name, spec, files
        self.table = f"{stage}.{_ident(name)}"
        self.bytes = sum(f.stat().st_size for f in files)
        self.rows = 0
        self.phase = "copy"       # then "index", then "analyze"
        self.waiting = 0          # tasks of the current phase still running

    def copy_tasks(self, batch_rows):
        parts = [self.files[0::2], self.files[1::2]] if self.bytes > _SPLIT_BYTES and len(self.files) > 1 \
            else ([self.files] if self.files else [])
        return [(_copy_files, (self.table, self.spec.column_names, part, batch_rows)) for part in parts]

    def index_tasks(self):
        out = []
        if self.spec.primary_key:
            out.append(f"CREATE UNIQUE INDEX {_ident(f'{self.name}_pkey')} ON {self.table} "
                       f"({', '.join(map(_ident, self.spec.primary_key))})")
        for i, cols in enumerate(_INDEXES.get(self.name, ())):
            out.append(f"CREATE INDEX {_ident(f'{self.name}_ix{i}')} ON {self.table} "
                       f"({', '.join(map(_ident, cols))})")
        return [(_run_sql, (sql,)) for sql in out]


def _drop_stages(dsn, stages):
    with _psycopg().connect(dsn, autocommit=True) as conn:
        for stage in stages:
            conn.execute(f"DROP SCHEMA IF EXISTS {stage} CASCADE")


def _schedule(dsn, steps, jobs, batch_rows, bar):
    """Run every step's COPY parts, index builds and ANALYZE over `jobs` connections.

    Ready work is started biggest table first, so the long pole (the wage table's COPY, then its
    indexes) is never queued behind small tables' work. A table's indexes start when all its
    rows are in; its ANALYZE when its indexes are built (ANALYZE would wait for them anyway).
    """
    import heapq
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    ready, order = [], 0

    def push(step, phase, tasks):
        nonlocal order
        step.phase, step.waiting = phase, len(tasks)
        for fn, args in tasks:
            heapq.heappush(ready, (-step.bytes, order, step, fn, args))
            order += 1
        return bool(tasks)

    def advance(step):
        # the next phase with work in it; a step with nothing left is done
        if step.phase == "copy" and push(step, "index", step.index_tasks()):
            return
        if step.phase in ("copy", "index"):
            push(step, "analyze", [(_run_sql, (f"ANALYZE {step.table}",))])
            return
        bar.update()

    for step in steps:
        if not push(step, "copy", step.copy_tasks(batch_rows)):
            advance(step)
    running = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            while ready or running:
                while ready and len(running) < jobs:
                    _, _, step, fn, args = heapq.heappop(ready)
                    running[pool.submit(fn, dsn, *args)] = step
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for f in done:
                    step = running.pop(f)
                    result = f.result()
                    if step.phase == "copy":
                        step.rows += result
                    step.waiting -= 1
                    if step.waiting == 0:
                        advance(step)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)   # let running steps end before cleaning up
            raise


def load_postgres(dataset, dsn, *, schema="statelab", truth=False, batch_rows=200_000, jobs=2, progress=False):
    """Load a generated dataset into PostgreSQL.

    The tables are created in staging schemas; their rows are copied in (the largest over two
    connections at once) and their indexes built and statistics gathered, ``jobs`` steps at a
    time, largest table first. Then one transaction adds the primary keys and comments and swaps
    the staging schemas in for the live ones, so readers see the old data or the new, never a mix;
    a failed load removes the staging schemas and leaves the live ones as they were.

    Parameters
    ----------
    dataset : path-like
        A dataset folder made by :func:`synthetic_data.generate`.
    dsn : str
        A libpq connection string or URL for a role that may create schemas.
    schema : str, default "statelab"
        Schema for the learner and reference tables.
    truth : bool, default False
        Also load the truth tables into schema ``truth`` (readable by instructors only).
    batch_rows : int
        Rows per COPY chunk.
    jobs : int, default 2
        Connections working at once. ``1`` loads one step at a time.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict of str to int
        Rows loaded per table.
    """
    from pathlib import Path

    from tqdm.auto import tqdm

    from ._dataset import read_manifest as manifest

    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    root = Path(dataset)
    manifest(root)  # a clear error for a folder that is not a dataset
    targets = [(schema, n, t) for n, t in tables().items() if t.audience != "truth"]
    if truth:
        if not (root / "truth").is_dir():
            raise OutputError(f"the dataset at {root} was generated without truth tables")
        targets += [("truth", n, t) for n, t in tables().items() if t.audience == "truth"]
    stages = {s: _ident(f"{s}__loading") for s, _, _ in targets}
    steps = []
    for s, name, t in targets:
        folder = root / ("truth" if t.audience == "truth" else "parquet") / name
        steps.append(_Step(stages[s], name, t, sorted(folder.rglob("*.parquet")) if folder.exists() else []))
    try:
        _drop_stages(dsn, stages.values())
        _create_tables(dsn, steps)
        with tqdm(total=len(steps), desc="load postgres", unit="table", disable=not progress) as bar:
            _schedule(dsn, steps, jobs, batch_rows, bar)
        with _psycopg().connect(dsn, autocommit=False) as conn, conn.cursor() as cur:
            for st in steps:
                t = st.spec
                if t.primary_key:
                    cur.execute(f"ALTER TABLE {st.table} ADD CONSTRAINT {_ident(f'{st.name}_pkey')} "
                                f"PRIMARY KEY USING INDEX {_ident(f'{st.name}_pkey')}")
                cur.execute(f"COMMENT ON TABLE {st.table} IS {_literal(t.title + '. ' + t.grain)}")
                for c in t.columns:
                    cur.execute(f"COMMENT ON COLUMN {st.table}.{_ident(c.name)} IS {_literal(c.description)}")
            for s, stage in stages.items():  # swap in: one transaction, so readers see old or new, never half
                cur.execute(f"DROP SCHEMA IF EXISTS {_ident(s)} CASCADE")
                cur.execute(f"ALTER SCHEMA {stage} RENAME TO {_ident(s)}")
            _grant(cur, schema)
            conn.commit()
    except BaseException:
        with contextlib.suppress(Exception):    # keep the original error, even if the server went away
            _drop_stages(dsn, stages.values())
        raise
    return {st.name: st.rows for st in steps}


def _role_exists(cur, role):
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    return cur.fetchone() is not None


def _schema_exists(cur, name):
    cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,))
    return cur.fetchone() is not None


def _grant(cur, schema):
    """(Re)grant read access after a load replaced the schemas."""
    for role in (READER_ROLE, INSTRUCTOR_ROLE):
        if not _role_exists(cur, role):
            cur.execute(f"CREATE ROLE {role} NOLOGIN")
    cur.execute(f"GRANT {READER_ROLE} TO {INSTRUCTOR_ROLE}")
    cur.execute(f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {READER_ROLE}")
    cur.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {_ident(schema)} TO {READER_ROLE}")
    if _schema_exists(cur, "truth"):
        cur.execute(f"REVOKE ALL ON SCHEMA truth FROM PUBLIC, {READER_ROLE}")
        cur.execute(f"GRANT USAGE ON SCHEMA truth TO {INSTRUCTOR_ROLE}")
        cur.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA truth TO {INSTRUCTOR_ROLE}")


def create_class(dsn, learners, *, instructors=(), schema="statelab", passwords=None):
    """Create login roles and private workspaces for a class.

    Parameters
    ----------
    dsn : str
        Connection for a role that may create roles (the database owner or a superuser).
    learners, instructors : iterable of str
        Login names (lower-case letters, digits and ``_``). Each gets a schema ``ws_<name>``
        that only they can use, and ``search_path = ws_<name>, <schema>``.
    schema : str
        The loaded source schema.
    passwords : dict, optional
        Passwords to set; generated for anyone missing.

    Returns
    -------
    dict of str to str
        Login name -> password, for the hub to hand to each user's server.
    """
    psycopg = _psycopg()
    passwords = dict(passwords or {})
    people = [(n, READER_ROLE) for n in learners] + [(n, INSTRUCTOR_ROLE) for n in instructors]
    for name, _ in people:
        _ident(name)
    with psycopg.connect(dsn, autocommit=False) as conn, conn.cursor() as cur:
        _grant(cur, schema)
        cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for name, group in people:
            pw = passwords.setdefault(name, secrets.token_urlsafe(18))
            verb = "ALTER" if _role_exists(cur, name) else "CREATE"
            cur.execute(f"{verb} ROLE {_ident(name)} LOGIN PASSWORD {_literal(pw)}")
            cur.execute(f"GRANT {group} TO {_ident(name)}")
            ws = _ident(f"ws_{name}")
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {ws} AUTHORIZATION {_ident(name)}")
            cur.execute(f"REVOKE ALL ON SCHEMA {ws} FROM PUBLIC")
            path = f"{ws}, {_ident(schema)}" + (", truth" if group == INSTRUCTOR_ROLE else "")
            cur.execute(f"ALTER ROLE {_ident(name)} SET search_path = {path}")
        conn.commit()
    return {name: passwords[name] for name, _ in people}


def _plain(value):
    # PostgreSQL answers avg(), sum() and EXTRACT() with NUMERIC; DuckDB with DOUBLE/BIGINT. Notebooks and
    # autograders expect Python numbers, so whole decimals become int and the rest float.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**63 else float(value)
    return value


#: PostgreSQL type OIDs of date, timestamp and timestamptz: DuckDB's ``.df()`` gives these columns as
#: ``datetime64``, so notebooks and hidden tests use ``.dt`` on them.
_DATETIME_OIDS = {1082, 1114, 1184}


class _Result:
    """What ``PostgresWorkspace.sql`` returns: the rows of one statement, read once."""

    def __init__(self, columns, rows, type_codes=()):
        self.columns = columns
        self._rows = [tuple(_plain(v) for v in row) for row in rows]
        self._type_codes = list(type_codes)

    def fetchall(self):
        return list(self._rows)

    def df(self):
        import pandas as pd

        frame = pd.DataFrame.from_records(self._rows, columns=self.columns)
        for i, oid in enumerate(self._type_codes):
            if oid in _DATETIME_OIDS:
                utc = oid == 1184
                frame.isetitem(i, pd.to_datetime(frame.iloc[:, i], utc=utc).astype(
                    "datetime64[us, UTC]" if utc else "datetime64[us]"))
        return frame

    def __repr__(self):
        return repr(self.df())


class PostgresWorkspace:
    """A learner's session on the shared database, with the DuckDB calls the course uses.

    ``sql(query)`` runs one statement now and returns its rows (``.df()``, ``.fetchall()``), or
    ``None`` for statements without rows (``CREATE TABLE my_cohort AS ...`` lands in the learner's
    own schema, first on the search path). ``execute`` is the same. Each statement commits.
    """

    def __init__(self, conn):
        self._conn = conn

    def sql(self, query, params=None):
        with self._conn.cursor() as cur:
            cur.execute(query, params)
            if cur.description is None:
                return None
            return _Result([d.name for d in cur.description], cur.fetchall(),
                           [d.type_code for d in cur.description])

    execute = sql

    def close(self):
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect_postgres(dsn=None):
    """Open a :class:`PostgresWorkspace`; `dsn` defaults to ``$STATELAB_DATABASE_URL``.

    On a hub each user's server receives its own ``STATELAB_DATABASE_URL`` (their login role), so
    notebooks hold no passwords.
    """
    dsn = dsn or os.environ.get("STATELAB_DATABASE_URL")
    if not dsn:
        raise StatelabError("STATELAB_BACKEND=postgres needs STATELAB_DATABASE_URL (a libpq URL)")
    return PostgresWorkspace(_psycopg().connect(dsn, autocommit=True))
