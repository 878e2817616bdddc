"""College files that behave like IPEDS: completion, time to degree, stop-outs, transfers, the credential premium.

The published rates are checked the way ``statelab-data realism`` will check them: the SQL of
``synthetic_data/calibration/postsecondary.toml`` run over the learner tables. The ``tiny``
profile has a few dozen first-time students per cohort, far too few for those tolerances, so
the ``default`` profile is built in memory (its partitions, without writing files) once per
seed, at the course seed and at seed 7. Checks of the truth's logic use ``tiny``.
"""

import tomllib
from importlib import resources

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import synthetic_data as sd
from statelab import linkage
from synthetic_data._global_tables import global_tables
from synthetic_data._partition import build_partition
from synthetic_data._postsec import elapsed_terms, path_shares
from synthetic_data._world import World

SEEDS = (sd.DEFAULT_SEED, 7)
LEARNER = ("postsec_enrollment", "postsec_completion", "ui_wage")
TRUTH = ("postsec_student",)
TARGETS = tomllib.loads(resources.files("synthetic_data").joinpath("calibration/postsecondary.toml")
                        .read_text("utf-8"))["target"]
LEVELS = ("certificate", "associate", "bachelor")


@pytest.fixture(scope="module", params=SEEDS, ids=lambda s: f"seed{s}")
def course(request):
    """The default profile's learner tables (and ``truth.postsec_student``) in a DuckDB connection."""
    params = sd.load_profile("default")
    world = World(params, request.param)
    kept = {name: [] for name in LEARNER + TRUTH}
    for k in range(params["size"]["partitions"]):
        built = build_partition(world, k)
        for name in kept:
            kept[name].append(built[name])
        del built
    con = duckdb.connect()
    for name, parts in kept.items():
        con.register(name, pa.concat_tables(parts))
    # Only the institution table is read here; establishment size classes do not matter to it.
    no_march = np.zeros(len(world.employers["ownership"]))
    con.register("institution", global_tables(world, march_employment=no_march)["institution"])
    yield con, params
    con.close()


# ---------------------------------------------------------------- the path mix ----

def test_path_shares_are_probabilities_that_keep_the_acs_shares():
    params = sd.load_profile("default")
    sol = path_shares(params)
    for shares in sol["paths"].values():
        assert np.all(shares >= 0) and shares.sum() == pytest.approx(1)
    # Every some-college person starts somewhere, and the starters add up to everyone who went to college.
    edu = params["person"]["education"]
    went = sum(edu[e] for e in ("some_college", "associate", "bachelor_plus")) / sum(edu.values())
    assert sol["starters"]["2yr"] + sol["starters"]["4yr"] == pytest.approx(went)
    assert all(0 <= q <= 1 for q in sol["first_year_leave"].values())


def test_rates_that_cannot_hold_together_are_refused_with_their_names():
    params = sd.load_profile("default")
    params["postsecondary"]["completion"]["associate_3yr"] = 0.9     # more completers than associate holders
    with pytest.raises(sd.ProfileError, match="associate_3yr"):
        path_shares(params)


def test_elapsed_terms_follow_the_published_curve():
    curve = {"4": 0.437, "5": 0.587, "6": 0.624, "8": 0.652}
    values, probs = elapsed_terms(curve)
    assert values.min() == 8 and probs.sum() == pytest.approx(1)
    assert probs[values <= 12].sum() == pytest.approx(0.624 / 0.652)
    assert probs[values == 8].sum() == pytest.approx(0.437 / 0.652)


# ---------------------------------------------------------------- the truth holds (tiny) ----

def _awards_by_education(con):
    return con.sql("""
        SELECT p.education, c.degree_level, COUNT(*) AS n
        FROM postsec_completion AS c
        JOIN truth.crosswalk AS x ON x.source_table = 'postsec_completion' AND x.record_id = c.record_id
        JOIN truth.person AS p USING (person_id)
        GROUP BY ALL
    """).df()


