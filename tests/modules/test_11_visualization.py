"""Module 11 (visualization): the lesson's main chart shows the right numbers, and every chart needs alt text.

The lesson's main chart is a dot plot of the share of 2019-2023 WIOA exiters employed in the 2nd quarter
after exit, by funding stream, over every exiter (the federal indicator of module 6: an exiter without a usable
SSN counts as not employed), drawn with `statelab.charts.dot_plot` from `statelab.outcomes.exit_outcome_rates`.
Here:

* the lesson's code uses exactly that code path (checked in the notebook source);
* the rates, counts and direct labels on the drawn figure equal an independent pandas computation from the
  learner tables `wioa` and `ui_wage` (no SQL shared with the package);
* every chart helper used by the module's notebooks refuses a missing or placeholder alt text.

No expected number is written down: everything is computed from the data.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.collections import PathCollection

from statelab import charts, identifiers, outcomes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
import nbrules  # noqa: E402

MODULE = Path(__file__).resolve().parents[2] / "modules" / "11-visualization"
LESSON = MODULE / "01-charts-for-leaders.ipynb"
FIRST, LAST = 2019, 2023
NAMES = {"adult": "Adult", "dislocated_worker": "Dislocated worker", "youth": "Youth"}


def test_lesson_main_chart_uses_the_tested_code_path():
    code = nbrules.lesson_code(LESSON)  # layout-free: a re-wrapped line is the same code
    for statement in ("first_year, last_year = 2019, 2023",
                      'program_names = {"adult": "Adult", "dislocated_worker": "Dislocated worker", "youth": "Youth"}',
                      "cohort = outcomes.wioa_exiters_sql(first_year=first_year, last_year=last_year)",
                      'by_program = outcomes.exit_outcome_rates(con, cohort, by=["program"])'):
        assert nbrules.layout_free(statement) in code, statement
    assert nbrules.layout_free('denominator="linked"') not in code  # the federal rule throughout (module 6)
    call = code[code.index(nbrules.layout_free("main_chart = charts.dot_plot(")):]
    call = call[: call.index(nbrules.layout_free("main_chart.show()"))]
    for arg in ('by_program, value="employment_rate_q2", label="funding_stream", count="exiters"',
                'reference=float(overall["employment_rate_q2"].iloc[0])'):
        assert nbrules.layout_free(arg) in call, arg
    assert "truth" not in code


# ------------------------------------------------------------------------ the independent computation
def pandas_rates(con) -> pd.DataFrame:
    """Employment in the 2nd quarter after exit by program, over every exiter (the unlinked count as not
    employed), from the learner tables in pandas only."""
    w = con.sql("SELECT * FROM statelab.wioa").df()
    exit_date = pd.to_datetime(w["exit_date"])
    w = w[exit_date.dt.year.between(FIRST, LAST)].copy()
    w["_no_ssn"] = w["ssn"].isna()
    w = (w.sort_values(["_no_ssn", "record_id"])
          .drop_duplicates(["unique_individual_id", "entry_date", "exit_date"], keep="first"))
    exit_date = pd.to_datetime(w["exit_date"])
    w["exit_q"] = exit_date.dt.year * 4 + exit_date.dt.quarter - 1
    per_ssn = w.dropna(subset=["ssn"]).groupby("ssn")["unique_individual_id"].nunique()
    shared = set(per_ssn[per_ssn > 3].index)
    valid = identifiers.ssn_status(w["ssn"].astype(object)).eq("valid").to_numpy()  # the course's value rule
    w["linked"] = valid & ~w["ssn"].isin(shared)
    wages = con.sql("SELECT ssn, year, quarter, wages FROM statelab.ui_wage WHERE ssn IS NOT NULL").df()
    wages = wages[wages["ssn"].isin(set(w.loc[w["linked"], "ssn"]))]
    wages["q"] = wages["year"].astype(int) * 4 + wages["quarter"].astype(int) - 1
    paid = wages.groupby(["ssn", "q"])["wages"].sum()
    paid = set(paid[paid > 0].index)
    w = w.assign(employed=[bool(k) and (s, q + 2) in paid for s, q, k in zip(w["ssn"], w["exit_q"], w["linked"])])
    out = w.groupby("program").agg(exiters=("employed", "size"), employed_q2=("employed", "sum"),
                                   linked=("linked", "sum"))
    out["rate_q2"] = out["employed_q2"] / out["exiters"]
    out.index = out.index.map(NAMES)
    return out


def test_main_chart_headline_numbers_equal_an_independent_computation(tiny_con):
    # the lesson's cells, in order
    cohort = outcomes.wioa_exiters_sql(first_year=FIRST, last_year=LAST)
    by_program = outcomes.exit_outcome_rates(tiny_con, cohort, by=["program"])
    by_program["funding_stream"] = by_program["program"].map(NAMES)
    overall = outcomes.exit_outcome_rates(tiny_con, cohort)
    main_chart = charts.dot_plot(by_program, value="employment_rate_q2", label="funding_stream", count="exiters",
                                 reference=float(overall["employment_rate_q2"].iloc[0]), reference_label="All exiters",
                                 alt="Dot plot: the share employed in the 2nd quarter after exit differs by stream.")
    expected = pandas_rates(tiny_con)
    assert len(expected) > 0

    # the table behind the chart
    drawn = main_chart.data.set_index("funding_stream")
    assert sorted(drawn.index) == sorted(expected.index)
    for name, row in expected.iterrows():
        assert drawn.loc[name, "exiters"] == row["exiters"], name
        assert drawn.loc[name, "employment_rate_q2"] == pytest.approx(row["rate_q2"]), name
    tab = by_program.set_index("funding_stream")
    assert (tab.loc[expected.index, "n_employed_q2"] == expected["employed_q2"]).all()
    assert (tab.loc[expected.index, "exiters"] == expected["exiters"]).all()
    assert (tab.loc[expected.index, "linked"] == expected["linked"]).all()
    assert float(overall["employment_rate_q2"].iloc[0]) == pytest.approx(
        expected["employed_q2"].sum() / expected["exiters"].sum())

    # what a reader sees: dot positions, direct labels, group sizes in the tick labels, the reference line
    ax = main_chart.fig.axes[0]
    (dots,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sorted(float(x) for x, _ in dots.get_offsets()) == pytest.approx(sorted(expected["rate_q2"]))
    labels = [t.get_text() for t in ax.texts]
    assert sorted(v for v in labels if v.endswith("%")) == sorted(f"{r:.0%}" for r in expected["rate_q2"])
    ticks = {t.get_text() for t in ax.get_yticklabels()}
    assert ticks == {f"{name} (n = {int(n):,})" for name, n in expected["exiters"].items()}
    # top to bottom: highest rate first
    order = [re.sub(r" \(n = .*\)$", "", t.get_text()) for t in sorted(ax.get_yticklabels(), key=lambda t: -t.get_position()[1])]
    assert order == list(expected.sort_values("rate_q2", ascending=False, kind="stable").index)


def _chart_helpers_used_by_the_module() -> set[str]:
    used = set()
    for path in sorted(MODULE.glob("*.ipynb")):
        used |= set(re.findall(r"charts\.(\w+)\(", nbrules.lesson_code(path)))
    return {name for name in used if "alt" in getattr(charts, name).__code__.co_varnames}


@pytest.mark.parametrize("alt", [None, "", "chart", "TODO: alt text", "Figure"])
def test_every_chart_helper_in_the_module_refuses_a_missing_or_placeholder_alt(alt):
    helpers = _chart_helpers_used_by_the_module()
    assert {"bar_chart", "dot_plot", "slope_chart", "small_multiples", "tile_map"} <= helpers
    table = pd.DataFrame({"county_fips": ["17031", "29510"], "name": ["a", "b"], "x": [1, 2],
                          "v": [0.4, 0.5], "w": [0.5, 0.6]})
    calls = {
        "dot_plot": dict(data=table, value="v", label="name"),
        "bar_chart": dict(data=table, value="v", label="name"),
        "slope_chart": dict(data=table, label="name", start="v", end="w", start_label="a", end_label="b"),
        "small_multiples": dict(data=table, x="x", y="v", panel="name"),
        "tile_map": dict(data=table, value="v"),
    }
    for name in sorted(helpers):
        kwargs = calls[name]
        data = kwargs.pop("data")
        with pytest.raises((TypeError, ValueError), match="alt"):
            getattr(charts, name)(data, alt=alt, **kwargs)
