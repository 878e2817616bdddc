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
                                  "confidence"}
    assert "95% CI" in str(est) and "90% CI" in str(inference.naive_difference(frame, alpha=0.1))


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
    assert len(table) == 6 and np.isfinite(table[["estimate", "std_error"]].to_numpy()).all()
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
