"""Unit 8 (statelab.datalabs.story): release tables that pass disclosure review, charts and the report."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

import synthetic_data as sd
from statelab import disclosure
from statelab.datalabs import linkage_report as lr
from statelab.datalabs import story as st


@pytest.fixture(scope="module")
def tiny(tiny_dataset):
    con = sd.connect(tiny_dataset)
    for track in lr.TRACK_NAMES:
        lr.prepare_track(con, track)
    yield con
    con.close()


def _crafted(rows):
    """A workspace with a hand-made wf_analysis table and the state reference table."""
    con = duckdb.connect()
    con.sql("CREATE TABLE ref_state AS SELECT * FROM (VALUES ('17', 'IL'), ('18', 'IN'), ('21', 'KY'), ('29', 'MO')) "
            "AS t(state_fips, state_abbr)")
    df = pd.DataFrame(rows, columns=["state_fips", "employed_q2"])
    con.register("_rows", df)
    con.sql("CREATE TABLE wf_analysis AS SELECT * FROM _rows")
    return con


# ------------------------------------------------------------------------------------- release tables
@pytest.mark.parametrize("track", lr.TRACK_NAMES)
def test_every_release_table_passes_review(tiny, track):
    tables = st.story_tables(tiny, track)
    assert tables
    checks = st.review(tables)
    assert checks["passes"].all(), checks
    assert (checks["violations"] == 0).all()
    for t in tables:
        assert t.release.iloc[-1, 0] == "Total"


@pytest.mark.parametrize("track", ["safety_net", "workforce", "student_outcomes"])
def test_unrounded_counts_match_the_analysis_table(tiny, track):
    _by, outcome, where, *_ = st.BREAKDOWNS[track][0]
    t = st.story_tables(tiny, track)[0]
    df = tiny.sql(f"SELECT * FROM {lr.ANALYSIS_TABLES[track]} WHERE {where or 'TRUE'}").df()
    assert int(t.unrounded["total"].iloc[-1]) == len(df)
    assert int(t.unrounded["yes"].iloc[-1]) == int((df[outcome] == 1).sum())
    published = t.release["percent"].notna()
    expected = disclosure.safe_percent(t.unrounded["yes"], t.unrounded["total"])
    assert (t.release.loc[published, "percent"].astype(float) == expected[published].astype(float)).all()


def test_small_group_is_suppressed_with_a_complement():
    rows = ([("17", 1)] * 60 + [("17", 0)] * 50 + [("18", 1)] * 4 + [("18", 0)] * 30
            + [("29", 1)] * 25 + [("29", 0)] * 20)
    con = _crafted(rows)
    t = st.rate_table(con, "workforce", by="state_fips", outcome="employed_q2")
    rel = t.release.set_index("state_fips")
    assert pd.isna(rel.loc["IN", "yes"]) and pd.isna(rel.loc["IN", "percent"])  # 4 people: primary
    hidden_yes = rel["yes"].iloc[:-1].isna().sum()
    assert hidden_yes >= 2  # and a complement, so IN cannot be recovered from the total
    assert t.ok
    assert int(rel.loc["Total", "total"]) == disclosure.round_count(len(rows))


def test_rate_table_rejects_unknown_columns(tiny):
    with pytest.raises(ValueError, match="'wages'"):
        st.rate_table(tiny, "workforce", by="state_fips", outcome="wages")
    with pytest.raises(ValueError, match="'school'"):
        st.story_tables(tiny, "school")
    empty = duckdb.connect()
    with pytest.raises(ValueError, match="prepare_track"):
        st.rate_table(empty, "workforce", by="state_fips", outcome="employed_q2")


def test_firm_table_applies_minimum_firms_and_dominance():
    con = duckdb.connect()
    firms = ([(True, True, 5, 1_000_000)] * 2                      # 2 minority firms: too few
             + [(True, False, 4, 10_000_000)] + [(True, False, 1, 10_000)] * 4   # one firm holds > 80%
             + [(False, False, 3, 200_000)] * 30)
    con.register("_f", pd.DataFrame(firms, columns=["certified", "minority_certified", "contracts",
                                                    "contract_dollars"]))
    con.sql("CREATE TABLE pr_analysis AS SELECT * FROM _f")
    t = st.firm_table(con)
    rel = t.release.set_index("group")
    assert pd.isna(rel.loc["Certified minority-owned", "dollars"])
    assert pd.isna(rel.loc["Certified, not minority-owned", "dollars"])
    assert not pd.isna(rel.loc["Not certified", "dollars"])
    assert t.ok


# ------------------------------------------------------------------------------------- charts, package, report
def test_chart_alt_text_names_suppressed_groups(tiny):
    import matplotlib

    matplotlib.use("Agg")
    t = st.story_tables(tiny, "safety_net")[1]
    hidden = t.release.loc[t.release["percent"].isna(), t.release.columns[0]].tolist()
    fig, alt = st.story_chart(t)
    for g in hidden:
        assert g in alt
    md = st.chart_markdown(fig, alt)
    assert md.startswith("![Bar chart") and "data:image/png;base64," in md
    fig2, _ = st.story_chart(t)
    with pytest.raises(ValueError, match="alt text"):
        st.chart_markdown(fig2, "chart")


def test_export_package_writes_checked_tables_and_refuses_raw_ones(tiny, tmp_path):
    tables = st.story_tables(tiny, "workforce")
    pkg = st.export_package(tables, tmp_path / "pkg", code="01-workbook.ipynb", memo=" ".join(["word"] * 25))
    listing = pkg.listing()
    assert {f"release/{t.name}.csv" for t in tables} <= set(listing["file"])
    raw = tables[0]
    raw.release = raw.unrounded.assign(percent=None)  # unrounded counts: must be refused
    with pytest.raises(disclosure.DisclosureError):
        st.export_package([raw], tmp_path / "raw", code="x.ipynb", memo=" ".join(["word"] * 25))
    assert not (tmp_path / "raw").exists()


@pytest.mark.parametrize("track", lr.TRACK_NAMES)
def test_story_report_renders_to_html(tiny, track):
    report = st.story_report(tiny, track, team="Test team")
    assert report.missing() == []
    html = report.render_html()
    assert html.count("<img") == len(st.story_tables(tiny, track))
    assert html.count("<img") == html.count(' alt="')
    assert "&lt;NA&gt;" not in html and "<NA>" not in report.render_markdown()
    assert "## Disclosure review" in report.render_markdown()


def test_story_report_refuses_a_failing_table(tiny, monkeypatch):
    tables = st.story_tables(tiny, "workforce")
    tables[0].release = tables[0].unrounded.assign(percent=None)
    monkeypatch.setattr(st, "story_tables", lambda con, track, rules=None: tables)
    with pytest.raises(ValueError, match=tables[0].name):
        st.story_report(tiny, "workforce", charts=False)
