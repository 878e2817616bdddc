"""Forked kernels (book/_ext/statelab_kernel_forks.py) behave as the kernels they replace.

A notebook test is only as good as the kernel it runs in: these check that a forked kernel runs in the folder,
environment and process layout a new ``python -m ipykernel_launcher`` would have, can be interrupted, and that
the usual kernel starts whenever the fork could differ.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import statelab_kernel_forks  # on sys.path from tests/conftest.py

PROBE = """\
import json, os, random, sys
print(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(), "argv0": sys.argv[0],
                  "marker": os.environ.get("KERNEL_FORKS_MARKER"), "random": random.random(),
                  "names": sorted(n for n in globals() if not n.startswith("_"))}))
"""


def _run(cells: list[str], folder, **kw) -> list:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=kw.pop("timeout", 60), kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}, **kw).execute()
    return nb.cells


def _probe(folder) -> dict:
    (cell,) = _run([PROBE], folder)
    return json.loads(cell.outputs[0]["text"])


@pytest.fixture()
def forked():
    """A kernel server of the test's own, so that what is checked is the mechanism, whatever the session's did."""
    with statelab_kernel_forks.running(ready_within=120) as variables:
        if not variables:
            pytest.skip("kernels are forked only on Linux, from ipykernel's standard kernel spec")
        yield Path(variables[statelab_kernel_forks.ENV_SOCKET]).with_name("server.log")


def test_a_forked_kernel_is_a_new_process_in_the_notebook_folder(forked, tmp_path, monkeypatch):
    monkeypatch.setenv("KERNEL_FORKS_MARKER", "set by the test")
    first, second = _probe(tmp_path), _probe(tmp_path)
    assert first["ppid"] != os.getpid(), f"not forked: the kernel's parent is this test; server log:\n{forked.read_text()}"
    assert first["pid"] != second["pid"] and first["random"] != second["random"]
    assert first["cwd"] == str(tmp_path)
    assert first["marker"] == "set by the test"  # the environment the test gives the kernel, not the server's
    assert os.path.basename(first["argv0"]) == "ipykernel_launcher.py"
    # a fresh namespace: nothing the server imported is a name in the notebook
    assert not {"pandas", "pd", "np", "numpy", "synthetic_data", "sd"} & set(first["names"])


def test_a_forked_kernel_can_be_interrupted_and_runs_subprocesses(forked, tmp_path):
    cells = _run(["import time\ntime.sleep(600)",
                  "import subprocess\nprint(subprocess.run(['sh', '-c', 'exit 3']).returncode)"],
                 tmp_path, timeout=3, allow_errors=True, interrupt_on_timeout=True)
    assert [o.get("ename") for o in cells[0].outputs] == ["KeyboardInterrupt"]
    assert cells[1].outputs[0]["text"] == "3\n"  # the kernel reaps its own subprocesses


def test_a_different_interpreter_gets_the_usual_kernel(forked, tmp_path, monkeypatch):
    """PYTHONPATH is read when Python starts: a kernel asked for with another one is not forked."""
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert _probe(tmp_path)["ppid"] == os.getpid()