def test_degrees_match_the_final_education(tiny_con):
    got = _awards_by_education(tiny_con)
    degree = got[got.degree_level != "certificate"]
    # A bachelor's only for bachelor_plus; an associate for associate holders or on the way to a bachelor's.
    assert set(degree[degree.degree_level == "bachelor"].education) == {"bachelor_plus"}
    assert set(degree[degree.degree_level == "associate"].education) <= {"associate", "bachelor_plus"}
    assert "associate" in set(degree[degree.degree_level == "associate"].education)
    # Below some college, nobody is a degree student at all.
    n = tiny_con.sql("""
        SELECT COUNT(*) FROM postsec_enrollment AS e
        JOIN truth.crosswalk AS x ON x.source_table = 'postsec_enrollment' AND x.record_id = e.record_id
        JOIN truth.person AS p USING (person_id)
        WHERE e.degree_sought <> 'certificate' AND p.education IN ('less_than_hs', 'high_school')
    """).fetchall()[0][0]
    assert n == 0


def test_planted_paths_agree_with_the_records(tiny_con):
    rows = tiny_con.sql("""
        SELECT s.pathway, s.transfer_in, s.completes, p.education,
               EXISTS (SELECT 1 FROM postsec_completion AS c WHERE c.student_id = s.student_id) AS awarded
        FROM truth.postsec_student AS s JOIN truth.person AS p USING (person_id)
    """).df()
    assert not rows.empty
    edu = {"bachelor": "bachelor_plus", "associate": "associate", "left": "some_college"}
    for prefix, education in edu.items():
        sub = rows[rows.pathway.str.startswith(prefix)]
        assert set(sub.education) <= {education}, prefix
    # An award in the files only where one was planted.
    assert not (rows.awarded & ~rows.completes).any()
    assert not rows[rows.pathway.str.startswith("left")].completes.any()


def test_every_completion_follows_its_enrollment(tiny_con):
    bad = tiny_con.sql("""
        WITH terms AS (
            SELECT student_id, MAKE_DATE(academic_year + CASE WHEN term = 'spring' THEN 1 ELSE 0 END,
                                         CASE WHEN term = 'spring' THEN 1 ELSE 8 END, 15) AS starts
            FROM postsec_enrollment)
        SELECT c.record_id, MAX(t.starts) FILTER (WHERE t.starts <= c.award_date) AS last_before,
               COUNT(*) FILTER (WHERE t.starts > c.award_date) AS after
        FROM postsec_completion AS c LEFT JOIN terms AS t USING (student_id)
        GROUP BY c.record_id, c.award_date
        HAVING last_before IS NULL OR after > 0 OR c.award_date - last_before > 160
    """).df()
    assert bad.empty, bad.head()


# ---------------------------------------------------------------- published rates (default) ----

@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS, ids=[t["id"] for t in TARGETS])
def test_published_rate_is_reproduced_from_the_learner_tables(course, target):
    con, _ = course
    (value,), = con.sql(target["sql"]).fetchall()
    assert abs(value - target["published"]) <= target["tolerance"], (target["id"], value)


def _ftft_bachelor_completers(con):
    """First-time full-time fall starters at a 4-year college who earned the bachelor's there within 6 years."""
    sql = next(t["sql"] for t in TARGETS if t["id"] == "postsec_ba_6yr_completion")
    cohort = sql[: sql.index("SELECT AVG")]
    return con.sql(cohort + """
        SELECT k.student_id, k.cohort_year * 2 AS t0, c.award_date,
               CASE WHEN MONTH(c.award_date) <= 6 THEN (YEAR(c.award_date) - 1) * 2 + 1
                    ELSE YEAR(c.award_date) * 2 END AS t_last,
               (SELECT COUNT(*) FROM postsec_enrollment AS e WHERE e.student_id = k.student_id) AS enrolled
        FROM cohort AS k
        CROSS JOIN span
        JOIN postsec_completion AS c ON c.student_id = k.student_id AND c.degree_level = 'bachelor'
        WHERE k.sector <> 'public_2yr' AND k.enroll_status = 'full_time' AND k.cohort_year + 6 <= span.last_fall
    """).df()


