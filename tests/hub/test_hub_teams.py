"""Data Labs team folders on the live hub, used as two teams would use them (issue 19).

The hub runs the course's own ``binder/hub/jupyterhub_config.py`` with the team list an instructor sets,
``STATELAB_TEAMS="illinois-workforce-<tag>: ana, ben; kentucky-snap-<tag>: cal"`` and ``STATELAB_TEAMS_ROOT`` (a
folder under /srv: a team folder under the temporary directory is refused by ``TeamFolder``). The hub's own
set-up creates the groups and folders; nothing here does. Each user is a throwaway unix account whose server
the hub starts as that account (``test_hub.run_classroom``), and every step runs in a kernel on the user's own
server, with the public API a unit workbook uses (``TeamFolder()``, ``edit_file``, ``read_edits``, ``save``,
``load``, ``history``, ``changes``), so the operating system decides what each member may do:

1. ana opens her team's folder, fills in the problem brief in its text file and saves it, changes the
   decision and saves again;
2. ben, her teammate, in his own server: loads the brief (ana's words), sees both saves in its history and
   what changed between them, edits the same text file and saves; ana then loads ben's version;
3. cal, in the other team: cannot list the team root or ana's folder, read her brief or write there; opening
   the folder with ``TeamFolder`` gives the course's one-line error (no chained ``PermissionError``), not data;
   his own team's folder works and holds nothing of the other team's;
4. ana's server is stopped through the API and started again: the saves are still there.

Needs what tests/hub/test_hub.py needs (root, configurable-http-proxy, node); skips with the reason otherwise.
"""

from __future__ import annotations

import grp
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_hub import HUB_SRC, REQUEST_TIMEOUT, START_TIMEOUT, Hub, run_classroom  # noqa: E402

sys.path.insert(0, str(HUB_SRC))
from statelab_teams import HOME_LINK  # noqa: E402

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TRACK = "workforce"
MEMBERS = ("ana", "ben", "cal")
FIRST_DECISION = "Whether the state funds re-employment services for long-term claimants in 2027."
SECOND_DECISION = "Whether the state funds re-employment services for long-term claimants from July 2027."
BEN_DECISION = "Whether the legislature funds a re-employment pilot in two regions from July 2027."


def _brief_text(team: str, decision: str) -> str:
    """The problem brief's text file, filled in as a team member writes it in JupyterLab."""
    return f"""---
kind: problem_brief
track: {TRACK}
title: Problem brief
fields:
  team: {team}
  problem_statement: We cannot tell how many unemployment insurance claimants find work within two quarters.
  decision: {decision}
  population: Unemployment insurance claimants in Illinois, 2018 to 2023
  stakeholders:
    - role: UI director
      organization: State workforce agency
      interest: Timely re-employment
      influence: high
  logic_model:
    inputs: [UI claims, UI wage records]
    activities: [link claims to later wages]
    outputs: [re-employment rates by region]
    outcomes: [a funded re-employment pilot]
---
"""


# what a member's kernel runs first: the workbook's imports and its team folder, and who runs it
_OPEN = """
import json, os, grp, statelab
from statelab.datalabs import deliverables
from statelab.datalabs.team import TeamFolder, TeamFolderError
team = TeamFolder()
who = {"uid": os.getuid(), "groups": sorted(grp.getgrgid(g).gr_name for g in os.getgroups()),
       "path": str(team.path), "env": os.environ.get("STATELAB_TEAM_DIR"), "user": team.user,
       "statelab": statelab.__file__}
"""


# the unit 1 workbook's cells: the text file to edit (made once, blank), then read back and saved
_EDIT_FILE = f"""
edit = team.edit_file(deliverables.blank(deliverables.PROBLEM_BRIEF, track={TRACK!r}))
print(json.dumps({{"edit": str(edit), "text": edit.read_text(encoding="utf-8")}}))
"""
_SAVE = f"""
brief = team.read_edits(deliverables.PROBLEM_BRIEF, {TRACK!r})
saved = team.save(brief)
"""
EDIT_FILE = f"{HOME_LINK}/problem_brief-{TRACK}.edit.md"  # where JupyterLab's file browser shows it


def _edit_in_jupyterlab(hub: Hub, name: str, text: str) -> None:
    """What JupyterLab does when the member opens the brief's text file from the file browser and saves it."""
    url = f"/user/{name}/api/contents/{EDIT_FILE}"
    r = hub.get(name, url, params={"type": "file", "format": "text", "content": "1"})
    assert r.status_code == 200, (name, r.status_code, r.text[:300])
    r = hub.as_user(name).put(f"{hub.url}{url}", timeout=REQUEST_TIMEOUT,
                              json={"type": "file", "format": "text", "content": text})
    assert r.status_code == 200, (name, r.status_code, r.text[:300])


