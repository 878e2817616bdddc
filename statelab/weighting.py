"""Propensity scores and the estimators that weight by them, with the diagnostics they need (module 8).

Weighting compares the trained with untrained spells made to look like them: each untrained
spell counts with the odds ``p / (1 - p)`` of its *propensity* ``p``, the estimated probability
that a spell with its covariates was trained. This module holds

* :func:`propensity_scores`, the logistic model of training;
* the diagnostics to read before trusting a weighted estimate: :func:`overlap_summary` (do the
  untrained cover the trained's range of scores, and how much does weighting cost in effective
  sample size?), :func:`trim_by_propensity` (drop spells without comparable counterparts) and
  :func:`balance_table` (standardized mean differences before and after weighting);
* the estimators of the effect on the trained (ATT): :func:`ipw_att` and the doubly robust
  :func:`aipw_att`, each with a standard error that accounts for what was estimated;
* :func:`bootstrap`, which re-runs any estimator on resampled people.

Every function is re-exported by :mod:`statelab.inference`, where learners find them next to the
analysis frame. Standard errors follow the M-estimation ("sandwich") argument in Lunceford and
Davidian (2004, *Statistics in Medicine* 23:2937) for IPW with an estimated propensity, and the
influence function of the doubly robust ATT estimator in Sant'Anna and Zhao (2020, *Journal of
Econometrics* 219:101).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._estimate import (DEFAULT_COVARIATES, Estimate, _check_int, _design, _groups, _require, _result, _unit)

__all__ = [
    "aipw_att",
    "balance_table",
    "bootstrap",
    "ipw_att",
    "overlap_summary",
    "propensity_scores",
    "trim_by_propensity",
]


def _fit_propensity(frame, covariates, treatment, clip):
    """(rows used, design with a constant, clipped scores, 0/1 treatment) for a logistic model of training."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not 0 <= clip < 0.5:
        raise ValueError(f"clip must be a number in [0, 0.5), got {clip!r}")
    _require(frame, [treatment], "propensity_scores")
    X = _design(frame, covariates, "propensity_scores")
    X = X.loc[frame.loc[X.index, treatment].notna()]
    t = frame.loc[X.index, treatment].astype(int).to_numpy()
    if len(set(t)) < 2:
        raise ValueError(f"propensity_scores needs trained and untrained spells, got only {treatment}={t[0] if len(t) else None}")
    Z = StandardScaler().fit_transform(X.to_numpy()) if X.shape[1] else np.zeros((len(X), 1))
    model = LogisticRegression(max_iter=2000).fit(Z, t)
    p = np.clip(model.predict_proba(Z)[:, 1], clip, 1 - clip)
    return X.index, np.column_stack([np.ones(len(Z)), Z]), p, t


def propensity_scores(frame: pd.DataFrame, *, covariates=DEFAULT_COVARIATES, treatment: str = "trained",
                      clip: float = 0.01) -> pd.Series:
    """Each spell's estimated probability of training given the covariates (a logistic regression).

    Fitted with scikit-learn's ``LogisticRegression`` on standardized covariates (its
    mild default penalty keeps the fit finite on small samples where a group is
    perfectly predicted).

    Parameters
    ----------
    frame : pandas.DataFrame
        An analysis frame.
    covariates : sequence of str, keyword-only
        Columns the probability depends on; text columns become indicators.
    treatment : str, keyword-only
        The 0/1 treatment column.
    clip : float, keyword-only
        Scores are clipped to ``[clip, 1 - clip]`` so no spell gets an extreme weight.

    Returns
    -------
    pandas.Series
        Scores indexed like the rows of ``frame`` that have every covariate.
    """
    index, _, p, _ = _fit_propensity(frame, covariates, treatment, clip)
    return pd.Series(p, index=index, name="propensity")


def _check_scores(frame, scores, what):
    if not isinstance(scores, pd.Series):
        raise TypeError(f"{what} needs scores as a pandas Series from propensity_scores(), got {type(scores).__name__}")
    if not scores.index.isin(frame.index).all() or not scores.between(0, 1).all():
        raise ValueError(f"{what}: scores must be probabilities indexed like frame's rows (use propensity_scores(frame))")
    return scores


