"""Autograde a whole class in parallel, with results identical to nbgrader's.

nbgrader's own ``autograde`` runs one submission after another (nbgrader issue
#174), and its SQLite gradebook does not tolerate several processes writing at
once ("database is locked"). :func:`autograde_class` therefore gives every
submission a private, throw-away course directory:

* ``source/``, ``release/`` and ``submitted/`` are symbolic links to the real
  course, so nothing is copied but
* ``gradebook.db`` is a private copy of a snapshot of the real gradebook, and
* ``autograded/`` is private.

Each worker process runs the unmodified ``NbGraderAPI.autograde`` in its private
directory (so scores are nbgrader's own), then returns that submission's rows
(grades, comments, flags, late penalty, timestamp). The parent process is the
only writer of the real gradebook: it applies each submission's rows to a copy
of the gradebook as they arrive (while the workers grade the rest), and renames
the copy over the original at the end; each autograded folder is likewise moved
into place whole, after the gradebook. Workers are started by a clean
``forkserver`` (``spawn`` where there is none), never forked from the caller:
kernels talk over ZeroMQ, which must not be shared across a fork.

Before anything runs, every submission is screened (:mod:`graders._screen`); one
whose code tampers with the tests is held, not run, until an instructor clears it
(:mod:`graders._review`). Nothing is written when the course cannot be written or
the gradebook is locked: both are checked before the first kernel starts.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ._atomic import atomic_path, file_stamp, replace_dir
from ._course import CONFIG_FILE, Course, CourseLike, quiet_nbgrader
from ._errors import NbgraderStepError, SubmissionError, error_line
from ._results import final_score, ungraded_cells
from ._review import accepted_students, record_clearance, write_findings
from ._screen import Finding, screen_submission

__all__ = ["AutogradeResult", "autograde_class", "autograde_sequential", "default_workers"]


@dataclass
class AutogradeResult:
    """What :func:`autograde_class` did.

    Attributes
    ----------
    assignment : str
        The assignment id.
    scores : dict of str to float
        Score per student, read back from the gradebook (:func:`graders._results.final_score`).
    max_score : float
        The assignment's maximum score.
    failed : dict of str to str
        Students whose autograde failed, with nbgrader's error text.
    seconds : float
        Wall-clock time.
    workers : int
        Number of worker processes used (1 means in-process).
    findings : list of Finding
        What :func:`graders.screen_submission` found in each submission (broken files,
        moved or deleted cells, code that tampers with the tests); also written to
        ``reports/<assignment>/screening.csv``.
    held : dict of str to str
        Students whose code tampers with the tests: not run, zero and flagged in the
        gradebook until an instructor reads the code and grades again with ``cleared``.
    cleared : list of str
        Students graded in this run although the screen flags their code, because an
        instructor cleared that submission (now or in an earlier run).
    ungraded : dict of str to list of str
        Students graded in this run with cells that wait for a manual grade (written answers),
        and those cells. (Held and failed submissions wait for a decision on every cell.)
    student_seconds : dict of str to float
        Time each graded submission took in its worker.
    """

    assignment: str
    scores: dict[str, float] = field(default_factory=dict)
    max_score: float = 0.0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    workers: int = 1
    findings: list[Finding] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)
    cleared: list[str] = field(default_factory=list)
    ungraded: dict[str, list[str]] = field(default_factory=dict)
    student_seconds: dict[str, float] = field(default_factory=dict)

    def failure_reasons(self) -> dict[str, str]:
        """Student to the telling line of nbgrader's error text (see :func:`graders._errors.error_line`)."""
        return {s: error_line(text) for s, text in sorted(self.failed.items())}


def default_workers() -> int:
    """Worker processes used when none are asked for: the cores plus one."""
    return (os.cpu_count() or 1) + 1


