"""The data catalog: generated from the schema metadata, coverage observed in the data, and the gap list."""

from __future__ import annotations

import pandas as pd
import pytest

import synthetic_data as sd
from statelab import identifiers
from statelab.datalabs import catalog, tracks
from statelab.datalabs.tracks import DataNeed


@pytest.fixture()
def con(tiny_dataset):
    c = sd.connect(tiny_dataset)
    yield c
    c.close()


def test_table_catalog_is_the_schema_metadata():
    book = sd.codebook_dict(audience=("learner",))
    df = catalog.table_catalog()
    assert list(df["table"]) == list(book) == list(catalog.LEARNER_TABLES)
    for row in df.itertuples():
        meta = book[row.table]
        assert row.grain == meta["grain"] and row.agency == meta["agency"]
        assert row.columns == len(meta["columns"])
        assert row.pii_columns == sum(c["pii"] for c in meta["columns"])


def test_field_catalog_has_every_column_with_its_rules():
    df = catalog.field_catalog(["wioa", "ui_claim"]).set_index(["table", "column"])
    book = sd.codebook_dict()
    assert len(df) == len(book["wioa"]["columns"]) + len(book["ui_claim"]["columns"])
    assert "^[A-Z0-9]{12}$" in df.loc[("wioa", "unique_individual_id"), "rules"]
    assert "one of F, M" in df.loc[("ui_claim", "sex"), "rules"]
    # The bounds are the schema's: weeks paid under the claim's own program, at most 79 since PUA claims are in
    # the file (ARPA sec. 9011 extended PUA to 79 weeks; regular state UI is at most 26).
    weeks = next(c for c in book["ui_claim"]["columns"] if c["name"] == "weeks_paid")
    assert (weeks["min"], weeks["max"]) == (0, 79)
    assert df.loc[("ui_claim", "weeks_paid"), "rules"] == ">= 0; <= 79"
    assert bool(df.loc[("ui_claim", "ssn"), "pii"])


@pytest.mark.parametrize("bad", ["truth_person", "person", "crosswalk", "UI_WAGE", ""])
def test_unknown_or_truth_tables_are_refused(bad, con):
    with pytest.raises(ValueError, match=repr(bad).replace("(", r"\(")):
        catalog.table_catalog([bad])
    with pytest.raises(ValueError):
        catalog.column_coverage(con, bad)


def test_every_learner_table_has_a_source_config():
    for t in catalog.LEARNER_TABLES:
        cfg = catalog.source_config(t)
        cols = [c["name"] for c in sd.codebook_dict()[t]["columns"]]
        for group in cfg["duplicates"].values():
            assert set(group) <= set(cols), t
        assert set(cfg["identity"].values()) <= set(cols), t
        if cfg["period"]:
            catalog.period_expression(cfg["period"])  # valid


def test_period_labels_and_expressions():
    assert catalog.period_label(2019 * 4 + 2, "quarter") == "2019Q3"
    assert catalog.period_label(2019 * 12 + 6, "month") == "2019-07"
    assert catalog.period_label(2019, "year") == "2019"
    with pytest.raises(ValueError, match="'weekly'"):
        catalog.period_label(1, "weekly")
    with pytest.raises(ValueError, match="'daily'"):
        catalog.period_expression({"kind": "date", "column": "d", "frequency": "daily"})


def test_observed_coverage_matches_the_data(con, tiny_con):
    cov = catalog.observed_coverage(con).set_index("table")
    for t in catalog.LEARNER_TABLES:
        assert cov.loc[t, "rows"] == con.sql(f"SELECT COUNT(*) FROM {t}").fetchall()[0][0]
    y0, q0, y1, q1 = tiny_con.sql("SELECT MIN(year), MIN_BY(quarter, year * 4 + quarter), MAX(year), "
                                  "MAX_BY(quarter, year * 4 + quarter) FROM truth.earnings").fetchall()[0]
    assert cov.loc["ui_wage", "first_period"] == f"{y0}Q{q0}" and cov.loc["ui_wage", "last_period"] == f"{y1}Q{q1}"
    assert cov.loc["ui_wage", "states"] == "17, 18, 21, 29"
    months = con.sql("SELECT COUNT(DISTINCT file_month), MIN(file_month), MAX(file_month) FROM snap").fetchall()[0]
    assert cov.loc["snap", "periods"] == months[0]
    assert cov.loc["snap", "first_period"] == f"{months[1] // 100}-{months[1] % 100:02d}"
    assert cov.loc["employer", "frequency"] == ""  # a register, not a time series


def test_column_coverage_counts_nulls_and_unusable_ssns(con):
    cov = catalog.column_coverage(con, "snap").set_index("column")
    df = con.sql("SELECT * FROM snap").df()
    for c in df.columns:
        assert cov.loc[c, "nulls"] == df[c].isna().sum(), c
    ssn = df["head_ssn"]
    status = identifiers.ssn_status(ssn.astype(object))  # the course's rule, in its pandas form
    assert cov.loc["head_ssn", "unusable"] == ssn.isna().sum() + status.isin(["placeholder", "malformed"]).sum()
    assert cov.loc["case_id", "usable_share"] == 1.0


def test_unknown_codes_count_as_unusable(con):
    cov = catalog.column_coverage(con, "ui_wage").set_index("column")
    zeros = con.sql("SELECT COUNT(*) FROM ui_wage WHERE ein = '000000000'").fetchall()[0][0]
    assert cov.loc["ein", "unusable"] == zeros


@pytest.mark.parametrize("track", tracks.TRACK_NAMES)
def test_gap_list_statuses(track, con):
    t = tracks.get_track(track)
    gaps = catalog.gap_list(con, track)
    assert list(gaps["need"]) == [n.need for n in t.needs]
    for need, row in zip(t.needs, gaps.itertuples()):
        if not need.columns:
            assert row.status == "gap"
        else:
            assert row.status in ("available", "partial")
            assert (row.status == "available") == (row.usable_share >= 0.95)
    loose = catalog.gap_list(con, track, max_missing_share=0.99)
    assert set(loose.loc[loose["columns"] != "", "status"]) <= {"available"}


def test_gap_list_flags_partial_ssn_and_absent_columns(con):
    t = tracks.get_track("student_outcomes")
    gaps = catalog.gap_list(con, t).set_index("need")
    assert gaps.loc["Completers' identifiers for the wage link", "status"] == "partial"  # ~30% have no SSN
    assert gaps.loc["Completers' identifiers for the wage link", "worst_column"] == "postsec_completion.ssn"
    crafted = tracks.Track(**{**t.__dict__, "needs": (DataNeed("Hours worked", ("ui_wage.hours",)),)})
    row = catalog.gap_list(con, crafted).iloc[0]
    assert row.status == "gap" and "ui_wage.hours" in row.note
    with pytest.raises(ValueError, match="1.5"):
        catalog.gap_list(con, t, max_missing_share=1.5)


@pytest.mark.parametrize("track", tracks.TRACK_NAMES)
def test_data_inventory_renders(track, con):
    inv = catalog.data_inventory(con, track, team="Test team", notes=["A note."])
    assert inv.missing() == []
    md = inv.render_markdown()
    for table in tracks.get_track(track).source_tables:
        assert f"| {table} |" in md
    assert "## Gap list" in md and "| gap |" in md
    assert "<table>" in inv.render_html()
    assert isinstance(inv.fields["gaps"], pd.DataFrame)
