"""Did WIOA training raise earnings? The analysis frame and the estimators of module 8.

The question is causal: how much higher are participants' quarterly earnings after
they leave a WIOA program *because* they were trained? Learners build one row per
period of participation (a *spell*) from the learner tables (``wioa`` linked to
``ui_wage`` by SSN) with :func:`analysis_frame`, then estimate the effect several
ways and compare the answers.

Outcomes and populations
------------------------
The main outcome is ``post_earnings``: mean quarterly wages in the four quarters after
the exit quarter, summed over the wage files of **all four states** (quarters without a
wage record count as zero). Training time itself (entry to exit) is left out: earnings
are lower while people train (the "lock-in" effect), and the question is about earnings
afterwards. Two more outcomes split it in its parts: ``post_employment`` (the share of
those four quarters with any wages) and ``post_log_earnings`` (mean log wages over the
quarters with wages, missing for spells with none). A training effect that raises the
pay of people who work, and not whether they work, shows on the second and not the first.

Two populations appear in the frame (``pilot_study``):

* the **observational pool** (``pilot_study`` false): caseworkers and participants
  chose who was trained, so the trained differ from the untrained before training;
* the **randomized pilot** (``pilot_study`` true): training was assigned by lottery.

What each estimator targets
---------------------------
Each :class:`Estimate` names, in ``target``, the row of :func:`true_effects` it should
be compared with.

* :func:`naive_difference` (observational pool): no causal estimand; it is the ATT plus
  selection bias, and is compared with ``att`` to show that bias.
* :func:`regression_adjusted` (observational pool): ``att`` if the effect were the same
  for everyone and the covariates captured every reason for training. With effects
  that differ between people, the OLS coefficient weights groups by the variance of
  training within them, so it lies near the ATT, not exactly at it.
* :func:`ipw_att` and :func:`aipw_att` (observational pool, from
  :mod:`statelab.weighting`): ``att``, by giving the untrained the odds ``p / (1 - p)``
  of their propensity score as weights; the doubly robust AIPW adds an outcome model.
  After :func:`trim_by_propensity`, the ATT of the trained spells kept.
* :func:`difference_in_differences` (observational pool): ``att`` only if the trained and
  untrained would have changed alike without training (parallel trends). Selection on a
  dip that starts more than a year before entry breaks that assumption for both
  starting years the frame offers; the event study of :mod:`statelab.panel` shows it.
* :func:`experimental_estimate` (pilot only): ``ate_pilot``, the average effect among
  pilot participants (by randomization also the pilot's ATT).

The learner's benchmark for the observational estimators is the pilot's experimental
estimate. It is an estimate of a different quantity: the pilot's participants are not the
observational pool's trained, and a proportional effect is worth fewer dollars to people
who earn less. Agreement within sampling error is the most one can expect.

The truth (instructors and tests only)
--------------------------------------
:func:`true_effects` reads the hidden ``truth`` catalog and returns the true effect for
the same spells on the same outcome. The truth's potential outcomes
(``truth.wioa_effect.y0_post``/``y1_post``) count earnings from every job, including
jobs outside the region that are in no wage file, while the estimators only see what
the wage files hold (and lose jobs whose SSN was mistyped). Because the planted effect
multiplies every job's earnings in quarter *k* after exit by ``1 + effect * ramp[k]``,
the untrained outcome of a trained spell *as the wage files record it* is the recorded
earnings divided by that factor (and the trained outcome of an untrained spell is the
recorded earnings times it). :func:`true_effects` uses this to give the effect on
exactly the estimators' outcome (``effect_measured``), and also reports the all-jobs
effect from the truth table (``effect_all_jobs``) for comparison.

All SQL is run on the caller's DuckDB connection and written in portable SQL.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from ._estimate import (DEFAULT_COVARIATES, Estimate, _design, _groups, _mean_difference, _require, _result,
                        _unit)
from .identifiers import key_status_sql
from .weighting import (aipw_att, balance_table, bootstrap, ipw_att, overlap_summary, propensity_scores,
                        trim_by_propensity)

__all__ = [
    "DEFAULT_COVARIATES",
    "DIP_OFFSET",
    "POST_QUARTERS",
    "PRE_QUARTERS",
    "Estimate",
    "aipw_att",
    "analysis_frame",
    "analysis_frame_sql",
    "attrition",
    "balance_table",
    "bootstrap",
    "compare_estimators",
    "difference_in_differences",
    "earnings_profile",
    "experimental_estimate",
    "ipw_att",
    "naive_difference",
    "overlap_summary",
    "propensity_scores",
    "regression_adjusted",
    "trim_by_propensity",
    "true_effects",
]


#: Quarters before the entry quarter kept in the frame (``pre_q1`` is the quarter just before entry).
PRE_QUARTERS = 8

#: Quarters after the exit quarter averaged into the outcome (``post_q1`` ... ``post_q4``).
POST_QUARTERS = 4

#: Dollars added to the denominator of ``earnings_dip`` so people with almost no earlier earnings
#: do not get extreme ratios.
DIP_OFFSET = 1000

_LOW_EDUCATION = ("less_than_hs", "high_school")


# ------------------------------------------------------------------------------------------ the frame
def analysis_frame_sql(*, wioa_table: str = "wioa", wage_table: str = "ui_wage") -> str:
    """The SQL that builds one row per WIOA spell, with its pre- and post-program wages.

    Parameters
    ----------
    wioa_table, wage_table : str, keyword-only
        Table names to read (the learner tables by default).

    Returns
    -------
    str
        A single ``SELECT`` statement. Steps: collapse repeated PIRL rows to one row per
        ``(unique_individual_id, entry_date)``; classify each spell's SSN
        (:func:`statelab.identifiers.key_status_sql`: ``missing``, ``malformed``, ``placeholder``,
        ``conflicting`` when repeated rows disagree, ``shared`` when another participant has the same
        SSN, else ``usable``); add up wages from every
        state's file per quarter for usable SSNs, from 8 quarters before the entry quarter
        to 4 quarters after the exit quarter.
    """
    for name in (wioa_table, wage_table):
        if not isinstance(name, str) or not name.replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"table name must be a plain SQL identifier, got {name!r}")
    ssn_status = key_status_sql("s.ssn", conflicting="s.n_distinct_ssn > 1", shared="u.n_participants > 1")
    pre = ",\n".join(
        f"        SUM(CASE WHEN from_entry = {-k} THEN wages ELSE 0 END) AS pre_q{k}" for k in range(1, PRE_QUARTERS + 1))
    post = ",\n".join(
        f"        SUM(CASE WHEN from_exit = {k} THEN wages ELSE 0 END) AS post_q{k}" for k in range(1, POST_QUARTERS + 1))
    pre_cols = ", ".join(f"p.pre_q{k}" for k in range(1, PRE_QUARTERS + 1))
    post_cols = ", ".join(f"p.post_q{k}" for k in range(1, POST_QUARTERS + 1))
    return f"""
