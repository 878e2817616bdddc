"""The course settings (book/course-settings.toml and the STATELAB_* variables) that feed the book's launch
buttons, repository link and laptop commands (book/_ext/statelab_launch.py). The rendered buttons are checked
in Chromium by tests/browser/test_book_layout.py."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

BOOK = Path(__file__).resolve().parents[2] / "book"
sys.path.insert(0, str(BOOK / "_ext"))
import statelab_launch as launch  # noqa: E402


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / launch.SETTINGS_FILE).write_text(text)
    return tmp_path


def test_the_committed_settings_file_parses_and_leaves_every_address_empty():
    data = tomllib.loads((BOOK / launch.SETTINGS_FILE).read_text())
    assert data["repository"]["url"] == "" and data["launch"] == {"binderhub_url": "", "jupyterhub_url": ""}
    settings = launch.load_settings(BOOK, environ={})
    assert settings["repository_url"] == settings["binderhub_url"] == settings["jupyterhub_url"] == ""
    assert settings["branch"] == "main"


def test_file_values_and_environment_overrides(tmp_path):
    book = _write(tmp_path, '[repository]\nurl = "https://github.com/agency/course/"\nbranch = "fall"\n'
                            '[launch]\nbinderhub_url = "https://binder.example.org"\njupyterhub_url = ""\n')
    settings = launch.load_settings(book, environ={})
    assert settings["repository_url"] == "https://github.com/agency/course" and settings["branch"] == "fall"
    assert settings["binderhub_url"] == "https://binder.example.org" and settings["jupyterhub_url"] == ""
    env = {"STATELAB_HUB_URL": "https://hub.example.gov/", "STATELAB_BINDER_URL": ""}
    settings = launch.load_settings(book, environ=env)
    assert settings["jupyterhub_url"] == "https://hub.example.gov" and settings["binderhub_url"] == ""


@pytest.mark.parametrize("env, message", [
    ({"STATELAB_HUB_URL": "hub.example.gov"}, "STATELAB_HUB_URL = 'hub.example.gov' is not an http(s) address"),
    ({"STATELAB_REPOSITORY_URL": "git@github.com:a/b.git"}, "STATELAB_REPOSITORY_URL = 'git@github.com:a/b.git'"),
    ({"STATELAB_REPOSITORY_BRANCH": "-rf"}, "'-rf' is not a branch name"),
    ({"STATELAB_COURSE_SETTINGS": "/nowhere/settings.toml"}, "does not exist"),
])
def test_a_bad_value_names_itself(tmp_path, env, message):
    with pytest.raises(launch.SettingsError) as err:
        launch.load_settings(tmp_path, environ=env)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_broken_file_is_named(tmp_path):
    with pytest.raises(launch.SettingsError, match="course-settings.toml is not valid TOML"):
        launch.load_settings(_write(tmp_path, "[repository\nurl = 1\n"), environ={})
    with pytest.raises(launch.SettingsError, match="must be text in quotes"):
        launch.load_settings(_write(tmp_path, "[launch]\njupyterhub_url = 3\n"), environ={})


def test_apply_merges_into_the_theme_options_and_substitutions():
    config = SimpleNamespace(html_theme_options={"launch_buttons": {"thebe": False}, "show_toc_level": 2},
                             myst_substitutions={"other": "kept"})
    settings = {"repository_url": "https://github.com/agency/course", "branch": "main",
                "binderhub_url": "", "jupyterhub_url": "https://hub.example.gov"}
    launch.apply(settings, config)
    options = config.html_theme_options
    assert options["launch_buttons"] == {"thebe": False, "binderhub_url": "", "jupyterhub_url": "https://hub.example.gov",
                                         "notebook_interface": "jupyterlab"}
    assert options["repository_url"] == "https://github.com/agency/course" and options["use_repository_button"]
    assert options["show_toc_level"] == 2 and options["path_to_docs"] == "book"
    assert config.myst_substitutions["other"] == "kept"
    assert "git clone --branch main https://github.com/agency/course.git statelab" in \
        config.myst_substitutions["clone_commands"]


def test_without_a_repository_there_is_no_repository_button_and_the_page_says_whom_to_ask():
    config = SimpleNamespace(html_theme_options={}, myst_substitutions={})
    launch.apply({"repository_url": "", "branch": "main", "binderhub_url": "", "jupyterhub_url": ""}, config)
    assert "repository_url" not in config.html_theme_options
    assert "Ask your instructor" in config.myst_substitutions["clone_commands"]
