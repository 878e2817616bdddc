"""Unit 6 (statelab.datalabs.linkage_report): the master person index and the business index against the truth.

Thresholds, and why they are what they are:

- The deterministic rule links every pair with the same valid SSN plus an agreeing date of birth or full name,
  and the probabilistic rule adds pairs whose weight reaches 17 (at least two rare identifiers agreeing). A
  true pair is missed only when *two* things go wrong at once: no shared valid SSN (missing, placeholder or
  mistyped on one side: a few percent of identities per file) **and** a second identifier lost (a changed
  surname, a missing or garbled date of birth: also a few percent). So pairwise recall should be at least
  0.98 and at most 2% of people split across several MPI ids.
- A false link needs two different people who share a full name and a date of birth, or a mistyped SSN that
  lands on another person's SSN *and* an agreeing identifier: rare among a few thousand people, so pairwise
  precision should be at least 0.99 and fewer than 0.5% of MPI persons should mix two people.
- Firms: the EIN is exact once repaired, and names are only re-spelled (case, punctuation, suffix, DBA), so
  the business index should be essentially exact (precision and recall at least 0.98).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

import synthetic_data as sd
from statelab import linkage
from statelab.datalabs import _common, business_index
from statelab.datalabs import deliverables as dl
from statelab.datalabs import linkage_report as lr


@pytest.fixture(scope="module")
def mpi_con(tiny_dataset):
    con = sd.connect(tiny_dataset, truth=True)
    lr.build_mpi(con)
    lr.build_business_index(con)
    yield con
    con.close()


@pytest.fixture(scope="module")
def course_con(course_dataset):
    con = sd.connect(course_dataset, truth=True)
    lr.build_mpi(con)
    lr.build_business_index(con)
    yield con
    con.close()


# ------------------------------------------------------------------------------------- MPI vs the truth
def _check_quality(q):
    row = q.iloc[0]
    assert row["precision"] >= 0.99, row.to_dict()
    assert row["recall"] >= 0.98, row.to_dict()
    assert row["over_linking_rate"] <= 0.005, row.to_dict()
    assert row["under_linking_rate"] <= 0.02, row.to_dict()
    assert row["impure_units"] == 0  # identity units never mix people


def test_mpi_against_truth_on_tiny(mpi_con):
    _check_quality(lr.mpi_quality(mpi_con))


@pytest.mark.slow
def test_mpi_against_truth_on_course_data(course_con):
    q = lr.mpi_quality(course_con)
    _check_quality(q)
    # every source record is in the index exactly once, and the crosswalk covers it
    n_records = sum(course_con.sql(f"SELECT COUNT(*) FROM {s}").fetchall()[0][0] for s in lr.PERSON_SOURCES)
    assert course_con.sql("SELECT COUNT(*), COUNT(DISTINCT record_id) FROM mpi_index").fetchall()[0] == (
        n_records, n_records)


def test_pairwise_counts_match_an_explicit_enumeration(mpi_con):
    """mpi_quality counts pairs from group sizes; enumerate them on tiny to check the arithmetic."""
    units = mpi_con.sql("""
        SELECT r.unit_id, MIN(c.person_id) AS person_id, MIN(x.mpi_id) AS mpi_id
        FROM mpi_records AS r
        JOIN truth.crosswalk AS c ON c.source_table = r.source_table AND c.record_id = r.record_id
        JOIN mpi_unit_index AS x ON x.unit_id = r.unit_id
        GROUP BY r.unit_id
    """).df()
    pairs = units.merge(units, how="cross", suffixes=("_a", "_b"))
    pairs = pairs[pairs["unit_id_a"] < pairs["unit_id_b"]]
    same_person = pairs["person_id_a"] == pairs["person_id_b"]
    same_mpi = pairs["mpi_id_a"] == pairs["mpi_id_b"]
    q = lr.mpi_quality(mpi_con).iloc[0]
    assert q["true_pairs"] == same_person.sum()
    assert q["predicted_pairs"] == same_mpi.sum()
    assert q["true_positive_pairs"] == (same_person & same_mpi).sum()


@pytest.mark.slow
def test_probabilistic_rules_add_recall_and_a_low_threshold_costs_precision(course_con):
    base = lr.mpi_quality(course_con).iloc[0]
    try:
        lr.link_units(course_con, threshold=1e9)  # deterministic rule only
        det = lr.mpi_quality(course_con).iloc[0]
        lr.link_units(course_con, threshold=10.0)
        low = lr.mpi_quality(course_con).iloc[0]
    finally:
        lr.link_units(course_con)
    assert det["recall"] < base["recall"] - 0.05, (det["recall"], base["recall"])
    assert low["precision"] < base["precision"]
    assert low["over_linked_mpi_persons"] > base["over_linked_mpi_persons"]


def test_mpi_links_agree_with_the_two_file_evaluator(mpi_con):
    """The MPI seen as a WIOA -> UI claims link, judged by statelab.linkage.linkage_quality."""
    pairs = mpi_con.sql("""
        SELECT a.record_id AS source_record_id, b.record_id AS target_record_id
        FROM mpi_index AS a JOIN mpi_index AS b ON a.mpi_id = b.mpi_id
        WHERE a.source_table = 'wioa' AND b.source_table = 'ui_claim'
    """).df()
    q = linkage.linkage_quality(pairs, mpi_con, source_table="wioa", target_table="ui_claim")
    assert q["precision"] >= 0.99 and q["recall"] >= 0.97, q


# The error estimates against the truth, on two seeds: tests/datalabs/test_linkage_error.py.


def test_estimates_by_group_cover_every_unit(mpi_con):
    for by in ("sex", "age_band", "source_table", "state_fips"):
        est = lr.estimate_linkage_error(mpi_con, by=by)
        assert est["units"].sum() == mpi_con.sql("SELECT COUNT(*) FROM mpi_units").fetchall()[0][0], by
        assert est["est_recall"].dropna().between(0, 1).all()


def test_clerical_review_sample_straddles_the_threshold(mpi_con):
    sample = lr.clerical_review_sample(mpi_con, n=8, band=10.0)
    thr = lr.threshold_used(mpi_con)
    assert 0 < len(sample) <= 8
    assert (sample.loc[sample["decision"] == "linked", "weight"] >= thr - 0.05).all()
    assert (sample.loc[sample["decision"] == "not linked", "weight"] < thr).all()
    assert sample.equals(lr.clerical_review_sample(mpi_con, n=8, band=10.0))  # deterministic


def test_weights_order_levels_sensibly(mpi_con):
    w = mpi_con.sql("SELECT field, level, weight FROM mpi_weights").df().set_index(["field", "level"])["weight"]
    for field, levels in lr.FIELDS.items():
        assert w[(field, "agree")] > 0 > w[(field, "disagree")], field
        if field != "ssn":  # on tiny, random pairs meet the same person often enough to blur u for SSN levels
            assert w[(field, "agree")] > w[(field, levels[1])], field


# ------------------------------------------------------------------------------------ crafted pieces
def test_levels_on_crafted_units():
    con = duckdb.connect()
    con.sql("""
        CREATE TABLE mpi_units AS SELECT * FROM (VALUES
            (1, 'wioa', '17', '900112222', '900112222', 'valid', 'MARIA', 'LOPEZ', DATE '1980-03-04', 'F', 1),
            (2, 'snap', '17', '900112223', '900112223', 'valid', 'MARIA', 'LOPES', DATE '1980-03-04', 'F', 1),
            (3, 'snap', '18', NULL, NULL, 'missing', 'MARIA', 'KING', DATE '1980-03-04', 'F', 1),
            (4, 'tanf', '18', '900112222', '900112222', 'valid', 'MARIE', 'LOPEZ', NULL, 'F', 1),
            (5, 'wioa', '29', NULL, NULL, 'missing', 'MARIA', 'LOPEZ', DATE '1980-04-03', 'F', 1),
            (6, 'wioa', '29', '900999999', '900999999', 'valid', 'JOHN', 'SMITH', DATE '1990-01-01', 'M', 1)
        ) AS t(unit_id, source_table, state_fips, ssn_raw, ssn, ssn_status, first_name, last_name, dob, sex, n_records)
    """)
    lr.compare_pairs(con)
    got = con.sql("SELECT unit_a, unit_b, ssn_level, first_level, last_level, dob_level FROM mpi_pairs "
                  "ORDER BY unit_a, unit_b").fetchall()
    assert (1, 2, "near", "agree", "near", "agree") in got        # one SSN digit and one letter off
    assert (1, 3, "missing", "agree", "disagree", "agree") in got  # a surname change without an SSN
    assert (1, 4, "agree", "near", "agree", "missing") in got      # blocked on the SSN
    assert (1, 5, "missing", "agree", "agree", "near") in got      # blocked on the name; day and month swapped
    assert not [p for p in got if 6 in p[:2]]                      # shares nothing: never a candidate
    assert all(a < b for a, b, *_ in got)


def test_components_close_links_transitively():
    ids = np.array([10, 11, 12, 13, 14])
    got = _common.components(ids, np.array([10, 13]), np.array([12, 12]))
    assert list(got) == [10, 11, 10, 10, 14]


# ------------------------------------------------------------------------------------- procurement
def _check_business(q):
    row = q.iloc[0]
    assert row["precision"] >= 0.98 and row["recall"] >= 0.98, row.to_dict()
    assert row["over_linked_keys"] == 0
    assert row["minority_dollars_index"] == pytest.approx(row["minority_dollars_truth"], rel=0.01)


def test_business_index_against_truth_on_tiny(mpi_con):
    lr.business_contracts(mpi_con)
    _check_business(lr.business_index_quality(mpi_con))


@pytest.mark.slow
def test_business_index_against_truth_on_course_data(course_con):
    lr.run_pipeline(course_con, lr.track_pipeline("procurement"))
    q = lr.business_index_quality(course_con)
    _check_business(q)
    assert q.iloc[0]["cert_records_matched_to_vendor"] >= 0.9 * q.iloc[0]["cert_records"]
    # the repair matters: some EINs lost a leading zero, and an unpadded join misses them
    short = course_con.sql("SELECT COUNT(*) FROM vendor_dot WHERE LENGTH(CAST(tax_id AS VARCHAR)) < 9").fetchall()[0][0]
    assert short > 0
    # business_contracts agrees with the pipeline's analysis table
    firms = lr.business_contracts(course_con)
    assert firms["contract_dollars"].sum() == course_con.sql(
        "SELECT SUM(contract_dollars) FROM pr_analysis").fetchall()[0][0]


def test_business_name_standardization():
    con = duckdb.connect()
    names = ["Alexander, L.L.C.", "ALEXANDER LLC", "The Alexander Llc DBA Smith", "ALEXANDER L L C", "Alexander, Inc."]
    got = [con.sql(f"SELECT {business_index.norm_name_sql(repr(n))}").fetchall()[0][0] for n in names]
    assert got == ["ALEXANDER"] * 5


# ------------------------------------------------------------------------------------- pipelines
@pytest.mark.parametrize("track", lr.TRACK_NAMES)
def test_track_pipeline_runs_and_is_reproducible(track, tiny_dataset):
    con = sd.connect(tiny_dataset)
    log = lr.prepare_track(con, track)
    table = lr.ANALYSIS_TABLES[track]
    assert log["name"].iloc[-1] == table and (log["rows"] > 0).all()
    first = con.sql(f"SELECT * FROM {table}").df()
    again = sd.connect(tiny_dataset)
    lr.prepare_track(again, track)
    second = again.sql(f"SELECT * FROM {table}").df()
    key = first.columns[:2].tolist()
    pd.testing.assert_frame_equal(first.sort_values(key).reset_index(drop=True),
                                  second.sort_values(key).reset_index(drop=True))
    # the saved script rebuilds the same table
    script = lr.pipeline_script(lr.track_pipeline(track))
    again.execute(script)
    assert again.sql(f"SELECT COUNT(*) FROM {table}").fetchall()[0][0] == len(first)


def test_mpi_raises_wage_link_coverage_for_completers(tiny_dataset):
    con = sd.connect(tiny_dataset)
    lr.prepare_track(con, "student_outcomes")
    cov = lr.wage_link_coverage(con, "student_outcomes").set_index("state_fips")
    assert cov.loc["all", "via_mpi"] > cov.loc["all", "own_ssn_valid"] + 0.1


def test_workforce_reemployment_matches_the_track_measure(tiny_dataset):
    """With SSNs present on every claim, the MPI-based rate is close to the SSN-only measure of unit 2."""
    from statelab.datalabs import tracks

    con = sd.connect(tiny_dataset)
    lr.prepare_track(con, "workforce")
    mine = con.sql("SELECT AVG(employed_q2) FROM wf_analysis").fetchall()[0][0]
    theirs = tracks.compute_measure(con, "workforce", "claimant_reemployment_q2")
    assert mine == pytest.approx(float(theirs.loc[theirs.iloc[:, 0] == "all", "value"].iloc[0]), abs=0.03)


# ------------------------------------------------------------------------------------- stack, report
def test_score_stack_normalizes_weights():
    opts = lr.stack_options()
    a = lr.score_stack(opts, {"cost": 1, "security": 1})
    b = lr.score_stack(opts, {"cost": 5, "security": 5})
    pd.testing.assert_frame_equal(a, b)
    only_cost = lr.score_stack(opts, {"cost": 1}).set_index("option")["score"]
    assert only_cost.to_dict() == opts.set_index("option")["cost"].astype(float).to_dict()
    assert list(a["rank"]) == list(range(1, len(opts) + 1))


@pytest.mark.parametrize("weights, exc", [({"speed": 1}, ValueError), ({"cost": -1}, ValueError), ({}, ValueError),
                                          ({"cost": True}, ValueError)])
def test_score_stack_rejects_bad_weights(weights, exc):
    with pytest.raises(exc):
        lr.score_stack(lr.stack_options(), weights)


@pytest.mark.parametrize("track", lr.TRACK_NAMES)
def test_linkage_report_renders_for_every_track(track, tiny_dataset):
    con = sd.connect(tiny_dataset)
    lr.prepare_track(con, track)
    report = lr.linkage_report(con, track, team="Test team")
    assert report.missing() == []
    md = report.render_markdown()
    for heading in ("## Match rates", "## Estimated linkage error", "## Reproducible pipeline", "## Technology stack"):
        assert heading in md
    assert lr.ANALYSIS_TABLES[track] in md
    assert "<table>" in report.render_html()
    report.fields["limitations"] = []
    with pytest.raises(dl.MissingFieldsError, match="limitations"):
        report.render_markdown()


# ------------------------------------------------------------------------------------- errors
def test_errors_quote_the_bad_value(tiny_dataset):
    con = sd.connect(tiny_dataset)
    with pytest.raises(ValueError, match="'nope'"):
        lr.build_identity_units(con, sources=["nope"])
    with pytest.raises(TypeError, match="'wioa'"):
        lr.build_identity_units(con, sources="wioa")
    with pytest.raises(ValueError, match="'bad prefix'"):
        lr.build_identity_units(con, prefix="bad prefix")
    with pytest.raises(ValueError, match="'school'"):
        lr.track_pipeline("school")
    lr.build_mpi(con)
    with pytest.raises(TypeError, match="True"):
        lr.link_units(con, threshold=True)
    with pytest.raises(ValueError, match="truth=True"):
        lr.mpi_quality(con)
    with pytest.raises(ValueError, match="'income'"):
        lr.estimate_linkage_error(con, by="income")
    with pytest.raises(ValueError, match="'procurement'|procurement"):
        lr.wage_link_coverage(con, "procurement")
