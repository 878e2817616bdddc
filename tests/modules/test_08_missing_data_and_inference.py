"""Module 8's headline results hold against the planted truth, on both course seeds.

The lesson estimates the effect of WIOA training from the learner tables. Here each estimate is compared with
the true effect for the same spells on the same outcome (``statelab.inference.true_effects``): earnings as the
four states' wage files record them, which miss jobs outside the region and links lost to mistyped SSNs (the
all-jobs truth is checked to be close). Observational estimators target the ATT of the observational pool (after
trimming, of the trained spells kept), the experiment the average effect in the pilot.

Intervals are 99% (``ALPHA``): about a dozen estimates are checked per seed, and an unbiased estimator misses
its 99% interval 1% of the time. Selection into training is planted on a pre-program earnings dip and on low
prior earnings, so the trained would have earned *less* than the untrained without training: the naive
comparison must miss below the truth. The planted effect multiplies the earnings of people who work, so the
true effect on employment is zero and the effect on log earnings is positive. The lesson's readings of its
charts (the naive estimate's sign, the shape of the pre-entry gap, the exact link between the two
difference-in-differences estimates) are checked on the same two seeds.
"""

import math

import numpy as np
import pytest

import synthetic_data as sd
from statelab import inference, panel

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

COURSE_SEEDS = (sd.DEFAULT_SEED, 7)
ALPHA = 0.01
OUTCOMES = ("post_earnings", "post_log_earnings", "post_employment")


@pytest.fixture(scope="module", params=COURSE_SEEDS, ids=lambda s: f"seed{s}")
def course(request, course_dataset_at):
    con = sd.connect(course_dataset_at(request.param), truth=True)
    spells = inference.analysis_frame(con, complete_only=False)
    frame = inference.analysis_frame(con)
    truth = {outcome: inference.true_effects(con, frame, outcome=outcome) for outcome in OUTCOMES}
    per_spell = inference.true_effects(con, frame, per_spell=True)
    params = dict(con.sql("SELECT name, value FROM truth.parameters").fetchall())
    obs = frame[~frame["pilot_study"]].copy()
    scores = inference.propensity_scores(obs)
    obs["att_weight"] = np.where(obs["trained"] == 1, 1.0, scores / (1 - scores))
    trimmed = inference.trim_by_propensity(obs, scores)
    events = {
        "raw": panel.spell_panel(con, obs),
        "weighted": panel.spell_panel(con, obs, keep=["att_weight"]),
        "pilot": panel.spell_panel(con, frame[frame["pilot_study"]]),
    }
    trimmed_truth = inference.true_effects(con, trimmed).loc["att", "effect_measured"]
    con.close()
    return {"seed": request.param, "spells": spells, "frame": frame, "obs": obs, "truth": truth,
            "per_spell": per_spell, "params": params, "scores": scores, "trimmed": trimmed,
            "trimmed_truth": trimmed_truth, "events": events}


@pytest.fixture(scope="module")
def estimates(course):
    obs, frame = course["obs"], course["frame"]
    out = {}
    for outcome in OUTCOMES:
        out[outcome] = {
            "naive": inference.naive_difference(obs, outcome=outcome, alpha=ALPHA),
            "regression": inference.regression_adjusted(obs, outcome=outcome, alpha=ALPHA),
            "ipw": inference.ipw_att(obs, outcome=outcome, alpha=ALPHA),
            "aipw": inference.aipw_att(obs, outcome=outcome, alpha=ALPHA),
            "experiment": inference.experimental_estimate(frame, outcome=outcome, alpha=ALPHA),
            "experiment_adjusted": inference.experimental_estimate(
                frame, outcome=outcome, covariates=inference.DEFAULT_COVARIATES, alpha=ALPHA),
        }
    out["post_earnings"]["did_dip"] = inference.difference_in_differences(obs, before="pre_earnings", alpha=ALPHA)
    out["post_earnings"]["did_base"] = inference.difference_in_differences(obs, before="base_earnings", alpha=ALPHA)
    return out


def _truth(course, est, outcome="post_earnings"):
    return course["truth"][outcome].loc[est.target, "effect_measured"]


def test_enough_spells_for_the_comparison(course):
    frame = course["frame"]
    assert len(frame) > 2000
    assert frame["pilot_study"].sum() > 400
    pilot = frame[frame["pilot_study"]]
    assert abs(pilot["trained"].mean() - 0.5) < 0.06          # the lottery is a coin flip


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("name", ["regression", "ipw", "aipw", "experiment", "experiment_adjusted"])
def test_adjusted_and_experimental_intervals_cover_the_truth(course, estimates, name, outcome):
    """Regression, IPW and AIPW target the observational ATT, the experiment the pilot's average effect."""
    est = estimates[outcome][name]
    truth = _truth(course, est, outcome)
    assert est.ci_low <= truth <= est.ci_high, (course["seed"], est, truth)


