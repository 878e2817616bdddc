"""statelab.inference: the module-8 analysis frame, the estimators and the instructor's truth."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import synthetic_data as sd
from statelab import identifiers, inference


@pytest.fixture(scope="module")
def spells(tiny_dataset):
    con = sd.connect(tiny_dataset)
    yield inference.analysis_frame(con, complete_only=False)
    con.close()


@pytest.fixture(scope="module")
def frame(spells):
    keep = (spells["ssn_status"].eq("usable") & spells["complete_follow_up"] & spells["complete_pre_period"]
            & spells["age_at_entry"].notna())
    return spells[keep].reset_index(drop=True)


def _toy(n=4000, effect=500.0, seed=0):
    """A frame with a known, constant effect and selection on one covariate."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(0.8 * x)))
    t = (rng.random(n) < p).astype(int)
    y = 3000 + 1000 * x + effect * t + rng.normal(scale=300, size=n)
    pilot = rng.random(n) < 0.3
    t = np.where(pilot, rng.random(n) < 0.5, t).astype(int)
    y = np.where(pilot, 3000 + 1000 * x + effect * t + rng.normal(scale=300, size=n), y)
    return pd.DataFrame({"x": x, "trained": t, "post_earnings": y, "before": 3000 + 1000 * x, "pilot_study": pilot})


# ------------------------------------------------------------------------------------------ the frame
def test_frame_has_one_row_per_spell(tiny_dataset, spells):
    con = sd.connect(tiny_dataset)
    n_spells = con.sql("SELECT COUNT(*) FROM (SELECT DISTINCT unique_individual_id, entry_date FROM wioa) AS s"
                       ).fetchall()[0][0]
    n_rows = con.sql("SELECT COUNT(*) FROM wioa").fetchall()[0][0]
    con.close()
    assert len(spells) == n_spells and spells["record_id"].is_unique
    assert spells["n_records"].sum() == n_rows
    assert set(spells["ssn_status"]) <= set(identifiers.KEY_STATUSES) - {"never_issued"}
    assert spells.loc[spells["ssn"].isna(), "ssn_status"].eq("missing").all()
    assert spells.loc[~spells["ssn_status"].eq("usable"), "post_earnings"].isna().all()


def test_frame_earnings_match_an_independent_computation(tiny_dataset, frame):
    con = sd.connect(tiny_dataset)
    wages = con.sql("SELECT ssn, state_fips, year * 4 + quarter - 1 AS q, wages FROM ui_wage WHERE ssn IS NOT NULL").df()
    con.close()
    per_q = wages.groupby(["ssn", "q"])["wages"].sum()
    home = wages.groupby(["ssn", "state_fips", "q"])["wages"].sum()
    for row in frame.sample(40, random_state=1).itertuples():
        got_pre = [per_q.get((row.ssn, row.entry_qindex - k), 0) for k in range(1, 9)]
        got_post = [per_q.get((row.ssn, row.exit_qindex + k), 0) for k in range(1, 5)]
        got_home = [home.get((row.ssn, row.state_fips, row.exit_qindex + k), 0) for k in range(1, 5)]
        assert [getattr(row, f"pre_q{k}") for k in range(1, 9)] == got_pre
        assert [getattr(row, f"post_q{k}") for k in range(1, 5)] == got_post
        assert row.post_earnings == pytest.approx(np.mean(got_post))
        assert row.pre_earnings == pytest.approx(np.mean(got_pre[:4]))
        assert row.base_earnings == pytest.approx(np.mean(got_pre[4:]))
        assert row.post_earnings_home == pytest.approx(np.mean(got_home))


def test_frame_columns_are_consistent(frame):
    assert len(frame) > 100
    assert (frame["post_earnings_home"] <= frame["post_earnings"] + 1e-9).all()
    assert frame["earnings_dip"].between(-1, 1).all()
    assert set(frame["trained"]) == {0, 1} and frame["pilot_study"].dtype == bool
    assert frame["age_at_entry"].between(14, 90).all()
    assert (frame["under_35"] == (frame["age_at_entry"] < 35)).all()
    assert frame[list(inference.DEFAULT_COVARIATES)].notna().all().all()
    entry = pd.to_datetime(frame["entry_date"])
    assert (frame["entry_qindex"] == entry.dt.year * 4 + entry.dt.quarter - 1).all()


def test_complete_only_is_the_filtered_frame(tiny_dataset, frame):
    con = sd.connect(tiny_dataset)
    direct = inference.analysis_frame(con)
    con.close()
    pd.testing.assert_frame_equal(direct, frame, check_dtype=False)


