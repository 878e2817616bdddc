"""The Binder recipe in binder/: static checks, and a build that plays repo2docker's part.

repo2docker builds the image in three steps this test repeats in a temporary copy of the
repository: ``pip install -r binder/requirements.txt`` run from the repository root (so the
requirement "." is the repository), then ``binder/postBuild`` run from the repository root
with $HOME being that root, then ``binder/start <command>`` at every launch. The copy gets a
fresh virtual environment (pip's cache is reused) and the tiny dataset profile instead of the
course's default one, through STATELAB_BINDER_PROFILE.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BINDER = REPO / "binder"
MARKERS = (b"BEGIN SOLUTION", b"BEGIN HIDDEN TESTS")
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "data", "node_modules", "__pycache__", "*.egg-info",
    "_build", ".pytest_cache", ".ipynb_checkpoints", "statelab-data",
)


def _code_lines(path: Path) -> list[str]:
    return [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


# ------------------------------------------------------------------------------------------
# static checks (fast)
# ------------------------------------------------------------------------------------------
def test_binder_folder_is_complete():
    for name in ("requirements.txt", "postBuild", "start", "runtime.txt"):
        assert (BINDER / name).is_file(), name
    for name in ("postBuild", "start"):
        assert os.access(BINDER / name, os.X_OK), f"binder/{name} must be executable"


def test_postbuild_stops_on_errors():
    assert (BINDER / "postBuild").read_text().startswith("#!")
    assert _code_lines(BINDER / "postBuild")[0] == "set -euo pipefail"


def test_start_ends_with_exec():
    assert _code_lines(BINDER / "start")[-1] == 'exec "$@"'
    assert "STATELAB_DATA_DIR" in (BINDER / "start").read_text()


def test_requirements_install_the_repository_with_the_course_extra():
    assert ".[course]" in _code_lines(BINDER / "requirements.txt")


def test_postbuild_removes_instructor_material():
    text = (BINDER / "postBuild").read_text()
    for needle in ("assignments/source", "truth=False", "-iname 'truth*'", "STATELAB_BINDER_PROFILE"):
        assert needle in text, needle
    # the script's own marker check must not itself trip a plain-text search
    assert not any(m in text.encode() for m in MARKERS)


# ------------------------------------------------------------------------------------------
# the build (slow: a fresh environment with the course extra)
# ------------------------------------------------------------------------------------------
def _copy_repository(dest: Path) -> None:
    """Tracked and untracked-but-not-ignored files, as a fresh clone plus work in progress."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO, capture_output=True, check=True, timeout=60,
        ).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(REPO, dest, ignore=COPY_IGNORE, symlinks=True)
        return
    for rel in filter(None, listed):
        src = REPO / rel
        if not src.is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


@pytest.fixture
def binder_build(tmp_path):
    base = tmp_path
    repo = base / "repo"
    repo.mkdir()
    _copy_repository(repo)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    vbin = venv / "bin"
    env = {
        k: v for k, v in os.environ.items()
        if k not in {"VIRTUAL_ENV", "PYTHONPATH", "STATELAB_DATA_DIR", "JUPYTER_CONFIG_DIR",
                     "JUPYTER_CONFIG_PATH", "JUPYTER_PATH", "JUPYTER_DATA_DIR"}
    }
    env.update(
        PATH=f"{vbin}{os.pathsep}{os.environ.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        HOME=str(repo),  # repo2docker's $HOME is the repository
        PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        STATELAB_BINDER_PROFILE="tiny",
    )
    log = base / "build.log"
    with open(log, "w") as fh:
        for step in (
            [str(vbin / "python"), "-m", "pip", "install", "-r", "binder/requirements.txt"],
            ["bash", "binder/postBuild"],
        ):
            fh.write(f"$ {' '.join(step)}\n")
            fh.flush()
            proc = subprocess.run(step, cwd=repo, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                  timeout=1500)
            if proc.returncode != 0:
                fh.flush()
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:])
                pytest.fail(f"{' '.join(step)} exited {proc.returncode}\n{tail}")
    yield {"repo": repo, "venv": venv, "env": env, "log": log}
    # postBuild made the dataset read-only; let pytest's tmp cleanup remove it
    subprocess.run(["chmod", "-R", "u+w", str(repo)], check=False, timeout=120)


