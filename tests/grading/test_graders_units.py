"""Fast checks of the graders package that need no kernel."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import nbformat
import pytest

import graders
from graders import _cli
from graders._atomic import atomic_path
from grading_support import COURSE, copy_course

pytestmark = pytest.mark.grading


def test_public_api_is_explicit():
    assert sorted(graders.__all__) == sorted(set(graders.__all__))
    for name in graders.__all__:
        assert getattr(graders, name).__doc__, f"{name} has no docstring"


def test_errors_inherit_matching_builtins():
    assert issubclass(graders.CourseDirectoryError, FileNotFoundError)
    assert issubclass(graders.AssignmentNotFoundError, LookupError)
    assert issubclass(graders.SubmissionError, ValueError)
    assert issubclass(graders.NbgraderStepError, RuntimeError)
    for cls in (graders.CourseDirectoryError, graders.AssignmentNotFoundError, graders.SubmissionError,
                graders.NbgraderStepError, graders.FeedbackLeakError):
        assert issubclass(cls, graders.GradingError)


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


def test_screen_tells_tampering_from_changing_a_data_frame():
    """Patching a module or builtin the tests call is held; adding a column to a frame the tests read is only noted."""
    import ast

    from graders._screen import _scan_code

    code = "test['x'] = 1\nfeatures.loc[:, 'y'] = 2\nsd.connect = None\ndef abs(v):\n    return 0\nanswer = 3\n"
    found = _scan_code(ast.parse(code), protected={"test", "features", "sd", "abs"}, code_names={"sd", "abs"})
    kinds = sorted((kind, reason.split()[1]) for kind, reason in found)
    assert kinds == [("integrity", "'abs',"), ("integrity", "'sd.connect',"),
                     ("structure", '"features.loc[:,'), ("structure", '"test[\'x\']",')]


def test_autograde_failure_names_the_error_of_each_submission():
    from graders._autograde import _last_error

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
