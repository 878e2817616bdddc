"""WIOA participants: funding streams by their rules, second periods of participation, outcomes near published figures.

The structural checks run on the `tiny` profile; the published figures of
`synthetic_data/calibration/wioa.toml` are computed from the learner tables of the `default`
profile at the course seed and at seed 7.
"""

import json
import tomllib
from importlib import resources

import numpy as np
import pytest

import synthetic_data as sd

TARGETS = {t["id"]: t for t in tomllib.loads(
    resources.files("synthetic_data").joinpath("calibration", "wioa.toml").read_text(encoding="utf-8"))["target"]}

# One row per period of participation in the extract, with its person from the truth.
PERIODS = """
    SELECT x.person_id, w.unique_individual_id, w.entry_date, MIN(w.exit_date) AS exit_date,
           MIN(w.program) AS program, MIN(w.state_fips) AS state_fips
    FROM wioa AS w
    JOIN truth.crosswalk AS x ON x.source_table = 'wioa' AND x.record_id = w.record_id
    GROUP BY x.person_id, w.unique_individual_id, w.entry_date
"""


def _param(con, name):
    return json.loads(con.sql(f"SELECT value FROM truth.parameters WHERE name = '{name}'").fetchall()[0][0])


def _in_tolerance(target, value):
    published = target["published"]
    allowed = target["tolerance"] if "tolerance" in target else target["rel_tolerance"] * published
    return abs(value - published) <= allowed


# ---------------------------------------------------------------------------------- tiny: structure
def test_every_period_in_the_extract_is_one_row_of_the_truth(tiny_con):
    extract = tiny_con.sql(f"SELECT person_id, entry_date, program FROM ({PERIODS})").df()
    truth = tiny_con.sql("SELECT person_id, entry_date, program FROM truth.wioa_effect").df()
    assert len(truth) > 200
    merged = extract.merge(truth, on=["person_id", "entry_date"], how="outer", indicator=True,
                           suffixes=("_extract", "_truth"))
    assert (merged["_merge"] == "both").all(), merged["_merge"].value_counts()
    assert (merged.program_extract == merged.program_truth).all()


def test_a_participant_keeps_one_identifier_across_periods(tiny_con):
    per_person = tiny_con.sql(f"""
        SELECT person_id, COUNT(DISTINCT unique_individual_id) AS identifiers, COUNT(*) AS periods
        FROM ({PERIODS}) GROUP BY person_id""").df()
    assert (per_person.periods == 2).sum() >= 5, "too few second periods on tiny to check"
    assert per_person.periods.max() == 2
    assert (per_person.identifiers == 1).all()
    # ... and an identifier is one person's
    people_per_id = tiny_con.sql(f"""
        SELECT COUNT(DISTINCT person_id) FROM ({PERIODS}) GROUP BY unique_individual_id""").fetchall()
    assert max(n for (n,) in people_per_id) == 1


def test_a_second_period_starts_after_the_first_follow_up_in_the_same_state(tiny_con):
    gap = _param(tiny_con, "wioa.repeat.return_after_quarters")
    pairs = tiny_con.sql(f"""
        WITH p AS (SELECT *, ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY entry_date) AS k FROM ({PERIODS}))
        SELECT a.exit_date AS first_exit, b.entry_date AS second_entry,
               a.state_fips AS first_state, b.state_fips AS second_state, t.period
        FROM p AS a JOIN p AS b ON a.person_id = b.person_id AND a.k = 1 AND b.k = 2
        JOIN truth.wioa_effect AS t ON t.person_id = b.person_id AND t.entry_date = b.entry_date""").df()
    assert len(pairs) >= 5
    assert (pairs.period == 2).all()
    exit_q = pairs.first_exit.dt.year * 4 + (pairs.first_exit.dt.month - 1) // 3
    entry_q = pairs.second_entry.dt.year * 4 + (pairs.second_entry.dt.month - 1) // 3
    assert (entry_q - exit_q >= gap).all()
    assert (pairs.first_state == pairs.second_state).all()


def test_streams_admit_their_ages(tiny_con):
    ages = tiny_con.sql("""
        SELECT e.program,
               DATE_DIFF('day', p.dob, DATE_TRUNC('quarter', e.entry_date)) / 365.25 AS age
        FROM truth.wioa_effect AS e JOIN truth.person AS p USING (person_id)""").df()
    youth = ages[ages.program == "youth"].age
    others = ages[ages.program != "youth"].age
    assert len(youth) > 20 and len(others) > 100
    assert youth.between(_param(tiny_con, "wioa.youth.min_age"), _param(tiny_con, "wioa.youth.max_age") + 1).all()
    assert ((others >= 18) & (others < 65)).all()


# Quarters with covered earnings (any job, in or out of the region), as quarter indexes.
PAID = "SELECT person_id, year * 4 + quarter - 1 AS q FROM truth.earnings WHERE n_jobs > 0"
QUARTER = "CAST(EXTRACT(YEAR FROM {d}) * 4 + EXTRACT(QUARTER FROM {d}) - 1 AS INTEGER)"


