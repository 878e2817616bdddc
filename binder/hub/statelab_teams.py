"""Data Labs team folders on the course hub: one folder per team, shared by its members, closed to other teams.

``jupyterhub_config.py`` reads the teams from ``STATELAB_TEAMS`` (``"alpha: ana, ben; beta: cy"``) and, when
the hub runs as root, creates

    <root>                 root  root          0711  members pass through; nobody lists the teams
    <root>/<team>          root  team-<team>   2770  the team's members read and write; set-gid keeps new
                                                     files and folders in the team's group; others: nothing

with one unix group ``team-<team>`` per team. Members are added to their team's group at every spawn
(TLJH creates a user's account at the first login, after the hub started), and each member's server gets
``STATELAB_TEAM_DIR`` pointing at the team's folder, where :class:`statelab.datalabs.team.TeamFolder` saves, and
a link to it in the home folder, ``~/datalabs-team``, so that JupyterLab's file browser shows the team's files.
Unix permissions do the closing, so this needs a spawner that runs each user as their own account
(LocalProcessSpawner, TLJH's SystemdSpawner); on Kubernetes mount one volume per team instead (README).
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import subprocess
from pathlib import Path

__all__ = ["FOLDER_MODE", "HOME_LINK", "ROOT_MODE", "group_name", "link_in_home", "member_commands", "parse_teams",
           "prepare_team_folders", "team_of"]

ROOT_MODE = 0o711
#: The link to the team's folder in each member's home (where JupyterLab's file browser can open it); also the
#: folder ``TeamFolder`` falls back to when ``STATELAB_TEAM_DIR`` is not set.
HOME_LINK = "datalabs-team"
FOLDER_MODE = 0o2770
_NAME = re.compile(r"[a-z][a-z0-9-]{0,23}")


def group_name(team: str) -> str:
    """The unix group of a team."""
    return f"team-{team}"


def parse_teams(text: str) -> dict[str, list[str]]:
    """``"alpha: ana, ben; beta: cy"`` -> ``{"alpha": ["ana", "ben"], "beta": ["cy"]}``.

    Raises ``ValueError`` naming the part that is wrong: a team without ``:``, a bad team name (lower-case
    letters, digits and ``-``, starting with a letter), a team without members, or a user in two teams.
    """
    teams: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for part in (p.strip() for p in (text or "").split(";")):
        if not part:
            continue
        if ":" not in part:
            raise ValueError(f"STATELAB_TEAMS: {part!r} has no ':'; write 'team: user, user; team: user'")
        name, members = (s.strip() for s in part.split(":", 1))
        if not _NAME.fullmatch(name):
            raise ValueError(f"STATELAB_TEAMS: team name {name!r} must be lower-case letters, digits or '-' "
                             "(24 at most), starting with a letter")
        users = [u.strip() for u in members.split(",") if u.strip()]
        if not users:
            raise ValueError(f"STATELAB_TEAMS: team {name!r} has no members")
        for user in users:
            if user in seen and seen[user] != name:
                raise ValueError(f"STATELAB_TEAMS: user {user!r} is in two teams ({seen[user]!r} and {name!r})")
            seen[user] = name
        teams[name] = users
    return teams


def team_of(teams: dict[str, list[str]], user: str) -> str | None:
    """The team ``user`` belongs to, or ``None``."""
    return next((t for t, members in teams.items() if user in members), None)


def member_commands(team: str, unix_user: str) -> list[list[str]]:
    """The commands that put ``unix_user`` in ``team``'s group (empty when it is a member already)."""
    try:
        members = grp.getgrnam(group_name(team)).gr_mem
    except KeyError:
        members = []
    return [] if unix_user in members else [["gpasswd", "-a", unix_user, group_name(team)]]


def link_in_home(account: str, folder: Path, name: str = HOME_LINK) -> Path | None:
    """Put a link to the team's ``folder`` in ``account``'s home folder, as ``~/<name>``; needs root.

    A server's file browser shows only the home folder, so without the link a member could not open the team's
    files (the text files the workbooks ask them to edit) in JupyterLab. Anything already at ``~/<name>`` is
    left alone (the member's own folder, or the link from an earlier spawn). Returns the link, or ``None``.
    """
    pw = pwd.getpwnam(account)
    home = Path(pw.pw_dir)
    if not home.is_dir():
        return None
    link = home / name
    try:
        os.symlink(folder, link)  # fails if anything, even a dangling link, is there already
    except FileExistsError:
        return link if link.is_symlink() and Path(os.readlink(link)) == Path(folder) else None
    os.lchown(link, pw.pw_uid, pw.pw_gid)
    return link


def prepare_team_folders(teams: dict[str, list[str]], root: Path, *, unix_user=lambda name: name) -> list[Path]:
    """Create or repair the groups and folders above, and add the members whose accounts exist; needs root.

    Returns the team folders. ``unix_user`` maps a hub user name to its unix account (TLJH: ``jupyter-<name>``).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    os.chown(root, 0, 0)
    os.chmod(root, ROOT_MODE)
    folders = []
    for team, members in teams.items():
        try:
            gid = grp.getgrnam(group_name(team)).gr_gid
        except KeyError:
            subprocess.run(["groupadd", group_name(team)], check=True, capture_output=True, timeout=30)
            gid = grp.getgrnam(group_name(team)).gr_gid
        folder = root / team
        folder.mkdir(exist_ok=True)
        os.chown(folder, 0, gid)
        os.chmod(folder, FOLDER_MODE)
        folders.append(folder)
        for member in members:
            account = unix_user(member)
            try:
                pwd.getpwnam(account)
            except KeyError:
                continue  # added at the member's first spawn, once the account exists
            for cmd in member_commands(team, account):
                subprocess.run(cmd, check=True, capture_output=True, timeout=30)
    return folders
