"""A Data Labs team's own folder: its deliverables, kept where they last, with every save kept.

Nine months of a team's work must outlive a restarted server and be visible to every member. A
:class:`TeamFolder` is that place:

- **where**: the ``path`` given, else ``$STATELAB_TEAM_DIR`` (on the course hub, the hub's set-up creates one
  folder per team, shared by its members and closed to other teams, and points this variable at it), else
  ``~/datalabs-team``. A folder under the system's temporary directory is refused: it is emptied on restart.
- **what**: :meth:`TeamFolder.save` writes each deliverable as Markdown, a standalone HTML page, a Word document
  and JSON (the inputs, which later units reload), drafts included;
- **history**: every save is also kept under ``history/<kind>-<track>/`` with its time and author, so
  :meth:`TeamFolder.history` lists them and :meth:`TeamFolder.changes` shows what changed since an earlier
  save (last month's, say);
- **editing**: :meth:`TeamFolder.edit_file` writes a deliverable as a plain text file to edit in JupyterLab,
  and :meth:`TeamFolder.read_edits` reads it back (:mod:`statelab.datalabs.documents`); :meth:`TeamFolder.start`
  does both, starting the file from the course's example with every copied part marked;
- **design work**: :meth:`TeamFolder.copy_template` puts an interview guide, a persona or a journey map template
  (:data:`DESIGN_TEMPLATES`) in ``design/`` for the team to fill in;
- **taking it home**: :meth:`TeamFolder.archive` zips the whole folder (on Binder, download that file).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import getpass
import json
import os
import re
import stat
import tempfile
import zipfile
from importlib import resources
from pathlib import Path

import pandas as pd

from . import deliverables as dl
from . import documents
from ._common import temp_file, write_atomic

__all__ = ["DESIGN_TEMPLATES", "TEAM_DIR_ENV", "TeamFolder", "TeamFolderError", "default_team_dir"]

#: Human-centered design templates a team copies into its folder (unit 1): name -> what it is for.
DESIGN_TEMPLATES: dict[str, str] = {
    "interview_guide": "a one-hour stakeholder interview: the work as it happens, the records it creates",
    "persona": "a one-page story standing for a group of people the team interviewed",
    "journey_map": "a person's path through a service, phase by phase, with the records each phase creates",
}

#: The environment variable naming a team's folder (set per user by the course hub).
TEAM_DIR_ENV = "STATELAB_TEAM_DIR"

_FORMATS = ("md", "html", "json", "docx")


class TeamFolderError(ValueError):
    """A team folder cannot be used as asked; the message says why and what to do."""


def default_team_dir() -> Path:
    """``$STATELAB_TEAM_DIR`` if set, else ``~/datalabs-team``."""
    env = os.environ.get(TEAM_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else Path.home() / "datalabs-team"


def _under_temp(path: Path) -> bool:
    roots = {Path(tempfile.gettempdir()).resolve(), Path("/tmp").resolve(), Path("/var/tmp").resolve()}
    return any(path == r or r in path.parents for r in roots)


def _stem(kind: str, track: str | None) -> str:
    return kind if track is None else f"{kind}-{track}"


class TeamFolder:
    """A team's deliverables folder (see the module description).

    Parameters
    ----------
    path : str or Path, optional
        The folder; default :func:`default_team_dir`. Created if missing.
    user : str, optional
        Who saves (recorded in the history); default the hub user (``$JUPYTERHUB_USER``) or the login name.

    Raises
    ------
    TeamFolderError
        If the folder is under the temporary directory, or cannot be created or written.
    """

    def __init__(self, path: str | Path | None = None, *, user: str | None = None):
        folder = Path(path).expanduser() if path is not None else default_team_dir()
        folder = folder.resolve()
        if _under_temp(folder):
            raise TeamFolderError(
                f"{str(folder)!r} is under the temporary directory, which the system empties: keep the team's "
                f"work in a folder that lasts (pass path=, or set {TEAM_DIR_ENV})")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TeamFolderError(f"cannot create the team folder {str(folder)!r} ({exc.strerror}); "
                                  f"ask the hub's administrator, or pass another path=") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise TeamFolderError(f"the team folder {str(folder)!r} is not writable by you; ask the team's "
                                  "administrator to add you to the team")
        self.path = folder
        self.user = user or os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.user):
            raise TeamFolderError(f"user name {self.user!r} must be letters, digits, '.', '_' or '-'")

    def __repr__(self) -> str:
        return f"TeamFolder({str(self.path)!r}, user={self.user!r})"

    def _mkdir(self, folder: Path) -> Path:
        """Create ``folder`` with the team folder's own mode (a shared folder stays group-writable)."""
        mode = stat.S_IMODE(self.path.stat().st_mode)
        for part in reversed([folder, *folder.parents]):
            if self.path in part.parents and not part.exists():
                part.mkdir()
                os.chmod(part, mode)
        return folder

    # ------------------------------------------------------------------------------------- saving
    def save(self, deliverable: dl.Deliverable, *, formats=_FORMATS) -> dict[str, Path]:
        """Save ``deliverable`` (complete or not) in every format, and keep a copy in its history.

        Missing parts render as *to be completed* placeholders. The course's examples are refused: a team
        saves its own work (:func:`statelab.datalabs.deliverables.start_from`).

        Returns
        -------
        dict
            Format -> path written, plus ``"history"``: the copy kept for this save.
        """
        if not isinstance(deliverable, dl.Deliverable):
            raise TypeError(f"save needs a Deliverable, got {type(deliverable).__name__}")
        if deliverable.example:
            raise TeamFolderError(
                f"this {deliverable.spec.kind!r} is the course's example, not the team's: start your own from it "
                "with deliverables.start_from(example) and write it in your words")
        formats = tuple(formats)
        bad = [f for f in formats if f not in _FORMATS]
        if bad or not formats:
            raise ValueError(f"formats must be among {_FORMATS}, got {formats!r}")
        stem = _stem(deliverable.spec.kind, deliverable.track)
        written = deliverable.save(self.path, stem=stem, formats=[f for f in formats if f != "docx"] or ["json"],
                                   draft=True)
        if "docx" in formats:
            written["docx"] = documents.to_docx(deliverable, self.path / f"{stem}.docx", draft=True)
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        record = dict(deliverable.to_dict(), saved_at=stamp, saved_by=self.user)
        folder = self._mkdir(self.path / "history" / stem)
        path = folder / f"{stamp}-{self.user}.json"
        write_atomic(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        written["history"] = path
        return written

    def load(self, spec: dl.DeliverableSpec, track: str | None = None) -> dl.Deliverable:
        """The deliverable last saved for ``spec`` (and ``track``), from its JSON file."""
        path = self.path / f"{_stem(spec.kind, track)}.json"
        if not path.is_file():
            raise FileNotFoundError(f"no saved {spec.kind!r} in {str(self.path)!r} yet: save one first")
        return dl.Deliverable.load(path, spec)

    # ------------------------------------------------------------------------------------- history
    def history(self, kind: str, track: str | None = None) -> pd.DataFrame:
        """Every save of a deliverable, oldest first: ``version, saved_at, saved_by, missing, file``."""
        folder = self.path / "history" / _stem(kind, track)
        rows = []
        for n, path in enumerate(sorted(folder.glob("*.json")) if folder.is_dir() else [], 1):
            data = json.loads(path.read_text(encoding="utf-8"))
            when = _dt.datetime.strptime(data["saved_at"], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=_dt.timezone.utc)
            rows.append({"version": n, "saved_at": when.strftime("%Y-%m-%d %H:%M:%S UTC"),
                         "saved_by": data.get("saved_by", ""), "file": str(path.relative_to(self.path))})
        return pd.DataFrame(rows, columns=["version", "saved_at", "saved_by", "file"])

    def version(self, spec: dl.DeliverableSpec, track: str | None = None, *, version: int = -1) -> dl.Deliverable:
        """One saved version (1 = the first; negative numbers count from the latest, -1)."""
        hist = self.history(spec.kind, track)
        if hist.empty:
            raise FileNotFoundError(f"no saved {spec.kind!r} in {str(self.path)!r} yet")
        try:
            row = hist.iloc[version - 1 if version > 0 else version]
        except IndexError:
            raise ValueError(f"version {version!r} does not exist: there are {len(hist)} saves") from None
        return dl.Deliverable.load(self.path / row["file"], spec)

    def changes(self, spec: dl.DeliverableSpec, track: str | None = None, *, since: int = -2) -> str:
        """What changed between save ``since`` (default: the one before the latest) and the latest save.

        A unified diff of the rendered Markdown (lines starting ``-`` were removed, ``+`` added); empty when
        nothing changed. With a single save, everything is new.
        """
        latest = self.version(spec, track, version=-1).render_markdown(draft=True)
        try:
            before = self.version(spec, track, version=since).render_markdown(draft=True)
        except ValueError:
            before = ""
        diff = difflib.unified_diff(before.splitlines(), latest.splitlines(), fromfile=f"version {since}",
                                    tofile="latest", lineterm="")
        return "\n".join(diff)

    # ------------------------------------------------------------------------------------- editing
    def edit_file(self, deliverable: dl.Deliverable) -> Path:
        """The plain text file to edit ``deliverable`` in (``<kind>-<track>.edit.md``), written if missing.

        An existing file is never overwritten: it holds the team's edits.
        """
        path = self.path / f"{_stem(deliverable.spec.kind, deliverable.track)}.edit.md"
        if not path.exists():
            write_atomic(path, documents.to_text(deliverable))
        return path

    def start(self, example: dl.Deliverable, *, keep=()) -> dl.Deliverable:
        """The team's own deliverable, read from its text file; the file starts from ``example`` the first time.

        The first call writes :func:`~statelab.datalabs.deliverables.start_from` ``(example, keep=keep)`` to the
        edit file (:meth:`edit_file`): every part still in the example's words counts as missing, except the
        ``keep`` fields (tables the team computed from its own data). Later calls read the team's edits.
        """
        self.edit_file(dl.start_from(example, keep=keep))
        return self.read_edits(example.spec, example.track)

    def read_edits(self, spec: dl.DeliverableSpec, track: str | None = None) -> dl.Deliverable:
        """Read the team's edited text file back into a deliverable (see :meth:`edit_file`)."""
        path = self.path / f"{_stem(spec.kind, track)}.edit.md"
        if not path.is_file():
            raise FileNotFoundError(f"no edit file {path.name!r} in {str(self.path)!r}: create it with edit_file()")
        return documents.from_text(path.read_text(encoding="utf-8"), spec, source=path.name)

    # ------------------------------------------------------------------------------------- design work
    def copy_template(self, name: str) -> Path:
        """Copy a human-centered design template (:data:`DESIGN_TEMPLATES`) to ``design/<name>.md``, once.

        Interview guides, personas and journey maps are plain Markdown the team fills in by hand; a copy
        already there holds the team's notes and is never overwritten.
        """
        if name not in DESIGN_TEMPLATES:
            raise ValueError(f"no design template {name!r}; choose one of {list(DESIGN_TEMPLATES)}")
        path = self._mkdir(self.path / "design") / f"{name}.md"
        if not path.exists():
            text = resources.files(__package__).joinpath("data", "design", f"{name}.md").read_text(encoding="utf-8")
            write_atomic(path, text)
        return path

    # ------------------------------------------------------------------------------------- archive
    def archive(self, dest: str | Path | None = None) -> Path:
        """Zip the whole folder, history included, to ``dest``.

        By default the zip is dated and goes beside the folder, or, where you cannot write beside it (a team's
        folder on the course hub, whose parent only the hub may change), in your home folder, where JupyterLab's
        file browser shows it for download.
        """
        stamp = _dt.date.today().isoformat()
        if dest is None:
            beside = os.access(self.path.parent, os.W_OK | os.X_OK)
            dest = (self.path.parent if beside else Path.home()) / f"{self.path.name}-{stamp}.zip"
        dest = Path(dest)
        dest = dest.expanduser().resolve()
        if _under_temp(dest):
            raise TeamFolderError(f"{str(dest)!r} is under the temporary directory: choose a folder that lasts")
        if self.path == dest.parent or self.path in dest.parents:
            raise TeamFolderError("the archive cannot be written inside the folder it archives")
        fd, tmp = temp_file(dest)
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for path in sorted(self.path.rglob("*")):
                    if path.is_file() and not path.name.startswith("."):
                        zf.write(path, Path(self.path.name) / path.relative_to(self.path))
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest
