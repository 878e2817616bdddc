"""statelab.measures: hand-built wage tables whose answers follow from the definitions, invariants on tiny.

The small tables are written so that each expected value can be read off the table by applying the
definition by hand; the comments say why. On the tiny dataset the functions are compared with independent
pandas implementations and with the identities the definitions imply.
"""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pandas as pd
import pytest

import synthetic_data as sd
from statelab import measures as m

# ------------------------------------------------------------------------------------------ fixtures
WAGE_COLUMNS = "state_fips VARCHAR, ssn VARCHAR, ui_account VARCHAR, year INTEGER, quarter INTEGER, wages BIGINT"


def _con(rows, cohort=None, employers=None):
    con = duckdb.connect()
    con.execute(f"CREATE TABLE ui_wage ({WAGE_COLUMNS})")
    if rows:
        con.executemany("INSERT INTO ui_wage VALUES (?, ?, ?, ?, ?, ?)", rows)
    if cohort is not None:
        con.execute("CREATE TABLE cohort (ssn VARCHAR, exit_year INTEGER, exit_quarter INTEGER, state_fips VARCHAR, "
                    "program VARCHAR)")
        con.executemany("INSERT INTO cohort VALUES (?, ?, ?, ?, ?)", cohort)
    if employers is not None:
        con.execute("CREATE TABLE employer (ui_account VARCHAR, state_fips VARCHAR, county_fips VARCHAR, "
                    "naics_sector VARCHAR)")
        con.executemany("INSERT INTO employer VALUES (?, ?, ?, ?)", employers)
    return con


def _q(year, quarter):
    return year * 4 + quarter - 1


# The exit cohort. Quarter k after an exit in 2021Q1 is 2021Q(1+k): Q1 = 2021Q2, Q2 = 2021Q3,
# Q3 = 2021Q4, Q4 = 2022Q1. The wage data run from 2020Q1 (a filler row) to 2022Q2.
EXIT_ROWS = [
    ("17", "900000009", "X", 2020, 1, 100),          # filler: sets the data's first quarter
    # A (home IL): same employer X in all of Q1-Q4 -> employed Q2 and Q4, retained, stable, full quarter.
    ("17", "900000001", "X", 2021, 1, 9999),         # exit quarter itself: never counted
    ("17", "900000001", "X", 2021, 2, 4000),
    ("17", "900000001", "X", 2021, 3, 5000),
    ("17", "900000001", "X", 2021, 4, 4500),
    ("17", "900000001", "X", 2022, 1, 6000),
    # B (home IN): paid only in Illinois's file, by Y in Q2 and by Z in Q4 -> employed with all states'
    # files, not with the home file alone; different employers so not retained, not stable.
    ("17", "900000002", "Y", 2021, 3, 7000),
    ("17", "900000002", "Z", 2022, 1, 8000),
    # C: no wages after exit (only before) -> not employed, earnings 0.
    ("17", "900000003", "X", 2020, 4, 3000),
    # E: placeholder SSN -> unlinked, whatever wages the placeholder carries.
    ("17", "999999999", "X", 2021, 3, 5000),
    # F: two jobs in Q2 adding up to 3,500 (>= the minimum-wage threshold); Q4 1,000 (below it).
    ("18", "900000006", "V", 2021, 3, 2000),
    ("18", "900000006", "W", 2021, 3, 1500),
    ("18", "900000006", "V", 2022, 1, 1000),
    # H: exits 2021Q4, so Q2 = 2022Q2 is the data's last quarter: employed defined, full quarter not;
    # Q4 = 2022Q4 lies beyond the data -> undefined.
    ("18", "900000008", "V", 2022, 1, 3000),
    ("18", "900000008", "V", 2022, 2, 3000),
]
EXIT_COHORT = [
    ("900000001", 2021, 1, "17", "adult"),
    ("900000002", 2021, 1, "18", "adult"),
    ("900000003", 2021, 1, "17", "dislocated_worker"),
    (None, 2021, 1, "17", "dislocated_worker"),        # D: no SSN
    ("999999999", 2021, 1, "17", "dislocated_worker"),  # E
    ("900000006", 2021, 1, "18", "adult"),
    ("900000008", 2021, 4, "18", "adult"),
]


