"""Notebook discovery and the course's notebook convention checks (shared by the notebook tests).

Each ``check_*`` function takes a notebook (``nbformat.NotebookNode``) and returns a list of
human-readable problems; an empty list means the rule passes.
"""

from __future__ import annotations

import ast
import os
import re
import tomllib
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Folders (relative to the repo root) whose notebooks must follow the conventions.
NOTEBOOK_ROOTS = ("modules", "book", "assignments/source")

#: Folder names never searched: build output, checkpoints, nbgrader's generated copies, and the
#: book's generated pages (copies of released assignments, checked at their source).
EXCLUDED_DIRS = {"_build", ".ipynb_checkpoints", "release", "autograded", "submitted", "feedback", "generated"}

#: Notebooks whose worked answers are still written in plain view (issue 18): each lesson engineer removes
#: theirs as they collapse the answers behind a formative check. The list only shrinks.
ANSWERS_PENDING: frozenset[str] = frozenset()

#: Longest code line a notebook may hold: the default of Black and Ruff, and what the book's content column
#: shows whole at 13px in a 1280px window (``book/_static/statelab.css``); a longer line would scroll
#: sideways in the book (issue 18; ``tests/browser/test_book_layout.py`` checks the rendered pages).
MAX_CODE_LINE = 88

#: Notebooks that still hold code lines longer than ``MAX_CODE_LINE`` (issue 18): each lesson engineer removes
#: theirs as they wrap the lines. The list only shrinks (a listed notebook that already passes is an error).
LINE_LENGTH_PENDING: frozenset[str] = frozenset()

#: Cell tags that change how a notebook executes; each use needs a reviewed allow-list entry.
CONTROLLED_TAGS = ("raises-exception", "skip-execution")

#: Names the ``parameters`` cell must assign (tests inject ``profile`` and ``data_root``).
REQUIRED_PARAMETERS = ("profile", "seed", "data_root")

ALLOWLIST_PATH = Path(__file__).with_name("tag_allowlist.toml")


# --------------------------------------------------------------------------------------- discovery
def discover_notebooks(repo_root: Path = REPO_ROOT) -> list[Path]:
    """Every convention-bound notebook under the notebook roots (no symlinked folders followed)."""
    found: set[Path] = set()
    for root in NOTEBOOK_ROOTS:
        base = repo_root / root
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS and not d.startswith("."))
            for name in filenames:
                if name.endswith(".ipynb"):
                    found.add(Path(dirpath) / name)
    return sorted(found)


def notebook_ids(paths: list[Path]) -> list[str]:
    """Test IDs: the file stem, prefixed with the folder name only where stems collide."""
    stems = [p.stem for p in paths]
    return [p.stem if stems.count(p.stem) == 1 else f"{p.parent.name}/{p.stem}" for p in paths]


def rel(path: Path, repo_root: Path = REPO_ROOT) -> str:
    try:
        return Path(path).resolve().relative_to(repo_root.resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def is_runnable(nb) -> bool:
    """A notebook with at least one non-empty code cell."""
    return any(c.source.strip() for c in code_cells(nb))


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []) or [])


