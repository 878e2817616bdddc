"""Datasets on disk: where they live, the manifest that marks one complete, and publishing one.

A dataset is ``<data root>/<profile>-<seed>/``. Generation writes into a temporary sibling folder and
renames it into place at the end, so a reader sees the previous complete dataset or the new one, never
half of one; a run killed midway leaves folders that :func:`recover_interrupted` cleans up. The manifest
is written last and records the generator version: a dataset made by an older generator is stale, since
lessons state what the current world shows.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

from ._errors import DatasetNotFoundError, OutputError
from ._profiles import load_profile
from ._rng import check_seed

__all__ = ["DEFAULT_SEED", "ENV_DATA_DIR", "MANIFEST", "GENERATOR_VERSION", "data_root", "dataset_path",
           "read_manifest", "is_current", "recover_interrupted", "prepare_target", "publish"]

DEFAULT_SEED = 20260101
ENV_DATA_DIR = "STATELAB_DATA_DIR"


def data_root(data_root=None):
    """Where datasets live: the argument, else ``$STATELAB_DATA_DIR``, else ``~/statelab-data``."""
    return _root(data_root)


def _root(explicit):
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get(ENV_DATA_DIR)
    return Path(env) if env else Path.home() / "statelab-data"


def dataset_path(profile="default", *, seed=DEFAULT_SEED, data_root=None):
    """The folder of a dataset: ``<data root>/<profile>-<seed>``."""
    name = load_profile(profile)["name"]        # a clear error for a bad name; a profile file's stem
    return _root(data_root) / f"{name}-{check_seed(seed)}"


MANIFEST = "manifest.json"
#: 2: the world in time (wage growth, rules by year, the 2020 shock, pandemic programs, churn, recalls).
GENERATOR_VERSION = "2"


def read_manifest(dataset):
    """The manifest of a complete dataset, or raise :class:`DatasetNotFoundError`."""
    try:
        return json.loads((Path(dataset) / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetNotFoundError(f"no complete dataset at {dataset} (no {MANIFEST}); "
                                   "generate one with `statelab-data generate`") from None


def is_current(dataset):
    """Whether ``dataset`` is complete and was made by this generator version."""
    try:
        return read_manifest(dataset).get("generator_version") == GENERATOR_VERSION
    except (DatasetNotFoundError, ValueError):
        return False


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def recover_interrupted(out):
    """Undo what a killed run left next to `out`.

    A run writes ``.<name>.partial-<pid>-*`` and, while swapping a finished dataset in,
    briefly parks the previous one at ``.<name>.old-<pid>``. If that process died (SIGKILL,
    power loss), the parked dataset is put back when `out` is missing, and the leftovers of
    dead runs are removed. Folders of runs still alive are left alone.
    """
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        return
    for leftover in sorted(parent.glob(f".{out.name}.*-*")):
        kind, _, rest = leftover.name[len(out.name) + 2:].partition("-")
        pid = rest.split("-")[0]
        if kind not in ("partial", "old") or not pid.isdigit() or _pid_alive(int(pid)):
            continue
        if kind == "old" and not out.exists() and (leftover / MANIFEST).exists():
            os.replace(leftover, out)
        else:
            shutil.rmtree(leftover, ignore_errors=True)


def prepare_target(out, overwrite):
    """Check ``out`` can be (re)placed and make the temporary sibling folder to write into: ``(out, tmp)``."""
    out = Path(out)
    recover_interrupted(out)
    if out.exists() and not overwrite:
        raise OutputError(f"{out} already exists; pass overwrite=True (CLI: --overwrite) to replace it")
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder")
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-{os.getpid()}-", dir=parent))
    except OSError as exc:
        raise OutputError(f"cannot write to {parent}: {exc.strerror or exc}") from None
    return out, tmp


def publish(tmp, out):
    """Swap the finished folder into place; the old dataset is removed only after."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except OSError:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
