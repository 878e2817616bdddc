"""The Data Labs strand's helpers: case tracks, deliverables and the tools each monthly unit uses.

Submodules only (import them by name): ``tracks`` (the four case tracks), ``deliverables`` (structured inputs
rendered as Markdown/HTML), ``catalog`` (data inventory and gap list, unit 3), ``agreements`` (data sharing
agreements, unit 4), ``quality`` (the data-quality profiler, unit 5); for unit 6 ``person_index`` (the master
person index), ``linkage_error`` (error estimates without the truth), ``business_index`` (the procurement
case's firms), ``pipelines`` (reproducible SQL steps to each track's analysis table), ``tech_stack`` and
``linkage_report`` (the unit's deliverable, re-exporting the unit's toolkit); ``truth_checks`` (instructor and
test tools that compare the indexes with the hidden truth); ``equity`` (unit 7), ``story`` (a report that passes
disclosure review, unit 8), ``dashboard`` (a disclosure-safe dashboard, unit 8) and ``action_plan`` (unit 9);
``team`` (the team's own folder: saves with history, text files to edit, the archive) and ``documents`` (Word
and plain text versions of a deliverable). ``_common`` is the private layer they share.
"""

from . import (
    action_plan,
    agreements,
    business_index,
    catalog,
    dashboard,
    deliverables,
    documents,
    equity,
    linkage_error,
    linkage_report,
    person_index,
    pipelines,
    quality,
    story,
    team,
    tech_stack,
    tracks,
    truth_checks,
)

__all__ = ["action_plan", "agreements", "business_index", "catalog", "dashboard", "deliverables", "documents",
           "equity", "linkage_error", "linkage_report", "person_index", "pipelines", "quality", "story", "team",
           "tech_stack", "tracks", "truth_checks"]
