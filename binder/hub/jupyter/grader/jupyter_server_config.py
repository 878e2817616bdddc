"""Jupyter Server settings for the formgrader service (the grader account)."""

c = get_config()  # noqa: F821

# JupyterHub >= 4.1 sends "frame-ancestors 'none'", which blanks the formgrader panel that
# JupyterLab shows in an iframe. Allow framing by the same origin, for the formgrader only:
# student servers keep the hub's stricter default. With JupyterHub.enable_subdomains each
# server has its own origin and this relaxation costs nothing; without subdomains it trusts
# every hub user not to frame the formgrader from their own server, which the hub's
# access:services scope for the course already limits to instructors.
c.ServerApp.tornado_settings = {
    "headers": {"Content-Security-Policy": "frame-ancestors 'self'"},
}