@pytest.fixture()
def exit_con():
    con = _con(EXIT_ROWS, cohort=EXIT_COHORT)
    yield con
    con.close()


def _by_ssn(df):
    return {("none" if pd.isna(r.ssn) else r.ssn): r for r in df.itertuples()}


# ------------------------------------------------------------------------------- exit outcomes
def test_exit_outcomes_follow_the_definitions(exit_con):
    out = _by_ssn(m.exit_outcomes(exit_con, "cohort", home_state="state_fips"))
    a, b, c = out["900000001"], out["900000002"], out["900000003"]
    d, e, f, h = out["none"], out["999999999"], out["900000006"], out["900000008"]
    assert (a.earnings_q1, a.earnings_q2, a.earnings_q3, a.earnings_q4) == (4000, 5000, 4500, 6000)
    assert a.employed_q2 and a.employed_q4 and a.same_employer_q2_q4 and a.stable_q1_q4 and a.full_quarter_q2
    assert b.employed_q2 and b.employed_q4 and b.earnings_q2 == 7000
    assert not b.same_employer_q2_q4 and not b.stable_q1_q4 and not b.full_quarter_q2
    assert c.linked and c.earnings_q2 == 0 and not c.employed_q2 and not c.employed_q4
    for unlinked in (d, e):
        assert not unlinked.linked
        assert pd.isna(unlinked.employed_q2) and pd.isna(unlinked.earnings_q2) and pd.isna(unlinked.stable_q1_q4)
    assert f.earnings_q2 == 3500 and f.employed_q2 and f.same_employer_q2_q4  # V pays in Q2 and Q4 (W does not)
    assert not f.stable_q1_q4
    assert h.employed_q2 and pd.isna(h.full_quarter_q2) and pd.isna(h.employed_q4) and pd.isna(h.earnings_q4)
    assert pd.isna(h.same_employer_q2_q4) and pd.isna(h.stable_q1_q4)


def test_home_state_files_only(exit_con):
    home = _by_ssn(m.exit_outcomes(exit_con, "cohort", states="home", home_state="state_fips"))
    assert not home["900000002"].employed_q2 and home["900000002"].earnings_q2 == 0   # IN resident, IL job
    assert home["900000001"].employed_q2 and home["900000006"].employed_q2
    listed = _by_ssn(m.exit_outcomes(exit_con, "cohort", states=["18"]))
    assert not listed["900000001"].employed_q2 and listed["900000006"].employed_q2


def test_minimum_wage_threshold_uses_the_quarter_total(exit_con):
    out = _by_ssn(m.exit_outcomes(exit_con, "cohort", min_earnings=m.MIN_WAGE_QUARTERLY))
    assert m.MIN_WAGE_QUARTERLY == pytest.approx(3298.75)
    assert out["900000006"].employed_q2          # 2,000 + 1,500 from two employers
    assert not out["900000006"].employed_q4      # 1,000
    assert not out["900000008"].employed_q2 and out["900000001"].employed_q2


def test_rates_count_only_linked_and_defined(exit_con):
    r = m.exit_outcome_rates(exit_con, "cohort", home_state="state_fips").iloc[0]
    assert r.exiters == 7 and r.linked == 5
    # Q2: A, B, F, H employed; C not -> 4 of 5. Q4: A, B and F (1,000 > 0) employed, C not -> 3 of 4
    # (H's Q4 lies beyond the data).
    assert r.n_employed_q2 == 4 and r.employment_rate_q2 == pytest.approx(4 / 5)
    assert r.n_employed_q4 == 3 and r.employment_rate_q4 == pytest.approx(3 / 4)
    assert r.median_earnings_q2 == pytest.approx(np.median([5000, 7000, 3500, 3000]))
    # Retention among the Q2-employed whose Q4 is in the data (A, B, F): A and F kept an employer.
    assert r.retention_rate == pytest.approx(2 / 3)
    assert r.stable_rate == pytest.approx(1 / 4)            # A of A, B, C, F
    assert r.full_quarter_rate_q2 == pytest.approx(1 / 4)   # A of A, B, C, F (H undefined)
    home = m.exit_outcome_rates(exit_con, "cohort", states="home", home_state="state_fips").iloc[0]
    assert home.employment_rate_q2 == pytest.approx(3 / 5) and home.employment_rate_q2 <= r.employment_rate_q2


