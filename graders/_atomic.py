"""Write files so that readers never see a half-written one."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "replace_dir", "file_stamp"]


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


def replace_dir(new: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Move the folder `new` to `target`, replacing any existing `target`.

    The old folder is first renamed aside and deleted only after the new one is in
    place, so `target` is at every moment either the complete old or the complete
    new folder (apart from the instant between the two renames).

    Parameters
    ----------
    new : path-like
        A complete folder, ideally on the same file system as `target`.
    target : path-like
        The folder to create or replace.
    """
    new, target = Path(new), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    staged.rmdir()
    shutil.move(str(new), str(staged))  # copy across file systems if needed
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(target, old)
    os.replace(staged, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def file_stamp(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """``(modification time in ns, size)`` of a file, or ``None`` when it does not exist.

    Enough to notice that a file was rewritten since it was last read.
    """
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size)
