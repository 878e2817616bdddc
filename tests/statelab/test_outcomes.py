"""statelab.outcomes: exit outcomes on hand-built tables, the federal denominator, and invariants on tiny.

The small tables are written so that each expected value can be read off them by applying the definition by
hand (the comments say why). Under the WIOA rule every exiter is in the denominator and one not found in the
wage records -- here D (no SSN) and E (a placeholder) -- counts as not employed; ``denominator="linked"`` is
the sensitivity check that leaves them out. On the tiny dataset the functions are compared with independent
pandas computations and with each other.
"""

from __future__ import annotations

import math
import re

import duckdb
import numpy as np
import pandas as pd
import pytest

from statelab import identifiers
from statelab import outcomes as o

WAGE_COLUMNS = "state_fips VARCHAR, ssn VARCHAR, ui_account VARCHAR, year INTEGER, quarter INTEGER, wages BIGINT"


# The exit cohort. Quarter k after an exit in 2021Q1 is 2021Q(1+k): Q1 = 2021Q2, Q2 = 2021Q3,
# Q3 = 2021Q4, Q4 = 2022Q1. The wage data run from 2020Q1 (a filler row) to 2022Q2.
EXIT_ROWS = [
    ("17", "900010009", "X", 2020, 1, 100),          # filler: sets the data's first quarter
    # A (home IL): same employer X in all of Q1-Q4 -> employed Q2 and Q4, retained, stable, full quarter.
    ("17", "900010001", "X", 2021, 1, 9999),         # exit quarter itself: never counted
    ("17", "900010001", "X", 2021, 2, 4000),
    ("17", "900010001", "X", 2021, 3, 5000),
    ("17", "900010001", "X", 2021, 4, 4500),
    ("17", "900010001", "X", 2022, 1, 6000),
    # B (home IN): paid only in Illinois's file, by Y in Q2 and by Z in Q4 -> employed with all states'
    # files, not with the home file alone; different employers so not retained, not stable.
    ("17", "900010002", "Y", 2021, 3, 7000),
    ("17", "900010002", "Z", 2022, 1, 8000),
    # C: no wages after exit (only before) -> not employed, earnings 0.
    ("17", "900010003", "X", 2020, 4, 3000),
    # E: placeholder SSN -> unlinked, whatever wages the placeholder carries.
    ("17", "999999999", "X", 2021, 3, 5000),
    # F: two jobs in Q2 adding up to 3,500 (>= the minimum-wage threshold); Q4 1,000 (below it).
    ("18", "900010006", "V", 2021, 3, 2000),
    ("18", "900010006", "W", 2021, 3, 1500),
    ("18", "900010006", "V", 2022, 1, 1000),
    # H: exits 2021Q4, so Q2 = 2022Q2 is the data's last quarter: employed defined, full quarter not;
    # Q4 = 2022Q4 lies beyond the data -> undefined.
    ("18", "900010008", "V", 2022, 1, 3000),
    ("18", "900010008", "V", 2022, 2, 3000),
]
EXIT_COHORT = [
    ("900010001", 2021, 1, "17", "adult"),
    ("900010002", 2021, 1, "18", "adult"),
    ("900010003", 2021, 1, "17", "dislocated_worker"),
    (None, 2021, 1, "17", "dislocated_worker"),        # D: no SSN
    ("999999999", 2021, 1, "17", "dislocated_worker"),  # E
    ("900010006", 2021, 1, "18", "adult"),
    ("900010008", 2021, 4, "18", "adult"),
]


@pytest.fixture()
def exit_con():
    con = duckdb.connect()
    con.execute(f"CREATE TABLE ui_wage ({WAGE_COLUMNS})")
    con.executemany("INSERT INTO ui_wage VALUES (?, ?, ?, ?, ?, ?)", EXIT_ROWS)
    con.execute("CREATE TABLE cohort (ssn VARCHAR, exit_year INTEGER, exit_quarter INTEGER, state_fips VARCHAR, "
                "program VARCHAR)")
    con.executemany("INSERT INTO cohort VALUES (?, ?, ?, ?, ?)", EXIT_COHORT)
    yield con
    con.close()


