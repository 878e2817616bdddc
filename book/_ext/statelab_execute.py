"""Execute the book's stale notebooks in parallel, into the jupyter-cache that Jupyter Book 1 reads.

``_config.yml`` sets ``execute_notebooks: cache``: myst-nb looks each notebook up in
``<output>/_build/.jupyter_cache`` by the hash of its code cells and kernelspec, and executes it itself,
one after another, only when it is missing. ``book/build.py`` calls :func:`execute_book` first, which
adds every notebook of the table of contents to that same cache and executes the missing ones over a pool
of processes (jupyter-cache's own worker and ``single_nb_execution``, as myst-nb uses), so Sphinx then
finds every notebook cached and executes nothing.

Same execution as the book's: the kernel named by each notebook, its own folder as working directory
(``run_in_temp: false``), ``timeout`` and ``allow_errors`` from ``_config.yml`` (and a notebook's own
``metadata.execution`` overrides, as myst-nb allows), ``execute.exclude_patterns`` matched as myst-nb matches
them, ``skip-execution`` cells skipped and ``raises-exception`` cells allowed to fail (nbclient's rules, which
myst-nb relies on too). The kernels inherit the caller's environment: set it before calling.

A notebook that fails is not cached (myst-nb would execute it again and fail the build the same way); its
failure is returned naming the notebook and the cell. Text notebooks (MyST Markdown with a kernelspec) are
left to Jupyter Book: the book has none today.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from jupyter_cache import get_cache
from jupyter_cache.executors.base import ExecutorRunResult, JupyterExecutorAbstract
from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc, ProcessData
from jupyter_cache.executors.utils import ExecutionResult, single_nb_execution

__all__ = ["ExecutionReport", "book_notebooks", "execute_book", "execute_notebooks", "failed_cell"]

_LOG = logging.getLogger("statelab_execute")


def _errors_only() -> logging.Handler:
    # jupyter-cache logs "Execution Excepted" as a warning with the whole traceback; failures are reported
    # once, by the caller. Errors (a notebook that cannot be read, a cache write that fails) still show.
    handler = logging.StreamHandler()
    handler.setLevel(logging.ERROR)
    return handler


_LOG.addHandler(_errors_only())
_LOG.propagate = False


@dataclass
class ExecutionReport:
    """What :func:`execute_notebooks` did: notebooks found, executed, and failures (one line each)."""

    notebooks: list[str] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    jobs: int = 1

    @property
    def cached(self) -> int:
        return len(self.notebooks) - len(self.executed) - len(self.failures)


def _label(path: str | Path, root: Path | None) -> str:
    if root is not None:
        try:
            return Path(path).relative_to(root).as_posix()
        except ValueError:
            pass
    return Path(path).as_posix()


def failed_cell(nb) -> tuple[int, object] | None:
    """(index, cell) of the cell that stopped the notebook: the last one with an error output that was not
    allowed to raise, else the last cell that started (a timeout or a dead kernel leaves no error output)."""
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for i, cell in reversed(code):
        allowed = "raises-exception" in (cell.get("metadata", {}).get("tags") or [])
        if not allowed and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return i, cell
    for i, cell in reversed(code):
        if cell.get("execution_count") is not None:
            return i, cell
    return None


def describe_failure(nb, err: BaseException) -> str:
    """One line: which cell failed (counting every cell from 1, as a reader scrolls) and why."""
    found = failed_cell(nb)
    if found is None:
        return f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}".rstrip(": ")
    i, cell = found
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    first = first if len(first) <= 60 else first[:57] + "..."
    error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
    why = f"{error['ename']}: {error['evalue']}" if error else (str(err).strip().splitlines() or [type(err).__name__])[0]
    return f"cell {i + 1} of {len(nb.cells)} ({first!r}) raised {why}"


class _Worker(ExecutionWorkerLocalMProc):
    """jupyter-cache's local multiprocessing worker, printing progress and naming the failing cell.

    Picklable (sent to the pool): holds only the folder that notebook names are printed relative to.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = root

    @property
    def logger(self) -> logging.Logger:
        return _LOG

    def log_info(self, msg: str) -> None:  # progress is printed by execute()
        pass

    def execute(self, project_nb, data: ProcessData) -> ExecutionResult:
        name = _label(project_nb.uri, self.root)
        cwd = str(Path(project_nb.uri).parent)
        print(f"[statelab] executing {name}", flush=True)
        try:
            result = single_nb_execution(project_nb.nb, cwd=cwd, timeout=data.timeout,
                                         allow_errors=data.allow_errors, meta_override=True)
        except Exception as exc:  # a dead kernel or a kernel that cannot start: a failure of this notebook
            result = ExecutionResult(project_nb.nb, cwd, 0.0, exc, traceback.format_exc())
        if result.err is None:
            print(f"[statelab] executed {name} in {result.time:.1f} s", flush=True)
        else:
            # The first line is what the build reports; the full traceback follows, kept in the cache's record.
            result.exc_string = f"{describe_failure(result.nb, result.err)}\n{result.exc_string or ''}"
            print(f"[statelab] FAILED {name}", flush=True)
        return result


