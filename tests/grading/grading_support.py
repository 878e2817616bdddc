"""Helpers for the nbgrader end-to-end tests (not collected by pytest)."""

from __future__ import annotations

import html.parser
import shutil
import tomllib
from pathlib import Path

import nbformat
from session_share import build_once, shared_dir  # noqa: F401  (re-exported for the grading tests)

REPO = Path(__file__).resolve().parents[2]
COURSE = REPO / "assignments"
OUTPUT_DIRS = ("release", "submitted", "autograded", "feedback", "reports", "gradebook.db", ".ipynb_checkpoints")


def assignments() -> list[str]:
    """Assignment ids: every folder of assignments/source with a notebook."""
    return sorted(p.name for p in (COURSE / "source").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def mistakes(assignment: str) -> list[dict]:
    """The [[mistake]] entries of assignments/checks/<assignment>.toml ([] if missing)."""
    path = COURSE / "checks" / f"{assignment}.toml"
    if not path.exists():
        return []
    with open(path, "rb") as fh:
        return tomllib.load(fh).get("mistake", [])


def copy_course(dest: Path) -> Path:
    """Copy the course directory without any generated output."""
    shutil.copytree(COURSE, dest, ignore=shutil.ignore_patterns(*OUTPUT_DIRS, "__pycache__"))
    return dest


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def autograded_cells(notebook: Path) -> dict[str, float]:
    """grade_id -> points of the cells nbgrader scores automatically (code grade cells)."""
    nb = nbformat.read(notebook, as_version=4)
    return {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"]) for c in nb.cells
            if c.cell_type == "code" and nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")}


def split_regions(source: str, begin: str, end: str) -> tuple[str, list[str]]:
    """(source without the delimited regions, stripped lines inside them)."""
    kept, inside, region = [], False, []
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line and inside:
            inside = False
        elif inside:
            region.append(line.strip())
        else:
            kept.append(line)
    return "\n".join(kept), region


def replace_cell(notebook: Path, grade_id: str, source: str, out: Path) -> Path:
    """Write a copy of `notebook` with the cell `grade_id` replaced by `source`."""
    nb = nbformat.read(notebook, as_version=4)
    hits = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id]
    assert hits, f"{notebook.name} has no cell {grade_id!r}"
    hits[0].source = source.strip("\n")
    nbformat.write(nb, out)
    return out


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_text(path: Path) -> str:
    """Visible text of an HTML file (tags removed, entities decoded), spaces collapsed."""
    p = _Text()
    p.feed(path.read_text(encoding="utf-8"))
    return " ".join("".join(p.parts).split())


#: Appended to an answer cell so that its autograded copy records what the answer was: one line per
#: name the solution cell assigns, with a fingerprint of the value (exact for numbers and strings).
_PROBE_HEAD = """
import hashlib as _qa_hashlib, numbers as _qa_numbers, pickle as _qa_pickle, sys as _qa_sys
def _qa_print(name, value):
    if isinstance(value, _qa_numbers.Real) and not isinstance(value, bool):
        data = repr(float(value)).encode()
    elif hasattr(value, "to_csv"):
        data = value.to_csv().encode()
    else:
        data = _qa_pickle.dumps(value)
    _qa_sys.stdout.write(f"@@answer {name} {_qa_hashlib.sha256(data).hexdigest()}\\n")
"""
_PROBE_NAME = """
try:
    _qa_print({name!r}, {name})
except NameError:
    _qa_sys.stdout.write("@@answer " + {name!r} + " undefined\\n")
"""


def answer_names(notebook: Path, grade_id: str) -> list[str]:
    """Names the reference solution's cell ``grade_id`` assigns at top level (its answer variables)."""
    import ast

    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id)
    names: list[str] = []
    for node in ast.parse(cell.source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AnnAssign, ast.AugAssign)) else []
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def with_probe(source: str, names: list[str]) -> str:
    """``source`` followed by the fingerprint probe for ``names`` (unchanged when there are none)."""
    if not names:
        return source
    return source.rstrip("\n") + "\n" + _PROBE_HEAD + "".join(_PROBE_NAME.format(name=n) for n in names)


def probe_answers(notebook: Path, grade_ids: list[str], out: Path) -> Path:
    """Write a copy of ``notebook`` whose answer cells ``grade_ids`` end with the fingerprint probe."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in grade_ids:
            cell.source = with_probe(cell.source, answer_names(notebook, gid))
    nbformat.write(nb, out)
    return out


def fingerprints(notebook: Path) -> dict[str, dict[str, str]]:
    """grade_id -> {answer name: fingerprint} from the probe lines in an executed notebook's outputs."""
    found: dict[str, dict[str, str]] = {}
    for cell in nbformat.read(notebook, as_version=4).cells:
        gid = nbgrader_meta(cell).get("grade_id")
        # The kernel may flush a line in pieces, each its own stream output (nbclient does not
        # coalesce them): read a cell's stdout as one text, as a notebook viewer shows it.
        stdout = "".join(out.get("text", "") for out in cell.get("outputs", [])
                         if out.get("output_type") == "stream" and out.get("name") == "stdout")
        for line in stdout.splitlines():
            if line.startswith("@@answer "):
                _, name, digest = line.split(" ", 2)
                found.setdefault(gid, {})[name] = digest
    return found


def reads(notebook: Path, grade_id: str) -> set[str]:
    """Names the cell ``grade_id`` (visible and hidden tests alike) reads."""
    import ast

    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id)
    return {n.id for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def expected_losses(mistake: dict, source: Path, solution_fp: dict, mistake_fp: dict) -> tuple[set[str], set[str]]:
    """(test cells the mistake must lose, test cells where on this data its answer equals the right one).

    A listed test cell is not expected to be lost when every answer variable it reads (of those the
    answer cell assigns) has the same fingerprint as the reference solution's: on this dataset the
    mistaken method gives the right number, and no test of the value can tell them apart.
    """
    cell = mistake["answer_cell"]
    assigned = set(answer_names(source, cell))
    lose, coincide = set(), set()
    for test in mistake["loses"]:
        names = reads(source, test) & assigned
        ref, got = solution_fp.get(cell, {}), mistake_fp.get(cell, {})
        same = bool(names) and all(n in ref and ref[n] != "undefined" and ref[n] == got.get(n) for n in names)
        (coincide if same else lose).add(test)
    return lose, coincide


def execute(nb, path: Path, *, attempts: int = 3):
    """Run ``nb`` in a fresh kernel with ``path`` as its folder, as nbgrader's autograder would.

    Retried only when the kernel never started: jupyter_client picks a free TCP port and the kernel
    binds it later, so kernels started at once by parallel test workers can collide
    ("Address already in use"); the autograder retries the same way (graders._autograde).
    """
    from nbclient import NotebookClient

    from graders._autograde import _KERNEL_START_FAILURES

    for attempt in range(attempts):
        try:
            return NotebookClient(nb, timeout=120, kernel_name="python3",
                                  resources={"metadata": {"path": str(path)}}).execute()
        except RuntimeError as exc:
            if attempt == attempts - 1 or not any(m in str(exc) for m in _KERNEL_START_FAILURES):
                raise
