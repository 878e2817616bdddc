"""Data Labs unit 6: the linkage report, and the unit's toolkit in one namespace.

The unit links the agencies' files and reports how well the link worked. Its pieces live one subject per module,
and this module re-exports their public names so a workbook needs one import
(``from statelab.datalabs import linkage_report as lr``):

- :mod:`~statelab.datalabs.person_index`: the master person index (identity units, candidate pairs,
  Fellegi-Sunter weights estimated from the data, deterministic and probabilistic links), match rates;
- :mod:`~statelab.datalabs.linkage_error`: precision and recall estimated without the truth, and a clerical
  review sample;
- :mod:`~statelab.datalabs.business_index`: the procurement case's business index and its error signals;
- :mod:`~statelab.datalabs.pipelines`: named SQL steps from the raw extracts to each track's analysis table;
- :mod:`~statelab.datalabs.tech_stack`: scoring technology stacks against weighted criteria;
- :mod:`~statelab.datalabs.truth_checks`: the indexes compared with the hidden truth (instructor/test tools,
  ``truth=True``), re-exported for the course's tests and instructor notebooks.

Here: :data:`LINKAGE_REPORT` (its template is ``templates/linkage_report.md.j2``) and :func:`linkage_report`,
which fills it from the workspace.

Why the course has two linkage engines: :mod:`statelab.linkage` is the training strand's (module 3) two-file
linker, deterministic rules plus Splink, on DuckDB. A Data Labs team links six files into one index at once,
closes links transitively into one id per person, and must be able to run the same SQL on an agency's
PostgreSQL server, so :mod:`~statelab.datalabs.person_index` is plain portable SQL with weights estimated in a
few lines. Both use the course's one SSN rule.
"""

from __future__ import annotations

import pandas as pd

from ._common import AGE_BANDS, age_band_sql, check_track, quiet, rounded
from .business_index import build_business_index, estimate_business_error
from .deliverables import Deliverable, DeliverableSpec
from .linkage_error import ERROR_COLUMNS, clerical_review_sample, estimate_linkage_error
from .person_index import (
    DEFAULT_THRESHOLD,
    FIELDS,
    PERSON_SOURCES,
    build_identity_units,
    build_mpi,
    compare_pairs,
    estimate_weights,
    link_units,
    match_rates,
    score_pairs,
    source_overlap,
    threshold_used,
)
from .pipelines import (
    ANALYSIS_TABLES,
    PipelineStep,
    business_contracts,
    pipeline_script,
    prepare_track,
    run_log,
    run_pipeline,
    track_pipeline,
    wage_link_coverage,
)
from .tech_stack import EXAMPLE_STACK_WEIGHTS, STACK_CRITERIA, score_stack, stack_options
from .tracks import TRACK_NAMES
from .truth_checks import business_index_quality, link_quality, mpi_quality

__all__ = [
    "PERSON_SOURCES",
    "FIELDS",
    "TRACK_NAMES",
    "DEFAULT_THRESHOLD",
    "AGE_BANDS",
    "ANALYSIS_TABLES",
    "ERROR_COLUMNS",
    "STACK_CRITERIA",
    "EXAMPLE_STACK_WEIGHTS",
    "LINKAGE_REPORT",
    "PipelineStep",
    "quiet",
    "age_band_sql",
    "build_identity_units",
    "compare_pairs",
    "estimate_weights",
    "score_pairs",
    "link_units",
    "build_mpi",
    "threshold_used",
    "match_rates",
    "source_overlap",
    "estimate_linkage_error",
    "clerical_review_sample",
    "mpi_quality",
    "link_quality",
    "build_business_index",
    "business_contracts",
    "estimate_business_error",
    "business_index_quality",
    "run_pipeline",
    "pipeline_script",
    "track_pipeline",
    "prepare_track",
    "run_log",
    "wage_link_coverage",
    "stack_options",
    "score_stack",
    "linkage_report",
]

