"""Module 12 (disclosure review and export): the checker and the protections the lesson relies on.

Headline: **the disclosure checker catches each rule on crafted tables** -- one small table per rule,
clean in every other respect, and the checker flags exactly that rule (nothing else), in the cell that
breaks it.

Then, on the tiny dataset, the lesson's and practice's steps on real tables, each compared with an
independent pandas computation from the raw records:

* the cells the checker flags as too small are exactly those a plain count finds under 10;
* the employer rules flag exactly the cells with fewer than 3 employers or a top employer above 80 %;
* after ``suppress`` every hidden cell of a real 2-way table has a feasible range of positive width that
  contains its true value, and the published long table passes the checker;
* ``prepare_export`` refuses the raw table (writing nothing) and writes the protected one, keeping the
  unrounded table in the not-for-release folder.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthetic_data as sd
from statelab import disclosure as d

# ------------------------------------------------------------------------- headline: crafted tables


def _crafted():
    """rule -> (release table, check_table options, the (cell, column) expected to be flagged)."""
    lab = {"county": ["A", "B"]}
    return {
        "min_cell_size": (
            pd.DataFrame(lab | {"leavers": [120, 10]}),
            {"count_cols": "leavers", "unrounded": pd.DataFrame(lab | {"leavers": [123, 6]})},
            ("county=B", "leavers"),
        ),
        "min_employers": (
            pd.DataFrame(lab | {"jobs": [120, 50]}),
            {"count_cols": "jobs", "employer_count_col": "employers", "top_employer_share_col": "top_share",
             "unrounded": pd.DataFrame(lab | {"jobs": [118, 52], "employers": [5, 2], "top_share": [0.3, 0.5]})},
            ("county=B", "employers"),
        ),
        "dominance": (
            pd.DataFrame(lab | {"jobs": [120, 50]}),
            {"count_cols": "jobs", "employer_count_col": "employers", "top_employer_share_col": "top_share",
             "unrounded": pd.DataFrame(lab | {"jobs": [118, 52], "employers": [5, 4], "top_share": [0.3, 0.85]})},
            ("county=B", "top_share"),
        ),
        "count_rounding": (
            pd.DataFrame(lab | {"leavers": [120, 43]}),
            {"count_cols": "leavers"},
            ("county=B", "leavers"),
        ),
        "wage_rounding": (
            pd.DataFrame(lab | {"leavers": [120, 40], "mean_earnings": [5400, 5432]}),
            {"count_cols": "leavers", "wage_cols": "mean_earnings"},
            ("county=B", "mean_earnings"),
        ),
        "average_rounding": (
            pd.DataFrame(lab | {"leavers": [120, 40], "mean_weeks_paid": [12.3, 12.34]}),
            {"count_cols": "leavers", "average_cols": "mean_weeks_paid"},
            ("county=B", "mean_weeks_paid"),
        ),
        "percent_extreme": (
            pd.DataFrame(lab | {"leavers": [120, 40], "pct_employed": [55.0, 100.0]}),
            {"count_cols": "leavers", "percent_cols": ["pct_employed"]},
            ("county=B", "pct_employed"),
        ),
        "percent_rounded_parts": (
            pd.DataFrame(lab | {"leavers": [120, 40], "pct_employed": [58.3, 47.7]}),
            {"count_cols": "leavers", "percent_cols": {"pct_employed": ("employed", "leavers")},
             # 66/123 -> 70/120 = 58.3 % (right); 21/44 -> 20/40 = 50.0 %, not the exact 47.7 %
             "unrounded": pd.DataFrame(lab | {"leavers": [123, 44], "employed": [66, 21]})},
            ("county=B", "pct_employed"),
        ),
        "exact_statistic": (
            pd.DataFrame(lab | {"leavers": [120, 40], "median_earnings": [5400, 4300]}),
            {"count_cols": "leavers", "wage_cols": "median_earnings"},
            ("(whole column)", "median_earnings"),
        ),
        "complementary": (
            pd.DataFrame({"county": ["A", "B", "C", "Total"],
                          "leavers": pd.array([120, None, 50, 180], dtype="Int64")}),
            {"count_cols": "leavers", "margins": "county",
             "unrounded": pd.DataFrame({"county": ["A", "B", "C", "Total"], "leavers": [123, 6, 51, 180]})},
            ("county=B", "leavers"),
        ),
    }


#: rule -> (frame holding the offending value, row, column, corrected value)
_FIXES = {
    "min_cell_size": ("unrounded", 1, "leavers", 12),
    "min_employers": ("unrounded", 1, "employers", 3),
    "dominance": ("unrounded", 1, "top_share", 0.8),
    "count_rounding": ("table", 1, "leavers", 40),
    "wage_rounding": ("table", 1, "mean_earnings", 5400),
    "average_rounding": ("table", 1, "mean_weeks_paid", 12.3),
    "percent_extreme": ("table", 1, "pct_employed", 95.0),
    "percent_rounded_parts": ("table", 1, "pct_employed", 50.0),
    "complementary": ("table", 2, "leavers", pd.NA),  # hide a partner cell too
}


def _fixed(rule, table, options):
    """The crafted table with its one offending value corrected."""
    frames = {"table": table.copy(), "unrounded": options.get("unrounded")}
    options = dict(options)
    if rule == "exact_statistic":  # publish fuzzy percentiles, honestly named
        frames["table"] = frames["table"].rename(columns={"median_earnings": "fuzzy_median_earnings"})
        options["wage_cols"] = "fuzzy_median_earnings"
    else:
        where, row, column, value = _FIXES[rule]
        frames[where] = frames[where].copy()
        frames[where].loc[row, column] = value
        if frames["unrounded"] is not None:
            options["unrounded"] = frames["unrounded"]
    return frames["table"], options


def test_every_rule_has_a_crafted_table():
    assert sorted(_crafted()) == sorted(d.RULE_TITLES)


@pytest.mark.parametrize("rule", sorted(d.RULE_TITLES))
def test_the_disclosure_checker_catches_each_rule_on_crafted_tables(rule):
    table, options, (cell, column) = _crafted()[rule]
    report = d.check_table(table, **options)
    assert report.rules_broken == [rule], report.to_frame()
    assert [(v.cell, v.column) for v in report.violations] == [(cell, column)]
    assert report.violations[0].message  # a plain-English explanation
    assert rule in report.checked
    # correcting the one offending value makes the table pass: the flag was about that cell only
    fixed_table, fixed_options = _fixed(rule, table, options)
    assert d.check_table(fixed_table, **fixed_options).ok


# ---------------------------------------------------------------------------- real tables (tiny data)


@pytest.fixture()
def con(tiny_dataset):
    c = sd.connect(tiny_dataset)
    yield c
    c.close()


def test_small_cells_flagged_match_an_independent_count(con):
    """WIOA participants (distinct people) by state and program, as a learner would tabulate them."""
    table = con.sql("""
        SELECT state_fips, program, COUNT(DISTINCT unique_individual_id) AS people
        FROM wioa GROUP BY state_fips, program ORDER BY state_fips, program
    """).df()
    raw = con.sql("SELECT state_fips, program, unique_individual_id FROM wioa").df()
    expected = raw.groupby(["state_fips", "program"])["unique_individual_id"].nunique()
    small = sorted(f"state_fips={s}, program={p}" for (s, p), n in expected.items() if n < 10)
    report = d.check_table(table, count_cols="people")
    assert sorted(v.cell for v in report.violations if v.rule == "min_cell_size") == small
    assert small, "the tiny data should have some small cells"


def test_employer_rules_match_an_independent_computation(con):
    """The practice's sector x county table for Illinois, 2021 Q2."""
    table = con.sql("""
        SELECT e.naics_sector, e.county_fips, SUM(q.month3_emplvl) AS employment, COUNT(*) AS employers,
               MAX(q.month3_emplvl) * 1.0 / SUM(q.month3_emplvl) AS top_share
        FROM employer_quarter AS q JOIN employer AS e USING (ui_account)
        WHERE e.state_fips = '17' AND q.year = 2021 AND q.quarter = 2 AND q.month3_emplvl > 0
        GROUP BY e.naics_sector, e.county_fips
    """).df()
    est = con.sql("SELECT ui_account, naics_sector, county_fips, state_fips FROM employer").df().merge(
        con.sql("SELECT ui_account, month3_emplvl FROM employer_quarter WHERE year = 2021 AND quarter = 2").df())
    est = est[(est.state_fips == "17") & (est.month3_emplvl > 0)]
    g = est.groupby(["naics_sector", "county_fips"])["month3_emplvl"]
    few = {f"naics_sector={s}, county_fips={c}" for (s, c), n in g.size().items() if n < 3}
    dominant = {f"naics_sector={s}, county_fips={c}" for (s, c), x in (g.max() / g.sum()).items() if x > 0.8}
    report = d.check_table(table, count_cols="employment", employer_count_col="employers",
                           top_employer_share_col="top_share", label_cols=["naics_sector", "county_fips"])
    assert {v.cell for v in report.violations if v.rule == "min_employers"} == few
    assert {v.cell for v in report.violations if v.rule == "dominance"} == dominant


