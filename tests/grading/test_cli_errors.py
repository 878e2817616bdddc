"""Every command is safe on bad input: one line naming the problem and what to do, a documented
exit code, and nothing half-written.

The cases are the ones an instructor meets (issue 20): a roster that is missing or malformed, an
unknown assignment or student, a gradebook locked by a formgrader save, a course folder the
account cannot write. No kernel runs here: the course is released (which runs none) and
submissions are recorded through nbgrader's gradebook.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import graders
from graders import _cli
from grading_support import build_once, copy_course, shared_dir

pytestmark = [pytest.mark.grading, pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")]

A = "01-orientation"


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A course with 01-orientation released and ana's submission collected (read-only: copy it)."""
    def build(folder: Path) -> dict:
        course = copy_course(folder / "course")
        graders.release_assignments(course, [A])
        sub = course / "submitted" / "ana" / A
        sub.mkdir(parents=True)
        shutil.copy(course / "release" / A / f"{A}.ipynb", sub / f"{A}.ipynb")
        return {}

    folder, _ = build_once(shared_dir(tmp_path_factory), "cli-errors-released", build)
    return folder / "course"


@pytest.fixture
def course(released, tmp_path):
    return shutil.copytree(released, tmp_path / "course")


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        _cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def _one_line_error(err: str, *words: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --- rosters ------------------------------------------------------------------------------

def test_missing_roster(course, tmp_path, capsys):
    before = _digest(course / "gradebook.db")
    code, _, err = _run(capsys, "students", "import", tmp_path / "canvas-export.csv", "-C", course)
    assert code == 6
    _one_line_error(err, "canvas-export.csv not found", "Grades > Export")
    out = tmp_path / "grades.csv"
    code, _, err = _run(capsys, "export", out, "--roster", tmp_path / "canvas-export.csv", "-C", course)
    assert code == 6 and not out.exists()
    _one_line_error(err, "canvas-export.csv not found")
    assert _digest(course / "gradebook.db") == before


@pytest.mark.parametrize("text, words", [
    ("id,first_name\nben,Ben\ncy,Cy\nben,Benjamin\n", "lines 2 and 4: student 'ben' twice"),
    ("id,first_name\nben,Ben\ncy smith,Cy\n", "'cy smith' is not a usable student id"),
    ("login,name\nben,Ben\n", "neither a Canvas gradebook export"),
])
def test_malformed_roster_adds_nobody(course, tmp_path, capsys, text, words):
    roster = tmp_path / "roster.csv"
    roster.write_text(text, encoding="utf-8")
    before = graders.list_students(course)
    code, _, err = _run(capsys, "students", "import", roster, "-C", course)
    assert code == 6
    _one_line_error(err, str(roster), words)
    assert graders.list_students(course) == before  # ben was valid, and still not added


def test_export_roster_must_be_a_canvas_export(course, tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name\nana,Ana\n", encoding="utf-8")
    code, _, err = _run(capsys, "export", tmp_path / "g.csv", "--roster", roster, "--ungraded", "zero", "-C", course)
    assert code == 6 and not (tmp_path / "g.csv").exists()
    _one_line_error(err, "not a Canvas gradebook export", "students import")


# --- unknown assignment or student --------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["release", "nope"], ["collect", "nope", "--from-dir", "."], ["autograde", "nope"], ["review", "nope"],
    ["feedback", "nope"], ["report", "nope"], ["export", "g.csv", "--assignment", "nope", "--ungraded", "zero"],
])
def test_unknown_assignment(course, capsys, args, monkeypatch):
    monkeypatch.chdir(course.parent)
    before = _tree(course)
    code, _, err = _run(capsys, *args, "-C", course)
    assert code == 3
    _one_line_error(err, "'nope'")
    assert _tree(course) == before and not (course.parent / "g.csv").exists()


@pytest.mark.parametrize("args", [["autograde", A, "--student", "zed"], ["autograde", A, "--clear", "zed"],
                                  ["feedback", A, "--student", "zed"]])
def test_unknown_student(course, capsys, args):
    before = _tree(course)
    code, _, err = _run(capsys, *args, "-C", course)
    assert code == 3
    _one_line_error(err, "'zed'")
    assert _tree(course) == before