def _by_ssn(df):
    """Rows keyed by the cleaned SSN the result carries ("none" for every member without a usable one)."""
    out = {}
    for r in df.itertuples():
        out.setdefault("none" if pd.isna(r.ssn) else r.ssn, []).append(r)
    return out


def _wilson(k, n, z=1.959963984540054):
    """The Wilson score interval, written out (statsmodels computes it in the module)."""
    centre, half = (k + z * z / 2) / (n + z * z), z * math.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    return centre - half, centre + half


# ------------------------------------------------------------------------------- exit outcomes
def test_exit_outcomes_follow_the_definitions(exit_con):
    rows = _by_ssn(o.exit_outcomes(exit_con, "cohort", home_state="state_fips"))
    (a,), (b,), (c,), (f,), (h,) = (rows[k] for k in ("900010001", "900010002", "900010003", "900010006",
                                                      "900010008"))
    unlinked = rows["none"]                     # D (no SSN) and E (placeholder): both have no usable SSN
    assert len(unlinked) == 2
    assert (a.earnings_q1, a.earnings_q2, a.earnings_q3, a.earnings_q4) == (4000, 5000, 4500, 6000)
    assert a.employed_q2 and a.employed_q4 and a.same_employer_q2_q4 and a.stable_q1_q4 and a.full_quarter_q2
    assert b.employed_q2 and b.employed_q4 and b.earnings_q2 == 7000
    assert not b.same_employer_q2_q4 and not b.stable_q1_q4 and not b.full_quarter_q2
    assert c.linked and c.earnings_q2 == 0 and not c.employed_q2 and not c.employed_q4
    for r in unlinked:   # not found in the wage records: not employed, nothing earned -- not unknown
        assert not r.linked and pd.notna(r.employed_q2) and not r.employed_q2
        assert r.earnings_q2 == 0 and not r.stable_q1_q4 and not r.employed_q4
    assert f.earnings_q2 == 3500 and f.employed_q2 and f.same_employer_q2_q4  # V pays in Q2 and Q4 (W does not)
    assert not f.stable_q1_q4
    assert h.employed_q2 and pd.isna(h.full_quarter_q2) and pd.isna(h.employed_q4) and pd.isna(h.earnings_q4)
    assert pd.isna(h.same_employer_q2_q4) and pd.isna(h.stable_q1_q4)


def test_home_state_files_only(exit_con):
    home = _by_ssn(o.exit_outcomes(exit_con, "cohort", states="home", home_state="state_fips"))
    assert not home["900010002"][0].employed_q2 and home["900010002"][0].earnings_q2 == 0   # IN resident, IL job
    assert home["900010001"][0].employed_q2 and home["900010006"][0].employed_q2
    listed = _by_ssn(o.exit_outcomes(exit_con, "cohort", states=["18"]))
    assert not listed["900010001"][0].employed_q2 and listed["900010006"][0].employed_q2


def test_minimum_wage_threshold_uses_the_quarter_total(exit_con):
    out = _by_ssn(o.exit_outcomes(exit_con, "cohort", min_earnings=o.MIN_WAGE_QUARTERLY))
    assert o.MIN_WAGE_QUARTERLY == pytest.approx(3298.75)
    assert out["900010006"][0].employed_q2          # 2,000 + 1,500 from two employers
    assert not out["900010006"][0].employed_q4      # 1,000
    assert not out["900010008"][0].employed_q2 and out["900010001"][0].employed_q2