def _mp_context():
    """A start method that never forks a process holding kernels or ZeroMQ state.

    ``forkserver`` (POSIX): one clean server process imports nbgrader once and
    forks each worker from itself, so workers start fast and the caller's
    ``__main__`` is not re-imported. ``spawn`` elsewhere.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["graders._autograde", "nbgrader.apps", "nbgrader.converters"])
        return ctx
    return multiprocessing.get_context("spawn")


def _overrides(timeout: int | None) -> dict[str, dict[str, Any]]:
    if timeout is None:
        return {}
    return {"ExecutePreprocessor": {"timeout": int(timeout)}}


def _sqlite_copy(src: Path, dst: Path) -> None:
    """Copy a SQLite database consistently (the backup API, not a file copy)."""
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as s, sqlite3.connect(dst) as d:
        s.backup(d)
    s.close()
    d.close()


def _read_submission(gb, assignment: str, student: str) -> dict[str, Any]:
    sub = gb.find_submission(assignment, student)
    data: dict[str, Any] = {
        "timestamp": sub.timestamp,
        "extension": sub.extension,
        "notebooks": {},
    }
    for snb in sub.notebooks:
        data["notebooks"][snb.name] = {
            "flagged": snb.flagged,
            "late_submission_penalty": snb.late_submission_penalty,
            "grades": {g.name: (g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade)
                       for g in snb.grades},
            "comments": {c.name: (c.auto_comment, c.manual_comment) for c in snb.comments},
        }
    return data


#: Messages of a kernel that failed to start, not of a submission that failed: jupyter_client
#: picks free TCP ports and binds them later, so kernels started at once can collide. The client
#: then reports either the death or, when the dead kernel's ports stay silent, its wait for it.
_KERNEL_START_FAILURES = ("Address already in use", "Kernel died before replying to kernel_info",
                          "Kernel didn't respond in")
_KERNEL_START_RETRIES = 2
#: The course as each worker process read it (once per process and configuration file).
_WORKER_COURSES: dict[tuple[str, Any], Course] = {}


def _worker_course(root: str) -> Course:
    key = (root, file_stamp(Path(root) / CONFIG_FILE))
    if key not in _WORKER_COURSES:
        _WORKER_COURSES[key] = Course.open(root)
    return _WORKER_COURSES[key]


def _grade_one(job: Mapping[str, Any]) -> dict[str, Any]:
    """Autograde one submission in a private course directory (runs in a worker)."""
    quiet_nbgrader()
    started = time.perf_counter()
    course = _worker_course(job["root"])
    assignment, student = job["assignment"], job["student"]
    work = Path(tempfile.mkdtemp(prefix=f"statelab-autograde-{student}-", dir=job["tmp"]))
    for name in (course.source_directory, course.release_directory, course.submitted_directory):
        if (course.path / name).exists():
            (work / name).symlink_to(course.path / name, target_is_directory=True)
    db = work / "gradebook.db"
    shutil.copyfile(job["snapshot"], db)
    api = course.api({**job["overrides"], "CourseDirectory": {"root": str(work), "db_url": f"sqlite:///{db}"}})
    for attempt in range(1 + _KERNEL_START_RETRIES):
        result = api.autograde(assignment, student, force=True, create=True)
        text = f"{result.get('log') or ''}\n{result.get('error') or ''}"
        # Retry only when the kernel never started (two kernels raced for one free port);
        # a submission whose own code fails is graded as it is, once.
        if result.get("success") or not any(m in text for m in _KERNEL_START_FAILURES):
            break
        time.sleep(0.5 + attempt + random.random())  # the other kernels that start now get their ports first
    out: dict[str, Any] = {"student": student, "work": str(work), "success": bool(result.get("success"))}
    if not out["success"]:
        out["error"] = "\n".join(x.strip() for x in (result.get("log"), result.get("error")) if x and x.strip())
        return out
    with api.coursedir.gradebook() as gb:
        out["data"] = _read_submission(gb, assignment, student)
    out["autograded"] = str(api.coursedir.folder("autograded", assignment, student))
    out["seconds"] = time.perf_counter() - started
    return out


def _apply(gb, assignment: str, student: str, data: Mapping[str, Any]) -> None:
    """Write one submission's autograde rows into an open gradebook."""
    gb.update_or_create_student(student)
    sub = gb.update_or_create_submission(assignment, student)
    sub.timestamp = data["timestamp"]
    sub.extension = data["extension"]
    for snb in sub.notebooks:
        nbdata = data["notebooks"].get(snb.name)
        if nbdata is None:
            raise SubmissionError(f"{student}: notebook {snb.name!r} missing from the worker's gradebook")
        snb.flagged = nbdata["flagged"]
        snb.late_submission_penalty = nbdata["late_submission_penalty"]
        for g in snb.grades:
            g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade = nbdata["grades"][g.name]
        for c in snb.comments:
            c.auto_comment, c.manual_comment = nbdata["comments"][c.name]
    gb.db.commit()


