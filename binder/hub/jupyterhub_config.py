"""JupyterHub configuration for a statelab classroom.

One hub, one course (``STATELAB_COURSE_ID``, default ``statelab``), three kinds of account:

* students (hub group ``nbgrader-<course>``): fetch, work on and submit assignments;
* instructors (hub group ``formgrade-<course>``): open the course's formgrader;
* one grader account (unix user ``STATELAB_GRADER_USER``) that owns the course directory, the
  gradebook and the course's exchange folders, and runs the formgrader as a hub service.

Everything that differs between machines comes from ``STATELAB_*`` environment variables, and
this file adds to (never replaces) services, roles and groups set before it, so the same file
serves The Littlest JupyterHub (loaded from ``jupyterhub_config.d``), Zero to JupyterHub
(``hub.extraFiles``) and the repository's test, which loads it and then overrides only ports,
the authenticator, the spawner class and the proxy. See ``binder/hub/README.md``.

The authenticator and the spawner class are left to the deployment. The exchange permissions
below assume a spawner that runs each user as their own unix account (LocalProcessSpawner,
TLJH's SystemdSpawner); read the README's Zero to JupyterHub section before relying on them
in containers.
"""

from __future__ import annotations

import os
import pwd
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

HERE = Path(__file__).resolve().parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _names(name: str) -> list[str]:
    return [n.strip() for n in os.environ.get(name, "").split(",") if n.strip()]


COURSE_ID = _env("STATELAB_COURSE_ID", "statelab")
INSTRUCTOR_GROUP = f"formgrade-{COURSE_ID}"  # the names nbgrader's JupyterHubAuthPlugin expects
STUDENT_GROUP = f"nbgrader-{COURSE_ID}"
# "service": the formgrader runs as a hub service under the grader account (default).
# "instructors": no service; instructors' own servers run the formgrader (Zero to JupyterHub).
FORMGRADER_MODE = _env("STATELAB_FORMGRADER", "service")
GRADER_USER = _env("STATELAB_GRADER_USER", f"grader-{COURSE_ID}")
GRADER_HOME = Path(_env("STATELAB_GRADER_HOME", f"/home/{GRADER_USER}"))
COURSE_ROOT = Path(_env("STATELAB_COURSE_ROOT", str(GRADER_HOME / COURSE_ID)))
EXCHANGE_ROOT = Path(_env("STATELAB_EXCHANGE_ROOT", "/srv/nbgrader/exchange"))
DATA_DIR = Path(_env("STATELAB_DATA_DIR", "/srv/statelab-data"))
JUPYTER_CONFIG_DIRS = Path(_env("STATELAB_JUPYTER_CONFIG", str(HERE / "jupyter")))
FORMGRADER_PORT = int(_env("STATELAB_FORMGRADER_PORT", "9999"))
# The formgrader service needs the users' environment (nbgrader, JupyterLab), which is not
# always the hub's (TLJH: /opt/tljh/user/bin/jupyterhub-singleuser).
SINGLEUSER = _env("STATELAB_SINGLEUSER", str(Path(sys.executable).with_name("jupyterhub-singleuser")))
IDLE_CULLER = _env("STATELAB_IDLE_CULLER", "1") == "1"
CULL_TIMEOUT = int(_env("STATELAB_CULL_TIMEOUT", "3600"))  # seconds without activity
# Kubernetes only: a PersistentVolumeClaim holding the course directory, mounted into
# instructors' pods (never students') at the parent of STATELAB_COURSE_ROOT.
COURSE_PVC = _env("STATELAB_COURSE_PVC", "")
MEM_LIMIT = _env("STATELAB_MEM_LIMIT", "2G")
CPU_LIMIT = float(_env("STATELAB_CPU_LIMIT", "1.0"))
# A class logs in at once at the start of a session: queue spawns instead of starting thirty
# servers together (users see "too many users trying to log in" and retry), and cap how many
# servers may run so a class that forgot to log out cannot exhaust the machine.
# The class's shared PostgreSQL database (optional; DuckDB files when unset). Read by the hub only:
# each server receives its own role's URL, never this one.
DATABASE_ADMIN_URL = os.environ.get("STATELAB_DATABASE_ADMIN_URL", "").strip()
CONCURRENT_SPAWN_LIMIT = int(_env("STATELAB_CONCURRENT_SPAWN_LIMIT", "10"))
ACTIVE_SERVER_LIMIT = int(_env("STATELAB_ACTIVE_SERVER_LIMIT", "60"))

