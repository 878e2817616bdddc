"""Shared fixtures: one tiny dataset per test session, generated once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import synthetic_data as sd
from session_share import build_once, shared_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "book" / "_ext"))
import statelab_kernel_forks  # noqa: E402

BOOK_BUILD_TIMEOUT = 3600  # the whole book on a loaded 2-core machine; a hang still ends the session


@pytest.fixture(scope="session", autouse=True)
def projects_dir(tmp_path_factory):
    """Capstone project folders (statelab.capstone.project_folder) go to a temporary folder, never the home."""
    root = tmp_path_factory.mktemp("statelab-projects")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STATELAB_PROJECTS_DIR", str(root))
        yield root


@pytest.fixture(scope="session", autouse=True)
def gradebook_version_asked_once():
    """nbgrader asks alembic for its gradebook schema version once per process, not once per new course.

    Creating a gradebook runs ``alembic heads`` in a new Python process, which imports nbgrader again: about 3 s,
    twice that on a loaded machine. The tests create some fifty courses; the answer is the same for all of them
    (the installed nbgrader's newest migration). The first creation in each test process still asks alembic;
    later ones reuse its answer, so every gradebook gets exactly what nbgrader would write. Processes the
    tests start (the command-line tool, the hub) are not changed.
    """
    import functools

    import nbgrader.api

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nbgrader.api, "get_alembic_version", functools.cache(nbgrader.api.get_alembic_version))
        yield


@pytest.fixture(scope="session", autouse=True)
def kernels_forked():
    """Every notebook kernel the tests start is forked from one that has imported the stack.

    About 1.5-3 s less per notebook, of which the tests run some 500; each cell still runs in its own process and
    namespace (book/_ext/statelab_kernel_forks.py, which the book build uses too). Processes given an environment
    of their own (the hub's users, the Binder check) start the usual kernel. ``STATELAB_KERNEL_FORKS=off`` turns
    it off (to compare, or to rule it out).
    """
    with statelab_kernel_forks.running() as variables:
        yield variables


@pytest.fixture(scope="session")
def tiny_data_root(tmp_path_factory):
    """A data root holding the ``tiny`` profile at ``sd.DEFAULT_SEED``; also exported as STATELAB_DATA_DIR."""
    root = tmp_path_factory.mktemp("statelab-data")
    sd.generate("tiny", seed=sd.DEFAULT_SEED, out=sd.dataset_path("tiny", data_root=root), workers=2)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STATELAB_DATA_DIR", str(root))
        yield root


@pytest.fixture(scope="session")
def tiny_dataset(tiny_data_root):
    return sd.dataset_path("tiny", data_root=tiny_data_root)


@pytest.fixture()
def tiny_con(tiny_dataset):
    """A connection to the tiny dataset with the truth attached."""
    con = sd.connect(tiny_dataset, truth=True)
    yield con
    con.close()


def _default_dataset(tmp_path_factory, seed: int):
    """The ``default`` profile at ``seed``, generated once per session and shared by the xdist workers."""

    def generate(folder):
        return {"path": str(sd.generate("default", seed=seed, out=sd.dataset_path("default", seed=seed, data_root=folder),
                                        workers=2))}

    _, made = build_once(shared_dir(tmp_path_factory), f"statelab-default-{seed}", generate)
    return Path(made["path"])


@pytest.fixture(scope="session")
def course_dataset(tmp_path_factory):
    """The ``default`` (course) profile at ``sd.DEFAULT_SEED``, generated once per test session.

    For tests that tie a module's headline result to the planted truth where the tiny profile has too
    few records for a tight tolerance (a few hundred WIOA spells, a handful of certified firms). Tests
    only read it: the xdist workers share one copy.
    """
    return _default_dataset(tmp_path_factory, sd.DEFAULT_SEED)


@pytest.fixture(scope="session")
def course_dataset_at(tmp_path_factory, course_dataset):
    """A function ``seed -> path`` of the ``default`` profile at that seed, each generated once per session.

    A lesson's claims about the data are checked on two seeds, the course seed and 7: the course seed reuses
    ``course_dataset``; another seed is generated on first use (by one xdist worker, read by all).
    """
    made = {sd.DEFAULT_SEED: course_dataset}

    def at(seed: int):
        if seed not in made:
            made[seed] = _default_dataset(tmp_path_factory, seed)
        return made[seed]

    return at


@pytest.fixture(scope="session")
def seed_seven_dataset(course_dataset_at):
    """The ``default`` profile at seed 7: the second seed on which published figures and planted effects are checked."""
    return course_dataset_at(7)


@pytest.fixture(scope="session")
def tiny_book_run(tiny_data_root, tmp_path_factory) -> dict:
    """``book/build.py`` on the tiny profile, run once per session and shared by every xdist worker.

    The notebook tests read its executions (``tests/notebooks/conftest.py::tiny_book``) and the browser tests
    its HTML (``tests/browser/conftest.py::book_html``): one build serves both. Returns the output folder
    (HTML in ``output/_build/html``), the exit status and the build's stdout and stderr; read-only.
    """

    def build(folder: Path) -> dict:
        cmd = [sys.executable, str(REPO_ROOT / "book" / "build.py"), "--profile", "tiny", "--seed", str(sd.DEFAULT_SEED),
               "--data-root", str(tiny_data_root), "--output", str(folder)]
        env = dict(os.environ, STATELAB_DATA_DIR=str(tiny_data_root))
        proc = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=BOOK_BUILD_TIMEOUT)
        return {"output": str(folder), "returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}

    return build_once(shared_dir(tmp_path_factory), "tiny-book-run", build)[1]
