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


def test_the_recession_is_visible(tiny_con):
    params = dict(tiny_con.sql("SELECT name, value FROM truth.parameters").fetchall())
    start = params["recession.start"].strip('"')
    year, q = int(start[:4]), int(start[-1])
    before, during = tiny_con.sql(f"""
        SELECT sum(n) FILTER (WHERE yq = {year * 10 + q - 1}), sum(n) FILTER (WHERE yq = {year * 10 + q + 1})
        FROM (SELECT year * 10 + quarter AS yq, count(DISTINCT ssn) AS n FROM ui_wage GROUP BY ALL)""").fetchall()[0]
    assert during < 0.92 * before


def test_claims_weeks_and_amounts_are_consistent(tiny_con):
    bad = tiny_con.sql("""SELECT count(*) FROM ui_claim WHERE total_paid != weekly_benefit_amount * weeks_paid
                          OR (NOT monetarily_eligible AND weeks_paid > 0)""").fetchall()[0][0]
    assert bad == 0
    weeks = tiny_con.sql("""SELECT count(*) FROM ui_claim c JOIN (SELECT claim_id, count(*) n FROM ui_claim_week GROUP BY 1) w
                            USING (claim_id) WHERE w.n != c.weeks_paid""").fetchall()[0][0]
    assert weeks == 0


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
    first_q = tiny_con.sql("SELECT max(month1_emplvl) FROM employer_quarter WHERE year = 2014 AND quarter = 1").fetchall()[0][0]
    assert first_q == 0          # nobody can be seen in the quarter before the window
