"""statelab.imputation: each imputation and weight checked against a hand computation or a known answer."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from statelab import imputation


@pytest.fixture()
def frame():
    return pd.DataFrame({
        "group": ["a", "a", "a", "b", "b", "b", "c"],
        "x": [0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 1.0],
        "y": [1.0, 0.0, np.nan, 1.0, 1.0, np.nan, np.nan],
        "earnings": [500.0, 0.0, np.nan, 900.0, 700.0, np.nan, np.nan],
    }, index=[10, 11, 12, 13, 14, 15, 16])


def test_group_mean_fills_with_the_group_mean_and_falls_back_to_the_overall_mean(frame):
    filled = imputation.group_mean_impute(frame, "y", by="group")
    assert filled.loc[12] == pytest.approx(0.5)
    assert filled.loc[15] == pytest.approx(1.0)
    assert filled.loc[16] == pytest.approx(0.75)            # group c has no observed row
    assert filled.loc[[10, 11, 13, 14]].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert frame["y"].isna().sum() == 3                     # the input is not changed


def test_regression_impute_reproduces_a_known_line_and_clips_probabilities():
    x = np.arange(10.0)
    df = pd.DataFrame({"x": x, "y": np.where(x < 8, 3 + 2 * x, np.nan), "g": ["u", "v"] * 5})
    filled = imputation.regression_impute(df, "y", covariates=["x"])
    assert filled.iloc[8] == pytest.approx(19.0) and filled.iloc[9] == pytest.approx(21.0)
    binary = pd.DataFrame({"x": x, "y": np.where(x < 8, (x > 3).astype(float), np.nan)})
    filled = imputation.regression_impute(binary, "y", covariates=["x"])
    assert filled.between(0, 1).all() and filled.iloc[9] == 1.0
    # text covariates become indicators: the group means of y
    df2 = pd.DataFrame({"g": ["u", "u", "v", "v", "u", "v"], "y": [1.0, 3.0, 10.0, 12.0, np.nan, np.nan]})
    assert imputation.regression_impute(df2, "y", covariates=["g"]).iloc[4:].tolist() == pytest.approx([2, 11])


def test_regression_impute_rejects_missing_covariates(frame):
    with pytest.raises(ValueError, match="observed for every row"):
        imputation.regression_impute(frame.assign(x=[np.nan] + [1.0] * 6), "y", covariates=["x"])


def test_hot_deck_donates_whole_rows_from_the_same_cell_and_is_reproducible(frame):
    out = imputation.hot_deck_impute(frame, ["y", "earnings"], cells="group", seed=3)
    assert out["donor"].loc[12] in (10, 11) and out["donor"].loc[15] in (13, 14)
    for row in (12, 15, 16):                                 # the donor's values, together
        donor = out["donor"].loc[row]
        assert out.loc[row, ["y", "earnings"]].tolist() == frame.loc[donor, ["y", "earnings"]].tolist()
    assert out["donor"].loc[16] in (10, 11, 13, 14)          # no donor in its cell: any observed row
    assert (out["donor"].loc[[10, 11, 13, 14]] == [10, 11, 13, 14]).all()
    pd.testing.assert_frame_equal(out, imputation.hot_deck_impute(frame, ["y", "earnings"], cells="group", seed=3))


def test_hot_deck_draws_donors_in_proportion():
    df = pd.DataFrame({"cell": ["k"] * 4 + ["k"] * 4000, "y": [0.0, 0.0, 0.0, 1.0] + [np.nan] * 4000})
    out = imputation.hot_deck_impute(df, "y", cells="cell", seed=1)
    assert out["y"].iloc[4:].mean() == pytest.approx(0.25, abs=0.03)


def test_hot_deck_rejects_a_bad_seed(frame):
    with pytest.raises(ValueError, match="seed"):
        imputation.hot_deck_impute(frame, "y", cells="group", seed=-1)


def test_weighted_rate_without_weights_is_the_wilson_interval():
    y = [1] * 30 + [0] * 12
    got = imputation.weighted_rate(y)
    low, high = proportion_confint(30, 42, method="wilson")
    assert got["rate"] == pytest.approx(30 / 42)
    assert (got["low"], got["high"]) == pytest.approx((low, high))
    assert got["effective_n"] == pytest.approx(42)


def test_weighted_rate_and_effective_size_with_unequal_weights():
    y = np.array([1, 0, 1, 1])
    w = np.array([1.0, 3.0, 1.0, 1.0])
    got = imputation.weighted_rate(y, w)
    assert got["rate"] == pytest.approx(3 / 6)
    assert got["effective_n"] == pytest.approx(36 / 12)
    assert imputation.effective_sample_size(w) == pytest.approx(3.0)
    assert imputation.effective_sample_size(np.ones(7)) == pytest.approx(7.0)
    # fewer effective rows, wider interval
    wide = imputation.weighted_rate([1] * 20 + [0] * 20, [5.0] + [1.0] * 39)
    narrow = imputation.weighted_rate([1] * 20 + [0] * 20)
    assert wide["high"] - wide["low"] > narrow["high"] - narrow["low"]


def test_weighted_rate_leaves_out_missing_and_rejects_bad_input():
    assert imputation.weighted_rate(pd.Series([1.0, np.nan, 0.0]))["n"] == 2
    with pytest.raises(ValueError, match="0/1"):
        imputation.weighted_rate([2.0, 0.0])
    with pytest.raises(ValueError, match="non-negative"):
        imputation.weighted_rate([1, 0], [1.0, -1.0])
    with pytest.raises(ValueError, match="confidence"):
        imputation.weighted_rate([1, 0], confidence=95)


def test_weighted_median():
    assert imputation.weighted_median([5.0, 1.0, 3.0]) == 3.0
    assert imputation.weighted_median([1.0, 2.0, 3.0, 4.0]) == 2.0       # the lower middle value
    assert imputation.weighted_median([1.0, 2.0, 3.0], [1.0, 1.0, 10.0]) == 3.0
    assert imputation.weighted_median(pd.Series([np.nan, 7.0])) == 7.0


def test_nonresponse_weights_undo_a_known_selection():
    rng = np.random.default_rng(0)
    n = 20_000
    group = rng.choice(["low", "high"], size=n)
    y = np.where(group == "high", rng.random(n) < 0.9, rng.random(n) < 0.3).astype(float)
    seen = rng.random(n) < np.where(group == "high", 0.9, 0.4)        # missing at random given the group
    df = pd.DataFrame({"group": group, "linked": seen})
    w = imputation.nonresponse_weights(df, observed="linked", covariates=["group"])
    assert w.index.equals(df.index[seen])
    assert w.sum() == pytest.approx(n, rel=0.02)
    complete = y[seen].mean()
    weighted = imputation.weighted_rate(y[seen], w)["rate"]
    assert abs(complete - y.mean()) > 0.05                               # complete cases are biased
    assert weighted == pytest.approx(y.mean(), abs=0.015)                # the weights remove it


def test_errors_name_the_column():
    with pytest.raises(ValueError, match="no column"):
        imputation.group_mean_impute(pd.DataFrame({"y": [1.0]}), "y", by="missing_column")
    with pytest.raises(TypeError, match="DataFrame"):
        imputation.group_mean_impute([1, 2], "y", by="g")
