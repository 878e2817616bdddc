"""End-to-end nbgrader checks for every assignment in assignments/source/.

Each assignment is copied to a temporary course directory, its parameters cell
is pointed at the ``tiny`` dataset, and it is released; a small class is then
built from it (the solution, the blank release, one submission per plausible
mistake in assignments/checks/<assignment>.toml, padded to six) and autograded
once in parallel and once with plain sequential nbgrader.
"""

from __future__ import annotations

import csv
import re
import shutil
import struct
from pathlib import Path

import nbformat
import pytest

import graders
import synthetic_data as sd
from grading_support import (
    assignments,
    autograded_cells,
    copy_course,
    execute,
    build_once,
    html_text,
    answer_names,
    expected_losses,
    fingerprints,
    mistakes,
    nbgrader_meta,
    probe_answers,
    replace_cell,
    shared_dir,
    split_regions,
    with_probe,
)

pytestmark = [pytest.mark.grading, pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")]

ASSIGNMENTS = assignments()
#: The assignment that also exercises the platform (sequential nbgrader comparison, feedback through the
#: formgrader API, Canvas export, report, timeouts, the exchange). Every assignment gets the grading checks.
PLATFORM_ASSIGNMENT = "01-orientation"
CLASS_SIZE = 6  # the platform assignment's class is padded to this many submissions
ON_PLATFORM = pytest.mark.parametrize("released", [PLATFORM_ASSIGNMENT], indirect=True)
_GRADING_OUTPUT = shutil.ignore_patterns("submitted", "autograded", "feedback")


def _scores(course: Path, assignment: str) -> dict[str, dict[str, tuple]]:
    """student -> question -> (auto_score or None, manual_score or None, needs_manual_grade)."""
    df = graders.grade_table(course, assignment).astype(object)
    df = df.where(df.notna(), None)
    return {s: {r.question: (r.auto_score, r.manual_score, r.needs_manual_grade) for r in g.itertuples()}
            for s, g in df.groupby("student")}


def _auto(scores: dict[str, tuple], questions) -> dict[str, float | None]:
    return {q: scores[q][0] for q in questions}


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def released(request, tmp_path_factory, tiny_data_root):
    """(assignment, course dir) with the assignment generated into release/ on the tiny data.

    Built once per session (shared by xdist workers); read-only: copy it to change anything.
    """
    assignment = request.param

    def build(folder: Path) -> dict:
        course = copy_course(folder / "course")
        for nb in sorted((course / "source" / assignment).glob("*.ipynb")):
            graders.set_parameters(nb, profile="tiny", seed=sd.DEFAULT_SEED, data_root=str(tiny_data_root))
        assert graders.release_assignments(course, [assignment]) == [assignment]
        return {}

    folder, _ = build_once(shared_dir(tmp_path_factory), f"released-{assignment}", build)
    return assignment, folder / "course"


@pytest.fixture(scope="module")
def graded(released, tmp_path_factory):
    """Autograde a class of six: in parallel in one copy, sequentially in another.

    Built once per session (shared by xdist workers); read-only: copy it to change anything.
    """
    assignment, base = released

    def build(folder: Path) -> dict:
        course = shutil.copytree(base, folder / "course")
        src_dir, rel_dir = course / "source" / assignment, course / "release" / assignment
        notebooks = sorted(p.name for p in src_dir.glob("*.ipynb"))
        downloads = folder / "downloads"
        downloads.mkdir()
        students: dict[str, str] = {}

        def submit(student: str, files: dict[str, Path]) -> None:
            (downloads / student).mkdir()
            for name in notebooks:  # unchanged notebooks are the solution
                shutil.copy(files.get(name, src_dir / name), downloads / student / name)

        # The solution and the mistakes record their answers' fingerprints (see probe_answers).
        submit("solution", _probed_solution(src_dir, assignment, folder))
        students["solution"] = "solution"
        submit("blank", {n: rel_dir / n for n in notebooks})
        students["blank"] = "blank"
        for i, m in enumerate(mistakes(assignment)):
            name = f"mistake-{i}"
            submit(name, {f"{m['notebook']}.ipynb": _mistake_notebook(src_dir, m, folder / f"{name}.ipynb")})
            students[name] = "mistake"
        platform = assignment == PLATFORM_ASSIGNMENT
        while platform and len(students) < CLASS_SIZE:
            name = f"solution-{len(students)}"
            submit(name, {})
            students[name] = "solution"

        collected = graders.collect_submissions(course, assignment, from_dir=downloads)
        assert sorted(collected) == sorted(students)
        if platform:
            sequential_course = shutil.copytree(course, folder / "sequential")
        par = graders.autograde_class(course, assignment, workers=2, progress=False)
        info = {"students": students,
                "parallel": {"scores": par.scores, "failed": par.failed, "workers": par.workers,
                             "max_score": par.max_score, "seconds": par.seconds},
                "findings": [f"{f.student}: {f.cell} {f.reason}" for f in par.findings]}
        if platform:
            seq = graders.autograde_sequential(sequential_course, assignment, progress=False)
            info["sequential"] = {"scores": seq.scores, "failed": seq.failed, "seconds": seq.seconds}
        return info

    folder, info = build_once(shared_dir(tmp_path_factory), f"graded-{assignment}", build)
    course = folder / "course"
    return {"assignment": assignment, "course": course, "sequential_course": folder / "sequential",
            "scores": _scores(course, assignment), **info}


def _probed_solution(src_dir: Path, assignment: str, folder: Path) -> dict[str, Path]:
    """The reference notebooks with a fingerprint probe after every answer cell a mistake replaces."""
    files = {}
    for nb in sorted({m["notebook"] for m in mistakes(assignment)}):
        cells = [m["answer_cell"] for m in mistakes(assignment) if m["notebook"] == nb]
        (folder / "probed").mkdir(exist_ok=True)
        files[f"{nb}.ipynb"] = probe_answers(src_dir / f"{nb}.ipynb", cells, folder / "probed" / f"{nb}.ipynb")
    return files


def _mistake_notebook(src_dir: Path, m: dict, out: Path) -> Path:
    source = src_dir / f"{m['notebook']}.ipynb"
    return replace_cell(source, m["answer_cell"], with_probe(m["source"], answer_names(source, m["answer_cell"])), out)


def _check_mistakes(course: Path, assignment: str, scores: dict, students: dict[str, dict]) -> None:
    """Each mistake loses exactly its questions, except where on this data its answer is the right one.

    ``students`` maps a student to its mistake. Every test cell a mistake is listed to lose must be
    lost by at least one mistake here, so that each hidden test is shown to catch a wrong answer.
    """
    pts = _points(course, assignment)
    src = course / "source" / assignment
    ref_fp = {nb.stem: fingerprints(course / "autograded" / "solution" / assignment / nb.name)
              for nb in src.glob("*.ipynb")}
    wrong, caught, coincident = [], set(), []
    for student, m in students.items():
        fp = fingerprints(course / "autograded" / student / assignment / f"{m['notebook']}.ipynb")
        names = answer_names(src / f"{m['notebook']}.ipynb", m["answer_cell"])
        for who, found in (("solution", ref_fp[m["notebook"]]), (student, fp)):
            assert set(names) <= set(found.get(m["answer_cell"], {})), f"{who}: no answer fingerprints in {m['answer_cell']}"
        lose, same = expected_losses(m, src / f"{m['notebook']}.ipynb", ref_fp[m["notebook"]], fp)
        expected = {q: (0.0 if q in lose else p) for q, p in pts.items()}
        got = _auto(scores[student], pts)
        if got != expected:
            wrong.append(f"{student} ({m['why']}): {got} != {expected}")
        caught |= lose
        coincident += [f"{m['why']} ({q})" for q in sorted(same)]
    assert not wrong, "\n".join(wrong)
    listed = {q for m in students.values() for q in m["loses"]}
    assert listed <= caught, (
        f"on this dataset no scripted mistake changes the answer checked by {sorted(listed - caught)}, so no test "
        f"shows that those hidden tests catch a wrong answer (answers equal to the right one: {coincident})")


def _points(course: Path, assignment: str) -> dict[str, float]:
    pts: dict[str, float] = {}
    for nb in sorted((course / "source" / assignment).glob("*.ipynb")):
        pts.update(autograded_cells(nb))
    return pts


# --- the release ------------------------------------------------------------------


def test_release_has_no_solutions_or_hidden_tests(released):
    assignment, course = released
    for src in sorted((course / "source" / assignment).glob("*.ipynb")):
        rel = course / "release" / assignment / src.name
        assert rel.exists(), f"{src.name} was not released"
        secret: list[str] = []
        public: list[str] = []  # text learners are meant to see
        for cell in nbformat.read(src, as_version=4).cells:
            meta = nbgrader_meta(cell)
            text = cell.source
            if meta.get("solution") and "BEGIN SOLUTION" not in text:
                secret += [ln.strip() for ln in text.splitlines()]  # a whole-cell (markdown) answer
                continue
            text, sol = split_regions(text, "BEGIN SOLUTION", "END SOLUTION")
            text, hidden = split_regions(text, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
            secret += sol + hidden
            public.append(text)
        public_text = "\n".join(public)
        secret = [s for s in secret if len(s) >= 8 and s not in public_text]
        assert secret, f"{src.name}: found no solution or hidden-test text to check"
        released_text = "\n".join(c.source for c in nbformat.read(rel, as_version=4).cells)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in released_text
        leaked = [s for s in secret if s in released_text]
        assert not leaked, f"{rel.name} shows solution or hidden-test text: {leaked}"
        assert not any(c.get("outputs") for c in nbformat.read(rel, as_version=4).cells)


def test_every_autograded_cell_has_hidden_tests_and_a_mistake(released):
    """Guards the QA file: each autograded question can be lost, and hidden tests exist."""
    assignment, course = released
    covered = {cell for m in mistakes(assignment) for cell in m["loses"]}
    for nb in sorted((course / "source" / assignment).glob("*.ipynb")):
        for cell in nbformat.read(nb, as_version=4).cells:
            meta = nbgrader_meta(cell)
            if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
                assert "BEGIN HIDDEN TESTS" in cell.source, f"{meta['grade_id']} has no hidden tests"
                assert meta["grade_id"] in covered, (
                    f"no [[mistake]] in assignments/checks/{assignment}.toml loses {meta['grade_id']}")


def test_mistakes_pass_the_visible_tests(released, tmp_path):
    """With hidden tests removed, the plausible mistakes pass every visible test.

    Together with test_mistake_loses_exactly_its_questions this proves the hidden
    tests run at autograde time and catch what the visible ones cannot.
    """
    assignment, course = released
    chosen = [m for m in mistakes(assignment) if m.get("passes_visible_tests")]
    if not chosen:
        pytest.skip("no mistake declares passes_visible_tests")
    for nbname in sorted({m["notebook"] for m in chosen}):
        nb = nbformat.read(course / "source" / assignment / f"{nbname}.ipynb", as_version=4)
        for cell in nb.cells:
            cell.source = split_regions(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")[0]
            meta = nbgrader_meta(cell)
            for m in chosen:
                if m["notebook"] == nbname and meta.get("grade_id") == m["answer_cell"]:
                    cell.source = m["source"].strip("\n")
        execute(nb, tmp_path)
        errors = [nbgrader_meta(c).get("grade_id") for c in nb.cells
                  if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
        assert not errors, f"visible tests fail for the mistakes in cells {errors}"


# --- autograding ------------------------------------------------------------------


def test_solution_scores_full_marks(graded):
    pts = _points(graded["course"], graded["assignment"])
    for student, kind in graded["students"].items():
        if kind == "solution":
            got = _auto(graded["scores"][student], pts)
            assert got == pts, f"{student}: {got} != full marks {pts}"


def test_blank_release_scores_zero(graded):
    pts = _points(graded["course"], graded["assignment"])
    got = _auto(graded["scores"]["blank"], pts)
    assert got == {q: 0.0 for q in pts}
    assert graded["parallel"]["scores"]["blank"] == 0.0  # manual answers left blank score 0 too


def test_screen_finds_nothing_in_honest_work(graded):
    """The solution, the blank release and every plausible mistake pass the integrity screen."""
    assert graded["findings"] == []


def test_mistakes_lose_exactly_their_questions(graded):
    ms = mistakes(graded["assignment"])
    assert ms, f"assignments/checks/{graded['assignment']}.toml lists no mistakes"
    _check_mistakes(graded["course"], graded["assignment"], graded["scores"],
                    {f"mistake-{i}": m for i, m in enumerate(ms)})


@ON_PLATFORM
def test_parallel_autograde_matches_sequential_nbgrader(graded):
    assert not graded["parallel"]["failed"] and not graded["sequential"]["failed"]
    assert graded["parallel"]["workers"] == 2
    assert graded["parallel"]["scores"] == graded["sequential"]["scores"]
    assert _scores(graded["sequential_course"], graded["assignment"]) == graded["scores"]
    for student in graded["students"]:
        assert (graded["course"] / "autograded" / student / graded["assignment"]).is_dir()


# --- after autograding ------------------------------------------------------------


def test_feedback_does_not_show_hidden_tests(graded, tmp_path):
    assignment = graded["assignment"]
    course = shutil.copytree(graded["course"], tmp_path / "course")
    # written answers wait for a manual grade: feedback is refused unless each page says so ("mark")
    with pytest.raises(graders.UngradedWorkError):
        graders.generate_feedback(course, assignment, progress=False)
    files = graders.generate_feedback(course, assignment, progress=False, ungraded="mark")
    assert len(files) == len(graded["students"]) * len(list((course / "source" / assignment).glob("*.ipynb")))
    hidden, visible, shown = [], [], []
    for nb in sorted((course / "source" / assignment).glob("*.ipynb")):
        for cell in nbformat.read(nb, as_version=4).cells:
            kept, region = split_regions(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
            hidden += [" ".join(s.split()) for s in region if len(s) >= 8]
            shown += [" ".join(s.split()) for s in kept.splitlines()]
            if region:
                visible += [" ".join(s.split()) for s in kept.splitlines() if len(s.strip()) >= 8]
    # a hidden line that is also written outside the hidden tests (such as "assert all(" opening a call
    # split over lines) reveals nothing; every other hidden line must stay out of the feedback
    hidden = [h for h in hidden if h not in shown]
    assert hidden, "sanity: the hidden tests have lines of their own to look for"
    def check(paths):
        for f in paths:
            text = html_text(f)
            assert "HIDDEN TESTS" not in text
            assert not [h for h in hidden if h in text], f"{f} shows hidden tests"
            assert any(v in text for v in visible), "sanity: visible tests should be shown"

    check(files)
    # the formgrader's "Generate feedback" path: plain NbGraderAPI with the course config
    for f in files:
        f.unlink()
    if assignment != PLATFORM_ASSIGNMENT:
        return
    result = graders.make_api(course).generate_feedback(assignment)
    assert result["success"], result.get("log")
    assert all(f.exists() for f in files)
    check(files)


@ON_PLATFORM
def test_canvas_csv(graded, tmp_path):
    canvas_ids = {graded["assignment"]: 4242}
    with pytest.raises(graders.UngradedWorkError):  # written answers not graded yet: no silent zeros
        graders.export_canvas_csv(graded["course"], tmp_path / "refused.csv", canvas_ids=canvas_ids)
    assert not (tmp_path / "refused.csv").exists()
    out = graders.export_canvas_csv(graded["course"], tmp_path / "canvas.csv", canvas_ids=canvas_ids, ungraded="zero")
    rows = list(csv.reader(out.open(newline="", encoding="utf-8")))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{graded['assignment']} (4242)"]
    assert rows[1][0].strip() == "Points Possible"
    assert float(rows[1][5]) == graded["parallel"]["max_score"]
    body = rows[2:]
    assert sorted(r[3] for r in body) == sorted(graded["students"])
    assert {r[3]: float(r[5]) for r in body} == graded["parallel"]["scores"]


@ON_PLATFORM
def test_report_writes_table_and_png(graded, tmp_path):
    csv_path, png_path, html_path = graders.report(graded["course"], graded["assignment"], tmp_path)
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png_path.read_bytes()[16:24])
    assert width > 100 and height > 100
    rows = list(csv.DictReader(csv_path.open()))
    graded_cells = set(graded["scores"]["solution"])
    assert {r["question"] for r in rows} == graded_cells
    assert all(int(r["n_submissions"]) == len(graded["students"]) for r in rows)
    # the page holds the CSV's table, number for number, in a captioned table with header cells
    page = html_path.read_text(encoding="utf-8")
    assert '<html lang="en">' in page and "<caption" in page
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (csv_path, png_path, html_path))
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    cells = [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S) for tr in body.split("</tr>")[:-1]]
    assert [c[:7] for c in cells] == [list(r.values()) for r in rows]
    assert all('<th scope="row">' in tr for tr in body.split("</tr>")[:-1])


@ON_PLATFORM
def test_per_cell_timeout_stops_a_runaway_cell(released, tmp_path):
    """A cell that never finishes is interrupted after the per-cell timeout; the rest is graded."""
    assignment, course = released
    course = shutil.copytree(course, tmp_path / "course", ignore=_GRADING_OUTPUT)
    src = course / "source" / assignment
    nb_path = sorted(src.glob("*.ipynb"))[0]
    nb = nbformat.read(nb_path, as_version=4)
    answer = next(c for c in nb.cells if nbgrader_meta(c).get("solution") and c.cell_type == "code")
    folder = course / "submitted" / "sleeper" / assignment
    folder.mkdir(parents=True)
    for other in sorted(src.glob("*.ipynb")):
        shutil.copy(other, folder / other.name)
    replace_cell(nb_path, nbgrader_meta(answer)["grade_id"], "import time\ntime.sleep(600)", folder / nb_path.name)
    res = graders.autograde_class(course, assignment, workers=1, students=["sleeper"], timeout=3, progress=False)
    assert res.seconds < 120
    graded_nb = nbformat.read(course / "autograded" / "sleeper" / assignment / nb_path.name, as_version=4)
    cell = next(c for c in graded_nb.cells if nbgrader_meta(c).get("grade_id") == nbgrader_meta(answer)["grade_id"])
    assert any(o.get("output_type") == "error" for o in cell.outputs)
    pts = autograded_cells(nb_path)
    got = _auto(_scores(course, assignment)["sleeper"], pts)
    assert 0 < sum(v or 0 for v in got.values()) < sum(pts.values())


@ON_PLATFORM
def test_exchange_release_fetch_submit_collect(released, tmp_path, monkeypatch):
    """Round trip through an nbgrader exchange with path_includes_course (student side: nbgrader CLI)."""
    import getpass
    import subprocess
    import sys

    assignment, course = released
    course = shutil.copytree(course, tmp_path / "course", ignore=_GRADING_OUTPUT)
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    monkeypatch.setenv("STATELAB_NBGRADER_EXCHANGE", str(exchange))
    graders.release_assignments(course, [assignment], exchange=True)
    outbound = exchange / "statelab" / "outbound" / assignment
    notebooks = sorted(p.name for p in (course / "release" / assignment).glob("*.ipynb"))
    assert sorted(p.name for p in outbound.glob("*.ipynb")) == notebooks

    home = tmp_path / "student"
    home.mkdir()
    flags = ["--course", "statelab", f"--Exchange.root={exchange}", "--Exchange.path_includes_course=True"]
    for step in ("fetch_assignment", "submit"):
        subprocess.run([sys.executable, "-m", "nbgrader", step, assignment, *flags], cwd=home, check=True,
                       capture_output=True)
    graders.collect_submissions(course, assignment, exchange=True)
    submitted = course / "submitted" / getpass.getuser() / assignment  # nbgrader submits as the OS user
    assert sorted(p.name for p in submitted.glob("*.ipynb")) == notebooks
    assert (submitted / "timestamp.txt").exists()


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_grades_correctly_on_another_seed(assignment, tmp_path, tmp_path_factory, tiny_data_root):
    """Hidden tests compute their expectations from the data, so a new seed needs no edits."""
    seed = sd.DEFAULT_SEED + 1
    data, _ = build_once(shared_dir(tmp_path_factory), "other-seed-data",
                         lambda folder: {"path": str(sd.ensure_dataset("tiny", seed=seed, data_root=folder))})
    course = copy_course(tmp_path / "course")
    src = course / "source" / assignment
    for nb in sorted(src.glob("*.ipynb")):
        graders.set_parameters(nb, profile="tiny", seed=seed, data_root=str(data))
    graders.release_assignments(course, [assignment])
    kinds = {"solution": None} | {f"mistake-{i}": m for i, m in enumerate(mistakes(assignment))}
    probed = _probed_solution(src, assignment, tmp_path)
    for student, m in kinds.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        for nb in sorted(src.glob("*.ipynb")):
            if m is not None and nb.stem == m["notebook"]:
                _mistake_notebook(src, m, folder / nb.name)
            else:
                shutil.copy(probed.get(nb.name, nb), folder / nb.name)
    graders.autograde_class(course, assignment, workers=2, progress=False)
    scores = _scores(course, assignment)
    pts = _points(course, assignment)
    assert _auto(scores["solution"], pts) == pts
    _check_mistakes(course, assignment, scores, {s: m for s, m in kinds.items() if m is not None})
