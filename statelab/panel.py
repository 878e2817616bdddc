"""Panels from the wage records, and the fixed-effects estimators that use them (module 8, lesson 3).

A *panel* follows the same units over time: a person's earnings quarter by quarter, a WIOA spell's
earnings from two years before entry to two years after. Comparing a unit with itself removes
everything about it that does not change (ability, education, where it lives), which no list of
covariates captures in full. This module builds three panels with portable SQL and runs the
estimators the lesson teaches with ``pyfixest``:

* :func:`spell_panel` — WIOA spells by quarter relative to program entry, for an **event study**
  (:func:`event_study`) around the pre-program earnings dip: its pre-period coefficients are the
  placebo check that difference in differences needs;
* :func:`credential_panel` — people who enrolled in college, by quarter, with full-quarter earnings
  (jobs held the whole quarter, the LEHD/QWI concept of module 7) and the quarter of each award,
  for :func:`credential_premium` by **person fixed effects** and, for contrast, by cross-section;
* :func:`shock_panel` — workers by the sector of their main job in 2019Q4, quarter by quarter through
  2022, for the change of each sector in the 2020 shock (:func:`period_change`), recalls to the 2019Q4
  employer, and the same workers' pay a year apart (:func:`year_over_year_change`), which a composition
  effect cannot move.

Every estimate carries a cluster-robust standard error (clustered by person or spell), because a
unit's quarters are not independent observations.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._estimate import Estimate, _require, _result, _z
from .identifiers import PLACEHOLDER_SSNS

__all__ = [
    "CREDENTIAL_LEVELS",
    "EventStudy",
    "credential_panel",
    "credential_premium",
    "event_study",
    "period_change",
    "quarter_index",
    "shock_panel",
    "spell_panel",
    "year_over_year_change",
]

#: Award levels in ``postsec_completion.degree_level``, and the tracks (``degree_sought``) people enroll in.
CREDENTIAL_LEVELS: tuple[str, ...] = ("certificate", "associate", "bachelor")


def quarter_index(label: str) -> int:
    """The course's quarter index ``year * 4 + quarter - 1`` of a label such as ``"2020Q2"``."""
    text = str(label).strip().upper()
    if len(text) != 6 or text[4] != "Q" or not text[:4].isdigit() or text[5] not in "1234":
        raise ValueError(f"a quarter is written like '2020Q2', got {label!r}")
    return int(text[:4]) * 4 + int(text[5]) - 1


def _table(name: str) -> str:
    if not isinstance(name, str) or not name.replace("_", "").replace(".", "").isalnum():
        raise ValueError(f"table name must be a plain SQL identifier, got {name!r}")
    return name


def _data_range(con, wage_table):
    first, last = con.sql(f"SELECT MIN(year * 4 + quarter - 1), MAX(year * 4 + quarter - 1) FROM {wage_table}"
                          ).fetchall()[0]
    return int(first), int(last)


def _feols(formula, data, **options):
    """``pyfixest.feols``, without warnings that say nothing about the analysis to a learner.

    pyfixest 0.60 still passes pandas' deprecated ``inplace=`` keyword, and it announces each time that it
    dropped units seen only once (they carry no within-unit information; :class:`EventStudy` says so).
    """
    import pyfixest as pf

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="pyfixest")
        warnings.filterwarnings("ignore", category=FutureWarning, module="pyfixest")
        warnings.filterwarnings("ignore", message=r".*singleton fixed effect", category=UserWarning)
        return pf.feols(formula, data=data, **options)


