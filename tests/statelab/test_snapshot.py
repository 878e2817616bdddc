"""Unit tests for statelab.snapshot (cross-sectional program tables; WIOA exiter outcomes are in test_outcomes)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from statelab import identifiers
from statelab import snapshot as s

YEAR, QUARTER = 2022, 1


# ------------------------------------------------------------------------------------ periods
def test_reference_period_ever_covers_the_quarter():
    p = s.reference_period(2022, 4, definition="ever")
    assert (p.first_month, p.last_month) == (202210, 202212)
    assert (p.start, p.end) == (dt.date(2022, 10, 1), dt.date(2022, 12, 31))
    assert p.reference_date == dt.date(2022, 12, 12)


def test_reference_period_point_is_the_12th_of_the_last_month():
    p = s.reference_period(2022, 1, definition="point")
    assert (p.first_month, p.last_month) == (202203, 202203)
    assert p.start == p.end == p.reference_date == dt.date(2022, 3, 12)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(year=2022, quarter=5), ValueError),
        (dict(year=2022, quarter=0), ValueError),
        (dict(year="2022", quarter=1), TypeError),
        (dict(year=2022, quarter=1.0), TypeError),
        (dict(year=2022, quarter=1, definition="monthly"), ValueError),
    ],
)
def test_reference_period_rejects_bad_arguments(kwargs, error):
    year, quarter = kwargs.pop("year"), kwargs.pop("quarter")
    with pytest.raises(error, match="quarter|year|definition"):
        s.reference_period(year, quarter, **kwargs)


def test_bad_programs_and_groupings_are_refused(tiny_con):
    with pytest.raises(ValueError, match="'Medicaid'"):
        s.recipients(tiny_con, year=YEAR, quarter=QUARTER, programs=["SNAP", "Medicaid"])
    with pytest.raises(ValueError, match="head_ssn"):
        s.snapshot_counts(tiny_con, year=YEAR, quarter=QUARTER, by=["program", "head_ssn"])
    with pytest.raises(ValueError, match="key"):
        s.coenrollment(tiny_con, year=YEAR, quarter=QUARTER, key="name")
    with pytest.raises(ValueError, match="ssn_rule"):
        s.coenrollment(tiny_con, year=YEAR, quarter=QUARTER, ssn_rule="all")


# --------------------------------------------------------------------------------- recipients
@pytest.fixture()
def ever(tiny_con):
    return s.recipients(tiny_con, year=YEAR, quarter=QUARTER, definition="ever")


def test_recipients_one_row_per_unit(ever):
    assert list(ever.columns) == ["program", "source_table", "unit_id", "record_id", "ssn", "ssn_status",
                                  "state_fips", "county_fips", "sex", "dob", "age", "age_group", "race_ethnicity"]
    assert not ever.duplicated(["program", "unit_id"]).any()
    assert set(ever["program"]) <= set(s.PROGRAMS)
    assert set(ever["ssn_status"]) <= set(identifiers.KEY_STATUSES) - {"conflicting", "never_issued"}


def test_ssn_status_rules(ever):
    assert ever.loc[ever["ssn"].isna(), "ssn_status"].eq("missing").all()
    placeholders = ever["ssn"].isin(s.PLACEHOLDER_SSNS)
    assert ever.loc[placeholders, "ssn_status"].eq("placeholder").all()
    value = identifiers.ssn_status(ever["ssn"].astype(object))
    assert (ever.loc[value.ne("valid").to_numpy(), "ssn_status"] == value[value.ne("valid")].to_numpy()).all()
    usable = ever[ever["ssn_status"] == "usable"]
    per_program = usable.groupby(["program", "ssn"])["unit_id"].nunique()
    assert (per_program <= 3).all()


def test_shared_rule_catches_an_unlisted_repeated_ssn(tiny_con):
    strict = s.recipients(tiny_con, year=YEAR, quarter=QUARTER, programs=["SNAP"], max_units=1)
    repeated = strict.dropna(subset=["ssn"]).groupby("ssn")["unit_id"].nunique()
    repeated = set(repeated[repeated > 1].index) - set(s.PLACEHOLDER_SSNS)
    assert set(strict.loc[strict["ssn"].isin(repeated), "ssn_status"]) <= {"shared"}


def test_age_groups_match_dates_of_birth(ever):
    ref = pd.Timestamp(2022, 3, 12)
    dob = pd.to_datetime(ever["dob"])
    age = ref.year - dob.dt.year - ((dob.dt.month * 100 + dob.dt.day) > 312).astype(int)
    known = dob.notna()
    assert (ever.loc[known, "age"].astype(int) == age[known].astype(int)).all()
    assert ever.loc[~known, "age_group"].eq("unknown").all()
    for label, lo, hi in s.AGE_GROUPS:
        rows = ever[ever["age_group"] == label]
        assert rows["age"].between(lo, hi).all(), label


def test_race_comes_from_the_files_that_record_it(ever, tiny_con):
    """WIOA and UI claims record race and ethnicity (a UI claimant may leave it blank); TANF and SNAP do not."""
    assert ever.loc[ever["program"].isin(["TANF", "SNAP"]), "race_ethnicity"].isna().all()
    ui = ever[ever["program"] == "UI"]
    claims = tiny_con.sql("SELECT claim_id, race_ethnicity FROM ui_claim").df().set_index("claim_id")["race_ethnicity"]
    assert len(ui) > 0
    assert ui["race_ethnicity"].equals(claims.loc[ui["unit_id"]].set_axis(ui.index))


def test_point_in_time_is_within_ever(tiny_con, ever):
    point = s.recipients(tiny_con, year=YEAR, quarter=QUARTER, definition="point")
    key = ["program", "unit_id"]
    assert set(map(tuple, point[key].to_numpy())) <= set(map(tuple, ever[key].to_numpy()))


# ------------------------------------------------------------------------------------- counts
def test_counts_agree_with_the_recipients_table(tiny_con, ever):
    counts = s.snapshot_counts(tiny_con, year=YEAR, quarter=QUARTER, by=["program", "sex"])
    usable = ever[ever["ssn_status"] == "usable"]
    expect = ever.groupby(["program", "sex"]).size()
    got = counts.set_index(["program", "sex"])
    assert got["units"].to_dict() == expect.to_dict()
    people = usable.groupby(["program", "sex"])["ssn"].nunique()
    assert got["people"].to_dict() == people.reindex(got.index, fill_value=0).to_dict()
    assert (got["units"] == got["no_usable_ssn"] + ever.assign(u=ever["ssn_status"] == "usable")
            .groupby(["program", "sex"])["u"].sum().reindex(got.index)).all()


def test_counts_without_groups(tiny_con, ever):
    total = s.snapshot_counts(tiny_con, year=YEAR, quarter=QUARTER, by=())
    assert list(total.columns) == ["units", "people", "no_usable_ssn"]
    assert int(total["units"].iloc[0]) == len(ever)


def test_coenrollment_pairs_are_consistent(tiny_con, ever):
    pairs = s.coenrollment(tiny_con, year=YEAR, quarter=QUARTER)
    assert len(pairs) == 6
    assert (pairs["both"] <= pairs[["people_a", "people_b"]].min(axis=1)).all()
    usable = ever[ever["ssn_status"] == "usable"]
    sets = {p: set(g["ssn"]) for p, g in usable.groupby("program")}
    for r in pairs.itertuples():
        assert r.both == len(sets.get(r.program_a, set()) & sets.get(r.program_b, set()))
    loose = s.coenrollment(tiny_con, year=YEAR, quarter=QUARTER, ssn_rule="any")
    assert (loose["both"] >= pairs["both"]).all()


def test_programs_per_person_adds_up(tiny_con, ever):
    combos = s.programs_per_person(tiny_con, year=YEAR, quarter=QUARTER)
    usable = ever[ever["ssn_status"] == "usable"]
    assert combos["people"].sum() == usable["ssn"].nunique()
    per_person = usable.groupby("ssn")["program"].nunique()
    assert combos.loc[combos["n_programs"] >= 2, "people"].sum() == int((per_person >= 2).sum())
    assert (combos["n_programs"] == combos["combination"].str.count(r" \+ ") + 1).all()


def test_person_key_is_an_instructor_tool(tiny_con, tiny_dataset):
    import synthetic_data as sd

    truthful = s.coenrollment(tiny_con, year=YEAR, quarter=QUARTER, key="person")
    assert (truthful["both"] <= truthful[["people_a", "people_b"]].min(axis=1)).all()
    learner = sd.connect(tiny_dataset)
    try:
        with pytest.raises(Exception, match="truth"):
            s.coenrollment(learner, year=YEAR, quarter=QUARTER, key="person")
    finally:
        learner.close()


def test_sql_is_portable():
    sqlglot = pytest.importorskip("sqlglot")
    for sql in (s.recipients_sql(year=YEAR, quarter=QUARTER, definition="point"),):
        assert "//" not in sql and "::" not in sql
        sqlglot.parse_one(sql, read="postgres")
