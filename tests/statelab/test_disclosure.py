"""Unit tests for statelab.disclosure: rounding, percentages, fuzzy statistics, the checker, suppression
and export packages, each on small hand-made inputs whose right answer can be worked out by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from statelab import disclosure as d

# ------------------------------------------------------------------------------------------- Rules


def test_rules_defaults_match_the_data_reference():
    r = d.Rules()
    assert (r.min_cell_size, r.min_employers, r.max_employer_share) == (10, 3, 0.8)
    assert (r.count_unit_small, r.count_unit_large, r.count_large_from) == (10, 100, 1000)
    assert (r.wage_unit, r.average_decimals, r.percent_decimals, r.fuzzy_unit) == (100, 1, 1, 100)


def test_rules_from_dict_toml_and_replace(tmp_path):
    assert d.Rules.from_dict({"min_cell_size": 11}).min_cell_size == 11
    assert d.Rules().replace(min_employers=10).min_employers == 10
    assert d.Rules.from_toml("[disclosure]\nmin_cell_size = 11\nmax_employer_share = 0.6\n").max_employer_share == 0.6
    path = tmp_path / "rules.toml"
    path.write_text("min_cell_size = 11\n")
    assert d.Rules.from_toml(path).min_cell_size == 11
    assert d.Rules.from_toml(str(path)).min_cell_size == 11
    assert d.Rules.from_dict(d.Rules().to_dict()) == d.Rules()


@pytest.mark.parametrize(
    "changes, exc, quoted",
    [
        ({"min_cell_size": 0}, ValueError, "0"),
        ({"min_cell_size": 2.5}, TypeError, "2.5"),
        ({"min_cell_size": True}, TypeError, "True"),
        ({"max_employer_share": 1.5}, ValueError, "1.5"),
        ({"max_employer_share": 0}, ValueError, "0"),
        ({"min_cell_sizes": 10}, ValueError, "min_cell_sizes"),
    ],
)
def test_rules_reject_bad_values_quoting_them(changes, exc, quoted):
    with pytest.raises(exc, match=quoted):
        d.Rules.from_dict(changes)


def test_rules_bad_toml_is_a_value_error():
    with pytest.raises(ValueError, match="TOML"):
        d.Rules.from_toml("min_cell_size = = 3\n")


# ---------------------------------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    "value, expected",
    [(0, 0), (4, 0), (5, 10), (14, 10), (15, 20), (994, 990), (995, 1000), (999, 1000), (1000, 1000),
     (1049, 1000), (1050, 1100), (12345, 12300), (12.5, 10), (np.int64(985), 990), (np.float64(1150.0), 1200)],
)
def test_round_count_edges(value, expected):
    got = d.round_count(value)
    assert got == expected and isinstance(got, int)


def test_round_count_custom_rules_and_vectors():
    assert d.round_count(1234, rules=d.Rules(count_large_from=10_000)) == 1230
    s = d.round_count(pd.Series([5, None, 1234], index=["a", "b", "c"], dtype="Int64"))
    assert s.dtype == "Int64" and s.index.tolist() == ["a", "b", "c"]
    assert s.isna().tolist() == [False, True, False] and s.dropna().tolist() == [10, 1200]
    arr = d.round_count(np.array([[5, 995], [np.nan, 1050]]))
    assert arr[0].tolist() == [10.0, 1000.0] and math.isnan(arr[1, 0]) and arr[1, 1] == 1100


@pytest.mark.parametrize("bad, exc, quoted", [(-1, ValueError, "-1"), (-0.5, ValueError, "-0.5"),
                                               (float("inf"), ValueError, "inf"), ("12", TypeError, "12"),
                                               (True, TypeError, "True"), (None, ValueError, "None")])
def test_round_count_rejects_bad_values(bad, exc, quoted):
    with pytest.raises(exc, match=quoted):
        d.round_count(bad)


def test_round_count_negative_inside_a_series_is_an_error():
    with pytest.raises(ValueError, match="-3"):
        d.round_count(pd.Series([10, -3]))


def test_round_wage_and_average():
    assert d.round_wage(45_649) == 45_600 and d.round_wage(45_650) == 45_700 and d.round_wage(49) == 0
    assert d.round_wage(-150) == -200  # halves away from zero, symmetric
    assert d.round_average(0.15) == 0.2 and d.round_average(2.25) == 2.3 and d.round_average(3.14159) == 3.1
    assert d.round_average(2.25, rules=d.Rules(average_decimals=0)) == 2.0
    assert d.round_wage(pd.Series([150.0, None])).tolist()[0] == 200


# -------------------------------------------------------------------------------------- percentages


def test_safe_percent_uses_rounded_parts():
    assert d.safe_percent(47, 213) == 23.8  # 50 / 210, while 47 / 213 = 22.07 %
    assert d.safe_percent(1047, 1775) == 55.6  # 1000 / 1800
    assert d.safe_percent(47, 213, rules=d.Rules(percent_decimals=0)) == 24.0


def test_safe_percent_never_zero_or_hundred():
    assert math.isnan(d.safe_percent(100, 100))  # 100 %
    assert math.isnan(d.safe_percent(995, 1004))  # 1000 / 1000 after rounding
    assert math.isnan(d.safe_percent(10, 250_000))  # 10 / 250000 -> 0.0 %
    with pytest.raises(d.DisclosureError, match="0% or 100%"):
        d.safe_percent(100, 100, extreme="raise")


def test_safe_percent_suppresses_small_parts():
    assert math.isnan(d.safe_percent(9, 200)) and math.isnan(d.safe_percent(9, 9))
    assert not math.isnan(d.safe_percent(10, 200))
    assert math.isnan(d.safe_percent(10, 200, rules=d.Rules(min_cell_size=11)))


def test_safe_percent_vectors_and_errors():
    s = d.safe_percent(pd.Series([47, 5, 100]), pd.Series([213, 200, 100]))
    assert s.dtype == "Float64" and s.isna().tolist() == [False, True, True] and s.iloc[0] == 23.8
    arr = d.safe_percent([47, 5], 213)
    assert arr[0] == 23.8 and math.isnan(arr[1])
    with pytest.raises(ValueError, match="30"):
        d.safe_percent(30, 20)
    with pytest.raises(ValueError, match="-1"):
        d.safe_percent(-1, 20)
    with pytest.raises(ValueError, match="'never'"):
        d.safe_percent(10, 20, extreme="never")


def test_safe_percent_is_never_0_or_100_over_a_grid():
    for num in range(0, 1201, 7):
        for den in (num, num + 3, num + 40, 2 * num + 10, 1200):
            p = d.safe_percent(num, den)
            assert math.isnan(p) or 0 < p < 100, (num, den, p)


# -------------------------------------------------------------------------------- fuzzy statistics


def test_fuzzy_percentiles_average_neighboring_percentiles():
    values = np.arange(1, 101) * 1000.0  # 1,000 ... 100,000
    got = d.fuzzy_percentiles(values)
    for name, (lo, hi) in d.FUZZY_PERCENTILES.items():
        raw = (np.percentile(values, lo) + np.percentile(values, hi)) / 2
        assert got[name] == d.round_wage(raw)
        assert got[name] % 100 == 0
    assert got["min"] > values.min() and got["max"] < values.max()
    skewed = (np.arange(1, 32) ** 2) * 10.0  # the exact median (2,560) is one person's value
    fuzzy = d.fuzzy_percentiles(skewed, stats=["median"])["median"]
    assert fuzzy % 100 == 0 and fuzzy != np.median(skewed) and abs(fuzzy - np.median(skewed)) < 400


def test_fuzzy_percentiles_top_code_and_minimum():
    got = d.fuzzy_percentiles(np.arange(1, 101) * 1000.0, stats=["median", "max"], top_code=90_000)
    assert got["max"] == 90_000 and got.attrs["top_coded"] == ["max"]
    with pytest.raises(d.DisclosureError, match="only 9 values"):
        d.fuzzy_percentiles(range(9))
    with pytest.raises(ValueError, match="'p99'"):
        d.fuzzy_percentiles(range(20), stats=["p99"])
    with pytest.raises(TypeError, match="'x'"):
        d.fuzzy_percentiles([1, 2, "x"])


def test_fuzzy_summary_suppresses_small_groups():
    frame = pd.DataFrame({"g": ["a"] * 25 + ["b"] * 4, "w": list(range(1000, 26000, 1000)) + [1, 2, 3, 4]})
    out = d.fuzzy_summary(frame, by="g", value="w", stats=["median", "q3"])
    a, b = out.set_index("g").loc["a"], out.set_index("g").loc["b"]
    assert a["n"] == 30 and a["fuzzy_median"] == d.fuzzy_percentiles(frame.w[:25], stats=["median"])["median"]
    assert pd.isna(b["n"]) and pd.isna(b["fuzzy_median"]) and pd.isna(b["fuzzy_q3"])


def test_safe_histogram_merges_small_bins_and_opens_the_ends():
    values = list(range(100))
    h = d.safe_histogram(values, edges=[0, 5, 10, 20, 50, 90, 95, 100])
    assert (h["count"] >= 10).all()
    assert h["left"].iloc[0] == -np.inf and h["right"].iloc[-1] == np.inf
    assert h["count"].sum() == 100
    tail = d.safe_histogram(list(range(30)) + [1000], edges=[0, 10, 20, 30])  # the outlier is bottom/top-coded
    assert tail["right"].iloc[-1] == np.inf and tail["count"].tolist() == [10, 10, 10]
    with pytest.raises(TypeError, match="minimum and maximum"):
        d.safe_histogram(values, edges=10)
    with pytest.raises(d.DisclosureError):
        d.safe_histogram([1, 2, 3], edges=[0, 10])


# ----------------------------------------------------------------------------------------- checker


def _violations(report):
    return sorted((v.cell, v.column, v.rule) for v in report.violations)


def test_check_table_lists_every_small_cell_with_row_column_and_explanation():
    t = pd.DataFrame({"county": ["A", "B", "C"], "leavers": [120, 6, 40], "employed": [60, 3, 9]})
    rep = d.check_table(t, count_cols=["leavers", "employed"])
    small = [(v.row, v.column, v.value) for v in rep.violations if v.rule == "min_cell_size"]
    assert small == [(1, "leavers", 6), (1, "employed", 3), (2, "employed", 9)]
    v = rep.violations[0]
    assert v.cell == "county=B" and "at least 10" in v.message and "6" in v.message
    assert set(rep.rules_broken) == {"min_cell_size", "count_rounding"}
    frame = rep.to_frame()
    assert list(frame.columns) == ["row", "cell", "column", "rule", "value", "explanation"] and len(frame) == len(rep.violations)
    assert rep.summary().set_index("rule").loc["min_cell_size", "violations"] == 3
    assert "violation" in str(rep) and "min_cell_size" in repr(rep)
    with pytest.raises(d.DisclosureError, match="county=B"):
        rep.raise_for_violations()


def test_check_table_reads_sizes_from_the_unrounded_table():
    release = pd.DataFrame({"county": ["A", "B"], "leavers": [120, 10]})
    raw = pd.DataFrame({"county": ["A", "B"], "leavers": [123, 6]})
    assert d.check_table(release, count_cols="leavers").ok
    rep = d.check_table(release, count_cols="leavers", unrounded=raw)
    assert [(v.rule, v.row) for v in rep.violations] == [("min_cell_size", 1)]
    assert "published as 10 but it counts only 6" in rep.violations[0].message


def test_check_table_minimum_is_configurable():
    t = pd.DataFrame({"county": ["A", "B"], "leavers": [120, 10]})
    assert d.check_table(t, count_cols="leavers").ok
    assert d.check_table(t, count_cols="leavers", rules=d.Rules(min_cell_size=11)).rules_broken == ["min_cell_size"]


def test_check_table_suppressed_cells_are_not_flagged_but_their_percentages_are():
    t = pd.DataFrame({"county": ["A", "B"], "leavers": pd.array([120, None], dtype="Int64"),
                      "rate": pd.array([50.0, 40.0], dtype="Float64")})
    raw = pd.DataFrame({"county": ["A", "B"], "leavers": [123, 6], "employed": [60, 2]})
    rep = d.check_table(t, count_cols="leavers", percent_cols={"rate": ("employed", "leavers")}, unrounded=raw)
    assert [(v.row, v.rule) for v in rep.violations] == [(1, "percent_rounded_parts")]
    assert "suppressed" in rep.violations[0].message


def test_check_table_employer_rules_skip_suppressed_rows():
    t = pd.DataFrame({"sector": ["a", "b", "c"], "jobs": pd.array([200, None, 300], dtype="Int64")})
    support = pd.DataFrame({"sector": ["a", "b", "c"], "jobs": [204, 7, 310], "employers": [5, 1, 4],
                            "top_share": [0.3, 1.0, 0.81]})
    rep = d.check_table(t, count_cols="jobs", employer_count_col="employers", top_employer_share_col="top_share",
                        unrounded=support)
    assert [(v.cell, v.rule) for v in rep.violations] == [("sector=c", "dominance")]
    with pytest.raises(ValueError, match="81"):
        d.check_table(t, count_cols="jobs", top_employer_share_col="top_share",
                      unrounded=support.assign(top_share=[0.3, 1.0, 81]))
    assert d.check_table(t, count_cols="jobs", top_employer_share_col="top_share", unrounded=support,
                         rules=d.Rules(max_employer_share=0.9)).ok


def test_check_table_errors_quote_the_problem():
    t = pd.DataFrame({"county": ["A"], "leavers": [120]})
    with pytest.raises(ValueError, match="'leaver'"):
        d.check_table(t, count_cols="leaver")
    with pytest.raises(TypeError, match="list"):
        d.check_table([1, 2], count_cols="leavers")
    with pytest.raises(ValueError, match="same index"):
        d.check_table(t, count_cols="leavers", unrounded=t.set_index("county"))
    with pytest.raises(ValueError, match="'nope'"):
        d.check_table(t, count_cols="leavers", employer_count_col="nope")
    with pytest.raises(ValueError, match="numerator, denominator"):
        d.check_table(t, percent_cols={"leavers": ("a",)})


def test_check_table_exact_statistic_by_name():
    t = pd.DataFrame({"g": ["a", "b"], "median_earnings": [5400, 4300], "fuzzy_median_earnings": [5400, 4300],
                      "maximum": [1, 2], "minutes": [30, 40]})
    rep = d.check_table(t)
    assert sorted(v.column for v in rep.violations) == ["maximum", "median_earnings"]
    assert all(v.row is None and v.rule == "exact_statistic" for v in rep.violations)


def test_check_table_complementary_two_way():
    # IL row: one hidden inner cell beside a published total -> recoverable (110 - 100). The IN row hides
    # two cells, but column A then holds only one, so IN/A = 110 - 100 and then IN/B = 20 - IN/A follow.
    t = pd.DataFrame({
        "state": ["IL", "IL", "IL", "IN", "IN", "IN", "Total", "Total", "Total"],
        "race": ["A", "B", "Total"] * 3,
        "n": pd.array([100, None, 110, None, None, 20, 110, 20, 130], dtype="Int64"),
    })
    rep = d.check_table(t, count_cols="n", margins=("state", "race"), label_cols=["state", "race"])
    assert _violations(rep) == [("state=IL, race=B", "n", "complementary"),
                                ("state=IN, race=A", "n", "complementary"),
                                ("state=IN, race=B", "n", "complementary")]
    # hiding IL/A too closes the cycle IL/A - IL/B - IN/B - IN/A: every hidden cell can now move
    fixed = t.copy()
    fixed.loc[0, "n"] = pd.NA
    rep2 = d.check_table(fixed, count_cols="n", margins=("state", "race"))
    assert "complementary" in rep2.checked and rep2.ok
    # hiding the B total instead leaves the total row with one hidden cell: 130 - 110 gives it away
    other = t.copy()
    other.loc[7, "n"] = pd.NA
    assert ("state=Total, race=B", "n", "complementary") in _violations(
        d.check_table(other, count_cols="n", margins=("state", "race")))


def test_check_table_complementary_without_totals_is_not_recoverable():
    t = pd.DataFrame({"county": ["A", "B", "C"], "n": pd.array([120, None, 50], dtype="Int64")})
    assert d.check_table(t, count_cols="n", margins="county").ok  # no total published: nothing to subtract from


def test_check_table_margins_must_be_unique():
    t = pd.DataFrame({"county": ["A", "A", "Total"], "n": [10, 20, 30]})
    with pytest.raises(ValueError, match="more than one row"):
        d.check_table(t, count_cols="n", margins="county")


# -------------------------------------------------------------------------------------- suppression


def _suppressed(s):
    m = s.mask.stack()
    return sorted(m[m].index.tolist())


def test_suppress_two_way_primary_and_complementary():
    t = pd.DataFrame({"a": [20, 4], "b": [30, 25]}, index=["x", "y"])
    s = d.suppress(t)
    assert s.counts.loc["Total", "Total"] == 79 and s.primary.loc["y", "a"]
    assert _suppressed(s) == [("x", "a"), ("x", "b"), ("y", "a"), ("y", "b")]
    assert s.complementary.to_numpy().sum() == 3 and s.exposed() == []
    pub = s.published()
    assert pub.loc["Total", "Total"] == 80 and pd.isna(pub.loc["y", "a"]) and pub.loc["y", "Total"] == 30
    assert s.published(rounded=False).loc["y", "Total"] == 29
    cells = s.cells()
    assert set(cells["status"]) == {"published", "primary", "complementary"}
    assert cells.loc[cells.status == "primary", "reason"].str.contains("fewer than 10").all()


def test_suppress_prefers_the_smallest_inner_cell():
    t = pd.DataFrame({"a": [3, 50], "b": [40, 60], "c": [12, 70]}, index=["x", "y"])
    s = d.suppress(t)
    # row x: 3 primary -> next smallest inner cell in row x is c=12; columns a and c then need a partner each
    assert s.complementary.loc["x", "c"] and not s.complementary.loc["x", "b"]
    assert s.mask.loc["y", "a"] and s.mask.loc["y", "c"] and not s.mask.loc["y", "b"]


def test_suppress_margin_below_minimum_is_suppressed_and_protected():
    t = pd.DataFrame({"a": [2, 30, 40], "b": [3, 20, 35]}, index=["x", "y", "z"])
    s = d.suppress(t)
    assert s.primary.loc["x", "Total"]  # 5 people in row x altogether
    assert s.exposed() == []
    assert (s.intervals()["width"] > 0).all()


def test_suppress_breaks_bridges_that_the_line_rule_misses():
    # Two 2x2 blocks of primary cells joined by one cell: every line holds 0 or >= 2 hidden cells, yet the
    # joining cell can be computed by adding the block's rows and subtracting its columns.
    t = pd.DataFrame(50, index=[f"r{i}" for i in range(5)], columns=[f"c{j}" for j in range(5)])
    primary = pd.DataFrame(False, index=t.index, columns=t.columns)
    for i, j in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (1, 2)]:
        primary.iat[i, j] = True
    full = d.suppress(t, margins=True, primary=primary)
    assert d.exposed_cells(full.counts, primary) == [("r1", "c2")]
    assert full.exposed() == [] and full.complementary.to_numpy().sum() == 1
    assert "worked out" in full.reasons.to_numpy()[full.complementary.to_numpy()][0]


def test_suppress_one_way_series_and_long():
    s = d.suppress(pd.Series({"A": 120, "B": 6, "C": 50}, name="leavers"))
    assert s.one_way and _suppressed(s) == [("B", "leavers"), ("C", "leavers")]
    long = s.to_long(value_name="leavers")
    assert long.columns.tolist() == ["row", "leavers"] and long["leavers"].isna().sum() == 2
    t = pd.DataFrame({"county": ["A", "B", "C"], "leavers": [120, 6, 50]})
    s2 = d.suppress(t, row="county", count="leavers")
    out = s2.to_long(value_name="leavers")
    assert out["county"].tolist() == ["A", "B", "C", "Total"] and out["leavers"].isna().tolist() == [False, True, True, False]
    assert d.check_table(out, count_cols="leavers", margins="county").ok


def test_suppress_long_two_way_fills_missing_combinations_with_zero():
    t = pd.DataFrame({"s": ["IL", "IL", "IN"], "r": ["A", "B", "A"], "n": [100, 40, 50]})
    s = d.suppress(t, row="s", column="r", count="n")
    assert s.counts.loc["IN", "B"] == 0 and s.primary.loc["IN", "B"]
    out = s.to_long(value_name="n")
    assert list(out.columns) == ["s", "r", "n"]
    assert d.check_table(out, count_cols="n", margins=("s", "r")).ok


def test_suppress_employer_rules_on_long_tables():
    t = pd.DataFrame({"sector": ["a", "a", "b", "b"], "county": ["x", "y", "x", "y"], "jobs": [200, 150, 300, 120],
                      "employers": [5, 2, 6, 4], "top": [50, 20, 250, 30]})
    s = d.suppress(t, row="sector", column="county", count="jobs", employers="employers", top_employer="top")
    assert s.primary.loc["a", "y"] and "employer" in s.reasons.loc["a", "y"]
    assert s.primary.loc["b", "x"] and "largest employer" in s.reasons.loc["b", "x"]
    assert not s.primary.loc["Total", "Total"] and s.exposed() == []


def test_suppress_validates_its_input():
    with pytest.raises(ValueError, match="-4"):
        d.suppress(pd.DataFrame({"a": [20, -4]}))
    with pytest.raises(ValueError, match="the total of row 'x' is 99"):
        d.suppress(pd.DataFrame({"a": [20, 30], "Total": [99, 30]}, index=["x", "y"]))
    with pytest.raises(ValueError, match="margins=False"):
        d.suppress(pd.DataFrame({"a": [20, 30]}, index=["x", "Total"]), margins=False)
    with pytest.raises(TypeError, match="list"):
        d.suppress([1, 2, 3])
    with pytest.raises(ValueError, match="must be a number"):
        d.suppress(pd.DataFrame({"a": [20, None]}))


def test_suppress_accepts_correct_given_margins_and_no_margins():
    t = pd.DataFrame({"a": [20, 30, 50], "b": [12, 3, 15], "Total": [32, 33, 65]}, index=["x", "y", "Total"])
    s = d.suppress(t)
    assert s.counts.loc["Total", "Total"] == 65 and s.exposed() == []
    s2 = d.suppress(t.drop(index="Total", columns="Total"), margins=False)
    assert _suppressed(s2) == [("y", "b")]  # nothing links the cells, so no complementary cells


# ------------------------------------------------------------------------------------------- export


def _release():
    raw = pd.DataFrame({"state": ["IL", "IN", "KY", "Total"], "leavers": [108, 38, 6, 152],
                        "employed": [60, 18, 3, 81]})
    s = d.suppress(raw.iloc[:3], row="state", count="leavers")
    release = s.to_long(value_name="leavers")
    release["employment_rate"] = d.safe_percent(raw["employed"], raw["leavers"]).mask(release["leavers"].isna())
    return raw, release


_MEMO = ("Counts of adults who left TANF in 2021, by state, and the percentage with UI wages in the second "
         "quarter after exit. Small cells were suppressed with complementary suppression; counts rounded.")


def test_prepare_export_writes_a_complete_package(tmp_path):
    raw, release = _release()
    code = tmp_path / "analysis.ipynb"
    code.write_text("{}")
    table = d.ExportTable(name="leavers_by_state", table=release, unrounded=raw, title="Leavers",
                          check={"count_cols": "leavers", "margins": "state",
                                 "percent_cols": {"employment_rate": ("employed", "leavers")}})
    pkg = d.prepare_export(tmp_path / "pkg", [table], code=code, memo=_MEMO)
    names = pkg.listing().set_index("file")["for_release"].to_dict()
    assert names == {"code/analysis.ipynb": True, "manifest.json": True, "memo.md": True, "rules.toml": True,
                     "release/leavers_by_state.csv": True, "NOT_FOR_RELEASE/README.txt": False,
                     "NOT_FOR_RELEASE/leavers_by_state_unrounded.csv": False}
    released = pd.read_csv(pkg.path / "release" / "leavers_by_state.csv")
    assert released["leavers"].isna().sum() == 2 and "employed" not in released.columns
    assert released["leavers"].dropna().mod(10).eq(0).all()
    memo = (pkg.path / "memo.md").read_text()
    assert _MEMO in memo and "analysis.ipynb" in memo and "min_cell_size = 10" in memo
    manifest = json.loads((pkg.path / "manifest.json").read_text())
    assert {f["path"] for f in manifest["files"] if not f["for_release"]} == {
        "NOT_FOR_RELEASE/README.txt", "NOT_FOR_RELEASE/leavers_by_state_unrounded.csv"}
    assert d.Rules.from_toml(pkg.path / "rules.toml") == d.Rules()
    assert pkg.reports["leavers_by_state"].ok
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folders left


def test_prepare_export_refuses_a_failing_table_and_writes_nothing(tmp_path):
    raw, _ = _release()
    table = d.ExportTable(name="raw", table=raw, check={"count_cols": ["leavers", "employed"]})
    with pytest.raises(d.DisclosureError, match="nothing was written") as err:
        d.prepare_export(tmp_path / "pkg", table, code="analysis.ipynb", memo=_MEMO)
    assert "min_cell_size" in str(err.value) and "state=KY" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_prepare_export_existing_destination_and_overwrite(tmp_path):
    raw, release = _release()
    table = d.ExportTable(name="t", table=release, unrounded=raw, check={"count_cols": "leavers", "margins": "state"})
    dest = tmp_path / "pkg"
    d.prepare_export(dest, table, code="x.py", memo=_MEMO)
    with pytest.raises(FileExistsError, match="pkg"):
        d.prepare_export(dest, table, code="x.py", memo=_MEMO)
    pkg = d.prepare_export(dest, table, code="y.py", memo=_MEMO, overwrite=True)
    assert "`y.py`" in (pkg.path / "memo.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]


def test_prepare_export_failure_midway_leaves_nothing(tmp_path, monkeypatch):
    raw, release = _release()
    table = d.ExportTable(name="t", table=release, unrounded=raw, check={"count_cols": "leavers"})

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(d._export.json, "dumps", boom)
    with pytest.raises(OSError, match="disk full"):
        d.prepare_export(tmp_path / "pkg", table, code="x.py", memo=_MEMO)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, exc, quoted",
    [
        ({"memo": "too short"}, ValueError, "too short"),
        ({"code": ""}, ValueError, "code"),
        ({"tables": []}, ValueError, r"\[\]"),
        ({"tables": [d.ExportTable(name="bad name", table=pd.DataFrame({"n": [10]}), check={"count_cols": "n"})]},
         ValueError, "'bad name'"),
        ({"tables": [d.ExportTable(name="t", table=pd.DataFrame({"n": [10]}))]}, ValueError, "cannot be reviewed"),
    ],
)
def test_prepare_export_validates_arguments(tmp_path, kwargs, exc, quoted):
    args = {"tables": [d.ExportTable(name="t", table=pd.DataFrame({"n": [10]}), check={"count_cols": "n"})],
            "code": "x.py", "memo": _MEMO} | kwargs
    with pytest.raises(exc, match=quoted):
        d.prepare_export(tmp_path / "pkg", args.pop("tables"), **args)
    assert list(tmp_path.iterdir()) == []


def test_public_api_is_exported():
    for name in d.__all__:
        assert hasattr(d, name), name
    assert issubclass(d.DisclosureError, ValueError)
