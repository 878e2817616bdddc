"""Intervals for rates, and rankings that say how much of the order is noise (modules 7, 10 and 11).

A rate from a few dozen people, or a growth rate driven by a few employers, moves a lot from one
year to the next. Three tools put that uncertainty next to the number:

* :func:`rate_interval` — Wilson score intervals for shares (statsmodels' ``proportion_confint``);
  they stay inside 0-1 and keep their coverage for small groups, unlike the ``p ± 2 SE`` rule.
* :func:`group_rate_intervals`, :func:`rate_difference` and :func:`detectable_difference` — the rates a
  fairness audit compares (selection rate, base rate, recall, precision) with intervals for each group, an
  interval for the gap between two groups, and the smallest gap groups of a given size can detect: for a
  small group, "no significant gap" often means "too few people to tell".
* :func:`growth_rate_interval` — the symmetric employer growth rate of module 7 for a group of
  employers, with a standard error that treats the employers as the sampled units (delta method),
  so a rate driven by one large employer gets a wide interval.
* :func:`rank_with_uncertainty` — for a table of units (sectors, counties) each with an estimate
  and a standard error: a test of each against a reference with p-values adjusted for the number
  of units compared (Holm's method by default, via statsmodels' ``multipletests``), simultaneous
  intervals, and an empirical-Bayes *shrinkage* estimate that pulls noisy units toward the
  reference. Ranking 20 or 38 units without these finds "leaders" and "laggards" in noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "detectable_difference",
    "group_rate_intervals",
    "growth_rate_interval",
    "rank_with_uncertainty",
    "rate_difference",
    "rate_interval",
]

_ADJUSTMENTS = ("holm", "bonferroni", "fdr_bh")


def _alpha(alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number between 0 and 1, got {alpha!r}")
    return float(alpha)


def _wilson(successes, trials, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score bounds: ``proportion_confint(successes, trials, alpha=alpha, method="wilson")``; NaN where
    there are no trials.

    The same arithmetic as statsmodels, operation for operation, so the bounds are identical to the bit;
    only the normal quantile comes from ``scipy.special.ndtri`` (what ``scipy.stats.norm.isf`` computes)
    instead of ``scipy.stats``. Why: importing statsmodels (and with it ``scipy.stats``) costs about half a
    second, more than the rest of an outcomes table, and every notebook that prints a rate paid it.
    """
    from scipy.special import ndtri

    k = np.atleast_1d(np.asarray(successes, dtype=float))
    n = np.atleast_1d(np.asarray(trials, dtype=float))
    low, high = np.full(len(n), np.nan), np.full(len(n), np.nan)
    ok = n > 0
    if not ok.any():
        return low, high
    k, n = k[ok], n[ok]
    crit = -ndtri(alpha / 2.0)  # two-sided: scipy.stats.norm.isf(alpha / 2)
    q = k / n
    crit2 = crit**2
    denom = 1 + crit2 / n
    center = (q + crit2 / (2 * n)) / denom
    dist = crit * np.sqrt(q * (1.0 - q) / n + crit2 / (4.0 * n**2))
    dist /= denom
    low[ok], high[ok] = np.clip(center - dist, 0, 1), np.clip(center + dist, 0, 1)
    return low, high


def rate_interval(successes, trials, *, alpha: float = 0.05, method: str = "wilson") -> pd.DataFrame:
    """A share with its confidence interval, for one group or many.

    Parameters
    ----------
    successes, trials : int, array-like or pandas.Series
        Counts per group (``successes <= trials``); a Series keeps its index in the result.
    alpha : float, keyword-only
        1 - confidence level.
    method : str, keyword-only
        Any method of ``statsmodels.stats.proportion.proportion_confint``; ``"wilson"`` by default.

    Returns
    -------
    pandas.DataFrame
        ``successes``, ``trials``, ``rate``, ``ci_low``, ``ci_high`` per group (NaN where
        ``trials`` is 0).
    """
    alpha = _alpha(alpha)
    index = successes.index if isinstance(successes, pd.Series) else None
    k = np.atleast_1d(np.asarray(successes, dtype="float64"))
    n = np.atleast_1d(np.asarray(trials, dtype="float64"))
    if k.shape != n.shape:
        raise ValueError(f"successes and trials must have the same length, got {k.shape} and {n.shape}")
    if (k < 0).any() or (k > n).any():
        raise ValueError("successes must lie between 0 and trials in every group")
    out = pd.DataFrame({"successes": k, "trials": n}, index=index)
    ok = n > 0
    if method == "wilson":
        low, high = _wilson(k, n, alpha)
    else:
        from statsmodels.stats.proportion import proportion_confint

        low, high = np.full(len(n), np.nan), np.full(len(n), np.nan)
        if ok.any():
            low[ok], high[ok] = proportion_confint(k[ok], n[ok], alpha=alpha, method=method)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rate"] = np.where(ok, k / np.where(ok, n, 1), np.nan)
    out["ci_low"], out["ci_high"] = low, high
    return out


