"""Helpers for the nbgrader end-to-end tests (not collected by pytest)."""

from __future__ import annotations

import html.parser
import shutil
import tomllib
from pathlib import Path

import nbformat

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


def shared_dir(tmp_path_factory) -> Path:
    """A folder shared by all pytest-xdist workers of this session (the session's own folder otherwise)."""
    import os

    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_once(root: Path, key: str, build) -> tuple[Path, dict]:
    """Run ``build(folder) -> dict`` once per session across xdist workers; return (folder, dict).

    The first worker to get the lock builds into ``root/key`` and writes the dict as
    JSON; the others wait for the lock and reuse the result. Consumers must treat the
    folder as read-only (copy it to change anything).
    """
    import fcntl
    import json

    root.mkdir(parents=True, exist_ok=True)
    folder, done = root / key, root / f"{key}.json"
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                if folder.exists():
                    shutil.rmtree(folder)
                folder.mkdir()
                done.write_text(json.dumps(build(folder)))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder, json.loads(done.read_text())