@pytest.mark.slow
def test_time_to_degree_varies(course):
    con, params = course
    done = _ftft_bachelor_completers(con)
    elapsed = done.t_last - done.t0 + 1
    assert len(done) > 500
    values, probs = elapsed_terms(params["postsecondary"]["years_to_degree"]["bachelor"])
    on_time = probs[values == 8].sum()
    # Most in 8 terms, the rest spread up to 16; fewer than 8 only where a birth year is mistyped
    # and a transfer passes for a freshman.
    assert abs((elapsed == 8).mean() - on_time) < 0.08
    assert (elapsed < 8).mean() < 0.01
    assert elapsed.nunique() >= 5 and (elapsed > 12).any()
    # Associate degrees: 4 terms for some, many more for others; part time slower.
    aa = con.sql("""
        WITH first AS (
            SELECT student_id, MIN(academic_year * 2 + CASE WHEN term = 'spring' THEN 1 ELSE 0 END) AS t0,
                   ANY_VALUE(enroll_status) AS status, MIN(YEAR(dob)) AS birth_year
            FROM postsec_enrollment WHERE degree_sought = 'associate' GROUP BY student_id)
        SELECT f.status, (CASE WHEN MONTH(c.award_date) <= 6 THEN (YEAR(c.award_date) - 1) * 2 + 1
                               ELSE YEAR(c.award_date) * 2 END) - f.t0 + 1 AS elapsed
        FROM postsec_completion AS c JOIN first AS f USING (student_id)
        WHERE c.degree_level = 'associate' AND f.t0 >= 2 * 2014 AND f.t0 % 2 = 0 AND f.birth_year = f.t0 // 2 - 18
    """).df()
    ft = aa[aa.status == "full_time"].elapsed
    assert len(ft) > 200 and ft.nunique() >= 5
    assert (ft < 4).mean() < 0.01 and 0.05 < (ft == 4).mean() < 0.35
    assert aa[aa.status == "part_time"].elapsed.mean() > ft.mean() + 1


@pytest.mark.slow
def test_stop_outs_show_as_breaks_at_the_planted_rate(course):
    con, params = course
    done = _ftft_bachelor_completers(con)
    done = done[done.award_date < pd.Timestamp(2025, 9, 1)]
    # Enrolled in fewer terms than the span from entry to award: a break in between.
    broke = done.enrolled < done.t_last - done.t0 + 1
    # Planted: of full-time completers slower than 8 terms, a set share stopped out.
    curve = params["postsecondary"]["years_to_degree"]["bachelor"]
    values, probs = elapsed_terms(curve)
    expected = params["postsecondary"]["stop_out"]["slow_completers"] * probs[values > 8].sum()
    se = np.sqrt(expected * (1 - expected) / len(done))
    assert abs(broke.mean() - expected) < 4 * se, (broke.mean(), expected)
    # ... and every break seen is one the truth planted, and none planted goes unseen.
    planted = con.sql("SELECT student_id, stop_out_terms FROM postsec_student").df().set_index("student_id")
    assert broke.sum() > 0
    assert (broke.to_numpy() == (planted.stop_out_terms.reindex(done.student_id) > 0).to_numpy()).all()


@pytest.mark.slow
def test_transfers_move_to_another_record_some_across_a_state_line(course):
    con, _ = course
    moves = con.sql("""
        WITH recs AS (
            SELECT s.person_id, s.student_id, s.transfer_in, i.sector, i.state_fips,
                   MIN(e.academic_year * 2 + CASE WHEN e.term = 'spring' THEN 1 ELSE 0 END) AS t0
            FROM postsec_student AS s
            JOIN postsec_enrollment AS e USING (student_id)
            JOIN institution AS i ON i.institution_id = s.institution_id
            WHERE s.pathway <> 'adult_certificate'
            GROUP BY ALL)
        SELECT a.sector AS from_sector, b.sector AS to_sector, a.state_fips <> b.state_fips AS other_state,
               b.t0 > a.t0 AS later
        FROM recs AS a JOIN recs AS b ON a.person_id = b.person_id AND b.transfer_in AND NOT a.transfer_in
    """).df()
    assert len(moves) > 300
    assert moves.later.all() and (moves.to_sector != "public_2yr").all()
    from_2yr = moves[moves.from_sector == "public_2yr"]
    assert len(from_2yr) > 0.5 * len(moves)
    assert 0.08 < from_2yr.other_state.mean() < 0.4