def growth_rate_interval(now, before, groups, *, alpha: float = 0.05) -> pd.DataFrame:
    """The employer growth rate ``2 (X_now - X_before) / (X_now + X_before)`` of each group, with an interval.

    ``X`` is a group's total over its employers. The standard error treats the group's
    employers as a sample of the firms that could have been there (the delta method for a
    function of two totals, with the employer-level variances and covariance of the two
    counts): it is small when many employers share the change and large when one or two
    drive it.

    Parameters
    ----------
    now, before : array-like
        One value per employer: the count (e.g. beginning-of-quarter employment) in the two
        quarters compared; an employer absent in one quarter counts 0 there.
    groups : array-like
        The group (e.g. NAICS sector) of each employer.
    alpha : float, keyword-only
        1 - confidence level of the normal-approximation interval.

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``employers``, ``before``, ``now`` (totals), ``growth_rate``,
        ``std_error``, ``ci_low``, ``ci_high`` (kept within the rate's range of -2 to 2).
    """
    from scipy.stats import norm

    alpha = _alpha(alpha)
    data = pd.DataFrame({"now": np.asarray(now, dtype="float64"), "before": np.asarray(before, dtype="float64"),
                         "group": np.asarray(groups)})
    if data[["now", "before"]].isna().any().any() or (data[["now", "before"]] < 0).any().any():
        raise ValueError("now and before must be non-negative counts with no missing values (use 0 for absent)")
    rows = {}
    for group, g in data.groupby("group", sort=True):
        m = len(g)
        a, b = g["now"].sum(), g["before"].sum()
        s = a + b
        rate = 2 * (a - b) / s if s > 0 else np.nan
        if m > 1 and s > 0:
            cov = np.cov(g["now"], g["before"], ddof=1)            # employer-level (co)variances
            grad = np.array([4 * b / s ** 2, -4 * a / s ** 2])     # d rate / d (A, B)
            se = float(np.sqrt(m * grad @ cov @ grad))
        else:
            se = np.nan
        rows[group] = {"employers": m, "before": b, "now": a, "growth_rate": rate, "std_error": se}
    out = pd.DataFrame.from_dict(rows, orient="index")
    z = norm.ppf(1 - alpha / 2)
    out["ci_low"] = (out["growth_rate"] - z * out["std_error"]).clip(-2, 2)
    out["ci_high"] = (out["growth_rate"] + z * out["std_error"]).clip(-2, 2)
    return out


def rank_with_uncertainty(estimates: pd.Series, std_errors: pd.Series, *, reference: float | None = None,
                          alpha: float = 0.05, method: str = "holm") -> pd.DataFrame:
    """Rank units by an estimate, and say which differ from a reference once many are compared.

    Parameters
    ----------
    estimates, std_errors : pandas.Series
        One estimate and its standard error per unit, on the same index.
    reference : float or None, keyword-only
        The value each unit is compared with (e.g. the overall rate). ``None`` uses the
        precision-weighted mean of the estimates.
    alpha : float, keyword-only
        The family-wise error rate (``"holm"``, ``"bonferroni"``) or false discovery rate
        (``"fdr_bh"``) to control, and 1 - the confidence of the simultaneous intervals.
    method : str, keyword-only
        The adjustment: ``"holm"`` (default), ``"bonferroni"`` or ``"fdr_bh"`` (Benjamini-Hochberg).

    Returns
    -------
    pandas.DataFrame
        Sorted from the highest estimate down: ``rank``, ``estimate``, ``std_error``,
        ``p_value`` (two-sided, unit vs reference), ``p_adjusted``, ``differs`` (the adjusted
        p-value is below ``alpha``), ``simultaneous_low`` / ``simultaneous_high`` (Bonferroni
        intervals that hold for all units at once), and ``shrunk``: the empirical-Bayes estimate
        ``reference + B (estimate - reference)`` with ``B = tau2 / (tau2 + se^2)``, where
        ``tau2`` — the spread of the units' true values — is estimated by the method of moments
        (the variance of the estimates minus their mean squared standard error, at least 0).
        With ``tau2 = 0`` every unit shrinks to the reference: the differences are no larger
        than noise would make them.
    """
    from scipy.stats import norm
    from statsmodels.stats.multitest import multipletests

    alpha = _alpha(alpha)
    if method not in _ADJUSTMENTS:
        raise ValueError(f"method must be one of {_ADJUSTMENTS}, got {method!r}")
    if not isinstance(estimates, pd.Series) or not isinstance(std_errors, pd.Series):
        raise TypeError("estimates and std_errors must be pandas Series indexed by unit")
    data = pd.DataFrame({"estimate": estimates, "std_error": std_errors}).astype("float64")
    if data.isna().any().any() or (data["std_error"] <= 0).any():
        raise ValueError("every unit needs an estimate and a positive standard error; drop the others first")
    if len(data) < 2:
        raise ValueError(f"ranking needs at least 2 units, got {len(data)}")
    precision = 1 / data["std_error"] ** 2
    ref = float((data["estimate"] * precision).sum() / precision.sum()) if reference is None else float(reference)
    z = (data["estimate"] - ref) / data["std_error"]
    data["p_value"] = 2 * norm.sf(z.abs())
    data["differs"], data["p_adjusted"] = multipletests(data["p_value"], alpha=alpha, method=method)[:2]
    half = norm.ppf(1 - alpha / (2 * len(data))) * data["std_error"]
    data["simultaneous_low"], data["simultaneous_high"] = data["estimate"] - half, data["estimate"] + half
    tau2 = max(0.0, float(data["estimate"].var(ddof=1) - (data["std_error"] ** 2).mean()))
    data["shrunk"] = ref + tau2 / (tau2 + data["std_error"] ** 2) * (data["estimate"] - ref)
    data = data.sort_values("estimate", ascending=False)
    data.insert(0, "rank", np.arange(1, len(data) + 1))
    data["differs"] = data["differs"].astype(bool)
    return data