def _python_source(source: str) -> str | None:
    """Cell source as plain Python (IPython magics and shell escapes translated); None if unparsable."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)
    except Exception:  # IPython missing or odd input: strip magics by hand
        source = "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        ast.parse(source)
    except SyntaxError:
        return None
    return source


# ------------------------------------------------------------------------------------------- rules
def check_no_outputs(nb) -> list[str]:
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {i} has {len(cell.outputs)} committed output(s): clear outputs before committing")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {i} has execution_count {cell.execution_count}: clear outputs before committing")
    return problems


def check_parameters_cell(nb) -> list[str]:
    if not is_runnable(nb):
        return []
    cells = [c for c in code_cells(nb) if "parameters" in tags(c)]
    if not cells:
        return ["no code cell tagged 'parameters' (needed so tests can inject profile='tiny' and data_root)"]
    if len(cells) > 1:
        return [f"{len(cells)} cells tagged 'parameters': papermill uses only the first; keep one"]
    source = _python_source(cells[0].source)
    if source is None:
        return ["the parameters cell is not valid Python"]
    assigned = {
        t.id
        for node in ast.parse(source).body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(t, ast.Name)
    }
    missing = [n for n in REQUIRED_PARAMETERS if n not in assigned]
    return [f"the parameters cell does not assign {missing}"] if missing else []


def check_hidden_import_cell(nb) -> list[str]:
    """The first code cell only imports and is tagged ``hide-cell`` (the book collapses it)."""
    cells = [c for c in code_cells(nb) if c.source.strip()]
    if not cells:
        return []
    first = cells[0]
    problems = []
    if "hide-cell" not in tags(first):
        problems.append("the first code cell is not tagged 'hide-cell'")
    source = _python_source(first.source)
    if source is None or not all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.parse(source).body):
        problems.append("the first code cell must contain only import statements")
    return problems


_DEF_LINE = re.compile(r"^\s*(?:async\s+def|def|class)\s+\w+", re.MULTILINE)
_LAMBDA = re.compile(r"\blambda\b")


def check_no_definitions(nb) -> list[str]:
    """No ``def``, ``class`` or ``lambda`` in code cells: shared helpers belong in the statelab package."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        raw = cell.source.lstrip()
        if raw.startswith("%%"):  # a cell magic: check its body, which IPython would pass as a string
            raw = raw.split("\n", 1)[1] if "\n" in raw else ""
        source = _python_source(raw)
        if source is None:  # unparsable: fall back to a textual check
            if _DEF_LINE.search(raw) or _LAMBDA.search(raw):
                problems.append(f"cell {i} appears to define a function, class or lambda")
            continue
        for node in ast.walk(ast.parse(source)):
            kind = {
                ast.FunctionDef: "function",
                ast.AsyncFunctionDef: "function",
                ast.ClassDef: "class",
                ast.Lambda: "lambda",
            }.get(type(node))
            if kind:
                name = getattr(node, "name", "")
                problems.append(f"cell {i} defines a {kind} {name}".rstrip() + " (move helpers into the statelab package)")
    return problems


def load_allowlist(path: Path = ALLOWLIST_PATH) -> list[dict]:
    if not Path(path).exists():
        return []
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return list(data.get("allow", []))


def check_controlled_tags(nb, notebook: str, allowlist: list[dict]) -> list[str]:
    """``raises-exception`` / ``skip-execution`` only where the allow-list names this notebook and tag."""
    allowed = {(e.get("notebook"), e.get("tag")) for e in allowlist}
    problems = []
    for i, cell in enumerate(nb.cells):
        for tag in tags(cell):
            if tag in CONTROLLED_TAGS and (notebook, tag) not in allowed:
                problems.append(
                    f"cell {i} is tagged {tag!r} but {notebook} has no entry for it in "
                    "tests/notebooks/tag_allowlist.toml"
                )
    return problems


def check_kernel(nb) -> list[str]:
    name = nb.metadata.get("kernelspec", {}).get("name")
    if name not in (None, "python3"):
        return [f"kernelspec is {name!r}; notebooks must use the 'python3' kernel"]
    return []


ANSWER_OPENING = re.compile(r"^```\{admonition\}[^\n]*\n:class: dropdown\b")
#: Words that mark a worked answer written in plain view.
ANSWER_WORDS = re.compile(r"\*(Suggested answer|Answer)[.:]?\*|\*\*(Suggested answer|Answer)[.:]?\*\*")


def check_collapsed_answers(nb) -> list[str]:
    """Worked answers are collapsed, and a formative check comes before each.

    An answer is a markdown cell tagged ``answer``: it opens a dropdown admonition (collapsed in the book),
    its source is hidden in JupyterLab (``metadata.jupyter.source_hidden``), and a code cell calling
    ``quiz.ask(...)`` comes after the previous answer (or the start) and before it. No other cell writes an
    answer in plain view.
    """
    problems, asked = [], False
    for i, cell in enumerate(nb.cells):
        text = "".join(cell.source) if isinstance(cell.source, list) else cell.source
        if cell.cell_type == "code" and "quiz.ask(" in text:
            asked = True
        if cell.cell_type != "markdown":
            continue
        if "answer" not in tags(cell):
            if ANSWER_WORDS.search(text):
                problems.append(f"cell {i} writes an answer in plain view: move it to a cell tagged 'answer'")
            continue
        if not ANSWER_OPENING.match(text):
            problems.append(f"answer cell {i} does not open with a dropdown admonition "
                            "(```{admonition} Answer, then :class: dropdown)")
        if not cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"):
            problems.append(f"answer cell {i} is not collapsed in JupyterLab (metadata.jupyter.source_hidden)")
        if not asked:
            problems.append(f"answer cell {i} has no quiz.ask(...) check before it")
        asked = False
    return problems


