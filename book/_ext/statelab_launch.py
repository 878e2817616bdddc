"""Sphinx extension: the book's repository link and launch buttons from the course settings.

An instructor sets the course's addresses once, in ``book/course-settings.toml`` (or another file named by
``STATELAB_COURSE_SETTINGS``); an environment variable set at build time overrides each value:

==============================  =====================================  ===========================
environment variable            settings file                          what it turns on
==============================  =====================================  ===========================
``STATELAB_REPOSITORY_URL``     ``[repository] url``                   repository button; needed by
                                                                       both launch buttons
``STATELAB_REPOSITORY_BRANCH``  ``[repository] branch``                the branch launched
``STATELAB_BINDER_URL``         ``[launch] binderhub_url``             the Binder button
``STATELAB_HUB_URL``            ``[launch] jupyterhub_url``            the JupyterHub button (an
                                                                       nbgitpuller link)
==============================  =====================================  ===========================

On ``config-inited`` the values are merged into Jupyter Book's ``html_theme_options`` (sphinx-book-theme
builds the buttons from them) and into ``myst_substitutions`` (``{{ clone_commands }}`` on the laptop page).
A value that is not an http(s) address stops the build with a one-line configuration error naming it.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

ENVIRONMENT = {
    ("repository", "url"): "STATELAB_REPOSITORY_URL",
    ("repository", "branch"): "STATELAB_REPOSITORY_BRANCH",
    ("launch", "binderhub_url"): "STATELAB_BINDER_URL",
    ("launch", "jupyterhub_url"): "STATELAB_HUB_URL",
}
SETTINGS_FILE = "course-settings.toml"
_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")


class SettingsError(ValueError):
    """A course setting that cannot be used; the message names it and says what to write."""


def _url(value: str, where: str) -> str:
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.netloc or " " in value):
        raise SettingsError(f"{where} = {value!r} is not an http(s) address; write one like "
                            "'https://hub.example.gov', or leave it empty")
    return value


def load_settings(book_dir: Path, environ: dict | None = None) -> dict:
    """The course settings: the file's values, overridden by the environment, checked.

    Returns ``{"repository_url", "branch", "binderhub_url", "jupyterhub_url", "source"}``; empty strings
    where nothing is set. Raises :class:`SettingsError` for a file that cannot be read or a bad value.
    """
    environ = os.environ if environ is None else environ
    path = Path(environ.get("STATELAB_COURSE_SETTINGS") or Path(book_dir) / SETTINGS_FILE)
    data: dict = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path} is not valid TOML ({exc}); fix the line it names") from None
    elif environ.get("STATELAB_COURSE_SETTINGS"):
        raise SettingsError(f"STATELAB_COURSE_SETTINGS names {str(path)!r}, which does not exist")
    values = {}
    for (section, key), var in ENVIRONMENT.items():
        if environ.get(var) is not None:
            value, where = environ[var], var
        else:
            value, where = (data.get(section) or {}).get(key, ""), f"[{section}] {key} in {path.name}"
        if not isinstance(value, str):
            raise SettingsError(f"{where} must be text in quotes, not {value!r}")
        values[(section, key)] = (value.strip(), where)
    branch, where = values[("repository", "branch")]
    branch = branch or "main"
    if not _BRANCH.match(branch):
        raise SettingsError(f"{where} = {branch!r} is not a branch name")
    return {
        "repository_url": _url(*values[("repository", "url")]),
        "branch": branch,
        "binderhub_url": _url(*values[("launch", "binderhub_url")]),
        "jupyterhub_url": _url(*values[("launch", "jupyterhub_url")]),
        "source": str(path),
    }


def clone_commands(settings: dict) -> str:
    """The laptop page's commands to get the course, with the configured address when there is one."""
    url = settings["repository_url"]
    if not url:
        return ("Ask your instructor for the course repository's address (this copy of the book was built "
                "without one), then:\n\n```bash\ngit clone <the address> statelab\ncd statelab\n```\n")
    branch = settings["branch"]
    return f"```bash\ngit clone --branch {branch} {url}.git statelab\ncd statelab\n```\n" if not url.endswith(
        ".git") else f"```bash\ngit clone --branch {branch} {url} statelab\ncd statelab\n```\n"


def apply(settings: dict, config) -> None:
    """Merge the settings into the Sphinx configuration (theme options and MyST substitutions)."""
    options = dict(getattr(config, "html_theme_options", None) or {})
    launch = dict(options.get("launch_buttons") or {})
    launch.update(binderhub_url=settings["binderhub_url"], jupyterhub_url=settings["jupyterhub_url"])
    launch.setdefault("notebook_interface", "jupyterlab")
    options["launch_buttons"] = launch
    if settings["repository_url"]:
        options.update(repository_url=settings["repository_url"], repository_branch=settings["branch"],
                       use_repository_button=True)
        options.setdefault("path_to_docs", "book")
    config.html_theme_options = options
    subs = dict(getattr(config, "myst_substitutions", None) or {})
    subs.update(clone_commands=clone_commands(settings), repository_url=settings["repository_url"] or
                "the course repository")
    config.myst_substitutions = subs


def _on_config_inited(app, config) -> None:
    from sphinx.errors import ConfigError

    try:
        settings = load_settings(Path(app.srcdir))
    except SettingsError as exc:
        raise ConfigError(f"course settings: {exc}") from None
    apply(settings, config)


def setup(app):
    app.connect("config-inited", _on_config_inited, priority=200)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
