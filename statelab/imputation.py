"""Missing outcomes: imputation and non-response weighting, and the rates and medians they give (module 8).

An outcome is *missing* for a row when it could not be measured: a WIOA exiter without a usable SSN
cannot be looked up in the UI wage records, so whether they worked after exit is unknown. Every way of
using such data assumes something about the rows that are missing:

* **complete cases** (drop them) assume the outcome is *missing completely at random* (MCAR): the rows
  kept are a random sample of all rows;
* the imputations here and **non-response weighting** assume it is *missing at random given the
  covariates* (MAR): within a cell of the covariates, the rows kept look like the rows missing;
* a **rule** (such as WIOA's: an exiter not found in the wage records is not employed, TEGL 10-16) assumes
  nothing about the missing rows; it defines what is counted (see :mod:`statelab.outcomes`).

This module holds the imputations -- :func:`group_mean_impute`, :func:`regression_impute` and
:func:`hot_deck_impute` (a seeded random donor from the same cell) -- and the pieces of non-response
weighting: :func:`nonresponse_weights` (the inverse of each observed row's estimated probability of being
observed, from :func:`statelab.weighting.propensity_scores`), :func:`effective_sample_size`,
:func:`weighted_rate` (with a Wilson interval on the effective sample size) and :func:`weighted_median`.

Outcome columns hold ``NaN`` (or ``pd.NA``) where the outcome is missing. Imputed columns come back as a
new :class:`pandas.Series`; the input frame is never changed.

References: Little and Rubin (2019), *Statistical Analysis with Missing Data*, 3rd ed. (MCAR, MAR, hot
deck); Andridge and Little (2010), *International Statistical Review* 78:40 (hot-deck imputation); Kish
(1965), *Survey Sampling* (effective sample size of a weighted sample).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "effective_sample_size",
    "group_mean_impute",
    "hot_deck_impute",
    "nonresponse_weights",
    "regression_impute",
    "weighted_median",
    "weighted_rate",
]


# ------------------------------------------------------------------------------------------ checks
def _frame(frame, columns, what):
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} needs a pandas DataFrame, got {type(frame).__name__}")
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(f"{what}: the frame has no column(s) {absent}; its columns are {list(frame.columns)}")


def _names(names, what):
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, Sequence) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{what} must be a column name or a non-empty list of column names, got {names!r}")
    return list(names)


def _numeric(frame, outcome, what):
    values = pd.to_numeric(frame[outcome].astype("Float64"), errors="raise").astype("float64")
    if values.notna().sum() == 0:
        raise ValueError(f"{what}: {outcome!r} has no observed value to impute from")
    return values


def _weights(values, weights, what):
    """(observed values, their weights) as float arrays; missing values are left out."""
    y = pd.Series(values).astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    w = np.ones(len(y)) if weights is None else np.asarray(pd.Series(weights, dtype="float64"))
    if len(y) != len(w):
        raise ValueError(f"{what}: values and weights differ in length ({len(y)} and {len(w)})")
    if np.isnan(w).any() or (w < 0).any():
        raise ValueError(f"{what}: weights must be non-negative numbers without missing values")
    keep = ~np.isnan(y)
    if not keep.any() or w[keep].sum() <= 0:
        raise ValueError(f"{what} needs at least one observed value with a positive weight")
    return y[keep], w[keep]


# ------------------------------------------------------------------------------------- imputation
def group_mean_impute(frame: pd.DataFrame, outcome: str, *, by) -> pd.Series:
    """Fill each missing outcome with the mean of the observed outcomes in its group.

    For a 0/1 outcome the filled value is the group's observed rate, a probability rather than a 0 or 1:
    the mean of the filled column is then the estimated rate, but no row holds a value a person could
    have. A group with no observed outcome gets the overall observed mean.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per unit; ``outcome`` is missing (NaN) where it could not be measured.
    outcome : str
        The column to fill.
    by : str or list of str, keyword-only
        Columns defining the groups (observed for every row).

    Returns
    -------
    pandas.Series
        ``outcome`` with every missing value filled (float), indexed like ``frame``.

    Raises
    ------
    ValueError
        For an absent column, or an outcome with no observed value.
    """
    by = _names(by, "by")
    _frame(frame, [outcome, *by], "group_mean_impute")
    y = _numeric(frame, outcome, "group_mean_impute")
    means = y.groupby([frame[b] for b in by], dropna=False).transform("mean")
    return y.fillna(means).fillna(y.mean()).rename(outcome)


def regression_impute(frame: pd.DataFrame, outcome: str, *, covariates) -> pd.Series:
    """Fill each missing outcome with its prediction from a linear regression fitted on the observed rows.

    Text columns become indicators (the first level left out). For a 0/1 outcome this is the linear
    probability model: predictions are probabilities, clipped to [0, 1]. Like :func:`group_mean_impute`,
    it fills in expected values, not values a person could have: means and rates come out right under MAR,
    spreads and medians do not.

    Parameters
    ----------
    frame, outcome
        As in :func:`group_mean_impute`.
    covariates : list of str, keyword-only
        Predictors, observed for every row.

    Returns
    -------
    pandas.Series
        As in :func:`group_mean_impute`.

    Raises
    ------
    ValueError
        For an absent column, a covariate with missing values, or an outcome with no observed value.
    """
    covariates = _names(covariates, "covariates")
    _frame(frame, [outcome, *covariates], "regression_impute")
    y = _numeric(frame, outcome, "regression_impute")
    X = frame[covariates]
    if X.isna().any().any():
        gaps = [c for c in covariates if X[c].isna().any()]
        raise ValueError(f"regression_impute: covariates must be observed for every row; {gaps} have missing values")
    text = [c for c in covariates if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]
    X = pd.get_dummies(X, columns=text, drop_first=True, dtype="float64").astype("float64")
    X.insert(0, "const", 1.0)
    seen = y.notna().to_numpy()
    beta, *_ = np.linalg.lstsq(X.to_numpy()[seen], y.to_numpy()[seen], rcond=None)
    predicted = pd.Series(X.to_numpy() @ beta, index=frame.index)
    binary = set(np.unique(y[seen])) <= {0.0, 1.0}
    if binary:
        predicted = predicted.clip(0, 1)
    return y.fillna(predicted).rename(outcome)


def hot_deck_impute(frame: pd.DataFrame, outcome, *, cells, seed: int = 0) -> pd.DataFrame:
    """Fill each row's missing outcomes with those of a donor drawn at random from the same cell.

    A donor is an observed row with the same values of ``cells``; each missing row gets one donor, drawn
    with replacement from a seeded generator, and takes *all* of the donor's ``outcome`` columns, so
    outcomes that belong together (earnings and employment) stay consistent. Unlike a mean, a donated
    value is one a person really had, so spreads and medians come out right under MAR. A cell without a
    donor draws from every observed row.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per unit; the outcome columns are missing together where they could not be measured.
    outcome : str or list of str
        The column(s) to fill. A row is a donor when the first one is observed.
    cells : str or list of str, keyword-only
        Columns defining the imputation cells (observed for every row).
    seed : int, keyword-only
        Seed of the donor draws: the same seed gives the same imputation.

    Returns
    -------
    pandas.DataFrame
        The outcome columns, filled, indexed like ``frame``, and ``donor``: the index label of the row
        whose values were used (the row's own label where it was observed).

    Raises
    ------
    ValueError
        For an absent column, a bad seed, or an outcome with no observed value.
    """
    outcomes = _names(outcome, "outcome")
    cells = _names(cells, "cells")
    _frame(frame, [*outcomes, *cells], "hot_deck_impute")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a whole number of at least 0, got {seed!r}")
    seen = frame[outcomes[0]].notna().to_numpy()
    if not seen.any():
        raise ValueError(f"hot_deck_impute: {outcomes[0]!r} has no observed value to donate")
    rng = np.random.default_rng(seed)
    key = pd.MultiIndex.from_frame(frame[cells].astype("object")).to_flat_index()
    codes = pd.factorize(key)[0]
    donor_at = np.arange(len(frame))
    everyone = np.flatnonzero(seen)
    # one pass over the cells, in order of first appearance, so the draws depend only on the seed and the data
    for cell in np.unique(codes[~seen]):
        in_cell = codes == cell
        donors = np.flatnonzero(in_cell & seen)
        pool = donors if len(donors) else everyone
        takers = np.flatnonzero(in_cell & ~seen)
        donor_at[takers] = pool[rng.integers(0, len(pool), len(takers))]
    out = frame[outcomes].iloc[donor_at].set_axis(frame.index)
    out["donor"] = frame.index.to_numpy()[donor_at]
    return out


# --------------------------------------------------------------------------------------- weighting
def nonresponse_weights(frame: pd.DataFrame, *, observed: str, covariates, clip: float = 0.01) -> pd.Series:
    """Inverse-probability (non-response) weights: each observed row counts for ``1 / p``.

    ``p`` is the row's estimated probability of being observed given the covariates, from the logistic
    model of :func:`statelab.weighting.propensity_scores` with ``observed`` as its 0/1 column. An observed
    row that looked unlikely to be observed stands in for the similar rows that are missing. The weights
    of the observed rows add up to about the number of all rows.

    Parameters
    ----------
    frame : pandas.DataFrame
        Every row, observed or not.
    observed : str, keyword-only
        The 0/1 (or boolean) column: 1 where the outcome was measured.
    covariates : list of str, keyword-only
        Columns of the model of being observed, known for every row (text columns become indicators).
    clip : float, keyword-only
        Probabilities are clipped to ``[clip, 1 - clip]``, so no weight exceeds ``1 / clip``.

    Returns
    -------
    pandas.Series
        ``weight`` for each observed row, indexed like ``frame``.
    """
    from .weighting import propensity_scores

    _frame(frame, [observed], "nonresponse_weights")
    covariates = _names(covariates, "covariates")
    data = frame.assign(**{observed: frame[observed].astype(bool).astype(int)})
    p = propensity_scores(data, covariates=covariates, treatment=observed, clip=clip)
    kept = p.index[data.loc[p.index, observed].to_numpy() == 1]
    return (1 / p.loc[kept]).rename("weight")


def effective_sample_size(weights) -> float:
    """Kish's effective sample size, ``(sum w)^2 / sum w^2``.

    The number of unweighted observations that would give a mean as precise as the weighted one: equal
    weights give the number of rows; unequal weights give fewer.

    Parameters
    ----------
    weights : array-like of float
        Non-negative weights, at least one positive.

    Returns
    -------
    float
    """
    _, w = _weights(np.zeros(len(pd.Series(weights))), weights, "effective_sample_size")
    return float(w.sum() ** 2 / (w ** 2).sum())


def weighted_rate(values, weights=None, *, confidence: float = 0.95) -> pd.Series:
    """A weighted share of 0/1 values, with a Wilson interval on the effective sample size.

    The interval is the Wilson score interval for the weighted rate with Kish's effective sample size in
    place of the number of rows (the usual design-effect adjustment for weighted survey proportions). It
    treats the weights as known; weights estimated from the same data add uncertainty it leaves out.
    Missing values (NaN) are left out.

    Parameters
    ----------
    values : array-like of 0/1 (or bool, or probabilities in [0, 1])
        The outcome of each row.
    weights : array-like of float, optional
        Non-negative weights; default 1 for every row (the plain Wilson interval).
    confidence : float, keyword-only
        Confidence level, strictly between 0 and 1.

    Returns
    -------
    pandas.Series
        ``rate``, ``low``, ``high``, ``n`` (rows used) and ``effective_n``.
    """
    from scipy.stats import norm

    if isinstance(confidence, bool) or not isinstance(confidence, float) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number strictly between 0 and 1 such as 0.95, got {confidence!r}")
    y, w = _weights(values, weights, "weighted_rate")
    if ((y < 0) | (y > 1)).any():
        raise ValueError("weighted_rate needs 0/1 values (or probabilities between 0 and 1)")
    rate = float((w * y).sum() / w.sum())
    n_eff = effective_sample_size(w)
    z = float(norm.ppf(0.5 + confidence / 2))
    centre = (rate + z ** 2 / (2 * n_eff)) / (1 + z ** 2 / n_eff)
    half = z / (1 + z ** 2 / n_eff) * np.sqrt(rate * (1 - rate) / n_eff + z ** 2 / (4 * n_eff ** 2))
    return pd.Series({"rate": rate, "low": max(0.0, centre - half), "high": min(1.0, centre + half),
                      "n": float(len(y)), "effective_n": n_eff})


def weighted_median(values, weights=None) -> float:
    """The weighted median: the smallest value at which the cumulative weight reaches half the total.

    With equal weights and an even count this is the lower of the two middle values (pandas' median
    averages them). Missing values (NaN) are left out.

    Parameters
    ----------
    values : array-like of float
    weights : array-like of float, optional
        Non-negative weights; default 1 for every row.

    Returns
    -------
    float
    """
    y, w = _weights(values, weights, "weighted_median")
    order = np.argsort(y, kind="stable")
    y, w = y[order], w[order]
    cumulative = np.cumsum(w)
    return float(y[np.searchsorted(cumulative, cumulative[-1] / 2)])