def test_attrition_counts_only_shrink(spells, frame):
    table = inference.attrition(spells)
    counts = table["spells"].tolist()
    assert counts == sorted(counts, reverse=True)
    assert counts[1] == len(spells) and counts[-1] == len(frame)


def test_frame_sql_is_portable():
    sql = inference.analysis_frame_sql()
    for duckdb_only in ("::", "//", "GROUP BY ALL", "QUALIFY", "DATE_DIFF", "FILTER (", "EXCLUDE"):
        assert duckdb_only not in sql.upper(), duckdb_only
    with pytest.raises(ValueError, match="wioa; DROP"):
        inference.analysis_frame_sql(wioa_table="wioa; DROP TABLE x")


def test_earnings_profile(frame):
    prof = inference.earnings_profile(frame)
    assert set(prof["period"]) == set(range(-8, 5))
    assert len(prof) == 2 * 13 and prof.loc[prof["period"] == 0, "mean_earnings"].isna().all()
    trained_q1 = prof.query("trained == 1 and period == 1")["mean_earnings"].iloc[0]
    assert trained_q1 == pytest.approx(frame.loc[frame["trained"] == 1, "post_q1"].mean())


# ---------------------------------------------------------------------------------------- estimators
def test_naive_difference_is_the_difference_in_means(frame):
    est = inference.naive_difference(frame)
    y1 = frame.loc[frame["trained"] == 1, "post_earnings"]
    y0 = frame.loc[frame["trained"] == 0, "post_earnings"]
    assert est.estimate == pytest.approx(y1.mean() - y0.mean())
    assert est.std_error == pytest.approx(math.sqrt(y1.var() / len(y1) + y0.var() / len(y0)))
    assert est.ci_low < est.estimate < est.ci_high
    assert est.ci_high - est.estimate == pytest.approx(1.959964 * est.std_error, rel=1e-5)
    assert est.n == len(frame) and est.n_treated == len(y1) and est.target == "att"
    assert set(est.as_dict()) == {"method", "target", "estimate", "std_error", "ci_low", "ci_high", "n", "n_treated",
                                  "confidence", "unit"}
    assert "95% CI" in str(est) and "90% CI" in str(inference.naive_difference(frame, alpha=0.1))
    assert est.unit == "dollars a quarter" and "dollars a quarter" in str(est)
    assert inference.naive_difference(frame, outcome="post_log_earnings").unit == "log points"


def test_regression_matches_statsmodels_formula(frame):
    est = inference.regression_adjusted(frame, covariates=["pre_earnings", "female", "education"])
    fit = smf.ols("post_earnings ~ trained + pre_earnings + female + C(education)", data=frame).fit(cov_type="HC1")
    assert est.estimate == pytest.approx(fit.params["trained"])
    assert est.std_error == pytest.approx(fit.bse["trained"])


def test_did_and_experiment_are_differences_in_means(frame):
    did = inference.difference_in_differences(frame, before="pre_earnings")
    change = frame.assign(change=frame["post_earnings"] - frame["pre_earnings"])
    assert did.estimate == pytest.approx(inference.naive_difference(change, outcome="change").estimate)
    exp = inference.experimental_estimate(frame)
    assert exp.estimate == pytest.approx(inference.naive_difference(frame[frame["pilot_study"]]).estimate)
    assert exp.target == "ate_pilot" and exp.n == int(frame["pilot_study"].sum())


def test_estimators_recover_a_known_effect():
    toy = _toy()
    obs = toy[~toy["pilot_study"]]
    naive = inference.naive_difference(obs)
    assert naive.estimate > 500 + 5 * naive.std_error  # selection on x biases it up
    for est in (inference.regression_adjusted(obs, covariates=["x"]),
                inference.ipw_att(obs, covariates=["x"]),
                inference.difference_in_differences(obs, before="before"),
                inference.experimental_estimate(toy),
                inference.experimental_estimate(toy, covariates=["x"])):
        assert abs(est.estimate - 500) < 4 * est.std_error, est
    assert inference.experimental_estimate(toy, covariates=["x"]).std_error < inference.experimental_estimate(toy).std_error


def test_propensity_scores_are_clipped_probabilities(frame):
    p = inference.propensity_scores(frame, clip=0.05)
    assert p.between(0.05, 0.95).all() and len(p) == len(frame)
    trained = frame["trained"].astype(bool).to_numpy()
    assert p[trained].mean() > p[~trained].mean()


def test_compare_estimators_runs_on_tiny(frame):
    table = inference.compare_estimators(frame)
    assert len(table) == 7 and np.isfinite(table[["estimate", "std_error"]].to_numpy()).all()
    assert (table["confidence"] == 0.95).all()
    assert len(inference.compare_estimators(frame, outcome="post_employment")) == 5   # no DiD on a share
    assert (table["std_error"] > 0).all()
    assert table.loc[table["target"] == "ate_pilot", "n"].iloc[0] == frame["pilot_study"].sum()


