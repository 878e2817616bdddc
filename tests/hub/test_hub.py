"""A real JupyterHub running binder/hub/jupyterhub_config.py, exercised through its REST API.

How the permission checks are made meaningful
---------------------------------------------
On a hub every learner's server runs as that learner's unix account, and nbgrader's exchange
relies on unix permissions alone to keep students out of each other's submissions. A test in
which every server runs as root would prove nothing about that, so this test needs root (CI
runs as root) and creates throwaway unix accounts with ``useradd``: a grader account that owns
the course and the exchange, and one account per hub user. The hub uses LocalProcessSpawner,
which starts each server as its user's account, exactly as on a small TLJH-style hub. Every
"cannot read" assertion is then made by code running *inside the other student's kernel*, as
that student's uid, so the operating system is what says no. Accounts, their processes and the
temporary tree are removed afterwards. Without root, or without configurable-http-proxy, the
tests are skipped with the reason, never passed.

A second test (``test_instructor_grades_written_answers_in_the_formgrader``, steps in
``formgrader_steps.py``) is the instructor guide's manual-grading step in a real browser: Chromium,
driven by Playwright, signs in as the instructor, grades written answers in the formgrader, and the
grade export then includes them; a student gets 403. It skips, with the reason, without Chromium.

The configuration under test is the repository's own file: a small override file
``load_subconfig``s it and changes only what a test must (loopback ports, the proxy binary, the
shared-password test authenticator, the spawner class, a test admin token). Paths reach it
through the same STATELAB_* variables a deployment sets.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import formgrader_steps
from hub_client import REQUEST_TIMEOUT, START_TIMEOUT, Hub

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
HUB_SRC = REPO / "binder" / "hub"
VENV_BIN = Path(sys.executable).parent
COURSE = "statelab"
ASSIGNMENT = "ps1"
WRITTEN, WRITTEN_POINTS = "explain", 2  # the written answer instructors grade in the formgrader
#: The bounded load step: this many extra learners start servers and query the data at once,
#: through a spawn queue narrower than the class (so the queueing path is exercised too).
LOAD_USERS = int(os.environ.get("STATELAB_LOAD_USERS", "6"))
LOAD_SPAWN_LIMIT = 3
LOAD_QUERY = """
SELECT state_fips, year, count(DISTINCT ui_account) AS employers, count(DISTINCT ssn) AS workers, sum(wages) AS wages
FROM ui_wage GROUP BY state_fips, year ORDER BY state_fips, year
"""


# ------------------------------------------------------------------------------------------
# preconditions
# ------------------------------------------------------------------------------------------
def _find_chp() -> str | None:
    env = os.environ.get("STATELAB_CHP")
    if env:
        return env if Path(env).is_file() else None
    found = shutil.which("configurable-http-proxy")
    if found:
        return found
    tools = Path(os.environ.get("STATELAB_CI_TOOLS", REPO / ".ci" / "tools"))
    for prefix in (REPO, tools):  # `npm install --prefix <prefix> configurable-http-proxy`
        local = prefix / "node_modules" / ".bin" / "configurable-http-proxy"
        if local.is_file():
            return str(local)
    return None


def _preconditions() -> str:
    pytest.importorskip("jupyterhub", reason="jupyterhub is not installed (test extra)")
    pytest.importorskip("jupyterhub_idle_culler", reason="jupyterhub-idle-culler is not installed")
    pytest.importorskip("nbgrader", reason="nbgrader is not installed")
    chp = _find_chp()
    if chp is None:
        pytest.skip(
            "configurable-http-proxy not found: set STATELAB_CHP, put it on PATH, or run "
            "`npm install --prefix . configurable-http-proxy` in the repository"
        )
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH (configurable-http-proxy needs it)")
    if os.geteuid() != 0:
        pytest.skip(
            "needs root: the exchange-permission checks run each hub user as a throwaway unix "
            "account created with useradd"
        )
    for tool in ("useradd", "userdel", "runuser"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found")
    return chp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------------
# a minimal nbgrader source assignment (solutions and hidden tests included, as on a course)
# ------------------------------------------------------------------------------------------
def _source_notebook() -> dict:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    meta = {"schema_version": 3, "locked": False}
    nb.cells = [
        nbformat.v4.new_markdown_cell("Count the quarters in one year."),
        nbformat.v4.new_code_cell(
            "### BEGIN SOLUTION\nanswer = 4\n### END SOLUTION",
            metadata={"nbgrader": {**meta, "grade": False, "solution": True, "grade_id": "answer"}},
        ),
        nbformat.v4.new_code_cell(
            "assert isinstance(answer, int)\n### BEGIN HIDDEN TESTS\nassert answer == 4\n### END HIDDEN TESTS",
            metadata={
                "nbgrader": {
                    **meta,
                    "locked": True,
                    "grade": True,
                    "solution": False,
                    "points": 1,
                    "grade_id": "test_answer",
                }
            },
        ),
        nbformat.v4.new_markdown_cell("Why does a year have that many quarters? Answer in a sentence."),
        # a written answer: graded by hand, in the formgrader (formgrader_steps.py)
        nbformat.v4.new_markdown_cell(
            "YOUR ANSWER HERE",
            metadata={"nbgrader": {**meta, "grade": True, "solution": True, "points": WRITTEN_POINTS,
                                   "grade_id": WRITTEN}},
        ),
    ]
    return nb


# ------------------------------------------------------------------------------------------
# the hub's accounts
# ------------------------------------------------------------------------------------------
def _useradd(name: str, home: Path) -> pwd.struct_passwd:
    subprocess.run(
        ["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash",
         "--user-group", name],
        check=True, capture_output=True, timeout=30,
    )
    os.chmod(home, 0o700)
    return pwd.getpwnam(name)


def _blocking_ancestors() -> list[Path]:
    """Folders on the way to this Python that other accounts may not traverse (e.g. /root when
    the interpreter comes from root's pyenv)."""
    targets = {Path(os.path.realpath(sys.executable)), Path(sys.base_prefix), Path(sys.prefix)}
    blocked = set()
    for target in targets:
        for folder in [target, *target.parents]:
            if folder.is_dir() and not folder.stat().st_mode & 0o001:
                blocked.add(folder)
    return sorted(blocked)


class _Traverse:
    """Let the throwaway accounts traverse the folders that lead to the interpreter, and undo it.

    With ``setfacl`` each account gets search permission by uid and loses it afterwards;
    without it the folders get o+x (search only, no listing) and their modes are restored.
    """

    def __init__(self, folders: list[Path]):
        self.folders = folders
        self.modes: dict[Path, int] = {}
        self.acl_uids: list[int] = []

    def grant(self, uids: list[int]) -> None:
        if not self.folders:
            return
        if shutil.which("setfacl"):
            for uid in uids:
                for folder in self.folders:
                    subprocess.run(["setfacl", "-m", f"u:{uid}:x", str(folder)], check=True, timeout=30)
                self.acl_uids.append(uid)
        else:
            for folder in self.folders:
                mode = folder.stat().st_mode & 0o7777
                self.modes[folder] = mode
                os.chmod(folder, mode | 0o001)

    def undo(self) -> None:
        for uid in self.acl_uids:
            for folder in self.folders:
                subprocess.run(["setfacl", "-x", f"u:{uid}", str(folder)], capture_output=True, timeout=30)
        for folder, mode in self.modes.items():
            os.chmod(folder, mode)


def _end_processes_of(uids: set[int]) -> None:
    import psutil

    procs = [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real in uids]
    for p in procs:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=10)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass


@contextlib.contextmanager
def run_classroom(load_users: int = LOAD_USERS, extra_env=None, extra_config: str = "", extra_users=(),
                  home_root: Path | None = None):
    """A live hub on binder/hub's configuration with throwaway accounts; removed again on exit.

    ``extra_env`` reaches the hub (and so its configuration file): a dict, or a function of the account names
    (role -> unix and hub user name) returning one, for settings that name users. ``extra_config`` is appended to
    the test's override file. ``extra_users`` are more roles, each with its own throwaway account
    (``sl<role><suffix>``). The accounts' home folders are made in ``home_root`` (an existing folder the caller
    removes) when given, else in the temporary tree. Skips (never passes) when the preconditions are missing.
    """
    chp = _preconditions()
    import requests

    base = Path(tempfile.mkdtemp(prefix="statelab-hub-", dir="/tmp"))
    os.chmod(base, 0o755)
    suffix = secrets.token_hex(3)
    names = {
        "grader": f"slg{suffix}",
        "instructor": f"sli{suffix}",
        "alice": f"sla{suffix}",
        "bob": f"slb{suffix}",
        **{f"load{i}": f"sll{i}{suffix}" for i in range(load_users)},
        **{role: f"sl{role}{suffix}" for role in extra_users},
    }
    created: list[str] = []
    traverse = _Traverse(_blocking_ancestors())
    hub_proc: subprocess.Popen | None = None
    hub: Hub | None = None
    try:
        homes = Path(home_root) if home_root is not None else base / "home"
        homes.mkdir(mode=0o755, exist_ok=home_root is not None)
        accounts = {}
        for role, name in names.items():
            accounts[role] = _useradd(name, homes / name)
            created.append(name)

        # the students' and the grader's processes must be able to run the venv's python
        traverse.grant([a.pw_uid for a in accounts.values()])
        probe = subprocess.run(
            ["runuser", "-u", names["alice"], "--", sys.executable, "-c", "import jupyterhub, nbgrader"],
            capture_output=True, text=True, timeout=60,
        )
        if probe.returncode != 0:
            pytest.skip(f"unprivileged accounts cannot run {sys.executable}: {probe.stderr[-300:]}")

        # the course: sources with solutions and hidden tests, in the grader's home
        grader = accounts["grader"]
        course_root = Path(grader.pw_dir) / COURSE
        src = course_root / "source" / ASSIGNMENT
        src.mkdir(parents=True)
        import nbformat

        nbformat.write(_source_notebook(), src / f"{ASSIGNMENT}.ipynb")
        # what makes it a course directory for statelab-grade (a course's own nbgrader_config.py)
        (course_root / "nbgrader_config.py").write_text(f"c = get_config()\nc.CourseDirectory.course_id = {COURSE!r}\n")
        for p in [course_root, *course_root.rglob("*")]:
            os.chown(p, grader.pw_uid, grader.pw_gid)

        # the shared, read-only dataset (when the data package is importable)
        data_dir = base / "data"
        data_dir.mkdir(mode=0o755)
        import synthetic_data as sd

        dataset_seed = sd.DEFAULT_SEED
        out = sd.dataset_path("tiny", seed=dataset_seed, data_root=data_dir)
        sd.generate("tiny", seed=dataset_seed, out=out, truth=False)
        subprocess.run(["chmod", "-R", "a+rX,a-w", str(data_dir)], check=True, timeout=30)

        # a copy of binder/hub the unprivileged accounts can read wherever the checkout lives
        hub_dir = base / "hub"
        shutil.copytree(HUB_SRC, hub_dir, ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run(["chmod", "-R", "a+rX", str(hub_dir)], check=True, timeout=30)
        state = base / "state"
        state.mkdir(mode=0o700)

        port, hub_port, proxy_port, fg_port = (_free_port() for _ in range(4))
        admin_token = secrets.token_hex(32)
        password = secrets.token_urlsafe(24)
        (state / "test_config.py").write_text(
            f"""
c = get_config()
load_subconfig({str(hub_dir / 'jupyterhub_config.py')!r})
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.JupyterHub.db_url = "sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(state / 'cookie_secret')!r}
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {password!r}
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [{str(VENV_BIN / 'jupyterhub-singleuser')!r}]
c.Spawner.start_timeout = {START_TIMEOUT}
c.Spawner.http_timeout = {START_TIMEOUT}
c.JupyterHub.concurrent_spawn_limit = {LOAD_SPAWN_LIMIT}
c.JupyterHub.services.append({{"name": "statelab-test", "api_token": {admin_token!r}}})
c.JupyterHub.load_roles.append({{
    "name": "statelab-test-admin",
    "scopes": ["admin:users", "admin:groups", "admin:servers", "tokens", "list:services", "read:services"],
    "services": ["statelab-test"],
}})
"""
            + extra_config
        )
        env = {
            **os.environ,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "STATELAB_COURSE_ID": COURSE,
            "STATELAB_GRADER_USER": names["grader"],
            "STATELAB_GRADER_HOME": grader.pw_dir,
            "STATELAB_EXCHANGE_ROOT": str(base / "exchange"),
            "STATELAB_DATA_DIR": str(data_dir),
            "STATELAB_FORMGRADER_PORT": str(fg_port),
            "STATELAB_INSTRUCTORS": "",
            "STATELAB_STUDENTS": "",
            **((extra_env(names) if callable(extra_env) else extra_env) or {}),
        }
        log = base / "hub.log"
        with open(log, "wb") as fh:
            hub_proc = subprocess.Popen(
                [str(VENV_BIN / "jupyterhub"), "-f", str(state / "test_config.py")],
                cwd=state, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
            )
        hub = Hub(f"http://127.0.0.1:{port}", admin_token, log)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if hub_proc.poll() is not None:
                raise AssertionError(f"jupyterhub exited with {hub_proc.returncode}\n{hub.log_tail()}")
            try:
                if requests.get(f"{hub.url}/hub/api/", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"jupyterhub not up in {START_TIMEOUT}s\n{hub.log_tail()}")
            time.sleep(0.5)

        yield {
            "hub": hub,
            "names": names,
            "accounts": accounts,
            "password": password,
            "base": base,
            "course_root": course_root,
            "exchange": base / "exchange",
            "data_dir": data_dir,
            "dataset_seed": dataset_seed,
            "state": {},
        }
    finally:
        if hub is not None:
            for role in (r for r in names if r != "grader"):
                try:
                    hub.api("DELETE", f"/users/{names[role]}/server")
                except Exception:  # noqa: BLE001 - best effort before the hub goes down
                    pass
        if hub_proc is not None and hub_proc.poll() is None:
            os.killpg(hub_proc.pid, signal.SIGTERM)
            try:
                hub_proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(hub_proc.pid, signal.SIGKILL)
                hub_proc.wait(timeout=10)
        uids = set()
        for name in created:
            try:
                uids.add(pwd.getpwnam(name).pw_uid)
            except KeyError:
                pass
        _end_processes_of(uids)
        traverse.undo()
        for name in created:
            subprocess.run(["userdel", "--force", name], capture_output=True, timeout=30)
        if os.environ.get("STATELAB_KEEP_HUB_TMP"):
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def classroom():
    with run_classroom() as room:
        yield room


# ------------------------------------------------------------------------------------------
# the scenario: one test, so that pytest-xdist can never split its steps across workers
# ------------------------------------------------------------------------------------------
def test_classroom_round_trip(classroom):
    """Users, login, release, fetch, submit, isolation, collect, dataset: in that order."""
    _step_hub_config_loaded(classroom)
    _step_create_users_and_log_in(classroom)
    _step_formgrader_is_for_instructors_only(classroom)
    _step_instructor_releases_through_formgrader(classroom)
    _step_students_fetch_and_submit(classroom)
    _step_student_cannot_read_others_or_sources(classroom)
    _step_grader_collects_private_submissions(classroom)
    _step_shared_dataset_and_limits_reach_the_server(classroom)
    _step_a_class_at_once(classroom)


def test_instructor_grades_written_answers_in_the_formgrader(classroom):
    """The term's manual-grading step in a real browser: see formgrader_steps.py.

    Its own hub (one test, so that pytest-xdist never splits its steps); the two submissions are
    put where the grader's collect puts them, so no student server has to start.
    """
    formgrader_steps.require_browser()
    _step_create_users_and_log_in(classroom)
    _step_instructor_releases_through_formgrader(classroom)
    grader = classroom["accounts"]["grader"]
    release = classroom["course_root"] / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    for role in ("alice", "bob"):
        name = classroom["names"][role]
        nb = json.loads(release.read_text())
        for cell in nb["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("solution"):
                cell["source"] = ("answer = 4" if cell["cell_type"] == "code"
                                  else f"Four quarters of three months each ({name}).")
        folder = classroom["course_root"] / "submitted" / name / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(nb))
        for p in [folder.parent.parent, folder.parent, folder, *folder.iterdir()]:
            os.chown(p, grader.pw_uid, grader.pw_gid)
    tests = [c.metadata["nbgrader"] for c in _source_notebook().cells
             if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"]["solution"]]
    formgrader_steps.instructor_grades_in_the_formgrader(
        classroom, COURSE, ASSIGNMENT, WRITTEN, WRITTEN_POINTS, autograded=sum(t["points"] for t in tests))


def _step_hub_config_loaded(classroom):
    hub: Hub = classroom["hub"]
    groups = {g["name"] for g in hub.api("GET", "/groups").json()}
    assert {f"formgrade-{COURSE}", f"nbgrader-{COURSE}"} <= groups
    services = hub.api("GET", "/services").json()
    assert COURSE in services, services  # the formgrader
    assert "idle-culler" in services, services
    assert "jupyterhub_idle_culler" in " ".join(services["idle-culler"].get("command", []))


def _step_create_users_and_log_in(classroom):
    import requests

    hub: Hub = classroom["hub"]
    n = classroom["names"]
    r = hub.api("POST", "/users", json={"usernames": [n["instructor"], n["alice"], n["bob"]]})
    assert r.status_code == 201, (r.status_code, r.text)
    r = hub.api("POST", f"/groups/formgrade-{COURSE}/users", json={"users": [n["instructor"]]})
    assert r.status_code == 200, r.text
    r = hub.api("POST", f"/groups/nbgrader-{COURSE}/users", json={"users": [n["alice"], n["bob"]]})
    assert r.status_code == 200, r.text

    # a student logs in through the login form with the shared test password
    s = requests.Session()
    page = s.get(f"{hub.url}/hub/login", timeout=REQUEST_TIMEOUT)
    assert page.status_code == 200
    xsrf = s.cookies.get("_xsrf")
    r = s.post(
        f"{hub.url}/hub/login",
        data={"username": n["alice"], "password": classroom["password"], "_xsrf": xsrf},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
    assert r.status_code == 302, (r.status_code, r.text[:500])
    me = s.get(f"{hub.url}/hub/api/user", timeout=REQUEST_TIMEOUT)
    assert me.status_code == 200 and me.json()["name"] == n["alice"]
    bad = requests.Session()
    bad.get(f"{hub.url}/hub/login", timeout=REQUEST_TIMEOUT)
    r = bad.post(
        f"{hub.url}/hub/login",
        data={"username": n["bob"], "password": "wrong-password", "_xsrf": bad.cookies.get("_xsrf")},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
    assert r.status_code != 302
    # nobody signs in as the grader account, even with the right password
    grader = requests.Session()
    grader.get(f"{hub.url}/hub/login", timeout=REQUEST_TIMEOUT)
    r = grader.post(
        f"{hub.url}/hub/login",
        data={"username": n["grader"], "password": classroom["password"],
              "_xsrf": grader.cookies.get("_xsrf")},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
    assert r.status_code != 302, r.headers.get("Location")

    for role in ("instructor", "alice", "bob"):
        r = hub.api("POST", f"/users/{n[role]}/tokens", json={"note": "statelab test"})
        assert r.status_code == 201, r.text
        hub.tokens[n[role]] = r.json()["token"]


def _step_formgrader_is_for_instructors_only(classroom):
    hub: Hub = classroom["hub"]
    n = classroom["names"]
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        r = hub.get(n["instructor"], f"/services/{COURSE}/formgrader/api/status")
        if r.status_code == 200:
            break
        assert time.monotonic() < deadline, (r.status_code, r.text[:300], hub.log_tail())
        time.sleep(1)
    # formgrader iframes need frame-ancestors 'self' on JupyterHub >= 4.1
    page = hub.get(n["instructor"], f"/services/{COURSE}/formgrader")
    assert page.status_code == 200
    assert "frame-ancestors 'self'" in page.headers.get("Content-Security-Policy", "")
    # a student's token is refused by the service
    r = hub.get(n["alice"], f"/services/{COURSE}/formgrader/api/status", allow_redirects=False)
    assert r.status_code == 403, (r.status_code, r.headers.get("Location"))


def _step_instructor_releases_through_formgrader(classroom):
    hub: Hub = classroom["hub"]
    n = classroom["names"]
    for action in ("assign", "release"):
        r = hub.post(n["instructor"], f"/services/{COURSE}/formgrader/api/assignment/{ASSIGNMENT}/{action}")
        assert r.status_code == 200, (action, r.status_code, r.text[:500])
        body = r.json()
        assert body.get("success"), (action, body.get("error"), body.get("log"))
    outbound = classroom["exchange"] / COURSE / "outbound" / ASSIGNMENT
    released = (outbound / f"{ASSIGNMENT}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in released and "BEGIN HIDDEN TESTS" not in released
    assert outbound.stat().st_uid == classroom["accounts"]["grader"].pw_uid


def _start(classroom, role):
    hub: Hub = classroom["hub"]
    name = classroom["names"][role]
    r = hub.api("POST", f"/users/{name}/server")
    assert r.status_code in (201, 202), (r.status_code, r.text)
    return name


def _step_students_fetch_and_submit(classroom):
    hub: Hub = classroom["hub"]
    students = [_start(classroom, "alice"), _start(classroom, "bob")]
    for name in students:
        hub.wait_ready(name)
    for name in students:
        listing = hub.get(name, f"/user/{name}/assignments", params={"course_id": COURSE}).json()
        assert listing["success"], listing
        assert [(a["assignment_id"], a["status"]) for a in listing["value"]] == [(ASSIGNMENT, "released")]

        r = hub.post(name, f"/user/{name}/assignments/fetch",
                     data={"course_id": COURSE, "assignment_id": ASSIGNMENT})
        assert r.status_code == 200, r.text
        nb_path = f"{COURSE}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"  # path_includes_course = True
        r = hub.get(name, f"/user/{name}/api/contents/{nb_path}")
        assert r.status_code == 200, r.text
        model = r.json()
        text = json.dumps(model["content"])
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
        for cell in model["content"]["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("solution"):
                cell["source"] = (f"answer = 4  # {name}'s own work" if cell["cell_type"] == "code"
                                  else f"A year has four seasons ({name}'s own words).")
        r = hub.as_user(name).put(
            f"{hub.url}/user/{name}/api/contents/{nb_path}",
            json={"type": "notebook", "format": "json", "content": model["content"]},
            timeout=REQUEST_TIMEOUT,
        )
        assert r.status_code == 200, r.text

        r = hub.post(name, f"/user/{name}/assignments/submit",
                     data={"course_id": COURSE, "assignment_id": ASSIGNMENT})
        assert r.status_code == 200 and r.json()["success"], r.text[:1000]

    inbound = classroom["exchange"] / COURSE / "inbound"
    subs = {p.name.split("+")[0]: p for p in inbound.iterdir()}
    assert set(subs) == set(students), subs
    grader_gid = classroom["accounts"]["grader"].pw_gid
    for name, path in subs.items():
        st = path.stat()
        assert st.st_uid == pwd.getpwnam(name).pw_uid
        assert st.st_gid == grader_gid  # set-gid inbound
        assert st.st_mode & 0o777 == 0o770, oct(st.st_mode)  # statelab's PrivateSubmit
    classroom["state"]["submissions"] = subs


def _step_student_cannot_read_others_or_sources(classroom):
    hub: Hub = classroom["hub"]
    n = classroom["names"]
    subs = classroom["state"].get("submissions")
    if not subs:
        pytest.fail("no submissions: the submit step did not complete")
    alice_sub = subs[n["alice"]]
    code = f"""
import json, os
def attempt(fn):
    try:
        fn()
        return "allowed"
    except PermissionError:
        return "denied"
inbound = {str(classroom['exchange'] / COURSE / 'inbound')!r}
sub = {str(alice_sub)!r}
course = {str(classroom['course_root'])!r}
print(json.dumps({{
    "uid": os.getuid(),
    "list_inbound": attempt(lambda: os.listdir(inbound)),
    "list_other_submission": attempt(lambda: os.listdir(sub)),
    "read_other_notebook": attempt(lambda: open(os.path.join(sub, {ASSIGNMENT + '.ipynb'!r})).read()),
    "read_other_timestamp": attempt(lambda: open(os.path.join(sub, "timestamp.txt")).read()),
    "list_course_root": attempt(lambda: os.listdir(course)),
    "read_source": attempt(lambda: open(os.path.join(course, "source", {ASSIGNMENT!r}, {ASSIGNMENT + '.ipynb'!r})).read()),
    "read_gradebook_dir": attempt(lambda: os.listdir(os.path.dirname(course))),
    "write_outbound": attempt(lambda: open(os.path.join({str(classroom['exchange'] / COURSE / 'outbound')!r}, "x"), "w")),
    "rename_course": attempt(lambda: os.rename({str(classroom['exchange'] / COURSE)!r}, {str(classroom['exchange'] / 'hijack')!r})),
}}))
"""
    seen = hub.run_code(n["bob"], code)
    assert seen.pop("uid") == pwd.getpwnam(n["bob"]).pw_uid  # the kernel really runs as bob
    assert seen == {key: "denied" for key in seen}, seen

    # a student's server has no formgrader
    r = hub.get(n["bob"], f"/user/{n['bob']}/formgrader")
    assert r.status_code == 404, r.status_code
    assert "frame-ancestors 'none'" in hub.get(n["bob"], f"/user/{n['bob']}/api/status").headers.get(
        "Content-Security-Policy", "")


def _step_grader_collects_private_submissions(classroom):
    hub: Hub = classroom["hub"]
    n = classroom["names"]
    r = hub.post(n["instructor"], f"/services/{COURSE}/formgrader/api/assignment/{ASSIGNMENT}/collect")
    assert r.status_code == 200, r.text[:500]
    assert r.json().get("success"), r.json()
    for student in ("alice", "bob"):
        collected = classroom["course_root"] / "submitted" / n[student] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        assert collected.is_file(), collected
        assert f"{n[student]}'s own work" in collected.read_text()


def _step_shared_dataset_and_limits_reach_the_server(classroom):
    hub: Hub = classroom["hub"]
    n = classroom["names"]
    seed = classroom["dataset_seed"]
    code = """
import json, os
print(json.dumps({k: os.environ.get(k) for k in
      ("STATELAB_DATA_DIR", "MEM_LIMIT", "CPU_LIMIT", "STATELAB_ROLE", "JUPYTER_CONFIG_PATH")}))
"""
    env = hub.run_code(n["alice"], code)
    assert env["STATELAB_DATA_DIR"] == str(classroom["data_dir"])
    assert env["MEM_LIMIT"] == str(2 * 1024**3) and float(env["CPU_LIMIT"]) == 1.0
    assert env["STATELAB_ROLE"] == "student" and "student" in env["JUPYTER_CONFIG_PATH"]
    code = f"""
import json, os, synthetic_data as sd
con = sd.connect(profile="tiny", seed={seed})
n = con.sql("SELECT count(*) FROM ui_wage").fetchall()[0][0]
try:
    open(os.path.join(os.environ["STATELAB_DATA_DIR"], "scribble"), "w")
    writable = True
except PermissionError:
    writable = False
print(json.dumps({{"rows": n, "writable": writable}}))
"""
    got = hub.run_code(n["alice"], code)
    assert got["rows"] > 0 and got["writable"] is False, got


def _percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")


def _step_a_class_at_once(classroom):
    """LOAD_USERS learners log in together, start servers through the spawn queue and run a module's query.

    Bounded (users and time) and loopback only. Spawns refused with 429 (the queue is full) are retried
    after the hub's Retry-After, as the hub's own spawn page does; any other error counts as an error.
    The figures go to STATELAB_LOAD_REPORT (JSON) when set, and are printed.
    """
    import concurrent.futures as cf

    import synthetic_data as sd

    hub: Hub = classroom["hub"]
    learners = [classroom["names"][r] for r in classroom["names"] if r.startswith("load")]
    if not learners:
        return
    for name in learners:
        r = hub.api("POST", "/users", json={"usernames": [name]})
        assert r.status_code in (201, 409), r.text
        r = hub.api("POST", f"/users/{name}/tokens", json={"note": "load test", "expires_in": 3600})
        assert r.status_code == 201, r.text
        hub.tokens[name] = r.json()["token"]
    con = sd.connect(profile="tiny", seed=classroom["dataset_seed"], data_root=classroom["data_dir"])
    expected = [list(map(int, row[1:])) for row in con.sql(LOAD_QUERY).fetchall()]
    code = f"""
import json, synthetic_data as sd
con = sd.connect(profile="tiny", seed={classroom['dataset_seed']})
print(json.dumps([[int(v) for v in row[1:]] for row in con.sql({LOAD_QUERY!r}).fetchall()]))
"""
    refused, errors = [0], []

    def one(name: str) -> tuple[float, float]:
        t0 = time.monotonic()
        deadline = t0 + 4 * START_TIMEOUT
        while True:
            r = hub.api("POST", f"/users/{name}/server")
            if r.status_code in (201, 202):
                break
            if r.status_code != 429 or time.monotonic() > deadline:
                raise AssertionError(f"{name}: spawn answered {r.status_code} {r.text[:200]}")
            refused[0] += 1
            time.sleep(min(float(r.headers.get("Retry-After", 2)), 5))
        hub.wait_ready(name)
        ready = time.monotonic()
        got = hub.run_code(name, code)
        if got != expected:
            raise AssertionError(f"{name}: the query returned different rows")
        return ready - t0, time.monotonic() - ready

    started = time.monotonic()
    spawn_s, query_s = [], []
    with cf.ThreadPoolExecutor(max_workers=len(learners)) as pool:
        for fut in cf.as_completed([pool.submit(one, n) for n in learners]):
            try:
                a, b = fut.result()
                spawn_s.append(a)
                query_s.append(b)
            except Exception as exc:  # noqa: BLE001 - counted and reported below
                errors.append(repr(exc)[:300])
    report = {
        "users": len(learners), "spawn_limit": LOAD_SPAWN_LIMIT, "ready": len(spawn_s), "errors": errors,
        "spawns_refused_then_retried": refused[0], "wall_s": round(time.monotonic() - started, 1),
        "spawn_to_ready_s": {"p50": round(_percentile(spawn_s, 50), 1), "p95": round(_percentile(spawn_s, 95), 1),
                             "max": round(max(spawn_s, default=float("nan")), 1)},
        "query_s": {"p50": round(_percentile(query_s, 50), 2), "p95": round(_percentile(query_s, 95), 2),
                    "max": round(max(query_s, default=float("nan")), 2)},
    }
    print("\nload:", json.dumps(report))
    if os.environ.get("STATELAB_LOAD_REPORT"):
        Path(os.environ["STATELAB_LOAD_REPORT"]).write_text(json.dumps(report, indent=2) + "\n")
    assert not errors, errors
    assert len(spawn_s) == len(learners)
    assert hub.api("GET", "/").status_code == 200, "the hub did not survive the class"
    running = [u for u in hub.api("GET", "/users").json() if u.get("servers", {}).get("")]
    assert len(running) >= len(learners)
    for name in learners:  # log the class out again: the hub frees every server
        hub.api("DELETE", f"/users/{name}/server")
