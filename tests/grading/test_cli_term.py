"""A term as an instructor lives it, through ``statelab-grade`` only, as the instructor guide tells it.

A class of three on the platform assignment, with the roster from Canvas: ana hands in the
solution, ben a plausible mistake, eve an answer built with ``eval`` (which the screen holds).
Every step runs the command line in its own process, as an instructor would, and the walk-through
is the one ``book/instructor/nbgrader-term.md`` gives: the test reads the guide's commands and
checks they are these steps, in this order. Manual grading is saved the way the formgrader saves
it (``tests/hub/test_hub.py`` does it in a real browser on a live hub).

What must hold: no traceback and no warning on any step, every decision printed (held, graded,
what waits for a person), no score passed on while a written answer waits, and the exported
scores are the gradebook's, with the Canvas ids of the roster.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import graders
import synthetic_data as sd
from graders import _cli as graders_cli
from grading_support import COURSE, REPO, autograded_cells, build_once, copy_course, replace_cell, shared_dir

pytestmark = [pytest.mark.grading, pytest.mark.slow, pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")]

A = "01-orientation"
GUIDE = REPO / "book" / "instructor" / "nbgrader-term.md"
MANUAL = 2.0  # points the instructor gives each written answer
CANVAS_IDS = {"ana": "101", "ben": "102", "eve": "103"}
CANVAS = ("Student,ID,SIS User ID,SIS Login ID,Section,01-orientation (4242)\n"
          "    Points Possible,,,,,10\n"
          '"Alvarez, Ana",101,S101,ana,Section 1,\n'
          '"Baker, Ben",102,S102,ben,Section 1,\n'
          '"Evans, Eve",103,S103,eve,Section 1,\n'
          '"Student, Test",999,,,Section 1,\n')
#: (step name, statelab-grade arguments): the walk-through of the guide, in order.
STEPS = [
    ("roster", ["students", "import", "canvas-export.csv"]),
    ("release", ["release", A]),
    ("collect", ["collect", A, "--from-dir", "downloads"]),
    ("autograde", ["autograde", A]),
    ("review", ["review", A]),
    ("clear", ["autograde", A, "--clear", "eve"]),
    ("export-too-early", ["export", "grades.csv"]),
    # ... written answers graded in the formgrader ...
    ("feedback", ["feedback", A]),
    ("export", ["export", "grades.csv", "--roster", "canvas-export.csv"]),
    ("report", ["report", A]),
]
MANUAL_AFTER = "export-too-early"


def _mistake() -> dict:
    with open(COURSE / "checks" / f"{A}.toml", "rb") as fh:
        return tomllib.load(fh)["mistake"][0]


def _grade_written_answers(course: Path) -> None:
    """What the formgrader does when an instructor types a score: manual score set, no longer waiting."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "statelab") as gb:
        for sub in gb.find_assignment(A).submissions:
            for nb in sub.notebooks:
                for g in nb.grades:
                    if g.needs_manual_grade:
                        g.manual_score, g.needs_manual_grade = MANUAL, False
            for nb in sub.notebooks:
                for c in nb.comments:
                    if c.name == "q4-written":
                        c.manual_comment = "Clear, and it names the grain."
        gb.db.commit()


def _walk(folder: Path, data_root: Path) -> dict:
    course = copy_course(folder / "course")
    src = course / "source" / A / f"{A}.ipynb"
    graders.set_parameters(src, profile="tiny", seed=sd.DEFAULT_SEED, data_root=str(data_root))
    work = folder / "desk"  # where the instructor runs the commands
    (work / "downloads").mkdir(parents=True)
    (work / "canvas-export.csv").write_text(CANVAS, encoding="utf-8")
    shutil.copy(src, work / "downloads" / "ana.ipynb")
    m = _mistake()
    replace_cell(src, m["answer_cell"], m["source"], work / "downloads" / "ben.ipynb")
    replace_cell(src, "q1-answer", "n_employers = eval('4 + 3')", work / "downloads" / "eve.ipynb")
    env = {**os.environ, "STATELAB_COURSE_DIR": str(course), "STATELAB_DATA_DIR": str(data_root)}
    env.pop("PYTHONWARNINGS", None)
    done = {}
    for name, args in STEPS:
        run = subprocess.run([sys.executable, "-m", "graders._cli", *args], cwd=work, env=env,
                             capture_output=True, text=True, timeout=1800)
        done[name] = {"code": run.returncode, "out": run.stdout, "err": run.stderr}
        if name == MANUAL_AFTER:
            _grade_written_answers(course)
    return {"steps": done, "mistake_loses": m["loses"]}


@pytest.fixture(scope="module")
def term(tmp_path_factory, tiny_data_root):
    folder, info = build_once(shared_dir(tmp_path_factory), "cli-term", lambda f: _walk(f, tiny_data_root))
    return {"course": folder / "course", "desk": folder / "desk", **info}