def test_the_truth_is_positive_on_earnings_and_zero_on_employment(course):
    truth = course["truth"]
    assert (truth["post_earnings"]["effect_measured"] > 0).all()
    assert (truth["post_log_earnings"]["effect_measured"] > 0).all()
    assert (truth["post_employment"]["effect_measured"].abs() < 1e-12).all()


@pytest.mark.parametrize("outcome", ["post_earnings", "post_log_earnings"])
def test_the_naive_comparison_misses_below_the_truth(course, estimates, outcome):
    est = estimates[outcome]["naive"]
    truth = _truth(course, est, outcome)
    assert est.ci_high < truth, (est, truth)                  # the truth is outside the 99% interval


def test_the_naive_comparison_makes_training_look_useless_or_harmful(course, estimates):
    """Lesson part 2: 'Taken at face value, this says training did nothing for earnings, or even lowered them.'"""
    assert estimates["post_earnings"]["naive"].estimate < 0, estimates["post_earnings"]["naive"]


def test_the_pilot_is_unbiased_but_imprecise(course, estimates):
    """Lesson part 7: the pilot's interval is wider than the doubly robust estimate's."""
    assert estimates["post_earnings"]["experiment"].std_error > estimates["post_earnings"]["aipw"].std_error


def test_the_naive_comparison_shows_an_employment_gap_that_training_did_not_cause(course, estimates):
    est = estimates["post_employment"]["naive"]
    assert est.ci_high < 0, est                                # truth: 0


@pytest.mark.parametrize("name", ["regression", "ipw", "aipw"])
def test_adjustment_moves_toward_the_truth(course, estimates, name):
    naive, est = estimates["post_earnings"]["naive"], estimates["post_earnings"][name]
    truth = _truth(course, est)
    assert est.estimate > naive.estimate                      # adjustment raises the estimate, as it should
    assert abs(est.estimate - truth) < abs(naive.estimate - truth), (est, naive, truth)


def test_trimmed_aipw_covers_the_att_of_the_spells_kept(course):
    est = inference.aipw_att(course["trimmed"], alpha=ALPHA)
    assert est.ci_low <= course["trimmed_truth"] <= est.ci_high, (est, course["trimmed_truth"])
    table = inference.overlap_summary(course["obs"], course["scores"])
    assert table["spells"].sum() == len(course["obs"])
    assert len(course["trimmed"]) == int(course["scores"].between(0.1, 0.9).sum())


def test_weighting_balances_the_covariates(course):
    table = inference.balance_table(course["obs"], course["scores"])
    assert table["smd"].abs().max() > 0.25                    # the trained differ before training
    assert table["smd_weighted"].abs().max() < 0.1            # the weighted untrained do not


def test_sandwich_and_bootstrap_standard_errors_agree(course):
    obs = course["obs"]
    sandwich = inference.aipw_att(obs)
    boot = inference.bootstrap(inference.aipw_att, obs, n_boot=100, seed=1)
    # 100 replicates estimate an SE to about 7% (1 / sqrt(2 * 100)): allow three times that either way
    assert 0.8 < boot.std_error / sandwich.std_error < 1.25, (boot, sandwich)


def test_the_two_did_estimates_differ_by_the_move_in_the_pre_program_gap(course, estimates):
    """Lesson part 6: subtracting a different 'before' moves the estimate by exactly the change in the gap between
    the groups from the base year to the year before entry, to the dollar; the lesson prints both."""
    dip, base = estimates["post_earnings"]["did_dip"], estimates["post_earnings"]["did_base"]
    gap = course["obs"].groupby("trained")[["base_earnings", "pre_earnings"]].mean().diff().loc[1]
    moved = gap["pre_earnings"] - gap["base_earnings"]
    assert dip.estimate - base.estimate == pytest.approx(-moved, abs=1e-6)
    assert abs(moved) > 50, moved                              # the gap does move: no parallel trends here


def test_event_study_pre_periods_are_flat_only_where_there_is_no_dip(course):
    """Raw observational pool: the trained fall behind before entry (the dip), so the placebo test fails;
    randomized pilot and weighted pool: no dip difference, and the pre-period coefficients are jointly near zero."""
    common = dict(outcome="earnings", time="event_time", treated="trained", unit="record_id",
                  reference=-8, cluster="unique_individual_id")
    raw = panel.event_study(course["events"]["raw"], **common)
    weighted = panel.event_study(course["events"]["weighted"], weights="att_weight", **common)
    pilot = panel.event_study(course["events"]["pilot"], **common)
    assert raw.pretrend_p < 1e-6, raw.pretrend_p
    assert weighted.pretrend_p > 0.01, weighted.coefficients
    assert pilot.pretrend_p > 0.01, pilot.coefficients
    # the lesson's reading of the raw chart: the trained fall behind during the year before entry (the lowest
    # gap, clearly below zero), then the untrained fall faster in the last quarters, so by the quarter before
    # entry the gap has narrowed by more than twice its standard error
    before = raw.coefficients.set_index("time").loc[-7:-1]
    low = before["estimate"].idxmin()
    assert -4 <= low <= -2 and before.loc[low, "ci_high"] < 0, before
    assert before.loc[-1, "estimate"] - before.loc[low, "estimate"] > 2 * before.loc[-1, "std_error"], before
    # the lesson: the pilot's intervals are wider than the others (far fewer spells)
    assert pilot.coefficients["std_error"].mean() > raw.coefficients["std_error"].mean()