def test_rates_by_group_add_up(exit_con):
    whole = m.exit_outcome_rates(exit_con, "cohort").iloc[0]
    by = m.exit_outcome_rates(exit_con, "cohort", by="program")
    assert list(by["program"]) == ["adult", "dislocated_worker"]
    assert by["exiters"].sum() == whole.exiters and by["n_employed_q2"].sum() == whole.n_employed_q2
    by_home = m.exit_outcome_rates(exit_con, "cohort", by="home_state", home_state="state_fips")
    assert list(by_home["home_state"]) == ["17", "18"] and by_home["linked"].sum() == whole.linked


def test_duplicate_cohort_rows_are_refused(exit_con):
    exit_con.execute("INSERT INTO cohort VALUES ('900000001', 2021, 1, '17', 'adult')")
    with pytest.raises(ValueError, match="900000001"):
        m.exit_outcomes(exit_con, "cohort")
    # Unlinkable rows are never "duplicates": many exiters lack an SSN.
    exit_con.execute("DELETE FROM cohort WHERE ssn = '900000001'")
    exit_con.execute("INSERT INTO cohort VALUES (NULL, 2021, 1, '17', 'adult')")
    assert len(m.exit_outcomes(exit_con, "cohort")) == 7


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"states": "neighbors"}, ValueError),
        ({"states": "home"}, ValueError),                # no home_state column named
        ({"states": ["IL"]}, ValueError),
        ({"min_earnings": -5}, ValueError),
        ({"ssn": "ssn; DROP TABLE x"}, ValueError),
        ({"keep": ["linked"]}, ValueError),
        ({"exclude_ssns": "999999999"}, TypeError),
    ],
)
def test_exit_options_are_checked(exit_con, kwargs, error):
    with pytest.raises(error):
        m.exit_outcomes(exit_con, "cohort", **kwargs)


def test_bad_table_name_is_quoted_in_the_error(exit_con):
    with pytest.raises(ValueError, match=re.escape("'my cohort'")):
        m.exit_outcomes(exit_con, "my cohort")


# ----------------------------------------------------------------------------- employer measures
# Employers: E1 health care (62) in county 17001; E2 construction (23) in 17003; E3 retail (44-45) in 17001;
# E4 construction (23) in 17005. Quarters q0..q5 are 2020Q1..2021Q2; a filler row at E3 in 2019Q1 makes the
# data start four quarters before q0, so new hires are defined from q0 on.
EMPLOYERS = [("E1", "17", "17001", "62"), ("E2", "17", "17003", "23"), ("E3", "17", "17001", "44-45"),
             ("E4", "17", "17005", "23")]
Q0 = (2020, 1)
# worker -> list of (employer, quarter offsets from q0, wages)
HISTORY = {
    "w1": [("E1", range(6), 9000)],                                   # always at E1
    "w2": [("E1", [1, 2], 8000)],                                        # hired q1, separates after q2
    "w3": [("E1", [0, 3], 7000)],                                        # leaves after q0, rehired q3 (not new)
    "w4": [("E1", [2], 5000)],                                           # one quarter only
    "w5": [("E2", [0, 1, 2], 6000), ("E1", [3, 4, 5], 6500)],            # changes job E2 -> E1 at q3
    "w6": [("E1", range(6), 12000), ("E2", [1, 2], 900)],             # main E1, small second job
    "w7": [("E2", [0, 1], 10000), ("E1", [0, 1, 2, 3], 1000)],           # main E2 until q1, then only E1
    "w8": [("E2", [0, 1], 4000), ("E1", [3], 4000)],                     # not paid in q2: not a job change
    "w9": [("E3", [0, 1], 3000), ("E2", [2, 3, 4, 5], 3500)],            # 44-45 -> 23 at q2
    "w10": [("E2", [3], 5000), ("E4", [4, 5], 5200)],                    # 23 -> 23 (another county) at q4
}


