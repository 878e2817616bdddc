"""Module 2 (EDA with SQL): the lesson's profiling results, tied to an independent computation and the truth.

The queries are taken from the lesson notebook itself and run on the tiny dataset. What must hold:

* rows without an SSN, by state, equal a pandas count of NULLs in each state's file, and every such row still
  belongs to a true person (`truth.crosswalk`);
* the lesson's count of repeated (ssn, year, quarter) combinations equals the number of true person-quarters
  with two or more wage records (several jobs in one state's file, or jobs in several states' files), up to
  the records whose SSN is missing or wrong: exactly on the person-quarters no SSN noise touches, and within
  the number of noisy records overall; those person-quarters all truly hold two or more jobs;
* with the employer account and state in the key, every remaining repeat merges two different people;
* the SNAP grain (case x file month) holds, and each case has one true head;
* the lesson's wage percentiles equal pandas' interpolated quantiles.

No expected number is written down: everything is computed from the data.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
import nbrules  # noqa: E402

LESSON = Path(__file__).resolve().parents[2] / "modules" / "02-eda-with-sql" / "01-exploring-the-records.ipynb"


def lesson_sql(marker: str) -> str:
    return nbrules.sql_containing(LESSON, marker)


def _link(con):
    """Wage records with their true person and whether the reported SSN is missing or wrong."""
    con.sql("""
        CREATE OR REPLACE TEMP TABLE linked AS
        SELECT w.record_id, w.state_fips, w.ui_account, w.ssn, w.year, w.quarter, x.person_id,
               (w.ssn IS NULL OR w.ssn <> p.ssn) AS noisy
        FROM ui_wage AS w
        JOIN truth.crosswalk AS x ON x.source_table = 'ui_wage' AND x.record_id = w.record_id
        JOIN truth.person AS p ON p.person_id = x.person_id
    """)
    assert (con.sql("SELECT COUNT(*) FROM linked").fetchall()[0][0]
            == con.sql("SELECT COUNT(*) FROM ui_wage").fetchall()[0][0]), "a wage record has no true person"


def test_rows_without_ssn_by_state(tiny_con):
    _link(tiny_con)
    lesson = tiny_con.sql(lesson_sql("pct_without_ssn")).df().set_index("state_fips").sort_index()
    rows = tiny_con.sql("SELECT state_fips, ssn FROM ui_wage").df()
    expected = rows.assign(miss=rows["ssn"].isna()).groupby("state_fips")["miss"].agg(["size", "sum"]).sort_index()
    assert list(lesson.index) == list(expected.index)
    assert lesson.wage_rows.astype(int).tolist() == expected["size"].astype(int).tolist()
    assert lesson.rows_without_ssn.astype(int).tolist() == expected["sum"].astype(int).tolist()
    pct = 100 * expected["sum"] / expected["size"]
    assert np.allclose(lesson.pct_without_ssn.astype(float), pct.round(2), atol=0.0051)
    assert int(expected["sum"].sum()) > 0, "the tiny data should have some missing SSNs to teach with"
    # Missing-SSN rows belong to somebody: each is a noisy record of a true person.
    noisy = tiny_con.sql("""
        SELECT state_fips, SUM(CASE WHEN ssn IS NULL THEN 1 ELSE 0 END) AS missing,
               SUM(CASE WHEN noisy THEN 1 ELSE 0 END) AS noisy, COUNT(DISTINCT CASE WHEN ssn IS NULL THEN person_id END) AS people
        FROM linked GROUP BY state_fips ORDER BY state_fips
    """).df().set_index("state_fips")
    assert noisy.missing.astype(int).tolist() == lesson.rows_without_ssn.astype(int).tolist()
    assert (noisy.missing <= noisy.noisy).all()
    assert (noisy.people[noisy.missing > 0] >= 1).all()


def test_repeated_person_quarters_tie_to_truth(tiny_con):
    _link(tiny_con)
    repeated = int(tiny_con.sql(lesson_sql("repeated_person_quarters")).fetchall()[0][0])
    t = tiny_con.sql("""
        WITH by_person AS (
            SELECT person_id, year, quarter, COUNT(*) AS records, COUNT(DISTINCT state_fips) AS states,
                   MAX(CASE WHEN noisy THEN 1 ELSE 0 END) AS any_noisy
            FROM linked GROUP BY person_id, year, quarter
        ),
        by_ssn AS (
            SELECT ssn, year, quarter, COUNT(*) AS records, COUNT(DISTINCT person_id) AS people,
                   MAX(CASE WHEN noisy THEN 1 ELSE 0 END) AS any_noisy
            FROM linked WHERE ssn IS NOT NULL GROUP BY ssn, year, quarter
        ),
        clean_ssn AS (   -- SSN-quarters made only of correct SSNs of one person whose records are all clean
            SELECT s.* FROM by_ssn AS s
            JOIN truth.person AS p ON p.ssn = s.ssn
            JOIN by_person AS b ON b.person_id = p.person_id AND b.year = s.year AND b.quarter = s.quarter
            WHERE s.any_noisy = 0 AND s.people = 1 AND b.any_noisy = 0
        )
        SELECT
            (SELECT COUNT(*) FROM by_person WHERE records >= 2) AS true_repeated,
            (SELECT COUNT(*) FROM by_person WHERE records >= 2 AND states = 1) AS within_one_state_file,
            (SELECT COUNT(*) FROM by_person AS b JOIN truth.earnings AS e USING (person_id, year, quarter)
              WHERE b.records >= 2 AND e.n_jobs >= 2) AS true_repeated_with_2_jobs,
            (SELECT COUNT(*) FROM by_person WHERE records >= 2 AND any_noisy = 0) AS true_repeated_clean,
            -- a clean person whose SSN also carries another person's mistyped record (dense SSNs collide)
            (SELECT COUNT(*) FROM by_person AS b JOIN truth.person AS p USING (person_id)
              JOIN by_ssn AS s ON s.ssn = p.ssn AND s.year = b.year AND s.quarter = b.quarter
              WHERE b.records >= 2 AND b.any_noisy = 0 AND (s.people > 1 OR s.any_noisy = 1)) AS collided,
            (SELECT COUNT(*) FROM clean_ssn WHERE records >= 2) AS lesson_repeated_clean,
            (SELECT COUNT(*) FROM linked WHERE noisy) AS k
    """).df().iloc[0].astype(int)
    # Every truly repeated person-quarter is a person with two or more jobs in the quarter.
    assert t.true_repeated_with_2_jobs == t.true_repeated
    # Most repeats are several jobs within one state's file; the rest are jobs in several states' files.
    assert 0 < t.within_one_state_file <= t.true_repeated
    assert t.within_one_state_file > t.true_repeated / 2
    # Untouched by SSN noise (their own records and others' mistyped into their SSN), the lesson's grouping is
    # the true one, exactly.
    assert t.lesson_repeated_clean == t.true_repeated_clean - t.collided
    assert t.collided <= t.k
    # Each noisy record moves out of its person's group (or drops out) and changes the count by at most one.
    assert abs(repeated - t.true_repeated) <= t.k
    assert t.k < t.true_repeated / 2, "the SSN noise would swamp the lesson's point"


def test_repeats_with_the_employer_in_the_key_merge_different_people(tiny_con):
    _link(tiny_con)
    lesson = int(tiny_con.sql(lesson_sql("repeated_job_quarters")).fetchall()[0][0])
    groups = tiny_con.sql("""
        SELECT state_fips, ui_account, ssn, year, quarter, COUNT(DISTINCT person_id) AS people,
               MAX(CASE WHEN noisy THEN 1 ELSE 0 END) AS any_noisy
        FROM linked WHERE ssn IS NOT NULL
        GROUP BY state_fips, ui_account, ssn, year, quarter
        HAVING COUNT(*) > 1
    """).df()
    assert lesson == len(groups)
    assert (groups.people >= 2).all() and (groups.any_noisy == 1).all()
    assert lesson <= tiny_con.sql("SELECT COUNT(*) FROM linked WHERE noisy").fetchall()[0][0]


def test_snap_grain_and_heads(tiny_con):
    grain = tiny_con.sql(lesson_sql("distinct_case_months")).df().iloc[0]
    snap = tiny_con.sql("SELECT record_id, case_id, file_month FROM snap").df()
    assert grain.case_months == len(snap)
    assert grain.distinct_case_months == len(snap.drop_duplicates(["case_id", "file_month"])) == len(snap)
    assert grain.cases == snap.case_id.nunique()
    assert tiny_con.sql(lesson_sql("GROUP BY case_id, file_month\n")).df().empty
    heads = tiny_con.sql("""
        SELECT s.case_id, COUNT(DISTINCT x.person_id) AS heads, COUNT(x.person_id) AS linked, COUNT(*) AS rows
        FROM snap AS s
        LEFT JOIN truth.crosswalk AS x ON x.source_table = 'snap' AND x.record_id = s.record_id
        GROUP BY s.case_id
    """).df()
    assert (heads.linked == heads.rows).all() and (heads.heads == 1).all()


def test_wage_percentiles_match_pandas(tiny_con):
    lesson = tiny_con.sql(lesson_sql("percentile_cont(0.1)")).df().sort_values("year")
    wages = tiny_con.sql("SELECT year, wages FROM ui_wage").df()
    expected = wages.groupby("year")["wages"].quantile([0.1, 0.25, 0.5, 0.75, 0.9]).unstack()
    assert lesson.year.astype(int).tolist() == expected.index.astype(int).tolist()
    got = lesson[["p10", "p25", "p50", "p75", "p90"]].to_numpy(dtype=float)
    assert np.allclose(got, expected.to_numpy(dtype=float), rtol=1e-9)
    assert (got[:, 2] < got[:, 4]).all() and ((got[:, 4] - got[:, 2]) > (got[:, 2] - got[:, 0])).all()


# ------------------------------------------------------------- statements checked on the course data, two seeds
import pytest  # noqa: E402

from statelab import identifiers  # noqa: E402

PRACTICE = LESSON.with_name("02-practice.ipynb")
PLACEHOLDERS = ", ".join(f"'{s}'" for s in identifiers.PLACEHOLDER_SSNS)


@pytest.mark.slow
def test_placeholders_head_many_cases_at_once_and_churners_one_at_a_time(course_con):
    """Lesson: SSNs heading five or more SNAP cases are mostly real people (churn), one case at a time; the
    placeholders head many cases in the same month, and no other SSN more than a couple."""
    heads = course_con.sql(nbrules.sql_containing(LESSON, "most_cases_in_one_month")).df()
    heads["listed"] = heads["head_ssn"].isin(identifiers.PLACEHOLDER_SSNS)
    five = heads[heads["cases"] >= 5]
    assert len(five) >= 50 and five["listed"].mean() < 0.05, "churn gives real people five or more cases"
    assert (five.loc[~five["listed"], "most_cases_in_one_month"] == 1).mean() >= 0.9
    assert heads["listed"].any()
    assert heads.loc[heads["listed"], "most_cases_in_one_month"].min() >= 10
    assert heads.loc[~heads["listed"], "most_cases_in_one_month"].max() <= 3
    # the real people behind the non-placeholder SSNs with five or more cases: one true person each
    one_person = course_con.sql(f"""
        SELECT s.head_ssn, COUNT(DISTINCT x.person_id) AS persons
        FROM snap AS s JOIN truth.crosswalk AS x ON x.source_table = 'snap' AND x.record_id = s.record_id
        WHERE s.head_ssn IS NOT NULL AND s.head_ssn NOT IN ({PLACEHOLDERS})
        GROUP BY s.head_ssn HAVING COUNT(DISTINCT s.case_id) >= 5
    """).df()
    assert (one_person["persons"] == 1).mean() >= 0.9


@pytest.mark.slow
def test_no_person_heads_two_snap_cases_in_a_month(course_con):
    """Practice 1(b): churn reopens a case later, so a true person never heads two cases at once."""
    n = course_con.sql("""
        SELECT COUNT(*) FROM (
            SELECT x.person_id, s.file_month FROM snap AS s
            JOIN truth.crosswalk AS x ON x.source_table = 'snap' AND x.record_id = s.record_id
            GROUP BY ALL HAVING COUNT(DISTINCT s.case_id) > 1)
    """).fetchall()[0][0]
    assert n == 0


@pytest.mark.slow
def test_claims_surge_pua_and_separation_reasons(course_con):
    """Lesson: claims filed in 2020 surge; covid_self_certified claims are the PUA claims; lack of work leads
    and quits and discharges pay far fewer weeks."""
    by_year = dict(course_con.sql("SELECT YEAR(date_filed), COUNT(*) FROM ui_claim GROUP BY 1").fetchall())
    assert by_year[2020] > 2 * by_year[2019]
    pua = course_con.sql("""
        SELECT COUNT(*) FILTER (WHERE (program = 'PUA') <> (separation_reason = 'covid_self_certified'))
        FROM ui_claim
    """).fetchall()[0][0]
    assert pua == 0
    reasons = course_con.sql(nbrules.sql_containing(LESSON, "pct_exhausted")).df().set_index("separation_reason")
    assert reasons.index[0] == "lack_of_work"
    assert reasons.loc[["quit", "discharge"], "mean_weeks_paid"].max() < reasons.loc["lack_of_work", "mean_weeks_paid"] / 2


@pytest.mark.slow
def test_practice_coverage_and_the_direction_of_ssn_errors(course_con):
    """Practice 2(a), 2(b) and 4(d): every state's TANF file covers the same months, TANF is far smaller than
    SNAP, and distinct SSNs with wages in 2023 Q2 fall slightly short of the true number of people."""
    months = course_con.sql("SELECT DISTINCT MIN(reporting_month), MAX(reporting_month) FROM tanf "
                            "GROUP BY state_fips").fetchall()
    assert len(months) == 1
    sizes = course_con.sql("""
        SELECT (SELECT COUNT(DISTINCT case_id) FROM tanf) AS tanf, (SELECT COUNT(DISTINCT case_id) FROM snap) AS snap
    """).df().iloc[0]
    assert sizes.tanf * 5 < sizes.snap
    got = course_con.sql(nbrules.sql_containing(PRACTICE, "ssns_with_4_plus_employers")).df().iloc[0]
    true = course_con.sql("""
        SELECT COUNT(DISTINCT x.person_id) FROM ui_wage AS w
        JOIN truth.crosswalk AS x ON x.source_table = 'ui_wage' AND x.record_id = w.record_id
        WHERE w.year = 2023 AND w.quarter = 2
    """).fetchall()[0][0]
    assert got.distinct_ssns < true
    assert true - got.distinct_ssns < 0.01 * true, "a slight undercount"
