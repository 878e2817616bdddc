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


def test_formgrader_feedback_uses_the_course_page_and_leaves_grading_pages_alone(monkeypatch):
    """The grader's nbgrader settings swap the feedback exporter only (not HTMLExporter, which the
    formgrader's grading pages use too)."""
    from traitlets.config.loader import PyFileConfigLoader
    from traitlets.utils.importstring import import_item

    monkeypatch.setenv("STATELAB_COURSE_ROOT", "/x/course")
    grader = PyFileConfigLoader("nbgrader_config.py", path=str(HUB / "jupyter" / "grader")).load_config()
    assert grader.CourseDirectory.root == "/x/course"
    exporter = import_item(grader.GenerateFeedback.exporter_class)
    from nbconvert.exporters import HTMLExporter

    assert issubclass(exporter, HTMLExporter) and exporter is not HTMLExporter
    assert "HTMLExporter" not in grader
    assert exporter().template_file == "feedback.html.j2"
