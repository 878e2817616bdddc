"""Module 6 (measuring employment outcomes): the lesson's headline numbers, tied to the hidden truth.

The lesson measures WIOA adult and dislocated-worker exiters' employment in the 2nd and 4th quarters after
exit with `statelab.outcomes`, from the home state's wage file and from every state's file. Here the same
cohort is followed in `truth.earnings` (every job, including jobs outside the region that no file holds),
joined through `truth.crosswalk`. What must hold:

* home-state-only employment <= all-state employment, person by person;
* all-state employment <= true employment (any earnings), except where an SSN error lends someone else's
  wage records to an exiter -- every such case is identified;
* all-state employment equals true *in-region* employment (earnings minus out-of-region earnings) except
  for exiters touched by an SSN error (a wrong SSN in the WIOA record, a noisy SSN on one of their wage
  records, or another person's record carrying their SSN); those are counted, and the gap between the two
  rates is within that count;
* for exiters untouched by SSN errors, measured Q2 earnings equal true in-region earnings exactly.

No expected number is written down: everything is computed from the data.
"""

from __future__ import annotations

import pytest

import synthetic_data as sd
from statelab import outcomes as m


def _cohort(con, first_year, last_year):
    """The lesson's cohort: PIRL rows de-duplicated to one per participation, adult and DW exiters."""
    con.sql(f"""
        CREATE OR REPLACE TABLE exiters AS
        WITH ranked AS (
            SELECT *, ROW_NUMBER() OVER (
                PARTITION BY unique_individual_id, entry_date, exit_date
                ORDER BY CASE WHEN ssn IS NULL THEN 1 ELSE 0 END, record_id) AS rn
            FROM wioa
            WHERE program IN ('adult', 'dislocated_worker')
              AND EXTRACT(YEAR FROM exit_date) BETWEEN {first_year} AND {last_year}
        )
        SELECT record_id, unique_individual_id, ssn, state_fips, program,
               EXTRACT(YEAR FROM exit_date) AS exit_year, EXTRACT(QUARTER FROM exit_date) AS exit_quarter
        FROM ranked
        WHERE rn = 1
    """)


def _truth_table(con, k):
    """One row per linked exiter: file outcomes (home, all states) and the truth in quarter k after exit."""
    home = m.exit_outcomes(con, "exiters", states="home", home_state="state_fips", keep=["record_id"])
    allst = m.exit_outcomes(con, "exiters", states="all", keep=["record_id"])
    con.register("file_home", home[["record_id", "linked", f"employed_q{k}", f"earnings_q{k}"]])
    con.register("file_all", allst[["record_id", f"employed_q{k}", f"earnings_q{k}"]])
    df = con.sql(f"""
        WITH members AS (
            SELECT e.record_id, e.ssn, e.exit_year * 4 + e.exit_quarter - 1 + {k} AS t, x.person_id,
                   p.ssn AS true_ssn
            FROM exiters AS e
            JOIN truth.crosswalk AS x ON x.source_table = 'wioa' AND x.record_id = e.record_id
            JOIN truth.person AS p ON p.person_id = x.person_id
        ),
        wage AS (
            SELECT w.ssn, w.year * 4 + w.quarter - 1 AS t, x.person_id
            FROM ui_wage AS w
            JOIN truth.crosswalk AS x ON x.source_table = 'ui_wage' AND x.record_id = w.record_id
        )
        SELECT mb.record_id, mb.person_id,
               h.employed_q{k} AS employed_home, a.employed_q{k} AS employed_all, a.earnings_q{k} AS earnings_all,
               COALESCE(te.earnings, 0) AS true_earnings,
               COALESCE(te.earnings - te.out_of_region_earnings, 0) AS true_in_region,
               mb.ssn <> mb.true_ssn AS wioa_ssn_wrong,
               EXISTS (SELECT 1 FROM wage AS w WHERE w.person_id = mb.person_id AND w.t = mb.t
                       AND (w.ssn IS NULL OR w.ssn <> mb.true_ssn)) AS own_record_noisy,
               EXISTS (SELECT 1 FROM wage AS w WHERE w.ssn = mb.ssn AND w.t = mb.t
                       AND w.person_id <> mb.person_id) AS foreign_record
        FROM members AS mb
        JOIN file_home AS h USING (record_id)
        JOIN file_all AS a USING (record_id)
        LEFT JOIN truth.earnings AS te
               ON te.person_id = mb.person_id AND te.year * 4 + te.quarter - 1 = mb.t
        WHERE h.linked AND a.employed_q{k} IS NOT NULL
    """).df()
    df["touched"] = df.wioa_ssn_wrong | df.own_record_noisy | df.foreign_record
    return df