# The course notebooks in every home folder (nbgitpuller): the repository the book's settings name
# (STATELAB_REPOSITORY_URL, book/course-settings.toml), pulled into ~/<folder> at every sign-in.
NOTEBOOKS_REPO = _env("STATELAB_NOTEBOOKS_REPO", os.environ.get("STATELAB_REPOSITORY_URL", "")).rstrip("/")
NOTEBOOKS_BRANCH = _env("STATELAB_NOTEBOOKS_BRANCH", _env("STATELAB_REPOSITORY_BRANCH", "main"))
# nbgitpuller's own default folder (the repository's name), which the book's hub launch buttons also use.
NOTEBOOKS_DIR = _env("STATELAB_NOTEBOOKS_DIR", NOTEBOOKS_REPO.rsplit("/", 1)[-1].removesuffix(".git"))
NOTEBOOKS_OPEN = _env("STATELAB_NOTEBOOKS_OPEN", "modules")

# Data Labs team folders (statelab_teams.py): "alpha: ana, ben; beta: cy", one folder per team under the root.
sys.path.insert(0, str(HERE))
import statelab_teams  # noqa: E402  (beside this file)

TEAMS = statelab_teams.parse_teams(os.environ.get("STATELAB_TEAMS", ""))
TEAMS_ROOT = Path(_env("STATELAB_TEAMS_ROOT", "/srv/statelab/teams"))
# TLJH names the unix account of hub user <name> "jupyter-<name>": set STATELAB_UNIX_USER="jupyter-{name}".
UNIX_USER = _env("STATELAB_UNIX_USER", "{name}")
PREPARE_TEAMS = os.geteuid() == 0 and _env("STATELAB_PREPARE_TEAMS", "1") == "1"

INSTRUCTORS = _names("STATELAB_INSTRUCTORS")
STUDENTS = _names("STATELAB_STUDENTS")
ADMINS = _names("STATELAB_ADMINS")

if FORMGRADER_MODE not in {"service", "instructors"}:
    raise ValueError(f"STATELAB_FORMGRADER must be 'service' or 'instructors', not {FORMGRADER_MODE!r}")
SERVICE = FORMGRADER_MODE == "service"

# --------------------------------------------------------------------------------------------
# Who may log in, and which group each account belongs to
# --------------------------------------------------------------------------------------------
# Added to whatever the deployment already allows (e.g. TLJH's `tljh-config add-item users.allowed`).
if INSTRUCTORS or STUDENTS or ADMINS:
    c.Authenticator.allowed_users.update(set(INSTRUCTORS) | set(STUDENTS) | set(ADMINS))
if ADMINS:
    c.Authenticator.admin_users.update(ADMINS)
# Accounts an admin adds later (admin panel, REST API, nbgrader adding a student to the
# course group) may log in too, without editing this file.
c.Authenticator.allow_existing_users = True
if SERVICE:
    # The grader is a hub user only so that nbgrader can look up its courses: nobody may sign
    # in as it, whatever the authenticator (an OAuth account of the same name, for instance).
    c.Authenticator.blocked_users.update({GRADER_USER})

c.JupyterHub.load_groups.update(
    {
        # With the formgrader service, the grader account must be a hub user in this group:
        # the service runs as it and nbgrader's JupyterHubAuthPlugin looks up its courses.
        # Nobody logs in as it (keep the unix account locked / without a password).
        INSTRUCTOR_GROUP: {"users": [*INSTRUCTORS, *([GRADER_USER] if SERVICE else [])]},
        # nbgrader adds students here itself when an instructor adds them in the formgrader's
        # "Manage students" page.
        STUDENT_GROUP: {"users": STUDENTS},
    }
)