def test_estimators_refuse_bad_input(frame):
    with pytest.raises(ValueError, match="no_such_column"):
        inference.naive_difference(frame, outcome="no_such_column")
    with pytest.raises(ValueError, match="0 untrained"):
        inference.naive_difference(frame[frame["trained"] == 1])
    with pytest.raises(ValueError, match="alpha"):
        inference.naive_difference(frame, alpha=5)
    with pytest.raises(TypeError, match="DataFrame"):
        inference.regression_adjusted(frame.to_dict())
    with pytest.raises(ValueError, match="at least one covariate"):
        inference.regression_adjusted(frame, covariates=[])
    with pytest.raises(TypeError, match="list of column names"):
        inference.ipw_att(frame, covariates="pre_earnings")
    with pytest.raises(ValueError, match="clip"):
        inference.propensity_scores(frame, clip=0.7)
    with pytest.raises(TypeError, match="complete_only"):
        inference.analysis_frame(None, complete_only="yes")


# ------------------------------------------------------------------------------------------ the truth
def test_true_effects_needs_the_truth(tiny_dataset, frame):
    con = sd.connect(tiny_dataset)
    with pytest.raises(ValueError, match="truth=True"):
        inference.true_effects(con, frame)
    con.close()


def test_true_effects_on_the_measured_outcome(tiny_con, frame):
    table = inference.true_effects(tiny_con, frame)
    assert list(table.index) == ["att", "ate_observational", "ate_pilot", "att_pilot"]
    obs = ~frame["pilot_study"]
    assert table.loc["att", "spells"] == int((obs & (frame["trained"] == 1)).sum())
    assert table.loc["ate_pilot", "spells"] == int(frame["pilot_study"].sum())
    assert (table["effect_measured"] > 0).all()
    per = inference.true_effects(tiny_con, frame, per_spell=True)
    gap = per["tau_measured"] - per["tau_all_jobs"]
    # wage files can only miss earnings (out-of-region jobs, lost SSN links), never add them; for almost every
    # spell they hold all of them, and then the two definitions of the effect agree to rounding
    assert (gap < 1).all()
    assert (gap.abs() < 1).mean() > 0.9
    params = dict(tiny_con.sql("SELECT name, value FROM truth.parameters WHERE name LIKE 'wioa.effect_%'").fetchall())
    base = float(params["wioa.effect_base"])
    assert per["effect"].between(base - 0.1, base + 0.2).all()


# ------------------------------------------------------------------------- outcomes split in two parts
def test_employment_and_log_earnings_outcomes(frame):
    post = frame[[f"post_q{k}" for k in range(1, 5)]].to_numpy()
    paid = post > 0
    assert np.allclose(frame["post_employment"], paid.mean(axis=1))
    some = paid.any(axis=1)
    expected = [np.log(row[row > 0]).mean() for row in post[some]]
    assert np.allclose(frame.loc[some, "post_log_earnings"], expected)
    assert frame.loc[~some, "post_log_earnings"].isna().all()


def test_true_effects_on_employment_and_log_earnings(tiny_con, frame):
    """The planted effect multiplies earnings: it cannot turn a quarter without wages into one with wages."""
    employment = inference.true_effects(tiny_con, frame, outcome="post_employment")
    assert (employment["effect_measured"].abs() < 1e-12).all()
    logs = inference.true_effects(tiny_con, frame, outcome="post_log_earnings", per_spell=True)
    assert (logs["tau_measured"].dropna() > 0).all()
    # per spell, the log effect is the mean of log(1 + effect * ramp) over the quarters with wages
    assert logs["tau_measured"].dropna().max() <= np.log1p(logs["effect"].max()) + 1e-9
    with pytest.raises(ValueError, match="outcome must be one of"):
        inference.true_effects(tiny_con, frame, outcome="earnings")


# ---------------------------------------------------------------------------------- weighting estimators
def test_aipw_recovers_a_known_effect():
    toy = _toy()
    obs = toy[~toy["pilot_study"]]
    est = inference.aipw_att(obs, covariates=["x"])
    assert est.target == "att" and est.method == "doubly robust (AIPW)"
    assert abs(est.estimate - 500) < 4 * est.std_error, est
    assert est.ci_low < est.estimate < est.ci_high