def _paid_before_entry(con):
    """Each period (person, entry quarter, stream) with the set of quarters before entry, 1-9 back, that were paid."""
    df = con.sql(f"""
        WITH e AS (SELECT person_id, program, {QUARTER.format(d="entry_date")} AS q FROM truth.wioa_effect),
        paid AS ({PAID})
        SELECT e.program, e.person_id, e.q,
               LIST(e.q - paid.q ORDER BY paid.q) FILTER (WHERE paid.q BETWEEN e.q - 9 AND e.q - 1) AS ago
        FROM e LEFT JOIN paid ON paid.person_id = e.person_id
        GROUP BY ALL""").df()
    df["ago"] = df.ago.apply(lambda v: set(int(x) for x in v) if isinstance(v, (list, tuple)) or hasattr(v, "__len__") else set())
    return df


def test_adults_were_recently_working(tiny_con):
    """Adults, job seekers or workers, had covered earnings in the last year."""
    k = _param(tiny_con, "wioa.adult.recent_earnings_quarters")
    df = _paid_before_entry(tiny_con)
    adult = df[df.program == "adult"]
    assert len(adult) > 100
    assert adult.ago.apply(lambda s: bool(s & set(range(1, k + 1)))).all()


def test_dislocated_workers_were_laid_off_with_a_base_period_that_qualifies_for_ui(tiny_con):
    """Laid off one or two quarters before entry, with earnings in enough quarters of the base period.

    The claim is filed in the quarter after the layoff; its base period is the first four of the five
    completed quarters before that, so the quarters 1-4 before the layoff quarter.
    """
    after = _param(tiny_con, "wioa.dislocated_worker.quarters_after_layoff")
    need = _param(tiny_con, "wioa.dislocated_worker.base_period_quarters_paid")
    df = _paid_before_entry(tiny_con)
    dw = df[df.program == "dislocated_worker"]
    assert len(dw) > 5

    def qualifies(ago):
        return any(lag in ago and len(ago & set(range(lag + 1, lag + 5))) >= need for lag in range(1, after + 1))

    assert dw.ago.apply(qualifies).all()


def test_a_period_outlasts_its_plan_only_while_the_participant_is_out_of_work(tiny_con):
    """Exit is the last day of service: services planned for 1-4 quarters go on while the participant has no job.

    So a period longer than the longest plan has no earnings between the plan's end and the exit, and
    an exit quarter without earnings ends the job search at its limit.
    """
    lo, hi = _param(tiny_con, "wioa.duration_quarters")
    search = _param(tiny_con, "wioa.job_search_quarters")
    last_q = tiny_con.sql(f"SELECT MAX({QUARTER.format(d='exit_date')}) FROM truth.wioa_effect").fetchall()[0][0]
    df = tiny_con.sql(f"""
        WITH e AS (SELECT person_id, {QUARTER.format(d="entry_date")} AS q0, {QUARTER.format(d="exit_date")} AS q1
                   FROM truth.wioa_effect),
        paid AS ({PAID})
        SELECT e.q1 - e.q0 AS length,
               COUNT(paid.q) FILTER (WHERE paid.q BETWEEN e.q0 + {hi} AND e.q1 - 1) AS paid_after_plan,
               COUNT(paid.q) FILTER (WHERE paid.q = e.q1) AS paid_at_exit
        FROM e LEFT JOIN paid ON paid.person_id = e.person_id
        WHERE e.q1 < {last_q}
        GROUP BY e.person_id, e.q0, e.q1""").df()
    assert (df.length >= lo).all() and (df.length <= hi + search).all()
    longer = df[df.length > hi]
    assert len(longer) > 10, "too few periods longer than their plan on tiny to check"
    assert (longer.paid_after_plan == 0).all()
    assert (df[df.paid_at_exit == 0].length >= lo + search).all()


def test_employed_at_entry_means_earnings_in_the_entry_quarter(tiny_con):
    """PIRL element 400 is the job held on the entry date: it pays something that quarter."""
    df = tiny_con.sql(f"""
        WITH p AS (SELECT x.person_id, w.entry_date, BOOL_OR(w.employed_at_entry) AS employed, BOOL_AND(w.employed_at_entry) AS all_rows
                   FROM wioa AS w JOIN truth.crosswalk AS x ON x.source_table = 'wioa' AND x.record_id = w.record_id
                   GROUP BY ALL),
        paid AS ({PAID})
        SELECT p.employed, p.all_rows, paid.q IS NOT NULL AS paid
        FROM p LEFT JOIN paid ON paid.person_id = p.person_id AND paid.q = {QUARTER.format(d="p.entry_date")}""").df()
    assert (df.employed == df.all_rows).all()                 # repeated rows of a period agree
    assert df.employed.sum() > 20 and (~df.employed).sum() > 20
    assert df[df.employed].paid.all()


