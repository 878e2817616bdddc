"""Jupyter Server settings shared by every account on the statelab hub."""

c = get_config()  # noqa: F821

# Learners open notebooks in JupyterLab; the terminal stays available for the exercises that
# use the statelab-data command line.
c.ServerApp.terminals_enabled = True
