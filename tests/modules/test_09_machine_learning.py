"""Module 9 (machine learning): the lesson's statements about the data, tied to the data and to the truth.

Runs on the course (default) profile at the course seed and at seed 7 (the tiny profile's test period has
about two hundred claims, too few to compare rankings at a 10% capacity). Every expectation is computed
here, independently of the notebook's wording; nothing is pasted from a run. Each test names the statement
of the lesson or practice notebook it checks.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import synthetic_data as sd
from statelab import prediction as pr

SEEDS = [sd.DEFAULT_SEED, 7]


@pytest.fixture(scope="module", params=SEEDS, ids=lambda s: f"seed{s}")
def course(request, course_dataset_at):
    con = sd.connect(course_dataset_at(request.param), truth=True)
    claims = pr.claim_features(con)
    train, test = pr.temporal_split(claims, train_end=pr.TRAIN_END, test_start=pr.TEST_START, test_end=pr.TEST_END)
    boosting = pr.make_model("boosting").fit(train[pr.FEATURES], train["long_claim"])
    logistic = pr.make_model("logistic").fit(train[pr.FEATURES], train["long_claim"])
    reason_rate = train.groupby("separation_reason", observed=True)["long_claim"].mean()
    test = test.assign(
        score_boosting=boosting.predict_proba(test[pr.FEATURES])[:, 1],
        score_logistic=logistic.predict_proba(test[pr.FEATURES])[:, 1],
        reason_rule=test["separation_reason"].map(reason_rate).astype(float),
    )
    params = dict(con.sql("SELECT name, value FROM truth.parameters").fetchall())
    yield {"con": con, "claims": claims, "train": train, "test": test, "boosting": boosting,
           "params": {k: json.loads(v) for k, v in params.items()}}
    con.close()


def _raw_claims(con) -> pd.DataFrame:
    frame = con.sql("""
        SELECT claim_id, program, date_filed, benefit_year_start, monetarily_eligible, separation_reason,
               weeks_paid
        FROM statelab.ui_claim
    """).df()
    frame["date_filed"] = pd.to_datetime(frame["date_filed"])
    frame["benefit_year_start"] = pd.to_datetime(frame["benefit_year_start"])
    return frame


def _se(rate: float, n: int) -> float:
    return float(np.sqrt(rate * (1 - rate) / n))


# ------------------------------------------------------------------------------ the label (step 1)
def test_label_rate_equals_an_independent_count(course):
    raw = _raw_claims(course["con"])
    eligible = raw["monetarily_eligible"] & (raw["program"] == "UI")
    in_test = (raw["date_filed"] >= pr.TEST_START) & (raw["date_filed"] < pr.TEST_END) & eligible
    assert len(course["test"]) == int(in_test.sum())
    assert course["test"]["long_claim"].mean() == pytest.approx((raw.loc[in_test, "weeks_paid"] >= 13).mean(),
                                                                abs=1e-12)
    assert len(course["claims"]) == int(eligible.sum())


def test_pua_claims_are_never_eligible_and_weeks_paid_counts_regular_weeks(course):
    """Step 1: 'PUA claims are never monetarily eligible for state UI' and 'weeks_paid counts regular weeks
    only'; extension weeks exist and belong to claims filed around 2020."""
    con = course["con"]
    raw = _raw_claims(con)
    pua = raw[raw["program"] == "PUA"]
    assert len(pua) > 0 and not pua["monetarily_eligible"].any()
    weeks = con.sql("SELECT claim_id, program FROM statelab.ui_claim_week").df()
    regular = weeks[weeks["program"] == "UI"].groupby("claim_id").size()
    ui = raw[raw["program"] == "UI"].set_index("claim_id")
    counted = regular.reindex(ui.index, fill_value=0)
    assert (counted == ui["weeks_paid"]).all()
    extended = set(weeks.loc[weeks["program"].isin(["PEUC", "EB"]), "claim_id"])
    eligible = ui[ui["monetarily_eligible"]]
    share = eligible.index.isin(extended)
    by_year = pd.Series(share, index=eligible["date_filed"].dt.year).groupby(level=0).mean()
    assert by_year.idxmax() == 2020 and by_year.loc[2020] > 0.2
    assert by_year.loc[2022:].max() == 0


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
    assert course["claims"].loc[last_q, "long_claim"].mean() < course["test"]["long_claim"].mean() * 0.85


def test_censoring_follows_the_last_paid_week(course):
    """Practice exercise 1: a claim needs a waiting week and 13 paid weeks, so one whose benefit year (starting on
    a Sunday) began fewer than 14 weeks less a day (97 days) before the last paid week (a Saturday) in the file
    cannot be long; claims with more time can."""
    con = course["con"]
    last_week = pd.Timestamp(con.sql("SELECT MAX(week_ending_date) FROM statelab.ui_claim_week").fetchall()[0][0])
    raw = _raw_claims(con)
    raw = raw[(raw["program"] == "UI") & raw["monetarily_eligible"]]
    days_left = (last_week - raw["benefit_year_start"]).dt.days
    assert (raw.loc[days_left < 7 * 14 - 1, "weeks_paid"] < 13).all()
    assert (raw.loc[days_left.between(7 * 15, 7 * 30), "weeks_paid"] >= 13).mean() > 0.25


