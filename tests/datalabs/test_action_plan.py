"""Unit 9 (statelab.datalabs.action_plan): loading the strand's deliverables and assembling the plan."""

from __future__ import annotations

import json

import pytest

import synthetic_data as sd
from statelab.datalabs import action_plan as ap
from statelab.datalabs import deliverables as dl


@pytest.fixture(scope="module")
def examples(tiny_dataset):
    con = sd.connect(tiny_dataset)
    docs = ap.example_deliverables(con, "workforce", team="Test team")
    yield docs
    con.close()


def test_examples_cover_every_month_and_are_complete(examples):
    assert list(examples) == [kind for _, kind in ap.STRAND]
    table = ap.status(examples)
    assert table["present"].all() and (table["missing fields"] == "").all(), table
    # labelled as the course's examples: they never count as a team's complete month
    assert table["example"].all() and not table["complete"].any(), table
    assert all(doc.title.startswith("Example:") for doc in examples.values())
    assert all(doc.track == "workforce" for doc in examples.values())


def test_save_and_load_round_trip(examples, tmp_path):
    files = ap.save_deliverables(examples, tmp_path)
    assert len(files) == 3 * len(examples)
    (tmp_path / "notes.json").write_text(json.dumps({"kind": "shopping_list"}))   # ignored: unknown kind
    (tmp_path / "broken.json").write_text("{not json")                           # ignored: unreadable
    loaded = ap.load_deliverables(tmp_path, "workforce")
    assert list(loaded) == list(examples)
    for kind, doc in examples.items():
        assert loaded[kind].render_markdown() == doc.render_markdown(), kind
    assert ap.load_deliverables(tmp_path, "procurement") == {}


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        ap.load_deliverables(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="'school'"):
        ap.load_deliverables(tmp_path, "school")


def test_plan_is_assembled_from_the_deliverables(examples):
    plan = ap.action_plan(examples, "workforce", team="Test team")
    assert plan.missing() == []
    journey = plan.fields["journey"]
    assert list(journey["month"]) == [m for m, _ in ap.STRAND] and not journey["complete"].any()
    milestones = plan.fields["milestones"]
    months = [int(w.split()[1]) for w in milestones["when"] if w.startswith("Month")]
    assert months == sorted(months) and min(months) >= 10        # the future, in order
    assert set(milestones["source"]) >= {"Month 4", "Month 5", "Month 6", "Month 7", "Month 8"}
    equity_finding = examples["equity_assessment"].fields["findings"][0]
    assert any(equity_finding in r for r in plan.fields["risks"]["risk"])
    assert set(plan.fields["risks"]["owner"]) <= set(ap.TEAM_ROLES["role"])
    md = plan.render_markdown()
    for heading in ("## Milestones", "## Risks", "## Sustainability", "## What we will share with other states"):
        assert heading in md


def test_plan_with_missing_months_still_drafts(examples):
    partial = {k: v for k, v in examples.items() if k in ("problem_brief", "linkage_report")}
    plan = ap.action_plan(partial, "workforce")
    journey = plan.fields["journey"].set_index("deliverable")
    assert not journey.loc["Problem brief", "complete"]  # the course's example, not the team's
    assert journey.loc["Equity assessment", "what it established"] == "not yet done"
    assert "month 8 not yet done" in plan.fields["near_term_product"]
    md = ap.assemble_markdown(plan, partial)
    assert md.count("*Not yet done.*") == len(ap.STRAND) - 2


def test_plan_requires_its_fields(examples):
    plan = ap.action_plan(examples, "workforce", risks=[])
    with pytest.raises(dl.MissingFieldsError, match="risks"):
        plan.render_markdown()


def test_one_document_holds_the_plan_and_every_deliverable(examples):
    plan = ap.action_plan(examples, "workforce")
    md = ap.assemble_markdown(plan, examples)
    assert md.startswith("# Action plan")
    assert md.count("\n# ") == 1  # only the appendix heading at the top level besides the title
    positions = [md.index(f"\n## Example: {ap.SPECS[kind].title}") for _, kind in ap.STRAND]
    assert positions == sorted(positions)
    html = ap.assemble_html(plan, examples)
    assert html.lstrip().lower().startswith("<!doctype html") and "<title>Action plan</title>" in html
    with pytest.raises(TypeError, match="action plan"):
        ap.assemble_markdown(examples["story_report"], examples)