# ---------------------------------------------------------------- the credential premium ----

def _panel(con):
    """Person x quarter log wages of everyone in the college files, with their credentials held.

    People are usable SSNs; wages come from every state's file; a credential counts from the
    first quarter that starts after its award.
    """
    ssn = linkage.clean_ssn_sql
    held = ", ".join(f"COALESCE(q.starts > a_{lv}.award_date, FALSE)::INT AS post_{lv}" for lv in LEVELS)
    joins = " ".join(f"LEFT JOIN awards AS a_{lv} ON a_{lv}.ssn = q.ssn AND a_{lv}.degree_level = '{lv}'"
                     for lv in LEVELS)
    return con.sql(f"""
        WITH records AS (
            SELECT {ssn('e.ssn')} AS ssn, e.dob, i.sector,
                   e.academic_year * 2 + CASE WHEN e.term = 'spring' THEN 1 ELSE 0 END AS t
            FROM postsec_enrollment AS e JOIN institution AS i USING (institution_id)),
        people AS (
            SELECT ssn, MIN(dob) AS dob, ARG_MIN(sector, t) AS first_sector, MIN(t) AS first_t
            FROM records WHERE ssn IS NOT NULL GROUP BY ssn HAVING MIN(dob) IS NOT NULL),
        awards AS (
            SELECT {ssn('ssn')} AS ssn, degree_level, MIN(award_date) AS award_date
            FROM postsec_completion GROUP BY ALL),
        q AS (
            SELECT {ssn('ssn')} AS ssn, year, quarter, MAKE_DATE(year, quarter * 3 - 2, 1) AS starts, SUM(wages) AS wages
            FROM ui_wage GROUP BY ALL)
        SELECT q.ssn AS unit, q.year * 4 + q.quarter AS yq, LN(q.wages) AS log_wage,
               DATEDIFF('day', p.dob, q.starts) / 365.25 AS age,
               p.first_sector = 'public_2yr' AND YEAR(p.dob) + 18 = p.first_t // 2 AS started_2yr, {held}
        FROM q JOIN people AS p USING (ssn) {joins}
        WHERE q.wages >= 500
    """).df()


def _ols(y, X):
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    return beta


def _dummies(df, cols):
    return [pd.get_dummies(df[c], prefix=c, drop_first=True, dtype=float) for c in cols]


def fixed_effects(df, xs):
    """Person fixed effects, with quarter and year-of-age effects (within transformation)."""
    df = df.assign(age_year=df.age.astype(int))
    X = pd.concat([df[xs].astype(float), *_dummies(df, ["yq", "age_year"])], axis=1)
    g = df.unit.to_numpy()
    beta = _ols((df.log_wage - df.log_wage.groupby(g).transform("mean")).to_numpy(),
                (X - X.groupby(g).transform("mean")).to_numpy())
    return dict(zip(xs, beta[: len(xs)]))


def cross_section(df, xs):
    """Pooled OLS with a quadratic in age and quarter effects: the comparison across people."""
    X = pd.concat([pd.Series(1.0, index=df.index), df[xs].astype(float), df.age, df.age ** 2,
                   *_dummies(df, ["yq"])], axis=1)
    return dict(zip(xs, _ols(df.log_wage.to_numpy(), X.to_numpy())[1: 1 + len(xs)]))


@pytest.mark.slow
def test_fixed_effects_recover_the_associate_premium_that_a_cross_section_overstates(course):
    con, params = course
    planted = params["postsecondary"]["credential_premium"]["associate"]
    panel = _panel(con)
    xs = [f"post_{lv}" for lv in LEVELS]
    fe = fixed_effects(panel, xs)["post_associate"]
    # The cross-section a lesson would run: community-college starters in the last two years.
    recent = panel[panel.started_2yr & (panel.yq >= panel.yq.max() - 7)]
    cs = cross_section(recent, xs)["post_associate"]
    assert abs(fe - planted) < 0.04, (fe, planted)
    # Associate holders also have a higher education premium than the some-college people they
    # are compared with: the cross-section adds that to the premium.
    assert cs - planted > 0.04 and cs > 1.4 * fe, (cs, fe, planted)
