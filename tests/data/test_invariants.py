"""Each table's invariants, checked against the data and the hidden truth."""

import numpy as np
import pytest

import synthetic_data as sd
from synthetic_data._identity import is_never_issued

PERSON_TABLES = {
    # table: SQL expression for the date the record is about
    "ui_wage": "make_date(t.year, (t.quarter - 1) * 3 + 1, 1)",
    "ui_claim": "t.date_filed",
    "tanf": "make_date(t.reporting_month // 100, t.reporting_month % 100, 1)",
    "snap": "make_date(t.file_month // 100, t.file_month % 100, 1)",
    "postsec_completion": "t.award_date",
    "wioa": "t.entry_date",
}


def test_validation_passes(tiny_dataset):
    assert sd.validate_dataset(tiny_dataset) is True


def test_every_ssn_is_never_issued(tiny_con):
    for table, col in [("truth.person", "ssn"), ("ui_wage", "ssn"), ("ui_claim", "ssn"), ("snap", "head_ssn"),
                       ("tanf", "head_ssn"), ("postsec_enrollment", "ssn"), ("wioa", "ssn")]:
        values = np.array([r[0] for r in tiny_con.sql(f"SELECT DISTINCT {col} FROM {table} WHERE {col} IS NOT NULL").fetchall()])
        assert len(values) > 0, table
        bad = values[~is_never_issued(values)]
        assert bad.size == 0, f"{table}.{col} has issued-range SSNs: {bad[:5]}"


def test_true_ssns_are_unique(tiny_con):
    n, distinct = tiny_con.sql("SELECT count(*), count(DISTINCT ssn) FROM truth.person").fetchall()[0]
    assert n == distinct == 2500


@pytest.mark.parametrize("table", sorted(PERSON_TABLES))
def test_no_activity_after_death(tiny_con, table):
    late = tiny_con.sql(f"""
        SELECT count(*) FROM {table} t
        JOIN truth.crosswalk x ON x.source_table = '{table}' AND x.record_id = t.record_id
        JOIN truth.person p ON p.person_id = x.person_id
        WHERE p.death_date IS NOT NULL AND {PERSON_TABLES[table]} > p.death_date""").fetchall()[0][0]
    assert late == 0


@pytest.mark.parametrize("table", sorted(PERSON_TABLES) + ["postsec_enrollment"])
def test_every_record_has_exactly_one_person(tiny_con, table):
    rows, linked = tiny_con.sql(f"""
        SELECT (SELECT count(*) FROM {table}),
               (SELECT count(*) FROM truth.crosswalk WHERE source_table = '{table}')""").fetchall()[0]
    assert rows > 0 and rows == linked


def test_one_wage_record_per_worker_employer_and_quarter(tiny_con):
    dup = tiny_con.sql("""SELECT count(*) FROM (
        SELECT x.person_id, w.ui_account, w.year, w.quarter FROM ui_wage w
        JOIN truth.crosswalk x ON x.source_table = 'ui_wage' AND x.record_id = w.record_id
        GROUP BY ALL HAVING count(*) > 1)""").fetchall()[0][0]
    assert dup == 0


def test_wage_records_add_up_to_true_in_region_earnings(tiny_con):
    diff = tiny_con.sql("""
        WITH w AS (SELECT x.person_id, w.year, w.quarter, sum(w.wages) AS wages FROM ui_wage w
                   JOIN truth.crosswalk x ON x.source_table = 'ui_wage' AND x.record_id = w.record_id GROUP BY ALL)
        SELECT count(*) FROM truth.earnings e LEFT JOIN w USING (person_id, year, quarter)
        WHERE abs(e.earnings - e.out_of_region_earnings - coalesce(w.wages, 0)) > 1""").fetchall()[0][0]
    assert diff == 0


def test_quarters_inside_the_window(tiny_con):
    lo, hi = tiny_con.sql("SELECT min(year * 10 + quarter), max(year * 10 + quarter) FROM ui_wage").fetchall()[0]
    assert lo == 20141 and hi == 20254


def test_wages_have_a_heavy_right_tail_and_person_quarter_is_not_unique(tiny_con):
    p50, p99, mean = tiny_con.sql("SELECT quantile_cont(wages, 0.5), quantile_cont(wages, 0.99), avg(wages) FROM ui_wage").fetchall()[0]
    assert mean > p50 and p99 > 4 * p50
    multi = tiny_con.sql("""SELECT count(*) FROM (SELECT ssn, year, quarter FROM ui_wage WHERE ssn IS NOT NULL
                            GROUP BY ALL HAVING count(*) > 1)""").fetchall()[0][0]
    assert multi > 100