def _history_rows():
    rows = [("17", "900000099", "E3", 2019, 1, 100)]
    for i, (worker, jobs) in enumerate(HISTORY.items()):
        ssn = f"9000001{i:02d}"
        for emp, offsets, wage in jobs:
            for k in offsets:
                q = _q(*Q0) + k
                rows.append(("17", ssn, emp, q // 4, q % 4 + 1, wage))
    # Unusable SSNs at E1 in q2: counted as unlinked records, in no flow.
    rows += [("17", None, "E1", 2020, 3, 4000), ("17", "999999999", "E1", 2020, 3, 4000)]
    return rows


@pytest.fixture()
def firm_con():
    con = _con(_history_rows(), employers=EMPLOYERS)
    yield con
    con.close()


def test_employer_flows_at_one_employer(firm_con):
    eq = m.employer_quarters(firm_con, start=Q0, end="2021Q2")
    e1 = eq[eq.ui_account == "E1"].set_index("q")
    q0 = _q(*Q0)
    # Read off HISTORY for E1 (who is paid in each quarter):
    # q0 w1 w3 w6 w7 | q1 w1 w2 w6 w7 | q2 w1 w2 w4 w6 w7 | q3 w1 w3 w5 w6 w7 w8 | q4 w1 w5 w6 | q5 w1 w5 w6
    expected = {
        "workers":      [4, 4, 5, 6, 3, 3],
        "emp_begin":    [0, 3, 4, 3, 3, 3],       # also paid in t-1
        "emp_end":      [3, 4, 3, 3, 3, None],    # also paid in t+1; q5 is the data's last quarter
        "full_quarter": [0, 3, 3, 2, 3, None],
        "hires":        [4, 1, 1, 3, 0, 0],
        "new_hires":    [4, 1, 1, 2, 0, 0],       # w3's return in q3 is a hire, not a new hire
        "separations":  [1, 0, 2, 3, 0, None],
        "unlinked_records": [0, 0, 2, 0, 0, 0],
    }
    for column, values in expected.items():
        got = [None if pd.isna(v) else int(v) for v in e1.loc[q0:q0 + 5, column]]
        assert got == values, column
    assert e1.loc[q0, "total_wages"] == 9000 + 7000 + 12000 + 1000
    assert set(e1["naics_sector"]) == {"62"} and set(e1["county_fips"]) == {"17001"}


def test_first_quarter_measures_are_undefined(firm_con):
    eq = m.employer_quarters(firm_con, end="2019Q1")
    row = eq.iloc[0]
    assert row.workers == 1 and pd.isna(row.emp_begin) and pd.isna(row.hires) and pd.isna(row.new_hires)
    assert row.emp_end == 0 and row.separations == 1


def test_flow_identities_on_the_hand_table(firm_con):
    _check_identities(m.employer_quarters(firm_con))


def test_worker_flows_on_the_hand_table(firm_con):
    flows = m.worker_flows(firm_con)
    got = {(r.origin, r.destination): r.job_changers for r in flows.itertuples()}
    # w5 and w7 move 23 -> 62; w9 44-45 -> 23; w10 23 -> 23. w6's second job and w8's gap are not changes.
    assert got == {("23", "62"): 2, ("44-45", "23"): 1, ("23", "23"): 1}
    by_county = m.worker_flows(firm_con, by="county_fips", by_quarter=True)
    assert {(r.origin, r.destination, r.year, r.quarter, r.job_changers) for r in by_county.itertuples()} == {
        ("17003", "17001", 2020, 4, 1),   # w5 at q3
        ("17003", "17001", 2020, 3, 1),   # w7 at q2
        ("17001", "17003", 2020, 3, 1),   # w9 at q2
        ("17003", "17005", 2021, 1, 1),   # w10 at q4
    }
    assert m.worker_flows(firm_con, start="2020Q4", end="2020Q4")["job_changers"].sum() == 1


def test_labor_demand_by_sector_and_growth(firm_con):
    ld = m.labor_demand(firm_con, by="naics_sector", start=Q0)
    eq = m.employer_quarters(firm_con, start=Q0)
    for column in ("workers", "hires", "separations"):
        a = ld.groupby(["naics_sector", "q"])[column].sum(min_count=1)
        b = eq.groupby(["naics_sector", "q"])[column].sum(min_count=1)
        pd.testing.assert_series_equal(a, b, check_dtype=False)
    e1 = ld[ld.naics_sector == "62"].set_index("q")
    q0 = _q(*Q0)
    # emp_begin at E1: 0, 3, 4, 3, 3, 3. Growth q1 vs q0: 2 (3 - 0) / (3 + 0) = 2 (a new unit).
    assert e1.loc[q0 + 1, "growth_rate"] == pytest.approx(2.0)
    assert e1.loc[q0 + 2, "growth_rate"] == pytest.approx(2 * (4 - 3) / (4 + 3))
    assert e1.loc[q0 + 3, "growth_rate"] == pytest.approx(2 * (3 - 4) / (3 + 4))
    assert pd.isna(e1.loc[q0, "growth_rate"])    # both 0
    assert e1.loc[q0, "largest_employer_share"] == 1.0
    region = m.labor_demand(firm_con, by=None)
    assert pd.isna(region.iloc[0]["growth_rate"]) and region.iloc[0]["employers"] == 1


def test_earnings_percentiles(firm_con):
    q0 = _q(*Q0)
    allq = m.earnings_percentiles(firm_con, by="ui_account", full_quarter=False, percentiles=(0.5,))
    e1 = allq[allq.ui_account == "E1"].set_index("q")
    assert e1.loc[q0, "p50"] == pytest.approx(np.median([9000, 7000, 12000, 1000]))
    full = m.earnings_percentiles(firm_con, by="ui_account", percentiles=(0.25, 0.5))
    f1 = full[full.ui_account == "E1"].set_index("q")
    # Full-quarter jobs at E1 in q3: w1 (9,000) and w6 (12,000).
    assert f1.loc[q0 + 3, "jobs"] == 2 and f1.loc[q0 + 3, "p50"] == pytest.approx(10500)
    assert f1.loc[q0 + 3, "p25"] == pytest.approx(9750)
    assert q0 + 5 not in f1.index          # the data's last quarter has no full-quarter jobs


def test_growth_rate_function():
    assert m.growth_rate(15, 5) == pytest.approx(1.0)
    assert m.growth_rate(0, 7) == -2.0 and m.growth_rate(7, 0) == 2.0
    assert np.isnan(m.growth_rate(0, 0))
    np.testing.assert_allclose(m.growth_rate([2, 4], [2, 2]), [0.0, 2 / 3])
    with pytest.raises(ValueError):
        m.growth_rate(-1, 2)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda c: m.employer_quarters(c, start="2020-Q5"), ValueError),
        (lambda c: m.employer_quarters(c, start="2021Q1", end="2020Q1"), ValueError),
        (lambda c: m.employer_quarters(c, start=2020), TypeError),
        (lambda c: m.labor_demand(c, by="industry"), ValueError),
        (lambda c: m.labor_demand(c, growth_of="payroll"), ValueError),
        (lambda c: m.earnings_percentiles(c, percentiles=(50,)), ValueError),
        (lambda c: m.worker_flows(c, by=["naics_sector", "county_fips"]), ValueError),
        (lambda c: m.employer_quarters(c, wage_table="ui wage"), ValueError),
    ],
)
def test_employer_options_are_checked(firm_con, call, error):
    with pytest.raises(error):
        call(firm_con)


