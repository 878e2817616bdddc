"""Rewrite the ``parameters`` cell of a source notebook before generating an assignment."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import nbformat

from ._atomic import atomic_path
from ._errors import GradingError

__all__ = ["set_parameters"]


def set_parameters(notebook: str | os.PathLike[str], **values: Any) -> Path:
    """Set literal values in the cell tagged ``parameters``, in place.

    The course's assignments read their data through ``profile``, ``seed`` and
    ``data_root`` in a read-only (nbgrader ``locked``) parameters cell, and
    autograde restores locked cells from the gradebook. So the values in the
    *source* notebook when ``generate_assignment`` runs decide which dataset
    every submission is graded against. Use this on a copy of the course (tests
    grade against the ``tiny`` profile) or before releasing a term's
    assignments on another seed; never while submissions are being graded.

    Parameters
    ----------
    notebook : path-like
        A source notebook.
    **values
        Names and Python literals (``str``, ``int``, ``None``, ...); each
        ``name = ...`` line is replaced with ``name = repr(value)``, or appended.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    GradingError
        If the notebook has no cell tagged ``parameters``.
    """
    path = Path(notebook)
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if not cells:
        raise GradingError(f"{path} has no cell tagged 'parameters'")
    cell = cells[0]
    lines = cell.source.splitlines()
    for name, value in values.items():
        pat = re.compile(rf"^{re.escape(name)}\s*=")
        new = f"{name} = {value!r}"
        idx = [i for i, ln in enumerate(lines) if pat.match(ln)]
        if idx:
            for i in idx:
                lines[i] = new
        else:
            lines.append(new)
    cell.source = "\n".join(lines)
    with atomic_path(path) as tmp:
        nbformat.write(nb, tmp)
    return path
