"""Data Labs unit 9: the action plan, assembled from the deliverables of months 1 to 8.

Each month's workbook ends with a deliverable (:mod:`statelab.datalabs.deliverables`). A team keeps them in one
folder, in the format :meth:`~statelab.datalabs.deliverables.Deliverable.save` writes: ``<kind>-<track>.json``
(the inputs) next to the rendered ``.md`` and ``.html``. This module

- knows every kind of deliverable of the strand (:data:`SPECS`, :data:`STRAND`) and loads a team's folder
  (:func:`load_deliverables`), reporting which months are still missing (:func:`status`);
- builds the course's filled examples of months 1 to 8 for a track (:func:`example_deliverables`), from the
  same public functions the workbooks use, labelled as examples: they show what a finished month looks like and
  never count as a team's work;
- drafts the action plan from them (:func:`action_plan`): the journey so far, milestones with owners, risks with
  mitigations, sustainability, and what to share with other states;
- assembles the plan and every earlier deliverable into one document (:func:`assemble_markdown`,
  :func:`assemble_html`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from . import agreements, catalog, equity, quality, story, tracks
from . import deliverables as dl
from . import linkage_report as lr
from ._common import check_track, quiet

__all__ = [
    "TEAM_ROLES",
    "STRAND",
    "SPECS",
    "ACTION_PLAN",
    "example_deliverables",
    "save_deliverables",
    "load_deliverables",
    "status",
    "action_plan",
    "assemble_markdown",
    "assemble_html",
]

#: Roles on a state team, what each does, and the months each leads (used for owners and in the guide).
TEAM_ROLES = pd.DataFrame([
    ("Executive sponsor", "Agency head or deputy who removes obstacles and signs off", "1, 4, 9"),
    ("Team lead (chief data officer)", "Owns the plan, chairs the monthly check-in, speaks for the team", "1-9"),
    ("Program lead", "Knows the program and its rules; owns the problem and the decision", "1, 2, 7, 8"),
    ("Legal counsel", "Drafts and clears the data sharing agreement and publication rules", "4, 8"),
    ("Data steward", "Knows each source's fields and quality; answers for its documentation", "3, 5, 6"),
    ("Analyst / data engineer", "Builds the linkage, the pipeline and the analysis tables", "3, 5, 6, 7, 8"),
    ("Equity lead", "Asks who is missing or mismeasured at every stage", "1, 7"),
    ("Budget analyst", "Costs the stack and the staff time; finds sustainable funding", "6, 9"),
    ("Communications lead", "Shapes the story and the product for its audience", "8, 9"),
], columns=["role", "responsibility", "months it leads"])

#: The strand: month, deliverable kind, its spec.
STRAND: tuple[tuple[int, str], ...] = (
    (1, "problem_brief"), (2, "research_questions"), (3, "data_inventory"), (4, "data_sharing_agreement"),
    (5, "governance_charter"), (5, "quality_report"), (6, "linkage_report"), (7, "equity_assessment"),
    (8, "story_report"),
)

#: Every deliverable kind of the strand (months 1 to 9) and its spec.
SPECS: dict[str, dl.DeliverableSpec] = {
    "problem_brief": dl.PROBLEM_BRIEF,
    "research_questions": dl.RESEARCH_QUESTIONS,
    "data_inventory": dl.DATA_INVENTORY,
    "data_sharing_agreement": agreements.DATA_SHARING_AGREEMENT,
    "governance_charter": dl.GOVERNANCE_CHARTER,
    "quality_report": dl.QUALITY_REPORT,
    "linkage_report": lr.LINKAGE_REPORT,
    "equity_assessment": equity.EQUITY_ASSESSMENT,
    "story_report": story.STORY_REPORT,
}


# ----------------------------------------------------------------------------------- examples
@quiet
def example_deliverables(con, track: str, *, team: str = "Example state team") -> dict[str, dl.Deliverable]:
    """The course's filled examples of the deliverables of months 1 to 8, for ``track``.

    Built on ``con`` with the same public functions the workbooks use (track content, the catalog, the
    agreement template, the quality profiler, the linkage, equity and story modules). Runs the track's
    pipeline (:func:`statelab.datalabs.linkage_report.prepare_track`) first.

    Returns
    -------
    dict
        Kind -> :class:`~statelab.datalabs.deliverables.Deliverable`, in the order of :data:`STRAND`.
    """
    check_track(track)
    case = tracks.get_track(track)
    headline = case.measure(case.research_questions[0].measures[0])
    baseline = tracks.describe_measure(con, case, headline.name)
    out: dict[str, dl.Deliverable] = {}
    out["problem_brief"] = dl.Deliverable(dl.PROBLEM_BRIEF, {
        "team": team, "problem_statement": case.problem_statement, "decision": case.decision,
        "population": case.population, "scale": baseline,
        "scale_note": f"{headline.label}: {headline.definition}",
        "stakeholders": case.stakeholder_table(),
        "logic_model": {stage: list(items) for stage, items in case.logic_model.items()},
    }, track=track)
    out["research_questions"] = dl.Deliverable(dl.RESEARCH_QUESTIONS, {
        "team": team, "questions": case.question_table(), "measures": case.measure_table(),
        "chosen_measure": f"**{headline.label}.** {headline.definition}", "baseline": baseline,
    }, track=track)
    out["data_inventory"] = catalog.data_inventory(con, case, team=team, include_fields=False)
    out["data_sharing_agreement"] = agreements.draft_agreement(agreements.example_inputs(track, team=team),
                                                               track=track)
    roles = catalog.table_catalog(case.source_tables)[["table", "agency"]].rename(columns={"table": "source"})
    roles["owner"] = "Director, " + roles["agency"]
    roles["steward"] = "Program data lead, " + roles["agency"]
    roles["custodian"] = "Data warehouse team, " + roles["agency"]
    out["governance_charter"] = dl.Deliverable(dl.GOVERNANCE_CHARTER, {
        "team": team,
        "purpose": f"To keep the {case.short_title.lower()} project's linked records accurate, documented and used "
                   "only as the data sharing agreement allows.",
        "roles": roles.drop(columns="agency"),
        "documentation_standards": ["A codebook for every table, updated with each extract",
                                    "A written definition and code for every measure",
                                    "A change log for rules, definitions and extracts"],
        "decision_rights": [{"decision": "Approve a new use or user", "decides": "Data owner"},
                            {"decision": "Release a product", "decides": "Data owners of every source used"}],
        "review_cadence": "Monthly team check-in; quarterly review with the data owners.",
    }, track=track)
    profile = quality.profile_sources(con, case.source_tables)
    first_action = ({"action": "Store EINs as text (nine digits) in the contractor registry", "owner": "Data stewards",
                     "due": "Month 6"} if track == "procurement" else
                    {"action": "Trace placeholder SSNs to their intake step", "owner": "Data stewards", "due": "Month 6"})
    out["quality_report"] = profile.deliverable(
        team=team, findings=profile.headlines(),
        actions=[first_action,
                 {"action": "Re-run the profile on every new extract", "owner": "Custodians", "due": "Each delivery"}],
        track=track)
    lr.prepare_track(con, track)
    out["linkage_report"] = lr.linkage_report(con, track, team=team)
    out["equity_assessment"] = equity.equity_assessment(con, track, team=team)
    out["story_report"] = story.story_report(con, track, team=team)
    for doc in out.values():  # labelled: the course's text is never a team's deliverable
        doc.example, doc.title = True, f"Example: {doc.title}"
    return out


def save_deliverables(deliverables: Mapping[str, dl.Deliverable], folder: str | Path) -> pd.DataFrame:
    """Save each deliverable to ``folder`` (``<kind>-<track>.md/.html/.json``, each written atomically).

    Returns a table of the files written: ``kind, format, file``.
    """
    rows = []
    for kind, doc in deliverables.items():
        for fmt, path in doc.save(folder).items():
            rows.append({"kind": kind, "format": fmt, "file": Path(path).name})
    return pd.DataFrame(rows, columns=["kind", "format", "file"])


def load_deliverables(folder: str | Path, track: str | None = None) -> dict[str, dl.Deliverable]:
    """Load every deliverable of the strand saved as JSON in ``folder``.

    Files are matched by the ``kind`` recorded inside them (:data:`SPECS`); other JSON files are ignored.
    With ``track``, only deliverables of that track are kept. When a kind appears twice, the file whose
    name sorts last wins.

    Returns
    -------
    dict
        Kind -> Deliverable, in the order of :data:`STRAND`.

    Raises
    ------
    FileNotFoundError
        If ``folder`` does not exist.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no deliverables folder {str(folder)!r}")
    if track is not None:
        check_track(track)
    found: dict[str, dl.Deliverable] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            kind = json.loads(path.read_text(encoding="utf-8")).get("kind")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            continue
        if kind not in SPECS:
            continue
        doc = dl.Deliverable.load(path, SPECS[kind])
        if track is not None and doc.track != track:
            continue
        found[kind] = doc
    return {kind: found[kind] for _, kind in STRAND if kind in found}