def _scores_for(frame, scores, treatment, what):
    _require(frame, [treatment], what)
    scores = _check_scores(frame, scores, what)
    return scores, frame.loc[scores.index, treatment].astype(bool).to_numpy()


def overlap_summary(frame: pd.DataFrame, scores: pd.Series, *, treatment: str = "trained") -> pd.DataFrame:
    """How well the untrained cover the trained on the propensity score, and what weighting costs.

    Parameters
    ----------
    frame : pandas.DataFrame
        The analysis frame the scores were estimated on.
    scores : pandas.Series
        From :func:`propensity_scores`, indexed like ``frame``.
    treatment : str, keyword-only
        The 0/1 treatment column.

    Returns
    -------
    pandas.DataFrame
        One row per group (``trained``, ``untrained``): ``spells``; the score's ``min``,
        ``p01``, ``median``, ``p99`` and ``max``; ``outside_other_range``, how many of the
        group's spells have a score outside the other group's range (no comparable
        counterpart); ``effective_n``, Kish's effective sample size ``(sum w)^2 / sum w^2`` of
        the ATT weights (1 for the trained, ``p / (1 - p)`` for the untrained); and
        ``largest_weight_share``, the largest single weight as a share of the group's total.
    """
    scores, t = _scores_for(frame, scores, treatment, "overlap_summary")
    p = scores.to_numpy()
    rows = {}
    for name, mask in (("trained", t), ("untrained", ~t)):
        s, other = p[mask], p[~mask]
        w = np.ones(len(s)) if name == "trained" else s / (1 - s)
        rows[name] = {
            "spells": int(mask.sum()),
            "min": s.min(), "p01": np.quantile(s, 0.01), "median": np.median(s), "p99": np.quantile(s, 0.99),
            "max": s.max(),
            "outside_other_range": int(((s < other.min()) | (s > other.max())).sum()),
            "effective_n": w.sum() ** 2 / (w ** 2).sum(),
            "largest_weight_share": w.max() / w.sum(),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def trim_by_propensity(frame: pd.DataFrame, scores: pd.Series, *, low: float = 0.1, high: float = 0.9) -> pd.DataFrame:
    """Keep the spells whose propensity lies in ``[low, high]``: those with comparable counterparts.

    The default bounds are the rule of thumb of Crump, Hotz, Imbens and Mitnik (2009,
    *Biometrika* 96:187). Trimming changes the question: an estimate on the trimmed frame is the
    effect on the trained spells that were kept, so compare it with the truth for those spells.

    Parameters
    ----------
    frame : pandas.DataFrame
        The analysis frame the scores were estimated on.
    scores : pandas.Series
        From :func:`propensity_scores`.
    low, high : float, keyword-only
        The bounds, with ``0 <= low < high <= 1``.

    Returns
    -------
    pandas.DataFrame
        The rows of ``frame`` kept (original index).
    """
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a probability between 0 and 1, got {value!r}")
    if low >= high:
        raise ValueError(f"low must be below high, got low={low!r} and high={high!r}")
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"trim_by_propensity needs a pandas DataFrame, got {type(frame).__name__}")
    scores = _check_scores(frame, scores, "trim_by_propensity")
    return frame.loc[scores.index[scores.between(low, high).to_numpy()]]


def balance_table(frame: pd.DataFrame, scores: pd.Series | None = None, *, covariates=DEFAULT_COVARIATES,
                  treatment: str = "trained") -> pd.DataFrame:
    """Means and standardized mean differences of the covariates, before and after ATT weighting.

    The standardized mean difference (SMD) is the trained mean minus the untrained mean,
    divided by ``sqrt((var_trained + var_untrained) / 2)`` of the unweighted groups, so the
    weighted and unweighted SMDs share one yardstick. An absolute SMD under 0.1 is the usual
    sign of good balance (Austin 2009, *Statistics in Medicine* 28:3083).

    Parameters
    ----------
    frame : pandas.DataFrame
        An analysis frame.
    scores : pandas.Series or None
        Propensity scores; if given, the untrained are also weighted by ``p / (1 - p)``.
    covariates : sequence of str, keyword-only
        Columns to compare (text columns become one indicator per level but the first).
    treatment : str, keyword-only
        The 0/1 treatment column.

    Returns
    -------
    pandas.DataFrame
        One row per covariate: ``trained``, ``untrained`` and ``smd``, and with scores also
        ``untrained_weighted`` and ``smd_weighted``.
    """
    _require(frame, [treatment], "balance_table")
    X = _design(frame, covariates, "balance_table")
    if scores is not None:
        scores, _ = _scores_for(frame, scores, treatment, "balance_table")
        X = X.loc[X.index.intersection(scores.index)]
    t = frame.loc[X.index, treatment].astype(bool).to_numpy()
    x1, x0 = X[t], X[~t]
    scale = np.sqrt((x1.var() + x0.var()) / 2).replace(0, np.nan)
    out = pd.DataFrame({"trained": x1.mean(), "untrained": x0.mean()})
    out["smd"] = (out["trained"] - out["untrained"]) / scale
    if scores is not None:
        p = scores.loc[x0.index].to_numpy()
        odds = p / (1 - p)
        out["untrained_weighted"] = (x0.mul(odds, axis=0).sum() / odds.sum())
        out["smd_weighted"] = (out["trained"] - out["untrained_weighted"]) / scale
    return out