WITH spells AS (
    SELECT
        unique_individual_id,
        entry_date,
        MIN(record_id) AS record_id,
        COUNT(*) AS n_records,
        MIN(state_fips) AS state_fips,
        MIN(ssn) AS ssn,
        COUNT(DISTINCT ssn) AS n_distinct_ssn,
        MIN(dob) AS dob,
        MIN(sex) AS sex,
        MIN(race_ethnicity) AS race_ethnicity,
        MIN(education) AS education,
        MIN(program) AS program,
        MIN(exit_date) AS exit_date,
        MAX(CASE WHEN employed_at_entry THEN 1 ELSE 0 END) AS employed_at_entry,
        MAX(CASE WHEN received_training THEN 1 ELSE 0 END) AS trained,
        MAX(CASE WHEN pilot_study THEN 1 ELSE 0 END) AS pilot
    FROM {wioa_table}
    GROUP BY unique_individual_id, entry_date
),
ssn_use AS (
    SELECT ssn, COUNT(DISTINCT unique_individual_id) AS n_participants
    FROM {wioa_table}
    WHERE ssn IS NOT NULL
    GROUP BY ssn
),
checked AS (
    SELECT
        s.*,
        {ssn_status} AS ssn_status,
        EXTRACT(YEAR FROM s.entry_date) * 4 + EXTRACT(QUARTER FROM s.entry_date) - 1 AS entry_qindex,
        EXTRACT(YEAR FROM s.exit_date) * 4 + EXTRACT(QUARTER FROM s.exit_date) - 1 AS exit_qindex,
        EXTRACT(YEAR FROM s.entry_date) - EXTRACT(YEAR FROM s.dob)
          - CASE WHEN EXTRACT(MONTH FROM s.entry_date) * 100 + EXTRACT(DAY FROM s.entry_date)
                    < EXTRACT(MONTH FROM s.dob) * 100 + EXTRACT(DAY FROM s.dob) THEN 1 ELSE 0 END AS age_at_entry
    FROM spells AS s
    LEFT JOIN ssn_use AS u ON u.ssn = s.ssn
),
linked AS (
    SELECT
        c.record_id,
        w.year * 4 + w.quarter - 1 - c.entry_qindex AS from_entry,
        w.year * 4 + w.quarter - 1 - c.exit_qindex AS from_exit,
        w.wages,
        CASE WHEN w.state_fips = c.state_fips THEN w.wages ELSE 0 END AS home_wages
    FROM checked AS c
    JOIN {wage_table} AS w ON w.ssn = c.ssn
    WHERE c.ssn_status = 'usable'
      AND w.year * 4 + w.quarter - 1 BETWEEN c.entry_qindex - {PRE_QUARTERS} AND c.exit_qindex + {POST_QUARTERS}
),
per_spell AS (
    SELECT
        record_id,
{pre},
{post},
        SUM(CASE WHEN from_exit BETWEEN 1 AND {POST_QUARTERS} THEN home_wages ELSE 0 END) AS post_home_total
    FROM linked
    GROUP BY record_id
),
data_range AS (
    SELECT MIN(year * 4 + quarter - 1) AS first_qindex, MAX(year * 4 + quarter - 1) AS last_qindex
    FROM {wage_table}
)
SELECT
    c.record_id, c.unique_individual_id, c.n_records, c.state_fips, c.ssn, c.ssn_status,
    c.sex, c.race_ethnicity, c.education, c.program, c.entry_date, c.exit_date,
    c.entry_qindex, c.exit_qindex, c.age_at_entry, c.employed_at_entry, c.trained, c.pilot,
    c.exit_date IS NOT NULL AND c.exit_qindex + {POST_QUARTERS} <= r.last_qindex AS complete_follow_up,
    c.entry_qindex - {PRE_QUARTERS} >= r.first_qindex AS complete_pre_period,
    {pre_cols},
    {post_cols},
    p.post_home_total
