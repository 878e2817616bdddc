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
into place whole. Workers are started by a clean ``forkserver`` (``spawn`` where
there is none), never forked from the caller: kernels talk over ZeroMQ, which
must not be shared across a fork.
"""

from __future__ import annotations

import concurrent.futures as cf

import multiprocessing
import os
import random
import re
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
from ._course import (
    course_path,
    gradebook_file,
    make_api,
    require_in_gradebook,
    submitted_students,
)
from ._errors import NbgraderStepError, SubmissionError
from ._screen import Finding, findings_table, screen_submission

__all__ = ["AutogradeResult", "autograde_class", "autograde_sequential"]


@dataclass
class AutogradeResult:
    """What :func:`autograde_class` did.

    Attributes
    ----------
    assignment : str
        The assignment id.
    scores : dict of str to float
        Total score per student, read back from the gradebook.
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
    """

    assignment: str
    scores: dict[str, float] = field(default_factory=dict)
    max_score: float = 0.0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    workers: int = 1
    findings: list[Finding] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)


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


def _read_submission(db: Path, course_id: str, assignment: str, student: str) -> dict[str, Any]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}", course_id) as gb:
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
_ERROR_LINE = re.compile(r"^[\w.]*(Error|Exception|Interrupt|Exit)\b.*:")


def _last_error(text: str) -> str:
    """The last ``SomeError: message`` line of nbgrader's log, not its closing "see the traceback" line."""
    lines = [ln.strip() for ln in (text or "").splitlines()]
    errors = [ln for ln in lines if _ERROR_LINE.match(ln) and not ln.startswith("nbgrader.")]
    return errors[-1] if errors else next((ln for ln in reversed(lines) if ln), "no error text")


def _grade_one(job: Mapping[str, Any]) -> dict[str, Any]:
    """Autograde one submission in a private course directory (runs in a worker)."""
    import warnings

    try:
        from sqlalchemy.exc import SAWarning
        warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's known, harmless ORM warnings
    except ImportError:  # pragma: no cover
        pass
    root = Path(job["root"])
    assignment, student = job["assignment"], job["student"]
    work = Path(tempfile.mkdtemp(prefix=f"statelab-autograde-{student}-", dir=job["tmp"]))
    for name in ("source", "release", "submitted"):
        if (root / name).exists():
            (work / name).symlink_to(root / name, target_is_directory=True)
    db = work / "gradebook.db"
    shutil.copyfile(job["snapshot"], db)
    overrides = dict(job["overrides"])
    overrides["CourseDirectory"] = {"root": str(work), "db_url": f"sqlite:///{db}"}
    api = make_api(root, overrides)
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
    out["data"] = _read_submission(db, job["course_id"], assignment, student)
    out["autograded"] = str(work / "autograded" / student / assignment)
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

    def __init__(self, db: Path, path: Path, course_id: str, assignment: str) -> None:
        self.db, self.path, self.course_id, self.assignment = db, path, course_id, assignment
        self.gb = None
        self.stamp: tuple[int, int] | None = None
        self.ok: list[dict[str, Any]] = []

    def _open(self) -> None:
        from nbgrader.api import Gradebook

        self.stamp = file_stamp(self.db)
        _sqlite_copy(self.db, self.path)
        self.gb = Gradebook(f"sqlite:///{self.path}", self.course_id)

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


def _write_findings(root: Path, assignment: str, findings: list[Finding]) -> Path:
    out = root / "reports" / assignment / "screening.csv"
    with atomic_path(out) as tmp:
        findings_table(findings).to_csv(tmp, index=False)
    return out


def _read_scores(db: Path, course_id: str, assignment: str,
                 students: Iterable[str]) -> tuple[dict[str, float], float]:
    from nbgrader.api import Gradebook, MissingEntry

    scores: dict[str, float] = {}
    with Gradebook(f"sqlite:///{db}", course_id) as gb:
        max_score = float(gb.find_assignment(assignment).max_score)
        for s in students:
            try:
                scores[s] = float(gb.find_submission(assignment, s).score)
            except MissingEntry:
                pass
    return scores, max_score


