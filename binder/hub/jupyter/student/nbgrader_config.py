"""nbgrader settings for students' servers on the statelab hub."""

import os

c = get_config()  # noqa: F821

# The student id is the hub user name, whatever the unix account is called (TLJH runs user
# "sam" as unix account "jupyter-sam"). nbgrader would otherwise take the unix name, which is
# then neither the gradebook's student id nor a hub user it can add to the course group.
if os.environ.get("JUPYTERHUB_USER"):
    c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