# ------------------------------------------------------------------------------------- event studies
def spell_panel(con, frame: pd.DataFrame, *, first: int = -8, last: int = 8, keep=(),
                wioa_table: str = "wioa", wage_table: str = "ui_wage") -> pd.DataFrame:
    """WIOA spells quarter by quarter, from ``first`` to ``last`` quarters relative to the entry quarter.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection from ``synthetic_data.connect``.
    frame : pandas.DataFrame
        An analysis frame from :func:`statelab.inference.analysis_frame` (usable SSNs only).
    first, last : int, keyword-only
        The window in quarters relative to the entry quarter (0); ``first < 0 <= last``.
    keep : sequence of str, keyword-only
        More columns of ``frame`` to carry onto every row (e.g. a weight).
    wioa_table, wage_table : str, keyword-only
        Table names to read.

    Returns
    -------
    pandas.DataFrame
        One row per spell and quarter inside the wage data's range: ``record_id``,
        ``unique_individual_id``, ``trained``, ``pilot_study``, the ``keep`` columns,
        ``event_time`` (quarters since the entry quarter), ``qindex``, ``in_program`` (from
        the entry to the exit quarter), ``earnings`` (all four states' files; 0 without a wage
        record) and ``employed`` (0/1, earnings above zero).
    """
    for name, value in (("first", first), ("last", last)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be a whole number of quarters, got {value!r}")
    if not first < 0 <= last:
        raise ValueError(f"the window must start before entry and end at or after it, got first={first}, last={last}")
    columns = ["record_id", "unique_individual_id", "ssn", "entry_qindex", "exit_qindex", "trained", "pilot_study"]
    _require(frame, columns + list(keep), "frame")
    wioa, wages = _table(wioa_table), _table(wage_table)
    earned = con.sql(f"""
        SELECT w.ssn, w.year * 4 + w.quarter - 1 AS qindex, SUM(w.wages) AS earnings
        FROM {wages} AS w
        WHERE w.ssn IN (SELECT ssn FROM {wioa} WHERE ssn IS NOT NULL)
        GROUP BY w.ssn, w.year * 4 + w.quarter - 1
    """).df()
    lo, hi = _data_range(con, wages)
    spells = frame[list(dict.fromkeys(columns + list(keep)))]
    long = spells.merge(pd.DataFrame({"event_time": np.arange(first, last + 1)}), how="cross")
    long["qindex"] = long["entry_qindex"] + long["event_time"]
    long = long[long["qindex"].between(lo, hi)]
    earned["qindex"] = earned["qindex"].astype("int64")
    long = long.merge(earned, on=["ssn", "qindex"], how="left")
    long["earnings"] = long["earnings"].astype("float64").fillna(0.0)
    long["employed"] = (long["earnings"] > 0).astype("int64")
    long["in_program"] = long["qindex"].between(long["entry_qindex"], long["exit_qindex"])
    return long.drop(columns=["ssn", "entry_qindex", "exit_qindex"]).reset_index(drop=True)


@dataclass(frozen=True)
class EventStudy:
    """The result of :func:`event_study`.

    Attributes
    ----------
    coefficients : pandas.DataFrame
        One row per period: ``time``, ``estimate``, ``std_error``, ``ci_low``, ``ci_high``;
        the reference period is included with estimate 0 and no standard error.
    reference : int
        The period every coefficient is measured from.
    pretrend_chi2, pretrend_df, pretrend_p : float, int, float
        The joint Wald test that every coefficient before ``event`` is zero: the placebo
        check. A small p-value means the groups were already moving apart before the event.
    n_units, n_obs : int
        Units (spells, people) and unit-periods given (``pyfixest`` drops units seen once).
    confidence : float
        The confidence level of the intervals.
    """

    coefficients: pd.DataFrame
    reference: int
    pretrend_chi2: float
    pretrend_df: int
    pretrend_p: float
    n_units: int
    n_obs: int
    confidence: float


def event_study(panel: pd.DataFrame, *, outcome: str, time: str, treated: str, unit: str, reference: int,
                event: int = 0, weights: str | None = None, cluster: str | None = None,
                alpha: float = 0.05) -> EventStudy:
    """Period-by-period differences between a treated and a comparison group, relative to a reference period.

    Fits ``outcome ~ i(time, treated, ref=reference) | unit + time`` with ``pyfixest``:
    unit fixed effects remove each unit's level, period fixed effects what happens to everyone
    in a period, and each coefficient is the treated-minus-comparison gap in that period
    minus the gap in the reference period.

    Parameters
    ----------
    panel : pandas.DataFrame
        One row per unit and period.
    outcome, time, treated, unit : str, keyword-only
        Columns: the outcome, the period (integers), the 0/1 group and the unit identifier.
    reference : int, keyword-only
        The period whose gap is set to zero.
    event : int, keyword-only
        The first period the treatment could matter; earlier coefficients enter the pre-trend test.
    weights : str or None, keyword-only
        A column of (positive) weights, e.g. the ATT weights of :mod:`statelab.weighting`.
    cluster : str or None, keyword-only
        Column to cluster standard errors by (default ``unit``).
    alpha : float, keyword-only
        1 - confidence level.

    Returns
    -------
    EventStudy
    """
    z = _z(alpha)
    cluster = cluster or unit
    needed = [outcome, time, treated, unit, cluster] + ([weights] if weights else [])
    _require(panel, needed, "event_study panel")
    data = panel[list(dict.fromkeys(needed))].dropna()
    if not (data[time] == reference).any():
        raise ValueError(f"reference period {reference!r} is not among the values of {time!r}")
    if data[treated].nunique() != 2:
        raise ValueError(f"{treated!r} must take two values (0/1) in the panel, got {sorted(data[treated].unique())}")
    data = data.assign(**{treated: data[treated].astype("int64")})
    fit = _feols(f"{outcome} ~ i({time}, {treated}, ref={reference}) | {unit} + {time}", data,
                 vcov={"CRV1": cluster}, weights=weights)
    names = list(fit.coef().index)
    periods = [int(name.split("::")[1].rsplit(":", 1)[0]) for name in names]
    table = pd.DataFrame({"time": periods, "estimate": fit.coef().to_numpy(), "std_error": fit.se().to_numpy()})
    table = pd.concat([table, pd.DataFrame({"time": [reference], "estimate": [0.0], "std_error": [np.nan]})])
    table = table.sort_values("time").reset_index(drop=True)
    table["ci_low"] = table["estimate"] - z * table["std_error"]
    table["ci_high"] = table["estimate"] + z * table["std_error"]
    pre = [i for i, p in enumerate(periods) if p < event]
    chi2, df, p_value = np.nan, 0, np.nan
    if pre:
        R = np.zeros((len(pre), len(names)))
        R[np.arange(len(pre)), pre] = 1.0
        test = fit.wald_test(R=R, distribution="chi2")
        chi2, df, p_value = float(test["statistic"]), len(pre), float(test["pvalue"])
    return EventStudy(coefficients=table, reference=int(reference), pretrend_chi2=chi2, pretrend_df=df,
                      pretrend_p=p_value, n_units=int(data[unit].nunique()), n_obs=len(data),
                      confidence=1 - float(alpha))


# ---------------------------------------------------------------------------------- credential premium
def credential_panel(con, *, enrollment_table: str = "postsec_enrollment",
                     completion_table: str = "postsec_completion", wage_table: str = "ui_wage") -> pd.DataFrame:
    """People who enrolled in college, by quarter, with their full-quarter earnings and their awards.

    People are SSNs in the enrollment file that are present, not a placeholder, and used with
    one date of birth (one SSN with two birthdays is two people). Each person's **track** is the
    degree sought in their first academic year. Earnings come from every state's wage file;
    *full-quarter* earnings count only jobs paid by the same employer in the quarters before
    and after (module 7's LEHD definition): partial quarters, when a job starts or ends, would
    otherwise look like pay cuts.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection from ``synthetic_data.connect``.
    enrollment_table, completion_table, wage_table : str, keyword-only
        Table names to read.

    Returns
    -------
    pandas.DataFrame
        One row per person and quarter with any wages: ``ssn``, ``qindex``, ``year``,
        ``age`` (years, fractional), ``track``, ``earnings``, ``fq_earnings``,
        ``log_fq_earnings`` (NaN without a full-quarter job), for each level in
        :data:`CREDENTIAL_LEVELS` the award quarter ``<level>_q`` (NaN if none) and
        ``post_<level>`` (1 from the quarter after the award).
    """
    enroll, complete, wages = _table(enrollment_table), _table(completion_table), _table(wage_table)
    placeholders = ", ".join(f"'{s}'" for s in PLACEHOLDER_SSNS)
    awards = ",\n".join(
        f"        MIN(CASE WHEN degree_level = '{level}' THEN EXTRACT(YEAR FROM award_date) * 4"
        f" + EXTRACT(QUARTER FROM award_date) - 1 END) AS {level}_q" for level in CREDENTIAL_LEVELS)
    df = con.sql(f"""
        WITH enrolled AS (
            SELECT ssn, dob, degree_sought, academic_year
            FROM {enroll}
            WHERE ssn IS NOT NULL AND ssn NOT IN ({placeholders})
        ),
        people AS (
            SELECT ssn, MIN(dob) AS dob, MIN(academic_year) AS first_year
            FROM enrolled
            GROUP BY ssn
            HAVING COUNT(DISTINCT dob) = 1
        ),
        tracks AS (
            SELECT e.ssn, MIN(e.degree_sought) AS track
            FROM enrolled AS e
            JOIN people AS p ON p.ssn = e.ssn AND e.academic_year = p.first_year
            GROUP BY e.ssn
        ),
        awards AS (
            SELECT ssn,
{awards}
            FROM {complete}
            WHERE ssn IS NOT NULL
            GROUP BY ssn
        ),
        jobs AS (
            SELECT w.ssn, w.ui_account, w.year * 4 + w.quarter - 1 AS qindex, SUM(w.wages) AS wages
            FROM {wages} AS w
            JOIN people AS p ON p.ssn = w.ssn
            GROUP BY w.ssn, w.ui_account, w.year * 4 + w.quarter - 1
        ),
        flagged AS (
            SELECT ssn, qindex, wages,
                CASE WHEN LAG(qindex) OVER (PARTITION BY ssn, ui_account ORDER BY qindex) = qindex - 1
                      AND LEAD(qindex) OVER (PARTITION BY ssn, ui_account ORDER BY qindex) = qindex + 1
                     THEN 1 ELSE 0 END AS full_quarter
            FROM jobs
        ),
        quarters AS (
            SELECT ssn, qindex, SUM(wages) AS earnings,
                   SUM(CASE WHEN full_quarter = 1 THEN wages ELSE 0 END) AS fq_earnings
            FROM flagged
            GROUP BY ssn, qindex
        )
        SELECT q.ssn, q.qindex, q.earnings, q.fq_earnings, p.dob, t.track,
               {", ".join(f"a.{level}_q" for level in CREDENTIAL_LEVELS)}
        FROM quarters AS q
        JOIN people AS p ON p.ssn = q.ssn
        JOIN tracks AS t ON t.ssn = q.ssn
        LEFT JOIN awards AS a ON a.ssn = q.ssn
        ORDER BY q.ssn, q.qindex
    """).df()
    df["qindex"] = df["qindex"].astype("int64")
    df["year"] = df["qindex"] // 4
    dob = pd.to_datetime(df["dob"])
    df["age"] = (df["qindex"] - (dob.dt.year * 4 + dob.dt.quarter - 1)) / 4
    for col in ("earnings", "fq_earnings"):
        df[col] = df[col].astype("float64")
    df["log_fq_earnings"] = np.log(df["fq_earnings"].where(df["fq_earnings"] > 0))
    for level in CREDENTIAL_LEVELS:
        df[f"{level}_q"] = pd.to_numeric(df[f"{level}_q"]).astype("float64")
        df[f"post_{level}"] = (df["qindex"] > df[f"{level}_q"]).astype("int64")     # NaN compares False
    return df.drop(columns=["dob"])


def _check_level(level):
    if level not in CREDENTIAL_LEVELS:
        raise ValueError(f"level must be one of {CREDENTIAL_LEVELS}, got {level!r}")


def credential_premium(panel: pd.DataFrame, *, level: str, method: str = "fixed_effects",
                       within_track: bool = True, alpha: float = 0.05) -> Estimate:
    """The earnings premium of a credential, in log points, by person fixed effects or across people.

    Both methods regress log full-quarter earnings on the ``post_<level>`` indicators (every
    level with variation, so other awards do not leak in), age terms and quarter fixed
    effects, on the same person-quarters, clustering standard errors by person.

    * ``method="fixed_effects"`` adds **person** fixed effects (age then enters as a square;
      its linear part is absorbed): the premium is the change in a person's own earnings after
      the award.
    * ``method="cross_section"`` leaves them out (age and its square): the premium compares
      people with the credential with people without it, so it also measures whatever made
      completers earn more before they completed.

    Parameters
    ----------
    panel : pandas.DataFrame
        From :func:`credential_panel`.
    level : str, keyword-only
        One of :data:`CREDENTIAL_LEVELS`.
    method : str, keyword-only
        ``"fixed_effects"`` or ``"cross_section"``.
    within_track : bool, keyword-only
        Keep only people whose track is ``level`` (completers and non-completers of the same
        kind of program), so everyone compared started out alike. Default true.
    alpha : float, keyword-only
        1 - confidence level.

    Returns
    -------
    Estimate
        In log points (``unit="log points"``): ``exp(estimate) - 1`` is the proportional
        premium. ``n`` counts people, ``n_treated`` those with the award in the panel.
        ``target`` is ``"credential_premium.<level>"``: the planted parameter is
        ``postsecondary.credential_premium.<level>`` in ``truth.parameters``.
    """
    _check_level(level)
    if method not in ("fixed_effects", "cross_section"):
        raise ValueError(f"method must be 'fixed_effects' or 'cross_section', got {method!r}")
    if not isinstance(within_track, bool):
        raise TypeError(f"within_track must be True or False, got {within_track!r}")
    _require(panel, ["ssn", "qindex", "age", "track", "log_fq_earnings", *(f"post_{lv}" for lv in CREDENTIAL_LEVELS)],
             "credential_panel")
    data = panel[panel["track"].eq(level)] if within_track else panel
    data = data[data["log_fq_earnings"].notna()].assign(age_sq=lambda d: ((d["age"] - 40) / 10) ** 2)
    post = f"post_{level}"
    if data[post].nunique() < 2:
        raise ValueError(f"no one in the sample has {post} = 1 (or everyone has): the premium cannot be estimated")
    others = [f"post_{lv}" for lv in CREDENTIAL_LEVELS if lv != level and data[f"post_{lv}"].nunique() > 1]
    terms = " + ".join([post, *others])
    if method == "fixed_effects":
        formula, label = f"log_fq_earnings ~ {terms} + age_sq | ssn + qindex", "person fixed effects"
    else:
        formula, label = f"log_fq_earnings ~ {terms} + age + age_sq | qindex", "cross-section (across people)"
    fit = _feols(formula, data, vcov={"CRV1": "ssn"})
    people = data.groupby("ssn")[post].max()
    return _result(label, f"credential_premium.{level}", fit.coef()[post], fit.se()[post], len(people),
                   int(people.sum()), alpha, "log points")


# ------------------------------------------------------------------------------------- the 2020 shock
def shock_panel(con, *, base: str = "2019Q4", first: str = "2018Q1", last: str = "2022Q4",
                wage_table: str = "ui_wage", employer_table: str = "employer") -> pd.DataFrame:
    """Workers by the sector of their main job in a base quarter, followed quarter by quarter.

    A worker is a present, non-placeholder SSN paid in the ``base`` quarter; their main job
    is the employer that paid them most then (ties to the smaller account number), and its
    NAICS sector is theirs for the whole window, wherever they work later.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection from ``synthetic_data.connect``.
    base, first, last : str, keyword-only
        Quarters written like ``"2019Q4"``; ``first <= base <= last``.
    wage_table, employer_table : str, keyword-only
        Table names to read.

    Returns
    -------
    pandas.DataFrame
        One row per worker and quarter of the window: ``ssn``, ``naics_sector``, ``qindex``,
        ``period`` (label), ``earnings`` (all employers, 0 if none), ``employed`` (0/1),
        ``at_base_employer`` (0/1: any wages from the base-quarter employer, so a worker laid off
        and recalled is 0 while away and 1 again on return),
        ``base_employer_earnings`` (wages from the base-quarter employer, only where it paid
        the worker in the quarters before and after too, i.e. a full quarter there; else 0)
        and ``log_base_employer_earnings`` (NaN where that is 0).
    """
    b, lo, hi = quarter_index(base), quarter_index(first), quarter_index(last)
    if not lo <= b <= hi:
        raise ValueError(f"the base quarter must lie in the window, got base={base}, first={first}, last={last}")
    wages, employers = _table(wage_table), _table(employer_table)
    placeholders = ", ".join(f"'{s}'" for s in PLACEHOLDER_SSNS)
    q = "w.year * 4 + w.quarter - 1"
    jobs = con.sql(f"""
        WITH paid AS (
            SELECT w.ssn, w.ui_account, {q} AS qindex, SUM(w.wages) AS wages
            FROM {wages} AS w
            WHERE w.ssn IS NOT NULL AND w.ssn NOT IN ({placeholders}) AND {q} BETWEEN {lo - 1} AND {hi + 1}
            GROUP BY w.ssn, w.ui_account, {q}
        ),
        ranked AS (
            SELECT ssn, ui_account,
                   ROW_NUMBER() OVER (PARTITION BY ssn ORDER BY wages DESC, ui_account) AS rank_in_quarter
            FROM paid
            WHERE qindex = {b}
        )
        SELECT p.ssn, p.ui_account, p.qindex, p.wages, e.naics_sector,
               CASE WHEN p.ui_account = r.ui_account THEN 1 ELSE 0 END AS at_base_employer
        FROM paid AS p
        JOIN ranked AS r ON r.ssn = p.ssn AND r.rank_in_quarter = 1
        JOIN {employers} AS e ON e.ui_account = r.ui_account
    """).df()
    jobs["qindex"] = jobs["qindex"].astype("int64")
    base_jobs = jobs[jobs["at_base_employer"] == 1].set_index(["ssn", "qindex"])["wages"].astype("float64")
    workers = jobs.drop_duplicates("ssn")[["ssn", "naics_sector"]]
    panel = workers.merge(pd.DataFrame({"qindex": np.arange(lo, hi + 1)}), how="cross")
    total = jobs.groupby(["ssn", "qindex"])["wages"].sum().astype("float64")
    key = pd.MultiIndex.from_frame(panel[["ssn", "qindex"]])
    panel["earnings"] = total.reindex(key).fillna(0.0).to_numpy()
    panel["employed"] = (panel["earnings"] > 0).astype("int64")
    here = base_jobs.reindex(key).to_numpy()
    before = base_jobs.reindex(pd.MultiIndex.from_arrays([panel["ssn"], panel["qindex"] - 1])).to_numpy()
    after = base_jobs.reindex(pd.MultiIndex.from_arrays([panel["ssn"], panel["qindex"] + 1])).to_numpy()
    panel["at_base_employer"] = (~np.isnan(here)).astype("int64")
    full = ~np.isnan(here) & ~np.isnan(before) & ~np.isnan(after)
    panel["base_employer_earnings"] = np.where(full, here, 0.0)
    panel["log_base_employer_earnings"] = np.log(panel["base_employer_earnings"].where(full))
    panel["period"] = (panel["qindex"] // 4).astype(str) + "Q" + (panel["qindex"] % 4 + 1).astype(str)
    return panel


def period_change(panel: pd.DataFrame, *, outcome: str, by: str, during, before, unit: str = "ssn",
                  alpha: float = 0.05) -> pd.DataFrame:
    """Each group's mean within-unit change in an outcome between two sets of periods.

    For each unit observed in both sets, the change is its mean outcome ``during`` minus its
    mean outcome ``before``; comparing the same quarters of two years (e.g. 2020Q2-Q4 with
    2019Q2-Q4) removes the seasons. A group's change is the mean over its units, with the
    standard error of a mean (units are independent; their quarters are not, which the
    averaging within a unit respects).

    Parameters
    ----------
    panel : pandas.DataFrame
        One row per unit and period, with ``period`` labels (as :func:`shock_panel` gives).
    outcome, by, unit : str, keyword-only
        Columns: the outcome, the group, the unit.
    during, before : sequence of str, keyword-only
        Period labels such as ``["2020Q2", "2020Q3", "2020Q4"]``.
    alpha : float, keyword-only
        1 - confidence level.

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``units``, ``change``, ``std_error``, ``ci_low``, ``ci_high``.
    """
    z = _z(alpha)
    _require(panel, [outcome, by, unit, "period"], "panel")
    during, before = list(during), list(before)
    if not during or not before or set(during) & set(before):
        raise ValueError(f"during and before must be two non-overlapping, non-empty lists of periods, "
                         f"got {during!r} and {before!r}")
    data = panel[panel["period"].isin(during + before)].dropna(subset=[outcome])
    data = data.assign(window=np.where(data["period"].isin(during), "during", "before"))
    means = data.groupby([unit, by, "window"])[outcome].mean().unstack("window").dropna()
    if means.empty:
        raise ValueError(f"no {unit} has {outcome} in both windows")
    change = (means["during"] - means["before"]).rename("change").reset_index()
    out = change.groupby(by)["change"].agg(units="size", change="mean", sd="std")
    out["std_error"] = out["sd"] / np.sqrt(out["units"])
    out["ci_low"] = out["change"] - z * out["std_error"]
    out["ci_high"] = out["change"] + z * out["std_error"]
    return out.drop(columns=["sd"])


def year_over_year_change(panel: pd.DataFrame, *, outcome: str, periods, unit: str = "ssn",
                          alpha: float = 0.05) -> pd.DataFrame:
    """The mean within-unit change in an outcome from the same quarter a year earlier, period by period.

    For each period, the units with the outcome in both that quarter and the quarter four before are
    compared with themselves: the mean of their changes is a person fixed-effects estimate with two
    periods (each unit's level cancels) that also removes the season. A change in *who* has the outcome
    (a composition effect) cannot move it, unlike a change in the average over whoever is there.

    Parameters
    ----------
    panel : pandas.DataFrame
        One row per unit and period, with ``period`` labels and ``qindex`` (as :func:`shock_panel` gives).
    outcome, unit : str, keyword-only
        Columns: the outcome (e.g. ``log_base_employer_earnings``) and the unit.
    periods : sequence of str, keyword-only
        Period labels such as ``["2020Q2", "2020Q3"]``; each needs the quarter a year earlier in the panel.
    alpha : float, keyword-only
        1 - confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per period: ``period``, ``units``, ``change``, ``std_error``, ``ci_low``, ``ci_high``.
    """
    _require(panel, [outcome, unit, "period", "qindex"], "panel")
    rows = []
    for label in periods:
        q = quarter_index(label)
        earlier = f"{(q - 4) // 4}Q{(q - 4) % 4 + 1}"
        if not (panel["qindex"] == q - 4).any():
            raise ValueError(f"{label} needs {earlier}, a year earlier, in the panel; it starts at "
                             f"{panel['period'].min()}")
        one = period_change(panel.assign(all_units="all"), outcome=outcome, by="all_units", during=[label],
                            before=[earlier], unit=unit, alpha=alpha)
        rows.append({"period": label, **one.loc["all"].to_dict()})
    out = pd.DataFrame(rows)
    out["units"] = out["units"].astype("int64")
    return out[["period", "units", "change", "std_error", "ci_low", "ci_high"]]