# --------------------------------------------------------------------------------------------
# Where each role's Jupyter settings live (JUPYTER_CONFIG_PATH, role folder first)
# --------------------------------------------------------------------------------------------
def _config_path(role: str) -> str:
    return os.pathsep.join(str(JUPYTER_CONFIG_DIRS / d) for d in (role, "common"))


_shared_env = {
    "STATELAB_DATA_DIR": str(DATA_DIR),
    # where the course notebooks are pulled from and to (empty when the hub does not pull them)
    "STATELAB_NOTEBOOKS_REPO": NOTEBOOKS_REPO,
    "STATELAB_NOTEBOOKS_DIR": NOTEBOOKS_DIR if NOTEBOOKS_REPO else "",
    "STATELAB_COURSE_ID": COURSE_ID,
    "STATELAB_EXCHANGE_ROOT": str(EXCHANGE_ROOT),
    # the name assignments/nbgrader_config.py reads when the repository's assignments/ folder
    # is the course directory
    "STATELAB_NBGRADER_EXCHANGE": str(EXCHANGE_ROOT),
}

# --------------------------------------------------------------------------------------------
# Services and their roles: the course formgrader (named after the course, as nbgrader
# requires) and the idle culler
# --------------------------------------------------------------------------------------------
_services: list[dict] = []
_roles: list[dict] = []

if SERVICE:
    _formgrader_cmd = [
        SINGLEUSER,
        f"--ServerApp.root_dir={GRADER_HOME}",
    ]
    try:
        _grader_is_root = pwd.getpwnam(GRADER_USER).pw_uid == 0
    except KeyError:  # no such account: the hub would start the service as itself
        _grader_is_root = os.geteuid() == 0
    if _grader_is_root:
        # Only here: Jupyter Server refuses to start as root without it.
        _formgrader_cmd.append("--allow-root")
    _services.append(
        {
            "name": COURSE_ID,
            "url": f"http://127.0.0.1:{FORMGRADER_PORT}",
            "command": _formgrader_cmd,
            "user": GRADER_USER,
            "cwd": str(GRADER_HOME),
            "oauth_no_confirm": True,
            "environment": {
                **_shared_env,
                "JUPYTER_CONFIG_PATH": _config_path("grader"),
                "STATELAB_COURSE_ROOT": str(COURSE_ROOT),
            },
        }
    )
    _roles += [
        {
            # Instructors reach the formgrader service; students do not (the hub answers 403).
            "name": f"{COURSE_ID}-instructor",
            "description": "Open the course formgrader",
            "scopes": [f"access:services!service={COURSE_ID}"],
            "groups": [INSTRUCTOR_GROUP],
        },
        {
            # The service's own token: nbgrader reads group membership and adds students to the
            # course group when they are added to the gradebook.
            "name": f"{COURSE_ID}-formgrader",
            "scopes": ["list:users", "read:users", "list:groups", "read:groups", "groups", "admin:groups"],
            "services": [COURSE_ID],
        },
    ]

# TLJH and Z2JH run an idle culler of their own: there, set STATELAB_IDLE_CULLER=0 (a file
# loaded with load_subconfig cannot see what the outer configuration already defined).
if IDLE_CULLER:
    _services.append(
        {
            "name": "idle-culler",
            "command": [
                sys.executable,
                "-m",
                "jupyterhub_idle_culler",
                f"--timeout={CULL_TIMEOUT}",
                "--cull-every=300",
            ],
        }
    )
    _roles.append(
        {
            "name": "idle-culler",
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
            "services": ["idle-culler"],
        }
    )

c.JupyterHub.services.extend(_services)
c.JupyterHub.load_roles.extend(_roles)

# --------------------------------------------------------------------------------------------
# Single-user servers
# --------------------------------------------------------------------------------------------
c.Spawner.default_url = "/lab"


