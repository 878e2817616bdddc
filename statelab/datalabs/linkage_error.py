"""Data Labs unit 6: how good is the person index? Error estimates from the data alone, without the truth.

A team never has a list of true matches. :func:`estimate_linkage_error` estimates the precision and recall of
the master person index (:mod:`statelab.datalabs.person_index`) from evidence in the records, overall or by
group, and :func:`clerical_review_sample` lists the pairs near the threshold for a review by hand.

These are estimates: :mod:`statelab.datalabs.truth_checks` compares them with the planted truth (an instructor
and test tool), and the course's tests do so on two seeds.
"""

from __future__ import annotations

import pandas as pd

from ._common import UNIT_GROUPS, age_band_sql, check_name, quiet, scalar, unit_group_sql
from .person_index import DETERMINISTIC_RULE, threshold_used

__all__ = ["estimate_linkage_error", "clerical_review_sample", "pair_groups_sql"]


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
    p = check_name(prefix, "prefix")
    thr = threshold_used(con, prefix=p)
    gu = unit_group_sql(by, "u")
    shares = con.sql(f"SELECT sex, COUNT(*) AS n FROM {p}_units WHERE sex IS NOT NULL GROUP BY sex").df()
    f = shares["n"] / shares["n"].sum() if len(shares) else pd.Series(dtype=float)
    chance = float(1 - (f ** 2).sum()) if len(f) else float("nan")
    prec = con.sql(f"""
        WITH g AS ({pair_groups_sql(f"{p}_links", by, p)})
        SELECT g.grp, COUNT(*) AS linked_pairs,
               AVG(CASE WHEN a.sex IS NOT NULL AND b.sex IS NOT NULL
                        THEN CASE WHEN a.sex <> b.sex THEN 1.0 ELSE 0.0 END END) AS sex_disagree_share
        FROM g JOIN {p}_units AS a ON a.unit_id = g.unit_a JOIN {p}_units AS b ON b.unit_id = g.unit_b
        GROUP BY g.grp
    """).df()
    ssn_w = float(scalar(con, f"SELECT weight FROM {p}_weights WHERE field = 'ssn' AND level = 'agree'"))
    rec = con.sql(f"""
        WITH anchors AS (
            SELECT unit_a, unit_b, weight FROM {p}_scored WHERE ssn_level = 'agree' AND dob_level = 'agree'
        ),
        g AS ({pair_groups_sql("anchors", by, p)})
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