def test_rates_keep_every_exiter_in_the_denominator(exit_con):
    r = o.exit_outcome_rates(exit_con, "cohort", home_state="state_fips").iloc[0]
    assert r.exiters == 7 and r.linked == 5
    # Q2: A, B, F, H employed; C, D and E not -> 4 of 7. Q4: A, B and F (1,000 > 0) employed; C, D, E not;
    # H's Q4 lies beyond the data -> 3 of 6.
    assert r.n_employed_q2 == 4 and r.employment_rate_q2 == pytest.approx(4 / 7)
    assert r.n_employed_q4 == 3 and r.employment_rate_q4 == pytest.approx(3 / 6)
    assert (r.employment_rate_q2_low, r.employment_rate_q2_high) == pytest.approx(_wilson(4, 7))
    assert (r.employment_rate_q4_low, r.employment_rate_q4_high) == pytest.approx(_wilson(3, 6))
    assert r.median_earnings_q2 == pytest.approx(np.median([5000, 7000, 3500, 3000]))
    # Retention among the Q2-employed whose Q4 is in the data (A, B, F): A and F kept an employer.
    assert r.retention_rate == pytest.approx(2 / 3)
    assert r.stable_rate == pytest.approx(1 / 6)            # A of A, B, C, D, E, F (H undefined)
    assert r.full_quarter_rate_q2 == pytest.approx(1 / 6)   # A of A, B, C, D, E, F (H undefined)
    home = o.exit_outcome_rates(exit_con, "cohort", states="home", home_state="state_fips").iloc[0]
    assert home.employment_rate_q2 == pytest.approx(3 / 7) and home.employment_rate_q2 <= r.employment_rate_q2


def test_linked_only_is_the_sensitivity_check(exit_con):
    s = o.exit_outcome_rates(exit_con, "cohort", denominator="linked").iloc[0]
    assert s.exiters == 7 and s.linked == 5
    assert s.employment_rate_q2 == pytest.approx(4 / 5) and s.employment_rate_q4 == pytest.approx(3 / 4)
    assert (s.employment_rate_q2_low, s.employment_rate_q2_high) == pytest.approx(_wilson(4, 5))
    assert s.stable_rate == pytest.approx(1 / 4) and s.full_quarter_rate_q2 == pytest.approx(1 / 4)
    federal = o.exit_outcome_rates(exit_con, "cohort").iloc[0]
    assert s.employment_rate_q2 >= federal.employment_rate_q2    # dropping the unfound can only raise it
    assert s.median_earnings_q2 == federal.median_earnings_q2   # the median is among the employed either way


def test_rates_by_group_add_up(exit_con):
    whole = o.exit_outcome_rates(exit_con, "cohort").iloc[0]
    by = o.exit_outcome_rates(exit_con, "cohort", by="program")
    assert list(by["program"]) == ["adult", "dislocated_worker"]
    assert by["exiters"].sum() == whole.exiters and by["n_employed_q2"].sum() == whole.n_employed_q2
    by_home = o.exit_outcome_rates(exit_con, "cohort", by="home_state", home_state="state_fips")
    assert list(by_home["home_state"]) == ["17", "18"] and by_home["linked"].sum() == whole.linked


def test_duplicate_cohort_rows_are_refused(exit_con):
    exit_con.execute("INSERT INTO cohort VALUES ('900-01-0001', 2021, 1, '17', 'adult')")   # same SSN, cleaned
    with pytest.raises(ValueError, match="900010001"):
        o.exit_outcomes(exit_con, "cohort")
    # Unlinkable rows are never "duplicates": many exiters lack an SSN.
    exit_con.execute("DELETE FROM cohort WHERE ssn = '900-01-0001'")
    exit_con.execute("INSERT INTO cohort VALUES (NULL, 2021, 1, '17', 'adult')")
    assert len(o.exit_outcomes(exit_con, "cohort")) == 8


