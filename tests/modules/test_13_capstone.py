"""Module 13 (capstone): the worked example's headline numbers and the export package it writes.

The lesson's code cells run here, in this process, on the tiny profile (the ``parameters`` cell is
replaced; the project folder is the tests' temporary ``STATELAB_PROJECTS_DIR``). What must hold:

* headline: the cohort of 2022 UI claimants and its employment in the 2nd and 4th quarter after the filing
  quarter -- overall and by separation reason -- equal an independent pandas computation from the learner
  tables ``ui_claim`` and ``ui_wage`` (no SQL, no ``statelab.measures``);
* the release table: every group under the minimum cell size (``disclosure.Rules``) is hidden, every published count is the
  enclave rounding of the pandas count, every published rate is the percentage of the rounded parts;
* the export package: its release table passes the disclosure checker again when read back from disk, the
  memo is there with the lesson's text, the unrounded table sits only in ``NOT_FOR_RELEASE/`` and no file in
  ``release/`` holds an unrounded count;
* the package outlives the notebook: it is in the project's folder (``capstone.project_folder``), and the
  slide numbers the lesson reads back from it (``project.release_table``) are the release table's.

No expected number is written down: everything is computed from the data.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import nbformat
import pandas as pd
import pytest

import synthetic_data as sd
from statelab import capstone, disclosure, measures, project

LESSON = Path(__file__).resolve().parents[2] / "modules" / "13-capstone" / "01-project-menu-and-worked-example.ipynb"
PRACTICE = LESSON.with_name("02-your-project.ipynb")
YEAR = 2022


def _code_cells(path: Path = LESSON) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.fixture(scope="module")
def lesson(tiny_data_root):
    matplotlib.use("Agg")
    ns: dict = {"__name__": "lesson"}
    for cell in _code_cells():
        source = cell.source
        if "parameters" in cell.metadata.get("tags", []):
            source = f"profile = 'tiny'\nseed = {sd.DEFAULT_SEED}\ndata_root = {str(tiny_data_root)!r}"
        exec(compile(source, str(LESSON), "exec"), ns)
    yield ns
    ns["con"].close()


def _round_count(n: int) -> int:
    """The enclave rule, written out: nearest 10 below 1,000, nearest 100 from 1,000, halves up."""
    return (n + 5) // 10 * 10 if n < 1000 else (n + 50) // 100 * 100


def _percent(num: int, den: int) -> float:
    """100 * num / den to one decimal, halves up, on integers."""
    return (num * 1000 * 2 // den + 1) // 2 / 10


@pytest.fixture(scope="module")
def expected(tiny_data_root):
    """Per claimant: separation reason, employed in Q2 / Q4 after the filing quarter, Q2 earnings (pandas)."""
    opts = dict(profile="tiny", seed=sd.DEFAULT_SEED, data_root=tiny_data_root)
    claims = sd.load_table("ui_claim", **opts)[["claim_id", "ssn", "separation_reason", "date_filed"]]
    wages = sd.load_table("ui_wage", **opts)[["ssn", "year", "quarter", "wages"]]
    filed = pd.to_datetime(claims["date_filed"])
    claims = claims.assign(q=filed.dt.year * 4 + filed.dt.quarter - 1, date_filed=filed)
    claims = claims[(filed.dt.year == YEAR) & claims["ssn"].notna()
                    & ~claims["ssn"].isin(measures.PLACEHOLDER_SSNS)]
    claims = claims.sort_values(["date_filed", "claim_id"]).drop_duplicates(["ssn", "q"], keep="first")
    wages = wages[wages["ssn"].notna()].assign(q=wages["year"].astype(int) * 4 + wages["quarter"].astype(int) - 1)
    per_quarter = wages.groupby(["ssn", "q"])["wages"].sum()
    out = claims[["ssn", "separation_reason", "q"]].copy()
    for k in (2, 4):
        earned = [float(per_quarter.get((s, q + k), 0)) for s, q in zip(out["ssn"], out["q"])]
        out[f"earnings_q{k}"] = earned
        out[f"employed_q{k}"] = [e > 0 for e in earned]
    return out


def test_menu_has_four_projects_and_the_worked_one():
    menu = capstone.menu()
    assert len(menu) == 4 and menu.index.is_unique
    assert "ui-reemployment" in menu.index
    assert all(t in sd.TABLES for p in capstone.PROJECTS for t in p.tables)
    with pytest.raises(ValueError, match="no capstone project"):
        capstone.project("nope")


def test_notebooks_never_open_the_truth():
    for path in (LESSON, PRACTICE):
        for cell in _code_cells(path):
            assert "truth=True" not in cell.source.replace(" ", "")
            assert "truth." not in cell.source


def test_cohort_table_matches_pandas(lesson, expected):
    cohort = lesson["con"].sql("SELECT ssn, separation_reason FROM claimants_2022").df()
    assert len(cohort) == len(expected)
    assert sorted(cohort["ssn"]) == sorted(expected["ssn"])
    assert cohort["separation_reason"].value_counts().to_dict() == \
        expected["separation_reason"].value_counts().to_dict()


def test_headline_numbers_match_pandas(lesson, expected):
    headline = lesson["headline"]
    assert int(headline["exiters"]) == len(expected)
    for k in (2, 4):
        assert int(headline[f"n_employed_q{k}"]) == int(expected[f"employed_q{k}"].sum())
        assert headline[f"employment_rate_q{k}"] == pytest.approx(expected[f"employed_q{k}"].mean())
    rates = lesson["rates"].set_index("separation_reason")
    groups = expected.groupby("separation_reason")
    assert sorted(rates.index) == sorted(groups.groups)
    for reason, g in groups:
        assert int(rates.loc[reason, "exiters"]) == len(g)
        for k in (2, 4):
            assert rates.loc[reason, f"employment_rate_q{k}"] == pytest.approx(g[f"employed_q{k}"].mean())
        working = g.loc[g["employed_q2"], "earnings_q2"]
        if len(working):
            assert rates.loc[reason, "median_earnings_q2"] == pytest.approx(working.median())


def test_release_table_is_protected_as_pandas_says(lesson, expected):
    release = lesson["release"].set_index("separation_reason")
    groups = {r: g for r, g in expected.groupby("separation_reason")} | {"Total": expected}
    assert set(release.index) == set(groups)
    for label, g in groups.items():
        n = len(g)
        row = release.loc[label]
        if n < disclosure.Rules().min_cell_size:
            assert pd.isna(row["claimants"]), f"{label}: {n} claimants must be hidden"
            assert pd.isna(row["employment_rate_q2"]) and pd.isna(row["fuzzy_median_earnings_q2"])
            continue
        if pd.isna(row["claimants"]):  # a complementary suppression
            continue
        assert int(row["claimants"]) == _round_count(n)
        for k in (2, 4):
            m = int(g[f"employed_q{k}"].sum())
            pct = _percent(_round_count(m), _round_count(n))
            if m < disclosure.Rules().min_cell_size or pct <= 0 or pct >= 100:
                assert pd.isna(row[f"employment_rate_q{k}"])
            else:
                assert float(row[f"employment_rate_q{k}"]) == pytest.approx(pct)
    # exactly one hidden group could be recovered from the total; the lesson must never leave one alone
    assert int(release["claimants"].isna().sum()) != 1


def test_export_package_passes_and_keeps_unrounded_apart(lesson):
    package, check, rules = lesson["package"], lesson["check"], lesson["rules"]
    root = Path(package.path)
    assert root.is_dir()
    name = "reemployment_by_separation_reason"
    release_files = sorted(p.relative_to(root / "release").as_posix() for p in (root / "release").rglob("*"))
    assert release_files == [f"{name}.csv"]
    hidden_files = sorted(p.name for p in (root / disclosure.NOT_FOR_RELEASE).iterdir())
    assert f"{name}_unrounded.csv" in hidden_files

    released = pd.read_csv(root / "release" / f"{name}.csv")
    unrounded = pd.read_csv(root / disclosure.NOT_FOR_RELEASE / f"{name}_unrounded.csv")
    report = disclosure.check_table(released, unrounded=unrounded, rules=rules, **check)
    assert report.ok, str(report)
    # the release holds rounded counts only, never the unrounded ones where rounding changes them
    published = released["claimants"].dropna().astype(int)
    assert all(v == _round_count(v) for v in published)
    exact = unrounded.loc[published.index, "claimants"].astype(int)
    assert (published == exact.map(_round_count)).all()
    assert "employed_q2" not in released.columns and "employed_q4" not in released.columns

    memo = (root / "memo.md").read_text(encoding="utf-8")
    assert lesson["memo"].strip() in memo
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    flags = {f["path"]: f["for_release"] for f in manifest["files"]}
    assert flags[f"release/{name}.csv"] is True
    assert flags[f"{disclosure.NOT_FOR_RELEASE}/{name}_unrounded.csv"] is False


def test_memo_quotes_no_unrounded_cohort_size(lesson, expected):
    n = len(expected)
    memo = lesson["memo"]
    assert f"{_round_count(n):,}" in memo
    if _round_count(n) != n:
        assert f" {n:,} " not in memo and f"{n:,} claimants" not in memo


def test_package_stays_in_the_project_folder_and_the_slides_read_it(lesson):
    """Step 6-7: the package is written to the project's folder (kept after the notebook), not a scratch
    folder, and the slide headline is read back from its release table, equal to the table the lesson built."""
    package = Path(lesson["package"].path)
    assert package.parent == capstone.project_folder("ui-reemployment")
    assert package.is_dir() and (package / "manifest.json").is_file()
    slides = lesson["slides"].set_index("separation_reason")
    built = lesson["release"].set_index("separation_reason")
    assert list(slides.index) == list(built.index)
    for col in ("claimants", "employment_rate_q2", "employment_rate_q4"):
        pd.testing.assert_series_equal(slides[col].astype(float), built[col].astype(float), check_names=False)
    # an edited release file is refused: the slides cannot quote numbers that skipped review
    edited = package / "release" / "reemployment_by_separation_reason.csv"
    original = edited.read_bytes()
    try:
        edited.write_bytes(original.replace(b"Total", b"total"))
        with pytest.raises(project.ProjectError, match="changed after"):
            project.release_table(package, "reemployment_by_separation_reason")
    finally:
        edited.write_bytes(original)
