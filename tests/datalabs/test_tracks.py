"""The Data Labs case tracks: packaged data, lookup errors, and measures that run on the tiny dataset."""

from __future__ import annotations

import pandas as pd
import pytest

import synthetic_data as sd
from statelab.datalabs import tracks


def test_four_tracks_in_order():
    assert tracks.TRACK_NAMES == ("safety_net", "workforce", "student_outcomes", "procurement")
    assert [t.name for t in tracks.all_tracks()] == list(tracks.TRACK_NAMES)


@pytest.mark.parametrize("name", tracks.TRACK_NAMES)
def test_track_content_is_complete(name):
    t = tracks.get_track(name)
    for attr in ("title", "short_title", "summary", "problem_statement", "decision", "population"):
        assert getattr(t, attr).strip(), attr
    assert set(t.logic_model) == {"inputs", "activities", "outputs", "outcomes"}
    assert all(t.logic_model.values())
    assert len(t.stakeholders) >= 4 and {s.influence for s in t.stakeholders} <= {"high", "medium", "low"}
    assert len(t.research_questions) >= 2 and len(t.measures) >= 2
    assert list(t.stakeholder_table().columns) == ["role", "organization", "interest", "influence"]
    assert len(t.question_table()) == len(t.research_questions)
    assert any(not n.columns for n in t.needs), "every track should list at least one gap"


@pytest.mark.parametrize("name", tracks.TRACK_NAMES)
def test_tables_and_columns_exist_in_the_learner_schema(name):
    t = tracks.get_track(name)
    book = sd.codebook_dict()
    for table in t.source_tables:
        assert table in book, table
    for m in t.measures:
        assert set(m.tables) <= set(book), m.name
    for need in t.needs:
        for ref in need.columns:
            table, column = ref.split(".")
            assert column in [c["name"] for c in book[table]["columns"]], ref


@pytest.mark.parametrize("bad", ["safety-net", "Workforce", "", "housing"])
def test_unknown_track_names_the_value_and_the_choices(bad):
    with pytest.raises(ValueError) as err:
        tracks.get_track(bad)
    assert repr(bad) in str(err.value) and "safety_net" in str(err.value)


def test_did_you_mean_hint():
    with pytest.raises(ValueError, match="did you mean 'safety_net'"):
        tracks.get_track("Safety-Net")


def test_non_string_track_is_a_type_error():
    with pytest.raises(TypeError, match="42"):
        tracks.get_track(42)


def test_unknown_measure_names_it():
    with pytest.raises(ValueError, match="'nope'.*snap_churn_rate"):
        tracks.get_track("safety_net").measure("nope")


@pytest.mark.parametrize("name", tracks.TRACK_NAMES)
def test_every_measure_runs_on_tiny(name, tiny_dataset):
    con = sd.connect(tiny_dataset)
    t = tracks.get_track(name)
    for m in t.measures:
        df = tracks.compute_measure(con, name, m.name)
        assert list(df.columns[1:]) == ["n", "value"], m.name
        assert df.iloc[-1, 0] == "all", m.name
        assert df["n"].iloc[-1] == df["n"].iloc[:-1].sum(), m.name
        values = df["value"].dropna()
        if m.unit == "share":
            assert values.between(0, 1).all(), m.name
        else:
            assert (values >= 0).all(), m.name


def test_co_enrollment_matches_an_independent_pandas_computation(tiny_dataset):
    con = sd.connect(tiny_dataset)
    got = tracks.compute_measure(con, "safety_net", "tanf_snap_co_enrollment").set_index("state_fips")
    tanf = con.sql("SELECT state_fips, head_ssn, reporting_month FROM tanf").df()
    snap = con.sql("SELECT head_ssn, file_month FROM snap WHERE head_ssn IS NOT NULL").df().drop_duplicates()
    ssn = tanf["head_ssn"]
    usable = (ssn.notna() & ssn.str.fullmatch(r"[0-9]{9}").fillna(False)
              & ~ssn.isin(["999999998", "123456789"]) & ~ssn.str.fullmatch(r"(\d)\1{8}").fillna(False))
    tanf = tanf[usable]
    keys = set(zip(snap["head_ssn"], snap["file_month"]))
    tanf = tanf.assign(both=[(s, m) in keys for s, m in zip(tanf["head_ssn"], tanf["reporting_month"])])
    assert got.loc["all", "n"] == len(tanf)
    assert got.loc["all", "value"] == pytest.approx(tanf["both"].mean())
    by_state = tanf.groupby("state_fips")["both"].mean()
    for state, value in by_state.items():
        assert got.loc[state, "value"] == pytest.approx(value)


def test_reemployment_matches_pandas(tiny_dataset):
    con = sd.connect(tiny_dataset)
    got = tracks.compute_measure(con, "workforce", "claimant_reemployment_q2").set_index("state_fips")
    claims = con.sql("SELECT state_fips, ssn, date_filed FROM ui_claim WHERE ssn IS NOT NULL").df()
    wages = con.sql("SELECT ssn, year * 4 + quarter - 1 AS q FROM ui_wage WHERE ssn IS NOT NULL AND wages > 0").df()
    filed = pd.to_datetime(claims["date_filed"])
    claims["q"] = filed.dt.year * 4 + filed.dt.quarter - 1
    claims = claims[claims["q"] + 2 <= wages["q"].max()]
    paid = set(zip(wages["ssn"], wages["q"]))
    employed = [(s, q + 2) in paid for s, q in zip(claims["ssn"], claims["q"])]
    assert got.loc["all", "n"] == len(claims)  # the claims file has no placeholder SSNs
    assert got.loc["all", "value"] == pytest.approx(sum(employed) / len(employed))