def _record_flagged(gb, assignment: str, student: str) -> None:
    """A submission not graded (unreadable, or held for review): in the gradebook with zero, flagged."""
    gb.update_or_create_student(student)
    sub = gb.update_or_create_submission(assignment, student)
    for snb in sub.notebooks:
        snb.flagged = True
        for g in snb.grades:  # a regrade must not keep scores from an earlier run
            g.auto_score = None
    gb.db.commit()


class _Staging:
    """A copy of the gradebook that results are applied to as they arrive, then renamed over it.

    The copy is taken when the first result comes in. If the real gradebook changes before the
    end (an instructor saved a manual grade in the formgrader meanwhile), the copy is taken
    again from the changed gradebook and every result re-applied, so nothing entered meanwhile
    is lost; otherwise the work already done while the workers were grading is kept.
    """

    def __init__(self, course: Course, path: Path, assignment: str) -> None:
        self.course, self.db, self.path, self.assignment = course, course.db_path, path, assignment
        self.gb = None
        self.stamp: tuple[int, int] | None = None
        self.ok: list[dict[str, Any]] = []

    def _open(self) -> None:
        from nbgrader.api import Gradebook

        self.stamp = file_stamp(self.db)
        _sqlite_copy(self.db, self.path)
        self.gb = Gradebook(f"sqlite:///{self.path}", self.course.course_id)

    def add(self, d: Mapping[str, Any]) -> None:
        if not d["success"]:
            return
        if self.gb is None:
            self._open()
        _apply(self.gb, self.assignment, d["student"], d["data"])
        self.ok.append(d)

    def close(self) -> None:
        if self.gb is not None:
            self.gb.close()
            self.gb = None

    def finish(self, flagged: Iterable[str]) -> None:
        """Record `flagged` students, then put the staged gradebook in place."""
        if self.gb is None or file_stamp(self.db) != self.stamp:
            self.close()
            self._open()
            for d in sorted(self.ok, key=lambda d: d["student"]):
                _apply(self.gb, self.assignment, d["student"], d["data"])
        for s in flagged:
            _record_flagged(self.gb, self.assignment, s)
        self.close()
        with atomic_path(self.db) as new_db:
            _sqlite_copy(self.path, new_db)


def _read_scores(course: Course, assignment: str,
                 students: Iterable[str]) -> tuple[dict[str, float], float, dict[str, list[str]]]:
    """(score per student, the assignment's maximum, cells waiting for a manual grade)."""
    from nbgrader.api import MissingEntry

    students = list(students)
    scores: dict[str, float] = {}
    with course.gradebook() as gb:
        max_score = float(gb.find_assignment(assignment).max_score)
        for s in students:
            try:
                scores[s] = final_score(gb.find_submission(assignment, s))
            except MissingEntry:
                pass
        waiting = ungraded_cells(gb, assignment, students)
    return scores, max_score, waiting


