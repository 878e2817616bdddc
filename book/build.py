"""Build the statelab book: make sure the data exist, write generated pages, run Jupyter Book 1.

    python book/build.py                          # default profile -> book/_build/html
    python book/build.py --profile tiny           # quick build -> book/_build/profiles/tiny-<seed>/_build/html
    python book/build.py --profile tiny --output /tmp/bk --data-root /tmp/data

Options fall back to environment variables: STATELAB_PROFILE, STATELAB_SEED, STATELAB_DATA_DIR.

Notebooks always run with their default parameters (``profile = "default"``, ``data_root = None``), so
they read ``$STATELAB_DATA_DIR/default-<DEFAULT_SEED>``. To build on another profile or seed, this script
points STATELAB_DATA_DIR at a staging folder inside the build directory where ``default-<DEFAULT_SEED>``
is a symlink to the requested dataset. Each profile/seed gets its own output folder by default, and the
execution cache is cleared whenever the dataset behind a build folder changes, so cached outputs from one
dataset are never shown for another.

Before Sphinx runs, the notebooks not yet in the execution cache are executed ``--jobs`` at a time (default:
one per CPU) into the same jupyter-cache Jupyter Book reads (``_ext/statelab_execute.py``), with the same
environment, working directory, timeout and exclusions; Jupyter Book then finds them cached. On Linux their
kernels are forked from one that has already imported the course's stack (``_ext/statelab_kernel_forks.py``;
``STATELAB_KERNEL_FORKS=off`` starts each the usual way). A notebook that fails stops the build before Sphinx,
naming the notebook and the cell.

Warnings are errors (``-W --keep-going``) and ``_config.yml`` sets ``raise_on_error``, so a notebook that
raises fails the build. After a successful build the HTML is scanned for solution / hidden-test markers
and for assets that would be fetched from the network. Exit status is non-zero on any failure.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

BOOK_DIR = Path(__file__).resolve().parent
REPO_ROOT = BOOK_DIR.parent

sys.path.insert(0, str(BOOK_DIR / "_ext"))
import statelab_book  # noqa: E402  (the book's own Sphinx extension: page generators)
import statelab_execute  # noqa: E402  (parallel execution into the book's jupyter-cache)
import statelab_kernel_forks  # noqa: E402  (kernels forked from one that has imported the stack)

# Remote loads in built HTML: <script src=http...>, <link href=http...> (stylesheets, fonts, preloads), <img src=http...>
_REMOTE_ASSET = re.compile(
    r"<(?:script|img|iframe|source)\b[^>]*\bsrc=[\"'](?:https?:)?//[^\"']+[\"']"
    r"|<link\b(?=[^>]*\brel=[\"'](?:stylesheet|preload|modulepreload|prefetch|icon|manifest)[\"'])[^>]*\bhref=[\"'](?:https?:)?//[^\"']+[\"']"
    r"|@import\s+url\([\"']?(?:https?:)?//",
    re.IGNORECASE,
)
_REMOTE_IMPORT = re.compile(r"@import\s+(?:url\()?[\"']?(?:https?:)?//", re.IGNORECASE)
# References to the hidden truth catalog (instructor/test only): `truth.person`, `truth.crosswalk`, ...
_TRUTH_REF = re.compile(r"\btruth\.[a-z_]{2,}\b")


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def _jobs(value: str) -> int:
    try:
        jobs = int(value)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of notebooks to run at once: give 1 or more")
    return jobs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default=os.environ.get("STATELAB_PROFILE") or "default", help="data profile (default: $STATELAB_PROFILE or 'default')")
    p.add_argument("--seed", type=int, default=_env_int("STATELAB_SEED"), help="data seed (default: $STATELAB_SEED or synthetic_data.DEFAULT_SEED)")
    p.add_argument("--data-root", type=Path, default=None, help="where datasets live (default: $STATELAB_DATA_DIR or ~/statelab-data)")
    p.add_argument("--source", type=Path, default=BOOK_DIR, help="book source folder (default: this folder)")
    p.add_argument("--output", type=Path, default=None, help="jupyter-book --path-output (HTML lands in OUTPUT/_build/html)")
    p.add_argument("--release-dir", type=Path, default=None, help="released assignments to publish (default: assignments/release)")
    p.add_argument("--all", action="store_true", help="rebuild every page (execution cache is still used)")
    p.add_argument("--fresh", action="store_true", help="delete the output's _build folder first (re-executes everything)")
    p.add_argument("--no-check", action="store_true", help="skip the scan of the built HTML")
    p.add_argument("--jobs", type=_jobs, default=statelab_execute.default_jobs(),
                   help="notebooks executed at once before the Sphinx build (default: the number of CPUs, "
                        f"{statelab_execute.default_jobs()} here; 1 = one after another)")
    return p.parse_args(argv)


def dataset_fingerprint(path: Path) -> str:
    """Cheap fingerprint of a dataset folder: file names, sizes and modification times."""
    h = hashlib.sha256()
    for f in sorted(Path(path).resolve().rglob("*")):
        if f.is_file():
            st = f.stat()
            h.update(f"{f.relative_to(path.resolve())}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def prepare_data(profile: str, seed: int, data_root: Path | None, build_dir: Path) -> tuple[Path, Path]:
    """Ensure the dataset exists; return (dataset path, directory to export as STATELAB_DATA_DIR)."""
    import synthetic_data as sd

    dataset = Path(sd.ensure_dataset(profile, seed=seed, data_root=data_root))
    if profile == "default" and seed == sd.DEFAULT_SEED:
        return dataset, dataset.parent
    stage = build_dir / "statelab-data"
    stage.mkdir(parents=True, exist_ok=True)
    link = stage / dataset.name.replace(f"{profile}-{seed}", f"default-{sd.DEFAULT_SEED}")
    if link.name == dataset.name:  # unusual naming: fall back to the contract's layout
        link = stage / f"default-{sd.DEFAULT_SEED}"
    if link.is_symlink() or link.exists():
        if link.is_symlink() and Path(os.readlink(link)) == dataset.resolve():
            return dataset, stage
        link.unlink() if link.is_symlink() else shutil.rmtree(link)
    link.symlink_to(dataset.resolve(), target_is_directory=True)
    return dataset, stage


def invalidate_cache_if_data_changed(build_dir: Path, stamp: dict) -> bool:
    """Clear the execution cache and doctrees when the dataset behind this build folder changed."""
    stamp_file = build_dir / ".statelab-dataset.json"
    old = json.loads(stamp_file.read_text()) if stamp_file.exists() else None
    changed = old != stamp
    if changed:
        for sub in (".jupyter_cache", ".doctrees", "jupyter_execute"):
            shutil.rmtree(build_dir / sub, ignore_errors=True)
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp_file.write_text(json.dumps(stamp, indent=1))
    return changed and old is not None


def scan_html(html_dir: Path) -> list[str]:
    """Problems in the built HTML: leaked solution/hidden-test markers, truth tables, remote assets."""
    html_dir = Path(html_dir)
    problems = []
    for f in sorted(html_dir.rglob("*")):
        if not f.is_file() or f.suffix not in {".html", ".css", ".js", ".txt", ".ipynb", ".md"}:
            continue
        rel = f.relative_to(html_dir)
        text = f.read_text(encoding="utf-8", errors="replace")
        if rel.parts[0] == "_static" and f.name != "statelab.css":
            # bundled theme assets: only check that stylesheets do not import remote files
            if f.suffix == ".css" and _REMOTE_IMPORT.search(text):
                problems.append(f"{rel}: remote @import")
            continue
        for marker in sorted(set(statelab_book.FORBIDDEN_MARKERS.findall(text))):
            problems.append(f"{rel}: contains {marker!r}")
        if m := _TRUTH_REF.search(text):
            problems.append(f"{rel}: mentions a truth table ({m.group(0)!r})")
        if f.suffix == ".html" and (m := _REMOTE_ASSET.search(text)):
            problems.append(f"{rel}: loads a remote asset: {m.group(0)[:120]}")
    return problems


def read_config(source: Path) -> dict:
    import yaml

    return yaml.safe_load((source / "_config.yml").read_text(encoding="utf-8")) or {}


@contextlib.contextmanager
def _environment(env: dict[str, str]):
    """Run with ``os.environ`` replaced by ``env`` (restored afterwards)."""
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(old)


def jupyter_book_command() -> list[str]:
    exe = Path(sys.executable).with_name("jupyter-book")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("jupyter-book")
    if found:
        return [found]
    return [sys.executable, "-m", "jupyter_book.cli.main"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import synthetic_data as sd

    seed = sd.DEFAULT_SEED if args.seed is None else args.seed
    source = args.source.resolve()
    data_root = args.data_root or (Path(os.environ["STATELAB_DATA_DIR"]) if os.environ.get("STATELAB_DATA_DIR") else None)
    if args.output is not None:
        output = args.output.resolve()
    elif args.profile == "default" and seed == sd.DEFAULT_SEED:
        output = source
    else:
        output = source / "_build" / "profiles" / f"{args.profile}-{seed}"
    build_dir = output / "_build"
    if args.fresh:
        shutil.rmtree(build_dir, ignore_errors=True)

    t0 = time.monotonic()
    dataset, data_dir = prepare_data(args.profile, seed, data_root, build_dir)
    print(f"[statelab] dataset {args.profile}-{seed}: {dataset} ({time.monotonic() - t0:.1f} s)", flush=True)
    stamp = {"profile": args.profile, "seed": seed, "dataset": str(dataset.resolve()), "fingerprint": dataset_fingerprint(dataset)}
    if invalidate_cache_if_data_changed(build_dir, stamp):
        print("[statelab] dataset changed since the last build in this folder: execution cache cleared", flush=True)

    statelab_book.generate(source, args.release_dir)
    print(f"[statelab] generated pages in {source / 'generated'}", flush=True)

    # STATELAB_BOOK_BUILD tells notebooks they run for the published book: a reveal of a planted truth (an
    # answer key) shows only where an instructor runs the notebook, never in the book learners read.
    env = dict(os.environ, STATELAB_DATA_DIR=str(data_dir), STATELAB_BOOK_BUILD="1")
    if args.release_dir is not None:
        env["STATELAB_RELEASE_DIR"] = str(args.release_dir.resolve())
    # the kernels inherit it, as they do under jupyter-book; forked, each skips about 2 s of imports
    with _environment(env), statelab_kernel_forks.running():
        report = statelab_execute.execute_book(source, build_dir, read_config(source), jobs=args.jobs, root=REPO_ROOT)
    if report is not None:
        print(f"[statelab] notebooks: {len(report.executed)} executed, {report.cached} already cached, "
              f"{len(report.failures)} failed ({report.jobs} at a time, {report.seconds:.1f} s)", flush=True)
        if report.failures:
            print(f"[statelab] {len(report.failures)} notebook(s) failed; the book was not built:",
                  *report.failures, sep="\n  ", file=sys.stderr)
            return 1

    cmd = jupyter_book_command() + ["build", str(source), "--path-output", str(output), "--builder", "html", "-W", "--keep-going"]
    if args.all:
        cmd.append("--all")
    print("[statelab] " + " ".join(cmd), flush=True)
    t1 = time.monotonic()
    rc = subprocess.call(cmd, env=env, cwd=str(REPO_ROOT))
    print(f"[statelab] jupyter-book exited {rc} after {time.monotonic() - t1:.1f} s", flush=True)
    if rc != 0:
        return rc or 1
    html_dir = build_dir / "html"
    if not (html_dir / "index.html").exists():
        print(f"[statelab] no HTML at {html_dir}", file=sys.stderr)
        return 1
    if not args.no_check:
        problems = scan_html(html_dir)
        if problems:
            print("[statelab] the built book failed its checks:", *problems, sep="\n  ", file=sys.stderr)
            return 1
    print(f"[statelab] book built: {html_dir / 'index.html'} ({time.monotonic() - t0:.1f} s total)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
