"""nbgrader configuration for the statelab course.

This folder is the course directory: `nbgrader` commands run from here, and
`statelab-grade` / the `graders` package load this file. Instructors'
notebook servers find it through their working directory (or
`--CourseDirectory.root`). Site-specific settings (the exchange root on a
shared hub, database URL) belong in the hub's /etc/jupyter/nbgrader_config.py.
"""

import importlib.util
import os

c = get_config()  # noqa: F821 - injected by traitlets when this file is loaded

# --- the course -----------------------------------------------------------------
c.CourseDirectory.course_id = "statelab"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# One exchange per course on a shared hub (nbgrader issue #1936): inbound and
# outbound paths then include the course id.
c.Exchange.path_includes_course = True
c.Exchange.root = os.environ.get("STATELAB_NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")

# --- generating the student version ----------------------------------------------
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# Refuse solution regions outside solution cells instead of silently keeping them.
c.ClearSolutions.enforce_metadata = True
c.ClearHiddenTests.enforce_metadata = True
# A learner's copy keeps no outputs from the instructor's run.
c.ClearOutput.remove_metadata_fields = ["collapsed", "scrolled"]

# --- autograding ------------------------------------------------------------------
# Per-cell limit. nbgrader's Execute preprocessor inherits from nbconvert's
# ExecutePreprocessor, so this section configures it; a cell that runs longer is
# interrupted, marked as an error, and the rest of the notebook still runs.
c.ExecutePreprocessor.timeout = 120
c.Execute.interrupt_on_timeout = True
# Keep huge outputs (a learner printing a whole table) out of the gradebook/feedback.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 50
# Every notebook is run by the course kernel, whatever a learner's copy says.
c.Autograde.exclude_overwriting = {}

# --- feedback ---------------------------------------------------------------------
# nbgrader's feedback shows hidden tests (nbgrader issues #917, #1363).
# graders.RedactHiddenTests removes them; `statelab-grade feedback` always uses it,
# and this makes the formgrader's "Generate feedback" and `nbgrader
# generate_feedback` use it too wherever the course package is installed.
if importlib.util.find_spec("graders") is not None:
    # nbgrader's own autograde steps, plus a cap on output size (LimitOutput counts lines only).
    c.Autograde.autograde_preprocessors = [
        "nbgrader.preprocessors.Execute",
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput",
        "graders.CapOutputs",
        "nbgrader.preprocessors.SaveAutoGrades",
        "nbgrader.preprocessors.AssignLatePenalties",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]
    # The course's feedback page (graders.FeedbackExporter): WCAG 2.1 AA in light and dark mode, as
    # `statelab-grade feedback` and the hub's formgrader render it (book/instructor/accessibility.md).
    c.GenerateFeedback.preprocessors = [
        "graders.RedactHiddenTests",
        "graders.FeedbackGrades",
        "graders.AccessibleTables",
    ]
    c.GenerateFeedback.exporter_class = "graders.FeedbackExporter"