def autograde_class(course_dir: str | os.PathLike[str], assignment: str, workers: int | None = None, *,
                    students: Iterable[str] | None = None, timeout: int | None = None,
                    progress: bool | None = None, raise_on_failure: bool = True,
                    cleared: Iterable[str] = ()) -> AutogradeResult:
    """Autograde every submission of `assignment`, several at a time.

    Parameters
    ----------
    course_dir : path-like
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
        Students whose flagged code an instructor has read and accepts. Every other
        submission with an ``integrity`` finding (see :func:`graders.screen_submission`)
        is never executed: it is recorded with zero, flagged, and listed in ``held``.

    Returns
    -------
    AutogradeResult

    Raises
    ------
    AssignmentNotFoundError
        If the assignment is not in the gradebook.
    NbgraderStepError
        If some submissions failed and `raise_on_failure` is true.

    Examples
    --------
    >>> res = autograde_class("assignments", "01-orientation", workers=2)  # doctest: +SKIP
    >>> res.scores, res.seconds                                             # doctest: +SKIP
    """
    start = time.perf_counter()
    root = course_path(course_dir)
    require_in_gradebook(root, assignment)
    db, course_id = gradebook_file(root)
    todo = sorted(students) if students is not None else submitted_students(root, assignment)
    for s in todo:
        if not (root / "submitted" / s / assignment).is_dir():
            raise SubmissionError(f"no submission folder submitted/{s}/{assignment}")
    n_workers = max(1, min(workers or default_workers(), len(todo) or 1))
    res = AutogradeResult(assignment=assignment, workers=n_workers)
    res.findings = [f for s in todo for f in screen_submission(root, assignment, s)]
    cleared = set(cleared)
    for f in res.findings:
        if f.kind == "integrity" and f.student not in cleared:
            res.held[f.student] = "; ".join(filter(None, [res.held.get(f.student), f"{f.cell}: {f.reason}"]))
    run = [s for s in todo if s not in res.held]
    if not todo:
        res.seconds = time.perf_counter() - start
        return res
    n_workers = res.workers = max(1, min(n_workers, len(run) or 1))

    with tempfile.TemporaryDirectory(prefix="statelab-autograde-") as tmp:
        snapshot = Path(tmp) / "snapshot.db"
        _sqlite_copy(db, snapshot)
        jobs = [{"root": str(root), "assignment": assignment, "student": s, "snapshot": str(snapshot),
                 "course_id": course_id, "overrides": _overrides(timeout), "tmp": tmp} for s in run]
        done: list[dict[str, Any]] = []
        staging = _Staging(db, Path(tmp) / "staging.db", course_id, assignment)
        bar = tqdm(total=len(jobs), desc=f"autograde {assignment}", unit="sub",
                   disable=(None if progress is None else not progress))

        def finished(d: dict[str, Any]) -> None:
            done.append(d)
            staging.add(d)        # the parent applies results while workers still grade
            bar.update()

        try:
            if n_workers == 1:
                for job in jobs:
                    finished(_grade_one(job))
            else:
                ctx = _mp_context()
                with cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx) as pool:
                    futures = {pool.submit(_grade_one, job): job["student"] for job in jobs}
                    for fut in cf.as_completed(futures):
                        try:
                            d = fut.result()
                        except Exception as exc:  # a crashed worker: report, keep the others
                            d = {"student": futures[fut], "success": False, "error": repr(exc)}
                        finished(d)
        except BaseException:
            staging.close()
            raise
        finally:
            bar.close()

        ok = [d for d in done if d["success"]]
        res.failed = {d["student"]: d.get("error", "") for d in done if not d["success"]}
        for d in ok:  # whole folders, moved into place one at a time
            replace_dir(d["autograded"], root / "autograded" / d["student"] / assignment)
        if done or res.held:
            staging.finish(sorted(res.failed) + sorted(res.held))
        res.scores, res.max_score = _read_scores(db, course_id, assignment, todo)
        _write_findings(root, assignment, res.findings)

    res.seconds = time.perf_counter() - start
    if res.failed and raise_on_failure:
        why = "; ".join(f"{student}: {_last_error(text)}" for student, text in sorted(res.failed.items()))
        raise NbgraderStepError(f"autograde failed for {len(res.failed)} of {len(todo)} submissions: {why}",
                                res.failed)
    return res


def autograde_sequential(course_dir: str | os.PathLike[str], assignment: str, *,
                         students: Iterable[str] | None = None, timeout: int | None = None,
                         progress: bool | None = None) -> AutogradeResult:
    """Autograde with plain ``NbGraderAPI.autograde``, one submission after another.

    This is nbgrader's own behavior, kept as the reference that
    :func:`autograde_class` is tested (and benchmarked) against.

    Parameters
    ----------
    course_dir : path-like
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
    root = course_path(course_dir)
    require_in_gradebook(root, assignment)
    db, course_id = gradebook_file(root)
    todo = sorted(students) if students is not None else submitted_students(root, assignment)
    api = make_api(root, _overrides(timeout))
    res = AutogradeResult(assignment=assignment, workers=1)
    for s in tqdm(todo, desc=f"autograde {assignment} (sequential)", unit="sub",
                  disable=(None if progress is None else not progress)):
        r = api.autograde(assignment, s, force=True, create=True)
        if not r.get("success"):
            res.failed[s] = (r.get("error") or r.get("log") or "").strip()
    res.scores, res.max_score = _read_scores(db, course_id, assignment, todo)
    res.seconds = time.perf_counter() - start
    return res


