"""Data Labs unit 6: the master person index (MPI), built in steps a team can read and rerun.

A state team that wants to follow people across programs first needs one identifier per person across the
agencies' files. This module builds that index on the caller's DuckDB connection:

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

:func:`build_mpi` runs all four; :func:`match_rates` and :func:`source_overlap` describe the result.
Error estimates without the truth are in :mod:`statelab.datalabs.linkage_error`, comparisons with the truth
in :mod:`statelab.datalabs.truth_checks`.

Why a second linkage engine beside :mod:`statelab.linkage`: that module is the training strand's (module 3)
two-file linker, deterministic rules plus Splink, which runs on DuckDB only. A Data Labs team links *six*
files into one index at once, closes links transitively into one id per person, and must be able to run the
same SQL on its agency's PostgreSQL server; so this engine is plain portable SQL (standard SQL plus
``levenshtein``, which PostgreSQL provides through the ``fuzzystrmatch`` extension) with weights estimated
in a few lines of pandas. Both use the course's one SSN rule (:func:`statelab.identifiers.ssn_status_sql`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..identifiers import ssn_status_sql
from ._common import check_name, components, quiet, scalar, table_exists

__all__ = [
    "PERSON_SOURCES",
    "FIELDS",
    "DEFAULT_THRESHOLD",
    "DETERMINISTIC_RULE",
    "build_identity_units",
    "compare_pairs",
    "estimate_weights",
    "score_pairs",
    "link_units",
    "build_mpi",
    "threshold_used",
    "match_rates",
    "source_overlap",
    "levels_sql",
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
        those of :func:`statelab.identifiers.ssn_status_sql` (``missing``, ``malformed``, ``placeholder``)
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
    p = check_name(prefix, "prefix")
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
def levels_sql() -> str:
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
    and ``same_source``. Sex is **not** compared: the two postsecondary files do not record it, and a
    first name already says it for most people.

    Returns
    -------
    pandas.DataFrame
        The number of candidate pairs by blocking rule and in total.
    """
    p = check_name(prefix, "prefix")
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
               {levels_sql()}
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
    p = check_name(prefix, "prefix")
    if not isinstance(random_pairs, int) or isinstance(random_pairs, bool) or random_pairs < 1000:
        raise ValueError(f"random_pairs must be a whole number of at least 1000, got {random_pairs!r}")
    n = int(scalar(con, f"SELECT COUNT(*) FROM {p}_units"))
    if n < 2:
        raise ValueError(f"{p}_units has {n} unit(s); at least 2 are needed to estimate weights")
    k = max(1, math.ceil(random_pairs / n))
    # The counts below need only how many pairs show each combination of levels, so DuckDB counts the
    # combinations (a few dozen rows) instead of handing pandas one row of text per pair (200,000 random
    # pairs): the same whole-number counts, without the cost of moving the pairs into Python.
    combos = ", ".join(f"{field}_level" for field in FIELDS)
    # unit i is paired with units (i * 7919 + j * 104729) mod n + 1 for j = 1..k: a fixed scramble.
    rand = con.sql(f"""
        WITH offsets AS (SELECT range AS j FROM range(1, {k + 1})),
        rp AS (
            SELECT a.unit_id AS ua, ((a.unit_id * 7919 + o.j * 104729) % {n}) + 1 AS ub
            FROM {p}_units AS a CROSS JOIN offsets AS o
        ),
        graded AS (
            SELECT {levels_sql()}
            FROM rp JOIN {p}_units AS a ON a.unit_id = rp.ua JOIN {p}_units AS b ON b.unit_id = rp.ub
            WHERE rp.ua <> rp.ub
        )
        SELECT {combos}, COUNT(*) AS n FROM graded GROUP BY {combos}
    """).df()
    pairs = con.sql(f"SELECT {combos}, COUNT(*) AS n FROM {p}_pairs GROUP BY {combos}").df()
    rows = []
    for field, levels in FIELDS.items():
        col = f"{field}_level"
        sure = np.ones(len(pairs), dtype=bool)
        for other in _M_EVIDENCE[field]:
            sure &= (pairs[f"{other}_level"] == "agree").to_numpy()
        m_counts = pairs.loc[sure].groupby(col)["n"].sum()
        u_counts = rand.groupby(col)["n"].sum()
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
    p = check_name(prefix, "prefix")
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


#: The deterministic rule, on a pairs table's agreement levels.
DETERMINISTIC_RULE = ("ssn_level = 'agree' AND (dob_level = 'agree' "
                      "OR (first_level = 'agree' AND last_level = 'agree'))")


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
    p = check_name(prefix, "prefix")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise TypeError(f"threshold must be a finite number (a match weight), got {threshold!r}")
    con.sql(f"""
        CREATE OR REPLACE TABLE {p}_links AS
        SELECT unit_a, unit_b, weight,
               CASE WHEN {DETERMINISTIC_RULE} THEN 'deterministic' ELSE 'probabilistic' END AS rule
        FROM {p}_scored
        WHERE ({DETERMINISTIC_RULE}) OR weight >= {float(threshold)!r}
    """)
    con.sql(f"CREATE OR REPLACE TABLE {p}_settings AS SELECT 'threshold' AS name, {float(threshold)!r} AS value")
    units = con.sql(f"SELECT unit_id FROM {p}_units ORDER BY unit_id").df()["unit_id"].to_numpy()
    links = con.sql(f"SELECT unit_a, unit_b FROM {p}_links").df()
    mpi = components(units, links["unit_a"].to_numpy(), links["unit_b"].to_numpy())
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
    p = check_name(prefix, "prefix")
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
    p = check_name(prefix, "prefix")
    long = con.sql(f"""
        WITH ps AS (SELECT DISTINCT source_table, mpi_id FROM {p}_index)
        SELECT a.source_table AS source_a, b.source_table AS source_b, COUNT(*) AS persons
        FROM ps AS a JOIN ps AS b ON a.mpi_id = b.mpi_id
        GROUP BY a.source_table, b.source_table
    """).df()
    wide = long.pivot(index="source_a", columns="source_b", values="persons").fillna(0).astype("int64")
    wide.index.name, wide.columns.name = None, None
    return wide


def threshold_used(con, *, prefix: str = "mpi") -> float:
    """The probabilistic threshold :func:`link_units` last used for ``prefix``."""
    p = check_name(prefix, "prefix")
    if not table_exists(con, f"{p}_settings"):
        raise ValueError(f"no {p}_settings table: run link_units (or build_mpi) with prefix={prefix!r} first")
    return float(scalar(con, f"SELECT value FROM {p}_settings WHERE name = 'threshold'"))

