"""statelab.capstone: the project menu's wording and the project folder a team's export package lives in."""

from __future__ import annotations

import re

import pytest

from statelab import capstone


def test_project_folder_is_created_under_the_given_root_and_kept(tmp_path):
    folder = capstone.project_folder("ui-reemployment", root=tmp_path)
    assert folder == tmp_path / "ui-reemployment" and folder.is_dir()
    (folder / "memo.md").write_text("kept")
    assert capstone.project_folder("ui-reemployment", root=tmp_path) == folder  # again: same folder, kept
    assert (folder / "memo.md").read_text() == "kept"


def test_project_folder_follows_the_environment_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv(capstone.PROJECTS_DIR_ENV, str(tmp_path / "env"))
    assert capstone.project_folder("team-7") == tmp_path / "env" / "team-7"
    monkeypatch.delenv(capstone.PROJECTS_DIR_ENV)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert capstone.project_folder("team-7") == tmp_path / "home" / "statelab-projects" / "team-7"


@pytest.mark.parametrize("key", ["", "../escape", "a/b", "team 7", None])
def test_project_folder_refuses_unsafe_names(tmp_path, key):
    with pytest.raises(ValueError, match="letters, digits"):
        capstone.project_folder(key, root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_project_folder_error_names_the_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match=re.escape(str(blocker / "x")) + ".*STATELAB_PROJECTS_DIR"):
        capstone.project_folder("x", root=blocker)


def test_menu_types_no_disclosure_threshold():
    """The minimum cell size has one owner (statelab.disclosure): the menu's risk notes name it, never a number."""
    for p in capstone.PROJECTS:
        assert not re.search(r"(fewer than|under|below)\s+\d+\s+(claimants|leavers|people|completers)",
                             p.disclosure_risks + p.cohort), p.key
