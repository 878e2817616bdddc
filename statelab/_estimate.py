"""What module 8's estimators share: the :class:`Estimate` they return, the default covariates and input checks.

Private: :mod:`statelab.inference` and :mod:`statelab.weighting` (and :mod:`statelab.panel`) import from
here, and :mod:`statelab.inference` re-exports the public names, so learners never import this module.
It exists so that the weighting estimators can live in their own module without a circular import.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_COVARIATES", "Estimate"]

#: Covariates used for adjustment: the pre-program earnings path, demographics and the funding stream.
#: Categorical columns (``education``, ``program``) are expanded to indicators.
DEFAULT_COVARIATES: tuple[str, ...] = (
    "pre_earnings",
    "base_earnings",
    "log_pre_earnings",
    "log_base_earnings",
    "earnings_dip",
    "age_at_entry",
    "under_35",
    "female",
    "education",
    "program",
    "employed_at_entry",
)

_CATEGORICAL = ("education", "program", "state_fips", "sex", "race_ethnicity")

#: How :meth:`Estimate.__str__` prints a number in each unit (dollars are whole; logs and shares are not).
_FORMATS = {"dollars a quarter": "{:,.0f}"}


@dataclass(frozen=True)
class Estimate:
    """One estimate of an effect, with its uncertainty.

    Attributes
    ----------
    method : str
        Short name of the estimator, e.g. ``"naive difference"``.
    target : str
        The true quantity it should be compared with: a row name of
        :func:`statelab.inference.true_effects` (``"att"`` or ``"ate_pilot"``), or for the panel
        estimators the name of the planted parameter.
    estimate, std_error : float
        The point estimate and its standard error.
    ci_low, ci_high : float
        A normal-approximation confidence interval, ``estimate ± z * std_error``.
    n, n_treated : int
        Units used (spells, people), and how many of them were treated.
    confidence : float
        The confidence level of the interval (``1 - alpha``).
    unit : str
        What the numbers measure: ``"dollars a quarter"`` (the default), ``"log points"`` or
        ``"share of quarters employed"``.
    """

    method: str
    target: str
    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    n: int
    n_treated: int
    confidence: float = 0.95
    unit: str = "dollars a quarter"

    def as_dict(self) -> dict:
        """The estimate as a plain ``dict`` (one row of a results table)."""
        return asdict(self)

    def __str__(self) -> str:
        f = _FORMATS.get(self.unit, "{:,.3f}").format
        return (f"{self.method}: {f(self.estimate)} {self.unit} (SE {f(self.std_error)}; "
                f"{self.confidence:.0%} CI {f(self.ci_low)} to {f(self.ci_high)}; "
                f"{self.n:,} used, {self.n_treated:,} treated)")


def _require(frame, columns, what) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} has no column(s) {missing}; build it with inference.analysis_frame(con)")


def _z(alpha) -> float:
    from scipy.stats import norm

    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number between 0 and 1, got {alpha!r}")
    return float(norm.ppf(1 - alpha / 2))


def _groups(frame, outcome, treatment, what):
    _require(frame, [outcome, treatment], what)
    data = frame[[outcome, treatment]].dropna()
    t = data[treatment].astype(bool).to_numpy()
    y = data[outcome].astype("float64").to_numpy()
    n1, n0 = int(t.sum()), int((~t).sum())
    if n1 < 2 or n0 < 2:
        raise ValueError(f"{what} needs at least 2 trained and 2 untrained spells, got {n1} trained and {n0} untrained")
    return y, t


def _unit(outcome: str) -> str:
    """The unit of an analysis-frame outcome column (see :class:`Estimate`)."""
    if "log" in outcome:
        return "log points"
    if "employ" in outcome:
        return "share of quarters employed"
    return "dollars a quarter"


def _result(method, target, est, se, n, n_treated, alpha, unit="dollars a quarter") -> Estimate:
    z = _z(alpha)
    est, se = float(est), float(se)
    return Estimate(method=method, target=target, estimate=est, std_error=se, ci_low=est - z * se,
                    ci_high=est + z * se, n=int(n), n_treated=int(n_treated), confidence=1 - float(alpha), unit=unit)


def _mean_difference(y, t):
    y1, y0 = y[t], y[~t]
    est = y1.mean() - y0.mean()
    se = math.sqrt(y1.var(ddof=1) / len(y1) + y0.var(ddof=1) / len(y0))
    return est, se


def _design(frame, covariates, what):
    """Numeric covariate matrix (text columns as indicators) for the rows with every covariate."""
    if isinstance(covariates, str) or not hasattr(covariates, "__iter__"):
        raise TypeError(f"covariates must be a list of column names, got {covariates!r}")
    covariates = list(covariates)
    if not covariates:
        raise ValueError(f"{what} needs at least one covariate, got {covariates!r}")
    _require(frame, covariates, what)
    X = frame[covariates].copy()
    cats = [c for c in covariates if c in _CATEGORICAL or X[c].dtype == object or isinstance(X[c].dtype, pd.StringDtype)]
    X = pd.get_dummies(X, columns=cats, drop_first=True, dtype="float64").astype("float64")
    X = X.loc[X.notna().all(axis=1)]
    constant = [c for c in X.columns if X[c].nunique() <= 1]  # e.g. an education level absent from a small sample
    return X.drop(columns=constant)


def _check_int(value, name, *, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    return int(value)
