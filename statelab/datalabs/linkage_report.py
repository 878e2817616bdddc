"""Data Labs unit 6: a master person index, a reproducible pipeline and the linkage report.

A state team that wants to follow people across programs first needs one identifier per person
across the agencies' files. This module builds that **master person index (MPI)** on the caller's
DuckDB connection, in steps a team can read and rerun:

1. :func:`build_identity_units` stacks the person-level files (WIOA, TANF, SNAP, UI claims and the
   postsecondary files), standardizes names and flags SSNs that cannot be used, and collapses repeated rows into
   *identity units*: one row per distinct way a source recorded a person.
2. :func:`compare_pairs` forms candidate pairs by blocking (same usable SSN, same date of birth, or same
   full name) and grades how each identifier agrees.
3. :func:`estimate_weights` estimates Fellegi-Sunter m- and u-probabilities from the data itself, and
   :func:`score_pairs` adds each pair's match weight.
4. :func:`link_units` accepts pairs by a deterministic rule (same usable SSN and an agreeing date of
   birth or full name) or by a probabilistic rule (weight at or above a threshold), and gives each
   connected group of units one ``mpi_id``.

:func:`build_mpi` runs all four. :func:`match_rates`, :func:`source_overlap` and
:func:`estimate_linkage_error` describe the result for the linkage report without any truth:
precision is estimated from sex, which the rules never use, and recall from "anchor" pairs that share
an SSN and a date of birth. :func:`mpi_quality` compares an MPI with the hidden truth: it is an
**instructor and test tool** that needs a connection opened with ``truth=True``.

For the procurement case, :func:`build_business_index` links the comptroller's vendor file, the
transportation contractor registry (EIN stored as a number) and the certification registry (trade
names) into one ``business_key`` per firm; :func:`business_contracts` totals contract dollars per
firm and :func:`business_index_quality` checks the index against the truth (instructor/test tool).

:func:`run_pipeline` runs named SQL steps in order, saving each as a view or table, and
:func:`track_pipeline` returns the steps that turn the raw extracts and the MPI into each track's
analysis table. :func:`stack_options` and :func:`score_stack` support the tech-stack comparison.

All SQL is portable (standard SQL plus ``levenshtein``, which PostgreSQL provides through the
``fuzzystrmatch`` extension).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..linkage import ssn_status_sql
from .deliverables import Deliverable, DeliverableSpec
from .tracks import TRACK_NAMES

__all__ = [
    "PERSON_SOURCES",
    "FIELDS",
    "TRACK_NAMES",
    "DEFAULT_THRESHOLD",
    "AGE_BANDS",
    "ANALYSIS_TABLES",
    "STACK_CRITERIA",
    "EXAMPLE_STACK_WEIGHTS",
    "HEADER_TEMPLATE",
    "LINKAGE_REPORT",
    "PipelineStep",
    "quiet",
    "age_band_sql",
    "build_identity_units",
    "compare_pairs",
    "estimate_weights",
    "score_pairs",
    "link_units",
    "build_mpi",
    "threshold_used",
    "match_rates",
    "source_overlap",
    "estimate_linkage_error",
    "clerical_review_sample",
    "mpi_quality",
    "build_business_index",
    "business_contracts",
    "estimate_business_error",
    "business_index_quality",
    "run_pipeline",
    "pipeline_script",
    "track_pipeline",
    "prepare_track",
    "run_log",
    "wage_link_coverage",
    "stack_options",
    "score_stack",
    "linkage_report",
]

#: Person-level agency files in the MPI, with the columns that identify a person in each.
#: ``state`` is the state holding the record; postsecondary records take their institution's state.
PERSON_SOURCES: dict[str, dict[str, str | None]] = {
    "wioa": {"ssn": "ssn", "first": "first_name", "last": "last_name", "dob": "dob", "sex": "sex"},
    "tanf": {"ssn": "head_ssn", "first": "head_first_name", "last": "head_last_name", "dob": "head_dob",
             "sex": "head_sex"},
    "snap": {"ssn": "head_ssn", "first": "head_first_name", "last": "head_last_name", "dob": "head_dob",
             "sex": "head_sex"},
    "ui_claim": {"ssn": "ssn", "first": "first_name", "last": "last_name", "dob": "dob", "sex": "sex"},
    "postsec_enrollment": {"ssn": "ssn", "first": "first_name", "last": "last_name", "dob": "dob", "sex": None},
    "postsec_completion": {"ssn": "ssn", "first": "first_name", "last": "last_name", "dob": "dob", "sex": None},
}

#: Identifiers compared for each candidate pair, and their agreement levels (best first).
FIELDS: dict[str, tuple[str, ...]] = {
    "ssn": ("agree", "near", "disagree"),
    "first": ("agree", "near", "initial", "disagree"),
    "last": ("agree", "near", "disagree"),
    "dob": ("agree", "near", "disagree"),
}


#: Default probabilistic threshold, in match-weight units (log2 of the likelihood ratio). It sits just above
#: the weight of "same first and last name, no SSN, no date of birth" (about 16 on the course data): with
#: common names that pattern links strangers about as often as the same person, so it is left unlinked;
#: every pattern with two rare identifiers agreeing (SSN, full date of birth) scores well above it.
DEFAULT_THRESHOLD = 17.0

_MIN_SHARED_DOBS = 3  # a usable-looking SSN recorded with this many different birth dates is "shared"


# --------------------------------------------------------------------------------------------- helpers
def _check_name(value, what: str) -> str:
    if not isinstance(value, str) or not value.replace("_", "").isalnum():
        raise ValueError(f"{what} must be a simple SQL identifier (letters, digits, _), got {value!r}")
    return value


def _check_sources(sources) -> list[str]:
    if sources is None:
        return list(PERSON_SOURCES)
    if isinstance(sources, str):
        raise TypeError(f"sources must be a list of table names, not the string {sources!r}")
    out = list(sources)
    unknown = [s for s in out if s not in PERSON_SOURCES]
    if unknown:
        raise ValueError(f"unknown person source(s) {unknown!r}; choose from {sorted(PERSON_SOURCES)}")
    if not out:
        raise ValueError("sources is empty: name at least one person-level file")
    return out


def _check_track(track) -> str:
    if track not in TRACK_NAMES:
        raise ValueError(f"unknown track {track!r}; choose one of {list(TRACK_NAMES)}")
    return track


def _scalar(con, sql: str):
    return con.sql(sql).fetchall()[0][0]


def _has_catalog(con, name: str) -> bool:
    rows = con.sql("SELECT database_name FROM duckdb_databases()").fetchall()
    return any(r[0] == name for r in rows)


def quiet(func):
    """Run ``func(con, ...)`` with DuckDB's progress bar off, restoring the caller's setting afterwards.

    In a notebook DuckDB draws a progress widget for slow queries; it would clutter the executed book.
    """
    import functools

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


def _require_truth(con) -> None:
    if not _has_catalog(con, "truth"):
        raise ValueError(
            "this is an instructor/test tool: it needs the hidden truth, so open the connection with "
            "sd.connect(..., truth=True); learner notebooks never do"
        )


# ---------------------------------------------------------------------------------- 1. identity units
def _records_sql(sources: list[str]) -> str:
    parts = []
    for s in sources:
        c = PERSON_SOURCES[s]
        sex = f"CAST(t.{c['sex']} AS VARCHAR)" if c["sex"] else "CAST(NULL AS VARCHAR)"
        if s.startswith("postsec"):
            src, state = f"{s} AS t JOIN institution AS i ON i.institution_id = t.institution_id", "i.state_fips"
        else:
            src, state = f"{s} AS t", "t.state_fips"
        parts.append(
            f"SELECT '{s}' AS source_table, t.record_id, {state} AS state_fips, "
            f"TRIM(CAST(t.{c['ssn']} AS VARCHAR)) AS ssn_raw, "
            f"UPPER(TRIM(t.{c['first']})) AS first_name, UPPER(TRIM(t.{c['last']})) AS last_name, "
            f"CAST(t.{c['dob']} AS DATE) AS dob, {sex} AS sex FROM {src}"
        )
    return "\nUNION ALL\n".join(parts)


@quiet
def build_identity_units(con, *, sources: Sequence[str] | None = None, prefix: str = "mpi") -> pd.DataFrame:
    """Stack the person-level files and collapse them into identity units.

    Creates two workspace tables:

    ``{prefix}_records``
        one row per source record: ``source_table, record_id, state_fips, ssn_raw, first_name,
        last_name, dob, sex, unit_id`` (names upper-cased and trimmed).
    ``{prefix}_units``
        one row per identity unit (a distinct combination of source, state and identifiers):
        ``unit_id, source_table, state_fips, ssn_raw, ssn, ssn_status, first_name, last_name, dob, sex,
        n_records``. ``ssn`` holds the SSN only where ``ssn_status = 'valid'``; the other statuses are
        those of :func:`statelab.linkage.ssn_status_sql` (``missing``, ``malformed``, ``placeholder``)
        and ``shared`` (a valid-looking SSN recorded with three or more different birth dates).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A course connection (``sd.connect(...)``).
    sources : list of str, optional
        Keys of :data:`PERSON_SOURCES`; all of them by default.
    prefix : str
        Prefix of the workspace tables.

    Returns
    -------
    pandas.DataFrame
        Per source: records, identity units and units by SSN status.
    """
    sources = _check_sources(sources)
    p = _check_name(prefix, "prefix")
    con.sql(f"""
        CREATE OR REPLACE TABLE {p}_records AS
        WITH r AS ({_records_sql(sources)})
        SELECT r.*, DENSE_RANK() OVER (
            ORDER BY source_table, state_fips, ssn_raw, first_name, last_name, dob, sex) AS unit_id
        FROM r
    """)
    con.sql(f"""
        CREATE OR REPLACE TABLE {p}_units AS
        WITH u AS (
            SELECT unit_id, MIN(source_table) AS source_table, MIN(state_fips) AS state_fips,
                   MIN(ssn_raw) AS ssn_raw, MIN(first_name) AS first_name, MIN(last_name) AS last_name,
                   MIN(dob) AS dob, MIN(sex) AS sex, COUNT(*) AS n_records
            FROM {p}_records
            GROUP BY unit_id
        ),
        dobs AS (
            SELECT ssn_raw, COUNT(DISTINCT dob) AS n_dobs FROM u WHERE ssn_raw IS NOT NULL GROUP BY ssn_raw
        ),
        flagged AS (
            SELECT u.*,
                   CASE WHEN {ssn_status_sql('u.ssn_raw')} <> 'valid' THEN {ssn_status_sql('u.ssn_raw')}
                        WHEN d.n_dobs >= {_MIN_SHARED_DOBS} THEN 'shared'
                        ELSE 'valid' END AS ssn_status
            FROM u LEFT JOIN dobs AS d ON d.ssn_raw = u.ssn_raw
        )
        SELECT unit_id, source_table, state_fips, ssn_raw,
               CASE WHEN ssn_status = 'valid' THEN ssn_raw END AS ssn, ssn_status,
               first_name, last_name, dob, sex, n_records
        FROM flagged
        ORDER BY unit_id
    """)
    return con.sql(f"""
        SELECT source_table, CAST(SUM(n_records) AS BIGINT) AS records, COUNT(*) AS units,
               CAST(SUM(CASE WHEN ssn_status = 'valid' THEN 1 ELSE 0 END) AS BIGINT) AS valid_ssn,
               CAST(SUM(CASE WHEN ssn_status = 'missing' THEN 1 ELSE 0 END) AS BIGINT) AS missing_ssn,
               CAST(SUM(CASE WHEN ssn_status IN ('placeholder', 'malformed', 'shared') THEN 1 ELSE 0 END)
                    AS BIGINT) AS unusable_ssn
        FROM {p}_units GROUP BY source_table ORDER BY source_table
    """).df()


# ----------------------------------------------------------------------------------- 2. compare pairs
def _levels_sql() -> str:
    """SELECT-list expressions grading agreement for a pair of units ``a`` and ``b``."""
    return """
        CASE WHEN a.ssn IS NULL OR b.ssn IS NULL THEN 'missing'
             WHEN a.ssn = b.ssn THEN 'agree'
             WHEN levenshtein(a.ssn, b.ssn) <= 2 THEN 'near'
             ELSE 'disagree' END AS ssn_level,
        CASE WHEN a.first_name IS NULL OR b.first_name IS NULL THEN 'missing'
             WHEN a.first_name = b.first_name THEN 'agree'
             WHEN levenshtein(a.first_name, b.first_name) <= 2 THEN 'near'
             WHEN SUBSTRING(a.first_name, 1, 1) = SUBSTRING(b.first_name, 1, 1) THEN 'initial'
             ELSE 'disagree' END AS first_level,
        CASE WHEN a.last_name IS NULL OR b.last_name IS NULL THEN 'missing'
             WHEN a.last_name = b.last_name THEN 'agree'
             WHEN levenshtein(a.last_name, b.last_name) <= 2 THEN 'near'
             ELSE 'disagree' END AS last_level,
        CASE WHEN a.dob IS NULL OR b.dob IS NULL THEN 'missing'
             WHEN a.dob = b.dob THEN 'agree'
             WHEN EXTRACT(YEAR FROM a.dob) = EXTRACT(YEAR FROM b.dob)
                  AND EXTRACT(MONTH FROM a.dob) = EXTRACT(DAY FROM b.dob)
                  AND EXTRACT(DAY FROM a.dob) = EXTRACT(MONTH FROM b.dob) THEN 'near'
             WHEN ABS(EXTRACT(YEAR FROM a.dob) - EXTRACT(YEAR FROM b.dob)) = 1
                  AND EXTRACT(MONTH FROM a.dob) = EXTRACT(MONTH FROM b.dob)
                  AND EXTRACT(DAY FROM a.dob) = EXTRACT(DAY FROM b.dob) THEN 'near'
             ELSE 'disagree' END AS dob_level"""


@quiet
def compare_pairs(con, *, prefix: str = "mpi") -> pd.DataFrame:
    """Block identity units into candidate pairs and grade each identifier's agreement.

    Blocking keeps a pair of units when they share a usable SSN, a date of birth, or the full name
    (first and last). Creates ``{prefix}_pairs`` with ``unit_a < unit_b`` and the columns
    ``ssn_level, first_level, last_level, dob_level`` (levels in :data:`FIELDS`, plus ``missing``)
    and ``same_source``. Sex is deliberately **not** compared: it is kept back to estimate the false
    match rate (:func:`estimate_linkage_error`).

    Returns
    -------
    pandas.DataFrame
        The number of candidate pairs by blocking rule and in total.
    """
    p = _check_name(prefix, "prefix")
    con.sql(f"""
        CREATE OR REPLACE TABLE {p}_pairs AS
        WITH blocked AS (
            SELECT a.unit_id AS unit_a, b.unit_id AS unit_b FROM {p}_units AS a
            JOIN {p}_units AS b ON a.ssn = b.ssn AND a.unit_id < b.unit_id
            UNION
            SELECT a.unit_id, b.unit_id FROM {p}_units AS a
            JOIN {p}_units AS b ON a.dob = b.dob AND a.unit_id < b.unit_id
            UNION
            SELECT a.unit_id, b.unit_id FROM {p}_units AS a
            JOIN {p}_units AS b ON a.first_name = b.first_name AND a.last_name = b.last_name
                               AND a.unit_id < b.unit_id
        )
        SELECT k.unit_a, k.unit_b, a.source_table AS source_a, b.source_table AS source_b,
               CASE WHEN a.source_table = b.source_table THEN TRUE ELSE FALSE END AS same_source,
               {_levels_sql()}
        FROM blocked AS k
        JOIN {p}_units AS a ON a.unit_id = k.unit_a
        JOIN {p}_units AS b ON b.unit_id = k.unit_b
    """)
    return con.sql(f"""
        SELECT COUNT(*) AS candidate_pairs,
               SUM(CASE WHEN ssn_level = 'agree' THEN 1 ELSE 0 END) AS same_ssn,
               SUM(CASE WHEN dob_level = 'agree' THEN 1 ELSE 0 END) AS same_dob,
               SUM(CASE WHEN first_level = 'agree' AND last_level = 'agree' THEN 1 ELSE 0 END) AS same_name
        FROM {p}_pairs
    """).df()


# ----------------------------------------------------------------------------------- 3. weights
#: For each field, the other fields that must all agree for a pair to count as a sure match when
#: estimating that field's m-probabilities (noise is independent across fields).
_M_EVIDENCE = {
    "ssn": ("first", "last", "dob"),
    "first": ("ssn", "dob"),
    "last": ("ssn", "dob"),
    "dob": ("ssn", "first"),
}


@quiet
def estimate_weights(con, *, prefix: str = "mpi", random_pairs: int = 200_000) -> pd.DataFrame:
    """Estimate m- and u-probabilities for every field and level, and the match weights.

    - **m** (how often a level occurs among true matches) is estimated for each field from the
      candidate pairs whose *other* identifiers all agree exactly (near-certain matches).
    - **u** (how often it occurs among non-matches) is estimated from pseudo-random pairs of units,
      which are almost all non-matches.

    Counts get half a pair of smoothing so no probability is 0. The weight of a level is
    ``log2(m / u)``; a missing value has weight 0.

    Parameters
    ----------
    random_pairs : int
        How many pseudo-random pairs to draw for the u-probabilities (deterministic: no seed needed).

    Returns
    -------
    pandas.DataFrame
        ``field, level, m, u, weight`` (also saved as ``{prefix}_weights``).
    """
    p = _check_name(prefix, "prefix")
    if not isinstance(random_pairs, int) or isinstance(random_pairs, bool) or random_pairs < 1000:
        raise ValueError(f"random_pairs must be a whole number of at least 1000, got {random_pairs!r}")
    n = int(_scalar(con, f"SELECT COUNT(*) FROM {p}_units"))
    if n < 2:
        raise ValueError(f"{p}_units has {n} unit(s); at least 2 are needed to estimate weights")
    k = max(1, math.ceil(random_pairs / n))
    # unit i is paired with units (i * 7919 + j * 104729) mod n + 1 for j = 1..k: a fixed scramble.
    rand = con.sql(f"""
        WITH offsets AS (SELECT range AS j FROM range(1, {k + 1})),
        rp AS (
            SELECT a.unit_id AS ua, ((a.unit_id * 7919 + o.j * 104729) % {n}) + 1 AS ub
            FROM {p}_units AS a CROSS JOIN offsets AS o
        )
        SELECT {_levels_sql()}
        FROM rp JOIN {p}_units AS a ON a.unit_id = rp.ua JOIN {p}_units AS b ON b.unit_id = rp.ub
        WHERE rp.ua <> rp.ub
    """).df()
    pairs = con.sql(f"SELECT ssn_level, first_level, last_level, dob_level FROM {p}_pairs").df()
    rows = []
    for field, levels in FIELDS.items():
        col = f"{field}_level"
        sure = np.ones(len(pairs), dtype=bool)
        for other in _M_EVIDENCE[field]:
            sure &= (pairs[f"{other}_level"] == "agree").to_numpy()
        m_counts = pairs.loc[sure, col].value_counts()
        u_counts = rand[col].value_counts()
        m_total = sum(m_counts.get(lv, 0) for lv in levels) + 0.5 * len(levels)
        u_total = sum(u_counts.get(lv, 0) for lv in levels) + 0.5 * len(levels)
        for lv in levels:
            m = (m_counts.get(lv, 0) + 0.5) / m_total
            u = (u_counts.get(lv, 0) + 0.5) / u_total
            rows.append({"field": field, "level": lv, "m": m, "u": u, "weight": math.log2(m / u)})
    weights = pd.DataFrame(rows)
    con.register("_dl_weights_df", weights)
    con.sql(f"CREATE OR REPLACE TABLE {p}_weights AS SELECT * FROM _dl_weights_df")
    con.unregister("_dl_weights_df")
    return weights


@quiet
def score_pairs(con, *, prefix: str = "mpi") -> pd.DataFrame:
    """Add each candidate pair's total match weight (``{prefix}_scored``).

    The weight is the sum over fields of the level's weight from ``{prefix}_weights`` (0 for a
    missing value). Returns the distribution of weights in bands of 5.
    """
    p = _check_name(prefix, "prefix")
    joins = "\n".join(
        f"LEFT JOIN {p}_weights AS w_{f} ON w_{f}.field = '{f}' AND w_{f}.level = q.{f}_level" for f in FIELDS
    )
    total = " + ".join(f"COALESCE(w_{f}.weight, 0)" for f in FIELDS)
    con.sql(f"""
        CREATE OR REPLACE TABLE {p}_scored AS
        SELECT q.*, {total} AS weight
        FROM {p}_pairs AS q
        {joins}
    """)
    return con.sql(f"""
        SELECT FLOOR(weight / 5) * 5 AS weight_band, COUNT(*) AS pairs
        FROM {p}_scored GROUP BY FLOOR(weight / 5) * 5 ORDER BY weight_band
    """).df()


# ----------------------------------------------------------------------------------- 4. link
#: The deterministic rule, on a pairs table's agreement levels.
_DETERMINISTIC = ("ssn_level = 'agree' AND (dob_level = 'agree' "
                  "OR (first_level = 'agree' AND last_level = 'agree'))")

def _components(node_ids: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label (smallest member id) for each node id, by union-find."""
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


