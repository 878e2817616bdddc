"""Sphinx extension for the statelab book: writes the generated pages before Sphinx reads sources.

Generated files live in ``<book>/generated/`` (gitignored) and are rewritten only when their
content changes, so an unchanged rebuild stays incremental:

- ``generated/codebook.md``: the data codebook, from ``synthetic_data.codebook_markdown()``;
- ``generated/assignments.md`` and ``generated/assignments/**.ipynb``: learner versions of released
  assignments, copied from ``assignments/release/`` (never from ``assignments/source/``) and offered
  as downloads, not executed.

``book/build.py`` calls :func:`generate` itself; the extension calls it again on ``config-inited`` so
that a bare ``jupyter-book build book/`` also works.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

#: nbgrader's solution and hidden-test region markers, which must never appear in a
#: learner-facing copy or in the built book. Written as a pattern, not the literal
#: text, so that scans of learner-facing folders do not flag this scanner itself.
FORBIDDEN_MARKERS = re.compile(r"(?:BEGIN|END) (?:SOLUTION|HIDDEN TESTS)")

#: Folders under a release/assignments tree that must never be copied into the book.
_SKIP_DIRS = {".ipynb_checkpoints", "source", "submitted", "autograded", "feedback"}

_FENCE = re.compile(r"^(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})(\s)")


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds exactly that; return True if written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def _shift_headings(markdown: str, min_level: int = 2) -> str:
    """Demote headings (outside code fences) so the shallowest becomes ``min_level``."""
    lines = markdown.splitlines()
    in_fence = False
    levels = []
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (m := _HEADING.match(line)):
            levels.append(len(m.group(1)))
    if not levels or min(levels) >= min_level:
        return markdown.strip() + "\n"
    shift = min_level - min(levels)
    out, in_fence = [], False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and _HEADING.match(line):
            line = "#" * shift + line
        out.append(line)
    return "\n".join(out).strip() + "\n"


_NOTE = (
    "```{note}\n"
    "This page is generated from the `synthetic_data` package's schema metadata each time the book is\n"
    "built (`synthetic_data.codebook_markdown()`, also available as `statelab-data codebook`), so it always\n"
    "matches the installed data package. Do not edit it by hand.\n"
    "```\n\n"
)


def codebook_page() -> str:
    """The codebook page's MyST source, generated from the data package."""
    import synthetic_data as sd

    text = sd.codebook_markdown().strip() + "\n"
    lines = text.splitlines(keepends=True)
    h1 = [i for i, line in enumerate(lines) if re.match(r"^# \S", line)]
    if len(h1) == 1 and not "".join(lines[: h1[0]]).strip():
        # the codebook brings its own single title: keep it, put the note under it
        return lines[h1[0]] + "\n" + _NOTE + "".join(lines[h1[0] + 1 :]).lstrip("\n")
    return "# Data codebook\n\n" + _NOTE + _shift_headings(text)


def write_codebook(book_dir: Path) -> Path:
    path = Path(book_dir) / "generated" / "codebook.md"
    write_if_changed(path, codebook_page())
    return path


def _notebook_text(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join(
        "".join(c["source"]) if isinstance(c.get("source"), list) else c.get("source", "")
        for c in nb.get("cells", [])
    )


def find_released_notebooks(release_dir: Path) -> list[Path]:
    """Learner notebooks under ``release_dir`` (relative paths), skipping checkpoints and non-release trees."""
    release_dir = Path(release_dir)
    if not release_dir.is_dir():
        return []
    found = []
    for path in sorted(release_dir.rglob("*.ipynb")):
        rel = path.relative_to(release_dir)
        if any(part in _SKIP_DIRS or part.startswith(".") for part in rel.parts):
            continue
        found.append(rel)
    return found


def copy_released_assignments(book_dir: Path, release_dir: Path | None = None) -> list[Path]:
    """Mirror learner notebooks from ``release_dir`` into ``<book>/generated/assignments/``.

    Refuses (``RuntimeError``) to copy any notebook that still contains solution or hidden-test
    markers: that would be an instructor's source version. Returns the copied paths.
    """
    book_dir = Path(book_dir)
    if release_dir is None:
        release_dir = Path(os.environ.get("STATELAB_RELEASE_DIR") or book_dir.resolve().parent / "assignments" / "release")
    release_dir = Path(release_dir)
    if release_dir.name == "source" or "source" in release_dir.parts[-2:]:
        raise RuntimeError(f"refusing to publish instructor source notebooks from {release_dir}")
    dest_root = book_dir / "generated" / "assignments"
    rels = find_released_notebooks(release_dir)
    for rel in rels:
        text = _notebook_text(release_dir / rel)
        leaked = sorted(set(FORBIDDEN_MARKERS.findall(text)))
        if leaked:
            raise RuntimeError(f"{release_dir / rel} contains {leaked}: not a learner version, refusing to publish")
    # remove copies of notebooks that are no longer released
    if dest_root.exists():
        keep = {dest_root / rel for rel in rels}
        for old in dest_root.rglob("*"):
            if old.is_file() and old not in keep:
                old.unlink()
    copied = []
    for rel in rels:
        src, dst = release_dir / rel, dest_root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            shutil.copyfile(src, dst)
        copied.append(dst)
    write_if_changed(book_dir / "generated" / "assignments.md", assignments_page(rels))
    return copied


def assignments_page(rels: list[Path]) -> str:
    lines = [
        "# Assignments",
        "",
        "Graded assignments are distributed and collected through nbgrader on the course JupyterHub",
        "(the **Assignments** tab). The learner versions below are offered for reading and download; submit",
        "your work through the hub, not from a downloaded copy.",
        "",
    ]
    if not rels:
        lines += ["No assignments have been released yet.", ""]
        return "\n".join(lines)
    groups: dict[str, list[Path]] = {}
    for rel in rels:
        key = rel.parts[-2] if len(rel.parts) > 1 else "Assignments"
        groups.setdefault(key, []).append(rel)
    for name, items in groups.items():
        lines += [f"## {name}", ""]
        for rel in items:
            lines.append(f"- {{download}}`{rel.name} <assignments/{rel.as_posix()}>`")
        lines.append("")
    return "\n".join(lines)


def generate(book_dir: Path, release_dir: Path | None = None) -> None:
    """Write every generated page of the book (idempotent)."""
    write_codebook(book_dir)
    copy_released_assignments(book_dir, release_dir)


def _on_config_inited(app, config) -> None:
    generate(Path(app.srcdir))


def setup(app):
    # Run before sphinx-external-toc parses the toc and computes excluded files (priority 900).
    app.connect("config-inited", _on_config_inited, priority=100)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