def _step(term, name):
    return term["steps"][name]


def test_no_step_prints_a_traceback_or_a_warning(term):
    for name, step in term["steps"].items():
        text = step["out"] + step["err"]
        assert "Traceback" not in text, (name, text[-2000:])
        assert not re.search(r"warn|SAWarning|without encryption|CRITICAL", text, re.I), (name, step["err"][-2000:])
        if step["code"] in (0, graders_cli.EXIT_HELD):  # done, or done with submissions held: a report
            assert step["err"] == "", (name, step["err"])
        else:  # a refusal is one line
            assert len(step["err"].strip().splitlines()) == 1 and step["err"].startswith("error: "), name


def test_the_roster_comes_from_canvas(term):
    step = _step(term, "roster")
    assert step["code"] == 0 and "3 added" in step["out"] and "Student, Test" in step["out"]
    people = {p["id"]: p["lms_user_id"] for p in graders.list_students(term["course"])}
    assert people == CANVAS_IDS


def test_autograde_shows_every_decision(term):
    step = _step(term, "autograde")
    assert step["code"] == 8, step  # documented: submissions held for review
    rows = {ln.split()[0]: ln for ln in step["out"].splitlines() if ln.split() and ln.split()[0] in CANVAS_IDS}
    assert sorted(rows) == sorted(CANVAS_IDS)
    assert "HELD for review" in rows["eve"] and "eval()" in rows["eve"]
    assert "graded" in rows["ana"] and "1 to grade by hand" in rows["ana"]
    assert "Needs you:" in step["out"] and f"statelab-grade review {A}" in step["out"]
    assert "q4-written (ana, ben)" in step["out"]


def test_review_shows_the_held_code_and_clearing_grades_it(term):
    review = _step(term, "review")
    assert review["code"] == 0 and "eve" in review["out"] and "n_employers = eval('4 + 3')" in review["out"]
    clear = _step(term, "clear")
    assert clear["code"] == 0, clear
    assert "cleared and graded" in next(ln for ln in clear["out"].splitlines() if ln.startswith("eve"))
    assert (term["course"] / "autograded" / "eve" / A).is_dir()


def test_no_score_is_passed_on_while_written_answers_wait(term):
    step = _step(term, "export-too-early")
    assert step["code"] == 7 and "q4-written" in step["err"]


def test_feedback_is_offline_semantic_and_final(term):
    step = _step(term, "feedback")
    assert step["code"] == 0 and "3 feedback files" in step["out"]
    hidden = graders.hidden_test_lines(term["course"] / "source" / A / f"{A}.ipynb")
    for student in CANVAS_IDS:
        page = term["course"] / "feedback" / student / A / f"{A}.html"
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "loads something from the network"
        assert "@import" not in text and "<script" not in text
        assert '<html lang="en">' in text and text.count("<body") == 1 and "<h1>" in text
        assert '<th scope="col">' in text and '<th scope="row">' in text
        assert "not graded yet" not in text and "Clear, and it names the grain." in text
        assert graders.find_leaks(page, hidden) == []


def test_exported_scores_are_the_gradebooks_with_canvas_ids(term):
    step = _step(term, "export")
    assert step["code"] == 0, step
    rows = list(csv.reader((term["desk"] / "grades.csv").open(encoding="utf-8")))
    assert rows[0][-1] == f"{A} (4242)"
    body = {r[3]: r for r in rows[2:]}
    assert {s: r[1] for s, r in body.items()} == CANVAS_IDS
    table = graders.grade_table(term["course"], A)
    expected = table.groupby("student")["score"].sum().to_dict()
    assert {s: float(r[5]) for s, r in body.items()} == expected
    points = autograded_cells(term["course"] / "source" / A / f"{A}.ipynb")
    assert expected["ana"] == sum(points.values()) + MANUAL  # the solution, and the written answer
    lost = sum(points[q] for q in term["mistake_loses"])
    assert expected["ben"] == sum(points.values()) - lost + MANUAL


def test_report_is_written(term):
    step = _step(term, "report")
    assert step["code"] == 0
    assert (term["course"] / "reports" / f"{A}-questions.png").read_bytes()[:4] == b"\x89PNG"


def test_the_guide_walks_through_exactly_these_steps():
    """Every ``statelab-grade`` command in the guide's walk-through, in order, is one of these steps."""
    text = GUIDE.read_text(encoding="utf-8")
    walk = text.split("<!-- walk-through -->")[1].split("<!-- end of walk-through -->")[0]
    commands = [ln.split("#")[0].split() for ln in walk.splitlines() if ln.startswith("statelab-grade ")]
    assert [c[1:] for c in commands] == [args for _name, args in STEPS]
