"""A class with broken and hostile submissions grades everyone else correctly, and loses nothing.

One class of the platform assignment is built from the solution: two honest copies and one
submission per case below, each damaged in one way a real class produces (by accident or
not). The class is graded once with the parallel grader and a short per-cell timeout. Each
bad submission must score no more than its honest content earns (the points of the
questions it left intact), carry a recorded reason, and never stop the others being graded.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

import graders
import synthetic_data as sd
from grading_support import autograded_cells, build_once, copy_course, nbgrader_meta, shared_dir

pytestmark = [pytest.mark.grading, pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")]

ASSIGNMENT = "01-orientation"
CELL_TIMEOUT = 5  # seconds; the course default is 120
HONEST = ("honest-a", "honest-b")


def _cell(nb, grade_id):
    return next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id)


def _answer(code: str):
    def edit(nb):
        _cell(nb, "q1-answer").source = code
    return edit


def _drop(grade_id: str):
    def edit(nb):
        nb.cells = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") != grade_id]
    return edit


def _rename(nb):
    _cell(nb, "q1-tests").metadata["nbgrader"]["grade_id"] = "my-q1-tests"


def _reverse(nb):
    nb.cells = nb.cells[::-1]


def _edit_test(nb):
    _cell(nb, "q1-tests").source = "pass"


def _huge(nb):
    cell = _cell(nb, "q1-answer")
    cell.source = "print('x' * 30_000_000)\n" + cell.source


# name -> (edit of the solution notebook, questions whose honest answer survives the edit,
#          expected screening kind or None, words the recorded reason must contain)
CASES = {
    "edited-test-cell": (_edit_test, {"q1", "q2", "q3"}, "structure", "edited"),
    "deleted-test-cell": (_drop("q1-tests"), {"q2", "q3"}, "structure", "deleted"),
    "deleted-answer-cell": (_drop("q2-answer"), {"q1", "q3"}, "structure", "deleted"),
    "renamed-cell-id": (_rename, {"q2", "q3"}, "structure", "not in the released assignment"),
    "reordered-cells": (_reverse, {"q1", "q2", "q3"}, "structure", "moved"),
    "infinite-loop": (_answer("while True:\n    pass"), {"q2", "q3"}, None, None),
    "huge-output": (_huge, {"q1", "q2", "q3"}, None, None),
    "sys-exit": (_answer("import sys\nsys.exit(0)"), {"q2", "q3"}, None, None),
    "os-exit": (_answer("import os\nos._exit(1)"), {"q2", "q3"}, "integrity", "os._exit"),
    "segfault": (_answer("import ctypes\nctypes.string_at(0)"), {"q2", "q3"}, "integrity", "ctypes"),
    "fake-data-connection": (_answer("sd.connect = lambda *a, **k: None\nn_employers = 7"), {"q2", "q3"},
                             "integrity", "sd.connect"),
    "shadowed-builtin": (_answer("def isinstance(*args):\n    return True\nn_employers = 7"), {"q2", "q3"},
                         "integrity", "isinstance"),
    "reads-instructor-source": (
        _answer("import glob\nsrc = glob.glob('../../../source/**/*.ipynb', recursive=True)\n"
                "exec(open(src[0]).read())"), {"q2", "q3"}, "integrity", "instructor files"),
    "writes-gradebook": (_answer("import sqlite3\nsqlite3.connect('../../../gradebook.db').execute("
                                "\"UPDATE grade SET auto_score = 99\")"), {"q2", "q3"}, "integrity", "sqlite3"),
}
FILE_CASES = {  # submissions that are not the notebook at all
    "invalid-json": ("structure", "not a valid notebook"),
    "other-assignments-file": ("structure", "not part of"),
}


def _build(folder: Path, data_root: Path) -> dict:
    course = copy_course(folder / "course")
    src = course / "source" / ASSIGNMENT
    for nb in sorted(src.glob("*.ipynb")):
        graders.set_parameters(nb, profile="tiny", seed=sd.DEFAULT_SEED, data_root=str(data_root))
    graders.release_assignments(course, [ASSIGNMENT])
    name = f"{ASSIGNMENT}.ipynb"

    def folder_for(student: str) -> Path:
        d = course / "submitted" / student / ASSIGNMENT
        d.mkdir(parents=True)
        return d

    for student in HONEST:
        shutil.copy(src / name, folder_for(student) / name)
    for student, (edit, *_rest) in CASES.items():
        nb = nbformat.read(src / name, as_version=4)
        edit(nb)
        nbformat.write(nb, folder_for(student) / name)
    (folder_for("invalid-json") / name).write_text('{"cells": [', encoding="utf-8")
    shutil.copy(src / name, folder_for("other-assignments-file") / "02-some-other-assignment.ipynb")

    res = graders.autograde_class(course, ASSIGNMENT, workers=2, timeout=CELL_TIMEOUT, raise_on_failure=False)
    table = graders.grade_table(course, ASSIGNMENT)
    return {"seconds": res.seconds, "scores": res.scores, "failed": sorted(res.failed),
            "failure_reasons": res.failure_reasons(), "held": res.held,
            "findings": [(f.student, f.kind, f.reason) for f in res.findings],
            "students_in_gradebook": sorted(table["student"].unique())}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, tiny_data_root):
    folder, info = build_once(shared_dir(tmp_path_factory), "hostile-class",
                              lambda f: _build(f, tiny_data_root))
    points = {q.removesuffix("-tests"): p
              for q, p in autograded_cells(folder / "course" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").items()}
    return {"course": folder / "course", "points": points, **info}


def test_honest_submissions_get_full_marks(hostile):
    full = sum(hostile["points"].values())
    assert full > 0
    for student in HONEST:
        assert hostile["scores"][student] == full, student
        assert not [f for f in hostile["findings"] if f[0] == student], "the screen flags the solution"


def test_every_submission_is_in_the_gradebook(hostile):
    everyone = sorted([*HONEST, *CASES, *FILE_CASES])
    assert hostile["students_in_gradebook"] == everyone
    assert sorted(hostile["scores"]) == everyone


@pytest.mark.parametrize("case", list(CASES))
def test_bad_submission_scores_at_most_its_honest_content(hostile, case):
    _edit, honest_questions, kind, words = CASES[case]
    bound = sum(p for q, p in hostile["points"].items() if q in honest_questions)
    assert hostile["scores"][case] <= bound, f"{case} scored {hostile['scores'][case]} > honest {bound}"
    found = [(k, reason) for s, k, reason in hostile["findings"] if s == case]
    if kind is None:
        assert not found, f"{case}: unexpected findings {found}"
        # nothing to flag: the damage stays in the one cell and the rest is graded normally
        assert hostile["scores"][case] == bound, hostile["failure_reasons"].get(case)
    else:
        assert any(k == kind and words in reason for k, reason in found), f"{case}: {found}"
    if kind == "integrity":
        assert case in hostile["held"], "tampering code must not be run"
        assert hostile["scores"][case] == 0


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_unreadable_submission_scores_zero_with_a_reason(hostile, case):
    kind, words = FILE_CASES[case]
    assert hostile["scores"][case] == 0
    assert any(s == case and k == kind and words in reason for s, k, reason in hostile["findings"])


def test_screening_report_lists_each_bad_submission(hostile):
    import pandas as pd

    report = pd.read_csv(hostile["course"] / "reports" / ASSIGNMENT / "screening.csv")
    flagged = {c for c, (_e, _h, kind, _w) in CASES.items() if kind} | set(FILE_CASES)
    assert set(report["student"]) == flagged
    assert report["reason"].str.len().min() > 10


def test_outputs_are_capped_in_the_graded_notebook(hostile):
    graded = hostile["course"] / "autograded" / "huge-output" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert graded.stat().st_size < 1_000_000, "the 30 MB print was kept"
    text = graded.read_text(encoding="utf-8")
    assert "characters removed by the grader" in text


def test_edited_test_cell_runs_the_original(hostile):
    """nbgrader's own integrity check stays on: locked cells are restored before running."""
    course = hostile["course"]
    graded = nbformat.read(course / "autograded" / "edited-test-cell" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                           as_version=4)
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    assert _cell(graded, "q1-tests").source == _cell(source, "q1-tests").source