FROM checked AS c
CROSS JOIN data_range AS r
LEFT JOIN per_spell AS p ON p.record_id = c.record_id
ORDER BY c.record_id
"""


def analysis_frame(con, *, complete_only: bool = True, wioa_table: str = "wioa",
                   wage_table: str = "ui_wage") -> pd.DataFrame:
    """One row per WIOA spell: treatment, covariates and earnings before and after the program.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection from ``synthetic_data.connect`` (the learner tables are enough).
    complete_only : bool, keyword-only
        If true (the default), keep only the spells an analysis can use: a usable SSN,
        complete follow-up (an exit date and 4 quarters of wage data after the exit
        quarter), 8 quarters of data before entry, and a known age. If false, return
        every spell with its flags; earnings are missing (NaN) where the SSN is not usable.
    wioa_table, wage_table : str, keyword-only
        Table names to read.

    Returns
    -------
    pandas.DataFrame
        Identifiers (``record_id``: the smallest ``wioa.record_id`` of the spell,
        ``unique_individual_id``, ``ssn``, ``ssn_status``, ``n_records``); spell facts
        (``state_fips``, ``program``, ``entry_date``, ``exit_date``, quarter indexes,
        ``trained`` 0/1, ``pilot_study`` bool); covariates (``age_at_entry``, ``under_35``,
        ``female``, ``education``, ``low_education``, ``employed_at_entry``); wages from
        all states' files per quarter (``pre_q1`` ... ``pre_q8`` before the entry quarter,
        ``post_q1`` ... ``post_q4`` after the exit quarter) and the summaries
        ``pre_earnings`` (mean of quarters 1-4 before entry), ``base_earnings`` (mean of
        quarters 5-8 before entry), ``earnings_dip`` (the pre-program dip as a share:
        ``(base_earnings - pre_earnings) / (base_earnings + DIP_OFFSET)``, kept within
        -1 to 1), ``log_pre_earnings`` and ``log_base_earnings`` (``log(1 + x)``), the
        outcome ``post_earnings`` (mean of ``post_q1`` ... ``post_q4``), its parts
        ``post_employment`` (share of those quarters with wages above zero) and
        ``post_log_earnings`` (mean natural log of the wages of those quarters, NaN if there
        are none), and ``post_earnings_home`` (the mean, counting only the file of the state
        that served the participant).
    """
    if not isinstance(complete_only, bool):
        raise TypeError(f"complete_only must be True or False, got {complete_only!r}")
    df = con.sql(analysis_frame_sql(wioa_table=wioa_table, wage_table=wage_table)).df()
    df = df.rename(columns={"pilot": "pilot_study"})
    usable = df["ssn_status"].eq("usable").to_numpy()
    pre_cols = [f"pre_q{k}" for k in range(1, PRE_QUARTERS + 1)]
    post_cols = [f"post_q{k}" for k in range(1, POST_QUARTERS + 1)]
    for col in pre_cols + post_cols + ["post_home_total"]:
        values = pd.to_numeric(df[col], errors="coerce").astype("float64").fillna(0.0)
        df[col] = values.where(usable, np.nan)
    for col in ("record_id", "n_records", "entry_qindex", "exit_qindex", "trained", "employed_at_entry"):
        df[col] = pd.to_numeric(df[col]).astype("int64") if df[col].notna().all() else pd.to_numeric(df[col])
    df["pilot_study"] = df["pilot_study"].astype(bool)
    df["complete_follow_up"] = df["complete_follow_up"].fillna(False).astype(bool)
    df["complete_pre_period"] = df["complete_pre_period"].fillna(False).astype(bool)
    df["age_at_entry"] = pd.to_numeric(df["age_at_entry"], errors="coerce").astype("float64")
    df["under_35"] = (df["age_at_entry"] < 35).astype("int64").where(df["age_at_entry"].notna())
    df["female"] = df["sex"].eq("F").astype("int64")
    df["low_education"] = df["education"].isin(_LOW_EDUCATION).astype("int64")
    df["pre_earnings"] = df[pre_cols[:4]].mean(axis=1, skipna=False)
    df["base_earnings"] = df[pre_cols[4:8]].mean(axis=1, skipna=False)
    df["earnings_dip"] = ((df["base_earnings"] - df["pre_earnings"]) / (df["base_earnings"] + DIP_OFFSET)).clip(-1, 1)
    df["log_pre_earnings"] = np.log1p(df["pre_earnings"])
    df["log_base_earnings"] = np.log1p(df["base_earnings"])
    df["post_earnings"] = df[post_cols].mean(axis=1, skipna=False)
    post = df[post_cols].to_numpy(dtype="float64")
    for name in ("post_employment", "post_log_earnings"):
        df[name] = np.where(np.isnan(post).any(axis=1), np.nan, _TRUE_OUTCOMES[name](np.nan_to_num(post)))
    df["post_earnings_home"] = df["post_home_total"] / POST_QUARTERS
    df = df.drop(columns=["post_home_total"])
    if complete_only:
        keep = (usable & df["complete_follow_up"].to_numpy() & df["complete_pre_period"].to_numpy()
                & df["age_at_entry"].notna().to_numpy())
        df = df.loc[keep]
        df["under_35"] = df["under_35"].astype("int64")
    return df.reset_index(drop=True)


def attrition(spells: pd.DataFrame) -> pd.DataFrame:
    """How many spells survive each step from the raw PIRL rows to the analysis sample.

    Parameters
    ----------
    spells : pandas.DataFrame
        The frame from ``analysis_frame(con, complete_only=False)``.

    Returns
    -------
    pandas.DataFrame
        Columns ``step``, ``spells`` (left after the step), ``trained`` (among them) and
        ``share_trained``. Report it next to any estimate: dropped spells are unknown,
        not zero.
    """
    _require(spells, ["n_records", "ssn_status", "complete_follow_up", "complete_pre_period", "age_at_entry",
                      "trained"], "spells")
    steps = [("WIOA records (rows)", None)]
    mask = pd.Series(True, index=spells.index)
    steps.append(("spells (repeated rows collapsed)", mask.copy()))
    mask &= spells["ssn_status"].eq("usable")
    steps.append(("with a usable SSN", mask.copy()))
    mask &= spells["complete_follow_up"] & spells["complete_pre_period"]
    steps.append(("with complete wage history", mask.copy()))
    mask &= spells["age_at_entry"].notna()
    steps.append(("with a known age (analysis sample)", mask.copy()))
    rows = []
    for step, m in steps:
        if m is None:
            n = int(spells["n_records"].sum())
            trained = int((spells["n_records"] * spells["trained"]).sum())
        else:
            n, trained = int(m.sum()), int(spells.loc[m, "trained"].sum())
        rows.append({"step": step, "spells": n, "trained": trained, "share_trained": trained / n if n else math.nan})
    return pd.DataFrame(rows)


def earnings_profile(frame: pd.DataFrame, *, by: str = "trained") -> pd.DataFrame:
    """Mean quarterly earnings before entry and after exit, by group, for plotting the pre-program dip.

    Parameters
    ----------
    frame : pandas.DataFrame
        An analysis frame.
    by : str, keyword-only
        The column that defines the groups (``"trained"`` by default).

    Returns
    -------
    pandas.DataFrame
        One row per group and period: ``by``, ``period`` (``-8`` ... ``-1`` are quarters
        before the entry quarter, ``1`` ... ``4`` quarters after the exit quarter),
        ``mean_earnings`` and ``spells``. A row with ``period`` 0 and no mean stands for
        the program itself (entry to exit, which lasts a different time for each
        spell), so a line chart of ``mean_earnings`` against ``period`` breaks there.
    """
    _require(frame, [by], "frame")
    cols = {f"pre_q{k}": -k for k in range(1, PRE_QUARTERS + 1)}
    cols.update({f"post_q{k}": k for k in range(1, POST_QUARTERS + 1)})
    _require(frame, list(cols), "frame")
    long = frame[[by, *cols]].melt(id_vars=[by], var_name="column", value_name="earnings")
    long["period"] = long["column"].map(cols).astype("int64")
    out = (long.groupby([by, "period"], as_index=False)
           .agg(mean_earnings=("earnings", "mean"), spells=("earnings", "count")))
    gap = pd.DataFrame({by: out[by].drop_duplicates().to_numpy(), "period": 0, "mean_earnings": np.nan, "spells": 0})
    out = pd.concat([out, gap.astype({"spells": out["spells"].dtype})], ignore_index=True)
    return out.sort_values([by, "period"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------- estimators
def naive_difference(frame: pd.DataFrame, *, outcome: str = "post_earnings", treatment: str = "trained",
                     alpha: float = 0.05) -> Estimate:
    """Mean outcome of the trained minus mean outcome of the untrained (Welch standard error).

    Run it on the observational pool. It answers "how different are trained participants'
    earnings?", not "how much did training change them?": it equals the ATT plus
    selection bias (the untrained outcome gap between who was and was not trained).

    Parameters
    ----------
    frame : pandas.DataFrame
        An analysis frame (usually ``frame[~frame["pilot_study"]]``).
    outcome, treatment : str, keyword-only
        Column names.
    alpha : float, keyword-only
        1 - confidence level of the interval.

    Returns
    -------
    Estimate
        ``target="att"``.
    """
    y, t = _groups(frame, outcome, treatment, "naive_difference")
    est, se = _mean_difference(y, t)
    return _result("naive difference", "att", est, se, len(y), t.sum(), alpha, _unit(outcome))


def regression_adjusted(frame: pd.DataFrame, *, covariates=DEFAULT_COVARIATES, outcome: str = "post_earnings",
                        treatment: str = "trained", cov_type: str = "HC1", alpha: float = 0.05) -> Estimate:
    """The coefficient on training in an OLS regression of the outcome on training and covariates.

    Uses ``statsmodels`` OLS with heteroskedasticity-robust standard errors (``HC1`` by
    default). If the effect were the same for everyone and the covariates captured every
    reason the trained differ, the coefficient would equal the ATT. With effects that
    differ between people it is a weighted average of group effects (weights largest
    where training is closest to a coin flip), so it is compared with the ATT but need
    not equal it.

    Parameters
    ----------
    frame : pandas.DataFrame
        An analysis frame (usually the observational pool).
    covariates : sequence of str, keyword-only
        Columns to adjust for; text columns become indicator variables.
    outcome, treatment : str, keyword-only
        Column names.
    cov_type : str, keyword-only
        A statsmodels robust covariance type (``"HC0"`` ... ``"HC3"``), or ``"nonrobust"``.
    alpha : float, keyword-only
        1 - confidence level of the interval.

    Returns
    -------
    Estimate
        ``target="att"``.
    """
    from statsmodels.regression.linear_model import OLS  # statsmodels.api's OLS and add_constant, from their
    from statsmodels.tools.tools import add_constant  # own modules: statsmodels.api imports all of statsmodels
    _groups(frame, outcome, treatment, "regression_adjusted")  # both groups present
    X = _design(frame, covariates, "regression_adjusted")
    data = frame.loc[X.index, [outcome, treatment]].dropna()
    X = X.loc[data.index]
    X.insert(0, "trained_", data[treatment].astype("float64"))
    X = add_constant(X, has_constant="add")
    fit = OLS(data[outcome].astype("float64"), X).fit(cov_type=cov_type)
    return _result("regression adjustment", "att", fit.params["trained_"], fit.bse["trained_"], len(data),
                   data[treatment].astype(bool).sum(), alpha, _unit(outcome))


def difference_in_differences(frame: pd.DataFrame, *, before: str = "base_earnings", outcome: str = "post_earnings",
                              treatment: str = "trained", alpha: float = 0.05) -> Estimate:
    """Change in earnings (after minus before) of the trained minus that of the untrained.

    Identifies the ATT if, without training, the trained would have changed like the
    untrained (parallel trends). Participants choose training when their earnings have
    just dipped (the Ashenfelter dip), and dipped earnings recover on their own, so
    ``before="pre_earnings"`` (the 4 quarters just before entry) can credit training with
    that recovery. The default ``"base_earnings"`` (quarters 5-8 before entry) starts
    earlier, but it is unbiased only if the two groups' earnings moved in parallel from
    then on: check that with the pre-period coefficients of an event study
    (:func:`statelab.panel.event_study`) before trusting either. The two estimates differ
    by exactly the change in the groups' gap between the two base periods.

    Parameters
    ----------
    frame : pandas.DataFrame
        An analysis frame (usually the observational pool).
    before : str, keyword-only
        The column of pre-program earnings to difference out.
    outcome, treatment : str, keyword-only
        Column names.
    alpha : float, keyword-only
        1 - confidence level of the interval.

    Returns
    -------
    Estimate
        ``target="att"``; the method name records ``before``.
    """
    _require(frame, [before, outcome, treatment], "difference_in_differences")
    change = (frame[outcome] - frame[before]).rename("change_")
    y, t = _groups(pd.concat([change, frame[treatment]], axis=1), "change_", treatment, "difference_in_differences")
    est, se = _mean_difference(y, t)
    return _result(f"difference in differences (from {before})", "att", est, se, len(y), t.sum(), alpha,
                   _unit(outcome))


def experimental_estimate(frame: pd.DataFrame, *, covariates=None, outcome: str = "post_earnings",
                          treatment: str = "trained", alpha: float = 0.05) -> Estimate:
    """The randomized pilot's estimate: the experimental benchmark.

    Keeps only ``pilot_study`` spells, where training was assigned by lottery, so the
    untrained are a fair picture of what the trained would have earned. Without
    covariates it is the difference in means (Welch standard error). With covariates it
    is the training coefficient of an OLS regression within the pilot (robust HC1
    standard error): randomization already makes the comparison fair, and covariates
    that predict earnings only make the estimate more precise. Either way it estimates
    the average effect among pilot participants (``target="ate_pilot"``).

    Parameters
    ----------
    frame : pandas.DataFrame
        An analysis frame with a ``pilot_study`` column (the whole frame is fine).
    covariates : sequence of str or None, keyword-only
        Optional covariates for a regression-adjusted experimental estimate.
    outcome, treatment : str, keyword-only
        Column names.
    alpha : float, keyword-only
        1 - confidence level of the interval.

    Returns
    -------
    Estimate
    """
    _require(frame, ["pilot_study"], "experimental_estimate")
    pilot = frame[frame["pilot_study"].astype(bool)]
    y, t = _groups(pilot, outcome, treatment, "experimental_estimate (pilot spells)")
    if covariates is None:
        est, se = _mean_difference(y, t)
        return _result("experiment (randomized pilot)", "ate_pilot", est, se, len(y), t.sum(), alpha, _unit(outcome))
    fit = regression_adjusted(pilot, covariates=covariates, outcome=outcome, treatment=treatment, alpha=alpha)
    return Estimate(**{**fit.as_dict(), "method": "experiment with covariates (randomized pilot)",
                       "target": "ate_pilot"})


def compare_estimators(frame: pd.DataFrame, *, covariates=DEFAULT_COVARIATES, outcome: str = "post_earnings",
                       alpha: float = 0.05) -> pd.DataFrame:
    """Every estimator on its sample, as one table.

    The observational estimators run on the non-pilot spells, the experimental one on the
    pilot. The two differences in differences are included for ``post_earnings`` only
    (their "before" columns are earnings in dollars).

    Parameters
    ----------
    frame : pandas.DataFrame
        The whole analysis frame.
    covariates, outcome, alpha
        Passed to the estimators.

    Returns
    -------
    pandas.DataFrame
        One row per estimator with the fields of :class:`Estimate`.
    """
    _require(frame, ["pilot_study"], "compare_estimators")
    obs = frame[~frame["pilot_study"].astype(bool)]
    results = [
        naive_difference(obs, outcome=outcome, alpha=alpha),
        regression_adjusted(obs, covariates=covariates, outcome=outcome, alpha=alpha),
        ipw_att(obs, covariates=covariates, outcome=outcome, alpha=alpha),
        aipw_att(obs, covariates=covariates, outcome=outcome, alpha=alpha),
    ]
    if outcome == "post_earnings":                    # the "before" columns are earnings in dollars
        results += [difference_in_differences(obs, before=before, outcome=outcome, alpha=alpha)
                    for before in ("pre_earnings", "base_earnings")]
    results.append(experimental_estimate(frame, outcome=outcome, alpha=alpha))
    return pd.DataFrame([r.as_dict() for r in results])


# ------------------------------------------------------------------------------ the truth (instructors)
def true_effects(con, frame: pd.DataFrame, *, outcome: str = "post_earnings", per_spell: bool = False) -> pd.DataFrame:
    """INSTRUCTOR/TEST TOOL: the true training effects for the spells of ``frame``.

    Needs a connection opened with ``truth=True`` (learners do not have the truth).
    Spells are matched to the truth through ``truth.crosswalk`` (their ``record_id``) and
    ``truth.wioa_effect`` (person and entry date).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        ``synthetic_data.connect(..., truth=True)``.
    frame : pandas.DataFrame
        An analysis frame from :func:`analysis_frame` (the whole frame, pilot included, or
        any subset of its rows such as a trimmed observational pool).
    outcome : str, keyword-only
        The outcome the effect is measured on: ``"post_earnings"``, ``"post_employment"`` or
        ``"post_log_earnings"`` (as :func:`analysis_frame` defines them).
    per_spell : bool, keyword-only
        If true, return one row per spell instead (``record_id``, ``trained``,
        ``pilot_study``, ``effect``, ``tau_measured``, ``tau_all_jobs``).

    Returns
    -------
    pandas.DataFrame
        Indexed by target: ``att`` (trained spells of the observational pool),
        ``ate_observational`` (all spells of the observational pool), ``ate_pilot`` (all
        pilot spells) and ``att_pilot`` (trained pilot spells). Columns: ``spells`` (those
        whose outcome is defined); ``effect_measured``, the mean effect on the outcome as the
        wage files record it (see the module notes); ``effect_all_jobs``, for
        ``post_earnings`` only, the mean of ``y1_post - y0_post`` from ``truth.wioa_effect``
        (earnings from every job, in or out of the region); and ``relative_effect``, the mean
        planted proportional effect.
    """
    if not isinstance(per_spell, bool):
        raise TypeError(f"per_spell must be True or False, got {per_spell!r}")
    if outcome not in _TRUE_OUTCOMES:
        raise ValueError(f"outcome must be one of {sorted(_TRUE_OUTCOMES)}, got {outcome!r}")
    post_cols = [f"post_q{k}" for k in range(1, POST_QUARTERS + 1)]
    _require(frame, ["record_id", "trained", "pilot_study", *post_cols], "frame")
    catalogs = {row[0] for row in con.sql("SELECT DISTINCT catalog_name FROM information_schema.schemata").fetchall()}
    if "truth" not in catalogs:
        raise ValueError("true_effects needs the truth catalog: connect with synthetic_data.connect(..., truth=True)")
    ramp = json.loads(con.sql("SELECT value FROM truth.parameters WHERE name = 'wioa.effect_ramp'").fetchall()[0][0])
    ramp = np.asarray(ramp, dtype="float64")
    share = ramp[np.clip(np.arange(POST_QUARTERS), 0, len(ramp) - 1)]   # share of the full effect in quarter k
    effects = con.sql("""
        SELECT w.record_id, e.effect, e.y0_post, e.y1_post
        FROM statelab.wioa AS w
        JOIN truth.crosswalk AS c ON c.source_table = 'wioa' AND c.record_id = w.record_id
        JOIN truth.wioa_effect AS e ON e.person_id = c.person_id AND e.entry_date = w.entry_date
    """).df()
    data = frame[["record_id", "trained", "pilot_study", *post_cols]].merge(effects, on="record_id", how="left")
    if data["effect"].isna().any():
        raise ValueError(f"{int(data['effect'].isna().sum())} spell(s) of frame have no row in truth.wioa_effect")
    m = data[post_cols].to_numpy(dtype="float64")
    uplift = 1 + data["effect"].to_numpy()[:, None] * share[None, :]
    trained = data["trained"].astype(bool).to_numpy()
    y0 = np.where(trained[:, None], m / uplift, m)
    y1 = np.where(trained[:, None], m, m * uplift)
    data["tau_measured"] = _TRUE_OUTCOMES[outcome](y1) - _TRUE_OUTCOMES[outcome](y0)
    data["tau_all_jobs"] = data["y1_post"] - data["y0_post"] if outcome == "post_earnings" else math.nan
    if per_spell:
        return data[["record_id", "trained", "pilot_study", "effect", "tau_measured", "tau_all_jobs"]]
    pilot = data["pilot_study"].astype(bool).to_numpy()
    groups = {
        "att": ~pilot & trained,
        "ate_observational": ~pilot,
        "ate_pilot": pilot,
        "att_pilot": pilot & trained,
    }
    rows = {}
    for name, mask in groups.items():
        sub = data[mask & data["tau_measured"].notna().to_numpy()]
        rows[name] = {"spells": len(sub), "effect_measured": sub["tau_measured"].mean() if len(sub) else math.nan,
                      "effect_all_jobs": sub["tau_all_jobs"].mean() if len(sub) else math.nan,
                      "relative_effect": sub["effect"].mean() if len(sub) else math.nan}
    return pd.DataFrame.from_dict(rows, orient="index")


def _mean_log_paid(y):
    """Mean log earnings over the quarters with earnings (NaN for a spell with none), per row."""
    paid = y > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(paid, np.log(np.where(paid, y, 1.0)), 0.0).sum(axis=1) / paid.sum(axis=1)


#: How each outcome of the analysis frame is computed from the four post-exit quarters (spells x quarters).
_TRUE_OUTCOMES = {
    "post_earnings": lambda y: y.mean(axis=1),
    "post_employment": lambda y: (y > 0).mean(axis=1),
    "post_log_earnings": _mean_log_paid,
}
