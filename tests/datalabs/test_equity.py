"""Unit 7 (statelab.datalabs.equity): equity numbers against the truth planted in the data.

What is planted, and so what the checks expect:

- Sex is recorded without error, so missing-identifier shares by *recorded* sex equal the shares by the
  person's true sex.
- A share of women change surname during the window and some files keep the old name, so when the SSN is
  missing, names carry fewer of women's links: the *true* linkage recall is lower (and under-linking higher)
  for women than for men, and the workbook's proxy estimate must order the groups the same way.
- Completers without a valid SSN anywhere cannot reach the wage records and count as not employed, so the
  measured rate understates the truth; the rate among linkable completers is closer to it.
- Certified minority-owned firms win 0.6 times the contracts their size predicts
  (``procurement.minority_award_gap``), so the size-adjusted ratio is well below 1, and, the business index
  being exact, equal to the same ratio computed from the truth.
"""

from __future__ import annotations

import pytest

import synthetic_data as sd
from statelab.datalabs import deliverables as dl
from statelab.datalabs import equity as eq
from statelab.datalabs import linkage_report as lr


@pytest.fixture(scope="module")
def tiny(tiny_dataset):
    con = sd.connect(tiny_dataset, truth=True)
    for track in lr.TRACK_NAMES:
        lr.prepare_track(con, track)
    yield con
    con.close()


@pytest.fixture(scope="module")
def course(course_dataset):
    con = sd.connect(course_dataset, truth=True)
    for track in ("student_outcomes", "procurement"):
        lr.prepare_track(con, track)
    yield con
    con.close()


# -------------------------------------------------------------------------------- who is missing
def test_missing_identifiers_by_recorded_sex_match_true_sex(tiny):
    got = eq.missing_identifiers(tiny, by="sex")
    truth = tiny.sql("""
        SELECT u.source_table, tp.sex AS "group", COUNT(*) AS units,
               AVG(CASE WHEN u.ssn_status = 'valid' THEN 0.0 ELSE 1.0 END) AS no_valid_ssn
        FROM mpi_units AS u
        JOIN (SELECT unit_id, MIN(c.person_id) AS person_id FROM mpi_records AS r
              JOIN truth.crosswalk AS c ON c.source_table = r.source_table AND c.record_id = r.record_id
              GROUP BY unit_id) AS up ON up.unit_id = u.unit_id
        JOIN truth.person AS tp ON tp.person_id = up.person_id
        WHERE u.sex IS NOT NULL
        GROUP BY u.source_table, tp.sex
    """).df()
    merged = got.merge(truth, on=["source_table", "group"], suffixes=("", "_true"))
    assert len(merged) == len(truth) > 0
    assert (merged["units"] == merged["units_true"]).all()
    assert (merged["no_valid_ssn"] - merged["no_valid_ssn_true"]).abs().max() < 1e-12
    assert got["units"].sum() == tiny.sql("SELECT COUNT(*) FROM mpi_units").fetchall()[0][0]


def test_colleges_lack_ssns_most_often(tiny):
    got = eq.missing_identifiers(tiny, by="state_fips")
    share = (got.assign(m=got["no_valid_ssn"] * got["units"]).groupby("source_table")[["m", "units"]].sum()
             .pipe(lambda d: d["m"] / d["units"]))
    assert share.idxmax().startswith("postsec")
    planted = float(tiny.sql("SELECT value FROM truth.parameters WHERE name = 'noise.postsecondary.ssn_missing'")
                    .fetchall()[0][0])
    assert share["postsec_completion"] == pytest.approx(planted, abs=0.08)


# -------------------------------------------------------------------------------- disparate linkage error
def _ordering(est, true):
    est = est.set_index("group")["est_missed_share"]
    true = true.set_index("group")
    assert est["F"] > est["M"], est
    assert true.loc["F", "missed_share"] > true.loc["M", "missed_share"], true
    assert true.loc["F", "under_linking_rate"] > true.loc["M", "under_linking_rate"], true


# On `tiny` a few hundred links are missed per group, so the planted gap between women and men is within
# its sampling noise there and the ordering is checked on the course data; on `tiny` the estimate must
# still be the right size for each group (below).
@pytest.mark.slow
def test_linkage_error_ordering_by_sex_matches_truth_on_course_data(course):
    _ordering(eq.linkage_error_by_group(course, by="sex"), eq.true_linkage_error_by_group(course, by="sex"))


def test_estimated_missed_share_is_the_right_size(tiny):
    est = eq.linkage_error_by_group(tiny, by="sex").set_index("group")
    true = eq.true_linkage_error_by_group(tiny, by="sex").set_index("group")
    for g in ("F", "M"):
        assert abs(est.loc[g, "est_missed_share"] - true.loc[g, "missed_share"]) < 0.01