def test_collect_refuses_a_folder_with_an_unusable_name_and_collects_nothing(course, tmp_path, capsys):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    nb = course / "release" / A / f"{A}.ipynb"
    shutil.copy(nb, downloads / "ben.ipynb")
    shutil.copy(nb, downloads / "Cy Smith (late).ipynb")
    code, _, err = _run(capsys, "collect", A, "--from-dir", downloads, "-C", course)
    assert code == 6
    _one_line_error(err, "not a usable student id", "nothing was collected")
    assert not (course / "submitted" / "ben").exists()


# --- a gradebook locked by another program -------------------------------------------------

@pytest.mark.parametrize("args", [["students", "add", "zoe"], ["release", A], ["autograde", A],
                                  ["export", "{tmp}/g.csv", "--ungraded", "zero"]])
def test_gradebook_locked_by_a_formgrader_save(course, tmp_path, capsys, args):
    db = course / "gradebook.db"
    before, tree = _digest(db), _tree(course)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # as a formgrader writing a grade holds it
    try:
        code, _, err = _run(capsys, *[a.format(tmp=tmp_path) for a in args], "-C", course)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 9
    _one_line_error(err, "is locked by another program", "run the command again", "nothing was changed")
    assert _digest(db) == before and _tree(course) == tree
    assert not (tmp_path / "g.csv").exists()


# --- a course folder this account cannot write -----------------------------------------------

def _as_account_without_write_permission() -> list[str]:
    """A command prefix whose process cannot write where its user lacks the write bit.

    Root may write anywhere (CAP_DAC_OVERRIDE): under root the command runs with that
    capability dropped, as an instructor account would be; otherwise the mode bits decide.
    """
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot drop CAP_DAC_OVERRIDE to test a denied write")
    caps = "-dac_override,-dac_read_search,-fowner"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]


@pytest.mark.parametrize("args", [["students", "add", "zoe"], ["release", A], ["autograde", A],
                                  ["export", "{course}/g.csv", "--ungraded", "zero"]])
def test_course_folder_without_write_permission(course, args):
    before = _tree(course)
    digest = _digest(course / "gradebook.db")
    modes = {p: p.stat().st_mode for p in [course, *course.rglob("*")]}
    for p in modes:
        p.chmod(modes[p] & ~0o222)
    try:
        cmd = [*_as_account_without_write_permission(), sys.executable, "-m", "graders._cli",
               *[a.format(course=course) for a in args], "-C", str(course)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
    assert done.returncode == 10, (done.returncode, done.stderr)
    _one_line_error(done.stderr, "no permission to write", "nothing was changed" if args[0] != "export" else "")
    assert _tree(course) == before and _digest(course / "gradebook.db") == digest


# --- options and silent zeros ----------------------------------------------------------------

@pytest.mark.parametrize("args", [["export", "g.csv", "--ungraded", "maybe"], ["export", "g.csv", "--canvas-id", "x"],
                                  ["feedback", A, "--ungraded", "zero"], ["autograde", A, "--workers", "0"]])
def test_bad_option_values_are_usage_errors(course, capsys, args):
    code, _, err = _run(capsys, *args, "-C", course)
    assert code == 2 and "Traceback" not in err


def test_export_and_feedback_refuse_answers_not_graded_yet(course, tmp_path, capsys):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "statelab") as gb:
        gb.update_or_create_student("ana")
        gb.add_submission(A, "ana")  # as autograde leaves it: the written answer waits for a person
        for g in gb.find_submission(A, "ana").notebooks[0].grades:
            if g.name != "q4-written":
                g.auto_score, g.needs_manual_grade = g.max_score, False
        gb.db.commit()
    (course / "autograded" / "ana" / A).mkdir(parents=True)
    nbformat.write(nbformat.read(course / "release" / A / f"{A}.ipynb", as_version=4),
                   course / "autograded" / "ana" / A / f"{A}.ipynb")
    out = tmp_path / "g.csv"
    code, _, err = _run(capsys, "export", out, "-C", course)
    assert code == 7 and not out.exists()
    _one_line_error(err, "q4-written (ana)", "--ungraded blank")
    code, _, err = _run(capsys, "feedback", A, "-C", course)
    assert code == 7 and not (course / "feedback").exists()
    _one_line_error(err, "q4-written (ana)", "--ungraded mark")
    code, stdout, _ = _run(capsys, "export", out, "--ungraded", "blank", "-C", course)
    assert code == 0 and "left blank: 01-orientation: q4-written (ana)" in stdout
