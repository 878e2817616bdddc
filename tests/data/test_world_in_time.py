"""The world changes over time, follows each year's rules, and plants the messes lessons teach (issue 15).

Each test would fail on the generator before issue 15: flat wages, rules fixed at 2023 values, Q1 the
low quarter, no pandemic programs, no race on claims, no recalls, no SSN collisions. Levels against
published figures are checked on the `default` profile by ``statelab-data realism``
(``tests/data/test_realism.py``); here the shapes and rules, on `tiny`.
"""

import tomllib
from importlib import resources

import pytest


def _law():
    text = resources.files("synthetic_data").joinpath("reference/ui_law.toml").read_text("utf-8")
    return tomllib.loads(text)["states"]


def _period_on(state, day):
    periods = sorted(_law()[state]["period"], key=lambda p: str(p["effective"]))
    return [p for p in periods if str(p["effective"]) <= day][-1]


def test_wages_grow_over_the_window_and_q1_is_the_bonus_quarter(tiny_con):
    aww = dict(tiny_con.sql("""
        SELECT year * 10 + quarter, sum(total_qtr_wages) / sum(month1_emplvl + month2_emplvl + month3_emplvl)
        FROM employer_quarter GROUP BY ALL""").fetchall())
    # QCEW: about +35% from 2016 to 2023 (the flat world grew 3%)
    annual = {y: sum(aww[y * 10 + q] for q in range(1, 5)) / 4 for y in (2016, 2023)}
    assert annual[2023] / annual[2016] > 1.25
    # Q1 above Q2 in every year (the old world had Q1 as the low quarter)
    assert all(aww[y * 10 + 1] > aww[y * 10 + 2] for y in range(2015, 2026))


def test_weekly_benefits_follow_each_years_law(tiny_con):
    """No claim's weekly benefit exceeds the maximum in force when its benefit year began, and the
    maximum moves: Illinois's indexed maximum in 2023 is far above 2015's."""
    rows = tiny_con.sql("""SELECT state_fips, CAST(benefit_year_start AS VARCHAR), weekly_benefit_amount,
                                  max_benefit_amount FROM ui_claim
                           WHERE program = 'UI' AND monetarily_eligible""").fetchall()
    assert rows
    for state, start, wba, mba in rows:
        law = _period_on(state, start)
        assert law["min_wba"] <= wba <= law["max_wba"], (state, start, wba)
        assert mba <= law["max_weeks"] * wba, (state, start, mba)
    assert _period_on("17", "2023-06-01")["max_wba"] > 1.2 * _period_on("17", "2015-06-01")["max_wba"]


def test_kentucky_maximum_weeks_changed_in_2023():
    """Kentucky paid up to 26 weeks until its 2022 reform indexed duration (the old world used 16 throughout)."""
    assert _period_on("21", "2019-06-01")["max_weeks"] == 26
    assert _period_on("21", "2024-06-01")["max_weeks"] < 26


def test_pandemic_programs_reach_the_claims_files(tiny_con):
    by_program = dict(tiny_con.sql("""SELECT program, count(*) FROM ui_claim_week
                                      WHERE year(week_ending_date) IN (2020, 2021) GROUP BY 1""").fetchall())
    assert by_program.get("PEUC", 0) > 0 and by_program.get("PUA", 0) > 0
    # FPUC: $600 in spring 2020, $300 in 2021, nothing in 2019 or 2023
    supplements = dict(tiny_con.sql("""SELECT year(week_ending_date), max(federal_supplement) FROM ui_claim_week
                                       GROUP BY 1""").fetchall())
    assert supplements[2020] == 600 and supplements[2021] == 300
    assert supplements[2019] == 0 and supplements.get(2023, 0) == 0
    assert tiny_con.sql("SELECT count(*) FROM ui_claim WHERE program = 'PUA'").fetchall()[0][0] > 0


def test_claims_surge_in_2020(tiny_con):
    n = dict(tiny_con.sql("""SELECT year(date_filed), count(*) FROM ui_claim WHERE program = 'UI'
                             GROUP BY 1""").fetchall())
    assert n[2020] > 2.5 * n[2019]


