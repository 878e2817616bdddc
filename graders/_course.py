"""One nbgrader course directory, opened once: its configuration, its folders and its gradebook.

:class:`Course` *is* nbgrader's ``CourseDirectory`` (a subclass), so every path it gives comes
from nbgrader's own ``format_path`` and ``directory_structure``, and it can be handed to
``NbGraderAPI`` as it is. It adds what the grading tools need around nbgrader:

* the configuration, read once from the course's ``nbgrader_config.py`` (with overrides) and
  kept, instead of being read again by every step;
* the course's conventions, as configurable traits (set them with ``c.Course.<name>`` in
  ``nbgrader_config.py``): the names the screen protects (and the display settings learners
  may still change on them), the path fragments that name instructor files, where reports go,
  whether :class:`graders.CapOutputs` runs and whether grading kernels keep their log quiet;
* the gradebook, opened with nbgrader's ``Gradebook`` and with the two failures an instructor
  can meet (another program holding its lock, no permission to write) turned into one-line
  errors that say what to do.

Every workflow function of :mod:`graders` takes either a course folder or a :class:`Course`.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import glob
import logging
import os
import re
import shutil
import sqlite3
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from nbgrader.coursedir import CourseDirectory
from traitlets import Bool, List, Set, Unicode

from ._errors import (
    AssignmentNotFoundError,
    CourseDirectoryError,
    CoursePermissionError,
    GradebookLockedError,
    NbgraderStepError,
    StudentNotFoundError,
)

__all__ = ["CONFIG_FILE", "Course", "CourseLike", "check_result", "load_config", "make_api", "quiet_nbgrader",
           "require_writable_file"]

#: The configuration file every course directory must contain.
CONFIG_FILE = "nbgrader_config.py"

#: nbgrader's own autograde steps; :class:`graders.CapOutputs` goes right after ``LimitOutput``.
_CAP_OUTPUTS = "graders.CapOutputs"


@functools.cache
def _tools_on_path() -> None:
    """Put this interpreter's ``bin`` folder on ``PATH`` once, if ``alembic`` is not found.

    nbgrader's ``Gradebook`` runs the ``alembic`` executable when it creates a database, so a
    venv's Python run by full path, without the venv activated, would fail with
    ``FileNotFoundError: 'alembic'``.
    """
    if shutil.which("alembic") is None:
        os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")


def quiet_nbgrader() -> None:
    """Silence warnings from inside nbgrader and Jupyter that are not the instructor's business.

    SQLAlchemy's ``SAWarning`` about nbgrader's ORM relationships, and ipykernel's "Kernel is
    running over TCP without encryption" (kernels run on 127.0.0.1 and are reached by the grader
    only) say nothing an instructor can act on.
    """
    warnings.filterwarnings("ignore", message=r".*running over TCP without encryption.*")
    warnings.filterwarnings("ignore", module=r"nbgrader\..*")
    try:
        from sqlalchemy.exc import SAWarning
    except ImportError:  # pragma: no cover - sqlalchemy comes with nbgrader
        return
    warnings.filterwarnings("ignore", category=SAWarning)


def _is_locked(exc: BaseException | str) -> bool:
    return "database is locked" in str(exc) or "database is busy" in str(exc)


class Course(CourseDirectory):
    """An nbgrader course directory with its configuration and the course's conventions.

    Open one with :meth:`Course.open`; the traits below can be set in the course's
    ``nbgrader_config.py`` as ``c.Course.<trait>``, and every ``CourseDirectory`` setting
    (``c.CourseDirectory.root``, ``submitted_directory``, ``db_url``...) applies as usual.
    """

    protected_modules = Set(
        {"sd", "pd", "np", "con"},
        help="Names the course's locked cells bind to its own modules and data connection "
             "(synthetic_data, pandas, numpy, the connection): protected from learner code even "
             "where a test cell assigns them again.",
    ).tag(config=True)
    instructor_paths = List(
        ["source/", "release/", "autograded/", "submitted/", "feedback/", "gradebook",
         "nbgrader_config", ".db", "/checks/"],
        help="Path fragments that name instructor material (sources with solutions, submissions, "
             "the gradebook, the wrong-answer checks): learner code naming one is held for review.",
    ).tag(config=True)
    settable_attributes = List(
        ["pd.options", "np.set_printoptions"],
        help="Attribute chains of the protected modules learners may set (display settings) without "
             "being flagged.",
    ).tag(config=True)
    reports_directory = Unicode(
        "reports", help="Folder of the course root for screening results and per-question reports."
    ).tag(config=True)
    cap_outputs = Bool(
        True, help="Run graders.CapOutputs after nbgrader's LimitOutput when autograding, so one "
                   "huge print cannot bloat the graded notebook and its feedback.",
    ).tag(config=True)
    quiet_kernels = Bool(
        True, help="Start grading kernels with their own log at ERROR, so each kernel does not print "
                   "ipykernel's 'running over TCP without encryption' warning (kernels listen on "
                   "127.0.0.1 and only the grader talks to them). Learner output is not affected.",
    ).tag(config=True)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, course_dir: str | os.PathLike[str] | Course,
             overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Course:
        """Read the course's ``nbgrader_config.py`` once and return the course.

        Parameters
        ----------
        course_dir : path-like or Course
            The course root (the folder with ``nbgrader_config.py``). A :class:`Course` is
            returned as it is when there are no `overrides`.
        overrides : mapping, optional
            ``{"Section": {"trait": value}}`` merged on top of the file, for example
            ``{"ExecutePreprocessor": {"timeout": 60}}``.

        Returns
        -------
        Course
            ``root`` is always the absolute `course_dir`, whatever the file says.

        Raises
        ------
        CourseDirectoryError
            If the folder or its ``nbgrader_config.py`` does not exist.
        """
        if isinstance(course_dir, Course):
            return course_dir.with_overrides(overrides) if overrides else course_dir
        from traitlets.config.loader import PyFileConfigLoader

        _tools_on_path()
        root = Path(course_dir).expanduser().resolve()
        if not (root / CONFIG_FILE).is_file():
            raise CourseDirectoryError(
                f"{root} is not an nbgrader course directory (no {CONFIG_FILE}): "
                "give the course folder with --course-dir or STATELAB_COURSE_DIR")
        try:
            cfg = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
        except Exception as exc:  # noqa: BLE001 - any error in the file is the instructor's to fix
            raise CourseDirectoryError(f"{root / CONFIG_FILE} cannot be read: {type(exc).__name__}: {exc}") from None
        cfg.CourseDirectory.root = str(root)
        return cls._from_config(_merged(cfg, overrides))

    @classmethod
    def _from_config(cls, cfg) -> Course:
        return cls(config=cfg)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]] | None) -> Course:
        """A new :class:`Course` with `overrides` merged on top of this one's configuration."""
        return type(self)._from_config(_merged(self.config, overrides))

    # ------------------------------------------------------------------ folders
    @property
    def path(self) -> Path:
        """The course root, as a ``Path``."""
        return Path(self.root)

    def folder(self, step: str, assignment: str, student: str = ".") -> Path:
        """``nbgrader_step/student/assignment`` through nbgrader's ``format_path``.

        Parameters
        ----------
        step : {"source", "release", "submitted", "autograded", "feedback"}
            The nbgrader step; its folder name comes from the ``*_directory`` setting.
        assignment : str
        student : str, default "."
            ``"."`` for the steps that have no student (``source``, ``release``).
        """
        name = getattr(self, f"{step}_directory")
        return Path(os.path.normpath(self.format_path(name, student, assignment)))

    def reports(self, assignment: str) -> Path:
        """``<root>/<reports_directory>/<assignment>``: screening results and clearances."""
        return self.path / self.reports_directory / assignment

    def assignments(self) -> list[str]:
        """Assignment ids: the folders of the source step that contain a notebook, sorted."""
        src = self.folder("source", "*").parent
        if not src.is_dir():
            return []
        return sorted(p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))

    def students(self, step: str, assignment: str) -> list[str]:
        """Students with a folder for `assignment` in `step` (``"submitted"``, ``"autograded"``...), sorted.

        Found as nbgrader finds them: a glob of ``format_path`` with ``*`` for the student,
        read back through the escaped pattern.
        """
        name = getattr(self, f"{step}_directory")
        regex = re.compile(self.format_path(name, "(?P<student_id>[^/]+)", assignment, escape=True) + "$")
        found = (regex.match(p) for p in glob.glob(self.format_path(name, "*", assignment)))
        return sorted({m["student_id"] for m in found if m and os.path.isdir(m.string)})

    # ------------------------------------------------------------------ the gradebook
    @property
    def db_path(self) -> Path:
        """The SQLite gradebook file (which may not exist yet).

        Raises
        ------
        CourseDirectoryError
            If ``CourseDirectory.db_url`` is not a SQLite file URL.
        """
        prefix = "sqlite:///"
        if not self.db_url.startswith(prefix):
            raise CourseDirectoryError(f"only SQLite gradebooks are supported, got {self.db_url!r}")
        return Path(self.db_url[len(prefix):])

    @contextlib.contextmanager
    def gradebook(self) -> Iterator[Any]:
        """Open nbgrader's ``Gradebook`` on this course, committing nothing by itself.

        Yields
        ------
        nbgrader.api.Gradebook

        Raises
        ------
        GradebookLockedError
            When another program (a formgrader save, a second grading run) holds the database.
        """
        from nbgrader.api import Gradebook

        quiet_nbgrader()
        with self.gradebook_errors():
            with Gradebook(self.db_url, self.course_id) as gb:
                yield gb

    @contextlib.contextmanager
    def gradebook_errors(self) -> Iterator[None]:
        """Turn SQLite's "database is locked" and a refused write into one-line errors.

        Also when nbgrader's API caught the error itself and reported it in its result (see
        :func:`check_result`).
        """
        from sqlalchemy.exc import OperationalError as SAOperationalError

        try:
            yield
        except (sqlite3.OperationalError, SAOperationalError, NbgraderStepError) as exc:
            if _is_locked(exc) or any(_is_locked(t) for t in getattr(exc, "failures", {}).values()):
                raise GradebookLockedError(
                    f"the gradebook {self.db_path} is locked by another program (a formgrader save or "
                    "another grading run): wait for it to finish and run the command again; nothing "
                    "was changed") from None
            if "readonly" in str(exc) or "unable to open" in str(exc):
                raise CoursePermissionError(
                    f"cannot write the gradebook {self.db_path}: run the command as the account that "
                    "owns the course directory; nothing was changed") from None
            raise

    def require_assignment(self, assignment: str) -> None:
        """Raise unless `assignment` has been generated into the gradebook.

        Raises
        ------
        AssignmentNotFoundError
        """
        from nbgrader.api import MissingEntry

        known = self.assignments()
        if not self.db_path.exists():
            raise AssignmentNotFoundError(
                f"no gradebook {self.db_path}: run `statelab-grade release {assignment}` first")
        with self.gradebook() as gb:
            try:
                gb.find_assignment(assignment)
            except MissingEntry:
                if assignment in known:
                    raise AssignmentNotFoundError(
                        f"assignment {assignment!r} is not in the gradebook: run "
                        f"`statelab-grade release {assignment}` first") from None
                raise AssignmentNotFoundError(f"no assignment {assignment!r} {self.assignments_hint()}") from None

    def assignments_hint(self, limit: int = 6) -> str:
        """``"(assignments in source/: a, b and 3 more)"``, for messages about an unknown assignment."""
        known = self.assignments()
        shown = ", ".join(known[:limit]) + (f" and {len(known) - limit} more" if len(known) > limit else "")
        return f"(assignments in {self.folder('source', '*').parent}: {shown or 'none'})"

    def require_submissions(self, assignment: str, students: list[str]) -> None:
        """Raise unless every student in `students` has a submission folder for `assignment`.

        Raises
        ------
        StudentNotFoundError
        """
        have = set(self.students("submitted", assignment))
        missing = [s for s in students if s not in have]
        if missing:
            raise StudentNotFoundError(
                f"no submission of {assignment} from {', '.join(map(repr, missing))} "
                f"(looked in {self.folder('submitted', assignment, '<student>')}): check the id with "
                "`statelab-grade students list`")

    def require_writable(self, *paths: Path) -> None:
        """Raise before any work if the course root, the gradebook or `paths` cannot be written.

        Raises
        ------
        CoursePermissionError
        """
        for p in (self.path, self.db_path, *paths):
            target = p if p.exists() else next((q for q in p.parents if q.exists()), p)
            if not os.access(target, os.W_OK):
                raise CoursePermissionError(
                    f"no permission to write {target}: run the command as the account that owns the "
                    "course directory (on the hub, in a terminal of the course's formgrader "
                    "service); nothing was changed")

    # ------------------------------------------------------------------ nbgrader's API
    def api(self, overrides: Mapping[str, Mapping[str, Any]] | None = None, *,
            log_level: int | str = logging.WARNING):
        """An ``nbgrader.apps.NbGraderAPI`` on this course (with `overrides`, if any).

        Parameters
        ----------
        overrides : mapping, optional
            Extra configuration, see :meth:`open`.
        log_level : int or str, default ``logging.WARNING``
            nbgrader's log level (its INFO output is very chatty).

        Returns
        -------
        nbgrader.apps.NbGraderAPI
        """
        from nbgrader.apps import NbGraderAPI

        quiet_nbgrader()
        course = self.with_overrides(overrides) if overrides else self
        cfg = _merged(course.config, None)
        if course.cap_outputs:
            cfg.merge(_with_cap_outputs(cfg))
        if course.quiet_kernels and "extra_arguments" not in cfg.Execute:
            cfg.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]
        cfg.NbGraderAPI.log_level = log_level
        return NbGraderAPI(coursedir=course, config=cfg)


