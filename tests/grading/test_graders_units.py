"""Fast checks of the graders package that need no kernel."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import nbformat
import pytest

import graders
from graders import _cli
from graders._atomic import atomic_path, keep_previous, replace_dir
from grading_support import COURSE, copy_course

pytestmark = [pytest.mark.grading, pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")]


def test_public_api_is_explicit():
    assert sorted(graders.__all__) == sorted(set(graders.__all__))
    for name in graders.__all__:
        assert getattr(graders, name).__doc__, f"{name} has no docstring"


def test_errors_inherit_matching_builtins():
    assert issubclass(graders.CourseDirectoryError, FileNotFoundError)
    assert issubclass(graders.CoursePermissionError, PermissionError)
    assert issubclass(graders.GradebookLockedError, TimeoutError)
    assert issubclass(graders.AssignmentNotFoundError, LookupError)
    assert issubclass(graders.StudentNotFoundError, LookupError)
    assert issubclass(graders.SubmissionError, ValueError)
    assert issubclass(graders.RosterError, ValueError)
    assert issubclass(graders.UngradedWorkError, ValueError)
    assert issubclass(graders.NbgraderStepError, RuntimeError)
    for cls in (graders.CourseDirectoryError, graders.CoursePermissionError, graders.GradebookLockedError,
                graders.AssignmentNotFoundError, graders.StudentNotFoundError, graders.SubmissionError,
                graders.RosterError, graders.UngradedWorkError, graders.NbgraderStepError,
                graders.FeedbackLeakError):
        assert issubclass(cls, graders.GradingError)


def test_every_exit_code_is_documented():
    """The CLI's module docstring lists each status its EXIT_CODES can return."""
    codes = {code for _cls, code in _cli.EXIT_CODES} | {_cli.EXIT_HELD, 0, 2, 130}
    documented = {int(line.strip()) for line in _cli.__doc__.splitlines() if line.strip().isdigit()}
    assert codes == documented


def test_course_config():
    cfg = graders.load_config(COURSE)
    assert cfg.CourseDirectory.course_id == "statelab"
    assert Path(cfg.CourseDirectory.root) == COURSE
    assert cfg.Exchange.path_includes_course is True
    from nbgrader.preprocessors import Execute

    # the per-cell timeout set on nbconvert's ExecutePreprocessor reaches nbgrader's Execute
    assert Execute(config=cfg).timeout == cfg.ExecutePreprocessor.timeout
    over = graders.load_config(COURSE, {"ExecutePreprocessor": {"timeout": 7}})
    assert Execute(config=over).timeout == 7


def test_course_root_follows_a_copy(tmp_path):
    course = copy_course(tmp_path / "c")
    assert Path(graders.load_config(course).CourseDirectory.root) == course
    api = graders.make_api(course)
    assert api.coursedir.db_url == f"sqlite:///{course / 'gradebook.db'}"
    assert isinstance(api.coursedir, graders.Course)


def test_course_is_nbgraders_course_directory_with_the_courses_conventions(tmp_path):
    """Folders come from nbgrader's format_path, and the course's conventions are configurable traits."""
    from nbgrader.coursedir import CourseDirectory

    course_dir = copy_course(tmp_path / "c")
    with open(course_dir / "nbgrader_config.py", "a") as fh:
        fh.write('\nc.CourseDirectory.submitted_directory = "handed-in"\n'
                 'c.Course.protected_modules = {"sd", "con", "np", "pd", "helpers"}\n'
                 'c.Course.reports_directory = "instructor-reports"\n')
    course = graders.Course.open(course_dir)
    assert isinstance(course, CourseDirectory)
    folder = course.folder("submitted", "a1", "ana")
    assert folder == course_dir / "handed-in" / "ana" / "a1"
    assert str(folder) == CourseDirectory(config=course.config).format_path("handed-in", "ana", "a1")
    folder.mkdir(parents=True)
    (course_dir / "handed-in" / "ben").mkdir()  # a student folder without this assignment
    assert course.students("submitted", "a1") == ["ana"]
    assert "helpers" in course.protected_modules
    assert course.reports("a1") == course_dir / "instructor-reports" / "a1"
    assert graders.Course.open(course) is course  # opened once, passed along
    assert graders.Course.open(course, {"ExecutePreprocessor": {"timeout": 9}}).config.ExecutePreprocessor.timeout == 9