def pull_url(repo: str = NOTEBOOKS_REPO, branch: str = NOTEBOOKS_BRANCH, folder: str = NOTEBOOKS_DIR,
             open_path: str = NOTEBOOKS_OPEN) -> str:
    """The nbgitpuller link (relative to a user's server) that pulls the course and opens it in JupyterLab.

    nbgitpuller clones the repository into ``~/<folder>`` the first time and afterwards merges the new
    commits in without overwriting a learner's changes: a file the learner edited keeps the learner's
    version, a file the learner deleted comes back, new files arrive.
    """
    from urllib.parse import urlencode

    target = f"lab/tree/{folder}/{open_path}".rstrip("/")
    return "/git-pull?" + urlencode({"repo": repo, "branch": branch, "targetpath": folder, "urlpath": target})


if NOTEBOOKS_REPO:
    if not NOTEBOOKS_DIR or NOTEBOOKS_DIR.startswith(".") or "/" in NOTEBOOKS_DIR:
        raise ValueError(f"STATELAB_NOTEBOOKS_DIR must be a folder name in the home folder, not {NOTEBOOKS_DIR!r}")
    # Every sign-in lands on the pull, which then opens JupyterLab on the course folder.
    c.Spawner.default_url = pull_url()
c.Spawner.environment.update(_shared_env)
# Enforced by spawners that can (SystemdSpawner under TLJH, DockerSpawner, KubeSpawner);
# LocalProcessSpawner only exports them as MEM_LIMIT / CPU_LIMIT for the server to display.
c.Spawner.mem_limit = MEM_LIMIT
c.Spawner.cpu_limit = CPU_LIMIT
c.JupyterHub.concurrent_spawn_limit = CONCURRENT_SPAWN_LIMIT
c.JupyterHub.active_server_limit = ACTIVE_SERVER_LIMIT
# The server's own token may read its user's group membership: nbgrader's JupyterHubAuthPlugin
# uses it to decide which courses' assignments a student may list, fetch and submit.
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    "read:users:groups!user",
]


def _role_of(spawner) -> str:
    groups = {g.name for g in spawner.user.groups}
    return "instructor" if INSTRUCTOR_GROUP in groups else "student"


def _database_env(username: str, role: str) -> dict:
    """The user's own database login: a role created (or its password renewed) at every spawn."""
    from psycopg.conninfo import make_conninfo

    from synthetic_data import create_class, role_name

    name = role_name(username)
    people = {"instructors": [name]} if role == "instructor" else {"learners": [name]}
    password = create_class(DATABASE_ADMIN_URL, people.get("learners", []),
                            instructors=people.get("instructors", []))[name]
    return {"STATELAB_BACKEND": "postgres",
            "STATELAB_DATABASE_URL": make_conninfo(DATABASE_ADMIN_URL, user=name, password=password)}