def group_rate_intervals(y_true, y_pred, groups, *, alpha: float = 0.05) -> pd.DataFrame:
    """A fairness audit's rates by group, each with a Wilson interval.

    Parameters
    ----------
    y_true, y_pred : array-like of 0/1 or bool
        The observed outcome (e.g. a long claim) and the decision (e.g. invited).
    groups : array-like
        Each row's group.
    alpha : float, keyword-only
        1 - confidence level.

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``claims`` (rows), and for each of ``base_rate`` (share with the outcome),
        ``selection_rate`` (share selected), ``recall`` (share of those with the outcome who were
        selected) and ``precision`` (share of the selected with the outcome) the rate and its
        ``<rate>_low`` / ``<rate>_high`` bounds. Each rate's denominator is printed beside it by
        its definition: a recall in a group with 12 outcomes is a rate out of 12.
    """
    data = pd.DataFrame({"y": np.asarray(y_true).astype(bool), "s": np.asarray(y_pred).astype(bool),
                         "g": np.asarray(groups)})
    g = data.groupby("g", sort=True)
    counts = pd.DataFrame({
        "claims": g.size(), "outcome": g["y"].sum(), "selected": g["s"].sum(),
        "hits": g.apply(lambda d: int((d["y"] & d["s"]).sum()), include_groups=False),
    })
    out = pd.DataFrame({"claims": counts["claims"]})
    for name, k, n in (("base_rate", "outcome", "claims"), ("selection_rate", "selected", "claims"),
                       ("recall", "hits", "outcome"), ("precision", "hits", "selected")):
        rates = rate_interval(counts[k], counts[n], alpha=alpha)
        out[name], out[f"{name}_low"], out[f"{name}_high"] = rates["rate"], rates["ci_low"], rates["ci_high"]
    out.index.name = None
    return out


def rate_difference(successes_a, trials_a, successes_b, trials_b, *, alpha: float = 0.05) -> pd.Series:
    """The difference between two groups' rates (a minus b) with Newcombe's score interval.

    Returns
    -------
    pandas.Series
        ``difference``, ``ci_low``, ``ci_high``.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    alpha = _alpha(alpha)
    for k, n in ((successes_a, trials_a), (successes_b, trials_b)):
        if not 0 <= k <= n or n <= 0:
            raise ValueError(f"each group needs 0 <= successes <= trials and trials > 0, got {k} of {n}")
    low, high = confint_proportions_2indep(successes_a, trials_a, successes_b, trials_b, method="newcomb",
                                           compare="diff", alpha=alpha)
    return pd.Series({"difference": successes_a / trials_a - successes_b / trials_b, "ci_low": low, "ci_high": high})


def detectable_difference(n_a, n_b, *, rate: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest gap between two groups' rates that a two-sided test would detect with the given power.

    The normal approximation ``(z[1 - alpha/2] + z[power]) * sqrt(rate (1 - rate) (1/n_a + 1/n_b))``, with
    ``rate`` the rate both groups share under no difference. With 80% power and a 5% test the factor is
    about 2.8 standard errors.
    """
    from scipy.stats import norm

    alpha = _alpha(alpha)
    if not 0 < power < 1:
        raise ValueError(f"power must be between 0 and 1, got {power!r}")
    if not 0 < rate < 1:
        raise ValueError(f"rate must be between 0 and 1, got {rate!r}")
    if n_a <= 0 or n_b <= 0:
        raise ValueError(f"both groups need people, got {n_a} and {n_b}")
    return float((norm.ppf(1 - alpha / 2) + norm.ppf(power)) * np.sqrt(rate * (1 - rate) * (1 / n_a + 1 / n_b)))