def test_claims_filed_in_2020_were_long_more_often_and_recalls_took_months(course):
    """Step 1: claims filed in the 2020 shock were long more often than in 2015-2019; many were temporary
    layoffs recalled by the last employer months later (paid 13 weeks or more, then back at the same account)."""
    con = course["con"]
    claims = course["claims"]
    year = claims["date_filed"].dt.year
    assert claims.loc[year == 2020, "long_claim"].mean() > claims.loc[year.between(2015, 2019), "long_claim"].mean() + 0.1
    recalls = con.sql("""
        WITH c AS (
            SELECT claim_id, ssn, last_employer_ui_account AS account, weeks_paid,
                   CAST(EXTRACT(YEAR FROM date_filed) AS INTEGER) AS year,
                   EXTRACT(YEAR FROM date_filed) * 4 + EXTRACT(QUARTER FROM date_filed) - 1 AS q
            FROM statelab.ui_claim
            WHERE program = 'UI' AND monetarily_eligible AND separation_reason = 'lack_of_work'
        ),
        back AS (
            SELECT c.claim_id, MAX(CASE WHEN w.ui_account = c.account THEN 1 ELSE 0 END) AS recalled
            FROM c JOIN statelab.ui_wage AS w
              ON w.ssn = c.ssn AND w.year * 4 + w.quarter - 1 BETWEEN c.q + 1 AND c.q + 4
            GROUP BY c.claim_id
        )
        SELECT c.year, AVG(CASE WHEN b.recalled = 1 AND c.weeks_paid >= 13 THEN 1.0 ELSE 0.0 END) AS share
        FROM c LEFT JOIN back AS b USING (claim_id)
        GROUP BY c.year
        ORDER BY c.year
    """).df().set_index("year")["share"]
    assert recalls.loc[2020] > 2 * recalls[(recalls.index >= 2015) & (recalls.index <= 2019)].mean()


# --------------------------------------------------------------------------- features and split
def test_split_keeps_training_claims_in_the_past(course):
    train, test = course["train"], course["test"]
    assert train["date_filed"].max() < pd.Timestamp(pr.TRAIN_END) <= pd.Timestamp(pr.TEST_START)
    assert test["date_filed"].min() >= pd.Timestamp(pr.TEST_START)
    assert test["date_filed"].max() < pd.Timestamp(pr.TEST_END)
    assert not set(train["claim_id"]) & set(test["claim_id"])


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


# ------------------------------------------------------------------- the two models' shapes (step 4)
def test_one_feature_models_draw_a_curve_and_steps(course):
    """Step 4's picture: the logistic curve keeps rising past the largest training volume while boosting stays
    level there; the observed share is higher in the busiest twentieth than in the median one."""
    train = course["train"]
    feature = "state_claims_13w"
    logistic = pr.make_model("logistic", numeric=[feature], categorical=[]).fit(train[[feature]], train["long_claim"])
    boosting = pr.make_model("boosting", numeric=[feature], categorical=[]).fit(train[[feature]], train["long_claim"])
    top = train[feature].max()
    beyond = pd.DataFrame({feature: np.linspace(top * 1.01, top * 1.5, 20)})
    assert np.all(np.diff(logistic.predict_proba(beyond)[:, 1]) > 0)
    assert np.ptp(boosting.predict_proba(beyond)[:, 1]) == 0
    groups = pd.qcut(train[feature].rank(method="first"), 20, labels=False)
    shares = train.groupby(groups)["long_claim"].mean()
    assert shares.iloc[-1] > shares.median() + 0.1


# ------------------------------------------------------------------------- yardsticks (steps 5-6)
def test_label_by_separation_reason(course):
    """Step 5: closures nearly all long; quits and discharges mostly never paid and rarely long; layoffs in
    between. Closures are about one test claim in ten."""
    train, test = course["train"], course["test"]
    rate = train.groupby("separation_reason", observed=True)["long_claim"].mean()
    none_paid = train["weeks_paid"].eq(0).groupby(train["separation_reason"], observed=True).mean()
    assert rate["employer_closed"] > 0.9
    assert rate[["quit", "discharge"]].max() < 0.15
    assert none_paid[["quit", "discharge"]].min() > 0.75
    assert rate[["quit", "discharge"]].max() < rate["lack_of_work"] < rate["employer_closed"]
    closed_share = (test["separation_reason"] == "employer_closed").mean()
    assert 0.07 < closed_share < 0.14
    assert test.loc[test["separation_reason"] == "employer_closed", "long_claim"].mean() > 0.9


def test_wage_rule_is_no_better_than_random(course):
    test = course["test"]
    y = test["long_claim"]
    base = y.mean()
    k = int(pr.CAPACITY * len(test))
    p_wages = pr.precision_at_k(y, test["base_period_wages"], share=pr.CAPACITY)
    assert abs(p_wages - base) < 3 * _se(base, k)
    assert abs(roc_auc_score(y, test["base_period_wages"]) - 0.5) < 0.05


