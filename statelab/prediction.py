"""Predicting long UI claims, and auditing the predictions (modules 9 and 10).

The course's prediction task: among monetarily eligible initial claims for regular state UI
(``program = 'UI'``), which claimants will draw ``LONG_CLAIM_WEEKS`` (13) or more weeks of regular
benefits (``weeks_paid``)? Re-employment services have room for only part of the new claimants, so claims
are ranked by a score and the top share is served first.

Why regular UI only: Pandemic Unemployment Assistance claims (``program = 'PUA'``, 2020-2021) were a
temporary federal program for people without enough covered wages, never monetarily eligible for state UI;
and weeks of federal extensions (PEUC, Extended Benefits) are in ``ui_claim_week`` only, paid after regular
benefits ran out while federal law or a state's trigger allowed them. A label counting them would mean
something different in 2020 than in any other year.

Usage in a notebook::

    from statelab import prediction

    claims = prediction.claim_features(con)              # one row per eligible claim
    train, test = prediction.temporal_split(claims, train_end=prediction.TRAIN_END,
                                            test_start=prediction.TEST_START, test_end=prediction.TEST_END)
    model = prediction.make_model("boosting").fit(train[prediction.FEATURES], train["long_claim"])
    scores = model.predict_proba(test[prediction.FEATURES])[:, 1]
    prediction.precision_at_k(test["long_claim"], scores, share=prediction.CAPACITY)

Every feature is built from information on file when the claim is filed: the claim's own fields,
wage records from quarters *before* the filing quarter, earlier claims, and claims filed in the state
in the 13 weeks before the filing date. :func:`feature_sql` returns the query so it can be read.

Models run on one thread (:class:`SingleThread`): course machines and hubs are shared, and OpenMP
threads competing for a few busy cores make gradient boosting many times slower, not faster.
"""

from __future__ import annotations

import math
from datetime import date
from functools import partial
from numbers import Integral, Real

import numpy as np
import pandas as pd

# fairlearn (with sklearn.metrics) and sklearn.ensemble are imported in the functions that use them
# (group_metrics, make_model("boosting")): a notebook that fits only the logistic model skips them.
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits

__all__ = [
    "CAPACITY",
    "CATEGORICAL_FEATURES",
    "FEATURES",
    "HISTORY_QUARTERS",
    "LONG_CLAIM_WEEKS",
    "NUMERIC_FEATURES",
    "TEST_END",
    "TEST_START",
    "TRAIN_END",
    "SingleThread",
    "calibration_table",
    "claim_features",
    "feature_sql",
    "group_metrics",
    "make_model",
    "precision_at_k",
    "select_top",
    "temporal_split",
]

#: A claim is "long" when it draws at least this many weeks (the label of module 9).
LONG_CLAIM_WEEKS = 13

#: Quarters of wage history before the filing quarter used for the history features.
HISTORY_QUARTERS = 8

#: The course's temporal split (modules 9 and 10 and their assignments). Training claims are filed
#: before TRAIN_END; the six-month gap to TEST_START lets every training label (13 weeks of benefits
#: after a waiting week) be known on the day the model is built; claims filed from TEST_END on are too
#: recent for their outcome to be complete in the extract.
TRAIN_END = "2023-07-01"
TEST_START = "2024-01-01"
TEST_END = "2025-07-01"

#: Share of new claimants re-employment services can reach (the "k" of precision at k).
CAPACITY = 0.10

#: Numeric model inputs produced by :func:`claim_features`.
NUMERIC_FEATURES: tuple[str, ...] = (
    "age",
    "base_period_wages",
    "high_quarter_wages",
    "employers_8q",
    "quarters_worked_8q",
    "wages_last_q",
    "earnings_trend",
    "prior_claims",
    "state_claims_13w",
)

#: Categorical model inputs produced by :func:`claim_features`.
CATEGORICAL_FEATURES: tuple[str, ...] = ("sex", "education", "separation_reason", "naics_sector", "state_fips")

#: Every model input, numeric first.
FEATURES: list[str] = [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]

_MODEL_KINDS = ("logistic", "boosting")