# --------------------------------------------------------------------------- portable SQL only
class _Recorder:
    """A connection stand-in that records every SQL text sent through ``.sql``."""

    def __init__(self, con):
        self.con, self.texts = con, []

    def sql(self, text):
        self.texts.append(text)
        return self.con.sql(text)


DUCKDB_ONLY = [r"//", r"\bGROUP BY ALL\b", r"\bQUALIFY\b", r"\bMEDIAN\s*\(", r"::", r"\bANY_VALUE\b",
               r"\bARG_(MIN|MAX)\b", r"\bFILTER\s*\(", r"\brange\s*\(", r"\bEXCLUDE\b", r"\bCOLUMNS\s*\("]


def test_sql_uses_no_duckdb_only_syntax(exit_con, firm_con):
    rec = _Recorder(exit_con)
    m.exit_outcome_rates(rec, "cohort", by="program", states="home", home_state="state_fips")
    m.exit_outcomes(rec, "cohort", min_earnings=m.MIN_WAGE_QUARTERLY)
    rec2 = _Recorder(firm_con)
    m.labor_demand(rec2, by="county_fips")
    m.earnings_percentiles(rec2)
    m.worker_flows(rec2, by_quarter=True)
    m.employer_quarters(rec2, start="2020Q1")
    texts = rec.texts + rec2.texts
    assert len(texts) >= 6
    for text in texts:
        for pattern in DUCKDB_ONLY:
            assert not re.search(pattern, text, flags=re.IGNORECASE), f"{pattern!r} in:\n{text}"


