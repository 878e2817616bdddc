"""statelab.panel: the panels built from the wage records and the fixed-effects estimators run on them.

Estimators are checked on small synthetic panels where the answer is known by construction (and, for the
event study, against the difference-in-differences of group means it must equal in a balanced panel); the
panel builders on the tiny dataset against independent pandas computations.
"""

import numpy as np
import pandas as pd
import pytest

import synthetic_data as sd
from statelab import identifiers, inference, panel


# ------------------------------------------------------------------------------------------ helpers
def test_quarter_index():
    assert panel.quarter_index("2020Q2") == 2020 * 4 + 1
    assert panel.quarter_index(" 2014q1 ") == 2014 * 4
    for bad in ("2020-Q2", "2020Q5", "20Q2", 2020):
        with pytest.raises(ValueError, match="2020Q2"):
            panel.quarter_index(bad)


def _balanced(n_units=400, periods=range(-4, 5), effect=5.0, pretrend=0.0, seed=0):
    """A balanced panel: half the units treated from period 0 on; optionally a treated-only trend before."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), len(periods))
    time = np.tile(np.asarray(periods), n_units)
    treated = (unit < n_units // 2).astype(int)
    level = rng.normal(0, 10, n_units)[unit]                       # unit effects, unrelated to treatment
    shock = rng.normal(0, 1, len(periods))[time - min(periods)]    # what every unit shares in a period
    y = (level + shock + effect * treated * (time >= 0) + pretrend * treated * np.minimum(time, 0)
         + rng.normal(0, 1, len(unit)))
    return pd.DataFrame({"unit": unit, "time": time, "treated": treated, "y": y})


# ------------------------------------------------------------------------------------------ event study
def test_event_study_is_a_difference_of_group_means_in_a_balanced_panel():
    data = _balanced()
    es = panel.event_study(data, outcome="y", time="time", treated="treated", unit="unit", reference=-1)
    means = data.groupby(["time", "treated"])["y"].mean().unstack()
    gap = means[1] - means[0]
    expected = gap - gap.loc[-1]
    got = es.coefficients.set_index("time")["estimate"]
    np.testing.assert_allclose(got.loc[expected.index], expected, atol=1e-8)
    assert np.isnan(es.coefficients.set_index("time").loc[-1, "std_error"])
    assert es.n_units == 400 and es.n_obs == len(data) and es.reference == -1


def test_event_study_recovers_effects_and_its_pretrend_test_has_power():
    clean = panel.event_study(_balanced(seed=1), outcome="y", time="time", treated="treated", unit="unit",
                              reference=-1)
    post = clean.coefficients[clean.coefficients["time"] >= 0]
    assert ((post["ci_low"] < 5) & (5 < post["ci_high"])).mean() >= 0.8   # 95% intervals, 5 periods
    assert clean.pretrend_df == 3 and clean.pretrend_p > 0.01
    trending = panel.event_study(_balanced(seed=1, pretrend=1.0), outcome="y", time="time", treated="treated",
                                 unit="unit", reference=-1)
    assert trending.pretrend_p < 1e-6


def test_event_study_refuses_bad_input():
    data = _balanced(n_units=20)
    with pytest.raises(ValueError, match="reference period 9"):
        panel.event_study(data, outcome="y", time="time", treated="treated", unit="unit", reference=9)
    with pytest.raises(ValueError, match="two values"):
        panel.event_study(data.assign(treated=1), outcome="y", time="time", treated="treated", unit="unit",
                          reference=-1)
    with pytest.raises(ValueError, match="no column"):
        panel.event_study(data, outcome="wages", time="time", treated="treated", unit="unit", reference=-1)


# ------------------------------------------------------------------------------------------ WIOA spells
@pytest.fixture(scope="module")
def tiny_frame(tiny_dataset):
    con = sd.connect(tiny_dataset)
    frame = inference.analysis_frame(con)
    yield con, frame
    con.close()


def test_spell_panel_matches_the_analysis_frame(tiny_frame):
    con, frame = tiny_frame
    long = panel.spell_panel(con, frame, first=-8, last=8)
    assert set(long["record_id"]) == set(frame["record_id"])
    by_spell = long.set_index(["record_id", "event_time"])["earnings"]
    for row in frame.sample(30, random_state=2).itertuples():
        for k in range(1, 9):
            assert by_spell.loc[(row.record_id, -k)] == getattr(row, f"pre_q{k}")
        exit_rel = row.exit_qindex - row.entry_qindex
        for k in range(1, 5):
            if exit_rel + k <= 8:
                assert by_spell.loc[(row.record_id, exit_rel + k)] == getattr(row, f"post_q{k}")
    assert (long["employed"] == (long["earnings"] > 0)).all()
    in_program = long["event_time"].between(0, long["record_id"].map(
        frame.set_index("record_id").eval("exit_qindex - entry_qindex")))
    assert (long["in_program"] == in_program).all()
    with pytest.raises(ValueError, match="window"):
        panel.spell_panel(con, frame, first=0, last=4)


# ------------------------------------------------------------------------------------ credential premium
def _credential_toy(n=1500, premium=0.10, selection=0.3, seed=0):
    """People in one track; completers (about half) earn `selection` more all along and `premium` more after."""
    rng = np.random.default_rng(seed)
    people = pd.DataFrame({"ssn": np.arange(n).astype(str), "born": rng.integers(1990 * 4, 1996 * 4, n)})
    completes = rng.random(n) < 0.5
    people["associate_q"] = np.where(completes, rng.integers(2016 * 4, 2022 * 4, n), np.nan)
    people["person_effect"] = rng.normal(0, 0.3, n) + selection * completes
    rows = people.merge(pd.DataFrame({"qindex": np.arange(2014 * 4, 2026 * 4)}), how="cross")
    rows["age"] = (rows["qindex"] - rows["born"]) / 4
    rows["post_associate"] = (rows["qindex"] > rows["associate_q"]).astype(int)
    rows["post_certificate"] = 0
    rows["post_bachelor"] = 0
    season = rng.normal(0, 0.05, 48)[rows["qindex"] - 2014 * 4]
    rows["log_fq_earnings"] = (9 + rows["person_effect"] - 0.0009 * (rows["age"] - 50) ** 2 + season
                               + premium * rows["post_associate"] + rng.normal(0, 0.1, len(rows)))
    rows["track"] = "associate"
    return rows


def test_fixed_effects_recover_the_premium_and_the_cross_section_overstates_it():
    toy = _credential_toy()
    fe = panel.credential_premium(toy, level="associate")
    assert fe.unit == "log points" and fe.target == "credential_premium.associate"
    assert abs(fe.estimate - 0.10) < 3 * fe.std_error, fe
    xs = panel.credential_premium(toy, level="associate", method="cross_section")
    assert xs.estimate > 0.10 + 0.1, xs          # it adds the planted selection (0.3) in part
    assert fe.n == 1500 and 0.4 < fe.n_treated / fe.n < 0.6


def test_credential_premium_refuses_bad_input():
    toy = _credential_toy(n=50)
    with pytest.raises(ValueError, match="level must be one of"):
        panel.credential_premium(toy, level="doctorate")
    with pytest.raises(ValueError, match="method"):
        panel.credential_premium(toy, level="associate", method="pooled")
    with pytest.raises(ValueError, match="cannot be estimated"):
        panel.credential_premium(toy, level="certificate", within_track=False)


def test_credential_panel_on_tiny(tiny_dataset):
    con = sd.connect(tiny_dataset)
    cp = panel.credential_panel(con)
    wages = con.sql("SELECT ssn, ui_account, year * 4 + quarter - 1 AS q, wages FROM ui_wage").df()
    awards = con.sql("SELECT ssn, degree_level, award_date FROM postsec_completion WHERE ssn IS NOT NULL").df()
    con.close()
    assert set(cp["track"]) <= set(panel.CREDENTIAL_LEVELS)
    assert (cp["fq_earnings"] <= cp["earnings"]).all() and not cp.duplicated(["ssn", "qindex"]).any()
    # full-quarter earnings recomputed from the definition for a sample of people
    jobs = wages[wages["ssn"].isin(cp["ssn"].drop_duplicates().sample(25, random_state=3))]
    jobs = jobs.groupby(["ssn", "ui_account", "q"], as_index=False)["wages"].sum()
    keys = set(zip(jobs["ssn"], jobs["ui_account"], jobs["q"]))
    full = [(s, a, q - 1) in keys and (s, a, q + 1) in keys for s, a, q in zip(jobs["ssn"], jobs["ui_account"], jobs["q"])]
    expected = jobs[full].groupby(["ssn", "q"])["wages"].sum()
    got = cp.set_index(["ssn", "qindex"])["fq_earnings"]
    got = got[got.index.get_level_values(0).isin(jobs["ssn"]) & (got > 0)]
    assert got.sort_index().to_dict() == expected.astype(float).sort_index().to_dict()
    # post flags start the quarter after the first award of the level
    awards["q"] = pd.to_datetime(awards["award_date"]).dt.year * 4 + pd.to_datetime(awards["award_date"]).dt.quarter - 1
    first = awards.groupby(["ssn", "degree_level"])["q"].min()
    for level in panel.CREDENTIAL_LEVELS:
        award_q = cp["ssn"].map(first.xs(level, level="degree_level")) if level in first.index.get_level_values(1) \
            else pd.Series(np.nan, index=cp.index)
        assert (cp[f"post_{level}"] == (cp["qindex"] > award_q)).all()


# ------------------------------------------------------------------------------------------ 2020 shock
def test_shock_panel_on_tiny(tiny_dataset):
    con = sd.connect(tiny_dataset)
    sp = panel.shock_panel(con, base="2019Q4", first="2019Q1", last="2020Q4")
    base_workers = con.sql("SELECT COUNT(DISTINCT ssn) FROM ui_wage WHERE year = 2019 AND quarter = 4 "
                           "AND ssn IS NOT NULL").fetchall()[0][0]
    n_quarters = 8
    assert len(sp) == sp["ssn"].nunique() * n_quarters
    assert sp["ssn"].nunique() <= base_workers
    assert sp.groupby("ssn")["naics_sector"].nunique().max() == 1
    assert (sp["employed"] == (sp["earnings"] > 0)).all()
    assert (sp["base_employer_earnings"] <= sp["earnings"]).all()
    base = sp[sp["period"] == "2019Q4"]
    assert (base["employed"] == 1).all() and (base["at_base_employer"] == 1).all()
    # at the base employer: paid by it that quarter, so employed; a full quarter there implies paid there
    assert (sp["at_base_employer"] <= sp["employed"]).all()
    assert (sp.loc[sp["base_employer_earnings"] > 0, "at_base_employer"] == 1).all()
    # recomputed from the records: workers paid in 2020Q2 by the employer that paid them most in 2019Q4
    paid = con.sql("SELECT ssn, ui_account, year * 4 + quarter - 1 AS q, SUM(wages) AS w FROM ui_wage "
                   "WHERE ssn IS NOT NULL GROUP BY ALL").df()
    paid = paid[~paid["ssn"].isin(identifiers.PLACEHOLDER_SSNS)]     # as shock_panel: placeholders are no one
    main = paid[paid["q"] == 2019 * 4 + 3].sort_values(["ssn", "w", "ui_account"], ascending=[True, False, True])
    main = main.drop_duplicates("ssn").set_index("ssn")["ui_account"]
    later = paid[paid["q"] == 2020 * 4 + 1]
    back = set(later.loc[later["ui_account"].to_numpy() == main.reindex(later["ssn"]).to_numpy(), "ssn"])
    q2 = sp[sp["period"] == "2020Q2"].set_index("ssn")["at_base_employer"]
    assert q2.sum() == len(back) > 0 and set(q2.index[q2 == 1]) == back
    with pytest.raises(ValueError, match="base quarter"):
        panel.shock_panel(con, base="2021Q1", first="2019Q1", last="2020Q4")
    con.close()


def test_period_change_is_the_mean_within_unit_change():
    data = pd.DataFrame({
        "ssn": np.repeat(["a", "b", "c", "d"], 2),
        "group": np.repeat(["x", "x", "y", "y"], 2),
        "period": ["2019Q2", "2020Q2"] * 4,
        "y": [1.0, 0.5, 2.0, 1.0, 3.0, 3.5, 1.0, np.nan],
    })
    out = panel.period_change(data, outcome="y", by="group", during=["2020Q2"], before=["2019Q2"])
    assert out.loc["x", "change"] == pytest.approx(-0.75) and out.loc["x", "units"] == 2
    assert out.loc["x", "std_error"] == pytest.approx(np.std([-0.5, -1.0], ddof=1) / np.sqrt(2))
    assert out.loc["y", "units"] == 1                          # d has no outcome in 2020Q2
    with pytest.raises(ValueError, match="non-overlapping"):
        panel.period_change(data, outcome="y", by="group", during=["2020Q2"], before=["2020Q2"])


def test_year_over_year_change_compares_each_unit_with_itself():
    # b leaves after 2019Q2 and c arrives in 2020Q2 with a high value: the average over whoever is there
    # rises, the within-unit change does not see c at all
    data = pd.DataFrame({
        "ssn": ["a", "a", "b", "c"],
        "period": ["2019Q2", "2020Q2", "2019Q2", "2020Q2"],
        "y": [1.0, 1.1, 0.0, 5.0],
    })
    data["qindex"] = data["period"].map(panel.quarter_index)
    out = panel.year_over_year_change(data, outcome="y", periods=["2020Q2"])
    assert list(out.columns) == ["period", "units", "change", "std_error", "ci_low", "ci_high"]
    assert out.loc[0, "units"] == 1 and out.loc[0, "change"] == pytest.approx(0.1)
    assert data.loc[data["period"] == "2020Q2", "y"].mean() - data.loc[data["period"] == "2019Q2", "y"].mean() > 2
    with pytest.raises(ValueError, match="2019Q3, a year earlier"):
        panel.year_over_year_change(data, outcome="y", periods=["2020Q3"])
