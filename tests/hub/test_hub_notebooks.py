"""The course notebooks reach every learner's home folder on the live hub, and updates keep their edits.

The hub runs binder/hub/jupyterhub_config.py with ``STATELAB_NOTEBOOKS_REPO`` pointing at a course repository
(a small git repository made here from the real pre-work notebooks, served read-only over git's HTTP
protocol from 127.0.0.1, as a hosted repository would be). A new learner signs in: the hub sends their
browser to their server's default URL, nbgitpuller's pull page, whose script asks the server to pull and
then opens JupyterLab on the course folder. The test does what the browser does, over HTTP, then:

* the learner's home holds the notebooks, owned by the learner's own unix account;
* the learner edits one notebook and deletes another; the instructor commits a change to the edited
  notebook, a change to a third and a new file; the learner signs in again;
* the learner's edit is still there (merged with the instructor's change), the deleted notebook is back,
  the third notebook and the new file are updated or present.

Needs what tests/hub/test_hub.py needs (root, configurable-http-proxy, node) plus git and nbgitpuller;
skips with the reason otherwise.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_hub import REQUEST_TIMEOUT, Hub, run_classroom  # noqa: E402

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FOLDER = "statelab-course"
PULL_TIMEOUT = 180
EDITED, DELETED, UPDATED = "01-sql-primer.ipynb", "02-pandas-primer.ipynb", "README.md"
LEARNER_MARK = "learner's own note: WHERE keeps rows, HAVING keeps groups"
INSTRUCTOR_MARK = "Updated by the instructor after day 1."


def _git(*args: str, cwd: Path) -> str:
    out = subprocess.run(["git", "-c", "user.name=Instructor", "-c", "user.email=instructor@example.org",
                          "-c", "init.defaultBranch=main", *args],
                         cwd=cwd, check=True, capture_output=True, text=True, timeout=60)
    return out.stdout


def _course_repository(base: Path) -> tuple[Path, Path]:
    """A working copy with the pre-work notebooks and a bare repository it pushes to (served over HTTP)."""
    work, bare = base / "course-work", base / "served" / "course.git"
    (work / "modules" / "00-prework").mkdir(parents=True)
    for name in (EDITED, DELETED):
        shutil.copy(REPO / "modules" / "00-prework" / name, work / "modules" / "00-prework" / name)
    (work / "modules" / UPDATED).write_text("# Course modules\n\nOne folder per module.\n")
    _git("init", cwd=work)
    _git("add", "-A", cwd=work)
    _git("commit", "-m", "The course, first release", cwd=work)
    bare.parent.mkdir(parents=True)
    _git("clone", "--bare", str(work), str(bare), cwd=base)
    _git("update-server-info", cwd=bare)  # what git's "dumb" HTTP protocol reads
    _git("remote", "add", "origin", str(bare), cwd=work)
    return work, bare


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass


def _pull_as_the_browser_does(hub: Hub, name: str) -> str:
    """Open the user's server like a browser after sign-in, then run the pull the page's script runs."""
    s = hub.as_user(name)
    r = s.get(f"{hub.url}/user/{name}/", timeout=REQUEST_TIMEOUT, allow_redirects=True)
    assert r.status_code == 200, (r.status_code, r.url)
    landed = urlsplit(r.url)
    assert landed.path.endswith(f"/user/{name}/git-pull"), f"sign-in did not land on the pull page: {r.url}"
    params = {k: v[0] for k, v in parse_qs(landed.query).items()}
    api = f"{hub.url}/user/{name}/git-pull/api"
    events, deadline = [], time.monotonic() + PULL_TIMEOUT
    with s.get(api, params={k: params[k] for k in ("repo", "branch", "targetpath")}, stream=True,
               timeout=PULL_TIMEOUT) as stream:
        assert stream.status_code == 200, stream.text[:500]
        for line in stream.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                events.append(json.loads(line[5:]))
                if events[-1].get("phase") in ("finished", "error"):
                    break
            assert time.monotonic() < deadline, "the pull did not finish"
    assert events and events[-1].get("phase") == "finished", events[-5:]
    return params["urlpath"]


def _contents(hub: Hub, name: str, path: str) -> dict:
    r = hub.get(name, f"/user/{name}/api/contents/{path}")
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return r.json()


def test_new_learner_gets_the_notebooks_and_updates_keep_their_edits(tmp_path):
    base = tmp_path
    base.chmod(0o755)
    work, bare = _course_repository(base)
    subprocess.run(["chmod", "-R", "a+rX", str(base)], check=True, timeout=30)
    handler = functools.partial(_Quiet, directory=str(bare.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    repo_url = f"http://127.0.0.1:{server.server_address[1]}/course.git"
    env = {"STATELAB_NOTEBOOKS_REPO": repo_url, "STATELAB_NOTEBOOKS_BRANCH": "main",
           "STATELAB_NOTEBOOKS_DIR": FOLDER, "STATELAB_NOTEBOOKS_OPEN": "modules/00-prework"}
    try:
        # git's "dumb" HTTP protocol cannot make shallow clones: the servers pull the whole (small) history
        with run_classroom(load_users=0, extra_env=env,
                           extra_config='c.Spawner.environment.update({"NBGITPULLER_DEPTH": "0"})\n') as room:
            hub: Hub = room["hub"]
            name = room["names"]["alice"]
            assert hub.api("POST", "/users", json={"usernames": [name]}).status_code == 201
            r = hub.api("POST", f"/users/{name}/tokens", json={"note": "notebooks test"})
            hub.tokens[name] = r.json()["token"]
            assert hub.api("POST", f"/users/{name}/server").status_code in (201, 202)
            hub.wait_ready(name)

            # first sign-in: the notebooks arrive, in the learner's own account's files
            urlpath = _pull_as_the_browser_does(hub, name)
            assert urlpath == f"lab/tree/{FOLDER}/modules/00-prework"
            listing = {c["name"] for c in _contents(hub, name, f"{FOLDER}/modules/00-prework")["content"]}
            assert {EDITED, DELETED} <= listing, listing
            owner = hub.run_code(name, f"""
