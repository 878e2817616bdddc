"""Open an nbgrader course directory through nbgrader's Python API."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._errors import AssignmentNotFoundError, CourseDirectoryError, NbgraderStepError

__all__ = [
    "CONFIG_FILE",
    "ensure_tools_on_path",
    "course_path",
    "load_config",
    "make_api",
    "check_result",
    "source_assignments",
    "submitted_students",
    "gradebook_file",
    "require_in_gradebook",
]

#: The configuration file every course directory must contain.
CONFIG_FILE = "nbgrader_config.py"


def ensure_tools_on_path() -> None:
    """Put this interpreter's ``bin`` folder on ``PATH`` if ``alembic`` is not found.

    nbgrader's ``Gradebook`` runs the ``alembic`` executable in a subprocess
    (``alembic heads``) every time it opens a database, so a venv's Python run
    by full path, without the venv activated, fails with
    ``FileNotFoundError: 'alembic'``.
    """
    if shutil.which("alembic") is None:
        bindir = os.path.dirname(sys.executable)
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def course_path(course_dir: str | os.PathLike[str]) -> Path:
    """Return the absolute course directory, checking that it holds a config file.

    Parameters
    ----------
    course_dir : path-like
        The nbgrader course root (the folder with ``nbgrader_config.py``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    CourseDirectoryError
        If the folder or its ``nbgrader_config.py`` does not exist.
    """
    ensure_tools_on_path()
    root = Path(course_dir).expanduser().resolve()
    if not (root / CONFIG_FILE).is_file():
        raise CourseDirectoryError(f"{root} is not an nbgrader course directory (no {CONFIG_FILE})")
    return root


def load_config(course_dir: str | os.PathLike[str], overrides: Mapping[str, Mapping[str, Any]] | None = None):
    """Load the course's ``nbgrader_config.py`` as a traitlets ``Config``.

    Parameters
    ----------
    course_dir : path-like
        The course root.
    overrides : mapping, optional
        ``{"Section": {"trait": value}}`` merged on top of the file, for example
        ``{"ExecutePreprocessor": {"timeout": 60}}``.

    Returns
    -------
    traitlets.config.Config
        ``CourseDirectory.root`` always points at `course_dir` (absolute).
    """
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    root = course_path(course_dir)
    cfg = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
    cfg.CourseDirectory.root = str(root)
    if overrides:
        extra = Config()
        for section, values in overrides.items():
            for key, value in values.items():
                setattr(getattr(extra, section), key, value)
        cfg.merge(extra)
    return cfg


def make_api(course_dir: str | os.PathLike[str], overrides: Mapping[str, Mapping[str, Any]] | None = None,
             *, log_level: int | str = logging.WARNING):
    """Build an ``nbgrader.apps.NbGraderAPI`` for `course_dir`.

    Parameters
    ----------
    course_dir : path-like
        The course root.
    overrides : mapping, optional
        Extra configuration, see :func:`load_config`.
    log_level : int or str, default ``logging.WARNING``
        nbgrader's log level (its INFO output is very chatty).

    Returns
    -------
    nbgrader.apps.NbGraderAPI
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    cfg = load_config(course_dir, overrides)
    cfg.NbGraderAPI.log_level = log_level
    coursedir = CourseDirectory(config=cfg)
    return NbGraderAPI(coursedir=coursedir, config=cfg)


def check_result(result: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    """Raise if an ``NbGraderAPI`` call reported failure (the API never raises itself).

    Parameters
    ----------
    result : mapping
        The ``{"success": ..., "error": ..., "log": ...}`` dictionary.
    what : str
        A short description of the step, for the error message.

    Returns
    -------
    mapping
        `result` unchanged, when it succeeded.

    Raises
    ------
    NbgraderStepError
    """
    if not result.get("success", False):
        detail = "\n".join(x.strip() for x in (result.get("log"), result.get("error")) if x and x.strip())
        raise NbgraderStepError(f"{what} failed:\n{detail}", {what: detail})
    return result


def source_assignments(course_dir: str | os.PathLike[str]) -> list[str]:
    """List assignment ids: the folders of ``source/`` that contain a notebook.

    Parameters
    ----------
    course_dir : path-like

    Returns
    -------
    list of str
        Sorted assignment ids.
    """
    root = course_path(course_dir)
    src = root / "source"
    if not src.is_dir():
        return []
    return sorted(p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def submitted_students(course_dir: str | os.PathLike[str], assignment: str) -> list[str]:
    """List the students with a submission folder ``submitted/<student>/<assignment>``.

    Parameters
    ----------
    course_dir : path-like
    assignment : str

    Returns
    -------
    list of str
        Sorted student ids.
    """
    root = course_path(course_dir)
    sub = root / "submitted"
    if not sub.is_dir():
        return []
    return sorted(p.name for p in sub.iterdir() if (p / assignment).is_dir())


def gradebook_file(course_dir: str | os.PathLike[str]) -> tuple[Path, str]:
    """Return the SQLite gradebook file and the course id of `course_dir`.

    Parameters
    ----------
    course_dir : path-like

    Returns
    -------
    (pathlib.Path, str)
        The database file (which may not exist yet) and ``CourseDirectory.course_id``.

    Raises
    ------
    CourseDirectoryError
        If ``CourseDirectory.db_url`` is not a SQLite file URL.
    """
    from nbgrader.coursedir import CourseDirectory

    cd = CourseDirectory(config=load_config(course_dir))
    prefix = "sqlite:///"
    if not cd.db_url.startswith(prefix):
        raise CourseDirectoryError(f"only SQLite gradebooks are supported, got {cd.db_url!r}")
    return Path(cd.db_url[len(prefix):]), cd.course_id


def require_in_gradebook(course_dir: str | os.PathLike[str], assignment: str) -> None:
    """Raise unless `assignment` has been generated into the gradebook.

    Parameters
    ----------
    course_dir : path-like
    assignment : str

    Raises
    ------
    AssignmentNotFoundError
    """
    from nbgrader.api import Gradebook, MissingEntry

    db, course_id = gradebook_file(course_dir)
    if not db.exists():
        raise AssignmentNotFoundError(f"no gradebook {db}: run `statelab-grade release` first")
    with Gradebook(f"sqlite:///{db}", course_id) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            raise AssignmentNotFoundError(
                f"assignment {assignment!r} is not in the gradebook: run `statelab-grade release` first"
            ) from None
