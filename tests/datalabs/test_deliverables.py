"""The deliverable model: required-field checks, Markdown/HTML rendering, atomic saving and reloading."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from statelab.datalabs import deliverables as dl

SPEC = dl.DeliverableSpec(
    kind="memo", title="Team memo", required=("purpose", "points", "plan.owner"), optional=("table",),
    template_source=(
        '{% include "_header.md.j2" %}\n## Purpose\n\n{{ purpose }}\n\n## Points\n\n{{ points | bullets }}\n\n'
        "## Owner\n\n{{ plan.owner }}\n\n{% if table is not none %}{{ table | table }}\n{% endif %}"
    ),
)


def _filled(**extra):
    fields = {"purpose": "Agree the scope.", "points": ["One", "Two"], "plan": {"owner": "CDO"}}
    fields.update(extra)
    return dl.Deliverable(SPEC, fields)


@pytest.mark.parametrize("value", [None, "", "   ", "TBD", "todo", "...", [], {}, (), [None, " "],
                                   pd.DataFrame(), float("nan")])
def test_blank_values(value):
    assert dl.is_blank(value)


@pytest.mark.parametrize("value", [0, False, "x", ["a"], {"k": "v"}, pd.DataFrame({"a": [1]}), 0.0])
def test_filled_values(value):
    assert not dl.is_blank(value)


def test_complete_deliverable_has_no_missing_fields():
    assert _filled().missing() == [] and _filled().check() == []


@pytest.mark.parametrize("field", ["purpose", "points", "plan.owner"])
@pytest.mark.parametrize("how", ["absent", "blank"])
def test_each_missing_field_is_named(field, how):
    d = _filled()
    if field == "plan.owner":
        if how == "absent":
            d.fields["plan"] = {}
        else:
            d.fields["plan"] = {"owner": " "}
    elif how == "absent":
        del d.fields[field]
    else:
        d.fields[field] = [] if field == "points" else ""
    assert d.missing() == [field]
    assert len(d.check()) == 1 and repr(field) in d.check()[0]
    with pytest.raises(dl.MissingFieldsError) as err:
        d.render_markdown()
    assert err.value.missing == [field] and field in str(err.value)
    assert isinstance(err.value, ValueError)


def test_render_markdown_and_draft_placeholders():
    md = _filled(table=pd.DataFrame({"a": [1, 2], "b": ["x|y", "z"]})).render_markdown()
    assert md.startswith("# Team memo\n")
    assert "- One\n- Two" in md and "| a | b |" in md and "x\\|y" in md
    draft = dl.Deliverable(SPEC, {"points": ["One"]}).render_markdown(draft=True)
    assert "*[to be completed: purpose]*" in draft and "*[to be completed: plan.owner]*" in draft
    assert "Draft" in draft


def test_heading_offset_shifts_headings_only():
    md = _filled().render_markdown(heading_offset=1)
    assert md.startswith("## Team memo") and "\n### Purpose" in md


def test_render_html_is_a_page_and_escapes_raw_html():
    html = _filled(purpose="<script>alert(1)</script> & more").render_html()
    assert html.lstrip().startswith("<!DOCTYPE html>") and "<title>Team memo</title>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<h2>Purpose</h2>" in html and "<li>One</li>" in html
    assert "<!DOCTYPE" not in _filled().render_html(standalone=False)


def test_save_is_atomic_and_reloads(tmp_path):
    d = _filled(table=pd.DataFrame({"a": [1], "b": ["x"]}))
    paths = d.save(tmp_path / "out")
    assert set(paths) == {"md", "html", "json"}
    assert paths["md"].read_text() == d.render_markdown()
    assert not [p for p in os.listdir(tmp_path / "out") if p.endswith(".tmp")]
    again = dl.Deliverable.load(paths["json"], SPEC)
    assert again.render_markdown() == d.render_markdown()
    assert json.loads(paths["json"].read_text())["kind"] == "memo"


def test_save_refuses_an_incomplete_deliverable_and_writes_nothing(tmp_path):
    with pytest.raises(dl.MissingFieldsError):
        dl.Deliverable(SPEC, {}).save(tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert dl.Deliverable(SPEC, {}).save(tmp_path, draft=True, formats=("md",))["md"].exists()


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    d = _filled()
    path = d.save(tmp_path, formats=("md",))["md"]
    before = path.read_text()
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        _filled(purpose="Changed.").save(tmp_path, formats=("md",))
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize("kwargs, match", [
    ({"formats": ("pdf",)}, "pdf"), ({"stem": "../x"}, "../x"), ({"formats": ()}, "formats")])
def test_save_argument_errors(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match.replace(".", r"\.")):
        _filled().save(tmp_path, **kwargs)


def test_spec_and_deliverable_errors():
    with pytest.raises(ValueError, match="'Bad Kind'"):
        dl.DeliverableSpec(kind="Bad Kind", title="x")
    with pytest.raises(TypeError, match="'purpose'"):
        dl.DeliverableSpec(kind="x", title="x", required="purpose")
    with pytest.raises(ValueError, match="'nowhere'"):
        dl.Deliverable(SPEC, {}, track="nowhere")
    with pytest.raises(FileNotFoundError, match="nope.md.j2"):
        dl.DeliverableSpec(kind="nope", title="x").template_text()


def test_display_carries_html_and_markdown():
    shown = _filled().display()
    assert shown._repr_markdown_().startswith("# Team memo") and str(shown) == _filled().render_markdown()
    html = shown._repr_html_()
    assert html.startswith('<div class="statelab-deliverable">') and "<h1>Team memo</h1>" in html
    assert "<!DOCTYPE" not in html
    draft = dl.Deliverable(SPEC, {}).display(draft=True)
    assert "to be completed: purpose" in draft._repr_markdown_()


def test_markdown_table_inputs():
    rows = [{"a": 1, "b": None}, {"a": 2500, "b": "line\nbreak"}]
    text = dl.markdown_table(rows, columns=["b", "a"], headers=["B", "A"])
    assert text.splitlines()[0] == "| B | A |" and "line<br>break" in text and "2,500" in text
    with pytest.raises(ValueError, match="'c'"):
        dl.markdown_table(rows, columns=["c"])
    assert dl.markdown_table([[1, 2]], headers=["x", "y"]).endswith("| 1 | 2 |")


@pytest.mark.parametrize("spec", [dl.PROBLEM_BRIEF, dl.RESEARCH_QUESTIONS, dl.DATA_INVENTORY,
                                  dl.GOVERNANCE_CHARTER, dl.QUALITY_REPORT])
def test_packaged_templates_render_as_drafts(spec):
    md = dl.Deliverable(spec, {}, track="workforce").render_markdown(draft=True)
    assert md.startswith(f"# {spec.title}") and "Workforce transitions" in md
    for name in spec.required:
        assert f"to be completed: {name}" in md, name