_REPORT = f"""
loaded = team.load(deliverables.PROBLEM_BRIEF, {TRACK!r})
history = team.history("problem_brief", {TRACK!r})
print(json.dumps({{**who, "missing": loaded.missing(), "decision": loaded.fields["decision"],
                  "team": loaded.fields["team"], "saved_by": list(history["saved_by"]),
                  "changes": team.changes(deliverables.PROBLEM_BRIEF, {TRACK!r}),
                  "first_two": team.changes(deliverables.PROBLEM_BRIEF, {TRACK!r}, since=1)
                  if len(history) > 2 else None,
                  "files": sorted(p.name for p in team.path.iterdir())}}))
"""


def _start(hub: Hub, *names: str) -> None:
    for name in names:
        r = hub.api("POST", f"/users/{name}/server")
        assert r.status_code in (201, 202), (name, r.status_code, r.text)
    for name in names:
        hub.wait_ready(name)


def _stop(hub: Hub, name: str) -> None:
    r = hub.api("DELETE", f"/users/{name}/server")
    assert r.status_code in (202, 204), (r.status_code, r.text)
    deadline = time.monotonic() + START_TIMEOUT
    while hub.api("GET", f"/users/{name}").json().get("servers", {}).get(""):
        assert time.monotonic() < deadline, f"{name}'s server did not stop\n{hub.log_tail()}"
        time.sleep(1)


