"""Screen submissions before and after autograding: broken files, moved cells, tampering.

nbgrader already restores locked and test cells from the gradebook before it runs a
submission (its ``OverwriteCells`` and ``CheckCellMetadata`` steps), so an edited test
cannot pass itself. What it cannot see is learner code that changes what the tests
*use*: rebinding ``sd.connect`` so the hidden tests compute their expectation from fake
data, shadowing ``abs`` or ``isinstance``, reading the instructor's source notebooks,
writing to the gradebook, or killing the kernel. :func:`screen_submission` finds these
by reading the learner's code (it never runs it) and reports every finding with a plain
reason.

Two kinds of finding:

``structure``
    The submission is not the assignment as released: invalid JSON, a missing or extra
    notebook, a test cell deleted, renamed or moved. It is graded as nbgrader grades it
    (a deleted test earns nothing; a file that cannot be read earns nothing) and the
    reason is recorded.
``integrity``
    Code that could make the tests pass without a right answer, or reach outside the
    notebook. :func:`graders.autograde_class` never runs such a submission: it records it
    with zero, flags it for review in the gradebook, and lists the reasons; after reading
    the code an instructor grades it again (``statelab-grade autograde --clear STUDENT``,
    or ``cleared=[student]``). The score is thus
    never above what honest content earns, and nothing runs that could touch the
    gradebook or the instructor's files.

The screen reads syntax, so deliberately disguised code can slip past it (names built
from strings at run time); it raises the bar, it is not a sandbox. Running kernels as a
separate unprivileged user is what isolates them fully (see the hub notes).

What counts as the course's own names and as instructor files are conventions of the
course, read from :class:`graders.Course` (``protected_modules``, ``instructor_paths``).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from ._atomic import file_stamp
from ._course import Course, CourseLike

__all__ = ["Finding", "FINDING_COLUMNS", "MAX_SUBMISSION_BYTES", "screen_submission", "findings_table"]

#: A submitted notebook larger than this is not read (outputs are cleared before grading
#: anyway; a notebook this large is almost always a mistake or an attack on the grader).
MAX_SUBMISSION_BYTES = 50 * 1024 * 1024

#: Modules that give learner code the means to reach outside the notebook's answers.
_FORBIDDEN_IMPORTS = {
    "ctypes": "can crash the kernel or rewrite memory",
    "sqlite3": "can open the gradebook database",
    "nbgrader": "can read or change grades",
    "subprocess": "can run programs outside the notebook",
    "pty": "can run programs outside the notebook",
    "signal": "can stop the grader's timeouts",
    "builtins": "can redefine the functions tests use",
    "gc": "can reach and change objects the tests use",
    "inspect": "can read the test code while it runs",
}
_FORBIDDEN_OS_CALLS = {
    "_exit", "abort", "kill", "killpg", "system", "popen", "fork", "forkpty", "remove", "unlink", "rmdir",
    "removedirs", "rename", "replace", "chmod", "chown", "execv", "execve", "execl", "execle", "execlp",
    "execvp", "execvpe", "spawnl", "spawnv", "spawnve", "posix_spawn",
}
_DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__", "globals", "locals", "vars", "setattr", "delattr"}
_BUILTIN_NAMES = set(dir(__import__("builtins")))


@dataclass(frozen=True)
class Finding:
    """One thing the screen found in one submission.

    Attributes
    ----------
    student, notebook : str
    kind : {"structure", "integrity"}
    cell : str
        The nbgrader ``grade_id`` of the cell, ``"cell N"`` when it has none, or ``""``.
    reason : str
        A sentence an instructor (and the learner) can read.
    code : str
        The line of learner code the finding is about (``""`` for findings about the file or
        its cells), for the instructor's review.
    """

    student: str
    notebook: str
    kind: str
    cell: str
    reason: str
    code: str = ""


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _is_autograded(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _is_locked(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("locked")) or _is_autograded(cell)


def _parse(source: str) -> tuple[ast.AST, list[str]] | None:
    """(syntax tree, lines) of a cell, IPython magics turned into Python first; None if it does not parse."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - IPython missing or odd input: parse what is there
        pass
    try:
        return ast.parse(source), source.splitlines()
    except SyntaxError:
        return None


def _names(tree: ast.AST, ctx: type) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}


def _assigned(tree: ast.AST) -> set[str]:
    names = _names(tree, ast.Store)
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in n.names)
    return names


@dataclass
class _Reference:
    """What the released assignment expects, read from the instructor's source notebook."""

    grade_ids: list[str]            # every cell with a grade_id, in order
    autograded: set[str]
    protected: set[str]             # names the tests read that learners must not rebind
    locked_source: dict[str, set[str]]  # grade_id -> the versions learners may hold
    code_names: set[str] = field(default_factory=set)  # of the protected: modules, functions, builtins