def _run(jobs: list[dict[str, Any]], n_workers: int, finished) -> None:
    """Grade `jobs` in this process (one worker) or a pool, calling `finished` with each result."""
    if n_workers == 1:
        for job in jobs:
            finished(_grade_one(job))
        return
    with cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=_mp_context()) as pool:
        futures = {pool.submit(_grade_one, job): job["student"] for job in jobs}
        for fut in cf.as_completed(futures):
            try:
                d = fut.result()
            except Exception as exc:  # a crashed worker: report, keep the others
                d = {"student": futures[fut], "success": False, "error": repr(exc)}
            finished(d)


def autograde_class(course: CourseLike, assignment: str, workers: int | None = None, *,
                    students: Iterable[str] | None = None, timeout: int | None = None,
                    progress: bool | None = None, raise_on_failure: bool = True,
                    cleared: Iterable[str] = ()) -> AutogradeResult:
    """Autograde every submission of `assignment`, several at a time.

    Parameters
    ----------
    course : path-like or Course
        The course root (``nbgrader_config.py``, ``gradebook.db``, ``submitted/``).
    assignment : str
        The assignment id; it must already be in the gradebook (run
        :func:`graders.release_assignments` first).
    workers : int, optional
        Worker processes; default one more than ``os.cpu_count()`` (each worker
        waits on its kernel while the kernel runs, and on nbgrader while nbgrader
        converts: one extra keeps every core busy), capped at the number of
        submissions. ``1`` grades in this process, one after another, through the
        same private-directory path.
    students : iterable of str, optional
        Only these students; default everyone with ``submitted/<id>/<assignment>``.
    timeout : int, optional
        Per-cell execution timeout in seconds, overriding the course's
        ``ExecutePreprocessor.timeout``.
    progress : bool, optional
        Show a tqdm progress bar; default only on a terminal.
    raise_on_failure : bool, default True
        Raise :class:`NbgraderStepError` (after saving the successful ones) when
        any submission failed to autograde.
    cleared : iterable of str, optional
        Students whose flagged code an instructor has read and accepts; the clearance is
        recorded with a digest of the submission, so later runs grade it too until the
        student submits something else. Every other submission with an ``integrity``
        finding (see :func:`graders.screen_submission`) is never executed: it is recorded
        with zero, flagged, and listed in ``held``.

    Returns
    -------
    AutogradeResult

    Raises
    ------
    AssignmentNotFoundError
        If the assignment is not in the gradebook.
    StudentNotFoundError
        If a student in `students` or `cleared` has no submission.
    CoursePermissionError, GradebookLockedError
        Before anything is graded, if the course cannot be written or the gradebook is locked.
    NbgraderStepError
        If some submissions failed and `raise_on_failure` is true.

    Examples
    --------
    >>> res = autograde_class("assignments", "01-orientation", workers=2)  # doctest: +SKIP
    >>> res.scores, res.seconds                                             # doctest: +SKIP
    """
    start = time.perf_counter()
    course = Course.open(course)
    course.require_assignment(assignment)
    cleared = sorted(set(cleared))
    todo = sorted(set(students)) if students is not None else course.students("submitted", assignment)
    course.require_submissions(assignment, sorted(set(todo) | set(cleared)))
    course.require_writable(course.path / course.autograded_directory, course.reports(assignment))
    res = AutogradeResult(assignment=assignment)
    res.findings = [f for s in todo for f in screen_submission(course, assignment, s)]
    accepted = accepted_students(course, assignment, todo, cleared)
    for f in res.findings:
        if f.kind == "integrity" and f.student not in accepted:
            res.held[f.student] = "; ".join(filter(None, [res.held.get(f.student), f"{f.cell}: {f.reason}"]))
    res.cleared = sorted({f.student for f in res.findings if f.kind == "integrity"} & accepted)
    run = [s for s in todo if s not in res.held]
    if not todo:
        res.seconds = time.perf_counter() - start
        return res
    n_workers = res.workers = max(1, min(workers or default_workers(), len(run) or 1))

    with tempfile.TemporaryDirectory(prefix="statelab-autograde-") as tmp, course.gradebook_errors():
        snapshot = Path(tmp) / "snapshot.db"
        _sqlite_copy(course.db_path, snapshot)  # also fails fast, before any kernel, on a locked gradebook
        jobs = [{"root": str(course.path), "assignment": assignment, "student": s, "snapshot": str(snapshot),
                 "overrides": _overrides(timeout), "tmp": tmp} for s in run]
        done: list[dict[str, Any]] = []
        staging = _Staging(course, Path(tmp) / "staging.db", assignment)
        bar = tqdm(total=len(jobs), desc=f"autograde {assignment}", unit="sub",
                   disable=(None if progress is None else not progress))

        def finished(d: dict[str, Any]) -> None:
            done.append(d)
            staging.add(d)        # the parent applies results while workers still grade
            bar.update()

        if n_workers == 1:  # in this process: reuse the course already read
            _WORKER_COURSES[(str(course.path), file_stamp(course.path / CONFIG_FILE))] = course
        try:
            _run(jobs, n_workers, finished)
        except BaseException:
            staging.close()
            raise
        finally:
            bar.close()

        ok = [d for d in done if d["success"]]
        res.failed = {d["student"]: d.get("error", "") for d in done if not d["success"]}
        res.student_seconds = {d["student"]: d["seconds"] for d in ok}
        if done or res.held:  # the gradebook first: a lock at the end leaves every folder as it was
            staging.finish(sorted(res.failed) + sorted(res.held))
        for d in ok:  # whole folders, moved into place one at a time
            replace_dir(d["autograded"], course.folder("autograded", assignment, d["student"]))
        res.scores, res.max_score, waiting = _read_scores(course, assignment, todo)
        res.ungraded = {s: cells for s, cells in waiting.items() if s not in res.held and s not in res.failed}
        write_findings(course, assignment, res.findings, todo)
        record_clearance(course, assignment, [s for s in cleared if s in todo])

    res.seconds = time.perf_counter() - start
    if res.failed and raise_on_failure:
        why = "; ".join(f"{student}: {line}" for student, line in res.failure_reasons().items())
        raise NbgraderStepError(f"autograde failed for {len(res.failed)} of {len(todo)} submissions: {why}",
                                res.failed)
    return res


def autograde_sequential(course: CourseLike, assignment: str, *,
                         students: Iterable[str] | None = None, timeout: int | None = None,
                         progress: bool | None = None) -> AutogradeResult:
    """Autograde with plain ``NbGraderAPI.autograde``, one submission after another.

    This is nbgrader's own behavior, kept as the reference that
    :func:`autograde_class` is tested (and benchmarked) against.

    Parameters
    ----------
    course : path-like or Course
    assignment : str
    students : iterable of str, optional
    timeout : int, optional
        Per-cell timeout override, seconds.
    progress : bool, optional

    Returns
    -------
    AutogradeResult
        Failures are recorded in ``failed``; nothing is raised for them.
    """
    start = time.perf_counter()
    course = Course.open(course)
    course.require_assignment(assignment)
    todo = sorted(students) if students is not None else course.students("submitted", assignment)
    api = course.api(_overrides(timeout))
    res = AutogradeResult(assignment=assignment, workers=1)
    for s in tqdm(todo, desc=f"autograde {assignment} (sequential)", unit="sub",
                  disable=(None if progress is None else not progress)):
        r = api.autograde(assignment, s, force=True, create=True)
        if not r.get("success"):
            res.failed[s] = (r.get("error") or r.get("log") or "").strip()
    res.scores, res.max_score, res.ungraded = _read_scores(course, assignment, todo)
    res.seconds = time.perf_counter() - start
    return res
