"""Data Labs units 6-9: workbook structure, deliverables for every track, the facilitator guide, assignments.

The notebooks themselves run on the tiny profile in tests/notebooks/test_execute.py (default track); here each
workbook also runs once with the procurement track, whose code paths differ most.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import nbformat
import pytest

import synthetic_data as sd
from statelab.datalabs import action_plan as ap
from statelab.datalabs import equity as eq
from statelab.datalabs import linkage_report as lr
from statelab.datalabs import story as st

REPO = Path(__file__).resolve().parents[2]
STRAND = REPO / "modules" / "datalabs"
UNITS = {6: "06-integration-and-tech-stack", 7: "07-bias-and-equity", 8: "08-tell-your-story", 9: "09-action-plan"}
DELIVERABLE_CALLS = {6: "lr.linkage_report(", 7: "eq.equity_assessment(", 8: "st.story_report(", 9: "ap.action_plan("}
INSTRUCTOR_TOOLS = ("truth=True", "mpi_quality", "business_index_quality", "true_linkage_error_by_group",
                    "true_outcome_rates", "true_award_ratio")


def _notebook(unit: int):
    return nbformat.read(STRAND / UNITS[unit] / "01-workbook.ipynb", as_version=4)


def _code(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


# ------------------------------------------------------------------------------------- workbooks
@pytest.mark.parametrize("unit", sorted(UNITS))
def test_workbook_layout(unit):
    folder = STRAND / UNITS[unit]
    assert sorted(p.name for p in folder.glob("*.ipynb")) == ["01-workbook.ipynb"]
    nb = _notebook(unit)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    assigned = {t.id: ast.literal_eval(node.value) for node in ast.parse(params[0].source).body
                for t in node.targets}
    assert assigned == {"profile": "default", "seed": 20260101, "data_root": None, "track": "safety_net",
                        "team_dir": None}
    first_md = next(c for c in nb.cells if c.cell_type == "markdown")
    assert first_md.source.startswith(f"# Unit {unit}:")
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for section in ("## Learning objectives", "## Key points", "## The deliverable"):
        assert section in text, section


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_workbook_fills_and_renders_its_deliverable_without_the_truth(unit):
    code = _code(_notebook(unit))
    assert DELIVERABLE_CALLS[unit] in code
    assert ".display()" in code
    assert "track" in code.split("sd.connect", 1)[1]  # the analysis follows the chosen track
    for tool in INSTRUCTOR_TOOLS:
        assert tool not in code, f"unit {unit} uses the instructor tool {tool}"


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("unit", sorted(UNITS))
def test_workbook_runs_on_the_procurement_track(unit, tmp_path, tiny_data_root):
    import shutil
    import uuid

    import papermill as pm

    src = STRAND / UNITS[unit] / "01-workbook.ipynb"
    out = tmp_path / "out.ipynb"
    team_dir = Path.home() / ".cache" / "statelab-tests" / uuid.uuid4().hex  # never the temporary directory
    try:
        pm.execute_notebook(str(src), str(out), parameters={"profile": "tiny", "data_root": str(tiny_data_root),
                                                                "track": "procurement", "team_dir": str(team_dir)},
                            cwd=str(src.parent), kernel_name="python3", progress_bar=False, log_output=False)
        assert (team_dir / f"{ap.ACTION_PLAN.kind}-procurement.json").is_file() or unit != 9
    finally:
        shutil.rmtree(team_dir, ignore_errors=True)
        for zipped in team_dir.parent.glob(f"{team_dir.name}-*.zip"):  # unit 9's archive, beside the folder
            zipped.unlink()
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


# ------------------------------------------------------------------------------------- deliverables, every track
@pytest.fixture(scope="module")
def tiny(tiny_dataset):
    con = sd.connect(tiny_dataset)
    yield con
    con.close()


@pytest.mark.parametrize("track", lr.TRACK_NAMES)
def test_units_6_to_9_deliverables_render_from_filled_examples(tiny, track):
    lr.prepare_track(tiny, track)
    docs = {"linkage_report": lr.linkage_report(tiny, track),
            "equity_assessment": eq.equity_assessment(tiny, track),
            "story_report": st.story_report(tiny, track, charts=False)}
    plan = ap.action_plan(docs, track)
    for doc in [*docs.values(), plan]:
        assert doc.missing() == [], doc.spec.kind
        md = doc.render_markdown()
        assert md.startswith(f"# {doc.title}") and f"Data Labs unit {doc.spec.unit}" in md
        assert "*[to be completed" not in md
        html = doc.render_html()
        assert "<h2>" in html and "&lt;NA&gt;" not in html
    assert plan.fields["journey"].set_index("deliverable").loc["Linkage report", "complete"]


# ------------------------------------------------------------------------------------- facilitator guide
def test_facilitator_guide_covers_running_the_strand():
    guide = (STRAND / "facilitator-guide.md").read_text(encoding="utf-8")
    assert guide.startswith("# ")
    headings = [h.lower() for h in re.findall(r"^##+ (.+)$", guide, flags=re.MULTILINE)]
    for topic in ("cadence", "check-in", "roles", "cohort", "choosing a track", "deliverables", "team"):
        assert any(topic in h for h in headings), f"no section on {topic!r}: {headings}"
    for unit in UNITS:
        assert f"Unit {unit}" in guide
    for n in range(1, 10):
        assert re.search(rf"\|\s*{n}\s*\|", guide), f"month {n} missing from the cadence table"
    for kind in (k for _, k in ap.STRAND):
        assert kind in guide, kind


# ------------------------------------------------------------------------------------- assignments
@pytest.mark.parametrize("unit", sorted(UNITS))
def test_assignment_exists_with_mistakes(unit):
    name = f"datalabs-{UNITS[unit]}"
    notebook = REPO / "assignments" / "source" / name / f"{name}.ipynb"
    assert notebook.is_file()
    checks = tomllib.loads((REPO / "assignments" / "checks" / f"{name}.toml").read_text(encoding="utf-8"))
    assert checks["mistake"]
    nb = nbformat.read(notebook, as_version=4)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert any(c.cell_type == "markdown" for c in graded), "a manually graded written answer"
    assert any(c.cell_type == "code" for c in graded), "an autograded computational part"


def test_facilitator_guide_covers_the_program_around_the_work():
    guide = (STRAND / "facilitator-guide.md").read_text(encoding="utf-8")
    headings = [h.lower() for h in re.findall(r"^##+ (.+)$", guide, flags=re.MULTILINE)]
    for topic in ("kick-off", "issue area", "office hours", "advisory council", "human-centered design",
                  "other states", "across states"):
        assert any(topic in h for h in headings), f"no section on {topic!r}: {headings}"
    # examples from other states name their public source
    for source in ("dol.gov/agencies/eta/performance/swis", "naswa.org/partnerships/multi-state-data-collaboratives",
                   "methods.18f.gov", "performance.gov/cx/hcd"):
        assert source in guide, source
    for template in ("interview_guide", "journey_map", "persona"):
        assert template in guide


def test_units_1_2_and_4_hold_the_design_and_cross_state_exercises():
    def markdown(unit_folder):
        nb = nbformat.read(STRAND / unit_folder / "01-workbook.ipynb", as_version=4)
        return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown"), _code(nb)

    text, code = markdown("01-define-the-challenge")
    assert "## Human-centered design" in text and "copy_template" in code
    text, _ = markdown("02-identify-solutions")
    assert "## A shared research agenda across states" in text and "<details>" in text
    text, _ = markdown("04-data-sharing-agreement")
    assert "## A multi-state agreement" in text and "State Wage Interchange System" in text