def feature_sql(*, min_weeks: int = LONG_CLAIM_WEEKS) -> str:
    """The SQL behind :func:`claim_features`: one row per monetarily eligible regular UI claim.

    Reads the learner tables ``ui_claim`` and ``ui_wage`` by their plain names, so it runs on a
    course connection or on any database holding tables with those columns.

    Parameters
    ----------
    min_weeks : int, keyword-only
        Weeks paid at or above which ``long_claim`` is 1.

    Returns
    -------
    str
        A single ``SELECT`` statement in portable SQL.
    """
    if not isinstance(min_weeks, Integral) or isinstance(min_weeks, bool) or min_weeks < 1:
        raise ValueError(f"min_weeks must be a positive whole number of weeks, got {min_weeks!r}")
    k = HISTORY_QUARTERS
    return f"""
WITH claims AS (
    -- regular state UI claims only: PUA claims (2020-2021) belong to a temporary federal program
    SELECT
        c.*,
        EXTRACT(YEAR FROM c.date_filed) * 4 + EXTRACT(QUARTER FROM c.date_filed) - 1 AS file_qindex
    FROM ui_claim AS c
    WHERE c.program = 'UI'
),
state_volume AS (
    -- regular claims filed in the same state in the 13 weeks before the filing date (the filing day excluded)
    SELECT claim_id,
           COUNT(*) OVER (PARTITION BY state_fips ORDER BY date_filed
                          RANGE BETWEEN INTERVAL '91' DAY PRECEDING AND INTERVAL '1' DAY PRECEDING)
               AS state_claims_13w
    FROM claims
),
earlier_claims AS (
    SELECT c.claim_id, COUNT(p.claim_id) AS prior_claims
    FROM claims AS c
    LEFT JOIN claims AS p ON p.ssn = c.ssn AND p.date_filed < c.date_filed
    GROUP BY c.claim_id
),
history AS (
    -- wage records from the {k} quarters before the filing quarter; never the filing quarter or later
    SELECT
        c.claim_id,
        COUNT(DISTINCT w.ui_account) AS employers_8q,
        COUNT(DISTINCT CASE WHEN w.wages > 0 THEN w.year * 4 + w.quarter - 1 END) AS quarters_worked_8q,
        SUM(CASE WHEN w.year * 4 + w.quarter - 1 = c.file_qindex - 1 THEN w.wages ELSE 0 END) AS wages_last_q,
        SUM(CASE WHEN w.year * 4 + w.quarter - 1 >= c.file_qindex - 4 THEN w.wages ELSE 0 END) AS wages_recent_4q,
        SUM(CASE WHEN w.year * 4 + w.quarter - 1 < c.file_qindex - 4 THEN w.wages ELSE 0 END) AS wages_prior_4q
    FROM claims AS c
    JOIN ui_wage AS w
      ON w.ssn = c.ssn
     AND w.year * 4 + w.quarter - 1 BETWEEN c.file_qindex - {k} AND c.file_qindex - 1
    WHERE c.monetarily_eligible
    GROUP BY c.claim_id
)
SELECT
    c.claim_id,
    c.state_fips,
    c.county_fips,
    c.date_filed,
    c.weeks_paid,
    CASE WHEN c.weeks_paid >= {min_weeks} THEN 1 ELSE 0 END AS long_claim,
    c.sex,
    c.education,
    EXTRACT(YEAR FROM c.date_filed) - EXTRACT(YEAR FROM c.dob)
        - CASE WHEN EXTRACT(MONTH FROM c.date_filed) * 100 + EXTRACT(DAY FROM c.date_filed)
                  < EXTRACT(MONTH FROM c.dob) * 100 + EXTRACT(DAY FROM c.dob) THEN 1 ELSE 0 END AS age,
    c.separation_reason,
    COALESCE(c.naics_sector, 'unknown') AS naics_sector,
    c.base_period_wages,
    c.high_quarter_wages,
    COALESCE(h.employers_8q, 0) AS employers_8q,
    COALESCE(h.quarters_worked_8q, 0) AS quarters_worked_8q,
    COALESCE(h.wages_last_q, 0) AS wages_last_q,
    COALESCE(h.wages_recent_4q, 0) AS wages_recent_4q,
    COALESCE(h.wages_prior_4q, 0) AS wages_prior_4q,
    -- growth between the two halves of the history, 2(x1 - x0) / (x1 + x0): from -2 to 2, 0 if no wages
    CASE WHEN COALESCE(h.wages_recent_4q, 0) + COALESCE(h.wages_prior_4q, 0) > 0
         THEN 2.0 * (h.wages_recent_4q - h.wages_prior_4q) / (h.wages_recent_4q + h.wages_prior_4q)
         ELSE 0.0 END AS earnings_trend,
    e.prior_claims,
    v.state_claims_13w
FROM claims AS c
JOIN state_volume AS v ON v.claim_id = c.claim_id
JOIN earlier_claims AS e ON e.claim_id = c.claim_id
LEFT JOIN history AS h ON h.claim_id = c.claim_id
WHERE c.monetarily_eligible
ORDER BY c.date_filed, c.claim_id
"""