def _reference(source_nb: Path, protected_modules: frozenset[str]) -> _Reference:
    nb = nbformat.read(source_nb, as_version=4)
    ids, autograded, locked, read_by_tests, answers, test_locals = [], set(), {}, set(), set(), set()
    imported: set[str] = set()
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid:
            ids.append(gid)
        if _is_autograded(cell):
            autograded.add(gid)
        if gid and _is_locked(cell):
            locked[gid] = {cell.source}
        if cell.cell_type != "code":
            continue
        parsed = _parse(cell.source)
        if parsed is None:
            continue
        tree = parsed[0]
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if _is_autograded(cell):
            read_by_tests |= _names(tree, ast.Load)
            test_locals |= _names(tree, ast.Store)  # the test sets these itself before reading them
        elif meta.get("locked") and not meta.get("solution"):  # imports, parameters, connection
            read_by_tests |= _assigned(tree)
            imported |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
                         if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
        if meta.get("solution"):
            answers |= _assigned(tree)
    protected = read_by_tests - answers - (test_locals - protected_modules)
    code_names = {n for n in protected if n in imported or n in _BUILTIN_NAMES}
    return _Reference(ids, autograded, protected, locked, code_names)


def _call_name(func: ast.AST) -> tuple[str, ...]:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return tuple(reversed(parts))


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _scan_code(tree: ast.AST, protected: set[str], code_names: set[str] = frozenset(), *,
               instructor_paths: Iterable[str] | None = None, settable: Iterable[str] | None = None,
               ) -> list[tuple[str, str, int]]:
    """(kind, reason, line number) for each way this learner code could change how tests run.

    Read from its syntax tree; one entry per (kind, reason), at its first line. Replacing or
    patching a module, function or builtin the tests call is ``integrity``; rebinding or changing a *data* variable the tests read (a frame made in a locked cell) is only recorded
    (``structure``): learners add columns to such frames in good faith, and the tests still run.
    """
    found: dict[tuple[str, str], int] = {}
    traits = Course.class_traits()
    paths = tuple(instructor_paths if instructor_paths is not None else traits["instructor_paths"].default())
    settable = tuple(settable if settable is not None else traits["settable_attributes"].default())
    n: ast.AST = tree

    def add(kind: str, reason: str) -> None:
        found.setdefault((kind, reason), getattr(n, "lineno", 0))

    def flag(name, reason):
        code = name in code_names or name in {"__builtins__", "sys", "builtins"}
        add("integrity" if code else "structure", reason if code else f"{reason}: check that answer by hand")
    for n in ast.walk(tree):
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            mods = [n.module or ""] if isinstance(n, ast.ImportFrom) else [a.name for a in n.names]
            for mod in mods:
                top = mod.split(".")[0]
                if top in _FORBIDDEN_IMPORTS:
                    add("integrity", f"imports {top} ({_FORBIDDEN_IMPORTS[top]})")
        elif isinstance(n, ast.Call):
            name = _call_name(n.func)
            if len(name) == 1 and name[0] in _DYNAMIC_CALLS:
                add("integrity", f"calls {name[0]}() (runs or changes code the grader cannot check)")
            elif len(name) == 1 and name[0] in {"exit", "quit"} or name == ("sys", "exit"):
                continue  # ends the cell with an error; it can only lose points (nbgrader grades the rest)
            elif len(name) == 2 and name[0] == "os" and name[1] in _FORBIDDEN_OS_CALLS:
                add("integrity", f"calls {'.'.join(name)}() (acts outside the notebook or ends the kernel)")
        elif isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = list(n.targets if isinstance(n, (ast.Assign, ast.Delete)) else [n.target])
            while targets:
                t = targets.pop()
                if isinstance(t, (ast.Tuple, ast.List)):
                    targets.extend(t.elts)
                elif isinstance(t, ast.Starred):
                    targets.append(t.value)
                elif isinstance(t, ast.Name) and t.id in protected:
                    flag(t.id, f"rebinds {t.id!r}, which the tests use")
                elif isinstance(t, (ast.Attribute, ast.Subscript)):
                    root, text = _root_name(t), ast.unparse(t)
                    if (root in protected or root in {"__builtins__", "sys"}) and not text.startswith(settable):
                        flag(root, f"changes {text!r}, which the tests use")
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name in protected:
            flag(n.name, f"defines {n.name!r}, which the tests use")
        elif isinstance(n, ast.Name) and n.id == "__builtins__":
            add("integrity", "uses __builtins__ (can redefine the functions tests use)")
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):
            text = n.value.replace("\\", "/")
            hit = next((p for p in paths if p in text), None)
            if hit and ("/" in text or text.endswith(".db")):
                add("integrity", f"names instructor files ({n.value[:60]!r})")
    return [(kind, reason, line) for (kind, reason), line in found.items()]