def _weighted_inputs(frame, covariates, outcome, treatment, clip, what):
    _groups(frame, outcome, treatment, what)                       # both groups present, columns exist
    data = frame.loc[frame[outcome].notna()]
    index, Z, p, t = _fit_propensity(data, covariates, treatment, clip)
    y = data.loc[index, outcome].astype("float64").to_numpy()
    return index, Z, p, t.astype(bool), y


def ipw_att(frame: pd.DataFrame, *, covariates=DEFAULT_COVARIATES, outcome: str = "post_earnings",
            treatment: str = "trained", clip: float = 0.01, alpha: float = 0.05) -> Estimate:
    """Inverse-propensity weighting for the effect on the trained (ATT).

    Trained spells get weight 1; untrained spells get the odds ``p / (1 - p)`` of their
    estimated propensity, so the weighted untrained look like the trained on the
    covariates. The estimate is the difference between the trained mean and the weighted
    untrained mean. The standard error is the sandwich (M-estimation) one: it includes the
    uncertainty of the fitted propensity model, which a weighted regression that treats
    the weights as known leaves out.

    Parameters
    ----------
    frame : pandas.DataFrame
        An analysis frame (usually the observational pool).
    covariates : sequence of str, keyword-only
        Columns of the propensity model; text columns become indicators.
    outcome, treatment, alpha
        The outcome and 0/1 treatment columns, and 1 - the confidence level of the interval.
    clip : float, keyword-only
        Scores are clipped to ``[clip, 1 - clip]``.

    Returns
    -------
    Estimate
        ``target="att"`` (the effect on the trained).
    """
    index, Z, p, t, y = _weighted_inputs(frame, covariates, outcome, treatment, clip, "ipw_att")
    n, n1 = len(y), int(t.sum())
    w = np.where(t, 0.0, p / (1 - p))
    total = w.sum()
    mu1, mu0 = y[t].mean(), (w * y).sum() / total
    # mu0 depends on the logistic coefficients through w = exp(Z b): its derivative, and the
    # logistic model's own influence function, add the propensity model's uncertainty
    gradient = Z.T @ (w * (y - mu0)) / n
    hessian = (Z * (p * (1 - p))[:, None]).T @ Z / n
    correction = Z @ np.linalg.solve(hessian, gradient) * (t - p)
    influence = (n / n1) * t * (y - mu1) - (n / total) * (w * (y - mu0) + correction)
    se = np.sqrt((influence ** 2).sum()) / n
    return _result("inverse-propensity weighting", "att", mu1 - mu0, se, n, n1, alpha, _unit(outcome))