def _check_relationships(con, k, *, min_linked):
    df = _truth_table(con, k)
    n = len(df)
    assert n >= min_linked, f"only {n} linked exiters: the check would say little"
    home, allst = df.employed_home.astype(bool), df.employed_all.astype(bool)
    truly, in_region = df.true_earnings > 0, df.true_in_region > 0

    # 1. A subset of the files never finds more employment: person by person.
    assert not (home & ~allst).any()
    assert home.mean() <= allst.mean()

    # 2. The files can only see more than the truth through someone else's records.
    extra = allst & ~truly
    assert (df.wioa_ssn_wrong | df.foreign_record)[extra].all(), df[extra]
    assert int(allst.sum()) <= int(truly.sum()) + int(extra.sum())

    # 3. All states' files = the truth inside the region, except where SSN errors touch an exiter.
    mismatch = allst != in_region
    assert df.touched[mismatch].all(), df[mismatch]
    touched = int(df.touched.sum())
    assert abs(int(allst.sum()) - int(in_region.sum())) <= touched   # rates differ by at most touched / n
    assert touched <= max(3, 0.1 * n), f"{touched} of {n} exiters touched by SSN errors: noise larger than planned"
    assert in_region.mean() <= truly.mean()

    # 4. Untouched exiters' measured earnings are their true in-region earnings, to the dollar.
    clean = df[~df.touched]
    assert (clean.earnings_all.astype(float) == clean.true_in_region.astype(float)).all()
    return df


@pytest.fixture()
def tiny_exits(tiny_con):
    _cohort(tiny_con, 2015, 2024)   # several years: tiny has a few dozen exiters a year
    return tiny_con


@pytest.mark.parametrize("k", [2, 4])
def test_exit_employment_ties_to_truth_on_tiny(tiny_exits, k):
    _check_relationships(tiny_exits, k, min_linked=100)


def test_rates_agree_with_per_person_outcomes(tiny_exits):
    """The lesson's indicator keeps every exiter (WIOA); its sensitivity check keeps the linked only."""
    rates = m.exit_outcome_rates(tiny_exits, "exiters", states="all").iloc[0]
    sensitivity = m.exit_outcome_rates(tiny_exits, "exiters", states="all", denominator="linked").iloc[0]
    people = m.exit_outcomes(tiny_exits, "exiters", states="all")
    linked = people[people.linked]
    assert (~people.linked).any(), "tiny should hold exiters without a usable SSN"
    assert rates.exiters == len(people) and rates.linked == len(linked)
    assert not people.loc[~people.linked, "employed_q2"].dropna().astype(bool).any()   # not found: not employed
    assert rates.employment_rate_q2 == pytest.approx(people.employed_q2.dropna().astype(float).mean())
    assert sensitivity.employment_rate_q2 == pytest.approx(linked.employed_q2.dropna().astype(float).mean())
    assert sensitivity.employment_rate_q2 > rates.employment_rate_q2
    assert rates.employment_rate_q2_low < rates.employment_rate_q2 < rates.employment_rate_q2_high
    employed = people[people.employed_q2.fillna(False).astype(bool)]
    assert rates.median_earnings_q2 == pytest.approx(employed.earnings_q2.astype(float).median())


@pytest.mark.slow
def test_headline_2021_cohort_on_course_data(course_dataset):
    """The lesson's own cohort (2021 exits) on the course profile: the relationships, and the cross-state gap."""
    con = sd.connect(course_dataset, truth=True)
    try:
        _cohort(con, 2021, 2021)
        for k in (2, 4):
            df = _check_relationships(con, k, min_linked=300)
            # Border commuting is planted: some exiters work only across a state line, so the home file misses
            # them and including neighboring states' files raises the rate.
            assert df.employed_all.astype(bool).mean() > df.employed_home.astype(bool).mean()
    finally:
        con.close()