def test_aipw_is_the_augmented_weighting_formula(frame):
    """Recomputed from its parts: an OLS model of the untrained outcome and the ATT odds weights."""
    import statsmodels.api as sm

    covariates = ["pre_earnings", "earnings_dip", "female", "education"]
    est = inference.aipw_att(frame, covariates=covariates)
    p = inference.propensity_scores(frame, covariates=covariates)
    X = pd.get_dummies(frame.loc[p.index, covariates], columns=["education"], drop_first=True, dtype=float)
    X = sm.add_constant(X.loc[:, X.nunique() > 1])
    t = frame.loc[p.index, "trained"].astype(bool).to_numpy()
    y = frame.loc[p.index, "post_earnings"].to_numpy()
    m0 = X.to_numpy() @ sm.OLS(y[~t], X.to_numpy()[~t]).fit().params
    odds = (p / (1 - p)).to_numpy()[~t]
    expected = (y - m0)[t].mean() - ((y - m0)[~t] * odds).sum() / odds.sum()
    assert est.estimate == pytest.approx(expected, rel=1e-6, abs=1e-6)
    assert est.n == len(p) and est.n_treated == t.sum()


def test_ipw_sandwich_standard_error_agrees_with_the_bootstrap():
    toy = _toy(n=3000, seed=3)
    obs = toy[~toy["pilot_study"]].reset_index(drop=True)
    sandwich = inference.ipw_att(obs, covariates=["x"])
    boot = inference.bootstrap(inference.ipw_att, obs, n_boot=150, seed=11, cluster=None, covariates=["x"])
    assert boot.estimate == pytest.approx(sandwich.estimate)
    assert 0.75 < boot.std_error / sandwich.std_error < 1.33, (boot, sandwich)
    assert boot.method.endswith("(bootstrap SE)")


def test_bootstrap_is_reproducible_and_resamples_whole_people():
    toy = _toy(n=600, seed=4)
    toy["unique_individual_id"] = np.arange(len(toy)) // 3          # three spells per person
    seen = []

    def spy(frame, *, alpha):
        seen.append(frame["unique_individual_id"].value_counts())
        return inference.naive_difference(frame, alpha=alpha)

    a = inference.bootstrap(spy, toy, n_boot=5, seed=2)
    b = inference.bootstrap(inference.naive_difference, toy, n_boot=5, seed=2)
    assert a.std_error == pytest.approx(b.std_error)
    assert all((counts % 3 == 0).all() for counts in seen[1:])     # people come with all three spells
    with pytest.raises(ValueError, match="n_boot"):
        inference.bootstrap(inference.naive_difference, toy, n_boot=1)
    with pytest.raises(TypeError, match="estimator"):
        inference.bootstrap("aipw", toy)


def test_overlap_summary_and_trimming():
    toy = _toy(n=2000, seed=5)
    obs = toy[~toy["pilot_study"]]
    scores = inference.propensity_scores(obs, covariates=["x"])
    table = inference.overlap_summary(obs, scores)
    t = obs["trained"].astype(bool)
    assert table.loc["trained", "spells"] == t.sum() and table.loc["untrained", "spells"] == (~t).sum()
    assert table.loc["trained", "max"] == pytest.approx(scores[t].max())
    odds = scores[~t] / (1 - scores[~t])
    assert table.loc["untrained", "effective_n"] == pytest.approx(odds.sum() ** 2 / (odds ** 2).sum())
    assert table.loc["trained", "effective_n"] == pytest.approx(t.sum())
    outside = ((scores[t] > scores[~t].max()) | (scores[t] < scores[~t].min())).sum()
    assert table.loc["trained", "outside_other_range"] == outside
    kept = inference.trim_by_propensity(obs, scores, low=0.2, high=0.8)
    assert scores.loc[kept.index].between(0.2, 0.8).all()
    assert len(kept) == scores.between(0.2, 0.8).sum() < len(obs)
    with pytest.raises(ValueError, match="low must be below high"):
        inference.trim_by_propensity(obs, scores, low=0.9, high=0.1)
    with pytest.raises(TypeError, match="Series"):
        inference.overlap_summary(obs, scores.to_numpy())


def test_balance_table_weights_close_the_gap():
    toy = _toy(n=4000, seed=6)
    obs = toy[~toy["pilot_study"]]
    scores = inference.propensity_scores(obs, covariates=["x"])
    table = inference.balance_table(obs, scores, covariates=["x"])
    x1, x0 = obs.loc[obs["trained"] == 1, "x"], obs.loc[obs["trained"] == 0, "x"]
    assert table.loc["x", "smd"] == pytest.approx((x1.mean() - x0.mean()) / np.sqrt((x1.var() + x0.var()) / 2))
    assert abs(table.loc["x", "smd"]) > 0.3                 # selection on x
    assert abs(table.loc["x", "smd_weighted"]) < 0.05       # the odds weights balance it
    plain = inference.balance_table(obs, covariates=["x"])
    assert "smd_weighted" not in plain.columns
