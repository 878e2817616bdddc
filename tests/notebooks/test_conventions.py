"""Every course notebook follows the house conventions (see the contract's "Notebook conventions").

Rules: no committed outputs or execution counts; a ``parameters`` cell assigning profile/seed/data_root;
a first code cell that only imports and is tagged ``hide-cell``; no ``def``/``class``/``lambda``; the
``python3`` kernel; ``raises-exception``/``skip-execution`` tags only where tests/notebooks/tag_allowlist.toml
records a reviewed reason. The allow-list itself is tested, and each rule is shown to fire on a crafted
notebook.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbrules  # noqa: E402

NOTEBOOKS = nbrules.discover_notebooks()
ALLOWLIST = nbrules.load_allowlist()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=nbrules.notebook_ids(NOTEBOOKS))
def test_notebook_follows_conventions(path: Path) -> None:
    problems = nbrules.check_notebook(nbrules.read(path), nbrules.rel(path), ALLOWLIST)
    assert not problems, f"{nbrules.rel(path)}:\n  " + "\n  ".join(problems)


def test_notebooks_are_discovered() -> None:
    assert any(nbrules.rel(p).startswith("modules/") for p in NOTEBOOKS), "no module notebooks found"


def test_discovery_skips_generated_and_nbgrader_copies(tmp_path: Path) -> None:
    for sub in ["modules/01-x", "modules/01-x/.ipynb_checkpoints", "book/_build/jupyter_execute",
                "book/generated/assignments/a1", "assignments/source/a1", "assignments/release/a1",
                "assignments/autograded/s/a1", "assignments/submitted/s/a1", "assignments/feedback/s/a1"]:
        (tmp_path / sub).mkdir(parents=True)
        nbformat.write(_nb(), tmp_path / sub / "01-n.ipynb")
    (tmp_path / "book" / "modules").symlink_to(tmp_path / "modules", target_is_directory=True)
    found = sorted(nbrules.rel(p, tmp_path) for p in nbrules.discover_notebooks(tmp_path))
    assert found == ["assignments/source/a1/01-n.ipynb", "modules/01-x/01-n.ipynb"]


def test_allowlist_entries_are_current() -> None:
    problems = nbrules.check_allowlist(ALLOWLIST)
    assert not problems, "tests/notebooks/tag_allowlist.toml:\n  " + "\n  ".join(problems)


# ------------------------------------------------------------------ the checkers, on crafted notebooks
IMPORTS = "import synthetic_data as sd"
PARAMS = 'profile = "default"\nseed = 20260101\ndata_root = None'


def _nb(*cells, imports: str = IMPORTS, params: str | None = PARAMS):
    """A notebook that passes every rule, plus extra ``cells``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    first = nbformat.v4.new_code_cell(imports, metadata={"tags": ["hide-cell"]})
    nb.cells = [first, nbformat.v4.new_markdown_cell("# Title\n\nObjectives.")]
    if params is not None:
        nb.cells.append(nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}))
    nb.cells += list(cells)
    return nb


def _roundtrip(nb, tmp_path: Path):
    path = tmp_path / "01-crafted.ipynb"
    nbformat.write(nb, path)
    return nbrules.read(path)


def test_clean_notebook_passes(tmp_path: Path) -> None:
    nb = _roundtrip(_nb(nbformat.v4.new_code_cell("con = sd.connect(profile=profile, seed=seed, data_root=data_root)")), tmp_path)
    assert nbrules.check_notebook(nb, "modules/x/01-crafted.ipynb", []) == []


def test_markdown_only_notebook_needs_no_parameters() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Reading only")]
    assert nbrules.check_notebook(nb, "book/x.ipynb", []) == []


def test_outputs_rule_fires(tmp_path: Path) -> None:
    cell = nbformat.v4.new_code_cell("1 + 1", execution_count=3)
    cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=3)]
    problems = nbrules.check_no_outputs(_roundtrip(_nb(cell), tmp_path))
    assert any("output" in p for p in problems) and any("execution_count" in p for p in problems)