def test_the_2020_shock_is_visible(tiny_con):
    """Employment in June 2020 is well below June 2019 (the spring layoffs), and back within a few percent by 2022."""
    params = dict(tiny_con.sql("SELECT name, value FROM truth.parameters").fetchall())
    year = int(params["pandemic.start"].strip('"')[:4])
    june = dict(tiny_con.sql("""SELECT year, sum(month3_emplvl) FROM employer_quarter WHERE quarter = 2
                                GROUP BY year""").fetchall())
    assert june[year] < 0.95 * june[year - 1]
    assert abs(june[year + 2] / june[year - 1] - 1) < 0.05


def test_claims_weeks_and_amounts_are_consistent(tiny_con):
    """Each claim's weeks and dollars are its own program's paid weeks; only the last may be partial."""
    bad = tiny_con.sql("""
        WITH w AS (SELECT claim_id, program, count(*) n, sum(amount_paid) paid, max(week_number) last_week
                   FROM ui_claim_week GROUP BY ALL)
        SELECT count(*) FROM ui_claim c LEFT JOIN w ON w.claim_id = c.claim_id AND w.program = c.program
        WHERE coalesce(w.n, 0) != c.weeks_paid OR coalesce(w.paid, 0) != c.total_paid
           OR c.total_paid > c.weekly_benefit_amount * c.weeks_paid
           OR (c.weeks_paid > 0 AND c.total_paid <= c.weekly_benefit_amount * (c.weeks_paid - 1))
           OR c.total_paid > c.max_benefit_amount
           OR (c.program = 'UI' AND NOT c.monetarily_eligible AND c.weeks_paid > 0)
           OR (c.exhausted AND c.total_paid != c.max_benefit_amount)""").fetchall()[0][0]
    assert bad == 0
    # extension weeks (PEUC, EB) follow regular weeks that ran out, and only in 2020-2021
    ext = tiny_con.sql("""
        SELECT count(*) FROM ui_claim_week w JOIN ui_claim c USING (claim_id)
        WHERE w.program IN ('PEUC', 'EB') AND (NOT c.exhausted OR year(w.week_ending_date) NOT IN (2020, 2021))""").fetchall()[0][0]
    assert ext == 0


def test_out_of_state_work_shows_only_after_joining_states(tiny_con):
    """Residents of one state found working only in another state's wage file (border commuters)."""
    cross, home = tiny_con.sql("""
        WITH w AS (SELECT x.person_id, t.state_fips, make_date(t.year, (t.quarter - 1) * 3 + 1, 1) AS d
                   FROM ui_wage t JOIN truth.crosswalk x ON x.source_table = 'ui_wage' AND x.record_id = t.record_id)
        SELECT count(*) FILTER (WHERE w.state_fips != r.state_fips), count(*) FILTER (WHERE w.state_fips = r.state_fips)
        FROM w JOIN truth.residence r ON r.person_id = w.person_id
             AND w.d >= r.start_date AND (r.end_date IS NULL OR w.d < r.end_date)""").fetchall()[0]
    assert cross > 0
    assert cross < 0.1 * home          # commuting is a border-county phenomenon


def test_learner_database_has_no_truth(tiny_dataset):
    import duckdb

    con = duckdb.connect(str(tiny_dataset / "statelab.duckdb"), read_only=True)
    names = {r[0] for r in con.sql("SELECT table_name FROM duckdb_tables()").fetchall()}
    con.close()
    assert names and not names & set(sd.TRUTH_TABLES)


def test_employer_quarter_adds_up_to_the_wage_records(tiny_con):
    bad = tiny_con.sql("""
        WITH w AS (SELECT ui_account, year, quarter, sum(wages) AS wages, count(*) AS n FROM ui_wage GROUP BY ALL)
        SELECT count(*) FROM w FULL JOIN employer_quarter e USING (ui_account, year, quarter)
        WHERE e.total_qtr_wages IS DISTINCT FROM w.wages OR e.month1_emplvl > w.n OR e.month3_emplvl > w.n""").fetchall()[0][0]
    assert bad == 0
    # The world is in a steady state from the first quarter (a burn-in before the window): the first
    # month of 2014 is counted like any other, and the first year does not grow like a world starting empty.
    m1, m3 = tiny_con.sql("""SELECT sum(month1_emplvl), sum(month3_emplvl) FROM employer_quarter
                             WHERE year = 2014 AND quarter = 1""").fetchall()[0]
    assert 0.95 < m1 / m3 < 1.05
    q = dict(tiny_con.sql("""SELECT year * 10 + quarter, sum(month3_emplvl) FROM employer_quarter
                             WHERE year IN (2014, 2015) GROUP BY ALL""").fetchall())
    assert abs(q[20151] / q[20141] - 1) < 0.06
    # month 2 is counted on its own 12th, not interpolated from months 1 and 3
    between = tiny_con.sql("""SELECT avg((month2_emplvl = round((month1_emplvl + month3_emplvl) / 2))::INT)
                              FROM employer_quarter WHERE month1_emplvl != month3_emplvl""").fetchall()[0][0]
    assert between < 0.9
