"""The Data Labs strand's helpers: case tracks, deliverables and the tools each monthly unit uses.

Submodules only (import them by name): ``tracks`` (the four case tracks), ``deliverables`` (structured inputs
rendered as Markdown/HTML), ``catalog`` (data inventory and gap list, unit 3), ``agreements`` (data sharing
agreements, unit 4), ``quality`` (the data-quality profiler, unit 5), ``linkage_report`` (master person index
and linkage report, unit 6), ``equity`` (unit 7), ``story`` (a report that passes disclosure review, unit 8)
and ``action_plan`` (unit 9).
"""

from . import action_plan, agreements, catalog, deliverables, equity, linkage_report, quality, story, tracks

__all__ = ["action_plan", "agreements", "catalog", "deliverables", "equity", "linkage_report", "quality",
           "story", "tracks"]