LINKAGE_REPORT = DeliverableSpec(
    kind="linkage_report", title="Linkage report", unit=6,
    description="How the sources were linked, how well (match rates, estimated error), and how to rerun it.",
    required=("team", "purpose", "sources", "method", "match_rates", "estimated_error", "pipeline",
              "stack_choice", "limitations"),
    optional=("match_note", "error_note", "coverage", "stack_table", "next_steps", "prepared_by"),
)

_PERSON_METHOD = [
    "Stack the person-level files (WIOA, TANF, SNAP, UI claims, postsecondary enrollment and completions) and "
    "standardize names (upper case, trimmed) and dates of birth.",
    "Flag SSNs that cannot be used (missing, malformed, placeholders such as 999999999, or one number recorded "
    "with several birth dates).",
    "Collapse repeated rows into identity units: one per distinct way a source recorded a person.",
    "Block candidate pairs on a shared valid SSN, date of birth or full name; grade the SSN, first name, last name "
    "and date of birth as agreeing, nearly agreeing (one or two typing errors, swapped day and month) or "
    "disagreeing.",
    "Estimate match weights from the data (m from near-certain matches, u from random pairs).",
    "Link deterministically on the same valid SSN plus date of birth or full name; link probabilistically when "
    "the total match weight reaches the threshold; give each connected group one MPI id.",
]

_BUSINESS_METHOD = [
    "Stack the comptroller's vendor file, the transportation contractor registry and the certification registry.",
    "Repair the EIN: remove the comptroller's dash and left-pad the registry's numeric tax ID back to nine digits.",
    "Standardize names: upper case, drop a DBA part, punctuation, a leading THE and a trailing LLC or INC.",
    "Link records that share an EIN, or the same standardized name and ZIP code; give each connected group one "
    "business key.",
    "Attribute each contract award to a business key through the system its vendor key refers to.",
]

_TRACK_TEXT = {
    "safety_net": {
        "purpose": "Follow SNAP and TANF case heads across programs, states and into the wage records, so churn "
                   "and co-enrollment are counted per person rather than per SSN as keyed.",
        "limitations": [
            "Only case heads are in the files; other household members cannot be linked.",
            "Heads with no valid SSN anywhere in their records cannot be followed into the wage records.",
            "Women whose surname changed and whose SSN is missing are the links most often missed.",
            "Wage records cover the four states' UI-covered jobs only.",
        ],
    },
    "workforce": {
        "purpose": "Link UI claimants to their records in other programs and to every state's wage records, so "
                   "re-employment is measured across state lines.",
        "limitations": [
            "Claimants' SSNs are nearly always present, but mistyped SSNs can attach a claimant to a stranger's wages.",
            "Jobs outside the four states, federal jobs and self-employment are not in any wage file.",
            "Links between claims and other programs depend on names where SSNs are missing in those programs.",
        ],
    },
    "student_outcomes": {
        "purpose": "Give completers one identifier across enrollment, completions and the other agencies' files, so "
                   "completers without an SSN on their college record can still be followed into the wage records.",
        "limitations": [
            "College records often lack SSNs; completers found in no other program stay unlinkable.",
            "Names on college records change (marriage) more often than elsewhere, so some links are missed.",
            "Employment outside the region is invisible: a completer not found is not necessarily not working.",
        ],
    },
    "procurement": {
        "purpose": "Connect the vendor, contractor and certification systems into one business index, so contract "
                   "dollars can be attributed to certified minority-owned firms.",
        "limitations": [
            "The certification registry has no EIN: its links rest on names and ZIP codes.",
            "Firms that changed name or address between systems may be missed.",
            "Minority-owned firms that are not certified cannot be identified from these files at all.",
        ],
    },
}

_STACK_CHOICE = ("The team scored six stack options on cost, skills, scale, security, reproducibility, "
                 "interoperability and linkage tools (weights below). The top option runs the pipeline as plain SQL "
                 "files, so it can move to a database server later without rewriting.")


