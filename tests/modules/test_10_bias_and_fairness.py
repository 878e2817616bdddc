"""Module 10 (bias and fairness): the audit's numbers, tied to independent computations and the truth.

Runs on the course (default) profile, seeds 20260101 and 7: at a 10% capacity the tiny profile invites about twenty test
claimants, too few to compare groups. Group labels follow the lesson (age bands from the claim's date of
birth; race and ethnicity linked from WIOA records on SSN).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_ratio

import synthetic_data as sd
from statelab import prediction as pr

AGE_BINS = [0, 25, 40, 55, 200]
AGE_LABELS = ["24 or younger", "25-39", "40-54", "55 and over"]


@pytest.fixture(scope="module", params=[sd.DEFAULT_SEED, 7], ids=lambda s: f"seed{s}")
def audit(request, course_dataset_at):
    """The lesson's audit on the course seed and on seed 7 (its claims about the data must hold on both)."""
    con = sd.connect(course_dataset_at(request.param), truth=True)
    claims = pr.claim_features(con)
    train, test = pr.temporal_split(claims, train_end=pr.TRAIN_END, test_start=pr.TEST_START, test_end=pr.TEST_END)
    model = pr.make_model("boosting").fit(train[pr.FEATURES], train["long_claim"])
    test = test.assign(score=model.predict_proba(test[pr.FEATURES])[:, 1])
    test["invited"] = pr.select_top(test["score"], share=pr.CAPACITY)
    test["age_group"] = pd.cut(test["age"], bins=AGE_BINS, right=False, labels=AGE_LABELS).astype("string")
    yield {"con": con, "train": train, "test": test}
    con.close()