# ------------------------------------------------------------------- the tiny dataset: invariants
def _check_identities(eq):
    d = eq.dropna(subset=["emp_begin", "emp_end", "hires", "separations"])
    assert len(d) > 0
    assert ((d.emp_end - d.emp_begin) == (d.hires - d.separations)).all()
    assert ((d.emp_begin + d.hires) == d.workers).all() and ((d.emp_end + d.separations) == d.workers).all()
    assert (d.full_quarter <= d.emp_begin).all() and (d.full_quarter <= d.emp_end).all()
    h = eq.dropna(subset=["new_hires"])
    assert (h.new_hires <= h.hires).all()
    # emp_begin(t + 1) == emp_end(t) at the same employer; an employer with nobody in t+1 had emp_end 0.
    nxt = eq[["ui_account", "q", "emp_begin"]].assign(q=eq.q - 1)
    j = eq[["ui_account", "q", "emp_end"]].merge(nxt, on=["ui_account", "q"], how="left")
    j = j.dropna(subset=["emp_end"])
    assert (j.emp_begin.fillna(0) == j.emp_end).all()


@pytest.fixture()
def tiny(tiny_dataset):
    con = sd.connect(tiny_dataset)
    yield con
    con.close()


def _pandas_employer_quarters(con):
    """An independent implementation with pandas sets: who is at which employer in which quarter."""
    w = con.sql("SELECT ui_account, ssn, year * 4 + quarter - 1 AS q FROM ui_wage WHERE ssn IS NOT NULL").df()
    w = w[~w.ssn.isin(m.PLACEHOLDER_SSNS)].drop_duplicates()
    first, last = int(w.q.min()), int(w.q.max())
    keys = set(zip(w.ui_account, w.ssn, w.q))
    w["was"] = [(a, s, q - 1) in keys for a, s, q in zip(w.ui_account, w.ssn, w.q)]
    w["stays"] = [(a, s, q + 1) in keys for a, s, q in zip(w.ui_account, w.ssn, w.q)]
    w["recent"] = [any((a, s, q - k) in keys for k in range(1, 5)) for a, s, q in zip(w.ui_account, w.ssn, w.q)]
    g = w.groupby(["ui_account", "q"])
    out = pd.DataFrame({
        "workers": g.size(),
        "emp_begin": g["was"].sum(), "emp_end": g["stays"].sum(),
        "hires": g["was"].apply(lambda s: (~s).sum()), "separations": g["stays"].apply(lambda s: (~s).sum()),
        "new_hires": g["recent"].apply(lambda s: (~s).sum()),
    }).reset_index()
    out.loc[out.q == first, ["emp_begin", "hires"]] = np.nan
    out.loc[out.q < first + 4, "new_hires"] = np.nan
    out.loc[out.q == last, ["emp_end", "separations"]] = np.nan
    return out


def test_employer_quarters_match_pandas_on_tiny(tiny):
    eq = m.employer_quarters(tiny)
    ref = _pandas_employer_quarters(tiny)
    cols = ["ui_account", "q", "workers", "emp_begin", "emp_end", "hires", "separations", "new_hires"]
    a = eq[cols].sort_values(["ui_account", "q"]).reset_index(drop=True).astype({c: "float64" for c in cols[2:]})
    b = ref[cols].sort_values(["ui_account", "q"]).reset_index(drop=True).astype({c: "float64" for c in cols[2:]})
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    _check_identities(eq)


