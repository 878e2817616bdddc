"""Write files and folders so that readers never see a half-written one.

graders' one implementation of "write aside, then swap into place" (the generator has its own,
``synthetic_data``'s dataset publishing: graders imports no project package, see ARCHITECTURE.md).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "keep_previous", "replace_dir", "file_stamp"]


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to `target`; rename it onto `target` on success.

    Parameters
    ----------
    target : path-like
        The final file name. Its folder is created if needed.

    Yields
    ------
    pathlib.Path
        A path in the same folder (same file system, so the rename is atomic).
        Write the whole file there. If the ``with`` block raises, the temporary
        file is removed and `target` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def keep_previous(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Set the folder `target` aside while the block rebuilds it; put it back if the block fails.

    The one way graders swaps a folder into place (:func:`replace_dir` and the release step, where
    nbgrader itself writes the new folder, both use it).

    Parameters
    ----------
    target : path-like
        The folder to rebuild. Its parent is created if needed.

    Yields
    ------
    pathlib.Path
        `target`, now absent. The previous folder waits beside it as ``.<name>.old-<pid>`` and is
        deleted only after the block succeeds; if the block raises, whatever it left at `target`
        is removed and the previous folder is renamed back, so `target` is at every moment the
        complete old or the complete new folder (apart from the instant between two renames).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(target, old)
    try:
        yield target
    except BaseException:
        if old is not None:
            shutil.rmtree(target, ignore_errors=True)
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def replace_dir(new: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Move the folder `new` to `target`, replacing any existing `target`.

    `new` is first moved beside `target` (copied if it is on another file system), then renamed
    into place under :func:`keep_previous`: the old folder is deleted only after the new one is
    in place, and put back if the rename fails.

    Parameters
    ----------
    new : path-like
        A complete folder. It is gone afterwards, whether or not the replacement succeeded.
    target : path-like
        The folder to create or replace.
    """
    new, target = Path(new), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    staged.rmdir()
    try:
        shutil.move(str(new), str(staged))  # copy across file systems if needed
        with keep_previous(target):
            os.replace(staged, target)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def file_stamp(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """``(modification time in ns, size)`` of a file, or ``None`` when it does not exist.

    Enough to notice that a file was rewritten since it was last read.
    """
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size)