@functools.lru_cache(maxsize=32)
def _expected_cached(source: Path, released: Path, protected_modules: frozenset[str], _stamps: tuple) -> _Reference:
    ref = _reference(source, protected_modules)
    if released.exists():  # learners receive locked cells without hidden tests; instructors test with them
        for c in nbformat.read(released, as_version=4).cells:
            if (g := _grade_id(c)) and _is_locked(c):
                ref.locked_source.setdefault(g, set()).add(c.source)
    return ref


def _expected(source: Path, released: Path, protected_modules: frozenset[str]) -> _Reference:
    """The reference for one notebook, read once per class (and again if either file changes)."""
    return _expected_cached(source, released, protected_modules, (file_stamp(source), file_stamp(released)))


def screen_submission(course: CourseLike, assignment: str, student: str) -> list[Finding]:
    """Check one submission against the assignment's source notebooks, without running it.

    Parameters
    ----------
    course : path-like or Course
        The course (with ``source/<assignment>`` and ``submitted/<student>/<assignment>``); its
        ``protected_modules`` and ``instructor_paths`` say what learner code may not touch.
    assignment, student : str

    Returns
    -------
    list of Finding
        Empty for a submission that is the released assignment with answers filled in.
    """
    course = Course.open(course)
    src_dir, rel_dir = course.folder("source", assignment), course.folder("release", assignment)
    sub_dir = course.folder("submitted", assignment, student)
    protected_modules = frozenset(course.protected_modules)
    expected = sorted(p.name for p in src_dir.glob("*.ipynb"))
    present = sorted(p.name for p in sub_dir.glob("*.ipynb"))
    found: list[Finding] = []

    def add(notebook: str, kind: str, cell: str, reason: str, code: str = "") -> None:
        found.append(Finding(student, notebook, kind, cell, reason, code))

    for name in present:
        if name not in expected:
            add(name, "structure", "", f"{name} is not part of {assignment} (another assignment's file?): ignored")
    for name in expected:
        path = sub_dir / name
        if not path.exists():
            add(name, "structure", "", f"{name} was not submitted: its questions earn nothing")
            continue
        size = path.stat().st_size
        if size > MAX_SUBMISSION_BYTES:
            add(name, "structure", "", f"{name} is {size / 2**20:.0f} MiB, over the "
                f"{MAX_SUBMISSION_BYTES / 2**20:.0f} MiB limit: not graded")
            continue
        try:
            nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
            nbformat.validate(nb)
        except (ValueError, UnicodeDecodeError, nbformat.ValidationError, KeyError, TypeError) as exc:
            add(name, "structure", "", f"{name} is not a valid notebook ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:120]}): not graded")
            continue
        ref = _expected(src_dir / name, rel_dir / name, protected_modules)
        ids = [g for g in (_grade_id(c) for c in nb.cells) if g]
        for gid in ref.grade_ids:
            if gid not in ids:
                what = "test cell" if gid in ref.autograded else "cell"
                add(name, "structure", gid, f"{what} {gid} was deleted or its id changed: "
                    + ("it earns nothing" if gid in ref.autograded else "nbgrader cannot match it"))
        for gid in ids:
            if gid not in ref.grade_ids:
                add(name, "structure", gid, f"cell id {gid} is not in the released assignment (renamed?)")
        order = [g for g in ids if g in ref.grade_ids]
        if order != [g for g in ref.grade_ids if g in order]:
            add(name, "structure", "", "cells were moved out of the released order: they run in the submitted order")
        for cell in nb.cells:
            gid = _grade_id(cell)
            if gid in ref.locked_source and cell.get("source", "") not in ref.locked_source[gid]:
                add(name, "structure", gid, f"locked cell {gid} was edited (the grader ran the original)")
        for i, cell in enumerate(nb.cells):
            gid = _grade_id(cell)
            if cell.cell_type != "code" or (gid in ref.locked_source):
                continue
            parsed = _parse(cell.get("source", ""))
            if parsed is None:
                continue
            tree, lines = parsed
            for kind, reason, line in _scan_code(tree, ref.protected, ref.code_names,
                                                 instructor_paths=course.instructor_paths,
                                                 settable=course.settable_attributes):
                code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
                add(name, kind, gid or f"cell {i}", reason, code)
    return found


#: The columns of :func:`findings_table` and of ``reports/<assignment>/screening.csv``.
FINDING_COLUMNS = ["student", "notebook", "kind", "cell", "reason", "code"]


def findings_table(findings: Iterable[Finding]):
    """Findings as a pandas DataFrame (columns student, notebook, kind, cell, reason, code)."""
    import pandas as pd

    return pd.DataFrame([asdict(f) for f in findings], columns=FINDING_COLUMNS)