def claim_features(con, *, min_weeks: int = LONG_CLAIM_WEEKS) -> pd.DataFrame:
    """Features and label for every monetarily eligible regular UI claim, as known at filing.

    Parameters
    ----------
    con : DuckDB connection
        A course connection (``sd.connect(...)``) or any connection with ``ui_claim`` and ``ui_wage``.
    min_weeks : int, keyword-only
        Weeks paid at or above which the label ``long_claim`` is 1.

    Returns
    -------
    pandas.DataFrame
        One row per claim, ordered by filing date: identifiers (``claim_id``, ``state_fips``,
        ``county_fips``, ``date_filed``), the outcome (``weeks_paid``, ``long_claim``), every column of
        :data:`FEATURES` (categoricals as ``category`` dtype, numbers as floats; ``age`` is missing
        when the date of birth is), plus ``wages_recent_4q`` and ``wages_prior_4q``.
    """
    frame = con.sql(feature_sql(min_weeks=min_weeks)).df()
    frame["date_filed"] = pd.to_datetime(frame["date_filed"])
    frame["long_claim"] = frame["long_claim"].astype("int64")
    for column in NUMERIC_FEATURES:
        frame[column] = frame[column].astype("float64")
    for column in CATEGORICAL_FEATURES:
        frame[column] = frame[column].astype("string").astype("category")
    return frame


def _as_timestamp(value, name: str) -> pd.Timestamp:
    if isinstance(value, bool) or not isinstance(value, (str, date, pd.Timestamp, np.datetime64)):
        raise TypeError(f"{name} must be a date or an ISO date string such as '2024-01-01', got {value!r}")
    try:
        return pd.Timestamp(value)
    except ValueError as exc:
        raise ValueError(f"{name} is not a date: {value!r}") from exc


