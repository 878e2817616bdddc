"""The DuckDB files: the learner database and, apart from it, the truth database."""

import duckdb
import numpy as np

from ._columns import Take, arrow_table
from ._schema import tables

__all__ = ["build_databases", "EmployerQuarter", "LEARNER_DB", "TRUTH_DB"]

LEARNER_DB = "statelab.duckdb"
TRUTH_DB = "truth/truth.duckdb"




def _sql_str(s):
    return "'" + str(s).replace("'", "''") + "'"


def _source(root, name, relative):
    t = tables()[name]
    folder = "truth" if t.audience == "truth" else "parquet"
    path = f"{folder}/{name}/**/*.parquet" if relative else str(root / folder / name / "**" / "*.parquet")
    return f"read_parquet({_sql_str(path)}, hive_partitioning = false)"


def _create(con, root, name, mode):
    """A table copied into the database, or a view over the Parquet files (paths relative to the dataset)."""
    t = tables()[name]
    kind = "TABLE" if mode == "tables" else "VIEW"
    con.execute(f"CREATE {kind} main.{name} AS SELECT * FROM {_source(root, name, mode == 'views')}")
    con.execute(f"COMMENT ON {kind} main.{name} IS {_sql_str(t.title + '. Grain: ' + t.grain)}")
    if mode == "tables":                      # DuckDB keeps column comments on tables only
        for c in t.columns:
            con.execute(f"COMMENT ON COLUMN main.{name}.{c.name} IS {_sql_str(c.description)}")


class EmployerQuarter:
    """Sums the partitions' partial QCEW-like counts as they finish, in bounded memory.

    Holds four employers x quarters arrays instead of every partition's partial table at once,
    in the smallest unsigned type that holds the sums so far: ``uint16`` monthly employment
    and ``uint32`` wages (about 250 MB for the large profile's 528 k establishments x 48
    quarters, against 500 MB as ``int32``/``int64``). A sum that would not fit widens its
    array first (to ``int32`` / ``int64``), so the totals are always exact.
    """

    _WIDER = {"m1": np.int32, "m2": np.int32, "m3": np.int32, "wages": np.int64}

    def __init__(self, world):
        self.world = world
        shape = (len(world.employers["ui_account"]), world.T)
        self.m1, self.m2, self.m3 = (np.zeros(shape, dtype=np.uint16) for _ in range(3))
        self.wages = np.zeros(shape, dtype=np.uint32)

    def add(self, partial):
        """Add one partition's partial: arrays ``employer``, ``q``, ``m1``, ``m2``, ``m3``, ``wages``."""
        # (employer, quarter) pairs are unique within a partial, so plain fancy-index addition is exact
        cell = partial["employer"] * self.m1.shape[1] + partial["q"]
        for name in ("m1", "m2", "m3", "wages"):
            a = getattr(self, name)
            total = a.ravel()[cell].astype(np.int64) + partial[name]
            if len(total) and a.dtype != self._WIDER[name]:
                lo, hi = np.iinfo(a.dtype).min, np.iinfo(a.dtype).max
                if total.min() < lo or total.max() > hi:
                    a = a.astype(self._WIDER[name])
                    setattr(self, name, a)
            a.ravel()[cell] = total

    def march_employment(self):
        """Each establishment's employment in the last March (month 3 of a first quarter) it paid wages in."""
        march = self.m3[:, ::4]                              # quarter 0 is a first quarter
        paid = self.wages[:, ::4] > 0
        last = np.where(paid.any(axis=1), paid.shape[1] - 1 - np.argmax(paid[:, ::-1], axis=1), 0)
        return np.where(paid.any(axis=1), march[np.arange(len(march)), last].astype(np.int64), 0)

    def table(self):
        """The paid (employer, quarter) cells, by account then quarter, as the ``employer_quarter`` table.

        About 8 M rows for ``large``: the accounts are gathered as fixed-width codes (no Python
        string per row) and only the paid cells' values are copied.
        """
        E, cal, T = self.world.employers, self.world.cal, self.m1.shape[1]
        order = np.argsort(E["ui_account"], kind="stable")
        idx = np.flatnonzero((self.wages > 0)[order])        # by account, then quarter
        q = (idx % T).astype(np.int16)
        idx //= T
        emp = order[idx]
        del idx, order
        cell = emp * T
        cell += q
        return arrow_table("employer_quarter", {
            "ui_account": Take(self.world.codes["ui_account"], emp, width=10),
            "year": cal.year(q), "quarter": cal.quarter(q),
            "month1_emplvl": self.m1.ravel()[cell].astype(np.int32),
            "month2_emplvl": self.m2.ravel()[cell].astype(np.int32),
            "month3_emplvl": self.m3.ravel()[cell].astype(np.int32),
            "total_qtr_wages": self.wages.ravel()[cell].astype(np.int64)})


def build_databases(root, *, salt, truth=True, mode="tables", memory_limit="1GB"):
    """Create ``statelab.duckdb`` (learner tables + a ``hashed`` schema) and the truth database.

    ``mode="tables"`` copies the data in (fastest queries, self-contained file);
    ``mode="views"`` defines views over the Parquet files, for profiles too large
    to store twice; readers then need ``file_search_path`` set to the dataset
    folder, which :func:`synthetic_data.connect` does.
    """
    if mode not in ("tables", "views"):
        raise ValueError(f"output.database must be 'tables' or 'views', got {mode!r}")
    con = duckdb.connect(str(root / LEARNER_DB))
    try:
        con.execute("SET enable_progress_bar = false")   # no progress widgets in a caller's notebook or log
        con.execute(f"SET memory_limit = {_sql_str(memory_limit)}")
        con.execute(f"SET file_search_path = {_sql_str(root)}")
        for name, t in tables().items():
            if t.audience != "truth":
                _create(con, root, name, mode)
        # Hashed variant: PII replaced by salted SHA-256 of normalized values, as members of a
        # collaborative do before sharing for privacy-preserving linkage.
        con.execute("CREATE SCHEMA hashed")
        kind = "TABLE" if mode == "tables" else "VIEW"
        for name, t in tables().items():
            if t.audience != "learner" or not any(c.pii for c in t.columns):
                continue
            cols = []
            for c in t.columns:
                value = f"strftime({c.name}, '%Y-%m-%d')" if c.type == "date" else f"upper(trim({c.name}))"
                cols.append(f"CASE WHEN {c.name} IS NULL THEN NULL ELSE sha256({_sql_str(salt)} || {value}) END AS {c.name}_hash"
                            if c.pii else c.name)
            con.execute(f"CREATE {kind} hashed.{name} AS SELECT {', '.join(cols)} FROM main.{name}")
            con.execute(f"COMMENT ON {kind} hashed.{name} IS "
                        f"{_sql_str('Hashed-PII variant of ' + name + ': identifiers are salted SHA-256 hashes of upper-cased, trimmed values.')}")
    finally:
        con.close()
    if truth:
        (root / "truth").mkdir(exist_ok=True)
        tcon = duckdb.connect(str(root / TRUTH_DB))
        try:
            tcon.execute("SET enable_progress_bar = false")
            tcon.execute(f"SET memory_limit = {_sql_str(memory_limit)}")
            tcon.execute(f"SET file_search_path = {_sql_str(root)}")
            for name, t in tables().items():
                if t.audience == "truth":
                    _create(tcon, root, name, mode)
        finally:
            tcon.close()
