"""Release assignments to students and collect their submissions."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

import nbformat

from ._atomic import keep_previous, replace_dir
from ._course import Course, CourseLike, check_result
from ._errors import AssignmentNotFoundError, CourseDirectoryError, GradingError, SubmissionError
from ._roster import STUDENT_ID

__all__ = ["release_assignments", "check_release", "collect_submissions"]

_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
            "BEGIN MARK SCHEME", "END MARK SCHEME")


def release_assignments(course: CourseLike, assignments: list[str] | None = None, *,
                        exchange: bool = False) -> list[str]:
    """Generate the student version of assignments, optionally releasing them to the exchange.

    Runs nbgrader's ``generate_assignment`` (which also records the assignment,
    its notebooks and its graded cells in the gradebook) into ``release/``, checks
    that no solution or hidden-test text survived, and with ``exchange=True``
    copies the result to the nbgrader exchange (``Exchange.root``).

    Parameters
    ----------
    course : path-like or Course
        The course root.
    assignments : list of str, optional
        Assignment ids; default every folder of ``source/``.
    exchange : bool, default False
        Also run nbgrader's ``release_assignment``.

    Returns
    -------
    list of str
        The assignment ids processed.

    Raises
    ------
    AssignmentNotFoundError
        If an assignment has no folder in ``source/``.
    NbgraderStepError
        If nbgrader reports a failure.
    GradingError
        If the released notebooks still contain solution or hidden-test markers.
    """
    course = Course.open(course)
    known = course.assignments()
    todo = list(assignments) if assignments else known
    for a in todo:
        if a not in known:
            raise AssignmentNotFoundError(f"no assignment {a!r} {course.assignments_hint()}")
    course.require_writable(course.path / course.release_directory)
    api = course.api()
    if exchange and not api.exchange_is_functional:
        raise CourseDirectoryError(
            f"the nbgrader exchange {api.exchange_root!r} is missing or not writable; create it "
            "(mode 0777 with the sticky bit, see nbgrader's docs) or set Exchange.root")
    for a in todo:
        _generate(course, api, a)
        if exchange:
            check_result(api.release_assignment(a), f"release_assignment {a}")
    return todo


def _generate(course: Course, api, assignment: str) -> None:
    """nbgrader's ``generate_assignment``, keeping the previous release if it fails.

    With ``force`` nbgrader deletes ``release/<assignment>`` before it touches the gradebook, so
    a locked gradebook would leave learners' copy gone. The old folder is set aside first and
    put back on any failure (:func:`graders._atomic.keep_previous`).
    """
    with keep_previous(course.folder("release", assignment)):
        with course.gradebook_errors():
            check_result(api.generate_assignment(assignment, force=True, create=True),
                         f"generate_assignment {assignment}")
        check_release(course, assignment)


def check_release(course: CourseLike, assignment: str) -> None:
    """Raise if a released notebook still contains nbgrader solution or hidden-test markers.

    Parameters
    ----------
    course : path-like or Course
    assignment : str

    Raises
    ------
    AssignmentNotFoundError
        If ``release/<assignment>`` does not exist.
    GradingError
        If a marker is found.
    """
    rel = Course.open(course).folder("release", assignment)
    if not rel.is_dir():
        raise AssignmentNotFoundError(f"{rel} does not exist")
    for path in sorted(rel.rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            hits = [m for m in _MARKERS if m in cell.source]
            if hits:
                raise GradingError(f"{path} still contains {hits}: check the cell metadata in source/")


def _timestamp(path: Path) -> str:
    mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.timezone.utc)
    return mtime.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def collect_submissions(course: CourseLike, assignment: str, *,
                        from_dir: str | os.PathLike[str] | None = None, exchange: bool = False) -> list[str]:
    """Copy submissions into ``submitted/<student>/<assignment>/``.

    Parameters
    ----------
    course : path-like or Course
        The course root.
    assignment : str
        The assignment id (it must have been released: its notebook names are
        read from ``release/<assignment>``).
    from_dir : path-like, optional
        A folder of submissions named per student: either ``<student>.ipynb``
        (one-notebook assignments; renamed to the assignment's notebook name) or
        a folder ``<student>/`` holding the assignment's files. The file's
        modification time becomes the submission timestamp, unless the folder
        has its own ``timestamp.txt``.
    exchange : bool, default False
        Also run nbgrader's ``collect`` from the exchange (latest submission wins).

    Returns
    -------
    list of str
        The student ids collected from `from_dir` (exchange students are not listed).

    Raises
    ------
    AssignmentNotFoundError
        If the assignment has not been released.
    SubmissionError
        If a name in `from_dir` is not a valid student id, or a one-notebook
        submission is given for a multi-notebook assignment.
    NbgraderStepError
        If nbgrader's collect fails.
    """
    course = Course.open(course)
    rel = course.folder("release", assignment)
    if not rel.is_dir():
        raise AssignmentNotFoundError(f"{assignment!r} has not been released (no {rel}): run "
                                      f"`statelab-grade release {assignment}` first")
    notebooks = sorted(p.name for p in rel.glob("*.ipynb"))
    collected: list[str] = []
    if from_dir is not None:
        src = Path(from_dir)
        if not src.is_dir():
            raise SubmissionError(f"{src} is not a folder: give the folder of downloaded submissions")
        course.require_writable(course.path / course.submitted_directory)
        entries = []  # every name checked before anything is copied
        for entry in sorted(src.iterdir()):
            if entry.name.startswith(".") or (entry.is_file() and entry.suffix != ".ipynb"):
                continue
            student = entry.stem if entry.is_file() else entry.name
            if not STUDENT_ID.match(student):
                raise SubmissionError(f"{entry.name!r}: {student!r} is not a usable student id (name each file "
                                      "or folder after the student's hub login); nothing was collected")
            if entry.is_file() and len(notebooks) != 1:
                raise SubmissionError(f"{entry}: {assignment} has {len(notebooks)} notebooks; submit a folder "
                                      "per student; nothing was collected")
            entries.append((entry, student))
        for entry, student in entries:
            tmp = Path(tempfile.mkdtemp(prefix=f".{student}.", dir=course.path))
            try:
                if entry.is_file():
                    shutil.copy2(entry, tmp / notebooks[0])
                    stamp = _timestamp(entry)
                else:
                    shutil.copytree(entry, tmp, dirs_exist_ok=True)
                    newest = max((p for p in entry.rglob("*.ipynb")), key=lambda p: p.stat().st_mtime,
                                 default=entry)
                    stamp = _timestamp(newest)
                if not (tmp / "timestamp.txt").exists():
                    (tmp / "timestamp.txt").write_text(stamp + "\n")
                replace_dir(tmp, course.folder("submitted", assignment, student))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            collected.append(student)
    if exchange:
        api = course.api()
        if not api.exchange_is_functional:
            raise CourseDirectoryError(f"the nbgrader exchange {api.exchange_root!r} is missing")
        check_result(api.collect(assignment, update=True), f"collect {assignment}")
    return collected