def _pre_spawn_hook(spawner) -> None:
    role = _role_of(spawner)
    # _shared_env again here: on Kubernetes, KubeSpawner.environment (singleuser.extraEnv)
    # shadows the Spawner.environment set above.
    env = {**_shared_env, **spawner.environment, "STATELAB_ROLE": role}
    env.pop("STATELAB_DATABASE_ADMIN_URL", None)
    team = statelab_teams.team_of(TEAMS, spawner.user.name)
    if team is not None:
        # The team's shared folder: statelab.datalabs.team.TeamFolder saves there.
        env.update(STATELAB_TEAM=team, STATELAB_TEAM_DIR=str(TEAMS_ROOT / team))
        if PREPARE_TEAMS:
            account = UNIX_USER.format(name=spawner.user.name)
            try:
                pwd.getpwnam(account)
            except KeyError:
                pass  # no unix account (a container spawner): the deployment mounts the team's volume
            else:
                import subprocess

                for cmd in statelab_teams.member_commands(team, account):
                    subprocess.run(cmd, check=True, capture_output=True, timeout=30)
                # JupyterLab shows only the home folder: ~/datalabs-team opens the team's files there
                statelab_teams.link_in_home(account, TEAMS_ROOT / team)
    if DATABASE_ADMIN_URL:
        env.update(_database_env(spawner.user.name, role))
    if role == "instructor" and not SERVICE:
        # No formgrader service: the instructor's own server is the formgrader.
        env["JUPYTER_CONFIG_PATH"] = _config_path("grader")
        env["STATELAB_COURSE_ROOT"] = str(COURSE_ROOT)
        if COURSE_PVC and hasattr(spawner, "volume_mounts"):  # KubeSpawner
            spawner.volumes = [
                *spawner.volumes,
                {"name": "statelab-course", "persistentVolumeClaim": {"claimName": COURSE_PVC}},
            ]
            spawner.volume_mounts = [
                *spawner.volume_mounts,
                {"name": "statelab-course", "mountPath": str(COURSE_ROOT.parent)},
            ]
    else:
        env["JUPYTER_CONFIG_PATH"] = _config_path(role)
    spawner.environment = env
    # A server that runs as root (a local-process spawner under a hub started by root, with no
    # per-user accounts) needs --allow-root; servers that run as the user's own account do not.
    runs_as_hub_user = type(spawner).__name__ == "SimpleLocalProcessSpawner"
    if runs_as_hub_user and os.geteuid() == 0 and "--allow-root" not in spawner.args:
        spawner.args = [*spawner.args, "--allow-root"]


c.Spawner.pre_spawn_hook = _pre_spawn_hook


# --------------------------------------------------------------------------------------------
# The exchange: one folder per course, owned by the grader account
# --------------------------------------------------------------------------------------------
# nbgrader's default exchange is one world-writable folder (nbgrader issues #978, #1225). Here:
#   <root>                   root    1777  sticky: nobody can rename or delete a course folder
#                                          they do not own (nbgrader insists every user can
#                                          write here)
#   <root>/<course>          grader  0755
#   <root>/<course>/outbound grader  0755  released assignments: readable, not writable
#   <root>/<course>/inbound  grader  2733  students create submissions but cannot list them;
#                                          set-gid gives each submission the grader's group
#   <root>/<course>/feedback grader  0711  feedback files named by a per-submission hash
# and the submit plugin in jupyter/common/nbgrader_config.py closes each new submission folder
# to everyone but its author and the grader's group (nbgrader alone leaves it mode 0777).
def prepare_exchange(root: Path = EXCHANGE_ROOT, course: str = COURSE_ID, owner: str = GRADER_USER) -> None:
    """Create or repair the exchange layout and the course folder; needs root."""
    pw = pwd.getpwnam(owner)
    layout = [
        (root, 0, 0, 0o1777),
        (root / course, pw.pw_uid, pw.pw_gid, 0o755),
        (root / course / "outbound", pw.pw_uid, pw.pw_gid, 0o755),
        (root / course / "inbound", pw.pw_uid, pw.pw_gid, 0o2733),
        (root / course / "feedback", pw.pw_uid, pw.pw_gid, 0o711),
        # sources with solutions and hidden tests, and the gradebook: grader (group) only
        (COURSE_ROOT, pw.pw_uid, pw.pw_gid, 0o750),
    ]
    for path, uid, gid, mode in layout:
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, uid, gid)
        os.chmod(path, mode)


if os.geteuid() == 0 and _env("STATELAB_PREPARE_EXCHANGE", "1") == "1":
    try:
        prepare_exchange()
    except KeyError:
        print(
            f"statelab: no unix account {GRADER_USER!r}; exchange and course folder not prepared",
            file=sys.stderr,
        )


# --------------------------------------------------------------------------------------------
# Data Labs team folders: shared by a team's members, closed to other teams (statelab_teams.py)
# --------------------------------------------------------------------------------------------
if TEAMS:
    c.Authenticator.allowed_users.update({u for members in TEAMS.values() for u in members})
    if PREPARE_TEAMS:
        statelab_teams.prepare_team_folders(TEAMS, TEAMS_ROOT, unix_user=lambda name: UNIX_USER.format(name=name))
