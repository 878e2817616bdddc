"""Module 5 (defining a cohort): the lesson's headline, tied to the hidden truth.

The lesson builds the cohort of 2019 TANF leavers (spells ending in 2019, a 2-month gap rule, usable head SSNs,
first exit per SSN) and measures employment four quarters after the exit quarter from the home state's wage
file and from every state's file. Here the lesson's own SQL -- read from the notebook's code cells, not copied
-- is run on the tiny dataset, each cohort member is mapped to the true person through `truth.crosswalk`
(source_table 'tanf'), and followed in `truth.earnings`. What must hold:

* the lesson's rates are the person-level outcomes averaged (its table and its per-state counts agree);
* home-state employment <= all-state employment, person by person;
* all-state employment equals true *in-region* employment (earnings minus out-of-region earnings) for every
  leaver untouched by SSN noise; the touched leavers (a wrong head SSN in TANF, a noisy SSN on one of their
  own wage records, or someone else's wage record carrying their SSN) are counted from the truth, and the
  all-state rate lies within that count of the true in-region rate;
* true in-region employment <= true employment anywhere.

No expected number is written down: everything is computed from the data.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

import synthetic_data as sd
from statelab import identifiers

LESSON = Path(__file__).resolve().parents[2] / "modules" / "05-cohort-analysis" / "01-defining-a-cohort.ipynb"
WINDOW_2019 = "BETWEEN 201901 AND 201912"


def _lesson_sql_cells() -> list[str]:
    """The lesson's code cells that run SQL on the workspace (not the connect or plotting cells)."""
    cells = [c.source for c in nbformat.read(LESSON, as_version=4).cells if c.cell_type == "code"]
    return [src for src in cells if "con.sql(" in src and "sd.connect" not in src]


def _run_lesson(con, *, window: str | None = None) -> dict:
    """Execute the lesson's SQL cells on ``con``; ``window`` replaces the 2019 exit window if given."""
    cells = _lesson_sql_cells()
    assert sum(WINDOW_2019 in src for src in cells) >= 2, "the lesson no longer selects exits with " + WINDOW_2019
    namespace: dict = {"con": con}
    imports = nbformat.read(LESSON, as_version=4).cells[0].source  # the lesson's import cell (statelab helpers)
    exec(compile(imports, str(LESSON), "exec"), namespace)  # noqa: S102 - the course's own notebook
    for src in cells:
        if window is not None:
            src = src.replace(WINDOW_2019, window)
        exec(compile(src, str(LESSON), "exec"), namespace)  # noqa: S102 - the course's own notebook
    for name in ("track", "by_state"):
        assert name in namespace, f"the lesson no longer defines {name!r}"
    return namespace


def _people(con, k: int = 4):
    """One row per lesson cohort member: measured outcomes in quarter k after exit, the truth, noise flags."""
    df = con.sql(f"""
        WITH members AS (
            SELECT c.ssn, c.state_fips, c.exit_qindex + {k} AS t,
                   MIN(x.person_id) AS person_id, COUNT(DISTINCT x.person_id) AS n_persons
            FROM cohort AS c
            JOIN tanf_leavers_2019 AS l ON l.head_ssn = c.ssn AND l.exit_month = c.exit_month
            JOIN tanf AS r ON r.case_id = l.case_id
            JOIN truth.crosswalk AS x ON x.source_table = 'tanf' AND x.record_id = r.record_id
            GROUP BY c.ssn, c.state_fips, c.exit_qindex
        ),
        wage AS (
            SELECT w.ssn, w.year * 4 + w.quarter - 1 AS t, x.person_id
            FROM ui_wage AS w
            JOIN truth.crosswalk AS x ON x.source_table = 'ui_wage' AND x.record_id = w.record_id
        )
        SELECT mb.ssn, mb.person_id, mb.n_persons,
               COALESCE((SELECT SUM(cw.wages) FROM cohort_wages AS cw
                         WHERE cw.ssn = mb.ssn AND cw.qindex = mb.t), 0) AS wages_all,
               COALESCE((SELECT SUM(cw.wages) FROM cohort_wages AS cw
                         WHERE cw.ssn = mb.ssn AND cw.qindex = mb.t AND cw.wage_state = mb.state_fips), 0)
                   AS wages_home,
               COALESCE(te.earnings, 0) AS true_earnings,
               COALESCE(te.earnings - te.out_of_region_earnings, 0) AS true_in_region,
               mb.ssn <> p.ssn AS head_ssn_wrong,
               EXISTS (SELECT 1 FROM wage AS w WHERE w.person_id = mb.person_id AND w.t = mb.t
                       AND (w.ssn IS NULL OR w.ssn <> p.ssn)) AS own_record_noisy,
               EXISTS (SELECT 1 FROM wage AS w WHERE w.ssn = mb.ssn AND w.t = mb.t
                       AND w.person_id <> mb.person_id) AS foreign_record
        FROM members AS mb
        JOIN truth.person AS p ON p.person_id = mb.person_id
        LEFT JOIN truth.earnings AS te
               ON te.person_id = mb.person_id AND te.year * 4 + te.quarter - 1 = mb.t
    """).df()
    df["touched"] = df.head_ssn_wrong | df.own_record_noisy | df.foreign_record
    return df


