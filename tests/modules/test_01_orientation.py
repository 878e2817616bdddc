"""Module 1 (orientation): the lesson's headline results, tied to the hidden truth.

The lesson counts, per quarter, the share of reported SSNs paid by two or more employer accounts, and the
distinct SSNs with wages in 2023 Q2. The queries are taken from the lesson notebook itself and run on the tiny
dataset; the truth is reached through `truth.crosswalk` (wage record -> person) and `truth.person.ssn`. What
must hold:

* grouping clean wage records by SSN is grouping them by person: where no record of a person-quarter has a
  missing or wrong SSN, the lesson's employer count equals the person's true number of in-region employers;
* the wage files never show more employers than a person truly has jobs (`truth.earnings.n_jobs`), and a job
  outside the region is never in any file;
* the lesson's multiple-employer share, quarter by quarter, lies within the interval that the quarter's noisy
  records (SSN missing, mistyped or a placeholder) allow around the true share, and below the truth's
  multiple-job share plus that noise;
* distinct SSNs in 2023 Q2 differ from the true number of people with in-region earnings by at most the
  number of noisy records in that quarter.

No expected number is written down: everything is computed from the data.
"""

from __future__ import annotations

import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
import nbrules  # noqa: E402

LESSON = Path(__file__).resolve().parents[2] / "modules" / "01-orientation" / "01-working-with-confidential-data.ipynb"


def lesson_sql(marker: str) -> str:
    return nbrules.sql_containing(LESSON, marker)


# Wage records with their true person and whether the reported SSN is wrong (missing, mistyped, placeholder).
_LINKED = """
    CREATE OR REPLACE TEMP TABLE linked AS
    SELECT w.record_id, w.state_fips, w.ui_account, w.ssn, w.year, w.quarter, x.person_id,
           (w.ssn IS NULL OR w.ssn <> p.ssn) AS noisy
    FROM ui_wage AS w
    JOIN truth.crosswalk AS x ON x.source_table = 'ui_wage' AND x.record_id = w.record_id
    JOIN truth.person AS p ON p.person_id = x.person_id
"""


def _link(con):
    con.sql(_LINKED)
    n_wage = con.sql("SELECT COUNT(*) FROM ui_wage").fetchall()[0][0]
    assert con.sql("SELECT COUNT(*) FROM linked").fetchall()[0][0] == n_wage, "a wage record has no true person"


def test_wage_files_never_show_more_employers_than_true_jobs(tiny_con):
    _link(tiny_con)
    bad = tiny_con.sql("""
        WITH pq AS (
            SELECT person_id, year, quarter, COUNT(DISTINCT (state_fips, ui_account)) AS employers
            FROM linked GROUP BY person_id, year, quarter
        )
        SELECT COUNT(*) AS person_quarters,
               COUNT(e.person_id) AS with_truth,
               SUM(CASE WHEN pq.employers + CASE WHEN e.out_of_region_earnings > 0 THEN 1 ELSE 0 END
                             > e.n_jobs THEN 1 ELSE 0 END) AS too_many
        FROM pq LEFT JOIN truth.earnings AS e USING (person_id, year, quarter)
    """).df().iloc[0]
    assert bad.with_truth == bad.person_quarters, "a person-quarter with wage records has no true earnings"
    assert bad.too_many == 0


def test_clean_ssn_quarters_count_true_employers(tiny_con):
    """Where no SSN noise touches a person-quarter, the lesson's SSN grouping is exactly the person grouping."""
    _link(tiny_con)
    diff = tiny_con.sql("""
        WITH by_ssn AS (
            SELECT ssn, year, quarter, COUNT(DISTINCT (state_fips, ui_account)) AS employers,
                   COUNT(DISTINCT person_id) AS people, MAX(CASE WHEN noisy THEN 1 ELSE 0 END) AS any_noisy
            FROM linked WHERE ssn IS NOT NULL GROUP BY ssn, year, quarter
        ),
        by_person AS (
            SELECT person_id, year, quarter, COUNT(DISTINCT (state_fips, ui_account)) AS employers,
                   MAX(CASE WHEN noisy THEN 1 ELSE 0 END) AS any_noisy
            FROM linked GROUP BY person_id, year, quarter
        )
        SELECT COUNT(*) AS clean, SUM(CASE WHEN s.employers <> b.employers THEN 1 ELSE 0 END) AS differ
        FROM by_ssn AS s
        JOIN truth.person AS p ON p.ssn = s.ssn
        JOIN by_person AS b ON b.person_id = p.person_id AND b.year = s.year AND b.quarter = s.quarter
        WHERE s.any_noisy = 0 AND s.people = 1 AND b.any_noisy = 0
    """).df().iloc[0]
    assert diff.clean > 1000
    assert diff.differ == 0


