"""Every course notebook runs top to bottom on the tiny profile.

Notebooks are discovered by glob (tests/notebooks/nbrules.py), so a notebook added later is picked up
without editing this file. They are executed once per test session by the ``tiny_book`` fixture
(conftest.py): the book's notebooks by the session's tiny book build (``book/build.py``, in parallel, into
the book's jupyter-cache), the others (nbgrader source notebooks) into the same cache in the same way. Each
test reads its notebook's executed copy from that cache; the source notebook is never modified.

How they run, and why it is what papermill did before: each notebook runs from its own folder on the kernel
its metadata names (``python3`` for all, checked by test_conventions), with its default parameters
(``profile = "default"``, ``data_root = None``) and ``STATELAB_DATA_DIR`` pointing at a folder where the
default dataset is a link to the session's tiny dataset. The notebooks read the same files as with
``profile="tiny"`` injected: the ``tiny`` profile differs from ``default`` only in size (tiny.toml), and
``profile`` is otherwise passed only to ``load_profile`` / ``window_end`` for window and rate settings, which
tiny inherits. ``skip-execution`` cells are skipped (nbclient, as the book does; papermill ran a copy
without them) and ``raises-exception`` cells may fail. A cell that raises otherwise stops the notebook, whose
failure names the cell.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbrules  # noqa: E402

NOTEBOOKS = [p for p in nbrules.discover_notebooks() if nbrules.is_runnable(nbrules.read(p))]
_ALT = re.compile(r"<img\b[^>]*\balt=\"([^\"]+)\"")


def _figures_without_alt(nb) -> list[int]:
    """Indexes of cells that display an image without an HTML <img alt="..."> alternative."""
    bad = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if any(k.startswith("image/") for k in data):
                html = data.get("text/html", "")
                html = "".join(html) if isinstance(html, list) else html
                if not _ALT.search(html):
                    bad.append(i)
    return bad


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=nbrules.notebook_ids(NOTEBOOKS))
def test_notebook_executes(path: Path, tiny_book) -> None:
    nb = tiny_book.executed(path)
    assert tiny_book.sources[nbrules.rel(path)] == hashlib.sha256(path.read_bytes()).hexdigest(), (
        "the original notebook was modified")
    unexpected, silent = [], []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errored = any(o.output_type == "error" for o in cell.get("outputs", []))
        allowed = "raises-exception" in nbrules.tags(cell)
        if errored and not allowed:
            unexpected.append(f"cell {i}: " + next((f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"), "error"))
        if allowed and not errored:
            silent.append(i)
    assert not unexpected, "cells raised errors:\n  " + "\n  ".join(unexpected)
    assert not silent, f"cells {silent} are tagged raises-exception but did not raise"
    not_run = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()
               and "skip-execution" not in nbrules.tags(c) and c.execution_count is None]
    assert not not_run, f"cells {not_run} never ran"
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "the notebook produced no output"
    missing_alt = _figures_without_alt(nb)
    assert not missing_alt, f"cells {missing_alt} show a figure without alt text: use statelab.plotting.show(fig, alt=...)"
