"""Unit tests for statelab.prediction on crafted data (answers known by construction)."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statelab import prediction as pr

# ----------------------------------------------------------------------------- crafted claim files
CLAIM_COLUMNS = """
    claim_id VARCHAR, state_fips VARCHAR, ssn VARCHAR, dob DATE, sex VARCHAR, education VARCHAR,
    county_fips VARCHAR, date_filed DATE, separation_reason VARCHAR, naics_sector VARCHAR,
    base_period_wages BIGINT, high_quarter_wages BIGINT, monetarily_eligible BOOLEAN, weeks_paid SMALLINT,
    program VARCHAR
"""
WAGE_COLUMNS = "ssn VARCHAR, ui_account VARCHAR, year SMALLINT, quarter TINYINT, wages BIGINT"


def _claim(claim_id, ssn, filed, *, state="17", dob="1980-06-15", weeks=20, eligible=True, sector="31-33",
           program="UI"):
    return (claim_id, state, ssn, dob, "F", "high_school", state + "001", filed, "lack_of_work", sector,
            20000, 6000, eligible, weeks, program)


def _database(claims, wages):
    con = duckdb.connect()
    con.sql(f"CREATE TABLE ui_claim ({CLAIM_COLUMNS})")
    con.sql(f"CREATE TABLE ui_wage ({WAGE_COLUMNS})")
    con.executemany("INSERT INTO ui_claim VALUES (" + ", ".join(["?"] * 15) + ")", claims)
    if wages:
        con.executemany("INSERT INTO ui_wage VALUES (?, ?, ?, ?, ?)", wages)
    return con


# Claimant A files on 2021-05-10 (2021Q2). Her history window is 2019Q2-2021Q1.
A_WAGES = [
    ("900000001", "E1", 2019, 1, 9999),   # 9 quarters before: outside the window
    ("900000001", "E1", 2019, 2, 1000),
    ("900000001", "E1", 2019, 3, 1000),
    ("900000001", "E2", 2020, 1, 3000),
    ("900000001", "E2", 2020, 2, 3000),
    ("900000001", "E2", 2020, 3, 0),       # a zero-wage row: an employer but not a quarter worked
    ("900000001", "E3", 2021, 1, 500),     # the last completed quarter
    ("900000001", "E3", 2021, 2, 7000),    # the filing quarter: never used
    ("900000001", "E4", 2021, 3, 8000),    # after filing: never used
]
A_CLAIMS = [
    _claim("A1", "900000001", "2021-05-10", weeks=13),
    _claim("A0", "900000001", "2018-02-01", weeks=4),          # an earlier claim of the same person
    _claim("B1", "900000002", "2021-03-01", weeks=12),         # same state, 70 days before A1
    _claim("B2", "900000002", "2021-01-20", eligible=False, weeks=0),  # 110 days before: outside 13 weeks
    _claim("C1", "900000003", "2021-05-10", state="18", weeks=26),     # another state, same day
    _claim("D1", "900000004", "2021-05-10", weeks=2),                  # same state, same day: not "before"
    # PUA claims (a temporary federal program) are neither rows nor counted, even if flagged eligible
    _claim("P1", "900000001", "2020-06-01", weeks=30, program="PUA"),  # an earlier claim of A, but PUA
    _claim("P2", "900000006", "2021-04-01", weeks=30, program="PUA"),  # same state, 39 days before A1
]


@pytest.fixture()
def crafted():
    con = _database(A_CLAIMS, A_WAGES)
    yield con
    con.close()


def _row(frame, claim_id):
    return frame.set_index("claim_id").loc[claim_id]


def test_features_by_construction(crafted):
    f = pr.claim_features(crafted)
    assert set(f["claim_id"]) == {"A0", "A1", "B1", "C1", "D1"}, "ineligible and PUA claims are left out"
    a = _row(f, "A1")
    assert a["employers_8q"] == 3                       # E1, E2, E3 inside the window (E2's zero row counts)
    assert a["quarters_worked_8q"] == 5                  # 2019Q2, 2019Q3, 2020Q1, 2020Q2, 2021Q1
    assert a["wages_last_q"] == 500
    assert a["prior_claims"] == 1                        # A0; P1 is a PUA claim
    assert a["state_claims_13w"] == 1                    # B1 only: B2 too early, D1 same day, C1 other state,
    #                                                      P2 a PUA claim
    assert a["age"] == 40                                # born 1980-06-15, filed 2021-05-10
    assert a["long_claim"] == 1 and _row(f, "B1")["long_claim"] == 0
    assert _row(f, "C1")["employers_8q"] == 0 and _row(f, "C1")["quarters_worked_8q"] == 0
    assert _row(f, "C1")["earnings_trend"] == 0.0
    assert str(f["sex"].dtype) == "category" and f["age"].dtype == np.float64


def test_history_window_split_by_construction(crafted):
    a = _row(pr.claim_features(crafted), "A1")
    # filing quarter 2021Q2: recent half is 2020Q2..2021Q1, earlier half 2019Q2..2020Q1
    assert a["wages_recent_4q"] == 3000 + 0 + 500
    assert a["wages_prior_4q"] == 1000 + 1000 + 3000
    assert a["earnings_trend"] == pytest.approx(2 * (3500 - 5000) / (3500 + 5000))


def test_label_threshold_is_inclusive(crafted):
    f = pr.claim_features(crafted, min_weeks=13)
    assert _row(f, "A1")["long_claim"] == 1               # exactly 13 weeks
    assert _row(pr.claim_features(crafted, min_weeks=14), "A1")["long_claim"] == 0


def test_wage_rows_from_the_filing_quarter_on_do_not_change_features():
    before = pr.claim_features(_database(A_CLAIMS, A_WAGES))
    future = [
        ("900000001", "E3", 2021, 2, 999_999),     # a bigger filing-quarter wage
        ("900000001", "E9", 2021, 2, 5),           # a new employer in the filing quarter
        ("900000001", "E9", 2021, 4, 5),
        ("900000001", "E9", 2023, 1, 123_456),
        ("900000003", "E7", 2021, 2, 40_000),      # C1 is re-employed in the filing quarter
        ("900000003", "E7", 2021, 3, 40_000),
    ]
    kept = [w for w in A_WAGES if (w[2], w[3]) < (2021, 2)]
    after = pr.claim_features(_database(A_CLAIMS, kept + future))
    pd.testing.assert_frame_equal(before, after)


def test_wage_rows_before_filing_do_change_features():
    """The converse, so the test above cannot pass by ignoring wages altogether."""
    changed = [w if (w[2], w[3]) != (2021, 1) else (*w[:4], 4500) for w in A_WAGES]
    a = _row(pr.claim_features(_database(A_CLAIMS, changed)), "A1")
    assert a["wages_last_q"] == 4500


def test_claims_filed_later_do_not_change_features():
    before = pr.claim_features(_database(A_CLAIMS, A_WAGES))
    later = [_claim("A2", "900000001", "2023-08-01"), _claim("E1", "900000005", "2021-05-11"),
             _claim("E2", "900000005", "2021-06-30", eligible=False, weeks=0)]
    after = pr.claim_features(_database(A_CLAIMS + later, A_WAGES))
    after = after[after["claim_id"].isin(before["claim_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after, check_categorical=False)


def test_feature_sql_rejects_bad_threshold():
    with pytest.raises(ValueError, match="min_weeks"):
        pr.feature_sql(min_weeks=0)
    with pytest.raises(ValueError, match="1.5"):
        pr.feature_sql(min_weeks=1.5)


# ------------------------------------------------------------------------------------ temporal split
def _dated(n=40, start="2020-01-01"):
    return pd.DataFrame({"date_filed": pd.date_range(start, periods=n, freq="7D"), "x": range(n)})


def test_temporal_split_boundaries():
    frame = _dated()
    train, test = pr.temporal_split(frame, train_end="2020-03-01", test_start="2020-04-01", test_end="2020-06-01")
    assert train["date_filed"].max() < pd.Timestamp("2020-03-01")
    assert test["date_filed"].min() >= pd.Timestamp("2020-04-01")
    assert test["date_filed"].max() < pd.Timestamp("2020-06-01")
    gap = frame[(frame["date_filed"] >= "2020-03-01") & (frame["date_filed"] < "2020-04-01")]
    assert len(train) + len(test) + len(gap) == len(frame[frame["date_filed"] < "2020-06-01"])
    assert list(train.index) == sorted(train.index)


@settings(max_examples=60, deadline=None)
@given(
    days=st.lists(st.integers(0, 2000), min_size=1, max_size=60),
    cut=st.integers(0, 2000),
    gap=st.integers(0, 400),
)
def test_temporal_split_never_trains_on_the_test_period(days, cut, gap):
    origin = date(2015, 1, 1)
    frame = pd.DataFrame({"date_filed": [origin + timedelta(d) for d in days]})
    train_end, test_start = origin + timedelta(cut), origin + timedelta(cut + gap)
    train, test = pr.temporal_split(frame, train_end=train_end, test_start=test_start)
    if len(train) and len(test):
        assert pd.to_datetime(train["date_filed"]).max() < pd.to_datetime(test["date_filed"]).min()
    assert (pd.to_datetime(train["date_filed"]) < pd.Timestamp(train_end)).all()
    assert (pd.to_datetime(test["date_filed"]) >= pd.Timestamp(test_start)).all()
    assert not set(train.index) & set(test.index)


def test_temporal_split_errors():
    frame = _dated()
    with pytest.raises(ValueError, match="2020-05-01"):
        pr.temporal_split(frame, train_end="2020-05-01", test_start="2020-04-01")
    with pytest.raises(ValueError, match="filed"):
        pr.temporal_split(frame, train_end="2020-03-01", test_start="2020-04-01", date_column="filed")
    with pytest.raises(ValueError, match="test_end"):
        pr.temporal_split(frame, train_end="2020-03-01", test_start="2020-04-01", test_end="2020-04-01")
    with pytest.raises(TypeError, match="20200301"):
        pr.temporal_split(frame, train_end=20200301, test_start="2020-04-01")


# ----------------------------------------------------------------------------------- precision at k
def test_precision_at_k_known_by_construction():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 1])
    scores = np.arange(10, 0, -1)                         # row 0 scores highest
    assert pr.precision_at_k(y, scores, k=3) == 1.0
    assert pr.precision_at_k(y, scores, k=5) == 3 / 5
    assert pr.precision_at_k(y, scores, share=0.2) == 1.0      # floor(0.2 * 10) = 2
    assert pr.precision_at_k(y, scores, share=1.0) == y.mean()
    assert pr.precision_at_k(y, -scores, k=1) == 1.0           # the lowest-scored row is positive


def test_precision_at_k_shares_ties_and_ignores_row_order():
    y = np.array([1, 1, 0, 0])
    scores = np.array([3.0, 2.0, 2.0, 1.0])
    assert pr.precision_at_k(y, scores, k=2) == pytest.approx((1 + 0.5) / 2)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    scores = rng.integers(0, 5, 200).astype(float)        # heavy ties
    order = rng.permutation(200)
    assert pr.precision_at_k(y, scores, k=37) == pytest.approx(pr.precision_at_k(y[order], scores[order], k=37))


@pytest.mark.parametrize(
    "kwargs, match",
    [({}, "exactly one"), ({"k": 2, "share": 0.5}, "exactly one"), ({"k": 0}, "k must"), ({"k": 11}, "k must"),
     ({"share": 0.0}, "share must"), ({"share": 1.5}, "1.5")],
)
def test_precision_at_k_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pr.precision_at_k(np.ones(10), np.arange(10.0), **kwargs)


def test_precision_at_k_rejects_bad_inputs():
    with pytest.raises(ValueError, match="only 0 and 1"):
        pr.precision_at_k([0, 2, 1], [0.1, 0.2, 0.3], k=1)
    with pytest.raises(ValueError, match="same length"):
        pr.precision_at_k([0, 1], [0.1, 0.2, 0.3], k=1)
    with pytest.raises(ValueError, match="NaN"):
        pr.precision_at_k([0, 1], [0.1, np.nan], k=1)


# ------------------------------------------------------------------------------------------ select
def test_select_top_overall_and_per_group():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    groups = np.array(["a"] * 5 + ["b"] * 5)
    overall = pr.select_top(scores, share=0.4)
    assert overall.tolist() == [True] * 4 + [False] * 6
    per_group = pr.select_top(scores, share=0.4, groups=groups)
    assert per_group.tolist() == [True, True, False, False, False, True, True, False, False, False]
    assert pr.select_top(scores, k=2).sum() == 2
    ties = pr.select_top(np.zeros(4), k=2)
    assert ties.tolist() == [True, True, False, False]      # earlier rows first


def test_select_top_missing_group_is_its_own_group():
    sel = pr.select_top([3.0, 2.0, 1.0, 0.0], share=0.5, groups=["a", "a", None, None])
    assert sel.tolist() == [True, False, True, False]


def test_select_top_errors():
    with pytest.raises(ValueError, match="share"):
        pr.select_top([1.0, 2.0], k=1, groups=["a", "b"])
    with pytest.raises(ValueError, match="labels"):
        pr.select_top([1.0, 2.0], share=0.5, groups=["a"])
    with pytest.raises(ValueError, match="NaN"):
        pr.select_top([1.0, np.nan], k=1)


# ------------------------------------------------------------------------------------- calibration
def test_calibration_table_by_construction():
    scores = np.repeat([0.1, 0.5, 0.9], 10)
    y = np.concatenate([np.r_[np.ones(1), np.zeros(9)], np.r_[np.ones(5), np.zeros(5)], np.r_[np.ones(9), np.zeros(1)]])
    table = pr.calibration_table(y, scores, bins=3)
    assert table["bin"].tolist() == [1, 2, 3]
    assert table["claims"].tolist() == [10, 10, 10]
    assert np.allclose(table["mean_predicted"], [0.1, 0.5, 0.9])
    assert np.allclose(table["observed_rate"], [0.1, 0.5, 0.9])
    assert (table["min_score"] <= table["max_score"]).all()


def test_calibration_table_sizes_and_small_inputs():
    rng = np.random.default_rng(1)
    scores = rng.random(103)
    y = (rng.random(103) < scores).astype(int)
    table = pr.calibration_table(y, scores, bins=10)
    assert table["claims"].sum() == 103 and table["claims"].max() - table["claims"].min() <= 1
    assert table["max_score"].is_monotonic_increasing
    assert len(pr.calibration_table([1, 0], [0.2, 0.7], bins=10)) == 2
    with pytest.raises(ValueError, match="bins"):
        pr.calibration_table(y, scores, bins=0)


# ------------------------------------------------------------------------------------ group metrics
def test_group_metrics_by_construction():
    y = np.array([1, 1, 0, 0, 1, 1, 1, 0])
    sel = np.array([1, 0, 1, 0, 1, 1, 0, 0])
    groups = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
    mf = pr.group_metrics(y, sel, groups)
    by = mf.by_group
    assert by.loc["a", "claims"] == 4 and by.loc["b", "claims"] == 4
    assert by.loc["a", "selection_rate"] == 0.5 and by.loc["b", "selection_rate"] == 0.5
    assert by.loc["a", "base_rate"] == 0.5 and by.loc["b", "base_rate"] == 0.75
    assert by.loc["a", "precision"] == 0.5 and by.loc["b", "precision"] == 1.0
    assert by.loc["a", "recall"] == 0.5 and by.loc["b", "recall"] == pytest.approx(2 / 3)
    assert by.loc["a", "false_negative_rate"] == 0.5 and by.loc["b", "false_negative_rate"] == pytest.approx(1 / 3)
    assert by.loc["a", "false_positive_rate"] == 0.5 and by.loc["b", "false_positive_rate"] == 0.0
    pandas_rates = pd.Series(sel).groupby(groups).mean()
    assert np.allclose(by["selection_rate"], pandas_rates)
    assert mf.overall["selection_rate"] == sel.mean()


def test_group_metrics_nobody_selected_and_errors():
    mf = pr.group_metrics([1, 0, 1, 0], [0, 0, 1, 0], ["a", "a", "b", "b"])
    assert mf.by_group.loc["a", "precision"] == 0.0
    assert mf.by_group.loc["a", "selection_rate"] == 0.0
    with pytest.raises(ValueError, match="0/1"):
        pr.group_metrics([1, 2], [0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="same length"):
        pr.group_metrics([1, 0], [0, 1, 1], ["a", "b"])


# ---------------------------------------------------------------------------------------- models
def _toy(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    group = rng.choice(["p", "q"], n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(2 * x + (group == "p"))))).astype(int)
    frame = pd.DataFrame({"x": x, "g": pd.Categorical(group)})
    frame.loc[::17, "x"] = np.nan
    return frame, y


@pytest.mark.parametrize("kind", ["logistic", "boosting"])
def test_make_model_fits_and_ranks(kind):
    from sklearn.metrics import roc_auc_score

    frame, y = _toy()
    model = pr.make_model(kind, numeric=["x"], categorical=["g"]).fit(frame, y)
    scores = model.predict_proba(frame)[:, 1]
    assert ((scores >= 0) & (scores <= 1)).all()
    assert roc_auc_score(y, scores) > 0.7
    unseen = pd.DataFrame({"x": [0.0], "g": pd.Categorical(["r"])})
    assert model.predict_proba(unseen).shape == (1, 2)


def test_make_model_errors():
    with pytest.raises(ValueError, match="forest"):
        pr.make_model("forest")
    with pytest.raises(ValueError, match="empty"):
        pr.make_model("logistic", numeric=[], categorical=[])


def test_feature_lists_are_consistent():
    assert pr.FEATURES == [*pr.NUMERIC_FEATURES, *pr.CATEGORICAL_FEATURES]
    assert "long_claim" not in pr.FEATURES and "weeks_paid" not in pr.FEATURES
    assert pd.Timestamp(pr.TRAIN_END) < pd.Timestamp(pr.TEST_START) < pd.Timestamp(pr.TEST_END)
    assert 0 < pr.CAPACITY < 1


def test_single_thread_matches_the_wrapped_model_and_clones():
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression

    frame, y = _toy()
    x = frame[["x"]].fillna(0.0)
    plain = LogisticRegression().fit(x, y)
    wrapped = pr.SingleThread(LogisticRegression()).fit(x, y)
    assert np.allclose(wrapped.predict_proba(x), plain.predict_proba(x))
    assert (wrapped.predict(x) == plain.predict(x)).all()
    assert list(wrapped.classes_) == [0, 1]
    copy = clone(wrapped)
    assert not hasattr(copy, "estimator_") and copy.get_params()["estimator"].get_params() == plain.get_params()


def test_group_metrics_intersections():
    frame = pd.DataFrame({"sex": ["F", "F", "M", "M"], "band": ["a", "b", "a", "b"]})
    mf = pr.group_metrics([1, 0, 1, 1], [1, 0, 0, 1], frame)
    assert mf.by_group.loc[("F", "a"), "selection_rate"] == 1.0
    assert mf.by_group.loc[("M", "a"), "recall"] == 0.0
    assert len(mf.by_group) == 4