class ParallelExecutor(JupyterExecutorAbstract):
    """jupyter-cache's local parallel executor with a chosen number of processes (``local-parallel`` always
    uses one per CPU). ``jobs=1`` executes in this process, one notebook after another."""

    def __init__(self, cache, jobs: int, root: Path | None = None) -> None:
        super().__init__(cache, logger=_LOG)
        self.jobs = jobs
        self.root = root

    def run_and_cache(self, *, filter_uris=None, filter_pks=None, timeout=30, allow_errors=False, force=False,
                      **kwargs) -> ExecutorRunResult:
        records = self.get_records(filter_uris, filter_pks, clear_tracebacks=True, force=force)
        tasks = [ProcessData(r.pk, r.uri, self.cache, timeout, allow_errors) for r in records]
        worker = _Worker(self.root)
        if self.jobs == 1 or len(tasks) <= 1:
            results = [worker(t) for t in tasks]
        else:
            # chunksize 1: a slow notebook never holds others back in its chunk.
            with multiprocessing.Pool(min(self.jobs, len(tasks))) as pool:
                results = list(pool.imap_unordered(worker, tasks, chunksize=1))
        return ExecutorRunResult(succeeded=[u for s, u in results if s == 0],
                                 excepted=[u for s, u in results if s == 1],
                                 errored=[u for s, u in results if s == 2])


def execute_notebooks(notebooks: list[Path], cache_dir: Path, *, jobs: int, timeout: int | None = 30,
                      allow_errors: bool = False, root: Path | None = None) -> ExecutionReport:
    """Execute, ``jobs`` at a time, those of ``notebooks`` not yet in the jupyter-cache at ``cache_dir``.

    Notebooks are registered with their absolute, unresolved path (as myst-nb registers them); each runs
    with its own folder as working directory. Returns the report; nothing raises for a failing notebook.
    """
    t0 = time.monotonic()
    cache = get_cache(str(cache_dir))
    uris = [cache.add_nb_to_project(str(p)).uri for p in notebooks]
    executor = ParallelExecutor(cache, jobs=jobs, root=root)
    result = executor.run_and_cache(filter_uris=uris, timeout=timeout, allow_errors=allow_errors)
    failures = []
    for uri in result.excepted + result.errored:
        record = cache.get_project_record(uri)
        why = (record.traceback or "").split("\n", 1)[0] or "could not be executed or cached (see the errors above)"
        failures.append(f"{_label(uri, root)}: {why}")
    return ExecutionReport(notebooks=uris, executed=[_label(u, root) for u in result.succeeded],
                           failures=sorted(failures), seconds=time.monotonic() - t0, jobs=jobs)


def _excluded(path: Path, patterns: list[str]) -> bool:
    posix = PurePosixPath(path.as_posix())  # myst-nb's rule: PurePosixPath.match, anchored at the right
    return any(posix.match(p) for p in patterns)


def book_notebooks(source: Path, execute_config: dict) -> list[Path]:
    """The ``.ipynb`` pages of the book's table of contents that Jupyter Book would execute, in toc order."""
    from sphinx_external_toc.parsing import parse_toc_yaml

    site_map = parse_toc_yaml(str(Path(source) / "_toc.yml"))
    patterns = list(execute_config.get("exclude_patterns") or [])
    found = []
    for docname in site_map:
        path = Path(source).absolute() / f"{docname}.ipynb"
        if path.is_file() and not _excluded(path, patterns):
            found.append(path)
    return found


def execute_book(source: Path, build_dir: Path, config: dict, *, jobs: int, root: Path | None = None
                 ) -> ExecutionReport | None:
    """Execute the book's stale notebooks into ``build_dir/.jupyter_cache`` (or ``execute.cache``).

    ``config`` is the parsed ``_config.yml``. Returns None (nothing done, Jupyter Book executes as
    configured) unless it uses ``execute_notebooks: cache`` without ``run_in_temp``.
    """
    execute = config.get("execute") or {}
    if execute.get("execute_notebooks", "auto") != "cache" or execute.get("run_in_temp", False):
        return None
    cache_dir = Path(execute.get("cache") or Path(build_dir) / ".jupyter_cache")
    return execute_notebooks(book_notebooks(source, execute), cache_dir, jobs=jobs, timeout=execute.get("timeout", 30),
                             allow_errors=bool(execute.get("allow_errors", False)), root=root)


def default_jobs() -> int:
    return os.cpu_count() or 1
