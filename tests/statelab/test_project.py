"""statelab.project: the scoping document and reading a slide's numbers back from a reviewed export package."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from statelab import capstone, disclosure, project


def _package(tmp_path):
    raw = pd.DataFrame({"state": ["IL", "IN", "KY"], "leavers": [108, 38, 24]})
    release = disclosure.suppress(raw, row="state", count="leavers").to_long(value_name="leavers")
    exact = dict(zip(raw["state"], raw["leavers"]), Total=int(raw["leavers"].sum()))
    unrounded = release[["state"]].assign(leavers=release["state"].map(exact))
    table = disclosure.ExportTable(name="leavers_by_state", table=release, unrounded=unrounded,
                                   check={"count_cols": ["leavers"], "margins": "state"})
    memo = ("Counts of 2021 TANF leavers by state, from the synthetic course data; counts rounded to the "
            "nearest ten and small cells withheld with their complements, as the course rules require.")
    return disclosure.prepare_export(tmp_path / "pkg", [table], code="made-in-a-test", memo=memo), release


def test_release_table_reads_what_was_reviewed(tmp_path):
    package, release = _package(tmp_path)
    got = project.release_table(package.path, "leavers_by_state")
    assert got["state"].tolist() == release["state"].tolist()
    assert got["leavers"].astype("Float64").tolist() == release["leavers"].astype("Float64").tolist()
    assert list(project.release_tables(package.path)) == ["leavers_by_state"]


def test_an_edited_release_table_is_refused(tmp_path):
    package, _ = _package(tmp_path)
    path = package.path / "release" / "leavers_by_state.csv"
    text = path.read_text()
    assert "110" in text
    path.write_text(text.replace("110", "108"))
    with pytest.raises(project.ProjectError, match="changed after the package was reviewed"):
        project.release_table(package.path, "leavers_by_state")


@pytest.mark.parametrize("name", ["leavers_by_state_unrounded", f"{disclosure.NOT_FOR_RELEASE}/leavers_by_state_unrounded",
                                  "../pkg/release/leavers_by_state"])
def test_not_for_release_and_unknown_tables_are_refused(tmp_path, name):
    package, _ = _package(tmp_path)
    with pytest.raises(project.ProjectError):
        project.release_table(package.path, name)


def test_a_folder_that_is_no_package_says_what_to_do(tmp_path):
    with pytest.raises(project.ProjectError, match="prepare_export"):
        project.release_table(tmp_path, "anything")


def test_manifest_lists_the_release_file_as_releasable(tmp_path):
    package, _ = _package(tmp_path)
    files = {f["path"]: f["for_release"] for f in json.loads((package.path / "manifest.json").read_text())["files"]}
    assert files["release/leavers_by_state.csv"] is True
    assert files[f"{disclosure.NOT_FOR_RELEASE}/leavers_by_state_unrounded.csv"] is False


def test_scoping_document_from_the_menu_leaves_the_team_decisions_open():
    key = capstone.PROJECTS[1].key
    doc = project.scoping_document(team="Team A", **project.from_menu(key))
    missing = doc.missing()
    assert {"decision", "period", "unit", "comparison", "ethics"} <= set(missing)
    assert "question" not in missing and "population" not in missing
    text = doc.render_markdown(draft=True)
    assert capstone.project(key).question in text and "Team A" in text and "## Disclosure plan" in text


def test_complete_scoping_document_renders_every_section():
    fields = {name: f"the team's {name}" for name in project.SCOPING.required}
    fields["data"], fields["measures"] = ["ui_claim", "ui_wage"], ["employment in Q2 after filing"]
    doc = project.scoping_document(team="Team B", **fields)
    assert doc.missing() == []
    text = doc.render_markdown(draft=False)
    for heading in ("The question", "The decision it informs", "Population and period", "Data", "Measures",
                    "Ethics", "Disclosure plan"):
        assert f"## {heading}" in text
    assert "- ui_wage" in text


def test_unknown_field_is_named():
    with pytest.raises(TypeError, match="'audience'"):
        project.scoping_document(audience="leaders")