@pytest.mark.parametrize("group", ["sex", "age_group", "education"])
def test_group_rates_equal_an_independent_pandas_computation(audit, group):
    test = audit["test"]
    by = pr.group_metrics(test["long_claim"], test["invited"], test[group]).by_group
    g = test.groupby(group, observed=True)
    expected = pd.DataFrame({
        "claims": g.size(),
        "base_rate": g["long_claim"].mean(),
        "selection_rate": g["invited"].mean(),
        "recall": g.apply(lambda d: d.loc[d["long_claim"] == 1, "invited"].mean(), include_groups=False),
        "precision": g.apply(lambda d: d.loc[d["invited"], "long_claim"].mean(), include_groups=False),
    })
    got = by.loc[expected.index, expected.columns].astype(float)
    np.testing.assert_allclose(got.to_numpy(), expected.astype(float).to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(by["false_negative_rate"], 1 - by["recall"], atol=1e-12)


def test_claim_sex_is_the_true_sex(audit):
    mismatches = audit["con"].sql("""
        SELECT COUNT(*) FROM statelab.ui_claim AS c
        JOIN truth.crosswalk AS x ON x.source_table = 'ui_claim' AND x.record_id = c.record_id
        JOIN truth.person AS p ON p.person_id = x.person_id
        WHERE c.sex <> p.sex
    """).fetchall()[0][0]
    assert mismatches == 0


def test_audit_detects_the_planted_age_gap(audit):
    """The generator slows re-employment from age 55 (a lower job-finding rate): the audit shows the
    highest need and, amplified by the 10% capacity, by far the highest selection rate for 55 and over."""
    test = audit["test"]
    by = pr.group_metrics(test["long_claim"], test["invited"], test["age_group"]).by_group
    assert by["base_rate"].idxmax() == "55 and over"
    assert by["selection_rate"].idxmax() == "55 and over"
    prime = ["25-39", "40-54"]
    # amplification: the selection ratio is far larger than the base-rate ratio
    sel_ratio = by.loc["55 and over", "selection_rate"] / by.loc[prime, "selection_rate"].max()
    need_ratio = by.loc["55 and over", "base_rate"] / by.loc[prime, "base_rate"].min()
    assert sel_ratio > 2 * need_ratio
    # precision stays similar while recall does not (the lesson's reading)
    assert by["precision"].max() - by["precision"].min() < 0.1
    # the model is right that risk differs: the oldest group has the highest mean score
    assert test.groupby("age_group")["score"].mean().idxmax() == "55 and over"
    assert by.loc["55 and over", "recall"] > 3 * by.loc[prime, "recall"].max()


def test_no_planted_sex_gap_in_need(audit):
    test = audit["test"]
    rates = test.groupby("sex")["long_claim"].agg(["mean", "size"])
    se = np.sqrt((rates["mean"] * (1 - rates["mean"]) / rates["size"]).sum())
    assert abs(rates.loc["F", "mean"] - rates.loc["M", "mean"]) < 3 * se
    ratio = demographic_parity_ratio(test["long_claim"], test["invited"], sensitive_features=test["sex"])
    assert ratio > 0.8


def test_wioa_link_gives_the_true_race_for_a_minority_of_claims(audit):
    con = audit["con"]
    linked = con.sql("""
        SELECT c.claim_id, MIN(w.race_ethnicity) AS race_linked
        FROM statelab.ui_claim AS c JOIN statelab.wioa AS w ON w.ssn = c.ssn
        GROUP BY c.claim_id
    """).df()
    truth = con.sql("""
        SELECT c.claim_id, p.race_ethnicity AS race_truth
        FROM statelab.ui_claim AS c
        JOIN truth.crosswalk AS x ON x.source_table = 'ui_claim' AND x.record_id = c.record_id
        JOIN truth.person AS p ON p.person_id = x.person_id
    """).df()
    both = linked.merge(truth, on="claim_id")
    assert (both["race_linked"] == both["race_truth"]).mean() > 0.99
    test = audit["test"]
    share = test["claim_id"].isin(linked["claim_id"]).mean()
    assert 0 < share < 0.5


def test_per_group_thresholds_equalise_selection_at_a_small_cost(audit):
    test = audit["test"]
    per_group = pr.select_top(test["score"], share=pr.CAPACITY, groups=test["age_group"])
    sizes = test["age_group"].value_counts()
    rates = pd.Series(per_group).groupby(test["age_group"].to_numpy()).mean()
    assert (rates - pr.CAPACITY).abs().max() <= 1 / sizes.min()
    one = test.loc[test["invited"], "long_claim"].mean()
    each = test.loc[per_group, "long_claim"].mean()
    assert each < one
    assert one - each < 0.05


def test_unaware_model_narrows_the_age_gap(audit):
    train, test = audit["train"], audit["test"]
    numeric = [f for f in pr.NUMERIC_FEATURES if f != "age"]
    categorical = [f for f in pr.CATEGORICAL_FEATURES if f != "sex"]
    unaware = pr.make_model("boosting", numeric=numeric, categorical=categorical)
    unaware.fit(train[numeric + categorical], train["long_claim"])
    invited = pr.select_top(unaware.predict_proba(test[numeric + categorical])[:, 1], share=pr.CAPACITY)
    aware_ratio = demographic_parity_ratio(test["long_claim"], test["invited"], sensitive_features=test["age_group"])
    unaware_ratio = demographic_parity_ratio(test["long_claim"], invited, sensitive_features=test["age_group"])
    assert unaware_ratio > aware_ratio + 0.3


def test_disparity_shrinks_as_capacity_grows(audit):
    test = audit["test"]
    ratios = [
        demographic_parity_ratio(test["long_claim"], pr.select_top(test["score"], share=share),
                                 sensitive_features=test["age_group"])
        for share in (0.05, 0.1, 0.2, 0.3, 0.5, 0.7)
    ]
    assert all(a < b for a, b in pairwise(ratios))


def test_audit_intervals_cover_the_rates_and_size_limits_what_can_be_seen(audit):
    """The lesson's intervals: each covers its rate, and the gap groups of this size can detect is larger for
    the small linked groups than for the sexes."""
    from statelab import uncertainty

    test = audit["test"]
    by = uncertainty.group_rate_intervals(test["long_claim"], test["invited"], test["sex"])
    assert ((by["selection_rate_low"] <= by["selection_rate"]) & (by["selection_rate"] <= by["selection_rate_high"])).all()
    sizes = test["sex"].value_counts()
    sex_mdd = uncertainty.detectable_difference(sizes.iloc[0], sizes.iloc[1], rate=test["invited"].mean())
    small_mdd = uncertainty.detectable_difference(50, 50, rate=test["invited"].mean())
    assert sex_mdd < small_mdd
