"""A team's own work (issue 19): blank by default, examples labelled, saves kept with history, Word and text.

Team folders are created under the home directory, never the temporary one: the folder refuses the latter,
which is the point of the first test.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from statelab.datalabs import agreements, deliverables as dl, documents, team


@pytest.fixture
def lasting(monkeypatch):
    root = Path.home() / ".cache" / "statelab-tests" / uuid.uuid4().hex
    root.mkdir(parents=True)
    monkeypatch.delenv(team.TEAM_DIR_ENV, raising=False)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def example():
    return agreements.draft_agreement(agreements.example_inputs("safety_net", team="Example team"),
                                      track="safety_net")


def test_no_team_folder_under_the_temporary_directory(monkeypatch):
    for path in (tempfile.gettempdir(), Path(tempfile.gettempdir()) / "statelab-datalabs" / "safety_net"):
        with pytest.raises(team.TeamFolderError, match="temporary directory"):
            team.TeamFolder(path)
    monkeypatch.setenv(team.TEAM_DIR_ENV, str(Path(tempfile.gettempdir()) / "team"))
    with pytest.raises(team.TeamFolderError, match="STATELAB_TEAM_DIR"):
        team.TeamFolder()


def test_default_folder_comes_from_the_environment(monkeypatch, lasting):
    monkeypatch.setenv(team.TEAM_DIR_ENV, str(lasting / "alpha"))
    assert team.TeamFolder().path == (lasting / "alpha").resolve()
    monkeypatch.delenv(team.TEAM_DIR_ENV)
    assert team.default_team_dir() == Path.home() / "datalabs-team"


def test_examples_are_labelled_and_never_count_as_the_team_s_work(example, lasting):
    labelled = dl.Deliverable(example.spec, example.fields, track="safety_net", example=True)
    assert labelled.title.startswith("Example:")
    assert "**Example.**" in labelled.render_markdown()
    with pytest.raises(team.TeamFolderError, match="course's example"):
        team.TeamFolder(lasting / "alpha").save(labelled)
    mine = dl.start_from(labelled, team="Alpha team")
    assert not mine.example and mine.fields["team"] == "Alpha team"
    # every required part still in the course's words fails the completeness check
    assert set(mine.missing()) == set(example.spec.required) - {"team"}
    assert "example text" in mine.check()[0]
    # the same text typed again with other spacing or case is still the example's
    mine.fields["purpose"] = "  " + example.fields["purpose"].upper().replace(" ", "  ") + "\n"
    assert "purpose" in mine.missing()
    mine.fields["purpose"] = "To decide whether longer certification periods reduce churn in our state."
    assert "purpose" not in mine.missing()


def test_blank_deliverable_lists_every_required_field():
    doc = dl.blank(dl.PROBLEM_BRIEF, track="workforce", team="Beta team")
    assert doc.missing() == [n for n in dl.PROBLEM_BRIEF.required if n != "team"]
    assert "*[to be completed: problem_statement]*" in doc.render_markdown()


def test_saves_keep_history_and_show_changes(example, lasting):
    ana = team.TeamFolder(lasting / "alpha", user="ana")
    ben = team.TeamFolder(lasting / "alpha", user="ben")
    mine = dl.start_from(example, team="Alpha team")
    first = ana.save(mine)
    assert {p.suffix for k, p in first.items() if k != "history"} == {".md", ".html", ".json", ".docx"}
    mine.fields["purpose"] = "Our own purpose."
    ben.save(mine)
    hist = ana.history("data_sharing_agreement", "safety_net")
    assert list(hist["saved_by"]) == ["ana", "ben"] and list(hist["version"]) == [1, 2]
    diff = ana.changes(agreements.DATA_SHARING_AGREEMENT, "safety_net")
    assert "+Our own purpose." in diff and "-*[to be completed: purpose]*" in diff
    assert ana.load(agreements.DATA_SHARING_AGREEMENT, "safety_net").fields["purpose"] == "Our own purpose."
    assert ana.version(agreements.DATA_SHARING_AGREEMENT, "safety_net", version=1).missing() != []
    with pytest.raises(ValueError, match="3"):
        ana.version(agreements.DATA_SHARING_AGREEMENT, "safety_net", version=3)
    zipped = ana.archive(lasting / "alpha.zip")
    names = zipfile.ZipFile(zipped).namelist()
    assert "alpha/data_sharing_agreement-safety_net.docx" in names
    assert sum(n.startswith("alpha/history/") for n in names) == 2


def test_text_file_round_trip(example, lasting):
    folder = team.TeamFolder(lasting / "alpha")
    path = folder.edit_file(example)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\nkind: data_sharing_agreement\n") and "# How to edit this file" in text
    back = folder.read_edits(agreements.DATA_SHARING_AGREEMENT, "safety_net")
    assert back.render_markdown() == example.render_markdown()
    # a team edits the file in a text editor; the edit comes back, and the file is never overwritten
    path.write_text(text.replace("team: Example team", "team: Alpha team"), encoding="utf-8")
    assert folder.read_edits(agreements.DATA_SHARING_AGREEMENT, "safety_net").fields["team"] == "Alpha team"
    assert folder.edit_file(example) == path and "Alpha team" in path.read_text(encoding="utf-8")
    path.write_text("---\nfields:\n  team: [unclosed\n---\n", encoding="utf-8")
    with pytest.raises(documents.TextFormatError, match="line"):
        folder.read_edits(agreements.DATA_SHARING_AGREEMENT, "safety_net")


@pytest.mark.parametrize("kind", ["agreement", "charter", "quality"])
def test_word_round_trip_has_the_same_content(kind, example, lasting):
    if kind == "agreement":
        doc = example
    elif kind == "charter":
        doc = dl.Deliverable(dl.GOVERNANCE_CHARTER, {
            "team": "Alpha team", "purpose": "Keep the **linked** records right.",
            "roles": pd.DataFrame({"source": ["snap", "tanf"], "owner": ["Director, DHS", "Director | DHS"]}),
            "documentation_standards": ["A codebook for every table", "A change log"],
            "decision_rights": [{"decision": "Approve a new use", "decides": "Data owner"}],
            "review_cadence": "Monthly."}, track="safety_net")
    else:
        doc = dl.Deliverable(dl.QUALITY_REPORT, {
            "team": "Alpha team", "sources": ["snap"], "summary": pd.DataFrame({"check": ["ssn"], "share": [0.08]}),
            "findings": ["8% of SNAP heads lack a valid SSN."],
            "actions": [{"action": "Trace placeholders", "owner": "Stewards", "due": "Month 6"}]})
    path = documents.to_docx(doc, lasting / f"{kind}.docx")
    blocks = documents.docx_blocks(path)
    md = doc.render_markdown()
    headings = [line.lstrip("#").strip() for line in md.splitlines() if line.startswith("#")]
    assert [t for k, t in blocks if k == "heading"] == headings
    cells = [t for k, t in blocks if k == "cell"]
    for line in md.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            expected = [c.strip().replace("\\|", "|").replace("<br>", "\n") for c in line.strip("|").split(" | ")]
            for value in expected:
                assert value.strip("*") in cells, (value, cells[:10])
    text = " ".join(t for k, t in blocks if k == "paragraph")
    for item in ("Keep the linked records right.", "8% of SNAP heads lack a valid SSN.") if kind != "agreement" else ():
        if item in md.replace("**", ""):
            assert item in text
    import docx

    props = docx.Document(str(path)).core_properties
    assert props.title == doc.title and props.language == "en-US"
    assert not list(lasting.glob(".*.tmp"))  # written to a temporary file, then renamed


def test_shared_folder_stays_group_writable(lasting):
    shared = lasting / "alpha"
    shared.mkdir()
    os.chmod(shared, 0o2770)
    folder = team.TeamFolder(shared, user="ana")
    doc = dl.blank(dl.PROBLEM_BRIEF, track="workforce", team="Alpha team")
    saved = folder.save(doc)
    assert (saved["history"].parent.stat().st_mode & 0o7777) == 0o2770


def test_design_templates_are_copied_once(lasting):
    folder = team.TeamFolder(lasting / "alpha")
    for name in team.DESIGN_TEMPLATES:
        path = folder.copy_template(name)
        assert path == folder.path / "design" / f"{name}.md" and path.read_text(encoding="utf-8").startswith("# ")
    notes = folder.path / "design" / "persona.md"
    notes.write_text("# Persona\n\nOur notes.\n", encoding="utf-8")
    assert folder.copy_template("persona").read_text(encoding="utf-8") == "# Persona\n\nOur notes.\n"
    with pytest.raises(ValueError, match="'survey'"):
        folder.copy_template("survey")


def test_saves_in_a_shared_folder_stay_readable_and_editable_by_the_team(example, lasting):
    """On the hub a team's folder is group-writable with the set-gid bit: every file saved there, whoever saved it,
    must be readable and writable by the group (teammates read each other's saves and edit the same text file),
    not the owner-only mode of a plain temporary file. Elsewhere files get what a plain write gives."""
    import stat

    shared = lasting / "alpha"
    shared.mkdir()
    os.chmod(shared, 0o2770)
    folder = team.TeamFolder(shared, user="ana")
    mine = dl.start_from(example, team="Alpha team")
    written = folder.save(mine)
    folder.edit_file(mine)
    files = [p for p in shared.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".md", ".html", ".json", ".docx"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o660 == 0o660, (path.name, oct(path.stat().st_mode))
    assert stat.S_IMODE(written["history"].parent.stat().st_mode) == 0o2770

    umask = os.umask(0o022)
    try:
        plain = lasting / "plain"
        out = mine.save(plain, draft=True)
    finally:
        os.umask(umask)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in out.values())
    assert not list(plain.glob(".*.tmp"))
