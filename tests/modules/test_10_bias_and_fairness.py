"""Module 10 (bias and fairness): the audit's numbers, tied to independent computations and the truth.

Runs on the course (default) profile, seeds 20260101 and 7: at a 10% capacity the tiny profile invites about twenty test
claimants, too few to compare groups. Group labels follow the lesson (age bands from the claim's date of
birth; race and ethnicity as reported on the claim).
"""

from __future__ import annotations

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


def test_audit_finds_the_youngest_invited_least_through_the_separation_reason(audit):
    """Step 4: the youngest claimants have the lowest need, the lowest scores and, amplified by the 10% capacity,
    by far the lowest selection rate; they are less often laid off from a closing employer and more often quit.
    Precision stays similar across age groups while recall is lowest for the youngest."""
    test = audit["test"]
    by = pr.group_metrics(test["long_claim"], test["invited"], test["age_group"]).by_group
    young = "24 or younger"
    assert by["base_rate"].idxmin() == young
    assert by["selection_rate"].idxmin() == young
    assert test.groupby("age_group")["score"].mean().idxmin() == young
    # amplification: the selection ratio is far below the base-rate ratio
    sel_ratio = by.loc[young, "selection_rate"] / by["selection_rate"].max()
    need_ratio = by.loc[young, "base_rate"] / by["base_rate"].max()
    assert sel_ratio < 0.8 and sel_ratio < need_ratio - 0.1
    assert by["precision"].max() - by["precision"].min() < 0.1
    assert by["recall"].idxmin() == young
    reasons = pd.crosstab(test["age_group"], test["separation_reason"], normalize="index")
    assert reasons["employer_closed"].idxmin() == young
    assert reasons["quit"].idxmax() == young


def test_no_planted_sex_gap_in_need(audit):
    test = audit["test"]
    rates = test.groupby("sex")["long_claim"].agg(["mean", "size"])
    se = np.sqrt((rates["mean"] * (1 - rates["mean"]) / rates["size"]).sum())
    assert abs(rates.loc["F", "mean"] - rates.loc["M", "mean"]) < 3 * se
    ratio = demographic_parity_ratio(test["long_claim"], test["invited"], sensitive_features=test["sex"])
    assert ratio > 0.8


def test_claim_race_is_the_true_race_when_reported_and_the_wioa_link_covers_few(audit):
    """Step 2: race and ethnicity on the claim are the claimant's own when reported, most claims report it, and
    the claimants who leave it blank resemble the others on what the file records; linking WIOA records would
    cover only a minority of claims, and agrees with the claim where both record race."""
    con = audit["con"]
    both = con.sql("""
        SELECT c.claim_id, c.race_ethnicity AS on_claim, p.race_ethnicity AS truth
        FROM statelab.ui_claim AS c
        JOIN truth.crosswalk AS x ON x.source_table = 'ui_claim' AND x.record_id = c.record_id
        JOIN truth.person AS p ON p.person_id = x.person_id
    """).df()
    answered = both.dropna(subset=["on_claim"])
    assert (answered["on_claim"] == answered["truth"]).all()
    test = audit["test"]
    race = test["claim_id"].map(both.set_index("claim_id")["on_claim"])
    reported = race.notna()
    assert 0.75 < reported.mean() < 0.97
    rates = test.groupby(reported)["long_claim"].agg(["mean", "size"])
    se = np.sqrt((rates["mean"] * (1 - rates["mean"]) / rates["size"]).sum())
    assert abs(rates.loc[True, "mean"] - rates.loc[False, "mean"]) < 3 * se
    linked = con.sql("""
        SELECT c.claim_id, c.race_ethnicity AS on_claim, w.race_ethnicity AS linked
        FROM statelab.ui_claim AS c
        JOIN (SELECT ssn, MIN(race_ethnicity) AS race_ethnicity FROM statelab.wioa GROUP BY ssn) AS w
          ON w.ssn = c.ssn
        WHERE c.program = 'UI' AND c.monetarily_eligible
    """).df()
    eligible = con.sql("SELECT COUNT(*) FROM statelab.ui_claim WHERE program = 'UI' AND monetarily_eligible")
    assert len(linked) / eligible.fetchall()[0][0] < 0.25
    compared = linked.dropna(subset=["on_claim"])
    assert (compared["on_claim"] == compared["linked"]).mean() > 0.99


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
    # recall becomes more even, and precision is lowest for the youngest (step 6)
    single = pr.group_metrics(test["long_claim"], test["invited"], test["age_group"]).by_group
    split = pr.group_metrics(test["long_claim"], per_group, test["age_group"]).by_group
    assert np.ptp(split["recall"]) < np.ptp(single["recall"])
    assert split["precision"].idxmin() == "24 or younger"


def test_unaware_model_keeps_the_age_gap(audit):
    """Practice exercise 2: leaving age and sex out barely moves the selection rates by age group; the gap is
    carried by other features (the separation reason)."""
    train, test = audit["train"], audit["test"]
    numeric = [f for f in pr.NUMERIC_FEATURES if f != "age"]
    categorical = [f for f in pr.CATEGORICAL_FEATURES if f != "sex"]
    unaware = pr.make_model("boosting", numeric=numeric, categorical=categorical)
    unaware.fit(train[numeric + categorical], train["long_claim"])
    invited = pr.select_top(unaware.predict_proba(test[numeric + categorical])[:, 1], share=pr.CAPACITY)
    aware_ratio = demographic_parity_ratio(test["long_claim"], test["invited"], sensitive_features=test["age_group"])
    unaware_ratio = demographic_parity_ratio(test["long_claim"], invited, sensitive_features=test["age_group"])
    assert abs(unaware_ratio - aware_ratio) < 0.1
    rates = pd.Series(invited).groupby(test["age_group"].to_numpy()).mean()
    assert rates.idxmin() == "24 or younger"


def test_capacity_changes_the_disparity(audit):
    """Practice exercise 3: at 10% the age ratio is under four-fifths; at 70% it is higher; at 100% it is 1."""
    test = audit["test"]
    ratio = {share: demographic_parity_ratio(test["long_claim"], pr.select_top(test["score"], share=share),
                                             sensitive_features=test["age_group"])
             for share in (0.1, 0.7, 1.0)}
    assert ratio[0.1] < 0.8 < ratio[1.0] == 1
    assert ratio[0.7] > ratio[0.1]


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


def test_assignment_10_model_answer_holds(audit):
    """Assignment 10's model answer: with the assignment's small model and age split at 40, claimants under 40
    with long claims are missed more often than those 40 and over, and a threshold per age group brings the two
    groups' recall closer."""
    train, test = audit["train"], audit["test"]
    model = pr.make_model("logistic", numeric=["age", "base_period_wages"],
                          categorical=["separation_reason", "education"]).fit(train, train["long_claim"])
    score = model.predict_proba(test)[:, 1]
    group = np.where(test["age"] >= 40, "40 and over", "under 40")
    single = pr.select_top(score, share=pr.CAPACITY)
    split = pr.select_top(score, share=pr.CAPACITY, groups=group)
    need = test["long_claim"].to_numpy() == 1
    recall_single = pd.Series(single[need]).groupby(group[need]).mean()
    recall_split = pd.Series(split[need]).groupby(group[need]).mean()
    assert recall_single["under 40"] < recall_single["40 and over"]
    assert abs(recall_split["under 40"] - recall_split["40 and over"]) < np.ptp(recall_single)