# -------------------------------------------------------------------------------- outcomes
@pytest.mark.parametrize("track", ["safety_net", "workforce", "student_outcomes"])
def test_outcome_disparities_match_an_independent_computation(tiny, track):
    outcome = next(iter(eq.OUTCOMES[track]))
    table = tiny.sql(f"SELECT * FROM {lr.ANALYSIS_TABLES[track]}").df()
    if track == "safety_net":
        table = table[table["employed_q2"].notna()]
    by = eq.GROUPS[track][0]
    got = eq.outcome_disparities(tiny, track, by=by)
    expected = table.assign(g=table[by].astype("string").fillna("unknown")).groupby("g")[outcome].agg(["size", "mean"])
    got = got.set_index("group")
    assert got["n"].to_dict() == expected["size"].to_dict()
    assert (got["rate"] - expected["mean"].astype(float)).abs().max() < 1e-12
    ref = got.attrs["reference"]
    assert got.loc[ref, "ratio"] == pytest.approx(1.0)
    assert got.attrs["overall"] == pytest.approx(float(table[outcome].mean()))
    assert (got["rate_linkable"] >= got["rate"] - 1e-12).all()  # unlinkable rows count as not employed


def test_measured_rates_understate_the_truth(tiny):
    for track, by in [("workforce", "state_fips"), ("student_outcomes", "state_fips"), ("safety_net", "sex")]:
        t = eq.true_outcome_rates(tiny, track, by=by)
        assert (t["measured"] <= t["true_rate_region"] + 0.01).all(), (track, t)
        assert (t["true_rate_region"] <= t["true_rate"] + 1e-12).all()


def test_churn_on_the_mpi_equals_churn_on_true_people(tiny):
    t = eq.true_outcome_rates(tiny, "safety_net", by="state_fips")
    assert (t["churn_measured"] - t["churn_true"]).abs().max() < 0.005


@pytest.mark.slow
def test_rate_among_linkable_completers_is_closer_to_the_truth(course):
    t = eq.true_outcome_rates(course, "student_outcomes", by="state_fips")
    naive = (t["measured"] - t["true_rate_region"]).abs()
    adjusted = (t["measured_linkable"] - t["true_rate_region"]).abs()
    assert (adjusted < naive).all(), t
    assert (t["measured"] < t["true_rate_region"] - 0.03).all(), t


# -------------------------------------------------------------------------------- procurement
def test_award_ratio_on_tiny_is_defined(tiny):
    mine, truth = eq.award_ratio(tiny).iloc[0], eq.true_award_ratio(tiny).iloc[0]
    assert mine["firms"] <= truth["firms"]
    assert 0 <= truth["uncertified_minority_share"] <= 1


@pytest.mark.slow
def test_award_ratio_matches_truth_and_shows_the_planted_gap(course):
    mine, truth = eq.award_ratio(course).iloc[0], eq.true_award_ratio(course).iloc[0]
    planted = float(course.sql("SELECT value FROM truth.parameters WHERE name = 'procurement.minority_award_gap'")
                    .fetchall()[0][0])
    assert abs(mine["firms"] - truth["firms"]) <= 2
    assert mine["contract_ratio"] == pytest.approx(truth["contract_ratio"], abs=0.05)
    assert mine["contract_ratio"] == pytest.approx(planted, abs=0.15)
    assert mine["contract_ratio"] < 0.8


# -------------------------------------------------------------------------------- deliverable and errors
@pytest.mark.parametrize("track", lr.TRACK_NAMES)
def test_equity_assessment_renders(tiny, track):
    doc = eq.equity_assessment(tiny, track, team="Test team")
    assert doc.missing() == []
    md = doc.render_markdown()
    for heading in ("## Who is missing from which source", "## Disparate error in linkage", "## Findings"):
        assert heading in md
    assert "<table>" in doc.render_html()
    doc.fields["mitigations"] = "TBD"
    with pytest.raises(dl.MissingFieldsError, match="mitigations"):
        doc.render_markdown()


def test_errors_quote_the_bad_value(tiny, tiny_dataset):
    with pytest.raises(ValueError, match="'income'"):
        eq.outcome_disparities(tiny, "workforce", by="income")
    with pytest.raises(ValueError, match="'wages'"):
        eq.outcome_disparities(tiny, "workforce", by="sex", outcome="wages")
    with pytest.raises(ValueError, match="'school'"):
        eq.outcome_disparities(tiny, "school", by="sex")
    with pytest.raises(ValueError, match="'Z'"):
        eq.outcome_disparities(tiny, "workforce", by="sex", reference="Z")
    with pytest.raises(ValueError, match="0"):
        eq.outcome_disparities(tiny, "workforce", by="sex", min_n=0)
    plain = sd.connect(tiny_dataset)
    with pytest.raises(ValueError, match="prepare_track"):
        eq.outcome_disparities(plain, "workforce", by="sex")
    lr.prepare_track(plain, "procurement")
    with pytest.raises(ValueError, match="truth=True"):
        eq.true_award_ratio(plain)