def test_claims_record_race_and_ethnicity_with_some_left_blank(tiny_con):
    share, kinds = tiny_con.sql("""SELECT avg((race_ethnicity IS NOT NULL)::INT), count(DISTINCT race_ethnicity)
                                   FROM ui_claim""").fetchall()[0]
    assert 0.75 < share < 0.97 and kinds >= 4


def test_laid_off_workers_are_recalled_to_their_last_employer(tiny_con):
    """Some claimants' next wages come from the employer that laid them off (the old world had almost none)."""
    share = tiny_con.sql("""
        WITH c AS (SELECT ssn, state_fips, last_employer_ui_account AS acct,
                          year(date_filed) * 4 + quarter(date_filed) - 1 AS t
                   FROM ui_claim WHERE separation_reason = 'lack_of_work' AND ssn IS NOT NULL),
        back AS (SELECT c.ssn, c.t, min(w.year * 4 + w.quarter - 1) AS first_t
                 FROM c JOIN ui_wage w ON w.ssn = c.ssn AND w.state_fips = c.state_fips
                 WHERE w.year * 4 + w.quarter - 1 BETWEEN c.t + 1 AND c.t + 4 GROUP BY ALL)
        SELECT avg((EXISTS (SELECT 1 FROM ui_wage w WHERE w.ssn = b.ssn AND w.ui_account = c.acct
                                                     AND w.year * 4 + w.quarter - 1 = b.first_t))::INT)
        FROM back b JOIN c USING (ssn, t)""").fetchall()[0][0]
    assert share > 0.2


def test_some_mistyped_ssns_belong_to_another_person(tiny_con):
    """A typo can land on a real person's SSN (module 3 warns about it); the truth says whose record it is."""
    collisions, wrong = tiny_con.sql("""
        WITH r AS (SELECT w.ssn, x.person_id FROM ui_wage w
                   JOIN truth.crosswalk x ON x.source_table = 'ui_wage' AND x.record_id = w.record_id
                   WHERE w.ssn IS NOT NULL)
        SELECT count(DISTINCT r.person_id) FILTER (WHERE o.person_id IS NOT NULL),
               count(DISTINCT r.person_id)
        FROM r JOIN truth.person p USING (person_id)
        LEFT JOIN truth.person o ON o.ssn = r.ssn AND o.person_id != r.person_id
        WHERE r.ssn != p.ssn AND r.ssn NOT IN ('999999999', '000000000', '999999998', '666666666')""").fetchall()[0]
    assert collisions > 0
    assert collisions < wrong         # most typos still match no one


def test_establishment_sizes_look_like_qcew(tiny_con):
    """Most establishments are small (the old world's mean was 28 jobs, with 22% under 5)."""
    mean, small = tiny_con.sql("""SELECT avg(month3_emplvl), avg((month3_emplvl < 5)::INT) FROM employer_quarter
                                  WHERE year = 2019 AND quarter = 1 AND month3_emplvl > 0""").fetchall()[0]
    assert mean < 20 and small > 0.3
    classes = dict(tiny_con.sql("SELECT size_class, count(*) FROM employer GROUP BY 1").fetchall())
    assert max(classes, key=classes.get) == 1


@pytest.mark.parametrize("table,closed", [("snap", "file_month"), ("tanf", "reporting_month")])
def test_cases_reopen_within_months_of_closing(tiny_con, table, closed):
    """Administrative churn: a closed case's head opens a new case within 1-3 months (the old world's shortest gap was 4)."""
    gaps = tiny_con.sql(f"""
        WITH s AS (SELECT head_ssn, case_id, min({closed}) AS first, max({closed}) AS last FROM {table}
                   WHERE head_ssn IS NOT NULL GROUP BY ALL),
        o AS (SELECT head_ssn, first, last, lead(first) OVER (PARTITION BY head_ssn ORDER BY first) AS nxt FROM s)
        SELECT count(*) FILTER (WHERE (nxt // 100 * 12 + nxt % 100) - (last // 100 * 12 + last % 100) BETWEEN 2 AND 4)
        FROM o WHERE nxt IS NOT NULL""").fetchall()[0][0]
    assert gaps > 0