def temporal_split(
    frame: pd.DataFrame,
    *,
    train_end,
    test_start,
    test_end=None,
    date_column: str = "date_filed",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split claims by filing date: train on the past, test on the future.

    Training rows are filed strictly before ``train_end``; test rows on or after ``test_start`` and,
    if given, strictly before ``test_end``. Rows in the gap ``[train_end, test_start)`` are in
    neither: leave a gap at least as long as the outcome takes to be known, so every training label
    was observable on the day the model would have been built.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with a date column.
    train_end, test_start, test_end : date or ISO date string, keyword-only
        The boundaries described above; ``train_end`` must not be after ``test_start``.
    date_column : str, keyword-only
        Column holding the dates.

    Returns
    -------
    (train, test) : tuple of pandas.DataFrame
        Copies, in the original row order.
    """
    if date_column not in frame.columns:
        raise ValueError(f"frame has no column {date_column!r}; columns are {list(frame.columns)}")
    train_end = _as_timestamp(train_end, "train_end")
    test_start = _as_timestamp(test_start, "test_start")
    if train_end > test_start:
        raise ValueError(
            f"train_end {train_end.date()} is after test_start {test_start.date()}: training on claims "
            "filed after the test period starts would use the future"
        )
    dates = pd.to_datetime(frame[date_column])
    train_mask = dates < train_end
    test_mask = dates >= test_start
    if test_end is not None:
        test_end = _as_timestamp(test_end, "test_end")
        if test_end <= test_start:
            raise ValueError(f"test_end {test_end.date()} must be after test_start {test_start.date()}")
        test_mask &= dates < test_end
    return frame.loc[train_mask].copy(), frame.loc[test_mask].copy()


class SingleThread(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier that fits and predicts with one thread for OpenMP and BLAS.

    Parameters
    ----------
    estimator : scikit-learn classifier
        Cloned and fitted as ``estimator_``; ``classes_`` and ``predict_proba`` come from it.
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y, **fit_params):
        with threadpool_limits(limits=1):
            self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X):
        with threadpool_limits(limits=1):
            return self.estimator_.predict_proba(X)

    def predict(self, X):
        with threadpool_limits(limits=1):
            return self.estimator_.predict(X)


def make_model(
    kind: str,
    *,
    numeric=NUMERIC_FEATURES,
    categorical=CATEGORICAL_FEATURES,
    random_state: int = 0,
):
    """An unfitted scikit-learn pipeline that scores the chance of a long claim.

    Parameters
    ----------
    kind : {"logistic", "boosting"}
        ``"logistic"``: median imputation and standardization of numbers, one-hot categories, then a
        logistic regression. ``"boosting"``: categories coded as integers, then a histogram gradient
        boosting classifier (missing values handled natively).
    numeric, categorical : sequence of str, keyword-only
        Columns of the frame passed to ``fit``; either may be empty.
    random_state : int, keyword-only
        Seed for the boosting model's internal randomness.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Call ``fit(X, y)`` and ``predict_proba(X)[:, 1]``. The last step, ``"model"``, is a
        :class:`SingleThread` whose fitted classifier is ``pipeline[-1].estimator_``.
    """
    if kind not in _MODEL_KINDS:
        raise ValueError(f"kind must be one of {_MODEL_KINDS}, got {kind!r}")
    numeric, categorical = list(numeric), list(categorical)
    if not numeric and not categorical:
        raise ValueError("the model needs at least one numeric or categorical column; both lists are empty")
    if kind == "logistic":
        prep = ColumnTransformer(
            [
                (
                    "numeric",
                    Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
                    numeric,
                ),
                ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
            ],
            verbose_feature_names_out=False,
        )
        return Pipeline([("prepare", prep), ("model", SingleThread(LogisticRegression(max_iter=2000)))])
    prep = ColumnTransformer(
        [
            ("numeric", "passthrough", numeric),
            (
                "categorical",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1),
                categorical,
            ),
        ],
        verbose_feature_names_out=False,
    )
    from sklearn.ensemble import HistGradientBoostingClassifier

    is_categorical = [False] * len(numeric) + [True] * len(categorical)
    booster = HistGradientBoostingClassifier(
        categorical_features=is_categorical if categorical else None,
        learning_rate=0.08,
        max_iter=200,
        max_leaf_nodes=15,
        min_samples_leaf=30,
        l2_regularization=1.0,
        random_state=random_state,
    )
    return Pipeline([("prepare", prep), ("model", SingleThread(booster))])


def _arrays(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise ValueError(f"y_true and scores must be 1-D and the same length, got shapes {y.shape} and {s.shape}")
    if len(y) == 0:
        raise ValueError("y_true and scores are empty")
    if np.isnan(y).any() or not np.isin(y, (0.0, 1.0)).all():
        raise ValueError(f"y_true must hold only 0 and 1, got values {sorted(set(np.unique(y).tolist()))[:5]}")
    if np.isnan(s).any():
        raise ValueError("scores contain missing values (NaN); rank only scored rows")
    return y, s


def _resolve_k(n: int, k, share) -> int:
    if (k is None) == (share is None):
        raise ValueError(f"give exactly one of k or share, got k={k!r} and share={share!r}")
    if k is not None:
        if not isinstance(k, Integral) or isinstance(k, bool) or not 1 <= k <= n:
            raise ValueError(f"k must be a whole number from 1 to the number of rows ({n}), got {k!r}")
        return int(k)
    if not isinstance(share, Real) or isinstance(share, bool) or not 0 < share <= 1:
        raise ValueError(f"share must be a number in (0, 1], got {share!r}")
    return max(1, math.floor(share * n))


def precision_at_k(y_true, scores, *, k: int | None = None, share: float | None = None) -> float:
    """Share of positives among the ``k`` highest-scored rows.

    Give either ``k`` (a count) or ``share`` (a fraction of the rows; ``k = floor(share * n)``, at
    least 1). Ties at the cut-off are shared out evenly: the tied rows contribute their positive rate
    for each remaining slot, which is the expected precision if ties were broken at random. The
    result therefore does not depend on row order.

    Parameters
    ----------
    y_true : array-like of 0/1
        Observed outcomes.
    scores : array-like of float
        Higher means "serve first".
    k, share : keyword-only
        Capacity, as a count or as a share of the rows.

    Returns
    -------
    float
    """
    y, s = _arrays(y_true, scores)
    k = _resolve_k(len(y), k, share)
    cutoff = np.sort(s)[::-1][k - 1]
    above = s > cutoff
    tied = s == cutoff
    slots = k - int(above.sum())
    return float((y[above].sum() + slots * y[tied].mean()) / k)


def select_top(scores, *, k: int | None = None, share: float | None = None, groups=None) -> np.ndarray:
    """Flag the rows that would be served: the top ``k`` (or top ``share``) by score.

    With ``groups``, the top ``share`` is taken *within each group* (one threshold per group), so
    every group has the same selection rate up to rounding; ``k`` cannot be combined with groups.
    Ties are broken by row order (the earlier row first).

    Parameters
    ----------
    scores : array-like of float
    k, share : keyword-only
        Capacity, as a count or as a share of the rows (``floor(share * n)``, at least 1).
    groups : array-like, optional, keyword-only
        Group label per row (missing labels are a group of their own).

    Returns
    -------
    numpy.ndarray of bool
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or len(s) == 0:
        raise ValueError(f"scores must be a non-empty 1-D array, got shape {s.shape}")
    if np.isnan(s).any():
        raise ValueError("scores contain missing values (NaN); rank only scored rows")
    selected = np.zeros(len(s), dtype=bool)
    if groups is None:
        n = _resolve_k(len(s), k, share)
        selected[np.argsort(-s, kind="stable")[:n]] = True
        return selected
    if k is not None:
        raise ValueError(f"with groups, give a share (the same in every group), not k={k!r}")
    labels = pd.Series(np.asarray(groups, dtype=object)).fillna("(missing)").to_numpy()
    if len(labels) != len(s):
        raise ValueError(f"groups has {len(labels)} labels for {len(s)} scores")
    for label in pd.unique(labels):
        rows = np.flatnonzero(labels == label)
        n = _resolve_k(len(rows), None, share)
        selected[rows[np.argsort(-s[rows], kind="stable")[:n]]] = True
    return selected


def calibration_table(y_true, scores, *, bins: int = 10) -> pd.DataFrame:
    """Predicted against observed rates in bins of equal size (by score rank).

    Parameters
    ----------
    y_true : array-like of 0/1
    scores : array-like of float
        Predicted probabilities.
    bins : int, keyword-only
        Number of bins; fewer are used when there are fewer distinct scores or rows.

    Returns
    -------
    pandas.DataFrame
        Columns ``bin`` (1 = lowest scores), ``claims``, ``mean_predicted``, ``observed_rate``,
        ``min_score`` and ``max_score``; one row per bin.
    """
    y, s = _arrays(y_true, scores)
    if not isinstance(bins, Integral) or isinstance(bins, bool) or bins < 1:
        raise ValueError(f"bins must be a positive whole number, got {bins!r}")
    ranks = pd.Series(s).rank(method="first").to_numpy()
    codes = np.minimum((ranks - 1) * min(bins, len(s)) // len(s), bins - 1).astype(int)
    frame = pd.DataFrame({"bin": codes + 1, "y": y, "score": s})
    table = frame.groupby("bin").agg(
        claims=("y", "size"),
        mean_predicted=("score", "mean"),
        observed_rate=("y", "mean"),
        min_score=("score", "min"),
        max_score=("score", "max"),
    )
    return table.reset_index()


def _base_rate(y_true, y_pred):
    return float(np.mean(y_true)) if len(y_true) else float("nan")


def group_metrics(y_true, selected, groups):
    """Selection and error rates by group, as a fairlearn ``MetricFrame``.

    Parameters
    ----------
    y_true : array-like of 0/1
        Observed outcomes (1 = long claim).
    selected : array-like of bool or 0/1
        Who would be served.
    groups : array-like or pandas.DataFrame
        Sensitive feature(s), one label per row (a DataFrame gives intersections of its columns).

    Returns
    -------
    fairlearn.metrics.MetricFrame
        Metrics ``claims`` (count), ``base_rate`` (share with a long claim), ``selection_rate``,
        ``precision``, ``recall`` (true positive rate), ``false_negative_rate`` and
        ``false_positive_rate``; use ``.overall``, ``.by_group``, ``.difference()`` and ``.ratio()``.
        Precision is 0 for a group with nobody selected.
    """
    from fairlearn.metrics import MetricFrame, count, false_negative_rate, false_positive_rate, selection_rate
    from sklearn.metrics import precision_score, recall_score

    y = np.asarray(y_true)
    pred = np.asarray(selected)
    if y.ndim != 1 or pred.ndim != 1 or len(y) != len(pred):
        raise ValueError(f"y_true and selected must be 1-D and the same length, got {y.shape} and {pred.shape}")
    if not np.isin(y, (0, 1)).all() or not np.isin(pred, (0, 1)).all():
        raise ValueError("y_true and selected must hold only 0/1 or booleans")
    y, pred = y.astype(int), pred.astype(int)
    metrics = {
        "claims": count,
        "base_rate": _base_rate,
        "selection_rate": selection_rate,
        "precision": partial(precision_score, zero_division=0),
        "recall": partial(recall_score, zero_division=0),
        "false_negative_rate": false_negative_rate,
        "false_positive_rate": false_positive_rate,
    }
    return MetricFrame(metrics=metrics, y_true=y, y_pred=pred, sensitive_features=groups)
