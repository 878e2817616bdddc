"""Fast checks of binder/hub/: the config files load and say what the README promises.

The end-to-end classroom (a real hub, real accounts) is tests/hub/test_hub.py (slow, root).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

HUB = Path(__file__).resolve().parents[2] / "binder" / "hub"


def _value(item, default):
    """A config value, whether the file assigned it or extended/updated a lazy default."""
    from traitlets.config.loader import LazyConfigValue

    return item.get_value(default) if isinstance(item, LazyConfigValue) else item


def _load(monkeypatch, **env):
    from traitlets.config.loader import PyFileConfigLoader

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return PyFileConfigLoader("jupyterhub_config.py", path=str(HUB)).load_config()


@pytest.fixture
def hub_config(monkeypatch):
    return _load(monkeypatch, **{
        "STATELAB_PREPARE_EXCHANGE": "0",
        "STATELAB_COURSE_ID": "demo101",
        "STATELAB_INSTRUCTORS": "ada, grace",
        "STATELAB_STUDENTS": "sam,kim",
        "STATELAB_GRADER_USER": "grader-demo101",
        "STATELAB_DATA_DIR": "/srv/course-data",
    })


def test_groups_and_users(hub_config):
    groups = _value(hub_config.JupyterHub.load_groups, {})
    assert groups["formgrade-demo101"]["users"] == ["ada", "grace", "grader-demo101"]
    assert groups["nbgrader-demo101"]["users"] == ["sam", "kim"]
    assert _value(hub_config.Authenticator.allowed_users, set()) == {"ada", "grace", "sam", "kim"}
    assert _value(hub_config.Authenticator.blocked_users, set()) == {"grader-demo101"}


def test_services_and_roles(hub_config):
    services = {s["name"]: s for s in _value(hub_config.JupyterHub.services, [])}
    assert set(services) == {"demo101", "idle-culler"}
    formgrader = services["demo101"]
    assert formgrader["user"] == "grader-demo101"
    assert formgrader["environment"]["JUPYTER_CONFIG_PATH"].split(":")[0].endswith("grader")
    assert "jupyterhub_idle_culler" in services["idle-culler"]["command"]
    roles = {r["name"]: r for r in _value(hub_config.JupyterHub.load_roles, [])}
    assert roles["demo101-instructor"]["scopes"] == ["access:services!service=demo101"]
    assert roles["demo101-instructor"]["groups"] == ["formgrade-demo101"]
    assert "delete:servers" in roles["idle-culler"]["scopes"]


def test_single_user_environment_and_limits(hub_config):
    env = _value(hub_config.Spawner.environment, {})
    assert env["STATELAB_DATA_DIR"] == "/srv/course-data"
    assert env["STATELAB_EXCHANGE_ROOT"] == env["STATELAB_NBGRADER_EXCHANGE"]
    assert hub_config.Spawner.mem_limit == "2G"
    assert hub_config.Spawner.cpu_limit == 1.0
    assert 0 < hub_config.JupyterHub.concurrent_spawn_limit <= 20  # spawns queue instead of a stampede
    assert hub_config.JupyterHub.active_server_limit > hub_config.JupyterHub.concurrent_spawn_limit
    assert "read:users:groups!user" in hub_config.Spawner.server_token_scopes
    assert callable(hub_config.Spawner.pre_spawn_hook)


def test_without_a_notebooks_repository_servers_open_jupyterlab(hub_config):
    assert hub_config.Spawner.default_url == "/lab"
    assert _value(hub_config.Spawner.environment, {})["STATELAB_NOTEBOOKS_REPO"] == ""


def test_notebooks_repository_makes_every_sign_in_an_nbgitpuller_pull(monkeypatch):
    from urllib.parse import parse_qs, urlsplit

    monkeypatch.delenv("STATELAB_NOTEBOOKS_DIR", raising=False)
    cfg = _load(monkeypatch, STATELAB_PREPARE_EXCHANGE="0",
                STATELAB_REPOSITORY_URL="https://github.com/example-agency/statelab-course.git/",
                STATELAB_NOTEBOOKS_BRANCH="spring-2027")
    url = urlsplit(cfg.Spawner.default_url)
    assert url.path == "/git-pull"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query == {"repo": "https://github.com/example-agency/statelab-course.git", "branch": "spring-2027",
                     "targetpath": "statelab-course", "urlpath": "lab/tree/statelab-course/modules"}
    env = _value(cfg.Spawner.environment, {})
    assert env["STATELAB_NOTEBOOKS_DIR"] == "statelab-course"


def test_a_notebooks_folder_outside_the_home_is_refused(monkeypatch):
    with pytest.raises(ValueError, match="STATELAB_NOTEBOOKS_DIR"):
        _load(monkeypatch, STATELAB_PREPARE_EXCHANGE="0", STATELAB_NOTEBOOKS_REPO="https://example.org/c.git",
              STATELAB_NOTEBOOKS_DIR="../elsewhere")


def test_instructors_mode_has_no_service(monkeypatch):
    cfg = _load(monkeypatch, STATELAB_PREPARE_EXCHANGE="0", STATELAB_FORMGRADER="instructors",
                STATELAB_IDLE_CULLER="0", STATELAB_INSTRUCTORS="ada")
    assert _value(cfg.JupyterHub.services, []) == []
    assert _value(cfg.JupyterHub.load_groups, {})["formgrade-statelab"]["users"] == ["ada"]


def test_keeps_services_set_before_it(monkeypatch, tmp_path):
    """TLJH and Z2JH define their own idle culler before loading this file."""
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("STATELAB_PREPARE_EXCHANGE", "0")
    monkeypatch.setenv("STATELAB_IDLE_CULLER", "0")
    (tmp_path / "outer.py").write_text(
        "c = get_config()\n"
        "c.JupyterHub.services = [{'name': 'cull-idle', 'command': ['python3', '-m', 'jupyterhub_idle_culler']}]\n"
        f"load_subconfig({str(HUB / 'jupyterhub_config.py')!r})\n"
    )
    cfg = PyFileConfigLoader("outer.py", path=str(tmp_path)).load_config()
    names = [s["name"] for s in _value(cfg.JupyterHub.services, [])]
    assert names == ["cull-idle", "statelab"]


def test_roles_get_the_right_nbgrader_extensions():
    def server(role):
        return json.loads((HUB / "jupyter" / role / "jupyter_server_config.json").read_text())[
            "ServerApp"]["jpserver_extensions"]

    def lab_disabled(role):
        return json.loads((HUB / "jupyter" / role / "labconfig" / "page_config.json").read_text())[
            "disabledExtensions"]

    assert server("student")["nbgrader.server_extensions.formgrader"] is False
    assert server("instructor")["nbgrader.server_extensions.formgrader"] is False
    assert server("grader")["nbgrader.server_extensions.formgrader"] is True
    for role in ("student", "instructor"):
        assert lab_disabled(role)["@jupyter/nbgrader:formgrader"] is True
        assert lab_disabled(role)["@jupyter/nbgrader:create-assignment"] is True


def test_formgrader_csp_and_exchange_settings(monkeypatch):
    from traitlets.config.loader import PyFileConfigLoader

    grader = PyFileConfigLoader("jupyter_server_config.py", path=str(HUB / "jupyter" / "grader")).load_config()
    assert grader.ServerApp.tornado_settings["headers"]["Content-Security-Policy"] == "frame-ancestors 'self'"
    monkeypatch.setenv("STATELAB_EXCHANGE_ROOT", "/x/exchange")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "not-used")
    common = PyFileConfigLoader("nbgrader_config.py", path=str(HUB / "jupyter" / "common")).load_config()
    assert common.Exchange.root == "/x/exchange"
    assert common.Exchange.path_includes_course is True
    assert common.ExchangeFactory.submit.__name__ == "PrivateSubmit"
    assert common.Authenticator.plugin_class.__name__ == "JupyterHubAuthPlugin"


# ------------------------------------------------------------------------------ Data Labs team folders
def _teams_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("statelab_teams", HUB / "statelab_teams.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_team_list_is_parsed_and_checked():
    teams = _teams_module()
    assert teams.parse_teams("alpha: ana, ben; beta: cy") == {"alpha": ["ana", "ben"], "beta": ["cy"]}
    assert teams.parse_teams("") == {}
    for bad, says in [("alpha ana", "no ':'"), ("Alpha: ana", "lower-case"), ("alpha:", "no members"),
                      ("alpha: ana; beta: ana", "two teams")]:
        with pytest.raises(ValueError, match=says):
            teams.parse_teams(bad)
    assert teams.team_of({"alpha": ["ana"]}, "ana") == "alpha" and teams.team_of({"alpha": ["ana"]}, "bo") is None
    # shared by the team (group rwx, set-gid so new files stay in the team's group), nothing for others;
    # the root can be passed through but not listed
    assert teams.FOLDER_MODE == 0o2770 and teams.ROOT_MODE & 0o007 == 0o001
    assert teams.member_commands("alpha", "ana") == [["gpasswd", "-a", "ana", "team-alpha"]]


def _spawn_env(cfg, name, groups=()):
    class _Group:
        def __init__(self, n):
            self.name = n

    class _User:
        def __init__(self):
            self.name, self.groups = name, [_Group(g) for g in groups]

    class _Spawner:
        def __init__(self):
            self.user, self.environment, self.args = _User(), {}, []

    spawner = _Spawner()
    cfg.Spawner.pre_spawn_hook(spawner)
    return spawner.environment


def test_each_member_s_server_gets_the_team_folder(monkeypatch):
    cfg = _load(monkeypatch, STATELAB_PREPARE_EXCHANGE="0", STATELAB_PREPARE_TEAMS="0",
                STATELAB_TEAMS="alpha: ana, ben; beta: cy", STATELAB_TEAMS_ROOT="/srv/dl-teams")
    assert _spawn_env(cfg, "ana")["STATELAB_TEAM_DIR"] == "/srv/dl-teams/alpha"
    assert _spawn_env(cfg, "ben")["STATELAB_TEAM_DIR"] == "/srv/dl-teams/alpha"
    assert _spawn_env(cfg, "cy")["STATELAB_TEAM"] == "beta"
    assert "STATELAB_TEAM_DIR" not in _spawn_env(cfg, "dee")  # in no team: ~/datalabs-team
    assert {"ana", "ben", "cy"} <= _value(cfg.Authenticator.allowed_users, set())


def test_a_bad_team_list_stops_the_hub_with_the_reason(monkeypatch):
    with pytest.raises(ValueError, match="two teams"):
        _load(monkeypatch, STATELAB_PREPARE_EXCHANGE="0", STATELAB_PREPARE_TEAMS="0",
              STATELAB_TEAMS="alpha: ana; beta: ana")


@pytest.mark.slow
def test_team_folders_are_shared_within_a_team_and_closed_to_others():
    """prepare_team_folders with real unix accounts (root only; no hub needed): the operating system says no.

    Two members of one team and a member of another, created with useradd and removed afterwards. What a
    member's server does is done here with runuser as that account.
    """
    import os
    import secrets
    import shutil
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("needs root: creates throwaway unix accounts and groups")
    for tool in ("useradd", "userdel", "groupdel", "groupadd", "gpasswd", "runuser"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found")
    teams_mod = _teams_module()
    tag = secrets.token_hex(3)
    users = {"ana": f"sta{tag}", "ben": f"stb{tag}", "cy": f"stc{tag}"}
    teams = {f"a{tag}": [users["ana"], users["ben"]], f"b{tag}": [users["cy"]]}
    root = Path("/srv") / f"statelab-teams-test-{tag}"  # never the temporary directory
    created = []

    def run_as(user, *cmd):
        return subprocess.run(["runuser", "-u", user, "--", *cmd], capture_output=True, text=True, timeout=30)

    try:
        for name in users.values():
            subprocess.run(["useradd", "--no-create-home", "--user-group", name], check=True, capture_output=True,
                           timeout=30)
            created.append(name)
        folders = teams_mod.prepare_team_folders(teams, root)
        alpha, beta = folders
        assert (alpha.stat().st_mode & 0o7777) == teams_mod.FOLDER_MODE
        assert (root.stat().st_mode & 0o7777) == teams_mod.ROOT_MODE
        # ana saves; ben, her teammate, reads it and saves beside it
        assert run_as(users["ana"], "sh", "-c", f"echo brief > {alpha}/brief.md").returncode == 0
        assert run_as(users["ben"], "cat", f"{alpha}/brief.md").stdout.strip() == "brief"
        assert run_as(users["ben"], "sh", "-c", f"echo plan > {alpha}/plan.md").returncode == 0
        # the other team can neither read the file nor list the folder, nor list the teams
        assert run_as(users["cy"], "cat", f"{alpha}/brief.md").returncode != 0
        assert run_as(users["cy"], "ls", str(alpha)).returncode != 0
        assert run_as(users["cy"], "ls", str(root)).returncode != 0
        assert run_as(users["cy"], "sh", "-c", f"echo x > {beta}/own.md").returncode == 0
        # files keep the team's group (set-gid), so membership, not ownership, decides
        import grp

        assert grp.getgrgid((alpha / "brief.md").stat().st_gid).gr_name == teams_mod.group_name(f"a{tag}")
        # running it again repairs, and adds nobody twice
        teams_mod.prepare_team_folders(teams, root)
        assert teams_mod.member_commands(f"a{tag}", users["ana"]) == []
    finally:
        for name in created:
            subprocess.run(["userdel", "--force", name], capture_output=True, timeout=30)
        for team in teams:
            subprocess.run(["groupdel", teams_mod.group_name(team)], capture_output=True, timeout=30)
        shutil.rmtree(root, ignore_errors=True)