def status(deliverables: Mapping[str, dl.Deliverable]) -> pd.DataFrame:
    """Month by month: which deliverable, whether it is there, the course's example, complete, and what is missing.

    A month counts as complete only when the team's own deliverable has every required field in its own words:
    the course's example (``example``) never does.
    """
    rows = []
    for month, kind in STRAND:
        doc = deliverables.get(kind)
        missing = doc.missing() if doc is not None else []
        example = doc is not None and doc.example
        rows.append({"month": month, "deliverable": SPECS[kind].title, "kind": kind,
                     "present": doc is not None, "example": example,
                     "complete": doc is not None and not missing and not example,
                     "missing fields": ", ".join(missing)})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------- the plan
ACTION_PLAN = dl.DeliverableSpec(
    kind="action_plan", title="Action plan", unit=9,
    description="Where the team stands after nine months, and the next year's milestones, owners and risks.",
    required=("team", "goal", "journey", "near_term_product", "milestones", "owners", "risks", "sustainability",
              "share_with_states"),
    optional=("decisions_needed", "prepared_by"),
)


def _first(value, default: str) -> str:
    if isinstance(value, (list, tuple)) and value:
        return str(value[0])
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())
    return default


def _key_point(kind: str, doc: dl.Deliverable) -> str:
    f = doc.fields
    if kind == "problem_brief":
        return "Decision informed: " + _first(f.get("decision"), "see brief")
    if kind == "research_questions":
        return "Headline measure: " + _first(f.get("chosen_measure"), "see document").replace("**", "")
    if kind == "data_inventory":
        gaps = f.get("gaps")
        n_gaps = len(gaps) if gaps is not None and not isinstance(gaps, str) else 0
        sources = f.get("sources")
        n_src = len(sources) if sources is not None and not isinstance(sources, str) else 0
        return f"{n_src} sources documented; {n_gaps} needs or gaps listed"
    if kind == "data_sharing_agreement":
        parties = f.get("parties") or []
        return f"Agreement drafted between {len(parties)} parties, every required section present"
    if kind == "governance_charter":
        return "Roles, documentation standards and decision rights agreed; " + _first(f.get("review_cadence"), "")
    if kind == "quality_report":
        return _first(f.get("findings"), "Data quality profiled")
    if kind == "linkage_report":
        est = f.get("estimated_error")
        if isinstance(est, pd.DataFrame) and "est_recall" in est.columns and len(est):
            row = est.iloc[0]
            return (f"Records linked; estimated precision {float(row['est_precision']):.3f}, "
                    f"estimated recall {float(row['est_recall']):.3f}")
        return "Records linked; match quality documented"
    if kind == "equity_assessment":
        return _first(f.get("findings"), "Equity assessed")
    if kind == "story_report":
        return _first(f.get("key_findings"), "Report passed disclosure review")
    return doc.spec.description