def test_two_teams_share_and_keep_their_folders_on_the_live_hub():
    tag = secrets.token_hex(2)
    illinois, kentucky = f"illinois-workforce-{tag}", f"kentucky-snap-{tag}"
    # never the temporary directory, which TeamFolder refuses (the team folders, and the homes unit 9's zip goes to)
    root = Path("/srv") / f"statelab-teams-hubtest-{tag}"
    homes = Path("/srv") / f"statelab-homes-hubtest-{tag}"

    def team_settings(names: dict) -> dict:  # what the instructor sets before starting the hub (README)
        return {"STATELAB_TEAMS": f"{illinois}: {names['ana']}, {names['ben']}; {kentucky}: {names['cal']}",
                "STATELAB_TEAMS_ROOT": str(root)}

    try:
        homes.mkdir(mode=0o755)
        with run_classroom(load_users=0, extra_env=team_settings, extra_users=MEMBERS, home_root=homes) as room:
            hub: Hub = room["hub"]
            n = room["names"]
            ana, ben, cal = (n[m] for m in MEMBERS)
            il_dir, ky_dir = root / illinois, root / kentucky

            # the hub's set-up made the folders, before anybody signed in
            assert (root.stat().st_mode & 0o7777) == 0o711
            for folder, team in ((il_dir, illinois), (ky_dir, kentucky)):
                st = folder.stat()
                assert (st.st_mode & 0o7777) == 0o2770 and grp.getgrgid(st.st_gid).gr_name == f"team-{team}"

            for name in (ana, ben, cal):
                # the team list alone makes them hub users (allowed, created when the hub starts)
                assert hub.api("GET", f"/users/{name}").status_code == 200, name
                r = hub.api("POST", f"/users/{name}/tokens", json={"note": "team folders test"})
                assert r.status_code == 201, r.text
                hub.tokens[name] = r.json()["token"]
            _start(hub, ana, ben, cal)

            # 1. ana makes the brief's text file, fills it in JupyterLab and saves; changes the decision, saves again
            made = hub.run_code(ana, _OPEN + _EDIT_FILE)
            assert "decision: ''" in made["text"]  # blank: the team writes its own
            _edit_in_jupyterlab(hub, ana, _brief_text("Illinois workforce team", FIRST_DECISION))
            hub.run_code(ana, _OPEN + _SAVE + "print('{}')")
            _edit_in_jupyterlab(hub, ana, _brief_text("Illinois workforce team", SECOND_DECISION))
            first = hub.run_code(ana, _OPEN + _SAVE + _REPORT)
            assert first["statelab"].startswith(str(REPO)), first["statelab"]  # the code under test
            assert first["uid"] == room["accounts"]["ana"].pw_uid and f"team-{illinois}" in first["groups"]
            assert first["path"] == first["env"] == str(il_dir)
            assert Path(made["edit"]) == il_dir / f"problem_brief-{TRACK}.edit.md"
            assert first["user"] == ana and first["saved_by"] == [ana, ana]
            assert first["missing"] == [] and first["decision"] == SECOND_DECISION
            assert _diff_lines(first["changes"]) == {"-": [FIRST_DECISION], "+": [SECOND_DECISION]}, first["changes"]
            assert {f"problem_brief-{TRACK}.{ext}" for ext in ("md", "html", "json", "docx", "edit.md")} <= set(
                first["files"]), first["files"]

            # 2. ben, same team, own server: ana's words, both saves and what changed; then his own edit
            seen = hub.run_code(ben, _OPEN + _REPORT)
            assert seen["uid"] == room["accounts"]["ben"].pw_uid and seen["path"] == str(il_dir)
            assert seen["team"] == "Illinois workforce team" and seen["decision"] == SECOND_DECISION
            assert seen["saved_by"] == [ana, ana]
            assert seen["changes"] == first["changes"]
            assert _diff_lines(seen["changes"]) == {"-": [FIRST_DECISION], "+": [SECOND_DECISION]}, seen["changes"]
            # he opens the same text file in his JupyterLab: ana's last version; he rewrites the decision and saves
            r = hub.get(ben, f"/user/{ben}/api/contents/{EDIT_FILE}", params={"type": "file", "format": "text"})
            assert r.status_code == 200 and SECOND_DECISION in r.json()["content"], (r.status_code, r.text[:300])
            _edit_in_jupyterlab(hub, ben, _brief_text("Illinois workforce team", BEN_DECISION))
            edited = hub.run_code(ben, _OPEN + _SAVE + _REPORT)
            assert edited["saved_by"] == [ana, ana, ben] and edited["decision"] == BEN_DECISION
            assert _diff_lines(edited["changes"]) == {"-": [SECOND_DECISION], "+": [BEN_DECISION]}
            back = hub.run_code(ana, _OPEN + _REPORT)
            assert back["decision"] == BEN_DECISION and back["saved_by"] == [ana, ana, ben]
            assert _diff_lines(back["first_two"]) == {"-": [FIRST_DECISION], "+": [BEN_DECISION]}

            # 3. cal, the other team: the operating system says no, and the API says it in one line
            other = hub.run_code(cal, _OPEN + f"""
tries = {{}}
for what, act in {{
    "list root": lambda: os.listdir({str(root)!r}),
    "list folder": lambda: os.listdir({str(il_dir)!r}),
    "read brief": lambda: open({str(il_dir / f"problem_brief-{TRACK}.json")!r}).read(),
    "read history": lambda: os.listdir({str(il_dir / "history")!r}),
    "write": lambda: open({str(il_dir / "from-cal.md")!r}, "w").write("x"),
}}.items():
    try:
        act()
        tries[what] = "allowed"
    except PermissionError:
        tries[what] = "denied"
try:
    TeamFolder({str(il_dir)!r})
    opened = None
except TeamFolderError as exc:
    opened = {{"message": str(exc), "chained": exc.__cause__ is not None
              or (exc.__context__ is not None and not exc.__suppress_context__)}}
print(json.dumps({{**who, "tries": tries, "opened": opened, "own": sorted(p.name for p in team.path.iterdir()),
                  "history": len(team.history("problem_brief", {TRACK!r}))}}))
""")
            assert other["uid"] == room["accounts"]["cal"].pw_uid and other["path"] == str(ky_dir)
            assert f"team-{illinois}" not in other["groups"]
            assert other["tries"] == dict.fromkeys(
                ("list root", "list folder", "read brief", "read history", "write"), "denied"), other["tries"]
            assert other["opened"] is not None and not other["opened"]["chained"], other["opened"]
            assert "\n" not in other["opened"]["message"] and "add you to the team" in other["opened"]["message"]
            assert other["own"] == [] and other["history"] == 0
            assert not (il_dir / "from-cal.md").exists()
            # what cal's notebook shows for the mistake: the course's error, no PermissionError behind it
            shown = hub.run_error(cal, f"from statelab.datalabs.team import TeamFolder\nTeamFolder({str(il_dir)!r})")
            assert shown["ename"] == "TeamFolderError" and shown["evalue"] == other["opened"]["message"]
            text = "\n".join(shown["traceback"])
            assert "PermissionError" not in text and "Errno" not in text and "During handling" not in text, text

            # 4. the saves outlast ana's server
            _stop(hub, ana)
            _start(hub, ana)
            after = hub.run_code(ana, _OPEN + _REPORT)
            assert after["decision"] == BEN_DECISION and after["saved_by"] == [ana, ana, ben]
            assert after["files"] == back["files"]
            # unit 9's last cell: the whole folder as one zip, in her home (she cannot write beside the folder)
            zipped = hub.run_code(ana, _OPEN + """
import zipfile
z = team.archive()
print(json.dumps({"zip": str(z), "names": zipfile.ZipFile(z).namelist()}))
""")
            assert Path(zipped["zip"]).parent == Path(room["accounts"]["ana"].pw_dir), zipped["zip"]
            saves = [m for m in zipped["names"] if f"/history/problem_brief-{TRACK}/" in m]
            assert len(saves) == 3 and sum(m.endswith(f"-{ben}.json") for m in saves) == 1, zipped["names"]
            # on disk: every file and folder in the team's group (set-gid), whoever saved it
            for path in [p for p in il_dir.rglob("*")]:
                st = path.stat()
                assert grp.getgrgid(st.st_gid).gr_name == f"team-{illinois}", path
    finally:
        for team in (illinois, kentucky):
            subprocess.run(["groupdel", f"team-{team}"], capture_output=True, timeout=30)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(homes, ignore_errors=True)


def _diff_lines(diff: str) -> dict:
    """The text of a unified diff's removed and added lines that mention a decision."""
    out = {"-": [], "+": []}
    for line in diff.splitlines():
        if line[:1] in out and not line.startswith(("---", "+++")) and "re-employment" in line and "fund" in line:
            for decision in (FIRST_DECISION, SECOND_DECISION, BEN_DECISION):
                if decision in line:
                    out[line[0]].append(decision)
    return out
