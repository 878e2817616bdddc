"""nbgrader settings for the course's grader account (the formgrader service)."""

import os

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = os.environ.get("STATELAB_COURSE_ID", "statelab")
c.CourseDirectory.root = os.environ.get(
    "STATELAB_COURSE_ROOT", os.path.join(os.path.expanduser("~"), c.CourseDirectory.course_id)
)
