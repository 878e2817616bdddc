"""Module 9 (machine learning): the lesson's results, tied to the data and to the planted truth.

Runs on the course (default) profile: the tiny profile's test period has about two hundred claims, too
few to compare rankings at a 10% capacity. Every expectation is computed here, independently of the
notebook's wording; nothing is pasted from a run.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import synthetic_data as sd
from statelab import prediction as pr


@pytest.fixture(scope="module")
def course(course_dataset):
    con = sd.connect(course_dataset, truth=True)
    claims = pr.claim_features(con)
    train, test = pr.temporal_split(claims, train_end=pr.TRAIN_END, test_start=pr.TEST_START, test_end=pr.TEST_END)
    boosting = pr.make_model("boosting").fit(train[pr.FEATURES], train["long_claim"])
    small = pr.make_model("logistic", numeric=["age", "base_period_wages"], categorical=["separation_reason"])
    small.fit(train, train["long_claim"])
    logistic = pr.make_model("logistic").fit(train[pr.FEATURES], train["long_claim"])
    test = test.assign(
        score_boosting=boosting.predict_proba(test[pr.FEATURES])[:, 1],
        score_small=small.predict_proba(test)[:, 1],
        score_logistic=logistic.predict_proba(test[pr.FEATURES])[:, 1],
    )
    params = dict(con.sql("SELECT name, value FROM truth.parameters").fetchall())
    yield {"con": con, "claims": claims, "train": train, "test": test, "boosting": boosting,
           "params": {k: json.loads(v) for k, v in params.items()}}
    con.close()


def _raw_claims(con) -> pd.DataFrame:
    frame = con.sql(
        "SELECT claim_id, date_filed, benefit_year_start, monetarily_eligible, weeks_paid FROM statelab.ui_claim"
    ).df()
    frame["date_filed"] = pd.to_datetime(frame["date_filed"])
    frame["benefit_year_start"] = pd.to_datetime(frame["benefit_year_start"])
    return frame


def test_label_rate_equals_an_independent_count(course):
    raw = _raw_claims(course["con"])
    in_test = (raw["date_filed"] >= pr.TEST_START) & (raw["date_filed"] < pr.TEST_END) & raw["monetarily_eligible"]
    expected = (raw.loc[in_test, "weeks_paid"] >= 13).mean()
    assert len(course["test"]) == int(in_test.sum())
    assert course["test"]["long_claim"].mean() == pytest.approx(expected, abs=1e-12)
    assert len(course["claims"]) == int(raw["monetarily_eligible"].sum())


def test_split_keeps_training_claims_in_the_past(course):
    train, test = course["train"], course["test"]
    assert train["date_filed"].max() < pd.Timestamp(pr.TRAIN_END) <= pd.Timestamp(pr.TEST_START)
    assert test["date_filed"].min() >= pd.Timestamp(pr.TEST_START)
    assert test["date_filed"].max() < pd.Timestamp(pr.TEST_END)
    assert not set(train["claim_id"]) & set(test["claim_id"])


def test_split_dates_respect_the_generators_censoring(course):
    """Weeks certifiable by a date follow the generator's rule ((date - benefit year start - 13 days) // 7):
    every test label is complete at the extract date, and every training label was known at TEST_START."""
    raw = _raw_claims(course["con"]).set_index("claim_id")
    reference = pd.Timestamp(course["params"]["window.reference_date"])
    by_start_test = raw.loc[course["test"]["claim_id"], "benefit_year_start"]
    assert (((reference - by_start_test).dt.days - 13) // 7 >= pr.LONG_CLAIM_WEEKS).all()
    by_start_train = raw.loc[course["train"]["claim_id"], "benefit_year_start"]
    assert (((pd.Timestamp(pr.TEST_START) - by_start_train).dt.days - 13) // 7 >= pr.LONG_CLAIM_WEEKS).all()
    # and the censoring the lesson shows is real: the file's last quarter looks short
    last_q = course["claims"]["date_filed"] >= course["claims"]["date_filed"].max() - pd.Timedelta(days=60)
    assert course["claims"].loc[last_q, "long_claim"].mean() < course["test"]["long_claim"].mean() / 2


def test_model_beats_base_rate_and_the_baselines(course):
    test = course["test"]
    y = test["long_claim"]
    base_rate = y.mean()
    p_boost = pr.precision_at_k(y, test["score_boosting"], share=pr.CAPACITY)
    p_small = pr.precision_at_k(y, test["score_small"], share=pr.CAPACITY)
    p_wages = pr.precision_at_k(y, test["base_period_wages"], share=pr.CAPACITY)
    se = np.sqrt(base_rate * (1 - base_rate) / int(pr.CAPACITY * len(test)))
    assert p_boost > base_rate + 3 * se
    assert p_boost > p_wages
    assert p_small > base_rate + 3 * se
    # the lesson's reading of the table: the wage rule is no better than random, and the full models rank
    # better overall (ROC AUC) than the three-feature model
    assert p_wages <= base_rate
    auc_small = roc_auc_score(y, test["score_small"])
    assert roc_auc_score(y, test["score_boosting"]) > auc_small
    assert roc_auc_score(y, test["score_logistic"]) > auc_small


def test_boosting_is_calibrated_on_the_test_period(course):
    test = course["test"]
    table = pr.calibration_table(test["long_claim"], test["score_boosting"], bins=10)
    se = np.sqrt(table["observed_rate"] * (1 - table["observed_rate"]) / table["claims"])
    assert ((table["observed_rate"] - table["mean_predicted"]).abs() < 4 * se + 0.02).all()
    assert abs(test["score_boosting"].mean() - test["long_claim"].mean()) < 0.03


def test_features_ignore_wage_records_from_the_filing_quarter_on(course):
    """Shadow ui_wage in the workspace with wages changed from 2024 on. Claims filed up to 2024Q1 keep
    every feature (for those filed in 2024Q1 the changed quarter is their filing quarter); claims filed
    later change, so the check is not vacuous."""
    con = course["con"]
    con.sql("""
        CREATE OR REPLACE TABLE ui_wage AS
        SELECT * REPLACE (CASE WHEN year >= 2024 THEN wages * 10 + 1 ELSE wages END AS wages)
        FROM statelab.ui_wage
    """)
    try:
        changed = pr.claim_features(con)
    finally:
        con.sql("DROP TABLE ui_wage")
    original = course["claims"]
    early = original["date_filed"] < pd.Timestamp("2024-04-01")
    assert (original.loc[early, "date_filed"] >= pd.Timestamp("2024-01-01")).sum() > 100
    pd.testing.assert_frame_equal(original[early], changed[early])
    late = original["date_filed"] >= pd.Timestamp("2024-04-01")
    assert (original.loc[late, "wages_last_q"] != changed.loc[late, "wages_last_q"]).mean() > 0.5


def test_model_follows_the_planted_reemployment_rates(course):
    """Claimants in the education group with the lowest planted job-finding rate score higher, and have
    longer claims, than the group with the highest; claimants 55 and over (planted slower re-employment)
    score higher than prime-age claimants."""
    test, params = course["test"], course["params"]
    rates = {k.rsplit(".", 1)[1]: v for k, v in params.items() if k.startswith("labor.find_rate_by_education.")}
    slowest, fastest = min(rates, key=rates.get), max(rates, key=rates.get)
    by_edu = test.groupby("education", observed=True).agg(score=("score_boosting", "mean"), rate=("long_claim", "mean"))
    assert by_edu.loc[slowest, "score"] > by_edu.loc[fastest, "score"]
    assert by_edu.loc[slowest, "rate"] > by_edu.loc[fastest, "rate"]
    older = test["age"] >= 55
    prime = test["age"].between(25, 54)
    assert test.loc[older, "score_boosting"].mean() > test.loc[prime, "score_boosting"].mean()
    assert test.loc[older, "long_claim"].mean() > test.loc[prime, "long_claim"].mean()


def test_recession_claims_are_long_more_often(course):
    start = course["params"]["recession.start"]                    # e.g. "2020Q2"
    quarters = int(course["params"]["recession.quarters"])
    first = pd.Period(start, freq="Q")
    claims = course["claims"]
    period = claims["date_filed"].dt.to_period("Q")
    during = (period >= first) & (period < first + quarters)
    before = claims["date_filed"] < first.start_time
    assert claims.loc[during, "long_claim"].mean() > claims.loc[before, "long_claim"].mean()


def test_separation_reason_dominates_importance(course):
    from sklearn.inspection import permutation_importance

    test = course["test"]
    result = permutation_importance(course["boosting"], test[pr.FEATURES], test["long_claim"], scoring="roc_auc",
                                    n_repeats=3, random_state=0)
    ranked = pd.Series(result.importances_mean, index=pr.FEATURES).sort_values(ascending=False)
    assert ranked.index[0] == "separation_reason"
    assert ranked.iloc[0] > 3 * ranked.iloc[1]
