"""Every course notebook runs top to bottom on the tiny profile.

Notebooks are discovered by glob (tests/notebooks/nbrules.py), so a notebook added later is picked up
without editing this file. Each runs through papermill on a copy in a temporary folder — never in place:
papermill injects a cell after the ``parameters`` cell — with ``profile="tiny"`` and ``data_root`` set to
the session's tiny dataset, from the notebook's own folder, on the ``python3`` kernel.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbrules  # noqa: E402

CELL_TIMEOUT = 300  # seconds per cell; the tiny profile needs a few seconds at most
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
def test_notebook_executes(path: Path, tmp_path: Path, tiny_data_root: Path) -> None:
    import papermill as pm

    before = path.read_bytes()
    source = tmp_path / path.name
    nb = nbrules.read(path)
    # `skip-execution` cells (allow-listed in test_conventions) are skipped by the book; skip them here too.
    nb.cells = [c for c in nb.cells if "skip-execution" not in nbrules.tags(c)]
    nbformat.write(nb, str(source))
    executed = tmp_path / f"executed-{path.name}"
    try:
        pm.execute_notebook(
            str(source),
            str(executed),
            parameters=dict(profile="tiny", data_root=str(tiny_data_root)),
            cwd=str(path.parent),
            kernel_name="python3",
            execution_timeout=CELL_TIMEOUT,
            progress_bar=False,
            log_output=False,
        )
    except pm.PapermillExecutionError:
        # nbclient lets cells tagged `raises-exception` fail and carries on, but papermill reports any error
        # output afterwards; the checks below decide whether every error was an allowed one.
        pass
    assert path.read_bytes() == before, "the original notebook was modified"
    nb = nbformat.read(str(executed), as_version=4)
    unexpected, silent = [], []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errored = any(o.output_type == "error" for o in cell.get("outputs", [])) or cell.metadata.get(
            "papermill", {}
        ).get("exception") is True
        allowed = "raises-exception" in nbrules.tags(cell)
        if errored and not allowed:
            unexpected.append(f"cell {i}: " + next((f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"), "error"))
        if allowed and not errored:
            silent.append(i)
    assert not unexpected, "cells raised errors:\n  " + "\n  ".join(unexpected)
    assert not silent, f"cells {silent} are tagged raises-exception but did not raise"
    not_run = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip() and c.execution_count is None]
    assert not not_run, f"cells {not_run} never ran"
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "the notebook produced no output"
    missing_alt = _figures_without_alt(nb)
    assert not missing_alt, f"cells {missing_alt} show a figure without alt text: use statelab.plotting.show(fig, alt=...)"
