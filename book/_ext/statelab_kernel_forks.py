"""Notebook kernels forked from a process that has already imported the course's stack.

A new ``python -m ipykernel_launcher`` costs about 1.2 CPU seconds before the first cell runs (the
interpreter, IPython, ZeroMQ), and the course's notebooks then spend another 0.5-2 s importing pandas,
DuckDB, matplotlib and the course packages. The book build executes some 50 notebooks and the test suite
some 500 (every assignment's solution, blank copy and scripted mistakes on two seeds, the lessons). While
:func:`running` is active, kernels skip that fixed cost and nothing else:

* ``python statelab_kernel_forks.py --serve SOCKET`` is a server that imports :data:`PRELOAD` once (and
  opens nothing a kernel could share: no ZeroMQ context, no event loop, no database) and waits on a Unix socket.
* ``python statelab_kernel_forks.py -f CONNECTION_FILE`` is the ``argv`` of a ``python3`` kernel spec that
  :func:`running` puts first on ``JUPYTER_PATH``. It hands the server its standard streams, working folder,
  environment and arguments; the server forks, and the child becomes an ordinary ipykernel in a new session
  with exactly that folder, environment and ``sys.argv``. The client stays alive as the process
  jupyter_client manages: it passes on signals (interrupts, termination) and exits when the kernel exits; if
  the client is killed, the kernel kills itself.

Every cell still runs, in a fresh namespace, in its own process; what the forked kernels share is what
importing :data:`PRELOAD` did (modules in ``sys.modules``, the warning filters statsmodels and SciPy add on
import). When the server cannot give the interpreter a kernel would get (another Python or environment, or
a variable read at import time that differs: ``PYTHONPATH``, ``MPLBACKEND``, thread counts), or it is not
listening yet, the client replaces itself with the usual ``python -m ipykernel_launcher``: forking only ever
saves time. Linux only (Unix sockets that pass file descriptors); ``STATELAB_KERNEL_FORKS=off`` turns it off.
"""

from __future__ import annotations

# Only what the client needs is imported here: it runs once per kernel. running() imports the rest.
import contextlib
import json
import os
import signal
import socket
import struct
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

ENV_SOCKET = "STATELAB_KERNEL_FORKS"
#: What a kernel imports itself, and what the course's notebooks import, in that order. Importing these is
#: all the server does before it forks: none opens a connection or an event loop a child could share (the
#: BLAS thread pool numpy starts is shut down before each fork by OpenBLAS's own fork handler and restarted
#: in the child when first used).
PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "IPython.display", "numpy", "pandas", "pyarrow",
           "duckdb", "matplotlib.pyplot", "matplotlib.patches", "scipy.stats", "statsmodels.formula.api",
           "sklearn.metrics", "sklearn.model_selection", "fairlearn.metrics", "splink", "synthetic_data",
           "statelab")
#: Environment variables a preloaded module reads when it is imported: a kernel whose environment differs
#: in any of them is not forked (it would not be the interpreter it asked for).
_IMPORT_TIME = ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONNOUSERSITE", "PYTHONWARNINGS",
                "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "MPLBACKEND", "MPLCONFIGDIR", "MATPLOTLIBRC",
                "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_MAX_THREADS")
#: ipykernel sets this before a kernel imports matplotlib; the server does the same before it imports it.
_INLINE = "module://matplotlib_inline.backend_inline"
_LAUNCHER = "ipykernel_launcher"
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def _import_time_env(env: dict) -> dict:
    """The import-time variables as a kernel started with ``env`` would see them."""
    seen = {k: env.get(k) for k in _IMPORT_TIME}
    seen["MPLBACKEND"] = seen["MPLBACKEND"] or _INLINE
    return seen


def _interpreter() -> list[str]:
    """This Python and its environment (virtual environments share one binary, so not the binary alone)."""
    return [os.path.abspath(sys.executable), sys.prefix, sys.exec_prefix]


