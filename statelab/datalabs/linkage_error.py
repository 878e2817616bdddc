"""Data Labs unit 6: how good is the person index? Error estimates from the data alone, without the truth.

A team never has a list of true matches. :func:`estimate_linkage_error` estimates the two errors of the master
person index (:mod:`statelab.datalabs.person_index`) from evidence inside the records, overall or by group;
:func:`clerical_review_sample` lists the pairs near the threshold for a review by hand.

- **Missed links (recall): hide the SSN.** A unit without a valid SSN can join its person only through names
  and date of birth. Units *with* a valid SSN show how often that works: hide one unit's SSN, and ask whether
  its names and date of birth alone still link it to a record of the same MPI person. Everything that goes
  wrong in real records counts, because nothing else is conditioned on: a date of birth keyed wrong or left
  empty, a changed surname, a nickname. The average number of pairs a unit would lose, in each stratum of
  source file and "date of birth recorded or not", is applied to the units that really lack an SSN in the same
  stratum. (A check that conditions on the date of birth agreeing, as an earlier version did, cannot see date
  of birth errors and gaps, which cause most missed links: it understated them five to ten times.)
- **False links (precision): strangers with two different SSNs.** Candidate pairs whose two valid SSNs differ
  in three or more digits are almost all two different people who happen to share a birth date or a name.
  How often their names and birth dates would pass the threshold if the SSN were missing (or nearly
  agreeing) estimates how many of the pairs linked without an agreeing SSN are strangers.

Both are estimates, with the assumptions just stated; :mod:`statelab.datalabs.truth_checks` compares them with
the planted truth (an instructor and test tool) and the course's tests do so on two seeds, with a tolerance.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from ._common import UNIT_GROUPS, age_band_sql, check_name, quiet, unit_group_sql
from .person_index import DETERMINISTIC_RULE, threshold_used

__all__ = ["ERROR_COLUMNS", "estimate_linkage_error", "clerical_review_sample", "pair_groups_sql"]

#: Columns of :func:`estimate_linkage_error`, in order.
ERROR_COLUMNS: tuple[str, ...] = (
    "group", "units", "units_without_ssn", "links", "est_false_links", "est_precision", "linked_pairs",
    "hidden_ssn_kept", "est_missed_pairs", "est_missed_se", "est_recall", "est_missed_share",
)

#: A pair stays a candidate without its SSN only if blocking on date of birth or full name keeps it.
_BLOCKED_WITHOUT_SSN = "(s.dob_level = 'agree' OR (s.first_level = 'agree' AND s.last_level = 'agree'))"


def pair_groups_sql(pairs: str, by, p: str) -> str:
    """SQL listing ``unit_a, unit_b, grp`` for each pair of ``pairs`` under each group of its two units.

    A pair whose units fall in two groups (e.g. two sources) counts in both. For ``sex`` and
    ``age_band`` a unit without the attribute borrows it from the other unit of the pair.
    """
    if by not in UNIT_GROUPS:
        raise ValueError(f"by must be one of {list(UNIT_GROUPS)}, got {by!r}")
    if by == "sex":
        g1, g2 = "COALESCE(a.sex, b.sex, 'unknown')", "COALESCE(b.sex, a.sex, 'unknown')"
    elif by == "age_band":
        g1, g2 = age_band_sql("COALESCE(a.dob, b.dob)"), age_band_sql("COALESCE(b.dob, a.dob)")
    else:
        g1, g2 = unit_group_sql(by, "a"), unit_group_sql(by, "b")
    join = (f"FROM {pairs} AS q JOIN {p}_units AS a ON a.unit_id = q.unit_a "
            f"JOIN {p}_units AS b ON b.unit_id = q.unit_b")
    return f"SELECT q.unit_a, q.unit_b, {g1} AS grp {join} UNION SELECT q.unit_a, q.unit_b, {g2} {join}"


def _hidden_ssn(con, p: str, by, thr: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The hidden-SSN check: which units with a valid SSN keep a link to their MPI person without it.

    Returns two tables, by stratum (the unit's own ``grp``, ``source_table``, ``no_dob``):

    - ``units``: units with (``valid`` 1) and without (0) a valid SSN;
    - ``pairs``: for units with a valid SSN, by the group ``pair_grp`` of the pair (as :func:`pair_groups_sql`
      counts it), the pairs they have with the other units of their MPI person (``pairs``) and the pairs they
      would lose with the SSN hidden (``lost``, and ``lost_sq``, the sum over units of the square, for the
      standard error).
    """
    gu = unit_group_sql(by, "u")
    con.sql(f"""
        CREATE OR REPLACE TEMP TABLE _dl_hidden AS
        WITH u AS (
            SELECT u.unit_id, u.source_table, CASE WHEN u.ssn_status = 'valid' THEN 1 ELSE 0 END AS valid,
                   CASE WHEN u.dob IS NULL THEN 1 ELSE 0 END AS no_dob, {gu} AS grp, x.mpi_id
            FROM {p}_units AS u JOIN {p}_unit_index AS x ON x.unit_id = u.unit_id
        ),
        e AS (
            SELECT s.unit_a, s.unit_b
            FROM {p}_scored AS s LEFT JOIN {p}_weights AS w ON w.field = 'ssn' AND w.level = s.ssn_level
            WHERE {_BLOCKED_WITHOUT_SSN} AND s.weight - COALESCE(w.weight, 0) >= {thr!r}
        ),
        same AS (
            SELECT e.unit_a, e.unit_b FROM e
            JOIN u AS a ON a.unit_id = e.unit_a JOIN u AS b ON b.unit_id = e.unit_b
            WHERE a.mpi_id = b.mpi_id
        ),
        kept AS (SELECT unit_a AS unit_id FROM same UNION SELECT unit_b FROM same)
        SELECT u.*, CASE WHEN k.unit_id IS NULL THEN 0 ELSE 1 END AS kept
        FROM u LEFT JOIN kept AS k ON k.unit_id = u.unit_id
    """)
    con.sql("""
        CREATE OR REPLACE TEMP TABLE _dl_hidden_pairs AS
        SELECT a.unit_id AS unit_a, b.unit_id AS unit_b
        FROM _dl_hidden AS a JOIN _dl_hidden AS b ON a.mpi_id = b.mpi_id AND a.unit_id <> b.unit_id
        WHERE a.valid = 1
    """)
    try:
        units = con.sql("""
            SELECT grp, source_table, no_dob, valid, COUNT(*) AS units
            FROM _dl_hidden GROUP BY grp, source_table, no_dob, valid
        """).df()
        pairs = con.sql(f"""
            WITH g AS ({pair_groups_sql("_dl_hidden_pairs", by, p)}),
            per_unit AS (
                SELECT h.grp, h.source_table, h.no_dob, g.grp AS pair_grp, h.unit_id, COUNT(*) AS pairs,
                       SUM(1 - h.kept) AS lost
                FROM g JOIN _dl_hidden AS h ON h.unit_id = g.unit_a
                GROUP BY h.grp, h.source_table, h.no_dob, g.grp, h.unit_id
            )
            SELECT grp, source_table, no_dob, pair_grp, SUM(pairs) AS pairs, SUM(lost) AS lost,
                   SUM(lost * lost) AS lost_sq
            FROM per_unit GROUP BY grp, source_table, no_dob, pair_grp
        """).df()
    finally:
        con.sql("DROP TABLE IF EXISTS _dl_hidden_pairs")
        con.sql("DROP TABLE IF EXISTS _dl_hidden")
    return units, pairs.astype({"pairs": "float64", "lost": "float64", "lost_sq": "float64"})


