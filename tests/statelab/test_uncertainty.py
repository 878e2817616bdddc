"""statelab.uncertainty: intervals for rates and growth rates, and rankings corrected for many comparisons."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from statelab import measures, uncertainty


def test_rate_interval_is_the_wilson_interval():
    k = pd.Series([0, 3, 40, 0], index=list("abcd"))
    n = pd.Series([10, 12, 50, 0], index=list("abcd"))
    out = uncertainty.rate_interval(k, n)
    low, high = proportion_confint(k[:3], n[:3], alpha=0.05, method="wilson")
    np.testing.assert_allclose(out.loc[["a", "b", "c"], "ci_low"], low)
    np.testing.assert_allclose(out.loc[["a", "b", "c"], "ci_high"], high)
    assert out.loc["a", "ci_low"] == 0 and out.loc["a", "ci_high"] > 0.2     # zero of ten is not "never"
    assert out.loc["d"].isna()[["rate", "ci_low", "ci_high"]].all()
    assert list(out.index) == list("abcd")
    assert (uncertainty.rate_interval(k[:3], n[:3], alpha=0.01)["ci_high"] >= out.loc[["a", "b", "c"], "ci_high"]).all()
    with pytest.raises(ValueError, match="between 0 and trials"):
        uncertainty.rate_interval([5], [4])
    with pytest.raises(ValueError, match="alpha"):
        uncertainty.rate_interval([1], [4], alpha=1.5)


def test_growth_rate_interval():
    rng = np.random.default_rng(0)
    before = rng.poisson(20, 300).astype(float)
    now = np.maximum(before + rng.normal(2, 4, 300).round(), 0)
    groups = np.where(np.arange(300) < 200, "big", "small")
    out = uncertainty.growth_rate_interval(now, before, groups)
    for g in ("big", "small"):
        m = groups == g
        assert out.loc[g, "growth_rate"] == pytest.approx(
            float(np.asarray(measures.growth_rate(pd.Series([now[m].sum()]), pd.Series([before[m].sum()])))[0]))
        # the delta-method SE against the spread over resampled employers
        draws = [rng.choice(np.flatnonzero(m), m.sum()) for _ in range(2000)]
        boot = [2 * (now[d].sum() - before[d].sum()) / (now[d].sum() + before[d].sum()) for d in draws]
        assert 0.85 < out.loc[g, "std_error"] / np.std(boot) < 1.15
    assert out.loc["big", "std_error"] < out.loc["small", "std_error"]
    one = uncertainty.growth_rate_interval([5], [3], ["only"])
    assert np.isnan(one.loc["only", "std_error"]) and one.loc["only", "growth_rate"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="non-negative"):
        uncertainty.growth_rate_interval([-1, 2], [1, 2], ["a", "a"])


def test_rank_with_uncertainty_adjusts_for_many_units():
    est = pd.Series([0.30, 0.52, 0.50, 0.49, 0.70], index=list("vwxyz"))
    se = pd.Series([0.05, 0.05, 0.05, 0.05, 0.05], index=est.index)
    out = uncertainty.rank_with_uncertainty(est, se, reference=0.5)
    assert list(out.index) == ["z", "w", "x", "y", "v"] and list(out["rank"]) == [1, 2, 3, 4, 5]
    p = 2 * (1 - __import__("scipy").stats.norm.cdf((est - 0.5).abs() / se))
    np.testing.assert_allclose(out.loc[est.index, "p_value"], p)
    np.testing.assert_allclose(out.loc[est.index, "p_adjusted"], multipletests(p, method="holm")[1])
    assert set(out.index[out["differs"]]) == {"v", "z"}
    assert ((out["simultaneous_high"] - out["simultaneous_low"]) > 2 * 1.96 * out["std_error"]).all()
    # shrinkage pulls toward the reference, more for the noisier unit, and never past it
    se2 = se.copy()
    se2["z"] = 0.2
    shrunk = uncertainty.rank_with_uncertainty(est, se2, reference=0.5)["shrunk"]
    assert 0.5 < shrunk["z"] < 0.7 and (shrunk["z"] - 0.5) / 0.2 < (shrunk["w"] - 0.5) / 0.02 + 1


def test_rank_with_uncertainty_shrinks_pure_noise_to_the_reference():
    rng = np.random.default_rng(1)
    se = pd.Series(np.full(38, 0.05), index=[f"c{i}" for i in range(38)])
    est = pd.Series(0.6 + rng.normal(0, 0.04, 38), index=se.index)     # spread below the noise: no real differences
    out = uncertainty.rank_with_uncertainty(est, se)
    assert np.allclose(out["shrunk"], out["shrunk"].iloc[0])
    assert not out["differs"].any()


def test_rank_with_uncertainty_refuses_bad_input():
    est = pd.Series([1.0, 2.0], index=["a", "b"])
    with pytest.raises(ValueError, match="positive standard error"):
        uncertainty.rank_with_uncertainty(est, pd.Series([0.1, 0.0], index=est.index))
    with pytest.raises(ValueError, match="method"):
        uncertainty.rank_with_uncertainty(est, est, method="tukey")
    with pytest.raises(TypeError, match="Series"):
        uncertainty.rank_with_uncertainty([1.0, 2.0], est)


def test_group_rate_intervals_match_the_definitions():
    y = np.array([1, 1, 0, 0, 1, 0, 1, 1, 0, 0])
    s = np.array([1, 0, 1, 0, 1, 0, 0, 1, 0, 0]).astype(bool)
    g = np.array(["a"] * 6 + ["b"] * 4)
    out = uncertainty.group_rate_intervals(y, s, g)
    assert out.loc["a", "claims"] == 6 and out.loc["a", "base_rate"] == pytest.approx(3 / 6)
    assert out.loc["a", "selection_rate"] == pytest.approx(3 / 6)
    assert out.loc["a", "recall"] == pytest.approx(2 / 3) and out.loc["a", "precision"] == pytest.approx(2 / 3)
    assert out.loc["b", "recall"] == pytest.approx(1 / 2) and out.loc["b", "precision"] == pytest.approx(1.0)
    low, high = proportion_confint(2, 3, method="wilson")
    assert (out.loc["a", "recall_low"], out.loc["a", "recall_high"]) == pytest.approx((low, high))


def test_rate_difference_and_detectable_difference():
    d = uncertainty.rate_difference(30, 100, 20, 100)
    assert d["difference"] == pytest.approx(0.1) and d["ci_low"] < 0.1 < d["ci_high"]
    assert d["ci_low"] < 0                                   # 30% vs 20% of 100 each: not distinguishable
    big = uncertainty.rate_difference(3000, 10000, 2000, 10000)
    assert big["ci_low"] > 0
    mdd = uncertainty.detectable_difference(100, 100, rate=0.25)
    assert mdd == pytest.approx(2.8016 * np.sqrt(0.25 * 0.75 * 0.02), rel=1e-3)
    assert uncertainty.detectable_difference(400, 400, rate=0.25) == pytest.approx(mdd / 2)
    # a simulation at the detectable gap detects it about 80% of the time
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(400):
        a, b = rng.binomial(100, 0.25 + mdd), rng.binomial(100, 0.25)
        hits += uncertainty.rate_difference(a, 100, b, 100)["ci_low"] > 0
    assert 0.7 < hits / 400 < 0.9
    with pytest.raises(ValueError, match="power"):
        uncertainty.detectable_difference(10, 10, rate=0.2, power=1.2)