def _check_dataset_is_built_and_connect_works_after_start(binder_build):
    repo, env = binder_build["repo"], binder_build["env"]
    assert any((repo / "statelab-data").iterdir()), "postBuild wrote no dataset"
    code = (
        "import os, synthetic_data as sd; "
        "con = sd.connect(profile='tiny'); "
        "print(os.environ['STATELAB_DATA_DIR']); "
        "print(con.sql('SELECT count(*) FROM ui_wage').fetchall()[0][0])"
    )
    out = subprocess.run(
        ["bash", "binder/start", str(binder_build["venv"] / "bin" / "python"), "-c", code],
        cwd=repo, env=env, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    data_dir, rows = out.stdout.split()[-2:]
    assert Path(data_dir) == repo / "statelab-data"
    assert int(rows) > 0


def _check_image_has_no_truth_sources_or_solutions(binder_build):
    repo = binder_build["repo"]
    assert not (repo / "assignments" / "source").exists()
    # Truth tables are data: a truth* folder anywhere, or a truth* file that is not Python source. Code that
    # reads the truth (statelab/datalabs/truth_checks.py, an instructor tool) holds none of it, and the package
    # is installed in site-packages whatever the working copy keeps; the truth catalog check below shows the
    # data itself cannot be opened.
    truth = [p for p in repo.rglob("*")
             if p.name.lower().startswith("truth") and (p.is_dir() or p.suffix != ".py")]
    assert not truth, truth
    leaks = []
    for path in repo.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(m in data for m in MARKERS):
                leaks.append(path.relative_to(repo))
    assert not leaks, leaks
    sources = REPO / "assignments" / "source"
    if (REPO / "graders" / "_cli.py").is_file() and sources.is_dir() and any(sources.iterdir()):
        released = repo / "assignments" / "release"
        for assignment in sources.iterdir():
            assert list((released / assignment.name).glob("*.ipynb")), f"{assignment.name} not released"
    leftovers = sorted(p.name for p in (repo / "assignments").iterdir()) if (repo / "assignments").exists() else []
    assert leftovers in ([], ["release"]), leftovers


def _check_truth_catalog_is_not_available(binder_build):
    code = (
        "import synthetic_data as sd\n"
        "try:\n"
        "    con = sd.connect(profile='tiny', truth=True)\n"
        "    con.sql('SELECT count(*) FROM truth.person').fetchall()\n"
        "except Exception as exc:\n"
        "    print('refused', type(exc).__name__)\n"
        "else:\n"
        "    print('AVAILABLE')\n"
    )
    out = subprocess.run(
        ["bash", "binder/start", str(binder_build["venv"] / "bin" / "python"), "-c", code],
        cwd=binder_build["repo"], env=binder_build["env"], capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("refused"), out.stdout


def _check_learners_get_no_instructor_extensions(binder_build):
    jupyter = str(binder_build["venv"] / "bin" / "jupyter")
    kw = dict(cwd=binder_build["repo"], env=binder_build["env"], capture_output=True, text=True,
              timeout=120)
    lab = subprocess.run([jupyter, "labextension", "list"], **kw)
    labtext = lab.stdout + lab.stderr
    for plugin in ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"):
        assert plugin in labtext, labtext  # listed under "Disabled extensions"
    disabled = labtext.split("Disabled extensions:", 1)
    assert len(disabled) == 2 and "@jupyter/nbgrader:formgrader" in disabled[1], labtext
    server = subprocess.run([jupyter, "server", "extension", "list"], **kw)
    lines = re.sub(r"\x1b\[[0-9;]*m", "", server.stdout + server.stderr).splitlines()

    def states(ext):  # from the "<name> enabled|disabled" status lines
        return {
            word
            for line in lines if f"nbgrader.server_extensions.{ext}" in line
            for word in ("enabled", "disabled") if re.search(rf"\b{word}\b", line)
        }

    for ext in ("formgrader", "course_list", "assignment_list"):
        assert states(ext) == {"disabled"}, (ext, lines)
    assert states("validate_assignment") == {"enabled"}, lines


@pytest.mark.slow
def test_binder_build(binder_build):
    """One test for the whole build, so that pytest-xdist never builds the image twice."""
    _check_dataset_is_built_and_connect_works_after_start(binder_build)
    _check_image_has_no_truth_sources_or_solutions(binder_build)
    _check_truth_catalog_is_not_available(binder_build)
    _check_learners_get_no_instructor_extensions(binder_build)