_TRACK_RISKS = {
    "safety_net": ("Churn is rare in some counties, so county tables are mostly suppressed",
                   "Pool years or counties; publish state-level results first"),
    "workforce": ("Neighboring states outside the region do not share wage records",
                  "Start a wage-record exchange request through the state workforce agency"),
    "student_outcomes": ("Colleges keep sending records without SSNs",
                         "Ask the higher education commission to collect SSNs or full dates of birth at enrollment"),
    "procurement": ("The certification registry stays without EINs",
                    "Add the EIN to the certification application; keep the name standardization rules"),
}

_SHARE = {
    "safety_net": "Our churn definition and the SQL that computes it on case-month files",
    "workforce": "Our re-employment measure and the share of claimants found only across a state line",
    "student_outcomes": "Our completer employment measure and how the MPI raised the share we could follow",
    "procurement": "Our vendor-name standardization rules and the EIN repair, as a reusable script",
}


def _month_number(when: str) -> float:
    words = str(when).split()
    if len(words) >= 2 and words[0].lower() == "month" and words[1].isdigit():
        return float(words[1])
    return math.inf  # "Each delivery" and other recurring items go last


def _carry_over(due) -> str:
    """An action's due month as a milestone: months already past (1-9) move to month 10."""
    n = _month_number(due) if due is not None else math.inf
    if n <= 9:
        return "Month 10"
    return str(due) if due else "Month 11"