def test_the_pilot_and_observational_targets_differ_in_dollars_not_in_proportion(course):
    """The planted effect is proportional: the observational trained earn less, so their effect is fewer dollars."""
    truth, frame = course["truth"]["post_earnings"], course["frame"]
    obs_trained = frame[~frame["pilot_study"] & (frame["trained"] == 1)]
    assert obs_trained["base_earnings"].mean() < frame.loc[frame["pilot_study"], "base_earnings"].mean()
    proportion = truth.loc["att", "relative_effect"] / truth.loc["ate_pilot", "relative_effect"]
    assert abs(proportion - 1) < 0.05


def test_trained_had_an_earnings_dip_before_entry(course):
    obs = course["obs"]
    trained = obs[obs["trained"] == 1]
    untrained = obs[obs["trained"] == 0]
    assert trained["earnings_dip"].mean() > untrained["earnings_dip"].mean()
    assert trained["pre_earnings"].mean() < trained["base_earnings"].mean()
    # the lesson's reading of the earnings chart: the trained earned less already two years before entry; both
    # groups' earnings fall before entry, the trained's further, in both funding streams: few are dislocated
    # workers
    profile = inference.earnings_profile(obs).set_index(["trained", "period"])["mean_earnings"]
    assert profile[(1, -8)] < profile[(0, -8)]
    fall = {group: profile[(group, -1)] / profile[(group, -8)] for group in (0, 1)}
    assert fall[1] < fall[0] < 0.8, fall
    dislocated = obs["program"].eq("dislocated_worker").groupby(obs["trained"]).mean()
    assert (dislocated < 0.25).all(), dislocated


def test_measured_and_all_jobs_effects_are_close(course):
    truth = course["truth"]["post_earnings"]
    for target in truth.index:
        measured, all_jobs = truth.loc[target, ["effect_measured", "effect_all_jobs"]]
        assert 0.85 * all_jobs < measured <= all_jobs, target   # files miss earnings, never add them


def test_missing_ssn_share_follows_the_profile(course):
    """A spell has no SSN when every one of its PIRL rows lacks it (repeated rows are drawn independently)."""
    spells = course["spells"]
    p = float(course["params"]["noise.wioa.ssn_missing"])
    dup = float(course["params"]["noise.wioa.duplicate_rows"])
    expected = p * (1 - dup) + p * p * dup
    share = spells["ssn_status"].eq("missing").mean()
    assert abs(share - expected) < 4 * math.sqrt(expected * (1 - expected) / len(spells))
    by_arm = spells.groupby("trained")["ssn_status"].apply(lambda s: s.eq("missing").mean())
    assert abs(by_arm[1] - by_arm[0]) < 0.04                   # missing SSNs are unrelated to training


def test_home_state_files_miss_some_earnings(course):
    frame = course["frame"]
    assert (frame["post_earnings_home"] <= frame["post_earnings"] + 1e-9).all()
    assert frame["post_earnings_home"].mean() < frame["post_earnings"].mean()


def test_tiny_profile_smoke(tiny_con):
    frame = inference.analysis_frame(tiny_con)
    table = inference.compare_estimators(frame)
    assert len(table) == 7 and table["estimate"].notna().all()
    truth = inference.true_effects(tiny_con, frame)
    assert (truth["effect_measured"] > 0).all()


@pytest.mark.notebook
def test_the_book_build_shows_no_truth_reveal(tiny_data_root, tmp_path, monkeypatch):
    """The lesson's answer key stays out of the published book: with STATELAB_BOOK_BUILD=1 (set by
    book/build.py) the reveal cell prints where to see it and shows no true effect, although the tiny
    dataset has its truth attached."""
    from pathlib import Path

    import nbformat
    import papermill as pm

    lesson = (Path(__file__).resolve().parents[2] / "modules" / "08-missing-data-and-inference"
              / "01-estimating-a-training-effect.ipynb")
    monkeypatch.setenv("STATELAB_BOOK_BUILD", "1")
    out = tmp_path / "executed.ipynb"
    pm.execute_notebook(str(lesson), str(out), parameters=dict(profile="tiny", data_root=str(tiny_data_root)),
                        cwd=str(lesson.parent), kernel_name="python3", progress_bar=False)
    shown = []
    for cell in nbformat.read(str(out), as_version=4).cells:
        for o in cell.get("outputs", []):
            shown.append(o.get("text", "") + "".join(str(v) for v in o.get("data", {}).values()))
    shown = "\n".join(shown)
    assert "does not show the answer key" in shown
    assert "Interval covers the truth" not in shown