def test_multiple_employer_share_ties_to_truth(tiny_con):
    _link(tiny_con)
    measured = tiny_con.sql(lesson_sql("share_multiple")).df()
    truth = tiny_con.sql("""
        WITH pq AS (
            SELECT person_id, year, quarter, COUNT(DISTINCT (state_fips, ui_account)) AS employers
            FROM linked GROUP BY person_id, year, quarter
        ),
        noise AS (
            SELECT year, quarter, SUM(CASE WHEN noisy THEN 1 ELSE 0 END) AS noisy_records
            FROM linked GROUP BY year, quarter
        )
        SELECT pq.year, pq.quarter, COUNT(*) AS people,
               SUM(CASE WHEN pq.employers >= 2 THEN 1 ELSE 0 END) AS multi_employer,
               SUM(CASE WHEN e.n_jobs >= 2 THEN 1 ELSE 0 END) AS multi_job,
               MAX(noise.noisy_records) AS k
        FROM pq
        JOIN truth.earnings AS e USING (person_id, year, quarter)
        JOIN noise USING (year, quarter)
        GROUP BY pq.year, pq.quarter
    """).df()
    df = measured.merge(truth, on=["year", "quarter"], how="outer", validate="1:1")
    assert df.notna().all().all(), "the lesson and the truth cover different quarters"
    assert len(df) >= 40
    share, k, d = df.share_multiple.astype(float), df.k.astype(float), df.people.astype(float)
    m_true, jobs = df.multi_employer.astype(float), df.multi_job.astype(float)
    # Each noisy record, moved from its person's group to its reported SSN's (or dropped), changes the number of
    # groups and the number of multi-employer groups by at most one each.
    eps = 1e-12
    assert (share >= (m_true - k) / (d + k) - eps).all(), df[share < (m_true - k) / (d + k)]
    assert (share <= (m_true + k) / (d - k) + eps).all(), df[share > (m_true + k) / (d - k)]
    assert (m_true <= jobs).all()
    assert (share <= (jobs + k) / (d - k) + eps).all()
    # The noise is small next to the signal: the bound says something.
    assert (k <= 0.05 * d).all(), "more SSN noise than the profile plants"
    assert abs(share.mean() - (m_true / d).mean()) < 0.01


def test_distinct_ssns_in_2023q2_tie_to_true_people(tiny_con):
    _link(tiny_con)
    grain = tiny_con.sql(lesson_sql("distinct_ssns")).df().iloc[0]
    t = tiny_con.sql("""
        SELECT
            (SELECT COUNT(*) FROM truth.earnings
              WHERE year = 2023 AND quarter = 2 AND earnings - out_of_region_earnings > 0) AS true_people,
            (SELECT COUNT(DISTINCT person_id) FROM linked WHERE year = 2023 AND quarter = 2) AS people_in_files,
            (SELECT COUNT(*) FROM linked WHERE year = 2023 AND quarter = 2 AND noisy) AS k,
            (SELECT COUNT(*) FROM linked WHERE year = 2023 AND quarter = 2) AS rows
    """).df().iloc[0]
    # Everyone with in-region earnings has a wage record, and nobody else does.
    assert t.true_people == t.people_in_files
    assert grain.wage_rows == t.rows
    assert grain.rows_without_ssn <= t.k
    assert abs(int(grain.distinct_ssns) - int(t.true_people)) <= int(t.k)
    assert grain.distinct_ssns < grain.wage_rows   # person-quarter is not unique: the lesson's point
    assert t.k <= 0.05 * t.rows


# ------------------------------------------------------------- statements checked on the course data, two seeds
# The lesson and practice state patterns the data could change; each is checked here on the `default` profile
# at the course seed and at seed 7, from the notebooks' own SQL where they run one.
import pytest  # noqa: E402

from statelab import identifiers  # noqa: E402