def _check_headline(con, ns: dict, *, min_people: int):
    cohort_size = con.sql("SELECT COUNT(*) FROM cohort").fetchall()[0][0]
    df = _people(con, 4)
    n = len(df)
    assert n == cohort_size, "every cohort member must map to a true person through truth.crosswalk"
    assert n >= min_people, f"only {n} leavers: the check would say little"
    assert (df.n_persons == 1).all(), "a cohort SSN's exit case maps to more than one true person"

    home, allst = df.wages_home > 0, df.wages_all > 0
    in_region, truly = df.true_in_region > 0, df.true_earnings > 0

    # The lesson's own numbers are these person-level outcomes, averaged or counted.
    row = ns["track"].set_index("relative_quarter").loc[4]
    assert int(row.people) == n
    assert float(row.employment_rate) == pytest.approx(allst.mean())
    assert float(row.employment_rate_home_state) == pytest.approx(home.mean())
    by_state = ns["by_state"]
    assert int(by_state.leavers.sum()) == n
    assert int(by_state.working_any_state_file.sum()) == int(allst.sum())
    assert int(by_state.working_home_state_file.sum()) == int(home.sum())

    # 1. The home state's file is part of the combined file: never more employment, person by person.
    assert not (home & ~allst).any()
    assert home.mean() <= allst.mean()

    # 2. All states' files = the truth inside the region, wherever no SSN noise touches the leaver.
    mismatch = allst != in_region
    assert df.touched[mismatch].all(), df[mismatch]
    clean = df[~df.touched]
    assert ((clean.wages_all > 0) == (clean.true_in_region > 0)).all()
    assert (clean.wages_all.astype(float) == clean.true_in_region.astype(float)).all()

    # 3. The bound from SSN noise, computed from the truth: the all-state rate is within touched / n of the
    #    true in-region rate, and the home-state rate cannot exceed that ceiling either.
    bound = df.touched.sum() / n
    assert allst.mean() <= in_region.mean() + bound + 1e-12
    assert abs(allst.mean() - in_region.mean()) <= bound + 1e-12
    assert home.mean() <= allst.mean() <= in_region.mean() + bound + 1e-12
    assert df.touched.sum() <= max(3, 0.1 * n), f"{df.touched.sum()} of {n} leavers touched by SSN noise"

    # 4. Work outside the region is real work no file holds.
    assert not (in_region & ~truly).any()
    assert in_region.mean() <= truly.mean()
    return df


def test_headline_2019_cohort_on_tiny(tiny_con):
    """The lesson exactly as written (2019 exits): a small cohort on tiny, but every relationship holds."""
    ns = _run_lesson(tiny_con)
    _check_headline(tiny_con, ns, min_people=5)