def test_a_cohort_can_be_a_query(exit_con):
    from_table = o.exit_outcome_rates(exit_con, "cohort", by="program")
    from_query = o.exit_outcome_rates(exit_con, "SELECT * FROM cohort", by="program")
    pd.testing.assert_frame_equal(from_table, from_query)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"states": "neighbors"}, ValueError),
        ({"states": "home"}, ValueError),                # no home_state column named
        ({"states": ["IL"]}, ValueError),
        ({"min_earnings": -5}, ValueError),
        ({"ssn": "ssn; DROP TABLE x"}, ValueError),
        ({"keep": ["linked"]}, ValueError),
        ({"keep": ["no_such_column"]}, ValueError),
    ],
)
def test_exit_options_are_checked(exit_con, kwargs, error):
    with pytest.raises(error):
        o.exit_outcomes(exit_con, "cohort", **kwargs)


@pytest.mark.parametrize("kwargs", [{"denominator": "all"}, {"confidence": 95}, {"confidence": 1.0}])
def test_rate_options_are_checked(exit_con, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        o.exit_outcome_rates(exit_con, "cohort", **kwargs)


def test_bad_cohort_is_quoted_in_the_error(exit_con):
    with pytest.raises(ValueError, match=re.escape("'my cohort'")):
        o.exit_outcomes(exit_con, "my cohort")
    with pytest.raises(ValueError, match="no column 'exit_yr'"):
        o.exit_outcomes(exit_con, "cohort", exit_year="exit_yr")


def test_sql_uses_no_duckdb_only_syntax(exit_con):
    texts = []

    class Recorder:
        def sql(self, text):
            texts.append(text)
            return exit_con.sql(text)

    o.exit_outcome_rates(Recorder(), "cohort", by="program", states="home", home_state="state_fips")
    o.exit_outcomes(Recorder(), "cohort", min_earnings=o.MIN_WAGE_QUARTERLY)
    o.employment_by_relative_quarter(Recorder(), "cohort", by="program")
    texts.append(o.wioa_exiters_sql(first_year=2019, last_year=2023))
    assert len(texts) >= 6
    for text in texts:
        for pattern in (r"//", r"\bGROUP BY ALL\b", r"\bQUALIFY\b", r"\bMEDIAN\s*\(", r"::", r"\bFILTER\s*\("):
            assert not re.search(pattern, text, flags=re.IGNORECASE), f"{pattern!r} in:\n{text}"


# ------------------------------------------------------------------- the tiny dataset: invariants
@pytest.fixture()
def tiny(tiny_con):
    return tiny_con


def test_exit_outcomes_match_pandas_on_tiny(tiny):
    tiny.sql("""
        CREATE TABLE exiters AS
        SELECT ssn, MIN(state_fips) AS state_fips,
               EXTRACT(YEAR FROM exit_date) AS exit_year, EXTRACT(QUARTER FROM exit_date) AS exit_quarter
        FROM wioa
        WHERE exit_date IS NOT NULL AND ssn IS NOT NULL
        GROUP BY ssn, EXTRACT(YEAR FROM exit_date), EXTRACT(QUARTER FROM exit_date)
    """)
    out = o.exit_outcomes(tiny, "exiters", home_state="state_fips", states="home")
    allst = o.exit_outcomes(tiny, "exiters")
    coh = tiny.sql("SELECT * FROM exiters").df()
    w = tiny.sql("SELECT ssn, state_fips, ui_account, year * 4 + quarter - 1 AS q, wages FROM ui_wage").df()
    last = int(w.q.max())
    coh["exit_q"] = coh.exit_year * 4 + coh.exit_quarter - 1
    j = coh.merge(w, on="ssn", how="left", suffixes=("", "_w"))
    period = ["ssn", "exit_year", "exit_quarter"]  # one SSN may exit more than once (repeat participation)
    assert coh.duplicated("ssn").any(), "tiny should hold an SSN with two exits, the case the periods test"
    for k in (2, 4):
        in_q = j[j.q == j.exit_q + k]
        total_all = in_q.groupby(period)["wages"].sum()
        total_home = in_q[in_q.state_fips_w == in_q.state_fips].groupby(period)["wages"].sum()
        for df, total in ((allst, total_all), (out, total_home)):
            d = df.merge(coh[[*period, "exit_q"]], on=period)
            d = d[d.linked & (d.exit_q + k <= last)]
            expect = pd.Series(pd.MultiIndex.from_frame(d[period]).map(total), index=d.index).fillna(0)
            assert (d[f"earnings_q{k}"].astype(float).values == expect.values).all()
            assert (d[f"employed_q{k}"].astype(bool).values == (expect > 0).values).all()
    assert (out.earnings_q2.fillna(0) <= allst.earnings_q2.fillna(0)).all()


@pytest.fixture()
def exits(tiny):
    return o.wioa_exiters(tiny, first_year=2019, last_year=2023)


def test_wioa_exiters_one_row_per_period(exits):
    assert not exits.duplicated(["unique_individual_id", "entry_date", "exit_date"]).any()
    assert exits["exit_year"].between(2019, 2023).all()
    assert set(exits["ssn_status"]) <= set(identifiers.KEY_STATUSES)
    linked = exits["linked"].astype(bool)
    assert (linked == exits["ssn_status"].eq("usable")).all()
    assert (~linked).any(), "tiny should hold exiters without a usable SSN"
    # not found in the wage records: not employed, no earnings (the federal rule)
    assert not exits.loc[~linked, ["employed_q2", "employed_q4"]].astype(bool).any().any()
    assert (exits.loc[~linked, "earnings_q2"] == 0).all()
    assert (exits["employed_q2"].astype(bool) == (exits["earnings_q2"] > 0)).all()


def test_rates_follow_from_the_exiter_table(tiny, exits):
    cohort = o.wioa_exiters_sql(first_year=2019, last_year=2023)
    for denominator, rows in (("exiters", exits), ("linked", exits[exits["linked"].astype(bool)])):
        rates = o.exit_outcome_rates(tiny, cohort, by=["program"], denominator=denominator).set_index("program")
        for program, g in rows.groupby("program"):
            assert rates.loc[program, "employment_rate_q2"] == pytest.approx(g["employed_q2"].astype(bool).mean())
            assert rates.loc[program, "employment_rate_q4"] == pytest.approx(g["employed_q4"].astype(bool).mean())
        assert rates["exiters"].sum() == len(exits)


def test_relative_quarter_two_matches_the_rates(tiny):
    cohort = o.wioa_exiters_sql(first_year=2019, last_year=2023)
    for denominator in o.DENOMINATORS:
        by_q = o.employment_by_relative_quarter(tiny, cohort, by=["state_fips"], denominator=denominator)
        rates = o.exit_outcome_rates(tiny, cohort, by=["state_fips"], denominator=denominator)
        q2 = by_q[by_q["relative_quarter"] == 2].set_index("state_fips")
        for r in rates.itertuples():
            assert q2.loc[r.state_fips, "employed"] == r.n_employed_q2
            assert q2.loc[r.state_fips, "members"] == (r.exiters if denominator == "exiters" else r.linked)
    with pytest.raises(ValueError, match="quarters"):
        o.employment_by_relative_quarter(tiny, cohort, quarters=[])
    with pytest.raises(ValueError, match="last_year"):
        o.wioa_exiters_sql(first_year=2023, last_year=2019)
    with pytest.raises(ValueError, match="programs"):
        o.wioa_exiters_sql(first_year=2019, last_year=2023, programs=["adults"])


def test_grouping_by_the_exit_year(exit_con):
    by_year = o.exit_outcome_rates(exit_con, "cohort", by="exit_year")
    assert list(by_year["exit_year"]) == [2021] and by_year["exiters"].sum() == 7
    by_q = o.employment_by_relative_quarter(exit_con, "cohort", by=["exit_year", "exit_quarter"], quarters=[2])
    assert by_q.set_index("exit_quarter")["members"].to_dict() == {1: 6, 4: 1}