def aipw_att(frame: pd.DataFrame, *, covariates=DEFAULT_COVARIATES, outcome: str = "post_earnings",
             treatment: str = "trained", clip: float = 0.01, alpha: float = 0.05) -> Estimate:
    """Doubly robust (augmented IPW) estimate of the effect on the trained (ATT).

    Two models: an OLS regression of the outcome on the covariates among the untrained,
    which predicts each spell's untrained outcome ``m0``, and the propensity model. The
    estimate is the mean of ``y - m0`` among the trained minus the propensity-weighted mean
    of ``y - m0`` among the untrained: the weighting corrects what the regression got wrong.
    It is consistent if *either* model is right (hence "doubly robust"). The standard error
    comes from the estimator's influence function with both models treated as known, which
    is correct to first order when both are right; :func:`bootstrap` re-fits them.

    Parameters
    ----------
    frame, outcome, treatment, clip, alpha
        As in :func:`ipw_att`.
    covariates : sequence of str, keyword-only
        Columns of both models (the outcome model and the propensity model).

    Returns
    -------
    Estimate
        ``target="att"`` (the effect on the trained).
    """
    from statsmodels.regression import linear_model as sm  # sm.OLS without all of statsmodels; warnings quote sm.OLS

    index, Z, p, t, y = _weighted_inputs(frame, covariates, outcome, treatment, clip, "aipw_att")
    m0 = Z @ sm.OLS(y[~t], Z[~t]).fit().params          # the propensity model's (standardized) design
    r = y - m0
    n, n1 = len(y), int(t.sum())
    w = np.where(t, 0.0, p / (1 - p))
    total = w.sum()
    a, b = r[t].mean(), (w * r).sum() / total
    influence = (n / n1) * t * (r - a) - (n / total) * w * (r - b)
    se = np.sqrt((influence ** 2).sum()) / n
    return _result("doubly robust (AIPW)", "att", a - b, se, n, n1, alpha, _unit(outcome))


def bootstrap(estimator, frame: pd.DataFrame, *, n_boot: int = 200, seed: int = 0,
              cluster: str | None = "unique_individual_id", alpha: float = 0.05, **options) -> Estimate:
    """Re-run an estimator on resampled data; the spread of the replicates is its standard error.

    People (``cluster``) are drawn with replacement, all of a person's spells together, and
    the whole estimator — propensity model, outcome model, weights — is fitted again on
    each replicate. The point estimate is the estimator's on the full data.

    Parameters
    ----------
    estimator : callable
        One of this module's or :mod:`statelab.inference`'s estimators, called as
        ``estimator(frame, alpha=alpha, **options)`` and returning an :class:`Estimate`.
    frame : pandas.DataFrame
        The data to resample.
    n_boot : int, keyword-only
        Replicates; 200 give a standard error good to about 5% (its own relative SE is
        ``1 / sqrt(2 * n_boot)``).
    seed : int, keyword-only
        Seed of the resampling stream, so the result is reproducible.
    cluster : str or None, keyword-only
        Column whose values are resampled as units; ``None`` resamples rows.
    alpha : float, keyword-only
        1 - confidence level of the interval (normal approximation with the bootstrap SE).
    **options
        Passed to ``estimator`` (``covariates``, ``outcome``, ...).

    Returns
    -------
    Estimate
        The estimator's estimate with the bootstrap standard error; ``method`` ends in
        ``"(bootstrap SE)"``.
    """
    from threadpoolctl import threadpool_limits

    if not callable(estimator):
        raise TypeError(f"estimator must be a function such as inference.aipw_att, got {estimator!r}")
    n_boot = _check_int(n_boot, "n_boot", minimum=2)
    seed = _check_int(seed, "seed", minimum=0)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"bootstrap needs a pandas DataFrame, got {type(frame).__name__}")
    if cluster is not None:
        _require(frame, [cluster], "bootstrap")
    full = estimator(frame, alpha=alpha, **options)
    units = frame[cluster].to_numpy() if cluster is not None else np.arange(len(frame))
    labels, codes = np.unique(units, return_inverse=True)
    rows_of = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[rows_of], np.arange(len(labels)))
    sizes = np.bincount(codes, minlength=len(labels))
    rng = np.random.default_rng(seed)
    replicates = np.empty(n_boot)
    # each fit is small: extra BLAS threads only contend with each other (and slow it down) on a shared machine
    with threadpool_limits(limits=1):
        for b in range(n_boot):
            drawn = rng.integers(0, len(labels), len(labels))
            take = np.concatenate([rows_of[starts[u]:starts[u] + sizes[u]] for u in drawn])
            replicates[b] = estimator(frame.iloc[take].reset_index(drop=True), alpha=alpha, **options).estimate
    return _result(f"{full.method} (bootstrap SE)", full.target, full.estimate, replicates.std(ddof=1), full.n,
                   full.n_treated, alpha, full.unit)