def test_models_and_the_reason_rule_invite_the_closures_and_models_add_a_little(course):
    """Step 6: at 10% the models and the reason rule invite nearly the same people, the closures; over the
    whole ranking (AUC) and at 30% the models do a little better than the rule."""
    test = course["test"]
    y = test["long_claim"]
    base = y.mean()
    k = int(pr.CAPACITY * len(test))
    invited = pr.select_top(test["score_boosting"], share=pr.CAPACITY)
    assert (test.loc[invited, "separation_reason"] == "employer_closed").mean() > 0.8
    for score in ("reason_rule", "score_boosting", "score_logistic"):
        assert pr.precision_at_k(y, test[score], share=pr.CAPACITY) > base + 3 * _se(base, k)
    auc_rule = roc_auc_score(y, test["reason_rule"])
    p30_rule = pr.precision_at_k(y, test["reason_rule"], share=0.3)
    for score in ("score_boosting", "score_logistic"):
        assert 0 < roc_auc_score(y, test[score]) - auc_rule < 0.05
        assert pr.precision_at_k(y, test[score], share=0.3) > p30_rule


def test_boosting_is_calibrated_on_the_test_period(course):
    test = course["test"]
    table = pr.calibration_table(test["long_claim"], test["score_boosting"], bins=10)
    # the binomial spread of a bin's share if the model's probabilities were right
    se = np.sqrt(table["mean_predicted"] * (1 - table["mean_predicted"]) / table["claims"])
    assert ((table["observed_rate"] - table["mean_predicted"]).abs() < 4 * se + 0.02).all()
    assert abs(test["score_boosting"].mean() - test["long_claim"].mean()) < 0.03


def test_scores_follow_the_separation_reason_and_separate_layoffs_only_modestly(course):
    """Step 7 and practice exercise 4: quits and discharges low, closures high, layoffs in the middle; within
    the layoffs the scores separate long from short claims only modestly (AUC well below the lesson's)."""
    test = course["test"]
    mean = test.groupby("separation_reason", observed=True)["score_boosting"].mean()
    assert mean[["quit", "discharge"]].max() < mean["lack_of_work"] < mean["employer_closed"]
    laid = test[test["separation_reason"] == "lack_of_work"]
    assert roc_auc_score(laid["long_claim"], laid["score_boosting"]) < 0.65
    train = course["train"]
    laid_train = train[train["separation_reason"] == "lack_of_work"]
    own = pr.make_model("boosting").fit(laid_train[pr.FEATURES], laid_train["long_claim"])
    auc_own = roc_auc_score(laid["long_claim"], own.predict_proba(laid[pr.FEATURES])[:, 1])
    assert auc_own < 0.65 < roc_auc_score(test["long_claim"], test["score_boosting"])


def test_separation_reason_dominates_importance(course):
    """Step 8: separation reason dominates; the next features are far behind and describe where and when the
    claim was filed (the state, the recent volume of claims)."""
    from sklearn.inspection import permutation_importance

    test = course["test"]
    result = permutation_importance(course["boosting"], test[pr.FEATURES], test["long_claim"], scoring="roc_auc",
                                    n_repeats=3, random_state=0)
    ranked = pd.Series(result.importances_mean, index=pr.FEATURES).sort_values(ascending=False)
    assert ranked.index[0] == "separation_reason"
    assert ranked.iloc[0] > 3 * ranked.iloc[1]
    assert set(ranked.index[1:3]) <= {"state_fips", "state_claims_13w", "naics_sector"}


# ------------------------------------------------------------------------------------- practice
def test_a_model_from_calm_years_underpredicts_2020(course):
    """Practice exercise 3: trained before July 2019, the model's mean prediction for 2020 claims falls short
    of the observed share, and its ranking is weaker than the course model's on its test period; the random
    and temporal splits give close AUCs on the course data."""
    from sklearn.model_selection import train_test_split

    claims, test = course["claims"], course["test"]
    before, shock = pr.temporal_split(claims, train_end="2019-07-01", test_start="2020-01-01",
                                      test_end="2021-01-01")
    old = pr.make_model("boosting").fit(before[pr.FEATURES], before["long_claim"])
    scores = old.predict_proba(shock[pr.FEATURES])[:, 1]
    assert scores.mean() < shock["long_claim"].mean() - 0.03
    assert roc_auc_score(shock["long_claim"], scores) < roc_auc_score(test["long_claim"], test["score_boosting"])
    pool = claims[claims["date_filed"] < pd.Timestamp(pr.TEST_END)]
    r_train, r_test = train_test_split(pool, test_size=0.2, random_state=0)
    shuffled = pr.make_model("boosting").fit(r_train[pr.FEATURES], r_train["long_claim"])
    auc_random = roc_auc_score(r_test["long_claim"], shuffled.predict_proba(r_test[pr.FEATURES])[:, 1])
    assert abs(auc_random - roc_auc_score(test["long_claim"], test["score_boosting"])) < 0.03