def action_plan(deliverables: Mapping[str, dl.Deliverable], track: str, *, team: str = "Example state team",
                **fields) -> dl.Deliverable:
    """Draft the unit 9 deliverable from the earlier deliverables.

    - ``journey``: one row per month with the deliverable, its status and the key point it established.
    - ``near_term_product``: the unit 8 report's headline and first finding.
    - ``milestones``: actions carried over from the quality report, the linkage report, the equity assessment
      and the story, plus the steps every team takes to keep going, each with a month and an owner.
    - ``owners``: :data:`TEAM_ROLES`.
    - ``risks``: gaps the earlier deliverables revealed, each with a mitigation and an owner.

    Missing deliverables do not stop the draft: their months show as missing in ``journey``. Keywords
    replace fields.
    """
    check_track(track)
    case = tracks.get_track(track)
    journey = status(deliverables)
    journey["what it established"] = [
        _key_point(kind, deliverables[kind]) if kind in deliverables else "not yet done"
        for kind in journey["kind"]]
    journey = journey[["month", "deliverable", "complete", "what it established"]]

    story_doc = deliverables.get("story_report")
    if story_doc is not None:
        product = (f"{_first(story_doc.fields.get('headline'), case.short_title)}: a short report for "
                   f"{_first(story_doc.fields.get('audience'), 'our stakeholders')}. "
                   f"{_first(story_doc.fields.get('key_findings'), '')}")
    else:
        product = "A first report of the case's results, once it passes disclosure review (month 8 not yet done)."

    milestones = [
        {"when": "Month 10", "milestone": "Signed data sharing agreement replaces the pilot access",
         "owner": "Legal counsel", "source": "Month 4"},
        {"when": "Month 10", "milestone": "Near-term product published after disclosure review",
         "owner": "Communications lead", "source": "Month 8"},
    ]
    q = deliverables.get("quality_report")
    for a in (q.fields.get("actions") or [])[:2] if q is not None else []:
        if isinstance(a, Mapping):
            milestones.append({"when": _carry_over(a.get("due")), "milestone": str(a.get("action", "")),
                               "owner": str(a.get("owner", "Data steward")), "source": "Month 5"})
    link = deliverables.get("linkage_report")
    for step in (link.fields.get("next_steps") or [])[:2] if link is not None else []:
        milestones.append({"when": "Month 11", "milestone": str(step), "owner": "Analyst / data engineer",
                           "source": "Month 6"})
    eqa = deliverables.get("equity_assessment")
    for m in (eqa.fields.get("mitigations") or [])[:2] if eqa is not None else []:
        milestones.append({"when": "Month 12", "milestone": str(m), "owner": "Equity lead", "source": "Month 7"})
    milestones += [
        {"when": "Month 12", "milestone": "Pipeline, codebook and linkage rules handed to the data custodian",
         "owner": "Team lead (chief data officer)", "source": "Month 6"},
        {"when": "Month 15", "milestone": "Second extract processed by the custodian without the project team",
         "owner": "Data steward", "source": "Month 5"},
        {"when": "Month 18", "milestone": "Results and code shared with the cohort's other states",
         "owner": "Team lead (chief data officer)", "source": "Month 9"},
    ]

    risks = [
        {"risk": "The agreement is not signed before pilot access ends", "likelihood": "medium", "impact": "high",
         "mitigation": "Counsel reviews the month 4 draft now; the executive sponsor escalates", "owner": "Legal counsel"},
        {"risk": "The analyst who built the pipeline leaves", "likelihood": "medium", "impact": "high",
         "mitigation": "Pipeline kept as a SQL script under version control with a run log; second person trained",
         "owner": "Team lead (chief data officer)"},
    ]
    if eqa is not None and eqa.fields.get("findings"):
        risks.append({"risk": "Errors and gaps fall more on some groups: " + _first(eqa.fields["findings"], ""),
                      "likelihood": "high", "impact": "medium",
                      "mitigation": _first(eqa.fields.get("mitigations"), "Review by group every release"),
                      "owner": "Equity lead"})
    if story_doc is not None:
        checks = story_doc.fields.get("disclosure_review")
        if isinstance(checks, pd.DataFrame) and "suppressed_cells" in checks:
            n = int(pd.to_numeric(checks["suppressed_cells"], errors="coerce").fillna(0).sum())
            what = (f"{n} cell(s) of the first report already are" if n else
                    "the first report's breakdowns are large enough, finer ones may not be")
            risks.append({"risk": f"Finer breakdowns will be suppressed ({what})",
                          "likelihood": "high" if n else "low", "impact": "medium",
                          "mitigation": "Pool years or areas; agree breakdowns with the reviewer first",
                          "owner": "Communications lead"})
    track_risk, track_mitigation = _TRACK_RISKS[track]
    risks.append({"risk": track_risk, "likelihood": "medium", "impact": "medium", "mitigation": track_mitigation,
                  "owner": "Program lead"})

    milestones = sorted(milestones, key=lambda m: _month_number(m["when"]))
    out = {
        "team": team,
        "goal": " ".join(case.decision.split()),
        "journey": journey,
        "near_term_product": product,
        "milestones": pd.DataFrame(milestones, columns=["when", "milestone", "owner", "source"]),
        "owners": TEAM_ROLES,
        "risks": pd.DataFrame(risks, columns=["risk", "likelihood", "impact", "mitigation", "owner"]),
        "sustainability": [
            "The data custodian runs the pipeline on each new extract; the project team reviews the run log.",
            "The agreement, the governance charter and the quality thresholds are reviewed every quarter.",
            "Staff time for the custodian and the steward is in the agencies' next budget request.",
            "Every product states its definitions, the files used and what was suppressed.",
        ],
        "share_with_states": [
            _SHARE[track],
            "The data sharing agreement template with our legal citations (month 4)",
            "The linkage rules and how we estimated their error (months 6 and 7)",
            "What did not work, and what we would do first next time",
        ],
        "decisions_needed": ["Approve the staff time for the custodian and steward beyond month 9",
                             "Choose the technology stack recommended in the linkage report"],
    }
    out.update(fields)
    return dl.Deliverable(ACTION_PLAN, out, track=track)


