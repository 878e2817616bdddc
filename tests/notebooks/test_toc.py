"""Every module notebook is published: listed in the book's table of contents."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p for p in (ROOT / "modules").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _files(node):
    if isinstance(node, dict):
        if "file" in node:
            yield node["file"]
        for value in node.values():
            yield from _files(value)
    elif isinstance(node, list):
        for item in node:
            yield from _files(item)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_module_notebook_is_in_the_toc(notebook):
    toc = set(_files(yaml.safe_load((ROOT / "book" / "_toc.yml").read_text(encoding="utf-8"))))
    entry = notebook.relative_to(ROOT).with_suffix("").as_posix()
    assert entry in toc, f"{entry} is not in book/_toc.yml, so the book would not show it"


def test_toc_entries_exist():
    toc = _files(yaml.safe_load((ROOT / "book" / "_toc.yml").read_text(encoding="utf-8")))
    missing = [f for f in toc if not f.startswith("generated/")
               and not any((ROOT / "book" / f).with_suffix(s).exists() for s in (".md", ".ipynb"))]
    assert not missing, missing