@quiet
def linkage_report(con, track: str, *, team: str = "Example state team", **fields) -> Deliverable:
    """The unit 6 deliverable, filled in from the workspace for ``track``.

    Needs :func:`prepare_track` to have run on ``con``. Computed fields (``sources``,
    ``match_rates``, ``coverage``, ``estimated_error``, ``pipeline``, ``stack_table``) come from the
    workspace tables; written fields (``purpose``, ``method``, ``limitations``, ``stack_choice``) start
    from the course's example text for the track. Any keyword in ``fields`` replaces a field.

    Returns
    -------
    statelab.datalabs.deliverables.Deliverable
    """
    check_track(track)
    text = _TRACK_TEXT[track]
    weights = EXAMPLE_STACK_WEIGHTS
    stack_table = score_stack(stack_options(), weights)
    stack_table["weights"] = ""
    stack_table.loc[0, "weights"] = ", ".join(f"{k} {v}" for k, v in weights.items())
    if track == "procurement":
        rates = con.sql("""
            WITH sizes AS (SELECT business_key, COUNT(*) AS n FROM biz_index GROUP BY business_key)
            SELECT i.source_table AS source, COUNT(*) AS records,
                   CAST(SUM(CASE WHEN s.n > 1 THEN 1 ELSE 0 END) AS BIGINT) AS linked_to_another_system
            FROM biz_index AS i JOIN sizes AS s ON s.business_key = i.business_key
            GROUP BY i.source_table ORDER BY i.source_table
        """).df()
        rates["share_linked"] = rates["linked_to_another_system"] / rates["records"]
        error = estimate_business_error(con)
        computed = {
            "sources": ["vendor_comptroller (payment system)", "vendor_dot (transportation contractor registry)",
                        "cert_registry (business enterprise certifications)", "contract (awards)"],
            "method": _BUSINESS_METHOD,
            "match_rates": rounded(rates),
            "estimated_error": rounded(error),
            "error_note": "Conflicting evidence inside links estimates false links; certification records left "
                          "unmatched bound the firms that may be missed.",
        }
    else:
        rates = match_rates(con)[["source_table", "records", "persons", "persons_in_other_source",
                                  "share_in_other_source"]]
        est = estimate_linkage_error(con)
        by_source = estimate_linkage_error(con, by="source_table")
        error = pd.concat([est.assign(group="all sources"), by_source], ignore_index=True)[
            ["group", "links", "est_false_links", "est_precision", "linked_pairs", "est_missed_pairs",
             "est_missed_share", "est_missed_se"]]
        computed = {
            "sources": [f"{s} ({int(n):,} records)" for s, n in zip(rates["source_table"], rates["records"])],
            "method": _PERSON_METHOD + [f"Threshold: a match weight of {threshold_used(con):g}."],
            "match_rates": rounded(rates),
            "match_note": "A person 'in another source' has records in at least two of the files.",
            "coverage": rounded(wage_link_coverage(con, track)),
            "estimated_error": rounded(error, 4),
            "error_note": "False links are estimated from candidate pairs whose two valid SSNs differ (strangers): how "
                          "often their names and dates of birth would pass the threshold without an agreeing SSN. "
                          "Missed links are estimated by hiding the SSN of each record that has one and checking "
                          "whether names and date of birth alone still link it, then applying that file by file to "
                          "the records without a valid SSN (± one standard error in est_missed_se). Both are "
                          "estimates under those assumptions, not a comparison with a known truth. On the course's "
                          "synthetic data, where the truth is known, the method's missed-link share came within a "
                          "quarter of the true share and its false links within a factor of three (two seeds "
                          "checked); a clerical review of pairs near the threshold is the check on real data.",
        }
    log = run_log(con, track)
    out = {"team": team, "purpose": text["purpose"], "limitations": text["limitations"],
           "stack_choice": _STACK_CHOICE, "stack_table": stack_table, "pipeline": log,
           "next_steps": ["Review a sample of pairs near the threshold by hand and record the decisions.",
                          "Save the pipeline script with the data sharing agreement's version of each extract.",
                          "Rerun the linkage when a new extract arrives and compare the match rates."],
           **computed}
    out.update(fields)
    return Deliverable(LINKAGE_REPORT, out, track=track)

