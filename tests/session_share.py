"""Work done once per test session and shared by every pytest-xdist worker (not collected by pytest).

A generated dataset, a released class or a built course costs seconds to minutes; with ``-n 2`` each
worker would otherwise make its own copy. The first worker to take a folder's lock does the work; the
others wait for the lock and read the result.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no lock, so every xdist worker works in its own folder (shared_dir)
    fcntl = None


def shared_dir(tmp_path_factory) -> Path:
    """A folder shared by all pytest-xdist workers of this session (the session's own folder otherwise)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") and fcntl is not None else base


def build_once(root: Path, key: str, build) -> tuple[Path, dict]:
    """Run ``build(folder) -> dict`` once per session across xdist workers; return (folder, dict).

    The first worker to get the lock builds into ``root/key`` and writes the dict as
    JSON; the others wait for the lock and reuse the result. Consumers must treat the
    folder as read-only (copy it to change anything).
    """
    root.mkdir(parents=True, exist_ok=True)
    folder, done = root / key, root / f"{key}.json"
    with open(root / f"{key}.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if the holder dies
        try:
            if not done.exists():
                if folder.exists():
                    shutil.rmtree(folder)
                folder.mkdir()
                done.write_text(json.dumps(build(folder)))
        finally:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)
    return folder, json.loads(done.read_text())