def assemble_markdown(plan: dl.Deliverable, deliverables: Mapping[str, dl.Deliverable], *,
                      draft: bool = False) -> str:
    """One document: the action plan, then every earlier deliverable as an appendix (headings moved down).

    Parameters
    ----------
    draft : bool
        Render incomplete deliverables with placeholders instead of raising
        :class:`~statelab.datalabs.deliverables.MissingFieldsError`.
    """
    if not isinstance(plan, dl.Deliverable) or plan.spec.kind != "action_plan":
        raise TypeError("plan must be the action plan Deliverable from action_plan(...)")
    parts = [plan.render_markdown(draft=draft), "\n# Appendix: the deliverables of months 1 to 8\n"]
    for month, kind in STRAND:
        doc = deliverables.get(kind)
        if doc is None:
            parts.append(f"\n## Month {month}: {SPECS[kind].title}\n\n*Not yet done.*\n")
            continue
        parts.append(f"\n<!-- month {month}: {kind} -->\n")
        parts.append(doc.render_markdown(draft=draft, heading_offset=1))
    return "\n".join(parts)


def assemble_html(plan: dl.Deliverable, deliverables: Mapping[str, dl.Deliverable], *, draft: bool = False) -> str:
    """:func:`assemble_markdown` as one standalone HTML page."""
    return dl.to_html(assemble_markdown(plan, deliverables, draft=draft), title=plan.title)