CourseLike = str | os.PathLike | Course


def require_writable_file(path: str | os.PathLike[str]) -> Path:
    """Raise :class:`CoursePermissionError` unless `path` can be written (its folder, if it is new).

    For output files chosen by the instructor (the grade export, reports), checked before any
    work so the message names the file, not a temporary one.
    """
    path = Path(path).expanduser().resolve()
    target = path if path.exists() else next((q for q in path.parents if q.exists()), path)
    if not os.access(target, os.W_OK):
        raise CoursePermissionError(f"no permission to write {path}: write it somewhere you can (another "
                                    "folder), or run the command as the account that owns that folder")
    return path


def _merged(cfg, overrides: Mapping[str, Mapping[str, Any]] | None):
    """A new Config: a deep copy of `cfg` (its sections are never shared) with `overrides` on top."""
    from traitlets.config import Config

    out = copy.deepcopy(cfg)
    for section, values in (overrides or {}).items():
        extra = Config()
        for key, value in values.items():
            setattr(getattr(extra, section), key, value)
        out.merge(extra)
    return out


def _with_cap_outputs(cfg):
    """Configuration that puts :class:`graders.CapOutputs` in the autograde steps, once."""
    from nbgrader.converters import Autograde
    from traitlets.config import Config

    steps = list(cfg.Autograde.get("autograde_preprocessors",
                                   Autograde.class_traits()["autograde_preprocessors"].default()))
    names = [s if isinstance(s, str) else f"{s.__module__}.{s.__qualname__}" for s in steps]
    extra = Config()
    if not any(n.endswith("CapOutputs") for n in names):
        at = next((i + 1 for i, n in enumerate(names) if n.endswith("LimitOutput")), len(steps))
        extra.Autograde.autograde_preprocessors = [*steps[:at], _CAP_OUTPUTS, *steps[at:]]
    return extra


def load_config(course_dir: CourseLike, overrides: Mapping[str, Mapping[str, Any]] | None = None):
    """The course's configuration as a traitlets ``Config`` (see :meth:`Course.open`)."""
    return Course.open(course_dir, overrides).config


def make_api(course_dir: CourseLike, overrides: Mapping[str, Mapping[str, Any]] | None = None, *,
             log_level: int | str = logging.WARNING):
    """Build an ``nbgrader.apps.NbGraderAPI`` for `course_dir` (see :meth:`Course.api`)."""
    return Course.open(course_dir).api(overrides, log_level=log_level)


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
        from ._errors import error_line

        detail = "\n".join(x.strip() for x in (result.get("log"), result.get("error")) if x and x.strip())
        raise NbgraderStepError(f"{what} failed: {error_line(detail)}", {what: detail})
    return result