def test_pooled_cohort_on_tiny(tiny_con):
    """The same statements with exits pooled over 2015-2023: enough leavers on tiny for a real check."""
    ns = _run_lesson(tiny_con, window="BETWEEN 201501 AND 202312")
    df = _check_headline(tiny_con, ns, min_people=50)
    assert df.touched.sum() < len(df)


@pytest.mark.slow
def test_headline_2019_cohort_on_course_data(course_dataset):
    """The lesson's 2019 cohort on the course profile: the relationships, and a real cross-state gap."""
    con = sd.connect(course_dataset, truth=True)
    try:
        ns = _run_lesson(con)
        df = _check_headline(con, ns, min_people=100)
        # Border commuting is planted: some leavers work only across a state line.
        assert (df.wages_all > 0).mean() > (df.wages_home > 0).mean()
    finally:
        con.close()


# ------------------------------------------------------------- statements checked on the course data, two seeds
PRACTICE = LESSON.with_name("02-practice.ipynb")


def _practice_cells() -> list[str]:
    return [c.source for c in nbformat.read(PRACTICE, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.slow
def test_gap_rule_removes_the_planted_churn(course_con):
    """Lesson step 3: the spells the 2-month gap rule removes are churn (a case reopened under a new case id, as
    truth.assistance_churn records it), and churn is real: some 2019 spell ends are not exits."""
    ns = _run_lesson(course_con)
    churn = ns["churn"].iloc[0]
    assert churn.back_within_gap > 0
    removed = course_con.sql(f"""
        SELECT s.case_id, s.head_ssn IN ({identifiers.placeholders_sql()}) AS placeholder,
               s.case_id IN (SELECT closed_case_id FROM truth.assistance_churn WHERE program = 'tanf') AS planted
        FROM tanf_spells AS s
        WHERE s.last_month BETWEEN 201901 AND 201912
          AND s.case_id NOT IN (SELECT case_id FROM tanf_leavers_2019)
    """).df()
    assert len(removed) == churn.back_within_gap
    # a placeholder is always "back" (someone else keeps using it); the lesson drops those in step 5
    people = removed[~removed["placeholder"]]
    assert len(people) > 0 and people["planted"].mean() >= 0.75, removed
    # the shared rule (two cases at once) flags no SSN that belongs to one true person
    shared = course_con.sql("""
        SELECT l.head_ssn, COUNT(DISTINCT x.person_id) AS persons
        FROM leaver_ssn_check AS l JOIN tanf AS t ON t.head_ssn = l.head_ssn
        JOIN truth.crosswalk AS x ON x.source_table = 'tanf' AND x.record_id = t.record_id
        WHERE l.ssn_status = 'shared' GROUP BY l.head_ssn
    """).df()
    assert (shared["persons"] >= 2).all(), shared


@pytest.mark.slow
def test_practice_statements(course_con):
    """Practice 1: the 2020 leavers are more often employed a year later than the 2019 leavers. Practice 2: 2019
    UI claimants were almost all employed the quarter before filing. Practice 3: most of the gap rule's effect
    comes by two months."""
    ns: dict = {"con": course_con}
    exec(compile(nbformat.read(PRACTICE, as_version=4).cells[0].source, str(PRACTICE), "exec"), ns)  # noqa: S102
    for src in _practice_cells():
        if "con.sql(" in src and "sd.connect" not in src and "plotting" not in src:
            exec(compile(src, str(PRACTICE), "exec"), ns)  # noqa: S102 - the course's own notebook
    cohorts = ns["cohorts"].set_index("exit_year")
    assert cohorts.loc[2020, "working_year_after"] > cohorts.loc[2019, "working_year_after"]
    claimants = ns["claimants"].set_index("relative_quarter")
    assert claimants.loc[-1, "employment_rate"] >= 0.9
    gap_sql = [src for src in _practice_cells() if "g(gap_months)" in src]
    assert len(gap_sql) == 1
    exec(compile(gap_sql[0].replace("con.sql(", "gap_table = con.sql(", 1), str(PRACTICE), "exec"), ns)  # noqa: S102
    gaps = ns["gap_table"].set_index("gap_months")["leavers"]
    assert gaps[0] - gaps[2] > gaps[2] - gaps[3] >= 0
