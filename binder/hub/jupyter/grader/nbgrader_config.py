"""nbgrader settings for the course's grader account (the formgrader service)."""

import importlib.util
import os

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = os.environ.get("STATELAB_COURSE_ID", "statelab")
c.CourseDirectory.root = os.environ.get(
    "STATELAB_COURSE_ROOT", os.path.join(os.path.expanduser("~"), c.CourseDirectory.course_id)
)

# Feedback pages from the formgrader's "Generate Feedback" use the course's page, as
# `statelab-grade feedback` does: nothing loaded from a CDN (nbgrader's own page fetches
# MathJax), one <body>, headed score table. Only the feedback exporter changes; the
# formgrader's grading pages keep nbgrader's templates.
if importlib.util.find_spec("graders") is not None:
    c.GenerateFeedback.exporter_class = "graders.FeedbackExporter"
