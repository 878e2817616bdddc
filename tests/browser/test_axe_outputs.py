"""axe-core (WCAG 2.0/2.1 A and AA) on the other HTML the course writes: Data Labs deliverables, and the
nbgrader feedback and grading reports that instructors hand out.

Samples are generated with today's code on the tiny profile, then audited in light and dark mode like the
book (``axe_audit.py``). Every kind must pass with no violation: no rule is switched off and none is
expected to fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from axe_audit import Auditor, Violation, missing_tools, summarize

pytestmark = pytest.mark.slow

if reason := missing_tools():
    pytest.skip(f"accessibility audit skipped: {reason}", allow_module_level=True)

REPO_ROOT = Path(__file__).resolve().parents[2]
FEEDBACK_ASSIGNMENT = "01-orientation"


@pytest.fixture(scope="module")
def auditor():
    with Auditor(color_schemes=("light", "dark")) as a:
        yield a


def _audit_folder(auditor, folder: Path) -> list[Violation]:
    pages = sorted(folder.rglob("*.html"))
    assert pages, f"no HTML written in {folder}"
    return [v for p in pages for v in auditor.audit_url(p.as_uri(), name=p.relative_to(folder).as_posix())]


# ------------------------------------------------------------------------------------------ Data Labs
@pytest.fixture(scope="module")
def deliverables_html(tiny_dataset, tmp_path_factory) -> Path:
    """Every deliverable of the Data Labs strand (complete and as a draft) and the assembled action plan."""
    import synthetic_data as sd
    from statelab.datalabs import action_plan as ap

    out = tmp_path_factory.mktemp("deliverables-html")
    con = sd.connect(tiny_dataset)
    try:
        docs = ap.example_deliverables(con, "workforce", team="Test team")
    finally:
        con.close()
    for kind, doc in docs.items():
        (out / f"{kind}.html").write_text(doc.render_html(), encoding="utf-8")
        (out / f"{kind}-draft.html").write_text(doc.render_html(draft=True), encoding="utf-8")
    plan = ap.action_plan(docs, "workforce", team="Test team")
    (out / "action-plan.html").write_text(ap.assemble_html(plan, docs), encoding="utf-8")
    return out


def test_data_labs_deliverables_pass_axe(auditor, deliverables_html: Path):
    found = _audit_folder(auditor, deliverables_html)
    assert len(list(deliverables_html.glob("*.html"))) >= 10
    assert not found, f"{len(found)} accessibility violations in Data Labs deliverables:\n{summarize(found)}"


# ------------------------------------------------------------------------------------------ grading
@pytest.fixture(scope="module")
def graded_course(tiny_data_root, tmp_path_factory) -> Path:
    """One assignment released, two submissions (the solution and the blank release) autograded, feedback
    generated and the per-question report written, on the tiny data."""
    import synthetic_data as sd

    import graders

    root = tmp_path_factory.mktemp("a11y-grading")
    skip = shutil.ignore_patterns("release", "submitted", "autograded", "feedback", "reports", "gradebook.db",
                                  ".ipynb_checkpoints", "__pycache__")
    course = Path(shutil.copytree(REPO_ROOT / "assignments", root / "course", ignore=skip))
    for nb in sorted((course / "source" / FEEDBACK_ASSIGNMENT).glob("*.ipynb")):
        graders.set_parameters(nb, profile="tiny", seed=sd.DEFAULT_SEED, data_root=str(tiny_data_root))
    graders.release_assignments(course, [FEEDBACK_ASSIGNMENT])
    downloads = root / "downloads"
    for student, src in (("solution", course / "source"), ("blank", course / "release")):
        (downloads / student).mkdir(parents=True)
        for nb in (src / FEEDBACK_ASSIGNMENT).glob("*.ipynb"):
            shutil.copy(nb, downloads / student / nb.name)
    graders.collect_submissions(course, FEEDBACK_ASSIGNMENT, from_dir=downloads)
    graders.autograde_sequential(course, FEEDBACK_ASSIGNMENT)
    assert graders.generate_feedback(course, FEEDBACK_ASSIGNMENT, progress=False, ungraded="mark")
    graders.report(course, FEEDBACK_ASSIGNMENT)
    return course


@pytest.mark.grading
@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
def test_feedback_html_passes_axe(auditor, graded_course: Path):
    """The course's feedback page (graders.FeedbackExporter), for a complete and a blank submission: code,
    tracebacks, data frames, the score table and a written answer not graded yet."""
    pages = sorted((graded_course / "feedback").rglob("*.html"))
    assert len(pages) == 2
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert '<html lang="en">' in text and 'style="color' not in text  # no inline colour from tracebacks
    assert "Traceback" in pages[0].read_text(encoding="utf-8")  # the blank submission's failures are audited
    found = _audit_folder(auditor, graded_course / "feedback")
    assert not found, f"{len(found)} accessibility violations in feedback pages:\n{summarize(found)}"


@pytest.mark.grading
@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
def test_grading_reports_in_html_pass_axe(auditor, graded_course: Path):
    reports = graded_course / "reports"
    pages = sorted(reports.rglob("*.html"))
    assert [p.name for p in pages] == [f"{FEEDBACK_ASSIGNMENT}-questions.html"]
    found = _audit_folder(auditor, reports)
    assert not found, f"{len(found)} accessibility violations in grading reports:\n{summarize(found)}"