def test_execution_count_alone_fires() -> None:
    assert nbrules.check_no_outputs(_nb(nbformat.v4.new_code_cell("x = 1", execution_count=1)))


def test_missing_parameters_cell_fires() -> None:
    assert "no code cell tagged 'parameters'" in nbrules.check_parameters_cell(_nb(params=None))[0]


def test_incomplete_parameters_cell_fires() -> None:
    problems = nbrules.check_parameters_cell(_nb(params='profile = "default"'))
    assert problems and "seed" in problems[0] and "data_root" in problems[0]


def test_two_parameters_cells_fire() -> None:
    extra = nbformat.v4.new_code_cell(PARAMS, metadata={"tags": ["parameters"]})
    assert "2 cells tagged" in nbrules.check_parameters_cell(_nb(extra))[0]


def test_first_cell_must_only_import() -> None:
    problems = nbrules.check_hidden_import_cell(_nb(imports="import pandas as pd\ncon = 1"))
    assert problems == ["the first code cell must contain only import statements"]


def test_first_cell_must_be_hidden() -> None:
    nb = _nb()
    nb.cells[0].metadata["tags"] = []
    assert nbrules.check_hidden_import_cell(nb) == ["the first code cell is not tagged 'hide-cell'"]


@pytest.mark.parametrize(
    "source",
    [
        "def helper(x):\n    return x",
        "class Thing:\n    pass",
        "async def fetch():\n    pass",
        "df.apply(lambda row: row.wages, axis=1)",
        "if True:\n    def nested():\n        pass",
        "%%time\ndef timed():\n    pass",
    ],
    ids=["def", "class", "async-def", "lambda", "nested-def", "def-after-magic"],
)
def test_definitions_rule_fires(source: str) -> None:
    assert nbrules.check_no_definitions(_nb(nbformat.v4.new_code_cell(source)))


def test_definitions_rule_ignores_strings_and_comments() -> None:
    cell = nbformat.v4.new_code_cell('note = "we never define a helper with def or lambda here"\n# class notes')
    assert nbrules.check_no_definitions(_nb(cell)) == []


@pytest.mark.parametrize("tag", nbrules.CONTROLLED_TAGS)
def test_controlled_tag_needs_allowlist_entry(tag: str) -> None:
    nb = _nb(nbformat.v4.new_code_cell("1 / 0", metadata={"tags": [tag]}))
    assert nbrules.check_controlled_tags(nb, "modules/x/01-crafted.ipynb", [])
    entry = {"notebook": "modules/x/01-crafted.ipynb", "tag": tag, "reason": "demonstrates an error"}
    assert nbrules.check_controlled_tags(nb, "modules/x/01-crafted.ipynb", [entry]) == []
    other = dict(entry, notebook="modules/y/01-other.ipynb")
    assert nbrules.check_controlled_tags(nb, "modules/x/01-crafted.ipynb", [other])


def test_kernel_rule_fires() -> None:
    nb = _nb()
    nb.metadata["kernelspec"]["name"] = "ir"
    assert nbrules.check_kernel(nb)


def test_allowlist_checker_catches_stale_and_bad_entries(tmp_path: Path) -> None:
    (tmp_path / "modules" / "01-x").mkdir(parents=True)
    tagged = _nb(nbformat.v4.new_code_cell("1 / 0", metadata={"tags": ["raises-exception"]}))
    nbformat.write(tagged, tmp_path / "modules" / "01-x" / "01-a.ipynb")
    nbformat.write(_nb(), tmp_path / "modules" / "01-x" / "02-b.ipynb")
    good = {"notebook": "modules/01-x/01-a.ipynb", "tag": "raises-exception", "reason": "shows the error"}
    assert nbrules.check_allowlist([good], tmp_path) == []
    cases = {
        "missing notebook": dict(good, notebook="modules/01-x/09-gone.ipynb"),
        "tag not carried": dict(good, notebook="modules/01-x/02-b.ipynb"),
        "no reason": dict(good, reason=" "),
        "uncontrolled tag": dict(good, tag="hide-cell"),
    }
    for what, entry in cases.items():
        assert nbrules.check_allowlist([entry], tmp_path), what
    assert any("duplicate" in p for p in nbrules.check_allowlist([good, good], tmp_path))