def test_the_class_finishes_within_its_timeouts(hostile):
    """A bound, not a speed measurement: one runaway cell costs one per-cell timeout, not the class."""
    n = len(HONEST) + len(CASES) + len(FILE_CASES)
    assert hostile["seconds"] < n * 60


def test_held_submission_is_graded_once_cleared(hostile, tmp_path):
    course = shutil.copytree(hostile["course"], tmp_path / "course")
    res = graders.autograde_class(course, ASSIGNMENT, workers=1, students=["fake-data-connection"],
                                  timeout=CELL_TIMEOUT, cleared=["fake-data-connection"], raise_on_failure=False)
    assert not res.held
    # run now: the fake connection breaks the hidden tests of the later questions, so still no more than
    # honest content, but the notebook was executed and graded by nbgrader.
    assert (course / "autograded" / "fake-data-connection" / ASSIGNMENT).is_dir()
    assert res.scores["fake-data-connection"] <= sum(v for q, v in hostile["points"].items() if q != "q1")
    assert res.cleared == ["fake-data-connection"]
    # the clearance is kept for this submission (later runs grade it), and only for it
    held = graders.held_for_review(course, ASSIGNMENT)
    assert "fake-data-connection" not in held and "shadowed-builtin" in held
    assert any("def isinstance" in f.code for f in held["shadowed-builtin"])
    path = course / "submitted" / "fake-data-connection" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("sd.connect = print"))  # a new submission from the same student
    nbformat.write(nb, path)
    assert "fake-data-connection" in graders.held_for_review(course, ASSIGNMENT)


def test_a_manual_grade_entered_while_grading_is_kept(hostile, tmp_path, monkeypatch):
    """Results are applied to a copy while grading; a formgrader save meanwhile must survive the swap."""
    from nbgrader.api import Gradebook

    from graders import _autograde

    course = shutil.copytree(hostile["course"], tmp_path / "course")
    opened = graders.Course.open(course)
    db, course_id = opened.db_path, opened.course_id
    calls = []
    grade_one = _autograde._grade_one

    def grade_then_instructor_saves(job):
        out = grade_one(job)
        calls.append(job["student"])
        if len(calls) == 2:  # after the first result was staged: the instructor grades another student
            with Gradebook(f"sqlite:///{db}", course_id) as gb:
                gb.find_grade("q4-written", ASSIGNMENT, ASSIGNMENT, "honest-b").manual_score = 0.5
                gb.db.commit()
        return out

    monkeypatch.setattr(_autograde, "_grade_one", grade_then_instructor_saves)
    regraded = ["edited-test-cell", "honest-a"]
    res = graders.autograde_class(course, ASSIGNMENT, workers=1, students=regraded, timeout=CELL_TIMEOUT)
    assert calls == regraded
    assert res.scores["honest-a"] == sum(hostile["points"].values())
    assert res.scores["edited-test-cell"] == hostile["scores"]["edited-test-cell"]
    with Gradebook(f"sqlite:///{db}", course_id) as gb:
        assert gb.find_grade("q4-written", ASSIGNMENT, ASSIGNMENT, "honest-b").manual_score == 0.5
