"""Generation under real faults: killed at random points, out of disk space.

The previous dataset must survive, the new one must be complete or absent, and the error
must say what happened. Faults are real: the generator runs in a child process that is
SIGKILLed, or writes to a small tmpfs (or, where mounting is not permitted, under a
file-size limit, which fails writes with EFBIG the way a full disk fails them with ENOSPC).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import synthetic_data as sd
from synthetic_data._dataset import recover_interrupted

pytestmark = pytest.mark.slow

NEW_SEED = sd.DEFAULT_SEED + 7
GENERATE = ("import sys, synthetic_data as sd; "
            "sd.generate('tiny', seed=int(sys.argv[2]), out=sys.argv[1], overwrite=True, workers=1)")


def _fingerprint(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def _seed_of(folder: Path) -> int:
    return json.loads((folder / "manifest.json").read_text())["seed"]


def _run(out: Path, *, preexec=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", GENERATE, str(out), str(NEW_SEED)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec)


def test_killed_at_random_points_loses_nothing(tiny_dataset, tmp_path):
    out = tmp_path / "data"
    shutil.copytree(tiny_dataset, out)
    old = _fingerprint(out)

    started = time.perf_counter()  # calibration only: how long one whole run takes here
    proc = _run(tmp_path / "calibration")
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    full = time.perf_counter() - started
    shutil.rmtree(tmp_path / "calibration")

    rng = np.random.default_rng(20260101)
    outcomes = []
    for delay in np.sort(rng.uniform(0.05, 1.1, size=5)) * full:
        proc = _run(out)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        recover_interrupted(out)
        assert (out / "manifest.json").exists(), f"killed after {delay:.1f} s: no dataset left at {out}"
        seed = _seed_of(out)
        if seed == sd.DEFAULT_SEED:
            assert _fingerprint(out) == old, f"killed after {delay:.1f} s: the old dataset changed"
        else:
            assert seed == NEW_SEED
            sd.validate_dataset(out)  # the new one is whole
        assert sorted(p.name for p in tmp_path.iterdir()) == ["data"], "leftovers of the killed run"
        outcomes.append(seed)
        if seed == NEW_SEED:  # put the old one back so the next kill is tested against it
            shutil.rmtree(out)
            shutil.copytree(tiny_dataset, out)
    # at least one kill landed mid-run (otherwise the test proved nothing)
    assert sd.DEFAULT_SEED in outcomes


def _small_disk(tmp_path: Path, size_mb: int):
    """A folder on a tmpfs of `size_mb`, or None where mounting is not permitted."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return None
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mnt)],
                         capture_output=True)
    return mnt if res.returncode == 0 else None


def test_out_of_disk_keeps_the_old_dataset(tiny_dataset, tmp_path):
    size_mb = sum(_fingerprint(tiny_dataset).values()) // 2**20 + 4  # the old dataset fits, a second does not
    disk = _small_disk(tmp_path, size_mb)
    try:
        root = disk if disk is not None else tmp_path / "limited"
        root.mkdir(exist_ok=True)
        out = root / "data"
        shutil.copytree(tiny_dataset, out)
        old = _fingerprint(out)
        if disk is not None:
            proc = _run(out)
        else:  # no mount permission: cap the size of any file the child writes
            import resource

            def limit():
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (512 * 1024, 512 * 1024))
            proc = _run(out, preexec=limit)
        _, err = proc.communicate(timeout=600)
        assert proc.returncode != 0
        last = err.strip().splitlines()[-1]
        assert last.startswith("synthetic_data._errors.OutputError") or "OutputError" in last, err[-2000:]
        assert ("disk full" in last) if disk is not None else ("could not write" in last or "disk full" in last)
        assert "nothing was changed" in last
        assert _fingerprint(out) == old
        assert sorted(p.name for p in root.iterdir() if p.name != "lost+found") == ["data"], "partial left behind"
    finally:
        if disk is not None:
            subprocess.run(["umount", str(disk)], check=False)


def test_a_dataset_parked_by_a_killed_swap_is_restored(tiny_dataset, tmp_path):
    """Killed between moving the old dataset aside and moving the new one in: the next use puts it back."""
    out = sd.dataset_path("tiny", data_root=tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    shutil.copytree(tiny_dataset, tmp_path / f".{out.name}.old-{dead}")
    (tmp_path / f".{out.name}.partial-{dead}-abc").mkdir()
    assert sd.ensure_dataset("tiny", data_root=tmp_path) == out  # restores; does not regenerate
    assert _fingerprint(out) == _fingerprint(tiny_dataset)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
