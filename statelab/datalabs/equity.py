"""Data Labs unit 7: bias and equity across the data life cycle.

Who is missing from which source, who is more often missed by the linkage, and how outcomes differ between
groups, on the workspace tables unit 6 builds (:func:`statelab.datalabs.linkage_report.prepare_track`).

- :func:`missing_identifiers`: per source and group, the share of identity units without a valid SSN or a
  date of birth, and the share of people found in no other source.
- :func:`linkage_error_by_group`: the *estimated* share of missed links by group, from the data alone (no
  truth): :func:`statelab.datalabs.linkage_error.estimate_linkage_error`.
- :func:`outcome_disparities`: a track's outcome by group, with the share of records that could reach the
  wage records and the rate among them, differences from the overall rate and ratios to a reference group.
- :func:`award_ratio` (procurement): contracts won by certified minority-owned firms relative to what other
  firms of the same size win.
- :func:`equity_assessment`: the unit's deliverable, filled in for a track.

Instructor and test tools (need ``sd.connect(..., truth=True)``; learner notebooks never call them):
:func:`true_linkage_error_by_group`, :func:`true_outcome_rates` and :func:`true_award_ratio`.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from ._common import (AGE_BANDS, check_name, check_track, quiet, require_truth, rounded, table_exists,
                      unit_group_sql)
from .business_index import estimate_business_error
from .deliverables import Deliverable, DeliverableSpec
from .linkage_error import estimate_linkage_error
from .pipelines import ANALYSIS_TABLES
from .truth_checks import mpi_quality

__all__ = [
    "OUTCOMES",
    "GROUPS",
    "missing_identifiers",
    "linkage_error_by_group",
    "outcome_disparities",
    "award_ratio",
    "ratio_interval",
    "true_linkage_error_by_group",
    "true_outcome_rates",
    "true_award_ratio",
    "EQUITY_ASSESSMENT",
    "equity_assessment",
]

#: Outcomes of each track's analysis table: name -> (label, rows it is defined for, as SQL; None: all rows).
OUTCOMES: dict[str, dict[str, tuple[str, str | None]]] = {
    "safety_net": {
        "employed_q2": ("employed in the 2nd quarter after leaving SNAP (real exits)", "employed_q2 IS NOT NULL"),
        "churned": ("SNAP closure followed by a new case within four months", None),
        "on_tanf": ("also on TANF during the SNAP spell", None),
    },
    "workforce": {
        "employed_q2": ("employed in the 2nd quarter after filing (any state's file)", None),
        "employed_q2_home": ("employed in the 2nd quarter after filing (the paying state's file only)", None),
        "cross_state_only": ("employed only across a state line", None),
    },
    "student_outcomes": {
        "employed_q4": ("employed in the 4th quarter after the award (any state's file)", None),
        "employed_q4_home": ("employed in the 4th quarter after the award (the institution's state only)", None),
        "cross_state_only": ("employed only across a state line", None),
    },
    "procurement": {
        "contracts": ("contracts won per firm", None),
        "contract_dollars": ("contract dollars per firm", None),
    },
}

#: Columns of each track's analysis table that outcomes can be broken down by.
GROUPS: dict[str, tuple[str, ...]] = {
    "safety_net": ("sex", "age_band", "state_fips", "closure_year"),
    "workforce": ("sex", "education", "age_band", "state_fips", "naics_sector"),
    "student_outcomes": ("degree_level", "sex", "age_band", "state_fips"),
    "procurement": ("minority_certified", "certified", "size_class"),
}

_GROUP_ORDER = {"age_band": list(AGE_BANDS) + ["unknown"],
                "education": ["less_than_hs", "high_school", "some_college", "associate", "bachelor_plus"]}


def _check_by(track: str, by) -> str:
    if by not in GROUPS[track]:
        raise ValueError(f"track {track!r} has no group {by!r}; choose one of {list(GROUPS[track])}")
    return by


def _check_outcome(track: str, outcome) -> str:
    if outcome is None:
        return next(iter(OUTCOMES[track]))
    if outcome not in OUTCOMES[track]:
        raise ValueError(f"track {track!r} has no outcome {outcome!r}; choose one of {list(OUTCOMES[track])}")
    return outcome


def _require_table(con, name: str, hint: str) -> None:
    if not table_exists(con, name):
        raise ValueError(f"the workspace has no table {name!r}: {hint}")


def _order(df: pd.DataFrame, by: str) -> pd.DataFrame:
    order = _GROUP_ORDER.get(by)
    if order is None:
        return df.sort_values("group", key=lambda s: s.astype(str)).reset_index(drop=True)
    rank = {g: i for i, g in enumerate(order)}
    return df.sort_values("group", key=lambda s: s.map(lambda g: rank.get(g, len(rank)))).reset_index(drop=True)


# ----------------------------------------------------------------------------------- who is missing
@quiet
def missing_identifiers(con, *, by: str = "sex", prefix: str = "mpi") -> pd.DataFrame:
    """Who is missing from which source: identifier gaps and isolation, per source and group.

    Parameters
    ----------
    by : {"sex", "age_band", "state_fips"}
        Group of the identity unit (``'unknown'`` where the source does not record it, e.g. sex in the
        postsecondary files).

    Returns
    -------
    pandas.DataFrame
        ``source_table, group, units, no_valid_ssn, no_dob, only_in_this_source``: the last three are
        shares of the units (``only_in_this_source``: the unit's MPI person has records in no other file,
        so nothing else is known about them).
    """
    p = check_name(prefix, "prefix")
    if by not in ("sex", "age_band", "state_fips"):
        raise ValueError(f"by must be 'sex', 'age_band' or 'state_fips', got {by!r}")
    _require_table(con, f"{p}_unit_index", "build the MPI first (linkage_report.build_mpi)")
    g = unit_group_sql(by, "u")
    out = con.sql(f"""
        WITH ns AS (
            SELECT x.mpi_id, COUNT(DISTINCT u.source_table) AS n_sources
            FROM {p}_unit_index AS x JOIN {p}_units AS u ON u.unit_id = x.unit_id
            GROUP BY x.mpi_id
        )
        SELECT u.source_table, {g} AS "group", COUNT(*) AS units,
               AVG(CASE WHEN u.ssn_status = 'valid' THEN 0.0 ELSE 1.0 END) AS no_valid_ssn,
               AVG(CASE WHEN u.dob IS NULL THEN 1.0 ELSE 0.0 END) AS no_dob,
               AVG(CASE WHEN ns.n_sources = 1 THEN 1.0 ELSE 0.0 END) AS only_in_this_source
        FROM {p}_units AS u
        JOIN {p}_unit_index AS x ON x.unit_id = u.unit_id
        JOIN ns ON ns.mpi_id = x.mpi_id
        GROUP BY u.source_table, {g}
        ORDER BY u.source_table, 2
    """).df()
    out["units"] = out["units"].astype("int64")
    return out


@quiet
def linkage_error_by_group(con, *, by: str = "sex", prefix: str = "mpi") -> pd.DataFrame:
    """Estimated missed links by group, from the data only (no truth).

    The estimate of :func:`statelab.datalabs.linkage_error.estimate_linkage_error`, group by group: how many of
    the group's units lack a valid SSN (``units_without_ssn``), the share of their pairs that units *with* a
    valid SSN keep when it is hidden (``hidden_ssn_kept``: how well names and date of birth alone do in this
    group), the estimated missed pairs and ``est_missed_share`` (1 minus estimated recall) with its standard
    error ``est_missed_se``.

    Parameters
    ----------
    by : {"sex", "age_band", "state_fips", "source_table"}

    Returns
    -------
    pandas.DataFrame
        ``group, units, units_without_ssn, hidden_ssn_kept, est_missed_pairs, est_recall, est_missed_share,
        est_missed_se``, without the ``'unknown'`` group.
    """
    if by not in ("sex", "age_band", "state_fips", "source_table"):
        raise ValueError(f"by must be 'sex', 'age_band', 'state_fips' or 'source_table', got {by!r}")
    est = estimate_linkage_error(con, prefix=prefix, by=by)
    est = est[est["group"] != "unknown"]
    cols = ["group", "units", "units_without_ssn", "hidden_ssn_kept", "est_missed_pairs", "est_recall",
            "est_missed_share", "est_missed_se"]
    return _order(est[cols], by)


# ----------------------------------------------------------------------------------- outcomes
@quiet
def outcome_disparities(con, track: str, *, by: str, outcome: str | None = None,
                        reference: str | None = None, min_n: int = 1) -> pd.DataFrame:
    """A track's outcome by group, next to who could be measured at all.

    Parameters
    ----------
    track : str
        The case track; its analysis table (:data:`statelab.datalabs.linkage_report.ANALYSIS_TABLES`) must
        exist.
    by : str
        A column of :data:`GROUPS` ``[track]``.
    outcome : str, optional
        A key of :data:`OUTCOMES` ``[track]``; the first by default.
    reference : str, optional
        The group ratios are taken against; by default the largest group.
    min_n : int
        Groups with fewer rows are dropped (disclosure review uses 11 before publishing).

    Returns
    -------
    pandas.DataFrame
        ``group, n, rate, difference, ratio`` and, for the person tracks, ``linkable_share`` (rows whose
        person has a valid SSN anywhere, so the wage records could be searched) and ``rate_linkable`` (the
        rate among them: what the group's rate would be if the unlinkable looked like the rest). For
        procurement ``rate`` is the mean per firm. ``difference`` is ``rate`` minus the overall rate;
        ``ratio`` is ``rate`` over the reference group's rate.
    """
    check_track(track)
    _check_by(track, by)
    outcome = _check_outcome(track, outcome)
    if isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 1:
        raise ValueError(f"min_n must be a whole number of at least 1, got {min_n!r}")
    table = ANALYSIS_TABLES[track]
    _require_table(con, table, f"run linkage_report.prepare_track(con, {track!r}) first")
    where = OUTCOMES[track][outcome][1] or "TRUE"
    if track == "procurement":
        extra = ""
    else:
        extra = (f", AVG(linkable * 1.0) AS linkable_share, "
                 f"AVG(CASE WHEN linkable = 1 THEN {outcome} * 1.0 END) AS rate_linkable")
    df = con.sql(f"""
        SELECT CAST(COALESCE(CAST({by} AS VARCHAR), 'unknown') AS VARCHAR) AS "group", COUNT(*) AS n,
               AVG({outcome} * 1.0) AS rate {extra}
        FROM {table} WHERE {where}
        GROUP BY COALESCE(CAST({by} AS VARCHAR), 'unknown')
    """).df()
    overall = float(con.sql(f"SELECT AVG({outcome} * 1.0) FROM {table} WHERE {where}").fetchall()[0][0] or math.nan)
    df["n"] = df["n"].astype("int64")
    df = df[df["n"] >= min_n]
    if df.empty:
        raise ValueError(f"no group of {by!r} has at least min_n={min_n} rows")
    if reference is None:
        reference = str(df.sort_values(["n", "group"], ascending=[False, True])["group"].iloc[0])
    if reference not in set(df["group"]):
        raise ValueError(f"reference group {reference!r} is not among {sorted(df['group'])}")
    ref_rate = float(df.loc[df["group"] == reference, "rate"].iloc[0])
    df["difference"] = df["rate"] - overall
    df["ratio"] = df["rate"] / ref_rate if ref_rate else math.nan
    cols = ["group", "n", "rate", "difference", "ratio"] + ([] if track == "procurement" else
                                                           ["linkable_share", "rate_linkable"])
    out = _order(df[cols], by)
    out.attrs.update(outcome=outcome, label=OUTCOMES[track][outcome][0], reference=reference, overall=overall)
    return out


_AWARD_SQL = """
    WITH f AS (SELECT {group} AS grp, size_class, contracts, contract_dollars FROM {firms}
               WHERE size_class IS NOT NULL),
    ref AS (SELECT size_class, AVG(contracts * 1.0) AS exp_contracts, AVG(contract_dollars * 1.0) AS exp_dollars
            FROM f WHERE NOT grp GROUP BY size_class)
    SELECT COUNT(*) AS firms, SUM(f.contracts) AS contracts, SUM(r.exp_contracts) AS expected_contracts,
           SUM(f.contract_dollars) AS dollars, SUM(r.exp_dollars) AS expected_dollars,
           (SELECT AVG(contracts * 1.0) FROM f WHERE grp) / (SELECT AVG(contracts * 1.0) FROM f WHERE NOT grp)
               AS crude_ratio
    FROM f JOIN ref AS r ON r.size_class = f.size_class
    WHERE f.grp
"""


def ratio_interval(firms: pd.DataFrame, *, level: float = 0.95, reps: int = 2000, seed: int = 20260101,
                   group: str = "minority_certified") -> tuple[float, float]:
    """Bootstrap interval of the size-adjusted contract ratio, resampling firms (percentile method).

    Firms are drawn with replacement within each group (``group`` true, and the others) so that both the
    observed contracts and the size-class means behind the expected ones vary as they would in another year's
    awards; contracts cluster within firms, which a count-based (Poisson) interval would ignore. Deterministic:
    the same firms and ``seed`` give the same interval.
    """
    f = firms.dropna(subset=["size_class"])
    mine, rest = f[f[group].astype(bool)], f[~f[group].astype(bool)]
    if mine.empty or rest.empty:
        return math.nan, math.nan
    classes = {c: i for i, c in enumerate(sorted(f["size_class"].unique()))}
    mc = mine["size_class"].map(classes).to_numpy()
    rc = rest["size_class"].map(classes).to_numpy()
    my, ry = mine["contracts"].to_numpy(float), rest["contracts"].to_numpy(float)
    rng = np.random.default_rng(seed)
    out = np.empty(reps)
    for r in range(reps):
        a = rng.integers(0, len(my), len(my))
        b = rng.integers(0, len(ry), len(ry))
        sums = np.bincount(rc[b], weights=ry[b], minlength=len(classes))
        counts = np.bincount(rc[b], minlength=len(classes))
        means = np.divide(sums, counts, out=np.full(len(classes), np.nan), where=counts > 0)
        expected = means[mc[a]]
        ok = ~np.isnan(expected)
        out[r] = my[a][ok].sum() / expected[ok].sum() if expected[ok].sum() else np.nan
    lo, hi = np.nanpercentile(out, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)


def _award_row(con, firms: str, group: str, level: float = 0.95) -> pd.DataFrame:
    row = con.sql(_AWARD_SQL.format(firms=firms, group=group)).df().iloc[0]
    firms_n = int(row["firms"] or 0)
    out = {"firms": firms_n,
           "contracts": float(row["contracts"] or 0), "expected_contracts": float(row["expected_contracts"] or 0),
           "dollars": float(row["dollars"] or 0), "expected_dollars": float(row["expected_dollars"] or 0)}
    out["contract_ratio"] = out["contracts"] / out["expected_contracts"] if out["expected_contracts"] else math.nan
    firms_df = con.sql(f"SELECT {group} AS minority_certified, size_class, contracts FROM {firms}").df()
    out["contract_ratio_low"], out["contract_ratio_high"] = ratio_interval(firms_df, level=level)
    out["crude_ratio"] = float(row["crude_ratio"]) if row["crude_ratio"] is not None and not pd.isna(
        row["crude_ratio"]) else math.nan
    out["dollar_ratio"] = out["dollars"] / out["expected_dollars"] if out["expected_dollars"] else math.nan
    return pd.DataFrame([out])


@quiet
def award_ratio(con) -> pd.DataFrame:
    """Contracts won by certified minority-owned firms relative to firms of the same size (procurement).

    For each certified minority-owned firm with a known size class, the *expected* number of contracts
    (and dollars) is the mean of the other firms in its size class. A ratio below 1 means these firms win
    less than firms of their size; size is the main legitimate driver of contract volume, so this is the
    disparity a disparity study starts from. Needs ``pr_analysis`` (``prepare_track(con, "procurement")``).

    The interval (``contract_ratio_low``, ``contract_ratio_high``, 95%) comes from resampling firms
    (:func:`ratio_interval`). ``crude_ratio`` is the same
    comparison *without* the size adjustment: the mean contracts of these firms over the mean of all others.

    Returns
    -------
    pandas.DataFrame
        One row: ``firms, contracts, expected_contracts, dollars, expected_dollars, contract_ratio,
        contract_ratio_low, contract_ratio_high, crude_ratio, dollar_ratio``.
    """
    _require_table(con, "pr_analysis", "run linkage_report.prepare_track(con, 'procurement') first")
    return _award_row(con, "pr_analysis", "minority_certified")


# ----------------------------------------------------------------------------------- truth (instructor)
@quiet
def true_linkage_error_by_group(con, *, by: str = "sex", prefix: str = "mpi") -> pd.DataFrame:
    """True linkage recall and under-linking by group (**instructor/test tool**: needs ``truth=True``).

    Groups are the true person's attributes (``sex``, ``age_band``, ``race_ethnicity``, ``education``) or
    the unit's ``state_fips``. Returns ``group, true_pairs, recall, missed_share, persons,
    under_linking_rate``.
    """
    q = mpi_quality(con, prefix=prefix, by=by)
    q["missed_share"] = 1 - q["recall"]
    return _order(q[["group", "true_pairs", "recall", "missed_share", "persons", "under_linking_rate"]], by)


@quiet
def true_outcome_rates(con, track: str, *, by: str) -> pd.DataFrame:
    """Measured outcome rates next to the truth (**instructor/test tool**: needs ``truth=True``).

    For the person tracks, each analysis row is traced to its true person (``truth.crosswalk``) and the
    primary outcome recomputed from ``truth.earnings``: ``true_rate`` counts earnings from any job,
    ``true_rate_region`` only jobs in the four states' wage files. ``measured`` is the analysis table's
    rate, ``measured_linkable`` its rate among linkable rows. For ``safety_net`` the outcome is employment
    after a real exit, with churn recomputed on true person ids too (``churn_measured``, ``churn_true``).
    For ``procurement`` see :func:`true_award_ratio`.

    Returns
    -------
    pandas.DataFrame
        One row per group.
    """
    check_track(track)
    _check_by(track, by)
    require_truth(con)
    if track == "procurement":
        raise ValueError("for procurement use true_award_ratio(con)")
    table = ANALYSIS_TABLES[track]
    _require_table(con, table, f"run linkage_report.prepare_track(con, {track!r}) first")
    if track == "workforce":
        person = ("SELECT a.*, c.person_id, a.filed_quarter + 2 AS target FROM wf_analysis AS a "
                  "JOIN ui_claim AS u ON u.claim_id = a.claim_id "
                  "JOIN truth.crosswalk AS c ON c.source_table = 'ui_claim' AND c.record_id = u.record_id")
        outcome, where = "employed_q2", "TRUE"
    elif track == "student_outcomes":
        person = ("SELECT a.*, c.person_id, a.award_quarter + 4 AS target FROM so_analysis AS a "
                  "JOIN truth.crosswalk AS c ON c.source_table = 'postsec_completion' AND c.record_id = a.record_id")
        outcome, where = "employed_q4", "TRUE"
    else:
        person = ("SELECT a.*, p.person_id, CAST(FLOOR(s.last_month / 3) AS INTEGER) + 2 AS target "
                  "FROM sn_analysis AS a JOIN sn_spells AS s ON s.program = 'snap' AND s.case_id = a.case_id "
                  "JOIN (SELECT sn.case_id, MIN(c.person_id) AS person_id FROM snap AS sn "
                  "      JOIN truth.crosswalk AS c ON c.source_table = 'snap' AND c.record_id = sn.record_id "
                  "      GROUP BY sn.case_id) AS p ON p.case_id = a.case_id")
        outcome, where = "employed_q2", "t.employed_q2 IS NOT NULL"
    df = con.sql(f"""
        WITH t AS ({person}),
        e AS (
            SELECT t.*, CASE WHEN COALESCE(te.earnings, 0) > 0 THEN 1.0 ELSE 0.0 END AS true_emp,
                   CASE WHEN COALESCE(te.earnings, 0) - COALESCE(te.out_of_region_earnings, 0) > 0
                        THEN 1.0 ELSE 0.0 END AS true_region
            FROM t LEFT JOIN truth.earnings AS te
              ON te.person_id = t.person_id AND te.year * 4 + te.quarter - 1 = t.target
        )
        SELECT CAST(COALESCE(CAST(t.{by} AS VARCHAR), 'unknown') AS VARCHAR) AS "group", COUNT(*) AS n,
               AVG(t.{outcome} * 1.0) AS measured,
               AVG(CASE WHEN t.linkable = 1 THEN t.{outcome} * 1.0 END) AS measured_linkable,
               AVG(t.true_emp) AS true_rate, AVG(t.true_region) AS true_rate_region
        FROM e AS t WHERE {where}
        GROUP BY COALESCE(CAST(t.{by} AS VARCHAR), 'unknown')
    """).df()
    if track == "safety_net":
        churn = con.sql(f"""
            WITH cp AS (
                SELECT sn.case_id, MIN(c.person_id) AS person_id FROM snap AS sn
                JOIN truth.crosswalk AS c ON c.source_table = 'snap' AND c.record_id = sn.record_id
                GROUP BY sn.case_id
            ),
            sp AS (SELECT s.*, cp.person_id FROM sn_spells AS s JOIN cp ON cp.case_id = s.case_id
                   WHERE s.program = 'snap')
            SELECT CAST(COALESCE(CAST(a.{by} AS VARCHAR), 'unknown') AS VARCHAR) AS "group",
                   AVG(a.churned * 1.0) AS churn_measured,
                   AVG(CASE WHEN EXISTS (SELECT 1 FROM sp AS s2 WHERE s2.person_id = s.person_id
                                           AND s2.case_id <> s.case_id
                                           AND s2.first_month BETWEEN s.last_month + 1 AND s.last_month + 4)
                            THEN 1.0 ELSE 0.0 END) AS churn_true
            FROM sn_analysis AS a JOIN sp AS s ON s.case_id = a.case_id
            GROUP BY COALESCE(CAST(a.{by} AS VARCHAR), 'unknown')
        """).df()
        df = df.merge(churn, on="group", how="left")
    df["n"] = df["n"].astype("int64")
    return _order(df, by)


@quiet
def true_award_ratio(con) -> pd.DataFrame:
    """:func:`award_ratio` computed from the truth (**instructor/test tool**: needs ``truth=True``).

    Firms are the true businesses (``truth.business``; certified *and* minority-owned), contracts are
    attributed through ``truth.business_crosswalk`` and size comes from the employer file on the true EIN.
    Also reports ``uncertified_minority_share``: minority-owned firms missing from the registry.
    """
    require_truth(con)
    con.sql("""
        CREATE OR REPLACE TEMP TABLE _dl_true_firms AS
        WITH awards AS (
            SELECT x.business_id, COUNT(*) AS contracts, SUM(c.amount) AS contract_dollars
            FROM contract AS c
            JOIN truth.business_crosswalk AS x
              ON x.source_key = c.vendor_key
             AND x.source_table = CASE c.source_system WHEN 'dot' THEN 'vendor_dot' ELSE 'vendor_comptroller' END
            GROUP BY x.business_id
        ),
        size AS (SELECT ein, MAX(size_class) AS size_class FROM employer GROUP BY ein),
        listed AS (SELECT DISTINCT business_id FROM truth.business_crosswalk)
        SELECT b.business_id, (b.certified AND b.minority_owned) AS minority_certified, s.size_class,
               COALESCE(a.contracts, 0) AS contracts, COALESCE(a.contract_dollars, 0) AS contract_dollars
        FROM truth.business AS b
        JOIN listed AS l ON l.business_id = b.business_id
        LEFT JOIN awards AS a ON a.business_id = b.business_id
        LEFT JOIN size AS s ON s.ein = b.ein
    """)
    out = _award_row(con, "_dl_true_firms", "minority_certified")
    share = con.sql("SELECT AVG(CASE WHEN certified THEN 0.0 ELSE 1.0 END) FROM truth.business "
                    "WHERE minority_owned").fetchall()[0][0]
    con.sql("DROP TABLE IF EXISTS _dl_true_firms")
    out["uncertified_minority_share"] = float(share) if share is not None else math.nan
    return out


# ----------------------------------------------------------------------------------- deliverable
EQUITY_ASSESSMENT = DeliverableSpec(
    kind="equity_assessment", title="Equity assessment", unit=7,
    description="Who is missing, who is mislinked, and how outcomes differ, across the data life cycle.",
    required=("team", "scope", "who_is_missing", "linkage_error", "outcome_disparities", "findings",
              "mitigations"),
    optional=("lifecycle", "outcome_label", "method_note", "limits", "prepared_by"),
)

_LIFECYCLE = [
    {"stage": "Collection", "question": "Who is never recorded, or recorded without identifiers?",
     "what we checked": "Missing SSNs and dates of birth by source and group"},
    {"stage": "Linkage", "question": "Whose records are more often left unlinked or merged?",
     "what we checked": "Estimated missed links by group (the hidden-SSN check)"},
    {"stage": "Analysis", "question": "Do outcomes differ by group, and could the gap be a measurement artefact?",
     "what we checked": "Outcome by group, next to the share that could be measured"},
    {"stage": "Reporting", "question": "Which groups are too small to publish, and what is hidden by suppression?",
     "what we checked": "Group sizes against the disclosure minimum (unit 8)"},
]

_MITIGATIONS = {
    "safety_net": [
        "Link heads without a valid SSN through names and dates of birth, and review near-threshold pairs with a "
        "changed surname by hand.",
        "Report employment after exit among linkable heads and say how many could not be linked, by group.",
        "Ask the eligibility system for the closure reason, so procedural churn is not read as a family's choice.",
    ],
    "workforce": [
        "Report re-employment with all available states' wage files, and say which border counties lose most "
        "to jobs outside the region.",
        "Break results down by education and age as well as sex before using them to target services.",
        "Seek a multi-state wage-record agreement for the neighboring states outside the region.",
    ],
    "student_outcomes": [
        "Borrow SSNs from other programs through the MPI before declaring a completer unlinkable.",
        "Report employment among linkable completers, with the unlinkable share by credential and institution.",
        "Do not rank programs whose completers often work across a state line on the home state's file alone.",
    ],
    "procurement": [
        "Compare awards with firms of the same size before calling a gap a disparity.",
        "Reach out to minority-owned firms that are not certified: the registry cannot see them.",
        "Add the EIN to the certification application so the registry links without names.",
    ],
}

_SCOPE = {
    "safety_net": "SNAP closures and the TANF and SNAP case heads behind them, linked through the MPI.",
    "workforce": "UI claims and claimants, linked through the MPI and to the four states' wage records.",
    "student_outcomes": "Credentials awarded and their recipients, linked through the MPI to the wage records.",
    "procurement": "Firms in the vendor, contractor and certification systems, and the contracts they won.",
}

_DEFAULT_BY = {"safety_net": "sex", "workforce": "state_fips", "student_outcomes": "state_fips",
               "procurement": "minority_certified"}


def _fmt_share(x, digits: int = 1) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * float(x):.{digits}f}%"


def _missed_link_finding(est: pd.DataFrame) -> str | None:
    """One sentence comparing the groups with the most and the fewest estimated missed links.

    Each group's ``est_missed_share`` comes with a standard error (``est_missed_se``, from the spread of the
    hidden-SSN check). A gap within twice the standard error of the difference is reported as no clear
    difference: on a few thousand pairs a planted mechanism (surname changes) can move the estimate less than
    chance does.
    """
    est = est.dropna(subset=["est_missed_share"]).set_index("group")
    if len(est) < 2:
        return None
    miss = est["est_missed_share"]
    hi, lo = miss.idxmax(), miss.idxmin()
    se = est["est_missed_se"].fillna(0.0)
    margin = 2 * math.hypot(se[hi], se[lo])
    pct = functools.partial(_fmt_share, digits=2)   # gaps of hundredths of a point

    if miss[hi] - miss[lo] <= margin:
        return (f"Estimated missed links are about the same for group {hi} ({pct(miss[hi])}) and group {lo} "
                f"({pct(miss[lo])}): the difference is within its sampling error (about ±{pct(margin)}). A "
                f"clerical review of near-threshold pairs by group is the way to look further.")
    cause = " Surname changes at marriage are one known cause." if hi == "F" else ""
    return (f"Estimated missed links are higher for group {hi} ({pct(miss[hi])}) than for group {lo} "
            f"({pct(miss[lo])}), more than sampling error explains (about ±{pct(margin)}): names and dates of "
            f"birth carry fewer of group {hi}'s links when the SSN is missing.{cause}")


@quiet
def equity_assessment(con, track: str, *, team: str = "Example state team", by: str | None = None,
                      min_n: int = 11, **fields) -> Deliverable:
    """The unit 7 deliverable, filled in from the workspace for ``track``.

    Needs :func:`statelab.datalabs.linkage_report.prepare_track` to have run. Computed fields: who is
    missing (identifier gaps by sex), estimated linkage error by sex and by age band, the track's primary
    outcome by ``by`` (groups smaller than ``min_n`` left out), and findings written from those numbers.
    Written fields (scope, mitigations) start from the course's example text. Keywords replace fields.
    """
    check_track(track)
    by = by or _DEFAULT_BY[track]
    _check_by(track, by)
    findings: list[str] = []
    if track == "procurement":
        ratio = award_ratio(con).iloc[0]
        who = pd.DataFrame([
            {"source": "cert_registry", "who is missing": "minority-owned firms that never certified",
             "visible in the data?": "no"},
            {"source": "vendor_dot", "who is missing": "firms with a lost tax ID (no EIN to link on)",
             "visible in the data?": "yes"},
        ])
        link = estimate_business_error(con)
        method_note = ("Conflicting evidence inside links (names that differ under one EIN, EINs that differ under "
                       "one name) signals false links; certification records matched to no vendor bound the missed "
                       "ones.")
        outcome_table = award_ratio(con)
        outcome_label = ("contracts and dollars won by certified minority-owned firms, against the mean of other "
                         "firms of the same size class")
        if ratio["firms"] > 0 and not math.isnan(ratio["contract_ratio"]):
            findings.append(
                f"Certified minority-owned firms won {ratio['contracts']:,.0f} contracts where firms of the same "
                f"size would be expected to win {ratio['expected_contracts']:,.1f}: a ratio of "
                f"{ratio['contract_ratio']:.2f}.")
        else:
            findings.append("Too few certified minority-owned firms with a known size to compare with others.")
    else:
        method_note = ("Estimated from the data: each unit with a valid SSN is checked again with its SSN hidden, "
                       "and the pairs such units would lose, file by file and group by group, are applied to the "
                       "units that really lack one. est_missed_se is the standard error of est_missed_share.")
        who = missing_identifiers(con, by="sex")
        by_sex = linkage_error_by_group(con, by="sex")  # once: the table and the finding read the same estimate
        link = pd.concat([by_sex, linkage_error_by_group(con, by="age_band")], ignore_index=True)
        gap = _missed_link_finding(by_sex)
        if gap:
            findings.append(gap)
        per_source = (who.assign(missing=who["no_valid_ssn"] * who["units"]).groupby("source_table")[["missing", "units"]]
                      .sum())
        per_source = per_source["missing"] / per_source["units"]
        findings.append(
            f"{per_source.idxmax()} records lack a valid SSN most often ({_fmt_share(per_source.max())} of its "
            f"identity units); {per_source.idxmin()} least often ({_fmt_share(per_source.min())}).")
    if track != "procurement":
        disp = outcome_disparities(con, track, by=by, min_n=min_n)
        outcome_table = disp
        outcome_label = f"{disp.attrs['label']}, by {by} (groups of at least {min_n})"
    if track != "procurement" and len(disp) >= 2:
        low = disp.sort_values("rate").iloc[0]
        high = disp.sort_values("rate").iloc[-1]
        findings.append(
            f"The measured rate ranges from {_fmt_share(low['rate'])} ({by} {low['group']}) to "
            f"{_fmt_share(high['rate'])} ({by} {high['group']}); among linkable records the range is "
            f"{_fmt_share(disp['rate_linkable'].min())} to {_fmt_share(disp['rate_linkable'].max())}.")
    out = {
        "team": team,
        "scope": _SCOPE[track],
        "lifecycle": _LIFECYCLE,
        "who_is_missing": rounded(who),
        "linkage_error": rounded(link, 4),
        "method_note": method_note,
        "outcome_label": outcome_label,
        "outcome_disparities": rounded(outcome_table),
        "findings": findings,
        "mitigations": _MITIGATIONS[track],
        "limits": ["Estimated missed links assume that units without a valid SSN are like units with one in the "
                   "same file and group in everything else (names, dates of birth); a clerical review checks it.",
                   "Jobs outside the four states, federal jobs and self-employment are in no wage file."],
    }
    out.update(fields)
    return Deliverable(EQUITY_ASSESSMENT, out, track=track)