def check_code_line_length(nb, limit: int = MAX_CODE_LINE) -> list[str]:
    """No code line longer than ``limit`` characters: the book's content column shows about that many."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        source = "".join(cell.source) if isinstance(cell.source, list) else cell.source
        for n, line in enumerate(source.splitlines(), start=1):
            if len(line) > limit:
                problems.append(f"cell {i} line {n} has {len(line)} characters (at most {limit}): wrap it")
    return problems


def check_notebook(nb, notebook: str, allowlist: list[dict]) -> list[str]:
    """All convention checks for one notebook."""
    return (
        check_no_outputs(nb)
        + check_parameters_cell(nb)
        + check_hidden_import_cell(nb)
        + check_no_definitions(nb)
        + check_controlled_tags(nb, notebook, allowlist)
        + check_kernel(nb)
        + ([] if notebook in ANSWERS_PENDING else check_collapsed_answers(nb))
        + ([] if notebook in LINE_LENGTH_PENDING else check_code_line_length(nb))
    )


def check_allowlist(allowlist: list[dict], repo_root: Path = REPO_ROOT) -> list[str]:
    """Every allow-list entry is complete, unique, and points at a notebook that really carries the tag."""
    problems = []
    seen = set()
    for n, entry in enumerate(allowlist):
        nb_path, tag, reason = entry.get("notebook"), entry.get("tag"), entry.get("reason")
        label = f"entry {n} ({nb_path!r}, {tag!r})"
        if not nb_path or not tag or not (reason and str(reason).strip()):
            problems.append(f"{label}: needs notebook, tag and a non-empty reason")
            continue
        if tag not in CONTROLLED_TAGS:
            problems.append(f"{label}: {tag!r} is not a controlled tag {CONTROLLED_TAGS}")
        if (nb_path, tag) in seen:
            problems.append(f"{label}: duplicate entry")
        seen.add((nb_path, tag))
        path = repo_root / nb_path
        if not path.is_file():
            problems.append(f"{label}: stale entry, notebook does not exist")
            continue
        if not any(tag in tags(c) for c in read(path).cells):
            problems.append(f"{label}: stale entry, no cell in the notebook carries the tag")
    return problems


def sql_literals(nb) -> list[str]:
    """Every literal SQL string passed to ``con.sql(...)`` / ``con.execute(...)``, in notebook order.

    Cells tagged ``raises-exception`` are left out (their SQL is meant to fail); SQL built at run time
    (f-strings, variables) is not a literal and is not returned.
    """
    found = []
    for cell in code_cells(nb):
        if "raises-exception" in tags(cell):
            continue
        source = _python_source(cell.source)
        if source is None:
            continue
        for n in ast.walk(ast.parse(source)):
            if (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("sql", "execute")
                    and isinstance(n.func.value, ast.Name) and n.func.value.id == "con" and n.args
                    and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, str)):
                found.append(n.args[0].value)
    return found


def layout_free(code: str) -> str:
    """``code`` without its layout: no whitespace, and no trailing comma before a closing bracket.

    Tests that check a lesson still makes a given call compare ``layout_free`` texts, so that re-wrapping
    a line (Black's style splits a long call over several lines and adds a trailing comma) is not a
    change of what the lesson does.
    """
    return re.sub(r",(?=[)\]}])", "", re.sub(r"\s+", "", code))


def lesson_code(path: Path) -> str:
    """All code of notebook ``path``, cells joined in order, as :func:`layout_free` text."""
    return layout_free("\n".join(c.source for c in code_cells(read(path))))


def sql_containing(path: Path, marker: str) -> str:
    """The one literal SQL string of notebook `path` that contains ``marker`` (module tests rerun it)."""
    found = [q for q in sql_literals(read(path)) if marker in q]
    assert len(found) == 1, f"{len(found)} queries in {path.name} contain {marker!r}"
    return found[0]