def test_allowlist_file_parses(tmp_path: Path) -> None:
    path = tmp_path / "allow.toml"
    path.write_text('[[allow]]\nnotebook = "modules/a.ipynb"\ntag = "skip-execution"\nreason = "slow"\n')
    assert nbrules.load_allowlist(path) == [{"notebook": "modules/a.ipynb", "tag": "skip-execution", "reason": "slow"}]
    assert nbrules.load_allowlist(tmp_path / "absent.toml") == []


def test_collapsed_answer_rule_fires():
    question = nbformat.v4.new_markdown_cell("**Question.** Which count is right?")
    plain = nbformat.v4.new_markdown_cell("**Question.** Which?\n\n*Suggested answer.* The third.")
    assert any("plain view" in p for p in nbrules.check_collapsed_answers(_nb(plain)))
    answer = nbformat.v4.new_markdown_cell("```{admonition} Answer\n:class: dropdown\nThe third.\n```",
                                           metadata={"tags": ["answer"], "jupyter": {"source_hidden": True}})
    check = nbformat.v4.new_code_cell('quiz.ask("03-practice-1")')
    assert nbrules.check_collapsed_answers(_nb(question, check, answer)) == []
    assert any("no quiz.ask" in p for p in nbrules.check_collapsed_answers(_nb(question, answer)))
    shown = nbformat.v4.new_markdown_cell(answer.source, metadata={"tags": ["answer"]})
    assert any("not collapsed" in p for p in nbrules.check_collapsed_answers(_nb(check, shown)))
    bare = nbformat.v4.new_markdown_cell("The third.", metadata={"tags": ["answer"], "jupyter": {"source_hidden": True}})
    assert any("dropdown" in p for p in nbrules.check_collapsed_answers(_nb(check, bare)))


def test_every_quiz_question_a_notebook_asks_exists():
    import re

    from statelab import quiz

    asked = set()
    for path in NOTEBOOKS:
        for cell in nbrules.read(path).cells:
            if cell.cell_type == "code":
                asked |= set(re.findall(r'quiz\.ask\(\s*"([^"]+)"', cell.source))
    missing = sorted(q for q in asked if q not in quiz.questions())
    assert not missing, f"notebooks ask questions that statelab/data/quiz/ does not define: {missing}"


def test_code_line_length_rule_fires():
    fits = nbformat.v4.new_code_cell("x = " + "1" * (nbrules.MAX_CODE_LINE - 4))
    assert nbrules.check_code_line_length(_nb(fits)) == []
    long = nbformat.v4.new_code_cell("y = 2\nx = " + "1" * (nbrules.MAX_CODE_LINE - 3))
    problems = nbrules.check_code_line_length(_nb(long))
    assert len(problems) == 1 and "line 2" in problems[0] and f"{nbrules.MAX_CODE_LINE + 1} characters" in problems[0]
    prose = nbformat.v4.new_markdown_cell("word " * 60)  # prose wraps in the book: not a code line
    assert nbrules.check_code_line_length(_nb(prose)) == []


def test_line_length_pending_list_only_shrinks():
    """Every notebook still on the pending list exists and still has a long line (else take it off)."""
    stale = []
    for name in sorted(nbrules.LINE_LENGTH_PENDING):
        path = nbrules.REPO_ROOT / name
        if not path.is_file() or not nbrules.check_code_line_length(nbrules.read(path)):
            stale.append(name)
    assert not stale, f"remove from nbrules.LINE_LENGTH_PENDING (missing, or every line now fits): {stale}"