def _missed(units: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Per group: units, units without SSN, share of pairs kept with the SSN hidden, missed pairs and their variance.

    A unit without a valid SSN is expected to lose, in each pair group, as many pairs as the units *with* one in
    its stratum lose there on average with their SSN hidden. A stratum without such units borrows the stratum
    pooled over groups, then over sources.
    """
    strata = ["grp", "source_table", "no_dob"]
    valid = units[units["valid"] == 1]
    rates = []
    for keys in (strata, ["source_table", "no_dob"], ["no_dob"]):
        n = valid.groupby(keys)["units"].sum()
        n = n[n > 0]
        sums = pairs.groupby(keys + ["pair_grp"])[["lost", "lost_sq"]].sum().reset_index()
        sums = sums.merge(n.rename("n").reset_index(), on=keys)
        sums["mean"] = sums["lost"] / sums["n"]
        sums["var"] = (sums["lost_sq"] / sums["n"] - sums["mean"] ** 2).clip(lower=0)
        rates.append((keys, set(map(tuple, n.reset_index()[keys].to_numpy())), sums))
    rows = []
    for rec in units[units["valid"] == 0].to_dict("records"):
        for keys, present, sums in rates:
            key = tuple(rec[k] for k in keys)
            if key in present:
                match = sums[np.logical_and.reduce([sums[k] == rec[k] for k in keys])]
                for r in match.to_dict("records"):
                    rows.append({"grp": r["pair_grp"], "missed": rec["units"] * r["mean"],
                                 "var": rec["units"] ** 2 * r["var"] / r["n"]})
                break
    missed = pd.DataFrame(rows, columns=["grp", "missed", "var"]).groupby("grp")[["missed", "var"]].sum()
    per = units.assign(no_ssn=units["units"] * (1 - units["valid"])).groupby("grp")[["units", "no_ssn"]].sum()
    kept = pairs.groupby("pair_grp")[["lost", "pairs"]].sum()
    out = pd.DataFrame({"units": per["units"], "units_without_ssn": per["no_ssn"]})
    out = out.join(kept.rename_axis("grp"), how="outer")
    out["hidden_ssn_kept"] = 1 - out["lost"] / out["pairs"].where(out["pairs"] > 0)
    out["est_missed_pairs"] = missed["missed"].reindex(out.index).fillna(0.0)
    out["_missed_var"] = missed["var"].reindex(out.index).fillna(0.0)
    return out.drop(columns=["lost", "pairs"])


def _false_links(con, p: str, thr: float) -> pd.DataFrame:
    """Every accepted link with ``p_false``, its estimated chance of joining two different people.

    Control pairs are candidates with two valid SSNs that clearly differ (level ``disagree``): strangers. For
    each SSN level a link can have without the SSN agreeing for sure (``missing``, ``near``, and ``agree``
    for completeness), the expected number of stranger pairs linked with each pattern of name and date of
    birth agreement is the number of controls that would pass at that level, times how many strangers there
    are at that level for each control: candidates with a missing SSN not linked, or the ratio of the chance
    two strangers' SSNs nearly agree (or agree) to the chance they differ (the u-probabilities).
    """
    cand = con.sql(f"""
        SELECT s.unit_a, s.unit_b, s.ssn_level, s.first_level, s.last_level, s.dob_level,
               s.weight - COALESCE(w.weight, 0) AS w_base,
               CASE WHEN {_BLOCKED_WITHOUT_SSN} THEN 1 ELSE 0 END AS other_rule,
               CASE WHEN l.unit_a IS NULL THEN 0 ELSE 1 END AS linked
        FROM {p}_scored AS s
        LEFT JOIN {p}_weights AS w ON w.field = 'ssn' AND w.level = s.ssn_level
        LEFT JOIN {p}_links AS l ON l.unit_a = s.unit_a AND l.unit_b = s.unit_b
    """).df()
    weights = con.sql(f"SELECT level, weight, u FROM {p}_weights WHERE field = 'ssn'").df().set_index("level")
    pattern = ["first_level", "last_level", "dob_level"]
    controls = cand[cand["ssn_level"] == "disagree"]
    links = cand[cand["linked"] == 1].copy()
    links["p_false"] = np.where(links["ssn_level"] == "disagree", 1.0, 0.0)
    n_controls = len(controls)
    if n_controls == 0:
        return links
    missing = cand[cand["ssn_level"] == "missing"]
    per_control = {
        "missing": (len(missing) - int(missing["linked"].sum())) / n_controls,
        "near": float(weights.loc["near", "u"] / weights.loc["disagree", "u"]),
        "agree": float(weights.loc["agree", "u"] / weights.loc["disagree", "u"]),
    }
    for level, ratio in per_control.items():
        w_level = float(weights.loc[level, "weight"]) if level != "missing" else 0.0
        passes = controls["w_base"] + w_level >= thr
        if level == "agree":
            passes |= controls["other_rule"] == 1  # the deterministic rule
        expected = controls[passes].groupby(pattern).size() * ratio
        at_level = links["ssn_level"] == level
        linked = links[at_level].groupby(pattern).size()
        share = (expected / linked).clip(upper=1).dropna()
        if share.empty:
            continue
        keys = pd.MultiIndex.from_frame(links.loc[at_level, pattern])
        links.loc[at_level, "p_false"] = share.reindex(keys).fillna(0.0).to_numpy()
    return links


@quiet
def estimate_linkage_error(con, *, prefix: str = "mpi", by: str | None = None) -> pd.DataFrame:
    """Estimate the false and missed links of the MPI from the data alone (no truth).

    See the module's description for the two methods and their assumptions.

    - ``est_precision`` is link-level: the estimated share of the links the rules accepted
      (``{prefix}_links``) that join records of one person, ``1 - est_false_links / links``.
    - ``est_recall`` is pair-level, like :func:`statelab.datalabs.truth_checks.mpi_quality`'s recall: the
      estimated share of pairs of units of one person that end up with one ``mpi_id``,
      ``1 - est_missed_share`` with ``est_missed_share = est_missed_pairs / (linked_pairs * est_precision
      + est_missed_pairs)``; ``est_missed_se`` is its standard error from the spread of the hidden-SSN
      check within strata.

    Parameters
    ----------
    by : {None, "sex", "age_band", "source_table", "state_fips"}
        Estimate separately by group. A pair or link counts in the group of each of its units (for sex and
        age band, a unit without the attribute, such as a postsecondary record, takes the other unit's);
        units, and the missed pairs of a unit without an SSN, count in the unit's own group (``'unknown'``
        where it has none).

    Returns
    -------
    pandas.DataFrame
        One row per group, columns :data:`ERROR_COLUMNS`: ``group, units, units_without_ssn, links,
        est_false_links, est_precision, linked_pairs`` (pairs of units sharing an ``mpi_id``),
        ``hidden_ssn_kept`` (share of their pairs the units with a valid SSN keep when it is hidden),
        ``est_missed_pairs, est_missed_se, est_recall, est_missed_share``.
    """
    p = check_name(prefix, "prefix")
    thr = threshold_used(con, prefix=p)
    out = _missed(*_hidden_ssn(con, p, by, thr))

    links = _false_links(con, p, thr)
    con.register("_dl_links_df", links[["unit_a", "unit_b", "p_false"]])
    con.sql(f"""
        CREATE OR REPLACE TEMP TABLE _dl_cluster_pairs AS
        SELECT a.unit_id AS unit_a, b.unit_id AS unit_b
        FROM {p}_unit_index AS a JOIN {p}_unit_index AS b ON a.mpi_id = b.mpi_id AND a.unit_id < b.unit_id
    """)
    try:
        prec = con.sql(f"""
            WITH g AS ({pair_groups_sql("_dl_links_df", by, p)})
            SELECT g.grp, COUNT(*) AS links, SUM(l.p_false) AS est_false_links
            FROM g JOIN _dl_links_df AS l ON l.unit_a = g.unit_a AND l.unit_b = g.unit_b
            GROUP BY g.grp
        """).df().set_index("grp")
        pairs = con.sql(f"""
            WITH g AS ({pair_groups_sql("_dl_cluster_pairs", by, p)})
            SELECT grp, COUNT(*) AS linked_pairs FROM g GROUP BY grp
        """).df().set_index("grp")
    finally:
        con.unregister("_dl_links_df")
        con.sql("DROP TABLE IF EXISTS _dl_cluster_pairs")
    out = out.join(prec, how="outer").join(pairs, how="outer")
    for c in ("units", "units_without_ssn", "links", "linked_pairs"):
        out[c] = out[c].fillna(0).astype("int64")
    for c in ("est_false_links", "est_missed_pairs", "_missed_var"):
        out[c] = out[c].fillna(0.0).astype(float)
    out["est_precision"] = (1 - out["est_false_links"] / out["links"].where(out["links"] > 0)).clip(0, 1)
    found = out["linked_pairs"] * out["est_precision"].fillna(1.0)
    denom = (found + out["est_missed_pairs"]).where(lambda d: d > 0)
    out["est_missed_share"] = out["est_missed_pairs"] / denom
    out["est_missed_se"] = np.sqrt(out["_missed_var"]) / denom
    out["est_recall"] = 1 - out["est_missed_share"]
    out = out.rename_axis("group").reset_index().sort_values("group").reset_index(drop=True)
    return out[list(ERROR_COLUMNS)]


@quiet
def clerical_review_sample(con, *, prefix: str = "mpi", n: int = 12, band: float = 5.0) -> pd.DataFrame:
    """Candidate pairs near the threshold, side by side, for a clerical review.

    Returns up to ``n`` pairs decided by the probabilistic rule whose weight lies within ``band`` of
    the threshold: half just above it (linked), half just below (not linked), with both units'
    identifiers and sex. The order is fixed (closest to the threshold first, then unit ids), so the
    sample is the same on every run. In a real enclave the reviewers see the identifiers; a report
    shows only the tallies of their decisions.
    """
    p = check_name(prefix, "prefix")
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
            WHERE ABS(s.weight - {thr!r}) <= {float(band)!r} AND NOT ({DETERMINISTIC_RULE})
        )
        SELECT s.decision, ROUND(s.weight, 1) AS weight, {cols}
        FROM s JOIN {p}_units AS a ON a.unit_id = s.unit_a JOIN {p}_units AS b ON b.unit_id = s.unit_b
        WHERE s.k <= {n // 2}
        ORDER BY s.decision, s.weight DESC, s.unit_a, s.unit_b
    """).df()