def test_suppression_of_a_real_table_protects_every_hidden_cell(con):
    """UI claims filed 2019-2021 by state and separation reason, with totals."""
    long = con.sql("""
        SELECT state_fips, separation_reason, COUNT(*) AS claims
        FROM ui_claim WHERE EXTRACT(YEAR FROM date_filed) BETWEEN 2019 AND 2021
        GROUP BY state_fips, separation_reason
    """).df()
    s = d.suppress(long, row="state_fips", column="separation_reason", count="claims")
    assert s.primary.to_numpy().any(), "the tiny data should need suppression"
    intervals = s.intervals()
    assert (intervals["width"] > 0).all()
    assert ((intervals["lower"] <= intervals["value"]) & (intervals["value"] <= intervals["upper"])).all()
    release = s.to_long(value_name="claims")
    assert d.check_table(release, count_cols="claims", margins=("state_fips", "separation_reason"),
                         unrounded=s.to_long(value_name="claims", rounded=False)).ok
    # the totals published are the true totals, rounded
    truth = long.groupby("state_fips")["claims"].sum()
    published = release[release.separation_reason == "Total"].set_index("state_fips")["claims"].drop("Total")
    for state, value in published.dropna().items():
        assert value == d.round_count(int(truth[state]))


def test_export_refuses_the_raw_table_and_writes_the_protected_one(con, tmp_path):
    raw = con.sql("""
        SELECT state_fips, COUNT(*) AS claims, CAST(SUM(CASE WHEN exhausted THEN 1 ELSE 0 END) AS INTEGER) AS exhausted
        FROM ui_claim WHERE EXTRACT(YEAR FROM date_filed) = 2020
        GROUP BY state_fips ORDER BY state_fips
    """).df()
    memo = ("UI claims filed in 2020 by state, and the percentage of claimants who exhausted their benefits. "
            "Small cells suppressed with complementary suppression; counts rounded; percentages from rounded parts.")
    with pytest.raises(d.DisclosureError, match="nothing was written"):
        d.prepare_export(tmp_path / "raw", d.ExportTable(name="raw", table=raw, check={"count_cols": "claims"}),
                         code="test", memo=memo)
    assert list(tmp_path.iterdir()) == []
    s = d.suppress(raw.set_index("state_fips")["claims"])
    release = s.to_long(value_name="claims")
    unrounded = raw.set_index("state_fips").reindex(release["state_fips"]).reset_index()
    unrounded.loc[unrounded.state_fips == "Total", ["claims", "exhausted"]] = [raw.claims.sum(), raw.exhausted.sum()]
    release["pct_exhausted"] = d.safe_percent(unrounded["exhausted"], unrounded["claims"]).mask(release["claims"].isna())
    pkg = d.prepare_export(
        tmp_path / "pkg",
        d.ExportTable(name="claims", table=release, unrounded=unrounded,
                      check={"count_cols": "claims", "margins": "state_fips",
                             "percent_cols": {"pct_exhausted": ("exhausted", "claims")}}),
        code="test", memo=memo)
    files = set(pkg.listing()["file"])
    assert {"release/claims.csv", "NOT_FOR_RELEASE/claims_unrounded.csv", "memo.md"} <= files
    released = pd.read_csv(pkg.path / "release" / "claims.csv")
    assert "exhausted" not in released.columns
    counts = released["claims"].dropna()
    assert (counts % 10 == 0).all() and (counts >= 10).all()
    pct = released["pct_exhausted"].dropna()
    assert ((pct > 0) & (pct < 100)).all() and np.allclose(pct, pct.round(1))
