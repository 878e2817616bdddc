"""statelab.measures (labor demand): hand-built wage tables whose answers follow from the definitions, invariants on tiny.

Exit outcomes moved to statelab.outcomes; they are tested in test_outcomes.py.

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
from statelab import identifiers
from statelab import measures as m

# ------------------------------------------------------------------------------------------ fixtures
WAGE_COLUMNS = "state_fips VARCHAR, ssn VARCHAR, ui_account VARCHAR, year INTEGER, quarter INTEGER, wages BIGINT"


def _con(rows, employers=None):
    con = duckdb.connect()
    con.execute(f"CREATE TABLE ui_wage ({WAGE_COLUMNS})")
    if rows:
        con.executemany("INSERT INTO ui_wage VALUES (?, ?, ?, ?, ?, ?)", rows)
    if employers is not None:
        con.execute("CREATE TABLE employer (ui_account VARCHAR, state_fips VARCHAR, county_fips VARCHAR, "
                    "naics_sector VARCHAR)")
        con.executemany("INSERT INTO employer VALUES (?, ?, ?, ?)", employers)
    return con


def _q(year, quarter):
    return year * 4 + quarter - 1


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
    rows = [("17", "900990099", "E3", 2019, 1, 100)]
    for i, (worker, jobs) in enumerate(HISTORY.items()):
        ssn = f"90010{i + 1:04d}"  # valid: group 10, a non-zero serial
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


def test_sql_uses_no_duckdb_only_syntax(firm_con):
    rec2 = _Recorder(firm_con)
    m.labor_demand(rec2, by="county_fips")
    m.earnings_percentiles(rec2)
    m.worker_flows(rec2, by_quarter=True)
    m.employer_quarters(rec2, start="2020Q1")
    texts = rec2.texts
    assert len(texts) >= 4
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
    w = w[identifiers.ssn_status(w.ssn).eq("valid").to_numpy()].drop_duplicates()  # the course's rule
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
    w = w[identifiers.ssn_status(w.ssn).eq("valid").to_numpy()].groupby(["ssn", "ui_account", "q"], as_index=False)["wages"].sum()
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