import json, os
st = os.stat(os.path.expanduser("~/{FOLDER}/modules/00-prework/{EDITED}"))
print(json.dumps({{"uid": st.st_uid, "me": os.getuid()}}))
""")
            assert owner["uid"] == owner["me"] == room["accounts"]["alice"].pw_uid

            # the learner edits one notebook (a new cell at the end) and deletes another
            path = f"{FOLDER}/modules/00-prework/{EDITED}"
            model = _contents(hub, name, path)
            model["content"]["cells"].append({"cell_type": "markdown", "metadata": {}, "source": LEARNER_MARK,
                                              "id": "learner-note"})
            r = hub.as_user(name).put(f"{hub.url}/user/{name}/api/contents/{path}", timeout=REQUEST_TIMEOUT,
                                      json={"type": "notebook", "format": "json", "content": model["content"]})
            assert r.status_code == 200, r.text[:300]
            r = hub.as_user(name).delete(f"{hub.url}/user/{name}/api/contents/{FOLDER}/modules/00-prework/{DELETED}",
                                         timeout=REQUEST_TIMEOUT)
            assert r.status_code == 204, r.text[:300]

            # the instructor changes the same notebook elsewhere (its title), another file, and adds one
            nb_file = work / "modules" / "00-prework" / EDITED
            nb = json.loads(nb_file.read_text())
            title = nb["cells"][1]["source"]
            nb["cells"][1]["source"] = [title[0].rstrip("\n") + " (version 2)\n", *title[1:]]
            nb_file.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            (work / "modules" / UPDATED).write_text(f"# Course modules\n\n{INSTRUCTOR_MARK}\n")
            (work / "modules" / "NEW.md").write_text("A file added after the first pull.\n")
            _git("add", "-A", cwd=work)
            _git("commit", "-m", "Day 1 fixes", cwd=work)
            _git("push", "origin", "HEAD:main", cwd=work)
            _git("update-server-info", cwd=bare)
            subprocess.run(["chmod", "-R", "a+rX", str(bare)], check=True, timeout=30)

            # the next sign-in pulls again
            _pull_as_the_browser_does(hub, name)
            cells = _contents(hub, name, path)["content"]["cells"]
            text = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
            assert any(LEARNER_MARK in t for t in text), "the learner's edit was overwritten"
            assert "(version 2)" in text[1], "the instructor's change to the same notebook did not arrive"
            listing = {c["name"] for c in _contents(hub, name, f"{FOLDER}/modules/00-prework")["content"]}
            assert DELETED in listing, "a notebook the learner deleted was not restored"
            assert INSTRUCTOR_MARK in _contents(hub, name, f"{FOLDER}/modules/{UPDATED}")["content"]
            assert _contents(hub, name, f"{FOLDER}/modules/NEW.md")["type"] == "file"
    finally:
        server.shutdown()
        server.server_close()
