"""Data Labs units 1-5: each unit's deliverable renders from a filled example for every case track, the
workbooks follow the strand's layout, and unit 5's quality numbers agree with the truth planted in the data."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

import synthetic_data as sd
from statelab import identifiers
from statelab.datalabs import agreements, catalog, deliverables, quality, tracks

REPO = Path(__file__).resolve().parents[2]
UNITS = ["01-define-the-challenge", "02-identify-solutions", "03-data-inventory", "04-data-sharing-agreement",
         "05-governance-and-quality"]


@pytest.fixture(scope="module")
def con(tiny_dataset):
    c = sd.connect(tiny_dataset)
    yield c
    c.close()


def _render(doc, tmp_path):
    assert doc.missing() == [], doc.missing()
    md = doc.render_markdown()
    assert "to be completed" not in md
    html = doc.render_html()
    assert html.lstrip().startswith("<!DOCTYPE html>")
    saved = doc.save(tmp_path)
    assert saved["md"].read_text(encoding="utf-8") == md
    return md


@pytest.mark.parametrize("unit", UNITS)
def test_workbook_layout(unit):
    path = REPO / "modules" / "datalabs" / unit / "01-workbook.ipynb"
    nb = nbformat.read(path, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'track = "safety_net"' in params[0].source
    assert not any("truth=True" in c.source for c in nb.cells), "learner workbooks never use the truth"


@pytest.mark.parametrize("track", tracks.TRACK_NAMES)
def test_unit1_problem_brief(track, con, tmp_path):
    case = tracks.get_track(track)
    headline = case.measure(case.research_questions[0].measures[0])
    brief = deliverables.Deliverable(deliverables.PROBLEM_BRIEF, {
        "team": "Example team", "problem_statement": case.problem_statement, "decision": case.decision,
        "population": case.population, "scale": tracks.describe_measure(con, case, headline.name),
        "stakeholders": case.stakeholder_table(),
        "logic_model": {k: list(v) for k, v in case.logic_model.items()}}, track=track)
    md = _render(brief, tmp_path)
    assert case.decision in md and "| Inputs | Activities | Outputs | Outcomes |" in md
    assert headline.label in md
    assert len(md.splitlines()) < 80, "the problem brief is meant to fit on one page"


@pytest.mark.parametrize("track", tracks.TRACK_NAMES)
def test_unit2_research_questions(track, con, tmp_path):
    case = tracks.get_track(track)
    headline = case.measure(case.research_questions[0].measures[0])
    doc = deliverables.Deliverable(deliverables.RESEARCH_QUESTIONS, {
        "team": "Example team", "questions": case.question_table(), "measures": case.measure_table(),
        "chosen_measure": f"{headline.label}: {headline.definition}",
        "baseline": tracks.describe_measure(con, case, headline.name),
        "other_states": ["Workforce agencies measure employment after exit from wage records."]}, track=track)
    md = _render(doc, tmp_path)
    for q in case.research_questions:
        assert q.question in md
    overview = tracks.measure_overview(con, case)
    assert list(overview["measure"]) == [m.name for m in case.measures]


@pytest.mark.parametrize("track", tracks.TRACK_NAMES)
def test_unit3_data_inventory(track, con, tmp_path):
    md = _render(catalog.data_inventory(con, track, team="Example team"), tmp_path)
    assert "## Gap list" in md


@pytest.mark.parametrize("track", tracks.TRACK_NAMES)
def test_unit4_agreement(track, tmp_path):
    inputs = agreements.example_inputs(track)
    assert agreements.check_agreement(inputs) == []
    md = _render(agreements.draft_agreement(inputs, track=track), tmp_path)
    assert "## 13. Signatures" in md


@pytest.mark.parametrize("track", tracks.TRACK_NAMES)
def test_unit5_charter_and_quality_report(track, con, tmp_path):
    case = tracks.get_track(track)
    report = quality.profile_sources(con, case.source_tables, expected_through=quality.window_end("tiny"))
    qr = report.deliverable(team="Example team", findings=report.headlines(),
                            actions=[{"action": "Review placeholders", "owner": "Steward", "due": "Month 6"}],
                            track=track)
    md = _render(qr, tmp_path / "quality")
    for table in case.source_tables:
        assert f"| {table} |" in md
    roles = catalog.table_catalog(case.source_tables)[["table", "agency"]].assign(
        owner="Director", steward="Data lead", custodian="Warehouse team")
    charter = deliverables.Deliverable(deliverables.GOVERNANCE_CHARTER, {
        "team": "Example team", "purpose": "Keep the records accurate.", "roles": roles,
        "documentation_standards": ["Codebook for every table"],
        "decision_rights": [{"decision": "New use", "decides": "Owner"}], "review_cadence": "Quarterly"},
        track=track)
    assert "**Data steward:**" in _render(charter, tmp_path / "charter")


@pytest.mark.parametrize("track", [t for t in tracks.TRACK_NAMES if t != "procurement"])
def test_unit5_numbers_for_each_track_match_the_truth(track, tiny_con):
    """The workbook's report over the track's sources: unusable SSNs are exactly the planted missing and
    placeholder values and the typos that made a never-issued group or serial, and the people estimate is
    within the error the planted SSN typos allow."""
    case = tracks.get_track(track)
    report = quality.profile_sources(tiny_con, case.source_tables)
    ph = ", ".join(f"'{p}'" for p in sd.PLANTED_PLACEHOLDER_SSNS)
    for table in case.source_tables:
        col = catalog.source_config(table)["identity"].get("ssn")
        if not col:
            continue
        status = identifiers.ssn_status_sql(f"r.{col}")
        planted, people, wrong, no_usable = tiny_con.sql(f"""
            WITH j AS (
                SELECT x.person_id, r.{col} AS s, p.ssn AS true_ssn, {status} AS st FROM {table} AS r
                JOIN truth.crosswalk AS x ON x.source_table = '{table}' AND x.record_id = r.record_id
                JOIN truth.person AS p USING (person_id))
            SELECT (SELECT SUM(CASE WHEN s IS NULL OR (s IN ({ph}) AND s <> true_ssn) OR st = 'malformed'
                                    THEN 1 ELSE 0 END) FROM j),
                   (SELECT COUNT(DISTINCT person_id) FROM j),
                   (SELECT COUNT(DISTINCT s) FROM j WHERE st = 'valid' AND s <> true_ssn),
                   (SELECT COUNT(*) FROM (SELECT person_id FROM j GROUP BY person_id
                                          HAVING SUM(CASE WHEN st = 'valid' THEN 1 ELSE 0 END) = 0) AS q)
        """).fetchall()[0]
        assert report.value(table, "ssn_unusable", col, metric="count") == planted, table
        est = report.value(table, "estimated_people", col, metric="count")
        assert -no_usable <= est - people <= wrong, (table, est, people, wrong, no_usable)