PRACTICE = LESSON.with_name("02-practice.ipynb")


@pytest.mark.slow
def test_many_employer_ssns_are_placeholders(course_con):
    """Lesson: the "people" paid by the most employers in 2023 Q2 are one number shared by many workers."""
    top = course_con.sql("""
        SELECT ssn, COUNT(DISTINCT (state_fips, ui_account)) AS employers
        FROM ui_wage WHERE year = 2023 AND quarter = 2 AND ssn IS NOT NULL
        GROUP BY ssn ORDER BY employers DESC, ssn LIMIT 1
    """).fetchall()[0]
    assert top[0] in identifiers.PLACEHOLDER_SSNS, top


@pytest.mark.slow
def test_repeated_grain_is_two_people_under_one_ssn(course_con):
    """Practice 1: the documented grain repeats, and every repeat is two true people under one reported SSN."""
    n = course_con.sql(nbrules.sql_containing(PRACTICE, "repeated_combinations")).fetchall()[0][0]
    people = course_con.sql("""
        WITH g AS (SELECT state_fips, ui_account, ssn, year, quarter FROM ui_wage WHERE ssn IS NOT NULL
                   GROUP BY ALL HAVING COUNT(*) > 1)
        SELECT COUNT(DISTINCT x.person_id) AS persons
        FROM g JOIN ui_wage AS w USING (state_fips, ui_account, ssn, year, quarter)
        JOIN truth.crosswalk AS x ON x.source_table = 'ui_wage' AND x.record_id = w.record_id
        GROUP BY g.state_fips, g.ui_account, g.ssn, g.year, g.quarter
    """).df()
    assert n > 0 and len(people) == n
    assert (people["persons"] >= 2).all()


@pytest.mark.slow
def test_the_2020_shock_adds_no_two_employer_people(course_con):
    """Practice 2(c): two-employer people do not rise in 2020 Q2, and the overlapping share barely moves."""
    course_con.sql("""
        CREATE OR REPLACE TEMP TABLE person_employer_quarter AS
        SELECT DISTINCT ssn, state_fips, ui_account, year * 4 + quarter - 1 AS q FROM ui_wage WHERE ssn IS NOT NULL
    """)
    t = course_con.sql(nbrules.sql_containing(PRACTICE, "two_plus_continuing")).df().set_index("quarter")
    share = 1 - t["two_plus_continuing"] / t["two_plus_employers"]
    assert t.loc["2020 Q2", "two_plus_employers"] <= t.loc["2019 Q2", "two_plus_employers"]
    assert abs(share["2020 Q2"] - share["2019 Q2"]) < 0.03, share


@pytest.mark.slow
def test_low_paid_jobs_are_mostly_partial_quarters(course_con):
    """Practice 3(c): jobs paying under the 10th percentile in 2023 Q2 mostly did not span the quarter."""
    r = course_con.sql("""
        WITH pq AS (SELECT DISTINCT ssn, state_fips, ui_account, year * 4 + quarter - 1 AS q
                    FROM ui_wage WHERE ssn IS NOT NULL),
        jobs AS (SELECT ssn, state_fips, ui_account, wages FROM ui_wage
                 WHERE year = 2023 AND quarter = 2 AND ssn IS NOT NULL),
        flagged AS (
            SELECT j.wages < (SELECT quantile_cont(wages, 0.1) FROM ui_wage WHERE year = 2023 AND quarter = 2)
                       AS low,
                   EXISTS (SELECT 1 FROM pq WHERE pq.ssn = j.ssn AND pq.state_fips = j.state_fips
                           AND pq.ui_account = j.ui_account AND pq.q = 2023 * 4)
                   AND EXISTS (SELECT 1 FROM pq WHERE pq.ssn = j.ssn AND pq.state_fips = j.state_fips
                           AND pq.ui_account = j.ui_account AND pq.q = 2023 * 4 + 2) AS spans
            FROM jobs AS j)
        SELECT AVG(CASE WHEN NOT spans THEN 1.0 ELSE 0 END) FILTER (WHERE low) AS partial_low,
               AVG(CASE WHEN NOT spans THEN 1.0 ELSE 0 END) FILTER (WHERE NOT low) AS partial_rest
        FROM flagged
    """).df().iloc[0]
    assert r.partial_low > 0.5 and r.partial_low > r.partial_rest, r