def test_the_effect_of_each_period_is_its_planted_share(tiny_con):
    """y1/y0 of a period is 1 + effect x (a ramp share): an earlier period's effect is in both."""
    ramp = np.asarray(_param(tiny_con, "wioa.effect_ramp"), dtype=float)
    t = tiny_con.sql("SELECT period, effect, y0_post, y1_post FROM truth.wioa_effect WHERE y0_post > 0").df()
    assert (t.period == 2).sum() >= 5
    ratio = t.y1_post / t.y0_post
    assert (ratio >= 1 + t.effect * ramp.min() - 1e-9).all()
    assert (ratio <= 1 + t.effect * ramp.max() + 1e-9).all()


# ------------------------------------------------------------------------- default: published figures
@pytest.fixture(scope="module", params=["course seed", "seed 7"])
def default_con(request):
    dataset = request.getfixturevalue("course_dataset" if request.param == "course seed" else "seed_seven_dataset")
    con = sd.connect(dataset, truth=True)
    yield con
    con.close()


@pytest.mark.slow
@pytest.mark.parametrize("target_id", list(TARGETS))
def test_published_figure_is_met_on_default(default_con, target_id):
    target = TARGETS[target_id]
    (value,) = default_con.sql(target["sql"]).fetchall()[0]
    assert value is not None
    assert _in_tolerance(target, float(value)), (target_id, float(value), target["published"])


@pytest.mark.slow
@pytest.mark.parametrize("program", ["adult", "dislocated_worker"])
def test_employment_after_exit_is_the_truth_less_the_exiters_who_cannot_be_matched(default_con, program):
    """The learner-table rate (unmatched exiters count as not employed) against the true in-region rate."""
    learner = default_con.sql(TARGETS[f"wioa_{'adult' if program == 'adult' else 'dw'}_emp_q2"]["sql"]).fetchall()[0][0]
    true_rate, no_ssn, n = default_con.sql(f"""
        WITH p AS (SELECT x.person_id, w.unique_individual_id, w.entry_date, MIN(w.exit_date) AS exit_date,
                          MIN(w.program) AS program, MIN(w.ssn) AS ssn
                   FROM wioa AS w
                   JOIN truth.crosswalk AS x ON x.source_table = 'wioa' AND x.record_id = w.record_id
                   GROUP BY x.person_id, w.unique_individual_id, w.entry_date),
        ex AS (SELECT *, CAST(EXTRACT(YEAR FROM exit_date) * 4 + EXTRACT(QUARTER FROM exit_date) - 1 AS INTEGER) AS q
               FROM p WHERE program = '{program}' AND exit_date BETWEEN DATE '2021-07-01' AND DATE '2024-06-30'),
        paid AS (SELECT person_id, year * 4 + quarter - 1 AS q FROM truth.earnings
                 WHERE earnings - out_of_region_earnings > 0)
        SELECT AVG(CASE WHEN paid.person_id IS NULL THEN 0.0 ELSE 1.0 END), AVG(CASE WHEN ssn IS NULL THEN 1.0 ELSE 0.0 END),
               COUNT(*)
        FROM ex LEFT JOIN paid ON paid.person_id = ex.person_id AND paid.q = ex.q + 2""").fetchall()[0]
    # Missing SSNs take their employed share out. Mistyped SSNs (in the WIOA record or on the job's wage
    # records, a few percent of exiters) take a little more or add a stranger's job: allow for a
    # binomial count of them.
    expected = true_rate * (1 - no_ssn)
    assert learner == pytest.approx(expected, abs=0.02 + 3 * (0.03 / n) ** 0.5), (learner, true_rate, no_ssn, n)
    assert learner < true_rate


@pytest.mark.slow
def test_half_the_adults_enter_employed_and_work_after_exit_more_often(default_con):
    """From the learner tables: the share employed at entry by stream, and Adult employment after exit by it.

    Employed adults qualify for training (20 CFR 680.210); dislocated workers enter after a layoff and
    youth out of work, so fewer of them hold a job when they enter.
    """
    shares = dict(default_con.sql("""
        WITH p AS (SELECT unique_individual_id, entry_date, MIN(program) AS program, BOOL_OR(employed_at_entry) AS employed
                   FROM wioa GROUP BY ALL)
        SELECT program, AVG(employed::INTEGER) FROM p GROUP BY program""").fetchall())
    assert 0.3 < shares["adult"] < 0.7, shares
    assert shares["youth"] < shares["dislocated_worker"] < shares["adult"], shares
    sql = TARGETS["wioa_adult_emp_q2"]["sql"]
    by_status = {}
    for employed in (True, False):
        by_status[employed] = default_con.sql(
            sql.replace("MIN(ssn) AS ssn", "MIN(ssn) AS ssn, BOOL_OR(employed_at_entry) AS employed")
               .replace("WHERE program = 'adult'", f"WHERE program = 'adult' AND employed = {employed}")).fetchall()[0][0]
    assert by_status[True] > by_status[False] + 0.1, by_status
