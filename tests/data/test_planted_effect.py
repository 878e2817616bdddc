"""The training effect planted in WIOA is recoverable by a correct analysis, and a naive one misses it."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import synthetic_data as sd
from statelab import inference
from synthetic_data._partition import build_partition
from synthetic_data._world import World


@pytest.fixture(scope="module")
def participants():
    # Many more participants than the course profile has, so estimates are precise enough
    # to compare; the model is the default profile's, only participation is scaled up.
    params = sd.load_profile("default")
    for stream in ("adult", "dislocated_worker", "youth"):
        params["wioa"][stream]["entry_rate"] *= 6
    world = World(params, sd.DEFAULT_SEED)
    parts = [build_partition(world, k) for k in range(6)]
    eff = pd.concat([p["wioa_effect"].to_pandas() for p in parts])
    people = pd.concat([p["person"].to_pandas() for p in parts])
    df = eff.merge(people, on="person_id")
    df["y"] = np.where(df.trained, df.y1_post, df.y0_post)
    df["t"] = df.trained.astype(int)
    df["dip"] = ((df.base_earnings - df.pre_earnings) / (df.base_earnings + 1000)).clip(-1, 1)
    df["lpre"] = np.log1p(df.pre_earnings)
    df["low_edu"] = df.education.isin(["less_than_hs", "high_school"]).astype(int)
    df["female"] = (df.sex == "F").astype(int)
    age = (pd.to_datetime(df.entry_date) - pd.to_datetime(df.dob)).dt.days / 365.25
    df["young"] = (age < 35).astype(int)
    return df, params


@pytest.mark.slow
def test_regression_on_the_selection_variables_recovers_the_effect(participants):
    df, _ = participants
    obs = df[~df.pilot_study]
    assert len(obs) > 5000
    att = (obs.y1_post - obs.y0_post)[obs.trained].mean()
    fit = smf.ols("y ~ t + dip + lpre + low_edu + young + female", data=obs).fit()
    assert att > 0
    assert abs(fit.params["t"] - att) < 0.35 * att, (fit.params["t"], att)
    naive = obs.y[obs.trained].mean() - obs.y[~obs.trained].mean()
    assert abs(naive - att) > 0.75 * att, (naive, att)          # selection on the dip biases it


@pytest.mark.slow
def test_the_randomized_pilot_gives_an_unbiased_benchmark(participants):
    df, params = participants
    pilot = df[df.pilot_study]
    assert abs(pilot.trained.mean() - 0.5) < 0.05
    ate = (pilot.y1_post - pilot.y0_post).mean()
    diff = pilot.y[pilot.trained].mean() - pilot.y[~pilot.trained].mean()
    se = np.sqrt(pilot.y[pilot.trained].var() / pilot.trained.sum() + pilot.y[~pilot.trained].var() / (~pilot.trained).sum())
    assert abs(diff - ate) < 3 * se


def test_effect_sizes_follow_the_profile(tiny_con):
    params = {k: float(v) for k, v in tiny_con.sql(
        "SELECT name, value FROM truth.parameters WHERE name LIKE 'wioa.effect_%' AND name != 'wioa.effect_ramp'").fetchall()}
    got = {round(v, 6) for (v,) in tiny_con.sql("SELECT DISTINCT effect FROM truth.wioa_effect").fetchall()}
    b, lo, old = params["wioa.effect_base"], params["wioa.effect_low_education"], params["wioa.effect_age_over_45"]
    possible = {round(b + lo * i + old * j, 6) for i in (0, 1) for j in (0, 1)}
    assert got and got <= possible


# ------------------------------------------------------- module 8's estimators on the learner tables
@pytest.fixture(scope="module", params=["course seed", "seed 7"])
def module8(request):
    """Module 8's analysis frame at a seed, its estimates, and the true effects of the same spells."""
    dataset = request.getfixturevalue("course_dataset" if request.param == "course seed" else "seed_seven_dataset")
    con = sd.connect(dataset, truth=True)
    frame = inference.analysis_frame(con)
    truth = inference.true_effects(con, frame)
    con.close()
    obs = frame[~frame["pilot_study"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        estimates = {"naive": inference.naive_difference(obs), "regression": inference.regression_adjusted(obs),
                     "ipw": inference.ipw_att(obs)}
    return estimates, truth


@pytest.mark.slow
@pytest.mark.parametrize("name", ["regression", "ipw"])
def test_adjusted_estimates_recover_the_effect_at_both_seeds(module8, name):
    """An unbiased estimate lies within 3 standard errors of its target with probability 99.7%."""
    estimates, truth = module8
    est = estimates[name]
    target = truth.loc[est.target, "effect_measured"]
    assert abs(est.estimate - target) < 3 * est.std_error, (est, target)
    assert est.estimate > estimates["naive"].estimate


@pytest.mark.slow
def test_the_naive_comparison_understates_the_effect_at_both_seeds(module8):
    """Training is planted on an earnings dip and low prior earnings: the trained would have earned less."""
    estimates, truth = module8
    naive = estimates["naive"]
    assert naive.estimate < truth.loc[naive.target, "effect_measured"] - 2 * naive.std_error, naive