@quiet
def link_units(con, *, prefix: str = "mpi", threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Accept pairs and give each connected group of identity units one ``mpi_id``.

    A pair is linked when

    - **deterministic rule**: both units carry the same usable SSN and the date of birth or the full
      name agrees; or
    - **probabilistic rule**: its total match weight is at least ``threshold``.

    Linked pairs are closed transitively (connected components). Creates ``{prefix}_links`` (accepted
    pairs with the rule that accepted them), ``{prefix}_unit_index`` (``unit_id, mpi_id``) and
    ``{prefix}_index`` (``source_table, record_id, mpi_id``: the MPI itself). ``mpi_id`` is the
    smallest ``unit_id`` in the group, so it is stable for the same data and rules.

    Returns
    -------
    pandas.DataFrame
        Pairs linked by each rule, units, and MPI persons.
    """
    p = _check_name(prefix, "prefix")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise TypeError(f"threshold must be a finite number (a match weight), got {threshold!r}")
    con.sql(f"""
        CREATE OR REPLACE TABLE {p}_links AS
        SELECT unit_a, unit_b, weight,
               CASE WHEN {_DETERMINISTIC} THEN 'deterministic' ELSE 'probabilistic' END AS rule
        FROM {p}_scored
        WHERE ({_DETERMINISTIC}) OR weight >= {float(threshold)!r}
    """)
    con.sql(f"CREATE OR REPLACE TABLE {p}_settings AS SELECT 'threshold' AS name, {float(threshold)!r} AS value")
    units = con.sql(f"SELECT unit_id FROM {p}_units ORDER BY unit_id").df()["unit_id"].to_numpy()
    links = con.sql(f"SELECT unit_a, unit_b FROM {p}_links").df()
    mpi = _components(units, links["unit_a"].to_numpy(), links["unit_b"].to_numpy())
    index = pd.DataFrame({"unit_id": units, "mpi_id": mpi})
    con.register("_dl_index_df", index)
    con.sql(f"CREATE OR REPLACE TABLE {p}_unit_index AS SELECT unit_id, mpi_id FROM _dl_index_df")
    con.unregister("_dl_index_df")
    con.sql(f"""
        CREATE OR REPLACE TABLE {p}_index AS
        SELECT r.source_table, r.record_id, r.state_fips, x.mpi_id
        FROM {p}_records AS r JOIN {p}_unit_index AS x ON x.unit_id = r.unit_id
    """)
    return con.sql(f"""
        SELECT
            (SELECT COUNT(*) FROM {p}_links WHERE rule = 'deterministic') AS deterministic_links,
            (SELECT COUNT(*) FROM {p}_links WHERE rule = 'probabilistic') AS probabilistic_links,
            (SELECT COUNT(*) FROM {p}_units) AS units,
            (SELECT COUNT(DISTINCT mpi_id) FROM {p}_unit_index) AS mpi_persons
    """).df()


@quiet
def build_mpi(con, *, sources: Sequence[str] | None = None, prefix: str = "mpi",
              threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Run the whole MPI pipeline (units, pairs, weights, scores, links) and return the link summary.

    See :func:`build_identity_units`, :func:`compare_pairs`, :func:`estimate_weights`,
    :func:`score_pairs` and :func:`link_units`; the tables they create are kept in the workspace.
    """
    build_identity_units(con, sources=sources, prefix=prefix)
    compare_pairs(con, prefix=prefix)
    estimate_weights(con, prefix=prefix)
    score_pairs(con, prefix=prefix)
    return link_units(con, prefix=prefix, threshold=threshold)


# ----------------------------------------------------------------------------------- reporting
@quiet
def match_rates(con, *, prefix: str = "mpi") -> pd.DataFrame:
    """Per source: records, MPI persons, and the share of persons also found in another source.

    Returns
    -------
    pandas.DataFrame
        ``source_table, records, persons, persons_in_other_source, share_in_other_source,
        persons_in_two_states`` (persons whose records in *any* source sit in more than one state).
    """
    p = _check_name(prefix, "prefix")
    return con.sql(f"""
        WITH person_sources AS (
            SELECT mpi_id, COUNT(DISTINCT source_table) AS n_sources, COUNT(DISTINCT state_fips) AS n_states
            FROM {p}_index GROUP BY mpi_id
        ),
        per_source AS (
            SELECT i.source_table, COUNT(*) AS records, COUNT(DISTINCT i.mpi_id) AS persons
            FROM {p}_index AS i GROUP BY i.source_table
        ),
        linked AS (
            SELECT x.source_table,
                   COUNT(DISTINCT CASE WHEN ps.n_sources > 1 THEN x.mpi_id END) AS persons_in_other_source,
                   COUNT(DISTINCT CASE WHEN ps.n_states > 1 THEN x.mpi_id END) AS persons_in_two_states
            FROM (SELECT DISTINCT source_table, mpi_id FROM {p}_index) AS x
            JOIN person_sources AS ps ON ps.mpi_id = x.mpi_id
            GROUP BY x.source_table
        )
        SELECT s.source_table, s.records, s.persons, l.persons_in_other_source,
               CAST(l.persons_in_other_source AS DOUBLE) / s.persons AS share_in_other_source,
               l.persons_in_two_states
        FROM per_source AS s JOIN linked AS l ON l.source_table = s.source_table
        ORDER BY s.source_table
    """).df()


@quiet
def source_overlap(con, *, prefix: str = "mpi") -> pd.DataFrame:
    """A source x source table: MPI persons found in both (the diagonal: persons in the source)."""
    p = _check_name(prefix, "prefix")
    long = con.sql(f"""
        WITH ps AS (SELECT DISTINCT source_table, mpi_id FROM {p}_index)
        SELECT a.source_table AS source_a, b.source_table AS source_b, COUNT(*) AS persons
        FROM ps AS a JOIN ps AS b ON a.mpi_id = b.mpi_id
        GROUP BY a.source_table, b.source_table
    """).df()
    wide = long.pivot(index="source_a", columns="source_b", values="persons").fillna(0).astype("int64")
    wide.index.name, wide.columns.name = None, None
    return wide


#: Age bands used for equity breakdowns: age on 1 January 2020, from the year of birth.
AGE_BANDS: tuple[str, ...] = ("under 25", "25-44", "45-54", "55 and over")


def age_band_sql(dob: str) -> str:
    """Portable SQL giving the :data:`AGE_BANDS` label for a date-of-birth column (``'unknown'`` if NULL)."""
    age = f"(2020 - EXTRACT(YEAR FROM {dob}))"
    return (f"CASE WHEN {dob} IS NULL THEN 'unknown' WHEN {age} < 25 THEN 'under 25' "
            f"WHEN {age} < 45 THEN '25-44' WHEN {age} < 55 THEN '45-54' ELSE '55 and over' END")


_UNIT_GROUPS = {
    None: "'all'",
    "sex": "COALESCE({u}.sex, 'unknown')",
    "age_band": None,  # filled by age_band_sql
    "source_table": "{u}.source_table",
    "state_fips": "{u}.state_fips",
}


def _unit_group_sql(by, alias: str) -> str:
    if by not in _UNIT_GROUPS:
        raise ValueError(f"by must be one of {list(_UNIT_GROUPS)}, got {by!r}")
    if by == "age_band":
        return age_band_sql(f"{alias}.dob")
    return _UNIT_GROUPS[by].format(u=alias)


def threshold_used(con, *, prefix: str = "mpi") -> float:
    """The probabilistic threshold :func:`link_units` last used for ``prefix``."""
    p = _check_name(prefix, "prefix")
    if not _table_exists(con, f"{p}_settings"):
        raise ValueError(f"no {p}_settings table: run link_units (or build_mpi) with prefix={prefix!r} first")
    return float(_scalar(con, f"SELECT value FROM {p}_settings WHERE name = 'threshold'"))


def _pair_groups_sql(pairs: str, by, p: str) -> str:
    """SQL listing ``unit_a, unit_b, grp`` for each pair of ``pairs`` under each group of its two units.

    A pair whose units fall in two groups (e.g. two sources) counts in both. For ``sex`` and
    ``age_band`` a unit without the attribute borrows it from the other unit of the pair.
    """
    if by not in _UNIT_GROUPS:
        raise ValueError(f"by must be one of {list(_UNIT_GROUPS)}, got {by!r}")
    if by == "sex":
        g1, g2 = "COALESCE(a.sex, b.sex, 'unknown')", "COALESCE(b.sex, a.sex, 'unknown')"
    elif by == "age_band":
        g1, g2 = age_band_sql("COALESCE(a.dob, b.dob)"), age_band_sql("COALESCE(b.dob, a.dob)")
    else:
        g1, g2 = _unit_group_sql(by, "a"), _unit_group_sql(by, "b")
    join = (f"FROM {pairs} AS q JOIN {p}_units AS a ON a.unit_id = q.unit_a "
            f"JOIN {p}_units AS b ON b.unit_id = q.unit_b")
    return f"SELECT q.unit_a, q.unit_b, {g1} AS grp {join} UNION SELECT q.unit_a, q.unit_b, {g2} {join}"


@quiet
def estimate_linkage_error(con, *, prefix: str = "mpi", by: str | None = None) -> pd.DataFrame:
    """Estimate the precision and recall of the MPI from the data alone (no truth).

    **Precision** (share of linked pairs that are the same person) from an identifier the rules never
    use: sex, recorded without error in four of the six sources. True matches always agree on sex;
    unrelated people disagree about half the time. With ``d`` the share of linked pairs (both sexes
    known) whose sex disagrees and ``c`` the chance that two unrelated units disagree (from the sex
    shares), the false-match share is about ``d / c``. It cannot see false matches between two
    people of the same sex with similar names, so treat it as an optimistic bound.

    **Recall** (share of true pairs that are linked) from *anchor pairs*: candidate pairs that share
    a valid SSN **and** the date of birth, which are almost surely the same person. A pair loses the
    SSN route when either unit lacks a valid SSN; the name and date of birth must then carry it. So

    ``est_recall = 1 - share_without_ssn * (1 - name_dob_recall)``

    where ``name_dob_recall`` is the share of anchor pairs whose weight *without* the SSN still
    reaches the threshold, and ``share_without_ssn = 1 - (share of units with a valid SSN)**2``.

    Parameters
    ----------
    by : {None, "sex", "age_band", "source_table", "state_fips"}
        Estimate separately by group. A pair counts in the group of each of its units (for sex and
        age band, a unit without the attribute, such as a postsecondary record, takes the other
        unit's); unit shares use each unit's own group (``'unknown'`` where it has none).

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group, units, linked_pairs, sex_disagree_share, est_precision,
        anchor_pairs, name_dob_recall, share_without_ssn, est_recall, est_missed_share``
        (``1 - est_recall``).
    """
    p = _check_name(prefix, "prefix")
    thr = threshold_used(con, prefix=p)
    gu = _unit_group_sql(by, "u")
    shares = con.sql(f"SELECT sex, COUNT(*) AS n FROM {p}_units WHERE sex IS NOT NULL GROUP BY sex").df()
    f = shares["n"] / shares["n"].sum() if len(shares) else pd.Series(dtype=float)
    chance = float(1 - (f ** 2).sum()) if len(f) else float("nan")
    prec = con.sql(f"""
        WITH g AS ({_pair_groups_sql(f"{p}_links", by, p)})
        SELECT g.grp, COUNT(*) AS linked_pairs,
               AVG(CASE WHEN a.sex IS NOT NULL AND b.sex IS NOT NULL
                        THEN CASE WHEN a.sex <> b.sex THEN 1.0 ELSE 0.0 END END) AS sex_disagree_share
        FROM g JOIN {p}_units AS a ON a.unit_id = g.unit_a JOIN {p}_units AS b ON b.unit_id = g.unit_b
        GROUP BY g.grp
    """).df()
    ssn_w = float(_scalar(con, f"SELECT weight FROM {p}_weights WHERE field = 'ssn' AND level = 'agree'"))
    rec = con.sql(f"""
        WITH anchors AS (
            SELECT unit_a, unit_b, weight FROM {p}_scored WHERE ssn_level = 'agree' AND dob_level = 'agree'
        ),
        g AS ({_pair_groups_sql("anchors", by, p)})
        SELECT g.grp, COUNT(*) AS anchor_pairs,
               AVG(CASE WHEN s.weight - {ssn_w!r} >= {thr!r} THEN 1.0 ELSE 0.0 END) AS name_dob_recall
        FROM g JOIN anchors AS s ON s.unit_a = g.unit_a AND s.unit_b = g.unit_b
        GROUP BY g.grp
    """).df()
    valid = con.sql(f"""
        SELECT {gu} AS grp, COUNT(*) AS units,
               AVG(CASE WHEN u.ssn_status = 'valid' THEN 1.0 ELSE 0.0 END) AS valid_share
        FROM {p}_units AS u GROUP BY {gu}
    """).df()
    out = valid.merge(prec, on="grp", how="outer").merge(rec, on="grp", how="outer")
    for c in ("units", "linked_pairs", "anchor_pairs"):
        out[c] = out[c].fillna(0).astype("int64")
    out["est_precision"] = (1 - out["sex_disagree_share"].astype(float) / chance).clip(0, 1)
    out["share_without_ssn"] = 1 - out["valid_share"].astype(float) ** 2
    out["est_recall"] = 1 - out["share_without_ssn"] * (1 - out["name_dob_recall"].astype(float))
    out["est_missed_share"] = 1 - out["est_recall"]
    out = out.rename(columns={"grp": "group"}).sort_values("group").reset_index(drop=True)
    return out[["group", "units", "linked_pairs", "sex_disagree_share", "est_precision", "anchor_pairs",
                "name_dob_recall", "share_without_ssn", "est_recall", "est_missed_share"]]


@quiet
def clerical_review_sample(con, *, prefix: str = "mpi", n: int = 12, band: float = 5.0) -> pd.DataFrame:
    """Candidate pairs near the threshold, side by side, for a clerical review.

    Returns up to ``n`` pairs decided by the probabilistic rule whose weight lies within ``band`` of
    the threshold: half just above it (linked), half just below (not linked), with both units'
    identifiers and sex. The order is fixed (closest to the threshold first, then unit ids), so the
    sample is the same on every run. In a real enclave the reviewers see the identifiers; a report
    shows only the tallies of their decisions.
    """
    p = _check_name(prefix, "prefix")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be a whole number of at least 2, got {n!r}")
    thr = threshold_used(con, prefix=p)
    cols = ("a.source_table AS source_a, b.source_table AS source_b, a.ssn_raw AS ssn_a, b.ssn_raw AS ssn_b, "
            "a.first_name AS first_a, b.first_name AS first_b, a.last_name AS last_a, b.last_name AS last_b, "
            "a.dob AS dob_a, b.dob AS dob_b, a.sex AS sex_a, b.sex AS sex_b")
    return con.sql(f"""
        WITH s AS (
            SELECT s.*, CASE WHEN s.weight >= {thr!r} THEN 'linked' ELSE 'not linked' END AS decision,
                   ROW_NUMBER() OVER (PARTITION BY CASE WHEN s.weight >= {thr!r} THEN 1 ELSE 0 END
                                      ORDER BY ABS(s.weight - {thr!r}), s.unit_a, s.unit_b) AS k
            FROM {p}_scored AS s
            WHERE ABS(s.weight - {thr!r}) <= {float(band)!r} AND NOT ({_DETERMINISTIC})
        )
        SELECT s.decision, ROUND(s.weight, 1) AS weight, {cols}
        FROM s JOIN {p}_units AS a ON a.unit_id = s.unit_a JOIN {p}_units AS b ON b.unit_id = s.unit_b
        WHERE s.k <= {n // 2}
        ORDER BY s.decision, s.weight DESC, s.unit_a, s.unit_b
    """).df()


def _table_exists(con, name: str) -> bool:
    return bool(_scalar(con, f"SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '{name}'"))


# ----------------------------------------------------------------------------------- truth checks
@quiet
def mpi_quality(con, *, prefix: str = "mpi", by: str | None = None) -> pd.DataFrame:
    """Compare the MPI with the hidden truth (**instructor/test tool**: needs ``truth=True``).

    Each identity unit takes the true person of most of its records (``truth.crosswalk``). Pairs are
    counted over identity units, without listing them: a pair of units is *predicted* when both have
    the same ``mpi_id`` and *true* when both belong to the same person.

    Parameters
    ----------
    by : {None, "sex", "race_ethnicity", "education", "age_band", "state_fips"}
        Recall by an attribute of the true person (``age_band``: age at the start of 2020, in bands;
        ``state_fips``: the state holding the unit). Precision and over-linking are
        reported for the whole MPI only (a false pair has two people).

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group, true_pairs, predicted_pairs, true_positive_pairs, precision,
        recall, f1, persons, under_linked_persons, under_linking_rate, mpi_persons,
        over_linked_mpi_persons, over_linking_rate, impure_units``.
    """
    p = _check_name(prefix, "prefix")
    _require_truth(con)
    groups = {
        None: "'all'",
        "sex": "tp.sex",
        "race_ethnicity": "tp.race_ethnicity",
        "education": "tp.education",
        "age_band": age_band_sql("tp.dob"),
        "state_fips": "ut.state_fips",
    }
    if by not in groups:
        raise ValueError(f"by must be one of {list(groups)}, got {by!r}")
    con.sql(f"""
        CREATE OR REPLACE TEMP TABLE _dl_unit_truth AS
        WITH rp AS (
            SELECT r.unit_id, c.person_id, COUNT(*) AS n
            FROM {p}_records AS r
            JOIN truth.crosswalk AS c ON c.source_table = r.source_table AND c.record_id = r.record_id
            GROUP BY r.unit_id, c.person_id
        ),
        ranked AS (
            SELECT unit_id, person_id,
                   ROW_NUMBER() OVER (PARTITION BY unit_id ORDER BY n DESC, person_id) AS k,
                   COUNT(*) OVER (PARTITION BY unit_id) AS n_people
            FROM rp
        )
        SELECT k.unit_id, k.person_id, k.n_people, x.mpi_id, u.state_fips
        FROM ranked AS k
        JOIN {p}_unit_index AS x ON x.unit_id = k.unit_id
        JOIN {p}_units AS u ON u.unit_id = k.unit_id
        WHERE k.k = 1
    """)
    g = groups[by]
    out = con.sql(f"""
        WITH ut AS (SELECT * FROM _dl_unit_truth),
        cell AS (
            SELECT ut.person_id, ut.mpi_id, COUNT(*) AS n FROM ut GROUP BY ut.person_id, ut.mpi_id
        ),
        person AS (
            SELECT {g} AS grp, ut.person_id, COUNT(*) AS n, COUNT(DISTINCT ut.mpi_id) AS n_mpi
            FROM ut JOIN truth.person AS tp ON tp.person_id = ut.person_id
            GROUP BY {g}, ut.person_id
        ),
        tp_pairs AS (
            SELECT pe.grp, SUM(c.n * (c.n - 1) / 2) AS tp
            FROM cell AS c JOIN (SELECT DISTINCT grp, person_id FROM person) AS pe ON pe.person_id = c.person_id
            GROUP BY pe.grp
        ),
        by_group AS (
            SELECT grp, SUM(n * (n - 1) / 2) AS true_pairs, COUNT(*) AS persons,
                   SUM(CASE WHEN n_mpi > 1 THEN 1 ELSE 0 END) AS under_linked_persons
            FROM person GROUP BY grp
        )
        SELECT b.grp AS "group", b.true_pairs, t.tp AS true_positive_pairs, b.persons, b.under_linked_persons
        FROM by_group AS b JOIN tp_pairs AS t ON t.grp = b.grp
        ORDER BY b.grp
    """).df()
    whole = con.sql("""
        WITH m AS (SELECT mpi_id, COUNT(*) AS n, COUNT(DISTINCT person_id) AS n_people FROM _dl_unit_truth GROUP BY mpi_id),
        c AS (SELECT person_id, mpi_id, COUNT(*) AS n FROM _dl_unit_truth GROUP BY person_id, mpi_id)
        SELECT (SELECT SUM(n * (n - 1) / 2) FROM m) AS predicted_pairs,
               (SELECT SUM(n * (n - 1) / 2) FROM c) AS tp_all,
               (SELECT COUNT(*) FROM m) AS mpi_persons,
               (SELECT SUM(CASE WHEN n_people > 1 THEN 1 ELSE 0 END) FROM m) AS over_linked_mpi_persons,
               (SELECT SUM(CASE WHEN n_people > 1 THEN 1 ELSE 0 END) FROM _dl_unit_truth) AS impure_units
    """).df().iloc[0]
    con.sql("DROP TABLE IF EXISTS _dl_unit_truth")
    pred = float(whole["predicted_pairs"] or 0)
    precision = float(whole["tp_all"]) / pred if pred else float("nan")
    out["predicted_pairs"] = int(pred)
    out["precision"] = precision
    out["recall"] = out["true_positive_pairs"].astype(float) / out["true_pairs"].where(out["true_pairs"] > 0)
    out["f1"] = 2 * out["precision"] * out["recall"] / (out["precision"] + out["recall"])
    out["under_linking_rate"] = out["under_linked_persons"] / out["persons"]
    out["mpi_persons"] = int(whole["mpi_persons"])
    out["over_linked_mpi_persons"] = int(whole["over_linked_mpi_persons"] or 0)
    out["over_linking_rate"] = out["over_linked_mpi_persons"] / out["mpi_persons"]
    out["impure_units"] = int(whole["impure_units"] or 0)
    cols = ["group", "true_pairs", "predicted_pairs", "true_positive_pairs", "precision", "recall", "f1",
            "persons", "under_linked_persons", "under_linking_rate", "mpi_persons", "over_linked_mpi_persons",
            "over_linking_rate", "impure_units"]
    for c in ("true_pairs", "true_positive_pairs", "persons", "under_linked_persons"):
        out[c] = out[c].astype("int64")
    return out[cols]


# ----------------------------------------------------------------------------------- procurement
def _norm_name_sql(col: str) -> str:
    """Portable SQL normalizing a business name: upper case, no DBA part, punctuation, 'THE' or suffix."""
    n = f"UPPER(TRIM({col}))"
    n = f"CASE WHEN POSITION(' DBA ' IN {n}) > 0 THEN SUBSTRING({n}, 1, POSITION(' DBA ' IN {n}) - 1) ELSE {n} END"
    n = f"REPLACE(REPLACE(REPLACE({n}, '.', ''), ',', ''), 'L L C', 'LLC')"
    n = f"TRIM(CASE WHEN {n} LIKE 'THE %' THEN SUBSTRING({n}, 5) ELSE {n} END)"
    return (f"TRIM(CASE WHEN {n} LIKE '% LLC' OR {n} LIKE '% INC' THEN SUBSTRING({n}, 1, LENGTH({n}) - 4) "
            f"ELSE {n} END)")


@quiet
def build_business_index(con, *, prefix: str = "biz") -> pd.DataFrame:
    """Link the three procurement files into one ``business_key`` per firm.

    Steps (each a workspace table):

    ``{prefix}_records``
        every vendor record with a standard key: ``source_table`` (``vendor_comptroller``,
        ``vendor_dot`` or ``cert_registry``), ``source_key`` (vendor number, contractor id as text,
        certification number), ``ein9`` (nine digits: the comptroller's FEIN without the dash, the
        transportation registry's number left-padded with the zeros it lost; none for the
        registry), ``name_key`` (the name upper-cased without a DBA part, punctuation, a leading
        "THE" or a trailing LLC/INC) and ``zip``.
    ``{prefix}_links``
        pairs of records that share an EIN, or the same ``name_key`` and ZIP code.
    ``{prefix}_index``
        ``source_table, source_key, business_key`` (connected groups of linked records).

    Returns
    -------
    pandas.DataFrame
        Per source: records, records linked to another record, and the share linked.
    """
    p = _check_name(prefix, "prefix")
    con.sql(f"""
        CREATE OR REPLACE TABLE {p}_records AS
        SELECT ROW_NUMBER() OVER (ORDER BY source_table, source_key) AS rec_id, r.*
        FROM (
            SELECT 'vendor_comptroller' AS source_table, vendor_number AS source_key,
                   REPLACE(fein, '-', '') AS ein9, {_norm_name_sql('legal_name')} AS name_key,
                   legal_name AS name_as_recorded, zip
            FROM vendor_comptroller
            UNION ALL
            SELECT 'vendor_dot', CAST(contractor_id AS VARCHAR),
                   LPAD(CAST(tax_id AS VARCHAR), 9, '0'), {_norm_name_sql('business_name')}, business_name, zip
            FROM vendor_dot
            UNION ALL
            SELECT 'cert_registry', certification_number, CAST(NULL AS VARCHAR),
                   {_norm_name_sql('firm_name')}, firm_name, zip
            FROM cert_registry
        ) AS r
    """)
    con.sql(f"""
        CREATE OR REPLACE TABLE {p}_links AS
        SELECT a.rec_id AS rec_a, b.rec_id AS rec_b, 'ein' AS rule
        FROM {p}_records AS a JOIN {p}_records AS b ON a.ein9 = b.ein9 AND a.rec_id < b.rec_id
        UNION
        SELECT a.rec_id, b.rec_id, 'name_zip'
        FROM {p}_records AS a JOIN {p}_records AS b
          ON a.name_key = b.name_key AND a.zip = b.zip AND a.rec_id < b.rec_id
    """)
    recs = con.sql(f"SELECT rec_id FROM {p}_records ORDER BY rec_id").df()["rec_id"].to_numpy()
    links = con.sql(f"SELECT rec_a, rec_b FROM {p}_links").df()
    key = _components(recs, links["rec_a"].to_numpy(), links["rec_b"].to_numpy())
    con.register("_dl_biz_df", pd.DataFrame({"rec_id": recs, "business_key": key}))
    con.sql(f"""
        CREATE OR REPLACE TABLE {p}_index AS
        SELECT r.source_table, r.source_key, k.business_key
        FROM {p}_records AS r JOIN _dl_biz_df AS k ON k.rec_id = r.rec_id
    """)
    con.unregister("_dl_biz_df")
    return con.sql(f"""
        WITH sizes AS (SELECT business_key, COUNT(*) AS n FROM {p}_index GROUP BY business_key)
        SELECT i.source_table, COUNT(*) AS records,
               CAST(SUM(CASE WHEN s.n > 1 THEN 1 ELSE 0 END) AS BIGINT) AS linked_records,
               AVG(CASE WHEN s.n > 1 THEN 1.0 ELSE 0.0 END) AS share_linked
        FROM {p}_index AS i JOIN sizes AS s ON s.business_key = i.business_key
        GROUP BY i.source_table ORDER BY i.source_table
    """).df()


@quiet
def business_contracts(con) -> pd.DataFrame:
    """Contract awards per linked firm, with its certification and size (the ``pr_analysis`` table).

    Runs the procurement pipeline (:func:`track_pipeline` ``("procurement")``) on the business index
    :func:`build_business_index` made. Each contract's vendor key is looked up in the system it names
    (``source_system``). A firm is *certified minority-owned* when any of its registry records is an
    MBE or MWBE certification; its size class comes from the UI employer file, matched on EIN.

    Returns
    -------
    pandas.DataFrame
        ``business_key, name, vendor_records, certified, minority_certified, size_class, contracts,
        contract_dollars`` for every firm in the index (firms without awards have 0).
    """
    run_pipeline(con, track_pipeline("procurement"))
    return con.sql("SELECT * FROM pr_analysis ORDER BY business_key").df()


@quiet
def business_index_quality(con, *, prefix: str = "biz") -> pd.DataFrame:
    """Compare the business index with the hidden truth (**instructor/test tool**: ``truth=True``).

    Pairs of vendor records are counted over ``truth.business_crosswalk``. When the procurement
    pipeline has run (``pr_analysis`` exists), also compares the contract dollars of certified
    minority-owned firms found through the index with the truth (firms that are ``certified`` and
    ``minority_owned`` in ``truth.business``); otherwise ``minority_dollars_index`` is NaN.

    Returns
    -------
    pandas.DataFrame
        One row: ``true_pairs, predicted_pairs, true_positive_pairs, precision, recall,
        businesses, under_linked_businesses, over_linked_keys, minority_dollars_index,
        minority_dollars_truth, cert_records_matched_to_vendor, cert_records``.
    """
    p = _check_name(prefix, "prefix")
    _require_truth(con)
    row = con.sql(f"""
        WITH x AS (
            SELECT i.source_table, i.source_key, i.business_key, t.business_id
            FROM {p}_index AS i
            JOIN truth.business_crosswalk AS t ON t.source_table = i.source_table AND t.source_key = i.source_key
        ),
        cell AS (SELECT business_key, business_id, COUNT(*) AS n FROM x GROUP BY business_key, business_id),
        k AS (SELECT business_key, COUNT(*) AS n, COUNT(DISTINCT business_id) AS ids FROM x GROUP BY business_key),
        b AS (SELECT business_id, COUNT(*) AS n, COUNT(DISTINCT business_key) AS keys FROM x GROUP BY business_id)
        SELECT (SELECT SUM(n * (n - 1) / 2) FROM b) AS true_pairs,
               (SELECT SUM(n * (n - 1) / 2) FROM k) AS predicted_pairs,
               (SELECT SUM(n * (n - 1) / 2) FROM cell) AS true_positive_pairs,
               (SELECT COUNT(*) FROM b) AS businesses,
               (SELECT SUM(CASE WHEN keys > 1 THEN 1 ELSE 0 END) FROM b) AS under_linked_businesses,
               (SELECT SUM(CASE WHEN ids > 1 THEN 1 ELSE 0 END) FROM k) AS over_linked_keys
    """).df().iloc[0].to_dict()
    truth_dollars = _scalar(con, """
        SELECT COALESCE(SUM(c.amount), 0)
        FROM contract AS c
        JOIN truth.business_crosswalk AS x
          ON x.source_key = c.vendor_key
         AND x.source_table = CASE c.source_system WHEN 'dot' THEN 'vendor_dot' ELSE 'vendor_comptroller' END
        JOIN truth.business AS b ON b.business_id = x.business_id
        WHERE b.certified AND b.minority_owned
    """)
    index_dollars = _scalar(con, "SELECT COALESCE(SUM(contract_dollars), 0) FROM pr_analysis WHERE minority_certified") \
        if _table_exists(con, "pr_analysis") else float("nan")
    cert = con.sql(f"""
        WITH sizes AS (
            SELECT business_key, SUM(CASE WHEN source_table <> 'cert_registry' THEN 1 ELSE 0 END) AS vendor_records
            FROM {p}_index GROUP BY business_key)
        SELECT COUNT(*) AS cert_records, SUM(CASE WHEN s.vendor_records > 0 THEN 1 ELSE 0 END) AS matched
        FROM {p}_index AS i JOIN sizes AS s ON s.business_key = i.business_key
        WHERE i.source_table = 'cert_registry'
    """).fetchall()[0]
    out = {k: (int(v) if v is not None else 0) for k, v in row.items()}
    out["precision"] = out["true_positive_pairs"] / out["predicted_pairs"] if out["predicted_pairs"] else float("nan")
    out["recall"] = out["true_positive_pairs"] / out["true_pairs"] if out["true_pairs"] else float("nan")
    out["minority_dollars_index"] = float(index_dollars)
    out["minority_dollars_truth"] = float(truth_dollars)
    out["cert_records_matched_to_vendor"] = int(cert[1] or 0)
    out["cert_records"] = int(cert[0] or 0)
    cols = ["true_pairs", "predicted_pairs", "true_positive_pairs", "precision", "recall", "businesses",
            "under_linked_businesses", "over_linked_keys", "minority_dollars_index", "minority_dollars_truth",
            "cert_records_matched_to_vendor", "cert_records"]
    return pd.DataFrame([{c: out[c] for c in cols}])


# ----------------------------------------------------------------------------------- pipeline
@dataclass(frozen=True)
class PipelineStep:
    """One named step of a reproducible pipeline: a SQL ``SELECT`` saved as a view or a table."""

    name: str
    sql: str
    kind: str = "table"
    description: str = ""

    def __post_init__(self):
        _check_name(self.name, "a step name")
        if self.kind not in ("table", "view"):
            raise ValueError(f"a step's kind is 'table' or 'view', got {self.kind!r}")
        if not isinstance(self.sql, str) or not self.sql.strip():
            raise ValueError(f"step {self.name!r} has no SQL")

    def statement(self) -> str:
        """The ``CREATE OR REPLACE`` statement that saves the step."""
        return f"CREATE OR REPLACE {self.kind.upper()} {self.name} AS\n{_dedent(self.sql)}"


def _dedent(sql: str) -> str:
    import textwrap

    return textwrap.dedent(sql).strip("\n")


@quiet
def run_pipeline(con, steps: Sequence[PipelineStep]) -> pd.DataFrame:
    """Run pipeline steps in order on ``con``, saving each as a view or table.

    Running the same steps on the same extracts gives the same tables: the pipeline is the
    documentation of how the analysis table was made. Steps only read earlier steps and the
    source tables.

    Returns
    -------
    pandas.DataFrame
        The run log: ``step, name, kind, rows, description``.
    """
    if isinstance(steps, PipelineStep) or not isinstance(steps, Sequence):
        raise TypeError(f"steps must be a list of PipelineStep, got {type(steps).__name__}")
    log = []
    for i, step in enumerate(steps, 1):
        if not isinstance(step, PipelineStep):
            raise TypeError(f"step {i} is a {type(step).__name__}, not a PipelineStep")
        con.sql(step.statement())
        rows = int(_scalar(con, f"SELECT COUNT(*) FROM {step.name}"))
        log.append({"step": i, "name": step.name, "kind": step.kind, "rows": rows, "description": step.description})
    return pd.DataFrame(log, columns=["step", "name", "kind", "rows", "description"])


def pipeline_script(steps: Sequence[PipelineStep]) -> str:
    """The steps as one SQL script (statements separated by ``;``), to keep under version control."""
    parts = []
    for step in steps:
        if step.description:
            parts.append(f"-- {step.name}: {step.description}")
        parts.append(step.statement() + ";")
    return "\n\n".join(parts) + "\n"


#: The analysis table each track's pipeline ends with.
ANALYSIS_TABLES: dict[str, str] = {
    "safety_net": "sn_analysis",
    "workforce": "wf_analysis",
    "student_outcomes": "so_analysis",
    "procurement": "pr_analysis",
}


def _person_steps(m: str) -> list[PipelineStep]:
    return [
        PipelineStep("mpi_person", f"""
            SELECT x.mpi_id, MIN(u.sex) AS sex, MIN(u.dob) AS dob, {age_band_sql('MIN(u.dob)')} AS age_band,
                   COUNT(DISTINCT u.source_table) AS n_sources,
                   MAX(CASE WHEN u.ssn IS NOT NULL THEN 1 ELSE 0 END) AS has_valid_ssn
            FROM {m}_unit_index AS x JOIN {m}_units AS u ON u.unit_id = x.unit_id
            GROUP BY x.mpi_id
        """, description="one row per MPI person: sex, date of birth, age band, sources, any valid SSN"),
        PipelineStep("mpi_ssns", f"""
            SELECT DISTINCT x.mpi_id, u.ssn
            FROM {m}_unit_index AS x JOIN {m}_units AS u ON u.unit_id = x.unit_id
            WHERE u.ssn IS NOT NULL
        """, description="every valid SSN recorded for an MPI person (the keys to the wage records)"),
    ]


def _wage_step(name: str, people: str) -> PipelineStep:
    return PipelineStep(name, f"""
        SELECT s.mpi_id, w.state_fips AS wage_state, w.year * 4 + w.quarter - 1 AS quarter_index,
               SUM(w.wages) AS wages
        FROM ui_wage AS w
        JOIN mpi_ssns AS s ON s.ssn = w.ssn
        WHERE s.mpi_id IN (SELECT mpi_id FROM {people})
        GROUP BY s.mpi_id, w.state_fips, w.year * 4 + w.quarter - 1
    """, description="wages per person, state file and quarter, through any of the person's SSNs")


def track_pipeline(track: str, *, mpi: str = "mpi") -> list[PipelineStep]:
    """The steps from the raw extracts (and the MPI or business index) to a track's analysis table.

    Needs the MPI (:func:`build_mpi` with ``prefix=mpi``) for the person tracks, or the business
    index (:func:`build_business_index`, prefix ``biz``) for ``procurement``. The last step is
    :data:`ANALYSIS_TABLES` ``[track]``:

    - ``safety_net`` → ``sn_analysis``: one row per SNAP case closure at least four months before the
      end of the file, with ``churned`` (the same MPI person opens another SNAP case within four
      months), ``on_tanf`` (on TANF during the spell) and, for real exits, ``employed_q2`` (0 when the
      head has no valid SSN anywhere: not linkable, so not found).
    - ``workforce`` → ``wf_analysis``: one row per UI claim filed at least two quarters before the
      last wage quarter: ``employed_q2`` (any state's file), ``employed_q2_home`` and
      ``cross_state_only``, ``earnings_q2``.
    - ``student_outcomes`` → ``so_analysis``: one row per credential awarded at least four quarters
      before the last wage quarter: ``employed_q4``, ``employed_q4_home``, ``cross_state_only``,
      ``earnings_q4``.
    - ``procurement`` → ``pr_analysis``: one row per linked firm with certification, size class,
      contracts and contract dollars.

    Person tables also carry ``linkable`` (the MPI person has a valid SSN, so wages can be looked up)
    and ``own_ssn_valid`` (the record's own SSN is valid: what a link without the MPI would use).
    """
    _check_track(track)
    m = _check_name(mpi, "mpi")
    if track == "procurement":
        return [
            PipelineStep("pr_awards", """
                SELECT c.contract_id, c.awarding_agency, c.source_system, c.award_date, c.amount, i.business_key
                FROM contract AS c
                LEFT JOIN biz_index AS i
                  ON i.source_key = c.vendor_key
                 AND i.source_table = CASE c.source_system WHEN 'dot' THEN 'vendor_dot' ELSE 'vendor_comptroller' END
            """, description="each contract award with the linked firm's business_key"),
            PipelineStep("pr_analysis", """
                WITH awards AS (
                    SELECT business_key, COUNT(*) AS contracts, SUM(amount) AS contract_dollars
                    FROM pr_awards WHERE business_key IS NOT NULL GROUP BY business_key
                ),
                cert AS (
                    SELECT i.business_key,
                           MAX(CASE WHEN r.certification_type IN ('MBE', 'MWBE') THEN 1 ELSE 0 END) AS minority
                    FROM biz_index AS i JOIN cert_registry AS r ON r.certification_number = i.source_key
                    WHERE i.source_table = 'cert_registry'
                    GROUP BY i.business_key
                ),
                firm AS (
                    SELECT i.business_key, MIN(r.name_key) AS name, MIN(r.ein9) AS ein9,
                           SUM(CASE WHEN r.source_table <> 'cert_registry' THEN 1 ELSE 0 END) AS vendor_records
                    FROM biz_index AS i
                    JOIN biz_records AS r ON r.source_table = i.source_table AND r.source_key = i.source_key
                    GROUP BY i.business_key
                ),
                size AS (SELECT ein, MAX(size_class) AS size_class FROM employer GROUP BY ein)
                SELECT f.business_key, f.name, f.vendor_records,
                       CASE WHEN c.business_key IS NOT NULL THEN TRUE ELSE FALSE END AS certified,
                       CASE WHEN c.minority = 1 THEN TRUE ELSE FALSE END AS minority_certified,
                       s.size_class,
                       COALESCE(a.contracts, 0) AS contracts,
                       COALESCE(a.contract_dollars, 0) AS contract_dollars
                FROM firm AS f
                LEFT JOIN awards AS a ON a.business_key = f.business_key
                LEFT JOIN cert AS c ON c.business_key = f.business_key
                LEFT JOIN size AS s ON s.ein = f.ein9
            """, description="one row per linked firm: certification, size class, contracts and dollars"),
        ]
    steps = _person_steps(m)
    if track == "safety_net":
        month = "CAST(FLOOR({c} / 100) * 12 + MOD({c}, 100) - 1 AS INTEGER)"
        steps += [
            PipelineStep("sn_case_months", f"""
                SELECT 'snap' AS program, s.case_id, s.state_fips, s.county_fips, x.mpi_id,
                       {month.format(c='s.file_month')} AS month_index
                FROM snap AS s JOIN {m}_index AS x ON x.source_table = 'snap' AND x.record_id = s.record_id
                UNION ALL
                SELECT 'tanf', t.case_id, t.state_fips, t.county_fips, x.mpi_id,
                       {month.format(c='t.reporting_month')}
                FROM tanf AS t JOIN {m}_index AS x ON x.source_table = 'tanf' AND x.record_id = t.record_id
            """, kind="view", description="SNAP and TANF case-months with the head's MPI id (month index = year*12 + month - 1)"),
            PipelineStep("sn_spells", """
                SELECT program, case_id, MIN(state_fips) AS state_fips, MIN(county_fips) AS county_fips,
                       MIN(mpi_id) AS mpi_id, MIN(month_index) AS first_month, MAX(month_index) AS last_month
                FROM sn_case_months
                GROUP BY program, case_id
            """, description="one row per case (a spell on one program)"),
            _wage_step("sn_wage_quarters", "sn_spells"),
            PipelineStep("sn_analysis", """
                WITH ends AS (
                    SELECT (SELECT MAX(month_index) FROM sn_case_months WHERE program = 'snap') AS last_file_month,
                           (SELECT MAX(quarter_index) FROM sn_wage_quarters) AS last_wage_quarter
                ),
                closures AS (
                    SELECT c.*,
                           CASE WHEN EXISTS (
                               SELECT 1 FROM sn_spells AS s2
                               WHERE s2.program = 'snap' AND s2.mpi_id = c.mpi_id AND s2.case_id <> c.case_id
                                 AND s2.first_month BETWEEN c.last_month + 1 AND c.last_month + 4)
                                THEN 1 ELSE 0 END AS churned,
                           CASE WHEN EXISTS (
                               SELECT 1 FROM sn_case_months AS t
                               WHERE t.program = 'tanf' AND t.mpi_id = c.mpi_id
                                 AND t.month_index BETWEEN c.first_month AND c.last_month)
                                THEN 1 ELSE 0 END AS on_tanf,
                           CAST(FLOOR(c.last_month / 3) AS INTEGER) AS exit_quarter
                    FROM sn_spells AS c, ends
                    WHERE c.program = 'snap' AND c.last_month <= ends.last_file_month - 4
                )
                SELECT c.case_id, c.mpi_id, c.state_fips, c.county_fips,
                       CAST(FLOOR(c.last_month / 12) AS INTEGER) AS closure_year,
                       p.sex, p.age_band, p.has_valid_ssn AS linkable, c.churned, c.on_tanf,
                       CASE WHEN c.churned = 1 OR c.exit_quarter + 2 > (SELECT last_wage_quarter FROM ends) THEN NULL
                            WHEN EXISTS (SELECT 1 FROM sn_wage_quarters AS w
                                         WHERE w.mpi_id = c.mpi_id AND w.quarter_index = c.exit_quarter + 2
                                           AND w.wages > 0) THEN 1 ELSE 0 END AS employed_q2
                FROM closures AS c JOIN mpi_person AS p ON p.mpi_id = c.mpi_id
            """, description="one row per SNAP closure: churn, TANF co-enrollment, employment after a real exit"),
        ]
    elif track == "workforce":
        steps += [
            PipelineStep("wf_claims", f"""
                SELECT c.claim_id, c.state_fips, c.county_fips, c.sex, c.education, c.naics_sector, x.mpi_id,
                       {age_band_sql('c.dob')} AS age_band,
                       CAST(EXTRACT(YEAR FROM c.date_filed) * 4 + EXTRACT(QUARTER FROM c.date_filed) - 1 AS INTEGER)
                           AS filed_quarter,
                       {ssn_status_sql('c.ssn')} = 'valid' AS own_ssn_valid
                FROM ui_claim AS c
                JOIN {m}_index AS x ON x.source_table = 'ui_claim' AND x.record_id = c.record_id
            """, description="each UI claim with the claimant's MPI id and filing quarter"),
            _wage_step("wf_wage_quarters", "wf_claims"),
            PipelineStep("wf_analysis", """
                WITH q2 AS (
                    SELECT c.claim_id,
                           SUM(w.wages) AS earnings_q2,
                           MAX(CASE WHEN w.wage_state = c.state_fips AND w.wages > 0 THEN 1 ELSE 0 END) AS home
                    FROM wf_claims AS c
                    JOIN wf_wage_quarters AS w ON w.mpi_id = c.mpi_id AND w.quarter_index = c.filed_quarter + 2
                    GROUP BY c.claim_id
                )
                SELECT c.claim_id, c.mpi_id, c.state_fips, c.county_fips, c.sex, c.education, c.naics_sector,
                       c.age_band, c.filed_quarter, c.own_ssn_valid, p.has_valid_ssn AS linkable,
                       CASE WHEN COALESCE(q2.earnings_q2, 0) > 0 THEN 1 ELSE 0 END AS employed_q2,
                       COALESCE(q2.home, 0) AS employed_q2_home,
                       CASE WHEN COALESCE(q2.earnings_q2, 0) > 0 AND COALESCE(q2.home, 0) = 0 THEN 1 ELSE 0 END
                           AS cross_state_only,
                       COALESCE(q2.earnings_q2, 0) AS earnings_q2
                FROM wf_claims AS c
                JOIN mpi_person AS p ON p.mpi_id = c.mpi_id
                LEFT JOIN q2 ON q2.claim_id = c.claim_id
                WHERE c.filed_quarter + 2 <= (SELECT MAX(quarter_index) FROM wf_wage_quarters)
            """, description="one row per claim: employed in the 2nd quarter after filing, home state or across a line"),
        ]
    else:  # student_outcomes
        steps += [
            PipelineStep("so_awards", f"""
                SELECT c.record_id, c.institution_id, i.state_fips, c.degree_level, c.cip_code, x.mpi_id,
                       {age_band_sql('c.dob')} AS age_band,
                       CAST(EXTRACT(YEAR FROM c.award_date) * 4 + EXTRACT(QUARTER FROM c.award_date) - 1 AS INTEGER)
                           AS award_quarter,
                       {ssn_status_sql('c.ssn')} = 'valid' AS own_ssn_valid
                FROM postsec_completion AS c
                JOIN institution AS i ON i.institution_id = c.institution_id
                JOIN {m}_index AS x ON x.source_table = 'postsec_completion' AND x.record_id = c.record_id
            """, description="each credential awarded, with the institution's state and the MPI id"),
            _wage_step("so_wage_quarters", "so_awards"),
            PipelineStep("so_analysis", """
                WITH q4 AS (
                    SELECT a.record_id,
                           SUM(w.wages) AS earnings_q4,
                           MAX(CASE WHEN w.wage_state = a.state_fips AND w.wages > 0 THEN 1 ELSE 0 END) AS home
                    FROM so_awards AS a
                    JOIN so_wage_quarters AS w ON w.mpi_id = a.mpi_id AND w.quarter_index = a.award_quarter + 4
                    GROUP BY a.record_id
                )
                SELECT a.record_id, a.mpi_id, a.institution_id, a.state_fips, a.degree_level, a.cip_code,
                       p.sex, a.age_band, a.award_quarter, a.own_ssn_valid, p.has_valid_ssn AS linkable,
                       CASE WHEN COALESCE(q4.earnings_q4, 0) > 0 THEN 1 ELSE 0 END AS employed_q4,
                       COALESCE(q4.home, 0) AS employed_q4_home,
                       CASE WHEN COALESCE(q4.earnings_q4, 0) > 0 AND COALESCE(q4.home, 0) = 0 THEN 1 ELSE 0 END
                           AS cross_state_only,
                       COALESCE(q4.earnings_q4, 0) AS earnings_q4
                FROM so_awards AS a
                JOIN mpi_person AS p ON p.mpi_id = a.mpi_id
                LEFT JOIN q4 ON q4.record_id = a.record_id
                WHERE a.award_quarter + 4 <= (SELECT MAX(quarter_index) FROM so_wage_quarters)
            """, description="one row per award: employed in the 4th quarter after, home state or across a line"),
        ]
    return steps


@quiet
def prepare_track(con, track: str, *, threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Build the MPI (or, for procurement, the business index) and run the track's pipeline.

    A one-call set-up for later units (equity, story, action plan). Returns the pipeline's run log;
    the analysis table is :data:`ANALYSIS_TABLES` ``[track]``.
    """
    _check_track(track)
    if track == "procurement":
        build_business_index(con)
    else:
        build_mpi(con, threshold=threshold)
    return run_pipeline(con, track_pipeline(track))


@quiet
def wage_link_coverage(con, track: str) -> pd.DataFrame:
    """How many of the track's records can reach the wage records, by their own SSN and through the MPI.

    Needs the track's analysis table (:func:`prepare_track`). Not defined for ``procurement``.

    Returns
    -------
    pandas.DataFrame
        ``state_fips, records, own_ssn_valid, via_mpi`` (the last two are shares).
    """
    _check_track(track)
    if track == "procurement":
        raise ValueError("wage_link_coverage is for the person tracks; procurement links firms, not people")
    table = ANALYSIS_TABLES[track]
    if track == "safety_net":
        own = f"""(SELECT CASE WHEN {ssn_status_sql('s.head_ssn')} = 'valid' THEN 1.0 ELSE 0.0 END
                  FROM snap AS s WHERE s.case_id = a.case_id LIMIT 1)"""
    else:
        own = "CASE WHEN a.own_ssn_valid THEN 1.0 ELSE 0.0 END"
    return con.sql(f"""
        SELECT COALESCE(a.state_fips, 'all') AS state_fips, COUNT(*) AS records,
               AVG({own}) AS own_ssn_valid, AVG(a.linkable * 1.0) AS via_mpi
        FROM {table} AS a
        GROUP BY ROLLUP (a.state_fips)
        ORDER BY 1
    """).df()


@quiet
def estimate_business_error(con, *, prefix: str = "biz") -> pd.DataFrame:
    """Signals of linkage error in the business index, from the data alone.

    - ``ein_links_name_differs``: links made on EIN whose standardized names differ (a name change,
      a DBA, or a wrong EIN).
    - ``name_links_ein_conflict``: links made on name and ZIP where both records carry *different*
      EINs (almost surely two firms: a false link).
    - ``cert_unmatched``: certification records linked to no vendor record (firms that may be missed,
      or certified firms that never registered as vendors).

    Returns
    -------
    pandas.DataFrame
        ``signal, count, out_of, share``.
    """
    p = _check_name(prefix, "prefix")
    rows = con.sql(f"""
        WITH l AS (
            SELECT k.rule, a.name_key AS name_a, b.name_key AS name_b, a.ein9 AS ein_a, b.ein9 AS ein_b
            FROM {p}_links AS k JOIN {p}_records AS a ON a.rec_id = k.rec_a JOIN {p}_records AS b ON b.rec_id = k.rec_b
        ),
        sizes AS (
            SELECT business_key, SUM(CASE WHEN source_table <> 'cert_registry' THEN 1 ELSE 0 END) AS vendor_records
            FROM {p}_index GROUP BY business_key
        )
        SELECT 'ein_links_name_differs' AS signal,
               (SELECT COUNT(*) FROM l WHERE rule = 'ein' AND name_a <> name_b) AS n,
               (SELECT COUNT(*) FROM l WHERE rule = 'ein') AS out_of
        UNION ALL
        SELECT 'name_links_ein_conflict',
               (SELECT COUNT(*) FROM l WHERE rule = 'name_zip' AND ein_a IS NOT NULL AND ein_b IS NOT NULL
                                         AND ein_a <> ein_b),
               (SELECT COUNT(*) FROM l WHERE rule = 'name_zip')
        UNION ALL
        SELECT 'cert_unmatched',
               (SELECT COUNT(*) FROM {p}_index AS i JOIN sizes AS s ON s.business_key = i.business_key
                WHERE i.source_table = 'cert_registry' AND s.vendor_records = 0),
               (SELECT COUNT(*) FROM {p}_index WHERE source_table = 'cert_registry')
    """).df()
    rows = rows.rename(columns={"n": "count"})
    rows["count"] = rows["count"].astype("int64")
    rows["out_of"] = rows["out_of"].astype("int64")
    rows["share"] = rows["count"] / rows["out_of"].where(rows["out_of"] > 0)
    return rows


# ----------------------------------------------------------------------------------- tech stack
#: Criteria for comparing technology stacks, with what a high score (5) means.
STACK_CRITERIA: dict[str, str] = {
    "cost": "low license and running cost",
    "skills": "the team's current staff can run it",
    "scale": "handles the state's largest files (wage records: hundreds of millions of rows)",
    "security": "access control, audit logs and encryption the agencies' security officers accept",
    "reproducibility": "code, data versions and environment can be rerun by someone else",
    "interoperability": "open formats and standard SQL, so partners and other states can reuse the work",
    "linkage": "record linkage tools available (probabilistic linkage, clerical review)",
}

_STACKS = [
    ("Embedded SQL engine + Python notebooks", "DuckDB, Python, Parquet files, Git",
     {"cost": 5, "skills": 3, "scale": 3, "security": 2, "reproducibility": 5, "interoperability": 5, "linkage": 4},
     "Runs on one secure workstation or server; security comes from the host, not the tool."),
    ("Relational database server + Python/R", "PostgreSQL, Python or R, Git",
     {"cost": 4, "skills": 3, "scale": 4, "security": 4, "reproducibility": 4, "interoperability": 5, "linkage": 3},
     "Role-based access and auditing built in; needs a database administrator."),
    ("Statistical package on a secure server", "SAS or Stata on an agency server",
     {"cost": 2, "skills": 5, "scale": 3, "security": 4, "reproducibility": 3, "interoperability": 2, "linkage": 3},
     "Often what analysts already know; licenses per seat; proprietary formats."),
    ("Cloud data warehouse", "A managed SQL warehouse with BI dashboards",
     {"cost": 2, "skills": 3, "scale": 5, "security": 4, "reproducibility": 3, "interoperability": 4, "linkage": 3},
     "Needs a cloud authorization and a data-residency review; cost grows with use."),
    ("Distributed processing platform", "Spark on a managed cluster, notebooks, Git",
     {"cost": 2, "skills": 1, "scale": 5, "security": 3, "reproducibility": 4, "interoperability": 4, "linkage": 5},
     "Built for very large files; more engineering than most state teams have."),
    ("Managed secure research enclave", "A hosted enclave with export review (ADRF-style)",
     {"cost": 3, "skills": 4, "scale": 4, "security": 5, "reproducibility": 4, "interoperability": 3, "linkage": 3},
     "Governance, disclosure review and training come with the service; less control over tools."),
]


def stack_options() -> pd.DataFrame:
    """Candidate technology stacks scored 1-5 on :data:`STACK_CRITERIA` (a starting point to revise).

    The scores are the course's generic judgments for a small state team; a team replaces them with
    its own after talking to its IT and security staff.

    Returns
    -------
    pandas.DataFrame
        ``option, components, <criterion>..., note``.
    """
    rows = [{"option": o, "components": c, **scores, "note": note} for o, c, scores, note in _STACKS]
    return pd.DataFrame(rows, columns=["option", "components", *STACK_CRITERIA, "note"])


def score_stack(options: pd.DataFrame, weights: Mapping[str, float]) -> pd.DataFrame:
    """Weighted scores of stack options, best first.

    Parameters
    ----------
    options : pandas.DataFrame
        A table like :func:`stack_options` (``option`` and one column per criterion).
    weights : mapping
        Criterion -> weight (non-negative; normalized to sum to 1). Criteria left out weigh 0.

    Returns
    -------
    pandas.DataFrame
        ``option, score`` (on the 1-5 scale) and a ``rank``.
    """
    if not isinstance(options, pd.DataFrame) or "option" not in options.columns:
        raise TypeError("options must be a DataFrame with an 'option' column, such as stack_options()")
    if not isinstance(weights, Mapping) or not weights:
        raise ValueError(f"weights must be a non-empty mapping of criterion -> weight, got {weights!r}")
    unknown = [k for k in weights if k not in options.columns]
    if unknown:
        raise ValueError(f"unknown criteria {unknown!r}; the options table has {list(options.columns)}")
    bad = {k: v for k, v in weights.items()
           if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0}
    if bad:
        raise ValueError(f"weights must be non-negative numbers, got {bad!r}")
    total = float(sum(weights.values()))
    if total <= 0:
        raise ValueError("at least one weight must be positive")
    score = sum(options[k].astype(float) * (w / total) for k, w in weights.items())
    out = pd.DataFrame({"option": options["option"], "score": score.round(2)})
    out = out.sort_values(["score", "option"], ascending=[False, True]).reset_index(drop=True)
    out["rank"] = range(1, len(out) + 1)
    return out


# ----------------------------------------------------------------------------------- deliverable
#: Header shared by the templates of units 6-9 (title, track, unit, team, draft notice).
HEADER_TEMPLATE = """# {{ title }}

{% if track %}
**Case track:** {{ track.title }}  
{% endif %}
**Data Labs unit {{ unit }}**{% if team %} · **Team:** {{ team }}{% endif +%}

{% if draft %}
> **Draft.** Parts marked *to be completed* are not filled in yet.
{% endif %}

"""

LINKAGE_REPORT = DeliverableSpec(
    kind="linkage_report", title="Linkage report", unit=6,
    description="How the sources were linked, how well (match rates, estimated error), and how to rerun it.",
    required=("team", "purpose", "sources", "method", "match_rates", "estimated_error", "pipeline",
              "stack_choice", "limitations"),
    optional=("match_note", "error_note", "coverage", "stack_table", "next_steps", "prepared_by"),
    template_source=HEADER_TEMPLATE + """## Purpose

{{ purpose }}

## Sources linked

{{ sources | block }}

## Method

{{ method | numbered }}

## Match rates

{{ match_rates | block }}

{% if match_note %}
{{ match_note }}

{% endif %}
{% if coverage is not none %}
**Reaching the wage records** (share of the track's records with a valid SSN of their own, and through the
master person index):

{{ coverage | block }}

{% endif %}
## Estimated linkage error

{{ estimated_error | block }}

{% if error_note %}
{{ error_note }}

{% endif %}
## Reproducible pipeline

{{ pipeline | block }}

## Technology stack

{{ stack_choice }}

{% if stack_table is not none %}
{{ stack_table | block }}

{% endif %}
## Limitations

{{ limitations | bullets }}

{% if next_steps %}
## Next steps

{{ next_steps | bullets }}

{% endif %}
{% if prepared_by %}
*Prepared by {{ prepared_by }}.*
{% endif %}
""")

_PERSON_METHOD = [
    "Stack the person-level files (WIOA, TANF, SNAP, UI claims, postsecondary enrollment and completions) and "
    "standardize names (upper case, trimmed) and dates of birth.",
    "Flag SSNs that cannot be used (missing, malformed, placeholders such as 999999999, or one number recorded "
    "with several birth dates).",
    "Collapse repeated rows into identity units: one per distinct way a source recorded a person.",
    "Block candidate pairs on a shared valid SSN, date of birth or full name; grade the SSN, first name, last name "
    "and date of birth as agreeing, nearly agreeing (one or two typing errors, swapped day and month) or "
    "disagreeing.",
    "Estimate match weights from the data (m from near-certain matches, u from random pairs).",
    "Link deterministically on the same valid SSN plus date of birth or full name; link probabilistically when "
    "the total match weight reaches the threshold; give each connected group one MPI id.",
]

_BUSINESS_METHOD = [
    "Stack the comptroller's vendor file, the transportation contractor registry and the certification registry.",
    "Repair the EIN: remove the comptroller's dash and left-pad the registry's numeric tax ID back to nine digits.",
    "Standardize names: upper case, drop a DBA part, punctuation, a leading THE and a trailing LLC or INC.",
    "Link records that share an EIN, or the same standardized name and ZIP code; give each connected group one "
    "business key.",
    "Attribute each contract award to a business key through the system its vendor key refers to.",
]

_TRACK_TEXT = {
    "safety_net": {
        "purpose": "Follow SNAP and TANF case heads across programs, states and into the wage records, so churn "
                   "and co-enrollment are counted per person rather than per SSN as keyed.",
        "limitations": [
            "Only case heads are in the files; other household members cannot be linked.",
            "Heads with no valid SSN anywhere in their records cannot be followed into the wage records.",
            "Women whose surname changed and whose SSN is missing are the links most often missed.",
            "Wage records cover the four states' UI-covered jobs only.",
        ],
    },
    "workforce": {
        "purpose": "Link UI claimants to their records in other programs and to every state's wage records, so "
                   "re-employment is measured across state lines.",
        "limitations": [
            "Claimants' SSNs are nearly always present, but mistyped SSNs can attach a claimant to a stranger's wages.",
            "Jobs outside the four states, federal jobs and self-employment are not in any wage file.",
            "Links between claims and other programs depend on names where SSNs are missing in those programs.",
        ],
    },
    "student_outcomes": {
        "purpose": "Give completers one identifier across enrollment, completions and the other agencies' files, so "
                   "completers without an SSN on their college record can still be followed into the wage records.",
        "limitations": [
            "College records often lack SSNs; completers found in no other program stay unlinkable.",
            "Names on college records change (marriage) more often than elsewhere, so some links are missed.",
            "Employment outside the region is invisible: a completer not found is not necessarily not working.",
        ],
    },
    "procurement": {
        "purpose": "Connect the vendor, contractor and certification systems into one business index, so contract "
                   "dollars can be attributed to certified minority-owned firms.",
        "limitations": [
            "The certification registry has no EIN: its links rest on names and ZIP codes.",
            "Firms that changed name or address between systems may be missed.",
            "Minority-owned firms that are not certified cannot be identified from these files at all.",
        ],
    },
}

_STACK_CHOICE = ("The team scored six stack options on cost, skills, scale, security, reproducibility, "
                 "interoperability and linkage tools (weights below). The top option runs the pipeline as plain SQL "
                 "files, so it can move to a database server later without rewriting.")

#: Weights the example report uses when scoring the stack options.
EXAMPLE_STACK_WEIGHTS = {"cost": 2, "skills": 2, "scale": 1, "security": 2, "reproducibility": 2,
                         "interoperability": 1, "linkage": 1}


def _rounded(df: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].round(digits)
    return out


@quiet
def linkage_report(con, track: str, *, team: str = "Example state team", **fields) -> Deliverable:
    """The unit 6 deliverable, filled in from the workspace for ``track``.

    Needs :func:`prepare_track` to have run on ``con``. Computed fields (``sources``,
    ``match_rates``, ``coverage``, ``estimated_error``, ``pipeline``, ``stack_table``) come from the
    workspace tables; written fields (``purpose``, ``method``, ``limitations``, ``stack_choice``) start
    from the course's example text for the track. Any keyword in ``fields`` replaces a field.

    Returns
    -------
    statelab.datalabs.deliverables.Deliverable
    """
    _check_track(track)
    text = _TRACK_TEXT[track]
    weights = EXAMPLE_STACK_WEIGHTS
    stack_table = score_stack(stack_options(), weights)
    stack_table["weights"] = ""
    stack_table.loc[0, "weights"] = ", ".join(f"{k} {v}" for k, v in weights.items())
    if track == "procurement":
        rates = con.sql("""
            WITH sizes AS (SELECT business_key, COUNT(*) AS n FROM biz_index GROUP BY business_key)
            SELECT i.source_table AS source, COUNT(*) AS records,
                   CAST(SUM(CASE WHEN s.n > 1 THEN 1 ELSE 0 END) AS BIGINT) AS linked_to_another_system
            FROM biz_index AS i JOIN sizes AS s ON s.business_key = i.business_key
            GROUP BY i.source_table ORDER BY i.source_table
        """).df()
        rates["share_linked"] = rates["linked_to_another_system"] / rates["records"]
        error = estimate_business_error(con)
        computed = {
            "sources": ["vendor_comptroller (payment system)", "vendor_dot (transportation contractor registry)",
                        "cert_registry (business enterprise certifications)", "contract (awards)"],
            "method": _BUSINESS_METHOD,
            "match_rates": _rounded(rates),
            "estimated_error": _rounded(error),
            "error_note": "Conflicting evidence inside links estimates false links; certification records left "
                          "unmatched bound the firms that may be missed.",
        }
    else:
        rates = match_rates(con)[["source_table", "records", "persons", "persons_in_other_source",
                                  "share_in_other_source"]]
        est = estimate_linkage_error(con)
        by_source = estimate_linkage_error(con, by="source_table")
        error = pd.concat([est.assign(group="all sources"), by_source], ignore_index=True)[
            ["group", "linked_pairs", "est_precision", "anchor_pairs", "share_without_ssn", "est_recall"]]
        computed = {
            "sources": [f"{s} ({int(n):,} records)" for s, n in zip(rates["source_table"], rates["records"])],
            "method": _PERSON_METHOD + [f"Threshold: a match weight of {threshold_used(con):g}."],
            "match_rates": _rounded(rates),
            "match_note": "A person 'in another source' has records in at least two of the files.",
            "coverage": _rounded(wage_link_coverage(con, track)),
            "estimated_error": _rounded(error),
            "error_note": "Precision is estimated from sex, which the rules never use; recall from pairs that share "
                          "a valid SSN and date of birth. Both are estimates from the data, not a comparison with "
                          "a known truth; a clerical review of pairs near the threshold checks them.",
        }
    log = run_log(con, track)
    out = {"team": team, "purpose": text["purpose"], "limitations": text["limitations"],
           "stack_choice": _STACK_CHOICE, "stack_table": stack_table, "pipeline": log,
           "next_steps": ["Review a sample of pairs near the threshold by hand and record the decisions.",
                          "Save the pipeline script with the data sharing agreement's version of each extract.",
                          "Rerun the linkage when a new extract arrives and compare the match rates."],
           **computed}
    out.update(fields)
    return Deliverable(LINKAGE_REPORT, out, track=track)


def run_log(con, track: str) -> pd.DataFrame:
    """The track pipeline's steps with the rows each saved table holds now (``step, name, kind, rows``)."""
    rows = []
    for i, step in enumerate(track_pipeline(track), 1):
        n = int(_scalar(con, f"SELECT COUNT(*) FROM {step.name}")) if _table_exists(con, step.name) else None
        rows.append({"step": i, "name": step.name, "kind": step.kind, "rows": n, "what it holds": step.description})
    return pd.DataFrame(rows)