def test_the_api_caps_outputs_and_quiets_kernels_whatever_the_course_file_says(tmp_path):
    """CapOutputs is part of autograding through the Course, not only through nbgrader_config.py."""
    course_dir = copy_course(tmp_path / "c")
    text = (course_dir / "nbgrader_config.py").read_text()
    (course_dir / "nbgrader_config.py").write_text(text.replace('"graders.CapOutputs",', ""))
    course = graders.Course.open(course_dir)
    assert "graders.CapOutputs" not in course.config.Autograde.autograde_preprocessors
    steps = [str(s) for s in course.api().config.Autograde.autograde_preprocessors]
    at = next(i for i, s in enumerate(steps) if s.endswith("LimitOutput"))
    assert steps[at + 1] == "graders.CapOutputs" and steps.count("graders.CapOutputs") == 1
    assert course.api().config.Execute.extra_arguments == ["--IPKernelApp.log_level=ERROR"]
    off = course.with_overrides({"Course": {"cap_outputs": False}})
    assert "graders.CapOutputs" not in [str(s) for s in off.api().config.Autograde.autograde_preprocessors]
    # a course file that leaves nbgrader's steps alone gets them, with CapOutputs after LimitOutput
    (course_dir / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'x'\n")
    steps = graders.Course.open(course_dir).api().config.Autograde.autograde_preprocessors
    names = [s if isinstance(s, str) else s.__name__ for s in steps]
    assert names[names.index("LimitOutput") + 1] == "graders.CapOutputs"


def test_source_notebooks_follow_house_style():
    for nb_path in sorted((COURSE / "source").glob("*/*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        first = nb.cells[0]
        assert first.cell_type == "code" and "hide-cell" in first.metadata.get("tags", [])
        assert all(ln.startswith(("import ", "from ")) or not ln.strip() for ln in first.source.splitlines())
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1
        for line in ('profile = "default"', "seed = 20260101", "data_root = None"):
            assert line in params[0].source
        assert params[0].metadata["nbgrader"]["locked"], "parameters must be read-only (restored at grading)"
        for c in nb.cells:
            assert not c.get("outputs") and c.get("execution_count") is None, f"{nb_path.name} has outputs"
            if c.cell_type == "code":
                assert not any(ln.lstrip().startswith(("def ", "class ")) for ln in c.source.splitlines())
        points = [c.metadata["nbgrader"]["points"] for c in nb.cells
                  if c.metadata.get("nbgrader", {}).get("grade")]
        assert points and all(p > 0 for p in points)
        assert any(c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade") for c in nb.cells), \
            "each assignment has a manually graded written answer"


def test_set_parameters(tmp_path):
    nb_path = next((COURSE / "source").glob("*/*.ipynb"))
    copy = tmp_path / nb_path.name
    copy.write_bytes(nb_path.read_bytes())
    graders.set_parameters(copy, profile="tiny", data_root="/x", extra=3)
    cell = [c for c in nbformat.read(copy, as_version=4).cells if "parameters" in c.metadata.get("tags", [])][0]
    assert "profile = 'tiny'" in cell.source and "data_root = '/x'" in cell.source
    assert "seed = 20260101" in cell.source and cell.source.endswith("extra = 3")


def test_atomic_path_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "grades.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]


def test_replace_dir_swaps_a_folder_in_and_keeps_the_old_one_when_the_swap_fails(tmp_path, monkeypatch):
    import os

    target = tmp_path / "course" / "submitted" / "ana"
    target.mkdir(parents=True)
    (target / "old.ipynb").write_text("old")
    new = tmp_path / "download"
    new.mkdir()
    (new / "new.ipynb").write_text("new")
    replace_dir(new, target)
    assert [p.name for p in target.iterdir()] == ["new.ipynb"] and not new.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["ana"]  # nothing parked or staged is left

    again = tmp_path / "again"
    again.mkdir()
    (again / "newer.ipynb").write_text("newer")
    real_replace = os.replace

    def failing_second_rename(src, dst):  # the new folder cannot be renamed in; putting the old one back can
        if Path(dst) == target and ".old-" not in Path(src).name:
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_second_rename)
    with pytest.raises(OSError, match="disk full"):
        replace_dir(again, target)
    monkeypatch.undo()
    assert [p.name for p in target.iterdir()] == ["new.ipynb"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["ana"]


def test_keep_previous_puts_the_folder_back_when_the_rebuild_fails(tmp_path):
    release = tmp_path / "release" / "01-orientation"
    release.mkdir(parents=True)
    (release / "01.ipynb").write_text("learners' copy")
    with pytest.raises(RuntimeError):
        with keep_previous(release) as rel:
            assert not rel.exists()
            rel.mkdir()
            (rel / "half.ipynb").write_text("half")
            raise RuntimeError("gradebook locked")
    assert [p.name for p in release.iterdir()] == ["01.ipynb"]
    with keep_previous(release) as rel:
        rel.mkdir()
        (rel / "02.ipynb").write_text("new")
    assert [p.name for p in release.iterdir()] == ["02.ipynb"]
    assert sorted(p.name for p in release.parent.iterdir()) == ["01-orientation"]


def test_graders_swaps_folders_in_one_place():
    """Every rename of a file or folder into place in graders goes through graders._atomic (issue 17)."""
    import re

    src = Path(graders.__file__).parent
    renames = [f"{p.name}:{n}" for p in sorted(src.glob("*.py")) if p.name != "_atomic.py"
               for n, line in enumerate(p.read_text("utf-8").splitlines(), 1)
               if re.search(r"\bos\.(replace|rename)\(|\.rename\(|shutil\.move\(", line)]
    assert renames == []


def test_cli_exit_codes(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        _cli.main(["--help"])
    assert exc.value.code == 0
    with pytest.raises(SystemExit) as exc:
        _cli.main(["report", "01-orientation", "--course-dir", str(tmp_path)])
    assert exc.value.code == 3  # not a course directory
    course = copy_course(tmp_path / "c")
    with pytest.raises(SystemExit) as exc:
        _cli.main(["autograde", "no-such-assignment", "-C", str(course)])
    assert exc.value.code == 3
    with pytest.raises(SystemExit) as exc:
        _cli.main(["autograde", "--workers", "0", "x", "-C", str(course)])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        _cli.main(["collect", "01-orientation", "-C", str(course), "--from-dir", str(tmp_path)])
    assert exc.value.code == 3  # not released yet


def test_canvas_export_empty_gradebook(tmp_path):
    course = copy_course(tmp_path / "c")
    from nbgrader.api import Gradebook

    graders.make_api(course)  # creates nothing by itself
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "statelab") as gb:
        gb.add_assignment("a1")
        gb.update_or_create_student("zoe", first_name="Zoe", last_name="Zed", lms_user_id="99")
    out = graders.export_canvas_csv(course, tmp_path / "g.csv", missing="zero", points_row=False)
    rows = list(csv.reader(out.open()))
    assert rows == [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "a1"],
                    ["Zed, Zoe", "99", "", "zoe", "", "0"]]
    with sqlite3.connect(course / "gradebook.db") as con:
        assert con.execute("select count(*) from student").fetchone() == (1,)


def _submission_with_a_written_answer(course: Path, late_penalty: float = 0.0) -> None:
    """A gradebook with one assignment (a 2-point test, a 3-point written answer) and ana's submission:
    the test scored 2 by the autograder, the written answer not graded yet."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "statelab") as gb:
        gb.add_assignment("a1")
        gb.add_notebook("a1", "a1")
        gb.add_grade_cell("q1-tests", "a1", "a1", max_score=2, cell_type="code")
        gb.add_grade_cell("q2-written", "a1", "a1", max_score=3, cell_type="markdown")
        gb.update_or_create_student("ana", first_name="Ana", last_name="Alvarez", lms_user_id="7")
        gb.add_submission("a1", "ana")
        test = gb.find_grade("q1-tests", "a1", "a1", "ana")
        test.auto_score, test.needs_manual_grade = 2.0, False
        gb.find_submission_notebook("a1", "a1", "ana").late_submission_penalty = late_penalty
        gb.db.commit()


def test_export_refuses_silent_zeros_or_marks_them_when_told(tmp_path):
    course = copy_course(tmp_path / "c")
    _submission_with_a_written_answer(course)
    out = tmp_path / "g.csv"
    with pytest.raises(graders.UngradedWorkError) as exc:
        graders.export_canvas_csv(course, out)
    assert exc.value.ungraded == {"a1:ana": ["q2-written"]} and "q2-written (ana)" in str(exc.value)
    assert not out.exists()
    graders.export_canvas_csv(course, out, ungraded="blank", points_row=False)
    assert list(csv.reader(out.open()))[1][5] == ""
    graders.export_canvas_csv(course, out, ungraded="zero", points_row=False)
    assert list(csv.reader(out.open()))[1][5] == "2"
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "statelab") as gb:
        written = gb.find_grade("q2-written", "a1", "a1", "ana")
        written.manual_score, written.needs_manual_grade = 1.5, False
        gb.db.commit()
    graders.export_canvas_csv(course, out, points_row=False)  # nothing waits any more
    assert list(csv.reader(out.open()))[1][5] == "3.5"


def test_one_score_definition_for_every_tool(tmp_path):
    """A late penalty lowers the score the same way in the export and in autograde's results."""
    from graders._autograde import _read_scores

    course = copy_course(tmp_path / "c")
    _submission_with_a_written_answer(course, late_penalty=0.5)
    scores, max_score, waiting = _read_scores(graders.Course.open(course), "a1", ["ana"])
    assert (scores, max_score, waiting) == ({"ana": 1.5}, 5.0, {"ana": ["q2-written"]})
    out = graders.export_canvas_csv(course, tmp_path / "g.csv", ungraded="zero", points_row=False)
    assert float(list(csv.reader(out.open()))[1][5]) == scores["ana"]


CANVAS = ("Student,ID,SIS User ID,SIS Login ID,Section,01-orientation (4242)\n"
          "    Points Possible,,,,,10\n"
          '"Alvarez, Ana",101,S1,ana,Sec A,\n'
          '"Student, Test",999,,,,\n'
          '"Baker, Ben",102,S2,ben,Sec A,\n')


def test_roster_reads_a_canvas_export(tmp_path):
    path = tmp_path / "canvas.csv"
    path.write_text(CANVAS, encoding="utf-8")
    roster = graders.read_roster(path)
    assert roster.layout == "canvas"
    assert [(p.id, p.first_name, p.last_name, p.lms_user_id) for p in roster.people] == [
        ("ana", "Ana", "Alvarez", "101"), ("ben", "Ben", "Baker", "102")]
    assert roster.canvas_columns == {"01-orientation": "01-orientation (4242)"}
    assert len(roster.skipped) == 1 and "Student, Test" in roster.skipped[0]


@pytest.mark.parametrize("text, words", [
    ("name,login\nAna,ana\n", "neither a Canvas gradebook export"),
    ("id,first_name\nana,Ana\nana,Anna\n", "lines 2 and 3: student 'ana' twice"),
    ("id,first_name\nana smith,Ana\n", "not a usable student id"),
    ("id,first_name\nana,Ana,extra\n", "line 2: 3 fields"),
    ("id,first_name\n", "lists no student"),
    ("", "is empty"),
    ('id,first_name\n"ana,Ana\n', "not valid CSV"),
])
def test_roster_refuses_a_malformed_file_naming_the_problem(tmp_path, text, words):
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(graders.RosterError) as exc:
        graders.read_roster(path)
    assert words in str(exc.value) and "\n" not in str(exc.value)


def test_roster_refuses_a_missing_or_binary_file(tmp_path):
    with pytest.raises(graders.RosterError, match="not found"):
        graders.read_roster(tmp_path / "canvas-export.csv")
    (tmp_path / "x.csv").write_bytes(b"id\n\xff\xfe ana\n")
    with pytest.raises(graders.RosterError, match="not UTF-8"):
        graders.read_roster(tmp_path / "x.csv")


def test_students_import_updates_in_one_transaction(tmp_path):
    course = copy_course(tmp_path / "c")
    path = tmp_path / "canvas.csv"
    path.write_text(CANVAS, encoding="utf-8")
    assert graders.import_students(course, graders.read_roster(path)) == {
        "added": ["ana", "ben"], "updated": [], "unchanged": []}
    (tmp_path / "more.csv").write_text("id,first_name,last_name,email\nana,,,ana@example.org\ncy,Cy,Cole,\n")
    done = graders.import_students(course, graders.read_roster(tmp_path / "more.csv"))
    assert done == {"added": ["cy"], "updated": ["ana"], "unchanged": []}
    people = {p["id"]: p for p in graders.list_students(course)}
    assert people["ana"] == {"id": "ana", "first_name": "Ana", "last_name": "Alvarez",
                             "email": "ana@example.org", "lms_user_id": "101"}
    assert sorted(people) == ["ana", "ben", "cy"]


def test_screen_tells_tampering_from_changing_a_data_frame():
    """Patching a module or builtin the tests call is held; adding a column to a frame the tests read is only noted."""
    import ast

    from graders._screen import _scan_code

    code = "test['x'] = 1\nfeatures.loc[:, 'y'] = 2\nsd.connect = None\ndef abs(v):\n    return 0\nanswer = 3\n"
    found = _scan_code(ast.parse(code), protected={"test", "features", "sd", "abs"}, code_names={"sd", "abs"})
    kinds = sorted((kind, reason.split()[1], line) for kind, reason, line in found)
    assert kinds == [("integrity", "'abs',", 4), ("integrity", "'sd.connect',", 3),
                     ("structure", '"features.loc[:,', 2), ("structure", '"test[\'x\']",', 1)]


def test_instructor_paths_are_a_course_convention():
    import ast

    from graders._screen import _scan_code

    code = "open('../secrets/answers.txt')\nopen('../../checks/q1.toml')\n"
    default = _scan_code(ast.parse(code), protected=set())
    assert [line for _k, _r, line in default] == [2]  # "/checks/" is one of the course's instructor paths
    custom = _scan_code(ast.parse(code), protected=set(), instructor_paths=["secrets/"])
    assert [(kind, line) for kind, _r, line in custom] == [("integrity", 1)]


def test_display_settings_learners_may_change_are_a_course_convention():
    import ast

    from graders._screen import _scan_code

    code = "pd.options.display.max_rows = 5\npd.read_csv = None\n"
    default = _scan_code(ast.parse(code), protected={"pd"}, code_names={"pd"})
    assert [line for _k, _r, line in default] == [2]  # pd.options is one of the settable display settings
    strict = _scan_code(ast.parse(code), protected={"pd"}, code_names={"pd"}, settable=[])
    assert sorted(line for _k, _r, line in strict) == [1, 2]


def test_autograde_failure_names_the_error_of_each_submission():
    from graders._errors import error_line as _last_error

    # nbgrader's log: the traceback of the real error, then its own generic closing lines
    log = ("[INFO] Converting notebook\nTraceback (most recent call last):\n  File \"client.py\", line 207\n"
           "    raise RuntimeError(msg)\n    RuntimeError: Kernel died before replying to kernel_info\n"
           "[ERROR] There was an error processing assignment '01' for student 's1'\n"
           "nbgrader.converters.base.NbGraderException: Please see the above traceback for details.")
    assert _last_error(log) == "RuntimeError: Kernel died before replying to kernel_info"
    assert _last_error("CellTimeoutError: A cell timed out\nnothing else") == "CellTimeoutError: A cell timed out"
    assert _last_error("the worker crashed\n\n") == "the worker crashed"
    assert _last_error("") == "no error text"


def test_answer_fingerprints_read_a_line_the_kernel_flushed_in_pieces(tmp_path):
    """Under load ipykernel can flush one printed line as two stream outputs; the probe line must still be read."""
    from grading_support import fingerprints

    cell = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade_id": "q1-answer"}})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="@@answer"),
                    nbformat.v4.new_output("stream", name="stdout", text=" x abc\n@@answer y def\n")]
    path = tmp_path / "split.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    assert fingerprints(path) == {"q1-answer": {"x": "abc", "y": "def"}}


def test_the_answer_probe_prints_a_fingerprint_of_each_answer(tmp_path):
    import hashlib

    from grading_support import execute, fingerprints, with_probe

    cell = nbformat.v4.new_code_cell(with_probe("x = 1.5", ["x", "missing"]),
                                     metadata={"nbgrader": {"grade_id": "q1-answer"}})
    nb = execute(nbformat.v4.new_notebook(cells=[cell]), tmp_path)
    nbformat.write(nb, tmp_path / "probed.ipynb")
    assert fingerprints(tmp_path / "probed.ipynb") == {
        "q1-answer": {"x": hashlib.sha256(b"1.5").hexdigest(), "missing": "undefined"}}