def test_labor_demand_adds_up_on_tiny(tiny):
    eq = m.employer_quarters(tiny)
    ld = m.labor_demand(tiny, by="county_fips")
    for column in ("workers", "emp_begin", "hires", "total_wages"):
        a = ld.groupby("q")[column].sum(min_count=1).astype("float64")
        b = eq.groupby("q")[column].sum(min_count=1).astype("float64")
        pd.testing.assert_series_equal(a, b, check_names=False)
    assert ld["employers"].sum() == len(eq)
    g = ld.dropna(subset=["growth_rate"])
    assert ((g.growth_rate >= -2) & (g.growth_rate <= 2)).all()


def test_worker_flows_sum_to_job_changers_on_tiny(tiny):
    flows = m.worker_flows(tiny, by="naics_sector", by_quarter=True)
    w = tiny.sql("SELECT ssn, ui_account, year * 4 + quarter - 1 AS q, wages FROM ui_wage "
                 "WHERE ssn IS NOT NULL").df()
    w = w[~w.ssn.isin(m.PLACEHOLDER_SSNS)].groupby(["ssn", "ui_account", "q"], as_index=False)["wages"].sum()
    main = w.sort_values(["ssn", "q", "wages", "ui_account"], ascending=[True, True, False, True])
    main = main.drop_duplicates(["ssn", "q"])[["ssn", "q", "ui_account"]]
    nxt = main.assign(q=main.q - 1).rename(columns={"ui_account": "dest"})
    pair = main.merge(nxt, on=["ssn", "q"])
    paid = set(zip(w.ssn, w.ui_account, w.q))
    changers = pair[[(s, a, q + 1) not in paid for s, a, q in zip(pair.ssn, pair.ui_account, pair.q)]]
    assert len(changers) > 0
    assert flows["job_changers"].sum() == len(changers)
    per_q = flows.assign(q=flows.year * 4 + flows.quarter - 1).groupby("q")["job_changers"].sum()
    assert per_q.to_dict() == (changers.q + 1).value_counts().sort_index().to_dict()
    total = m.worker_flows(tiny, by="county_fips")["job_changers"].sum()
    assert total == len(changers)      # the grouping changes the edges, not the number of job changers


def test_exit_outcomes_match_pandas_on_tiny(tiny):
    tiny.sql("""
        CREATE TABLE exiters AS
        SELECT ssn, MIN(state_fips) AS state_fips,
               EXTRACT(YEAR FROM exit_date) AS exit_year, EXTRACT(QUARTER FROM exit_date) AS exit_quarter
        FROM wioa
        WHERE exit_date IS NOT NULL AND ssn IS NOT NULL
        GROUP BY ssn, EXTRACT(YEAR FROM exit_date), EXTRACT(QUARTER FROM exit_date)
    """)
    out = m.exit_outcomes(tiny, "exiters", home_state="state_fips", states="home")
    allst = m.exit_outcomes(tiny, "exiters")
    coh = tiny.sql("SELECT * FROM exiters").df()
    w = tiny.sql("SELECT ssn, state_fips, ui_account, year * 4 + quarter - 1 AS q, wages FROM ui_wage").df()
    last = int(w.q.max())
    coh["exit_q"] = coh.exit_year * 4 + coh.exit_quarter - 1
    j = coh.merge(w, on="ssn", how="left", suffixes=("", "_w"))
    for k in (2, 4):
        in_q = j[j.q == j.exit_q + k]
        # by SSN and exit: a participant who came back has two exits
        total_all = in_q.groupby(["ssn", "exit_q"])["wages"].sum()
        total_home = in_q[in_q.state_fips_w == in_q.state_fips].groupby(["ssn", "exit_q"])["wages"].sum()
        for df, total in ((allst, total_all), (out, total_home)):
            d = df.merge(coh[["ssn", "exit_year", "exit_quarter", "exit_q"]], on=["ssn", "exit_year", "exit_quarter"])
            d = d[d.linked & (d.exit_q + k <= last)]
            expect = pd.Series(total.reindex(pd.MultiIndex.from_arrays([d.ssn, d.exit_q])).to_numpy()).fillna(0)
            assert (d[f"earnings_q{k}"].astype(float).values == expect.values).all()
            assert (d[f"employed_q{k}"].astype(bool).values == (expect > 0).values).all()
    assert (out.earnings_q2.fillna(0) <= allst.earnings_q2.fillna(0)).all()