def _python3_spec() -> dict | None:
    """The ``python3`` kernel spec as ipykernel installs it, or None when it is not the standard one."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3").to_dict()
    argv = spec["argv"]
    if argv[1:2] == [__file__]:  # already this module's (a build run by the tests): the rest is ipykernel's
        return dict(spec, argv=[argv[0], "-m", "ipykernel_launcher", *argv[2:]])
    return spec if argv[1:3] == ["-m", "ipykernel_launcher"] else None


@contextlib.contextmanager
def running(*, ready_within: float | None = None) -> Iterator[dict[str, str]]:
    """Send the kernels started in this block, in this process and its children, to a new kernel server.

    Yields the environment variables that do it (already set in ``os.environ``; pass them on to processes
    given an environment of their own), or ``{}`` where kernels are not forked (not Linux, a kernel spec
    other than ipykernel's, or ``STATELAB_KERNEL_FORKS=off``). Kernels started before the server listens
    are the usual ones; ``ready_within`` seconds, if given, waits for it (RuntimeError if it never listens).
    The server stops, and its temporary folder is removed, when the block ends.
    """
    import shutil
    import subprocess
    import tempfile
    import time
    import warnings
    from pathlib import Path

    spec = None if os.environ.get(ENV_SOCKET) == "off" or not sys.platform.startswith("linux") else _python3_spec()
    if spec is None:
        yield {}
        return
    folder = Path(tempfile.mkdtemp(prefix="statelab-kernels-"))  # short: a socket path has at most 107 bytes
    (folder / "kernels" / "python3").mkdir(parents=True)
    spec["argv"] = ["python", __file__, *spec["argv"][3:]]
    (folder / "kernels" / "python3" / "kernel.json").write_text(json.dumps(spec))
    sock, log = folder / "server", folder / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(sock)], stdout=out, stderr=out,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    variables = {"JUPYTER_PATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("JUPYTER_PATH")])),
                 ENV_SOCKET: str(sock)}
    old = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        deadline = time.monotonic() + (ready_within or 0)
        while ready_within is not None and not sock.exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the kernel server did not start; its log:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield variables
        if server.poll() is not None:  # kernels have been the usual ones since it stopped
            warnings.warn(f"the kernel server stopped early (status {server.returncode}); its log:\n"
                          + log.read_text()[-3000:], RuntimeWarning, stacklevel=3)
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


# --- the client: the kernel spec's argv ----------------------------------------------------------------


def _plain_kernel(args: list[str]) -> None:
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *args])


def client(args: list[str]) -> None:
    """Ask the server for a forked kernel with ``args``; become a plain kernel when it cannot give one."""
    path = os.environ.get(ENV_SOCKET)
    if not path:
        _plain_kernel(args)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        conn.connect(path)
        request = {"args": args, "cwd": os.getcwd(), "env": dict(os.environ),
                   "interpreter": _interpreter()}
        socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
        reply = conn.recv(64)
    except OSError:
        reply = b""
    if len(reply) != 4:  # refused (b"no") or no server: the usual kernel, in this process
        conn.close()
        _plain_kernel(args)
    (pid,) = struct.unpack("!i", reply)

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass  # the kernel has just exited; the socket says so next

    for signum in _FORWARDED:
        signal.signal(signum, forward)
    # The server's end of the socket now belongs to the kernel: it closes when the kernel exits. Like
    # ipykernel's parent poller, the kernel also ends when the process that launched it is gone.
    launcher = os.getppid()
    conn.settimeout(1.0)
    while os.getppid() == launcher:
        try:
            if not conn.recv(64):
                os._exit(0)
        except (InterruptedError, TimeoutError):
            continue
    forward(signal.SIGKILL, None)
    os._exit(1)


# --- the server -----------------------------------------------------------------------------------------


def _child(conn: socket.socket, listener: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked child: become the kernel the client asked for (never returns)."""
    import atexit
    import random
    import threading

    try:
        listener.close()
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the kernel waits for its own subprocesses
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [_LAUNCHER, *request["args"]]
        random.seed()  # a new process would have its own seeds; forks of one process share the parent's
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        conn.send(struct.pack("!i", os.getpid()))

        def orphaned() -> None:  # the client is gone (killed): end the kernel and anything it started
            while conn.recv(64):
                pass
            os.killpg(os.getpid(), signal.SIGKILL)

        threading.Thread(target=orphaned, daemon=True, name="kernel-forks-client").start()
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        # Traits whose defaults ipykernel reads from the environment when it is imported, which here was
        # in the server: give them the values this kernel's own environment would have given.
        app.parent_handle = int(os.environ.get("JPY_PARENT_PID") or 0)
        app.interrupt = int(os.environ.get("JPY_INTERRUPT_EVENT") or 0)
        app.initialize(request["args"])
        app.start()
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        status = 1
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(status)


def _import_pandas_as_a_kernel_does() -> None:
    """Import pandas as it is imported in a Jupyter kernel.

    pandas sets ``display.max_columns`` when it is imported: 0 (fit the terminal, eliding columns as
    "...") where there is no IPython shell, 20 in a Jupyter kernel, which it recognizes as a
    ``get_ipython()`` whose shell has a ``kernel``. The server has no shell, so it shows pandas one.
    """
    import builtins

    class _KernelShell:
        kernel = True

    builtins.get_ipython = _KernelShell
    try:
        import pandas  # noqa: F401
    except ImportError:
        pass
    finally:
        del builtins.get_ipython


def serve(path: str) -> None:
    """Import :data:`PRELOAD`, then fork a kernel for each client that connects to ``path``."""
    import importlib.util

    del sys.path[0]  # this script's folder; ipykernel_launcher likewise removes its own first entry
    os.environ["MPLBACKEND"] = os.environ.get("MPLBACKEND") or _INLINE
    _import_pandas_as_a_kernel_does()
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # an optional part of the stack that is not installed: the kernel imports it itself
    global _LAUNCHER
    _LAUNCHER = importlib.util.find_spec("ipykernel_launcher").origin  # a kernel's sys.argv[0]
    own = _import_time_env(os.environ)
    interpreter = _interpreter()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels are reaped automatically
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path + ".new")
    listener.listen(64)
    os.rename(path + ".new", path)  # clients see the socket only when it accepts
    print(f"kernel_forks: {os.getpid()} listening on {path} with {len(sys.modules)} modules imported", flush=True)
    while True:
        try:
            conn, _ = listener.accept()
        except OSError as exc:
            print(f"kernel_forks: accept: {exc}", flush=True)
            continue
        try:
            data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
            request = json.loads(data)
            asked = _import_time_env(request["env"])
            differs = [k for k in own if asked[k] != own[k]]
            differs += ["interpreter"] if request["interpreter"] != interpreter else []
            if len(fds) != 3 or differs:
                print(f"kernel_forks: usual kernel for a client whose {', '.join(differs) or 'streams'} differ",
                      flush=True)
                conn.send(b"no")
                for fd in fds:
                    os.close(fd)
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            if os.fork() == 0:
                _child(conn, listener, request, fds)
            for fd in fds:
                os.close(fd)
        except Exception as exc:  # a client that went away or sent nonsense falls back to a plain kernel
            print(f"kernel_forks: {type(exc).__name__}: {exc}", flush=True)
        finally:
            conn.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2])
    else:
        client(sys.argv[1:])
